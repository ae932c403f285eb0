//! The human report of a run as it finishes: per workload, in the originals' words where
//! there are originals (pipetest's AVG/SIG lines). Headline figures are the clean
//! passes' (no probe attached); the kernel section is the probed passes', with how much
//! the probes slowed the case beside it.
use std::io::Write;

use anyhow::Result;
use workloads::{pingpong, pipetest};

use crate::{
    engine::{
        http::{HttpPass, LoadFigures},
        CaseRun, Figures, ProbeStatus,
    },
    output::{self, count, kernel, ns, NO_DATA},
    results::{Case, Percentiles, PROBE_SLOWDOWN},
};

/// "the probes slowed this case 1.85x (median of 3 rounds)", or why there is no figure.
pub fn slowdown_line(case: &Case) -> Option<String> {
    let m = case.metrics.get(PROBE_SLOWDOWN)?;
    let a = &m.across;
    if a.n == 0 {
        return None;
    }
    Some(if a.n == 1 {
        format!(
            "the probes slowed this case {:.2}x (probed ÷ clean time per operation)",
            a.median
        )
    } else {
        format!(
            "the probes slowed this case {:.2}x (median of {} rounds, {:.2}x–{:.2}x; probed ÷ clean time per operation)",
            a.median, a.n, a.min, a.max
        )
    })
}

/// The kernel section of every probed pass of `run`, or why there is none.
fn kernel_sections(
    mut out: &mut dyn Write,
    run: &CaseRun,
    case: &Case,
    status: &ProbeStatus,
    op: &str,
) -> Result<()> {
    if !status.on {
        writeln!(
            out,
            "  kernel      probes off ({}): userspace timing only",
            status.reason.as_deref().unwrap_or("unknown reason")
        )?;
        return Ok(());
    }
    let probed: Vec<(usize, &Option<crate::probes::Kernel>, u64, bool)> = run
        .rounds
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.probed
                .as_ref()
                .map(|(p, k)| (i + 1, k, p.ops, p.repeat.interrupted))
        })
        .collect();
    if probed.is_empty() {
        writeln!(out, "  kernel      no probed pass ran")?;
        return Ok(());
    }
    writeln!(
        out,
        "  kernel      from {} probed pass{} (same options, probes attached){}",
        probed.len(),
        if probed.len() == 1 { "" } else { "es" },
        slowdown_line(case).map_or(String::new(), |l| format!("; {l}"))
    )?;
    for (round, k, ops, interrupted) in probed {
        if interrupted {
            // Partial figures of a cut-short pass are not figures: say so, print none.
            writeln!(
                out,
                "  probed pass of repeat #{round}: interrupted — its partial figures are left out"
            )?;
            continue;
        }
        if run.rounds.len() > 1 {
            writeln!(out, "  probed pass of repeat #{round}:")?;
        }
        match k {
            Some(k) => kernel::print(&mut out, k, ops, op)?,
            None => writeln!(out, "  kernel      no measured {op} to report")?,
        }
    }
    Ok(())
}

/// Each clean pass's figures with its round-trip percentiles (from its repeat, which
/// keeps the histogram).
fn clean_pingpong(run: &CaseRun) -> Vec<(&pingpong::Outcome, Option<&Percentiles>)> {
    run.rounds
        .iter()
        .filter_map(|r| {
            let c = r.clean.as_ref()?;
            match &c.figures {
                Figures::Pingpong(o) => Some((
                    &**o,
                    c.repeat.histograms.get("round_trip_ns").map(|h| &h.summary),
                )),
                _ => None,
            }
        })
        .collect()
}

