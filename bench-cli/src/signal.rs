//! Ctrl-C (SIGINT) and SIGTERM: the first one asks the workload to stop after its
//! current operation so the figures measured so far are still reported; a second one
//! exits at once. Which signal stopped the run decides its message ("interrupted" or
//! "terminated") and its exit status (128 + the signal's number, as shells report it).
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use workloads::stop::Stop;

/// Exit status after a run stopped by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED_EXIT: u8 = 130;
/// Exit status after a run stopped by SIGTERM (128 + SIGTERM).
pub const TERMINATED_EXIT: u8 = 143;

/// Set by the SIGTERM handler, so the report can say which signal stopped the run.
static TERMINATED: AtomicBool = AtomicBool::new(false);
/// Set by either handler.
static RECEIVED: AtomicBool = AtomicBool::new(false);

/// Installs the handlers (SIGINT and SIGTERM) and returns the stop flag they set.
/// Errors: the handlers cannot be registered (one sentence).
pub fn install() -> Result<Stop> {
    let flag = Arc::new(AtomicBool::new(false));
    for (sig, code) in [(SIGINT, INTERRUPTED_EXIT), (SIGTERM, TERMINATED_EXIT)] {
        // Order matters: the conditional exit fires only if the flag is already set.
        signal_hook::flag::register_conditional_shutdown(sig, code.into(), flag.clone())
            .context("cannot install the signal handler")?;
        signal_hook::flag::register(sig, flag.clone())
            .context("cannot install the signal handler")?;
        // SAFETY: the action only stores to atomics, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                RECEIVED.store(true, Ordering::SeqCst);
                if sig == SIGTERM {
                    TERMINATED.store(true, Ordering::SeqCst);
                }
            })
        }
        .context("cannot install the signal handler")?;
    }
    Ok(Stop::from_flag(flag))
}

/// Whether SIGINT or SIGTERM has been received since [`install`].
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}

/// What stopped the run, for messages: (`"terminated"`, `"SIGTERM"`) after SIGTERM,
/// else (`"interrupted"`, `"Ctrl-C"`).
pub fn cause() -> (&'static str, &'static str) {
    if TERMINATED.load(Ordering::SeqCst) {
        ("terminated", "SIGTERM")
    } else {
        ("interrupted", "Ctrl-C")
    }
}

/// The exit status of a run a signal stopped: 143 after SIGTERM, else 130.
pub fn exit_code() -> u8 {
    if TERMINATED.load(Ordering::SeqCst) {
        TERMINATED_EXIT
    } else {
        INTERRUPTED_EXIT
    }
}

/// Name of the environment variable of the hidden test hook [`test_pause`].
pub const TEST_PAUSE_ENV: &str = "EVBENCH_TEST_PAUSE";

/// Hidden test hook: when `EVBENCH_TEST_PAUSE` names `phase` (setup, warmup, clean,
/// probed, report), says `evbench: test pause at PHASE` on stderr and holds there until
/// `stop` is set (a signal), so a test can signal a run in a named phase for sure
/// rather than by sleeping. Holds at most once: once `stop` is set it returns at once.
/// Costs one environment lookup per call otherwise.
pub fn test_pause(phase: &str, stop: &Stop) {
    if stop.is_set() || std::env::var_os(TEST_PAUSE_ENV).is_none_or(|p| p != phase) {
        return;
    }
    eprintln!("evbench: test pause at {phase}");
    while !stop.is_set() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// [`test_pause`] at the start of a pass: phase `warmup` for a warm-up pass, else the
/// pass's own name (`clean`, `probed`).
pub fn test_pause_pass(warmup: bool, pass: &str, stop: &Stop) {
    test_pause(if warmup { "warmup" } else { pass }, stop);
}
