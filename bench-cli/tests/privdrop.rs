//! `--user NAME` (issue 17 item 6, issue 14): `evbench trace --user NAME -- CMD` and
//! `evbench run --user NAME` drop the process that runs the command or the workload to
//! NAME — uid, gid and supplementary groups, no capability in any set, no_new_privs,
//! NAME's HOME/USER/LOGNAME, none of evbench's fds — read from the kernel's own view
//! (/proc/PID/status, /proc/PID/fd, /proc/PID/environ) of the real process while it runs;
//! a probed pass under --user counts exactly what it counts without; an unknown user
//! or an evbench without root is refused in one line. Needs root (useradd, setpriv).
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::{Command, Output, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        mpsc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::Value;

const EVBENCH: &str = env!("CARGO_BIN_EXE_evbench");

/// useradd and userdel lock /etc/passwd: one at a time.
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// A throwaway user with a primary group and one supplementary group, removed on drop.
struct TempUser {
    name: String,
    groups: [String; 2],
    uid: u32,
    gid: u32,
    supplementary: u32,
    home: String,
}

fn run_ok(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl TempUser {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let name = format!("evbu{tag}");
        let primary = format!("evbp{tag}");
        let extra = format!("evbg{tag}");
        let home = format!("/nonexistent-evbench-{tag}");
        let _lock = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        run_ok("groupadd", &[&primary]);
        run_ok("groupadd", &[&extra]);
        run_ok(
            "useradd",
            &[
                "-M",
                "-N",
                "-g",
                &primary,
                "-G",
                &extra,
                "-d",
                &home,
                "-s",
                "/usr/sbin/nologin",
                &name,
            ],
        );
        let id = |args: &[&str]| run_ok("id", args).parse::<u32>().unwrap();
        let supplementary = run_ok("getent", &["group", &extra])
            .split(':')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        Self {
            uid: id(&["-u", &name]),
            gid: id(&["-g", &name]),
            supplementary,
            name,
            groups: [primary, extra],
            home,
        }
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _lock = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).output();
        for g in &self.groups {
            let _ = Command::new("groupdel").arg(g).output();
        }
    }
}

