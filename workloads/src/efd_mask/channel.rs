//! A [`Channel`] on a mask fd: the `efd-mask-fuse` and `efd-mask-socketpair`
//! mechanisms.
//!
//! signal = `update` to `{POLLIN, data + 1}`: the mask's `data` counts pending messages,
//! so two signals that meet before a consume are counted, not merged. consume = `update`
//! to `{0, 0}` and return the old `data`. Both are one [`MaskFd::update`], atomic with
//! respect to each other, so a signal racing a consume from another thread is either
//! taken by that consume or left for the next one — never lost or counted twice.
//!
//! Wiring into [`crate::Mechanism`] (left to the lead): `efd-mask-fuse` opens
//! `Box::new(MaskChannel::fuse(nonblocking)?)`, `efd-mask-socketpair` opens
//! `Box::new(MaskChannel::socketpair(nonblocking)?)`. All FUSE channels of a process
//! share one server thread; its tid, the probe target for the server-side cost, is
//! [`MaskChannel::server_tid`] or, without the channel at hand,
//! [`FuseServer::shared_tid`](super::FuseServer::shared_tid) while a channel lives.
//!
//! The count lives in the creating process: both ends must be threads of it (a call
//! from a forked child fails with `Unsupported`). The wait fd is the mask fd; it polls
//! readable exactly while a message is pending.
use std::{
    io,
    os::fd::{AsRawFd, RawFd},
};

use super::{Backend, Mask, MaskFd, POLLIN};
use crate::{sys::cvt, Channel};

/// One-way message channel on a [`MaskFd`].
#[derive(Debug)]
pub struct MaskChannel {
    fd: MaskFd,
    nonblocking: bool,
}

impl MaskChannel {
    /// A channel on a new mask fd of `backend` (FUSE: the process-wide shared server).
    /// A non-blocking channel's `consume` returns `Ok(0)` when nothing is pending; a
    /// blocking one waits in `poll(2)` on the mask fd for POLLIN.
    pub fn new(backend: Backend, nonblocking: bool) -> io::Result<Self> {
        Ok(Self::from_mask_fd(MaskFd::new(backend)?, nonblocking))
    }

    /// `efd-mask-fuse`: [`MaskChannel::new`] with [`Backend::Fuse`].
    pub fn fuse(nonblocking: bool) -> io::Result<Self> {
        Self::new(Backend::Fuse, nonblocking)
    }

    /// `efd-mask-socketpair`: [`MaskChannel::new`] with [`Backend::Socketpair`].
    pub fn socketpair(nonblocking: bool) -> io::Result<Self> {
        Self::new(Backend::Socketpair, nonblocking)
    }

    /// A channel on an existing mask fd (which should start at events 0, data 0).
    pub fn from_mask_fd(fd: MaskFd, nonblocking: bool) -> Self {
        MaskChannel { fd, nonblocking }
    }

    /// The mask fd (for its backend, its FUSE server's tid, ...).
    pub fn mask_fd(&self) -> &MaskFd {
        &self.fd
    }

    /// Thread id of the FUSE server thread, a probe target (`None` for socketpair).
    pub fn server_tid(&self) -> Option<u32> {
        self.fd.server_tid()
    }

    fn take(&self) -> io::Result<u64> {
        let prev = self
            .fd
            .update(|m| if m.data == 0 { m } else { Mask::new(0, 0) })?;
        Ok(prev.data)
    }
}

impl Channel for MaskChannel {
    fn wait_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn signal(&self) -> io::Result<()> {
        let mut overflow = false;
        self.fd.update(|m| match m.data.checked_add(1) {
            Some(n) => Mask::new(POLLIN, n),
            None => {
                overflow = true;
                m
            }
        })?;
        if overflow {
            return Err(io::Error::other("mask channel: 2^64 messages pending"));
        }
        Ok(())
    }

    fn consume(&self) -> io::Result<u64> {
        loop {
            let n = self.take()?;
            if n > 0 || self.nonblocking {
                return Ok(n);
            }
            // Level-triggered wait: a signal between `take` and here leaves POLLIN set,
            // so poll returns at once.
            let mut p = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            match cvt(unsafe { libc::poll(&mut p, 1, -1) }) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(_) if p.revents & (libc::POLLERR | libc::POLLNVAL) != 0 => {
                    return Err(io::Error::other(format!(
                        "mask channel fd reported revents {:#x}",
                        p.revents
                    )))
                }
                Ok(_) => {}
            }
        }
    }
}
