//! SVG plots drawn with plotters, one file each:
//! - latency percentile distributions (x: 1/(1−p) on a log scale, labelled as
//!   percentiles; one line per case);
//! - latency histograms (log-linear buckets: nine linear buckets per decade, on a log x
//!   axis; y: share of the samples, so cases with different counts compare);
//! - headline bars (mean of the judged repeats, whisker: the 95% confidence interval of
//!   the mean, Student's t; a log axis when the values span more than 10×);
//! - in a parameter scan, each scan figure against the scanned value ([`scan_plot`]):
//!   the median of each value's repeats with its 95% interval, log axes only where
//!   [`scan_axes`] allows.
//!
//! Every series has its own colour and its own marker/dash pattern (12 distinct styles
//! before colours shift), the legend sits beside the plotting area, and a series of one
//! sample is drawn as a point. Cases whose repeats were all interrupted have no figures
//! and are left out. Self-contained: text uses the reader's sans-serif font.
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use plotters::{coord::Shift, prelude::*};

use super::{
    groups, headline, plotted_histograms,
    scan::{self as scans, LineFits},
};
use crate::results::{Across, Better, Case, RunResult, Scan};

/// Width of a plot, of its legend panel, and height of the latency plots (px).
const W: u32 = 1200;
const LEGEND_W: u32 = 440;
const H: u32 = 540;

/// A readable palette: Okabe-Ito's eight (distinct for the colour-blind), then four of
/// Paul Tol's "muted" scheme.
const COLOURS: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(190, 170, 20),
    RGBColor(136, 34, 85),
    RGBColor(68, 170, 153),
    RGBColor(51, 34, 136),
    RGBColor(153, 153, 51),
];

/// Marker shapes, in the order series take them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Ring,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::Cross,
    Marker::Ring,
];

/// How series `i` is drawn: (colour index, marker, dashed). The first 12 series differ
/// in colour and, each, in marker or dash (6 markers × solid/dashed); beyond 12 the
/// styles repeat with the colours shifted, so no two of the first 144 look alike.
pub fn style(i: usize) -> (usize, Marker, bool) {
    let s = i % 12;
    ((i + i / 12) % 12, MARKERS[s % 6], s >= 6)
}

fn colour(i: usize) -> RGBColor {
    COLOURS[style(i).0]
}

/// A plot's pixel-addressed drawing area.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws `m` centred on pixel `(x, y)`.
fn draw_marker(area: &Area, m: Marker, (x, y): (i32, i32), c: RGBColor) -> Result<()> {
    let r = 5;
    match m {
        Marker::Circle => area.draw(&Circle::new((x, y), r, c.filled())),
        Marker::Ring => area.draw(&Circle::new((x, y), r, c.stroke_width(2))),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - r + 1, y - r + 1), (x + r - 1, y + r - 1)],
            c.filled(),
        )),
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)],
            c.filled(),
        )),
        Marker::Diamond => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            c.filled(),
        )),
        Marker::Cross => {
            area.draw(&PathElement::new(
                vec![(x - r, y - r), (x + r, y + r)],
                c.stroke_width(2),
            ))
            .map_err(draw_err)?;
            area.draw(&PathElement::new(
                vec![(x - r, y + r), (x + r, y - r)],
                c.stroke_width(2),
            ))
        }
    }
    .map_err(draw_err)
}

/// Draws a polyline in series `i`'s style: solid or dashed.
fn draw_line(area: &Area, i: usize, pts: &[(i32, i32)]) -> Result<()> {
    let c = colour(i);
    if style(i).2 {
        area.draw(&plotters::element::DashedPathElement::new(
            pts.iter().copied(),
            9,
            5,
            c.stroke_width(2),
        ))
    } else {
        area.draw(&PathElement::new(pts.to_vec(), c.stroke_width(2)))
    }
    .map_err(draw_err)
}

