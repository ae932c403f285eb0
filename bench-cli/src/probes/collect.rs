//! Turns the kernel's maps into report figures: per-CPU histogram cells merged into
//! `hdrhistogram::Histogram`s (lossless: the buckets are HdrHistogram's own at two
//! significant digits), per-thread counts, who woke whom, symbolised wakeup stacks,
//! and what each program cost.
use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, Result};
use aya::{
    maps::{HashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues, StackTraceMap},
    Ebpf,
};
use bench_common::{fixed, hist, metric, prog, HistKey, SyscallKey, Target, WokeKey, COMM_LEN};
use hdrhistogram::Histogram;
use serde::Serialize;
use workloads::TaskInfo;

use super::{kallsyms::Kallsyms, progstats::ProgCounters, ProbeSet, ProbeSets};
use crate::results::Percentiles;

/// A kernel histogram: the HDR histogram itself and its summary for reports.
#[derive(Clone, Debug, Serialize)]
pub struct KernelHist {
    #[serde(flatten)]
    pub summary: Percentiles,
    #[serde(skip)]
    pub hist: Histogram<u64>,
}

impl KernelHist {
    fn new(hist: Histogram<u64>) -> Self {
        Self {
            summary: Percentiles::of(&hist),
            hist,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ThreadFigures {
    pub tid: u32,
    pub role: &'static str,
    pub voluntary: u64,
    pub involuntary: u64,
    pub oncpu_ns: u64,
    /// Times it was woken inside the window (sched_waking), when `wakeup` is on.
    pub wakeups: u64,
    /// Syscalls it completed inside the window, when `syscalls` is on.
    pub syscalls: u64,
    /// Blocked intervals whose switch-in was never observed (see `ThreadSched::unpaired`).
    pub unpaired: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SyscallFigures {
    pub nr: u32,
    pub name: String,
    pub count: u64,
    /// Count per target thread: (tid, count).
    pub per_thread: Vec<(u32, u64)>,
    pub latency_ns: KernelHist,
    /// The on-CPU part of each call.
    pub oncpu_ns: KernelHist,
}

#[derive(Clone, Debug, Serialize)]
pub struct WokeFigures {
    pub waker_tid: u32,
    pub waker_comm: String,
    /// The waker's role when it is one of the workload's tasks.
    pub waker_role: Option<&'static str>,
    pub wakee_tid: u32,
    pub wakee_role: &'static str,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct StackFigures {
    pub count: u64,
    /// Innermost first ("function+0xoff").
    pub frames: Vec<String>,
}

/// What one program cost during the window.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramCost {
    pub program: String,
    /// Runs in the window (all threads of the machine: the filter runs for each).
    pub runs: u64,
    pub ns_per_run: Option<f64>,
    /// Runs that passed the target filter while measuring.
    pub target_runs: u64,
    /// Estimated ns per run on target threads: the window's run time minus the
    /// non-target runs at the per-run cost calibrated with no target, over target runs.
    pub ns_per_target_run: Option<f64>,
    /// Run time as a share of all CPUs' time in the window.
    pub cpu_share: f64,
    /// Runs the kernel skipped because a BPF program was already running on that CPU.
    pub recursion_misses: u64,
    /// Failed map updates (full maps, lost races).
    pub drops: u64,
}

/// The stack walks of `wakestacks`, timed on their own inside `sched_waking`.
#[derive(Clone, Debug, Serialize)]
pub struct StackWalkCost {
    pub walks: u64,
    pub ns_per_walk: Option<f64>,
    pub drops: u64,
}

/// Everything the probes measured in one window.
#[derive(Clone, Debug, Serialize)]
pub struct Kernel {
    pub sets: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kfunc: Option<String>,
    pub window_ns: u64,
    pub threads: Vec<ThreadFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wakeup_same_cpu_ns: Option<KernelHist>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wakeup_cross_cpu_ns: Option<KernelHist>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offcpu_ns: Option<KernelHist>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallFigures>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub woke: Vec<WokeFigures>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wake_stacks: Vec<StackFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_walks: Option<StackWalkCost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kfunc_ns: Option<KernelHist>,
    pub programs: Vec<ProgramCost>,
    pub warnings: Vec<String>,
}

impl Kernel {
    pub fn voluntary(&self) -> u64 {
        self.threads.iter().map(|t| t.voluntary).sum()
    }
    pub fn involuntary(&self) -> u64 {
        self.threads.iter().map(|t| t.involuntary).sum()
    }
    pub fn wakeups(&self) -> u64 {
        self.threads.iter().map(|t| t.wakeups).sum()
    }
    pub fn syscall_count(&self) -> u64 {
        self.syscalls.iter().map(|s| s.count).sum()
    }
    pub fn unpaired(&self) -> u64 {
        self.threads.iter().map(|t| t.unpaired).sum()
    }
    pub fn recursion_misses(&self) -> u64 {
        self.programs.iter().map(|p| p.recursion_misses).sum()
    }
    pub fn drops(&self) -> u64 {
        self.programs.iter().map(|p| p.drops).sum::<u64>()
            + self.stack_walks.as_ref().map_or(0, |s| s.drops)
    }
    /// The syscall named `name`, if any target made it.
    pub fn syscall(&self, name: &str) -> Option<&SyscallFigures> {
        self.syscalls.iter().find(|s| s.name == name)
    }
}

/// What `collect` reads from.
pub struct Sources<'a> {
    pub ebpf: &'a Ebpf,
    pub targets: &'a HashMap<MapData, u32, Target>,
    pub sets: ProbeSets,
    pub kfunc: Option<&'a str>,
    pub tasks: &'a [TaskInfo],
    pub programs: &'a [&'a str],
    pub idle_cost: &'a [Option<f64>],
    pub window: Duration,
    pub counters: Vec<ProgCounters>,
    pub warnings: &'a [String],
}

fn prog_index(name: &str) -> Option<u32> {
    Some(match name {
        "sched_switch" => prog::SCHED_SWITCH,
        "sched_waking" => prog::SCHED_WAKING,
        "sys_enter" => prog::SYS_ENTER,
        "sys_exit" => prog::SYS_EXIT,
        "sched_process_fork" => prog::SCHED_PROCESS_FORK,
        "kfunc_entry" => prog::KFUNC_ENTRY,
        "kfunc_exit" => prog::KFUNC_EXIT,
        _ => return None,
    })
}

fn map<'a>(ebpf: &'a Ebpf, name: &str) -> Result<&'a aya::maps::Map> {
    ebpf.map(name)
        .with_context(|| format!("map {name} is missing from the eBPF object"))
}

