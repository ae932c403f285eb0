//! Parameter scans in the reports (issue 19): the figures of every case of a scan
//! against the scanned value, one line per mechanism × wait mode (the case id without
//! the scan's label), and per line the two fits of `results::fit`: linear
//! y = a + b·x and the log-log slope k of y ∝ x^k, each with its 95% intervals and
//! its own R² (not comparable with each other, so neither is preferred).
//!
//! Figures: the headline (µs/event, round trips/s, req/s), the per-operation kernel
//! counts (syscalls, wakeups, switches per op, from the probed passes), the workload's
//! own per-event counts ([`PER_EVENT`]: pingpong's wakeups per event, the fanout
//! figure of issue 19), p99 of the main latency histogram when the workload has one,
//! and the probes' added time per operation, (probed − clean) in ns, which should not
//! grow with the scan.
//!
//! Every table lists the scanned values ascending (a list scan may be typed in any
//! order); a duration scan (`think`, recorded in ns) shows its values in ns, µs, ms or s
//! as the ids do.
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

/// Per-event counts a workload measures itself (not the probes), drawn and fitted
/// like the per-op kernel counts when the cases have them: pingpong's
/// `wakeups_per_event`, the thundering herd's figure (issue 19: fanout wakeups per
/// event against waiters).
pub const PER_EVENT: &[&str] = &["wakeups_per_event"];

