//! Turns the kernel's maps into plain figures: per-CPU histogram rows merged into
//! `hdrhistogram::Histogram`s (lossless: the buckets are HdrHistogram's own — two
//! significant digits for the wakeup and off-CPU histograms, one for the per-syscall
//! ones), per-thread counts, who woke whom, symbolised wakeup stacks, rare events, and
//! what each program cost.
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use anyhow::{Context, Result};
use aya::{
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues, StackTraceMap},
    Ebpf,
};
use bench_common::{
    fixed, hist, metric, prog, rare, FixedRow, SysCount, SysRow, SyscallKey, Target, WokeCell,
    WokeKey, COMM_LEN, SYS_NRS, WAKER_HARDIRQ, WAKER_SOFTIRQ, WOKE_CACHE_CELLS,
};
use hdrhistogram::Histogram;
use serde::Serialize;
use workloads::TaskInfo;

use super::{kallsyms::Kallsyms, progstats::ProgCounters, ProbeSet, ProbeSets};

/// Percentiles of a kernel histogram (nanoseconds), for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct HistSummary {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl HistSummary {
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

/// A kernel histogram: the HDR histogram itself and its summary for reports.
#[derive(Clone, Debug, Serialize)]
pub struct KernelHist {
    #[serde(flatten)]
    pub summary: HistSummary,
    #[serde(skip)]
    pub hist: Histogram<u64>,
}

impl KernelHist {
    fn new(hist: Histogram<u64>) -> Self {
        Self {
            summary: HistSummary::of(&hist),
            hist,
        }
    }
}

/// One target thread's figures in the window.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadFigures {
    pub tid: u32,
    pub role: &'static str,
    /// Its command name (`evbench trace` only, [`Sources::followed`]): for a thread that
    /// exited, the name the kernel kept in `COMMS` at its last switch-out; for a live
    /// one `/proc/TID/comm`, else what `COMMS` holds (recorded at fork, adoption, exec,
    /// rename, or as a waker); empty only when neither has it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comm: String,
    pub voluntary: u64,
    pub involuntary: u64,
    pub oncpu_ns: u64,
    /// Times it was woken inside the window (sched_waking), when `wakeup` is on.
    pub wakeups: u64,
    /// Of those, the wakeups with no latency to record (bench-ebpf `wakeup.rs`: no
    /// switch-in followed them), kept out of the wakeup-latency histograms.
    pub wakeups_unpaired: u64,
    /// Syscalls it completed inside the window, when `syscalls` is on.
    pub syscalls: u64,
    /// Blocked intervals whose switch-in was never observed (see `ThreadSched::unpaired`).
    pub unpaired: u64,
    /// Its `se.sum_exec_runtime` (ns) at its last switch-out seen (`ThreadSched::runtime_ns`).
    #[serde(skip)]
    pub runtime_ns: u64,
    /// Its `se.sum_exec_runtime` when the kernel made it a target (`ThreadSched::base_ns`).
    #[serde(skip)]
    pub base_ns: u64,
    /// It switched out for the last time: it exited, `runtime_ns` is final.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exited: bool,
}

/// One syscall number's figures.
#[derive(Clone, Debug, Serialize)]
pub struct SyscallFigures {
    pub nr: u32,
    pub name: String,
    /// Calls that returned inside the window (exact).
    pub count: u64,
    /// Of those, the calls timed (1 in `Kernel::syscall_sample` per thread): the
    /// histograms' total.
    pub sampled: u64,
    /// Count per target thread: (tid, count).
    pub per_thread: Vec<(u32, u64)>,
    /// Latency of the sampled calls (1 significant digit: buckets 1/16 wide).
    pub latency_ns: KernelHist,
    /// The on-CPU part of each sampled call.
    pub oncpu_ns: KernelHist,
}

