//! RFC 9110 / RFC 9112 rows for a static GET/HEAD origin server, one test per row of
//! `workloads/src/http/RFC9112.md`, each run on every wait mode: the exact status, the
//! headers the RFC asks for, and whether the connection stays open (a second GET is
//! answered 200) or is closed (EOF within 5 s, after `Connection: close`).
mod http_util;

use std::{
    io::{BufReader, Write},
    net::TcpStream,
    time::{Duration, SystemTime},
};

use http_util::*;
use workloads::http::HttpWait;

/// Sends `req` on a fresh connection to a server in `wait` mode; the response must be
/// `status` (then `check`), and the connection must stay open (`open`) or be closed.
fn row_in(
    wait: HttpWait,
    req: &[u8],
    head_only: bool,
    status: u16,
    open: bool,
    check: &dyn Fn(&Resp),
) {
    let srv = serve(wait.clone());
    let (a, mut r) = exchange(srv.local_addr(), req, head_only);
    assert_eq!(a.status, status, "{wait}: {a:?}");
    assert_eq!(a.version, 1, "{wait}: the status line says HTTP/1.1");
    assert_eq!(a.count("date"), 1, "{wait}: one Date header");
    check(&a);
    if open {
        assert_ne!(a.header("connection"), Some("close"), "{wait}");
        r.get_ref().write_all(GET).unwrap();
        assert_eq!(read_resp(&mut r, false).status, 200, "{wait}: still open");
        finish(&mut r);
    } else {
        assert_eq!(a.header("connection"), Some("close"), "{wait}");
        assert!(
            closed_within(&mut r, Duration::from_secs(5)),
            "{wait}: the server did not close"
        );
    }
    srv.stop().unwrap();
}

fn row(req: &'static [u8], status: u16, open: bool) {
    each_mode(|w| row_in(w, req, false, status, open, &|_| {}));
}

fn row_check(req: &'static [u8], status: u16, open: bool, check: impl Fn(&Resp) + Sync) {
    each_mode(|w| row_in(w, req, false, status, open, &check));
}

// --- Date (RFC 9110 §6.6.1) -----------------------------------------------------------

#[test]
fn date_header_is_an_imf_fixdate_of_now() {
    row_check(GET, 200, true, |a| {
        let d = a.header("date").unwrap();
        assert_eq!(d.len(), 29, "IMF-fixdate is 29 characters: {d}");
        assert!(d.ends_with(" GMT"), "{d}");
        let t = httpdate::parse_http_date(d).expect("an HTTP date");
        let now = SystemTime::now();
        let diff = now.duration_since(t).unwrap_or_else(|e| e.duration());
        assert!(
            diff < Duration::from_secs(3),
            "Date {d} is {diff:?} from now"
        );
    });
}

// --- Methods (RFC 9110 §9.1, §15.5.6, §15.6.2) ------------------------------------

#[test]
fn known_method_not_allowed_is_405_with_allow() {
    for req in [
        &b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"[..],
        b"PUT /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        b"DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
        b"TRACE /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        row_check(req, 405, true, |a| {
            assert_eq!(a.header("allow"), Some("GET, HEAD"));
            assert_eq!(a.body, b"405 Method Not Allowed\n");
        });
    }
}

#[test]
fn unknown_method_is_501() {
    for req in [
        &b"FOO /index.html HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        // Methods are case-sensitive (RFC 9110 §9.1).
        b"get /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        row_check(req, 501, false, |a| {
            assert_eq!(a.body, b"501 Not Implemented\n");
        });
    }
}

#[test]
fn head_has_get_headers_and_no_body() {
    each_mode(|w| {
        row_in(
            w,
            b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
            true,
            200,
            true,
            &|a| {
                assert_eq!(
                    (a.header("content-length"), a.body.len()),
                    (Some("1000"), 0)
                )
            },
        )
    });
}

// --- Host (RFC 9112 §3.2) -------------------------------------------------------------

#[test]
fn http11_without_host_is_400() {
    row(b"GET /index.html HTTP/1.1\r\n\r\n", 400, false);
}

#[test]
fn two_host_lines_are_400_in_any_version() {
    row(
        b"GET /index.html HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
        false,
    );
    row(
        b"GET /index.html HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        400,
        false,
    );
    row(
        b"GET /index.html HTTP/1.0\r\nHost: a\r\nHost: b\r\nConnection: keep-alive\r\n\r\n",
        400,
        false,
    );
}