/// The legend, in its own panel beside the plot: one row per series (line sample in its
/// dash, its marker, its label, and the label's note on a second line).
fn draw_legend(area: &Area, labels: &[(String, String)]) -> Result<()> {
    let top = 60;
    let step = if labels.iter().any(|l| !l.1.is_empty()) {
        38
    } else {
        24
    };
    for (i, (label, note)) in labels.iter().enumerate() {
        let y = top + step * i as i32;
        draw_line(area, i, &[(8, y), (48, y)])?;
        draw_marker(area, style(i).1, (28, y), colour(i))?;
        // Long ids are cut so the text stays inside the panel.
        let text: String = if label.chars().count() > 46 {
            let mut t: String = label.chars().take(45).collect();
            t.push('…');
            t
        } else {
            label.clone()
        };
        area.draw(&Text::new(
            text,
            (56, y - 8),
            ("sans-serif", 15).into_font().color(&BLACK),
        ))
        .map_err(draw_err)?;
        if !note.is_empty() {
            area.draw(&Text::new(
                note.trim().to_string(),
                (56, y + 9),
                ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(draw_err)?;
        }
    }
    Ok(())
}

/// Tick positions for a log axis over [lo, hi] (both > 0): whole decades when at least
/// three fall inside (every k-th decade past 12), else 1-2-5 steps when two or more
/// fall inside, else every integer multiple of a decade, else (a narrower axis) linear
/// 1-2-5 ticks. Plotters' own log key points have none when no power of ten
/// lies inside (an axis spanning less than a decade had no label) and give a decade's
/// end twice.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
        return Vec::new();
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |ms: &[f64]| -> Vec<f64> {
        (e0..=e1)
            .flat_map(|e| ms.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let decades = within(&[1.0]);
    if decades.len() >= 3 {
        let every = decades.len().div_ceil(12);
        return decades.into_iter().step_by(every).collect();
    }
    let steps = within(&[1.0, 2.0, 5.0]);
    if steps.len() >= 2 {
        return steps;
    }
    let multiples = within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if multiples.len() >= 2 {
        return multiples;
    }
    // A narrow axis (a one-sample plot spans 1.5× either side): linear 1-2-5 ticks.
    linear_ticks(lo, hi).0
}

/// About eight ticks over [lo, hi] at a 1-2-5 step, and that step.
pub fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    if !(hi > lo && lo.is_finite() && hi.is_finite()) {
        return (vec![lo], 1.0);
    }
    let raw = (hi - lo) / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    ((first..=last).map(|k| k as f64 * step).collect(), step)
}

/// A linear tick's label with as many decimals as its step needs, so neighbouring
/// ticks never read alike ("1.15 1.15 1.16"); whole numbers with thousands separators;
/// nanoseconds in the unit of the axis' largest tick.
pub fn linear_tick_label(v: f64, step: f64, unit: &str, max_abs: f64) -> String {
    let (v, step, suffix) = if unit == "ns" {
        let (div, u) = crate::output::time_scale(max_abs);
        (v / div, step / div, format!(" {u}"))
    } else {
        (v, step, String::new())
    };
    let decimals = (-(step.log10() - 1e-9).floor()).max(0.0) as usize;
    let text = if decimals == 0 {
        let c = crate::output::count(v.abs().round() as u64);
        if v < -0.5 {
            format!("-{c}")
        } else {
            c
        }
    } else {
        format!("{v:.decimals$}")
    };
    format!("{text}{suffix}")
}

/// The percentile a point at x = 1/(1−p) stands for, as a label.
fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let p = (1.0 - 1.0 / x) * 100.0;
    // As many decimals as the nines need (99.9%, 99.99%).
    let decimals = ((x.log10() - 2.0).ceil().max(0.0)) as usize;
    format!("{p:.decimals$}%")
}

/// Points (1/(1−p), value) of a histogram, 10 per decade of 1/(1−p), up to the
/// resolution its count allows, then its maximum.
pub fn distribution(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let n = h.len() as f64;
    if n == 0.0 {
        return Vec::new();
    }
    let mut pts = Vec::new();
    let mut k = 0;
    loop {
        let x = 10f64.powf(f64::from(k) / 10.0);
        if x > n {
            break;
        }
        let p = 1.0 - 1.0 / x;
        pts.push((x, h.value_at_quantile(p).max(1) as f64));
        k += 1;
    }
    pts.push((n.max(1.0), h.max().max(1) as f64));
    pts
}

/// Log-linear buckets of a histogram: each decade split into 90 linear buckets, so a
/// bucket is the values that share their first two significant digits ([1, 2), …,
/// [99, 100), [100, 110), …, [990, 1000), [1000, 1100), …): a constant relative width
/// of 1–10%, like HdrHistogram's own. 0 counts in [1, 2). Returns (low, high, count) of
/// every bucket from the first non-empty one to the last, empty ones included so the
/// shape has no gaps.
pub fn log_linear_buckets(h: &Histogram<u64>) -> Vec<(u64, u64, u64)> {
    let bucket = |v: u64| -> (u64, u64) {
        let v = v.max(1);
        let mut width = 1u64;
        while v / width >= 100 {
            width *= 10;
        }
        let lo = v / width * width;
        (lo, lo + width)
    };
    let mut counts: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for v in h.iter_recorded() {
        let (lo, hi) = bucket(h.lowest_equivalent(v.value_iterated_to()));
        counts.entry(lo).or_insert((hi, 0)).1 += v.count_at_value();
    }
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut lo = first;
    loop {
        let (hi, n) = counts
            .get(&lo)
            .copied()
            .unwrap_or_else(|| (bucket(lo).1, 0));
        out.push((lo, hi, n));
        if lo >= last {
            break;
        }
        lo = hi;
    }
    out
}

fn axis_value(v: f64, unit: &str) -> String {
    crate::output::figure(v, unit)
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the plot: {e:?}")
}

/// The percentile-distribution plot of histogram `name`, one line per case (a case
/// with one sample: one point).
pub fn latency_plot(title: &str, name: &str, cases: &[&Case]) -> Result<Option<String>> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = cases
        .iter()
        .filter_map(|c| Some((c.id.clone(), distribution(&c.merged(name)?))))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let unit = cases
        .iter()
        .find_map(|c| c.histograms.get(name))
        .map_or("ns".to_string(), |i| i.unit.clone());
    let xmax = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(10.0, f64::max);
    let xmax = 10f64.powf(xmax.log10().ceil());
    let (ymin, ymax) = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold((f64::MAX, 1.0f64), |(a, b), y| (a.min(y), b.max(y)));
    let (ymin, ymax) = (ymin / 1.5, ymax * 1.5);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (plot, legend) = root.split_horizontally(W - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (1f64..xmax)
                    .log_scale()
                    .with_key_points(log_ticks(1.0, xmax)),
                (ymin..ymax)
                    .log_scale()
                    .with_key_points(log_ticks(ymin, ymax)),
            )
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of 1/(1−p))")
            .y_desc(format!("{name} (log scale)"))
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| axis_value(*y, &unit))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        for (i, (_, pts)) in lines.iter().enumerate() {
            let px: Vec<(i32, i32)> = pts.iter().map(|p| chart.backend_coord(p)).collect();
            let one_sample = pts.iter().all(|p| p.0 == pts[0].0);
            if !one_sample {
                draw_line(&plot, i, &px)?;
            }
            // Markers every half decade and at the maximum, so styles tell lines apart
            // in print; a one-sample series is its point alone.
            let last = px.len() - 1;
            for (k, p) in px.iter().enumerate() {
                if one_sample || k % 5 == 0 || k == last {
                    draw_marker(&plot, style(i).1, *p, colour(i))?;
                }
            }
        }
        let labels: Vec<(String, String)> = lines
            .iter()
            .map(|(id, p)| {
                if p.iter().all(|q| q.0 == p[0].0) {
                    (id.clone(), " (one sample)".to_string())
                } else {
                    (id.clone(), String::new())
                }
            })
            .collect();
        draw_legend(&legend, &labels)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Some(svg))
}

