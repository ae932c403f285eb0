//! Least privilege: `--user NAME` (`evbench run --user`, `evbench trace --user -- CMD`).
//!
//! The probes need CAP_BPF and CAP_PERFMON (or root); the workloads and a traced command
//! need nothing. A privileged evbench keeps the probes in its own process and runs the
//! workload (or the command) in a forked child that first becomes NAME, entirely:
//!
//! - its real, effective and saved uid and gid are NAME's, its supplementary groups
//!   NAME's (getgrouplist(3), as initgroups(3) would set them);
//! - it holds no capability: effective, permitted, inheritable and ambient sets empty
//!   (capabilities(7): a switch from uid 0 to another uid clears the permitted and
//!   effective sets, and an explicit capset(2) clears the inheritable one), and the
//!   bounding set dropped (PR_CAPBSET_DROP, where CAP_SETPCAP allows it);
//! - `no_new_privs` is set (PR_SET_NO_NEW_PRIVS, Documentation/userspace-api/no_new_privs.rst):
//!   no set-uid binary or file capability gives anything back after an exec;
//! - its environment is evbench's as `su NAME` (without `-`) would leave it, minus
//!   whatever points into the invoking user's private places ([`dropped_env`]);
//! - it has no file descriptor of evbench's beyond 0–2 (close_range(2)): no BPF map,
//!   program or link, no listening socket, no /dev/fuse. The caller names the few it
//!   needs itself (the exec-error pipe of `trace`, close-on-exec; the control socket of a
//!   `run` pass).
//!
//! Everything that allocates or reads files (the user database, the group list, the
//! environment) happens in [`Account::lookup`] and [`Plan::new`], before the fork;
//! [`Plan::apply`] makes only async-signal-safe system calls, so it is safe between
//! fork and exec of a multi-threaded process.
use std::{
    ffi::CString,
    os::unix::ffi::{OsStrExt, OsStringExt},
    path::{Component, Path, PathBuf},
};

use libc::{c_char, c_int};

/// CAP_SETGID and CAP_SETUID (include/uapi/linux/capability.h): switching users.
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// `_LINUX_CAPABILITY_VERSION_3` (include/uapi/linux/capability.h): 64-bit sets.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The user a workload or command runs as: NAME from the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The login name, as the user database spells it.
    pub name: String,
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
    /// Supplementary groups (getgrouplist(3): NAME's primary group and every group that
    /// lists NAME as a member).
    pub groups: Vec<u32>,
    /// Its home directory (HOME of the dropped process).
    pub home: PathBuf,
    /// Its login shell (SHELL of the dropped process).
    pub shell: PathBuf,
}

impl Account {
    /// Looks `name` up (getpwnam_r(3) and getgrouplist(3), through `nix`) and checks
    /// that this process may switch to it: root, or CAP_SETUID and CAP_SETGID effective.
    /// `flag` names the option for the messages (`--user`). Errors: one line naming the
    /// cause (no such user, the privileges missing, the database unreadable).
    ///
    /// `name` may also be a numeric user id (`--user 65534`): a name is looked up first,
    /// then an all-digit one as a uid. A uid must have an entry in the user database —
    /// one without is refused (its group, home and groups would be guesses, and a
    /// made-up gid could be someone's real group), as `su` and `runuser` refuse it.
    pub fn lookup(flag: &str, name: &str) -> Result<Self, String> {
        let user = match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => u,
            Ok(None) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => {
                let Ok(uid) = name.parse::<u32>() else {
                    return Err(format!("{flag} {name}: no such user id"));
                };
                match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
                    Ok(Some(u)) => u,
                    Ok(None) => {
                        return Err(format!(
                            "{flag} {name}: no user with uid {uid} in the user database (a uid without an entry has no group, home or groups to take: add one, or name an existing user)"
                        ))
                    }
                    Err(e) => {
                        return Err(format!("{flag} {name}: cannot read the user database: {e}"))
                    }
                }
            }
            Ok(None) => return Err(format!("{flag} {name}: no such user")),
            Err(e) => return Err(format!("{flag} {name}: cannot read the user database: {e}")),
        };
        let name = user.name.as_str();
        let cname = CString::new(name).map_err(|_| format!("{flag}: a NUL byte in the name"))?;
        let groups = nix::unistd::getgrouplist(&cname, user.gid)
            .map_err(|e| format!("{flag} {name}: cannot list the user's groups: {e}"))?
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        let eff = effective_caps();
        let can = |bit: u32| eff & (1 << bit) != 0;
        if !(can(CAP_SETUID) && can(CAP_SETGID)) {
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            return Err(format!(
                "{flag} {name} needs root (CAP_SETUID and CAP_SETGID) to switch users; this process (uid {uid}) lacks them"
            ));
        }
        Ok(Self {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups,
            home: user.dir,
            shell: user.shell,
            name: user.name,
        })
    }
}

