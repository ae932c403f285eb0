//! `evbench trace`: the run's probes and histograms on processes evbench did not write:
//! running processes (`--pid`, every thread, and the threads and children they create
//! later), every task of a cgroup v2 subtree (`--cgroup`), processes by name (`--comm`,
//! including ones that start, exec or are renamed later), or a command it starts
//! (`-- COMMAND ARGS...`, with its descendants).
//!
//! Following: each target thread goes into the probes' target map through the
//! [`Observer`] interface; the kernel's `sched_process_fork` program (bench-ebpf
//! `sched.rs`) makes every thread or process a target creates a target too, so after
//! the session has registered every thread that exists (re-reading `/proc/PID/task`
//! until it is stable, before counting starts) nothing is polled. `--cgroup` and
//! `--comm` targets that appear later are adopted by the kernel programs themselves
//! (bench-ebpf `adopt.rs`: the cgroup check, exec and rename); the ones that exist at
//! the start are found in `cgroup.threads` and /proc (`probes::select`).
//!
//! The command mode behaves like the command (as `timeout(1)` and `env(1)` do): the
//! child stays in evbench's process group, hence in the terminal's foreground group, so
//! the terminal's Ctrl-C reaches it directly; a SIGINT or SIGTERM *sent* to evbench (a
//! `kill(2)`, `si_code <= 0`) is forwarded to it, one from the terminal (`SI_KERNEL`)
//! is not, since the command got its own. A second ending signal more than
//! half a second ([`crate::signal::request`]) after the first exits at once (forwarding it to
//! the command first); one within it is the same request (`timeout(1)` signals evbench
//! and then its process group). Exit status: the command's, 128+N when signal
//! N killed it; [`EXIT_FAILED`] when evbench itself fails, [`EXIT_NOT_EXECUTABLE`],
//! [`EXIT_NOT_FOUND`] (POSIX `command`'s and `env`'s codes).
//!
//! `--user NAME` runs the command as NAME ([`crate::privdrop`]): the child drops
//! (groups, gid, uid, every capability, no_new_privs, every fd of evbench's beyond 0–2
//! but its two close-on-exec pipes) before it waits at the gate, so none of the drop's
//! system calls is counted, and execs with the environment `su NAME` would give
//! (`privdrop::dropped_env`: NAME's HOME/USER/LOGNAME/SHELL, none of the invoker's
//! private places). Unlike a `run --user` pass, the command gets no parent-death
//! signal: it outlives a killed evbench as it would a killed timeout(1) or env(1).
use std::{
    collections::BTreeMap,
    ffi::CString,
    io::Write,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use serde_json::{json, Value};
use workloads::{Observer, TaskInfo};

use crate::{
    cli::{CommonArgs, TraceArgs},
    commands::run::{write_document, Kept},
    engine::{kernel::record_kernel, prepare_probes_adopting},
    export, files,
    output::{self, count, ns, plural},
    privdrop,
    probes::{
        calibrate,
        collect::{
            HistSummary, KernelHist, ProgramCost, SyscallFigures, ThreadFigures, WokeFigures,
        },
        select::{self, Adopt},
        Kernel, ProbeOptions, ProbeSet, ProbeSets, Probes, OBJECT,
    },
    results::{Case, Metric, NoiseMeter, Repeat, RunResult},
    signal::Request,
};

/// Opens the --interval-json file for writing (created or truncated; a FIFO or device
/// as it is) without blocking: a FIFO nobody reads is refused in one line (`ENXIO`,
/// fifo(7)) rather than waited on. Blocking mode is restored once open, so each line
/// is written whole.
fn open_interval_json(p: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::{fs::OpenOptionsExt, io::AsRawFd};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ENXIO) {
                format!(
                    "--interval-json {}: a FIFO with no reader (start the reader first)",
                    p.display()
                )
            } else {
                format!("--interval-json {}: {}", p.display(), files::cause(&e))
            }
        })?;
    // SAFETY: F_GETFL/F_SETFL on an fd we own.
    unsafe {
        let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    Ok(f)
}

/// evbench's own failure in the command mode (as timeout(1) and env(1)).
pub const EXIT_FAILED: u8 = 125;
/// Without a command: an output (`-o`, `--interval-json`) that could not be written,
/// as for `evbench run`. In the command mode the same failure is [`EXIT_FAILED`] when
/// the command succeeded, and the command's own status when it failed (its failure is
/// the news; the message names the file either way).
pub const EXIT_OUTPUT: u8 = 2;
/// Whether evbench's arguments (`argv` without the program name) ask for the command
/// mode of `trace`: the word `trace` before a `--` that has a command after it. Used
/// to give usage errors there [`EXIT_FAILED`] rather than clap's 2 (as timeout(1)).
pub fn is_command_mode(argv: &[String]) -> bool {
    let Some(dash) = argv.iter().position(|a| a == "--") else {
        return false;
    };
    dash + 1 < argv.len() && argv[..dash].iter().any(|a| a == "trace")
}

/// The command was found but could not be executed.
pub const EXIT_NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// The inode number of the initial pid namespace (`PROC_PID_INIT_INO` in the kernel's
/// include/linux/proc_ns.h): any other means evbench sees non-kernel process ids.
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// How often the session looks at its targets, signals and the clock.
const TICK: Duration = Duration::from_millis(20);

/// Signals received (SIGINT/SIGTERM) that end the session (see [`counts_as_ending`]),
/// and the last one sent by a process (to forward).
static SIGNALS: AtomicU32 = AtomicU32::new(0);
static FORWARD: AtomicI32 = AtomicI32::new(0);
/// When the first ending signal arrived (CLOCK_MONOTONIC ns; 0: none yet).
static FIRST_NS: AtomicU64 = AtomicU64::new(0);
/// The command's pid once started (0: none), for the handler's exit at once.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Whether the session runs a command (set before the handler is installed).
static COMMAND_MODE: AtomicBool = AtomicBool::new(false);

/// Whether a SIGINT/SIGTERM with `si_code` counts toward ending the session (and a
/// second one toward exiting at once). In the command mode only a signal *sent* to
/// evbench does (`si_code <= 0`: SI_USER, SI_QUEUE, SI_TKILL): the terminal's Ctrl-C
/// (`SI_KERNEL`) went to the command too, which decides what it means, and evbench
/// waits for it as the shell would. Without a command every one does.
pub fn counts_as_ending(si_code: libc::c_int, command_mode: bool) -> bool {
    !command_mode || si_code <= 0
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
    let code = unsafe { (*info).si_code };
    // SI_USER (kill), SI_QUEUE, SI_TKILL: sent to us by a process, not by the terminal.
    if code <= 0 {
        FORWARD.store(sig, Ordering::SeqCst);
    }
    if !counts_as_ending(code, COMMAND_MODE.load(Ordering::SeqCst)) {
        return;
    }
    match crate::signal::request(&FIRST_NS) {
        Request::First => {
            SIGNALS.fetch_add(1, Ordering::SeqCst);
            return;
        }
        // The same request again: timeout(1) signals evbench and then its whole
        // process group, a few ms apart.
        Request::Repeat => return,
        Request::Second => {}
    }
    // A second request: exit at once; closing our fds unloads every program. The
    // command gets the signal first (when it was sent to evbench), so it is not left
    // running without anyone waiting for it.
    let child = CHILD.load(Ordering::SeqCst);
    // SAFETY: kill and _exit are async-signal-safe; `child` is our unreaped child.
    unsafe {
        if child > 0 && code <= 0 {
            libc::kill(child, sig);
        }
        libc::_exit(128 + sig)
    };
}

