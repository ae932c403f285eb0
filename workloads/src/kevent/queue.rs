//! The queue: requests, the ready queue, waiting (wake-one / wake-all), the ring.
use std::{
    collections::{HashMap, VecDeque},
    io,
    mem::MaybeUninit,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    path::Path,
    sync::{Arc, Condvar, Mutex, MutexGuard, Weak},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use super::{
    consts::*,
    sources::{self, Source},
    types::{KeventId, Ring, Ukevent},
};
use crate::sys::cvt;

/// epoll token of the internal eventfd (wake-ups and the queue fd's readability).
const WAKE_TOKEN: u64 = u64::MAX;
/// epoll events collected per `epoll_wait` (on the stack: no allocation).
const EPOLL_BATCH: usize = 64;

fn err(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

fn errno_of(e: &io::Error) -> u32 {
    e.raw_os_error().unwrap_or(libc::EIO) as u32
}

/// (type, id, user): what MODIFY / REMOVE / READY match on.
type Key = (u32, u64, u64);

fn key_of(uk: &Ukevent) -> Key {
    (uk.type_, uk.id.raw_u64(), uk.ptr())
}

fn token(slot: u32, gen: u32) -> u64 {
    ((gen as u64) << 32) | slot as u64
}

struct Request {
    uk: Ukevent,
    src: Source,
    queued: bool,
    /// Made ready by READY / REQ_READY rather than by its source.
    forced: bool,
    /// Its level-triggered registration was switched to one-shot while it sat in the
    /// ready queue (so a waiter that must sleep with it queued is not woken by it again
    /// and again); restored when it is dequeued.
    disarmed: bool,
}

#[derive(Default)]
struct SlotEntry {
    gen: u32,
    req: Option<Request>,
}

/// A WAKEUP_ALL event being handed to every thread that was waiting when it was
/// dequeued.
struct Bcast {
    seq: u64,
    ev: Ukevent,
    remaining: usize,
}

struct State {
    slots: Vec<SlotEntry>,
    free: Vec<u32>,
    index: HashMap<Key, u32>,
    ready: VecDeque<u32>,
    /// fd number -> the slot whose epoll registration that number currently names.
    /// epoll keys a registration by (open file, number): once a request's file is closed
    /// and the number reused, a successful `EPOLL_CTL_ADD` of the number by another
    /// request proves the old request's registration is gone, and this table moves the
    /// number to the new request. Only the owner may `EPOLL_CTL_MOD`/`DEL` the number,
    /// so a stale request never touches the new file's registration (issue 15 bug 3).
    regs: HashMap<RawFd, u32>,
    /// A thread is blocked in epoll_wait (the others park on the condvar).
    polling: bool,
    /// Threads inside kevent_get_events / kevent_wait.
    nwaiting: usize,
    /// Pending READY-with-no-events wake-ups.
    kicks: usize,
    /// The eventfd holds a count (the queue fd is readable because of it).
    wake_pending: bool,
    bseq: u64,
    bcast: VecDeque<Bcast>,
    /// Absolute ring positions: events written, events committed.
    kabs: u64,
    uabs: u64,
    /// `kabs % ring_size`, `uabs % ring_size`, `uabs / ring_size`, kept up to date so
    /// the per-event path does no division.
    kslot: u32,
    uslot: u32,
    uwraps: u32,
    next_cookie: u64,
}

struct Inner {
    epfd: OwnedFd,
    wakefd: OwnedFd,
    ring: Option<Arc<Ring>>,
    ring_size: u32,
    st: Mutex<State>,
    cv: Condvar,
}

/// A kevent queue: the control handle `kevent_init` returns.
///
/// Cheap to clone; clones are the same queue (threads share it this way). It owns a
/// real fd — the internal epoll instance, see [`AsRawFd`] — which is readable while
/// events are pending and is closed when the last clone is dropped.
#[derive(Clone)]
pub struct Kevent {
    inner: Arc<Inner>,
}

/// What [`Kevent::aio_sendfile_path`] returns: the opened file and the cookie its
/// completion will carry in `ptr`.
#[derive(Debug)]
pub struct AioPath {
    pub cookie: u64,
    /// The opened file ("Opened file descriptor is returned"); the transfer uses its own
    /// duplicate, so closing this early is safe.
    pub fd: OwnedFd,
}

/// `kevent_init(ring, ring_size, flags)`: creates a queue.
///
/// `ring` is the optional shared ring memory and `ring_size` how many of its slots to
/// use (`1..=ring.size()`; must be 0 without a ring). No init flag is defined, so any
/// `flags` bit is `EINVAL`. A ring backs one queue at a time: `EBUSY` while another
/// queue uses it.
pub fn kevent_init(ring: Option<Arc<Ring>>, ring_size: u32, flags: u32) -> io::Result<Kevent> {
    if flags & !KEVENT_INIT_FLAGS_ALL != 0 {
        return Err(err(libc::EINVAL));
    }
    match &ring {
        Some(r) if ring_size == 0 || ring_size > r.size() => return Err(err(libc::EINVAL)),
        None if ring_size != 0 => return Err(err(libc::EINVAL)),
        _ => {}
    }
    // SAFETY: plain syscalls; the results are checked and owned at once.
    let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
    // SAFETY: as above.
    let wakefd = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::eventfd(
            0,
            libc::EFD_NONBLOCK | libc::EFD_CLOEXEC,
        ))?)
    };
    epoll_ctl(
        epfd.as_raw_fd(),
        libc::EPOLL_CTL_ADD,
        wakefd.as_raw_fd(),
        libc::EPOLLIN as u32,
        WAKE_TOKEN,
    )?;
    if let Some(r) = &ring {
        if !r.attach() {
            return Err(err(libc::EBUSY));
        }
        r.publish(0, 0);
    }
    let st = State {
        slots: Vec::with_capacity(64),
        free: Vec::with_capacity(64),
        index: HashMap::with_capacity(64),
        ready: VecDeque::with_capacity(64),
        regs: HashMap::with_capacity(64),
        polling: false,
        nwaiting: 0,
        kicks: 0,
        wake_pending: false,
        bseq: 0,
        bcast: VecDeque::with_capacity(16),
        kabs: 0,
        uabs: 0,
        kslot: 0,
        uslot: 0,
        uwraps: 0,
        next_cookie: 1,
    };
    Ok(Kevent {
        inner: Arc::new(Inner {
            epfd,
            wakefd,
            ring,
            ring_size,
            st: Mutex::new(st),
            cv: Condvar::new(),
        }),
    })
}

