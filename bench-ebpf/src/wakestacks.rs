//! `wakestacks`: the kernel stack of each wakeup of a target thread, aggregated with
//! counts — which kernel path woke it, on a kernel that forbids function probes. The
//! stack walk is costly, so its time is measured and reported on its own.
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{PerCpuHashMap, StackTrace},
    programs::{tracing::StackIdContext, BtfTracePointContext},
};
use aya_log_ebpf::warn;
use bench_common::{prog, rare, MAX_STACKS};

use crate::maps::{cost, rare_event, target_run};

#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(MAX_STACKS, 0);

/// Stack id → wakeups that took that path.
#[map]
pub static STACK_COUNTS: PerCpuHashMap<u32, u64> = PerCpuHashMap::with_max_entries(MAX_STACKS, 0);

#[inline(always)]
fn increment(id: u32) -> bool {
    if let Some(c) = STACK_COUNTS.get_ptr_mut(id) {
        // SAFETY: this CPU's copy of the value.
        unsafe { *c += 1 };
        return true;
    }
    if STACK_COUNTS.insert(id, 1, BPF_NOEXIST as u64).is_ok() {
        return true;
    }
    match STACK_COUNTS.get_ptr_mut(id) {
        Some(c) => {
            // SAFETY: as above.
            unsafe { *c += 1 };
            true
        }
        None => false,
    }
}

#[inline(always)]
pub fn waking(ctx: &BtfTracePointContext, wakee: u32) {
    let t0 = unsafe { bpf_ktime_get_ns() };
    let ok = match ctx.get_stackid(&STACKS, 0) {
        Ok(id) => increment(id as u32),
        Err(_) => false,
    };
    if !ok && rare_event(prog::WAKESTACKS, rare::SAMPLE_DROPPED) {
        warn!(
            ctx,
            "sched_waking: tid {}: sample dropped: wakeup stack not recorded (STACKS or STACK_COUNTS full)",
            wakee
        );
    }
    target_run(prog::WAKESTACKS);
    cost(prog::WAKESTACKS, unsafe { bpf_ktime_get_ns() } - t0);
}
