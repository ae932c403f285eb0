//! Conformance of the kevent emulation to its documentation
//! (`Documentation/kevent.txt` of take35 and the take35 change log).
//!
//! One test per documented behaviour, named after it, in the doc's order: structures,
//! kevent_init, kevent_ctl (Usage section), kevent_get_events, kevent_wait /
//! kevent_commit, request flags, event types, aio_sendfile, then bad input. Where the doc
//! is ambiguous the test name states the choice (see the module docs of
//! `workloads::kevent`).
use std::{
    io,
    mem::{align_of, offset_of, size_of},
    os::fd::{AsRawFd, OwnedFd},
    sync::{mpsc, Arc, Barrier},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use workloads::{
    kevent::{consts::*, kevent_init, ring_advance, Kevent, KeventId, KeventRing, Ring, Ukevent},
    sys,
    waiter::{Event, Interest},
};

const LONG: Duration = Duration::from_secs(20);
const BOUND: Duration = Duration::from_secs(10);
const ZERO: Option<Duration> = Some(Duration::ZERO);

fn q() -> Kevent {
    kevent_init(None, 0, 0).expect("kevent_init")
}

fn qr(n: u32) -> (Kevent, Arc<Ring>) {
    let r = Arc::new(Ring::new(n).expect("ring"));
    (kevent_init(Some(r.clone()), n, 0).expect("kevent_init"), r)
}

fn errno(e: io::Error) -> i32 {
    e.raw_os_error().expect("an errno")
}

fn user(id: u32, flags: u32) -> Ukevent {
    Ukevent::new(KEVENT_USER, 1, KeventId::new(id, 0), flags)
}

fn ctl(q: &Kevent, cmd: u32, uk: &mut [Ukevent]) -> u32 {
    q.kevent_ctl(cmd, uk.len() as u32, uk).expect("kevent_ctl")
}

fn add(q: &Kevent, uk: Ukevent) -> Ukevent {
    let mut a = [uk];
    assert_eq!(ctl(q, KEVENT_CTL_ADD, &mut a), 1);
    a[0]
}

fn one(q: &Kevent, cmd: u32, uk: Ukevent) -> Ukevent {
    let mut a = [uk];
    assert_eq!(ctl(q, cmd, &mut a), 1);
    a[0]
}

fn get(q: &Kevent, min: u32, max: u32, t: Option<Duration>) -> Vec<Ukevent> {
    let mut buf = vec![Ukevent::default(); max as usize];
    let n = q
        .kevent_get_events(min, max, t, &mut buf, 0)
        .expect("get_events");
    buf.truncate(n as usize);
    buf
}

fn pipe() -> (OwnedFd, OwnedFd) {
    sys::pipe(true).expect("pipe")
}

fn put(fd: &OwnedFd, n: usize) {
    assert_eq!(
        sys::write(fd.as_raw_fd(), &vec![b'x'; n]).expect("write"),
        n
    );
}

fn drain(fd: &OwnedFd) -> usize {
    let mut b = [0u8; 4096];
    sys::read(fd.as_raw_fd(), &mut b).unwrap_or(0)
}

fn gettid() -> i32 {
    // SAFETY: plain syscall.
    unsafe { libc::gettid() }
}

/// The scheduler state letter of one of our threads (/proc/self/task/<tid>/stat).
fn task_state(tid: i32) -> char {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    s.rfind(')')
        .and_then(|i| s[i + 1..].trim_start().chars().next())
        .unwrap_or('?')
}

/// Waits (bounded) until the thread sleeps (state S) on two consecutive looks.
fn wait_sleeping(tid: i32) {
    let end = Instant::now() + BOUND;
    let mut streak = 0;
    while Instant::now() < end {
        if task_state(tid) == 'S' {
            streak += 1;
            if streak == 3 {
                return;
            }
        } else {
            streak = 0;
        }
        thread::sleep(Duration::from_millis(5));
    }
    panic!(
        "thread {tid} never went to sleep (state {})",
        task_state(tid)
    );
}

type Res = io::Result<Vec<Ukevent>>;

/// Runs `f` on a new thread; returns its tid and where its result arrives.
fn spawn_waiter<F>(q: &Kevent, f: F) -> (i32, mpsc::Receiver<Res>)
where
    F: FnOnce(&Kevent) -> Res + Send + 'static,
{
    let q = q.clone();
    let (ttx, trx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = ttx.send(gettid());
        let _ = tx.send(f(&q));
    });
    (trx.recv_timeout(BOUND).expect("tid"), rx)
}

fn getter(min: u32, max: u32, t: Option<Duration>) -> impl FnOnce(&Kevent) -> Res {
    move |q: &Kevent| {
        let mut buf = vec![Ukevent::default(); max as usize];
        let n = q.kevent_get_events(min, max, t, &mut buf, 0)?;
        buf.truncate(n as usize);
        Ok(buf)
    }
}

// ---------------------------------------------------------------- structures

#[test]
fn ukevent_is_40_bytes_with_ret_data_as_two_u32_so_the_user_union_is_8_aligned() {
    assert_eq!(size_of::<Ukevent>(), 40);
    assert_eq!(align_of::<Ukevent>(), 8);
    assert_eq!(offset_of!(Ukevent, id), 0);
    assert_eq!(offset_of!(Ukevent, type_), 8);
    assert_eq!(offset_of!(Ukevent, event), 12);
    assert_eq!(offset_of!(Ukevent, req_flags), 16);
    assert_eq!(offset_of!(Ukevent, ret_flags), 20);
    assert_eq!(offset_of!(Ukevent, ret_data), 24);
    assert_eq!(offset_of!(Ukevent, user), 32);
    let mut u = Ukevent::default();
    u.set_ptr(0x1122_3344_5566_7788);
    assert_eq!(u.ptr(), 0x1122_3344_5566_7788);
    assert_eq!(
        KeventId::from_u64(0xdead_beef_0000_0001).raw_u64(),
        0xdead_beef_0000_0001
    );
}

#[test]
fn kevent_ring_is_kidx_and_over_u32s_followed_by_the_events() {
    assert_eq!(size_of::<KeventRing>(), 8);
    assert_eq!(offset_of!(KeventRing, ring_kidx), 0);
    assert_eq!(offset_of!(KeventRing, ring_over), 4);
    let r = Ring::new(3).unwrap();
    assert_eq!((r.size(), r.kidx(), r.over()), (3, 0, 0));
    assert_eq!(r.read(2), Some(Ukevent::default()));
    assert_eq!(r.read(3), None);
}

// ---------------------------------------------------------------- kevent_init

#[test]
fn init_returns_a_pollable_queue_fd_that_closes_on_drop() {
    let q = q();
    let fd = q.as_raw_fd();
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert_eq!(link.to_string_lossy(), "anon_inode:[eventpoll]");
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(
        unsafe { libc::poll(&mut p, 1, 0) },
        0,
        "nothing pending yet"
    );
    add(&q, user(1, KEVENT_REQ_READY));
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::poll(&mut p, 1, 0) },
        1,
        "a ready event makes it readable"
    );
    assert_eq!(get(&q, 1, 1, ZERO).len(), 1);
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    drop(q);
    // The number may be reused by another test's fd at once; then it is not our epoll.
    let after = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok();
    assert_ne!(
        after.as_deref(),
        Some(info.as_str()),
        "queue fd still open after drop"
    );
}

#[test]
fn queue_fd_stays_readable_while_collected_events_wait_for_a_later_call() {
    let q = q();
    let pipes: Vec<_> = (0..3).map(|_| pipe()).collect();
    for (r, w) in &pipes {
        add(
            &q,
            Ukevent::new(
                KEVENT_PIPE,
                KEVENT_PIPE_READ,
                KeventId::fd(r.as_raw_fd()),
                0,
            ),
        );
        put(w, 1);
    }
    assert_eq!(get(&q, 1, 1, Some(BOUND)).len(), 1);
    let mut p = libc::pollfd {
        fd: q.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(
        unsafe { libc::poll(&mut p, 1, 0) },
        1,
        "two events still pending"
    );
    assert_eq!(get(&q, 1, 4, ZERO).len(), 2);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 0, "nothing pending");
}

