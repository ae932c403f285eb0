//! The HTTP server and load client against real sockets: framing (split, pipelined),
//! statuses and connection handling for every wait mode, sendfile bodies, 10,000
//! concurrent keep-alive connections (server in a child process, counted with `ss`),
//! slow and resetting clients, coordinated-omission correction against a stalling
//! server, and server and client in two network namespaces joined by a veth pair.
//!
//! Child processes are this test binary re-executed on the ignored test
//! `child_process_entry`, with `EVB_CHILD` saying what to be.
use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use workloads::{
    http::{
        self, body_bytes, BodySource, HttpWait, LoadConfig, Pace, ServerConfig, ServerHandle,
        ServerStats, Site,
    },
    stop::Stop,
    NoObserver,
};

const BODY: usize = 1000;

fn site(body: BodySource) -> Site {
    Site {
        path: "/index.html".into(),
        body,
        max_header_bytes: 4096,
    }
}

fn serve(wait: HttpWait, body: BodySource) -> ServerHandle {
    let cfg = ServerConfig {
        wait,
        site: site(body),
        ..ServerConfig::default()
    };
    http::start(&cfg, &NoObserver).expect("server starts")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One parsed response as the raw test client sees it.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (head + Content-Length body) from `r`; `head_only` for HEAD.
fn read_resp(r: &mut BufReader<TcpStream>, head_only: bool) -> Resp {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).expect("read head");
        assert!(n > 0, "connection closed mid-head after {head:?}");
        head.extend_from_slice(&line);
    }
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut p = httparse::Response::new(&mut hs);
    assert!(p.parse(&head).unwrap().is_complete());
    let headers: Vec<(String, String)> = p
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let status = p.code.unwrap();
    let resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = resp
        .header("content-length")
        .expect("Content-Length present")
        .parse()
        .unwrap();
    let mut body = vec![0; if head_only { 0 } else { len }];
    r.read_exact(&mut body).expect("read body");
    Resp { body, ..resp }
}

fn assert_eof(r: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    match r.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "bytes after the last response: {rest:?}"),
        // A close with unread input becomes a reset; either way the server hung up.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

fn each_mode(f: impl Fn(HttpWait) + Sync) {
    thread::scope(|s| {
        let handles: Vec<_> = HttpWait::all()
            .into_iter()
            .map(|w| {
                let name = w.name();
                let f = &f;
                (name, s.spawn(move || f(w)))
            })
            .collect();
        for (name, h) in handles {
            if h.join().is_err() {
                panic!("wait mode {name} failed");
            }
        }
    });
}

const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
const GET_MISSING: &[u8] = b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn requests_split_at_every_byte_and_pipelined_get_exact_answers() {
    each_mode(|wait| {
        let srv = serve(wait.clone(), BodySource::Bytes(BODY));
        let two = [GET, GET_MISSING].concat();
        let splits = 1..two.len();
        for i in splits.clone() {
            let s = connect(srv.local_addr());
            let mut w = s.try_clone().unwrap();
            w.write_all(&two[..i]).unwrap();
            thread::sleep(Duration::from_millis(2));
            w.write_all(&two[i..]).unwrap();
            let mut r = BufReader::new(s);
            let a = read_resp(&mut r, false);
            assert_eq!(
                (a.status, a.body.as_slice()),
                (200, body_bytes(BODY).as_slice()),
                "{wait} split {i}"
            );
            assert_eq!(a.header("content-length"), Some("1000"));
            let b = read_resp(&mut r, false);
            assert_eq!(b.status, 404, "{wait} split {i}");
        }
        // 100 requests in one write: 100 answers, in order.
        let s = connect(srv.local_addr());
        let mut burst = Vec::new();
        for k in 0..100 {
            burst.extend_from_slice(if k % 10 == 9 { GET_MISSING } else { GET });
        }
        s.try_clone().unwrap().write_all(&burst).unwrap();
        let mut r = BufReader::new(s);
        for k in 0..100 {
            let want = if k % 10 == 9 { 404 } else { 200 };
            assert_eq!(
                read_resp(&mut r, false).status,
                want,
                "{wait} pipelined #{k}"
            );
        }
        let n = splits.len() as u64;
        let st = srv.stop().unwrap();
        assert_eq!(
            (st.requests, st.ok, st.not_found),
            (2 * n + 100, n + 90, n + 10),
            "{wait}"
        );
    });
}

