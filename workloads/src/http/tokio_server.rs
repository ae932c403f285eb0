//! The async baseline: one current-thread tokio runtime per worker, one task per
//! connection, the same framing and responses as the waiter loop.
use std::{
    io,
    net::TcpListener,
    os::fd::{AsRawFd, RawFd},
    sync::{mpsc, Arc},
    time::Duration,
};

use tokio::{
    io::{unix::AsyncFd, AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{
    proto::{Responses, Session},
    server::Counters,
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
                            if let Err(e) = serve(stream, &responses, &counters).await {
                                if super::server::is_reset(&e) {
                                    counters.bump_reset();
                                }
                            }
                            counters.bump_closed();
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

async fn serve(
    mut stream: TcpStream,
    responses: &Responses,
    counters: &Counters,
) -> io::Result<()> {
    let mut session = Session::new(responses.max_header_bytes);
    let mut wbuf: Vec<u8> = Vec::new();
    loop {
        let mut close = false;
        while let Some(reply) = session.next(responses) {
            counters.count_status(reply.status);
            if reply.bytes.len() <= WRITE_BATCH {
                wbuf.extend_from_slice(&reply.bytes);
            } else {
                // A large body goes out from the shared response, never copied per
                // connection.
                stream.write_all(&wbuf).await?;
                wbuf.clear();
                stream.write_all(&reply.bytes).await?;
            }
            if reply.file_len > 0 {
                stream.write_all(&wbuf).await?;
                wbuf.clear();
                send_file(&stream, responses, reply.file_len).await?;
            }
            if reply.close {
                close = true;
                break;
            }
            if wbuf.len() >= WRITE_BATCH {
                stream.write_all(&wbuf).await?;
                wbuf.clear();
            }
        }
        if !wbuf.is_empty() {
            stream.write_all(&wbuf).await?;
            wbuf.clear();
        }
        if close {
            return Ok(());
        }
        let n = stream.read(session.spare()).await?;
        if n == 0 {
            return Ok(());
        }
        session.filled(n);
    }
}

async fn send_file(stream: &TcpStream, responses: &Responses, len: u64) -> io::Result<()> {
    let Some((file, _)) = &responses.file else {
        return Err(io::Error::other("no body file"));
    };
    let mut off: libc::off_t = 0;
    while (off as u64) < len {
        stream.writable().await?;
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
