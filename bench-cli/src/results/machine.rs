//! The machine a run measured and the noise around it: what a reader needs to decide
//! whether two results can be compared at all.
use std::{collections::BTreeMap, fs, io::Read, path::Path, time::Instant};

use serde::{Deserialize, Serialize};

/// Clock sources whose `clock_gettime` the vDSO serves without a syscall.
const VDSO_CLOCKSOURCES: &[&str] = &[
    "tsc",
    "kvm-clock",
    "arch_sys_counter",
    "hyperv_clocksource_tsc_page",
];

/// Where a figure came from, so a reader can judge it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sourced<T> {
    pub value: Option<T>,
    /// The file or method it was read from, or why it is unknown.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -v` (build number, SMP/PREEMPT flags, date).
    pub kernel_build: String,
    pub arch: String,
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: u32,
    pub memory_bytes: u64,
    /// none, voluntary, full, lazy, rt.
    pub preempt: Sourced<String>,
    pub clocksource: String,
    /// Whether `clock_gettime` is served by the vDSO (the clock source is one it reads).
    pub clocksource_vdso: bool,
    /// CONFIG_HZ.
    pub hz: Sourced<u32>,
    /// `/sys/devices/system/cpu/vulnerabilities/*`: name → the kernel's verdict.
    pub mitigations: BTreeMap<String, String>,
}

fn read_trim(p: &str) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn uname() -> (String, String, String, String) {
    // SAFETY: uname fills a caller-owned struct; zeroed is a valid initial value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        let unknown = || "unknown".to_string();
        return (unknown(), unknown(), unknown(), unknown());
    }
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (s(&u.nodename), s(&u.release), s(&u.version), s(&u.machine))
}

fn cpu_model() -> String {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    for key in ["model name", "Model", "Hardware", "cpu model"] {
        if let Some(v) = info.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        }) {
            return v;
        }
    }
    "unknown".into()
}

fn memory_bytes() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The preemption model: the debugfs knob of a PREEMPT_DYNAMIC kernel names the active
/// one in parentheses; otherwise the flags `uname -v` prints.
fn preempt(kernel_build: &str) -> Sourced<String> {
    if let Some(s) = read_trim("/sys/kernel/debug/sched/preempt") {
        if let Some(active) = s
            .split_whitespace()
            .find(|w| w.starts_with('('))
            .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string())
        {
            return Sourced {
                value: Some(active),
                source: "/sys/kernel/debug/sched/preempt".into(),
            };
        }
    }
    let words: Vec<&str> = kernel_build.split_whitespace().collect();
    let value = if words.contains(&"PREEMPT_RT") {
        Some("rt")
    } else if words.contains(&"PREEMPT_DYNAMIC") {
        // The boot default of a dynamic kernel is not visible without debugfs.
        None
    } else if words.contains(&"PREEMPT") {
        Some("full")
    } else if words.contains(&"PREEMPT_VOLUNTARY") {
        Some("voluntary")
    } else {
        Some("none")
    };
    Sourced {
        value: value.map(Into::into),
        source: if value.is_none() {
            "uname -v says PREEMPT_DYNAMIC; the active model needs debugfs (mount -t debugfs none /sys/kernel/debug)".into()
        } else {
            "uname -v".into()
        },
    }
}

fn config_hz(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ=")?.trim().parse().ok())
}

/// CONFIG_HZ from the kernel's config, else measured from the jiffies counter in
/// /proc/timer_list over a short sleep, else unknown.
fn hz(release: &str) -> Sourced<u32> {
    let boot = format!("/boot/config-{release}");
    if let Some(hz) = fs::read_to_string(&boot)
        .ok()
        .as_deref()
        .and_then(config_hz)
    {
        return Sourced {
            value: Some(hz),
            source: boot,
        };
    }
    if let Ok(f) = fs::File::open("/proc/config.gz") {
        let mut text = String::new();
        if flate2::read::GzDecoder::new(f)
            .read_to_string(&mut text)
            .is_ok()
        {
            if let Some(hz) = config_hz(&text) {
                return Sourced {
                    value: Some(hz),
                    source: "/proc/config.gz".into(),
                };
            }
        }
    }
    if let Some(hz) = measure_hz() {
        return Sourced {
            value: Some(hz),
            source: "measured: jiffies in /proc/timer_list over 200 ms".into(),
        };
    }
    Sourced {
        value: None,
        source: "no /boot/config-*, /proc/config.gz or readable /proc/timer_list".into(),
    }
}

