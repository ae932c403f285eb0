//! The socketpair backend over everything it claims: the 10 representable masks
//! through poll, select and epoll (level and edge), every transition between them
//! (allowed ones take effect exactly, refused ones change nothing), get() stability,
//! bad input, wakeups of sleeping pollers, and the measured POLLOUT fill.
mod efd_mask_util;

use std::{io::ErrorKind, os::fd::AsRawFd, sync::mpsc, thread, time::Duration};

use efd_mask_util::*;
use workloads::efd_mask::{
    socketpair::{can_transition, representable, FILL_CHUNK},
    Backend, Mask, MaskFd, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI,
};

fn new() -> MaskFd {
    MaskFd::new(Backend::Socketpair).unwrap()
}

#[test]
fn exactly_the_documented_10_masks_are_representable() {
    let got: Vec<u32> = (0..32).map(mask_of).filter(|&m| representable(m)).collect();
    let mut want = vec![
        0,
        POLLIN,
        POLLIN | POLLPRI,
        POLLOUT,
        POLLIN | POLLOUT,
        POLLIN | POLLPRI | POLLOUT,
        POLLIN | POLLHUP,
        POLLIN | POLLPRI | POLLHUP,
        POLLIN | POLLOUT | POLLHUP,
        POLLIN | POLLPRI | POLLOUT | POLLHUP,
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want);
    assert!((0..32)
        .map(mask_of)
        .all(|m| m & POLLERR == 0 || !representable(m)));
}

#[test]
fn starts_at_zero_and_get_is_stable() {
    let m = new();
    assert_eq!(m.get().unwrap(), Mask::new(0, 0));
    assert_views(m.as_raw_fd(), 0, None);
    m.set(POLLIN | POLLPRI, u64::MAX).unwrap();
    assert_eq!(m.get().unwrap(), Mask::new(POLLIN | POLLPRI, u64::MAX));
    assert_eq!(m.get().unwrap(), Mask::new(POLLIN | POLLPRI, u64::MAX));
    assert_eq!(m.server_tid(), None);
}

#[test]
fn all_32_masks_exact_or_refused_through_poll_select_and_epoll() {
    let mut shown = 0;
    for i in 0..32u32 {
        let events = mask_of(i);
        let m = new();
        let fd = m.as_raw_fd();
        let et = Epoll::new(fd, true);
        assert_eq!(et.wait(0), Vec::<u32>::new());
        match m.set(events, u64::from(i) + 100) {
            Ok(()) => {
                assert!(representable(events), "{events:#x} accepted");
                assert_eq!(m.get().unwrap(), Mask::new(events, u64::from(i) + 100));
                assert_views(fd, events, Some(&et));
                shown += 1;
            }
            Err(e) => {
                assert!(!representable(events), "{events:#x} refused: {e}");
                assert_eq!(e.kind(), ErrorKind::Unsupported);
                assert_eq!(
                    m.get().unwrap(),
                    Mask::new(0, 0),
                    "refused set changed the mask"
                );
                assert_views(fd, 0, Some(&et));
            }
        }
    }
    assert_eq!(shown, 10);
}

#[test]
fn every_transition_between_representable_masks() {
    let masks: Vec<u32> = (0..32).map(mask_of).filter(|&m| representable(m)).collect();
    let (mut allowed, mut refused) = (0, 0);
    for &from in &masks {
        for &to in &masks {
            let m = new();
            let fd = m.as_raw_fd();
            m.set(from, 1).unwrap();
            let et = Epoll::new(fd, true);
            // Registration reports the current state once (ET); take it.
            let first = et.wait(0);
            assert_eq!(first, if from == 0 { vec![] } else { vec![from] });
            match m.set(to, 2) {
                Ok(()) => {
                    assert!(can_transition(from, to));
                    assert_eq!(m.get().unwrap(), Mask::new(to, 2));
                    assert_eq!(poll_events(fd), to, "{from:#x} -> {to:#x}");
                    assert_eq!(select_sets(fd), expected_select(to), "{from:#x} -> {to:#x}");
                    let lt = Epoll::new(fd, false);
                    let want = if to == 0 { vec![] } else { vec![to] };
                    assert_eq!(lt.wait(0), want, "{from:#x} -> {to:#x}");
                    allowed += 1;
                }
                Err(e) => {
                    assert!(!can_transition(from, to), "{from:#x} -> {to:#x}: {e}");
                    assert_eq!(e.kind(), ErrorKind::Unsupported);
                    assert_eq!(m.get().unwrap(), Mask::new(from, 1));
                    assert_eq!(poll_events(fd), from, "refused {from:#x} -> {to:#x}");
                    refused += 1;
                }
            }
        }
    }
    // 6 masks without HUP go anywhere (6*10); from the 4 HUP masks: to HUP masks with
    // PRI only removed and OUT only added: IN|HUP->2, IN|PRI|HUP->4, IN|OUT|HUP->1,
    // IN|PRI|OUT|HUP->2.
    assert_eq!((allowed, refused), (60 + 9, 100 - 69));
}

