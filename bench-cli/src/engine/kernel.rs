//! The probes' figures of one window, recorded into a repeat of the results document.
use crate::{
    probes::{collect::KernelHist, Kernel},
    results::{Hist, Metric, Repeat, PER_OP_NOISE_FLOOR},
};

/// Adds the probes' figures to `r`: every kernel histogram (`kernel.*`), the counts
/// (`kernel.voluntary`, …, `kernel.syscall.NAME`), the per-operation figures
/// (`syscalls_per_op`, `wakeups_per_op`, `switches_per_op`, lower is better) and the
/// full `Kernel` object under `details.kernel`. `ops` is the operations measured
/// in the same window (round trips, events, requests).
pub fn record_kernel(r: &mut Repeat, k: &Kernel, ops: u64) {
    let mut hist = |name: &str, h: &Option<KernelHist>| {
        if let Some(h) = h {
            r.histograms
                .insert(format!("kernel.{name}"), Hist::new("ns", &h.hist));
        }
    };
    hist("wakeup_same_cpu_ns", &k.wakeup_same_cpu_ns);
    hist("wakeup_cross_cpu_ns", &k.wakeup_cross_cpu_ns);
    hist("offcpu_ns", &k.offcpu_ns);
    hist("kfunc_ns", &k.kfunc_ns);
    for s in &k.syscalls {
        r.histograms.insert(
            format!("kernel.syscall.{}.latency_ns", s.name),
            Hist::new("ns", &s.latency_ns.hist),
        );
        r.counters
            .insert(format!("kernel.syscall.{}", s.name), s.count);
    }
    let (vol, invol, wake, sys) = (
        k.voluntary(),
        k.involuntary(),
        k.wakeups(),
        k.syscall_count(),
    );
    r.counter("kernel.voluntary", vol)
        .counter("kernel.involuntary", invol)
        .counter("kernel.wakeups", wake)
        .counter("kernel.syscalls", sys)
        .counter("kernel.drops", k.drops())
        .counter("kernel.recursion_misses", k.recursion_misses());
    if ops > 0 {
        let per = |n: u64| n as f64 / ops as f64;
        let sets = k.sets.as_str();
        r.metric(
            "switches_per_op",
            Metric::lower("switches/op").with_noise_floor(PER_OP_NOISE_FLOOR),
            per(vol + invol),
        );
        if sets.contains("wakeup") || wake > 0 {
            r.metric(
                "wakeups_per_op",
                Metric::lower("wakeups/op").with_noise_floor(PER_OP_NOISE_FLOOR),
                per(wake),
            );
        }
        if sets.contains("syscalls") || sys > 0 {
            r.metric(
                "syscalls_per_op",
                Metric::lower("syscalls/op").with_noise_floor(PER_OP_NOISE_FLOOR),
                per(sys),
            );
        }
    }
    r.detail("kernel", k);
}
