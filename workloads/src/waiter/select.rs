use std::{collections::BTreeMap, io, os::fd::RawFd, time::Duration};

use super::{Event, Interest, Waiter};
use crate::sys::cvt;

/// select(2). fd_set has room for fds below FD_SETSIZE only: larger fds are refused.
#[derive(Default)]
pub struct SelectWaiter {
    /// fd → (token, interest), ordered so the scan follows fd order.
    watched: BTreeMap<RawFd, (u64, Interest)>,
    cursor: RawFd,
}

impl SelectWaiter {
    pub fn new() -> Self {
        Self::default()
    }
}

fn check_fd(fd: RawFd) -> io::Result<()> {
    if fd < 0 || fd >= libc::FD_SETSIZE as RawFd {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "select(2) cannot watch fd {fd}: fd_set holds fds below FD_SETSIZE ({}); use --wait poll or epoll",
                libc::FD_SETSIZE
            ),
        ));
    }
    Ok(())
}

impl Waiter for SelectWaiter {
    fn add(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_fd(fd)?;
        if self.watched.contains_key(&fd) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        self.watched.insert(fd, (token, interest));
        Ok(())
    }

    fn modify(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let slot = self
            .watched
            .get_mut(&fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        *slot = (token, interest);
        Ok(())
    }

    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        self.watched
            .remove(&fd)
            .map(|_| ())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn wait(&mut self, ready: &mut [Event], timeout: Option<Duration>) -> io::Result<usize> {
        // SAFETY: fd_set is plain data; FD_* stay in bounds because check_fd ran on add.
        unsafe {
            let mut rd: libc::fd_set = std::mem::zeroed();
            let mut wr: libc::fd_set = std::mem::zeroed();
            let mut max = -1;
            for (&fd, &(_, i)) in &self.watched {
                if i.readable {
                    libc::FD_SET(fd, &mut rd);
                }
                if i.writable {
                    libc::FD_SET(fd, &mut wr);
                }
                max = max.max(fd);
            }
            let mut tv = timeout.map(|d| libc::timeval {
                tv_sec: d.as_secs() as libc::time_t,
                tv_usec: d.subsec_micros() as libc::suseconds_t,
            });
            let tvp = tv.as_mut().map_or(std::ptr::null_mut(), |t| t as *mut _);
            let n = cvt(libc::select(
                max + 1,
                &mut rd,
                &mut wr,
                std::ptr::null_mut(),
                tvp,
            ));
            match n {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
                r => r?,
            };
            let mut out = 0;
            // Resume after the last reported fd so low fds cannot starve high ones.
            let order = self
                .watched
                .range(self.cursor..)
                .chain(self.watched.range(..self.cursor));
            for (&fd, &(token, _)) in order {
                if out == ready.len() {
                    break;
                }
                let r = libc::FD_ISSET(fd, &rd);
                let w = libc::FD_ISSET(fd, &wr);
                if r || w {
                    ready[out] = Event {
                        token,
                        readable: r,
                        writable: w,
                        hangup: false,
                        error: false,
                    };
                    out += 1;
                    self.cursor = fd + 1;
                }
            }
            Ok(out)
        }
    }
}
