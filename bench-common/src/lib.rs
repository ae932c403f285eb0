//! Layouts shared by the kernel programs (`bench-ebpf`) and the user side (`bench-cli`).
//!
//! Everything here is `#[repr(C)]` and plain data: the same bytes are written by the
//! kernel and read by userspace, so a field added here is added on both sides at once.
#![no_std]

/// Index of the "measuring" switch in the `CONTROL` array map: counting happens only
/// while it is 1, so setup, warm-up and teardown stay out of the figures.
pub const CONTROL_MEASURING: u32 = 0;
/// Number of slots in the `CONTROL` array map.
pub const CONTROL_SLOTS: u32 = 1;

/// Most target threads/processes one run can follow.
pub const MAX_TARGETS: u32 = 4096;

/// Value of the `TARGETS` map: why this thread id is followed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetInfo {
    /// Opaque label chosen by user space (index of the task in its workload).
    pub label: u32,
}

/// Per-thread scheduler counters kept by the `sched_switch` probe (the `THREADS` map,
/// keyed by thread id). Only one CPU runs a given thread at a time, so a thread's entry
/// is only ever touched from the CPU switching it in or out.
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
}

/// Offsets into `struct task_struct`, read from the running kernel's BTF by user space
/// and handed to the programs as read-only globals (Rust eBPF has no CO-RE relocations).
pub mod task_offsets {
    /// Name of the global holding `offsetof(struct task_struct, pid)`.
    pub const PID: &str = "TASK_PID_OFFSET";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain #[repr(C)] integers, no padding, any bit pattern valid.
    unsafe impl aya::Pod for super::TargetInfo {}
    unsafe impl aya::Pod for super::ThreadSched {}
}
