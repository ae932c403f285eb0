//! `evbench run`: turns the command line into cases, hands them to the run engine, and
//! writes what it measured: the results document (`--json`, `-o`), the interval log
//! (`--hlog`) and the human report.
use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use workloads::stop::Stop;

use crate::{
    cli::{CommonArgs, RunArgs, WorkloadCmd},
    engine::{self, suite, Spec},
    export::{self, human},
    output::count,
    results::{Case, RunResult},
    signal::INTERRUPTED_EXIT,
};

pub fn run(args: RunArgs, stop: &Stop) -> Result<ExitCode> {
    let common = &args.common;
    let specs: Vec<Spec> = match &args.workload {
        Some(WorkloadCmd::Pingpong(pp)) => vec![Spec::Pingpong(engine::pingpong::config(pp))],
        Some(WorkloadCmd::Pipetest(pt)) => vec![Spec::Pipetest(engine::pipetest::config(pt))],
        Some(WorkloadCmd::Http(h)) => match engine::http::specs(h) {
            Ok(v) => v,
            Err(e) => return Ok(usage_error(&format!("{e:#}"))),
        },
        None => suite::default_suite(suite::Size::from_env()),
    };
    for s in &specs {
        if let Err(e) = s.validate() {
            return Ok(usage_error(&e.to_string()));
        }
    }
    let suite = args.workload.is_none();
    let workload = args.workload.as_ref().map_or("suite", WorkloadCmd::name);
    let print_lines = suite && !common.quiet && !common.json;
    let (doc, runs) = engine::run_cases(&specs, common, workload, stop, |session, case| {
        if print_lines {
            session.progress.println(&one_line(case));
        }
    })?;
    let status = engine::ProbeStatus {
        on: doc.probes.on,
        sets: doc.probes.sets.clone(),
        reason: doc.probes.reason.clone(),
    };
    emit(&doc, common, |out| {
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
        Ok(())
    })?;
    if doc.interrupted {
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
        eprintln!("evbench: interrupted: the figures cover {what} before Ctrl-C");
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per finished case in the default suite: its id and headline figure.
fn one_line(c: &Case) -> String {
    let head = export::headline(&[c]);
    match head.and_then(|(name, _, unit)| c.metrics.get(&name).map(|m| (m.across.median, unit))) {
        Some((v, unit)) => format!("{:<48} {v:>12.2} {unit}", c.id),
        None => c.id.clone(),
    }
}

/// A refused combination of options: one line and exit status 2, like clap's own.
pub(crate) fn usage_error(msg: &str) -> ExitCode {
    eprintln!("evbench: error: {} (see --help)", msg.replace('\n', " "));
    ExitCode::from(2)
}

/// Writes the results document to `-o FILE` and the interval log to `--hlog FILE` if
/// asked, and either the document (`--json`) or the human report on stdout.
pub(crate) fn emit(
    doc: &RunResult,
    common: &CommonArgs,
    human: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    if let Some(path) = &common.output {
        doc.write(path)?;
    }
    if let Some(path) = &common.hlog {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        export::hlog::write(doc, &mut f)?;
        f.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if common.json {
        out.write_all(doc.to_json()?.as_bytes())?;
    } else {
        human(&mut out)?;
    }
    Ok(())
}
