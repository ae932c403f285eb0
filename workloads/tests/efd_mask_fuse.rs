//! The FUSE backend against the EFD_MASK contract: every mask through poll, select and
//! epoll (level and edge), read/write of the packed struct, rejection of bad input,
//! wakeups of sleeping pollers, and no hang or leftover mount after exit or SIGKILL.
//! Needs root and /dev/fuse (as the project's CI machine has).
mod efd_mask_util;

use std::{
    io::{BufRead, BufReader},
    os::fd::AsRawFd,
    process::{Command, Stdio},
    sync::{mpsc, Arc},
    thread,
    time::{Duration, Instant},
};

use efd_mask_util::*;
use workloads::efd_mask::{
    cleanup_stale_mounts, fuse, Backend, FuseServer, Mask, MaskFd, MountMethod, POLLERR, POLLHUP,
    POLLIN, POLLOUT, POLLPRI, VALID_EVENTS,
};

#[test]
fn starts_at_zero_and_reads_the_same_mask_every_time() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    let fd = m.as_raw_fd();
    assert_eq!(m.get().unwrap(), Mask::new(0, 0));
    assert_eq!(read_mask(fd), Mask::new(0, 0));
    assert_eq!(read_mask(fd), Mask::new(0, 0));
    assert_eq!(poll_events(fd), 0);
    m.set(POLLIN | POLLHUP, 0xdead_beef_0123_4567).unwrap();
    let want = Mask::new(POLLIN | POLLHUP, 0xdead_beef_0123_4567);
    assert_eq!(read_mask(fd), want);
    assert_eq!(read_mask(fd), want, "a read does not consume the mask");
    assert_eq!(m.get().unwrap(), want);
    // A bigger buffer still gets exactly the 12-byte struct.
    assert_eq!(read_raw(fd, 64).unwrap(), want.to_bytes().to_vec());
    assert!(m.server_tid().unwrap() > 0);
}

#[test]
fn all_32_masks_through_poll_select_and_epoll() {
    for via_write in [false, true] {
        let m = MaskFd::new(Backend::Fuse).unwrap();
        let fd = m.as_raw_fd();
        let et = Epoll::new(fd, true);
        assert_eq!(et.wait(0), Vec::<u32>::new(), "nothing at start");
        for i in 0..32u32 {
            let events = mask_of(i);
            let mask = Mask::new(events, u64::from(i) * 1_000_003 + 11);
            if via_write {
                assert_eq!(write_raw(fd, &mask.to_bytes()).unwrap(), 12);
            } else {
                m.set(mask.events, mask.data).unwrap();
            }
            assert_eq!(m.get().unwrap(), mask);
            assert_eq!(read_mask(fd), mask);
            assert_eq!(read_mask(fd), mask);
            assert_views(fd, events, Some(&et));
        }
        // And back down through every mask in reverse (removals, not only additions).
        for i in (0..32u32).rev() {
            m.set(mask_of(i), 5).unwrap();
            assert_views(fd, mask_of(i), Some(&et));
        }
    }
}

#[test]
fn invalid_events_and_short_buffers_are_rejected() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    let fd = m.as_raw_fd();
    m.set(POLLOUT, 42).unwrap();
    let einval = Some(libc::EINVAL);
    for bad in [
        libc::POLLNVAL as u32,
        libc::POLLRDNORM as u32,
        libc::POLLWRBAND as u32,
        libc::EPOLLRDHUP as u32,
        1 << 31,
        VALID_EVENTS | 0x20,
    ] {
        let b = Mask::new(bad, 1).to_bytes();
        assert_eq!(
            write_raw(fd, &b).unwrap_err().raw_os_error(),
            einval,
            "{bad:#x}"
        );
        let e = m.set(bad, 1).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:#x}");
    }
    // Short writes and reads.
    for len in [1, 4, 8, 11] {
        let b = Mask::new(POLLIN, 1).to_bytes();
        assert_eq!(
            write_raw(fd, &b[..len]).unwrap_err().raw_os_error(),
            einval,
            "write {len}"
        );
        assert_eq!(
            read_raw(fd, len).unwrap_err().raw_os_error(),
            einval,
            "read {len}"
        );
    }
    assert!(Mask::from_bytes(&[0u8; 11]).is_err());
    // Nothing of that changed the mask.
    assert_eq!(read_mask(fd), Mask::new(POLLOUT, 42));
    assert_eq!(poll_events(fd), POLLOUT);
    // A longer buffer: the first 12 bytes count, 12 is returned (as the patch does).
    let mut long = Mask::new(POLLPRI, 9).to_bytes().to_vec();
    long.extend_from_slice(&[0xff; 8]);
    assert_eq!(write_raw(fd, &long).unwrap(), 12);
    assert_eq!(read_mask(fd), Mask::new(POLLPRI, 9));
    assert_eq!(poll_events(fd), POLLPRI);
}

