//! evbench's kernel programs. One module per probe set (`nop`: the floor); the hot paths do map lookups
//! and arithmetic only. Built for bpfel-unknown-none by `cargo xtask build`.
#![no_std]
#![no_main]

mod adopt;
mod doctor;
mod irq;
mod kfunc;
mod maps;
mod nop;
mod offcpu;
mod sched;
mod syscalls;
mod wakestacks;
mod wakeup;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path; this is never called.
    loop {}
}

/// GPL-compatible as the kernel requires for bpf_probe_read_kernel and friends; the
/// source stays under the project's MIT terms ("Dual MIT/GPL" is on the kernel's list).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
