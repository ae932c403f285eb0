//! The FUSE backend: mask files served by a thread of this process.
//!
//! One [`FuseServer`] is one FUSE connection with one detached mount; every
//! [`MaskFd`](super::MaskFd) it serves is one file of it (inode = mask id). What makes it
//! safe (see `FUSE-MASKFD.md` in the shared notes for the experiments behind each rule):
//!
//! - The server thread `unshare(CLONE_FILES)`s, takes its own `/dev/fuse` fd with
//!   `FUSE_DEV_IOC_CLONE` and closes every other fd in its private table. Requests are
//!   read only through that fd, so when the process dies the thread's table goes first
//!   and the kernel ends every request it had read but not answered; no task of the
//!   dying process can wait forever on a reply (the SIGKILL hang).
//! - Application threads write poll notifications on the original `/dev/fuse` fd and
//!   never read requests from it. That fd and the mount fd are the server's alone
//!   (`fork::PrivateFd`): close-on-exec, and closed in every forked child by an atfork
//!   handler. A child's copy of either would keep the connection open after this
//!   process dies, and every holder of a mask fd would wait for replies that never come
//!   until that child exits.
//! - A mask's state lives until FUSE `RELEASE` of its last open (not until its
//!   [`MaskFd`](super::MaskFd) drops): another process may hold the same open file
//!   description. A server whose last handle is dropped while such a file is open keeps
//!   serving it; the last release drops the last reference to the detached mount,
//!   which destroys the superblock and aborts the connection, and the thread ends.
//! - Files are opened `FOPEN_DIRECT_IO | FOPEN_STREAM | FOPEN_NONSEEKABLE |
//!   FOPEN_NOFLUSH`: every read reaches the server, concurrent reads do not queue, and
//!   close never waits for a FLUSH reply (the exit hang).
//! - The POLL request is always answered with the mask, never ENOSYS (which turns every
//!   file of the mount into "always readable and writable" for good) nor an error
//!   (reported to pollers as POLLERR).
//! - The mount is detached (`fsopen`/`fsmount`): it never enters a mount table and dies
//!   with the last fd that references it. The [`MountMethod::MountThenDetach`] fallback
//!   is briefly visible; a run killed in that window leaves a stale mount that
//!   [`cleanup_stale_mounts`] removes (called at the first server start of a process).
use std::{
    collections::HashMap,
    ffi::{CString, OsStr},
    fs, io,
    mem::ManuallyDrop,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering},
        mpsc, Arc, Mutex, MutexGuard, Once, RwLock, Weak,
    },
    thread,
    time::{Duration, Instant, UNIX_EPOCH},
};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, OpenFlags, PollEvents, PollFlags, PollNotifier, ReplyAttr, ReplyData, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyPoll, ReplyStatfs, ReplyWrite, Request, Session, SessionACL,
    WriteFlags,
};

use super::{
    fork::{self, PrivateFd},
    Mask, MASK_SIZE, POLLERR, POLLHUP,
};
use crate::sys::{cvt, write};

/// Source name of our mounts: `evbench-efdmask-<pid>` names the owning process, so a
/// stale one can be told from a live one.
const SOURCE_PREFIX: &str = "evbench-efdmask-";
/// Filesystem subtype (`fuse.evbench-efdmask` in the mount table).
const SUBTYPE: &str = "evbench-efdmask";
/// `_IOR(229, 0, uint32_t)`.
const FUSE_DEV_IOC_CLONE: libc::c_ulong = 0x8004_e500;
/// `FUSE_NOTIFY_POLL`, sent in the `error` field of an unsolicited message.
const FUSE_NOTIFY_POLL: i32 = 1;
const FUSECTL_DIR: &str = "/sys/fs/fuse/connections";
/// How long start-up and teardown wait for the server before giving up / aborting.
const SERVER_TIMEOUT: Duration = Duration::from_secs(5);
const ROOT_INO: u64 = 1;
/// Attribute/entry cache time: zero, nothing about these files is worth caching.
const TTL: Duration = Duration::ZERO;

/// How the server mounts its filesystem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MountMethod {
    /// `fsopen` + `fsmount`: a mount that is never attached anywhere, so it never shows
    /// in `/proc/*/mountinfo` and cannot outlive the fds that reference it.
    #[default]
    Detached,
    /// `mount(2)` on a fresh directory, an `O_PATH` fd on its root, then
    /// `umount2(MNT_DETACH)`: for kernels without the new mount API. Killed between the
    /// mount and the detach, it leaves a stale mount ([`cleanup_stale_mounts`]).
    MountThenDetach,
}