fn per_cpu_sum(values: &PerCpuValues<u64>) -> u64 {
    values.iter().sum()
}

fn per_cpu_array(ebpf: &Ebpf, name: &str) -> Result<Vec<u64>> {
    let a: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map(ebpf, name)?)?;
    (0..prog::COUNT)
        .map(|i| {
            Ok(per_cpu_sum(
                &a.get(&i, 0)
                    .with_context(|| format!("cannot read {name}"))?,
            ))
        })
        .collect()
}

/// Merges the per-CPU histogram cells into one HDR histogram per (metric, sub).
fn histograms(ebpf: &Ebpf) -> Result<BTreeMap<(u32, u32), Histogram<u64>>> {
    let cells: PerCpuHashMap<&MapData, HistKey, u64> = PerCpuHashMap::try_from(map(ebpf, "HIST")?)?;
    let mut out: BTreeMap<(u32, u32), Histogram<u64>> = BTreeMap::new();
    for cell in cells.iter() {
        let (key, values) = cell.context("cannot read the HIST map")?;
        let n = per_cpu_sum(&values);
        if n == 0 {
            continue;
        }
        let h = out
            .entry((key.metric, key.sub))
            .or_insert_with(|| Histogram::new(2).expect("2 significant digits is valid"));
        // The bucket's lowest value lands in the same HDR bucket: nothing is lost.
        h.record_n(hist::bucket_low(key.bucket), n)
            .context("recording a kernel histogram cell")?;
    }
    Ok(out)
}

/// Merges the per-CPU cells of fixed histogram `slot` into one HDR histogram.
fn fixed_histogram(ebpf: &Ebpf, slot: u32) -> Result<Option<KernelHist>> {
    let cells: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map(ebpf, "FIXED_HIST")?)?;
    let mut h = Histogram::new(2).expect("2 significant digits is valid");
    for b in 0..hist::BUCKETS {
        let n = per_cpu_sum(
            &cells
                .get(&(slot * hist::BUCKETS + b), 0)
                .context("cannot read FIXED_HIST")?,
        );
        if n > 0 {
            h.record_n(hist::bucket_low(b), n)
                .context("recording a kernel histogram cell")?;
        }
    }
    Ok((!h.is_empty()).then(|| KernelHist::new(h)))
}

fn comm_str(c: &[u8; COMM_LEN]) -> String {
    let end = c.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    String::from_utf8_lossy(&c[..end]).into_owned()
}

