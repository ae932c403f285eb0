//! `evbench run`: loads the probes once, runs each case with them as its observer, and
//! reports userspace and kernel figures side by side. Every run, one workload or the
//! default suite, produces one results document (`RunResult`, results/SCHEMA.md).
use std::{
    io::Write,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use serde::Serialize;
use workloads::{pingpong, stats::Summary as Spread, stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, PingpongArgs, RunArgs, WorkloadCmd},
    doctor,
    output::{count, ns, progress::Progress, warn},
    probes::{Kernel, ProbeSet, ProbeSets, Probes},
    results::Percentiles,
    results::{Case, Metric, NoiseMeter, ProbesState, Repeat, RunResult},
    signal::INTERRUPTED_EXIT,
    suite::Spec,
};

/// Whether probes ran, and if not, why: every report carries it.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeStatus {
    pub on: bool,
    pub sets: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ProbeStatus {
    /// The results document's form of the same facts.
    pub fn state(&self) -> ProbesState {
        if self.on {
            ProbesState::on(self.sets.clone())
        } else {
            ProbesState::off(self.reason.clone().unwrap_or_default())
        }
    }
}

/// What every case of one `evbench run` shares: the probes (loaded once), the progress
/// bar, and the clock the repeats' start offsets are measured on.
pub struct Session {
    pub probes: Option<Probes>,
    pub status: ProbeStatus,
    pub progress: Progress,
    /// When the first repeat started (the results' and interval log's time zero).
    t0: Option<Instant>,
    /// Whether the probes have measured a window since they were loaded or reset.
    used: bool,
}

impl Session {
    /// Loads the probes `common` asks for; `steps` is the number of repeats to run in
    /// all (the progress bar's length).
    pub fn start(common: &CommonArgs, steps: u64) -> Result<Self> {
        let (probes, status) = prepare_probes(common)?;
        Ok(Self {
            probes,
            status,
            progress: Progress::new(steps, common.quiet || common.json),
            t0: None,
            used: false,
        })
    }

    /// Readies the probes for a new measured window (each repeat is its own: the
    /// previous one's targets and counts are forgotten) and names it on the progress
    /// bar. Returns the repeat's start offset.
    pub fn begin_repeat(&mut self, case: &str, repeat: u32, of: u32) -> Result<Duration> {
        if let (Some(p), true) = (self.probes.as_mut(), self.used) {
            p.reset()?;
        }
        self.used = true;
        self.progress.start(case, repeat, of);
        Ok(self.t0.get_or_insert_with(Instant::now).elapsed())
    }

    /// The observer workloads report their tasks and measured window to.
    pub fn observer(&self) -> &dyn Observer {
        match &self.probes {
            Some(p) => p,
            None => &NoObserver,
        }
    }

    /// The probes' figures of the window just measured (none when `measured` is false:
    /// an interrupted run may never have closed its window).
    pub fn collect(&self, measured: bool) -> Result<Option<Kernel>> {
        match &self.probes {
            Some(p) if measured => Ok(Some(p.collect()?)),
            _ => Ok(None),
        }
    }
}

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

/// What one case prints for people, kept until the run ends.
enum Human {
    Pingpong(Box<PingpongCase>),
    Pipetest(crate::run_pipetest::PipetestCase),
    Http(Vec<crate::run_http::HttpCase>),
}

