//! What EFD_MASK costs without kernel support: two threads bounce a token over two
//! channels and wait in level-triggered epoll; eventfd vs mask fd (`set()` + epoll) on
//! the FUSE and socketpair backends, both threads on one CPU and on two.
//!
//!     cargo run --release -p workloads --example efd_mask_cost [round_trips]
//!
//! A quick side-by-side figure, not the benchmark (`cargo xtask bench efd-mask` is).
use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    sync::{Arc, Barrier},
    thread,
    time::Instant,
};

use workloads::{
    efd_mask::{Backend, MaskChannel, MaskFd, POLLIN},
    pingpong::pin_current_thread,
    sys::{cvt, now_ns},
    Channel,
};

/// eventfd(2) channel for the comparison (counter = pending messages).
struct Eventfd(OwnedFd);

impl Eventfd {
    fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; checked.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: fresh fd we own.
        Ok(Eventfd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

impl Channel for Eventfd {
    fn wait_fd(&self) -> Option<RawFd> {
        Some(self.0.as_raw_fd())
    }
    fn signal(&self) -> io::Result<()> {
        workloads::sys::write(self.0.as_raw_fd(), &1u64.to_ne_bytes()).map(|_| ())
    }
    fn consume(&self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        match workloads::sys::read(self.0.as_raw_fd(), &mut b) {
            Ok(_) => Ok(u64::from_ne_bytes(b)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// Waits in epoll until `ch` has messages, then takes them.
fn wait_take(ep: RawFd, ch: &dyn Channel) -> io::Result<u64> {
    loop {
        let n = ch.consume()?;
        if n > 0 {
            return Ok(n);
        }
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: room for one event.
        let r = unsafe { libc::epoll_wait(ep, &mut ev, 1, -1) };
        if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(io::Error::last_os_error());
        }
    }
}

fn epoll_on(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: plain syscalls; checked.
    let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: fresh fd we own.
    let ep = unsafe { OwnedFd::from_raw_fd(ep) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: valid event pointer.
    cvt(unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
    Ok(ep)
}

/// A named pair of channels (ping's, pong's).
type Case = (&'static str, Arc<dyn Channel>, Arc<dyn Channel>);

/// Median and mean round trip in µs.
fn ping_pong(
    a: Arc<dyn Channel>,
    b: Arc<dyn Channel>,
    rounds: usize,
    cpus: (usize, usize),
) -> io::Result<(f64, f64)> {
    let barrier = Arc::new(Barrier::new(2));
    let (a2, b2, bar2) = (a.clone(), b.clone(), barrier.clone());
    let pong = thread::spawn(move || -> io::Result<()> {
        pin_current_thread(cpus.1)?;
        let ep = epoll_on(a2.wait_fd().unwrap_or(-1))?;
        bar2.wait();
        let mut got = 0;
        while got < rounds as u64 {
            got += wait_take(ep.as_raw_fd(), &*a2)?;
            b2.signal()?;
        }
        Ok(())
    });
    pin_current_thread(cpus.0)?;
    let ep = epoll_on(b.wait_fd().unwrap_or(-1))?;
    barrier.wait();
    let mut rt = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = now_ns();
        a.signal()?;
        wait_take(ep.as_raw_fd(), &*b)?;
        rt.push(now_ns() - t0);
    }
    pong.join()
        .map_err(|_| io::Error::other("pong panicked"))??;
    rt.sort_unstable();
    let mean = rt.iter().sum::<u64>() as f64 / rt.len() as f64;
    Ok((rt[rt.len() / 2] as f64 / 1e3, mean / 1e3))
}

fn main() -> io::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    println!("{rounds} round trips per case; median / mean µs per round trip (2 wakeups)");
    for (label, cpus) in [("same CPU", (0, 0)), ("two CPUs", (0, 1))] {
        let cases: Vec<Case> = vec![
            (
                "eventfd",
                Arc::new(Eventfd::new()?),
                Arc::new(Eventfd::new()?),
            ),
            (
                "efd-mask-fuse",
                Arc::new(MaskChannel::fuse(true)?),
                Arc::new(MaskChannel::fuse(true)?),
            ),
            (
                "efd-mask-socketpair",
                Arc::new(MaskChannel::socketpair(true)?),
                Arc::new(MaskChannel::socketpair(true)?),
            ),
        ];
        let mut base = 0.0;
        for (name, a, b) in cases {
            let (med, mean) = ping_pong(a, b, rounds, cpus)?;
            if name == "eventfd" {
                base = med;
            }
            println!(
                "{label:9} {name:20} median {med:8.2}  mean {mean:8.2}  ({:.1}x eventfd median)",
                med / base
            );
        }
    }
    // set() with nobody waiting: the in-process fast path.
    for backend in Backend::ALL {
        let m = MaskFd::new(*backend)?;
        let n = 1_000_000u64;
        let t0 = Instant::now();
        for i in 0..n {
            // Same events, new data: no transition for socketpair, no waiter for FUSE.
            m.set(POLLIN, i)?;
        }
        println!(
            "set() with nobody waiting, {backend}: {:.0} ns",
            t0.elapsed().as_nanos() as f64 / n as f64
        );
    }
    Ok(())
}
