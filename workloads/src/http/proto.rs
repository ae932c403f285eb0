//! HTTP/1.1 request framing and the responses, shared by the fd loops and the tokio
//! loop so every wait mode answers byte for byte the same.
//!
//! Parsing is httparse's; this file decides what to answer, following RFC 9110 / RFC
//! 9112 for a static GET/HEAD origin server (the rows are in `RFC9112.md` beside this
//! file), and keeps each connection's input inside one fixed buffer
//! (`max_header_bytes`): a request head that does not fit is answered 431 (414 when the
//! request line alone does not fit) and the connection closed, so no peer can make a
//! connection hold more memory than that.
//!
//! Responses are a head (rebuilt once per second for the `Date` header, per loop, in
//! [`Heads`]) and a body shared by every connection.
use std::{
    fs::{File, OpenOptions},
    io,
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    path::PathBuf,
    sync::Arc,
    time::SystemTime,
};

/// What the body of the served path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodySource {
    /// `n` bytes held in memory (at most [`Site::MAX_INLINE_BODY`]) and written with the
    /// head in one `sendmsg`.
    Bytes(usize),
    /// A regular file's contents, sent with `sendfile(2)` after the head.
    File(PathBuf),
}

/// The site a server answers: one path with a static body, 404 for any other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The served path (the query string is ignored when matching).
    pub path: String,
    pub body: BodySource,
    /// Room for one request head, bytes (64 ..= [`Site::MAX_HEADER_BYTES`]); a larger
    /// head gets 431 and the connection is closed.
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

impl Site {
    /// Largest in-memory body, bytes (1 GiB): larger bodies belong in a file.
    pub const MAX_INLINE_BODY: usize = 1 << 30;
    /// Largest per-connection head buffer, bytes (1 MiB; lighttpd's default limit on a
    /// request head is 8 KiB, its largest setting 64 KiB).
    pub const MAX_HEADER_BYTES: usize = 1 << 20;

    /// Checks the site without allocating the body or opening anything.
    ///
    /// Errors (`InvalidInput`, one line naming the cause): path not starting with '/' or
    /// holding whitespace/control bytes, `max_header_bytes` outside 64 ..= 1 MiB, an
    /// in-memory body over 1 GiB.
    pub fn validate(&self) -> io::Result<()> {
        if !self.path.starts_with('/') {
            return Err(invalid(format!(
                "the served path must start with '/' (got '{}')",
                self.path
            )));
        }
        if self.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid(format!(
                "the served path must not contain spaces or control characters (got {:?})",
                self.path
            )));
        }
        if !(64..=Self::MAX_HEADER_BYTES).contains(&self.max_header_bytes) {
            return Err(invalid(format!(
                "max_header_bytes must be between 64 and {} (got {})",
                Self::MAX_HEADER_BYTES,
                self.max_header_bytes
            )));
        }
        if let BodySource::File(p) = &self.body {
            // Checked here, before anything starts, so a bad file is a refused option
            // and not a failed start: it must be a regular file (a directory, a FIFO or
            // a device cannot be served with sendfile and a Content-Length).
            let md = std::fs::metadata(p)
                .map_err(|e| invalid(format!("cannot open body file {}: {e}", p.display())))?;
            not_regular(p, md.file_type())?;
        }
        if let BodySource::Bytes(n) = self.body {
            if n > Self::MAX_INLINE_BODY {
                return Err(invalid(format!(
                    "body size {n} bytes is over the {} bytes (1 GiB) an in-memory body may have; serve a file instead",
                    Self::MAX_INLINE_BODY
                )));
            }
        }
        Ok(())
    }
}

/// Refuses a body file that is not a regular file (sendfile and a Content-Length need
/// one), naming what it is.
fn not_regular(p: &std::path::Path, ft: std::fs::FileType) -> io::Result<()> {
    if ft.is_file() {
        return Ok(());
    }
    let what = if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    Err(invalid(format!(
        "body file {} is {what}, not a regular file",
        p.display()
    )))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
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
    UriTooLong,
    HeaderTooLarge,
    NotImplemented,
    VersionNotSupported,
}

