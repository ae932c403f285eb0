//! Every kevent constant, defined once. The documentation names them but never gives
//! their values; these are the emulation's (choice 4 in the module docs).

/// `kevent_ctl` commands.
pub const KEVENT_CTL_ADD: u32 = 0;
pub const KEVENT_CTL_REMOVE: u32 = 1;
pub const KEVENT_CTL_MODIFY: u32 = 2;
/// Marks existing requests ready; with no ukevents it wakes one parked thread.
pub const KEVENT_CTL_READY: u32 = 3;

/// Event types (`ukevent.type_`).
pub const KEVENT_SOCKET: u32 = 0;
pub const KEVENT_INODE: u32 = 1;
pub const KEVENT_TIMER: u32 = 2;
pub const KEVENT_POLL: u32 = 3;
/// Completions of [`crate::kevent::Kevent::aio_sendfile`]; cannot be added by hand.
pub const KEVENT_AIO: u32 = 5;
pub const KEVENT_PIPE: u32 = 6;
/// POSIX timer notifications: requested from kernelspace only (take27), so a userspace
/// ADD is refused with `EINVAL`.
pub const KEVENT_POSIX_TIMER: u32 = 8;
pub const KEVENT_SIGNAL: u32 = 7;
/// Private userspace notifications (take29), made ready with `KEVENT_CTL_READY`.
pub const KEVENT_USER: u32 = 9;

/// `KEVENT_SOCKET` events.
pub const KEVENT_SOCKET_RECV: u32 = 0x1;
pub const KEVENT_SOCKET_ACCEPT: u32 = 0x2;
pub const KEVENT_SOCKET_SEND: u32 = 0x4;

/// `KEVENT_PIPE` events.
pub const KEVENT_PIPE_READ: u32 = 0x1;
pub const KEVENT_PIPE_WRITE: u32 = 0x2;

/// `KEVENT_INODE` events.
pub const KEVENT_INODE_CREATE: u32 = 0x1;
pub const KEVENT_INODE_REMOVE: u32 = 0x2;

/// `KEVENT_TIMER` event.
pub const KEVENT_TIMER_FIRED: u32 = 0x1;

/// `KEVENT_SIGNAL` event.
pub const KEVENT_SIGNAL_DELIVERY: u32 = 0x1;

/// `KEVENT_AIO` event.
pub const KEVENT_AIO_SENDFILE: u32 = 0x1;

/// `KEVENT_POLL` events: the `poll(2)` bits, same values.
pub const KEVENT_POLL_POLLIN: u32 = 0x0001;
pub const KEVENT_POLL_POLLPRI: u32 = 0x0002;
pub const KEVENT_POLL_POLLOUT: u32 = 0x0004;
pub const KEVENT_POLL_POLLERR: u32 = 0x0008;
pub const KEVENT_POLL_POLLHUP: u32 = 0x0010;
/// Refused as interest: epoll cannot report an invalid fd.
pub const KEVENT_POLL_POLLNVAL: u32 = 0x0020;
pub const KEVENT_POLL_POLLRDNORM: u32 = 0x0040;
pub const KEVENT_POLL_POLLRDBAND: u32 = 0x0080;
pub const KEVENT_POLL_POLLWRNORM: u32 = 0x0100;
pub const KEVENT_POLL_POLLWRBAND: u32 = 0x0200;
pub const KEVENT_POLL_POLLMSG: u32 = 0x0400;
pub const KEVENT_POLL_POLLREMOVE: u32 = 0x1000;
pub const KEVENT_POLL_POLLRDHUP: u32 = 0x2000;

/// Request flags (`ukevent.req_flags`).
pub const KEVENT_REQ_ONESHOT: u32 = 0x1;
pub const KEVENT_REQ_ET: u32 = 0x2;
pub const KEVENT_REQ_LAST_CHECK: u32 = 0x4;
pub const KEVENT_REQ_ALWAYS_QUEUE: u32 = 0x8;
pub const KEVENT_REQ_WAKEUP_ALL: u32 = 0x10;
pub const KEVENT_REQ_READY: u32 = 0x20;
/// Every request flag this emulation honours; any other bit is `EINVAL`.
pub const KEVENT_REQ_ALL: u32 = KEVENT_REQ_ONESHOT
    | KEVENT_REQ_ET
    | KEVENT_REQ_LAST_CHECK
    | KEVENT_REQ_ALWAYS_QUEUE
    | KEVENT_REQ_WAKEUP_ALL
    | KEVENT_REQ_READY;

/// Return flags (`ukevent.ret_flags`).
pub const KEVENT_RET_BROKEN: u32 = 0x1;
pub const KEVENT_RET_DONE: u32 = 0x2;
pub const KEVENT_RET_COPY_FAILED: u32 = 0x4;

/// Waiting-call flags: the timeout is an absolute `CLOCK_REALTIME` time.
pub const KEVENT_FLAGS_ABSTIME: u32 = 0x1;
/// Every flag `kevent_get_events` / `kevent_wait` accept.
pub const KEVENT_FLAGS_ALL: u32 = KEVENT_FLAGS_ABSTIME;
/// Flags `kevent_init` accepts: none is defined for it.
pub const KEVENT_INIT_FLAGS_ALL: u32 = 0;
