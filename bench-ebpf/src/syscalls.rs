//! `syscalls`: per-syscall latency (sys_enter → sys_exit) and counts per target thread,
//! and the on-CPU part of each syscall (its time minus the off-CPU time inside it).
use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{btf_tracepoint, map},
    maps::PerCpuHashMap,
    programs::BtfTracePointContext,
};
use bench_common::{metric, prog, InSyscall, SyscallKey, Target, MAX_TARGETS};

use crate::maps::{current_target, increment, measuring, record, target_run};

/// (thread, syscall number) → completed syscalls.
#[map]
pub static SYSCOUNT: PerCpuHashMap<SyscallKey, u64> =
    PerCpuHashMap::with_max_entries(MAX_TARGETS * 8, 0);

/// `sys_enter(struct pt_regs *regs, long id)`.
#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter(ctx: BtfTracePointContext) -> i32 {
    let Some((_, t)) = current_target() else {
        return 0;
    };
    // Entered before the window opened is fine: what counts is returning inside it.
    if measuring() {
        target_run(prog::SYS_ENTER);
    }
    let id: i64 = ctx.arg(1);
    // SAFETY: only the thread itself touches its `syscall` part.
    unsafe {
        (*t).syscall = InSyscall {
            entered_ns: bpf_ktime_get_ns(),
            offcpu_ns: 0,
            nr: id as u32,
            _pad: 0,
        };
    }
    0
}

/// `sys_exit(struct pt_regs *regs, long ret)`. A syscall counts when it returns inside
/// the window: that makes the counts exact at the window's edges, where a task may be
/// blocked in a call it entered before the window opened (the call that delivers the
/// first measured message) or enter one just as it closes (waiting for a next one).
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(_ctx: BtfTracePointContext) -> i32 {
    let Some((tid, t)) = current_target() else {
        return 0;
    };
    // SAFETY: as in sys_enter.
    let t = unsafe { &mut *t };
    let s = t.syscall;
    if s.entered_ns == 0 {
        return 0;
    }
    t.syscall.entered_ns = 0;
    if !measuring() {
        return 0;
    }
    target_run(prog::SYS_EXIT);
    let lat = unsafe { bpf_ktime_get_ns() }.saturating_sub(s.entered_ns);
    record(metric::SYSCALL, s.nr, lat, prog::SYS_EXIT);
    record(
        metric::SYSCALL_ONCPU,
        s.nr,
        lat.saturating_sub(s.offcpu_ns),
        prog::SYS_EXIT,
    );
    let _ = increment(&SYSCOUNT, &SyscallKey { tid, nr: s.nr }, prog::SYS_EXIT);
    t.syscalls += 1;
    0
}

/// Called from sched_switch when the thread comes back on CPU after `off_ns` away.
#[inline(always)]
pub fn off_cpu_inside(t: &mut Target, off_ns: u64) {
    if t.syscall.entered_ns != 0 {
        t.syscall.offcpu_ns += off_ns;
    }
}