/// (low, high, count) of log-linear buckets.
type Buckets = Vec<(u64, u64, u64)>;

/// One bar: case id, mean, its 95% interval, repeats, unit.
type Bar = (String, f64, Option<(f64, f64)>, usize, String);

/// The histogram itself of `name`: per case, the share of its samples in each
/// log-linear bucket ([`log_linear_buckets`]) as a step line on a log x axis.
pub fn histogram_plot(title: &str, name: &str, cases: &[&Case]) -> Result<Option<String>> {
    let series: Vec<(String, u64, Buckets)> = cases
        .iter()
        .filter_map(|c| {
            let h = c.merged(name)?;
            let b = log_linear_buckets(&h);
            (!b.is_empty()).then(|| (c.id.clone(), h.len(), b))
        })
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let unit = cases
        .iter()
        .find_map(|c| c.histograms.get(name))
        .map_or("ns".to_string(), |i| i.unit.clone());
    let xmin = series.iter().map(|s| s.2[0].0).min().unwrap_or(1).max(1) as f64;
    let xmax = series
        .iter()
        .map(|s| s.2.last().map_or(10, |b| b.1))
        .max()
        .unwrap_or(10) as f64;
    let share = |n: u64, total: u64| n as f64 / total.max(1) as f64 * 100.0;
    let ymax = series
        .iter()
        .flat_map(|(_, t, b)| b.iter().map(move |x| share(x.2, *t)))
        .fold(1.0, f64::max)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (plot, legend) = root.split_horizontally(W - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (xmin..xmax)
                    .log_scale()
                    .with_key_points(log_ticks(xmin, xmax)),
                0f64..ymax,
            )
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "{name} (log scale; buckets: 90 linear per decade, 2 significant digits)"
            ))
            .y_desc("share of the samples (%)")
            .x_label_formatter(&|x| axis_value(*x, &unit))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        for (i, (_, total, buckets)) in series.iter().enumerate() {
            let mut pts = Vec::new();
            for &(lo, hi, n) in buckets {
                let y = share(n, *total);
                pts.push(chart.backend_coord(&(lo as f64, y)));
                pts.push(chart.backend_coord(&(hi as f64, y)));
            }
            // Down to zero at both ends: a closed step outline.
            let first = chart.backend_coord(&(buckets[0].0 as f64, 0.0));
            let last = chart.backend_coord(&(buckets[buckets.len() - 1].1 as f64, 0.0));
            pts.insert(0, first);
            pts.push(last);
            draw_line(&plot, i, &pts)?;
            // The marker on the fullest bucket names the series in print.
            if let Some(&(lo, hi, n)) = buckets.iter().max_by_key(|b| b.2) {
                let x = (lo as f64 * hi as f64).sqrt();
                draw_marker(
                    &plot,
                    style(i).1,
                    chart.backend_coord(&(x, share(n, *total))),
                    colour(i),
                )?;
            }
        }
        let labels: Vec<(String, String)> = series
            .iter()
            .map(|(id, n, _)| {
                if *n == 1 {
                    (id.clone(), " (1 sample)".to_string())
                } else {
                    (
                        id.clone(),
                        format!(" ({} samples)", crate::output::count(*n)),
                    )
                }
            })
            .collect();
        draw_legend(&legend, &labels)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Some(svg))
}

/// Student's t quantile for a two-sided 95% interval with `df` degrees of freedom
/// (table to 30, then the normal's 1.96 approached by 1.96 + 2.4/df).
pub fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

