//! The server: `workers` single-threaded loops in the style of lighttpd, each with its
//! own SO_REUSEPORT listen socket, written once over `Box<dyn Waiter>` so every wait
//! mode (and any future one) drives the same code; plus a tokio loop as the async
//! baseline.
use std::{
    collections::VecDeque,
    io,
    net::{SocketAddr, TcpListener},
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, OnceLock,
    },
    thread::{self, JoinHandle},
    time::{Duration, SystemTime},
};

use slab::Slab;

use super::{
    proto::{Heads, Reply, Responses, Session, Site, Status},
    HttpWait,
};
use crate::{
    observer::{gettid, Observer, TaskInfo},
    sys::{cvt, now_ns},
    Event, Interest, Waiter,
};

/// How a server is set up.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port (all workers then share it).
    pub addr: SocketAddr,
    pub wait: HttpWait,
    /// Event loops (threads), each with its own SO_REUSEPORT listen socket.
    pub workers: usize,
    pub site: Site,
    /// listen(2) backlog.
    pub backlog: i32,
    /// Responses queued per connection before the loop stops reading it (pipelining
    /// backpressure: a client that never reads cannot grow the queue).
    pub max_pipeline: usize,
    /// Longest wait for the first byte of the next request on a keep-alive connection
    /// once the previous response has gone out (lighttpd 1.4.69
    /// `server.max-keep-alive-idle`, default 5 s). The connection is then closed.
    pub keep_alive_idle: Duration,
    /// Longest time to receive a whole request (head and any body we skip), counted
    /// from its first byte, or from accept for a connection's first request. Stricter
    /// than lighttpd 1.4.69's `server.max-read-idle` (60 s without any byte), with the
    /// same default of 60 s. A later request on a keep-alive connection is also closed
    /// after `keep_alive_idle` without a byte, as lighttpd does.
    pub request_head_timeout: Duration,
    /// Longest time without sending progress while a response is pending (lighttpd
    /// 1.4.69 `server.max-write-idle`, default 360 s).
    pub write_idle_timeout: Duration,
    /// After a closing response the write side is shut down and input is read and
    /// dropped until the client closes or this passes (RFC 9112 §9.6; lighttpd's
    /// lingering close, 5 s), so unread input cannot turn the close into a reset that
    /// destroys the response.
    pub linger_timeout: Duration,
}

impl ServerConfig {
    /// Longest timeout accepted (one day): anything longer is a typo, not a limit.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);
    /// Shortest timeout accepted (1 ms): the loops sleep in whole milliseconds
    /// (epoll_wait, poll, the kevent emulation; tokio's timer wheel has 1 ms ticks), so a
    /// shorter limit could only mean "at once" or "1 ms": refused, not guessed.
    pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
    /// Most worker loops accepted.
    pub const MAX_WORKERS: usize = 1024;

    /// Checks the configuration without starting anything; [`start`] calls it first.
    ///
    /// Errors (`InvalidInput`, one line naming the field): `workers` outside 1 ..= 1024,
    /// `backlog` < 1, `max_pipeline` < 1, a timeout under 1 ms or over a day, or a bad
    /// [`Site`] ([`Site::validate`]: body over 1 GiB, a body file that is not a regular
    /// file, path, header buffer size).
    pub fn validate(&self) -> io::Result<()> {
        let bad = |m: String| Err(io::Error::new(io::ErrorKind::InvalidInput, m));
        if !(1..=Self::MAX_WORKERS).contains(&self.workers) {
            return bad(format!(
                "workers must be between 1 and {} (got {})",
                Self::MAX_WORKERS,
                self.workers
            ));
        }
        if self.backlog < 1 {
            return bad(format!("backlog must be at least 1 (got {})", self.backlog));
        }
        if self.max_pipeline < 1 {
            return bad("max_pipeline must be at least 1 (got 0)".into());
        }
        for (name, d) in [
            ("keep_alive_idle", self.keep_alive_idle),
            ("request_head_timeout", self.request_head_timeout),
            ("write_idle_timeout", self.write_idle_timeout),
            ("linger_timeout", self.linger_timeout),
        ] {
            if d < Self::MIN_TIMEOUT || d > Self::MAX_TIMEOUT {
                return bad(format!(
                    "{name} must be at least 1 ms and at most 86400 s (got {d:?})"
                ));
            }
        }
        self.site.validate()
    }

