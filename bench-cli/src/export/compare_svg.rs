//! `compare --svg DIR` and `compare --html FILE`: the regression gate's rows drawn, one
//! plot per workload and metric. Each case is a row holding both sides on the metric's
//! own axis: the baseline's median (grey ring) and the current one's (a dot in the
//! verdict's colour: red regressed, green improved, grey unchanged, amber inconclusive;
//! a ring for too few repeats), each with its 95% bootstrap interval of the median as
//! the whisker (`Row::baseline_interval`, `current_interval`); the label above gives the
//! two medians, the change with compare's 99% interval of it, the verdict and the
//! repeats. A log axis when the values span more than 10×. Cases only on one side are
//! not drawn (the text verdict lists them).
use std::{fmt::Write as _, path::Path};

use anyhow::{anyhow, Result};
use plotters::{coord::Shift, prelude::*};

use super::{
    compare::{change_text, interval_text},
    escape,
    svg::write_plots,
    Table,
};
use crate::results::compare::{Comparison, Interval, Row, Verdict, SIDE_LEVEL};

const W: u32 = 1100;
/// The baseline's colour: neutral, so the current side's verdict colour stands out.
const BASELINE: RGBColor = RGBColor(110, 110, 110);

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the plot: {e:?}")
}

/// The workload of a case id (`pingpong/pipe/block/pin=same` → `pingpong`).
fn workload(case: &str) -> &str {
    case.split('/').next().unwrap_or(case)
}

