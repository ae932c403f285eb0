//! The scheduler tracepoints. Several probe sets share them, so each program is one
//! entry point that hands the event to the sets that are enabled; the per-set logic
//! lives in that set's file.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use bench_common::{prog, sets, Target};

use crate::{
    maps::{
        current_target, dropped, enabled, measuring, target_run, target_task, task_ids,
        widen_prefilter, TARGETS,
    },
    offcpu, syscalls, wakestacks, wakeup,
};

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
/// unsigned int prev_state)`.
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch(ctx: BtfTracePointContext) -> i32 {
    // prev is the task running this tracepoint: its ids need no memory read.
    let prev = current_target();
    let next: *const u8 = ctx.arg(2);
    let next = target_task(next);
    if prev.is_none() && next.is_none() {
        return 0;
    }
    let preempt: u64 = ctx.arg(0);
    let prev_state: u64 = ctx.arg(3);
    let now = unsafe { bpf_ktime_get_ns() };
    let on = measuring();
    if on {
        target_run(prog::SCHED_SWITCH);
    }
    if let Some((_, t)) = prev {
        // SAFETY: the target's entry; see `Target` for who touches which part.
        let t = unsafe { &mut *t };
        // The kernel's own rule for nvcsw/nivcsw in __schedule().
        let blocked = preempt as u8 == 0 && prev_state as u32 != 0;
        offcpu::switched_out(&mut t.sched, blocked, now, on);
        if enabled(sets::WAKEUP) {
            wakeup::switched_out(t);
        }
    }
    if let Some((_, t)) = next {
        // SAFETY: as above.
        let t = unsafe { &mut *t };
        let off_ns = offcpu::switched_in(&mut t.sched, now, on);
        if enabled(sets::SYSCALLS) && off_ns != 0 {
            syscalls::off_cpu_inside(t, off_ns);
        }
        if enabled(sets::WAKEUP) {
            wakeup::switched_in(t, now, unsafe { bpf_get_smp_processor_id() });
        }
    }
    0
}

/// `sched_waking(struct task_struct *p)`: fires in the waker's context.
#[btf_tracepoint(function = "sched_waking")]
pub fn sched_waking(ctx: BtfTracePointContext) -> i32 {
    let wakee: *const u8 = ctx.arg(0);
    let Some((tid, t)) = target_task(wakee) else {
        return 0;
    };
    if !measuring() {
        return 0;
    }
    target_run(prog::SCHED_WAKING);
    if enabled(sets::WAKEUP) {
        // SAFETY: the target's entry.
        wakeup::waking(tid, unsafe { &mut *t });
    }
    if enabled(sets::WAKESTACKS) {
        wakestacks::waking(&ctx);
    }
    0
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct *child)`: also
/// fires for new threads. Children of a target become targets, so processes a
/// workload's task starts are followed without the workload reporting them.
#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    let parent: *const u8 = ctx.arg(0);
    let child: *const u8 = ctx.arg(1);
    let Some((_, p)) = target_task(parent) else {
        return 0;
    };
    // SAFETY: the label is copied out before any update.
    let label = unsafe { (*p).label };
    let (Some((ctid, ctgid)), Some((_, ptgid))) = (task_ids(child), task_ids(parent)) else {
        return 0;
    };
    if ctgid != ptgid {
        // A new process: the targets no longer share one thread group.
        widen_prefilter();
    }
    if TARGETS
        .insert(&ctid, &Target::new(label), BPF_NOEXIST as u64)
        .is_err()
    {
        dropped(prog::SCHED_PROCESS_FORK);
    }
    0
}
