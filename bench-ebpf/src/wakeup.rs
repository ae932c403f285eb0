//! `wakeup`: time from a target thread being woken (sched_waking) to it running
//! (sched_switch in), split by whether it ran on its waker's CPU; wakeup counts and who
//! woke whom.
//!
//! Bookkeeping: every wakeup counted at sched_waking (inside the window) ends up in
//! exactly one of three places. Paired — the wakee's next switch-in follows it — its
//! latency (waking → switch-in) goes into the histogram. Unpaired — resolved without
//! such a switch-in: the wakee was woken before it switched out (on its way to sleep,
//! the kernel's `ttwu_runnable` path) and then was preempted rather than blocking, or
//! it was woken again before any switch-in, or the switch-in's clock is not after the
//! waking — it is counted in `Waking::unpaired` and kept out of the histogram (it has
//! no latency: a 0 there would be made up). Still unresolved when the figures are read:
//! pending. So wakeups = histogram samples + unpaired + pending. A wakee that blocked
//! before the waker's sched_waking ran but whose switch-out is traced after it (the
//! short cross-CPU wakeups) keeps its wakeup pending through the switch-out, so the
//! switch-in records its real latency.
//!
//! Who woke whom: the waker is the current task, except in interrupt context
//! (`crate::irq`), where the pseudo-wakers `WAKER_HARDIRQ` / `WAKER_SOFTIRQ` are
//! credited instead of whichever task the interrupt happened to land on.
use aya_ebpf::{
    bindings::{BPF_ANY, BPF_NOEXIST},
    helpers::bpf_get_current_comm,
    macros::map,
    maps::{HashMap, PerCpuArray, PerCpuHashMap},
};
use bench_common::{
    fixed, Target, WokeCell, WokeKey, COMM_LEN, MAX_TARGETS, WAKER_SOFTIRQ, WOKE_CACHE_CELLS,
};

use crate::maps::record_fixed;

/// (waker, wakee) → wakeups, for pairs evicted from `WOKE_CACHE`; a thread's wakeups
/// are the sum over its wakers of both. Per-CPU, because wakers on several CPUs may
/// wake the same wakee at once.
#[map]
pub static WOKE: PerCpuHashMap<WokeKey, u64> = PerCpuHashMap::with_max_entries(MAX_TARGETS * 4, 0);

/// This CPU's direct-mapped who-woke-whom cache: one inlined array read per wakeup.
#[map]
pub static WOKE_CACHE: PerCpuArray<WokeCell> = PerCpuArray::with_max_entries(WOKE_CACHE_CELLS, 0);

/// Command names by tid: of wakers (as of their latest wakeup taking a cache cell),
/// and of targets (when they became one, on exec or rename, and at their last
/// switch-out), so the per-thread table names threads that have exited.
#[map]
pub static COMMS: HashMap<u32, [u8; COMM_LEN]> = HashMap::with_max_entries(MAX_TARGETS * 4, 0);

/// Records `comm` as thread `tid`'s name, replacing an older one (a thread's name
/// changes on exec and rename). A full map loses the name only.
#[inline(always)]
pub fn set_comm(tid: u32, comm: &[u8; COMM_LEN]) {
    let _ = COMMS.insert(tid, comm, BPF_ANY as u64);
}

/// The pending wakeup is paired with a switch-in on `cpu` `lat` ns after it.
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

/// The pending wakeup ends with no latency to record.
#[inline(always)]
fn unpaired(t: &mut Target) {
    t.waking.pending = 0;
    t.waking.unpaired += 1;
}

/// A wakeup of target `wakee` by thread `waker` at `now` on `cpu`. Returns false when a
/// map update failed (the wakeup is then missing from who-woke-whom).
#[inline(always)]
pub fn waking(waker: u32, wakee: u32, t: &mut Target, now: u64, cpu: u32, on: bool) -> bool {
    // The previous wakeup was never followed by a switch-in (see the module's docs).
    if t.waking.pending != 0 {
        unpaired(t);
    }
    if !on {
        return true;
    }
    t.waking.at_ns = now;
    t.waking.waker_cpu = cpu;
    t.waking.pending = 1;
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
    // The waker's name, read once per pair taking a cell (its latest: it may have
    // exec'd since). A pseudo-waker (interrupt context) has no task to name.
    if waker < WAKER_SOFTIRQ {
        if let Ok(comm) = bpf_get_current_comm() {
            set_comm(waker, &comm);
        }
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
pub fn switched_out(t: &mut Target, blocked: bool) {
    // Woken while still on its CPU and not blocking: it never waited for that wakeup.
    // When blocked, the wakeup may have raced ahead of this tracepoint for a task that
    // really sleeps: keep it for the switch-in (or the next wakeup makes it unpaired).
    if t.waking.pending != 0 && !blocked {
        unpaired(t);
    }
}

#[inline(always)]
pub fn switched_in(t: &mut Target, now: u64, cpu: u32) {
    if t.waking.pending == 0 {
        return;
    }
    // A switch-in not after the waking pairs with nothing (a latency of 0 or less is
    // not one).
    if now <= t.waking.at_ns {
        unpaired(t);
        return;
    }
    let lat = now - t.waking.at_ns;
    sample(t, cpu, lat);
}
