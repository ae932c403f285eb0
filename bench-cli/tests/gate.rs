//! The regression gate (issue 13): each verdict on synthetic documents with known
//! values, the near-zero baseline, each exit code (every output-write failure included:
//! a directory, a read-only filesystem, a path under /proc, a full tmpfs), pooling,
//! the Markdown and JSON shapes, verdicts that ignore `options`, and a real pair of runs
//! where `--think` makes a regression of known size on exactly one case.
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use evbench::results::{
    compare::{self, Scale, Settings, Verdict},
    Case, Metric, ProbesState, Repeat, RunResult, PER_OP_NOISE_FLOOR,
};
use serde_json::Value;

fn tmpdir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "evbench-gate-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn doc(cases: Vec<Case>) -> RunResult {
    let mut d = RunResult::new(
        vec!["evbench".into(), "run".into()],
        serde_json::json!({"repeat": 5, "probes": "none"}),
        ProbesState::off("synthetic result"),
        b"",
    );
    for c in cases {
        d.push_case(c);
    }
    d
}

/// A pipetest case whose repeats have `us` as us_per_event (lower is better, no floor).
fn us_case(mechanism: &str, us: &[f64]) -> Case {
    let mut c = Case::new("pipetest", Some(mechanism), Some("epoll"), None);
    c.option("writes", 2000);
    for &v in us {
        let mut r = Repeat::new(Duration::from_millis(10));
        r.metric("us_per_event", Metric::lower("µs/event"), v);
        c.push_repeat(r);
    }
    c
}

/// The near-zero case: pipetest/pipe/epoll with wakeups_per_op (lower, floor 0.1).
fn wakeups_case(values: &[f64]) -> Case {
    let mut c = Case::new("pipetest", Some("pipe"), Some("epoll"), None);
    for &v in values {
        let mut r = Repeat::new(Duration::from_millis(10));
        r.metric(
            "wakeups_per_op",
            Metric::lower("wakeups/op").with_noise_floor(PER_OP_NOISE_FLOOR),
            v,
        );
        c.push_repeat(r);
    }
    c
}

const BASE: [f64; 6] = [5.00, 5.02, 4.98, 5.01, 4.99, 5.03];

fn scaled(k: f64) -> Vec<f64> {
    BASE.iter().map(|v| v * k).collect()
}

fn one(base: &[f64], cur: &[f64]) -> compare::Row {
    let c = compare::compare(
        &doc(vec![us_case("pipe", base)]),
        &doc(vec![us_case("pipe", cur)]),
        0.05,
    )
    .unwrap();
    assert_eq!(c.rows.len(), 1);
    c.rows[0].clone()
}

#[test]
fn each_verdict_from_known_values() {
    // +20% µs/event with a 1% spread: the 99% interval is wholly above +5%.
    let r = one(&BASE, &scaled(1.2));
    assert_eq!(r.verdict, Verdict::Regressed);
    assert_eq!(r.scale, Scale::Relative);
    assert!(
        r.interval.low > 0.05 && r.interval.level == 0.99,
        "{:?}",
        r.interval
    );
    // −20%: improved.
    assert_eq!(one(&BASE, &scaled(0.8)).verdict, Verdict::Improved);
    // The same values: the 90% interval lies within ±5%.
    let r = one(&BASE, &BASE);
    assert_eq!(r.verdict, Verdict::Unchanged);
    assert!(r.equivalence.low > -0.05 && r.equivalence.high < 0.05);
    assert_eq!(r.equivalence.level, 0.90);
}

/// The failures: a 2x slowdown where one repeat of six escaped it reads as a
/// wide interval reaching below +5% — inconclusive, never unchanged; and a 3-vs-3 pair
/// where one repeat was hit by a burst is inconclusive too, never a regression.
#[test]
fn a_straddling_interval_is_inconclusive_never_unchanged() {
    let mixed = [10.0, 10.1, 9.9, 4.9, 10.2, 5.0];
    let r = one(&BASE, &mixed);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{:?}", r.interval);
    assert!(r.interval.low < 0.05 && r.interval.high > 0.05);
    // Huge spread, no shift: the interval straddles both bounds.
    let noisy = [3.5, 6.5, 4.2, 5.8, 5.0, 3.0];
    let r = one(&noisy, &[6.0, 3.2, 5.1, 4.0, 6.4, 3.6]);
    assert_eq!(r.verdict, Verdict::Inconclusive);
    let n = r.repeats_to_decide;
    assert!(n.is_none_or(|n| n > 6), "{n:?}");
    // One repeat of three at twice the time: the median moves, the 99% interval does not
    // clear +5%.
    let r = one(&[5.2, 5.25, 5.3], &[5.2, 10.5, 10.6]);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{:?}", r.interval);
}

