//! `compare --svg DIR` and `compare --html FILE`: the regression gate's rows drawn, one
//! plot per workload and metric. Each case is a row: its change from baseline to
//! current (median over median − 1, in %) as a point, the interval `compare` computed
//! for that change as the whisker, the ±threshold band shaded, the colour the verdict
//! (red: regressed, green: improved, grey: unchanged; a hollow point: too few repeats,
//! no verdict) and the label the two medians. Cases only on one side are not drawn
//! (the text verdict lists them).
use std::{fmt::Write as _, path::Path};

use anyhow::{anyhow, Result};
use plotters::{coord::Shift, prelude::*};

use super::{escape, svg::write_plots, Table};
use crate::results::compare::{Comparison, Row, Scale, Verdict};

const W: u32 = 1100;

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
        Verdict::Unchanged => RGBColor(90, 90, 90),
        Verdict::Inconclusive => RGBColor(220, 150, 0),
        Verdict::TooFewRepeats => RGBColor(150, 150, 150),
    }
}

/// A row's decision interval as relative changes (0.05 = +5%): as judged when the row
/// was judged on the relative scale; a difference judged on the absolute scale (a
/// near-zero baseline) is drawn relative to its baseline median when that is not 0,
/// and not drawn otherwise (NaN).
fn rel_ci(r: &Row) -> (f64, f64) {
    match r.scale {
        Scale::Relative => (r.interval.low, r.interval.high),
        Scale::Absolute if r.baseline_median != 0.0 => (
            r.interval.low / r.baseline_median.abs(),
            r.interval.high / r.baseline_median.abs(),
        ),
        Scale::Absolute => (f64::NAN, f64::NAN),
    }
}

/// The plot of one group: the change of each case with its interval.
pub fn change_plot(title: &str, rows: &[&Row], threshold: f64) -> Result<String> {
    let n = rows.len();
    let pct = |x: f64| x * 100.0;
    let mut lo = -pct(threshold);
    let mut hi = pct(threshold);
    for r in rows {
        for v in [r.change, rel_ci(r).0, rel_ci(r).1] {
            if v.is_finite() {
                lo = lo.min(pct(v));
                hi = hi.max(pct(v));
            }
        }
    }
    let pad = ((hi - lo) * 0.1).max(1.0);
    let (x0, x1) = (lo - pad, hi + pad);
    let h = (130 + 60 * n as u32).max(230);
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
                "change, current vs baseline (%, median ÷ median − 1); whisker: compare's interval; band: ±{:.1}% threshold",
                pct(threshold)
            ))
            .x_label_formatter(&|x| format!("{x:+.1}%"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(-pct(threshold), 0.0), (pct(threshold), n as f64)],
                RGBColor(230, 230, 230).mix(0.6).filled(),
            )))
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (0.0, n as f64)],
                BLACK.stroke_width(1),
            )))
            .map_err(draw_err)?;
        let y = |i: usize| (n - 1 - i) as f64;
        for (i, r) in rows.iter().enumerate() {
            let c = verdict_colour(r.verdict);
            let m = y(i) + 0.35;
            if rel_ci(r).0.is_finite() && rel_ci(r).1.is_finite() {
                let (a, z) = (pct(rel_ci(r).0), pct(rel_ci(r).1));
                for seg in [
                    vec![(a, m), (z, m)],
                    vec![(a, m - 0.12), (a, m + 0.12)],
                    vec![(z, m - 0.12), (z, m + 0.12)],
                ] {
                    chart
                        .draw_series(std::iter::once(PathElement::new(seg, c.stroke_width(2))))
                        .map_err(draw_err)?;
                }
            }
            if r.change.is_finite() {
                let style = if r.verdict == Verdict::TooFewRepeats {
                    c.stroke_width(2)
                } else {
                    c.filled()
                };
                chart
                    .draw_series(std::iter::once(Circle::new((pct(r.change), m), 6, style)))
                    .map_err(draw_err)?;
            }
            let f = |v: f64| crate::output::figure(v, if r.unit == "ns" { "ns" } else { "" });
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(
                        "{} — {} → {}{} ({:+.1}%, {}; {} vs {} repeats)",
                        r.case,
                        f(r.baseline_median),
                        f(r.current_median),
                        if r.unit == "ns" || r.unit.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", r.unit)
                        },
                        pct(r.change),
                        r.verdict.word(),
                        r.n_baseline,
                        r.n_current
                    ),
                    (x0, y(i) + 0.98),
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
            let s = change_plot(&title, &rows, c.threshold)?;
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
        "<p><b>{}</b>: {} regressed, {} improved of {} metrics; threshold ±{:.1}%.</p>",
        crate::export::compare::verdict_head(c),
        c.regressed(),
        c.improved(),
        c.rows.len(),
        c.threshold * 100.0
    );
    for w in c.machine.iter().chain(&c.method).chain(&c.warnings) {
        let _ = writeln!(out, "<div class=\"warn\">warning: {}</div>", escape(w));
    }
    let table = Table {
        title: "verdicts".into(),
        header: [
            "case", "metric", "baseline", "current", "change", "interval", "verdict",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, false, true, true, true, true, false],
        rows: c
            .rows
            .iter()
            .map(|r| {
                let u = if r.unit == "ns" { "ns" } else { "" };
                vec![
                    r.case.clone(),
                    format!("{} ({})", r.metric, r.unit),
                    crate::output::figure(r.baseline_median, u),
                    crate::output::figure(r.current_median, u),
                    format!("{:+.1}%", r.change * 100.0),
                    if rel_ci(r).0.is_finite() && rel_ci(r).1.is_finite() {
                        format!(
                            "{:+.1}% … {:+.1}%",
                            rel_ci(r).0 * 100.0,
                            rel_ci(r).1 * 100.0
                        )
                    } else {
                        crate::output::NO_DATA.into()
                    },
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
