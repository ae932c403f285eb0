//! The regression gate's judgement of two sets of results documents (`evbench compare`).
//!
//! Cases pair by `id` (options never enter it: a `--think` run pairs with a plain one).
//! Within a pair each judged metric gets one of four verdicts from percentile-bootstrap
//! intervals of its per-repeat values (`stats`):
//!
//! - **regressed** / **improved**: the [`DECIDE_LEVEL`] (99%) interval of the change lies
//!   wholly beyond the tolerance on the worse / better side;
//! - **unchanged**: the [`EQUIVALENCE_LEVEL`] (90%) interval lies wholly within
//!   ±tolerance — an equivalence test: the two one-sided tests of TOST (Schuirmann 1987)
//!   at 5% each are the same decision as a 90% interval inside the margins;
//! - **inconclusive**: neither — the data do not decide (never called unchanged); the row
//!   says about how many repeats a side would likely decide it.
//!
//! The change is measured on one of two scales. **Relative**: median(current) /
//! median(baseline) − 1 against ±tolerance, the tolerance being the larger of
//! `--threshold` and noise_floor / |baseline median|. **Absolute**, when the baseline
//! median lies within [`NEAR_ZERO_FLOORS`] noise floors of zero (where a ratio means
//! nothing: 0 → 1 wakeup/op is "+inf%"): median(current) − median(baseline) against
//! ±noise_floor. Every judged metric has a noise floor: the one its document declares
//! (per-op counts: 0.1 — `PER_OP_NOISE_FLOOR`), one bucket width of the histogram at the
//! baseline median for a latency percentile, 0 for headlines (throughput and time per
//! event: `--threshold` alone is their tolerance).
//!
//! False alarms. By default a case's headline and its per-op counts are judged (4 to 6
//! metrics a case; histogram percentiles only with `--percentiles`). A regression needs
//! the 99% interval wholly beyond the tolerance, so a metric whose true change is exactly
//! at the tolerance is called regressed with probability about 0.5% (the interval's
//! one-sided error), and one with no true change far less: the interval must then clear
//! a 5% margin it does not contain. Percentiles are opt-in because one repeat's tail moves
//! with every burst of machine noise, and they would add two judged metrics per histogram.
//! The per-pair rate this gives on a real machine is measured, not assumed:
//! `cargo xtask bench gate`.
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{stats, Better, Case, ReadError, Repeat, RunResult};

/// Fewest repeats a side needs before a metric is judged.
pub const MIN_REPEATS: usize = 3;
/// Level of the two-sided interval that must lie wholly beyond the tolerance for
/// regressed / improved (0.5% error on each side).
pub const DECIDE_LEVEL: f64 = 0.99;
/// Level of the two-sided interval that must lie wholly within ±tolerance for
/// unchanged (TOST at 5% on each side).
pub const EQUIVALENCE_LEVEL: f64 = 0.90;
/// A baseline median within this many noise floors of zero is judged on the absolute
/// scale (difference of medians against ±noise_floor).
pub const NEAR_ZERO_FLOORS: f64 = 3.0;
/// Repeats suggested for an inconclusive row are capped here; beyond it the row says
/// "more than 100".
pub const MAX_SUGGESTED_REPEATS: usize = 100;
/// The interval level shown in tables (the decision's).
pub const LEVEL: f64 = DECIDE_LEVEL;
/// Level of each side's own interval of its median (`Row::baseline_interval`,
/// `current_interval`: what `compare --svg` draws beside the medians).
pub const SIDE_LEVEL: f64 = 0.95;

/// A metric's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The 99% interval is wholly beyond the tolerance on the worse side.
    Regressed,
    /// Straddles a tolerance bound: the data do not decide.
    Inconclusive,
    /// The 99% interval is wholly beyond the tolerance on the better side.
    Improved,
    /// The 90% interval is wholly within ±tolerance.
    Unchanged,
    /// Fewer than `MIN_REPEATS` repeats on a side: no verdict.
    TooFewRepeats,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Self::Improved => "improved",
            Self::Unchanged => "unchanged",
            Self::Regressed => "REGRESSED",
            Self::Inconclusive => "inconclusive",
            Self::TooFewRepeats => "too few repeats",
        }
    }
}

/// The scale a metric's change is judged on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// median(current) / median(baseline) − 1, a fraction (0.05 = +5%).
    Relative,
    /// median(current) − median(baseline), in the metric's unit.
    Absolute,
}

/// What kind of figure a row judges (which ones are judged by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A declared metric without a noise floor (throughput, time per event).
    Headline,
    /// A declared metric with a noise floor (per-op counts).
    PerOp,
    /// p50 / p99 of a histogram (`--percentiles`).
    Percentile,
}

/// An interval of the change, on the row's scale.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub level: f64,
    pub low: f64,
    pub high: f64,
}

impl Interval {
    fn of(sorted: &[f64], level: f64) -> Self {
        let (low, high) = stats::percentile_interval(sorted, level);
        Self { level, low, high }
    }
}