/// One open of a mask file, as the kernel's poll handle sees it.
struct Open {
    fh: u64,
    /// The kernel's poll handle for this open (known after its first POLL).
    kh: u64,
    /// Events some poller asked for since the last notification; 0 = not armed.
    requested: u32,
}

/// State of one mask: the mask itself and who is waiting on it.
#[derive(Default)]
struct Slot {
    mask: Mask,
    opens: Vec<Open>,
}

impl Slot {
    /// Sets the mask and returns the poll handles to notify: those armed by a poller
    /// interested in one of the new events (the patch wakes with the new events as the
    /// key, so pollers interested in none of them stay asleep). They are disarmed: the
    /// woken poller re-polls and re-arms (one notification per wait, not per change).
    fn store(&mut self, mask: Mask, wake: &mut Vec<u64>) {
        self.mask = mask;
        for o in &mut self.opens {
            if o.requested & mask.events != 0 {
                o.requested = 0;
                wake.push(o.kh);
            }
        }
    }
}

/// What the application side and the server thread share: the masks, nothing else
/// (no fds: the server thread has its own fd table).
#[derive(Default)]
struct Registry {
    masks: RwLock<HashMap<u64, Arc<Mutex<Slot>>>>,
    next_fh: AtomicU64,
    server_tid: AtomicU32,
}