/// Runs `wait` on a thread, waits until it sleeps, sets the mask, and returns what
/// the waiter got.
fn woken_by_set<T: Send + 'static>(
    m: &MaskFd,
    events: u32,
    wait: impl FnOnce(i32) -> T + Send + 'static,
) -> T {
    let fd = m.as_raw_fd();
    let (tx, rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    let h = thread::spawn(move || {
        tid_tx.send(gettid()).unwrap();
        tx.send(wait(fd)).unwrap();
    });
    let tid = tid_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    wait_until_sleeping(tid);
    assert!(rx.try_recv().is_err(), "waiter returned before the set");
    m.set(events, 1).unwrap();
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("waiter was not woken by set()");
    h.join().unwrap();
    r
}

#[test]
fn set_wakes_a_sleeping_poll_select_and_epoll_wait() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    // poll for POLLIN; first a set the poller is not interested in must not wake it.
    let fd = m.as_raw_fd();
    let (tx, rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    let h = thread::spawn(move || {
        tid_tx.send(gettid()).unwrap();
        tx.send(poll_wait(fd, POLLIN, 8000)).unwrap();
    });
    let tid = tid_rx.recv().unwrap();
    wait_until_sleeping(tid);
    m.set(POLLOUT, 0).unwrap();
    wait_until_sleeping(tid);
    assert!(
        rx.try_recv().is_err(),
        "POLLOUT woke a POLLIN poller for good"
    );
    m.set(POLLIN | POLLOUT, 1).unwrap();
    let (n, revents) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    h.join().unwrap();
    assert_eq!((n, revents), (1, POLLIN));

    m.set(0, 0).unwrap();
    let (n, revents) = woken_by_set(&m, POLLPRI, |fd| poll_wait(fd, POLLPRI, 8000));
    assert_eq!((n, revents), (1, POLLPRI));

    m.set(0, 0).unwrap();
    let (n, readable) = woken_by_set(&m, POLLIN, |fd| select_read_wait(fd, 8000));
    assert_eq!((n, readable), (1, true));

    m.set(0, 0).unwrap();
    let got = woken_by_set(&m, POLLHUP | POLLIN, |fd| Epoll::new(fd, false).wait(8000));
    assert_eq!(got, vec![POLLHUP | POLLIN]);

    m.set(0, 0).unwrap();
    let got = woken_by_set(&m, POLLOUT, |fd| Epoll::new(fd, true).wait(8000));
    assert_eq!(got, vec![POLLOUT]);

    // poll(2) reports POLLERR and POLLHUP even when not asked for.
    m.set(0, 0).unwrap();
    let (n, revents) = woken_by_set(&m, POLLERR, |fd| poll_wait(fd, POLLIN, 8000));
    assert_eq!((n, revents), (1, POLLERR));
}

#[test]
fn another_process_polls_and_writes_the_fd() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    m.set(POLLOUT, 3).unwrap();
    // SAFETY: the child only makes syscalls (poll, write, read) and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // Child: wait for POLLIN set by the parent, then set a mask through the fd.
        let (n, rev) = poll_wait(m.as_raw_fd(), POLLIN, 8000);
        let ok1 = n == 1 && rev == POLLIN;
        // In a forked child, set/get go through write(2)/read(2) to the parent's server.
        let ok2 = m.set(POLLPRI | POLLOUT, 77).is_ok();
        let ok3 = m
            .get()
            .map(|g| g == Mask::new(POLLPRI | POLLOUT, 77))
            .unwrap_or(false);
        let ok4 = m.update(|x| x).is_err();
        let code =
            (!ok1) as i32 | ((!ok2) as i32) << 1 | ((!ok3) as i32) << 2 | ((!ok4) as i32) << 3;
        // SAFETY: _exit skips the test harness's atexit state in the child.
        unsafe { libc::_exit(code) };
    }
    thread::sleep(Duration::from_millis(50));
    m.set(POLLIN | POLLOUT, 4).unwrap();
    let status = wait_child(pid, Duration::from_secs(15));
    assert!(libc::WIFEXITED(status));
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child checks failed (bit mask)"
    );
    assert_eq!(m.get().unwrap(), Mask::new(POLLPRI | POLLOUT, 77));
    assert_eq!(poll_events(m.as_raw_fd()), POLLPRI | POLLOUT);
}

