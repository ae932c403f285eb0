//! EFD_MASK on an unpatched kernel: pollable mask fds.
//!
//! Martin Sustrik's `EFD_MASK` eventfd patch (never merged) gives user space an fd whose
//! poll/select/epoll readiness is exactly a mask it chooses: write a packed
//! `struct efd_mask { u32 events; u64 data }` (12 bytes) to set it, read it back, poll on
//! it. A plain eventfd cannot signal POLLPRI or POLLHUP, nor "neither readable nor
//! writable". This module provides those semantics today with two backends behind one
//! API, [`MaskFd`]:
//!
//! - [`Backend::Fuse`]: the exact contract on a real fd. A tiny FUSE filesystem served
//!   by a thread of this process (see [`FuseServer`]) exposes one file per mask; the fd
//!   is an ordinary open of that file. `write(2)` of a 12-byte [`Mask`] sets the mask
//!   (events outside [`VALID_EVENTS`] or 1 to 11 bytes: `EINVAL`; a longer buffer:
//!   the first 12 bytes count and 12 is returned, as in the patch), `read(2)` with a
//!   buffer of at least 12 bytes returns the last mask written (initially events 0,
//!   data 0) every time, and
//!   poll/select/epoll report exactly the events in the mask — all 32 combinations —
//!   with sleeping pollers woken by every change. The mount is detached (it never
//!   appears in the mount table). See "Lifetime" and "What FUSE cannot emulate" below.
//! - [`Backend::Socketpair`]: a fast approximation on an AF_UNIX socketpair that can
//!   represent only some masks and transitions (see [`socketpair`]); a request it
//!   cannot represent is an error, never silently wrong.
//!
//! [`MaskFd::set`] and [`MaskFd::get`] are the in-process fast path (no FUSE round trip
//! to set a mask; one notification write when a poller is waiting). `read(2)`/`write(2)`
//! on [`MaskFd::as_raw_fd`] are the patch's own interface (FUSE backend only) and work
//! from any process the fd reaches.
//!
//! [`channel::MaskChannel`] turns a mask fd into a [`crate::Channel`] (signal = POLLIN
//! with a message count in `data`).
//!
//! # Lifetime (FUSE backend)
//!
//! As with the patch's eventfd, a mask's state (its mask and its pollers) lives until
//! the last reference to its open file description goes, whoever holds it: the creating
//! [`MaskFd`], a `dup`, a copy passed with `SCM_RIGHTS` or inherited by a child. The
//! server drops the state when the kernel sends FUSE `RELEASE` for it. Dropping a
//! `MaskFd` (and even the last [`FuseServer`] handle) while another process still holds
//! the fd leaves that process a working mask: reads return the last mask, writes set
//! it and wake its pollers; the server thread keeps serving until that last release,
//! then ends with its connection.
//!
//! Limit: the state lives in the creating process. When that process exits or is
//! killed, every mask it served ends with it: holders elsewhere get `POLLERR` from
//! poll/select/epoll at once (sleeping pollers are woken) and `ENOTCONN` from
//! `read(2)`/`write(2)`. This holds whatever the creator forked: the server's own
//! `/dev/fuse` and mount fds are close-on-exec and are closed in every forked child by
//! a `pthread_atfork` handler, so no copy can keep the connection open (and with it
//! every holder hung) after the creator is gone. A child made by a raw `clone(2)`
//! without `CLONE_FILES` skips that handler and must exec or exit before the creator
//! dies. Neither exit nor SIGKILL of the creator can leave a holder hung; the
//! creator's own exit never waits on its server (see [`fuse`]).
//!
//! # What FUSE cannot emulate
//!
//! - A zero-length `read(2)`/`write(2)` returns 0: the kernel's FUSE layer answers it
//!   without asking the server, where the patch returns `EINVAL`.
//! - `/proc/<pid>/fdinfo/<fd>` has no `eventfd-mask: <events>` line (the patch's
//!   `eventfd_show_fdinfo`); it shows the generic lines of a FUSE file. Read the mask
//!   with `read(2)` instead.
//! - The fd is a FUSE file, not an `[eventfd]` anon inode: `readlink` of
//!   `/proc/<pid>/fd/<fd>` gives `/<inode>`, a file of the detached mount.
//!
//! Cost (example `efd_mask_cost`: ping-pong round trips, level-triggered epoll, two
//! runs of 10,000 and 20,000 on a loaded 2-vCPU VM, so only the order of magnitude
//! matters; the FUSE server thread is not pinned): both tasks on one CPU, eventfd 6 µs,
//! FUSE mask fd 31–77 µs, socketpair 22–27 µs; on two CPUs, eventfd 32–35 µs, FUSE
//! 60–70 µs, socketpair 45–53 µs. Each FUSE wakeup costs one notification write plus
//! about two POLL round trips to the server thread; `set()` with nobody waiting costs
//! 15–22 ns on either backend.
use std::{
    fmt, io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    sync::Arc,
};