    fn limits(&self) -> Limits {
        let ns = |d: Duration| d.as_nanos().min(u64::MAX as u128) as u64;
        let min = self
            .keep_alive_idle
            .min(self.request_head_timeout)
            .min(self.write_idle_timeout)
            .min(self.linger_timeout);
        Limits {
            keep_alive_idle: ns(self.keep_alive_idle),
            request_head: ns(self.request_head_timeout),
            write_idle: ns(self.write_idle_timeout),
            linger: ns(self.linger_timeout),
            // Deadlines are checked a few times per shortest timeout (lighttpd checks
            // once a second), so a timeout fires within 1/4 of its value late.
            tick: ns(min / 4).clamp(5_000_000, 1_000_000_000),
        }
    }
}

/// The timeouts in ns, and how often the fd loops look for expired connections.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub keep_alive_idle: u64,
    pub request_head: u64,
    pub write_idle: u64,
    pub linger: u64,
    pub tick: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            wait: HttpWait::Waiter(crate::WaitMode::Epoll),
            workers: 1,
            site: Site::default(),
            backlog: 4096,
            max_pipeline: 32,
            keep_alive_idle: Duration::from_secs(5),
            request_head_timeout: Duration::from_secs(60),
            write_idle_timeout: Duration::from_secs(360),
            linger_timeout: Duration::from_secs(5),
        }
    }
}

/// Per-worker counters: one writer (the loop), read by anyone at any time.
#[derive(Default, Debug)]
pub(super) struct Counters {
    accepted: AtomicU64,
    closed: AtomicU64,
    requests: AtomicU64,
    ok: AtomicU64,
    bad_request: AtomicU64,
    not_found: AtomicU64,
    method_not_allowed: AtomicU64,
    header_too_large: AtomicU64,
    uri_too_long: AtomicU64,
    not_implemented: AtomicU64,
    version_not_supported: AtomicU64,
    timeouts: AtomicU64,
    peer_resets: AtomicU64,
    waits: AtomicU64,
    events: AtomicU64,
    wait_ns: AtomicU64,
    refused_by_waiter: AtomicU64,
    accept_errors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    // Single writer: a load and a store are enough and cheaper than a locked add.
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

/// What a server did so far (all workers summed). Take two and subtract
/// ([`ServerStats::since`]) to get a measured window's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerStats {
    /// Connections accepted / closed.
    pub accepted: u64,
    pub closed: u64,
    /// Requests answered (any status).
    pub requests: u64,
    pub ok: u64,
    pub bad_request: u64,
    pub not_found: u64,
    pub method_not_allowed: u64,
    pub header_too_large: u64,
    /// 414: the request line alone did not fit the head buffer.
    #[serde(default)]
    pub uri_too_long: u64,
    /// 501: a method RFC 9110 does not define.
    #[serde(default)]
    pub not_implemented: u64,
    /// 505: an HTTP major version other than 1.
    #[serde(default)]
    pub version_not_supported: u64,
    /// Connections closed by a timeout (keep-alive idle, request head, write idle,
    /// linger).
    #[serde(default)]
    pub timeouts: u64,
    /// Connections that ended with a reset / broken pipe while the server wrote or read.
    pub peer_resets: u64,
    /// Calls into the waiter's `wait` and the events they returned (0 for tokio).
    pub waits: u64,
    pub events: u64,
    /// Wall time inside `wait`, ns, as the loop saw it (0 for tokio).
    pub wait_ns: u64,
    /// Accepted connections the waiter could not watch (select: fd ≥ FD_SETSIZE); closed.
    pub refused_by_waiter: u64,
    /// accept(2) failures other than EAGAIN (EMFILE, ...).
    pub accept_errors: u64,
}

