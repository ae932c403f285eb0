//! The run engine: the one place that decides what runs when. It loads the probes once,
//! runs each case's repeats with them as its observer, and builds the results document
//! (`RunResult`, results/SCHEMA.md). One module per workload turns options into cases
//! and measures one case (`pingpong`, `pipetest`, `http`); `suite` is the default suite.
//!
//! It prints nothing but progress and warnings: the commands and `export` render what
//! it returns.
pub mod http;
pub mod kernel;
pub mod pingpong;
pub mod pipetest;
pub mod suite;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use workloads::{stats::Summary as Spread, stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, HttpArgs},
    output::{progress::Progress, warn},
    probes::{self, Kernel, ProbeSet, ProbeSets, Probes},
    results::{Case, NoiseMeter, ProbesState, RunResult},
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
        let kernel = match &self.probes {
            Some(p) if measured => Some(p.collect()?),
            _ => None,
        };
        self.show_notes();
        Ok(kernel)
    }

    /// Shows what the probes met since the last call (a task they could not follow, a
    /// window they could not switch).
    pub fn show_notes(&self) {
        for n in self.probes.iter().flat_map(Probes::take_notes) {
            warn(&n);
        }
    }
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
        if let Ok(btf) = probes::btf::KernelBtf::from_sys_fs() {
            if !btf.has_func_named(name) {
                anyhow::bail!(
                    "--kfunc {name}: no kernel function of that name in this kernel's BTF"
                );
            }
        }
    }
    let loaded = probes::privileges::check()
        .map_err(|why| anyhow::anyhow!("{why}"))
        .and_then(|_| Probes::load(sets, common.kfunc.as_deref()));
    Ok(match loaded {
        Ok(p) => {
            for w in p.warnings() {
                warn(w);
            }
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

/// Records every field of a serialisable options struct as the case's options.
pub(crate) fn options_of(case: &mut Case, options: &impl Serialize) {
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(options) {
        for (k, v) in m {
            case.option(&k, v);
        }
    }
}

/// Mean / median / stddev of `v`, all zero when it is empty.
pub(crate) fn spread(v: impl Iterator<Item = f64>) -> Spread {
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

/// One case to measure.
#[derive(Clone, Debug)]
pub enum Spec {
    Pingpong(workloads::pingpong::Config),
    Pipetest(workloads::pipetest::Config),
    /// One server wait mode (`wait` holds exactly one name).
    Http(HttpArgs),
}

impl Spec {
    /// Checks the options before anything runs.
    pub fn validate(&self) -> std::io::Result<()> {
        match self {
            Spec::Pingpong(c) => workloads::pingpong::validate(c),
            Spec::Pipetest(c) => workloads::pipetest::validate(c),
            Spec::Http(_) => Ok(()),
        }
    }

    /// The id its case will have in the results document.
    pub fn id(&self) -> String {
        match self {
            Spec::Pingpong(c) => {
                Case::new(
                    "pingpong",
                    Some(&c.mechanism.to_string()),
                    Some(c.wait.as_str()),
                    Some(&pingpong::variant(c)),
                )
                .id
            }
            Spec::Pipetest(c) => {
                Case::new(
                    "pipetest",
                    Some(&c.mechanism.to_string()),
                    Some(c.wait.as_str()),
                    None,
                )
                .id
            }
            Spec::Http(h) => Case::new("http", None, Some(&h.wait.join(",")), None).id,
        }
    }
}

/// What one case gives back for the human report, beside its results-document case.
pub enum CaseReport {
    Pingpong(Box<pingpong::PingpongCase>),
    Pipetest(pipetest::PipetestCase),
    Http(Vec<http::HttpCase>),
}

/// Measures `specs` in order, each `common.repeat` times, and returns the finished
/// results document and each case's human-report figures. `workload` names what was
/// asked for in the document's options ("suite" for the default suite); `on_case` is
/// called after each case with the session (for its progress bar) and the case.
pub fn run_cases(
    specs: &[Spec],
    common: &CommonArgs,
    workload: &str,
    stop: &Stop,
    mut on_case: impl FnMut(&Session, &Case),
) -> Result<(RunResult, Vec<CaseReport>)> {
    let mut session = Session::start(common, specs.len() as u64 * u64::from(common.repeat))?;
    let mut doc = RunResult::new(
        std::env::args().collect(),
        serde_json::json!({
            "workload": workload,
            "repeat": common.repeat,
            "probes": session.status.sets,
            "kfunc": common.kfunc,
        }),
        session.status.state(),
        probes::OBJECT,
    );
    if let Some(p) = &session.probes {
        doc.warnings.extend(p.warnings().iter().cloned());
    }
    let noise = NoiseMeter::start();
    let mut reports = Vec::new();
    for spec in specs {
        if stop.is_set() {
            break;
        }
        let (case, report) = match spec {
            Spec::Pingpong(cfg) => {
                let (h, c) = pingpong::case(cfg, common.repeat, &mut session, stop)?;
                (c, CaseReport::Pingpong(Box::new(h)))
            }
            Spec::Pipetest(cfg) => {
                let (h, c) = pipetest::case(cfg, common.repeat, &mut session, stop)?;
                (c, CaseReport::Pipetest(h))
            }
            Spec::Http(h) => {
                let (v, c) = http::case(h, common.repeat, &mut session, stop)?;
                (c, CaseReport::Http(v))
            }
        };
        on_case(&session, &case);
        doc.push_case(case);
        reports.push(report);
    }
    session.progress.finish();
    doc.interrupted = stop.is_set()
        || doc
            .cases
            .iter()
            .any(|c| c.repeats.iter().any(|r| r.interrupted));
    doc.finish(noise.finish());
    Ok((doc, reports))
}
