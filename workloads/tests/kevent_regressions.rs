//! The right values of issue 15's kevent findings (bugs 1–5), one test each, plus the
//! other members of each class the fix covers. Real fds and threads; time appears only
//! as bounds for hangs.
use std::{
    io,
    os::fd::{AsRawFd, OwnedFd},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use workloads::{
    kevent::{consts::*, kevent_init, Kevent, KeventId, Ring, Ukevent},
    sys,
};

/// Bound for "returns at once" on a loaded machine (a hang bound, not a speed check).
const PROMPT: Duration = Duration::from_secs(1);
const BOUND: Duration = Duration::from_secs(10);

/// The tests run on parallel threads of one process; the fd-reuse tests need the
/// lowest free numbers to be theirs, so every test here holds this lock.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

type Res = io::Result<Vec<Ukevent>>;

fn q() -> Kevent {
    kevent_init(None, 0, 0).expect("kevent_init")
}

fn ctl1(q: &Kevent, cmd: u32, mut uk: Ukevent) -> Ukevent {
    assert_eq!(
        q.kevent_ctl(cmd, 1, std::slice::from_mut(&mut uk))
            .expect("kevent_ctl"),
        1
    );
    uk
}

fn user(id: u32, flags: u32) -> Ukevent {
    Ukevent::new(KEVENT_USER, 1, KeventId::new(id, 0), flags)
}

fn pipe_read(fd: &OwnedFd, user: u64) -> Ukevent {
    Ukevent::new(
        KEVENT_PIPE,
        KEVENT_PIPE_READ,
        KeventId::fd(fd.as_raw_fd()),
        0,
    )
    .with_ptr(user)
}

fn gettid() -> i32 {
    // SAFETY: plain syscall.
    unsafe { libc::gettid() }
}

fn task_state(tid: i32) -> char {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    s.rfind(')')
        .and_then(|i| s[i + 1..].trim_start().chars().next())
        .unwrap_or('?')
}

/// Waits (bounded) until the thread sleeps (state S) on three consecutive looks.
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
    panic!("thread {tid} never went to sleep");
}

/// Runs `kevent_get_events(min, max, timeout, flags)` on a new thread; its tid and
/// where the result (and the time it took) arrives.
fn spawn_get(
    q: &Kevent,
    min: u32,
    max: u32,
    t: Option<Duration>,
    flags: u32,
) -> (i32, mpsc::Receiver<(Res, Duration)>) {
    let q = q.clone();
    let (ttx, trx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = ttx.send(gettid());
        let start = Instant::now();
        let mut buf = vec![Ukevent::default(); max as usize];
        let r = q
            .kevent_get_events(min, max, t, &mut buf, flags)
            .map(|n| buf[..n as usize].to_vec());
        let _ = tx.send((r, start.elapsed()));
    });
    let tid = trx.recv_timeout(BOUND).expect("tid");
    wait_sleeping(tid);
    (tid, rx)
}

// ------------------------------------------------------------- bug 1 (times)

