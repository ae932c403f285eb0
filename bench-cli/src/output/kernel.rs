//! The kernel section of a case's terminal report: what the probes saw, per operation.
use std::io::{self, Write};

use crate::{
    output::{count, ns},
    probes::{
        collect::{KernelHist, WAKER_HARDIRQ_NAME, WAKER_SOFTIRQ_NAME},
        Kernel,
    },
};

fn hist_row(out: &mut impl Write, name: &str, h: &KernelHist) -> io::Result<()> {
    let s = &h.summary;
    writeln!(
        out,
        "    {name:<22} {:>10}  p50 {:>9}  p90 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}",
        count(s.count),
        ns(s.p50 as f64),
        ns(s.p90 as f64),
        ns(s.p99 as f64),
        ns(s.p999 as f64),
        ns(s.max as f64)
    )
}

/// A syscall's row: its exact `calls`, then how many were timed and their
/// percentiles, or "—" for each when none was (0 ns would read as measured).
fn syscall_row(out: &mut impl Write, name: &str, calls: u64, h: &KernelHist) -> io::Result<()> {
    let s = &h.summary;
    let p = |v: u64| {
        if s.count == 0 {
            super::NO_DATA.to_string()
        } else {
            ns(v as f64)
        }
    };
    writeln!(
        out,
        "    {name:<22} {:>10}  timed {:>8}  p50 {:>9}  p90 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}",
        count(calls),
        count(s.count),
        p(s.p50),
        p(s.p90),
        p(s.p99),
        p(s.p999),
        p(s.max)
    )
}

/// Whether the probes recorded no event at all of the targets: no switch, wakeup,
/// syscall or histogram sample (a refused kfunc attach, an empty window).
pub fn saw_nothing(k: &Kernel) -> bool {
    let empty = |h: &Option<KernelHist>| h.as_ref().is_none_or(|h| h.summary.count == 0);
    k.voluntary() == 0
        && k.involuntary() == 0
        && k.wakeups() == 0
        && k.syscall_count() == 0
        && empty(&k.wakeup_same_cpu_ns)
        && empty(&k.wakeup_cross_cpu_ns)
        && empty(&k.offcpu_ns)
        && empty(&k.kfunc_ns)
}

pub use super::plural;

/// A thread as who-woke-whom names it: `ROLE TID (COMM)` (`child 18910 (wn)`), without
/// the role for a task that is no target and without the name when none is known
/// (`evbench run` does not name threads).
pub fn thread_name(role: Option<&str>, tid: u32, comm: &str) -> String {
    let mut s = role.map_or_else(|| format!("{tid}"), |r| format!("{r} {tid}"));
    if !comm.is_empty() {
        s.push_str(&format!(" ({comm})"));
    }
    s
}

/// Prints the kernel figures of one case; `ops` is the number of measured operations
/// (round trips, events) that the per-operation figures divide by.
pub fn print(out: &mut impl Write, k: &Kernel, ops: u64, op_name: &str) -> io::Result<()> {
    print_with(out, k, ops, op_name, true)
}

