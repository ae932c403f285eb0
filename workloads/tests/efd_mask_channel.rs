//! MaskChannel (the efd-mask-fuse / efd-mask-socketpair mechanisms) as a Channel: exact
//! message counts when signals meet, when producers race a consumer, and through
//! blocking, level- and edge-triggered waits on wait_fd().
mod efd_mask_util;

use std::{
    sync::{mpsc, Arc},
    thread,
    time::{Duration, Instant},
};

use efd_mask_util::*;
use workloads::{
    efd_mask::{Backend, Mask, MaskChannel, POLLIN},
    Channel,
};

#[test]
fn signals_that_meet_are_counted_not_merged() {
    for backend in Backend::ALL {
        let ch = MaskChannel::new(*backend, true).unwrap();
        let fd = ch.wait_fd().unwrap();
        assert_eq!(ch.consume().unwrap(), 0, "{backend}: nothing pending");
        assert_eq!(poll_events(fd) & POLLIN, 0);
        ch.signal().unwrap();
        ch.signal().unwrap();
        ch.signal().unwrap();
        assert_eq!(
            ch.mask_fd().get().unwrap(),
            Mask::new(POLLIN, 3),
            "{backend}"
        );
        assert_eq!(
            poll_events(fd) & POLLIN,
            POLLIN,
            "{backend}: readable while pending"
        );
        assert_eq!(ch.consume().unwrap(), 3, "{backend}");
        assert_eq!(ch.consume().unwrap(), 0, "{backend}");
        assert_eq!(
            poll_events(fd) & POLLIN,
            0,
            "{backend}: not readable once consumed"
        );
        assert_eq!(ch.server_tid().is_some(), *backend == Backend::Fuse);
    }
}

/// `producers` threads signal `per` times each while one consumer takes them with
/// `wait` between consumes; the consumer must see exactly producers * per.
fn race(backend: Backend, producers: u64, per: u64, wait: &'static str) -> (u64, u64) {
    let nonblocking = wait != "block";
    let ch = Arc::new(MaskChannel::new(backend, nonblocking).unwrap());
    let total = producers * per;
    let hs: Vec<_> = (0..producers)
        .map(|_| {
            let ch = ch.clone();
            thread::spawn(move || {
                for _ in 0..per {
                    ch.signal().unwrap();
                }
            })
        })
        .collect();
    let fd = ch.wait_fd().unwrap();
    let ep = match wait {
        "epoll" => Some(Epoll::new(fd, false)),
        "epoll-et" => Some(Epoll::new(fd, true)),
        _ => None,
    };
    let (mut got, mut consumes) = (0, 0);
    let t0 = Instant::now();
    while got < total {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{backend}/{wait}: stuck at {got} of {total}"
        );
        if let Some(ep) = &ep {
            // Bounded waits: a lost wakeup shows as a stuck count, not a hang.
            ep.wait(100);
        } else if wait == "poll" {
            poll_wait(fd, POLLIN, 100);
        }
        let n = ch.consume().unwrap();
        if n > 0 {
            consumes += 1;
        }
        got += n;
    }
    for h in hs {
        h.join().unwrap();
    }
    // Nothing left over (a blocking consume would wait: look at the mask instead).
    assert_eq!(
        ch.mask_fd().get().unwrap(),
        Mask::new(0, 0),
        "{backend}/{wait}"
    );
    (got, consumes)
}

#[test]
fn racing_producers_and_a_consumer_count_exactly() {
    for backend in Backend::ALL {
        for wait in ["block", "poll", "epoll", "epoll-et"] {
            // On a thread: a lost wakeup in a blocking consume fails, not hangs, the test.
            let (tx, rx) = mpsc::channel();
            let b = *backend;
            thread::spawn(move || {
                let _ = tx.send(race(b, 2, 5_000, wait));
            });
            let (got, consumes) = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("{backend}/{wait}: consumer stalled"));
            assert_eq!(got, 10_000, "{backend}/{wait}");
            assert!(consumes <= 10_000, "{backend}/{wait}: {consumes} consumes");
        }
    }
}

/// Blocking ping-pong: any lost wakeup deadlocks it, so it runs on a thread and the
/// test fails (instead of hanging) after a bound.
#[test]
fn ping_pong_over_two_channels_never_loses_a_wakeup() {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        ping_pong_both();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("blocking ping-pong stalled: a wakeup was lost");
}

fn ping_pong_both() {
    for backend in Backend::ALL {
        let a = Arc::new(MaskChannel::new(*backend, false).unwrap());
        let b = Arc::new(MaskChannel::new(*backend, false).unwrap());
        let rounds = 2_000u64;
        let (a2, b2) = (a.clone(), b.clone());
        let pong = thread::spawn(move || {
            let mut n = 0;
            while n < rounds {
                n += a2.consume().unwrap();
                b2.signal().unwrap();
            }
            n
        });
        let mut back = 0;
        for _ in 0..rounds {
            a.signal().unwrap();
            back += b.consume().unwrap();
        }
        assert_eq!(pong.join().unwrap(), rounds, "{backend}");
        assert_eq!(back, rounds, "{backend}");
    }
}