impl ServerStats {
    fn from_counters(c: &Counters) -> Self {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Self {
            accepted: l(&c.accepted),
            closed: l(&c.closed),
            requests: l(&c.requests),
            ok: l(&c.ok),
            bad_request: l(&c.bad_request),
            not_found: l(&c.not_found),
            method_not_allowed: l(&c.method_not_allowed),
            header_too_large: l(&c.header_too_large),
            uri_too_long: l(&c.uri_too_long),
            not_implemented: l(&c.not_implemented),
            version_not_supported: l(&c.version_not_supported),
            timeouts: l(&c.timeouts),
            peer_resets: l(&c.peer_resets),
            waits: l(&c.waits),
            events: l(&c.events),
            wait_ns: l(&c.wait_ns),
            refused_by_waiter: l(&c.refused_by_waiter),
            accept_errors: l(&c.accept_errors),
        }
    }

    fn plus(self, o: Self) -> Self {
        self.zip(o, |a, b| a + b)
    }

    /// `self - earlier`, field by field.
    pub fn since(self, earlier: Self) -> Self {
        self.zip(earlier, u64::saturating_sub)
    }

    fn zip(self, o: Self, f: impl Fn(u64, u64) -> u64) -> Self {
        Self {
            accepted: f(self.accepted, o.accepted),
            closed: f(self.closed, o.closed),
            requests: f(self.requests, o.requests),
            ok: f(self.ok, o.ok),
            bad_request: f(self.bad_request, o.bad_request),
            not_found: f(self.not_found, o.not_found),
            method_not_allowed: f(self.method_not_allowed, o.method_not_allowed),
            header_too_large: f(self.header_too_large, o.header_too_large),
            uri_too_long: f(self.uri_too_long, o.uri_too_long),
            not_implemented: f(self.not_implemented, o.not_implemented),
            version_not_supported: f(self.version_not_supported, o.version_not_supported),
            timeouts: f(self.timeouts, o.timeouts),
            peer_resets: f(self.peer_resets, o.peer_resets),
            waits: f(self.waits, o.waits),
            events: f(self.events, o.events),
            wait_ns: f(self.wait_ns, o.wait_ns),
            refused_by_waiter: f(self.refused_by_waiter, o.refused_by_waiter),
            accept_errors: f(self.accept_errors, o.accept_errors),
        }
    }
}

fn count_status(c: &Counters, s: Status) {
    c.count_status(s)
}

impl Counters {
    pub(super) fn count_status(&self, s: Status) {
        bump(&self.requests);
        bump(match s {
            Status::Ok => &self.ok,
            Status::BadRequest => &self.bad_request,
            Status::NotFound => &self.not_found,
            Status::MethodNotAllowed => &self.method_not_allowed,
            Status::HeaderTooLarge => &self.header_too_large,
            Status::UriTooLong => &self.uri_too_long,
            Status::NotImplemented => &self.not_implemented,
            Status::VersionNotSupported => &self.version_not_supported,
        });
    }
    pub(super) fn bump_timeout(&self) {
        bump(&self.timeouts)
    }
    pub(super) fn bump_accepted(&self) {
        bump(&self.accepted)
    }
    pub(super) fn bump_closed(&self) {
        bump(&self.closed)
    }
    pub(super) fn bump_reset(&self) {
        bump(&self.peer_resets)
    }
    pub(super) fn bump_accept_error(&self) {
        bump(&self.accept_errors)
    }
}

/// A running server. Dropping it stops the workers too (without reporting errors).
pub struct ServerHandle {
    addr: SocketAddr,
    tids: Vec<u32>,
    counters: Vec<Arc<Counters>>,
    wakers: Vec<OwnedFd>,
    threads: Vec<JoinHandle<io::Result<()>>>,
    first_refusal: Arc<OnceLock<String>>,
}

impl ServerHandle {
    /// The address the listen sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The loop threads' kernel thread ids (what probes should follow).
    pub fn tids(&self) -> &[u32] {
        &self.tids
    }