/// Kills process `pid` and its children if the test fails first, so a failed assertion
/// never leaves an evbench held at a test pause (nor its user undeletable). Declared
/// after the `TempUser`, so it runs before the user is removed.
struct KillOnPanic(u32);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in children(self.0).into_iter().chain([self.0]) {
                // SAFETY: signalling processes this test started.
                unsafe { libc::kill(p as i32, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The children of process `pid` (its main thread's, where evbench forks).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn status_field(pid: u32, name: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
}

fn fds(pid: u32) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().parse().unwrap(),
                std::fs::read_link(e.path())
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// Everything the drop promises, read from the kernel's view of process `pid`.
fn assert_dropped(pid: u32, u: &TempUser) {
    let (uid, gid) = (u.uid, u.gid);
    assert_eq!(
        status_field(pid, "Uid"),
        format!("{uid}\t{uid}\t{uid}\t{uid}")
    );
    assert_eq!(
        status_field(pid, "Gid"),
        format!("{gid}\t{gid}\t{gid}\t{gid}")
    );
    let groups: BTreeSet<u32> = status_field(pid, "Groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    assert_eq!(groups, BTreeSet::from([u.gid, u.supplementary]));
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] {
        assert_eq!(status_field(pid, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    let env = environ(pid);
    for want in [
        format!("HOME={}", u.home),
        format!("USER={}", u.name),
        format!("LOGNAME={}", u.name),
    ] {
        assert!(env.contains(&want), "{want} not in {env:?}");
    }
    for key in ["HOME=", "USER=", "LOGNAME="] {
        assert_eq!(
            env.iter().filter(|e| e.starts_with(key)).count(),
            1,
            "{key} {env:?}"
        );
    }
}

/// Waits (at most `limit`) for `f` to give `Some`.
fn within<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_code(c: &mut std::process::Child, limit: Duration) -> Option<i32> {
    within(limit, || c.try_wait().unwrap()).code()
}

#[test]
fn trace_user_runs_the_command_with_nothing_of_evbench() {
    let u = TempUser::new();
    let mut ev = Command::new(EVBENCH)
        .args([
            "trace", "--user", &u.name, "--probes", "offcpu", "-q", "--", "sleep", "30",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ev_pid = ev.id();
    let _kill = KillOnPanic(ev_pid);
    // The command once it has exec'd (before that the child is evbench's image).
    let cmd = within(Duration::from_secs(20), || {
        children(ev_pid).into_iter().find(|&c| {
            std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|s| s.trim() == "sleep")
        })
    });
    assert_dropped(cmd, &u);
    // Once it sleeps: while the dynamic loader starts the command it holds the libraries
    // it maps open for a moment (a CI run saw fd 3 = libc.so.6).
    within(Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{cmd}/syscall"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok())
            .filter(|&nr| nr == libc::SYS_clock_nanosleep || nr == libc::SYS_nanosleep)
    });
    // Only 0, 1 and 2: no BPF map, program or link, no pipe of the gate, nothing else.
    let open: Vec<u32> = fds(cmd).into_iter().map(|(n, _)| n).collect();
    assert_eq!(open, [0, 1, 2], "{:?}", fds(cmd));
    // ...while evbench itself holds its programs.
    assert!(
        fds(ev_pid).iter().any(|(_, l)| l == "anon_inode:bpf-prog"),
        "the probes are loaded in evbench: {:?}",
        fds(ev_pid)
    );
    // SAFETY: signalling the traced command.
    unsafe { libc::kill(cmd as i32, libc::SIGTERM) };
    assert_eq!(
        wait_code(&mut ev, Duration::from_secs(20)),
        Some(128 + libc::SIGTERM)
    );
}

/// The trace tests' helper (tests/fixtures/trace_helper.c: exactly 2×ROUNDS read(2)
/// and 2×ROUNDS write(2) in pipe round trips), compiled once into a directory any user
/// can read.
fn helper() -> std::path::PathBuf {
    static H: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("evbench-privdrop-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("trace_helper");
        let src =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace_helper.c");
        let st = Command::new("cc")
            .args(["-static", "-O2", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc runs");
        assert!(st.success(), "the helper compiles");
        out
    })
    .clone()
}

/// The command traced as the user is counted exactly as it is without --user: the
/// drop's own system calls happen before the command is a target.
#[test]
fn trace_user_counts_the_command_exactly() {
    let u = TempUser::new();
    let h = helper();
    for mode in ["fork", "thread"] {
        let doc = h.with_file_name(format!("user-{mode}.json"));
        let out = Command::new(EVBENCH)
            .args(["trace", "--user", &u.name, "-q", "-o"])
            .arg(&doc)
            .arg("--")
            .arg(&h)
            .args(["3000", mode])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{mode}: {err}");
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&doc).unwrap()).unwrap();
        assert_eq!(
            counter(&d, "kernel.syscall.read"),
            Some(6000),
            "{mode}: {err}"
        );
        assert_eq!(counter(&d, "kernel.syscall.write"), Some(6000), "{mode}");
        assert_eq!(counter(&d, "kernel.drops"), Some(0), "{mode}");
    }
}

/// The socket's state in /proc/net/unix (3: connected; a listening one is 1 with the
/// accept flag 00010000).
fn unix_socket_state(inode: &str) -> Option<(String, String)> {
    std::fs::read_to_string("/proc/net/unix")
        .unwrap()
        .lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(6) == Some(&inode)).then(|| (f[3].to_string(), f[5].to_string()))
        })
}

/// `evbench run pingpong --user` held (EVBENCH_TEST_PAUSE=dropped) once its pass's
/// child has dropped its privileges: the run, its pid, the guard that kills it if the
/// test fails, and the thread collecting its stderr.
fn held_after_the_drop(
    u: &TempUser,
) -> (
    std::process::Child,
    u32,
    KillOnPanic,
    std::thread::JoinHandle<String>,
) {
    held_after_the_drop_with(u, |c| {
        // The invoker's private places, which the pass's child must not get.
        c.env("HOME", "/root")
            .env("XDG_RUNTIME_DIR", "/run/user/0")
            .env("SUDO_USER", "alice")
            .env("CARGO_HOME", "/root/.cargo");
    })
}

/// As [`held_after_the_drop`], with evbench's command adjusted by `setup` first (its
/// environment, its current directory).
fn held_after_the_drop_with(
    u: &TempUser,
    setup: impl FnOnce(&mut Command),
) -> (
    std::process::Child,
    u32,
    KillOnPanic,
    std::thread::JoinHandle<String>,
) {
    let mut cmd = Command::new(EVBENCH);
    cmd.args([
        "run",
        "pingpong",
        "--rounds",
        "1000",
        "--repeat",
        "1",
        "--warmup-repeats",
        "0",
        "--user",
        &u.name,
        "-q",
    ]);
    setup(&mut cmd);
    let mut ev = cmd
        .env("EVBENCH_TEST_PAUSE", "dropped")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ev_pid = ev.id();
    let kill = KillOnPanic(ev_pid);
    let err = ev.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("test pause at dropped") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the pass's child holds after its drop");
    (ev, ev_pid, kill, reader)
}

#[test]
fn run_user_pass_child_is_dropped_before_the_workload_starts() {
    let u = TempUser::new();
    let (mut ev, ev_pid, _kill, reader) = held_after_the_drop(&u);
    let kids = children(ev_pid);
    assert_eq!(kids.len(), 1, "one child per pass: {kids:?}");
    let child = kids[0];
    assert_dropped(child, &u);
    // run's child gets the same environment rule as trace's command (privdrop::dropped_env).
    let env = environ(child);
    for gone in ["XDG_RUNTIME_DIR=", "SUDO_USER=", "CARGO_HOME="] {
        assert!(
            !env.iter().any(|e| e.starts_with(gone)),
            "{gone} in {env:?}"
        );
    }
    assert!(
        env.contains(&"SHELL=/usr/sbin/nologin".to_string()),
        "{env:?}"
    );
    // 0-2 and fd 3, the connected end of its socketpair to evbench; nothing of the probes.
    let open = fds(child);
    assert_eq!(
        open.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{open:?}"
    );
    let inode = open[3]
        .1
        .strip_prefix("socket:[")
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("fd 3 is a socket: {open:?}"));
    assert_eq!(
        unix_socket_state(inode),
        Some(("00000000".to_string(), "03".to_string())),
        "fd 3: (flags, state) of a connected, non-listening unix socket"
    );
    assert!(
        fds(ev_pid).iter().any(|(_, l)| l == "anon_inode:bpf-prog"),
        "the probes stay in evbench: {:?}",
        fds(ev_pid)
    );
    // At most the one page of the window's word is still mapped from a BPF map.
    let page = 4096;
    let bpf_maps: Vec<usize> = std::fs::read_to_string(format!("/proc/{child}/maps"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("anon_inode:bpf"))
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
            usize::from_str_radix(b, 16).unwrap() - usize::from_str_radix(a, 16).unwrap()
        })
        .collect();
    assert!(
        bpf_maps.is_empty() || bpf_maps == [page],
        "BPF map mappings left in the child: {bpf_maps:?}"
    );
    // SAFETY: signalling our own child (evbench), which forwards it to the pass's child.
    unsafe { libc::kill(ev_pid as i32, libc::SIGINT) };
    let code = wait_code(&mut ev, Duration::from_secs(30));
    let text = reader.join().unwrap();
    assert_eq!(code, Some(130), "{text}");
    assert!(
        !std::path::Path::new(&format!("/proc/{child}")).exists(),
        "the pass's child is reaped"
    );
}

