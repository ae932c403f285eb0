//! `cargo xtask soak [--time 10m] [--every 10s]`: long-lived evbench processes under
//! load, sampled from outside, to show that nothing grows (issue 17 item 5).
//!
//! For the whole time three evbench processes live side by side (a new process per
//! iteration could not show a leak):
//! * `evbench serve --wait epoll` under repeated `evbench load` runs: one iteration is one
//!   load run of `--every` minus 2 s, then 1 s idle, then the sample — so every sample is
//!   taken at the same point of its iteration (no connection open);
//! * `evbench run --repeat auto --max-time 30s` (the quick suite, default probes:
//!   probed passes attach and detach the eBPF programs) run again and again in one
//!   process until T (the hidden `EVBENCH_SOAK_LOOP` hook), each run writing its
//!   document; sampled at the same moments, each sample the largest of 5 readings 20 ms
//!   apart (a pass's worker threads and pipes come and go within a pass);
//! * `evbench trace --pid BUSY` on a busy process (an `evbench run pingpong --probes
//!   none` of its own, making threads every pass), ended by SIGINT at the end.
//!
//! Each sample: the process's RSS (`VmRSS`), open fds, threads (`/proc/PID/status`), the
//! BPF programs, maps and links it holds (fds `anon_inode:bpf-prog`, `bpf-map`,
//! `bpf_link`) and perf-event fds, and the machine's BPF programs, maps and links (by id,
//! with the bpf(2) `*_GET_NEXT_ID` commands; shared with everything else running on the
//! machine, so reported but not judged). Flat: fds, threads and the process's BPF
//! objects equal in every sample after the first (for the run, sampled within or between
//! passes: the same largest value in the later half of the samples as in the earlier
//! half), RSS within 5% (or 2 MiB, whichever is larger) of the second sample. Figures go to results/soak.md and results/soak.json;
//! the command fails when a process is not flat or ends early.
use std::{
    fmt::Write as _,
    fs,
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// `--max-time` of each suite run in the loop.
const RUN_MAX_TIME_S: u64 = 30;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// How long the soak lasts (e.g. 10m, 90s; a bare number is seconds; at least 40s).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    time: Duration,
    /// Length of one iteration = the sampling period (at least 5s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    every: Duration,
}

/// "10m", "90s", "1h", "500ms" or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 10m, 90s)"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("'{s}': unit must be ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

/// One reading of one process.
#[derive(Clone, Copy, Default, PartialEq)]
struct Reading {
    rss_kib: u64,
    fds: u64,
    threads: u64,
    bpf_progs: u64,
    bpf_maps: u64,
    bpf_links: u64,
    perf_events: u64,
}

impl Reading {
    fn max(self, o: Reading) -> Reading {
        Reading {
            rss_kib: self.rss_kib.max(o.rss_kib),
            fds: self.fds.max(o.fds),
            threads: self.threads.max(o.threads),
            bpf_progs: self.bpf_progs.max(o.bpf_progs),
            bpf_maps: self.bpf_maps.max(o.bpf_maps),
            bpf_links: self.bpf_links.max(o.bpf_links),
            perf_events: self.perf_events.max(o.perf_events),
        }
    }

    /// What must stay equal: everything but RSS.
    fn counts(&self) -> [u64; 6] {
        [
            self.fds,
            self.threads,
            self.bpf_progs,
            self.bpf_maps,
            self.bpf_links,
            self.perf_events,
        ]
    }

    fn json(&self) -> Value {
        json!({
            "rss_kib": self.rss_kib, "fds": self.fds, "threads": self.threads,
            "bpf_progs": self.bpf_progs, "bpf_maps": self.bpf_maps,
            "bpf_links": self.bpf_links, "perf_events": self.perf_events,
        })
    }
}

/// `None` when the process is gone.
fn read_proc(pid: u32) -> Option<Reading> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    let mut r = Reading {
        rss_kib: field("VmRSS:")?,
        threads: field("Threads:")?,
        ..Reading::default()
    };
    for e in fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        r.fds += 1;
        let target = fs::read_link(e.path()).unwrap_or_default();
        let t = target.to_string_lossy();
        if t.contains("bpf-prog") {
            r.bpf_progs += 1;
        } else if t.contains("bpf-map") {
            r.bpf_maps += 1;
        } else if t.contains("bpf_link") || t.contains("bpf-link") {
            r.bpf_links += 1;
        } else if t.contains("perf_event") {
            r.perf_events += 1;
        }
    }
    Some(r)
}

