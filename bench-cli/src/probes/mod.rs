//! Probe loading, targets and collection: the user side of `bench-ebpf`.
//!
//! One [`Probes`] is loaded and attached before a workload creates its tasks. It is the
//! workload's [`Observer`]: each task's thread id goes into the kernel's `TARGETS` map
//! as the task starts, and the measured window flips the `CONTROL` switch, so nothing
//! of the CLI's own threads, the rest of the machine, or set-up is ever counted.
pub mod btf;
pub mod collect;
pub mod kallsyms;
pub mod privileges;
pub mod progstats;
pub mod set;

use std::{
    os::fd::{AsFd, OwnedFd},
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use aya::{
    maps::{Array, HashMap, MapData},
    programs::{tp_btf::BtfTracePointLinkId, BtfTracePoint, FEntry, FExit, Program},
    Btf, Ebpf, EbpfLoader,
};
use bench_common::{globals, SyscallKey, Target, WokeKey, CONTROL_MEASURING, CONTROL_TGID};
use workloads::{Observer, TaskInfo};

pub use collect::Kernel;
pub use set::{ProbeSet, ProbeSets};

use crate::errors::{chain, errno};
use progstats::ProgCounters;

/// The kernel programs, built by `cargo xtask build` and embedded at compile time.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(env!("EVBENCH_EBPF_OBJ_PATH"));

/// BTF tracepoints each probe set attaches (the program has the tracepoint's name).
pub fn tracepoints(set: ProbeSet) -> &'static [&'static str] {
    match set {
        ProbeSet::Wakeup => &["sched_waking", "sched_switch"],
        ProbeSet::Offcpu => &["sched_switch"],
        ProbeSet::Syscalls => &["sys_enter", "sys_exit", "sched_switch"],
        ProbeSet::Wakestacks => &["sched_waking"],
        ProbeSet::Kfunc => &[],
    }
}

/// Attached whenever any probe set is: children of targets become targets.
pub const ALWAYS: &[&str] = &["sched_process_fork"];

/// How long the loader watches the programs with no target registered, to learn what
/// a run that exits early costs (see `collect::ProgramCost`).
const CALIBRATION: Duration = Duration::from_millis(100);

/// Loaded and attached probes. Dropping it detaches and unloads everything, and turns
/// BPF run-time statistics back off.
pub struct Probes {
    sets: ProbeSets,
    kfunc: Option<String>,
    /// Keeps the programs and their links alive.
    ebpf: Ebpf,
    /// BPF run-time statistics stay on while this fd is open.
    _stats: Option<OwnedFd>,
    /// Attached programs: (name, fd for bpf_prog_info, counters after calibration).
    programs: Vec<(String, OwnedFd)>,
    /// Per-run cost of each program when no target is involved (calibration).
    idle_cost: Vec<Option<f64>>,
    targets: Mutex<HashMap<MapData, u32, Target>>,
    control: Mutex<Array<MapData, u32>>,
    tasks: Mutex<Vec<TaskInfo>>,
    window: Mutex<Window>,
    warnings: Vec<String>,
    /// The tracepoint programs' links while attached (a probed pass); empty while
    /// detached, so a clean pass runs with no evbench program on any tracepoint.
    links: Vec<(String, BtfTracePointLinkId)>,
    /// Problems met while following tasks or switching the window, waiting for the
    /// caller to show them (`take_notes`): probes print nothing themselves.
    notes: Mutex<Vec<String>>,
}

/// Program counters at the edges of the measured window.
#[derive(Default)]
struct Window {
    opened: Option<(Instant, Vec<ProgCounters>)>,
    closed: Option<(Instant, Vec<ProgCounters>)>,
}

/// Loads the object with the kernel-specific globals filled in (no programs loaded yet).
pub(crate) fn open_object(enabled: u32) -> Result<Ebpf> {
    let kbtf = btf::KernelBtf::from_sys_fs()?;
    let pid_off = kbtf.member_offset("task_struct", "pid")?;
    // The programs read pid and tgid with one 8-byte load.
    if kbtf.member_offset("task_struct", "tgid")? != pid_off + 4 {
        bail!(
            "task_struct.tgid does not follow task_struct.pid in this kernel: unsupported layout"
        );
    }
    EbpfLoader::new()
        .override_global(globals::TASK_PID_OFFSET, &pid_off, true)
        .override_global(globals::ENABLED, &enabled, true)
        .load(OBJECT)
        .map_err(|e| anyhow!("{}", chain(&e)))
        .context("cannot create the BPF maps")
}

