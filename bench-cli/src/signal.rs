//! Ctrl-C: the first one asks the workload to stop after its current operation so the
//! figures measured so far are still reported; a second one exits at once.
use std::sync::{atomic::AtomicBool, Arc};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use workloads::stop::Stop;

/// Exit status after an interrupted run (128 + SIGINT, as shells report it).
pub const INTERRUPTED_EXIT: u8 = 130;

pub fn install() -> Result<Stop> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the conditional exit fires only if the flag is already set.
        signal_hook::flag::register_conditional_shutdown(
            sig,
            INTERRUPTED_EXIT.into(),
            flag.clone(),
        )
        .context("cannot install the signal handler")?;
        signal_hook::flag::register(sig, flag.clone())
            .context("cannot install the signal handler")?;
    }
    Ok(Stop::from_flag(flag))
}
