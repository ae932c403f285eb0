//! `evbench run http`: for each wait mode, start `evbench serve` as a child process (its
//! own fd limit; probes follow its loop threads only), drive it from this process with
//! the load client, and report req/s, latency, errors and the server's per-request
//! figures for the measured window.
use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::Mutex,
};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use workloads::{
    http::{self, ErrorCounts, HttpWait, LoadReport, Pace, ServerStats},
    stop::Stop,
    Observer, TaskInfo,
};

use crate::{
    cli::HttpArgs,
    output::{count, warn},
    probes::{Kernel, Probes},
    results::{Case, Metric, Percentiles, Repeat},
};

use super::{Figures, PassResult, Spec};

/// One pass of one wait mode.
#[derive(Debug, Serialize)]
pub struct HttpPass {
    pub wait: String,
    pub workers: u32,
    pub body_size: usize,
    pub connections: u32,
    /// Open-loop rate, req/s (absent: closed loop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub keep_alive: bool,
    pub client: LoadFigures,
    /// The server's own counters over the measured window.
    pub server: ServerStats,
    pub per_request: PerRequest,
    /// The probes' figures of the server's window (probed passes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
}

/// Server figures divided by the requests it answered in the window.
#[derive(Debug, Default, Serialize)]
pub struct PerRequest {
    pub wait_calls: f64,
    pub events: f64,
    pub wait_ns: f64,
    /// From the offcpu probes, when on: the server's voluntary context switches (its
    /// sleeps in the wait call) and on-CPU time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voluntary_switches: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oncpu_ns: Option<f64>,
    /// From the wakeup probes: times the server's threads were woken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wakeups: Option<f64>,
    /// From the syscalls probes: syscalls the server made, and the on-CPU time spent
    /// inside its wait calls (epoll_wait, poll, select and their variants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_oncpu_ns: Option<f64>,
}

/// Syscalls a server loop waits in, across the wait modes.
const WAIT_SYSCALLS: &[&str] = &[
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
];

/// A server child in `--control` mode.
struct ServerChild {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
    tids: Vec<u32>,
}

impl ServerChild {
    fn start(wait: &HttpWait, args: &HttpArgs) -> Result<Self> {
        // /proc/self/exe, not current_exe()'s path: the running image stays executable
        // through it when the file was replaced or removed (an upgrade or a rebuild during
        // a long run made "cannot start the server process: No such file" in the soak).
        let mut cmd = Command::new("/proc/self/exe");
        cmd.args(["serve", "--control", "--addr", "127.0.0.1:0", "--wait"])
            .arg(wait.name())
            .arg("--workers")
            .arg(args.workers.to_string())
            .arg("--body-size")
            .arg(args.body_size.to_string())
            .arg("--path")
            .arg(&args.client.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(cpu) = args.server_cpu {
            cmd.arg("--server-cpu").arg(cpu.to_string());
        }
        let l = &args.limits;
        for (flag, d) in [
            ("--keep-alive-idle", l.keep_alive_idle),
            ("--head-timeout", l.head_timeout),
            ("--write-idle", l.write_idle),
            ("--linger-timeout", l.linger_timeout),
        ] {
            cmd.arg(flag).arg(format!("{}ns", d.as_nanos()));
        }
        let mut child = cmd.spawn().context("cannot start the server process")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("no server stdout")?);
        let mut s = Self {
            child,
            stdin,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tids: Vec::new(),
        };
        s.addr = s
            .expect("listening")?
            .parse()
            .context("the server printed a bad address")?;
        s.tids = s
            .expect("tids")?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("the server printed bad thread ids")?;
        Ok(s)
    }

    /// The rest of the next line, which must start with `tag`.
    fn expect(&mut self, tag: &str) -> Result<String> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line)?;
        if n == 0 {
            let status = self.child.wait()?;
            bail!("the server process ended ({status}) before saying '{tag}'");
        }
        let line = line.trim_end();
        match line.strip_prefix(tag) {
            Some(rest) => Ok(rest.trim().to_string()),
            None => bail!("the server said '{line}' where '{tag}' was expected"),
        }
    }

    /// Why the child is gone, if it is (reaped here, so it never lingers as a zombie):
    /// one phrase naming it, its pid and how it ended.
    fn gone(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        use std::os::unix::process::ExitStatusExt;
        let how = match status.signal() {
            Some(sig) => format!("was killed by signal {sig} ({})", signal_name(sig)),
            None => format!("exited ({status})"),
        };
        Some(format!(
            "the server process (evbench serve, pid {}) {how}",
            self.child.id()
        ))
    }

    fn stats(&mut self) -> Result<ServerStats> {
        // Checked first: writing to a dead child's stdin would raise SIGPIPE, which
        // ends evbench (main restores its default action).
        if let Some(why) = self.gone() {
            bail!("{why}");
        }
        let stdin = self.stdin.as_mut().context("server stdin closed")?;
        writeln!(stdin, "stats")?;
        stdin.flush()?;
        Ok(serde_json::from_str(&self.expect("stats")?)?)
    }

    fn finish(mut self) -> Result<ServerStats> {
        drop(self.stdin.take());
        let stats = serde_json::from_str(&self.expect("final")?)?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the server process failed: {status}");
        }
        Ok(stats)
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Marks the measured window: switches the probes and snapshots the server's counters.
struct Window<'a> {
    probes: Option<&'a Probes>,
    server: Mutex<&'a mut ServerChild>,
    snaps: Mutex<Vec<Result<ServerStats>>>,
}

