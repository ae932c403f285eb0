//! What a result was measured on: kernel version, CPU model and count, and the command.
use serde::Serialize;

/// The machine a result comes from.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// `uname -r`.
    pub kernel: String,
    /// `model name` from /proc/cpuinfo (empty when the kernel does not say).
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: u32,
    pub hostname: String,
}

impl Machine {
    pub fn current() -> Self {
        // SAFETY: utsname is plain data; uname fills it.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: u is a valid utsname to write into.
        let ok = unsafe { libc::uname(&mut u) } == 0;
        let field = |f: &[libc::c_char]| -> String {
            let bytes: Vec<u8> = f
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default();
        // SAFETY: sysconf has no preconditions.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u32;
        Self {
            kernel: if ok { field(&u.release) } else { String::new() },
            cpu_model,
            cpus,
            hostname: if ok {
                field(&u.nodename)
            } else {
                String::new()
            },
        }
    }
}

/// The command line as typed (for the results file).
pub fn command_line() -> Vec<String> {
    std::env::args().collect()
}
