//! `cargo xtask bench overhead`: what the probes cost the workload they measure, against
//! this machine's floor.
//!
//! Runs `evbench run pingpong --pin same` (the fastest round trip, so the worst case for
//! overhead) and `evbench run pipetest` (default options) with probes `none`, `nop`
//! (empty programs on the default sets' tracepoints: what any probe there costs) and
//! `default` — at the default `--syscall-sample` and at 1 (every syscall timed) —
//! alternating in one invocation, with BPF run-time statistics off. Writes medians,
//! slowdowns and the default set's slowdown over the nop set's (target: ≤ 1.10) to
//! results/bench-overhead.{md,json}. Only plumbing lives here; the figures are evbench's.
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::figures::median;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct OverheadBench {
    /// Round trips per ping-pong run.
    #[arg(long, default_value_t = 100_000)]
    pub rounds: u64,
    /// Alternations: each one runs every variant once per workload, in rotated order.
    #[arg(long, default_value_t = 9)]
    pub alternations: u32,
    /// The `--syscall-sample` the default variant uses (evbench's default if unset).
    #[arg(long)]
    pub syscall_sample: Option<u32>,
    /// Directory the figures go to.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// The hidden hook evbench reads `--syscall-sample`'s value from until the flag exists
/// (bench-cli/src/probes/mod.rs, `SYSCALL_SAMPLE_ENV`).
const SAMPLE_ENV: &str = "EVBENCH_SYSCALL_SAMPLE";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    None,
    Nop,
    Default,
    DefaultEvery,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::None,
        Variant::Nop,
        Variant::Default,
        Variant::DefaultEvery,
    ];
    fn name(self) -> &'static str {
        match self {
            Variant::None => "probes none",
            Variant::Nop => "probes nop",
            Variant::Default => "probes default",
            Variant::DefaultEvery => "probes default, --syscall-sample 1",
        }
    }
    fn probes(self) -> &'static str {
        match self {
            Variant::None => "none",
            Variant::Nop => "nop",
            Variant::Default | Variant::DefaultEvery => "default",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Workload {
    PingpongSame,
    Pipetest,
}

impl Workload {
    const ALL: [Workload; 2] = [Workload::PingpongSame, Workload::Pipetest];
    fn name(self) -> &'static str {
        match self {
            Workload::PingpongSame => "pingpong --pin same",
            Workload::Pipetest => "pipetest",
        }
    }
    /// The headline and whether higher is better.
    fn metric(self) -> (&'static str, bool) {
        match self {
            Workload::PingpongSame => ("ops_per_sec", true),
            Workload::Pipetest => ("us_per_event", false),
        }
    }
}