impl Status {
    const ALL: [Status; 8] = [
        Status::Ok,
        Status::BadRequest,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::UriTooLong,
        Status::HeaderTooLarge,
        Status::NotImplemented,
        Status::VersionNotSupported,
    ];

    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::UriTooLong => "414 URI Too Long",
            Status::HeaderTooLarge => "431 Request Header Fields Too Large",
            Status::NotImplemented => "501 Not Implemented",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }

    /// Errors after which the input can no longer be framed: answer, then close.
    fn closes(self) -> bool {
        !matches!(
            self,
            Status::Ok | Status::NotFound | Status::MethodNotAllowed
        )
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

/// One answer to send: `head` (a body up to 16 KiB already joined to it), then `body`
/// (empty for HEAD, file bodies and joined bodies), then `file_len` bytes of the site's
/// file.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub head: Arc<[u8]>,
    pub body: Arc<[u8]>,
    pub file_len: u64,
    pub close: bool,
    pub status: Status,
}

/// The site's bodies and limits, built once and shared by every worker.
pub(crate) struct Responses {
    /// Body per status (the site's body for 200, empty when it comes from the file).
    bodies: Vec<Arc<[u8]>>,
    /// Content-Length per status.
    lens: Vec<u64>,
    /// The body file and its length, for `BodySource::File`.
    pub file: Option<(File, u64)>,
    pub path: String,
    pub max_header_bytes: usize,
}

/// Opens a body file: regular files only (a directory, FIFO or device has no fixed
/// length to promise in Content-Length; O_NONBLOCK keeps a FIFO from blocking the open).
fn open_body_file(p: &PathBuf) -> io::Result<(File, u64)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open body file {}: {e}", p.display()),
            )
        })?;
    let md = f.metadata()?;
    not_regular(p, md.file_type())?;
    Ok((f, md.size()))
}

impl Responses {
    /// Validates `site` and builds the bodies. Errors are one line (see
    /// [`Site::validate`]; an unopenable or non-regular body file; an in-memory body
    /// whose allocation fails).
    pub fn new(site: &Site) -> io::Result<Self> {
        site.validate()?;
        let (body, file): (Arc<[u8]>, _) = match &site.body {
            BodySource::Bytes(n) => {
                let mut v = Vec::new();
                v.try_reserve_exact(*n).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        format!("cannot allocate a body of {n} bytes"),
                    )
                })?;
                let pattern = b"evbench-http-body\n";
                v.extend(pattern.iter().copied().cycle().take(*n));
                (Arc::from(v), None)
            }
            BodySource::File(p) => (Arc::from(&b""[..]), Some(open_body_file(p)?)),
        };
        let mut bodies = Vec::new();
        let mut lens = Vec::new();
        for status in Status::ALL {
            if status == Status::Ok {
                lens.push(match &file {
                    Some((_, len)) => *len,
                    None => body.len() as u64,
                });
                bodies.push(body.clone());
            } else {
                // Error bodies are their status line plus a newline.
                let b = format!("{}\n", status.line()).into_bytes();
                lens.push(b.len() as u64);
                bodies.push(Arc::from(b));
            }
        }
        Ok(Self {
            bodies,
            lens,
            file,
            path: site.path.clone(),
            max_header_bytes: site.max_header_bytes,
        })
    }
}

/// Number of distinct heads: status × Connection header.
const N_HEADS: usize = Status::ALL.len() * 3;

/// A loop's response heads for the current second: the `Date` header (RFC 9110 §6.6.1:
/// an origin server with a clock MUST send it) changes once a second, so heads are built
/// lazily and dropped when the second changes — never formatted per response.
pub(crate) struct Heads {
    sec: u64,
    date: String,
    cache: Vec<Option<Arc<[u8]>>>,
    /// Head and body in one buffer, for bodies up to [`JOINED_BODY`]: one `send` per
    /// response, as before the Date header existed.
    joined: Vec<Option<Arc<[u8]>>>,
    /// The empty body (shared, so HEAD answers allocate nothing).
    empty: Arc<[u8]>,
}

