//! Layouts shared by the kernel programs (`bench-ebpf`) and the user side (`bench-cli`),
//! and the bucket function of the in-kernel histograms (the same source compiled for
//! both sides).
//!
//! Everything here is `#[repr(C)]` and plain data: the same bytes are written by the
//! kernel and read by userspace, so a field added here is added on both sides at once.
#![no_std]

pub mod hist;

/// Index of the "measuring" switch in the `CONTROL` array map: counting happens only
/// while it is 1, so setup, warm-up and teardown stay out of the figures. `CONTROL` is
/// memory-mapped (BPF_F_MMAPABLE) by user space, so opening and closing the window is
/// one store to shared memory: no syscall, no wakeup, nothing a probe could count, on
/// whichever thread or forked process does it.
pub const CONTROL_MEASURING: u32 = 0;
/// Index of the target generation in `CONTROL`: user space bumps it whenever the set of
/// targets changes, so each CPU's cached "current task is a target" answer (`CUR`) is
/// recomputed once instead of trusted stale.
pub const CONTROL_GEN: u32 = 1;
/// Number of slots in the `CONTROL` array map. Each value is a u64 (8-byte stride in the
/// mapping, which is what the kernel uses for mmapable arrays of values up to 8 bytes).
pub const CONTROL_SLOTS: u32 = 2;
/// `BPF_F_MMAPABLE` (include/uapi/linux/bpf.h): the array can be mmap()ed by user space.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// Slots of the `SLOTS` array: a target thread lives at `tid & (TARGET_SLOTS - 1)` when
/// that slot is free (one inlined array read finds it, or proves in most cases that a
/// thread is not a target); colliding targets go to the `TARGETS` hash. A power of two.
pub const TARGET_SLOTS: u32 = 4096;
/// Most target threads/processes one run can follow in the `TARGETS` hash (collisions).
pub const MAX_TARGETS: u32 = 16384;
/// Most distinct kernel stacks kept by `wakestacks`.
pub const MAX_STACKS: u32 = 4096;
/// Syscall numbers with a histogram row: 0..SYS_NRS (x86-64 numbers stay below 512).
/// A larger number is counted, and its latency sample is dropped (and counted).
pub const SYS_NRS: u32 = 512;
/// Syscall numbers counted inside a target's own entry; a thread's further ones go to
/// the `SYSCOUNT` hash.
pub const SYS_TABLE: usize = 8;
/// `InSyscall::idx` when the syscall is counted in the `SYSCOUNT` hash.
pub const SYS_IN_HASH: u32 = SYS_TABLE as u32;
/// Cells of the per-CPU who-woke-whom cache (`WOKE_CACHE`); evicted pairs go to `WOKE`.
pub const WOKE_CACHE_CELLS: u32 = 256;

/// Probe sets, as bits of the `ENABLED` global the loader sets.
pub mod sets {
    pub const WAKEUP: u32 = 1 << 0;
    pub const OFFCPU: u32 = 1 << 1;
    pub const SYSCALLS: u32 = 1 << 2;
    pub const WAKESTACKS: u32 = 1 << 3;
    pub const KFUNC: u32 = 1 << 4;
    /// Empty programs on the default set's tracepoints: this machine's floor.
    pub const NOP: u32 = 1 << 5;
}

