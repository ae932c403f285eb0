//! pipetest: a faithful port of Davide Libenzi's pipetest-4.c and, on eventfds, of his
//! eventfd-bench.c (the benchmark quoted by the 2007 eventfd commit).
//!
//! The algorithm is kept exactly: one process, one thread; N non-blocking channels in
//! one wait set (epoll with EPOLLIN|EPOLLET by default); A channels are fired first;
//! the loop waits with a zero timeout and, for each ready channel i, reads one message
//! and, while the write budget W lasts, writes one message to channel (i + A + 1) mod N.
//! A run ends when every fired message was read; 16 runs; each run costs elapsed µs /
//! messages read; the result is the mean of the middle 6 sorted runs and their sigma.
//!
//! Two deliberate differences, both about bad input: A ≥ N is an error (the original
//! clamps silently), and a wait that finds nothing ready while messages are still
//! outstanding is an error instead of a spin forever (one thread: nothing else could
//! ever make a channel ready).
//!
//! The loop only sees [`Channel`] and [`Waiter`], so later mechanisms and wait modes plug
//! in without touching it.
use std::{io, os::fd::RawFd, time::Duration};

use serde::Serialize;

use crate::{
    fds,
    observer::{gettid, Observer, TaskInfo},
    stats::middle_mean_sigma,
    stop::Stop,
    sys::now_ns,
    Channel, Event, Interest, Mechanism, WaitMode,
};

/// Runs per measurement, as in the original.
pub const RUNS: usize = 16;
/// Sorted runs kept for the average, as in the original.
pub const KEEP: usize = 6;

/// What one pipetest measurement does (`-n`, `-a`, `-w`, `--mechanism`, `--wait`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Channels (`-n`, default 200).
    pub channels: usize,
    /// Channels fired first (`-a`, default 1).
    pub active: usize,
    /// Write budget per run (`-w`, default 50,000).
    pub writes: u64,
    pub mechanism: Mechanism,
    /// How the loop waits (default epoll-et, the original's EPOLLIN|EPOLLET).
    pub wait: WaitMode,
    /// Busy work per message read (`--think`): the loop spins this long on
    /// CLOCK_MONOTONIC for each message it consumes, before forwarding it. Recorded as
    /// `think_ns` in the case's options, never in its id.
    #[serde(rename = "think_ns", serialize_with = "crate::sys::serialize_ns")]
    pub think: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            channels: 200,
            active: 1,
            writes: 50_000,
            mechanism: Mechanism::Pipe,
            wait: WaitMode::EpollEt,
            think: Duration::ZERO,
        }
    }
}

/// One of the 16 runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// Wall time of the run, ns (monotonic clock).
    pub elapsed_ns: u64,
    /// Messages read (counted by value for eventfd: one read may carry several).
    pub messages: u64,
    /// Messages written, the initial A included.
    pub fired: u64,
    /// Ready reports the wait returned.
    pub events: u64,
    /// elapsed µs / messages read.
    pub us_per_event: f64,
}

/// What one pipetest measurement saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub runs: Vec<Run>,
    /// Mean µs/event of the middle 6 sorted runs (of all completed runs if stopped early).
    pub avg_us: f64,
    /// Their standard deviation.
    pub sigma_us: f64,
    /// True when a stop request cut the measurement short.
    pub interrupted: bool,
}

