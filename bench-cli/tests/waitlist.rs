//! Lists of mechanisms and wait modes (issue 19: "one line per mechanism × wait mode"):
//! pipetest's and pingpong's `-m` and `-W` take comma-separated lists, each combination
//! one case, and with `--scan` every combination at every value; a value given twice and
//! a combination the workload refuses are one line naming it, exit 2, before anything
//! runs. The runs are real (pipes, eventfds, threads), kept short.

use serde_json::{json, Value};

mod run_util;
use run_util::{evbench, json_of};

fn cases(v: &Value) -> &Vec<Value> {
    v["cases"].as_array().unwrap()
}

fn ids(v: &Value) -> Vec<String> {
    cases(v)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// A refusal: exit 2, nothing on stdout, exactly one line; returns it.
fn refused(args: &[&str]) -> String {
    let (code, out, err) = evbench(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert_eq!(out, "", "{args:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err.trim_end().to_string()
}

/// Two wait modes × two channel counts: exactly four cases, value by value and in
/// each value the wait modes as typed (as an http scan orders its wait modes), each
/// with its own wait mode and channel count in its options and its point of the scan;
/// each repeat forwarded exactly 16 runs × (200 writes + 1 fired) messages.
#[test]
fn a_wait_list_scan_is_every_wait_mode_at_every_value() {
    let v = json_of(&[
        "run",
        "pipetest",
        "-W",
        "epoll,poll",
        "--scan",
        "channels=50,100",
        "-w",
        "200",
        "--repeat",
        "1",
        "--warmup-repeats",
        "0",
        "--probes",
        "none",
        "--json",
    ]);
    assert_eq!(
        ids(&v),
        [
            "pipetest/pipe/epoll/channels=50",
            "pipetest/pipe/poll/channels=50",
            "pipetest/pipe/epoll/channels=100",
            "pipetest/pipe/poll/channels=100",
        ]
    );
    assert_eq!(
        v["scan"],
        json!({"name": "channels", "unit": "channels", "values": [50.0, 100.0], "spec": "channels=50,100"})
    );
    let want = [("epoll", 50), ("poll", 50), ("epoll", 100), ("poll", 100)];
    for (c, (wait, n)) in cases(&v).iter().zip(want) {
        let o = &c["options"];
        assert_eq!(o["wait"], wait, "{}", c["id"]);
        assert_eq!(o["mechanism"], "pipe", "{}", c["id"]);
        assert_eq!(o["channels"], n, "{}", c["id"]);
        assert_eq!(o["writes"], 200, "{}", c["id"]);
        assert_eq!(
            c["scan"],
            json!({"name": "channels", "value": f64::from(n), "label": format!("channels={n}")})
        );
        let reps = c["repeats"].as_array().unwrap();
        assert_eq!(reps.len(), 1, "{}", c["id"]);
        assert_eq!(reps[0]["counters"]["messages"], 16 * 201, "{}", c["id"]);
    }
}

/// Without `--scan`: one case per wait mode, in the order typed.
#[test]
fn a_wait_list_without_scan_is_one_case_per_wait_mode() {
    let v = json_of(&[
        "run",
        "pipetest",
        "-m",
        "eventfd",
        "-W",
        "poll,epoll-et,select",
        "-n",
        "20",
        "-w",
        "200",
        "--repeat",
        "1",
        "--warmup-repeats",
        "0",
        "--probes",
        "none",
        "--json",
    ]);
    assert_eq!(
        ids(&v),
        [
            "pipetest/eventfd/poll",
            "pipetest/eventfd/epoll-et",
            "pipetest/eventfd/select",
        ]
    );
    for (c, wait) in cases(&v).iter().zip(["poll", "epoll-et", "select"]) {
        assert_eq!(c["options"]["wait"], wait);
        assert_eq!(c["options"]["mechanism"], "eventfd");
        assert_eq!(c["options"]["channels"], 20);
        assert_eq!(c["repeats"][0]["counters"]["messages"], 16 * 201);
    }
}

/// pingpong `-m eventfd,pipe`: the two cases, each its own mechanism, 1,000 round
/// trips (2,000 messages each way) measured; with `-W epoll,block` too, the four
/// combinations, mechanism first.
#[test]
fn a_mechanism_list_is_one_case_per_mechanism_and_wait_mode() {
    let base = [
        "run",
        "pingpong",
        "-r",
        "1000",
        "--warmup-rounds",
        "0",
        "--repeat",
        "1",
        "--warmup-repeats",
        "0",
        "--probes",
        "none",
        "--json",
    ];
    let v = json_of(&[&base[..], &["-m", "eventfd,pipe"]].concat());
    assert_eq!(
        ids(&v),
        [
            "pingpong/eventfd/block/pin=none",
            "pingpong/pipe/block/pin=none"
        ]
    );
    for (c, m) in cases(&v).iter().zip(["eventfd", "pipe"]) {
        assert_eq!(c["options"]["mechanism"], m);
        assert_eq!(c["options"]["wait"], "block");
        let counters = &c["repeats"][0]["counters"];
        assert_eq!(counters["rounds"], 1000, "{}", c["id"]);
        assert_eq!(counters["messages_sent"], 2000, "{}", c["id"]);
        assert_eq!(counters["messages_received"], 2000, "{}", c["id"]);
    }
    let v = json_of(&[&base[..], &["-m", "eventfd,pipe", "-W", "epoll,block"]].concat());
    assert_eq!(
        ids(&v),
        [
            "pingpong/eventfd/epoll/pin=none",
            "pingpong/eventfd/block/pin=none",
            "pingpong/pipe/epoll/pin=none",
            "pingpong/pipe/block/pin=none",
        ]
    );
    let got: Vec<(String, String)> = cases(&v)
        .iter()
        .map(|c| {
            let o = &c["options"];
            (
                o["mechanism"].as_str().unwrap().to_string(),
                o["wait"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("eventfd", "epoll"),
        ("eventfd", "block"),
        ("pipe", "epoll"),
        ("pipe", "block"),
    ]
    .iter()
    .map(|(m, w)| (m.to_string(), w.to_string()))
    .collect();
    assert_eq!(got, want);
}

/// A value given twice would be two cases of one id: one line naming the flag and the
/// value, exit 2. http's `all` beside a named mode names that mode twice.
#[test]
fn a_list_value_given_twice_is_one_line_and_exit_2() {
    for (args, want) in [
        (
            &["run", "pipetest", "-W", "epoll,poll,epoll"][..],
            "evbench: error: -W epoll,poll,epoll: epoll is given twice (each value is one case; name it once) (see --help)",
        ),
        (
            &["run", "pipetest", "-m", "pipe,pipe", "--scan", "channels=4,8"][..],
            "evbench: error: -m pipe,pipe: pipe is given twice (each value is one case; name it once) (see --help)",
        ),
        (
            &["run", "pingpong", "-m", "eventfd,pipe,eventfd"][..],
            "evbench: error: -m eventfd,pipe,eventfd: eventfd is given twice (each value is one case; name it once) (see --help)",
        ),
        (
            &["run", "http", "-W", "epoll,epoll"][..],
            "evbench: error: -W epoll,epoll: epoll is given twice (each value is one case; name it once) (see --help)",
        ),
        (
            &["run", "http", "-W", "all,poll"][..],
            "evbench: error: -W all,poll: all already names every wait mode (give all alone, or a list without it) (see --help)",
        ),
    ] {
        assert_eq!(refused(args), want, "{args:?}");
    }
}

/// A combination the workload refuses is refused before anything runs, in one line
/// naming it (`pingpong -m pipe -W block: ...`), exit 2, even when the others would
/// run; in a scan, after the value.
#[test]
fn a_refused_combination_is_one_line_naming_it_and_exit_2() {
    for (args, want) in [
        (
            &[
                "run",
                "pingpong",
                "-m",
                "pipe,eventfd",
                "-W",
                "epoll,block",
                "--topology",
                "fanout:2",
                "--exclusive",
            ][..],
            "evbench: error: pingpong -m pipe -W block: --exclusive is EPOLLEXCLUSIVE, an epoll flag: it needs --wait epoll or epoll-et, not block (see --help)",
        ),
        (
            &["run", "pingpong", "-m", "pipe,futex", "-W", "epoll"][..],
            "evbench: error: pingpong -m futex -W epoll: --mechanism futex has no fd for --wait epoll to watch; use --wait block (see --help)",
        ),
    ] {
        assert_eq!(refused(args), want, "{args:?}");
    }
    // select past FD_SETSIZE: the line names the combination, then the limit (its
    // figures depend on the fds this process holds, checked in tests/scan.rs).
    for (args, want) in [
        (
            &[
                "run", "pipetest", "-W", "epoll,select", "-n", "2000", "--probes", "none",
            ][..],
            "evbench: error: pipetest -m pipe -W select: --wait select: -n 2000 would put its fds up to fd ",
        ),
        (
            &[
                "run",
                "pipetest",
                "-W",
                "select,poll",
                "--scan",
                "channels=200,2000",
                "--probes",
                "none",
            ][..],
            "evbench: error: --scan channels=2000: pipetest -m pipe -W select: --wait select: -n 2000 would put its fds up to fd ",
        ),
    ] {
        let line = refused(args);
        assert!(line.starts_with(want), "{args:?}: {line}");
    }
}

/// `--help` of both workloads says -m and -W take comma-separated lists.
#[test]
fn help_says_mechanism_and_wait_take_lists() {
    for w in ["pipetest", "pingpong"] {
        let (code, out, err) = evbench(&["run", w, "--help"]);
        assert_eq!(code, 0, "{err}");
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        for flag in ["--mechanism", "--wait"] {
            let at = flat
                .find(&format!("{flag} <"))
                .unwrap_or_else(|| panic!("{w}: no {flag} in {out}"));
            let next = flat[at + 1..].find(" -").map_or(flat.len(), |i| at + 1 + i);
            assert!(
                flat[at..next].contains("A comma-separated list measures each")
                    || flat[at..next].contains("a comma-separated list measures each"),
                "{w} {flag}: {}",
                &flat[at..next]
            );
        }
    }
}

/// What the lists are for: `report` on one run of `-W epoll,poll --scan` draws one line
/// per wait mode — a column each in the medians table, a fit row each (3 values × 2
/// repeats = 6 points) and each named once in the plot's legend.
#[test]
fn report_draws_one_line_per_wait_mode() {
    let tmp =
        |n: &str| std::env::temp_dir().join(format!("evbench-waitlist-{}-{n}", std::process::id()));
    let (doc, dir) = (tmp("doc.json"), tmp("svg"));
    let (code, _, err) = evbench(&[
        "run",
        "pipetest",
        "-W",
        "epoll,poll",
        "--scan",
        "channels=20,40,80",
        "-w",
        "200",
        "--repeat",
        "2",
        "--probes",
        "none",
        "-q",
        "-o",
        doc.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = evbench(&[
        "report",
        doc.to_str().unwrap(),
        "--svg",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let header: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("channels (channels)"))
        .unwrap_or_else(|| panic!("no medians table: {out}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "channels",
            "(channels)",
            "pipetest/pipe/epoll",
            "pipetest/pipe/poll"
        ]
    );
    for line in ["pipetest/pipe/epoll", "pipetest/pipe/poll"] {
        let rows: Vec<&str> = out
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(line) && l.contains('['))
            .collect();
        assert_eq!(rows.len(), 1, "{line}: {out}");
        assert_eq!(rows[0].split_whitespace().nth(1), Some("6"), "{}", rows[0]);
    }
    let svg = dir.join("pipetest-scan-channels-us_per_event.svg");
    let text = std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    for line in ["pipetest/pipe/epoll", "pipetest/pipe/poll"] {
        let named = text.lines().filter(|l| l.trim() == line).count();
        assert_eq!(named, 1, "{line} in the legend: {text}");
    }
    let _ = std::fs::remove_file(&doc);
    let _ = std::fs::remove_dir_all(&dir);
}