/// The signals the session handles.
const HANDLED: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// Installs [`on_signal`] for SIGINT and SIGTERM. In the command mode a signal ignored
/// when evbench started (`nohup`, a background job of a non-interactive shell: POSIX
/// sh, "Signals that were ignored on entry to a non-interactive shell cannot be trapped")
/// stays ignored, in evbench and in the command ([`crate::signal::restore_ignored_for_exec`]
/// in the child, for every signal ignored at start), as env(1), nice(1) and timeout(1)
/// leave them.
fn install_signals(command_mode: bool) -> Result<()> {
    for sig in HANDLED {
        if command_mode && crate::signal::ignored_at_start(sig) {
            continue;
        }
        // SAFETY: a plain sigaction with an async-signal-safe handler.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                bail!(
                    "cannot install the signal handler: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}

/// A refusal or failure: the message (one line) and the exit status.
struct Fail(String, u8);

/// Runs `evbench trace`; returns the exit status (see the module docs).
pub fn run(args: TraceArgs) -> ExitCode {
    // Usage mistakes exit 2 like clap's own, except in the command mode, where every
    // failure of evbench's exits 125 so it can never pass for the command's status.
    let usage = if args.command.is_empty() {
        2
    } else {
        EXIT_FAILED
    };
    match session(&args, usage) {
        Ok(code) => ExitCode::from(code),
        Err(Fail(msg, code)) => {
            let msg = crate::errors::without_errno(msg.replace('\n', " "));
            eprintln!("evbench: error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// A target as the user named it.
enum Named {
    Pid {
        pid: u32,
        comm: String,
    },
    Command {
        argv: Vec<String>,
    },
    /// `--cgroup`: the directory resolved (canonical path, id, level).
    Cgroup(select::Cgroup),
    /// `--comm`: the name.
    Comm(String),
}

fn check(args: &TraceArgs, usage: u8) -> Result<(), Fail> {
    let u = |m: String| Err(Fail(m, usage));
    if let Some(c) = &args.comm {
        if let Err(e) = select::comm_bytes(c) {
            return u(e);
        }
    }
    if args.pids.is_empty()
        && args.command.is_empty()
        && args.cgroup.is_none()
        && args.comm.is_none()
    {
        return u(
            "nothing to trace: name --pid PID, --cgroup PATH, --comm NAME or a command after --"
                .into(),
        );
    }
    if let (Some(name), true) = (&args.user, args.command.is_empty()) {
        return u(format!(
            "--user {name}: applies to a command after -- (evbench cannot change who runs a process it did not start)"
        ));
    }
    if args.probes.is_empty() {
        return u("--probes none: a trace without probes measures nothing".into());
    }
    if !args.command.is_empty() {
        if args.json {
            return u("--json: stdout belongs to the command; use -o FILE".into());
        }
        if args.interval_json.as_deref() == Some(Path::new("-")) {
            return u("--interval-json -: stdout belongs to the command; name a file".into());
        }
    }
    if args.json && args.interval_json.as_deref() == Some(Path::new("-")) {
        return u(
            "--json and --interval-json -: both would write to stdout; name a file for one".into(),
        );
    }
    if let Some(n) = &args.name {
        if n.is_empty() || n.contains(char::is_whitespace) || n.contains('/') {
            return u(format!(
                "--name '{n}': one word without spaces or '/' (it ends the case id trace/NAME)"
            ));
        }
    }
    let mut outs: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &args.output {
        outs.push(("-o", p));
    }
    if let Some(p) = args
        .interval_json
        .as_deref()
        .filter(|p| *p != Path::new("-"))
    {
        outs.push(("--interval-json", p));
    }
    for (flag, p) in &outs {
        if let Err(e) = files::check_output(flag, p) {
            return u(e);
        }
    }
    if let Err(e) = files::check_distinct(&outs) {
        return u(e);
    }
    Ok(())
}

/// Refuses to run where process ids are not the kernel's: the probes see init-namespace
/// thread ids (`task_struct.pid`), so a pid from inside a pid namespace names another
/// task (or none). Translating would need /proc of the host's namespace, which a
/// namespace with its own /proc does not show.
fn check_pid_namespace(usage: u8) -> Result<(), Fail> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self/ns/pid") {
        Ok(m) if m.ino() != PROC_PID_INIT_INO => Err(Fail(
            "evbench runs inside a pid namespace: its process ids are not the kernel's, which the probes match; run it in the host's pid namespace".into(),
            usage,
        )),
        _ => Ok(()),
    }
}

/// The command name (`/proc/PID/comm`) of a live process, or why not (one line).
fn comm_of(pid: u32) -> Result<String, String> {
    if !process_alive(pid) {
        return Err(format!("--pid {pid}: no such process"));
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .map_err(|e| format!("--pid {pid}: cannot read /proc/{pid}/comm: {e}"))
}

/// Whether `pid` exists and is not a zombie (a target that exited but whose parent has
/// not reaped it is over).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn tids_of(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// Registers every thread of `pid` as target `index`. Threads created while this runs
/// by a thread not yet registered would be missed by the kernel's fork follower, so it
/// re-reads the thread list until a pass finds nothing new.
fn follow_process(probes: &Probes, pid: u32, index: u32, role: &'static str) -> usize {
    let mut known = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let new: Vec<u32> = tids_of(pid)
            .into_iter()
            .filter(|t| !known.contains(t))
            .collect();
        if new.is_empty() {
            break;
        }
        for tid in new {
            probes.task_started(&TaskInfo { tid, index, role });
            known.insert(tid);
        }
    }
    known.len()
}

/// Registers every thread in cgroup `dir` and its descendants (`cgroup.threads`),
/// re-reading until a pass finds nothing new; tasks that join later, or that this
/// misses, are adopted by the kernel's cgroup check. Returns how many were registered.
fn follow_cgroup(probes: &Probes, dir: &Path, index: u32) -> usize {
    let mine = tids_of(std::process::id());
    let mut known = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let new: Vec<u32> = select::cgroup_threads(dir)
            .into_iter()
            // evbench itself is never a target, even inside the cgroup.
            .filter(|t| !known.contains(t) && !mine.contains(t))
            .collect();
        if new.is_empty() {
            break;
        }
        for tid in new {
            probes.task_started(&TaskInfo {
                tid,
                index,
                role: "cgroup",
            });
            known.insert(tid);
        }
    }
    known.len()
}

/// Registers every process named `name` now with all its threads, re-scanning /proc
/// until a pass finds none new (a matching process may fork while the scan runs);
/// later ones are adopted by the kernel at exec or rename. Returns (processes, threads).
fn follow_comm(probes: &Probes, name: &str, index: u32) -> (usize, usize) {
    let mut known = std::collections::BTreeSet::new();
    let mut threads = 0;
    for _ in 0..100 {
        let new: Vec<u32> = select::processes_named(name)
            .into_iter()
            .filter(|p| !known.contains(p))
            .collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            threads += follow_process(probes, pid, index, "comm");
            known.insert(pid);
        }
    }
    (known.len(), threads)
}

/// One line per --cgroup / --comm target that never had a task during the session.
fn unmatched(probes: &Probes, named: &[Named]) -> Vec<String> {
    let labels: Vec<u32> = probes
        .target_labels()
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.1)
        .collect();
    named
        .iter()
        .enumerate()
        .filter(|(i, _)| !labels.contains(&(*i as u32)))
        .filter_map(|(_, n)| match n {
            Named::Comm(c) => Some(format!(
                "--comm {c}: no process of that name ran during the session: nothing was traced for it"
            )),
            Named::Cgroup(cg) => Some(format!(
                "--cgroup {}: no task ran in it during the session: nothing was traced for it",
                cg.path.display()
            )),
            _ => None,
        })
        .collect()
}

/// Where `name` is found the way execvp(3) looks: as given when it has a '/', else the
/// first executable regular file of that name in $PATH (else the first one found at
/// all, so that execve reports why it cannot run). `None`: not found.
fn resolve(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    if name.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut fallback = None;
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Some(p),
            Ok(m) if m.is_file() => {
                fallback.get_or_insert(p);
            }
            _ => {}
        }
    }
    fallback
}

/// A forked command held at a gate until it is a target.
struct Child {
    pid: libc::pid_t,
    /// Write end of the gate: one byte lets the child exec.
    gate: libc::c_int,
    /// Read end of the exec-error pipe (close-on-exec in the child): EOF means exec
    /// succeeded; 8 bytes are a failure: the step (0: exec; else a failed `--user`
    /// drop's [`privdrop::Step`]) and the errno, as two native-endian i32s.
    errors: libc::c_int,
    /// `--user NAME`: the name, for messages.
    user: Option<String>,
}

fn cstr(s: &[u8]) -> Result<CString, Fail> {
    CString::new(s).map_err(|_| Fail("the command contains a NUL byte".into(), EXIT_FAILED))
}

