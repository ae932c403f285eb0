//! Mechanisms: what signals. A [`Channel`] carries messages one way between tasks; a
//! workload builds its topology out of channels and never needs to know which
//! mechanism is behind them.
use crate::efd_mask::MaskChannel;
use std::{fmt, io, os::fd::RawFd, str::FromStr};

mod eventfd;
mod futex;
mod pipe;

pub use eventfd::EventfdChannel;
pub use futex::FutexChannel;
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
    /// eventfd(2): a message adds 1 to the counter; a read takes the whole count.
    Eventfd,
    /// eventfd(2) with EFD_SEMAPHORE: a read takes exactly one message.
    EventfdSem,
    /// FUTEX_WAIT / FUTEX_WAKE on a shared counter word: no fd, blocking wait only.
    Futex,
    /// The EFD_MASK emulation on a FUSE mask fd (exact contract; see `efd_mask`):
    /// signal sets POLLIN with a message count in `data`, consume clears it.
    EfdMaskFuse,
    /// The EFD_MASK emulation on an AF_UNIX socketpair (the fast approximation).
    EfdMaskSocketpair,
}

/// How [`Mechanism::open_with`] opens a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// `consume` returns `Ok(0)` instead of blocking when nothing is pending (needed by
    /// every wait mode but `block`, and by pipetest's single-threaded loop).
    pub nonblocking: bool,
    /// The channel is shared by processes forked after it is opened. fd mechanisms are
    /// shared by fork anyway; futex then puts its word in a `MAP_SHARED` mapping and
    /// uses the non-private futex ops.
    pub cross_process: bool,
}

impl Mechanism {
    /// Every mechanism, in the order reports list them.
    pub const ALL: &'static [Mechanism] = &[
        Mechanism::Pipe,
        Mechanism::Eventfd,
        Mechanism::EventfdSem,
        Mechanism::Futex,
        Mechanism::EfdMaskFuse,
        Mechanism::EfdMaskSocketpair,
    ];

    /// The word used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Eventfd => "eventfd",
            Mechanism::EventfdSem => "eventfd-sem",
            Mechanism::Futex => "futex",
            Mechanism::EfdMaskFuse => "efd-mask-fuse",
            Mechanism::EfdMaskSocketpair => "efd-mask-socketpair",
        }
    }

    /// One line for `evbench list` and `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe(2); a message is one byte",
            Mechanism::Eventfd => "eventfd(2); a message adds 1, a read takes the whole count",
            Mechanism::EventfdSem => "eventfd(2) with EFD_SEMAPHORE; a read takes one message",
            Mechanism::Futex => {
                "FUTEX_WAIT/FUTEX_WAKE on a shared word; no fd, so --wait block only"
            }
            Mechanism::EfdMaskFuse => {
                "EFD_MASK emulated on a FUSE mask fd (set POLLIN + count); threads only"
            }
            Mechanism::EfdMaskSocketpair => {
                "EFD_MASK approximated on an AF_UNIX socketpair; threads only"
            }
        }
    }

    /// True when the channel has an fd a waiter can watch (every wait mode but `block`
    /// needs one).
    pub fn has_fd(self) -> bool {
        !matches!(self, Mechanism::Futex)
    }

    /// True when channels can be shared by forked processes (the mask fds' state lives
    /// in this process's server or socket pair, so they cannot).
    pub fn cross_process(self) -> bool {
        !matches!(self, Mechanism::EfdMaskFuse | Mechanism::EfdMaskSocketpair)
    }

    /// Threads outside the workload's tasks that do this mechanism's work while its
    /// channels are open (the FUSE server behind efd-mask-fuse): workloads report them
    /// to their observer, so probes show what the mechanism really costs.
    pub fn helper_tasks(self) -> Vec<crate::TaskInfo> {
        match self {
            Mechanism::EfdMaskFuse => crate::efd_mask::FuseServer::shared_tid()
                .map(|tid| crate::TaskInfo {
                    tid,
                    index: u32::MAX,
                    role: "fuse-server",
                })
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// fds one channel holds open (for RLIMIT_NOFILE sizing).
    pub fn fds_per_channel(self) -> usize {
        match self {
            Mechanism::Pipe => 2,
            Mechanism::Eventfd | Mechanism::EventfdSem => 1,
            Mechanism::Futex => 0,
            Mechanism::EfdMaskFuse => 1,
            Mechanism::EfdMaskSocketpair => 2,
        }
    }

    /// fds the mechanism holds once per process beside its channels' (for RLIMIT_NOFILE
    /// and FD_SETSIZE sizing): the FUSE server's /dev/fuse and mount fds behind
    /// efd-mask-fuse (efd_mask/fuse.rs), none for the others.
    pub fn shared_fds(self) -> usize {
        match self {
            Mechanism::EfdMaskFuse => 2,
            _ => 0,
        }
    }

    /// Opens one channel for threads of this process. Its fds are close-on-exec and
    /// survive fork.
    pub fn open(self, nonblocking: bool) -> io::Result<Box<dyn Channel>> {
        self.open_with(OpenOptions {
            nonblocking,
            cross_process: false,
        })
    }

    /// Opens one channel with explicit options.
    pub fn open_with(self, opts: OpenOptions) -> io::Result<Box<dyn Channel>> {
        Ok(match self {
            Mechanism::Pipe => Box::new(PipeChannel::new(opts.nonblocking)?),
            Mechanism::Eventfd => Box::new(EventfdChannel::new(opts.nonblocking, false)?),
            Mechanism::EventfdSem => Box::new(EventfdChannel::new(opts.nonblocking, true)?),
            Mechanism::Futex => Box::new(FutexChannel::new(opts.nonblocking, opts.cross_process)?),
            Mechanism::EfdMaskFuse | Mechanism::EfdMaskSocketpair if opts.cross_process => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("--mechanism {self} works between threads of one process only"),
                ))
            }
            Mechanism::EfdMaskFuse => Box::new(MaskChannel::fuse(opts.nonblocking)?),
            Mechanism::EfdMaskSocketpair => Box::new(MaskChannel::socketpair(opts.nonblocking)?),
        })
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

impl serde::Serialize for Mechanism {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