/// The largest of 5 readings 20 ms apart (`None` when the process is gone).
fn burst(pid: u32) -> Option<Reading> {
    let mut best = read_proc(pid)?;
    for _ in 0..4 {
        sleep(Duration::from_millis(20));
        best = best.max(read_proc(pid)?);
    }
    Some(best)
}

/// How many BPF objects of one kind the machine has: bpf(2) `cmd` is one of
/// BPF_PROG_GET_NEXT_ID (11), BPF_MAP_GET_NEXT_ID (12), BPF_LINK_GET_NEXT_ID (31).
fn bpf_count(cmd: libc::c_long) -> Option<u64> {
    // union bpf_attr for *_GET_NEXT_ID: start_id, next_id, open_flags (u32 each).
    let mut attr = [0u32; 4];
    let mut n = 0;
    loop {
        // SAFETY: attr is a valid, large enough bpf_attr for this command.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr.as_mut_ptr(),
                std::mem::size_of_val(&attr) as libc::c_uint,
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return (e.raw_os_error() == Some(libc::ENOENT)).then_some(n);
        }
        n += 1;
        attr[0] = attr[1];
    }
}

fn machine_bpf() -> Value {
    json!({
        "progs": bpf_count(11), "maps": bpf_count(12), "links": bpf_count(31),
    })
}

struct Track {
    name: &'static str,
    command: String,
    pid: u32,
    /// Not sampled at a fixed point of its iterations (the run: within or between passes).
    between_passes_too: bool,
    /// (iteration, seconds since start, reading)
    samples: Vec<(u32, f64, Reading)>,
}