/// Forks the command, stopped at a gate (a blocking read) before exec, so it can be
/// registered as a target before it runs any of its own code. With `user`, the child
/// drops to that user before the gate and execs with the user's environment.
fn fork_command(argv: &[String], user: Option<&privdrop::Plan>) -> Result<Child, Fail> {
    let Some(path) = resolve(&argv[0]) else {
        return Err(Fail(
            format!("{}: command not found", argv[0]),
            EXIT_NOT_FOUND,
        ));
    };
    let path = cstr(path.as_os_str().as_bytes())?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let mut gate = [0; 2];
    let mut errs = [0; 2];
    // SAFETY: plain pipe2 calls into local arrays.
    if unsafe { libc::pipe2(gate.as_mut_ptr(), libc::O_CLOEXEC) } != 0
        || unsafe { libc::pipe2(errs.as_mut_ptr(), libc::O_CLOEXEC) } != 0
    {
        return Err(Fail(
            format!("cannot create a pipe: {}", std::io::Error::last_os_error()),
            EXIT_FAILED,
        ));
    }
    // SAFETY: the child only makes async-signal-safe calls (read, close, execv, write,
    // _exit, and the drop's system calls) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Fail(
            format!("cannot fork: {}", std::io::Error::last_os_error()),
            EXIT_FAILED,
        ));
    }
    if pid == 0 {
        unsafe {
            libc::close(gate[1]);
            libc::close(errs[0]);
            // The session's signal handlers are ours, not the command's: while waiting
            // at the gate, a signal acts on the child as it would on the command, and
            // one evbench found ignored stays ignored.
            crate::signal::restore_ignored_for_exec(&[libc::SIGINT, libc::SIGTERM, libc::SIGPIPE]);
            // Dropped before the gate: the drop's system calls happen before the child
            // is a target. Its failure is reported once the gate opens (the parent then
            // reads the error pipe).
            let dropped = match user {
                Some(plan) => plan.apply(&mut [gate[0], errs[1]]),
                None => Ok(()),
            };
            let mut b = 0u8;
            let n = libc::read(gate[0], (&mut b as *mut u8).cast(), 1);
            if n != 1 {
                libc::_exit(EXIT_FAILED.into());
            }
            if let Err(f) = dropped {
                let msg: [i32; 2] = [f.step as i32, f.errno];
                libc::write(errs[1], msg.as_ptr().cast(), 8);
                libc::_exit(EXIT_FAILED.into());
            }
            match user {
                Some(plan) => libc::execve(path.as_ptr(), ptrs.as_ptr(), plan.envp()),
                None => libc::execv(path.as_ptr(), ptrs.as_ptr()),
            };
            let msg: [i32; 2] = [0, *libc::__errno_location()];
            let e = msg[1];
            libc::write(errs[1], msg.as_ptr().cast(), 8);
            libc::_exit(
                if e == libc::ENOENT {
                    EXIT_NOT_FOUND
                } else {
                    EXIT_NOT_EXECUTABLE
                }
                .into(),
            );
        }
    }
    // SAFETY: closing the child's ends in the parent.
    unsafe {
        libc::close(gate[0]);
        libc::close(errs[1]);
    }
    CHILD.store(pid, Ordering::SeqCst);
    Ok(Child {
        pid,
        gate: gate[1],
        errors: errs[0],
        user: user.map(|p| p.user().to_string()),
    })
}

impl Child {
    /// Waits until the child blocks in its gate read (at most 2 s): a syscall entered
    /// before the thread became a target is never counted (sys_exit finds no entry
    /// time), so the gate's read is not charged to the command.
    fn wait_at_gate(&self) {
        let until = Instant::now() + Duration::from_secs(2);
        let want = format!("{} ", libc::SYS_read);
        while Instant::now() < until {
            if std::fs::read_to_string(format!("/proc/{}/syscall", self.pid))
                .is_ok_and(|s| s.starts_with(&want))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ends a child that was never released (evbench failed before): kills and reaps
    /// it, so nothing of the command ever runs.
    fn abandon(&self) {
        // SAFETY: killing and reaping our own child, still waiting at its gate.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::close(self.gate);
            libc::close(self.errors);
        }
        let _ = self.wait_blocking();
    }

    /// Lets the child exec; `Err` when exec failed (the child has exited).
    fn release(&self, argv0: &str) -> Result<(), Fail> {
        let b = 1u8;
        // SAFETY: writing one byte to our own pipe, then reading the error pipe.
        unsafe { libc::write(self.gate, (&b as *const u8).cast(), 1) };
        unsafe { libc::close(self.gate) };
        let mut msg = [0i32; 2];
        let n = unsafe { libc::read(self.errors, msg.as_mut_ptr().cast(), 8) };
        unsafe { libc::close(self.errors) };
        if n == 8 {
            let _ = self.wait_blocking();
            let [step, e] = msg;
            if let Some(step) = privdrop::Step::from_code(step) {
                let f = privdrop::Failure { step, errno: e };
                return Err(Fail(
                    f.message(self.user.as_deref().unwrap_or("?")),
                    EXIT_FAILED,
                ));
            }
            let err = std::io::Error::from_raw_os_error(e);
            return Err(if e == libc::ENOENT {
                Fail(format!("{argv0}: command not found"), EXIT_NOT_FOUND)
            } else {
                Fail(
                    format!("{argv0}: cannot execute: {err}"),
                    EXIT_NOT_EXECUTABLE,
                )
            });
        }
        Ok(())
    }

    /// Whether it has ended, without reaping it (`waitid` with `WNOWAIT`): its
    /// `/proc/PID/stat` stays readable until [`Child::try_wait`] reaps it.
    fn exited(&self) -> bool {
        // SAFETY: a zeroed siginfo is valid output space; waiting for our own child.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
                && info.si_pid() == self.pid
        }
    }

    /// The exit status once it has ended (128+N for signal N), without blocking.
    fn try_wait(&self) -> Option<u8> {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        (r == self.pid).then(|| exit_code(status))
    }

    /// Waits for it to end while still forwarding the SIGINT/SIGTERM sent to evbench
    /// (after --duration ended the session, the command runs on and is still ours to
    /// signal): polls every [`TICK`].
    fn wait_forwarding(&self) -> u8 {
        loop {
            let sig = FORWARD.swap(0, Ordering::SeqCst);
            if sig != 0 {
                // SAFETY: signalling our own child, not reaped yet.
                unsafe { libc::kill(self.pid, sig) };
            }
            if let Some(code) = self.try_wait() {
                return code;
            }
            std::thread::sleep(TICK);
        }
    }

    fn wait_blocking(&self) -> u8 {
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                return exit_code(status);
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return EXIT_FAILED;
            }
        }
    }
}

fn exit_code(status: libc::c_int) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)) as u8
    } else {
        EXIT_FAILED
    }
}

