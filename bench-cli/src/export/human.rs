//! The human report of a run as it finishes: per workload, in the originals' words where
//! there are originals (pipetest's AVG/SIG lines).
use std::io::Write;

use anyhow::Result;
use workloads::{pingpong, pipetest};

use crate::{
    engine::{
        http::{HttpCase, LoadFigures},
        pingpong::{PingpongCase, PingpongRepeat},
        pipetest::PipetestCase,
    },
    output::{self, count, kernel, ns},
};

/// The ping-pong case's report: throughput, messages, switches, percentiles and the
/// kernel section.
pub fn print_pingpong(mut out: &mut dyn Write, c: &PingpongCase) -> Result<()> {
    let s = &c.round_trip_ns;
    writeln!(
        out,
        "pingpong: mechanism {}, wait {}, tasks {}, topology {}{}, pin {}, {} round trips (+{} warm-up){}",
        c.mechanism,
        c.wait,
        c.tasks,
        c.topology,
        if c.options.exclusive { " (EPOLLEXCLUSIVE)" } else { "" },
        c.pin,
        count(c.rounds),
        count(c.warmup),
        if c.interrupted { " [interrupted]" } else { "" }
    )?;
    writeln!(out, "  throughput  {:.0} round trips/s", c.ops_per_sec)?;
    let reps = &c.repeats;
    let sum = |f: fn(&PingpongRepeat) -> u64| reps.iter().map(f).sum::<u64>();
    let per_round = |v: f64| {
        if c.rounds == 0 {
            0.0
        } else {
            v / c.rounds as f64
        }
    };
    let weighted = |f: fn(&PingpongRepeat) -> f64| {
        per_round(reps.iter().map(|r| f(r) * r.rounds as f64).sum::<f64>())
    };
    writeln!(
        out,
        "  messages    {} sent, {} received",
        count(sum(|r| r.messages_sent)),
        count(sum(|r| r.messages_received))
    )?;
    writeln!(
        out,
        "  switches    {:.2} voluntary, {:.2} involuntary per round trip (all tasks)",
        weighted(|r| r.voluntary_per_round),
        weighted(|r| r.involuntary_per_round)
    )?;
    if matches!(c.options.topology, pingpong::Topology::Fanout(_)) {
        writeln!(
            out,
            "  wakeups     {:.2} waiters woken per event",
            weighted(|r| r.wakeups_per_event)
        )?;
    }
    if reps.len() > 1 {
        let s = &c.across_repeats.ops_per_sec;
        writeln!(
            out,
            "  repeats     {}: round trips/s mean {:.0}, median {:.0}, stddev {:.0} ({:.1}%)",
            s.n,
            s.mean,
            s.median,
            s.stddev,
            s.cv() * 100.0
        )?;
        for r in reps {
            writeln!(
                out,
                "    #{:<3} {:>10.0} round trips/s  p50 {}  p99 {}",
                r.repeat,
                r.ops_per_sec,
                ns(r.round_trip_ns.p50 as f64),
                ns(r.round_trip_ns.p99 as f64)
            )?;
        }
    }
    writeln!(out, "  round trip  {}", output::percentiles(s))?;
    match (&c.kernel, &c.probes) {
        (Some(k), _) => kernel::print(&mut out, k, c.rounds, "round trip")?,
        (None, p) if p.on && c.repeats.len() > 1 => {
            for r in &c.repeats {
                writeln!(out, "  repeat #{}:", r.repeat)?;
                match &r.kernel {
                    Some(k) => kernel::print(&mut out, k, r.rounds, "round trip")?,
                    None => writeln!(out, "  kernel      no measured round trip to report")?,
                }
            }
        }
        (None, p) if p.on => writeln!(
            out,
            "  kernel      probes on, but no measured round trip to report"
        )?,
        (None, p) => writeln!(
            out,
            "  kernel      probes off ({}): userspace timing only",
            p.reason.as_deref().unwrap_or("unknown reason")
        )?,
    }
    Ok(())
}

