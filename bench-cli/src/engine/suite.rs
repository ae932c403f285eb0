//! The cases `evbench run` measures: one workload's, or the default suite's when no
//! workload is named (issue 7: every pipetest mechanism × fd wait mode, the ping-pong
//! mechanisms on one CPU and split, the HTTP server per wait mode).
use workloads::{pingpong, pipetest, Mechanism, WaitMode};

use crate::cli::HttpArgs;

use super::Spec;

/// How big the default suite's cases are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// The real suite: each case short, the whole suite well under 2 minutes on 2 CPUs.
    Full,
    /// A tenth of the work per case, for tests (`EVBENCH_SUITE_SIZE=quick`).
    Quick,
}

impl Size {
    /// `EVBENCH_SUITE_SIZE=quick` selects the small suite; anything else the full one.
    pub fn from_env() -> Self {
        match std::env::var("EVBENCH_SUITE_SIZE").as_deref() {
            Ok("quick") => Size::Quick,
            _ => Size::Full,
        }
    }
}

/// pipetest's mechanisms in the suite: every fd mechanism.
pub const PIPETEST_MECHANISMS: &[Mechanism] = &[
    Mechanism::Pipe,
    Mechanism::Eventfd,
    Mechanism::EventfdSem,
    Mechanism::EfdMaskFuse,
    Mechanism::EfdMaskSocketpair,
];
/// pipetest's wait modes in the suite: epoll and the kevent emulation's two.
pub const PIPETEST_WAITS: &[WaitMode] = &[WaitMode::Epoll, WaitMode::Kevent, WaitMode::KeventRing];
/// Ping-pong (mechanism, wait mode) pairs in the suite, each pinned same and split.
pub const PINGPONG: &[(Mechanism, WaitMode)] = &[
    (Mechanism::Pipe, WaitMode::Block),
    (Mechanism::Eventfd, WaitMode::Block),
    (Mechanism::Futex, WaitMode::Block),
    (Mechanism::EfdMaskFuse, WaitMode::Block),
    (Mechanism::EfdMaskSocketpair, WaitMode::Block),
    (Mechanism::Pipe, WaitMode::Kevent),
];
/// HTTP server wait modes in the suite.
pub const HTTP_WAITS: &[&str] = &["epoll", "kevent", "tokio"];

/// The default suite, in the order it runs: pipetest, pingpong, http.
pub fn default_suite(size: Size) -> Vec<Spec> {
    // Per pass; every case runs a warm-up, a clean and a probed pass by default, so
    // the full suite stays near a minute on 2 CPUs.
    let (writes, rounds, warmup_rounds) = match size {
        Size::Full => (2_000, 10_000, 500),
        Size::Quick => (500, 2_000, 100),
    };
    let mut out = Vec::new();
    for &wait in PIPETEST_WAITS {
        for &mechanism in PIPETEST_MECHANISMS {
            out.push(Spec::Pipetest(pipetest::Config {
                channels: 200,
                active: 1,
                writes,
                mechanism,
                wait,
                think: std::time::Duration::ZERO,
            }));
        }
    }
    for &(mechanism, wait) in PINGPONG {
        for pin in [pingpong::Pin::Same, pingpong::Pin::Split] {
            out.push(Spec::Pingpong(pingpong::Config {
                mechanism,
                wait,
                pin,
                rounds,
                warmup: warmup_rounds,
                ..pingpong::Config::default()
            }));
        }
    }
    for &wait in HTTP_WAITS {
        let mut h = HttpArgs::suite();
        h.wait = vec![wait.into()];
        h.client.duration = std::time::Duration::from_millis(500);
        h.client.warmup_time = std::time::Duration::from_millis(200);
        if size == Size::Quick {
            h.client.duration = std::time::Duration::from_millis(200);
            h.client.warmup_time = std::time::Duration::from_millis(100);
        }
        out.push(Spec::Http(h));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The suite is what issue 7 asks for: every pipetest mechanism × fd wait mode, the
    /// ping-pong mechanisms (and kevent) on one CPU and split, http per wait mode.
    #[test]
    fn default_suite_cases() {
        let ids: Vec<String> = default_suite(Size::Full).iter().map(Spec::id).collect();
        let mut want = Vec::new();
        for w in ["epoll", "kevent", "kevent-ring"] {
            for m in [
                "pipe",
                "eventfd",
                "eventfd-sem",
                "efd-mask-fuse",
                "efd-mask-socketpair",
            ] {
                want.push(format!("pipetest/{m}/{w}"));
            }
        }
        for (m, w) in [
            ("pipe", "block"),
            ("eventfd", "block"),
            ("futex", "block"),
            ("efd-mask-fuse", "block"),
            ("efd-mask-socketpair", "block"),
            ("pipe", "kevent"),
        ] {
            for pin in ["same", "split"] {
                want.push(format!("pingpong/{m}/{w}/pin={pin}"));
            }
        }
        for w in ["epoll", "kevent", "tokio"] {
            want.push(format!("http/{w}"));
        }
        assert_eq!(ids, want);
        for s in default_suite(Size::Full) {
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", s.id()));
        }
    }
}
