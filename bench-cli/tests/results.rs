//! The results document, its exports and the regression gate, on synthetic result files
//! with known distributions.
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use evbench::{
    export,
    results::{
        compare::{self, Verdict},
        Case, Metric, ProbesState, Repeat, RunResult,
    },
};
use hdrhistogram::Histogram;

fn tmpdir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "evbench-results-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A histogram of `n` values spread evenly over [lo, lo + span): its percentiles are
/// known (p99 of 1..=1000 is 990).
fn even_hist(lo: u64, span: u64, n: u64) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap();
    for i in 0..n {
        h.record(lo + i * span / n).unwrap();
    }
    h
}

fn run_doc() -> RunResult {
    RunResult::new(
        vec![
            "evbench".into(),
            "run".into(),
            "--repeat".into(),
            "5".into(),
        ],
        serde_json::json!({"repeat": 5, "probes": "none"}),
        ProbesState::off("synthetic result"),
        b"",
    )
}

/// A case whose repeats have `ops` as their ops_per_sec (and no histogram).
fn metric_case(mechanism: &str, ops: &[f64]) -> Case {
    let mut c = Case::new("pingpong", Some(mechanism), Some("block"), Some("pin=same"));
    c.option("rounds", 10_000);
    for &v in ops {
        let mut r = Repeat::new(Duration::from_millis(100));
        r.metric("ops_per_sec", Metric::higher("ops/s"), v);
        c.push_repeat(r);
    }
    c
}

fn doc_with(cases: Vec<Case>) -> RunResult {
    let mut d = run_doc();
    for c in cases {
        d.push_case(c);
    }
    d
}

/// A full case as the run code builds it: a metric, a histogram and counters per repeat.
fn full_case(mechanism: &str, base_ns: u64, repeats: u32) -> Case {
    let mut c = Case::new(
        "pingpong",
        Some(mechanism),
        Some("block"),
        Some("pin=split"),
    );
    c.option("rounds", 1000).option("pin", "split");
    for k in 0..u64::from(repeats) {
        let h = even_hist(base_ns + k * 10, 1000, 1000);
        let mut r = Repeat::new(Duration::from_nanos(h.len() * h.mean() as u64));
        r.metric("ops_per_sec", Metric::higher("ops/s"), 1e9 / h.mean())
            .metric("switches_per_op", Metric::lower("switches/op"), 2.0)
            .histogram("round_trip_ns", "ns", &h)
            .histogram("kernel.offcpu_ns", "ns", &even_hist(base_ns / 2, 500, 2000))
            .counter("rounds", 1000)
            .detail(
                "tasks",
                serde_json::json!([{"role": "driver", "sent": 1000}]),
            );
        c.push_repeat(r);
    }
    c
}

