//! Ping-pong: two tasks bounce a token for R round trips, so every round trip puts each
//! task to sleep once and wakes it once — the workload where wakeups happen.
//!
//! Ping (task 0) signals channel A and waits on channel B; pong (task 1) waits on A and
//! answers on B. Ping times every round trip on the monotonic clock.
use std::{
    io,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Barrier,
    },
    thread,
};

use hdrhistogram::Histogram;

use crate::{
    observer::{gettid, Observer, TaskInfo},
    stop::Stop,
    sys::now_ns,
    Channel, Mechanism,
};

/// Where the tasks run (`--pin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pin {
    /// Both tasks on CPU 0: wakeups never cross CPUs.
    Same,
    /// Ping on CPU 0, pong on CPU 1: every wakeup crosses CPUs.
    Split,
    /// Wherever the scheduler puts them.
    #[default]
    None,
}

impl Pin {
    pub const ALL: &'static [Pin] = &[Pin::Same, Pin::Split, Pin::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Pin::Same => "same",
            Pin::Split => "split",
            Pin::None => "none",
        }
    }

    /// CPU for task `index`, if pinned.
    fn cpu(self, index: u32) -> Option<usize> {
        match self {
            Pin::Same => Some(0),
            Pin::Split => Some(index as usize % 2),
            Pin::None => None,
        }
    }
}

impl std::str::FromStr for Pin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pin::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown placement '{s}' (one of: same, split, none)"))
    }
}

/// What one ping-pong measurement does.
#[derive(Clone, Debug)]
pub struct Config {
    pub mechanism: Mechanism,
    /// Measured round trips.
    pub rounds: u64,
    /// Round trips run first and discarded.
    pub warmup: u64,
    pub pin: Pin,
}

/// What one ping-pong measurement saw.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Measured round trips completed (fewer than asked when stopped).
    pub rounds: u64,
    /// Wall time of the measured round trips, ns.
    pub elapsed_ns: u64,
    /// Round-trip latency, ns.
    pub latency: Histogram<u64>,
    /// True when a stop request cut the measurement short.
    pub interrupted: bool,
}

impl Outcome {
    pub fn ops_per_sec(&self) -> f64 {
        if self.elapsed_ns == 0 {
            0.0
        } else {
            self.rounds as f64 * 1e9 / self.elapsed_ns as f64
        }
    }
}

/// A histogram for nanosecond latencies: 1 ns to 100 s at 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("static bounds are valid")
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        libc::CPU_SET(cpu, &mut set);
        crate::sys::cvt(libc::sched_setaffinity(
            0,
            std::mem::size_of_val(&set),
            &set,
        ))?;
    }
    Ok(())
}

/// Runs one measurement on two threads of this process.
///
/// `stop` ends it early: ping finishes its current round trip, then the partial figures
/// are returned with `interrupted` set.
pub fn run(cfg: &Config, observer: &dyn Observer, stop: &Stop) -> io::Result<Outcome> {
    if cfg.rounds == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "rounds must be at least 1",
        ));
    }
    let a: Arc<dyn Channel> = Arc::from(cfg.mechanism.open(false)?);
    let b: Arc<dyn Channel> = Arc::from(cfg.mechanism.open(false)?);
    // Set by ping when it leaves; pong checks it after every wake.
    let done = Arc::new(AtomicBool::new(false));
    let ready = Barrier::new(2);

    thread::scope(|s| {
        let pong = {
            let (a, b, done, ready) = (a.clone(), b.clone(), done.clone(), &ready);
            thread::Builder::new().name("pong".into()).spawn_scoped(
                s,
                move || -> io::Result<()> {
                    start_task(cfg.pin, 1, "pong", observer)?;
                    ready.wait();
                    loop {
                        a.consume()?;
                        if done.load(Ordering::Acquire) {
                            return Ok(());
                        }
                        b.signal()?;
                    }
                },
            )?
        };
        let ping = thread::Builder::new().name("ping".into()).spawn_scoped(
            s,
            || -> io::Result<Outcome> {
                let leave = || {
                    done.store(true, Ordering::Release);
                    // The last token only wakes pong so it can see `done`.
                    a.signal()
                };
                let r = (|| {
                    start_task(cfg.pin, 0, "ping", observer)?;
                    ready.wait();
                    for _ in 0..cfg.warmup {
                        a.signal()?;
                        b.consume()?;
                    }
                    measure(cfg, &*a, &*b, observer, stop)
                })();
                leave()?;
                r
            },
        )?;
        let outcome = ping
            .join()
            .map_err(|_| io::Error::other("the ping task panicked"))?;
        let pong_result = pong
            .join()
            .map_err(|_| io::Error::other("the pong task panicked"))?;
        let outcome = outcome?;
        pong_result.map_err(|e| io::Error::new(e.kind(), format!("the pong task failed: {e}")))?;
        Ok(outcome)
    })
}

fn start_task(pin: Pin, index: u32, role: &'static str, observer: &dyn Observer) -> io::Result<()> {
    if let Some(cpu) = pin.cpu(index) {
        pin_current_thread(cpu).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot pin {role} to CPU {cpu}: {e}"))
        })?;
    }
    observer.task_started(&TaskInfo {
        tid: gettid(),
        index,
        role,
    });
    Ok(())
}

fn measure(
    cfg: &Config,
    a: &dyn Channel,
    b: &dyn Channel,
    observer: &dyn Observer,
    stop: &Stop,
) -> io::Result<Outcome> {
    let mut latency = latency_histogram();
    let mut rounds = 0;
    observer.measuring(true);
    let start = now_ns();
    let mut last = start;
    let result = (|| -> io::Result<()> {
        while rounds < cfg.rounds {
            if stop.is_set() {
                break;
            }
            a.signal()?;
            b.consume()?;
            let now = now_ns();
            latency.saturating_record(now - last);
            last = now;
            rounds += 1;
        }
        Ok(())
    })();
    observer.measuring(false);
    result?;
    Ok(Outcome {
        rounds,
        elapsed_ns: last - start,
        latency,
        interrupted: rounds < cfg.rounds,
    })
}