#[test]
fn statuses_and_connection_header_are_honoured() {
    each_mode(|wait| {
        let srv = serve(wait.clone(), BodySource::Bytes(BODY));
        let addr = srv.local_addr();
        let exchange = |req: &[u8], head_only: bool| {
            let s = connect(addr);
            s.try_clone().unwrap().write_all(req).unwrap();
            let mut r = BufReader::new(s);
            let resp = read_resp(&mut r, head_only);
            (resp, r)
        };
        // Malformed request line: 400, then the server closes.
        let (a, mut r) = exchange(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n", false);
        assert_eq!(
            (a.status, a.header("connection")),
            (400, Some("close")),
            "{wait}"
        );
        assert_eof(&mut r);
        // A head larger than the buffer (4096): 431, then close.
        let big = format!(
            "GET /index.html HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
            "a".repeat(5000)
        );
        let (a, mut r) = exchange(big.as_bytes(), false);
        assert_eq!(
            (a.status, a.header("connection")),
            (431, Some("close")),
            "{wait}"
        );
        assert_eof(&mut r);
        // Connection: close is honoured.
        let (a, mut r) = exchange(
            b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            false,
        );
        assert_eq!(
            (a.status, a.body.len(), a.header("connection")),
            (200, BODY, Some("close"))
        );
        assert_eof(&mut r);
        // HTTP/1.0 closes by default and keeps alive when asked.
        let (a, mut r) = exchange(b"GET /index.html HTTP/1.0\r\n\r\n", false);
        assert_eq!(
            (a.status, a.header("connection")),
            (200, Some("close")),
            "{wait}"
        );
        assert_eof(&mut r);
        let (a, mut r) = exchange(
            b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
            false,
        );
        assert_eq!(
            (a.status, a.header("connection")),
            (200, Some("keep-alive"))
        );
        assert_eq!(read_resp(&mut r, false).status, 200, "{wait}: still open");
        // HEAD: the head with the GET's Content-Length, no body; then a POST with a
        // body (405) whose body is skipped so the pipelined GET after it is answered.
        let (a, mut r) = exchange(
            b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\nPOST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
            true,
        );
        assert_eq!(
            (a.status, a.header("content-length"), a.body.len()),
            (200, Some("1000"), 0)
        );
        assert_eq!(read_resp(&mut r, false).status, 405, "{wait}");
        let c = read_resp(&mut r, false);
        assert_eq!((c.status, c.body.len()), (200, BODY), "{wait}");
        let st = srv.stop().unwrap();
        assert_eq!(
            (
                st.requests,
                st.ok,
                st.bad_request,
                st.header_too_large,
                st.method_not_allowed
            ),
            (9, 6, 1, 1, 1),
            "{wait}: {st:?}"
        );
        assert_eq!(st.accepted, 6, "{wait}");
    });
}

#[test]
fn file_bodies_go_out_with_sendfile_intact() {
    let dir = std::env::temp_dir().join(format!("evb-http-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("body.bin");
    // Larger than a socket buffer, so sendfile has to resume after EAGAIN.
    let content = body_bytes(3 * 1024 * 1024 + 17);
    fs::write(&path, &content).unwrap();
    each_mode(|wait| {
        let srv = serve(wait.clone(), BodySource::File(path.clone()));
        let s = connect(srv.local_addr());
        s.try_clone()
            .unwrap()
            .write_all(&[GET, GET].concat())
            .unwrap();
        let mut r = BufReader::new(s);
        for _ in 0..2 {
            let a = read_resp(&mut r, false);
            assert_eq!(a.status, 200, "{wait}");
            assert!(a.body == content, "{wait}: body differs from the file");
        }
        assert_eq!(srv.stop().unwrap().ok, 2, "{wait}");
    });
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_client_sending_one_byte_a_second_does_not_delay_others() {
    each_mode(|wait| {
        let srv = serve(wait.clone(), BodySource::Bytes(BODY));
        let addr = srv.local_addr();
        let fast_done = Arc::new(AtomicBool::new(false));
        let slow_sent = Arc::new(AtomicUsize::new(0));
        let slow = {
            let (fast_done, slow_sent) = (fast_done.clone(), slow_sent.clone());
            thread::spawn(move || {
                let s = connect(addr);
                let mut w = s.try_clone().unwrap();
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut i = 0;
                // One byte a second until the fast client is done (never the whole
                // request: the last bytes wait for that).
                while !fast_done.load(Ordering::Acquire) && i < GET.len() - 4 {
                    assert!(Instant::now() < deadline, "fast client never finished");
                    w.write_all(&GET[i..i + 1]).unwrap();
                    i += 1;
                    slow_sent.store(i, Ordering::Release);
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_secs(1) && !fast_done.load(Ordering::Acquire)
                    {
                        thread::sleep(Duration::from_millis(10));
                    }
                }
                w.write_all(&GET[i..]).unwrap();
                let a = read_resp(&mut BufReader::new(s), false);
                assert_eq!(a.status, 200);
            })
        };
        // Let the slow client get its first byte in.
        while slow_sent.load(Ordering::Acquire) == 0 {
            thread::sleep(Duration::from_millis(1));
        }
        let s = connect(addr);
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        for _ in 0..200 {
            w.write_all(GET).unwrap();
            assert_eq!(read_resp(&mut r, false).status, 200, "{wait}");
        }
        let sent_meanwhile = slow_sent.load(Ordering::Acquire);
        fast_done.store(true, Ordering::Release);
        slow.join().expect("slow client");
        assert!(
            sent_meanwhile < GET.len(),
            "{wait}: the slow request was complete before the fast client finished"
        );
        assert_eq!(srv.stop().unwrap().ok, 201, "{wait}");
    });
}

#[test]
fn a_client_resetting_mid_response_does_not_disturb_the_server() {
    // Far more than loopback socket buffers hold, so the server is mid-response.
    const BIG: usize = 32 * 1024 * 1024;
    each_mode(|wait| {
        let srv = serve(wait.clone(), BodySource::Bytes(BIG));
        let addr = srv.local_addr();
        let s = connect(addr);
        (&s).write_all(GET).unwrap();
        let mut some = [0u8; 4096];
        (&s).read_exact(&mut some).unwrap();
        // SO_LINGER 0: close sends a RST instead of a FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: valid socket and option buffer.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as u32,
            )
        };
        assert_eq!(rc, 0);
        drop(s);
        let deadline = Instant::now() + Duration::from_secs(10);
        while srv.stats().peer_resets < 1 {
            assert!(
                Instant::now() < deadline,
                "{wait}: the reset was never seen"
            );
            thread::sleep(Duration::from_millis(5));
        }
        // Another client is served in full, twice.
        let s = connect(addr);
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        for _ in 0..2 {
            w.write_all(GET).unwrap();
            let a = read_resp(&mut r, false);
            assert_eq!((a.status, a.body.len()), (200, BIG), "{wait}");
        }
        w.shutdown(Shutdown::Write).unwrap();
        assert_eof(&mut r);
        let st = srv.stop().unwrap();
        assert_eq!(
            (st.peer_resets, st.ok, st.accepted),
            (1, 3, 2),
            "{wait}: {st:?}"
        );
    });
}

/// A server that answers every request at once, except that it sleeps `stall` before
/// answering request number `stall_at` (counted from 0).
fn stalling_server(stall_at: u64, stall: Duration) -> (SocketAddr, thread::JoinHandle<u64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut served = 0;
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return served,
                Ok(_) => {}
            }
            if line == "\r\n" {
                if served == stall_at {
                    thread::sleep(stall);
                }
                if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .is_err()
                {
                    return served;
                }
                served += 1;
            }
        }
    });
    (addr, h)
}