fn session(args: &TraceArgs, usage: u8) -> Result<u8, Fail> {
    check(args, usage)?;
    check_pid_namespace(usage)?;
    let mut named = Vec::new();
    for &pid in &args.pids {
        let comm = comm_of(pid).map_err(|m| Fail(m, usage))?;
        named.push(Named::Pid { pid, comm });
    }
    if let Some(p) = &args.cgroup {
        named.push(Named::Cgroup(
            select::cgroup(p).map_err(|m| Fail(m, usage))?,
        ));
    }
    if let Some(c) = &args.comm {
        named.push(Named::Comm(c.clone()));
    }
    if !args.command.is_empty() {
        named.push(Named::Command {
            argv: args.command.clone(),
        });
    }
    // --user: the user and the privileges to switch, before anything is loaded.
    let user = match &args.user {
        Some(name) => Some(privdrop::Plan::new(
            privdrop::Account::lookup("--user", name).map_err(|m| Fail(m, usage))?,
        )),
        None => None,
    };
    // What the kernel adopts by itself: labelled with the target's index, like the
    // tasks registered from here.
    let mut adopt = Adopt::default();
    for (index, n) in named.iter().enumerate() {
        match n {
            Named::Cgroup(cg) => adopt.cgroup = Some((cg.clone(), index as u32)),
            Named::Comm(c) => {
                adopt.comm = Some((
                    select::comm_bytes(c).map_err(|m| Fail(m, usage))?,
                    index as u32,
                ));
            }
            _ => {}
        }
    }
    // evbench's own failures (not the user's mistakes): 1, or 125 in the command mode.
    let own = if usage == 2 { 1 } else { usage };
    let fail = |e: anyhow::Error| Fail(format!("{e:#}"), own);
    COMMAND_MODE.store(!args.command.is_empty(), Ordering::SeqCst);
    install_signals(!args.command.is_empty()).map_err(fail)?;
    // A reader of the interval stream that goes away (a FIFO's, a pipe's) must end the
    // stream, not the session with its report and document (SIGPIPE's default): the
    // write then fails with EPIPE, said in one line like a full disk. The command gets
    // SIGPIPE's default back before exec.
    // SAFETY: setting a disposition; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // Bound before anything else starts, so a taken port is one line and nothing ran.
    let listener = match args.prometheus {
        Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|e| {
            Fail(
                format!(
                    "--prometheus {addr}: cannot listen there: {}",
                    files::cause(&e)
                ),
                // An address that cannot be used is the user's to change, like an
                // output path that cannot be written: exit 2 (125 with a command).
                usage,
            )
        })?),
        None => None,
    };
    // The per-run cost of each program's empty twin, measured now (BPF statistics on
    // for a moment, before any of the session's programs is loaded): the basis of the
    // session's own cost estimate.
    let nop = nop_rates();
    let common = CommonArgs {
        probes: args.probes,
        kfunc: args.kfunc.clone(),
        quiet: true,
        ..CommonArgs::default()
    };
    let (probes, status) = prepare_probes_adopting(&common, adopt).map_err(fail)?;
    let Some(probes) = probes else {
        return Err(Fail(
            format!(
                "cannot trace without probes: {}",
                status.reason.as_deref().unwrap_or("they did not load")
            ),
            own,
        ));
    };
    // Children and threads the kernel follows on its own are nobody's registered
    // tasks: list them too.
    probes.list_followed(true);
    // Tasks the kernel adopts for --cgroup / --comm (and their children) carry that
    // target's label: they are listed under its role, as the ones found at the start.
    probes.label_roles(
        named
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Named::Cgroup(_) => Some((i as u32, "cgroup")),
                Named::Comm(_) => Some((i as u32, "comm")),
                _ => None,
            })
            .collect(),
    );
    let mut child = None;
    let mut threads = 0;
    for (index, n) in named.iter().enumerate() {
        match n {
            Named::Pid { pid, .. } => threads += follow_process(&probes, *pid, index as u32, "pid"),
            Named::Cgroup(cg) => threads += follow_cgroup(&probes, &cg.path, index as u32),
            Named::Comm(name) => {
                let (procs, t) = follow_comm(&probes, name, index as u32);
                threads += t;
                if procs == 0 && !args.quiet {
                    eprintln!("evbench: --comm {name}: no process of that name yet; waiting for one to start or be renamed");
                }
            }
            Named::Command { argv } => {
                let c = fork_command(argv, user.as_ref())?;
                c.wait_at_gate();
                probes.task_started(&TaskInfo {
                    tid: c.pid as u32,
                    index: index as u32,
                    role: "cmd",
                });
                threads += 1;
                child = Some((c, argv[0].clone()));
            }
        }
    }
    for n in probes.take_notes() {
        output::warn(&n);
    }
    // Opened before the command is released or counting starts: a FIFO without a
    // reader is refused here, instead of hanging the session later.
    let mut jsonl = match &args.interval_json {
        Some(p) if p == Path::new("-") => Some(JsonLines::Stdout),
        Some(p) => match open_interval_json(p) {
            Ok(f) => Some(JsonLines::File(f)),
            Err(m) => {
                if let Some((c, _)) = &child {
                    c.abandon();
                }
                return Err(Fail(m, usage));
            }
        },
        None => None,
    };
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let noise = NoiseMeter::start();
    // Every target's CPU time so far, as the window opens.
    let cpu = CpuMeter::start(&probes);
    let t0 = Instant::now();
    probes.measuring(true);
    if let Some((c, argv0)) = &child {
        if let Err(f) = c.release(argv0) {
            probes.measuring(false);
            return Err(f);
        }
    }
    let served = listener.as_ref().and_then(|l| l.local_addr().ok());
    if !args.quiet {
        eprintln!(
            "evbench: tracing {} ({} at start; probes {}){}; Ctrl-C ends",
            describe(&named),
            plural(threads as u64, "thread", "threads"),
            status.sets,
            served.map_or_else(String::new, |a| format!("; metrics on http://{a}/metrics"))
        );
    }
    let interval = args
        .interval
        .or(args.interval_json.as_ref().map(|_| Duration::from_secs(1)));
    let case_id = format!("trace/{}", variant(args, &named));

    // The session's loop: ends when the command exits, every --pid has exited, a
    // signal arrived (pid mode) or --duration is over. Interval figures are
    // differences of cumulative reads taken while counting goes on (nothing pauses),
    // and the /metrics responder reads the same way from its own thread.
    let rates = nop.as_ref().ok();
    let mut intervals: Vec<Interval> = Vec::new();
    let mut prev: Option<Kernel> = None;
    let mut last_cut = Duration::ZERO;
    let mut cpu_at_cut = 0;
    let mut exit = None;
    let mut signalled = false;
    let mut ended_by = "";
    // An output that could not be written (the interval stream, then -o).
    let mut failed = false;
    // The last figures served: counters a scrape sees never go down (see `raise`), or
    // Prometheus would take it for a restart.
    let served_last: std::sync::Mutex<Option<Kernel>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| -> Result<(), Fail> {
        let server = match listener {
            Some(l) => Some(
                export::prometheus::serve(scope, l, || {
                    let k = probes.snapshot().map_err(|e| format!("{e:#}"))?;
                    let mut last = served_last.lock().map_err(|_| "poisoned".to_string())?;
                    let k = raise(k, last.as_ref());
                    let text = export::prometheus::exposition(&k, &case_id);
                    *last = Some(k);
                    Ok(text)
                })
                .map_err(|e| Fail(format!("--prometheus: {e}"), own))?,
            ),
            None => None,
        };
        let r = (|| -> Result<(), Fail> {
            loop {
                std::thread::sleep(TICK);
                let now = t0.elapsed();
                let sig = FORWARD.swap(0, Ordering::SeqCst);
                if let Some((c, _)) = &child {
                    if sig != 0 {
                        // SAFETY: signalling our own child.
                        unsafe { libc::kill(c.pid, sig) };
                    }
                    if c.exited() {
                        if let Some(code) = c.try_wait() {
                            exit = Some(code);
                            ended_by = "the command exited";
                            return Ok(());
                        }
                    }
                } else if SIGNALS.load(Ordering::SeqCst) > 0 {
                    signalled = true;
                    ended_by = "interrupted";
                    return Ok(());
                } else {
                    // --cgroup and --comm targets may still appear: those sessions run
                    // until a signal or --duration.
                    if args.cgroup.is_none()
                        && args.comm.is_none()
                        && !args.pids.iter().any(|&p| process_alive(p))
                    {
                        ended_by = "every target exited";
                        return Ok(());
                    }
                }
                if args.duration.is_some_and(|d| now >= d) {
                    ended_by = "--duration is over";
                    return Ok(());
                }
                if let Some(iv) = interval {
                    if now >= last_cut + iv {
                        let k = raise(probes.snapshot().map_err(fail)?, prev.as_ref());
                        let d = minus(&k, prev.as_ref());
                        let c = cpu.of(&k);
                        emit_interval(args, &mut jsonl, &mut failed, now, now - last_cut, &d);
                        intervals.push(Interval::new(
                            last_cut,
                            now - last_cut,
                            d,
                            c.saturating_sub(cpu_at_cut),
                            rates,
                        ));
                        prev = Some(k);
                        last_cut = now;
                        cpu_at_cut = c;
                    }
                }
            }
        })();
        if let Some(sv) = server {
            sv.stop();
        }
        r
    })?;
    if child.is_some() && SIGNALS.load(Ordering::SeqCst) > 0 {
        signalled = true;
    }
    let end = t0.elapsed();
    probes.measuring(false);
    let total = probes.collect().map_err(fail)?;
    let cpu_end = cpu.of(&total);
    if interval.is_some() {
        let d = minus(&total, prev.as_ref());
        emit_interval(args, &mut jsonl, &mut failed, end, end - last_cut, &d);
        intervals.push(Interval::new(
            last_cut,
            end - last_cut,
            d,
            cpu_end.saturating_sub(cpu_at_cut),
            rates,
        ));
    } else {
        intervals.push(Interval::new(
            Duration::ZERO,
            end,
            total.clone(),
            cpu_end,
            rates,
        ));
    }
    for n in probes.take_notes() {
        output::warn(&n);
    }
    let unmatched = unmatched(&probes, &named);
    for n in &unmatched {
        output::warn(n);
    }
    // Everything is detached and unloaded before the report is written.
    drop(probes);

    if let Err(e) = &nop {
        output::warn(&format!("no estimate of the session's own cost: {e}"));
    }
    let mut doc = document(
        args,
        &named,
        &status,
        &intervals,
        started_unix,
        &noise,
        signalled,
    );
    doc.warnings.extend(unmatched);
    if intervals.len() > 1 {
        doc.warnings.push(
            "intervals are differences of cumulative reads taken while counting went on (no pause): the CPUs' maps are read one after another, so an event at an interval's edge may be counted in the neighbouring interval; the intervals add up to the session's totals".into(),
        );
    }
    let cost = rates.map(|r| SessionCost::of(&total, r, cpu_end));
    // A file that cannot be written: one line naming it, the report still shown and
    // the document kept, as `evbench run -o` does (the same code); exit 2 (see below).
    let jsonl_on_stdout = args.interval_json.as_deref() == Some(Path::new("-"));
    let mut kept = Kept::Written;
    if let Some(p) = &args.output {
        let (k, e) = write_document(&doc, p, args.json, child.is_none() && !jsonl_on_stdout);
        kept = k;
        if let Some(e) = e {
            eprintln!(
                "evbench: error: {}",
                crate::errors::without_errno(e.to_string())
            );
            failed = true;
        }
    }
    if args.json || kept == Kept::InsteadOfReport {
        let _ = std::io::stdout()
            .lock()
            .write_all(doc.to_json().unwrap_or_default().as_bytes());
    }
    if !args.json && !args.quiet {
        let text = report(&doc, &total, cost.as_ref(), ended_by, end);
        // The command's stdout is its own: the report goes to stderr in command mode.
        // So does it when stdout carries the --interval-json lines or the results
        // document (one format there).
        if child.is_some() || jsonl_on_stdout || kept == Kept::InsteadOfReport {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    if let Some((c, _)) = &child {
        // --duration ended the session, not the command: it keeps running, and its
        // status is still ours.
        let code = exit.unwrap_or_else(|| c.wait_forwarding());
        return Ok(if failed && code == 0 {
            EXIT_FAILED
        } else {
            code
        });
    }
    // Ctrl-C is how a --pid session normally ends: not a failure. An output not
    // written is 2, as for `evbench run`.
    Ok(if failed { EXIT_OUTPUT } else { 0 })
}

/// One interval of the session (the whole session without --interval): where it
/// starts and how long it lasts (since the session began), the probes' figures of it,
/// and the targets' CPU time in it (ns, [`CpuMeter`]).
struct Interval {
    start: Duration,
    len: Duration,
    kernel: Kernel,
    targets_cpu_ns: u64,
    /// The session's own cost in it (none without a nop calibration).
    cost: Option<SessionCost>,
}

impl Interval {
    fn new(
        start: Duration,
        len: Duration,
        kernel: Kernel,
        targets_cpu_ns: u64,
        rates: Option<&BTreeMap<String, f64>>,
    ) -> Self {
        let cost = rates.map(|r| SessionCost::of(&kernel, r, targets_cpu_ns));
        Self {
            start,
            len,
            kernel,
            targets_cpu_ns,
            cost,
        }
    }
}

/// The targets' CPU time (ns): for every thread the probes held as a target, its
/// `se.sum_exec_runtime` (the scheduler's exact ns on CPU, kernel/sched/fair.c
/// `update_curr`) at the end minus at its start — the window's opening for a thread
/// that was a target then (`/proc/TID/schedstat`, read here), else when the kernel made
/// it one (`ThreadSched::base_ns`: 0 for a child followed at fork). The end is
/// `/proc/TID/schedstat` while it lives; for a thread that exited, the value the
/// kernel kept at its last switch-out (`ThreadSched::runtime_ns`, exact there), so
/// exited threads count whatever the target kind (`--pid`, `--cgroup`, `--comm`, a
/// command). Chosen over utime+stime (whole 10 ms ticks per process, gone once a
/// thread is reaped) and over the probes' own on-CPU sums (a thread alone on a CPU
/// may not switch for seconds). What it leaves out: a thread adopted while running is
/// charged from its runtime's last update (at most one tick earlier); with a probe
/// set that attaches no sched_switch (`--probes wakestacks` alone on --pid or a
/// command) nothing is kept at exit, so a thread that exited adds nothing.
struct CpuMeter {
    /// The window's start per thread that was a target then (`None`: it had already
    /// exited, so none of its time is in the window).
    base: BTreeMap<u32, Option<u64>>,
}

/// `se.sum_exec_runtime` of thread `tid` (the first field of /proc/TID/schedstat, ns).
fn schedstat_ns(tid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{tid}/schedstat"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl CpuMeter {
    /// Takes every current target's runtime as the window opens.
    fn start(probes: &Probes) -> Self {
        let base = probes
            .target_labels()
            .unwrap_or_default()
            .into_iter()
            .map(|(tid, _)| (tid, schedstat_ns(tid)))
            .collect();
        Self { base }
    }

    /// The targets' CPU time from the window's start to now, for a cumulative read `k`
    /// of the probes (which lists every target: `Probes::list_followed`).
    fn of(&self, k: &Kernel) -> u64 {
        k.threads
            .iter()
            .map(|t| {
                let base = match self.base.get(&t.tid) {
                    Some(Some(b)) => *b,
                    Some(None) => return 0,
                    None => t.base_ns,
                };
                let end = if t.exited {
                    t.runtime_ns
                } else {
                    schedstat_ns(t.tid).map_or(t.runtime_ns, |v| v.max(t.runtime_ns))
                };
                end.saturating_sub(base)
            })
            .sum()
    }
}

/// Each nop program's ns per run by tracepoint name (`sched_switch` for
/// `nop_sched_switch`): issue 10's calibration (`probes::calibrate`) with a short
/// pipe ping-pong between two of evbench's threads as the work (any event on the
/// machine runs the empty programs). Errors: BPF statistics cannot be turned on, or
/// the nop programs do not load (one line).
fn nop_rates() -> Result<BTreeMap<String, f64>, String> {
    let sets = ProbeSets::NONE.with(ProbeSet::Nop);
    let rates = calibrate(sets, &ProbeOptions::default(), &mut |_| pingpong(500))
        .map_err(|e| format!("{e:#}"))?;
    let out: BTreeMap<String, f64> = rates
        .into_iter()
        .filter_map(|r| Some((r.program.strip_prefix("nop_")?.to_string(), r.ns_per_run?)))
        .collect();
    if out.is_empty() {
        return Err("the nop calibration ran no program".into());
    }
    Ok(out)
}

/// `rounds` one-byte round trips over a socket pair between this thread and a new one.
fn pingpong(rounds: u32) -> Result<()> {
    use std::io::Read;
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut c = [0u8];
        for _ in 0..rounds {
            b.read_exact(&mut c)?;
            b.write_all(&c)?;
        }
        Ok(())
    });
    let mut c = [1u8];
    for _ in 0..rounds {
        a.write_all(&c)?;
        a.read_exact(&mut c)?;
    }
    echo.join()
        .map_err(|_| anyhow::anyhow!("the calibration's echo thread panicked"))??;
    Ok(())
}

