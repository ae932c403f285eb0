//! `offcpu`: voluntary / involuntary switches, on-CPU time, and how long a target
//! thread stays blocked (switched out not runnable until switched back in).
use bench_common::{fixed, sets, ThreadSched, OUT_BLOCKED, OUT_MEASURING};

use crate::maps::{enabled, record_fixed};

/// Returns true when this switch-out leaves an earlier blocked interval unpaired (no
/// switch-in was seen since the thread last blocked inside the window).
#[inline(always)]
pub fn switched_out(s: &mut ThreadSched, blocked: bool, now: u64, on: bool) -> bool {
    let mut unpaired = false;
    if on {
        if blocked {
            s.voluntary += 1;
        } else {
            s.involuntary += 1;
        }
        if s.last_in_ns != 0 && now > s.last_in_ns {
            s.oncpu_ns += now - s.last_in_ns;
        }
        if s.out_at_ns != 0 && s.out_flags == OUT_BLOCKED | OUT_MEASURING {
            s.unpaired += 1;
            unpaired = true;
        }
    }
    s.last_in_ns = 0;
    s.out_at_ns = now;
    s.out_flags = if blocked { OUT_BLOCKED } else { 0 } | if on { OUT_MEASURING } else { 0 };
    unpaired
}

/// Returns how long the thread was off CPU (0 if unknown), for the syscall accounting.
#[inline(always)]
pub fn switched_in(s: &mut ThreadSched, now: u64, on: bool, cpu: u32) -> u64 {
    s.last_in_ns = now;
    s.cpu = cpu;
    if s.out_at_ns == 0 || now < s.out_at_ns {
        s.out_at_ns = 0;
        return 0;
    }
    let off = now - s.out_at_ns;
    // Blocked time counts when the whole block lies in the window.
    if on && s.out_flags == OUT_BLOCKED | OUT_MEASURING && enabled(sets::OFFCPU) {
        record_fixed(fixed::OFFCPU, off);
    }
    s.out_at_ns = 0;
    off
}
