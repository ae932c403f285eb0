//! The run engine: the one place that decides what runs when. It loads the probes once,
//! asks the scheduler (`scheduler`) for the order of every pass, runs each pass with
//! the probes attached (probed pass) or with no evbench program attached (clean pass),
//! and builds the results document (`RunResult`, results/SCHEMA.md) from them. One
//! module per workload turns options into cases and measures one pass (`pingpong`,
//! `pipetest`, `http`); `suite` is the default suite; `kernel` turns the probes' figures
//! into results; `user` runs a pass in a child process as another user (`--user`).
//!
//! Headline figures come from clean passes, the kernel's explanation from probed passes
//! of the same case with identical options, and each case reports how much the probes
//! slowed it (`probe_slowdown`). It prints nothing but progress and warnings: the
//! commands and `export` render what it returns.
pub mod http;
pub mod kernel;
pub mod pingpong;
pub mod pipetest;
pub mod scheduler;
pub mod suite;
pub mod user;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use workloads::{stop::Stop, NoObserver, Observer};

use crate::{
    cli::{CommonArgs, HttpArgs, Repeats},
    output::{progress::Progress, warn},
    privdrop::Plan,
    probes::{self, Kernel, ProbeSet, ProbeSets, Probes},
    results::{
        precision::{self, MIN_AUTO_REPEATS},
        Better, Case, NoiseMeter, PassNoiseMeter, ProbesState, Repeat, RunResult, Scan, ScanPoint,
    },
};

pub use scheduler::{Order, Pass};

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

/// What every pass of one `evbench run` shares: the probes (loaded once, attached only
/// during probed passes), the progress bar, and the clock the passes' start offsets are
/// measured on.
pub struct Session {
    pub probes: Option<Probes>,
    pub status: ProbeStatus,
    pub progress: Progress,
    /// When the first pass started (the results' and interval log's time zero).
    t0: Option<Instant>,
    /// Whether the probes have measured a window since they were loaded or reset.
    used: bool,
    /// `-v`: show the probes' log messages.
    verbose: bool,
    /// `--user NAME`: every pass runs in a child process that has become NAME.
    pub user: Option<Plan>,
    /// The probes' load warnings, not yet printed ([`Session::show_load_warnings`]).
    load_warnings: Vec<String>,
}

impl Session {
    /// Loads the probes `common` asks for; `steps` is the number of passes to run in all
    /// (the progress bar's length).
    pub fn start(common: &CommonArgs, steps: u64, user: Option<Plan>) -> Result<Self> {
        let (mut probes, status, load_warnings) =
            load_probes(common, probes::select::Adopt::default())?;
        // Nothing stays attached between passes: only a probed pass attaches them.
        if let Some(p) = probes.as_mut() {
            p.detach()?;
        }
        Ok(Self {
            probes,
            status,
            progress: Progress::new(steps, common.quiet || common.json),
            t0: None,
            used: false,
            verbose: common.verbose,
            user,
            load_warnings,
        })
    }

    /// Checks every case's fds ([`Spec::check_fds`]) against what this process holds
    /// during a probed pass: the probes loaded and attached (their programs' and maps'
    /// fds, and one link per attached program), the state the workload's own fds are
    /// opened in; under `--user`, the pass's socketpair too (the child holds fewer, so
    /// the check errs on the safe side). `label(i)` prefixes case `i`'s refusal (a scan
    /// names its value). Errors: [`Refused`] with the first case's refusal; the probes'
    /// attach or detach failing.
    pub fn check_fds(&mut self, specs: &[Spec], label: impl Fn(usize) -> String) -> Result<()> {
        if let Some(p) = self.probes.as_mut() {
            p.attach()?;
            // Whatever ran while attached is forgotten before the first probed pass.
            self.used = true;
        }
        let reserved = if self.user.is_some() { 2 } else { 0 };
        let refused = workloads::fds::open_fds()
            .map_err(|e| format!("cannot list this process's fds in /proc/self/fd: {e}"))
            .and_then(|open| {
                specs.iter().enumerate().try_for_each(|(i, s)| {
                    s.check_fds(&open, reserved)
                        .map_err(|e| format!("{}{e}", label(i)))
                })
            });
        if let Some(p) = self.probes.as_mut() {
            p.detach()?;
        }
        refused.map_err(|e| anyhow::Error::new(Refused(e)))
    }