/// Issue 15 bug 1: `Duration::MAX` with `KEVENT_FLAGS_ABSTIME` used to panic ("overflow
/// when adding duration to instant"); it is a time beyond any deadline: wait forever,
/// i.e. until an event comes.
#[test]
fn abstime_duration_max_waits_for_an_event_instead_of_panicking() {
    let _serial = serial();
    for flags in [KEVENT_FLAGS_ABSTIME, 0] {
        let q = q();
        assert_eq!(ctl1(&q, KEVENT_CTL_ADD, user(1, 0)).ret_flags, 0);
        let (_, rx) = spawn_get(&q, 1, 1, Some(Duration::MAX), flags);
        assert!(
            rx.try_recv().is_err(),
            "flags {flags}: returned before any event"
        );
        assert_eq!(
            ctl1(&q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
            KEVENT_RET_DONE
        );
        let (r, _) = rx.recv_timeout(BOUND).expect("the waiter panicked or hung");
        let evs = r.expect("get_events");
        assert_eq!(evs.len(), 1, "flags {flags}");
        assert_eq!(evs[0].id, KeventId::new(1, 0));
    }
}

/// Bug 1, `kevent_wait`: the same far-future absolute timeout waits for the event.
#[test]
fn kevent_wait_with_abstime_duration_max_waits_for_an_event_instead_of_panicking() {
    let _serial = serial();
    let ring = std::sync::Arc::new(Ring::new(4).expect("ring"));
    let q = kevent_init(Some(ring.clone()), 4, 0).expect("kevent_init");
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, user(7, 0)).ret_flags, 0);
    let (tx, rx) = mpsc::channel();
    let (ttx, trx) = mpsc::channel();
    let q2 = q.clone();
    thread::spawn(move || {
        let _ = ttx.send(gettid());
        let _ = tx.send(q2.kevent_wait(4, 0, Some(Duration::MAX), KEVENT_FLAGS_ABSTIME));
    });
    wait_sleeping(trx.recv_timeout(BOUND).expect("tid"));
    assert!(rx.try_recv().is_err(), "returned before any event");
    ctl1(&q, KEVENT_CTL_READY, user(7, 0));
    let n = rx
        .recv_timeout(BOUND)
        .expect("the waiter panicked or hung")
        .expect("kevent_wait");
    assert_eq!(n, 1);
    assert_eq!(ring.read(0).expect("slot 0").id, KeventId::new(7, 0));
}

/// Same class: an absolute time already past is "now" (non-blocking), and a commit
/// naming a position whose arithmetic would overflow is refused with EINVAL.
#[test]
fn past_abstime_returns_at_once_and_a_far_commit_is_einval() {
    let _serial = serial();
    let q = q();
    let mut buf = [Ukevent::default(); 1];
    let start = Instant::now();
    assert_eq!(
        q.kevent_get_events(
            1,
            1,
            Some(Duration::from_secs(1)),
            &mut buf,
            KEVENT_FLAGS_ABSTIME
        )
        .expect("get_events"),
        0
    );
    assert!(start.elapsed() < PROMPT, "a time in 1970 is past");

    let ring = std::sync::Arc::new(Ring::new(8).expect("ring"));
    let q = kevent_init(Some(ring), 8, 0).expect("kevent_init");
    let e = q.kevent_commit(5, 0x7FFF_FFFF).expect_err("far position");
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
}

// ---------------------------------------------------- bug 2 (ABI conversions)

/// Issue 15 bug 2: a signal number that is no C int (>= 2^31) or out of range is a bad
/// request: BROKEN | DONE with EINVAL, never an armed request that cannot fire.
#[test]
fn signal_request_with_id_beyond_the_signal_range_is_broken_einval() {
    let _serial = serial();
    let q = q();
    // SAFETY: plain libc call.
    let rtmax = libc::SIGRTMAX() as u32;
    for id in [0xFFFF_FFFF, 0x8000_0000, 0, rtmax + 1, 0x7FFF_FFFF] {
        let out = ctl1(
            &q,
            KEVENT_CTL_ADD,
            Ukevent::new(
                KEVENT_SIGNAL,
                KEVENT_SIGNAL_DELIVERY,
                KeventId::new(id, 0),
                0,
            ),
        );
        assert_eq!(
            out.ret_flags,
            KEVENT_RET_BROKEN | KEVENT_RET_DONE,
            "signal {id:#x}"
        );
        assert_eq!(out.ret_data[0], libc::EINVAL as u32, "signal {id:#x}");
    }
}

/// Same class: an fd id that is no C int (>= 2^31) is EBADF for every fd type.
#[test]
fn fd_request_with_id_beyond_int_range_is_broken_ebadf() {
    let _serial = serial();
    let q = q();
    for type_ in [KEVENT_PIPE, KEVENT_POLL, KEVENT_SOCKET, KEVENT_INODE] {
        let event = match type_ {
            KEVENT_POLL => KEVENT_POLL_POLLIN,
            KEVENT_INODE => KEVENT_INODE_CREATE,
            _ => 1,
        };
        for id in [0x8000_0000u32, 0xFFFF_FFFF] {
            let out = ctl1(
                &q,
                KEVENT_CTL_ADD,
                Ukevent::new(type_, event, KeventId::new(id, 0), 0),
            );
            assert_eq!(
                out.ret_flags,
                KEVENT_RET_BROKEN | KEVENT_RET_DONE,
                "type {type_} id {id:#x}"
            );
            assert_eq!(
                out.ret_data[0],
                libc::EBADF as u32,
                "type {type_} id {id:#x}"
            );
        }
    }
}