fn epoll_ctl(epfd: RawFd, op: i32, fd: RawFd, events: u32, tok: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: tok };
    // SAFETY: ev is a valid epoll_event.
    cvt(unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) }).map(drop)
}

/// When a wait gives up.
#[derive(Clone, Copy)]
enum Deadline {
    /// Non-blocking: collect once, return.
    Now,
    At(Instant),
    Never,
}

impl Deadline {
    /// Time left; `None` = forever.
    fn remaining(self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::At(t) => Some(t.saturating_duration_since(Instant::now())),
            Deadline::Never => None,
        }
    }
}

/// Where dequeued events go.
enum Out<'a> {
    /// kevent_get_events: the caller's buffer (and the ring, if any).
    Buf(&'a mut [Ukevent]),
    /// kevent_wait: the ring only.
    Ring,
}

/// The first `k` entries, which epoll_wait has written.
fn init_prefix(evbuf: &[MaybeUninit<libc::epoll_event>], k: usize) -> &[libc::epoll_event] {
    let k = k.min(evbuf.len());
    // SAFETY: epoll_wait returned k, so it initialised entries 0..k.
    unsafe { std::slice::from_raw_parts(evbuf.as_ptr().cast(), k) }
}

fn broken(uk: &mut Ukevent, errno: i32) {
    uk.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
    uk.ret_data = [errno as u32, 0];
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere never leaves State half-updated in a way that matters more
        // than refusing service would, so a poisoned lock is still used.
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn poke_eventfd(&self, st: &mut State) {
        if !st.wake_pending {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writes 8 bytes from a valid buffer. A failure (counter saturated)
            // still leaves the eventfd readable, which is all that is wanted.
            unsafe { libc::write(self.wakefd.as_raw_fd(), one.as_ptr().cast(), 8) };
            st.wake_pending = true;
        }
    }

    fn drain_eventfd(&self, st: &mut State) {
        let mut b = [0u8; 8];
        // SAFETY: reads 8 bytes into a valid buffer (EAGAIN is harmless).
        unsafe { libc::read(self.wakefd.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
        st.wake_pending = false;
    }

    /// Something was queued from outside a wait (READY, aio completion): wake the
    /// poller through the eventfd (which also makes the queue fd readable), or one
    /// parked thread when nobody polls.
    fn signal_ready(&self, st: &mut State) {
        self.poke_eventfd(st);
        if !st.polling {
            // Whether a parked waiter can take it depends on its min_nr.
            if st.nwaiting > 1 {
                self.cv.notify_all();
            } else {
                self.cv.notify_one();
            }
        }
    }

    fn alloc_slot(&self, st: &mut State) -> u32 {
        let slot = match st.free.pop() {
            Some(s) => s,
            None => {
                st.slots.push(SlotEntry::default());
                (st.slots.len() - 1) as u32
            }
        };
        // Reserve now so that queueing and freeing never allocate on the hot path.
        let n = st.slots.len();
        if st.ready.capacity() < n {
            st.ready.reserve(n - st.ready.len());
        }
        if st.free.capacity() < n {
            st.free.reserve(n - st.free.len());
        }
        slot
    }

    fn remove_slot(&self, st: &mut State, slot: u32) -> Option<Request> {
        let e = st.slots.get_mut(slot as usize)?;
        let req = e.req.take()?;
        e.gen = e.gen.wrapping_add(1);
        st.index.remove(&key_of(&req.uk));
        st.free.push(slot);
        if req.queued {
            st.ready.retain(|&s| s != slot);
        }
        if let Some(fd) = req.src.reg_fd() {
            if st.regs.get(&fd) == Some(&slot) {
                st.regs.remove(&fd);
                // The fd may already be closed by the user (the kernel dropped the
                // registration with the file): ENOENT/EBADF leave nothing to undo.
                let _ = epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
            }
        }
        Some(req)
    }

    /// `EPOLL_CTL_MOD` of a request's registration, if the number still names it;
    /// `EBADF` when the request's file was closed and its number now belongs to another
    /// registration.
    fn rearm(&self, st: &State, slot: u32, gen: u32, req: &Request, mask: u32) -> io::Result<()> {
        let Some(fd) = req.src.reg_fd() else {
            return Ok(());
        };
        if st.regs.get(&fd) != Some(&slot) {
            return Err(err(libc::EBADF));
        }
        epoll_ctl(
            self.epfd.as_raw_fd(),
            libc::EPOLL_CTL_MOD,
            fd,
            mask,
            token(slot, gen),
        )
    }

    fn queue(&self, st: &mut State, slot: u32, forced: bool) {
        if let Some(req) = st.slots[slot as usize].req.as_mut() {
            req.forced |= forced;
            if !req.queued {
                req.queued = true;
                st.ready.push_back(slot);
            }
        }
    }

    /// Queues the requests epoll reported. `disarm`: the caller is a waiter about to
    /// sleep again with requests still queued; a level-triggered registration reported
    /// while its request is already queued would wake it at once, forever, so it is
    /// switched to one-shot until the request is dequeued.
    fn harvest(&self, st: &mut State, evs: &[libc::epoll_event], disarm: bool) {
        for ev in evs {
            let (tok, bits) = (ev.u64, ev.events);
            if tok == WAKE_TOKEN {
                self.drain_eventfd(st);
                continue;
            }
            let (slot, gen) = (tok as u32, (tok >> 32) as u32);
            let Some(e) = st.slots.get_mut(slot as usize) else {
                continue;
            };
            if e.gen != gen {
                continue; // removed (and maybe reused) since epoll reported it
            }
            let Some(req) = e.req.as_mut() else { continue };
            sources::add_revents(&mut req.src, bits);
            if !req.queued {
                req.queued = true;
                st.ready.push_back(slot);
                continue;
            }
            let mask = req.src.epoll_mask(&req.uk);
            let level = mask & (libc::EPOLLET | libc::EPOLLONESHOT) as u32 == 0;
            if disarm && level && !req.disarmed {
                let oneshot = mask | libc::EPOLLONESHOT as u32;
                let req = st.slots[slot as usize].req.as_ref().expect("checked above");
                if self.rearm(st, slot, gen, req, oneshot).is_ok() {
                    if let Some(req) = st.slots[slot as usize].req.as_mut() {
                        req.disarmed = true;
                    }
                }
            }
        }
    }

    fn ring_free(&self, st: &State) -> usize {
        self.ring_size as usize - (st.kabs - st.uabs) as usize
    }

    fn ring_put(&self, st: &mut State, ev: &Ukevent) -> bool {
        let Some(r) = &self.ring else { return false };
        if self.ring_free(st) == 0 {
            return false;
        }
        r.write(st.kslot, ev);
        st.kabs += 1;
        st.kslot = if st.kslot + 1 == self.ring_size {
            0
        } else {
            st.kslot + 1
        };
        r.publish(st.kslot, st.uwraps);
        true
    }

    /// Hands pending broadcasts to this waiter (copying them when `out` is a buffer with
    /// room); true if there were any.
    fn take_bcasts(
        &self,
        st: &mut State,
        my_bseq: &mut u64,
        out: Option<&mut Out<'_>>,
        n: &mut usize,
        max: usize,
    ) -> bool {
        let mut woke = false;
        let mut out = out;
        for b in st.bcast.iter_mut() {
            if b.seq <= *my_bseq {
                continue;
            }
            woke = true;
            if let Some(Out::Buf(buf)) = out.as_deref_mut() {
                if *n < max {
                    buf[*n] = b.ev;
                    *n += 1;
                }
            }
            b.remaining = b.remaining.saturating_sub(1);
        }
        *my_bseq = st.bseq;
        while st.bcast.front().is_some_and(|b| b.remaining == 0) {
            st.bcast.pop_front();
        }
        woke
    }

    /// Dequeues up to `room` ready events into `out` (at `*n`); handles LAST_CHECK,
    /// ONESHOT removal and WAKEUP_ALL.
    fn dequeue(
        &self,
        st: &mut State,
        out: &mut Out<'_>,
        room: usize,
        n: &mut usize,
        my_bseq: &mut u64,
    ) {
        let mut got = 0;
        while got < room {
            let Some(slot) = st.ready.pop_front() else {
                break;
            };
            let gen = st.slots[slot as usize].gen;
            let Some(req) = st.slots[slot as usize].req.as_mut() else {
                continue;
            };
            req.queued = false;
            let disarmed = std::mem::take(&mut req.disarmed);
            let forced = std::mem::take(&mut req.forced);
            let uk = req.uk;
            let mut ev = uk;
            let consumed = req.src.consume(&uk, forced);
            // Not ready after all: back into the set of interest. ONESHOT registrations
            // were disabled by epoll when they fired.
            let rearm_oneshot =
                matches!(consumed, Ok(None)) && uk.req_flags & KEVENT_REQ_ONESHOT != 0;
            let mut rearmed = Ok(());
            if disarmed || rearm_oneshot {
                // Rare paths (a disarmed level registration, see harvest; a ONESHOT
                // false alarm): restore the request's own registration.
                if let Some(req) = st.slots[slot as usize].req.as_ref() {
                    rearmed = self.rearm(st, slot, gen, req, req.src.epoll_mask(&uk));
                }
            }
            let Some(req) = st.slots[slot as usize].req.as_mut() else {
                continue;
            };
            match consumed {
                Ok(Some(rd)) => {
                    ev.ret_data = rd;
                    ev.ret_flags = req.uk.ret_flags | KEVENT_RET_DONE;
                }
                Ok(None) => {
                    if let Err(e) = rearmed {
                        ev.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
                        ev.ret_data = [errno_of(&e), 0];
                        self.remove_slot(st, slot);
                        self.emit(st, out, ev, n);
                        got += 1;
                    }
                    continue;
                }
                Err(e) => {
                    ev.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
                    ev.ret_data = [errno_of(&e), 0];
                }
            }
            let oneshot = req.uk.req_flags & KEVENT_REQ_ONESHOT != 0 || req.uk.type_ == KEVENT_AIO;
            let wake_all = req.uk.req_flags & KEVENT_REQ_WAKEUP_ALL != 0;
            if oneshot {
                self.remove_slot(st, slot);
            }
            self.emit(st, out, ev, n);
            got += 1;
            if wake_all && st.nwaiting > 1 {
                st.bseq += 1;
                let seq = st.bseq;
                st.bcast.push_back(Bcast {
                    seq,
                    ev,
                    remaining: st.nwaiting - 1,
                });
                *my_bseq = seq;
                self.cv.notify_all();
                if st.polling {
                    self.poke_eventfd(st);
                }
            }
        }
    }

    fn emit(&self, st: &mut State, out: &mut Out<'_>, mut ev: Ukevent, n: &mut usize) {
        match out {
            Out::Buf(buf) => {
                if self.ring.is_some() && !self.ring_put(st, &ev) {
                    ev.ret_flags |= KEVENT_RET_COPY_FAILED;
                }
                buf[*n] = ev;
            }
            Out::Ring => {
                self.ring_put(st, &ev);
            }
        }
        *n += 1;
    }

    fn room(&self, st: &State, out: &Out<'_>, left: usize) -> usize {
        match out {
            Out::Buf(_) => left,
            Out::Ring => left.min(self.ring_free(st)),
        }
    }

    /// The waiting loop shared by kevent_get_events and kevent_wait.
    fn wait_events(
        &self,
        min_nr: usize,
        max: usize,
        mut deadline: Deadline,
        old_uidx: Option<u32>,
        out: &mut Out<'_>,
    ) -> io::Result<usize> {
        let mut st = self.lock();
        if let Some(u) = old_uidx {
            // kevent_wait with a stale user index: return at once with what is ready.
            if u != st.uslot {
                deadline = Deadline::Now;
            }
        }
        st.nwaiting += 1;
        let mut my_bseq = st.bseq;
        let mut n = 0usize;
        // This call has collected epoll's readiness at least once.
        let mut harvested = false;
        // Uninitialised: epoll_wait fills the first k entries, only those are read.
        let mut evbuf = [const { MaybeUninit::<libc::epoll_event>::uninit() }; EPOLL_BATCH];
        // Events are dequeued (moved out of the ready queue, ONESHOT requests removed)
        // only when this call is about to return with them: never held in one waiter's
        // buffer while it sleeps, so every waiter, and REMOVE, sees them until one
        // waiter has them (issue 15 bugs 4 and 5).
        let res = loop {
            let woke = self.take_bcasts(&mut st, &mut my_bseq, Some(out), &mut n, max);
            if woke || n >= max {
                break Ok(n);
            }
            let room = self.room(&st, out, max - n);
            let rem = deadline.remaining();
            let timed_out = rem == Some(Duration::ZERO);
            let kicked = st.kicks > 0;
            if room == 0 {
                // Full ring (kevent_wait): return once something is ready (or woken).
                if !st.ready.is_empty() || timed_out || kicked {
                    if kicked {
                        st.kicks -= 1;
                    }
                    break Ok(n);
                }
            } else if st.ready.len() >= min_nr || timed_out || kicked {
                if !harvested {
                    // About to return: collect what epoll holds too, so a wait returns
                    // everything ready now, even when queued requests turn out not
                    // ready (one extra non-blocking epoll_wait, only when events were
                    // already queued when the call began). The lock stays held: a
                    // zero-timeout epoll_wait never sleeps, and not dropping and
                    // retaking it saves two atomic operations on every non-blocking wait.
                    harvested = true;
                    let r = self.epoll_wait(&mut evbuf, 0);
                    match r {
                        Ok(k) => self.harvest(&mut st, init_prefix(&evbuf, k), false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                    continue;
                }
                if kicked {
                    st.kicks -= 1;
                }
                self.dequeue(&mut st, out, room, &mut n, &mut my_bseq);
                if n > 0 || timed_out || kicked {
                    break Ok(n);
                }
                // Every queued request turned out not ready (LAST_CHECK, nothing to
                // read): wait on.
                continue;
            }
            if !st.polling {
                st.polling = true;
                drop(st);
                let ms = match rem {
                    None => -1,
                    Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
                };
                let r = self.epoll_wait(&mut evbuf, ms);
                st = self.lock();
                st.polling = false;
                harvested = true;
                match r {
                    Ok(k) => {
                        self.harvest(&mut st, init_prefix(&evbuf, k), true);
                        if !st.ready.is_empty() && st.ready.len() < min_nr && st.nwaiting > 1 {
                            // Not enough for this waiter: one with a smaller min_nr may
                            // take them now.
                            self.cv.notify_all();
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            } else {
                st = match rem {
                    None => self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                    Some(d) => {
                        self.cv
                            .wait_timeout(st, d)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                };
            }
        };
        // Leaving: release broadcasts not taken (error path), hand polling over.
        self.take_bcasts(&mut st, &mut my_bseq, None, &mut n, 0);
        st.nwaiting -= 1;
        if st.nwaiting == 0 {
            // A READY-with-no-events wake-up is for threads parked now, never a later one.
            st.kicks = 0;
        }
        let followers = st.nwaiting - usize::from(st.polling);
        if followers > 0 {
            if !st.ready.is_empty() {
                // Which parked waiter can take them depends on its min_nr: ask them all.
                self.cv.notify_all();
            } else if !st.polling {
                // Someone has to take over epoll_wait.
                self.cv.notify_one();
            }
        }
        if !st.ready.is_empty() {
            // Events left for a later call: keep the queue fd readable for them.
            self.poke_eventfd(&mut st);
        } else if st.wake_pending && !st.polling {
            // Everything pending was taken: stop advertising it on the queue fd.
            self.drain_eventfd(&mut st);
        }
        res
    }

    fn epoll_wait(
        &self,
        evbuf: &mut [MaybeUninit<libc::epoll_event>],
        ms: i32,
    ) -> io::Result<usize> {
        // SAFETY: evbuf is valid for evbuf.len() events; the kernel only writes.
        let r = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                evbuf.as_mut_ptr().cast(),
                evbuf.len() as i32,
                ms,
            )
        };
        cvt(r).map(|k| k as usize)
    }

    /// The deadline of a wait. A timeout too far in the future for `Instant` (e.g.
    /// `Duration::MAX`, relative or absolute) waits forever rather than overflowing
    /// (issue 15 bug 1); an absolute time already past is "now".
    fn deadline(&self, timeout: Option<Duration>, flags: u32) -> Deadline {
        let Some(t) = timeout else {
            return Deadline::Never;
        };
        if t.is_zero() && flags & KEVENT_FLAGS_ABSTIME == 0 {
            // Non-blocking mode: no clock read at all (pipetest's every wait).
            return Deadline::Now;
        }
        let now = Instant::now();
        let rel = if flags & KEVENT_FLAGS_ABSTIME != 0 {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            t.saturating_sub(wall)
        } else {
            t
        };
        now.checked_add(rel).map_or(Deadline::Never, Deadline::At)
    }
}

impl Kevent {
    /// `kevent_ctl(fd, cmd, num, arg)`: applies `cmd` to `events[..num]` and returns
    /// how many ukevents were processed.
    ///
    /// Per ukevent, `ret_flags` follows the doc's Usage section: ADD leaves 0 when the
    /// request is armed, `DONE` when its source was already ready (and
    /// `KEVENT_REQ_ALWAYS_QUEUE` is not set: completed in place, not added), `BROKEN |
    /// DONE` when it failed (errno in `ret_data[0]`). MODIFY / REMOVE / READY match an
    /// existing request on type + id + user; `DONE` is always set, `BROKEN` too when
    /// nothing matched. READY with `num == 0` wakes one parked thread.
    ///
    /// A malformed batch — unknown `cmd` (`EINVAL`), unknown type (`ENOSYS`), unknown
    /// request flag or event bit (`EINVAL`), `num > events.len()` (`EINVAL`) — is
    /// refused before anything changes.
    pub fn kevent_ctl(&self, cmd: u32, num: u32, events: &mut [Ukevent]) -> io::Result<u32> {
        if cmd > KEVENT_CTL_READY {
            return Err(err(libc::EINVAL));
        }
        let evs = events
            .get_mut(..num as usize)
            .ok_or_else(|| err(libc::EINVAL))?;
        for uk in evs.iter() {
            sources::validate(uk, cmd).map_err(err)?;
        }
        let inner = &*self.inner;
        let mut st = inner.lock();
        let st = &mut *st;
        match cmd {
            KEVENT_CTL_ADD => {
                for uk in evs.iter_mut() {
                    self.add_one(st, uk);
                }
            }
            KEVENT_CTL_REMOVE => {
                for uk in evs.iter_mut() {
                    match st.index.get(&key_of(uk)).copied() {
                        Some(slot) => {
                            inner.remove_slot(st, slot);
                            uk.ret_flags = KEVENT_RET_DONE;
                        }
                        None => broken(uk, libc::ENOENT),
                    }
                }
            }
            KEVENT_CTL_MODIFY => {
                for uk in evs.iter_mut() {
                    self.modify_one(st, uk);
                }
            }
            _ => {
                if evs.is_empty() {
                    if st.nwaiting > 0 {
                        st.kicks += 1;
                        if st.nwaiting > usize::from(st.polling) {
                            inner.cv.notify_one();
                        } else {
                            inner.poke_eventfd(st);
                        }
                    }
                    return Ok(0);
                }
                let mut any = false;
                for uk in evs.iter_mut() {
                    match st.index.get(&key_of(uk)).copied() {
                        Some(slot) => {
                            if let Some(req) = st.slots[slot as usize].req.as_mut() {
                                if matches!(req.src, Source::User) {
                                    req.uk.ret_data = uk.ret_data;
                                }
                            }
                            inner.queue(st, slot, true);
                            uk.ret_flags = KEVENT_RET_DONE;
                            any = true;
                        }
                        None => broken(uk, libc::ENOENT),
                    }
                }
                if any {
                    inner.signal_ready(st);
                }
            }
        }
        Ok(num)
    }

    fn add_one(&self, st: &mut State, uk: &mut Ukevent) {
        let inner = &*self.inner;
        uk.ret_flags = 0;
        if st.index.contains_key(&key_of(uk)) {
            return broken(uk, libc::EEXIST);
        }
        let mut src = match Source::open(uk) {
            Ok(s) => s,
            Err(e) => return broken(uk, e),
        };
        let req_ready = uk.req_flags & KEVENT_REQ_READY != 0;
        if !req_ready {
            match src.ready_now(uk) {
                Err(e) => return broken(uk, errno_of(&e) as i32),
                Ok(Some(rd)) if uk.req_flags & KEVENT_REQ_ALWAYS_QUEUE == 0 => {
                    uk.ret_data = rd;
                    uk.ret_flags = KEVENT_RET_DONE;
                    return;
                }
                // Ready with ALWAYS_QUEUE: the registration below makes epoll report
                // it at the next wait.
                _ => {}
            }
        }
        let slot = inner.alloc_slot(st);
        let tok = token(slot, st.slots[slot as usize].gen);
        if let Some(fd) = src.reg_fd() {
            let mask = src.epoll_mask(uk);
            let epfd = inner.epfd.as_raw_fd();
            let mut r = epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, mask, tok);
            if matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EEXIST)) {
                // Another request watches this fd: register a duplicate instead.
                r = sources::dup_cloexec(fd).and_then(|d| {
                    let dfd = d.as_raw_fd();
                    sources::set_dup(&mut src, d);
                    epoll_ctl(epfd, libc::EPOLL_CTL_ADD, dfd, mask, tok)
                });
            }
            match r {
                // The number now names this registration, whatever request named it
                // before (see State::regs).
                Ok(()) => {
                    let reg = src.reg_fd().unwrap_or(fd);
                    st.regs.insert(reg, slot);
                }
                Err(e) => {
                    st.free.push(slot);
                    return broken(uk, errno_of(&e) as i32);
                }
            }
        }
        let mut req_uk = *uk;
        req_uk.ret_flags = 0;
        st.slots[slot as usize].req = Some(Request {
            uk: req_uk,
            src,
            queued: false,
            forced: false,
            disarmed: false,
        });
        st.index.insert(key_of(uk), slot);
        if req_ready {
            inner.queue(st, slot, true);
            inner.signal_ready(st);
        }
    }

    fn modify_one(&self, st: &mut State, uk: &mut Ukevent) {
        let inner = &*self.inner;
        let Some(slot) = st.index.get(&key_of(uk)).copied() else {
            return broken(uk, libc::ENOENT);
        };
        let gen = st.slots[slot as usize].gen;
        let Some(req) = st.slots[slot as usize].req.as_mut() else {
            return broken(uk, libc::ENOENT);
        };
        req.uk.req_flags = uk.req_flags;
        req.uk.event = uk.event;
        req.disarmed = false;
        if let Err(e) = req.src.rearm(&req.uk) {
            return broken(uk, e);
        }
        // EPOLL_CTL_MOD re-checks readiness: "requeueing is started, so modified
        // kevent can be checked and probably marked as ready immediately".
        let req = st.slots[slot as usize].req.as_ref().expect("matched above");
        if let Err(e) = inner.rearm(st, slot, gen, req, req.src.epoll_mask(&req.uk)) {
            return broken(uk, errno_of(&e) as i32);
        }
        uk.ret_flags = KEVENT_RET_DONE;
        if uk.req_flags & KEVENT_REQ_READY != 0 {
            inner.queue(st, slot, true);
            inner.signal_ready(st);
        }
    }

    /// `kevent_get_events(fd, min_nr, max_nr, timeout, buf, flags)`: waits until at
    /// least `min_nr` events are ready or the timeout passes, copies up to `max_nr` into
    /// `buf` and returns how many.
    ///
    /// `timeout`: `None` waits forever, `Some(ZERO)` is non-blocking mode (returns what
    /// is ready), otherwise relative, or absolute `CLOCK_REALTIME` with
    /// `KEVENT_FLAGS_ABSTIME`; a time beyond the monotonic clock's range (e.g.
    /// `Duration::MAX`) waits forever. While fewer than `min_nr` are ready, the ready
    /// ones stay queued for other waiters and for REMOVE (module docs, "Several
    /// waiters"). ONESHOT requests are removed as they are returned. With a
    /// ring each event is also written to it, or marked `KEVENT_RET_COPY_FAILED` when
    /// the ring is full. `EINVAL`: unknown flag, `max_nr == 0`, `max_nr > buf.len()`,
    /// `min_nr > max_nr`, or `max_nr` larger than the ring.
    pub fn kevent_get_events(
        &self,
        min_nr: u32,
        max_nr: u32,
        timeout: Option<Duration>,
        buf: &mut [Ukevent],
        flags: u32,
    ) -> io::Result<u32> {
        let inner = &*self.inner;
        if flags & !KEVENT_FLAGS_ALL != 0
            || max_nr == 0
            || max_nr as usize > buf.len()
            || min_nr > max_nr
            || (inner.ring.is_some() && max_nr > inner.ring_size)
        {
            return Err(err(libc::EINVAL));
        }
        let deadline = if min_nr == 0 {
            Deadline::Now
        } else {
            inner.deadline(timeout, flags)
        };
        let mut out = Out::Buf(&mut buf[..max_nr as usize]);
        inner
            .wait_events(
                min_nr.max(1) as usize,
                max_nr as usize,
                deadline,
                None,
                &mut out,
            )
            .map(|n| n as u32)
    }

    /// `kevent_wait(fd, num, old_uidx, timeout, flags)`: waits until at least one event
    /// is ready (or the timeout), copies up to `num` ready events into the ring and
    /// returns how many. Returns at once when `old_uidx` is not the queue's user index
    /// (another thread committed). With a full ring it returns 0 as soon as an event is
    /// ready, leaving it queued. ONESHOT requests are removed, ET ones requeued.
    ///
    /// `EINVAL`: no ring, unknown flag, `num == 0`, `num > ring_size`, `old_uidx >=
    /// ring_size`.
    pub fn kevent_wait(
        &self,
        num: u32,
        old_uidx: u32,
        timeout: Option<Duration>,
        flags: u32,
    ) -> io::Result<u32> {
        let inner = &*self.inner;
        if inner.ring.is_none()
            || flags & !KEVENT_FLAGS_ALL != 0
            || num == 0
            || num > inner.ring_size
            || old_uidx >= inner.ring_size
        {
            return Err(err(libc::EINVAL));
        }
        let deadline = inner.deadline(timeout, flags);
        inner
            .wait_events(1, num as usize, deadline, Some(old_uidx), &mut Out::Ring)
            .map(|n| n as u32)
    }

    /// `kevent_commit(fd, new_uidx, over)`: marks ring slots up to the position
    /// `over × ring_size + new_uidx` as free and returns how many this call freed. A
    /// position already committed (another thread was faster, or `over` is stale after
    /// a wrap) frees nothing and returns 0. `EINVAL`: no ring, `new_uidx >= ring_size`,
    /// or a position beyond the kernel index (slots not yet written); nothing changes.
    pub fn kevent_commit(&self, new_uidx: u32, over: u32) -> io::Result<u32> {
        let inner = &*self.inner;
        let Some(ring) = &inner.ring else {
            return Err(err(libc::EINVAL));
        };
        let rs = inner.ring_size as u64;
        if new_uidx as u64 >= rs {
            return Err(err(libc::EINVAL));
        }
        let mut st = inner.lock();
        let wraps = st.uabs / rs;
        // `over` is compared as a serial number (RFC 1982 style): the signed distance
        // from our wrap count, so a stale `over` after 2^32 wraps still reads as stale.
        let delta = over.wrapping_sub(wraps as u32) as i32 as i64;
        let target_wraps = wraps as i64 + delta;
        if target_wraps < 0 {
            return Ok(0);
        }
        // Checked: a far-future `over` must be EINVAL, not a wrapped small position.
        let pos = (target_wraps as u64)
            .checked_mul(rs)
            .and_then(|p| p.checked_add(new_uidx as u64))
            .ok_or_else(|| err(libc::EINVAL))?;
        if pos > st.kabs {
            return Err(err(libc::EINVAL));
        }
        if pos <= st.uabs {
            return Ok(0);
        }
        let n = pos - st.uabs;
        st.uabs = pos;
        st.uslot = (pos % rs) as u32;
        st.uwraps = (pos / rs) as u32;
        ring.publish(st.kslot, st.uwraps);
        Ok(n as u32)
    }

    /// The queue's user index and overflow count `(uidx, over)`: what the next
    /// `kevent_wait` expects as `old_uidx`. `None` without a ring.
    pub fn ring_user_index(&self) -> Option<(u32, u32)> {
        let inner = &*self.inner;
        inner.ring.as_ref()?;
        let rs = inner.ring_size as u64;
        let st = inner.lock();
        Some(((st.uabs % rs) as u32, (st.uabs / rs) as u32))
    }

    /// The ring given to `kevent_init`, if any.
    pub fn ring(&self) -> Option<&Arc<Ring>> {
        self.inner.ring.as_ref()
    }

    /// Number of slots of the ring in use (`ring_size` of `kevent_init`).
    pub fn ring_size(&self) -> u32 {
        self.inner.ring_size
    }

    /// `aio_sendfile(kevent_fd, sock_fd, in_fd, offset, count)`: sends `count` bytes of
    /// `in_fd` from `offset` to the socket on a worker thread and returns the cookie.
    /// The completion is a `KEVENT_AIO` / `KEVENT_AIO_SENDFILE` event with `ptr` =
    /// cookie and `ret_data` = bytes transferred (low, high 32 bits); a failed transfer
    /// is `BROKEN` with the errno in `ret_data[0]`. `ENOTSOCK` / `EBADF` / `EINVAL` for
    /// a bad socket, source fd or offset.
    pub fn aio_sendfile(
        &self,
        sock_fd: RawFd,
        in_fd: RawFd,
        offset: i64,
        count: usize,
    ) -> io::Result<u64> {
        let sock = check_sock(sock_fd)?;
        if offset < 0 {
            return Err(err(libc::EINVAL));
        }
        let file = sources::dup_cloexec(in_fd)?;
        self.aio_start(sock, file, Vec::new(), offset, count)
    }

    /// `aio_sendfile_path` (take31, header from take33): opens `path`, sends `header`
    /// (if any) then `count` bytes of the file from `offset` to the socket on a worker
    /// thread. Returns the opened file and the completion's cookie; `ret_data` counts
    /// header and file bytes.
    pub fn aio_sendfile_path(
        &self,
        sock_fd: RawFd,
        path: &Path,
        header: Option<&[u8]>,
        offset: i64,
        count: usize,
    ) -> io::Result<AioPath> {
        let sock = check_sock(sock_fd)?;
        if offset < 0 {
            return Err(err(libc::EINVAL));
        }
        let fd: OwnedFd = std::fs::File::open(path)?.into();
        let worker_fd = sources::dup_cloexec(fd.as_raw_fd())?;
        let cookie = self.aio_start(
            sock,
            worker_fd,
            header.map(<[u8]>::to_vec).unwrap_or_default(),
            offset,
            count,
        )?;
        Ok(AioPath { cookie, fd })
    }

    fn aio_start(
        &self,
        sock: OwnedFd,
        file: OwnedFd,
        header: Vec<u8>,
        offset: i64,
        count: usize,
    ) -> io::Result<u64> {
        let inner = &*self.inner;
        let (slot, gen, cookie) = {
            let mut st = inner.lock();
            let st = &mut *st;
            let cookie = st.next_cookie;
            st.next_cookie += 1;
            let uk = Ukevent::new(
                KEVENT_AIO,
                KEVENT_AIO_SENDFILE,
                KeventId::from_u64(cookie),
                KEVENT_REQ_ONESHOT,
            )
            .with_ptr(cookie);
            let slot = inner.alloc_slot(st);
            st.slots[slot as usize].req = Some(Request {
                uk,
                src: Source::Aio,
                queued: false,
                forced: false,
                disarmed: false,
            });
            st.index.insert(key_of(&uk), slot);
            (slot, st.slots[slot as usize].gen, cookie)
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("kevent-aio".into())
            .spawn(move || {
                let r = transfer(sock.as_raw_fd(), file.as_raw_fd(), &header, offset, count);
                drop((sock, file));
                let Some(inner) = weak.upgrade() else { return };
                let mut st = inner.lock();
                let st = &mut *st;
                let Some(e) = st.slots.get_mut(slot as usize) else {
                    return;
                };
                if e.gen != gen {
                    return; // removed by the user meanwhile
                }
                if let Some(req) = e.req.as_mut() {
                    match r {
                        Ok(b) => req.uk.ret_data = [b as u32, (b >> 32) as u32],
                        Err(e) => {
                            req.uk.ret_flags = KEVENT_RET_BROKEN;
                            req.uk.ret_data = [errno_of(&e), 0];
                        }
                    }
                }
                inner.queue(st, slot, true);
                inner.signal_ready(st);
            });
        if let Err(e) = spawned {
            let mut st = inner.lock();
            inner.remove_slot(&mut st, slot);
            return Err(e);
        }
        Ok(cookie)
    }
}

fn check_sock(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid to write.
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(err(libc::ENOTSOCK));
    }
    sources::dup_cloexec(fd)
}

fn wait_writable(sock: RawFd) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd: sock,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: p is one valid pollfd.
        match cvt(unsafe { libc::poll(&mut p, 1, -1) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// The worker's transfer: header by send(2), then sendfile(2) until `count` bytes or
/// end of file. Bytes sent.
fn transfer(sock: RawFd, file: RawFd, header: &[u8], offset: i64, count: usize) -> io::Result<u64> {
    let mut sent = 0u64;
    let mut pos = 0;
    while pos < header.len() {
        // SAFETY: the slice is valid for its length.
        let r = unsafe {
            libc::send(
                sock,
                header[pos..].as_ptr().cast(),
                header.len() - pos,
                libc::MSG_NOSIGNAL,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => wait_writable(sock)?,
                _ => return Err(e),
            }
        } else {
            pos += r as usize;
            sent += r as u64;
        }
    }
    let mut off: libc::off_t = offset;
    let mut left = count;
    while left > 0 {
        // SAFETY: off is a valid off_t to update.
        let r = unsafe { libc::sendfile(sock, file, &mut off, left) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => wait_writable(sock)?,
                _ => return Err(e),
            }
        } else if r == 0 {
            break; // end of file
        } else {
            left -= r as usize;
            sent += r as u64;
        }
    }
    Ok(sent)
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(r) = &self.ring {
            r.detach();
        }
    }
}

impl AsRawFd for Kevent {
    /// The queue's own fd (poll it for "events pending").
    fn as_raw_fd(&self) -> RawFd {
        self.inner.epfd.as_raw_fd()
    }
}

impl AsFd for Kevent {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.epfd.as_fd()
    }
}

impl std::fmt::Debug for Kevent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kevent")
            .field("fd", &self.inner.epfd.as_raw_fd())
            .field("ring_size", &self.inner.ring_size)
            .finish()
    }
}