fn prog_fd(prog: &Program) -> Result<OwnedFd> {
    Ok(prog.fd()?.as_fd().try_clone_to_owned()?)
}

impl Probes {
    /// Loads and attaches the programs of `sets` (`kfunc`: the function `--kfunc`
    /// names). Counting stays off until a workload opens its measured window;
    /// `detach` / `attach` take the tracepoint programs off and put them back.
    pub fn load(sets: ProbeSets, kfunc: Option<&str>) -> Result<Self> {
        if sets.is_empty() {
            bail!("no probe set to load");
        }
        if sets.contains(ProbeSet::Kfunc) && kfunc.is_none() {
            bail!("the kfunc probe set needs a function: --kfunc NAME");
        }
        let kbtf = btf::KernelBtf::from_sys_fs()?;
        if let Some(name) = kfunc {
            if !kbtf.has_func_named(name) {
                bail!("--kfunc {name}: no kernel function of that name in this kernel's BTF");
            }
        }
        let mut ebpf = open_object(sets.kernel_bits())?;
        let btf = Btf::from_sys_fs().context("cannot read the kernel's BTF")?;
        let stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
        let mut warnings = Vec::new();
        if stats.is_none() {
            warnings.push(
                "BPF run-time statistics are unavailable: probe cost is not reported".to_string(),
            );
        }
        let mut names: Vec<&str> = sets
            .iter()
            .flat_map(|s| tracepoints(s).iter().copied())
            .collect();
        names.extend_from_slice(ALWAYS);
        let mut seen = Vec::new();
        let mut programs = Vec::new();
        let mut links = Vec::new();
        for tp in names {
            if seen.contains(&tp) {
                continue;
            }
            seen.push(tp);
            let prog: &mut BtfTracePoint = ebpf
                .program_mut(tp)
                .with_context(|| format!("program {tp} is missing from the eBPF object"))?
                .try_into()?;
            prog.load(tp, &btf)
                .map_err(|e| anyhow!("cannot load the {tp} program: {}", chain(&e)))?;
            // Attached here (loading proves it works, and calibration needs it); a run
            // engine detaches them between its probed passes (`detach`).
            let link = prog
                .attach()
                .map_err(|e| anyhow!("cannot attach to tracepoint {tp}: {}", chain(&e)))?;
            links.push((tp.to_string(), link));
            programs.push((
                tp.to_string(),
                prog_fd(ebpf.program(tp).expect("just loaded"))?,
            ));
        }
        let mut kfunc_loaded = None;
        if let Some(name) = kfunc {
            match attach_kfunc(&mut ebpf, &btf, name) {
                Ok(fds) => {
                    programs.extend(fds);
                    kfunc_loaded = Some(name.to_string());
                }
                Err(e) if errno(&e) == Some(libc::EPERM) => {
                    let w = format!("kfunc {name}: not permitted by this kernel (fentry/fexit are refused with EPERM); going on without it");
                    warnings.push(w);
                }
                Err(e) => return Err(e),
            }
        }
        let take = |ebpf: &mut Ebpf, name: &str| {
            ebpf.take_map(name)
                .with_context(|| format!("map {name} is missing from the eBPF object"))
        };
        let targets = HashMap::try_from(take(&mut ebpf, "TARGETS")?)?;
        let control = Array::try_from(take(&mut ebpf, "CONTROL")?)?;
        let mut probes = Self {
            sets: if kfunc_loaded.is_some() {
                sets
            } else {
                sets.without(ProbeSet::Kfunc)
            },
            kfunc: kfunc_loaded,
            ebpf,
            _stats: stats,
            idle_cost: Vec::new(),
            programs,
            targets: Mutex::new(targets),
            control: Mutex::new(control),
            tasks: Mutex::new(Vec::new()),
            window: Mutex::new(Window::default()),
            warnings,
            links,
            notes: Mutex::new(Vec::new()),
        };
        probes.calibrate();
        Ok(probes)
    }

