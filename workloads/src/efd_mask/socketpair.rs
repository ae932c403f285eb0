//! The socketpair backend: EFD_MASK approximated on an AF_UNIX stream socketpair.
//!
//! The mask fd is one end (`a`) of the pair; the backend drives its readiness through
//! the other end (`b`) and through `a` itself:
//!
//! | event   | produced by                                               | cleared by |
//! |---------|-----------------------------------------------------------|------------|
//! | POLLIN  | one byte sent from `b` (queued on `a`)                    | draining `a` |
//! | POLLPRI | one byte sent from `b` with `MSG_OOB` (also gives POLLIN) | `recv(a, MSG_OOB)` |
//! | !POLLOUT| `a` sends into `b` until `a`'s send buffer accounting is over a quarter of `SO_SNDBUF` | draining `b` |
//! | POLLHUP | `shutdown(b, SHUT_RDWR)` (also gives POLLIN, forever)     | never |
//! | POLLERR | cannot be produced                                        | — |
//!
//! How much clears POLLOUT (measured on kernel 6.18): `a` is writable while the memory
//! its queued skbs take (truesize, not payload) is at most a quarter of its
//! `SO_SNDBUF`. With the default 212992-byte buffer that took one write of 50561 bytes,
//! or 70 one-byte writes, or 45056 bytes in 4 KiB writes. The backend sets `SO_SNDBUF`
//! to the kernel minimum (reported as 4608 bytes): then one write of 193 bytes, or two
//! one-byte writes, suffice, and a fill is one send of [`FILL_CHUNK`] (1024) bytes
//! ([`SocketpairMask::last_fill_bytes`] reports what the last fill took).
//!
//! Representable masks ([`representable`]): POLLERR never; POLLPRI and POLLHUP only
//! together with POLLIN. That is 10 of the 32: `0`, `IN`, `IN|PRI`, each with or
//! without `OUT` (6), and `IN|HUP`, `IN|PRI|HUP`, each with or without `OUT` (4).
//!
//! Transitions ([`can_transition`]): before POLLHUP, any representable mask to any
//! other. POLLHUP is irreversible: once set, every later mask must hold POLLHUP (and so
//! POLLIN), POLLPRI can only be removed (`b` can no longer send) and POLLOUT can only be
//! added (`a` can no longer send to fill `b`). A request outside this is refused with
//! `ErrorKind::Unsupported` and changes nothing.
//!
//! Unlike the patch, a transition is a few syscalls, not one atomic step: a poller that
//! looks in the middle of one may see an intermediate mask (removals are applied before
//! additions). Sockets also report POLLRDNORM/POLLWRNORM/POLLWRBAND (and EPOLLRDHUP
//! after POLLHUP) to pollers that ask for them; pollers asking only for
//! POLLIN|POLLPRI|POLLOUT see exactly the mask. `read(2)`/`write(2)` on the fd are not
//! the mask interface here (they would move the bytes that encode it): use
//! [`MaskFd::get`](super::MaskFd::get) / [`MaskFd::set`](super::MaskFd::set).
use std::{
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

use super::{Mask, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI};
use crate::sys::{cvt, cvt_size};

/// Bytes per send when filling `b` to clear POLLOUT.
pub const FILL_CHUNK: usize = 1024;
/// Give up filling after this many bytes (the minimum buffer needs about one chunk).
const FILL_LIMIT: usize = 4 << 20;

/// True when the socketpair backend can show `events`.
pub fn representable(events: u32) -> bool {
    let has = |b| events & b != 0;
    events & !(POLLIN | POLLPRI | POLLOUT | POLLHUP) == 0
        && (!has(POLLPRI) || has(POLLIN))
        && (!has(POLLHUP) || has(POLLIN))
}

/// True when the socketpair backend can go from `from` to `to` (both must be
/// representable; see the module docs for the rules after POLLHUP).
pub fn can_transition(from: u32, to: u32) -> bool {
    if !representable(from) || !representable(to) {
        return false;
    }
    if from & POLLHUP == 0 {
        return true;
    }
    to & POLLHUP != 0
        && (to & POLLPRI == 0 || from & POLLPRI != 0)
        && (from & POLLOUT == 0 || to & POLLOUT != 0)
}

#[derive(Default)]
struct State {
    mask: Mask,
    /// A normal byte is queued on `a` (besides any OOB byte).
    normal: bool,
}

/// A mask fd on an AF_UNIX socketpair (see the module docs for what it can represent).
pub struct SocketpairMask {
    /// The end users poll (the mask fd).
    a: OwnedFd,
    /// The end the backend sends from.
    b: OwnedFd,
    state: Mutex<State>,
    last_fill: AtomicUsize,
}

fn sock_send(fd: RawFd, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for its length.
        let r = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        match cvt_size(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

fn sock_recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for its length.
        let r = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags | libc::MSG_DONTWAIT,
            )
        };
        match cvt_size(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Receives until the queue is empty (EAGAIN) or closed; returns the bytes taken.
fn drain(fd: RawFd) -> io::Result<usize> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match sock_recv(fd, &mut buf, 0) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(e) => return Err(e),
        }
    }
}

