//! The FUSE mask fd across processes (issue 15, items 6 and 7), with real processes:
//! process A (this binary re-executed, entry `process_a`) creates masks and hands one to
//! this process (B) over a SOCK_SEQPACKET socket (SCM_RIGHTS); A may fork a child S
//! that only waits (no exec) and, once A is gone, checks its own inherited copy.
//!
//! - Item 6: whether A exits or is SIGKILLed, with or without S, B's poll returns
//!   POLLERR at once, its read/write fail with ENOTCONN, and B's threads asleep in poll,
//!   select and epoll are woken; S sees the same on its copy.
//! - Item 7: a mask's state lives until its last open file description is released,
//!   whoever created it: B reads the last mask, writes work and wake B's own epoll
//!   waiter after A dropped that mask, and after A dropped every mask (A's server keeps
//!   serving until B's close, then ends); A's exit ends it (the documented limit).
//!
//! Every wait is bounded; a hang is reported as a failure, then undone by aborting the
//! connection through fusectl. Needs root and /dev/fuse.
mod efd_mask_util;

use std::{
    os::{
        fd::{AsFd, AsRawFd, OwnedFd, RawFd},
        unix::process::CommandExt,
    },
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use efd_mask_util::*;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use workloads::efd_mask::{
    fuse, Backend, FuseServer, Mask, MaskFd, MountMethod, POLLERR, POLLIN, POLLOUT, POLLPRI,
};

/// Role of a re-executed process A.
const ROLE_ENV: &str = "EFD_MASK_LIFETIME_ROLE";
/// Number of A's end of the socket to B (inherited across exec).
const SOCK_ENV: &str = "EFD_MASK_LIFETIME_SOCK";
/// Bound for what must happen at once (a kernel wakeup, an error return).
const AT_ONCE: Duration = Duration::from_secs(2);
/// Bound for a process to start, answer or exit.
const PROC: Duration = Duration::from_secs(15);
/// First word of the report S sends (binary, 5 × i32).
const S_TAG: i32 = 0x5353;

// ---------------------------------------------------------------- process A

/// Entry point of process A; does nothing in a normal test run.
#[test]
#[ignore = "entry point for process A of the lifetime tests"]
fn process_a() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let sock: RawFd = std::env::var(SOCK_ENV).unwrap().parse().unwrap();
    match role.as_str() {
        "hang-fork" => a_hang(sock, true),
        "hang-nofork" => a_hang(sock, false),
        "lifetime" => a_lifetime(sock),
        "fork-server" => a_fork_server(sock),
        "fork-race" => a_fork_race(sock),
        _ => panic!("unknown role {role}"),
    }
    std::process::exit(0);
}

fn a_send(sock: RawFd, msg: &str, fds: &[RawFd]) {
    send_msg(sock, msg.as_bytes(), fds).expect("A: send to B");
}

/// The next command from B; B gone (or silent for a minute) ends A.
fn a_recv(sock: RawFd) -> String {
    match recv_msg(sock, Duration::from_secs(60)) {
        Ok((m, _)) => String::from_utf8(m).unwrap(),
        Err(_) => std::process::exit(0),
    }
}

/// Item 6: a mask (events 0, data 0x1111) handed to B; optionally a forked child S
/// that sleeps until A is gone. Then A waits for "exit" (or SIGKILL), keeping the mask
/// and its server alive to the end.
fn a_hang(sock: RawFd, fork: bool) {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    m.set(0, 0x1111).unwrap();
    let conn = m.fuse_server().unwrap().connection_id();
    let s_pid = if fork {
        // SAFETY: getpid has no preconditions.
        let a_pid = unsafe { libc::getpid() };
        // SAFETY: the child only makes syscalls (sleeper) and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            sleeper(a_pid, m.as_raw_fd(), sock);
        }
        pid
    } else {
        0
    };
    a_send(sock, &format!("ready {conn} {s_pid}"), &[m.as_raw_fd()]);
    assert_eq!(a_recv(sock), "exit");
    // exit(3) with the mask, the server and its thread alive.
    std::process::exit(0);
}