/// Largest body copied next to its head once a second (16 KiB); larger bodies are sent
/// from the shared copy after the head.
const JOINED_BODY: usize = 16 * 1024;

impl Heads {
    pub fn new() -> Self {
        let mut h = Self {
            sec: u64::MAX,
            date: String::new(),
            cache: vec![None; N_HEADS],
            joined: vec![None; N_HEADS],
            empty: Arc::from(&b""[..]),
        };
        h.refresh(SystemTime::now());
        h
    }

    /// Moves to the second of `now`; a no-op within the same second.
    pub fn refresh(&mut self, now: SystemTime) {
        let sec = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if sec != self.sec {
            self.sec = sec;
            self.date = httpdate::fmt_http_date(now);
            self.cache.iter_mut().for_each(|c| *c = None);
            self.joined.iter_mut().for_each(|c| *c = None);
        }
    }

    fn get(&mut self, site: &Responses, status: Status, conn: ConnHeader) -> Arc<[u8]> {
        let i = status as usize * 3 + conn as usize;
        if let Some(h) = &self.cache[i] {
            return h.clone();
        }
        let conn_line = match conn {
            ConnHeader::Implicit => "",
            ConnHeader::KeepAlive => "Connection: keep-alive\r\n",
            ConnHeader::Close => "Connection: close\r\n",
        };
        // RFC 9110 §15.5.6: a 405 MUST list the allowed methods.
        let allow = if status == Status::MethodNotAllowed {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let h: Arc<[u8]> = Arc::from(
            format!(
                "HTTP/1.1 {}\r\nServer: evbench\r\nDate: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{allow}{conn_line}\r\n",
                status.line(),
                self.date,
                site.lens[status as usize],
            )
            .into_bytes(),
        );
        self.cache[i] = Some(h.clone());
        h
    }

    fn reply(
        &mut self,
        site: &Responses,
        status: Status,
        conn: ConnHeader,
        head_only: bool,
    ) -> Reply {
        let file_len = match (&site.file, status, head_only) {
            (Some((_, len)), Status::Ok, false) => *len,
            _ => 0,
        };
        let body = &site.bodies[status as usize];
        let (head, body) = if head_only || body.is_empty() {
            (self.get(site, status, conn), self.empty.clone())
        } else if body.len() <= JOINED_BODY {
            let i = status as usize * 3 + conn as usize;
            let joined = match &self.joined[i] {
                Some(j) => j.clone(),
                None => {
                    let head = self.get(site, status, conn);
                    let j: Arc<[u8]> = Arc::from([&head[..], &body[..]].concat());
                    self.joined[i] = Some(j.clone());
                    j
                }
            };
            (joined, self.empty.clone())
        } else {
            (self.get(site, status, conn), body.clone())
        };
        Reply {
            head,
            body,
            file_len,
            close: conn == ConnHeader::Close,
            status,
        }
    }
}

/// Maximum headers a request may carry; more is treated like an oversized head (431).
const MAX_HEADERS: usize = 64;

/// Largest request body skipped to keep a connection open (64 KiB); a request with a
/// larger Content-Length is answered and the connection closed instead of reading it.
const MAX_SKIPPED_BODY: u64 = 64 * 1024;

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

