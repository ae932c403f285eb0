//! HTTP/1.1 request framing and the prebuilt responses, shared by the fd loops and the
//! tokio loop so every wait mode answers byte for byte the same.
//!
//! Parsing is httparse's; this file only decides what to answer and keeps each
//! connection's input inside one fixed buffer (`max_header_bytes`): a request head that
//! does not fit is answered 431 and the connection closed, so no peer can make a
//! connection hold more memory than that.
use std::{fs::File, io, os::unix::fs::MetadataExt, path::PathBuf, sync::Arc};

/// What the body of the served path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodySource {
    /// `n` bytes held in memory and written with the head in one `send`.
    Bytes(usize),
    /// A file's contents, sent with `sendfile(2)` after the head.
    File(PathBuf),
}

/// The site a server answers: one path with a static body, 404 for any other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The served path (the query string is ignored when matching).
    pub path: String,
    pub body: BodySource,
    /// Room for one request head; a larger head gets 431 and the connection is closed.
    pub max_header_bytes: usize,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            path: "/".into(),
            body: BodySource::Bytes(128),
            max_header_bytes: 8192,
        }
    }
}

/// The bytes of a body of `len` bytes, as the server sends them (also used to write the
/// same body to a file for another server, e.g. lighttpd, so both send identical bytes).
pub fn body_bytes(len: usize) -> Vec<u8> {
    let pattern = b"evbench-http-body\n";
    pattern.iter().copied().cycle().take(len).collect()
}

/// The statuses the server can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok = 0,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    HeaderTooLarge,
}

impl Status {
    const ALL: [Status; 5] = [
        Status::Ok,
        Status::BadRequest,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::HeaderTooLarge,
    ];

    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::HeaderTooLarge => "431 Request Header Fields Too Large",
        }
    }
}

/// What the `Connection:` header of a response says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnHeader {
    /// HTTP/1.1 keep-alive: no header needed.
    Implicit = 0,
    /// HTTP/1.0 client that asked for keep-alive.
    KeepAlive,
    Close,
}

/// One answer to send: `head` (which includes the body unless it comes from the file),
/// then `file_len` bytes of the site's file.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub bytes: Arc<[u8]>,
    pub file_len: u64,
    pub close: bool,
    pub status: Status,
}

/// Every response the site can give, built once.
pub(crate) struct Responses {
    /// Indexed by `index(status, conn, head_only)`.
    table: Vec<Arc<[u8]>>,
    /// The body file and its length, for `BodySource::File`.
    pub file: Option<(File, u64)>,
    pub path: String,
    pub max_header_bytes: usize,
}

fn index(status: Status, conn: ConnHeader, head_only: bool) -> usize {
    (status as usize * 3 + conn as usize) * 2 + head_only as usize
}

impl Responses {
    pub fn new(site: &Site) -> io::Result<Self> {
        if site.max_header_bytes < 64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_header_bytes must be at least 64",
            ));
        }
        if !site.path.starts_with('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the served path must start with '/' (got '{}')", site.path),
            ));
        }
        let (body, file) = match &site.body {
            BodySource::Bytes(n) => (Some(body_bytes(*n)), None),
            BodySource::File(p) => {
                let f = File::open(p).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot open body file {}: {e}", p.display()),
                    )
                })?;
                let len = f.metadata()?.size();
                (None, Some((f, len)))
            }
        };
        let mut table = vec![Arc::from(&b""[..]); Status::ALL.len() * 3 * 2];
        for status in Status::ALL {
            for conn in [
                ConnHeader::Implicit,
                ConnHeader::KeepAlive,
                ConnHeader::Close,
            ] {
                for head_only in [false, true] {
                    let (len, inline): (u64, &[u8]) = match (status, &body, &file) {
                        (Status::Ok, Some(b), _) => (b.len() as u64, b),
                        (Status::Ok, None, Some((_, len))) => (*len, b""),
                        (Status::Ok, None, None) => unreachable!("one body source is set"),
                        (s, _, _) => {
                            let text = s.line().as_bytes();
                            // Error bodies are their status line plus a newline.
                            (text.len() as u64 + 1, b"")
                        }
                    };
                    let conn_line = match conn {
                        ConnHeader::Implicit => "",
                        ConnHeader::KeepAlive => "Connection: keep-alive\r\n",
                        ConnHeader::Close => "Connection: close\r\n",
                    };
                    let mut r = format!(
                        "HTTP/1.1 {}\r\nServer: evbench\r\nContent-Type: text/plain\r\nContent-Length: {len}\r\n{conn_line}\r\n",
                        status.line()
                    )
                    .into_bytes();
                    if !head_only {
                        if status == Status::Ok {
                            r.extend_from_slice(inline);
                        } else {
                            r.extend_from_slice(status.line().as_bytes());
                            r.push(b'\n');
                        }
                    }
                    table[index(status, conn, head_only)] = Arc::from(r);
                }
            }
        }
        Ok(Self {
            table,
            file,
            path: site.path.clone(),
            max_header_bytes: site.max_header_bytes,
        })
    }

    fn reply(&self, status: Status, conn: ConnHeader, head_only: bool) -> Reply {
        let file_len = match (&self.file, status, head_only) {
            (Some((_, len)), Status::Ok, false) => *len,
            _ => 0,
        };
        Reply {
            bytes: self.table[index(status, conn, head_only)].clone(),
            file_len,
            close: conn == ConnHeader::Close,
            status,
        }
    }
}

