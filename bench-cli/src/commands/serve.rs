//! `evbench serve`: the HTTP workload's server half alone, so any client (wrk, httperf,
//! `evbench load`) can drive it. `evbench run http` starts it as a child process in
//! `--control` mode and talks to it over stdin/stdout.
use std::{
    io::{BufRead, Write},
    process::ExitCode,
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use workloads::{
    http::{self, ServerStats},
    stop::Stop,
    NoObserver,
};

use crate::{cli::ServeArgs, output::count};

pub fn run(args: ServeArgs, stop: &Stop) -> Result<ExitCode> {
    let nofile = http::raise_nofile_limit().context("cannot raise the fd limit")?;
    if let Some(cpu) = args.server_cpu {
        workloads::pingpong::pin_current_thread(cpu)
            .with_context(|| format!("cannot pin the server to CPU {cpu}"))?;
    }
    if let Err(e) = args.config().validate() {
        return Ok(crate::commands::run::usage_error(&e.to_string()));
    }
    let server = http::start(&args.config(), &NoObserver)
        .with_context(|| format!("cannot start the {} server", args.wait))?;
    let addr = server.local_addr();
    if args.control {
        return control(server);
    }
    eprintln!(
        "evbench serve: listening on http://{addr}{} (wait {}, {} worker{}, loop tids {:?}, fd limit {nofile}); Ctrl-C stops",
        args.path,
        args.wait,
        args.workers,
        if args.workers == 1 { "" } else { "s" },
        server.tids()
    );
    let began = Instant::now();
    let until = args.duration.and_then(|d| began.checked_add(d));
    while !stop.is_set() && until.is_none_or(|u| Instant::now() < u) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let refusal = server.first_refusal().map(str::to_string);
    let stats = server.stop().context("the server failed")?;
    let secs = began.elapsed().as_secs_f64();
    if args.json {
        let doc = serde_json::json!({ "addr": addr.to_string(), "wait": args.wait.name(),
            "workers": args.workers, "seconds": secs, "stats": stats });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_stats(&stats, secs);
        if let Some(r) = refusal {
            eprintln!("evbench serve: the waiter refused connections: {r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stats(s: &ServerStats, secs: f64) {
    println!(
        "served {} in {secs:.1} s ({} ok, {} 400, {} 404, {} 405, {} 431) on {}; {}",
        crate::output::plural(s.requests, "request", "requests"),
        count(s.ok),
        count(s.bad_request),
        count(s.not_found),
        count(s.method_not_allowed),
        count(s.header_too_large),
        crate::output::plural(s.accepted, "connection", "connections"),
        crate::output::plural(s.peer_resets, "peer reset", "peer resets")
    );
    if s.requests > 0 && s.waits > 0 {
        let r = s.requests as f64;
        println!(
            "per request: {:.3} wait calls, {:.3} events, {} ns inside the wait call",
            s.waits as f64 / r,
            s.events as f64 / r,
            count((s.wait_ns as f64 / r).round() as u64)
        );
    }
}

/// The `--control` protocol: one line per message on stdout; stdin commands.
fn control(server: http::ServerHandle) -> Result<ExitCode> {
    // The engine starts this mode through /proc/self/exe, which names the process "exe";
    // give it back the name ps, pgrep and `trace --comm` users know. Threads started
    // before this keep theirs (the server's workers are named on their own).
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"evbench".as_ptr()) };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {}", server.local_addr())?;
    let tids: Vec<String> = server.tids().iter().map(u32::to_string).collect();
    writeln!(out, "tids {}", tids.join(" "))?;
    out.flush()?;
    // Reading stdin blocks; a reader thread keeps the answer path simple.
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    for cmd in rx {
        match cmd.trim() {
            "stats" => writeln!(out, "stats {}", serde_json::to_string(&server.stats())?)?,
            "stop" => break,
            other => writeln!(out, "error unknown command '{other}'")?,
        }
        out.flush()?;
    }
    let stats = server.stop().context("the server failed")?;
    writeln!(out, "final {}", serde_json::to_string(&stats)?)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