    /// True while part of a request (head bytes or body still to skip) has been read.
    pub fn in_request(&self) -> bool {
        self.len > 0 || self.skip > 0
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// The answer to the next complete request in the buffer, if there is one.
    pub fn next(&mut self, site: &Responses, heads: &mut Heads) -> Option<Reply> {
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
        let (status, conn, head_only, used, body) = match self.parse(site)? {
            Ok(j) => j,
            Err(status) => (status, ConnHeader::Close, false, 0, 0),
        };
        if conn == ConnHeader::Close {
            self.closing = true;
        }
        if used > 0 {
            self.consume(used);
            self.skip = body;
        }
        Some(heads.reply(site, status, conn, head_only))
    }

    /// `None`: wait for more input; `Some(Err(status))`: answer `status` and close.
    #[allow(clippy::type_complexity)]
    fn parse(
        &mut self,
        site: &Responses,
    ) -> Option<Result<(Status, ConnHeader, bool, usize, u64), Status>> {
        let full = self.len == self.buf.len();
        let mut rewritten = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            return match req.parse(&self.buf[..self.len]) {
                Ok(httparse::Status::Partial) if !full => None,
                Ok(httparse::Status::Partial) => Some(Err(self.too_large())),
                Err(httparse::Error::TooManyHeaders) => Some(Err(Status::HeaderTooLarge)),
                Err(httparse::Error::Version) if !rewritten => match self.fix_version() {
                    VersionFix::Wait if !full => None,
                    VersionFix::Wait => Some(Err(Status::UriTooLong)),
                    VersionFix::Retry => {
                        rewritten = true;
                        continue;
                    }
                    VersionFix::Refuse(s) => Some(Err(s)),
                },
                Err(_) => Some(Err(Status::BadRequest)),
                Ok(httparse::Status::Complete(used)) => {
                    Some(judge(&req, site).map(|(status, conn, head_only, body)| {
                        (status, conn, head_only, used, body)
                    }))
                }
            };
        }
    }

    /// A full buffer without a complete head: 414 when even the request line did not
    /// fit (RFC 9112 §3: a target longer than the server will parse), else 431.
    fn too_large(&self) -> Status {
        let start = self.buf[..self.len]
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        if self.buf[start..self.len].contains(&b'\n') {
            Status::HeaderTooLarge
        } else {
            Status::UriTooLong
        }
    }

    /// httparse knows only HTTP/1.0 and 1.1. RFC 9110 §2.5 / RFC 9112 §2.3: a later
    /// HTTP/1.x minor version is answered as 1.1 (rewrite the digit, parse again); a
    /// well-formed other major version gets 505; anything else is malformed (400).
    fn fix_version(&mut self) -> VersionFix {
        let data = &self.buf[..self.len];
        let start = data
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        let Some(nl) = data[start..].iter().position(|&b| b == b'\n') else {
            return VersionFix::Wait;
        };
        let mut end = start + nl;
        if end > start && data[end - 1] == b'\r' {
            end -= 1;
        }
        let line = &data[start..end];
        let Some(sp) = line.iter().rposition(|&b| b == b' ') else {
            return VersionFix::Refuse(Status::BadRequest);
        };
        let v = &line[sp + 1..];
        let well_formed = v.len() == 8
            && v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit();
        if !well_formed {
            return VersionFix::Refuse(Status::BadRequest);
        }
        if v[5] == b'1' {
            // HTTP/1.2 .. 1.9 (1.0 and 1.1 never come here).
            let at = start + sp + 1 + 7;
            self.buf[at] = b'1';
            VersionFix::Retry
        } else {
            VersionFix::Refuse(Status::VersionNotSupported)
        }
    }
}

enum VersionFix {
    Wait,
    Retry,
    Refuse(Status),
}

/// Methods RFC 9110 §9 (and RFC 5789's PATCH) define: known, so 405 with `Allow` when
/// not GET/HEAD; any other method is 501 (RFC 9110 §9.1, §15.6.2). Case-sensitive.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// A Content-Length value: 1*DIGIT and nothing else (RFC 9110 §8.6: no sign, no list,
/// no spaces inside), no overflow.
fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// A Host value: `uri-host [ ":" port ]` (RFC 9110 §7.2), or empty (allowed when the
/// target has no authority).
fn host_ok(v: &[u8]) -> bool {
    v.is_empty() || authority_ok(v)
}

