//! `wakeup`: time from a target thread being woken (sched_waking) to it running
//! (sched_switch in), split by whether it ran on its waker's CPU; wakeup counts and who
//! woke whom.
//!
//! Bookkeeping: every wakeup counted at sched_waking (inside the window) has exactly one
//! latency sample. It is normally recorded at the wakee's switch-in (waking → switch-in).
//! A wakee woken before it switched out — on its way to sleep, the kernel's
//! `ttwu_runnable` path — never waited for that wakeup: its sample is 0 ns, recorded at
//! its next switch-out if that is a preemption (it did not block), or at its next
//! wakeup if it blocked again. A wakeup still unresolved when the figures are read is
//! reported as pending. A wakee that blocked before the waker's sched_waking ran but
//! whose switch-out is traced after it (the short cross-CPU wakeups) keeps its wakeup
//! pending through the switch-out, so the switch-in records its real latency.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::bpf_get_current_comm,
    macros::map,
    maps::{HashMap, PerCpuArray, PerCpuHashMap},
};
use bench_common::{fixed, Target, WokeCell, WokeKey, COMM_LEN, MAX_TARGETS, WOKE_CACHE_CELLS};

use crate::maps::record_fixed;

/// (waker, wakee) → wakeups, for pairs evicted from `WOKE_CACHE`; a thread's wakeups
/// are the sum over its wakers of both. Per-CPU, because wakers on several CPUs may
/// wake the same wakee at once.
#[map]
pub static WOKE: PerCpuHashMap<WokeKey, u64> = PerCpuHashMap::with_max_entries(MAX_TARGETS * 4, 0);

/// This CPU's direct-mapped who-woke-whom cache: one inlined array read per wakeup.
#[map]
pub static WOKE_CACHE: PerCpuArray<WokeCell> = PerCpuArray::with_max_entries(WOKE_CACHE_CELLS, 0);

/// Command names of wakers, as they were when they first woke a target.
#[map]
pub static COMMS: HashMap<u32, [u8; COMM_LEN]> = HashMap::with_max_entries(MAX_TARGETS * 4, 0);

#[inline(always)]
fn sample(t: &mut Target, cpu: u32, lat: u64) {
    let slot = if t.waking.waker_cpu == cpu {
        fixed::WAKEUP_SAME_CPU
    } else {
        fixed::WAKEUP_CROSS_CPU
    };
    record_fixed(slot, lat);
    t.waking.pending = 0;
}

/// A wakeup of target `wakee` by thread `waker` at `now` on `cpu`. Returns false when a
/// map update failed (the wakeup is then missing from who-woke-whom).
#[inline(always)]
pub fn waking(waker: u32, wakee: u32, t: &mut Target, now: u64, cpu: u32, on: bool) -> bool {
    // The previous wakeup was never followed by a switch-in: the wakee was still on its
    // CPU when woken (see the module's docs). Its sample is 0, on the wakee's CPU.
    if t.waking.pending != 0 {
        let wakee_cpu = t.sched.cpu;
        sample(t, wakee_cpu, 0);
    }
    if !on {
        return true;
    }
    t.waking = bench_common::Waking {
        at_ns: now,
        waker_cpu: cpu,
        pending: 1,
    };
    count(waker, wakee)
}

#[inline(always)]
fn count(waker: u32, wakee: u32) -> bool {
    let i = (waker ^ wakee.wrapping_mul(0x9E37_79B1)) % WOKE_CACHE_CELLS;
    let Some(c) = WOKE_CACHE.get_ptr_mut(i) else {
        return false;
    };
    // SAFETY: this CPU's cell; tracing programs do not nest on a CPU.
    let c = unsafe { &mut *c };
    if c.waker_tid == waker && c.wakee_tid == wakee {
        c.count += 1;
        return true;
    }
    // A miss: move the cell's pair to the hash, and take the cell.
    let mut ok = true;
    if c.count != 0 {
        ok = add(
            &WokeKey {
                waker_tid: c.waker_tid,
                wakee_tid: c.wakee_tid,
            },
            c.count,
        );
    }
    c.waker_tid = waker;
    c.wakee_tid = wakee;
    c.count = 1;
    // The waker's name, read once per pair taking a cell.
    if let Ok(comm) = bpf_get_current_comm() {
        // An existing entry (the same waker, another wakee) is fine.
        let _ = COMMS.insert(waker, comm, BPF_NOEXIST as u64);
    }
    ok
}

#[inline(always)]
fn add(key: &WokeKey, n: u64) -> bool {
    if let Some(v) = WOKE.get_ptr_mut(key) {
        // SAFETY: this CPU's copy of the value.
        unsafe { *v += n };
        return true;
    }
    if WOKE.insert(key, n, BPF_NOEXIST as u64).is_ok() {
        return true;
    }
    match WOKE.get_ptr_mut(key) {
        // SAFETY: as above.
        Some(v) => {
            unsafe { *v += n };
            true
        }
        None => false,
    }
}

/// The wakee switches out; `blocked`: it is going to sleep.
#[inline(always)]
pub fn switched_out(t: &mut Target, blocked: bool, cpu: u32) {
    // Woken while still on its CPU and not blocking: it never waited for that wakeup.
    // When blocked, the wakeup may have raced ahead of this tracepoint for a task that
    // really sleeps: keep it for the switch-in (or the next wakeup resolves it as 0).
    if t.waking.pending != 0 && !blocked {
        sample(t, cpu, 0);
    }
}

#[inline(always)]
pub fn switched_in(t: &mut Target, now: u64, cpu: u32) {
    if t.waking.pending == 0 {
        return;
    }
    let lat = now.saturating_sub(t.waking.at_ns);
    sample(t, cpu, lat);
}
