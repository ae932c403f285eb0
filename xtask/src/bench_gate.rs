//! `cargo xtask bench gate`: how often the regression gate (`evbench compare`) is right
//! on this machine, following README's CI recipe → results/bench-gate.{md,json}.
//!
//! One *pair* is what a CI job does: in the same job, the baseline build (A) and the
//! candidate (B) run alternately — A B A B, each half one short `evbench run` per case —
//! and `evbench compare --baseline A1 A2 --current B1 B2` pools each side. Here A and B
//! are the same binary, so:
//!
//! - **false alarms**: pairs with nothing injected — a pair exiting 1 is a false alarm;
//! - **true alarms**: B adds `--think` to the injected cases (pingpong and pipetest on
//!   pipes), sized from a calibration run to +25% and +10% of each injected case's
//!   per-op time; a pair *catches* it when every injected case's headline is regressed
//!   and no metric of any other case is. The slowdown actually achieved is the change of
//!   the injected headlines' medians, from the clean passes.
//!
//! Each condition (quiet; a background spinner using 50% of one CPU) runs `--pairs` pairs
//! of each kind. Only plumbing lives here: the workloads and the gate are evbench's own.
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use crate::figures::median;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct GateBench {
    /// Pairs of each kind (same binary, +25%, +10%) per condition.
    #[arg(long, default_value_t = 10)]
    pub pairs: u32,
    /// Repeats of each case in each half of a pair (a side pools two halves). README's
    /// recipe uses 5: with 3, a +10% slowdown was caught in 4 of 10 quiet pairs
    /// (results/bench-gate-repeat3-quiet.md), with 5 in 8 of 10.
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Conditions to run: quiet, loaded (a spinner using 50% of one CPU), or both.
    #[arg(long, value_delimiter = ',', default_value = "quiet,loaded")]
    pub conditions: Vec<String>,
    /// Probe sets for the runs (`default`: per-op kernel counts are judged too).
    #[arg(long, default_value = "default")]
    pub probes: String,
    /// Directory the figures go to.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Only write bench-gate.md again from the figures in bench-gate.json (after a change
    /// to how they are presented); runs nothing.
    #[arg(long)]
    pub render_only: bool,
}

/// One case of the bench: its id, the `evbench run` arguments, and whether B injects a
/// slowdown into it.
struct BenchCase {
    id: &'static str,
    args: &'static [&'static str],
    injected: bool,
}

const CASES: &[BenchCase] = &[
    BenchCase {
        id: "pipetest/pipe/epoll",
        args: &["pipetest", "-m", "pipe", "-W", "epoll", "-w", "2000"],
        injected: true,
    },
    BenchCase {
        id: "pipetest/eventfd/epoll",
        args: &["pipetest", "-m", "eventfd", "-W", "epoll", "-w", "2000"],
        injected: false,
    },
    BenchCase {
        id: "pingpong/pipe/block/pin=same",
        args: &[
            "pingpong",
            "-m",
            "pipe",
            "--pin",
            "same",
            "--rounds",
            "10000",
            "--warmup-rounds",
            "500",
        ],
        injected: true,
    },
    BenchCase {
        id: "pingpong/eventfd/block/pin=same",
        args: &[
            "pingpong",
            "-m",
            "eventfd",
            "--pin",
            "same",
            "--rounds",
            "10000",
            "--warmup-rounds",
            "500",
        ],
        injected: false,
    },
];

/// The best (smallest) per-op time in ns over a case's repeats.
fn best_per_op(case: &Value) -> Option<f64> {
    let m = &case["metrics"];
    if let Some(us) = m["us_per_event"]["across"]["min"].as_f64() {
        return Some(us * 1e3);
    }
    Some(1e9 / m["ops_per_sec"]["across"]["max"].as_f64()?)
}

/// Runs one case once: `--repeat`, probes, `--think` when given; returns the document.
fn run_case(
    bin: &Path,
    dir: &Path,
    name: &str,
    c: &BenchCase,
    a: &GateBench,
    think_ns: Option<u64>,
) -> Result<PathBuf> {
    let out = dir.join(name);
    let mut cmd = Command::new(bin);
    cmd.arg("run").args(c.args).args([
        "--repeat",
        &a.repeat.to_string(),
        "--probes",
        &a.probes,
        "-q",
        "-o",
    ]);
    cmd.arg(&out);
    if let Some(t) = think_ns {
        cmd.args(["--think", &format!("{t}ns")]);
    }
    let o = cmd
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !o.status.success() {
        bail!(
            "evbench run {} failed: {}",
            c.args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(out)
}

fn read(p: &Path) -> Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(p)?)?)
}

