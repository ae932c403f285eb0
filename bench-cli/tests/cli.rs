//! The `evbench` binary as a user meets it: bad input, help, list, completions, doctor,
//! and a run without privileges.
use std::process::{Command, Output};

fn evbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .expect("evbench starts")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "pingpong", "--rounds", "0"], "--rounds"),
        (
            &["run", "pingpong", "--mechanism", "carrier-pigeon"],
            "carrier-pigeon",
        ),
        (&["run", "pingpong", "--pin", "sideways"], "sideways"),
        (&["run", "pingpong", "--probes", "offcpu,bogus"], "bogus"),
        (&["run", "nosuchworkload"], "nosuchworkload"),
        (&["frobnicate"], "frobnicate"),
        (&["completions", "tcsh"], "tcsh"),
        // A keyword inside a probe list (issue 18 review).
        (
            &["run", "--probes", "all,nop"],
            "'all' stands alone and cannot be part of a list ('all,nop')",
        ),
        // Sub-millisecond timeouts, every timeout flag (issue 16 review).
        (
            &["load", "--timeout", "1ns"],
            "'1ns' is too short a timeout: at least 1ms",
        ),
        (
            &["serve", "--head-timeout", "1ns"],
            "'1ns' is too short a timeout: at least 1ms",
        ),
        (
            &["serve", "--keep-alive-idle", "999us"],
            "'999us' is too short a timeout: at least 1ms",
        ),
        (
            &["run", "http", "--write-idle", "0.0001"],
            "'0.0001' is too short a timeout: at least 1ms",
        ),
        (&["run", "http", "--linger-timeout", "10ns"], "at least 1ms"),
        // Values the completion scripts no longer offer are refused by the parser.
        (
            &["serve", "--wait", "block"],
            "unknown HTTP wait mode 'block'",
        ),
        (
            &["run", "http", "--wait", "epoll,block"],
            "unknown HTTP wait mode 'block'",
        ),
        (&["run", "pipetest", "--wait", "block"], "needs a waiter"),
    ];
    for (args, needle) in cases {
        let out = evbench(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{args:?} must fail in one line, got:\n{err}"
        );
        assert!(err.starts_with("evbench: error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?} should name {needle}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' completions fish | head -c 10 >/dev/null",
            env!("CARGO_BIN_EXE_evbench")
        ))
        .output()
        .unwrap();
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn help_teaches_by_example() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["run", "pingpong", "--help"],
        &["doctor", "--help"],
    ] {
        let out = evbench(args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(
            help.contains("Examples:") && help.contains("evbench "),
            "{args:?} has no examples:\n{help}"
        );
    }
}

