use std::{
    io,
    os::fd::RawFd,
    ptr::{self, NonNull},
    sync::atomic::{AtomicU32, Ordering},
};

use super::Channel;

/// A futex word counting pending messages: `signal` adds 1 and always calls FUTEX_WAKE
/// (one syscall per message, like a pipe write), `consume` takes the whole count or
/// sleeps in FUTEX_WAIT while it is 0. It is the floor an fd mechanism pays on top of:
/// the same sleep and wakeup, without a file.
///
/// For threads the word is a private heap word and the ops are FUTEX_*_PRIVATE; across
/// processes it sits in its own `MAP_SHARED` page (shared by fork) and the ops are the
/// non-private ones, which key the futex on the page rather than the address space.
pub struct FutexChannel {
    word: NonNull<AtomicU32>,
    shared: bool,
    nonblocking: bool,
}

// SAFETY: the word is only accessed atomically, and it lives until drop.
unsafe impl Send for FutexChannel {}
// SAFETY: as above.
unsafe impl Sync for FutexChannel {}

impl FutexChannel {
    pub fn new(nonblocking: bool, cross_process: bool) -> io::Result<Self> {
        let word = if cross_process {
            // SAFETY: anonymous shared mapping; checked for MAP_FAILED below.
            let p = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    page_size(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            // Anonymous mappings are zero-filled: a valid AtomicU32 holding 0.
            NonNull::new(p.cast::<AtomicU32>()).ok_or_else(|| io::Error::other("mmap gave NULL"))?
        } else {
            NonNull::from(Box::leak(Box::new(AtomicU32::new(0))))
        };
        Ok(Self {
            word,
            shared: cross_process,
            nonblocking,
        })
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: valid until drop (see new).
        unsafe { self.word.as_ref() }
    }

    fn op(&self, op: libc::c_int) -> libc::c_int {
        if self.shared {
            op
        } else {
            op | libc::FUTEX_PRIVATE_FLAG
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

impl Drop for FutexChannel {
    fn drop(&mut self) {
        if self.shared {
            // SAFETY: the mapping made in new, unmapped once.
            unsafe { libc::munmap(self.word.as_ptr().cast(), page_size()) };
        } else {
            // SAFETY: the Box leaked in new, reclaimed once.
            drop(unsafe { Box::from_raw(self.word.as_ptr()) });
        }
    }
}

impl Channel for FutexChannel {
    fn wait_fd(&self) -> Option<RawFd> {
        None
    }

    fn signal(&self) -> io::Result<()> {
        self.word().fetch_add(1, Ordering::Release);
        // SAFETY: the word is a valid, aligned u32 for the duration of the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                self.op(libc::FUTEX_WAKE),
                1,
                ptr::null::<libc::timespec>(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn consume(&self) -> io::Result<u64> {
        loop {
            let n = self.word().swap(0, Ordering::Acquire);
            if n > 0 || self.nonblocking {
                return Ok(n as u64);
            }
            // SAFETY: as in signal; FUTEX_WAIT sleeps only while the word is still 0.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    self.op(libc::FUTEX_WAIT),
                    0,
                    ptr::null::<libc::timespec>(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                // EAGAIN: the word changed before we slept; EINTR: a signal. Look again.
                if !matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR)) {
                    return Err(e);
                }
            }
        }
    }
}