impl Registry {
    fn slot(&self, ino: u64) -> Option<Arc<Mutex<Slot>>> {
        read_lock(&self.masks).get(&ino).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read_lock<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

/// Writes a `FUSE_NOTIFY_POLL` for kernel poll handle `kh` on a `/dev/fuse` fd.
fn notify_poll(dev: RawFd, kh: u64) -> io::Result<()> {
    // struct fuse_out_header { u32 len; i32 error; u64 unique } + { u64 kh }
    let mut msg = [0u8; 24];
    msg[..4].copy_from_slice(&24u32.to_ne_bytes());
    msg[4..8].copy_from_slice(&FUSE_NOTIFY_POLL.to_ne_bytes());
    msg[16..].copy_from_slice(&kh.to_ne_bytes());
    match write(dev, &msg)? {
        24 => Ok(()),
        n => Err(io::Error::other(format!(
            "poll notification: wrote {n} of 24 bytes"
        ))),
    }
}

/// The filesystem the server thread runs.
struct MaskFs {
    reg: Arc<Registry>,
    /// The server thread's own `/dev/fuse` fd (in its private fd table), for the
    /// notifications a `write(2)` causes.
    dev: RawFd,
}

impl MaskFs {
    fn note_tid(&self) {
        if self.reg.server_tid.load(Ordering::Relaxed) == 0 {
            self.reg
                .server_tid
                .store(crate::observer::gettid(), Ordering::Relaxed);
        }
    }

    fn attr(ino: u64) -> FileAttr {
        let (kind, perm, nlink) = if ino == ROOT_INO {
            (FileType::Directory, 0o555, 2)
        } else {
            (FileType::RegularFile, 0o666, 1)
        };
        FileAttr {
            ino: INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind,
            perm,
            nlink,
            // SAFETY: getuid/getgid have no preconditions.
            uid: unsafe { libc::getuid() },
            gid: unsafe { libc::getgid() },
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

impl Filesystem for MaskFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.note_tid();
        let ino = name.to_str().and_then(|s| s.parse::<u64>().ok());
        match ino {
            Some(ino) if parent.0 == ROOT_INO && self.reg.slot(ino).is_some() => {
                reply.entry(&TTL, &Self::attr(ino), Generation(0))
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if ino.0 == ROOT_INO || self.reg.slot(ino.0).is_some() {
            reply.attr(&TTL, &Self::attr(ino.0))
        } else {
            reply.error(Errno::ENOENT)
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.note_tid();
        let Some(slot) = self.reg.slot(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let fh = self.reg.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&slot).opens.push(Open {
            fh,
            kh: 0,
            requested: 0,
        });
        reply.opened(
            FileHandle(fh),
            FopenFlags::FOPEN_DIRECT_IO
                | FopenFlags::FOPEN_STREAM
                | FopenFlags::FOPEN_NONSEEKABLE
                | FopenFlags::FOPEN_NOFLUSH,
        );
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(slot) = self.reg.slot(ino.0) else {
            return reply.error(Errno::EBADF);
        };
        if (size as usize) < MASK_SIZE {
            return reply.error(Errno::EINVAL);
        }
        let mask = lock(&slot).mask;
        reply.data(&mask.to_bytes());
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let Some(slot) = self.reg.slot(ino.0) else {
            return reply.error(Errno::EBADF);
        };
        let Ok(mask) = Mask::from_bytes(data) else {
            return reply.error(Errno::EINVAL);
        };
        let mut wake = Vec::new();
        lock(&slot).store(mask, &mut wake);
        // Wake pollers before the writer's write(2) returns, as the patch does.
        for kh in wake {
            if notify_poll(self.dev, kh).is_err() {
                return reply.error(Errno::EIO);
            }
        }
        reply.written(MASK_SIZE as u32);
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Not sent (FOPEN_NOFLUSH); answered anyway so a close can never wait on it.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        if let Some(slot) = self.reg.slot(ino.0) {
            let last = {
                let mut s = lock(&slot);
                s.opens.retain(|o| o.fh != fh.0);
                s.opens.is_empty()
            };
            // The last open file description of this mask, whoever held it (the
            // creating MaskFd, a dup, a copy in another process): its state ends, as an
            // eventfd's does with its last file reference.
            if last {
                write_lock(&self.reg.masks).remove(&ino.0);
            }
        }
        reply.ok();
    }

    fn poll(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        ph: PollNotifier,
        events: PollEvents,
        flags: PollFlags,
        reply: ReplyPoll,
    ) {
        let Some(slot) = self.reg.slot(ino.0) else {
            // Unreachable while the state lives as long as its opens; answered with an
            // error set rather than ENOSYS (which would poison the whole mount).
            return reply.poll(PollEvents::POLLERR | PollEvents::POLLHUP);
        };
        let revents = {
            let mut s = lock(&slot);
            if flags.contains(PollFlags::FUSE_POLL_SCHEDULE_NOTIFY) {
                if let Some(o) = s.opens.iter_mut().find(|o| o.fh == fh.0) {
                    o.kh = ph.handle().0;
                    // poll(2) always reports ERR and HUP; epoll and select ask for them.
                    o.requested |= events.bits() | POLLERR | POLLHUP;
                }
            }
            s.mask.events
        };
        // Arming and reading the mask under one lock: a change after this point finds
        // the handle armed and notifies, so no wakeup is lost.
        reply.poll(PollEvents::from_bits_retain(revents));
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.note_tid();
        reply.statfs(0, 0, 0, 0, 0, 512, 255, 0);
    }
}

/// A FUSE connection serving mask files from a thread of this process.
///
/// Dropping the last `Arc` (every [`MaskFd`](super::MaskFd) holds one) while no file of
/// it is open anywhere unmounts at once: the detached mount dies with its last fd, the
/// kernel aborts the connection and the server thread exits (joined before `drop`
/// returns). While a file is still open elsewhere (a `dup`ed fd, a copy passed to
/// another process or inherited by a child), the server thread keeps serving it, and
/// the connection ends when the last such file is released — or when this process
/// exits, which ends every mask of it.
///
/// A forked child's copy of a server is inert: its `/dev/fuse` and mount fds were
/// closed in the child by an atfork handler (see the module `fork`), so a child can
/// neither keep the connection alive nor tear it down; [`FuseServer::shared`] in a
/// child starts the child's own server.
pub struct FuseServer {
    reg: Arc<Registry>,
    /// The mount's root (an `fsmount` fd or an `O_PATH` fd on the detached root).
    mnt: Option<PrivateFd>,
    /// The original `/dev/fuse` fd: application threads write notifications on it.
    notify: Option<PrivateFd>,
    conn_id: u32,
    method: MountMethod,
    /// Fork generation at start: a copy in a forked child must not tear down (or
    /// abort) the parent's connection.
    fork_gen: u64,
    done: Mutex<Option<mpsc::Receiver<()>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for FuseServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuseServer")
            .field("tid", &self.tid())
            .field("connection_id", &self.conn_id)
            .field("method", &self.method)
            .finish()
    }
}

static SHARED: Mutex<Weak<FuseServer>> = Mutex::new(Weak::new());
static CLEANUP: Once = Once::new();

impl FuseServer {
    /// Starts a server with a [`MountMethod::Detached`] mount.
    pub fn start() -> io::Result<Arc<Self>> {
        Self::start_with(MountMethod::Detached)
    }

    /// The process-wide server: the running one if any [`MaskFd`](super::MaskFd) still
    /// holds it, else a new one. Sharing keeps one server thread for all mask fds.
    pub fn shared() -> io::Result<Arc<Self>> {
        let mut weak = lock(&SHARED);
        // In a forked child the weak reference names the parent's server (inert here).
        if let Some(s) = weak.upgrade().filter(|s| !s.is_copy()) {
            return Ok(s);
        }
        let s = Self::start()?;
        *weak = Arc::downgrade(&s);
        Ok(s)
    }

    /// Starts a server mounted with `method`. The first start of a process also removes
    /// stale mounts left by killed runs ([`cleanup_stale_mounts`]).
    pub fn start_with(method: MountMethod) -> io::Result<Arc<Self>> {
        CLEANUP.call_once(|| {
            // Best effort: a stale mount we cannot remove does not stop a new one.
            let _ = cleanup_stale_mounts();
        });
        // Both fds are the server's own: no forked child may keep a copy (it would keep
        // the connection alive after this process dies; see `fork`).
        let [notify, mnt] = fork::open_private(|| {
            // SAFETY: the path is a valid C string; the result is checked.
            let dev =
                cvt(unsafe { libc::open(c"/dev/fuse".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
            // SAFETY: open returned a fresh fd we own.
            let dev = unsafe { OwnedFd::from_raw_fd(dev) };
            let mnt = match method {
                MountMethod::Detached => mount_detached(dev.as_raw_fd())
                    .map_err(|e| context(e, "fsopen/fsmount of a FUSE fs"))?,
                MountMethod::MountThenDetach => mount_then_detach(dev.as_raw_fd())
                    .map_err(|e| context(e, "mount of a FUSE fs"))?,
            };
            Ok([dev, mnt])
        })?;
        let dev = notify.get().unwrap_or(-1);

        let reg = Arc::new(Registry {
            next_fh: AtomicU64::new(1),
            ..Registry::default()
        });
        let (ready_tx, ready_rx) = mpsc::sync_channel::<io::Result<()>>(1);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let server_reg = reg.clone();
        let thread = thread::Builder::new()
            .name("efd-mask-fuse".into())
            .spawn(move || serve(dev, server_reg, ready_tx, done_tx))?;
        let mut server = FuseServer {
            reg,
            mnt: Some(mnt),
            notify: Some(notify),
            // Known once the connection is initialised (fstat waits for INIT).
            conn_id: 0,
            method,
            fork_gen: super::fork_generation(),
            done: Mutex::new(Some(done_rx)),
            thread: Mutex::new(Some(thread)),
        };
        // On any failure below, dropping `server` unmounts and reaps the thread.
        match ready_rx.recv_timeout(SERVER_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(context(e, "FUSE server start-up")),
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "FUSE server did not complete its handshake",
                ))
            }
        }
        server.conn_id = connection_id(server.root_fd())?;
        let server = Arc::new(server);
        // One request so the serving thread is known (and reported) before any use.
        let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: st is valid to write a statfs into; the fd is ours.
        cvt(unsafe { libc::fstatfs(server.root_fd(), st.as_mut_ptr()) })?;
        let t0 = Instant::now();
        while server.tid() == 0 {
            if t0.elapsed() > SERVER_TIMEOUT {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "FUSE server thread never answered",
                ));
            }
            thread::yield_now();
        }
        Ok(server)
    }

    /// The mount root fd; -1 (`EBADF` for any use) in a forked child's copy.
    fn root_fd(&self) -> RawFd {
        self.mnt.as_ref().and_then(|m| m.get()).unwrap_or(-1)
    }

    /// True for the copy of a server a forked child inherited: it serves nothing there
    /// (the server thread lives in the parent) and its fds are closed.
    fn is_copy(&self) -> bool {
        super::fork_generation() != self.fork_gen
    }

    /// Waits until the server thread has handled every request queued so far: the
    /// kernel queues requests in order and the one serving thread answers them in order,
    /// so once a STATFS sent now is answered, a RELEASE queued by an earlier `close(2)`
    /// of this thread has been handled too.
    fn fence(&self) {
        let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: st is valid to write a statfs into. An error (connection gone, a
        // copy's fd -1) means there is nothing left to wait for.
        unsafe { libc::fstatfs(self.root_fd(), st.as_mut_ptr()) };
    }

    /// Thread id of the shared server's serving thread, if the shared server runs (it
    /// does while any `MaskFd::new(Backend::Fuse)` or `MaskChannel::fuse` lives). Does
    /// not start one.
    pub fn shared_tid() -> Option<u32> {
        lock(&SHARED)
            .upgrade()
            .filter(|s| !s.is_copy())
            .map(|s| s.tid())
    }

    /// Thread id of the thread that serves requests (the probe target for the
    /// mechanism's server-side cost).
    pub fn tid(&self) -> u32 {
        self.reg.server_tid.load(Ordering::Relaxed)
    }

    /// The connection's id under `/sys/fs/fuse/connections` (fusectl).
    pub fn connection_id(&self) -> u32 {
        self.conn_id
    }

    /// How this server mounted its filesystem.
    pub fn mount_method(&self) -> MountMethod {
        self.method
    }

    /// Number of masks whose state this server keeps: each lives from its creation until
    /// its last open file description is released (the creating [`MaskFd`](super::MaskFd)
    /// and every `dup`, inherited or passed copy of its fd share one description). Exact
    /// once the `close(2)` calls of the calling thread have been handled, which dropping
    /// a `MaskFd` waits for.
    pub fn mask_count(&self) -> usize {
        read_lock(&self.reg.masks).len()
    }

    /// Opens a new mask file (events 0, data 0). `Unsupported` on a forked child's copy
    /// of a parent's server.
    pub(crate) fn open_mask(self: &Arc<Self>) -> io::Result<FuseMask> {
        if self.is_copy() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this FUSE server belongs to the parent process; a forked child needs its own (FuseServer::start or MaskFd::new)",
            ));
        }
        // Inodes 2.. name the masks; fh numbering is shared with the server.
        static NEXT_INO: AtomicU64 = AtomicU64::new(2);
        let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Mutex::new(Slot::default()));
        write_lock(&self.reg.masks).insert(ino, slot.clone());
        let name = CString::new(ino.to_string()).map_err(io::Error::other)?;
        // SAFETY: valid dirfd and C string; the result is checked.
        let fd = unsafe {
            libc::openat(
                self.root_fd(),
                name.as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            write_lock(&self.reg.masks).remove(&ino);
            return Err(e);
        }
        Ok(FuseMask {
            // SAFETY: openat returned a fresh fd we own.
            file: ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(fd) }),
            slot,
            server: self.clone(),
        })
    }

    fn notify_fd(&self) -> RawFd {
        self.notify.as_ref().and_then(|n| n.get()).unwrap_or(-1)
    }
}

