//! The `offcpu` probe set, loaded into this kernel for real, counting a ping-pong.
//!
//! Needs root (CI has it). If the probes cannot load, these tests fail with the reason:
//! they never skip.
use std::sync::Mutex;

use evbench::probes::{ProbeSets, Probes};
use workloads::{
    pingpong::{self, Pin},
    stop::Stop,
    Mechanism, Observer, TaskInfo,
};

/// Records a decoy's thread ids without targeting them.
#[derive(Default)]
struct Recorder(Mutex<Vec<u32>>);

impl Observer for Recorder {
    fn task_started(&self, task: &TaskInfo) {
        self.0.lock().unwrap().push(task.tid);
    }
    fn measuring(&self, _on: bool) {}
}

fn load() -> Probes {
    Probes::load("offcpu".parse::<ProbeSets>().unwrap())
        .unwrap_or_else(|e| panic!("the eBPF probes must load for this test (run as root): {e:#}"))
}

/// Each side of a pipe ping-pong blocks in read(2) once per round trip: the kernel puts
/// it to sleep (TASK_INTERRUPTIBLE) and __schedule() counts a voluntary switch
/// (`!preempt && prev_state != 0`). With the tasks on different CPUs (`--pin split`) a
/// wakeup never preempts the waker, so that is all that happens: 2 voluntary switches
/// per round trip, one per task. (On one CPU the woken task often preempts its waker
/// before the waker blocks, turning about half of them involuntary.)
#[test]
fn counts_two_voluntary_switches_per_round_trip_and_nothing_of_a_decoy() {
    const ROUNDS: u64 = 20_000;
    let probes = load();
    let decoy_tids = Recorder::default();
    let stop_decoy = Stop::new();
    let target = std::thread::scope(|s| {
        // The decoy does the identical ping-pong in the same process, untargeted.
        let decoy = s.spawn(|| {
            let cfg = pingpong::Config {
                mechanism: Mechanism::Pipe,
                rounds: u64::MAX,
                warmup: 0,
                pin: Pin::None,
                ..pingpong::Config::default()
            };
            pingpong::run(&cfg, &decoy_tids, &stop_decoy)
        });
        let cfg = pingpong::Config {
            mechanism: Mechanism::Pipe,
            rounds: ROUNDS,
            warmup: 500,
            pin: Pin::Split,
            ..pingpong::Config::default()
        };
        let r = pingpong::run(&cfg, &probes, &Stop::new());
        stop_decoy.set();
        let d = decoy.join().unwrap().expect("decoy ran");
        assert!(d.rounds > 0, "the decoy must really have run alongside");
        r
    })
    .expect("target ping-pong ran");
    assert_eq!(target.rounds, ROUNDS);

    let k = probes.collect().unwrap();
    let target_tids: Vec<u32> = probes.tasks().iter().map(|t| t.tid).collect();
    assert_eq!(target_tids.len(), 2, "ping and pong registered");
    let per_round = k.voluntary() as f64 / ROUNDS as f64;
    assert!(
        (1.8..=2.2).contains(&per_round),
        "voluntary switches per round trip: {per_round:.3} ({k:?})"
    );
    for t in &k.threads {
        let each = t.voluntary as f64 / ROUNDS as f64;
        assert!(
            (0.9..=1.1).contains(&each),
            "{} blocked {each:.3} times per round trip",
            t.role
        );
        assert!(
            t.oncpu_ns > 0 && t.oncpu_ns < target.elapsed_ns,
            "{}: on-CPU {} ns",
            t.role,
            t.oncpu_ns
        );
    }

    // The filter: the kernel side holds entries for the two targets and nothing else —
    // not the decoy pair, not this test's threads, not the rest of the machine.
    let mut expected = target_tids.clone();
    expected.sort_unstable();
    assert_eq!(probes.counted_tids().unwrap(), expected);
    let decoys = decoy_tids.0.lock().unwrap().clone();
    assert_eq!(decoys.len(), 2);
    for d in decoys {
        assert!(!expected.contains(&d));
    }
}

/// Outside the measured window nothing is counted: warm-up round trips happen with the
/// targets registered, yet the figures cover the measured rounds only.
#[test]
fn warm_up_is_not_counted() {
    let probes = load();
    let cfg = pingpong::Config {
        mechanism: Mechanism::Pipe,
        rounds: 1_000,
        warmup: 20_000,
        pin: Pin::Split,
        ..pingpong::Config::default()
    };
    pingpong::run(&cfg, &probes, &Stop::new()).unwrap();
    let v = probes.collect().unwrap().voluntary();
    // 20x more warm-up than measured: counting it would show ~42,000.
    assert!((1_800..=2_200).contains(&v), "voluntary switches: {v}");
}
