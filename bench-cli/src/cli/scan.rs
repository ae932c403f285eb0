//! `evbench run WORKLOAD --scan NAME=VALUES` (issue 19): one numeric option of the
//! workload measured at several values, each value a case of its own.
//!
//! VALUES is a list (`channels=200,800,3200`) or a range `START..END[:STEPS][log]`:
//! STEPS values (default 5) from START to END, both included, evenly spaced, or evenly
//! spaced in log space with `log` (`channels=200..9000:8log`). Options that take whole
//! numbers get the range's values rounded, repeats dropped. A duration option
//! (`think`) takes durations as `--think` does (`0..20us:5`, a bare number is seconds)
//! and records nanoseconds. Every value goes through the option's own parser, so a
//! value the option refuses is refused with the option's own words, before anything
//! runs.
use std::{str::FromStr, time::Duration};

use workloads::pingpong::Topology;

use super::{
    parse_channels, parse_duration, parse_rate, whole, WorkloadCmd, MAX_BODY, MAX_DURATION,
};
use crate::results::{Scan, ScanPoint};

/// How a scannable option's values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (`-n 800`).
    Whole,
    /// A positive number of requests per second (`--rate 2500.5`).
    Rate,
    /// A duration (`--think 2us`), recorded in nanoseconds.
    Duration,
}

/// One option `--scan` can vary.
#[derive(Clone, Copy, Debug)]
pub struct Scannable {
    /// The workload it belongs to (`evbench run WORKLOAD`).
    pub workload: &'static str,
    /// The option's long name, as `--scan` takes it.
    pub name: &'static str,
    pub kind: Kind,
    /// The unit its values are recorded in.
    pub unit: &'static str,
    /// One line for `evbench list`.
    pub about: &'static str,
}

/// Every scannable option, per workload.
pub const SCANNABLE: &[Scannable] = &[
    Scannable {
        workload: "pipetest",
        name: "channels",
        kind: Kind::Whole,
        unit: "channels",
        about: "-n: channels in the wait set (poll/select cost grows with it, epoll's should not)",
    },
    Scannable {
        workload: "pipetest",
        name: "active",
        kind: Kind::Whole,
        unit: "channels",
        about: "-a: channels fired first (messages in flight)",
    },
    Scannable {
        workload: "pipetest",
        name: "think",
        kind: Kind::Duration,
        unit: "ns",
        about: "--think: busy work per message read (durations: 0..20us:5)",
    },
    Scannable {
        workload: "pingpong",
        name: "fanout",
        kind: Kind::Whole,
        unit: "waiters",
        about: "--topology fanout:N: waiters on one shared fd (the thundering herd)",
    },
    Scannable {
        workload: "pingpong",
        name: "ring",
        kind: Kind::Whole,
        unit: "tasks",
        about: "--topology ring:N: tasks the token goes around",
    },
    Scannable {
        workload: "pingpong",
        name: "think",
        kind: Kind::Duration,
        unit: "ns",
        about: "--think: busy work per message handled (durations: 0..20us:5)",
    },
    Scannable {
        workload: "http",
        name: "connections",
        kind: Kind::Whole,
        unit: "connections",
        about: "-c: concurrent client connections",
    },
    Scannable {
        workload: "http",
        name: "rate",
        kind: Kind::Rate,
        unit: "req/s",
        about: "--rate: offered open-loop rate (the achieved one is the headline)",
    },
    Scannable {
        workload: "http",
        name: "body-size",
        kind: Kind::Whole,
        unit: "bytes",
        about: "--body-size: response body size",
    },
    Scannable {
        workload: "http",
        name: "workers",
        kind: Kind::Whole,
        unit: "loops",
        about: "--workers: server event loops",
    },
];

/// Values of a range when STEPS is not given.
pub const DEFAULT_STEPS: usize = 5;
/// The most values one scan takes (each is a case, measured --repeat times).
pub const MAX_STEPS: usize = 1000;