    /// Prints the probes' load warnings, held back by [`Session::start`] so that a run
    /// refused by [`Session::check_fds`] says one line only.
    pub fn show_load_warnings(&mut self) {
        for w in std::mem::take(&mut self.load_warnings) {
            warn(&w);
        }
    }

    /// Readies one pass and names it on the progress bar; returns its start offset. A
    /// probed pass gets fresh probe state (the previous window's targets and counts are
    /// forgotten) and the programs attached; a clean pass runs with none attached.
    pub fn begin_pass(&mut self, label: &str, pass: Pass) -> Result<Duration> {
        if let Some(p) = self.probes.as_mut() {
            match pass {
                Pass::Probed => {
                    if self.used {
                        p.reset()?;
                    }
                    self.used = true;
                    p.attach()?;
                }
                Pass::Clean => p.detach()?,
            }
        }
        self.progress.start(label);
        Ok(self.t0.get_or_insert_with(Instant::now).elapsed())
    }

    /// Ends a pass: reads the probes' figures of a probed pass's window (none when
    /// `measured` is false: an interrupted pass may never have closed its window), then
    /// detaches them.
    pub fn end_pass(&mut self, pass: Pass, measured: bool) -> Result<Option<Kernel>> {
        let kernel = match (&self.probes, pass) {
            (Some(p), Pass::Probed) if measured => Some(p.collect()?),
            _ => None,
        };
        if let Some(p) = self.probes.as_mut() {
            p.detach()?;
        }
        self.show_notes();
        self.progress.step();
        Ok(kernel)
    }

    /// The probes, during a probed pass.
    pub fn probes_for(&self, pass: Pass) -> Option<&Probes> {
        match pass {
            Pass::Probed => self.probes.as_ref(),
            Pass::Clean => None,
        }
    }

    /// The observer a workload reports its tasks and measured window to: the probes in
    /// a probed pass, nobody in a clean one.
    pub fn observer(&self, pass: Pass) -> &dyn Observer {
        match self.probes_for(pass) {
            Some(p) => p,
            None => &NoObserver,
        }
    }

    /// Shows what the probes' programs logged (rare kernel-side events through aya-log)
    /// since the last call, with `-v`; they are also in each pass's kernel warnings.
    pub fn show_notes(&self) {
        if !self.verbose {
            return;
        }
        for n in self.probes.iter().flat_map(Probes::take_messages) {
            warn(&n);
        }
    }
}

/// A run refused after the probes loaded and before any pass (a case whose fds would
/// not fit beside them): one line, which `evbench run` prints as a usage error (exit 2,
/// nothing measured, no document).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Loads the probes `common` asks for, with tasks the kernel programs make targets by
/// themselves (`evbench trace --cgroup`, `--comm`; `Adopt::default()`: none). A mistake
/// in what was asked (an unknown `--kfunc`) is an error; when the probes cannot load
/// here, says so in one sentence and returns `None`: the workload still runs, with
/// userspace timing only.
pub fn prepare_probes_adopting(
    common: &CommonArgs,
    adopt: probes::select::Adopt,
) -> Result<(Option<Probes>, ProbeStatus)> {
    let (probes, status, lines) = load_probes(common, adopt)?;
    for l in &lines {
        warn(l);
    }
    Ok((probes, status))
}

