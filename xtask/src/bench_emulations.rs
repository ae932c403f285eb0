//! `cargo xtask bench kevent` and `cargo xtask bench efd-mask`: what the userspace
//! emulations (kevent, EFD_MASK) cost next to the kernel mechanisms they stand in for.
//!
//! Both run the built `evbench` side by side in one invocation, alternating the variants
//! so machine noise hits them alike, and write medians, every run, and the ratios to
//! results/. Only plumbing lives here: the workloads are evbench's own.
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use crate::figures::{max, median};
use anyhow::{bail, Context, Result};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct EmulationBench {
    /// Alternations: each one runs every variant once.
    #[arg(long, default_value_t = 7)]
    pub alternations: u32,
    /// Directory the figures go to.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// One variant: a label and the `evbench` arguments after `run`.
struct Variant {
    label: String,
    args: Vec<String>,
}

fn variant(label: &str, args: &[&str]) -> Variant {
    Variant {
        label: label.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// What a run reports: µs per event (pipetest's AVG line) or round trips/s (pingpong).
#[derive(Clone, Copy)]
enum Figure {
    UsPerEvent,
    OpsPerSec,
}

impl Figure {
    fn parse(self, out: &str) -> Option<f64> {
        match self {
            // The original pipetest-4 line, which scripts written for it read too.
            Figure::UsPerEvent => out.lines().find_map(|l| {
                l.strip_prefix("AVG: ")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            }),
            Figure::OpsPerSec => out.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("throughput")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            }),
        }
    }
    /// The best of several runs: other load on a shared machine only ever makes a run
    /// worse, so the best estimates the variant's own cost.
    fn best(self, runs: &[f64]) -> f64 {
        match self {
            Figure::UsPerEvent => runs.iter().copied().fold(f64::INFINITY, f64::min),
            Figure::OpsPerSec => max(runs),
        }
    }
    fn unit(self) -> &'static str {
        match self {
            Figure::UsPerEvent => "µs/event (lower is better)",
            Figure::OpsPerSec => "round trips/s (higher is better)",
        }
    }
}