#[test]
fn init_rejects_flags_since_none_is_defined_for_it() {
    assert_eq!(
        errno(kevent_init(None, 0, KEVENT_FLAGS_ABSTIME).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(kevent_init(None, 0, 0x8000).unwrap_err()),
        libc::EINVAL
    );
}

#[test]
fn init_rejects_ring_size_zero_larger_than_the_ring_or_without_a_ring() {
    let r = Arc::new(Ring::new(4).unwrap());
    assert_eq!(
        errno(kevent_init(Some(r.clone()), 0, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(kevent_init(Some(r.clone()), 5, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(errno(kevent_init(None, 4, 0).unwrap_err()), libc::EINVAL);
    assert_eq!(errno(Ring::new(0).unwrap_err()), libc::EINVAL);
    assert_eq!(kevent_init(Some(r), 3, 0).unwrap().ring_size(), 3);
}

#[test]
fn ring_backs_one_queue_at_a_time_and_a_second_init_is_ebusy() {
    let r = Arc::new(Ring::new(4).unwrap());
    let q1 = kevent_init(Some(r.clone()), 4, 0).unwrap();
    assert_eq!(
        errno(kevent_init(Some(r.clone()), 4, 0).unwrap_err()),
        libc::EBUSY
    );
    drop(q1);
    assert!(
        kevent_init(Some(r), 4, 0).is_ok(),
        "free again once the queue is gone"
    );
}

// ---------------------------------------------------------------- kevent_ctl

#[test]
fn ctl_add_returns_number_processed_and_armed_requests_have_ret_flags_clear() {
    let q = q();
    let mut a = [user(1, 0), user(2, 0), user(3, KEVENT_REQ_ONESHOT)];
    for u in &mut a {
        u.ret_flags = 0xff; // stale input must be overwritten
    }
    assert_eq!(ctl(&q, KEVENT_CTL_ADD, &mut a), 3);
    assert!(a.iter().all(|u| u.ret_flags == 0));
}

#[test]
fn ctl_add_of_source_already_ready_without_always_queue_is_done_in_place_and_not_added() {
    let q = q();
    let (r, w) = pipe();
    put(&w, 3);
    let uk = add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(uk.ret_flags, KEVENT_RET_DONE);
    assert_eq!(uk.ret_data[0], KEVENT_PIPE_READ);
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0, "not queued");
    let rm = one(&q, KEVENT_CTL_REMOVE, uk);
    assert_eq!(
        rm.ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE,
        "not added either"
    );
}

#[test]
fn always_queue_adds_a_request_ready_at_enqueue_and_queues_it() {
    let q = q();
    let (r, w) = pipe();
    put(&w, 3);
    let req = Ukevent::new(
        KEVENT_PIPE,
        KEVENT_PIPE_READ,
        KeventId::fd(r.as_raw_fd()),
        KEVENT_REQ_ALWAYS_QUEUE,
    );
    assert_eq!(add(&q, req).ret_flags, 0);
    let ev = get(&q, 1, 4, ZERO);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].id, KeventId::fd(r.as_raw_fd()));
    assert_eq!(ev[0].ret_data[0], KEVENT_PIPE_READ);
}

#[test]
fn ctl_modify_matches_id_and_user_replaces_event_and_req_flags_and_rechecks_readiness() {
    let q = q();
    let (_r, w) = pipe();
    let id = KeventId::fd(w.as_raw_fd());
    // POLLIN on a pipe's write end never becomes ready.
    let req = Ukevent::new(KEVENT_POLL, KEVENT_POLL_POLLIN, id, 0).with_ptr(7);
    assert_eq!(add(&q, req).ret_flags, 0);
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0);
    let m = Ukevent::new(KEVENT_POLL, KEVENT_POLL_POLLOUT, id, KEVENT_REQ_ONESHOT).with_ptr(7);
    assert_eq!(one(&q, KEVENT_CTL_MODIFY, m).ret_flags, KEVENT_RET_DONE);
    let ev = get(&q, 1, 4, ZERO);
    assert_eq!(
        ev.len(),
        1,
        "modified request is checked and found ready at once"
    );
    assert_eq!(ev[0].event, KEVENT_POLL_POLLOUT);
    assert_eq!(ev[0].req_flags, KEVENT_REQ_ONESHOT);
    assert_eq!(ev[0].ret_data[0], KEVENT_POLL_POLLOUT);
    // The new ONESHOT flag applied: it is gone.
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, m).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

#[test]
fn ctl_modify_without_matching_id_and_user_sets_broken_and_done() {
    let q = q();
    add(&q, user(1, 0).with_ptr(1));
    let m = one(
        &q,
        KEVENT_CTL_MODIFY,
        user(1, KEVENT_REQ_ONESHOT).with_ptr(2),
    );
    assert_eq!(m.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
    let m = one(&q, KEVENT_CTL_MODIFY, user(2, 0).with_ptr(1));
    assert_eq!(m.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
    let m = one(&q, KEVENT_CTL_MODIFY, user(1, 0).with_ptr(1));
    assert_eq!(m.ret_flags, KEVENT_RET_DONE);
}

#[test]
fn ctl_remove_matches_id_and_user_and_a_removed_request_is_never_reported() {
    let q = q();
    add(&q, user(5, 0).with_ptr(1));
    add(&q, user(5, 0).with_ptr(2));
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, user(5, 0).with_ptr(1)).ret_flags,
        KEVENT_RET_DONE
    );
    let mut r = [user(5, 0).with_ptr(1), user(5, 0).with_ptr(2)];
    assert_eq!(ctl(&q, KEVENT_CTL_READY, &mut r), 2);
    assert_eq!(r[0].ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
    assert_eq!(r[1].ret_flags, KEVENT_RET_DONE);
    let ev = get(&q, 1, 4, ZERO);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ptr(), 2);
}

#[test]
fn ctl_remove_without_match_sets_broken_and_done() {
    let q = q();
    let r = one(&q, KEVENT_CTL_REMOVE, user(9, 0));
    assert_eq!(r.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
    assert_eq!(r.ret_data[0], libc::ENOENT as u32);
}

#[test]
fn removed_request_that_was_ready_is_not_copied_into_the_ring() {
    let (q, ring) = qr(4);
    add(&q, user(1, KEVENT_REQ_READY));
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, user(1, 0)).ret_flags,
        KEVENT_RET_DONE
    );
    assert_eq!(q.kevent_wait(4, 0, ZERO, 0).unwrap(), 0);
    assert_eq!(ring.kidx(), 0);
}

#[test]
fn ctl_ready_marks_an_existing_request_ready() {
    let q = q();
    add(&q, user(1, 0));
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0);
    assert_eq!(
        one(&q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
        KEVENT_RET_DONE
    );
    let ev = get(&q, 1, 4, ZERO);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].id.raw[0], 1);
}