/// The effective capability set of the calling thread (capget(2)), as a bit mask
/// indexed by capability number; 0 when it cannot be read.
pub fn effective_caps() -> u64 {
    caps().map_or(0, |c| c[0])
}

/// (effective, permitted, inheritable) of the calling thread, or `None` (capget failed).
fn caps() -> Option<[u64; 3]> {
    let mut hdr = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData structs for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    let join = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | (u64::from(f(&data[1])) << 32);
    Some([
        join(|d| d.effective),
        join(|d| d.permitted),
        join(|d| d.inheritable),
    ])
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Which step of [`Plan::apply`] failed, and the errno: for the child's one-line message
/// (the parent prints it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What failed.
    pub step: Step,
    /// The kernel's errno for it (EPERM for a failed verification).
    pub errno: i32,
}

/// The steps of a drop, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Step {
    CloseFds = 1,
    Groups = 2,
    Gid = 3,
    Uid = 4,
    Capabilities = 5,
    NoNewPrivs = 6,
    Verify = 7,
}

impl Step {
    /// What the step does, for a message.
    pub fn what(self) -> &'static str {
        match self {
            Step::CloseFds => "close evbench's file descriptors",
            Step::Groups => "set the supplementary groups",
            Step::Gid => "set the group id",
            Step::Uid => "set the user id",
            Step::Capabilities => "clear the capabilities",
            Step::NoNewPrivs => "set no_new_privs",
            Step::Verify => "verify the new credentials",
        }
    }

    /// The step of a number [`Failure::code`] gave, if any.
    pub fn from_code(n: i32) -> Option<Self> {
        [
            Step::CloseFds,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::Capabilities,
            Step::NoNewPrivs,
            Step::Verify,
        ]
        .into_iter()
        .find(|s| *s as i32 == n)
    }
}

impl Failure {
    /// One line: "--user NAME: cannot set the user id: Operation not permitted".
    pub fn message(&self, user: &str) -> String {
        format!(
            "--user {user}: cannot {}: {}",
            self.step.what(),
            crate::files::cause(&std::io::Error::from_raw_os_error(self.errno))
        )
    }
}

/// A drop to one [`Account`], prepared before the fork.
pub struct Plan {
    /// Who the dropped process becomes.
    pub account: Account,
    groups: Vec<libc::gid_t>,
    /// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
    last_cap: u32,
    /// The dropped process's environment ([`dropped_env`]), `NAME=VALUE` each.
    env: Vec<CString>,
    /// `env` as execve(2)'s NULL-terminated array (pointers into `env`).
    envp: Vec<*const c_char>,
}

// SAFETY: the raw pointers in `envp` point into `env`'s own heap buffers, which are
// never modified or freed while the plan lives; the plan is read-only after `new`.
unsafe impl Send for Plan {}
// SAFETY: as above.
unsafe impl Sync for Plan {}

impl Plan {
    /// Prepares the drop to `account`: its group list, the kernel's capability count
    /// and the environment ([`dropped_env`] of evbench's own).
    pub fn new(account: Account) -> Self {
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(63);
        let env: Vec<CString> =
            dropped_env(std::env::vars_os().collect(), &account, &Invoker::current())
                .into_iter()
                .filter_map(|(k, v)| {
                    let mut e = k.as_bytes().to_vec();
                    e.push(b'=');
                    e.extend_from_slice(v.as_bytes());
                    CString::new(e).ok()
                })
                .collect();
        let mut envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        envp.push(std::ptr::null());
        Self {
            groups: account.groups.clone(),
            account,
            last_cap,
            env,
            envp,
        }
    }

    /// The dropped environment for execve(2): a NULL-terminated array of `NAME=VALUE`.
    pub fn envp(&self) -> *const *const c_char {
        self.envp.as_ptr()
    }

