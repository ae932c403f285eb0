//! The load client against hand-written loopback servers that answer in every way RFC
//! 9112 allows (interim 1xx answers, chunked and close-delimited bodies, bytes dribbled
//! one at a time), in ways it forbids (two Content-Lengths, TE with CL, ...), that close
//! idle kept-alive connections, or that never answer; and the client's refusal of a
//! configuration that cannot run.
//!
//! Every run is an open loop on one connection at 20 req/s for 0.5 s with no warm-up,
//! so the schedule puts exactly 10 requests in the window. On a loaded machine the
//! client can fall behind and send fewer (the rest are counted as missed), so the
//! tests check the exact relation between what the client reports and what the server
//! saw, rather than assuming all 10 went out.
use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use workloads::{
    http::{self, LoadConfig, LoadReport, Pace},
    stop::Stop,
    NoObserver,
};

/// Requests each run schedules: 20 req/s × 0.5 s.
const N: u64 = 10;

/// One accepted connection of a scripted server.
struct Peer {
    r: BufReader<TcpStream>,
    w: TcpStream,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicU64,
    /// Requests read whole (head up to the empty line).
    requests: AtomicU64,
}

impl Peer {
    /// Reads one request head; false at EOF or error.
    fn read_request(&mut self) -> bool {
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) | Err(_) => return false,
                Ok(_) if line == "\r\n" => {
                    self.counts.requests.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Ok(_) => {}
            }
        }
    }

    fn send(&mut self, b: &[u8]) {
        let _ = self.w.write_all(b);
    }

    /// Sends `b` one byte per write (TCP_NODELAY is on), so the client sees every split.
    fn dribble(&mut self, b: &[u8]) {
        for c in b.chunks(1) {
            if self.w.write_all(c).is_err() {
                return;
            }
        }
    }
}

