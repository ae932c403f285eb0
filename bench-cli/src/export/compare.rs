//! The regression gate's verdict rendered for the terminal and as Markdown.
use std::fmt::Write as _;

use crate::{
    output::figure,
    results::compare::{Comparison, Row, Verdict, LEVEL},
};

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:+.1}%", v * 100.0)
    } else {
        "—".into()
    }
}

fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "—".into()
    } else if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// The cells every rendering shows for a row.
pub fn cells(r: &Row) -> [String; 7] {
    [
        r.case.clone(),
        r.metric.clone(),
        figure(r.baseline_median, &r.unit),
        figure(r.current_median, &r.unit),
        pct(r.change),
        if r.ci.0.is_finite() {
            format!("[{}, {}]", pct(r.ci.0), pct(r.ci.1))
        } else {
            "—".into()
        },
        p_text(r.p_value),
    ]
}

const HEADER: [&str; 8] = [
    "case", "metric", "baseline", "current", "change", "95% CI", "p", "verdict",
];

/// The verdict for the terminal.
pub fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    for m in &c.machine {
        let _ = writeln!(out, "warning: different machines: {m}");
    }
    for m in &c.method {
        let _ = writeln!(out, "warning: {m}");
    }
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let mut table: Vec<Vec<String>> = vec![HEADER.iter().map(|s| s.to_string()).collect()];
    for r in &c.rows {
        let mut row: Vec<String> = cells(r).into();
        row.push(r.verdict.word().into());
        table.push(row);
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (k, row) in table.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths[i] - cell.chars().count();
                if (2..=6).contains(&i) {
                    format!("{}{cell}", " ".repeat(pad))
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if k == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            );
        }
    }
    for a in &c.added {
        let _ = writeln!(out, "added (only in current): {a}");
    }
    for r in &c.removed {
        let _ = writeln!(out, "removed (only in baseline): {r}");
    }
    let _ = writeln!(
        out,
        "{} regressed, {} improved, {} judged; threshold ±{:.1}%, {:.0}% bootstrap interval of the ratio of medians",
        c.regressed(),
        c.improved(),
        c.rows.len(),
        c.threshold * 100.0,
        LEVEL * 100.0
    );
    out
}

/// The verdict as a Markdown section, for CI summaries.
pub fn render_markdown(c: &Comparison) -> String {
    let mut out = String::from("## evbench compare\n\n");
    let _ = writeln!(
        out,
        "**{}** — {} regressed, {} improved of {} metrics (threshold ±{:.1}%, {:.0}% bootstrap CI of the ratio of medians; p: Mann-Whitney U).\n",
        if c.regressed() > 0 { "REGRESSED" } else { "OK" },
        c.regressed(),
        c.improved(),
        c.rows.len(),
        c.threshold * 100.0,
        LEVEL * 100.0
    );
    for m in &c.machine {
        let _ = writeln!(out, "> **Warning:** different machines: {m}");
    }
    for m in &c.method {
        let _ = writeln!(out, "> **Warning:** {m}");
    }
    for w in &c.warnings {
        let _ = writeln!(out, "> **Warning:** {w}");
    }
    if !c.machine.is_empty() || !c.method.is_empty() || !c.warnings.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|---|");
    for r in &c.rows {
        let cells = cells(r);
        let verdict = match r.verdict {
            Verdict::Regressed => "**regressed**".to_string(),
            v => v.word().to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            cells[0],
            cells[1..].join(" | "),
            verdict
        );
    }
    if !c.added.is_empty() || !c.removed.is_empty() {
        out.push('\n');
    }
    for a in &c.added {
        let _ = writeln!(out, "- added (only in current): `{a}`");
    }
    for r in &c.removed {
        let _ = writeln!(out, "- removed (only in baseline): `{r}`");
    }
    out
}