/// The ping-pong case's report: throughput, messages, switches and percentiles of the
/// clean passes, then the kernel section of the probed ones.
pub fn print_pingpong(
    out: &mut dyn Write,
    run: &CaseRun,
    case: &Case,
    status: &ProbeStatus,
) -> Result<()> {
    let crate::engine::Spec::Pingpong(cfg) = &run.spec else {
        return Ok(());
    };
    let with_pct = clean_pingpong(run);
    let reps: Vec<&pingpong::Outcome> = with_pct.iter().map(|(o, _)| *o).collect();
    let rounds: u64 = reps.iter().map(|o| o.rounds).sum();
    let interrupted = reps.iter().any(|o| o.interrupted) || reps.len() < run.rounds.len();
    writeln!(
        out,
        "pingpong: mechanism {}, wait {}, tasks {}, topology {}{}, pin {}, {} round trips (+{} warm-up) per repeat{}",
        cfg.mechanism,
        cfg.wait.as_str(),
        cfg.tasks.as_str(),
        cfg.topology,
        if cfg.exclusive { " (EPOLLEXCLUSIVE)" } else { "" },
        cfg.pin.as_str(),
        count(cfg.rounds),
        count(cfg.warmup),
        if interrupted { " [interrupted]" } else { "" }
    )?;
    let Some(tp) = case.metrics.get("ops_per_sec").filter(|m| m.across.n > 0) else {
        writeln!(out, "  throughput  no complete clean pass: no figure")?;
        return kernel_sections(out, run, case, status, "round trip");
    };
    let a = &tp.across;
    if a.n == 1 {
        writeln!(
            out,
            "  throughput  {} round trips/s (clean pass: no probe attached)",
            count(a.median.round() as u64)
        )?;
    } else {
        writeln!(
            out,
            "  throughput  {} round trips/s, median of {} clean passes (no probe attached), {}–{}{}",
            count(a.median.round() as u64),
            a.n,
            count(a.min.round() as u64),
            count(a.max.round() as u64),
            output::spread_pct(a).map_or(String::new(), |cv| format!(", cv {cv:.1}% (sd/mean)"))
        )?;
    }
    let sum = |f: fn(&pingpong::Outcome) -> u64| reps.iter().map(|o| f(o)).sum::<u64>();
    let per_round = |v: f64| v / rounds.max(1) as f64;
    let weighted = |f: fn(&pingpong::Outcome) -> f64| {
        per_round(reps.iter().map(|o| f(o) * o.rounds as f64).sum())
    };
    writeln!(
        out,
        "  messages    {} sent, {} received",
        count(sum(|o| o.messages_sent())),
        count(sum(|o| o.messages_received()))
    )?;
    writeln!(
        out,
        "  switches    {:.2} voluntary, {:.2} involuntary per round trip (all tasks)",
        weighted(|o| o.voluntary_per_round()),
        weighted(|o| o.involuntary_per_round())
    )?;
    if matches!(cfg.topology, pingpong::Topology::Fanout(_)) {
        writeln!(
            out,
            "  wakeups     {:.2} waiters woken per event",
            weighted(|o| o.wakeups_per_event())
        )?;
    }
    if reps.len() > 1 {
        for (i, (o, p)) in with_pct.iter().enumerate() {
            let lat = |f: fn(&Percentiles) -> u64| match p {
                Some(p) if p.count > 0 => ns(f(p) as f64),
                _ => NO_DATA.to_string(),
            };
            writeln!(
                out,
                "    #{:<3} {:>10} round trips/s  p50 {}  p99 {}",
                i + 1,
                if o.rounds == 0 {
                    NO_DATA.to_string()
                } else {
                    count(o.ops_per_sec().round() as u64)
                },
                lat(|p| p.p50),
                lat(|p| p.p99)
            )?;
        }
    }
    if let Some(h) = case.histograms.get("round_trip_ns") {
        writeln!(out, "  round trip  {}", output::percentiles(&h.summary))?;
    }
    kernel_sections(out, run, case, status, "round trip")
}

/// The originals' lines for each clean pass (AVG and SIG as they print them), then the
/// kernel figures of the probed passes: extra lines only after the originals' own.
pub fn print_pipetest(
    out: &mut dyn Write,
    run: &CaseRun,
    case: &Case,
    status: &ProbeStatus,
    quiet: bool,
) -> Result<()> {
    let clean: Vec<&pipetest::Outcome> = run
        .rounds
        .iter()
        .filter_map(|r| match r.clean.as_ref().map(|c| &c.figures) {
            Some(Figures::Pipetest(o)) => Some(o),
            _ => None,
        })
        .collect();
    for o in &clean {
        write!(out, "{}", o.human(quiet))?;
    }
    if quiet {
        return Ok(());
    }
    if clean.len() > 1 {
        if let Some(m) = case.metrics.get("us_per_event") {
            let a = &m.across;
            writeln!(
                out,
                "REPEATS: {}  AVG median {:.6} min {:.6} max {:.6} us/event (clean passes)",
                a.n, a.median, a.min, a.max
            )?;
        }
    }
    if !status.on {
        // The originals print nothing more; neither does a run without probes.
        return Ok(());
    }
    kernel_sections(out, run, case, status, "event")
}

