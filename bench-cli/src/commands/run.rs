//! `evbench run`: turns the command line into cases, hands them to the run engine, and
//! writes what it measured: the results document (`--json`, `-o`), the interval log
//! (`--hlog`) and the human report.
use std::{io::Write, process::ExitCode};

use anyhow::Result;
use workloads::stop::Stop;

use crate::{
    cli::{CommonArgs, RunArgs, WorkloadCmd},
    engine::{self, suite, Spec},
    export::{self, human},
    files,
    output::count,
    privdrop,
    results::{Case, RunResult},
    signal,
};

/// The cases of one workload command: one per combination of its listed values
/// ([`WorkloadCmd::combinations`]: mechanism × wait mode; http's wait modes). `Err`:
/// one line (a value given twice, an unknown http wait mode).
fn specs_of(cmd: &WorkloadCmd) -> Result<Vec<Spec>> {
    let mut out = Vec::new();
    for c in cmd.combinations().map_err(anyhow::Error::msg)? {
        match &c {
            WorkloadCmd::Pingpong(pp) => out.push(Spec::Pingpong(engine::pingpong::config(pp))),
            WorkloadCmd::Pipetest(pt) => out.push(Spec::Pipetest(engine::pipetest::config(pt))),
            WorkloadCmd::Http(h) => out.extend(engine::http::specs(h)?),
        }
    }
    Ok(out)
}

/// The cases of a `--scan`: per value, the workload's cases with the option set to it,
/// each with its point of the scan. `Err`: one line (no workload, an option that cannot
/// be scanned, a value it refuses).
fn scan_specs(
    scan: &crate::cli::ScanArg,
    cmd: Option<&WorkloadCmd>,
    given: &[String],
) -> Result<(Vec<Spec>, engine::ScanPlan), String> {
    let Some(cmd) = cmd else {
        return Err(format!(
            "--scan {} needs a workload: evbench run WORKLOAD --scan ... (`evbench list` names what each scans)",
            scan.spec()
        ));
    };
    let expanded = scan.expand(cmd, given)?;
    let mut specs = Vec::new();
    let mut plan = engine::ScanPlan {
        scan: expanded.scan,
        points: Vec::new(),
        warnings: expanded.note.into_iter().collect(),
    };
    for (c, point) in expanded.cases {
        for s in specs_of(&c).map_err(|e| format!("{e:#}"))? {
            specs.push(s);
            plan.points.push(point.clone());
        }
    }
    Ok((specs, plan))
}