/// One metric of one paired case.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub case: String,
    pub metric: String,
    pub unit: String,
    pub better: Better,
    pub kind: Kind,
    pub baseline_median: f64,
    pub current_median: f64,
    /// median(current) / median(baseline) − 1 (NaN when the baseline median is 0).
    pub change: f64,
    /// median(current) − median(baseline), in `unit`.
    pub difference: f64,
    /// The scale of `interval`, `equivalence` and `tolerance`.
    pub scale: Scale,
    /// The noise floor used, in `unit` (0: none).
    pub noise_floor: f64,
    /// The margin on `scale`: relative, max(threshold, noise_floor / |baseline median|);
    /// absolute, the noise floor.
    pub tolerance: f64,
    /// The decision interval (`DECIDE_LEVEL`) of the change on `scale`.
    pub interval: Interval,
    /// The equivalence interval (`EQUIVALENCE_LEVEL`) of the change on `scale`.
    pub equivalence: Interval,
    /// Two-sided Mann-Whitney U p-value (reported, not the decision).
    pub p_value: f64,
    pub n_baseline: usize,
    pub n_current: usize,
    pub verdict: Verdict,
    /// Inconclusive rows: repeats a side would likely decide it, assuming the spread
    /// stays as it is and the interval narrows as 1/√n (`None`: more than
    /// `MAX_SUGGESTED_REPEATS`, or the estimate sits on the tolerance bound).
    pub repeats_to_decide: Option<usize>,
    /// The noise the case's passes met on each side (`None`: not recorded, v1).
    pub noise_baseline: Option<CaseNoise>,
    pub noise_current: Option<CaseNoise>,
    /// The [`SIDE_LEVEL`] (95%) percentile-bootstrap interval of the baseline's median,
    /// in `unit` (`None`: fewer than 2 values).
    pub baseline_interval: Option<Interval>,
    /// The same for the current side.
    pub current_interval: Option<Interval>,
    /// Too few repeats: why, in words with what would fix it ("the baseline has 1
    /// repeat (run it with --repeat 3 or more, …)"); `None` for judged rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_verdict: Option<String>,
}

/// The worst noise any counted pass of a case met (schema v2 `repeats[].noise`), as a
/// share of the pass's wall time (`noise.wall_ns`, capped at 100%): CPU pressure (`/proc/pressure/cpu` "some": time at
/// least one runnable task waited for a CPU) and steal time. Shown beside inconclusive
/// rows, so a reader can tell a noisy run from a real change.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CaseNoise {
    /// Largest CPU-pressure share of a pass, % (`None`: no PSI on that machine).
    pub cpu_pressure_pct: Option<f64>,
    /// Largest steal-time share of a pass, %.
    pub steal_pct: f64,
}

impl CaseNoise {
    /// From the counted repeats' clean passes; `None` when none recorded noise.
    pub fn of(c: &Case) -> Option<Self> {
        let mut out: Option<Self> = None;
        for r in c.counted() {
            let Some(n) = &r.noise else { continue };
            // The window the noise was measured over: the whole pass (older documents
            // lack it: their measured time, which can make a share exceed 100%).
            let wall = if n.wall_ns > 0 {
                n.wall_ns
            } else {
                r.elapsed_ns
            } as f64;
            if wall <= 0.0 {
                continue;
            }
            let share = |ns: f64| (ns / wall * 100.0).min(100.0);
            let p = n.cpu_some_us.map(|us| share(us as f64 * 1e3));
            let st = share(n.steal_ns as f64);
            let o = out.get_or_insert(Self {
                cpu_pressure_pct: p,
                steal_pct: st,
            });
            o.cpu_pressure_pct = match (o.cpu_pressure_pct, p) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            o.steal_pct = o.steal_pct.max(st);
        }
        out
    }
}

/// Everything `compare` found.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub threshold: f64,
    pub decide_level: f64,
    pub equivalence_level: f64,
    /// Whether histogram percentiles were judged (`--percentiles`).
    pub percentiles: bool,
    /// Files pooled on each side.
    pub baseline_files: Vec<PathBuf>,
    pub current_files: Vec<PathBuf>,
    /// Machine differences (CPU model, CPU count, kernel), between the sides or within one.
    pub machine: Vec<String>,
    /// Differences in how the figures were measured (a schema v1 document's headlines
    /// come from probed repeats, a v2 one's from clean passes). `--strict`: exit 2.
    pub method: Vec<String>,
    /// Other reasons to doubt the comparison (debug builds, probes on one side only,
    /// options that differ within a pair).
    pub warnings: Vec<String>,
    /// Every judged metric: regressed first, then inconclusive, improved, unchanged, too
    /// few repeats; by case and metric within each.
    pub rows: Vec<Row>,
    /// Case ids only in CURRENT.
    pub added: Vec<String>,
    /// Case ids only in BASELINE.
    pub removed: Vec<String>,
    /// Whether inconclusive rows fail the gate (`--fail-on inconclusive`): the verdict
    /// line then says FAIL, as the exit status does.
    pub fail_on_inconclusive: bool,
}

impl Comparison {
    pub fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }
    pub fn regressed(&self) -> usize {
        self.count(Verdict::Regressed)
    }
    pub fn improved(&self) -> usize {
        self.count(Verdict::Improved)
    }
    pub fn inconclusive(&self) -> usize {
        self.count(Verdict::Inconclusive)
    }
    /// Rows with a verdict (all but "too few repeats").
    pub fn judged(&self) -> usize {
        self.rows.len() - self.count(Verdict::TooFewRepeats)
    }
    /// Whether the gate could not judge anything (every row had too few repeats): exit 2.
    pub fn nothing_judged(&self) -> bool {
        self.judged() == 0
    }
    /// The distinct reasons rows got no verdict (`Row::no_verdict`), in row order.
    pub fn no_verdict_causes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for why in self.rows.iter().filter_map(|r| r.no_verdict.as_deref()) {
            if !out.contains(&why) {
                out.push(why);
            }
        }
        out
    }
}

/// A judged series pair: scale, tolerance, intervals, verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    pub scale: Scale,
    pub tolerance: f64,
    pub interval: Interval,
    pub equivalence: Interval,
    pub p_value: f64,
    pub verdict: Verdict,
    pub repeats_to_decide: Option<usize>,
}

