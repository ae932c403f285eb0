//! The scheduler tracepoints. Several probe sets share them, so each program is one
//! entry point that hands the event to the sets that are enabled; the per-set logic
//! lives in that set's file.
use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use aya_log_ebpf::warn;
use bench_common::{prog, rare, sets, PLACE_NONE, TASK_DEAD};

use crate::{
    irq,
    maps::{
        adopt, cur, current_tid, enabled, find, lookup_cached, measuring, rare_event, set_current,
        target_run, task_runtime, task_tid,
    },
    offcpu, syscalls, wakestacks, wakeup,
};

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
/// unsigned int prev_state)`. Also keeps this CPU's `CUR` (is the running task a
/// target?) for the other programs.
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = cur() else {
        return 0;
    };
    // Both ids straight from the BTF-typed arguments; prev's entry usually from this
    // CPU's cache (it was the last next here).
    let prev_task: *const u8 = ctx.arg(1);
    let prev_tid = task_tid(prev_task);
    let (mut prev_place, mut prev) = lookup_cached(c, prev_tid);
    if prev.is_none() {
        // prev is the current task here: `--cgroup` / `--comm` may adopt it (its
        // first stint check, when it made no syscall since it came on this CPU).
        if let Some((place, t)) = crate::adopt::current(c, prev_tid, prog::SCHED_SWITCH) {
            (prev_place, prev) = (place, Some(t));
        }
    }
    let next: *const u8 = ctx.arg(2);
    let next_tid = task_tid(next);
    let (next_place, next) = find(next_tid);
    set_current(c, next_tid, next_place);
    if prev_place == PLACE_NONE && next.is_none() {
        return 0;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let on = measuring();
    if on {
        target_run(prog::SCHED_SWITCH);
    }
    if let Some(t) = prev {
        // SAFETY: the target's entry; see `Target` for who touches which part.
        let t = unsafe { &mut *t };
        let preempt: u64 = ctx.arg(0);
        let prev_state: u64 = ctx.arg(3);
        // The kernel's own rule for nvcsw/nivcsw in __schedule().
        let blocked = preempt as u8 == 0 && prev_state as u32 != 0;
        if offcpu::switched_out(&mut t.sched, blocked, now, on)
            && rare_event(prog::SCHED_SWITCH, rare::UNPAIRED)
        {
            warn!(
                &ctx,
                "sched_switch: tid {}: unpaired switch-out: blocked again with no switch-in seen since it last blocked",
                prev_tid
            );
        }
        if enabled(sets::WAKEUP) {
            wakeup::switched_out(t, blocked);
        }
        // Its CPU time so far, exact here (see `ThreadSched::runtime_ns`): the targets'
        // CPU time of a thread that exits is its value at the last switch-out.
        t.sched.runtime_ns = task_runtime(prev_task);
        if prev_state as u32 & TASK_DEAD != 0 {
            t.sched.dead = 1;
            // prev is still the current task here: its final name, kept after exit.
            if let Ok(comm) = bpf_get_current_comm() {
                wakeup::set_comm(prev_tid, &comm);
            }
        }
    }
    if let Some(t) = next {
        // SAFETY: as above.
        let t = unsafe { &mut *t };
        let off_ns = offcpu::switched_in(&mut t.sched, now, on, cpu);
        if enabled(sets::SYSCALLS) && off_ns != 0 {
            syscalls::off_cpu_inside(t, off_ns);
        }
        if enabled(sets::WAKEUP) {
            wakeup::switched_in(t, now, cpu);
        }
    }
    0
}

/// `sched_waking(struct task_struct *p)`: fires in the waker's context.
#[btf_tracepoint(function = "sched_waking")]
pub fn sched_waking(ctx: BtfTracePointContext) -> i32 {
    let wakee: *const u8 = ctx.arg(0);
    let tid = task_tid(wakee);
    let (_, Some(t)) = find(tid) else {
        return 0;
    };
    let on = measuring();
    if on {
        target_run(prog::SCHED_WAKING);
    }
    if enabled(sets::WAKEUP) {
        // In interrupt context the current task did not wake anyone: a pseudo-waker.
        let waker = irq::waker(current_tid());
        let now = unsafe { bpf_ktime_get_ns() };
        let cpu = unsafe { bpf_get_smp_processor_id() };
        // SAFETY: the target's entry.
        if !wakeup::waking(waker, tid, unsafe { &mut *t }, now, cpu, on)
            && rare_event(prog::SCHED_WAKING, rare::MAP_UPDATE_FAILED)
        {
            warn!(
                &ctx,
                "sched_waking: tid {}: map update failed: WOKE is full, wakeup by tid {} missing from who-woke-whom",
                tid,
                waker
            );
        }
    }
    if on && enabled(sets::WAKESTACKS) {
        wakestacks::waking(&ctx, tid);
    }
    0
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct *child)`: also
/// fires for new threads. Children of a target become targets, so processes a
/// workload's task starts are followed without the workload reporting them.
#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    let parent: *const u8 = ctx.arg(0);
    let (_, Some(p)) = find(task_tid(parent)) else {
        return 0;
    };
    // SAFETY: the label is copied out before any update.
    let label = unsafe { (*p).label };
    let child: *const u8 = ctx.arg(1);
    let ctid = task_tid(child);
    if measuring() {
        target_run(prog::SCHED_PROCESS_FORK);
    }
    // The child's CPU time starts at 0 (sched_fork); its name is its parent's, which
    // is the current task here. Kept for the per-thread table, also after it exits.
    if let Ok(comm) = bpf_get_current_comm() {
        wakeup::set_comm(ctid, &comm);
    }
    if !adopt(ctid, label, task_runtime(child))
        && rare_event(prog::SCHED_PROCESS_FORK, rare::TARGETS_FULL)
    {
        warn!(
            &ctx,
            "sched_process_fork: tid {}: target table full: child {} of a target is not followed",
            task_tid(parent),
            ctid
        );
    }
    0
}
