//! Maps, globals and helpers shared by every probe set: which threads are targets (and
//! their state), whether the workload is in its measured window, the histogram cells,
//! and the per-program drop and run counters that keep losses visible.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    macros::map,
    maps::{Array, HashMap, PerCpuArray, PerCpuHashMap},
};
use bench_common::{
    fixed, hist, prog, HistKey, Target, CONTROL_MEASURING, CONTROL_SLOTS, CONTROL_TGID,
    MAX_HIST_CELLS, MAX_TARGETS,
};

/// Target thread ids (the workload's own tasks, never the CLI's) and their state.
#[map]
pub static TARGETS: HashMap<u32, Target> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// Run-time switches written by user space (see `bench_common::CONTROL_*`).
#[map]
pub static CONTROL: Array<u32> = Array::with_max_entries(CONTROL_SLOTS, 0);

/// Histograms without sub-series: `fixed::*` slot × bucket → count on this CPU.
#[map]
pub static FIXED_HIST: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(fixed::SLOTS * hist::BUCKETS, 0);

/// Histograms with sub-series (per syscall): (metric, sub, bucket) → count on this CPU.
/// Keyed by cell, not one array per metric, because 7424 buckets times ~460 syscalls
/// would not fit in memory as arrays.
#[map]
pub static HIST: PerCpuHashMap<HistKey, u64> = PerCpuHashMap::with_max_entries(MAX_HIST_CELLS, 0);

/// Failed map updates (full map, lost race), per program (`bench_common::prog`).
#[map]
pub static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(prog::COUNT, 0);

/// Runs that passed the target filter while measuring, per program.
#[map]
pub static TARGET_RUNS: PerCpuArray<u64> = PerCpuArray::with_max_entries(prog::COUNT, 0);

/// Self-timed nanoseconds of work accounted on its own (the wakestacks stack walks).
#[map]
pub static COST_NS: PerCpuArray<u64> = PerCpuArray::with_max_entries(prog::COUNT, 0);

/// `offsetof(struct task_struct, pid)`, set at load time from the kernel's BTF.
#[unsafe(no_mangle)]
static TASK_PID_OFFSET: u32 = 0;

/// Enabled probe sets (`bench_common::sets`), set at load time. A constant to the
/// verifier, so the code of disabled sets is pruned.
#[unsafe(no_mangle)]
static ENABLED: u32 = 0;

#[inline(always)]
pub fn enabled(set: u32) -> bool {
    // SAFETY: read_volatile keeps the compiler from folding the load-time constant.
    unsafe { core::ptr::read_volatile(&ENABLED) & set != 0 }
}

#[inline(always)]
pub fn measuring() -> bool {
    matches!(CONTROL.get(CONTROL_MEASURING), Some(&1))
}

/// Whether a task of thread group `tgid` can be a target (the process prefilter).
#[inline(always)]
fn tgid_passes(tgid: u32) -> bool {
    match CONTROL.get(CONTROL_TGID) {
        Some(&0) | None => true,
        Some(&t) => t == tgid,
    }
}

/// Turns the process prefilter off: targets now span several processes.
#[inline(always)]
pub fn widen_prefilter() {
    if let Some(p) = CONTROL.get_ptr_mut(CONTROL_TGID) {
        // SAFETY: a plain u32 slot; racing writers all write 0.
        unsafe { *p = 0 };
    }
}

/// A target's id and state.
pub type Found = (u32, *mut Target);

#[inline(always)]
fn lookup(tid: u32, tgid: u32) -> Option<Found> {
    if !tgid_passes(tgid) {
        return None;
    }
    TARGETS.get_ptr_mut(&tid).map(|t| (tid, t))
}

/// The current task, if it is a target.
#[inline(always)]
pub fn current_target() -> Option<Found> {
    let id = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    lookup(id as u32, (id >> 32) as u32)
}

/// A `struct task_struct *`, if it is a target.
#[inline(always)]
pub fn target_task(task: *const u8) -> Option<Found> {
    let (tid, tgid) = task_ids(task)?;
    lookup(tid, tgid)
}

/// The current thread id.
#[inline(always)]
pub fn current_tid() -> u32 {
    aya_ebpf::helpers::bpf_get_current_pid_tgid() as u32
}

/// (pid, tgid) of a `struct task_struct *` handed to a BTF tracepoint: one read, as
/// the two fields are adjacent.
#[inline(always)]
pub fn task_ids(task: *const u8) -> Option<(u32, u32)> {
    // SAFETY: read_volatile keeps the compiler from folding the load-time constant.
    let off = unsafe { core::ptr::read_volatile(&TASK_PID_OFFSET) };
    // SAFETY: bpf_probe_read_kernel checks the address; a failure is an error, not a fault.
    unsafe { aya_ebpf::helpers::bpf_probe_read_kernel(task.add(off as usize) as *const u64) }
        .ok()
        .map(|v| (v as u32, (v >> 32) as u32))
}

#[inline(always)]
fn bump(array: &PerCpuArray<u64>, index: u32, by: u64) {
    if let Some(p) = array.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it, and tracing programs do not nest on a CPU.
        unsafe { *p += by };
    }
}

/// Counts a failed map update of program `p`.
#[inline(always)]
pub fn dropped(p: u32) {
    bump(&DROPS, p, 1);
}

/// Counts a run of program `p` on a target thread inside the window.
#[inline(always)]
pub fn target_run(p: u32) {
    bump(&TARGET_RUNS, p, 1);
}

/// Adds self-timed cost to slot `p`.
#[inline(always)]
pub fn cost(p: u32, ns: u64) {
    bump(&COST_NS, p, ns);
}

/// Adds one to a per-CPU counter map entry, creating it on first use. Returns true
/// when this call created it.
#[inline(always)]
pub fn increment<K>(map: &PerCpuHashMap<K, u64>, key: &K, p: u32) -> bool {
    if let Some(c) = map.get_ptr_mut(key) {
        // SAFETY: this CPU's copy of the value.
        unsafe { *c += 1 };
        return false;
    }
    if map.insert(key, &1, BPF_NOEXIST as u64).is_ok() {
        return true;
    }
    // Another CPU created it between the lookup and the insert: count on our copy.
    match map.get_ptr_mut(key) {
        // SAFETY: as above.
        Some(c) => unsafe { *c += 1 },
        None => dropped(p),
    }
    false
}

/// Records `value` in the fixed histogram `slot` (`bench_common::fixed`).
#[inline(always)]
pub fn record_fixed(slot: u32, value: u64, p: u32) {
    match FIXED_HIST.get_ptr_mut(slot * hist::BUCKETS + hist::bucket(value)) {
        // SAFETY: this CPU's copy of the cell.
        Some(c) => unsafe { *c += 1 },
        None => dropped(p),
    }
}

/// Records `value` in histogram (`metric`, `sub`) of `HIST`.
#[inline(always)]
pub fn record(metric: u32, sub: u32, value: u64, p: u32) {
    let key = HistKey {
        metric,
        sub,
        bucket: hist::bucket(value),
        _pad: 0,
    };
    increment(&HIST, &key, p);
}
