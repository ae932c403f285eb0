//! `wakestacks`: the kernel stack of each wakeup of a target thread, aggregated with
//! counts — which kernel path woke it, on a kernel that forbids function probes. The
//! stack walk is costly, so its time is measured and reported on its own.
use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{PerCpuHashMap, StackTrace},
    programs::{tracing::StackIdContext, BtfTracePointContext},
};
use bench_common::{prog, MAX_STACKS};

use crate::maps::{cost, dropped, increment, target_run};

#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(MAX_STACKS, 0);

/// Stack id → wakeups that took that path.
#[map]
pub static STACK_COUNTS: PerCpuHashMap<u32, u64> = PerCpuHashMap::with_max_entries(MAX_STACKS, 0);

#[inline(always)]
pub fn waking(ctx: &BtfTracePointContext) {
    let t0 = unsafe { bpf_ktime_get_ns() };
    match ctx.get_stackid(&STACKS, 0) {
        Ok(id) => {
            let _ = increment(&STACK_COUNTS, &(id as u32), prog::WAKESTACKS);
        }
        Err(_) => dropped(prog::WAKESTACKS),
    }
    target_run(prog::WAKESTACKS);
    cost(prog::WAKESTACKS, unsafe { bpf_ktime_get_ns() } - t0);
}