// ------------------------------------------------ bug 3 (fd close and reuse)

/// Issue 15 bug 3: REMOVE of a request whose pipe was closed must not remove the
/// registration of the new pipe that reused the fd number.
#[test]
fn remove_of_a_closed_pipes_request_leaves_the_request_on_the_reused_number_working() {
    let _serial = serial();
    let q = q();
    let (r1, w1) = sys::pipe(true).expect("pipe");
    let n = r1.as_raw_fd();
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, pipe_read(&r1, 1)).ret_flags, 0);
    drop((r1, w1));
    let (r2, w2) = sys::pipe(true).expect("pipe");
    assert_eq!(
        r2.as_raw_fd(),
        n,
        "the new pipe reuses the read end's number"
    );
    assert_eq!(
        ctl1(&q, KEVENT_CTL_ADD, pipe_read(&r2, 2)).ret_flags,
        0,
        "armed"
    );
    let stale = Ukevent::new(KEVENT_PIPE, KEVENT_PIPE_READ, KeventId::fd(n), 0).with_ptr(1);
    assert_eq!(
        ctl1(&q, KEVENT_CTL_REMOVE, stale).ret_flags,
        KEVENT_RET_DONE
    );
    assert_eq!(sys::write(w2.as_raw_fd(), b"x").expect("write"), 1);
    let mut buf = [Ukevent::default(); 2];
    let got = q
        .kevent_get_events(1, 2, Some(BOUND), &mut buf, 0)
        .expect("get_events");
    assert_eq!(got, 1);
    assert_eq!(buf[0].ptr(), 2);
    assert_eq!(buf[0].ret_data[0], KEVENT_PIPE_READ);
}

/// Bug 3, the emulation's own fd: a timer whose timerfd got the closed pipe's number
/// keeps firing after the stale pipe request is removed.
#[test]
fn remove_of_a_closed_pipes_request_leaves_a_timer_on_the_reused_number_firing() {
    let _serial = serial();
    let q = q();
    let (r1, w1) = sys::pipe(true).expect("pipe");
    let n = r1.as_raw_fd();
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, pipe_read(&r1, 1)).ret_flags, 0);
    drop(r1);
    // 20 ms periodic timer: its timerfd takes the lowest free number, the read end's.
    let timer = Ukevent::new(
        KEVENT_TIMER,
        KEVENT_TIMER_FIRED,
        KeventId::new(0, 20_000_000),
        0,
    )
    .with_ptr(9);
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, timer).ret_flags, 0);
    let link = std::fs::read_link(format!("/proc/self/fd/{n}")).expect("readlink");
    assert_eq!(
        link.to_string_lossy(),
        "anon_inode:[timerfd]",
        "the timer reused {n}"
    );
    let stale = Ukevent::new(KEVENT_PIPE, KEVENT_PIPE_READ, KeventId::fd(n), 0).with_ptr(1);
    assert_eq!(
        ctl1(&q, KEVENT_CTL_REMOVE, stale).ret_flags,
        KEVENT_RET_DONE
    );
    let mut buf = [Ukevent::default(); 1];
    let got = q
        .kevent_get_events(1, 1, Some(BOUND), &mut buf, 0)
        .expect("get_events");
    assert_eq!(got, 1, "the timer fires");
    assert_eq!(buf[0].ptr(), 9);
    assert_eq!(buf[0].type_, KEVENT_TIMER);
    drop(w1);
}