/// The geometric mean of positive repeated figures and its 95% confidence interval:
/// Student's t on the logarithms, `exp(m ± t·s/√n)` with m, s the mean and sample sd of
/// ln x. Throughputs and times are positive and their noise multiplicative, so the
/// interval is too (it never crosses zero, as the plain t-interval of the mean does on
/// a noisy machine). `None` for an empty slice or a value ≤ 0; no interval for one value.
pub fn geo_ci95(xs: &[f64]) -> Option<(f64, Option<(f64, f64)>)> {
    if xs.is_empty() || xs.iter().any(|x| *x <= 0.0 || !x.is_finite()) {
        return None;
    }
    let logs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let a = Across::of(&logs);
    let g = a.mean.exp();
    if a.n < 2 {
        return Some((g, None));
    }
    let h = t95(a.n - 1) * a.stddev / (a.n as f64).sqrt();
    Some((g, Some(((a.mean - h).exp(), (a.mean + h).exp()))))
}

/// Horizontal bars of metric `name`: the geometric mean over the judged repeats, a
/// whisker for its 95% confidence interval ([`geo_ci95`]); a log axis when the bars
/// span more than 10×.
pub fn bar_plot(title: &str, name: &str, cases: &[&Case]) -> Result<Option<String>> {
    let bars: Vec<Bar> = cases
        .iter()
        .filter_map(|c| {
            let m = c.metrics.get(name)?;
            let xs = c.values(name);
            let (g, ci) = geo_ci95(&xs)?;
            Some((c.id.clone(), g, ci, xs.len(), m.metric.unit.clone()))
        })
        .collect();
    if bars.is_empty() {
        return Ok(None);
    }
    let n = bars.len();
    let ends: Vec<f64> = bars
        .iter()
        .flat_map(|b| [Some(b.1), b.2.map(|c| c.0), b.2.map(|c| c.1)])
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let hi = ends.iter().copied().fold(0.0, f64::max).max(1e-9);
    let lo = ends.iter().copied().fold(f64::MAX, f64::min);
    let log = hi / lo > 10.0;
    // On a log axis x is log10 of the value (ticks labelled with the value itself).
    let tx = |v: f64| if log { v.max(lo / 2.0).log10() } else { v };
    // Whole decades at both ends, one tick each.
    let (x0, x1) = if log {
        ((lo / 2.0).log10().floor(), (hi * 1.2).log10().ceil())
    } else {
        (0.0, hi * 1.15)
    };
    let h = (120 + 56 * n as u32).max(220);
    let unit = bars[0].4.clone();
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
                "{name} ({unit}){}; bar: geometric mean of the repeats, whisker: its 95% confidence interval (Student's t on the logs)",
                if log { ", log scale" } else { "" }
            ))
            .x_labels(if log { (x1 - x0) as usize + 1 } else { 10 })
            .x_label_formatter(&|x| {
                crate::output::figure(if log { 10f64.powf(*x) } else { *x }, "")
            })
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        // First case at the top; each row: its label above, the bar, the whisker
        // through the bar's middle with end caps.
        let y = |i: usize| (n - 1 - i) as f64;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                Rectangle::new(
                    [(x0, y(i) + 0.08), (tx(b.1), y(i) + 0.55)],
                    colour(i).mix(0.55).filled(),
                )
            }))
            .map_err(draw_err)?;
        for (i, b) in bars.iter().enumerate() {
            if let Some((a, z)) = b.2 {
                let m = y(i) + 0.315;
                for seg in [
                    vec![(tx(a), m), (tx(z), m)],
                    vec![(tx(a), m - 0.12), (tx(a), m + 0.12)],
                    vec![(tx(z), m - 0.12), (tx(z), m + 0.12)],
                ] {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            seg,
                            BLACK.stroke_width(2),
                        )))
                        .map_err(draw_err)?;
                }
            }
        }
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let spread = match b.2 {
                    Some((a, z)) => format!(
                        "95% CI {}–{}, {} repeats",
                        crate::output::figure(a, ""),
                        crate::output::figure(z, ""),
                        b.3
                    ),
                    None => "one repeat: no interval".into(),
                };
                Text::new(
                    format!(
                        "{} — geometric mean {} ({spread})",
                        b.0,
                        crate::output::figure(b.1, &b.4),
                    ),
                    (x0, y(i) + 0.95),
                    ("sans-serif", 15).into_font().color(&BLACK),
                )
            }))
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Some(svg))
}

/// A point of a scan line: the median of its repeats (the number the curve table
/// shows) and a 95% interval: the geometric mean's ([`geo_ci95`]) for positive
/// repeats, else (a per-op count of 0, a probe cost within noise) the arithmetic
/// mean's, Student's t. `None` without a finite repeat; no interval for one.
pub fn scan_centre(ys: &[f64]) -> Option<(f64, Option<(f64, f64)>)> {
    let ys: Vec<f64> = ys.iter().copied().filter(|y| y.is_finite()).collect();
    if ys.is_empty() {
        return None;
    }
    let median = crate::results::stats::median(&ys);
    if let Some((_, ci)) = geo_ci95(&ys) {
        return Some((median, ci));
    }
    let a = Across::of(&ys);
    if a.n < 2 {
        return Some((median, None));
    }
    let h = t95(a.n - 1) * a.stddev / (a.n as f64).sqrt();
    Some((median, Some((a.mean - h, a.mean + h))))
}

