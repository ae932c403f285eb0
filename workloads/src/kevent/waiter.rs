//! [`Waiter`] over the public kevent API, for the `kevent` and `kevent-ring` wait modes.
//!
//! Each watched fd is one `KEVENT_POLL` request (`id` = fd, `user` = token) with
//! `KEVENT_REQ_ET | KEVENT_REQ_ALWAYS_QUEUE`: ET keeps a still-ready fd reported at every
//! wait (kevent's ET is a requeue, i.e. level behaviour, so the wait modes are *not*
//! edge-triggered), ALWAYS_QUEUE makes an fd already ready at `add` come back from the
//! next wait instead of being completed inside `add`.
//!
//! * `kevent`: one `kevent_get_events(1, n, timeout)` per wait.
//! * `kevent-ring`: one `kevent_wait(n, uidx, timeout)`; the events are read from the
//!   ring (no syscall: the ring is user memory). The ring has [`RING_SLOTS`] = 2 ×
//!   [`BATCH`] slots and read slots are committed with `kevent_commit` only once more
//!   than [`BATCH`] are pending, so a full batch always fits and the commit (the queue
//!   lock once more) is paid once per ≥ 65 events instead of once per wait.
//!
//! Both do one syscall (`epoll_wait` inside the emulation) per wait and never allocate
//! after `add` (proved by `workloads/tests/kevent_alloc.rs`).
//!
//! Wiring into [`crate::waiter::WaitMode`]: `kevent` → `open_waiter(false)`,
//! `kevent-ring` → `open_waiter(true)`; `edge_triggered()` is false for both.
use std::{collections::HashMap, io, os::fd::RawFd, sync::Arc, time::Duration};

use super::{consts::*, kevent_init, Kevent, KeventId, Ring, Ukevent};
use crate::waiter::{Event, Interest, Waiter};

/// Events taken per wait.
pub const BATCH: u32 = 64;
/// Ring slots for `kevent-ring`: room for one batch while up to one batch of read slots
/// waits to be committed.
pub const RING_SLOTS: u32 = 2 * BATCH;

/// A [`Waiter`] on one kevent queue.
pub struct KeventWaiter {
    q: Kevent,
    ring: Option<Arc<Ring>>,
    buf: Vec<Ukevent>,
    tokens: HashMap<RawFd, u64>,
    /// Ring mode: the committed position (user index, overflow count), which the
    /// queue also holds; this waiter is the only consumer.
    uidx: (u32, u32),
    /// Ring mode: the next slot to read (the queue's kernel index).
    next: (u32, u32),
    /// Ring mode: slots read but not yet committed.
    pending: u32,
}

/// The waiter for `--wait kevent` (`ring == false`) or `--wait kevent-ring` (`true`).
pub fn open_waiter(ring: bool) -> io::Result<Box<dyn Waiter>> {
    Ok(Box::new(KeventWaiter::new(ring)?))
}

fn mask(interest: Interest) -> u32 {
    let mut m = 0;
    if interest.readable {
        m |= KEVENT_POLL_POLLIN;
    }
    if interest.writable {
        m |= KEVENT_POLL_POLLOUT;
    }
    m
}

fn request(fd: RawFd, token: u64, interest: Interest) -> Ukevent {
    Ukevent::new(
        KEVENT_POLL,
        mask(interest),
        KeventId::fd(fd),
        KEVENT_REQ_ET | KEVENT_REQ_ALWAYS_QUEUE,
    )
    .with_ptr(token)
}

/// `kevent_ctl` for one request, turning a BROKEN ret_flags into its errno.
fn ctl_one(q: &Kevent, cmd: u32, uk: &mut Ukevent) -> io::Result<()> {
    q.kevent_ctl(cmd, 1, std::slice::from_mut(uk))?;
    if uk.ret_flags & KEVENT_RET_BROKEN != 0 {
        return Err(io::Error::from_raw_os_error(uk.ret_data[0] as i32));
    }
    Ok(())
}

