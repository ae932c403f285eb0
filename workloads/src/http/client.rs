//! The load client, on tokio, in the manner of httperf and wrk2.
//!
//! Closed loop ([`Pace::Closed`]): each connection sends its next request when the
//! previous answer has arrived. Open loop ([`Pace::Rate`]): requests go out on a fixed
//! schedule and latency is measured from each request's *scheduled* send time, so a
//! server stall shows in the percentiles instead of silently slowing the client down
//! (coordinated omission corrected, as wrk2 does). The time from the actual send is kept
//! too ([`LoadReport::service`]).
//!
//! The open loop is truthful about what it achieved: the measured window ends at the
//! duration whatever the schedule still holds; the rate reported is what was answered
//! per second of it, and requests the schedule put in the window but that had not gone
//! out, or were answered only after it closed, are counted as missed or late
//! ([`LoadReport`]). A client behind its schedule sends as fast as answers come back.
//!
//! tokio's timer fires on whole milliseconds, so in the open loop a request can go out
//! up to 1 ms after its scheduled time and that lateness is part of its latency (as in
//! wrk2, whose timers are in milliseconds too). Spinning to the exact instant was tried
//! and rejected: at high rates the spinning tasks starve the client.
//!
//! Requests scheduled during the warm-up are not measured; a warm-up backlog still
//! unsent when the window opens is dropped, but for its last [`EDGE_SLACK`]. Errors are counted by kind over the whole
//! run (warm-up included) and never as successes. Answers are read as RFC 9112 says a
//! client must (the `wire` submodule).
use std::{
    io,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use tokio::{net::TcpStream, sync::Semaphore, time::Instant};

use crate::{observer::Observer, pingpong::latency_histogram, stop::Stop};

mod wire;

use wire::{classify, Answer, Conn, Failure};

/// When requests are sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Next request when the previous answer arrived (per connection).
    Closed,
    /// This many requests per second in total, spread evenly over the connections.
    Rate(f64),
}

/// What one load run does. [`LoadConfig::validate`] says whether it can run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server.
    pub addr: SocketAddr,
    /// Concurrent connections (each has at most one request in flight).
    pub connections: usize,
    /// Closed loop, or open loop at a rate in requests per second.
    pub pace: Pace,
    /// Run before measuring; requests scheduled in it are not measured.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Reuse connections (HTTP/1.1 keep-alive); otherwise one connection per request.
    pub keep_alive: bool,
    /// The request target: origin-form (`/path?query`) or absolute-form
    /// (`http://host/path`), visible ASCII only.
    pub path: String,
    /// `Host:` header; `None` uses the address.
    pub host: Option<String>,
    /// Longest a request (with its connect, if any) may take before it counts as a
    /// timeout; also bounds the connection phase and the drain after the window.
    pub timeout: Duration,
    /// tokio worker threads.
    pub threads: usize,
    /// Connections opened at once while setting up (keeps the SYN backlog sane).
    pub connect_concurrency: usize,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            connections: 32,
            pace: Pace::Closed,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            keep_alive: true,
            path: "/".into(),
            host: None,
            timeout: Duration::from_secs(5),
            threads: 1,
            connect_concurrency: 256,
        }
    }
}

/// Longest warm-up + duration, and longest timeout, accepted (keeps every deadline
/// far from `Instant` overflow).
pub const MAX_SPAN: Duration = Duration::from_secs(10_000_000);
/// Shortest request timeout accepted (1 ms): tokio's timer wheel ticks in whole
/// milliseconds, so a shorter one could only mean "1 ms" or "at once".
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Most tokio worker threads accepted.
pub const MAX_THREADS: usize = 1024;
/// File descriptors kept free beside the connections (runtime, stdio, resolver).
pub const FD_RESERVE: u64 = 16;
/// Most requests one open-loop run may schedule: 2^53, the largest count an f64
/// schedule still holds exactly.
pub const MAX_SCHEDULED: f64 = 9_007_199_254_740_992.0;

/// `(soft RLIMIT_NOFILE, fds open now)` of this process; `None` if unreadable.
fn fd_budget() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    // The directory handle itself is one of the entries.
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some((lim.rlim_cur, open.saturating_sub(1)))
}

