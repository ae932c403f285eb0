//! The async baseline: one current-thread tokio runtime per worker, one task per
//! connection, the same framing and responses as the waiter loop.
use std::{
    cell::RefCell,
    io,
    net::TcpListener,
    os::fd::{AsRawFd, RawFd},
    sync::{mpsc, Arc},
    time::{Duration, SystemTime},
};

use tokio::{
    io::{unix::AsyncFd, AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};

use super::{
    proto::{Heads, Reply, Responses, Session},
    server::{Counters, Limits},
};
use crate::observer::gettid;

/// Borrowed eventfd: the handle owns and closes it after this loop has ended.
struct Waker(RawFd);

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Output gathered across pipelined answers before one write.
const WRITE_BATCH: usize = 64 * 1024;

pub(super) fn run(
    listener: TcpListener,
    waker_fd: RawFd,
    responses: Arc<Responses>,
    counters: Arc<Counters>,
    tid_tx: mpsc::Sender<io::Result<u32>>,
    limits: Limits,
) -> io::Result<()> {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tid_tx.send(Err(io::Error::new(
                e.kind(),
                format!("cannot start the tokio runtime: {e}"),
            )));
            return Err(e);
        }
    };
    rt.block_on(async move {
        let setup = (|| {
            let l = tokio::net::TcpListener::from_std(listener)?;
            // SAFETY: the handle keeps the eventfd open until this thread has been
            // joined, so the fd stays valid for the AsyncFd's whole life.
            let w = unsafe {
                AsyncFd::register_with_interest(Waker(waker_fd), tokio::io::Interest::READABLE)?
            };
            Ok::<_, io::Error>((l, w))
        })();
        let (listener, waker) = match setup {
            Ok(x) => x,
            Err(e) => {
                let _ = tid_tx.send(Err(io::Error::new(
                    e.kind(),
                    format!("cannot register the listen socket with tokio: {e}"),
                )));
                return Err(e);
            }
        };
        let _ = tid_tx.send(Ok(gettid()));
        drop(tid_tx);
        loop {
            tokio::select! {
                r = waker.readable() => {
                    let _ready = r?;
                    return Ok(());
                }
                r = listener.accept() => match r {
                    Ok((stream, _)) => {
                        counters.bump_accepted();
                        let (responses, counters) = (responses.clone(), counters.clone());
                        tokio::spawn(async move {
                            // Counted on drop: a task still lingering when the server
                            // stops is dropped with the runtime, and that is a close too.
                            let closed = ClosedOnDrop(counters);
                            if let Err(e) = serve(stream, &responses, &closed.0, limits).await {
                                ended(&e, &closed.0);
                            }
                        });
                    }
                    Err(e) => {
                        counters.bump_accept_error();
                        if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        }
    })
}

/// Counts a connection closed when its task ends or is dropped.
struct ClosedOnDrop(Arc<Counters>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.bump_closed();
    }
}

thread_local! {
    /// This worker's response heads (one current-thread runtime per worker thread, so
    /// every connection task of a worker shares them, as the fd loop does).
    static HEADS: RefCell<Heads> = RefCell::new(Heads::new());
}

/// Writes all of `buf`, closing when one write makes no progress within `idle` (the
/// write-idle timeout counts time without progress, not the whole transfer).
async fn write_all_idle(stream: &mut TcpStream, mut buf: &[u8], idle: Duration) -> io::Result<()> {
    while !buf.is_empty() {
        match tokio::time::timeout(idle, stream.write(buf)).await {
            Ok(Ok(0)) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(Ok(n)) => buf = &buf[n..],
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(timed_out()),
        }
    }
    Ok(())
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection timeout")
}

/// How a connection task ended, for the counters.
fn ended(e: &io::Error, counters: &Counters) {
    if e.kind() == io::ErrorKind::TimedOut && e.raw_os_error().is_none() {
        counters.bump_timeout();
    } else if super::server::is_reset(e) {
        counters.bump_reset();
    }
}

async fn serve(
    mut stream: TcpStream,
    responses: &Responses,
    counters: &Counters,
    limits: Limits,
) -> io::Result<()> {
    let ns = Duration::from_nanos;
    let mut session = Session::new(responses.max_header_bytes);
    let mut wbuf: Vec<u8> = Vec::new();
    let mut replies: Vec<Reply> = Vec::new();
    // The first request is timed from accept, later ones from their first byte.
    let mut head_deadline = Instant::now() + ns(limits.request_head);
    let mut served = false;
    loop {
        // Take every answer parsed so far (no await while the heads are borrowed).
        HEADS.with(|h| {
            let mut h = h.borrow_mut();
            h.refresh(SystemTime::now());
            while let Some(reply) = session.next(responses, &mut h) {
                counters.count_status(reply.status);
                let close = reply.close;
                replies.push(reply);
                if close {
                    break;
                }
            }
        });
        let mut close = false;
        let idle = ns(limits.write_idle);
        served |= !replies.is_empty();
        for reply in replies.drain(..) {
            wbuf.extend_from_slice(&reply.head);
            if reply.body.len() <= WRITE_BATCH {
                wbuf.extend_from_slice(&reply.body);
            } else {
                // A large body goes out from the shared response, never copied per
                // connection.
                write_all_idle(&mut stream, &wbuf, idle).await?;
                wbuf.clear();
                write_all_idle(&mut stream, &reply.body, idle).await?;
            }
            if reply.file_len > 0 {
                write_all_idle(&mut stream, &wbuf, idle).await?;
                wbuf.clear();
                send_file(&stream, responses, reply.file_len, idle).await?;
            }
            close |= reply.close;
            if wbuf.len() >= WRITE_BATCH {
                write_all_idle(&mut stream, &wbuf, idle).await?;
                wbuf.clear();
            }
        }
        if !wbuf.is_empty() {
            write_all_idle(&mut stream, &wbuf, idle).await?;
            wbuf.clear();
        }
        if close {
            return linger(stream, ns(limits.linger)).await;
        }
        let idle = Instant::now() + ns(limits.keep_alive_idle);
        let deadline = if !served {
            head_deadline
        } else if session.in_request() {
            // A later request must also keep its bytes coming (lighttpd's keep-alive
            // idle limit applies between them).
            head_deadline.min(idle)
        } else {
            idle
        };
        let fresh = !session.in_request();
        let n = match tokio::time::timeout_at(deadline, stream.read(session.spare())).await {
            Ok(r) => r?,
            Err(_) => return Err(timed_out()),
        };
        if n == 0 {
            return Ok(());
        }
        if fresh {
            head_deadline = Instant::now() + ns(limits.request_head);
        }
        session.filled(n);
    }
}

/// The lingering close (RFC 9112 §9.6): shut the write side, then read and drop input
/// until EOF or `limit`, so unread input cannot turn the close into a reset that
/// destroys the response.
async fn linger(mut stream: TcpStream, limit: Duration) -> io::Result<()> {
    stream.shutdown().await?;
    let deadline = Instant::now() + limit;
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(timed_out()),
        }
    }
}

async fn send_file(
    stream: &TcpStream,
    responses: &Responses,
    len: u64,
    idle: Duration,
) -> io::Result<()> {
    let Some((file, _)) = &responses.file else {
        return Err(io::Error::other("no body file"));
    };
    let mut off: libc::off_t = 0;
    while (off as u64) < len {
        match tokio::time::timeout(idle, stream.writable()).await {
            Ok(r) => r?,
            Err(_) => return Err(timed_out()),
        }
        let r = stream.try_io(tokio::io::Interest::WRITABLE, || {
            let left = (len - off as u64) as usize;
            // SAFETY: off is a valid offset slot sendfile updates.
            let r = unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut off, left) };
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r as usize)
            }
        });
        match r {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