    /// Counters so far, all workers summed.
    pub fn stats(&self) -> ServerStats {
        self.counters
            .iter()
            .map(|c| ServerStats::from_counters(c))
            .fold(ServerStats::default(), ServerStats::plus)
    }

    /// The waiter's error for the first connection it refused (e.g. select and an fd
    /// ≥ FD_SETSIZE), if any.
    pub fn first_refusal(&self) -> Option<&str> {
        self.first_refusal.get().map(String::as_str)
    }

    fn wake_all(&self) {
        for w in &self.wakers {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64 to our eventfd. A failure can
            // only be EAGAIN (counter saturated), which still leaves it readable.
            unsafe { libc::write(w.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Stops every worker, waits for them and returns the final counters, or the first
    /// worker's error.
    pub fn stop(mut self) -> io::Result<ServerStats> {
        self.wake_all();
        let mut first_err = None;
        for t in self.threads.drain(..) {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(io::Error::other("a server worker panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(self.stats()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.wake_all();
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: no pointers.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: fresh descriptor owned from here on.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Binds `addr` once without SO_REUSEPORT and returns the address it got (the real
/// port for port 0). SO_REUSEPORT would let a second server on the same port share
/// the connections silently; this bind fails instead when something listens there.
fn claim(addr: SocketAddr) -> io::Result<SocketAddr> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot bind {addr}: {e} (is another server listening there?)"),
        )
    })?;
    s.local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the bound address is not an IP address"))
}

/// A non-blocking listen socket with SO_REUSEPORT (so `workers` loops share a port).
fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
    s.listen(backlog)?;
    Ok(s.into())
}

/// Starts the server: validates `cfg` ([`ServerConfig::validate`], then the body
/// file), binds every worker's socket, starts the loops, reports each loop thread to
/// `observer` (role "server", index = worker) and returns once all of them are ready to
/// accept. Nothing is bound or started when the configuration is refused.
pub fn start(cfg: &ServerConfig, observer: &dyn Observer) -> io::Result<ServerHandle> {
    cfg.validate()?;
    let responses = Arc::new(Responses::new(&cfg.site)?);
    let limits = cfg.limits();
    let addr = claim(cfg.addr)?;
    let listeners = (0..cfg.workers)
        .map(|_| listen(addr, cfg.backlog))
        .collect::<io::Result<Vec<_>>>()?;
    let first_refusal = Arc::new(OnceLock::new());
    let (tid_tx, tid_rx) = mpsc::channel::<io::Result<u32>>();
    let mut handle = ServerHandle {
        addr,
        tids: Vec::new(),
        counters: Vec::new(),
        wakers: Vec::new(),
        threads: Vec::new(),
        first_refusal: first_refusal.clone(),
    };
    for (i, listener) in listeners.into_iter().enumerate() {
        let counters = Arc::new(Counters::default());
        let waker = eventfd()?;
        let waker_fd = waker.as_raw_fd();
        let (responses, tid_tx, refusal) =
            (responses.clone(), tid_tx.clone(), first_refusal.clone());
        let c = counters.clone();
        let wait = cfg.wait.clone();
        let max_pipeline = cfg.max_pipeline.max(1);
        let thread =
            thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || -> io::Result<()> {
                    match wait {
                        HttpWait::Tokio => super::tokio_server::run(
                            listener, waker_fd, responses, c, tid_tx, limits,
                        ),
                        other => {
                            let opened = other.open_waiter();
                            let (waiter, edge) = match opened {
                                Ok(w) => w,
                                Err(e) => {
                                    let _ = tid_tx.send(Err(io::Error::new(
                                        e.kind(),
                                        format!("cannot open the {other} waiter: {e}"),
                                    )));
                                    return Err(e);
                                }
                            };
                            let mut lp = Loop {
                                waiter,
                                edge,
                                listener,
                                waker_fd,
                                responses,
                                counters: c,
                                conns: Slab::new(),
                                max_pipeline,
                                refusal,
                                accept_paused_until: None,
                                limits,
                                heads: Heads::new(),
                                now: now_ns(),
                                next_sweep: 0,
                                expired: Vec::new(),
                            };
                            lp.run(tid_tx)
                        }
                    }
                })?;
        handle.counters.push(counters);
        handle.wakers.push(waker);
        handle.threads.push(thread);
    }
    drop(tid_tx);
    for i in 0..cfg.workers {
        let tid = tid_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| io::Error::other("a server worker did not start within 10 s"))??;
        observer.task_started(&TaskInfo {
            tid,
            index: i as u32,
            role: "server",
        });
        handle.tids.push(tid);
    }
    Ok(handle)
}

const LISTENER: u64 = 0;
const WAKER: u64 = 1;
/// Connection tokens are slab keys plus this.
const FIRST_CONN: u64 = 2;

/// One pending answer on a connection.
struct Out {
    reply: Reply,
    /// Bytes of `reply.head` then `reply.body` already sent.
    sent: usize,
    /// File offset reached by sendfile.
    file_off: i64,
}

struct Conn {
    fd: OwnedFd,
    session: Session,
    out: VecDeque<Out>,
    /// What the waiter watches now (level-triggered modes change it).
    interest: Interest,
    /// Reading may find data (set by events, cleared by EAGAIN or a short read).
    readable: bool,
    /// An event reported a hang-up or an error: a short read no longer means drained,
    /// reading goes on until it returns 0 or the error (edge-triggered modes are told
    /// about a FIN only once, often in the same edge as the last data).
    hup: bool,
    /// Start of the phase the timeouts measure, ns: accept, the last sending progress,
    /// the end of the last response, the first byte of a request, or the start of the
    /// lingering close.
    mark: u64,
    /// When the last byte was read, ns.
    last_read: u64,
    /// At least one response went out completely (later requests wait under the
    /// keep-alive idle limit, the first one under the request-head limit).
    served: bool,
    /// The closing response went out and the write side is shut down: input is read
    /// and dropped until EOF or the linger timeout.
    lingering: bool,
}

enum Next {
    Keep,
    Close,
}

struct Loop {
    waiter: Box<dyn Waiter>,
    edge: bool,
    listener: TcpListener,
    waker_fd: RawFd,
    responses: Arc<Responses>,
    counters: Arc<Counters>,
    conns: Slab<Conn>,
    max_pipeline: usize,
    refusal: Arc<OnceLock<String>>,
    /// Set while accept is off after EMFILE/ENFILE: the listen socket is then not in
    /// the waiter at all (removing it is the one way to stop every waiter, kevent's
    /// level-like requeue included, from reporting it again and again).
    accept_paused_until: Option<u64>,
    limits: Limits,
    heads: Heads,
    /// The time after the last wait returned, ns (CLOCK_MONOTONIC).
    now: u64,
    /// When to look for expired connections next, ns.
    next_sweep: u64,
    /// Reused list of connections found expired.
    expired: Vec<usize>,
}

/// How long accept stays off after EMFILE/ENFILE (the loop would spin otherwise).
const ACCEPT_PAUSE_NS: u64 = 50_000_000;

pub(super) fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNRESET)
            | Some(libc::EPIPE)
            | Some(libc::ECONNABORTED)
            | Some(libc::ETIMEDOUT)
    )
}