    /// For a child that goes on without exec (a `run` pass): makes the dropped
    /// environment this process's own — `std::env` for the workload, and the kernel's
    /// view of it (`/proc/PID/environ`, which shows the block an exec left on the
    /// stack) through prctl(PR_SET_MM, PR_SET_MM_MAP) (kernel/sys.c, CONFIG_CHECKPOINT_RESTORE:
    /// needs no capability when /proc/PID/exe is left alone) with every other field as
    /// /proc/self/stat gives it. Call it in the child before it starts threads (setenv
    /// is not thread-safe). Returns whether the kernel's view was moved (a kernel
    /// without it leaves `/proc/PID/environ` at evbench's; `std::env` is set anyway).
    pub fn adopt_environment(&self) -> bool {
        let keep: Vec<(&[u8], &[u8])> = self
            .env
            .iter()
            .filter_map(|e| {
                let b = e.as_bytes();
                let eq = b.iter().position(|&c| c == b'=')?;
                Some((&b[..eq], &b[eq + 1..]))
            })
            .collect();
        for (k, _) in std::env::vars_os() {
            if !keep.iter().any(|(n, _)| *n == k.as_bytes()) {
                std::env::remove_var(k);
            }
        }
        for (k, v) in &keep {
            std::env::set_var(
                std::ffi::OsStr::from_bytes(k),
                std::ffi::OsStr::from_bytes(v),
            );
        }
        // One NUL-separated block, as an exec lays it out; it lives as long as the
        // process (the kernel reads it on every /proc/PID/environ).
        let block: Vec<u8> = self
            .env
            .iter()
            .flat_map(|e| e.as_bytes_with_nul().iter().copied())
            .collect();
        let block = Box::leak(block.into_boxed_slice());
        let start = block.as_ptr() as u64;
        let end = start + block.len() as u64;
        let Some(mut map) = MmMap::current() else {
            return false;
        };
        map.env_start = start;
        map.env_end = end;
        // SAFETY: the kernel copies the struct; the block is never freed.
        unsafe {
            prctl(
                libc::PR_SET_MM,
                PR_SET_MM_MAP,
                std::ptr::addr_of!(map) as libc::c_ulong,
                std::mem::size_of::<MmMap>() as libc::c_ulong,
            ) == 0
        }
    }

    /// Becomes the account, for good: closes every fd from 3 up except `keep`, drops the
    /// bounding set where allowed, sets the groups, gid and uid (real, effective and
    /// saved), clears every capability set (ambient included), sets no_new_privs, and
    /// checks the result. The environment is the caller's: [`Plan::envp`] for execve,
    /// [`Plan::adopt_environment`] without exec.
    ///
    /// # Safety
    /// Call it in a freshly forked child with one thread (the raw set*id system calls
    /// change the calling thread only). It makes only async-signal-safe system calls and
    /// does not allocate. `keep` is reordered.
    pub unsafe fn apply(&self, keep: &mut [c_int]) -> Result<(), Failure> {
        let fail = |step: Step| Failure {
            step,
            errno: *libc::__errno_location(),
        };
        close_fds_except(keep).map_err(|()| fail(Step::CloseFds))?;
        // Allowed with CAP_SETPCAP only: "where possible" (an unprivileged caller's
        // bounding set cannot give anything back anyway).
        for cap in 0..=self.last_cap {
            prctl(libc::PR_CAPBSET_DROP, cap.into(), 0, 0);
        }
        prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
        );
        if libc::syscall(
            libc::SYS_setgroups,
            self.groups.len() as libc::c_ulong,
            self.groups.as_ptr(),
        ) != 0
        {
            return Err(fail(Step::Groups));
        }
        let (uid, gid) = (self.account.uid, self.account.gid);
        if libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0 {
            return Err(fail(Step::Gid));
        }
        if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
            return Err(fail(Step::Uid));
        }
        // A switch away from uid 0 cleared permitted and effective already; this also
        // clears inheritable (and, with it, ambient), and covers a target uid of 0.
        let mut hdr = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let none = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capset, &mut hdr, none.as_ptr()) != 0 {
            return Err(fail(Step::Capabilities));
        }
        if prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0) != 0 {
            return Err(fail(Step::NoNewPrivs));
        }
        self.verify().map_err(|()| Failure {
            step: Step::Verify,
            errno: libc::EPERM,
        })
    }

    /// Checks what [`Plan::apply`] set, from the kernel's answers.
    unsafe fn verify(&self) -> Result<(), ()> {
        let (mut r, mut e, mut s) = (0, 0, 0);
        let (uid, gid) = (self.account.uid, self.account.gid);
        if libc::getresuid(&mut r, &mut e, &mut s) != 0 || (r, e, s) != (uid, uid, uid) {
            return Err(());
        }
        if libc::getresgid(&mut r, &mut e, &mut s) != 0 || (r, e, s) != (gid, gid, gid) {
            return Err(());
        }
        if caps() != Some([0, 0, 0]) {
            return Err(());
        }
        let ambient_any = (0..=self.last_cap).any(|cap| {
            prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong,
                cap.into(),
                0,
            ) == 1
        });
        if ambient_any || prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0) != 1 {
            return Err(());
        }
        Ok(())
    }

    /// The account's name.
    pub fn user(&self) -> &str {
        &self.account.name
    }
}

