//! The regression gate's verdict rendered for the terminal and as Markdown (a CI job
//! summary): the verdict line first, then the regressions, then the inconclusive
//! metrics with the repeats that would likely decide them, then the rest (counted on the
//! terminal, collapsed in `<details>` in Markdown).
use std::fmt::Write as _;

use crate::{
    output::figure,
    results::compare::{Comparison, Row, Scale, Verdict},
};

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:+.1}%", v * 100.0)
    } else if v.is_nan() {
        "—".into()
    } else if v > 0.0 {
        "+inf%".into()
    } else {
        "-inf%".into()
    }
}

fn abs(v: f64) -> String {
    if v.is_finite() {
        format!("{v:+.3}")
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

/// The change as judged: relative (`+12.3%`) or, near a zero baseline, the difference
/// of medians in the unit (`+1.000 wakeups/op`).
pub fn change_text(r: &Row) -> String {
    match r.scale {
        Scale::Relative => pct(r.change),
        Scale::Absolute => format!("{} {}", abs(r.difference), r.unit),
    }
}

/// The decision interval on the row's scale, with its tolerance: `[+5.8%, +21.8%] vs ±5.0%`.
pub fn interval_text(r: &Row) -> String {
    let i = r.interval;
    if !(i.low.is_finite() || i.high.is_finite()) {
        return "—".into();
    }
    match r.scale {
        Scale::Relative => format!(
            "[{}, {}] vs ±{:.1}%",
            pct(i.low),
            pct(i.high),
            r.tolerance * 100.0
        ),
        Scale::Absolute => format!(
            "[{}, {}] vs ±{}",
            abs(i.low),
            abs(i.high),
            figure(r.tolerance, "")
        ),
    }
}

/// Repeats per side that would likely decide an inconclusive row; for a trace case
/// (`trace/...`, where each `--interval` is a repeat) said in intervals.
pub fn repeats_text(r: &Row) -> String {
    match (r.verdict, r.repeats_to_decide) {
        (Verdict::Inconclusive, Some(n)) if r.case.starts_with("trace/") => {
            format!("~{n} intervals")
        }
        (Verdict::Inconclusive, Some(n)) => format!("~{n}"),
        (Verdict::Inconclusive, None) => "more than 100".into(),
        _ => String::new(),
    }
}

/// The noise beside a regressed or inconclusive row: the worst pass's CPU pressure on
/// each side, with steal time when either side had any ("—": not recorded).
pub fn noise_text(r: &Row) -> String {
    if !matches!(r.verdict, Verdict::Regressed | Verdict::Inconclusive) {
        return String::new();
    }
    let p = |n: &Option<crate::results::compare::CaseNoise>| {
        n.and_then(|n| n.cpu_pressure_pct)
            .map_or("—".to_string(), |v| format!("{v:.0}%"))
    };
    let st = |n: &Option<crate::results::compare::CaseNoise>| n.map_or(0.0, |n| n.steal_pct);
    let mut t = format!("{} / {}", p(&r.noise_baseline), p(&r.noise_current));
    if st(&r.noise_baseline) >= 0.5 || st(&r.noise_current) >= 0.5 {
        t.push_str(&format!(
            ", steal {:.0}% / {:.0}%",
            st(&r.noise_baseline),
            st(&r.noise_current)
        ));
    }
    t
}

/// Header of the noise column.
const NOISE_HEADER: &str = "CPU pressure (worst pass, baseline / current)";

/// The cells every rendering shows for a row.
pub fn cells(r: &Row) -> [String; 8] {
    [
        r.case.clone(),
        r.metric.clone(),
        figure(r.baseline_median, &r.unit),
        figure(r.current_median, &r.unit),
        change_text(r),
        interval_text(r),
        p_text(r.p_value),
        r.verdict.word().into(),
    ]
}

fn header(c: &Comparison) -> [String; 8] {
    [
        "case".into(),
        "metric".into(),
        "baseline".into(),
        "current".into(),
        "change".into(),
        format!("{:.0}% interval", c.decide_level * 100.0),
        "p".into(),
        "verdict".into(),
    ]
}

/// The verdict in a few words, agreeing with the exit status: "NOT JUDGED" (2),
/// "REGRESSED" (1), "FAIL (--fail-on inconclusive)" (1: inconclusive rows fail the gate
/// when asked), "OK, with inconclusive metrics" or "OK" (0).
pub fn verdict_head(c: &Comparison) -> &'static str {
    if c.nothing_judged() {
        "NOT JUDGED"
    } else if c.regressed() > 0 {
        "REGRESSED"
    } else if c.inconclusive() > 0 && c.fail_on_inconclusive {
        "FAIL (--fail-on inconclusive)"
    } else if c.inconclusive() > 0 {
        "OK, with inconclusive metrics"
    } else {
        "OK"
    }
}

/// The verdict line: what a CI reader needs in one sentence ([`verdict_head`], then the
/// counts).
pub fn verdict_line(c: &Comparison) -> String {
    let head = verdict_head(c);
    format!(
        "{head}: {} regressed, {} inconclusive, {} improved, {} unchanged of {} judged metrics{}",
        c.regressed(),
        c.inconclusive(),
        c.improved(),
        c.count(Verdict::Unchanged),
        c.judged(),
        match c.count(Verdict::TooFewRepeats) {
            0 => String::new(),
            n => format!(" ({n} not judged: too few repeats)"),
        }
    )
}

/// How the verdicts were reached, in one sentence.
pub fn method_line(c: &Comparison) -> String {
    format!(
        "regressed/improved: the {:.0}% bootstrap interval of the change of medians wholly beyond ±{:.1}% (or a metric's noise floor, near a zero baseline); unchanged: the {:.0}% interval wholly within (TOST); inconclusive otherwise; p: Mann-Whitney U{}",
        c.decide_level * 100.0,
        c.threshold * 100.0,
        c.equivalence_level * 100.0,
        if c.percentiles {
            "; histogram p50/p99 judged"
        } else {
            ""
        }
    )
}

fn aligned(out: &mut String, table: &[Vec<String>]) {
    let cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            table
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
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
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len().max(1) - 1))
            );
        }
    }
}

