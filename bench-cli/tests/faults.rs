//! Faults (issue 17, item 4): SIGINT in each phase of a run (set-up, warm-up, clean
//! pass, probed pass, report writing) and SIGTERM, held there for sure by the hidden
//! test hook EVBENCH_TEST_PAUSE; and an `evbench run http` whose server child is
//! SIGKILLed mid-run. Each ends with a clear message, valid JSON, no partial file under
//! a final name, no process left in the run's group, and none of the run's BPF
//! programs left loaded.
use std::{
    fs,
    io::{BufRead, BufReader, Read},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

mod run_util;
use run_util::{any_loaded, group_members, prog_ids_of, KillGroupOnDrop};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("evbench-faults-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Self(d)
    }
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A started run: its stderr lines arrive on `lines` (and are kept in `err`).
struct Run {
    child: Child,
    pid: i32,
    lines: mpsc::Receiver<String>,
    err: Vec<String>,
    _guard: KillGroupOnDrop,
}

impl Run {
    fn start(args: &[&str], pause: Option<&str>) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_evbench"));
        cmd.args(args)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = pause {
            cmd.env("EVBENCH_TEST_PAUSE", p);
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id() as i32;
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            pid,
            lines: rx,
            err: Vec::new(),
            _guard: KillGroupOnDrop(pid),
        }
    }

    /// Waits (at most 20 s) for a stderr line containing `needle`.
    fn wait_line(&mut self, needle: &str) {
        let t = Instant::now();
        loop {
            let left = Duration::from_secs(20).saturating_sub(t.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.err.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within 20 s; stderr: {:?}",
                    self.err
                ),
            }
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        assert_eq!(unsafe { libc::kill(self.pid, sig) }, 0);
    }

    /// Waits (at most `secs`) for the run to end; returns (exit code, stdout, stderr).
    fn finish(mut self, secs: u64) -> (Option<i32>, String, String) {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "evbench did not exit within {secs} s; stderr so far: {:?}",
                self.err
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        // The reader thread ends at EOF; collect what it still has.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.err.push(l);
        }
        (status.code(), out, self.err.join("\n"))
    }
}