/// Names of the load-time globals.
pub mod globals {
    /// `offsetof(struct task_struct, pid)`, from the kernel's BTF (Rust eBPF has no
    /// CO-RE). A constant to the verifier, which then checks each direct read through the
    /// BTF-typed task pointer against the kernel's type.
    pub const TASK_PID_OFFSET: &str = "TASK_PID_OFFSET";
    /// Bitmask of enabled probe sets (`sets::*`).
    pub const ENABLED: &str = "ENABLED";
    /// `max_entries(SLOTS) - 1`: the slot of a tid is `tid & SLOT_MASK` (a power of two
    /// minus one; a test shrinks the map to show what happens when it overflows).
    pub const SLOT_MASK: &str = "SLOT_MASK";
    /// Time 1 syscall in N per (thread, syscall number); counts stay exact.
    pub const SYSCALL_SAMPLE: &str = "SYSCALL_SAMPLE";
    /// `offsetof(struct task_struct, tgid)`, from the kernel's BTF (the process of a
    /// thread, for `--comm` and for leaving evbench's own process out).
    pub const TASK_TGID_OFFSET: &str = "TASK_TGID_OFFSET";
    /// Which kernel-side target selections are on (`adopt::*` bits; 0: none, and the
    /// verifier prunes their code).
    pub const ADOPT: &str = "ADOPT";
    /// `--cgroup`: the cgroup v2 id (the directory's inode number) that a task's
    /// ancestor at `ADOPT_CGROUP_LEVEL` must have (u64).
    pub const ADOPT_CGROUP_ID: &str = "ADOPT_CGROUP_ID";
    /// `--cgroup`: the directory's depth below the cgroup2 root (the root is level 0).
    pub const ADOPT_CGROUP_LEVEL: &str = "ADOPT_CGROUP_LEVEL";
    /// `--cgroup`: the label (`Target::label`) of tasks adopted for their cgroup.
    pub const ADOPT_CGROUP_LABEL: &str = "ADOPT_CGROUP_LABEL";
    /// `--comm`: the command name, NUL-padded to `COMM_LEN` bytes, as two u64 words.
    pub const ADOPT_COMM: &str = "ADOPT_COMM";
    /// `--comm`: the label of tasks adopted for their name.
    pub const ADOPT_COMM_LABEL: &str = "ADOPT_COMM_LABEL";
    /// evbench's own process id (tgid): never adopted, whatever its cgroup or name.
    pub const SELF_TGID: &str = "SELF_TGID";
    /// `offsetof(struct task_struct, se) + offsetof(struct sched_entity,
    /// sum_exec_runtime)`, from the kernel's BTF: a task's CPU time so far (ns).
    pub const TASK_RUNTIME_OFFSET: &str = "TASK_RUNTIME_OFFSET";
    /// Interrupt context detection for who-woke-whom (0: off, wakeups are credited to
    /// the current task). The current CPU's `struct rq` is found through
    /// `task->se.cfs_rq->rq` (offsets `TASK_CFS_RQ_OFFSET`, `CFS_RQ_RQ_OFFSET`), and its
    /// `__preempt_count` lies `PREEMPT_FROM_RQ` bytes from it (both per-CPU variables
    /// of the same CPU: their distance is their distance in the kernel BTF's
    /// `.data..percpu` DATASEC).
    pub const IRQ_DETECT: &str = "IRQ_DETECT";
    pub const TASK_CFS_RQ_OFFSET: &str = "TASK_CFS_RQ_OFFSET";
    pub const CFS_RQ_RQ_OFFSET: &str = "CFS_RQ_RQ_OFFSET";
    /// `offsetof(struct rq, cpu)`: the derived runqueue is checked against this CPU.
    pub const RQ_CPU_OFFSET: &str = "RQ_CPU_OFFSET";
    pub const PREEMPT_FROM_RQ: &str = "PREEMPT_FROM_RQ";
}

/// Kernel-side target selections (bits of the `ADOPT` global): a task that is not a
/// target becomes one when it matches (bench-ebpf `adopt.rs`).
pub mod adopt {
    /// Its cgroup v2 is the `--cgroup` directory or a descendant of it.
    pub const CGROUP: u32 = 1 << 0;
    /// Its process is named `--comm` (at exec, on a rename of a process's main thread),
    /// or it is a thread of a process adopted that way.
    pub const COMM: u32 = 1 << 1;
}