/// Variables that name the invoking user's session or private places whatever their
/// value looks like (a socket address, an agent's pid): removed.
const PRIVATE_VARS: [&str; 14] = [
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "DBUS_SESSION_BUS_ADDRESS",
    "MAIL",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "GPG_AGENT_INFO",
    "GNUPGHOME",
    "XAUTHORITY",
    "KRB5CCNAME",
    "OLDPWD",
];

/// The invoking user, as [`dropped_env`] needs it: whose private places to keep out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoker {
    /// The real uid of evbench (getuid(2)): its runtime directory is `/run/user/UID`.
    pub uid: u32,
    /// The home directory of `uid`'s user database entry (getpwuid_r(3)); `None`
    /// without an entry. Taken besides `$HOME`, which the invoker may have changed.
    pub passwd_home: Option<PathBuf>,
    /// evbench's current directory (getcwd(3)), which the child inherits: its PWD;
    /// `None` when it cannot be read.
    pub cwd: Option<PathBuf>,
}

impl Invoker {
    /// The calling process's invoker: getuid, its passwd home, getcwd.
    pub fn current() -> Self {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let passwd_home = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.dir);
        Self {
            uid,
            passwd_home,
            cwd: std::env::current_dir().ok(),
        }
    }
}

/// `p` with `.` and `..` resolved lexically (`/tmp/../root` → `/root`; `..` at `/`
/// stays at `/`), repeated and trailing slashes gone. `p` is absolute.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `p` as the kernel resolves it: its longest existing ancestor canonicalized
/// (realpath(3): symlinks and `..` followed), the rest appended; `p` itself when no
/// ancestor resolves. `p` is absolute.
fn resolved(p: &Path) -> PathBuf {
    let mut head = p.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&head) {
            return tail.iter().rev().fold(c, |acc, t| acc.join(t));
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(n), Some(parent)) => {
                tail.push(n);
                head = parent.to_path_buf();
            }
            // `..` or `/` last: let canonicalize of the whole decide, or give up.
            _ => return p.to_path_buf(),
        }
    }
}

/// Every form of absolute path `p` to compare with a private place: as written,
/// normalized lexically, and resolved through the file system (both from the lexical
/// form and from `p` as written, since a symlink followed by `..` resolves differently).
fn forms(p: &Path) -> [PathBuf; 3] {
    let l = lexical(p);
    [resolved(&l), resolved(p), l]
}

/// The separators of a list value: `:` (PATH, LD_LIBRARY_PATH) and whitespace
/// (LD_PRELOAD, ld.so(8): "a whitespace-separated or colon-separated list").
fn is_separator(b: u8) -> bool {
    b == b':' || b.is_ascii_whitespace()
}

/// The path a list piece names, if any: from its first `/` after its last `=`
/// (`--opt=/root/x`, `KEY=/root/x`, `-L/root/lib`, `///root/x` of `file:///root/x`).
fn piece_path(piece: &[u8]) -> Option<&Path> {
    let after_eq = piece
        .iter()
        .rposition(|&b| b == b'=')
        .map_or(piece, |i| &piece[i + 1..]);
    let slash = after_eq.iter().position(|&b| b == b'/')?;
    Some(Path::new(std::ffi::OsStr::from_bytes(&after_eq[slash..])))
}

