//! `kfunc`: fentry → fexit latency of one kernel function, named at load time
//! (`--kfunc NAME`). Needs BPF trampolines, which some kernels refuse (EPERM).
use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{fentry, fexit, map},
    maps::HashMap,
    programs::{FEntryContext, FExitContext},
};
use bench_common::{metric, prog, MAX_TARGETS};

use crate::maps::{current_target, current_tid, dropped, measuring, record, target_run};

#[map]
pub static KFUNC_ENTERED: HashMap<u32, u64> = HashMap::with_max_entries(MAX_TARGETS, 0);

#[fentry]
pub fn kfunc_entry(_ctx: FEntryContext) -> i32 {
    if let (Some(tid), true) = (current_target(), measuring()) {
        target_run(prog::KFUNC_ENTRY);
        if KFUNC_ENTERED
            .insert(&tid, &unsafe { bpf_ktime_get_ns() }, 0)
            .is_err()
        {
            dropped(prog::KFUNC_ENTRY);
        }
    }
    0
}

#[fexit]
pub fn kfunc_exit(_ctx: FExitContext) -> i32 {
    let tid = current_tid();
    // SAFETY: copied out before the entry is removed.
    if let Some(t0) = (unsafe { KFUNC_ENTERED.get(&tid) }).copied() {
        let _ = KFUNC_ENTERED.remove(&tid);
        target_run(prog::KFUNC_EXIT);
        record(
            metric::KFUNC,
            0,
            unsafe { bpf_ktime_get_ns() }.saturating_sub(t0),
            prog::KFUNC_EXIT,
        );
    }
    0
}
