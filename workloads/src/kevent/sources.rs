//! Event sources: how each kevent type is checked for validity, armed on top of epoll /
//! timerfd / signalfd / inotify, and consumed when its event is dequeued.
use std::{
    ffi::CString,
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
};

use super::{consts::*, types::Ukevent};
use crate::sys::cvt;

/// `poll(2)` bits a `KEVENT_POLL` request may ask for (the ones epoll can report).
const POLL_VALID: u32 = KEVENT_POLL_POLLIN
    | KEVENT_POLL_POLLPRI
    | KEVENT_POLL_POLLOUT
    | KEVENT_POLL_POLLERR
    | KEVENT_POLL_POLLHUP
    | KEVENT_POLL_POLLRDNORM
    | KEVENT_POLL_POLLRDBAND
    | KEVENT_POLL_POLLWRNORM
    | KEVENT_POLL_POLLWRBAND
    | KEVENT_POLL_POLLRDHUP;

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const ERR: u32 = libc::EPOLLERR as u32;
const HUP: u32 = libc::EPOLLHUP as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;

/// Checks one ukevent of a `kevent_ctl` batch before anything is changed. `Err` is the
/// errno refusing the whole batch.
pub(crate) fn validate(uk: &Ukevent, cmd: u32) -> Result<(), i32> {
    let events_ok = match uk.type_ {
        KEVENT_SOCKET => {
            uk.event != 0
                && uk.event & !(KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND | KEVENT_SOCKET_ACCEPT) == 0
        }
        KEVENT_PIPE => uk.event != 0 && uk.event & !(KEVENT_PIPE_READ | KEVENT_PIPE_WRITE) == 0,
        KEVENT_POLL => uk.event != 0 && uk.event & !POLL_VALID == 0,
        KEVENT_TIMER => uk.event == KEVENT_TIMER_FIRED,
        KEVENT_SIGNAL => uk.event == KEVENT_SIGNAL_DELIVERY,
        KEVENT_INODE => {
            uk.event != 0 && uk.event & !(KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE) == 0
        }
        KEVENT_USER => true,
        // Completions exist only through aio_sendfile: adding one by hand cannot be
        // honoured (there is no transfer behind it).
        KEVENT_AIO | KEVENT_POSIX_TIMER => {
            if cmd == KEVENT_CTL_ADD || cmd == KEVENT_CTL_MODIFY {
                return Err(libc::EINVAL);
            }
            true
        }
        _ => return Err(libc::ENOSYS),
    };
    if uk.req_flags & !KEVENT_REQ_ALL != 0 {
        return Err(libc::EINVAL);
    }
    if (cmd == KEVENT_CTL_ADD || cmd == KEVENT_CTL_MODIFY) && !events_ok {
        return Err(libc::EINVAL);
    }
    Ok(())
}

/// The epoll interest bits of an fd request.
pub(crate) fn fd_interest(type_: u32, event: u32) -> u32 {
    match type_ {
        KEVENT_SOCKET => {
            let mut m = 0;
            if event & KEVENT_SOCKET_RECV != 0 {
                m |= IN | RDHUP;
            }
            if event & KEVENT_SOCKET_ACCEPT != 0 {
                m |= IN;
            }
            if event & KEVENT_SOCKET_SEND != 0 {
                m |= OUT;
            }
            m
        }
        KEVENT_PIPE => {
            let mut m = 0;
            if event & KEVENT_PIPE_READ != 0 {
                m |= IN;
            }
            if event & KEVENT_PIPE_WRITE != 0 {
                m |= OUT;
            }
            m
        }
        _ => event, // KEVENT_POLL: the poll bits are the epoll bits.
    }
}

/// The ready subset of a request's `event` bits given the fd's revents.
pub(crate) fn fd_ready_subset(type_: u32, event: u32, rev: u32) -> u32 {
    let mut r = 0;
    match type_ {
        KEVENT_SOCKET => {
            if event & KEVENT_SOCKET_RECV != 0 && rev & (IN | RDHUP | HUP | ERR) != 0 {
                r |= KEVENT_SOCKET_RECV;
            }
            if event & KEVENT_SOCKET_ACCEPT != 0 && rev & (IN | ERR) != 0 {
                r |= KEVENT_SOCKET_ACCEPT;
            }
            if event & KEVENT_SOCKET_SEND != 0 && rev & (OUT | ERR) != 0 {
                r |= KEVENT_SOCKET_SEND;
            }
        }
        KEVENT_PIPE => {
            if event & KEVENT_PIPE_READ != 0 && rev & (IN | HUP | ERR) != 0 {
                r |= KEVENT_PIPE_READ;
            }
            if event & KEVENT_PIPE_WRITE != 0 && rev & (OUT | ERR) != 0 {
                r |= KEVENT_PIPE_WRITE;
            }
        }
        _ => {
            // POLLERR / POLLHUP are always reported, as poll(2) does.
            r = rev & (event | ERR | HUP);
        }
    }
    r
}

