//! The probes' figures of one window, recorded into a repeat of the results document,
//! and a round's clean and probed passes combined into one repeat.
use std::time::Duration;

use crate::{
    probes::{collect::KernelHist, Kernel},
    results::{Better, Hist, Metric, Repeat, PER_OP_NOISE_FLOOR, PROBE_SLOWDOWN},
};

use super::Round;

/// One judged round as a results-document repeat: the clean pass's figures (the
/// headline), the probed pass under `probed`, its kernel figures beside the clean ones
/// (v1's paths: `counters["kernel.syscall.write"]`, `histograms["kernel.offcpu_ns"]`,
/// the per-op metrics), and `probe_slowdown`: the probed pass's time per operation over
/// the clean one's, from the `headline` metric (for a higher-is-better rate, clean ÷
/// probed). A round whose clean pass never ran (the run was stopped) is marked
/// interrupted and keeps only the probed figures; `None` when neither pass ran.
pub fn combine(round: &Round, headline: (&str, Better)) -> Option<Repeat> {
    let mut r = match (&round.clean, &round.probed) {
        (None, None) => return None,
        (Some(c), _) => c.repeat.clone(),
        (None, Some((p, _))) => {
            let mut r = Repeat::new(Duration::ZERO);
            r.interrupted = true;
            r.start_ns = p.repeat.start_ns;
            r
        }
    };
    if let Some((p, kernel)) = &round.probed {
        if let Some(k) = kernel {
            record_kernel(&mut r, k, p.ops);
        }
        if p.repeat.interrupted {
            r.interrupted = true;
        }
        if let Some(c) = &round.clean {
            let (name, better) = headline;
            if let (Some(&clean), Some(&probed)) =
                (c.repeat.metrics.get(name), p.repeat.metrics.get(name))
            {
                let s = match better {
                    Better::Higher => clean / probed,
                    _ => probed / clean,
                };
                r.metric(PROBE_SLOWDOWN, Metric::neither("×"), s);
            }
        }
        let mut probed = p.repeat.clone();
        probed.index = r.index;
        r.probed = Some(Box::new(probed));
    }
    Some(r)
}

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
        // Latencies are timed for 1 call in --syscall-sample per (thread, syscall):
        // the histogram's count, kept beside the exact count.
        r.counters
            .insert(format!("kernel.syscall.{}.sampled", s.name), s.sampled);
    }
    let (vol, invol, wake, sys) = (
        k.voluntary(),
        k.involuntary(),
        k.wakeups(),
        k.syscall_count(),
    );
    // A count only where a probe set counted it: no figure is not a zero.
    let sets = k.sets.as_str();
    let switches = sets.contains("offcpu") || sets.contains("wakeup");
    if switches {
        r.counter("kernel.voluntary", vol)
            .counter("kernel.involuntary", invol);
    }
    if sets.contains("wakeup") {
        r.counter("kernel.wakeups", wake);
    }
    if sets.contains("syscalls") {
        r.counter("kernel.syscalls", sys);
    }
    r.counter("kernel.drops", k.drops())
        .counter("kernel.recursion_misses", k.recursion_misses())
        .counter("kernel.wakeups_pending", k.wakeups_pending)
        .counter("kernel.wakeups_unpaired", k.wakeups_unpaired())
        .counter("kernel.wakeup_samples", k.wakeup_samples());
    for key in crate::probes::collect::RARE_KEYS {
        r.counter(&format!("kernel.rare.{key}"), k.rare(key));
    }
    r.counter("kernel.syscall_sample", u64::from(k.syscall_sample));
    if ops > 0 {
        let per = |n: u64| n as f64 / ops as f64;
        // Switches are counted by the sched_switch program, which only the wakeup and
        // offcpu sets attach: without them there is no figure, not a zero.
        if switches {
            r.metric(
                "switches_per_op",
                Metric::lower("switches/op").with_noise_floor(PER_OP_NOISE_FLOOR),
                per(vol + invol),
            );
        }
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
