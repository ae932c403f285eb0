//! Interrupt context for who-woke-whom: a wakeup done by a hard interrupt (a timer
//! expiring, a device) or while serving a softirq (network receive, timers' softirq)
//! runs on whatever task the interrupt landed on; crediting that task would be wrong.
//!
//! x86 keeps `preempt_count` in the per-CPU variable `__preempt_count`, not in the
//! task. aya 0.14 cannot relocate a `__ksym` per-CPU variable (no `bpf_this_cpu_ptr`
//! on a BTF variable), and /proc/kallsyms lists no data symbols here, so its address is
//! derived: the current task's `se.cfs_rq->rq` is this CPU's `runqueues` (set for every
//! task, the idle one included, by set_task_rq), and two per-CPU variables of one CPU
//! are as far apart as in the `.data..percpu` section (`PREEMPT_FROM_RQ`, from the
//! kernel's BTF). Worked out once per CPU, checked against `rq->cpu`, and cached; each
//! wakeup of a target then costs one bpf_probe_read_kernel of 4 bytes. Where the
//! kernel lacks what this needs, user space leaves `IRQ_DETECT` at 0 and the report
//! says that interrupt-context wakeups are credited to the interrupted task.
use aya_ebpf::{
    helpers::{bpf_get_current_task_btf, bpf_get_smp_processor_id, bpf_probe_read_kernel},
    macros::map,
    maps::PerCpuArray,
};
use bench_common::{
    PREEMPT_HARDIRQ_NMI_MASK, PREEMPT_SOFTIRQ_OFFSET, WAKER_HARDIRQ, WAKER_SOFTIRQ,
};

use crate::maps::global;

/// 1: detect interrupt context (the offsets below were found in the kernel's BTF).
#[unsafe(no_mangle)]
static IRQ_DETECT: u32 = 0;
/// `offsetof(task_struct, se) + offsetof(sched_entity, cfs_rq)`.
#[unsafe(no_mangle)]
static TASK_CFS_RQ_OFFSET: u32 = 0;
/// `offsetof(cfs_rq, rq)`.
#[unsafe(no_mangle)]
static CFS_RQ_RQ_OFFSET: u32 = 0;
/// `offsetof(rq, cpu)`.
#[unsafe(no_mangle)]
static RQ_CPU_OFFSET: u32 = 0;
/// Section offset of `__preempt_count` minus that of `runqueues` (two's complement).
#[unsafe(no_mangle)]
static PREEMPT_FROM_RQ: u64 = 0;

/// This CPU's `__preempt_count` address (0: not worked out yet).
#[map]
static PREEMPT_ADDR: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
fn read<T>(addr: u64) -> Option<T> {
    // SAFETY: the helper checks the address and fails cleanly.
    unsafe { bpf_probe_read_kernel(addr as *const T) }.ok()
}

/// This CPU's `__preempt_count` address, worked out from the current task.
#[inline(always)]
fn preempt_addr() -> Option<u64> {
    // SAFETY: the helper has no preconditions; its result is a trusted task pointer.
    let task = unsafe { bpf_get_current_task_btf() } as u64;
    let cfs_rq: u64 = read(task + global(&TASK_CFS_RQ_OFFSET) as u64)?;
    let rq: u64 = read(cfs_rq + global(&CFS_RQ_RQ_OFFSET) as u64)?;
    let cpu: i32 = read(rq + global(&RQ_CPU_OFFSET) as u64)?;
    // SAFETY: no preconditions.
    if cpu as u32 != unsafe { bpf_get_smp_processor_id() } {
        return None;
    }
    // SAFETY: a plain static.
    let delta = unsafe { core::ptr::read_volatile(&PREEMPT_FROM_RQ) };
    Some(rq.wrapping_add(delta))
}

/// The waker to credit: `current` (the current task's tid), or a pseudo-waker when this
/// runs in hardirq/NMI or softirq-serving context.
#[inline(always)]
pub fn waker(current: u32) -> u32 {
    if global(&IRQ_DETECT) == 0 {
        return current;
    }
    let Some(slot) = PREEMPT_ADDR.get_ptr_mut(0) else {
        return current;
    };
    // SAFETY: this CPU's element; tracing programs do not nest on a CPU.
    let mut addr = unsafe { *slot };
    if addr == 0 {
        // Not cached when it fails (a read refused, or a runqueue of another CPU):
        // tried again at the next wakeup rather than given up on this CPU.
        let Some(a) = preempt_addr() else {
            return current;
        };
        addr = a;
        // SAFETY: as above.
        unsafe { *slot = addr };
    }
    let Some(pc) = read::<u32>(addr) else {
        return current;
    };
    if pc & PREEMPT_HARDIRQ_NMI_MASK != 0 {
        WAKER_HARDIRQ
    } else if pc & PREEMPT_SOFTIRQ_OFFSET != 0 {
        WAKER_SOFTIRQ
    } else {
        current
    }
}
