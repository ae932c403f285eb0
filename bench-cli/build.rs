//! Finds the eBPF object that `cargo xtask build` made and hands its path to the crate
//! (`include_bytes_aligned!(env!("EVBENCH_EBPF_OBJ_PATH"))`).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=EVBENCH_EBPF_OBJ");
    let from_env = std::env::var_os("EVBENCH_EBPF_OBJ").map(PathBuf::from);
    // A plain `cargo build` after one `cargo xtask build` finds the object where it lies.
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let conventional = manifest.join("../target/bpfel-unknown-none/release/bench-ebpf");
    let obj = from_env.unwrap_or(conventional);
    if !obj.is_file() {
        eprintln!(
            "error: the eBPF object {} is missing: build through `cargo xtask build` (or `cargo xtask test` / `cargo xtask clippy`), which builds it first",
            obj.display()
        );
        std::process::exit(1);
    }
    let obj = obj.canonicalize().expect("the object exists");
    println!("cargo:rerun-if-changed={}", obj.display());
    println!("cargo:rustc-env=EVBENCH_EBPF_OBJ_PATH={}", obj.display());
}
