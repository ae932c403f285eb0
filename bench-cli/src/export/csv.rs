//! `--csv FILE`: the figures as one table for spreadsheets and pandas, RFC 4180 (the
//! `csv` crate quotes what needs quoting). Two shapes:
//! - per case (default): one row per case and metric (`kind` `metric`: median, mean,
//!   sd, cv over the judged repeats) and per case and histogram (`kind` `histogram`:
//!   count, min, p50, p90, p99, p99.9, max, mean of all judged repeats merged);
//! - per repeat (`--csv-repeats`): one row per repeat, pass and figure (`kind`
//!   `metric` or `counter`), warm-up and interrupted repeats included and marked.
//!
//! Every row ends with the case's point of a parameter scan (`scan_name`, the
//! scanned option's long name, and `scan_value`, its value in the document's
//! `scan.unit`: ns for a duration such as `think`), both empty outside a scan, so a
//! curve is one pivot away.
//!
//! Empty cells mean "not measured" (a metric with no repeat, an sd of one repeat),
//! never 0.
use std::io::Write;

use anyhow::Result;

use crate::{
    output::spread_pct,
    results::{Better, Case, Repeat, RunResult},
};

/// The per-case header.
pub const CASE_HEADER: &[&str] = &[
    "case",
    "workload",
    "mechanism",
    "wait",
    "variant",
    "kind",
    "name",
    "unit",
    "better",
    "n",
    "median",
    "mean",
    "sd",
    "cv_pct",
    "min",
    "max",
    "p50",
    "p90",
    "p99",
    "p999",
    "scan_name",
    "scan_value",
];

/// The per-repeat header.
pub const REPEAT_HEADER: &[&str] = &[
    "case",
    "workload",
    "mechanism",
    "wait",
    "variant",
    "repeat",
    "warmup",
    "pass",
    "interrupted",
    "kind",
    "name",
    "unit",
    "value",
    "scan_name",
    "scan_value",
];

fn ident(c: &Case) -> Vec<String> {
    vec![
        c.id.clone(),
        c.workload.clone(),
        c.mechanism.clone().unwrap_or_default(),
        c.wait.clone().unwrap_or_default(),
        c.variant.clone().unwrap_or_default(),
    ]
}

/// The case's `scan_name` and `scan_value` cells: empty outside a scan.
fn scan_cells(c: &Case) -> [String; 2] {
    match &c.scan {
        Some(p) => [p.name.clone(), num(p.value)],
        None => [String::new(), String::new()],
    }
}

fn num(v: f64) -> String {
    // Shortest text that reads back as the same f64.
    format!("{v}")
}

fn better(b: Better) -> &'static str {
    match b {
        Better::Higher => "higher",
        Better::Lower => "lower",
        Better::Neither => "neither",
    }
}

/// Writes the per-case table of `r` (see the module docs).
pub fn write_cases(r: &RunResult, out: impl Write) -> Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(CASE_HEADER)?;
    for c in &r.cases {
        for (name, m) in &c.metrics {
            let a = &m.across;
            let has = a.n > 0;
            let opt = |ok: bool, v: f64| if ok { num(v) } else { String::new() };
            let mut row = ident(c);
            row.extend([
                "metric".into(),
                name.clone(),
                m.metric.unit.clone(),
                better(m.metric.better).into(),
                a.n.to_string(),
                opt(has, a.median),
                opt(has, a.mean),
                opt(a.n >= 2, a.stddev),
                spread_pct(a).map(num).unwrap_or_default(),
                opt(has, a.min),
                opt(has, a.max),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            row.extend(scan_cells(c));
            w.write_record(&row)?;
        }
        for (name, h) in &c.histograms {
            let s = &h.summary;
            let has = s.count > 0;
            let opt = |v: u64| if has { v.to_string() } else { String::new() };
            let mut row = ident(c);
            row.extend([
                "histogram".into(),
                name.clone(),
                h.unit.clone(),
                "lower".into(),
                s.count.to_string(),
                opt(s.p50),
                if has { num(s.mean) } else { String::new() },
                String::new(),
                String::new(),
                opt(s.min),
                opt(s.max),
                opt(s.p50),
                opt(s.p90),
                opt(s.p99),
                opt(s.p999),
            ]);
            row.extend(scan_cells(c));
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(())
}

fn repeat_rows(
    w: &mut ::csv::Writer<impl Write>,
    c: &Case,
    rep: &Repeat,
    warmup: bool,
    pass: &str,
) -> Result<()> {
    let head = |kind: &str, name: &str, unit: &str, value: String| {
        let mut row = ident(c);
        row.extend([
            rep.index.to_string(),
            warmup.to_string(),
            pass.to_string(),
            rep.interrupted.to_string(),
            kind.to_string(),
            name.to_string(),
            unit.to_string(),
            value,
        ]);
        row.extend(scan_cells(c));
        row
    };
    for (name, v) in &rep.metrics {
        let unit = c.metrics.get(name).map_or("", |m| m.metric.unit.as_str());
        w.write_record(head("metric", name, unit, num(*v)))?;
    }
    for (name, v) in &rep.counters {
        w.write_record(head("counter", name, "", v.to_string()))?;
    }
    Ok(())
}

/// Writes the per-repeat table of `r` (see the module docs): judged repeats, their
/// probed passes (`pass` `probed`), and warm-up repeats (`warmup` true).
pub fn write_repeats(r: &RunResult, out: impl Write) -> Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(REPEAT_HEADER)?;
    for c in &r.cases {
        for rep in &c.warmup_repeats {
            repeat_rows(&mut w, c, rep, true, "clean")?;
        }
        for rep in &c.repeats {
            repeat_rows(&mut w, c, rep, false, "clean")?;
            if let Some(p) = &rep.probed {
                repeat_rows(&mut w, c, p, false, "probed")?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes whichever table `per_repeat` asks for.
pub fn write(r: &RunResult, per_repeat: bool, out: impl Write) -> Result<()> {
    if per_repeat {
        write_repeats(r, out)
    } else {
        write_cases(r, out)
    }
}
