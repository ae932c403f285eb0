//! Parameter scans in the reports (issue 19): the figures of every case of a scan
//! against the scanned value, one line per mechanism × wait mode (the case id without
//! the scan's label), and per line the two fits of `results::fit`: linear
//! y = a + b·x and the log-log slope k of y ∝ x^k, each with its 95% intervals and
//! its own R² (not comparable with each other, so neither is preferred).
//!
//! Figures: the headline (µs/event, round trips/s, req/s), the per-operation kernel
//! counts (syscalls, wakeups, switches per op, from the probed passes), p99 of the main
//! latency histogram when the workload has one, and the probes' added time per
//! operation, (probed − clean) in ns, which should not grow with the scan.
use std::fmt::Write as _;

use super::{headline, main_histogram, Table, PER_OP};
use crate::results::{
    fit::{self, Fit},
    Better, Case, RunResult, Scan,
};

/// Where a scan figure's per-repeat values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A declared metric of the repeats.
    Metric(String),
    /// p99 of each repeat's histogram of this name.
    P99(String),
    /// The probes' added time per operation, ns: the headline of the round's probed
    /// pass against its clean pass (metric name, its direction, its unit).
    ProbeCost(String, Better, String),
}

/// One figure drawn and fitted against the scanned value.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Its name in titles and file names (`us_per_event`, `request_ns.p99`).
    pub name: String,
    pub unit: String,
    pub source: Source,
}

impl Figure {
    /// The case's counted repeats' values of this figure (finite ones).
    pub fn values(&self, c: &Case) -> Vec<f64> {
        match &self.source {
            Source::Metric(m) => c.values(m),
            Source::P99(h) => c
                .counted()
                .filter_map(|r| r.histograms.get(h))
                .filter(|h| h.summary.count > 0)
                .map(|h| h.summary.p99 as f64)
                .collect(),
            Source::ProbeCost(m, better, unit) => c
                .counted()
                .filter_map(|r| {
                    let clean = ns_per_op(*r.metrics.get(m)?, *better, unit)?;
                    let probed = ns_per_op(*r.probed.as_ref()?.metrics.get(m)?, *better, unit)?;
                    Some(probed - clean)
                })
                .filter(|v| v.is_finite())
                .collect(),
        }
    }
}

/// Nanoseconds per operation from a headline: a rate per second (higher is better) or
/// a time per operation in µs, ms or ns. `None` for anything else.
fn ns_per_op(v: f64, better: Better, unit: &str) -> Option<f64> {
    match better {
        Better::Higher if v > 0.0 => Some(1e9 / v),
        Better::Lower => {
            let scale = [("ns", 1.0), ("µs", 1e3), ("us", 1e3), ("ms", 1e6)]
                .iter()
                .find(|(u, _)| unit.starts_with(u))?
                .1;
            Some(v * scale)
        }
        _ => None,
    }
}

/// One line of a scan plot: a case id without the scan's label, and per scanned value
/// (ascending) the counted repeats' values there.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub id: String,
    pub points: Vec<(f64, Vec<f64>)>,
}

impl Line {
    /// Every (x, y) pair: one per repeat, what the fits are fitted to.
    pub fn pairs(&self) -> Vec<(f64, f64)> {
        self.points
            .iter()
            .flat_map(|(x, ys)| ys.iter().map(move |y| (*x, *y)))
            .collect()
    }
}

/// The cases of the scan, in the order they ran.
pub fn scan_cases(r: &RunResult) -> Vec<&Case> {
    r.cases.iter().filter(|c| c.scan.is_some()).collect()
}

/// The figures a scan's cases are drawn with, in report order.
pub fn figures(cases: &[&Case]) -> Vec<Figure> {
    let mut out = Vec::new();
    let head = headline(cases);
    if let Some((name, _, unit)) = &head {
        out.push(Figure {
            name: name.clone(),
            unit: unit.clone(),
            source: Source::Metric(name.clone()),
        });
    }
    for (m, unit) in PER_OP {
        if cases.iter().any(|c| c.metrics.contains_key(*m)) {
            out.push(Figure {
                name: m.to_string(),
                unit: unit.to_string(),
                source: Source::Metric(m.to_string()),
            });
        }
    }
    if let Some(h) = main_histogram(cases) {
        let unit = cases
            .iter()
            .find_map(|c| c.histograms.get(&h))
            .map_or("ns".to_string(), |i| i.unit.clone());
        out.push(Figure {
            name: format!("{h}.p99"),
            unit,
            source: Source::P99(h),
        });
    }
    if let Some((name, better, unit)) = head {
        let f = Figure {
            name: "probe_cost_ns_per_op".into(),
            unit: "ns/op".into(),
            source: Source::ProbeCost(name, better, unit),
        };
        if cases.iter().any(|c| !f.values(c).is_empty()) {
            out.push(f);
        }
    }
    out
}

