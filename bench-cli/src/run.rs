//! `evbench run`: loads the probes once, runs each case with them as its observer, and
//! reports userspace and kernel figures side by side.
use std::{io::Write, process::ExitCode};

use anyhow::{Context, Result};
use serde::Serialize;
use workloads::{pingpong, stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, PingpongArgs, RunArgs, WorkloadCmd},
    doctor,
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
    let case = match args.workload {
        Some(WorkloadCmd::Pingpong(pp)) => pingpong_case(&pp, &args.common, stop)?,
        Some(WorkloadCmd::Http(h)) => return crate::run_http::run(h, &args.common, stop),
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
    let (probes, status) = prepare_probes(common)?;
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
    // An interrupted run may never have closed its window: nothing to read then.
    let kernel = match &probes {
        Some(p) if outcome.rounds > 0 => Some(p.collect()?),
        _ => None,
    };
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
        (Some(k), _) => crate::output::kernel::print(out, k, c.rounds, "round trip")?,
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
