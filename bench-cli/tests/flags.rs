//! Every numeric and duration flag validated (issue 17, item 7), generated from clap's
//! own definitions: every argument of every subcommand whose parser returns a number
//! or a duration is tried with zero, a negative number, huge numbers and a word. Each
//! value is either refused — one line on stderr naming the flag, exit status 2, never
//! "unexpected argument" for a negative number — or accepted with a meaning the flag's
//! help documents (a row of `ACCEPTED`). A flag a later change adds is covered by the
//! walk, so it is validated or this test fails.
//!
//! Nothing is measured: a value is first parsed in this process, and only a refused one
//! is given to the real binary (which then exits before running anything).
use std::{any::TypeId, process::Command, time::Duration};

use clap::{Arg, ArgAction, CommandFactory, Parser};
use evbench::cli::{Cli, Threshold};

/// Values every numeric flag is tried with.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "-5s",
    "18446744073709551615",
    "99999999999999999999999",
    "1e300",
    "abc",
    "",
];

/// (subcommand path, long name, value, phrase of the flag's help that documents it).
const ACCEPTED: &[(&str, &str, &str, &str)] = &[
    ("run", "warmup-repeats", "0", "0 for none"),
    ("run", "seed", "0", "Seed"),
    ("run", "seed", "18446744073709551615", "Seed"),
    ("run pingpong", "warmup-rounds", "0", "0 for none"),
    ("run http", "body-size", "0", "0: an empty body"),
    ("run http", "server-cpu", "0", "this CPU"),
    ("run http", "client-cpu", "0", "this CPU"),
    ("run http", "warmup-time", "0", "0 for none"),
    ("load", "warmup-time", "0", "0 for none"),
    ("serve", "body-size", "0", "0: an empty body"),
    ("serve", "server-cpu", "0", "this CPU"),
    ("run pingpong", "think", "0", "0 for none"),
    ("run pipetest", "think", "0", "0 for none"),
];

/// Whether an argument takes a number or a duration.
fn numeric(a: &Arg) -> bool {
    if matches!(
        a.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
    ) {
        return false;
    }
    let t = a.get_value_parser().type_id();
    [
        TypeId::of::<u64>(),
        TypeId::of::<u32>(),
        TypeId::of::<usize>(),
        TypeId::of::<f64>(),
        TypeId::of::<Duration>(),
        TypeId::of::<Threshold>(),
        TypeId::of::<evbench::cli::Repeats>(),
        TypeId::of::<evbench::cli::Precision>(),
    ]
    .iter()
    .any(|id| t == *id)
}

