//! Ping-pong: tasks bounce a token for R round trips, so every round trip puts tasks to
//! sleep and wakes them — the workload where wakeups happen.
//!
//! Topologies: `pair` (ping signals A and waits on B, pong answers), `ring:N` (the token
//! goes around N tasks), `fanout:N` (one waker and N waiters on ONE shared channel; a
//! waiter that takes the message answers on a shared reply channel, so every waiter that
//! is woken for nothing shows up as a wasted wakeup — the thundering herd). Task 0, the
//! driver, times every round trip on the monotonic clock into an HDR histogram.
//!
//! Tasks are threads of this process or forked processes; either way they share one
//! control block in a `MAP_SHARED` mapping ([`control`]), so the code is the same. The
//! calling thread is the controller: it starts the tasks, reports them to the
//! [`Observer`], opens and closes the measured window, watches for dead or stalled tasks
//! (timeouts on the control path only) and collects the figures.
use std::{fmt, io, str::FromStr, time::Duration};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{observer::Observer, stop::Stop, Mechanism, WaitMode};

mod control;
mod run;
mod task;

pub use control::MAX_TASKS;

/// Where the tasks run (`--pin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pin {
    /// Every task on CPU 0: wakeups never cross CPUs.
    Same,
    /// Task i on CPU i mod 2: ping and pong always on different CPUs.
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

impl FromStr for Pin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pin::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown placement '{s}' (one of: same, split, none)"))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the tasks are (`--tasks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tasks {
    /// Threads of this process.
    #[default]
    Threads,
    /// Forked processes (futex then uses a shared mapping and non-private ops).
    Processes,
}

impl Tasks {
    pub const ALL: &'static [Tasks] = &[Tasks::Threads, Tasks::Processes];

    pub fn as_str(self) -> &'static str {
        match self {
            Tasks::Threads => "threads",
            Tasks::Processes => "processes",
        }
    }
}

impl FromStr for Tasks {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Tasks::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown task kind '{s}' (one of: threads, processes)"))
    }
}

impl fmt::Display for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the tasks pass the token (`--topology`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Topology {
    /// Two tasks, two channels.
    #[default]
    Pair,
    /// N tasks, the token goes around them; one round trip is one lap.
    Ring(u32),
    /// One waker and N waiters on one shared channel; one round trip is one event
    /// signalled and answered by whichever waiter took it.
    Fanout(u32),
}

impl Topology {
    /// Tasks this topology runs, the driver included.
    pub fn task_count(self) -> usize {
        match self {
            Topology::Pair => 2,
            Topology::Ring(n) => n as usize,
            Topology::Fanout(n) => n as usize + 1,
        }
    }
}

impl FromStr for Topology {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let count = |n: &str, what: &str| {
            n.parse::<u32>().map_err(|_| {
                format!("bad topology '{s}': {what} needs a task count, e.g. {what}:4")
            })
        };
        match s.split_once(':') {
            None if s == "pair" => Ok(Topology::Pair),
            Some(("ring", n)) => Ok(Topology::Ring(count(n, "ring")?)),
            Some(("fanout", n)) => Ok(Topology::Fanout(count(n, "fanout")?)),
            _ => Err(format!(
                "unknown topology '{s}' (one of: pair, ring:N, fanout:N)"
            )),
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Pair => f.write_str("pair"),
            Topology::Ring(n) => write!(f, "ring:{n}"),
            Topology::Fanout(n) => write!(f, "fanout:{n}"),
        }
    }
}