/// Who woke whom, and how often.
#[derive(Clone, Debug, Serialize)]
pub struct WokeFigures {
    /// The waking task's tid; for a pseudo-waker (a wakeup in interrupt context,
    /// bench-ebpf `irq.rs`) the kernel's sentinel `bench_common::WAKER_HARDIRQ` /
    /// `WAKER_SOFTIRQ`, which is no tid: written as `null` in JSON ([`Self::waker_kind`]
    /// says which).
    #[serde(serialize_with = "waker_tid_json")]
    pub waker_tid: u32,
    /// `"task"`, or `"irq"` / `"softirq"` for the pseudo-wakers ([`waker_kind`]).
    pub waker_kind: &'static str,
    /// The waker's command name (`[irq]` / `[softirq]` for the pseudo-wakers).
    pub waker_comm: String,
    /// The waker's role when it is itself a target (registered or followed by the
    /// kernel); none for any other task and for the pseudo-wakers.
    pub waker_role: Option<&'static str>,
    pub wakee_tid: u32,
    /// The wakee's command name, as in its [`ThreadFigures::comm`] (empty when the
    /// session does not name threads: `evbench run`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wakee_comm: String,
    pub wakee_role: &'static str,
    pub count: u64,
}

/// What kind of waker `tid` is: `"irq"` (hardirq/NMI), `"softirq"`, or `"task"`
/// (bench-ebpf `irq.rs` sentinels).
pub fn waker_kind(tid: u32) -> &'static str {
    match tid {
        WAKER_HARDIRQ => "irq",
        WAKER_SOFTIRQ => "softirq",
        _ => "task",
    }
}

/// `waker_tid` in JSON: the tid, or `null` for a pseudo-waker's sentinel.
fn waker_tid_json<S: serde::Serializer>(tid: &u32, s: S) -> Result<S::Ok, S::Error> {
    match waker_kind(*tid) {
        "task" => s.serialize_u32(*tid),
        _ => s.serialize_none(),
    }
}

/// One wakeup stack and how many wakeups took it.
#[derive(Clone, Debug, Serialize)]
pub struct StackFigures {
    pub count: u64,
    /// Innermost first ("function+0xoff").
    pub frames: Vec<String>,
}

/// What one program did during the window.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramCost {
    pub program: String,
    /// Runs in the window (all threads of the machine: the filter runs for each), from
    /// BPF run-time statistics: 0 when they are off (`Kernel::bpf_stats`).
    pub runs: u64,
    /// ns per run (BPF statistics on only).
    pub ns_per_run: Option<f64>,
    /// Runs that passed the target filter while measuring.
    pub target_runs: u64,
    /// Not estimated any more (BPF statistics stay off while measuring): always `None`;
    /// see `evbench doctor --calibrate` and the case's probe slowdown.
    pub ns_per_target_run: Option<f64>,
    /// Run time as a share of all CPUs' time in the window (0 with statistics off).
    pub cpu_share: f64,
    /// Runs the kernel skipped because a BPF program was already running on that CPU.
    pub recursion_misses: u64,
    /// Failed map updates and dropped samples in this program.
    pub drops: u64,
}

/// A program's cost per run from a calibration with BPF run-time statistics on.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProgramRate {
    pub program: String,
    pub runs: u64,
    pub ns_per_run: Option<f64>,
}

/// The stack walks of `wakestacks`, timed on their own inside `sched_waking`.
#[derive(Clone, Debug, Serialize)]
pub struct StackWalkCost {
    pub walks: u64,
    pub ns_per_walk: Option<f64>,
    pub drops: u64,
}

/// Everything the probes measured in one window.
#[derive(Clone, Debug, Serialize)]
pub struct Kernel {
    pub sets: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kfunc: Option<String>,
    pub window_ns: u64,
    /// 1 syscall in this many is timed per (thread, syscall number).
    pub syscall_sample: u32,
    /// Whether BPF run-time statistics were on (calibration, or set system-wide).
    pub bpf_stats: bool,
    pub threads: Vec<ThreadFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wakeup_same_cpu_ns: Option<KernelHist>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wakeup_cross_cpu_ns: Option<KernelHist>,
    /// Wakeups counted inside the window whose latency sample is not recorded yet (the
    /// wakee had not run again when the figures were read). Wakeups = samples +
    /// [`Kernel::wakeups_unpaired`] + this.
    pub wakeups_pending: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offcpu_ns: Option<KernelHist>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallFigures>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub woke: Vec<WokeFigures>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wake_stacks: Vec<StackFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_walks: Option<StackWalkCost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kfunc_ns: Option<KernelHist>,
    pub programs: Vec<ProgramCost>,
    /// Rare kernel-side events by reason (`map_update_failed`, `targets_full`,
    /// `unpaired`, `sample_dropped`), counted every time (`bench_common::rare`).
    pub rare_events: BTreeMap<&'static str, u64>,
    /// What the kernel programs logged about them (aya-log, rate-limited), one line each.
    pub messages: Vec<String>,
    pub warnings: Vec<String>,
    /// `None`: who-woke-whom credits wakeups done in interrupt context to the
    /// pseudo-wakers [`WAKER_HARDIRQ_NAME`] / [`WAKER_SOFTIRQ_NAME`]. Else why it cannot
    /// on this kernel, and then they are credited to the task the interrupt landed on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irq_limit: Option<String>,
}

