//! One flag vocabulary across every subcommand (issue 11), pinned from clap's own
//! definitions: every argument of every subcommand, with its short and long names and
//! the kind of value its parser returns, must be a row of `VOCABULARY`. A flag a later
//! change adds or renames is either added here (and so reviewed against the rules
//! below) or this test fails, printing the rows to paste.
//!
//! The rules, also in README's "Flags" table:
//! - a short flag means one thing (one long name) in every subcommand; pipetest keeps the
//!   originals' `-n -a -w -q`;
//! - every option has a long name; wait mode is `-W/--wait` everywhere;
//! - every time-valued option takes a duration with a unit (`500us`, `2s`, `1m`; a bare
//!   number is seconds), and counts carry their unit in the long name (`--warmup-rounds`,
//!   `--warmup-time`).
use std::{any::TypeId, collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Arg, ArgAction, Command, CommandFactory};
use evbench::{cli::Cli, probes::ProbeSets};
use workloads::{
    http::HttpWait,
    pingpong::{Pin, Tasks, Topology},
    Mechanism, WaitMode,
};

/// (subcommand path, long name, short name, value kind).
const VOCABULARY: &[(&str, &str, Option<char>, &str)] = &[
    ("compare", "baseline", None, "path"),
    ("compare", "current", None, "path"),
    ("compare", "fail-on", None, "verdict"),
    ("compare", "files", None, "path"),
    ("compare", "json", None, "flag"),
    ("compare", "svg", None, "path"),
    ("compare", "html", None, "path"),
    ("compare", "percentiles", None, "flag"),
    ("compare", "markdown", None, "path"),
    ("compare", "strict", None, "flag"),
    ("compare", "threshold", None, "fraction"),
    ("completions", "shell", None, "shell"),
    ("doctor", "json", None, "flag"),
    ("list", "json", None, "flag"),
    ("load", "connections", Some('c'), "count"),
    ("load", "duration", Some('d'), "duration"),
    ("load", "json", None, "flag"),
    ("load", "no-keepalive", None, "flag"),
    ("load", "path", None, "text"),
    ("load", "rate", None, "number"),
    ("load", "server", Some('s'), "text"),
    ("load", "threads", None, "count"),
    ("load", "timeout", None, "duration"),
    ("load", "warmup-time", None, "duration"),
    ("report", "file", None, "path"),
    ("report", "hlog", None, "path"),
    ("report", "csv-repeats", None, "flag"),
    ("report", "csv", None, "path"),
    ("report", "html", None, "path"),
    ("report", "markdown", None, "flag"),
    ("report", "svg", None, "path"),
    ("run", "hlog", None, "path"),
    ("run", "csv-repeats", None, "flag"),
    ("run", "csv", None, "path"),
    ("run", "json", None, "flag"),
    ("run", "kfunc", None, "text"),
    ("run", "output", Some('o'), "path"),
    ("run", "probes", None, "probe sets"),
    ("run", "quiet", Some('q'), "flag"),
    ("run", "order", None, "order"),
    ("run", "repeat", None, "repeats"),
    ("run", "precision", None, "fraction"),
    ("run", "max-time", None, "duration"),
    ("run", "seed", None, "count"),
    ("run", "scan", None, "scan"),
    ("run", "user", None, "text"),
    ("run", "syscall-sample", None, "count"),
    ("run", "verbose", Some('v'), "flag"),
    ("run", "warmup-repeats", None, "count"),
    ("run http", "body-size", None, "count"),
    ("run http", "client-cpu", None, "count"),
    ("run http", "connections", Some('c'), "count"),
    ("run http", "duration", Some('d'), "duration"),
    ("run http", "hlog", None, "path"),
    ("run http", "csv-repeats", None, "flag"),
    ("run http", "csv", None, "path"),
    ("run http", "json", None, "flag"),
    ("run http", "kfunc", None, "text"),
    ("run http", "no-keepalive", None, "flag"),
    ("run http", "output", Some('o'), "path"),
    ("run http", "path", None, "text"),
    ("run http", "probes", None, "probe sets"),
    ("run http", "quiet", Some('q'), "flag"),
    ("run http", "rate", None, "number"),
    ("run http", "order", None, "order"),
    ("run http", "repeat", None, "repeats"),
    ("run http", "precision", None, "fraction"),
    ("run http", "max-time", None, "duration"),
    ("run http", "seed", None, "count"),
    ("run http", "scan", None, "scan"),
    ("run http", "user", None, "text"),
    ("run http", "syscall-sample", None, "count"),
    ("run http", "verbose", Some('v'), "flag"),
    ("run http", "warmup-repeats", None, "count"),
    ("run http", "server-cpu", None, "count"),
    ("run http", "threads", None, "count"),
    ("run http", "timeout", None, "duration"),
    ("run http", "wait", Some('W'), "text"),
    ("run http", "warmup-time", None, "duration"),
    ("run http", "workers", None, "count"),
    ("run http", "keep-alive-idle", None, "duration"),
    ("run http", "head-timeout", None, "duration"),
    ("run http", "write-idle", None, "duration"),
    ("run http", "linger-timeout", None, "duration"),
    ("run pingpong", "duration", Some('d'), "duration"),
    ("run pingpong", "exclusive", None, "flag"),
    ("run pingpong", "hlog", None, "path"),
    ("run pingpong", "csv-repeats", None, "flag"),
    ("run pingpong", "csv", None, "path"),
    ("run pingpong", "json", None, "flag"),
    ("run pingpong", "kfunc", None, "text"),
    ("run pingpong", "mechanism", Some('m'), "mechanism"),
    ("run pingpong", "output", Some('o'), "path"),
    ("run pingpong", "pin", None, "pin"),
    ("run pingpong", "probes", None, "probe sets"),
    ("run pingpong", "quiet", Some('q'), "flag"),
    ("run pingpong", "order", None, "order"),
    ("run pingpong", "repeat", None, "repeats"),
    ("run pingpong", "precision", None, "fraction"),
    ("run pingpong", "max-time", None, "duration"),
    ("run pingpong", "seed", None, "count"),
    ("run pingpong", "scan", None, "scan"),
    ("run pingpong", "user", None, "text"),
    ("run pingpong", "syscall-sample", None, "count"),
    ("run pingpong", "verbose", Some('v'), "flag"),
    ("run pingpong", "warmup-repeats", None, "count"),
    ("run pingpong", "rounds", Some('r'), "count"),
    ("run pingpong", "tasks", None, "tasks"),
    ("run pingpong", "think", None, "duration"),
    ("run pingpong", "topology", None, "topology"),
    ("run pingpong", "wait", Some('W'), "wait mode"),
    ("run pingpong", "warmup-rounds", None, "count"),
    ("run pipetest", "active", Some('a'), "count"),
    ("run pipetest", "channels", Some('n'), "count"),
    ("run pipetest", "hlog", None, "path"),
    ("run pipetest", "csv-repeats", None, "flag"),
    ("run pipetest", "csv", None, "path"),
    ("run pipetest", "json", None, "flag"),
    ("run pipetest", "kfunc", None, "text"),
    ("run pipetest", "mechanism", Some('m'), "mechanism"),
    ("run pipetest", "output", Some('o'), "path"),
    ("run pipetest", "probes", None, "probe sets"),
    ("run pipetest", "quiet", Some('q'), "flag"),
    ("run pipetest", "order", None, "order"),
    ("run pipetest", "repeat", None, "repeats"),
    ("run pipetest", "precision", None, "fraction"),
    ("run pipetest", "max-time", None, "duration"),
    ("run pipetest", "seed", None, "count"),
    ("run pipetest", "scan", None, "scan"),
    ("run pipetest", "user", None, "text"),
    ("run pipetest", "syscall-sample", None, "count"),
    ("run pipetest", "verbose", Some('v'), "flag"),
    ("run pipetest", "warmup-repeats", None, "count"),
    ("run pipetest", "think", None, "duration"),
    ("run pipetest", "wait", Some('W'), "wait mode"),
    ("run pipetest", "writes", Some('w'), "count"),
    ("serve", "addr", None, "address"),
    ("serve", "body-file", None, "path"),
    ("serve", "body-size", None, "count"),
    ("serve", "control", None, "flag"),
    ("serve", "duration", Some('d'), "duration"),
    ("serve", "json", None, "flag"),
    ("serve", "max-header-bytes", None, "count"),
    ("serve", "path", None, "text"),
    ("serve", "server-cpu", None, "count"),
    ("serve", "wait", Some('W'), "http wait mode"),
    ("serve", "workers", None, "count"),
    ("serve", "keep-alive-idle", None, "duration"),
    ("serve", "head-timeout", None, "duration"),
    ("serve", "write-idle", None, "duration"),
    ("serve", "linger-timeout", None, "duration"),
    ("trace", "cgroup", None, "path"),
    ("trace", "comm", None, "text"),
    ("trace", "prometheus", None, "address"),
    ("trace", "user", None, "text"),
    ("trace", "command", None, "text"),
    ("trace", "duration", Some('d'), "duration"),
    ("trace", "interval", None, "duration"),
    ("trace", "interval-json", None, "path"),
    ("trace", "json", None, "flag"),
    ("trace", "kfunc", None, "text"),
    ("trace", "name", None, "text"),
    ("trace", "output", Some('o'), "path"),
    ("trace", "pid", None, "count"),
    ("trace", "probes", None, "probe sets"),
    ("trace", "quiet", Some('q'), "flag"),
];

