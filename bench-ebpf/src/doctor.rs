//! Programs `evbench doctor` loads to learn what this kernel allows. They never run in
//! a measurement: loading (and, for the kprobe, attaching) them is the test.
use aya_ebpf::{
    macros::{fentry, kprobe, socket_filter},
    programs::{FEntryContext, ProbeContext, SkBuffContext},
};

/// The simplest program type: can this user load BPF at all?
#[socket_filter]
pub fn doctor_trivial(_ctx: SkBuffContext) -> i64 {
    0
}

/// Trampolines (fentry/fexit): needed by the `kfunc` probe set only.
#[fentry(function = "do_nanosleep")]
pub fn doctor_fentry(_ctx: FEntryContext) -> i32 {
    0
}

/// kprobes: none of our probe sets needs them, but users ask.
#[kprobe]
pub fn doctor_kprobe(_ctx: ProbeContext) -> u32 {
    0
}