fn jiffies() -> Option<u64> {
    let t = fs::read_to_string("/proc/timer_list").ok()?;
    t.lines()
        .find_map(|l| l.trim().strip_prefix("jiffies:")?.trim().parse().ok())
}

fn measure_hz() -> Option<u32> {
    let (j0, t0) = (jiffies()?, Instant::now());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (j1, dt) = (jiffies()?, t0.elapsed().as_secs_f64());
    let rate = (j1.checked_sub(j0)?) as f64 / dt;
    // Snap to the values Kconfig offers.
    [100u32, 250, 300, 1000]
        .into_iter()
        .min_by(|a, b| {
            (f64::from(*a) - rate)
                .abs()
                .total_cmp(&(f64::from(*b) - rate).abs())
        })
        .filter(|hz| (f64::from(*hz) - rate).abs() < f64::from(*hz) * 0.2)
}

fn mitigations() -> BTreeMap<String, String> {
    let dir = Path::new("/sys/devices/system/cpu/vulnerabilities");
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let v = fs::read_to_string(e.path()).ok()?;
            Some((name, v.trim().to_string()))
        })
        .collect()
}

impl Machine {
    /// Reads this machine's description (takes about 200 ms when HZ must be measured).
    pub fn current() -> Self {
        let (hostname, kernel, kernel_build, arch) = uname();
        let clocksource =
            read_trim("/sys/devices/system/clocksource/clocksource0/current_clocksource")
                .unwrap_or_else(|| "unknown".into());
        // SAFETY: sysconf has no preconditions.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u32;
        Self {
            hostname,
            preempt: preempt(&kernel_build),
            hz: hz(&kernel),
            kernel,
            kernel_build,
            arch,
            cpu_model: cpu_model(),
            cpus,
            memory_bytes: memory_bytes(),
            clocksource_vdso: VDSO_CLOCKSOURCES.contains(&clocksource.as_str()),
            clocksource,
            mitigations: mitigations(),
        }
    }

    /// What makes this machine's figures suspect.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.clocksource_vdso {
            w.push(format!(
                "clock source {} is not served by the vDSO: every clock_gettime is a syscall, and userspace timings include it",
                self.clocksource
            ));
        }
        w
    }

    /// How `other` differs in what makes figures incomparable (CPU model, CPU count,
    /// kernel), one line each.
    pub fn differences(&self, other: &Machine) -> Vec<String> {
        let mut d = Vec::new();
        if self.cpu_model != other.cpu_model {
            d.push(format!(
                "CPU model differs: {:?} vs {:?}",
                self.cpu_model, other.cpu_model
            ));
        }
        if self.cpus != other.cpus {
            d.push(format!(
                "CPU count differs: {} vs {}",
                self.cpus, other.cpus
            ));
        }
        if self.kernel != other.kernel {
            d.push(format!(
                "kernel differs: {} vs {}",
                self.kernel, other.kernel
            ));
        }
        d
    }
}

/// Noise seen while the run measured: time the hypervisor gave other guests (steal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub duration_ns: u64,
    /// Steal time over the run, all CPUs, from /proc/stat.
    pub steal_ns: u64,
    /// Steal as a share of all CPUs' time over the run (0 to 1).
    pub steal_share: f64,
}

impl Noise {
    pub fn warnings(&self) -> Vec<String> {
        if self.steal_share > 0.01 {
            vec![format!(
                "the hypervisor stole {:.1}% of CPU time during the run: figures are noisy",
                self.steal_share * 100.0
            )]
        } else {
            Vec::new()
        }
    }
}

