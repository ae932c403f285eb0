//! `cargo xtask bench pingpong`: runs the built `evbench` side by side with
//! `perf bench sched pipe`, alternating, and writes the ratios to results/.
//!
//! Only plumbing lives here (start commands, read their figures, divide, write files);
//! the workloads are evbench's and perf's own.
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::figures::{max as best, median};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Options of `cargo xtask bench pingpong`.
#[derive(clap::Args, Debug)]
pub struct PingpongBench {
    /// Round trips per run (perf's -l).
    #[arg(long, default_value_t = 50_000)]
    pub rounds: u64,
    /// Alternations: each one runs perf and evbench once per case, in alternating order.
    #[arg(long, default_value_t = 20)]
    pub alternations: u32,
    /// Directory the figures go to.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// One side of a comparison: how to run it, how to read ops/s from it.
struct Side {
    argv: Vec<String>,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Perf,
    Evbench,
}

/// What one counted run costs per round trip.
#[derive(Default, Clone, Copy)]
struct Costs {
    syscalls: f64,
    voluntary: f64,
    involuntary: f64,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Makes sure `perf` runs, installing Debian's linux-perf when it is missing.
fn ensure_perf() -> Result<()> {
    let ok = Command::new("perf")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Ok(());
    }
    eprintln!("xtask: perf is missing; installing Debian's linux-perf");
    for args in [
        &["update", "-qq"][..],
        &["install", "-y", "-qq", "linux-perf"][..],
    ] {
        let st = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("cannot run apt-get")?;
        if !st.success() {
            bail!("apt-get {} failed ({st})", args.join(" "));
        }
    }
    Ok(())
}

fn output(argv: &[String]) -> Result<String> {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .with_context(|| format!("cannot start {}", argv[0]))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs one side once and returns its round trips per second.
fn ops_per_sec(side: &Side) -> Result<f64> {
    let text = output(&side.argv)?;
    match side.kind {
        // "         225988 ops/sec"
        Kind::Perf => text
            .lines()
            .find(|l| l.trim_end().ends_with("ops/sec"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no ops/sec in perf's output:\n{text}")),
        Kind::Evbench => {
            let v: Value = serde_json::from_str(&text).context("evbench --json output")?;
            v["cases"][0]["repeats"][0]["metrics"]["ops_per_sec"]
                .as_f64()
                .context("no ops_per_sec in evbench's results document")
        }
    }
}

fn children_rusage() -> libc::rusage {
    // SAFETY: rusage is plain data that getrusage fills.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid rusage to write into.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru
}

/// Runs one side under `perf stat` counting syscalls; the context switches come from
/// getrusage(RUSAGE_CHILDREN), which sums every waited-for descendant (threads and
/// forked workers included). Per round trip, whole process, set-up included (a few
/// hundred syscalls against hundreds of thousands).
fn costs(side: &Side, rounds: u64, tmp: &Path) -> Result<Costs> {
    let stat = tmp.join("perf-stat.csv");
    let mut argv = s(&["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-o"]);
    argv.push(stat.display().to_string());
    argv.push("--".into());
    argv.extend(side.argv.iter().cloned());
    let before = children_rusage();
    output(&argv)?;
    let after = children_rusage();
    let text = std::fs::read_to_string(&stat)?;
    let syscalls: f64 = text
        .lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))
        .and_then(|l| l.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no syscall count in perf stat's output:\n{text}"))?;
    let r = rounds as f64;
    Ok(Costs {
        syscalls: syscalls / r,
        voluntary: (after.ru_nvcsw - before.ru_nvcsw) as f64 / r,
        involuntary: (after.ru_nivcsw - before.ru_nivcsw) as f64 / r,
    })
}

struct Case {
    name: String,
    tasks: &'static str,
    pin: &'static str,
    perf: Option<Side>,
    evbench: Side,
}

fn evbench_argv(
    bin: &Path,
    tasks: &str,
    pin: &str,
    mechanism: &str,
    rounds: u64,
    warmup: u64,
) -> Vec<String> {
    let mut v = vec![bin.display().to_string()];
    v.extend(s(&[
        "run", "pingpong", "--probes", "none", "--json", "-m", mechanism,
    ]));
    v.extend(s(&["--tasks", tasks, "--pin", pin]));
    v.extend([
        "-r".into(),
        rounds.to_string(),
        "--warmup-rounds".into(),
        warmup.to_string(),
    ]);
    v
}

fn perf_argv(tasks: &str, pin: &str, rounds: u64) -> Vec<String> {
    let mut v = if pin == "same" {
        s(&["taskset", "-c", "0"])
    } else {
        Vec::new()
    };
    v.extend(s(&["perf", "bench", "sched", "pipe", "-l"]));
    v.push(rounds.to_string());
    if tasks == "threads" {
        v.push("-T".into());
    }
    v
}

pub fn pingpong(root: &Path, evbench: &Path, a: &PingpongBench) -> Result<()> {
    ensure_perf()?;
    let r = a.rounds;
    let mut cases = Vec::new();
    for pin in ["same", "none", "split"] {
        for tasks in ["threads", "processes"] {
            cases.push(Case {
                name: format!("{tasks}, pin {pin}"),
                tasks,
                pin,
                // perf cannot put its two tasks on two given CPUs.
                perf: (pin != "split").then(|| Side {
                    argv: perf_argv(tasks, pin, r),
                    kind: Kind::Perf,
                }),
                evbench: Side {
                    argv: evbench_argv(evbench, tasks, pin, "pipe", r, 1_000),
                    kind: Kind::Evbench,
                },
            });
        }
    }
    let tmp = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;

    let mut rows = Vec::new();
    for c in &cases {
        eprintln!(
            "xtask: bench pingpong: {} ({} alternations)",
            c.name, a.alternations
        );
        let (mut perf, mut ev) = (Vec::new(), Vec::new());
        for k in 0..a.alternations {
            // Alternate who goes first so drift in the machine's load hits both.
            if k % 2 == 1 {
                ev.push(ops_per_sec(&c.evbench)?);
            }
            if let Some(p) = &c.perf {
                perf.push(ops_per_sec(p)?);
            }
            if k % 2 == 0 {
                ev.push(ops_per_sec(&c.evbench)?);
            }
        }
        // Counted runs: same work per round trip on both sides (no warm-up for evbench,
        // since perf has none).
        let counted = Side {
            argv: evbench_argv(evbench, c.tasks, c.pin, "pipe", r, 0),
            kind: Kind::Evbench,
        };
        let ev_cost = costs(&counted, r, &tmp)?;
        let perf_cost = c.perf.as_ref().map(|p| costs(p, r, &tmp)).transpose()?;
        rows.push((c, perf, ev, perf_cost, ev_cost));
    }

    // eventfd / futex vs pipe, evbench alone: ping-pong pinned to one CPU, and pipetest.
    let mut mech = Vec::new();
    for tasks in ["threads", "processes"] {
        let mut by: Vec<(&str, Vec<f64>)> = Vec::new();
        for m in ["pipe", "eventfd", "futex"] {
            by.push((m, Vec::new()));
        }
        for _ in 0..a.alternations {
            for (m, v) in by.iter_mut() {
                v.push(ops_per_sec(&Side {
                    argv: evbench_argv(evbench, tasks, "same", m, r, 1_000),
                    kind: Kind::Evbench,
                })?);
            }
        }
        mech.push((tasks, by));
    }
    let mut pt: Vec<(&str, Vec<f64>)> = vec![("pipe", Vec::new()), ("eventfd", Vec::new())];
    for _ in 0..a.alternations {
        for (m, v) in pt.iter_mut() {
            let mut argv = vec![evbench.display().to_string()];
            argv.extend(s(&[
                "run", "pipetest", "-q", "--probes", "none", "--json", "-m", m,
            ]));
            let out: Value = serde_json::from_str(&output(&argv)?)?;
            v.push(
                out["cases"][0]["repeats"][0]["metrics"]["us_per_event"]
                    .as_f64()
                    .context("no us_per_event in pipetest's results document")?,
            );
        }
    }
    std::fs::remove_dir_all(&tmp).ok();

    write_results(root, a, &rows, &mech, &pt)
}

/// Median inputs of one mechanism comparison: (tasks, [(mechanism, ops/s per run)]).
type MechRuns<'a> = (&'a str, Vec<(&'a str, Vec<f64>)>);

type Row<'a> = (&'a Case, Vec<f64>, Vec<f64>, Option<Costs>, Costs);

fn write_results(
    root: &Path,
    a: &PingpongBench,
    rows: &[Row<'_>],
    mech: &[MechRuns<'_>],
    pt: &[(&str, Vec<f64>)],
) -> Result<()> {
    let kernel = output(&s(&["uname", "-r"]))?.trim().to_string();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let perf_version = output(&s(&["perf", "--version"]))?.trim().to_string();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();

    let mut md = String::new();
    writeln!(md, "# Ping-pong: evbench vs `perf bench sched pipe`\n")?;
    writeln!(
        md,
        "Written by `cargo xtask bench pingpong --rounds {} --alternations {}`. Kernel {kernel}, {cpu}, {cpus} CPUs, {perf_version}; load average at the end {}.\n",
        a.rounds, a.alternations, load.join(" ")
    )?;
    writeln!(md, "perf and evbench run back to back {} times per case, and who goes first flips every time. On a shared machine other load only ever slows a run down, so the best run of each side estimates its own cost; `ratio` is best evbench / best perf, and `pair ratio` the median of the {} back-to-back ratios (both sides in the same moment of load). `pin same` is the target case (perf under `taskset -c 0`, evbench `--pin same`): ratio >= 0.95. Unpinned and split are reported, not targeted (perf cannot split its two tasks over two given CPUs). Syscalls and switches per round trip come from one extra run each under `perf stat -e raw_syscalls:sys_enter` and getrusage(RUSAGE_CHILDREN), whole process, set-up included. Every run's figure is in bench-pingpong.json.\n", a.alternations, a.alternations)?;
    writeln!(md, "| case | perf ops/s | evbench ops/s | ratio | pair ratio | syscalls/rt perf | evbench | ratio | voluntary/rt perf | evbench | ratio |")?;
    writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    let mut jrows = Vec::new();
    for (c, perf, ev, pc, ec) in rows {
        let (pm, em) = (best(perf), best(ev));
        let pairs: Vec<f64> = perf.iter().zip(ev).map(|(p, e)| e / p).collect();
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
        let f =
            |v: Option<f64>, prec: usize| v.map_or("—".to_string(), |v| format!("{v:.prec$}"));
        writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} | {:.2} | {} | {} | {:.2} | {} |",
            c.name,
            f(c.perf.as_ref().map(|_| pm), 0),
            em,
            f(c.perf.as_ref().map(|_| ratio(em, pm)), 3),
            f(c.perf.as_ref().map(|_| median(&pairs)), 3),
            f(pc.map(|p| p.syscalls), 2),
            ec.syscalls,
            f(pc.map(|p| ratio(ec.syscalls, p.syscalls)), 3),
            f(pc.map(|p| p.voluntary), 2),
            ec.voluntary,
            f(pc.map(|p| ratio(ec.voluntary, p.voluntary)), 3),
        )?;
        jrows.push(json!({
            "case": c.name, "tasks": c.tasks, "pin": c.pin,
            "perf_argv": c.perf.as_ref().map(|p| p.argv.join(" ")),
            "evbench_argv": c.evbench.argv.join(" "),
            "perf_ops_per_sec": perf, "evbench_ops_per_sec": ev,
            "perf_ops_per_sec_best": c.perf.as_ref().map(|_| pm),
            "evbench_ops_per_sec_best": em,
            "ops_ratio": c.perf.as_ref().map(|_| ratio(em, pm)),
            "ops_pair_ratios": pairs,
            "ops_pair_ratio_median": c.perf.as_ref().map(|_| median(&pairs)),
            "perf_per_round_trip": pc.map(|p| json!({"syscalls": p.syscalls, "voluntary": p.voluntary, "involuntary": p.involuntary})),
            "evbench_per_round_trip": json!({"syscalls": ec.syscalls, "voluntary": ec.voluntary, "involuntary": ec.involuntary}),
            "syscalls_ratio": pc.map(|p| ratio(ec.syscalls, p.syscalls)),
            "voluntary_ratio": pc.map(|p| ratio(ec.voluntary, p.voluntary)),
        }));
    }

    writeln!(md, "\n## Mechanisms (evbench alone, pin same, best runs)\n")?;
    writeln!(
        md,
        "| tasks | pipe ops/s | eventfd ops/s | futex ops/s | eventfd/pipe | futex/pipe |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|")?;
    let mut jmech = Vec::new();
    for (tasks, by) in mech {
        let m: Vec<f64> = by.iter().map(|(_, v)| best(v)).collect();
        writeln!(
            md,
            "| {tasks} | {:.0} | {:.0} | {:.0} | {:.3} | {:.3} |",
            m[0],
            m[1],
            m[2],
            m[1] / m[0],
            m[2] / m[0]
        )?;
        jmech.push(json!({"tasks": tasks, "pin": "same",
            "ops_per_sec": by.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_,_>>(),
            "eventfd_over_pipe": m[1] / m[0], "futex_over_pipe": m[2] / m[0]}));
    }
    // Lower is better here: the best run is the smallest µs/event.
    let low = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (p, e) = (low(&pt[0].1), low(&pt[1].1));
    writeln!(
        md,
        "\n## pipetest (defaults: -n 200 -a 1 -w 50000, epoll-et; best AVG)\n"
    )?;
    writeln!(
        md,
        "| pipetest-4 (pipe) us/event | eventfd-bench us/event | pipe/eventfd speed-up |"
    )?;
    writeln!(md, "|---:|---:|---:|")?;
    writeln!(md, "| {p:.4} | {e:.4} | {:.3} |", p / e)?;

    let doc = json!({
        "schema": "evbench.bench-pingpong/1",
        "machine": {"kernel": kernel, "cpu_model": cpu, "cpus": cpus, "perf": perf_version},
        "rounds": a.rounds, "alternations": a.alternations,
        "cases": jrows,
        "mechanisms": jmech,
        "pipetest": {"pipe_avg_us": pt[0].1, "eventfd_avg_us": pt[1].1,
                     "pipe_over_eventfd": p / e},
    });
    let dir = root.join(&a.out);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("bench-pingpong.md"), &md)?;
    std::fs::write(
        dir.join("bench-pingpong.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    print!("{md}");
    eprintln!("xtask: wrote {}/bench-pingpong.md and .json", dir.display());
    Ok(())
}
