//! The shared structures: `struct ukevent`, `struct kevent_id`, `struct kevent_ring`.
use std::{
    alloc::{self, Layout},
    io,
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};

/// `struct kevent_id`: the request's id (an fd, a timer period, a signal number...).
/// The C union `{ __u32 raw[2]; __u64 raw_u64; }` is the `raw` array here; use
/// [`KeventId::raw_u64`] for the 64-bit view.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeventId {
    pub raw: [u32; 2],
}

impl KeventId {
    /// `raw = [a, b]`.
    pub const fn new(a: u32, b: u32) -> Self {
        Self { raw: [a, b] }
    }
    /// An fd id: `raw[0] = fd`.
    pub const fn fd(fd: i32) -> Self {
        Self {
            raw: [fd as u32, 0],
        }
    }
    /// The union's `raw_u64` member (native byte order).
    pub fn raw_u64(self) -> u64 {
        u64::from_ne_bytes(self.bytes())
    }
    /// Builds the id from its `raw_u64` view.
    pub fn from_u64(v: u64) -> Self {
        let b = v.to_ne_bytes();
        Self {
            raw: [
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            ],
        }
    }
    fn bytes(self) -> [u8; 8] {
        let (a, b) = (self.raw[0].to_ne_bytes(), self.raw[1].to_ne_bytes());
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
    }
}

/// `struct ukevent`: a request going in, an event coming out. 40 bytes, 8-aligned;
/// `ret_data` is two u32s so `user` is 8-aligned (choice 1 in the module docs).
#[doc(alias = "ukevent")]
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ukevent {
    /// Id of this request (socket number, fd, timer period...).
    pub id: KeventId,
    /// Event type: `KEVENT_SOCKET`, `KEVENT_TIMER`, ...
    pub type_: u32,
    /// The event itself: `KEVENT_SOCKET_RECV`, `KEVENT_TIMER_FIRED`, ...
    pub event: u32,
    /// `KEVENT_REQ_*`.
    pub req_flags: u32,
    /// `KEVENT_RET_*`, set by the emulation.
    pub ret_flags: u32,
    /// Set by the event's originator (see the per-type table in the module docs).
    pub ret_data: [u32; 2],
    /// The C union `{ __u32 user[2]; void *ptr; }`: opaque, copied back untouched. See
    /// [`Ukevent::ptr`] for the pointer-sized view.
    pub user: [u32; 2],
}

const _: () = assert!(std::mem::size_of::<Ukevent>() == 40);
const _: () = assert!(std::mem::align_of::<Ukevent>() == 8);

impl Ukevent {
    /// A request: `type_`, `event`, `id`, `req_flags`; everything else zero.
    pub fn new(type_: u32, event: u32, id: KeventId, req_flags: u32) -> Self {
        Self {
            id,
            type_,
            event,
            req_flags,
            ..Self::default()
        }
    }
    /// The same request with `user` set from its 64-bit (`ptr`) view.
    pub fn with_ptr(mut self, ptr: u64) -> Self {
        self.set_ptr(ptr);
        self
    }
    /// The `user` union read as `ptr` (native byte order).
    pub fn ptr(&self) -> u64 {
        KeventId { raw: self.user }.raw_u64()
    }
    /// Writes the `user` union through its `ptr` member.
    pub fn set_ptr(&mut self, ptr: u64) {
        self.user = KeventId::from_u64(ptr).raw;
    }

    pub(crate) fn to_words(self) -> [u64; 5] {
        // SAFETY: Ukevent is 40 bytes of plain integers without padding (asserted above),
        // so every bit pattern is valid both ways.
        unsafe { std::mem::transmute::<Ukevent, [u64; 5]>(self) }
    }
    pub(crate) fn from_words(w: [u64; 5]) -> Self {
        // SAFETY: see to_words.
        unsafe { std::mem::transmute::<[u64; 5], Ukevent>(w) }
    }
}

/// One ring slot: a [`Ukevent`]'s bytes, stored as atomics so a reader racing a writer
/// (a protocol error) sees torn data, never undefined behaviour.
#[repr(C, align(8))]
struct Slot([AtomicU64; 5]);

const _: () = assert!(std::mem::size_of::<Slot>() == std::mem::size_of::<Ukevent>());