/// Judges one series pair (per-repeat values of one metric) against `threshold`
/// (relative) and `noise_floor` (absolute, in the metric's unit; 0 for none).
pub fn judge(
    base: &[f64],
    cur: &[f64],
    better: Better,
    threshold: f64,
    noise_floor: f64,
) -> Judgement {
    let mb = stats::median(base);
    let p_value = stats::mann_whitney_p(base, cur);
    let floor = noise_floor.max(0.0);
    let near_zero = mb.abs() <= NEAR_ZERO_FLOORS * floor || mb == 0.0;
    let (scale, tolerance) = if near_zero {
        (Scale::Absolute, floor)
    } else {
        (Scale::Relative, threshold.max(floor / mb.abs()))
    };
    let nan = Interval {
        level: DECIDE_LEVEL,
        low: f64::NAN,
        high: f64::NAN,
    };
    if base.len() < MIN_REPEATS || cur.len() < MIN_REPEATS || better == Better::Neither {
        return Judgement {
            scale,
            tolerance,
            interval: nan,
            equivalence: Interval {
                level: EQUIVALENCE_LEVEL,
                ..nan
            },
            p_value,
            verdict: Verdict::TooFewRepeats,
            repeats_to_decide: None,
        };
    }
    let dist = match scale {
        Scale::Relative => stats::bootstrap_medians(base, cur, |b, c| c / b - 1.0),
        Scale::Absolute => stats::bootstrap_medians(base, cur, |b, c| c - b),
    };
    let interval = Interval::of(&dist, DECIDE_LEVEL);
    let equivalence = Interval::of(&dist, EQUIVALENCE_LEVEL);
    // Oriented so that positive is worse.
    let sign = if better == Better::Lower { 1.0 } else { -1.0 };
    let (lo, hi) = oriented(interval, sign);
    let (elo, ehi) = oriented(equivalence, sign);
    let verdict = if lo.is_nan() || hi.is_nan() {
        Verdict::Inconclusive
    } else if lo > tolerance {
        Verdict::Regressed
    } else if hi < -tolerance {
        Verdict::Improved
    } else if elo > -tolerance && ehi < tolerance {
        Verdict::Unchanged
    } else {
        Verdict::Inconclusive
    };
    // A percentile-bootstrap interval of a median is too narrow with few repeats: at 3
    // vs 3 a true change exactly at the threshold crossed it in 5% of trials, not the
    // 0.5% the level promises. So a decisive verdict must also pass a distribution-free
    // check at the same level: the one-sided exact Mann-Whitney test that the current
    // values, moved back by the tolerance, still lie beyond the baseline's. It cannot
    // pass below 5 vs 5 (all separated: p = 1/252).
    let decisive = matches!(verdict, Verdict::Regressed | Verdict::Improved);
    let verdict = if decisive && !beyond_by_ranks(base, cur, scale, tolerance, interval) {
        Verdict::Inconclusive
    } else {
        verdict
    };
    let repeats_to_decide = (verdict == Verdict::Inconclusive)
        .then(|| {
            let mc = stats::median(cur);
            let estimate = match scale {
                Scale::Relative => mc / mb - 1.0,
                Scale::Absolute => mc - mb,
            };
            suggest_repeats(
                base.len().min(cur.len()),
                estimate,
                tolerance,
                interval,
                equivalence,
            )
        })
        .flatten();
    Judgement {
        scale,
        tolerance,
        interval,
        equivalence,
        p_value,
        verdict,
        repeats_to_decide,
    }
}

/// Whether the rank test agrees that the change lies beyond ±`tolerance` on the side
/// `interval` (the raw change, current vs baseline) says: one-sided Mann-Whitney of the
/// current values moved back by the tolerance against the baseline, p at most
/// (1 − `DECIDE_LEVEL`) / 2.
fn beyond_by_ranks(
    base: &[f64],
    cur: &[f64],
    scale: Scale,
    tolerance: f64,
    interval: Interval,
) -> bool {
    let alpha = (1.0 - DECIDE_LEVEL) / 2.0;
    let up = interval.low > 0.0;
    let moved: Vec<f64> = match (scale, up) {
        (Scale::Relative, true) => cur.iter().map(|c| c / (1.0 + tolerance)).collect(),
        // Below −100% no change can lie: nothing to move back.
        (Scale::Relative, false) if tolerance >= 1.0 => return false,
        (Scale::Relative, false) => cur.iter().map(|c| c / (1.0 - tolerance)).collect(),
        (Scale::Absolute, true) => cur.iter().map(|c| c - tolerance).collect(),
        (Scale::Absolute, false) => cur.iter().map(|c| c + tolerance).collect(),
    };
    let p = if up {
        stats::mann_whitney_p_greater(&moved, base)
    } else {
        stats::mann_whitney_p_greater(base, &moved)
    };
    p <= alpha + 1e-12
}