impl Observer for Window<'_> {
    fn task_started(&self, _task: &TaskInfo) {}
    fn measuring(&self, on: bool) {
        // The counters snapshot makes the server's control thread answer: it stays
        // outside the probes' window on both edges (snapshot, then open; close, then
        // snapshot), so none of evbench's control work is counted.
        let snapshot = || {
            let snap = self
                .server
                .lock()
                .map_err(|_| anyhow!("poisoned"))
                .and_then(|mut s| s.stats());
            if let Ok(mut v) = self.snaps.lock() {
                v.push(snap);
            }
        };
        if on {
            snapshot();
        }
        if let Some(p) = self.probes {
            p.measuring(on);
        }
        if !on {
            snapshot();
        }
    }
}

/// One case per server wait mode `args` names (`all`: every one).
pub fn specs(args: &HttpArgs) -> Result<Vec<Spec>> {
    Ok(args
        .modes()?
        .into_iter()
        .map(|w| {
            let mut a = args.clone();
            a.wait = vec![w.name().to_string()];
            Spec::Http(a)
        })
        .collect())
}

/// Checks the client's options before anything starts (the fd limit raised first, as
/// a pass raises it): one line naming what is wrong.
pub fn validate(args: &HttpArgs) -> std::io::Result<()> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    args.modes().map_err(|e| bad(format!("{e:#}")))?;
    let mut cfg = args
        .client
        .config(SocketAddr::from(([127, 0, 0, 1], 1)), None)
        .map_err(|e| bad(format!("{e:#}")))?;
    // Everything but the connections' fds: those are checked by `check_fds` once the
    // probes (30-odd fds of this process) are loaded, or the most that fit is wrong.
    cfg.connections = 1;
    cfg.validate().map_err(bad)?;
    // The server child would refuse the same way, but only after it started.
    server_args(args, &HttpWait::all()[0]).config().validate()
}

/// Checks that the load client's connections fit in this process's fds as they are now
/// (the probes loaded and attached, see `Session::check_fds`) with the client's own
/// reserve and the server child's stdin and stdout pipes ([`SERVER_PIPE_FDS`], opened
/// before the client starts); the soft RLIMIT_NOFILE is first raised to the hard one.
/// The server child is a process of its own with its own fd table (and http never runs
/// under `--user`). Errors: one line naming the most connections that fit here.
pub fn check_fds(args: &HttpArgs) -> std::io::Result<()> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    http::raise_nofile_limit()?;
    args.client
        .config(SocketAddr::from(([127, 0, 0, 1], 1)), None)
        .map_err(|e| bad(format!("{e:#}")))?
        .validate_beside(SERVER_PIPE_FDS)
        .map_err(bad)
}

/// fds this process holds per pass for its server child: the child's stdin and stdout.
const SERVER_PIPE_FDS: u64 = 2;

/// What `evbench serve` is told by `run http` (its own options, as ServeArgs).
fn server_args(args: &HttpArgs, wait: &HttpWait) -> crate::cli::ServeArgs {
    crate::cli::ServeArgs {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        wait: wait.clone(),
        workers: args.workers,
        body_size: args.body_size,
        body_file: None,
        path: args.client.path.clone(),
        max_header_bytes: 8192,
        server_cpu: args.server_cpu,
        duration: None,
        limits: args.limits.clone(),
        json: false,
        control: true,
    }
}

/// An empty results-document case for one wait mode: its id and options.
pub fn new_case(args: &HttpArgs) -> Case {
    let mut case = Case::new("http", None, Some(&args.wait.join(",")), None);
    case.option("workers", args.workers)
        .option("body_size", args.body_size)
        .option("server_cpu", args.server_cpu)
        .option("client_cpu", args.client_cpu)
        .option("connections", args.client.connections)
        .option("rate", args.client.rate)
        .option("duration_s", args.client.duration.as_secs_f64())
        .option("warmup_s", args.client.warmup_time.as_secs_f64())
        .option("keep_alive", !args.client.no_keepalive)
        .option("timeout_s", args.client.timeout.as_secs_f64())
        .option("threads", args.client.threads)
        .option("path", &args.client.path);
    case
}