/// `host [ ":" port ]` by RFC 3986 §3.2.2–3.2.3 (no userinfo: RFC 9110 §4.2.4 refuses
/// it): host is an IP-literal — `[` IPv6address `]` (std's parser, no zone id) or
/// `[v` HEXDIG+ `.` (unreserved / sub-delims / `:`)+ `]` — or a reg-name / IPv4address:
/// unreserved, sub-delims and `%` HEXDIG HEXDIG, without `:` `[` `]`; port is *DIGIT.
/// The kind of fault it stops: an unclosed `[::1` or a stray `]` taken for a host.
fn authority_ok(a: &[u8]) -> bool {
    let unreserved_or_sub = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            )
    };
    let (host_valid, rest) = if let Some(inner) = a.strip_prefix(b"[") {
        let Some(close) = inner.iter().position(|&b| b == b']') else {
            return false;
        };
        let lit = &inner[..close];
        let ok = match lit.first() {
            Some(&(b'v' | b'V')) => lit[1..].iter().position(|&b| b == b'.').is_some_and(|dot| {
                dot > 0
                    && lit[1..1 + dot].iter().all(u8::is_ascii_hexdigit)
                    && lit.len() > dot + 2
                    && lit[dot + 2..]
                        .iter()
                        .all(|&b| unreserved_or_sub(b) || b == b':')
            }),
            _ => std::str::from_utf8(lit)
                .ok()
                .is_some_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok()),
        };
        (ok, &inner[close + 1..])
    } else {
        let end = a.iter().position(|&b| b == b':').unwrap_or(a.len());
        let host = &a[..end];
        let mut i = 0;
        let mut ok = true;
        while i < host.len() {
            let b = host[i];
            if b == b'%' {
                if !(i + 2 < host.len()
                    && host[i + 1].is_ascii_hexdigit()
                    && host[i + 2].is_ascii_hexdigit())
                {
                    ok = false;
                    break;
                }
                i += 3;
            } else if unreserved_or_sub(b) {
                i += 1;
            } else {
                ok = false;
                break;
            }
        }
        (ok, &a[end..])
    };
    host_valid
        && match rest.split_first() {
            None => true,
            Some((&b':', port)) => port.iter().all(u8::is_ascii_digit),
            Some(_) => false,
        }
}

/// The path of a request target (RFC 9112 §3.2): origin-form as is; absolute-form
/// `http[s]://authority/path` reduced to its path (a server MUST accept it, §3.2.2).
/// `None` for any other form, an absolute-form with an empty authority, or a target
/// holding a fragment.
fn target_path(target: &str) -> Option<&str> {
    if target.contains('#') {
        // A fragment is never part of a request target (RFC 9112 §3.2).
        return None;
    }
    if target.starts_with('/') {
        return Some(target);
    }
    let b = target.as_bytes();
    let rest = if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://") {
        &target[7..]
    } else if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://") {
        &target[8..]
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || !authority_ok(authority.as_bytes()) {
        // RFC 9110 §4.2.1: an http URI with an empty host is invalid; userinfo
        // (deprecated) and anything RFC 3986's authority grammar refuses (an unclosed
        // IP-literal) are refused.
        return None;
    }
    match &rest[end..] {
        "" => Some("/"),
        p if p.starts_with('?') => Some("/"),
        p => Some(p),
    }
}

