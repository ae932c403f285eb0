//! How a workload tells the rest of the tool which tasks are its own.
//!
//! Probes follow thread ids, so every task reports itself *before* it does measured
//! work, and the workload marks its measured window so set-up and warm-up stay out.
use std::sync::atomic::{AtomicU64, Ordering};

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
///
/// Nothing of the tool's own may land inside the window: an observer's
/// `measuring(true)` does its own work (syscalls, locks) *before* the window opens and
/// `measuring(false)` after it closed, and the workload calls them where no other control
/// work of its own follows inside the window (on its driving task itself, or on a thread
/// that is not a task). A workload whose driving task is a forked process, which cannot
/// call the observer, uses [`Observer::delegate_window`] instead.
pub trait Observer: Sync {
    /// Called once per task, before the task's first measured operation.
    fn task_started(&self, task: &TaskInfo);
    /// Called with `true` when the measured window opens and `false` when it closes.
    fn measuring(&self, on: bool);
    /// Hands the window's switch to the workload, for a window whose edges lie on a task
    /// in another (forked) process. Call it before forking. When it returns `Some`, the
    /// next `measuring(true)` only prepares (it is called by the controller before it
    /// lets the task go) and the task opens and closes the window itself with
    /// [`WindowSwitch::set`] right around its measured operations — so the controller's
    /// hand-shake with the task (a futex wake) stays outside; the following
    /// `measuring(false)`, called after the task is done, closes it for good and ends the
    /// delegation. `None` (the default): the observer has no such switch, and the
    /// `measuring` calls are the window.
    fn delegate_window(&self) -> Option<WindowSwitch> {
        None
    }
}

/// The measured window's on/off word, in memory that forked tasks share with the
/// observer (a MAP_SHARED mapping): flipping it is one store, no syscall and no lock,
/// so it is safe in a forked child and invisible to any probe.
#[derive(Clone, Copy, Debug)]
pub struct WindowSwitch(*const AtomicU64);

// SAFETY: the word is only accessed atomically; `new`'s caller guarantees it lives.
unsafe impl Send for WindowSwitch {}
// SAFETY: as above.
unsafe impl Sync for WindowSwitch {}

impl WindowSwitch {
    /// # Safety
    /// `word` must point at a u64 in a MAP_SHARED mapping that stays mapped for as long
    /// as any copy of the switch is used, in this process and in its forked children.
    pub unsafe fn new(word: *const AtomicU64) -> Self {
        Self(word)
    }

    /// The word's address: which mapping a process that forks must keep for the switch
    /// to work in the child (`run --user` unmaps every other view of the probes' maps).
    pub fn addr(&self) -> usize {
        self.0 as usize
    }

    /// Opens (`true`) or closes (`false`) the window.
    pub fn set(&self, on: bool) {
        // SAFETY: see `new`.
        unsafe { (*self.0).store(u64::from(on), Ordering::SeqCst) };
    }
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