fn oriented(i: Interval, sign: f64) -> (f64, f64) {
    let (a, b) = (i.low * sign, i.high * sign);
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Repeats per side that would likely decide an inconclusive row: the interval that
/// decides it (the equivalence one when the estimate lies inside ±tolerance, the
/// decision one otherwise) must shrink to the estimate's distance from the bound; an
/// interval's width goes as 1/√n (same spread assumed), so n' = n·(half-width/distance)².
fn suggest_repeats(
    n: usize,
    estimate: f64,
    tolerance: f64,
    interval: Interval,
    equivalence: Interval,
) -> Option<usize> {
    let distance = (tolerance - estimate.abs()).abs();
    let used = if estimate.abs() < tolerance {
        equivalence
    } else {
        interval
    };
    let half = (used.high - used.low) / 2.0;
    if !(distance > 0.0 && half.is_finite() && estimate.is_finite()) {
        return None;
    }
    let want = (n as f64 * (half / distance).powi(2)).ceil();
    if want > MAX_SUGGESTED_REPEATS as f64 {
        return None;
    }
    Some((want as usize).max(n + 1))
}

/// One judged series of a case: (name, unit, better, kind, noise floor, values), and
/// where its values come from, to say why there are too few.
struct Series {
    name: String,
    unit: String,
    better: Better,
    kind: Kind,
    floor: f64,
    values: Vec<f64>,
    /// "metric ops_per_sec", "histogram round_trip_ns".
    source: String,
    /// Counted (judged, not interrupted) repeats without a value.
    missing: usize,
    /// Every counted repeat with a value had a probed pass, and some without one lack
    /// it: a kernel figure, which only probed rounds measure.
    probed_only: bool,
}

/// (missing, probed_only) of a series whose presence in a repeat `has` tells.
fn presence(c: &Case, has: impl Fn(&Repeat) -> bool) -> (usize, bool) {
    let missing = c.counted().filter(|r| !has(r)).count();
    let with_probe_only = c.counted().filter(|r| has(r)).all(|r| r.probed.is_some());
    let unprobed_lack = c.counted().any(|r| r.probed.is_none() && !has(r));
    (missing, missing > 0 && with_probe_only && unprobed_lack)
}

/// The series judged for a case: its declared metrics (but `better: neither`), then
/// with `percentiles` the p50 and p99 of each histogram but the per-syscall ones
/// (diagnostics: `syscalls_per_op` and the probes' own histograms stand for them).
fn series(c: &Case, percentiles: bool) -> Vec<Series> {
    let mut out: Vec<Series> = c
        .metrics
        .iter()
        .filter(|(_, m)| m.metric.better != Better::Neither)
        .map(|(name, m)| {
            let floor = m.metric.noise_floor.unwrap_or(0.0);
            let (missing, probed_only) =
                presence(c, |r| r.metrics.get(name).is_some_and(|v| v.is_finite()));
            Series {
                name: name.clone(),
                unit: m.metric.unit.clone(),
                better: m.metric.better,
                kind: if floor > 0.0 {
                    Kind::PerOp
                } else {
                    Kind::Headline
                },
                floor,
                values: c.values(name),
                source: format!("metric {name}"),
                missing,
                probed_only,
            }
        })
        .collect();
    if !percentiles {
        return out;
    }
    for (name, info) in &c.histograms {
        if name.starts_with("kernel.syscall.") {
            continue;
        }
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            let hists: Vec<_> = c
                .counted()
                .filter_map(|r| r.histograms.get(name))
                .map(|h| h.hdr.decode())
                .collect();
            let values: Vec<f64> = hists
                .iter()
                .map(|h| h.value_at_quantile(q) as f64)
                .collect();
            // One bucket of the histogram at the median value: HdrHistogram cannot tell
            // values inside one bucket apart.
            let floor = hists.first().map_or(0.0, |h| {
                h.equivalent_range(stats::median(&values) as u64) as f64
            });
            let (missing, probed_only) = presence(c, |r| r.histograms.contains_key(name));
            out.push(Series {
                name: format!("{name}.{label}"),
                unit: info.unit.clone(),
                better: Better::Lower,
                kind: Kind::Percentile,
                floor,
                values,
                source: format!("histogram {name}"),
                missing,
                probed_only,
            });
        }
    }
    out
}

/// "1 repeat", "2 repeats".
fn repeats_word(n: usize) -> String {
    format!("{n} repeat{}", if n == 1 { "" } else { "s" })
}

/// Why one side has fewer than [`MIN_REPEATS`] values of series `s` of case `c`, with
/// what would fix it; `None` when it has enough. The causes, in the order checked: the
/// side has too few repeats of the case; some were interrupted; the figure comes from
/// probed passes only (kernel figures: the first 3 rounds, when the probes load); the
/// figure is missing in some repeats (a histogram or value some repeats did not record).
fn few_cause(side: &str, c: &Case, s: &Series) -> Option<String> {
    let have = s.values.len();
    if have >= MIN_REPEATS {
        return None;
    }
    let total = c.repeats.len();
    let counted = c.counted().count();
    // What makes more repeats: `evbench run --repeat N`, but for a trace document
    // (`evbench trace`, workload "trace") each --interval is a repeat, and every
    // interval is probed whole.
    let trace = c.workload == "trace";
    let more = if trace {
        "with --interval (each interval is a repeat: e.g. --interval 1s over 3 s or more)"
    } else {
        "with --repeat 3 or more"
    };
    // Interrupted repeats come first as the cause: "has 2 repeats" when one of the two
    // was cut short named the wrong one.
    let cut: Vec<String> = c
        .repeats
        .iter()
        .filter(|r| r.interrupted)
        .map(|r| r.index.to_string())
        .collect();
    Some(if counted < MIN_REPEATS && !cut.is_empty() {
        format!(
            "the {side}'s {} {} interrupted, leaving {} of its {total} (measure it again{})",
            if cut.len() == 1 { "repeat" } else { "repeats" },
            match cut.as_slice() {
                [one] => format!("{one} was"),
                [init @ .., last] => format!("{} and {last} were", init.join(", ")),
                [] => unreachable!("cut is not empty"),
            },
            repeats_word(counted),
            if total < MIN_REPEATS {
                format!(", {more}")
            } else {
                String::new()
            }
        )
    } else if total < MIN_REPEATS {
        format!(
            "the {side} has {} of it ({} {more}, or pool more files per side)",
            repeats_word(total),
            if trace { "trace it" } else { "run it" }
        )
    } else if s.probed_only && !trace {
        format!(
            "{} comes from probed passes, which only {have} of the {side}'s {counted} repeats had (a run probes at most 3 rounds: pool more files per side)",
            s.source
        )
    } else {
        format!(
            "{} is missing in {} of the {side}'s {counted} repeats (those repeats did not record it)",
            s.source, s.missing
        )
    })
}

