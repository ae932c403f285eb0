//! `cargo xtask fuzz [--time S] [--target NAME]...`: runs each cargo-fuzz target of
//! `fuzz/` (libFuzzer, built with the nightly) for S seconds from its committed seed
//! corpus, writes executions per second and coverage per target to results/fuzz.md and
//! results/fuzz.json, and fails naming the crash file when a target crashes.
//!
//! New inputs libFuzzer finds go to target/fuzz-corpus/TARGET (never into the committed
//! seeds); crashes to target/fuzz-artifacts/TARGET/.
use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};
use serde_json::json;

/// The targets in fuzz/Cargo.toml, in the order they run.
pub const TARGETS: [&str; 3] = ["http_request", "results_reader", "kevent_sequence"];
const CARGO_FUZZ: &str = "0.13.2";

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Seconds each target runs (libFuzzer's -max_total_time).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    time: u64,
    /// Run only this target (repeatable; default: all).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    target: Vec<String>,
}

/// One target's figures from libFuzzer's final lines.
struct Figures {
    target: String,
    runs: u64,
    exec_per_sec: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    peak_rss_mb: u64,
}

pub fn run(root: &Path, obj: &Path, args: &FuzzArgs) -> Result<()> {
    ensure_cargo_fuzz()?;
    let targets: Vec<&str> = if args.target.is_empty() {
        TARGETS.to_vec()
    } else {
        TARGETS
            .into_iter()
            .filter(|t| args.target.iter().any(|a| a == t))
            .collect()
    };
    let mut all = Vec::new();
    for t in targets {
        all.push(run_target(root, obj, t, args.time)?);
    }
    write_results(root, &all, args.time)
}

/// A nightly `cargo fuzz` command in the repository root (cargo-fuzz finds `fuzz/`).
fn cargo_fuzz(root: &Path, obj: &Path) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", "nightly", "cargo", "fuzz"])
        .current_dir(root)
        .env(crate::EBPF_OBJ_ENV, obj);
    // As for the eBPF build: without this the inner cargo stays on the outer toolchain.
    for var in [
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
    ] {
        c.env_remove(var);
    }
    c
}

fn ensure_cargo_fuzz() -> Result<()> {
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ} (a few minutes)");
    let status = Command::new("cargo")
        .args(["install", "--locked", &format!("cargo-fuzz@{CARGO_FUZZ}")])
        .status()
        .context("cannot start cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz@{CARGO_FUZZ} failed ({status})");
    }
    Ok(())
}

fn run_target(root: &Path, obj: &Path, target: &str, secs: u64) -> Result<Figures> {
    let work = root.join("target/fuzz-corpus").join(target);
    let artifacts = root.join("target/fuzz-artifacts").join(target);
    let seeds = root.join("fuzz/corpus").join(target);
    fs::create_dir_all(&work)?;
    fs::create_dir_all(&artifacts)?;
    eprintln!(
        "xtask: fuzzing {target} for {secs} s (seeds: {})",
        seeds.display()
    );
    let out = cargo_fuzz(root, obj)
        // Debug assertions on: an integer overflow on a huge number is a finding too.
        .args(["run", "--release", "--debug-assertions", target])
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // A hang is a finding too: one input may take at most 10 s.
        .args(["-timeout=10", "-print_final_stats=1", "-rss_limit_mb=2048"])
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start cargo fuzz run {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let log_path = root
        .join("target/fuzz-artifacts")
        .join(format!("{target}.log"));
    fs::write(&log_path, log.as_bytes())?;
    if let Some(crash) = log
        .lines()
        .find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim()))
    {
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        for l in tail.into_iter().rev() {
            eprintln!("  {l}");
        }
        bail!(
            "{target}: libFuzzer found a crash, input written to {crash} (log {})",
            log_path.display()
        );
    }
    if !out.status.success() {
        bail!(
            "cargo fuzz run {target} failed ({}); see {}",
            out.status,
            log_path.display()
        );
    }
    let f = parse(target, &log).with_context(|| {
        format!(
            "no final statistics from libFuzzer in {}",
            log_path.display()
        )
    })?;
    eprintln!(
        "xtask: {target}: {} runs, {} exec/s, cov {}, ft {}, corpus {}",
        f.runs, f.exec_per_sec, f.cov, f.ft, f.corpus
    );
    Ok(f)
}

