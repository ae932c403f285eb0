//! `evbench run pipetest` and `evbench run pingpong` as scripts meet them: the
//! originals' output lines, the JSON document with machine, options and every repeat,
//! and bad input refused in one line.
use std::process::{Command, Output};

use serde_json::Value;

fn evbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .expect("evbench starts")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(args: &[&str]) -> Value {
    let out = evbench(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn pipetest_prints_the_originals_lines() {
    let out = evbench(&["run", "pipetest", "-w", "2000", "--probes", "none"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 18, "16 runs, AVG, SIG:\n{t}");
    for l in &lines[..16] {
        let v = l.strip_suffix(" us/event").unwrap_or_else(|| panic!("{l}"));
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
    assert!(lines[16].starts_with("AVG: ") && lines[16].ends_with(" us/event"));
    assert!(lines[17].starts_with("SIG: "));

    let q = evbench(&[
        "run", "pipetest", "-q", "-w", "2000", "-m", "eventfd", "--probes", "none",
    ]);
    let t = text(&q.stdout);
    assert_eq!(t.lines().count(), 2, "-q: AVG and SIG only:\n{t}");
}

#[test]
fn pipetest_json_has_every_run_and_exact_message_counts() {
    let v = json(&[
        "run", "pipetest", "-n", "50", "-a", "3", "-w", "1000", "-m", "eventfd", "--repeat", "2",
        "--probes", "none", "--json",
    ]);
    assert_eq!(v["schema"], "evbench.run");
    assert_eq!(v["schema_version"], 2);
    assert!(v["machine"]["cpus"].as_u64().unwrap() >= 1);
    assert!(!v["machine"]["kernel"].as_str().unwrap().is_empty());
    assert_eq!(v["cases"].as_array().unwrap().len(), 1);
    let c = &v["cases"][0];
    assert_eq!(c["id"], "pipetest/eventfd/epoll-et");
    assert_eq!(c["workload"], "pipetest");
    assert_eq!(c["options"]["channels"], 50);
    assert_eq!(c["options"]["mechanism"], "eventfd");
    let reps = c["repeats"].as_array().unwrap();
    assert_eq!(reps.len(), 2);
    for r in reps {
        let runs = r["details"]["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 16);
        for run in runs {
            assert_eq!(run["messages"], 1003);
            assert_eq!(run["fired"], 1003);
        }
        assert_eq!(r["counters"]["messages"], 16 * 1003);
        assert_eq!(r["counters"]["fired"], 16 * 1003);
    }
    assert_eq!(c["metrics"]["us_per_event"]["across"]["n"], 2);
    assert_eq!(c["metrics"]["us_per_event"]["better"], "lower");
}

#[test]
fn pingpong_json_covers_options_repeats_and_counts() {
    let v = json(&[
        "run",
        "pingpong",
        "-r",
        "500",
        "--warmup-rounds",
        "10",
        "-m",
        "eventfd",
        "--wait",
        "epoll",
        "--tasks",
        "processes",
        "--topology",
        "ring:3",
        "--repeat",
        "3",
        "--probes",
        "none",
        "--json",
    ]);
    let c = &v["cases"][0];
    assert_eq!(
        c["id"],
        "pingpong/eventfd/epoll/pin=none,tasks=processes,topology=ring:3"
    );
    assert_eq!(c["options"]["topology"], "ring:3");
    assert_eq!(c["options"]["tasks"], "processes");
    assert_eq!(c["options"]["wait"], "epoll");
    assert_eq!(v["options"]["repeat"], 3);
    assert_eq!(c["histograms"]["round_trip_ns"]["count"], 1500);
    let reps = c["repeats"].as_array().unwrap();
    assert_eq!(reps.len(), 3);
    for r in reps {
        assert_eq!(r["counters"]["rounds"], 500);
        assert_eq!(r["histograms"]["round_trip_ns"]["count"], 500);
        // Three tasks, each sends and receives warm-up + rounds messages.
        assert_eq!(r["counters"]["messages_sent"], 3 * 510);
        assert_eq!(r["counters"]["messages_received"], 3 * 510);
        assert_eq!(r["details"]["tasks"].as_array().unwrap().len(), 3);
    }
    assert_eq!(c["metrics"]["ops_per_sec"]["across"]["n"], 3);
}

#[test]
fn fanout_reports_wakeups_per_event() {
    let v = json(&[
        "run",
        "pingpong",
        "-r",
        "1000",
        "-m",
        "eventfd",
        "--wait",
        "epoll",
        "--topology",
        "fanout:3",
        "--exclusive",
        "--pin",
        "same",
        "--probes",
        "none",
        "--json",
    ]);
    let c = &v["cases"][0];
    let w = c["repeats"][0]["metrics"]["wakeups_per_event"]
        .as_f64()
        .unwrap();
    assert!(w <= 1.1, "EPOLLEXCLUSIVE woke {w} waiters per event");
    assert_eq!(c["options"]["exclusive"], true);
}

#[test]
fn meaningless_or_impossible_options_fail_in_one_line() {
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["run", "pingpong", "-m", "futex", "--wait", "epoll"],
            "no fd",
            2,
        ),
        (&["run", "pingpong", "--exclusive"], "fanout", 2),
        (
            &["run", "pingpong", "--topology", "ring:1"],
            "at least 2",
            2,
        ),
        (&["run", "pingpong", "--topology", "mesh"], "mesh", 2),
        (&["run", "pingpong", "--tasks", "fibers"], "fibers", 2),
        (
            &["run", "pingpong", "-r", "10", "--duration", "1s"],
            "--duration",
            2,
        ),
        (&["run", "pingpong", "--duration", "soon"], "soon", 2),
        (&["run", "pingpong", "--repeat", "0"], "--repeat", 2),
        (&["run", "pipetest", "-a", "200"], "must be less than -n", 2),
        (&["run", "pipetest", "-n", "1"], "at least 2 channels", 2),
        (&["run", "pipetest", "-m", "futex"], "no fd", 2),
        // Refused before anything runs (the fds a run needs are counted up front).
        (&["run", "pipetest", "-n", "15000"], "hard limit", 2),
    ];
    for (args, needle, code) in cases {
        let mut a = args.to_vec();
        a.extend(["--probes", "none"]);
        let out = evbench(&a);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, got:\n{err}");
        assert!(err.starts_with("evbench: error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?} should say {needle}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