/// The environment a `--user` child gets, from evbench's `vars`; evbench's order is
/// kept, the identity comes last:
///
/// - HOME, USER, LOGNAME and SHELL are `account`'s (the user database's), as `su NAME`
///   (without `-`) sets them;
/// - removed: [`PRIVATE_VARS`], every `XDG_SESSION_*` and `SUDO_*` (the invoker's
///   session and identity), and any variable whose value names a path inside one of the
///   invoker's private places: the home directory of the invoker's user database entry
///   AND `$HOME` (both: either may have been changed), `$XDG_RUNTIME_DIR` and
///   `/run/user/UID` — e.g. `CARGO_HOME=/root/.cargo`,
///   `PULSE_SERVER=unix:/run/user/0/pulse/native`: NAME cannot read there, and must not
///   be sent there;
/// - a value is read as a list, split on `:` and on whitespace; a piece names the path
///   from its first `/` after its last `=` (`--opt=/root/x`, `-L/root/lib`), compared
///   whole component by component (`/root` does not contain `/rootfs`) as written,
///   normalized lexically (`/tmp/../root`) and resolved through the file system
///   (a symlink to `/root`, for the longest part of the path that exists);
/// - a path list — no `=` in it, and every entry absolute or starting with `.`, or any
///   entries when the name ends in `PATH` — loses only its private entries, its other
///   entries (relative ones such as `.` included) and separators kept as they were
///   (`/root/.cargo/bin:.:/usr/bin` → `.:/usr/bin`,
///   `LD_PRELOAD=/usr/lib/a.so /root/b.so` → `/usr/lib/a.so`), and goes when no entry
///   is left; any other value naming a private path goes whole;
/// - PWD, when evbench has one, becomes evbench's real current directory (which the
///   child inherits), and goes when that is inside a private place or unreadable;
/// - everything else (LANG, TERM, PATH's system entries) stays.
///
/// A home of `/` or of `account`'s own is no private place. Reads the file system
/// (canonicalize) but never fails: a path that does not exist is compared as written
/// and normalized.
pub fn dropped_env(
    vars: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    account: &Account,
    invoker: &Invoker,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    use std::ffi::OsString;
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| PathBuf::from(v))
    };
    let own_home = forms(&account.home);
    let mut private: Vec<PathBuf> = Vec::new();
    for h in [invoker.passwd_home.clone(), get("HOME")]
        .into_iter()
        .flatten()
        .filter(|h| h.is_absolute())
    {
        let f = forms(&h);
        if f.iter()
            .any(|p| p == Path::new("/") || own_home.contains(p))
        {
            continue;
        }
        private.extend(f);
    }
    if let Some(r) = get("XDG_RUNTIME_DIR").filter(|r| r.is_absolute()) {
        private.extend(forms(&r));
    }
    private.extend(forms(Path::new(&format!("/run/user/{}", invoker.uid))));
    let inside = |p: &Path| {
        forms(p)
            .iter()
            .any(|f| private.iter().any(|d| f.starts_with(d)))
    };
    let private_piece = |piece: &[u8]| piece_path(piece).is_some_and(inside);
    let mut out: Vec<(OsString, OsString)> = Vec::new();
    for (k, v) in &vars {
        let name = k.to_string_lossy();
        if matches!(&*name, "HOME" | "USER" | "LOGNAME" | "SHELL")
            || PRIVATE_VARS.contains(&&*name)
            || name.starts_with("XDG_SESSION_")
            || name.starts_with("SUDO_")
        {
            continue;
        }
        if name == "PWD" {
            if let Some(cwd) = invoker.cwd.as_ref().filter(|c| !inside(c)) {
                out.push((k.clone(), cwd.clone().into_os_string()));
            }
            continue;
        }
        let value = v.as_bytes();
        // Pieces with the separator before each (none before the first).
        let mut pieces: Vec<(Option<u8>, &[u8])> = Vec::new();
        let mut from = 0;
        let mut sep = None;
        for (i, &b) in value.iter().enumerate() {
            if is_separator(b) {
                pieces.push((sep, &value[from..i]));
                sep = Some(b);
                from = i + 1;
            }
        }
        pieces.push((sep, &value[from..]));
        if !pieces.iter().any(|(_, p)| private_piece(p)) {
            out.push((k.clone(), v.clone()));
            continue;
        }
        let path_list = !value.contains(&b'=')
            && (name.ends_with("PATH")
                || pieces
                    .iter()
                    .all(|(_, p)| p.is_empty() || p[0] == b'/' || p[0] == b'.'));
        if !path_list {
            continue;
        }
        let mut kept: Vec<u8> = Vec::new();
        let mut first = true;
        let mut any = false;
        for (sep, p) in pieces {
            if private_piece(p) {
                continue;
            }
            if let (false, Some(s)) = (first, sep) {
                kept.push(s);
            }
            first = false;
            any |= !p.is_empty();
            kept.extend_from_slice(p);
        }
        if any {
            out.push((k.clone(), OsString::from_vec(kept)));
        }
    }
    for (k, v) in [
        ("HOME", account.home.as_os_str()),
        ("USER", std::ffi::OsStr::new(&account.name)),
        ("LOGNAME", std::ffi::OsStr::new(&account.name)),
        ("SHELL", account.shell.as_os_str()),
    ] {
        out.push((k.into(), v.to_os_string()));
    }
    out
}

