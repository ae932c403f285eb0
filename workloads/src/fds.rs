//! The descriptors this process holds, and which numbers the next ones will get: what
//! a workload checks before it opens hundreds or thousands of fds, so that a count that
//! cannot fit is refused before anything runs instead of failing part-way.
//!
//! Two limits matter. RLIMIT_NOFILE bounds how many fds are open at once (getrlimit(2)),
//! counted here from `/proc/self/fd`. select(2) bounds the highest fd *number*: its
//! fd_set holds fds below FD_SETSIZE (1024, select(2) "BUGS"), and every new fd takes
//! the lowest number not open (open(2): "the lowest-numbered file descriptor not
//! currently open for the process"), so the highest number a workload will get is the
//! N-th free number after what is already open, holes included ([`nth_free`]).
use std::{io, os::fd::RawFd};

/// The fds open in this process now, ascending, without the directory handle used to
/// read them. Errors: `/proc/self/fd` cannot be read (no procfs).
pub fn open_fds() -> io::Result<Vec<RawFd>> {
    let dir = std::fs::read_dir("/proc/self/fd")?;
    let mut fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    // One entry is the handle read_dir held while listing: it is closed now.
    if let Some(i) = fds.iter().position(|&fd| fcntl_bad(fd)) {
        fds.remove(i);
    }
    Ok(fds)
}

/// Whether `fd` is not open (fcntl F_GETFD fails with EBADF).
fn fcntl_bad(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) < 0 }
}

/// The number the `n`-th fd opened from now will get (`n` ≥ 1), when nothing is closed
/// meanwhile: the `n`-th number absent from `open` (ascending, as [`open_fds`] gives).
/// `n` = 0 gives -1 (no fd).
pub fn nth_free(open: &[RawFd], n: usize) -> RawFd {
    if n == 0 {
        return -1;
    }
    let mut left = n;
    let mut next: RawFd = 0;
    for &fd in open {
        // Free numbers in [next, fd).
        let gap = (fd - next).max(0) as usize;
        if gap >= left {
            return next + left as RawFd - 1;
        }
        left -= gap;
        next = next.max(fd + 1);
    }
    next + left as RawFd - 1
}

/// How many numbers below `limit` are not in `open`: how many more fds select(2) could
/// watch when the limit is FD_SETSIZE.
pub fn free_below(open: &[RawFd], limit: RawFd) -> usize {
    let used = open.iter().filter(|&&fd| (0..limit).contains(&fd)).count();
    (limit.max(0) as usize).saturating_sub(used)
}

/// This process's RLIMIT_NOFILE as (soft, hard). Errors: getrlimit's.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to write into.
    crate::sys::cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Raises the soft RLIMIT_NOFILE to `want` if it is below (never past the hard limit,
/// never lowering anything). Errors: setrlimit's, or `want` above the hard limit.
pub fn raise_soft_limit(want: u64) -> io::Result<()> {
    let (soft, hard) = nofile_limit()?;
    if want <= soft {
        return Ok(());
    }
    if want > hard {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{want} fds are above the RLIMIT_NOFILE hard limit {hard}"),
        ));
    }
    let lim = libc::rlimit {
        rlim_cur: want,
        rlim_max: hard,
    };
    // SAFETY: lim is a valid rlimit; only the soft limit changes.
    crate::sys::cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot raise the RLIMIT_NOFILE soft limit to {want}: {e}"),
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_fds_fill_the_holes_first() {
        assert_eq!(nth_free(&[0, 1, 2], 1), 3);
        assert_eq!(nth_free(&[0, 1, 2], 982), 984);
        // Holes at 3 and 5.
        let open = [0, 1, 2, 4, 6, 7];
        assert_eq!(nth_free(&open, 1), 3);
        assert_eq!(nth_free(&open, 2), 5);
        assert_eq!(nth_free(&open, 3), 8);
        assert_eq!(nth_free(&open, 0), -1);
        assert_eq!(nth_free(&[], 1), 0);
        assert_eq!(free_below(&open, 8), 2);
        assert_eq!(free_below(&[0, 1, 2, 2000], 1024), 1021);
    }
}