/// (subcommand path, long name, help text) of every numeric argument.
fn numeric_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, String)>) {
    for a in cmd.get_arguments() {
        if numeric(a) {
            let long = a.get_long().expect("every option has a long name");
            let help = a
                .get_long_help()
                .or(a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            out.push((path.to_string(), long.to_string(), help));
        }
    }
    for sc in cmd.get_subcommands() {
        let p = if path.is_empty() {
            sc.get_name().to_string()
        } else {
            format!("{path} {}", sc.get_name())
        };
        numeric_args(sc, &p, out);
    }
}

/// The argv a subcommand needs besides the flag under test (its required positionals).
fn base(path: &str) -> Vec<String> {
    let mut v: Vec<String> = path.split(' ').map(str::to_string).collect();
    match path {
        "report" => v.push("result.json".into()),
        "compare" => v.extend(["base.json".into(), "cur.json".into()]),
        _ => {}
    }
    v
}

#[test]
fn every_numeric_flag_refuses_nonsense_in_one_line_or_documents_its_meaning() {
    let mut args = Vec::new();
    numeric_args(&Cli::command(), "", &mut args);
    // The walk found the flags this test is about (a guard against a silent walk).
    for (p, l) in [
        ("run pipetest", "writes"),
        ("serve", "duration"),
        ("run http", "rate"),
        ("run http", "workers"),
        ("compare", "threshold"),
        ("load", "timeout"),
    ] {
        assert!(
            args.iter().any(|(ap, al, _)| ap == p && al == l),
            "{p} --{l}"
        );
    }
    let mut failures = Vec::new();
    for (path, long, help) in &args {
        for &value in VALUES {
            let mut argv = vec!["evbench".to_string()];
            argv.extend(base(path));
            argv.push(format!("--{long}"));
            argv.push(value.to_string());
            let parsed = Cli::try_parse_from(&argv);
            let accepted = ACCEPTED
                .iter()
                .find(|(p, l, v, _)| p == path && l == long && *v == value);
            match (parsed, accepted) {
                (Ok(_), Some((_, _, _, phrase))) => {
                    if !help.contains(phrase) {
                        failures.push(format!(
                            "{path} --{long} {value}: accepted, but its help does not document it ({phrase:?} not in {help:?})"
                        ));
                    }
                }
                (Ok(_), None) => failures.push(format!(
                    "{path} --{long} {value:?}: accepted with no documented meaning"
                )),
                (Err(e), Some(_)) => failures.push(format!(
                    "{path} --{long} {value}: refused ({e}) but listed as accepted"
                )),
                (Err(_), None) => {
                    let out = Command::new(env!("CARGO_BIN_EXE_evbench"))
                        .args(&argv[1..])
                        .output()
                        .unwrap();
                    let err = String::from_utf8_lossy(&out.stderr);
                    let problems = [
                        (out.status.code() != Some(2), "exit status is not 2"),
                        (err.lines().count() != 1, "not one line"),
                        (!err.starts_with("evbench: error: "), "not an evbench error"),
                        (
                            !err.contains(&format!("--{long}")),
                            "does not name the flag",
                        ),
                        (
                            err.contains("unexpected argument"),
                            "takes the value for a flag",
                        ),
                        (
                            err.contains("panicked") || err.contains("overflow"),
                            "panics",
                        ),
                        (!out.stdout.is_empty(), "printed on stdout"),
                    ];
                    for (bad, why) in problems {
                        if bad {
                            failures.push(format!(
                                "{path} --{long} {value:?}: {why}: {:?} (exit {:?})",
                                err,
                                out.status.code()
                            ));
                        }
                    }
                    if value.starts_with('-') && !value.is_empty() && !err.contains("must be") {
                        failures.push(format!(
                            "{path} --{long} {value}: a negative value should say what it must be: {err:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn refusal(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}");
    err
}

#[test]
fn the_issue_s_cases_are_refused_with_the_reason() {
    // pipetest -w 0 measured 1 event; short flags take negative numbers as values too.
    let e = refusal(&["run", "pipetest", "-w", "0"]);
    assert!(
        e.contains("'0': must be a positive whole number") && e.contains("--writes"),
        "{e}"
    );
    let e = refusal(&["run", "pipetest", "-w", "-1"]);
    assert!(e.contains("'-1': must be a positive whole number"), "{e}");
    let e = refusal(&["serve", "--duration", "0"]);
    assert!(e.contains("must be more than zero"), "{e}");
    let e = refusal(&["run", "http", "-d", "0"]);
    assert!(e.contains("must be more than zero"), "{e}");
    let e = refusal(&["run", "http", "--rate", "0"]);
    assert!(
        e.contains("must be a positive number of requests per second"),
        "{e}"
    );
    let e = refusal(&["load", "--rate", "0"]);
    assert!(
        e.contains("must be a positive number of requests per second"),
        "{e}"
    );
    let e = refusal(&["run", "http", "--workers", "0"]);
    assert!(e.contains("'0': must be a positive whole number"), "{e}");
    let e = refusal(&["run", "pingpong", "--rounds", "-1"]);
    assert!(e.contains("'-1': must be a positive whole number"), "{e}");
    let e = refusal(&["run", "pingpong", "--duration", "99999999999s"]);
    assert!(e.contains("at most 30 days"), "{e}");
    let e = refusal(&["run", "pipetest", "-n", "18446744073709551615"]);
    assert!(e.contains("too large: at most 1000000"), "{e}");
    let e = refusal(&["run", "http", "--server-cpu", "4096"]);
    assert!(e.contains("CPU 4096 does not exist here"), "{e}");
}

#[test]
fn a_missing_required_argument_is_named() {
    let e = refusal(&["report"]);
    assert!(e.contains("missing required argument: <FILE>"), "{e}");
    let e = refusal(&["compare", "base.json"]);
    assert!(e.contains("missing required argument: <CURRENT>"), "{e}");
    let e = refusal(&["compare"]);
    assert!(
        e.contains("missing required arguments: <BASELINE>, <CURRENT>"),
        "{e}"
    );
}