/// The readiness `fd` reports right now for POLLIN|POLLPRI|POLLOUT (plus ERR/HUP).
pub(crate) fn poll_now(fd: RawFd) -> io::Result<u32> {
    let mut p = libc::pollfd {
        fd,
        events: (POLLIN | POLLPRI | POLLOUT) as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    cvt(unsafe { libc::poll(&mut p, 1, 0) })?;
    Ok(p.revents as u16 as u32)
}

impl SocketpairMask {
    /// A new socketpair mask fd (events 0, data 0: `a` has nothing queued and POLLOUT
    /// cleared by a fill, as the patch's initial mask has no events).
    pub fn new() -> io::Result<Self> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: fds has room for two descriptors.
        cvt(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        })?;
        // SAFETY: socketpair succeeded; both fds are ours.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let one: libc::c_int = 1;
        // SAFETY: valid option pointer and length. The kernel clamps 1 up to its minimum.
        cvt(unsafe {
            libc::setsockopt(
                a.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
        let m = SocketpairMask {
            a,
            b,
            state: Mutex::new(State::default()),
            last_fill: AtomicUsize::new(0),
        };
        // The initial mask is "no events": clear POLLOUT.
        m.fill()?;
        Ok(m)
    }

    /// `SO_SNDBUF` of the mask fd's socket (bytes, as the kernel reports it).
    pub fn send_buffer(&self) -> io::Result<usize> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid out pointers.
        cvt(unsafe {
            libc::getsockopt(
                self.a.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        Ok(v as usize)
    }

    /// Bytes the last POLLOUT-clearing fill had to send (measured, not assumed).
    pub fn last_fill_bytes(&self) -> usize {
        self.last_fill.load(Ordering::Relaxed)
    }

    /// Sends from `a` into `b` until `a` stops being writable.
    fn fill(&self) -> io::Result<()> {
        let chunk = [0u8; FILL_CHUNK];
        let mut sent = 0;
        while poll_now(self.a.as_raw_fd())? & POLLOUT != 0 {
            if sent >= FILL_LIMIT {
                return Err(io::Error::other(format!(
                    "socketpair still writable after {sent} bytes"
                )));
            }
            match sock_send(self.a.as_raw_fd(), &chunk, 0) {
                Ok(n) => sent += n,
                // Full before the writability threshold: it cannot be writable either.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        self.last_fill.store(sent, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn get(&self) -> Mask {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).mask
    }

    pub(crate) fn update(&self, f: impl FnOnce(Mask) -> Mask) -> io::Result<Mask> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let old = st.mask;
        let new = f(old);
        new.validate()?;
        let (o, n) = (old.events, new.events);
        if !can_transition(o, n) {
            let why = if n & POLLERR != 0 {
                "POLLERR cannot be produced"
            } else if !representable(n) {
                "POLLPRI and POLLHUP need POLLIN"
            } else {
                "POLLHUP is irreversible (after it POLLPRI can only be cleared, POLLOUT only set)"
            };
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("socketpair mask fd cannot go from {o:#x} to {n:#x}: {why}"),
            ));
        }
        let (a, b) = (self.a.as_raw_fd(), self.b.as_raw_fd());
        let gone = |bit| o & bit != 0 && n & bit == 0;
        let added = |bit| o & bit == 0 && n & bit != 0;
        // Removals first.
        if gone(POLLPRI) {
            if n & POLLIN != 0 && n & POLLHUP == 0 && !st.normal {
                // Keep POLLIN up while the OOB byte goes.
                sock_send(b, b"i", 0)?;
                st.normal = true;
            }
            let mut x = [0u8; 1];
            sock_recv(a, &mut x, libc::MSG_OOB)?;
        }
        if gone(POLLIN) {
            // Also unlinks an already-read OOB byte, which keeps POLLIN up otherwise.
            drain(a)?;
            st.normal = false;
        }
        if gone(POLLOUT) {
            self.fill()?;
        }
        // Then additions.
        if added(POLLOUT) {
            drain(b)?;
        }
        if added(POLLIN) && n & POLLPRI == 0 && n & POLLHUP == 0 {
            sock_send(b, b"i", 0)?;
            st.normal = true;
        }
        if added(POLLPRI) {
            sock_send(b, b"p", libc::MSG_OOB)?;
        }
        if added(POLLHUP) {
            // SAFETY: plain syscall on our socket.
            cvt(unsafe { libc::shutdown(b, libc::SHUT_RDWR) })?;
        }
        st.mask = new;
        Ok(old)
    }

    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.a.as_raw_fd()
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.a.as_fd()
    }
}
