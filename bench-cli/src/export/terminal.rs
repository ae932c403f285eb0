//! The terminal report: provenance and warnings, then per workload the side-by-side
//! table, percentile tables and bcc-style ASCII histograms.
use std::fmt::Write as _;

use super::{
    ascii_histogram, groups, outlier_warnings, percentile_table, plotted_histograms,
    provenance_lines, relative_summary, side_by_side,
};
use crate::results::RunResult;

pub fn render(r: &RunResult) -> String {
    let mut out = header(r);
    // A scan's curves and fits first: they are what it was run for.
    out.push_str(&super::scan::render_text(r));
    for (workload, cases) in groups(r) {
        let _ = writeln!(out, "\n{}", side_by_side(&workload, &cases).text());
        if let Some(t) = super::open_loop_table(&cases) {
            let _ = writeln!(out, "{}", t.text());
        }
        let rel = relative_summary(&cases);
        if !rel.is_empty() {
            let _ = writeln!(out, "{}\n", rel.join("\n"));
        }
        for name in plotted_histograms(&cases) {
            if let Some(t) = percentile_table(&name, &cases) {
                let _ = writeln!(out, "{}", t.text());
            }
        }
        for c in &cases {
            for name in plotted_histograms(&[*c]) {
                if let (Some(h), Some(info)) = (c.merged(&name), c.histograms.get(&name)) {
                    let _ = writeln!(
                        out,
                        "{} — {name}:\n{}",
                        c.id,
                        ascii_histogram(&h, &info.unit)
                    );
                }
            }
        }
    }
    out
}

/// The short form the default suite ends with: provenance, warnings and each
/// workload's side-by-side table (`evbench report FILE` shows the rest).
pub fn render_brief(r: &RunResult) -> String {
    let mut out = header(r);
    for (workload, cases) in groups(r) {
        let _ = writeln!(out, "\n{}", side_by_side(&workload, &cases).text());
        for l in relative_summary(&cases) {
            let _ = writeln!(out, "{l}");
        }
    }
    out
}

/// Provenance lines, warnings and the interruption notice.
fn header(r: &RunResult) -> String {
    let mut out = String::new();
    for l in provenance_lines(r) {
        let _ = writeln!(out, "{l}");
    }
    for w in r.warnings.iter().chain(&outlier_warnings(r)) {
        let _ = writeln!(out, "warning: {w}");
    }
    if r.interrupted {
        let _ = writeln!(
            out,
            "warning: interrupted: the figures cover what was measured"
        );
    }
    out
}