impl LoadConfig {
    /// Checks that the run can start, before anything starts: `Err` holds one line
    /// naming the value and why it is refused. Checked: connections ≥ 1 and, with
    /// the fds already open and [`FD_RESERVE`], within the soft `RLIMIT_NOFILE`
    /// (raise it first, e.g. with [`super::raise_nofile_limit`]); timeout ≥ [`MIN_TIMEOUT`];
    /// duration > 0; warm-up + duration and timeout ≤ [`MAX_SPAN`]; open-loop rate a
    /// finite number > 0 scheduling at most [`MAX_SCHEDULED`] requests; threads and
    /// connect concurrency ≥ 1 (threads ≤ [`MAX_THREADS`]); the target and `Host`
    /// visible ASCII (no space or control byte that would split the request).
    pub fn validate(&self) -> Result<(), String> {
        self.validate_beside(0)
    }

    /// [`LoadConfig::validate`] for a client that will start with `reserved` more fds
    /// open than now (a harness's pipes to its server child, opened between this check
    /// and the run): they count as already open.
    pub fn validate_beside(&self, reserved: u64) -> Result<(), String> {
        if self.connections == 0 {
            return Err("connections must be at least 1 (got 0)".into());
        }
        if self.timeout.is_zero() {
            return Err(
                "timeout must be longer than 0 s (got 0): every request would time out".into(),
            );
        }
        if self.timeout < MIN_TIMEOUT {
            return Err(format!(
                "timeout must be at least 1 ms (got {:?}): the client's timers count whole milliseconds",
                self.timeout
            ));
        }
        if self.timeout > MAX_SPAN {
            return Err(format!(
                "timeout must be at most {} s (got {} s)",
                MAX_SPAN.as_secs(),
                self.timeout.as_secs_f64()
            ));
        }
        if self.duration.is_zero() {
            return Err(
                "duration must be longer than 0 s (got 0): nothing would be measured".into(),
            );
        }
        let span = self.warmup.saturating_add(self.duration);
        if span > MAX_SPAN {
            return Err(format!(
                "warm-up + duration must be at most {} s (got {} s)",
                MAX_SPAN.as_secs(),
                span.as_secs_f64()
            ));
        }
        if let Pace::Rate(r) = self.pace {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!(
                    "rate must be a positive number of requests per second (got {r})"
                ));
            }
            if r * span.as_secs_f64() > MAX_SCHEDULED {
                return Err(format!(
                    "rate {r} req/s over {} s schedules more than 2^53 requests; use a lower rate",
                    span.as_secs_f64()
                ));
            }
        }
        if self.threads == 0 || self.threads > MAX_THREADS {
            return Err(format!(
                "threads must be between 1 and {MAX_THREADS} (got {})",
                self.threads
            ));
        }
        if self.connect_concurrency == 0 {
            return Err("connect concurrency must be at least 1 (got 0)".into());
        }
        let visible = |s: &str| s.bytes().all(|b| (0x21..0x7f).contains(&b));
        let form = self.path.starts_with('/')
            || self.path.starts_with("http://")
            || self.path.starts_with("https://");
        if !form || !visible(&self.path) {
            return Err(format!(
                "path must start with '/' (or be an http:// URL) and hold no space or control byte (got {:?})",
                self.path
            ));
        }
        if let Some(h) = &self.host {
            if h.is_empty() || !visible(h) {
                return Err(format!(
                    "host must be non-empty visible ASCII with no space or control byte (got {h:?})"
                ));
            }
        }
        if let Some((limit, open)) = fd_budget() {
            let open = open + reserved;
            let need = open + self.connections as u64 + FD_RESERVE;
            if need > limit {
                return Err(format!(
                    "{} connections need {need} fds ({open} already open, {FD_RESERVE} kept free) \
                     but the fd limit (RLIMIT_NOFILE) is {limit}: at most {} connections here; \
                     raise it (ulimit -n) or use fewer connections",
                    self.connections,
                    limit.saturating_sub(open + FD_RESERVE)
                ));
            }
        }
        Ok(())
    }
}

