//! What each task does: the driver's timed round trips and the other tasks' answers.
use std::{io, sync::atomic::Ordering, time::Duration};

use super::{
    control::{self, Control, Slot, ABORT, EXITED, GO, READY},
    latency_histogram, pin_current_thread, Config,
};
use crate::{
    observer::gettid,
    sys::{now_ns, think},
    waiter::EpollWaiter,
    Channel, Event, Interest, WaitMode, Waiter,
};

/// How often a task parked on the control path re-checks for an abort.
const CONTROL_POLL: Duration = Duration::from_millis(50);

/// One task's place in the topology.
pub struct Role<'a> {
    /// The driver's way to the observer in threads mode (it opens and closes the
    /// measured window itself); `None` elsewhere.
    pub gate: Option<&'a super::run::ObserverGate>,
    /// The window's switch the driver flips itself (processes, delegated window).
    pub switch: Option<crate::observer::WindowSwitch>,
    pub index: u32,
    pub input: &'a dyn Channel,
    pub output: &'a dyn Channel,
    /// Register the input with EPOLLEXCLUSIVE (fanout waiters with --exclusive).
    pub exclusive: bool,
}

/// Waits for messages on one channel in the configured wait mode.
struct Receiver {
    waiter: Option<Box<dyn Waiter>>,
    edge: bool,
    events: [Event; 4],
    wait_returns: u64,
}

impl Receiver {
    fn new(cfg: &Config, ch: &dyn Channel, exclusive: bool) -> io::Result<Self> {
        let waiter = match cfg.wait {
            WaitMode::Block => None,
            mode => {
                let fd = ch.wait_fd().ok_or_else(|| {
                    io::Error::other(format!("--mechanism {} has no fd", cfg.mechanism))
                })?;
                if exclusive {
                    let mut ep = EpollWaiter::new(mode.edge_triggered())?;
                    let mut bits = libc::EPOLLIN | libc::EPOLLEXCLUSIVE;
                    if mode.edge_triggered() {
                        bits |= libc::EPOLLET;
                    }
                    ep.ctl_raw(libc::EPOLL_CTL_ADD, fd, 0, bits as u32)?;
                    Some(Box::new(ep) as Box<dyn Waiter>)
                } else {
                    let mut w = mode
                        .open()?
                        .ok_or_else(|| io::Error::other(format!("--wait {mode} has no waiter")))?;
                    w.add(fd, 0, Interest::READ)?;
                    Some(w)
                }
            }
        };
        Ok(Self {
            waiter,
            edge: cfg.wait.edge_triggered(),
            events: [Event::default(); 4],
            wait_returns: 0,
        })
    }

    /// Waits once and takes what is pending: possibly 0 (another waiter was faster).
    fn wait_once(&mut self, ch: &dyn Channel) -> io::Result<u64> {
        self.wait_returns += 1;
        let Some(w) = self.waiter.as_mut() else {
            // Block: the channel's own consume sleeps until a message arrives.
            return ch.consume();
        };
        w.wait(&mut self.events, None)?;
        let mut n = ch.consume()?;
        if self.edge && n > 0 {
            // Edge-triggered: no new report until drained.
            loop {
                let m = ch.consume()?;
                if m == 0 {
                    break;
                }
                n += m;
            }
        }
        Ok(n)
    }

