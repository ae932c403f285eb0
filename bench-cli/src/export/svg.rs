//! SVG plots drawn with plotters: latency percentile distributions (x: 1/(1−p) on a
//! log scale, labelled as percentiles; one line per case) and throughput bars (median,
//! with a min–max whisker over the repeats). Self-contained: text uses the reader's
//! sans-serif font, nothing is fetched.
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use plotters::{coord::Shift, prelude::*};

use super::{groups, headline, plotted_histograms};
use crate::results::{Better, Case, RunResult};

const W: u32 = 960;
const H: u32 = 540;

/// A readable palette (Okabe-Ito), distinct for the colour-blind.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
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

fn axis_value(v: f64, unit: &str) -> String {
    if unit == "ns" {
        crate::output::ns(v)
    } else {
        crate::output::figure(v, unit)
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the plot: {e:?}")
}

/// The percentile-distribution plot of histogram `name`, one line per case.
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
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .margin_right(44)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d((1f64..xmax).log_scale(), (ymin..ymax).log_scale())
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
        for (i, (label, pts)) in lines.into_iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(draw_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Some(svg))
}

/// Horizontal bars of metric `name`: the median over repeats, a min–max whisker.
pub fn bar_plot(title: &str, name: &str, cases: &[&Case]) -> Result<Option<String>> {
    let bars: Vec<(String, f64, f64, f64, String)> = cases
        .iter()
        .filter_map(|c| {
            let m = c.metrics.get(name)?;
            let a = &m.across;
            Some((c.id.clone(), a.median, a.min, a.max, m.metric.unit.clone()))
        })
        .collect();
    if bars.is_empty() {
        return Ok(None);
    }
    let n = bars.len();
    let xmax = bars.iter().map(|b| b.3).fold(0.0, f64::max).max(1e-9) * 1.15;
    let h = (120 + 56 * n as u32).max(220);
    let mut svg = String::new();
    {
        let root: DrawingArea<SVGBackend, Shift> =
            SVGBackend::with_string(&mut svg, (W, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let unit = bars[0].4.clone();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .margin_right(36)
            .x_label_area_size(50)
            .y_label_area_size(10)
            .build_cartesian_2d(0f64..xmax, 0f64..n as f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(format!(
                "{name} ({unit}); bar: median of the repeats, whisker: min–max"
            ))
            .x_label_formatter(&|x| crate::output::figure(*x, ""))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        // First case at the top; each row: its label above, the bar, the whisker
        // through the bar's middle.
        let y = |i: usize| (n - 1 - i) as f64;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                Rectangle::new(
                    [(0.0, y(i) + 0.08), (b.1, y(i) + 0.55)],
                    colour(i).mix(0.55).filled(),
                )
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                PathElement::new(
                    vec![(b.2, y(i) + 0.315), (b.3, y(i) + 0.315)],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                Text::new(
                    format!(
                        "{} — median {} (min {}, max {})",
                        b.0,
                        crate::output::figure(b.1, &b.4),
                        crate::output::figure(b.2, ""),
                        crate::output::figure(b.3, "")
                    ),
                    (0.0, y(i) + 0.95),
                    ("sans-serif", 15).into_font().color(&BLACK),
                )
            }))
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Some(svg))
}

/// Every plot of a result, as (file stem, title, SVG text).
pub fn plots(r: &RunResult) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
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
        }
    }
    Ok(out)
}

/// A plot's file stem made safe for a file name: ASCII letters, digits, `-`, `.`, `_`;
/// anything else becomes `_`.
pub fn file_stem(stem: &str) -> String {
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

/// Writes every plot into `dir` (created if missing), each file whole or not at all
/// (`crate::files`); returns the files written.
pub fn write_dir(r: &RunResult, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    for (stem, _, svg) in plots(r)? {
        let p = dir.join(format!("{}.svg", file_stem(&stem)));
        crate::files::write_atomic(&p, svg.as_bytes())?;
        files.push(p);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
