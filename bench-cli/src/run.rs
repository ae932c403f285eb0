//! `evbench run`: loads the probes once, runs each case with them as its observer, and
//! reports userspace and kernel figures side by side.
use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use serde::Serialize;
use workloads::{pingpong, stats::Summary as Spread, stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, PingpongArgs, RunArgs, WorkloadCmd},
    doctor,
    machine::{command_line, Machine},
    output::{count, ns, warn},
    probes::{Kernel, ProbeSet, ProbeSets, Probes},
    signal::INTERRUPTED_EXIT,
    summary::Summary,
};

/// Whether probes ran, and if not, why: every report carries it.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeStatus {
    pub on: bool,
    pub sets: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The schema id every results document carries (see results/SCHEMA.md).
pub const SCHEMA: &str = "evbench.run/1";

/// One ping-pong repeat's raw figures.
#[derive(Debug, Serialize)]
pub struct PingpongRepeat {
    pub repeat: u32,
    pub rounds: u64,
    pub elapsed_ns: u64,
    pub ops_per_sec: f64,
    pub interrupted: bool,
    pub round_trip_ns: Summary,
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

/// The results document of `evbench run pingpong`. The flat figures at the top cover
/// all repeats together (rounds summed, histograms merged); `repeats` has each one.
#[derive(Debug, Serialize)]
pub struct PingpongCase {
    pub schema: &'static str,
    pub evbench_version: &'static str,
    pub machine: Machine,
    pub command: Vec<String>,
    pub workload: &'static str,
    pub options: pingpong::Config,
    pub repeat: u32,
    pub mechanism: String,
    pub wait: &'static str,
    pub pin: &'static str,
    pub tasks: &'static str,
    pub topology: String,
    pub rounds_requested: u64,
    pub warmup: u64,
    pub rounds: u64,
    pub elapsed_ns: u64,
    pub ops_per_sec: f64,
    pub interrupted: bool,
    pub round_trip_ns: Summary,
    pub repeats: Vec<PingpongRepeat>,
    pub across_repeats: PingpongSpread,
    pub probes: ProbeStatus,
    /// The probes' figures when one repeat ran (with several, each repeat has its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
}

/// Loads the probes `common` asks for. A mistake in what was asked (an unknown
/// `--kfunc`) is an error; when the probes cannot load here, says so in one sentence and
/// returns `None`: the workload still runs, with userspace timing only.
pub fn prepare_probes(common: &CommonArgs) -> Result<(Option<Probes>, ProbeStatus)> {
    let mut sets = common.probes;
    if common.kfunc.is_some() {
        sets = sets.with(ProbeSet::Kfunc);
    } else if sets.contains(ProbeSet::Kfunc) {
        anyhow::bail!("the kfunc probe set needs the function to time: --kfunc NAME");
    }
    if sets.is_empty() {
        let status = ProbeStatus {
            on: false,
            sets: sets.to_string(),
            reason: Some("turned off with --probes none".into()),
        };
        return Ok((None, status));
    }
    if let Some(name) = &common.kfunc {
        // A name the kernel does not have is the user's mistake, not a missing feature.
        if let Ok(btf) = crate::probes::btf::KernelBtf::from_sys_fs() {
            if !btf.has_func_named(name) {
                anyhow::bail!(
                    "--kfunc {name}: no kernel function of that name in this kernel's BTF"
                );
            }
        }
    }
    let loaded = doctor::privileges()
        .map_err(|why| anyhow::anyhow!("{why}"))
        .and_then(|_| Probes::load(sets, common.kfunc.as_deref()));
    Ok(match loaded {
        Ok(p) => {
            let status = ProbeStatus {
                on: true,
                sets: p.sets().to_string(),
                reason: None,
            };
            (Some(p), status)
        }
        Err(e) => {
            let reason = format!("{e:#}");
            warn(&format!(
                "probes off: {reason}; measuring with userspace timing only (`evbench doctor` says more)"
            ));
            (
                None,
                ProbeStatus {
                    on: false,
                    sets: ProbeSets::NONE.to_string(),
                    reason: Some(reason),
                },
            )
        }
    })
}

pub fn run(args: RunArgs, stop: &Stop) -> Result<ExitCode> {
    let pp = match args.workload {
        Some(WorkloadCmd::Pipetest(pt)) => {
            return crate::run_pipetest::run(&pt, &args.common, stop)
        }
        Some(WorkloadCmd::Http(h)) => return crate::run_http::run(h, &args.common, stop),
        Some(WorkloadCmd::Pingpong(pp)) => pp,
        // The default suite: for now the ping-pong; later workloads join it.
        None => PingpongArgs::default(),
    };
    let cfg = pingpong_config(&pp);
    if let Err(e) = pingpong::validate(&cfg) {
        return Ok(usage_error(&e.to_string()));
    }
    let case = pingpong_case(&cfg, &args.common, stop)?;
    emit(&case, &args.common, |out| print_human(out, &case))?;
    if case.interrupted {
        eprintln!(
            "evbench: interrupted: the figures cover the {} round trips measured before Ctrl-C",
            case.rounds
        );
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// A refused combination of options: one line and exit status 2, like clap's own.
pub(crate) fn usage_error(msg: &str) -> ExitCode {
    eprintln!("evbench: error: {} (see --help)", msg.replace('\n', " "));
    ExitCode::from(2)
}

pub fn pingpong_config(pp: &PingpongArgs) -> pingpong::Config {
    pingpong::Config {
        mechanism: pp.mechanism,
        rounds: pp.rounds,
        warmup: pp.warmup,
        pin: pp.pin,
        tasks: pp.tasks,
        wait: pp.wait,
        topology: pp.topology,
        exclusive: pp.exclusive,
        duration: pp.duration,
        ..pingpong::Config::default()
    }
}

fn spread(v: impl Iterator<Item = f64>) -> Spread {
    let v: Vec<f64> = v.collect();
    Spread::of(&v).unwrap_or(Spread {
        n: 0,
        mean: 0.0,
        median: 0.0,
        stddev: 0.0,
        min: 0.0,
        max: 0.0,
    })
}

pub fn pingpong_case(
    cfg: &pingpong::Config,
    common: &CommonArgs,
    stop: &Stop,
) -> Result<PingpongCase> {
    let (mut probes, status) = prepare_probes(common)?;
    let mut repeats = Vec::new();
    let mut merged = pingpong::latency_histogram();
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
        let o = pingpong::run(cfg, observer, stop).context("pingpong")?;
        // An interrupted run may never have closed its window: nothing to read then.
        let kernel = match &probes {
            Some(p) if o.rounds > 0 => Some(p.collect()?),
            _ => None,
        };
        merged
            .add(&o.latency)
            .context("merging latency histograms")?;
        repeats.push(PingpongRepeat {
            repeat: k + 1,
            rounds: o.rounds,
            elapsed_ns: o.elapsed_ns,
            ops_per_sec: o.ops_per_sec(),
            interrupted: o.interrupted,
            round_trip_ns: Summary::of(&o.latency),
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
    Ok(PingpongCase {
        schema: SCHEMA,
        evbench_version: env!("CARGO_PKG_VERSION"),
        machine: Machine::current(),
        command: command_line(),
        workload: "pingpong",
        options: cfg.clone(),
        repeat: common.repeat,
        mechanism: cfg.mechanism.to_string(),
        wait: cfg.wait.as_str(),
        pin: cfg.pin.as_str(),
        tasks: cfg.tasks.as_str(),
        topology: cfg.topology.to_string(),
        rounds_requested: cfg.rounds,
        warmup: cfg.warmup,
        rounds,
        elapsed_ns,
        ops_per_sec: if elapsed_ns == 0 {
            0.0
        } else {
            rounds as f64 * 1e9 / elapsed_ns as f64
        },
        interrupted: repeats.iter().any(|r| r.interrupted) || stop.is_set(),
        round_trip_ns: Summary::of(&merged),
        kernel: match repeats.as_mut_slice() {
            [only] => only.kernel.take(),
            _ => None,
        },
        repeats,
        across_repeats,
        probes: status,
    })
}

/// Writes the JSON document to `-o FILE` if asked, and either the JSON (`--json`) or the
/// human report on stdout.
pub(crate) fn emit<T: Serialize>(
    doc: &T,
    common: &CommonArgs,
    human: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    if let Some(path) = &common.output {
        let mut f = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer_pretty(&mut f, doc)?;
        writeln!(f)?;
    }
    let mut out = std::io::stdout().lock();
    if common.json {
        serde_json::to_writer_pretty(&mut out, doc)?;
        writeln!(out)?;
    } else {
        human(&mut out)?;
    }
    Ok(())
}

fn print_human(mut out: &mut dyn Write, c: &PingpongCase) -> Result<()> {
    let s = &c.round_trip_ns;
    writeln!(
        out,
        "pingpong: mechanism {}, wait {}, tasks {}, topology {}{}, pin {}, {} round trips (+{} warm-up){}",
        c.mechanism,
        c.wait,
        c.tasks,
        c.topology,
        if c.options.exclusive { " (EPOLLEXCLUSIVE)" } else { "" },
        c.pin,
        count(c.rounds),
        count(c.warmup),
        if c.interrupted { " [interrupted]" } else { "" }
    )?;
    writeln!(out, "  throughput  {:.0} round trips/s", c.ops_per_sec)?;
    let reps = &c.repeats;
    let sum = |f: fn(&PingpongRepeat) -> u64| reps.iter().map(f).sum::<u64>();
    let per_round = |v: f64| {
        if c.rounds == 0 {
            0.0
        } else {
            v / c.rounds as f64
        }
    };
    let weighted = |f: fn(&PingpongRepeat) -> f64| {
        per_round(reps.iter().map(|r| f(r) * r.rounds as f64).sum::<f64>())
    };
    writeln!(
        out,
        "  messages    {} sent, {} received",
        count(sum(|r| r.messages_sent)),
        count(sum(|r| r.messages_received))
    )?;
    writeln!(
        out,
        "  switches    {:.2} voluntary, {:.2} involuntary per round trip (all tasks)",
        weighted(|r| r.voluntary_per_round),
        weighted(|r| r.involuntary_per_round)
    )?;
    if matches!(c.options.topology, pingpong::Topology::Fanout(_)) {
        writeln!(
            out,
            "  wakeups     {:.2} waiters woken per event",
            weighted(|r| r.wakeups_per_event)
        )?;
    }
    if reps.len() > 1 {
        let s = &c.across_repeats.ops_per_sec;
        writeln!(
            out,
            "  repeats     {}: round trips/s mean {:.0}, median {:.0}, stddev {:.0} ({:.1}%)",
            s.n,
            s.mean,
            s.median,
            s.stddev,
            s.cv() * 100.0
        )?;
        for r in reps {
            writeln!(
                out,
                "    #{:<3} {:>10.0} round trips/s  p50 {}  p99 {}",
                r.repeat,
                r.ops_per_sec,
                ns(r.round_trip_ns.p50 as f64),
                ns(r.round_trip_ns.p99 as f64)
            )?;
        }
    }
    writeln!(
        out,
        "  round trip  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ns(s.p50 as f64),
        ns(s.p90 as f64),
        ns(s.p99 as f64),
        ns(s.p999 as f64),
        ns(s.max as f64)
    )?;
    match (&c.kernel, &c.probes) {
        (Some(k), _) => crate::output::kernel::print(&mut out, k, c.rounds, "round trip")?,
        (None, p) if p.on && c.repeats.len() > 1 => {
            for r in &c.repeats {
                writeln!(out, "  repeat #{}:", r.repeat)?;
                match &r.kernel {
                    Some(k) => crate::output::kernel::print(&mut out, k, r.rounds, "round trip")?,
                    None => writeln!(out, "  kernel      no measured round trip to report")?,
                }
            }
        }
        (None, p) if p.on => writeln!(
            out,
            "  kernel      probes on, but no measured round trip to report"
        )?,
        (None, p) => writeln!(
            out,
            "  kernel      probes off ({}): userspace timing only",
            p.reason.as_deref().unwrap_or("unknown reason")
        )?,
    }
    Ok(())
}
