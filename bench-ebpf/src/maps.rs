//! Maps, globals and helpers shared by every probe set: which threads are targets (and
//! their state), whether the workload is in its measured window, the histogram rows,
//! and the per-program and per-reason counters that keep losses visible.
//!
//! The hot paths are built from what this kernel makes cheap (measured, issue 12): array
//! and per-CPU array lookups (inlined by the verifier, about 3 ns), direct reads through
//! a BTF-typed task pointer (3-5 ns), and at most one clock read per event. Hash lookups
//! (about 70 ns) and helpers are left for collisions, first sightings and rare events.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::bpf_get_current_task_btf,
    macros::map,
    maps::{Array, HashMap, PerCpuArray},
};
use bench_common::{
    fixed, hist, metric, prog, rare, Current, FixedRow, SysRow, Target, BPF_F_MMAPABLE,
    CONTROL_GEN, CONTROL_MEASURING, CONTROL_SLOTS, LOG_BUDGET, MAX_TARGETS, PLACE_HASH, PLACE_NONE,
    SYS_NRS, TARGET_SLOTS,
};

/// Run-time switches written by user space through a memory mapping (see
/// `bench_common::CONTROL_*`).
#[map]
pub static CONTROL: Array<u64> = Array::with_max_entries(CONTROL_SLOTS, BPF_F_MMAPABLE);

/// Targets at `tid & SLOT_MASK`, tagged with their tid.
#[map]
pub static SLOTS: Array<Target> = Array::with_max_entries(TARGET_SLOTS, 0);

/// Per slot: 1 when a target whose slot was taken went to `TARGETS` instead.
#[map]
pub static OVERFLOW: Array<u32> = Array::with_max_entries(TARGET_SLOTS, 0);

/// Targets whose slot was taken by another target.
#[map]
pub static TARGETS: HashMap<u32, Target> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// The task running on this CPU, as the last sched_switch here saw it.
#[map]
pub static CUR: PerCpuArray<Current> = PerCpuArray::with_max_entries(1, 0);

/// A zeroed `Target` to insert into `TARGETS` from (too big for the 512-byte stack
/// beside the rest of a program).
#[map]
pub static SCRATCH: PerCpuArray<Target> = PerCpuArray::with_max_entries(1, 0);

/// Histograms without sub-series: row `slot * hist::ROWS + bucket / hist::ROW`.
#[map]
pub static FIXED_HIST: PerCpuArray<FixedRow> =
    PerCpuArray::with_max_entries(fixed::SLOTS * hist::ROWS, 0);

/// Per-syscall histograms: row `nr * metric::COUNT + metric`, `hist::SYS_BUCKETS` each.
#[map]
pub static SYS_HIST: PerCpuArray<SysRow> =
    PerCpuArray::with_max_entries(SYS_NRS * metric::COUNT, 0);

/// Failed map updates and dropped samples, per program (`bench_common::prog`).
#[map]
pub static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(prog::COUNT, 0);

/// Runs that passed the target filter while measuring, per program.
#[map]
pub static TARGET_RUNS: PerCpuArray<u64> = PerCpuArray::with_max_entries(prog::COUNT, 0);

/// Self-timed nanoseconds of work accounted on its own (the wakestacks stack walks).
#[map]
pub static COST_NS: PerCpuArray<u64> = PerCpuArray::with_max_entries(prog::COUNT, 0);

/// Rare events per reason (`bench_common::rare`).
#[map]
pub static RARE: PerCpuArray<u64> = PerCpuArray::with_max_entries(rare::COUNT, 0);

/// Rare events logged per reason on this CPU (the aya-log rate limit).
#[map]
pub static LOGGED: PerCpuArray<u64> = PerCpuArray::with_max_entries(rare::COUNT, 0);

/// `offsetof(struct task_struct, pid)`, set at load time from the kernel's BTF.
#[unsafe(no_mangle)]
static TASK_PID_OFFSET: u32 = 0;

/// `offsetof(task_struct, se) + offsetof(sched_entity, sum_exec_runtime)`, set at load
/// time from the kernel's BTF.
#[unsafe(no_mangle)]
static TASK_RUNTIME_OFFSET: u32 = 0;

/// Enabled probe sets (`bench_common::sets`), set at load time. A constant to the
/// verifier, so the code of disabled sets is pruned.
#[unsafe(no_mangle)]
static ENABLED: u32 = 0;

/// `max_entries(SLOTS) - 1`.
#[unsafe(no_mangle)]
static SLOT_MASK: u32 = TARGET_SLOTS - 1;

