//! One request and its answer on a connection: the client side of RFC 9112.
//!
//! What a client must handle in an answer to `GET` and how it is handled here:
//! - interim `1xx` answers before the final one (RFC 9110 §15.2: a client must parse
//!   one or more of them even when it did not ask for any) are read and skipped;
//!   `101 Switching Protocols` was not asked for and is a bad answer;
//! - the body's length (RFC 9112 §6.3): none for `1xx`/`204`/`304`; chunked when
//!   `chunked` is the last transfer coding; until close for any other coding or when
//!   neither `Transfer-Encoding` nor `Content-Length` is present; otherwise
//!   `Content-Length`, which must be `1*DIGIT` and, when repeated or a list, the same
//!   value every time (§6.3 item 5: anything else is an unrecoverable framing error);
//! - `Transfer-Encoding` together with `Content-Length` "ought to be handled as an
//!   error" (§6.3 item 3) and in an HTTP/1.0 answer means faulty framing (§6.1): both
//!   are bad answers;
//! - `Connection: close`, and HTTP/1.0 without `keep-alive`, end the connection after
//!   the answer (§9.3, §9.6).
use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Largest answer head (status line and fields), and largest trailer section.
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one answer head.
const MAX_FIELDS: usize = 64;
/// Longest chunk-size line (size and extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    Refused,
    Reset,
    Timeout,
    Bad,
    Closed,
    Other,
}

pub(super) fn classify(e: &io::Error) -> Failure {
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

/// A failed exchange. `before_answer`: the connection ended (EOF, reset, broken pipe)
/// before a single byte of the answer arrived, so on a reused connection the server
/// may have closed it as idle while the request was on its way (RFC 9112 §9.3.1 lets a
/// client retry an idempotent request then).
#[derive(Clone, Copy, Debug)]
pub(super) struct Fault {
    pub kind: Failure,
    pub before_answer: bool,
}

impl Fault {
    fn bad() -> Self {
        Fault {
            kind: Failure::Bad,
            before_answer: false,
        }
    }
}

/// A complete `200` answer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Answer {
    /// Bytes of the answer: interim heads, the final head, the body with its framing.
    pub bytes: u64,
    /// The connection cannot carry another request.
    pub close: bool,
    /// Interim `1xx` answers skipped before it.
    pub interim: u64,
}

