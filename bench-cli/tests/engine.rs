//! The run engine (issue 12): clean and probed passes, the interleaving scheduler,
//! warm-up repeats, the probe slowdown, and schema v2 beside v1. Probes load for real
//! (root); a run that cannot load them fails these tests with the reason.
use std::path::PathBuf;

use serde_json::Value;

mod run_util;
use run_util::evbench;

fn json(args: &[&str]) -> Value {
    let (code, out, err) = evbench(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    if !args.contains(&"none") {
        assert_eq!(
            v["probes"]["on"], true,
            "probes must load here: {}",
            v["probes"]
        );
    }
    v
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("evbench-engine-{}-{name}", std::process::id()))
}

/// Two cases, three repeats: round r of both cases runs before round r+1 of either
/// (read from the recorded start times), the warm-up repeat runs first and stays out
/// of the statistics, and the first three rounds each have a probed pass.
#[test]
fn repeats_of_two_cases_interleave_and_the_warmup_is_excluded() {
    let v = json(&[
        "run",
        "http",
        "-W",
        "epoll,poll",
        "-c",
        "4",
        "-d",
        "150ms",
        "--warmup-time",
        "0",
        "--repeat",
        "3",
        "--json",
    ]);
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(v["options"]["order"], "interleaved");
    assert!(v["options"]["seed"].is_u64());
    let mut rounds: Vec<Vec<u64>> = vec![Vec::new(); 3];
    let mut warm_latest = 0;
    for c in cases {
        let reps = c["repeats"].as_array().unwrap();
        assert_eq!(reps.len(), 3, "{}", c["id"]);
        let warm = c["warmup_repeats"].as_array().unwrap();
        assert_eq!(warm.len(), 1, "{}", c["id"]);
        warm_latest = warm_latest.max(warm[0]["start_ns"].as_u64().unwrap());
        for (i, r) in reps.iter().enumerate() {
            assert_eq!(r["interrupted"], false);
            rounds[i].push(r["start_ns"].as_u64().unwrap());
            let p = &r["probed"];
            assert!(p.is_object(), "round {} has its probed pass", i + 1);
            rounds[i].push(p["start_ns"].as_u64().unwrap());
            // The kernel's figures stand where v1 put them.
            assert!(r["counters"]["kernel.syscalls"].as_u64().unwrap() > 10);
        }
        // Statistics cover the three judged repeats only.
        assert_eq!(c["metrics"]["requests_per_sec"]["across"]["n"], 3);
    }
    for r in 0..3 {
        assert!(
            rounds[r].iter().all(|&s| s > warm_latest),
            "the warm-up repeats run first"
        );
        if r < 2 {
            let end = rounds[r].iter().max().unwrap();
            let next = rounds[r + 1].iter().min().unwrap();
            assert!(end < next, "round {} overlaps round {}", r + 1, r + 2);
        }
    }
}

/// The probe slowdown of each round is the ratio of its probed and clean figures as
/// the document records them, and the headline is the clean pass's.
#[test]
fn probe_slowdown_is_the_ratio_of_the_recorded_passes() {
    let v = json(&[
        "run",
        "pingpong",
        "--rounds",
        "3000",
        "--warmup-rounds",
        "100",
        "--repeat",
        "2",
        "--warmup-repeats",
        "0",
        "--json",
    ]);
    let c = &v["cases"][0];
    let reps = c["repeats"].as_array().unwrap();
    assert_eq!(reps.len(), 2);
    for r in reps {
        let clean = r["metrics"]["ops_per_sec"].as_f64().unwrap();
        let probed = r["probed"]["metrics"]["ops_per_sec"].as_f64().unwrap();
        let s = r["metrics"]["probe_slowdown"].as_f64().unwrap();
        assert!(
            (s - clean / probed).abs() < 1e-9 * s,
            "{s} vs {clean}/{probed}"
        );
        // Clean and probed passes each measured the asked round trips.
        assert_eq!(r["counters"]["rounds"], 3000);
        assert_eq!(r["probed"]["counters"]["rounds"], 3000);
        // Kernel figures are per operation of the probed pass.
        let sys = r["counters"]["kernel.syscalls"].as_f64().unwrap();
        let per = r["metrics"]["syscalls_per_op"].as_f64().unwrap();
        assert!((per - sys / 3000.0).abs() < 1e-9, "{per} vs {sys}/3000");
    }
    assert!(c["warmup_repeats"].as_array().is_none_or(|w| w.is_empty()));
}