#[test]
fn ctl_ready_without_match_sets_broken_and_done() {
    let q = q();
    let r = one(&q, KEVENT_CTL_READY, user(1, 0));
    assert_eq!(r.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
}

#[test]
fn ctl_ready_with_zero_events_wakes_the_parked_thread_which_returns_nothing() {
    let q = q();
    let (tid, rx) = spawn_waiter(&q, getter(1, 4, Some(LONG)));
    wait_sleeping(tid);
    assert_eq!(q.kevent_ctl(KEVENT_CTL_READY, 0, &mut []).unwrap(), 0);
    let ev = rx.recv_timeout(BOUND).expect("woken").unwrap();
    assert_eq!(ev.len(), 0);
}

#[test]
fn ctl_ready_with_zero_events_and_no_parked_thread_wakes_nobody_later() {
    let q = q();
    assert_eq!(q.kevent_ctl(KEVENT_CTL_READY, 0, &mut []).unwrap(), 0);
    // A later waiter is not woken by that earlier wake-up: it sleeps.
    let (tid, rx) = spawn_waiter(&q, getter(1, 4, Some(LONG)));
    wait_sleeping(tid);
    assert!(rx.try_recv().is_err());
    q.kevent_ctl(KEVENT_CTL_READY, 0, &mut []).unwrap();
    assert_eq!(rx.recv_timeout(BOUND).expect("woken").unwrap().len(), 0);
}

#[test]
fn ctl_ready_copies_ret_data_into_a_user_notification_and_user_data_is_untouched() {
    let q = q();
    add(&q, user(3, 0).with_ptr(0xabcd_0000_1234));
    let mut r = user(3, 0).with_ptr(0xabcd_0000_1234);
    r.ret_data = [11, 22];
    one(&q, KEVENT_CTL_READY, r);
    let ev = get(&q, 1, 1, ZERO);
    assert_eq!(ev[0].ret_data, [11, 22]);
    assert_eq!(ev[0].ptr(), 0xabcd_0000_1234);
}

#[test]
fn search_key_includes_the_type_so_one_id_can_have_several_types() {
    let q = q();
    let (r, _w) = pipe();
    let id = KeventId::fd(r.as_raw_fd());
    assert_eq!(add(&q, Ukevent::new(KEVENT_USER, 1, id, 0)).ret_flags, 0);
    assert_eq!(
        add(&q, Ukevent::new(KEVENT_POLL, KEVENT_POLL_POLLIN, id, 0)).ret_flags,
        0
    );
    assert_eq!(
        add(&q, Ukevent::new(KEVENT_PIPE, KEVENT_PIPE_READ, id, 0)).ret_flags,
        0
    );
}

#[test]
fn duplicate_add_of_same_type_id_and_user_is_broken_with_eexist() {
    let q = q();
    add(&q, user(1, 0));
    let d = add(&q, user(1, 0));
    assert_eq!(d.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
    assert_eq!(d.ret_data[0], libc::EEXIST as u32);
}

#[test]
fn two_requests_on_one_fd_are_both_reported() {
    let q = q();
    let (r, w) = pipe();
    let id = KeventId::fd(r.as_raw_fd());
    add(
        &q,
        Ukevent::new(KEVENT_POLL, KEVENT_POLL_POLLIN, id, 0).with_ptr(1),
    );
    add(
        &q,
        Ukevent::new(KEVENT_POLL, KEVENT_POLL_POLLIN, id, 0).with_ptr(2),
    );
    put(&w, 1);
    let mut users: Vec<u64> = get(&q, 2, 4, Some(BOUND)).iter().map(|e| e.ptr()).collect();
    users.sort();
    assert_eq!(users, vec![1, 2]);
}

// ---------------------------------------------------------------- kevent_get_events

#[test]
fn get_events_blocks_until_min_nr_events_are_ready() {
    let q = q();
    add(&q, user(1, 0));
    add(&q, user(2, 0));
    let (tid, rx) = spawn_waiter(&q, getter(2, 4, Some(LONG)));
    wait_sleeping(tid);
    one(&q, KEVENT_CTL_READY, user(1, 0));
    wait_sleeping(tid);
    assert!(rx.try_recv().is_err(), "returned with fewer than min_nr");
    one(&q, KEVENT_CTL_READY, user(2, 0));
    let ev = rx.recv_timeout(BOUND).expect("returned").unwrap();
    assert_eq!(ev.len(), 2);
}

#[test]
fn get_events_returns_fewer_than_min_nr_when_the_timeout_expires() {
    let q = q();
    add(&q, user(1, KEVENT_REQ_READY));
    let ev = get(&q, 2, 2, Some(Duration::from_millis(30)));
    assert_eq!(ev.len(), 1);
}

#[test]
fn get_events_copies_at_most_max_nr_and_leaves_the_rest_ready() {
    let q = q();
    for i in 0..5 {
        add(&q, user(i, KEVENT_REQ_READY));
    }
    assert_eq!(get(&q, 1, 3, ZERO).len(), 3);
    assert_eq!(get(&q, 1, 3, ZERO).len(), 2);
    assert_eq!(get(&q, 1, 3, ZERO).len(), 0);
}

#[test]
fn get_events_in_non_blocking_mode_returns_what_is_ready() {
    let q = q();
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0);
    let (r, w) = pipe();
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
    );
    add(&q, user(1, KEVENT_REQ_READY));
    put(&w, 1);
    assert_eq!(
        get(&q, 4, 4, ZERO).len(),
        2,
        "min_nr does not block in non-blocking mode"
    );
}

#[test]
fn get_events_with_forever_timeout_returns_when_an_event_arrives() {
    let q = q();
    add(&q, user(1, 0));
    let (tid, rx) = spawn_waiter(&q, getter(1, 1, None));
    wait_sleeping(tid);
    one(&q, KEVENT_CTL_READY, user(1, 0));
    assert_eq!(rx.recv_timeout(BOUND).expect("returned").unwrap().len(), 1);
}

#[test]
fn get_events_abstime_timeout_is_an_absolute_realtime_timespec() {
    let q = q();
    // 1970-01-12: long past as an absolute time; 11 days as a relative one.
    let (_, rx) = spawn_waiter(&q, |q| {
        let mut b = [Ukevent::default(); 1];
        let t = Some(Duration::from_secs(1_000_000));
        q.kevent_get_events(1, 1, t, &mut b, KEVENT_FLAGS_ABSTIME)
            .map(|n| b[..n as usize].to_vec())
    });
    assert_eq!(
        rx.recv_timeout(BOUND)
            .expect("past deadline returns")
            .unwrap()
            .len(),
        0
    );
    // An hour from now: blocks until woken.
    let (tid, rx) = spawn_waiter(&q, |q| {
        let mut b = [Ukevent::default(); 1];
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let t = Some(now + Duration::from_secs(3600));
        q.kevent_get_events(1, 1, t, &mut b, KEVENT_FLAGS_ABSTIME)
            .map(|n| b[..n as usize].to_vec())
    });
    wait_sleeping(tid);
    q.kevent_ctl(KEVENT_CTL_READY, 0, &mut []).unwrap();
    assert_eq!(rx.recv_timeout(BOUND).expect("woken").unwrap().len(), 0);
}

#[test]
fn get_events_deletes_oneshot_requests() {
    let q = q();
    add(&q, user(1, KEVENT_REQ_ONESHOT | KEVENT_REQ_READY));
    assert_eq!(get(&q, 1, 4, ZERO).len(), 1);
    assert_eq!(
        one(&q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0);
}

#[test]
fn get_events_also_copies_events_into_the_ring_when_there_is_one() {
    let (q, ring) = qr(4);
    add(&q, user(1, KEVENT_REQ_READY));
    add(&q, user(2, KEVENT_REQ_READY));
    let ev = get(&q, 1, 4, ZERO);
    assert_eq!(ev.len(), 2);
    assert_eq!(ring.kidx(), 2);
    assert_eq!(ring.read(0), Some(ev[0]));
    assert_eq!(ring.read(1), Some(ev[1]));
    assert!(ev.iter().all(|e| e.ret_flags == KEVENT_RET_DONE));
}

#[test]
fn get_events_sets_copy_failed_when_the_ring_is_full() {
    let (q, ring) = qr(2);
    for i in 0..3 {
        add(&q, user(i, KEVENT_REQ_READY));
    }
    let ev = get(&q, 1, 2, ZERO);
    assert!(ev.iter().all(|e| e.ret_flags == KEVENT_RET_DONE));
    let ev = get(&q, 1, 2, ZERO);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ret_flags, KEVENT_RET_DONE | KEVENT_RET_COPY_FAILED);
    assert_eq!(ring.kidx(), 0, "two written, wrapped, nothing more");
}

#[test]
fn returned_event_is_the_entire_structure_with_request_fields_and_user_untouched() {
    let q = q();
    let req = Ukevent::new(KEVENT_USER, 0x5a5a, KeventId::new(77, 88), KEVENT_REQ_READY)
        .with_ptr(0x0102_0304_0506_0708);
    add(&q, req);
    let ev = get(&q, 1, 1, ZERO)[0];
    assert_eq!(
        (ev.id, ev.type_, ev.event, ev.req_flags, ev.ptr()),
        (req.id, req.type_, req.event, req.req_flags, req.ptr())
    );
    assert_eq!(ev.ret_flags, KEVENT_RET_DONE);
}

// ---------------------------------------------------------------- kevent_wait / kevent_commit