impl Loop {
    fn run(&mut self, tid_tx: mpsc::Sender<io::Result<u32>>) -> io::Result<()> {
        let setup = (|| {
            self.waiter
                .add(self.listener.as_raw_fd(), LISTENER, Interest::READ)?;
            self.waiter.add(self.waker_fd, WAKER, Interest::READ)
        })();
        if let Err(e) = setup {
            let _ = tid_tx.send(Err(io::Error::new(
                e.kind(),
                format!("cannot watch the listen socket: {e}"),
            )));
            return Err(e);
        }
        let _ = tid_tx.send(Ok(gettid()));
        drop(tid_tx);
        let mut events = vec![Event::default(); 1024];
        self.next_sweep = now_ns() + self.limits.tick;
        loop {
            let t0 = now_ns();
            let mut until = self.next_sweep;
            if let Some(t) = self.accept_paused_until {
                until = until.min(t);
            }
            let timeout = Duration::from_nanos(until.saturating_sub(t0));
            let n = self.waiter.wait(&mut events, Some(timeout))?;
            self.now = now_ns();
            let c = &self.counters;
            add(&c.wait_ns, self.now - t0);
            bump(&c.waits);
            add(&c.events, n as u64);
            self.heads.refresh(SystemTime::now());
            if let Some(t) = self.accept_paused_until {
                if self.now >= t {
                    self.accept_paused_until = None;
                    self.waiter
                        .add(self.listener.as_raw_fd(), LISTENER, Interest::READ)?;
                    self.accept();
                }
            }
            for ev in &events[..n] {
                match ev.token {
                    LISTENER => self.accept(),
                    WAKER => {
                        self.shutdown();
                        return Ok(());
                    }
                    t => self.on_event((t - FIRST_CONN) as usize, ev),
                }
            }
            if self.now >= self.next_sweep {
                self.sweep();
                self.next_sweep = self.now + self.limits.tick;
            }
        }
    }

