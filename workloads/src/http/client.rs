//! The load client, on tokio, in the manner of httperf and wrk2.
//!
//! Closed loop ([`Pace::Closed`]): each connection sends its next request when the
//! previous answer has arrived. Open loop ([`Pace::Rate`]): requests go out on a fixed
//! schedule and latency is measured from each request's *scheduled* send time, so a
//! server stall shows in the percentiles instead of silently slowing the client down
//! (coordinated omission corrected, as wrk2 does). The time from the actual send is kept
//! too ([`LoadReport::service`]).
//!
//! tokio's timer fires on whole milliseconds, so in the open loop a request can go out
//! up to 1 ms after its scheduled time and that lateness is part of its latency (as in
//! wrk2, whose timers are in milliseconds too). Spinning to the exact instant was tried
//! and rejected: at high rates the spinning tasks starve the client.
//!
//! Requests scheduled during the warm-up are not measured. Errors are counted by kind
//! over the whole run (warm-up included) and never as successes.
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
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Semaphore,
    time::Instant,
};

use crate::{observer::Observer, pingpong::latency_histogram, stop::Stop};

/// When requests are sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Next request when the previous answer arrived (per connection).
    Closed,
    /// This many requests per second in total, spread evenly over the connections.
    Rate(f64),
}

/// What one load run does.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub addr: SocketAddr,
    /// Concurrent connections (each has at most one request in flight).
    pub connections: usize,
    pub pace: Pace,
    /// Run before measuring; requests scheduled in it are not measured.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Reuse connections (HTTP/1.1 keep-alive); otherwise one connection per request.
    pub keep_alive: bool,
    pub path: String,
    /// `Host:` header; `None` uses the address.
    pub host: Option<String>,
    /// Longest a request (with its connect, if any) may take before it counts as a
    /// timeout.
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

/// Failed requests, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorCounts {
    /// connect(2) refused (nothing listening, or the backlog overflowed).
    pub refused: u64,
    /// The connection was reset or broke mid-request/response.
    pub reset: u64,
    /// No complete answer within the timeout.
    pub timeout: u64,
    /// An answer that is not `200` with a well-formed head and the promised body.
    pub bad_response: u64,
    /// The server closed a kept-alive connection before answering anything.
    pub closed: u64,
    /// Any other I/O error.
    pub other: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.refused + self.reset + self.timeout + self.bad_response + self.closed + self.other
    }
}

/// What one load run saw.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Successful requests scheduled inside the measured window.
    pub requests: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    pub errors: ErrorCounts,
    /// Latency in ns: from the scheduled send time (open loop) or from the send (closed
    /// loop), to the last byte of the answer.
    pub latency: Histogram<u64>,
    /// Latency in ns from the actual send (what an uncorrected client reports).
    pub service: Histogram<u64>,
    /// Response bytes (heads and bodies) read in the measured window.
    pub bytes: u64,
    /// Most connections open at the same time.
    pub peak_connections: u64,
    /// Fewest successful measured requests on any one connection slot.
    pub min_per_connection: u64,
    /// True when a stop request ended the run early (`elapsed` is then shorter).
    pub interrupted: bool,
}

impl LoadReport {
    pub fn req_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s == 0.0 {
            0.0
        } else {
            self.requests as f64 / s
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Failure {
    Refused,
    Reset,
    Timeout,
    Bad,
    Closed,
    Other,
}

fn classify(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => Failure::Reset,
        io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Other,
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
    open: AtomicU64,
    peak: AtomicU64,
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

    fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
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

/// A connection and its read buffer, counted in [`SharedCounts::open`] while alive.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data not yet consumed.
    len: usize,
    counts: Arc<SharedCounts>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.counts.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

async fn connect(addr: SocketAddr, counts: &Arc<SharedCounts>) -> io::Result<Conn> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    counts.opened();
    Ok(Conn {
        stream,
        buf: vec![0; MAX_HEAD],
        len: 0,
        counts: counts.clone(),
    })
}

/// One request/answer on `conn`. Ok(true): the server asked to close the connection.
async fn exchange(conn: &mut Conn, request: &[u8], bytes: &mut u64) -> Result<bool, Failure> {
    conn.stream
        .write_all(request)
        .await
        .map_err(|e| classify(&e))?;
    // Read until a complete head is buffered.
    let (head_len, body_len, close, status) = loop {
        if conn.len > 0 {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&conn.buf[..conn.len]) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut body = None;
                    let mut close = resp.version == Some(0);
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            body = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<u64>().ok());
                            if body.is_none() {
                                return Err(Failure::Bad);
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                            if v.contains("close") {
                                close = true;
                            } else if v.contains("keep-alive") {
                                close = false;
                            }
                        }
                    }
                    let Some(body) = body else {
                        return Err(Failure::Bad);
                    };
                    break (n, body, close, resp.code.unwrap_or(0));
                }
                Ok(httparse::Status::Partial) if conn.len < conn.buf.len() => {}
                _ => return Err(Failure::Bad),
            }
        }
        let n = conn
            .stream
            .read(&mut conn.buf[conn.len..])
            .await
            .map_err(|e| classify(&e))?;
        if n == 0 {
            return Err(if conn.len == 0 {
                Failure::Closed
            } else {
                Failure::Reset
            });
        }
        conn.len += n;
    };
    // Consume the head and whatever body is already buffered, then read the rest.
    let buffered_body = ((conn.len - head_len) as u64).min(body_len) as usize;
    let used = head_len + buffered_body;
    conn.buf.copy_within(used..conn.len, 0);
    conn.len -= used;
    let mut left = body_len - buffered_body as u64;
    while left > 0 {
        let want = (left as usize).min(conn.buf.len());
        let n = conn
            .stream
            .read(&mut conn.buf[..want])
            .await
            .map_err(|e| classify(&e))?;
        if n == 0 {
            return Err(Failure::Reset);
        }
        left -= n as u64;
    }
    *bytes += head_len as u64 + body_len;
    if status != 200 {
        return Err(Failure::Bad);
    }
    Ok(close)
}