    /// Attaches every tracepoint program (a probed pass begins). Idempotent.
    pub fn attach(&mut self) -> Result<()> {
        if !self.links.is_empty() {
            return Ok(());
        }
        for (tp, _) in &self.programs {
            let Some(prog) = self.ebpf.program_mut(tp) else {
                continue;
            };
            // Only the tracepoint programs are attached per pass; kfunc's fentry/fexit
            // (refused by this kernel) stay as loaded.
            let Ok(prog) = <&mut BtfTracePoint>::try_from(prog) else {
                continue;
            };
            let link = prog
                .attach()
                .map_err(|e| anyhow!("cannot attach to tracepoint {tp}: {}", chain(&e)))?;
            self.links.push((tp.clone(), link));
        }
        Ok(())
    }

    /// Detaches every tracepoint program (a probed pass ended; a clean pass follows).
    /// The programs stay loaded and their maps keep what they counted.
    pub fn detach(&mut self) -> Result<()> {
        for (tp, link) in std::mem::take(&mut self.links) {
            let prog: &mut BtfTracePoint = self
                .ebpf
                .program_mut(&tp)
                .with_context(|| format!("program {tp} is missing"))?
                .try_into()?;
            prog.detach(link)
                .map_err(|e| anyhow!("cannot detach from tracepoint {tp}: {}", chain(&e)))?;
        }
        Ok(())
    }

    /// Whether the tracepoint programs are attached now.
    pub fn attached(&self) -> bool {
        !self.links.is_empty()
    }

    /// Learns what each program costs per run when it exits early (no target yet), so
    /// the cost of runs on target threads is not flattered by cheap early exits.
    fn calibrate(&mut self) {
        let before = self.counters();
        std::thread::sleep(CALIBRATION);
        let after = self.counters();
        self.idle_cost = after
            .iter()
            .zip(&before)
            .map(|(a, b)| {
                let d = a.since(*b);
                // Too few runs to say anything: leave it unknown rather than guess.
                (d.run_cnt >= 20).then(|| d.run_time_ns as f64 / d.run_cnt as f64)
            })
            .collect();
    }

    fn counters(&self) -> Vec<ProgCounters> {
        self.programs
            .iter()
            .map(|(_, fd)| progstats::read(fd.as_fd()).unwrap_or_default())
            .collect()
    }

    pub fn sets(&self) -> ProbeSets {
        self.sets
    }

    /// Warnings gathered while loading (shown once in every report).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Problems met since the last call (a task that could not be followed, a window
    /// that could not be switched), each one sentence; the caller shows them.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().expect("not poisoned"))
    }

    fn note(&self, msg: String) {
        self.notes.lock().expect("not poisoned").push(msg);
    }

    /// The tasks registered so far.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        self.tasks.lock().expect("not poisoned").clone()
    }

    /// Every thread id that per-thread figures were recorded under (syscall counts,
    /// wakeups). Only targets pass the filter, so anything else here means it leaked.
    pub fn counted_tids(&self) -> Result<Vec<u32>> {
        let mut tids = Vec::new();
        if let Some(m) = self.ebpf.map("SYSCOUNT") {
            let m: aya::maps::PerCpuHashMap<&MapData, SyscallKey, u64> =
                aya::maps::PerCpuHashMap::try_from(m)?;
            for k in m.keys() {
                tids.push(k.context("cannot read the SYSCOUNT map")?.tid);
            }
        }
        if let Some(m) = self.ebpf.map("WOKE") {
            let m: aya::maps::PerCpuHashMap<&MapData, WokeKey, u64> =
                aya::maps::PerCpuHashMap::try_from(m)?;
            for k in m.keys() {
                tids.push(k.context("cannot read the WOKE map")?.wakee_tid);
            }
        }
        tids.sort_unstable();
        tids.dedup();
        Ok(tids)
    }

    /// Reads everything the probes saw in the last measured window.
    pub fn collect(&self) -> Result<Kernel> {
        let w = self.window.lock().expect("not poisoned");
        let (opened, closed) = match (&w.opened, &w.closed) {
            (Some(o), Some(c)) => (o, c),
            _ => bail!("the workload never opened and closed its measured window"),
        };
        let names: Vec<&str> = self.programs.iter().map(|(n, _)| n.as_str()).collect();
        collect::collect(&collect::Sources {
            ebpf: &self.ebpf,
            targets: &self.targets.lock().expect("not poisoned"),
            sets: self.sets,
            kfunc: self.kfunc.as_deref(),
            tasks: &self.tasks(),
            programs: &names,
            idle_cost: &self.idle_cost,
            window: closed.0.duration_since(opened.0),
            counters: closed
                .1
                .iter()
                .zip(&opened.1)
                .map(|(c, o)| c.since(*o))
                .collect(),
            warnings: &self.warnings,
        })
    }

    /// Forgets the previous case's targets and figures, so one load serves many cases.
    pub fn reset(&mut self) -> Result<()> {
        if let Err(e) = self
            .control
            .lock()
            .expect("not poisoned")
            .set(CONTROL_TGID, 0, 0)
        {
            self.note(format!("cannot clear the process prefilter: {e}"));
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("not poisoned"));
        {
            let mut targets = self.targets.lock().expect("not poisoned");
            let stale: Vec<u32> = targets.keys().filter_map(Result::ok).collect();
            for tid in stale {
                let _ = targets.remove(&tid);
            }
        }
        drop(tasks);
        collect::clear(&mut self.ebpf)?;
        *self.window.lock().expect("not poisoned") = Window::default();
        Ok(())
    }
}

