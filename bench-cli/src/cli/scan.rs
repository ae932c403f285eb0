//! `evbench run WORKLOAD --scan NAME=VALUES` (issue 19): one numeric option of the
//! workload measured at several values, each value a case of its own.
//!
//! VALUES is a list (`channels=200,800,3200`) or a range `START..END[:STEPS][log]`:
//! STEPS values (default 5) from START to END, both included, evenly spaced, or evenly
//! spaced in log space with `log` (`channels=200..9000:8log`). Options that take whole
//! numbers get the range's values rounded, a rate 4 significant digits, before they
//! become the case's value and its id label; repeats are dropped, with a warning naming
//! how many values remain. A list of one value is refused (one value is the option
//! itself, not a scan), and so is a scan of an option also given. A duration option
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
    /// The option as typed on the command line (`-n`, `--topology`), for messages.
    pub flag: &'static str,
    /// clap's id of that option (its field name): a scan refuses to run when it was
    /// given too ([`super::RunArgs::given`]).
    pub id: &'static str,
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
        flag: "-n",
        id: "channels",
        kind: Kind::Whole,
        unit: "channels",
        about: "-n: channels in the wait set (poll/select cost grows with it, epoll's should not)",
    },
    Scannable {
        workload: "pipetest",
        name: "active",
        flag: "-a",
        id: "active",
        kind: Kind::Whole,
        unit: "channels",
        about: "-a: channels fired first (messages in flight)",
    },
    Scannable {
        workload: "pipetest",
        name: "think",
        flag: "--think",
        id: "think",
        kind: Kind::Duration,
        unit: "ns",
        about: "--think: busy work per message read (durations: 0..20us:5)",
    },
    Scannable {
        workload: "pingpong",
        name: "fanout",
        flag: "--topology",
        id: "topology",
        kind: Kind::Whole,
        unit: "waiters",
        about: "--topology fanout:N: waiters on one shared fd (the thundering herd)",
    },
    Scannable {
        workload: "pingpong",
        name: "ring",
        flag: "--topology",
        id: "topology",
        kind: Kind::Whole,
        unit: "tasks",
        about: "--topology ring:N: tasks the token goes around",
    },
    Scannable {
        workload: "pingpong",
        name: "think",
        flag: "--think",
        id: "think",
        kind: Kind::Duration,
        unit: "ns",
        about: "--think: busy work per message handled (durations: 0..20us:5)",
    },
    Scannable {
        workload: "http",
        name: "connections",
        flag: "-c",
        id: "connections",
        kind: Kind::Whole,
        unit: "connections",
        about: "-c: concurrent client connections",
    },
    Scannable {
        workload: "http",
        name: "rate",
        flag: "--rate",
        id: "rate",
        kind: Kind::Rate,
        unit: "req/s",
        about: "--rate: offered open-loop rate (the achieved one is the headline)",
    },
    Scannable {
        workload: "http",
        name: "body-size",
        flag: "--body-size",
        id: "body_size",
        kind: Kind::Whole,
        unit: "bytes",
        about: "--body-size: response body size",
    },
    Scannable {
        workload: "http",
        name: "workers",
        flag: "--workers",
        id: "workers",
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

/// A generated rate rounded before it becomes both the case's value and its id label
/// (`rate=1.333`, never `rate=1.3333333333333333`): 4 significant digits, whole req/s
/// from 1,000 up (4 significant digits would be coarser there). Through its decimal
/// text, so the value is exactly the number the label shows.
fn round_rate(v: f64) -> f64 {
    if v >= 1000.0 || v <= 0.0 || !v.is_finite() {
        return v.round();
    }
    let decimals = (3 - v.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}").parse().unwrap_or(v)
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
    /// expanded (rounded for whole-number and duration options, rates to 4 significant
    /// digits, repeats dropped). Errors: a value that is not a number the option takes,
    /// a repeated list value, a list of one value (a scan needs two: one value is the
    /// option itself), a range whose START is not below END, or a log range from 0 or
    /// below.
    pub fn values(&self, opt: &Scannable) -> Result<Vec<f64>, String> {
        self.values_noted(opt).map(|(v, _)| v)
    }

    /// [`ScanArg::values`], and one line when rounding left a range fewer distinct
    /// values than the STEPS asked for (the scan goes on with those it has).
    pub fn values_noted(&self, opt: &Scannable) -> Result<(Vec<f64>, Option<String>), String> {
        let bad = |e: String| format!("--scan {}: {e}", self.0.spec);
        let mut note = None;
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
                if let [one] = items.as_slice() {
                    return Err(bad(format!(
                        "a scan needs at least 2 values (got only {one}); to measure one value give the option itself ({})",
                        as_option(opt, one)
                    )));
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
                    // Both ends exactly as typed; the values between rounded (whole
                    // units; a rate to 4 significant digits), so that the case's value
                    // and its id label are one number.
                    let v = if i == 0 {
                        a
                    } else if i == *steps - 1 {
                        b
                    } else if opt.kind == Kind::Rate {
                        round_rate(v)
                    } else {
                        v.round()
                    };
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                if out.len() < *steps {
                    note = Some(format!(
                        "--scan {}: rounding leaves only {} distinct values of the {steps} STEPS asked for ({} to {}), so the scan has {} cases",
                        self.0.spec,
                        out.len(),
                        render(opt.kind, a),
                        render(opt.kind, b),
                        out.len()
                    ));
                }
                out
            }
        };
        Ok((vals, note))
    }

    /// One workload command per value, each with the option set to the value and the
    /// case's point of the scan, the scan's record for the results document, and a
    /// warning line when a range's rounding left fewer values than its STEPS.
    /// `given`: the workload options typed on the command line (clap ids,
    /// [`super::RunArgs::given`]). Errors (one line each): no scannable option of that
    /// name, the scanned option given too (its value would be dropped), a value the
    /// option refuses.
    pub fn expand(&self, cmd: &WorkloadCmd, given: &[String]) -> Result<Expanded, String> {
        let opt = self.option(cmd.name())?;
        if given.iter().any(|g| g == opt.id) {
            return Err(format!(
                "--scan {}: {} {} is given too, but the scan sets {} for every case (the value given would be dropped); leave {} out",
                self.0.spec,
                opt.flag,
                given_value(cmd, opt),
                opt.flag,
                opt.flag
            ));
        }
        let (values, note) = self.values_noted(opt)?;
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
        Ok(Expanded {
            scan: Scan {
                name: opt.name.to_string(),
                unit: opt.unit.to_string(),
                values,
                spec: self.0.spec.clone(),
            },
            cases: out,
            note,
        })
    }
}

