//! evbench's workloads: what the measured tasks do.
//!
//! This crate knows file descriptors, threads, processes, sockets and clocks; it never
//! imports aya or anything from the CLI. The words follow the project's vocabulary:
//! a [`Mechanism`] is what signals, a [`WaitMode`] is how a task waits for it, and a
//! workload (pipetest, pingpong, ...) is what the tasks do with them. Workloads tell an
//! [`Observer`] about every task they start, so a probe set can follow exactly them.
pub mod efd_mask;
pub mod fds;
pub mod http;
pub mod kevent;
pub mod mechanism;
pub mod observer;
pub mod pingpong;
pub mod pipetest;
pub mod shm;
pub mod stats;
pub mod stop;
pub mod sys;
pub mod waiter;

pub use mechanism::{Channel, Mechanism};
pub use observer::{NoObserver, Observer, TaskInfo, WindowSwitch};
pub use waiter::{Event, Interest, WaitMode, Waiter};
