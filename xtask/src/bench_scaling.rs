//! `cargo xtask bench scaling`: the scaling curves of issue 19, each an `evbench run
//! --scan` (clean and probed passes, interleaved, repeats), merged per curve and
//! rendered by `evbench report` (curve and fit tables, SVG plots) into
//! results/scaling.md, results/scaling.json and results/scaling/*.svg:
//!
//! - pipetest µs/event against channels (pipes, one active) for epoll-et (the
//!   originals' mode), epoll, poll, kevent and kevent-ring from 200 to 9,000 channels,
//!   select only up to 450 (FD_SETSIZE: 2 fds per pipe, and evbench's own fds below);
//! - ping-pong fanout (eventfd, epoll) against waiters 1 → 64, with and without
//!   EPOLLEXCLUSIVE;
//! - HTTP req/s and p99 against connections 10 → 10,000 for each server wait mode,
//!   with lighttpd under the same client (same fd limit) as the reference line.
//!
//! Sized (writes, rounds, durations, points, repeats) so the whole bench stays within
//! 60 minutes on this 2-CPU machine; `--quick` is a smoke run of a few minutes. Besides
//! the fits, it checks the probes' own cost: (probed − clean) ns per operation per
//! line across the scan, against its smallest value (issue 19: within 20%).
use std::{path::Path, process::Command, time::Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::figures::median;

#[derive(Args)]
pub struct ScalingBench {
    /// A smoke run: few small points, 2 repeats (minutes, not the real figures).
    #[arg(long)]
    quick: bool,
    /// Judged repeats per point (default 5; 2 with --quick).
    #[arg(long)]
    repeat: Option<u32>,
    /// Only render results/scaling.{md,json} and the plots again from the documents
    /// the last run left in target/scaling (no measurement).
    #[arg(long)]
    pub render_only: bool,
}

/// One curve: what it is called and the `evbench` runs whose cases it merges.
struct Curve {
    stem: &'static str,
    title: &'static str,
    runs: Vec<Vec<String>>,
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Measured time of each HTTP run (evbench's and lighttpd's); warm-up is `HTTP_WARMUP`.
fn http_duration(quick: bool) -> &'static str {
    if quick {
        "300ms"
    } else {
        "2s"
    }
}
const HTTP_WARMUP: &str = "500ms";

fn curves(quick: bool, repeat: u32) -> Vec<Curve> {
    let r = repeat.to_string();
    let common = |mut v: Vec<String>| {
        v.extend(args(&["--repeat", &r, "-q"]));
        v
    };
    // pipetest: -w sized so the slowest point (poll at 9,000 channels, ~100 µs an
    // event) stays near 10 s a pass.
    let (w, big, small) = if quick {
        ("300", "channels=200..2000:3log", "channels=200..450:2")
    } else {
        ("5000", "channels=200..9000:8log", "channels=200..450:4")
    };
    let mut pipetest = Vec::new();
    for wait in ["epoll-et", "epoll", "poll", "kevent", "kevent-ring"] {
        pipetest.push(common(args(&[
            "run", "pipetest", "-W", wait, "-w", w, "--scan", big,
        ])));
    }
    pipetest.push(common(args(&[
        "run", "pipetest", "-W", "select", "-w", w, "--scan", small,
    ])));
    let (rounds, fan) = if quick {
        ("2000", "fanout=1..8:4log")
    } else {
        ("20000", "fanout=1..64:7log")
    };
    let mut fanout = Vec::new();
    for excl in [false, true] {
        let mut v = args(&[
            "run", "pingpong", "-m", "eventfd", "-W", "epoll", "-r", rounds, "--scan", fan,
        ]);
        if excl {
            v.push("--exclusive".into());
        }
        fanout.push(common(v));
    }
    let dur = http_duration(quick);
    let (conns, waits) = if quick {
        ("connections=10..100:2log", "epoll,poll")
    } else {
        (
            "connections=10..10000:4log",
            "epoll,epoll-et,poll,kevent,kevent-ring,tokio",
        )
    };
    let http = vec![common(args(&[
        "run",
        "http",
        "-W",
        waits,
        "-d",
        dur,
        "--warmup-time",
        HTTP_WARMUP,
        "--scan",
        conns,
    ]))];
    vec![
        Curve {
            stem: "pipetest-channels",
            title: "pipetest: µs/event against channels (pipes, one active)",
            runs: pipetest,
        },
        Curve {
            stem: "pingpong-fanout",
            title: "ping-pong fanout (eventfd, epoll): against waiters, with and without EPOLLEXCLUSIVE",
            runs: fanout,
        },
        Curve {
            stem: "http-connections",
            title: "HTTP: req/s and p99 against connections, per server wait mode",
            runs: http,
        },
    ]
}

/// The heading of results/scaling.md's hand-written part, kept across re-renders.
const READING: &str = "## Reading the curves";

/// lighttpd's port for the HTTP curve's reference line (`bench http` uses 18090).
const LIGHTTPD_PORT: u16 = 18091;
/// The fd limit both servers get: evbench raises its soft RLIMIT_NOFILE to the hard
/// one (20,000 here); lighttpd is given the same as `server.max-fds`, and half of it
/// as `server.max-connections` (lighttpd caps connections at max-fds / 2).
const SERVER_FDS: u32 = 20000;

/// One point of the lighttpd reference line: the scanned connection count and each
/// repeat's req/s, p99 (ns) and error count from `evbench load --json`.
struct Reference {
    x: f64,
    rps: Vec<f64>,
    p99: Vec<f64>,
    errors: u64,
}

/// lighttpd (one process, epoll, the same 128-byte body) under the same `evbench load`
/// client settings as the `run http` scan: `repeat` rounds, each round every
/// connection count once (ascending), one lighttpd process per run as `bench http`
/// does. Returns the points and lighttpd's version line.
fn lighttpd_reference(
    root: &Path,
    evbench: &Path,
    values: &[f64],
    repeat: u32,
    dur: &str,
    warmup: &str,
) -> Result<(Vec<Reference>, String)> {
    crate::bench_http::ensure_tool("lighttpd", "lighttpd")?;
    let dir = root.join("target/scaling/lighttpd");
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::write(dir.join("www/index.html"), crate::bench_http::body(128))?;
    let d = dir.display();
    let conf = dir.join("lighttpd.conf");
    std::fs::write(
        &conf,
        format!(
            "server.modules = ()\nserver.document-root = \"{d}/www\"\n\
             server.bind = \"127.0.0.1\"\nserver.port = {LIGHTTPD_PORT}\n\
             server.errorlog = \"{d}/error.log\"\nserver.pid-file = \"{d}/lighttpd.pid\"\n\
             index-file.names = (\"index.html\")\nmimetype.assign = (\".html\" => \"text/plain\")\n\
             server.max-keep-alive-requests = 1000000\nserver.max-keep-alive-idle = 300\n\
             server.max-read-idle = 300\nserver.max-write-idle = 300\n\
             server.max-fds = {SERVER_FDS}\nserver.max-connections = {}\n\
             server.event-handler = \"linux-sysepoll\"\nserver.stat-cache-engine = \"simple\"\n",
            SERVER_FDS / 2
        ),
    )?;
    let version = crate::bench_http::lighttpd_version();
    let mut out: Vec<Reference> = values
        .iter()
        .map(|&x| Reference {
            x,
            rps: vec![],
            p99: vec![],
            errors: 0,
        })
        .collect();
    for round in 1..=repeat {
        for r in &mut out {
            let _server = crate::bench_http::Server::start_on(
                Command::new("lighttpd").arg("-D").arg("-f").arg(&conf),
                LIGHTTPD_PORT,
            )?;
            let o = crate::bench_http::load_command(
                evbench,
                LIGHTTPD_PORT,
                &format!("{}", r.x),
                dur,
                warmup,
            )
            .output()
            .context("cannot run evbench load")?;
            // A run with no success exits 1 but still prints its document.
            let v: Value = serde_json::from_slice(&o.stdout).with_context(|| {
                format!(
                    "evbench load against lighttpd: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )
            })?;
            let rps = v["req_per_sec"].as_f64().unwrap_or(0.0);
            eprintln!(
                "bench scaling: lighttpd round {round}/{repeat}, {} connections: {rps:.0} req/s",
                r.x
            );
            r.rps.push(rps);
            if let Some(p) = v["latency_ns"]["p99"].as_f64() {
                r.p99.push(p);
            }
            r.errors += v["errors_total"].as_u64().unwrap_or(0);
        }
    }
    Ok((out, version))
}

/// The reference points as cases of the merged HTTP document (`http/lighttpd/
/// connections=N`, req/s per repeat, no probed pass and no histogram), so `report`
/// draws lighttpd as one more line of the req/s plot and fits it like the others.
fn reference_cases(doc: &Value, refs: &[Reference], version: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for r in refs {
        let Some(t) = doc["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["scan"]["value"].as_f64() == Some(r.x))
        else {
            continue;
        };
        let label = t["scan"]["label"].as_str().unwrap_or("").to_string();
        let mut c = t.clone();
        let n = r.rps.len();
        let sorted = {
            let mut v = r.rps.clone();
            v.sort_by(f64::total_cmp);
            v
        };
        let mean = r.rps.iter().sum::<f64>() / n.max(1) as f64;
        let sd = if n > 1 {
            (r.rps.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        c["id"] = json!(format!("http/lighttpd/{label}"));
        c["wait"] = json!("lighttpd");
        c["options"]["server"] = json!(format!("{version} (reference: evbench load against it)"));
        c["histograms"] = json!({});
        c["warmup_repeats"] = json!([]);
        c["metrics"] = json!({"requests_per_sec": {
            "across": {"n": n, "median": median(&r.rps), "mean": mean,
                       "min": sorted.first(), "max": sorted.last(), "stddev": sd},
            "better": "higher", "unit": "req/s"}});
        c["repeats"] = r
            .rps
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({"index": i + 1, "start_ns": 0, "elapsed_ns": 0, "interrupted": false,
                       "metrics": {"requests_per_sec": v}})
            })
            .collect();
        out.push(c);
    }
    out
}

/// Runs `evbench ARGS -o FILE` and reads the document.
fn run_doc(evbench: &Path, a: &[String], out: &Path) -> Result<Value> {
    let status = Command::new(evbench)
        .args(a)
        .arg("-o")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("cannot start {}", evbench.display()))?;
    if !status.success() {
        bail!("evbench {} failed ({status})", a.join(" "));
    }
    let text = std::fs::read_to_string(out)?;
    Ok(serde_json::from_str(&text)?)
}

/// One document of several scans of the same option: the first document with every
/// document's cases, the values' union (ascending) and the specs joined.
fn merge(docs: &[Value]) -> Result<Value> {
    let mut out = docs.first().context("no document")?.clone();
    let mut cases = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut specs: Vec<String> = Vec::new();
    let mut warnings: Vec<Value> = Vec::new();
    for d in docs {
        cases.extend(d["cases"].as_array().cloned().unwrap_or_default());
        for v in d["scan"]["values"].as_array().into_iter().flatten() {
            if let Some(v) = v.as_f64() {
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
        let spec = d["scan"]["spec"].as_str().unwrap_or("").to_string();
        if !specs.contains(&spec) {
            specs.push(spec);
        }
        for w in d["warnings"].as_array().into_iter().flatten() {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
    }
    values.sort_by(f64::total_cmp);
    out["cases"] = Value::Array(cases);
    out["scan"]["values"] = json!(values);
    out["scan"]["spec"] = json!(specs.join(" + "));
    out["warnings"] = Value::Array(warnings);
    Ok(out)
}

/// The headline of a workload's cases, how it turns into ns per operation.
fn headline(workload: &str) -> (&'static str, fn(f64) -> f64) {
    match workload {
        "pipetest" => ("us_per_event", |us| us * 1e3),
        "pingpong" => ("ops_per_sec", |r| 1e9 / r),
        _ => ("requests_per_sec", |r| 1e9 / r),
    }
}

/// The probes' added ns per kernel event they handle: the per-op cost over the events
/// per op (syscalls, wakeups and context switches, from the probed passes). A fanout
/// of N wakes N tasks per op, so its per-op cost grows by design; per event it should
/// not.
fn per_event(cost: &[f64], med: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    if cost.is_empty() {
        return None;
    }
    let events: f64 = ["syscalls_per_op", "wakeups_per_op", "switches_per_op"]
        .iter()
        .filter_map(|m| med(m))
        .sum();
    (events > 0.0).then(|| median(cost) / events)
}

/// `min`, `max`, spread over the smallest and the 20% verdict of one line's values
/// (issue 19); a smallest value at or below zero (within noise of no cost) has no
/// ratio to judge.
fn spread(costs: &[f64]) -> Value {
    let lo = costs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = costs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let spread = (costs.len() > 1 && lo > 0.0).then(|| hi / lo - 1.0);
    json!({
        "min": if costs.is_empty() { Value::Null } else { json!(lo) },
        "max": if costs.is_empty() { Value::Null } else { json!(hi) },
        "spread_over_min": spread,
        "within_20pct": spread.map(|s| s <= 0.2),
    })
}

/// Per line: per scanned value the headline's median, the per-op counts' medians, p99
/// of the main histogram, and the probes' added ns per operation (median of the
/// rounds' probed − clean).
fn lines(doc: &Value) -> Vec<Value> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for c in doc["cases"].as_array().into_iter().flatten() {
        let (Some(id), Some(label), Some(x)) = (
            c["id"].as_str(),
            c["scan"]["label"].as_str(),
            c["scan"]["value"].as_f64(),
        ) else {
            continue;
        };
        let line = id
            .strip_suffix(label)
            .and_then(|s| s.strip_suffix('/'))
            .unwrap_or(id)
            .to_string();
        let (h, to_ns) = headline(c["workload"].as_str().unwrap_or(""));
        let med = |m: &str| c["metrics"][m]["across"]["median"].as_f64();
        let cost: Vec<f64> = c["repeats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["interrupted"] != true)
            .filter_map(|r| {
                let clean = r["metrics"][h].as_f64()?;
                let probed = r["probed"]["metrics"][h].as_f64()?;
                Some(to_ns(probed) - to_ns(clean))
            })
            .collect();
        let p99 = c["histograms"]
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| !k.starts_with("kernel.")))
            .and_then(|(_, v)| v["p99"].as_u64());
        let point = json!({
            "x": x,
            "repeats": c["metrics"][h]["across"]["n"],
            "headline_metric": h,
            "headline_median": med(h),
            "syscalls_per_op": med("syscalls_per_op"),
            "wakeups_per_op": med("wakeups_per_op"),
            "switches_per_op": med("switches_per_op"),
            "p99_ns": p99,
            "probe_cost_ns_per_op": (!cost.is_empty()).then(|| median(&cost)),
            "probe_cost_ns_per_event": per_event(&cost, med),
        });
        match out.iter_mut().find(|(l, _)| *l == line) {
            Some((_, pts)) => pts.push(point),
            None => out.push((line, vec![point])),
        }
    }
    out.into_iter()
        .map(|(id, mut pts)| {
            pts.sort_by(|a, b| {
                a["x"]
                    .as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&b["x"].as_f64().unwrap_or(0.0))
            });
            let of = |k: &str| -> Vec<f64> { pts.iter().filter_map(|p| p[k].as_f64()).collect() };
            json!({
                "line": id,
                "points": pts,
                "probe_cost_ns_per_op": spread(&of("probe_cost_ns_per_op")),
                "probe_cost_ns_per_event": spread(&of("probe_cost_ns_per_event")),
            })
        })
        .collect()
}

/// The scan section of `evbench report DOC --markdown`.
fn scan_markdown(evbench: &Path, doc: &Path) -> Result<String> {
    let out = Command::new(evbench)
        .arg("report")
        .arg(doc)
        .arg("--markdown")
        .output()?;
    if !out.status.success() {
        bail!(
            "evbench report {} failed: {}",
            doc.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text
        .find("<!-- evbench:scan -->")
        .context("no scan section in the report")?;
    let end = text[begin..]
        .find("<!-- /evbench:scan -->")
        .map_or(text.len(), |e| begin + e);
    Ok(text[begin..end]
        .trim_start_matches("<!-- evbench:scan -->")
        .trim()
        .to_string())
}

pub fn run(root: &Path, evbench: &Path, a: &ScalingBench) -> Result<()> {
    let repeat = a.repeat.unwrap_or(if a.quick { 2 } else { 5 });
    let work = root.join("target/scaling");
    let svg = root.join("results/scaling");
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&svg)?;
    let began = Instant::now();
    let command = format!(
        "cargo xtask bench scaling{}{}",
        if a.quick { " --quick" } else { "" },
        a.repeat.map_or(String::new(), |r| format!(" --repeat {r}"))
    );
    let mut md = format!(
        "# Scaling curves (issue 19)\n\n`{command}`: each curve is `evbench run --scan` (clean passes for the \
         headline, probed passes for the kernel's figures, interleaved, {repeat} judged repeats a point \
         after one warm-up), merged per curve and rendered by `evbench report --markdown` and `--svg`. \
         Fits: linear y = a + b·x and log-log y ∝ x^k with 95% intervals (Student's t, one point per \
         repeat); their R² are of y and of ln y and are not comparable. The machine is a shared 2-CPU \
         VM and noisy: read the slopes with their intervals.\n\n"
    );
    let mut json_curves = Vec::new();
    for c in curves(a.quick, repeat) {
        let mut docs = Vec::new();
        let mut cmds = Vec::new();
        for (i, r) in c.runs.iter().enumerate() {
            let out = work.join(format!("{}-{i}.json", c.stem));
            cmds.push(format!("evbench {} -o {}", r.join(" "), out.display()));
            eprintln!("bench scaling: {} ({}/{})", c.stem, i + 1, c.runs.len());
            docs.push(if a.render_only {
                serde_json::from_str(
                    &std::fs::read_to_string(&out)
                        .with_context(|| format!("--render-only: cannot read {}", out.display()))?,
                )?
            } else {
                run_doc(evbench, r, &out)?
            });
        }
        let mut merged = merge(&docs)?;
        let mut reference = None;
        if c.stem == "http-connections" {
            let values: Vec<f64> = merged["scan"]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            let dur = http_duration(a.quick);
            let saved = work.join("lighttpd/reference.json");
            let (refs, version) = if a.render_only {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&saved)?)?;
                let nums = |p: &Value| -> Vec<f64> {
                    p.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_f64)
                        .collect()
                };
                let refs = v["points"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| Reference {
                        x: p["x"].as_f64().unwrap_or(0.0),
                        rps: nums(&p["rps"]),
                        p99: nums(&p["p99_ns"]),
                        errors: p["errors"].as_u64().unwrap_or(0),
                    })
                    .collect();
                (refs, v["version"].as_str().unwrap_or("").to_string())
            } else {
                let (refs, version) =
                    lighttpd_reference(root, evbench, &values, repeat, dur, HTTP_WARMUP)?;
                let v = json!({"version": version, "points": refs.iter().map(|r| json!({
                    "x": r.x, "rps": r.rps, "p99_ns": r.p99, "errors": r.errors})).collect::<Vec<_>>()});
                std::fs::write(&saved, serde_json::to_string_pretty(&v)?)?;
                (refs, version)
            };
            let extra = reference_cases(&merged, &refs, &version);
            if let Some(cases) = merged["cases"].as_array_mut() {
                cases.extend(extra);
            }
            cmds.push(format!(
                "lighttpd -D -f target/scaling/lighttpd/lighttpd.conf   # {version}, \
                 server.max-fds = {SERVER_FDS}, server.max-connections = {}, epoll\n\
                 evbench load --server 127.0.0.1:{LIGHTTPD_PORT} --path /index.html -c N -d {dur} \
                 --warmup-time {HTTP_WARMUP} --json   # N each scanned value, {repeat} rounds, a fresh \
                 lighttpd per run",
                SERVER_FDS / 2
            ));
            reference = Some((refs, version));
        }
        let path = work.join(format!("{}.json", c.stem));
        std::fs::write(&path, serde_json::to_string_pretty(&merged)? + "\n")?;
        let plots = work.join(format!("{}-svg", c.stem));
        let _ = std::fs::remove_dir_all(&plots);
        let status = Command::new(evbench)
            .arg("report")
            .arg(&path)
            .arg("--svg")
            .arg(&plots)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("evbench report --svg failed for {}", c.stem);
        }
        // Only the curves: the per-case bars and histograms stay in target/scaling.
        for f in std::fs::read_dir(&plots)?.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.contains("-scan-") {
                std::fs::copy(f.path(), svg.join(&name))?;
            }
        }
        let section = scan_markdown(evbench, &path)?;
        let ls = lines(&merged);
        md.push_str(&format!("## {}\n\n", c.title));
        md.push_str("Commands:\n\n```\n");
        for cmd in &cmds {
            md.push_str(cmd);
            md.push('\n');
        }
        md.push_str(
            "```\n\nThe probes' own cost across the scan (target: within 20% of its smallest \
             value): (probed − clean) ns per operation, the median of the rounds' differences, \
             and the same over the kernel events per operation the probes handle (syscalls + \
             wakeups + switches), which is what should stay flat where an operation's events \
             grow with the scanned value (a fanout wakes every waiter):\n\n\
             | line | ns/op per point | smallest ÷ largest | within 20% | ns/event per point | within 20% |\n\
             |---|---|---|---|---|---|\n",
        );
        for l in &ls {
            let p = &l["probe_cost_ns_per_op"];
            if p["min"].is_null() {
                continue;
            }
            let pts = |k: &str| {
                l["points"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p[k].as_f64().map_or("—".into(), |x| format!("{x:.0}")))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let verdict = |v: &Value| match v["within_20pct"].as_bool() {
                Some(true) => "yes".to_string(),
                Some(false) => format!(
                    "no ({:.0}%)",
                    v["spread_over_min"].as_f64().unwrap_or(0.0) * 100.0
                ),
                None => "— (smallest ≤ 0: within noise of no cost)".to_string(),
            };
            let f = |v: &Value| v.as_f64().map_or("—".into(), |x| format!("{x:.0}"));
            md.push_str(&format!(
                "| {} | {} | {} ÷ {} | {} | {} | {} |\n",
                l["line"].as_str().unwrap_or(""),
                pts("probe_cost_ns_per_op"),
                f(&p["min"]),
                f(&p["max"]),
                verdict(p),
                pts("probe_cost_ns_per_event"),
                verdict(&l["probe_cost_ns_per_event"]),
            ));
        }
        if let Some((refs, version)) = &reference {
            md.push_str(&format!(
                "\nReference line `http/lighttpd` ({version}, one process, epoll, the same \
                 128-byte body and client settings; fd limit {SERVER_FDS} as evbench's): its req/s \
                 is drawn and fitted with the wait modes below; its p99 is only here (`evbench \
                 load` gives a summary, not a histogram).\n\n\
                 | connections | req/s (median) | rounds (req/s) | p99 (median) | errors |\n|--:|--:|---|--:|--:|\n"
            ));
            for r in refs {
                md.push_str(&format!(
                    "| {} | {:.0} | {} | {} | {} |\n",
                    r.x,
                    median(&r.rps),
                    r.rps
                        .iter()
                        .map(|v| format!("{v:.0}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if r.p99.is_empty() {
                        "—".to_string()
                    } else {
                        format!("{:.2} ms", median(&r.p99) / 1e6)
                    },
                    r.errors
                ));
            }
        }
        md.push_str(&format!("\n{section}\n\n"));
        json_curves.push(json!({
            "curve": c.stem,
            "title": c.title,
            "commands": cmds,
            "scan": merged["scan"],
            "probes": merged["probes"],
            "warnings": merged["warnings"],
            "lines": ls,
        }));
    }
    // A re-render keeps the measured run's time.
    let elapsed = if a.render_only {
        std::fs::read_to_string(root.join("results/scaling.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["elapsed_s"].as_f64())
            .unwrap_or(0.0)
    } else {
        began.elapsed().as_secs_f64()
    };
    md.push_str(&format!(
        "Whole bench: {:.1} minutes. Plots: results/scaling/*.svg.\n",
        elapsed / 60.0
    ));
    let out = json!({
        "command": command,
        "quick": a.quick,
        "repeat": repeat,
        "elapsed_s": elapsed,
        "curves": json_curves,
    });
    // The hand-written reading of the curves (why each bends) survives a re-render.
    let md_path = root.join("results/scaling.md");
    if let Ok(old) = std::fs::read_to_string(&md_path) {
        if let Some(i) = old.find(READING) {
            md.push('\n');
            md.push_str(&old[i..]);
        }
    }
    std::fs::write(&md_path, md)?;
    std::fs::write(
        root.join("results/scaling.json"),
        serde_json::to_string_pretty(&out)? + "\n",
    )?;
    eprintln!(
        "bench scaling: {:.1} min → results/scaling.md, results/scaling.json, results/scaling/",
        elapsed / 60.0
    );
    Ok(())
}
