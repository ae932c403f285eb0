//! `evbench trace` at its edges (issue 14, found by a fresh tester): the `/metrics`
//! responder with a client that connects and says nothing, its HELP lines against the
//! real flags, and signals ignored when evbench started (nohup, a background job of a
//! script) staying ignored in the traced command as env(1) and nice(1) leave them.
//! Runs as root (the probes); each test starts its own evbench.
use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const EVBENCH: &str = env!("CARGO_BIN_EXE_evbench");

/// `c` with SIGINT, SIGTERM and SIGQUIT at their defaults in the child: these tests
/// signal evbench or compare ignored masks, so nothing may be inherited from whatever
/// started the test (a script's background job ignores SIGINT and SIGQUIT).
fn defaults(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal(2) is async-signal-safe; nothing else runs in the child.
    unsafe {
        c.pre_exec(|| {
            for s in [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT] {
                libc::signal(s, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}

/// A free loopback port: bound, then released for the evbench started next.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /metrics` on 127.0.0.1:port: (status code, body), or `None` when nothing
/// answers within 10 s.
fn scrape(port: u16) -> Option<(u16, String)> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    // HTTP/1.0: a plain body up to the close.
    c.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut raw = String::new();
    c.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, raw.split_once("\r\n\r\n")?.1.to_string()))
}

/// Kills the evbench a test started if the test fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Three connections that send nothing do not delay a scrape: each connection is
/// served on its own (before, one at a time, each silent client held the responder for
/// its 2 s read timeout: 6 s here). The bound is a hang bound, not a speed figure.
/// Every HELP line names only flags `evbench trace --help` has, and the syscall
/// latency's HELP states the sampling the session really uses (1 in 8).
#[test]
fn a_silent_client_does_not_delay_a_scrape_and_help_lines_name_real_flags() {
    let port = free_port();
    let mut ev = KillOnDrop(
        defaults(&mut Command::new(EVBENCH))
            .args(["trace", "--probes", "wakeup,offcpu,syscalls", "-q"])
            .args(["--prometheus", &format!("127.0.0.1:{port}")])
            .args(["--", "sleep", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Up once the probes are loaded.
    let t = Instant::now();
    let first = loop {
        if let Some((200, body)) = scrape(port) {
            break body;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no /metrics");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(first.contains("# TYPE evbench_syscalls_total counter\n"));

    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Accepted by now (the responder polls every 20 ms).
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let (status, body) = scrape(port).expect("an answer");
    let took = t.elapsed();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(2),
        "a scrape waited {took:?} behind silent connections"
    );
    drop(idle);

    // A flood beyond the responder's 32 connections (40 silent ones), then 34 clients
    // that trickle their request a byte every 300 ms (7.5 s for the line): each delays
    // a scrape by about 2 s at most, since each connection has one deadline for its
    // whole request head and the ones beyond 32 wait in the backlog, not dropped.
    let flood: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let timed_scrape = |what: &str| {
        let t = Instant::now();
        let (status, _) = scrape(port).expect("an answer");
        let took = t.elapsed();
        assert_eq!(status, 200, "{what}");
        assert!(
            took < Duration::from_secs(5),
            "a scrape waited {took:?} behind {what}"
        );
    };
    timed_scrape("a flood of silent connections");
    drop(flood);
    let trickle: Vec<std::thread::JoinHandle<()>> = (0..34)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
                for b in b"GET /metrics HTTP/1.0\r\n" {
                    if c.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    timed_scrape("clients trickling their request");
    for h in trickle {
        h.join().unwrap();
    }

    let help: Vec<&str> = body.lines().filter(|l| l.starts_with("# HELP ")).collect();
    assert!(help.contains(
        &"# HELP evbench_syscall_latency_seconds Latency of the timed system calls, by name: 1 call in 8 per thread and syscall is timed, so _count is the timed calls (evbench_syscalls_total has them all)."
    ), "{help:#?}");
    let usage = Command::new(EVBENCH)
        .args(["trace", "--help"])
        .output()
        .unwrap();
    let usage = String::from_utf8_lossy(&usage.stdout).into_owned();
    for line in &help {
        for flag in line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
        {
            assert!(
                usage.contains(flag),
                "HELP names {flag}, which evbench trace does not have: {line}"
            );
        }
    }

    // SAFETY: signalling the evbench this test started; it forwards SIGINT to sleep.
    unsafe { libc::kill(ev.0.id() as i32, libc::SIGINT) };
    let t = Instant::now();
    let code = loop {
        if let Some(s) = ev.0.try_wait().unwrap() {
            break s.code();
        }
        assert!(t.elapsed() < Duration::from_secs(20), "evbench did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(128 + libc::SIGINT));
}

/// `sh -c SCRIPT`'s stdout.
fn sh(script: &str) -> String {
    let out = defaults(Command::new("sh").args(["-c", script]))
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command inherits the signal dispositions evbench was started with, as it would
/// without evbench: SIGINT, SIGTERM and SIGQUIT ignored by the parent (`trap ''`, as
/// nohup and a script's background jobs do) are ignored in the command; none ignored,
/// none is. The command's own /proc/self/status is the judge: its SigIgn mask equals
/// the one the same command gets without evbench (whatever else the test's own parent
/// ignores), and has exactly the trapped signals among these three.
#[test]
fn ignored_signals_stay_ignored_in_the_command() {
    let show = "grep SigIgn /proc/self/status";
    let trace = format!("{EVBENCH} trace --probes offcpu -q -- {show}");
    let mask = |line: &str| {
        u64::from_str_radix(line.trim().strip_prefix("SigIgn:").unwrap().trim(), 16).unwrap()
    };
    // SIGINT (2), SIGQUIT (3), SIGTERM (15): bits 1, 2 and 14.
    let three = (1 << 1) | (1 << 2) | (1 << 14);
    for (trap, want) in [
        ("trap '' INT TERM QUIT; ", three),
        ("trap '' INT; ", 1 << 1),
        ("", 0),
    ] {
        let without = sh(&format!("{trap}exec {show}"));
        assert_eq!(mask(&without) & three, want, "without evbench: {without}");
        assert_eq!(sh(&format!("{trap}exec {trace}")), without, "{trap}");
    }
}

/// evbench started with SIGINT ignored ignores it too in the command mode: a SIGINT
/// sent to evbench neither ends the session nor reaches the command, which finishes
/// its work and exits 0, as it would have without evbench.
#[test]
fn a_sigint_ignored_at_start_is_not_forwarded() {
    let mut ev = KillOnDrop(
        defaults(&mut Command::new("sh"))
            .args([
                "-c",
                &format!("trap '' INT; exec {EVBENCH} trace --probes offcpu -q -- head -c 1"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = ev.0.id();
    // The command once it runs `head` (exec'd past the gate).
    let t = Instant::now();
    while !std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .any(|c| {
            std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|s| s.trim() == "head")
        })
    {
        assert!(t.elapsed() < Duration::from_secs(20), "no head child");
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..2 {
        // SAFETY: signalling the evbench this test started.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut stdin = ev.0.stdin.take().unwrap();
    stdin.write_all(b"x").unwrap();
    drop(stdin);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = ev.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "evbench did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    ev.0.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "x");
}

/// The interval stream's reader going away (a FIFO whose reader read one line and
/// quit) ends the stream, not the session: one line naming the file and the cause,
/// the session runs to its --duration, the document has every interval, exit 2
/// (before: SIGPIPE killed evbench, 141, and the report and document were lost).
#[test]
fn a_stream_reader_that_goes_away_ends_the_stream_not_the_session() {
    let dir = std::env::temp_dir().join(format!("evbench-edges-{}-fifo", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("lines.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path this test owns.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = Command::new("head")
        .arg("-n1")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut target = KillOnDrop(Command::new("sleep").arg("60").spawn().unwrap());
    let doc = dir.join("t.json");
    let out = Command::new(EVBENCH)
        .args([
            "trace",
            "--probes",
            "offcpu",
            "--pid",
            &target.0.id().to_string(),
        ])
        .args(["--interval", "200ms", "--duration", "1500ms", "-o"])
        .arg(&doc)
        .arg("--interval-json")
        .arg(&fifo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    let first = reader.wait_with_output().unwrap();
    let line: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert!(line.is_object(), "one whole JSON line reached the reader");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors,
        [format!(
            "evbench: error: --interval-json: cannot write {}: Broken pipe; no more interval lines (the session goes on)",
            fifo.display()
        )]
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ended because --duration is over"),
        "the report"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&doc).unwrap()).unwrap();
    let printed = err
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("s] offcpu "))
        .count();
    assert_eq!(v["cases"][0]["repeats"].as_array().unwrap().len(), printed);
    let _ = target.0.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `--prometheus` address that cannot be used is the user's to change (exit 2, or 125
/// with a command), one line without std's "(os error N)", and nothing ran.
#[test]
fn a_taken_prometheus_port_is_one_line_and_a_usage_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let me = std::process::id().to_string();
    for (tail, want) in [(vec!["--pid", me.as_str()], 2), (vec!["--", "true"], 125)] {
        let out = Command::new(EVBENCH)
            .args(["trace", "-q", "--prometheus", &addr])
            .args(&tail)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(want), "{err}");
        assert_eq!(
            err,
            format!("evbench: error: --prometheus {addr}: cannot listen there: Address already in use\n")
        );
    }
}
