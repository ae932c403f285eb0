//! `evbench doctor`: what this machine allows, each check a real attempt with its errno
//! and a fix. Probed runs call [`probes::privileges::check`] and the real load before measuring.
use std::{io::Write, path::Path, process::ExitCode};

use anyhow::{anyhow, Context, Result};
use aya::{
    programs::{BtfTracePoint, FEntry, KProbe, SocketFilter},
    Btf,
};
use serde::Serialize;

use crate::{
    errors::{errno, errno_name},
    probes::{self, btf::KernelBtf, ProbeSet},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    /// Not tried: a failed check above is its cause (named in the detail).
    Skip,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    /// Whether the core probe sets need this to work (a failure makes the doctor exit 1).
    pub core: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, core: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            verdict: Verdict::Ok,
            detail: detail.into(),
            core,
            errno: None,
            errno_name: None,
            hint: None,
        }
    }

    fn failed(
        name: impl Into<String>,
        core: bool,
        err: &anyhow::Error,
        hint: impl Into<String>,
    ) -> Self {
        let code = errno(err);
        Self {
            name: name.into(),
            verdict: if core { Verdict::Fail } else { Verdict::Warn },
            detail: format!("{err:#}"),
            core,
            errno: code,
            errno_name: code.map(errno_name),
            hint: Some(hint.into()),
        }
    }

    fn from_result(name: &str, core: bool, r: Result<String>, hint: &str) -> Self {
        match r {
            Ok(detail) => Self::ok(name, core, detail),
            Err(e) => Self::failed(name, core, &e, hint),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

fn kernel() -> Result<String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .context("cannot read the kernel release")?;
    let release = release.trim();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    // BTF tracepoints (tp_btf) arrived in 5.5.
    if (major, minor) < (5, 5) {
        return Err(anyhow!(
            "kernel {release} is older than 5.5, which BTF tracepoints need"
        ));
    }
    Ok(format!("Linux {release}"))
}

fn btf() -> Result<String> {
    let kbtf = KernelBtf::from_sys_fs()?;
    let off = kbtf.member_offset("task_struct", "pid")?;
    Ok(format!(
        "{} readable; task_struct.pid at offset {off}",
        KernelBtf::PATH
    ))
}

/// Where tracefs is mounted, from /proc/self/mountinfo (field 5 is the mount point;
/// the filesystem type follows the " - " separator).
fn tracefs_mounts() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split(' ').next()? == "tracefs")
                .then(|| left.split(' ').nth(4).map(str::to_string))?
        })
        .collect()
}

fn tracefs(root: bool) -> Result<String> {
    let dir = Path::new("/sys/kernel/tracing");
    if dir.join("events").is_dir() {
        return Ok(format!("mounted at {}", dir.display()));
    }
    if tracefs_mounts().iter().any(|m| Path::new(m) == dir) {
        // Mounted, but this user may not look inside (tracefs is mode 0700 by default).
        use std::os::unix::fs::MetadataExt;
        let why = match std::fs::metadata(dir) {
            Ok(m) => format!(
                "mode {:04o}, owner uid {} gid {}",
                m.mode() & 0o7777,
                m.uid(),
                m.gid()
            ),
            Err(e) => e.to_string(),
        };
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        return Err(
            anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EACCES)).context(format!(
                "tracefs is mounted at {} ({why}) but uid {uid} cannot read it",
                dir.display()
            )),
        );
    }
    if !root {
        return Err(anyhow!(
            "tracefs is not mounted at {} and only root can mount it",
            dir.display()
        ));
    }
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    let (src, target, fstype) = (c("nodev"), c("/sys/kernel/tracing"), c("tracefs"));
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .context("mounting tracefs at /sys/kernel/tracing");
    }
    Ok("was not mounted: mounted it at /sys/kernel/tracing".into())
}

fn err_of<E: std::error::Error + Send + Sync + 'static>(what: &str, e: E) -> anyhow::Error {
    anyhow::Error::new(e).context(what.to_string())
}

fn trivial_program() -> Result<String> {
    let mut ebpf = probes::open_object(0)?;
    let prog: &mut SocketFilter = ebpf
        .program_mut("doctor_trivial")
        .context("program missing")?
        .try_into()?;
    prog.load()
        .map_err(|e| err_of("loading a socket filter", e))?;
    Ok("a socket-filter program loaded".into())
}

fn tp_btf(name: &str) -> Result<String> {
    let mut ebpf = probes::open_object(0)?;
    let btf = Btf::from_sys_fs().context("cannot read the kernel's BTF")?;
    let prog: &mut BtfTracePoint = ebpf
        .program_mut(name)
        .context("program missing")?
        .try_into()?;
    prog.load(name, &btf).map_err(|e| err_of("loading", e))?;
    prog.attach().map_err(|e| err_of("attaching", e))?;
    Ok("loaded and attached".into())
}