#[test]
fn invalid_events_are_rejected() {
    let m = new();
    m.set(POLLOUT, 42).unwrap();
    for bad in [libc::POLLNVAL as u32, libc::POLLRDNORM as u32, 1 << 31] {
        assert_eq!(m.set(bad, 1).unwrap_err().kind(), ErrorKind::InvalidInput);
    }
    assert_eq!(
        m.set(POLLERR, 1).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        m.set(POLLPRI, 1).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        m.set(POLLHUP, 1).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    // The wire form's short-buffer rule (this backend has no write(2) interface).
    assert_eq!(
        Mask::from_bytes(&[0u8; 11]).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(m.get().unwrap(), Mask::new(POLLOUT, 42));
    assert_eq!(poll_events(m.as_raw_fd()), POLLOUT);
}

#[test]
fn repeated_cycles_do_not_accumulate_bytes() {
    let m = new();
    let fd = m.as_raw_fd();
    for k in 0..200u64 {
        for ev in [
            POLLIN,
            POLLIN | POLLPRI,
            POLLIN,
            0,
            POLLIN | POLLPRI | POLLOUT,
            POLLOUT,
        ] {
            m.set(ev, k).unwrap();
            assert_eq!(poll_events(fd), ev, "cycle {k} mask {ev:#x}");
        }
    }
    // FIONREAD: nothing queued on the mask fd after the last mask without POLLIN.
    let mut queued: libc::c_int = -1;
    // SAFETY: FIONREAD writes one int.
    assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) }, 0);
    assert_eq!(queued, 0);
}

#[test]
fn fill_size_is_measured() {
    let m = new();
    let sp = m.socketpair().unwrap();
    let sndbuf = sp.send_buffer().unwrap();
    // The initial mask (no POLLOUT) was made by one fill.
    let first = sp.last_fill_bytes();
    m.set(POLLOUT, 0).unwrap();
    m.set(0, 0).unwrap();
    let second = sp.last_fill_bytes();
    println!(
        "socketpair: SO_SNDBUF {sndbuf} B, fill {first} B then {second} B (chunk {FILL_CHUNK} B)"
    );
    assert_eq!(first, second, "a fill takes the same bytes each time");
    assert_eq!(first % FILL_CHUNK, 0);
    assert!(
        first >= FILL_CHUNK,
        "POLLOUT was cleared by sending, {first} B"
    );
    assert_eq!(poll_events(m.as_raw_fd()), 0);
}

fn woken_by_set<T: Send + 'static>(
    m: &MaskFd,
    events: u32,
    wait: impl FnOnce(i32) -> T + Send + 'static,
) -> T {
    let fd = m.as_raw_fd();
    let (tx, rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    let h = thread::spawn(move || {
        tid_tx.send(gettid()).unwrap();
        tx.send(wait(fd)).unwrap();
    });
    let tid = tid_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    wait_until_sleeping(tid);
    assert!(rx.try_recv().is_err(), "waiter returned before the set");
    m.set(events, 1).unwrap();
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("waiter was not woken by set()");
    h.join().unwrap();
    r
}

#[test]
fn set_wakes_a_sleeping_poll_select_and_epoll_wait() {
    let m = new();
    let (n, rev) = woken_by_set(&m, POLLIN, |fd| poll_wait(fd, POLLIN, 8000));
    assert_eq!((n, rev), (1, POLLIN));
    m.set(0, 0).unwrap();
    let (n, rev) = woken_by_set(&m, POLLIN | POLLPRI, |fd| poll_wait(fd, POLLPRI, 8000));
    assert_eq!((n, rev), (1, POLLPRI));
    m.set(0, 0).unwrap();
    let (n, readable) = woken_by_set(&m, POLLIN, |fd| select_read_wait(fd, 8000));
    assert_eq!((n, readable), (1, true));
    m.set(0, 0).unwrap();
    let got = woken_by_set(&m, POLLOUT, |fd| Epoll::new(fd, true).wait(8000));
    assert_eq!(got, vec![POLLOUT]);
    m.set(0, 0).unwrap();
    let got = woken_by_set(&m, POLLIN | POLLHUP, |fd| Epoll::new(fd, false).wait(8000));
    assert_eq!(got, vec![POLLIN | POLLHUP]);
}
