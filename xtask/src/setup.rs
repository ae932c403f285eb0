//! `cargo xtask setup`: installs exactly what a fresh machine lacks to build the eBPF
//! object — the nightly's rust-src, Debian's LLVM 22, and bpf-linker built against it —
//! and checks that the nightly's LLVM matches bpf-linker's. Idempotent, one line per step.
use std::{path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

/// The LLVM major version of the image's nightly and of the bpf-linker we build.
const LLVM_MAJOR: u32 = 22;
const BPF_LINKER_VERSION: &str = "0.13.0";

/// One setup step: `Ok(None)` when nothing was needed, `Ok(Some(what was done))`.
type Step = fn() -> Result<Option<String>>;

/// `verbose`: print a line for each step even when nothing needs doing.
pub fn run(verbose: bool) -> Result<()> {
    let steps: [(&str, Step); 4] = [
        ("nightly toolchain with rust-src", nightly_rust_src),
        ("LLVM 22 (llvm-22-dev)", llvm),
        ("bpf-linker", bpf_linker),
        ("nightly and bpf-linker LLVM versions", llvm_match),
    ];
    for (name, step) in steps {
        match step().with_context(|| format!("setup step '{name}'"))? {
            Some(did) => eprintln!("setup: {name}: {did}"),
            None if verbose => eprintln!("setup: {name}: ok"),
            None => {}
        }
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

fn run_cmd(cmd: &mut Command, manual: &str) -> Result<()> {
    let status = cmd.status().with_context(|| {
        format!(
            "cannot start {:?}; run by hand: {manual}",
            cmd.get_program()
        )
    })?;
    if !status.success() {
        bail!(
            "{:?} failed ({status}); run by hand: {manual}",
            cmd.get_program()
        );
    }
    Ok(())
}

fn nightly_rust_src() -> Result<Option<String>> {
    let has_nightly = output(Command::new("rustup").args(["toolchain", "list"]))
        .is_some_and(|s| s.lines().any(|l| l.starts_with("nightly")));
    let sysroot =
        output(Command::new("rustup").args(["run", "nightly", "rustc", "--print", "sysroot"]));
    let has_src = sysroot
        .as_deref()
        .map(|s| PathBuf::from(s.trim()).join("lib/rustlib/src/rust/library/core"))
        .is_some_and(|p| p.is_dir());
    if has_nightly && has_src {
        return Ok(None);
    }
    let manual = "rustup toolchain install nightly --component rust-src";
    if has_nightly {
        run_cmd(
            Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
            "rustup component add rust-src --toolchain nightly",
        )?;
        Ok(Some("added rust-src".into()))
    } else {
        run_cmd(
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--component",
                "rust-src",
            ]),
            manual,
        )?;
        Ok(Some("installed nightly with rust-src".into()))
    }
}

fn llvm_prefix() -> PathBuf {
    PathBuf::from(format!("/usr/lib/llvm-{LLVM_MAJOR}"))
}

fn llvm() -> Result<Option<String>> {
    let lib = llvm_prefix().join(format!("lib/libLLVM.so.{LLVM_MAJOR}.1"));
    let config = llvm_prefix().join("bin/llvm-config");
    if lib.exists() && config.exists() {
        return Ok(None);
    }
    let manual = format!("apt-get update && apt-get install -y llvm-{LLVM_MAJOR}-dev");
    if !is_root() || output(Command::new("which").arg("apt-get")).is_none() {
        bail!(
            "LLVM {LLVM_MAJOR} is missing and this user cannot install it; run as root: {manual}"
        );
    }
    run_cmd(Command::new("apt-get").args(["update", "-qq"]), &manual)?;
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", &format!("llvm-{LLVM_MAJOR}-dev")])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &manual,
    )?;
    Ok(Some(format!("installed llvm-{LLVM_MAJOR}-dev")))
}

fn bpf_linker_version() -> Option<String> {
    output(Command::new("bpf-linker").arg("--version"))
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
}

fn bpf_linker() -> Result<Option<String>> {
    if bpf_linker_version().as_deref() == Some(BPF_LINKER_VERSION) {
        return Ok(None);
    }
    let manual = format!(
        "LLVM_PREFIX={} cargo install bpf-linker@{BPF_LINKER_VERSION} --locked --no-default-features --features llvm-{LLVM_MAJOR}",
        llvm_prefix().display()
    );
    eprintln!("setup: bpf-linker: building {BPF_LINKER_VERSION} against LLVM {LLVM_MAJOR} (about a minute)");
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        &format!("bpf-linker@{BPF_LINKER_VERSION}"),
        "--locked",
        "--force",
    ])
    .args([
        "--no-default-features",
        "--features",
        &format!("llvm-{LLVM_MAJOR}"),
    ])
    // Without it the build script looks in /usr and cannot find -lLLVM.
    .env("LLVM_PREFIX", llvm_prefix());
    for var in [
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    run_cmd(&mut cmd, &manual)?;
    Ok(Some(format!("installed {BPF_LINKER_VERSION}")))
}

/// bpf-linker links libLLVM dynamically; it must be the LLVM the nightly emits bitcode for.
fn llvm_match() -> Result<Option<String>> {
    let vv = output(Command::new("rustup").args(["run", "nightly", "rustc", "-vV"]))
        .context("cannot run the nightly rustc")?;
    let nightly_major: u32 = vv
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .context("the nightly rustc does not report its LLVM version")?;
    let linker =
        output(Command::new("which").arg("bpf-linker")).context("bpf-linker is not on PATH")?;
    let ldd = output(Command::new("ldd").arg(linker.trim())).unwrap_or_default();
    let linker_major: Option<u32> = ldd
        .split_whitespace()
        .find_map(|w| w.strip_prefix("libLLVM.so."))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .or_else(|| {
            ldd.split_whitespace().find_map(|w| {
                w.strip_prefix("libLLVM-")?
                    .strip_suffix(".so")?
                    .parse()
                    .ok()
            })
        });
    match linker_major {
        Some(m) if m == nightly_major => Ok(None),
        Some(m) => bail!(
            "the nightly emits LLVM {nightly_major} bitcode but bpf-linker is linked against LLVM {m}; \
             install llvm-{nightly_major}-dev and rebuild bpf-linker with LLVM_PREFIX=/usr/lib/llvm-{nightly_major} \
             and --features llvm-{nightly_major}"
        ),
        None => bail!("cannot tell which LLVM bpf-linker uses (ldd shows no libLLVM); reinstall it with `cargo xtask setup`"),
    }
}
