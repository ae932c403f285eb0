//! The server against clients that try to take it down, on every wait mode: a request
//! and its FIN in one edge (epoll-et must still close), accept() out of fds (no spin,
//! and service resumes once fds free up), the timeouts (idle keep-alive, slow or silent
//! request heads, a reader that stops reading), and configurations that must be refused
//! before anything starts.
//!
//! Servers that must be frozen (SIGSTOP) or run under a small fd limit are this test
//! binary re-executed on the ignored test `child_server_entry` with `EVB_HTTP_CHILD`.
mod http_util;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use http_util::*;
use workloads::{
    http::{self, BodySource, HttpWait, ServerConfig},
    NoObserver,
};

// --- Child server ---------------------------------------------------------------------

/// Entry point of the child servers (not a test by itself).
#[test]
#[ignore = "entry point for child processes; runs only when EVB_HTTP_CHILD is set"]
fn child_server_entry() {
    let Ok(wait) = std::env::var("EVB_HTTP_CHILD") else {
        return;
    };
    if let Ok(n) = std::env::var("EVB_NOFILE") {
        let n: u64 = n.parse().unwrap();
        let lim = libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
        // SAFETY: valid rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    }
    let mut cfg = config(wait.parse().unwrap());
    // Held connections must not be freed by the keep-alive timeout during a test.
    cfg.keep_alive_idle = Duration::from_secs(60);
    let srv = http::start(&cfg, &NoObserver).unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "LISTENING {}", srv.local_addr()).unwrap();
    out.flush().unwrap();
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    let st = srv.stop().unwrap();
    writeln!(out, "STATS {} {}", st.accepted, st.accept_errors).unwrap();
    out.flush().unwrap();
}

struct ChildServer {
    child: Child,
    _stdin: ChildStdin,
    addr: SocketAddr,
}

