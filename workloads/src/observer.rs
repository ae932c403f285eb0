//! How a workload tells the rest of the tool which tasks are its own.
//!
//! Probes follow thread ids, so every task reports itself *before* it does measured
//! work, and the workload marks its measured window so set-up and warm-up stay out.

/// One task of a workload, as the kernel knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// Thread id (threads) or process id (processes; its own children follow it).
    pub tid: u32,
    /// Index of the task inside its workload (0, 1, ...).
    pub index: u32,
    /// What the task does, for reports ("ping", "pong", ...).
    pub role: &'static str,
}

/// Receives a workload's tasks and its measured window.
pub trait Observer: Sync {
    /// Called once per task, before the task's first measured operation.
    fn task_started(&self, task: &TaskInfo);
    /// Called with `true` when the measured window opens and `false` when it closes.
    fn measuring(&self, on: bool);
}

/// An observer that follows nothing (userspace timing only, or a decoy in tests).
pub struct NoObserver;

impl Observer for NoObserver {
    fn task_started(&self, _task: &TaskInfo) {}
    fn measuring(&self, _on: bool) {}
}

/// The calling thread's kernel thread id.
pub fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}
