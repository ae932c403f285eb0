//! The HTTP workload: a lighttpd-style static server whose event loop takes any
//! [`Waiter`] (so every wait mode runs the same loop), a tokio server as the async
//! baseline, and an httperf/wrk2-style load client.
//!
//! The experiment it repeats: kevent was judged in 2006 on "a trivial web server and an
//! httperf client" (3380 vs 2200 req/s claimed for kevent vs epoll). Server and client
//! are meant to run as separate processes, each within its own fd limit.
use std::{fmt, io, str::FromStr, sync::Arc};

use crate::{WaitMode, Waiter};

pub mod client;
mod proto;
pub mod server;
mod tokio_server;

pub use client::{ErrorCounts, LoadConfig, LoadReport, Pace};
pub use proto::{body_bytes, BodySource, Site};
pub use server::{start, ServerConfig, ServerHandle, ServerStats};

/// A waiter supplied from outside the crate's [`WaitMode`]s (e.g. an experimental
/// emulation): how to open one per worker and whether it is edge-triggered.
#[derive(Clone)]
pub struct CustomWaiter {
    /// The name reports use.
    pub name: &'static str,
    /// True when readiness is reported once per change (the loop must drain).
    pub edge_triggered: bool,
    /// Opens one waiter; called once per worker thread, on that thread.
    pub open: Arc<dyn Fn() -> io::Result<Box<dyn Waiter>> + Send + Sync>,
}

/// How the server's loops wait (`--wait`): any fd wait mode, a custom waiter, or tokio.
#[derive(Clone)]
pub enum HttpWait {
    /// The shared loop over this mode's [`Waiter`].
    Waiter(WaitMode),
    /// The shared loop over a waiter supplied by the caller.
    Custom(CustomWaiter),
    /// One current-thread tokio runtime per worker: the async baseline.
    Tokio,
}

impl HttpWait {
    /// Every built-in wait mode the server supports, in report order: each
    /// [`WaitMode`] that has a waiter, then tokio.
    pub fn all() -> Vec<HttpWait> {
        WaitMode::ALL
            .iter()
            .filter(|m| **m != WaitMode::Block)
            .map(|m| HttpWait::Waiter(*m))
            .chain([HttpWait::Tokio])
            .collect()
    }

    /// The name used on the command line and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            HttpWait::Waiter(m) => m.as_str(),
            HttpWait::Custom(c) => c.name,
            HttpWait::Tokio => "tokio",
        }
    }

    /// Opens the waiter for one loop and tells whether it is edge-triggered.
    pub(crate) fn open_waiter(&self) -> io::Result<(Box<dyn Waiter>, bool)> {
        match self {
            HttpWait::Waiter(m) => {
                let w = m.open()?.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("wait mode '{m}' has no waiter; the HTTP server needs one"),
                    )
                })?;
                Ok((w, m.edge_triggered()))
            }
            HttpWait::Custom(c) => Ok(((c.open)()?, c.edge_triggered)),
            HttpWait::Tokio => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "tokio runs its own loop, not a waiter",
            )),
        }
    }
}

impl fmt::Display for HttpWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for HttpWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpWait({})", self.name())
    }
}

impl PartialEq for HttpWait {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl FromStr for HttpWait {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(w) = HttpWait::all().into_iter().find(|w| w.name() == s) {
            return Ok(w);
        }
        let names: Vec<_> = HttpWait::all().iter().map(|w| w.name()).collect();
        Err(format!(
            "unknown HTTP wait mode '{s}' (one of: {})",
            names.join(", ")
        ))
    }
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (10,000 connections need
/// more than the usual 1024) and returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to fill.
    crate::sys::cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: lim is a valid rlimit.
        crate::sys::cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}