/// The kind of value an argument's parser returns, by type.
fn kind(a: &Arg) -> String {
    if matches!(
        a.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
    ) {
        return "flag".into();
    }
    let t = a.get_value_parser().type_id();
    let known: &[(TypeId, &str)] = &[
        (TypeId::of::<Duration>(), "duration"),
        (TypeId::of::<u64>(), "count"),
        (TypeId::of::<u32>(), "count"),
        (TypeId::of::<usize>(), "count"),
        (TypeId::of::<f64>(), "number"),
        (TypeId::of::<PathBuf>(), "path"),
        (TypeId::of::<String>(), "text"),
        (TypeId::of::<SocketAddr>(), "address"),
        (TypeId::of::<Mechanism>(), "mechanism"),
        (TypeId::of::<WaitMode>(), "wait mode"),
        (TypeId::of::<HttpWait>(), "http wait mode"),
        (TypeId::of::<Pin>(), "pin"),
        (TypeId::of::<Tasks>(), "tasks"),
        (TypeId::of::<Topology>(), "topology"),
        (TypeId::of::<ProbeSets>(), "probe sets"),
        (TypeId::of::<clap_complete::Shell>(), "shell"),
        (TypeId::of::<evbench::cli::Threshold>(), "fraction"),
        (TypeId::of::<evbench::cli::FailOn>(), "verdict"),
        (TypeId::of::<evbench::engine::Order>(), "order"),
        (TypeId::of::<evbench::cli::Repeats>(), "repeats"),
        (TypeId::of::<evbench::cli::Precision>(), "fraction"),
        (TypeId::of::<evbench::cli::ScanArg>(), "scan"),
    ];
    known
        .iter()
        .find(|(id, _)| t == *id)
        .map_or_else(|| "UNKNOWN TYPE (add it to kind())".into(), |k| k.1.into())
}

