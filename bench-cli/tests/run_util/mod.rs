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