/// Which axes of a scan plot are logarithmic, (x, y): x when the scanned values `xs`
/// are all > 0 and span 10× or more; y only when x is log and the plotted `medians`
/// (not their intervals) are all > 0 and span 10× or more. Else linear. A log y over a
/// linear x bends a straight line (a linear cost against `think` would look curved),
/// and an interval's ends say nothing of the curve's own range.
pub fn scan_axes(xs: &[f64], medians: &[f64]) -> (bool, bool) {
    let wide = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        !v.is_empty() && lo > 0.0 && hi.is_finite() && hi >= 10.0 * lo
    };
    let logx = wide(xs);
    (logx, logx && wide(medians))
}

/// Figure `fig` against the scanned value: one line per mechanism × wait mode (`lines`,
/// from [`scans::lines`]), a marker per value at the median of its repeats with a
/// whisker for the 95% interval ([`scan_centre`]); the axes as [`scan_axes`] chooses
/// (whiskers beyond a log axis' decades are cut at its edge). A duration scan's ticks
/// read in ns, µs, ms or s. The legend gives each line's linear slope b and log-log
/// slope k. `None` when no line has a point.
pub fn scan_plot(
    title: &str,
    scan: &Scan,
    fig: &scans::Figure,
    lines: &[scans::Line],
) -> Result<Option<String>> {
    type Pt = (f64, f64, Option<(f64, f64)>);
    let series: Vec<(String, Vec<Pt>)> = lines
        .iter()
        .map(|l| {
            let pts = l
                .points
                .iter()
                .filter_map(|(x, ys)| scan_centre(ys).map(|(c, ci)| (*x, c, ci)))
                .collect();
            (l.id.clone(), pts)
        })
        .filter(|(_, p): &(String, Vec<Pt>)| !p.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let xs: Vec<f64> = all().map(|p| p.0).collect();
    let medians: Vec<f64> = all().map(|p| p.1).collect();
    let span = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::MAX, f64::min);
        let hi = v.iter().copied().fold(f64::MIN, f64::max);
        (lo, hi)
    };
    let (logx, logy) = scan_axes(&xs, &medians);
    let (xlo, xhi) = span(&xs);
    let (x0, x1) = if logx {
        (xlo.log10().floor(), xhi.log10().ceil())
    } else {
        let pad = ((xhi - xlo) * 0.05).max(xhi.abs() * 0.05);
        let pad = if pad > 0.0 { pad } else { 1.0 };
        (xlo - pad, xhi + pad)
    };
    let (y0, y1) = if logy {
        // Whole decades around the medians.
        let (lo, hi) = span(&medians);
        (lo.log10().floor(), hi.log10().ceil())
    } else {
        // A linear axis is set by the medians; the intervals may widen it by at most
        // the medians' own span either side (a wide interval of 2 repeats would
        // otherwise squash the curve flat) and are cut at its edge beyond. From zero
        // when nothing is negative (a flat line then looks flat); all zero (no
        // wakeups at all): a unit range.
        let (mlo, mhi) = span(&medians);
        let room = (mhi - mlo).max(mhi.abs() * 0.05);
        let ends: Vec<f64> = all()
            .flat_map(|p| [Some(p.1), p.2.map(|c| c.0), p.2.map(|c| c.1)])
            .flatten()
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(mlo - room, mhi + room))
            .collect();
        let (ylo, yhi) = span(&ends);
        let pad = ((yhi - ylo) * 0.08).max(yhi.abs() * 0.05);
        let pad = if pad > 0.0 { pad } else { 1.0 };
        (if ylo >= 0.0 { 0.0 } else { ylo - pad }, yhi + pad)
    };
    // Log axes are drawn as log10 of the value on a linear axis, labelled with values;
    // a whisker end beyond the axis (or ≤ 0 on a log one) stops at its edge.
    let tx = |v: f64| if logx { v.log10() } else { v };
    let ty = |v: f64| {
        let t = if logy {
            if v > 0.0 {
                v.log10()
            } else {
                y0
            }
        } else {
            v
        };
        t.clamp(y0, y1)
    };
    let fits: Vec<LineFits> = lines.iter().map(LineFits::of).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (plot, legend) = root.split_horizontally(W - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        let value = |v: f64, log: bool| if log { 10f64.powf(v) } else { v };
        chart
            .configure_mesh()
            .x_desc(format!(
                "{}{}",
                scans::axis_name(scan),
                if logx { ", log scale" } else { "" }
            ))
            .y_desc(format!(
                "{} ({}){}: median of the repeats, 95% CI",
                fig.name,
                fig.unit,
                if logy { ", log scale" } else { "" }
            ))
            .x_labels(if logx { (x1 - x0) as usize + 1 } else { 10 })
            .y_labels(if logy { (y1 - y0) as usize + 1 } else { 10 })
            .x_label_formatter(&|x| scans::scanned_tick(value(*x, logx), &scan.unit))
            .y_label_formatter(&|y| scans::tick(value(*y, logy)))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        for (i, (_, pts)) in series.iter().enumerate() {
            let px: Vec<(i32, i32)> = pts
                .iter()
                .map(|p| chart.backend_coord(&(tx(p.0), ty(p.1))))
                .collect();
            if px.len() > 1 {
                draw_line(&plot, i, &px)?;
            }
            for (p, at) in pts.iter().zip(&px) {
                if let Some((lo, hi)) = p.2 {
                    let (_, a) = chart.backend_coord(&(tx(p.0), ty(lo)));
                    let (_, b) = chart.backend_coord(&(tx(p.0), ty(hi)));
                    let c = colour(i).stroke_width(1);
                    for seg in [
                        vec![(at.0, a), (at.0, b)],
                        vec![(at.0 - 4, a), (at.0 + 4, a)],
                        vec![(at.0 - 4, b), (at.0 + 4, b)],
                    ] {
                        plot.draw(&PathElement::new(seg, c)).map_err(draw_err)?;
                    }
                }
                draw_marker(&plot, style(i).1, *at, colour(i))?;
            }
        }
        let labels: Vec<(String, String)> = series
            .iter()
            .map(|(id, _)| {
                let f = lines
                    .iter()
                    .position(|l| &l.id == id)
                    .and_then(|k| fits.get(k));
                let b = f
                    .and_then(|f| f.linear.as_ref())
                    .map_or("—".into(), |f| scans::num(f.slope));
                let k = f
                    .and_then(|f| f.log_log.as_ref())
                    .map_or("—".into(), |f| scans::num(f.0.slope));
                (
                    id.clone(),
                    format!(
                        " linear b = {b} {} per {}, log-log k = {k}",
                        fig.unit,
                        scans::unit_one(&scan.unit)
                    ),
                )
            })
            .collect();
        // What a marker and a whisker are, above the lines' rows.
        legend
            .draw(&Text::new(
                "marker: median of the repeats; whisker: 95% CI",
                (8, 24),
                ("sans-serif", 14).into_font().color(&BLACK),
            ))
            .map_err(draw_err)?;
        draw_legend(&legend, &labels)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Some(svg))
}