/// The verdict for the terminal: verdict line, warnings, a table of the regressed and
/// inconclusive metrics (with the repeats a side that would likely decide each), then a
/// count of the rest.
pub fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", verdict_line(c));
    for m in &c.machine {
        let _ = writeln!(out, "warning: different machines: {m}");
    }
    for m in &c.method {
        let _ = writeln!(out, "warning: {m}");
    }
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let shown: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Regressed | Verdict::Inconclusive))
        .collect();
    if !shown.is_empty() {
        let mut h: Vec<String> = header(c).into();
        h.push("repeats to decide".into());
        h.push(NOISE_HEADER.into());
        let mut table = vec![h];
        for r in shown {
            let mut row: Vec<String> = cells(r).into();
            row.push(repeats_text(r));
            row.push(noise_text(r));
            table.push(row);
        }
        out.push('\n');
        aligned(&mut out, &table);
    }
    let rest: Vec<String> = [
        Verdict::Improved,
        Verdict::Unchanged,
        Verdict::TooFewRepeats,
    ]
    .into_iter()
    .filter_map(|v| match c.count(v) {
        0 => None,
        n => Some(format!("{n} {}", v.word())),
    })
    .collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "\nthe rest: {}", rest.join(", "));
    }
    for a in &c.added {
        let _ = writeln!(out, "added (only in current): {a}");
    }
    for r in &c.removed {
        let _ = writeln!(out, "removed (only in baseline): {r}");
    }
    let _ = writeln!(out, "{}", method_line(c));
    out
}

fn md_table(out: &mut String, c: &Comparison, rows: &[&Row], with_repeats: bool) {
    let mut h: Vec<String> = header(c).into();
    if with_repeats {
        h.push("repeats to decide".into());
        h.push(NOISE_HEADER.into());
    }
    let _ = writeln!(out, "| {} |", h.join(" | "));
    let align = if with_repeats {
        "|---|---|--:|--:|--:|--:|--:|---|--:|---|"
    } else {
        "|---|---|--:|--:|--:|--:|--:|---|"
    };
    let _ = writeln!(out, "{align}");
    for r in rows {
        let mut cells: Vec<String> = cells(r).into();
        cells[0] = format!("`{}`", cells[0]);
        if r.verdict == Verdict::Regressed {
            cells[7] = "**regressed**".into();
        }
        if with_repeats {
            cells.push(repeats_text(r));
            cells.push(noise_text(r));
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// The verdict as Markdown, for CI job summaries: the verdict line, warnings, the
/// regressions, the inconclusive metrics, then every other row in a `<details>` block.
pub fn render_markdown(c: &Comparison) -> String {
    let mut out = String::from("## evbench compare\n\n");
    let _ = writeln!(out, "**{}**\n", verdict_line(c));
    let _ = writeln!(out, "{}.\n", method_line(c));
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
    let of = |v: Verdict| c.rows.iter().filter(|r| r.verdict == v).collect::<Vec<_>>();
    let regressed = of(Verdict::Regressed);
    if !regressed.is_empty() {
        let _ = writeln!(out, "### Regressions ({})\n", regressed.len());
        md_table(&mut out, c, &regressed, false);
        out.push('\n');
    }
    let inconclusive = of(Verdict::Inconclusive);
    if !inconclusive.is_empty() {
        let _ = writeln!(out, "### Inconclusive ({})\n", inconclusive.len());
        md_table(&mut out, c, &inconclusive, true);
        out.push('\n');
    }
    let rest: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Regressed | Verdict::Inconclusive))
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>The other {} metrics ({} improved, {} unchanged, {} too few repeats)</summary>\n",
            rest.len(),
            c.improved(),
            c.count(Verdict::Unchanged),
            c.count(Verdict::TooFewRepeats)
        );
        md_table(&mut out, c, &rest, false);
        let _ = writeln!(out, "\n</details>\n");
    }
    for a in &c.added {
        let _ = writeln!(out, "- added (only in current): `{a}`");
    }
    for r in &c.removed {
        let _ = writeln!(out, "- removed (only in baseline): `{r}`");
    }
    out
}