/// Keys of `Kernel::rare_events`, by `bench_common::rare` index.
pub const RARE_KEYS: [&str; rare::COUNT as usize] = [
    "map_update_failed",
    "targets_full",
    "unpaired",
    "sample_dropped",
];

impl Kernel {
    pub fn voluntary(&self) -> u64 {
        self.threads.iter().map(|t| t.voluntary).sum()
    }
    pub fn involuntary(&self) -> u64 {
        self.threads.iter().map(|t| t.involuntary).sum()
    }
    pub fn wakeups(&self) -> u64 {
        self.threads.iter().map(|t| t.wakeups).sum()
    }
    /// Latency samples recorded for the wakeups (same- and cross-CPU histograms).
    pub fn wakeup_samples(&self) -> u64 {
        self.wakeup_same_cpu_ns
            .as_ref()
            .map_or(0, |h| h.summary.count)
            + self
                .wakeup_cross_cpu_ns
                .as_ref()
                .map_or(0, |h| h.summary.count)
    }
    pub fn syscall_count(&self) -> u64 {
        self.syscalls.iter().map(|s| s.count).sum()
    }
    pub fn unpaired(&self) -> u64 {
        self.threads.iter().map(|t| t.unpaired).sum()
    }
    /// Wakeups with no latency to record (none of them is in the histograms):
    /// wakeups = `wakeup_samples()` + this + `wakeups_pending`.
    pub fn wakeups_unpaired(&self) -> u64 {
        self.threads.iter().map(|t| t.wakeups_unpaired).sum()
    }
    pub fn recursion_misses(&self) -> u64 {
        self.programs.iter().map(|p| p.recursion_misses).sum()
    }
    /// Failed map updates and dropped samples, all programs.
    pub fn drops(&self) -> u64 {
        self.programs.iter().map(|p| p.drops).sum::<u64>()
            + self.stack_walks.as_ref().map_or(0, |s| s.drops)
    }
    /// Rare events of one kind (a `RARE_KEYS` name).
    pub fn rare(&self, key: &str) -> u64 {
        self.rare_events.get(key).copied().unwrap_or(0)
    }
    /// The syscall named `name`, if any target made it.
    pub fn syscall(&self, name: &str) -> Option<&SyscallFigures> {
        self.syscalls.iter().find(|s| s.name == name)
    }
}

/// What `collect` reads from.
pub struct Sources<'a> {
    pub ebpf: &'a Ebpf,
    pub slots: &'a Array<MapData, Target>,
    pub targets: &'a HashMap<MapData, u32, Target>,
    pub sets: ProbeSets,
    pub kfunc: Option<&'a str>,
    pub syscall_sample: u32,
    pub bpf_stats: bool,
    pub tasks: &'a [TaskInfo],
    pub programs: &'a [&'a str],
    pub window: Duration,
    pub counters: Vec<ProgCounters>,
    pub warnings: &'a [String],
    /// List every target the maps hold in `Kernel::threads` — also the children and
    /// threads the kernel's `sched_process_fork` program followed on its own, which user
    /// space never registered (role "child") — with each thread's command name.
    pub followed: bool,
    /// Roles of the targets the kernel found by itself, by label (`Target::label`):
    /// e.g. "cgroup" / "comm" for `trace --cgroup` / `--comm`; "child" for the others.
    pub roles: &'a [(u32, &'static str)],
    /// Why who-woke-whom cannot tell interrupt context apart here (`None`: it does).
    pub irq_limit: Option<&'a str>,
}