fn fentry() -> Result<String> {
    let mut ebpf = probes::open_object(0)?;
    let btf = Btf::from_sys_fs().context("cannot read the kernel's BTF")?;
    let prog: &mut FEntry = ebpf
        .program_mut("doctor_fentry")
        .context("program missing")?
        .try_into()?;
    if let Err(e) = prog.load("do_nanosleep", &btf) {
        let e = err_of("loading an fentry program", e);
        if errno(&e) == Some(libc::EPERM) {
            // The verifier log is empty: the kernel refuses trampolines outright.
            return Err(anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EPERM)).context(
                "not permitted by this kernel: loading an fentry program fails, so the kfunc probe set is off",
            ));
        }
        return Err(e);
    }
    Ok("fentry programs load".into())
}

fn kprobes() -> Result<String> {
    let mut ebpf = probes::open_object(0)?;
    let prog: &mut KProbe = ebpf
        .program_mut("doctor_kprobe")
        .context("program missing")?
        .try_into()?;
    prog.load()
        .map_err(|e| err_of("loading a kprobe program", e))?;
    prog.attach("do_nanosleep", 0)
        .map_err(|e| err_of("attaching a kprobe to do_nanosleep", e))?;
    Ok("a kprobe attached to do_nanosleep".into())
}

/// A kernel build option from /boot/config-RELEASE or /proc/config.gz: `Some(None)`
/// when the config is readable and the option is not set, `None` when no config is.
fn kernel_config(name: &str) -> Option<Option<String>> {
    use std::io::Read;
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let text = std::fs::read_to_string(format!("/boot/config-{}", release.trim()))
        .ok()
        .or_else(|| {
            let f = std::fs::File::open("/proc/config.gz").ok()?;
            let mut t = String::new();
            flate2::read::GzDecoder::new(f)
                .read_to_string(&mut t)
                .ok()?;
            Some(t)
        })?;
    let prefix = format!("{name}=");
    Some(
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string)),
    )
}

/// What is really missing when a kprobe cannot attach: the build option if the
/// kernel's config says so, else the interfaces aya tries (the kprobe perf PMU, then
/// tracefs's kprobe_events).
fn kprobes_missing() -> Option<String> {
    for opt in ["CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS"] {
        if let Some(None) = kernel_config(opt) {
            return Some(format!(
                "this kernel is built without {opt} (its config says it is not set)"
            ));
        }
    }
    let pmu = Path::new("/sys/bus/event_source/devices/kprobe");
    let legacy = Path::new("/sys/kernel/tracing/kprobe_events");
    (!pmu.exists() && !legacy.exists()).then(|| {
        format!(
            "this kernel has neither the kprobe perf PMU ({}) nor {}: it lacks CONFIG_KPROBE_EVENTS",
            pmu.display(),
            legacy.display()
        )
    })
}

fn nofile() -> Result<String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to write into.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    Ok(format!(
        "soft {}, hard {} (workloads raise the soft limit as far as the hard one when they need to)",
        lim.rlim_cur, lim.rlim_max
    ))
}

/// The hint for a BPF check that failed: the privileges when the kernel said EPERM or
/// EACCES, BTF only when the BTF check failed too, else the detail says it all.
fn bpf_hint(e: &anyhow::Error, btf_ok: bool, otherwise: &str) -> String {
    match errno(e) {
        Some(libc::EPERM | libc::EACCES) if !btf_ok => format!(
            "{}; or use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
            probes::privileges::HINT
        ),
        Some(libc::EPERM | libc::EACCES) => probes::privileges::HINT.to_string(),
        _ if !btf_ok => {
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (it provides /sys/kernel/btf/vmlinux)"
                .into()
        }
        _ => otherwise.into(),
    }
}

/// The capabilities the probes use, present and missing, as one check.
fn capabilities(root: bool) -> Check {
    let (present, missing) = probes::privileges::capabilities();
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let detail = format!("present: {}; missing: {}", list(&present), list(&missing));
    let needed_missing = probes::privileges::CAPABILITIES
        .iter()
        .any(|c| c.needed && missing.contains(&c.name));
    let mut c = Check::ok("capabilities", false, detail);
    if needed_missing && !root {
        // One cause, one fix: the privileges line carries it.
        c.verdict = Verdict::Warn;
        c.detail
            .push_str(" (the privileges line says how to grant them)");
    }
    // What each optional one missing would give: the probes load without them.
    let optional: Vec<String> = probes::privileges::CAPABILITIES
        .iter()
        .filter(|c| !c.needed && missing.contains(&c.name))
        .map(|c| format!("{}: {}", c.name, c.why))
        .collect();
    if !optional.is_empty() {
        c.detail
            .push_str(&format!(" (optional: {})", optional.join("; ")));
    }
    c
}