impl Drop for FuseServer {
    fn drop(&mut self) {
        if self.is_copy() {
            // A forked child's copy: the atfork handler closed its fds (the PrivateFds
            // know it); the server thread and the connection belong to the parent.
            return;
        }
        // Masks released by this thread's last close(2) calls are gone once the server
        // has handled what is queued.
        self.fence();
        if self.mask_count() > 0 {
            // A file of this mount is still open somewhere (a dup, another process, a
            // forked child): its mask lives on. Close our fds and leave the server
            // thread serving it: the last release of a file drops the last reference to
            // the detached mount, which destroys the superblock and aborts the
            // connection (kernel `fuse_conn_destroy`), and the thread then ends by
            // itself. This process's exit ends it too.
            drop(self.mnt.take());
            drop(self.notify.take());
            drop(lock(&self.thread).take());
            return;
        }
        // Closing the last reference to the detached mount destroys the superblock,
        // which aborts the connection; the server's read then fails with ENODEV.
        drop(self.mnt.take());
        let done = lock(&self.done).take();
        let mut finished = wait_done(done.as_ref(), SERVER_TIMEOUT);
        if !finished {
            // A file of the mount is open but none of its masks (not one of ours, e.g.
            // the root opened through /proc): cut the connection.
            let _ = abort_connection(self.conn_id);
            finished = wait_done(done.as_ref(), SERVER_TIMEOUT);
        }
        if finished {
            if let Some(t) = lock(&self.thread).take() {
                let _ = t.join();
            }
        }
        // Else the thread is left detached rather than hanging the caller.
        drop(self.notify.take());
    }
}