/// How option `key` of `Case::options` is set on the command line, and the unit of
/// its recorded value: `("--think", " ns")` for `think_ns`. Keys that are no flag keep
/// their name ("option stall_timeout").
fn option_flag(key: &str) -> (String, &'static str) {
    const SAME: [&str; 18] = [
        "rounds",
        "pin",
        "tasks",
        "topology",
        "exclusive",
        "mechanism",
        "wait",
        "channels",
        "active",
        "writes",
        "workers",
        "body_size",
        "server_cpu",
        "client_cpu",
        "connections",
        "rate",
        "threads",
        "path",
    ];
    match key {
        "warmup" => ("--warmup-rounds".into(), ""),
        "think_ns" => ("--think".into(), " ns"),
        "duration_s" => ("--duration".into(), " s"),
        "warmup_s" => ("--warmup-time".into(), " s"),
        "timeout_s" => ("--timeout".into(), " s"),
        "interval_s" => ("--interval".into(), " s"),
        "keep_alive" => ("keep-alive (--no-keepalive)".into(), ""),
        k if SAME.contains(&k) => (format!("--{}", k.replace('_', "-")), ""),
        k => (format!("option {k}"), ""),
    }
}

/// An option's recorded value for a message: strings bare, absent or null "unset".
fn option_value(v: Option<&serde_json::Value>, unit: &str) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "unset".into(),
        Some(serde_json::Value::String(s)) => format!("{s}{unit}"),
        Some(v) => format!("{v}{unit}"),
    }
}

