//! `cargo xtask bench baseline`: regenerates `results/baseline.json`, the reference
//! `evbench compare` judges CI runs against: the default suite, 5 repeats per case,
//! probes on, on this machine kind. Only plumbing: the figures are evbench's own.
use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args)]
pub struct BaselineArgs {
    /// Repeats per case (compare needs at least 3 per side to judge).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(3..))]
    pub repeat: u32,
    /// Where the results document goes.
    #[arg(long, default_value = "results/baseline.json")]
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
        "xtask: wrote {}; commit it so CI compares against it",
        out.display()
    );
    Ok(())
}
