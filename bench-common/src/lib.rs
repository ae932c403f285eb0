//! Layouts shared by the kernel programs (`bench-ebpf`) and the user side (`bench-cli`),
//! and the bucket function of the in-kernel histograms (the same source compiled for
//! both sides).
//!
//! Everything here is `#[repr(C)]` and plain data: the same bytes are written by the
//! kernel and read by userspace, so a field added here is added on both sides at once.
#![no_std]

pub mod hist;

/// Index of the "measuring" switch in the `CONTROL` array map: counting happens only
/// while it is 1, so setup, warm-up and teardown stay out of the figures.
pub const CONTROL_MEASURING: u32 = 0;
/// Index of the process prefilter in `CONTROL`: when not 0, only tasks of that thread
/// group can be targets, so the many events of other processes are dropped after one
/// array read instead of a hash lookup. 0 when the targets span several processes.
pub const CONTROL_TGID: u32 = 1;
/// Number of slots in the `CONTROL` array map.
pub const CONTROL_SLOTS: u32 = 2;

/// Most target threads/processes one run can follow.
pub const MAX_TARGETS: u32 = 16384;
/// Most distinct (metric, sub, bucket) histogram cells.
pub const MAX_HIST_CELLS: u32 = 65536;
/// Most distinct kernel stacks kept by `wakestacks`.
pub const MAX_STACKS: u32 = 4096;

/// Probe sets, as bits of the `ENABLED` global the loader sets.
pub mod sets {
    pub const WAKEUP: u32 = 1 << 0;
    pub const OFFCPU: u32 = 1 << 1;
    pub const SYSCALLS: u32 = 1 << 2;
    pub const WAKESTACKS: u32 = 1 << 3;
    pub const KFUNC: u32 = 1 << 4;
}

/// Names of the load-time globals.
pub mod globals {
    /// `offsetof(struct task_struct, pid)`, from the kernel's BTF (Rust eBPF has no CO-RE);
    /// `tgid` follows it (checked by the loader), so one 8-byte read gets both.
    pub const TASK_PID_OFFSET: &str = "TASK_PID_OFFSET";
    /// Bitmask of enabled probe sets (`sets::*`).
    pub const ENABLED: &str = "ENABLED";
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
    pub const COUNT: u32 = 8;
}

/// Histogram metrics with a sub-series (the `metric` of a [`HistKey`] in `HIST`).
pub mod metric {
    /// sys_enter to sys_exit; `sub` is the syscall number.
    pub const SYSCALL: u32 = 1;
    /// The part of a syscall spent on CPU (syscall time minus off-CPU time inside it).
    pub const SYSCALL_ONCPU: u32 = 2;
}

/// Value of the `TARGETS` map: a followed thread and all of its per-thread state, so
/// every event costs one hash lookup (the target test itself) and no more.
///
/// Concurrency: `sched` is only touched by the CPU switching the thread in or out and
/// `syscall` / `kfunc_entered_ns` only by the thread itself; `waking` is set by the
/// waker's CPU and cleared where the wakee switches, which the scheduler orders.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// Opaque label chosen by user space (index of the task in its workload).
    pub label: u32,
    pub _pad: u32,
    pub sched: ThreadSched,
    pub syscall: InSyscall,
    pub waking: Waking,
    /// Syscalls that returned inside the window.
    pub syscalls: u64,
    /// When the `--kfunc` function was entered (0: not inside it).
    pub kfunc_entered_ns: u64,
}

impl Target {
    pub const fn new(label: u32) -> Self {
        Self {
            label,
            _pad: 0,
            sched: ThreadSched {
                voluntary: 0,
                involuntary: 0,
                oncpu_ns: 0,
                last_in_ns: 0,
                out_at_ns: 0,
                out_flags: 0,
                unpaired: 0,
            },
            syscall: InSyscall {
                entered_ns: 0,
                offcpu_ns: 0,
                nr: 0,
                _pad: 0,
            },
            waking: Waking {
                at_ns: 0,
                waker_cpu: 0,
                _pad: 0,
            },
            syscalls: 0,
            kfunc_entered_ns: 0,
        }
    }
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
    pub out_flags: u64,
    /// Blocked intervals inside the window whose end was never seen: the thread was
    /// switched out again with no switch-in observed in between. Seen on 6.18 under CPU
    /// contention (the program ran, no recursion miss, yet no sched_switch named the
    /// thread as next); counted so a report shows the loss instead of hiding it.
    pub unpaired: u64,
}

/// `ThreadSched::out_flags`: the thread blocked (a voluntary switch), rather than being preempted.
pub const OUT_BLOCKED: u64 = 1;
/// `ThreadSched::out_flags`: it was switched out inside the measured window.
pub const OUT_MEASURING: u64 = 2;

/// The syscall a target thread is inside (`entered_ns == 0`: none).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InSyscall {
    pub entered_ns: u64,
    /// Off-CPU time accumulated while inside it.
    pub offcpu_ns: u64,
    pub nr: u32,
    pub _pad: u32,
}

/// A pending wakeup of a target thread (`at_ns == 0`: none).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waking {
    pub at_ns: u64,
    pub waker_cpu: u32,
    pub _pad: u32,
}

/// Histograms with no sub-series live in one per-CPU array, `FIXED_HIST`, at
/// `slot * hist::BUCKETS + bucket`: an array read is inlined by the JIT, a hash lookup
/// is not. (A per-CPU value is limited to 32 KiB; here each value is one u64.)
pub mod fixed {
    pub const WAKEUP_SAME_CPU: u32 = 0;
    pub const WAKEUP_CROSS_CPU: u32 = 1;
    pub const OFFCPU: u32 = 2;
    pub const KFUNC: u32 = 3;
    pub const SLOTS: u32 = 4;
}

/// Key of the per-CPU `HIST` map: one histogram cell.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HistKey {
    /// One of `metric::*`.
    pub metric: u32,
    /// Sub-series: the syscall number for syscall metrics, else 0.
    pub sub: u32,
    /// `hist::bucket(value)`.
    pub bucket: u32,
    pub _pad: u32,
}

/// Key of the per-CPU `SYSCOUNT` map: syscalls per thread and number.
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
    unsafe impl aya::Pod for super::HistKey {}
    unsafe impl aya::Pod for super::SyscallKey {}
    unsafe impl aya::Pod for super::WokeKey {}
}
