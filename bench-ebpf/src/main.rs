//! evbench's kernel programs. One module per probe set; the hot paths do map lookups
//! and arithmetic only. Built for bpfel-unknown-none by `cargo xtask build`.
#![no_std]
#![no_main]

mod maps;
mod sched;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path; this is never called.
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
