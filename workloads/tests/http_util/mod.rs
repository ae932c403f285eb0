//! Shared by the HTTP server tests: a raw client that reads one response exactly, and a
//! runner over every wait mode.
#![allow(dead_code)]
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, SocketAddr, TcpStream},
    thread,
    time::{Duration, Instant},
};

use workloads::{
    http::{self, BodySource, HttpWait, ServerConfig, ServerHandle, Site},
    NoObserver,
};

pub const BODY: usize = 1000;
pub const PATH: &str = "/index.html";
pub const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";

pub fn config(wait: HttpWait) -> ServerConfig {
    ServerConfig {
        wait,
        site: Site {
            path: PATH.into(),
            body: BodySource::Bytes(BODY),
            max_header_bytes: 4096,
        },
        ..ServerConfig::default()
    }
}

pub fn serve(wait: HttpWait) -> ServerHandle {
    http::start(&config(wait), &NoObserver).expect("server starts")
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One response as the raw client read it.
#[derive(Debug)]
pub struct Resp {
    pub version: u8,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

/// Reads one response (head + Content-Length body; no body for HEAD), or `None` when the
/// connection ended (EOF or reset) before a head.
pub fn try_read_resp(r: &mut BufReader<TcpStream>, head_only: bool) -> Option<Resp> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) if head.is_empty() => return None,
            Ok(0) => panic!("connection closed mid-head after {head:?}"),
            Ok(_) => head.extend_from_slice(&line),
            Err(e) => panic!("read head: {e} after {head:?}"),
        }
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
    let mut resp = Resp {
        version: p.version.unwrap(),
        status: p.code.unwrap(),
        headers,
        body: Vec::new(),
    };
    let len: usize = resp
        .header("content-length")
        .expect("Content-Length present")
        .parse()
        .unwrap();
    resp.body = vec![0; if head_only { 0 } else { len }];
    r.read_exact(&mut resp.body).expect("read body");
    Some(resp)
}

pub fn read_resp(r: &mut BufReader<TcpStream>, head_only: bool) -> Resp {
    try_read_resp(r, head_only).expect("a response, not the end of the connection")
}

/// True when the server ends the connection (EOF, or a reset) within `within`; false
/// when it is still open then. Panics on bytes.
pub fn closed_within(r: &mut BufReader<TcpStream>, within: Duration) -> bool {
    r.get_ref().set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 256];
    match r.read(&mut b) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&b[..n])),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut =>
        {
            false
        }
        Err(e) => panic!("read: {e}"),
    }
}

/// Sends `req`, reads one response (`head_only` for HEAD) and returns it with the
/// reader.
pub fn exchange(addr: SocketAddr, req: &[u8], head_only: bool) -> (Resp, BufReader<TcpStream>) {
    let s = connect(addr);
    (&s).write_all(req).unwrap();
    let mut r = BufReader::new(s);
    (read_resp(&mut r, head_only), r)
}

/// Half-closes our side and waits for the server's EOF (bounded).
pub fn finish(r: &mut BufReader<TcpStream>) {
    let _ = r.get_ref().shutdown(Shutdown::Write);
    assert!(
        closed_within(r, Duration::from_secs(5)),
        "no EOF after our FIN"
    );
}

/// Runs `f` for every wait mode at once; panics naming the modes that failed.
pub fn each_mode(f: impl Fn(HttpWait) + Sync) {
    thread::scope(|s| {
        let handles: Vec<_> = HttpWait::all()
            .into_iter()
            .map(|w| {
                let name = w.name();
                let f = &f;
                (name, s.spawn(move || f(w)))
            })
            .collect();
        let failed: Vec<_> = handles
            .into_iter()
            .filter_map(|(name, h)| h.join().is_err().then_some(name))
            .collect();
        assert!(failed.is_empty(), "failed in wait modes {failed:?}");
    });
}

/// Polls `cond` every 5 ms until it holds or `within` passes; returns whether it held.
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    cond()
}
