//! `evbench serve`, `evbench load` and `evbench run http` as a user runs them: separate
//! processes over loopback, figures read back from their JSON output.
use std::{
    io::{BufRead, BufReader},
    process::{Command, Output, Stdio},
};

fn evbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .expect("evbench starts")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn serve_and_load_are_separate_processes_that_agree() {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--wait",
            "poll",
            "--duration",
            "30",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "evbench serve: listening on http://ADDR/ (...)"
    let mut line = String::new();
    BufReader::new(serve.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let out = evbench(&[
        "load",
        "--server",
        &addr,
        "-c",
        "4",
        "-d",
        "0.5",
        "--warmup-time",
        "0.2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let load = json(&out);
    // SIGINT: the server stops and prints its counters.
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(serve.id() as i32, libc::SIGINT) }, 0);
    let done = serve.wait_with_output().unwrap();
    assert!(done.status.success());
    let st = json(&done)["stats"].clone();
    assert_eq!(load["errors_total"], 0, "{load}");
    assert_eq!(load["peak_connections"], 4);
    assert_eq!(st["accepted"], 4, "{st}");
    assert_eq!(st["ok"], st["requests"], "{st}");
    // The server answered every measured request plus the warm-up ones.
    assert!(
        st["ok"].as_u64() >= load["requests"].as_u64(),
        "{st} vs {load}"
    );
}

/// Issue 18 item 1: the human table's rows line up under its header whatever the wait
/// mode's name ("kevent-ring #2" is the longest), and tokio's wait calls, which its
/// loop does not count, read "n/a", not 0.
#[test]
fn run_http_table_is_aligned_and_says_n_a_for_tokio() {
    let out = evbench(&[
        "run",
        "http",
        "--wait",
        "epoll,kevent-ring,tokio",
        "-c",
        "4",
        "-d",
        "0.3",
        "--warmup-time",
        "0.1",
        "--repeat",
        "2",
        "--warmup-repeats",
        "0",
        "--probes",
        "none",
        "-q",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.trim_start().starts_with("wait "))
        .unwrap_or_else(|| panic!("no header in:\n{text}"));
    let rows: Vec<&str> = lines[head + 1..]
        .iter()
        .copied()
        .take_while(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.starts_with("  kernel:"))
        .collect();
    // 3 wait modes × 2 repeats.
    assert_eq!(rows.len(), 6, "{text}");
    let width = lines[head].chars().count();
    for r in &rows {
        assert_eq!(
            r.chars().count(),
            width,
            "misaligned row:\n{}\n{r}",
            lines[head]
        );
    }
    // The columns after errors: waits/req, events/req, in wait/req.
    for r in rows.iter().filter(|r| r.trim_start().starts_with("tokio")) {
        let cells: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(&cells[cells.len() - 3..], &["n/a", "n/a", "n/a"], "{r}");
    }
    for r in rows.iter().filter(|r| !r.trim_start().starts_with("tokio")) {
        assert!(!r.contains("n/a"), "{r}");
    }
}

#[test]
fn run_http_sweeps_the_named_wait_modes_in_order() {
    let modes = ["epoll", "epoll-et", "poll", "select", "tokio"];
    let out = evbench(&[
        "run",
        "http",
        "--wait",
        &modes.join(","),
        "-c",
        "4",
        "-d",
        "0.3",
        "--warmup-time",
        "0.1",
        "--probes",
        "none",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let cases = v["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["wait"].as_str().unwrap()).collect();
    assert_eq!(names, modes);
    for c in cases {
        assert_eq!(c["id"], format!("http/{}", c["wait"].as_str().unwrap()));
        let r = &c["repeats"][0]["details"];
        assert_eq!(r["client"]["errors_total"], 0, "{c}");
        assert_eq!(r["client"]["peak_connections"], 4, "{c}");
        assert_eq!(r["server"]["ok"], r["server"]["requests"], "{c}");
        // Every connection was opened before the measured window.
        assert_eq!(r["server"]["accepted"], 0, "{c}");
        assert_eq!(
            c["repeats"][0]["counters"]["requests"],
            r["client"]["requests"]
        );
        assert_eq!(c["repeats"][0]["counters"]["errors"], 0);
    }
}

#[test]
fn load_against_a_closed_port_counts_refusals_not_successes() {
    // Bind then drop: the port is free and nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = evbench(&[
        "load",
        "--server",
        &format!("127.0.0.1:{port}"),
        "-c",
        "2",
        "-d",
        "0.3",
        "--warmup-time",
        "0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "no success is a failed run");
    let v = json(&out);
    assert_eq!(v["requests"], 0);
    assert_eq!(v["errors"]["refused"], v["errors_total"], "{v}");
    assert_eq!(v["peak_connections"], 0);
    // At least each connection's first attempt was refused.
    assert!(v["errors_total"].as_u64().unwrap() >= 2, "{v}");
}

#[test]
fn probes_follow_the_server_child_process_alone() {
    let out = evbench(&[
        "run",
        "http",
        "--wait",
        "epoll",
        "-c",
        "4",
        "-d",
        "0.5",
        "--warmup-time",
        "0.2",
        "--probes",
        "offcpu,syscalls",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["probes"]["on"], true, "this test needs root: {v}");
    let c = &v["cases"][0]["repeats"][0]["details"];
    let threads = c["kernel"]["threads"].as_array().unwrap();
    // One worker: exactly one target thread, the server's loop (not the client's).
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0]["role"], "server");
    // The kernel figures are the probed pass's: compare them with its own requests.
    let requests = v["cases"][0]["repeats"][0]["probed"]["details"]["server"]["requests"]
        .as_u64()
        .unwrap();
    let syscalls = threads[0]["syscalls"].as_u64().unwrap();
    // Each answer costs the loop a recv and a send at least; the probe window and the
    // counter snapshots differ by a few requests at the edges, hence the slack.
    assert!(requests > 100, "{c}");
    assert!(
        syscalls * 10 >= requests * 2 * 9,
        "{syscalls} syscalls for {requests} requests"
    );
}

/// Issue 16 item 1: an open loop's shortfall is in the document's warnings (a judged
/// repeat's, named by its pass, with the figures its details record), and a warm-up's
/// shortfall is printed as the warm-up's, not kept.
#[test]
fn open_loop_shortfall_is_a_document_warning() {
    let out = evbench(&[
        "run",
        "http",
        "--wait",
        "epoll",
        "-c",
        "2",
        "-d",
        "0.3",
        "--warmup-time",
        "0.1",
        "--rate",
        "10000000",
        "--repeat",
        "1",
        "--warmup-repeats",
        "1",
        "--probes",
        "none",
        "--json",
    ]);
    let v = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let c = &v["cases"][0]["repeats"][0]["details"]["client"];
    let n = |k: &str| evbench::output::count(c[k].as_u64().unwrap());
    let achieved = c["req_per_sec"].as_f64().unwrap();
    let want = format!(
        "http/epoll (clean 1/1): achieved {} req/s, {:.1} % below the offered 10,000,000 req/s ({} of {} scheduled requests missed, {} late)",
        evbench::output::count(achieved.round() as u64),
        100.0 * (1.0 - achieved / 1e7),
        n("missed"),
        n("scheduled"),
        n("late")
    );
    let shortfalls: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("below the offered"))
        .collect();
    assert_eq!(shortfalls, [want.as_str()], "{stderr}");
    assert_eq!(c["below_target"], true);
    assert!(stderr.contains(&want), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("http/epoll (warm-up 1/1), not judged: achieved "))
            .count(),
        1,
        "{stderr}"
    );
}