impl Track {
    /// (flat, why not) over the samples after the first.
    fn verdict(&self) -> (bool, String) {
        if self.samples.len() < 3 {
            return (
                false,
                format!("only {} samples (3 needed)", self.samples.len()),
            );
        }
        let second = self.samples[1].2;
        let mut why = Vec::new();
        let names = [
            "fds",
            "threads",
            "bpf progs",
            "bpf maps",
            "bpf links",
            "perf events",
        ];
        for (i, name) in names.iter().enumerate() {
            let vals: Vec<u64> = self.samples[1..].iter().map(|s| s.2.counts()[i]).collect();
            let varies = if self.between_passes_too {
                // Sampled at no fixed point: a reading is either within a pass or between
                // two, so the counts alternate between two levels. Flat = the upper level
                // of the later half equals that of the earlier half (no growth).
                let (early, late) = vals.split_at(vals.len() / 2);
                early.iter().max() != late.iter().max()
            } else {
                vals.iter().any(|&v| v != vals[0])
            };
            if varies {
                why.push(format!(
                    "{name} vary: {}..{}",
                    vals.iter().min().unwrap_or(&0),
                    vals.iter().max().unwrap_or(&0)
                ));
            }
        }
        let allowed = (second.rss_kib / 20).max(2048);
        let worst = self.samples[1..]
            .iter()
            .map(|s| s.2.rss_kib.abs_diff(second.rss_kib))
            .max()
            .unwrap_or(0);
        if worst > allowed {
            why.push(format!(
                "RSS moved {worst} KiB from the second sample's {} KiB (allowed {allowed})",
                second.rss_kib
            ));
        }
        (why.is_empty(), why.join("; "))
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> Result<Child> {
    spawn_with(bin, args, log, &[])
}

fn spawn_with(bin: &Path, args: &[String], log: &Path, env: &[(&str, String)]) -> Result<Child> {
    let f = fs::File::create(log)?;
    Command::new(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .spawn()
        .with_context(|| format!("cannot start {} {}", bin.display(), args.join(" ")))
}

fn interrupt(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

/// Waits up to `limit` for `child`; SIGKILL after that.
fn reap(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    child.wait().ok()
}

pub fn run(root: &Path, bin: &Path, a: &SoakArgs) -> Result<()> {
    if a.time < Duration::from_secs(40) || a.every < Duration::from_secs(5) {
        bail!("--time must be at least 40s and --every at least 5s (3 samples are needed)");
    }
    let dir = root.join("target/soak");
    fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let serve_args: Vec<String> = ["serve", "--wait", "epoll", "--addr", &addr]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let run_secs = a.time.as_secs().saturating_sub(2).max(1);
    // The suite under --repeat auto, each run bounded by --max-time, again and again in
    // one process (the hidden EVBENCH_SOAK_LOOP hook): one run's document legitimately
    // grows with its repeats, so flat means the same level run after run.
    let run_args: Vec<String> = [
        "run",
        "--repeat",
        "auto",
        "--max-time",
        &format!("{RUN_MAX_TIME_S}s"),
        "-q",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.join("suite.json").display().to_string()])
    .collect();
    let load_secs = a.every.as_secs().saturating_sub(2).max(1);
    let load_args: Vec<String> = [
        "load",
        "--server",
        &addr,
        "-c",
        "16",
        "-d",
        &format!("{load_secs}s"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut serve = spawn(bin, &serve_args, &dir.join("serve.log"))?;
    let up = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        if up.elapsed() > Duration::from_secs(10) || serve.try_wait()?.is_some() {
            let _ = serve.kill();
            bail!(
                "evbench serve did not listen on {addr} (see {})",
                dir.join("serve.log").display()
            );
        }
        sleep(Duration::from_millis(50));
    }
    let mut runp = spawn_with(
        bin,
        &run_args,
        &dir.join("suite.log"),
        &[
            ("EVBENCH_SOAK_LOOP", run_secs.to_string()),
            ("EVBENCH_SUITE_SIZE", "quick".into()),
        ],
    )?;
    // A busy process of its own (pipe round trips, new threads every pass, no probes) and
    // one trace session on it for the whole time.
    let busy_args: Vec<String> = [
        "run",
        "pingpong",
        "--probes",
        "none",
        "--repeat",
        "auto",
        "--precision",
        "0.0001%",
        "--max-time",
        &format!("{}s", a.time.as_secs() + 30),
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut busy = spawn(bin, &busy_args, &dir.join("busy.log"))?;
    let trace_args: Vec<String> = vec!["trace".into(), "--pid".into(), busy.id().to_string()];
    let mut tracep = spawn(bin, &trace_args, &dir.join("trace.log"))?;
    let mut tracks = [
        Track {
            name: "serve",
            command: format!("evbench {}", serve_args.join(" ")),
            pid: serve.id(),
            between_passes_too: false,
            samples: Vec::new(),
        },
        Track {
            name: "run suite (looped)",
            command: format!(
                "EVBENCH_SOAK_LOOP={run_secs} EVBENCH_SUITE_SIZE=quick evbench {}",
                run_args.join(" ")
            ),
            pid: runp.id(),
            between_passes_too: false,
            samples: Vec::new(),
        },
        Track {
            name: "trace",
            command: format!(
                "evbench {} (BUSY = evbench {})",
                trace_args.join(" ").replace(&busy.id().to_string(), "BUSY"),
                busy_args.join(" ")
            ),
            pid: tracep.id(),
            // The traced process makes threads each pass; the session's own fds and
            // threads do not change, but sample it as the run is sampled.
            between_passes_too: true,
            samples: Vec::new(),
        },
    ];
    // The looped run is sampled in the idle second after each run writes its document
    // (its mtime changes), so every sample is taken at the same point of a run.
    let doc_path = dir.join("suite.json");
    let run_pid = runp.id();
    let deadline = a.time;
    let run_sampler = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mtime = || fs::metadata(&doc_path).and_then(|m| m.modified()).ok();
        let mut last = mtime();
        let mut out = Vec::new();
        while t0.elapsed() < deadline {
            sleep(Duration::from_millis(50));
            let now = mtime();
            if now.is_some() && now != last {
                last = now;
                sleep(Duration::from_millis(200));
                if let Some(r) = read_proc(run_pid) {
                    out.push((out.len() as u32 + 1, t0.elapsed().as_secs_f64(), r));
                }
            }
        }
        out
    });
    let mut machine = Vec::new();
    let mut failures = Vec::new();
    let start = Instant::now();
    let mut iteration = 0u32;
    eprintln!(
        "xtask: soak for {} s: serve pid {}, run pid {}, one sample every {} s",
        a.time.as_secs(),
        serve.id(),
        runp.id(),
        a.every.as_secs()
    );
    while start.elapsed() + a.every <= a.time {
        iteration += 1;
        let load = Command::new(bin)
            .args(&load_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .context("cannot start evbench load")?;
        if !load.status.success() {
            failures.push(format!(
                "iteration {iteration}: evbench load failed ({}): {}",
                load.status,
                String::from_utf8_lossy(&load.stderr).trim()
            ));
        }
        sleep(Duration::from_secs(1));
        let t = start.elapsed().as_secs_f64();
        for (track, child) in tracks.iter_mut().zip([&mut serve, &mut runp, &mut tracep]) {
            if track.pid == run_pid {
                // Sampled by its own thread at the end of each run; only watched here.
                if let Some(s) = child.try_wait()? {
                    if !failures.iter().any(|f| f.starts_with(track.name)) {
                        failures.push(format!("{} ended early ({s}) at {t:.0} s", track.name));
                    }
                }
                continue;
            }
            match child.try_wait()? {
                Some(s) => {
                    if !failures.iter().any(|f| f.starts_with(track.name)) {
                        failures.push(format!("{} ended early ({s}) at {t:.0} s", track.name));
                    }
                }
                None => {
                    if let Some(r) = burst(track.pid) {
                        track.samples.push((iteration, t, r));
                    }
                }
            }
        }
        machine.push(json!({"iteration": iteration, "t_s": t, "machine_bpf": machine_bpf()}));
        let s = |i: usize| tracks[i].samples.last().map(|x| x.2).unwrap_or_default();
        // The run's figures here are a live look (its samples are taken between runs).
        let live = read_proc(run_pid).unwrap_or_default();
        eprintln!(
            "xtask: soak {t:>5.0} s iteration {iteration}: serve rss {} KiB fds {} threads {}; run (live) rss {} KiB fds {} threads {} bpf {}/{}/{}; trace rss {} KiB fds {} bpf {}/{}/{}",
            s(0).rss_kib, s(0).fds, s(0).threads, live.rss_kib, live.fds, live.threads,
            live.bpf_progs, live.bpf_maps, live.bpf_links, s(2).rss_kib, s(2).fds,
            s(2).bpf_progs, s(2).bpf_maps, s(2).bpf_links
        );
    }
    tracks[1].samples = run_sampler.join().unwrap_or_default();
    interrupt(&mut serve);
    let serve_status = reap(&mut serve, Duration::from_secs(10));
    // The run ends at its --max-time; it may need a few seconds to write its document.
    let run_status = reap(&mut runp, a.time + Duration::from_secs(60));
    interrupt(&mut tracep);
    let trace_status = reap(&mut tracep, Duration::from_secs(30));
    interrupt(&mut busy);
    let _ = reap(&mut busy, Duration::from_secs(30));
    for (name, st) in [
        ("serve", serve_status),
        ("run suite (looped)", run_status),
        ("trace", trace_status),
    ] {
        if !st.is_some_and(|s| s.success() || s.code() == Some(130)) {
            failures.push(format!("{name} exited {st:?}"));
        }
    }
    write_results(root, a, started_unix, &tracks, &machine, &failures)?;
    let not_flat: Vec<String> = tracks
        .iter()
        .filter_map(|t| {
            let (ok, why) = t.verdict();
            (!ok).then(|| format!("{}: {why}", t.name))
        })
        .collect();
    if !failures.is_empty() || !not_flat.is_empty() {
        bail!(
            "soak: {}",
            failures
                .iter()
                .chain(&not_flat)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    eprintln!("xtask: soak: every process stayed flat; figures in results/soak.md");
    Ok(())
}

fn write_results(
    root: &Path,
    a: &SoakArgs,
    started_unix: u64,
    tracks: &[Track],
    machine: &[Value],
    failures: &[String],
) -> Result<()> {
    let cmd = format!(
        "cargo xtask soak --time {}s --every {}s",
        a.time.as_secs(),
        a.every.as_secs()
    );
    let doc = json!({
        "command": cmd,
        "started_unix": started_unix,
        "seconds": a.time.as_secs(),
        "every_s": a.every.as_secs(),
        "failures": failures,
        "processes": tracks.iter().map(|t| {
            let (flat, why) = t.verdict();
            json!({
                "name": t.name, "command": t.command, "flat": flat, "why_not": why,
                "samples": t.samples.iter().map(|(i, s, r)| {
                    let mut v = r.json();
                    v["iteration"] = json!(i);
                    v["t_s"] = json!(s);
                    v
                }).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
        "machine": machine,
    });
    let dir = root.join("results");
    fs::write(
        dir.join("soak.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    let mut md = String::from("# Soak: long-lived evbench processes stay flat\n\n");
    let _ = writeln!(
        md,
        "`{cmd}` (2-CPU VM shared with other builds and tests; noisy). One `evbench serve` \
         under a new `evbench load` every iteration, one process running `evbench run \
         --repeat auto --max-time 30s` (the quick suite) again and again, and one `evbench trace --pid` session on a busy process \
         (an `evbench run pingpong --probes none` of its own), all sampled from outside \
         once per iteration (serve idle between loads; trace: the largest of 5 readings \
         20 ms apart) — except the looped run, sampled in the idle second after each of its \
         runs writes its document. Flat = fds, \
         threads and the process's BPF programs / maps / links and perf-event fds equal in \
         every sample after the first (run: sampled within or between passes, so the \
         largest value of the later half must equal that of the earlier half), RSS \
         within 5% (or 2 MiB) of the second sample. \
         Per-sample figures in results/soak.json.\n"
    );
    md.push_str("| process | samples | RSS 2nd / last / max KiB | fds | threads | bpf progs / maps / links | perf fds | flat |\n");
    md.push_str("| --- | ---: | --- | --- | --- | --- | --- | --- |\n");
    let range = |v: Vec<u64>| {
        let (lo, hi) = (
            v.iter().min().copied().unwrap_or(0),
            v.iter().max().copied().unwrap_or(0),
        );
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}..{hi}")
        }
    };
    for t in tracks {
        let after: Vec<Reading> = t.samples.iter().skip(1).map(|s| s.2).collect();
        let (flat, why) = t.verdict();
        let _ = writeln!(
            md,
            "| {} | {} | {} / {} / {} | {} | {} | {} / {} / {} | {} | {} |",
            t.name,
            t.samples.len(),
            after.first().map_or(0, |r| r.rss_kib),
            after.last().map_or(0, |r| r.rss_kib),
            after.iter().map(|r| r.rss_kib).max().unwrap_or(0),
            range(after.iter().map(|r| r.fds).collect()),
            range(after.iter().map(|r| r.threads).collect()),
            range(after.iter().map(|r| r.bpf_progs).collect()),
            range(after.iter().map(|r| r.bpf_maps).collect()),
            range(after.iter().map(|r| r.bpf_links).collect()),
            range(after.iter().map(|r| r.perf_events).collect()),
            if flat {
                "yes".to_string()
            } else {
                format!("**no**: {why}")
            }
        );
    }
    let count = |k: &str| -> Vec<u64> {
        machine
            .iter()
            .filter_map(|m| m["machine_bpf"][k].as_u64())
            .collect()
    };
    let _ = writeln!(
        md,
        "\nMachine-wide BPF objects over the samples (shared with every other process on \
         this VM, so not judged): programs {}, maps {}, links {}.",
        range(count("progs")),
        range(count("maps")),
        range(count("links"))
    );
    if !failures.is_empty() {
        let _ = writeln!(md, "\nFailures: {}", failures.join("; "));
    }
    fs::write(dir.join("soak.md"), md)?;
    eprintln!("xtask: figures in results/soak.md and results/soak.json");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, Reading, Track};
    use std::time::Duration;

    fn track(between: bool, points: &[(u64, u64, u64)]) -> Track {
        Track {
            name: "t",
            command: String::new(),
            pid: 0,
            between_passes_too: between,
            samples: points
                .iter()
                .enumerate()
                .map(|(i, &(rss_kib, fds, threads))| {
                    let r = Reading {
                        rss_kib,
                        fds,
                        threads,
                        ..Reading::default()
                    };
                    (i as u32 + 1, i as f64 * 10.0, r)
                })
                .collect(),
        }
    }

    #[test]
    fn flat_means_equal_counts_and_rss_within_5_percent_or_2_mib() {
        // The first sample is ignored; 100,000 KiB +5% = 105,000 is still flat.
        let t = track(false, &[(1, 1, 1), (100_000, 8, 2), (105_000, 8, 2)]);
        assert_eq!(t.verdict(), (true, String::new()));
        let t = track(false, &[(1, 1, 1), (100_000, 8, 2), (105_001, 9, 2)]);
        assert_eq!(
            t.verdict().1,
            "fds vary: 8..9; RSS moved 5001 KiB from the second sample's 100000 KiB (allowed 5000)"
        );
        // Small processes: 2 MiB of slack.
        let t = track(false, &[(1, 1, 1), (5_000, 8, 2), (7_048, 8, 2)]);
        assert!(t.verdict().0);
        assert!(!track(false, &[(1, 1, 1), (5_000, 8, 2)]).verdict().0);
    }

    #[test]
    fn alternating_counts_are_flat_until_the_upper_level_grows() {
        let pts = [
            (1, 1, 1),
            (10, 35, 3),
            (10, 31, 1),
            (10, 31, 1),
            (10, 35, 3),
        ];
        assert!(track(true, &pts).verdict().0);
        assert!(!track(false, &pts).verdict().0);
        let grows = [
            (1, 1, 1),
            (10, 35, 3),
            (10, 31, 1),
            (10, 36, 3),
            (10, 31, 1),
        ];
        assert_eq!(track(true, &grows).verdict().1, "fds vary: 31..36");
    }

    #[test]
    fn durations_take_a_unit_or_seconds() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0s"), Err("must be positive".into()));
        assert_eq!(
            parse_duration("5d"),
            Err("'5d': unit must be ms, s, m or h".into())
        );
    }
}