/// Decides the answer to a complete, well-formed request head: (status, connection,
/// head only, request body length). `Err(status)`: answer that and close.
fn judge(
    req: &httparse::Request<'_, '_>,
    site: &Responses,
) -> Result<(Status, ConnHeader, bool, u64), Status> {
    let bad = Status::BadRequest;
    let version = req.version.ok_or(bad)?;
    let mut close = false;
    let mut keep_alive = false;
    let mut body: Option<u64> = None;
    // Transfer-Encoding: whether present, how many codings, whether the last one is
    // chunked (all lines form one list, RFC 9110 §5.3).
    let mut te = false;
    let mut codings = 0;
    let mut chunked = 0;
    let mut last_chunked = false;
    let mut hosts = 0;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let t = token.trim_ascii();
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // RFC 9112 §6.3 (5): an invalid or repeated Content-Length is unrecoverable
            // framing; a second line is refused even with the same value, whatever the
            // order (a list "5, 5" is refused by the digit check).
            if body.is_some() {
                return Err(bad);
            }
            body = Some(content_length(h.value.trim_ascii()).ok_or(bad)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te = true;
            for c in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if !c.is_empty() {
                    codings += 1;
                    last_chunked = c.eq_ignore_ascii_case(b"chunked");
                    chunked += usize::from(last_chunked);
                }
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !host_ok(h.value) {
                return Err(bad);
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue |= h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    // RFC 9112 §6.1, §6.3 (3, 4): Transfer-Encoding with Content-Length, in HTTP/1.0,
    // without chunked as the final coding, or with chunked more than once (§6.1: a
    // sender MUST NOT apply it twice, so the framing is already broken, whatever the
    // lines or order) cannot be framed: 400 and close. Another coding before chunked we
    // cannot decode: 501 (§6.1 SHOULD). A chunked body alone is framed but of no use to
    // a static server: the request is answered with Connection: close and the body
    // drained by the lingering close, so nothing in it is ever parsed as a request.
    if te && (body.is_some() || version == 0 || !last_chunked || chunked > 1) {
        return Err(bad);
    }
    if te && codings > 1 {
        return Err(Status::NotImplemented);
    }
    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, and for any request with
    // more than one.
    if hosts > 1 || (version >= 1 && hosts == 0) {
        return Err(bad);
    }
    let method = req.method.ok_or(bad)?;
    let target = req.path.ok_or(bad)?;
    let path = match target_path(target) {
        Some(p) => p,
        // asterisk-form is for OPTIONS and authority-form for CONNECT, both methods we
        // answer 405 whatever the target.
        None if method == "OPTIONS" && target == "*" => "*",
        None if method == "CONNECT" => "*",
        None => return Err(bad),
    };
    if !KNOWN_METHODS.contains(&method) {
        return Err(Status::NotImplemented);
    }
    let body = body.unwrap_or(0);
    let keep = if version >= 1 {
        !close
    } else {
        keep_alive && !close
    };
    // A large body is not worth reading to keep the connection; with Expect:
    // 100-continue the client may never send it (RFC 9110 §10.1.1), so the framing of
    // what follows would be a guess: close in both cases.
    let keep = keep && !te && body <= MAX_SKIPPED_BODY && !(expect_continue && body > 0);
    let conn = match (keep, version) {
        (false, _) => ConnHeader::Close,
        (true, 0) => ConnHeader::KeepAlive,
        (true, _) => ConnHeader::Implicit,
    };
    let path = path.split('?').next().unwrap_or(path);
    let head_only = method == "HEAD";
    let status = if method == "GET" || head_only {
        if path == site.path {
            Status::Ok
        } else {
            Status::NotFound
        }
    } else if path == site.path || path == "*" {
        Status::MethodNotAllowed
    } else {
        Status::NotFound
    };
    debug_assert!(!status.closes());
    Ok((status, conn, head_only, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_digits_only() {
        assert_eq!(content_length(b"27"), Some(27));
        assert_eq!(content_length(b"0"), Some(0));
        for v in [
            &b"+27"[..],
            b"-1",
            b"",
            b"2 7",
            b"5, 5",
            b"0x1b",
            b"99999999999999999999",
        ] {
            assert_eq!(content_length(v), None, "{v:?}");
        }
    }

    #[test]
    fn targets() {
        assert_eq!(target_path("/a?b"), Some("/a?b"));
        assert_eq!(target_path("http://x/a"), Some("/a"));
        assert_eq!(target_path("HTTP://x:80"), Some("/"));
        assert_eq!(target_path("http://x?q"), Some("/"));
        assert_eq!(target_path("http:///a"), None);
        assert_eq!(target_path("ftp://x/a"), None);
        assert_eq!(target_path("x:80"), None);
        assert_eq!(target_path("/a#f"), None);
    }
}
