//! Developer workflows for evbench: `cargo xtask setup | build | run | test | clippy |
//! bench | fuzz | soak`.
//!
//! No product logic lives here: this crate installs the eBPF toolchain, builds the
//! kernel object, and hands its path to the user-side build.
mod baseline;
mod bench;
mod bench_emulations;
mod bench_gate;
mod bench_http;
mod bench_pipetest;
mod bench_scaling;
mod figures;
mod fuzz;
mod modgraph;
mod overhead;
mod setup;
mod soak;

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Where `evbench` lands after `cargo xtask build`.
pub const BIN_PATH: &str = "target/release/evbench";
/// Environment variable through which the CLI build finds the eBPF object.
pub const EBPF_OBJ_ENV: &str = "EVBENCH_EBPF_OBJ";

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "evbench developer workflows",
    after_help = "Examples:\n  cargo xtask setup      install what a fresh machine lacks (idempotent)\n  cargo xtask run        build everything, then run the default suite\n  cargo xtask run -- run pingpong --rounds 10000\n  cargo xtask test       the whole test suite (needs root for the eBPF tests)\n  cargo xtask fuzz --time 20   each fuzz target 20 s\n  cargo xtask soak --time 10m  leak check of long-lived evbench processes"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the nightly's rust-src, LLVM 22 and bpf-linker when missing.
    Setup,
    /// Build the eBPF object only.
    BuildEbpf,
    /// Build the eBPF object, then `evbench` (release) into target/release/evbench.
    Build,
    /// Build, then run `evbench` with the given arguments (default: `run`, the default suite).
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the eBPF object, then run every test (extra arguments go to `cargo test`).
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the eBPF object, then `cargo clippy --all-targets -- -D warnings`.
    Clippy,
    /// Build, then run a benchmark against reference tools; figures go to results/.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run each cargo-fuzz target of fuzz/ for --time seconds from its seed corpus;
    /// figures to results/fuzz.md, fails naming the crash input when one is found.
    Fuzz(fuzz::FuzzArgs),
    /// Build, then keep one `evbench serve` (under repeated `evbench load`) and one
    /// `evbench run pingpong --repeat auto` alive for --time, sampled every 10 s;
    /// figures to results/soak.md, fails unless fds, threads, BPF objects and RSS stay flat.
    Soak(soak::SoakArgs),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// evbench pingpong vs `perf bench sched pipe`, alternating, threads and processes.
    Pingpong(bench::PingpongBench),
    /// Every HTTP wait mode and lighttpd under the same load, alternating; wrk vs evbench load.
    Http(bench_http::BenchHttpArgs),
    /// Probe cost: ping-pong with probes none / default / all and under bpftrace, alternating.
    Overhead(overhead::OverheadBench),
    /// The kevent emulation vs epoll in pipetest (one active channel, and batched).
    Kevent(bench_emulations::EmulationBench),
    /// The EFD_MASK emulations (socketpair, FUSE) vs eventfd in pipetest and pingpong.
    EfdMask(bench_emulations::EmulationBench),
    /// evbench pipetest (default options: its AVG is the clean pass's) vs a C peer.
    Pipetest(bench_pipetest::PipetestBench),
    /// A stored baseline (--out FILE): the default suite, 5 repeats, on this machine.
    Baseline(baseline::BaselineArgs),
    /// The regression gate's false and true alarms on this machine (README's CI recipe,
    /// same binary, injected --think slowdowns) → results/bench-gate.{md,json}.
    Gate(bench_gate::GateBench),
    /// The scaling curves (issue 19: pipetest against channels per wait mode, fanout
    /// against waiters, HTTP against connections), each an `evbench run --scan`, with
    /// fits and plots → results/scaling.{md,json}, results/scaling/*.svg (within 60
    /// minutes; --quick: a smoke run).
    Scaling(bench_scaling::ScalingBench),
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match cli.cmd {
        Cmd::Setup => setup::run(true),
        Cmd::BuildEbpf => build_ebpf(&root).map(|_| ()),
        Cmd::Build => build(&root),
        Cmd::Run { args } => {
            build(&root)?;
            let args = if args.is_empty() {
                vec!["run".to_string()]
            } else {
                args
            };
            let status = Command::new(root.join(BIN_PATH)).args(&args).status()?;
            exit_like(status)
        }
        Cmd::Test { args } => {
            // The tests signal their children (evbench, bpftrace) with SIGINT/SIGQUIT:
            // they must not inherit them ignored from however this was started (a
            // script's background job ignores both, and ignored dispositions survive
            // exec), so the suite behaves the same from a terminal, a CI or `nohup`.
            // SAFETY: setting dispositions before any thread or child exists.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            }
            let obj = build_ebpf(&root)?;
            cargo(
                &obj,
                &[
                    "test",
                    "--release",
                    "--workspace",
                    "--exclude",
                    "bench-ebpf",
                ],
                &args,
            )
        }
        Cmd::Bench(BenchCmd::Pingpong(a)) => {
            build(&root)?;
            bench::pingpong(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::Http(args)) => bench_http::run(&root, &args),
        Cmd::Bench(BenchCmd::Overhead(a)) => {
            build(&root)?;
            overhead::run(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::Kevent(a)) => {
            build(&root)?;
            bench_emulations::kevent(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::EfdMask(a)) => {
            build(&root)?;
            bench_emulations::efd_mask(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::Pipetest(a)) => {
            build(&root)?;
            bench_pipetest::run_bench(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::Baseline(a)) => {
            build(&root)?;
            baseline::run(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::Gate(a)) => {
            if !a.render_only {
                build(&root)?;
            }
            bench_gate::run(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Bench(BenchCmd::Scaling(a)) => {
            if !a.render_only {
                build(&root)?;
            }
            bench_scaling::run(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Fuzz(a) => {
            let obj = build_ebpf(&root)?;
            fuzz::run(&root, &obj, &a)
        }
        Cmd::Soak(a) => {
            build(&root)?;
            soak::run(&root, &root.join(BIN_PATH), &a)
        }
        Cmd::Clippy => {
            check_layers(&root)?;
            unused_dependencies(&root)?;
            let obj = build_ebpf(&root)?;
            cargo(
                &obj,
                &[
                    "clippy",
                    "--workspace",
                    "--exclude",
                    "bench-ebpf",
                    "--all-targets",
                ],
                &["--".into(), "-D".into(), "warnings".into()],
            )
        }
    }
}

/// bench-cli's rooms must form no import cycle (issue 11): every `crate::` and `super::`
/// path counts, in `use` and in function bodies alike.
fn check_layers(root: &Path) -> Result<()> {
    let found = modgraph::check(&root.join("bench-cli/src"), "evbench")?;
    if found.is_empty() {
        eprintln!("xtask: bench-cli/src: no import cycle");
        return Ok(());
    }
    for c in &found {
        eprintln!("xtask: {c}");
    }
    bail!("bench-cli/src has {} import cycle(s)", found.len())
}

/// Dependencies declared and not used fail the lint (cargo-machete reads every
/// package's sources for each declared crate's name; installed here when missing).
fn unused_dependencies(root: &Path) -> Result<()> {
    const MACHETE: &str = "0.9.2";
    // Under `cargo run`, cargo hands this process CARGO_PKG_NAME and friends; cargo-machete
    // would read CARGO_PKG_NAME as a path to scan, so its commands run without them.
    let machete = |args: &[&str]| {
        let mut c = Command::new("cargo");
        c.arg("machete").args(args).current_dir(root);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                ]
                .contains(&k.as_ref())
            {
                c.env_remove(k.as_ref());
            }
        }
        c
    };
    let have = machete(&["--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("xtask: installing cargo-machete {MACHETE} (about a minute)");
        let status = Command::new("cargo")
            .args(["install", "--locked", &format!("cargo-machete@{MACHETE}")])
            .status()
            .context("cannot start cargo install")?;
        if !status.success() {
            bail!("cargo install cargo-machete@{MACHETE} failed ({status})");
        }
    }
    let status = machete(&[])
        .status()
        .context("cannot start cargo machete")?;
    if !status.success() {
        bail!("cargo machete found dependencies declared and not used (listed above)");
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn exit_like(status: std::process::ExitStatus) -> Result<()> {
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => std::process::exit(code),
        None => bail!("terminated by a signal ({status})"),
    }
}

/// A host cargo command with the eBPF object's path handed to the CLI build.
fn cargo(obj: &Path, base: &[&str], extra: &[String]) -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(base)
        .args(extra)
        .env(EBPF_OBJ_ENV, obj)
        .status()
        .with_context(|| format!("cannot start cargo {}", base[0]))?;
    exit_like(status)
}

fn build(root: &Path) -> Result<()> {
    let obj = build_ebpf(root)?;
    cargo(&obj, &["build", "--release", "--package", "bench-cli"], &[])?;
    eprintln!("xtask: evbench is at {}", root.join(BIN_PATH).display());
    Ok(())
}

/// Builds bench-ebpf for bpfel-unknown-none with the nightly and returns the object path.
fn build_ebpf(root: &Path) -> Result<PathBuf> {
    setup::run(false)?;
    let target = "bpfel-unknown-none";
    // BTF needs debug info, and bpf-linker emits it only with --btf.
    let rustflags = [
        "--cfg=bpf_target_arch=\"x86_64\"",
        "-Cdebuginfo=2",
        "-Clink-arg=--btf",
    ]
    .join("\x1f");
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "build", "--release"])
        .args(["--package", "bench-ebpf", "--target", target])
        .args(["-Z", "build-std=core"])
        .current_dir(root)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    // Without clearing these, the inner build silently stays on the outer (stable) toolchain.
    for var in [
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().context("cannot start the nightly cargo")?;
    if !status.success() {
        bail!("building the eBPF object failed ({status})");
    }
    let obj = root.join("target").join(target).join("release/bench-ebpf");
    if !obj.is_file() {
        bail!("the eBPF build succeeded but {} is missing", obj.display());
    }
    Ok(obj)
}
