//! Renderings of a results document, one file per format (as hyperfine does): the
//! terminal report, Markdown, SVG plots, HTML, and the HdrHistogram interval log.
//! They share the tables built here, so every format shows the same figures.
pub mod compare;
pub mod compare_svg;
pub mod csv;
pub mod hlog;
pub mod html;
pub mod human;
pub mod markdown;
pub mod prometheus;
pub mod scan;
pub mod svg;
pub mod terminal;

use hdrhistogram::Histogram;

use crate::{
    output::{figure, scaled, time_scale, NO_DATA},
    results::{Better, Case, Repeat, RunResult, PROBE_SLOWDOWN},
};

/// A table every format renders its own way.
#[derive(Clone, Debug)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    /// Right-aligned (numeric) columns.
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Plain text with aligned columns.
    pub fn text(&self) -> String {
        let cols = self.header.len();
        let width = |i: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let line = |r: &Vec<String>| {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let c = r.get(i).map_or("", String::as_str);
                    let pad = " ".repeat(widths[i] - c.chars().count());
                    if self.numeric.get(i).copied().unwrap_or(false) {
                        format!("{pad}{c}")
                    } else {
                        format!("{c}{pad}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        };
        let mut out = format!("{}\n{}\n", self.title, line(&self.header));
        out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1)));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table under a `###` title.
    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = format!(
            "### {}\n\n| {} |\n|",
            self.title,
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for i in 0..self.header.len() {
            out.push_str(if self.numeric.get(i).copied().unwrap_or(false) {
                "--:|"
            } else {
                "---|"
            });
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }

    /// An HTML table with a caption.
    pub fn html(&self) -> String {
        let mut out = format!("<table>\n<caption>{}</caption>\n<tr>", escape(&self.title));
        for h in &self.header {
            out.push_str(&format!("<th>{}</th>", escape(h)));
        }
        out.push_str("</tr>\n");
        for r in &self.rows {
            out.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let class = if self.numeric.get(i).copied().unwrap_or(false) {
                    " class=\"n\""
                } else {
                    ""
                };
                out.push_str(&format!("<td{class}>{}</td>", escape(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    }
}

/// HTML/XML text escaping.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Cases grouped by workload, in the order they ran (their metrics line up).
pub fn groups(r: &RunResult) -> Vec<(String, Vec<&Case>)> {
    let mut out: Vec<(String, Vec<&Case>)> = Vec::new();
    for c in &r.cases {
        match out.iter_mut().find(|(w, _)| *w == c.workload) {
            Some((_, v)) => v.push(c),
            None => out.push((c.workload.clone(), vec![c])),
        }
    }
    out
}

/// The per-operation figures the reports normalise to.
pub const PER_OP: &[(&str, &str)] = &[
    ("syscalls_per_op", "syscalls/op"),
    ("wakeups_per_op", "wakeups/op"),
    ("switches_per_op", "switches/op"),
];

/// A group's headline metric: its first higher-is-better metric (throughput), else its
/// first lower-is-better one that is not a per-operation figure.
pub fn headline(cases: &[&Case]) -> Option<(String, Better, String)> {
    let per_op = |n: &str| PER_OP.iter().any(|(m, _)| *m == n);
    for want in [Better::Higher, Better::Lower] {
        for c in cases {
            if let Some((n, m)) = c
                .metrics
                .iter()
                .find(|(n, m)| m.metric.better == want && !per_op(n))
            {
                return Some((n.clone(), want, m.metric.unit.clone()));
            }
        }
    }
    None
}

/// A group's main userspace histogram: the first one not measured by the probes.
pub fn main_histogram(cases: &[&Case]) -> Option<String> {
    cases
        .iter()
        .flat_map(|c| c.histograms.keys())
        .find(|n| !n.starts_with("kernel."))
        .cloned()
}

/// Histograms worth a percentile table and a plot: all but the per-syscall ones.
pub fn plotted_histograms(cases: &[&Case]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in cases {
        for n in c.histograms.keys() {
            if !n.starts_with("kernel.syscall.") && !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    // Userspace first, then the kernel's.
    names.sort_by_key(|n| n.starts_with("kernel."));
    names
}

/// The side-by-side table of one workload's cases, with ratios to the first case.
pub fn side_by_side(workload: &str, cases: &[&Case]) -> Table {
    let head = headline(cases);
    let hist = main_histogram(cases);
    let per_op: Vec<(&str, &str)> = PER_OP
        .iter()
        .copied()
        .filter(|(m, _)| cases.iter().any(|c| c.metrics.contains_key(*m)))
        .collect();
    let mut header = vec!["case".to_string()];
    let mut numeric = vec![false];
    if let Some((name, _, unit)) = &head {
        header.push(format!(
            "{name} ({unit}), median {}",
            crate::output::SPREAD_DEF
        ));
        header.push("vs first".into());
        numeric.extend([true, true]);
    }
    // One unit per histogram column, named in its header (`round_trip p50 (µs)`), chosen
    // by the smallest p50 shown so no figure reads "0.0" (a 1.2 ms p99 beside 6 µs
    // p50s made the whole column ms).
    let hist_unit = hist.as_ref().map(|h| {
        let infos: Vec<_> = cases.iter().filter_map(|c| c.histograms.get(h)).collect();
        let unit = infos.first().map_or("ns".to_string(), |i| i.unit.clone());
        let min = infos
            .iter()
            .filter(|i| i.summary.count > 0)
            .map(|i| i.summary.p50)
            .min()
            .unwrap_or(0) as f64;
        (unit, time_scale(min))
    });
    if let (Some(h), Some((unit, scale))) = (&hist, &hist_unit) {
        let (stem, shown) = column_unit(h, unit, scale.1);
        header.push(format!("{stem} p50 ({shown})"));
        header.push(format!("{stem} p99 ({shown})"));
        numeric.extend([true, true]);
    }
    for (_, label) in &per_op {
        header.push((*label).into());
        numeric.push(true);
    }
    let slowdown = cases.iter().any(|c| c.metrics.contains_key(PROBE_SLOWDOWN));
    if slowdown {
        // The kernel columns come from probed passes; this is what the probes cost.
        header.push("probe ×".into());
        numeric.push(true);
    }
    header.push("repeats".into());
    numeric.push(true);
    let first = head
        .as_ref()
        .and_then(|(n, ..)| cases.first()?.metrics.get(n))
        .filter(|m| m.across.n > 0)
        .map(|m| m.across.median);
    let rows = cases
        .iter()
        .map(|c| {
            let mut row = vec![c.id.clone()];
            if let Some((name, _, unit)) = &head {
                match c.metrics.get(name).filter(|m| m.across.n > 0) {
                    Some(m) => {
                        let a = &m.across;
                        row.push(crate::output::median_spread(a, unit_of(unit)));
                        row.push(match first {
                            Some(f) if f != 0.0 => format!("×{:.2}", a.median / f),
                            _ => NO_DATA.into(),
                        });
                    }
                    None => row.extend([NO_DATA.into(), NO_DATA.into()]),
                }
            }
            if let (Some(h), Some((_, scale))) = (&hist, &hist_unit) {
                match c.histograms.get(h).filter(|i| i.summary.count > 0) {
                    Some(i) => {
                        row.push(cell(i.summary.p50, &i.unit, *scale));
                        row.push(cell(i.summary.p99, &i.unit, *scale));
                    }
                    None => row.extend([NO_DATA.into(), NO_DATA.into()]),
                }
            }
            for (m, _) in &per_op {
                row.push(
                    c.metrics
                        .get(*m)
                        .filter(|i| i.across.n > 0)
                        .map_or(NO_DATA.into(), |i| format!("{:.2}", i.across.median)),
                );
            }
            if slowdown {
                row.push(
                    c.metrics
                        .get(PROBE_SLOWDOWN)
                        .filter(|i| i.across.n > 0)
                        .map_or(NO_DATA.into(), |i| format!("{:.2}x", i.across.median)),
                );
            }
            row.push(c.counted().count().to_string());
            row
        })
        .collect();
    Table {
        title: format!("{workload}: cases side by side (ratios to the first)"),
        header,
        numeric,
        rows,
    }
}

/// An open loop's schedule per case (`--rate`): offered against achieved rate, and what
/// the schedule could not fit, summed over the counted repeats (wrk2's figures, from
/// each repeat's `details.client`). `None` when no case ran an open loop.
///
/// Columns: offered and achieved req/s (answered in the windows ÷ their seconds), the
/// shortfall in % of the offered rate, then counts: scheduled, answered, late (answered
/// after the window), missed (never sent), failed.
pub fn open_loop_table(cases: &[&Case]) -> Option<Table> {
    let field = |r: &Repeat, k: &str| r.details.get("client").and_then(|c| c.get(k)).cloned();
    let rows: Vec<Vec<String>> = cases
        .iter()
        .filter_map(|c| {
            let reps: Vec<&Repeat> = c
                .counted()
                .filter(|r| field(r, "offered_rate").is_some_and(|v| v.is_number()))
                .collect();
            let offered = field(reps.first()?, "offered_rate")?.as_f64()?;
            let sum = |k: &str| -> u64 { reps.iter().filter_map(|r| field(r, k)?.as_u64()).sum() };
            let secs: f64 = reps
                .iter()
                .filter_map(|r| field(r, "seconds")?.as_f64())
                .sum();
            let answered = sum("requests");
            let (achieved, short) = if secs > 0.0 {
                let a = answered as f64 / secs;
                (
                    crate::output::count(a.round() as u64),
                    format!("{:.1}%", 100.0 * (1.0 - a / offered)),
                )
            } else {
                (NO_DATA.into(), NO_DATA.into())
            };
            Some(vec![
                c.id.clone(),
                crate::output::count(offered.round() as u64),
                achieved,
                short,
                crate::output::count(sum("scheduled")),
                crate::output::count(answered),
                crate::output::count(sum("late")),
                crate::output::count(sum("missed")),
                crate::output::count(sum("failed")),
            ])
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Table {
        title: "open loop: offered vs achieved, counted repeats summed".into(),
        header: [
            "case",
            "offered (req/s)",
            "achieved (req/s)",
            "below offered",
            "scheduled",
            "answered",
            "late",
            "missed",
            "failed",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, true, true, true, true, true, true, true, true],
        rows,
    })
}

/// A histogram column's name without its `_ns` suffix and the unit its cells are in:
/// ("round_trip", "µs") for a nanosecond histogram shown in µs.
fn column_unit<'a>(name: &'a str, unit: &'a str, scaled: &'a str) -> (&'a str, &'a str) {
    if unit == "ns" {
        (name.strip_suffix("_ns").unwrap_or(name), scaled)
    } else {
        (name, unit)
    }
}

/// One cell of a histogram column: nanoseconds in the column's unit, other units as is.
fn cell(v: u64, unit: &str, scale: (f64, &'static str)) -> String {
    if unit == "ns" {
        scaled(v as f64, scale)
    } else {
        crate::output::count(v)
    }
}

/// The unit a side-by-side cell repeats: only "ns" (scaled to µs, ms); other units
/// are in the column's header.
fn unit_of(unit: &str) -> &str {
    if unit == "ns" {
        unit
    } else {
        ""
    }
}

/// Percentiles of histogram `name` for every case that has it, every time column in one
/// unit named in the header; a case whose histogram is empty shows "no data".
pub fn percentile_table(name: &str, cases: &[&Case]) -> Option<Table> {
    let infos: Vec<(&Case, &crate::results::HistInfo)> = cases
        .iter()
        .filter_map(|c| Some((*c, c.histograms.get(name)?)))
        .collect();
    if infos.is_empty() {
        return None;
    }
    let unit = infos[0].1.unit.clone();
    // The unit comes from the smallest figure shown (the smallest min), so none reads
    // "0.0": a 16 µs minimum in a ms table did (issue 18 item 1).
    let scale = time_scale(
        infos
            .iter()
            .filter(|(_, i)| i.summary.count > 0)
            .map(|(_, i)| i.summary.min)
            .min()
            .unwrap_or(0) as f64,
    );
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|(c, i)| {
            let s = &i.summary;
            if s.count == 0 {
                let mut row = vec![c.id.clone(), "0".into(), "no data".into()];
                row.resize(9, NO_DATA.into());
                return row;
            }
            let f = |v: u64| cell(v, &i.unit, scale);
            let mean = if i.unit == "ns" {
                scaled(s.mean, scale)
            } else {
                format!("{:.1}", s.mean)
            };
            vec![
                c.id.clone(),
                crate::output::count(s.count),
                f(s.min),
                f(s.p50),
                f(s.p90),
                f(s.p99),
                f(s.p999),
                f(s.max),
                mean,
            ]
        })
        .collect();
    let (stem, shown) = column_unit(name, &unit, scale.1);
    Some(Table {
        title: format!("{stem}: percentiles in {shown}, all repeats merged"),
        header: [
            "case", "count", "min", "p50", "p90", "p99", "p99.9", "max", "mean",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, true, true, true, true, true, true, true, true],
        rows,
    })
}

/// A bcc-style power-of-two histogram (`funclatency`'s look): one line per bucket from
/// the first to the last non-empty one, stars scaled to the fullest bucket, counts with
/// thousands separators ([`crate::output::count`]). Values are
/// shown in µs when the median is at least a microsecond, else in ns.
pub fn ascii_histogram(h: &Histogram<u64>, unit: &str) -> String {
    let (div, label) = if unit == "ns" && h.value_at_quantile(0.5) >= 1000 {
        (1000, "usecs")
    } else if unit == "ns" {
        (1, "nsecs")
    } else {
        (1, unit)
    };
    // Bucket k holds values v/div in [2^k, 2^(k+1)), bucket 0 also holds 0.
    let mut buckets = [0u64; 64];
    for v in h.iter_recorded() {
        let x = v.value_iterated_to() / div;
        let k = if x == 0 {
            0
        } else {
            63 - x.leading_zeros() as usize
        };
        buckets[k] += v.count_since_last_iteration();
    }
    let (Some(lo), Some(hi)) = (
        buckets.iter().position(|&n| n > 0),
        buckets.iter().rposition(|&n| n > 0),
    ) else {
        return format!("{:>20} : count\n(empty)\n", label);
    };
    let top = buckets[lo..=hi].iter().copied().max().unwrap_or(1).max(1);
    const WIDTH: u64 = 40;
    let mut out = format!("{label:>24} : {:<10} distribution\n", "count");
    for (k, &n) in buckets.iter().enumerate().take(hi + 1).skip(lo) {
        let (a, b) = if k == 0 {
            (0u64, 1u64)
        } else {
            (1u64 << k, (1u64 << (k + 1)) - 1)
        };
        let stars = (n * WIDTH).div_ceil(top).min(WIDTH) as usize;
        let stars = if n > 0 { stars.max(1) } else { 0 };
        // Counts with thousands separators, as every count evbench prints.
        out.push_str(&format!(
            "{:>11} -> {:<9} : {:<10} |{:<40}|\n",
            a,
            b,
            crate::output::count(n),
            "*".repeat(stars)
        ));
    }
    out
}

/// hyperfine's outlier threshold on the modified Z-score (`|x − median| / MAD`; 14.826
/// is 10 × 1.4826, ten robust standard deviations). Source: hyperfine,
/// src/outlier_detection.rs.
pub const OUTLIER_THRESHOLD: f64 = 14.826;

/// The least relative deviation from the median an outlier must also have: 5%. With 3
/// repeats, or when half of them are equal, the MAD is near 0 and hyperfine's score
/// alone flags deviations of a fraction of a percent (100.0k, 100.0k, 100.4k scores
/// beyond any bound); a repeat within 5% of the median is not worth a warning on a
/// shared machine, whose run-to-run noise is larger than that.
pub const OUTLIER_MIN_DEVIATION: f64 = 0.05;

/// The modified Z-scores of `xs`: `(x − median) / MAD`, MAD the median absolute
/// deviation; a MAD of 0 (at least half the values equal) is replaced by the smallest
/// positive f64, as hyperfine does, so any other value scores as an outlier.
pub fn modified_zscores(xs: &[f64]) -> Vec<f64> {
    if xs.is_empty() {
        return Vec::new();
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let m = median(xs);
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&dev);
    let mad = if mad > 0.0 { mad } else { f64::EPSILON };
    xs.iter().map(|x| (x - m) / mad).collect()
}

/// The noise a repeat met (`repeats[].noise`: `cpu_some_us`, the PSI CPU "some" stall
/// in µs; `steal_ns`; `procs_running`) beside what the case's other repeats met: each
/// figure, followed by the median of the other repeats' when they recorded it ("CPU pressure 250.00 ms (PSI some; the other repeats' median 1.00 ms)"), so the
/// reader sees which noise hit this repeat and not the others.
pub fn describe_noise_against(
    noise: &crate::results::PassNoise,
    others: &[crate::results::PassNoise],
) -> String {
    let med = |xs: Vec<f64>| (!xs.is_empty()).then(|| crate::results::stats::median(&xs));
    let some = med(others
        .iter()
        .filter_map(|n| n.cpu_some_us)
        .map(|v| v as f64)
        .collect());
    let steal = med(others.iter().map(|n| n.steal_ns as f64).collect());
    let run = med(others.iter().filter_map(|n| n.procs_running).collect());
    let mut parts = Vec::new();
    if let Some(us) = noise.cpu_some_us {
        parts.push(match some {
            Some(o) => format!(
                "CPU pressure {} (PSI some; the other repeats' median {})",
                crate::output::ns(us as f64 * 1e3),
                crate::output::ns(o * 1e3)
            ),
            None => format!(
                "CPU pressure {} (PSI some)",
                crate::output::ns(us as f64 * 1e3)
            ),
        });
    }
    parts.push(match steal {
        Some(o) => format!(
            "steal {} (others {})",
            crate::output::ns(noise.steal_ns as f64),
            crate::output::ns(o)
        ),
        None => format!("steal {}", crate::output::ns(noise.steal_ns as f64)),
    });
    if let Some(p) = noise.procs_running {
        parts.push(match run {
            Some(o) => format!("{p:.0} runnable tasks (others {o:.0})"),
            None => format!("{p:.0} runnable tasks"),
        });
    }
    parts.join(", ")
}

/// Warnings for repeats whose headline figure is an outlier: hyperfine's rule
/// ([`OUTLIER_THRESHOLD`] on the modified Z-score over the case's judged repeats; at
/// least 3 needed) and at least [`OUTLIER_MIN_DEVIATION`] (5%) from the median. Each
/// names the case, the repeat and its value, and the noise that hit that repeat beside
/// what the others met, when the document recorded it (`repeats[].noise`).
pub fn outlier_warnings(r: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    for (_, cases) in groups(r) {
        let Some((name, _, unit)) = headline(&cases) else {
            continue;
        };
        for c in &cases {
            let reps: Vec<(&Repeat, f64)> = c
                .counted()
                .filter_map(|rep| Some((rep, *rep.metrics.get(&name)?)))
                .collect();
            if reps.len() < 3 {
                continue;
            }
            let xs: Vec<f64> = reps.iter().map(|(_, x)| *x).collect();
            let median = c.metrics.get(&name).map_or(0.0, |m| m.across.median);
            for ((rep, x), z) in reps.iter().zip(modified_zscores(&xs)) {
                let deviation = if median != 0.0 {
                    ((x - median) / median).abs()
                } else {
                    f64::INFINITY
                };
                if z.abs() <= OUTLIER_THRESHOLD || deviation < OUTLIER_MIN_DEVIATION {
                    continue;
                }
                // A MAD of 0 (half the repeats equal) scores any other value without
                // bound: say so rather than print hyperfine's 1/ε.
                let score = if z.abs() < 1e6 {
                    format!("{z:.1}")
                } else {
                    "unbounded (MAD 0: half the repeats are equal)".into()
                };
                let others: Vec<crate::results::PassNoise> = reps
                    .iter()
                    .filter(|(o, _)| o.index != rep.index)
                    .filter_map(|(o, _)| o.noise)
                    .collect();
                out.push(format!(
                    "{} repeat #{}: {name} {} is an outlier ({:.1}% from the median {}; modified Z-score {score} beyond ±{OUTLIER_THRESHOLD}, hyperfine's rule |x − median| / MAD, and at least {:.0}% from the median){}",
                    c.id,
                    rep.index,
                    figure(*x, unit_of(&unit)),
                    deviation * 100.0,
                    figure(median, unit_of(&unit)),
                    OUTLIER_MIN_DEVIATION * 100.0,
                    rep.noise
                        .as_ref()
                        .map(|n| describe_noise_against(n, &others))
                        .map_or("; no noise was recorded for it".to_string(), |n| {
                            format!("; noise during it: {n}")
                        })
                ));
            }
        }
    }
    out
}

/// The relative summary of a workload's cases on its headline metric, as hyperfine
/// prints it: "`best` is 1.11 ± 0.04 times faster than `other`", the best case first.
/// The ratio is of the means over the judged repeats; its ± is the standard deviation
/// of a ratio propagated from both sides' sample standard deviations in quadrature,
/// `r·√((σa/a)² + (σb/b)²)` (hyperfine's way: src/benchmark/relative_speed.rs). One
/// repeat on either side gives no ± and says so. Empty with fewer than two cases that
/// have the figure.
pub fn relative_summary(cases: &[&Case]) -> Vec<String> {
    let Some((name, better, _)) = headline(cases) else {
        return Vec::new();
    };
    let mut have: Vec<(&Case, &crate::results::Across)> = cases
        .iter()
        .filter_map(|c| {
            let m = c.metrics.get(&name)?;
            (m.across.n > 0 && m.across.mean > 0.0).then_some((*c, &m.across))
        })
        .collect();
    if have.len() < 2 || better == Better::Neither {
        return Vec::new();
    }
    // Best first: highest throughput, or lowest time.
    have.sort_by(|a, b| {
        let o = a.1.mean.total_cmp(&b.1.mean);
        if better == Better::Higher {
            o.reverse()
        } else {
            o
        }
    });
    let (best, ba) = have[0];
    let mut any_pm = false;
    let mut out = vec![format!(
        "{}: {best} is the fastest by {name} (mean of the repeats):",
        best.workload,
        best = best.id
    )];
    for (c, a) in &have[1..] {
        let r = if better == Better::Higher {
            ba.mean / a.mean
        } else {
            a.mean / ba.mean
        };
        let rel = |x: &crate::results::Across| x.stddev / x.mean;
        let pm = if ba.n >= 2 && a.n >= 2 {
            any_pm = true;
            format!(" ± {:.2}", r * (rel(ba).powi(2) + rel(a).powi(2)).sqrt())
        } else {
            String::new()
        };
        out.push(format!(
            "  {:.2}{pm} times faster than {}{}",
            r,
            c.id,
            if pm.is_empty() {
                " (one repeat: no uncertainty)"
            } else {
                ""
            }
        ));
    }
    if any_pm {
        out.push(
            "  (±: the ratio times both sides' sd/mean added in quadrature, as hyperfine does)"
                .to_string(),
        );
    }
    out
}

/// One paragraph about where the figures came from, shared by the text formats.
pub fn provenance_lines(r: &RunResult) -> Vec<String> {
    let m = &r.machine;
    let p = &r.provenance;
    let mut v = vec![
        format!(
            "evbench {} ({}, {} build), eBPF object sha256 {}",
            p.evbench_version,
            p.git_commit,
            p.build_profile,
            &p.ebpf_object_sha256[..p.ebpf_object_sha256.len().min(16)]
        ),
        format!(
            "{} — {} × {}, {:.1} GiB, kernel {} ({}), preempt {}, HZ {}, clocksource {}{}",
            m.hostname,
            m.cpus,
            m.cpu_model,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.kernel,
            m.arch,
            m.preempt.value.as_deref().unwrap_or("unknown"),
            m.hz.value.map_or("unknown".into(), |h| h.to_string()),
            m.clocksource,
            if m.clocksource_vdso {
                " (vDSO)"
            } else {
                " (NOT vDSO)"
            }
        ),
        format!(
            "probes: {}{}",
            if r.probes.on {
                r.probes.sets.as_str()
            } else {
                "off"
            },
            r.probes
                .reason
                .as_deref()
                .map_or(String::new(), |w| format!(" ({w})"))
        ),
        format!("command: {}", r.command.join(" ")),
    ];
    if let Some(n) = &r.noise {
        v.push(format!(
            "steal time during the run: {:.2}% ({})",
            n.steal_share * 100.0,
            crate::output::ns(n.steal_ns as f64)
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_histogram_buckets_by_powers_of_two() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        // 3 values in [4,8) ns, 1 in [16,32) ns, none in [8,16).
        for v in [4, 5, 7, 20] {
            h.record(v).unwrap();
        }
        let text = ascii_histogram(&h, "ns");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].contains("4 -> 7") && lines[1].contains(": 3 "));
        assert!(lines[1].ends_with(&format!("|{}|", "*".repeat(40))));
        assert!(lines[2].contains("8 -> 15") && lines[2].contains(": 0 "));
        assert!(lines[3].contains("16 -> 31") && lines[3].contains(": 1 "));
        // 1 of 3 → 14 stars (rounded up).
        assert!(lines[3].contains(&format!("|{}{}|", "*".repeat(14), " ".repeat(26))));
    }

    /// Counts carry thousands separators like every other count.
    #[test]
    fn ascii_histogram_counts_have_separators() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        h.record_n(5, 39_370).unwrap();
        h.record_n(20, 1_234_567).unwrap();
        let text = ascii_histogram(&h, "ns");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            format!("{:>11} -> {:<9} : {:<10} |{:<40}|", 4, 7, "39,370", "**")
        );
        assert_eq!(
            lines[3],
            format!(
                "{:>11} -> {:<9} : {:<10} |{}|",
                16,
                31,
                "1,234,567",
                "*".repeat(40)
            )
        );
    }
}
