//! Kernel-side target selection (`evbench trace --cgroup PATH`, `--comm NAME`): what the
//! programs need to adopt matching tasks themselves ([`Adopt`], the load-time globals of
//! bench-ebpf `adopt.rs`), and the scans that find the tasks matching already when a
//! session starts (`/proc`, `cgroup.threads`).
//!
//! Errors are one line naming the cause, starting with the flag and its value.
use std::{
    collections::BTreeSet,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use bench_common::COMM_LEN;

/// The inode number of the initial cgroup namespace (`CGROUP_NS_INIT_INO` in the
/// kernel's include/linux/proc_ns.h).
const CGROUP_NS_INIT_INO: u64 = 0xEFFF_FFFB;

/// What the kernel programs adopt by themselves; the labels are `Target::label`s
/// (`TaskInfo::index` of the session's target). Default: nothing.
#[derive(Clone, Debug, Default)]
pub struct Adopt {
    pub cgroup: Option<(Cgroup, u32)>,
    /// The name NUL-padded to `COMM_LEN` bytes ([`comm_bytes`]), and its label.
    pub comm: Option<([u8; COMM_LEN], u32)>,
}

impl Adopt {
    /// The `ADOPT` global's bits (`bench_common::adopt`).
    pub fn bits(&self) -> u32 {
        let mut b = 0;
        if self.cgroup.is_some() {
            b |= bench_common::adopt::CGROUP;
        }
        if self.comm.is_some() {
            b |= bench_common::adopt::COMM;
        }
        b
    }
}

/// A cgroup v2 directory, as the kernel filter needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    /// The directory, canonical (symlinks and `..` resolved).
    pub path: PathBuf,
    /// Its cgroup id: on 64-bit kernels, the kernfs node id, which is the directory's
    /// inode number (kernel fs/kernfs: `kernfs_id_ino`).
    pub id: u64,
    /// Its depth below the cgroup2 root (the root is 0): the level that
    /// `bpf_get_current_ancestor_cgroup_id` is asked for.
    pub level: u32,
}

/// One line of /proc/self/mountinfo: (root inside the filesystem, mount point, type).
/// Format: proc(5), "/proc/pid/mountinfo"; spaces and the like are octal escapes.
fn mounts() -> Result<Vec<(PathBuf, PathBuf, String)>, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?;
            Some((unescape(f.get(3)?), unescape(f.get(4)?), fstype.to_string()))
        })
        .collect())
}

/// Undoes mountinfo's `\ooo` octal escapes.
fn unescape(s: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if b[i] == b'\\' && octal {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Resolves `--cgroup PATH`: it must be a directory of a cgroup2 (unified) hierarchy,
/// found through the mount that holds it in /proc/self/mountinfo. A cgroup v1
/// hierarchy, a plain directory (on this VM's hybrid layout, /sys/fs/cgroup is a
/// tmpfs where mkdir makes one), a file or a missing path is refused, naming where
/// cgroup2 is mounted. Refused too inside a cgroup namespace, whose paths and levels
/// are not the kernel's.
pub fn cgroup(path: &Path) -> Result<Cgroup, String> {
    let p = path.display();
    let canon = std::fs::canonicalize(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("--cgroup {p}: no such directory")
        } else {
            format!("--cgroup {p}: {e}")
        }
    })?;
    let meta = std::fs::metadata(&canon).map_err(|e| format!("--cgroup {p}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("--cgroup {p}: not a directory"));
    }
    let all = mounts()?;
    let v2: Vec<String> = all
        .iter()
        .filter(|m| m.2 == "cgroup2")
        .map(|m| m.1.display().to_string())
        .collect();
    let where_v2 = if v2.is_empty() {
        "no cgroup2 hierarchy is mounted here (/proc/self/mountinfo)".to_string()
    } else {
        format!("cgroup v2 is mounted at {}", v2.join(", "))
    };
    // The mount holding the path: the longest mount point above it (the last of equal
    // ones is on top).
    let Some((root, mnt, fstype)) = all
        .iter()
        .filter(|m| canon.starts_with(&m.1))
        .max_by_key(|m| m.1.components().count())
    else {
        return Err(format!("--cgroup {p}: not on any mount; {where_v2}"));
    };
    match fstype.as_str() {
        "cgroup2" => {}
        "cgroup" => {
            return Err(format!(
                "--cgroup {p}: a cgroup v1 hierarchy, not v2; {where_v2}"
            ))
        }
        other => {
            return Err(format!(
                "--cgroup {p}: a plain directory ({other}), not a cgroup v2 directory; {where_v2}"
            ))
        }
    }
    if let Ok(m) = std::fs::metadata("/proc/self/ns/cgroup") {
        if m.ino() != CGROUP_NS_INIT_INO {
            return Err(format!("--cgroup {p}: evbench runs inside a cgroup namespace, whose cgroup paths are not the kernel's; run it in the host's cgroup namespace"));
        }
    }
    let rel = canon.strip_prefix(mnt).unwrap_or(Path::new(""));
    let depth = |q: &Path| {
        q.components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .count() as u32
    };
    Ok(Cgroup {
        level: depth(root) + depth(rel),
        id: meta.ino(),
        path: canon,
    })
}

/// Every thread in cgroup `dir` and its descendant cgroups now (`cgroup.threads` of
/// each: thread ids, cgroup v2's "cgroup.threads" in Documentation/admin-guide/cgroup-v2.rst).
pub fn cgroup_threads(dir: &Path) -> Vec<u32> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        if let Ok(text) = std::fs::read_to_string(d.join("cgroup.threads")) {
            out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
    }
    out.into_iter().collect()
}

/// `--comm NAME` as the kernel stores a command name: at most 15 bytes
/// (`TASK_COMM_LEN` 16 with the NUL), NUL-padded. A longer name could never match (the
/// kernel truncates, and pgrep's exact match fails the same way), so it is refused.
pub fn comm_bytes(name: &str) -> Result<[u8; COMM_LEN], String> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Err("--comm '': an empty name matches no process".into());
    }
    if b.contains(&0) || b.contains(&b'\n') {
        return Err(format!(
            "--comm {name:?}: a command name has no NUL or newline"
        ));
    }
    if b.len() >= COMM_LEN {
        return Err(format!(
            "--comm {name}: {} bytes, but the kernel keeps the first {} bytes of a command name (TASK_COMM_LEN), so it never matches; use '{}'",
            b.len(),
            COMM_LEN - 1,
            String::from_utf8_lossy(&b[..COMM_LEN - 1])
        ));
    }
    let mut out = [0u8; COMM_LEN];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

/// Processes named `name` now, as `pgrep -x` finds them: /proc/PID/comm (the main
/// thread's name) equal to it; evbench's own process left out.
pub fn processes_named(name: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut v: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.strip_suffix('\n').unwrap_or(&c) == name)
        })
        .collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b"), Path::new("/a b"));
        assert_eq!(unescape(r"/x\134y"), Path::new(r"/x\y"));
        assert_eq!(unescape(r"/end\04"), Path::new(r"/end\04"));
    }

    #[test]
    fn comm_names_follow_the_kernel_limit() {
        assert_eq!(&comm_bytes("sshd").unwrap()[..5], b"sshd\0");
        assert!(comm_bytes("123456789012345").is_ok());
        let e = comm_bytes("1234567890123456").unwrap_err();
        assert!(e.contains("'123456789012345'"), "{e}");
        assert!(comm_bytes("").is_err());
        assert!(comm_bytes("a\nb").is_err());
    }
}