/// Maximum headers a request may carry; more is treated like an oversized head (431).
const MAX_HEADERS: usize = 64;

/// One connection's input side: a fixed buffer and the framing state.
pub(crate) struct Session {
    buf: Box<[u8]>,
    len: usize,
    /// Request body bytes still to drop (a request with Content-Length).
    skip: u64,
    /// A closing reply was produced: parse nothing more.
    pub closing: bool,
}

impl Session {
    pub fn new(max_header_bytes: usize) -> Self {
        Self {
            buf: vec![0; max_header_bytes].into_boxed_slice(),
            len: 0,
            skip: 0,
            closing: false,
        }
    }

    /// Where the next read goes (empty only while a full head waits to be parsed).
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Records that `n` bytes were read into [`Session::spare`].
    pub fn filled(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// The answer to the next complete request in the buffer, if there is one.
    pub fn next(&mut self, site: &Responses) -> Option<Reply> {
        if self.closing {
            return None;
        }
        if self.skip > 0 {
            let n = (self.skip.min(self.len as u64)) as usize;
            self.consume(n);
            self.skip -= n as u64;
            if self.skip > 0 {
                return None;
            }
        }
        if self.len == 0 {
            return None;
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = req.parse(&self.buf[..self.len]);
        let (status, conn, head_only, used, body) = match parsed {
            Ok(httparse::Status::Partial) => {
                if self.len < self.buf.len() {
                    return None;
                }
                (Status::HeaderTooLarge, ConnHeader::Close, false, 0, 0)
            }
            Err(httparse::Error::TooManyHeaders) => {
                (Status::HeaderTooLarge, ConnHeader::Close, false, 0, 0)
            }
            Err(_) => (Status::BadRequest, ConnHeader::Close, false, 0, 0),
            Ok(httparse::Status::Complete(used)) => match judge(&req, site) {
                Ok((status, conn, head_only, body)) => (status, conn, head_only, used, body),
                Err(()) => (Status::BadRequest, ConnHeader::Close, false, 0, 0),
            },
        };
        if conn == ConnHeader::Close {
            self.closing = true;
        }
        if used > 0 {
            self.consume(used);
            self.skip = body;
        }
        Some(site.reply(status, conn, head_only))
    }
}

/// Decides the answer to a complete, well-formed request head: (status, connection,
/// head only, request body length). `Err` means the head is malformed for our purposes.
fn judge(
    req: &httparse::Request<'_, '_>,
    site: &Responses,
) -> Result<(Status, ConnHeader, bool, u64), ()> {
    let version = req.version.ok_or(())?;
    let mut close = false;
    let mut keep_alive = false;
    let mut body = 0u64;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            let v = std::str::from_utf8(h.value).map_err(|_| ())?;
            for token in v.split(',') {
                let t = token.trim();
                close |= t.eq_ignore_ascii_case("close");
                keep_alive |= t.eq_ignore_ascii_case("keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).map_err(|_| ())?.trim();
            let n: u64 = v.parse().map_err(|_| ())?;
            if body != 0 && body != n {
                return Err(());
            }
            body = n;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // A static server has no use for chunked uploads; refusing them keeps
            // framing simple and unambiguous.
            return Err(());
        }
    }
    let keep = if version >= 1 {
        !close
    } else {
        keep_alive && !close
    };
    let conn = match (keep, version) {
        (false, _) => ConnHeader::Close,
        (true, 0) => ConnHeader::KeepAlive,
        (true, _) => ConnHeader::Implicit,
    };
    let method = req.method.ok_or(())?;
    let path = req.path.ok_or(())?;
    let path = path.split('?').next().unwrap_or(path);
    let head_only = method == "HEAD";
    let status = if path != site.path {
        Status::NotFound
    } else if method == "GET" || head_only {
        Status::Ok
    } else {
        Status::MethodNotAllowed
    };
    Ok((status, conn, head_only, body))
}