/// Time 1 in N syscalls per (thread, number); 0 and 1 time every one.
#[unsafe(no_mangle)]
static SYSCALL_SAMPLE: u32 = 1;

/// Reads a load-time global (read_volatile keeps the compiler from folding the value it
/// was compiled with; the verifier still sees the loaded constant).
#[inline(always)]
pub fn global(g: &u32) -> u32 {
    // SAFETY: a plain static.
    unsafe { core::ptr::read_volatile(g) }
}

#[inline(always)]
pub fn enabled(set: u32) -> bool {
    global(&ENABLED) & set != 0
}

#[inline(always)]
pub fn syscall_sample() -> u32 {
    global(&SYSCALL_SAMPLE)
}

#[inline(always)]
fn control(index: u32) -> u64 {
    CONTROL.get(index).copied().unwrap_or(0)
}

#[inline(always)]
pub fn measuring() -> bool {
    control(CONTROL_MEASURING) == 1
}

/// pid (the thread id) of a `struct task_struct *` handed to a BTF tracepoint, read
/// directly: the verifier checks the access against the kernel's BTF, so no
/// bpf_probe_read_kernel (about 57 ns) is needed.
#[inline(always)]
pub fn task_tid(task: *const u8) -> u32 {
    // SAFETY: a trusted BTF pointer; the offset is the kernel's own.
    unsafe { core::ptr::read_volatile(task.add(global(&TASK_PID_OFFSET) as usize) as *const u32) }
}

/// A BTF-typed task's `se.sum_exec_runtime` (ns on CPU over its life), read directly.
#[inline(always)]
pub fn task_runtime(task: *const u8) -> u64 {
    // SAFETY: a trusted BTF pointer; the offset is the kernel's own.
    unsafe {
        core::ptr::read_volatile(task.add(global(&TASK_RUNTIME_OFFSET) as usize) as *const u64)
    }
}

/// Where thread `tid`'s entry is (`Current::place`), and the entry.
#[inline(always)]
pub fn find(tid: u32) -> (u32, Option<*mut Target>) {
    // The idle tasks (tid 0) are never targets, and 0 tags a free slot.
    if tid == 0 {
        return (PLACE_NONE, None);
    }
    let idx = tid & global(&SLOT_MASK);
    let Some(slot) = SLOTS.get_ptr_mut(idx) else {
        return (PLACE_NONE, None);
    };
    // SAFETY: an array element; only the tag is read here.
    let tag = unsafe { (*slot).tid };
    if tag == tid {
        return (idx, Some(slot));
    }
    // A free slot, or a taken one with no colliding target: not a target, no hash lookup.
    if tag == 0 || OVERFLOW.get(idx).copied().unwrap_or(0) == 0 {
        return (PLACE_NONE, None);
    }
    match TARGETS.get_ptr_mut(tid) {
        Some(t) => (PLACE_HASH, Some(t)),
        None => (PLACE_NONE, None),
    }
}

/// The entry at `place` if it still belongs to `tid`.
#[inline(always)]
pub fn at_place(tid: u32, place: u32) -> Option<*mut Target> {
    if place == PLACE_NONE {
        return None;
    }
    if place == PLACE_HASH {
        return TARGETS.get_ptr_mut(tid);
    }
    let slot = SLOTS.get_ptr_mut(place)?;
    // SAFETY: an array element; the tag guards against a slot reused after a reset.
    (unsafe { (*slot).tid } == tid).then_some(slot)
}

/// The current thread's id: `current->pid` read directly through the trusted pointer
/// bpf_get_current_task_btf() returns.
#[inline(always)]
pub fn current_tid() -> u32 {
    // SAFETY: the helper has no preconditions; its result is a trusted task pointer.
    task_tid(unsafe { bpf_get_current_task_btf() } as *const u8)
}

/// This CPU's `Current`.
#[inline(always)]
pub fn cur() -> Option<*mut Current> {
    CUR.get_ptr_mut(0)
}

/// Thread `tid`'s entry, through this CPU's cache of the last task seen running here:
/// a hit skips `find`. The cache is keyed by tid, never trusted blindly: this VM's
/// kernel does not deliver every sched_switch (switches out of some tasks are never
/// seen by any program, with no recursion miss counted), so a cache kept by sched_switch
/// alone would name the wrong task until the next switch it sees.
#[inline(always)]
pub fn lookup_cached(c: *mut Current, tid: u32) -> (u32, Option<*mut Target>) {
    // SAFETY: this CPU's element; tracing programs do not nest on a CPU.
    let cr = unsafe { &mut *c };
    let gen = control(CONTROL_GEN) as u32;
    if cr.tid == tid && cr.gen == gen {
        return (cr.place, at_place(tid, cr.place));
    }
    let (place, t) = find(tid);
    cr.tid = tid;
    cr.place = place;
    cr.gen = gen;
    cr.checked = 0;
    (place, t)
}