/// Programs, as indexes of the per-program counter arrays (`DROPS`, `TARGET_RUNS`).
pub mod prog {
    pub const SCHED_SWITCH: u32 = 0;
    pub const SCHED_WAKING: u32 = 1;
    pub const SYS_ENTER: u32 = 2;
    pub const SYS_EXIT: u32 = 3;
    pub const SCHED_PROCESS_FORK: u32 = 4;
    pub const KFUNC_ENTRY: u32 = 5;
    pub const KFUNC_EXIT: u32 = 6;
    /// Not a program: the stack walks inside `sched_waking`, accounted on their own.
    pub const WAKESTACKS: u32 = 7;
    pub const SCHED_PROCESS_EXEC: u32 = 8;
    pub const TASK_RENAME: u32 = 9;
    pub const COUNT: u32 = 10;
}

/// Rare kernel-side events, as indexes of the per-CPU `RARE` counter array. Each is
/// counted every time, and reported through aya-log the first [`LOG_BUDGET`] times per
/// reason and CPU (reset with the figures): never on a path that runs when nothing is
/// wrong.
pub mod rare {
    /// A map update failed: a full map or a lost race (`WOKE`, `SYSCOUNT`, `COMMS`,
    /// `STACK_COUNTS`). The event is lost from that map's figures.
    pub const MAP_UPDATE_FAILED: u32 = 0;
    /// A task that should have become a target (a child of a target, or one matching
    /// `--cgroup` / `--comm`) could not: `TARGETS` is full.
    pub const TARGETS_FULL: u32 = 1;
    /// A target switched out blocked twice with no switch-in observed in between.
    pub const UNPAIRED: u32 = 2;
    /// A histogram sample was dropped (no histogram row for that syscall number, or a
    /// stack walk failed).
    pub const SAMPLE_DROPPED: u32 = 3;
    pub const COUNT: u32 = 4;
    /// Names, for messages and results.
    pub const NAMES: [&str; COUNT as usize] = [
        "map update failed",
        "target table full",
        "unpaired switch-out",
        "sample dropped",
    ];
}

/// How many times per reason and CPU a rare event is also logged (aya-log).
pub const LOG_BUDGET: u64 = 4;

/// Value of the `SLOTS` array and the `TARGETS` hash: a followed thread and all of its
/// per-thread state, so every event costs one lookup (the target test itself) and no more.
///
/// Concurrency: `sched` is only touched by the CPU switching the thread in or out;
/// `syscall`, `sys_counts`, `syscalls` and `kfunc_entered_ns` only by the thread itself;
/// `waking` is set by the waker's CPU and consumed where the wakee switches, which the
/// scheduler orders (ttwu holds the wakee's pi_lock and rq lock).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The thread id this entry belongs to (the slot's tag; 0: a free slot).
    pub tid: u32,
    /// Opaque label chosen by user space (index of the task in its workload).
    pub label: u32,
    pub sched: ThreadSched,
    pub syscall: InSyscall,
    pub waking: Waking,
    /// Syscalls that returned inside the window.
    pub syscalls: u64,
    /// When the `--kfunc` function was entered (0: not inside it).
    pub kfunc_entered_ns: u64,
    /// Syscalls that returned inside the window, per number (the first `SYS_TABLE`
    /// numbers this thread used; `nr + 1` in `nr_plus1`, 0: unused).
    pub sys_counts: [SysCount; SYS_TABLE],
}

impl Target {
    pub const fn new(tid: u32, label: u32) -> Self {
        Self {
            tid,
            label,
            sched: ThreadSched {
                voluntary: 0,
                involuntary: 0,
                oncpu_ns: 0,
                last_in_ns: 0,
                out_at_ns: 0,
                out_flags: 0,
                cpu: 0,
                unpaired: 0,
                runtime_ns: 0,
                base_ns: 0,
                dead: 0,
                _pad: 0,
            },
            syscall: InSyscall {
                entered_ns: 0,
                offcpu_ns: 0,
                nr: 0,
                idx: 0,
                active: 0,
                sampled: 0,
            },
            waking: Waking {
                at_ns: 0,
                waker_cpu: 0,
                pending: 0,
                unpaired: 0,
            },
            syscalls: 0,
            kfunc_entered_ns: 0,
            sys_counts: [SysCount {
                nr_plus1: 0,
                _pad: 0,
                count: 0,
                sampled: 0,
            }; SYS_TABLE],
        }
    }
}

