//! `cargo xtask bench pipetest`: `evbench run pipetest` with its default options (its
//! AVG line is the clean pass's) against a C peer of the same algorithm
//! (`xtask/peers/pipetest.c`, built with the system's cc -O2), and against
//! `--probes none`, alternated C / default / none, medians → results/bench-pipetest.*.
use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::figures::median;

#[derive(Args)]
pub struct PipetestBench {
    /// Alternations (each runs all three once).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// pipetest's -w (write budget per run).
    #[arg(long, default_value_t = 50_000)]
    writes: u64,
}

fn avg_of(out: &[u8]) -> Result<f64> {
    let text = String::from_utf8_lossy(out);
    text.lines()
        .find_map(|l| l.strip_prefix("AVG: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no AVG line in:\n{text}"))
}

fn run(cmd: &mut Command) -> Result<f64> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    avg_of(&out.stdout)
}

pub fn run_bench(root: &Path, evbench: &Path, a: &PipetestBench) -> Result<()> {
    let peer = root.join("target/peers/pipetest");
    std::fs::create_dir_all(root.join("target/peers"))?;
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&peer)
        .arg(root.join("xtask/peers/pipetest.c"))
        .arg("-lm")
        .status()
        .context("cannot start cc")?;
    if !status.success() {
        bail!("building the C peer failed ({status})");
    }
    let w = a.writes.to_string();
    let (mut c, mut dflt, mut none) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..a.rounds {
        c.push(run(Command::new(&peer).args(["-w", &w]))?);
        dflt.push(run(
            Command::new(evbench).args(["run", "pipetest", "-q", "-w", &w])
        )?);
        none.push(run(
            Command::new(evbench).args(["run", "pipetest", "-q", "-w", &w, "--probes", "none"])
        )?);
        eprintln!(
            "bench pipetest: round {}/{}: C {:.3}, evbench {:.3}, --probes none {:.3} us/event",
            i + 1,
            a.rounds,
            c[i],
            dflt[i],
            none[i]
        );
    }
    let ratio = |v: &[f64]| -> Vec<f64> { v.iter().zip(&c).map(|(x, y)| x / y).collect() };
    let (rd, rn) = (median(&ratio(&dflt)), median(&ratio(&none)));
    let md = format!(
        "# pipetest: evbench vs a C peer\n\n\
         `cargo xtask bench pipetest --rounds {r} --writes {w}` (defaults -n 200 -a 1, pipes, epoll-et); \
         alternated C / evbench (default options: probes on, the AVG printed is the clean pass's) / \
         evbench --probes none; medians of {r} rounds, ratios pair by pair. The machine is shared \
         and noisy: read the ratios, not the absolute figures.\n\n\
         | | AVG µs/event (median) | ÷ C (median of pairs) | all rounds |\n|---|--:|--:|---|\n\
         | C peer (xtask/peers/pipetest.c) | {mc:.3} | 1.000 | {ac} |\n\
         | evbench run pipetest | {md_:.3} | {rd:.3} | {ad} |\n\
         | evbench run pipetest --probes none | {mn:.3} | {rn:.3} | {an} |\n",
        r = a.rounds,
        mc = median(&c),
        md_ = median(&dflt),
        mn = median(&none),
        ac = list(&c),
        ad = list(&dflt),
        an = list(&none),
    );
    std::fs::write(root.join("results/bench-pipetest.md"), md)?;
    let json = serde_json::json!({
        "command": format!("cargo xtask bench pipetest --rounds {} --writes {}", a.rounds, a.writes),
        "c_us": c, "evbench_default_us": dflt, "evbench_probes_none_us": none,
        "median_ratio_default_to_c": rd, "median_ratio_none_to_c": rn,
    });
    std::fs::write(
        root.join("results/bench-pipetest.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    eprintln!("bench pipetest: evbench ÷ C {rd:.3} (default), {rn:.3} (--probes none) → results/bench-pipetest.md");
    Ok(())
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
