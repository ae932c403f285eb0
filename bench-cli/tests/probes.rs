//! The probe sets, loaded into this kernel for real, measuring a ping-pong whose
//! numbers the kernel fixes exactly.
//!
//! Needs root (CI has it). If the probes cannot load, these tests fail with the reason:
//! they never skip.
use std::sync::Mutex;

use evbench::probes::{collect::KernelHist, Kernel, ProbeSets, Probes};
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

/// The tests pin threads to CPUs 0 and 1 and count their switches exactly: run one at a
/// time, or they would preempt each other's tasks and change what the kernel does.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn load(sets: &str) -> Probes {
    Probes::load(sets.parse::<ProbeSets>().unwrap(), None)
        .unwrap_or_else(|e| panic!("the eBPF probes must load for this test (run as root): {e:#}"))
}

fn pingpong(probes: &Probes, mechanism: Mechanism, rounds: u64, pin: Pin) -> Kernel {
    let cfg = pingpong::Config {
        mechanism,
        rounds,
        warmup: 500,
        pin,
        ..pingpong::Config::default()
    };
    let out = pingpong::run(&cfg, probes, &Stop::new()).expect("ping-pong ran");
    assert_eq!(out.rounds, rounds);
    let k = probes.collect().unwrap();
    assert_eq!(
        k.recursion_misses(),
        0,
        "the kernel skipped runs of our programs: {:?}",
        k.programs
    );
    assert_eq!(k.drops(), 0, "map updates failed: {:?}", k.programs);
    k
}

fn check_hist(name: &str, h: &KernelHist) {
    let s = &h.summary;
    assert_eq!(
        s.count,
        h.hist.len(),
        "{name}: summary and histogram disagree"
    );
    assert!(
        s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max,
        "{name}: {s:?}"
    );
}

fn per_thread(k: &Kernel, syscall: &str, tid: u32) -> u64 {
    k.syscall(syscall)
        .and_then(|s| s.per_thread.iter().find(|p| p.0 == tid).map(|p| p.1))
        .unwrap_or(0)
}

