//! The ping-pong workload's cases: options into a configuration, and one pass measured
//! into a results-document repeat.
use std::time::Duration;

use anyhow::{Context, Result};
use workloads::{pingpong, stop::Stop, Observer};

use crate::{
    cli::PingpongArgs,
    results::{Metric, Repeat, PER_OP_NOISE_FLOOR},
};

use super::{Figures, PassResult};

/// The workload's configuration from the command line.
pub fn config(pp: &PingpongArgs) -> pingpong::Config {
    pingpong::Config {
        mechanism: pp.mechanism,
        rounds: pp.rounds,
        warmup: pp.warmup_rounds,
        pin: pp.pin,
        tasks: pp.tasks,
        wait: pp.wait,
        topology: pp.topology,
        exclusive: pp.exclusive,
        duration: pp.duration,
        think: pp.think,
        ..pingpong::Config::default()
    }
}

/// The ping-pong case's id tail: what tells it from its siblings besides mechanism and
/// wait mode (placement always; tasks, topology and EPOLLEXCLUSIVE when not the default).
pub fn variant(cfg: &pingpong::Config) -> String {
    variant_with(cfg, true)
}

/// [`variant`] without the topology: the id tail of a case of a `fanout` or `ring`
/// scan, whose scan label (`fanout=4`) names the topology instead, so that every point
/// of one line shares the line's id.
pub fn variant_with(cfg: &pingpong::Config, topology: bool) -> String {
    let mut v = vec![format!("pin={}", cfg.pin.as_str())];
    if cfg.tasks != pingpong::Tasks::Threads {
        v.push(format!("tasks={}", cfg.tasks.as_str()));
    }
    if topology && !matches!(cfg.topology, pingpong::Topology::Pair) {
        v.push(format!("topology={}", cfg.topology));
    }
    if cfg.exclusive {
        v.push("exclusive".into());
    }
    v.join(",")
}

/// Runs one pass (fresh tasks, `cfg.warmup` discarded round trips, then the measured
/// ones) with `observer` told of its tasks and window.
pub fn pass(cfg: &pingpong::Config, observer: &dyn Observer, stop: &Stop) -> Result<PassResult> {
    let o = pingpong::run(cfg, observer, stop).context("pingpong")?;
    let mut r = Repeat::new(Duration::from_nanos(o.elapsed_ns));
    r.metric(
        "ops_per_sec",
        Metric::higher("round trips/s"),
        o.ops_per_sec(),
    )
    .metric(
        "voluntary_per_round",
        Metric::lower("switches/round trip").with_noise_floor(PER_OP_NOISE_FLOOR),
        o.voluntary_per_round(),
    )
    .metric(
        "involuntary_per_round",
        Metric::neither("switches/round trip"),
        o.involuntary_per_round(),
    )
    .metric(
        "wakeups_per_event",
        Metric::lower("wakeups/event").with_noise_floor(PER_OP_NOISE_FLOOR),
        o.wakeups_per_event(),
    )
    .histogram("round_trip_ns", "ns", &o.latency)
    .counter("rounds", o.rounds)
    .counter("messages_sent", o.messages_sent())
    .counter("messages_received", o.messages_received())
    .detail("tasks", &o.tasks);
    r.interrupted = o.interrupted;
    Ok(PassResult {
        repeat: r,
        ops: o.rounds,
        figures: Figures::Pingpong(Box::new(o)),
    })
}
