//! `cargo xtask bench overhead`: what the probes cost the workload they measure.
//!
//! Runs the pipe ping-pong (threads) with both tasks on one CPU — the fastest round
//! trip, so the worst case for overhead — and split across two CPUs, each with probes
//! `none`, `default` and `all`, and under `bpftrace` taking the same wakeup and syscall
//! histograms with classic tracepoints; alternating, side by side in one invocation.
//! Writes slowdown ratios, each program's cost per run and both tools' event counts to
//! results/. Only plumbing lives here; the figures are evbench's and bpftrace's own.
use std::{
    fmt::Write as _,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::figures::median;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct OverheadBench {
    /// Round trips per run.
    #[arg(long, default_value_t = 100_000)]
    pub rounds: u64,
    /// Alternations: each one runs every variant once per placement.
    #[arg(long, default_value_t = 5)]
    pub alternations: u32,
    /// Directory the figures go to.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// The same histograms as evbench's default `wakeup` and `syscalls` sets, for the
/// ping-pong's two threads (named ping-0 and pong-1), with classic tracepoints as bpftrace
/// users write them. Event counters show how many events each probe saw.
const BPFTRACE_SCRIPT: &str = r#"
tracepoint:sched:sched_waking /args->comm == "ping-0" || args->comm == "pong-1"/ {
  @waking_events = count();
  @woken_at[args->pid] = nsecs;
}
tracepoint:sched:sched_switch /args->next_comm == "ping-0" || args->next_comm == "pong-1"/ {
  @switch_in_events = count();
  $t = @woken_at[args->next_pid];
  if ($t != 0) {
    @wakeup_ns = hist(nsecs - $t);
    delete(@woken_at[args->next_pid]);
  }
}
tracepoint:raw_syscalls:sys_enter /comm == "ping-0" || comm == "pong-1"/ {
  @sys_enter_events = count();
  @entered[tid] = nsecs;
}
tracepoint:raw_syscalls:sys_exit /@entered[tid] != 0/ {
  @syscall_ns[args->id] = hist(nsecs - @entered[tid]);
  delete(@entered[tid]);
}
END { clear(@woken_at); clear(@entered); }
"#;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    None,
    Default,
    All,
    Bpftrace,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::None,
        Variant::Default,
        Variant::All,
        Variant::Bpftrace,
    ];
    fn name(self) -> &'static str {
        match self {
            Variant::None => "probes none",
            Variant::Default => "probes default",
            Variant::All => "probes all",
            Variant::Bpftrace => "bpftrace",
        }
    }
}

fn ensure_bpftrace() -> Result<()> {
    if Command::new("bpftrace")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    eprintln!("bench: installing bpftrace (Debian package)");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-qq", "bpftrace"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        bail!("bpftrace is missing and could not be installed: run `apt-get install -y bpftrace` as root");
    }
    Ok(())
}

fn evbench_json(bin: &Path, probes: &str, pin: &str, rounds: u64) -> Result<Value> {
    let out = Command::new(bin)
        .args([
            "run",
            "pingpong",
            "--mechanism",
            "pipe",
            "--pin",
            pin,
            "--json",
        ])
        .args(["--rounds", &rounds.to_string(), "--probes", probes])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start evbench")?;
    if !out.status.success() {
        bail!(
            "evbench run pingpong --probes {probes} --pin {pin} failed ({})",
            out.status
        );
    }
    serde_json::from_slice(&out.stdout).context("evbench printed no JSON document")
}

/// The one repeat of the one case of an `evbench run pingpong` results document.
fn repeat(doc: &Value) -> &Value {
    &doc["cases"][0]["repeats"][0]
}

/// The probe figures of a single-repeat document (null when the probes were off).
fn kernel(doc: &Value) -> &Value {
    &repeat(doc)["details"]["kernel"]
}

/// Starts bpftrace with the script and waits until its probes are attached.
fn start_bpftrace() -> Result<Child> {
    let mut child = Command::new("bpftrace")
        .arg("-e")
        .arg(BPFTRACE_SCRIPT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start bpftrace")?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout);
    let t = Instant::now();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            let mut err = String::new();
            child
                .stderr
                .take()
                .expect("piped")
                .read_to_string(&mut err)?;
            bail!("bpftrace exited before attaching: {}", err.trim());
        }
        if line.starts_with("Attaching") {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            bail!("bpftrace did not attach within 60 s");
        }
    }
    // Keep the rest of stdout for the maps printed at exit.
    child.stdout = Some(lines.into_inner());
    Ok(child)
}