/// `PR_SET_MM_MAP` (include/uapi/linux/prctl.h): set every field of the mm at once.
const PR_SET_MM_MAP: libc::c_ulong = 14;

/// `struct prctl_mm_map` (include/uapi/linux/prctl.h).
#[repr(C)]
struct MmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: u64,
    auxv_size: u32,
    /// `-1`: leave /proc/PID/exe alone (changing it would need CAP_SYS_ADMIN).
    exe_fd: u32,
}

impl MmMap {
    /// This process's layout as it is: /proc/self/stat (proc(5): fields 26-28 and
    /// 45-51) and the current break; the auxiliary vector is left alone.
    fn current() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name start at field 3.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let field = |n: usize| f.get(n - 3).copied();
        // SAFETY: brk(0) only reports the current break.
        let brk = unsafe { libc::syscall(libc::SYS_brk, 0 as libc::c_ulong) } as u64;
        Some(Self {
            start_code: field(26)?,
            end_code: field(27)?,
            start_stack: field(28)?,
            start_data: field(45)?,
            end_data: field(46)?,
            start_brk: field(47)?,
            brk,
            arg_start: field(48)?,
            arg_end: field(49)?,
            env_start: field(50)?,
            env_end: field(51)?,
            auxv: 0,
            auxv_size: 0,
            exe_fd: u32::MAX,
        })
    }
}

/// prctl(2) with every argument a full `unsigned long` (the kernel refuses nonzero
/// garbage in unused ones, and a variadic `int` leaves the upper half unspecified).
unsafe fn prctl(opt: c_int, a2: libc::c_ulong, a3: libc::c_ulong, a4: libc::c_ulong) -> c_int {
    libc::prctl(opt, a2, a3, a4, 0 as libc::c_ulong)
}

/// Closes every fd from 3 up but `keep` (close_range(2), Linux 5.9; a close(2) loop up
/// to the fd limit before). Async-signal-safe, no allocation.
unsafe fn close_fds_except(keep: &mut [c_int]) -> Result<(), ()> {
    keep.sort_unstable();
    let mut from: u32 = 3;
    for &k in keep.iter() {
        let Ok(k) = u32::try_from(k) else { continue };
        if k < from {
            continue;
        }
        if k > from {
            close_range(from, k - 1)?;
        }
        from = k + 1;
    }
    close_range(from, u32::MAX)
}

unsafe fn close_range(first: u32, last: u32) -> Result<(), ()> {
    if libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) == 0 {
        return Ok(());
    }
    if *libc::__errno_location() != libc::ENOSYS {
        return Err(());
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
        return Err(());
    }
    let top = lim.rlim_cur.min(u64::from(last) + 1).min(1 << 20) as u32;
    for fd in first..top {
        libc::close(fd as c_int);
    }
    Ok(())
}

#[cfg(test)]
mod env_tests {
    use super::*;

    fn nobody() -> Account {
        Account {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            groups: vec![65534],
            home: "/nonexistent".into(),
            shell: "/usr/sbin/nologin".into(),
        }
    }

    fn root(cwd: &str) -> Invoker {
        Invoker {
            uid: 0,
            passwd_home: Some("/root".into()),
            cwd: Some(cwd.into()),
        }
    }