/// Same class: MODIFY of a request whose file was closed and whose number now belongs
/// to another registration is EBADF, and leaves that registration alone.
#[test]
fn modify_of_a_closed_pipes_request_is_ebadf_and_leaves_the_reused_number_alone() {
    let _serial = serial();
    let q = q();
    let (r1, w1) = sys::pipe(true).expect("pipe");
    let n = r1.as_raw_fd();
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, pipe_read(&r1, 1)).ret_flags, 0);
    drop((r1, w1));
    let (r2, w2) = sys::pipe(true).expect("pipe");
    assert_eq!(r2.as_raw_fd(), n);
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, pipe_read(&r2, 2)).ret_flags, 0);
    let stale = Ukevent::new(KEVENT_PIPE, KEVENT_PIPE_READ, KeventId::fd(n), 0).with_ptr(1);
    let out = ctl1(&q, KEVENT_CTL_MODIFY, stale);
    assert_eq!(out.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
    assert_eq!(out.ret_data[0], libc::EBADF as u32);
    assert_eq!(sys::write(w2.as_raw_fd(), b"x").expect("write"), 1);
    let mut buf = [Ukevent::default(); 2];
    assert_eq!(
        q.kevent_get_events(1, 2, Some(BOUND), &mut buf, 0)
            .expect("get_events"),
        1
    );
    assert_eq!(buf[0].ptr(), 2, "the new pipe's event, with its own token");
}

// ------------------------------------------------ bugs 4 and 5 (min_nr > 1)

/// Issue 15 bug 4: a waiter with min_nr 2 must not starve one with min_nr 1 that came
/// later: B gets the event at once; A, still short of 2, times out with nothing.
#[test]
fn a_min_nr_1_waiter_gets_the_event_while_a_min_nr_2_waiter_waits() {
    let _serial = serial();
    let q = q();
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, user(1, 0)).ret_flags, 0);
    let (_, a) = spawn_get(&q, 2, 2, Some(Duration::from_secs(2)), 0);
    thread::sleep(Duration::from_millis(200));
    let (_, b) = spawn_get(&q, 1, 1, Some(Duration::from_secs(2)), 0);
    assert_eq!(
        ctl1(&q, KEVENT_CTL_READY, user(1, 0)).ret_flags,
        KEVENT_RET_DONE
    );
    let (rb, tb) = b.recv_timeout(BOUND).expect("B hung");
    let evs = rb.expect("B get_events");
    assert_eq!(evs.len(), 1, "B gets the event");
    assert_eq!(evs[0].id, KeventId::new(1, 0));
    assert!(
        tb < Duration::from_secs(2),
        "B returned with the event, not at its timeout"
    );
    let (ra, _) = a.recv_timeout(BOUND).expect("A hung");
    assert_eq!(ra.expect("A get_events").len(), 0, "A never had it");
}

/// Bug 4 with an fd event: the pipe's readiness reaches the min_nr 1 waiter although
/// the min_nr 2 waiter is the one blocked in epoll_wait.
#[test]
fn a_min_nr_1_waiter_gets_a_pipe_event_while_a_min_nr_2_waiter_polls() {
    let _serial = serial();
    let q = q();
    let (r, w) = sys::pipe(true).expect("pipe");
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, pipe_read(&r, 4)).ret_flags, 0);
    let (_, a) = spawn_get(&q, 2, 2, Some(Duration::from_secs(2)), 0);
    let (_, b) = spawn_get(&q, 1, 1, Some(Duration::from_secs(2)), 0);
    assert_eq!(sys::write(w.as_raw_fd(), b"x").expect("write"), 1);
    let (rb, tb) = b.recv_timeout(BOUND).expect("B hung");
    let evs = rb.expect("B get_events");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].ptr(), 4);
    assert!(
        tb < Duration::from_secs(2),
        "B returned with the event, not at its timeout"
    );
    let (ra, _) = a.recv_timeout(BOUND).expect("A hung");
    assert_eq!(ra.expect("A get_events").len(), 0);
}

/// Issue 15 bug 5: a ready ONESHOT event nobody has received is found by REMOVE (DONE)
/// and is then never delivered, although a min_nr 2 waiter was waiting all along.
#[test]
fn remove_finds_a_ready_oneshot_event_that_a_min_nr_2_waiter_has_not_received() {
    let _serial = serial();
    let q = q();
    let (_, a) = spawn_get(&q, 2, 2, Some(Duration::from_secs(2)), 0);
    assert_eq!(
        ctl1(&q, KEVENT_CTL_ADD, user(5, KEVENT_REQ_ONESHOT)).ret_flags,
        0
    );
    assert_eq!(
        ctl1(&q, KEVENT_CTL_READY, user(5, 0)).ret_flags,
        KEVENT_RET_DONE
    );
    thread::sleep(Duration::from_millis(200));
    let out = ctl1(&q, KEVENT_CTL_REMOVE, user(5, 0));
    assert_eq!(
        out.ret_flags, KEVENT_RET_DONE,
        "found: nobody had received it"
    );
    let (ra, _) = a.recv_timeout(BOUND).expect("A hung");
    assert_eq!(
        ra.expect("A get_events").len(),
        0,
        "never delivered after REMOVE"
    );
}