/// One row per HTTP wait mode and repeat: the clean pass's client and server figures,
/// and the probed pass's kernel figures per request beside them.
pub fn print_http(
    out: &mut dyn Write,
    runs: &[(&CaseRun, &Case)],
    status: &ProbeStatus,
) -> Result<()> {
    let rows: Vec<(&HttpPass, Option<&HttpPass>, u32, Option<f64>)> = runs
        .iter()
        .flat_map(|(run, case)| {
            run.rounds.iter().enumerate().filter_map(move |(i, r)| {
                // An interrupted repeat is no figure: it is left out of the table.
                if case.repeats.get(i).is_some_and(|x| x.interrupted) {
                    return None;
                }
                let clean = match r.clean.as_ref().map(|c| &c.figures) {
                    Some(Figures::Http(h)) => &**h,
                    _ => return None,
                };
                let probed = match r.probed.as_ref().map(|(p, _)| &p.figures) {
                    Some(Figures::Http(h)) => Some(&**h),
                    _ => None,
                };
                let slow = case
                    .repeats
                    .get(i)
                    .and_then(|x| x.metrics.get(PROBE_SLOWDOWN).copied());
                Some((clean, probed, i as u32 + 1, slow))
            })
        })
        .collect();
    let Some((first, ..)) = rows.first() else {
        writeln!(out, "http: no complete clean pass: no figure")?;
        return Ok(());
    };
    writeln!(
        out,
        "http: {}, {}, {}, body {} B, {} worker{}, {:.1} s measured (clean passes: no probe attached)",
        output::plural(first.connections as u64, "connection", "connections"),
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
    let probes_on = rows.iter().any(|r| r.1.is_some_and(|p| p.kernel.is_some()));
    let mut header: Vec<String> = [
        "wait",
        "req/s",
        "p50",
        "p99",
        "p99.9",
        "errors",
        "waits/req",
        "events/req",
        "in wait/req",
    ]
    .map(String::from)
    .to_vec();
    if probes_on {
        header.extend(
            [
                "probe ×",
                "vol sw/req",
                "on-CPU/req",
                "wakes/req",
                "syscalls/req",
                "wait CPU/req",
            ]
            .map(String::from),
        );
    }
    let many = rows.len() > runs.len();
    let mut cells: Vec<Vec<String>> = Vec::new();
    let mut errors: Vec<Option<String>> = Vec::new();
    for (c, probed, repeat, slow) in &rows {
        // No successful request: no latency (the client records none), never 0 ns.
        let lat = |f: fn(&Percentiles) -> u64| match &c.client.latency_ns {
            Some(l) if l.count > 0 => ns(f(l) as f64),
            _ => NO_DATA.to_string(),
        };
        // A server that answered requests waited at least once: zero wait calls means
        // its loop does not count them (tokio's reactor is inside tokio), not zero.
        let counted = c.server.waits > 0;
        let server = |v: String| {
            if c.server.requests == 0 {
                NO_DATA.to_string()
            } else if !counted {
                "n/a".to_string()
            } else {
                v
            }
        };
        let mut row = vec![
            if many {
                format!("{} #{repeat}", c.wait)
            } else {
                c.wait.clone()
            },
            if c.client.requests == 0 {
                NO_DATA.to_string()
            } else {
                count(c.client.req_per_sec.round() as u64)
            },
            lat(|l| l.p50),
            lat(|l| l.p99),
            lat(|l| l.p999),
            count(c.client.errors_total),
            server(format!("{:.3}", c.per_request.wait_calls)),
            server(format!("{:.3}", c.per_request.events)),
            server(ns(c.per_request.wait_ns)),
        ];
        if probes_on {
            let opt = |x: Option<f64>| x.map_or(NO_DATA.to_string(), |x| format!("{x:.3}"));
            let pr = probed.map(|p| &p.per_request);
            row.extend([
                slow.map_or(NO_DATA.to_string(), |s| format!("{s:.2}x")),
                opt(pr.and_then(|p| p.voluntary_switches)),
                pr.and_then(|p| p.oncpu_ns).map_or(NO_DATA.to_string(), ns),
                opt(pr.and_then(|p| p.wakeups)),
                opt(pr.and_then(|p| p.syscalls)),
                pr.and_then(|p| p.wait_oncpu_ns)
                    .map_or(NO_DATA.to_string(), ns),
            ]);
        }
        cells.push(row);
        errors.push((c.client.errors_total > 0).then(|| c.client.errors_line()));
    }
    // Widths from the cells themselves (in characters: "µ" is one), so a long wait mode
    // ("kevent-ring #1") never pushes its row out from under the headers.
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            std::iter::once(&header)
                .chain(&cells)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: &Vec<String>| -> String {
        let mut t = String::from(" ");
        for (i, c) in r.iter().enumerate() {
            let pad = " ".repeat(widths[i] - c.chars().count());
            if i == 0 {
                t.push_str(&format!(" {c}{pad}"));
            } else {
                t.push_str(&format!(" {pad}{c}"));
            }
        }
        t
    };
    writeln!(out, "{}", line(&header))?;
    for (r, e) in cells.iter().zip(&errors) {
        writeln!(out, "{}", line(r))?;
        if let Some(e) = e {
            writeln!(out, "                errors: {e}")?;
        }
    }
    if probes_on {
        writeln!(
            out,
            "  probe ×: how much the probes slowed that wait mode (clean ÷ probed req/s); the columns after it are the probed pass's"
        )?;
    } else if !status.on {
        writeln!(
            out,
            "  kernel: probes off ({}): userspace figures only",
            status.reason.as_deref().unwrap_or("unknown reason")
        )?;
    }
    Ok(())
}

/// A load run's achieved throughput (and in an open loop what the schedule asked and
/// what it could not fit), latency percentiles and errors.
pub fn print_load(out: &mut impl Write, f: &LoadFigures) -> Result<()> {
    writeln!(
        out,
        "  throughput  {} req/s achieved ({} requests answered in the window, {} bytes)",
        count(f.req_per_sec.round() as u64),
        count(f.requests),
        count(f.bytes)
    )?;
    if let Some(offered) = f.offered_rate {
        writeln!(
            out,
            "  schedule    {} req/s offered: {} scheduled, {} late (answered after the window), {} missed (never sent), {} failed",
            count(offered.round() as u64),
            count(f.scheduled),
            count(f.late),
            count(f.missed),
            count(f.failed)
        )?;
    }
    match &f.latency_ns {
        Some(l) => writeln!(out, "  latency     {}", output::percentiles(l))?,
        None => writeln!(
            out,
            "  latency     no successful request: no latency to report"
        )?,
    }
    writeln!(out, "  errors      {}", f.errors_line())?;
    if f.reconnects > 0 {
        writeln!(
            out,
            "  reconnects  {} (idle connections the server closed, resent on new ones)",
            count(f.reconnects)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18 item 1: `load`'s lines print every count with separators, and an open
    /// loop's offered rate beside the achieved one.
    #[test]
    fn load_lines_separate_thousands() {
        let f = LoadFigures {
            requests: 81_419,
            seconds: 1.0,
            req_per_sec: 81_419.4,
            offered_rate: Some(200_000.0),
            below_target: true,
            late: 1_200,
            missed: 118_565,
            failed: 0,
            scheduled: 201_184,
            reconnects: 0,
            warmup_dropped: 0,
            errors: Default::default(),
            errors_total: 0,
            latency_ns: None,
            service_ns: None,
            bytes: 12_345_678,
            peak_connections: 16,
            interrupted: false,
        };
        let mut out = Vec::new();
        print_load(&mut out, &f).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().take(2).collect();
        assert_eq!(
            lines,
            [
                "  throughput  81,419 req/s achieved (81,419 requests answered in the window, 12,345,678 bytes)",
                "  schedule    200,000 req/s offered: 201,184 scheduled, 1,200 late (answered after the window), 118,565 missed (never sent), 0 failed",
            ]
        );
        assert_eq!(
            f.warning().unwrap(),
            "achieved 81,419 req/s, 59.3 % below the offered 200,000 req/s (118,565 of 201,184 scheduled requests missed, 1,200 late)"
        );
    }
}
