//! The controller: starts the tasks (threads or forked processes), reports them to the
//! observer, brackets the measured window, supervises, and collects the figures.
use std::{
    io,
    sync::{atomic::Ordering, Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use super::{
    control::{self, Control, ABORT, EXITED, FAILED, GO, READY},
    latency_histogram,
    task::{task_main, Role},
    Config, Outcome, TaskFigures, Tasks, Topology,
};
use crate::{
    mechanism::OpenOptions,
    observer::{Observer, TaskInfo, WindowSwitch},
    shm::Shared,
    stop::Stop,
    Channel, WaitMode,
};

/// How often the controller looks at the tasks while it waits.
const TICK: Duration = Duration::from_millis(10);
/// How often it looks while the tasks start (nothing wakes it then).
const START_TICK: Duration = Duration::from_millis(1);
/// How long tasks get to leave once the run is over (or aborted).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Task `index`'s place: (role, input channel, output channel, exclusive).
fn layout(cfg: &Config, index: usize) -> (&'static str, usize, usize, bool) {
    match cfg.topology {
        // Channel i is task i's input; task i answers on channel i+1.
        Topology::Pair => {
            let name = if index == 0 { "ping" } else { "pong" };
            (name, index, (index + 1) % 2, false)
        }
        Topology::Ring(n) => {
            let name = if index == 0 {
                "ring-lead"
            } else {
                "ring-relay"
            };
            (name, index, (index + 1) % n as usize, false)
        }
        // Channel 0 is the shared one the waiters wait on, channel 1 the replies.
        Topology::Fanout(_) => {
            if index == 0 {
                ("waker", 1, 0, false)
            } else {
                ("waiter", 0, 1, cfg.exclusive)
            }
        }
    }
}

fn channel_count(cfg: &Config) -> usize {
    match cfg.topology {
        Topology::Pair | Topology::Fanout(_) => 2,
        Topology::Ring(n) => n as usize,
    }
}

/// The observer as the driver thread may call it (threads mode), for exactly as long as
/// `run` borrows it: the controller empties the gate before returning, on every path,
/// and a call in progress holds the lock, so no thread can reach the observer after
/// `run` has returned — even a thread abandoned because it would not leave.
pub(super) struct ObserverGate(Mutex<Option<&'static dyn Observer>>);

impl ObserverGate {
    /// Opens or closes the measured window, if the gate is still open.
    pub(super) fn measuring(&self, on: bool) {
        if let Some(o) = *self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            o.measuring(on);
        }
    }

    fn close(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Closes the gate when `run` leaves, however it leaves.
struct GateGuard(Arc<ObserverGate>);

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A task as the controller tracks it.
struct Task {
    name: &'static str,
    kind: Handle,
}

enum Handle {
    Thread(Option<thread::JoinHandle<()>>),
    Process {
        pid: libc::pid_t,
        reaped: Option<i32>,
    },
}

struct Run<'a> {
    cfg: &'a Config,
    gate: Arc<ObserverGate>,
    ctl: Arc<Shared<Control>>,
    chans: Vec<Arc<dyn Channel>>,
    tasks: Vec<Task>,
    stop: &'a Stop,
    /// Processes: the window's switch, flipped by the driver itself (see
    /// `Observer::delegate_window`), so the controller's wake of the driver stays out.
    switch: Option<WindowSwitch>,
}

pub fn run(cfg: &Config, observer: &dyn Observer, stop: &Stop) -> io::Result<Outcome> {
    let ctl = Arc::new(Shared::<Control>::new()?);
    let opts = OpenOptions {
        nonblocking: cfg.wait != WaitMode::Block,
        cross_process: cfg.tasks == Tasks::Processes,
    };
    let chans = (0..channel_count(cfg))
        .map(|_| cfg.mechanism.open_with(opts).map(Arc::<dyn Channel>::from))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open the channels: {e}")))?;
    for helper in cfg.mechanism.helper_tasks() {
        observer.task_started(&helper);
    }
    // SAFETY: only the lifetime is extended; GateGuard empties the gate before this
    // function returns, and every use of the reference goes through the gate's lock.
    let forever: &'static dyn Observer =
        unsafe { std::mem::transmute::<&dyn Observer, &'static dyn Observer>(observer) };
    let gate = Arc::new(ObserverGate(Mutex::new(Some(forever))));
    let _guard = GateGuard(gate.clone());
    let switch = if cfg.tasks == Tasks::Processes {
        observer.delegate_window()
    } else {
        None
    };
    let mut r = Run {
        cfg,
        gate,
        ctl,
        chans,
        tasks: Vec::new(),
        stop,
        switch,
    };
    let result = r.drive(observer);
    match result {
        Ok(out) => Ok(out),
        Err(e) => {
            r.abort();
            Err(e)
        }
    }
}

impl Run<'_> {
    fn drive(&mut self, observer: &dyn Observer) -> io::Result<Outcome> {
        let n = self.cfg.topology.task_count();
        for i in 0..n {
            self.spawn(i)?;
        }
        self.supervise("start", |ctl| {
            (0..n).all(|i| ctl.slots[i].state.load(Ordering::Acquire) == READY)
        })?;
        let tgid = |i: usize| -> u32 {
            match self.cfg.tasks {
                Tasks::Threads => std::process::id(),
                Tasks::Processes => self.ctl.slots[i].tid.load(Ordering::Relaxed),
            }
        };
        let tids: Vec<(u32, u32)> = (0..n)
            .map(|i| (tgid(i), self.ctl.slots[i].tid.load(Ordering::Relaxed)))
            .collect();
        for (i, &(_, tid)) in tids.iter().enumerate() {
            observer.task_started(&TaskInfo {
                tid,
                index: i as u32,
                role: self.tasks[i].name,
            });
        }
        control::set_and_wake(&self.ctl.go, GO);
        self.supervise("warm-up", |ctl| ctl.warmed.load(Ordering::Acquire) != 0)?;

        let before = sample(&tids)?;
        // Threads: the driver opens and closes the window itself, right around its
        // round trips, so the window holds nothing else (no hand-shake with us).
        // Processes: the observer lives here; when it delegated its switch, the driver
        // flips it right around its round trips and these calls only bracket them.
        let ours = self.cfg.tasks == Tasks::Processes;
        if ours {
            observer.measuring(true);
        }
        control::set_and_wake(&self.ctl.measure, GO);
        let measured = self.supervise("measured run", |ctl| {
            ctl.finished.load(Ordering::Acquire) != 0
        });
        if ours {
            observer.measuring(false);
        }
        measured?;
        let after = sample(&tids);
        control::set_and_wake(&self.ctl.release, GO);
        if after.is_err() {
            // A task that is already gone failed: its own error is the real story.
            self.check_failures()?;
        }
        let after = after?;

        // A failure of the driver itself shows in its slot.
        self.check_failures()?;
        self.leave()?;
        self.check_failures()?;

        let mut latency = latency_histogram();
        self.ctl.take_histogram(&mut latency);
        let rounds = self.ctl.rounds.load(Ordering::Relaxed);
        let tasks = (0..n)
            .map(|i| {
                let s = &self.ctl.slots[i];
                TaskFigures {
                    index: i as u32,
                    role: self.tasks[i].name,
                    tid: tids[i].1,
                    sent: s.sent.load(Ordering::Relaxed),
                    received: s.received.load(Ordering::Relaxed),
                    wait_returns: s.wait_returns.load(Ordering::Relaxed),
                    voluntary: after[i].0.saturating_sub(before[i].0),
                    involuntary: after[i].1.saturating_sub(before[i].1),
                }
            })
            .collect();
        let interrupted =
            self.stop.is_set() || (self.cfg.duration.is_none() && rounds < self.cfg.rounds);
        Ok(Outcome {
            rounds,
            elapsed_ns: self.ctl.elapsed_ns.load(Ordering::Relaxed),
            latency,
            interrupted,
            tasks,
        })
    }

    fn spawn(&mut self, index: usize) -> io::Result<()> {
        let (name, input, output, exclusive) = layout(self.cfg, index);
        let cfg = self.cfg.clone();
        let ctl = self.ctl.clone();
        let (inp, out) = (self.chans[input].clone(), self.chans[output].clone());
        let gate = (index == 0 && self.cfg.tasks == Tasks::Threads).then(|| self.gate.clone());
        let switch = if index == 0 { self.switch } else { None };
        let body = move || {
            let role = Role {
                gate: gate.as_deref(),
                switch,
                index: index as u32,
                input: &*inp,
                output: &*out,
                exclusive,
            };
            task_main(&cfg, &ctl, &role);
        };
        let kind = match self.cfg.tasks {
            Tasks::Threads => {
                let ctl = self.ctl.clone();
                let t = thread::Builder::new()
                    .name(format!("{name}-{index}"))
                    .spawn(move || {
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_err() {
                            ctl.slots[index].fail("panicked");
                        }
                    })
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot start task {index} ({name}): {e}"))
                    })?;
                Handle::Thread(Some(t))
            }
            Tasks::Processes => {
                // SAFETY: getpid has no preconditions.
                let parent = unsafe { libc::getpid() };
                // SAFETY: the child runs only the task (no locks held across fork are
                // taken: glibc keeps malloc usable) and leaves with _exit.
                let pid = unsafe { libc::fork() };
                if pid < 0 {
                    let e = io::Error::last_os_error();
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot fork task {index} ({name}): {e}"),
                    ));
                }
                if pid == 0 {
                    // Die with the controller: a task orphaned by a killed harness
                    // would otherwise block on its channel forever.
                    // SAFETY: prctl with integer arguments only.
                    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                    // SAFETY: getppid has no preconditions.
                    if unsafe { libc::getppid() } != parent {
                        // SAFETY: leave at once; the controller is already gone.
                        unsafe { libc::_exit(1) };
                    }
                    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                        Ok(()) => 0,
                        Err(_) => 101,
                    };
                    // SAFETY: leave without running the parent's destructors or atexit.
                    unsafe { libc::_exit(code) };
                }
                Handle::Process { pid, reaped: None }
            }
        };
        self.tasks.push(Task { name, kind });
        Ok(())
    }
}

