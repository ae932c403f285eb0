//! `run --user NAME`: each pass runs in a forked child that has become NAME
//! ([`crate::privdrop`]: uid, gid, groups, no capabilities, no_new_privs, NAME's HOME,
//! USER and LOGNAME, none of evbench's fds), while this process keeps the probes.
//!
//! The child runs the workload with a proxy [`Observer`]: every observer call (a task
//! started, the window opened or closed) crosses to this process over a socketpair and
//! waits for its acknowledgement, so a task is a probe target before it does measured
//! work, exactly as in-process. Only observer calls cross — a handful per pass, never
//! per operation. The window itself is still a store: the child keeps, across the
//! fork, the mapping of the probes' `CONTROL` word (a mapping, not an fd), and the
//! proxy flips it after the parent has taken its snapshot (opening) or before it asks
//! for the closing one, so neither the socket's syscalls nor the wakeup of the
//! acknowledgement land inside the window: a probed pass counts the same syscalls and
//! wakeups per operation as without `--user`. When the pass ends the child sends its
//! outcome (JSON) and exits; the parent builds the pass's figures from it with the same
//! code as in-process.
//!
//! The child dies with evbench (PR_SET_PDEATHSIG(SIGKILL), set after the drop, which
//! would clear it): a SIGKILLed evbench leaves no workload running on as NAME.
//!
//! The one fd the child keeps beyond 0–2 is its end of that socketpair (an unnamed,
//! connected AF_UNIX socket, never a listening one). Every other mapping of a BPF map
//! (the probes' log buffer) is unmapped in the child before it drops.
use std::{
    io::Read,
    os::{
        fd::{AsRawFd, FromRawFd},
        unix::net::UnixStream,
    },
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use anyhow::{anyhow, bail, Context, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use workloads::{stop::Stop, Observer, TaskInfo, WindowSwitch};

use crate::{privdrop::Plan, signal};

/// Exit status of a child whose parent went away mid-pass (nobody hears it).
const LOST: i32 = 125;

/// Largest message accepted (a pass's outcome is a few KiB).
const MAX_FRAME: usize = 64 << 20;

/// Environment hook for the tests: `EVBENCH_TEST_PAUSE=dropped` holds every pass's child
/// right after its drop, before the workload starts, until it gets SIGINT or SIGTERM.
pub const PAUSE_PHASE: &str = "dropped";

/// A message from the child.
#[derive(Serialize, Deserialize)]
enum Up {
    Task { tid: u32, index: u32, role: String },
    Window(bool),
    Done(Result<serde_json::Value, String>),
}

/// Runs one pass of a workload in a child that becomes `plan`'s user. `work` runs in
/// the child with the proxy observer and returns the workload's outcome (or its error,
/// one line); this process answers the proxy with `observer` (the probes in a probed
/// pass) and forwards a stop request (SIGINT or SIGTERM, as received) to the child.
/// Errors: the fork or socketpair failed, the drop failed (one line naming the step),
/// the workload failed, or the child died (how, and its pid).
pub fn pass<T: Serialize + DeserializeOwned>(
    plan: &Plan,
    observer: &dyn Observer,
    stop: &Stop,
    work: impl FnOnce(&dyn Observer, &Stop) -> Result<T, String>,
) -> Result<T> {
    // The window's word, when the parent has one: taken before the fork, so the child
    // inherits its mapping. The delegation is renewed before every window below.
    let switch = observer.delegate_window();
    let (ours, theirs) = UnixStream::pair().context("cannot create the pass's socketpair")?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child only runs the workload and exits with _exit; it never returns
    // into the caller's frames. Its allocations are safe: evbench has one thread here.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!(
            "cannot fork the pass's child: {}",
            std::io::Error::last_os_error()
        );
    }
    if pid == 0 {
        drop(ours);
        let code = child(plan, parent, theirs, switch, stop, work);
        // SAFETY: ends the child without running the parent's destructors or exit hooks.
        unsafe { libc::_exit(code) };
    }
    drop(theirs);
    let mut reaper = Reaper { pid, status: None };
    let outcome = serve(&ours, observer, switch.is_some(), &mut reaper, stop);
    if outcome.is_err() {
        // We cannot answer it any more: it would wait for us for ever.
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let status = reaper.wait();
    let who = format!("the workload's process (pid {pid}, user {})", plan.user());
    match outcome? {
        Some(Ok(v)) => serde_json::from_value(v)
            .with_context(|| format!("{who} sent an outcome that does not parse")),
        Some(Err(msg)) => Err(anyhow!("{msg}")),
        None => bail!("{who} {} before it finished", describe(status)),
    }
}

/// Answers the child's observer calls until it sends its outcome (`None`: it closed
/// the socket without one).
fn serve(
    sock: &UnixStream,
    observer: &dyn Observer,
    switched: bool,
    reaper: &mut Reaper,
    stop: &Stop,
) -> Result<Option<Result<serde_json::Value, String>>> {
    let pid = reaper.pid;
    let mut forwarded = false;
    let mut sock = sock;
    // Set once the child has ended: what it sent before is still read, then nothing
    // more can come (a task process it forked may still hold its socket open).
    let mut ended = false;
    loop {
        if stop.is_set() && !forwarded {
            // The terminal's Ctrl-C reached the child already (same process group); a
            // signal sent to evbench alone reaches it only this way.
            let sig = if signal::cause().0 == "terminated" {
                libc::SIGTERM
            } else {
                libc::SIGINT
            };
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, sig) };
            forwarded = true;
        }
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on our own socket.
        let n = unsafe { libc::poll(&mut pfd, 1, 20) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll on the pass's socket");
        }
        if n == 0 {
            if ended {
                return Ok(None);
            }
            ended = reaper.try_wait();
            continue;
        }
        let Some(msg) = read_frame::<Up>(&mut sock)? else {
            return Ok(None);
        };
        match msg {
            Up::Task { tid, index, role } => observer.task_started(&TaskInfo {
                tid,
                index,
                role: intern(&role),
            }),
            Up::Window(true) => {
                // The child flips the word itself once acknowledged: the probes only
                // take their opening snapshot here.
                if switched {
                    observer.delegate_window();
                }
                observer.measuring(true);
            }
            Up::Window(false) => observer.measuring(false),
            Up::Done(r) => return Ok(Some(r)),
        }
        // A child gone between its call and our answer is reported by its status.
        let _ = send_all(sock, &[1]);
    }
}

