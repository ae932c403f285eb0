//! The probe sets, loaded into this kernel for real, measuring a ping-pong whose
//! numbers the kernel fixes exactly.
//!
//! Needs root (CI has it). If the probes cannot load, these tests fail with the reason:
//! they never skip.
use std::sync::Mutex;

use evbench::probes::{collect::KernelHist, Kernel, ProbeOptions, ProbeSets, Probes};
use workloads::{
    pingpong::{self, Pin, Tasks},
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
/// (a call counts when it returns inside the window) — and nothing else: opening the
/// window is a store to shared memory, not a syscall. Each side blocks in read once per
/// round trip and is woken once by the other's write.
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
        let th = k.threads.iter().find(|x| x.tid == t.tid).unwrap();
        assert_eq!(
            th.syscalls,
            2 * R,
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
        // 1 call in N per (thread, number) is timed: call 0, N, 2N, … of each thread.
        let n = u64::from(k.syscall_sample);
        let expected: u64 = s.per_thread.iter().map(|p| p.1.div_ceil(n)).sum();
        assert_eq!(s.sampled, expected, "{} sampled", s.name);
        assert_eq!(s.latency_ns.summary.count, s.sampled, "{} latency", s.name);
        assert_eq!(s.oncpu_ns.summary.count, s.sampled, "{} on-CPU", s.name);
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
    // Every wakeup counted at sched_waking has exactly one latency sample (0 ns for a
    // wakee woken before it switched out), or is still pending when the figures are read:
    // counted on independent paths (who-woke-whom counts, histogram totals).
    assert!(k.wakeup_cross_cpu_ns.is_some(), "cross-CPU wakeups");
    assert_eq!(
        k.wakeup_samples() + k.wakeups_unpaired() + k.wakeups_pending,
        k.wakeups(),
        "latency samples + unpaired + pending vs wakeups"
    );
    assert!(k.wakeups_pending <= tasks.len() as u64);

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
    // Runs that passed the target filter, counted apart from the figures: one sys_exit
    // per counted syscall, one sched_waking per counted wakeup.
    let runs = |name: &str| {
        k.programs
            .iter()
            .find(|p| p.program == name)
            .map(|p| p.target_runs)
    };
    assert_eq!(runs("sys_exit"), Some(k.syscall_count()));
    assert_eq!(runs("sched_waking"), Some(k.wakeups()));
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
    assert_eq!(same + k.wakeups_unpaired() + k.wakeups_pending, k.wakeups());
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
    // Each wakeup is a sample, here always on the other CPU, or unpaired (no latency).
    assert_eq!(
        cross + k.wakeups_unpaired() + k.wakeups_pending,
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

fn load_with(sets: &str, opts: &ProbeOptions) -> Probes {
    Probes::load_with(sets.parse::<ProbeSets>().unwrap(), None, opts)
        .unwrap_or_else(|e| panic!("the eBPF probes must load for this test (run as root): {e:#}"))
}

/// Nothing of evbench's own is counted, for threads and processes alike: R round trips
/// are exactly 2R read(2) and 2R write(2) returns, 4R syscalls in all (the window is
/// opened by a store to shared memory — by the driver itself when it is a forked
/// process — so neither a bpf(2) call nor the controller's futex wake lands in it), and
/// every wakeup of a task came from the other task.
fn counts_exactly(tasks: Tasks, rounds: u64) {
    let _serial = serial();
    let probes = load("default");
    let cfg = pingpong::Config {
        mechanism: Mechanism::Pipe,
        rounds,
        warmup: 200,
        pin: Pin::Split,
        tasks,
        ..pingpong::Config::default()
    };
    let out = pingpong::run(&cfg, &probes, &Stop::new()).expect("ping-pong ran");
    assert_eq!(out.rounds, rounds);
    let k = probes.collect().unwrap();
    let what = format!("{tasks:?}, R = {rounds}");
    assert_eq!(
        k.syscall("read").map(|s| s.count),
        Some(2 * rounds),
        "{what}"
    );
    assert_eq!(
        k.syscall("write").map(|s| s.count),
        Some(2 * rounds),
        "{what}"
    );
    assert_eq!(
        k.syscall_count(),
        4 * rounds,
        "{what}: {:?}",
        k.syscalls
            .iter()
            .map(|s| (&s.name, s.count))
            .collect::<Vec<_>>()
    );
    let tasks = probes.tasks();
    for t in &tasks {
        assert_eq!(per_thread(&k, "read", t.tid), rounds, "{what}: {}", t.role);
        assert_eq!(per_thread(&k, "write", t.tid), rounds, "{what}: {}", t.role);
    }
    for w in &k.woke {
        let other = if w.wakee_role == "ping" {
            "pong"
        } else {
            "ping"
        };
        assert_eq!(w.waker_role, Some(other), "{what}: {w:?}");
    }
    assert_eq!(
        k.wakeup_samples() + k.wakeups_unpaired() + k.wakeups_pending,
        k.wakeups(),
        "{what}"
    );
    assert_eq!(k.drops(), 0, "{what}");
}

#[test]
fn ten_round_trips_of_threads_are_exactly_40_syscalls() {
    counts_exactly(Tasks::Threads, 10);
}

#[test]
fn ten_round_trips_of_processes_are_exactly_40_syscalls() {
    counts_exactly(Tasks::Processes, 10);
}

#[test]
fn twenty_thousand_round_trips_of_threads_are_exactly_4r_syscalls() {
    counts_exactly(Tasks::Threads, 20_000);
}

#[test]
fn twenty_thousand_round_trips_of_processes_are_exactly_4r_syscalls() {
    counts_exactly(Tasks::Processes, 20_000);
}

/// `--syscall-sample 8` times 1 call in 8 per (thread, syscall number): a ping-pong's
/// read and write histograms each get exactly 2R/8 samples — the alternating
/// read/write rhythm cannot alias with it — while the counts stay exact, and the
/// sampled count is reported beside them.
#[test]
fn syscall_sampling_is_per_thread_and_number_and_keeps_counts_exact() {
    let _serial = serial();
    const R: u64 = 20_000;
    let probes = load_with(
        "syscalls",
        &ProbeOptions {
            syscall_sample: 8,
            ..ProbeOptions::default()
        },
    );
    let k = pingpong(&probes, Mechanism::Pipe, R, Pin::Split);
    assert_eq!(k.syscall_sample, 8);
    for name in ["read", "write"] {
        let s = k.syscall(name).unwrap();
        assert_eq!(s.count, 2 * R, "{name} count");
        assert_eq!(s.sampled, 2 * R / 8, "{name} sampled");
        assert_eq!(
            s.latency_ns.summary.count,
            2 * R / 8,
            "{name} latency samples"
        );
        assert_eq!(s.oncpu_ns.summary.count, 2 * R / 8, "{name} on-CPU samples");
    }
}

/// The nop set: empty programs on the default sets' five tracepoints, alone only.
#[test]
fn nop_attaches_the_default_tracepoints_counts_nothing_and_stands_alone() {
    let _serial = serial();
    let probes = load("nop");
    let k = pingpong(&probes, Mechanism::Pipe, 1_000, Pin::Split);
    let names: Vec<&str> = k.programs.iter().map(|p| p.program.as_str()).collect();
    assert_eq!(
        names,
        [
            "nop_sched_switch",
            "nop_sched_waking",
            "nop_sys_enter",
            "nop_sys_exit",
            "nop_sched_process_fork"
        ]
    );
    assert_eq!(k.syscall_count(), 0);
    assert_eq!(k.wakeups(), 0);
    assert_eq!(k.voluntary() + k.involuntary(), 0);
    drop(probes);
    let both = evbench::probes::ProbeSets::NONE
        .with(evbench::probes::ProbeSet::Nop)
        .with(evbench::probes::ProbeSet::Wakeup);
    let e = Probes::load(both, None)
        .err()
        .expect("nop,wakeup is refused");
    assert!(e.to_string().contains("stands alone"), "{e}");
}

/// A deliberately tiny target table (the hidden test hook: one slot, a one-entry
/// hash): a target that starts 3 threads gets the first one followed (the hash) and the
/// other 2 refused by the kernel — each counted as `targets_full` and as a drop of
/// sched_process_fork, and reported through aya-log with the program, the tid and the
/// reason.
#[test]
fn a_full_target_table_is_counted_and_reported_through_aya_log() {
    let _serial = serial();
    let probes = load_with(
        "default",
        &ProbeOptions {
            max_entries: vec![("SLOTS".into(), 1), ("TARGETS".into(), 1)],
            ..ProbeOptions::default()
        },
    );
    let me = workloads::observer::gettid();
    probes.task_started(&TaskInfo {
        tid: me,
        index: 0,
        role: "parent",
    });
    probes.measuring(true);
    let children: Vec<u32> = (0..3)
        .map(|_| {
            std::thread::spawn(workloads::observer::gettid)
                .join()
                .unwrap()
        })
        .collect();
    probes.measuring(false);
    let k = probes.collect().unwrap();
    assert_eq!(k.rare("targets_full"), 2, "{:?}", k.rare_events);
    let fork = k
        .programs
        .iter()
        .find(|p| p.program == "sched_process_fork")
        .unwrap();
    assert_eq!(fork.drops, 2);
    assert_eq!(k.drops(), 2);
    let msgs: Vec<&String> = k
        .messages
        .iter()
        .filter(|m| m.contains("target table full"))
        .collect();
    assert_eq!(msgs.len(), 2, "{:?}", k.messages);
    for (m, c) in msgs.iter().zip(&children[1..]) {
        assert!(
            m.starts_with("WARN sched_process_fork: tid ") && m.contains(&format!("tid {me}:")),
            "{m}"
        );
        assert!(m.contains(&format!("child {c} ")), "{m}");
    }
}