/// Pseudo-waker names (bench-ebpf `irq.rs`): a wakeup in hardirq/NMI context, and one
/// done while serving a softirq.
pub const WAKER_HARDIRQ_NAME: &str = "[irq]";
pub const WAKER_SOFTIRQ_NAME: &str = "[softirq]";

fn prog_index(name: &str) -> Option<u32> {
    Some(match name {
        "sched_switch" => prog::SCHED_SWITCH,
        "sched_waking" => prog::SCHED_WAKING,
        "sys_enter" => prog::SYS_ENTER,
        "sys_exit" => prog::SYS_EXIT,
        "sched_process_fork" => prog::SCHED_PROCESS_FORK,
        "kfunc_entry" => prog::KFUNC_ENTRY,
        "kfunc_exit" => prog::KFUNC_EXIT,
        "sched_process_exec" => prog::SCHED_PROCESS_EXEC,
        "task_rename" => prog::TASK_RENAME,
        _ => return None,
    })
}

fn map<'a>(ebpf: &'a Ebpf, name: &str) -> Result<&'a aya::maps::Map> {
    ebpf.map(name)
        .with_context(|| format!("map {name} is missing from the eBPF object"))
}

fn per_cpu_sum(values: &PerCpuValues<u64>) -> u64 {
    values.iter().sum()
}

fn per_cpu_array(ebpf: &Ebpf, name: &str, len: u32) -> Result<Vec<u64>> {
    let a: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map(ebpf, name)?)?;
    (0..len)
        .map(|i| {
            Ok(per_cpu_sum(
                &a.get(&i, 0)
                    .with_context(|| format!("cannot read {name}"))?,
            ))
        })
        .collect()
}

/// Every target entry: the slots in use and the hash.
pub(crate) fn all_targets(
    slots: &Array<MapData, Target>,
    targets: &HashMap<MapData, u32, Target>,
) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for t in slots.iter() {
        let t = t.context("cannot read the SLOTS map")?;
        if t.tid != 0 {
            out.push(t);
        }
    }
    for e in targets.iter() {
        out.push(e.context("cannot read the TARGETS map")?.1);
    }
    Ok(out)
}

/// Counts per (tid, nr): (count, sampled).
fn syscall_counts(ebpf: &Ebpf, all: &[Target]) -> Result<BTreeMap<(u32, u32), (u64, u64)>> {
    let mut out: BTreeMap<(u32, u32), (u64, u64)> = BTreeMap::new();
    for t in all {
        for c in &t.sys_counts {
            if c.nr_plus1 != 0 && c.count > 0 {
                let e = out.entry((t.tid, c.nr_plus1 - 1)).or_default();
                e.0 += c.count;
                e.1 += c.sampled;
            }
        }
    }
    let m: PerCpuHashMap<&MapData, SyscallKey, SysCount> =
        PerCpuHashMap::try_from(map(ebpf, "SYSCOUNT")?)?;
    for e in m.iter() {
        let (k, v) = e.context("cannot read the SYSCOUNT map")?;
        let e = out.entry((k.tid, k.nr)).or_default();
        for c in v.iter() {
            e.0 += c.count;
            e.1 += c.sampled;
        }
    }
    Ok(out)
}

/// The syscall numbers any target made in the window (whose histogram rows are in use).
pub fn used_syscalls(
    ebpf: &Ebpf,
    slots: &Array<MapData, Target>,
    targets: &HashMap<MapData, u32, Target>,
) -> Result<Vec<u32>> {
    let all = all_targets(slots, targets)?;
    let nrs: BTreeSet<u32> = syscall_counts(ebpf, &all)?.keys().map(|k| k.1).collect();
    Ok(nrs.into_iter().collect())
}