/// Completed syscalls of one number (see `Target::sys_counts`, `SYSCOUNT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysCount {
    /// Syscall number + 1 (0: an unused cell). Unused in `SYSCOUNT` values.
    pub nr_plus1: u32,
    pub _pad: u32,
    /// Returned inside the window.
    pub count: u64,
    /// Of those, how many were timed (`--syscall-sample`): the histogram's total.
    pub sampled: u64,
}

/// Scheduler counters of one target thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadSched {
    /// Switched out while not runnable (the kernel's `nvcsw`: `!preempt && prev_state != 0`).
    pub voluntary: u64,
    /// Switched out while still runnable (preempted; the kernel's `nivcsw`).
    pub involuntary: u64,
    /// Nanoseconds on CPU while measuring.
    pub oncpu_ns: u64,
    /// `bpf_ktime_get_ns()` when the thread was last switched in (0: not on CPU / unknown).
    pub last_in_ns: u64,
    /// When it was last switched out (0: on CPU, or not seen yet).
    pub out_at_ns: u64,
    /// `OUT_*` bits describing that switch-out.
    pub out_flags: u32,
    /// The CPU it was last switched in on.
    pub cpu: u32,
    /// Blocked intervals inside the window whose end was never seen: the thread was
    /// switched out blocked again with no switch-in observed in between. Counted (and
    /// logged) so a report shows the loss instead of hiding it.
    pub unpaired: u64,
    /// The task's `se.sum_exec_runtime` (ns on CPU over its life, kernel/sched/fair.c
    /// `update_curr`) at its last switch-out seen: exact there, since __schedule has
    /// just brought it up to date (dequeue or put_prev_task call `update_curr` before
    /// the sched_switch tracepoint). After its last switch-out (`dead`), its final value.
    pub runtime_ns: u64,
    /// `se.sum_exec_runtime` when the kernel made it a target: 0 for a child followed
    /// at fork (sched_fork zeroes it), the current value for a task adopted by
    /// `--cgroup` / `--comm` (up to one tick stale while it runs). User space keeps its
    /// own base for the tasks it registered (`/proc/TID/schedstat` at the window's start).
    pub base_ns: u64,
    /// 1 once it switched out for the last time (`prev_state` TASK_DEAD): it exited,
    /// and `runtime_ns` is final.
    pub dead: u32,
    pub _pad: u32,
}

/// `sched_switch`'s `prev_state` of a task switching out for the last time
/// (include/linux/sched.h `TASK_DEAD`).
pub const TASK_DEAD: u32 = 0x80;

/// `ThreadSched::out_flags`: the thread blocked (a voluntary switch), rather than being preempted.
pub const OUT_BLOCKED: u32 = 1;
/// `ThreadSched::out_flags`: it was switched out inside the measured window.
pub const OUT_MEASURING: u32 = 2;

/// The syscall a target thread is inside (`active == 0`: none).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InSyscall {
    /// When it entered; only read when `sampled` (an unsampled call reads no clock).
    pub entered_ns: u64,
    /// Off-CPU time accumulated while inside it.
    pub offcpu_ns: u64,
    pub nr: u32,
    /// Its cell in `Target::sys_counts`, or `SYS_IN_HASH`.
    pub idx: u32,
    pub active: u32,
    /// Whether this call is timed (1 in `SYSCALL_SAMPLE` per thread and number).
    pub sampled: u32,
}

/// A pending wakeup of a target thread (`pending == 0`: none), counted at sched_waking
/// inside the window; its one latency sample is recorded where it is resolved.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waking {
    pub at_ns: u64,
    pub waker_cpu: u32,
    pub pending: u32,
    /// Wakeups inside the window with no latency to record: resolved without a
    /// switch-in that follows their sched_waking (the wakee was still on its CPU — the
    /// kernel's `ttwu_runnable` — or woken again first), or a switch-in whose clock is
    /// not after the waking. Never in the latency histograms.
    pub unpaired: u64,
}

