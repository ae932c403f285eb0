//! Ctrl-C in the middle of a probed run. Alone in its test binary, so no other test's
//! probes are loaded while it counts ours.
use std::{
    io::Read,
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

mod run_util;
use run_util::{any_loaded, group_members, has_thread, prog_ids_of, KillGroupOnDrop};

#[test]
fn sigint_stops_promptly_prints_what_was_measured_and_leaves_nothing_behind() {
    // A seed whose order runs the probed pass first, asked of the real scheduler, so
    // the signal lands while the probes are attached.
    let seed = (0..1000u64)
        .find(|&seed| {
            let plan = evbench::engine::scheduler::Plan {
                cases: 1,
                rounds: 1,
                warmup_rounds: 0,
                probed_rounds: 1,
                order: evbench::engine::Order::Interleaved,
                seed,
            };
            evbench::engine::scheduler::schedule(&plan)[0].pass == evbench::engine::Pass::Probed
        })
        .expect("some seed runs the probed pass first");
    let mut child = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args([
            "run",
            "pingpong",
            "--rounds",
            "1000000000",
            "--warmup-rounds",
            "0",
            "--warmup-repeats",
            "0",
            "--seed",
            &seed.to_string(),
            "--json",
        ])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let _guard = KillGroupOnDrop(pid);

    // Wait until this run's own probes are attached and its ping-pong is running.
    let t = Instant::now();
    let ours = loop {
        let ids = prog_ids_of(pid);
        if !ids.is_empty() && has_thread(pid, "ping-0") {
            break ids;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the probes never attached / the run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);

    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "evbench did not exit within 5 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();

    assert_eq!(status.code(), Some(130), "stderr: {err}");
    assert!(err.contains("interrupted"), "a clear message: {err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).expect("the partial result is still printed");
    assert_eq!(v["interrupted"], true);
    let rep = &v["cases"][0]["repeats"][0];
    assert_eq!(rep["interrupted"], true);
    // The clean pass never ran: no headline, and the probed pass's figures kept.
    assert!(rep["metrics"].get("ops_per_sec").is_none(), "{rep}");
    let probed = &rep["probed"];
    assert_eq!(probed["interrupted"], true);
    // An interrupted repeat never enters the statistics.
    let n = |m: &str| {
        v["cases"][0]["metrics"][m]["across"]["n"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(n("ops_per_sec"), 0);
    assert_eq!(n("syscalls_per_op"), 0);
    let rounds = probed["counters"]["rounds"].as_u64().unwrap();
    assert!(rounds > 0 && rounds < 1_000_000_000);
    // What was printed is consistent: one latency sample per measured round trip.
    assert_eq!(
        probed["histograms"]["round_trip_ns"]["count"]
            .as_u64()
            .unwrap(),
        rounds
    );
    assert_eq!(
        rep["details"]["kernel"]["threads"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    assert_eq!(
        group_members(pid),
        Vec::<i32>::new(),
        "no process of the run is left"
    );
    // The kernel frees a program after its last fd closes through deferred work (RCU),
    // so it may stay listed a few milliseconds after the process is gone.
    let t = Instant::now();
    while any_loaded(&ours) {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "programs {ours:?} still loaded 2 s after evbench exited"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
