//! `kfunc`: fentry → fexit latency of one kernel function, named at load time
//! (`--kfunc NAME`). Needs BPF trampolines, which some kernels refuse (EPERM).
use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};
use bench_common::{fixed, prog};

use crate::maps::{current_target, measuring, record_fixed, target_run};

#[fentry]
pub fn kfunc_entry(_ctx: FEntryContext) -> i32 {
    if let (Some((_, t)), true) = (current_target(), measuring()) {
        target_run(prog::KFUNC_ENTRY);
        // SAFETY: only the thread itself touches this field.
        unsafe { (*t).kfunc_entered_ns = bpf_ktime_get_ns() };
    }
    0
}

#[fexit]
pub fn kfunc_exit(_ctx: FExitContext) -> i32 {
    let Some((_, t)) = current_target() else {
        return 0;
    };
    // SAFETY: as in kfunc_entry.
    let t = unsafe { &mut *t };
    if t.kfunc_entered_ns != 0 {
        let lat = unsafe { bpf_ktime_get_ns() }.saturating_sub(t.kfunc_entered_ns);
        t.kfunc_entered_ns = 0;
        target_run(prog::KFUNC_EXIT);
        record_fixed(fixed::KFUNC, lat);
    }
    0
}