/// Pseudo-waker tids for who-woke-whom (above any pid: `PID_MAX_LIMIT` is 2^22): a
/// wakeup done in hard interrupt (or NMI) context, and one done while serving a
/// softirq. The interrupted task did not wake anyone.
pub const WAKER_HARDIRQ: u32 = u32::MAX;
pub const WAKER_SOFTIRQ: u32 = u32::MAX - 1;

/// Bits of the x86 per-CPU `__preempt_count` (include/linux/preempt.h): NMI and
/// hardirq nesting, and SOFTIRQ_OFFSET (set while softirqs are being served, not merely
/// disabled).
pub const PREEMPT_HARDIRQ_NMI_MASK: u32 = 0x00ff_0000;
pub const PREEMPT_SOFTIRQ_OFFSET: u32 = 0x100;

/// Each CPU's view of the task running on it, kept by `sched_switch` (value of the
/// per-CPU `CUR` array), so the syscall programs need no helper and no lookup to learn
/// that the current task is not a target.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Current {
    pub tid: u32,
    /// `CONTROL[CONTROL_GEN]` when `place` was computed; another value: recompute.
    pub gen: u32,
    /// Where the task's `Target` is: a `SLOTS` index, `PLACE_HASH` or `PLACE_NONE`.
    pub place: u32,
    /// 1 once this task, not a target, was checked against the kernel-side selections
    /// (`ADOPT`) in its current stint on this CPU; reset whenever the entry changes.
    pub checked: u32,
}

/// `Current::place`: the target is in the `TARGETS` hash.
pub const PLACE_HASH: u32 = u32::MAX - 1;
/// `Current::place`: not a target.
pub const PLACE_NONE: u32 = u32::MAX;

/// One cell of the per-CPU who-woke-whom cache (`WOKE_CACHE`); 0 tids: empty.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WokeCell {
    pub waker_tid: u32,
    pub wakee_tid: u32,
    pub count: u64,
}

/// Histograms with no sub-series live in one per-CPU array, `FIXED_HIST`, one row of
/// `hist::ROW` buckets at `slot * hist::ROWS + bucket / hist::ROW`: an array read is
/// inlined by the JIT, a hash lookup is not. (A per-CPU value is limited to 32 KiB.)
pub mod fixed {
    pub const WAKEUP_SAME_CPU: u32 = 0;
    pub const WAKEUP_CROSS_CPU: u32 = 1;
    pub const OFFCPU: u32 = 2;
    pub const KFUNC: u32 = 3;
    pub const SLOTS: u32 = 4;
}

/// One row of `FIXED_HIST`.
pub type FixedRow = [u64; hist::ROW as usize];
/// One per-syscall histogram: a row of `SYS_HIST` at `nr * 2 + metric`.
pub type SysRow = [u64; hist::SYS_BUCKETS as usize];

/// Per-syscall histogram metrics (the `metric` of a `SYS_HIST` row).
pub mod metric {
    /// sys_enter to sys_exit.
    pub const SYSCALL: u32 = 0;
    /// The part of a syscall spent on CPU (syscall time minus off-CPU time inside it).
    pub const SYSCALL_ONCPU: u32 = 1;
    pub const COUNT: u32 = 2;
}

/// Key of the per-CPU `SYSCOUNT` map: syscalls per thread and number, for the numbers
/// that do not fit in the thread's own `sys_counts`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SyscallKey {
    pub tid: u32,
    pub nr: u32,
}

/// Key of the per-CPU `WOKE` map: who woke whom.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WokeKey {
    pub waker_tid: u32,
    pub wakee_tid: u32,
}

/// Linux's TASK_COMM_LEN.
pub const COMM_LEN: usize = 16;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain #[repr(C)] integers with explicit padding; any bit pattern is valid.
    unsafe impl aya::Pod for super::Target {}
    unsafe impl aya::Pod for super::SysCount {}
    unsafe impl aya::Pod for super::Current {}
    unsafe impl aya::Pod for super::WokeCell {}
    unsafe impl aya::Pod for super::SyscallKey {}
    unsafe impl aya::Pod for super::WokeKey {}
}