pub mod channel;
mod fork;
pub mod fuse;
pub mod socketpair;

pub use channel::MaskChannel;
pub use fuse::{cleanup_stale_mounts, FuseServer, MountMethod};
pub use socketpair::SocketpairMask;

/// `POLLIN` as the mask's `events` field spells it.
pub const POLLIN: u32 = libc::POLLIN as u32;
/// `POLLPRI`.
pub const POLLPRI: u32 = libc::POLLPRI as u32;
/// `POLLOUT`.
pub const POLLOUT: u32 = libc::POLLOUT as u32;
/// `POLLERR`.
pub const POLLERR: u32 = libc::POLLERR as u32;
/// `POLLHUP`.
pub const POLLHUP: u32 = libc::POLLHUP as u32;
/// The events a mask may hold (the patch's `EFD_MASK_VALID_EVENTS`); any other bit is
/// rejected with `EINVAL`.
pub const VALID_EVENTS: u32 = POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP;
/// Size of the packed `struct efd_mask` on the wire.
pub const MASK_SIZE: usize = 12;

/// The patch's `struct efd_mask { __u32 events; __u64 data; } __packed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mask {
    /// Poll events the fd signals (a subset of [`VALID_EVENTS`]).
    pub events: u32,
    /// Opaque user data, stored and returned as is.
    pub data: u64,
}

impl Mask {
    /// A mask; does not check `events` (see [`Mask::validate`]).
    pub const fn new(events: u32, data: u64) -> Self {
        Mask { events, data }
    }

    /// The packed 12-byte wire form (native endianness, as the kernel struct).
    pub fn to_bytes(self) -> [u8; MASK_SIZE] {
        let mut b = [0u8; MASK_SIZE];
        b[..4].copy_from_slice(&self.events.to_ne_bytes());
        b[4..].copy_from_slice(&self.data.to_ne_bytes());
        b
    }

    /// Parses the first 12 bytes of `buf`, as the patch's `write` does; `EINVAL` when
    /// `buf` is shorter or the events hold a bit outside [`VALID_EVENTS`].
    pub fn from_bytes(buf: &[u8]) -> io::Result<Self> {
        if buf.len() < MASK_SIZE {
            return Err(einval(format!(
                "efd_mask needs {MASK_SIZE} bytes, got {}",
                buf.len()
            )));
        }
        let mut e = [0u8; 4];
        let mut d = [0u8; 8];
        e.copy_from_slice(&buf[..4]);
        d.copy_from_slice(&buf[4..MASK_SIZE]);
        let m = Mask::new(u32::from_ne_bytes(e), u64::from_ne_bytes(d));
        m.validate()?;
        Ok(m)
    }

    /// `EINVAL` when `events` holds a bit outside [`VALID_EVENTS`].
    pub fn validate(self) -> io::Result<()> {
        if self.events & !VALID_EVENTS != 0 {
            return Err(einval(format!(
                "events {:#x} hold bits outside POLLIN|POLLPRI|POLLOUT|POLLERR|POLLHUP ({:#x})",
                self.events, VALID_EVENTS
            )));
        }
        Ok(())
    }
}