/// A pass's child killed mid-pass: the pass-failed warning names it, its pid, its user
/// and the signal; evbench exits 1 with one error line and leaves no process behind.
#[test]
fn run_user_a_killed_pass_child_is_named() {
    let u = TempUser::new();
    let (mut ev, ev_pid, _kill, reader) = held_after_the_drop(&u);
    let child = children(ev_pid)[0];
    // SAFETY: killing the pass's child.
    unsafe { libc::kill(child as i32, libc::SIGKILL) };
    let code = wait_code(&mut ev, Duration::from_secs(30));
    let text = reader.join().unwrap();
    assert_eq!(code, Some(1), "{text}");
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("evbench: error"))
        .collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains("the run did not complete"), "{text}");
    // The warning says which pass failed and why; earlier passes (none here) are kept.
    let warned = text.lines().any(|l| {
        l.starts_with("evbench: warning: a pass failed, so the run stopped there: ")
            && l.contains(&format!(
                "the workload's process (pid {child}, user {}) was killed by signal 9",
                u.name
            ))
    });
    assert!(warned, "{text}");
    assert!(!std::path::Path::new(&format!("/proc/{child}")).exists());
}

fn evbench(args: &[&str]) -> Output {
    Command::new(EVBENCH)
        .args(args)
        .output()
        .expect("evbench runs")
}

