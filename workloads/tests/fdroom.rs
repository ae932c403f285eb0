//! pipetest's fd check against select(2)'s FD_SETSIZE counts the fds really open and
//! the numbers they hold: the most channels it names run, one more is refused before
//! anything opens, and fds held beside the workload (as evbench's probes are) lower the
//! most by exactly what they take. Its own test binary, one test: it opens and closes
//! fds of this process, which a parallel test would disturb.
use std::os::fd::{AsRawFd, OwnedFd};

use workloads::{fds, pipetest, stop::Stop, Mechanism, NoObserver, WaitMode};

fn cfg(channels: usize) -> pipetest::Config {
    pipetest::Config {
        channels,
        active: 1,
        writes: 50,
        mechanism: Mechanism::Pipe,
        wait: WaitMode::Select,
        think: std::time::Duration::ZERO,
    }
}

/// The most channels the refusal of `n` names.
fn most(n: usize) -> usize {
    let e = pipetest::check_fds(&cfg(n)).unwrap_err().to_string();
    let tail = e.split("at most ").nth(1).unwrap_or_else(|| panic!("{e}"));
    tail.split(' ').next().unwrap().parse().unwrap()
}

/// The most runs (every run reads its 51 messages), one more is refused naming the same
/// most, before any fd is opened.
fn boundary_holds(max: usize) {
    let out = pipetest::run(&cfg(max), &NoObserver, &Stop::new()).expect("the most that fit runs");
    assert_eq!(out.runs.len(), pipetest::RUNS);
    assert!(out.runs.iter().all(|r| r.messages == 51));
    let before = fds::open_fds().unwrap();
    let e = pipetest::run(&cfg(max + 1), &NoObserver, &Stop::new())
        .unwrap_err()
        .to_string();
    assert_eq!(e.split("at most ").count(), 2, "{e}");
    assert_eq!(most(max + 1), max);
    assert!(e.starts_with(&format!(
        "--wait select: -n {} would put its fds up to fd 102",
        max + 1
    )));
    assert_eq!(fds::open_fds().unwrap(), before, "nothing opened");
}

#[test]
fn select_refuses_exactly_past_the_fds_that_fit_below_fd_setsize() {
    let open = fds::open_fds().unwrap();
    let free = fds::free_below(&open, libc::FD_SETSIZE as i32);
    let max = most(1000);
    assert_eq!(max, free / 2);
    boundary_holds(max);

    // 40 fds held beside the workload (the probes' share in evbench): 20 channels fewer.
    let held: Vec<OwnedFd> = (0..40)
        .map(|_| std::fs::File::open("/dev/null").unwrap().into())
        .collect();
    assert_eq!(most(1000), (free - 40) / 2);
    boundary_holds((free - 40) / 2);

    // A hole below them (fds closed after others were opened) is filled first: the most
    // counts free numbers, not only the count of fds open.
    let low = held[0].as_raw_fd();
    let mut held = held;
    held.remove(0);
    assert_eq!(fds::nth_free(&fds::open_fds().unwrap(), 1), low);
    assert_eq!(most(1000), (free - 39) / 2);
    boundary_holds((free - 39) / 2);
    drop(held);
}