/// The lines of figure `fig`: cases grouped by id without the scan's label, in the
/// order they ran; each line's points ascending in x, values of its repeats.
pub fn lines(cases: &[&Case], fig: &Figure) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for c in cases {
        let Some(p) = &c.scan else { continue };
        let vals = fig.values(c);
        if vals.is_empty() {
            continue;
        }
        let id = c.line_id().to_string();
        match out.iter_mut().find(|l| l.id == id) {
            Some(l) => l.points.push((p.value, vals)),
            None => out.push(Line {
                id,
                points: vec![(p.value, vals)],
            }),
        }
    }
    for l in &mut out {
        l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Both fits of one line: linear and log-log (with the points it left out).
#[derive(Clone, Debug, PartialEq)]
pub struct LineFits {
    pub linear: Option<Fit>,
    pub log_log: Option<(Fit, usize)>,
}

impl LineFits {
    pub fn of(line: &Line) -> Self {
        let pairs = line.pairs();
        Self {
            linear: fit::linear(&pairs),
            log_log: fit::log_log(&pairs),
        }
    }
}

/// A number with four significant digits; scientific notation when very large or
/// small (a per-channel slope can be 0.0001 µs).
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    // Whole numbers (scanned values, counts) as they are.
    if v.fract() == 0.0 && v.abs() < 1e6 {
        return format!("{v:.0}");
    }
    let mag = v.abs().log10().floor();
    if !(-3.0..6.0).contains(&mag) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - mag).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// An axis tick: [`num`] without trailing zeros (`0.1`, `1e-4`, `2.5`).
pub fn tick(v: f64) -> String {
    let s = num(v);
    let trim = |m: &str| -> String {
        if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            m.to_string()
        }
    };
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", trim(m)),
        None => trim(&s),
    }
}

fn interval(ci: Option<(f64, f64)>) -> String {
    match ci {
        Some((a, b)) => format!("[{}, {}]", num(a), num(b)),
        None => "—".into(),
    }
}

fn r2(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "—".into()
    }
}

/// Per line, the two fits of `fig` against the scanned value.
pub fn fit_table(scan: &Scan, fig: &Figure, lines: &[Line]) -> Table {
    let header = vec![
        "line".to_string(),
        "points".into(),
        format!("a ({})", fig.unit),
        "95% CI".into(),
        format!("b ({} per {})", fig.unit, unit_one(&scan.unit)),
        "95% CI".into(),
        "R²".into(),
        "k (log-log)".into(),
        "95% CI".into(),
        "R² of ln y".into(),
    ];
    let rows = lines
        .iter()
        .map(|l| {
            let f = LineFits::of(l);
            let n = l.pairs().len();
            let mut row = vec![l.id.clone()];
            row.push(match &f.log_log {
                Some((_, out)) if *out > 0 => format!("{n} (log: {})", n - out),
                _ => n.to_string(),
            });
            match &f.linear {
                Some(fit) => row.extend([
                    num(fit.intercept),
                    interval(fit.intercept_ci),
                    num(fit.slope),
                    interval(fit.slope_ci),
                    r2(fit.r2),
                ]),
                None => row.extend(["—"; 5].map(String::from)),
            }
            match &f.log_log {
                Some((fit, _)) => {
                    row.extend([num(fit.slope), interval(fit.slope_ci), r2(fit.r2)]);
                }
                None => row.extend(["—"; 3].map(String::from)),
            }
            row
        })
        .collect();
    Table {
        title: format!(
            "{}: fits against {} — y = a + b·x and y ∝ x^k, 95% intervals (Student's t, n − 2 df; one point per repeat); the two R² (of y, of ln y) are not comparable",
            fig.name, scan.name
        ),
        header,
        numeric: vec![false, true, true, false, true, false, true, true, false, true],
        rows,
    }
}

/// "channels" → "channel": what b is per.
pub fn unit_one(unit: &str) -> String {
    match unit {
        "ns" | "req/s" => unit.to_string(),
        u => u.strip_suffix('s').unwrap_or(u).to_string(),
    }
}

/// Median of each line at each scanned value, the repeats in brackets.
pub fn curve_table(scan: &Scan, fig: &Figure, lines: &[Line]) -> Table {
    let mut header = vec![format!("{} ({})", scan.name, scan.unit)];
    header.extend(lines.iter().map(|l| l.id.clone()));
    let rows = scan
        .values
        .iter()
        .map(|x| {
            let mut row = vec![num(*x)];
            for l in lines {
                row.push(match l.points.iter().find(|(px, _)| px == x) {
                    Some((_, ys)) => {
                        format!("{} ({})", num(crate::results::stats::median(ys)), ys.len())
                    }
                    None => "—".into(),
                });
            }
            row
        })
        .collect();
    let numeric = vec![true; lines.len() + 1];
    Table {
        title: format!(
            "{} ({}) against {}: median of the repeats (repeats)",
            fig.name, fig.unit, scan.name
        ),
        header,
        numeric,
        rows,
    }
}

