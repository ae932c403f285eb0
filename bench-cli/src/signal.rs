//! Ctrl-C (SIGINT) and SIGTERM: the first one asks the workload to stop after its
//! current operation so the figures measured so far are still reported; a second one
//! exits at once. Which signal stopped the run decides its message ("interrupted" or
//! "terminated") and its exit status (128 + the signal's number, as shells report it).
use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
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

/// When the first signal arrived (CLOCK_MONOTONIC ns; 0: none yet).
static FIRST_NS: AtomicU64 = AtomicU64::new(0);

/// A second signal within this long of the first is the same request: `timeout(1)`
/// sends SIGINT to evbench and again to its process group, and a terminal's Ctrl-C
/// reaches every process of the foreground group; neither means "exit at once".
const SAME_REQUEST_NS: u64 = 500_000_000;

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime is async-signal-safe and writes only to `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// What an ending signal is, as [`request`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// The first one: stop after the current operation.
    First,
    /// Within [`SAME_REQUEST_NS`] of the first: the same request again.
    Repeat,
    /// Later than that: a second request, exit at once.
    Second,
}

/// Classifies an ending signal against `first` (CLOCK_MONOTONIC ns of the first one,
/// 0: none yet), recording it when it is the first. Async-signal-safe (one clock read
/// and atomics), for the handlers of `run` and of `trace`.
pub(crate) fn request(first: &AtomicU64) -> Request {
    let now = monotonic_ns().max(1);
    match first.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => Request::First,
        Err(t) if now.saturating_sub(t) <= SAME_REQUEST_NS => Request::Repeat,
        Err(_) => Request::Second,
    }
}

/// Installs the handlers (SIGINT and SIGTERM) and returns the stop flag they set. The
/// first signal asks the run to stop; another one more than half a second later exits
/// at once (128 + its number). Errors: the handlers cannot be registered (one sentence).
pub fn install() -> Result<Stop> {
    let flag = Arc::new(AtomicBool::new(false));
    for (sig, code) in [(SIGINT, INTERRUPTED_EXIT), (SIGTERM, TERMINATED_EXIT)] {
        let flag = flag.clone();
        // SAFETY: the action only reads the clock, stores to atomics and may call
        // _exit, all async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                if request(&FIRST_NS) == Request::Second {
                    libc::_exit(i32::from(code));
                }
                RECEIVED.store(true, Ordering::SeqCst);
                if sig == SIGTERM {
                    TERMINATED.store(true, Ordering::SeqCst);
                }
                flag.store(true, Ordering::SeqCst);
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
/// probed, report; dropped: a `run --user` pass's child, after its drop), says `evbench: test pause at PHASE` on stderr and holds there until
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

/// The signals ignored (SIG_IGN) when evbench started, as a mask (bit N-1 for signal
/// N), from the kernel's `SigIgn` line of /proc/self/status; SIGPIPE left out (Rust's
/// runtime ignores it before `main`, so its state at start cannot be known; `main`
/// restores the default, and a command gets the default). Set once by [`record_ignored_at_start`].
static IGNORED_AT_START: AtomicU64 = AtomicU64::new(0);

/// Records which signals evbench was started with ignored (nohup, a background job of
/// a non-interactive shell, a supervisor): call first thing in `main`, before any
/// handler is installed. A command evbench execs gets them back through
/// [`restore_ignored_for_exec`], as env(1) or nice(1) would pass them on.
pub fn record_ignored_at_start() {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let v = s
                .lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&v, 16).ok()
        })
        .unwrap_or(0);
    let pipe = 1u64 << (libc::SIGPIPE - 1);
    IGNORED_AT_START.store(mask & !pipe, Ordering::SeqCst);
}

/// Whether signal `sig` was ignored when evbench started.
pub fn ignored_at_start(sig: libc::c_int) -> bool {
    (1..=64).contains(&sig) && IGNORED_AT_START.load(Ordering::SeqCst) & (1 << (sig - 1)) != 0
}

/// In a forked child about to exec a command: every signal evbench was started with
/// ignored is ignored again (an exec keeps SIG_IGN but resets a handler to SIG_DFL, so
/// a handler evbench or its libc installed since would make an ignored signal fatal in
/// the command), and `handled` (the signals evbench installed handlers for) that were
/// not ignored go back to SIG_DFL. Raw rt_sigaction(2): glibc's sigaction refuses the
/// two real-time signals it reserves for itself (32, 33), which a parent may still have
/// ignored. Async-signal-safe, no allocation.
pub fn restore_ignored_for_exec(handled: &[libc::c_int]) {
    /// `struct sigaction` as the kernel takes it (x86-64 and aarch64 layout).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let set = |sig: libc::c_int, handler: usize| {
        let sa = KernelSigaction {
            handler,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: rt_sigaction with a valid struct and the kernel's sigset size (8).
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &sa as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    };
    for &sig in handled {
        if !ignored_at_start(sig) {
            set(sig, libc::SIG_DFL);
        }
    }
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP && ignored_at_start(sig) {
            set(sig, libc::SIG_IGN);
        }
    }
}
