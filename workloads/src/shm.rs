//! Memory shared with processes forked later: an anonymous `MAP_SHARED` mapping holding
//! one `T`. Workloads put their control block (flags, per-task counters, results) in
//! one so threads and forked processes use the same code.
use std::{io, ptr::NonNull};

/// Types that are valid when every byte is zero and safe to share between processes
/// (atomics and plain integers, no pointers).
///
/// # Safety
/// Implementors must be valid when zero-filled and contain no pointers or references
/// (the other process sees the same bytes at a different address space).
pub unsafe trait ZeroShared: Sync {}

/// One `T` in an anonymous shared mapping, zero-filled.
pub struct Shared<T: ZeroShared> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: T: Sync, and the mapping lives until drop.
unsafe impl<T: ZeroShared> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: ZeroShared> Sync for Shared<T> {}

impl<T: ZeroShared> Shared<T> {
    /// Maps a zero-filled `T` (kept across fork, so parent and children see one copy).
    pub fn new() -> io::Result<Self> {
        let len = std::mem::size_of::<T>().max(1);
        // SAFETY: anonymous shared mapping; checked for MAP_FAILED below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<T>()).ok_or_else(|| io::Error::other("mmap gave NULL"))?;
        Ok(Self { ptr, len })
    }
}

impl<T: ZeroShared> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: page-aligned, zero-filled (valid for ZeroShared) and mapped until drop.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ZeroShared> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