/// Failed requests, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorCounts {
    /// connect(2) refused (nothing listening, or the backlog overflowed).
    pub refused: u64,
    /// The connection was reset or broke mid-request/response (including an answer cut
    /// short by EOF).
    pub reset: u64,
    /// No complete answer within the timeout.
    pub timeout: u64,
    /// An answer that is not a final `200` with a well-formed head and the body its
    /// framing promised (RFC 9112 §6.3: e.g. two different `Content-Length`s).
    pub bad_response: u64,
    /// The server closed the connection before answering anything: a fresh
    /// connection, or a kept-alive one again after the one retry (see
    /// [`LoadReport::reconnects`]).
    pub closed: u64,
    /// Any other I/O error.
    pub other: u64,
}

impl ErrorCounts {
    /// All failed requests, whatever the kind.
    pub fn total(&self) -> u64 {
        self.refused + self.reset + self.timeout + self.bad_response + self.closed + self.other
    }
}

/// What one load run saw.
///
/// The measured window is `[warm-up end, warm-up end + duration)`. Every request whose
/// scheduled time (open loop) or send time (closed loop) falls in it ends as exactly
/// one of `requests`, `late`, `failed` or `missed`, and those four add up to
/// `scheduled`.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Successful requests of the window answered before the window ended: what
    /// [`LoadReport::req_per_sec`] divides by the measured seconds.
    pub requests: u64,
    /// Successful requests of the window answered after it ended: in flight when it
    /// closed (the run waits for them up to the timeout), or due in its last moments
    /// and sent at most [`EDGE_SLACK`] behind their schedule. Their latency is in the
    /// histograms; they are not in the achieved rate.
    pub late: u64,
    /// Open loop: requests the schedule put in the window that had not been sent when
    /// it closed, because the client or server could not keep up (0 in the closed
    /// loop). Their latency is unknown (at least the time from their schedule to the
    /// window's end) and is not in the histograms.
    pub missed: u64,
    /// Requests of the window that ended in an error (counted by kind in `errors`).
    pub failed: u64,
    /// Requests that fell in the window: `requests + late + failed + missed`. In the
    /// open loop this is what the schedule put there (`rate × duration`, give or take
    /// one per connection for rounding); in the closed loop, the requests sent.
    pub scheduled: u64,
    /// Open loop: the rate asked for, requests per second (`None` in the closed loop).
    pub offered_rate: Option<f64>,
    /// Open loop: the achieved rate ([`LoadReport::req_per_sec`]) is more than 5 %
    /// below `offered_rate` ([`LoadReport::warning`] says so in words).
    pub below_target: bool,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Failed requests by kind over the whole run (warm-up and connection set-up
    /// included).
    pub errors: ErrorCounts,
    /// Latency in ns of the window's successful requests (`requests + late` values):
    /// from the scheduled send time (open loop, corrected for coordinated omission)
    /// or from the send (closed loop), to the last byte of the answer. Empty when no
    /// request succeeded: use [`LoadReport::latency_if_any`] to tell.
    pub latency: Histogram<u64>,
    /// Latency in ns from the actual send (what an uncorrected client reports).
    pub service: Histogram<u64>,
    /// Bytes of the window's successful answers (heads, interim heads, bodies with
    /// their chunk framing).
    pub bytes: u64,
    /// Most connections open at the same time.
    pub peak_connections: u64,
    /// Fewest successes of the window (`requests + late`) on any one connection slot.
    pub min_per_connection: u64,
    /// Open loop: warm-up requests still unsent when the window opened and dropped
    /// then (the client was more than [`EDGE_SLACK`] behind its schedule); never sent,
    /// not errors. 0 in the closed loop.
    pub warmup_dropped: u64,
    /// Idle connections (kept alive, or opened before the run and not used yet) the
    /// server had closed (idle timeout, or it closed while the request was on its
    /// way): the request went again on a new connection, once
    /// (RFC 9112 §9.3.1 allows it for idempotent methods). Not errors. Whole run.
    pub reconnects: u64,
    /// Interim `1xx` answers read and skipped before final ones (RFC 9110 §15.2).
    /// Whole run.
    pub interim: u64,
    /// True when a stop request ended the run early (`elapsed` is then shorter).
    pub interrupted: bool,
}