/// Waits (at most 2 s: the kernel frees programs through deferred work) until none of
/// `ids` is loaded.
fn assert_programs_gone(ids: &[u32]) {
    let t = Instant::now();
    while any_loaded(ids) {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "programs {ids:?} still loaded 2 s after evbench exited"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Holds a probed ping-pong run at `phase`, sends `sig`, and checks the ending.
fn signal_in_phase(phase: &str, sig: i32) {
    let dir = TempDir::new(&format!("{phase}-{sig}"));
    let out_file = dir.0.join("out.json");
    let out_arg = out_file.display().to_string();
    let mut run = Run::start(
        &[
            "run",
            "pingpong",
            "--rounds",
            "20000",
            "--warmup-rounds",
            "0",
            "--repeat",
            "1",
            "--warmup-repeats",
            "1",
            "--seed",
            "1",
            "--json",
            "-o",
            &out_arg,
        ],
        Some(phase),
    );
    run.wait_line(&format!("evbench: test pause at {phase}"));
    let ours = prog_ids_of(run.pid);
    if phase == "report" {
        assert_eq!(
            ours,
            Vec::<u32>::new(),
            "the probes are unloaded before the report is written"
        );
    } else {
        assert!(!ours.is_empty(), "the probes are loaded at {phase}");
    }
    run.signal(sig);
    let pid = run.pid;
    let (code, out, err) = run.finish(10);

    let (word, exit) = if sig == libc::SIGTERM {
        ("terminated", 143)
    } else {
        ("interrupted", 130)
    };
    assert_eq!(code, Some(exit), "{phase}: stderr: {err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("evbench: {word}")),
        "{phase}: a clear message: {err}"
    );
    assert!(
        !err.contains(if sig == libc::SIGTERM {
            "Ctrl-C"
        } else {
            "SIGTERM"
        }),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON on stdout");
    // The document written to -o is the same, whole, and nothing else is left.
    let saved: serde_json::Value =
        serde_json::from_slice(&fs::read(&out_file).unwrap()).expect("the file is whole");
    assert_eq!(saved, v);
    assert_eq!(dir.names(), ["out.json"], "no temporary file left");

    let cases = v["cases"].as_array().unwrap();
    match phase {
        "setup" => {
            assert_eq!(v["interrupted"], true);
            assert_eq!(cases.len(), 0, "nothing ran");
        }
        "warmup" => {
            assert_eq!(v["interrupted"], true);
            assert_eq!(cases[0]["warmup_repeats"].as_array().unwrap().len(), 1);
            assert_eq!(cases[0]["repeats"].as_array().unwrap().len(), 0);
        }
        "clean" | "probed" => {
            assert_eq!(v["interrupted"], true);
            let reps = cases[0]["repeats"].as_array().unwrap();
            assert_eq!(reps.len(), 1);
            assert_eq!(reps[0]["interrupted"], true);
            // An interrupted repeat never enters the statistics.
            assert_eq!(
                cases[0]["metrics"]["ops_per_sec"]["across"]["n"]
                    .as_u64()
                    .unwrap_or(0),
                0
            );
        }
        "report" => {
            // The measurement was complete: the whole document, not marked interrupted.
            assert_eq!(v["interrupted"], false);
            let reps = cases[0]["repeats"].as_array().unwrap();
            assert_eq!(reps.len(), 1);
            assert_eq!(reps[0]["counters"]["rounds"], 20000);
            assert_eq!(reps[0]["probed"]["counters"]["rounds"], 20000);
        }
        _ => unreachable!(),
    }
    assert_eq!(
        group_members(pid),
        Vec::<i32>::new(),
        "no process of the run is left"
    );
    assert_programs_gone(&ours);
}

#[test]
fn sigint_in_setup() {
    signal_in_phase("setup", libc::SIGINT);
}

#[test]
fn sigint_in_warmup() {
    signal_in_phase("warmup", libc::SIGINT);
}

#[test]
fn sigint_in_clean_pass() {
    signal_in_phase("clean", libc::SIGINT);
}

#[test]
fn sigint_in_probed_pass() {
    signal_in_phase("probed", libc::SIGINT);
}

#[test]
fn sigint_while_writing_the_report() {
    signal_in_phase("report", libc::SIGINT);
}

#[test]
fn sigterm_in_probed_pass_says_terminated_and_exits_143() {
    signal_in_phase("probed", libc::SIGTERM);
}

#[test]
fn sigterm_in_warmup_says_terminated_and_exits_143() {
    signal_in_phase("warmup", libc::SIGTERM);
}

#[test]
fn sigterm_while_writing_the_report() {
    signal_in_phase("report", libc::SIGTERM);
}

/// The child processes of `pid` (from /proc/PID/task/*/children).
fn children(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for t in fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let c = fs::read_to_string(t.path().join("children")).unwrap_or_default();
        v.extend(c.split_whitespace().filter_map(|s| s.parse::<i32>().ok()));
    }
    v
}

/// The state letter of `pid` (R, S, Z, ...), or None once it is gone.
fn state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// Waits (at most 20 s) for a child of `pid` other than `not`.
fn wait_child(pid: i32, not: Option<i32>) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(&c) = children(pid)
            .iter()
            .find(|&&c| Some(c) != not && state(c) != Some('Z'))
        {
            return c;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no server child appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn http_server_child_killed_mid_run_is_named_reaped_and_its_partial_results_kept() {
    let mut run = Run::start(
        &[
            "run",
            "http",
            "-W",
            "epoll",
            "-c",
            "4",
            "-d",
            "2",
            "--warmup-time",
            "0",
            "--repeat",
            "2",
            "--warmup-repeats",
            "0",
            "--order",
            "grouped",
            "--probes",
            "none",
            "--json",
        ],
        None,
    );
    let pid = run.pid;
    let first = wait_child(pid, None);
    // Let it serve a while, then kill it.
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: killing our child's child, which we just found.
    assert_eq!(unsafe { libc::kill(first, libc::SIGKILL) }, 0);
    // The next pass's server starts only after the dead one was reaped: no zombie.
    let second = wait_child(pid, Some(first));
    assert_eq!(state(first), None, "the killed server was reaped");
    assert_ne!(second, first);
    run.wait_line("was killed by signal 9 (SIGKILL)");
    let (code, out, err) = run.finish(20);

    assert_eq!(code, Some(1), "stderr: {err}");
    assert!(
        err.contains(&format!(
            "the server process (evbench serve, pid {first}) was killed by signal 9 (SIGKILL)"
        )),
        "names it: {err}"
    );
    assert!(err.contains("the run did not complete"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON on stdout");
    let reps = v["cases"][0]["repeats"].as_array().unwrap();
    assert_eq!(reps.len(), 2, "both passes kept");
    assert_eq!(reps[0]["interrupted"], true);
    assert_eq!(reps[1]["interrupted"], false);
    // The killed pass's figures are what the client measured until then: one latency
    // sample per request counted.
    assert_eq!(
        reps[0]["histograms"]["request_ns"]["count"],
        reps[0]["counters"]["requests"]
    );
    // Only the whole pass counts in the statistics.
    assert_eq!(
        v["cases"][0]["metrics"]["requests_per_sec"]["across"]["n"],
        1
    );
    assert_eq!(
        group_members(pid),
        Vec::<i32>::new(),
        "no process of the run is left"
    );
}
