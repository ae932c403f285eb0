//! Thin, checked wrappers over the few syscalls every workload needs.
use std::{
    io,
    os::fd::{FromRawFd, OwnedFd, RawFd},
};

/// Turns a `-1` return into the errno as an `io::Error`.
pub fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`] for `ssize_t` returns.
pub fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// `pipe2(O_CLOEXEC | extra)`: (read end, write end).
pub fn pipe(nonblocking: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    let flags = libc::O_CLOEXEC | if nonblocking { libc::O_NONBLOCK } else { 0 };
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) })?;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `read(2)` into `buf`, retrying on EINTR.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        match cvt_size(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// `write(2)` of `buf`, retrying on EINTR.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        match cvt_size(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Monotonic clock in nanoseconds (vDSO, no syscall).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Busy work for `ns` nanoseconds: spins on CLOCK_MONOTONIC (vDSO) without yielding,
/// the `--think` of pingpong and pipetest (a known amount of CPU per message handled,
/// so a benchmark can add a regression of known size). `0` returns at once.
///
/// `stopped` is asked at the start and then every [`THINK_STOP_CHECK_NS`] of spinning:
/// a stop request (SIGINT, SIGTERM, a failed peer) ends even a `--think 29days` spin
/// within that bound instead of when the spin would have ended. Returns false when it
/// was cut short so.
pub fn think(ns: u64, stopped: impl Fn() -> bool) -> bool {
    if ns == 0 {
        return true;
    }
    let start = now_ns();
    let end = start.saturating_add(ns);
    let mut check = start;
    loop {
        let now = now_ns();
        if now >= end {
            return true;
        }
        // Asked once a millisecond, not per iteration: the flag's cache line may be
        // written by another core, and the spin's cost per nanosecond stays that of
        // the clock read alone.
        if now >= check {
            if stopped() {
                return false;
            }
            check = now.saturating_add(THINK_STOP_CHECK_NS);
        }
        std::hint::spin_loop();
    }
}

/// How often [`think`] asks whether to stop: 1 ms.
pub const THINK_STOP_CHECK_NS: u64 = 1_000_000;

/// Serialises a `Duration` as whole nanoseconds (the results document's time unit).
pub fn serialize_ns<S: serde::Serializer>(
    d: &std::time::Duration,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_nanos().min(u128::from(u64::MAX)) as u64)
}
