//! The pipetest workload's cases (the pipetest-4 / eventfd-bench port): options into a
//! configuration, and one pass — the originals' 16 runs — into a results-document repeat.
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use workloads::{pipetest, stop::Stop, Mechanism, Observer, WaitMode};

use crate::{
    cli::PipetestArgs,
    privdrop::Plan,
    results::{Metric, Repeat},
};

use super::{Figures, PassResult};

/// The workload's configuration from one combination of the command line's options
/// ([`crate::cli::WorkloadCmd::combinations`]: one mechanism, one wait mode; of a list,
/// the first of each).
pub fn config(args: &PipetestArgs) -> pipetest::Config {
    pipetest::Config {
        channels: args.channels,
        active: args.active,
        writes: args.writes,
        mechanism: args.mechanism.first().copied().unwrap_or(Mechanism::Pipe),
        wait: args.wait.first().copied().unwrap_or(WaitMode::EpollEt),
        think: args.think,
    }
}

/// Runs one pass: the originals' 16 runs, AVG being the mean µs/event of the middle 6.
pub fn pass(cfg: &pipetest::Config, observer: &dyn Observer, stop: &Stop) -> Result<PassResult> {
    figures(pipetest::run(cfg, observer, stop).context("pipetest")?)
}

/// As [`pass`], in a child process that has become `plan`'s user (`run --user`).
pub fn pass_as(
    plan: &Plan,
    cfg: &pipetest::Config,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<PassResult> {
    let w: Wire = super::user::pass(plan, observer, stop, |o, s| {
        pipetest::run(cfg, o, s)
            .map(|o| Wire::of(&o))
            .map_err(|e| e.to_string())
    })
    .context("pipetest")?;
    figures(w.outcome())
}

/// A pass's outcome as a `run --user` child sends it.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// Per run: (elapsed_ns, messages, fired, events, us_per_event).
    runs: Vec<(u64, u64, u64, u64, f64)>,
    avg_us: f64,
    sigma_us: f64,
    interrupted: bool,
}

impl Wire {
    fn of(o: &pipetest::Outcome) -> Self {
        Self {
            runs: o
                .runs
                .iter()
                .map(|r| (r.elapsed_ns, r.messages, r.fired, r.events, r.us_per_event))
                .collect(),
            avg_us: o.avg_us,
            sigma_us: o.sigma_us,
            interrupted: o.interrupted,
        }
    }

    fn outcome(self) -> pipetest::Outcome {
        pipetest::Outcome {
            runs: self
                .runs
                .into_iter()
                .map(|r| pipetest::Run {
                    elapsed_ns: r.0,
                    messages: r.1,
                    fired: r.2,
                    events: r.3,
                    us_per_event: r.4,
                })
                .collect(),
            avg_us: self.avg_us,
            sigma_us: self.sigma_us,
            interrupted: self.interrupted,
        }
    }
}

/// A measured outcome as the pass's figures.
fn figures(o: pipetest::Outcome) -> Result<PassResult> {
    let sum = |f: fn(&pipetest::Run) -> u64| o.runs.iter().map(f).sum::<u64>();
    let messages = sum(|r| r.messages);
    let mut r = Repeat::new(Duration::from_nanos(sum(|r| r.elapsed_ns)));
    // No message passed: no per-event time was measured, none is recorded.
    let measured = |v: f64| if messages > 0 { v } else { f64::NAN };
    r.metric(
        "us_per_event",
        Metric::lower("µs/event"),
        measured(o.avg_us),
    )
    .metric(
        "sigma_us",
        Metric::neither("µs/event"),
        measured(o.sigma_us),
    )
    .counter("messages", messages)
    .counter("fired", sum(|r| r.fired))
    .counter("events", sum(|r| r.events))
    .detail("runs", &o.runs);
    r.interrupted = o.interrupted;
    Ok(PassResult {
        repeat: r,
        ops: messages,
        figures: Figures::Pipetest(o),
        warnings: Vec::new(),
    })
}
