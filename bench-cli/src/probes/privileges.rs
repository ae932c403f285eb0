//! Whether this process may load eBPF programs.
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
/// How to get the privileges, for a diagnosis.
pub const HINT: &str =
    "run as root, or grant the capabilities: setcap cap_bpf,cap_perfmon+ep $(command -v evbench)";

/// Root, or CAP_BPF and CAP_PERFMON in the effective set. `Err` is one sentence.
pub fn check() -> Result<String, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok("running as root".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| caps & (1 << cap) != 0;
    if has(CAP_BPF) && has(CAP_PERFMON) {
        Ok("CAP_BPF and CAP_PERFMON are effective".into())
    } else {
        Err(
            "loading eBPF probes needs root or CAP_BPF+CAP_PERFMON, and this process has neither"
                .into(),
        )
    }
}
