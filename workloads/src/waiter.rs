//! Wait modes: how a task waits for a channel. A [`Waiter`] watches fds for readability
//! and hands back the tokens of the ready ones; `WaitMode::Block` has no waiter — the
//! task blocks in the channel's own `consume`.
use std::{fmt, io, os::fd::RawFd, str::FromStr, time::Duration};

/// Watches fds and reports which are ready to read.
pub trait Waiter: Send {
    /// Watches `fd` for readability; `token` is what `wait` reports for it.
    fn add(&mut self, fd: RawFd, token: u64) -> io::Result<()>;
    /// Waits until at least one watched fd is ready or `timeout` passes (`None`: no
    /// limit; `Some(ZERO)`: do not block), writes the ready tokens into `ready` and
    /// returns how many. Never allocates.
    fn wait(&mut self, ready: &mut [u64], timeout: Option<Duration>) -> io::Result<usize>;
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