/// Runs one pass of one wait mode: a fresh server child, the load client's warm-up and
/// measured window; `probes` (a probed pass) follow the server's loop threads.
pub fn pass(args: &HttpArgs, probes: Option<&Probes>, stop: &Stop) -> Result<PassResult> {
    let mut modes = args.modes()?;
    if modes.len() != 1 {
        bail!(
            "an http case has exactly one wait mode, not {:?}",
            args.wait
        );
    }
    let wait = modes.remove(0);
    http::raise_nofile_limit().context("cannot raise the fd limit")?;
    if let Some(cpu) = args.client_cpu {
        workloads::pingpong::pin_current_thread(cpu)
            .with_context(|| format!("cannot pin the client to CPU {cpu}"))?;
    }
    let (row, latency) = one_case(&wait, args, probes, stop)
        .with_context(|| format!("http with wait mode {wait}"))?;
    let mut r = Repeat::new(std::time::Duration::from_secs_f64(
        row.client.seconds.max(0.0),
    ));
    // No request answered: no rate was measured, so the repeat carries none (a 0 would
    // count as a figure in `across`); `metric` leaves a NaN out.
    let rate = if row.client.requests > 0 {
        row.client.req_per_sec
    } else {
        f64::NAN
    };
    r.metric("requests_per_sec", Metric::higher("req/s"), rate)
        .histogram("request_ns", "ns", &latency)
        .counter("requests", row.client.requests)
        .counter("errors", row.client.errors_total)
        .detail("client", &row.client)
        .detail("server", row.server)
        .detail("per_request", &row.per_request);
    r.interrupted = row.client.interrupted;
    Ok(PassResult {
        repeat: r,
        ops: row.server.requests,
        warnings: row.client.warning().into_iter().collect(),
        figures: Figures::Http(Box::new(row)),
    })
}

fn one_case(
    wait: &HttpWait,
    args: &HttpArgs,
    probes: Option<&Probes>,
    stop: &Stop,
) -> Result<(HttpPass, hdrhistogram::Histogram<u64>)> {
    let mut server = ServerChild::start(wait, args)?;
    if let Some(p) = probes {
        for (i, &tid) in server.tids.iter().enumerate() {
            p.task_started(&TaskInfo {
                tid,
                index: i as u32,
                role: "server",
            });
        }
    }
    let cfg = args.client.config(server.addr, None)?;
    let window = Window {
        probes,
        server: Mutex::new(&mut server),
        snaps: Mutex::new(Vec::new()),
    };
    let report = http::client::run(&cfg, &window, stop).context("the load run failed")?;
    let snaps = window.snaps.into_inner().map_err(|_| anyhow!("poisoned"))?;
    // An interrupted run may never have closed its window: nothing to read then.
    let kernel = match probes {
        Some(p) if snaps.len() == 2 => Some(p.collect()?),
        _ => None,
    };
    // A server that died mid-run (killed, crashed) keeps what the client measured until
    // then: the pass is marked cut short and the run goes on, saying why.
    let died = server.gone();
    let total = match &died {
        Some(why) => {
            warn(&format!(
                "{why} during the {wait} pass; its figures cover the requests until then and the pass is left out of the statistics"
            ));
            ServerStats::default()
        }
        None => server.finish()?,
    };
    let window_stats = match snaps.as_slice() {
        [Ok(a), Ok(b)] => b.since(*a),
        _ if died.is_some() => total,
        [Err(e), ..] | [_, Err(e)] => {
            return Err(anyhow!("cannot read the server's counters: {e:#}"))
        }
        _ => {
            // Interrupted before the window closed: the whole run stands in.
            warn("the measured window did not complete; server figures cover the whole run");
            total
        }
    };
    let mut client = LoadFigures::of(&report);
    client.interrupted |= died.is_some();
    let r = window_stats.requests.max(1) as f64;
    let per_request = PerRequest {
        wait_calls: window_stats.waits as f64 / r,
        events: window_stats.events as f64 / r,
        wait_ns: window_stats.wait_ns as f64 / r,
        voluntary_switches: kernel.as_ref().map(|k| k.voluntary() as f64 / r),
        oncpu_ns: kernel
            .as_ref()
            .map(|k| k.threads.iter().map(|t| t.oncpu_ns).sum::<u64>() as f64 / r),
        wakeups: kernel
            .as_ref()
            .filter(|k| k.sets.contains("wakeup"))
            .map(|k| k.wakeups() as f64 / r),
        syscalls: kernel
            .as_ref()
            .filter(|k| !k.syscalls.is_empty())
            .map(|k| k.syscall_count() as f64 / r),
        wait_oncpu_ns: kernel.as_ref().filter(|k| !k.syscalls.is_empty()).map(|k| {
            k.syscalls
                .iter()
                .filter(|s| WAIT_SYSCALLS.contains(&s.name.as_str()))
                .map(|s| s.oncpu_ns.summary.mean * s.oncpu_ns.summary.count as f64)
                .sum::<f64>()
                / r
        }),
    };
    let case = HttpPass {
        wait: wait.name().to_string(),
        workers: args.workers,
        body_size: args.body_size,
        connections: args.client.connections,
        rate: match cfg.pace {
            Pace::Closed => None,
            Pace::Rate(r) => Some(r),
        },
        keep_alive: cfg.keep_alive,
        client,
        server: window_stats,
        per_request,
        kernel,
    };
    Ok((case, report.latency))
}

