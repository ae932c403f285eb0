//! `syscalls`: per-syscall latency (sys_enter → sys_exit) and exact counts per target
//! thread, and the on-CPU part of each syscall (its time minus the off-CPU time inside
//! it).
//!
//! Counts are exact; the latency of 1 call in `SYSCALL_SAMPLE` per (thread, syscall
//! number) is timed — per number, so a ping-pong's alternating read/write rhythm cannot
//! alias with the sampling (an every-Nth counter over all calls with even N would time
//! only one of them). The sampled count is kept beside the exact one.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_prandom_u32, bpf_ktime_get_ns},
    macros::{btf_tracepoint, map},
    maps::PerCpuHashMap,
    programs::BtfTracePointContext,
};
use aya_log_ebpf::warn;
use bench_common::{
    metric, prog, rare, InSyscall, SysCount, SyscallKey, Target, MAX_TARGETS, SYS_IN_HASH,
    SYS_TABLE,
};

use crate::maps::{current_target, measuring, rare_event, record_sys, syscall_sample, target_run};

/// (thread, syscall number) → completed and sampled syscalls, for the numbers beyond a
/// thread's own `SYS_TABLE` cells.
#[map]
pub static SYSCOUNT: PerCpuHashMap<SyscallKey, SysCount> =
    PerCpuHashMap::with_max_entries(MAX_TARGETS * 8, 0);

/// The cell of `nr` in the thread's table (claiming a free one), or `SYS_IN_HASH`.
#[inline(always)]
fn cell(t: &mut Target, nr: u32) -> u32 {
    let want = nr.wrapping_add(1);
    let mut i = 0;
    while i < SYS_TABLE {
        let c = &mut t.sys_counts[i];
        if c.nr_plus1 == want {
            return i as u32;
        }
        if c.nr_plus1 == 0 {
            c.nr_plus1 = want;
            return i as u32;
        }
        i += 1;
    }
    SYS_IN_HASH
}

/// `sys_enter(struct pt_regs *regs, long id)`.
#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter(ctx: BtfTracePointContext) -> i32 {
    // A task that is not a target may become one here (`--cgroup`, `--comm`).
    let Some((_, t)) = crate::adopt::current_target(prog::SYS_ENTER) else {
        return 0;
    };
    // SAFETY: only the thread itself touches its `syscall` and `sys_counts` parts.
    let t = unsafe { &mut *t };
    // Entered before the window opened is fine: what counts is returning inside it.
    // This program's own runs count inside the window (the session's cost estimate).
    if measuring() {
        target_run(prog::SYS_ENTER);
    }
    let id: i64 = ctx.arg(1);
    let nr = id as u32;
    let idx = cell(t, nr);
    let n = syscall_sample();
    let sampled = if n <= 1 {
        true
    } else if let Some(c) = t.sys_counts.get(idx as usize) {
        // N is a load-time constant: for a power of two the verifier keeps only the mask.
        if n.is_power_of_two() {
            c.count & (n as u64 - 1) == 0
        } else {
            c.count % n as u64 == 0
        }
    } else {
        // Numbers counted in the hash: no per-number counter at hand, so a random draw
        // (still independent of the workload's rhythm).
        let r = unsafe { bpf_get_prandom_u32() };
        r % n == 0
    };
    t.syscall = InSyscall {
        entered_ns: if sampled {
            unsafe { bpf_ktime_get_ns() }
        } else {
            0
        },
        offcpu_ns: 0,
        nr,
        idx,
        active: 1,
        sampled: sampled as u32,
    };
    0
}

/// `sys_exit(struct pt_regs *regs, long ret)`. A syscall counts when it returns inside
/// the window: that makes the counts exact at the window's edges, where a task may be
/// blocked in a call it entered before the window opened (the call that delivers the
/// first measured message) or enter one just as it closes (waiting for a next one).
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    let Some((tid, t)) = current_target() else {
        return 0;
    };
    // SAFETY: as in sys_enter.
    let t = unsafe { &mut *t };
    let s = t.syscall;
    if s.active == 0 {
        return 0;
    }
    t.syscall.active = 0;
    if !measuring() {
        return 0;
    }
    target_run(prog::SYS_EXIT);
    t.syscalls += 1;
    let sampled = s.sampled as u64;
    match t.sys_counts.get_mut(s.idx as usize) {
        Some(c) => {
            c.count += 1;
            c.sampled += sampled;
        }
        None => {
            if !count_in_hash(tid, s.nr, sampled)
                && rare_event(prog::SYS_EXIT, rare::MAP_UPDATE_FAILED)
            {
                warn!(
                    &ctx,
                    "sys_exit: tid {}: map update failed: SYSCOUNT is full, syscall {} not counted",
                    tid,
                    s.nr
                );
            }
        }
    }
    if s.sampled != 0 {
        let lat = unsafe { bpf_ktime_get_ns() }.saturating_sub(s.entered_ns);
        let ok = record_sys(s.nr, metric::SYSCALL, lat)
            && record_sys(s.nr, metric::SYSCALL_ONCPU, lat.saturating_sub(s.offcpu_ns));
        if !ok && rare_event(prog::SYS_EXIT, rare::SAMPLE_DROPPED) {
            warn!(
                &ctx,
                "sys_exit: tid {}: sample dropped: no histogram row for syscall {}", tid, s.nr
            );
        }
    }
    0
}

#[inline(always)]
fn count_in_hash(tid: u32, nr: u32, sampled: u64) -> bool {
    let key = SyscallKey { tid, nr };
    if let Some(c) = SYSCOUNT.get_ptr_mut(key) {
        // SAFETY: this CPU's copy of the value.
        unsafe {
            (*c).count += 1;
            (*c).sampled += sampled;
        }
        return true;
    }
    let v = SysCount {
        nr_plus1: 0,
        _pad: 0,
        count: 1,
        sampled,
    };
    if SYSCOUNT.insert(key, v, BPF_NOEXIST as u64).is_ok() {
        return true;
    }
    // Another CPU created it between the lookup and the insert: count on our copy.
    match SYSCOUNT.get_ptr_mut(key) {
        Some(c) => {
            // SAFETY: as above.
            unsafe {
                (*c).count += 1;
                (*c).sampled += sampled;
            }
            true
        }
        None => false,
    }
}

/// Called from sched_switch when the thread comes back on CPU after `off_ns` away.
#[inline(always)]
pub fn off_cpu_inside(t: &mut Target, off_ns: u64) {
    if t.syscall.active != 0 {
        t.syscall.offcpu_ns += off_ns;
    }
}