/// A loopback server running `behave` on each connection, on its own thread.
struct Script {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Script {
    fn start(behave: impl Fn(Peer) + Send + Sync + 'static) -> Script {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let behave = Arc::new(behave);
        let accept = {
            let (counts, stop) = (counts.clone(), stop.clone());
            thread::spawn(move || {
                // Bounded: a test that forgets to stop its server still ends.
                let give_up = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Acquire) && Instant::now() < give_up {
                    match l.accept() {
                        Ok((s, _)) => {
                            counts.accepted.fetch_add(1, Ordering::Relaxed);
                            s.set_nonblocking(false).unwrap();
                            s.set_nodelay(true).unwrap();
                            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                            let peer = Peer {
                                w: s.try_clone().unwrap(),
                                r: BufReader::new(s),
                                counts: counts.clone(),
                            };
                            let behave = behave.clone();
                            thread::spawn(move || behave(peer));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Script {
            addr,
            counts,
            stop,
            accept: Some(accept),
        }
    }

    /// Stops accepting; returns (connections accepted, requests read).
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        (
            self.counts.accepted.load(Ordering::Relaxed),
            self.counts.requests.load(Ordering::Relaxed),
        )
    }
}

fn config(addr: SocketAddr) -> LoadConfig {
    LoadConfig {
        addr,
        connections: 1,
        pace: Pace::Rate(20.0),
        warmup: Duration::ZERO,
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(2),
        ..LoadConfig::default()
    }
}

fn load(cfg: &LoadConfig) -> LoadReport {
    http::client::run(cfg, &NoObserver, &Stop::new()).expect("load run")
}

/// A server answering every request on a connection with `answer`.
fn answering(answer: &'static [u8]) -> Script {
    Script::start(move |mut p| {
        while p.read_request() {
            p.send(answer);
        }
    })
}

/// Every request of the window that went out succeeded, `answer`'s bytes each.
/// Returns how many did.
fn assert_all_ok(r: &LoadReport, what: &str, answer_len: usize) -> u64 {
    assert_eq!(r.errors.total(), 0, "{what}: {:?}", r.errors);
    let ok = r.successes();
    assert_eq!(
        (r.scheduled, ok + r.missed, r.failed),
        (N, N, 0),
        "{what}: {r:?}"
    );
    assert_eq!(r.bytes, ok * answer_len as u64, "{what}");
    assert_eq!(r.latency.len(), ok, "{what}");
    assert!(r.latency_if_any().is_some(), "{what}");
    assert_eq!(r.error_ratio(), Some(0.0), "{what}");
    assert!(!r.mostly_failed(), "{what}");
    ok
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
    5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n";

#[test]
fn chunked_answers_are_successes_even_one_byte_at_a_time() {
    let whole = answering(CHUNKED);
    let dribbled = Script::start(|mut p| {
        while p.read_request() {
            p.dribble(CHUNKED);
        }
    });
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| load(&config(whole.addr)));
        let b = s.spawn(|| load(&config(dribbled.addr)));
        (a.join().unwrap(), b.join().unwrap())
    });
    let na = assert_all_ok(&a, "chunked", CHUNKED.len());
    let nb = assert_all_ok(&b, "chunked, dribbled", CHUNKED.len());
    // The connection is kept alive across chunked answers.
    assert_eq!(whole.finish(), (1, na));
    assert_eq!(dribbled.finish(), (1, nb));
    assert_eq!((a.reconnects, b.reconnects), (0, 0));
}

#[test]
fn interim_1xx_answers_are_skipped() {
    const ANSWER: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let whole = answering(ANSWER);
    let dribbled = Script::start(|mut p| {
        while p.read_request() {
            p.dribble(ANSWER);
        }
    });
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| load(&config(whole.addr)));
        let b = s.spawn(|| load(&config(dribbled.addr)));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut ok = Vec::new();
    for (r, what) in [(&a, "1xx"), (&b, "1xx, dribbled")] {
        let n = assert_all_ok(r, what, ANSWER.len());
        assert_eq!(r.interim, 2 * n, "{what}");
        ok.push(n);
    }
    assert_eq!(whole.finish(), (1, ok[0]));
    assert_eq!(dribbled.finish(), (1, ok[1]));
}

#[test]
fn answers_that_end_the_connection_are_successes_on_a_new_one_each() {
    // Close-delimited body (no Content-Length, no Transfer-Encoding), Connection:
    // close, and HTTP/1.0 without keep-alive: each answer ends its connection.
    const UNTIL_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, world";
    const CONN_CLOSE: &[u8] =
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    const HTTP10: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let cases: Vec<(&str, &'static [u8], Script)> = vec![
        (
            "until close",
            UNTIL_CLOSE,
            Script::start(|mut p| {
                if p.read_request() {
                    p.send(UNTIL_CLOSE);
                }
            }),
        ),
        (
            "Connection: close",
            CONN_CLOSE,
            Script::start(|mut p| {
                if p.read_request() {
                    p.send(CONN_CLOSE);
                }
            }),
        ),
        ("HTTP/1.0", HTTP10, answering(HTTP10)),
    ];
    let reports: Vec<LoadReport> = thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(_, _, srv)| s.spawn(|| load(&config(srv.addr))))
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for ((what, answer, srv), r) in cases.into_iter().zip(reports) {
        let n = assert_all_ok(&r, what, answer.len());
        assert_eq!(r.reconnects, 0, "{what}");
        assert_eq!(srv.finish(), (n, n), "{what}: one connection per request");
    }
}

#[test]
fn malformed_answers_are_bad_responses_not_timeouts() {
    let cases: &[(&str, &'static [u8])] = &[
        (
            "two Content-Lengths (0 then 27)",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 27\r\n\r\n",
        ),
        (
            "two Content-Lengths (27 then 0)",
            b"HTTP/1.1 200 OK\r\nContent-Length: 27\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            "Content-Length list that disagrees",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
        ),
        (
            "signed Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        ),
        (
            "Transfer-Encoding with Content-Length",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "chunk size not hex",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        ),
        (
            "chunk data without its CRLF",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
        ),
        (
            "bytes beyond Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
        ),
        (
            "101 not asked for",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
        ),
        (
            "404",
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
        ),
        ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
    ];
    let servers: Vec<Script> = cases.iter().map(|(_, a)| answering(a)).collect();
    let reports: Vec<LoadReport> = thread::scope(|s| {
        let runs: Vec<_> = servers
            .iter()
            .map(|srv| s.spawn(|| load(&config(srv.addr))))
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (((what, _), srv), r) in cases.iter().zip(servers).zip(reports) {
        let n = r.failed;
        assert_eq!(r.errors.bad_response, n, "{what}: {:?}", r.errors);
        assert_eq!(r.errors.total(), n, "{what}: {:?}", r.errors);
        assert_eq!(
            (r.scheduled, r.requests, r.late, n + r.missed),
            (N, 0, 0, N),
            "{what}"
        );
        // No successes: no latency to report (not "0 ns"), and the run failed.
        assert!(r.latency_if_any().is_none(), "{what}");
        assert_eq!(r.latency.len(), 0, "{what}");
        assert_eq!(r.error_ratio(), Some(1.0), "{what}");
        assert!(r.mostly_failed(), "{what}");
        // A bad answer ends its connection.
        assert_eq!(srv.finish(), (n, n), "{what}");
    }
}

#[test]
fn answers_cut_short_are_resets() {
    let cases: &[(&str, &'static [u8])] = &[
        (
            "body shorter than Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
        ),
        (
            "chunked body without its last chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
        ),
        ("head cut short", b"HTTP/1.1 200 OK\r\nContent-Le"),
    ];
    let servers: Vec<Script> = cases
        .iter()
        .map(|(_, a)| {
            Script::start(move |mut p| {
                if p.read_request() {
                    p.send(a);
                }
            })
        })
        .collect();
    let reports: Vec<LoadReport> = thread::scope(|s| {
        let runs: Vec<_> = servers
            .iter()
            .map(|srv| s.spawn(|| load(&config(srv.addr))))
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (((what, _), srv), r) in cases.iter().zip(servers).zip(reports) {
        let n = r.failed;
        assert_eq!(r.errors.reset, n, "{what}: {:?}", r.errors);
        assert_eq!(r.errors.total(), n, "{what}: {:?}", r.errors);
        assert_eq!(
            (n + r.missed, r.successes(), r.reconnects),
            (N, 0, 0),
            "{what}"
        );
        assert_eq!(srv.finish(), (n, n), "{what}");
    }
}

#[test]
fn a_server_closing_kept_alive_connections_means_reconnects_not_errors() {
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    // Closes each connection 20 ms after its first answer (an idle timeout far below
    // the 50 ms between requests), without saying so in the answer.
    let idle = Script::start(|mut p| {
        if p.read_request() {
            p.send(OK);
            thread::sleep(Duration::from_millis(20));
        }
    });
    // Reads the second request and closes without answering: the race in which the
    // server's idle close and the request cross (RFC 9112 §9.3.1).
    let crossing = Script::start(|mut p| {
        if p.read_request() {
            p.send(OK);
            p.read_request();
        }
    });
    // The same, ending with a reset (SO_LINGER 0) instead of a FIN.
    let resetting = Script::start(|mut p| {
        if p.read_request() {
            p.send(OK);
            p.read_request();
            socket2::SockRef::from(&p.w)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
    });
    // A connection closed before any answer is an error; the first request, on the
    // connection opened before the run, is retried once (it may have been closed as
    // idle), the others went on fresh connections and are not.
    let never = Script::start(|mut p| {
        p.read_request();
    });
    let (a, b, c, d) = thread::scope(|s| {
        let a = s.spawn(|| load(&config(idle.addr)));
        let b = s.spawn(|| load(&config(crossing.addr)));
        let c = s.spawn(|| load(&config(resetting.addr)));
        let d = s.spawn(|| load(&config(never.addr)));
        (
            a.join().unwrap(),
            b.join().unwrap(),
            c.join().unwrap(),
            d.join().unwrap(),
        )
    });
    let mut ok = Vec::new();
    for (r, what) in [(&a, "idle close"), (&b, "crossing close"), (&c, "reset")] {
        let n = assert_all_ok(r, what, OK.len());
        assert_eq!(r.reconnects, n - 1, "{what}");
        ok.push(n);
    }
    // One connection per answer; the crossing and resetting servers also read the
    // n - 1 requests they dropped.
    assert_eq!(idle.finish(), (ok[0], ok[0]));
    assert_eq!(crossing.finish(), (ok[1], 2 * ok[1] - 1));
    assert_eq!(resetting.finish(), (ok[2], 2 * ok[2] - 1));
    let n = d.failed;
    assert_eq!(d.errors.closed, n, "{:?}", d.errors);
    assert_eq!(d.errors.total(), n, "{:?}", d.errors);
    assert_eq!((n + d.missed, d.successes(), d.reconnects), (N, 0, 1));
    assert_eq!(never.finish(), (n + 1, n + 1));
}

#[test]
fn a_connection_closed_as_idle_before_its_first_use_means_a_reconnect() {
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    // Closes any connection that stays 30 ms without a request, before its first
    // one too. The client opens both connections before the run; the second one's
    // first request is due 50 ms in, and every later request 100 ms after the one
    // before on its connection: each of those finds its connection closed.
    let srv = Script::start(|mut p| {
        p.r.get_ref()
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        while p.read_request() {
            p.send(OK);
        }
    });
    let r = load(&LoadConfig {
        connections: 2,
        ..config(srv.addr)
    });
    let n = assert_all_ok(&r, "idle before first use", OK.len());
    // Only the first connection's first request (at 0 s, just after connecting) can
    // have found its connection open.
    assert!(r.reconnects == n || r.reconnects == n - 1, "{r:?}");
    let (accepted, requests) = srv.finish();
    assert_eq!((accepted, requests), (2 + r.reconnects, n));
}

#[test]
fn a_silent_server_gives_timeouts_and_the_rest_of_the_window_is_missed() {
    let silent = Script::start(|mut p| {
        p.read_request();
        // Holds the connection open, unanswered, until the client goes.
        let _ = p.read_request();
    });
    let cfg = LoadConfig {
        pace: Pace::Rate(10.0),
        duration: Duration::from_secs(1),
        timeout: Duration::from_millis(250),
        ..config(silent.addr)
    };
    let r = load(&cfg);
    // Sends at 0, 0.25, 0.5 and 0.75 s (later if the machine is loaded), each timing
    // out 250 ms later on a connection of its own; the window closes before a fifth
    // can go out and the rest of its 10 requests are missed.
    let n = r.failed;
    assert!((1..=4).contains(&n), "{r:?}");
    assert_eq!(r.errors.timeout, n, "{:?}", r.errors);
    assert_eq!(r.errors.total(), n, "{:?}", r.errors);
    assert_eq!(
        (r.scheduled, r.requests, r.late, r.missed),
        (10, 0, 0, 10 - n)
    );
    assert!(r.latency_if_any().is_none());
    assert!(r.mostly_failed());
    assert_eq!(silent.finish(), (n, n));
}

// ---- configuration ----------------------------------------------------------------

fn soft_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur
}

#[test]
fn configurations_that_cannot_run_are_refused_in_one_line_before_anything_starts() {
    let srv = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let base = config(srv.addr);
    let too_many = soft_nofile() as usize;
    let cases: Vec<(LoadConfig, &str)> = vec![
        (
            LoadConfig {
                timeout: Duration::ZERO,
                ..base.clone()
            },
            "timeout must be longer than 0 s (got 0): every request would time out",
        ),
        (
            LoadConfig {
                timeout: Duration::from_nanos(1),
                ..base.clone()
            },
            "timeout must be at least 1 ms (got 1ns): the client's timers count whole milliseconds",
        ),
        (
            LoadConfig {
                connections: 0,
                ..base.clone()
            },
            "connections must be at least 1 (got 0)",
        ),
        (
            LoadConfig {
                pace: Pace::Rate(0.0),
                ..base.clone()
            },
            "rate must be a positive number of requests per second (got 0)",
        ),
        (
            LoadConfig {
                pace: Pace::Rate(-5.0),
                ..base.clone()
            },
            "rate must be a positive number of requests per second (got -5)",
        ),
        (
            LoadConfig {
                pace: Pace::Rate(f64::NAN),
                ..base.clone()
            },
            "rate must be a positive number of requests per second (got NaN)",
        ),
        (
            LoadConfig {
                pace: Pace::Rate(f64::INFINITY),
                ..base.clone()
            },
            "rate must be a positive number of requests per second (got inf)",
        ),
        (
            LoadConfig {
                pace: Pace::Rate(1e17),
                ..base.clone()
            },
            "rate 100000000000000000 req/s over 0.5 s schedules more than 2^53 requests; use a lower rate",
        ),
        (
            LoadConfig {
                duration: Duration::ZERO,
                ..base.clone()
            },
            "duration must be longer than 0 s (got 0): nothing would be measured",
        ),
        (
            LoadConfig {
                threads: 0,
                ..base.clone()
            },
            "threads must be between 1 and 1024 (got 0)",
        ),
        (
            LoadConfig {
                path: "/a b".into(),
                ..base.clone()
            },
            "path must start with '/' (or be an http:// URL) and hold no space or control byte (got \"/a b\")",
        ),
        (
            LoadConfig {
                path: "/\r\nX-Injected: 1".into(),
                ..base.clone()
            },
            "path must start with '/' (or be an http:// URL) and hold no space or control byte (got \"/\\r\\nX-Injected: 1\")",
        ),
        (
            LoadConfig {
                host: Some("h\r\nX: 1".into()),
                ..base.clone()
            },
            "host must be non-empty visible ASCII with no space or control byte (got \"h\\r\\nX: 1\")",
        ),
    ];
    for (cfg, want) in &cases {
        assert_eq!(cfg.validate(), Err(want.to_string()));
        let e = http::client::run(cfg, &NoObserver, &Stop::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), *want);
    }
    // More connections than the fd limit can hold (the limit itself: some fds are
    // always open already).
    let fds = LoadConfig {
        connections: too_many,
        ..base.clone()
    };
    let e = fds.validate().unwrap_err();
    assert!(
        e.starts_with(&format!("{too_many} connections need ")),
        "{e}"
    );
    // The most that fit is the limit less what is open and the 16 kept free.
    let open: u64 = e
        .split_once(" fds (")
        .and_then(|(_, r)| r.split_once(" already open"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{e}"));
    assert!(
        e.ends_with(&format!(
            "but the fd limit (RLIMIT_NOFILE) is {too_many}: at most {} connections here; raise it (ulimit -n) or use fewer connections",
            too_many as u64 - open - http::client::FD_RESERVE
        )),
        "{e}"
    );
    assert!(!e.contains('\n'));
    assert_eq!(
        http::client::run(&fds, &NoObserver, &Stop::new())
            .unwrap_err()
            .to_string(),
        e
    );
    assert_eq!(base.validate(), Ok(()));
    // Nothing was started for any refused configuration.
    assert_eq!(srv.finish(), (0, 0));
}
