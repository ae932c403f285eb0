//! Randomized: streams of requests (valid, erroneous, smuggling attempts), split at
//! random bytes, sent to a server in every wait mode. Every mode must answer the
//! stream with the same bytes (Date lines aside), and the statuses must be the model's:
//! each request's own status, up to and including the first one that closes.
mod http_util;

use std::{
    io::{Read, Write},
    net::{Shutdown, SocketAddr},
    thread,
    time::Duration,
};

use http_util::*;
use proptest::prelude::*;
use workloads::http::{HttpWait, ServerHandle};

/// (request bytes, status, whether the server closes after answering it).
const POOL: &[(&[u8], u16, bool)] = &[
    (b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 200, false),
    (b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 200, false),
    (b"GET /missing?q=1 HTTP/1.1\r\nHost: t\r\n\r\n", 404, false),
    (b"GET http://t/index.html HTTP/1.2\r\nHost: t\r\n\r\n", 200, false),
    (b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nGET /", 405, false),
    (b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 200, false),
    (b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, false),
    (b"\r\nGET /index.html HTTP/1.1\nHost: t\n\n", 200, false),
    (b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200, true),
    (b"GET /index.html HTTP/1.0\r\n\r\n", 200, true),
    (b"GET /index.html HTTP/1.1\r\n\r\n", 400, true),
    (b"GET /index.html HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, true),
    (b"BREW /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 501, true),
    (b"GET /index.html HTTP/2.0\r\nHost: t\r\n\r\n", 505, true),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 27\r\n\r\n", 400, true),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +27\r\n\r\n", 400, true),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, true),
    (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nGET\r\n0\r\n\r\n", 405, true),
    (b"GET /index.html HTTP/1.1\r\nHost : t\r\n\r\n", 400, true),
];

/// Everything the server sends on one connection for `stream` written in pieces cut
/// at `cuts`, then our FIN; Date lines removed.
fn transcript(addr: SocketAddr, stream: &[u8], cuts: &[usize]) -> Vec<u8> {
    let s = connect(addr);
    let mut at = 0;
    for &c in cuts.iter().chain([&stream.len()]) {
        if c > at {
            // A send after the server closed may fail: what it answered is what counts.
            if (&s).write_all(&stream[at..c]).is_err() {
                break;
            }
            at = c;
            thread::sleep(Duration::from_millis(1));
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match (&s).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_inclusive("\r\n")
        .filter(|l| !l.starts_with("Date: "))
        .collect::<String>()
        .into_bytes()
}

/// The status codes in a transcript, in order.
fn statuses(t: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(t)
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|s| s[..3].parse().unwrap())
        .collect()
}

#[test]
fn every_wait_mode_answers_random_streams_identically() {
    let servers: Vec<(HttpWait, ServerHandle)> = HttpWait::all()
        .into_iter()
        .map(|w| (w.clone(), serve(w)))
        .collect();
    let cfg = ProptestConfig {
        cases: 150,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(cfg, |(picks in prop::collection::vec(0..POOL.len(), 1..6),
                     cut_seeds in prop::collection::vec(any::<u16>(), 0..5))| {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        let mut closed = false;
        for &i in &picks {
            let (req, status, closes) = POOL[i];
            stream.extend_from_slice(req);
            if !closed {
                want.push(status);
                closed = closes;
            }
        }
        let mut cuts: Vec<usize> = cut_seeds.iter().map(|&c| c as usize % stream.len()).collect();
        cuts.sort_unstable();
        let got: Vec<(String, Vec<u8>)> = thread::scope(|s| {
            let hs: Vec<_> = servers
                .iter()
                .map(|(w, srv)| {
                    let (addr, stream, cuts) = (srv.local_addr(), &stream, &cuts);
                    (w.name().to_string(), s.spawn(move || transcript(addr, stream, cuts)))
                })
                .collect();
            hs.into_iter().map(|(n, h)| (n, h.join().unwrap())).collect()
        });
        let (first_name, first) = &got[0];
        prop_assert_eq!(statuses(first), want.clone(), "{} on {:?}", first_name, String::from_utf8_lossy(&stream));
        for (name, t) in &got[1..] {
            prop_assert_eq!(
                String::from_utf8_lossy(t),
                String::from_utf8_lossy(first),
                "{} differs from {} on {:?}",
                name,
                first_name,
                String::from_utf8_lossy(&stream)
            );
        }
    });
    for (w, srv) in servers {
        let st = srv.stop().unwrap();
        assert_eq!(st.accepted, st.closed, "{w}: {st:?}");
    }
}