fn evbench_json(
    bin: &Path,
    w: Workload,
    v: Variant,
    rounds: u64,
    sample: Option<u32>,
) -> Result<Value> {
    let mut cmd = Command::new(bin);
    match w {
        Workload::PingpongSame => cmd.args([
            "run",
            "pingpong",
            "--pin",
            "same",
            "--rounds",
            &rounds.to_string(),
        ]),
        Workload::Pipetest => cmd.args(["run", "pipetest"]),
    };
    cmd.args(["--json", "--probes", v.probes()]);
    match (v, sample) {
        (Variant::DefaultEvery, _) => {
            cmd.env(SAMPLE_ENV, "1");
        }
        (_, Some(n)) => {
            cmd.env(SAMPLE_ENV, n.to_string());
        }
        _ => {
            cmd.env_remove(SAMPLE_ENV);
        }
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start evbench")?;
    if !out.status.success() {
        bail!(
            "evbench {} --probes {} failed ({})",
            w.name(),
            v.probes(),
            out.status
        );
    }
    serde_json::from_slice(&out.stdout).context("evbench printed no JSON document")
}

/// The one repeat of the one case of an `evbench run` results document.
fn repeat(doc: &Value) -> &Value {
    &doc["cases"][0]["repeats"][0]
}

type ProgramRows = Vec<(String, f64, u64)>;

/// One run with BPF run-time statistics on (sysctl, back off at once): the share of the
/// window our programs ran, and each program's ns per run.
fn stats_run(
    bin: &Path,
    w: Workload,
    v: Variant,
    rounds: u64,
    sample: Option<u32>,
) -> Result<(f64, ProgramRows)> {
    let set = |on: bool| {
        std::fs::write(
            "/proc/sys/kernel/bpf_stats_enabled",
            if on { "1" } else { "0" },
        )
        .context("cannot switch kernel.bpf_stats_enabled")
    };
    set(true)?;
    let doc = evbench_json(bin, w, v, rounds, sample);
    set(false)?;
    let doc = doc?;
    let k = &repeat(&doc)["details"]["kernel"];
    let window = k["window_ns"].as_f64().unwrap_or(0.0);
    let mut total = 0.0;
    let mut rows = Vec::new();
    for p in k["programs"].as_array().into_iter().flatten() {
        let runs = p["runs"].as_u64().unwrap_or(0);
        let ns = p["ns_per_run"].as_f64().unwrap_or(0.0);
        total += runs as f64 * ns;
        rows.push((p["program"].as_str().unwrap_or("?").to_string(), ns, runs));
    }
    if window <= 0.0 {
        bail!("no measured window in the calibration run of {}", w.name());
    }
    Ok((total / window, rows))
}

/// (nop share, default share, default rows, nop rows).
fn calibrate(
    bin: &Path,
    w: Workload,
    rounds: u64,
    sample: Option<u32>,
) -> Result<(f64, f64, ProgramRows, ProgramRows)> {
    let (nop, nop_rows) = stats_run(bin, w, Variant::Nop, rounds, sample)?;
    let (def, def_rows) = stats_run(bin, w, Variant::Default, rounds, sample)?;
    Ok((nop, def, def_rows, nop_rows))
}

fn bpf_stats_on() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .map(|s| s.trim() != "0")
        .unwrap_or(false)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(root: &Path, bin: &Path, args: &OverheadBench) -> Result<()> {
    if bpf_stats_on() {
        bail!("BPF run-time statistics are on system-wide (kernel.bpf_stats_enabled=1): they add about 120 ns to every BPF program's run; turn them off (sysctl kernel.bpf_stats_enabled=0) before measuring");
    }
    let load_before = load_average();
    let mut md = String::new();
    let mut cases = Vec::new();
    let sample_note = match args.syscall_sample {
        Some(n) => format!("--syscall-sample {n}"),
        None => "evbench's default --syscall-sample".to_string(),
    };
    writeln!(md, "# Probe overhead against the machine's floor\n")?;
    writeln!(
        md,
        "`cargo xtask bench overhead --rounds {} --alternations {}`: every variant runs once per \
         workload per alternation, in rotated order, in one invocation, BPF run-time statistics \
         off. Slowdown = the variant's headline ÷ `probes none`'s (time per operation; for \
         round trips/s, none ÷ variant), from medians. `probes default` uses {sample_note}. \
         Target: default's slowdown ≤ 1.10 × nop's.\n",
        args.rounds, args.alternations
    )?;
    let mut figures: Vec<Vec<Vec<f64>>> =
        vec![vec![Vec::new(); Variant::ALL.len()]; Workload::ALL.len()];
    let mut last_default: Vec<Value> = vec![Value::Null; Workload::ALL.len()];
    for round in 0..args.alternations {
        for (wi, &w) in Workload::ALL.iter().enumerate() {
            // The variants of one workload run back to back (so each alternation's ratios
            // compare runs close in time), in an order rotated every alternation.
            for k in 0..Variant::ALL.len() {
                let vi = (k + round as usize) % Variant::ALL.len();
                let v = Variant::ALL[vi];
                eprintln!(
                    "bench overhead: alternation {}/{}: {} with {}",
                    round + 1,
                    args.alternations,
                    w.name(),
                    v.name()
                );
                let doc = evbench_json(bin, w, v, args.rounds, args.syscall_sample)?;
                let (metric, _) = w.metric();
                let x = repeat(&doc)["metrics"][metric]
                    .as_f64()
                    .with_context(|| format!("no {metric} in {}'s document", w.name()))?;
                figures[wi][vi].push(x);
                if v == Variant::Default {
                    last_default[wi] = doc;
                }
            }
        }
    }
    let load_after = load_average();
    for (wi, &w) in Workload::ALL.iter().enumerate() {
        let (metric, higher) = w.metric();
        let med: Vec<f64> = figures[wi].iter().map(|v| median(v)).collect();
        let slow = |i: usize| {
            if higher {
                med[0] / med[i]
            } else {
                med[i] / med[0]
            }
        };
        let ratio = |i: usize| slow(i) / slow(1);
        writeln!(md, "## {}\n", w.name())?;
        writeln!(
            md,
            "| variant | {metric} (median) | slowdown vs none | ÷ nop's slowdown | all runs |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---|")?;
        for (i, v) in Variant::ALL.iter().enumerate() {
            let runs: Vec<String> = figures[wi][i].iter().map(|x| format!("{x:.3}")).collect();
            writeln!(
                md,
                "| {} | {:.3} | {:.3}x | {} | {} |",
                v.name(),
                med[i],
                slow(i),
                if i >= 2 {
                    format!("{:.3}", ratio(i))
                } else {
                    "".into()
                },
                runs.join(", ")
            )?;
        }
        let verdict = if ratio(2) <= 1.10 { "met" } else { "MISSED" };
        // Paired: each alternation's variant ÷ its own nop run, then the median.
        let paired = |i: usize| {
            let r: Vec<f64> = figures[wi][i]
                .iter()
                .zip(&figures[wi][1])
                .map(|(&x, &n)| if higher { n / x } else { x / n })
                .collect();
            median(&r)
        };
        // Best runs: other load only ever slows a run, so the best estimates a variant's own cost.
        let best = |i: usize| {
            let b = |v: &[f64]| {
                if higher {
                    v.iter().copied().fold(0.0, f64::max)
                } else {
                    v.iter().copied().fold(f64::INFINITY, f64::min)
                }
            };
            if higher {
                b(&figures[wi][1]) / b(&figures[wi][i])
            } else {
                b(&figures[wi][i]) / b(&figures[wi][1])
            }
        };
        writeln!(
            md,
            "\nDefault set ÷ nop floor: {:.3}x from the medians (target ≤ 1.10: {verdict}), {:.3}x as the median of per-alternation ratios, {:.3}x from each variant's best run; with every syscall timed: {:.3}x / {:.3}x / {:.3}x.\n",
            ratio(2),
            paired(2),
            best(2),
            ratio(3),
            paired(3),
            best(3)
        )?;
        let cal = calibrate(bin, w, args.rounds, args.syscall_sample)?;
        writeln!(
            md,
            "Calibration (a separate pass with BPF run-time statistics on, one run each): our programs ran {:.1}% of the window with `nop` and {:.1}% with `default`; a single-threaded model, (1 − nop share) ÷ (1 − default share), puts default at {:.3}x of the nop floor (statistics add about 120 ns per run that run_time_ns does not include, on both).\n",
            cal.0 * 100.0,
            cal.1 * 100.0,
            (1.0 - cal.0) / (1.0 - cal.1)
        )?;
        writeln!(md, "| program (default) | ns/run | runs in window |")?;
        writeln!(md, "|---|---:|---:|")?;
        for (name, ns, runs) in &cal.2 {
            writeln!(md, "| {name} | {ns:.0} | {runs} |")?;
        }
        writeln!(md, "\n| program (nop) | ns/run | runs in window |")?;
        writeln!(md, "|---|---:|---:|")?;
        for (name, ns, runs) in &cal.3 {
            writeln!(md, "| {name} | {ns:.0} | {runs} |")?;
        }
        writeln!(md)?;
        let paired_json = json!({
            "default_over_nop": paired(2),
            "default_sample_1_over_nop": paired(3),
        });
        let best_json = json!({
            "default_over_nop": best(2),
            "default_sample_1_over_nop": best(3),
        });
        let cal_json = json!({
            "nop_share_of_window": cal.0,
            "default_share_of_window": cal.1,
            "model_default_over_nop": (1.0 - cal.0) / (1.0 - cal.1),
            "default_programs": cal.2.iter().map(|(n, ns, r)| json!({"program": n, "ns_per_run": ns, "runs": r})).collect::<Vec<_>>(),
            "nop_programs": cal.3.iter().map(|(n, ns, r)| json!({"program": n, "ns_per_run": ns, "runs": r})).collect::<Vec<_>>(),
        });
        let k = &repeat(&last_default[wi])["details"]["kernel"];
        cases.push(json!({
            "workload": w.name(),
            "metric": metric,
            "higher_is_better": higher,
            "variants": Variant::ALL.iter().map(|v| v.name()).collect::<Vec<_>>(),
            "runs": figures[wi],
            "median": med,
            "slowdown_vs_none": (0..Variant::ALL.len()).map(slow).collect::<Vec<_>>(),
            "default_over_nop": ratio(2),
            "default_sample_1_over_nop": ratio(3),
            "target_met": ratio(2) <= 1.10,
            "paired_median": paired_json,
            "best_runs": best_json,
            "calibration": cal_json,
            "last_default_kernel": {
                "syscall_sample": k["syscall_sample"],
                "rare_events": k["rare_events"],
                "wakeups_pending": k["wakeups_pending"],
                "programs": k["programs"],
            },
        }));
    }
    writeln!(
        md,
        "Machine: shared with other builds while this ran (load average {load_before} before, {load_after} after): \
         the figures are medians of alternations for that reason, and a noisy machine widens them.\n"
    )?;
    let doc = json!({
        "schema": "evbench.bench-overhead/2",
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "rounds": args.rounds,
        "alternations": args.alternations,
        "syscall_sample": args.syscall_sample,
        "bpf_stats_enabled": false,
        "load_average_before": load_before,
        "load_average_after": load_after,
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
