//! One self-contained HTML page: provenance, a parameter scan's curve and fit tables
//! (`scan::tables`, as in the terminal report), the tables, and the SVG plots inline
//! (no scripts, no fonts, nothing fetched).
use std::fmt::Write as _;

use anyhow::Result;

use super::{
    ascii_histogram, escape, groups, outlier_warnings, percentile_table, plotted_histograms,
    provenance_lines, relative_summary, side_by_side, svg,
};
use crate::results::RunResult;

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}\
caption{text-align:left;font-weight:bold;padding:4px 0}\
th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.warn{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px;margin:4px 0}\
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}figure{margin:1em 0}svg{max-width:100%;height:auto}";

pub fn render(r: &RunResult) -> Result<String> {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>evbench results</title><style>{STYLE}</style></head><body>\n<h1>evbench results</h1>\n<ul>\n"
    );
    for l in provenance_lines(r) {
        let _ = writeln!(out, "<li>{}</li>", escape(&l));
    }
    out.push_str("</ul>\n");
    for w in r.warnings.iter().chain(&outlier_warnings(r)) {
        let _ = writeln!(out, "<div class=\"warn\">warning: {}</div>", escape(w));
    }
    if r.interrupted {
        out.push_str(
            "<div class=\"warn\">warning: interrupted: the figures cover what was measured</div>\n",
        );
    }
    // The scan's curve and fit tables, the same as the terminal's and Markdown's; its
    // plots stand in the workload's section below.
    out.push_str(&super::scan::render_html(r));
    let plots = svg::plots(r)?;
    for (workload, cases) in groups(r) {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&workload));
        out.push_str(&side_by_side(&workload, &cases).html());
        if let Some(t) = super::open_loop_table(&cases) {
            out.push_str(&t.html());
        }
        let rel = relative_summary(&cases);
        if !rel.is_empty() {
            let _ = writeln!(out, "<pre>{}</pre>", escape(&rel.join("\n")));
        }
        for (stem, title, s) in &plots {
            if stem.starts_with(&format!("{workload}-")) {
                // The SVG's XML prologue is not allowed inside HTML.
                let body = s.find("<svg").map_or(s.as_str(), |i| &s[i..]);
                let _ = writeln!(
                    out,
                    "<figure aria-label=\"{}\">{body}</figure>",
                    escape(title)
                );
            }
        }
        for name in plotted_histograms(&cases) {
            if let Some(t) = percentile_table(&name, &cases) {
                out.push_str(&t.html());
            }
        }
        let _ = writeln!(out, "<details><summary>histograms</summary><pre>");
        for c in &cases {
            for name in plotted_histograms(&[*c]) {
                if let (Some(h), Some(info)) = (c.merged(&name), c.histograms.get(&name)) {
                    let _ = writeln!(
                        out,
                        "{}",
                        escape(&format!(
                            "{} — {name}:\n{}",
                            c.id,
                            ascii_histogram(&h, &info.unit)
                        ))
                    );
                }
            }
        }
        out.push_str("</pre></details>\n");
    }
    out.push_str("</body></html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::export::scan::{tables, tests::rate_doc};

    /// A scan's HTML report has the same tables (curve and fits) as the text and
    /// Markdown ones, under the scan's summary, values ascending.
    #[test]
    fn a_scan_report_has_the_scan_tables() {
        let d = rate_doc();
        let page = super::render(&d).unwrap();
        assert!(page.contains(
            "<h2>Scan of rate (req/s): 500.5, 1000, 2000 (3 values, --scan rate=1e3,500.5,2000)</h2>"
        ));
        let ts = tables(&d);
        assert_eq!(ts.len(), 2);
        for t in &ts {
            assert!(page.contains(&t.html()), "{}", t.title);
        }
        assert!(page.contains("<td class=\"n\">500.5 (1)</td>"));
        assert!(page.contains("requests_per_sec: fits against rate"));
    }
}