pub fn collect(src: &Sources<'_>) -> Result<Kernel> {
    let ebpf = src.ebpf;
    let sets = src.sets;
    let mut hists = histograms(ebpf)?;
    let mut take = |m: u32, sub: u32| hists.remove(&(m, sub)).map(KernelHist::new);

    let role_of = |tid: u32| src.tasks.iter().find(|t| t.tid == tid).map(|t| t.role);

    // Who woke whom, and each target's wakeups.
    let mut woke = Vec::new();
    if sets.contains(ProbeSet::Wakeup) {
        let m: PerCpuHashMap<&MapData, WokeKey, u64> = PerCpuHashMap::try_from(map(ebpf, "WOKE")?)?;
        let comms: HashMap<&MapData, u32, [u8; COMM_LEN]> = HashMap::try_from(map(ebpf, "COMMS")?)?;
        for e in m.iter() {
            let (k, v) = e.context("cannot read the WOKE map")?;
            let count = per_cpu_sum(&v);
            if count == 0 {
                continue;
            }
            woke.push(WokeFigures {
                waker_tid: k.waker_tid,
                waker_comm: comms
                    .get(&k.waker_tid, 0)
                    .map(|c| comm_str(&c))
                    .unwrap_or_default(),
                waker_role: role_of(k.waker_tid),
                wakee_tid: k.wakee_tid,
                wakee_role: role_of(k.wakee_tid).unwrap_or("child"),
                count,
            });
        }
        woke.sort_by_key(|w| std::cmp::Reverse(w.count));
    }

    // Syscalls: counts per (thread, nr), histograms per nr.
    let mut per_nr: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
    if sets.contains(ProbeSet::Syscalls) {
        let m: PerCpuHashMap<&MapData, SyscallKey, u64> =
            PerCpuHashMap::try_from(map(ebpf, "SYSCOUNT")?)?;
        for e in m.iter() {
            let (k, v) = e.context("cannot read the SYSCOUNT map")?;
            per_nr
                .entry(k.nr)
                .or_default()
                .push((k.tid, per_cpu_sum(&v)));
        }
    }
    let mut syscalls = Vec::new();
    for (nr, mut per_thread) in per_nr {
        per_thread.sort_unstable();
        let empty = || KernelHist::new(Histogram::new(2).expect("valid"));
        syscalls.push(SyscallFigures {
            nr,
            name: syscalls::Sysno::new(nr as usize)
                .map_or_else(|| format!("syscall_{nr}"), |s| s.name().to_string()),
            count: per_thread.iter().map(|p| p.1).sum(),
            per_thread,
            latency_ns: take(metric::SYSCALL, nr).unwrap_or_else(empty),
            oncpu_ns: take(metric::SYSCALL_ONCPU, nr).unwrap_or_else(empty),
        });
    }
    syscalls.sort_by_key(|s| std::cmp::Reverse(s.count));

    // Per-thread figures, from each target's entry.
    let mut threads = Vec::new();
    for task in src.tasks {
        let t = match src.targets.get(&task.tid, 0) {
            Ok(t) => t,
            Err(aya::maps::MapError::KeyNotFound) => Target::default(),
            Err(e) => return Err(e).context("cannot read the TARGETS map"),
        };
        threads.push(ThreadFigures {
            tid: task.tid,
            role: task.role,
            voluntary: t.sched.voluntary,
            involuntary: t.sched.involuntary,
            oncpu_ns: t.sched.oncpu_ns,
            unpaired: t.sched.unpaired,
            wakeups: woke
                .iter()
                .filter(|w| w.wakee_tid == task.tid)
                .map(|w| w.count)
                .sum(),
            syscalls: t.syscalls,
        });
    }

    let drops = per_cpu_array(ebpf, "DROPS")?;
    let target_runs = per_cpu_array(ebpf, "TARGET_RUNS")?;
    let cost_ns = per_cpu_array(ebpf, "COST_NS")?;

    // Wakeup stacks.
    let (mut wake_stacks, mut stack_walks) = (Vec::new(), None);
    if sets.contains(ProbeSet::Wakestacks) {
        let counts: PerCpuHashMap<&MapData, u32, u64> =
            PerCpuHashMap::try_from(map(ebpf, "STACK_COUNTS")?)?;
        let traces = StackTraceMap::try_from(map(ebpf, "STACKS")?)?;
        let syms = Kallsyms::load()?;
        for e in counts.iter() {
            let (id, v) = e.context("cannot read the STACK_COUNTS map")?;
            let trace = traces.get(&id, 0).context("cannot read a stack trace")?;
            wake_stacks.push(StackFigures {
                count: per_cpu_sum(&v),
                frames: trace.frames().iter().map(|f| syms.name(f.ip)).collect(),
            });
        }
        wake_stacks.sort_by_key(|s| std::cmp::Reverse(s.count));
        let walks = target_runs[prog::WAKESTACKS as usize];
        stack_walks = Some(StackWalkCost {
            walks,
            ns_per_walk: (walks > 0)
                .then(|| cost_ns[prog::WAKESTACKS as usize] as f64 / walks as f64),
            drops: drops[prog::WAKESTACKS as usize],
        });
    }

    let cpus = aya::util::nr_cpus()
        .map_err(|(_, e)| e)
        .context("cannot count CPUs")? as f64;
    let window_ns = src.window.as_nanos() as u64;
    let programs = src
        .programs
        .iter()
        .zip(&src.counters)
        .zip(src.idle_cost)
        .map(|((&name, c), idle)| {
            let idx = prog_index(name).map(|i| i as usize);
            let t_runs = idx.map_or(0, |i| target_runs[i]).min(c.run_cnt);
            let per_target = match (t_runs, idle) {
                (0, _) => None,
                (t, Some(idle)) => Some(
                    ((c.run_time_ns as f64 - (c.run_cnt - t) as f64 * idle) / t as f64).max(0.0),
                ),
                // No calibration: charge the whole run time to the target runs (an upper bound).
                (t, None) => Some(c.run_time_ns as f64 / t as f64),
            };
            ProgramCost {
                program: name.to_string(),
                runs: c.run_cnt,
                ns_per_run: (c.run_cnt > 0).then(|| c.run_time_ns as f64 / c.run_cnt as f64),
                target_runs: t_runs,
                ns_per_target_run: per_target,
                cpu_share: if window_ns > 0 {
                    c.run_time_ns as f64 / (window_ns as f64 * cpus)
                } else {
                    0.0
                },
                recursion_misses: c.recursion_misses,
                drops: idx.map_or(0, |i| drops[i]),
            }
        })
        .collect();

    Ok(Kernel {
        sets: sets.to_string(),
        kfunc: src.kfunc.map(str::to_string),
        window_ns,
        threads,
        wakeup_same_cpu_ns: fixed_histogram(ebpf, fixed::WAKEUP_SAME_CPU)?,
        wakeup_cross_cpu_ns: fixed_histogram(ebpf, fixed::WAKEUP_CROSS_CPU)?,
        offcpu_ns: fixed_histogram(ebpf, fixed::OFFCPU)?,
        syscalls,
        woke,
        wake_stacks,
        stack_walks,
        kfunc_ns: fixed_histogram(ebpf, fixed::KFUNC)?,
        programs,
        warnings: src.warnings.to_vec(),
    })
}

