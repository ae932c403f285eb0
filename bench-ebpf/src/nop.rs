//! `nop`: programs that return at once — no helper, no map — on exactly the tracepoints
//! the default probe sets attach. What any probe there costs on this machine: the floor
//! the default sets are measured against (`cargo xtask bench overhead`).
use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};

#[btf_tracepoint(function = "sched_switch")]
pub fn nop_sched_switch(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sched_waking")]
pub fn nop_sched_waking(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sys_enter")]
pub fn nop_sys_enter(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sys_exit")]
pub fn nop_sys_exit(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sched_process_fork")]
pub fn nop_sched_process_fork(_ctx: BtfTracePointContext) -> i32 {
    0
}
