use std::{collections::HashMap, io, os::fd::RawFd, time::Duration};

use super::{timeout_ms, Event, Interest, Waiter};
use crate::sys::cvt;

fn poll_events(interest: Interest) -> i16 {
    (if interest.readable { libc::POLLIN } else { 0 })
        | (if interest.writable { libc::POLLOUT } else { 0 })
}

/// poll(2) over the watched set (level-triggered).
#[derive(Default)]
pub struct PollWaiter {
    fds: Vec<libc::pollfd>,
    tokens: Vec<u64>,
    index: HashMap<RawFd, usize>,
    /// Where the next scan starts, so fds early in the set cannot starve later ones
    /// when more are ready than the caller's buffer holds.
    cursor: usize,
}

impl PollWaiter {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Waiter for PollWaiter {
    fn add(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        if self.index.contains_key(&fd) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        self.index.insert(fd, self.fds.len());
        self.fds.push(libc::pollfd {
            fd,
            events: poll_events(interest),
            revents: 0,
        });
        self.tokens.push(token);
        Ok(())
    }

    fn modify(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let &i = self
            .index
            .get(&fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        self.fds[i].events = poll_events(interest);
        self.tokens[i] = token;
        Ok(())
    }

    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        let i = self
            .index
            .remove(&fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        self.fds.swap_remove(i);
        self.tokens.swap_remove(i);
        if let Some(moved) = self.fds.get(i) {
            self.index.insert(moved.fd, i);
        }
        Ok(())
    }

    fn wait(&mut self, ready: &mut [Event], timeout: Option<Duration>) -> io::Result<usize> {
        let mut n = loop {
            // SAFETY: fds is a valid array of fds.len() pollfds.
            let r = unsafe {
                libc::poll(
                    self.fds.as_mut_ptr(),
                    self.fds.len() as libc::nfds_t,
                    timeout_ms(timeout),
                )
            };
            match cvt(r) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r? as usize,
            }
        };
        let mut out = 0;
        let len = self.fds.len();
        // The set may have shrunk since the last scan (remove): wrap to the start.
        let mut i = if self.cursor < len { self.cursor } else { 0 };
        for _ in 0..len {
            if n == 0 || out == ready.len() {
                break;
            }
            let p = &self.fds[i];
            if p.revents != 0 {
                n -= 1;
                ready[out] = Event {
                    token: self.tokens[i],
                    readable: p.revents & libc::POLLIN != 0,
                    writable: p.revents & libc::POLLOUT != 0,
                    hangup: p.revents & libc::POLLHUP != 0,
                    error: p.revents & (libc::POLLERR | libc::POLLNVAL) != 0,
                };
                out += 1;
            }
            i = if i + 1 == len { 0 } else { i + 1 };
        }
        self.cursor = i;
        Ok(out)
    }
}
