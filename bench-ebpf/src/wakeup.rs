//! `wakeup`: time from a target thread being woken (sched_waking) to it running
//! (sched_switch in), split by whether it ran on its waker's CPU; wakeup counts and who
//! woke whom.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_comm, bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::map,
    maps::{HashMap, PerCpuHashMap},
};
use bench_common::{fixed, prog, Target, WokeKey, COMM_LEN, MAX_TARGETS};

use crate::maps::{current_tid, increment, record_fixed};

/// (waker, wakee) → wakeups; a thread's wakeups are the sum over its wakers. Per-CPU,
/// because the wakee may be switching out on another CPU as it is woken.
#[map]
pub static WOKE: PerCpuHashMap<WokeKey, u64> = PerCpuHashMap::with_max_entries(MAX_TARGETS * 4, 0);

/// Command names of wakers, as they were when they woke a target.
#[map]
pub static COMMS: HashMap<u32, [u8; COMM_LEN]> = HashMap::with_max_entries(MAX_TARGETS * 4, 0);

#[inline(always)]
pub fn waking(wakee: u32, t: &mut Target) {
    // The first wakeup counts: a second before the wakee runs does not restart the clock.
    if t.waking.at_ns == 0 {
        t.waking.at_ns = unsafe { bpf_ktime_get_ns() };
        t.waking.waker_cpu = unsafe { bpf_get_smp_processor_id() };
    }
    let waker = current_tid();
    let key = WokeKey {
        waker_tid: waker,
        wakee_tid: wakee,
    };
    // The waker's name is read once per (waker, wakee) pair, not on every wakeup.
    if increment(&WOKE, &key, prog::SCHED_WAKING) {
        if let Ok(comm) = bpf_get_current_comm() {
            // An existing entry (the same waker, another wakee) is fine.
            let _ = COMMS.insert(&waker, &comm, BPF_NOEXIST as u64);
        }
    }
}

/// A wakeup recorded before the wakee switches out is stale: it was woken while still
/// on its CPU (the kernel's ttwu_runnable path) and never waited to run. Without this
/// its next real switch-in would report a latency spanning the whole time in between.
#[inline(always)]
pub fn switched_out(t: &mut Target) {
    t.waking.at_ns = 0;
}

#[inline(always)]
pub fn switched_in(t: &mut Target, now: u64, cpu: u32) {
    let at = t.waking.at_ns;
    if at == 0 {
        return;
    }
    t.waking.at_ns = 0;
    if now >= at {
        let slot = if t.waking.waker_cpu == cpu {
            fixed::WAKEUP_SAME_CPU
        } else {
            fixed::WAKEUP_CROSS_CPU
        };
        record_fixed(slot, now - at, prog::SCHED_SWITCH);
    }
}