    fn shutdown(&mut self) {
        for conn in self.conns.drain() {
            let _ = self.waiter.remove(conn.fd.as_raw_fd());
            bump(&self.counters.closed);
        }
    }

    fn close(&mut self, key: usize) {
        let conn = self.conns.remove(key);
        let _ = self.waiter.remove(conn.fd.as_raw_fd());
        bump(&self.counters.closed);
    }

    /// Closes every connection past its phase's limit (lighttpd's once-a-second
    /// `connection_check_timeout`, here every `tick`).
    fn sweep(&mut self) {
        let (now, l) = (self.now, self.limits);
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        for (key, c) in self.conns.iter() {
            let limit = if c.lingering {
                l.linger
            } else if !c.out.is_empty() {
                l.write_idle
            } else if c.session.in_request() || !c.served {
                // A later request on a kept connection must also keep its bytes coming
                // (lighttpd applies its keep-alive idle limit there).
                if c.served && now.saturating_sub(c.last_read) >= l.keep_alive_idle {
                    expired.push(key);
                    continue;
                }
                l.request_head
            } else {
                l.keep_alive_idle
            };
            if now.saturating_sub(c.mark) >= limit {
                expired.push(key);
            }
        }
        for &key in &expired {
            bump(&self.counters.timeouts);
            self.close(key);
        }
        self.expired = expired;
    }

    fn pause_accept(&mut self) {
        bump(&self.counters.accept_errors);
        self.accept_paused_until = Some(now_ns() + ACCEPT_PAUSE_NS);
        let _ = self.waiter.remove(self.listener.as_raw_fd());
    }

