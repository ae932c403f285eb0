//! Probe loading, targets and collection: the user side of `bench-ebpf`.
//!
//! One [`Probes`] is loaded and attached before a workload creates its tasks. It is the
//! workload's [`Observer`]: each task's thread id goes into the kernel's target table as
//! the task starts, and the measured window flips one word of memory shared with the
//! programs (the memory-mapped `CONTROL` array), so nothing of the CLI's own threads,
//! the rest of the machine, set-up — or the act of opening the window, which is a
//! store, not a syscall — is ever counted.
//!
//! BPF run-time statistics stay off while measuring: they cost every BPF program on the
//! machine about 120 ns per run and never show in its `run_time_ns` (measured, issue 12).
//! They are turned on only by [`ProbeOptions::bpf_stats`], for a separate calibration
//! ([`calibrate`]).
//!
//! This module knows nothing of results or output: it returns the plain data types of
//! [`collect`] and strings.
pub mod btf;
pub mod collect;
pub mod kallsyms;
pub mod privileges;
pub mod progstats;
pub mod select;
pub mod set;

use std::{
    os::fd::{AsFd, OwnedFd},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use aya::{
    maps::{Array, HashMap, Map, MapData},
    programs::{tp_btf::BtfTracePointLinkId, BtfTracePoint, FEntry, FExit, Program},
    Btf, Ebpf, EbpfLoader,
};
use bench_common::{globals, Target, CONTROL_GEN, CONTROL_MEASURING, TARGET_SLOTS};
use workloads::{Observer, TaskInfo, WindowSwitch};

pub use collect::{Kernel, ProgramRate};
pub use set::{ProbeSet, ProbeSets};

use crate::errors::{chain, errno};
use progstats::ProgCounters;

/// The kernel programs, built by `cargo xtask build` and embedded at compile time.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(env!("EVBENCH_EBPF_OBJ_PATH"));

/// BTF tracepoints each probe set attaches (the program has the tracepoint's name, or
/// `nop_` and the name for the `nop` set).
pub fn tracepoints(set: ProbeSet) -> &'static [&'static str] {
    match set {
        ProbeSet::Wakeup => &["sched_waking", "sched_switch"],
        ProbeSet::Offcpu => &["sched_switch"],
        ProbeSet::Syscalls => &["sys_enter", "sys_exit", "sched_switch"],
        ProbeSet::Wakestacks => &["sched_waking"],
        ProbeSet::Kfunc => &[],
        ProbeSet::Nop => &[
            "sched_switch",
            "sched_waking",
            "sys_enter",
            "sys_exit",
            "sched_process_fork",
        ],
    }
}

/// Attached whenever any probe set but `nop` is: children of targets become targets.
pub const ALWAYS: &[&str] = &["sched_process_fork"];

/// `--syscall-sample`'s default: time 1 syscall in 8 per (thread, syscall number).
/// Counts stay exact; see `cargo xtask bench overhead` (results/bench-overhead.md) for
/// what N = 1 costs beside it on this machine.
pub const DEFAULT_SYSCALL_SAMPLE: u32 = 8;

/// `/proc/sys/kernel/bpf_stats_enabled`: BPF run-time statistics for every program.
pub const BPF_STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// How probes are loaded.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Time 1 in N syscalls per (thread, syscall number) (`--syscall-sample N`, N ≥ 1);
    /// counts stay exact and the sampled count is reported beside them.
    pub syscall_sample: u32,
    /// Turn BPF run-time statistics on while loaded: for [`calibrate`] only, never while
    /// measuring (they slow every BPF program on the machine).
    pub bpf_stats: bool,
    /// Hidden test hook: `(map name, max_entries)` overrides (aya's
    /// `EbpfLoader::set_max_entries`), to show what a full map does. `SLOTS` must stay a
    /// power of two.
    pub max_entries: Vec<(String, u32)>,
    /// Tasks the kernel programs make targets by themselves (`trace --cgroup`,
    /// `--comm`); default none, and then their code is pruned by the verifier.
    pub adopt: select::Adopt,
}