/// Merges the per-CPU rows of syscall `nr`'s histogram `m` (1 significant digit).
fn sys_histogram(ebpf: &Ebpf, nr: u32, m: u32) -> Result<Histogram<u64>> {
    let mut h = Histogram::new(1).expect("1 significant digit is valid");
    if nr >= SYS_NRS {
        return Ok(h);
    }
    let rows: PerCpuArray<&MapData, SysRow> = PerCpuArray::try_from(map(ebpf, "SYS_HIST")?)?;
    let per_cpu = rows
        .get(&(nr * metric::COUNT + m), 0)
        .context("cannot read SYS_HIST")?;
    for b in 0..hist::SYS_BUCKETS {
        let n: u64 = per_cpu.iter().map(|r| r[b as usize]).sum();
        if n > 0 {
            // The bucket's lowest value lands in the same HDR bucket: nothing is lost.
            h.record_n(hist::bucket_low_bits(b, hist::SYS_SUB_BITS), n)
                .context("recording a kernel histogram cell")?;
        }
    }
    Ok(h)
}

/// Merges the per-CPU rows of fixed histogram `slot` into one HDR histogram.
fn fixed_histogram(ebpf: &Ebpf, slot: u32) -> Result<Option<KernelHist>> {
    let rows: PerCpuArray<&MapData, FixedRow> = PerCpuArray::try_from(map(ebpf, "FIXED_HIST")?)?;
    let mut h = Histogram::new(2).expect("2 significant digits is valid");
    for r in 0..hist::ROWS {
        let per_cpu = rows
            .get(&(slot * hist::ROWS + r), 0)
            .context("cannot read FIXED_HIST")?;
        for i in 0..hist::ROW {
            let n: u64 = per_cpu.iter().map(|row| row[i as usize]).sum();
            if n > 0 {
                h.record_n(hist::bucket_low(r * hist::ROW + i), n)
                    .context("recording a kernel histogram cell")?;
            }
        }
    }
    Ok((!h.is_empty()).then(|| KernelHist::new(h)))
}

fn comm_str(c: &[u8; COMM_LEN]) -> String {
    let end = c.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    String::from_utf8_lossy(&c[..end]).into_owned()
}

/// (waker, wakee) → wakeups: the `WOKE` hash plus every CPU's `WOKE_CACHE` cells.
fn woke_pairs(ebpf: &Ebpf) -> Result<BTreeMap<(u32, u32), u64>> {
    let mut out: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let m: PerCpuHashMap<&MapData, WokeKey, u64> = PerCpuHashMap::try_from(map(ebpf, "WOKE")?)?;
    for e in m.iter() {
        let (k, v) = e.context("cannot read the WOKE map")?;
        *out.entry((k.waker_tid, k.wakee_tid)).or_default() += per_cpu_sum(&v);
    }
    let cache: PerCpuArray<&MapData, WokeCell> = PerCpuArray::try_from(map(ebpf, "WOKE_CACHE")?)?;
    for i in 0..WOKE_CACHE_CELLS {
        for c in cache.get(&i, 0).context("cannot read WOKE_CACHE")?.iter() {
            if c.count > 0 {
                *out.entry((c.waker_tid, c.wakee_tid)).or_default() += c.count;
            }
        }
    }
    out.retain(|_, n| *n > 0);
    Ok(out)
}