/// Keeps the errno (kind and raw code) and says which step failed.
fn context(e: io::Error, what: &str) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::new(
            e.kind(),
            format!(
                "{what}: {} (os error {code})",
                io::Error::from_raw_os_error(code)
            ),
        ),
        None => io::Error::new(e.kind(), format!("{what}: {e}")),
    }
}

fn wait_done(done: Option<&mpsc::Receiver<()>>, timeout: Duration) -> bool {
    match done {
        None => true,
        Some(rx) => !matches!(
            rx.recv_timeout(timeout),
            Err(mpsc::RecvTimeoutError::Timeout)
        ),
    }
}

/// The server thread: private fd table, own `/dev/fuse` clone, then fuser's loop.
fn serve(
    dev: RawFd,
    reg: Arc<Registry>,
    ready: mpsc::SyncSender<io::Result<()>>,
    done: mpsc::Sender<()>,
) {
    let session = (|| -> io::Result<Session<MaskFs>> {
        // SAFETY: unshare has no memory preconditions.
        cvt(unsafe { libc::unshare(libc::CLONE_FILES) })?;
        // From here on fd numbers name this thread's private copy of the table; the
        // application's OwnedFds must never be dropped here.
        // SAFETY: valid C string; checked.
        let own =
            cvt(unsafe { libc::open(c"/dev/fuse".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        // SAFETY: fresh fd in this thread's table.
        let own = unsafe { OwnedFd::from_raw_fd(own) };
        let mut src = dev as u32;
        // SAFETY: FUSE_DEV_IOC_CLONE reads a u32 fd number from the pointer.
        cvt(unsafe { libc::ioctl(own.as_raw_fd(), FUSE_DEV_IOC_CLONE, &mut src) })?;
        // Keep stdio (panic messages) and our clone; close the rest of the copy, above
        // all the original /dev/fuse fd and the mask files. (Were stdio a mask file, our
        // copy would keep the mount alive past Drop's close; Drop then aborts the
        // connection through fusectl after a timeout. Testing fds here is not safe:
        // fstat/fstatfs of our own files would wait for this very thread.)
        let c = own.as_raw_fd() as u32;
        // SAFETY: closes only fds of this thread's private table.
        unsafe {
            if c > 3 {
                libc::close_range(3, c - 1, 0);
            }
            libc::close_range(c + 1, u32::MAX, 0);
        }
        let fs = MaskFs {
            reg,
            dev: own.as_raw_fd(),
        };
        let mut config = Config::default();
        config.acl = SessionACL::All;
        Session::from_fd(fs, own, SessionACL::All, config)
    })();
    match session {
        Err(e) => {
            let _ = ready.send(Err(e));
        }
        Ok(session) => {
            let _ = ready.send(Ok(()));
            // Returns when the connection is aborted (unmount) or fails.
            let _ = session.run();
        }
    }
    let _ = done.send(());
}

/// `fsconfig(2)` string/flag helper.
fn fsconfig(fsfd: RawFd, cmd: u32, key: Option<&str>, value: Option<&str>) -> io::Result<()> {
    let key = key
        .map(CString::new)
        .transpose()
        .map_err(io::Error::other)?;
    let value = value
        .map(CString::new)
        .transpose()
        .map_err(io::Error::other)?;
    let kp = key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
    let vp = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
    // SAFETY: pointers are null or valid C strings that outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fsfd, cmd, kp, vp, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Mount options shared by both methods.
fn options(dev: RawFd) -> Vec<(&'static str, String)> {
    vec![
        ("fd", dev.to_string()),
        ("rootmode", "40000".into()),
        // SAFETY: getuid/getgid have no preconditions.
        ("user_id", unsafe { libc::getuid() }.to_string()),
        ("group_id", unsafe { libc::getgid() }.to_string()),
    ]
}

fn source() -> String {
    format!("{SOURCE_PREFIX}{}", std::process::id())
}

fn mount_detached(dev: RawFd) -> io::Result<OwnedFd> {
    const FSOPEN_CLOEXEC: u32 = 1;
    const FSMOUNT_CLOEXEC: u32 = 1;
    const FSCONFIG_SET_FLAG: u32 = 0;
    const FSCONFIG_SET_STRING: u32 = 1;
    const FSCONFIG_CMD_CREATE: u32 = 6;
    // SAFETY: valid C string; checked.
    let fsfd = unsafe { libc::syscall(libc::SYS_fsopen, c"fuse".as_ptr(), FSOPEN_CLOEXEC) };
    if fsfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsopen returned a fresh fd we own.
    let fsfd = unsafe { OwnedFd::from_raw_fd(fsfd as RawFd) };
    let f = fsfd.as_raw_fd();
    fsconfig(f, FSCONFIG_SET_STRING, Some("source"), Some(&source()))?;
    fsconfig(f, FSCONFIG_SET_STRING, Some("subtype"), Some(SUBTYPE))?;
    for (k, v) in options(dev) {
        fsconfig(f, FSCONFIG_SET_STRING, Some(k), Some(&v))?;
    }
    // Other uids may poll a mask fd they were handed.
    fsconfig(f, FSCONFIG_SET_FLAG, Some("allow_other"), None)?;
    fsconfig(f, FSCONFIG_CMD_CREATE, None, None)?;
    // SAFETY: plain syscall on our fs context fd; checked.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, f, FSMOUNT_CLOEXEC, 0) };
    if m < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsmount returned a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(m as RawFd) })
}

fn mount_then_detach(dev: RawFd) -> io::Result<OwnedFd> {
    let mut tmpl = *b"/tmp/evbench-efdmask-XXXXXX\0";
    // SAFETY: tmpl is a writable NUL-terminated template.
    if unsafe { libc::mkdtemp(tmpl.as_mut_ptr().cast()) }.is_null() {
        return Err(io::Error::last_os_error());
    }
    let dir = CString::new(&tmpl[..tmpl.len() - 1]).map_err(io::Error::other)?;
    let result = (|| {
        let mut data: Vec<String> = options(dev)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        data.push("allow_other".into());
        let data = CString::new(data.join(",")).map_err(io::Error::other)?;
        let src = CString::new(source()).map_err(io::Error::other)?;
        let fstype = CString::new(format!("fuse.{SUBTYPE}")).map_err(io::Error::other)?;
        // SAFETY: all pointers are valid C strings; checked.
        cvt(unsafe {
            libc::mount(
                src.as_ptr(),
                dir.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )
        })?;
        // SAFETY: valid C string; checked. O_PATH sends no request to the server.
        let root = unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        let root = if root < 0 {
            Err(io::Error::last_os_error())
        } else {
            // SAFETY: fresh fd we own.
            Ok(unsafe { OwnedFd::from_raw_fd(root) })
        };
        // SAFETY: valid C string. Detach even if the open failed.
        let u = cvt(unsafe { libc::umount2(dir.as_ptr(), libc::MNT_DETACH) });
        let root = root?;
        u?;
        Ok(root)
    })();
    // SAFETY: valid C string; the directory is ours and empty once detached.
    unsafe { libc::rmdir(dir.as_ptr()) };
    result
}

/// fusectl id of the connection behind `fd`: the minor of its `st_dev`.
fn connection_id(fd: RawFd) -> io::Result<u32> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: st is valid to write; fd is open.
    cvt(unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded and filled st.
    let dev = unsafe { st.assume_init() }.st_dev;
    Ok(libc::minor(dev))
}

/// Makes sure fusectl is mounted (it is not on every machine).
fn ensure_fusectl() -> io::Result<()> {
    let mounted = fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .any(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("fusectl "))
        });
    if mounted {
        return Ok(());
    }
    // SAFETY: valid C strings; checked.
    cvt(unsafe {
        libc::mount(
            c"fusectl".as_ptr(),
            c"/sys/fs/fuse/connections".as_ptr(),
            c"fusectl".as_ptr(),
            0,
            std::ptr::null(),
        )
    })
    .map(|_| ())
}