/// S: a child of A forked without exec. Sleeps until A is gone (reparented), then
/// checks its inherited copy of the mask fd, each call bounded by alarm(2) (SIGALRM
/// kills S: B then sees no report), and reports [tag, poll's return, revents, read's
/// return or -errno, write's return or -errno] to B.
fn sleeper(a_pid: libc::pid_t, fd: RawFd, sock: RawFd) -> ! {
    // SAFETY: only syscalls and plain computation after the fork.
    unsafe {
        libc::alarm(30);
        while libc::getppid() == a_pid {
            libc::usleep(2000);
        }
        libc::alarm(5);
        let mut p = libc::pollfd {
            fd,
            events: (POLLIN | POLLPRI | POLLOUT) as i16,
            revents: 0,
        };
        let n = libc::poll(&mut p, 1, 0);
        let errno = || -*libc::__errno_location();
        let mut b = [0u8; 12];
        let r = libc::read(fd, b.as_mut_ptr().cast(), 12);
        let r = if r < 0 { errno() } else { r as i32 };
        let mask = Mask::new(POLLIN, 1).to_bytes();
        let w = libc::write(fd, mask.as_ptr().cast(), 12);
        let w = if w < 0 { errno() } else { w as i32 };
        let report = [S_TAG, n, i32::from(p.revents as u16), r, w];
        libc::send(sock, report.as_ptr().cast(), 20, 0);
        libc::_exit(0);
    }
}

/// Item 7: masks M0 (POLLOUT, 0x70) and M1 (POLLIN, 0x71); M0 handed to B; then, on
/// B's commands, drops M0, drops M1 (every mask, every server handle), reports whether
/// its server still runs, waits for it to end, or exits.
fn a_lifetime(sock: RawFd) {
    let mut m0 = Some(MaskFd::new(Backend::Fuse).unwrap());
    let mut m1 = Some(MaskFd::new(Backend::Fuse).unwrap());
    let mask0 = m0.as_ref().unwrap();
    mask0.set(POLLOUT, 0x70).unwrap();
    m1.as_ref().unwrap().set(POLLIN, 0x71).unwrap();
    let server = mask0.fuse_server().unwrap();
    let (conn, tid) = (server.connection_id(), server.tid());
    a_send(sock, &format!("ready {conn} {tid}"), &[mask0.as_raw_fd()]);
    let task = format!("/proc/self/task/{tid}");
    let running = || {
        (
            fuse::connection_exists(conn).unwrap(),
            std::path::Path::new(&task).exists(),
        )
    };
    loop {
        let reply = match a_recv(sock).as_str() {
            "drop0" => {
                drop(m0.take());
                let m1 = m1.as_ref().unwrap();
                format!(
                    "count {} m1 {:?} {:#x}",
                    m1.fuse_server().unwrap().mask_count(),
                    m1.get().unwrap(),
                    poll_events(m1.as_raw_fd())
                )
            }
            "drop1" => {
                drop(m1.take());
                format!("running {:?}", running())
            }
            "ended" => {
                let t0 = Instant::now();
                while running() != (false, false) && t0.elapsed() < Duration::from_secs(5) {
                    thread::sleep(Duration::from_millis(2));
                }
                format!("running {:?}", running())
            }
            "exit" => std::process::exit(0),
            other => panic!("A: unknown command {other}"),
        };
        a_send(sock, &reply, &[]);
    }
}

/// Fork hygiene, from a process that is a test's only thread of work: A serves a mask,
/// forks a child C. C counts the server fds it inherited (/dev/fuse, and directories of
/// the mask's filesystem: the mount root) — both must be 0 —, then uses the inherited
/// mask through the parent's server and starts a server of its own with
/// `MaskFd::new`. C's exit code is a bit mask of failed checks; A reports it and
/// whether its own mask still works.
fn a_fork_server(sock: RawFd) {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    m.set(POLLIN, 7).unwrap();
    let a_tid = m.server_tid().unwrap();
    // SAFETY: the child makes syscalls, allocates and starts threads (a FUSE server):
    // fine here, A's other threads hold no lock C needs (the test thread forks; the
    // harness's main thread waits, the server thread reads /dev/fuse).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: bounds C in case anything hangs.
        unsafe { libc::alarm(10) };
        let (devs, roots) = inherited_server_fds(m.as_raw_fd());
        let mut failed = 0;
        failed |= i32::from(devs != 0);
        failed |= i32::from(roots != 0) << 1;
        failed |= i32::from(m.get().ok() != Some(Mask::new(POLLIN, 7))) << 2;
        match MaskFd::new(Backend::Fuse) {
            Ok(c) => {
                failed |= i32::from(c.server_tid() == Some(a_tid)) << 3;
                failed |= i32::from(c.set(POLLPRI, 9).is_err()) << 4;
                failed |= i32::from(poll_events(c.as_raw_fd()) != POLLPRI) << 5;
                failed |= i32::from(read_mask(c.as_raw_fd()) != Mask::new(POLLPRI, 9)) << 6;
                failed |= i32::from(FuseServer::shared_tid() != c.server_tid()) << 7;
            }
            // (An exit code has 8 bits: a failed start sets all of bits 3-7.)
            Err(_) => failed |= 0xf8,
        }
        // SAFETY: leave without the harness's exit path.
        unsafe { libc::_exit(failed) };
    }
    let status = wait_child(pid, PROC);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    a_send(
        sock,
        &format!(
            "child {code:#x} parent {:?} {:#x}",
            m.get().unwrap(),
            poll_events(m.as_raw_fd())
        ),
        &[],
    );
}