/// [`prepare_probes_adopting`] without printing: the warning lines come back for the
/// caller to print.
fn load_probes(
    common: &CommonArgs,
    adopt: probes::select::Adopt,
) -> Result<(Option<Probes>, ProbeStatus, Vec<String>)> {
    let mut lines = Vec::new();
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
        return Ok((None, status, lines));
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
        .and_then(|_| {
            let opts = probes::ProbeOptions {
                syscall_sample: common.syscall_sample,
                adopt,
                ..Default::default()
            };
            Probes::load_with(sets, common.kfunc.as_deref(), &opts)
        });
    let (probes, status) = match loaded {
        Ok(p) if p.sets().is_empty() => {
            // Everything asked for was refused (fentry on this kernel): no probe ran.
            let reason = p
                .warnings()
                .first()
                .cloned()
                .unwrap_or_else(|| "no probe set could be attached".into());
            lines.push(format!("probes off: {reason}"));
            (
                None,
                ProbeStatus {
                    on: false,
                    sets: ProbeSets::NONE.to_string(),
                    reason: Some(reason),
                },
            )
        }
        Ok(p) => {
            lines.extend(p.warnings().iter().cloned());
            let status = ProbeStatus {
                on: true,
                sets: p.sets().to_string(),
                reason: None,
            };
            (Some(p), status)
        }
        Err(e) => {
            let reason = format!("{e:#}");
            lines.push(format!(
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
    };
    Ok((probes, status, lines))
}

/// Records every field of a serialisable options struct as the case's options.
pub(crate) fn options_of(case: &mut Case, options: &impl Serialize) {
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(options) {
        for (k, v) in m {
            case.option(&k, v);
        }
    }
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
            Spec::Http(h) => http::validate(h),
        }
    }

    /// Checks that the case's fds fit beside the `open` fds (ascending) and `reserved`
    /// more opened before the workload's: RLIMIT_NOFILE (the soft limit raised toward
    /// the hard one as needed) and, for select(2), FD_SETSIZE on the highest fd number.
    /// [`Session::check_fds`] calls it with the fds a probed pass holds, after the
    /// probes loaded: checked before that, the probes' 30-odd fds were not counted and
    /// values just under a limit passed, then failed part-way through the run.
    /// Errors: one line naming the limit and the most that fit here.
    pub fn check_fds(&self, open: &[std::os::fd::RawFd], reserved: usize) -> std::io::Result<()> {
        match self {
            Spec::Pingpong(_) => Ok(()), // at most MAX_TASKS tasks: a few hundred fds
            Spec::Pipetest(c) => workloads::pipetest::check_fds_beside(c, open, reserved),
            Spec::Http(h) => http::check_fds(h), // never under --user: no socketpair
        }
    }

    /// Its mechanism and wait mode as the command line gives them
    /// (`pipetest -m pipe -W select`, `http -W epoll`): what names it in a refusal when
    /// a list made several cases ([`refusal_label`]).
    pub fn combination(&self) -> String {
        match self {
            Spec::Pingpong(c) => format!("pingpong -m {} -W {}", c.mechanism, c.wait.as_str()),
            Spec::Pipetest(c) => format!("pipetest -m {} -W {}", c.mechanism, c.wait.as_str()),
            Spec::Http(h) => format!("http -W {}", h.wait.join(",")),
        }
    }

    /// An empty results-document case for it: id and options.
    pub fn case(&self) -> Case {
        match self {
            Spec::Pingpong(c) => {
                let mut case = Case::new(
                    "pingpong",
                    Some(&c.mechanism.to_string()),
                    Some(c.wait.as_str()),
                    Some(&pingpong::variant(c)),
                );
                options_of(&mut case, c);
                case
            }
            Spec::Pipetest(c) => {
                let mut case = Case::new(
                    "pipetest",
                    Some(&c.mechanism.to_string()),
                    Some(c.wait.as_str()),
                    None,
                );
                options_of(&mut case, c);
                case
            }
            Spec::Http(h) => http::new_case(h),
        }
    }

    /// The headline metric: what the human report leads with and what the probe
    /// slowdown is the ratio of.
    pub fn headline(&self) -> (&'static str, Better) {
        match self {
            Spec::Pingpong(_) => ("ops_per_sec", Better::Higher),
            Spec::Pipetest(_) => ("us_per_event", Better::Lower),
            Spec::Http(_) => ("requests_per_sec", Better::Higher),
        }
    }

    /// Why it cannot run under `--user NAME` (one line), if it cannot.
    pub fn refuses_user(&self) -> Option<String> {
        let fuse = |m: workloads::Mechanism| {
            (m == workloads::Mechanism::EfdMaskFuse).then(|| {
                "--user: the efd-mask-fuse mechanism mounts a FUSE filesystem, which needs CAP_SYS_ADMIN (a user without capabilities cannot mount it); use efd-mask-socketpair or run without --user".to_string()
            })
        };
        match self {
            Spec::Pingpong(c) => fuse(c.mechanism),
            Spec::Pipetest(c) => fuse(c.mechanism),
            Spec::Http(_) => Some(
                "--user: not available for http: its server runs as a separate `evbench serve` process and its load client inside evbench, and only a workload run whole in one child can be dropped; run http without --user".into(),
            ),
        }
    }

    /// The id its case will have in the results document.
    pub fn id(&self) -> String {
        self.case().id
    }

    /// Runs one pass of it.
    fn pass(&self, session: &Session, pass: Pass, stop: &Stop) -> Result<PassResult> {
        if let Some(plan) = &session.user {
            let observer = session.observer(pass);
            return match self {
                Spec::Pingpong(c) => pingpong::pass_as(plan, c, observer, stop),
                Spec::Pipetest(c) => pipetest::pass_as(plan, c, observer, stop),
                Spec::Http(_) => anyhow::bail!("{}", self.refuses_user().unwrap_or_default()),
            };
        }
        match self {
            Spec::Pingpong(c) => pingpong::pass(c, session.observer(pass), stop),
            Spec::Pipetest(c) => pipetest::pass(c, session.observer(pass), stop),
            Spec::Http(h) => http::pass(h, session.probes_for(pass), stop),
        }
    }
}

/// One pass's figures: its repeat in the results document's shape, the workload's own
/// figures for the human report, and the operations it measured (round trips, events,
/// requests: what per-op kernel figures divide by).
pub struct PassResult {
    pub repeat: Repeat,
    pub figures: Figures,
    pub ops: u64,
    /// Warnings about this pass alone (e.g. an open loop's shortfall), without a prefix:
    /// the scheduler prints them naming the case and pass (warm-up or judged) and keeps
    /// a judged pass's in the document's `warnings`.
    pub warnings: Vec<String>,
}

/// A pass's figures as the workload reports them.
pub enum Figures {
    Pingpong(Box<workloads::pingpong::Outcome>),
    Pipetest(workloads::pipetest::Outcome),
    Http(Box<http::HttpPass>),
}

/// One judged round of a case: its clean pass and, for the first rounds, its probed pass
/// (with the probes' figures of its window).
#[derive(Default)]
pub struct Round {
    pub clean: Option<PassResult>,
    pub probed: Option<(PassResult, Option<Kernel>)>,
}

/// Everything one case measured, for the human report.
pub struct CaseRun {
    pub spec: Spec,
    pub id: String,
    /// In a parameter scan: the case's point of it (its label ends `id`).
    pub scan: Option<ScanPoint>,
    /// Warm-up rounds (clean passes, never judged).
    pub warmups: Vec<PassResult>,
    pub rounds: Vec<Round>,
    /// Judged passes' warnings, each prefixed with the case and pass: they go into the
    /// document's `warnings` (a warm-up's are printed only).
    pub warnings: Vec<String>,
}

/// `--precision` when not given: 2% half-width.
pub const DEFAULT_PRECISION: f64 = 0.02;
/// `--max-time` when not given: 10 minutes.
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(600);

/// How `evbench run` schedules its passes (`--repeat`, `--warmup-repeats`, `--order`,
/// `--seed`, and for `--repeat auto` `--precision` and `--max-time`).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Judged rounds to start with (`--repeat K`; 6 for `auto`).
    pub repeat: u32,
    /// `--repeat auto`: keep adding rounds until every case's headline is known to
    /// `precision` (half-width of the 95% interval of its median), or `max_time` ends.
    pub auto: bool,
    pub precision: f64,
    pub max_time: Duration,
    pub warmup_repeats: u32,
    pub order: Order,
    pub seed: u64,
}