pub fn run(args: RunArgs, stop: &Stop) -> Result<ExitCode> {
    let common = &args.common;
    let specs: Vec<Spec> = match &args.workload {
        Some(WorkloadCmd::Pingpong(pp)) => vec![Spec::Pingpong(pingpong_config(pp))],
        Some(WorkloadCmd::Pipetest(pt)) => vec![Spec::Pipetest(crate::run_pipetest::config(pt))],
        Some(WorkloadCmd::Http(h)) => match crate::run_http::specs(h) {
            Ok(v) => v,
            Err(e) => return Ok(usage_error(&format!("{e:#}"))),
        },
        None => crate::suite::default_suite(crate::suite::Size::from_env()),
    };
    for s in &specs {
        if let Err(e) = s.validate() {
            return Ok(usage_error(&e.to_string()));
        }
    }
    let suite = args.workload.is_none();
    let mut session = Session::start(common, specs.len() as u64 * u64::from(common.repeat))?;
    let mut doc = RunResult::new(
        std::env::args().collect(),
        serde_json::json!({
            "workload": args.workload.as_ref().map_or("suite", WorkloadCmd::name),
            "repeat": common.repeat,
            "probes": session.status.sets,
            "kfunc": common.kfunc,
        }),
        session.status.state(),
    );
    if let Some(p) = &session.probes {
        doc.warnings.extend(p.warnings().iter().cloned());
    }
    let noise = NoiseMeter::start();
    let mut human = Vec::new();
    for spec in &specs {
        if stop.is_set() {
            break;
        }
        let (case, h) = match spec {
            Spec::Pingpong(cfg) => {
                let (h, c) = pingpong_case(cfg, common.repeat, &mut session, stop)?;
                (c, Human::Pingpong(Box::new(h)))
            }
            Spec::Pipetest(cfg) => {
                let (h, c) =
                    crate::run_pipetest::pipetest_case(cfg, common.repeat, &mut session, stop)?;
                (c, Human::Pipetest(h))
            }
            Spec::Http(h) => {
                let (v, c) = crate::run_http::http_case(h, common.repeat, &mut session, stop)?;
                (c, Human::Http(v))
            }
        };
        if suite && !common.quiet && !common.json {
            session.progress.println(&one_line(&case));
        }
        doc.push_case(case);
        human.push(h);
    }
    session.progress.finish();
    doc.interrupted = stop.is_set()
        || doc
            .cases
            .iter()
            .any(|c| c.repeats.iter().any(|r| r.interrupted));
    doc.finish(noise.finish());
    emit(&doc, common, |out| {
        if suite {
            out.write_all(crate::export::terminal::render_brief(&doc).as_bytes())?;
            writeln!(
                out,
                "Percentiles and histograms: `evbench report FILE` on the document -o FILE writes."
            )?;
            return Ok(());
        }
        let mut http = Vec::new();
        for h in human {
            match h {
                Human::Pingpong(c) => print_human(out, &c)?,
                Human::Pipetest(c) => crate::run_pipetest::print_human(out, &c, common.quiet)?,
                Human::Http(v) => http.extend(v),
            }
        }
        if !http.is_empty() {
            crate::run_http::print_human(out, &http)?;
        }
        Ok(())
    })?;
    if doc.interrupted {
        let what = match &args.workload {
            Some(WorkloadCmd::Pingpong(_)) => format!(
                "the {} round trips measured",
                count(
                    doc.cases
                        .iter()
                        .flat_map(|c| &c.repeats)
                        .filter_map(|r| r.counters.get("rounds"))
                        .sum()
                )
            ),
            Some(WorkloadCmd::Pipetest(_)) => "the runs completed".into(),
            _ => "what was measured".into(),
        };
        eprintln!("evbench: interrupted: the figures cover {what} before Ctrl-C");
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per finished case in the default suite: its id and headline figure.
fn one_line(c: &Case) -> String {
    let head = crate::export::headline(&[c]);
    match head.and_then(|(name, _, unit)| c.metrics.get(&name).map(|m| (m.across.median, unit))) {
        Some((v, unit)) => format!("{:<48} {v:>12.2} {unit}", c.id),
        None => c.id.clone(),
    }
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

/// Records every field of a serialisable options struct as the case's options.
pub(crate) fn options_of(case: &mut Case, options: &impl Serialize) {
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(options) {
        for (k, v) in m {
            case.option(&k, v);
        }
    }
}

/// The ping-pong case's id tail: what tells it from its siblings besides mechanism and
/// wait mode (placement always; tasks, topology and EPOLLEXCLUSIVE when not the default).
pub fn pingpong_variant(cfg: &pingpong::Config) -> String {
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
pub fn pingpong_case(
    cfg: &pingpong::Config,
    repeat: u32,
    session: &mut Session,
    stop: &Stop,
) -> Result<(PingpongCase, Case)> {
    let mut case = Case::new(
        "pingpong",
        Some(&cfg.mechanism.to_string()),
        Some(cfg.wait.as_str()),
        Some(&pingpong_variant(cfg)),
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
            r.kernel(k, o.rounds);
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

/// Writes the results document to `-o FILE` and the interval log to `--hlog FILE` if
/// asked, and either the document (`--json`) or the human report on stdout.
pub(crate) fn emit(
    doc: &RunResult,
    common: &CommonArgs,
    human: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    if let Some(path) = &common.output {
        doc.write(path)?;
    }
    if let Some(path) = &common.hlog {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        crate::export::hlog::write(doc, &mut f)?;
        f.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if common.json {
        out.write_all(doc.to_json()?.as_bytes())?;
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
    writeln!(out, "  round trip  {}", crate::output::percentiles(s))?;
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
