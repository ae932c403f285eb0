use std::{
    io,
    os::fd::{AsRawFd, OwnedFd, RawFd},
};

use super::Channel;
use crate::sys;

/// A pipe carrying one byte per message (pipetest-4's channel).
pub struct PipeChannel {
    read: OwnedFd,
    write: OwnedFd,
}

impl PipeChannel {
    pub fn new(nonblocking: bool) -> io::Result<Self> {
        let (read, write) = sys::pipe(nonblocking)?;
        Ok(Self { read, write })
    }
}

impl Channel for PipeChannel {
    fn wait_fd(&self) -> Option<RawFd> {
        Some(self.read.as_raw_fd())
    }

    fn signal(&self) -> io::Result<()> {
        match sys::write(self.write.as_raw_fd(), b"e")? {
            1 => Ok(()),
            n => Err(io::Error::other(format!(
                "pipe write wrote {n} bytes, not 1"
            ))),
        }
    }

    fn consume(&self) -> io::Result<u64> {
        // One byte per call, as pipetest-4 reads: each message is one read.
        let mut b = [0u8; 1];
        match sys::read(self.read.as_raw_fd(), &mut b) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "pipe closed by its writer",
            )),
            Ok(n) => Ok(n as u64),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}
