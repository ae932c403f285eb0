//! The kevent hot path never allocates: waits (`kevent_get_events`, `kevent_wait` +
//! ring + `kevent_commit`), ctl of existing requests, the `Waiter` of both wait modes,
//! and the cross-thread wake paths. Proved with a counting global allocator (its own
//! test binary, since `#[global_allocator]` is per binary), counting per thread so only
//! the measured threads' allocations count.
use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    os::fd::AsRawFd,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use workloads::{
    kevent::{consts::*, kevent_init, open_waiter, ring_advance, KeventId, Ring, Ukevent},
    sys,
    waiter::{Event, Interest},
};

struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards to System; the bookkeeping touches only const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    ON.with(|o| o.set(true));
    f();
    ON.with(|o| o.set(false));
    COUNT.with(|c| c.get())
}

const WARM: usize = 200;
const ITERS: usize = 2000;
const T: Option<Duration> = Some(Duration::from_secs(10));

#[test]
fn get_events_hot_path_allocates_nothing() {
    let q = kevent_init(None, 0, 0).unwrap();
    let (r, w) = sys::pipe(true).unwrap();
    let (r2, w2) = sys::pipe(true).unwrap();
    let mut add = [
        Ukevent::new(
            KEVENT_PIPE,
            KEVENT_PIPE_READ,
            KeventId::fd(r.as_raw_fd()),
            KEVENT_REQ_ET,
        ),
        Ukevent::new(
            KEVENT_POLL,
            KEVENT_POLL_POLLIN,
            KeventId::fd(r2.as_raw_fd()),
            0,
        ),
    ];
    q.kevent_ctl(KEVENT_CTL_ADD, 2, &mut add).unwrap();
    let mut buf = [Ukevent::default(); 8];
    let mut b = [0u8; 16];
    let mut round = || {
        sys::write(w.as_raw_fd(), b"x").unwrap();
        sys::write(w2.as_raw_fd(), b"x").unwrap();
        let n = q.kevent_get_events(2, 8, T, &mut buf, 0).unwrap();
        assert_eq!(n, 2);
        sys::read(r.as_raw_fd(), &mut b).unwrap();
        sys::read(r2.as_raw_fd(), &mut b).unwrap();
    };
    for _ in 0..WARM {
        round();
    }
    assert_eq!(allocations(|| (0..ITERS).for_each(|_| round())), 0);
}

#[test]
fn ring_wait_and_commit_hot_path_allocates_nothing() {
    let ring = Arc::new(Ring::new(8).unwrap());
    let q = kevent_init(Some(ring.clone()), 8, 0).unwrap();
    let (r, w) = sys::pipe(true).unwrap();
    let mut add = [Ukevent::new(
        KEVENT_PIPE,
        KEVENT_PIPE_READ,
        KeventId::fd(r.as_raw_fd()),
        KEVENT_REQ_ET | KEVENT_REQ_LAST_CHECK,
    )];
    q.kevent_ctl(KEVENT_CTL_ADD, 1, &mut add).unwrap();
    let mut b = [0u8; 16];
    let mut round = || {
        sys::write(w.as_raw_fd(), b"x").unwrap();
        let (uidx, over) = q.ring_user_index().unwrap();
        assert_eq!(q.kevent_wait(8, uidx, T, 0).unwrap(), 1);
        assert_eq!(ring.read(uidx).unwrap().ret_data[0], KEVENT_PIPE_READ);
        let (ni, no) = ring_advance(uidx, over, 1, 8);
        assert_eq!(q.kevent_commit(ni, no).unwrap(), 1);
        sys::read(r.as_raw_fd(), &mut b).unwrap();
    };
    for _ in 0..WARM {
        round();
    }
    assert_eq!(allocations(|| (0..ITERS).for_each(|_| round())), 0);
}

#[test]
fn ctl_of_existing_requests_allocates_nothing() {
    let q = kevent_init(None, 0, 0).unwrap();
    let (_r, w) = sys::pipe(true).unwrap();
    let id = KeventId::fd(w.as_raw_fd());
    let mut reqs = [
        Ukevent::new(KEVENT_POLL, KEVENT_POLL_POLLIN, id, KEVENT_REQ_ET),
        Ukevent::new(KEVENT_USER, 1, KeventId::new(1, 0), KEVENT_REQ_WAKEUP_ALL),
    ];
    q.kevent_ctl(KEVENT_CTL_ADD, 2, &mut reqs).unwrap();
    let mut buf = [Ukevent::default(); 4];
    let mut round = || {
        let mut m = [Ukevent::new(
            KEVENT_POLL,
            KEVENT_POLL_POLLOUT,
            id,
            KEVENT_REQ_ONESHOT,
        )];
        q.kevent_ctl(KEVENT_CTL_MODIFY, 1, &mut m).unwrap();
        assert_eq!(m[0].ret_flags, KEVENT_RET_DONE);
        let mut m = [Ukevent::new(
            KEVENT_POLL,
            KEVENT_POLL_POLLIN,
            id,
            KEVENT_REQ_ET,
        )];
        q.kevent_ctl(KEVENT_CTL_MODIFY, 1, &mut m).unwrap();
        let mut rd = [Ukevent::new(KEVENT_USER, 1, KeventId::new(1, 0), 0)];
        q.kevent_ctl(KEVENT_CTL_READY, 1, &mut rd).unwrap();
        assert_eq!(rd[0].ret_flags, KEVENT_RET_DONE);
        assert_eq!(q.kevent_get_events(1, 4, T, &mut buf, 0).unwrap(), 1);
    };
    for _ in 0..WARM {
        round();
    }
    assert_eq!(allocations(|| (0..ITERS).for_each(|_| round())), 0);
}

