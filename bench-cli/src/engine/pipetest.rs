//! The pipetest workload's cases (the pipetest-4 / eventfd-bench port): options into a
//! case, one case measured `--repeat` times with its results-document case.
use std::time::Duration;

use anyhow::{Context, Result};
use workloads::{pipetest, stats::Summary as Spread, stop::Stop};

use crate::{
    cli::PipetestArgs,
    probes::Kernel,
    results::{Case, Metric, Repeat},
};

use super::{kernel::record_kernel, options_of, Session};

/// One measurement (the original's 16 runs).
#[derive(Debug)]
pub struct PipetestRepeat {
    pub repeat: u32,
    /// Mean µs/event of the middle 6 sorted runs.
    pub avg_us: f64,
    pub sigma_us: f64,
    pub interrupted: bool,
    pub runs: Vec<pipetest::Run>,
    pub kernel: Option<Kernel>,
}

/// One pipetest case as the human report prints it.
#[derive(Debug)]
pub struct PipetestCase {
    pub options: pipetest::Config,
    /// AVG (µs/event) across repeats.
    pub avg_us: Spread,
    pub repeats: Vec<PipetestRepeat>,
}

/// The workload's configuration from the command line.
pub fn config(args: &PipetestArgs) -> pipetest::Config {
    pipetest::Config {
        channels: args.channels,
        active: args.active,
        writes: args.writes,
        mechanism: args.mechanism,
        wait: args.wait,
    }
}

/// Runs one pipetest case `repeat` times: the human report's figures and the results
/// document's case.
pub fn case(
    cfg: &pipetest::Config,
    repeat: u32,
    session: &mut Session,
    stop: &Stop,
) -> Result<(PipetestCase, Case)> {
    let mut case = Case::new(
        "pipetest",
        Some(&cfg.mechanism.to_string()),
        Some(cfg.wait.as_str()),
        None,
    );
    options_of(&mut case, cfg);
    let mut repeats = Vec::new();
    for k in 1..=repeat {
        if k > 1 && stop.is_set() {
            break;
        }
        let started = session.begin_repeat(&case.id, k, repeat)?;
        let o = pipetest::run(cfg, session.observer(), stop).context("pipetest")?;
        let kernel = session.collect(!o.runs.is_empty())?;
        session.progress.step();
        let sum = |f: fn(&pipetest::Run) -> u64| o.runs.iter().map(f).sum::<u64>();
        let messages = sum(|r| r.messages);
        let mut r = Repeat::new(Duration::from_nanos(sum(|r| r.elapsed_ns)));
        r.started_at(started)
            .metric("us_per_event", Metric::lower("µs/event"), o.avg_us)
            .metric("sigma_us", Metric::neither("µs/event"), o.sigma_us)
            .counter("messages", messages)
            .counter("fired", sum(|r| r.fired))
            .counter("events", sum(|r| r.events))
            .detail("runs", &o.runs);
        r.interrupted = o.interrupted;
        if let Some(k) = &kernel {
            record_kernel(&mut r, k, messages);
        }
        case.push_repeat(r);
        let interrupted = o.interrupted;
        repeats.push(PipetestRepeat {
            repeat: k,
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
    let human = PipetestCase {
        options: cfg.clone(),
        avg_us: Spread::of(&avgs).unwrap_or(Spread {
            n: 0,
            mean: 0.0,
            median: 0.0,
            stddev: 0.0,
            min: 0.0,
            max: 0.0,
        }),
        repeats,
    };
    Ok((human, case))
}
