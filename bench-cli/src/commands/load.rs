//! `evbench load`: the HTTP workload's client half alone, against any server
//! (`evbench serve`, lighttpd, nginx, ...).
use std::{
    io::Write,
    net::{SocketAddr, ToSocketAddrs},
    process::ExitCode,
};

use anyhow::{Context, Result};
use workloads::{
    http::{self, Pace},
    stop::Stop,
    NoObserver,
};

use crate::{
    cli::LoadArgs, commands::run::usage_error, engine::http::LoadFigures,
    export::human::print_load, output::count, signal,
};

/// Resolves HOST:PORT to one address.
pub fn resolve(server: &str) -> Result<SocketAddr> {
    server
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve '{server}' (want HOST:PORT)"))?
        .next()
        .with_context(|| format!("'{server}' resolves to no address"))
}

pub fn run(args: LoadArgs, stop: &Stop) -> Result<ExitCode> {
    http::raise_nofile_limit().context("cannot raise the fd limit")?;
    let addr = match resolve(&args.server) {
        Ok(a) if a.port() != 0 => a,
        Ok(_) => {
            return Ok(usage_error(&format!(
                "--server {}: port 0 is no server's port",
                args.server
            )))
        }
        Err(e) => return Ok(usage_error(&format!("--server: {e:#}"))),
    };
    let host = Some(args.server.clone());
    let cfg = match args.client.config(addr, host) {
        Ok(c) => c,
        Err(e) => return Ok(usage_error(&format!("{e:#}"))),
    };
    if let Err(e) = cfg.validate() {
        return Ok(usage_error(&e));
    }
    let report = http::client::run(&cfg, &NoObserver, stop).context("the load run failed")?;
    let f = LoadFigures::of(&report);
    if let Some(w) = f.warning() {
        eprintln!("evbench: warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &f)?;
        writeln!(out)?;
    } else {
        let mode = match cfg.pace {
            Pace::Closed => "closed loop".to_string(),
            Pace::Rate(r) => format!("open loop at {} req/s", count(r.round() as u64)),
        };
        writeln!(
            out,
            "load: {} {}, {}, {}, {:.1} s measured (+{:.1} s warm-up)",
            args.server,
            cfg.path,
            crate::output::plural(cfg.connections as u64, "connection", "connections"),
            if cfg.keep_alive {
                mode
            } else {
                mode + ", new connection per request"
            },
            f.seconds,
            cfg.warmup.as_secs_f64()
        )?;
        print_load(&mut out, &f)?;
    }
    if f.interrupted {
        return Ok(ExitCode::from(signal::exit_code()));
    }
    // No success, or most requests failed: a failed run, whatever the reason.
    Ok(if f.requests == 0 || report.mostly_failed() {
        eprintln!(
            "evbench: error: {}: {} answered in the window, errors: {}",
            if f.requests == 0 {
                "no request succeeded"
            } else {
                "most requests failed"
            },
            count(f.requests),
            f.errors_line()
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
