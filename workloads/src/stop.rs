//! A stop request shared by the harness and the tasks (Ctrl-C, a failed peer).
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

/// Cheap to clone; `is_set` is one relaxed load, fine on a measured path.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }
    /// Wraps a flag owned elsewhere (e.g. a signal handler's).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