/// A connection and its read buffer; counted in `open` while alive.
pub(super) struct Conn {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// `buf[pos..len]` is received and not yet consumed.
    pos: usize,
    len: usize,
    /// Bytes consumed so far (the answer sizes are differences of it).
    consumed: u64,
    /// Bytes received so far.
    received: u64,
    /// Complete answers read on this connection.
    pub answered: u64,
    open: Arc<AtomicU64>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Conn {
    /// Wraps a connected stream and counts it in `open` (which `Drop` decrements).
    pub(super) fn new(stream: TcpStream, open: Arc<AtomicU64>) -> io::Result<Conn> {
        stream.set_nodelay(true)?;
        open.fetch_add(1, Ordering::Relaxed);
        Ok(Conn {
            stream,
            buf: vec![0; MAX_HEAD].into_boxed_slice(),
            pos: 0,
            len: 0,
            consumed: 0,
            received: 0,
            answered: 0,
            open,
        })
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len - self.pos);
        self.pos += n;
        self.consumed += n as u64;
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
        }
    }

    /// Reads more bytes after the buffered ones; `Ok(0)` at EOF. The caller makes sure
    /// the buffer is not full of unconsumed bytes.
    async fn fill(&mut self) -> Result<usize, Failure> {
        if self.len == self.buf.len() && self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
        }
        if self.len == self.buf.len() {
            return Err(Failure::Bad);
        }
        let n = self
            .stream
            .read(&mut self.buf[self.len..])
            .await
            .map_err(|e| classify(&e))?;
        self.len += n;
        self.received += n as u64;
        Ok(n)
    }

    /// Like `fill`, but EOF is a truncated answer.
    async fn more(&mut self) -> Result<(), Failure> {
        match self.fill().await? {
            0 => Err(Failure::Reset),
            _ => Ok(()),
        }
    }

    /// Consumes `n` bytes of body, buffered or not.
    async fn skip(&mut self, mut n: u64) -> Result<(), Failure> {
        loop {
            let have = (self.len - self.pos) as u64;
            let take = have.min(n);
            self.consume(take as usize);
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.more().await?;
        }
    }

    /// Waits until a whole line (ending in LF) of at most `max` bytes is buffered and
    /// returns its length with the LF; a longer line is a bad answer.
    async fn line(&mut self, max: usize) -> Result<usize, Failure> {
        let mut searched = 0;
        loop {
            let d = self.data();
            if let Some(i) = d[searched..].iter().position(|&b| b == b'\n') {
                let n = searched + i + 1;
                return if n > max { Err(Failure::Bad) } else { Ok(n) };
            }
            searched = d.len();
            if searched > max {
                return Err(Failure::Bad);
            }
            self.more().await?;
        }
    }

    /// Sends `request` and reads its answer. `Err` for anything but a complete `200`;
    /// the connection must not be reused after an error.
    pub(super) async fn exchange(&mut self, request: &[u8]) -> Result<Answer, Fault> {
        let (received0, consumed0) = (self.received, self.consumed);
        // Bytes left from an earlier answer are not an answer to this request.
        if self.len > self.pos {
            return Err(Fault::bad());
        }
        let early = |kind: Failure, conn: &Conn| Fault {
            kind,
            before_answer: conn.received == received0,
        };
        if let Err(e) = self.stream.write_all(request).await {
            return Err(early(classify(&e), self));
        }
        let mut interim = 0;
        let head = loop {
            let head = match self.head().await {
                Ok(h) => h,
                Err(kind) if self.received == received0 => return Err(early(kind, self)),
                // EOF after an interim answer: the answer was cut short.
                Err(Failure::Closed) => {
                    return Err(Fault {
                        kind: Failure::Reset,
                        before_answer: false,
                    })
                }
                Err(kind) => {
                    return Err(Fault {
                        kind,
                        before_answer: false,
                    })
                }
            };
            self.consume(head.len);
            match head.status {
                101 => return Err(Fault::bad()),
                100..=199 => interim += 1,
                _ => break head,
            }
        };
        // Only 200 is a success; whatever else came, the connection is dropped, so
        // its body need not be read.
        if head.status != 200 {
            return Err(Fault::bad());
        }
        let mut close = head.close;
        let body = match head.framing {
            Framing::Empty => Ok(()),
            Framing::Length(n) => self.skip(n).await,
            Framing::Chunked => self.chunked().await,
            Framing::UntilClose => {
                close = true;
                self.until_close().await
            }
        };
        body.map_err(|kind| Fault {
            kind,
            before_answer: false,
        })?;
        // More bytes than the framing allowed: the stream is out of step.
        if self.len > self.pos {
            return Err(Fault::bad());
        }
        self.answered += 1;
        Ok(Answer {
            bytes: self.consumed - consumed0,
            close,
            interim,
        })
    }

    /// Reads one answer head; `Failure::Closed` at EOF before any byte of it.
    async fn head(&mut self) -> Result<Head, Failure> {
        loop {
            if self.len > self.pos {
                if let Some(h) = parse_head(self.data())? {
                    return Ok(h);
                }
                if self.len - self.pos >= MAX_HEAD {
                    return Err(Failure::Bad);
                }
            }
            let had = self.len - self.pos;
            if self.fill().await? == 0 {
                return Err(if had == 0 {
                    Failure::Closed
                } else {
                    Failure::Reset
                });
            }
        }
    }

    /// Reads a chunked body with its trailer section (RFC 9112 §7.1).
    async fn chunked(&mut self) -> Result<(), Failure> {
        loop {
            let n = self.line(MAX_CHUNK_LINE).await?;
            let line = &self.data()[..n];
            // chunk-size is 1*HEXDIG; httparse checks the rest (extensions, CRLF).
            if !line.first().is_some_and(u8::is_ascii_hexdigit) {
                return Err(Failure::Bad);
            }
            let size = match httparse::parse_chunk_size(line) {
                Ok(httparse::Status::Complete((used, size))) if used == n => size,
                _ => return Err(Failure::Bad),
            };
            self.consume(n);
            if size == 0 {
                break;
            }
            self.skip(size).await?;
            while self.len - self.pos < 2 {
                self.more().await?;
            }
            if &self.data()[..2] != b"\r\n" {
                return Err(Failure::Bad);
            }
            self.consume(2);
        }
        // trailer-section = *( field-line CRLF ), then CRLF.
        let mut trailers = 0;
        loop {
            let n = self.line(MAX_HEAD).await?;
            let line = &self.data()[..n];
            if line == b"\r\n" {
                self.consume(n);
                return Ok(());
            }
            if !line.ends_with(b"\r\n") || !line.contains(&b':') {
                return Err(Failure::Bad);
            }
            trailers += n;
            if trailers > MAX_HEAD {
                return Err(Failure::Bad);
            }
            self.consume(n);
        }
    }

    /// Reads and drops everything until the server closes.
    async fn until_close(&mut self) -> Result<(), Failure> {
        loop {
            let n = self.len - self.pos;
            self.consume(n);
            if self.fill().await? == 0 {
                return Ok(());
            }
        }
    }
}

