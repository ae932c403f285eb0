//! The ping-pong workload's cases: options into a configuration, and one pass measured
//! into a results-document repeat.
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use workloads::{pingpong, stop::Stop, Observer};

use crate::{
    cli::PingpongArgs,
    privdrop::Plan,
    results::{Metric, Repeat, PER_OP_NOISE_FLOOR},
};

use super::{Figures, PassResult};

/// The workload's configuration from one combination of the command line's options
/// ([`crate::cli::WorkloadCmd::combinations`]: one mechanism, one wait mode; of a list,
/// the first of each).
pub fn config(pp: &PingpongArgs) -> pingpong::Config {
    let d = pingpong::Config::default();
    pingpong::Config {
        mechanism: pp.mechanism.first().copied().unwrap_or(d.mechanism),
        rounds: pp.rounds,
        warmup: pp.warmup_rounds,
        pin: pp.pin,
        tasks: pp.tasks,
        wait: pp.wait.first().copied().unwrap_or(d.wait),
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
    figures(pingpong::run(cfg, observer, stop).context("pingpong")?)
}

/// As [`pass`], in a child process that has become `plan`'s user (`run --user`; in
/// threads mode the threads live in that child, in processes mode its children).
pub fn pass_as(
    plan: &Plan,
    cfg: &pingpong::Config,
    observer: &dyn Observer,
    stop: &Stop,
) -> Result<PassResult> {
    let w: Wire = super::user::pass(plan, observer, stop, |o, s| {
        pingpong::run(cfg, o, s)
            .map_err(|e| e.to_string())
            .and_then(|o| Wire::of(&o))
    })
    .context("pingpong")?;
    figures(w.outcome())
}

/// A pass's outcome as a `run --user` child sends it (the workload's `Outcome`, whose
/// task roles are `&'static str`, does not deserialize as it is).
#[derive(Serialize, Deserialize)]
struct Wire {
    rounds: u64,
    elapsed_ns: u64,
    latency: crate::results::hdr::Hdr,
    interrupted: bool,
    tasks: Vec<TaskWire>,
}

/// `pingpong::TaskFigures` with an owned role.
#[derive(Serialize, Deserialize)]
struct TaskWire {
    index: u32,
    role: String,
    tid: u32,
    sent: u64,
    received: u64,
    wait_returns: u64,
    voluntary: u64,
    involuntary: u64,
}

impl Wire {
    fn of(o: &pingpong::Outcome) -> Result<Self, String> {
        Ok(Self {
            rounds: o.rounds,
            elapsed_ns: o.elapsed_ns,
            latency: crate::results::hdr::Hdr::encode(&o.latency)?,
            interrupted: o.interrupted,
            tasks: o
                .tasks
                .iter()
                .map(|t| TaskWire {
                    index: t.index,
                    role: t.role.to_string(),
                    tid: t.tid,
                    sent: t.sent,
                    received: t.received,
                    wait_returns: t.wait_returns,
                    voluntary: t.voluntary,
                    involuntary: t.involuntary,
                })
                .collect(),
        })
    }

    fn outcome(self) -> pingpong::Outcome {
        pingpong::Outcome {
            rounds: self.rounds,
            elapsed_ns: self.elapsed_ns,
            latency: self.latency.decode(),
            interrupted: self.interrupted,
            tasks: self
                .tasks
                .into_iter()
                .map(|t| pingpong::TaskFigures {
                    index: t.index,
                    role: super::user::intern(&t.role),
                    tid: t.tid,
                    sent: t.sent,
                    received: t.received,
                    wait_returns: t.wait_returns,
                    voluntary: t.voluntary,
                    involuntary: t.involuntary,
                })
                .collect(),
        }
    }
}

/// A measured outcome as the pass's figures.
fn figures(mut o: pingpong::Outcome) -> Result<PassResult> {
    let mut r = Repeat::new(Duration::from_nanos(o.elapsed_ns));
    // No round trip completed: nothing was measured, so the repeat carries no rate or
    // per-round figure (the workload's 0.0 would count in `across`); `metric` leaves a
    // NaN out.
    let measured = |v: f64| if o.rounds > 0 { v } else { f64::NAN };
    r.metric(
        "ops_per_sec",
        Metric::higher("round trips/s"),
        measured(o.ops_per_sec()),
    )
    .metric(
        "voluntary_per_round",
        Metric::lower("switches/round trip").with_noise_floor(PER_OP_NOISE_FLOOR),
        measured(o.voluntary_per_round()),
    )
    .metric(
        "involuntary_per_round",
        Metric::neither("switches/round trip"),
        measured(o.involuntary_per_round()),
    )
    .metric(
        "wakeups_per_event",
        Metric::lower("wakeups/event").with_noise_floor(PER_OP_NOISE_FLOOR),
        measured(o.wakeups_per_event()),
    )
    .histogram("round_trip_ns", "ns", &o.latency)
    .counter("rounds", o.rounds)
    .counter("messages_sent", o.messages_sent())
    .counter("messages_received", o.messages_received())
    .detail("tasks", &o.tasks);
    r.interrupted = o.interrupted;
    // The repeat keeps the histogram (encoded) and its summary, which is what the human
    // report reads; the decoded 1 ns–100 s copy (224 KiB) is not kept for every pass of
    // a long `--repeat auto` run (issue 17's soak).
    o.latency = hdrhistogram::Histogram::new(1).expect("1 significant digit is valid");
    Ok(PassResult {
        repeat: r,
        ops: o.rounds,
        figures: Figures::Pingpong(Box::new(o)),
        warnings: Vec::new(),
    })
}