    fn drop_env(vars: &[(&str, &str)], invoker: &Invoker) -> Vec<(String, String)> {
        let vars = vars.iter().map(|(k, v)| (k.into(), v.into())).collect();
        dropped_env(vars, &nobody(), invoker)
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const IDENTITY: [(&str, &str); 4] = [
        ("HOME", "/nonexistent"),
        ("USER", "nobody"),
        ("LOGNAME", "nobody"),
        ("SHELL", "/usr/sbin/nologin"),
    ];

    #[test]
    fn the_dropped_environment_keeps_nothing_of_the_invokers_private_places() {
        let got = drop_env(
            &[
                ("HOME", "/root"),
                ("USER", "root"),
                ("PATH", "/root/.cargo/bin:/usr/local/bin:/usr/bin:/bin"),
                ("CARGO_HOME", "/root/.cargo"),
                ("ROOTFS", "/rootfs/x"),
                ("XDG_RUNTIME_DIR", "/run/user/0"),
                ("PULSE_SERVER", "unix:/run/user/0/pulse/native"),
                ("XDG_SESSION_ID", "3"),
                ("SUDO_USER", "alice"),
                ("LANG", "C.UTF-8"),
                ("ONLY_PRIVATE", "/root/a:/root/b"),
            ],
            &root("/tmp"),
        );
        let mut want = vec![
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("ROOTFS", "/rootfs/x"),
            ("LANG", "C.UTF-8"),
        ];
        want.extend(IDENTITY);
        assert_eq!(got, pairs(&want));
    }

    /// A throwaway directory under /tmp with `rootlink` → /root; removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let d =
                std::env::temp_dir().join(format!("evbench-envtest-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::symlink("/root", d.join("rootlink")).unwrap();
            Self(d)
        }

        fn at(&self, rest: &str) -> String {
            format!("{}/{rest}", self.0.display())
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// F5 and F6: values that resolve into the invoker's home (through `..`, a symlink,
    /// a space-separated list, an `--opt=` prefix, `-L`) go although HOME is unset (the
    /// passwd home counts); PWD follows the real cwd; a path list with a relative entry
    /// loses only its private entries, its separators kept.
    #[test]
    fn values_that_resolve_into_the_passwd_home_go_without_home_set() {
        let s = Scratch::new("resolve");
        let symlink = s.at("rootlink/y");
        let via_symlink_dotdot = s.at("rootlink/../root/z");
        let safe = s.at("plain");
        let got = drop_env(
            &[
                ("PATH", "/root/.cargo/bin:/usr/bin:.:/bin"),
                ("CARGO_HOME", "/root/.cargo"),
                ("DOTDOT", "/tmp/../root/secret"),
                ("SYMLINK", &symlink),
                ("SYMDOTDOT", &via_symlink_dotdot),
                ("LD_PRELOAD", "/usr/lib/a.so /root/b.so"),
                ("EQ", "--opt=/root/x"),
                ("LFLAGS", "-L/usr/lib -L/root/lib"),
                ("URL", "file:///root/x"),
                ("MYPATH", "/opt/My Apps/bin:/root/bin::/usr/bin"),
                ("ROOTFS", "/rootfs/x"),
                ("PWD", "/root"),
                ("SAFE", &safe),
                ("LANG", "C.UTF-8"),
                ("PULSE_SERVER", "unix:/run/user/0/pulse/native"),
            ],
            &root("/root"),
        );
        let mut want = vec![
            ("PATH", "/usr/bin:.:/bin"),
            ("LD_PRELOAD", "/usr/lib/a.so"),
            ("MYPATH", "/opt/My Apps/bin::/usr/bin"),
            ("ROOTFS", "/rootfs/x"),
            ("SAFE", &safe),
            ("LANG", "C.UTF-8"),
        ];
        want.extend(IDENTITY);
        assert_eq!(got, pairs(&want));
    }

    /// $HOME and the passwd home are both private; PWD becomes the real cwd.
    #[test]
    fn home_and_the_passwd_home_are_both_private_and_pwd_is_the_real_cwd() {
        let s = Scratch::new("home");
        let fake_home = s.at("home");
        std::fs::create_dir_all(&fake_home).unwrap();
        let in_home = s.at("home/x");
        let in_home_via_dotdot = s.at("other/../home/y");
        let other = s.at("other");
        let got = drop_env(
            &[
                ("HOME", &fake_home),
                ("CARGO_HOME", "/root/.cargo"),
                ("A", &in_home),
                ("B", &in_home_via_dotdot),
                ("C", &other),
                ("PWD", "/somewhere/stale"),
                ("PATH", "/usr/bin:/bin"),
            ],
            &root(&s.0.display().to_string()),
        );
        let cwd = s.0.display().to_string();
        let mut want = vec![
            ("C", other.as_str()),
            ("PWD", cwd.as_str()),
            ("PATH", "/usr/bin:/bin"),
        ];
        want.extend(IDENTITY);
        assert_eq!(got, pairs(&want));
    }
}