fn clear_hash<K: aya::Pod, V: aya::Pod>(ebpf: &mut Ebpf, name: &str) -> Result<()> {
    let mut m: HashMap<&mut MapData, K, V> =
        HashMap::try_from(ebpf.map_mut(name).context("missing map")?)?;
    let keys: Vec<K> = m.keys().filter_map(Result::ok).collect();
    for k in keys {
        let _ = m.remove(&k);
    }
    Ok(())
}

fn clear_per_cpu_hash<K: aya::Pod>(ebpf: &mut Ebpf, name: &str) -> Result<()> {
    let mut m: PerCpuHashMap<&mut MapData, K, u64> =
        PerCpuHashMap::try_from(ebpf.map_mut(name).context("missing map")?)?;
    let keys: Vec<K> = m.keys().filter_map(Result::ok).collect();
    for k in keys {
        let _ = m.remove(&k);
    }
    Ok(())
}

/// Empties every figure map, so the next case starts from zero.
pub fn clear(ebpf: &mut Ebpf) -> Result<()> {
    clear_per_cpu_hash::<HistKey>(ebpf, "HIST")?;
    clear_per_cpu_hash::<SyscallKey>(ebpf, "SYSCOUNT")?;
    clear_per_cpu_hash::<WokeKey>(ebpf, "WOKE")?;
    clear_per_cpu_hash::<u32>(ebpf, "STACK_COUNTS")?;
    clear_hash::<u32, [u8; COMM_LEN]>(ebpf, "COMMS")?;
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
    {
        let mut a: PerCpuArray<&mut MapData, u64> =
            PerCpuArray::try_from(ebpf.map_mut("FIXED_HIST").context("missing map")?)?;
        for i in 0..fixed::SLOTS * hist::BUCKETS {
            if per_cpu_sum(&a.get(&i, 0)?) != 0 {
                a.set(i, PerCpuValues::try_from(vec![0u64; cpus])?, 0)?;
            }
        }
    }
    for name in ["DROPS", "TARGET_RUNS", "COST_NS"] {
        let mut a: PerCpuArray<&mut MapData, u64> =
            PerCpuArray::try_from(ebpf.map_mut(name).context("missing map")?)?;
        for i in 0..prog::COUNT {
            a.set(i, PerCpuValues::try_from(vec![0u64; cpus])?, 0)?;
        }
    }
    Ok(())
}
