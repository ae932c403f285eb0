//! Parameter scans (issue 19): `evbench run WORKLOAD --scan NAME=VALUES` makes one case
//! per value (per wait mode for http) whose id ends `NAME=VALUE`, with the option set to
//! the value and nothing else changed; bad scans are one line and exit 2; `report` fits
//! and draws the curves; the fits are checked on synthetic data of known slope and
//! intercept. The runs are real (pipes, an HTTP server child), kept short.
use std::{path::PathBuf, process::Command};

use evbench::results::fit;
use serde_json::{json, Value};

mod run_util;
use run_util::{evbench, json_of};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("evbench-scan-{}-{name}", std::process::id()))
}

fn ids(v: &Value) -> Vec<String> {
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Two channel counts: two cases, ids ending `channels=4` and `channels=8`, the option
/// set to each and every other option as given; the document records the scan; each
/// repeat forwarded exactly 16 runs × (200 writes + 1 fired) messages.
#[test]
fn a_scan_over_two_values_is_two_cases_with_the_value_in_id_and_options() {
    let v = json_of(&[
        "run",
        "pipetest",
        "-w",
        "200",
        "-a",
        "1",
        "--scan",
        "channels=4,8",
        "--probes",
        "none",
        "--repeat",
        "2",
        "--json",
    ]);
    assert_eq!(
        ids(&v),
        [
            "pipetest/pipe/epoll-et/channels=4",
            "pipetest/pipe/epoll-et/channels=8"
        ]
    );
    assert_eq!(
        v["scan"],
        json!({"name": "channels", "unit": "channels", "values": [4.0, 8.0], "spec": "channels=4,8"})
    );
    assert_eq!(v["options"]["scan"], "channels=4,8");
    for (c, n) in v["cases"].as_array().unwrap().iter().zip([4, 8]) {
        assert_eq!(
            c["scan"],
            json!({"name": "channels", "value": f64::from(n), "label": format!("channels={n}")})
        );
        let o = &c["options"];
        assert_eq!(o["channels"], n);
        assert_eq!(o["active"], 1);
        assert_eq!(o["writes"], 200);
        assert_eq!(o["mechanism"], "pipe");
        assert_eq!(o["wait"], "epoll-et");
        assert_eq!(o["think_ns"], 0);
        let reps = c["repeats"].as_array().unwrap();
        assert_eq!(reps.len(), 2);
        for r in reps {
            assert_eq!(r["counters"]["messages"], 16 * 201, "{}", c["id"]);
        }
    }
}

/// A scan of `active`: the value changes how many messages each run fires (16 × (W +
/// A)), so the counts prove each case ran with its own value.
#[test]
fn each_scanned_value_reaches_the_workload() {
    let v = json_of(&[
        "run",
        "pipetest",
        "-n",
        "16",
        "-w",
        "100",
        "--scan",
        "active=1..7:3",
        "--probes",
        "none",
        "--warmup-repeats",
        "0",
        "--json",
    ]);
    assert_eq!(
        ids(&v),
        [
            "pipetest/pipe/epoll-et/active=1",
            "pipetest/pipe/epoll-et/active=4",
            "pipetest/pipe/epoll-et/active=7"
        ]
    );
    for (c, a) in v["cases"].as_array().unwrap().iter().zip([1u64, 4, 7]) {
        assert_eq!(c["options"]["active"], a);
        assert_eq!(c["options"]["channels"], 16);
        assert_eq!(c["repeats"][0]["counters"]["messages"], 16 * (100 + a));
    }
}

/// http: one case per connection count per wait mode, each line's id the wait mode.
#[test]
fn an_http_scan_is_one_case_per_value_and_wait_mode() {
    let v = json_of(&[
        "run",
        "http",
        "-W",
        "epoll,poll",
        "-d",
        "100ms",
        "--warmup-time",
        "0",
        "--scan",
        "connections=2,4",
        "--probes",
        "none",
        "--warmup-repeats",
        "0",
        "--json",
    ]);
    assert_eq!(
        ids(&v),
        [
            "http/epoll/connections=2",
            "http/poll/connections=2",
            "http/epoll/connections=4",
            "http/poll/connections=4"
        ]
    );
    for (c, n) in v["cases"].as_array().unwrap().iter().zip([2, 2, 4, 4]) {
        assert_eq!(c["options"]["connections"], n);
        assert_eq!(c["options"]["body_size"], 128);
        assert_eq!(c["repeats"][0]["details"]["client"]["peak_connections"], n);
    }
}

/// A fanout scan: the topology moves from the variant to the scan's label, so both
/// points share one line (`pingpong/eventfd/epoll/pin=none`); each ran its own number of
/// waiters and exactly the rounds asked for.
#[test]
fn a_fanout_scan_keeps_one_line_id() {
    let v = json_of(&[
        "run",
        "pingpong",
        "-m",
        "eventfd",
        "-W",
        "epoll",
        "-r",
        "300",
        "--warmup-rounds",
        "10",
        "--scan",
        "fanout=2,3",
        "--probes",
        "none",
        "--warmup-repeats",
        "0",
        "--json",
    ]);
    assert_eq!(
        ids(&v),
        [
            "pingpong/eventfd/epoll/pin=none/fanout=2",
            "pingpong/eventfd/epoll/pin=none/fanout=3"
        ]
    );
    for (c, n) in v["cases"].as_array().unwrap().iter().zip([2, 3]) {
        assert_eq!(c["options"]["topology"], format!("fanout:{n}"));
        assert_eq!(c["repeats"][0]["counters"]["rounds"], 300);
        // The driver and its n waiters.
        assert_eq!(
            c["repeats"][0]["details"]["tasks"]
                .as_array()
                .unwrap()
                .len(),
            n + 1
        );
    }
}

/// Each bad scan is refused before anything runs: one line naming the cause, exit 2.
#[test]
fn bad_scans_are_one_line_and_exit_2() {
    for (args, want) in [
        (
            &["run", "pipetest", "--scan", "foo=1,2"][..],
            "pipetest has no scannable option foo (it scans the numeric options channels, active, think;",
        ),
        (
            &["run", "pipetest", "--scan", "mechanism=1,2"][..],
            "pipetest has no scannable option mechanism",
        ),
        (
            &["run", "pingpong", "--scan", "channels=2,4"][..],
            "pingpong has no scannable option channels (it scans the numeric options fanout, ring, think;",
        ),
        (
            &["run", "pipetest", "--scan", "channels=a,b"][..],
            "'a' is not a whole number",
        ),
        (
            &["run", "pipetest", "--scan", "channels=1,4"][..],
            "channels=1: '1': must be at least 2",
        ),
        (
            &["run", "http", "--scan", "connections=0..10:3"][..],
            "connections=0: '0': must be a positive whole number",
        ),
        (
            &["run", "pipetest", "--scan", "channels=50..10"][..],
            "START (50) must be below END (10)",
        ),
        (&["run", "--scan", "channels=2,4"][..], "needs a workload"),
        (&["run", "pipetest", "--scan", "channels"][..], "no '='"),
        (
            &["run", "pipetest", "--scan", "channels=4", "--scan", "active=1"][..],
            "--scan",
        ),
        (
            &["run", "pingpong", "--topology", "ring:3", "--scan", "fanout=2,4"][..],
            "--scan fanout=2,4: --topology ring:3 is given too, but the scan sets --topology for every case (the value given would be dropped); leave --topology out",
        ),
        (
            &["run", "pipetest", "-W", "select", "--scan", "channels=100,600"][..],
            "--scan channels=600: --wait select: -n 600 would put its fds up to fd ",
        ),
    ] {
        let (code, out, err) = evbench(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `evbench list` names each workload's scannable options.
#[test]
fn list_names_the_scannable_options() {
    let v = json_of(&["list", "--json"]);
    let got: Vec<(String, String)> = v["scannable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["workload"].as_str().unwrap().into(),
                s["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("pipetest", "channels"),
        ("pipetest", "active"),
        ("pipetest", "think"),
        ("pingpong", "fanout"),
        ("pingpong", "ring"),
        ("pingpong", "think"),
        ("http", "connections"),
        ("http", "rate"),
        ("http", "body-size"),
        ("http", "workers"),
    ]
    .iter()
    .map(|(w, n)| (w.to_string(), n.to_string()))
    .collect();
    assert_eq!(got, want);
    let (_, human, _) = evbench(&["list"]);
    assert!(human.contains("pipetest:channels"), "{human}");
}

/// `report` on a scan: per figure the curve and both fits per line in the terminal,
/// and one SVG per figure against the scanned value.
#[test]
fn report_fits_and_plots_a_scan() {
    let doc = tmp("doc.json");
    let dir = tmp("svg");
    let (code, _, err) = evbench(&[
        "run",
        "pipetest",
        "-w",
        "300",
        "--scan",
        "channels=4,16,64",
        "--repeat",
        "2",
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
    assert!(
        out.contains("Scan of channels (channels): 4, 16, 64 (3 values, --scan channels=4,16,64)"),
        "{out}"
    );
    assert!(out.contains("us_per_event: fits against channels"), "{out}");
    // Three values × two repeats on the one line.
    let row = out
        .lines()
        .find(|l| l.starts_with("pipetest/pipe/epoll-et ") && l.contains('['))
        .unwrap_or_else(|| panic!("no fit row: {out}"));
    assert!(row.split_whitespace().nth(1) == Some("6"), "{row}");
    let svg = dir.join("pipetest-scan-channels-us_per_event.svg");
    let text = std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    assert!(
        text.contains("pipetest/pipe/epoll-et"),
        "legend names the line"
    );
    assert!(
        text.contains("channels (channels), log scale"),
        "64/4 > 10: log x"
    );
    assert!(
        text.contains("marker: median of the repeats; whisker: 95% CI"),
        "the marker is the table's median"
    );
    let _ = std::fs::remove_file(&doc);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real fanout scan (tester item 4): pingpong's wakeups per event is a scan figure,
/// its table's median at each value is exactly the median of that case's repeats in
/// the document, and it has its own plot.
#[test]
fn a_fanout_scan_reports_wakeups_per_event() {
    let doc = tmp("fanout.json");
    let dir = tmp("fanout-svg");
    let (code, _, err) = evbench(&[
        "run",
        "pingpong",
        "-m",
        "eventfd",
        "-W",
        "epoll",
        "-r",
        "300",
        "--warmup-rounds",
        "10",
        "--scan",
        "fanout=4,2",
        "--probes",
        "none",
        "--repeat",
        "3",
        "-q",
        "-o",
        doc.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&doc).unwrap()).unwrap();
    let (code, out, err) = evbench(&[
        "report",
        doc.to_str().unwrap(),
        "--svg",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Scan of fanout (waiters): 2, 4 (2 values, --scan fanout=4,2)"),
        "{out}"
    );
    let table = out
        .split("wakeups_per_event (wakeups/event) against fanout: median of the repeats")
        .nth(1)
        .unwrap_or_else(|| panic!("no wakeups_per_event table: {out}"));
    // Rows ascending in x (the scan was typed 4,2), each the median of its repeats.
    let rows: Vec<&str> = table.lines().skip(3).take(2).collect();
    let cases = v["cases"].as_array().unwrap();
    for (row, n) in rows.iter().zip([2u64, 4]) {
        let c = cases
            .iter()
            .find(|c| c["scan"]["value"] == f64::from(n as u32))
            .unwrap();
        let ws: Vec<f64> = c["repeats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["metrics"]["wakeups_per_event"].as_f64().unwrap())
            .collect();
        let want = [
            n.to_string(),
            evbench::export::scan::num(evbench::results::stats::median(&ws)),
            format!("({})", ws.len()),
        ];
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), want, "{row}");
    }
    assert!(dir
        .join("pingpong-scan-fanout-wakeups_per_event.svg")
        .exists());
    let _ = std::fs::remove_file(&doc);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A duration scan typed out of order (tester item 5): the header and the tables read
/// its values ascending in µs, as the ids do, never in raw ns.
#[test]
fn a_think_scan_reads_in_time_units_ascending() {
    let doc = tmp("think.json");
    let (code, _, err) = evbench(&[
        "run",
        "pipetest",
        "-w",
        "100",
        "--scan",
        "think=2us,0",
        "--probes",
        "none",
        "--repeat",
        "2",
        "-q",
        "-o",
        doc.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = evbench(&["report", doc.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Scan of think: 0, 2 µs (2 values, --scan think=2us,0)"),
        "{out}"
    );
    let table = out
        .split("us_per_event (µs/event) against think: median of the repeats (repeats)\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("think "), "{}", lines[0]);
    assert!(lines[2].trim_start().starts_with("0 "), "{}", lines[2]);
    assert!(lines[3].trim_start().starts_with("2 µs "), "{}", lines[3]);
    assert!(!out.contains("think (ns)"), "{out}");
    let _ = std::fs::remove_file(&doc);
}

/// y = 5 + 0.25·x plus residuals orthogonal to 1 and x (so least squares returns the
/// line exactly): residual variance s² = Σe²/(n − 2) = d², se(b) = d/√Sxx,
/// se(a) = d·√(1/n + x̄²/Sxx), t(0.975; 4) = 2.776445; R² = 1 − SSE/(b²·Sxx + SSE).
#[test]
fn the_linear_fit_recovers_a_known_line_and_its_intervals() {
    let d: f64 = 0.1;
    let e: [f64; 6] = [1.0, -1.0, -1.0, 1.0, 0.0, 0.0];
    let pts: Vec<(f64, f64)> = (1..=6)
        .zip(e)
        .map(|(x, e)| (f64::from(x), 5.0 + 0.25 * f64::from(x) + d * e))
        .collect();
    let f = fit::linear(&pts).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert_eq!(f.n, 6);
    assert!(close(f.slope, 0.25), "{f:?}");
    assert!(close(f.intercept, 5.0), "{f:?}");
    let sxx: f64 = 17.5; // Σ(x − 3.5)² for x = 1..6
    let t = 2.776_445_105_197_8;
    let hb = t * d / sxx.sqrt();
    let ha = t * d * (1.0 / 6.0 + 3.5 * 3.5 / sxx).sqrt();
    let (lo, hi) = f.slope_ci.unwrap();
    assert!(close(lo, 0.25 - hb) && close(hi, 0.25 + hb), "{f:?}");
    let (lo, hi) = f.intercept_ci.unwrap();
    assert!(close(lo, 5.0 - ha) && close(hi, 5.0 + ha), "{f:?}");
    let sse = 4.0 * d * d;
    assert!(close(f.r2, 1.0 - sse / (0.25 * 0.25 * sxx + sse)), "{f:?}");
    // A noiseless line: intervals of zero width, R² = 1.
    let exact: Vec<(f64, f64)> = (0..5)
        .map(|x| (f64::from(x), 3.0 - 2.0 * f64::from(x)))
        .collect();
    let f = fit::linear(&exact).unwrap();
    assert!(close(f.slope, -2.0) && close(f.intercept, 3.0) && close(f.r2, 1.0));
    let (lo, hi) = f.slope_ci.unwrap();
    assert!(close(lo, -2.0) && close(hi, -2.0));
    // Two points: a line, no interval; one x value: no slope at all.
    let f = fit::linear(&[(1.0, 2.0), (3.0, 8.0)]).unwrap();
    assert!(close(f.slope, 3.0) && f.slope_ci.is_none() && f.intercept_ci.is_none());
    assert!(fit::linear(&[(2.0, 1.0), (2.0, 5.0), (2.0, 3.0)]).is_none());
}

/// y = 7·x^1.5 with multiplicative noise exp(d·e), x = 2^1..2^6: in logs the same
/// construction as above with ln x = i·ln 2, so k = 1.5 exactly, ln 7 the intercept,
/// and the slope's interval ±t·d/(√17.5·ln 2). A flat line (k = 0) stays flat; a point
/// at x = 0 has no logarithm and is left out (and counted).
#[test]
fn the_log_log_slope_recovers_a_known_exponent() {
    let d: f64 = 0.05;
    let e: [f64; 6] = [1.0, -1.0, -1.0, 1.0, 0.0, 0.0];
    let pts: Vec<(f64, f64)> = (1..=6)
        .zip(e)
        .map(|(i, e)| {
            let x = 2f64.powi(i);
            (x, 7.0 * x.powf(1.5) * (d * e).exp())
        })
        .collect();
    let (f, left_out) = fit::log_log(&pts).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert_eq!(left_out, 0);
    assert!(close(f.slope, 1.5), "{f:?}");
    assert!(close(f.intercept, 7f64.ln()), "{f:?}");
    let h = 2.776_445_105_197_8 * d / (17.5f64.sqrt() * 2f64.ln());
    let (lo, hi) = f.slope_ci.unwrap();
    assert!(close(lo, 1.5 - h) && close(hi, 1.5 + h), "{f:?}");
    // The linear fit of the same points is another model, reported beside it.
    let lin = fit::linear(&pts).unwrap();
    assert!(lin.slope > 0.0 && lin.r2 < 1.0);
    // Flat: exponent 0; the zero-x point is left out.
    let mut flat: Vec<(f64, f64)> = [10.0, 100.0, 1000.0, 10000.0]
        .iter()
        .map(|&x| (x, 2.0))
        .collect();
    flat.push((0.0, 2.0));
    let (f, left_out) = fit::log_log(&flat).unwrap();
    assert_eq!(left_out, 1);
    assert_eq!(f.n, 4);
    assert!(close(f.slope, 0.0) && close(f.intercept, 2f64.ln()));
    assert!(f.r2.is_nan(), "nothing to explain: no R²");
}

/// The scanned option given as well would be silently dropped: refused in one exact
/// line naming both, exit 2, nothing run. Each scannable option of each workload.
#[test]
fn a_scanned_option_given_too_is_refused_naming_both() {
    let tail = |flag: &str| {
        format!(
            " is given too, but the scan sets {flag} for every case (the value given would be dropped); leave {flag} out (see --help)"
        )
    };
    for (args, scan, given, flag) in [
        (
            &["pipetest", "-w", "2000", "-n", "300"][..],
            "channels=10,20",
            "-n 300",
            "-n",
        ),
        (&["pipetest", "-a", "2"][..], "active=1,3", "-a 2", "-a"),
        (
            &["pipetest", "--think", "2us"][..],
            "think=0,1us",
            "--think 2us",
            "--think",
        ),
        (
            &["pingpong", "--topology", "fanout:4"][..],
            "fanout=1,2",
            "--topology fanout:4",
            "--topology",
        ),
        (
            &["pingpong", "--topology", "pair"][..],
            "ring=2,3",
            "--topology pair",
            "--topology",
        ),
        (
            &["pingpong", "--think", "1ms"][..],
            "think=0,1us",
            "--think 1ms",
            "--think",
        ),
        (&["http", "-c", "5"][..], "connections=10,20", "-c 5", "-c"),
        (
            &["http", "--rate", "100"][..],
            "rate=1..2:4",
            "--rate 100",
            "--rate",
        ),
        (
            &["http", "--body-size", "64"][..],
            "body-size=0,10",
            "--body-size 64",
            "--body-size",
        ),
        (
            &["http", "--workers", "2"][..],
            "workers=1,2",
            "--workers 2",
            "--workers",
        ),
    ] {
        let mut a = vec!["run"];
        a.extend_from_slice(args);
        a.extend(["--scan", scan, "--probes", "none"]);
        let (code, out, err) = evbench(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert_eq!(out, "", "{a:?}");
        assert_eq!(
            err,
            format!("evbench: error: --scan {scan}: {given}{}\n", tail(flag)),
            "{a:?}"
        );
    }
}

/// A scan of one value is not a scan: refused in one line naming the option to give
/// instead, exit 2, nothing run.
#[test]
fn a_scan_of_one_value_is_refused() {
    for (args, want) in [
        (
            &["run", "pipetest", "--scan", "channels=800"][..],
            "--scan channels=800: a scan needs at least 2 values (got only 800); to measure one value give the option itself (-n 800)",
        ),
        (
            &["run", "pingpong", "--scan", "fanout=8"][..],
            "--scan fanout=8: a scan needs at least 2 values (got only 8); to measure one value give the option itself (--topology fanout:8)",
        ),
    ] {
        let (code, out, err) = evbench(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "");
        assert_eq!(err, format!("evbench: error: {want} (see --help)\n"));
    }
}

/// A range that rounding leaves fewer values than its STEPS runs the values it has
/// and says how many, once on stderr and once in the document's warnings.
#[test]
fn a_range_reduced_by_rounding_warns_once_and_runs_what_remains() {
    let args = [
        "run",
        "pipetest",
        "-w",
        "100",
        "--scan",
        "channels=4..6:5",
        "--probes",
        "none",
        "--repeat",
        "1",
        "--warmup-repeats",
        "0",
        "--json",
    ];
    let (code, out, err) = evbench(&args);
    assert_eq!(code, 0, "{err}");
    let want = "--scan channels=4..6:5: rounding leaves only 3 distinct values of the 5 STEPS asked for (4 to 6), so the scan has 3 cases";
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("rounding")).collect();
    assert_eq!(warnings, [format!("evbench: warning: {want}")], "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        ids(&v),
        [
            "pipetest/pipe/epoll-et/channels=4",
            "pipetest/pipe/epoll-et/channels=5",
            "pipetest/pipe/epoll-et/channels=6"
        ]
    );
    let doc: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| w.contains("rounding"))
        .collect();
    assert_eq!(doc, [want]);
    for c in v["cases"].as_array().unwrap() {
        assert_eq!(c["repeats"][0]["counters"]["messages"], 16 * 101);
    }
}

/// evbench with RLIMIT_NOFILE set to (soft, hard) before it starts (root may lower the
/// hard limit of its child), so the fd boundary is the same on every machine.
fn evbench_nofile(args: &[&str], hard: u64) -> (i32, String, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evbench"));
    cmd.args(args);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child first.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: hard.min(1024),
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("evbench starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `before` in `text` (up to the next non-digit).
fn number_after(text: &str, before: &str) -> u64 {
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("no '{before}' in: {text}"));
    text[at + before.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after '{before}' in: {text}"))
}

/// A refusal: exit 2, nothing on stdout, one line; returns the line.
fn refused(r: (i32, String, String), what: &str) -> String {
    let (code, out, err) = r;
    assert_eq!(code, 2, "{what}: {err}");
    assert_eq!(out, "", "{what}");
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(err.starts_with("evbench: error: "), "{what}: {err}");
    err
}

/// A whole run: exit 0, every case measured (16 runs × (200 writes + 1 fired) messages
/// each), nothing interrupted, no pass failed.
fn ran_pipetest(r: (i32, String, String), what: &str) {
    let (code, out, err) = r;
    assert_eq!(code, 0, "{what}: {err}");
    assert!(!err.contains("a pass failed"), "{what}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: {e}: {out}"));
    assert_eq!(v["interrupted"], false, "{what}");
    for c in v["cases"].as_array().unwrap() {
        for r in c["repeats"].as_array().unwrap() {
            assert_eq!(r["counters"]["messages"], 16 * 201, "{what}: {}", c["id"]);
        }
    }
}

/// select(2) watches fds below FD_SETSIZE (1024), and the channels' fds come after
/// every fd evbench holds during a probed pass (the probes' 30-odd with the default
/// sets). The refusal names the most channels that fit; that many run, every pass
/// whole (the probed one included), and one more is refused before anything runs, in
/// one line naming the fd it would reach: with the default probes and without.
#[test]
fn select_channels_refused_up_front_exactly_past_the_most_that_run() {
    for probes in ["default", "none"] {
        let base = [
            "run",
            "pipetest",
            "-W",
            "select",
            "-w",
            "200",
            "--repeat",
            "1",
            "--warmup-repeats",
            "0",
            "--probes",
            probes,
        ];
        let with = |extra: &[&str]| -> Vec<String> {
            base.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let run = |extra: &[&str]| {
            let a = with(extra);
            evbench(&a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let far = refused(run(&["-n", "1000"]), probes);
        let max = number_after(&far, "at most ");
        let top_far = number_after(&far, "up to fd ");
        assert!(
            far.ends_with(" pipe channels; use --wait poll or epoll for more (see --help)\n"),
            "{far}"
        );
        // Pipes take two fds each, numbered upwards from the lowest free one.
        let over = max + 1;
        let line = refused(
            run(&["--scan", &format!("channels=100,{over}"), "--json"]),
            probes,
        );
        assert!(
            line.starts_with(&format!(
                "evbench: error: --scan channels={over}: --wait select: -n {over} would put its fds up to fd "
            )),
            "{line}"
        );
        let top = number_after(&line, "up to fd ");
        assert!((1024..=1025).contains(&top), "{line}");
        assert_eq!(top_far - top, 2 * (1000 - over), "{far} / {line}");
        assert_eq!(number_after(&line, "at most "), max, "{line}");
        ran_pipetest(
            run(&["--scan", &format!("channels=100,{max}"), "--json"]),
            &format!("{probes}: {max} channels"),
        );
    }
}

/// RLIMIT_NOFILE: the refusal names the most pipe channels the hard limit holds beside
/// the fds evbench really has open during a probed pass; that many run whole, one more
/// is refused up front (the hard limit set to 2048 for the child, so the boundary is
/// small and the same on every machine).
#[test]
fn pipe_channels_refused_up_front_exactly_past_the_fd_limit() {
    for probes in ["default", "none"] {
        let run = |n: &str| {
            evbench_nofile(
                &[
                    "run",
                    "pipetest",
                    "-n",
                    n,
                    "-w",
                    "200",
                    "--repeat",
                    "1",
                    "--warmup-repeats",
                    "0",
                    "--probes",
                    probes,
                    "--json",
                ],
                2048,
            )
        };
        let far = refused(run("5000"), probes);
        assert!(
            far.contains("but the RLIMIT_NOFILE hard limit is 2048: at most "),
            "{far}"
        );
        let max = number_after(&far, "at most ");
        let line = refused(run(&(max + 1).to_string()), probes);
        assert_eq!(number_after(&line, "at most "), max, "{line}");
        ran_pipetest(run(&max.to_string()), &format!("{probes}: {max} channels"));
    }
}

/// http: the load client's connections count against this process's fds as they are
/// with the probes loaded; the refusal names the most that fit, that many run (every
/// connection open at once), one more is refused up front.
#[test]
fn http_connections_refused_up_front_exactly_past_the_fd_limit() {
    for probes in ["default", "none"] {
        let run = |c: &str| {
            evbench_nofile(
                &[
                    "run",
                    "http",
                    "-W",
                    "epoll",
                    "-c",
                    c,
                    "-d",
                    "1s",
                    "--warmup-time",
                    "0",
                    "--repeat",
                    "1",
                    "--warmup-repeats",
                    "0",
                    "--probes",
                    probes,
                    "--json",
                ],
                2048,
            )
        };
        let far = refused(run("5000"), probes);
        assert!(
            far.contains("but the fd limit (RLIMIT_NOFILE) is 2048: at most "),
            "{far}"
        );
        let max = number_after(&far, "at most ");
        let line = refused(run(&(max + 1).to_string()), probes);
        assert_eq!(number_after(&line, "at most "), max, "{line}");
        let (code, out, err) = run(&max.to_string());
        assert_eq!(code, 0, "{probes}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["interrupted"], false);
        let rep = &v["cases"][0]["repeats"][0];
        assert_eq!(
            rep["details"]["client"]["peak_connections"], max,
            "{probes}"
        );
        assert_eq!(rep["counters"]["errors"], 0, "{probes}");
    }
}

/// Runs evbench, sends it SIGTERM after `after`, and returns its exit code and how long
/// it took to end after the signal.
fn sigterm_after(args: &[&str], after: std::time::Duration) -> (Option<i32>, std::time::Duration) {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "{args:?} ended before the signal"
    );
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code(), t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            return (None, t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A stop ends a long --think spin at once: SIGTERM in the middle of a 29-day think
/// (pipetest's, in a scan) or a 1-hour one (pingpong's) ends the run within 5 s with
/// exit 143, instead of when the spin would have ended.
#[test]
fn sigterm_ends_a_long_think_spin_promptly() {
    let secs = std::time::Duration::from_secs;
    let (code, took) = sigterm_after(
        &[
            "run",
            "pipetest",
            "-w",
            "2000",
            "--scan",
            "think=29days,1us",
            "--probes",
            "none",
            "--warmup-repeats",
            "0",
            "--repeat",
            "1",
        ],
        secs(2),
    );
    assert_eq!(code, Some(143), "pipetest: ended after {took:?}");
    assert!(took < secs(5), "{took:?}");
    let (code, took) = sigterm_after(
        &[
            "run",
            "pingpong",
            "--think",
            "1h",
            "-r",
            "5",
            "--warmup-rounds",
            "0",
            "--warmup-repeats",
            "0",
            "--repeat",
            "1",
            "--probes",
            "none",
        ],
        secs(2),
    );
    assert_eq!(code, Some(143), "pingpong: ended after {took:?}");
    assert!(took < secs(5), "{took:?}");
}

/// A --think longer than pingpong's stall timeout (10 s without a round trip) is slow
/// progress, not a stuck task: a pair's round trip of 2 × 6 s completes, exactly the
/// one round asked for, instead of failing part-way as "stalled".
#[test]
fn a_think_longer_than_the_stall_timeout_completes() {
    let v = json_of(&[
        "run",
        "pingpong",
        "--think",
        "6s",
        "-r",
        "1",
        "--warmup-rounds",
        "0",
        "--warmup-repeats",
        "0",
        "--repeat",
        "1",
        "--probes",
        "none",
        "--json",
    ]);
    assert_eq!(v["interrupted"], false);
    assert_eq!(v["cases"][0]["repeats"][0]["counters"]["rounds"], 1);
    assert_eq!(v["cases"][0]["options"]["think_ns"], 6_000_000_000u64);
}
