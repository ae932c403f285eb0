//! The probes' live figures in the Prometheus text exposition format (version 0.0.4,
//! prometheus.io/docs/instrumenting/exposition_formats), and a tiny HTTP responder that
//! serves them on `/metrics` (`evbench trace --prometheus ADDR`).
//!
//! Own code rather than a client crate: `prometheus-client` writes OpenMetrics 1.0 only
//! (not the 0.0.4 text format named here) and its histograms take observations one at a
//! time, while ours arrive from the kernel already bucketed; the text format itself is a
//! few lines (`# HELP`, `# TYPE`, `name{label="value"} number`) and the tests check it
//! with the real parser: Debian's Prometheus server scraping it.
//!
//! Histograms are classic ones (`_bucket{le="…"}`, `_sum`, `_count`, seconds). Their
//! bounds are edges of the kernel's log-linear cells (`bench_common::hist`: 128 cells per
//! power of two for wakeup and off-CPU time, 16 for syscall latency): four per power of
//! two, 2^e·(1 + k/4) ns for 256 ns ≤ edge ≤ 2^36 ns (68.7 s). A bound is written as the
//! largest whole nanosecond below the edge (`le` is inclusive and the kernel's values
//! are whole nanoseconds), so every kernel cell falls wholly under one bound and the
//! bucket counts are exact, not interpolated. `_sum` comes from the cells' midpoints (the
//! kernel keeps counts per cell, not a sum): within half a cell's width, under 0.4% for
//! the 128-cell histograms and 3.2% for the syscall ones.
use std::{
    fmt::Write as _,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread::{Scope, ScopedJoinHandle},
    time::Duration,
};

use hdrhistogram::Histogram;

use crate::probes::{collect::KernelHist, Kernel};

/// The `Content-Type` of the text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The histogram bounds as cell edges in ns (the `le` of each is the edge minus 1 ns).
pub fn bucket_edges() -> Vec<u64> {
    let mut v = Vec::new();
    for e in 8..36u32 {
        for k in 0..4u64 {
            v.push((1u64 << e) + k * (1u64 << (e - 2)));
        }
    }
    v.push(1u64 << 36);
    v
}

/// `le` of a cell edge: the largest whole nanosecond below it, in seconds.
pub fn le_seconds(edge_ns: u64) -> f64 {
    (edge_ns - 1) as f64 / 1e9
}

/// A label value escaped as the format asks: backslash, double quote and newline.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text escaped: backslash and newline.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Builds the exposition: one family at a time, each with its HELP and TYPE lines.
struct Exposition {
    out: String,
    /// Labels put on every sample (`case="trace/…"`), already formatted.
    common: String,
}

impl Exposition {
    fn labels(&self, extra: &[(&str, &str)]) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.common.is_empty() {
            parts.push(self.common.clone());
        }
        for (k, v) in extra {
            parts.push(format!("{k}=\"{}\"", escape_label(v)));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", parts.join(","))
        }
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, extra: &[(&str, &str)], value: impl std::fmt::Display) {
        let l = self.labels(extra);
        let _ = writeln!(self.out, "{name}{l} {value}");
    }

    /// One histogram's samples (its family lines written by the caller).
    fn histogram(&mut self, name: &str, extra: &[(&str, &str)], h: Option<&Histogram<u64>>) {
        let edges = bucket_edges();
        let mut cumulative = vec![0u64; edges.len()];
        let (mut count, mut sum_ns) = (0u64, 0.0);
        if let Some(h) = h {
            for v in h.iter_recorded() {
                // The cell's highest value: below exactly one edge's bound and above the
                // previous one (edges are cell edges).
                let high = v.value_iterated_to();
                let n = v.count_at_value();
                if let Some(i) = edges.iter().position(|&e| high < e) {
                    cumulative[i] += n;
                }
                count += n;
                sum_ns += h.median_equivalent(high) as f64 * n as f64;
            }
        }
        let mut running = 0;
        for (edge, n) in edges.iter().zip(&cumulative) {
            running += n;
            let le = le_seconds(*edge).to_string();
            let mut labels = extra.to_vec();
            labels.push(("le", le.as_str()));
            self.sample(&format!("{name}_bucket"), &labels, running);
        }
        let mut labels = extra.to_vec();
        labels.push(("le", "+Inf"));
        self.sample(&format!("{name}_bucket"), &labels, count);
        self.sample(&format!("{name}_sum"), extra, sum_ns / 1e9);
        self.sample(&format!("{name}_count"), extra, count);
    }
}