/// The session's own cost, an ESTIMATE: for each program, the runs that passed the
/// target filter while counting (`TARGET_RUNS`: the targets' events it handled) × the
/// ns per run of its empty twin from the nop calibration ([`nop_rates`]); as CPU time
/// and as a share of the targets' CPU time ([`CpuMeter`]). Every program counts its
/// target runs (sys_enter, fork, exec and rename included). Left out, so it is a
/// floor: the programs' work beyond an empty program's (results/bench-overhead.md
/// measured 1.1–2.2x nop's ns per run for the per-event programs), and their runs on
/// other threads' events, which the filter drops but which cost too.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionCost {
    /// Always true: the figures are estimated, not measured.
    pub estimate: bool,
    pub basis: &'static str,
    /// Per program: (name, target events, nop ns per run, estimated CPU ns).
    pub programs: Vec<ProgramCostEstimate>,
    /// The estimated CPU time, ns: exactly the sum of the programs' `cpu_ns`.
    pub cpu_ns: u64,
    pub targets_cpu_ns: u64,
    /// `cpu_ns` as a percentage of `targets_cpu_ns` (none when that is 0).
    pub share_pct: Option<f64>,
}

/// One program's part of [`SessionCost`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProgramCostEstimate {
    pub program: String,
    /// Runs that passed the target filter while counting.
    pub events: u64,
    /// Its nop twin's ns per run (none: no nop twin, e.g. kfunc's fentry/fexit).
    pub nop_ns_per_run: Option<f64>,
    /// `events` × `nop_ns_per_run`, rounded to whole ns (0 without a nop twin), so the
    /// rows add up to [`SessionCost::cpu_ns`] exactly.
    pub cpu_ns: u64,
    /// `cpu_ns` as a percentage of the targets' CPU time (none when that is 0).
    pub share_pct: Option<f64>,
}

const COST_BASIS: &str = "estimate: target events per program x that program's nop twin's ns per run (calibrated at the session's start with BPF statistics on); leaves out the programs' work beyond an empty program's and their runs on other threads' events";

impl SessionCost {
    /// The estimate for the figures `k` and the targets' CPU time in the same span.
    pub fn of(k: &Kernel, rates: &BTreeMap<String, f64>, targets_cpu_ns: u64) -> Self {
        let share =
            |ns: u64| (targets_cpu_ns > 0).then(|| 100.0 * ns as f64 / targets_cpu_ns as f64);
        let programs: Vec<ProgramCostEstimate> = k
            .programs
            .iter()
            .map(|p| {
                let name = p.program.strip_prefix("nop_").unwrap_or(&p.program);
                let ns = rates.get(name).copied();
                let cpu_ns = ns.map_or(0, |ns| (ns * p.target_runs as f64).round() as u64);
                ProgramCostEstimate {
                    program: p.program.clone(),
                    events: p.target_runs,
                    nop_ns_per_run: ns,
                    cpu_ns,
                    share_pct: share(cpu_ns),
                }
            })
            .collect();
        let cpu_ns = programs.iter().map(|p| p.cpu_ns).sum();
        Self {
            estimate: true,
            basis: COST_BASIS,
            programs,
            cpu_ns,
            targets_cpu_ns,
            share_pct: share(cpu_ns),
        }
    }
}

/// Raises the who-woke-whom counts of a cumulative read `cur` to at least those of the
/// previous one `prev` (and the threads' wakeups with them). A read taken while the
/// kernel moves a pair from its per-CPU cache to the hash can miss that pair's count
/// (see `Probes::snapshot`); every other figure only grows between reads. So an
/// interval never goes negative, and the intervals still add up to the final read,
/// which is taken with counting stopped.
fn raise(mut cur: Kernel, prev: Option<&Kernel>) -> Kernel {
    let Some(p) = prev else {
        return cur;
    };
    for o in &p.woke {
        match cur
            .woke
            .iter()
            .position(|w| w.waker_tid == o.waker_tid && w.wakee_tid == o.wakee_tid)
        {
            Some(i) => cur.woke[i].count = cur.woke[i].count.max(o.count),
            None => cur.woke.push(o.clone()),
        }
    }
    for t in &mut cur.threads {
        let woken: u64 = cur
            .woke
            .iter()
            .filter(|w| w.wakee_tid == t.tid)
            .map(|w| w.count)
            .sum();
        t.wakeups = t.wakeups.max(woken);
    }
    cur
}