/// The aggregate `cpu` line of /proc/stat: (steal, total) in clock ticks.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time
    // is already inside user, so the total stops at steal.
    let total = f.iter().take(8).sum();
    Some((f.get(7).copied().unwrap_or(0), total))
}

/// What one pass met from the rest of the machine (schema v2, `repeats[].noise`): the
/// CPU pressure stall time (`/proc/pressure/cpu` "some" total, µs: time in which at
/// least one runnable task waited for a CPU), the hypervisor's steal time (`/proc/stat`),
/// and the runnable tasks the kernel counted (`procs_running` in `/proc/stat`, the
/// mean of the readings at the pass's start and end, the pass's own tasks included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PassNoise {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_some_us: Option<u64>,
    pub steal_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procs_running: Option<f64>,
    /// Wall time the figures above cover, ns: the whole pass (set-up and warm-up rounds
    /// included), longer than its measured `elapsed_ns`; shares are taken of this.
    /// 0 in documents written before it was recorded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wall_ns: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn cpu_pressure_some_us() -> Option<u64> {
    let text = fs::read_to_string("/proc/pressure/cpu").ok()?;
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))
        .and_then(|v| v.parse().ok())
}

fn procs_running() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("procs_running "))
        .and_then(|v| v.trim().parse().ok())
}

/// Reads the machine's noise counters at a pass's start; `finish` gives the deltas.
pub struct PassNoiseMeter {
    t0: Instant,
    some_us: Option<u64>,
    steal: Option<u64>,
    running: Option<u64>,
}

impl PassNoiseMeter {
    pub fn start() -> Self {
        Self {
            t0: Instant::now(),
            some_us: cpu_pressure_some_us(),
            steal: cpu_ticks().map(|t| t.0),
            running: procs_running(),
        }
    }

    pub fn finish(&self) -> PassNoise {
        // SAFETY: sysconf has no preconditions.
        let tick_hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        PassNoise {
            cpu_some_us: match (self.some_us, cpu_pressure_some_us()) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            },
            steal_ns: match (self.steal, cpu_ticks().map(|t| t.0)) {
                (Some(a), Some(b)) => b.saturating_sub(a) * 1_000_000_000 / tick_hz,
                _ => 0,
            },
            procs_running: match (self.running, procs_running()) {
                (Some(a), Some(b)) => Some((a + b) as f64 / 2.0),
                _ => None,
            },
            wall_ns: self.t0.elapsed().as_nanos() as u64,
        }
    }
}

/// Measures steal time between `start` and `finish`.
pub struct NoiseMeter {
    t0: Instant,
    ticks: Option<(u64, u64)>,
}

impl NoiseMeter {
    pub fn start() -> Self {
        Self {
            t0: Instant::now(),
            ticks: cpu_ticks(),
        }
    }

    pub fn finish(&self) -> Noise {
        let duration_ns = self.t0.elapsed().as_nanos() as u64;
        let (steal, total) = match (self.ticks, cpu_ticks()) {
            (Some((s0, t0)), Some((s1, t1))) => (s1.saturating_sub(s0), t1.saturating_sub(t0)),
            _ => (0, 0),
        };
        // SAFETY: sysconf has no preconditions.
        let tick_hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Noise {
            duration_ns,
            steal_ns: steal * 1_000_000_000 / tick_hz,
            steal_share: if total > 0 {
                steal as f64 / total as f64
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_hz() {
        assert_eq!(
            config_hz("# x\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n"),
            Some(250)
        );
        assert_eq!(config_hz("CONFIG_HZ_1000=y\n"), None);
    }

    #[test]
    fn reads_this_machine() {
        let m = Machine::current();
        // SAFETY: sysconf has no preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as u32;
        assert_eq!(m.cpus, online);
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap();
        assert!(meminfo.contains(&format!("{} kB", m.memory_bytes / 1024)));
        assert_eq!(
            m.clocksource,
            read_trim("/sys/devices/system/clocksource/clocksource0/current_clocksource").unwrap()
        );
        assert!(m.differences(&m).is_empty());
    }
}