/// With min_nr 2 satisfied later, the waiter gets both events in one call (the first
/// one stayed queued, not lost, while it waited).
#[test]
fn a_min_nr_2_waiter_returns_both_events_once_the_second_is_ready() {
    let _serial = serial();
    let q = q();
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, user(1, 0)).ret_flags, 0);
    assert_eq!(ctl1(&q, KEVENT_CTL_ADD, user(2, 0)).ret_flags, 0);
    let (_, a) = spawn_get(&q, 2, 2, Some(BOUND), 0);
    ctl1(&q, KEVENT_CTL_READY, user(1, 0));
    thread::sleep(Duration::from_millis(100));
    assert!(a.try_recv().is_err(), "returned with 1 of min_nr 2");
    ctl1(&q, KEVENT_CTL_READY, user(2, 0));
    let (ra, _) = a.recv_timeout(BOUND).expect("A hung");
    let mut ids: Vec<u32> = ra
        .expect("get_events")
        .iter()
        .map(|e| e.id.raw[0])
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

// ------------------------------------------------------- the ring waiter

/// The `kevent-ring` waiter commits read slots lazily (once more than a batch is
/// pending): over many ring wraps every wait still reports exactly the fds made
/// readable, with their tokens, and the queue's user index follows.
#[test]
fn ring_waiter_reports_every_event_across_ring_wraps_with_lazy_commits() {
    use workloads::{
        kevent::{waiter::RING_SLOTS, KeventWaiter},
        waiter::{Event, Interest, Waiter},
    };
    let _serial = serial();
    let mut w = KeventWaiter::new(true).expect("waiter");
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| sys::pipe(true).expect("pipe")).collect();
    for (i, (r, _)) in pipes.iter().enumerate() {
        w.add(r.as_raw_fd(), 100 + i as u64, Interest::READ)
            .expect("add");
    }
    let mut ready = [Event::default(); 8];
    // The commit rule: before a wait, commit everything read once fewer than a whole
    // wait's worth (`ready.len()` = 8 events) of slots would be left.
    let (mut committed, mut pending) = (0u64, 0u64);
    for round in 0..(3 * RING_SLOTS as usize) {
        if pending > (RING_SLOTS - 8) as u64 {
            committed += pending;
            pending = 0;
        }
        // One fd in each of the first rounds of a cycle, all three in the last.
        let which: Vec<usize> = if round % 4 == 3 {
            vec![0, 1, 2]
        } else {
            vec![round % 3]
        };
        for &i in &which {
            assert_eq!(sys::write(pipes[i].1.as_raw_fd(), b"x").expect("write"), 1);
        }
        let n = w.wait(&mut ready, Some(BOUND)).expect("wait");
        let mut tokens: Vec<u64> = ready[..n].iter().map(|e| e.token).collect();
        tokens.sort_unstable();
        let want: Vec<u64> = which.iter().map(|&i| 100 + i as u64).collect();
        assert_eq!(tokens, want, "round {round}");
        for &i in &which {
            let mut b = [0u8; 8];
            assert_eq!(sys::read(pipes[i].0.as_raw_fd(), &mut b).expect("read"), 1);
        }
        pending += n as u64;
    }
    let (uidx, over) = w.queue().ring_user_index().expect("ring");
    assert_eq!(
        (uidx as u64, over as u64),
        (committed % RING_SLOTS as u64, committed / RING_SLOTS as u64),
        "the queue's user index is the waiter's last commit"
    );
    // 3 × 128 rounds, a quarter of them with three events: 96 × 3 + 288 × 1.
    assert_eq!(committed + pending, 576, "events reported");
    assert_eq!(
        committed, 486,
        "slots committed (the rule above, every 121+ events)"
    );
}