fn to_event(uk: &Ukevent) -> Event {
    let rev = uk.ret_data[1];
    Event {
        token: uk.ptr(),
        readable: rev & (KEVENT_POLL_POLLIN | KEVENT_POLL_POLLHUP | KEVENT_POLL_POLLERR) != 0,
        writable: rev & (KEVENT_POLL_POLLOUT | KEVENT_POLL_POLLERR) != 0,
        hangup: rev & (KEVENT_POLL_POLLHUP | KEVENT_POLL_POLLRDHUP) != 0,
        error: rev & KEVENT_POLL_POLLERR != 0,
    }
}

impl KeventWaiter {
    /// A waiter on a fresh queue; with `ring`, a ring of [`BATCH`] slots.
    pub fn new(ring: bool) -> io::Result<KeventWaiter> {
        let (q, ring) = if ring {
            let r = Arc::new(Ring::new(RING_SLOTS)?);
            (kevent_init(Some(r.clone()), RING_SLOTS, 0)?, Some(r))
        } else {
            (kevent_init(None, 0, 0)?, None)
        };
        Ok(KeventWaiter {
            q,
            ring,
            buf: vec![Ukevent::default(); BATCH as usize],
            tokens: HashMap::with_capacity(16),
            uidx: (0, 0),
            next: (0, 0),
            pending: 0,
        })
    }

    /// The queue underneath (e.g. to add other kevent types to the same wait).
    pub fn queue(&self) -> &Kevent {
        &self.q
    }
}

impl Waiter for KeventWaiter {
    fn add(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        if self.tokens.contains_key(&fd) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let mut uk = request(fd, token, interest);
        ctl_one(&self.q, KEVENT_CTL_ADD, &mut uk)?;
        self.tokens.insert(fd, token);
        Ok(())
    }

    fn modify(&mut self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let old = *self
            .tokens
            .get(&fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        if old == token {
            let mut uk = request(fd, token, interest);
            return ctl_one(&self.q, KEVENT_CTL_MODIFY, &mut uk);
        }
        // The token is part of the request's identity (user data): replace it.
        self.remove(fd)?;
        self.add(fd, token, interest)
    }

    fn remove(&mut self, fd: RawFd) -> io::Result<()> {
        let token = self
            .tokens
            .remove(&fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        let mut uk = request(fd, token, Interest::READ);
        ctl_one(&self.q, KEVENT_CTL_REMOVE, &mut uk)
    }

    fn wait(&mut self, ready: &mut [Event], timeout: Option<Duration>) -> io::Result<usize> {
        let max = u32::try_from(ready.len()).unwrap_or(u32::MAX).min(BATCH);
        if max == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        match &self.ring {
            None => {
                let n = self
                    .q
                    .kevent_get_events(1, max, timeout, &mut self.buf, 0)?
                    as usize;
                for (e, uk) in ready.iter_mut().zip(&self.buf[..n]) {
                    *e = to_event(uk);
                }
                Ok(n)
            }
            Some(ring) => {
                let size = ring.size();
                if self.pending > size - max {
                    // Not room for a whole batch: commit what was read.
                    let (nidx, nover) = self.next;
                    self.q.kevent_commit(nidx, nover)?;
                    self.uidx = self.next;
                    self.pending = 0;
                }
                let n = self.q.kevent_wait(max, self.uidx.0, timeout, 0)?;
                let (mut idx, _) = self.next;
                for e in ready.iter_mut().take(n as usize) {
                    *e = ring.read(idx).map(|uk| to_event(&uk)).unwrap_or_default();
                    idx = if idx + 1 == size { 0 } else { idx + 1 };
                }
                if n > 0 {
                    let (nidx, nover) = self.next;
                    // n <= size: at most one wrap, no division needed.
                    self.next = if nidx + n >= size {
                        (nidx + n - size, nover.wrapping_add(1))
                    } else {
                        (nidx + n, nover)
                    };
                    self.pending += n;
                } else if let Some(u) = self.q.ring_user_index() {
                    if u != self.uidx {
                        // Nothing copied and our index went stale (someone else
                        // committed through `queue()`): resynchronise so the next wait
                        // blocks again.
                        self.uidx = u;
                        self.next = u;
                        self.pending = 0;
                    }
                }
                Ok(n as usize)
            }
        }
    }
}