impl Outcome {
    /// The original's output: one line per run unless `quiet`, then `AVG:` and `SIG:`.
    pub fn human(&self, quiet: bool) -> String {
        let mut s = String::new();
        if !quiet {
            for r in &self.runs {
                s.push_str(&format!("{:.6} us/event\n", r.us_per_event));
            }
        }
        s.push_str(&format!("AVG: {:.6} us/event\n", self.avg_us));
        s.push_str(&format!("SIG: {:.6}\n", self.sigma_us));
        s
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Checks the options before anything is opened.
pub fn validate(cfg: &Config) -> io::Result<()> {
    if cfg.channels < 2 {
        return Err(invalid(format!(
            "-n {}: pipetest needs at least 2 channels",
            cfg.channels
        )));
    }
    if cfg.active == 0 {
        return Err(invalid("-a 0: at least one channel must be fired".into()));
    }
    if cfg.active >= cfg.channels {
        return Err(invalid(format!(
            "-a {} must be less than -n {}: each fired message is forwarded A+1 channels ahead, \
             so A ≥ N fires channels that do not exist (the original silently clamps A)",
            cfg.active, cfg.channels
        )));
    }
    if cfg.wait == WaitMode::Block {
        return Err(invalid(
            "pipetest runs one thread over many channels, so it needs a waiter: use --wait epoll-et, epoll, poll or select".into(),
        ));
    }
    if !cfg.mechanism.has_fd() {
        return Err(invalid(format!(
            "--mechanism {} has no fd to wait on; pipetest needs an fd mechanism",
            cfg.mechanism
        )));
    }
    Ok(())
}

/// fds pipetest opens beyond what it finds: its channels', the mechanism's shared
/// ones ([`Mechanism::shared_fds`]) and the waiter's ([`WaitMode::fds_held`]).
pub fn fds_needed(cfg: &Config) -> usize {
    cfg.channels * cfg.mechanism.fds_per_channel()
        + cfg.mechanism.shared_fds()
        + cfg.wait.fds_held()
}

/// Checks, before anything is opened, that pipetest with `cfg` can open its fds in
/// this process as it is now ([`check_fds_beside`] with the fds open now and nothing
/// reserved).
pub fn check_fds(cfg: &Config) -> io::Result<()> {
    check_fds_beside(cfg, &fds::open_fds()?, 0)
}

/// Checks that pipetest with `cfg` can open its fds beside `open` (the fds open when it
/// starts, ascending: [`fds::open_fds`]) and `reserved` more the caller opens before it
/// (they take the lowest free numbers first). Two limits (see [`fds`]):
///
/// - RLIMIT_NOFILE: the soft limit is raised as far as needed (open + reserved +
///   [`fds_needed`] + [`FD_SLACK`]), up to the hard limit, which is never changed (an
///   unprivileged process could not raise it back);
/// - with `--wait select`, the highest fd number its channels get must be below
///   FD_SETSIZE (1024): new fds take the lowest free numbers, so what is already open
///   below 1024 counts, not only how much is open.
///
/// Errors (InvalidInput, one line): either limit exceeded, naming the most channels
/// that fit here; or setrlimit's.
pub fn check_fds_beside(cfg: &Config, open: &[RawFd], reserved: usize) -> io::Result<()> {
    let per = cfg.mechanism.fds_per_channel().max(1);
    let channel_fds = cfg.channels * cfg.mechanism.fds_per_channel();
    // Opened before the channels' fds (the caller's, the mechanism's shared ones).
    let before = reserved + cfg.mechanism.shared_fds();
    if cfg.wait == WaitMode::Select {
        let setsize = libc::FD_SETSIZE as RawFd;
        let highest = fds::nth_free(open, before + channel_fds);
        if highest >= setsize {
            let free = fds::free_below(open, setsize);
            return Err(invalid(format!(
                "--wait select: -n {} would put its fds up to fd {highest}, but select(2) watches only fds below FD_SETSIZE ({setsize}) and {} of those are already open here: at most {} {} channels; use --wait poll or epoll for more",
                cfg.channels,
                setsize as usize - free,
                free.saturating_sub(before) / per,
                cfg.mechanism
            )));
        }
    }
    let needed = fds_needed(cfg);
    let held = open.len() + reserved;
    let want = (held + needed + FD_SLACK) as u64;
    let (soft, hard) = fds::nofile_limit()?;
    if want <= soft {
        return Ok(());
    }
    if want > hard {
        let room = (hard as usize).saturating_sub(held + FD_SLACK + needed - channel_fds);
        return Err(invalid(format!(
            "-n {} needs {want} file descriptors ({needed} for its channels and waiter, {held} already open, {FD_SLACK} kept free) but the RLIMIT_NOFILE hard limit is {hard}: at most {} {} channels here; use fewer channels or raise the hard limit",
            cfg.channels,
            room / per,
            cfg.mechanism
        )));
    }
    fds::raise_soft_limit(want)
}

/// Fds kept free beside the workload's own: stdio and whatever else the process opens
/// for a moment during a run (reading /proc, a progress line).
pub const FD_SLACK: usize = 32;

/// Runs one measurement (16 runs) on the calling thread.
pub fn run(cfg: &Config, observer: &dyn Observer, stop: &Stop) -> io::Result<Outcome> {
    validate(cfg)?;
    check_fds(cfg)?;
    let chans = (0..cfg.channels)
        .map(|_| cfg.mechanism.open(true))
        .collect::<io::Result<Vec<Box<dyn Channel>>>>()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open {} channels: {e}", cfg.channels),
            )
        })?;
    for helper in cfg.mechanism.helper_tasks() {
        observer.task_started(&helper);
    }
    let mut waiter = cfg
        .wait
        .open()?
        .ok_or_else(|| invalid("pipetest needs a waiter".into()))?;
    for (i, c) in chans.iter().enumerate() {
        let fd = c
            .wait_fd()
            .ok_or_else(|| invalid(format!("--mechanism {} has no fd", cfg.mechanism)))?;
        waiter.add(fd, i as u64, Interest::READ)?;
    }
    let mut ready = vec![Event::default(); cfg.channels];

    observer.task_started(&TaskInfo {
        tid: gettid(),
        index: 0,
        role: "pipetest",
    });
    observer.measuring(true);
    let mut runs = Vec::with_capacity(RUNS);
    let mut interrupted = false;
    let result = (|| -> io::Result<()> {
        for _ in 0..RUNS {
            match one_run(cfg, &chans, &mut *waiter, &mut ready, stop)? {
                Some(r) => runs.push(r),
                None => {
                    interrupted = true;
                    break;
                }
            }
        }
        Ok(())
    })();
    observer.measuring(false);
    result?;

    let per: Vec<f64> = runs.iter().map(|r| r.us_per_event).collect();
    let (avg_us, sigma_us) = middle_mean_sigma(&per, KEEP)
        .or_else(|| {
            // Stopped early: fewer than 16 runs, so no middle 6; report all of them.
            let s = crate::stats::Summary::of(&per)?;
            let var = per.iter().map(|x| (x - s.mean).powi(2)).sum::<f64>() / per.len() as f64;
            Some((s.mean, var.sqrt()))
        })
        .unwrap_or((0.0, 0.0));
    Ok(Outcome {
        runs,
        avg_us,
        sigma_us,
        interrupted,
    })
}

