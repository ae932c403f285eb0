//! `cargo xtask bench http`: every `evbench serve` wait mode and a real lighttpd under
//! the same `evbench load` settings, in alternating rounds, and `wrk` against
//! `evbench load` on the same server; then an open loop (`evbench load --rate`) at fixed
//! rates below and above the epoll server's measured capacity, with the offered rate
//! beside the achieved one and the requests the schedule could not fit (late, missed);
//! writes the figures and ratios to `results/`.
//!
//! Server pinned to one CPU, client to another. Other load on the machine can only
//! lower a round's req/s, so ratios compare each target's best round (as hyperfine
//! and others use the fastest run); medians are reported alongside.
use std::{
    fmt::Write as _,
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::figures::{max as best, median};
use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct BenchHttpArgs {
    /// Alternating rounds (each target once per round).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Warm-up seconds per run (evbench load only; wrk has none).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Client connections.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Response body, bytes.
    #[arg(long, default_value_t = 128)]
    pub body_size: usize,
    /// Wait modes to try; ones this evbench does not know are skipped with a note.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "epoll,epoll-et,poll,select,kevent,kevent-ring,tokio"
    )]
    pub wait: Vec<String>,
    /// CPU for the server, and for the client.
    #[arg(long, default_value_t = 0)]
    pub server_cpu: u32,
    #[arg(long, default_value_t = 1)]
    pub client_cpu: u32,
    /// Use the existing target/release/evbench instead of building it.
    #[arg(long)]
    pub no_build: bool,
    /// Open-loop rates, as fractions of the epoll server's capacity (the median of its
    /// closed-loop rounds above): one `evbench load --rate` run at each per round.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.9,1.5")]
    pub open_loop: Vec<f64>,
}

const PORT: u16 = 18090;
const WORK: &str = "/tmp/evbench-http-bench";
const CONF: &str = "results/lighttpd-bench.conf";
const PATH: &str = "/index.html";