#[test]
fn wait_copies_ready_events_into_the_ring_and_advances_kidx() {
    let (q, ring) = qr(8);
    for i in 0..3 {
        add(&q, user(i, KEVENT_REQ_READY));
    }
    assert_eq!(q.kevent_wait(8, 0, Some(BOUND), 0).unwrap(), 3);
    assert_eq!(ring.kidx(), 3);
    let mut ids: Vec<u32> = (0..3).map(|i| ring.read(i).unwrap().id.raw[0]).collect();
    ids.sort();
    assert_eq!(ids, vec![0, 1, 2]);
}

#[test]
fn wait_returns_immediately_when_old_uidx_is_stale() {
    let (q, _ring) = qr(4);
    add(&q, user(1, KEVENT_REQ_READY));
    assert_eq!(q.kevent_wait(4, 0, None, 0).unwrap(), 1);
    assert_eq!(q.kevent_commit(1, 0).unwrap(), 1);
    // The user index is now 1; a thread that still believes 0 returns at once even
    // with a forever timeout and nothing ready.
    let (_, rx) = spawn_waiter(&q, |q| {
        q.kevent_wait(4, 0, None, 0)
            .map(|n| vec![Ukevent::default(); n as usize])
    });
    assert_eq!(rx.recv_timeout(BOUND).expect("returned").unwrap().len(), 0);
}

#[test]
fn wait_with_a_full_ring_returns_zero_and_keeps_the_events_queued() {
    let (q, ring) = qr(2);
    for i in 0..3 {
        add(&q, user(i, KEVENT_REQ_READY));
    }
    assert_eq!(q.kevent_wait(2, 0, Some(BOUND), 0).unwrap(), 2);
    assert_eq!(
        q.kevent_wait(2, 0, None, 0).unwrap(),
        0,
        "full ring, an event ready"
    );
    assert_eq!(q.kevent_commit(0, 1).unwrap(), 2);
    assert_eq!(
        q.kevent_wait(2, 0, Some(BOUND), 0).unwrap(),
        1,
        "the kept event"
    );
    assert_eq!(ring.kidx(), 1);
    assert_eq!(
        ring.read(0).unwrap().id.raw[0],
        2,
        "the third event, in slot 0 after the wrap"
    );
}

#[test]
fn wait_removes_oneshot_requests() {
    let (q, _ring) = qr(4);
    add(&q, user(1, KEVENT_REQ_ONESHOT | KEVENT_REQ_READY));
    assert_eq!(q.kevent_wait(4, 0, Some(BOUND), 0).unwrap(), 1);
    assert_eq!(
        one(&q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

#[test]
fn wait_requeues_et_requests() {
    let (q, ring) = qr(4);
    let (r, w) = pipe();
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            KEVENT_REQ_ET,
        ),
    );
    put(&w, 1);
    assert_eq!(q.kevent_wait(4, 0, Some(BOUND), 0).unwrap(), 1);
    assert_eq!(q.kevent_commit(1, 0).unwrap(), 1);
    assert_eq!(
        q.kevent_wait(4, 1, Some(BOUND), 0).unwrap(),
        1,
        "still readable: requeued"
    );
    assert_eq!(ring.kidx(), 2);
}

#[test]
fn commit_frees_slots_and_returns_how_many_this_call_committed() {
    let (q, ring) = qr(4);
    for i in 0..4 {
        add(&q, user(i, KEVENT_REQ_READY));
    }
    assert_eq!(q.kevent_wait(4, 0, Some(BOUND), 0).unwrap(), 4);
    assert_eq!(q.kevent_commit(1, 0).unwrap(), 1);
    assert_eq!(q.kevent_commit(3, 0).unwrap(), 2);
    assert_eq!(
        q.kevent_commit(2, 0).unwrap(),
        0,
        "already committed by an earlier call"
    );
    assert_eq!(
        q.kevent_commit(0, 1).unwrap(),
        1,
        "position 4 = index 0 after one wrap"
    );
    assert_eq!((ring.over(), q.ring_user_index()), (1, Some((0, 1))));
}

#[test]
fn commit_with_a_stale_overflow_count_after_a_wrap_frees_nothing() {
    let (q, ring) = qr(2);
    add(&q, user(1, 0));
    let round = |q: &Kevent, uidx: u32| {
        one(q, KEVENT_CTL_READY, user(1, 0));
        assert_eq!(q.kevent_wait(1, uidx, Some(BOUND), 0).unwrap(), 1);
    };
    round(&q, 0);
    round(&q, 0);
    assert_eq!(q.kevent_commit(0, 1).unwrap(), 2);
    assert_eq!(ring.over(), 1);
    round(&q, 0);
    // A thread scheduled away since before the wrap frees "index 1" of round 0: that
    // position (1) is long committed, although index 1 is uncommitted in this round.
    assert_eq!(q.kevent_commit(1, 0).unwrap(), 0);
    assert_eq!(
        q.kevent_commit(1, 1).unwrap(),
        1,
        "the current over frees it"
    );
}

#[test]
fn ring_over_counts_every_wrap_of_the_user_index() {
    let (q, ring) = qr(3);
    for i in 0..3 {
        add(&q, user(i, 0));
    }
    for round in 1..=5u32 {
        let mut r = [user(0, 0), user(1, 0), user(2, 0)];
        ctl(&q, KEVENT_CTL_READY, &mut r);
        assert_eq!(q.kevent_wait(3, 0, Some(BOUND), 0).unwrap(), 3);
        assert_eq!(q.kevent_commit(0, round).unwrap(), 3);
        assert_eq!(ring.over(), round);
    }
}

#[test]
fn racing_committers_commit_every_slot_exactly_once_over_three_wraps() {
    const RING: u32 = 4;
    const ROUNDS: u32 = 6; // 24 slots through a 4-slot ring: 6 wraps
    const RACERS: usize = 5; // 4 committing prefixes of the round + 1 stale thread
    let (q, _ring) = qr(RING);
    for i in 0..RING {
        add(&q, user(i, 0));
    }
    let start_bar = Arc::new(Barrier::new(RACERS + 1));
    let end_bar = Arc::new(Barrier::new(RACERS + 1));
    let (tx, rx) = mpsc::channel::<(u32, u64, u32)>();
    let pos = Arc::new(std::sync::Mutex::new((0u32, 0u32, 0u32))); // (uidx, over, round)
    let mut hs = Vec::new();
    for t in 0..RACERS {
        let (q, sb, eb, tx, pos) = (
            q.clone(),
            start_bar.clone(),
            end_bar.clone(),
            tx.clone(),
            pos.clone(),
        );
        hs.push(thread::spawn(move || {
            for _ in 0..ROUNDS {
                sb.wait();
                let (uidx, over, round) = *pos.lock().unwrap();
                let (idx, ov) = if t < RING as usize {
                    ring_advance(uidx, over, t as u32 + 1, RING)
                } else {
                    // Stale: believes the ring is where it was two rounds ago.
                    ring_advance(uidx, over.wrapping_sub(2), 2, RING)
                };
                let n = q.kevent_commit(idx, ov).expect("commit");
                let abs = ov as u64 * RING as u64 + idx as u64;
                tx.send((round, abs, n)).unwrap();
                eb.wait();
            }
        }));
    }
    drop(tx);
    let mut credited = vec![0u32; (RING * ROUNDS) as usize];
    for round in 0..ROUNDS {
        let mut r: Vec<Ukevent> = (0..RING).map(|i| user(i, 0)).collect();
        ctl(&q, KEVENT_CTL_READY, &mut r);
        let (uidx, over) = q.ring_user_index().unwrap();
        assert_eq!(q.kevent_wait(RING, uidx, Some(BOUND), 0).unwrap(), RING);
        *pos.lock().unwrap() = (uidx, over, round);
        start_bar.wait();
        end_bar.wait();
        let mut total = 0;
        for _ in 0..RACERS {
            let (rd, abs, n) = rx.recv_timeout(BOUND).expect("committer");
            assert_eq!(rd, round);
            for p in abs - n as u64..abs {
                credited[p as usize] += 1;
            }
            total += n;
        }
        assert_eq!(total, RING, "round {round}: each slot committed once");
    }
    for h in hs {
        h.join().unwrap();
    }
    assert!(
        credited.iter().all(|&c| c == 1),
        "every slot exactly once: {credited:?}"
    );
    assert_eq!(q.ring_user_index(), Some((0, ROUNDS)));
}

// ---------------------------------------------------------------- request flags

#[test]
fn req_et_requeues_the_dequeued_event_into_the_set_of_interest_unlike_epollet() {
    let q = q();
    let (r, w) = pipe();
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            KEVENT_REQ_ET,
        ),
    );
    put(&w, 1);
    for _ in 0..3 {
        assert_eq!(
            get(&q, 1, 1, ZERO).len(),
            1,
            "reported while it stays readable"
        );
    }
    drain(&r);
    assert_eq!(get(&q, 1, 1, ZERO).len(), 0);
}