fn attach_kfunc(ebpf: &mut Ebpf, btf: &Btf, name: &str) -> Result<Vec<(String, OwnedFd)>> {
    let entry: &mut FEntry = ebpf
        .program_mut("kfunc_entry")
        .context("kfunc_entry missing")?
        .try_into()?;
    entry
        .load(name, btf)
        .map_err(|e| anyhow::Error::new(e).context(format!("loading fentry on {name}")))?;
    entry.attach()?;
    let exit: &mut FExit = ebpf
        .program_mut("kfunc_exit")
        .context("kfunc_exit missing")?
        .try_into()?;
    exit.load(name, btf)
        .map_err(|e| anyhow::Error::new(e).context(format!("loading fexit on {name}")))?;
    exit.attach()?;
    Ok(vec![
        (
            "kfunc_entry".into(),
            prog_fd(ebpf.program("kfunc_entry").expect("loaded"))?,
        ),
        (
            "kfunc_exit".into(),
            prog_fd(ebpf.program("kfunc_exit").expect("loaded"))?,
        ),
    ])
}

impl Observer for Probes {
    fn task_started(&self, task: &TaskInfo) {
        let info = Target::new(task.index);
        if let Err(e) = self
            .targets
            .lock()
            .expect("not poisoned")
            .insert(task.tid, info, 0)
        {
            // The task still runs; its figures will be missing, and the report says so.
            self.note(format!(
                "cannot follow task {} ({}): {e}",
                task.tid, task.role
            ));
            return;
        }
        let mut tasks = self.tasks.lock().expect("not poisoned");
        tasks.push(task.clone());
        // The process prefilter: one thread group while every target shares it.
        let tgids: Vec<u32> = tasks.iter().map(|t| thread_group(t.tid)).collect();
        let prefilter = if tgids.iter().all(|&g| g == tgids[0]) {
            tgids[0]
        } else {
            0
        };
        drop(tasks);
        if let Err(e) = self
            .control
            .lock()
            .expect("not poisoned")
            .set(CONTROL_TGID, prefilter, 0)
        {
            self.note(format!("cannot set the process prefilter: {e}"));
        }
    }

    fn measuring(&self, on: bool) {
        // Counters are read outside the window: before opening it, after closing it.
        if !on {
            if let Err(e) = set_control(&self.control, false) {
                self.note(e);
            }
        }
        let snapshot = (Instant::now(), self.counters());
        let mut w = self.window.lock().expect("not poisoned");
        if on {
            w.opened = Some(snapshot);
            w.closed = None;
        } else {
            w.closed = Some(snapshot);
        }
        drop(w);
        if on {
            if let Err(e) = set_control(&self.control, true) {
                self.note(e);
            }
        }
    }
}

/// The thread group (process id) of thread `tid`: ours when it is one of our threads,
/// else its own (a task a workload runs as a process is that process's first thread).
fn thread_group(tid: u32) -> u32 {
    if std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
        return std::process::id();
    }
    // A thread of another process (e.g. `evbench run http`'s server child): its
    // thread group is in /proc/TID/status; a tid is not its process's id in general.
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

fn set_control(control: &Mutex<Array<MapData, u32>>, on: bool) -> Result<(), String> {
    control
        .lock()
        .expect("not poisoned")
        .set(CONTROL_MEASURING, u32::from(on), 0)
        .map_err(|e| {
            format!(
                "cannot switch counting {}: {e}",
                if on { "on" } else { "off" }
            )
        })
}
