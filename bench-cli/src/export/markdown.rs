//! Markdown for CI summaries: the same tables as the terminal report, the ASCII
//! histograms folded away.
use std::fmt::Write as _;

use super::{
    ascii_histogram, groups, outlier_warnings, percentile_table, plotted_histograms,
    provenance_lines, relative_summary, side_by_side,
};
use crate::results::RunResult;

pub fn render(r: &RunResult) -> String {
    let mut out = String::from("## evbench results\n\n");
    for l in provenance_lines(r) {
        let _ = writeln!(out, "- {}", l.replace('|', "\\|"));
    }
    out.push('\n');
    for w in r.warnings.iter().chain(&outlier_warnings(r)) {
        let _ = writeln!(out, "> **Warning:** {w}");
    }
    if r.interrupted {
        let _ = writeln!(
            out,
            "> **Warning:** interrupted: the figures cover what was measured"
        );
    }
    out.push_str(&super::scan::render_markdown(r));
    for (workload, cases) in groups(r) {
        let _ = writeln!(out, "\n{}", side_by_side(&workload, &cases).markdown());
        if let Some(t) = super::open_loop_table(&cases) {
            let _ = writeln!(out, "{}", t.markdown());
        }
        let rel = relative_summary(&cases);
        if !rel.is_empty() {
            let _ = writeln!(out, "```\n{}\n```\n", rel.join("\n"));
        }
        for name in plotted_histograms(&cases) {
            if let Some(t) = percentile_table(&name, &cases) {
                let _ = writeln!(out, "{}", t.markdown());
            }
        }
        let _ = writeln!(
            out,
            "<details><summary>{workload}: histograms</summary>\n\n```"
        );
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
        let _ = writeln!(out, "```\n</details>");
    }
    out
}
