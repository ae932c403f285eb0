//! The regression gate's judgement of two results documents (`evbench compare`).
//!
//! Cases pair by `id`; within a pair, every metric both sides measured, and the p50 and
//! p99 of every histogram both sides kept (but the per-syscall ones), are judged from their per-repeat values:
//! the 95% bootstrap interval of median(current) / median(baseline) against the noise
//! threshold, as criterion does. The change is a regression only when the whole
//! interval lies beyond the threshold in the worse direction, an improvement when it
//! lies beyond it in the better one, and unchanged otherwise. The Mann-Whitney U
//! p-value is reported beside it for readers who think in p-values.
use std::path::Path;

use serde::Serialize;

use super::{stats, Better, Case, ReadError, RunResult};

/// Fewest repeats a side needs before a metric is judged.
pub const MIN_REPEATS: usize = 3;
/// Confidence level of the interval.
pub const LEVEL: f64 = 0.95;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    Unchanged,
    Regressed,
    /// Fewer than `MIN_REPEATS` repeats on a side: no verdict, never a failure.
    TooFewRepeats,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Self::Improved => "improved",
            Self::Unchanged => "unchanged",
            Self::Regressed => "REGRESSED",
            Self::TooFewRepeats => "too few repeats",
        }
    }
}

/// One metric of one paired case.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub case: String,
    pub metric: String,
    pub unit: String,
    pub better: Better,
    pub baseline_median: f64,
    pub current_median: f64,
    /// median(current) / median(baseline) − 1.
    pub change: f64,
    /// The interval of `change` at `LEVEL`.
    pub ci: (f64, f64),
    /// Two-sided Mann-Whitney U p-value.
    pub p_value: f64,
    pub n_baseline: usize,
    pub n_current: usize,
    pub verdict: Verdict,
}

/// Everything `compare` found.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub threshold: f64,
    /// Machine differences (CPU model, CPU count, kernel).
    pub machine: Vec<String>,
    /// Differences in how the figures were measured (a schema v1 document's headlines
    /// come from probed repeats, a v2 one's from clean passes). `--strict`: exit 2.
    #[serde(default)]
    pub method: Vec<String>,
    /// Other reasons to doubt the comparison (debug builds, probes on one side only,
    /// options that differ within a pair).
    pub warnings: Vec<String>,
    pub rows: Vec<Row>,
    /// Case ids only in CURRENT.
    pub added: Vec<String>,
    /// Case ids only in BASELINE.
    pub removed: Vec<String>,
}

impl Comparison {
    pub fn regressed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regressed)
            .count()
    }
    pub fn improved(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Improved)
            .count()
    }
}

/// Judges one series pair.
pub fn judge(
    base: &[f64],
    cur: &[f64],
    better: Better,
    threshold: f64,
    noise_floor: f64,
) -> (f64, (f64, f64), f64, Verdict) {
    let (mb, mc) = (stats::median(base), stats::median(cur));
    let change = mc / mb - 1.0;
    let p = stats::mann_whitney_p(base, cur);
    if base.len() < MIN_REPEATS || cur.len() < MIN_REPEATS {
        return (change, (f64::NAN, f64::NAN), p, Verdict::TooFewRepeats);
    }
    let (lo, hi) = stats::bootstrap_ratio_ci(base, cur, LEVEL);
    let ci = (lo - 1.0, hi - 1.0);
    let verdict = if !(ci.0.is_finite() && ci.1.is_finite()) || (mc - mb).abs() < noise_floor {
        Verdict::Unchanged
    } else {
        let (worse_up, better_up) = match better {
            Better::Lower => (ci.0 > threshold, ci.1 < -threshold),
            Better::Higher => (ci.1 < -threshold, ci.0 > threshold),
            Better::Neither => (false, false),
        };
        if worse_up {
            Verdict::Regressed
        } else if better_up {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        }
    };
    (change, ci, p, verdict)
}