fn json(args: &[&str]) -> Value {
    let out = evbench(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["probes"]["on"], true,
        "probes must load here: {}",
        v["probes"]
    );
    v
}

/// Counter `name` of the only case's only repeat (its probed pass's kernel figures).
fn counter(doc: &Value, name: &str) -> Option<u64> {
    doc["cases"][0]["repeats"][0]["counters"][name].as_u64()
}

/// A pipe ping-pong of R round trips: each task returns from exactly R read(2) and R
/// write(2) calls in the window, 4R syscalls in all, with --user as without it (the
/// proxy's socket calls and its acknowledgement's wakeup stay outside the window).
#[test]
fn run_user_counts_exactly_what_a_run_without_it_counts() {
    const R: u64 = 5000;
    let u = TempUser::new();
    let r = R.to_string();
    for tasks in ["threads", "processes"] {
        for user in [None, Some(u.name.as_str())] {
            let mut args = vec![
                "run",
                "pingpong",
                "-m",
                "pipe",
                "--rounds",
                &r,
                "--pin",
                "split",
                "--tasks",
                tasks,
                "--repeat",
                "1",
                "--warmup-repeats",
                "0",
                "--json",
            ];
            if let Some(n) = user {
                args.extend(["--user", n]);
            }
            let d = json(&args);
            let what = format!("{tasks}, --user {user:?}");
            assert_eq!(d["options"]["user"].as_str(), user, "{what}");
            assert_eq!(counter(&d, "rounds"), Some(R), "{what}");
            assert_eq!(counter(&d, "kernel.syscall.read"), Some(2 * R), "{what}");
            assert_eq!(counter(&d, "kernel.syscall.write"), Some(2 * R), "{what}");
            assert_eq!(counter(&d, "kernel.syscalls"), Some(4 * R), "{what}");
            assert_eq!(counter(&d, "kernel.drops"), Some(0), "{what}");
        }
    }
}

/// pipetest's single thread: the same kernel counts of every syscall with --user as
/// without, and a read(2) per message read.
#[test]
fn run_user_pipetest_counts_the_same_syscalls() {
    let u = TempUser::new();
    let run = |user: Option<&str>| {
        let mut args = vec![
            "run",
            "pipetest",
            "-w",
            "2000",
            "-n",
            "20",
            "--repeat",
            "1",
            "--warmup-repeats",
            "0",
            "--json",
        ];
        if let Some(n) = user {
            args.extend(["--user", n]);
        }
        let d = json(&args);
        let r = &d["cases"][0]["repeats"][0];
        let syscalls: Vec<(String, u64)> = r["counters"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("kernel.syscall.") && !k.ends_with(".sampled"))
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        let messages = r["probed"]["counters"]["messages"].as_u64().unwrap();
        (syscalls, messages)
    };
    let (plain, m1) = run(None);
    let (dropped, m2) = run(Some(&u.name));
    assert_eq!(plain, dropped);
    assert_eq!(m1, m2);
    let read = plain
        .iter()
        .find(|(k, _)| k == "kernel.syscall.read")
        .map(|(_, v)| *v);
    assert_eq!(read, Some(m1), "one read(2) per message: {plain:?}");
}

