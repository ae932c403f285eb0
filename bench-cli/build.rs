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
    git_commit(&manifest);
}

/// Embeds `git describe --always --dirty` as EVBENCH_GIT_COMMIT (results provenance);
/// EVBENCH_GIT_COMMIT in the environment wins (builds from a tarball).
fn git_commit(manifest: &std::path::Path) {
    use std::process::Command;
    println!("cargo:rerun-if-env-changed=EVBENCH_GIT_COMMIT");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(manifest)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = std::env::var("EVBENCH_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["describe", "--always", "--dirty", "--abbrev=12"]))
        .unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves or the index changes (commits, checkouts, staging).
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]).unwrap_or_default();
    for what in ["HEAD", "index", branch.as_str()] {
        if what.is_empty() {
            continue;
        }
        if let Some(p) = git(&["rev-parse", "--git-path", what]) {
            let p = manifest.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    println!("cargo:rustc-env=EVBENCH_GIT_COMMIT={commit}");
}