/// `--probes none` runs clean passes only.
#[test]
fn probes_none_runs_clean_passes_only() {
    let (code, out, err) = evbench(&[
        "run", "pingpong", "--rounds", "500", "--repeat", "2", "--probes", "none", "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["options"]["probed_repeats"], 0);
    for r in v["cases"][0]["repeats"].as_array().unwrap() {
        assert!(r.get("probed").is_none(), "{r}");
        assert!(r["metrics"].get("probe_slowdown").is_none());
    }
    assert_eq!(v["cases"][0]["warmup_repeats"].as_array().unwrap().len(), 1);
}

/// pipetest prints one AVG/SIG pair per clean pass, the originals' lines first, and the
/// probed pass's kernel section with the slowdown after them.
#[test]
fn pipetest_prints_the_clean_avg_then_the_kernel_and_the_slowdown() {
    let (code, out, err) = evbench(&["run", "pipetest", "-w", "3000", "-n", "50"]);
    assert_eq!(code, 0, "{err}");
    let avg: Vec<&str> = out.lines().filter(|l| l.starts_with("AVG: ")).collect();
    assert_eq!(avg.len(), 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let avg_at = lines.iter().position(|l| l.starts_with("AVG: ")).unwrap();
    assert!(lines[avg_at + 1].starts_with("SIG: "), "{out}");
    let slow = lines
        .iter()
        .position(|l| l.contains("the probes slowed this case"))
        .expect("the slowdown is printed");
    assert!(slow > avg_at, "{out}");
    assert!(out.contains("per event:"), "{out}");
}

/// A v1 document (headlines from probed repeats) still reads, reports, and compares
/// with a v2 one with a warning; `--strict` refuses the pair.
#[test]
fn a_v1_document_reads_and_compares_with_a_warning() {
    let v1 = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-result.json");
    let v1s = v1.to_str().unwrap();
    let (code, out, err) = evbench(&["report", v1s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pingpong/pipe/block/pin=same"), "{out}");
    let v2 = tmp("v2.json");
    let v2s = v2.to_str().unwrap();
    let (code, _, err) = evbench(&[
        "run", "pingpong", "--pin", "same", "--rounds", "2000", "--repeat", "3", "-q", "-o", v2s,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = evbench(&["compare", v1s, v2s]);
    assert!(code == 0 || code == 1, "{code}: {err}");
    assert!(
        err.contains("measured differently") && out.contains("measured differently"),
        "{out}\n{err}"
    );
    let (code, _, err) = evbench(&["compare", v1s, v2s, "--strict"]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_file(&v2);
}

/// `--repeat auto` stops as soon as the headline is precise enough: with a loose target
/// that is after the 6 rounds a distribution-free 95% interval of a median needs.
#[test]
fn repeat_auto_stops_on_precision() {
    let v = json(&[
        "run",
        "pingpong",
        "--rounds",
        "1000",
        "--warmup-rounds",
        "50",
        "--repeat",
        "auto",
        "--precision",
        "99%",
        "--probes",
        "none",
        "--json",
    ]);
    let c = &v["cases"][0];
    let conv = &c["convergence"];
    assert_eq!(conv["converged"], true, "{conv}");
    assert_eq!(conv["repeats"], 6, "{conv}");
    assert_eq!(conv["metric"], "ops_per_sec");
    assert!(conv["half_width"].as_f64().unwrap() <= 0.99);
    assert_eq!(c["repeats"].as_array().unwrap().len(), 6);
    assert_eq!(v["options"]["repeat"], "auto");
}

/// ... and on the time budget, naming the case that did not converge and how wide it is.
#[test]
fn repeat_auto_stops_on_the_time_budget() {
    let t = std::time::Instant::now();
    let (code, out, err) = evbench(&[
        "run",
        "pingpong",
        "--rounds",
        "1000",
        "--warmup-rounds",
        "50",
        "--repeat",
        "auto",
        "--precision",
        "0.0000001",
        "--max-time",
        "1500ms",
        "--probes",
        "none",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let conv = &v["cases"][0]["convergence"];
    assert_eq!(conv["converged"], false, "{conv}");
    let n = conv["repeats"].as_u64().unwrap();
    assert!(n >= 6, "{conv}");
    assert!(conv["half_width"].as_f64().unwrap() > 0.0000001);
    let warned = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("pingpong/pipe/block/pin=none"));
    assert!(warned, "{}", v["warnings"]);
    // The budget is checked between rounds: a bound, not a speed test.
    assert!(t.elapsed() < std::time::Duration::from_secs(60));
}

/// `--max-time` is a budget for the whole run, its first 6 rounds included: with passes
/// of about a second or more and a 1 s budget, the run stops after the round that began
/// before the budget ran out (not after 6), says the case did not converge, and keeps
/// every repeat whole.
#[test]
fn repeat_auto_budget_covers_the_first_rounds() {
    let (code, out, err) = evbench(&[
        "run",
        "pingpong",
        "--rounds",
        "300000",
        "--warmup-rounds",
        "50",
        "--warmup-repeats",
        "0",
        "--repeat",
        "auto",
        "--max-time",
        "1s",
        "--probes",
        "none",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let c = &v["cases"][0];
    let n = c["repeats"].as_array().unwrap().len();
    assert!((1..6).contains(&n), "{n} repeats");
    assert_eq!(c["convergence"]["converged"], false);
    assert_eq!(c["convergence"]["repeats"], n as u64);
    assert!(c["repeats"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["interrupted"] != true));
    assert_eq!(v["interrupted"], false);
    let w = v["warnings"].to_string();
    assert!(w.contains("fewer than 6 repeats"), "{w}");
}

/// `--precision` and `--max-time` mean something only with `--repeat auto`: given
/// without it they are refused in one line, not silently ignored.
#[test]
fn auto_only_flags_are_refused_without_auto() {
    for flag in [["--precision", "5%"], ["--max-time", "10s"]] {
        let (code, _, err) = evbench(&["run", "pingpong", "--rounds", "100", flag[0], flag[1]]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(
            err.trim(),
            format!(
                "evbench: error: {} applies only with --repeat auto (it would be ignored) (see --help)",
                flag[0]
            )
        );
    }
}

/// A `--max-time` that runs out before a case has one judged repeat (here the warm-up
/// repeat alone takes longer) is a failure, not a run that passes with no figure.
#[test]
fn repeat_auto_with_no_repeat_measured_fails() {
    let (code, out, err) = evbench(&[
        "run",
        "pingpong",
        "--rounds",
        "400000",
        "--repeat",
        "auto",
        "--max-time",
        "1s",
        "--probes",
        "none",
        "--json",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("evbench: error: --max-time ran out before any repeat of pingpong/pipe/block/pin=none was measured: no figure"),
        "{err}"
    );
    // The document still says what happened.
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cases"][0]["convergence"]["repeats"], 0);
}
