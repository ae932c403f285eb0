//! Helpers shared by the efd_mask tests: poll/select/epoll views of an fd, raw
//! read/write of masks, thread-state checks. Real syscalls only.
#![allow(dead_code)]

use std::{
    io,
    os::fd::{FromRawFd, OwnedFd, RawFd},
    time::{Duration, Instant},
};

use workloads::efd_mask::{Mask, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI};

/// Index bit i of 0..32 → the i-th of IN, PRI, OUT, ERR, HUP.
pub fn mask_of(i: u32) -> u32 {
    [POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP]
        .iter()
        .enumerate()
        .filter(|(b, _)| i & (1 << b) != 0)
        .fold(0, |m, (_, e)| m | e)
}

/// What poll(2) reports right now for POLLIN|POLLPRI|POLLOUT (ERR/HUP always).
pub fn poll_events(fd: RawFd) -> u32 {
    let mut p = libc::pollfd {
        fd,
        events: (POLLIN | POLLPRI | POLLOUT) as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0, "poll: {}", io::Error::last_os_error());
    assert_eq!(n, i32::from(p.revents != 0), "poll's count vs revents");
    p.revents as u16 as u32
}

/// select(2) readable, writable, exceptional right now.
pub fn select_sets(fd: RawFd) -> (bool, bool, bool) {
    // SAFETY: fd_sets are plain data, initialised by FD_ZERO/FD_SET.
    unsafe {
        let mut r: libc::fd_set = std::mem::zeroed();
        let mut w: libc::fd_set = std::mem::zeroed();
        let mut x: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut r);
        libc::FD_ZERO(&mut w);
        libc::FD_ZERO(&mut x);
        libc::FD_SET(fd, &mut r);
        libc::FD_SET(fd, &mut w);
        libc::FD_SET(fd, &mut x);
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let n = libc::select(fd + 1, &mut r, &mut w, &mut x, &mut tv);
        assert!(n >= 0, "select: {}", io::Error::last_os_error());
        let s = (
            libc::FD_ISSET(fd, &r),
            libc::FD_ISSET(fd, &w),
            libc::FD_ISSET(fd, &x),
        );
        assert_eq!(n, s.0 as i32 + s.1 as i32 + s.2 as i32, "select's count");
        s
    }
}

/// What select(2) must report for a mask (the kernel's POLLIN_SET / POLLOUT_SET /
/// POLLEX_SET).
pub fn expected_select(m: u32) -> (bool, bool, bool) {
    (
        m & (POLLIN | POLLHUP | POLLERR) != 0,
        m & (POLLOUT | POLLERR) != 0,
        m & POLLPRI != 0,
    )
}

/// An epoll instance watching one fd for EPOLLIN|EPOLLPRI|EPOLLOUT.
pub struct Epoll {
    ep: OwnedFd,
}

impl Epoll {
    pub fn new(fd: RawFd, edge: bool) -> Self {
        // SAFETY: plain syscall; checked.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0, "epoll_create1: {}", io::Error::last_os_error());
        // SAFETY: fresh fd we own.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT) as u32
                | if edge { libc::EPOLLET as u32 } else { 0 },
            u64: 7,
        };
        use std::os::fd::AsRawFd;
        // SAFETY: valid event pointer.
        let r = unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(r, 0, "epoll_ctl: {}", io::Error::last_os_error());
        Epoll { ep }
    }

    /// Events reported by one epoll_wait (empty on timeout).
    pub fn wait(&self, timeout_ms: i32) -> Vec<u32> {
        use std::os::fd::AsRawFd;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        loop {
            // SAFETY: evs has room for 4 events.
            let n =
                unsafe { libc::epoll_wait(self.ep.as_raw_fd(), evs.as_mut_ptr(), 4, timeout_ms) };
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            assert!(n >= 0, "epoll_wait: {}", io::Error::last_os_error());
            return evs[..n as usize]
                .iter()
                .map(|e| {
                    assert_eq!({ e.u64 }, 7);
                    e.events
                })
                .collect();
        }
    }
}

/// Checks every view of `fd` against mask events `m`: poll, select, a level-triggered
/// epoll (twice: level stays), and one edge-triggered wait on `et` (if given), which
/// must report the change once.
pub fn assert_views(fd: RawFd, m: u32, et: Option<&Epoll>) {
    if let Some(et) = et {
        let want: Vec<u32> = if m == 0 { vec![] } else { vec![m] };
        assert_eq!(et.wait(0), want, "epoll ET first wait for mask {m:#x}");
        assert_eq!(
            et.wait(0),
            Vec::<u32>::new(),
            "epoll ET second wait for {m:#x}"
        );
    }
    assert_eq!(poll_events(fd), m, "poll for mask {m:#x}");
    assert_eq!(
        select_sets(fd),
        expected_select(m),
        "select for mask {m:#x}"
    );
    let lt = Epoll::new(fd, false);
    let want: Vec<u32> = if m == 0 { vec![] } else { vec![m] };
    assert_eq!(lt.wait(0), want, "epoll LT for mask {m:#x}");
    assert_eq!(lt.wait(0), want, "epoll LT again for mask {m:#x}");
}