/// Where a request's readiness comes from.
pub(crate) enum Source {
    /// Socket, pipe, poll: the user's fd (or a dup of it when that fd is already
    /// registered by another request, since one epoll holds an fd once).
    Fd {
        fd: RawFd,
        reg: RawFd,
        _dup: Option<OwnedFd>,
        /// epoll revents collected since the request was last dequeued.
        revents: u32,
    },
    Timer {
        tfd: OwnedFd,
        period_ns: u64,
        /// Expirations consumed since the request was (re)armed.
        fired: u64,
    },
    Signal {
        sfd: OwnedFd,
        signo: u32,
    },
    Inode {
        ifd: OwnedFd,
    },
    User,
    Aio,
}

fn errno_of(e: io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn fstat_mode(fd: RawFd) -> Result<u32, i32> {
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid stat to write into.
    cvt(unsafe { libc::fstat(fd, &mut st) }).map_err(errno_of)?;
    Ok(st.st_mode & libc::S_IFMT)
}

fn uk_fd(uk: &Ukevent) -> Result<RawFd, i32> {
    // An fd number is a non-negative C int: anything from 2^31 up is no fd.
    RawFd::try_from(uk.id.raw[0]).map_err(|_| libc::EBADF)
}

fn timer_spec(uk: &Ukevent) -> Result<(u64, libc::itimerspec), i32> {
    let (s, ns) = (uk.id.raw[0] as u64, uk.id.raw[1] as u64);
    if ns >= 1_000_000_000 || (s == 0 && ns == 0) {
        return Err(libc::EINVAL);
    }
    let v = libc::timespec {
        tv_sec: libc::time_t::try_from(s).map_err(|_| libc::EINVAL)?,
        tv_nsec: libc::c_long::try_from(ns).map_err(|_| libc::EINVAL)?,
    };
    let oneshot = uk.req_flags & KEVENT_REQ_ONESHOT != 0;
    let i = if oneshot {
        libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }
    } else {
        v
    };
    // s < 2^32, so this fits in u64; checked all the same (class: user-supplied times).
    let period_ns = s
        .checked_mul(1_000_000_000)
        .and_then(|v| v.checked_add(ns))
        .ok_or(libc::EINVAL)?;
    Ok((
        period_ns,
        libc::itimerspec {
            it_interval: i,
            it_value: v,
        },
    ))
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    cvt(fd)?;
    // SAFETY: fd was just returned by the kernel and is ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Source {
    /// Opens the source of an ADD. `Err` is the errno for `ret_data[0]` of a BROKEN
    /// request. Fd sources are registered later (the caller knows the epoll).
    pub(crate) fn open(uk: &Ukevent) -> Result<Source, i32> {
        match uk.type_ {
            KEVENT_SOCKET | KEVENT_PIPE | KEVENT_POLL => {
                let fd = uk_fd(uk)?;
                let mode = fstat_mode(fd)?;
                if uk.type_ == KEVENT_SOCKET {
                    if mode != libc::S_IFSOCK {
                        return Err(libc::ENOTSOCK);
                    }
                    if uk.event & KEVENT_SOCKET_ACCEPT != 0 && !is_listening(fd)? {
                        return Err(libc::EINVAL);
                    }
                }
                // take25: "provided file descriptor must be checked for fifo type".
                if uk.type_ == KEVENT_PIPE && mode != libc::S_IFIFO {
                    return Err(libc::EINVAL);
                }
                Ok(Source::Fd {
                    fd,
                    reg: fd,
                    _dup: None,
                    revents: 0,
                })
            }
            KEVENT_TIMER => {
                let (period_ns, spec) = timer_spec(uk)?;
                // SAFETY: plain syscall.
                let tfd = owned(unsafe {
                    libc::timerfd_create(
                        libc::CLOCK_MONOTONIC,
                        libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                    )
                })
                .map_err(errno_of)?;
                // SAFETY: spec is a valid itimerspec; old value not wanted.
                cvt(unsafe {
                    libc::timerfd_settime(tfd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
                })
                .map_err(errno_of)?;
                Ok(Source::Timer {
                    tfd,
                    period_ns,
                    fired: 0,
                })
            }
            KEVENT_SIGNAL => {
                let signo = uk.id.raw[0];
                // The ABI's u32 checked as a signal number before any narrowing: values
                // from 2^31 up would turn negative as a C int (issue 15 bug 2).
                let sig = i32::try_from(signo).map_err(|_| libc::EINVAL)?;
                if !(1..=libc::SIGRTMAX()).contains(&sig)
                    || sig == libc::SIGKILL
                    || sig == libc::SIGSTOP
                {
                    return Err(libc::EINVAL);
                }
                // SAFETY: set is initialised by sigemptyset before use.
                let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
                // SAFETY: valid set pointer; sigaddset's EINVAL is checked.
                cvt(unsafe { libc::sigemptyset(&mut set) }).map_err(errno_of)?;
                // SAFETY: as above.
                cvt(unsafe { libc::sigaddset(&mut set, sig) }).map_err(errno_of)?;
                // SAFETY: set is a valid sigset.
                let sfd = owned(unsafe {
                    libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
                })
                .map_err(errno_of)?;
                Ok(Source::Signal { sfd, signo })
            }
            KEVENT_INODE => {
                let fd = uk_fd(uk)?;
                if fstat_mode(fd)? != libc::S_IFDIR {
                    return Err(libc::ENOTDIR);
                }
                // SAFETY: plain syscall.
                let ifd =
                    owned(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })
                        .map_err(errno_of)?;
                let path = CString::new(format!("/proc/self/fd/{fd}")).map_err(|_| libc::EINVAL)?;
                let mut mask = libc::IN_ONLYDIR;
                if uk.event & KEVENT_INODE_CREATE != 0 {
                    mask |= libc::IN_CREATE | libc::IN_MOVED_TO;
                }
                if uk.event & KEVENT_INODE_REMOVE != 0 {
                    mask |= libc::IN_DELETE | libc::IN_MOVED_FROM;
                }
                // SAFETY: path is a valid C string.
                cvt(unsafe { libc::inotify_add_watch(ifd.as_raw_fd(), path.as_ptr(), mask) })
                    .map_err(errno_of)?;
                Ok(Source::Inode { ifd })
            }
            KEVENT_USER => Ok(Source::User),
            _ => Err(libc::ENOSYS),
        }
    }

    /// The fd registered in the queue's epoll, if any.
    pub(crate) fn reg_fd(&self) -> Option<RawFd> {
        match self {
            Source::Fd { reg, .. } => Some(*reg),
            Source::Timer { tfd, .. } => Some(tfd.as_raw_fd()),
            Source::Signal { sfd, .. } => Some(sfd.as_raw_fd()),
            Source::Inode { ifd } => Some(ifd.as_raw_fd()),
            Source::User | Source::Aio => None,
        }
    }

    /// The epoll event mask for this source under `uk`'s flags (see the module docs'
    /// Model: plain = edge, ET = level, ONESHOT = one report).
    pub(crate) fn epoll_mask(&self, uk: &Ukevent) -> u32 {
        match self {
            Source::Fd { .. } => {
                let mut m = fd_interest(uk.type_, uk.event);
                if uk.req_flags & KEVENT_REQ_ONESHOT != 0 {
                    m |= libc::EPOLLONESHOT as u32;
                } else if uk.req_flags & KEVENT_REQ_ET == 0 {
                    m |= libc::EPOLLET as u32;
                }
                m
            }
            // Consumed at dequeue, so level registration reports each new expiry,
            // signal or inode change exactly once.
            _ => {
                let mut m = IN;
                if uk.req_flags & KEVENT_REQ_ONESHOT != 0 {
                    m |= libc::EPOLLONESHOT as u32;
                }
                m
            }
        }
    }

    /// Re-arms a timer after MODIFY (its oneshot-ness may have changed).
    pub(crate) fn rearm(&mut self, uk: &Ukevent) -> Result<(), i32> {
        if let Source::Timer {
            tfd,
            period_ns,
            fired,
        } = self
        {
            let (p, spec) = timer_spec(uk)?;
            // SAFETY: spec is a valid itimerspec.
            cvt(unsafe { libc::timerfd_settime(tfd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })
                .map_err(errno_of)?;
            *period_ns = p;
            *fired = 0;
        }
        Ok(())
    }

    /// Readiness at enqueue time (ADD's "ready immediately" check): the ready ret_data
    /// for an fd source, `None` when not ready. Other sources are never ready at ADD.
    pub(crate) fn ready_now(&self, uk: &Ukevent) -> io::Result<Option<[u32; 2]>> {
        match self {
            Source::Fd { fd, .. } => {
                let rev = poll_now(*fd, fd_interest(uk.type_, uk.event))?;
                let sub = fd_ready_subset(uk.type_, uk.event, rev);
                Ok((sub != 0).then_some([sub, rev]))
            }
            _ => Ok(None),
        }
    }

    /// Consumes the source when its event is dequeued and returns `ret_data`, or `None`
    /// when it turns out not to be ready (then the request goes back to its set of
    /// interest). `forced`: made ready by READY, so deliver even with nothing consumed.
    pub(crate) fn consume(&mut self, uk: &Ukevent, forced: bool) -> io::Result<Option<[u32; 2]>> {
        match self {
            Source::Fd { fd, revents, .. } => {
                let rev = if uk.req_flags & KEVENT_REQ_LAST_CHECK != 0 {
                    poll_now(*fd, fd_interest(uk.type_, uk.event))?
                } else {
                    *revents
                };
                *revents = 0;
                let sub = fd_ready_subset(uk.type_, uk.event, rev);
                if sub == 0 && !forced {
                    return Ok(None);
                }
                Ok(Some([sub, rev]))
            }
            Source::Timer {
                tfd,
                period_ns,
                fired,
            } => {
                let mut buf = [0u8; 8];
                let n = match read_nb(tfd.as_raw_fd(), &mut buf)? {
                    8 => u64::from_ne_bytes(buf),
                    _ => 0,
                };
                if n == 0 && !forced {
                    return Ok(None);
                }
                *fired = fired.saturating_add(n);
                // ret_data is two u32s: a count or time past u32::MAX saturates rather
                // than wrapping to a small, wrong value.
                let ms = fired.saturating_mul(*period_ns) / 1_000_000;
                Ok(Some([sat_u32(ms), sat_u32(n)]))
            }
            Source::Signal { sfd, signo } => {
                const SZ: usize = std::mem::size_of::<libc::signalfd_siginfo>();
                let mut buf = [0u8; SZ * 8];
                let mut count = 0u32;
                loop {
                    let got = read_nb(sfd.as_raw_fd(), &mut buf)?;
                    if got == 0 {
                        break;
                    }
                    count = count.saturating_add(sat_u32((got / SZ) as u64));
                }
                if count == 0 && !forced {
                    return Ok(None);
                }
                Ok(Some([*signo, count]))
            }
            Source::Inode { ifd } => {
                // inotify records are 4-aligned; u64 storage keeps the buffer aligned.
                let mut store = [0u64; 512];
                let (mut bits, mut count) = (0u32, 0u32);
                loop {
                    // SAFETY: store is 4096 initialised bytes, viewed as u8.
                    let buf = unsafe {
                        std::slice::from_raw_parts_mut(store.as_mut_ptr().cast::<u8>(), 4096)
                    };
                    let got = read_nb(ifd.as_raw_fd(), buf)?;
                    if got == 0 {
                        break;
                    }
                    let mut off = 0;
                    let hdr = std::mem::size_of::<libc::inotify_event>();
                    while off + hdr <= got {
                        // SAFETY: the kernel wrote a whole record at off (4-aligned).
                        let ev = unsafe {
                            std::ptr::read_unaligned(
                                buf.as_ptr().add(off).cast::<libc::inotify_event>(),
                            )
                        };
                        if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                            bits |= KEVENT_INODE_CREATE;
                            count = count.saturating_add(1);
                        }
                        if ev.mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
                            bits |= KEVENT_INODE_REMOVE;
                            count = count.saturating_add(1);
                        }
                        off += hdr + ev.len as usize;
                    }
                }
                if count == 0 && !forced {
                    return Ok(None);
                }
                Ok(Some([bits, count]))
            }
            Source::User | Source::Aio => Ok(Some(uk.ret_data)),
        }
    }
}

