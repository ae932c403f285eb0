//! Issue 18: honest figures, hyperfine's habits, CSV, plots and the reference-format
//! interval log, on synthetic result files whose figures are known, through the real
//! `evbench report` binary where a person would use it.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use evbench::{
    export,
    results::{Case, Metric, ProbesState, Repeat, RunResult, Scan, ScanPoint},
};
use hdrhistogram::Histogram;

fn tmpdir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "evbench-exports-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn evbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .expect("evbench starts")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `n` values evenly over [lo, lo + span).
fn even_hist(lo: u64, span: u64, n: u64) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap();
    for i in 0..n {
        h.record(lo + i * span / n).unwrap();
    }
    h
}

fn doc(cases: Vec<Case>) -> RunResult {
    let mut d = RunResult::new(
        vec!["evbench".into(), "run".into()],
        serde_json::json!({"repeat": 5, "probes": "none"}),
        ProbesState::off("synthetic result"),
        b"",
    );
    d.started_unix = 1_795_415_229.965;
    for c in cases {
        d.push_case(c);
    }
    d
}

/// A pingpong case with one repeat per entry of `ops` (throughput), each with a
/// round-trip histogram of 1000 values from `lo` ns; repeats start 250.4 ms apart.
fn case(mechanism: &str, ops: &[f64], lo: u64) -> Case {
    let mut c = Case::new("pingpong", Some(mechanism), Some("block"), Some("pin=same"));
    for (k, &v) in ops.iter().enumerate() {
        let h = even_hist(lo + k as u64 * 7, 1000, 1000);
        let mut r = Repeat::new(Duration::from_nanos(123_456_789 + k as u64 * 1_000_000));
        r.started_at(Duration::from_nanos(250_400_000 * k as u64));
        r.metric("ops_per_sec", Metric::higher("round trips/s"), v)
            .histogram("round_trip_ns", "ns", &h)
            .counter("rounds", 1000);
        c.push_repeat(r);
    }
    c
}

fn write(d: &RunResult, dir: &Path) -> PathBuf {
    let p = dir.join("result.json");
    d.write(&p).unwrap();
    p
}