impl LoadReport {
    /// The achieved rate: `requests` per second of measured time (wrk2's
    /// requests/sec). 0 for an empty window.
    pub fn req_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s == 0.0 {
            0.0
        } else {
            self.requests as f64 / s
        }
    }

    /// Successful requests of the window: `requests + late`.
    pub fn successes(&self) -> u64 {
        self.requests + self.late
    }

    /// The latency histogram, or `None` when no request succeeded (then there is no
    /// latency to report, rather than 0 ns).
    pub fn latency_if_any(&self) -> Option<&Histogram<u64>> {
        (!self.latency.is_empty()).then_some(&self.latency)
    }

    /// Share of the window's finished requests that failed: `failed / (requests + late
    /// + failed)`, in 0..=1; `None` when none finished.
    pub fn error_ratio(&self) -> Option<f64> {
        let finished = self.successes() + self.failed;
        (finished > 0).then(|| self.failed as f64 / finished as f64)
    }

    /// True when the run should count as failed: no request succeeded, or more than
    /// half of the finished ones failed. A CLI exits non-zero on it.
    pub fn mostly_failed(&self) -> bool {
        self.successes() == 0 || self.error_ratio().is_some_and(|r| r > 0.5)
    }

    /// One line when the open loop fell short of its target by more than 5 %.
    pub fn warning(&self) -> Option<String> {
        let offered = self.offered_rate.filter(|_| self.below_target)?;
        Some(format!(
            "achieved {:.0} req/s, {:.1} % below the offered {offered} req/s \
             ({} of {} scheduled requests missed, {} late)",
            self.req_per_sec(),
            100.0 * (1.0 - self.req_per_sec() / offered),
            self.missed,
            self.scheduled,
            self.late
        ))
    }
}

#[derive(Default)]
struct SharedCounts {
    refused: AtomicU64,
    reset: AtomicU64,
    timeout: AtomicU64,
    bad: AtomicU64,
    closed: AtomicU64,
    other: AtomicU64,
    open: Arc<AtomicU64>,
    peak: AtomicU64,
    reconnects: AtomicU64,
    interim: AtomicU64,
    // The window's requests by outcome.
    requests: AtomicU64,
    late: AtomicU64,
    missed: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    warmup_dropped: AtomicU64,
}