/// The default sets on a pipe ping-pong of R round trips, two threads on different CPUs,
/// with an untargeted decoy pair doing the identical ping-pong at the same time.
///
/// What the kernel fixes: each side writes once and reads once per round trip, so each
/// target thread returns from exactly R write(2) and R read(2) calls inside the window
/// (a call counts when it returns inside the window). The one documented extra call is
/// ping's bpf(2) that switches counting on: it returns inside the window it opens. Each
/// side blocks in read once per round trip and is woken once by the other's write.
#[test]
fn default_sets_count_exactly_what_the_ping_pong_does_and_nothing_of_a_decoy() {
    let _serial = serial();
    const R: u64 = 20_000;
    let probes = load("default");
    let decoy_tids = Recorder::default();
    let stop_decoy = Stop::new();
    let k = std::thread::scope(|s| {
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
        let k = pingpong(&probes, Mechanism::Pipe, R, Pin::Split);
        stop_decoy.set();
        assert!(
            decoy.join().unwrap().expect("decoy ran").rounds > 0,
            "the decoy really ran alongside"
        );
        k
    });

    let tasks = probes.tasks();
    assert_eq!(tasks.len(), 2);
    for t in &tasks {
        assert_eq!(
            per_thread(&k, "write", t.tid),
            R,
            "{} write(2) calls",
            t.role
        );
        assert_eq!(per_thread(&k, "read", t.tid), R, "{} read(2) calls", t.role);
        let bpf = if t.role == "ping" { 1 } else { 0 };
        assert_eq!(
            per_thread(&k, "bpf", t.tid),
            bpf,
            "{}: only the call that opens the window",
            t.role
        );
        let th = k.threads.iter().find(|x| x.tid == t.tid).unwrap();
        assert_eq!(
            th.syscalls,
            2 * R + bpf,
            "{}: no other syscall in the window",
            t.role
        );
        // Every block ends in exactly one wakeup: the kernel fixes this pairing even when
        // the decoy, sharing this 2-CPU machine, preempts a target before it blocks (the
        // next message then finds it awake and needs no wakeup, so both counts dip below R
        // together). Against R itself the band is therefore wider.
        let (woken, blocked) = (th.wakeups as f64, th.voluntary as f64);
        assert!(
            (woken - blocked).abs() <= 0.02 * R as f64,
            "{}: {woken} wakeups but {blocked} blocks",
            t.role
        );
        for (what, v) in [("woken", woken), ("blocked", blocked)] {
            let per = v / R as f64;
            assert!(
                (0.9..=1.02).contains(&per),
                "{} {what} {per:.4} times per round trip",
                t.role
            );
        }
    }
    // Who woke whom: the reader was woken by the writer, and by nobody else.
    for w in &k.woke {
        let expected = if w.wakee_role == "ping" {
            "pong"
        } else {
            "ping"
        };
        assert_eq!(w.waker_role, Some(expected), "{w:?}");
    }

    // Every histogram's total equals its event count, and its percentiles are monotone.
    for s in &k.syscalls {
        assert_eq!(s.latency_ns.summary.count, s.count, "{} latency", s.name);
        assert_eq!(s.oncpu_ns.summary.count, s.count, "{} on-CPU", s.name);
        check_hist(&s.name, &s.latency_ns);
        check_hist(&s.name, &s.oncpu_ns);
        assert!(
            s.oncpu_ns.summary.p50 <= s.latency_ns.summary.p50,
            "{}: on-CPU exceeds the call",
            s.name
        );
    }
    let off = k.offcpu_ns.as_ref().expect("offcpu histogram");
    check_hist("offcpu", off);
    // Every voluntary switch-out is one blocked interval: completed (in the histogram),
    // still open when the window closed (at most one per thread), or ended unseen
    // (counted as unpaired, never silently lost).
    let accounted = off.summary.count + k.unpaired();
    assert!(
        k.voluntary() >= accounted && k.voluntary() - accounted <= tasks.len() as u64,
        "{} voluntary switches, {} blocked intervals, {} unpaired",
        k.voluntary(),
        off.summary.count,
        k.unpaired()
    );
    // A wakeup while the wakee is still on its CPU has no latency to measure; every other
    // one has exactly one sample.
    let lat = k
        .wakeup_cross_cpu_ns
        .as_ref()
        .expect("cross-CPU wakeups")
        .summary
        .count
        + k.wakeup_same_cpu_ns.as_ref().map_or(0, |h| h.summary.count);
    assert!(
        lat <= k.wakeups() && lat as f64 >= 0.98 * k.wakeups() as f64,
        "{lat} latencies for {} wakeups",
        k.wakeups()
    );

    // The filter: entries for the two targets and nothing else — not the decoy pair,
    // not this test's threads, not the rest of the machine.
    let mut expected: Vec<u32> = tasks.iter().map(|t| t.tid).collect();
    expected.sort_unstable();
    assert_eq!(probes.counted_tids().unwrap(), expected);
    for d in decoy_tids.0.lock().unwrap().iter() {
        assert!(!expected.contains(d));
        assert!(
            k.woke
                .iter()
                .all(|w| w.waker_tid != *d && w.wakee_tid != *d),
            "decoy {d} in who-woke-whom"
        );
    }
    for p in &k.programs {
        assert!(p.target_runs <= p.runs, "{p:?}");
    }
}