#[test]
fn drop_unmounts_and_ends_the_server_for_both_mount_methods() {
    for method in [MountMethod::Detached, MountMethod::MountThenDetach] {
        let server = FuseServer::start_with(method).unwrap();
        let id = server.connection_id();
        let tid = server.tid();
        assert!(tid > 0);
        assert!(std::path::Path::new(&format!("/proc/self/task/{tid}")).exists());
        let a = MaskFd::with_server(&server).unwrap();
        let b = MaskFd::with_server(&server).unwrap();
        assert_eq!(a.server_tid(), Some(tid));
        assert_eq!(server.mask_count(), 2);
        a.set(POLLIN, 1).unwrap();
        assert_eq!(
            (poll_events(a.as_raw_fd()), poll_events(b.as_raw_fd())),
            (POLLIN, 0)
        );
        assert!(fuse::connection_exists(id).unwrap());
        let mine: Vec<_> = fuse::find_mounts()
            .unwrap()
            .into_iter()
            .filter(|m| m.owner_pid == std::process::id() && m.connection_id == id)
            .collect();
        assert_eq!(
            mine,
            vec![],
            "{method:?} mount is visible in the mount table"
        );
        // A mask lives while any copy of its fd does: a child forked meanwhile by another
        // test of this process holds copies until it execs or exits (bounded waits).
        drop(a);
        wait_until("mask count 1 after the first drop", || {
            server.mask_count() == 1
        });
        drop(b);
        drop(server);
        wait_until("the connection to end", || {
            !fuse::connection_exists(id).unwrap()
        });
        let t0 = Instant::now();
        while std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "server thread still alive"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_stale_mount_of_a_dead_process_is_cleaned() {
    // A dead pid: a child that already exited and was reaped.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    // Make a stale mount as a killed MountThenDetach run leaves it: mounted, with the
    // connection's /dev/fuse closed.
    let dir = format!("/tmp/evbench-efdmask-test-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .unwrap();
    let data = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other",
        dev.as_raw_fd()
    );
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::mount(
            c(&format!("evbench-efdmask-{dead}")).as_ptr(),
            c(&dir).as_ptr(),
            c("fuse.evbench-efdmask").as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c(&data).as_ptr().cast(),
        )
    };
    assert_eq!(r, 0, "mount: {}", std::io::Error::last_os_error());
    drop(dev);
    let found: Vec<_> = fuse::find_mounts()
        .unwrap()
        .into_iter()
        .filter(|m| m.owner_pid == dead)
        .collect();
    assert_eq!(found.len(), 1, "the stale mount is found: {found:?}");
    assert_eq!(found[0].mount_point, dir);
    // Other stale mounts (of other dead runs) may be cleaned too; ours must be.
    let removed = cleanup_stale_mounts().unwrap();
    assert!(removed >= 1, "removed {removed}");
    assert!(fuse::find_mounts()
        .unwrap()
        .iter()
        .all(|m| m.owner_pid != dead));
    let _ = std::fs::remove_dir(&dir);
}

// ---- exit and SIGKILL under load, in child processes re-executing this binary ----

const CHILD_ENV: &str = "EFD_MASK_FUSE_CHILD";

/// The child: masks, busy setters, pollers and readers; prints its connection id, then
/// either runs until killed (`kill`) or exits without dropping anything (`exit`).
#[test]
#[ignore = "entry point for the exit/kill tests' child processes"]
fn child_under_load() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let server = FuseServer::start().unwrap();
    let masks: Vec<Arc<MaskFd>> = (0..4)
        .map(|_| Arc::new(MaskFd::with_server(&server).unwrap()))
        .collect();
    for (i, m) in masks.iter().enumerate() {
        let m = m.clone();
        // Setter: flips the mask as fast as it can.
        thread::spawn(move || {
            let mut k = 0u64;
            loop {
                let _ = m.set(mask_of((k % 32) as u32), k);
                k += 1;
            }
        });
        let m2 = masks[i].clone();
        // Waiter: blocks in poll / epoll on the fd (FUSE POLL requests in flight).
        thread::spawn(move || {
            let ep = Epoll::new(m2.as_raw_fd(), i % 2 == 0);
            loop {
                let _ = poll_wait(m2.as_raw_fd(), POLLIN, 5);
                let _ = ep.wait(5);
            }
        });
        let m3 = masks[i].clone();
        // Reader/writer through the server (READ/WRITE requests in flight).
        thread::spawn(move || loop {
            let _ = read_raw(m3.as_raw_fd(), 12);
            let _ = write_raw(m3.as_raw_fd(), &Mask::new(POLLOUT, 1).to_bytes());
        });
    }
    println!("conn {} ready", server.connection_id());
    thread::sleep(Duration::from_millis(if mode == "exit" {
        30
    } else {
        20_000
    }));
    // Exit with the server, masks and every busy thread still alive.
    std::process::exit(0);
}