impl SharedCounts {
    fn fail(&self, f: Failure) {
        let c = match f {
            Failure::Refused => &self.refused,
            Failure::Reset => &self.reset,
            Failure::Timeout => &self.timeout,
            Failure::Bad => &self.bad,
            Failure::Closed => &self.closed,
            Failure::Other => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn errors(&self) -> ErrorCounts {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ErrorCounts {
            refused: l(&self.refused),
            reset: l(&self.reset),
            timeout: l(&self.timeout),
            bad_response: l(&self.bad),
            closed: l(&self.closed),
            other: l(&self.other),
        }
    }
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

async fn connect(addr: SocketAddr, counts: &SharedCounts) -> io::Result<Conn> {
    let stream = TcpStream::connect(addr).await?;
    let conn = Conn::new(stream, counts.open.clone())?;
    counts
        .peak
        .fetch_max(counts.open.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(conn)
}

/// One connection's share of the open-loop schedule: its requests fall due at
/// `(k + phase) / per_conn` seconds after the start, k = 0, 1, ... (the connections'
/// schedules are staggered evenly across one interval). Kept in f64 seconds rather
/// than `Duration`s, whose whole nanoseconds cannot hold the interval above 1e9 req/s.
#[derive(Clone, Copy, Debug)]
struct Grid {
    per_conn: f64,
    phase: f64,
}

impl Grid {
    fn new(rate: f64, connections: usize, index: usize) -> Grid {
        Grid {
            per_conn: rate / connections as f64,
            phase: index as f64 / connections as f64,
        }
    }

    /// Seconds after the start at which request `k` is due.
    fn due(&self, k: u64) -> f64 {
        (k as f64 + self.phase) / self.per_conn
    }

    /// How many requests fall due before `t` seconds after the start.
    fn due_before(&self, t: f64) -> u64 {
        let x = t * self.per_conn - self.phase;
        if x <= 0.0 {
            return 0;
        }
        // A product that is an integer but for rounding must not count one more.
        let r = x.round();
        if (x - r).abs() <= (x * 1e-14).max(1e-9) {
            r as u64
        } else {
            x.ceil() as u64
        }
    }
}

/// Open loop, at the window's edges: warm-up requests still unsent when the window
/// opens are sent (not measured) if they fell due within this long before, and an
/// older backlog is dropped; a window request still unsent when the window closes is
/// sent (and counted late) if it fell due within this long before, and otherwise it
/// and the rest are missed. Covers tokio's 1 ms timer and scheduling hiccups on a
/// loaded machine, not overload.
pub const EDGE_SLACK: Duration = Duration::from_millis(25);
/// How often a long wait for the next scheduled request looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);
/// What the run keeps for itself at its end (runtime shutdown) out of the drain time.
const DRAIN_MARGIN: Duration = Duration::from_millis(50);

struct Plan {
    cfg: LoadConfig,
    request: Vec<u8>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    /// No request runs past this: `end + max(1 s, timeout)`, less a margin.
    last: Instant,
    counts: Arc<SharedCounts>,
    hist: Mutex<(Histogram<u64>, Histogram<u64>)>,
    stop: Stop,
}

/// One request on `conn` (connecting first if there is none), with the one retry on a
/// new connection when one that sat idle (kept alive, or opened before the run) turns
/// out to be closed by the server.
async fn attempt(plan: &Plan, conn: &mut Option<Conn>) -> Result<Answer, Failure> {
    let mut retried = false;
    loop {
        let idle = conn.is_some();
        let c = match conn {
            Some(c) => c,
            None => conn.insert(
                connect(plan.cfg.addr, &plan.counts)
                    .await
                    .map_err(|e| classify(&e))?,
            ),
        };
        match c.exchange(&plan.request).await {
            Ok(a) => return Ok(a),
            Err(f)
                if f.before_answer
                    && !retried
                    && idle
                    && matches!(f.kind, Failure::Closed | Failure::Reset) =>
            {
                *conn = None;
                retried = true;
                add(&plan.counts.reconnects, 1);
            }
            Err(f) => return Err(f.kind),
        }
    }
}

/// One connection slot: sends requests until the window closes; returns its
/// successes of the window (`requests + late`).
async fn slot(plan: Arc<Plan>, index: usize, mut conn: Option<Conn>) -> u64 {
    let cfg = &plan.cfg;
    let counts = &plan.counts;
    let grid = match cfg.pace {
        Pace::Rate(r) => Some(Grid::new(r, cfg.connections, index)),
        Pace::Closed => None,
    };
    // The window's requests on this slot are k in first..end (open loop).
    let (first, end) = grid.map_or((0, 0), |g| {
        (
            g.due_before(cfg.warmup.as_secs_f64()),
            g.due_before((cfg.warmup + cfg.duration).as_secs_f64()),
        )
    });
    let mut k = 0u64;
    // Kept here and added to the shared counts at the end: no shared cache line
    // written per request.
    let mut t = Tally::default();
    loop {
        let (scheduled, measured) = match grid {
            Some(g) => {
                if k >= end {
                    break;
                }
                let due = plan.start + Duration::from_secs_f64(g.due(k));
                let mut now = Instant::now();
                while now < due && !plan.stop.is_set() {
                    tokio::time::sleep_until(due.min(now + STOP_POLL)).await;
                    now = Instant::now();
                }
                if plan.stop.is_set() {
                    // Requests already due when the run was stopped were missed.
                    let since = now.min(plan.end).saturating_duration_since(plan.start);
                    let due_now = g.due_before(since.as_secs_f64()).min(end);
                    t.missed += due_now.saturating_sub(k.max(first));
                    break;
                }
                if now >= plan.end {
                    // The window closed with these still waiting to go out. One due
                    // within EDGE_SLACK still goes (a timer's lateness, not overload)
                    // and will be late; a staler backlog is missed.
                    let fresh_after = now
                        .saturating_duration_since(plan.start)
                        .saturating_sub(EDGE_SLACK);
                    if g.due(k) < fresh_after.as_secs_f64() {
                        t.missed += end - k.max(first);
                        break;
                    }
                }
                if k < first && now >= plan.measure_from {
                    // A warm-up backlog left when the window opens is dropped, but for
                    // the last EDGE_SLACK of it (timer lateness and scheduling
                    // hiccups, not overload): the window measures its own schedule.
                    let since = now.saturating_duration_since(plan.start);
                    let keep_from = g
                        .due_before(since.saturating_sub(EDGE_SLACK).as_secs_f64())
                        .min(first);
                    if k < keep_from {
                        t.warmup_dropped += keep_from - k;
                        k = keep_from;
                        continue;
                    }
                }
                k += 1;
                (due, k > first)
            }
            None => {
                let now = Instant::now();
                if plan.stop.is_set() || now >= plan.end {
                    break;
                }
                (now, now >= plan.measure_from)
            }
        };
        let sent = Instant::now();
        let deadline = (sent + cfg.timeout).min(plan.last);
        let result = match tokio::time::timeout_at(deadline, attempt(&plan, &mut conn)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout),
        };
        let done = Instant::now();
        match result {
            Ok(a) => {
                t.interim += a.interim;
                if measured {
                    if done <= plan.end {
                        t.requests += 1;
                    } else {
                        t.late += 1;
                    }
                    t.bytes += a.bytes;
                    let mut h = plan.hist.lock().unwrap_or_else(|p| p.into_inner());
                    let lat = (done - scheduled).as_nanos().max(1) as u64;
                    let svc = (done - sent).as_nanos().max(1) as u64;
                    h.0.saturating_record(lat);
                    h.1.saturating_record(svc);
                }
                if a.close || !cfg.keep_alive {
                    conn = None;
                }
            }
            Err(f) => {
                counts.fail(f);
                if measured {
                    t.failed += 1;
                }
                conn = None;
                if f == Failure::Refused {
                    // Do not spin on a server that is not there.
                    let pause = Instant::now() + Duration::from_millis(10);
                    tokio::time::sleep_until(pause.min(plan.end)).await;
                }
            }
        }
    }
    add(&counts.requests, t.requests);
    add(&counts.late, t.late);
    add(&counts.missed, t.missed);
    add(&counts.failed, t.failed);
    add(&counts.bytes, t.bytes);
    add(&counts.interim, t.interim);
    add(&counts.warmup_dropped, t.warmup_dropped);
    t.requests + t.late
}

/// One slot's share of the window's outcomes (see [`SharedCounts`]).
#[derive(Default)]
struct Tally {
    requests: u64,
    late: u64,
    missed: u64,
    failed: u64,
    bytes: u64,
    interim: u64,
    warmup_dropped: u64,
}

/// Runs the load described by `cfg` on a runtime of its own and reports what it saw.
///
/// Phases: keep-alive connections are opened first (at most `connect_concurrency` at
/// once, the whole phase bounded by `timeout`); then the warm-up, the measured window,
/// and a drain in which requests still in flight may finish. No request runs past
/// the window's end + max(1 s, `timeout`), so after the connection phase the run
/// takes at most warm-up + duration + max(1 s, timeout), whatever the rate (wrk2
/// stops at the duration the same way; it does not report what was left).
///
/// `observer.measuring(true/false)` is called when the measured window opens and
/// closes (e.g. to snapshot the server's counters or switch probes on), from a helper
/// thread. `stop` ends the run early; the figures then cover the window so far.
///
/// Errors: `InvalidInput` with [`LoadConfig::validate`]'s one-line message; runtime
/// creation failures.
pub fn run(cfg: &LoadConfig, observer: &dyn Observer, stop: &Stop) -> io::Result<LoadReport> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()?;
    let (start_tx, start_rx) = std::sync::mpsc::channel::<std::time::Instant>();
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // Marks the measured window on wall-clock time, off the runtime's threads.
        let finished = &finished;
        s.spawn(move || {
            let Ok(start) = start_rx.recv() else {
                return;
            };
            let sleep_until = |t: std::time::Instant| {
                while std::time::Instant::now() < t {
                    if finished.load(Ordering::Acquire) {
                        return false;
                    }
                    let left = t.saturating_duration_since(std::time::Instant::now());
                    std::thread::sleep(left.min(Duration::from_millis(20)));
                }
                true
            };
            if sleep_until(start + cfg.warmup) {
                observer.measuring(true);
                sleep_until(start + cfg.warmup + cfg.duration);
                observer.measuring(false);
            }
        });
        let r = rt.block_on(run_async(cfg.clone(), stop.clone(), start_tx));
        finished.store(true, Ordering::Release);
        rt.shutdown_background();
        r
    })
}

