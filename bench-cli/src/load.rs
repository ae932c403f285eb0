//! `evbench load`: the HTTP workload's client half alone, against any server
//! (`evbench serve`, lighttpd, nginx, ...).
use std::{
    io::Write,
    net::{SocketAddr, ToSocketAddrs},
    process::ExitCode,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use workloads::{
    http::{self, ErrorCounts, LoadConfig, LoadReport, Pace},
    stop::Stop,
    NoObserver,
};

use crate::{output::count, results::Percentiles, signal::INTERRUPTED_EXIT};

/// Client options shared by `evbench load` and `evbench run http`.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Concurrent connections, each with one request in flight.
    #[arg(long, short = 'c', default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Open loop: this many requests per second in total, latency from each request's
    /// scheduled time (coordinated omission corrected). Default: closed loop.
    #[arg(long, value_name = "REQ/S")]
    pub rate: Option<f64>,
    /// Measured seconds.
    #[arg(long, short = 'd', default_value_t = 5.0, value_name = "SECS")]
    pub duration: f64,
    /// Seconds run first and not measured.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub warmup: f64,
    /// A new connection per request instead of keep-alive.
    #[arg(long)]
    pub no_keepalive: bool,
    /// Seconds a request may take before it counts as a timeout.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// Client threads (tokio workers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// The request path.
    #[arg(long, default_value = "/")]
    pub path: String,
}

impl ClientArgs {
    pub fn config(&self, addr: SocketAddr, host: Option<String>) -> Result<LoadConfig> {
        let secs = |what: &str, v: f64| -> Result<Duration> {
            if !(v.is_finite() && v >= 0.0) {
                bail!("--{what} must be a number of seconds ≥ 0 (got {v})");
            }
            Ok(Duration::from_secs_f64(v))
        };
        let pace = match self.rate {
            None => Pace::Closed,
            Some(r) if r.is_finite() && r > 0.0 => Pace::Rate(r),
            Some(r) => bail!("--rate must be a positive number of requests per second (got {r})"),
        };
        Ok(LoadConfig {
            addr,
            connections: self.connections as usize,
            pace,
            warmup: secs("warmup", self.warmup)?,
            duration: secs("duration", self.duration)?,
            keep_alive: !self.no_keepalive,
            path: self.path.clone(),
            host,
            timeout: secs("timeout", self.timeout)?,
            threads: self.threads as usize,
            ..LoadConfig::default()
        })
    }
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// The server: HOST:PORT.
    #[arg(long, short = 's', default_value = "127.0.0.1:8080")]
    pub server: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print one JSON document instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// What a load run measured, as reports print it.
#[derive(Clone, Debug, Serialize)]
pub struct LoadFigures {
    pub requests: u64,
    pub seconds: f64,
    pub req_per_sec: f64,
    pub errors: ErrorCounts,
    pub errors_total: u64,
    /// From the scheduled send time (open loop) or the send (closed loop), ns.
    pub latency_ns: Percentiles,
    /// From the actual send, ns.
    pub service_ns: Percentiles,
    pub bytes: u64,
    pub peak_connections: u64,
    pub interrupted: bool,
}

impl LoadFigures {
    pub fn of(r: &LoadReport) -> Self {
        Self {
            requests: r.requests,
            seconds: r.elapsed.as_secs_f64(),
            req_per_sec: r.req_per_sec(),
            errors: r.errors,
            errors_total: r.errors.total(),
            latency_ns: Percentiles::of(&r.latency),
            service_ns: Percentiles::of(&r.service),
            bytes: r.bytes,
            peak_connections: r.peak_connections,
            interrupted: r.interrupted,
        }
    }

    /// `refused 0, reset 0, ...` with only the non-zero kinds, or `none`.
    pub fn errors_line(&self) -> String {
        let e = &self.errors;
        let kinds = [
            ("refused", e.refused),
            ("reset", e.reset),
            ("timeout", e.timeout),
            ("bad response", e.bad_response),
            ("closed", e.closed),
            ("other", e.other),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{} {k}", count(*n)))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

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
    let addr = resolve(&args.server)?;
    let host = Some(args.server.clone());
    let cfg = args.client.config(addr, host)?;
    let report = http::client::run(&cfg, &NoObserver, stop).context("the load run failed")?;
    let f = LoadFigures::of(&report);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &f)?;
        writeln!(out)?;
    } else {
        let mode = match cfg.pace {
            Pace::Closed => "closed loop".to_string(),
            Pace::Rate(r) => format!("open loop at {r} req/s"),
        };
        writeln!(
            out,
            "load: {} {}, {} connections, {}, {:.1} s measured (+{:.1} s warm-up)",
            args.server,
            cfg.path,
            cfg.connections,
            if cfg.keep_alive {
                mode
            } else {
                mode + ", new connection per request"
            },
            f.seconds,
            cfg.warmup.as_secs_f64()
        )?;
        print_figures(&mut out, &f)?;
    }
    if f.interrupted {
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    // No successful request at all is a failed run, whatever the reason.
    Ok(if f.requests == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn print_figures(out: &mut impl Write, f: &LoadFigures) -> Result<()> {
    let l = &f.latency_ns;
    writeln!(
        out,
        "  throughput  {:.0} req/s ({} requests, {} bytes)",
        f.req_per_sec,
        count(f.requests),
        count(f.bytes)
    )?;
    writeln!(out, "  latency     {}", crate::output::percentiles(l))?;
    writeln!(out, "  errors      {}", f.errors_line())?;
    Ok(())
}