/// The child: adopts the environment, unmaps the probes' other maps, drops, arranges
/// to die with `parent` (evbench), and runs the workload; returns its exit status.
fn child<T: Serialize>(
    plan: &Plan,
    parent: libc::pid_t,
    sock: UnixStream,
    switch: Option<WindowSwitch>,
    stop: &Stop,
    work: impl FnOnce(&dyn Observer, &Stop) -> Result<T, String>,
) -> i32 {
    plan.adopt_environment();
    unmap_bpf_maps(switch);
    let sock = to_fd3(sock);
    let mut keep = [sock.as_raw_fd()];
    // SAFETY: a freshly forked child with one thread.
    if let Err(f) = unsafe { plan.apply(&mut keep) } {
        let _ = write_frame(&sock, &Up::Done(Err(f.message(plan.user()))));
        return 1;
    }
    // A pass whose evbench is gone (SIGKILLed: nothing forwards a stop any more) must
    // not run on as NAME to completion. Set after the drop, because a credential change
    // clears the parent-death signal (prctl(2), PR_SET_PDEATHSIG); then the parent is
    // checked, because it may have died before the prctl (we were reparented already).
    // SAFETY: prctl and getppid have no memory preconditions.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        ) != 0
            || libc::getppid() != parent
        {
            libc::_exit(LOST);
        }
    }
    signal::test_pause(PAUSE_PHASE, stop);
    let proxy = Proxy {
        sock: Mutex::new(sock),
        switch,
        workload_switch: AtomicBool::new(false),
    };
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&proxy, stop)))
        .unwrap_or_else(|_| Err("the workload panicked".into()))
        .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()));
    let sock = proxy.sock.into_inner().unwrap_or_else(|e| e.into_inner());
    match write_frame(&sock, &Up::Done(done)) {
        Ok(()) => 0,
        Err(_) => LOST,
    }
}

/// The socket moved to fd 3, right after stdin, stdout and stderr (whatever held fd 3
/// is one of evbench's and closed by the drop anyway); as it was if dup3 fails.
fn to_fd3(sock: UnixStream) -> UnixStream {
    const FD: i32 = 3;
    if sock.as_raw_fd() == FD {
        return sock;
    }
    // SAFETY: dup3 onto fd 3 of this single-threaded child; nothing of ours uses fd 3
    // after this (the drop closes every other fd from 3 up).
    if unsafe { libc::dup3(sock.as_raw_fd(), FD, libc::O_CLOEXEC) } != FD {
        return sock;
    }
    drop(sock);
    // SAFETY: fd 3 is now ours alone: a fresh duplicate of the socket.
    unsafe { UnixStream::from_raw_fd(FD) }
}

/// The observer the child's workload sees: each call crosses to the parent and waits
/// for its answer; the window's word is flipped here (see the module docs).
struct Proxy {
    sock: Mutex<UnixStream>,
    switch: Option<WindowSwitch>,
    /// The workload took the switch (`delegate_window`: its task flips it itself).
    workload_switch: AtomicBool,
}