type Row = (String, String, Option<char>, String);

fn walk(cmd: &Command, path: &str, out: &mut Vec<Row>) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let long = a.get_long().map_or_else(|| id.to_string(), str::to_string);
        out.push((path.to_string(), long, a.get_short(), kind(a)));
    }
    for sc in cmd.get_subcommands() {
        if sc.get_name() == "help" {
            continue;
        }
        let p = if path.is_empty() {
            sc.get_name().to_string()
        } else {
            format!("{path} {}", sc.get_name())
        };
        walk(sc, &p, out);
    }
}

fn actual() -> Vec<Row> {
    let mut cmd = Cli::command();
    cmd.build(); // propagates the global options into each workload
    let mut rows = Vec::new();
    walk(&cmd, "", &mut rows);
    rows.sort();
    rows
}

#[test]
fn every_argument_of_every_subcommand_is_in_the_vocabulary_table() {
    let rows = actual();
    let mut want: Vec<Row> = VOCABULARY
        .iter()
        .map(|&(p, l, s, k)| (p.to_string(), l.to_string(), s, k.to_string()))
        .collect();
    want.sort();
    if rows != want {
        let paste: Vec<String> = rows
            .iter()
            .map(|(p, l, s, k)| format!("    ({p:?}, {l:?}, {s:?}, {k:?}),"))
            .collect();
        let missing: Vec<&Row> = rows.iter().filter(|r| !want.contains(r)).collect();
        let gone: Vec<&Row> = want.iter().filter(|r| !rows.contains(r)).collect();
        panic!(
            "the command line differs from the vocabulary table.\nnew or changed: {missing:#?}\nno longer there: {gone:#?}\nthe table as the code has it now:\n{}",
            paste.join("\n")
        );
    }
}