#[test]
fn open_loop_latency_includes_a_server_stall() {
    let stall = Duration::from_secs(1);
    // 500 req/s on one connection: 250 warm-up requests, then the stall at request 500.
    let (addr, server) = stalling_server(500, stall);
    let report = http::client::run(
        &LoadConfig {
            addr,
            connections: 1,
            pace: Pace::Rate(500.0),
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(3),
            timeout: Duration::from_secs(5),
            ..LoadConfig::default()
        },
        &NoObserver,
        &Stop::new(),
    )
    .unwrap();
    assert_eq!(report.errors.total(), 0, "{:?}", report.errors);
    // Exactly the requests the schedule puts in the window: 500/s × 3 s. All are
    // answered (the last may be just after the window closed: late) unless a loaded
    // machine holds the client back past the window's end (then missed).
    assert_eq!(report.scheduled, 1500);
    assert_eq!(report.successes() + report.missed, 1500);
    let ok = report.successes();
    // Every request scheduled during the stall waits for its end: about 500 requests
    // with latencies spread up to the stall, so the top percent is close to it.
    let stall_ns = stall.as_nanos() as u64;
    assert!(
        report.latency.max() >= stall_ns,
        "max {}",
        report.latency.max()
    );
    let p99 = report.latency.value_at_quantile(0.99);
    assert!(p99 >= stall_ns * 9 / 10, "p99 {p99} ns misses the stall");
    // Only one request was actually outstanding during the stall.
    assert!(report.service.max() >= stall_ns);
    assert_eq!(report.latency.len(), ok);
    let dropped = report.warmup_dropped;
    drop(report);
    // The 250 warm-up requests (less any dropped at the window's opening) and the
    // measured ones were served.
    assert_eq!(server.join().unwrap(), 250 - dropped + ok);
}

