//! The open loop tells the truth when the server cannot keep up (issue 16, item 1, as
//! wrk2 does it): the achieved rate is what was answered per measured second, the
//! schedule's requests that never went out are counted as missed, and the run ends
//! within warm-up + duration + max(1 s, timeout) whatever the rate, 1e12 req/s
//! included. Servers are real loopback sockets: a hand-written one that answers one
//! request at a time after a fixed 10 ms (so it can do at most 100 req/s), one that
//! never answers, and the workloads server.
use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use workloads::{
    http::{self, LoadConfig, LoadReport, Pace, ServerConfig},
    stop::Stop,
    NoObserver, Observer, TaskInfo,
};

/// Sets a flag while the client's measured window is open.
struct WindowFlag(Arc<AtomicBool>);

impl Observer for WindowFlag {
    fn task_started(&self, _task: &TaskInfo) {}
    fn measuring(&self, on: bool) {
        self.0.store(on, Ordering::Release);
    }
}

/// Answers of the slow server: all of them, and those to requests read while the
/// window flag was set.
#[derive(Default)]
struct Answered {
    all: AtomicU64,
    in_window: AtomicU64,
}

/// A server that accepts one connection and answers each request on it 10 ms after
/// reading it. Returns when the client closes the connection.
fn slow_server(window: Arc<AtomicBool>) -> (SocketAddr, Arc<Answered>, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let answered = Arc::new(Answered::default());
    let counts = answered.clone();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut in_window = false;
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.starts_with("GET ") {
                in_window = window.load(Ordering::Acquire);
            }
            if line == "\r\n" {
                thread::sleep(Duration::from_millis(10));
                if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .is_err()
                {
                    return;
                }
                counts.all.fetch_add(1, Ordering::Relaxed);
                if in_window {
                    counts.in_window.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    (addr, answered, h)
}

/// Runs `cfg` and returns the report with the wall time `run` took.
fn timed_run(cfg: &LoadConfig, observer: &dyn Observer, stop: &Stop) -> (LoadReport, Duration) {
    let t = Instant::now();
    let r = http::client::run(cfg, observer, stop).expect("load run");
    (r, t.elapsed())
}

/// The termination bound the client promises: warm-up + duration + max(1 s, timeout).
fn bound(cfg: &LoadConfig) -> Duration {
    cfg.warmup + cfg.duration + cfg.timeout.max(Duration::from_secs(1))
}

/// The four outcomes of the window's requests add up to what the schedule held, and the
/// achieved rate is the answered requests per measured second.
fn assert_accounted(r: &LoadReport) {
    assert_eq!(
        r.requests + r.late + r.failed + r.missed,
        r.scheduled,
        "{r:?}"
    );
    assert_eq!(r.req_per_sec(), r.requests as f64 / r.elapsed.as_secs_f64());
    assert_eq!(r.latency.len(), r.successes());
    assert_eq!(r.service.len(), r.successes());
}

#[test]
fn an_offered_rate_far_above_what_the_server_does_reports_the_achieved_rate() {
    let (addr, answered, server) = slow_server(Arc::new(AtomicBool::new(false)));
    let cfg = LoadConfig {
        addr,
        connections: 1,
        pace: Pace::Rate(2000.0),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let (r, wall) = timed_run(&cfg, &NoObserver, &Stop::new());
    server.join().unwrap();
    assert!(wall <= bound(&cfg), "took {wall:?}");
    assert_accounted(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    // 2000 req/s × 1 s on the schedule; the server answered every request the client
    // sent, and the rest never went out.
    assert_eq!(r.scheduled, 2000);
    assert_eq!(r.failed, 0);
    assert_eq!(r.successes(), answered.all.load(Ordering::Relaxed));
    assert_eq!(r.missed, 2000 - r.successes());
    // One connection has at most one request in flight when the window closes.
    assert!(r.late <= 1, "{r:?}");
    assert_eq!(r.elapsed, Duration::from_secs(1));
    assert_eq!(r.offered_rate, Some(2000.0));
    assert!(r.below_target);
    let w = r.warning().expect("a warning for the shortfall");
    assert!(
        w.starts_with(&format!("achieved {:.0} req/s, ", r.req_per_sec())),
        "{w}"
    );
    assert!(w.contains("below the offered 2000 req/s"), "{w}");
    assert!(!r.mostly_failed());
}

#[test]
fn a_warm_up_backlog_does_not_eat_the_window() {
    // Behind its schedule all through the warm-up, the client drops the warm-up's
    // unsent requests when the window opens, but for those due in the last
    // EDGE_SLACK (25 ms × 2000 req/s = 50); the window then counts what the server
    // answered in it. The server tells window requests by the observer's flag, so it
    // also counts those carried warm-up requests, and its clock can differ from the
    // client's by one request at each edge.
    let flag = Arc::new(AtomicBool::new(false));
    let (addr, answered, server) = slow_server(flag.clone());
    let cfg = LoadConfig {
        addr,
        connections: 1,
        pace: Pace::Rate(2000.0),
        warmup: Duration::from_millis(500),
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let (r, wall) = timed_run(&cfg, &WindowFlag(flag), &Stop::new());
    server.join().unwrap();
    assert!(wall <= bound(&cfg), "took {wall:?}");
    assert_accounted(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    assert_eq!(r.scheduled, 2000);
    let in_window = answered.in_window.load(Ordering::Relaxed);
    let carried = (http::client::EDGE_SLACK.as_secs_f64() * 2000.0) as u64;
    assert!(
        in_window + 1 >= r.successes() && in_window <= r.successes() + carried + 1,
        "client {} vs server {in_window}",
        r.successes()
    );
    // The warm-up's 1000 scheduled requests were each either sent (and answered) or
    // dropped when the window opened: the server's total is exact.
    assert_eq!(
        answered.all.load(Ordering::Relaxed),
        1000 - r.warmup_dropped + r.successes(),
        "{r:?}"
    );
}

#[test]
fn a_rate_of_1e12_ends_on_time_and_counts_the_schedule_as_missed() {
    let srv = http::start(&ServerConfig::default(), &NoObserver).unwrap();
    let cfg = LoadConfig {
        addr: srv.local_addr(),
        connections: 4,
        pace: Pace::Rate(1e12),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let (r, wall) = timed_run(&cfg, &NoObserver, &Stop::new());
    let st = srv.stop().unwrap();
    assert!(wall <= bound(&cfg), "took {wall:?}");
    assert_accounted(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    assert_eq!(r.scheduled, 1_000_000_000_000);
    assert_eq!(r.failed, 0);
    // Every request sent was answered (no warm-up: the server saw only window ones).
    assert_eq!(st.ok, r.successes(), "{st:?}");
    assert_eq!(st.requests, st.ok, "{st:?}");
    assert_eq!(r.missed, 1_000_000_000_000 - r.successes());
    assert!(r.late <= 4, "{r:?}");
    assert!(r.below_target);
    assert!(r.warning().is_some());
}

#[test]
fn a_rate_the_server_keeps_up_with_is_achieved_in_full() {
    let srv = http::start(&ServerConfig::default(), &NoObserver).unwrap();
    let cfg = LoadConfig {
        addr: srv.local_addr(),
        connections: 4,
        pace: Pace::Rate(400.0),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let (r, wall) = timed_run(&cfg, &NoObserver, &Stop::new());
    let st = srv.stop().unwrap();
    assert!(wall <= bound(&cfg), "took {wall:?}");
    assert_accounted(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    // All 400 scheduled go out unless the machine stalls the client (then the rest
    // are missed, and the shortfall flag says so when it passes 5 %).
    assert_eq!(
        (r.scheduled, r.successes() + r.missed, r.failed),
        (400, 400, 0)
    );
    assert_eq!(st.ok, r.successes(), "{st:?}");
    assert_eq!(r.below_target, r.req_per_sec() < 380.0);
    assert_eq!(r.warning().is_some(), r.below_target);
    assert_eq!(r.offered_rate, Some(400.0));
}

#[test]
fn a_server_that_never_answers_cannot_hold_the_run_past_its_bound() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // Accepts (the backlog does) and never reads or answers.
    let cfg = LoadConfig {
        addr,
        connections: 2,
        pace: Pace::Rate(100.0),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        ..LoadConfig::default()
    };
    let (r, wall) = timed_run(&cfg, &NoObserver, &Stop::new());
    drop(l);
    assert!(wall <= bound(&cfg), "took {wall:?}");
    assert_accounted(&r);
    // Each connection's first request times out after 2 s, past the window's end;
    // the other 98 of the 100 scheduled (100 req/s × 1 s) never went out.
    assert_eq!(r.errors.timeout, 2, "{:?}", r.errors);
    assert_eq!(r.errors.total(), 2, "{:?}", r.errors);
    assert_eq!(
        (r.scheduled, r.requests, r.late, r.failed, r.missed),
        (100, 0, 0, 2, 98)
    );
    assert!(r.latency_if_any().is_none());
    assert!(r.mostly_failed());
}

#[test]
fn a_stop_request_ends_an_overloaded_run_at_once() {
    let srv = http::start(&ServerConfig::default(), &NoObserver).unwrap();
    let cfg = LoadConfig {
        addr: srv.local_addr(),
        connections: 2,
        pace: Pace::Rate(1e12),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(30),
        timeout: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let stop = Stop::new();
    let stopper = {
        let stop = stop.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            stop.set();
        })
    };
    let (r, wall) = timed_run(&cfg, &NoObserver, &stop);
    stopper.join().unwrap();
    let st = srv.stop().unwrap();
    assert!(wall <= Duration::from_secs(2), "took {wall:?}");
    assert!(r.interrupted);
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);
    assert_accounted(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    assert_eq!(st.ok, r.successes(), "{st:?}");
}

#[test]
fn the_closed_loop_accounts_for_every_request_it_sent() {
    let srv = http::start(&ServerConfig::default(), &NoObserver).unwrap();
    let cfg = LoadConfig {
        addr: srv.local_addr(),
        connections: 2,
        pace: Pace::Closed,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let (r, wall) = timed_run(&cfg, &NoObserver, &Stop::new());
    let st = srv.stop().unwrap();
    assert!(wall <= bound(&cfg), "took {wall:?}");
    assert_accounted(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.errors);
    assert_eq!((r.failed, r.missed), (0, 0));
    assert_eq!(r.scheduled, r.successes());
    assert_eq!(st.ok, r.successes(), "{st:?}");
    assert_eq!((r.offered_rate, r.below_target), (None, false));
    assert_eq!(r.warning(), None);
}