/// Runs every check for real. When the privileges to load eBPF are missing, the checks
/// that load programs are not tried (each would fail for that one cause): one line
/// names them instead.
pub fn checks() -> Report {
    let mut checks = Vec::new();
    let privs = probes::privileges::check();
    let root = privs.is_ok();
    checks.push(match &privs {
        Ok(d) => Check::ok("privileges", true, d.clone()),
        Err(why) => Check::failed(
            "privileges",
            true,
            &anyhow!("{why}"),
            probes::privileges::HINT,
        ),
    });
    checks.push(capabilities(root));
    checks.push(Check::from_result(
        "kernel",
        true,
        kernel(),
        "upgrade to a kernel with BTF tracepoints (5.5 or later)",
    ));
    let btf = btf();
    let btf_ok = btf.is_ok();
    checks.push(Check::from_result(
        "btf",
        true,
        btf,
        "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (it provides /sys/kernel/btf/vmlinux)",
    ));
    let tracefs = tracefs(root);
    let tracefs_hint = match &tracefs {
        Err(e) if errno(e) == Some(libc::EACCES) => {
            "only the optional kprobes use it (the core probes do not): run as root, or as root remount it for a group: mount -o remount,gid=GROUP /sys/kernel/tracing"
        }
        _ => "as root: mount -t tracefs nodev /sys/kernel/tracing",
    };
    checks.push(Check::from_result("tracefs", false, tracefs, tracefs_hint));
    let mut tps: Vec<&str> = Vec::new();
    for tp in ProbeSet::ALL
        .iter()
        .flat_map(|&s| probes::tracepoints(s).iter().copied())
    {
        if !tps.contains(&tp) {
            tps.push(tp);
        }
    }
    if !root {
        let mut names = vec!["bpf-load".to_string()];
        names.extend(tps.iter().map(|tp| format!("tp_btf:{tp}")));
        names.extend(["fentry".to_string(), "kprobes".to_string()]);
        checks.push(Check {
            name: "programs".into(),
            verdict: Verdict::Skip,
            detail: format!(
                "not tried ({}): each needs the privileges above",
                names.join(", ")
            ),
            core: true,
            errno: None,
            errno_name: None,
            hint: None,
        });
    } else {
        checks.push(match trivial_program() {
            Ok(d) => Check::ok("bpf-load", true, d),
            Err(e) => {
                let hint = bpf_hint(&e, btf_ok, "the detail names what the kernel refused");
                Check::failed("bpf-load", true, &e, hint)
            }
        });
        for tp in tps {
            checks.push(match tp_btf(tp) {
                Ok(d) => Check::ok(format!("tp_btf:{tp}"), true, d),
                Err(e) => {
                    let hint = bpf_hint(
                        &e,
                        btf_ok,
                        "the core probes need BTF tracepoints; the detail names what the kernel refused",
                    );
                    Check::failed(format!("tp_btf:{tp}"), true, &e, hint)
                }
            });
        }
        checks.push(Check::from_result(
            "fentry",
            false,
            fentry(),
            "BPF trampolines are refused here: the kfunc probe set is unavailable; the core probes do not need it",
        ));
        checks.push(match kprobes() {
            Ok(d) => Check::ok("kprobes", false, d),
            Err(e) => {
                let hint = match kprobes_missing() {
                    Some(why) => format!(
                        "{why}; a kernel with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y has them; no evbench probe set needs them"
                    ),
                    None => "no evbench probe set needs kprobes".into(),
                };
                Check::failed("kprobes", false, &e, hint)
            }
        });
    }
    checks.push(Check::from_result(
        "rlimit-nofile",
        false,
        nofile(),
        "raise it with ulimit -n",
    ));
    let ok = checks.iter().all(|c| !c.core || c.verdict == Verdict::Ok);
    Report { ok, checks }
}

pub fn run(json: bool) -> Result<ExitCode> {
    let report = checks();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for c in &report.checks {
            let verdict = match c.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "skip",
            };
            let errno = c
                .errno
                .map(|n| format!(" [{} {n}]", errno_name(n)))
                .unwrap_or_default();
            write!(out, "{verdict}  {:<20} {}{errno}", c.name, c.detail)?;
            if let Some(h) = &c.hint {
                write!(out, " — fix: {h}")?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "{}",
            if report.ok {
                "doctor: the core probes can run here"
            } else {
                "doctor: the core probes cannot run here; runs fall back to userspace timing"
            }
        )?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