/// Spawns the child, waits for "ready", applies `finish`, and checks that the child
/// ends within a bound and its FUSE connection disappears. Returns false on a hang.
fn run_child(mode: &str, kill_after: Duration) -> Result<(), String> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "child_under_load",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The harness prints "test child_under_load ... " on the same line.
            if let Some((_, rest)) = line.split_once("conn ") {
                let id = rest.split(' ').next().and_then(|s| s.parse::<u32>().ok());
                let _ = tx.send(id);
                return;
            }
        }
    });
    let id = match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(Some(id)) => id,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{mode}: child never became ready"));
        }
    };
    if mode == "kill" {
        thread::sleep(kill_after);
        // SAFETY: plain syscall on our child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if t0.elapsed() < Duration::from_secs(10) => {
                thread::sleep(Duration::from_millis(1))
            }
            _ => {
                // Hung: unhang it so the test run can go on, then report.
                let _ = fuse::abort_connection(id);
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{mode}: child hung after {:?}", kill_after));
            }
        }
    }
    let t0 = Instant::now();
    while fuse::connection_exists(id).unwrap_or(false) {
        if t0.elapsed() > Duration::from_secs(5) {
            let _ = fuse::abort_connection(id);
            return Err(format!("{mode}: connection {id} outlived its process"));
        }
        thread::sleep(Duration::from_millis(1));
    }
    if fuse::find_mounts()
        .unwrap_or_default()
        .iter()
        .any(|m| m.owner_pid == pid as u32)
    {
        return Err(format!("{mode}: child {pid} left a mount"));
    }
    Ok(())
}

