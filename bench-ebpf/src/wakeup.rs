//! `wakeup`: time from a target thread being woken (sched_waking) to it running
//! (sched_switch in), split by whether it ran on its waker's CPU; wakeup counts and who
//! woke whom.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_comm, bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::map,
    maps::{HashMap, PerCpuHashMap},
};
use bench_common::{metric, prog, Waking, WokeKey, COMM_LEN, MAX_TARGETS};

use crate::maps::{current_tid, dropped, increment, record};

/// Wakeups not yet followed by the wakee running, by wakee thread id.
#[map]
pub static WAKING: HashMap<u32, Waking> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// (waker, wakee) → wakeups; a thread's wakeups are the sum over its wakers. Per-CPU,
/// because the wakee may be switching out on another CPU as it is woken.
#[map]
pub static WOKE: PerCpuHashMap<WokeKey, u64> = PerCpuHashMap::with_max_entries(MAX_TARGETS * 4, 0);

/// Command names of wakers, as they were when they woke a target.
#[map]
pub static COMMS: HashMap<u32, [u8; COMM_LEN]> = HashMap::with_max_entries(MAX_TARGETS * 4, 0);

#[inline(always)]
pub fn waking(wakee: u32) {
    let now = unsafe { bpf_ktime_get_ns() };
    let w = Waking {
        at_ns: now,
        waker_cpu: unsafe { bpf_get_smp_processor_id() },
        _pad: 0,
    };
    // The first wakeup counts: a second before the wakee runs does not restart the clock.
    let _ = WAKING.insert(&wakee, &w, BPF_NOEXIST as u64);
    let waker = current_tid();
    increment(
        &WOKE,
        &WokeKey {
            waker_tid: waker,
            wakee_tid: wakee,
        },
        prog::SCHED_WAKING,
    );
    // SAFETY: presence test only.
    if unsafe { COMMS.get(&waker) }.is_none() {
        if let Ok(comm) = bpf_get_current_comm() {
            if COMMS.insert(&waker, &comm, BPF_NOEXIST as u64).is_err()
                && unsafe { COMMS.get(&waker) }.is_none()
            {
                dropped(prog::SCHED_WAKING);
            }
        }
    }
}

/// A wakeup recorded before the wakee switches out is stale: it was woken while still
/// on its CPU (the kernel's ttwu_runnable path) and never waited to run. Without this
/// its next real switch-in would report a latency spanning the whole time in between.
#[inline(always)]
pub fn switched_out(tid: u32) {
    let _ = WAKING.remove(&tid);
}

#[inline(always)]
pub fn switched_in(tid: u32, now: u64, cpu: u32) {
    // SAFETY: copied out before the entry is removed.
    let Some(w) = (unsafe { WAKING.get(&tid) }).copied() else {
        return;
    };
    let _ = WAKING.remove(&tid);
    if now >= w.at_ns {
        let m = if w.waker_cpu == cpu {
            metric::WAKEUP_SAME_CPU
        } else {
            metric::WAKEUP_CROSS_CPU
        };
        record(m, 0, now - w.at_ns, prog::SCHED_SWITCH);
    }
}