/// The fork window: one thread starts and drops servers (both mount methods) in a
/// loop while this one forks 300 children; each child counts the `/dev/fuse` fds it
/// inherited, which must be 0 every time — also for a fork that lands between a
/// server's `open("/dev/fuse")` and its mount.
fn a_fork_race(sock: RawFd) {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let churn = thread::spawn(move || {
        let mut cycles = 0u32;
        while !stop2.load(Ordering::Relaxed) {
            let method = if cycles.is_multiple_of(2) {
                MountMethod::Detached
            } else {
                MountMethod::MountThenDetach
            };
            let server = FuseServer::start_with(method).unwrap();
            drop(MaskFd::with_server(&server).unwrap());
            drop(server);
            cycles += 1;
        }
        cycles
    });
    let (mut leaked, forks) = (0, 300);
    for _ in 0..forks {
        // SAFETY: the child reads /proc/self/fd and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let n = dev_fuse_fds();
            // SAFETY: leave without the harness's exit path.
            unsafe { libc::_exit(n.min(100) as i32) };
        }
        let status = wait_child(pid, PROC);
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            leaked += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cycles = churn.join().unwrap();
    a_send(
        sock,
        &format!("leaked {leaked} of {forks}, churned {}", cycles > 0),
        &[],
    );
}

fn dev_fuse_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l == std::path::Path::new("/dev/fuse"))
        })
        .count()
}

/// In a forked child: how many of its fds are `/dev/fuse`, and how many are directories
/// on the filesystem of mask fd `mask` (the server's mount root).
fn inherited_server_fds(mask: RawFd) -> (usize, usize) {
    let fstat = |fd: RawFd| {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: st is valid to write; a closed fd just fails.
        let r = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
        // SAFETY: filled when r == 0.
        (r == 0).then(|| unsafe { st.assume_init() })
    };
    let fs_dev = fstat(mask).map(|s| s.st_dev);
    let (mut devs, mut roots) = (0, 0);
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        if std::fs::read_link(e.path()).is_ok_and(|l| l == std::path::Path::new("/dev/fuse")) {
            devs += 1;
        }
        if let Some(st) = fstat(fd) {
            if Some(st.st_dev) == fs_dev && st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                roots += 1;
            }
        }
    }
    (devs, roots)
}

// ---------------------------------------------------------------- process B (the test)

/// A running process A and this process's end of the socket to it. Dropping it kills
/// and reaps A, so a failed test leaves no process behind.
struct ProcA {
    child: Child,
    sock: OwnedFd,
}

impl ProcA {
    fn spawn(role: &str) -> ProcA {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let theirs_fd = theirs.as_raw_fd();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "process_a",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_ENV, role)
        .env(SOCK_ENV, theirs_fd.to_string())
        .stdout(Stdio::null());
        // SAFETY: fcntl is async-signal-safe; A's end alone survives the exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(theirs_fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(theirs);
        ProcA { child, sock: mine }
    }

    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    fn send(&self, msg: &str) {
        send_msg(self.sock.as_raw_fd(), msg.as_bytes(), &[]).unwrap();
    }

    fn recv(&self) -> Result<(Vec<u8>, Vec<OwnedFd>), String> {
        recv_msg(self.sock.as_raw_fd(), PROC).map_err(|e| format!("no message from A: {e}"))
    }

    fn recv_text(&self) -> Result<(String, Vec<OwnedFd>), String> {
        let (m, fds) = self.recv()?;
        Ok((String::from_utf8(m).unwrap(), fds))
    }

    /// Sends `cmd` and returns A's one-line answer.
    fn ask(&self, cmd: &str) -> Result<String, String> {
        self.send(cmd);
        Ok(self.recv_text()?.0)
    }

    /// Waits (bounded) for A to end: a hang of A itself is an error.
    fn wait_gone(&mut self) -> Result<(), String> {
        let t0 = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if t0.elapsed() < PROC => thread::sleep(Duration::from_millis(1)),
                _ => return Err(format!("A did not end within {PROC:?}")),
            }
        }
    }
}

