//! pipetest raises the RLIMIT_NOFILE soft limit as far as it needs, never touches the
//! hard limit, and refuses clearly when even the hard limit is too low. Its own test
//! binary: it lowers this process's soft limit, which would starve parallel tests.
use workloads::{pipetest, stop::Stop, Mechanism, NoObserver, WaitMode};

fn limits() -> libc::rlimit {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: l is a valid rlimit to write into.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
    l
}

#[test]
fn soft_limit_is_raised_up_to_the_hard_limit_and_never_past_it() {
    let orig = limits();
    let hard = orig.rlim_max;
    // Lowering only the soft limit is always allowed, and undone below.
    let low = libc::rlimit {
        rlim_cur: 64,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);

    // 300 pipes need 600 fds: far above 64, far below the hard limit.
    let cfg = pipetest::Config {
        channels: 300,
        active: 2,
        writes: 300,
        mechanism: Mechanism::Pipe,
        wait: WaitMode::EpollEt,
        think: std::time::Duration::ZERO,
    };
    let out = pipetest::run(&cfg, &NoObserver, &Stop::new());
    let after = limits();
    // SAFETY: restores the soft limit we lowered (never above the unchanged hard one).
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &orig) };

    let out = out.expect("the soft limit is raised as needed");
    assert!(out.runs.iter().all(|r| r.messages == 302));
    assert!(after.rlim_cur >= 600, "soft limit now {}", after.rlim_cur);
    assert_eq!(after.rlim_max, hard, "the hard limit is never changed");

    // More pipes than the hard limit allows: refused before opening any.
    let too_many = (hard as usize) / 2 + 100;
    let e = pipetest::run(
        &pipetest::Config {
            channels: too_many,
            ..cfg
        },
        &NoObserver,
        &Stop::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("hard limit"), "{e}");
    assert_eq!(limits().rlim_max, hard);
}
