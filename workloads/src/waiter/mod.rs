//! Wait modes: how a task waits for a channel. A [`Waiter`] watches fds for readiness
//! and hands back the tokens of the ready ones; `WaitMode::Block` has no waiter — the
//! task blocks in the channel's own `consume`.
use std::{fmt, io, os::fd::RawFd, str::FromStr, time::Duration};

mod epoll;
mod poll;
mod select;

pub use epoll::EpollWaiter;
pub use poll::PollWaiter;
pub use select::SelectWaiter;

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
    /// epoll(7), level-triggered.
    Epoll,
    /// epoll(7) with EPOLLET.
    EpollEt,
    /// poll(2).
    Poll,
    /// select(2) (fds below FD_SETSIZE only).
    Select,
    /// The emulated kevent queue: kevent_get_events.
    Kevent,
    /// The emulated kevent queue with its ring: kevent_wait + kevent_commit.
    KeventRing,
}

impl WaitMode {
    /// Every wait mode, in the order reports list them.
    pub const ALL: &'static [WaitMode] = &[
        WaitMode::Block,
        WaitMode::Epoll,
        WaitMode::EpollEt,
        WaitMode::Poll,
        WaitMode::Select,
        WaitMode::Kevent,
        WaitMode::KeventRing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaitMode::Block => "block",
            WaitMode::Epoll => "epoll",
            WaitMode::EpollEt => "epoll-et",
            WaitMode::Poll => "poll",
            WaitMode::Select => "select",
            WaitMode::Kevent => "kevent",
            WaitMode::KeventRing => "kevent-ring",
        }
    }

    /// One line for `evbench list` and `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            WaitMode::Block => "blocking read(2) on the channel itself",
            WaitMode::Epoll => "epoll_wait(2), level-triggered",
            WaitMode::EpollEt => "epoll_wait(2), edge-triggered (EPOLLET)",
            WaitMode::Poll => "poll(2) over the watched fds",
            WaitMode::Select => "select(2); fds must be below FD_SETSIZE (1024)",
            WaitMode::Kevent => "emulated kevent (2006 proposal): kevent_get_events",
            WaitMode::KeventRing => {
                "emulated kevent with its shared ring: kevent_wait + kevent_commit"
            }
        }
    }

    /// fds the mode's waiter holds open (for RLIMIT_NOFILE sizing): an epoll instance
    /// (epoll_create1), the emulated kevent queue's epoll instance and eventfd
    /// (kevent/queue.rs); poll, select and block none.
    pub fn fds_held(self) -> usize {
        match self {
            WaitMode::Epoll | WaitMode::EpollEt => 1,
            WaitMode::Kevent | WaitMode::KeventRing => 2,
            WaitMode::Block | WaitMode::Poll | WaitMode::Select => 0,
        }
    }

    /// True when the mode reports a readiness change once (the reader must drain).
    pub fn edge_triggered(self) -> bool {
        matches!(self, WaitMode::EpollEt)
    }

    /// The waiter for this mode; `None` for `Block`, which needs none.
    pub fn open(self) -> io::Result<Option<Box<dyn Waiter>>> {
        Ok(Some(match self {
            WaitMode::Block => return Ok(None),
            WaitMode::Epoll => Box::new(EpollWaiter::new(false)?),
            WaitMode::EpollEt => Box::new(EpollWaiter::new(true)?),
            WaitMode::Poll => Box::new(PollWaiter::new()),
            WaitMode::Select => Box::new(SelectWaiter::new()),
            WaitMode::Kevent => crate::kevent::open_waiter(false)?,
            WaitMode::KeventRing => crate::kevent::open_waiter(true)?,
        }))
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

/// A wait timeout in poll/epoll's milliseconds: `None` is -1 (no limit), and a non-zero
/// duration rounds up so a sub-millisecond timeout still sleeps instead of spinning.
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

impl serde::Serialize for WaitMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