#[test]
fn sigkill_under_load_100_times_never_hangs_nor_leaves_a_mount() {
    let mut failures = Vec::new();
    for i in 0..100u64 {
        // Spread the kill over the first ~10 ms of load (different request mixes).
        let after = Duration::from_micros((i * 7919) % 10_000);
        if let Err(e) = run_child("kill", after) {
            failures.push(format!("run {i}: {e}"));
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn exit_under_load_20_times_never_hangs_nor_leaves_a_mount() {
    let mut failures = Vec::new();
    for i in 0..20 {
        if let Err(e) = run_child("exit", Duration::ZERO) {
            failures.push(format!("run {i}: {e}"));
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

/// The one documented deviation: zero-length read(2)/write(2) return 0 in the kernel's
/// FUSE layer before reaching the server (the patch answers EINVAL), and change nothing.
#[test]
fn zero_length_io_returns_zero_and_changes_nothing() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    m.set(POLLIN, 5).unwrap();
    assert_eq!(write_raw(m.as_raw_fd(), &[]).unwrap(), 0);
    assert_eq!(read_raw(m.as_raw_fd(), 0).unwrap(), Vec::<u8>::new());
    assert_eq!(read_mask(m.as_raw_fd()), Mask::new(POLLIN, 5));
}

/// A forked child that drops its copy of a MaskFd (and so of the server) must leave
/// the parent's connection alone.
#[test]
fn a_forked_child_dropping_its_copy_leaves_the_parent_working() {
    let server = FuseServer::start().unwrap();
    let id = server.connection_id();
    let m = MaskFd::with_server(&server).unwrap();
    drop(server);
    m.set(POLLOUT, 8).unwrap();
    // SAFETY: the child drops the mask (no lock is held by another thread of this
    // private server while the test is quiescent) and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        drop(m);
        // SAFETY: leave without running the harness's exit path.
        unsafe { libc::_exit(0) };
    }
    let status = wait_child(pid, Duration::from_secs(15));
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert!(fuse::connection_exists(id).unwrap());
    m.set(POLLIN, 9).unwrap();
    assert_eq!(read_mask(m.as_raw_fd()), Mask::new(POLLIN, 9));
    assert_eq!(poll_events(m.as_raw_fd()), POLLIN);
}

/// Another process sees exactly the same 32 masks through poll(2) on the inherited fd.
#[test]
fn another_process_sees_all_32_masks() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    let (mut go, mut res) = ([0i32; 2], [0i32; 2]);
    // SAFETY: arrays hold two fds each.
    unsafe {
        assert_eq!(libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(res.as_mut_ptr(), libc::O_CLOEXEC), 0);
    }
    // SAFETY: the child only makes syscalls (read, poll, write) and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut b = [0u8; 1];
        // SAFETY: plain syscalls on inherited fds.
        unsafe {
            // Our copy of the go pipe's write end would keep our own read from EOF.
            libc::close(go[1]);
            libc::close(res[0]);
            while libc::read(go[0], b.as_mut_ptr().cast(), 1) == 1 {
                let (_, rev) = poll_wait(m.as_raw_fd(), POLLIN | POLLPRI | POLLOUT, 0);
                let r = rev.to_ne_bytes();
                libc::write(res[1], r.as_ptr().cast(), 4);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(go[0]);
        libc::close(res[1]);
    }
    for i in 0..32u32 {
        m.set(mask_of(i), u64::from(i)).unwrap();
        assert_eq!(write_raw(go[1], b"g").unwrap(), 1);
        let (n, _) = poll_wait(res[0], POLLIN, 10_000);
        assert_eq!(n, 1, "child answers within the bound");
        let r = read_raw(res[0], 4).unwrap();
        let got = u32::from_ne_bytes(r.try_into().unwrap());
        assert_eq!(got, mask_of(i), "child's poll for mask {:#x}", mask_of(i));
    }
    // SAFETY: closing the go pipe ends the child's loop.
    unsafe { libc::close(go[1]) };
    let status = wait_child(pid, Duration::from_secs(15));
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    // SAFETY: our last pipe end.
    unsafe { libc::close(res[0]) };
}

/// As in the patch (which wakes with the new events as key on every write), an
/// edge-triggered epoll reports every set() whose events it is interested in, even
/// when the events did not change, and none whose events it is not interested in.
#[test]
fn edge_triggered_epoll_reports_each_matching_set() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    let fd = m.as_raw_fd();
    let et = Epoll::new(fd, true);
    m.set(POLLIN, 1).unwrap();
    assert_eq!(et.wait(0), vec![POLLIN]);
    assert_eq!(et.wait(0), Vec::<u32>::new());
    m.set(POLLIN, 2).unwrap();
    assert_eq!(
        et.wait(0),
        vec![POLLIN],
        "same events, new data: reported again"
    );
    m.set(0, 3).unwrap();
    assert_eq!(
        et.wait(0),
        Vec::<u32>::new(),
        "no events: nothing to report"
    );
    m.set(POLLIN | POLLOUT, 4).unwrap();
    assert_eq!(et.wait(0), vec![POLLIN | POLLOUT]);
    assert_eq!(et.wait(0), Vec::<u32>::new());
}

/// The other documented limit: fdinfo has no `eventfd-mask:` line (the patch's
/// `eventfd_show_fdinfo`), only the kernel's generic lines for a file, and the fd's
/// link names a file of the detached mount, not `anon_inode:[eventfd]`.
#[test]
fn fdinfo_has_no_eventfd_mask_line() {
    let m = MaskFd::new(Backend::Fuse).unwrap();
    m.set(POLLIN | POLLPRI, 3).unwrap();
    let fd = m.as_raw_fd();
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let keys: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .collect();
    assert!(
        !keys.iter().any(|k| k.starts_with("eventfd")),
        "an eventfd line in {info:?}"
    );
    // pos, flags, mnt_id (and ino on kernels since 5.14): what every file shows.
    assert_eq!(keys[..3], ["pos", "flags", "mnt_id"], "{info:?}");
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: st is valid to write; fd is open.
    assert_eq!(unsafe { libc::fstat(fd, st.as_mut_ptr()) }, 0);
    // SAFETY: fstat succeeded.
    let ino = unsafe { st.assume_init() }.st_ino;
    assert_eq!(
        std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap(),
        std::path::PathBuf::from(format!("/{ino}")),
        "the link names the mask's file on the detached mount"
    );
}