/// Hidden hook: overrides the default `syscall_sample` until the CLI's
/// `--syscall-sample` reaches `ProbeOptions` (used by `cargo xtask bench overhead`).
pub const SYSCALL_SAMPLE_ENV: &str = "EVBENCH_SYSCALL_SAMPLE";

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            syscall_sample: std::env::var(SYSCALL_SAMPLE_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_SYSCALL_SAMPLE),
            bpf_stats: false,
            max_entries: Vec::new(),
            adopt: select::Adopt::default(),
        }
    }
}

/// Whether BPF run-time statistics are on system-wide (set by another tool, e.g.
/// `sysctl kernel.bpf_stats_enabled=1` or bpftool): `None` when unreadable.
pub fn bpf_stats_system_wide() -> Option<bool> {
    std::fs::read_to_string(BPF_STATS_SYSCTL)
        .ok()
        .map(|s| s.trim() != "0")
}

/// The warning every run prints while BPF statistics are on system-wide, if they are.
pub fn bpf_stats_warning() -> Option<String> {
    (bpf_stats_system_wide() == Some(true)).then(|| {
        "BPF run-time statistics are on system-wide (kernel.bpf_stats_enabled=1, set by another tool): every BPF program on this machine, ours included, runs about 120 ns slower, so probed figures and the probe slowdown are inflated".to_string()
    })
}

/// The window's switch and the target generation, in the memory-mapped `CONTROL` array.
struct Control {
    ptr: *mut u64,
    len: usize,
    /// Keeps the map's fd open.
    _map: Map,
}

// SAFETY: the mapping is only accessed through atomics.
unsafe impl Send for Control {}
// SAFETY: as above.
unsafe impl Sync for Control {}

impl Control {
    fn map(map: Map) -> Result<Self> {
        let Map::Array(data) = &map else {
            bail!("map CONTROL is not an array");
        };
        let fd = data.fd().as_fd();
        // SAFETY: sysconf has no preconditions.
        let len = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: a fresh shared mapping of a BPF_F_MMAPABLE array of at least
        // CONTROL_SLOTS u64 values; the kernel rounds the map up to whole pages.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .context("cannot map the CONTROL array (BPF_F_MMAPABLE)");
        }
        Ok(Self {
            ptr: ptr.cast(),
            len,
            _map: map,
        })
    }

    fn word(&self, i: u32) -> &AtomicU64 {
        // SAFETY: i < CONTROL_SLOTS, inside the mapping; u64 values at an 8-byte stride.
        unsafe { &*(self.ptr.add(i as usize) as *const AtomicU64) }
    }

    fn set_measuring(&self, on: bool) {
        self.word(CONTROL_MEASURING)
            .store(u64::from(on), Ordering::SeqCst);
    }

    /// Makes every CPU recompute its cached "current task is a target" answer.
    fn bump_gen(&self) {
        self.word(CONTROL_GEN).fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once. Forked children keep their own copy.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Collects the kernel programs' aya-log records as text ("WARN sys_exit: tid 123: …").
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<String>>>);

impl log::Log for Collector {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if let Ok(mut v) = self.0.lock() {
            // The kernel rate-limits per reason and CPU; this bounds a flood anyway.
            if v.len() < 1000 {
                v.push(format!("{} {}", record.level(), record.args()));
            }
        }
    }
    fn flush(&self) {}
}

