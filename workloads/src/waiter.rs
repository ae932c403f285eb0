//! Wait modes: how a task waits for a channel. A [`Waiter`] watches fds for readiness
//! and hands back the tokens of the ready ones; `WaitMode::Block` has no waiter — the
//! task blocks in the channel's own `consume`.
use std::{fmt, io, os::fd::RawFd, str::FromStr, time::Duration};

/// What a waiter watches an fd for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Interest {
    pub readable: bool,
    pub writable: bool,
}

impl Interest {
    pub const READ: Interest = Interest {
        readable: true,
        writable: false,
    };
    pub const WRITE: Interest = Interest {
        readable: false,
        writable: true,
    };
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };
}

/// One ready fd, as a waiter reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Event {
    /// The token given to [`Waiter::add`].
    pub token: u64,
    pub readable: bool,
    pub writable: bool,
    /// Peer hung up (POLLHUP / EPOLLHUP / EPOLLRDHUP).
    pub hangup: bool,
    /// Error condition (POLLERR / EPOLLERR / POLLNVAL).
    pub error: bool,
}

/// Watches fds and reports which are ready.
///
/// Every wait mode but `Block` implements it, so a workload's loop is written once and
/// the wait mode is a parameter. Whether readiness is level- or edge-triggered is a
/// property of the mode (see [`WaitMode::edge_triggered`]).
pub trait Waiter: Send {
    /// Starts watching `fd`; `token` is what `wait` reports for it.
    fn add(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()>;
    /// Changes what `fd` is watched for.
    fn modify(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()>;
    /// Stops watching `fd` (call before closing it).
    fn remove(&mut self, fd: RawFd) -> io::Result<()>;
    /// Waits until at least one watched fd is ready or `timeout` passes (`None`: no
    /// limit; `Some(ZERO)`: do not block), writes the ready fds into `ready` and returns
    /// how many (0 on timeout). Never allocates: the hot loops call it per event.
    fn wait(&mut self, ready: &mut [Event], timeout: Option<Duration>) -> io::Result<usize>;
}

/// How a task waits (`--wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaitMode {
    /// Blocking read on the channel itself.
    Block,
}

impl WaitMode {
    /// Every wait mode, in the order reports list them.
    pub const ALL: &'static [WaitMode] = &[WaitMode::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            WaitMode::Block => "block",
        }
    }

    /// One line for `evbench list` and `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            WaitMode::Block => "blocking read(2) on the channel itself",
        }
    }

    /// True when the mode reports a readiness change once (the reader must drain).
    pub fn edge_triggered(self) -> bool {
        match self {
            WaitMode::Block => false,
        }
    }

    /// The waiter for this mode; `None` for `Block`, which needs none.
    pub fn open(self) -> io::Result<Option<Box<dyn Waiter>>> {
        match self {
            WaitMode::Block => Ok(None),
        }
    }
}

impl fmt::Display for WaitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WaitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WaitMode::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = WaitMode::ALL.iter().map(|m| m.as_str()).collect();
                format!("unknown wait mode '{s}' (one of: {})", names.join(", "))
            })
    }
}