/// "--rounds 10000 vs 20000, --think 0 ns vs 20000 ns": every option whose value
/// differs between a pair's baseline and current, baseline first.
pub fn options_difference(
    base: &std::collections::BTreeMap<String, serde_json::Value>,
    cur: &std::collections::BTreeMap<String, serde_json::Value>,
) -> String {
    let keys: std::collections::BTreeSet<&String> = base
        .keys()
        .chain(cur.keys())
        .filter(|k| base.get(*k) != cur.get(*k))
        .collect();
    keys.into_iter()
        .map(|k| {
            let (flag, unit) = option_flag(k);
            format!(
                "{flag} {} vs {}",
                option_value(base.get(k), unit),
                option_value(cur.get(k), unit)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why documents cannot be compared at all.
#[derive(Debug)]
pub enum Unusable {
    Read {
        which: &'static str,
        err: ReadError,
    },
    NothingInCommon(String),
    /// One file given twice (same path, inode or content), on one side or both.
    Duplicate(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read { which, err } => write!(f, "{which}: {err}"),
            Self::NothingInCommon(m) | Self::Duplicate(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Unusable {}

/// Options of a comparison.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Relative tolerance (0.05 for 5%).
    pub threshold: f64,
    /// Also judge p50 / p99 of every histogram.
    pub percentiles: bool,
}

impl Settings {
    pub fn new(threshold: f64) -> Self {
        Self {
            threshold,
            percentiles: false,
        }
    }
}

/// Pools several documents of one side into one: each case's judged repeats are the
/// repeats of that case in every document, in the order given (re-numbered); a case in
/// some documents only keeps what they have. The first document gives provenance,
/// machine and options; machines that differ within the side are returned as messages.
pub fn pool(docs: Vec<RunResult>, side: &str) -> (RunResult, Vec<String>) {
    let p = pool_side(docs, side);
    (p.doc, p.machine)
}

/// One side's documents pooled ([`pool`]), with what a reader must know about them.
#[derive(Debug)]
pub struct Pooled {
    pub doc: RunResult,
    /// Machine differences within the side ("baseline file 2 vs file 1: …").
    pub machine: Vec<String>,
    /// Options that differ within the side for one case (naming option and both
    /// values), and cases pooled from unequal numbers of repeats per file.
    pub warnings: Vec<String>,
    /// Each file's schema version, in order.
    pub versions: Vec<u32>,
}

/// [`pool`] with every message: machines, options that differ between the files of
/// the side (each case against the first file that has it), and cases whose counted
/// repeats differ from file to file (a file without the case counts 0: the pooled
/// figure leans to the files with more).
pub fn pool_side(mut docs: Vec<RunResult>, side: &str) -> Pooled {
    let versions: Vec<u32> = docs.iter().map(|d| d.schema_version).collect();
    let files = docs.len();
    let mut machine = Vec::new();
    let mut warnings = Vec::new();
    let mut first = docs.remove(0);
    // Per case: file (1-based) that gave its options, and counted repeats per file.
    let mut origin: std::collections::BTreeMap<String, (usize, Vec<usize>)> = first
        .cases
        .iter()
        .map(|c| {
            let mut n = vec![0; files];
            n[0] = c.counted().count();
            (c.id.clone(), (1, n))
        })
        .collect();
    for (k, d) in docs.into_iter().enumerate() {
        let file = k + 2;
        for m in first.machine.differences(&d.machine) {
            machine.push(format!("{side} file {file} vs file 1: {m}"));
        }
        first.interrupted |= d.interrupted;
        for c in d.cases {
            let counted = c.counted().count();
            let entry = origin
                .entry(c.id.clone())
                .or_insert_with(|| (file, vec![0; files]));
            entry.1[file - 1] += counted;
            match first.cases.iter_mut().find(|x| x.id == c.id) {
                Some(into) => {
                    if into.options != c.options {
                        warnings.push(format!(
                            "{side} file {file} vs file {}: {}: options differ ({}): pooled anyway",
                            entry.0,
                            c.id,
                            options_diff(&into.options, &c.options)
                        ));
                    }
                    for (name, m) in c.metrics {
                        into.metrics.entry(name).or_insert(m);
                    }
                    for mut r in c.repeats {
                        r.index = into.repeats.len() as u32 + 1;
                        into.repeats.push(r);
                    }
                    into.refresh();
                }
                None => first.cases.push(c),
            }
        }
    }
    if files > 1 {
        for (id, (_, n)) in &origin {
            if n.iter().any(|&x| x != n[0]) {
                let each: Vec<String> = n.iter().map(usize::to_string).collect();
                warnings.push(format!(
                    "{side}: {id} pools unequal repeats from its {files} files ({}, {} in all): the files with more weigh more",
                    each.join(" + "),
                    n.iter().sum::<usize>()
                ));
            }
        }
    }
    Pooled {
        doc: first,
        machine,
        warnings,
        versions,
    }
}

/// "think: 0 vs 500, writes: 2000 vs (absent)": every option whose value differs, `a`'s
/// value first.
fn options_diff(
    a: &std::collections::BTreeMap<String, serde_json::Value>,
    b: &std::collections::BTreeMap<String, serde_json::Value>,
) -> String {
    let show = |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
    a.keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} vs {}", show(a.get(k)), show(b.get(k))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The method message when the documents mix schema v1 (headlines from probed repeats)
/// and v2 (headlines from clean passes), whichever file and side they are: every file
/// is checked, not only the first of a side.
fn mixed_methods(base: &[u32], cur: &[u32]) -> Option<String> {
    let all: Vec<(&str, usize, u32)> = base
        .iter()
        .enumerate()
        .map(|(i, &v)| ("baseline", i + 1, v))
        .chain(cur.iter().enumerate().map(|(i, &v)| ("current", i + 1, v)))
        .collect();
    let v1: Vec<String> = all
        .iter()
        .filter(|(_, _, v)| *v < 2)
        .map(|(s, i, v)| format!("{s} file {i} (v{v})"))
        .collect();
    if v1.is_empty() || v1.len() == all.len() {
        return None;
    }
    Some(format!(
        "schema v1 and v2 documents are mixed ({} of {} files are v1: {}): v1 headlines were measured with the probes attached, v2 headlines in clean passes without them, so the headlines were measured differently",
        v1.len(),
        all.len(),
        v1.join(", ")
    ))
}

/// Compares two documents.
pub fn compare(base: &RunResult, cur: &RunResult, threshold: f64) -> Result<Comparison, Unusable> {
    compare_with(base, cur, Settings::new(threshold))
}

/// Compares two documents with `settings`. `Err`: nothing in common (no shared case or
/// metric). A comparison where nothing was judged is `Ok` with `nothing_judged()`.
pub fn compare_with(
    base: &RunResult,
    cur: &RunResult,
    settings: Settings,
) -> Result<Comparison, Unusable> {
    let threshold = settings.threshold;
    let machine = base.machine.differences(&cur.machine);
    let mut warnings = Vec::new();
    for (which, r) in [("baseline", base), ("current", cur)] {
        if r.provenance.build_profile == "debug" {
            warnings.push(format!(
                "{which} is a DEBUG build: its figures mean nothing"
            ));
        }
        if r.interrupted {
            warnings.push(format!("{which} was interrupted: it covers fewer repeats"));
        }
    }
    let mut method = Vec::new();
    if (base.schema_version < 2) != (cur.schema_version < 2) {
        method.push(format!(
            "the baseline is a schema v{} document and the current a v{} one: v1 headlines were measured with the probes attached, v2 headlines in clean passes without them, so the headlines were measured differently",
            base.schema_version, cur.schema_version
        ));
    }
    if base.probes.on != cur.probes.on {
        warnings.push(format!(
            "probes were {} in the baseline and {} now: kernel figures are compared only where both have them",
            if base.probes.on { "on" } else { "off" },
            if cur.probes.on { "on" } else { "off" }
        ));
    }
    let mut rows = Vec::new();
    let mut paired = 0;
    for c in &cur.cases {
        let Some(b) = base.case(&c.id) else { continue };
        paired += 1;
        if b.options != c.options {
            warnings.push(format!(
                "{}: options differ between the two runs: {} (baseline vs current)",
                c.id,
                options_difference(&b.options, &c.options)
            ));
        }
        let (nb, nc) = (CaseNoise::of(b), CaseNoise::of(c));
        let bs = series(b, settings.percentiles);
        let cs = series(c, settings.percentiles);
        // A metric judged on one side only cannot be compared; saying nothing would
        // let a lost headline pass as "unchanged of N".
        let has =
            |v: &Vec<Series>, name: &str| v.iter().any(|x| x.name == name && !x.values.is_empty());
        for (side, other, mine, theirs) in [
            ("baseline", "current", &bs, &cs),
            ("current", "baseline", &cs, &bs),
        ] {
            for s in mine.iter().filter(|s| !s.values.is_empty()) {
                if !has(theirs, &s.name) {
                    warnings.push(format!(
                        "{}: {} is in the {side} but missing from the {other}: not judged",
                        c.id, s.name
                    ));
                }
            }
        }
        for s in cs {
            let Some(bser) = bs.iter().find(|x| x.name == s.name) else {
                continue;
            };
            let (bv, cv) = (&bser.values, &s.values);
            if bv.is_empty() || cv.is_empty() {
                continue;
            }
            // The baseline declares the floor (both sides of one workload agree).
            let floor = if bser.floor > 0.0 {
                bser.floor
            } else {
                s.floor
            };
            let j = judge(bv, cv, s.better, threshold, floor);
            let (mb, mc) = (stats::median(bv), stats::median(cv));
            let side = |xs: &[f64]| {
                stats::bootstrap_median_ci(xs, SIDE_LEVEL).map(|(low, high)| Interval {
                    level: SIDE_LEVEL,
                    low,
                    high,
                })
            };
            let no_verdict = (j.verdict == Verdict::TooFewRepeats)
                .then(|| {
                    [few_cause("baseline", b, bser), few_cause("current", c, &s)]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|why| !why.is_empty());
            rows.push(Row {
                case: c.id.clone(),
                metric: s.name,
                unit: s.unit,
                better: s.better,
                kind: s.kind,
                baseline_median: mb,
                current_median: mc,
                change: if mb == 0.0 { f64::NAN } else { mc / mb - 1.0 },
                difference: mc - mb,
                scale: j.scale,
                noise_floor: floor,
                tolerance: j.tolerance,
                interval: j.interval,
                equivalence: j.equivalence,
                p_value: j.p_value,
                n_baseline: bv.len(),
                n_current: cv.len(),
                verdict: j.verdict,
                repeats_to_decide: j.repeats_to_decide,
                noise_baseline: nb,
                noise_current: nc,
                baseline_interval: side(bv),
                current_interval: side(cv),
                no_verdict,
            });
        }
    }
    let added: Vec<String> = cur
        .cases
        .iter()
        .filter(|c| base.case(&c.id).is_none())
        .map(|c| c.id.clone())
        .collect();
    let removed: Vec<String> = base
        .cases
        .iter()
        .filter(|c| cur.case(&c.id).is_none())
        .map(|c| c.id.clone())
        .collect();
    if paired == 0 {
        return Err(Unusable::NothingInCommon(format!(
            "nothing in common: no case is in both files (baseline: {}; current: {})",
            list(&removed),
            list(&added)
        )));
    }
    if rows.is_empty() {
        return Err(Unusable::NothingInCommon(
            "nothing in common: the paired cases share no metric".into(),
        ));
    }
    warnings.extend(no_verdict_lines(&rows));
    rows.sort_by_key(|r| rank(r.verdict));
    Ok(Comparison {
        threshold,
        decide_level: DECIDE_LEVEL,
        equivalence_level: EQUIVALENCE_LEVEL,
        percentiles: settings.percentiles,
        baseline_files: Vec::new(),
        current_files: Vec::new(),
        machine,
        method,
        warnings,
        rows,
        added,
        removed,
        fail_on_inconclusive: false,
    })
}

/// One warning per cause of "too few repeats": how many metrics of which cases it
/// leaves without a verdict, and why ([`few_cause`]).
fn no_verdict_lines(rows: &[Row]) -> Vec<String> {
    let mut causes: Vec<(&str, Vec<&Row>)> = Vec::new();
    for r in rows {
        let Some(why) = r.no_verdict.as_deref() else {
            continue;
        };
        match causes.iter_mut().find(|(w, _)| *w == why) {
            Some((_, v)) => v.push(r),
            None => causes.push((why, vec![r])),
        }
    }
    let all = causes.iter().map(|(_, v)| v.len()).sum::<usize>() == rows.len();
    causes
        .into_iter()
        .map(|(why, v)| {
            let mut cases: Vec<&str> = v.iter().map(|r| r.case.as_str()).collect();
            cases.dedup();
            let shown = if cases.len() > 3 {
                format!(
                    "{} and {} more cases",
                    cases[..3].join(", "),
                    cases.len() - 3
                )
            } else {
                cases.join(", ")
            };
            format!(
                "{}{} of {shown}: no verdict (fewer than {MIN_REPEATS} repeats on a side): {why}",
                if all { "nothing judged: " } else { "" },
                match v.len() {
                    1 => format!("1 metric ({})", v[0].metric),
                    n => format!("{n} metrics"),
                },
            )
        })
        .collect()
}

/// Order of verdicts in every table: what needs attention first.
fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Regressed => 0,
        Verdict::Inconclusive => 1,
        Verdict::Improved => 2,
        Verdict::Unchanged => 3,
        Verdict::TooFewRepeats => 4,
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Parses a threshold: "5%" (percent) or a fraction below 1 ("0.05"). A bare number of
/// 1 or more is refused: "5" could mean 5% or 500%.
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    // Exactly "5%" or "0.05": no spaces inside, so what was meant is never a guess.
    let (num, pct) = match s.strip_suffix('%') {
        Some(n) => (n, true),
        None => (s, false),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: must be a percentage (5%) or a fraction below 1 (0.05)"))?;
    if !v.is_finite() {
        return Err(format!(
            "{s:?}: must be a percentage (5%) or a fraction below 1 (0.05)"
        ));
    }
    let v = if pct { v / 100.0 } else { v };
    if !pct && v >= 1.0 {
        return Err(format!(
            "{s:?}: write a percentage with % ({s}%) or a fraction below 1"
        ));
    }
    if !(v > 0.0 && v < 1.0) {
        return Err(format!(
            "{s:?}: the threshold must be more than 0% and less than 100%"
        ));
    }
    Ok(v)
}

/// Reads every file of each side, pools each side ([`pool_side`]), and compares them.
/// `Err` is unusable input (exit 2): a file that cannot be read or is not a results
/// document, or one file given twice — the same path (or inode), or the same content,
/// on one side or on both (pooled twice it counts its repeats twice and turns an
/// inconclusive row decisive; on both sides it compares a run with itself).
pub fn compare_files(
    base: &[PathBuf],
    cur: &[PathBuf],
    settings: Settings,
) -> Result<Comparison, Unusable> {
    use std::os::unix::fs::MetadataExt;
    for (which, paths) in [("baseline", base), ("current", cur)] {
        if paths.is_empty() {
            return Err(Unusable::Read {
                which,
                err: ReadError::Unreadable("no file given".into()),
            });
        }
    }
    let named: Vec<(&'static str, usize, &PathBuf)> = base
        .iter()
        .enumerate()
        .map(|(i, p)| ("baseline", i + 1, p))
        .chain(cur.iter().enumerate().map(|(i, p)| ("current", i + 1, p)))
        .collect();
    // (device, inode) and bytes of each file read so far.
    type Seen = (Option<(u64, u64)>, Vec<u8>);
    let mut seen: Vec<Seen> = Vec::new();
    for &(which, i, p) in &named {
        let bytes = std::fs::read(p).map_err(|e| Unusable::Read {
            which,
            err: ReadError::Unreadable(format!("cannot read {}: {e}", p.display())),
        })?;
        let ino = std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        for (j, (ino2, bytes2)) in seen.iter().enumerate() {
            let (w2, i2, p2) = named[j];
            let how = if ino.is_some() && ino == *ino2 {
                "is the same file as"
            } else if bytes == *bytes2 {
                "has the same content as"
            } else {
                continue;
            };
            return Err(Unusable::Duplicate(format!(
                "{which} file {i} ({}) {how} {w2} file {i2} ({}): give each run once",
                p.display(),
                p2.display()
            )));
        }
        seen.push((ino, bytes));
    }
    let read = |paths: &[PathBuf], which: &'static str| -> Result<Vec<RunResult>, Unusable> {
        paths
            .iter()
            .map(|p| RunResult::read(p).map_err(|err| Unusable::Read { which, err }))
            .collect()
    };
    let b = pool_side(read(base, "baseline")?, "baseline");
    let c = pool_side(read(cur, "current")?, "current");
    let mut out = compare_with(&b.doc, &c.doc, settings)?;
    out.method = mixed_methods(&b.versions, &c.versions)
        .into_iter()
        .collect();
    out.machine.extend(b.machine);
    out.machine.extend(c.machine);
    out.warnings
        .splice(0..0, b.warnings.into_iter().chain(c.warnings));
    out.baseline_files = base.to_vec();
    out.current_files = cur.to_vec();
    Ok(out)
}

/// Convenience: one file a side.
pub fn compare_two(base: &Path, cur: &Path, threshold: f64) -> Result<Comparison, Unusable> {
    compare_files(
        &[base.to_path_buf()],
        &[cur.to_path_buf()],
        Settings::new(threshold),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A per-op count near zero: 0.0012 → 0.053 switches/op is +4000%, yet one stray
    /// preemption in twenty operations: judged on the absolute scale it is well within
    /// the 0.1 floor (unchanged); without a floor it is a regression.
    #[test]
    fn changes_below_the_noise_floor_are_unchanged() {
        let base = [0.001, 0.0012, 0.0011, 0.0015, 0.001];
        let cur = [0.05, 0.053, 0.051, 0.055, 0.052];
        assert_eq!(
            judge(&base, &cur, Better::Lower, 0.05, 0.0).verdict,
            Verdict::Regressed
        );
        let j = judge(
            &base,
            &cur,
            Better::Lower,
            0.05,
            super::super::PER_OP_NOISE_FLOOR,
        );
        assert_eq!(j.scale, Scale::Absolute);
        assert_eq!(j.verdict, Verdict::Unchanged);
        // Above the floor the relative rule decides: 0.5 → 1.0 is +100% and +0.5/op.
        let worse = [1.0, 1.02, 1.01, 1.03, 1.0];
        let base = [0.5, 0.51, 0.5, 0.52, 0.5];
        let j = judge(
            &base,
            &worse,
            Better::Lower,
            0.05,
            super::super::PER_OP_NOISE_FLOOR,
        );
        assert_eq!(j.scale, Scale::Relative);
        assert_eq!(j.verdict, Verdict::Regressed);
        // Its tolerance is the floor's share of the baseline median (0.1 / 0.5).
        assert!((j.tolerance - 0.1 / 0.5).abs() < 1e-12);
    }

    /// Inconclusive suggests more repeats: a straddling interval with n = 5 and an
    /// estimate half-way between 0 and the tolerance.
    #[test]
    fn suggested_repeats_follow_one_over_root_n() {
        let i = |lo, hi, level| Interval {
            level,
            low: lo,
            high: hi,
        };
        // Estimate 0.025 inside ±0.05: the 90% half-width 0.05 must shrink to 0.025:
        // n' = 5 · 2² = 20.
        assert_eq!(
            suggest_repeats(5, 0.025, 0.05, i(-0.1, 0.15, 0.99), i(-0.025, 0.075, 0.9)),
            Some(20)
        );
        // Estimate 0.10 beyond 0.05: the 99% half-width 0.1 must shrink to 0.05: 20.
        assert_eq!(
            suggest_repeats(5, 0.10, 0.05, i(0.0, 0.2, 0.99), i(0.05, 0.15, 0.9)),
            Some(20)
        );
        // On the bound: nothing decides it.
        assert_eq!(
            suggest_repeats(5, 0.05, 0.05, i(0.0, 0.1, 0.99), i(0.0, 0.1, 0.9)),
            None
        );
    }
}