pub fn collect(src: &Sources<'_>) -> Result<Kernel> {
    let ebpf = src.ebpf;
    let sets = src.sets;
    let role_of = |tid: u32| src.tasks.iter().find(|t| t.tid == tid).map(|t| t.role);
    let all = all_targets(src.slots, src.targets)?;
    // A target nobody registered: the role its label stands for, else "child".
    let followed_role = |tid: u32| -> &'static str {
        all.iter()
            .find(|t| t.tid == tid)
            .and_then(|t| src.roles.iter().find(|r| r.0 == t.label))
            .map_or("child", |r| r.1)
    };

    // Who woke whom, and each target's wakeups.
    let mut woke = Vec::new();
    if sets.contains(ProbeSet::Wakeup) {
        let comms: HashMap<&MapData, u32, [u8; COMM_LEN]> = HashMap::try_from(map(ebpf, "COMMS")?)?;
        for ((waker, wakee), count) in woke_pairs(ebpf)? {
            let waker_comm = match waker {
                WAKER_HARDIRQ => WAKER_HARDIRQ_NAME.to_string(),
                WAKER_SOFTIRQ => WAKER_SOFTIRQ_NAME.to_string(),
                _ => comms
                    .get(&waker, 0)
                    .map(|c| comm_str(&c))
                    .unwrap_or_default(),
            };
            // A target waker that user space never registered (a thread or child the
            // kernel followed, a --cgroup / --comm adoptee) has the role of its label.
            let waker_role = role_of(waker).or_else(|| {
                all.iter()
                    .any(|t| t.tid == waker)
                    .then(|| followed_role(waker))
            });
            woke.push(WokeFigures {
                waker_tid: waker,
                waker_kind: waker_kind(waker),
                waker_comm,
                waker_role,
                wakee_tid: wakee,
                wakee_comm: String::new(),
                wakee_role: role_of(wakee).unwrap_or_else(|| followed_role(wakee)),
                count,
            });
        }
        woke.sort_by_key(|w| std::cmp::Reverse(w.count));
    }

    // Syscalls: exact counts per (thread, nr), sampled histograms per nr.
    let mut per_nr: BTreeMap<u32, Vec<(u32, u64, u64)>> = BTreeMap::new();
    if sets.contains(ProbeSet::Syscalls) {
        for ((tid, nr), (count, sampled)) in syscall_counts(ebpf, &all)? {
            per_nr.entry(nr).or_default().push((tid, count, sampled));
        }
    }
    let mut syscalls = Vec::new();
    for (nr, per_thread) in per_nr {
        syscalls.push(SyscallFigures {
            nr,
            name: syscalls::Sysno::new(nr as usize)
                .map_or_else(|| format!("syscall_{nr}"), |s| s.name().to_string()),
            count: per_thread.iter().map(|p| p.1).sum(),
            sampled: per_thread.iter().map(|p| p.2).sum(),
            per_thread: per_thread.iter().map(|p| (p.0, p.1)).collect(),
            latency_ns: KernelHist::new(sys_histogram(ebpf, nr, metric::SYSCALL)?),
            oncpu_ns: KernelHist::new(sys_histogram(ebpf, nr, metric::SYSCALL_ONCPU)?),
        });
    }
    syscalls.sort_by_key(|s| std::cmp::Reverse(s.count));

    // Per-thread figures, from each task's entry; with `followed`, then every other
    // target the kernel holds (children and threads it followed on its own), by tid.
    let comms: Option<HashMap<&MapData, u32, [u8; COMM_LEN]>> = if src.followed {
        HashMap::try_from(map(ebpf, "COMMS")?).ok()
    } else {
        None
    };
    let comm_of = |tid: u32, dead: bool| -> String {
        let Some(comms) = &comms else {
            return String::new();
        };
        // A thread that exited: the name the kernel kept at its last switch-out (its
        // tid may name another task in /proc by now). A live one: /proc, else what the
        // kernel kept (at fork, adoption, exec, rename, or as a waker).
        let kept = || comms.get(&tid, 0).map(|c| comm_str(&c));
        if dead {
            if let Ok(c) = kept() {
                return c;
            }
        }
        std::fs::read_to_string(format!("/proc/{tid}/comm"))
            .map(|s| s.trim_end().to_string())
            .or_else(|_| kept())
            .unwrap_or_default()
    };
    let figures = |tid: u32, role: &'static str| {
        let t = all
            .iter()
            .find(|t| t.tid == tid)
            .copied()
            .unwrap_or_default();
        ThreadFigures {
            tid,
            role,
            comm: comm_of(tid, t.sched.dead != 0),
            voluntary: t.sched.voluntary,
            involuntary: t.sched.involuntary,
            oncpu_ns: t.sched.oncpu_ns,
            unpaired: t.sched.unpaired,
            wakeups_unpaired: t.waking.unpaired,
            runtime_ns: t.sched.runtime_ns,
            base_ns: t.sched.base_ns,
            exited: t.sched.dead != 0,
            wakeups: woke
                .iter()
                .filter(|w| w.wakee_tid == tid)
                .map(|w| w.count)
                .sum(),
            syscalls: t.syscalls,
        }
    };
    let mut threads: Vec<ThreadFigures> = src
        .tasks
        .iter()
        .map(|task| figures(task.tid, task.role))
        .collect();
    if src.followed {
        let known: BTreeSet<u32> = src.tasks.iter().map(|t| t.tid).collect();
        let others: BTreeSet<u32> = all
            .iter()
            .map(|t| t.tid)
            .filter(|tid| !known.contains(tid))
            .collect();
        threads.extend(
            others
                .into_iter()
                .map(|tid| figures(tid, followed_role(tid))),
        );
    }
    // The wakees are targets: named as in the per-thread table.
    for w in &mut woke {
        if let Some(t) = threads.iter().find(|t| t.tid == w.wakee_tid) {
            w.wakee_comm = t.comm.clone();
        }
    }
    let wakeups_pending = if sets.contains(ProbeSet::Wakeup) {
        all.iter().filter(|t| t.waking.pending != 0).count() as u64
    } else {
        0
    };

    let drops = per_cpu_array(ebpf, "DROPS", prog::COUNT)?;
    let target_runs = per_cpu_array(ebpf, "TARGET_RUNS", prog::COUNT)?;
    let cost_ns = per_cpu_array(ebpf, "COST_NS", prog::COUNT)?;
    let rare_counts = per_cpu_array(ebpf, "RARE", rare::COUNT)?;

    // Wakeup stacks.
    let (mut wake_stacks, mut stack_walks) = (Vec::new(), None);
    if sets.contains(ProbeSet::Wakestacks) {
        let counts: PerCpuHashMap<&MapData, u32, u64> =
            PerCpuHashMap::try_from(map(ebpf, "STACK_COUNTS")?)?;
        let traces = StackTraceMap::try_from(map(ebpf, "STACKS")?)?;
        let syms = Kallsyms::load()?;
        for e in counts.iter() {
            let (id, v) = e.context("cannot read the STACK_COUNTS map")?;
            let trace = traces.get(&id, 0).context("cannot read a stack trace")?;
            wake_stacks.push(StackFigures {
                count: per_cpu_sum(&v),
                frames: trace.frames().iter().map(|f| syms.name(f.ip)).collect(),
            });
        }
        wake_stacks.sort_by_key(|s| std::cmp::Reverse(s.count));
        let walks = target_runs[prog::WAKESTACKS as usize];
        stack_walks = Some(StackWalkCost {
            walks,
            ns_per_walk: (walks > 0)
                .then(|| cost_ns[prog::WAKESTACKS as usize] as f64 / walks as f64),
            drops: drops[prog::WAKESTACKS as usize],
        });
    }

    let cpus = aya::util::nr_cpus()
        .map_err(|(_, e)| e)
        .context("cannot count CPUs")? as f64;
    let window_ns = src.window.as_nanos() as u64;
    let programs = src
        .programs
        .iter()
        .zip(
            src.counters
                .iter()
                .chain(std::iter::repeat(&ProgCounters::default())),
        )
        .map(|(&name, c)| {
            let idx = prog_index(name).map(|i| i as usize);
            ProgramCost {
                program: name.to_string(),
                runs: c.run_cnt,
                ns_per_run: (c.run_cnt > 0).then(|| c.run_time_ns as f64 / c.run_cnt as f64),
                target_runs: idx.map_or(0, |i| target_runs[i]),
                ns_per_target_run: None,
                cpu_share: if window_ns > 0 {
                    c.run_time_ns as f64 / (window_ns as f64 * cpus)
                } else {
                    0.0
                },
                recursion_misses: c.recursion_misses,
                drops: idx.map_or(0, |i| drops[i]),
            }
        })
        .collect();

    Ok(Kernel {
        sets: sets.to_string(),
        kfunc: src.kfunc.map(str::to_string),
        window_ns,
        syscall_sample: src.syscall_sample,
        bpf_stats: src.bpf_stats,
        threads,
        wakeup_same_cpu_ns: fixed_histogram(ebpf, fixed::WAKEUP_SAME_CPU)?,
        wakeup_cross_cpu_ns: fixed_histogram(ebpf, fixed::WAKEUP_CROSS_CPU)?,
        wakeups_pending,
        offcpu_ns: fixed_histogram(ebpf, fixed::OFFCPU)?,
        syscalls,
        woke,
        wake_stacks,
        stack_walks,
        kfunc_ns: fixed_histogram(ebpf, fixed::KFUNC)?,
        programs,
        rare_events: RARE_KEYS
            .iter()
            .zip(&rare_counts)
            .map(|(&k, &n)| (k, n))
            .collect(),
        messages: Vec::new(),
        warnings: src.warnings.to_vec(),
        irq_limit: src.irq_limit.map(str::to_string),
    })
}