/// Ends bpftrace (SIGINT prints its maps) and reads the counts it gathered.
fn stop_bpftrace(mut child: Child) -> Result<Value> {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)?;
    child.wait()?;
    let scalar = |name: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("@{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    // Histogram totals: the counts on every "[lo, hi) N |@@@|" line of a map.
    let hist_total = |prefix: &str| -> u64 {
        let mut total = 0;
        let mut inside = false;
        for l in out.lines() {
            if l.starts_with('@') {
                inside = l.starts_with(prefix);
                continue;
            }
            if inside && l.starts_with('[') {
                if let Some(n) = l.split(')').nth(1).or_else(|| l.split(']').nth(1)) {
                    total += n
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
        total
    };
    let lost: u64 = out
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Lost ")
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum();
    Ok(json!({
        "waking_events": scalar("waking_events"),
        "switch_in_events": scalar("switch_in_events"),
        "sys_enter_events": scalar("sys_enter_events"),
        "wakeup_latencies": hist_total("@wakeup_ns"),
        "syscall_latencies": hist_total("@syscall_ns"),
        "lost_reported": lost,
    }))
}

pub fn run(root: &Path, bin: &Path, args: &OverheadBench) -> Result<()> {
    ensure_bpftrace()?;
    let placements = ["same", "split"];
    let mut cases = Vec::new();
    let mut md = String::new();
    writeln!(md, "# Probe overhead: pipe ping-pong, threads\n")?;
    writeln!(
        md,
        "`cargo xtask bench overhead --rounds {} --alternations {}`; every variant run once per alternation, \
         alternating, in one invocation. Slowdown = ops/s without probes ÷ ops/s with them (medians).\n",
        args.rounds, args.alternations
    )?;
    for pin in placements {
        let mut ops: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
        let mut default_doc = Value::Null;
        let mut all_doc = Value::Null;
        let mut bt_counts = Value::Null;
        for round in 0..args.alternations {
            // Rotate the order so no variant always runs first (warm caches, CPU boost).
            for k in 0..Variant::ALL.len() {
                let v = Variant::ALL[(k + round as usize) % Variant::ALL.len()];
                eprintln!(
                    "bench overhead: pin {pin}, alternation {}/{}: {}",
                    round + 1,
                    args.alternations,
                    v.name()
                );
                let (doc, bt) = match v {
                    Variant::None => (evbench_json(bin, "none", pin, args.rounds)?, None),
                    Variant::Default => (evbench_json(bin, "default", pin, args.rounds)?, None),
                    Variant::All => (evbench_json(bin, "all", pin, args.rounds)?, None),
                    Variant::Bpftrace => {
                        let child = start_bpftrace()?;
                        let doc = evbench_json(bin, "none", pin, args.rounds);
                        let counts = stop_bpftrace(child)?;
                        // A comparison against a tool that measured nothing is no comparison.
                        if counts["sys_enter_events"].as_u64() == Some(0) {
                            bail!("bpftrace saw no syscall of the ping-pong threads: its thread-name filter no longer matches them");
                        }
                        (doc?, Some(counts))
                    }
                };
                ops[Variant::ALL.iter().position(|&x| x == v).expect("listed")].push(
                    repeat(&doc)["metrics"]["ops_per_sec"]
                        .as_f64()
                        .context("no ops_per_sec")?,
                );
                match v {
                    Variant::Default => default_doc = doc,
                    Variant::All => all_doc = doc,
                    _ => {}
                }
                if let Some(c) = bt {
                    bt_counts = c;
                }
            }
        }
        let med: Vec<f64> = ops.iter().map(|v| median(v)).collect();
        let slow = |i: usize| med[0] / med[i];
        let k = kernel(&default_doc);
        let ka = kernel(&all_doc);
        let rounds = repeat(&default_doc)["counters"]["rounds"]
            .as_f64()
            .unwrap_or(args.rounds as f64);
        writeln!(md, "## pin {pin}\n")?;
        writeln!(
            md,
            "| variant | ops/s (median) | slowdown vs none | all runs |"
        )?;
        writeln!(md, "|---|---:|---:|---|")?;
        for (i, v) in Variant::ALL.iter().enumerate() {
            let runs: Vec<String> = ops[i].iter().map(|x| format!("{x:.0}")).collect();
            writeln!(
                md,
                "| {} | {:.0} | {:.3}x | {} |",
                v.name(),
                med[i],
                slow(i),
                runs.join(", ")
            )?;
        }
        let (sd, sb) = (slow(1) - 1.0, slow(3) - 1.0);
        writeln!(
            md,
            "\nAdded cost: evbench default {:.1}% vs bpftrace {:.1}% (same histograms): evbench's is {:.2} of bpftrace's (target ≤ 0.5).\n",
            sd * 100.0,
            sb * 100.0,
            if sb > 0.0 { sd / sb } else { f64::NAN }
        )?;
        writeln!(md, "Per program, last `probes default` run (ns per run on target threads is the target, ≤ 50):\n")?;
        writeln!(md, "| program | runs | target runs | ns/run | ns/target run | CPU | recursion misses | drops |")?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
        for p in k["programs"].as_array().into_iter().flatten() {
            writeln!(
                md,
                "| {} | {} | {} | {:.0} | {:.0} | {:.2}% | {} | {} |",
                p["program"].as_str().unwrap_or("?"),
                p["runs"],
                p["target_runs"],
                p["ns_per_run"].as_f64().unwrap_or(f64::NAN),
                p["ns_per_target_run"].as_f64().unwrap_or(f64::NAN),
                p["cpu_share"].as_f64().unwrap_or(0.0) * 100.0,
                p["recursion_misses"],
                p["drops"]
            )?;
        }
        let walks = &ka["stack_walks"];
        writeln!(
            md,
            "\n`probes all` adds wakeup stack walks: {} walks at {:.0} ns each.\n",
            walks["walks"],
            walks["ns_per_walk"].as_f64().unwrap_or(f64::NAN)
        )?;
        let wakeups: u64 = k["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["wakeups"].as_u64().unwrap_or(0))
            .sum();
        let syscalls: u64 = k["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["syscalls"].as_u64().unwrap_or(0))
            .sum();
        writeln!(
            md,
            "Event counts over one run of {rounds:.0} round trips:\n"
        )?;
        writeln!(md, "| | evbench (default) | bpftrace |")?;
        writeln!(md, "|---|---:|---:|")?;
        writeln!(
            md,
            "| wakeups of ping/pong | {wakeups} | {} (sched_waking events) |",
            bt_counts["waking_events"]
        )?;
        writeln!(
            md,
            "| wakeup latencies | {} | {} |",
            hist_count(k, "wakeup_same_cpu_ns") + hist_count(k, "wakeup_cross_cpu_ns"),
            bt_counts["wakeup_latencies"]
        )?;
        writeln!(
            md,
            "| syscalls | {syscalls} | {} (latencies), {} sys_enter events |",
            bt_counts["syscall_latencies"], bt_counts["sys_enter_events"]
        )?;
        writeln!(
            md,
            "| losses reported | {} recursion misses, {} drops | {} lost |\n",
            sum(k, "recursion_misses"),
            sum(k, "drops"),
            bt_counts["lost_reported"]
        )?;
        cases.push(json!({
            "pin": pin,
            "variants": Variant::ALL.iter().map(|v| v.name()).collect::<Vec<_>>(),
            "ops_per_sec": ops,
            "ops_per_sec_median": med,
            "slowdown_vs_none": (0..Variant::ALL.len()).map(slow).collect::<Vec<_>>(),
            "programs_default": k["programs"],
            "stack_walks_all": walks,
            "events": { "evbench_default": { "wakeups": wakeups, "syscalls": syscalls }, "bpftrace": bt_counts },
        }));
    }
    let doc = json!({
        "schema": "evbench.bench-overhead/1",
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "rounds": args.rounds,
        "alternations": args.alternations,
        "bpftrace_script": BPFTRACE_SCRIPT,
        "cases": cases,
    });
    let dir = root.join(&args.out);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("bench-overhead.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    std::fs::write(dir.join("bench-overhead.md"), &md)?;
    print!("{md}");
    eprintln!("bench: wrote {}/bench-overhead.{{md,json}}", dir.display());
    Ok(())
}

fn hist_count(k: &Value, name: &str) -> u64 {
    k[name]["count"].as_u64().unwrap_or(0)
}

fn sum(k: &Value, field: &str) -> u64 {
    k["programs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p[field].as_u64().unwrap_or(0))
        .sum()
}
