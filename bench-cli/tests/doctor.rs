//! `evbench doctor`'s diagnoses (issue 17, item 6), as root and as an unprivileged
//! user (uid 65534 through setpriv, no groups, no capabilities): one line per cause,
//! the real cause, its fix, and the capabilities present and missing.
use std::{os::unix::fs::MetadataExt, process::Command};

fn doctor(unprivileged: bool, json: bool) -> (Option<i32>, String) {
    let exe = env!("CARGO_BIN_EXE_evbench");
    let mut cmd = if unprivileged {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            exe,
        ]);
        c
    } else {
        Command::new(exe)
    };
    cmd.arg("doctor");
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("setpriv (util-linux) and evbench run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn checks(text: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["checks"].as_array().unwrap().clone()
}

fn names_are_unique(checks: &[serde_json::Value]) {
    let mut names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "a check listed twice: {checks:?}");
}

fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.get(6..)
                .is_some_and(|r| r.starts_with(&format!("{name} ")))
        })
        .unwrap_or_else(|| panic!("no {name} line in:\n{text}"))
}

#[test]
fn unprivileged_doctor_gives_one_line_per_real_cause() {
    let (code, text) = doctor(true, false);
    assert_eq!(code, Some(1), "{text}");
    // One cause, one FAIL line: the privileges, naming what is missing and the fix.
    let fails: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].contains("privileges")
            && fails[0].contains("(uid 65534) lacks CAP_BPF and CAP_PERFMON")
            && fails[0].contains(
                "fix: run as root, or grant the capabilities: setcap cap_bpf,cap_perfmon+ep"
            ),
        "{}",
        fails[0]
    );
    // The program checks are not tried, in one line, rather than failing per map.
    let skip = line(&text, "programs");
    assert!(
        skip.starts_with("skip") && skip.contains("tp_btf:sched_switch"),
        "{skip}"
    );
    assert!(
        !text.contains("map error") && !text.contains("failed to create map"),
        "{text}"
    );
    // BTF is fine: no advice about CONFIG_DEBUG_INFO_BTF; no guess about kprobes.
    assert!(line(&text, "btf").starts_with("ok"), "{text}");
    assert!(!text.contains("CONFIG_DEBUG_INFO_BTF"), "{text}");
    assert!(!text.contains("CONFIG_KPROBES off?"), "{text}");
    // The capabilities: none of the five, and what --user would need.
    let caps = line(&text, "capabilities");
    assert!(
        caps.contains(
            "present: none; missing: CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE, CAP_SETUID, CAP_SETGID"
        ),
        "{text}"
    );
    assert!(
        caps.contains("CAP_SETUID: --user NAME: run the workload or traced command as NAME"),
        "{caps}"
    );
    // tracefs: mounted but closed to this user is not "not mounted".
    let tracefs = line(&text, "tracefs");
    let meta = std::fs::metadata("/sys/kernel/tracing").unwrap();
    if meta.mode() & 0o005 != 0o005 {
        assert!(!tracefs.contains("not mounted"), "{tracefs}");
        assert!(
            tracefs.contains(&format!(
                "tracefs is mounted at /sys/kernel/tracing (mode {:04o}, owner uid {} gid {}) but uid 65534 cannot read it",
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            )),
            "{tracefs}"
        );
    }
    let (_, json) = doctor(true, true);
    names_are_unique(&checks(&json));
}

#[test]
fn root_doctor_lists_each_check_once_and_the_capabilities_this_process_holds() {
    let (_, text) = doctor(false, false);
    // Root in a container may lack some: the line must match this process's own set
    // (the child inherits it).
    let eff = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("CapEff:")
                .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        })
        .unwrap();
    let (mut present, mut missing) = (Vec::new(), Vec::new());
    for (name, bit) in [
        ("CAP_BPF", 39),
        ("CAP_PERFMON", 38),
        ("CAP_SYS_RESOURCE", 24),
        ("CAP_SETUID", 7),
        ("CAP_SETGID", 6),
    ] {
        if eff & (1u64 << bit) != 0 {
            present.push(name);
        } else {
            missing.push(name);
        }
    }
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    assert!(
        line(&text, "capabilities").contains(&format!(
            "present: {}; missing: {}",
            list(&present),
            list(&missing)
        )),
        "{text}"
    );
    let (_, json) = doctor(false, true);
    let checks = checks(&json);
    names_are_unique(&checks);
    let tps: Vec<&str> = checks
        .iter()
        .filter_map(|c| c["name"].as_str()?.strip_prefix("tp_btf:"))
        .collect();
    assert_eq!(
        tps,
        // Every tracepoint a probe set attaches, once: the default sets follow forks too.
        [
            "sched_waking",
            "sched_switch",
            "sys_enter",
            "sys_exit",
            "sched_process_fork"
        ]
    );
    // A kprobe that cannot attach is explained, not guessed at.
    let k = checks.iter().find(|c| c["name"] == "kprobes").unwrap();
    if k["verdict"] != "ok" {
        let hint = k["hint"].as_str().unwrap();
        assert!(!hint.contains('?'), "{hint}");
        assert!(hint.contains("CONFIG_KPROBE"), "{hint}");
    }
}