/// The originals' lines for each measurement; extra lines only for what they lacked
/// (repeats, kernel figures), never between their own.
pub fn print_pipetest(mut out: &mut dyn Write, c: &PipetestCase, quiet: bool) -> Result<()> {
    for r in &c.repeats {
        let o = pipetest::Outcome {
            runs: r.runs.clone(),
            avg_us: r.avg_us,
            sigma_us: r.sigma_us,
            interrupted: r.interrupted,
        };
        write!(out, "{}", o.human(quiet))?;
        if let (Some(k), false) = (&r.kernel, quiet) {
            // After the originals' lines, so scripts reading them are not disturbed.
            let events: u64 = r.runs.iter().map(|x| x.messages).sum();
            kernel::print(&mut out, k, events, "event")?;
        }
    }
    if c.repeats.len() > 1 {
        let s = &c.avg_us;
        writeln!(
            out,
            "REPEATS: {}  AVG mean {:.6} median {:.6} stddev {:.6} us/event",
            s.n, s.mean, s.median, s.stddev
        )?;
    }
    Ok(())
}

/// One row per HTTP wait mode (and repeat), with the server's per-request figures.
pub fn print_http(out: &mut dyn Write, cases: &[HttpCase]) -> Result<()> {
    let Some(first) = cases.first() else {
        return Ok(());
    };
    writeln!(
        out,
        "http: {} connections, {}, {}, body {} B, {} worker{}, {:.1} s measured",
        first.connections,
        match first.rate {
            None => "closed loop".to_string(),
            Some(r) => format!("open loop at {r} req/s"),
        },
        if first.keep_alive {
            "keep-alive"
        } else {
            "new connection per request"
        },
        first.body_size,
        first.workers,
        if first.workers == 1 { "" } else { "s" },
        first.client.seconds
    )?;
    let probes_on = first.kernel.is_some();
    write!(
        out,
        "  {:<10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>10} {:>11}",
        "wait", "req/s", "p50", "p99", "p99.9", "errors", "waits/req", "events/req", "in wait/req"
    )?;
    if probes_on {
        write!(
            out,
            " {:>10} {:>11} {:>9} {:>12} {:>14}",
            "vol sw/req", "on-CPU/req", "wakes/req", "syscalls/req", "wait CPU/req"
        )?;
    }
    writeln!(out)?;
    for c in cases {
        let l = &c.client.latency_ns;
        write!(
            out,
            "  {:<10} {:>10.0} {:>10} {:>10} {:>10} {:>8} {:>9.3} {:>10.3} {:>11}",
            if c.repeat > 1 {
                format!("{} #{}", c.wait, c.repeat)
            } else {
                c.wait.clone()
            },
            c.client.req_per_sec,
            ns(l.p50 as f64),
            ns(l.p99 as f64),
            ns(l.p999 as f64),
            count(c.client.errors_total),
            c.per_request.wait_calls,
            c.per_request.events,
            ns(c.per_request.wait_ns),
        )?;
        if let (Some(v), Some(o)) = (c.per_request.voluntary_switches, c.per_request.oncpu_ns) {
            let opt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
            write!(
                out,
                " {v:>10.3} {:>11} {:>9} {:>12} {:>14}",
                ns(o),
                opt(c.per_request.wakeups),
                opt(c.per_request.syscalls),
                c.per_request.wait_oncpu_ns.map_or("-".to_string(), ns)
            )?;
        }
        writeln!(out)?;
        if c.client.errors_total > 0 {
            writeln!(out, "             errors: {}", c.client.errors_line())?;
        }
    }
    if !probes_on {
        if let Some(reason) = &first.probes.reason {
            writeln!(
                out,
                "  kernel: probes off ({reason}): userspace figures only"
            )?;
        }
    }
    Ok(())
}

/// A load run's throughput, latency percentiles and errors.
pub fn print_load(out: &mut impl Write, f: &LoadFigures) -> Result<()> {
    let l = &f.latency_ns;
    writeln!(
        out,
        "  throughput  {:.0} req/s ({} requests, {} bytes)",
        f.req_per_sec,
        count(f.requests),
        count(f.bytes)
    )?;
    writeln!(out, "  latency     {}", output::percentiles(l))?;
    writeln!(out, "  errors      {}", f.errors_line())?;
    Ok(())
}