struct Plan {
    cfg: LoadConfig,
    request: Vec<u8>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    counts: Arc<SharedCounts>,
    hist: Mutex<(Histogram<u64>, Histogram<u64>)>,
    bytes: AtomicU64,
    stop: Stop,
}

/// One connection slot: sends requests until the end of the run; returns its measured
/// successes.
async fn slot(plan: Arc<Plan>, index: usize, mut conn: Option<Conn>) -> u64 {
    let cfg = &plan.cfg;
    let (interval, mut next) = match cfg.pace {
        Pace::Closed => (Duration::ZERO, plan.start),
        Pace::Rate(r) => {
            let per_conn = r / cfg.connections as f64;
            let interval = Duration::from_secs_f64(1.0 / per_conn);
            // Stagger the connections' schedules across one interval.
            let offset = interval.mul_f64(index as f64 / cfg.connections as f64);
            (interval, plan.start + offset)
        }
    };
    let mut ok = 0;
    let mut bytes = 0;
    loop {
        let scheduled = match cfg.pace {
            Pace::Closed => Instant::now(),
            Pace::Rate(_) => {
                tokio::time::sleep_until(next).await;
                next
            }
        };
        if scheduled >= plan.end || plan.stop.is_set() {
            break;
        }
        next += interval;
        let sent = Instant::now();
        let attempt = async {
            if conn.is_none() {
                conn = Some(
                    connect(cfg.addr, &plan.counts)
                        .await
                        .map_err(|e| classify(&e))?,
                );
            }
            let c = conn.as_mut().ok_or(Failure::Other)?;
            let mut b = 0;
            let close = exchange(c, &plan.request, &mut b).await?;
            Ok::<_, Failure>((close, b))
        };
        let result = match tokio::time::timeout(cfg.timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout),
        };
        let done = Instant::now();
        match result {
            Ok((close, b)) => {
                if scheduled >= plan.measure_from {
                    ok += 1;
                    bytes += b;
                    let mut h = plan.hist.lock().unwrap_or_else(|p| p.into_inner());
                    let lat = (done - scheduled).as_nanos().max(1) as u64;
                    let svc = (done - sent).as_nanos().max(1) as u64;
                    h.0.saturating_record(lat);
                    h.1.saturating_record(svc);
                }
                if close || !cfg.keep_alive {
                    conn = None;
                }
            }
            Err(f) => {
                plan.counts.fail(f);
                conn = None;
                if matches!(f, Failure::Refused) {
                    // Do not spin on a server that is not there.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    plan.bytes.fetch_add(bytes, Ordering::Relaxed);
    ok
}

/// Runs the load described by `cfg` on a runtime of its own and reports what it saw.
///
/// `observer.measuring(true/false)` is called when the measured window opens and
/// closes (e.g. to snapshot the server's counters or switch probes on), from a helper
/// thread. `stop` ends the run early; the figures then cover the window so far.
pub fn run(cfg: &LoadConfig, observer: &dyn Observer, stop: &Stop) -> io::Result<LoadReport> {
    if cfg.connections == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "connections must be at least 1",
        ));
    }
    if let Pace::Rate(r) = cfg.pace {
        if !(r.is_finite() && r > 0.0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("rate must be a positive number of requests per second (got {r})"),
            ));
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
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
        let gate = Arc::new(Semaphore::new(cfg.connect_concurrency.max(1)));
        let mut tasks = Vec::with_capacity(cfg.connections);
        for _ in 0..cfg.connections {
            let (gate, counts, addr, timeout) =
                (gate.clone(), counts.clone(), cfg.addr, cfg.timeout);
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.ok()?;
                match tokio::time::timeout(timeout, connect(addr, &counts)).await {
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
    let plan = Arc::new(Plan {
        request,
        start,
        measure_from: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
        counts: counts.clone(),
        hist: Mutex::new((latency_histogram(), latency_histogram())),
        bytes: AtomicU64::new(0),
        stop,
        cfg,
    });
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(slot(plan.clone(), i, c)))
        .collect();
    let mut requests = 0;
    let mut min_per_connection = u64::MAX;
    for t in tasks {
        let ok = t.await.map_err(io::Error::other)?;
        requests += ok;
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
    Ok(LoadReport {
        requests,
        elapsed,
        interrupted,
        errors: counts.errors(),
        latency,
        service,
        bytes: plan.bytes.load(Ordering::Relaxed),
        peak_connections: counts.peak.load(Ordering::Relaxed),
        min_per_connection,
    })
}