/// Wakeup latency, same- and cross-CPU merged.
fn wakeups_merged(k: &Kernel) -> Option<Histogram<u64>> {
    let mut out: Option<Histogram<u64>> = None;
    for h in [&k.wakeup_same_cpu_ns, &k.wakeup_cross_cpu_ns]
        .into_iter()
        .flatten()
    {
        match &mut out {
            Some(o) => {
                let _ = o.add(&h.hist);
            }
            None => out = Some(h.hist.clone()),
        }
    }
    out
}

fn hist_of(h: &Option<KernelHist>) -> Option<&Histogram<u64>> {
    h.as_ref().map(|h| &h.hist)
}

/// The exposition of `k` (cumulative figures since the session began), every sample
/// labelled `case="CASE"` (the results document's case id). Families of the probe sets
/// that are not loaded are left out:
///
/// - `wakeup`: `evbench_wakeups_total` (sched_waking of a target thread) and the
///   histogram `evbench_wakeup_latency_seconds` (waking → running);
/// - `offcpu`: `evbench_voluntary_switches_total`, `evbench_involuntary_switches_total`,
///   `evbench_oncpu_seconds_total` and the histogram `evbench_offcpu_seconds`;
/// - `syscalls`: `evbench_syscalls_total{syscall="NAME"}` (exact) and the histogram
///   `evbench_syscall_latency_seconds{syscall="NAME"}` (1 call in `k.syscall_sample`
///   per thread and syscall is timed — 8 unless `evbench run --syscall-sample` or
///   `EVBENCH_SYSCALL_SAMPLE` says otherwise: its `_count` is the timed calls);
/// - always: `evbench_target_threads` (gauge), `evbench_drops_total`,
///   `evbench_unpaired_total`.
pub fn exposition(k: &Kernel, case: &str) -> String {
    let mut x = Exposition {
        out: String::new(),
        common: format!("case=\"{}\"", escape_label(case)),
    };
    let has = |set: &str| k.sets.split(',').any(|s| s == set);
    if has("wakeup") {
        x.family(
            "evbench_wakeups_total",
            "counter",
            "Wakeups of the target threads (sched_waking) since the session began.",
        );
        x.sample("evbench_wakeups_total", &[], k.wakeups());
        x.family(
            "evbench_wakeup_latency_seconds",
            "histogram",
            "Time from a target thread's wakeup (sched_waking) to it running (sched_switch), same- and cross-CPU wakeups together.",
        );
        x.histogram(
            "evbench_wakeup_latency_seconds",
            &[],
            wakeups_merged(k).as_ref(),
        );
    }
    if has("offcpu") {
        x.family(
            "evbench_voluntary_switches_total",
            "counter",
            "Context switches of the target threads that blocked (the kernel's nvcsw rule).",
        );
        x.sample("evbench_voluntary_switches_total", &[], k.voluntary());
        x.family(
            "evbench_involuntary_switches_total",
            "counter",
            "Context switches of the target threads that were preempted (nivcsw).",
        );
        x.sample("evbench_involuntary_switches_total", &[], k.involuntary());
        x.family(
            "evbench_oncpu_seconds_total",
            "counter",
            "Time the target threads ran on a CPU, from sched_switch.",
        );
        let oncpu: u64 = k.threads.iter().map(|t| t.oncpu_ns).sum();
        x.sample("evbench_oncpu_seconds_total", &[], oncpu as f64 / 1e9);
        x.family(
            "evbench_offcpu_seconds",
            "histogram",
            "Time a target thread stayed blocked (switched out blocked → switched in).",
        );
        x.histogram("evbench_offcpu_seconds", &[], hist_of(&k.offcpu_ns));
    }
    if has("syscalls") {
        x.family(
            "evbench_syscalls_total",
            "counter",
            "System calls the target threads completed, by name (exact counts).",
        );
        for s in &k.syscalls {
            x.sample(
                "evbench_syscalls_total",
                &[("syscall", s.name.as_str())],
                s.count,
            );
        }
        x.family(
            "evbench_syscall_latency_seconds",
            "histogram",
            &format!(
                "Latency of the timed system calls, by name: 1 call in {} per thread and syscall is timed, so _count is the timed calls (evbench_syscalls_total has them all).",
                k.syscall_sample
            ),
        );
        for s in &k.syscalls {
            x.histogram(
                "evbench_syscall_latency_seconds",
                &[("syscall", s.name.as_str())],
                Some(&s.latency_ns.hist),
            );
        }
    }
    x.family(
        "evbench_target_threads",
        "gauge",
        "Target threads the probes have figures for since the session began: named ones and those the kernel followed since, exited ones included.",
    );
    x.sample("evbench_target_threads", &[], k.threads.len());
    x.family(
        "evbench_drops_total",
        "counter",
        "Events the probes could not record (full maps, dropped samples).",
    );
    x.sample("evbench_drops_total", &[], k.drops());
    x.family(
        "evbench_unpaired_total",
        "counter",
        "Blocked intervals whose end no sched_switch showed (left out of evbench_offcpu_seconds).",
    );
    x.sample("evbench_unpaired_total", &[], k.unpaired());
    x.out
}

