//! `cargo xtask bench baseline --out FILE`: a stored baseline for `evbench compare`: the
//! default suite, 5 repeats per case, probes on, on this machine. Only valid against runs
//! on the same machine kind (compare --strict checks); README's CI recipe measures the
//! baseline in the same job instead. Only plumbing: the figures are evbench's own.
use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args)]
pub struct BaselineArgs {
    /// Repeats per case (compare needs at least 3 per side to judge).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(3..))]
    pub repeat: u32,
    /// Where the results document goes.
    #[arg(long, default_value = "baseline.json")]
    pub out: String,
}

/// Runs the default suite with the built `evbench` and writes the document.
pub fn run(root: &Path, evbench: &Path, a: &BaselineArgs) -> Result<()> {
    let out = root.join(&a.out);
    let status = Command::new(evbench)
        .args(["run", "--repeat", &a.repeat.to_string(), "-o"])
        .arg(&out)
        .current_dir(root)
        .status()
        .context("cannot start evbench")?;
    if !status.success() {
        bail!("evbench run --repeat {} failed ({status})", a.repeat);
    }
    eprintln!(
        "xtask: wrote {}; compare runs of this machine kind against it with --strict",
        out.display()
    );
    Ok(())
}