macro_rules! serialize_as_display {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_display!(Pin, Tasks, Topology);

/// What one ping-pong measurement does.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub mechanism: Mechanism,
    /// Measured round trips (ignored when `duration` is set).
    pub rounds: u64,
    /// Round trips run first and discarded.
    pub warmup: u64,
    pub pin: Pin,
    pub tasks: Tasks,
    pub wait: WaitMode,
    pub topology: Topology,
    /// Fanout waiters register the shared fd with EPOLLEXCLUSIVE.
    pub exclusive: bool,
    /// Measure for this long instead of a number of rounds.
    pub duration: Option<Duration>,
    /// Control path: a run whose driver makes no progress for this long fails (a task
    /// stuck alive), and start-up or shutdown taking longer fails too.
    pub stall_timeout: Duration,
    /// Busy work per message a task handles (`--think`): after each message it
    /// receives, a task spins this long on CLOCK_MONOTONIC before answering, so a pair's
    /// round trip gains twice this. Recorded as `think_ns` in the case's options, never
    /// in its id: a run with it pairs with one without in `compare`.
    #[serde(rename = "think_ns", serialize_with = "crate::sys::serialize_ns")]
    pub think: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mechanism: Mechanism::Pipe,
            rounds: 100_000,
            warmup: 1_000,
            pin: Pin::None,
            tasks: Tasks::Threads,
            wait: WaitMode::Block,
            topology: Topology::Pair,
            exclusive: false,
            duration: None,
            stall_timeout: Duration::from_secs(10),
            think: Duration::ZERO,
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Checks a configuration; each refusal is one line saying why.
pub fn validate(cfg: &Config) -> io::Result<()> {
    match cfg.duration {
        None if cfg.rounds == 0 => {
            return Err(invalid("--rounds must be at least 1".into()));
        }
        Some(d) if d.is_zero() => return Err(invalid("--duration must be above zero".into())),
        _ => {}
    }
    match cfg.topology {
        Topology::Ring(n) if n < 2 => {
            return Err(invalid(format!("ring:{n}: a ring needs at least 2 tasks")));
        }
        // fanout:1 is kept (not folded into pair): it is the herd-free end of a
        // fanout curve, one waker and one waiter on the shared fd.
        Topology::Fanout(0) => {
            return Err(invalid(
                "fanout:0: a fanout needs at least 1 waiter".to_string(),
            ));
        }
        _ => {}
    }
    if cfg.topology.task_count() > MAX_TASKS {
        return Err(invalid(format!(
            "{}: at most {MAX_TASKS} tasks per run",
            cfg.topology
        )));
    }
    if !cfg.mechanism.cross_process() && cfg.tasks == Tasks::Processes {
        return Err(invalid(format!(
            "--mechanism {} works between threads of one process only; use --tasks threads",
            cfg.mechanism
        )));
    }
    if !cfg.mechanism.has_fd() && cfg.wait != WaitMode::Block {
        return Err(invalid(format!(
            "--mechanism {} has no fd for --wait {} to watch; use --wait block",
            cfg.mechanism, cfg.wait
        )));
    }
    if cfg.exclusive {
        if !matches!(cfg.topology, Topology::Fanout(_)) {
            return Err(invalid(format!(
                "--exclusive only applies to --topology fanout:N (waiters sharing one fd), not {}",
                cfg.topology
            )));
        }
        if !matches!(cfg.wait, WaitMode::Epoll | WaitMode::EpollEt) {
            return Err(invalid(format!(
                "--exclusive is EPOLLEXCLUSIVE, an epoll flag: it needs --wait epoll or epoll-et, not {}",
                cfg.wait
            )));
        }
    }
    Ok(())
}

/// One task's figures over the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskFigures {
    pub index: u32,
    pub role: &'static str,
    /// Thread id (threads) or pid (processes).
    pub tid: u32,
    /// Messages signalled, warm-up included.
    pub sent: u64,
    /// Messages consumed (counted by value), warm-up included.
    pub received: u64,
    /// Times the task's wait returned (a blocking consume, or a waiter's wait).
    pub wait_returns: u64,
    /// Voluntary context switches in the measured window: times the task slept and was
    /// woken.
    pub voluntary: u64,
    /// Involuntary context switches in the measured window (preempted while runnable).
    pub involuntary: u64,
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
    /// Every task, driver first.
    pub tasks: Vec<TaskFigures>,
}

impl Outcome {
    pub fn ops_per_sec(&self) -> f64 {
        if self.elapsed_ns == 0 {
            0.0
        } else {
            self.rounds as f64 * 1e9 / self.elapsed_ns as f64
        }
    }

    pub fn messages_sent(&self) -> u64 {
        self.tasks.iter().map(|t| t.sent).sum()
    }

    pub fn messages_received(&self) -> u64 {
        self.tasks.iter().map(|t| t.received).sum()
    }

    fn per_round(&self, v: u64) -> f64 {
        if self.rounds == 0 {
            0.0
        } else {
            v as f64 / self.rounds as f64
        }
    }

    /// Voluntary switches of all tasks per round trip.
    pub fn voluntary_per_round(&self) -> f64 {
        self.per_round(self.tasks.iter().map(|t| t.voluntary).sum())
    }

    /// Involuntary switches of all tasks per round trip.
    pub fn involuntary_per_round(&self) -> f64 {
        self.per_round(self.tasks.iter().map(|t| t.involuntary).sum())
    }

    /// Wakeups per event: voluntary switches of every task but the driver, per round
    /// trip. Each is one sleep ended by one wakeup; in a fanout herd every waiter wakes
    /// for every event, with EPOLLEXCLUSIVE about one does.
    pub fn wakeups_per_event(&self) -> f64 {
        self.per_round(self.tasks.iter().skip(1).map(|t| t.voluntary).sum())
    }
}

/// A histogram for nanosecond latencies: 1 ns to 100 s at 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("static bounds are valid")
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        crate::sys::cvt(libc::sched_setaffinity(
            0,
            std::mem::size_of_val(&set),
            &set,
        ))?;
    }
    Ok(())
}

/// Runs one measurement.
///
/// `stop` ends it early: the driver finishes its current round trip, then the partial
/// figures are returned with `interrupted` set. A task that fails, dies or stalls ends
/// the run with an error naming it.
pub fn run(cfg: &Config, observer: &dyn Observer, stop: &Stop) -> io::Result<Outcome> {
    validate(cfg)?;
    run::run(cfg, observer, stop)
}
