//! What a `fork(2)` without exec must not copy: the FUSE server's own fds.
//!
//! A FUSE connection is aborted when its last `/dev/fuse` fd is released (kernel
//! `fs/fuse/dev.c`, `fuse_dev_release`); only then do requests on its files fail
//! (`ENOTCONN`) and sleeping pollers wake (`POLLERR`). A child forked without exec
//! inherits the creating process's `/dev/fuse` and mount fds, so while it lives the
//! connection outlives the creator's server thread and every `poll`/`read`/`write` on a
//! mask fd, anywhere, waits for a reply that never comes (issue 15, item 6). Those fds
//! are the server's, not the child's: the child never serves the connection.
//!
//! Rule: every fd that belongs to a server (not the mask files, which a child may
//! legitimately share) is a [`PrivateFd`]. It is opened with `O_CLOEXEC` (exec drops
//! it) and recorded, under a lock that `fork(2)` also takes (`pthread_atfork` prepare
//! handler), so no fork can fall between its open and its recording; in every child,
//! the atfork child handler closes all recorded fds before `fork` returns. The copies
//! in the child's memory then know (by the fork generation) that their numbers are no
//! longer theirs and never close or use them.
//!
//! Not covered: children made by a raw `clone(2)`/`syscall(SYS_fork)` without
//! `CLONE_FILES`, which skip the `pthread_atfork` handlers; such a child must exec or
//! exit before the creator dies. `vfork`/`posix_spawn` children exec or exit by
//! contract, and exec closes the `O_CLOEXEC` fds.
use std::{
    cell::UnsafeCell,
    io,
    os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd},
    sync::{
        atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering},
        Once,
    },
};

/// Forks of this process so far, counted in each child: a value taken before a fork
/// differs from the current one in the child.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Held while private fds are opened or closed, and across `fork(2)` (prepare handler
/// to parent/child handler). A spin lock: a `std` mutex guard cannot be carried from
/// the prepare handler to the others, and the child handler must not allocate.
static LOCK: AtomicBool = AtomicBool::new(false);
/// Numbers of the private fds of this process; only touched under `LOCK`.
static PRIVATE: Private = Private(UnsafeCell::new(Vec::new()));
static INIT: Once = Once::new();
/// `pthread_atfork`'s result (0 or an errno).
static INIT_ERR: AtomicI32 = AtomicI32::new(0);

struct Private(UnsafeCell<Vec<RawFd>>);
// SAFETY: the vector is only accessed while `LOCK` is held.
unsafe impl Sync for Private {}

fn lock() {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
}

fn unlock() {
    LOCK.store(false, Ordering::Release);
}

/// Unlocks on scope exit, also when the guarded code panics.
struct Held;

impl Held {
    fn take() -> Self {
        lock();
        Held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        unlock();
    }
}

extern "C" fn prepare() {
    lock();
}

extern "C" fn parent() {
    unlock();
}

extern "C" fn child() {
    // Only the forking thread exists here; it holds LOCK since prepare().
    // SAFETY: LOCK is held; close(2) is async-signal-safe and the numbers were open
    // in the parent, so they are open (copies) here.
    unsafe {
        let fds = &mut *PRIVATE.0.get();
        for &fd in fds.iter() {
            libc::close(fd);
        }
        // Keeps the allocation: no allocator call in the child handler.
        fds.clear();
    }
    GENERATION.fetch_add(1, Ordering::Relaxed);
    unlock();
}

/// Installs the atfork handlers (once per process). Error: `pthread_atfork` failed
/// (ENOMEM); private fds cannot be kept out of children then.
pub(crate) fn install() -> io::Result<()> {
    INIT.call_once(|| {
        // SAFETY: the handlers only take/release LOCK, close fds and bump an atomic.
        let r = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        INIT_ERR.store(r, Ordering::Relaxed);
    });
    match INIT_ERR.load(Ordering::Relaxed) {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// The fork generation of this process (0 in a process that never was a forked child
/// of one that used this module); installs the handlers first.
pub(crate) fn generation() -> u64 {
    // Without handlers the generation stays 0: fork detection is off, and install()'s
    // callers that need it (server start) get the error themselves.
    let _ = install();
    GENERATION.load(Ordering::Relaxed)
}

/// The fork generation without installing the handlers: for hot paths of objects whose
/// creation called [`generation`] (so the handlers are in place).
pub(crate) fn current() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// An fd of this process's FUSE server that no forked child may keep: closed in every
/// child by the atfork handler, `O_CLOEXEC` for exec. In a child, [`PrivateFd::get`]
/// is `None` and drop does nothing (the number may name another file there).
#[derive(Debug)]
pub(crate) struct PrivateFd {
    fd: RawFd,
    generation: u64,
}

impl PrivateFd {
    /// The fd number, or `None` in a forked child (where the handler closed it).
    pub(crate) fn get(&self) -> Option<RawFd> {
        (GENERATION.load(Ordering::Relaxed) == self.generation).then_some(self.fd)
    }
}

impl Drop for PrivateFd {
    fn drop(&mut self) {
        let _held = Held::take();
        if GENERATION.load(Ordering::Relaxed) != self.generation {
            return;
        }
        // SAFETY: LOCK is held (`_held`).
        let fds = unsafe { &mut *PRIVATE.0.get() };
        if let Some(i) = fds.iter().position(|&f| f == self.fd) {
            fds.swap_remove(i);
        }
        // Closed under the lock: a fork cannot copy it after it left the list.
        // SAFETY: we own this number in this process (same generation).
        unsafe { libc::close(self.fd) };
    }
}

/// Runs `open` with forks held off and makes every fd it returns private. `open` must
/// open its fds with `O_CLOEXEC` (or the `*_CLOEXEC` flag of its syscall). Any fd it
/// opens but does not return is closed before it returns (forks are held off, so no
/// child copies it). Errors: those of `open`, or `pthread_atfork`'s.
pub(crate) fn open_private<const N: usize>(
    open: impl FnOnce() -> io::Result<[OwnedFd; N]>,
) -> io::Result<[PrivateFd; N]> {
    install()?;
    let _held = Held::take();
    let fds = open()?;
    let generation = GENERATION.load(Ordering::Relaxed);
    // SAFETY: LOCK is held (`_held`).
    let list = unsafe { &mut *PRIVATE.0.get() };
    list.reserve(N);
    Ok(fds.map(|f| {
        debug_assert!(f.as_raw_fd() >= 0);
        let fd = f.into_raw_fd();
        list.push(fd);
        PrivateFd { fd, generation }
    }))
}
