//! Maps and globals shared by every probe set: which threads are targets, and whether
//! the workload is in its measured window.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap},
};
use bench_common::{TargetInfo, CONTROL_MEASURING, CONTROL_SLOTS, MAX_TARGETS};

/// Target thread ids (the workload's own tasks, never the CLI's).
#[map]
pub static TARGETS: HashMap<u32, TargetInfo> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// Run-time switches written by user space (see `bench_common::CONTROL_*`).
#[map]
pub static CONTROL: Array<u32> = Array::with_max_entries(CONTROL_SLOTS, 0);

/// `offsetof(struct task_struct, pid)`, set at load time from the kernel's BTF.
#[unsafe(no_mangle)]
static TASK_PID_OFFSET: u32 = 0;

#[inline(always)]
pub fn measuring() -> bool {
    matches!(CONTROL.get(CONTROL_MEASURING), Some(&1))
}

#[inline(always)]
pub fn is_target(tid: u32) -> bool {
    // SAFETY: the value is only read, and its layout is shared through bench-common.
    unsafe { TARGETS.get(&tid).is_some() }
}

/// Thread id of a `struct task_struct *` handed to a BTF tracepoint.
#[inline(always)]
pub fn task_tid(task: *const u8) -> Option<u32> {
    // SAFETY: read_volatile keeps the compiler from folding the load-time constant.
    let off = unsafe { core::ptr::read_volatile(&TASK_PID_OFFSET) };
    // SAFETY: bpf_probe_read_kernel checks the address; a failure is an error, not a fault.
    unsafe { aya_ebpf::helpers::bpf_probe_read_kernel(task.add(off as usize) as *const i32) }
        .ok()
        .map(|pid| pid as u32)
}