/// The figures a scan's cases are drawn with, in report order: the headline, the per-op
/// kernel counts ([`PER_OP`]), the workload's per-event counts ([`PER_EVENT`]), p99 of
/// the main histogram, the probes' cost.
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
    for m in PER_EVENT {
        if let Some(s) = cases.iter().find_map(|c| c.metrics.get(*m)) {
            out.push(Figure {
                name: m.to_string(),
                unit: s.metric.unit.clone(),
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

/// A duration in nanoseconds in the unit a person reads (`750 ns`, `2.5 µs`, `10 s`,
/// `0`), four significant digits at most ([`tick`]): how a duration scan (`think`)
/// shows its values, as its ids (`think=10s`) do.
pub fn duration(ns: f64) -> String {
    if ns == 0.0 {
        return "0".into();
    }
    let (div, unit) = crate::output::time_scale(ns.abs());
    format!("{} {unit}", tick(ns / div))
}

/// Whether a scan's values are durations (recorded in ns).
fn is_duration(unit: &str) -> bool {
    unit == "ns"
}

/// A scanned value as tables and headers show it: a duration in its unit
/// ([`duration`]), else [`num`].
pub fn scanned(v: f64, unit: &str) -> String {
    if is_duration(unit) {
        duration(v)
    } else {
        num(v)
    }
}

/// A scanned value as an axis tick: a duration in its unit, else [`tick`].
pub fn scanned_tick(v: f64, unit: &str) -> String {
    if is_duration(unit) {
        duration(v)
    } else {
        tick(v)
    }
}

/// The scanned option as a column or axis names it: `channels (channels)`; a
/// duration's name alone (`think`: each value carries its unit).
pub fn axis_name(scan: &Scan) -> String {
    if is_duration(&scan.unit) {
        scan.name.clone()
    } else {
        format!("{} ({})", scan.name, scan.unit)
    }
}

/// The scan's values ascending: the order of every table and header (a list scan
/// runs in the order typed: `rate=1e3,500.5,2000`).
pub fn sorted_values(scan: &Scan) -> Vec<f64> {
    let mut v = scan.values.clone();
    v.sort_by(f64::total_cmp);
    v
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

/// Median of each line at each scanned value (ascending), the repeats in brackets.
pub fn curve_table(scan: &Scan, fig: &Figure, lines: &[Line]) -> Table {
    let mut header = vec![axis_name(scan)];
    header.extend(lines.iter().map(|l| l.id.clone()));
    let rows = sorted_values(scan)
        .iter()
        .map(|x| {
            let mut row = vec![scanned(*x, &scan.unit)];
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

/// One line saying what was scanned: `Scan of channels (channels): 4, 16, 64 (3
/// values, --scan channels=4,16,64)`, values ascending, durations in their units.
pub fn summary(scan: &Scan) -> String {
    let vals: Vec<String> = sorted_values(scan)
        .iter()
        .map(|v| scanned(*v, &scan.unit))
        .collect();
    format!(
        "Scan of {}: {} ({} values, --scan {})",
        axis_name(scan),
        vals.join(", "),
        scan.values.len(),
        scan.spec
    )
}

/// The scan's tables, every format's (text, Markdown, HTML): per figure with a line,
/// the curve ([`curve_table`]) then both fits per line ([`fit_table`]). Empty when the
/// document has no scan.
pub fn tables(r: &RunResult) -> Vec<Table> {
    let Some(scan) = &r.scan else {
        return Vec::new();
    };
    let cases = scan_cases(r);
    let mut out = Vec::new();
    for fig in figures(&cases) {
        let ls = lines(&cases, &fig);
        if ls.is_empty() {
            continue;
        }
        out.push(curve_table(scan, &fig, &ls));
        out.push(fit_table(scan, &fig, &ls));
    }
    out
}

/// The scan section of the terminal report: what was scanned ([`summary`]), then per
/// figure the curve and both fits per line ([`tables`]). Empty when the document has
/// no scan.
pub fn render_text(r: &RunResult) -> String {
    let Some(scan) = &r.scan else {
        return String::new();
    };
    let mut out = format!("\n{}\n", summary(scan));
    for (i, t) in tables(r).iter().enumerate() {
        // A blank line before each figure's pair of tables.
        if i % 2 == 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", t.text());
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
    let mut out = format!("\n{MARKDOWN_BEGIN}\n### {}\n\n", summary(scan));
    for t in tables(r) {
        let _ = writeln!(out, "{}", t.markdown());
    }
    let _ = writeln!(out, "{MARKDOWN_END}");
    out
}

/// The scan section as HTML: a heading with [`summary`], then the same tables.
pub fn render_html(r: &RunResult) -> String {
    let Some(scan) = &r.scan else {
        return String::new();
    };
    let mut out = format!("<h2>{}</h2>\n", super::escape(&summary(scan)));
    for t in tables(r) {
        out.push_str(&t.html());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::{Metric, Repeat, ScanPoint};

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

    /// A case `workload/pipe/WAIT/NAME=LABEL` at scanned value `x`, one repeat per
    /// entry of `reps`, each with its metrics (name, declaration, value).
    fn point(
        wait: &str,
        name: &str,
        x: f64,
        label: &str,
        reps: &[Vec<(&str, Metric, f64)>],
    ) -> Case {
        let mut c = Case::new("pingpong", Some("pipe"), Some(wait), None);
        c.set_scan(ScanPoint {
            name: name.into(),
            value: x,
            label: format!("{name}={label}"),
        });
        for ms in reps {
            let mut r = Repeat::new(std::time::Duration::from_millis(1));
            for (m, d, v) in ms {
                r.metric(m, d.clone(), *v);
            }
            c.push_repeat(r);
        }
        c
    }

    fn doc(scan: Scan, cases: Vec<Case>) -> RunResult {
        let mut d = RunResult::new(
            vec!["evbench".into()],
            serde_json::json!({}),
            crate::results::ProbesState::off("synthetic"),
            b"",
        );
        for c in cases {
            d.push_case(c);
        }
        d.scan = Some(scan);
        d
    }

    /// Tester items 3 and 4: a fanout scan (waiters 1, 2, 4, 8; two repeats each) has
    /// the figure "wakeups per event" (every waiter woken: x wakeups per event), drawn
    /// and fitted (b = 1, k = 1); a constant syscalls_per_op of 3 fits flat in both
    /// models and the table says k = 0 [0, 0] with no R², not -1.6e-31.
    #[test]
    fn fanout_scans_fit_wakeups_per_event_and_constants_flat() {
        let cases: Vec<Case> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&x| {
                let rep = vec![
                    ("ops_per_sec", Metric::higher("round trips/s"), 150e3),
                    ("syscalls_per_op", Metric::lower("syscalls/op"), 3.0),
                    ("wakeups_per_event", Metric::lower("wakeups/event"), x),
                ];
                point("epoll", "fanout", x, &format!("{x}"), &[rep.clone(), rep])
            })
            .collect();
        let refs: Vec<&Case> = cases.iter().collect();
        let figs = figures(&refs);
        let names: Vec<&str> = figs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["ops_per_sec", "syscalls_per_op", "wakeups_per_event"]
        );
        assert_eq!(figs[2].unit, "wakeups/event");
        let scan = Scan {
            name: "fanout".into(),
            unit: "waiters".into(),
            values: vec![1.0, 2.0, 4.0, 8.0],
            spec: "fanout=1,2,4,8".into(),
        };
        let ls = lines(&refs, &figs[2]);
        let t = curve_table(&scan, &figs[2], &ls);
        assert_eq!(t.header, ["fanout (waiters)", "pingpong/pipe/epoll"]);
        let rows: Vec<Vec<&str>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["1", "1 (2)"],
                ["2", "2 (2)"],
                ["4", "4 (2)"],
                ["8", "8 (2)"]
            ]
        );
        let f = LineFits::of(&ls[0]);
        let lin = f.linear.unwrap();
        let (ll, _) = f.log_log.unwrap();
        assert!((lin.slope - 1.0).abs() < 1e-12 && lin.intercept.abs() < 1e-12);
        assert!((ll.slope - 1.0).abs() < 1e-12 && ll.intercept.abs() < 1e-12);
        // The constant: both fits flat, exactly.
        let ls = lines(&refs, &figs[1]);
        let t = fit_table(&scan, &figs[1], &ls);
        assert_eq!(
            t.rows,
            [[
                "pingpong/pipe/epoll",
                "8",
                "3",
                "[3, 3]",
                "0",
                "[0, 0]",
                "—",
                "0",
                "[0, 0]",
                "—"
            ]]
        );
        // The headline constant too (150k round trips/s at every fanout).
        let t = fit_table(&scan, &figs[0], &lines(&refs, &figs[0]));
        assert_eq!(t.rows[0][4..], ["0", "[0, 0]", "—", "0", "[0, 0]", "—"]);
    }

    /// Tester item 5: a list scan typed out of order (`rate=1e3,500.5,2000`) lists its
    /// values ascending in the header and the table; a duration scan (`think`,
    /// recorded in ns) shows them in ns/µs/ms/s as its ids do, never `1.000e10`.
    /// A `rate=1e3,500.5,2000` scan typed out of order, one repeat a point whose
    /// req/s is the rate itself (also export::html's test document).
    pub(crate) fn rate_doc() -> RunResult {
        let rate = Scan {
            name: "rate".into(),
            unit: "req/s".into(),
            values: vec![1000.0, 500.5, 2000.0],
            spec: "rate=1e3,500.5,2000".into(),
        };
        let cases: Vec<Case> = rate
            .values
            .iter()
            .map(|&x| {
                let rep = vec![("requests_per_sec", Metric::higher("req/s"), x)];
                point("epoll", "rate", x, &format!("{x}"), &[rep])
            })
            .collect();
        doc(rate, cases)
    }

    #[test]
    fn scan_values_read_ascending_and_durations_in_their_units() {
        let d = rate_doc();
        assert_eq!(
            summary(d.scan.as_ref().unwrap()),
            "Scan of rate (req/s): 500.5, 1000, 2000 (3 values, --scan rate=1e3,500.5,2000)"
        );
        let ts = tables(&d);
        assert_eq!(ts.len(), 2, "one figure: its curve and its fits");
        let rows: Vec<Vec<&str>> = ts[0]
            .rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["500.5", "500.5 (1)"],
                ["1000", "1000 (1)"],
                ["2000", "2000 (1)"]
            ]
        );
        // The HTML report's copy of these tables: export::html's tests (html imports
        // scan, never the other way).
        // Durations.
        let think = Scan {
            name: "think".into(),
            unit: "ns".into(),
            values: vec![1e10, 1000.0, 0.0, 2500.0],
            spec: "think=10s,1us,0,2500ns".into(),
        };
        assert_eq!(
            summary(&think),
            "Scan of think: 0, 1 µs, 2.5 µs, 10 s (4 values, --scan think=10s,1us,0,2500ns)"
        );
        let fig = Figure {
            name: "us_per_event".into(),
            unit: "µs/event".into(),
            source: Source::Metric("us_per_event".into()),
        };
        let t = curve_table(&think, &fig, &[]);
        assert_eq!(t.header, ["think"]);
        let first: Vec<&str> = t.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(first, ["0", "1 µs", "2.5 µs", "10 s"]);
        for (ns, want) in [
            (0.0, "0"),
            (750.0, "750 ns"),
            (1000.0, "1 µs"),
            (1.5e6, "1.5 ms"),
            (2e9, "2 s"),
            (1e10, "10 s"),
        ] {
            assert_eq!(duration(ns), want);
            assert_eq!(scanned_tick(ns, "ns"), want);
        }
        assert_eq!(scanned(800.0, "channels"), "800");
        assert_eq!(scanned_tick(2.5, "req/s"), "2.5");
    }

    #[test]
    fn probe_cost_is_in_ns_per_op() {
        assert_eq!(ns_per_op(2.0, Better::Lower, "µs/event"), Some(2000.0));
        assert_eq!(ns_per_op(1e6, Better::Higher, "req/s"), Some(1000.0));
        assert_eq!(ns_per_op(3.0, Better::Lower, "switches"), None);
    }
}