/// Rows grouped by (workload, metric), in the order `compare` listed them.
pub fn groups(c: &Comparison) -> Vec<((String, String), Vec<&Row>)> {
    let mut out: Vec<((String, String), Vec<&Row>)> = Vec::new();
    for r in &c.rows {
        let key = (workload(&r.case).to_string(), r.metric.clone());
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out
}

fn verdict_colour(v: Verdict) -> RGBColor {
    match v {
        Verdict::Regressed => RGBColor(200, 30, 30),
        Verdict::Improved => RGBColor(0, 140, 70),
        Verdict::Unchanged => RGBColor(60, 60, 60),
        Verdict::Inconclusive => RGBColor(220, 150, 0),
        Verdict::TooFewRepeats => RGBColor(150, 150, 150),
    }
}

/// A value in the row's unit, for labels and ticks (ns scaled to µs, ms, s).
fn value(v: f64, unit: &str) -> String {
    crate::output::figure(v, if unit == "ns" { "ns" } else { "" })
}

/// A side's interval as text: `[1.98, 2.63]`, or "no interval (one repeat)".
fn side_text(i: Option<Interval>, unit: &str) -> String {
    match i {
        Some(i) => format!("[{}, {}]", value(i.low, unit), value(i.high, unit)),
        None => "no interval (one repeat)".into(),
    }
}

/// Every finite value a plot of `rows` must show: medians and interval ends.
fn extent(rows: &[&Row]) -> Vec<f64> {
    rows.iter()
        .flat_map(|r| {
            let ends = |i: Option<Interval>| i.map_or([f64::NAN; 2], |i| [i.low, i.high]);
            let [a, b] = ends(r.baseline_interval);
            let [c, d] = ends(r.current_interval);
            [r.baseline_median, r.current_median, a, b, c, d]
        })
        .filter(|v| v.is_finite())
        .collect()
}

/// The plot of one group: per case, the baseline and the current median with their
/// 95% intervals, on the metric's axis (log when the values span more than 10×).
pub fn pair_plot(title: &str, rows: &[&Row]) -> Result<String> {
    let n = rows.len();
    let unit = rows.first().map_or(String::new(), |r| r.unit.clone());
    let vals = extent(rows);
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let log = lo > 0.0 && hi / lo > 10.0;
    // On a log axis x is log10 of the value (ticks labelled with the value itself).
    let tx = |v: f64| if log { v.log10() } else { v };
    let (x0, x1) = if log {
        ((lo / 1.5).log10().floor(), (hi * 1.5).log10().ceil())
    } else {
        let pad = ((hi - lo) * 0.08)
            .max(hi.abs().max(lo.abs()) * 0.02)
            .max(1e-9);
        // Counts and rates start at 0 when that costs less than half the plot.
        let start = if lo >= 0.0 && lo - pad < (hi - lo) {
            0.0
        } else {
            lo - pad
        };
        (start, hi + pad)
    };
    // Plotters' ten linear ticks step by at least a tenth of the range: labelled with
    // the decimals that smallest step needs, neighbours never read alike (three
    // significant digits printed "1.15 1.15 1.16").
    let step = (x1 - x0) / 10.0;
    let h = (140 + 74 * n as u32).max(240);
    let mut svg = String::new();
    {
        let root: DrawingArea<SVGBackend, Shift> =
            SVGBackend::with_string(&mut svg, (W, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .margin_right(36)
            .x_label_area_size(50)
            .y_label_area_size(10)
            .build_cartesian_2d(x0..x1, 0f64..n as f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(format!(
                "{}{}; grey ring: baseline median, dot: current median (colour: verdict); whiskers: {:.0}% bootstrap interval of each median",
                if unit.is_empty() { "value".to_string() } else { unit.clone() },
                if log { ", log scale" } else { "" },
                SIDE_LEVEL * 100.0
            ))
            .x_labels(if log { (x1 - x0) as usize + 1 } else { 10 })
            .x_label_formatter(&|x| {
                if log {
                    value(10f64.powf(*x), &unit)
                } else {
                    super::svg::linear_tick_label(*x, step, &unit, x0.abs().max(x1.abs()))
                }
            })
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        // First case at the top; each row: its label, the current side, the baseline.
        let y = |i: usize| (n - 1 - i) as f64;
        for (i, r) in rows.iter().enumerate() {
            let colour = verdict_colour(r.verdict);
            let sides = [
                (
                    r.baseline_median,
                    r.baseline_interval,
                    BASELINE,
                    false,
                    0.22,
                ),
                (
                    r.current_median,
                    r.current_interval,
                    colour,
                    r.verdict != Verdict::TooFewRepeats,
                    0.52,
                ),
            ];
            for (median, interval, c, filled, dy) in sides {
                let m = y(i) + dy;
                if let Some(iv) = interval.filter(|iv| iv.low.is_finite() && iv.high.is_finite()) {
                    let (a, z) = (tx(iv.low), tx(iv.high));
                    for seg in [
                        vec![(a, m), (z, m)],
                        vec![(a, m - 0.08), (a, m + 0.08)],
                        vec![(z, m - 0.08), (z, m + 0.08)],
                    ] {
                        chart
                            .draw_series(std::iter::once(PathElement::new(seg, c.stroke_width(2))))
                            .map_err(draw_err)?;
                    }
                }
                if median.is_finite() && (!log || median > 0.0) {
                    let style = if filled {
                        c.filled()
                    } else {
                        c.stroke_width(2)
                    };
                    chart
                        .draw_series(std::iter::once(Circle::new((tx(median), m), 6, style)))
                        .map_err(draw_err)?;
                }
            }
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(
                        "{} — {} → {} ({}, {}; {:.0}% interval of the change {}; {} vs {} repeats)",
                        r.case,
                        value(r.baseline_median, &r.unit),
                        value(r.current_median, &r.unit),
                        change_text(r),
                        r.verdict.word(),
                        r.interval.level * 100.0,
                        interval_text(r),
                        r.n_baseline,
                        r.n_current
                    ),
                    (x0, y(i) + 0.97),
                    ("sans-serif", 14).into_font().color(&BLACK),
                )))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Every comparison plot, as (file stem, title, SVG).
pub fn plots(c: &Comparison) -> Result<Vec<(String, String, String)>> {
    groups(c)
        .into_iter()
        .map(|((w, m), rows)| {
            let title = format!("{w}: {m}, current against baseline");
            let s = pair_plot(&title, &rows)?;
            Ok((format!("compare-{w}-{m}"), title, s))
        })
        .collect()
}

/// Writes every comparison plot into `dir`; returns the files written.
pub fn write_dir(c: &Comparison, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    write_plots(&plots(c)?, dir)
}

/// One self-contained HTML page: the warnings, the verdict table and the plots inline.
pub fn html(c: &Comparison) -> Result<String> {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>evbench compare</title>\
<style>body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}caption{text-align:left;font-weight:bold;padding:4px 0}\
th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.warn{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px;margin:4px 0}svg{max-width:100%;height:auto}</style>\
</head><body>\n<h1>evbench compare</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p><b>{}</b>; threshold ±{:.1}%.</p>",
        escape(&super::compare::verdict_line(c)),
        c.threshold * 100.0
    );
    for w in c.machine.iter().chain(&c.method).chain(&c.warnings) {
        let _ = writeln!(out, "<div class=\"warn\">warning: {}</div>", escape(w));
    }
    let table = Table {
        title: "verdicts".into(),
        header: [
            "case".to_string(),
            "metric".into(),
            format!("baseline median [{:.0}% interval]", SIDE_LEVEL * 100.0),
            format!("current median [{:.0}% interval]", SIDE_LEVEL * 100.0),
            "change".into(),
            format!("{:.0}% interval of the change", c.decide_level * 100.0),
            "verdict".into(),
        ]
        .to_vec(),
        numeric: vec![false, false, true, true, true, true, false],
        rows: c
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.case.clone(),
                    format!("{} ({})", r.metric, r.unit),
                    format!(
                        "{} {}",
                        value(r.baseline_median, &r.unit),
                        side_text(r.baseline_interval, &r.unit)
                    ),
                    format!(
                        "{} {}",
                        value(r.current_median, &r.unit),
                        side_text(r.current_interval, &r.unit)
                    ),
                    change_text(r),
                    interval_text(r),
                    r.verdict.word().into(),
                ]
            })
            .collect(),
    };
    out.push_str(&table.html());
    for (_, title, s) in plots(c)? {
        let body = s.find("<svg").map_or(s.as_str(), |i| &s[i..]);
        let _ = writeln!(
            out,
            "<figure aria-label=\"{}\">{body}</figure>",
            escape(&title)
        );
    }
    for a in &c.added {
        let _ = writeln!(out, "<p>added (only in current): {}</p>", escape(a));
    }
    for r in &c.removed {
        let _ = writeln!(out, "<p>removed (only in baseline): {}</p>", escape(r));
    }
    out.push_str("</body></html>\n");
    Ok(out)
}