/// How the body of an answer ends (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Clone, Copy, Debug)]
struct Head {
    len: usize,
    status: u16,
    close: bool,
    framing: Framing,
}

/// Splits a field value into its comma-separated elements, without optional
/// whitespace (RFC 9110 §5.6.1), dropping empty ones.
fn elements(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(|e| e.trim_ascii())
        .filter(|e| !e.is_empty())
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), without overflow.
fn content_length(e: &[u8]) -> Option<u64> {
    if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
        return None;
    }
    e.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Parses a complete head at the start of `buf`; `Ok(None)` when more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Failure> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut resp = httparse::Response::new(&mut fields);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::Bad),
    };
    let status = resp.code.ok_or(Failure::Bad)?;
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut coding: Option<Option<Vec<u8>>> = None;
    let (mut close, mut keep_alive) = (false, false);
    for f in resp.headers.iter() {
        if f.name.eq_ignore_ascii_case("content-length") {
            let mut any = false;
            for e in elements(f.value) {
                any = true;
                let n = content_length(e).ok_or(Failure::Bad)?;
                if length.is_some_and(|l| l != n) {
                    return Err(Failure::Bad);
                }
                length = Some(n);
            }
            if !any {
                return Err(Failure::Bad);
            }
        } else if f.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = coding.get_or_insert(None);
            if let Some(e) = elements(f.value).last() {
                *last = Some(e.to_ascii_lowercase());
            }
        } else if f.name.eq_ignore_ascii_case("connection") {
            for e in elements(f.value) {
                if e.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if e.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    if http10 && !keep_alive {
        close = true;
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if let Some(last) = coding {
        if http10 || length.is_some() {
            return Err(Failure::Bad);
        }
        if last.as_deref() == Some(b"chunked".as_slice()) {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    Ok(Some(Head {
        len,
        status,
        close,
        framing,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Option<Head>, Failure> {
        parse_head(s.as_bytes())
    }

    #[test]
    fn content_length_must_be_digits_and_agree() {
        let ok = |s: &str| head(s).unwrap().unwrap().framing;
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"),
            Framing::Length(5)
        );
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 27\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 27\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(head(bad).unwrap_err(), Failure::Bad, "{bad:?}");
        }
    }

    #[test]
    fn framing_follows_rfc9112_section_6_3() {
        let h = |s: &str| head(s).unwrap().unwrap();
        let c = h("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!((c.framing, c.close), (Framing::Chunked, false));
        let g =
            h("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!((g.framing, g.close), (Framing::UntilClose, true));
        let n = h("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((n.framing, n.close), (Framing::UntilClose, true));
        let i = h("HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!((i.framing, i.status), (Framing::Empty, 100));
        let k = h("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n");
        assert!(!k.close);
        let z = h("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
        assert!(z.close);
        let x = h("HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 1\r\n\r\n");
        assert!(x.close);
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    }

    mod prop {
        use std::{
            io::{BufRead, BufReader, Write},
            net::TcpListener,
            thread,
            time::Duration,
        };

        use proptest::prelude::*;

        use super::super::*;

        /// One answer's bytes: interim 1xx answers, then a 200 framed by length or
        /// chunked (with extensions and trailers), and how many interim ones it holds.
        fn answer() -> impl Strategy<Value = (Vec<u8>, u64)> {
            (
                prop::collection::vec((100u16..200).prop_filter("101", |s| *s != 101), 0..3),
                any::<bool>(),
                prop::collection::vec(1usize..40, 0..6),
                any::<bool>(),
                0usize..3,
                0usize..200,
            )
                .prop_map(|(interim, chunked, chunks, ext, trailers, len)| {
                    let mut a = Vec::new();
                    for s in &interim {
                        a.extend_from_slice(
                            format!("HTTP/1.1 {s} Info\r\nX-I: {s}\r\n\r\n").as_bytes(),
                        );
                    }
                    a.extend_from_slice(b"HTTP/1.1 200 OK\r\nServer: p\r\n");
                    if chunked {
                        a.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                        for (i, n) in chunks.iter().enumerate() {
                            let e = if ext { ";e=1" } else { "" };
                            a.extend_from_slice(format!("{n:x}{e}\r\n").as_bytes());
                            a.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, *n));
                            a.extend_from_slice(b"\r\n");
                        }
                        a.extend_from_slice(b"0\r\n");
                        for t in 0..trailers {
                            a.extend_from_slice(format!("X-T{t}: v\r\n").as_bytes());
                        }
                        a.extend_from_slice(b"\r\n");
                    } else {
                        a.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
                        a.extend(std::iter::repeat_n(b'x', len));
                    }
                    (a, interim.len() as u64)
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            /// Two answers on one kept-alive loopback connection, written in pieces of
            /// random sizes with pauses between them so that reads split anywhere: both
            /// are read whole, with their exact sizes and interim counts.
            #[test]
            fn answers_split_anywhere_are_read_exactly(
                (a, interim) in answer(),
                pieces in prop::collection::vec(1usize..64, 1..8),
            ) {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = l.local_addr().unwrap();
                let bytes = a.clone();
                let server = thread::spawn(move || {
                    let (s, _) = l.accept().unwrap();
                    s.set_nodelay(true).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut w = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    for _ in 0..2 {
                        let mut line = String::new();
                        while line != "\r\n" {
                            line.clear();
                            r.read_line(&mut line).unwrap();
                        }
                        let mut at = 0;
                        for p in pieces.iter().cycle() {
                            if at == bytes.len() {
                                break;
                            }
                            let end = (at + p).min(bytes.len());
                            w.write_all(&bytes[at..end]).unwrap();
                            at = end;
                            thread::sleep(Duration::from_micros(200));
                        }
                    }
                });
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let got = rt.block_on(async {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let mut c = Conn::new(s, Arc::new(AtomicU64::new(0))).unwrap();
                    let req = b"GET / HTTP/1.1\r\nHost: p\r\n\r\n";
                    let one = tokio::time::timeout(Duration::from_secs(5), c.exchange(req)).await;
                    let two = tokio::time::timeout(Duration::from_secs(5), c.exchange(req)).await;
                    (one, two, c.answered)
                });
                server.join().unwrap();
                let (one, two, answered) = got;
                for r in [one, two] {
                    let r = r.expect("no timeout").map_err(|f| format!("{f:?}")).unwrap();
                    prop_assert_eq!(r.bytes, a.len() as u64);
                    prop_assert_eq!(r.interim, interim);
                    prop_assert!(!r.close);
                }
                prop_assert_eq!(answered, 2);
            }

            /// Two different Content-Length values anywhere among other fields, in
            /// either order, as two fields or one list: always a bad answer.
            #[test]
            fn disagreeing_content_lengths_are_always_bad(
                x in 0u64..1_000_000,
                d in 1u64..1000,
                before in 0usize..4,
                between in 0usize..4,
                swap in any::<bool>(),
                list in any::<bool>(),
            ) {
                let (m, n) = if swap { (x + d, x) } else { (x, x + d) };
                let mut h = String::from("HTTP/1.1 200 OK\r\n");
                for i in 0..before {
                    h += &format!("X-B{i}: 1\r\n");
                }
                if list {
                    h += &format!("Content-Length: {m}, {n}\r\n");
                } else {
                    h += &format!("Content-Length: {m}\r\n");
                    for i in 0..between {
                        h += &format!("X-M{i}: 1\r\n");
                    }
                    h += &format!("Content-Length: {n}\r\n");
                }
                h += "\r\n";
                prop_assert_eq!(parse_head(h.as_bytes()).unwrap_err(), Failure::Bad);
            }
        }
    }
}