/// The scannable options of `workload`.
pub fn scannable(workload: &str) -> impl Iterator<Item = &'static Scannable> + '_ {
    SCANNABLE.iter().filter(move |s| s.workload == workload)
}

/// `--scan` as typed, checked for its shape only: which values it stands for depends
/// on the workload's option (see [`ScanArg::expand`]). Boxed: it sits in every
/// `evbench run`'s options, which stay small.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanArg(Box<Parsed>);

#[derive(Clone, Debug, PartialEq)]
struct Parsed {
    name: String,
    values: Values,
    /// As typed.
    spec: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Values {
    List(Vec<String>),
    Range {
        start: String,
        end: String,
        steps: usize,
        log: bool,
    },
}

impl FromStr for ScanArg {
    type Err = String;

    /// `NAME=V1,V2,…` or `NAME=START..END[:STEPS][log]`. Errors: one phrase naming
    /// what is malformed.
    fn from_str(s: &str) -> Result<Self, String> {
        let shape =
            "give NAME=V1,V2,... or NAME=START..END[:STEPS][log], e.g. channels=200..9000:8log";
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}': no '=' ({shape})"))?;
        let name = name.trim();
        let rest = rest.trim();
        if name.is_empty() || rest.is_empty() {
            return Err(format!("'{s}': {shape}"));
        }
        let values = if let Some((start, tail)) = rest.split_once("..") {
            let (tail, log) = match tail.strip_suffix("log") {
                Some(t) => (t.strip_suffix(':').unwrap_or(t), true),
                None => (tail, false),
            };
            let (end, steps) = match tail.split_once(':') {
                Some((end, n)) => {
                    let steps = whole::<usize>(2, MAX_STEPS as u64)(n)
                        .map_err(|e| format!("'{s}': STEPS {e}"))?;
                    (end, steps)
                }
                None => (tail, DEFAULT_STEPS),
            };
            if start.trim().is_empty() || end.trim().is_empty() {
                return Err(format!("'{s}': {shape}"));
            }
            Values::Range {
                start: start.trim().into(),
                end: end.trim().into(),
                steps,
                log,
            }
        } else {
            let items: Vec<String> = rest.split(',').map(|v| v.trim().to_string()).collect();
            if items.iter().any(String::is_empty) {
                return Err(format!("'{s}': an empty value ({shape})"));
            }
            if items.len() > MAX_STEPS {
                return Err(format!("'{s}': at most {MAX_STEPS} values"));
            }
            Values::List(items)
        };
        Ok(Self(Box::new(Parsed {
            name: name.to_string(),
            values,
            spec: s.to_string(),
        })))
    }
}

/// One value of a scan as the option takes it, and how the case id shows it.
fn render(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Whole => format!("{v:.0}"),
        Kind::Rate => format!("{v}"),
        Kind::Duration => {
            let ns = v as u64;
            match ns {
                0 => "0s".into(),
                n if n.is_multiple_of(1_000_000_000) => format!("{}s", n / 1_000_000_000),
                n if n.is_multiple_of(1_000_000) => format!("{}ms", n / 1_000_000),
                n if n.is_multiple_of(1_000) => format!("{}us", n / 1_000),
                n => format!("{n}ns"),
            }
        }
    }
}

/// One typed value as a number in the option's unit (ns for durations). Errors: the
/// option's own parser's words.
fn number(kind: Kind, s: &str) -> Result<f64, String> {
    match kind {
        // Any size is read here; the option's own bounds are checked per value later.
        Kind::Whole => whole::<u64>(0, u64::MAX)(s).map(|v| v as f64),
        Kind::Rate => parse_rate(s),
        Kind::Duration => parse_duration(s).map(|d| d.as_nanos() as f64),
    }
}

impl ScanArg {
    /// The option's name as typed (before `=`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// `--scan` as typed.
    pub fn spec(&self) -> &str {
        &self.0.spec
    }