fn sat_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Non-blocking read: `Ok(0)` on EAGAIN.
fn read_nb(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(0),
            _ => return Err(e),
        }
    }
}

/// One `poll(2)` with a zero timeout; the revents.
pub(crate) fn poll_now(fd: RawFd, interest: u32) -> io::Result<u32> {
    // poll's events field is a C short; every interest built here fits (the POLL
    // bits are validated), anything else is refused rather than truncated.
    let events = u16::try_from(interest).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut p = libc::pollfd {
        fd,
        events: events as libc::c_short,
        revents: 0,
    };
    loop {
        // SAFETY: p is one valid pollfd.
        match cvt(unsafe { libc::poll(&mut p, 1, 0) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(p.revents as u16 as u32),
        }
    }
}

fn is_listening(fd: RawFd) -> Result<bool, i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v/len are a valid out-buffer for an int option.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    })
    .map_err(errno_of)?;
    Ok(v != 0)
}

/// `dup(fd)` with close-on-exec, for a second registration of the same fd.
pub(crate) fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    owned(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
}

/// Sets the dup used for an fd source's registration.
pub(crate) fn set_dup(src: &mut Source, dup: OwnedFd) {
    if let Source::Fd { reg, _dup, .. } = src {
        *reg = dup.as_raw_fd();
        *_dup = Some(dup);
    }
}

/// Records epoll revents on an fd source.
pub(crate) fn add_revents(src: &mut Source, ev: u32) {
    if let Source::Fd { revents, .. } = src {
        *revents |= ev;
    }
}