/// Reads libFuzzer's last status line (`#N DONE cov: C ft: F corp: K/..`) and its
/// `-print_final_stats` lines (`stat::average_exec_per_sec: E`).
fn parse(target: &str, log: &str) -> Option<Figures> {
    let stat = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let last = log
        .lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains(" cov: "))?;
    let field = |name: &str| {
        let mut words = last.split_whitespace();
        words.find(|w| *w == name)?;
        words.next()?.split('/').next()?.parse::<u64>().ok()
    };
    Some(Figures {
        target: target.to_string(),
        runs: stat("number_of_executed_units")?,
        exec_per_sec: stat("average_exec_per_sec")?,
        cov: field("cov:")?,
        ft: field("ft:")?,
        corpus: field("corp:").unwrap_or(0),
        peak_rss_mb: stat("peak_rss_mb").unwrap_or(0),
    })
}

fn write_results(root: &Path, all: &[Figures], secs: u64) -> Result<()> {
    let dir: PathBuf = root.join("results");
    let mut md = String::from("# Fuzzing: executions per second and coverage per target\n\n");
    let _ = writeln!(
        md,
        "`cargo xtask fuzz --time {secs}`: each target {secs} s from its seed corpus \
         (fuzz/corpus/TARGET), one libFuzzer process, on a 2-CPU VM shared with other \
         builds (noisy: exec/s varies with the load). `cov` is libFuzzer's covered edges, \
         `ft` its features, `corpus` the inputs kept at the end; no crash was found.\n"
    );
    md.push_str("| target | runs | exec/s | cov | ft | corpus | peak RSS MB |\n");
    md.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for f in all {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            f.target, f.runs, f.exec_per_sec, f.cov, f.ft, f.corpus, f.peak_rss_mb
        );
    }
    fs::write(dir.join("fuzz.md"), md)?;
    let doc = json!({
        "command": format!("cargo xtask fuzz --time {secs}"),
        "seconds_per_target": secs,
        "targets": all.iter().map(|f| json!({
            "target": f.target, "runs": f.runs, "exec_per_sec": f.exec_per_sec,
            "cov": f.cov, "ft": f.ft, "corpus": f.corpus, "peak_rss_mb": f.peak_rss_mb,
        })).collect::<Vec<_>>(),
    });
    fs::write(
        dir.join("fuzz.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    eprintln!("xtask: figures in results/fuzz.md and results/fuzz.json");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// The last status line and the -print_final_stats lines of a real libFuzzer run.
    #[test]
    fn final_stats_are_read_from_the_last_status_line() {
        let log = "INFO: seed corpus: files: 9 min: 28b max: 307b total: 950b rss: 40Mb\n\
                   #2\tINITED cov: 400 ft: 900 corp: 9/950b exec/s: 0 rss: 41Mb\n\
                   #221620\tDONE   cov: 546 ft: 2338 corp: 523/41Kb lim: 4096 exec/s: 3633 rss: 461Mb\n\
                   Done 221620 runs in 61 second(s)\n\
                   stat::number_of_executed_units: 221620\n\
                   stat::average_exec_per_sec:     3633\n\
                   stat::new_units_added:          1203\n\
                   stat::slowest_unit_time_sec:    0\n\
                   stat::peak_rss_mb:              461\n";
        let f = parse("http_request", log).expect("parsed");
        assert_eq!(
            (f.runs, f.exec_per_sec, f.cov, f.ft, f.corpus, f.peak_rss_mb),
            (221_620, 3633, 546, 2338, 523, 461)
        );
        assert!(parse("x", "no statistics here\n").is_none());
    }
}
