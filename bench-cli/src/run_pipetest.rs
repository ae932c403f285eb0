//! `evbench run pipetest`: the pipetest-4 / eventfd-bench port, with the originals'
//! output lines, repeats, and the JSON document.
use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use serde::Serialize;
use workloads::{pipetest, stats::Summary as Spread, stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, PipetestArgs},
    machine::{command_line, Machine},
    probes::Kernel,
    run::{emit, prepare_probes, usage_error, ProbeStatus, SCHEMA},
    signal::INTERRUPTED_EXIT,
};

/// One measurement (the original's 16 runs).
#[derive(Debug, Serialize)]
pub struct PipetestRepeat {
    pub repeat: u32,
    /// Mean µs/event of the middle 6 sorted runs.
    pub avg_us: f64,
    pub sigma_us: f64,
    pub interrupted: bool,
    pub runs: Vec<pipetest::Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
}

/// The results document of `evbench run pipetest`.
#[derive(Debug, Serialize)]
pub struct PipetestCase {
    pub schema: &'static str,
    pub evbench_version: &'static str,
    pub machine: Machine,
    pub command: Vec<String>,
    pub workload: &'static str,
    pub options: pipetest::Config,
    pub repeat: u32,
    /// AVG (µs/event) across repeats.
    pub avg_us: Spread,
    pub interrupted: bool,
    pub repeats: Vec<PipetestRepeat>,
    pub probes: ProbeStatus,
}

pub fn run(args: &PipetestArgs, common: &CommonArgs, stop: &Stop) -> Result<ExitCode> {
    let cfg = pipetest::Config {
        channels: args.channels,
        active: args.active,
        writes: args.writes,
        mechanism: args.mechanism,
        wait: args.wait,
    };
    if let Err(e) = pipetest::validate(&cfg) {
        return Ok(usage_error(&e.to_string()));
    }
    let (mut probes, status) = prepare_probes(common)?;
    let mut repeats = Vec::new();
    for k in 0..common.repeat {
        if k > 0 && stop.is_set() {
            break;
        }
        // Each repeat is its own window: forget the previous repeat's targets and counts.
        if let (Some(p), true) = (probes.as_mut(), k > 0) {
            p.reset()?;
        }
        let observer: &dyn Observer = match &probes {
            Some(p) => p,
            None => &NoObserver,
        };
        let o = pipetest::run(&cfg, observer, stop).context("pipetest")?;
        let kernel = match &probes {
            Some(p) if !o.runs.is_empty() => Some(p.collect()?),
            _ => None,
        };
        let interrupted = o.interrupted;
        repeats.push(PipetestRepeat {
            repeat: k + 1,
            avg_us: o.avg_us,
            sigma_us: o.sigma_us,
            interrupted,
            runs: o.runs,
            kernel,
        });
        if interrupted {
            break;
        }
    }
    let avgs: Vec<f64> = repeats.iter().map(|r| r.avg_us).collect();
    let case = PipetestCase {
        schema: SCHEMA,
        evbench_version: env!("CARGO_PKG_VERSION"),
        machine: Machine::current(),
        command: command_line(),
        workload: "pipetest",
        options: cfg,
        repeat: common.repeat,
        avg_us: Spread::of(&avgs).unwrap_or(Spread {
            n: 0,
            mean: 0.0,
            median: 0.0,
            stddev: 0.0,
            min: 0.0,
            max: 0.0,
        }),
        interrupted: repeats.iter().any(|r| r.interrupted) || stop.is_set(),
        repeats,
        probes: status,
    };
    emit(&case, common, |out| print_human(out, &case, args.quiet))?;
    if case.interrupted {
        eprintln!("evbench: interrupted: the figures cover the runs completed before Ctrl-C");
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// The originals' lines for each measurement; extra lines only for what they lacked
/// (repeats, kernel figures), never between their own.
fn print_human(mut out: &mut dyn Write, c: &PipetestCase, quiet: bool) -> Result<()> {
    for r in &c.repeats {
        let o = pipetest::Outcome {
            runs: r.runs.clone(),
            avg_us: r.avg_us,
            sigma_us: r.sigma_us,
            interrupted: r.interrupted,
        };
        write!(out, "{}", o.human(quiet))?;
        if let (Some(k), false) = (&r.kernel, quiet) {
            // After the originals' lines, so scripts reading them are not disturbed.
            let events: u64 = r.runs.iter().map(|x| x.messages).sum();
            crate::output::kernel::print(&mut out, k, events, "event")?;
        }
    }
    if c.repeats.len() > 1 {
        let s = &c.avg_us;
        writeln!(
            out,
            "REPEATS: {}  AVG mean {:.6} median {:.6} stddev {:.6} us/event",
            s.n, s.mean, s.median, s.stddev
        )?;
    }
    Ok(())
}
