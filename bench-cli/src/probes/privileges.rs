//! Whether this process may load eBPF programs, and which capabilities it holds.
//!
//! The capability set evbench's probes need (capabilities(7); kernel/bpf/syscall.c and
//! kernel/events/core.c since Linux 5.8): CAP_BPF to create maps and load programs,
//! CAP_PERFMON to load tracing programs and attach them; CAP_SYS_RESOURCE is optional
//! (raising RLIMIT_MEMLOCK, which only kernels before 5.11 charge BPF maps to, and the
//! fd limit's hard cap for large HTTP runs). The workloads need none of them; `--user
//! NAME` (running the workload or a traced command as NAME, `crate::privdrop`) needs
//! CAP_SETUID and CAP_SETGID, which root has.
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// How to get the privileges, for a diagnosis.
pub const HINT: &str =
    "run as root, or grant the capabilities: setcap cap_bpf,cap_perfmon+ep $(command -v evbench)";

/// One capability evbench cares about: its name, whether the probes need it, and why.
#[derive(Clone, Copy, Debug)]
pub struct Capability {
    pub name: &'static str,
    pub bit: u32,
    /// Whether loading the probes needs it (the others only help).
    pub needed: bool,
    pub why: &'static str,
}

/// The capabilities evbench's probes use, in the order doctor reports them.
pub const CAPABILITIES: &[Capability] = &[
    Capability {
        name: "CAP_BPF",
        bit: CAP_BPF,
        needed: true,
        why: "create BPF maps and load programs",
    },
    Capability {
        name: "CAP_PERFMON",
        bit: CAP_PERFMON,
        needed: true,
        why: "load and attach tracing programs (tp_btf, fentry)",
    },
    Capability {
        name: "CAP_SYS_RESOURCE",
        bit: CAP_SYS_RESOURCE,
        needed: false,
        why: "raise RLIMIT_MEMLOCK (kernels before 5.11) and the fd limit's hard cap",
    },
    Capability {
        name: "CAP_SETUID",
        bit: CAP_SETUID,
        needed: false,
        why: "--user NAME: run the workload or traced command as NAME (with CAP_SETGID; root has both)",
    },
    Capability {
        name: "CAP_SETGID",
        bit: CAP_SETGID,
        needed: false,
        why: "--user NAME: set NAME's gid and groups",
    },
];

/// The effective capability set of this process (CapEff of /proc/self/status), as a
/// bit mask indexed by capability number; 0 when it cannot be read.
pub fn effective() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0)
}

/// The capabilities of [`CAPABILITIES`] this process holds and lacks, by name:
/// `(present, missing)`. CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as it
/// does in the kernel's checks (bpf_capable(), perfmon_capable()).
pub fn capabilities() -> (Vec<&'static str>, Vec<&'static str>) {
    let eff = effective();
    let has = |bit: u32| eff & (1 << bit) != 0;
    let admin = has(CAP_SYS_ADMIN);
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for c in CAPABILITIES {
        let held = has(c.bit) || (admin && (c.bit == CAP_BPF || c.bit == CAP_PERFMON));
        if held {
            present.push(c.name);
        } else {
            missing.push(c.name);
        }
    }
    (present, missing)
}

/// Root, or CAP_BPF and CAP_PERFMON in the effective set (CAP_SYS_ADMIN counts for
/// both). `Err` is one sentence naming the capabilities missing.
pub fn check() -> Result<String, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok("running as root".into());
    }
    let (_, missing) = capabilities();
    let needed: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|m| CAPABILITIES.iter().any(|c| c.name == *m && c.needed))
        .collect();
    if needed.is_empty() {
        Ok("CAP_BPF and CAP_PERFMON are effective".into())
    } else {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        Err(format!(
            "loading eBPF probes needs root or CAP_BPF+CAP_PERFMON; this process (uid {uid}) lacks {}",
            needed.join(" and ")
        ))
    }
}
