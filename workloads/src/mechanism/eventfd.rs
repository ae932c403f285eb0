use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
};

use super::Channel;
use crate::sys;

/// An eventfd carrying messages as counter increments (eventfd-bench's channel).
///
/// Without EFD_SEMAPHORE a read returns (and clears) the whole count, so two messages
/// that meet before the reader runs come back as one read of 2: `consume` reports the
/// value, which keeps message accounting exact. With EFD_SEMAPHORE a read takes 1.
pub struct EventfdChannel {
    fd: OwnedFd,
}

impl EventfdChannel {
    pub fn new(nonblocking: bool, semaphore: bool) -> io::Result<Self> {
        let flags = libc::EFD_CLOEXEC
            | if nonblocking { libc::EFD_NONBLOCK } else { 0 }
            | if semaphore { libc::EFD_SEMAPHORE } else { 0 };
        // SAFETY: no pointers involved.
        let fd = sys::cvt(unsafe { libc::eventfd(0, flags) })?;
        // SAFETY: fresh descriptor owned from here on.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }
}

impl Channel for EventfdChannel {
    fn wait_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn signal(&self) -> io::Result<()> {
        match sys::write(self.fd.as_raw_fd(), &1u64.to_ne_bytes())? {
            8 => Ok(()),
            n => Err(io::Error::other(format!(
                "eventfd write wrote {n} bytes, not 8"
            ))),
        }
    }

    fn consume(&self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        match sys::read(self.fd.as_raw_fd(), &mut b) {
            Ok(8) => Ok(u64::from_ne_bytes(b)),
            Ok(n) => Err(io::Error::other(format!(
                "eventfd read returned {n} bytes, not 8"
            ))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}