#[test]
fn plain_request_is_reported_once_per_readiness_change() {
    let q = q();
    let (r, w) = pipe();
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
    );
    put(&w, 1);
    assert_eq!(get(&q, 1, 1, ZERO).len(), 1);
    assert_eq!(
        get(&q, 1, 1, ZERO).len(),
        0,
        "same readiness, not reported again"
    );
    put(&w, 1);
    assert_eq!(get(&q, 1, 1, ZERO).len(), 1, "new data, reported again");
}

#[test]
fn req_oneshot_request_is_removed_when_ready() {
    let q = q();
    let (r, w) = pipe();
    let req = Ukevent::new(
        KEVENT_PIPE,
        KEVENT_PIPE_READ,
        KeventId::fd(r.as_raw_fd()),
        KEVENT_REQ_ONESHOT,
    );
    add(&q, req);
    put(&w, 1);
    assert_eq!(get(&q, 1, 1, Some(BOUND)).len(), 1);
    put(&w, 1);
    assert_eq!(get(&q, 1, 1, ZERO).len(), 0);
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, req).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

/// A request on `q` made ready by `fire`: a user notification (READY) or a pipe (data).
struct Trigger {
    _pipe: Option<(OwnedFd, OwnedFd)>,
    fire: Box<dyn Fn(&Kevent)>,
}

fn trigger(q: &Kevent, on_pipe: bool, flags: u32) -> Trigger {
    if on_pipe {
        let (r, w) = pipe();
        add(
            q,
            Ukevent::new(
                KEVENT_PIPE,
                KEVENT_PIPE_READ,
                KeventId::fd(r.as_raw_fd()),
                flags,
            ),
        );
        let wfd = w.as_raw_fd();
        Trigger {
            _pipe: Some((r, w)),
            fire: Box::new(move |_| assert_eq!(sys::write(wfd, b"x").unwrap(), 1)),
        }
    } else {
        add(q, user(1, flags));
        Trigger {
            _pipe: None,
            fire: Box::new(|q| {
                assert_eq!(
                    one(q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
                    KEVENT_RET_DONE
                )
            }),
        }
    }
}

fn wake_one(on_pipe: bool) {
    const N: usize = 3;
    let q = q();
    let t = trigger(&q, on_pipe, 0);
    let waiters: Vec<_> = (0..N)
        .map(|_| spawn_waiter(&q, getter(1, 1, Some(LONG))))
        .collect();
    for (tid, _) in &waiters {
        wait_sleeping(*tid);
    }
    (t.fire)(&q);
    // Exactly one returns with the event...
    let end = Instant::now() + BOUND;
    let mut done: Vec<usize> = Vec::new();
    while done.is_empty() && Instant::now() < end {
        for (i, (_, rx)) in waiters.iter().enumerate() {
            if let Ok(r) = rx.try_recv() {
                assert_eq!(r.unwrap().len(), 1);
                done.push(i);
            }
        }
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(done.len(), 1, "one thread woke");
    // ...and the others are back (or still) asleep, not returned.
    for (i, (tid, _)) in waiters.iter().enumerate() {
        if i != done[0] {
            wait_sleeping(*tid);
        }
    }
    thread::sleep(Duration::from_millis(100));
    for (i, (tid, rx)) in waiters.iter().enumerate() {
        if i != done[0] {
            assert!(rx.try_recv().is_err(), "thread {i} returned too");
            assert_eq!(task_state(*tid), 'S');
        }
    }
    // Release the rest.
    add(&q, user(2, KEVENT_REQ_WAKEUP_ALL | KEVENT_REQ_READY));
    for (i, (_, rx)) in waiters.iter().enumerate() {
        if i != done[0] {
            assert_eq!(rx.recv_timeout(BOUND).expect("released").unwrap().len(), 1);
        }
    }
}

#[test]
fn without_wakeup_all_only_the_first_waiting_thread_wakes_and_the_others_stay_asleep() {
    wake_one(false);
}

#[test]
fn without_wakeup_all_a_pipe_event_wakes_only_the_first_waiting_thread() {
    wake_one(true);
}

fn wake_all(on_pipe: bool) {
    const N: usize = 4;
    let q = q();
    let t = trigger(&q, on_pipe, KEVENT_REQ_WAKEUP_ALL);
    let waiters: Vec<_> = (0..N)
        .map(|_| spawn_waiter(&q, getter(1, 4, Some(LONG))))
        .collect();
    for (tid, _) in &waiters {
        wait_sleeping(*tid);
    }
    (t.fire)(&q);
    let mut returned = 0;
    for (_, rx) in &waiters {
        let ev = rx.recv_timeout(BOUND).expect("woken").unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].req_flags, KEVENT_REQ_WAKEUP_ALL);
        returned += 1;
    }
    assert_eq!(returned, N);
}

#[test]
fn wakeup_all_wakes_every_waiting_thread_and_each_gets_the_event() {
    wake_all(false);
}

#[test]
fn wakeup_all_on_a_pipe_event_wakes_every_waiting_thread() {
    wake_all(true);
}

#[test]
fn wakeup_all_in_kevent_wait_returns_every_waiter_with_one_ring_copy() {
    const N: usize = 3;
    let (q, ring) = qr(4);
    add(&q, user(9, KEVENT_REQ_WAKEUP_ALL));
    let waiters: Vec<_> = (0..N)
        .map(|_| {
            spawn_waiter(&q, |q| {
                q.kevent_wait(4, 0, Some(LONG), 0)
                    .map(|n| vec![Ukevent::default(); n as usize])
            })
        })
        .collect();
    for (tid, _) in &waiters {
        wait_sleeping(*tid);
    }
    one(&q, KEVENT_CTL_READY, user(9, 0));
    let copied: usize = waiters
        .iter()
        .map(|(_, rx)| rx.recv_timeout(BOUND).expect("woken").unwrap().len())
        .sum();
    assert_eq!(copied, 1);
    assert_eq!(ring.kidx(), 1);
}

#[test]
fn last_check_requeues_an_event_whose_fd_became_not_ready_before_dequeue() {
    let q = q();
    let (ra, wa) = pipe();
    let (rb, wb) = pipe();
    let flags = KEVENT_REQ_LAST_CHECK;
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(ra.as_raw_fd()),
            flags,
        ),
    );
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(rb.as_raw_fd()),
            flags,
        ),
    );
    put(&wa, 1);
    put(&wb, 1);
    // Both become ready; the first call takes one and leaves the other in the ready
    // queue.
    let first = get(&q, 1, 1, Some(BOUND));
    assert_eq!(first.len(), 1);
    let other = if first[0].id.raw[0] == ra.as_raw_fd() as u32 {
        &rb
    } else {
        &ra
    };
    // The other fd stops being readable between readiness and dequeue.
    assert_eq!(drain(other), 1);
    assert_eq!(
        get(&q, 1, 4, ZERO).len(),
        0,
        "last check found it not ready"
    );
    // Requeued into its set of interest: new data reports it again.
    put(if std::ptr::eq(other, &rb) { &wb } else { &wa }, 1);
    let again = get(&q, 1, 4, Some(BOUND));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id.raw[0], other.as_raw_fd() as u32);
}