#[test]
fn list_names_every_word_of_the_vocabulary() {
    let out = evbench(&["list", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("workloads").contains(&"pingpong".to_string()));
    assert_eq!(names("mechanisms").len(), workloads::Mechanism::ALL.len());
    assert_eq!(names("wait_modes").len(), workloads::WaitMode::ALL.len());
    assert!(names("probe_sets").contains(&"offcpu".to_string()));
    let human = text(&evbench(&["list"]).stdout);
    for m in workloads::Mechanism::ALL {
        assert!(human.contains(m.as_str()));
    }
}

#[test]
fn completions_cover_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = evbench(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        // fish spells long options `-l probes`.
        for word in ["run", "doctor", "list", "pingpong", "probes"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
}

/// Issue 18 item 4: the value-taking flags complete to the vocabulary, not file names.
#[test]
fn completions_offer_the_vocabulary() {
    for shell in ["bash", "zsh", "fish"] {
        let script = text(&evbench(&["completions", shell]).stdout);
        for m in workloads::Mechanism::ALL {
            assert!(
                script.contains(m.as_str()),
                "{shell}: no mechanism {}",
                m.as_str()
            );
        }
        for w in workloads::WaitMode::ALL {
            assert!(
                script.contains(w.as_str()),
                "{shell}: no wait mode {}",
                w.as_str()
            );
        }
        for p in evbench::probes::ProbeSet::ALL {
            assert!(
                script.contains(p.as_str()),
                "{shell}: no probe set {}",
                p.as_str()
            );
        }
        for word in ["pipetest", "http", "split", "processes"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    // bash offers the mechanisms as one word list after -m/--mechanism.
    let bash = text(&evbench(&["completions", "bash"]).stdout);
    let names: Vec<&str> = workloads::Mechanism::ALL
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert!(
        bash.contains(&format!("compgen -W \"{}\"", names.join(" "))),
        "bash does not offer the mechanisms as a word list"
    );
}

/// Issue 18 review: each flag's completions are its own parser's vocabulary — the HTTP
/// wait modes offer tokio and never block; pipetest's offer no block and no futex; every
/// offered value of every flag of every subcommand parses with that flag's parser.
#[test]
fn completions_come_from_the_parsers() {
    use clap::CommandFactory;
    fn offered(cmd: &clap::Command, path: &[&str], arg: &str) -> Vec<String> {
        let mut c = cmd.clone();
        for p in path {
            c = c.find_subcommand(p).unwrap().clone();
        }
        let a = c.get_arguments().find(|a| a.get_id() == arg).unwrap();
        a.get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect()
    }
    let mut cli = evbench::cli::Cli::command();
    cli.build();
    let http: Vec<String> = workloads::http::HttpWait::all()
        .iter()
        .map(|w| w.name().to_string())
        .collect();
    assert_eq!(
        http,
        [
            "epoll",
            "epoll-et",
            "poll",
            "select",
            "kevent",
            "kevent-ring",
            "tokio"
        ]
    );
    assert_eq!(offered(&cli, &["serve"], "wait"), http);
    let mut with_all = http.clone();
    with_all.push("all".into());
    assert_eq!(offered(&cli, &["run", "http"], "wait"), with_all);
    assert_eq!(
        offered(&cli, &["run", "pipetest"], "wait"),
        [
            "epoll",
            "epoll-et",
            "poll",
            "select",
            "kevent",
            "kevent-ring"
        ]
    );
    assert_eq!(
        offered(&cli, &["run", "pingpong"], "wait"),
        [
            "block",
            "epoll",
            "epoll-et",
            "poll",
            "select",
            "kevent",
            "kevent-ring"
        ]
    );
    assert!(!offered(&cli, &["run", "pipetest"], "mechanism").contains(&"futex".to_string()));
    assert!(offered(&cli, &["run", "pingpong"], "mechanism").contains(&"futex".to_string()));
    // The kind: every offered value of every argument parses with its own parser
    // (each on a command line of its own subcommand: `--flag VALUE`, or the value alone
    // for a positional).
    fn walk(cmd: &clap::Command) {
        for a in cmd
            .get_arguments()
            .filter(|a| a.get_action().takes_values())
        {
            for v in a.get_possible_values() {
                let mut argv = vec![cmd.get_name().to_string()];
                if let Some(long) = a.get_long() {
                    argv.push(format!("--{long}"));
                }
                argv.push(v.get_name().to_string());
                let parsed = cmd.clone().try_get_matches_from(&argv);
                assert!(
                    parsed.is_ok(),
                    "{argv:?}: offered, but its parser refuses it: {}",
                    parsed.unwrap_err()
                );
            }
        }
        for sc in cmd.get_subcommands() {
            walk(sc);
        }
    }
    walk(&cli);
    // The scripts themselves: bash lists serve's wait modes as one word list.
    let bash = text(&evbench(&["completions", "bash"]).stdout);
    assert!(
        bash.contains(&format!("compgen -W \"{}\"", http.join(" "))),
        "bash does not offer the HTTP wait modes"
    );
    for line in bash
        .lines()
        .filter(|l| l.contains("compgen -W \"") && l.contains("tokio"))
    {
        assert!(
            !line.contains(" block "),
            "block offered with tokio: {line}"
        );
    }
}

/// `evbench list`: every description starts in one column, whatever the name's length.
#[test]
fn list_columns_are_aligned() {
    let human = text(&evbench(&["list"]).stdout);
    let cols: Vec<usize> = human
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            let name_end = 2 + l[2..].find(' ').unwrap();
            name_end + l[name_end..].find(|c: char| c != ' ').unwrap()
        })
        .collect();
    assert_eq!(
        cols.len(),
        3 + workloads::Mechanism::ALL.len()
            + workloads::WaitMode::ALL.len()
            + evbench::probes::ProbeSet::ALL.len()
            + evbench::cli::scan::SCANNABLE.len()
    );
    let width = "efd-mask-socketpair".len() + 4;
    assert!(cols.iter().all(|&c| c == width), "{human}");
}

/// CI runs as root on a kernel with BTF: every core check must pass for real, each
/// with a verdict; the optional ones may warn but must carry the errno of the attempt.
#[test]
fn doctor_passes_the_core_checks_here() {
    let out = evbench(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    for c in checks {
        if c["core"].as_bool().unwrap() {
            assert_eq!(c["verdict"], "ok", "core check failed: {c}");
        } else if c["verdict"] != "ok" {
            assert!(
                c["errno"].as_i64().is_some() && c["hint"].is_string(),
                "{c}"
            );
        }
    }
    for name in [
        "privileges",
        "btf",
        "bpf-load",
        "tp_btf:sched_switch",
        "fentry",
        "kprobes",
        "rlimit-nofile",
    ] {
        assert!(checks.iter().any(|c| c["name"] == name), "no {name} check");
    }
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(v["ok"], true);
}

/// Without privileges the probes cannot load: one sentence says so, and the workload
/// still runs with userspace timing only, marked so in the output.
#[test]
fn unprivileged_run_falls_back_to_userspace_timing() {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_evbench"))
        .args(["run", "pingpong", "--rounds", "2000", "--json"])
        .output()
        .expect("setpriv (util-linux) runs");
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "one sentence, got:\n{err}");
    assert!(
        err.contains("probes off") && err.contains("CAP_BPF"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rep = &v["cases"][0]["repeats"][0];
    assert_eq!(rep["counters"]["rounds"], 2000);
    assert_eq!(rep["histograms"]["round_trip_ns"]["count"], 2000);
    assert_eq!(v["probes"]["on"], false);
    assert!(v["probes"]["reason"].as_str().unwrap().contains("CAP_BPF"));
    assert!(rep["details"].get("kernel").is_none());
    assert!(rep["counters"].get("kernel.voluntary").is_none());

    let doctor = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_evbench"))
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor.stdout));
}

#[test]
fn json_goes_to_stdout_and_to_the_file_asked_for() {
    let dir = std::env::temp_dir().join(format!("evbench-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("r.json");
    let out = evbench(&[
        "run",
        "pingpong",
        "--rounds",
        "500",
        "--json",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a["schema"], "evbench.run");
    assert_eq!(a["cases"][0]["repeats"][0]["counters"]["rounds"], 500);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 18 item 4: value flags without a fixed vocabulary (`--topology`, `--scan`,
/// `--repeat`, `-d`, `--rate`) complete to nothing in bash, not to file names; path
/// flags keep file completion.
#[test]
fn free_text_flags_offer_no_file_names() {
    let bash = text(&evbench(&["completions", "bash"]).stdout);
    // The `case` arm of `flag` inside the function of subcommand path `sub`.
    let arm = |sub: &str, flag: &str| -> String {
        let start = bash
            .find(&format!("        {sub})"))
            .unwrap_or_else(|| panic!("no section {sub}"));
        let section = &bash[start..];
        let section = &section[..section[1..]
            .find("\n        evbench__")
            .map_or(section.len(), |i| i + 1)];
        let at = section
            .find(&format!("                {flag})"))
            .unwrap_or_else(|| panic!("no {flag} in {sub}"));
        let body = &section[at..];
        body[..body.find(";;").unwrap()].to_string()
    };
    for (sub, flag) in [
        ("evbench__subcmd__run__subcmd__pingpong", "--topology"),
        ("evbench__subcmd__run__subcmd__pingpong", "--scan"),
        ("evbench__subcmd__run__subcmd__pingpong", "--repeat"),
        ("evbench__subcmd__run__subcmd__pingpong", "-d"),
        ("evbench__subcmd__load", "--rate"),
    ] {
        let a = arm(sub, flag);
        assert!(!a.contains("compgen -f"), "{sub} {flag}: {a}");
        assert!(a.contains("COMPREPLY=(\"${cur}\")"), "{sub} {flag}: {a}");
    }
    assert!(arm("evbench__subcmd__run__subcmd__pingpong", "--csv").contains("compgen -f"));
}