/// Every plot of a result, as (file stem, title, SVG text).
pub fn plots(r: &RunResult) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    if let Some(scan) = &r.scan {
        let cases = scans::scan_cases(r);
        let workload = cases.first().map_or("scan", |c| c.workload.as_str());
        for fig in scans::figures(&cases) {
            let ls = scans::lines(&cases, &fig);
            let title = format!("{workload}: {} against {}", fig.name, scan.name);
            if let Some(s) = scan_plot(&title, scan, &fig, &ls)? {
                out.push((
                    format!("{workload}-scan-{}-{}", scan.name, fig.name),
                    title,
                    s,
                ));
            }
        }
    }
    for (workload, cases) in groups(r) {
        if let Some((name, better, _)) = headline(&cases) {
            if better != Better::Neither {
                let title = format!("{workload}: {name}");
                if let Some(s) = bar_plot(&title, &name, &cases)? {
                    out.push((format!("{workload}-{name}"), title, s));
                }
            }
        }
        for name in plotted_histograms(&cases) {
            let title = format!("{workload}: {name} percentile distribution");
            if let Some(s) = latency_plot(&title, &name, &cases)? {
                out.push((format!("{workload}-{name}"), title, s));
            }
            let title = format!("{workload}: {name} histogram");
            if let Some(s) = histogram_plot(&title, &name, &cases)? {
                out.push((format!("{workload}-{name}.histogram"), title, s));
            }
        }
    }
    Ok(out)
}

/// A file stem safe on any file system: letters, digits, `-`, `.`, `_`; the rest `_`.
pub fn safe_stem(stem: &str) -> String {
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file a plot of this stem goes to in `dir`: `DIR/STEM.svg`, the stem made safe
/// ([`safe_stem`]). Known before anything is written, so the callers can refuse an
/// other output naming one of these files (`--svg . --html ./x.svg`).
pub fn plot_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{}.svg", safe_stem(stem)))
}

/// The files [`write_plots`] would write for these plots into `dir`, in order.
pub fn plot_paths(plots: &[(String, String, String)], dir: &Path) -> Vec<PathBuf> {
    plots
        .iter()
        .map(|(stem, _, _)| plot_path(dir, stem))
        .collect()
}

/// Writes every plot into `dir` (created if missing), each file whole or not at all;
/// returns the files written.
pub fn write_dir(r: &RunResult, dir: &Path) -> Result<Vec<PathBuf>> {
    write_plots(&plots(r)?, dir)
}