fn describe(named: &[Named]) -> String {
    named
        .iter()
        .map(|n| match n {
            Named::Pid { pid, comm } => format!("pid {pid} ({comm})"),
            Named::Command { argv } => format!("`{}`", argv.join(" ")),
            Named::Cgroup(cg) => format!("cgroup {}", cg.path.display()),
            Named::Comm(c) => format!("comm {c}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The case id's last part: `--name`, else `cmd=ARGV0` (its file name), `comm=NAME`
/// (`--comm`), `cgroup=PATH` (`--cgroup`, canonical) or `comm=COMM` of the --pid
/// targets, in that order (never a pid: ids must match across sessions).
fn variant(args: &TraceArgs, named: &[Named]) -> String {
    if let Some(n) = &args.name {
        return n.clone();
    }
    let cmd = named.iter().find_map(|n| match n {
        Named::Command { argv } => Some(
            Path::new(&argv[0])
                .file_name()
                .map_or(argv[0].clone(), |f| f.to_string_lossy().into_owned()),
        ),
        _ => None,
    });
    if let Some(c) = cmd {
        return format!("cmd={c}");
    }
    for n in named {
        if let Named::Comm(c) = n {
            return format!("comm={c}");
        }
    }
    for n in named {
        if let Named::Cgroup(cg) = n {
            return format!("cgroup={}", cg.path.display());
        }
    }
    // Sorted and deduplicated: the same processes named in another order (or twice)
    // are the same case.
    let comms: std::collections::BTreeSet<&str> = named
        .iter()
        .filter_map(|n| match n {
            Named::Pid { comm, .. } => Some(comm.as_str()),
            _ => None,
        })
        .collect();
    format!("comm={}", comms.into_iter().collect::<Vec<_>>().join("+"))
}

fn hist_sub(c: &Option<KernelHist>, p: Option<&Option<KernelHist>>) -> Option<KernelHist> {
    let c = c.as_ref()?;
    let mut h = c.hist.clone();
    if let Some(Some(p)) = p {
        // The maps only grow, so every bucket of `p` is in `c`.
        let _ = h.subtract(&p.hist);
    }
    (!h.is_empty()).then(|| KernelHist {
        summary: HistSummary::of(&h),
        hist: h,
    })
}

/// An empty histogram with `h`'s precision.
fn empty_like(h: &KernelHist) -> KernelHist {
    let mut e = h.hist.clone();
    e.reset();
    KernelHist {
        summary: HistSummary::of(&e),
        hist: e,
    }
}

/// The figures of `cur` (cumulative) minus those of `prev` (cumulative, earlier, passed
/// through [`raise`]): one interval. Counts, histogram cells and program run counts are
/// subtracted; a thread first seen in `cur` counts whole.
pub fn minus(cur: &Kernel, prev: Option<&Kernel>) -> Kernel {
    let Some(p) = prev else {
        return cur.clone();
    };
    let threads = cur
        .threads
        .iter()
        .map(|t| {
            let o = p.threads.iter().find(|o| o.tid == t.tid);
            let s = |f: fn(&ThreadFigures) -> u64| f(t).saturating_sub(o.map_or(0, f));
            ThreadFigures {
                tid: t.tid,
                role: t.role,
                comm: t.comm.clone(),
                voluntary: s(|x| x.voluntary),
                involuntary: s(|x| x.involuntary),
                oncpu_ns: s(|x| x.oncpu_ns),
                wakeups: s(|x| x.wakeups),
                syscalls: s(|x| x.syscalls),
                unpaired: s(|x| x.unpaired),
                wakeups_unpaired: s(|x| x.wakeups_unpaired),
                runtime_ns: t.runtime_ns,
                base_ns: t.base_ns,
                exited: t.exited,
            }
        })
        // A thread idle all interval (or long gone) is left out of it.
        .filter(|t| {
            t.voluntary + t.involuntary + t.oncpu_ns + t.wakeups + t.syscalls + t.unpaired > 0
        })
        .collect();
    let syscalls = cur
        .syscalls
        .iter()
        .filter_map(|s| {
            let o = p.syscalls.iter().find(|o| o.nr == s.nr);
            let count = s.count.saturating_sub(o.map_or(0, |o| o.count));
            if count == 0 {
                return None;
            }
            let per_thread = s
                .per_thread
                .iter()
                .map(|&(tid, n)| {
                    let was = o
                        .and_then(|o| o.per_thread.iter().find(|x| x.0 == tid))
                        .map_or(0, |x| x.1);
                    (tid, n.saturating_sub(was))
                })
                .filter(|x| x.1 > 0)
                .collect();
            let sampled = s.sampled.saturating_sub(o.map_or(0, |o| o.sampled));
            // An interval whose calls were all untimed (1 in --syscall-sample is) keeps
            // its exact count beside an empty histogram.
            let sub = |c: &KernelHist, p: Option<&KernelHist>| {
                hist_sub(&Some(c.clone()), p.map(|p| Some(p.clone())).as_ref())
                    .unwrap_or_else(|| empty_like(c))
            };
            Some(SyscallFigures {
                nr: s.nr,
                name: s.name.clone(),
                count,
                sampled,
                per_thread,
                latency_ns: sub(&s.latency_ns, o.map(|o| &o.latency_ns)),
                oncpu_ns: sub(&s.oncpu_ns, o.map(|o| &o.oncpu_ns)),
            })
        })
        .collect();
    let woke = cur
        .woke
        .iter()
        .filter_map(|w| {
            let was = p
                .woke
                .iter()
                .find(|o| o.waker_tid == w.waker_tid && o.wakee_tid == w.wakee_tid)
                .map_or(0, |o| o.count);
            let count = w.count.saturating_sub(was);
            (count > 0).then(|| WokeFigures { count, ..w.clone() })
        })
        .collect();
    Kernel {
        threads,
        wakeup_same_cpu_ns: hist_sub(&cur.wakeup_same_cpu_ns, Some(&p.wakeup_same_cpu_ns)),
        wakeup_cross_cpu_ns: hist_sub(&cur.wakeup_cross_cpu_ns, Some(&p.wakeup_cross_cpu_ns)),
        offcpu_ns: hist_sub(&cur.offcpu_ns, Some(&p.offcpu_ns)),
        kfunc_ns: hist_sub(&cur.kfunc_ns, Some(&p.kfunc_ns)),
        syscalls,
        woke,
        // Stacks are reported for the whole session only.
        wake_stacks: Vec::new(),
        window_ns: cur.window_ns.saturating_sub(p.window_ns),
        programs: cur
            .programs
            .iter()
            .map(|c| {
                let o = p.programs.iter().find(|o| o.program == c.program);
                let s = |f: fn(&ProgramCost) -> u64| f(c).saturating_sub(o.map_or(0, f));
                ProgramCost {
                    runs: s(|x| x.runs),
                    target_runs: s(|x| x.target_runs),
                    recursion_misses: s(|x| x.recursion_misses),
                    drops: s(|x| x.drops),
                    ..c.clone()
                }
            })
            .collect(),
        rare_events: cur
            .rare_events
            .iter()
            .map(|(&k, &n)| (k, n.saturating_sub(p.rare(k))))
            .collect(),
        ..cur.clone()
    }
}

/// Wakeup latency of an interval, same and cross CPU merged.
fn wakeup_hist(k: &Kernel) -> Option<hdrhistogram::Histogram<u64>> {
    let mut h: Option<hdrhistogram::Histogram<u64>> = None;
    for x in [&k.wakeup_same_cpu_ns, &k.wakeup_cross_cpu_ns]
        .into_iter()
        .flatten()
    {
        match &mut h {
            Some(h) => {
                let _ = h.add(&x.hist);
            }
            None => h = Some(x.hist.clone()),
        }
    }
    h
}

/// Time spent in one syscall (ns): the mean latency of its *timed* calls (1 in
/// `--syscall-sample` per thread beyond the first calls, `SyscallFigures::sampled`)
/// times its *exact* count; `None` when no call of it was timed (an estimate from no
/// sample would be a made-up figure, and 0 would read as measured).
pub fn syscall_total_ns(s: &SyscallFigures) -> Option<f64> {
    let h = &s.latency_ns.hist;
    (!h.is_empty()).then(|| h.mean() * s.count as f64)
}

/// Syscalls by total time spent in them ([`syscall_total_ns`]), longest first; the
/// untimed ones (no total) follow, most called first, so none is silently dropped
/// before the `n` are chosen.
pub fn top_syscalls(syscalls: &[SyscallFigures], n: usize) -> Vec<(&SyscallFigures, Option<f64>)> {
    let mut v: Vec<(&SyscallFigures, Option<f64>)> =
        syscalls.iter().map(|s| (s, syscall_total_ns(s))).collect();
    v.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.0.count.cmp(&a.0.count),
    });
    v.truncate(n);
    v
}

/// One syscall of a top list: `NAME COUNT (total T, p99 P)` with the exact count, or
/// `NAME COUNT (untimed)` when none of its calls was timed.
fn top_entry(s: &SyscallFigures, total: Option<f64>) -> String {
    match total {
        Some(t) => format!(
            "{} {} (total {}, p99 {})",
            s.name,
            count(s.count),
            ns(t),
            ns(s.latency_ns.summary.p99 as f64)
        ),
        None => format!("{} {} (untimed)", s.name, count(s.count)),
    }
}

enum JsonLines {
    Stdout,
    File(std::fs::File),
}

/// One interval: compact lines on stderr (unless -q) and one JSON line. A line that
/// cannot be written ends the stream: the error is printed at once (one line naming
/// the file and the cause), `failed` is set (the session goes on and exits
/// [`EXIT_OUTPUT`], or [`EXIT_FAILED`] in the command mode), and no further line is
/// tried.
fn emit_interval(
    args: &TraceArgs,
    jsonl: &mut Option<JsonLines>,
    failed: &mut bool,
    at: Duration,
    len: Duration,
    k: &Kernel,
) {
    if !args.quiet && args.interval.is_some() {
        for line in interval_lines(at, k) {
            eprintln!("{line}");
        }
    }
    if let Some(out) = jsonl {
        let mut line = interval_json(at, len, k).to_string();
        line.push('\n');
        // One write per line, so a reader never sees half a line.
        let r = match out {
            JsonLines::Stdout => {
                let mut o = std::io::stdout().lock();
                o.write_all(line.as_bytes()).and_then(|()| o.flush())
            }
            JsonLines::File(f) => {
                // A line cut short (the disk filled mid-line) is taken back, so the file
                // keeps whole lines only; not possible (nor needed) on a FIFO or device.
                let before = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                let r = f.write_all(line.as_bytes()).and_then(|()| f.flush());
                if let (Err(_), Some(len)) = (&r, before) {
                    let _ = f.set_len(len);
                }
                r
            }
        };
        if let Err(e) = r {
            let what = match (&*out, &args.interval_json) {
                (JsonLines::File(_), Some(p)) => p.display().to_string(),
                _ => "stdout".into(),
            };
            eprintln!(
                "evbench: error: --interval-json: cannot write {what}: {}; no more interval lines (the session goes on)",
                files::cause(&e)
            );
            // A stream that never got a whole line leaves no empty file behind.
            if let (JsonLines::File(f), Some(p)) = (&*out, &args.interval_json) {
                if f.metadata().is_ok_and(|m| m.is_file() && m.len() == 0) {
                    let _ = std::fs::remove_file(p);
                }
            }
            *failed = true;
            *jsonl = None;
        }
    }
}

/// The compact per-interval lines, one per probe set that saw something (the shape of
/// bcc's `runqlat 1` and `syscount -i 1`, one line each).
pub fn interval_lines(at: Duration, k: &Kernel) -> Vec<String> {
    let t = format!("[{:>7.1}s]", at.as_secs_f64());
    let mut out = Vec::new();
    let wake = wakeup_hist(k);
    if k.sets.contains("wakeup") {
        out.push(match &wake {
            Some(h) => format!(
                "{t} wakeup   {:>9} {}  p50 {:>8}  p99 {:>8}  max {:>8}",
                count(h.len()),
                if h.len() == 1 { "wakeup " } else { "wakeups" },
                ns(h.value_at_quantile(0.5) as f64),
                ns(h.value_at_quantile(0.99) as f64),
                ns(h.max() as f64)
            ),
            None => format!("{t} wakeup   {:>9} wakeups", 0),
        });
    }
    if k.sets.contains("offcpu") {
        let p99 = k
            .offcpu_ns
            .as_ref()
            .map_or_else(|| "-".into(), |h| ns(h.summary.p99 as f64));
        out.push(format!(
            "{t} offcpu   {:>9} blocked  p99 {:>8}  switches {} voluntary, {} involuntary",
            count(k.offcpu_ns.as_ref().map_or(0, |h| h.summary.count)),
            p99,
            count(k.voluntary()),
            count(k.involuntary())
        ));
    }
    if k.sets.contains("syscalls") {
        let top: Vec<String> = top_syscalls(&k.syscalls, 5)
            .into_iter()
            .map(|(s, t)| top_entry(s, t))
            .collect();
        out.push(format!(
            "{t} syscalls {:>9} {}    top by total time (timed mean × exact count): {}",
            count(k.syscall_count()),
            if k.syscall_count() == 1 {
                "call "
            } else {
                "calls"
            },
            top.join(", ")
        ));
    }
    out
}

fn pct(h: &HistSummary) -> Value {
    json!({"count": h.count, "p50": h.p50, "p99": h.p99, "max": h.max})
}

/// One interval as a JSON object (one line of --interval-json): `t_s` (end, seconds
/// since the session started), `interval_s`, counts (`wakeups`, `voluntary`,
/// `involuntary`, `syscalls`, `unpaired` blocked intervals, `wakeups_unpaired`: wakeups
/// with no latency, kept out of `wakeup_ns`), `wakeup_ns` / `offcpu_ns` (`{count, p50,
/// p99, max}`), and
/// `syscall.NAME` (`{count, timed, p99_ns, total_ns}`: `count` exact, `timed` the calls
/// whose latency was measured, `p99_ns` from those, `total_ns` their mean × `count`
/// ([`syscall_total_ns`]); both `null` when `timed` is 0).
pub fn interval_json(at: Duration, len: Duration, k: &Kernel) -> Value {
    let wake = wakeup_hist(k).map(|h| pct(&HistSummary::of(&h)));
    let sys: BTreeMap<String, Value> = k
        .syscalls
        .iter()
        .map(|s| {
            let total = syscall_total_ns(s);
            (
                s.name.clone(),
                json!({"count": s.count, "timed": s.latency_ns.hist.len(),
                       "p99_ns": total.map(|_| s.latency_ns.summary.p99),
                       "total_ns": total.map(|t| t.round() as u64)}),
            )
        })
        .collect();
    json!({
        "t_s": at.as_secs_f64(),
        "interval_s": len.as_secs_f64(),
        "wakeups": k.wakeups(),
        "voluntary": k.voluntary(),
        "involuntary": k.involuntary(),
        "syscalls": k.syscall_count(),
        "unpaired": k.unpaired(),
        "wakeups_unpaired": k.wakeups_unpaired(),
        "drops": k.drops(),
        "wakeup_ns": wake,
        "offcpu_ns": k.offcpu_ns.as_ref().map(|h| pct(&h.summary)),
        "syscall": sys,
    })
}

/// The results document: one case `trace/VARIANT`, each interval a repeat (the whole
/// session one repeat without --interval), kernel figures under the names `evbench run`
/// uses (`engine::kernel::record_kernel`) plus rates and p99s as metrics.
fn document(
    args: &TraceArgs,
    named: &[Named],
    status: &crate::engine::ProbeStatus,
    intervals: &[Interval],
    started_unix: f64,
    noise: &NoiseMeter,
    interrupted: bool,
) -> RunResult {
    let mut doc = RunResult::new(
        std::env::args().collect(),
        json!({
            "workload": "trace",
            "repeat": intervals.len(),
            "probes": status.sets,
            "kfunc": args.kfunc,
            "interval_s": args.interval.map(|d| d.as_secs_f64()),
            "duration_s": args.duration.map(|d| d.as_secs_f64()),
            // Pids live here, never in a case id or its options (they differ per session).
            "pids": args.pids,
        }),
        status.state(),
        OBJECT,
    );
    doc.started_unix = started_unix;
    doc.interrupted = interrupted;
    let mut case = Case::new("trace", None, None, Some(&variant(args, named)));
    if let Some(Named::Command { argv }) = named.iter().find(|n| matches!(n, Named::Command { .. }))
    {
        case.option("command", argv);
    }
    let comms: Vec<&str> = named
        .iter()
        .filter_map(|n| match n {
            Named::Pid { comm, .. } => Some(comm.as_str()),
            _ => None,
        })
        .collect();
    if !comms.is_empty() {
        case.option("comm", comms);
    }
    for n in named {
        match n {
            Named::Cgroup(cg) => {
                case.option("cgroup", cg.path.display().to_string());
            }
            Named::Comm(c) => {
                case.option("comm_match", c);
            }
            _ => {}
        }
    }
    case.option("interval_s", args.interval.map(|d| d.as_secs_f64()));
    for iv in intervals {
        let (len, k) = (&iv.len, &iv.kernel);
        let mut r = Repeat::new(*len);
        r.started_at(iv.start);
        record_kernel(&mut r, k, 0);
        r.counter("targets.cpu_ns", iv.targets_cpu_ns);
        if let Some(cost) = &iv.cost {
            // Labelled as what it is in the name, the unit and the details.
            r.metric(
                "session_cost_estimate_ns",
                Metric::neither("ns (estimate)"),
                cost.cpu_ns as f64,
            );
            if let Some(pct) = cost.share_pct {
                r.metric(
                    "session_cost_estimate_pct",
                    Metric::neither("% of targets' CPU (estimate)"),
                    pct,
                );
            }
            r.detail("session_cost_estimate", cost);
        }
        let secs = len.as_secs_f64().max(1e-9);
        r.metric(
            "wakeups_per_s",
            Metric::neither("wakeups/s"),
            k.wakeups() as f64 / secs,
        );
        r.metric(
            "syscalls_per_s",
            Metric::neither("syscalls/s"),
            k.syscall_count() as f64 / secs,
        );
        r.metric(
            "switches_per_s",
            Metric::neither("switches/s"),
            (k.voluntary() + k.involuntary()) as f64 / secs,
        );
        if let Some(h) = wakeup_hist(k) {
            r.metric(
                "wakeup_p99_ns",
                Metric::lower("ns"),
                h.value_at_quantile(0.99) as f64,
            );
        }
        if let Some(h) = &k.offcpu_ns {
            r.metric("offcpu_p99_ns", Metric::lower("ns"), h.summary.p99 as f64);
        }
        case.push_repeat(r);
    }
    if intervals.len() == 1 {
        doc.warnings.push(
            "one repeat (no --interval): `compare` has no spread to judge this trace by".into(),
        );
    }
    doc.push_case(case);
    doc.finish(noise.finish());
    doc
}

/// The final report: the document's tables and histograms, then the kernel section of
/// the whole session (per-thread table, who woke whom, drops and unpaired counts).
fn report(
    doc: &RunResult,
    total: &Kernel,
    cost: Option<&SessionCost>,
    ended_by: &str,
    end: Duration,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nevbench trace: {:.1}s, ended because {ended_by}\n",
        end.as_secs_f64()
    ));
    out.push_str(&export::terminal::render(doc));
    let mut k = Vec::new();
    // BPF statistics are off while tracing: the measured program table would read 0;
    // the estimate table below replaces it.
    let _ = crate::output::kernel::print_with(&mut k, total, 0, "", false);
    out.push_str(&String::from_utf8_lossy(&k));
    if total.sets.contains("syscalls") && !total.syscalls.is_empty() {
        let top: Vec<String> = top_syscalls(&total.syscalls, 5)
            .into_iter()
            .map(|(s, t)| top_entry(s, t))
            .collect();
        out.push_str(&format!(
            "  top syscalls by total time (mean of the timed calls × exact count): {}\n",
            top.join(", ")
        ));
    }
    out.push_str(&format!(
        "  totals: {}, {}, switches {} voluntary + {} involuntary, {}, {} unpaired\n",
        plural(total.wakeups(), "wakeup", "wakeups"),
        plural(total.syscall_count(), "syscall", "syscalls"),
        count(total.voluntary()),
        count(total.involuntary()),
        plural(total.drops(), "drop", "drops"),
        plural(total.unpaired(), "blocked interval", "blocked intervals"),
    ));
    if total.sets.contains("wakeup") {
        // wakeups = histogram samples + unpaired + pending (bench-ebpf wakeup.rs).
        out.push_str(&format!(
            "  wakeups: {} with a latency in the histograms, {} unpaired (no switch-in followed: no latency, not in the histograms), {} pending at the end\n",
            count(total.wakeup_samples()),
            count(total.wakeups_unpaired()),
            count(total.wakeups_pending)
        ));
    }
    out.push_str(&cost_table(total, cost));
    if let Some(c) = cost {
        let share = c
            .share_pct
            .map_or_else(|| "-".to_string(), |p| format!("{p:.2}%"));
        out.push_str(&format!(
            "  session's own cost (ESTIMATE): {} CPU time ({} ns, the sum of the rows above), {share} of the targets' {} CPU time (every traced thread's scheduler runtime in the session, exited ones included)
    basis: {}
",
            ns(c.cpu_ns as f64),
            count(c.cpu_ns),
            ns(c.targets_cpu_ns as f64),
            c.basis
        ));
    }
    out
}