/// A running `/metrics` responder; [`MetricsServer::stop`] ends it.
pub struct MetricsServer<'scope> {
    stop: Arc<AtomicBool>,
    handle: ScopedJoinHandle<'scope, ()>,
}

impl MetricsServer<'_> {
    /// Ends the responder (within one poll, 20 ms) and waits for it. Connections still
    /// being read end on their own (their 2 s timeout, or their request then finds no
    /// figures to answer with and closes).
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.handle.join();
    }
}

/// Most connections served at once; more wait, unaccepted, in the listen backlog.
const MAX_CONNECTIONS: usize = 32;

/// How long a client has to send its request head, and to take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a connection's thread asks the responder for: the figures, answered on the
/// channel it sends along.
type BodyRequest = mpsc::Sender<Result<String, String>>;

/// Serves `body()` on `GET /metrics` (and `HEAD`), `Connection: close`; any other
/// path is 404, any other method 405; a body that fails is a 500 with its one-line
/// reason. `listener` is bound by the caller (so a bad address fails before the session
/// starts).
///
/// Connections are served concurrently: each is read and answered by a thread of its
/// own (at most [`MAX_CONNECTIONS`] at once; more wait in the listen backlog until one
/// ends), with [`CLIENT_TIMEOUT`] to send its whole request head and as much to take the
/// answer, so a client that connects and says nothing (a port scanner, a stuck proxy)
/// delays no other scrape, and a flood of them at most [`CLIENT_TIMEOUT`]. `body` itself runs on the responder's one
/// thread (it reads the probes' maps), called once per `/metrics` request. Polls for
/// connections and requests every 20 ms, so [`MetricsServer::stop`] is prompt without
/// another wake-up mechanism.
pub fn serve<'scope, 'env, F>(
    scope: &'scope Scope<'scope, 'env>,
    listener: TcpListener,
    body: F,
) -> std::io::Result<MetricsServer<'scope>>
where
    F: Fn() -> Result<String, String> + Send + 'scope,
{
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = scope.spawn(move || {
        let (ask, asked) = mpsc::channel::<BodyRequest>();
        let open = Arc::new(AtomicUsize::new(0));
        while !flag.load(Ordering::SeqCst) {
            let mut idle = true;
            let room = open.load(Ordering::SeqCst) < MAX_CONNECTIONS;
            match room.then(|| listener.accept()) {
                None => {}
                Some(Ok((conn, _))) => {
                    idle = false;
                    open.fetch_add(1, Ordering::SeqCst);
                    let (ask, done) = (ask.clone(), open.clone());
                    let spawned = std::thread::Builder::new()
                        .name("evbench-metrics".into())
                        .spawn(move || {
                            let _ = answer(conn, &ask);
                            done.fetch_sub(1, Ordering::SeqCst);
                        });
                    if spawned.is_err() {
                        open.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                Some(Err(_)) => {}
            }
            while let Ok(reply) = asked.try_recv() {
                idle = false;
                let _ = reply.send(body());
            }
            if idle {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    Ok(MetricsServer { stop, handle })
}

/// Reads one request's head and answers it (on the connection's own thread); the
/// figures come from the responder through `ask`.
fn answer(mut conn: TcpStream, ask: &mpsc::Sender<BodyRequest>) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    // One deadline for the whole head, not per read: a client trickling a byte now and
    // then cannot keep its thread (and, 32 of them, every slot) for long.
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        conn.set_read_timeout(Some(left))?;
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, content) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else if path != "/metrics" {
        ("404 Not Found", "text/plain", "try /metrics\n".to_string())
    } else {
        let (reply, figures) = mpsc::channel();
        let got = ask
            .send(reply)
            .ok()
            .and_then(|()| figures.recv_timeout(CLIENT_TIMEOUT).ok());
        match got {
            Some(Ok(b)) => ("200 OK", CONTENT_TYPE, b),
            Some(Err(e)) => (
                "500 Internal Server Error",
                "text/plain",
                format!("{}\n", e.replace('\n', " ")),
            ),
            None => (
                "503 Service Unavailable",
                "text/plain",
                "the session is ending\n".to_string(),
            ),
        }
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    )
    .into_bytes();
    if method != "HEAD" {
        reply.extend_from_slice(content.as_bytes());
    }
    conn.write_all(&reply)?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_common::hist;

    #[test]
    fn every_bound_is_a_cell_edge_of_both_cell_layouts() {
        let edges = bucket_edges();
        assert_eq!(edges.len(), 28 * 4 + 1);
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        for &e in &edges {
            for bits in [hist::SUB_BITS, hist::SYS_SUB_BITS] {
                let b = hist::bucket_bits(e, bits);
                assert_eq!(hist::bucket_low_bits(b, bits), e, "edge {e} bits {bits}");
            }
        }
    }

    #[test]
    fn buckets_are_exact_cumulative_counts() {
        let mut h = Histogram::<u64>::new(2).unwrap();
        // 255 ns sits under the first bound (le 255 ns), 256 ns above it.
        for (v, n) in [(255u64, 3u64), (256, 5), (1_000_000, 7)] {
            h.record_n(hist::bucket_low(hist::bucket(v)), n).unwrap();
        }
        let mut x = Exposition {
            out: String::new(),
            common: String::new(),
        };
        x.histogram("t", &[], Some(&h));
        let lines: Vec<&str> = x.out.lines().collect();
        assert_eq!(lines[0], "t_bucket{le=\"0.000000255\"} 3");
        assert_eq!(lines[1], "t_bucket{le=\"0.000000319\"} 8");
        // 1 ms: its cell [999424, 1003520) ns lies between the edges 917504 and 1048576.
        let le = le_seconds(1 << 20).to_string();
        assert!(
            x.out.contains(&format!("t_bucket{{le=\"{le}\"}} 15\n")),
            "{}",
            x.out
        );
        let below = le_seconds((1 << 19) + 3 * (1 << 17)).to_string();
        assert!(x.out.contains(&format!("t_bucket{{le=\"{below}\"}} 8\n")));
        assert!(x.out.contains("t_bucket{le=\"+Inf\"} 15\n"));
        assert!(x.out.contains("t_count 15\n"));
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    }
}