impl ChildServer {
    fn spawn(wait: &HttpWait, envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "child_server_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("EVB_HTTP_CHILD", wait.name())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let addr = loop {
            let mut l = String::new();
            assert!(out.read_line(&mut l).unwrap() > 0, "child exited early");
            if let Some(at) = l.find("LISTENING ") {
                break l[at + 10..].trim().parse().unwrap();
            }
        };
        Self {
            child,
            _stdin: stdin,
            addr,
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: plain syscall on our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// utime + stime of the whole child, in clock ticks (/proc/PID/stat fields 14, 15).
    fn cpu_ticks(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let f: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
        // Fields after the comm: index 0 is field 3 (state).
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server-side sockets on `port` in CLOSE-WAIT (state 08 in /proc/net/tcp).
fn close_wait_on(port: u16) -> usize {
    let t = std::fs::read_to_string("/proc/net/tcp").unwrap();
    t.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(f[1].rsplit(':').next().unwrap(), 16).unwrap();
            local_port == port && f[3] == "08"
        })
        .count()
}

// --- Item 2: every condition an edge reports is consumed -----------------------------

/// With the server frozen, each client sends its bytes and its FIN, so the server
/// learns of both in one edge when it resumes. A partial head then FIN must end in the
/// server's close; a full GET then FIN must be answered, then closed; and after the
/// clients close, no server socket may stay in CLOSE-WAIT.
#[test]
fn data_and_fin_in_one_edge_are_both_acted_on() {
    each_mode(|w| {
        let child = ChildServer::spawn(&w, &[]);
        child.signal(libc::SIGSTOP);
        let mut partial = Vec::new();
        let mut full = Vec::new();
        for _ in 0..20 {
            let s = connect(child.addr);
            (&s).write_all(b"GET /index.html HTTP/1.1\r\nHo").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            partial.push(BufReader::new(s));
            let s = connect(child.addr);
            (&s).write_all(GET).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            full.push(BufReader::new(s));
        }
        // Let the handshakes and data settle in the kernel while the server is stopped.
        thread::sleep(Duration::from_millis(100));
        child.signal(libc::SIGCONT);
        for (i, r) in partial.iter_mut().enumerate() {
            assert!(
                closed_within(r, Duration::from_secs(3)),
                "{w}: partial head + FIN #{i} never closed"
            );
        }
        for (i, r) in full.iter_mut().enumerate() {
            assert_eq!(read_resp(r, false).status, 200, "{w} #{i}");
            assert!(
                closed_within(r, Duration::from_secs(3)),
                "{w}: GET + FIN #{i} never closed"
            );
        }
        drop((partial, full));
        let port = child.addr.port();
        assert!(
            eventually(Duration::from_secs(3), || close_wait_on(port) == 0),
            "{w}: {} server sockets left in CLOSE-WAIT",
            close_wait_on(port)
        );
    });
}

// --- Item 3: out of fds ---------------------------------------------------------------

/// The child runs with RLIMIT_NOFILE 64. Connections are opened (each answered) until
/// one is not accepted; over the next 2 s the server must use under 0.05 s of CPU (no
/// spin on EMFILE); when 4 held connections close, the waiting one must be answered
/// within 0.5 s (the measured time is printed).
#[test]
fn out_of_fds_the_server_sleeps_and_resumes() {
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    each_mode(|w| {
        let child = ChildServer::spawn(&w, &[("EVB_NOFILE", "64")]);
        let mut held = Vec::new();
        let waiting = loop {
            assert!(held.len() < 64, "{w}: never ran out of fds");
            let s = connect(child.addr);
            (&s).write_all(GET).unwrap();
            // An accepted connection answers in far less; a loaded machine must not
            // pass for an exhausted fd table.
            s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut r = BufReader::new(s);
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(_) if line.starts_with("HTTP/1.1 200") => {
                    // The rest of the response stays unread; the connection stays open.
                    held.push(r);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break r
                }
                other => panic!("{w}: {other:?} {line:?}"),
            }
        };
        let c0 = child.cpu_ticks();
        thread::sleep(Duration::from_secs(2));
        let cpu = (child.cpu_ticks() - c0) as f64 / ticks_per_s;
        assert!(cpu < 0.05, "{w}: {cpu} s of CPU in 2 s out of fds");
        let t = Instant::now();
        held.truncate(held.len() - 4);
        let mut r = waiting;
        r.get_ref()
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let took = t.elapsed();
        assert!(line.starts_with("HTTP/1.1 200"), "{w}: {line:?}");
        assert!(
            took < Duration::from_millis(500),
            "{w}: served {took:?} after fds freed"
        );
        eprintln!(
            "{w}: {} connections held, cpu {cpu:.3} s in 2 s out of fds, waiting one served {:.1} ms after 4 closed",
            held.len() + 4,
            took.as_secs_f64() * 1e3
        );
        // And a new connection is served as well.
        let (a, _r) = exchange(child.addr, GET, false);
        assert_eq!(a.status, 200, "{w}");
    });
}

// --- Item 5: timeouts -----------------------------------------------------------------

const KEEP_ALIVE: Duration = Duration::from_millis(300);
const HEAD: Duration = Duration::from_millis(400);
const WRITE_IDLE: Duration = Duration::from_millis(300);

fn short_timeouts(wait: HttpWait, body: usize) -> http::ServerHandle {
    let mut cfg = config(wait);
    cfg.site.body = BodySource::Bytes(body);
    cfg.keep_alive_idle = KEEP_ALIVE;
    cfg.request_head_timeout = HEAD;
    cfg.write_idle_timeout = WRITE_IDLE;
    cfg.linger_timeout = Duration::from_millis(300);
    http::start(&cfg, &NoObserver).unwrap()
}

/// Waits for the server's counters to show exactly `timeouts` timeouts and every
/// accepted connection closed.
fn settled(srv: &http::ServerHandle, w: &HttpWait, accepted: u64, timeouts: u64) {
    let ok = eventually(Duration::from_secs(3), || {
        let s = srv.stats();
        (s.accepted, s.closed, s.timeouts) == (accepted, accepted, timeouts)
    });
    assert!(ok, "{w}: {:?}", srv.stats());
}

/// Asserts that the server did not end the connection before `until`: an EOF seen
/// before that instant is an early close; one seen later proves nothing (a loaded
/// machine may run this thread late), so it passes.
fn open_until(r: &mut BufReader<TcpStream>, until: Instant, w: &HttpWait) {
    let left = until.saturating_duration_since(Instant::now());
    if !left.is_zero() && closed_within(r, left) {
        assert!(Instant::now() >= until, "{w}: closed before the limit");
    }
}