fn clear_hash<K: aya::Pod, V: aya::Pod>(ebpf: &mut Ebpf, name: &str) -> Result<()> {
    let mut m: HashMap<&mut MapData, K, V> =
        HashMap::try_from(ebpf.map_mut(name).context("missing map")?)?;
    let keys: Vec<K> = m.keys().filter_map(Result::ok).collect();
    for k in keys {
        let _ = m.remove(&k);
    }
    Ok(())
}

fn clear_per_cpu_hash<K: aya::Pod, V: aya::Pod>(ebpf: &mut Ebpf, name: &str) -> Result<()> {
    let mut m: PerCpuHashMap<&mut MapData, K, V> =
        PerCpuHashMap::try_from(ebpf.map_mut(name).context("missing map")?)?;
    let keys: Vec<K> = m.keys().filter_map(Result::ok).collect();
    for k in keys {
        let _ = m.remove(&k);
    }
    Ok(())
}

/// Zeroes the elements `indexes` of a per-CPU array of `V`.
fn zero_per_cpu<V: aya::Pod + PartialEq>(
    ebpf: &mut Ebpf,
    name: &str,
    indexes: impl Iterator<Item = u32>,
    zero: V,
) -> Result<()> {
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
    let mut a: PerCpuArray<&mut MapData, V> =
        PerCpuArray::try_from(ebpf.map_mut(name).context("missing map")?)?;
    for i in indexes {
        if a.get(&i, 0)?.iter().any(|v| *v != zero) {
            a.set(i, PerCpuValues::try_from(vec![zero; cpus])?, 0)?;
        }
    }
    Ok(())
}