    fn accept(&mut self) {
        if self.accept_paused_until.is_some() {
            return;
        }
        // Level-triggered modes come back for the rest; edge-triggered ones must drain.
        let limit = if self.edge { usize::MAX } else { 256 };
        for _ in 0..limit {
            // SAFETY: null addr/len are allowed; flags make the socket non-blocking.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return,
                    Some(libc::EINTR) | Some(libc::ECONNABORTED) => continue,
                    Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                    | Some(libc::ENOMEM) => {
                        self.pause_accept();
                        return;
                    }
                    _ => {
                        bump(&self.counters.accept_errors);
                        return;
                    }
                }
            }
            // SAFETY: accept4 returned a fresh descriptor we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            bump(&self.counters.accepted);
            let entry = self.conns.vacant_entry();
            let token = entry.key() as u64 + FIRST_CONN;
            // Edge-triggered: watch both directions once and never re-arm.
            let interest = if self.edge {
                Interest::BOTH
            } else {
                Interest::READ
            };
            match self.waiter.add(fd.as_raw_fd(), token, interest) {
                Ok(()) => {
                    entry.insert(Conn {
                        fd,
                        session: Session::new(self.responses.max_header_bytes),
                        out: VecDeque::new(),
                        interest,
                        readable: false,
                        hup: false,
                        mark: self.now,
                        last_read: self.now,
                        served: false,
                        lingering: false,
                    });
                }
                Err(e) => {
                    bump(&self.counters.refused_by_waiter);
                    bump(&self.counters.closed);
                    let _ = self.refusal.set(e.to_string());
                }
            }
        }
    }

    fn on_event(&mut self, key: usize, ev: &Event) {
        let Some(conn) = self.conns.get_mut(key) else {
            // A stale event for a connection closed earlier in this batch.
            return;
        };
        if ev.readable || ev.hangup || ev.error {
            // Hang-ups and errors surface as read results.
            conn.readable = true;
        }
        if ev.hangup || ev.error {
            conn.hup = true;
        }
        let ctx = Ctx {
            responses: &self.responses,
            counters: &self.counters,
            heads: &mut self.heads,
            max_pipeline: self.max_pipeline,
            edge: self.edge,
            now: self.now,
        };
        match drive(conn, ctx) {
            Next::Close => self.close(key),
            Next::Keep if !self.edge => {
                let conn = &mut self.conns[key];
                let want = if conn.out.is_empty() {
                    Interest::READ
                } else {
                    Interest::WRITE
                };
                if want != conn.interest {
                    let fd = conn.fd.as_raw_fd();
                    if self
                        .waiter
                        .modify(fd, key as u64 + FIRST_CONN, want)
                        .is_ok()
                    {
                        conn.interest = want;
                    } else {
                        self.close(key);
                    }
                }
            }
            Next::Keep => {}
        }
    }
}

/// What `drive` needs from the loop besides the connection.
struct Ctx<'a> {
    responses: &'a Responses,
    counters: &'a Counters,
    heads: &'a mut Heads,
    max_pipeline: usize,
    edge: bool,
    now: u64,
}

enum Flush {
    Done,
    Blocked,
    /// A closing response went out completely.
    Finished,
    /// Sending failed: close now.
    Close,
}

/// `send` of `a` (when `b` is empty, the usual case) or `sendmsg` of `a` then `b`,
/// without SIGPIPE.
fn send2(fd: RawFd, a: &[u8], b: &[u8], flags: libc::c_int) -> isize {
    if b.is_empty() {
        // SAFETY: a is valid for a.len() bytes.
        return unsafe { libc::send(fd, a.as_ptr().cast(), a.len(), libc::MSG_NOSIGNAL | flags) };
    }
    let mut iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut libc::c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        },
    ];
    // SAFETY: an all-zero msghdr is valid; the fields set below point to live data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = 2;
    // SAFETY: msg and the iovecs it points to are valid for the call; sendmsg only reads
    // the buffers.
    unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | flags) }
}

/// Sends queued answers until done, blocked, or a closing answer went out.
fn flush(conn: &mut Conn, responses: &Responses, counters: &Counters, now: u64) -> Flush {
    let fd = conn.fd.as_raw_fd();
    while let Some(o) = conn.out.front_mut() {
        let hl = o.reply.head.len();
        let total = hl + o.reply.body.len();
        while o.sent < total {
            let (a, b) = if o.sent < hl {
                (&o.reply.head[o.sent..], &o.reply.body[..])
            } else {
                (&o.reply.body[o.sent - hl..], &[][..])
            };
            // More follows from the file: let TCP pack head and body together.
            let more = if o.reply.file_len > 0 {
                libc::MSG_MORE
            } else {
                0
            };
            let r = send2(fd, a, b, more);
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Flush::Blocked,
                    Some(libc::EINTR) => continue,
                    _ => {
                        if is_reset(&e) {
                            bump(&counters.peer_resets);
                        }
                        return Flush::Close;
                    }
                }
            }
            o.sent += r as usize;
            conn.mark = now;
        }
        while (o.file_off as u64) < o.reply.file_len {
            let Some((file, _)) = &responses.file else {
                return Flush::Close;
            };
            let left = (o.reply.file_len - o.file_off as u64) as usize;
            // SAFETY: file_off is a valid offset slot sendfile updates.
            let r = unsafe { libc::sendfile(fd, file.as_raw_fd(), &mut o.file_off, left) };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Flush::Blocked,
                    Some(libc::EINTR) => continue,
                    _ => {
                        if is_reset(&e) {
                            bump(&counters.peer_resets);
                        }
                        return Flush::Close;
                    }
                }
            }
            if r == 0 {
                // The file shrank under us: the promised length cannot be kept.
                return Flush::Close;
            }
            conn.mark = now;
        }
        let close = o.reply.close;
        conn.out.pop_front();
        conn.served = true;
        conn.mark = now;
        if close {
            return Flush::Finished;
        }
    }
    Flush::Done
}