#[test]
fn waiter_wait_and_modify_allocate_nothing_in_both_wait_modes() {
    for ring in [false, true] {
        let mut wt = open_waiter(ring).unwrap();
        let (r, w) = sys::pipe(true).unwrap();
        wt.add(r.as_raw_fd(), 5, Interest::READ).unwrap();
        let mut ready = [Event::default(); 8];
        let mut b = [0u8; 16];
        let mut round = || {
            sys::write(w.as_raw_fd(), b"x").unwrap();
            assert_eq!(wt.wait(&mut ready, T).unwrap(), 1);
            assert_eq!(ready[0].token, 5);
            sys::read(r.as_raw_fd(), &mut b).unwrap();
            wt.modify(r.as_raw_fd(), 5, Interest::READ).unwrap();
        };
        for _ in 0..WARM {
            round();
        }
        assert_eq!(
            allocations(|| (0..ITERS).for_each(|_| round())),
            0,
            "ring={ring}"
        );
    }
}

/// Two threads bounce a user notification through two queues (each thread sleeps in
/// epoll_wait and is woken through the queue's eventfd), and two waiters share a third
/// queue (one polls, one parks on the condvar; wake-one hands events over).
#[test]
fn cross_thread_wakeups_allocate_nothing() {
    let qa = kevent_init(None, 0, 0).unwrap();
    let qb = kevent_init(None, 0, 0).unwrap();
    let ev = |i| Ukevent::new(KEVENT_USER, 1, KeventId::new(i, 0), 0);
    qa.kevent_ctl(KEVENT_CTL_ADD, 1, &mut [ev(1)]).unwrap();
    qb.kevent_ctl(KEVENT_CTL_ADD, 1, &mut [ev(1)]).unwrap();
    let (qa2, qb2) = (qa.clone(), qb.clone());
    let pong = thread::spawn(move || {
        let mut buf = [Ukevent::default(); 2];
        let mut round = || {
            assert_eq!(qa2.kevent_get_events(1, 2, T, &mut buf, 0).unwrap(), 1);
            qb2.kevent_ctl(KEVENT_CTL_READY, 1, &mut [ev(1)]).unwrap();
        };
        for _ in 0..WARM {
            round();
        }
        allocations(|| (0..ITERS).for_each(|_| round()))
    });
    let mut buf = [Ukevent::default(); 2];
    let mut round = || {
        qa.kevent_ctl(KEVENT_CTL_READY, 1, &mut [ev(1)]).unwrap();
        assert_eq!(qb.kevent_get_events(1, 2, T, &mut buf, 0).unwrap(), 1);
    };
    for _ in 0..WARM {
        round();
    }
    let ping_allocs = allocations(|| (0..ITERS).for_each(|_| round()));
    assert_eq!((ping_allocs, pong.join().unwrap()), (0, 0));

    // Shared queue, two waiters.
    let q = kevent_init(None, 0, 0).unwrap();
    q.kevent_ctl(KEVENT_CTL_ADD, 1, &mut [ev(7)]).unwrap();
    let taken = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (q, taken, stop) = (q.clone(), taken.clone(), stop.clone());
            thread::spawn(move || {
                let mut buf = [Ukevent::default(); 2];
                allocations(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let t = Some(Duration::from_millis(50));
                        let n = q.kevent_get_events(1, 2, t, &mut buf, 0).unwrap();
                        taken.fetch_add(n as u64, Ordering::Relaxed);
                    }
                })
            })
        })
        .collect();
    let mut ready_allocs = 0;
    for i in 1..=ITERS as u64 / 4 {
        ready_allocs += allocations(|| {
            q.kevent_ctl(KEVENT_CTL_READY, 1, &mut [ev(7)]).unwrap();
        });
        let end = Instant::now() + Duration::from_secs(10);
        while taken.load(Ordering::Relaxed) < i && Instant::now() < end {
            thread::yield_now();
        }
        assert_eq!(
            taken.load(Ordering::Relaxed),
            i,
            "every READY taken exactly once"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let worker_allocs: Vec<u64> = workers.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!((ready_allocs, worker_allocs), (0, vec![0, 0]));
}

#[test]
fn the_counting_allocator_counts_this_threads_allocations() {
    let n = allocations(|| {
        let v = std::hint::black_box(vec![1u8; 32]);
        let s = std::hint::black_box(Box::new(5u64));
        drop((v, s));
    });
    assert_eq!(n, 2);
}
