//! The ping-pong workload's cases: options into a case, one case measured `--repeat`
//! times with its human-report figures and its results-document case.
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use workloads::{pingpong, stats::Summary as Spread, stop::Stop};

use crate::{
    cli::PingpongArgs,
    probes::Kernel,
    results::{Case, Metric, Percentiles, Repeat},
};

use super::{kernel::record_kernel, options_of, spread, ProbeStatus, Session};

/// One ping-pong repeat's raw figures.
#[derive(Debug, Serialize)]
pub struct PingpongRepeat {
    pub repeat: u32,
    pub rounds: u64,
    pub elapsed_ns: u64,
    pub ops_per_sec: f64,
    pub interrupted: bool,
    pub round_trip_ns: Percentiles,
    pub messages_sent: u64,
    pub messages_received: u64,
    /// All tasks' voluntary / involuntary switches per round trip (the kernel's per-task
    /// counters, as getrusage reports them).
    pub voluntary_per_round: f64,
    pub involuntary_per_round: f64,
    /// Voluntary switches of every task but the driver per round trip: how many tasks
    /// one event woke (the herd in a fanout).
    pub wakeups_per_event: f64,
    pub tasks: Vec<pingpong::TaskFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
}

/// Mean / median / stddev of the repeats' main figures.
#[derive(Debug, Serialize)]
pub struct PingpongSpread {
    pub ops_per_sec: Spread,
    pub p50_ns: Spread,
    pub p99_ns: Spread,
    pub voluntary_per_round: Spread,
    pub wakeups_per_event: Spread,
}

/// One ping-pong case as the human report prints it. The flat figures cover all
/// repeats together (rounds summed, histograms merged); `repeats` has each one.
#[derive(Debug)]
pub struct PingpongCase {
    pub options: pingpong::Config,
    pub repeat: u32,
    pub mechanism: String,
    pub wait: &'static str,
    pub pin: &'static str,
    pub tasks: &'static str,
    pub topology: String,
    pub warmup: u64,
    pub rounds: u64,
    pub elapsed_ns: u64,
    pub ops_per_sec: f64,
    pub interrupted: bool,
    pub round_trip_ns: Percentiles,
    pub repeats: Vec<PingpongRepeat>,
    pub across_repeats: PingpongSpread,
    pub probes: ProbeStatus,
    /// The probes' figures when one repeat ran (with several, each repeat has its own).
    pub kernel: Option<Kernel>,
}

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
        ..pingpong::Config::default()
    }
}

/// The ping-pong case's id tail: what tells it from its siblings besides mechanism and
/// wait mode (placement always; tasks, topology and EPOLLEXCLUSIVE when not the default).
pub fn variant(cfg: &pingpong::Config) -> String {
    let mut v = vec![format!("pin={}", cfg.pin.as_str())];
    if cfg.tasks != pingpong::Tasks::Threads {
        v.push(format!("tasks={}", cfg.tasks.as_str()));
    }
    if !matches!(cfg.topology, pingpong::Topology::Pair) {
        v.push(format!("topology={}", cfg.topology));
    }
    if cfg.exclusive {
        v.push("exclusive".into());
    }
    v.join(",")
}

/// Runs one ping-pong case `repeat` times: the human report's figures and the results
/// document's case.
pub fn case(
    cfg: &pingpong::Config,
    repeat: u32,
    session: &mut Session,
    stop: &Stop,
) -> Result<(PingpongCase, Case)> {
    let mut case = Case::new(
        "pingpong",
        Some(&cfg.mechanism.to_string()),
        Some(cfg.wait.as_str()),
        Some(&variant(cfg)),
    );
    options_of(&mut case, cfg);
    let mut repeats = Vec::new();
    let mut merged = pingpong::latency_histogram();
    for k in 1..=repeat {
        if k > 1 && stop.is_set() {
            break;
        }
        let started = session.begin_repeat(&case.id, k, repeat)?;
        let o = pingpong::run(cfg, session.observer(), stop).context("pingpong")?;
        let kernel = session.collect(o.rounds > 0)?;
        session.progress.step();
        merged
            .add(&o.latency)
            .context("merging latency histograms")?;
        let mut r = Repeat::new(Duration::from_nanos(o.elapsed_ns));
        r.started_at(started)
            .metric(
                "ops_per_sec",
                Metric::higher("round trips/s"),
                o.ops_per_sec(),
            )
            .metric(
                "voluntary_per_round",
                Metric::lower("switches/round trip"),
                o.voluntary_per_round(),
            )
            .metric(
                "involuntary_per_round",
                Metric::neither("switches/round trip"),
                o.involuntary_per_round(),
            )
            .metric(
                "wakeups_per_event",
                Metric::lower("wakeups/event"),
                o.wakeups_per_event(),
            )
            .histogram("round_trip_ns", "ns", &o.latency)
            .counter("rounds", o.rounds)
            .counter("messages_sent", o.messages_sent())
            .counter("messages_received", o.messages_received())
            .detail("tasks", &o.tasks);
        r.interrupted = o.interrupted;
        if let Some(k) = &kernel {
            record_kernel(&mut r, k, o.rounds);
        }
        case.push_repeat(r);
        repeats.push(PingpongRepeat {
            repeat: k,
            rounds: o.rounds,
            elapsed_ns: o.elapsed_ns,
            ops_per_sec: o.ops_per_sec(),
            interrupted: o.interrupted,
            round_trip_ns: Percentiles::of(&o.latency),
            messages_sent: o.messages_sent(),
            messages_received: o.messages_received(),
            voluntary_per_round: o.voluntary_per_round(),
            involuntary_per_round: o.involuntary_per_round(),
            wakeups_per_event: o.wakeups_per_event(),
            tasks: o.tasks.clone(),
            kernel,
        });
        if o.interrupted {
            break;
        }
    }
    let rounds: u64 = repeats.iter().map(|r| r.rounds).sum();
    let elapsed_ns: u64 = repeats.iter().map(|r| r.elapsed_ns).sum();
    let across_repeats = PingpongSpread {
        ops_per_sec: spread(repeats.iter().map(|r| r.ops_per_sec)),
        p50_ns: spread(repeats.iter().map(|r| r.round_trip_ns.p50 as f64)),
        p99_ns: spread(repeats.iter().map(|r| r.round_trip_ns.p99 as f64)),
        voluntary_per_round: spread(repeats.iter().map(|r| r.voluntary_per_round)),
        wakeups_per_event: spread(repeats.iter().map(|r| r.wakeups_per_event)),
    };
    let human = PingpongCase {
        options: cfg.clone(),
        repeat,
        mechanism: cfg.mechanism.to_string(),
        wait: cfg.wait.as_str(),
        pin: cfg.pin.as_str(),
        tasks: cfg.tasks.as_str(),
        topology: cfg.topology.to_string(),
        warmup: cfg.warmup,
        rounds,
        elapsed_ns,
        ops_per_sec: if elapsed_ns == 0 {
            0.0
        } else {
            rounds as f64 * 1e9 / elapsed_ns as f64
        },
        interrupted: repeats.iter().any(|r| r.interrupted) || stop.is_set(),
        round_trip_ns: Percentiles::of(&merged),
        kernel: match repeats.as_mut_slice() {
            [only] => only.kernel.take(),
            _ => None,
        },
        repeats,
        across_repeats,
        probes: session.status.clone(),
    };
    Ok((human, case))
}