fn run_once(bin: &Path, v: &Variant, figure: Figure) -> Result<f64> {
    let out = Command::new(bin)
        .arg("run")
        .args(&v.args)
        .output()
        .context("cannot start evbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "evbench run {} failed: {}",
            v.args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    figure.parse(&text).with_context(|| {
        format!(
            "no figure in the output of evbench run {}",
            v.args.join(" ")
        )
    })
}

/// Runs a group of variants alternating; returns every run's figure per variant.
fn alternate(
    bin: &Path,
    name: &str,
    variants: &[Variant],
    figure: Figure,
    alternations: u32,
) -> Result<Vec<Vec<f64>>> {
    let mut runs = vec![Vec::new(); variants.len()];
    for a in 0..alternations {
        // Rotate the order so no variant always runs first.
        for k in 0..variants.len() {
            let i = (k + a as usize) % variants.len();
            eprintln!(
                "bench {name}: alternation {}/{alternations}: {}",
                a + 1,
                variants[i].label
            );
            runs[i].push(run_once(bin, &variants[i], figure)?);
        }
    }
    Ok(runs)
}

/// One table: each variant's median and its ratio to the first (the reference).
fn table(
    md: &mut String,
    title: &str,
    variants: &[Variant],
    runs: &[Vec<f64>],
    figure: Figure,
) -> Result<serde_json::Value> {
    let meds: Vec<f64> = runs.iter().map(|r| median(r)).collect();
    let bests: Vec<f64> = runs.iter().map(|r| figure.best(r)).collect();
    writeln!(
        md,
        "### {title}\n\nFigure: {}. Ratios: to `{}`, of medians and of best runs.\n",
        figure.unit(),
        variants[0].label
    )?;
    writeln!(
        md,
        "| variant | median | ratio | best | ratio | runs | command |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---|---|")?;
    for (i, v) in variants.iter().enumerate() {
        let all: Vec<String> = runs[i].iter().map(|x| format!("{x:.3}")).collect();
        writeln!(
            md,
            "| {} | {:.3} | {:.3}x | {:.3} | {:.3}x | {} | `evbench run {}` |",
            v.label,
            meds[i],
            meds[i] / meds[0],
            bests[i],
            bests[i] / bests[0],
            all.join(", "),
            v.args.join(" ")
        )?;
    }
    writeln!(md)?;
    Ok(json!({
        "title": title,
        "unit": figure.unit(),
        "variants": variants.iter().map(|v| json!({"label": v.label, "args": v.args})).collect::<Vec<_>>(),
        "runs": runs,
        "medians": meds,
        "median_ratios_to_first": meds.iter().map(|m| m / meds[0]).collect::<Vec<_>>(),
        "bests": bests,
        "best_ratios_to_first": bests.iter().map(|b| b / bests[0]).collect::<Vec<_>>(),
    }))
}

fn write(
    root: &Path,
    out: &Path,
    name: &str,
    md: &str,
    groups: Vec<serde_json::Value>,
    alternations: u32,
) -> Result<()> {
    let dir = root.join(out);
    std::fs::create_dir_all(&dir)?;
    let doc = json!({
        "schema": format!("evbench.bench-{name}/1"),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "alternations": alternations,
        "groups": groups,
    });
    std::fs::write(
        dir.join(format!("bench-{name}.json")),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    std::fs::write(dir.join(format!("bench-{name}.md")), md)?;
    print!("{md}");
    eprintln!("bench: wrote {}/bench-{name}.{{md,json}}", dir.display());
    Ok(())
}

/// pipetest with the original epoll loop vs the emulated kevent queue, with one active
/// channel (an event at a time) and with many (events batched per wait).
pub fn kevent(root: &Path, bin: &Path, a: &EmulationBench) -> Result<()> {
    let mut md = String::from(
        "# kevent emulation vs epoll: pipetest\n\n\
         `cargo xtask bench kevent`: pipetest-4 (pipes, 200 channels, 50,000 writes, 16 runs; AVG is the mean of the middle 6) \
         per wait mode, alternating, probes off. Target: kevent and kevent-ring at most 1.10x epoll's µs/event.\n\n",
    );
    let mut groups = Vec::new();
    for (title, active) in [
        ("one active channel (-a 1)", "1"),
        ("events batched: 100 active channels (-a 100)", "100"),
    ] {
        let vs: Vec<Variant> = ["epoll", "kevent", "kevent-ring"]
            .iter()
            .map(|w| {
                variant(
                    &format!("--wait {w}"),
                    &[
                        "pipetest", "-q", "--probes", "none", "-a", active, "--wait", w,
                    ],
                )
            })
            .collect();
        let runs = alternate(bin, "kevent", &vs, Figure::UsPerEvent, a.alternations)?;
        groups.push(table(&mut md, title, &vs, &runs, Figure::UsPerEvent)?);
    }
    write(root, &a.out, "kevent", &md, groups, a.alternations)
}

/// The EFD_MASK emulations beside eventfd: pipetest, and ping-pong with both tasks on
/// one CPU and on two.
pub fn efd_mask(root: &Path, bin: &Path, a: &EmulationBench) -> Result<()> {
    let mut md = String::from(
        "# EFD_MASK without kernel support: mask fds vs eventfd\n\n\
         `cargo xtask bench efd-mask`: the same workloads on eventfd, on the socketpair approximation and on the exact \
         FUSE mask fd, alternating, probes off. There is no target: this is what EFD_MASK costs without the patch. \
         `evbench run pingpong --mechanism efd-mask-fuse` (probes on) shows where the time goes: the FUSE server thread \
         is one of the targets.\n\n",
    );
    let mechs = ["eventfd", "efd-mask-socketpair", "efd-mask-fuse"];
    let mut groups = Vec::new();
    let vs: Vec<Variant> = mechs
        .iter()
        .map(|m| {
            variant(
                m,
                &[
                    "pipetest",
                    "-q",
                    "--probes",
                    "none",
                    "-n",
                    "64",
                    "-w",
                    "20000",
                    "--mechanism",
                    m,
                ],
            )
        })
        .collect();
    let runs = alternate(bin, "efd-mask", &vs, Figure::UsPerEvent, a.alternations)?;
    groups.push(table(
        &mut md,
        "pipetest (-n 64 -w 20000, epoll)",
        &vs,
        &runs,
        Figure::UsPerEvent,
    )?);
    for pin in ["same", "split"] {
        let vs: Vec<Variant> = mechs
            .iter()
            .map(|m| {
                variant(
                    m,
                    &[
                        "pingpong",
                        "--probes",
                        "none",
                        "--rounds",
                        "20000",
                        "--pin",
                        pin,
                        "--wait",
                        "epoll",
                        "--mechanism",
                        m,
                    ],
                )
            })
            .collect();
        let runs = alternate(bin, "efd-mask", &vs, Figure::OpsPerSec, a.alternations)?;
        groups.push(table(
            &mut md,
            &format!("pingpong, epoll, --pin {pin}"),
            &vs,
            &runs,
            Figure::OpsPerSec,
        )?);
    }
    write(root, &a.out, "efd-mask", &md, groups, a.alternations)
}