/// The emulated kevent queue is user space only: it runs as the user.
#[test]
fn run_user_runs_the_kevent_wait_mode() {
    let u = TempUser::new();
    let d = json(&[
        "run",
        "pingpong",
        "-m",
        "pipe",
        "--wait",
        "kevent",
        "--rounds",
        "2000",
        "--repeat",
        "1",
        "--warmup-repeats",
        "0",
        "--json",
        "--user",
        &u.name,
    ]);
    assert_eq!(counter(&d, "rounds"), Some(2000));
    assert_eq!(counter(&d, "kernel.syscall.write"), Some(2 * 2000));
}

/// One line on stderr, and the exit status.
fn refusal(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code(), err)
}

fn as_nobody() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        EVBENCH,
    ]);
    c
}

#[test]
fn an_unknown_user_or_no_root_is_refused_in_one_line() {
    let nope = "no-such-evbench-user";
    let mut c = Command::new(EVBENCH);
    c.args(["run", "pingpong", "--rounds", "100", "--user", nope]);
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("--user {nope}: no such user")),
        "{err}"
    );

    let mut c = Command::new(EVBENCH);
    c.args(["trace", "--user", nope, "--", "true"]);
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(125), "{err}");
    assert!(
        err.contains(&format!("--user {nope}: no such user")),
        "{err}"
    );

    let mut c = as_nobody();
    c.args([
        "run", "pingpong", "--rounds", "100", "--probes", "none", "--user", "nobody",
    ]);
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--user nobody needs root (CAP_SETUID and CAP_SETGID)")
            && err.contains("(uid 65534) lacks them"),
        "{err}"
    );

    let mut c = as_nobody();
    c.args(["trace", "--user", "nobody", "--", "true"]);
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(125), "{err}");
    assert!(
        err.contains("needs root (CAP_SETUID and CAP_SETGID)"),
        "{err}"
    );

    // Without a command there is nothing to start as the user.
    let mut c = Command::new(EVBENCH);
    c.args(["trace", "--user", "nobody", "--pid", "1"]);
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("applies to a command after --"), "{err}");
}