#[test]
fn racing_waiters_on_one_queue_receive_every_ready_event_exactly_once() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    const THREADS: usize = 4;
    const EVENTS: u32 = 2000;
    let q = q();
    let stop = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..THREADS)
        .map(|_| {
            let (q, stop, taken) = (q.clone(), stop.clone(), taken.clone());
            thread::spawn(move || {
                let mut ids = Vec::new();
                let mut buf = [Ukevent::default(); 8];
                while !stop.load(Relaxed) {
                    let t = Some(Duration::from_millis(20));
                    let n = q.kevent_get_events(1, 8, t, &mut buf, 0).unwrap();
                    ids.extend(buf[..n as usize].iter().map(|e| e.id.raw[0]));
                    taken.fetch_add(n as usize, Relaxed);
                }
                ids
            })
        })
        .collect();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(10) {
        let mut a: Vec<Ukevent> = chunk
            .iter()
            .map(|&i| user(i, KEVENT_REQ_ONESHOT | KEVENT_REQ_READY))
            .collect();
        ctl(&q, KEVENT_CTL_ADD, &mut a);
    }
    let end = Instant::now() + BOUND;
    while taken.load(Relaxed) < EVENTS as usize && Instant::now() < end {
        thread::sleep(Duration::from_millis(5));
    }
    // Anything delivered twice would show up now, before the waiters stop.
    thread::sleep(Duration::from_millis(50));
    stop.store(true, Relaxed);
    let mut all: Vec<u32> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (EVENTS as usize, EVENTS as usize),
        "each event exactly once"
    );
    assert_eq!(all.first().copied(), Some(0));
    assert_eq!(all.last().copied(), Some(EVENTS - 1));
}

#[test]
fn without_last_check_an_event_that_became_not_ready_is_still_delivered() {
    let q = q();
    let (ra, wa) = pipe();
    let (rb, wb) = pipe();
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(ra.as_raw_fd()),
            0,
        ),
    );
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(rb.as_raw_fd()),
            0,
        ),
    );
    put(&wa, 1);
    put(&wb, 1);
    let first = get(&q, 1, 1, Some(BOUND));
    let other = if first[0].id.raw[0] == ra.as_raw_fd() as u32 {
        &rb
    } else {
        &ra
    };
    assert_eq!(drain(other), 1);
    assert_eq!(get(&q, 1, 4, ZERO).len(), 1, "stale readiness delivered");
}

#[test]
fn req_ready_marks_the_request_ready_at_enqueue_and_queues_it() {
    let q = q();
    let a = add(&q, user(1, KEVENT_REQ_READY));
    assert_eq!(a.ret_flags, 0, "queued, not completed in place");
    let ev = get(&q, 1, 4, ZERO);
    assert_eq!(ev.len(), 1);
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0);
}

// ---------------------------------------------------------------- event types

fn socketpair() -> (OwnedFd, OwnedFd) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a.into(), b.into())
}

#[test]
fn socket_recv_and_send_events() {
    let q = q();
    let (a, b) = socketpair();
    add(
        &q,
        Ukevent::new(
            KEVENT_SOCKET,
            KEVENT_SOCKET_RECV,
            KeventId::fd(a.as_raw_fd()),
            0,
        ),
    );
    let s = add(
        &q,
        Ukevent::new(
            KEVENT_SOCKET,
            KEVENT_SOCKET_SEND,
            KeventId::fd(b.as_raw_fd()),
            KEVENT_REQ_ALWAYS_QUEUE,
        ),
    );
    assert_eq!(s.ret_flags, 0);
    put(&b, 5);
    let mut ev = get(&q, 2, 4, Some(BOUND));
    ev.sort_by_key(|e| e.event);
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].event, ev[0].ret_data[0]),
        (KEVENT_SOCKET_RECV, KEVENT_SOCKET_RECV)
    );
    assert_eq!(
        (ev[1].event, ev[1].ret_data[0]),
        (KEVENT_SOCKET_SEND, KEVENT_SOCKET_SEND)
    );
}

#[test]
fn socket_accept_event_on_a_listening_socket() {
    let q = q();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let r = add(
        &q,
        Ukevent::new(
            KEVENT_SOCKET,
            KEVENT_SOCKET_ACCEPT,
            KeventId::fd(l.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(r.ret_flags, 0);
    let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let ev = get(&q, 1, 4, Some(BOUND));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ret_data[0], KEVENT_SOCKET_ACCEPT);
    assert!(l.accept().is_ok());
}

#[test]
fn socket_accept_on_a_socket_that_is_not_listening_is_broken_einval() {
    let q = q();
    let (a, _b) = socketpair();
    let r = add(
        &q,
        Ukevent::new(
            KEVENT_SOCKET,
            KEVENT_SOCKET_ACCEPT,
            KeventId::fd(a.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(
        (r.ret_flags, r.ret_data[0]),
        (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::EINVAL as u32)
    );
}

#[test]
fn socket_request_on_a_non_socket_fd_is_broken_enotsock() {
    let q = q();
    let (r, _w) = pipe();
    let x = add(
        &q,
        Ukevent::new(
            KEVENT_SOCKET,
            KEVENT_SOCKET_RECV,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(
        (x.ret_flags, x.ret_data[0]),
        (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::ENOTSOCK as u32)
    );
}

#[test]
fn pipe_read_and_write_events() {
    let q = q();
    let (r, w) = pipe();
    add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
    );
    let wr = Ukevent::new(
        KEVENT_PIPE,
        KEVENT_PIPE_WRITE,
        KeventId::fd(w.as_raw_fd()),
        0,
    );
    let done = add(&q, wr);
    assert_eq!(
        (done.ret_flags, done.ret_data[0]),
        (KEVENT_RET_DONE, KEVENT_PIPE_WRITE),
        "writable at once"
    );
    put(&w, 2);
    let ev = get(&q, 1, 4, Some(BOUND));
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].event, ev[0].ret_data[0]),
        (KEVENT_PIPE_READ, KEVENT_PIPE_READ)
    );
}

#[test]
fn pipe_request_on_a_non_fifo_fd_is_broken_einval_as_take25_checks_fifo_type() {
    let q = q();
    let (a, _b) = socketpair();
    let x = add(
        &q,
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(a.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(
        (x.ret_flags, x.ret_data[0]),
        (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::EINVAL as u32)
    );
}

#[test]
fn poll_request_watches_any_fd_with_poll_bits() {
    let q = q();
    // SAFETY: plain syscall.
    let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(efd >= 0);
    // SAFETY: fresh fd we own.
    let efd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(efd) };
    add(
        &q,
        Ukevent::new(
            KEVENT_POLL,
            KEVENT_POLL_POLLIN,
            KeventId::fd(efd.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(get(&q, 1, 4, ZERO).len(), 0);
    assert_eq!(sys::write(efd.as_raw_fd(), &1u64.to_ne_bytes()).unwrap(), 8);
    let ev = get(&q, 1, 4, Some(BOUND));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ret_data[0], KEVENT_POLL_POLLIN);
}

#[test]
fn poll_request_on_a_regular_file_cannot_be_honoured_and_is_broken_eperm() {
    let q = q();
    let f = std::fs::File::open("/proc/self/stat").unwrap();
    // /proc files are pollable by poll(2) but epoll refuses regular files: EPERM.
    let tmp = std::env::temp_dir().join(format!("kevent-reg-{}", std::process::id()));
    std::fs::write(&tmp, b"x").unwrap();
    let reg = std::fs::File::open(&tmp).unwrap();
    let mut r = Ukevent::new(
        KEVENT_POLL,
        KEVENT_POLL_POLLIN,
        KeventId::fd(reg.as_raw_fd()),
        KEVENT_REQ_ALWAYS_QUEUE,
    );
    r = add(&q, r);
    std::fs::remove_file(&tmp).unwrap();
    drop(f);
    assert_eq!(
        (r.ret_flags, r.ret_data[0]),
        (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::EPERM as u32)
    );
}

#[test]
fn timer_id_raw0_is_seconds_raw1_nanoseconds_and_oneshot_fires_once() {
    let q = q();
    let t = Ukevent::new(
        KEVENT_TIMER,
        KEVENT_TIMER_FIRED,
        KeventId::new(0, 30_000_000),
        KEVENT_REQ_ONESHOT,
    );
    assert_eq!(add(&q, t).ret_flags, 0);
    let ev = get(&q, 1, 4, Some(BOUND));
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].ret_data,
        [30, 1],
        "fired 30 ms after add, one expiration"
    );
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, t).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

#[test]
fn timer_periodic_ret_data_is_milliseconds_after_add_when_the_latest_expiry_fired() {
    let q = q();
    let t = Ukevent::new(
        KEVENT_TIMER,
        KEVENT_TIMER_FIRED,
        KeventId::new(0, 10_000_000),
        0,
    );
    add(&q, t);
    let mut total = 0;
    for _ in 0..3 {
        let ev = get(&q, 1, 4, Some(BOUND));
        assert_eq!(ev.len(), 1);
        assert!(ev[0].ret_data[1] >= 1);
        total += ev[0].ret_data[1];
        assert_eq!(ev[0].ret_data[0], total * 10, "expirations so far × period");
    }
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, t).ret_flags,
        KEVENT_RET_DONE,
        "still there"
    );
}

#[test]
fn timer_with_zero_period_or_nanoseconds_out_of_range_is_broken_einval() {
    let q = q();
    for id in [KeventId::new(0, 0), KeventId::new(1, 1_000_000_000)] {
        let r = add(&q, Ukevent::new(KEVENT_TIMER, KEVENT_TIMER_FIRED, id, 0));
        assert_eq!(
            (r.ret_flags, r.ret_data[0]),
            (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::EINVAL as u32)
        );
    }
}

#[test]
fn user_notification_becomes_ready_only_through_ctl_ready() {
    let q = q();
    add(&q, user(4, 0));
    assert_eq!(get(&q, 1, 4, Some(Duration::from_millis(20))).len(), 0);
    one(&q, KEVENT_CTL_READY, user(4, 0));
    assert_eq!(get(&q, 1, 4, ZERO).len(), 1);
    assert_eq!(
        get(&q, 1, 4, ZERO).len(),
        0,
        "not ready again until the next READY"
    );
    one(&q, KEVENT_CTL_READY, user(4, 0));
    assert_eq!(get(&q, 1, 4, ZERO).len(), 1);
}

#[test]
fn signal_request_delivers_a_blocked_signal_through_signalfd() {
    let q = q();
    // SAFETY: sigset manipulation on local values; masks only this thread.
    let old = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        old
    };
    let s = Ukevent::new(
        KEVENT_SIGNAL,
        KEVENT_SIGNAL_DELIVERY,
        KeventId::new(libc::SIGUSR2 as u32, 0),
        0,
    );
    assert_eq!(add(&q, s).ret_flags, 0);
    // SAFETY: sends SIGUSR2 to this very thread, which blocks it.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), gettid(), libc::SIGUSR2) };
    let ev = get(&q, 1, 4, Some(BOUND));
    // SAFETY: restores this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ret_data, [libc::SIGUSR2 as u32, 1]);
}

#[test]
fn signal_kill_cannot_be_honoured_and_is_broken_einval() {
    let q = q();
    let r = add(
        &q,
        Ukevent::new(
            KEVENT_SIGNAL,
            KEVENT_SIGNAL_DELIVERY,
            KeventId::new(libc::SIGKILL as u32, 0),
            0,
        ),
    );
    assert_eq!(
        (r.ret_flags, r.ret_data[0]),
        (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::EINVAL as u32)
    );
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kevent-{tag}-{}-{}", std::process::id(), gettid()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    d
}

#[test]
fn inode_created_and_removed_events_through_inotify() {
    let q = q();
    let d = tempdir("inode");
    let dir = std::fs::File::open(&d).unwrap();
    let req = Ukevent::new(
        KEVENT_INODE,
        KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE,
        KeventId::fd(dir.as_raw_fd()),
        0,
    );
    assert_eq!(add(&q, req).ret_flags, 0);
    std::fs::write(d.join("a"), b"").unwrap();
    let ev = get(&q, 1, 4, Some(BOUND));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ret_data, [KEVENT_INODE_CREATE, 1]);
    std::fs::remove_file(d.join("a")).unwrap();
    let ev = get(&q, 1, 4, Some(BOUND));
    assert_eq!(ev[0].ret_data, [KEVENT_INODE_REMOVE, 1]);
    std::fs::remove_dir(&d).unwrap();
}