impl Drop for ProcA {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A thread of this process asleep in `how` ("poll" for POLLIN, "select" for reading,
/// "epoll" level-triggered for IN|PRI|OUT) on `fd`, 10 s at most; the receiver gets what
/// the call returned, as text.
fn asleep_in(fd: RawFd, how: &'static str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    thread::spawn(move || {
        let ep = (how == "epoll").then(|| Epoll::new(fd, false));
        tid_tx.send(gettid()).unwrap();
        let r = match how {
            "poll" => {
                let (n, rev) = poll_wait(fd, POLLIN, 10_000);
                format!("poll {n} {rev:#x}")
            }
            "select" => {
                let (n, readable) = select_read_wait(fd, 10_000);
                format!("select {n} {readable}")
            }
            _ => format!("epoll {:#x?}", ep.unwrap().wait(10_000)),
        };
        let _ = tx.send(r);
    });
    let tid = tid_rx.recv_timeout(AT_ONCE).unwrap();
    wait_until_sleeping(tid);
    rx
}

fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// What a read(2)/write(2) of 12 bytes on `fd` gives, bounded: Ok(bytes) or the errno.
fn io_result(fd: RawFd, write: bool) -> Result<Result<usize, i32>, String> {
    let what = if write { "write(12)" } else { "read(12)" };
    bounded(what, AT_ONCE, move || {
        let r = if write {
            write_raw(fd, &Mask::new(POLLIN, 1).to_bytes())
        } else {
            read_raw(fd, 12).map(|b| b.len())
        };
        r.map_err(|e| e.raw_os_error().unwrap_or(0))
    })
}

#[derive(Clone, Copy, Debug)]
enum End {
    Exit,
    Kill,
}

/// One run of item 6: A hands B a mask (and forks S if `fork`), B's threads sleep on
/// it, A ends by `end`; then every holder gets POLLERR / ENOTCONN at once.
fn creator_ends(fork: bool, end: End) -> Result<(), String> {
    let mut a = ProcA::spawn(if fork { "hang-fork" } else { "hang-nofork" });
    let (msg, mut fds) = a.recv_text()?;
    let w: Vec<&str> = msg.split(' ').collect();
    let (conn, s_pid): (u32, libc::pid_t) = (w[1].parse().unwrap(), w[2].parse().unwrap());
    let fd_b = fds.pop().ok_or("no fd from A")?;
    let fd = fd_b.as_raw_fd();
    let mut run = || -> Result<(), String> {
        check("B's first read", read_mask(fd), Mask::new(0, 0x1111))?;
        check("B's first poll", poll_events(fd), 0)?;
        let waiters = [
            (asleep_in(fd, "poll"), format!("poll 1 {POLLERR:#x}")),
            (asleep_in(fd, "select"), "select 1 true".to_string()),
            (asleep_in(fd, "epoll"), format!("epoll {:#x?}", [POLLERR])),
        ];
        match end {
            // SAFETY: plain syscall on our child.
            End::Kill => unsafe {
                libc::kill(a.pid(), libc::SIGKILL);
            },
            End::Exit => a.send("exit"),
        }
        a.wait_gone()?;
        for (rx, want) in waiters {
            let got = rx
                .recv_timeout(AT_ONCE)
                .map_err(|_| format!("a sleeping waiter ({want}) was not woken"))?;
            check("sleeping waiter", got, want)?;
        }
        let p = bounded("poll(timeout 0)", AT_ONCE, move || poll_events(fd))?;
        check("B's poll after A's end", p, POLLERR)?;
        check("B's read", io_result(fd, false)?, Err(libc::ENOTCONN))?;
        check("B's write", io_result(fd, true)?, Err(libc::ENOTCONN))?;
        if fork {
            let (r, _) = a.recv().map_err(|e| format!("S's report: {e}"))?;
            let words: Vec<i32> = r
                .chunks_exact(4)
                .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
                .collect();
            let want = vec![S_TAG, 1, POLLERR as i32, -libc::ENOTCONN, -libc::ENOTCONN];
            check(
                "S's [tag, poll, revents, read, write] on its copy",
                words,
                want,
            )?;
        }
        Ok(())
    };
    let r = run();
    if r.is_err() {
        // Unhang everything this run left blocked (B's threads, S), then report.
        let _ = fuse::abort_connection(conn);
        if s_pid > 0 {
            // SAFETY: S is A's child, still a known pid while the run is fresh.
            unsafe { libc::kill(s_pid, libc::SIGKILL) };
        }
    }
    r
}

