//! `evbench run`: loads the probes once, runs each case with them as its observer, and
//! reports userspace and kernel figures side by side.
use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;
use workloads::{pingpong, stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, PingpongArgs, RunArgs, WorkloadCmd},
    doctor,
    output::{count, ns, warn},
    probes::{Collected, ProbeSets, Probes},
    signal::INTERRUPTED_EXIT,
};

/// Whether probes ran, and if not, why: every report carries it.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeStatus {
    pub on: bool,
    pub sets: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Percentile summary of a latency histogram, ns.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PingpongCase {
    pub workload: &'static str,
    pub mechanism: String,
    pub wait: &'static str,
    pub pin: &'static str,
    pub rounds_requested: u64,
    pub warmup: u64,
    pub rounds: u64,
    pub elapsed_ns: u64,
    pub ops_per_sec: f64,
    pub interrupted: bool,
    pub round_trip_ns: Summary,
    pub probes: ProbeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Collected>,
}

/// Loads the probes `common` asks for. When they cannot load, says so in one sentence
/// and returns `None`: the workload still runs, with userspace timing only.
fn prepare_probes(common: &CommonArgs) -> (Option<Probes>, ProbeStatus) {
    let sets = common.probes;
    if sets.is_empty() {
        let status = ProbeStatus {
            on: false,
            sets: sets.to_string(),
            reason: Some("turned off with --probes none".into()),
        };
        return (None, status);
    }
    let loaded = doctor::privileges()
        .map_err(|why| anyhow::anyhow!("{why}"))
        .and_then(|_| Probes::load(sets));
    match loaded {
        Ok(p) => (
            Some(p),
            ProbeStatus {
                on: true,
                sets: sets.to_string(),
                reason: None,
            },
        ),
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
    }
}

pub fn run(args: RunArgs, stop: &Stop) -> Result<ExitCode> {
    let case = match args.workload {
        Some(WorkloadCmd::Pingpong(pp)) => pingpong_case(&pp, &args.common, stop)?,
        // The default suite: for now the ping-pong; later workloads join it.
        None => pingpong_case(&PingpongArgs::default(), &args.common, stop)?,
    };
    emit(&case, &args.common)?;
    if case.interrupted {
        eprintln!(
            "evbench: interrupted: the figures cover the {} round trips measured before Ctrl-C",
            case.rounds
        );
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pingpong_case(pp: &PingpongArgs, common: &CommonArgs, stop: &Stop) -> Result<PingpongCase> {
    let (probes, status) = prepare_probes(common);
    let observer: &dyn Observer = match &probes {
        Some(p) => p,
        None => &NoObserver,
    };
    let cfg = pingpong::Config {
        mechanism: pp.mechanism,
        rounds: pp.rounds,
        warmup: pp.warmup,
        pin: pp.pin,
    };
    let outcome = pingpong::run(&cfg, observer, stop).context("pingpong")?;
    let kernel = probes.as_ref().map(Probes::collect).transpose()?;
    Ok(PingpongCase {
        workload: "pingpong",
        mechanism: pp.mechanism.to_string(),
        wait: "block",
        pin: pp.pin.as_str(),
        rounds_requested: pp.rounds,
        warmup: pp.warmup,
        rounds: outcome.rounds,
        elapsed_ns: outcome.elapsed_ns,
        ops_per_sec: outcome.ops_per_sec(),
        interrupted: outcome.interrupted,
        round_trip_ns: Summary::of(&outcome.latency),
        probes: status,
        kernel,
    })
}

fn emit(case: &PingpongCase, common: &CommonArgs) -> Result<()> {
    if let Some(path) = &common.output {
        let mut f = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer_pretty(&mut f, case)?;
        writeln!(f)?;
    }
    let mut out = std::io::stdout().lock();
    if common.json {
        serde_json::to_writer_pretty(&mut out, case)?;
        writeln!(out)?;
    } else {
        print_human(&mut out, case)?;
    }
    Ok(())
}

fn print_human(out: &mut impl Write, c: &PingpongCase) -> Result<()> {
    let s = &c.round_trip_ns;
    writeln!(
        out,
        "pingpong: mechanism {}, wait {}, pin {}, {} round trips (+{} warm-up){}",
        c.mechanism,
        c.wait,
        c.pin,
        count(c.rounds),
        count(c.warmup),
        if c.interrupted { " [interrupted]" } else { "" }
    )?;
    writeln!(out, "  throughput  {:.0} round trips/s", c.ops_per_sec)?;
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
        (Some(k), p) => {
            writeln!(
                out,
                "  kernel ({} probes, {} target threads)",
                p.sets,
                k.threads.len()
            )?;
            writeln!(
                out,
                "    {:>8}  {:<6} {:>12} {:>12} {:>12}",
                "tid", "role", "voluntary", "involuntary", "on-CPU"
            )?;
            for t in &k.threads {
                writeln!(
                    out,
                    "    {:>8}  {:<6} {:>12} {:>12} {:>12}",
                    t.tid,
                    t.role,
                    count(t.voluntary),
                    count(t.involuntary),
                    ns(t.oncpu_ns as f64)
                )?;
            }
            if c.rounds > 0 {
                let r = c.rounds as f64;
                writeln!(
                    out,
                    "    per round trip: {:.2} voluntary switches, {:.2} involuntary",
                    k.voluntary() as f64 / r,
                    k.involuntary() as f64 / r
                )?;
            }
        }
        (None, p) => writeln!(
            out,
            "  kernel      probes off ({}): userspace timing only",
            p.reason.as_deref().unwrap_or("unknown reason")
        )?,
    }
    Ok(())
}