#[test]
fn idle_keep_alive_is_closed_after_keep_alive_idle() {
    each_mode(|w| {
        let srv = short_timeouts(w.clone(), BODY);
        // The server's idle clock starts after this instant, so it cannot close the
        // connection before t0 + KEEP_ALIVE.
        let t0 = Instant::now();
        let (a, mut r) = exchange(srv.local_addr(), GET, false);
        assert_eq!(a.status, 200);
        open_until(&mut r, t0 + KEEP_ALIVE, &w);
        assert!(
            closed_within(&mut r, Duration::from_secs(3)),
            "{w}: never closed"
        );
        settled(&srv, &w, 1, 1);
    });
}

#[test]
fn requests_inside_keep_alive_idle_keep_the_connection() {
    each_mode(|w| {
        let mut cfg = config(w.clone());
        cfg.keep_alive_idle = Duration::from_secs(1);
        let srv = http::start(&cfg, &NoObserver).unwrap();
        let s = connect(srv.local_addr());
        let mut r = BufReader::new(s.try_clone().unwrap());
        // 8 requests 250 ms apart: 2 s in all, twice the idle limit.
        for i in 0..8 {
            (&s).write_all(GET).unwrap();
            assert_eq!(read_resp(&mut r, false).status, 200, "{w} #{i}");
            thread::sleep(Duration::from_millis(250));
        }
        drop(s);
        finish(&mut r);
        settled(&srv, &w, 1, 0);
    });
}

#[test]
fn a_silent_connection_is_closed_after_the_head_timeout() {
    each_mode(|w| {
        let srv = short_timeouts(w.clone(), BODY);
        let t0 = Instant::now();
        let mut r = BufReader::new(connect(srv.local_addr()));
        open_until(&mut r, t0 + HEAD, &w);
        assert!(
            closed_within(&mut r, Duration::from_secs(3)),
            "{w}: never closed"
        );
        settled(&srv, &w, 1, 1);
    });
}

/// A later request on a kept connection that stops sending mid-head is closed after
/// the keep-alive idle limit, well before the (here 30 s) whole-head limit.
#[test]
fn a_later_request_going_silent_is_closed_after_keep_alive_idle() {
    each_mode(|w| {
        let mut cfg = config(w.clone());
        cfg.keep_alive_idle = KEEP_ALIVE;
        cfg.request_head_timeout = Duration::from_secs(30);
        let srv = http::start(&cfg, &NoObserver).unwrap();
        let (a, mut r) = exchange(srv.local_addr(), GET, false);
        assert_eq!(a.status, 200, "{w}");
        r.get_ref().write_all(b"GET /index.html HT").unwrap();
        assert!(
            closed_within(&mut r, Duration::from_secs(3)),
            "{w}: never closed"
        );
        settled(&srv, &w, 1, 1);
    });
}

/// A head trickling in a byte every 50 ms is making progress all the time, but the
/// whole head must arrive within the limit: the server closes anyway.
#[test]
fn a_head_trickling_in_is_closed_after_the_head_timeout() {
    each_mode(|w| {
        let srv = short_timeouts(w.clone(), BODY);
        let s = connect(srv.local_addr());
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (s, stop) = (s.try_clone().unwrap(), stop.clone());
            thread::spawn(move || {
                let head = b"GET /index.html HTTP/1.1\r\nX-Slow: ".repeat(100);
                for b in head.iter().take(100) {
                    if stop.load(Ordering::Acquire) || (&s).write_all(&[*b]).is_err() {
                        return;
                    }
                    thread::sleep(Duration::from_millis(50));
                }
            })
        };
        // Well before the writer's 5 s of bytes would end.
        let mut r = BufReader::new(s);
        assert!(
            closed_within(&mut r, Duration::from_secs(3)),
            "{w}: never closed"
        );
        stop.store(true, Ordering::Release);
        writer.join().unwrap();
        settled(&srv, &w, 1, 1);
    });
}

/// A client that stops reading a 32 MiB body: sending makes no progress, and the
/// server closes after the write-idle limit.
#[test]
fn a_reader_that_stops_reading_is_closed_after_write_idle() {
    each_mode(|w| {
        let srv = short_timeouts(w.clone(), 32 << 20);
        let s = connect(srv.local_addr());
        (&s).write_all(GET).unwrap();
        let mut some = [0u8; 4096];
        (&s).read_exact(&mut some).unwrap();
        settled(&srv, &w, 1, 1);
        drop(s);
    });
}