fn creator_ends_runs(fork: bool) {
    let mut failures = Vec::new();
    for round in 0..3 {
        for end in [End::Exit, End::Kill] {
            if let Err(e) = creator_ends(fork, end) {
                failures.push(format!("round {round}, {end:?}: {e}"));
            }
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

/// Item 6 with a child of A forked without exec that outlives A.
#[test]
fn creator_exit_or_kill_wakes_every_holder_despite_a_forked_child() {
    creator_ends_runs(true);
}

/// Item 6's reference case: no forked child.
#[test]
fn creator_exit_or_kill_wakes_every_holder() {
    creator_ends_runs(false);
}

/// Checks that the mask behind `fd` is still served: reads give `last`, poll reports
/// its events; a write works and a later write wakes a thread of this process asleep
/// in epoll. Leaves the mask at (POLLPRI, `data` + 1).
fn still_served(fd: RawFd, last: Mask, data: u64) -> Result<(), String> {
    check("read of the last mask", read_mask(fd), last)?;
    check("poll of the last mask", poll_events(fd), last.events)?;
    check(
        "write",
        write_raw(fd, &Mask::new(0, data).to_bytes()).map_err(|e| e.to_string()),
        Ok(12),
    )?;
    check("read after write", read_mask(fd), Mask::new(0, data))?;
    let rx = asleep_in(fd, "epoll");
    check(
        "waking write",
        write_raw(fd, &Mask::new(POLLPRI, data + 1).to_bytes()).map_err(|e| e.to_string()),
        Ok(12),
    )?;
    let got = rx
        .recv_timeout(AT_ONCE)
        .map_err(|_| "epoll waiter not woken by a write".to_string())?;
    check("epoll waiter", got, format!("epoll {:#x?}", [POLLPRI]))?;
    check("read", read_mask(fd), Mask::new(POLLPRI, data + 1))?;
    check("poll", poll_events(fd), POLLPRI)
}

/// A hands M0 to B and drops M0, then every mask: B's M0 works throughout (A's server
/// keeps serving it) and A's server ends once B closes it.
fn a_mask_outlives(then_exit: bool) -> Result<(), String> {
    let mut a = ProcA::spawn("lifetime");
    let (_, mut fds) = a.recv_text()?;
    let fd_b = fds.pop().ok_or("no fd from A")?;
    let fd = fd_b.as_raw_fd();
    check("B's read", read_mask(fd), Mask::new(POLLOUT, 0x70))?;
    check(
        "A after dropping M0",
        a.ask("drop0")?,
        format!("count 2 m1 {:?} {POLLIN:#x}", Mask::new(POLLIN, 0x71)),
    )?;
    still_served(fd, Mask::new(POLLOUT, 0x70), 0x80)?;
    check(
        "A after dropping every mask",
        a.ask("drop1")?,
        "running (true, true)".into(),
    )?;
    still_served(fd, Mask::new(POLLPRI, 0x81), 0x90)?;
    if then_exit {
        // The documented limit: the creator's exit ends every mask it served.
        a.send("exit");
        a.wait_gone()?;
        let p = bounded("poll(timeout 0)", AT_ONCE, move || poll_events(fd))?;
        check("poll after A's exit", p, POLLERR)?;
        check(
            "read after A's exit",
            io_result(fd, false)?,
            Err(libc::ENOTCONN),
        )?;
        check(
            "write after A's exit",
            io_result(fd, true)?,
            Err(libc::ENOTCONN),
        )?;
    } else {
        // B's close is the last release: A's server and connection end.
        drop(fd_b);
        check(
            "A's server after B's close",
            a.ask("ended")?,
            "running (false, false)".into(),
        )?;
        a.send("exit");
        a.wait_gone()?;
    }
    Ok(())
}

/// Item 7: the state lives until its last open file description is released.
#[test]
fn a_mask_passed_to_another_process_outlives_its_creators_drops() {
    a_mask_outlives(false).unwrap();
}

/// Item 7's limit: the creator's exit ends the masks it no longer holds.
#[test]
fn the_creators_exit_ends_a_mask_it_no_longer_holds() {
    a_mask_outlives(true).unwrap();
}

/// Item 7 inside one process: a `dup` of the fd keeps the mask after its `MaskFd` and
/// the last server handle are dropped; its close ends the server.
#[test]
fn a_dup_outlives_the_mask_fd_and_the_server_handle() {
    let server = FuseServer::start().unwrap();
    let (id, tid) = (server.connection_id(), server.tid());
    let m = MaskFd::with_server(&server).unwrap();
    m.set(POLLIN | POLLOUT, 0x42).unwrap();
    let d = m.as_fd().try_clone_to_owned().unwrap();
    let other = MaskFd::with_server(&server).unwrap();
    assert_eq!(server.mask_count(), 2);
    drop(m);
    assert_eq!(
        server.mask_count(),
        2,
        "the dup keeps the first mask's state"
    );
    drop(other);
    // Exactly 1: the second mask ended with its only fd (bounded: a child another test
    // forks meanwhile holds copies of our fds until it execs).
    wait_until("mask count 1", || server.mask_count() == 1);
    still_served(d.as_raw_fd(), Mask::new(POLLIN | POLLOUT, 0x42), 0x100).unwrap();
    let t0 = Instant::now();
    drop(server);
    assert!(
        t0.elapsed() < AT_ONCE,
        "dropping the last handle waited for the dup"
    );
    let task = format!("/proc/self/task/{tid}");
    assert!(fuse::connection_exists(id).unwrap());
    assert!(std::path::Path::new(&task).exists(), "server thread ended");
    still_served(d.as_raw_fd(), Mask::new(POLLPRI, 0x101), 0x200).unwrap();
    drop(d);
    let t0 = Instant::now();
    while fuse::connection_exists(id).unwrap() || std::path::Path::new(&task).exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "server still running after the last close"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// A forked child keeps no server fd of its parent, still uses the inherited mask
/// through the parent's server, and gets a server of its own from `MaskFd::new`.
#[test]
fn a_forked_child_inherits_no_server_fd_and_starts_its_own_server() {
    let a = ProcA::spawn("fork-server");
    let (msg, _) = a.recv_text().unwrap();
    assert_eq!(
        msg,
        format!("child 0x0 parent {:?} {POLLIN:#x}", Mask::new(POLLIN, 7)),
        "child's failed checks: bit 0 /dev/fuse fds, 1 mount roots, 2 inherited mask, \
         3 own server is the parent's, 4-7 own mask (3-7 all: MaskFd::new failed)"
    );
}

/// No fork, however it falls against server start-up and teardown on another thread,
/// gives the child a copy of a `/dev/fuse` fd.
#[test]
fn no_fork_racing_server_start_and_drop_inherits_a_dev_fuse_fd() {
    let a = ProcA::spawn("fork-race");
    let (msg, _) = a.recv_text().unwrap();
    assert_eq!(msg, "leaked 0 of 300, churned true");
}

/// An exec'd child inherits no server fd either (all are close-on-exec): a shell
/// started while this process serves a mask lists no `/dev/fuse` among its fds.
#[test]
fn an_execed_child_inherits_no_dev_fuse_fd() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    m.set(POLLIN, 1).unwrap();
    let out = Command::new("sh")
        .args([
            "-c",
            "for f in /proc/$$/fd/*; do readlink \"$f\"; done; exit 0",
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let links = String::from_utf8_lossy(&out.stdout);
    assert!(links.lines().count() >= 3, "the shell's stdio: {links}");
    assert_eq!(
        links.lines().filter(|l| *l == "/dev/fuse").count(),
        0,
        "{links}"
    );
    // The mask is still served here.
    assert_eq!(read_mask(m.as_raw_fd()), Mask::new(POLLIN, 1));
}