impl Schedule {
    /// From the command line; a missing `--seed` is drawn from the clock (and recorded).
    pub fn of(common: &CommonArgs) -> Self {
        let seed = common.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let (repeat, auto) = match common.repeat {
            Repeats::Fixed(k) => (k, false),
            Repeats::Auto => (MIN_AUTO_REPEATS, true),
        };
        Self {
            repeat,
            auto,
            precision: common.precision.map_or(DEFAULT_PRECISION, |p| p.0),
            max_time: common.max_time.unwrap_or(DEFAULT_MAX_TIME),
            warmup_repeats: common.warmup_repeats,
            order: common.order,
            seed,
        }
    }
}

/// Runs `slots` in order into `runs`; `on_case` hears of each case whose `last` slot
/// ran. Stops early (without error) when `stop` is set. A pass whose workload failed (a
/// task or process that died, a server that would not start) ends the run there:
/// `Ok(Some(why))`, with every earlier pass kept.
fn run_slots(
    session: &mut Session,
    runs: &mut [CaseRun],
    slots: &[scheduler::Slot],
    sched: &Schedule,
    stop: &Stop,
    deadline: Option<Instant>,
    on_case: &mut dyn FnMut(&Session, &Case),
) -> Result<Option<String>> {
    let mut last = vec![usize::MAX; runs.len()];
    for (i, s) in slots.iter().enumerate() {
        last[s.case] = i;
    }
    // Rounds begun, per case: past the deadline (`--max-time`), a round already begun
    // still gets its other pass (a clean pass without its probed one is a whole repeat;
    // the reverse would be an interrupted one), and no new round begins.
    let mut begun = vec![std::collections::BTreeSet::new(); runs.len()];
    for (i, slot) in slots.iter().enumerate() {
        if stop.is_set() {
            break;
        }
        let key = (slot.warmup, slot.round);
        if deadline.is_some_and(|d| Instant::now() >= d) && !begun[slot.case].contains(&key) {
            continue;
        }
        begun[slot.case].insert(key);
        let run = &mut runs[slot.case];
        let label = if slot.warmup {
            format!(
                "{} (warm-up {}/{})",
                run.id, slot.round, sched.warmup_repeats
            )
        } else {
            format!(
                "{} ({} {}/{}{})",
                run.id,
                slot.pass.as_str(),
                slot.round,
                run.rounds.len(),
                if sched.auto { ", auto" } else { "" }
            )
        };
        let started = session.begin_pass(&label, slot.pass)?;
        crate::signal::test_pause_pass(slot.warmup, slot.pass.as_str(), stop);
        let meter = PassNoiseMeter::start();
        let result = run.spec.pass(session, slot.pass, stop);
        let noise = meter.finish();
        let measured = result.as_ref().is_ok_and(|r| r.ops > 0);
        let kernel = session.end_pass(slot.pass, measured)?;
        let mut result = match result {
            Ok(r) => r,
            Err(e) => return Ok(Some(format!("{}: {e:#}", run.id))),
        };
        result.repeat.started_at(started);
        result.repeat.noise = Some(noise);
        for w in std::mem::take(&mut result.warnings) {
            if slot.warmup {
                warn(&format!("{label}, not judged: {w}"));
            } else {
                let w = format!("{label}: {w}");
                warn(&w);
                run.warnings.push(w);
            }
        }
        let round = slot.round as usize - 1;
        if slot.warmup {
            run.warmups.push(result);
        } else if slot.pass == Pass::Clean {
            run.rounds[round].clean = Some(result);
        } else {
            run.rounds[round].probed = Some((result, kernel));
        }
        if last[slot.case] == i {
            on_case(session, &build_case(&runs[slot.case]));
        }
    }
    Ok(None)
}