/// What a scan expands to ([`ScanArg::expand`]).
#[derive(Debug)]
pub struct Expanded {
    /// The scan's record for the results document.
    pub scan: Scan,
    /// Per value, the workload command with the option set to it, and its point.
    pub cases: Vec<(WorkloadCmd, ScanPoint)>,
    /// One warning line when a range's rounding left fewer values than its STEPS.
    pub note: Option<String>,
}

/// How `value` is given as the option itself (`-n 800`, `--topology fanout:8`).
fn as_option(opt: &Scannable, value: &str) -> String {
    match opt.name {
        "fanout" | "ring" => format!("{} {}:{value}", opt.flag, opt.name),
        _ => format!("{} {value}", opt.flag),
    }
}

/// The value `cmd` holds for `opt`, as it would be typed.
fn given_value(cmd: &WorkloadCmd, opt: &Scannable) -> String {
    let ns = |d: Duration| render(Kind::Duration, d.as_nanos() as f64);
    match (cmd, opt.name) {
        (WorkloadCmd::Pipetest(a), "channels") => a.channels.to_string(),
        (WorkloadCmd::Pipetest(a), "active") => a.active.to_string(),
        (WorkloadCmd::Pipetest(a), "think") => ns(a.think),
        (WorkloadCmd::Pingpong(a), "think") => ns(a.think),
        (WorkloadCmd::Pingpong(a), _) => a.topology.to_string(),
        (WorkloadCmd::Http(a), "connections") => a.client.connections.to_string(),
        (WorkloadCmd::Http(a), "rate") => a.client.rate.map_or_else(String::new, |r| r.to_string()),
        (WorkloadCmd::Http(a), "body-size") => a.body_size.to_string(),
        (WorkloadCmd::Http(a), "workers") => a.workers.to_string(),
        _ => String::new(),
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

    /// A generated rate is rounded (4 significant digits) before it becomes the case's
    /// value and its id label, so both are the one number the option is set to.
    #[test]
    fn generated_rates_are_rounded_before_they_become_value_and_label() {
        let s: ScanArg = "rate=1..2:4".parse().unwrap();
        let cmd = WorkloadCmd::Http(super::super::HttpArgs::suite());
        let e = s.expand(&cmd, &[]).unwrap();
        assert_eq!(e.scan.values, vec![1.0, 1.333, 1.667, 2.0]);
        assert_eq!(e.note, None);
        let got: Vec<(String, f64, Option<f64>)> = e
            .cases
            .iter()
            .map(|(c, p)| {
                let WorkloadCmd::Http(h) = c else {
                    unreachable!()
                };
                (p.label.clone(), p.value, h.client.rate)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("rate=1".to_string(), 1.0, Some(1.0)),
                ("rate=1.333".to_string(), 1.333, Some(1.333)),
                ("rate=1.667".to_string(), 1.667, Some(1.667)),
                ("rate=2".to_string(), 2.0, Some(2.0)),
            ]
        );
        // 4 significant digits at every scale; whole req/s from 1,000 up.
        assert_eq!(round_rate(0.012345678), 0.01235);
        assert_eq!(round_rate(123.456), 123.5);
        assert_eq!(round_rate(12345.6), 12346.0);
        let s: ScanArg = "rate=0.5..50000:5log".parse().unwrap();
        assert_eq!(
            s.values(opt("rate")).unwrap(),
            vec![0.5, 8.891, 158.1, 2812.0, 50000.0]
        );
    }

    /// A range that rounding leaves fewer values than its STEPS says so in one line; a
    /// range that keeps them all says nothing.
    #[test]
    fn a_range_reduced_by_rounding_says_how_many_values_remain() {
        let s: ScanArg = "channels=200..210:50".parse().unwrap();
        let (v, note) = s.values_noted(opt("channels")).unwrap();
        assert_eq!(v, (200..=210).map(f64::from).collect::<Vec<_>>());
        assert_eq!(
            note.as_deref(),
            Some("--scan channels=200..210:50: rounding leaves only 11 distinct values of the 50 STEPS asked for (200 to 210), so the scan has 11 cases")
        );
        let s: ScanArg = "channels=200..9000:8log".parse().unwrap();
        assert_eq!(s.values_noted(opt("channels")).unwrap().1, None);
    }

    /// One value is not a scan: refused, naming the option that measures it.
    #[test]
    fn a_scan_of_one_value_is_refused_naming_the_option() {
        for (spec, want) in [
            ("channels=800", "--scan channels=800: a scan needs at least 2 values (got only 800); to measure one value give the option itself (-n 800)"),
            ("fanout=8", "--scan fanout=8: a scan needs at least 2 values (got only 8); to measure one value give the option itself (--topology fanout:8)"),
            ("think=2us", "--scan think=2us: a scan needs at least 2 values (got only 2us); to measure one value give the option itself (--think 2us)"),
        ] {
            let s: ScanArg = spec.parse().unwrap();
            let name = spec.split('=').next().unwrap();
            assert_eq!(s.values(opt(name)).unwrap_err(), want);
        }
    }

    /// The scanned option given as well would be dropped: refused, naming both.
    #[test]
    fn a_scanned_option_given_too_is_refused_naming_both() {
        let pp = super::super::PingpongArgs {
            topology: Topology::Fanout(4),
            ..Default::default()
        };
        let s: ScanArg = "fanout=1,2".parse().unwrap();
        assert_eq!(
            s.expand(&WorkloadCmd::Pingpong(pp.clone()), &["topology".into()])
                .unwrap_err(),
            "--scan fanout=1,2: --topology fanout:4 is given too, but the scan sets --topology for every case (the value given would be dropped); leave --topology out"
        );
        // Another option given is kept, and the scan sets its own.
        let e = s
            .expand(&WorkloadCmd::Pingpong(pp), &["think".into()])
            .unwrap();
        assert_eq!(e.cases.len(), 2);
    }

    /// `given` holds exactly the workload options typed, never a default.
    #[test]
    fn given_records_the_typed_workload_options_only() {
        let given = |argv: &[&str]| -> Vec<String> {
            match super::super::parse_from(argv).unwrap().command {
                super::super::Command::Run(r) => {
                    let mut g = r.given;
                    g.sort();
                    g
                }
                _ => unreachable!(),
            }
        };
        assert_eq!(
            given(&[
                "evbench",
                "run",
                "pipetest",
                "-n",
                "200",
                "--think=1us",
                "--probes",
                "none"
            ]),
            ["channels", "think"]
        );
        assert_eq!(
            given(&["evbench", "run", "pipetest", "--scan", "channels=2,4"]),
            Vec::<String>::new()
        );
        assert_eq!(
            given(&["evbench", "run", "http", "-c", "9", "--body-size", "1"]),
            ["body_size", "connections"]
        );
        assert_eq!(given(&["evbench", "run"]), Vec::<String>::new());
    }
}
