//! `evbench serve`: the HTTP workload's server half alone, so any client (wrk, httperf,
//! `evbench load`) can drive it. `evbench run http` starts it as a child process in
//! `--control` mode and talks to it over stdin/stdout.
use std::{
    io::{BufRead, Write},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Args;
use workloads::{
    http::{self, BodySource, HttpWait, ServerConfig, ServerStats, Site},
    stop::Stop,
    NoObserver,
};

use crate::output::count;

/// Options of `evbench serve` (also what `evbench run http` passes to its server).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// How the loops wait: epoll, epoll-et, poll, select, tokio, ... (see `evbench list`).
    #[arg(long, short = 'w', default_value = "epoll")]
    pub wait: HttpWait,
    /// Event loops, each a thread with its own SO_REUSEPORT listen socket.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// Body size of the served path, bytes (held in memory).
    #[arg(long, default_value_t = 128, conflicts_with = "body_file")]
    pub body_size: usize,
    /// Serve this file's contents instead, with sendfile(2).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// The served path; any other gets 404.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// Largest request head; larger ones get 431 and the connection is closed.
    #[arg(long, default_value_t = 8192)]
    pub max_header_bytes: usize,
    /// Pin the server (all its loops) to this CPU.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Print the final counters as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Line protocol for a parent process on stdin/stdout: prints `listening ADDR`,
    /// `tids T...`; answers `stats` with `stats JSON`; stops at end of input.
    #[arg(long, hide = true)]
    pub control: bool,
}

impl ServeArgs {
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            addr: self.addr,
            wait: self.wait.clone(),
            workers: self.workers as usize,
            site: Site {
                path: self.path.clone(),
                body: match &self.body_file {
                    Some(p) => BodySource::File(p.clone()),
                    None => BodySource::Bytes(self.body_size),
                },
                max_header_bytes: self.max_header_bytes,
            },
            ..ServerConfig::default()
        }
    }
}

pub fn run(args: ServeArgs, stop: &Stop) -> Result<ExitCode> {
    let nofile = http::raise_nofile_limit().context("cannot raise the fd limit")?;
    if let Some(cpu) = args.cpu {
        workloads::pingpong::pin_current_thread(cpu)
            .with_context(|| format!("cannot pin the server to CPU {cpu}"))?;
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
    let until = args
        .duration
        .map(|s| began + Duration::from_secs_f64(s.max(0.0)));
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
        "served {} requests in {secs:.1} s ({} ok, {} 400, {} 404, {} 405, {} 431) on {} connections; {} peer resets",
        count(s.requests),
        count(s.ok),
        count(s.bad_request),
        count(s.not_found),
        count(s.method_not_allowed),
        count(s.header_too_large),
        count(s.accepted),
        count(s.peer_resets)
    );
    if s.requests > 0 && s.waits > 0 {
        let r = s.requests as f64;
        println!(
            "per request: {:.3} wait calls, {:.3} events, {:.0} ns inside the wait call",
            s.waits as f64 / r,
            s.events as f64 / r,
            s.wait_ns as f64 / r
        );
    }
}

/// The `--control` protocol: one line per message on stdout; stdin commands.
fn control(server: http::ServerHandle) -> Result<ExitCode> {
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