/// The body `evbench serve --body-size N` sends (workloads::http::body_bytes).
pub(crate) fn body(n: usize) -> Vec<u8> {
    b"evbench-http-body\n"
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

/// `lighttpd -v`'s first line ("lighttpd/1.4.69 (ssl) - a light and fast webserver"),
/// empty when it cannot be run.
pub(crate) fn lighttpd_version() -> String {
    Command::new("lighttpd")
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

pub(crate) fn ensure_tool(bin: &str, package: &str) -> Result<()> {
    if which(bin) {
        return Ok(());
    }
    eprintln!("xtask: {bin} is missing; installing the Debian package {package}");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?
        .success();
    if !ok || !which(bin) {
        bail!("cannot install {package} (try `apt-get update` first)");
    }
    Ok(())
}

fn which(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A server process, stopped with SIGTERM on drop.
pub(crate) struct Server(Child);

impl Server {
    /// Starts `cmd` and waits (10 s at most) until something listens on loopback `port`.
    pub(crate) fn start_on(cmd: &mut Command, port: u16) -> Result<Self> {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the server")?;
        let s = Server(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the server did not listen on port {port} within 10 s");
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    fn start(cmd: &mut Command) -> Result<Self> {
        Self::start_on(cmd, PORT)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// `evbench load --json` against 127.0.0.1:`port` for `/index.html`: the client every
/// HTTP bench runs (callers add `--rate`, run it and read its document).
pub(crate) fn load_command(
    evbench: &Path,
    port: u16,
    connections: &str,
    duration: &str,
    warmup: &str,
) -> Command {
    let mut c = Command::new(evbench);
    c.args(["load", "--json", "--server"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--path", PATH, "-c", connections, "-d", duration])
        .args(["--warmup-time", warmup]);
    c
}

/// [`load_command`] with this bench's settings, pinned to the client CPU.
fn client(evbench: &Path, a: &BenchHttpArgs) -> Command {
    let plain = load_command(
        evbench,
        PORT,
        &a.connections.to_string(),
        &a.duration.to_string(),
        &a.warmup.to_string(),
    );
    let mut c = Command::new("taskset");
    c.args(["-c", &a.client_cpu.to_string()])
        .arg(plain.get_program())
        .args(plain.get_args());
    c
}

/// One `evbench load` run: (req/s, p99 ns, errors).
fn load(evbench: &Path, a: &BenchHttpArgs) -> Result<(f64, u64, u64)> {
    let out = client(evbench, a)
        .output()
        .context("cannot run evbench load")?;
    if !out.status.success() {
        bail!(
            "evbench load failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok((
        v["req_per_sec"].as_f64().context("no req_per_sec")?,
        v["latency_ns"]["p99"].as_u64().unwrap_or(0),
        v["errors_total"].as_u64().unwrap_or(0),
    ))
}

/// One open-loop `evbench load --rate` run, as `evbench load --json` reports it.
struct OpenRun {
    /// The rate asked for, req/s.
    offered: f64,
    /// What completed per second of measured time.
    achieved: f64,
    /// Scheduled in the window: answered + late + failed + missed.
    scheduled: u64,
    /// Answered after the window's end (latency from the schedule).
    late: u64,
    /// Scheduled and never sent.
    missed: u64,
    /// Ended in an error.
    failed: u64,
    /// p99 latency from the scheduled send, ns (`None`: no success).
    p99: Option<u64>,
}

/// One `evbench load --rate RATE` run against the server on `PORT`. A run that
/// `evbench load` calls failed (most requests failed) still reports its figures: above
/// capacity that is what is measured.
fn open_load(evbench: &Path, a: &BenchHttpArgs, rate: f64) -> Result<OpenRun> {
    let out = client(evbench, a)
        .args(["--rate", &format!("{rate:.0}")])
        .output()
        .context("cannot run evbench load")?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "evbench load --rate {rate:.0} printed no document: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    let n = |k: &str| {
        v[k].as_u64()
            .with_context(|| format!("no {k} in evbench load's document"))
    };
    Ok(OpenRun {
        offered: v["offered_rate"].as_f64().context("no offered_rate")?,
        achieved: v["req_per_sec"].as_f64().context("no req_per_sec")?,
        scheduled: n("scheduled")?,
        late: n("late")?,
        missed: n("missed")?,
        failed: n("failed")?,
        p99: v["latency_ns"]["p99"].as_u64(),
    })
}

/// One `wrk` run: (req/s, socket errors + non-2xx).
fn wrk(a: &BenchHttpArgs) -> Result<(f64, u64)> {
    let out = Command::new("taskset")
        .args(["-c", &a.client_cpu.to_string(), "wrk", "-t1"])
        .args(["-c", &a.connections.to_string()])
        .args(["-d", &format!("{}s", a.duration.ceil() as u64)])
        .arg(format!("http://127.0.0.1:{PORT}{PATH}"))
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rps = None;
    let mut errors = 0;
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Ok((
        rps.with_context(|| format!("wrk printed no Requests/sec:\n{text}"))?,
        errors,
    ))
}

struct Target {
    name: String,
    rps: Vec<f64>,
    p99: Vec<u64>,
    errors: u64,
}

pub fn run(root: &Path, a: &BenchHttpArgs) -> Result<()> {
    if !a.no_build {
        crate::build(root)?;
    }
    if let Some(f) = a.open_loop.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
        bail!("--open-loop {f}: each rate must be a positive fraction of the capacity");
    }
    let evbench = root.join(crate::BIN_PATH);
    ensure_tool("lighttpd", "lighttpd")?;
    ensure_tool("wrk", "wrk")?;
    ensure_tool("taskset", "util-linux")?;
    std::fs::create_dir_all(format!("{WORK}/www"))?;
    std::fs::write(format!("{WORK}/www/index.html"), body(a.body_size))?;
    let conf = root.join(CONF);
    let serve = |wait: &str, secs: f64| {
        let mut c = Command::new(&evbench);
        c.args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{PORT}"),
            "--wait",
            wait,
        ])
        .args(["--path", PATH, "--body-size", &a.body_size.to_string()])
        .args(["--server-cpu", &a.server_cpu.to_string()])
        .args(["--duration", &secs.to_string()]);
        c
    };
    // Which wait modes this evbench has (kevent ones arrive with their branch).
    let mut modes = Vec::new();
    let mut skipped = Vec::new();
    for w in &a.wait {
        // A 50 ms run: `serve --duration 0` is refused (a duration must be above zero).
        let ok = serve(w, 0.05)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            modes.push(w.clone());
        } else {
            skipped.push(w.clone());
        }
    }
    let run_secs = a.duration + a.warmup + 30.0;
    let mut targets: Vec<Target> = modes
        .iter()
        .map(|m| format!("evbench serve --wait {m}"))
        .chain(["lighttpd".to_string()])
        .map(|name| Target {
            name,
            rps: vec![],
            p99: vec![],
            errors: 0,
        })
        .collect();
    for round in 1..=a.rounds {
        for (i, t) in targets.iter_mut().enumerate() {
            let _server = if i < modes.len() {
                Server::start(&mut serve(&modes[i], run_secs))?
            } else {
                Server::start(
                    Command::new("taskset")
                        .args(["-c", &a.server_cpu.to_string(), "lighttpd", "-D", "-f"])
                        .arg(&conf),
                )?
            };
            let (rps, p99, errors) = load(&evbench, a)?;
            eprintln!(
                "xtask: round {round}/{}: {:<32} {rps:>10.0} req/s  p99 {:.2} ms  errors {errors}",
                a.rounds,
                t.name,
                p99 as f64 / 1e6
            );
            t.rps.push(rps);
            t.p99.push(p99);
            t.errors += errors;
        }
    }
    // Our client against wrk, on the same server, alternating.
    let mut wrk_rps = Vec::new();
    let mut ours_rps = Vec::new();
    let mut wrk_errors = 0;
    let mut ours_errors = 0;
    {
        let _server = Server::start(&mut serve(
            "epoll",
            (a.duration + a.warmup + 5.0) * 2.0 * a.rounds as f64 + 30.0,
        ))?;
        for round in 1..=a.rounds {
            let (w, we) = wrk(a)?;
            let (o, _, oe) = load(&evbench, a)?;
            eprintln!(
                "xtask: client round {round}/{}: wrk {w:.0} req/s, evbench load {o:.0} req/s",
                a.rounds
            );
            wrk_rps.push(w);
            ours_rps.push(o);
            wrk_errors += we;
            ours_errors += oe;
        }
    }
    // Open loop against the epoll server at fractions of its closed-loop capacity.
    let capacity = targets
        .iter()
        .find(|t| t.name.ends_with("--wait epoll"))
        .or(targets.first())
        .map_or(0.0, |t| median(&t.rps));
    let mut open: Vec<(f64, Vec<OpenRun>)> = a.open_loop.iter().map(|&f| (f, Vec::new())).collect();
    if capacity > 0.0 && !open.is_empty() {
        // Each run ends within warm-up + duration + max(1 s, the 5 s default timeout).
        let per_run = a.duration + a.warmup + 6.0;
        let _server = Server::start(&mut serve(
            "epoll",
            per_run * (open.len() as u32 * a.rounds) as f64 + 30.0,
        ))?;
        for round in 1..=a.rounds {
            for (fraction, runs) in open.iter_mut() {
                let r = open_load(&evbench, a, *fraction * capacity)?;
                eprintln!(
                    "xtask: open loop round {round}/{}: {:.2}x capacity, offered {:.0} req/s, achieved {:.0} req/s, {} late, {} missed, {} failed",
                    a.rounds, fraction, r.offered, r.achieved, r.late, r.missed, r.failed
                );
                runs.push(r);
            }
        }
    }
    let lighttpd_rps = targets.last().map(|t| t.rps.clone()).unwrap_or_default();
    let (lighttpd, lighttpd_median) = (best(&lighttpd_rps), median(&lighttpd_rps));
    let epoll = targets
        .iter()
        .find(|t| t.name.ends_with("--wait epoll"))
        .map(|t| best(&t.rps))
        .unwrap_or(0.0);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let kernel = Command::new("uname")
        .arg("-r")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let lighttpd_v = lighttpd_version();
    let open_arg = a
        .open_loop
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut md = String::new();
    writeln!(
        md,
        "# HTTP: wait modes vs lighttpd, and evbench load vs wrk\n"
    )?;
    writeln!(
        md,
        "`cargo xtask bench http --rounds {} --duration {} --connections {} --body-size {} --open-loop {open_arg}`: \
         GET {PATH} ({} B body), keep-alive, closed loop, {} connections, {} s measured after {} s warm-up, \
         server pinned to CPU {}, client (`evbench load`, 1 thread) to CPU {}; kernel {kernel}, {lighttpd_v} \
         (config: `results/lighttpd-bench.conf`). Rounds alternate the targets. \
         The machine (2 CPUs) is shared with other jobs, which can only lower a round's req/s: \
         ratios compare each target's best round; medians are shown alongside.\n",
        a.rounds, a.duration, a.connections, a.body_size, a.body_size, a.connections, a.duration, a.warmup,
        a.server_cpu, a.client_cpu
    )?;
    writeln!(md, "| server | best req/s | vs lighttpd | vs epoll | median req/s | median vs lighttpd | p99 (median) | errors | rounds (req/s) |")?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|")?;
    let mut json_targets = Vec::new();
    for t in &targets {
        let m = median(&t.rps);
        let b = best(&t.rps);
        let p99 = median(&t.p99.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let rounds: Vec<String> = t.rps.iter().map(|r| format!("{r:.0}")).collect();
        writeln!(
            md,
            "| {} | {b:.0} | {:.2}x | {:.2}x | {m:.0} | {:.2}x | {:.2} ms | {} | {} |",
            t.name,
            ratio(b, lighttpd),
            ratio(b, epoll),
            ratio(m, lighttpd_median),
            p99 / 1e6,
            t.errors,
            rounds.join(", ")
        )?;
        json_targets.push(serde_json::json!({
            "server": t.name, "req_per_sec": t.rps, "median_req_per_sec": m,
            "best_req_per_sec": b,
            "ratio_vs_lighttpd": ratio(b, lighttpd),
            "ratio_vs_epoll": ratio(b, epoll),
            "median_ratio_vs_lighttpd": ratio(m, lighttpd_median),
            "p99_ns": t.p99, "errors": t.errors,
        }));
    }
    if !skipped.is_empty() {
        writeln!(
            md,
            "\nNot in this build of evbench (skipped): {}.",
            skipped.join(", ")
        )?;
    }
    let (w, o) = (best(&wrk_rps), best(&ours_rps));
    let (wm, om) = (median(&wrk_rps), median(&ours_rps));
    writeln!(
        md,
        "\n## Client: `evbench load` vs `wrk -t1` against `evbench serve --wait epoll`\n"
    )?;
    writeln!(
        md,
        "| client | best req/s | median req/s | errors | rounds (req/s) |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---|")?;
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        md,
        "| wrk -t1 -c {} | {w:.0} | {wm:.0} | {wrk_errors} | {} |",
        a.connections,
        fmt(&wrk_rps)
    )?;
    writeln!(
        md,
        "| evbench load -c {} | {o:.0} | {om:.0} | {ours_errors} | {} |",
        a.connections,
        fmt(&ours_rps)
    )?;
    writeln!(
        md,
        "\nevbench load / wrk = {:.3} (best rounds), {:.3} (medians).",
        ratio(o, w),
        ratio(om, wm)
    )?;
    let mut open_json = Vec::new();
    if open.iter().any(|(_, runs)| !runs.is_empty()) {
        writeln!(
            md,
            "\n## Open loop: `evbench load --rate` against `evbench serve --wait epoll`\n"
        )?;
        writeln!(
            md,
            "Fixed rates below and above the server's capacity, {capacity:.0} req/s (the median of the epoll \
             server's closed-loop rounds above); same connections, duration and warm-up, latency from each \
             request's scheduled send (coordinated omission corrected). achieved: requests answered per \
             second of measured time; late: scheduled in the window, answered after it; missed: scheduled, \
             never sent; failed: ended in an error (counts summed over the rounds). Noisy shared machine.\n"
        )?;
        writeln!(
            md,
            "| rate (× capacity) | offered req/s | achieved req/s (median) | achieved / offered | scheduled | late | missed | failed | p99 from schedule (median) | rounds (achieved req/s) |"
        )?;
        writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")?;
        for (fraction, runs) in &open {
            if runs.is_empty() {
                continue;
            }
            let achieved: Vec<f64> = runs.iter().map(|r| r.achieved).collect();
            let offered = runs[0].offered;
            let sum = |f: fn(&OpenRun) -> u64| runs.iter().map(f).sum::<u64>();
            let p99s: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.p99)
                .map(|v| v as f64)
                .collect();
            let p99 = if p99s.is_empty() {
                "no success".to_string()
            } else {
                format!("{:.2} ms", median(&p99s) / 1e6)
            };
            writeln!(
                md,
                "| {fraction:.2}x | {offered:.0} | {:.0} | {:.3} | {} | {} | {} | {} | {p99} | {} |",
                median(&achieved),
                ratio(median(&achieved), offered),
                sum(|r| r.scheduled),
                sum(|r| r.late),
                sum(|r| r.missed),
                sum(|r| r.failed),
                fmt(&achieved)
            )?;
            open_json.push(serde_json::json!({
                "fraction_of_capacity": fraction, "offered_req_per_sec": offered,
                "achieved_req_per_sec": achieved,
                "scheduled": runs.iter().map(|r| r.scheduled).collect::<Vec<_>>(),
                "late": runs.iter().map(|r| r.late).collect::<Vec<_>>(),
                "missed": runs.iter().map(|r| r.missed).collect::<Vec<_>>(),
                "failed": runs.iter().map(|r| r.failed).collect::<Vec<_>>(),
                "p99_ns": runs.iter().map(|r| r.p99).collect::<Vec<_>>(),
            }));
        }
    }
    let doc = serde_json::json!({
        "command": format!("cargo xtask bench http --rounds {} --duration {} --connections {} --body-size {} --open-loop {}", a.rounds, a.duration, a.connections, a.body_size, open_arg),
        "kernel": kernel, "lighttpd": lighttpd_v,
        "targets": json_targets, "skipped": skipped,
        "client": { "wrk_req_per_sec": wrk_rps, "evbench_load_req_per_sec": ours_rps,
                    "ratio_evbench_over_wrk": ratio(o, w),
                    "median_ratio_evbench_over_wrk": ratio(om, wm),
                    "wrk_errors": wrk_errors, "evbench_errors": ours_errors },
        "open_loop": { "capacity_req_per_sec": capacity, "rates": open_json },
    });
    std::fs::create_dir_all(root.join("results"))?;
    std::fs::write(root.join("results/http-bench.md"), &md)?;
    std::fs::write(
        root.join("results/http-bench.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    print!("{md}");
    eprintln!("xtask: wrote results/http-bench.md and results/http-bench.json");
    Ok(())
}