/// The probe programs' table of the trace report: per program the target events it
/// handled (`TARGET_RUNS`, counted in the kernel), and with a nop calibration the
/// ESTIMATE built from them ([`SessionCost`]): the nop twin's ns per run, events × that
/// in whole ns, and its share of the targets' CPU time; then the lost events. The
/// estimated rows add up to the total line exactly. Without a calibration, "-".
pub fn cost_table(k: &Kernel, cost: Option<&SessionCost>) -> String {
    let mut out = format!(
        "    {:<20} {:>13} {:>12} {:>15} {:>10} {:>9} {:>6}\n",
        "probe program",
        "target events",
        "nop ns/run",
        "est. CPU ns",
        "est. share",
        "rec.miss",
        "drops"
    );
    let pct = |p: Option<f64>| p.map_or_else(|| "-".to_string(), |p| format!("{p:.2}%"));
    for p in &k.programs {
        let est = cost.and_then(|c| c.programs.iter().find(|e| e.program == p.program));
        let rate = est
            .and_then(|e| e.nop_ns_per_run)
            .map_or_else(|| "-".to_string(), |r| format!("{r:.2}"));
        let (cpu, share) = match est {
            Some(e) if e.nop_ns_per_run.is_some() => (count(e.cpu_ns), pct(e.share_pct)),
            _ => ("-".to_string(), "-".to_string()),
        };
        out.push_str(&format!(
            "    {:<20} {:>13} {:>12} {:>15} {:>10} {:>9} {:>6}\n",
            p.program,
            count(p.target_runs),
            rate,
            cpu,
            share,
            count(p.recursion_misses),
            count(p.drops)
        ));
    }
    if let Some(c) = cost {
        out.push_str(&format!(
            "    {:<20} {:>13} {:>12} {:>15} {:>10}   (ESTIMATE: target events x the nop twin's calibrated ns per run; BPF statistics are off while tracing)\n",
            "total (estimate)",
            "",
            "",
            count(c.cpu_ns),
            pct(c.share_pct)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(7 << 8), 7);
        assert_eq!(exit_code(libc::SIGKILL), 128 + 9);
    }

    #[test]
    fn resolve_finds_sh_and_not_nonsense() {
        assert!(resolve("sh").is_some());
        assert!(resolve("evbench-no-such-command-xyz").is_none());
        assert_eq!(resolve("./x"), Some(PathBuf::from("./x")));
    }

    #[test]
    fn the_command_mode_is_trace_with_a_command_after_dashes() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(is_command_mode(&v("trace --bogus -- sleep 1")));
        assert!(is_command_mode(&v("trace -d 1s -- sh -c true")));
        assert!(!is_command_mode(&v("trace --bogus --pid 1")));
        assert!(!is_command_mode(&v("trace --")));
        assert!(!is_command_mode(&v("run --bogus -- trace")));
    }

    #[test]
    fn only_signals_sent_to_evbench_end_a_command_session() {
        // The terminal's Ctrl-C (SI_KERNEL) is the command's business in command mode.
        assert!(!counts_as_ending(libc::SI_KERNEL, true));
        assert!(counts_as_ending(libc::SI_USER, true));
        assert!(counts_as_ending(libc::SI_QUEUE, true));
        assert!(counts_as_ending(libc::SI_TKILL, true));
        // Without a command, any SIGINT/SIGTERM ends the session.
        assert!(counts_as_ending(libc::SI_KERNEL, false));
        assert!(counts_as_ending(libc::SI_USER, false));
    }

    /// A syscall called `count` times of which the calls in `timed` (ns) were timed.
    fn figures(name: &str, count: u64, timed: &[u64]) -> SyscallFigures {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for &v in timed {
            h.record(v).unwrap();
        }
        let kh = KernelHist {
            summary: HistSummary::of(&h),
            hist: h,
        };
        SyscallFigures {
            nr: 0,
            name: name.into(),
            count,
            sampled: timed.len() as u64,
            per_thread: vec![(1, count)],
            latency_ns: kh.clone(),
            oncpu_ns: kh,
        }
    }

    #[test]
    fn total_time_is_the_timed_mean_times_the_exact_count() {
        // 1000 calls, 2 timed (100 and 300 ns): 200 ns × 1000, not 200 × 2.
        let s = figures("read", 1000, &[100, 300]);
        assert_eq!(syscall_total_ns(&s), Some(200_000.0));
        assert_eq!(syscall_total_ns(&figures("poll", 5, &[])), None);
    }

    #[test]
    fn the_top_list_ranks_by_exact_total_and_keeps_untimed_syscalls_last() {
        let v = vec![
            // Few timed calls but many calls: the longest in total (10 × 1000 ns).
            figures("read", 10, &[1000]),
            figures("write", 3, &[2000, 2000, 2000]),
            figures("poll", 50, &[]),
            figures("futex", 7, &[]),
        ];
        let top = top_syscalls(&v, 4);
        let names: Vec<&str> = top.iter().map(|(s, _)| s.name.as_str()).collect();
        assert_eq!(names, ["read", "write", "poll", "futex"]);
        assert_eq!(top[0].1, Some(10_000.0));
        assert_eq!(top[1].1, Some(6_000.0));
        assert_eq!(top_entry(top[2].0, top[2].1), "poll 50 (untimed)");
    }
}