/// Per-op time (ns) of each injected case, from one clean calibration run each: its
/// best repeat (other load only ever makes a repeat slower, so the best estimates the
/// case's own cost; a median taken during a burst sized `--think` several times too
/// large in the first short run).
fn calibrate(bin: &Path, dir: &Path, a: &GateBench) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for c in CASES.iter().filter(|c| c.injected) {
        let p = run_case(bin, dir, &format!("cal-{}.json", slug(c.id)), c, a, None)?;
        let d = read(&p)?;
        let ns = best_per_op(&d["cases"][0]).context("calibration: no headline")?;
        out.push((c.id.to_string(), ns));
    }
    Ok(out)
}

fn slug(id: &str) -> String {
    id.replace(['/', '='], "-")
}

/// `--think` for a case to add `frac` of its per-op time: pipetest spins once per
/// message (one event each with -a 1); pingpong's two tasks each spin once per round
/// trip, so each gets half.
fn think_for(id: &str, per_op_ns: f64, frac: f64) -> u64 {
    let total = per_op_ns * frac;
    (if id.starts_with("pingpong") {
        total / 2.0
    } else {
        total
    })
    .round() as u64
}

/// One pair's outcome.
struct PairOutcome {
    exit: i32,
    regressed: Vec<(String, String)>,
    inconclusive: usize,
    judged: usize,
    /// Per case id: change of the headline's median (current / baseline − 1, as a time).
    slowdown: Vec<(String, f64)>,
}