/// `struct kevent_ring { unsigned int ring_kidx, ring_over; struct ukevent event[0]; }`:
/// the header of the ring memory; `ring_size` slots follow it. Same layout as the C
/// structure (the u32s are atomics of the same size, since other threads read them
/// while the emulation writes).
#[doc(alias = "kevent_ring")]
#[repr(C)]
pub struct KeventRing {
    /// Index in the ring where the emulation puts the next event.
    pub ring_kidx: AtomicU32,
    /// Number of wraps of the user index since the start.
    pub ring_over: AtomicU32,
    event: [Slot; 0],
}

/// The ring memory: a [`KeventRing`] header followed by `size` ukevent slots, shared by
/// the queue (which writes events and the header) and the user's threads (which read
/// them and commit with [`crate::kevent::Kevent::kevent_commit`]). Share it with `Arc`.
pub struct Ring {
    ptr: NonNull<KeventRing>,
    size: u32,
    layout: Layout,
    /// Backs a queue: a ring serves one queue at a time (two writers would corrupt it).
    attached: AtomicBool,
}

// SAFETY: every field reachable through ptr is an atomic.
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

impl Ring {
    /// Allocates a zeroed ring of `size` slots. `size == 0` is `EINVAL`.
    pub fn new(size: u32) -> io::Result<Ring> {
        if size == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let layout = Layout::new::<KeventRing>()
            .extend(
                Layout::array::<Slot>(size as usize)
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
            )
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?
            .0
            .pad_to_align();
        // SAFETY: layout has non-zero size (the header alone is 8 bytes).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw.cast::<KeventRing>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Ring {
            ptr,
            size,
            layout,
            attached: AtomicBool::new(false),
        })
    }

    /// Number of slots.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The header (`ring_kidx`, `ring_over`), e.g. to hand to C code as `struct
    /// kevent_ring *`.
    pub fn header(&self) -> &KeventRing {
        // SAFETY: ptr is a live allocation starting with a KeventRing.
        unsafe { self.ptr.as_ref() }
    }

    /// `ring_kidx`: the slot the next event will go to (acquire: slots before it are
    /// written).
    pub fn kidx(&self) -> u32 {
        self.header().ring_kidx.load(Ordering::Acquire)
    }

    /// `ring_over`: wraps of the user index so far.
    pub fn over(&self) -> u32 {
        self.header().ring_over.load(Ordering::Acquire)
    }

    /// Copies slot `idx` out; `None` when `idx >= size`.
    pub fn read(&self, idx: u32) -> Option<Ukevent> {
        let s = self.slot(idx)?;
        let mut w = [0u64; 5];
        for (d, a) in w.iter_mut().zip(s.0.iter()) {
            *d = a.load(Ordering::Relaxed);
        }
        Some(Ukevent::from_words(w))
    }

    /// Claims the ring for a queue; false if another queue already uses it.
    pub(crate) fn attach(&self) -> bool {
        !self.attached.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn detach(&self) {
        self.attached.store(false, Ordering::Release);
    }

    pub(crate) fn write(&self, idx: u32, ev: &Ukevent) {
        if let Some(s) = self.slot(idx) {
            for (a, v) in s.0.iter().zip(ev.to_words()) {
                a.store(v, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn publish(&self, kidx: u32, over: u32) {
        let h = self.header();
        h.ring_over.store(over, Ordering::Release);
        h.ring_kidx.store(kidx, Ordering::Release);
    }

    fn slot(&self, idx: u32) -> Option<&Slot> {
        if idx >= self.size {
            return None;
        }
        // SAFETY: idx < size and the allocation holds size slots after the header.
        Some(unsafe {
            &*std::ptr::addr_of!((*self.ptr.as_ptr()).event)
                .cast::<Slot>()
                .add(idx as usize)
        })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: allocated in new() with this layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr().cast(), self.layout) };
    }
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("size", &self.size)
            .field("kidx", &self.kidx())
            .field("over", &self.over())
            .finish()
    }
}

/// The (index, overflow count) pair `n` slots after (`idx`, `over`) in a ring of
/// `ring_size` slots: what to pass to `kevent_commit` after processing `n` events that
/// started at `idx`.
pub fn ring_advance(idx: u32, over: u32, n: u32, ring_size: u32) -> (u32, u32) {
    if ring_size == 0 {
        return (idx, over);
    }
    let abs = idx as u64 + n as u64;
    let rs = ring_size as u64;
    ((abs % rs) as u32, over.wrapping_add((abs / rs) as u32))
}
