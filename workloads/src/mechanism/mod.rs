//! Mechanisms: what signals. A [`Channel`] carries messages one way between tasks; a
//! workload builds its topology out of channels and never needs to know which
//! mechanism is behind them.
use std::{fmt, io, os::fd::RawFd, str::FromStr};

mod pipe;

pub use pipe::PipeChannel;

/// One-way message channel between tasks.
///
/// Messages are counted, not merged: `consume` returns how many messages it took, so a
/// mechanism that coalesces (an eventfd counter) still accounts for every message.
pub trait Channel: Send + Sync {
    /// The fd that becomes readable while a message is pending, for wait modes that
    /// watch fds; `None` for mechanisms without one (futex), which only block.
    fn wait_fd(&self) -> Option<RawFd>;
    /// Posts one message.
    fn signal(&self) -> io::Result<()>;
    /// Takes the pending messages and returns how many. A non-blocking channel returns
    /// `Ok(0)` when none is pending; a blocking one waits for at least one.
    fn consume(&self) -> io::Result<u64>;
}

/// What signals (`--mechanism`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// pipe(2): one byte per message.
    Pipe,
}

impl Mechanism {
    /// Every mechanism, in the order reports list them.
    pub const ALL: &'static [Mechanism] = &[Mechanism::Pipe];

    /// The word used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
        }
    }

    /// One line for `evbench list` and `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe(2); a message is one byte",
        }
    }

    /// Opens one channel. Its fds are close-on-exec and survive fork, so both threads
    /// and processes can share it.
    pub fn open(self, nonblocking: bool) -> io::Result<Box<dyn Channel>> {
        match self {
            Mechanism::Pipe => Ok(Box::new(PipeChannel::new(nonblocking)?)),
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mechanism::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Mechanism::ALL.iter().map(|m| m.as_str()).collect();
                format!("unknown mechanism '{s}' (one of: {})", names.join(", "))
            })
    }
}