/// Empties every figure map, so the next case starts from zero. `nrs`: the syscall
/// numbers whose histogram rows were used (`used_syscalls`, read before the targets
/// were cleared).
pub fn clear(ebpf: &mut Ebpf, nrs: &[u32]) -> Result<()> {
    clear_per_cpu_hash::<SyscallKey, SysCount>(ebpf, "SYSCOUNT")?;
    clear_per_cpu_hash::<WokeKey, u64>(ebpf, "WOKE")?;
    clear_per_cpu_hash::<u32, u64>(ebpf, "STACK_COUNTS")?;
    clear_hash::<u32, [u8; COMM_LEN]>(ebpf, "COMMS")?;
    zero_per_cpu(ebpf, "WOKE_CACHE", 0..WOKE_CACHE_CELLS, WokeCell::default())?;
    zero_per_cpu(
        ebpf,
        "FIXED_HIST",
        0..fixed::SLOTS * hist::ROWS,
        [0u64; hist::ROW as usize],
    )?;
    let rows = nrs
        .iter()
        .filter(|&&nr| nr < SYS_NRS)
        .flat_map(|&nr| (0..metric::COUNT).map(move |m| nr * metric::COUNT + m));
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
    {
        let mut a: PerCpuArray<&mut MapData, SysRow> =
            PerCpuArray::try_from(ebpf.map_mut("SYS_HIST").context("missing map")?)?;
        for r in rows {
            a.set(
                r,
                PerCpuValues::try_from(vec![[0u64; hist::SYS_BUCKETS as usize]; cpus])?,
                0,
            )?;
        }
    }
    for (name, len) in [
        ("DROPS", prog::COUNT),
        ("TARGET_RUNS", prog::COUNT),
        ("COST_NS", prog::COUNT),
        ("RARE", rare::COUNT),
        ("LOGGED", rare::COUNT),
    ] {
        zero_per_cpu(ebpf, name, 0..len, 0u64)?;
    }
    Ok(())
}