/// The series compared for a case: its metrics, then p50 and p99 of each histogram but
/// the per-syscall ones (diagnostics: judging each syscall's tail would multiply the
/// false alarms; `syscalls_per_op` and the probes' own histograms stand for them).
fn series(c: &Case) -> Vec<(String, String, Better, f64, Vec<f64>)> {
    let mut out: Vec<_> = c
        .metrics
        .iter()
        .filter(|(_, m)| m.metric.better != Better::Neither)
        .map(|(name, m)| {
            (
                name.clone(),
                m.metric.unit.clone(),
                m.metric.better,
                m.metric.noise_floor.unwrap_or(0.0),
                c.values(name),
            )
        })
        .collect();
    for (name, info) in &c.histograms {
        if name.starts_with("kernel.syscall.") {
            continue;
        }
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            let v: Vec<f64> = c
                .repeats
                .iter()
                .filter_map(|r| r.histograms.get(name))
                .map(|h| h.hdr.value_at_quantile(q) as f64)
                .collect();
            out.push((
                format!("{name}.{label}"),
                info.unit.clone(),
                Better::Lower,
                0.0,
                v,
            ));
        }
    }
    out
}

/// Why two documents cannot be compared at all.
#[derive(Debug)]
pub enum Unusable {
    Read { which: &'static str, err: ReadError },
    NothingInCommon(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read { which, err } => write!(f, "{which}: {err}"),
            Self::NothingInCommon(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Unusable {}

/// Compares two documents.
pub fn compare(base: &RunResult, cur: &RunResult, threshold: f64) -> Result<Comparison, Unusable> {
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
            warnings.push(format!("{}: options differ between the two runs", c.id));
        }
        let bs = series(b);
        for (name, unit, better, floor, cv) in series(c) {
            let Some((_, _, _, _, bv)) = bs.iter().find(|(n, ..)| *n == name) else {
                continue;
            };
            if bv.is_empty() || cv.is_empty() {
                continue;
            }
            let (change, ci, p_value, verdict) = judge(bv, &cv, better, threshold, floor);
            rows.push(Row {
                case: c.id.clone(),
                metric: name,
                unit,
                better,
                baseline_median: stats::median(bv),
                current_median: stats::median(&cv),
                change,
                ci,
                p_value,
                n_baseline: bv.len(),
                n_current: cv.len(),
                verdict,
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
    if rows.iter().any(|r| r.verdict == Verdict::TooFewRepeats) {
        warnings.push(format!(
            "some metrics have fewer than {MIN_REPEATS} repeats on a side and get no verdict: run with --repeat 5"
        ));
    }
    Ok(Comparison {
        threshold,
        machine,
        method,
        warnings,
        rows,
        added,
        removed,
    })
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
        .map_err(|_| format!("{s:?} is not a threshold (write 5% or 0.05)"))?;
    if !v.is_finite() {
        return Err(format!("{s:?} is not a threshold (write 5% or 0.05)"));
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

/// Reads both files and compares them. `Err` is unusable input (exit 2).
pub fn compare_files(base: &Path, cur: &Path, threshold: f64) -> Result<Comparison, Unusable> {
    let b = RunResult::read(base).map_err(|err| Unusable::Read {
        which: "baseline",
        err,
    })?;
    let c = RunResult::read(cur).map_err(|err| Unusable::Read {
        which: "current",
        err,
    })?;
    compare(&b, &c, threshold)
}

#[cfg(test)]
mod noise_floor_tests {
    use super::*;

    /// A per-op count near zero: 0.0012 → 0.053 switches/op is +4000%, a certain change
    /// by the bootstrap, yet one stray preemption in twenty operations. Below the floor
    /// it is unchanged; without a floor it is a regression.
    #[test]
    fn changes_below_the_noise_floor_are_unchanged() {
        let base = [0.001, 0.0012, 0.0011, 0.0015, 0.001];
        let cur = [0.05, 0.053, 0.051, 0.055, 0.052];
        assert_eq!(
            judge(&base, &cur, Better::Lower, 0.05, 0.0).3,
            Verdict::Regressed
        );
        assert_eq!(
            judge(
                &base,
                &cur,
                Better::Lower,
                0.05,
                crate::results::PER_OP_NOISE_FLOOR
            )
            .3,
            Verdict::Unchanged
        );
        // Above the floor the relative rule decides as before.
        let worse = [1.0, 1.02, 1.01, 1.03, 1.0];
        let base = [0.5, 0.51, 0.5, 0.52, 0.5];
        assert_eq!(
            judge(
                &base,
                &worse,
                Better::Lower,
                0.05,
                crate::results::PER_OP_NOISE_FLOOR
            )
            .3,
            Verdict::Regressed
        );
    }
}
