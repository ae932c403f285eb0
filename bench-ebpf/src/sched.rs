//! The `sched_switch` probe: voluntary / involuntary switches and on-CPU time per
//! target thread.
use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{btf_tracepoint, map},
    maps::HashMap,
    programs::BtfTracePointContext,
};
use bench_common::{ThreadSched, MAX_TARGETS};

use crate::maps::{is_target, measuring, task_tid};

/// Scheduler counters per target thread id.
#[map]
pub static THREADS: HashMap<u32, ThreadSched> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
/// unsigned int prev_state)`.
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch(ctx: BtfTracePointContext) -> i32 {
    on_switch(&ctx);
    0
}

#[inline(always)]
fn on_switch(ctx: &BtfTracePointContext) {
    let preempt: u64 = ctx.arg(0);
    let prev: *const u8 = ctx.arg(1);
    let next: *const u8 = ctx.arg(2);
    let prev_state: u64 = ctx.arg(3);
    let now = unsafe { bpf_ktime_get_ns() };
    let on = measuring();

    if let Some(tid) = task_tid(prev) {
        if is_target(tid) {
            switched_out(tid, preempt as u8 != 0, prev_state as u32, now, on);
        }
    }
    if let Some(tid) = task_tid(next) {
        if is_target(tid) {
            switched_in(tid, now);
        }
    }
}

#[inline(always)]
fn entry(tid: u32) -> Option<*mut ThreadSched> {
    if let Some(p) = THREADS.get_ptr_mut(&tid) {
        return Some(p);
    }
    let _ = THREADS.insert(&tid, &ThreadSched::default(), 0);
    THREADS.get_ptr_mut(&tid)
}

#[inline(always)]
fn switched_out(tid: u32, preempt: bool, prev_state: u32, now: u64, on: bool) {
    let Some(s) = entry(tid) else { return };
    // SAFETY: a thread's entry is only touched by the CPU switching it (see ThreadSched).
    let s = unsafe { &mut *s };
    if on {
        // The kernel's own rule for nvcsw/nivcsw in __schedule().
        if !preempt && prev_state != 0 {
            s.voluntary += 1;
        } else {
            s.involuntary += 1;
        }
        if s.last_in_ns != 0 && now > s.last_in_ns {
            s.oncpu_ns += now - s.last_in_ns;
        }
    }
    s.last_in_ns = 0;
}

#[inline(always)]
fn switched_in(tid: u32, now: u64) {
    let Some(s) = entry(tid) else { return };
    // SAFETY: as in switched_out.
    unsafe { (*s).last_in_ns = now };
}