/// [`print`], with the probe programs' measured table (runs, ns/run, CPU share from BPF
/// statistics) only when `measured_programs`: `evbench trace` runs without BPF
/// statistics, so those columns would read 0, and it prints its own estimate table.
pub fn print_with(
    out: &mut impl Write,
    k: &Kernel,
    ops: u64,
    op_name: &str,
    measured_programs: bool,
) -> io::Result<()> {
    writeln!(
        out,
        "  kernel (probes: {}; {})",
        k.sets,
        plural(k.threads.len() as u64, "target thread", "target threads")
    )?;
    if saw_nothing(k) {
        // Attached but saw nothing of the targets (a refused fentry, a window with no
        // operation): zeros here would read as measured.
        writeln!(
            out,
            "    no data: the probes recorded no event of the target threads"
        )?;
        return Ok(());
    }
    if ops > 0 {
        let per = |v: u64| v as f64 / ops as f64;
        writeln!(
            out,
            "    per {op_name}: {:.2} syscalls, {:.2} wakeups, {:.2} voluntary + {:.2} involuntary switches",
            per(k.syscall_count()),
            per(k.wakeups()),
            per(k.voluntary()),
            per(k.involuntary())
        )?;
    }
    writeln!(
        out,
        "    {:<22} {:>10}  (latency percentiles)",
        "histogram", "count"
    )?;
    if let Some(h) = &k.wakeup_same_cpu_ns {
        hist_row(out, "wakeup, same CPU", h)?;
    }
    if let Some(h) = &k.wakeup_cross_cpu_ns {
        hist_row(out, "wakeup, cross CPU", h)?;
    }
    if let Some(h) = &k.offcpu_ns {
        hist_row(out, "off-CPU (blocked)", h)?;
    }
    if !k.syscalls.is_empty() {
        // The count column of a syscall is its exact count; its percentiles come from
        // the timed calls only (1 in --syscall-sample per thread beyond the first).
        writeln!(
            out,
            "    syscalls: exact counts; percentiles from the timed calls (1 in {} per thread, \"timed\")",
            k.syscall_sample
        )?;
    }
    for s in k.syscalls.iter().take(8) {
        syscall_row(out, &format!("{}()", s.name), s.count, &s.latency_ns)?;
        syscall_row(out, &format!("  {} on-CPU", s.name), s.count, &s.oncpu_ns)?;
    }
    if let Some(h) = &k.kfunc_ns {
        hist_row(
            out,
            &format!("{}()", k.kfunc.as_deref().unwrap_or("kfunc")),
            h,
        )?;
    }
    // Command names are known for traced threads only (`evbench trace`).
    let comms = k.threads.iter().any(|t| !t.comm.is_empty());
    writeln!(
        out,
        "    {:>8}  {:<8} {:>10} {:>10} {:>10} {:>12} {:>10}{}",
        "tid",
        "role",
        "voluntary",
        "involunt.",
        "wakeups",
        "on-CPU",
        "syscalls",
        if comms { "  comm" } else { "" }
    )?;
    for t in &k.threads {
        writeln!(
            out,
            "    {:>8}  {:<8} {:>10} {:>10} {:>10} {:>12} {:>10}{}",
            t.tid,
            t.role,
            count(t.voluntary),
            count(t.involuntary),
            count(t.wakeups),
            ns(t.oncpu_ns as f64),
            count(t.syscalls),
            if comms {
                format!("  {}", t.comm)
            } else {
                String::new()
            }
        )?;
    }
    if !k.woke.is_empty() {
        match &k.irq_limit {
            None => writeln!(
                out,
                "    who woke whom (a wakeup in interrupt context is credited to {WAKER_HARDIRQ_NAME} or {WAKER_SOFTIRQ_NAME}, not to the task interrupted):"
            )?,
            Some(why) => writeln!(
                out,
                "    who woke whom (LIMIT: a wakeup in interrupt context is credited to the task it interrupted; this kernel does not let the probes tell: {why}):"
            )?,
        }
    }
    for w in k.woke.iter().take(4) {
        let waker = if w.waker_kind == "task" {
            thread_name(w.waker_role, w.waker_tid, &w.waker_comm)
        } else {
            // A pseudo-waker has no tid of its own.
            w.waker_comm.clone()
        };
        writeln!(
            out,
            "    {} was woken {} by {}",
            thread_name(Some(w.wakee_role), w.wakee_tid, &w.wakee_comm),
            plural(w.count, "time", "times"),
            waker
        )?;
    }
    for s in k.wake_stacks.iter().take(3) {
        writeln!(
            out,
            "    wakeup stack, {}:",
            plural(s.count, "time", "times")
        )?;
        for f in s.frames.iter().take(10) {
            writeln!(out, "        {f}")?;
        }
    }
    if let Some(w) = &k.stack_walks {
        let per = w.ns_per_walk.map_or_else(|| "-".into(), ns);
        writeln!(
            out,
            "    stack walks: {} at {per} each, {} dropped",
            count(w.walks),
            w.drops
        )?;
    }
    if measured_programs {
        writeln!(
            out,
            "    {:<20} {:>10} {:>10} {:>11} {:>13} {:>8} {:>9} {:>6}",
            "probe program",
            "runs",
            "ns/run",
            "target runs",
            "ns/target run",
            "CPU",
            "rec.miss",
            "drops"
        )?;
        for p in &k.programs {
            let f = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| count(v.round() as u64));
            writeln!(
                out,
                "    {:<20} {:>10} {:>10} {:>11} {:>13} {:>7.2}% {:>9} {:>6}",
                p.program,
                count(p.runs),
                f(p.ns_per_run),
                count(p.target_runs),
                f(p.ns_per_target_run),
                p.cpu_share * 100.0,
                count(p.recursion_misses),
                count(p.drops)
            )?;
        }
    }
    let (misses, drops) = (k.recursion_misses(), k.drops());
    if misses > 0 || drops > 0 {
        writeln!(
            out,
            "    LOST EVENTS: {}, {}: the figures above undercount",
            plural(misses, "recursion miss", "recursion misses"),
            plural(drops, "drop", "drops")
        )?;
    }
    if k.unpaired() > 0 {
        writeln!(
            out,
            "    note: {} ended unseen (no sched_switch named the thread; off-CPU histogram omits them)",
            plural(k.unpaired(), "blocked interval", "blocked intervals")
        )?;
    }
    if k.wakeups_unpaired() > 0 {
        writeln!(
            out,
            "    note: {} of {} had no latency (no switch-in followed: the wakee was still on its CPU, or woken again first); the wakeup histograms leave them out",
            plural(k.wakeups_unpaired(), "wakeup", "wakeups"),
            count(k.wakeups())
        )?;
    }
    for w in &k.warnings {
        writeln!(out, "    note: {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn threads_are_named_by_role_tid_and_comm() {
        assert_eq!(
            super::thread_name(Some("child"), 18910, "wn"),
            "child 18910 (wn)"
        );
        assert_eq!(super::thread_name(None, 7, "bash"), "7 (bash)");
        assert_eq!(super::thread_name(Some("client"), 7, ""), "client 7");
    }

    #[test]
    fn one_thread_is_singular() {
        assert_eq!(
            super::plural(1, "target thread", "target threads"),
            "1 target thread"
        );
        assert_eq!(
            super::plural(2, "target thread", "target threads"),
            "2 target threads"
        );
        assert_eq!(
            super::plural(0, "target thread", "target threads"),
            "0 target threads"
        );
    }
}
