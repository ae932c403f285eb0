//! `offcpu`: voluntary / involuntary switches, on-CPU time, and how long a target
//! thread stays blocked (switched out not runnable until switched back in).
use bench_common::{metric, prog, OUT_BLOCKED, OUT_MEASURING};

use crate::maps::{record, thread};

#[inline(always)]
pub fn switched_out(tid: u32, blocked: bool, now: u64, on: bool) {
    let Some(s) = thread(tid, prog::SCHED_SWITCH) else {
        return;
    };
    // SAFETY: a thread's entry is only touched by the CPU switching it (see ThreadSched).
    let s = unsafe { &mut *s };
    if on {
        if blocked {
            s.voluntary += 1;
        } else {
            s.involuntary += 1;
        }
        if s.last_in_ns != 0 && now > s.last_in_ns {
            s.oncpu_ns += now - s.last_in_ns;
        }
    }
    if on && s.out_at_ns != 0 && s.out_flags == OUT_BLOCKED | OUT_MEASURING {
        s.unpaired += 1;
    }
    s.last_in_ns = 0;
    s.out_at_ns = now;
    s.out_flags = if blocked { OUT_BLOCKED } else { 0 } | if on { OUT_MEASURING } else { 0 };
}

/// Returns how long the thread was off CPU (0 if unknown), for the syscall accounting.
#[inline(always)]
pub fn switched_in(tid: u32, now: u64, on: bool) -> u64 {
    let Some(s) = thread(tid, prog::SCHED_SWITCH) else {
        return 0;
    };
    // SAFETY: as in switched_out.
    let s = unsafe { &mut *s };
    s.last_in_ns = now;
    if s.out_at_ns == 0 || now < s.out_at_ns {
        return 0;
    }
    let off = now - s.out_at_ns;
    // Blocked time counts when the whole block lies in the window.
    if on
        && s.out_flags == OUT_BLOCKED | OUT_MEASURING
        && crate::maps::enabled(bench_common::sets::OFFCPU)
    {
        record(metric::OFFCPU, 0, off, prog::SCHED_SWITCH);
    }
    s.out_at_ns = 0;
    off
}