/// Placement decides which wakeup histogram fills: both tasks on CPU 0 → every measured
/// wakeup is same-CPU; one task per CPU → every one is cross-CPU.
#[test]
fn pin_same_and_split_fill_the_histogram_the_placement_implies() {
    let _serial = serial();
    let probes = load("wakeup");
    let k = pingpong(&probes, Mechanism::Pipe, 5_000, Pin::Same);
    assert!(
        k.wakeup_cross_cpu_ns.is_none(),
        "cross-CPU wakeups with both tasks on CPU 0"
    );
    let same = k
        .wakeup_same_cpu_ns
        .as_ref()
        .expect("same-CPU wakeups")
        .summary
        .count;
    assert!(same > 0 && same <= k.wakeups(), "{same} of {}", k.wakeups());
    drop(probes);

    let probes = load("wakeup");
    let k = pingpong(&probes, Mechanism::Pipe, 5_000, Pin::Split);
    assert!(
        k.wakeup_same_cpu_ns.is_none(),
        "same-CPU wakeups with one task per CPU"
    );
    let cross = k
        .wakeup_cross_cpu_ns
        .as_ref()
        .expect("cross-CPU wakeups")
        .summary
        .count;
    // Each wakeup of a sleeping task ends in one switch-in, here always on the other CPU.
    assert!(
        cross <= k.wakeups() && cross as f64 >= 0.9 * k.wakeups() as f64 && k.wakeups() >= 5_000,
        "{cross} cross-CPU latencies for {} wakeups",
        k.wakeups()
    );
}

/// The kernel path that woke the reader, on a kernel without function probes: a pipe
/// wakeup goes through the pipe's write path.
#[test]
fn the_top_wakeup_stack_of_a_pipe_run_is_the_pipe_write_path() {
    let _serial = serial();
    let probes = load("wakestacks");
    let k = pingpong(&probes, Mechanism::Pipe, 3_000, Pin::Split);
    let top = k.wake_stacks.first().expect("wakeup stacks");
    let frames = top.frames.join(" ");
    // 6.13+ names it anon_pipe_write; older kernels pipe_write.
    assert!(frames.contains("pipe_write"), "{frames}");
    assert!(frames.contains("try_to_wake_up"), "{frames}");
    let walks = k.stack_walks.as_ref().unwrap();
    assert_eq!(
        walks.walks,
        k.wake_stacks.iter().map(|s| s.count).sum::<u64>() + walks.drops
    );
    assert!(walks.ns_per_walk.is_some());
}

/// And an eventfd wakeup goes through the eventfd write path, not the pipe's.
#[test]
fn the_top_wakeup_stack_of_an_eventfd_run_is_the_eventfd_write_path() {
    let _serial = serial();
    let probes = load("wakestacks");
    let k = pingpong(&probes, Mechanism::Eventfd, 3_000, Pin::Split);
    let frames = k
        .wake_stacks
        .first()
        .expect("wakeup stacks")
        .frames
        .join(" ");
    assert!(
        frames.contains("eventfd_write") && frames.contains("try_to_wake_up"),
        "{frames}"
    );
    assert!(!frames.contains("pipe_write"), "{frames}");
}

/// Outside the measured window nothing is counted: warm-up round trips happen with the
/// targets registered, yet the figures cover the measured rounds only.
#[test]
fn warm_up_is_not_counted() {
    let _serial = serial();
    let probes = load("offcpu,syscalls");
    let cfg = pingpong::Config {
        mechanism: Mechanism::Pipe,
        rounds: 1_000,
        warmup: 20_000,
        pin: Pin::Split,
        ..pingpong::Config::default()
    };
    pingpong::run(&cfg, &probes, &Stop::new()).unwrap();
    let k = probes.collect().unwrap();
    assert_eq!(k.syscall("write").unwrap().count, 2 * 1_000);
    // At most one block per task per measured round trip; counting the 20x larger
    // warm-up would show about 42,000.
    let v = k.voluntary();
    assert!(v > 0 && v <= 2 * 1_000 + 2, "voluntary switches: {v}");
}

/// One load serves several cases: reset forgets the previous case entirely.
#[test]
fn reset_starts_the_next_case_from_zero() {
    let _serial = serial();
    let mut probes = load("syscalls");
    pingpong(&probes, Mechanism::Pipe, 2_000, Pin::Split);
    probes.reset().unwrap();
    let k = pingpong(&probes, Mechanism::Pipe, 1_000, Pin::Split);
    assert_eq!(k.syscall("read").unwrap().count, 2 * 1_000);
    assert_eq!(probes.tasks().len(), 2);
}