#[test]
fn a_written_file_reads_back_identically() {
    let mut d = doc_with(vec![
        full_case("pipe", 5_000, 3),
        full_case("eventfd", 4_000, 3),
    ]);
    d.finish(evbench::results::NoiseMeter::start().finish());
    let dir = tmpdir("roundtrip");
    let path = dir.join("result.json");
    d.write(&path).unwrap();
    let back = RunResult::read(&path).unwrap();
    assert_eq!(back, d);
    // Histograms, compared bucket by bucket.
    for (a, b) in d.cases.iter().zip(&back.cases) {
        for (ra, rb) in a.repeats.iter().zip(&b.repeats) {
            for (name, h) in &ra.histograms {
                assert_eq!(h.hdr, rb.histograms[name].hdr, "{name}");
                assert_eq!(h.hdr.decode().len(), 1000.max(h.hdr.decode().len()));
            }
        }
    }
    // Across-repeat summaries and merged histograms are what they must be.
    let c = &back.cases[0];
    assert_eq!(c.repeats.len(), 3);
    assert_eq!(c.metrics["switches_per_op"].across.median, 2.0);
    assert_eq!(c.histograms["round_trip_ns"].summary.count, 3000);
    // Repeats read back merge whole, even when a later one reaches higher values.
    let merged = c.merged("round_trip_ns").unwrap();
    assert_eq!(merged.len(), 3000);
    assert_eq!(
        merged.max(),
        c.repeats[2].histograms["round_trip_ns"].hdr.decode().max()
    );
    // The ASCII histogram shows every value once.
    let shown: u64 = export::ascii_histogram(&merged, "ns")
        .lines()
        .skip(1)
        .map(|l| {
            l.split(':')
                .nth(1)
                .unwrap()
                .split('|')
                .next()
                .unwrap()
                .trim()
                // Counts carry thousands separators ("1,000").
                .replace(',', "")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(shown, 3000);
    assert_eq!(c.repeats[1].start_ns, c.repeats[0].elapsed_ns);
    assert_eq!(c.id, "pingpong/pipe/block/pin=split");
    std::fs::remove_dir_all(dir).unwrap();
}

fn python_with_hdrh() -> &'static str {
    let ok = |py: &str| {
        Command::new(py)
            .args(["-c", "import hdrh.histogram, hdrh.log"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok("python3") {
        // The reference implementation from PyPI (HdrHistogram_py).
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "hdrhistogram"])
            .status();
    }
    assert!(
        ok("python3"),
        "python3 with the hdrhistogram package is needed: python3 -m pip install hdrhistogram (.ci/python-deps.sh)"
    );
    "python3"
}

/// HdrHistogram_py decodes every histogram of the document, and reads the interval log.
#[test]
fn histograms_decode_with_another_implementation() {
    let py = python_with_hdrh();
    let d = doc_with(vec![full_case("pipe", 5_000, 2)]);
    let dir = tmpdir("python");
    let json = dir.join("result.json");
    let hlog = dir.join("result.hlog");
    d.write(&json).unwrap();
    let mut f = std::fs::File::create(&hlog).unwrap();
    export::hlog::write(&d, &mut f).unwrap();
    drop(f);
    let script = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
doc = json.load(open(sys.argv[1]))
out = []
for case in doc["cases"]:
    for rep in case["repeats"]:
        for name, h in sorted(rep["histograms"].items()):
            d = HdrHistogram.decode(h["hdr"])
            out.append([name, d.get_total_count(), d.get_min_value(), d.get_max_value(),
                        d.get_value_at_percentile(50), d.get_value_at_percentile(99)])
reader = HistogramLogReader(sys.argv[2], HdrHistogram(1, 3600 * 10**9, 3))
intervals = []
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    intervals.append([h.get_tag(), h.get_total_count()])
print(json.dumps({"hist": out, "intervals": intervals}))
"#;
    let o = Command::new(py)
        .args(["-c", script])
        .arg(&json)
        .arg(&hlog)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hist = v["hist"].as_array().unwrap();
    let mut want = Vec::new();
    for r in &d.cases[0].repeats {
        for (name, h) in &r.histograms {
            let h = &h.hdr.decode();
            // Counts are 1000 and 2000: p50 and p99 fall on whole counts, where every
            // implementation's rounding agrees.
            want.push(serde_json::json!([
                name,
                h.len(),
                h.min(),
                h.max(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99)
            ]));
        }
    }
    assert_eq!(hist, &want);
    // The interval log: one interval per repeat and histogram, in start order, tagged.
    let intervals = v["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 4);
    assert_eq!(
        intervals[0],
        serde_json::json!(["pingpong/pipe/block/pin=split:kernel.offcpu_ns", 2000])
    );
    assert_eq!(
        intervals[1],
        serde_json::json!(["pingpong/pipe/block/pin=split:round_trip_ns", 1000])
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The crate's own log reader sees the same intervals with the same histograms.
#[test]
fn interval_log_reads_back() {
    use hdrhistogram::serialization::{interval_log::*, Deserializer};
    let d = doc_with(vec![full_case("pipe", 5_000, 3)]);
    let mut buf = Vec::new();
    export::hlog::write(&d, &mut buf).unwrap();
    let mut n = 0;
    for e in IntervalLogIterator::new(&buf) {
        if let Ok(LogEntry::Interval(i)) = e {
            let tag = i.tag().unwrap().as_str().to_string();
            let name = tag.rsplit(':').next().unwrap();
            let k = n / 2;
            let rep = &d.cases[0].repeats[k];
            // The log keeps milliseconds.
            let ms = |d: Duration| d.as_secs_f64();
            assert!((ms(i.start_timestamp()) - rep.start_ns as f64 / 1e9).abs() <= 0.0005 + 1e-9);
            assert!((ms(i.duration()) - rep.elapsed_ns as f64 / 1e9).abs() <= 0.0005 + 1e-9);
            let bytes = base64_decode(i.encoded_histogram());
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .unwrap();
            assert_eq!(h, rep.histograms[name].hdr.decode());
            n += 1;
        }
    }
    assert_eq!(n, 6);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn verdict_of(base: &[f64], cur: &[f64]) -> (Verdict, compare::Row) {
    let b = doc_with(vec![metric_case("pipe", base)]);
    let c = doc_with(vec![metric_case("pipe", cur)]);
    let cmp = compare::compare(&b, &c, 0.05).unwrap();
    assert_eq!(cmp.rows.len(), 1);
    let row = cmp.rows[0].clone();
    (row.verdict, row)
}

const BASE: [f64; 7] = [
    100_000.0, 100_300.0, 99_800.0, 100_100.0, 99_900.0, 100_200.0, 99_700.0,
];

fn scaled(v: &[f64], k: f64) -> Vec<f64> {
    v.iter().map(|x| x * k).collect()
}

#[test]
fn identical_results_are_unchanged() {
    let (v, row) = verdict_of(&BASE, &BASE);
    assert_eq!(v, Verdict::Unchanged);
    assert_eq!(row.change, 0.0);
    assert!(row.interval.low <= 0.0 && row.interval.high >= 0.0);
    assert_eq!(row.p_value, 1.0);
}

#[test]
fn a_20_percent_slowdown_regresses() {
    let (v, row) = verdict_of(&BASE, &scaled(&BASE, 0.8));
    assert_eq!(v, Verdict::Regressed);
    assert!((row.change + 0.2).abs() < 1e-12);
    // And the other way round it is an improvement.
    let (v, _) = verdict_of(&scaled(&BASE, 0.8), &BASE);
    assert_eq!(v, Verdict::Improved);
}

/// An interval that straddles the threshold is inconclusive: never "unchanged".
#[test]
fn an_8_percent_shift_in_huge_variance_is_inconclusive() {
    let noisy = [
        70_000.0, 130_000.0, 85_000.0, 115_000.0, 100_000.0, 60_000.0, 140_000.0,
    ];
    // The same spread, 8% slower, in another order.
    let cur: Vec<f64> = [5, 0, 3, 6, 1, 4, 2]
        .iter()
        .map(|&i| noisy[i] * 0.92)
        .collect();
    let (v, row) = verdict_of(&noisy, &cur);
    assert_eq!(v, Verdict::Inconclusive);
    assert!((row.change + 0.08).abs() < 1e-9, "{}", row.change);
    assert!(
        row.interval.low < -0.05 && row.interval.high > 0.0,
        "{:?}",
        row.interval
    );
}

fn binomial(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[test]
fn a_6_percent_shift_with_a_tight_spread_regresses() {
    let (v, row) = verdict_of(&BASE, &scaled(&BASE, 0.94));
    assert_eq!(v, Verdict::Regressed);
    assert!((row.change + 0.06).abs() < 1e-9);
    assert!(row.interval.high < -0.05, "{:?}", row.interval);
    // Known answer: every current repeat is below every baseline repeat, so only the
    // two extreme splits of the 14 values are as extreme: p = 2 / C(14, 7) = 2/3432.
    assert!(
        (row.p_value - 2.0 / binomial(14, 7)).abs() < 1e-15,
        "{}",
        row.p_value
    );
    // The interval of two samples that differ only by a constant factor is bounded by
    // ratios of their order statistics around 0.94.
    let (lo, hi) = (row.interval.low, row.interval.high);
    assert!(lo > -0.07 && lo <= -0.06 && hi >= -0.06, "{lo} {hi}");
}

#[test]
fn a_lower_is_better_metric_regresses_upwards() {
    let mk = |k: f64| {
        let mut c = Case::new("pipetest", Some("pipe"), Some("epoll"), None);
        for v in BASE {
            let mut r = Repeat::new(Duration::from_millis(10));
            r.metric("us_per_event", Metric::lower("µs/event"), v / 1e5 * k);
            c.push_repeat(r);
        }
        doc_with(vec![c])
    };
    let cmp = compare::compare(&mk(1.0), &mk(1.2), 0.05).unwrap();
    assert_eq!(cmp.rows[0].verdict, Verdict::Regressed);
    let cmp = compare::compare(&mk(1.0), &mk(0.8), 0.05).unwrap();
    assert_eq!(cmp.rows[0].verdict, Verdict::Improved);
}

#[test]
fn histograms_are_judged_by_their_p50_and_p99() {
    let b = doc_with(vec![full_case("pipe", 5_000, 5)]);
    let c = doc_with(vec![full_case("pipe", 7_000, 5)]);
    let cmp = compare::compare_with(
        &b,
        &c,
        compare::Settings {
            threshold: 0.05,
            percentiles: true,
        },
    )
    .unwrap();
    let row = |m: &str| cmp.rows.iter().find(|r| r.metric == m).unwrap();
    assert_eq!(row("round_trip_ns.p50").verdict, Verdict::Regressed);
    assert_eq!(row("round_trip_ns.p99").verdict, Verdict::Regressed);
    assert_eq!(row("ops_per_sec").verdict, Verdict::Regressed);
    assert_eq!(row("switches_per_op").verdict, Verdict::Unchanged);
    assert_eq!(row("kernel.offcpu_ns.p50").verdict, Verdict::Regressed);
}

fn write(dir: &Path, name: &str, d: &RunResult) -> PathBuf {
    let p = dir.join(name);
    d.write(&p).unwrap();
    p
}

fn evbench(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn compare_exit_status_and_messages() {
    let dir = tmpdir("exit");
    let base = write(
        &dir,
        "base.json",
        &doc_with(vec![
            metric_case("pipe", &BASE),
            metric_case("futex", &BASE),
        ]),
    );
    let same = write(
        &dir,
        "same.json",
        &doc_with(vec![
            metric_case("pipe", &BASE),
            metric_case("eventfd", &BASE),
        ]),
    );
    let slow = write(
        &dir,
        "slow.json",
        &doc_with(vec![metric_case("pipe", &scaled(&BASE, 0.8))]),
    );
    let md = dir.join("summary.md");

    // Nothing regressed: 0; the case only on one side is listed, not failed.
    let (code, out, _) = evbench(&["compare".as_ref(), base.as_os_str(), same.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("added (only in current): pingpong/eventfd/block/pin=same"),
        "{out}"
    );
    assert!(
        out.contains("removed (only in baseline): pingpong/futex/block/pin=same"),
        "{out}"
    );

    // A regression: 1, and the Markdown table says so.
    let (code, out, _) = evbench(&[
        "compare".as_ref(),
        base.as_os_str(),
        slow.as_os_str(),
        "--markdown".as_ref(),
        md.as_os_str(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REGRESSED"), "{out}");
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(
        summary.contains("| `pingpong/pipe/block/pin=same` | ops_per_sec |"),
        "{summary}"
    );
    assert!(summary.contains("**regressed**"), "{summary}");

    // A higher threshold lets it pass.
    let (code, ..) = evbench(&[
        "compare".as_ref(),
        base.as_os_str(),
        slow.as_os_str(),
        "--threshold".as_ref(),
        "25%".as_ref(),
    ]);
    assert_eq!(code, 0);

    // Unusable input: 2, saying which.
    let missing = dir.join("missing.json");
    let (code, _, err) = evbench(&["compare".as_ref(), base.as_os_str(), missing.as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("current: cannot read"), "{err}");

    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    v["schema_version"] = 99.into();
    let future = dir.join("future.json");
    std::fs::write(&future, v.to_string()).unwrap();
    let (code, _, err) = evbench(&["compare".as_ref(), future.as_os_str(), base.as_os_str()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("baseline: incompatible schema version 99"),
        "{err}"
    );

    let other = write(
        &dir,
        "other.json",
        &doc_with(vec![metric_case("eventfd", &BASE)]),
    );
    let (code, _, err) = evbench(&["compare".as_ref(), base.as_os_str(), other.as_os_str()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nothing in common: no case is in both files"),
        "{err}"
    );

    let notjson = dir.join("notjson.json");
    std::fs::write(&notjson, "{\"hello\": 1}").unwrap();
    let (code, _, err) = evbench(&["compare".as_ref(), notjson.as_os_str(), base.as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("not an evbench results document"), "{err}");

    // Another machine: a warning, and 2 with --strict.
    let mut elsewhere = doc_with(vec![metric_case("pipe", &BASE)]);
    elsewhere.machine.cpu_model = "Imaginary CPU @ 9 GHz".into();
    elsewhere.machine.cpus += 6;
    let elsewhere = write(&dir, "elsewhere.json", &elsewhere);
    let (code, out, err) = evbench(&["compare".as_ref(), base.as_os_str(), elsewhere.as_os_str()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("different machines: CPU model differs"),
        "{out}"
    );
    assert!(out.contains("CPU count differs"), "{out}");
    assert!(err.contains("different machines"), "{err}");
    let (code, ..) = evbench(&[
        "compare".as_ref(),
        base.as_os_str(),
        elsewhere.as_os_str(),
        "--strict".as_ref(),
    ]);
    assert_eq!(code, 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_renders_every_format() {
    let dir = tmpdir("report");
    let d = doc_with(vec![
        full_case("pipe", 5_000, 3),
        full_case("eventfd", 4_000, 3),
    ]);
    let json = write(&dir, "r.json", &d);
    let svgdir = dir.join("svg");
    let html = dir.join("r.html");
    let hlog = dir.join("r.hlog");
    let (code, out, err) = evbench(&[
        "report".as_ref(),
        json.as_os_str(),
        "--svg".as_ref(),
        svgdir.as_os_str(),
        "--html".as_ref(),
        html.as_os_str(),
        "--hlog".as_ref(),
        hlog.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Side by side, with the ratio of the second case's median to the first's.
    let ratio = d.cases[1].metrics["ops_per_sec"].across.median
        / d.cases[0].metrics["ops_per_sec"].across.median;
    assert!(out.contains(&format!("×{ratio:.2}")), "{out}");
    assert!(out.contains("switches/op"), "{out}");
    // Issue 18: the unit of a percentile table is in its title.
    assert!(out.contains("round_trip: percentiles in µs"), "{out}");
    assert!(out.contains("distribution"), "{out}");
    // Five SVGs (throughput bars; per latency histogram its percentile plot and the
    // histogram itself) and one HTML holding them inline.
    let mut svgs: Vec<String> = std::fs::read_dir(&svgdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    svgs.sort();
    assert_eq!(
        svgs,
        [
            "pingpong-kernel.offcpu_ns.histogram.svg",
            "pingpong-kernel.offcpu_ns.svg",
            "pingpong-ops_per_sec.svg",
            "pingpong-round_trip_ns.histogram.svg",
            "pingpong-round_trip_ns.svg"
        ]
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 5);
    assert!(
        !page.contains("http://") || !page.contains("<script"),
        "no scripts"
    );
    assert!(
        !page.contains("<link") && !page.contains("src=\"http"),
        "nothing fetched"
    );
    assert!(std::fs::read_to_string(&hlog)
        .unwrap()
        .contains("Tag=pingpong/pipe/block/pin=split:round_trip_ns,"));
    let (code, md, _) = evbench(&["report".as_ref(), json.as_os_str(), "--markdown".as_ref()]);
    assert_eq!(code, 0);
    assert!(md.contains("| case |"), "{md}");
    std::fs::remove_dir_all(dir).unwrap();
}
