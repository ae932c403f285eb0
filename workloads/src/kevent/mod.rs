//! Emulated kevent: Evgeniy Polyakov's kevent API (take35, never merged) in userspace.
//!
//! The kernel code is gone, so this module provides the documented calls one to one on
//! top of epoll, timerfd, signalfd, eventfd and inotify:
//!
//! | documented call | here |
//! |---|---|
//! | `kevent_init(ring, ring_size, flags)` | [`kevent_init`] → [`Kevent`] |
//! | `kevent_ctl(fd, cmd, num, arg)` | [`Kevent::kevent_ctl`] |
//! | `kevent_get_events(fd, min_nr, max_nr, timeout, buf, flags)` | [`Kevent::kevent_get_events`] |
//! | `kevent_wait(fd, num, old_uidx, timeout, flags)` | [`Kevent::kevent_wait`] |
//! | `kevent_commit(fd, new_uidx, over)` | [`Kevent::kevent_commit`] |
//! | `aio_sendfile(kevent_fd, sock, in_fd, offset, count)` | [`Kevent::aio_sendfile`] |
//! | `aio_sendfile_path(...)` (take31/33) | [`Kevent::aio_sendfile_path`] |
//! | `struct ukevent`, `struct kevent_id` | [`Ukevent`], [`KeventId`] (`#[repr(C)]`) |
//! | `struct kevent_ring` | [`KeventRing`] (`#[repr(C)]`), owned by [`Ring`] |
//! | `KEVENT_*` constants | [`consts`] (the one place they are defined) |
//!
//! A "negative error value" of the C API is an `Err(io::Error)` carrying the errno
//! (`EINVAL`, `ENOSYS`, ...). Per-request outcomes of `kevent_ctl` are reported the
//! documented way, in each ukevent's `ret_flags`; when a request is `BROKEN` its
//! `ret_data[0]` carries the errno that explains why.
//!
//! The [`Kevent`] handle owns a real file descriptor (the internal epoll instance): the
//! queue itself can be polled (it is readable while something is ready or pending), and
//! it is closed when the last clone of the handle is dropped. Clones share the queue, so
//! several threads can wait on one queue; waking them (one, or all with
//! `KEVENT_REQ_WAKEUP_ALL`) is done by this module, not inherited from epoll.
//!
//! # Model
//!
//! A request (one ukevent added with `KEVENT_CTL_ADD`) is identified by its type, its
//! `id` and its `user` data (take29 added the type to the search key; the Usage section
//! matches MODIFY/REMOVE on id + user). A request is either *armed* (in the set of
//! interest of its source: an fd, a timer, a signal, an inode, a user notification) or
//! *ready* (in the queue's ready queue, at most once). `kevent_get_events` and
//! `kevent_wait` dequeue ready requests and copy them out; after that a request is:
//!
//! * `KEVENT_REQ_ONESHOT`: removed.
//! * `KEVENT_REQ_ET`: put straight back into the set of interest and checked again, so it
//!   is reported by every wait while its source stays ready (the doc's definition: "move
//!   ready and dequeued event into set of interest again ... useful when the same event
//!   should be used many times (like reading from pipe)"). This is *not* epoll's EPOLLET;
//!   for fd sources it is a level-triggered epoll registration, which costs no syscall.
//! * neither: left armed, and reported again at the source's next readiness change (the
//!   kernel's callbacks ran on state changes; for fds this is an EPOLLET registration).
//!
//! # Choices where the documentation is ambiguous or contradicts itself
//!
//! Each is pinned by a conformance test whose name says the choice
//! (`workloads/tests/kevent_conformance.rs`).
//!
//! 1. **`ret_data`** is called a `__u32` but the structure is said to be 8-byte aligned
//!    with the user union "aligned properly": here it is `[u32; 2]` (8 bytes), so `user`
//!    sits at offset 32 of a 40-byte, 8-aligned [`Ukevent`]. `ret_data[0]` carries the
//!    documented value; `ret_data[1]` the extra half described per type below.
//! 2. **Timer `ret_data`** ("number of milliseconds when timer has fired"): `ret_data[0]`
//!    is the time, in milliseconds after the request was added (the doc's "after
//!    commit"), at which the latest consumed expiry was due, i.e. `expirations × period`;
//!    `ret_data[1]` is how many expirations this delivery consumed. The doc's second
//!    `id.raw[0]` is a typo: `id.raw[0]` = seconds, `id.raw[1]` = nanoseconds.
//! 3. **Timeouts** are a timespec since take25 (the doc still says milliseconds):
//!    `Option<Duration>`, `None` = wait forever (the doc's "-1"), `Some(ZERO)` =
//!    non-blocking mode; with [`consts::KEVENT_FLAGS_ABSTIME`] the duration is an
//!    absolute `CLOCK_REALTIME` time since the Unix epoch. A time too far ahead for the
//!    monotonic clock (`Duration::MAX`, relative or absolute) waits forever; an absolute
//!    time already past is non-blocking mode.
//! 4. **Constant values** are never given by the doc; [`consts`] fixes them.
//! 5. **`KEVENT_REQ_ET`** follows the mechanism the doc describes (requeue into the set
//!    of interest), not the "similar to EPOLLET" remark; see the Model above.
//! 6. **Ready at ADD**: without `KEVENT_REQ_ALWAYS_QUEUE` a request whose source is
//!    already ready is completed in place: `ret_flags = DONE`, `ret_data` filled, and it
//!    is *not* added. With the flag it is added and reported by the next wait. An armed
//!    request comes back with `ret_flags == 0`; a failed one with `BROKEN | DONE`.
//! 7. **`KEVENT_REQ_READY`** always queues (it asks for the request to be marked ready,
//!    which means: in the ready queue); the ALWAYS_QUEUE rule is about a source *found*
//!    ready by the check at enqueue.
//! 8. **`kevent_ctl` return**: the number of ukevents processed, i.e. `num` when the
//!    call is accepted. A malformed batch (unknown cmd, type, flag or event bit, `num`
//!    beyond the slice) is refused as a whole before anything changes: `EINVAL`, or
//!    `ENOSYS` for an unknown type (take25: "return -ENOSYS if there is no registered
//!    event type"). Failures that depend on the source (fd not open: `EBADF`; not a
//!    FIFO/socket; duplicate request: `EEXIST`) are per request: `BROKEN | DONE`.
//! 9. **`KEVENT_CTL_READY` with zero events** wakes one thread parked in
//!    `kevent_get_events`/`kevent_wait` (the doc: "parked in syscall thread"), which
//!    returns what it has, possibly nothing. With no thread parked it does nothing, as a
//!    kernel wake-up of an empty wait queue does. READY on a user request copies the
//!    supplied `ret_data` into the event, so a notification can carry a payload.
//! 10. **`KEVENT_REQ_WAKEUP_ALL`**: every thread waiting on the queue when such a request
//!     is dequeued returns; in `kevent_get_events` each one receives a copy of the event
//!     (in `kevent_wait` the one ring copy is shared, and the others return 0). Without
//!     the flag only the first waiting thread is woken.
//! 11. **`kevent_wait(num, ...)`**: `num` ("number of processed kevents" in the doc, a
//!     left-over of take14) is the most events to copy into the ring this call.
//!     `old_uidx` different from the queue's user index returns at once with whatever is
//!     ready. With a full ring it waits until an event is ready and returns 0 without
//!     dequeuing anything (nothing is lost; the events wait for free slots).
//! 12. **Ring indexes**: all `ring_size` slots are usable. `ring_kidx` is the next slot
//!     the emulation writes; `ring_over` counts wraps of the user index. A commit names
//!     the absolute position `over × ring_size + new_uidx`: positions already committed
//!     commit nothing (returns 0: the stale/racing thread), positions beyond the kernel
//!     index are `EINVAL`. [`ring_advance`] computes the pair for "n slots further".
//! 13. **Ring in `kevent_get_events`**: `max_nr` larger than the ring is `EINVAL`; each
//!     returned event is also written to the ring, or gets `KEVENT_RET_COPY_FAILED` when
//!     the ring is full.
//! 14. **Returned events** carry `ret_flags = DONE` (plus `COPY_FAILED`; `BROKEN` for a
//!     failed aio). `id`, `type`, `event`, `req_flags` and `user` are returned as
//!     requested, untouched.
//! 15. **`KEVENT_REQ_LAST_CHECK`** re-polls an fd source at dequeue (one `poll(2)`, only
//!     for requests with the flag); timer, signal and inode sources are always consumed
//!     at dequeue, which is their check. A request failing the check goes back to its
//!     set of interest. The kernel's "bit cleared during the check" is internal and not
//!     observable here.
//! 16. **Types this emulation cannot honour from userspace** are refused: adding
//!     `KEVENT_AIO` directly (use [`Kevent::aio_sendfile`]) or `KEVENT_POSIX_TIMER`
//!     (kernelspace only, take27) is `EINVAL`; `POLLNVAL` interest (epoll cannot report
//!     it) is `EINVAL`; `SIGKILL`/`SIGSTOP`, and fds epoll refuses (regular files:
//!     `EPERM`), are `BROKEN`. Nothing is ever silently ignored.
//! 17. **Queue creation**: the doc's "opening /dev/kevent" predates take24's
//!     `kevent_init`; only `kevent_init` exists here. The "cancellation point" remark has
//!     no Rust counterpart (no thread cancellation); events already copied to the ring
//!     stay there until committed, so another thread can process them.
//! 18. **aio worker threads**: take31's round-robin "trivial scheduler" is replaced by
//!     one worker thread per `aio_sendfile` call; the completion is the same event.
//! 19. **Ring memory** is a heap allocation ([`Ring`]) shared by `Arc` between the
//!     threads of one process; sharing it between processes is not provided.
//!
//! # Per-type fields
//!
//! | type | `id` | `event` bits | `ret_data[0]` / `[1]` on delivery |
//! |---|---|---|---|
//! | `KEVENT_SOCKET` | `raw[0]` = socket fd | `RECV`, `SEND`, `ACCEPT` | ready subset / poll revents |
//! | `KEVENT_PIPE` | `raw[0]` = FIFO fd | `READ`, `WRITE` | ready subset / poll revents |
//! | `KEVENT_POLL` | `raw[0]` = any fd | `KEVENT_POLL_POLL*` (= `POLL*`) | revents & requested / all revents |
//! | `KEVENT_TIMER` | `raw[0]` s, `raw[1]` ns | `TIMER_FIRED` | ms when fired / expirations |
//! | `KEVENT_USER` | anything | anything | as given to `KEVENT_CTL_READY` |
//! | `KEVENT_SIGNAL` | `raw[0]` = signo | `SIGNAL_DELIVERY` | signo / deliveries consumed |
//! | `KEVENT_INODE` | `raw[0]` = directory fd | `INODE_CREATE`, `INODE_REMOVE` | bits seen / inotify events |
//! | `KEVENT_AIO` | cookie | `AIO_SENDFILE` | bytes low / high 32 bits (errno / 0 if BROKEN) |
//!
//! Signals follow signalfd's rule: the signal must be blocked (in every thread that could
//! take it) for the request to see it, and a signal directed at one thread is seen by
//! waits made on that thread. Fd requests watch the fd they name; remove a
//! request before closing its fd.
//!
//! # Several waiters, `min_nr`
//!
//! A waiting call takes ready events out of the ready queue only at the moment it
//! returns with them: while it has fewer than its `min_nr`, the events stay queued,
//! visible to every other waiter (a `min_nr = 1` waiter takes them at once) and to
//! REMOVE (which finds a ready, undelivered ONESHOT request). Before returning, a call
//! collects what epoll holds once more, so it returns everything ready at that moment
//! (up to `max_nr`), as the kernel's ready queue would. If every queued request turns
//! out not ready when dequeued (`KEVENT_REQ_LAST_CHECK`, nothing left to read), the call
//! waits on; if some are delivered it returns with them even below `min_nr`, since an
//! event is never held in a sleeping waiter's buffer.
//!
//! # Closing an fd that a request names
//!
//! The damage stays on that request. The queue's epoll registrations are keyed by
//! (open file, fd number); the queue keeps, per fd number, which request's registration
//! the number currently names. A successful `EPOLL_CTL_ADD` of a number (by a new
//! request on a new file that reused it, or the emulation's own timerfd / signalfd /
//! inotify fd / dup getting it) moves the number to the new request, and only the
//! owner's REMOVE / MODIFY / re-arm touches the number: REMOVE of the stale request
//! answers DONE and leaves the new registration alone, MODIFY of it answers `EBADF`.
//! Cost: one hash-map update per ADD and REMOVE of an fd-backed request, no syscall and
//! no extra fd (a dup per registration would keep closed pipes open and double the fds;
//! an `fstat` identity check would cost a syscall per REMOVE and cannot tell a pipe's
//! two ends apart). Limit (the kernel's: epoll forgets a registration only when its file
//! is closed or through the fd number it was made with): if the stale request's file is
//! still open elsewhere — the user dup'd it, or the emulation's own dup made for a second
//! request on the same fd — its old registration stays in the epoll set, unreachable,
//! until that file is closed. Its reports are dropped (they carry the removed request's
//! generation), but a level-triggered one is re-reported by every `epoll_wait` while its
//! file stays ready, so every waiter on the queue wakes at once and spins until its
//! timeout (an independent tester measured 270–420 ms of CPU in a 1 s wait). Removing a
//! request before closing its fd, as kevent-api-doc.txt's Usage section does, avoids it.
pub mod consts;
mod queue;
mod sources;
mod types;
pub mod waiter;

pub use queue::{kevent_init, AioPath, Kevent};
pub use types::{ring_advance, KeventId, KeventRing, Ring, Ukevent};
pub use waiter::{open_waiter, KeventWaiter};
