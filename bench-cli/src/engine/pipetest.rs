//! The pipetest workload's cases (the pipetest-4 / eventfd-bench port): options into a
//! configuration, and one pass — the originals' 16 runs — into a results-document repeat.
use std::time::Duration;

use anyhow::{Context, Result};
use workloads::{pipetest, stop::Stop, Observer};

use crate::{
    cli::PipetestArgs,
    results::{Metric, Repeat},
};

use super::{Figures, PassResult};

/// The workload's configuration from the command line.
pub fn config(args: &PipetestArgs) -> pipetest::Config {
    pipetest::Config {
        channels: args.channels,
        active: args.active,
        writes: args.writes,
        mechanism: args.mechanism,
        wait: args.wait,
        think: args.think,
    }
}

/// Runs one pass: the originals' 16 runs, AVG being the mean µs/event of the middle 6.
pub fn pass(cfg: &pipetest::Config, observer: &dyn Observer, stop: &Stop) -> Result<PassResult> {
    let o = pipetest::run(cfg, observer, stop).context("pipetest")?;
    let sum = |f: fn(&pipetest::Run) -> u64| o.runs.iter().map(f).sum::<u64>();
    let messages = sum(|r| r.messages);
    let mut r = Repeat::new(Duration::from_nanos(sum(|r| r.elapsed_ns)));
    r.metric("us_per_event", Metric::lower("µs/event"), o.avg_us)
        .metric("sigma_us", Metric::neither("µs/event"), o.sigma_us)
        .counter("messages", messages)
        .counter("fired", sum(|r| r.fired))
        .counter("events", sum(|r| r.events))
        .detail("runs", &o.runs);
    r.interrupted = o.interrupted;
    Ok(PassResult {
        repeat: r,
        ops: messages,
        figures: Figures::Pipetest(o),
    })
}