#[test]
fn workloads_that_cannot_run_as_a_user_are_refused_naming_why() {
    for (args, why) in [
        (
            &["run", "http", "--user", "nobody"][..],
            "not available for http",
        ),
        (
            &["run", "pingpong", "-m", "efd-mask-fuse", "--user", "nobody"][..],
            "needs CAP_SYS_ADMIN",
        ),
        (
            &["run", "pipetest", "-m", "efd-mask-fuse", "--user", "nobody"][..],
            "needs CAP_SYS_ADMIN",
        ),
    ] {
        let mut c = Command::new(EVBENCH);
        c.args(args);
        let (code, err) = refusal(&mut c);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

/// Issue 17 (item F): the command's environment is evbench's as `su NAME` (without `-`)
/// leaves it, minus the invoker's session and private places: exactly these variables,
/// read from the kernel's /proc/PID/environ of the command (`cat /proc/self/environ`).
#[test]
fn trace_user_environment_is_sus_without_the_invokers_private_places() {
    let u = TempUser::new();
    let out = Command::new(EVBENCH)
        .args(["trace", "--user", &u.name, "--probes", "offcpu", "-q", "--"])
        .args(["cat", "/proc/self/environ"])
        .env_clear()
        .envs([
            ("HOME", "/root"),
            ("USER", "root"),
            ("LOGNAME", "root"),
            ("SHELL", "/bin/bash"),
            ("PATH", "/root/.cargo/bin:/usr/local/bin:/usr/bin:/bin"),
            ("XDG_RUNTIME_DIR", "/run/user/0"),
            ("XDG_SESSION_ID", "4"),
            ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus"),
            ("MAIL", "/var/mail/root"),
            ("SUDO_USER", "alice"),
            ("SUDO_UID", "1000"),
            ("SUDO_COMMAND", "/bin/sh"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-evbench/agent.1"),
            ("CARGO_HOME", "/root/.cargo"),
            ("LANG", "C.UTF-8"),
            ("TERM", "dumb"),
            ("EVBENCH_TEST_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeSet<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    let want: BTreeSet<String> = [
        "PATH=/usr/local/bin:/usr/bin:/bin".to_string(),
        "LANG=C.UTF-8".into(),
        "TERM=dumb".into(),
        "EVBENCH_TEST_KEEP=1".into(),
        format!("HOME={}", u.home),
        format!("USER={}", u.name),
        format!("LOGNAME={}", u.name),
        "SHELL=/usr/sbin/nologin".into(),
    ]
    .into();
    assert_eq!(got, want);
}

/// A numeric `--user` is a uid of the user database (the same drop as its name); a
/// uid without an entry is refused in one line (125: the command mode), nothing run.
#[test]
fn a_numeric_user_is_a_known_uid_and_an_unknown_one_is_refused() {
    let u = TempUser::new();
    let out = Command::new(EVBENCH)
        .args([
            "trace",
            "--user",
            &u.uid.to_string(),
            "--probes",
            "offcpu",
            "-q",
        ])
        .args(["--", "sh", "-c", "id -u; id -g; echo $USER"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n{}\n{}\n", u.uid, u.gid, u.name)
    );
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let taken: BTreeSet<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    let free = (4242..).find(|n| !taken.contains(n)).unwrap();
    let mut c = Command::new(EVBENCH);
    c.args([
        "trace",
        "--user",
        &free.to_string(),
        "--",
        "touch",
        "/tmp/evbench-must-not-exist",
    ]);
    let (code, err) = refusal(&mut c);
    assert_eq!(code, Some(125), "{err}");
    assert_eq!(
        err,
        format!("evbench: error: --user {free}: no user with uid {free} in the user database (a uid without an entry has no group, home or groups to take: add one, or name an existing user)\n")
    );
    assert!(!std::path::Path::new("/tmp/evbench-must-not-exist").exists());
    let mut c = Command::new(EVBENCH);
    c.args([
        "run",
        "pingpong",
        "--rounds",
        "100",
        "--user",
        &free.to_string(),
    ]);
    let (code, _) = refusal(&mut c);
    assert_eq!(code, Some(2));
}

/// Issue 17 (item G): `run --user` with the default suite runs every case a user
/// without capabilities can run and skips the others (efd-mask-fuse mounts FUSE; http
/// is two processes), one warning line per reason naming them, kept in the document's
/// warnings too; exit 0.
#[test]
fn run_user_with_the_default_suite_skips_only_the_cases_that_need_privileges() {
    let u = TempUser::new();
    let dir = std::env::temp_dir().join(format!("evbench-privdrop-suite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("suite.json");
    let out = Command::new(EVBENCH)
        .args([
            "run", "--user", &u.name, "--probes", "none", "--repeat", "1", "-q", "-o",
        ])
        .arg(&doc)
        .env("EVBENCH_SUITE_SIZE", "quick")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let fuse = format!("evbench: warning: --user {}: skipped pipetest/efd-mask-fuse/epoll, pipetest/efd-mask-fuse/kevent, pipetest/efd-mask-fuse/kevent-ring, pingpong/efd-mask-fuse/block/pin=same, pingpong/efd-mask-fuse/block/pin=split (they cannot run as a user without capabilities): the efd-mask-fuse mechanism mounts a FUSE filesystem, which needs CAP_SYS_ADMIN", u.name);
    let http = format!("evbench: warning: --user {}: skipped http/epoll, http/kevent, http/tokio (they cannot run as a user without capabilities): not available for http", u.name);
    let skips: Vec<&str> = err.lines().filter(|l| l.contains(": skipped ")).collect();
    assert_eq!(skips.len(), 2, "{err}");
    assert!(skips[0].starts_with(&fuse), "{}", skips[0]);
    assert!(skips[1].starts_with(&http), "{}", skips[1]);
    let v: Value = serde_json::from_slice(&std::fs::read(&doc).unwrap()).unwrap();
    let ids: BTreeSet<String> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let mut want = BTreeSet::new();
    for m in ["pipe", "eventfd", "eventfd-sem", "efd-mask-socketpair"] {
        for w in ["epoll", "kevent", "kevent-ring"] {
            want.insert(format!("pipetest/{m}/{w}"));
        }
    }
    for m in [
        "pipe/block",
        "eventfd/block",
        "futex/block",
        "efd-mask-socketpair/block",
        "pipe/kevent",
    ] {
        for pin in ["same", "split"] {
            want.insert(format!("pingpong/{m}/pin={pin}"));
        }
    }
    assert_eq!(ids, want);
    // Every case ran whole, as the user.
    for c in v["cases"].as_array().unwrap() {
        assert_eq!(c["repeats"].as_array().unwrap().len(), 1, "{}", c["id"]);
        assert_eq!(c["repeats"][0]["interrupted"], false, "{}", c["id"]);
    }
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains(": skipped "))
        .collect();
    assert_eq!(warnings.len(), 2);
    assert_eq!(format!("evbench: warning: {}", warnings[0]), skips[0]);
    assert_eq!(format!("evbench: warning: {}", warnings[1]), skips[1]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The live (not zombie) processes whose real uid is `uid`, from /proc.
fn live_processes_of(uid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                return false;
            };
            let field = |name: &str| {
                s.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
            };
            field("Uid:") == Some(uid.to_string()) && field("State:").as_deref() != Some("Z")
        })
        .collect();
    v.sort_unstable();
    v
}

/// SIGKILLs the given processes when dropped (whatever the test's outcome): a failed
/// assertion leaves no runaway pingpong of the throwaway user behind.
struct KillAll(Vec<u32>);

impl Drop for KillAll {
    fn drop(&mut self) {
        for &p in &self.0 {
            // SAFETY: signalling processes this test started (their pids read from /proc
            // while they were ours).
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
        }
    }
}

/// F3: evbench SIGKILLed mid-pass (nothing can forward a stop any more): the pass's
/// child, running as NAME, and the workload's task processes it forked die with it
/// (PR_SET_PDEATHSIG after the drop) within 2 s instead of running 10^8 rounds.
#[test]
fn run_user_pass_child_dies_with_a_killed_evbench() {
    let u = TempUser::new();
    let mut ev = Command::new(EVBENCH)
        .args([
            "run",
            "pingpong",
            "--rounds",
            "100000000",
            "--tasks",
            "processes",
            "--repeat",
            "1",
            "--warmup-repeats",
            "0",
            "--probes",
            "none",
            "--user",
            &u.name,
            "-q",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ev_pid = ev.id();
    let _kill = KillOnPanic(ev_pid);
    // The pass's child once its two task processes are in the measured rounds: each
    // has blocked 10^4 times (a round blocks each once). Before that, evbench killed
    // mid-observer-call ends the child through its failed call, not through the fix.
    let child = within(Duration::from_secs(30), || {
        let c = *children(ev_pid).first()?;
        let tasks = children(c);
        let busy = |t: &u32| {
            std::fs::read_to_string(format!("/proc/{t}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
                .is_some_and(|n| n >= 10_000)
        };
        (tasks.len() == 2 && tasks.iter().all(busy)).then_some(c)
    });
    let ours = live_processes_of(u.uid);
    let _guard = KillAll(ours.clone());
    let mut want = children(child);
    want.push(child);
    want.sort_unstable();
    assert_eq!(
        ours, want,
        "the pass's child and its two tasks run as the user"
    );
    // SAFETY: killing evbench, our own child.
    unsafe { libc::kill(ev_pid as i32, libc::SIGKILL) };
    assert_eq!(
        wait_code(&mut ev, Duration::from_secs(5)),
        None,
        "killed by a signal"
    );
    within(Duration::from_secs(2), || {
        live_processes_of(u.uid).is_empty().then_some(())
    });
}

/// A throwaway directory under /tmp holding `rootlink` → /root; removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("evbench-privdrop-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("/root", d.join("rootlink")).unwrap();
        Self(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// F5/F6: the values that resolve into the invoker's home and the want of the dropped
/// environment for them, with HOME unset (the passwd home, /root, still counts) and
/// evbench's current directory /root (PWD goes).
fn resolving_env(s: &Scratch, u: &TempUser) -> (Vec<(String, String)>, BTreeSet<String>) {
    let vars: Vec<(String, String)> = [
        ("PATH", "/root/.cargo/bin:/usr/bin:.:/bin".to_string()),
        ("CARGO_HOME", "/root/.cargo".into()),
        ("DOTDOT", "/tmp/../root/secret".into()),
        ("SYMLINK", format!("{}/rootlink/y", s.0.display())),
        ("LD_PRELOAD", "/evbench-none/a.so /root/b.so".into()),
        ("EQ", "--opt=/root/x".into()),
        ("PWD", "/root".into()),
        ("LANG", "C.UTF-8".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let want: BTreeSet<String> = [
        "PATH=/usr/bin:.:/bin".to_string(),
        "LD_PRELOAD=/evbench-none/a.so".into(),
        "LANG=C.UTF-8".into(),
        format!("HOME={}", u.home),
        format!("USER={}", u.name),
        format!("LOGNAME={}", u.name),
        "SHELL=/usr/sbin/nologin".into(),
    ]
    .into();
    (vars, want)
}

/// F5/F6 for `trace --user`: exactly this environment, read from the command's own
/// /proc/self/environ.
#[test]
fn trace_user_environment_drops_values_that_resolve_into_the_invokers_home() {
    let u = TempUser::new();
    let s = Scratch::new("trace-env");
    let (vars, want) = resolving_env(&s, &u);
    let out = Command::new(EVBENCH)
        .args(["trace", "--user", &u.name, "--probes", "offcpu", "-q", "--"])
        .args(["/bin/cat", "/proc/self/environ"])
        .current_dir("/root")
        .env_clear()
        .envs(vars)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeSet<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    assert_eq!(got, want);
}

/// F5/F6 for `run --user`: the pass's child's /proc/PID/environ, held after its drop.
#[test]
fn run_user_environment_drops_values_that_resolve_into_the_invokers_home() {
    let u = TempUser::new();
    let s = Scratch::new("run-env");
    let (vars, want) = resolving_env(&s, &u);
    let (mut ev, ev_pid, _kill, reader) = held_after_the_drop_with(&u, |c| {
        c.current_dir("/root").env_clear().envs(vars);
    });
    let child = children(ev_pid)[0];
    let got: BTreeSet<String> = environ(child)
        .into_iter()
        .filter(|e| !e.starts_with("EVBENCH_TEST_PAUSE="))
        .collect();
    assert_eq!(got, want);
    // SAFETY: signalling our own child (evbench), which forwards it to the pass's child.
    unsafe { libc::kill(ev_pid as i32, libc::SIGINT) };
    let code = wait_code(&mut ev, Duration::from_secs(30));
    let text = reader.join().unwrap();
    assert_eq!(code, Some(130), "{text}");
}