/// Aborts FUSE connection `id` through fusectl (mounting fusectl if needed): every
/// pending and future request on it fails, so nothing can wait on it any more.
pub fn abort_connection(id: u32) -> io::Result<()> {
    ensure_fusectl()?;
    match fs::write(format!("{FUSECTL_DIR}/{id}/abort"), b"1") {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()), // already gone
        r => r,
    }
}

/// True when the fusectl entry of connection `id` exists (the connection is alive).
/// Mounts fusectl if needed.
pub fn connection_exists(id: u32) -> io::Result<bool> {
    ensure_fusectl()?;
    Ok(fs::metadata(format!("{FUSECTL_DIR}/{id}")).is_ok())
}

/// One of our mounts found in `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundMount {
    /// Where it is mounted.
    pub mount_point: String,
    /// Pid named by its source (`evbench-efdmask-<pid>`).
    pub owner_pid: u32,
    /// fusectl connection id (minor of the mount's device).
    pub connection_id: u32,
}

/// Our mounts visible in this mount namespace (only [`MountMethod::MountThenDetach`]
/// mounts ever are, and only between mount and detach, or forever when killed there).
pub fn find_mounts() -> io::Result<Vec<FoundMount>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    let mut found = Vec::new();
    for line in info.lines() {
        // "id parent maj:min root mount-point opts [optional...] - fstype source super"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(src)) = (r.next(), r.next()) else {
            continue;
        };
        let Some(pid) = src.strip_prefix(SOURCE_PREFIX) else {
            continue;
        };
        if fstype != format!("fuse.{SUBTYPE}") {
            continue;
        }
        let l: Vec<&str> = left.split(' ').collect();
        let (Some(devno), Some(mp), Ok(owner_pid)) = (l.get(2), l.get(4), pid.parse::<u32>())
        else {
            continue;
        };
        let minor = devno
            .split_once(':')
            .and_then(|(_, m)| m.parse::<u32>().ok())
            .unwrap_or(0);
        found.push(FoundMount {
            mount_point: unescape_mountinfo(mp),
            owner_pid,
            connection_id: minor,
        });
    }
    Ok(found)
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks existence.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Finds mounts left by killed runs (source names a pid that no longer exists), aborts
/// their connections through fusectl and lazily unmounts them. Returns how many it
/// removed. Detached mounts ([`MountMethod::Detached`], the default) never need this.
pub fn cleanup_stale_mounts() -> io::Result<usize> {
    let mut removed = 0;
    for m in find_mounts()? {
        if m.owner_pid == std::process::id() || pid_alive(m.owner_pid) {
            continue;
        }
        // Abort first: a hung connection would block the unmount's final release.
        let _ = abort_connection(m.connection_id);
        let mp = CString::new(m.mount_point.clone()).map_err(io::Error::other)?;
        // SAFETY: valid C string; checked.
        cvt(unsafe { libc::umount2(mp.as_ptr(), libc::MNT_DETACH) })?;
        if m.mount_point.starts_with("/tmp/evbench-efdmask-") {
            // SAFETY: valid C string; failure (not empty, gone) is harmless.
            unsafe { libc::rmdir(mp.as_ptr()) };
        }
        removed += 1;
    }
    Ok(removed)
}