/// Writes (stem, title, SVG) plots into `dir` (created if missing) all or none
/// ([`crate::files::write_all_or_nothing`]: each to a temporary file, renamed into
/// place when every one is complete), so a full disk never leaves a partial set of
/// plots. `Err` names the first file that could not be written; `dir` is then removed
/// again if this call created it. No plots: nothing is written or created (an empty
/// list back; the caller says so).
pub fn write_plots(plots: &[(String, String, String)], dir: &Path) -> Result<Vec<PathBuf>> {
    if plots.is_empty() {
        return Ok(Vec::new());
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files: Vec<(PathBuf, Vec<u8>)> = plots
        .iter()
        .map(|(stem, _, svg)| (plot_path(dir, stem), svg.as_bytes().to_vec()))
        .collect();
    if let Err(e) = crate::files::write_all_or_nothing(&files) {
        // remove_dir only removes it if empty: nothing of the user's is lost.
        if created {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(e.into());
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18 item 3: every log axis has labelled ticks, each once; a linear axis'
    /// labels are all different.
    #[test]
    fn ticks_exist_and_differ() {
        // Less than a decade: 1-2-5 steps, else integer multiples.
        assert_eq!(log_ticks(1.5e4, 9.0e4), [2e4, 5e4]);
        assert_eq!(log_ticks(1.0, 10.0), [1.0, 2.0, 5.0, 10.0]);
        assert_eq!(log_ticks(31_000.0, 58_000.0), [40_000.0, 50_000.0]);
        // One sample of 19.6 µs, the axis 1.5× either side.
        assert_eq!(
            log_ticks(19_600.0 / 1.5, 19_600.0 * 1.5),
            [15_000.0, 20_000.0, 25_000.0]
        );
        assert_eq!(log_ticks(1.0, 1000.0), [1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(1.0, 1e30).len(), 11);
        let (t, step) = linear_ticks(1.143, 1.171);
        let labels: Vec<String> = t
            .iter()
            .map(|v| linear_tick_label(*v, step, "", 1.171))
            .collect();
        assert_eq!(
            labels,
            ["1.145", "1.150", "1.155", "1.160", "1.165", "1.170"]
        );
        let (t, step) = linear_ticks(0.0, 90_000.0);
        let labels: Vec<String> = t
            .iter()
            .map(|v| linear_tick_label(*v, step, "", 90_000.0))
            .collect();
        assert_eq!(labels[..3], ["0", "20,000", "40,000"]);
        let (t, step) = linear_ticks(10_000.0, 12_000.0);
        assert_eq!(linear_tick_label(t[1], step, "ns", 12_000.0), "10.5 µs");
    }

    #[test]
    fn labels_percentiles() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(10000.0), "99.99%");
    }

    #[test]
    fn distribution_reaches_the_maximum() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let d = distribution(&h);
        // 10 points per decade up to x = 1000 (k = 0..=30), then the maximum.
        assert_eq!(d.len(), 32);
        assert_eq!(d[10].0, 10.0);
        assert_eq!(d[10].1, h.value_at_quantile(0.9) as f64);
        assert_eq!(*d.last().unwrap(), (1000.0, 1000.0));
    }

    #[test]
    fn every_series_has_its_own_look() {
        let looks: Vec<_> = (0..144).map(style).collect();
        for i in 0..looks.len() {
            for j in 0..i {
                assert_ne!(looks[i], looks[j], "series {i} and {j}");
            }
        }
        // The first 12: distinct colours, and distinct marker/dash without colour.
        for i in 0..12 {
            for j in 0..i {
                assert_ne!(looks[i].0, looks[j].0);
                assert_ne!((looks[i].1, looks[i].2), (looks[j].1, looks[j].2));
            }
        }
    }

    #[test]
    fn buckets_are_log_linear() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in [7, 7, 7, 31, 39, 1500, 1549] {
            h.record(v).unwrap();
        }
        let b = log_linear_buckets(&h);
        assert_eq!(b[0], (7, 8, 3));
        assert_eq!(b[1], (8, 9, 0));
        assert_eq!(b[24], (31, 32, 1));
        assert_eq!(b[32], (39, 40, 1));
        assert_eq!(b[93], (100, 110, 0));
        assert_eq!(*b.last().unwrap(), (1500, 1600, 2));
        // 7..=99 by 1 (93), 100..=990 by 10 (90), 1000..=1500 by 100 (6).
        assert_eq!(b.len(), 93 + 90 + 6);
        assert_eq!(b.iter().map(|x| x.2).sum::<u64>(), 7);
    }

    /// Tester item 1: a scan marker is the median of the repeats (the curve table's
    /// number), not their geometric mean; the whisker stays the 95% interval.
    #[test]
    fn scan_markers_are_the_median() {
        // 1, 2, 10: median 2 (geometric mean 20^(1/3) = 2.714).
        let (m, ci) = scan_centre(&[10.0, 1.0, 2.0]).unwrap();
        assert_eq!(m, 2.0);
        assert_eq!(ci, geo_ci95(&[10.0, 1.0, 2.0]).unwrap().1);
        // Even count: the middle two's mean, as the tables' median.
        assert_eq!(scan_centre(&[4.0, 1.0, 3.0, 2.0]).unwrap().0, 2.5);
        // A zero repeat: median 1; Student's t around the mean 2 (sd √7, t(2) = 4.303).
        let (m, ci) = scan_centre(&[0.0, 1.0, 5.0]).unwrap();
        assert_eq!(m, 1.0);
        let h = 4.303 * 7f64.sqrt() / 3f64.sqrt();
        let (lo, hi) = ci.unwrap();
        assert!((lo - (2.0 - h)).abs() < 1e-12 && (hi - (2.0 + h)).abs() < 1e-12);
        assert_eq!(scan_centre(&[7.0]), Some((7.0, None)));
        assert_eq!(scan_centre(&[]), None);
    }

    /// Tester item 2: log axes follow the scanned values and the medians, never the
    /// whiskers, and y is log only on a log x.
    #[test]
    fn scan_axes_follow_the_data_not_the_whiskers() {
        let fanout = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
        // fanout-exclusive ops/s, 145k–154k: linear y on the log x.
        let ops = [154e3, 152e3, 150e3, 149e3, 147e3, 146e3, 145e3];
        assert_eq!(scan_axes(&fanout, &ops), (true, false));
        // us_per_event 1.0–1.4 µs: linear.
        let us = [1.0, 1.05, 1.1, 1.2, 1.25, 1.3, 1.4];
        assert_eq!(scan_axes(&fanout, &us), (true, false));
        // think 0..20us (a 0: no log x), y 1 → 21 (21×): both linear, a line stays
        // straight.
        let think = [0.0, 5e3, 10e3, 15e3, 20e3];
        assert_eq!(
            scan_axes(&think, &[1.0, 6.0, 11.0, 16.0, 21.0]),
            (false, false)
        );
        // think 1..20us, y 1 → 20: both log (x 20×, y 20×).
        assert_eq!(scan_axes(&[1e3, 20e3], &[1.0, 20.0]), (true, true));
        // poll's µs/event over channels 200 → 9000, 2 → 60: log-log.
        assert_eq!(scan_axes(&[200.0, 9000.0], &[2.0, 60.0]), (true, true));
        // 10× exactly is wide; 9.99× is not.
        assert_eq!(scan_axes(&[1.0, 10.0], &[1.0, 10.0]), (true, true));
        assert_eq!(scan_axes(&[1.0, 9.99], &[1.0, 100.0]), (false, false));
        // A zero median (no wakeups at one point): linear y.
        assert_eq!(scan_axes(&[1.0, 64.0], &[0.0, 63.0]), (true, false));
        // x narrow: y linear whatever its span.
        assert_eq!(scan_axes(&[100.0, 800.0], &[1.0, 1000.0]), (false, false));
    }

    /// The plots themselves: a fanout line whose medians span 145k–154k while its
    /// whiskers span 10k–1M is drawn on a linear y with "median" in the axis caption
    /// and the legend; a think scan has µs ticks and no "(ns)".
    #[test]
    fn scan_plots_draw_medians_on_the_chosen_axes() {
        let fig = scans::Figure {
            name: "ops_per_sec".into(),
            unit: "round trips/s".into(),
            source: scans::Source::Metric("ops_per_sec".into()),
        };
        let scan = Scan {
            name: "fanout".into(),
            unit: "waiters".into(),
            values: vec![1.0, 8.0, 64.0],
            spec: "fanout=1,8,64".into(),
        };
        let line = scans::Line {
            id: "pingpong/eventfd/epoll-exclusive/pin=none".into(),
            points: vec![
                (1.0, vec![1e4, 154e3, 1e6]),
                (8.0, vec![1e4, 150e3, 1e6]),
                (64.0, vec![1e4, 145e3, 1e6]),
            ],
        };
        let svg = scan_plot("t", &scan, &fig, &[line]).unwrap().unwrap();
        assert!(svg.contains("fanout (waiters), log scale"), "log x");
        assert!(
            svg.contains("ops_per_sec (round trips/s): median of the repeats, 95% CI"),
            "linear y, median: {svg}"
        );
        assert!(svg.contains("marker: median of the repeats; whisker: 95% CI"));
        let think = Scan {
            name: "think".into(),
            unit: "ns".into(),
            values: vec![0.0, 10e3, 20e3],
            spec: "think=0..20us:3".into(),
        };
        let line = scans::Line {
            id: "pipetest/pipe/epoll-et".into(),
            points: vec![
                (0.0, vec![1.0, 1.0]),
                (10e3, vec![11.0, 11.0]),
                (20e3, vec![21.0, 21.0]),
            ],
        };
        let fig = scans::Figure {
            name: "us_per_event".into(),
            unit: "µs/event".into(),
            source: scans::Source::Metric("us_per_event".into()),
        };
        let svg = scan_plot("t", &think, &fig, &[line]).unwrap().unwrap();
        assert!(!svg.contains("(ns)") && !svg.contains("log scale"), "{svg}");
        // plotters writes each label on a line of its own.
        assert!(
            svg.contains("\n10 µs\n") && svg.contains("\n20 µs\n"),
            "{svg}"
        );
    }

    #[test]
    fn geometric_interval_is_positive() {
        // 10, 100, 1000: logs ln10·(1, 2, 3), mean ln100, sd ln10; t(2) = 4.303:
        // 100 · 10^(±4.303/√3).
        let (g, ci) = geo_ci95(&[10.0, 100.0, 1000.0]).unwrap();
        let (lo, hi) = ci.unwrap();
        let k = 10f64.powf(4.303 / 3f64.sqrt());
        assert!((g - 100.0).abs() < 1e-9);
        assert!((lo - 100.0 / k).abs() < 1e-9 * k && lo > 0.0);
        assert!((hi - 100.0 * k).abs() < 1e-6 * k);
        assert_eq!(geo_ci95(&[5.0]), Some((5.0f64.ln().exp(), None)));
        assert_eq!(geo_ci95(&[5.0, 0.0]), None);
        assert_eq!(geo_ci95(&[]), None);
    }
}