    /// The option this scan varies in `workload`. Errors: one line naming the
    /// workload's scannable options.
    pub fn option(&self, workload: &str) -> Result<&'static Scannable, String> {
        scannable(workload)
            .find(|s| s.name == self.0.name)
            .ok_or_else(|| {
                let names: Vec<&str> = scannable(workload).map(|s| s.name).collect();
                format!(
                    "--scan {}: {workload} has no scannable option {} (it scans the numeric options {}; `evbench list` shows them)",
                    self.0.spec,
                    self.0.name,
                    names.join(", ")
                )
            })
    }

    /// The values, in order, as numbers in the option's unit: a list as given, a range
    /// expanded (rounded for whole-number and duration options, repeats dropped).
    /// Errors: a value that is not a number the option takes, a repeated list value, a
    /// range whose START is not below END, or a log range from 0 or below.
    pub fn values(&self, opt: &Scannable) -> Result<Vec<f64>, String> {
        let bad = |e: String| format!("--scan {}: {e}", self.0.spec);
        let vals: Vec<f64> = match &self.0.values {
            Values::List(items) => {
                let mut out: Vec<f64> = Vec::new();
                for i in items {
                    let v = number(opt.kind, i).map_err(bad)?;
                    if out.contains(&v) {
                        return Err(bad(format!("the value {i} is given twice")));
                    }
                    out.push(v);
                }
                out
            }
            Values::Range {
                start,
                end,
                steps,
                log,
            } => {
                let (a, b) = (
                    number(opt.kind, start).map_err(bad)?,
                    number(opt.kind, end).map_err(bad)?,
                );
                if a >= b {
                    return Err(bad(format!("START ({start}) must be below END ({end})")));
                }
                if *log && a <= 0.0 {
                    return Err(bad(format!("log steps need a START above 0 (got {start})")));
                }
                let last = (*steps - 1) as f64;
                let mut out: Vec<f64> = Vec::new();
                for i in 0..*steps {
                    let f = i as f64 / last;
                    let v = if *log {
                        a * (b / a).powf(f)
                    } else {
                        a + (b - a) * f
                    };
                    // Both ends exactly as typed; the values between rounded to whole
                    // units (a rate of 100 req/s or more too, so ids stay short).
                    let v = if i == 0 {
                        a
                    } else if i == *steps - 1 {
                        b
                    } else if opt.kind != Kind::Rate || v >= 100.0 {
                        v.round()
                    } else {
                        v
                    };
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                out
            }
        };
        Ok(vals)
    }

    /// One workload command per value, each with the option set to the value and the
    /// case's point of the scan, and the scan's record for the results document.
    /// Errors (one line each): no scannable option of that name, a value the option
    /// refuses, or a --topology the scan contradicts.
    pub fn expand(
        &self,
        cmd: &WorkloadCmd,
    ) -> Result<(Scan, Vec<(WorkloadCmd, ScanPoint)>), String> {
        let opt = self.option(cmd.name())?;
        let values = self.values(opt)?;
        let mut out = Vec::with_capacity(values.len());
        for &v in &values {
            let text = render(opt.kind, v);
            let c = apply(cmd, opt, v, &text)
                .map_err(|e| format!("--scan {}: {}={text}: {e}", self.0.spec, opt.name))?;
            out.push((
                c,
                ScanPoint {
                    name: opt.name.to_string(),
                    value: v,
                    label: format!("{}={text}", opt.name),
                },
            ));
        }
        Ok((
            Scan {
                name: opt.name.to_string(),
                unit: opt.unit.to_string(),
                values,
                spec: self.0.spec.clone(),
            },
            out,
        ))
    }
}