/// The relative half-width of the 95% interval of a case's headline median, from its
/// counted clean passes so far (`None` with fewer than 6).
fn half_width(run: &CaseRun) -> Option<f64> {
    let (name, _) = run.spec.headline();
    // The counted repeats' headlines, read in place: a round counts when neither of its
    // passes was cut short (as `kernel::combine` marks it), without building the case.
    let values: Vec<f64> = run
        .rounds
        .iter()
        .filter_map(|r| {
            let c = r.clean.as_ref()?;
            let cut = c.repeat.interrupted
                || r.probed.as_ref().is_some_and(|(p, _)| p.repeat.interrupted);
            if cut {
                None
            } else {
                c.repeat.metrics.get(name).copied()
            }
        })
        .collect();
    precision::relative_half_width(&values, 0.95)
}

/// Measures `specs` as the scheduler orders their passes and returns the finished
/// results document and each case's figures. `workload` names what was asked for in
/// the document's options ("suite" for the default suite); `on_case` is called with the
/// session (for its progress bar) and each case once its last pass has run. `user`
/// (`--user NAME`): every pass runs in a child process that has become that user, while
/// this process keeps the probes; the caller has checked `Spec::refuses_user`.
pub fn run_cases(
    specs: &[Spec],
    common: &CommonArgs,
    workload: &str,
    stop: &Stop,
    user: Option<Plan>,
    on_case: impl FnMut(&Session, &Case),
) -> Result<(RunResult, Vec<CaseRun>)> {
    run_scan(specs, None, common, workload, stop, user, on_case)
}