/// Issue 13 item 3: five repeats of 0.0 wakeups/op against five of 1.0 is a regression
/// on the absolute scale (+1.0 against ±0.1), exit 1.
#[test]
fn a_near_zero_baseline_is_judged_on_the_difference() {
    let b = doc(vec![wakeups_case(&[0.0; 5])]);
    let c = doc(vec![wakeups_case(&[1.0; 5])]);
    let cmp = compare::compare(&b, &c, 0.05).unwrap();
    let r = &cmp.rows[0];
    assert_eq!(r.verdict, Verdict::Regressed);
    assert_eq!(r.scale, Scale::Absolute);
    assert_eq!((r.interval.low, r.interval.high), (1.0, 1.0));
    assert_eq!(r.tolerance, 0.1);
    assert_eq!(r.noise_floor, 0.1);
    assert_eq!(r.difference, 1.0);
    // 0.0 → 0.05: within the floor (unchanged); 0.0 → {0, 0.3}: inconclusive.
    let c = doc(vec![wakeups_case(&[0.05; 5])]);
    assert_eq!(
        compare::compare(&b, &c, 0.05).unwrap().rows[0].verdict,
        Verdict::Unchanged
    );
    let c = doc(vec![wakeups_case(&[0.0, 0.3, 0.0, 0.3, 0.3])]);
    assert_eq!(
        compare::compare(&b, &c, 0.05).unwrap().rows[0].verdict,
        Verdict::Inconclusive
    );
    // Within three floors of zero counts as near zero: 0.25 → 0.5 is +100% relative but
    // +0.25 absolute, judged against ±0.1: regressed.
    let b = doc(vec![wakeups_case(&[0.25; 5])]);
    let c = doc(vec![wakeups_case(&[0.5; 5])]);
    let r = &compare::compare(&b, &c, 0.05).unwrap().rows[0];
    assert_eq!((r.scale, r.verdict), (Scale::Absolute, Verdict::Regressed));

    // And through the binary: exit 1, the change printed as a difference.
    let dir = tmpdir("nearzero");
    let bp = write(&dir, "b.json", &doc(vec![wakeups_case(&[0.0; 5])]));
    let cp = write(&dir, "c.json", &doc(vec![wakeups_case(&[1.0; 5])]));
    let (code, out, _) = evbench(&["compare".as_ref(), bp.as_os_str(), cp.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("+1.000 wakeups/op"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Percentiles are judged only with --percentiles, each with one histogram bucket as
/// its noise floor.
#[test]
fn percentiles_are_opt_in_with_a_bucket_as_floor() {
    let case = |lo: u64| {
        let mut c = Case::new("pingpong", Some("pipe"), Some("block"), Some("pin=same"));
        for k in 0..5 {
            let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            for i in 0..1000 {
                h.record(lo + k * 10 + i).unwrap();
            }
            let mut r = Repeat::new(Duration::from_millis(10));
            r.metric("ops_per_sec", Metric::higher("ops/s"), 1000.0)
                .histogram("round_trip_ns", "ns", &h);
            c.push_repeat(r);
        }
        c
    };
    let (b, c) = (doc(vec![case(5_000)]), doc(vec![case(7_000)]));
    let plain = compare::compare(&b, &c, 0.05).unwrap();
    assert_eq!(plain.rows.len(), 1, "only ops_per_sec by default");
    let with = compare::compare_with(
        &b,
        &c,
        Settings {
            threshold: 0.05,
            percentiles: true,
        },
    )
    .unwrap();
    let p50 = with
        .rows
        .iter()
        .find(|r| r.metric == "round_trip_ns.p50")
        .unwrap();
    assert_eq!(p50.verdict, Verdict::Regressed);
    // HdrHistogram with 3 significant digits: values 4096..8191 fall in buckets 4 ns
    // wide (the median p50 here is 5520).
    assert_eq!(p50.noise_floor, 4.0);
    assert_eq!(with.rows.len(), 3);
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

fn ev(args: &[&str]) -> (i32, String, String) {
    let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
    evbench(&a)
}

/// Files for the exit-code tests: a baseline, a regressed current, an inconclusive one,
/// a same one, and 1-repeat versions.
struct Pair {
    dir: PathBuf,
    base: String,
    slow: String,
    unsure: String,
    same: String,
}

fn pair(name: &str) -> Pair {
    let dir = tmpdir(name);
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    Pair {
        base: s(write(&dir, "base.json", &doc(vec![us_case("pipe", &BASE)]))),
        slow: s(write(
            &dir,
            "slow.json",
            &doc(vec![us_case("pipe", &scaled(1.3))]),
        )),
        unsure: s(write(
            &dir,
            "unsure.json",
            &doc(vec![us_case("pipe", &[10.0, 10.1, 9.9, 4.9, 10.2, 5.0])]),
        )),
        same: s(write(&dir, "same.json", &doc(vec![us_case("pipe", &BASE)]))),
        dir,
    }
}

#[test]
fn exit_codes_zero_one_and_fail_on_inconclusive() {
    let p = pair("codes");
    assert_eq!(ev(&["compare", &p.base, &p.same]).0, 0);
    let (code, out, _) = ev(&["compare", &p.base, &p.slow]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("REGRESSED: 1 regressed"), "{out}");
    // Inconclusive passes by default and fails with --fail-on inconclusive.
    let (code, out, _) = ev(&["compare", &p.base, &p.unsure]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("inconclusive"), "{out}");
    let (code, ..) = ev(&["compare", &p.base, &p.unsure, "--fail-on", "inconclusive"]);
    assert_eq!(code, 1);
    let (code, ..) = ev(&["compare", &p.base, &p.same, "--fail-on", "inconclusive"]);
    assert_eq!(code, 0);
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Issue 18 review: "options differ" names each option and both values, in the flags'
/// words where a flag sets it.
#[test]
fn options_differ_names_the_options_and_both_values() {
    let mut b = us_case("pipe", &BASE);
    b.option("rounds", 10_000)
        .option("think_ns", 0)
        .option("warmup", 100);
    let mut c = us_case("pipe", &BASE);
    c.option("rounds", 20_000)
        .option("think_ns", 20_000)
        .option("warmup", 100);
    c.option("stall_timeout", "5s");
    let cmp = compare::compare(&doc(vec![b]), &doc(vec![c]), 0.05).unwrap();
    // (A debug build adds its own warning: only the options' line is checked.)
    let differ: Vec<&String> = cmp
        .warnings
        .iter()
        .filter(|w| w.contains("options differ"))
        .collect();
    assert_eq!(
        differ,
        ["pipetest/pipe/epoll: options differ between the two runs: --rounds 10000 vs 20000, option stall_timeout unset vs 5s, --think 0 ns vs 20000 ns (baseline vs current)"]
    );
}

/// Issue 18 review: "too few repeats" says its real cause for each side, with what
/// would fix it — one repeat; repeats interrupted; a histogram missing in some repeats;
/// a kernel figure only probed rounds measured — and the rows carry it.
#[test]
fn too_few_repeats_names_the_cause() {
    let settings = Settings {
        threshold: 0.05,
        percentiles: true,
    };
    let why = |base: Case, cur: Case| -> (Vec<Option<String>>, Vec<String>) {
        let c = compare::compare_with(&doc(vec![base]), &doc(vec![cur]), settings).unwrap();
        (
            c.rows.iter().map(|r| r.no_verdict.clone()).collect(),
            c.warnings
                .into_iter()
                .filter(|w| w.contains("no verdict"))
                .collect(),
        )
    };
    // One repeat in the baseline.
    let (rows, warnings) = why(us_case("pipe", &[5.0]), us_case("pipe", &BASE));
    let one = "the baseline has 1 repeat of it (run it with --repeat 3 or more, or pool more files per side)";
    assert_eq!(rows, [Some(one.to_string())]);
    assert_eq!(
        warnings,
        [format!("nothing judged: 1 metric (us_per_event) of pipetest/pipe/epoll: no verdict (fewer than 3 repeats on a side): {one}")]
    );
    // Three of five current repeats interrupted.
    let mut cur = us_case("pipe", &BASE[..5]);
    for r in &mut cur.repeats[..3] {
        r.interrupted = true;
    }
    cur.refresh();
    let (rows, _) = why(us_case("pipe", &BASE), cur);
    assert_eq!(
        rows,
        [Some(
            "the current's repeats 1, 2 and 3 were interrupted, leaving 2 repeats of its 5 (measure it again)".to_string()
        )]
    );
    // Two current repeats, one interrupted: the interruption is the cause named, not
    // "the current has 2 repeats of it".
    let mut cur = us_case("pipe", &BASE[..2]);
    cur.repeats[1].interrupted = true;
    cur.refresh();
    let (rows, _) = why(us_case("pipe", &BASE), cur);
    assert_eq!(
        rows,
        [Some(
            "the current's repeat 2 was interrupted, leaving 1 repeat of its 2 (measure it again, with --repeat 3 or more)".to_string()
        )]
    );
    // A histogram only some current repeats recorded: its percentiles have 2 values.
    let hist = |c: &mut Case, which: &[usize]| {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        h.record(1000).unwrap();
        for &k in which {
            c.repeats[k].histogram("wait_ns", "ns", &h);
        }
        c.refresh();
    };
    let mut base = us_case("pipe", &BASE);
    hist(&mut base, &[0, 1, 2, 3, 4, 5]);
    let mut cur = us_case("pipe", &BASE);
    hist(&mut cur, &[1, 4]);
    let (rows, warnings) = why(base, cur);
    let missing = "histogram wait_ns is missing in 4 of the current's 6 repeats (those repeats did not record it)";
    assert_eq!(rows, [None, Some(missing.into()), Some(missing.into())]);
    assert_eq!(
        warnings,
        [format!("2 metrics of pipetest/pipe/epoll: no verdict (fewer than 3 repeats on a side): {missing}")]
    );
    // A kernel figure measured in the probed rounds only (2 of 6 had one).
    let probed = |with: &[usize]| {
        let mut c = Case::new("pipetest", Some("pipe"), Some("epoll"), None);
        for (k, &v) in BASE.iter().enumerate() {
            let mut r = Repeat::new(Duration::from_millis(10));
            r.metric("us_per_event", Metric::lower("µs/event"), v);
            if with.contains(&k) {
                r.probed = Some(Box::new(Repeat::new(Duration::from_millis(10))));
                r.metric(
                    "switches_per_op",
                    Metric::lower("switches/op").with_noise_floor(PER_OP_NOISE_FLOOR),
                    2.0,
                );
            }
            c.push_repeat(r);
        }
        c
    };
    let (rows, _) = why(probed(&[0, 1, 2]), probed(&[0, 3]));
    assert_eq!(
        rows,
        [
            None,
            Some("metric switches_per_op comes from probed passes, which only 2 of the current's 6 repeats had (a run probes at most 3 rounds: pool more files per side)".into()),
        ]
    );
}

/// 1-repeat files: nothing can be judged, which is exit 2 ("could not judge"), never
/// 0; the table (every row "too few repeats") still reaches stdout.
#[test]
fn nothing_judged_exits_2() {
    let dir = tmpdir("onerep");
    let b = write(&dir, "b.json", &doc(vec![us_case("pipe", &[5.0])]));
    let c = write(&dir, "c.json", &doc(vec![us_case("pipe", &[9.0])]));
    let (code, out, err) = evbench(&["compare".as_ref(), b.as_os_str(), c.as_os_str()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("NOT JUDGED: 0 regressed"), "{out}");
    assert_eq!(
        err,
        "evbench: error: nothing judged: no metric has 3 repeats on both sides: the baseline has 1 repeat of it (run it with --repeat 3 or more, or pool more files per side); the current has 1 repeat of it (run it with --repeat 3 or more, or pool more files per side)\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Different machines with --strict: 2, and 2 wins over a regression; the verdict table
/// still reaches stdout.
#[test]
fn strict_machines_exit_2_over_a_regression() {
    let p = pair("strict");
    let mut other = doc(vec![us_case("pipe", &scaled(1.3))]);
    other.machine.cpu_model = "Imaginary CPU @ 9 GHz".into();
    let other = write(&p.dir, "other.json", &other);
    let o = other.to_str().unwrap();
    let (code, out, _) = ev(&["compare", &p.base, o]);
    assert_eq!(code, 1, "without --strict a warning only: {out}");
    let (code, out, err) = ev(&["compare", &p.base, o, "--strict"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.starts_with("REGRESSED"), "{out}");
    assert!(err.contains("different machines (--strict)"), "{err}");
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Usage errors and unusable input are 2 too.
#[test]
fn unusable_input_and_usage_exit_2() {
    let p = pair("usage");
    let (code, _, err) = ev(&["compare", &p.base]);
    assert_eq!(code, 2);
    assert!(err.contains("give BASELINE CURRENT"), "{err}");
    let (code, ..) = ev(&["compare", &p.base, &p.slow, "--baseline", &p.base]);
    assert_eq!(code, 2, "positionals and --baseline together");
    let missing = p.dir.join("missing.json");
    let (code, _, err) = ev(&["compare", &p.base, missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("current: cannot read"), "{err}");
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// `--markdown` naming a directory, or a path no file can be created in (/proc), is
/// refused before anything is read: exit 2, nothing on stdout, one line naming the flag.
#[test]
fn an_unwritable_markdown_path_exits_2_before_judging() {
    let p = pair("mddir");
    for bad in [p.dir.to_str().unwrap(), "/proc/evbench-summary.md"] {
        let (code, out, err) = ev(&["compare", &p.base, &p.slow, "--markdown", bad]);
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.starts_with("evbench: error: --markdown "), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    std::fs::remove_dir_all(&p.dir).unwrap();
}

fn run_ok(cmd: &str, args: &[&str]) {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Unmounts on drop, so a failed assertion leaves no mount behind.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A 64 KiB tmpfs mounted at DIR/fs and filled up (writing stopped at ENOSPC), and the
/// guard that unmounts it.
fn full_tmpfs(dir: &Path) -> (PathBuf, Mount) {
    let fs = dir.join("fs");
    std::fs::create_dir(&fs).unwrap();
    let f = fs.to_str().unwrap();
    run_ok("mount", &["-t", "tmpfs", "-o", "size=64k", "tmpfs", f]);
    let m = Mount(fs.clone());
    let filler = std::fs::write(fs.join("filler"), vec![7u8; 1 << 20]);
    assert_eq!(
        filler.unwrap_err().raw_os_error(),
        Some(libc_enospc()),
        "the tmpfs is full"
    );
    (fs, m)
}

/// A read-only filesystem (a read-only bind mount: root ignores permission bits, not a
/// read-only mount): refused up front, exit 2.
#[test]
fn a_read_only_filesystem_exits_2() {
    let p = pair("ro");
    let ro = p.dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    let r = ro.to_str().unwrap();
    run_ok("mount", &["--bind", r, r]);
    let m = Mount(ro.clone());
    run_ok("mount", &["-o", "remount,ro,bind", r]);
    let target = ro.join("summary.md");
    let (code, out, err) = ev(&[
        "compare",
        &p.base,
        &p.slow,
        "--markdown",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    drop(m);
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// A full filesystem (a 64 KiB tmpfs filled up): the pre-check passes (an empty file
/// fits), the write fails — exit 2 over the regression, the table on stdout, no partial
/// file under the name.
#[test]
fn a_full_filesystem_exits_2_with_the_table_on_stdout() {
    let p = pair("full");
    let (fs, m) = full_tmpfs(&p.dir);
    let target = fs.join("summary.md");
    let (code, out, err) = ev(&[
        "compare",
        &p.base,
        &p.slow,
        "--markdown",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("REGRESSED"), "{out}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!target.exists(), "no partial file");
    drop(m);
    std::fs::remove_dir_all(&p.dir).unwrap();
}

fn libc_enospc() -> i32 {
    28 // ENOSPC on Linux (asm-generic/errno-base.h)
}

/// `--baseline a1 a2 --current b1 b2` pools each side's repeats per case.
#[test]
fn pooled_sides_judge_every_repeat() {
    let dir = tmpdir("pool");
    let a1 = write(&dir, "a1.json", &doc(vec![us_case("pipe", &BASE[..3])]));
    let a2 = write(&dir, "a2.json", &doc(vec![us_case("pipe", &BASE[3..])]));
    let b1 = write(
        &dir,
        "b1.json",
        &doc(vec![us_case("pipe", &scaled(1.3)[..3])]),
    );
    let b2 = write(
        &dir,
        "b2.json",
        &doc(vec![
            us_case("pipe", &scaled(1.3)[3..]),
            us_case("eventfd", &BASE),
        ]),
    );
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let (code, out, err) = ev(&[
        "compare",
        "--json",
        "--baseline",
        &s(&a1),
        &s(&a2),
        "--current",
        &s(&b1),
        &s(&b2),
    ]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let row = &v["rows"][0];
    assert_eq!(row["n_baseline"], 6);
    assert_eq!(row["n_current"], 6);
    assert_eq!(row["verdict"], "regressed");
    assert_eq!(v["added"][0], "pipetest/eventfd/epoll");
    assert_eq!(v["baseline_files"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `compare --json`: every row carries its intervals, scale, tolerance and floor.
#[test]
fn json_rows_carry_their_intervals() {
    let p = pair("json");
    let (code, out, _) = ev(&["compare", "--json", &p.base, &p.unsure]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decide_level"], 0.99);
    assert_eq!(v["equivalence_level"], 0.9);
    let row = &v["rows"][0];
    for k in ["low", "high"] {
        assert!(row["interval"][k].is_f64(), "{row}");
        assert!(row["equivalence"][k].is_f64(), "{row}");
    }
    assert_eq!(row["interval"]["level"], 0.99);
    assert_eq!(row["scale"], "relative");
    assert_eq!(row["tolerance"], 0.05);
    assert_eq!(row["noise_floor"], 0.0);
    assert_eq!(row["kind"], "headline");
    assert_eq!(row["verdict"], "inconclusive");
    assert!(row.get("repeats_to_decide").is_some(), "{row}");
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Markdown: the verdict line first, then regressions, then inconclusive, then the rest
/// in <details>.
#[test]
fn markdown_puts_the_verdict_then_regressions_then_inconclusive() {
    let dir = tmpdir("md");
    let b = write(
        &dir,
        "b.json",
        &doc(vec![
            us_case("pipe", &BASE),
            us_case("eventfd", &BASE),
            us_case("eventfd-sem", &BASE),
        ]),
    );
    let c = write(
        &dir,
        "c.json",
        &doc(vec![
            us_case("pipe", &BASE),
            us_case("eventfd", &[10.0, 10.1, 9.9, 4.9, 10.2, 5.0]),
            us_case("eventfd-sem", &scaled(1.3)),
        ]),
    );
    let md = dir.join("summary.md");
    let (code, ..) = evbench(&[
        "compare".as_ref(),
        b.as_os_str(),
        c.as_os_str(),
        "--markdown".as_ref(),
        md.as_os_str(),
    ]);
    assert_eq!(code, 1);
    let s = std::fs::read_to_string(&md).unwrap();
    let lines: Vec<&str> = s.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "## evbench compare");
    assert!(
        lines[1].starts_with(
            "**REGRESSED: 1 regressed, 1 inconclusive, 0 improved, 1 unchanged of 3 judged metrics"
        ),
        "{s}"
    );
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle}: {s}"));
    assert!(at("### Regressions (1)") < at("### Inconclusive (1)"));
    assert!(at("### Inconclusive (1)") < at("<details>"));
    assert!(at("`pipetest/eventfd-sem/epoll` | us_per_event") < at("### Inconclusive"));
    assert!(at("`pipetest/pipe/epoll`") > at("<details>"));
    // The regression row: baseline → current, change, interval against the tolerance, p.
    let reg = s.lines().find(|l| l.contains("eventfd-sem")).unwrap();
    assert!(reg.contains("| +30.0% | [+"), "{reg}");
    assert!(reg.contains("vs ±5.0% | 0.002 | **regressed** |"), "{reg}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Verdicts come from the figures alone: erasing every `options` field (the document's
/// and each case's) changes no verdict.
#[test]
fn verdicts_ignore_options() {
    let mut b = doc(vec![us_case("pipe", &BASE), wakeups_case(&[0.0; 5])]);
    b.cases[1].id = "pipetest/pipe/epoll-et".into();
    let mut c = doc(vec![
        us_case("pipe", &scaled(1.3)),
        wakeups_case(&[0.0, 0.3, 0.0, 0.3, 0.3]),
    ]);
    c.cases[1].id = "pipetest/pipe/epoll-et".into();
    c.cases[0].option("think_ns", 2000);
    assert_eq!(verdicts(&b, &c), verdicts(&erase(&b), &erase(&c)));
    assert_eq!(
        verdicts(&b, &c),
        vec![
            (
                "pipetest/pipe/epoll".into(),
                "us_per_event".into(),
                Verdict::Regressed
            ),
            (
                "pipetest/pipe/epoll-et".into(),
                "wakeups_per_op".into(),
                Verdict::Inconclusive
            ),
        ]
    );
}

fn erase(d: &RunResult) -> RunResult {
    let mut v: Value = serde_json::to_value(d).unwrap();
    v["options"] = Value::Object(Default::default());
    for c in v["cases"].as_array_mut().unwrap() {
        c["options"] = Value::Object(Default::default());
    }
    RunResult::from_json(&v.to_string()).unwrap()
}

fn verdicts(b: &RunResult, c: &RunResult) -> Vec<(String, String, Verdict)> {
    let mut v: Vec<_> = compare::compare(b, c, 0.05)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| (r.case, r.metric, r.verdict))
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

/// A real pair: pipetest on pipes and on eventfds, six repeats each side (each side
/// pooled from one run per mechanism). The current run adds `--think 20us` to the pipe
/// case only (~4x its time per event): exactly that case's us_per_event is regressed,
/// exit 1, and the options difference is a warning, not a verdict. The same pair with
/// every `options` field erased gives the same verdicts.
#[test]
fn think_makes_a_known_regression_on_exactly_that_case() {
    let dir = tmpdir("think");
    let run = |name: &str, mech: &str, think: &str| -> String {
        let out = dir.join(name);
        let o = out.to_str().unwrap().to_string();
        let (code, _, err) = ev(&[
            "run", "pipetest", "-m", mech, "-w", "1000", "--think", think, "--repeat", "6",
            "--probes", "none", "-q", "-o", &o,
        ]);
        assert_eq!(code, 0, "{err}");
        o
    };
    let a_pipe = run("a-pipe.json", "pipe", "0s");
    let a_efd = run("a-efd.json", "eventfd", "0s");
    let b_pipe = run("b-pipe.json", "pipe", "20us");
    let b_efd = run("b-efd.json", "eventfd", "0s");
    // The think time is in the options, not in the id.
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&b_pipe).unwrap()).unwrap();
    assert_eq!(b["cases"][0]["options"]["think_ns"], 20_000);
    assert_eq!(b["cases"][0]["id"], "pipetest/pipe/epoll-et");
    let (code, out, err) = ev(&[
        "compare",
        "--json",
        "--threshold",
        "25%",
        "--baseline",
        &a_pipe,
        &a_efd,
        "--current",
        &b_pipe,
        &b_efd,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let regressed: Vec<(String, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "regressed")
        .map(|r| {
            (
                r["case"].as_str().unwrap().to_string(),
                r["metric"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        regressed,
        vec![(
            "pipetest/pipe/epoll-et".to_string(),
            "us_per_event".to_string()
        )],
        "{out}"
    );
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(
                "options differ between the two runs: --think 0 ns vs 20000 ns (baseline vs current)"
            )),
        "{out}"
    );
    // Options erased: the same verdicts.
    let read = |p: &str| RunResult::read(Path::new(p)).unwrap();
    let pool = |a: &str, b: &str| compare::pool(vec![read(a), read(b)], "side").0;
    let (base, cur) = (pool(&a_pipe, &a_efd), pool(&b_pipe, &b_efd));
    let with = compare::compare(&base, &cur, 0.25).unwrap();
    let without = compare::compare(&erase(&base), &erase(&cur), 0.25).unwrap();
    let key = |c: &compare::Comparison| {
        c.rows
            .iter()
            .map(|r| (r.case.clone(), r.metric.clone(), r.verdict))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&with), key(&without));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Issue 13 item 5: the noise each side's passes met stands beside an inconclusive row
/// (worst pass's CPU pressure as a share of its wall time, baseline / current), in the
/// terminal table and the Markdown summary.
#[test]
fn inconclusive_rows_show_the_noise_each_side_met() {
    use evbench::results::PassNoise;
    // CPU pressure 0.5 ms of 10 ms (5%) in the baseline's worst pass and 8 ms of 20 ms
    // (40%) in the current's: the current is noisy, and the table says so.
    // The current side records the pass's whole wall time (20 ms: set-up and warm-up
    // included), the share's denominator; the baseline, like older documents, does not,
    // and falls back to the measured 10 ms.
    let noisy = |values: &[f64], some_us: &[u64], wall_ns: u64| {
        let mut c = us_case("pipe", values);
        for (r, &us) in c.repeats.iter_mut().zip(some_us) {
            r.noise = Some(PassNoise {
                cpu_some_us: Some(us),
                steal_ns: 0,
                procs_running: None,
                wall_ns,
            });
        }
        c
    };
    // A wide spread straddling +5%: inconclusive.
    let base = [5.0, 5.3, 4.7, 5.2, 4.8, 5.0];
    let cur = [5.25, 5.9, 4.9, 5.6, 5.0, 5.3];
    let c = compare::compare(
        &doc(vec![noisy(&base, &[100, 500, 200, 0, 0, 0], 0)]),
        &doc(vec![noisy(&cur, &[8000, 100, 0, 0, 2500, 0], 20_000_000)]),
        0.05,
    )
    .unwrap();
    assert_eq!(c.rows[0].verdict, Verdict::Inconclusive, "{:?}", c.rows[0]);
    let n = (
        c.rows[0].noise_baseline.unwrap(),
        c.rows[0].noise_current.unwrap(),
    );
    assert_eq!(n.0.cpu_pressure_pct, Some(5.0));
    assert_eq!(n.1.cpu_pressure_pct, Some(40.0));
    assert_eq!(evbench::export::compare::noise_text(&c.rows[0]), "5% / 40%");
    let text = evbench::export::compare::render_text(&c);
    assert!(
        text.contains("CPU pressure (worst pass, baseline / current)") && text.contains("5% / 40%"),
        "{text}"
    );
    let md = evbench::export::compare::render_markdown(&c);
    assert!(md.contains("| 5% / 40% |"), "{md}");
}

/// Few repeats cannot carry a decisive verdict: 3 vs 3, every current repeat 20% above
/// every baseline one, is inconclusive (all separated happens by chance 1 time in 20 at
/// a true +5%, far from the 0.5% the 99% level promises), while 5 vs 5 is regressed
/// (1 in 252). Found by a tester's simulation: 53 of 1000 same-size 3 vs 3 pairs with a
/// true change of exactly +5% exited 1.
#[test]
fn few_repeats_need_the_rank_test_too() {
    let r = one(&[5.00, 5.02, 4.98], &[6.00, 6.03, 5.97]);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    assert!(
        r.interval.low > 0.05,
        "the bootstrap alone would say regressed"
    );
    let r = one(&BASE[..5], &scaled(1.2)[..5]);
    assert_eq!(r.verdict, Verdict::Regressed, "{r:?}");
    // The same for improvements, and on the absolute (near-zero) scale: five 0.0 against
    // five 1.0 wakeups/op stays regressed (issue 13 item 3), three against three does not.
    let r = one(&[5.00, 5.02, 4.98], &[4.00, 4.02, 3.98]);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    let c = |b: &[f64], cu: &[f64]| {
        compare::compare(
            &doc(vec![wakeups_case(b)]),
            &doc(vec![wakeups_case(cu)]),
            0.05,
        )
        .unwrap()
        .rows[0]
            .verdict
    };
    assert_eq!(c(&[0.0; 5], &[1.0; 5]), Verdict::Regressed);
    assert_eq!(c(&[0.0; 3], &[1.0; 3]), Verdict::Inconclusive);
}

// ---- Issue 13, tester's round (items 1, 4, 5, 6, 7, 8, 12) ----

/// Runs `sh -c SCRIPT` inside a private mount namespace whose /dev is a fresh tmpfs
/// holding its own null (1,3) and full (1,7) device nodes and a `stdout` symlink to
/// /proc/self/fd/1, like the real /dev: the real /dev is never touched, whatever the
/// code under test does. `$EV` is the evbench binary. After the script, the types of
/// the three nodes are printed to stderr (`stat -c %F`), so a test can see what the
/// command left there.
fn in_private_dev(script: &str) -> (i32, String, String) {
    let full = format!(
        "mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 \
         && ln -s /proc/self/fd/1 /dev/stdout || exit 99; {script}; rc=$?; \
         stat -c 'node %n: %F' /dev/null /dev/full /dev/stdout >&2; exit $rc"
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &full])
        .env("EV", env!("CARGO_BIN_EXE_evbench"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The nodes `in_private_dev` reports are as it made them: never replaced by a file.
fn assert_nodes_intact(err: &str) {
    assert!(
        err.contains("node /dev/null: character special file"),
        "{err}"
    );
    assert!(
        err.contains("node /dev/full: character special file"),
        "{err}"
    );
    assert!(err.contains("node /dev/stdout: symbolic link"), "{err}");
}

/// The Markdown a comparison of `b` and `c` writes to a regular file (the reference
/// every other destination must receive byte for byte).
fn markdown_of(dir: &Path, b: &str, c: &str) -> String {
    let md = dir.join("reference.md");
    let (code, _, err) = ev(&["compare", b, c, "--markdown", md.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    std::fs::read_to_string(md).unwrap()
}

/// Item 1: a symlink is written through (the link stays, its target gets the Markdown,
/// a dangling link's target is created), and a FIFO is written in place: its reader
/// gets exactly the Markdown and the FIFO is still a FIFO.
#[test]
fn markdown_writes_through_symlinks_and_into_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let p = pair("links");
    let want = markdown_of(&p.dir, &p.base, &p.slow);
    assert!(
        want.starts_with("## evbench compare\n\n**REGRESSED: 1 regressed"),
        "{want}"
    );
    let target = p.dir.join("target.md");
    std::fs::write(&target, "old").unwrap();
    let link = p.dir.join("link.md");
    std::os::unix::fs::symlink("target.md", &link).unwrap();
    let dangling = p.dir.join("dangling.md");
    std::os::unix::fs::symlink("sub/new.md", &dangling).unwrap();
    std::fs::create_dir(p.dir.join("sub")).unwrap();
    for (l, t) in [
        (&link, target.clone()),
        (&dangling, p.dir.join("sub/new.md")),
    ] {
        let (code, _, err) = ev(&[
            "compare",
            &p.base,
            &p.slow,
            "--markdown",
            l.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{err}");
        assert!(std::fs::symlink_metadata(l)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&t).unwrap(), want);
    }
    // No temporary file left beside the link or the target.
    let mut names: Vec<String> = std::fs::read_dir(&p.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "base.json",
            "dangling.md",
            "link.md",
            "reference.md",
            "same.json",
            "slow.json",
            "sub",
            "target.md",
            "unsure.json"
        ]
    );
    // A FIFO: read by a thread while compare writes it.
    let fifo = p.dir.join("summary.fifo");
    run_ok("mkfifo", &[fifo.to_str().unwrap()]);
    let f2 = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read_to_string(f2).unwrap());
    let (code, _, err) = ev(&[
        "compare",
        &p.base,
        &p.slow,
        "--markdown",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(reader.join().unwrap(), want);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Item 1, devices (in a private /dev): `/dev/null` swallows the Markdown and stays a
/// device (exit 1: the regression); `/dev/full` is exit 2 naming the file, the verdict
/// still on stdout; `/dev/stdout` delivers the Markdown to stdout after the verdict.
/// No node is replaced by a regular file.
#[test]
fn markdown_into_devices_writes_in_place() {
    let p = pair("devs");
    let want = markdown_of(&p.dir, &p.base, &p.slow);
    let (text_code, text, _) = ev(&["compare", &p.base, &p.slow]);
    assert_eq!(text_code, 1);
    let (b, s) = (&p.base, &p.slow);
    let (code, out, err) = in_private_dev(&format!("\"$EV\" compare {b} {s} --markdown /dev/null"));
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, text);
    assert_nodes_intact(&err);
    let (code, out, err) = in_private_dev(&format!("\"$EV\" compare {b} {s} --markdown /dev/full"));
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, text);
    assert!(
        err.contains("evbench: error: cannot write /dev/full: No space left on device"),
        "{err}"
    );
    assert_nodes_intact(&err);
    let (code, out, err) =
        in_private_dev(&format!("\"$EV\" compare {b} {s} --markdown /dev/stdout"));
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, format!("{text}{want}"));
    assert_nodes_intact(&err);
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Item 4: stdout on a full device is never a panic: one line, exit 2, and the
/// Markdown is still written (text and --json alike); `report` and `list` likewise.
#[test]
fn a_full_stdout_is_one_line_and_exit_2() {
    let p = pair("fullout");
    let want = markdown_of(&p.dir, &p.base, &p.slow);
    let md = p.dir.join("s.md");
    let m = md.to_str().unwrap();
    for json in ["", "--json"] {
        let _ = std::fs::remove_file(&md);
        let (code, _, err) = in_private_dev(&format!(
            "\"$EV\" compare {} {} {json} --markdown {m} > /dev/full",
            p.base, p.slow
        ));
        assert_eq!(code, 2, "{err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("node ")).collect();
        assert_eq!(
            lines,
            ["evbench: error: cannot write the verdict to stdout: No space left on device"],
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&md).unwrap(), want);
    }
    for (cmd, what) in [
        (format!("\"$EV\" report {}", p.base), "the report"),
        ("\"$EV\" list".to_string(), "the list"),
        ("\"$EV\" list --json".to_string(), "the list"),
        ("\"$EV\" completions bash".to_string(), ""),
    ] {
        let (code, _, err) = in_private_dev(&format!("{cmd} > /dev/full"));
        assert_eq!(code, 2, "{cmd}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("node ")).collect();
        assert_eq!(lines.len(), 1, "{cmd}: {err}");
        assert!(
            lines[0].starts_with("evbench: error: cannot write"),
            "{err}"
        );
        assert!(
            lines[0].contains(what) && lines[0].contains("No space left on device"),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Item 5: one file given twice — on one side, on both, through a symlink, or as a
/// copy — is refused in one line, exit 2, nothing on stdout.
#[test]
fn a_file_given_twice_is_refused() {
    let p = pair("twice");
    let copy = p.dir.join("copy.json");
    std::fs::copy(&p.base, &copy).unwrap();
    let alias = p.dir.join("alias.json");
    std::os::unix::fs::symlink(&p.slow, &alias).unwrap();
    let (c, a) = (copy.to_str().unwrap(), alias.to_str().unwrap());
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--baseline",
                &p.base,
                &p.base,
                "--current",
                &p.slow,
                &p.same,
            ],
            "baseline file 2 ({b}) is the same file as baseline file 1 ({b})",
        ),
        (
            &["--baseline", &p.base, "--current", &p.base],
            "current file 1 ({b}) is the same file as baseline file 1 ({b})",
        ),
        (
            &["--baseline", &p.base, "--current", c],
            "current file 1 ({c}) has the same content as baseline file 1 ({b})",
        ),
        (
            &["--baseline", &p.base, "--current", &p.slow, a],
            "current file 2 ({a}) is the same file as current file 1 ({s})",
        ),
    ];
    for (args, msg) in cases {
        let mut all = vec!["compare"];
        all.extend_from_slice(args);
        let (code, out, err) = ev(&all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        let msg = msg
            .replace("{b}", &p.base)
            .replace("{c}", c)
            .replace("{a}", a)
            .replace("{s}", &p.slow);
        assert_eq!(
            err,
            format!("evbench: error: unusable input: {msg}: give each run once\n")
        );
    }
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Item 5: every file of a side counts — a schema v1 document listed second is caught
/// by the method check (and --strict), and options that differ within a side are named
/// with both values.
#[test]
fn every_pooled_file_is_checked_for_method_and_options() {
    let dir = tmpdir("sidecheck");
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let a1 = s(write(
        &dir,
        "a1.json",
        &doc(vec![us_case("pipe", &BASE[..3])]),
    ));
    let mut old = doc(vec![us_case("pipe", &BASE[3..])]);
    old.schema_version = 1;
    let a2 = s(write(&dir, "a2.json", &old));
    let mut other = us_case("pipe", &BASE[3..]);
    other.option("writes", 500);
    let a3 = s(write(&dir, "a3.json", &doc(vec![other])));
    let b1 = s(write(
        &dir,
        "b1.json",
        &doc(vec![us_case("pipe", &scaled(1.3)[..3])]),
    ));
    let b2 = s(write(
        &dir,
        "b2.json",
        &doc(vec![us_case("pipe", &scaled(1.3)[3..])]),
    ));
    let (code, out, err) = ev(&["compare", "--baseline", &a1, &a2, "--current", &b1, &b2]);
    assert_eq!(code, 1, "{err}");
    let mixed = "warning: schema v1 and v2 documents are mixed (1 of 4 files are v1: baseline file 2 (v1)): v1 headlines were measured with the probes attached";
    assert!(out.contains(mixed), "{out}");
    let (code, _, err) = ev(&[
        "compare",
        "--strict",
        "--baseline",
        &a1,
        &a2,
        "--current",
        &b1,
        &b2,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("measured their headlines differently (--strict)"),
        "{err}"
    );
    let (code, out, err) = ev(&["compare", "--baseline", &a1, &a3, "--current", &b1, &b2]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("warning: baseline file 2 vs file 1: pipetest/pipe/epoll: options differ (writes: 2000 vs 500): pooled anyway"),
        "{out}"
    );
    assert!(!out.contains("mixed"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A pipetest/pipe/epoll case with both us_per_event and wakeups_per_op per repeat.
fn two_metric_case(us: &[f64], wakeups: &[f64]) -> Case {
    let mut c = Case::new("pipetest", Some("pipe"), Some("epoll"), None);
    for (&u, &w) in us.iter().zip(wakeups) {
        let mut r = Repeat::new(Duration::from_millis(10));
        r.metric("us_per_event", Metric::lower("µs/event"), u);
        r.metric(
            "wakeups_per_op",
            Metric::lower("wakeups/op").with_noise_floor(PER_OP_NOISE_FLOOR),
            w,
        );
        c.push_repeat(r);
    }
    c
}

/// Item 6: a headline judged in the baseline but missing from the current is named,
/// never silently dropped; a case pooled from files with unequal repeats says so.
#[test]
fn a_metric_on_one_side_only_and_unequal_pooling_are_named() {
    let b = doc(vec![two_metric_case(&BASE, &[1.0; 6])]);
    let c = doc(vec![wakeups_case(&[1.0; 6])]);
    // A debug build of the test adds its own warning: not what is tested here.
    let warnings = |c: &compare::Comparison| -> Vec<String> {
        c.warnings
            .iter()
            .filter(|w| !w.contains("DEBUG"))
            .cloned()
            .collect()
    };
    let cmp = compare::compare(&b, &c, 0.05).unwrap();
    assert_eq!(cmp.rows.len(), 1);
    assert_eq!(
        warnings(&cmp),
        ["pipetest/pipe/epoll: us_per_event is in the baseline but missing from the current: not judged"]
    );
    let cmp = compare::compare(&c, &b, 0.05).unwrap();
    assert_eq!(
        warnings(&cmp),
        ["pipetest/pipe/epoll: us_per_event is in the current but missing from the baseline: not judged"]
    );
    // Pooled: the case is in one current file of two.
    let dir = tmpdir("unequal");
    let a = write(&dir, "a.json", &doc(vec![us_case("pipe", &BASE)]));
    let c1 = write(
        &dir,
        "c1.json",
        &doc(vec![us_case("pipe", &BASE), us_case("eventfd", &BASE)]),
    );
    let c2 = write(&dir, "c2.json", &doc(vec![us_case("eventfd", &BASE)]));
    let cmp = compare::compare_files(&[a], &[c1, c2], Settings::new(0.05)).unwrap();
    assert_eq!(
        warnings(&cmp),
        ["current: pipetest/pipe/epoll pools unequal repeats from its 2 files (6 + 0, 6 in all): the files with more weigh more"]
    );
    assert_eq!(cmp.rows[0].n_current, 6);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Item 7: with --fail-on inconclusive an inconclusive row fails the gate, and the
/// verdict line says so in the terminal and in Markdown (exit 1 as before).
#[test]
fn fail_on_inconclusive_says_fail() {
    let p = pair("failon");
    let md = p.dir.join("s.md");
    let (code, out, _) = ev(&[
        "compare",
        &p.base,
        &p.unsure,
        "--fail-on",
        "inconclusive",
        "--markdown",
        md.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let line = "FAIL (--fail-on inconclusive): 0 regressed, 1 inconclusive, 0 improved, 0 unchanged of 1 judged metrics";
    assert_eq!(out.lines().next(), Some(line), "{out}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains(&format!("**{line}**")), "{md}");
    let (code, out, _) = ev(&["compare", &p.base, &p.unsure]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("OK, with inconclusive metrics: 0 regressed, 1 inconclusive"),
        "{out}"
    );
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Item 8: an output naming an input (as given, through a symlink, or a hard link) is
/// refused before anything is read: one line, exit 2, the input unchanged; `report`
/// likewise.
#[test]
fn an_output_naming_an_input_is_refused() {
    let p = pair("ininput");
    let before = std::fs::read(&p.base).unwrap();
    let link = p.dir.join("link.md");
    std::os::unix::fs::symlink(&p.slow, &link).unwrap();
    let hard = p.dir.join("hard.md");
    std::fs::hard_link(&p.base, &hard).unwrap();
    let (l, h) = (link.to_str().unwrap(), hard.to_str().unwrap());
    for (flag, out, names) in [
        (
            "--markdown",
            p.base.as_str(),
            format!("the baseline file {}", p.base),
        ),
        (
            "--html",
            p.slow.as_str(),
            format!("the current file {}", p.slow),
        ),
        ("--markdown", l, format!("the current file {}", p.slow)),
        ("--html", h, format!("the baseline file {}", p.base)),
    ] {
        let (code, o, err) = ev(&["compare", &p.base, &p.slow, flag, out]);
        assert_eq!(code, 2, "{flag} {out}: {err}");
        assert!(o.is_empty(), "{o}");
        assert_eq!(
            err,
            format!("evbench: error: {flag} {out} names {names}: it would be overwritten; write the output elsewhere\n")
        );
    }
    assert_eq!(std::fs::read(&p.base).unwrap(), before);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    for flag in ["--html", "--csv", "--hlog"] {
        let (code, o, err) = ev(&["report", &p.base, flag, h]);
        assert_eq!(code, 2, "{err}");
        assert!(o.is_empty(), "{o}");
        assert_eq!(
            err,
            format!("evbench: error: {flag} {h} names the input file {}: it would be overwritten; write the output elsewhere\n", p.base)
        );
    }
    assert_eq!(std::fs::read(&p.base).unwrap(), before);
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// Item 12: --svg into a full filesystem leaves no directory behind and says the
/// error once; a figure that overflows prints "—", never "infM"; a negative time per
/// event is refused on reading, naming case and metric.
#[test]
fn svg_on_a_full_disk_huge_and_negative_figures() {
    let p = pair("svgfull");
    let (fs, m) = full_tmpfs(&p.dir);
    let plots = fs.join("plots");
    for cmd in [vec!["compare", &p.base, &p.slow], vec!["report", &p.base]] {
        let mut args = cmd.clone();
        args.extend(["--svg", plots.to_str().unwrap()]);
        let (code, _, err) = ev(&args);
        assert_eq!(code, 2, "{cmd:?}: {err}");
        assert!(
            !plots.exists(),
            "{cmd:?}: the directory it made is left behind"
        );
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("evbench: error:"))
            .collect();
        assert!(!errors.is_empty(), "{err}");
        for e in errors {
            assert_eq!(e.matches("No space left on device").count(), 1, "{err}");
        }
    }
    drop(m);
    // 1e308 six times: the median overflows to infinity.
    assert_eq!(evbench::output::figure(f64::INFINITY, "µs/event"), "—");
    assert_eq!(evbench::output::figure(f64::NAN, "ns"), "—");
    // A hand-edited document: every repeat 1e308 µs/event (the summaries untouched, as
    // an edit leaves them).
    let mut v: Value =
        serde_json::from_str(&doc(vec![us_case("pipe", &BASE)]).to_json().unwrap()).unwrap();
    for r in v["cases"][0]["repeats"].as_array_mut().unwrap() {
        r["metrics"]["us_per_event"] = serde_json::json!(1e308);
    }
    let huge = p.dir.join("huge.json");
    std::fs::write(&huge, v.to_string()).unwrap();
    let (_, out, err) = ev(&["compare", &p.base, huge.to_str().unwrap()]);
    assert!(
        !out.contains("infM") && !out.contains("inf µs"),
        "{out}{err}"
    );
    assert!(
        out.contains("pipetest/pipe/epoll") && out.contains("—"),
        "{out}"
    );
    let neg = write(
        &p.dir,
        "neg.json",
        &doc(vec![us_case("pipe", &[5.0, -1.5, 5.0])]),
    );
    let (code, out, err) = ev(&["compare", &p.base, neg.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(
        err,
        format!(
            "evbench: error: unusable input: current: {}: case pipetest/pipe/epoll: us_per_event = -1.5 µs/event: a time, rate or count per operation cannot be negative\n",
            neg.display()
        )
    );
    std::fs::remove_dir_all(&p.dir).unwrap();
}

/// A trace case (`evbench trace`, workload "trace") with one value of us_per_event per
/// interval.
fn trace_case(us: &[f64]) -> Case {
    let mut c = Case::new("trace", None, None, Some("cmd=server"));
    for &v in us {
        let mut r = Repeat::new(Duration::from_millis(1000));
        r.metric("us_per_event", Metric::lower("µs/event"), v);
        c.push_repeat(r);
    }
    c
}

/// Issue 14: in a trace document each --interval is a repeat, so the advice for too few
/// repeats names --interval, never `--repeat` (a flag `evbench trace` does not have),
/// and the probed-passes cause (a run's 3 probed rounds) never applies; an inconclusive
/// trace row counts what would decide it in intervals.
#[test]
fn trace_documents_are_advised_intervals_never_repeat() {
    let settings = Settings {
        threshold: 0.05,
        percentiles: false,
    };
    let rows = |base: Case, cur: Case| -> Vec<compare::Row> {
        compare::compare_with(&doc(vec![base]), &doc(vec![cur]), settings)
            .unwrap()
            .rows
    };
    let r = rows(trace_case(&[5.0]), trace_case(&BASE));
    assert_eq!(
        r[0].no_verdict.as_deref(),
        Some("the baseline has 1 repeat of it (trace it with --interval (each interval is a repeat: e.g. --interval 1s over 3 s or more), or pool more files per side)")
    );
    let mut cur = trace_case(&BASE[..2]);
    cur.repeats[1].interrupted = true;
    cur.refresh();
    let r = rows(trace_case(&BASE), cur);
    assert_eq!(
        r[0].no_verdict.as_deref(),
        Some("the current's repeat 2 was interrupted, leaving 1 repeat of its 2 (measure it again, with --interval (each interval is a repeat: e.g. --interval 1s over 3 s or more))")
    );
    // The same documents as a run still advise --repeat.
    let r = rows(us_case("pipe", &[5.0]), us_case("pipe", &BASE));
    assert!(r[0]
        .no_verdict
        .as_deref()
        .is_some_and(|w| w.contains("(run it with --repeat 3 or more")));
    // Inconclusive (a_straddling_interval_is_inconclusive_never_unchanged's values).
    let r = rows(
        trace_case(&BASE),
        trace_case(&[10.0, 10.1, 9.9, 4.9, 10.2, 5.0]),
    );
    assert_eq!(r[0].verdict, Verdict::Inconclusive);
    let text = evbench::export::compare::repeats_text(&r[0]);
    match r[0].repeats_to_decide {
        Some(n) => assert_eq!(text, format!("~{n} intervals")),
        None => assert_eq!(text, "more than 100"),
    }
}