/// `cmd` with option `opt` set to `v` (`text` as typed), through the option's own
/// parser.
fn apply(cmd: &WorkloadCmd, opt: &Scannable, v: f64, text: &str) -> Result<WorkloadCmd, String> {
    let mut c = cmd.clone();
    match (&mut c, opt.name) {
        (WorkloadCmd::Pipetest(a), "channels") => a.channels = parse_channels(text)?,
        (WorkloadCmd::Pipetest(a), "active") => {
            a.active = whole::<usize>(1, 1_000_000)(text)?;
        }
        (WorkloadCmd::Pipetest(a), "think") => a.think = duration_ns(v)?,
        (WorkloadCmd::Pingpong(a), "think") => a.think = duration_ns(v)?,
        (WorkloadCmd::Pingpong(a), name @ ("fanout" | "ring")) => {
            let n = whole::<u32>(1, u64::from(u32::MAX))(text)?;
            let t = if name == "fanout" {
                Topology::Fanout(n)
            } else {
                Topology::Ring(n)
            };
            // The scan sets the topology; only another kind given with --topology
            // contradicts it.
            let same_kind = matches!(
                (a.topology, t),
                (Topology::Pair, _)
                    | (Topology::Fanout(_), Topology::Fanout(_))
                    | (Topology::Ring(_), Topology::Ring(_))
            );
            if !same_kind {
                return Err(format!(
                    "--topology {} contradicts a {name} scan (leave --topology out)",
                    a.topology
                ));
            }
            a.topology = t;
        }
        (WorkloadCmd::Http(a), "connections") => {
            a.client.connections = whole::<u32>(1, 100_000)(text)?;
        }
        (WorkloadCmd::Http(a), "rate") => a.client.rate = Some(parse_rate(text)?),
        (WorkloadCmd::Http(a), "body-size") => a.body_size = whole::<usize>(0, MAX_BODY)(text)?,
        (WorkloadCmd::Http(a), "workers") => a.workers = whole::<u32>(1, 256)(text)?,
        (_, name) => return Err(format!("{name} cannot be scanned here")),
    }
    Ok(c)
}

/// A scanned duration in nanoseconds, within what every duration flag takes.
fn duration_ns(v: f64) -> Result<Duration, String> {
    let d = Duration::from_nanos(v as u64);
    if d > MAX_DURATION {
        return Err("too long a duration: at most 30 days".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(name: &str) -> &'static Scannable {
        SCANNABLE.iter().find(|s| s.name == name).unwrap()
    }

    #[test]
    fn ranges_expand_to_their_steps() {
        let s: ScanArg = "channels=200..9000:8log".parse().unwrap();
        let v = s.values(opt("channels")).unwrap();
        // 200·45^(i/7), rounded: both ends exact.
        let want: Vec<f64> = (0..8)
            .map(|i| (200.0 * 45f64.powf(i as f64 / 7.0)).round())
            .collect();
        assert_eq!(v, want);
        assert_eq!((v[0], v[7]), (200.0, 9000.0));
        let s: ScanArg = "channels=10..50".parse().unwrap();
        assert_eq!(
            s.values(opt("channels")).unwrap(),
            vec![10.0, 20.0, 30.0, 40.0, 50.0]
        );
        // Rounding makes repeats in a narrow log range; they are dropped.
        let s: ScanArg = "fanout=1..4:8log".parse().unwrap();
        assert_eq!(s.values(opt("fanout")).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        let s: ScanArg = "think=0..20us:3".parse().unwrap();
        assert_eq!(
            s.values(opt("think")).unwrap(),
            vec![0.0, 10_000.0, 20_000.0]
        );
        assert_eq!(render(Kind::Duration, 10_000.0), "10us");
        assert_eq!(render(Kind::Duration, 1_500.0), "1500ns");
    }

    #[test]
    fn malformed_scans_say_why() {
        for (s, want) in [
            ("channels", "no '='"),
            ("channels=", "give NAME="),
            ("channels=1,,2", "an empty value"),
            ("channels=10..20:1", "STEPS"),
        ] {
            let e = s.parse::<ScanArg>().unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
        let c = opt("channels");
        for (s, want) in [
            ("channels=abc", "'abc' is not a whole number"),
            ("channels=5,5", "given twice"),
            ("channels=50..10", "must be below END"),
            ("channels=0..10:3log", "START above 0"),
        ] {
            let e = s.parse::<ScanArg>().unwrap().values(c).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }
}