/// Item 1: one repeat shows no spread; the spread has one definition (sd/mean) in the
/// terminal, Markdown and HTML alike; a time column names its unit.
#[test]
fn one_repeat_has_no_spread_and_columns_name_units() {
    let d = doc(vec![
        case("pipe", &[85_200.0], 10_000),
        case("eventfd", &[90_000.0, 100_000.0, 110_000.0], 9_000),
    ]);
    let t = export::side_by_side("pingpong", &d.cases.iter().collect::<Vec<_>>());
    assert_eq!(
        t.header[1],
        "ops_per_sec (round trips/s), median ± cv (sd/mean)"
    );
    assert_eq!(t.header[3], "round_trip p50 (µs)");
    assert_eq!(t.header[4], "round_trip p99 (µs)");
    assert_eq!(t.rows[0][1], "85.2k", "one repeat: the median alone");
    // 90k, 100k, 110k: mean 100k, sd 10k: cv 10.0%.
    assert_eq!(t.rows[1][1], "100.0k ± 10.0%");
    // p50 of 1000 values from 10,000 ns over 1000 ns, all three repeats merged.
    assert_eq!(t.rows[0][3], "10.5");
    let dir = tmpdir("spread");
    let f = write(&d, &dir);
    let term = text(&evbench(&["report", f.to_str().unwrap()]).stdout);
    let md = text(&evbench(&["report", f.to_str().unwrap(), "--markdown"]).stdout);
    for out in [&term, &md] {
        assert!(!out.contains("± 0.0%"), "{out}");
        assert!(out.contains("100.0k ± 10.0%"), "{out}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A results document is anyone's file: a case id holding terminal escape sequences
/// is printed escaped by `report` and `compare`, never sent raw to the terminal.
#[test]
fn control_characters_in_a_document_reach_the_terminal_escaped() {
    let mut c = case("pipe", &[85_200.0, 86_000.0, 84_000.0], 10_000);
    c.id = "pingpong/pipe\u{1b}[2J\u{7}".into();
    let d = doc(vec![c]);
    let dir = tmpdir("escapes");
    let f = write(&d, &dir);
    let mut c2 = case("pipe", &[80_200.0, 81_000.0, 79_000.0], 10_000);
    c2.id = "pingpong/pipe\u{1b}[2J\u{7}".into();
    let dir2 = tmpdir("escapes-current");
    let g = write(&doc(vec![c2]), &dir2);
    let (f, g) = (f.to_str().unwrap(), g.to_str().unwrap());
    for out in [
        evbench(&["report", f]),
        evbench(&["report", f, "--markdown"]),
        evbench(&["compare", f, g]),
    ] {
        let o = text(&out.stdout);
        assert!(!o.contains('\u{1b}') && !o.contains('\u{7}'), "{o:?}");
        assert!(o.contains("pingpong/pipe\\u{1b}[2J\\u{7}"), "{o}");
    }
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(dir2).unwrap();
}

/// Item 1: a case with no complete repeat shows "—" / "no data", never 0.
#[test]
fn missing_figures_are_no_data() {
    let mut empty = case("pipe", &[50_000.0], 10_000);
    empty.repeats[0].interrupted = true;
    empty.refresh();
    let mut zero = Case::new("pingpong", Some("futex"), Some("block"), Some("pin=same"));
    let mut r = Repeat::new(Duration::from_millis(1));
    r.histogram("round_trip_ns", "ns", &Histogram::<u64>::new(3).unwrap());
    zero.push_repeat(r);
    let d = doc(vec![case("eventfd", &[1.0, 1.0, 1.0], 9_000), empty, zero]);
    let cases: Vec<&Case> = d.cases.iter().collect();
    let t = export::side_by_side("pingpong", &cases);
    assert_eq!(&t.rows[1][1..5], &["—", "—", "—", "—"]);
    assert_eq!(t.rows[1].last().unwrap(), "0", "no repeat counted");
    assert_eq!(&t.rows[2][3..5], &["—", "—"]);
    let p = export::percentile_table("round_trip_ns", &cases).unwrap();
    assert_eq!(
        p.rows.len(),
        2,
        "the interrupted case has no merged histogram"
    );
    assert_eq!(&p.rows[1][1..4], &["0", "no data", "—"]);
    assert_eq!(
        evbench::output::percentiles(&d.cases[2].histograms["round_trip_ns"].summary),
        "no data"
    );
}

/// Item 2: hyperfine's outlier rule names the repeat, its value and the rule; a repeat
/// with recorded noise names it.
#[test]
fn an_outlier_repeat_is_named_with_its_noise() {
    // Median 100k, MAD 1k: 60k scores −40 (< −14.826); 110k scores 10 (kept).
    let mut c = case(
        "pipe",
        &[
            99_000.0, 100_000.0, 101_000.0, 110_000.0, 60_000.0, 100_500.0, 99_500.0,
        ],
        10_000,
    );
    c.repeats[4].noise = Some(evbench::results::PassNoise {
        cpu_some_us: Some(250_000),
        steal_ns: 3_000_000,
        procs_running: Some(4.0),
        wall_ns: 0,
    });
    let d = doc(vec![c]);
    let w = export::outlier_warnings(&d);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        w[0],
        "pingpong/pipe/block/pin=same repeat #5: ops_per_sec 60.0k is an outlier (40.0% from the median 100.0k; modified Z-score -40.0 beyond ±14.826, hyperfine's rule |x − median| / MAD, and at least 5% from the median); noise during it: CPU pressure 250.00 ms (PSI some), steal 3.00 ms, 4 runnable tasks"
    );
    assert!(
        w[0].ends_with(
            "noise during it: CPU pressure 250.00 ms (PSI some), steal 3.00 ms, 4 runnable tasks"
        ),
        "{}",
        w[0]
    );
    // Through the binary: the warning is in the report.
    let dir = tmpdir("outlier");
    let f = write(&d, &dir);
    let out = text(&evbench(&["report", f.to_str().unwrap()]).stdout);
    assert!(
        out.contains("warning: pingpong/pipe/block/pin=same repeat #5"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
    // Fewer than 3 repeats: no judgement.
    assert!(export::outlier_warnings(&doc(vec![case("pipe", &[1.0, 100.0], 1)])).is_empty());
}

/// Item 2 (review): with 3 repeats two of which are equal the MAD is 0 and hyperfine's
/// score alone flags any difference; a repeat within 5% of the median is no outlier.
/// One 20% off is, its score said to be unbounded, and its noise is set beside the
/// other repeats' (their median), so the noise that hit it alone stands out.
#[test]
fn an_outlier_needs_five_percent_and_names_the_noise_that_hit_it() {
    let small = case("pipe", &[100_000.0, 100_000.0, 100_400.0], 10_000);
    assert_eq!(
        export::outlier_warnings(&doc(vec![small])),
        Vec::<String>::new()
    );
    let just_under = case("pipe", &[100_000.0, 100_000.0, 104_900.0], 10_000);
    assert_eq!(export::outlier_warnings(&doc(vec![just_under])).len(), 0);
    let mut big = case("pipe", &[100_000.0, 100_000.0, 120_000.0], 10_000);
    for (k, r) in big.repeats.iter_mut().enumerate() {
        r.noise = Some(evbench::results::PassNoise {
            cpu_some_us: Some(if k == 2 { 250_000 } else { 1_000 }),
            steal_ns: 0,
            procs_running: Some(if k == 2 { 4.0 } else { 1.0 }),
            wall_ns: 0,
        });
    }
    let w = export::outlier_warnings(&doc(vec![big]));
    assert_eq!(
        w,
        ["pingpong/pipe/block/pin=same repeat #3: ops_per_sec 120.0k is an outlier (20.0% from the median 100.0k; modified Z-score unbounded (MAD 0: half the repeats are equal) beyond ±14.826, hyperfine's rule |x − median| / MAD, and at least 5% from the median); noise during it: CPU pressure 250.00 ms (PSI some; the other repeats' median 1.00 ms), steal 0 ns (others 0 ns), 4 runnable tasks (others 1)"]
    );
}

/// Item 2: "X is 1.11 ± 0.04 times faster than Y", the ± propagated from both sides.
#[test]
fn relative_summary_states_its_uncertainty() {
    // eventfd: mean 111, sd 1 (110, 111, 112); pipe: mean 100, sd 2 (98, 100, 102).
    let d = doc(vec![
        case("pipe", &[98.0, 100.0, 102.0], 10_000),
        case("eventfd", &[110.0, 111.0, 112.0], 9_000),
        case("futex", &[50.0], 9_000),
    ]);
    let l = export::relative_summary(&d.cases.iter().collect::<Vec<_>>());
    assert_eq!(
        l[0],
        "pingpong: pingpong/eventfd/block/pin=same is the fastest by ops_per_sec (mean of the repeats):"
    );
    // 1.11 · √((1/111)² + (2/100)²) = 0.0243…
    assert_eq!(
        l[1],
        "  1.11 ± 0.02 times faster than pingpong/pipe/block/pin=same"
    );
    assert_eq!(
        l[2],
        "  2.22 times faster than pingpong/futex/block/pin=same (one repeat: no uncertainty)"
    );
    assert!(l[3].contains("quadrature"));
}

/// Item 2: `--csv` (one row per case and figure) and `--csv-repeats` (one per repeat).
#[test]
fn csv_per_case_and_per_repeat() {
    let mut c = case("pipe", &[90_000.0, 100_000.0, 110_000.0], 10_000);
    c.repeats[2].interrupted = true;
    c.refresh();
    let d = doc(vec![c, case("eventfd", &[5e4], 9_000)]);
    let dir = tmpdir("csv");
    let f = write(&d, &dir);
    let csv = dir.join("out.csv");
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let body = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], export::csv::CASE_HEADER.join(","));
    // 2 cases × (1 metric + 1 histogram).
    assert_eq!(lines.len(), 5, "{body}");
    // Interrupted repeat 3 is out: n 2, median 95,000, sd 7071.07…, cv 7.44%.
    let pipe: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        &pipe[..10],
        &[
            "pingpong/pipe/block/pin=same",
            "pingpong",
            "pipe",
            "block",
            "pin=same",
            "metric",
            "ops_per_sec",
            "round trips/s",
            "higher",
            "2"
        ]
    );
    assert_eq!(pipe[10], "95000");
    assert!(pipe[12].starts_with("7071.06"), "{}", pipe[12]);
    // Not a scan: the last two cells, scan_name and scan_value, are empty.
    assert_eq!(pipe.len(), export::csv::CASE_HEADER.len());
    assert_eq!(&pipe[20..], &["", ""]);
    // One repeat: sd and cv empty, not 0.
    let ev: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(&ev[9..14], &["1", "50000", "50000", "", ""]);
    // The histogram row: count of the two counted repeats, p50/p99 in ns.
    let hist: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(
        &hist[5..10],
        &["histogram", "round_trip_ns", "ns", "lower", "2000"]
    );
    // Per repeat: 3 repeats × (1 metric + 1 counter) + 1 × 2; the interrupted one marked.
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--csv-repeats",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let body = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], export::csv::REPEAT_HEADER.join(","));
    assert_eq!(lines.len(), 1 + 8, "{body}");
    // Not a scan: scan_name and scan_value empty.
    assert!(lines.contains(&"pingpong/pipe/block/pin=same,pingpong,pipe,block,pin=same,3,false,clean,true,metric,ops_per_sec,round trips/s,110000,,"));
    assert!(lines.contains(&"pingpong/pipe/block/pin=same,pingpong,pipe,block,pin=same,1,false,clean,false,counter,rounds,,1000,,"));
    // --csv-repeats alone is a usage error, one line.
    let o = evbench(&["report", f.to_str().unwrap(), "--csv-repeats"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stderr).lines().count(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Issue 19: the CSV names each case's point of a parameter scan (`scan_name`,
/// `scan_value` in the document's unit: ns for `think`), in both shapes.
#[test]
fn csv_names_each_scan_point() {
    let mut cases = Vec::new();
    for (ns, label) in [(1000.0, "think=1us"), (1e10, "think=10s")] {
        let mut c = case("pipe", &[85_000.0], 10_000);
        c.set_scan(ScanPoint {
            name: "think".into(),
            value: ns,
            label: label.into(),
        });
        cases.push(c);
    }
    let mut d = doc(cases);
    d.scan = Some(Scan {
        name: "think".into(),
        unit: "ns".into(),
        values: vec![1000.0, 1e10],
        spec: "think=1us,10s".into(),
    });
    let dir = tmpdir("csvscan");
    let f = write(&d, &dir);
    let csv = dir.join("scan.csv");
    for (repeats, rows) in [(false, 2 * 2), (true, 2 * 2)] {
        let mut args = vec![
            "report",
            f.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
        ];
        if repeats {
            args.push("--csv-repeats");
        }
        let o = evbench(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let body = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert!(lines[0].ends_with(",scan_name,scan_value"), "{}", lines[0]);
        assert_eq!(lines.len(), 1 + rows, "{body}");
        for l in &lines[1..] {
            let want = if l.starts_with("pingpong/pipe/block/pin=same/think=1us,") {
                ",think,1000"
            } else {
                assert!(
                    l.starts_with("pingpong/pipe/block/pin=same/think=10s,"),
                    "{l}"
                );
                ",think,10000000000"
            };
            assert!(l.ends_with(want), "{l}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Issue 19 (tester item 5): `report --svg DIR` on a document with nothing to plot
/// (its one case interrupted) says so in one line, writes nothing, creates no DIR, and
/// exits 0 (the report itself is complete).
#[test]
fn svg_with_nothing_to_plot_says_so() {
    let mut gone = case("futex", &[70_000.0], 20_000);
    gone.repeats[0].interrupted = true;
    gone.refresh();
    let d = doc(vec![gone]);
    assert!(export::svg::plots(&d).unwrap().is_empty());
    let dir = tmpdir("noplot");
    let f = write(&d, &dir);
    let plots = dir.join("plots");
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--svg",
        plots.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        format!(
            "evbench: --svg {}: nothing to plot (no case has a measured figure); no file written\n",
            plots.display()
        )
    );
    assert!(!plots.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 3: the histogram SVG and the other plots are written, with their axes and
/// legends; an interrupted case is absent from every plot.
#[test]
fn plots_are_written_and_leave_interrupted_cases_out() {
    let mut gone = case("futex", &[70_000.0], 20_000);
    gone.repeats[0].interrupted = true;
    gone.refresh();
    let one = {
        let mut c = Case::new(
            "pingpong",
            Some("eventfd-sem"),
            Some("block"),
            Some("pin=same"),
        );
        let mut h = Histogram::<u64>::new(3).unwrap();
        h.record(12_345).unwrap();
        let mut r = Repeat::new(Duration::from_millis(1));
        r.metric("ops_per_sec", Metric::higher("round trips/s"), 1000.0)
            .histogram("round_trip_ns", "ns", &h);
        c.push_repeat(r);
        c
    };
    let d = doc(vec![
        case("pipe", &[90_000.0, 100_000.0, 110_000.0], 10_000),
        gone,
        one,
    ]);
    let dir = tmpdir("svg");
    let f = write(&d, &dir);
    let plots = dir.join("plots");
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--svg",
        plots.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "pingpong-ops_per_sec.svg",
            "pingpong-round_trip_ns.histogram.svg",
            "pingpong-round_trip_ns.svg"
        ]
    );
    for n in &names {
        let s = std::fs::read_to_string(plots.join(n)).unwrap();
        assert!(!s.contains("futex"), "{n} draws the interrupted case");
        assert!(s.contains("pingpong/pipe/block/pin=same"), "{n}");
    }
    let hist = std::fs::read_to_string(plots.join("pingpong-round_trip_ns.histogram.svg")).unwrap();
    assert!(hist.contains("share of the samples (%)"));
    assert!(hist.contains("log scale; buckets: 90 linear per decade"));
    assert!(
        hist.contains("(3,000 samples)") && hist.contains("(1 sample)"),
        "{hist}"
    );
    let lat = std::fs::read_to_string(plots.join("pingpong-round_trip_ns.svg")).unwrap();
    assert!(lat.contains("(one sample)"));
    let bars = std::fs::read_to_string(plots.join("pingpong-ops_per_sec.svg")).unwrap();
    // 90k, 100k, 110k: geometric mean 99.7k, its 95% interval on the logs 77.7k–127.9k.
    let (g, ci) = export::svg::geo_ci95(&[90_000.0, 100_000.0, 110_000.0]).unwrap();
    let (lo, hi) = ci.unwrap();
    assert_eq!(
        [g, lo, hi].map(|v| evbench::output::figure(v, "")),
        ["99.7k", "77.7k", "127.9k"]
    );
    assert!(
        bars.contains("geometric mean 99.7k round trips/s (95% CI 77.7k–127.9k, 3 repeats)"),
        "{bars}"
    );
    assert!(bars.contains("one repeat: no interval"));
    // 1000 vs 100k: more than 10×, so the axis is logarithmic.
    assert!(bars.contains("log scale"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The JDK and the Debian HdrHistogram jar (libhdrhistogram-java, .ci/run installs it).
fn hdr_jar() -> PathBuf {
    for p in [
        "/usr/share/java/hdrhistogram.jar",
        "/usr/share/java/HdrHistogram.jar",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("the HdrHistogram jar is needed: apt-get install -y libhdrhistogram-java");
}

/// Writes the same intervals with the reference `HistogramLogWriter` from a spec file:
/// `comment TEXT`, `start MS`, then per interval `interval TAG START_NS ELAPSED_NS
/// VALUE:COUNT…`.
const REFERENCE_WRITER: &str = r#"
import org.HdrHistogram.*;
import java.io.*;
import java.nio.file.*;
import java.util.*;

public class RefLog {
    public static void main(String[] args) throws Exception {
        List<String> spec = Files.readAllLines(Paths.get(args[0]));
        HistogramLogWriter w = new HistogramLogWriter(new PrintStream(new FileOutputStream(args[1])));
        long start = 0;
        boolean header = false;
        for (String line : spec) {
            String[] f = line.split(" ", 2);
            if (f[0].equals("comment")) {
                w.outputComment(f[1]);
            } else if (f[0].equals("start")) {
                start = Long.parseLong(f[1]);
            } else if (f[0].equals("interval")) {
                if (!header) {
                    w.outputLogFormatVersion();
                    w.outputStartTime(start);
                    w.outputBaseTime(start);
                    w.outputLegend();
                    header = true;
                }
                String[] p = f[1].split(" ");
                Histogram h = new Histogram(3);
                for (int i = 3; i < p.length; i++) {
                    String[] vc = p[i].split(":");
                    h.recordValueWithCount(Long.parseLong(vc[0]), Long.parseLong(vc[1]));
                }
                h.setTag(p[0]);
                long s = Long.parseLong(p[1]), e = s + Long.parseLong(p[2]);
                w.outputIntervalHistogram(s / 1e9, e / 1e9, h, 1e6);
            }
        }
        w.close();
    }
}
"#;

fn java(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}", hdr_jar().display(), dir.display()))
        .args(args)
        .output()
        .expect("java runs (the JDK is on the image)");
    assert!(o.status.success(), "java {args:?}: {}", text(&o.stderr));
    o
}

fn decode(b64: &str) -> Histogram<u64> {
    use base64::Engine;
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap()
}

fn recorded(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| {
            (
                h.lowest_equivalent(v.value_iterated_to()),
                v.count_at_value(),
            )
        })
        .collect()
}

/// Item 5: our log matches the reference writer's line for line (payloads compared as
/// decoded histograms, the date comment up to its date), and HistogramLogProcessor
/// reads ours with the right counts and maximum.
#[test]
fn hlog_matches_the_java_reference() {
    let d = doc(vec![
        case("pipe", &[1.0, 2.0, 3.0], 10_000),
        case("eventfd", &[1.0, 2.0], 1_499_500),
    ]);
    let dir = tmpdir("hlog");
    let f = write(&d, &dir);
    let ours = dir.join("ours.hlog");
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--hlog",
        ours.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The same histograms, from the document, for the reference writer.
    let mut spec = String::new();
    for c in export::hlog::comments(&d) {
        spec.push_str(&format!("comment {c}\n"));
    }
    spec.push_str(&format!("start {}\n", export::hlog::start_ms(&d)));
    let mut reps: Vec<(&Case, &Repeat)> = d
        .cases
        .iter()
        .flat_map(|c| c.repeats.iter().map(move |r| (c, r)))
        .collect();
    reps.sort_by_key(|(_, r)| r.start_ns / 1_000_000);
    for (c, r) in &reps {
        for (name, h) in &r.histograms {
            let vals: Vec<String> = h
                .hdr
                .decode()
                .iter_recorded()
                .map(|v| format!("{}:{}", v.value_iterated_to(), v.count_at_value()))
                .collect();
            spec.push_str(&format!(
                "interval {}:{name} {} {} {}\n",
                c.id,
                r.start_ns,
                r.elapsed_ns,
                vals.join(" ")
            ));
        }
    }
    std::fs::write(dir.join("spec.txt"), spec).unwrap();
    std::fs::write(dir.join("RefLog.java"), REFERENCE_WRITER).unwrap();
    let javac = Command::new("javac")
        .arg("-cp")
        .arg(hdr_jar())
        .arg("-d")
        .arg(&dir)
        .arg(dir.join("RefLog.java"))
        .output()
        .expect("javac runs");
    assert!(javac.status.success(), "{}", text(&javac.stderr));
    let theirs = dir.join("theirs.hlog");
    java(
        &dir,
        &[
            "RefLog",
            dir.join("spec.txt").to_str().unwrap(),
            theirs.to_str().unwrap(),
        ],
    );
    let ours_s = std::fs::read_to_string(&ours).unwrap();
    let theirs_s = std::fs::read_to_string(&theirs).unwrap();
    let (a, b): (Vec<&str>, Vec<&str>) = (ours_s.lines().collect(), theirs_s.lines().collect());
    assert_eq!(a.len(), b.len(), "ours:\n{ours_s}\ntheirs:\n{theirs_s}");
    // 2 comments, version, StartTime, BaseTime, legend, 5 intervals.
    assert_eq!(a.len(), 11);
    for (x, y) in a.iter().zip(&b) {
        if x.starts_with("#[StartTime: ") {
            // The date after the comma depends on the time zone.
            assert_eq!(x.split(',').next(), y.split(',').next());
            assert_eq!(
                x.split(',').next().unwrap(),
                "#[StartTime: 1795415229.965 (seconds since epoch)"
            );
        } else if x.starts_with("Tag=") {
            let (xp, xh) = x.rsplit_once(',').unwrap();
            let (yp, yh) = y.rsplit_once(',').unwrap();
            assert_eq!(xp, yp);
            assert_eq!(recorded(&decode(xh)), recorded(&decode(yh)), "{xp}");
        } else {
            assert_eq!(x, y);
        }
    }
    // Exact columns of the second eventfd interval: repeat 2 starts at 250.4 ms, lasts
    // 124.456789 ms; Interval_Max is its maximum (1,499,500 + 7 + 999 ns, as the
    // histogram's bucket holds it) in ms, three decimals rounded half up.
    let max = d.cases[1].repeats[1].histograms["round_trip_ns"]
        .hdr
        .decode()
        .max();
    let thousandths = (max + 500) / 1000;
    let line = format!(
        "Tag=pingpong/eventfd/block/pin=same:round_trip_ns,0.250,0.124,{}.{:03},",
        thousandths / 1000,
        thousandths % 1000
    );
    assert!(a.iter().any(|l| l.starts_with(&line)), "{line}\n{ours_s}");
    // HistogramLogProcessor reads ours: the eventfd tag's total count and maximum.
    let prefix = dir.join("proc");
    java(
        &dir,
        &[
            "org.HdrHistogram.HistogramLogProcessor",
            "-i",
            ours.to_str().unwrap(),
            "-o",
            prefix.to_str().unwrap(),
            "-tag",
            "pingpong/eventfd/block/pin=same:round_trip_ns",
        ],
    );
    let hgrm = std::fs::read_to_string(dir.join("proc.hgrm")).unwrap();
    // Its footer: "#[Max     =        1.502, Total count    =         2000]".
    let field = |name: &str| -> String {
        hgrm.lines()
            .filter_map(|l| l.strip_prefix("#[")?.strip_suffix(']'))
            .flat_map(|l| l.split(','))
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .unwrap_or_else(|| panic!("no {name} in:\n{hgrm}"))
            .1
            .trim()
            .to_string()
    };
    assert_eq!(field("Total count"), "2000", "{hgrm}");
    let max: f64 = field("Max").parse().unwrap();
    let want = d.cases[1].merged("round_trip_ns").unwrap().max() as f64 / 1e6;
    assert!((max - want).abs() < 1e-3, "{max} vs {want}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 3: `compare --svg DIR --html FILE` draws baseline against current per case,
/// one plot per workload and metric, each side's median with its interval; the page
/// holds the verdict table (with those intervals) and the plots inline.
#[test]
fn compare_draws_baseline_against_current() {
    let base = doc(vec![
        case("pipe", &[100.0, 101.0, 99.0, 100.5, 99.5], 10_000),
        case("eventfd", &[200.0, 201.0, 199.0, 200.5, 199.5], 9_000),
    ]);
    let cur = doc(vec![
        case("pipe", &[80.0, 81.0, 79.0, 80.5, 79.5], 10_000),
        case("eventfd", &[200.0, 201.0, 199.0, 200.5, 199.5], 9_000),
    ]);
    let dir = tmpdir("compare");
    let (b, c) = (dir.join("base.json"), dir.join("cur.json"));
    base.write(&b).unwrap();
    cur.write(&c).unwrap();
    let plots = dir.join("plots");
    let html = dir.join("compare.html");
    let o = evbench(&[
        "compare",
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        "--svg",
        plots.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        // Percentiles are judged (and drawn) only when asked for.
        "--percentiles",
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        text(&o.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // One plot per workload and figure judged: the metric and the histogram's p50, p99.
    assert_eq!(
        names,
        [
            "compare-pingpong-ops_per_sec.svg",
            "compare-pingpong-round_trip_ns.p50.svg",
            "compare-pingpong-round_trip_ns.p99.svg"
        ]
    );
    let svg = std::fs::read_to_string(plots.join(&names[0])).unwrap();
    assert!(
        svg.contains("pingpong/pipe/block/pin=same — 100 → 80.0 (-20.0%, REGRESSED; 99% interval of the change ["),
        "{svg}"
    );
    assert!(
        svg.contains("pingpong/eventfd/block/pin=same — 200 → 200 (+0.0%, unchanged; 99% interval of the change ["),
        "{svg}"
    );
    // Both sides drawn per case (review): a baseline ring and a current dot for each
    // of the two cases, each with its 95% interval of the median as the whisker.
    assert_eq!(svg.matches("<circle").count(), 4, "{svg}");
    assert!(svg.contains("round trips/s; grey ring: baseline median, dot: current median (colour: verdict); whiskers: 95% bootstrap interval of each median"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<caption>verdicts</caption>"));
    // Each side's median with its 95% interval (5 repeats: their range).
    assert!(
        page.contains("<td class=\"n\">100 [99.0, 101]</td><td class=\"n\">80.0 [79.0, 81.0]</td>"),
        "{page}"
    );
    assert_eq!(page.matches("<svg").count(), 3);
    // An output directory that cannot be made is refused before any work, in one line.
    let o = evbench(&[
        "compare",
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        "--svg",
        "/proc/evbench-no/plots",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 2: `evbench run --csv FILE` writes the same per-case table from a real run:
/// pingpong's four metrics and its round-trip histogram, one row each.
#[test]
fn run_writes_csv() {
    let dir = tmpdir("runcsv");
    let csv = dir.join("pp.csv");
    let o = evbench(&[
        "run",
        "pingpong",
        "-r",
        "300",
        "--warmup-rounds",
        "10",
        "--repeat",
        "2",
        "--probes",
        "none",
        "-q",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let body = std::fs::read_to_string(&csv).unwrap();
    let names: Vec<(String, String, String)> = body
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[5].to_string(), f[6].to_string(), f[9].to_string())
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("metric", "involuntary_per_round", "2"),
        ("metric", "ops_per_sec", "2"),
        ("metric", "voluntary_per_round", "2"),
        ("metric", "wakeups_per_event", "2"),
        ("histogram", "round_trip_ns", "600"),
    ]
    .map(|(a, b, c)| (a.into(), b.into(), c.into()))
    .to_vec();
    assert_eq!(names, want, "{body}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 1: a time column's unit comes from its smallest figure, so a 6 µs p50 beside a
/// 1.2 ms one reads 6.5, not "0.0" in a milliseconds column.
#[test]
fn time_columns_never_round_a_figure_to_zero() {
    let d = doc(vec![
        case("pipe", &[85_200.0], 6_000),
        case("eventfd", &[1_000.0], 1_200_000),
    ]);
    let t = export::side_by_side("pingpong", &d.cases.iter().collect::<Vec<_>>());
    assert_eq!(t.header[3], "round_trip p50 (µs)");
    // 1000 values from base over 1000 ns: p50 base + 500 ns, as the histogram's bucket
    // holds it (at 1.2 ms a bucket is 1 µs wide at 3 significant digits).
    let p50_us = |lo| even_hist(lo, 1000, 1000).value_at_quantile(0.5) as f64 / 1e3;
    assert_eq!(t.rows[0][3], format!("{:.1}", p50_us(6_000)));
    assert_eq!(t.rows[0][3], "6.5");
    assert_eq!(t.rows[1][3], format!("{:.1}", p50_us(1_200_000)));
    assert_ne!(t.rows[1][3], "1.2", "the column stays in µs");
}

/// Issue 16 item 1: `report` shows an open loop's offered rate beside the achieved one
/// and what the schedule could not fit, summed over the counted repeats, in text and
/// Markdown; the shortfall warning the run recorded is shown.
#[test]
fn report_shows_the_open_loop_schedule() {
    let mut c = Case::new("http", None, Some("epoll"), None);
    for (requests, missed) in [(146_670u64, 253_000u64), (150_000, 249_990)] {
        let mut r = Repeat::new(Duration::from_secs(2));
        r.metric(
            "requests_per_sec",
            Metric::higher("req/s"),
            requests as f64 / 2.0,
        )
        .detail(
            "client",
            serde_json::json!({
                "requests": requests, "seconds": 2.0, "req_per_sec": requests as f64 / 2.0,
                "offered_rate": 200000.0, "below_target": true, "late": 165,
                "missed": missed, "failed": 0, "scheduled": 400_000,
            }),
        );
        c.push_repeat(r);
    }
    let mut d = doc(vec![c]);
    let w = "http/epoll (clean 1/2): achieved 73,335 req/s, 63.3 % below the offered 200,000 req/s (253,000 of 400,000 scheduled requests missed, 165 late)";
    d.warnings.push(w.into());
    let t = export::open_loop_table(&d.cases.iter().collect::<Vec<_>>()).unwrap();
    // 296,670 answered in 4 s: 74,167.5 req/s, 62.9% below 200,000.
    assert_eq!(
        t.rows,
        [[
            "http/epoll",
            "200,000",
            "74,168",
            "62.9%",
            "800,000",
            "296,670",
            "330",
            "502,990",
            "0"
        ]
        .map(String::from)
        .to_vec()]
    );
    let dir = tmpdir("openloop");
    let f = write(&d, &dir);
    let term = text(&evbench(&["report", f.to_str().unwrap()]).stdout);
    let md = text(&evbench(&["report", f.to_str().unwrap(), "--markdown"]).stdout);
    assert!(term.contains(&format!("warning: {w}")), "{term}");
    assert!(term.contains(&t.text()), "{term}");
    assert!(md.contains(&format!("> **Warning:** {w}")), "{md}");
    assert!(md.contains(&t.markdown()), "{md}");
    // A closed loop has no schedule to show.
    let closed = doc(vec![case("pipe", &[1.0], 1000)]);
    assert!(export::open_loop_table(&closed.cases.iter().collect::<Vec<_>>()).is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 1: a figure no repeat measured is written as `null` (never 0) in `across`, read
/// back as no data, and left empty in the CSV.
#[test]
fn an_unmeasured_figure_is_null_not_zero() {
    let mut c = case("pipe", &[50_000.0], 10_000);
    c.repeats[0].interrupted = true;
    c.refresh();
    let d = doc(vec![c]);
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(
        v["cases"][0]["metrics"]["ops_per_sec"]["across"],
        serde_json::json!({"n": 0, "mean": null, "median": null, "stddev": null, "min": null, "max": null})
    );
    let dir = tmpdir("null");
    let f = write(&d, &dir);
    let back = RunResult::read(&f).unwrap();
    assert_eq!(back.cases[0].metrics["ops_per_sec"].across.n, 0);
    let csv = dir.join("c.csv");
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let body = std::fs::read_to_string(&csv).unwrap();
    let row = body.lines().find(|l| l.contains(",ops_per_sec,")).unwrap();
    assert!(row.contains(",0,,,,,,,"), "n 0 and empty statistics: {row}");
    // A repeat without the figure (nothing measured) is not counted: n is 1, not 2.
    let mut c = case("eventfd", &[80_000.0], 10_000);
    let mut r = Repeat::new(Duration::from_millis(1));
    r.metric("ops_per_sec", Metric::higher("round trips/s"), f64::NAN);
    c.push_repeat(r);
    let a = &c.metrics["ops_per_sec"].across;
    assert_eq!((a.n, a.median), (1, 80_000.0));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 1: a percentile table's unit comes from its smallest figure: a 16 µs minimum
/// beside 5 ms medians reads 16.0 in a µs table, never 0.0 in a ms one.
#[test]
fn percentile_tables_never_round_the_minimum_to_zero() {
    let mut h = Histogram::<u64>::new(3).unwrap();
    h.record(16_000).unwrap();
    for _ in 0..10 {
        h.record(5_000_000).unwrap();
    }
    let mut c = Case::new("pingpong", Some("pipe"), Some("block"), Some("pin=same"));
    let mut r = Repeat::new(Duration::from_millis(1));
    r.metric("ops_per_sec", Metric::higher("round trips/s"), 1.0)
        .histogram("round_trip_ns", "ns", &h);
    c.push_repeat(r);
    let d = doc(vec![c]);
    let t = export::percentile_table("round_trip_ns", &d.cases.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(t.title, "round_trip: percentiles in µs, all repeats merged");
    let p50 = format!("{:.1}", h.value_at_quantile(0.5) as f64 / 1e3);
    assert_eq!(&t.rows[0][1..4], &["11", "16.0", p50.as_str()]);
}

/// `report --csv -` writes the CSV to stdout (in place of the text report), not to a
/// file named "-"; it is the same CSV a file gets.
#[test]
fn csv_dash_is_stdout() {
    let d = doc(vec![case("pipe", &[85_200.0, 90_000.0], 10_000)]);
    let dir = tmpdir("csvdash");
    let f = write(&d, &dir);
    let file = dir.join("c.csv");
    let o = evbench(&[
        "report",
        f.to_str().unwrap(),
        "--csv",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(["report", f.to_str().unwrap(), "--csv", "-"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), std::fs::read_to_string(&file).unwrap());
    assert!(!dir.join("-").exists());
    std::fs::remove_dir_all(dir).unwrap();
}