/// One mask file of a [`FuseServer`], as a [`MaskFd`](super::MaskFd) holds it.
pub(crate) struct FuseMask {
    /// Closed first in `drop`, before the server reference is released.
    file: ManuallyDrop<OwnedFd>,
    slot: Arc<Mutex<Slot>>,
    server: Arc<FuseServer>,
}

impl FuseMask {
    pub(crate) fn get(&self) -> Mask {
        lock(&self.slot).mask
    }

    pub(crate) fn update(&self, f: impl FnOnce(Mask) -> Mask) -> io::Result<Mask> {
        let mut wake = Vec::new();
        let prev = {
            let mut s = lock(&self.slot);
            let prev = s.mask;
            let new = f(prev);
            new.validate()?;
            s.store(new, &mut wake);
            prev
        };
        for kh in wake {
            notify_poll(self.server.notify_fd(), kh)?;
        }
        Ok(prev)
    }

    pub(crate) fn server(&self) -> &Arc<FuseServer> {
        &self.server
    }

    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Drop for FuseMask {
    fn drop(&mut self) {
        // SAFETY: dropped once, here; never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.file) };
        // The mask's state is not ours to end: the server drops it when the file's
        // last open file description is released (another process may hold it). If
        // that was ours, its RELEASE is queued by now; wait until it is handled so that
        // `mask_count` and the server's drop see it. A forked child's copy has nothing
        // to wait for (and no fd to wait with).
        if !self.server.is_copy() {
            self.server.fence();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_unescape() {
        assert_eq!(
            super::unescape_mountinfo("/tmp/a\\040b\\134c"),
            "/tmp/a b\\c"
        );
        assert_eq!(super::unescape_mountinfo("/x\\9zz\\"), "/x\\9zz\\");
        assert_eq!(super::unescape_mountinfo("/é\\0"), "/é\\0");
    }
}
