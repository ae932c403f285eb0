//! Each fd wait mode against real pipes: exactly which tokens come back, level vs edge,
//! interest changes, removal, timeouts, and select's FD_SETSIZE limit.
use std::{
    os::fd::{AsRawFd, OwnedFd},
    time::Duration,
};

use workloads::{sys, Event, Interest, WaitMode, Waiter};

const FD_MODES: &[WaitMode] = &[
    WaitMode::Epoll,
    WaitMode::EpollEt,
    WaitMode::Poll,
    WaitMode::Select,
    WaitMode::Kevent,
    WaitMode::KeventRing,
];
const NOW: Option<Duration> = Some(Duration::ZERO);

fn waiter(mode: WaitMode) -> Box<dyn Waiter> {
    mode.open().unwrap().expect("fd wait modes have a waiter")
}

fn ready_tokens(w: &mut dyn Waiter) -> Vec<u64> {
    let mut buf = [Event::default(); 16];
    let n = w.wait(&mut buf, NOW).unwrap();
    let mut t: Vec<u64> = buf[..n].iter().map(|e| e.token).collect();
    t.sort();
    t
}

fn pipes(n: usize) -> Vec<(OwnedFd, OwnedFd)> {
    (0..n).map(|_| sys::pipe(true).unwrap()).collect()
}

#[test]
fn only_written_pipes_are_reported_readable() {
    for &mode in FD_MODES {
        let p = pipes(5);
        let mut w = waiter(mode);
        for (i, (r, _)) in p.iter().enumerate() {
            w.add(r.as_raw_fd(), 100 + i as u64, Interest::READ)
                .unwrap();
        }
        assert_eq!(
            ready_tokens(&mut *w),
            Vec::<u64>::new(),
            "{mode}: nothing written yet"
        );
        sys::write(p[1].1.as_raw_fd(), b"x").unwrap();
        sys::write(p[3].1.as_raw_fd(), b"x").unwrap();
        assert_eq!(ready_tokens(&mut *w), vec![101, 103], "{mode}");
    }
}

#[test]
fn level_triggered_modes_report_again_until_drained_edge_does_not() {
    for &mode in FD_MODES {
        let p = pipes(1);
        let mut w = waiter(mode);
        w.add(p[0].0.as_raw_fd(), 7, Interest::READ).unwrap();
        sys::write(p[0].1.as_raw_fd(), b"ab").unwrap();
        assert_eq!(ready_tokens(&mut *w), vec![7], "{mode}: first report");
        let again = if mode.edge_triggered() {
            vec![]
        } else {
            vec![7]
        };
        assert_eq!(
            ready_tokens(&mut *w),
            again,
            "{mode}: second report without reading"
        );
        // New data is a new edge.
        sys::write(p[0].1.as_raw_fd(), b"c").unwrap();
        assert_eq!(ready_tokens(&mut *w), vec![7], "{mode}: after more data");
        let mut buf = [0u8; 8];
        assert_eq!(sys::read(p[0].0.as_raw_fd(), &mut buf).unwrap(), 3);
        assert_eq!(ready_tokens(&mut *w), Vec::<u64>::new(), "{mode}: drained");
    }
}

#[test]
fn write_interest_and_modify_and_remove() {
    for &mode in FD_MODES {
        let p = pipes(1);
        let wfd = p[0].1.as_raw_fd();
        let mut w = waiter(mode);
        w.add(wfd, 1, Interest::WRITE).unwrap();
        let mut buf = [Event::default(); 4];
        assert_eq!(w.wait(&mut buf, NOW).unwrap(), 1, "{mode}");
        assert!(buf[0].writable && !buf[0].readable, "{mode}: {:?}", buf[0]);
        w.modify(wfd, 2, Interest::READ).unwrap();
        assert_eq!(
            ready_tokens(&mut *w),
            Vec::<u64>::new(),
            "{mode}: a write end never reads"
        );
        w.remove(wfd).unwrap();
        assert!(w.remove(wfd).is_err(), "{mode}: second remove must fail");
    }
}

#[test]
fn hangup_is_reported_when_the_writer_closes() {
    for &mode in [
        WaitMode::Epoll,
        WaitMode::EpollEt,
        WaitMode::Poll,
        WaitMode::Kevent,
        WaitMode::KeventRing,
    ]
    .iter()
    {
        let (r, wr) = sys::pipe(true).unwrap();
        let mut w = waiter(mode);
        w.add(r.as_raw_fd(), 9, Interest::READ).unwrap();
        drop(wr);
        let mut buf = [Event::default(); 4];
        assert_eq!(w.wait(&mut buf, NOW).unwrap(), 1, "{mode}");
        assert!(buf[0].hangup, "{mode}: {:?}", buf[0]);
    }
}

#[test]
fn timeout_returns_zero_after_waiting() {
    for &mode in FD_MODES {
        let p = pipes(1);
        let mut w = waiter(mode);
        w.add(p[0].0.as_raw_fd(), 1, Interest::READ).unwrap();
        let mut buf = [Event::default(); 4];
        let t = std::time::Instant::now();
        assert_eq!(
            w.wait(&mut buf, Some(Duration::from_millis(20))).unwrap(),
            0,
            "{mode}"
        );
        // Behaviour, not speed: a timed wait must actually have slept.
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "{mode} returned early"
        );
    }
}

#[test]
fn more_ready_than_the_buffer_holds_are_all_reported_over_calls() {
    for &mode in FD_MODES {
        let p = pipes(6);
        let mut w = waiter(mode);
        for (i, (r, wr)) in p.iter().enumerate() {
            w.add(r.as_raw_fd(), i as u64, Interest::READ).unwrap();
            sys::write(wr.as_raw_fd(), b"x").unwrap();
        }
        let mut seen = Vec::new();
        let mut buf = [Event::default(); 4];
        for _ in 0..2 {
            let n = w.wait(&mut buf, NOW).unwrap();
            for e in &buf[..n] {
                let mut b = [0u8; 1];
                assert_eq!(
                    sys::read(p[e.token as usize].0.as_raw_fd(), &mut b).unwrap(),
                    1
                );
                seen.push(e.token);
            }
        }
        seen.sort();
        assert_eq!(seen, (0..6).collect::<Vec<u64>>(), "{mode}");
    }
}

#[test]
fn select_refuses_fds_at_or_above_fd_setsize() {
    let (r, _w) = sys::pipe(true).unwrap();
    // SAFETY: dup2 onto a high, unused fd number; closed below.
    let high = unsafe {
        libc::fcntl(
            r.as_raw_fd(),
            libc::F_DUPFD_CLOEXEC,
            libc::FD_SETSIZE as i32,
        )
    };
    if high < 0 {
        panic!(
            "cannot get an fd >= FD_SETSIZE: {}",
            std::io::Error::last_os_error()
        );
    }
    let mut w = waiter(WaitMode::Select);
    let err = w.add(high, 1, Interest::READ).unwrap_err();
    assert!(err.to_string().contains("FD_SETSIZE"), "{err}");
    // SAFETY: we own `high`.
    unsafe { libc::close(high) };
}