/// `EINVAL` carrying a message (`raw_os_error()` stays `EINVAL`-like through `kind`).
pub(crate) fn einval(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Which implementation backs a [`MaskFd`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Exact contract: a file of a FUSE filesystem served by a thread of this process.
    Fuse,
    /// Approximation on an AF_UNIX socketpair (a subset of masks; see [`socketpair`]).
    Socketpair,
}

impl Backend {
    /// Both backends, in the order reports list them.
    pub const ALL: &'static [Backend] = &[Backend::Fuse, Backend::Socketpair];

    /// The word used in mechanism names (`efd-mask-fuse`, `efd-mask-socketpair`).
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Fuse => "fuse",
            Backend::Socketpair => "socketpair",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Inner {
    Fuse(fuse::FuseMask),
    Socketpair(SocketpairMask),
}

pub(crate) fn fork_generation() -> u64 {
    fork::generation()
}

/// A pollable fd whose readiness is a mask chosen by the program (EFD_MASK semantics).
///
/// `set`, `get` and `update` may be called from any thread of the owning process; each
/// is atomic with respect to the others. The fd is close-on-exec. In a child forked
/// after creation, the FUSE backend's `set`/`get` go through `write(2)`/`read(2)` on the
/// fd (served by the parent's server thread; `ENOTCONN` once the parent is gone) and
/// `update` fails; the socketpair backend fails (its state lives in the parent). A
/// child's own `MaskFd::new` starts a server of the child's. Dropping a FUSE `MaskFd`
/// waits for one server round trip (so that [`FuseServer::mask_count`] is exact); the
/// mask's state outlives the drop while its fd is held elsewhere (module docs,
/// "Lifetime").
pub struct MaskFd {
    inner: Inner,
    fork_gen: u64,
}

impl MaskFd {
    /// A new mask fd, initially events 0, data 0.
    ///
    /// `Backend::Fuse` shares the process-wide server ([`FuseServer::shared`]), starting
    /// it on first use; use [`MaskFd::with_server`] to choose the server.
    pub fn new(backend: Backend) -> io::Result<Self> {
        match backend {
            Backend::Fuse => Self::with_server(&FuseServer::shared()?),
            Backend::Socketpair => Ok(MaskFd {
                fork_gen: fork_generation(),
                inner: Inner::Socketpair(SocketpairMask::new()?),
            }),
        }
    }

    /// A new FUSE-backed mask fd served by `server`.
    pub fn with_server(server: &Arc<FuseServer>) -> io::Result<Self> {
        Ok(MaskFd {
            fork_gen: fork_generation(),
            inner: Inner::Fuse(server.open_mask()?),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Fuse(_) => Backend::Fuse,
            Inner::Socketpair(_) => Backend::Socketpair,
        }
    }

    /// Sets the mask: pollers see exactly `events` from now on, and sleeping pollers
    /// waiting for any of them are woken. `InvalidInput` for bits outside
    /// [`VALID_EVENTS`]; `Unsupported` when the backend cannot represent the mask or the
    /// transition (socketpair), in which case nothing changed.
    pub fn set(&self, events: u32, data: u64) -> io::Result<()> {
        let mask = Mask::new(events, data);
        if self.forked() {
            if let Inner::Fuse(_) = self.inner {
                mask.validate()?;
                return match crate::sys::write(self.as_raw_fd(), &mask.to_bytes())? {
                    MASK_SIZE => Ok(()),
                    n => Err(io::Error::other(format!("mask write took {n} bytes"))),
                };
            }
        }
        self.update(|_| mask).map(|_| ())
    }

    /// The last mask set (through `set`, `update` or `write(2)` on the fd).
    pub fn get(&self) -> io::Result<Mask> {
        self.check_owner()?;
        if self.forked() {
            // Fuse only (check_owner refused socketpair): ask the server.
            let mut b = [0u8; MASK_SIZE];
            let n = crate::sys::read(self.as_raw_fd(), &mut b)?;
            return Mask::from_bytes(&b[..n]);
        }
        Ok(match &self.inner {
            Inner::Fuse(m) => m.get(),
            Inner::Socketpair(m) => m.get(),
        })
    }

    /// True in a child forked after this fd was created.
    fn forked(&self) -> bool {
        // Creation called fork_generation(), so the handlers count forks.
        fork::current() != self.fork_gen
    }

    /// Refuses calls whose state lives in another process.
    fn check_owner(&self) -> io::Result<()> {
        if self.forked() && matches!(self.inner, Inner::Socketpair(_)) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "socketpair mask fd used in a forked child: its mask state lives in the parent",
            ));
        }
        Ok(())
    }

    /// Atomic read-modify-write: `f` receives the current mask and returns the new one,
    /// with no other `set`/`update`/`write(2)` in between. Returns the previous mask.
    /// Errors as [`MaskFd::set`]; on error the mask is unchanged.
    pub fn update(&self, f: impl FnOnce(Mask) -> Mask) -> io::Result<Mask> {
        if self.forked() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "MaskFd::update in a forked child: the mask state lives in the parent",
            ));
        }
        match &self.inner {
            Inner::Fuse(m) => m.update(f),
            Inner::Socketpair(m) => m.update(f),
        }
    }

    /// Thread id of the FUSE server thread that answers this fd's requests (the probe
    /// target that shows the mechanism's server-side cost); `None` for socketpair.
    pub fn server_tid(&self) -> Option<u32> {
        match &self.inner {
            Inner::Fuse(m) => Some(m.server().tid()),
            Inner::Socketpair(_) => None,
        }
    }

    /// The socketpair backend's details (fill size, send buffer), if this is one.
    pub fn socketpair(&self) -> Option<&SocketpairMask> {
        match &self.inner {
            Inner::Fuse(_) => None,
            Inner::Socketpair(m) => Some(m),
        }
    }

    /// The FUSE server behind this fd, if any.
    pub fn fuse_server(&self) -> Option<&Arc<FuseServer>> {
        match &self.inner {
            Inner::Fuse(m) => Some(m.server()),
            Inner::Socketpair(_) => None,
        }
    }
}

impl AsRawFd for MaskFd {
    fn as_raw_fd(&self) -> RawFd {
        match &self.inner {
            Inner::Fuse(m) => m.as_raw_fd(),
            Inner::Socketpair(m) => m.as_raw_fd(),
        }
    }
}

impl AsFd for MaskFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Fuse(m) => m.as_fd(),
            Inner::Socketpair(m) => m.as_fd(),
        }
    }
}

impl fmt::Debug for MaskFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskFd")
            .field("backend", &self.backend())
            .field("fd", &self.as_raw_fd())
            .field("mask", &self.get().ok())
            .finish()
    }
}
