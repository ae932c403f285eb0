//! The default suite (`evbench run` with no workload), at a tenth of its size
//! (`EVBENCH_SUITE_SIZE=quick`): every case issue 7 names, in order, with the exact
//! counts each workload fixes, one results document, its interval log, and the
//! side-by-side tables at the end of the human output.
use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The suite's case ids, as issue 7 lists them.
fn expected_ids() -> Vec<String> {
    let mut want = Vec::new();
    for w in ["epoll", "kevent", "kevent-ring"] {
        for m in [
            "pipe",
            "eventfd",
            "eventfd-sem",
            "efd-mask-fuse",
            "efd-mask-socketpair",
        ] {
            want.push(format!("pipetest/{m}/{w}"));
        }
    }
    for (m, w) in [
        ("pipe", "block"),
        ("eventfd", "block"),
        ("futex", "block"),
        ("efd-mask-fuse", "block"),
        ("efd-mask-socketpair", "block"),
        ("pipe", "kevent"),
    ] {
        for pin in ["same", "split"] {
            want.push(format!("pingpong/{m}/{w}/pin={pin}"));
        }
    }
    for w in ["epoll", "kevent", "tokio"] {
        want.push(format!("http/{w}"));
    }
    want
}

#[test]
fn quick_default_suite_measures_every_case_into_one_document() {
    let dir = std::env::temp_dir().join(format!("evbench-suite-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, hlog) = (dir.join("suite.json"), dir.join("suite.hlog"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(["run", "--probes", "none", "--repeat", "2", "-o"])
        .arg(&file)
        .arg("--hlog")
        .arg(&hlog)
        .env("EVBENCH_SUITE_SIZE", "quick")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("evbench starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("the quick suite did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let out = reader.join().unwrap().unwrap();
    assert!(status.success(), "{err}");

    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["schema"], "evbench.run");
    assert_eq!(v["options"]["workload"], "suite");
    assert_eq!(v["options"]["repeat"], 2);
    assert_eq!(v["interrupted"], false);
    let cases = v["cases"].as_array().unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected_ids());
    for c in cases {
        let reps = c["repeats"].as_array().unwrap();
        assert_eq!(reps.len(), 2, "{}", c["id"]);
        for r in reps {
            match c["workload"].as_str().unwrap() {
                "pipetest" => {
                    // 16 runs of 500 writes plus the one fired message each.
                    assert_eq!(r["counters"]["messages"], 16 * 501, "{}", c["id"]);
                    assert_eq!(r["details"]["runs"].as_array().unwrap().len(), 16);
                }
                "pingpong" => {
                    assert_eq!(r["counters"]["rounds"], 2000, "{}", c["id"]);
                    assert_eq!(r["histograms"]["round_trip_ns"]["count"], 2000);
                    // Two tasks, each sends warm-up + rounds messages.
                    assert_eq!(r["counters"]["messages_sent"], 2 * 2100, "{}", c["id"]);
                    assert_eq!(r["counters"]["messages_received"], 2 * 2100);
                }
                "http" => {
                    assert_eq!(r["counters"]["errors"], 0, "{}", c["id"]);
                    // Latency covers every answered request: those in the window and
                    // the ones answered late, after it (their latency from the schedule).
                    let answered = r["counters"]["requests"].as_u64().unwrap()
                        + r["details"]["client"]["late"].as_u64().unwrap();
                    assert_eq!(
                        r["histograms"]["request_ns"]["count"].as_u64(),
                        Some(answered),
                        "{}",
                        c["id"]
                    );
                }
                w => panic!("unexpected workload {w}"),
            }
        }
    }

    // One interval per repeat and histogram, tagged case:histogram.
    let log = std::fs::read_to_string(&hlog).unwrap();
    let intervals: Vec<&str> = log.lines().filter(|l| l.starts_with("Tag=")).collect();
    let histograms: usize = cases
        .iter()
        .flat_map(|c| c["repeats"].as_array().unwrap())
        .map(|r| r["histograms"].as_object().unwrap().len())
        .sum();
    assert_eq!(intervals.len(), histograms);
    assert!(log.contains("Tag=pingpong/futex/block/pin=split:round_trip_ns,"));

    // The human output ends with the side-by-side tables, one per workload.
    let tables: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with("cases side by side (ratios to the first)"))
        .collect();
    assert_eq!(tables.len(), 3, "{out}");
    assert!(out.contains("http/tokio"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