#[test]
fn invalid_host_value_is_400() {
    row(b"GET /index.html HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, false);
    row(b"GET /index.html HTTP/1.1\r\nHost: a b\r\n\r\n", 400, false);
}

#[test]
fn http10_without_host_is_served() {
    row(
        b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        200,
        true,
    );
}

// --- Request target (RFC 9112 §3.2, §3.2.2) -------------------------------------------

#[test]
fn absolute_form_target_is_accepted() {
    row(
        b"GET http://t/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        200,
        true,
    );
    row(
        b"GET HTTP://other:80/index.html?x=1 HTTP/1.1\r\nHost: t\r\n\r\n",
        200,
        true,
    );
    row(
        b"GET http://t/missing HTTP/1.1\r\nHost: t\r\n\r\n",
        404,
        true,
    );
}

#[test]
fn other_target_forms_are_400() {
    row(b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
    row(b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
    row(
        b"GET http:///index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
        false,
    );
    row(b"GET /index.html#f HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
}

/// RFC 3986 §3.2.2: an absolute-form target's authority and the Host value follow the
/// authority grammar: an unclosed or trailing-garbage IP-literal, a non-numeric port, a
/// bracket in a reg-name are 400 and close; a well-formed IPv6 literal is served.
#[test]
fn malformed_authorities_are_400() {
    for req in [
        &b"GET http://[::1/ HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET http://[::1/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET http://[::1]x/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET http://[zz]/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET http://t:8x/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET http://t]/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET http://t%zz/index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /index.html HTTP/1.1\r\nHost: [::1\r\n\r\n",
        b"GET /index.html HTTP/1.1\r\nHost: t:80:80\r\n\r\n",
    ] {
        each_mode(|w| row_in(w, req, false, 400, false, &|_| {}));
    }
    row(
        b"GET http://[::1]:8080/index.html HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        200,
        true,
    );
    row(
        b"GET http://%74/index.html HTTP/1.1\r\nHost: t:\r\n\r\n",
        200,
        true,
    );
}

#[test]
fn request_line_longer_than_the_buffer_is_414() {
    let mut req = b"GET /".to_vec();
    req.extend(std::iter::repeat_n(b'a', 5000));
    req.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
    let req: &'static [u8] = req.leak();
    row(req, 414, false);
}

#[test]
fn leading_empty_lines_are_ignored() {
    row(
        b"\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n",
        200,
        true,
    );
}

// --- Version (RFC 9110 §2.5, RFC 9112 §2.3) -------------------------------------------

#[test]
fn later_http1_minor_versions_are_answered_as_11() {
    row(b"GET /index.html HTTP/1.2\r\nHost: t\r\n\r\n", 200, true);
    row(b"GET /index.html HTTP/1.9\r\nHost: t\r\n\r\n", 200, true);
    // A 1.x > 1.1 request is a 1.1 request: Host is required.
    row(b"GET /index.html HTTP/1.2\r\n\r\n", 400, false);
}

#[test]
fn other_major_versions_are_505() {
    row(b"GET /index.html HTTP/2.0\r\nHost: t\r\n\r\n", 505, false);
    row(b"GET /index.html HTTP/3.0\r\nHost: t\r\n\r\n", 505, false);
}

#[test]
fn malformed_versions_are_400() {
    row(b"GET /index.html HTTP/1.10\r\nHost: t\r\n\r\n", 400, false);
    row(b"GET /index.html HTTX/1.1\r\nHost: t\r\n\r\n", 400, false);
    row(b"GET /index.html\r\nHost: t\r\n\r\n", 400, false);
}

// --- Field syntax (RFC 9112 §5.1, §5.2, §2.2) -----------------------------------------

#[test]
fn whitespace_before_the_colon_is_400() {
    row(b"GET /index.html HTTP/1.1\r\nHost : t\r\n\r\n", 400, false);
}

#[test]
fn obs_fold_is_400() {
    row(
        b"GET /index.html HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n",
        400,
        false,
    );
}

#[test]
fn bare_cr_is_400() {
    row(
        b"GET /index.html HTTP/1.1\r\nHost: t\rX: y\r\n\r\n",
        400,
        false,
    );
}

#[test]
fn nul_cr_or_lf_inside_a_field_value_is_400() {
    // RFC 9110 §5.5: reject, or replace with SP; we reject.
    row(
        b"GET /index.html HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
        400,
        false,
    );
    row(
        b"GET /index.html HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
        400,
        false,
    );
}

#[test]
fn bare_lf_line_ends_are_accepted() {
    row(b"GET /index.html HTTP/1.1\nHost: t\n\n", 200, true);
}

// --- Framing (RFC 9110 §8.6, RFC 9112 §6.1, §6.3) -------------------------------------

/// A smuggling attempt must get exactly one 400 and a close: the request hidden in the
/// "body" must never be answered.
fn smuggle(req: &'static [u8]) {
    each_mode(|w| {
        let srv = serve(w.clone());
        let s = connect(srv.local_addr());
        (&s).write_all(req).unwrap();
        let mut r = BufReader::new(s);
        let a = read_resp(&mut r, false);
        assert_eq!(
            (a.status, a.header("connection")),
            (400, Some("close")),
            "{w}"
        );
        assert!(
            try_read_resp(&mut r, false).is_none(),
            "{w}: a second answer"
        );
        let st = srv.stop().unwrap();
        assert_eq!((st.requests, st.bad_request), (1, 1), "{w}");
    });
}

#[test]
fn conflicting_content_lengths_are_400_in_either_order() {
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 27\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

#[test]
fn duplicate_content_lengths_are_400() {
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello");
}

#[test]
fn content_length_must_be_digits_only() {
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: +27\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0x1b\r\n\r\n");
    smuggle(
        b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    );
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n");
}

#[test]
fn transfer_encoding_is_400_with_or_without_content_length() {
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 27\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    // chunked not the final coding.
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n");
    smuggle(b"GET /index.html HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n");
}

/// RFC 9112 §6.1: chunked applied more than once is broken framing, not a coding we
/// lack: 400 and close (it was 501), in one list, over two lines, or around another
/// coding.
#[test]
fn chunked_twice_is_400() {
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    smuggle(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip, CHUNKED\r\n\r\n0\r\n\r\n");
}

/// A chunked body is answered and the connection closed; a request hidden in the body
/// is never answered. A coding before chunked that we cannot decode is 501.
#[test]
fn chunked_request_bodies_are_answered_then_closed() {
    each_mode(|w| {
        let srv = serve(w.clone());
        let (a, mut r) = exchange(
            srv.local_addr(),
            b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1b\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n",
            false,
        );
        assert_eq!(
            (a.status, a.header("connection")),
            (405, Some("close")),
            "{w}"
        );
        assert!(
            try_read_resp(&mut r, false).is_none(),
            "{w}: a second answer"
        );
        srv.stop().unwrap();
    });
    row(
        b"GET /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        200,
        false,
    );
    row(b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, false);
}

#[test]
fn a_small_body_is_skipped_and_the_next_request_answered() {
    each_mode(|w| {
        let srv = serve(w.clone());
        let (a, mut r) = exchange(
            srv.local_addr(),
            b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
            false,
        );
        assert_eq!(a.status, 200, "{w}");
        assert_eq!(read_resp(&mut r, false).status, 404, "{w}");
        finish(&mut r);
    });
}

#[test]
fn a_large_or_expected_body_is_answered_then_closed() {
    // Over 64 KiB of body is not read to keep the connection.
    row(
        b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n",
        405,
        false,
    );
    // With Expect: 100-continue the client may never send the body.
    row(b"POST /index.html HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 405, false);
}

// --- Connection management (RFC 9112 §9) ----------------------------------------------

#[test]
fn connection_close_and_http10_close_after_the_response() {
    row(
        b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        200,
        false,
    );
    row(b"GET /index.html HTTP/1.0\r\n\r\n", 200, false);
}

/// RFC 9112 §9.6: after an error response the server half-closes and drains instead of
/// closing with unread input. A plain close() with unread input answers the client's
/// further bytes with a reset: its next send fails (ECONNRESET / EPIPE) and a client
/// that sends its request in pieces never reads the 431. Here the client goes on
/// sending 192 KiB after a head too large for the buffer: every send must succeed, the
/// 431 must arrive whole, and our FIN must be answered with a clean EOF, not a reset.
#[test]
fn error_response_survives_unread_input() {
    each_mode(|w| {
        let srv = serve(w.clone());
        let addr = srv.local_addr();
        for _ in 0..3 {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut big = b"GET /index.html HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
            big.extend(std::iter::repeat_n(b'a', 5000));
            (&s).write_all(&big).unwrap();
            // The server has answered 431 and finished with the connection by now.
            std::thread::sleep(Duration::from_millis(50));
            for _ in 0..3 {
                (&s).write_all(&[b'b'; 64 * 1024])
                    .unwrap_or_else(|e| panic!("{w}: send after the 431 failed: {e}"));
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut r = BufReader::new(s);
            let a = read_resp(&mut r, false);
            assert_eq!(
                (a.status, a.header("connection")),
                (431, Some("close")),
                "{w}"
            );
            assert_eq!(a.body, b"431 Request Header Fields Too Large\n", "{w}");
            r.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            let got = std::io::Read::read_to_end(&mut r, &mut rest);
            assert_eq!(
                (got.map_err(|e| e.kind()), rest.len()),
                (Ok(0), 0),
                "{w}: a clean EOF after our FIN"
            );
        }
        let st = srv.stop().unwrap();
        assert_eq!((st.header_too_large, st.peer_resets), (3, 0), "{w}");
    });
}

// --- The lighttpd column of RFC9112.md ------------------------------------------------

/// lighttpd 1.4.69 run in the foreground on a free loopback port with a default
/// configuration serving the same `index.html`; killed on drop.
struct Lighttpd {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    dir: std::path::PathBuf,
}

impl Lighttpd {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("evb-lighttpd-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("www")).unwrap();
        std::fs::write(
            dir.join("www/index.html"),
            workloads::http::body_bytes(BODY),
        )
        .unwrap();
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let conf = format!(
            "server.modules = ()\nserver.document-root = \"{0}/www\"\nserver.bind = \"127.0.0.1\"\nserver.port = {1}\nserver.errorlog = \"{0}/error.log\"\nindex-file.names = (\"index.html\")\nmimetype.assign = (\".html\" => \"text/plain\")\n",
            dir.display(),
            addr.port()
        );
        std::fs::write(dir.join("lighttpd.conf"), conf).unwrap();
        let child = std::process::Command::new("lighttpd")
            .arg("-D")
            .arg("-f")
            .arg(dir.join("lighttpd.conf"))
            .spawn()
            .expect("lighttpd is installed (apt-get install lighttpd)");
        assert!(
            eventually(Duration::from_secs(5), || TcpStream::connect(addr).is_ok()),
            "lighttpd did not start"
        );
        Self { child, addr, dir }
    }
}

impl Drop for Lighttpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What lighttpd 1.4.69 answers to the rows, as RFC9112.md records it: (request,
/// status, connection kept open). Run with `--ignored` where lighttpd is installed.
#[test]
#[ignore = "needs lighttpd 1.4.69 installed; documents the lighttpd column of RFC9112.md"]
fn lighttpd_column() {
    let lt = Lighttpd::start();
    let long_target: &'static [u8] = {
        let mut r = b"GET /".to_vec();
        r.extend(std::iter::repeat_n(b'a', 5000));
        r.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
        r.leak()
    };
    let big_head: &'static [u8] = {
        let mut r = b"GET /index.html HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
        r.extend(std::iter::repeat_n(b'a', 70000));
        r.extend_from_slice(b"\r\n\r\n");
        r.leak()
    };
    let rows: &[(&[u8], u16, bool)] = &[
        (GET, 200, true),
        (b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 200, false),
        (b"PUT /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 501, true),
        (b"DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 501, true),
        (b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 200, true),
        (b"CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        (b"FOO /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 501, false),
        (b"get /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 501, false),
        (b"GET /index.html HTTP/1.1\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 200, true),
        (b"GET /index.html HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, true),
        (b"GET http://t/index.html HTTP/1.1\r\nHost: t\r\n\r\n", 200, true),
        (b"GET http://other/index.html HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        (b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        (b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        (b"GET /index.html#f HTTP/1.1\r\nHost: t\r\n\r\n", 200, true),
        (long_target, 404, true),
        (big_head, 431, false),
        (b"\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.2\r\nHost: t\r\n\r\n", 505, false),
        (b"GET /index.html HTTP/2.0\r\nHost: t\r\n\r\n", 505, false),
        (b"GET /index.html HTTP/1.10\r\nHost: t\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.1\r\nHost : t\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 200, true),
        (b"GET /index.html HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.1\nHost: t\n\n", 400, false),
        (b"GET /index.html HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400, false),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 27\r\n\r\n", 400, false),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: +27\r\n\r\n", 400, false),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 411, false),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 27\r\n\r\n", 400, false),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, false),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, false),
        (b"GET /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false),
        (b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 400, false),
        (b"POST /index.html HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 200, false),
    ];
    let mut wrong = Vec::new();
    for &(req, status, open) in rows {
        let s = connect(lt.addr);
        let _ = (&s).write_all(req);
        let mut r = BufReader::new(s);
        let a = read_resp(&mut r, false);
        let kept = if a.header("connection") == Some("close") {
            false
        } else {
            r.get_ref().write_all(GET).is_ok()
                && try_read_resp(&mut r, false).is_some_and(|b| b.status == 200)
        };
        if (a.status, kept, a.count("date")) != (status, open, 1) {
            wrong.push(format!(
                "{:?}: {} open={kept} date={}",
                String::from_utf8_lossy(&req[..req.len().min(60)]),
                a.status,
                a.count("date")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "lighttpd differs from RFC9112.md: {wrong:#?}"
    );
}