pub fn run(args: RunArgs, stop: &Stop) -> Result<ExitCode> {
    let common = &args.common;
    let mut scan_plan = None;
    let mut specs: Vec<Spec> = match (&common.scan, &args.workload) {
        (Some(scan), cmd) => match scan_specs(scan, cmd.as_ref(), &args.given) {
            Ok((specs, plan)) => {
                scan_plan = Some(plan);
                specs
            }
            Err(e) => return Ok(usage_error(&e)),
        },
        (None, Some(cmd)) => match specs_of(cmd) {
            Ok(v) => v,
            Err(e) => return Ok(usage_error(&format!("{e:#}"))),
        },
        (None, None) => suite::default_suite(suite::Size::from_env()),
    };
    for (i, s) in specs.iter().enumerate() {
        if let Err(e) = s.validate() {
            // Say which value of a scan, and which combination of a list, was refused.
            let at = engine::refusal_label(&specs, scan_plan.as_ref(), i);
            return Ok(usage_error(&format!("{at}{e}")));
        }
    }
    if let Err(e) = check_outputs(common) {
        return Ok(usage_error(&e));
    }
    if matches!(common.repeat, crate::cli::Repeats::Fixed(_)) {
        for (given, flag) in [
            (common.precision.is_some(), "--precision"),
            (common.max_time.is_some(), "--max-time"),
        ] {
            if given {
                return Ok(usage_error(&format!(
                    "{flag} applies only with --repeat auto (it would be ignored)"
                )));
            }
        }
    }
    let suite = args.workload.is_none();
    // --user: checked before anything runs (the user, the privileges to switch, and
    // that every case can run as a user without capabilities). A case named on the
    // command line that cannot is refused; the default suite skips such cases instead,
    // one line per reason naming them (and the document's warnings keep the lines).
    let mut skipped = Vec::new();
    let user = match &common.user {
        None => None,
        Some(name) => {
            let plan = match privdrop::Account::lookup("--user", name) {
                Ok(a) => privdrop::Plan::new(a),
                Err(e) => return Ok(usage_error(&e)),
            };
            if suite && scan_plan.is_none() {
                skipped = skip_for_user(&mut specs, name);
                for line in &skipped {
                    crate::output::warn(line);
                }
            } else if let Some(why) = specs.iter().find_map(Spec::refuses_user) {
                return Ok(usage_error(&why));
            }
            Some(plan)
        }
    };
    let workload = args.workload.as_ref().map_or("suite", WorkloadCmd::name);
    // A scan prints a line per case as the suite does: its report is the curve.
    let scanning = scan_plan.is_some();
    let print_lines = (suite || scanning) && !common.quiet && !common.json;
    let measured = engine::run_scan(
        &specs,
        scan_plan.as_ref(),
        common,
        workload,
        stop,
        user,
        |session, case| {
            if print_lines {
                session.progress.println(&one_line(case));
            }
        },
    );
    let (mut doc, runs) = match measured {
        Ok(v) => v,
        // A case whose fds do not fit beside the loaded probes: refused before any pass.
        Err(e) => match e.downcast_ref::<engine::Refused>() {
            Some(r) => return Ok(usage_error(&r.0)),
            None => return Err(e),
        },
    };
    doc.warnings.extend(skipped);
    let status = engine::ProbeStatus {
        on: doc.probes.on,
        sets: doc.probes.sets.clone(),
        reason: doc.probes.reason.clone(),
    };
    signal::test_pause("report", stop);
    let failed = emit(&doc, common, |out| {
        if scanning {
            out.write_all(export::terminal::render_brief(&doc).as_bytes())?;
            out.write_all(export::scan::render_text(&doc).as_bytes())?;
            writeln!(
                out,
                "Plots: `evbench report FILE --svg DIR` on the document -o FILE writes."
            )?;
            return Ok(());
        }
        if suite {
            out.write_all(export::terminal::render_brief(&doc).as_bytes())?;
            writeln!(
                out,
                "Percentiles and histograms: `evbench report FILE` on the document -o FILE writes."
            )?;
            return Ok(());
        }
        let mut http = Vec::new();
        for run in &runs {
            let Some(case) = doc.case(&run.id) else {
                continue; // stopped before it ran
            };
            match run.spec {
                Spec::Pingpong(_) => human::print_pingpong(out, run, case, &status)?,
                Spec::Pipetest(_) => human::print_pipetest(out, run, case, &status, common.quiet)?,
                Spec::Http(_) => http.push((run, case)),
            }
        }
        if !http.is_empty() {
            human::print_http(out, &http, &status)?;
        }
        for (_, cases) in export::groups(&doc) {
            for l in export::relative_summary(&cases) {
                writeln!(out, "{l}")?;
            }
        }
        Ok(())
    })?;
    if !suite {
        // The suite's brief report carries them among its warnings.
        for w in export::outlier_warnings(&doc) {
            crate::output::warn(&w);
        }
    }
    for f in &failed {
        eprintln!("evbench: error: {f}");
    }
    // --repeat auto whose --max-time ran out before a case had a single judged repeat:
    // the run has no figure for it, which must not pass for success.
    let unmeasured: Vec<&str> = doc
        .cases
        .iter()
        .filter(|c| c.convergence.as_ref().is_some_and(|v| v.repeats == 0))
        .map(|c| c.id.as_str())
        .collect();
    if !unmeasured.is_empty() && !doc.interrupted && !signal::received() {
        eprintln!(
            "evbench: error: --max-time ran out before any repeat of {} was measured: no figure (give it more time)",
            unmeasured.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    if doc.interrupted || signal::received() {
        let what = match &args.workload {
            Some(WorkloadCmd::Pingpong(_)) => format!(
                "the {} round trips measured",
                count(
                    doc.cases
                        .iter()
                        .flat_map(|c| &c.repeats)
                        .filter_map(|r| r.counters.get("rounds"))
                        .sum()
                )
            ),
            Some(WorkloadCmd::Pipetest(_)) => "the runs completed".into(),
            _ => "what was measured".into(),
        };
        if !signal::received() {
            // A workload failed part-way (a warning above says which and why).
            eprintln!("evbench: error: the run did not complete: the figures cover {what}");
            return Ok(ExitCode::FAILURE);
        }
        let (word, sig) = signal::cause();
        if doc.interrupted {
            eprintln!("evbench: {word}: the figures cover {what} before {sig}");
        } else {
            eprintln!(
                "evbench: {word} ({sig}) while writing the report: the measurement was complete"
            );
        }
        return Ok(ExitCode::from(signal::exit_code()));
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Removes from `specs` the cases that cannot run as a user without capabilities
/// (`Spec::refuses_user`) and returns one line per reason naming them:
/// "--user NAME: skipped pipetest/efd-mask-fuse/epoll, ...: WHY".
fn skip_for_user(specs: &mut Vec<Spec>, name: &str) -> Vec<String> {
    let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
    specs.retain(|s| {
        let Some(why) = s.refuses_user() else {
            return true;
        };
        let why = why.trim_start_matches("--user: ").to_string();
        match by_reason.iter_mut().find(|(w, _)| *w == why) {
            Some((_, ids)) => ids.push(s.id()),
            None => by_reason.push((why, vec![s.id()])),
        }
        false
    });
    by_reason
        .into_iter()
        .map(|(why, ids)| {
            format!(
                "--user {name}: skipped {} (they cannot run as a user without capabilities): {why}",
                ids.join(", ")
            )
        })
        .collect()
}

/// One line per finished case in the default suite, every line in one format: the id
/// (padded to 48), the headline's median (right-aligned in 10, `output::figure`'s three
/// significant digits), its unit and how many repeats it is the median of; "—" and
/// why when the case has no figure.
fn one_line(c: &Case) -> String {
    let head = export::headline(&[c]).and_then(|(name, _, unit)| {
        let m = c.metrics.get(&name).filter(|m| m.across.n > 0)?;
        Some((name, m.across.median, m.across.n, unit))
    });
    let (value, what) = match head {
        Some((name, v, n, unit)) => (
            crate::output::figure(v, ""),
            format!(
                "{unit} ({name}, median of {})",
                crate::output::plural(n as u64, "repeat", "repeats")
            ),
        ),
        None => (
            crate::output::NO_DATA.to_string(),
            "no figure (no complete repeat)".to_string(),
        ),
    };
    format!("{:<48} {value:>10} {what}", c.id)
}

/// A refused combination of options: one line and exit status 2, like clap's own.
pub(crate) fn usage_error(msg: &str) -> ExitCode {
    eprintln!("evbench: error: {} (see --help)", msg.replace('\n', " "));
    ExitCode::from(2)
}

/// Writes the results document to `-o FILE` and the interval log to `--hlog FILE` if
/// asked, and either the document (`--json`) or the human report on stdout.
/// Checks every output path of `evbench run` before anything is measured: each can be
/// written, and no two name one file. `Err` is one line.
pub(crate) fn check_outputs(common: &CommonArgs) -> Result<(), String> {
    let mut outs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(p) = &common.output {
        outs.push(("-o", p));
    }
    if let Some(p) = &common.hlog {
        outs.push(("--hlog", p));
    }
    if let Some(p) = &common.csv {
        outs.push(("--csv", p));
    }
    for (flag, p) in &outs {
        files::check_output(flag, p)?;
    }
    files::check_distinct(&outs)
}

/// Where the results document goes when `-o FILE` could not take it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// `-o` wrote it.
    Written,
    /// `--json`: it goes to stdout anyway.
    OnStdout,
    /// In this fallback file (named in the error line).
    Fallback(std::path::PathBuf),
    /// The fallback failed too: the caller puts the document alone on stdout, in place of
    /// the human report (which then goes to stderr), so the two never mix on one stream.
    InsteadOfReport,
    /// Nowhere (stdout belongs to a traced command and the fallback failed too): said
    /// in the error line.
    Lost,
}

/// Writes the results document to `path` (whole or not at all) and, when that fails,
/// keeps it (issue 17 item 1): with `json` it is on its way to stdout; otherwise in
/// a file made new in `$TMPDIR`, `evbench-START-XXXXXX.json` (random letters:
/// [`files::write_new_in`]); if that fails too, on stdout instead of the human
/// report when `stdout_free` (else it is lost). The `String` is then one line for the
/// caller to print as an error (it exits 2, or 125 in trace's command mode): the file,
/// the cause, and where the document went ("cannot write full/c.json: No space left on
/// device; the results document is kept in /tmp/evbench-41-1796013506.json instead").
/// Shared by `run -o` and `trace -o`.
pub(crate) fn write_document(
    doc: &RunResult,
    path: &std::path::Path,
    json: bool,
    stdout_free: bool,
) -> (Kept, Option<String>) {
    let Err(e) = doc.write(path) else {
        return (Kept::Written, None);
    };
    let why = crate::errors::chain(e.as_ref());
    if json {
        return (
            Kept::OnStdout,
            Some(format!("{why}; the results document is on stdout (--json)")),
        );
    }
    // A file made new under an unpredictable name, never through a symlink nor over an
    // existing file: $TMPDIR is shared, and a name known in advance would let another
    // user plant a symlink there and have root overwrite its target.
    let kept = doc.to_json().and_then(|json| {
        files::write_new_in(
            &std::env::temp_dir(),
            &format!("evbench-{}-", doc.started_unix as u64),
            ".json",
            json.as_bytes(),
        )
        .map_err(anyhow::Error::from)
    });
    match kept {
        Ok(fallback) => (
            Kept::Fallback(fallback.clone()),
            Some(format!(
                "{why}; the results document is kept in {} instead",
                fallback.display()
            )),
        ),
        Err(e2) if stdout_free => (
            Kept::InsteadOfReport,
            Some(format!(
                "{why}; nor in $TMPDIR ({}): the results document is on stdout, the report on stderr",
                crate::errors::chain(e2.as_ref())
            )),
        ),
        Err(e2) => (
            Kept::Lost,
            Some(format!(
                "{why}; nor in $TMPDIR ({}): the results document is lost (stdout is the command's)",
                crate::errors::chain(e2.as_ref())
            )),
        ),
    }
}

/// Writes the results document to `-o FILE` and the interval log to `--hlog FILE` if
/// asked (each whole or not at all), and either the document (`--json`) or the human
/// report on stdout. A file that cannot be written does not lose the measurement: the
/// report still reaches the terminal and the document is kept ([`write_document`]);
/// the returned list names what failed (the run then exits 2).
pub(crate) fn emit(
    doc: &RunResult,
    common: &CommonArgs,
    human: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<Vec<String>> {
    let mut failed = Vec::new();
    let mut kept = Kept::Written;
    if let Some(path) = &common.output {
        let (k, e) = write_document(doc, path, common.json, true);
        kept = k;
        failed.extend(e);
    }
    if let Some(path) = &common.hlog {
        if let Err(e) = files::write_with(path, |w| {
            export::hlog::write(doc, w).map_err(std::io::Error::other)
        }) {
            failed.push(e.to_string());
        }
    }
    if let Some(path) = &common.csv {
        if let Err(e) = files::write_with(path, |w| {
            export::csv::write(doc, common.csv_repeats, w).map_err(std::io::Error::other)
        }) {
            failed.push(e.to_string());
        }
    }
    if common.json || kept == Kept::InsteadOfReport {
        std::io::stdout()
            .lock()
            .write_all(doc.to_json()?.as_bytes())?;
    }
    if kept == Kept::InsteadOfReport {
        human(&mut std::io::stderr().lock())?;
    } else if !common.json {
        human(&mut std::io::stdout().lock())?;
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::results::{Case, Metric, Repeat};

    /// Every suite line has one format, with a figure or without.
    #[test]
    fn suite_lines_have_one_format() {
        let mut c = Case::new("http", None, Some("epoll"), None);
        for v in [34_567.0, 30_000.0, 40_000.0] {
            let mut r = Repeat::new(Duration::from_millis(1));
            r.metric("requests_per_sec", Metric::higher("req/s"), v);
            c.push_repeat(r);
        }
        assert_eq!(
            super::one_line(&c),
            format!(
                "{:<48} {:>10} req/s (requests_per_sec, median of 3 repeats)",
                "http/epoll", "34.6k"
            )
        );
        let mut p = Case::new("pipetest", Some("pipe"), Some("epoll"), None);
        let mut r = Repeat::new(Duration::from_millis(1));
        r.metric("us_per_event", Metric::lower("µs/event"), 2.634);
        p.push_repeat(r);
        assert_eq!(
            super::one_line(&p),
            format!(
                "{:<48} {:>10} µs/event (us_per_event, median of 1 repeat)",
                "pipetest/pipe/epoll", "2.63"
            )
        );
        let mut none = Case::new("pingpong", Some("pipe"), Some("block"), Some("pin=same"));
        let mut r = Repeat::new(Duration::from_millis(1));
        r.metric("ops_per_sec", Metric::higher("round trips/s"), 1.0);
        r.interrupted = true;
        none.push_repeat(r);
        assert_eq!(
            super::one_line(&none),
            format!(
                "{:<48} {:>10} no figure (no complete repeat)",
                "pingpong/pipe/block/pin=same", "—"
            )
        );
    }
}