/// The current task's id and entry, if it is a target.
#[inline(always)]
pub fn current_target() -> Option<(u32, *mut Target)> {
    let tid = current_tid();
    let (_, t) = lookup_cached(cur()?, tid);
    t.map(|t| (tid, t))
}

/// Records that `next` (at `place`) now runs on this CPU.
#[inline(always)]
pub fn set_current(c: *mut Current, tid: u32, place: u32) {
    // SAFETY: this CPU's element.
    let c = unsafe { &mut *c };
    c.tid = tid;
    c.place = place;
    c.gen = control(CONTROL_GEN) as u32;
    c.checked = 0;
}

/// Makes every CPU recompute its cached answer (`CUR`): a task became a target in the
/// kernel, and a CPU may hold "not a target" for it. A plain read and write (core has no
/// atomic add for this target): the generation is read after the adoption, so whatever
/// a racing bump loses, no cache computed before the adoption keeps a current value.
#[inline(always)]
pub fn bump_gen() {
    if let Some(p) = CONTROL.get_ptr_mut(CONTROL_GEN) {
        // SAFETY: a u64 array element.
        unsafe { core::ptr::write_volatile(p, core::ptr::read_volatile(p).wrapping_add(1)) };
    }
}

/// Makes `tid` (a child of a target) a target with `label`: its own slot when free,
/// else the `TARGETS` hash. `base_ns`: its `se.sum_exec_runtime` now (see
/// `ThreadSched::base_ns`). Returns false when `TARGETS` is full.
#[inline(always)]
pub fn adopt(tid: u32, label: u32, base_ns: u64) -> bool {
    let idx = tid & global(&SLOT_MASK);
    if let Some(slot) = SLOTS.get_ptr_mut(idx) {
        // SAFETY: an array element; a free slot is all zeroes (user space zeroes it).
        unsafe {
            if (*slot).tid == 0 {
                (*slot).label = label;
                (*slot).sched.base_ns = base_ns;
                (*slot).tid = tid;
                // Two CPUs claiming the same free slot at once: the loser sees the
                // other's tag and takes the hash instead.
                if core::ptr::read_volatile(&(*slot).tid) == tid {
                    return true;
                }
            }
        }
    }
    let Some(t) = SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's scratch element.
    unsafe {
        *t = Target::new(tid, label);
        (*t).sched.base_ns = base_ns;
        if TARGETS.insert(tid, &*t, BPF_NOEXIST as u64).is_err() {
            return false;
        }
    }
    if let Some(o) = OVERFLOW.get_ptr_mut(idx) {
        // SAFETY: a plain u32; racing writers all write 1.
        unsafe { *o = 1 };
    }
    true
}

#[inline(always)]
fn bump(array: &PerCpuArray<u64>, index: u32, by: u64) -> u64 {
    match array.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it, and tracing programs do not nest on a CPU.
        Some(p) => unsafe {
            *p += by;
            *p
        },
        None => 0,
    }
}

/// Counts a rare event of program `p` (`reason`: `bench_common::rare`); returns whether
/// it should also be logged (within this CPU's `LOG_BUDGET` for the reason).
#[inline(always)]
pub fn rare_event(p: u32, reason: u32) -> bool {
    bump(&RARE, reason, 1);
    if reason != rare::UNPAIRED {
        bump(&DROPS, p, 1);
    }
    bump(&LOGGED, reason, 1) <= LOG_BUDGET
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

/// Records `value` in the fixed histogram `slot` (`bench_common::fixed`).
#[inline(always)]
pub fn record_fixed(slot: u32, value: u64) {
    let b = hist::bucket(value);
    if let Some(row) = FIXED_HIST.get_ptr_mut(slot * hist::ROWS + b / hist::ROW) {
        // SAFETY: this CPU's row; the index is masked into it.
        unsafe { (*row)[(b % hist::ROW) as usize] += 1 };
    }
}

/// Records `value` ns in syscall `nr`'s histogram `metric`; false when `nr` has no row.
#[inline(always)]
pub fn record_sys(nr: u32, metric: u32, value: u64) -> bool {
    if nr >= SYS_NRS {
        return false;
    }
    let b = hist::sys_bucket(value);
    match SYS_HIST.get_ptr_mut(nr * bench_common::metric::COUNT + metric) {
        Some(row) => {
            if let Some(c) = unsafe { (*row).get_mut(b as usize) } {
                *c += 1;
            }
            true
        }
        None => false,
    }
}
