//! What the kevent emulation costs next to epoll: pipetest (pipes, 200 channels, one
//! active channel, 50,000 writes, probes off) per wait mode, the modes alternated, and
//! the median of the per-measurement AVG µs/event.
//!
//!     cargo run --release -p workloads --example kevent_cost [alternations] [active] [mode]
//!
//! A quick side-by-side figure while working on the emulation, not the benchmark
//! (`cargo xtask bench kevent` writes the official one to results/).
use workloads::{observer::NoObserver, pipetest, stop::Stop, Mechanism, WaitMode};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let alternations: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let active: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    // Optional third argument: only this wait mode (e.g. for `perf record`).
    let only: Option<String> = args.next();
    let modes: Vec<WaitMode> = [WaitMode::Epoll, WaitMode::Kevent, WaitMode::KeventRing]
        .into_iter()
        .filter(|m| only.as_deref().is_none_or(|o| o == m.to_string()))
        .collect();
    let mut figs: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    // CPU time (user + system) of this thread per message: less sensitive than wall
    // time to being preempted on a shared machine.
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let stop = Stop::new();
    for _ in 0..alternations {
        for (i, &wait) in modes.iter().enumerate() {
            let cfg = pipetest::Config {
                active,
                mechanism: Mechanism::Pipe,
                wait,
                ..pipetest::Config::default()
            };
            let t0 = thread_cpu_ns();
            match pipetest::run(&cfg, &NoObserver, &stop) {
                Ok(o) => {
                    let msgs: u64 = o.runs.iter().map(|r| r.messages).sum();
                    cpu[i].push((thread_cpu_ns() - t0) as f64 / 1000.0 / msgs.max(1) as f64);
                    figs[i].push(o.avg_us);
                }
                Err(e) => {
                    eprintln!("kevent_cost: pipetest --wait {wait}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    let base = median(&mut figs[0].clone());
    let cbase = median(&mut cpu[0].clone());
    for (i, wait) in modes.iter().enumerate() {
        let m = median(&mut figs[i]);
        let c = median(&mut cpu[i]);
        println!(
            "{:<12} median {:.4} µs/event  {:.3}x   cpu {:.4} µs/event  {:.3}x   ({alternations} alternations, -a {active})",
            wait.to_string(),
            m,
            m / base,
            c,
            c / cbase
        );
    }
}

/// CPU time of the calling thread, ns (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