/// Loaded and attached probes. Dropping it detaches and unloads everything.
pub struct Probes {
    sets: ProbeSets,
    kfunc: Option<String>,
    syscall_sample: u32,
    /// Keeps the programs and their links alive.
    ebpf: Ebpf,
    /// BPF run-time statistics stay on while this fd is open (calibration only).
    stats: Option<OwnedFd>,
    /// Attached programs: (name, fd for bpf_prog_info).
    programs: Vec<(String, OwnedFd)>,
    /// Each program's counters when loaded (for `program_rates`).
    at_load: Vec<ProgCounters>,
    control: Control,
    slot_mask: u32,
    slots: Mutex<Array<MapData, Target>>,
    overflow: Mutex<Array<MapData, u32>>,
    targets: Mutex<HashMap<MapData, u32, Target>>,
    tasks: Mutex<Vec<TaskInfo>>,
    window: Mutex<Window>,
    /// The workload flips the window itself (`Observer::delegate_window`).
    delegated: AtomicBool,
    /// Figures list every target the maps hold ([`Probes::list_followed`]).
    followed: AtomicBool,
    /// Roles of targets the kernel found by itself, by label ([`Probes::label_roles`]).
    roles: Mutex<Vec<(u32, &'static str)>>,
    /// Why interrupt context cannot be told apart in who-woke-whom (`None`: it is).
    irq_limit: Option<String>,
    warnings: Vec<String>,
    /// The tracepoint programs' links while attached (a probed pass); empty while
    /// detached, so a clean pass runs with no evbench program on any tracepoint.
    links: Vec<(String, BtfTracePointLinkId)>,
    /// Problems met while following tasks (one line each), reported with the figures.
    notes: Mutex<Vec<String>>,
    logger: Mutex<Option<aya_log::EbpfLogger<Collector>>>,
    messages: Collector,
}

/// Program counters at the edges of the measured window.
#[derive(Default)]
struct Window {
    opened: Option<(Instant, Vec<ProgCounters>)>,
    closed: Option<(Instant, Vec<ProgCounters>)>,
}

/// Loads the object with the kernel-specific globals filled in (no programs loaded yet).
pub(crate) fn open_object(enabled: u32) -> Result<Ebpf> {
    open_with(enabled, &ProbeOptions::default()).map(|(e, _)| e)
}

/// Loads the object; returns it and the `SLOTS` mask.
fn open_with(enabled: u32, opts: &ProbeOptions) -> Result<(Ebpf, u32)> {
    let kbtf = btf::KernelBtf::from_sys_fs()?;
    let pid_off = kbtf.member_offset("task_struct", "pid")?;
    let tgid_off = kbtf.member_offset("task_struct", "tgid")?;
    if opts.syscall_sample == 0 {
        bail!("--syscall-sample must be at least 1 (1: every syscall is timed)");
    }
    let slots = opts
        .max_entries
        .iter()
        .find(|(n, _)| n == "SLOTS")
        .map_or(TARGET_SLOTS, |(_, s)| *s);
    if !slots.is_power_of_two() {
        bail!("SLOTS must have a power-of-two size, not {slots}");
    }
    let mask = slots - 1;
    let mut loader = EbpfLoader::new();
    loader
        .override_global(globals::TASK_PID_OFFSET, &pid_off, true)
        .override_global(globals::ENABLED, &enabled, true)
        .override_global(globals::SLOT_MASK, &mask, true)
        .override_global(globals::SYSCALL_SAMPLE, &opts.syscall_sample, true);
    let a = &opts.adopt;
    let (cg_id, cg_level, cg_label) = a
        .cgroup
        .as_ref()
        .map_or((0, 0, 0), |(c, l)| (c.id, c.level, *l));
    let (comm, comm_label) = a.comm.map_or(([0u8; 16], 0), |(c, l)| (c, l));
    let comm_words = [
        u64::from_ne_bytes(comm[..8].try_into().expect("8 bytes")),
        u64::from_ne_bytes(comm[8..].try_into().expect("8 bytes")),
    ];
    let self_tgid = std::process::id();
    let bits = a.bits();
    let runtime_off = kbtf.member_offset("task_struct", "se")?
        + kbtf.member_offset("sched_entity", "sum_exec_runtime")?;
    let irq = irq_offsets(&kbtf);
    let (irq_on, irq) = match irq {
        Ok(o) => (1u32, o),
        Err(_) => (0, IrqOffsets::default()),
    };
    loader
        .override_global(globals::TASK_TGID_OFFSET, &tgid_off, true)
        .override_global(globals::SELF_TGID, &self_tgid, true)
        .override_global(globals::ADOPT, &bits, true)
        .override_global(globals::ADOPT_CGROUP_ID, &cg_id, true)
        .override_global(globals::ADOPT_CGROUP_LEVEL, &cg_level, true)
        .override_global(globals::ADOPT_CGROUP_LABEL, &cg_label, true)
        .override_global(globals::ADOPT_COMM, &comm_words, true)
        .override_global(globals::ADOPT_COMM_LABEL, &comm_label, true)
        .override_global(globals::TASK_RUNTIME_OFFSET, &runtime_off, true)
        .override_global(globals::IRQ_DETECT, &irq_on, true)
        .override_global(globals::TASK_CFS_RQ_OFFSET, &irq.task_cfs_rq, true)
        .override_global(globals::CFS_RQ_RQ_OFFSET, &irq.cfs_rq_rq, true)
        .override_global(globals::RQ_CPU_OFFSET, &irq.rq_cpu, true)
        .override_global(globals::PREEMPT_FROM_RQ, &irq.preempt_from_rq, true);
    for (name, size) in &opts.max_entries {
        loader.map_max_entries(name, *size);
    }
    let ebpf = loader
        .load(OBJECT)
        .map_err(|e| anyhow!("{}", chain(&e)))
        .context("cannot create the BPF maps")?;
    Ok((ebpf, mask))
}

/// What the kernel programs need to tell interrupt context apart (bench-ebpf `irq.rs`).
#[derive(Default)]
struct IrqOffsets {
    task_cfs_rq: u32,
    cfs_rq_rq: u32,
    rq_cpu: u32,
    /// `__preempt_count`'s section offset minus `runqueues`'s (two's complement).
    preempt_from_rq: u64,
}

/// The offsets of [`IrqOffsets`] from the kernel's BTF. Errors: a kernel without
/// `CONFIG_FAIR_GROUP_SCHED` (no `cfs_rq.rq`), or without a per-CPU `__preempt_count`
/// (not x86); who-woke-whom then credits the interrupted task, and says so
/// (`Kernel::irq_limit`).
fn irq_offsets(kbtf: &btf::KernelBtf) -> Result<IrqOffsets> {
    let off = kbtf.percpu_offsets(&["__preempt_count", "runqueues"])?;
    Ok(IrqOffsets {
        task_cfs_rq: kbtf.member_offset("task_struct", "se")?
            + kbtf.member_offset("sched_entity", "cfs_rq")?,
        cfs_rq_rq: kbtf.member_offset("cfs_rq", "rq")?,
        rq_cpu: kbtf.member_offset("rq", "cpu")?,
        preempt_from_rq: u64::from(off[0]).wrapping_sub(u64::from(off[1])),
    })
}

fn prog_fd(prog: &Program) -> Result<OwnedFd> {
    Ok(prog.fd()?.as_fd().try_clone_to_owned()?)
}

/// The program attached to tracepoint `tp` for `sets`.
fn program_name(sets: ProbeSets, tp: &str) -> String {
    if sets.contains(ProbeSet::Nop) {
        format!("nop_{tp}")
    } else {
        tp.to_string()
    }
}

impl Probes {
    /// Loads and attaches the programs of `sets` (`kfunc`: the function `--kfunc`
    /// names) with the default [`ProbeOptions`]. Counting stays off until a workload
    /// opens its measured window.
    pub fn load(sets: ProbeSets, kfunc: Option<&str>) -> Result<Self> {
        Self::load_with(sets, kfunc, &ProbeOptions::default())
    }

