//! `evbench list`: the vocabulary, with one line each.
use std::io::Write;

use anyhow::Result;
use serde::Serialize;
use workloads::{Mechanism, WaitMode};

use crate::{cli::scan::SCANNABLE, probes::ProbeSet};

#[derive(Serialize)]
struct Item {
    name: &'static str,
    about: &'static str,
}

/// An option `evbench run WORKLOAD --scan NAME=VALUES` can vary.
#[derive(Serialize)]
struct ScanItem {
    workload: &'static str,
    name: &'static str,
    unit: &'static str,
    about: &'static str,
}

#[derive(Serialize)]
struct Lists {
    workloads: Vec<Item>,
    mechanisms: Vec<Item>,
    wait_modes: Vec<Item>,
    probe_sets: Vec<Item>,
    scannable: Vec<ScanItem>,
}

/// Workloads `evbench run` knows.
pub const WORKLOADS: &[(&str, &str)] = &[
    (
        "pingpong",
        "tasks bounce a token (pair, ring, fanout); each round trip sleeps and wakes tasks",
    ),
    (
        "pipetest",
        "pipetest-4 / eventfd-bench: one thread forwards messages across N channels in one epoll set",
    ),
    (
        "http",
        "a static HTTP server per wait mode (tokio too) under a wrk2-style load client",
    ),
];

fn lists() -> Lists {
    Lists {
        workloads: WORKLOADS
            .iter()
            .map(|&(name, about)| Item { name, about })
            .collect(),
        mechanisms: Mechanism::ALL
            .iter()
            .map(|m| Item {
                name: m.as_str(),
                about: m.describe(),
            })
            .collect(),
        wait_modes: WaitMode::ALL
            .iter()
            .map(|w| Item {
                name: w.as_str(),
                about: w.describe(),
            })
            .collect(),
        probe_sets: ProbeSet::ALL
            .iter()
            .map(|p| Item {
                name: p.as_str(),
                about: p.describe(),
            })
            .collect(),
        scannable: SCANNABLE
            .iter()
            .map(|s| ScanItem {
                workload: s.workload,
                name: s.name,
                unit: s.unit,
                about: s.about,
            })
            .collect(),
    }
}

/// `evbench list [--json]`: prints the vocabulary. Exit 0; a stdout that cannot be
/// written (a full disk behind `>`) is one line and exit 2, as for any output.
pub fn run(json: bool) -> Result<std::process::ExitCode> {
    let mut out = std::io::stdout().lock();
    match print(json, &mut out).and_then(|()| Ok(out.flush()?)) {
        Ok(()) => Ok(std::process::ExitCode::SUCCESS),
        Err(e) => {
            eprintln!(
                "evbench: error: cannot write the list to stdout: {}",
                crate::errors::without_errno(format!("{e:#}"))
            );
            Ok(std::process::ExitCode::from(2))
        }
    }
}

fn print(json: bool, out: &mut impl Write) -> Result<()> {
    let l = lists();
    if json {
        serde_json::to_writer_pretty(&mut *out, &l)?;
        writeln!(out)?;
        return Ok(());
    }
    let sections = [
        ("workloads (evbench run WORKLOAD)", &l.workloads),
        (
            "mechanisms (-m/--mechanism; a comma-separated list runs one case each): what signals",
            &l.mechanisms,
        ),
        (
            "wait modes (-W/--wait; a comma-separated list runs one case each): how a task waits",
            &l.wait_modes,
        ),
        (
            "probe sets (--probes): what the kernel side measures",
            &l.probe_sets,
        ),
    ];
    // One name column for every section, as wide as the longest name
    // (efd-mask-socketpair), so the descriptions line up.
    let width = sections
        .iter()
        .flat_map(|(_, items)| items.iter().map(|i| i.name.chars().count()))
        .max()
        .unwrap_or(0);
    for (title, items) in sections {
        writeln!(out, "{title}")?;
        for i in items {
            writeln!(out, "  {:<width$}  {}", i.name, i.about)?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "scannable options (evbench run WORKLOAD --scan NAME=V1,V2,... or NAME=START..END[:STEPS][log])"
    )?;
    for s in &l.scannable {
        // One word, so the descriptions line up with the other sections'.
        let name = format!("{}:{}", s.workload, s.name);
        writeln!(out, "  {name:<width$}  {} ({})", s.about, s.unit)?;
    }
    writeln!(out)?;
    Ok(())
}