/// After a closing response the server half-closes and waits for the client's FIN
/// (lingering close); a client that never closes is dropped after the linger limit.
#[test]
fn a_client_that_never_closes_is_dropped_after_the_linger_timeout() {
    each_mode(|w| {
        let srv = short_timeouts(w.clone(), BODY);
        let (a, mut r) = exchange(
            srv.local_addr(),
            b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            false,
        );
        assert_eq!(
            (a.status, a.header("connection")),
            (200, Some("close")),
            "{w}"
        );
        // The server's FIN (its write side shut) arrives at once...
        assert!(closed_within(&mut r, Duration::from_secs(3)), "{w}: no FIN");
        // ...but it keeps the socket to read ours, until the linger limit closes it.
        settled(&srv, &w, 1, 1);
        drop(r);
    });
}

// --- Item 6: configurations refused before anything starts ---------------------------

/// `start` refuses `cfg` with one line containing `want`, and nothing listens on the
/// configured port afterwards.
fn refused(cfg: ServerConfig, want: &str) {
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = ServerConfig { addr: free, ..cfg };
    let e = match http::start(&cfg, &NoObserver) {
        Ok(_) => panic!("accepted a configuration that should fail with '{want}'"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(want), "'{e}' does not say '{want}'");
    assert!(!e.contains('\n'), "not one line: {e:?}");
    assert!(
        TcpStream::connect(free).is_err(),
        "something listens on {free}"
    );
}

#[test]
fn bad_configurations_are_one_line_errors() {
    let base = config(HttpWait::Waiter(workloads::WaitMode::Epoll));
    let mut c = base.clone();
    c.site.body = BodySource::Bytes(99_999_999_999);
    refused(c, "body size 99999999999 bytes is over");
    let mut c = base.clone();
    c.site.body = BodySource::Bytes(usize::MAX);
    refused(c, "is over the 1073741824 bytes");
    let dir = std::env::temp_dir().join(format!("evb-http-abuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = base.clone();
    c.site.body = BodySource::File(dir.clone());
    refused(c, "is a directory, not a regular file");
    let fifo = dir.join("fifo");
    let p = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid path.
    assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o600) }, 0);
    let mut c = base.clone();
    c.site.body = BodySource::File(fifo);
    // A FIFO would block the open without O_NONBLOCK: this must return at once.
    refused(c, "is a FIFO, not a regular file");
    let mut c = base.clone();
    c.site.body = BodySource::File(dir.join("missing"));
    refused(c, "cannot open body file");
    std::fs::remove_dir_all(&dir).unwrap();
    let mut c = base.clone();
    c.keep_alive_idle = Duration::ZERO;
    refused(
        c,
        "keep_alive_idle must be at least 1 ms and at most 86400 s (got 0ns)",
    );
    // Sub-millisecond limits are refused too, with the minimum (the loops sleep in
    // whole milliseconds).
    let mut c = base.clone();
    c.request_head_timeout = Duration::from_nanos(1);
    refused(
        c,
        "request_head_timeout must be at least 1 ms and at most 86400 s (got 1ns)",
    );
    let mut c = base.clone();
    c.linger_timeout = Duration::from_micros(999);
    refused(
        c,
        "linger_timeout must be at least 1 ms and at most 86400 s (got 999µs)",
    );
    let mut c = base.clone();
    c.write_idle_timeout = Duration::from_secs(86_401);
    refused(
        c,
        "write_idle_timeout must be at least 1 ms and at most 86400 s",
    );
    let mut c = base.clone();
    c.workers = 0;
    refused(c, "workers must be between 1 and 1024 (got 0)");
    let mut c = base.clone();
    c.site.max_header_bytes = 16;
    refused(
        c,
        "max_header_bytes must be between 64 and 1048576 (got 16)",
    );
    let mut c = base.clone();
    c.site.path = "index.html".into();
    refused(c, "the served path must start with '/'");
    let mut c = base;
    c.max_pipeline = 0;
    refused(c, "max_pipeline must be at least 1");
}