    /// Waits until at least one message is taken.
    fn receive(&mut self, ch: &dyn Channel) -> io::Result<u64> {
        loop {
            let n = self.wait_once(ch)?;
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

/// Message counters kept locally (no shared writes on the measured path) and published
/// when the task leaves.
#[derive(Default)]
struct Counts {
    sent: u64,
    received: u64,
}

/// A task from start to exit; records its state and figures in its slot.
pub fn task_main(cfg: &Config, ctl: &Control, role: &Role<'_>) {
    let slot = &ctl.slots[role.index as usize];
    let mut counts = Counts::default();
    let mut wait_returns = 0;
    let r = (|| -> io::Result<()> {
        if let Some(cpu) = cfg.pin.cpu(role.index) {
            pin_current_thread(cpu)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot pin to CPU {cpu}: {e}")))?;
        }
        slot.tid.store(gettid(), Ordering::Relaxed);
        let mut rx = Receiver::new(cfg, role.input, role.exclusive)?;
        slot.state.store(READY, Ordering::Release);
        if !wait_for(&ctl.go) {
            return Ok(());
        }
        let r = if role.index == 0 {
            driver(cfg, ctl, role, &mut rx, &mut counts)
        } else {
            answer(cfg, ctl, role, &mut rx, &mut counts)
        };
        wait_returns = rx.wait_returns;
        r
    })();
    publish(slot, &counts, wait_returns);
    match r {
        Ok(()) => slot.state.store(EXITED, Ordering::Release),
        Err(e) => slot.fail(&e.to_string()),
    }
}

fn publish(slot: &Slot, c: &Counts, wait_returns: u64) {
    slot.sent.store(c.sent, Ordering::Relaxed);
    slot.received.store(c.received, Ordering::Relaxed);
    slot.wait_returns.store(wait_returns, Ordering::Relaxed);
}

/// Parks on a control word until it says GO (true) or ABORT (false).
fn wait_for(word: &std::sync::atomic::AtomicU32) -> bool {
    loop {
        match word.load(Ordering::Acquire) {
            GO => return true,
            ABORT => return false,
            v => control::wait_while(word, v, CONTROL_POLL),
        }
    }
}

/// Task 0: warm-up, then the timed round trips.
fn driver(
    cfg: &Config,
    ctl: &Control,
    role: &Role<'_>,
    rx: &mut Receiver,
    c: &mut Counts,
) -> io::Result<()> {
    let think_ns = cfg.think.as_nanos() as u64;
    let mut round = |c: &mut Counts| -> io::Result<()> {
        role.output.signal()?;
        c.sent += 1;
        let n = rx.receive(role.input)?;
        c.received += n;
        think(think_ns.saturating_mul(n), || {
            ctl.stop.load(Ordering::Relaxed) != 0
        });
        Ok(())
    };
    let mut total = 0u64;
    for _ in 0..cfg.warmup {
        if ctl.stop.load(Ordering::Relaxed) != 0 {
            break;
        }
        round(c)?;
        total += 1;
        ctl.progress.0.store(total, Ordering::Relaxed);
    }
    control::set_and_wake(&ctl.warmed, 1);
    if !wait_for(&ctl.measure) {
        ctl.done.store(1, Ordering::Release);
        return Ok(());
    }

    let mut latency = latency_histogram();
    let limit = if cfg.duration.is_some() {
        u64::MAX
    } else {
        cfg.rounds
    };
    let mut rounds = 0u64;
    if let Some(g) = role.gate {
        g.measuring(true);
    } else if let Some(s) = role.switch {
        s.set(true);
    }
    let start = now_ns();
    let deadline = cfg
        .duration
        .map_or(u64::MAX, |d| start.saturating_add(d.as_nanos() as u64));
    let mut last = start;
    let r = (|| -> io::Result<()> {
        while rounds < limit && ctl.stop.load(Ordering::Relaxed) == 0 {
            round(c)?;
            let now = now_ns();
            latency.saturating_record(now - last);
            last = now;
            rounds += 1;
            total += 1;
            ctl.progress.0.store(total, Ordering::Relaxed);
            if now >= deadline {
                break;
            }
        }
        Ok(())
    })();
    if let Some(g) = role.gate {
        g.measuring(false);
    } else if let Some(s) = role.switch {
        s.set(false);
    }
    // Everything sent has been answered: nothing real is in flight from here on.
    ctl.done.store(1, Ordering::Release);
    ctl.rounds.store(rounds, Ordering::Relaxed);
    ctl.elapsed_ns.store(last - start, Ordering::Relaxed);
    let put = ctl.put_histogram(&latency);
    control::set_and_wake(&ctl.finished, 1);
    wait_for(&ctl.release);
    r?;
    put
}

/// Every other task: take what arrives on the input, pass as many on.
fn answer(
    cfg: &Config,
    ctl: &Control,
    role: &Role<'_>,
    rx: &mut Receiver,
    c: &mut Counts,
) -> io::Result<()> {
    let think_ns = cfg.think.as_nanos() as u64;
    loop {
        let n = rx.wait_once(role.input)?;
        if ctl.go.load(Ordering::Relaxed) == ABORT {
            return Ok(());
        }
        // After `done` only the controller's nudges arrive: they are not messages. Stay
        // alive until released, so the controller can still sample this task's switch
        // counts (a herd wakeup can bring a waiter here before the sample).
        if ctl.done.load(Ordering::Acquire) != 0 {
            wait_for(&ctl.release);
            return Ok(());
        }
        c.received += n;
        for _ in 0..n {
            think(think_ns, || ctl.stop.load(Ordering::Relaxed) != 0);
            role.output.signal()?;
            c.sent += 1;
        }
    }
}
