//! Each mechanism's channel on real kernel objects: exact message counts, non-blocking
//! emptiness, eventfd's merging vs EFD_SEMAPHORE, blocking wakeups across threads, and
//! the futex word shared across fork.
use std::{sync::Arc, thread, time::Duration};

use workloads::{mechanism::OpenOptions, Channel, Event, Interest, Mechanism, WaitMode};

const NB: OpenOptions = OpenOptions {
    nonblocking: true,
    cross_process: false,
};

#[test]
fn nonblocking_empty_channel_consumes_zero() {
    for &m in Mechanism::ALL {
        let c = m.open_with(NB).unwrap();
        assert_eq!(c.consume().unwrap(), 0, "{m}");
    }
}

#[test]
fn messages_are_counted_exactly() {
    // Three signals, then drain: pipe reads 1 byte per call, eventfd takes the count of
    // 3 in one read, eventfd-sem 1 per read, futex the whole word, a mask fd the
    // count kept in its data.
    let per_read = |m: Mechanism| match m {
        Mechanism::Pipe | Mechanism::EventfdSem => vec![1, 1, 1, 0],
        Mechanism::Eventfd | Mechanism::Futex => vec![3, 0],
        Mechanism::EfdMaskFuse | Mechanism::EfdMaskSocketpair => vec![3, 0],
    };
    for &m in Mechanism::ALL {
        let c = m.open_with(NB).unwrap();
        for _ in 0..3 {
            c.signal().unwrap();
        }
        let got: Vec<u64> = (0..per_read(m).len())
            .map(|_| c.consume().unwrap())
            .collect();
        assert_eq!(got, per_read(m), "{m}");
    }
}

#[test]
fn fd_mechanisms_become_readable_and_futex_has_no_fd() {
    for &m in Mechanism::ALL {
        let c = m.open_with(NB).unwrap();
        assert_eq!(c.wait_fd().is_some(), m.has_fd(), "{m}");
        let Some(fd) = c.wait_fd() else { continue };
        let mut w = WaitMode::Epoll.open().unwrap().unwrap();
        w.add(fd, 5, Interest::READ).unwrap();
        let mut ev = [Event::default(); 2];
        assert_eq!(w.wait(&mut ev, Some(Duration::ZERO)).unwrap(), 0, "{m}");
        c.signal().unwrap();
        assert_eq!(w.wait(&mut ev, Some(Duration::ZERO)).unwrap(), 1, "{m}");
        assert_eq!(ev[0].token, 5);
        assert_eq!(c.consume().unwrap(), 1, "{m}");
        assert_eq!(
            w.wait(&mut ev, Some(Duration::ZERO)).unwrap(),
            0,
            "{m}: drained"
        );
    }
}

#[test]
fn blocking_consume_sleeps_until_another_thread_signals() {
    for &m in Mechanism::ALL {
        let c: Arc<dyn Channel> = Arc::from(m.open(false).unwrap());
        let reader = {
            let c = c.clone();
            thread::spawn(move || {
                let mut total = 0;
                while total < 50 {
                    total += c.consume().unwrap();
                }
                total
            })
        };
        for i in 0..50 {
            c.signal().unwrap();
            if i % 10 == 0 {
                // Let the reader go back to sleep so some consumes really block.
                thread::sleep(Duration::from_millis(2));
            }
        }
        // Messages may merge (eventfd, futex) but none is lost or invented.
        assert_eq!(reader.join().unwrap(), 50, "{m}");
    }
}

#[test]
fn futex_word_is_shared_with_a_forked_child() {
    let c = Mechanism::Futex
        .open_with(OpenOptions {
            nonblocking: false,
            cross_process: true,
        })
        .unwrap();
    // SAFETY: the child only touches the futex channel and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let mut total = 0;
        while total < 2 {
            match c.consume() {
                Ok(n) => total += n,
                // SAFETY: leave without running the harness's destructors.
                Err(_) => unsafe { libc::_exit(99) },
            }
        }
        // SAFETY: as above.
        unsafe { libc::_exit(total as i32) };
    }
    // The child blocks in FUTEX_WAIT on the shared page until these arrive.
    thread::sleep(Duration::from_millis(20));
    c.signal().unwrap();
    thread::sleep(Duration::from_millis(20));
    c.signal().unwrap();
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 2);
}

#[test]
fn names_round_trip_and_unknown_is_refused() {
    for &m in Mechanism::ALL {
        assert_eq!(m.as_str().parse::<Mechanism>().unwrap(), m);
    }
    let e = "kqueue".parse::<Mechanism>().unwrap_err();
    assert!(e.contains("unknown mechanism 'kqueue'"), "{e}");
}