/// One run; `None` when stopped.
fn one_run(
    cfg: &Config,
    chans: &[Box<dyn Channel>],
    waiter: &mut dyn crate::Waiter,
    ready: &mut [Event],
    stop: &Stop,
) -> io::Result<Option<Run>> {
    let n = chans.len();
    let mut fired = 0u64;
    let mut writes = 0u64;
    let mut reads = 0u64;
    let mut events = 0u64;
    let think_ns = cfg.think.as_nanos() as u64;
    let start = now_ns();
    for c in &chans[..cfg.active] {
        c.signal()?;
        fired += 1;
    }
    while reads < fired {
        if stop.is_set() {
            return Ok(None);
        }
        let k = waiter.wait(ready, Some(Duration::ZERO))?;
        if k == 0 {
            return Err(io::Error::other(format!(
                "pipetest stalled: {} messages outstanding but no channel is ready \
                 (with -a {} of -n {} messages collided on one channel)",
                fired - reads,
                cfg.active,
                n
            )));
        }
        events += k as u64;
        for ev in &ready[..k] {
            let i = ev.token as usize;
            let got = chans[i].consume()?;
            if got == 0 {
                continue;
            }
            reads += got;
            crate::sys::think(think_ns.saturating_mul(got), || stop.is_set());
            if writes < cfg.writes {
                chans[(i + cfg.active + 1) % n].signal()?;
                writes += 1;
                fired += 1;
            }
        }
    }
    let elapsed_ns = now_ns() - start;
    Ok(Some(Run {
        elapsed_ns,
        messages: reads,
        fired,
        events,
        us_per_event: elapsed_ns as f64 / 1e3 / reads as f64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoObserver;

    fn small(mechanism: Mechanism, active: usize) -> Config {
        Config {
            channels: 16,
            active,
            writes: 500,
            mechanism,
            wait: WaitMode::EpollEt,
            think: Duration::ZERO,
        }
    }

    #[test]
    fn every_fired_message_is_read_exactly() {
        for m in [Mechanism::Pipe, Mechanism::Eventfd, Mechanism::EventfdSem] {
            for active in [1, 3, 7] {
                let cfg = small(m, active);
                let out = run(&cfg, &NoObserver, &Stop::new()).unwrap();
                assert_eq!(out.runs.len(), RUNS, "{m}");
                assert!(!out.interrupted);
                for r in &out.runs {
                    assert_eq!(r.fired, active as u64 + 500, "{m} -a {active}");
                    assert_eq!(r.messages, active as u64 + 500, "{m} -a {active}");
                }
            }
        }
    }

    #[test]
    fn human_output_has_the_originals_lines() {
        let out = Outcome {
            runs: vec![Run {
                elapsed_ns: 1500,
                messages: 3,
                fired: 3,
                events: 3,
                us_per_event: 0.5,
            }],
            avg_us: 0.5,
            sigma_us: 0.0,
            interrupted: false,
        };
        assert_eq!(
            out.human(false),
            "0.500000 us/event\nAVG: 0.500000 us/event\nSIG: 0.000000\n"
        );
        assert_eq!(out.human(true), "AVG: 0.500000 us/event\nSIG: 0.000000\n");
    }

    /// `--think`: the loop spins at least `think` per message read, so each run of
    /// 501 messages takes at least 501 × 20 µs, and the counts stay exact.
    #[test]
    fn think_spins_per_message_read() {
        let cfg = Config {
            think: Duration::from_micros(20),
            ..small(Mechanism::Pipe, 1)
        };
        let o = run(&cfg, &NoObserver, &Stop::new()).unwrap();
        assert_eq!(o.runs.len(), 16);
        for r in &o.runs {
            assert_eq!(r.messages, 501);
            assert!(r.elapsed_ns >= 501 * 20_000, "{} ns", r.elapsed_ns);
        }
    }

    #[test]
    fn bad_options_are_refused_with_the_reason() {
        let e = |c: Config| run(&c, &NoObserver, &Stop::new()).unwrap_err().to_string();
        let base = small(Mechanism::Pipe, 1);
        assert!(e(Config {
            channels: 1,
            ..base.clone()
        })
        .contains("at least 2 channels"));
        assert!(e(Config {
            active: 16,
            ..base.clone()
        })
        .contains("must be less than -n"));
        assert!(e(Config {
            active: 0,
            ..base.clone()
        })
        .contains("at least one"));
        assert!(e(Config {
            wait: WaitMode::Block,
            ..base.clone()
        })
        .contains("needs a waiter"));
        assert!(e(Config {
            mechanism: Mechanism::Futex,
            ..base.clone()
        })
        .contains("no fd"));
        // 15,000 pipes need 30,000 fds: above this machine's hard limit, never raised.
        let big = e(Config {
            channels: 15_000,
            ..base
        });
        assert!(big.contains("hard limit"), "{big}");
    }
}