#[test]
fn a_short_flag_means_one_thing_everywhere() {
    let mut meaning: BTreeMap<char, (String, String)> = BTreeMap::new();
    for (path, long, short, _) in actual() {
        if let Some(s) = short {
            let e = meaning.entry(s).or_insert((long.clone(), path.clone()));
            assert_eq!(
                e.0, long,
                "-{s} is --{} in `{}` but --{long} in `{path}`",
                e.0, e.1
            );
        }
    }
    // The originals' pipetest flags stay what they were in pipetest-4.
    for (s, l) in [
        ('n', "channels"),
        ('a', "active"),
        ('w', "writes"),
        ('q', "quiet"),
        ('W', "wait"),
    ] {
        assert_eq!(meaning.get(&s).map(|m| m.0.as_str()), Some(l), "-{s}");
    }
}

#[test]
fn time_valued_options_take_durations_and_counts_name_their_unit() {
    for (path, long, _, kind) in actual() {
        let timeish = ["duration", "timeout", "time", "interval", "think", "idle"]
            .iter()
            .any(|w| long.split('-').any(|part| part == *w));
        // `trace --interval-json FILE` (issue 14's name) is the file the intervals go
        // to, not a time: the one exception.
        if timeish && long != "interval-json" {
            assert_eq!(
                kind, "duration",
                "`{path}` --{long} is time-valued but parses as {kind}"
            );
        }
        if long.starts_with("warmup") {
            assert!(
                ["warmup-rounds", "warmup-time", "warmup-repeats"].contains(&long.as_str()),
                "`{path}` --{long}: a warm-up names its unit"
            );
        }
        assert!(
            !long.contains('_'),
            "`{path}` --{long}: long names use dashes"
        );
    }
}

/// Every duration flag reads a unit, and a bare number as seconds, when typed on the
/// command line of its own subcommand.
#[test]
fn every_duration_flag_reads_units_and_bare_seconds() {
    let mut cmd = Cli::command();
    cmd.build();
    for (path, long, _, kind) in actual() {
        if kind != "duration" {
            continue;
        }
        let words: Vec<&str> = path.split(' ').collect();
        let sub = words
            .iter()
            .fold(&cmd, |c, name| c.find_subcommand(name).expect("subcommand"));
        let id = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .expect("argument")
            .get_id()
            .to_string();
        let parse = |text: &str| {
            let mut argv = vec!["evbench".to_string()];
            argv.extend(words.iter().map(|w| w.to_string()));
            argv.push(format!("--{long}={text}"));
            let m = Cli::command().try_get_matches_from(argv)?;
            let leaf = words.iter().fold(&m, |m, name| {
                m.subcommand_matches(name).expect("subcommand matches")
            });
            Ok::<_, clap::Error>(leaf.get_one::<Duration>(&id).copied())
        };
        for (text, want) in [
            ("2", Duration::from_secs(2)),
            ("2s", Duration::from_secs(2)),
            ("1.5", Duration::from_millis(1500)),
            // (1500us, not 500us: the timeouts take at least 1ms.)
            ("1500us", Duration::from_micros(1500)),
            ("1m", Duration::from_secs(60)),
        ] {
            let got = parse(text).unwrap_or_else(|e| panic!("`{path}` --{long}={text}: {e}"));
            assert_eq!(got, Some(want), "`{path}` --{long}={text}");
        }
        for bad in ["-1", "1 fortnight", "", "nan", "inf"] {
            assert!(
                parse(bad).is_err(),
                "`{path}` --{long}={bad:?} must be refused"
            );
        }
    }
}
