use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    time::Duration,
};

use super::{timeout_ms, Event, Interest, Waiter};
use crate::sys::cvt;

/// epoll(7), level- or edge-triggered.
pub struct EpollWaiter {
    epfd: OwnedFd,
    edge: bool,
    /// epoll_wait's output buffer, sized by `add` so `wait` never allocates.
    buf: Vec<libc::epoll_event>,
    watched: usize,
}

impl EpollWaiter {
    pub fn new(edge_triggered: bool) -> io::Result<Self> {
        // SAFETY: no pointers involved.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Self {
            // SAFETY: fresh descriptor owned from here on.
            epfd: unsafe { OwnedFd::from_raw_fd(fd) },
            edge: edge_triggered,
            buf: Vec::new(),
            watched: 0,
        })
    }

    /// The epoll fd itself (e.g. for nesting, or for EPOLLEXCLUSIVE waiters sharing it).
    pub fn as_raw_fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }

    fn mask(&self, interest: Interest) -> u32 {
        let mut ev = 0;
        if interest.readable {
            ev |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if interest.writable {
            ev |= libc::EPOLLOUT;
        }
        if self.edge {
            ev |= libc::EPOLLET;
        }
        ev as u32
    }

    /// `epoll_ctl` with raw event bits, for callers that need flags the trait does not
    /// name (EPOLLEXCLUSIVE, EPOLLONESHOT).
    pub fn ctl_raw(
        &mut self,
        op: libc::c_int,
        fd: RawFd,
        token: u64,
        events: u32,
    ) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) })?;
        match op {
            libc::EPOLL_CTL_ADD => {
                self.watched += 1;
                if self.buf.len() < self.watched {
                    self.buf
                        .resize(self.watched, libc::epoll_event { events: 0, u64: 0 });
                }
            }
            libc::EPOLL_CTL_DEL => self.watched = self.watched.saturating_sub(1),
            _ => {}
        }
        Ok(())
    }
}

impl Waiter for EpollWaiter {
    fn add(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let m = self.mask(interest);
        self.ctl_raw(libc::EPOLL_CTL_ADD, fd, token, m)
    }

    fn modify(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let m = self.mask(interest);
        self.ctl_raw(libc::EPOLL_CTL_MOD, fd, token, m)
    }

    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        self.ctl_raw(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn wait(&mut self, ready: &mut [Event], timeout: Option<Duration>) -> io::Result<usize> {
        let max = ready.len().min(self.buf.len()).max(1);
        if self.buf.is_empty() {
            // Nothing watched yet: still honour the timeout with a real wait.
            self.buf.push(libc::epoll_event { events: 0, u64: 0 });
        }
        let n = loop {
            // SAFETY: buf holds at least `max` events.
            let r = unsafe {
                libc::epoll_wait(
                    self.epfd.as_raw_fd(),
                    self.buf.as_mut_ptr(),
                    max as i32,
                    timeout_ms(timeout),
                )
            };
            match cvt(r) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r? as usize,
            }
        };
        for (out, ev) in ready.iter_mut().zip(&self.buf[..n]) {
            let bits = ev.events as i32;
            *out = Event {
                token: ev.u64,
                readable: bits & libc::EPOLLIN != 0,
                writable: bits & libc::EPOLLOUT != 0,
                hangup: bits & (libc::EPOLLHUP | libc::EPOLLRDHUP) != 0,
                error: bits & libc::EPOLLERR != 0,
            };
        }
        Ok(n)
    }
}