/// Reads dropped per `linger` call at most (a peer that keeps sending gets new edges).
const LINGER_READS: usize = 64;

/// The lingering close (RFC 9112 §9.6): the write side is shut; read and drop input
/// until EOF (then close), EAGAIN (wait), or an error.
fn linger(conn: &mut Conn, edge: bool) -> Next {
    let mut sink = [0u8; 4096];
    for _ in 0..LINGER_READS {
        if !conn.readable {
            return Next::Keep;
        }
        // SAFETY: sink is valid for its length.
        let r = unsafe { libc::recv(conn.fd.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len(), 0) };
        if r < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => {
                    conn.readable = false;
                    return Next::Keep;
                }
                Some(libc::EINTR) => continue,
                _ => return Next::Close,
            }
        }
        if r == 0 {
            return Next::Close;
        }
        if !edge {
            conn.readable = false;
        }
    }
    Next::Keep
}

/// Moves one connection as far as it can go without blocking: send what is queued,
/// answer what is parsed, read what is there.
fn drive(conn: &mut Conn, ctx: Ctx<'_>) -> Next {
    if conn.lingering {
        return linger(conn, ctx.edge);
    }
    loop {
        match flush(conn, ctx.responses, ctx.counters, ctx.now) {
            Flush::Done => {}
            Flush::Blocked => return Next::Keep,
            Flush::Close => return Next::Close,
            Flush::Finished => {
                // SAFETY: plain syscall on our socket.
                unsafe { libc::shutdown(conn.fd.as_raw_fd(), libc::SHUT_WR) };
                conn.lingering = true;
                conn.out.clear();
                conn.mark = ctx.now;
                // Level modes must be told about input even after a short read.
                conn.readable = true;
                return linger(conn, ctx.edge);
            }
        }
        let mut answered = false;
        while conn.out.len() < ctx.max_pipeline {
            match conn.session.next(ctx.responses, ctx.heads) {
                Some(reply) => {
                    count_status(ctx.counters, reply.status);
                    conn.out.push_back(Out {
                        reply,
                        sent: 0,
                        file_off: 0,
                    });
                    answered = true;
                }
                None => break,
            }
        }
        if answered {
            continue;
        }
        if conn.session.closing || !conn.readable {
            return Next::Keep;
        }
        let fresh = !conn.session.in_request();
        let spare = conn.session.spare();
        let room = spare.len();
        if room == 0 {
            // Unreachable in practice: a full buffer is always parsed to an answer.
            return Next::Close;
        }
        // SAFETY: spare is valid for `room` bytes.
        let r = unsafe { libc::recv(conn.fd.as_raw_fd(), spare.as_mut_ptr().cast(), room, 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => {
                    conn.readable = false;
                    return Next::Keep;
                }
                Some(libc::EINTR) => continue,
                _ => {
                    if is_reset(&e) {
                        bump(&ctx.counters.peer_resets);
                    }
                    return Next::Close;
                }
            }
        }
        if r == 0 {
            return Next::Close;
        }
        let n = r as usize;
        conn.session.filled(n);
        conn.last_read = ctx.now;
        if fresh {
            // The first byte of a request: its head is timed from here.
            conn.mark = ctx.now;
        }
        // A short read drained the socket unless a hang-up or error was reported: then
        // read on to the EOF or the error, which no later edge will announce. A full
        // read may have left more: edge modes go on reading, level modes are told again.
        if !ctx.edge || (n < room && !conn.hup) {
            conn.readable = false;
        }
    }
}