/// The scan section of the terminal report: what was scanned, then per figure the
/// curve and both fits per line. Empty when the document has no scan.
pub fn render_text(r: &RunResult) -> String {
    let Some(scan) = &r.scan else {
        return String::new();
    };
    let cases = scan_cases(r);
    let mut out = String::new();
    let vals: Vec<String> = scan.values.iter().map(|v| num(*v)).collect();
    let _ = writeln!(
        out,
        "\nScan of {} ({}): {} ({} values, --scan {})",
        scan.name,
        scan.unit,
        vals.join(", "),
        scan.values.len(),
        scan.spec
    );
    for fig in figures(&cases) {
        let ls = lines(&cases, &fig);
        if ls.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", curve_table(scan, &fig, &ls).text());
        let _ = writeln!(out, "{}", fit_table(scan, &fig, &ls).text());
    }
    out
}

/// Where the Markdown scan section begins and ends, so a script (`cargo xtask bench
/// scaling`) can lift it out of the whole report.
pub const MARKDOWN_BEGIN: &str = "<!-- evbench:scan -->";
pub const MARKDOWN_END: &str = "<!-- /evbench:scan -->";

/// The scan section as Markdown (the same tables), between [`MARKDOWN_BEGIN`] and
/// [`MARKDOWN_END`].
pub fn render_markdown(r: &RunResult) -> String {
    let Some(scan) = &r.scan else {
        return String::new();
    };
    let cases = scan_cases(r);
    let mut out = format!(
        "\n{MARKDOWN_BEGIN}\n### Scan of {} ({}), --scan {}\n\n",
        scan.name, scan.unit, scan.spec
    );
    for fig in figures(&cases) {
        let ls = lines(&cases, &fig);
        if ls.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", curve_table(scan, &fig, &ls).markdown());
        let _ = writeln!(out, "{}", fit_table(scan, &fig, &ls).markdown());
    }
    let _ = writeln!(out, "{MARKDOWN_END}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(num(0.000_123_4), "1.234e-4");
        assert_eq!(num(0.012_34), "0.01234");
        assert_eq!(num(1.234_56), "1.235");
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(-2.5), "-2.500");
        assert_eq!(num(12_345_678.0), "1.235e7");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(800.0), "800");
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(tick(0.1), "0.1");
        assert_eq!(tick(1e-4), "1e-4");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(1000.0), "1000");
    }

    /// Cases of two lines at x = 10 and 100, y = 1 + 0.02·x exactly (two repeats each),
    /// with a probed pass 0.5 µs/event slower: the lines group by id without the label,
    /// the fits find a = 1 and b = 0.02, and the probe cost is 500 ns/op.
    #[test]
    fn lines_group_by_id_without_the_label() {
        use crate::results::{Metric, Repeat, ScanPoint};
        let mut cases = Vec::new();
        for wait in ["epoll", "poll"] {
            for x in [10.0, 100.0] {
                let mut c = Case::new("pipetest", Some("pipe"), Some(wait), None);
                c.set_scan(ScanPoint {
                    name: "channels".into(),
                    value: x,
                    label: format!("channels={x}"),
                });
                for _ in 0..2 {
                    let y = 1.0 + 0.02 * x;
                    let mut probed = Repeat::new(std::time::Duration::from_millis(1));
                    probed.metric("us_per_event", Metric::lower("µs/event"), y + 0.5);
                    let mut r = Repeat::new(std::time::Duration::from_millis(1));
                    r.metric("us_per_event", Metric::lower("µs/event"), y);
                    r.probed = Some(Box::new(probed));
                    c.push_repeat(r);
                }
                cases.push(c);
            }
        }
        assert_eq!(cases[1].id, "pipetest/pipe/epoll/channels=100");
        assert_eq!(cases[1].line_id(), "pipetest/pipe/epoll");
        let refs: Vec<&Case> = cases.iter().collect();
        let figs = figures(&refs);
        let names: Vec<&str> = figs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["us_per_event", "probe_cost_ns_per_op"]);
        let ls = lines(&refs, &figs[0]);
        assert_eq!(ls.len(), 2);
        assert_eq!(ls[1].id, "pipetest/pipe/poll");
        let xs: Vec<f64> = ls[1].points.iter().map(|p| p.0).collect();
        assert_eq!(xs, [10.0, 100.0]);
        for ((_, ys), want) in ls[1].points.iter().zip([1.2, 3.0]) {
            assert_eq!(ys.len(), 2);
            assert!(ys.iter().all(|y| (y - want).abs() < 1e-12), "{ys:?}");
        }
        let f = LineFits::of(&ls[0]);
        let lin = f.linear.unwrap();
        assert!((lin.slope - 0.02).abs() < 1e-12 && (lin.intercept - 1.0).abs() < 1e-12);
        let cost = lines(&refs, &figs[1]);
        for (_, ys) in &cost[0].points {
            for y in ys {
                assert!((y - 500.0).abs() < 1e-6, "{y}");
            }
        }
    }

    #[test]
    fn probe_cost_is_in_ns_per_op() {
        assert_eq!(ns_per_op(2.0, Better::Lower, "µs/event"), Some(2000.0));
        assert_eq!(ns_per_op(1e6, Better::Higher, "req/s"), Some(1000.0));
        assert_eq!(ns_per_op(3.0, Better::Lower, "switches"), None);
    }
}