async fn run_async(
    cfg: LoadConfig,
    stop: Stop,
    start_tx: std::sync::mpsc::Sender<std::time::Instant>,
) -> io::Result<LoadReport> {
    let host = cfg.host.clone().unwrap_or_else(|| cfg.addr.to_string());
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\n{}\r\n",
        cfg.path,
        if cfg.keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    )
    .into_bytes();
    let counts = Arc::new(SharedCounts::default());
    // Keep-alive: open every connection before the clock starts, so the run measures
    // requests, not a connect storm.
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(cfg.connections);
    if cfg.keep_alive {
        let gate = Arc::new(Semaphore::new(cfg.connect_concurrency));
        let phase_end = Instant::now() + cfg.timeout;
        let mut tasks = Vec::with_capacity(cfg.connections);
        for _ in 0..cfg.connections {
            let (gate, counts, addr) = (gate.clone(), counts.clone(), cfg.addr);
            tasks.push(tokio::spawn(async move {
                let opened = tokio::time::timeout_at(phase_end, async {
                    let _permit = gate.acquire_owned().await.map_err(io::Error::other)?;
                    connect(addr, &counts).await
                })
                .await;
                match opened {
                    Ok(Ok(c)) => Some(c),
                    Ok(Err(e)) => {
                        counts.fail(classify(&e));
                        None
                    }
                    Err(_) => {
                        counts.fail(Failure::Timeout);
                        None
                    }
                }
            }));
        }
        for t in tasks {
            conns.push(t.await.map_err(io::Error::other)?);
        }
    } else {
        conns.resize_with(cfg.connections, || None);
    }
    let start = Instant::now();
    let _ = start_tx.send(start.into_std());
    let end = start + cfg.warmup + cfg.duration;
    let drain = cfg.timeout.max(Duration::from_secs(1)) - DRAIN_MARGIN;
    let plan = Arc::new(Plan {
        request,
        start,
        measure_from: start + cfg.warmup,
        end,
        last: end + drain,
        counts: counts.clone(),
        hist: Mutex::new((latency_histogram(), latency_histogram())),
        stop,
        cfg,
    });
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(slot(plan.clone(), i, c)))
        .collect();
    let mut min_per_connection = u64::MAX;
    for t in tasks {
        let ok = t.await.map_err(io::Error::other)?;
        min_per_connection = min_per_connection.min(ok);
    }
    let (latency, service) = plan.hist.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let interrupted = plan.stop.is_set();
    let elapsed = if interrupted {
        Instant::now()
            .min(plan.end)
            .saturating_duration_since(plan.measure_from)
    } else {
        plan.cfg.duration
    };
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut report = LoadReport {
        requests: l(&counts.requests),
        late: l(&counts.late),
        missed: l(&counts.missed),
        failed: l(&counts.failed),
        scheduled: 0,
        offered_rate: match plan.cfg.pace {
            Pace::Rate(r) => Some(r),
            Pace::Closed => None,
        },
        below_target: false,
        elapsed,
        interrupted,
        errors: counts.errors(),
        latency,
        service,
        bytes: l(&counts.bytes),
        peak_connections: l(&counts.peak),
        min_per_connection,
        reconnects: l(&counts.reconnects),
        interim: l(&counts.interim),
        warmup_dropped: l(&counts.warmup_dropped),
    };
    report.scheduled = report.requests + report.late + report.failed + report.missed;
    report.below_target = report
        .offered_rate
        .is_some_and(|r| report.req_per_sec() < 0.95 * r);
    Ok(report)
}