/// read(2) of a mask with a buffer of `len` bytes.
pub fn read_raw(fd: RawFd, len: usize) -> io::Result<Vec<u8>> {
    let mut b = vec![0u8; len];
    // SAFETY: b is valid for len bytes.
    let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), len) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    b.truncate(n as usize);
    Ok(b)
}

pub fn read_mask(fd: RawFd) -> Mask {
    let b = read_raw(fd, 12).expect("read mask");
    assert_eq!(b.len(), 12, "read returns the 12-byte struct");
    Mask::from_bytes(&b).expect("valid mask")
}

/// write(2) of raw bytes.
pub fn write_raw(fd: RawFd, b: &[u8]) -> io::Result<usize> {
    // SAFETY: b is valid for its length.
    let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Kernel scheduler state letter of thread `tid` of this process ('S' = sleeping).
pub fn thread_state(tid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // "tid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, r)| r.trim_start().chars().next())
        .unwrap_or('?')
}

/// Waits (bounded) until thread `tid` sleeps, so a wakeup test really wakes it.
pub fn wait_until_sleeping(tid: u32) {
    let t0 = Instant::now();
    while thread_state(tid) != 'S' {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "thread {tid} never went to sleep (state {})",
            thread_state(tid)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Let it settle in the wait (poll re-checks once after queueing).
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        thread_state(tid),
        'S',
        "thread {tid} still asleep before the set"
    );
}

pub fn gettid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// poll(2) for `events` with a timeout; (return value, revents).
pub fn poll_wait(fd: RawFd, events: u32, timeout_ms: i32) -> (i32, u32) {
    let mut p = libc::pollfd {
        fd,
        events: events as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    (n, p.revents as u16 as u32)
}

/// select(2) for readability with a timeout; (return value, readable).
pub fn select_read_wait(fd: RawFd, timeout_ms: i64) -> (i32, bool) {
    // SAFETY: fd_set is plain data initialised by FD_ZERO/FD_SET.
    unsafe {
        let mut r: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut r);
        libc::FD_SET(fd, &mut r);
        let mut tv = libc::timeval {
            tv_sec: timeout_ms / 1000,
            tv_usec: (timeout_ms % 1000) * 1000,
        };
        let n = libc::select(
            fd + 1,
            &mut r,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut tv,
        );
        (n, libc::FD_ISSET(fd, &r))
    }
}

/// Waits for forked child `pid` up to `timeout`; on timeout kills it (so a failed test
/// leaves nothing behind) and panics. Returns the wait status.
pub fn wait_child(pid: libc::pid_t, timeout: Duration) -> i32 {
    let t0 = Instant::now();
    let mut status = 0;
    // SAFETY: plain syscalls on our own child.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
        if t0.elapsed() > timeout {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child {pid} hung");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    status
}

/// Sends one SOCK_SEQPACKET message `msg` on `sock`, with `fds` attached (SCM_RIGHTS).
pub fn send_msg(sock: RawFd, msg: &[u8], fds: &[RawFd]) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [io::IoSlice::new(msg)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    let n = sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::empty(), None).map_err(io::Error::from)?;
    assert_eq!(n, msg.len(), "seqpacket send is all or nothing");
    Ok(())
}

/// Receives one message (up to 256 bytes, up to 4 fds, close-on-exec) from `sock`,
/// waiting at most `timeout`: `TimedOut` then, `UnexpectedEof` when the peer is gone.
pub fn recv_msg(sock: RawFd, timeout: Duration) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let (n, rev) = poll_wait(sock, POLLIN, ms);
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no message in time",
        ));
    }
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 256];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(io::Error::from)?;
    let len = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(rs) = c {
            // SAFETY: the kernel installed these fds for us; we own them now.
            fds.extend(rs.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
        }
    }
    if len == 0 && rev & POLLHUP != 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"));
    }
    Ok((buf[..len].to_vec(), fds))
}

/// Runs `f` on its own thread and waits at most `timeout` for it: `Err` naming `what`
/// when it has not returned by then (the thread is left blocked; the caller unblocks
/// it, e.g. by aborting the FUSE connection).
pub fn bounded<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(timeout)
        .map_err(|_| format!("{what} still blocked after {timeout:?}"))
}

/// Waits until `cond` holds, at most 5 s; panics naming `what` otherwise.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