impl Run<'_> {
    /// Waits until `done` holds, watching the tasks: a failed, dead or stalled task ends
    /// the wait with an error naming it. Forwards a stop request to the driver.
    fn supervise(&mut self, phase: &str, done: impl Fn(&Control) -> bool) -> io::Result<()> {
        let mut seen = self.ctl.progress.0.load(Ordering::Relaxed);
        let mut since = Instant::now();
        // A round trip spins --think once per message handled, at most once per task:
        // a long think is slow progress, not a stuck task (a stop still ends it at once).
        let tasks = u32::try_from(self.cfg.topology.task_count()).unwrap_or(u32::MAX);
        let stall = self
            .cfg
            .stall_timeout
            .saturating_add(self.cfg.think.saturating_mul(tasks));
        loop {
            if done(&self.ctl) {
                return Ok(());
            }
            self.check_failures()?;
            if self.stop.is_set() {
                self.ctl.stop.store(1, Ordering::Relaxed);
            }
            let p = self.ctl.progress.0.load(Ordering::Relaxed);
            if p != seen {
                seen = p;
                since = Instant::now();
            } else if since.elapsed() > stall {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{phase} stalled: no round trip completed for {stall:?} ({p} so far); a task is stuck"
                    ),
                ));
            }
            // Sleep on the word the driver flips at the end of the phase, so the
            // controller reacts at once, and at least every TICK otherwise (tasks
            // starting up flip no single word, so that phase looks more often).
            match phase {
                "warm-up" => control::wait_while(&self.ctl.warmed, 0, TICK),
                "measured run" => control::wait_while(&self.ctl.finished, 0, TICK),
                _ => thread::sleep(START_TICK),
            }
        }
    }

    /// Errors when a task has failed or died.
    fn check_failures(&mut self) -> io::Result<()> {
        for i in 0..self.tasks.len() {
            let slot = &self.ctl.slots[i];
            let name = self.tasks[i].name;
            if slot.state.load(Ordering::Acquire) == FAILED {
                return Err(io::Error::other(format!(
                    "task {i} ({name}) failed: {}",
                    slot.error()
                )));
            }
            if let Handle::Process { pid, reaped } = &mut self.tasks[i].kind {
                if reaped.is_none() {
                    let mut status = 0;
                    // SAFETY: polling our own child.
                    let r = unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) };
                    if r == *pid {
                        *reaped = Some(status);
                    }
                }
                if let Some(status) = *reaped {
                    if slot.state.load(Ordering::Acquire) != EXITED {
                        return Err(io::Error::other(format!(
                            "task {i} ({name}, pid {pid}) died: {}",
                            describe_status(status)
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn all_left(&self) -> bool {
        self.tasks.iter().enumerate().all(|(i, t)| {
            let st = self.ctl.slots[i].state.load(Ordering::Acquire);
            st == EXITED
                || st == FAILED
                || matches!(
                    t.kind,
                    Handle::Process {
                        reaped: Some(_),
                        ..
                    }
                )
                || matches!(&t.kind, Handle::Thread(Some(h)) if h.is_finished())
        })
    }

    /// Wakes every task until all have left: tasks blocked on a channel only look at
    /// the control block when woken, so each channel gets a message every millisecond.
    fn nudge_until_left(&mut self) -> bool {
        let t0 = Instant::now();
        while !self.all_left() {
            if t0.elapsed() > LEAVE_TIMEOUT {
                return false;
            }
            for c in &self.chans {
                let _ = c.signal();
            }
            thread::sleep(Duration::from_millis(1));
            for t in &mut self.tasks {
                if let Handle::Process {
                    pid,
                    reaped: r @ None,
                } = &mut t.kind
                {
                    let mut status = 0;
                    // SAFETY: polling our own child.
                    if unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) } == *pid {
                        *r = Some(status);
                    }
                }
            }
        }
        true
    }

    /// Normal end: the driver has set `done`; let everyone leave and reap them.
    fn leave(&mut self) -> io::Result<()> {
        if !self.nudge_until_left() {
            let stuck: Vec<String> = (0..self.tasks.len())
                .filter(|&i| self.ctl.slots[i].state.load(Ordering::Acquire) != EXITED)
                .map(|i| format!("task {i} ({})", self.tasks[i].name))
                .collect();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} did not leave within {LEAVE_TIMEOUT:?} after the run",
                    stuck.join(", ")
                ),
            ));
        }
        self.reap();
        Ok(())
    }

    /// Failure: tell everyone to leave now; kill processes, give threads a moment and
    /// then abandon any that are stuck (they hold only shared, reference-counted state).
    fn abort(&mut self) {
        self.ctl.stop.store(1, Ordering::Relaxed);
        self.ctl.done.store(1, Ordering::Release);
        control::set_and_wake(&self.ctl.go, ABORT);
        control::set_and_wake(&self.ctl.measure, ABORT);
        control::set_and_wake(&self.ctl.release, ABORT);
        for t in &mut self.tasks {
            if let Handle::Process { pid, reaped: None } = t.kind {
                // SAFETY: signalling our own, not yet reaped, child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        self.nudge_until_left();
        self.reap();
    }

    fn reap(&mut self) {
        for t in &mut self.tasks {
            match &mut t.kind {
                Handle::Thread(h) => {
                    if h.as_ref().is_some_and(|h| h.is_finished()) {
                        if let Some(h) = h.take() {
                            let _ = h.join();
                        }
                    } else {
                        // Still blocked after the timeout: detach rather than hang.
                        h.take();
                    }
                }
                Handle::Process { pid, reaped } => {
                    if reaped.is_none() {
                        let mut status = 0;
                        // SAFETY: our own child; it has left or been killed, so this
                        // returns promptly.
                        unsafe { libc::waitpid(*pid, &mut status, 0) };
                        *reaped = Some(status);
                    }
                }
            }
        }
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        format!("killed by signal {sig}")
    } else if libc::WIFEXITED(status) {
        format!(
            "exited with status {} before the run ended",
            libc::WEXITSTATUS(status)
        )
    } else {
        format!("wait status {status:#x}")
    }
}

/// Every task's (voluntary, involuntary) switches now.
fn sample(tids: &[(u32, u32)]) -> io::Result<Vec<(u64, u64)>> {
    tids.iter()
        .map(|&(tgid, tid)| control::switches(tgid, tid))
        .collect()
}
