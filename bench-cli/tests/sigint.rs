//! Ctrl-C in the middle of a probed run. Alone in its test binary, so no other test's
//! probes are loaded while it counts ours.
use std::{
    io::Read,
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Ids of the BPF programs process `pid` holds open (from /proc/PID/fdinfo).
fn prog_ids_of(pid: i32) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return ids;
    };
    for fd in fds.flatten() {
        if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:bpf-prog")
        {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            ids.extend(
                info.lines()
                    .filter_map(|l| l.strip_prefix("prog_id:")?.trim().parse::<u32>().ok()),
            );
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Whether any of `ids` is still loaded in the kernel.
fn any_loaded(ids: &[u32]) -> bool {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .any(|p| ids.contains(&p.id()))
}

/// Whether process `pid` has a thread named `name`.
fn has_thread(pid: i32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

/// Processes whose process group is `pgid` (the run and anything it started).
fn group_members(pgid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised comm: state ppid pgrp ...
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let pgrp: i32 = rest.split(' ').nth(2).unwrap().parse().unwrap();
        if pgrp == pgid {
            pids.push(pid);
        }
    }
    pids
}

/// Kills the run's process group if the test fails before it has ended, so a failing
/// assertion never leaves a billion-round ping-pong running on the machine.
struct KillGroupOnDrop(i32);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
}

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
