//! What the signal and fault tests check about a finished run, shared by their test
//! binaries: the BPF programs a process held, the processes left in its group, its
//! threads, and a guard that kills the group if a test fails first.
#![allow(dead_code)] // each test binary uses its own part

/// Ids of the BPF programs process `pid` holds open (from /proc/PID/fdinfo).
pub fn prog_ids_of(pid: i32) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return ids;
    };
    for fd in fds.flatten() {
        if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:bpf-prog")
        {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            ids.extend(
                info.lines()
                    .filter_map(|l| l.strip_prefix("prog_id:")?.trim().parse::<u32>().ok()),
            );
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Whether any of `ids` is still loaded in the kernel.
pub fn any_loaded(ids: &[u32]) -> bool {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .any(|p| ids.contains(&p.id()))
}

/// Whether process `pid` has a thread named `name`.
pub fn has_thread(pid: i32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

/// Processes whose process group is `pgid` (the run and anything it started).
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised comm: state ppid pgrp ...
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let pgrp: i32 = rest.split(' ').nth(2).unwrap().parse().unwrap();
        if pgrp == pgid {
            pids.push(pid);
        }
    }
    pids
}

/// Kills the run's process group if the test fails before it has ended, so a failing
/// assertion never leaves a billion-round ping-pong running on the machine.
pub struct KillGroupOnDrop(pub i32);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
}

/// Runs `evbench ARGS` to the end: (exit code, or -1 when killed by a signal; stdout;
/// stderr).
pub fn evbench(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evbench"))
        .args(args)
        .output()
        .expect("evbench starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON document `evbench ARGS` prints (ARGS include `--json`); the run must exit 0.
pub fn json_of(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = evbench(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}