/// A parameter scan's cases (`--scan`): the scan's record for the document and each
/// spec's point of it (`points[i]` is `specs[i]`'s).
#[derive(Clone, Debug)]
pub struct ScanPlan {
    pub scan: Scan,
    pub points: Vec<ScanPoint>,
    /// Warnings about the scan itself (a range that rounding left fewer values than
    /// its STEPS): printed once the run is accepted, and kept in the document.
    pub warnings: Vec<String>,
}

/// What prefixes case `i`'s refusal (`Spec::validate`, `Session::check_fds`) so that
/// the one line names the case refused: the scan's point (`--scan channels=800: `) and,
/// when `specs` hold more than one combination of mechanism and wait mode (`-W
/// epoll,select`), the combination (`pipetest -m pipe -W select: `). Empty for a single
/// case.
pub fn refusal_label(specs: &[Spec], scan: Option<&ScanPlan>, i: usize) -> String {
    let mut at = scan
        .and_then(|p| p.points.get(i))
        .map(|p| format!("--scan {}: ", p.label))
        .unwrap_or_default();
    if let Some(s) = specs.get(i) {
        let this = s.combination();
        if specs.iter().any(|o| o.combination() != this) {
            at.push_str(&format!("{this}: "));
        }
    }
    at
}

/// [`run_cases`] for the cases of a parameter scan (`scan`, one point per spec; `None`:
/// no scan): each case's id ends with its point's label, and the document records the
/// scan. Scheduled like any other cases (clean and probed passes, interleaved,
/// repeats). Errors as `run_cases`, and when `scan` has not one point per spec.
pub fn run_scan(
    specs: &[Spec],
    scan: Option<&ScanPlan>,
    common: &CommonArgs,
    workload: &str,
    stop: &Stop,
    user: Option<Plan>,
    mut on_case: impl FnMut(&Session, &Case),
) -> Result<(RunResult, Vec<CaseRun>)> {
    if let Some(p) = scan {
        anyhow::ensure!(
            p.points.len() == specs.len(),
            "a scan of {} cases has {} points",
            specs.len(),
            p.points.len()
        );
    }
    let sched = Schedule::of(common);
    let began = Instant::now();
    let user_name = user.as_ref().map(|p| p.user().to_string());
    // Probes are loaded before the plan, since whether they load decides the passes.
    let mut session = Session::start(common, 0, user)?;
    session.check_fds(specs, |i| refusal_label(specs, scan, i))?;
    session.show_load_warnings();
    for w in scan.iter().flat_map(|p| &p.warnings) {
        warn(w);
    }
    crate::signal::test_pause("setup", stop);
    let plan = scheduler::Plan {
        cases: specs.len(),
        rounds: sched.repeat,
        warmup_rounds: sched.warmup_repeats,
        probed_rounds: scheduler::probed_rounds(sched.repeat, session.probes.is_some()),
        order: sched.order,
        seed: sched.seed,
    };
    let mut order = scheduler::Scheduler::new(sched.seed);
    let slots = order.plan(&plan);
    session.progress.set_length(slots.len() as u64);
    let mut options = serde_json::json!({
            "workload": workload,
            "repeat": if sched.auto { serde_json::json!("auto") } else { serde_json::json!(sched.repeat) },
            "precision": sched.auto.then_some(sched.precision),
            "max_time_s": sched.auto.then_some(sched.max_time.as_secs_f64()),
            "warmup_repeats": sched.warmup_repeats,
            "probed_repeats": plan.probed_rounds,
            "order": sched.order,
            "seed": sched.seed,
            "probes": session.status.sets,
            "kfunc": common.kfunc,
            "syscall_sample": common.syscall_sample,
            "scan": scan.map(|p| p.scan.spec.clone()),
    });
    if let Some(u) = user_name {
        options["user"] = serde_json::json!(u);
    }
    let mut doc = RunResult::new(
        std::env::args().collect(),
        options,
        session.status.state(),
        probes::OBJECT,
    );
    doc.scan = scan.map(|p| p.scan.clone());
    doc.warnings
        .extend(scan.iter().flat_map(|p| p.warnings.iter().cloned()));
    if let Some(p) = &session.probes {
        doc.warnings.extend(p.warnings().iter().cloned());
    }
    // BPF run-time statistics cost every program on the machine ~120 ns per run and
    // never show in run_time_ns: a run under another tool's sysctl says so.
    if let Some(w) = probes::bpf_stats_warning() {
        if !doc.warnings.contains(&w) {
            warn(&w);
            doc.warnings.push(w);
        }
    }
    let mut runs: Vec<CaseRun> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let point = scan.map(|p| p.points[i].clone());
            let id = case_of(s, point.as_ref()).id;
            CaseRun {
                spec: s.clone(),
                id,
                scan: point,
                warmups: Vec::new(),
                warnings: Vec::new(),
                rounds: (0..sched.repeat).map(|_| Round::default()).collect(),
            }
        })
        .collect();
    let noise = NoiseMeter::start();
    // --max-time is a budget for the whole run, the first 6 rounds included.
    let deadline = sched.auto.then(|| began + sched.max_time);
    let mut quiet = |_: &Session, _: &Case| {};
    let failed: Option<String>;
    {
        // With auto, a case is done only when it converges: its line comes at the end.
        let first: &mut dyn FnMut(&Session, &Case) =
            if sched.auto { &mut quiet } else { &mut on_case };
        failed = run_slots(
            &mut session,
            &mut runs,
            &slots,
            &sched,
            stop,
            deadline,
            first,
        )?;
    }
    // --repeat auto: one more interleaved round of every case not yet precise enough,
    // while the time budget lasts (checked before each pass; a begun round completes).
    let mut round = sched.repeat;
    let mut failed = failed;
    while failed.is_none() && sched.auto && !stop.is_set() && began.elapsed() < sched.max_time {
        let open: Vec<usize> = (0..runs.len())
            .filter(|&i| half_width(&runs[i]).is_none_or(|h| h > sched.precision))
            .collect();
        if open.is_empty() {
            break;
        }
        round += 1;
        for &i in &open {
            runs[i].rounds.push(Round::default());
        }
        let slots = order.round(&open, round);
        let done = session.progress.done();
        session.progress.set_length(done + slots.len() as u64);
        failed = run_slots(
            &mut session,
            &mut runs,
            &slots,
            &sched,
            stop,
            deadline,
            &mut quiet,
        )?;
    }
    session.progress.finish();
    for run in &runs {
        let mut case = build_case(run);
        if case.repeats.is_empty() && case.warmup_repeats.is_empty() {
            continue; // stopped before it ran at all
        }
        doc.warnings.extend(run.warnings.iter().cloned());
        if sched.auto {
            let h = half_width(run);
            case.convergence = Some(precision::Convergence {
                metric: run.spec.headline().0.to_string(),
                converged: h.is_some_and(|h| h <= sched.precision),
                half_width: h,
                target: sched.precision,
                repeats: case.counted().count() as u32,
            });
            on_case(&session, &case);
        }
        doc.push_case(case);
    }
    if sched.auto {
        let open: Vec<String> = doc
            .cases
            .iter()
            .filter_map(|c| {
                let v = c.convergence.as_ref()?;
                (!v.converged).then(|| match v.half_width {
                    Some(h) => format!(
                        "{} (±{:.1}% after {})",
                        c.id,
                        h * 100.0,
                        crate::output::plural(v.repeats as u64, "repeat", "repeats")
                    ),
                    None => format!("{} (fewer than 6 repeats)", c.id),
                })
            })
            .collect();
        if !open.is_empty() {
            let w = format!(
                "--repeat auto: {} case(s) did not reach ±{:.1}% within --max-time {}: {}",
                open.len(),
                sched.precision * 100.0,
                humantime::format_duration(sched.max_time),
                open.join(", ")
            );
            warn(&w);
            doc.warnings.push(w);
        }
    }
    if let Some(why) = &failed {
        // The measurement ends with the failed pass; the figures before it stand.
        let w = format!("a pass failed, so the run stopped there: {why}");
        warn(&w);
        doc.warnings.push(w);
    }
    doc.interrupted = stop.is_set()
        || failed.is_some()
        || doc
            .cases
            .iter()
            .any(|c| c.repeats.iter().any(|r| r.interrupted));
    doc.finish(noise.finish());
    Ok((doc, runs))
}

/// An empty results-document case for `spec`, a point of a scan when `point` is given:
/// its id then ends with the point's label (and a pingpong topology scan's variant
/// leaves the topology to the label).
fn case_of(spec: &Spec, point: Option<&ScanPoint>) -> Case {
    let mut case = match (spec, point) {
        (Spec::Pingpong(c), Some(p)) if p.name == "fanout" || p.name == "ring" => {
            let mut case = Case::new(
                "pingpong",
                Some(&c.mechanism.to_string()),
                Some(c.wait.as_str()),
                Some(&pingpong::variant_with(c, false)),
            );
            options_of(&mut case, c);
            case
        }
        _ => spec.case(),
    };
    if let Some(p) = point {
        case.set_scan(p.clone());
    }
    case
}

/// The results-document case of what `run` measured so far: each judged round's clean
/// figures with its probed pass's kernel figures beside them, and the warm-ups apart.
pub fn build_case(run: &CaseRun) -> Case {
    let mut case = case_of(&run.spec, run.scan.as_ref());
    for w in &run.warmups {
        case.push_warmup(w.repeat.clone());
    }
    for round in &run.rounds {
        if let Some(r) = kernel::combine(round, run.spec.headline()) {
            case.push_repeat(r);
        }
    }
    case
}