#[test]
fn inode_request_on_a_non_directory_is_broken_enotdir() {
    let q = q();
    let (r, _w) = pipe();
    let x = add(
        &q,
        Ukevent::new(
            KEVENT_INODE,
            KEVENT_INODE_CREATE,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
    );
    assert_eq!(
        (x.ret_flags, x.ret_data[0]),
        (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::ENOTDIR as u32)
    );
}

fn read_all(fd: OwnedFd) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut s = std::os::unix::net::UnixStream::from(fd);
        s.set_nonblocking(false).unwrap();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut v).unwrap();
        v
    })
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn aio_sendfile_completion_carries_bytes_transferred_and_the_cookie_in_ptr() {
    let q = q();
    let d = tempdir("aio");
    let data = pattern(100_000);
    std::fs::write(d.join("f"), &data).unwrap();
    let f = std::fs::File::open(d.join("f")).unwrap();
    let (a, b) = socketpair();
    let reader = read_all(b);
    let cookie = q
        .aio_sendfile(a.as_raw_fd(), f.as_raw_fd(), 1000, 70_000)
        .unwrap();
    let ev = get(&q, 1, 4, Some(BOUND));
    drop(a);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].type_, ev[0].event),
        (KEVENT_AIO, KEVENT_AIO_SENDFILE)
    );
    assert_eq!(ev[0].ptr(), cookie);
    assert_eq!(ev[0].ret_flags, KEVENT_RET_DONE);
    assert_eq!(ev[0].ret_data, [70_000, 0]);
    assert_eq!(reader.join().unwrap(), data[1000..71_000]);
    assert_eq!(
        get(&q, 1, 4, ZERO).len(),
        0,
        "a completion is delivered once"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn aio_sendfile_path_sends_the_header_then_the_file_and_returns_the_opened_fd() {
    let q = q();
    let d = tempdir("aiopath");
    let data = pattern(5000);
    std::fs::write(d.join("f"), &data).unwrap();
    let (a, b) = socketpair();
    let reader = read_all(b);
    let r = q
        .aio_sendfile_path(a.as_raw_fd(), &d.join("f"), Some(b"HDR\n"), 0, 5000)
        .unwrap();
    let ev = get(&q, 1, 4, Some(BOUND));
    drop(a);
    assert_eq!(ev[0].ptr(), r.cookie);
    assert_eq!(ev[0].ret_data, [5004, 0]);
    let got = reader.join().unwrap();
    assert_eq!(&got[..4], b"HDR\n");
    assert_eq!(got[4..], data[..]);
    assert_eq!(std::fs::File::from(r.fd).metadata().unwrap().len(), 5000);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn aio_sendfile_to_a_non_socket_is_enotsock_and_a_bad_offset_einval() {
    let q = q();
    let (r, w) = pipe();
    assert_eq!(
        errno(
            q.aio_sendfile(w.as_raw_fd(), r.as_raw_fd(), 0, 1)
                .unwrap_err()
        ),
        libc::ENOTSOCK
    );
    let (a, _b) = socketpair();
    assert_eq!(
        errno(
            q.aio_sendfile(a.as_raw_fd(), r.as_raw_fd(), -1, 1)
                .unwrap_err()
        ),
        libc::EINVAL
    );
}

#[test]
fn aio_type_cannot_be_added_by_hand_and_is_einval() {
    let q = q();
    let mut a = [Ukevent::new(
        KEVENT_AIO,
        KEVENT_AIO_SENDFILE,
        KeventId::new(1, 0),
        0,
    )];
    assert_eq!(
        errno(q.kevent_ctl(KEVENT_CTL_ADD, 1, &mut a).unwrap_err()),
        libc::EINVAL
    );
}

#[test]
fn posix_timer_type_is_kernelspace_only_and_is_einval() {
    let q = q();
    let mut a = [Ukevent::new(KEVENT_POSIX_TIMER, 1, KeventId::new(1, 0), 0)];
    assert_eq!(
        errno(q.kevent_ctl(KEVENT_CTL_ADD, 1, &mut a).unwrap_err()),
        libc::EINVAL
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn unknown_ctl_cmd_is_einval_and_changes_nothing() {
    let q = q();
    let mut a = [user(1, 0)];
    assert_eq!(errno(q.kevent_ctl(4, 1, &mut a).unwrap_err()), libc::EINVAL);
    assert_eq!(
        errno(q.kevent_ctl(u32::MAX, 1, &mut a).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, user(1, 0)).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

#[test]
fn unknown_event_type_is_enosys_and_nothing_in_the_batch_is_added() {
    let q = q();
    let mut a = [user(1, 0), Ukevent::new(99, 1, KeventId::new(1, 0), 0)];
    assert_eq!(
        errno(q.kevent_ctl(KEVENT_CTL_ADD, 2, &mut a).unwrap_err()),
        libc::ENOSYS
    );
    assert_eq!(
        one(&q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

#[test]
fn unknown_request_flags_are_einval() {
    let q = q();
    let mut a = [user(1, 0x4000)];
    assert_eq!(
        errno(q.kevent_ctl(KEVENT_CTL_ADD, 1, &mut a).unwrap_err()),
        libc::EINVAL
    );
    add(&q, user(1, 0));
    let mut m = [user(1, 0x4000)];
    assert_eq!(
        errno(q.kevent_ctl(KEVENT_CTL_MODIFY, 1, &mut m).unwrap_err()),
        libc::EINVAL
    );
}

#[test]
fn unknown_event_bits_for_the_type_are_einval() {
    let q = q();
    let (r, _w) = pipe();
    for uk in [
        Ukevent::new(KEVENT_PIPE, 0x80, KeventId::fd(r.as_raw_fd()), 0),
        Ukevent::new(KEVENT_SOCKET, 0, KeventId::fd(r.as_raw_fd()), 0),
        Ukevent::new(
            KEVENT_POLL,
            KEVENT_POLL_POLLNVAL,
            KeventId::fd(r.as_raw_fd()),
            0,
        ),
        Ukevent::new(KEVENT_TIMER, 2, KeventId::new(1, 0), 0),
    ] {
        let mut a = [uk];
        assert_eq!(
            errno(q.kevent_ctl(KEVENT_CTL_ADD, 1, &mut a).unwrap_err()),
            libc::EINVAL
        );
    }
}

#[test]
fn unknown_wait_flags_are_einval() {
    let (q, _r) = qr(4);
    let mut b = [Ukevent::default(); 1];
    assert_eq!(
        errno(q.kevent_get_events(1, 1, ZERO, &mut b, 0x2).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(q.kevent_wait(1, 0, ZERO, 0x2).unwrap_err()),
        libc::EINVAL
    );
}

#[test]
fn ctl_num_larger_than_the_slice_is_einval() {
    let q = q();
    let mut a = [user(1, 0)];
    assert_eq!(
        errno(q.kevent_ctl(KEVENT_CTL_ADD, 2, &mut a).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        one(&q, KEVENT_CTL_REMOVE, user(1, 0)).ret_flags,
        KEVENT_RET_BROKEN | KEVENT_RET_DONE
    );
}

#[test]
fn get_events_max_nr_larger_than_the_buffer_zero_or_below_min_nr_is_einval() {
    let q = q();
    add(&q, user(1, KEVENT_REQ_READY));
    let mut b = [Ukevent::default(); 2];
    assert_eq!(
        errno(q.kevent_get_events(1, 3, ZERO, &mut b, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(q.kevent_get_events(0, 0, ZERO, &mut b, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(q.kevent_get_events(2, 1, ZERO, &mut b, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        get(&q, 1, 2, ZERO).len(),
        1,
        "the event survived the refused calls"
    );
}

#[test]
fn ring_too_small_for_max_nr_is_einval() {
    let (q, ring) = qr(4);
    add(&q, user(1, KEVENT_REQ_READY));
    let mut b = [Ukevent::default(); 8];
    assert_eq!(
        errno(q.kevent_get_events(1, 5, ZERO, &mut b, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(q.kevent_wait(5, 0, ZERO, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(
        errno(q.kevent_wait(0, 0, ZERO, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(q.kevent_wait(4, 0, ZERO, 0).unwrap(), 1);
    assert_eq!(ring.kidx(), 1);
}

#[test]
fn commit_beyond_the_kernel_index_is_einval_and_changes_nothing() {
    let (q, ring) = qr(4);
    add(&q, user(1, KEVENT_REQ_READY));
    add(&q, user(2, KEVENT_REQ_READY));
    assert_eq!(q.kevent_wait(4, 0, ZERO, 0).unwrap(), 2);
    assert_eq!(errno(q.kevent_commit(3, 0).unwrap_err()), libc::EINVAL);
    assert_eq!(errno(q.kevent_commit(1, 1).unwrap_err()), libc::EINVAL);
    assert_eq!(
        errno(q.kevent_commit(4, 0).unwrap_err()),
        libc::EINVAL,
        "index outside the ring"
    );
    assert_eq!(
        (ring.kidx(), ring.over(), q.ring_user_index()),
        (2, 0, Some((0, 0)))
    );
    assert_eq!(q.kevent_commit(2, 0).unwrap(), 2);
}

#[test]
fn fd_that_is_not_open_is_broken_with_ebadf() {
    let q = q();
    for fd in [1_000_000, -1] {
        for (t, e) in [
            (KEVENT_POLL, KEVENT_POLL_POLLIN),
            (KEVENT_PIPE, KEVENT_PIPE_READ),
            (KEVENT_SOCKET, KEVENT_SOCKET_RECV),
            (KEVENT_INODE, KEVENT_INODE_CREATE),
        ] {
            let r = add(&q, Ukevent::new(t, e, KeventId::fd(fd), 0));
            assert_eq!(
                (r.ret_flags, r.ret_data[0]),
                (KEVENT_RET_BROKEN | KEVENT_RET_DONE, libc::EBADF as u32)
            );
        }
    }
    assert_eq!(
        errno(q.aio_sendfile(1_000_000, 0, 0, 1).unwrap_err()),
        libc::EBADF
    );
    add(&q, user(1, KEVENT_REQ_READY));
    assert_eq!(get(&q, 1, 4, ZERO).len(), 1, "queue still works");
}

#[test]
fn kevent_wait_and_commit_without_a_ring_are_einval() {
    let q = q();
    assert_eq!(
        errno(q.kevent_wait(1, 0, ZERO, 0).unwrap_err()),
        libc::EINVAL
    );
    assert_eq!(errno(q.kevent_commit(0, 0).unwrap_err()), libc::EINVAL);
}

// ---------------------------------------------------------------- the wait modes

fn waiter_delivers_every_message(ring: bool) {
    const MSGS: usize = 200;
    let mut w = workloads::kevent::open_waiter(ring).unwrap();
    let (r, wr) = pipe();
    w.add(r.as_raw_fd(), 42, Interest::READ).unwrap();
    let prod = thread::spawn(move || {
        for _ in 0..MSGS {
            put(&wr, 1);
            thread::yield_now();
        }
        wr // kept open: a closed write end is a lasting POLLHUP
    });
    let mut ready = [Event::default(); 8];
    let mut got = 0;
    let end = Instant::now() + BOUND;
    while got < MSGS && Instant::now() < end {
        let n = w.wait(&mut ready, Some(BOUND)).unwrap();
        for e in &ready[..n] {
            assert_eq!(e.token, 42);
            assert!(e.readable);
            let mut b = [0u8; 256];
            got += sys::read(r.as_raw_fd(), &mut b).unwrap_or(0);
        }
    }
    let _wr = prod.join().unwrap();
    assert_eq!(got, MSGS);
    assert_eq!(
        w.wait(&mut ready, ZERO).unwrap(),
        0,
        "drained: level behaviour, nothing stale"
    );
    w.modify(r.as_raw_fd(), 42, Interest::WRITE).unwrap();
    w.remove(r.as_raw_fd()).unwrap();
    assert_eq!(errno(w.remove(r.as_raw_fd()).unwrap_err()), libc::ENOENT);
}

#[test]
fn waiter_kevent_mode_delivers_every_pipe_message() {
    waiter_delivers_every_message(false);
}

#[test]
fn waiter_kevent_ring_mode_delivers_every_pipe_message() {
    waiter_delivers_every_message(true);
}