    /// As [`Probes::load`], with `opts`. Errors: no set, `kfunc` without a function or
    /// with one this kernel lacks, `nop` with another set, a bad option, or the kernel
    /// refusing a map or program (the message names it).
    pub fn load_with(sets: ProbeSets, kfunc: Option<&str>, opts: &ProbeOptions) -> Result<Self> {
        if sets.is_empty() {
            bail!("no probe set to load");
        }
        if sets.contains(ProbeSet::Nop) && sets != ProbeSets::NONE.with(ProbeSet::Nop) {
            bail!("the nop probe set stands alone: it cannot be combined with other sets");
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
        let (mut ebpf, slot_mask) = open_with(sets.kernel_bits(), opts)?;
        // Set as `open_with` set IRQ_DETECT.
        let irq_limit = irq_offsets(&kbtf).err().map(|e| format!("{e:#}"));
        let btf = Btf::from_sys_fs().context("cannot read the kernel's BTF")?;
        let mut warnings = Vec::new();
        let stats = if opts.bpf_stats {
            let s = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
            if s.is_none() {
                warnings.push(
                    "BPF run-time statistics are unavailable: no calibration figures".to_string(),
                );
            }
            s
        } else {
            None
        };
        if let Some(w) = bpf_stats_warning() {
            warnings.push(w);
        }
        let take = |ebpf: &mut Ebpf, name: &str| {
            ebpf.take_map(name)
                .with_context(|| format!("map {name} is missing from the eBPF object"))
        };
        let control = Control::map(take(&mut ebpf, "CONTROL")?)?;
        control.set_measuring(false);
        // Generation 0 is what every CPU's cache starts with: start above it.
        control.bump_gen();
        let messages = Collector::default();
        let logger = match aya_log::EbpfLogger::init_with_logger(&mut ebpf, messages.clone()) {
            Ok(l) => Some(l),
            Err(e) => {
                warnings.push(format!(
                    "kernel-side messages are unavailable (aya-log: {e}); rare events are still counted"
                ));
                None
            }
        };
        let mut names: Vec<&str> = sets
            .iter()
            .flat_map(|s| tracepoints(s).iter().copied())
            .collect();
        if !sets.contains(ProbeSet::Nop) {
            names.extend_from_slice(ALWAYS);
            if opts.adopt.bits() != 0 {
                // A task's stint check may happen at its switch-out alone.
                names.push("sched_switch");
            }
            if opts.adopt.comm.is_some() {
                names.push("sched_process_exec");
                if kbtf.has_type_named("btf_trace_task_rename") {
                    names.push("task_rename");
                } else {
                    warnings.push("--comm: this kernel has no task_rename tracepoint: processes renamed (prctl PR_SET_NAME, /proc/PID/comm) after the session began are not seen; those that exec are".into());
                }
            }
        }
        let mut seen = Vec::new();
        let mut programs = Vec::new();
        let mut links = Vec::new();
        for tp in names {
            if seen.contains(&tp) {
                continue;
            }
            seen.push(tp);
            let name = program_name(sets, tp);
            let prog: &mut BtfTracePoint = ebpf
                .program_mut(&name)
                .with_context(|| format!("program {name} is missing from the eBPF object"))?
                .try_into()?;
            let loaded = prog
                .load(tp, &btf)
                .map_err(|e| anyhow!("cannot load the {name} program: {}", chain(&e)))
                // Attached here (loading proves it works); a run engine detaches them
                // between its probed passes (`detach` / `attach`).
                .and_then(|()| {
                    prog.attach()
                        .map_err(|e| anyhow!("cannot attach to tracepoint {tp}: {}", chain(&e)))
                });
            let link = match loaded {
                Ok(l) => l,
                // Renames are an extra way in for --comm, not the session's core.
                Err(e) if tp == "task_rename" => {
                    warnings.push(format!("--comm: processes renamed (prctl PR_SET_NAME, /proc/PID/comm) after the session began are not seen: {e:#}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            links.push((name.clone(), link));
            programs.push((
                name.clone(),
                prog_fd(ebpf.program(&name).expect("just loaded"))?,
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
                    warnings.push(format!("kfunc {name}: not permitted by this kernel (fentry/fexit are refused with EPERM); going on without it"));
                }
                Err(e) => return Err(e),
            }
        }
        let slots = Array::try_from(take(&mut ebpf, "SLOTS")?)?;
        let overflow = Array::try_from(take(&mut ebpf, "OVERFLOW")?)?;
        let targets = HashMap::try_from(take(&mut ebpf, "TARGETS")?)?;
        let mut probes = Self {
            sets: if kfunc_loaded.is_some() {
                sets
            } else {
                sets.without(ProbeSet::Kfunc)
            },
            kfunc: kfunc_loaded,
            syscall_sample: opts.syscall_sample,
            ebpf,
            stats,
            programs,
            at_load: Vec::new(),
            control,
            slot_mask,
            slots: Mutex::new(slots),
            overflow: Mutex::new(overflow),
            targets: Mutex::new(targets),
            tasks: Mutex::new(Vec::new()),
            window: Mutex::new(Window::default()),
            delegated: AtomicBool::new(false),
            followed: AtomicBool::new(false),
            roles: Mutex::new(Vec::new()),
            irq_limit,
            warnings,
            links,
            notes: Mutex::new(Vec::new()),
            logger: Mutex::new(logger),
            messages,
        };
        probes.at_load = probes.counters();
        Ok(probes)
    }

    /// Attaches every tracepoint program (a probed pass begins). Idempotent.
    pub fn attach(&mut self) -> Result<()> {
        if !self.links.is_empty() {
            return Ok(());
        }
        for (name, _) in &self.programs {
            let Some(prog) = self.ebpf.program_mut(name) else {
                continue;
            };
            // Only the tracepoint programs are attached per pass; kfunc's fentry/fexit
            // (refused by this kernel) stay as loaded.
            let Ok(prog) = <&mut BtfTracePoint>::try_from(prog) else {
                continue;
            };
            let link = prog
                .attach()
                .map_err(|e| anyhow!("cannot attach {name}: {}", chain(&e)))?;
            self.links.push((name.clone(), link));
        }
        Ok(())
    }

    /// Detaches every tracepoint program (a probed pass ended; a clean pass follows).
    /// The programs stay loaded and their maps keep what they counted.
    pub fn detach(&mut self) -> Result<()> {
        for (name, link) in std::mem::take(&mut self.links) {
            let prog: &mut BtfTracePoint = self
                .ebpf
                .program_mut(&name)
                .with_context(|| format!("program {name} is missing"))?
                .try_into()?;
            prog.detach(link)
                .map_err(|e| anyhow!("cannot detach {name}: {}", chain(&e)))?;
        }
        Ok(())
    }

    /// Problems met while following tasks (one line each) since the last reset; they
    /// are also in the next `collect`'s warnings.
    pub fn take_notes(&self) -> Vec<String> {
        self.notes.lock().expect("not poisoned").clone()
    }

    /// Whether the tracepoint programs are attached now.
    pub fn attached(&self) -> bool {
        !self.links.is_empty()
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

    /// Time 1 syscall in this many per (thread, syscall number).
    pub fn syscall_sample(&self) -> u32 {
        self.syscall_sample
    }

    /// Warnings gathered while loading (shown once in every report).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The tasks registered so far.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        self.tasks.lock().expect("not poisoned").clone()
    }

    /// Messages the kernel programs logged (aya-log) since the last call, one line each
    /// ("WARN sched_process_fork: tid 12: target table full: …"): rare events, with the
    /// program, the thread and the reason, at most `bench_common::LOG_BUDGET` per reason
    /// and CPU between resets. Meant for `-v`; the events are also counted in
    /// `Kernel::rare_events` whether logged or not.
    pub fn take_messages(&self) -> Vec<String> {
        if let Some(l) = self.logger.lock().expect("not poisoned").as_mut() {
            l.flush();
        }
        std::mem::take(&mut *self.messages.0.lock().expect("not poisoned"))
    }

    /// Every thread id that per-thread figures were recorded under (syscall counts,
    /// wakeups). Only targets pass the filter, so anything else here means it leaked.
    pub fn counted_tids(&self) -> Result<Vec<u32>> {
        let k = self.read(Duration::ZERO, Vec::new())?;
        let mut tids: Vec<u32> = k
            .syscalls
            .iter()
            .flat_map(|s| s.per_thread.iter().map(|p| p.0))
            .chain(k.woke.iter().map(|w| w.wakee_tid))
            .collect();
        tids.sort_unstable();
        tids.dedup();
        Ok(tids)
    }

    /// Every target the kernel has now, registered or adopted: (tid, label).
    pub fn target_labels(&self) -> Result<Vec<(u32, u32)>> {
        let slots = self.slots.lock().expect("not poisoned");
        let targets = self.targets.lock().expect("not poisoned");
        Ok(collect::all_targets(&slots, &targets)?
            .iter()
            .map(|t| (t.tid, t.label))
            .collect())
    }

    /// Makes every later read list in `Kernel::threads` each target the kernel's maps
    /// hold, with its command name — also the children and threads the kernel followed
    /// on its own (`sched_process_fork`), which no workload registered (role "child").
    /// For `evbench trace`, whose targets' children are nobody's tasks.
    pub fn list_followed(&self, on: bool) {
        self.followed.store(on, Ordering::SeqCst);
    }

    /// The role of each target the kernel found by itself and nobody registered, by
    /// its label: (label, role), e.g. the tasks `trace --cgroup` / `--comm` adopt and
    /// their children are "cgroup" / "comm". Labels not named here: "child".
    pub fn label_roles(&self, roles: Vec<(u32, &'static str)>) {
        *self.roles.lock().expect("not poisoned") = roles;
    }

    /// Reads the cumulative figures since the measured window opened *while counting
    /// goes on*: nothing is paused, so no event is lost between two reads, and the
    /// figures of a stretch of time are the difference of two reads. Each per-CPU map
    /// is read one CPU after another, so a read is not one instant: an event that ends
    /// during the read may be in it or in the next one (never in both, never in none),
    /// except who-woke-whom, where a pair the kernel moves from its per-CPU cache to the
    /// hash during the read can be missed by that read alone (the next one has it).
    /// Program costs (`Kernel::programs`) are since the window opened. Kernel messages
    /// stay for [`Probes::collect`]. Errors: the window was never opened, or a map
    /// cannot be read.
    pub fn snapshot(&self) -> Result<Kernel> {
        let opened = {
            let w = self.window.lock().expect("not poisoned");
            match &w.opened {
                Some((at, counters)) => (*at, counters.clone()),
                None => bail!("the measured window was never opened"),
            }
        };
        let counters = self
            .counters()
            .iter()
            .zip(&opened.1)
            .map(|(c, o)| c.since(*o))
            .collect();
        self.read(opened.0.elapsed(), counters)
    }

    /// Reads everything the probes saw in the last measured window (and the kernel
    /// programs' messages since the last read, in `Kernel::messages`).
    pub fn collect(&self) -> Result<Kernel> {
        let (window, counters) = {
            let w = self.window.lock().expect("not poisoned");
            let (opened, closed) = match (&w.opened, &w.closed) {
                (Some(o), Some(c)) => (o, c),
                _ => bail!("the workload never opened and closed its measured window"),
            };
            (
                closed.0.duration_since(opened.0),
                closed
                    .1
                    .iter()
                    .zip(&opened.1)
                    .map(|(c, o)| c.since(*o))
                    .collect(),
            )
        };
        let mut k = self.read(window, counters)?;
        k.messages = self.take_messages();
        Ok(k)
    }

    fn read(&self, window: Duration, counters: Vec<ProgCounters>) -> Result<Kernel> {
        let names: Vec<&str> = self.programs.iter().map(|(n, _)| n.as_str()).collect();
        let mut warnings = self.warnings.clone();
        warnings.extend(self.notes.lock().expect("not poisoned").iter().cloned());
        collect::collect(&collect::Sources {
            ebpf: &self.ebpf,
            slots: &self.slots.lock().expect("not poisoned"),
            targets: &self.targets.lock().expect("not poisoned"),
            sets: self.sets,
            kfunc: self.kfunc.as_deref(),
            syscall_sample: self.syscall_sample,
            bpf_stats: self.stats.is_some() || bpf_stats_system_wide() == Some(true),
            tasks: &self.tasks(),
            programs: &names,
            window,
            counters,
            warnings: &warnings,
            followed: self.followed.load(Ordering::SeqCst),
            roles: &self.roles.lock().expect("not poisoned"),
            irq_limit: self.irq_limit.as_deref(),
        })
    }

    /// Each program's runs and ns per run since it was loaded, from BPF run-time
    /// statistics: meaningful only when loaded with `ProbeOptions::bpf_stats` (see
    /// [`calibrate`]); empty figures otherwise.
    pub fn program_rates(&self) -> Vec<ProgramRate> {
        self.programs
            .iter()
            .zip(self.counters().iter().zip(&self.at_load))
            .map(|((name, _), (now, then))| {
                let d = now.since(*then);
                ProgramRate {
                    program: name.clone(),
                    runs: d.run_cnt,
                    ns_per_run: (d.run_cnt > 0).then(|| d.run_time_ns as f64 / d.run_cnt as f64),
                }
            })
            .collect()
    }

    /// Forgets the previous case's targets and figures, so one load serves many cases.
    pub fn reset(&mut self) -> Result<()> {
        self.control.set_measuring(false);
        // A delegation whose window never closed (a failed run) ends here too.
        self.delegated.store(false, Ordering::SeqCst);
        self.tasks.lock().expect("not poisoned").clear();
        self.notes.lock().expect("not poisoned").clear();
        let nrs = {
            let slots = self.slots.get_mut().expect("not poisoned");
            let targets = self.targets.get_mut().expect("not poisoned");
            let nrs = collect::used_syscalls(&self.ebpf, slots, targets)?;
            let zero = Target::default();
            for i in 0..slots.len() {
                if slots.get(&i, 0).map(|t| t != zero).unwrap_or(false) {
                    slots.set(i, zero, 0)?;
                }
            }
            let stale: Vec<u32> = targets.keys().filter_map(Result::ok).collect();
            for tid in stale {
                let _ = targets.remove(&tid);
            }
            nrs
        };
        {
            let overflow = self.overflow.get_mut().expect("not poisoned");
            for i in 0..overflow.len() {
                if overflow.get(&i, 0).unwrap_or(0) != 0 {
                    overflow.set(i, 0, 0)?;
                }
            }
        }
        collect::clear(&mut self.ebpf, &nrs)?;
        self.control.bump_gen();
        // Drop what the kernel logged about the previous case.
        let _ = self.take_messages();
        *self.window.lock().expect("not poisoned") = Window::default();
        Ok(())
    }

    fn follow(&self, task: &TaskInfo) -> Result<()> {
        let info = Target::new(task.tid, task.index);
        let idx = task.tid & self.slot_mask;
        let mut slots = self.slots.lock().expect("not poisoned");
        let tag = slots.get(&idx, 0).map(|t| t.tid).unwrap_or(0);
        if tag == 0 || tag == task.tid {
            slots.set(idx, info, 0)?;
        } else {
            // The slot belongs to another target: the hash, and a mark on the slot so
            // the programs look there.
            self.targets
                .lock()
                .expect("not poisoned")
                .insert(task.tid, info, 0)?;
            self.overflow.lock().expect("not poisoned").set(idx, 1, 0)?;
        }
        Ok(())
    }
}

/// What each program costs per run, measured with BPF run-time statistics on (which
/// add about 120 ns to every BPF program's run on this machine and are never part of
/// `run_time_ns`): loads `sets` with statistics on, lets `run` drive a workload with the
/// probes as its observer, and returns ns per run per program. For `evbench doctor
/// --calibrate`; never part of a measured run.
pub fn calibrate(
    sets: ProbeSets,
    opts: &ProbeOptions,
    run: &mut dyn FnMut(&Probes) -> Result<()>,
) -> Result<Vec<ProgramRate>> {
    let opts = ProbeOptions {
        bpf_stats: true,
        ..opts.clone()
    };
    let probes = Probes::load_with(sets, None, &opts)?;
    if probes.stats.is_none() {
        bail!("BPF run-time statistics cannot be turned on here: no calibration");
    }
    run(&probes)?;
    Ok(probes.program_rates())
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
        if let Err(e) = self.follow(task) {
            // The task still runs; its figures will be missing, and the report says so.
            self.notes.lock().expect("not poisoned").push(format!(
                "cannot follow task {} ({}): {e}",
                task.tid, task.role
            ));
            return;
        }
        self.tasks.lock().expect("not poisoned").push(task.clone());
        self.control.bump_gen();
    }

    fn measuring(&self, on: bool) {
        // Our own work (reading the programs' counters: syscalls) happens before the
        // window opens and after it closes; the switch itself is a store.
        if !on {
            self.control.set_measuring(false);
            self.delegated.store(false, Ordering::SeqCst);
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
        if on && !self.delegated.load(Ordering::SeqCst) {
            self.control.set_measuring(true);
        }
    }

    fn delegate_window(&self) -> Option<WindowSwitch> {
        self.delegated.store(true, Ordering::SeqCst);
        // SAFETY: the word lies in our MAP_SHARED mapping of CONTROL, which stays mapped
        // while `self` lives; a forked child keeps its inherited copy of the mapping.
        Some(unsafe { WindowSwitch::new(self.control.word(CONTROL_MEASURING)) })
    }
}
