//! Probe loading, targets and collection: the user side of `bench-ebpf`.
//!
//! One [`Probes`] is loaded and attached before a workload creates its tasks. It is the
//! workload's [`Observer`]: each task's thread id goes into the kernel's `TARGETS` map
//! as the task starts, and the measured window flips the `CONTROL` switch, so nothing
//! of the CLI's own threads, the rest of the machine, or set-up is ever counted.
pub mod btf;
pub mod set;

use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};
use aya::{
    maps::{Array, HashMap, MapData},
    programs::BtfTracePoint,
    Btf, Ebpf, EbpfLoader,
};
use bench_common::{task_offsets, TargetInfo, ThreadSched, CONTROL_MEASURING};
use workloads::{Observer, TaskInfo};

pub use set::{ProbeSet, ProbeSets};

/// The kernel programs, built by `cargo xtask build` and embedded at compile time.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(env!("EVBENCH_EBPF_OBJ_PATH"));

/// BTF tracepoints each probe set attaches, in attach order.
pub fn tracepoints(set: ProbeSet) -> &'static [&'static str] {
    match set {
        ProbeSet::Offcpu => &["sched_switch"],
    }
}

/// Loaded and attached probes. Dropping it detaches and unloads everything.
pub struct Probes {
    sets: ProbeSets,
    // Keeps the programs and their links alive.
    _ebpf: Ebpf,
    targets: Mutex<HashMap<MapData, u32, TargetInfo>>,
    control: Mutex<Array<MapData, u32>>,
    threads: HashMap<MapData, u32, ThreadSched>,
    tasks: Mutex<Vec<TaskInfo>>,
}

/// Per-thread scheduler figures of one target task, from the `offcpu` set.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ThreadFigures {
    pub tid: u32,
    pub role: &'static str,
    pub voluntary: u64,
    pub involuntary: u64,
    pub oncpu_ns: u64,
}

/// What the probes saw during one measured window.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Collected {
    pub threads: Vec<ThreadFigures>,
}

impl Collected {
    pub fn voluntary(&self) -> u64 {
        self.threads.iter().map(|t| t.voluntary).sum()
    }
    pub fn involuntary(&self) -> u64 {
        self.threads.iter().map(|t| t.involuntary).sum()
    }
}

/// Loads the object with the kernel-specific globals filled in (no programs loaded yet).
pub(crate) fn open_object() -> Result<Ebpf> {
    let kbtf = btf::KernelBtf::from_sys_fs()?;
    let pid_off = kbtf.member_offset("task_struct", "pid")?;
    EbpfLoader::new()
        .override_global(task_offsets::PID, &pid_off, true)
        .load(OBJECT)
        .map_err(|e| anyhow!("{}", crate::errors::chain(&e)))
        .context("cannot create the BPF maps")
}

impl Probes {
    /// Loads and attaches the programs of `sets`. Counting stays off until a workload
    /// opens its measured window.
    pub fn load(sets: ProbeSets) -> Result<Self> {
        let mut ebpf = open_object()?;
        let btf = Btf::from_sys_fs().context("cannot read the kernel's BTF")?;
        for set in sets.iter() {
            for &tp in tracepoints(set) {
                let prog: &mut BtfTracePoint = ebpf
                    .program_mut(tp)
                    .with_context(|| format!("program {tp} is missing from the eBPF object"))?
                    .try_into()?;
                prog.load(tp, &btf).map_err(|e| {
                    anyhow!("cannot load the {tp} program: {}", crate::errors::chain(&e))
                })?;
                prog.attach().map_err(|e| {
                    anyhow!(
                        "cannot attach to tracepoint {tp}: {}",
                        crate::errors::chain(&e)
                    )
                })?;
            }
        }
        let take = |ebpf: &mut Ebpf, name: &str| {
            ebpf.take_map(name)
                .with_context(|| format!("map {name} is missing from the eBPF object"))
        };
        let targets = HashMap::try_from(take(&mut ebpf, "TARGETS")?)?;
        let control = Array::try_from(take(&mut ebpf, "CONTROL")?)?;
        let threads = HashMap::try_from(take(&mut ebpf, "THREADS")?)?;
        Ok(Self {
            sets,
            _ebpf: ebpf,
            targets: Mutex::new(targets),
            control: Mutex::new(control),
            threads,
            tasks: Mutex::new(Vec::new()),
        })
    }

    pub fn sets(&self) -> ProbeSets {
        self.sets
    }

    /// The tasks registered so far.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        self.tasks.lock().expect("not poisoned").clone()
    }

    /// Reads every target's figures.
    pub fn collect(&self) -> Result<Collected> {
        let mut threads = Vec::new();
        for task in self.tasks() {
            let s = match self.threads.get(&task.tid, 0) {
                Ok(s) => s,
                // A task that never switched while we looked has no entry: all zero.
                Err(aya::maps::MapError::KeyNotFound) => ThreadSched::default(),
                Err(e) => return Err(e).context("cannot read the THREADS map"),
            };
            threads.push(ThreadFigures {
                tid: task.tid,
                role: task.role,
                voluntary: s.voluntary,
                involuntary: s.involuntary,
                oncpu_ns: s.oncpu_ns,
            });
        }
        Ok(Collected { threads })
    }

    /// Every thread id the kernel side has an entry for. Only targets pass the filter,
    /// so anything else here means the filter leaked.
    pub fn counted_tids(&self) -> Result<Vec<u32>> {
        let mut tids: Vec<u32> = self
            .threads
            .keys()
            .collect::<Result<_, _>>()
            .context("cannot read the THREADS map")?;
        tids.sort_unstable();
        Ok(tids)
    }

    /// Forgets the previous case's targets and figures, so one load serves many cases.
    pub fn reset(&mut self) -> Result<()> {
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("not poisoned"));
        let mut targets = self.targets.lock().expect("not poisoned");
        for t in tasks {
            // Missing keys are fine: nothing was recorded for them.
            let _ = targets.remove(&t.tid);
            let _ = self.threads.remove(&t.tid);
        }
        Ok(())
    }
}

impl Observer for Probes {
    fn task_started(&self, task: &TaskInfo) {
        let info = TargetInfo { label: task.index };
        if let Err(e) = self
            .targets
            .lock()
            .expect("not poisoned")
            .insert(task.tid, info, 0)
        {
            // The task still runs; its figures will be missing, and the report says so.
            crate::output::warn(&format!(
                "cannot follow task {} ({}): {e}",
                task.tid, task.role
            ));
            return;
        }
        self.tasks.lock().expect("not poisoned").push(task.clone());
    }

    fn measuring(&self, on: bool) {
        if let Err(e) =
            self.control
                .lock()
                .expect("not poisoned")
                .set(CONTROL_MEASURING, u32::from(on), 0)
        {
            crate::output::warn(&format!(
                "cannot switch counting {}: {e}",
                if on { "on" } else { "off" }
            ));
        }
    }
}
