//! The control block shared by the harness (controller) and the tasks, in a `MAP_SHARED`
//! mapping so threads and forked processes use the same code, plus the control-path
//! helpers (futex waits with timeouts, per-task switch counters).
use std::{
    io,
    sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering},
    time::Duration,
};

use crate::shm::ZeroShared;

/// Most tasks one ping-pong runs (ring:N or fanout:N-1).
pub const MAX_TASKS: usize = 128;
/// Distinct histogram values the driver can hand back. A 1 ns..100 s histogram at 3
/// significant digits has fewer than 60k distinct value ranges; real runs use a few
/// hundred.
const HIST_PAIRS: usize = 65_536;
const ERR_LEN: usize = 240;

/// Task states in [`Slot::state`] (0, the zeroed value, is "starting").
pub const READY: u32 = 1;
pub const EXITED: u32 = 2;
pub const FAILED: u32 = 3;

/// `go` and `measure` values.
pub const GO: u32 = 1;
pub const ABORT: u32 = 2;

/// One task's figures and state.
#[repr(C)]
pub struct Slot {
    pub tid: AtomicU32,
    pub state: AtomicU32,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub wait_returns: AtomicU64,
    err_len: AtomicU32,
    err: [AtomicU8; ERR_LEN],
}

impl Slot {
    /// Records why the task failed (truncated) and marks it failed.
    pub fn fail(&self, msg: &str) {
        let b = msg.as_bytes();
        let n = b.len().min(ERR_LEN);
        for (d, s) in self.err.iter().zip(&b[..n]) {
            d.store(*s, Ordering::Relaxed);
        }
        self.err_len.store(n as u32, Ordering::Relaxed);
        self.state.store(FAILED, Ordering::Release);
    }

    pub fn error(&self) -> String {
        let n = (self.err_len.load(Ordering::Acquire) as usize).min(ERR_LEN);
        let b: Vec<u8> = self.err[..n]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    }
}

/// Keeps a field on its own cache line(s).
#[repr(C, align(128))]
pub struct Padded<T>(pub T);

/// Everything the controller and the tasks share.
#[repr(C)]
pub struct Control {
    /// Controller → tasks: set-up done, start (GO) or leave (ABORT).
    pub go: AtomicU32,
    /// Driver → controller: warm-up done, waiting for `measure`.
    pub warmed: AtomicU32,
    /// Controller → driver: open the measured window (GO) or leave (ABORT).
    pub measure: AtomicU32,
    /// Driver → controller: measured window closed, results written.
    pub finished: AtomicU32,
    /// Controller → driver: the figures are sampled, leave (GO or ABORT). Until then
    /// the driver stays alive so its /proc counters can be read.
    pub release: AtomicU32,
    /// Driver → everyone: no real message is in flight any more; leave at the next wake.
    pub done: AtomicU32,
    /// Controller → driver: stop after the current round trip (Ctrl-C, a failed task).
    pub stop: AtomicU32,
    /// Driver's round trips so far (warm-up included), for the stall watchdog. On its
    /// own cache line: the driver writes it every round trip, the others read the flags.
    pub progress: Padded<AtomicU64>,
    pub rounds: AtomicU64,
    pub elapsed_ns: AtomicU64,
    pub hist_len: AtomicU64,
    pub hist: [[AtomicU64; 2]; HIST_PAIRS],
    pub slots: [Slot; MAX_TASKS],
}

// SAFETY: atomics only, all valid at zero, no pointers.
unsafe impl ZeroShared for Control {}

impl Control {
    /// Stores the driver's histogram as (value, count) pairs; lossless because every
    /// value recorded again lands in the same bucket.
    pub fn put_histogram(&self, h: &hdrhistogram::Histogram<u64>) -> io::Result<()> {
        let mut n = 0;
        for v in h.iter_recorded() {
            let slot = self
                .hist
                .get(n)
                .ok_or_else(|| io::Error::other("latency histogram has too many values"))?;
            slot[0].store(v.value_iterated_to(), Ordering::Relaxed);
            slot[1].store(v.count_at_value(), Ordering::Relaxed);
            n += 1;
        }
        self.hist_len.store(n as u64, Ordering::Release);
        Ok(())
    }

    pub fn take_histogram(&self, h: &mut hdrhistogram::Histogram<u64>) {
        let n = (self.hist_len.load(Ordering::Acquire) as usize).min(HIST_PAIRS);
        for p in &self.hist[..n] {
            h.saturating_record_n(p[0].load(Ordering::Relaxed), p[1].load(Ordering::Relaxed));
        }
    }
}

/// Sets `word` to `value` and wakes everyone waiting on it (any process).
pub fn set_and_wake(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::Release);
    // SAFETY: word is a valid aligned u32; FUTEX_WAKE only reads its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// Sleeps while `word` still holds `expected`, at most `timeout` (spurious returns are
/// fine: every caller re-checks in a loop).
pub fn wait_while(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: word is a valid aligned u32, ts a valid relative timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        )
    };
}

/// Voluntary and involuntary context switches of one task so far: the kernel's per-task
/// nvcsw / nivcsw, the counters getrusage(RUSAGE_THREAD) returns, read from /proc so
/// the controller can sample every task at the same window edges.
pub fn switches(tgid: u32, tid: u32) -> io::Result<(u64, u64)> {
    let path = format!("/proc/{tgid}/task/{tid}/status");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{tgid}/task/{tid}/status")))
    };
    Ok((
        field("voluntary_ctxt_switches:")?,
        field("nonvoluntary_ctxt_switches:")?,
    ))
}