impl Proxy {
    fn call(&self, msg: &Up) {
        let s = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let mut ack = [0u8];
        if write_frame(&s, msg).is_err() || (&*s).read_exact(&mut ack).is_err() {
            // The parent is gone: nobody measures or reports this pass any more.
            // SAFETY: ends this process at once.
            unsafe { libc::_exit(LOST) };
        }
    }

    fn own_switch(&self) -> Option<WindowSwitch> {
        self.switch
            .filter(|_| !self.workload_switch.load(Ordering::SeqCst))
    }
}

impl Observer for Proxy {
    fn task_started(&self, task: &TaskInfo) {
        self.call(&Up::Task {
            tid: task.tid,
            index: task.index,
            role: task.role.to_string(),
        });
    }

    fn measuring(&self, on: bool) {
        let own = self.own_switch();
        if on {
            self.call(&Up::Window(true));
            if let Some(s) = own {
                s.set(true);
            }
        } else {
            if let Some(s) = own {
                s.set(false);
            }
            self.call(&Up::Window(false));
            // As the probes do: closing the window ends a delegation.
            self.workload_switch.store(false, Ordering::SeqCst);
        }
    }

    fn delegate_window(&self) -> Option<WindowSwitch> {
        let s = self.switch?;
        self.workload_switch.store(true, Ordering::SeqCst);
        Some(s)
    }
}

/// Unmaps every mapping of a BPF map (`anon_inode:bpf-map` in /proc/self/maps) but the
/// one holding the window's word: the child keeps no view of the probes' other maps.
fn unmap_bpf_maps(switch: Option<WindowSwitch>) {
    let keep = switch.map(|s| s.addr());
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines().filter(|l| l.contains("anon_inode:bpf")) {
        let Some((range, _)) = line.split_once(' ') else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        if keep.is_some_and(|k| (a..b).contains(&k)) {
            continue;
        }
        // SAFETY: nothing in the child uses the probes' mappings (the probes live on in
        // the parent; the child never drops its copy of them).
        unsafe { libc::munmap(a as *mut libc::c_void, b - a) };
    }
}

/// How a reaped child ended, as a phrase ("was killed by signal 9 (SIGKILL)").
fn describe(status: Option<libc::c_int>) -> String {
    match status {
        Some(s) if libc::WIFSIGNALED(s) => {
            let sig = libc::WTERMSIG(s);
            // SAFETY: strsignal returns a static or thread-local string.
            let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) };
            format!("was killed by signal {sig} ({})", name.to_string_lossy())
        }
        Some(s) if libc::WIFEXITED(s) => format!("exited with status {}", libc::WEXITSTATUS(s)),
        _ => "ended".into(),
    }
}

/// Reaps the child however `pass` leaves (killing it first if it still runs), so none
/// lingers as a zombie or an orphan.
struct Reaper {
    pid: libc::pid_t,
    status: Option<libc::c_int>,
}

impl Reaper {
    /// Whether the child has ended (reaped here if so), without blocking.
    fn try_wait(&mut self) -> bool {
        if self.status.is_none() {
            let mut st = 0;
            // SAFETY: waiting for our own child.
            if unsafe { libc::waitpid(self.pid, &mut st, libc::WNOHANG) } == self.pid {
                self.status = Some(st);
            }
        }
        self.status.is_some()
    }

    fn wait(&mut self) -> Option<libc::c_int> {
        if self.status.is_none() {
            let mut st = 0;
            loop {
                // SAFETY: waiting for our own child.
                let r = unsafe { libc::waitpid(self.pid, &mut st, 0) };
                if r == self.pid {
                    self.status = Some(st);
                    break;
                }
                if r < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    break;
                }
            }
        }
        self.status
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            self.wait();
        }
    }
}

/// Task roles are `&'static str` in the observer interface: each distinct role read
/// from a child is kept once for the life of the process (a handful of names).
pub(crate) fn intern(role: &str) -> &'static str {
    static ROLES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut roles = ROLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = roles.iter().find(|r| **r == role) {
        return r;
    }
    let r: &'static str = Box::leak(role.to_string().into_boxed_str());
    roles.push(r);
    r
}

/// Sends one message: its length (u32, little-endian), then its JSON.
fn write_frame(s: &UnixStream, msg: &impl Serialize) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    send_all(s, &frame)
}

/// Writes all of `buf` with MSG_NOSIGNAL: a peer gone is an error, never a SIGPIPE
/// (which evbench leaves at its default action, ending the process).
fn send_all(s: &UnixStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: sending from a live buffer on our own socket.
        let n = unsafe {
            libc::send(
                s.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// One message, or `None` at a clean end of stream.
fn read_frame<M: DeserializeOwned>(r: &mut impl Read) -> Result<Option<M>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(e).context("reading from the pass's child"),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        bail!("the pass's child sent a {len}-byte message");
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return Ok(None);
    }
    Ok(Some(serde_json::from_slice(&body).context(
        "a message from the pass's child does not parse",
    )?))
}