/// One pair: A B A B halves (each case once per half), then compare the pooled sides.
fn pair(
    bin: &Path,
    dir: &Path,
    a: &GateBench,
    think: &[(String, u64)],
    tag: &str,
) -> Result<PairOutcome> {
    let (mut base, mut cur) = (Vec::new(), Vec::new());
    for half in 0..4 {
        let b_side = half % 2 == 1;
        for c in CASES {
            let t = if b_side {
                think.iter().find(|(id, _)| id == c.id).map(|t| t.1)
            } else {
                None
            };
            let name = format!("{tag}-h{half}-{}.json", slug(c.id));
            let p = run_case(bin, dir, &name, c, a, t)?;
            if b_side {
                cur.push(p);
            } else {
                base.push(p);
            }
        }
    }
    let mut cmd = Command::new(bin);
    cmd.args(["compare", "--json", "--baseline"])
        .args(&base)
        .arg("--current")
        .args(&cur);
    let o = cmd.output()?;
    let exit = o.status.code().unwrap_or(-1);
    let v: Value = serde_json::from_slice(&o.stdout).with_context(|| {
        format!(
            "compare printed no JSON (exit {exit}): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )
    })?;
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let regressed = rows
        .iter()
        .filter(|r| r["verdict"] == "regressed")
        .map(|r| (s(r, "case"), s(r, "metric")))
        .collect();
    let inconclusive = rows
        .iter()
        .filter(|r| r["verdict"] == "inconclusive")
        .count();
    let judged = rows
        .iter()
        .filter(|r| r["verdict"] != "too_few_repeats")
        .count();
    let slowdown = CASES
        .iter()
        .filter_map(|c| {
            let r = rows.iter().find(|r| {
                r["case"] == c.id && (r["metric"] == "us_per_event" || r["metric"] == "ops_per_sec")
            })?;
            let (b, k) = (
                r["baseline_median"].as_f64()?,
                r["current_median"].as_f64()?,
            );
            // As a time per op: ops/s inverts.
            let ch = if r["metric"] == "ops_per_sec" {
                b / k - 1.0
            } else {
                k / b - 1.0
            };
            Some((c.id.to_string(), ch))
        })
        .collect();
    for p in base.iter().chain(&cur) {
        let _ = std::fs::remove_file(p);
    }
    Ok(PairOutcome {
        exit,
        regressed,
        inconclusive,
        judged,
        slowdown,
    })
}

/// Whether a pair caught the injected regression: every injected headline regressed,
/// no metric of another case regressed.
fn caught(p: &PairOutcome) -> bool {
    let headline_regressed = |id: &str| {
        p.regressed
            .iter()
            .any(|(c, m)| c == id && (m == "us_per_event" || m == "ops_per_sec"))
    };
    CASES
        .iter()
        .filter(|c| c.injected)
        .all(|c| headline_regressed(c.id))
        && !p
            .regressed
            .iter()
            .any(|(c, _)| CASES.iter().any(|k| k.id == c && !k.injected))
}

/// A background spinner: busy for 5 ms, asleep for 5 ms (50% of one CPU), until dropped.
struct Spinner {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Spinner {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(5) {
                    std::hint::spin_loop();
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn kind_json(name: &str, frac: f64, think: &[(String, u64)], pairs: &[PairOutcome]) -> Value {
    let n = pairs.len();
    let per_case: Vec<Value> = CASES
        .iter()
        .map(|c| {
            let hit = pairs
                .iter()
                .filter(|p| {
                    p.regressed
                        .iter()
                        .any(|(k, m)| k == c.id && (m == "us_per_event" || m == "ops_per_sec"))
                })
                .count();
            let sl: Vec<f64> = pairs
                .iter()
                .filter_map(|p| p.slowdown.iter().find(|s| s.0 == c.id).map(|s| s.1))
                .collect();
            json!({
                "case": c.id,
                "injected": c.injected,
                "think_ns": think.iter().find(|t| t.0 == c.id).map(|t| t.1),
                "headline_regressed_pairs": hit,
                "median_slowdown": median(&sl),
                "slowdowns": sl,
            })
        })
        .collect();
    json!({
        "kind": name,
        "injected_fraction": frac,
        "pairs": n,
        "exit_0": pairs.iter().filter(|p| p.exit == 0).count(),
        "exit_1": pairs.iter().filter(|p| p.exit == 1).count(),
        "exit_2": pairs.iter().filter(|p| p.exit == 2).count(),
        "caught": pairs.iter().filter(|p| caught(p)).count(),
        "regressed_metrics": pairs.iter().map(|p| p.regressed.len()).collect::<Vec<_>>(),
        "regressed_rows": pairs.iter().map(|p| p.regressed.iter().map(|(c, m)| format!("{c} {m}")).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "inconclusive_metrics": pairs.iter().map(|p| p.inconclusive).collect::<Vec<_>>(),
        "judged_metrics": pairs.iter().map(|p| p.judged).collect::<Vec<_>>(),
        "cases": per_case,
    })
}

/// `cargo xtask bench gate`.
pub fn run(root: &Path, bin: &Path, a: &GateBench) -> Result<()> {
    if a.render_only {
        let out_dir = root.join(&a.out);
        let doc = read(&out_dir.join("bench-gate.json"))?;
        let shown = GateBench {
            pairs: doc["pairs"].as_u64().unwrap_or(0) as u32,
            repeat: doc["repeat_per_half"].as_u64().unwrap_or(0) as u32,
            conditions: Vec::new(),
            probes: doc["probes"].as_str().unwrap_or("").to_string(),
            out: a.out.clone(),
            render_only: true,
        };
        std::fs::write(out_dir.join("bench-gate.md"), markdown(&doc, &shown))?;
        println!("{}", markdown(&doc, &shown));
        return Ok(());
    }
    for c in &a.conditions {
        if c != "quiet" && c != "loaded" {
            bail!("--conditions {c}: write quiet, loaded or quiet,loaded");
        }
    }
    let dir = std::env::temp_dir().join(format!("evbench-bench-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut conditions = Vec::new();
    for cond in &a.conditions {
        let t0 = Instant::now();
        let spinner = (cond == "loaded").then(Spinner::start);
        eprintln!("bench gate: {cond}: calibrating");
        let mut loads = vec![loadavg_1m()];
        let cal = calibrate(bin, &dir, a)?;
        let mut kinds = Vec::new();
        for (name, frac) in [("same", 0.0), ("+25%", 0.25), ("+10%", 0.10)] {
            let think: Vec<(String, u64)> = if frac > 0.0 {
                cal.iter()
                    .map(|(id, ns)| (id.clone(), think_for(id, *ns, frac)))
                    .collect()
            } else {
                Vec::new()
            };
            let mut outs = Vec::new();
            for k in 0..a.pairs {
                loads.push(loadavg_1m());
                eprintln!("bench gate: {cond}: {name} pair {}/{}", k + 1, a.pairs);
                let tag = format!("{cond}-{}-{k}", slug(name).replace(['+', '%'], ""));
                outs.push(pair(bin, &dir, a, &think, &tag)?);
            }
            kinds.push(kind_json(name, frac, &think, &outs));
        }
        loads.push(loadavg_1m());
        drop(spinner);
        conditions.push(json!({
            "loadavg_1m_at_each_pair": loads,
            "condition": cond,
            "background": if cond == "loaded" { "a spinner thread: 5 ms busy, 5 ms asleep (50% of one CPU), unpinned" } else { "none added (other jobs on the shared VM may run)" },
            "calibration_per_op_ns": cal.iter().map(|(id, ns)| json!({"case": id, "per_op_ns": ns})).collect::<Vec<_>>(),
            "kinds": kinds,
            "elapsed_s": t0.elapsed().as_secs_f64(),
        }));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let out_dir = root.join(&a.out);
    // A rerun of some conditions keeps the others' figures from the last full file (each
    // condition is self-contained: its own calibration, pairs and load averages).
    if let Ok(old) = read(&out_dir.join("bench-gate.json")) {
        if old["pairs"] == json!(a.pairs) && old["repeat_per_half"] == json!(a.repeat) {
            for c in old["conditions"].as_array().into_iter().flatten() {
                let name = c["condition"].as_str().unwrap_or("");
                if !a.conditions.iter().any(|x| x == name) {
                    conditions.push(c.clone());
                }
            }
            conditions.sort_by_key(|c| c["condition"].as_str() != Some("quiet"));
        }
    }
    let doc = json!({
        "bench": "gate",
        "short_run": a.pairs < 10,
        "pairs": a.pairs,
        "repeat_per_half": a.repeat,
        "probes": a.probes,
        "recipe": "per pair: A B A B halves, each case once per half with --repeat R; evbench compare --baseline A1 A2 --current B1 B2 (defaults: --threshold 5%)",
        "cases": CASES.iter().map(|c| json!({"id": c.id, "args": c.args, "injected": c.injected})).collect::<Vec<_>>(),
        "goals": {"same_exit_1": 0, "plus25_caught": "10 of 10", "plus10_caught": "at least 8 of 10"},
        "conditions": conditions,
        // Kept conditions count with their own time.
        "elapsed_s": conditions.iter().filter_map(|c| c["elapsed_s"].as_f64()).sum::<f64>(),
    });
    std::fs::create_dir_all(&out_dir)?;
    std::fs::write(
        out_dir.join("bench-gate.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    std::fs::write(out_dir.join("bench-gate.md"), markdown(&doc, a))?;
    println!("{}", markdown(&doc, a));
    Ok(())
}

/// The machine's 1-minute load average (/proc/loadavg), to show how quiet a condition
/// really was: a quiet condition on this 2-vCPU VM reads well under 2.
fn loadavg_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn markdown(doc: &Value, a: &GateBench) -> String {
    let mut s =
        String::from("# The regression gate on this machine (`cargo xtask bench gate`)\n\n");
    if a.pairs < 10 {
        let _ = writeln!(
            s,
            "**SHORT RUN: {} pair(s) of each kind per condition, not the 10 the goals are stated for.** The figures below are what this short run measured; they do not show whether the goals are met.\n",
            a.pairs
        );
    }
    let _ = writeln!(
        s,
        "Command: `cargo xtask bench gate --pairs {} --repeat {} --conditions {} --probes {}`. Machine: the project's shared 2-vCPU VM; each condition below gives the 1-minute load average seen at each pair (other jobs may run). Total {:.0} s.\n",
        a.pairs,
        a.repeat,
        doc["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["condition"].as_str())
            .collect::<Vec<_>>()
            .join(","),
        a.probes,
        doc["elapsed_s"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        s,
        "Recipe (README's CI section): per pair, A B A B halves; each half runs every case once with `--repeat {}`; `evbench compare --baseline A1 A2 --current B1 B2` with its defaults (threshold 5%, regressed at the 99% interval, unchanged at 90%). A and B are the same binary; B adds `--think` to the injected cases (pipes: {}). A pair *catches* an injection when every injected case's headline is regressed and no metric of another case is.\n",
        a.repeat,
        CASES
            .iter()
            .filter(|c| c.injected)
            .map(|c| format!("`{}`", c.id))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for cond in doc["conditions"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "## {} ({:.0} s)\n\nBackground: {}. 1-minute load average before the calibration, before each pair and at the end: {}.\n",
            cond["condition"].as_str().unwrap_or(""),
            cond["elapsed_s"].as_f64().unwrap_or(0.0),
            cond["background"].as_str().unwrap_or(""),
            cond["loadavg_1m_at_each_pair"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .map(|l| format!("{l:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            s,
            "| pairs | kind | exit 0 / 1 / 2 | caught | regressed metrics per pair | inconclusive per pair | goal |\n|---|---|--:|--:|---|---|---|"
        );
        for k in cond["kinds"].as_array().into_iter().flatten() {
            let kind = k["kind"].as_str().unwrap_or("");
            let goal = match kind {
                "same" => "0 exit 1",
                "+25%" => "caught 10 of 10",
                _ => "caught ≥ 8 of 10",
            };
            let list = |key: &str| {
                k[key]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} / {} / {} | {} | {} | {} | {} |",
                k["pairs"],
                kind,
                k["exit_0"],
                k["exit_1"],
                k["exit_2"],
                if kind == "same" {
                    "—".to_string()
                } else {
                    k["caught"].to_string()
                },
                list("regressed_metrics"),
                list("inconclusive_metrics"),
                goal
            );
        }
        // Each goal, met or missed, in words; a miss names the pairs that missed and why
        // (which injected headline was not called regressed, or what else was).
        let _ = writeln!(s);
        for k in cond["kinds"].as_array().into_iter().flatten() {
            let kind = k["kind"].as_str().unwrap_or("");
            let pairs = k["pairs"].as_u64().unwrap_or(0);
            let (got, need, what) = match kind {
                "same" => (
                    k["exit_1"].as_u64().unwrap_or(0),
                    0,
                    "same-binary pairs exited 1",
                ),
                "+25%" => (k["caught"].as_u64().unwrap_or(0), pairs, "+25% caught"),
                _ => (
                    k["caught"].as_u64().unwrap_or(0),
                    (pairs * 8).div_ceil(10),
                    "+10% caught",
                ),
            };
            let met = if kind == "same" {
                got <= need
            } else {
                got >= need
            };
            let _ = write!(
                s,
                "- {what}: {got} of {pairs} (goal: {} {need}): {}",
                if kind == "same" {
                    "at most"
                } else {
                    "at least"
                },
                if met { "met" } else { "**missed**" }
            );
            if !met && kind != "same" {
                let missed: Vec<String> = k["cases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["injected"] == true)
                    .filter(|c| c["headline_regressed_pairs"].as_u64() != Some(pairs))
                    .map(|c| {
                        format!(
                            "`{}` regressed in {} of {pairs} (slowdown achieved {:+.1}%)",
                            c["case"].as_str().unwrap_or(""),
                            c["headline_regressed_pairs"],
                            c["median_slowdown"].as_f64().unwrap_or(f64::NAN) * 100.0
                        )
                    })
                    .collect();
                if !missed.is_empty() {
                    let _ = write!(
                        s,
                        " — {}; an injected headline whose 99% interval (or rank test) did not clear +5% in that pair",
                        missed.join(", ")
                    );
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "\nPer case (headline regressed in how many pairs; slowdown achieved = median over pairs of the change of the headline's median time per op, clean passes):\n\n| kind | case | think | headline regressed | slowdown achieved |\n|---|---|--:|--:|--:|"
        );
        for k in cond["kinds"].as_array().into_iter().flatten() {
            for c in k["cases"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    s,
                    "| {} | `{}`{} | {} | {} of {} | {:+.1}% |",
                    k["kind"].as_str().unwrap_or(""),
                    c["case"].as_str().unwrap_or(""),
                    if c["injected"] == true {
                        " (injected)"
                    } else {
                        ""
                    },
                    c["think_ns"]
                        .as_u64()
                        .map_or("—".into(), |t| format!("{t} ns")),
                    c["headline_regressed_pairs"],
                    k["pairs"],
                    c["median_slowdown"].as_f64().unwrap_or(f64::NAN) * 100.0
                );
            }
        }
        let _ = writeln!(
            s,
            "\nFalse alarms in detail (regressed rows of same-binary pairs):\n"
        );
        for k in cond["kinds"].as_array().into_iter().flatten() {
            if k["kind"] == "same" {
                for (i, rows) in k["regressed_rows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let rows: Vec<String> = rows
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(|x| format!("`{x}`")))
                        .collect();
                    let _ = writeln!(
                        s,
                        "- pair {}: {}",
                        i + 1,
                        if rows.is_empty() {
                            "none".into()
                        } else {
                            rows.join(", ")
                        }
                    );
                }
            }
        }
        s.push('\n');
    }
    s
}