// ---- child processes ----------------------------------------------------------------

/// Entry point of the child processes the tests below start (not a test by itself).
#[test]
#[ignore = "entry point for child processes; runs only when EVB_CHILD is set"]
fn child_process_entry() {
    let Ok(role) = std::env::var("EVB_CHILD") else {
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    http::raise_nofile_limit().unwrap();
    let mut out = std::io::stdout();
    match role.as_str() {
        "server" => {
            // Fill the fd table so accepted sockets land at fd >= EVB_FILL_FDS: most of
            // it before the server starts (its own fds stay below), the rest after.
            let fill: i32 = env("EVB_FILL_FDS").parse().unwrap_or(0);
            let mut held = Vec::new();
            let mut fill_to = |limit: i32| {
                if limit <= 0 {
                    return;
                }
                loop {
                    let f = fs::File::open("/dev/null").unwrap();
                    let fd = f.as_raw_fd();
                    held.push(f);
                    if fd >= limit - 1 {
                        break;
                    }
                }
            };
            fill_to(fill - 16);
            let cfg = ServerConfig {
                addr: env("EVB_ADDR").parse().unwrap(),
                wait: env("EVB_WAIT").parse().unwrap(),
                site: site(BodySource::Bytes(BODY)),
                ..ServerConfig::default()
            };
            let srv = http::start(&cfg, &NoObserver).unwrap();
            fill_to(fill);
            writeln!(out, "LISTENING {}", srv.local_addr()).unwrap();
            out.flush().unwrap();
            // Runs until the parent closes our stdin.
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
            let refusal = srv.first_refusal().unwrap_or("").to_string();
            let st = srv.stop().unwrap();
            writeln!(out, "REFUSAL {refusal}").unwrap();
            writeln!(out, "STATS {}", serde_json::to_string(&st).unwrap()).unwrap();
        }
        "load" => {
            let r = http::client::run(
                &LoadConfig {
                    addr: env("EVB_ADDR").parse().unwrap(),
                    connections: env("EVB_CONNECTIONS").parse().unwrap(),
                    path: "/index.html".into(),
                    warmup: Duration::from_millis(500),
                    duration: Duration::from_secs(2),
                    ..LoadConfig::default()
                },
                &NoObserver,
                &Stop::new(),
            )
            .unwrap();
            writeln!(
                out,
                "REPORT {} {} {}",
                r.requests,
                r.bytes,
                serde_json::to_string(&r.errors).unwrap()
            )
            .unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
    out.flush().unwrap();
}

/// A child process of this test binary playing `role`, optionally inside a network
/// namespace. Killed on drop if still running.
struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProc {
    fn spawn(netns: Option<&str>, envs: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args([
            "--ignored",
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn child");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// The rest of the first stdout line starting with `tag`; panics if the child exits.
    fn line(&mut self, tag: &str) -> String {
        loop {
            let mut l = String::new();
            let n = self.stdout.read_line(&mut l).unwrap();
            assert!(n > 0, "child exited before printing {tag}");
            // The harness prints "test child_process_entry ... " on the same line.
            if let Some(at) = l.find(tag) {
                return l[at + tag.len()..].trim().to_string();
            }
        }
    }

    /// Closes stdin (a server child then stops) and reads its final stats.
    fn finish_server(mut self) -> (String, ServerStats) {
        drop(self.stdin.take());
        let refusal = self.line("REFUSAL");
        let stats = serde_json::from_str(&self.line("STATS ")).unwrap();
        let _ = self.child.wait();
        (refusal, stats)
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Established TCP connections whose local port is `port` (the server's side).
fn established_on(port: u16) -> usize {
    let out = Command::new("ss")
        .args([
            "-Htn",
            "state",
            "established",
            &format!("( sport = :{port} )"),
        ])
        .output()
        .expect("run ss");
    assert!(out.status.success(), "ss failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// The 10,000-connection tests take most of this process's fd limit: one at a time.
static BIG_LOAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ten_thousand_connections(wait: &str) {
    const CONNS: usize = 10_000;
    let _one_at_a_time = BIG_LOAD.lock().unwrap_or_else(|p| p.into_inner());
    http::raise_nofile_limit().unwrap();
    let mut server = ChildProc::spawn(
        None,
        &[
            ("EVB_CHILD", "server"),
            ("EVB_WAIT", wait),
            ("EVB_ADDR", "127.0.0.1:0"),
        ],
    );
    let addr: SocketAddr = server.line("LISTENING ").parse().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let counter = {
        let done = done.clone();
        thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Acquire) {
                peak = peak.max(established_on(addr.port()));
                thread::sleep(Duration::from_millis(200));
            }
            peak
        })
    };
    let report = http::client::run(
        &LoadConfig {
            addr,
            connections: CONNS,
            path: "/index.html".into(),
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(3),
            timeout: Duration::from_secs(30),
            threads: 2,
            ..LoadConfig::default()
        },
        &NoObserver,
        &Stop::new(),
    )
    .unwrap();
    done.store(true, Ordering::Release);
    let peak_ss = counter.join().unwrap();
    let (_, st) = server.finish_server();
    assert_eq!(report.errors.total(), 0, "{wait}: {:?}", report.errors);
    assert_eq!(
        peak_ss, CONNS,
        "{wait}: connections ss saw established at once"
    );
    assert_eq!(report.peak_connections, CONNS as u64, "{wait}");
    assert!(
        report.min_per_connection >= 1,
        "{wait}: a connection got no answer"
    );
    assert_eq!(st.accepted, CONNS as u64, "{wait}: {st:?}");
    assert_eq!(st.requests, st.ok, "{wait}: {st:?}");
    assert!(
        st.ok >= report.requests,
        "{wait}: server answered fewer than the client counted"
    );
}

#[test]
fn ten_thousand_keepalive_connections_epoll() {
    ten_thousand_connections("epoll");
}

#[test]
fn ten_thousand_keepalive_connections_tokio() {
    ten_thousand_connections("tokio");
}

#[test]
fn select_refuses_connections_at_fd_setsize_with_a_clear_error() {
    let fill = libc::FD_SETSIZE.to_string();
    let mut server = ChildProc::spawn(
        None,
        &[
            ("EVB_CHILD", "server"),
            ("EVB_WAIT", "select"),
            ("EVB_ADDR", "127.0.0.1:0"),
            ("EVB_FILL_FDS", &fill),
        ],
    );
    let addr: SocketAddr = server.line("LISTENING ").parse().unwrap();
    let s = connect(addr);
    (&s).write_all(GET).unwrap();
    let mut got = Vec::new();
    // The server closes the connection without answering.
    let _ = (&s).read_to_end(&mut got);
    assert!(
        got.is_empty(),
        "answered: {:?}",
        String::from_utf8_lossy(&got)
    );
    let (refusal, st) = server.finish_server();
    assert_eq!((st.accepted, st.refused_by_waiter, st.requests), (1, 1, 0));
    assert!(refusal.contains("FD_SETSIZE"), "{refusal}");
}

/// Two namespaces joined by a veth pair, removed on drop.
struct Netns {
    names: [String; 2],
}

impl Netns {
    fn create(tag: &str) -> Self {
        let id = std::process::id() % 100_000;
        let names = [format!("evb-{tag}s-{id}"), format!("evb-{tag}c-{id}")];
        let ns = Netns { names };
        let run = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().expect("run ip");
            assert!(st.success(), "ip {args:?} failed");
        };
        let [s, c] = &ns.names;
        run(&["netns", "add", s]);
        run(&["netns", "add", c]);
        let (vs, vc) = (format!("evbs{id}"), format!("evbc{id}"));
        run(&[
            "link", "add", &vs, "netns", s, "type", "veth", "peer", "name", &vc, "netns", c,
        ]);
        run(&["-n", s, "addr", "add", "10.231.77.1/30", "dev", &vs]);
        run(&["-n", c, "addr", "add", "10.231.77.2/30", "dev", &vc]);
        for (n, d) in [(s, &vs), (c, &vc)] {
            run(&["-n", n, "link", "set", d, "up"]);
            run(&["-n", n, "link", "set", "lo", "up"]);
        }
        ns
    }

    fn counter(&self, which: usize, dev: &str, stat: &str) -> u64 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.names[which], "cat"])
            .arg(format!("/sys/class/net/{dev}/statistics/{stat}"))
            .output()
            .expect("read counter");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

#[test]
fn server_and_client_in_two_namespaces_over_veth() {
    let ns = Netns::create("h");
    let id = std::process::id() % 100_000;
    let (vs, vc) = (format!("evbs{id}"), format!("evbc{id}"));
    let before = (
        ns.counter(0, &vs, "tx_bytes"),
        ns.counter(1, &vc, "tx_bytes"),
    );
    let mut server = ChildProc::spawn(
        Some(&ns.names[0]),
        &[
            ("EVB_CHILD", "server"),
            ("EVB_WAIT", "epoll"),
            ("EVB_ADDR", "10.231.77.1:0"),
        ],
    );
    let addr = server.line("LISTENING ");
    let mut client = ChildProc::spawn(
        Some(&ns.names[1]),
        &[
            ("EVB_CHILD", "load"),
            ("EVB_ADDR", &addr),
            ("EVB_CONNECTIONS", "8"),
        ],
    );
    let report = client.line("REPORT ");
    let mut parts = report.splitn(3, ' ');
    let requests: u64 = parts.next().unwrap().parse().unwrap();
    let bytes: u64 = parts.next().unwrap().parse().unwrap();
    let errors: http::ErrorCounts = serde_json::from_str(parts.next().unwrap()).unwrap();
    let (_, st) = server.finish_server();
    let after = (
        ns.counter(0, &vs, "tx_bytes"),
        ns.counter(1, &vc, "tx_bytes"),
    );
    assert_eq!(errors.total(), 0, "{errors:?}");
    assert!(requests >= 1);
    assert!(st.ok >= requests, "{st:?}");
    // Every response byte the client counted crossed the server's veth, and every
    // request (at least its bytes) crossed the client's.
    let req_len = format!("GET /index.html HTTP/1.1\r\nHost: {addr}\r\n\r\n").len() as u64;
    assert!(
        after.0 - before.0 >= bytes,
        "server veth sent {} < {bytes}",
        after.0 - before.0
    );
    assert!(
        after.1 - before.1 >= requests * req_len,
        "client veth sent {} < {}",
        after.1 - before.1,
        requests * req_len
    );
}

#[test]
fn workers_share_one_port_and_a_second_server_cannot_take_it() {
    for wait in [
        HttpWait::Waiter(workloads::WaitMode::Epoll),
        HttpWait::Tokio,
    ] {
        let cfg = ServerConfig {
            wait: wait.clone(),
            workers: 3,
            site: site(BodySource::Bytes(BODY)),
            ..ServerConfig::default()
        };
        let srv = http::start(&cfg, &NoObserver).unwrap();
        let mut tids = srv.tids().to_vec();
        tids.sort_unstable();
        tids.dedup();
        assert_eq!(tids.len(), 3, "{wait}: one loop thread per worker");
        let again = http::start(
            &ServerConfig {
                addr: srv.local_addr(),
                ..cfg.clone()
            },
            &NoObserver,
        );
        let err = again.err().expect("the port is taken");
        assert!(err.to_string().contains("another server"), "{err}");
        for _ in 0..30 {
            let s = connect(srv.local_addr());
            (&s).write_all(b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut r = BufReader::new(s);
            assert_eq!(read_resp(&mut r, false).status, 200);
            assert_eof(&mut r);
        }
        let st = srv.stop().unwrap();
        assert_eq!((st.accepted, st.ok, st.closed), (30, 30, 30), "{wait}");
    }
}

#[test]
fn ten_thousand_keepalive_connections_kevent() {
    ten_thousand_connections("kevent");
}

#[test]
fn ten_thousand_keepalive_connections_kevent_ring() {
    ten_thousand_connections("kevent-ring");
}