/// What a load run measured, as reports print it. Rates are achieved ones: requests
/// answered within the measured window per second of it; in an open loop the offered
/// rate stands beside it, with what the schedule could not fit (late, missed).
#[derive(Clone, Debug, Serialize)]
pub struct LoadFigures {
    /// Requests answered within the measured window.
    pub requests: u64,
    pub seconds: f64,
    /// Achieved: `requests` per measured second.
    pub req_per_sec: f64,
    /// Open loop: the rate asked for (`--rate`), req/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_rate: Option<f64>,
    /// Open loop: the achieved rate is more than 5% below the offered one.
    pub below_target: bool,
    /// Scheduled in the window and answered after its end (latency from the schedule).
    pub late: u64,
    /// Scheduled in the window and never sent (the client could not keep up).
    pub missed: u64,
    /// Requests that ended in an error.
    pub failed: u64,
    /// Everything the window scheduled: requests + late + failed + missed.
    pub scheduled: u64,
    /// Idle connections the server closed, resent once on a new one.
    pub reconnects: u64,
    /// Warm-up requests still behind schedule when the window opened, dropped.
    pub warmup_dropped: u64,
    pub errors: ErrorCounts,
    pub errors_total: u64,
    /// From the scheduled send time (open loop) or the send (closed loop), ns; absent
    /// when no request succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ns: Option<Percentiles>,
    /// From the actual send, ns; absent when no request succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_ns: Option<Percentiles>,
    pub bytes: u64,
    pub peak_connections: u64,
    pub interrupted: bool,
}

impl LoadFigures {
    pub fn of(r: &LoadReport) -> Self {
        let some = r.latency_if_any().is_some();
        Self {
            requests: r.requests,
            seconds: r.elapsed.as_secs_f64(),
            req_per_sec: r.req_per_sec(),
            offered_rate: r.offered_rate,
            below_target: r.below_target,
            late: r.late,
            missed: r.missed,
            failed: r.failed,
            scheduled: r.scheduled,
            reconnects: r.reconnects,
            warmup_dropped: r.warmup_dropped,
            errors: r.errors,
            errors_total: r.errors.total(),
            latency_ns: some.then(|| Percentiles::of(&r.latency)),
            service_ns: some.then(|| Percentiles::of(&r.service)),
            bytes: r.bytes,
            peak_connections: r.peak_connections,
            interrupted: r.interrupted,
        }
    }

    /// One line when the open loop fell short of its target by more than 5 %, worded
    /// as the client's own (`LoadReport::warning`): achieved vs offered, missed, late.
    pub fn warning(&self) -> Option<String> {
        let offered = self.offered_rate.filter(|_| self.below_target)?;
        Some(format!(
            "achieved {} req/s, {:.1} % below the offered {} req/s \
             ({} of {} scheduled requests missed, {} late)",
            count(self.req_per_sec.round() as u64),
            100.0 * (1.0 - self.req_per_sec / offered),
            count(offered.round() as u64),
            count(self.missed),
            count(self.scheduled),
            count(self.late)
        ))
    }

    /// `refused 0, reset 0, ...` with only the non-zero kinds, or `none`.
    pub fn errors_line(&self) -> String {
        let e = &self.errors;
        let kinds = [
            ("refused", e.refused),
            ("reset", e.reset),
            ("timeout", e.timeout),
            ("bad response", e.bad_response),
            ("closed", e.closed),
            ("other", e.other),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{} {k}", count(*n)))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The conventional name of a signal number, for messages.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}
