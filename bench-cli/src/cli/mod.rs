//! Command-line types. Everything a user types is parsed here and nowhere else; the
//! commands receive checked values.
pub mod scan;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{anyhow, bail, Result};
use clap::{Args, Parser, Subcommand};
use workloads::{
    http::{BodySource, HttpWait, LoadConfig, Pace, ServerConfig, Site},
    pingpong::{Pin, Tasks, Topology},
    Mechanism, WaitMode,
};

use crate::probes::ProbeSets;
pub use scan::ScanArg;

/// The most round trips / writes a count flag takes (10^12: days of measuring).
pub const MAX_ROUNDS: u64 = 1_000_000_000_000;
/// The largest response body, bytes (1 GiB; it is held in memory).
pub const MAX_BODY: u64 = 1 << 30;

const ABOUT: &str =
    "Benchmark and trace Linux event notification (pipe, eventfd, emulated kevent) with eBPF";

const LONG_ABOUT: &str = "\
evbench runs event-notification workloads (ping-pong between tasks, ...) while eBPF probes
measure in the kernel how the tasks are switched and woken, and reports HDR histograms.

Probes need root (or CAP_BPF + CAP_PERFMON) and a kernel with BTF; without them the
workloads still run with userspace timing only, and every report says so.";

const EXAMPLES: &str = "\
Examples:
  evbench run                                  the default suite
  evbench run pingpong --rounds 100000         two threads bounce a token over pipes
  evbench run pingpong --pin same --json       both tasks on CPU 0, one JSON document
  evbench run pingpong --probes none           userspace timing only
  evbench doctor                               what this machine allows, and how to fix it
  evbench list                                 workloads, mechanisms, wait modes, probe sets";

#[derive(Parser, Debug)]
#[command(name = "evbench", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one workload, or the default suite when none is named.
    #[command(after_help = "\
Examples:
  evbench run                              the default suite
  evbench run pingpong --rounds 50000      one ping-pong case
  evbench run pingpong -o result.json      also write the results document to a file
  evbench run --repeat 5 -o current.json   the suite, 5 repeats per case, for `evbench compare`
  evbench run pipetest --hlog run.hlog     the HdrHistogram interval log too
  evbench run pipetest -W poll --scan channels=200..3200:5log -o scan.json
                                           one case per channel count; `evbench report
                                           scan.json --svg plots/` fits and draws the curve
  evbench run pipetest -W epoll-et,poll --scan channels=200..2000:3log
                                           -m and -W take comma-separated lists: every
                                           mechanism × wait mode at every value, a line each")]
    Run(RunArgs),
    /// Check what this machine allows: privileges, BTF, tracefs, programs loaded for real.
    #[command(after_help = "\
Each line is one check with its verdict, the errno of the real attempt, and a fix.
Exit status: 0 when everything the core probes need works, 1 otherwise.

Examples:
  evbench doctor
  evbench doctor --json | jq '.checks[] | select(.verdict != \"ok\")'")]
    Doctor(DoctorArgs),
    /// List the workloads, mechanisms, wait modes and probe sets.
    List(ListArgs),
    /// Render a saved result: terminal report, Markdown, SVG plots, HTML, HdrHistogram log.
    #[command(after_help = "\
Examples:
  evbench report result.json                      tables, percentiles, ASCII histograms
  evbench report result.json --markdown           the same as Markdown on stdout
  evbench report result.json --svg plots/ --html report.html --hlog result.hlog")]
    Report(ReportArgs),
    /// The regression gate: judge CURRENT against BASELINE, metric by metric.
    #[command(after_help = "\
Each metric is judged from its repeats (percentile bootstrap of the change of medians):
regressed / improved when the 99% interval lies wholly beyond the threshold, unchanged
when the 90% interval lies wholly within it (TOST), inconclusive otherwise. Near a zero
baseline the difference of medians is judged against the metric's noise floor.
Judged by default: every headline and per-op count; histogram p50/p99 with --percentiles.
Exit status: 0 nothing regressed; 1 something regressed (or inconclusive, with
--fail-on inconclusive); 2 the gate could not judge: unusable input, nothing judged,
an output not written, different machines with --strict. 2 wins over 1.

Examples:
  evbench compare base.json cur.json
  evbench compare --baseline a1.json a2.json --current b1.json b2.json --markdown summary.md
  evbench compare base.json cur.json --threshold 3% --strict --fail-on inconclusive")]
    Compare(CompareArgs),
    /// Serve HTTP with one of the wait modes, until Ctrl-C (for wrk, httperf, `evbench load`).
    #[command(after_help = "\
Examples:
  evbench serve --wait epoll --addr 0.0.0.0:8080
  evbench serve --wait tokio --workers 2 --body-size 4096
  wrk -c 64 -d 10 http://127.0.0.1:8080/")]
    Serve(ServeArgs),
    /// Load an HTTP server (any: evbench serve, lighttpd, nginx) and report req/s and latency.
    #[command(after_help = "\
Examples:
  evbench load --server 127.0.0.1:8080 -c 64 -d 10
  evbench load --server 127.0.0.1:8080 --rate 20000      open loop, wrk2-style latency")]
    Load(LoadArgs),
    /// Trace processes evbench did not start, or a command it starts: the same probes and
    /// histograms as `evbench run`, on anyone's threads.
    #[command(after_help = "\
The command mode behaves like the command: it stays in the terminal's foreground process
group (Ctrl-C reaches it as without evbench), a SIGINT or SIGTERM sent to evbench alone is
forwarded to it, and evbench exits with its status (128+N when killed by signal N; 125 when
evbench itself fails, 126 not executable, 127 not found). The report goes to stderr there,
so it never mixes with the command's output. A signal ignored when evbench started (nohup,
a background job of a script) stays ignored, in evbench and in the command.

Outputs that cannot be written (-o, --interval-json, including a stream whose reader went
away): one line naming the file and the cause, the session goes on and its report and other outputs are still written; a results
document -o could not take is kept in $TMPDIR (path printed) or, with --json, on stdout.
Exit status then: 2 without a command (as `evbench run`); with a command, 125 if the
command exited 0, else the command's own status.

Examples:
  evbench trace -- make -j2                         trace a build and its children
  evbench trace --pid 1234 --interval 1s            a running server, one line per second
  evbench trace --pid 1234 -d 30s -o trace.json     30 seconds, then the results document
  evbench trace --pid 1234 --prometheus 9464        live metrics on 127.0.0.1:9464/metrics")]
    Trace(TraceArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  evbench completions bash > /etc/bash_completion.d/evbench
  evbench completions zsh > \"${fpath[1]}/_evbench\"")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    #[command(subcommand)]
    pub workload: Option<WorkloadCmd>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// The workload's options given on the command line (clap ids: `channels`,
    /// `topology`, `body_size`, ...), as [`parse`] fills it: a scan refuses to set one of
    /// them (it would silently drop the value given). Not an option itself.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// Parses the command line as [`Cli`] does, and records in `run`'s [`RunArgs::given`]
/// which workload options were typed (clap's derive keeps only the values, so `-n 200`
/// and the default 200 look alike). Errors: clap's.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command();
    let matches = command.clone().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Run(run), Some(("run", m))) = (&mut cli.command, matches.subcommand()) {
        if let Some((name, w)) = m.subcommand() {
            // The workload's own options (the unbuilt command holds no global ones).
            let own = command
                .find_subcommand("run")
                .and_then(|r| r.find_subcommand(name))
                .map(|c| {
                    c.get_arguments()
                        .map(|a| a.get_id().clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            run.given = own
                .iter()
                .filter(|id| {
                    matches!(
                        w.value_source(id.as_str()),
                        Some(clap::parser::ValueSource::CommandLine)
                    )
                })
                .map(|id| id.as_str().to_string())
                .collect();
        }
    }
    Ok(cli)
}

/// [`parse_from`] of this process's arguments.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

/// Options of `evbench trace`.
#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// Trace this process: every thread of it, and the threads and children it creates
    /// later (repeatable). Kernel (init namespace) process ids.
    #[arg(long = "pid", value_name = "PID", allow_hyphen_values = true,
          value_parser = whole::<u32>(1, u64::from(u32::MAX)))]
    pub pids: Vec<u32>,
    /// Trace every task in this cgroup v2 directory and its descendant cgroups,
    /// including tasks that join later (filtered in the kernel). A cgroup v1 or plain
    /// directory is refused. Adoption is sticky: a task that later leaves the cgroup
    /// stays traced, and so do the threads and children it creates afterwards.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// Trace the processes named NAME (exact, as `pgrep -x`; at most 15 bytes), with
    /// all their threads, including ones that start, exec or are renamed later.
    /// Adoption is sticky: a process that later execs or is renamed to another name
    /// stays traced, and so do the threads and children it creates afterwards.
    #[arg(long, value_name = "NAME")]
    pub comm: Option<String>,
    /// The case id's last part in the results document (`trace/NAME`), stable across
    /// sessions; default `cmd=ARGV0`, `comm=NAME`, `cgroup=PATH` or `comm=COMM` of the
    /// --pid targets.
    #[arg(long, value_name = "ID")]
    pub name: Option<String>,
    /// End the session after this long (default: until the targets exit or Ctrl-C).
    #[arg(long, short = 'd', value_name = "DURATION", allow_hyphen_values = true,
          value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,
    /// Print a compact line per probe set to stderr every DURATION (like `runqlat 1`,
    /// `syscount -i 1`); each interval is a repeat in the results document.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true,
          value_parser = parse_positive_duration)]
    pub interval: Option<Duration>,
    /// Write each interval as one JSON line to FILE, flushed per line (`-`: stdout, only
    /// without a command). Implies --interval 1s unless --interval is given.
    #[arg(long, value_name = "FILE")]
    pub interval_json: Option<PathBuf>,
    /// Probe sets to attach: a comma-separated list, `default` or `all` (see `evbench list`).
    #[arg(long, default_value = "default", value_name = "LIST", value_parser = PROBE_SETS)]
    pub probes: ProbeSets,
    /// With the kfunc probe set: the kernel function to time with fentry/fexit.
    #[arg(long, value_name = "NAME")]
    pub kfunc: Option<String>,
    /// Print the results document (JSON, results/SCHEMA.md) on stdout instead of the
    /// human report (only without a command: stdout is the command's).
    #[arg(long)]
    pub json: bool,
    /// Also write the results document to FILE.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No interval lines on stderr and no final report (files are still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Run the command as NAME (a name, or a uid the user database knows): its uid, gid
    /// and groups, no capabilities, no_new_privs, no fd of evbench's beyond 0-2, and the
    /// environment `su NAME` would give: NAME's HOME/USER/LOGNAME/SHELL, without the
    /// invoker's session and private places (XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS,
    /// MAIL, SUDO_*, SSH_AUTH_SOCK, ..., any value naming a path inside the invoker's
    /// home ($HOME and the passwd one) or runtime directory, `..` and symlinks resolved;
    /// path lists lose only those entries; README's "Privileges"). Needs root
    /// (CAP_SETUID, CAP_SETGID).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Serve the live counters and histograms on http://ADDR/metrics in the Prometheus
    /// text exposition format, for a Prometheus server to scrape. A bare port binds
    /// 127.0.0.1 (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    pub prometheus: Option<SocketAddr>,
    /// The command to run and trace with its descendants, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Options every workload takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Probe sets to attach: a comma-separated list, `default`, `all` or `none`
    /// (see `evbench list`).
    #[arg(long, global = true, default_value = "default", value_name = "LIST",
          value_parser = PROBE_SETS)]
    pub probes: ProbeSets,
    /// With the kfunc probe set: the kernel function to time with fentry/fexit.
    #[arg(long, global = true, value_name = "NAME")]
    pub kfunc: Option<String>,
    /// Print the results document (JSON, results/SCHEMA.md) on stdout instead of the
    /// human report.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the results document to FILE.
    #[arg(short = 'o', long = "output", global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Measure each case K times and report the spread across the repeats (what one
    /// measurement is depends on the workload: see its --help). `auto`: start at 6 and
    /// add interleaved rounds until each case's headline is known to --precision, or
    /// --max-time ends.
    #[arg(
        long,
        global = true,
        default_value = "1",
        value_name = "K|auto",
        allow_hyphen_values = true
    )]
    pub repeat: Repeats,
    /// With --repeat auto: the target half-width of the 95% interval of each case's
    /// headline median ("2%" or a fraction below 1) [default: 2%]. Refused without
    /// --repeat auto.
    #[arg(long, global = true, value_name = "PCT", allow_hyphen_values = true)]
    pub precision: Option<Precision>,
    /// With --repeat auto: the time budget of the whole run, its first 6 rounds included
    /// (no pass starts after it; a begun round completes); cases not precise enough by
    /// then are named [default: 10m]. Refused without --repeat auto.
    #[arg(long, global = true, value_name = "DURATION",
          allow_hyphen_values = true, value_parser = parse_positive_duration)]
    pub max_time: Option<Duration>,
    /// Also write the HdrHistogram interval log (one interval per repeat, tagged
    /// case:histogram) to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// Also write the figures as CSV to FILE: one row per case and metric or histogram
    /// (median, mean, sd, cv, percentiles).
    #[arg(long, global = true, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// With --csv: one row per repeat and figure instead (warm-up, probed and
    /// interrupted passes included and marked).
    #[arg(long, global = true, requires = "csv")]
    pub csv_repeats: bool,
    /// No progress bar and no per-case lines (each workload's --help says what it still
    /// prints).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Whole repeats run first and excluded from statistics (recorded in the document):
    /// the first repeat of a run is often slower (cold caches, CPU frequency).
    /// 0 for none; at most 10000.
    #[arg(long, global = true, default_value_t = 1, value_name = "N", allow_hyphen_values = true,
          value_parser = whole::<u32>(0, 10_000))]
    pub warmup_repeats: u32,
    /// interleaved: round r of every case runs before round r+1 of any, shuffled per
    /// round, so a burst of noise hits one repeat of several cases, not every repeat of
    /// one; grouped: each case's repeats back to back.
    #[arg(long, global = true, value_enum, default_value = "interleaved")]
    pub order: Order,
    /// Time 1 in N syscalls per (thread, syscall number) for the latency histograms;
    /// counts stay exact. 8 keeps the probes near this machine's floor (README).
    #[arg(long, global = true, default_value_t = crate::probes::DEFAULT_SYSCALL_SAMPLE,
          value_name = "N", allow_hyphen_values = true, value_parser = whole::<u32>(1, 1_000_000))]
    pub syscall_sample: u32,
    /// Show what the probes' programs logged (rare kernel-side events: a full map, a
    /// lost race, an unpaired switch-out, a dropped sample).
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
    /// Seed of the interleaved order (default: drawn from the clock; the document
    /// records it, so an order can be replayed).
    #[arg(long, global = true, value_name = "N", allow_hyphen_values = true,
          value_parser = whole::<u64>(0, u64::MAX))]
    pub seed: Option<u64>,
    /// Run the workload in a child process as NAME (a name, or a uid the user database
    /// knows: its uid, gid and groups, no capabilities, no_new_privs, none of evbench's
    /// fds, the environment `su NAME` would give without the invoker's private places:
    /// README's "Privileges") while evbench keeps the probes; it dies with evbench. Needs root (CAP_SETUID,
    /// CAP_SETGID). Not for http or efd-mask-fuse: named, they are refused; the default
    /// suite skips them, saying so.
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// Measure the workload at several values of one numeric option, each value a case
    /// (`.../channels=800`): NAME=V1,V2,... or NAME=START..END[:STEPS][log] (STEPS
    /// values, default 5, both ends included; `log`: evenly spaced in log space; values
    /// between the ends rounded to whole units, rates to 4 significant digits: when
    /// that leaves fewer than STEPS distinct values, a warning says how many remain).
    /// At least 2 values (for one, give the option itself); the scanned option cannot
    /// be given too. `evbench list` names each workload's scannable options; `evbench
    /// report` fits and plots the curves. One scan per run.
    #[arg(
        long,
        global = true,
        value_name = "NAME=VALUES",
        allow_hyphen_values = true
    )]
    pub scan: Option<ScanArg>,
}

impl Default for CommonArgs {
    fn default() -> Self {
        Self {
            probes: ProbeSets::default_sets(),
            kfunc: None,
            json: false,
            output: None,
            repeat: Repeats::Fixed(1),
            precision: None,
            max_time: None,
            hlog: None,
            csv: None,
            csv_repeats: false,
            quiet: false,
            warmup_repeats: 1,
            order: Order::Interleaved,
            seed: None,
            scan: None,
            syscall_sample: crate::probes::DEFAULT_SYSCALL_SAMPLE,
            verbose: false,
            user: None,
        }
    }
}

#[derive(Subcommand, Debug, Clone)]
pub enum WorkloadCmd {
    /// Tasks bounce a token: every round trip sleeps and wakes the tasks.
    #[command(after_help = "\
Examples:
  evbench run pingpong --rounds 100000
  evbench run pingpong --pin same          both tasks on CPU 0 (no cross-CPU wakeups)
  evbench run pingpong --pin split         one task per CPU (every wakeup crosses CPUs)
  evbench run pingpong -m futex --tasks processes
  evbench run pingpong -m eventfd --wait epoll --topology fanout:4 --exclusive
  evbench run pingpong -m eventfd,pipe -W epoll,block   one case per mechanism × wait mode
  evbench run pingpong --duration 5s --repeat 5 --json

One measurement is --rounds round trips (or --duration) after --warmup-rounds discarded
ones; --repeat K measures the case K times, each with fresh tasks. -q drops the progress
bar and keeps the report.")]
    Pingpong(PingpongArgs),
    /// Davide Libenzi's pipetest-4 (and, with -m eventfd, eventfd-bench): one thread
    /// forwards messages across N channels in one epoll set.
    #[command(after_help = "\
Output: one line per run (µs/event) unless -q, then `AVG: x us/event` and `SIG: y`,
as the originals print them. One measurement is the originals' 16 runs of -w writes
(AVG is the mean of the middle 6); --repeat K measures it K times. -q prints only the
AVG and SIG lines, as the originals' -q does.

Examples:
  evbench run pipetest                     pipetest-4: 200 pipes, 1 active, 50,000 writes
  evbench run pipetest -m eventfd          eventfd-bench
  evbench run pipetest -n 1000 -a 10 -q
  evbench run pipetest -W epoll-et,poll --scan channels=200..2000:3log
                                           one case per wait mode and channel count")]
    Pipetest(PipetestArgs),
    /// A static HTTP server per wait mode (child process) under the load client.
    #[command(after_help = "\
Examples:
  evbench run http                             every wait mode, closed loop
  evbench run http --wait epoll,tokio -c 256 -d 10
  evbench run http --rate 20000                open loop, latency from the schedule

One measurement is a fresh server child per wait mode, --warmup-time of load, then
--duration measured; --repeat K measures each wait mode K times. -q drops the progress
bar and keeps the table.")]
    Http(HttpArgs),
}

impl WorkloadCmd {
    /// The workload's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pingpong(_) => "pingpong",
            Self::Pipetest(_) => "pipetest",
            Self::Http(_) => "http",
        }
    }

    /// One command per combination of the listed values — pingpong's and pipetest's
    /// `-m` × `-W`, http's `-W` (`all` expanded) — each with a single mechanism and a
    /// single wait mode, in the order given, mechanism first (`-m eventfd,pipe -W
    /// epoll,block`: eventfd/epoll, eventfd/block, pipe/epoll, pipe/block). Each is one
    /// case (issue 19: one line per mechanism × wait mode); `--scan` expands them
    /// further. Errors: one line naming a value given twice (two cases of one id).
    pub fn combinations(&self) -> Result<Vec<WorkloadCmd>, String> {
        Ok(match self {
            Self::Pingpong(a) => product(&a.mechanism, &a.wait, |m, w| {
                let mut c = a.clone();
                c.mechanism = vec![m];
                c.wait = vec![w];
                Self::Pingpong(c)
            })?,
            Self::Pipetest(a) => product(&a.mechanism, &a.wait, |m, w| {
                let mut c = a.clone();
                c.mechanism = vec![m];
                c.wait = vec![w];
                Self::Pipetest(c)
            })?,
            Self::Http(a) => {
                distinct("-W", &a.wait)?;
                if a.wait.len() > 1 && a.wait.iter().any(|w| w == "all") {
                    return Err(format!(
                        "-W {}: all already names every wait mode (give all alone, or a list without it)",
                        a.wait.join(",")
                    ));
                }
                a.modes()
                    .map_err(|e| format!("-W: {e:#}"))?
                    .into_iter()
                    .map(|w| {
                        let mut c = a.clone();
                        c.wait = vec![w.name().to_string()];
                        Self::Http(c)
                    })
                    .collect()
            }
        })
    }
}

/// `make(m, w)` for every mechanism × wait mode (mechanism first, in the order given),
/// each list checked by [`distinct`] first.
fn product<M, W>(
    ms: &[M],
    ws: &[W],
    make: impl Fn(M, W) -> WorkloadCmd,
) -> Result<Vec<WorkloadCmd>, String>
where
    M: Copy + PartialEq + std::fmt::Display,
    W: Copy + PartialEq + std::fmt::Display,
{
    let (ms, ws) = (distinct("-m", ms)?, distinct("-W", ws)?);
    Ok(ms
        .iter()
        .flat_map(|&m| ws.iter().map(move |&w| (m, w)))
        .map(|(m, w)| make(m, w))
        .collect())
}

/// `items` (the values of one list flag), refused when one is given twice: one line
/// naming the flag and the value ("-W epoll,poll,epoll: epoll is given twice").
fn distinct<T: Clone + PartialEq + std::fmt::Display>(
    flag: &str,
    items: &[T],
) -> Result<Vec<T>, String> {
    for (i, v) in items.iter().enumerate() {
        if items[..i].contains(v) {
            let all: Vec<String> = items.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{flag} {}: {v} is given twice (each value is one case; name it once)",
                all.join(",")
            ));
        }
    }
    Ok(items.to_vec())
}

/// A duration as every time-valued flag takes it: a number with a unit (`500us`, `2s`,
/// `1m`, humantime's units) or a bare number of seconds (`2`, `1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "'{s}' is not a duration: it must be zero or more (e.g. 500ms, 10s, 2m)"
        ));
    }
    if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!(
                "'{s}' is not a duration: it must be zero or more (e.g. 500ms, 10s, 2m)"
            ));
        }
        return Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| *d <= MAX_DURATION)
            .ok_or_else(|| format!("'{s}' is too long a duration: at most 30 days"));
    }
    let d =
        humantime::parse_duration(t).map_err(|e| format!("'{s}': {e} (e.g. 500ms, 10s, 2m)"))?;
    if d > MAX_DURATION {
        return Err(format!("'{s}' is too long a duration: at most 30 days"));
    }
    Ok(d)
}

/// A value parser with a fixed vocabulary: it parses with `parse` (its one-phrase
/// errors, which clap prefixes with the flag) and offers `names` — (name, one-line
/// description) — to `--help` and to the completion scripts (`evbench completions`).
/// Both come from the same enum's list (`Mechanism::ALL`, `WaitMode::ALL`,
/// `HttpWait::all()`, `ProbeSet::ALL`, ...), so a shell never offers a value the parser
/// refuses, nor misses one it takes (issue 18).
#[derive(Clone, Copy)]
pub struct Vocab<T> {
    parse: fn(&str) -> Result<T, String>,
    names: fn() -> Vec<(&'static str, &'static str)>,
}

impl<T> Vocab<T> {
    /// The names offered, in order (what `--help` and the completion scripts list).
    pub fn names(&self) -> Vec<&'static str> {
        (self.names)().into_iter().map(|(n, _)| n).collect()
    }
}

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Vocab<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let parse = self.parse;
        clap::builder::StringValueParser::new()
            .try_map(move |s: String| parse(&s))
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new((self.names)().into_iter().map(|(n, help)| {
            let v = clap::builder::PossibleValue::new(n);
            if help.is_empty() {
                v
            } else {
                v.help(help)
            }
        })))
    }
}

/// `--mechanism` of pingpong: every mechanism.
pub const MECHANISMS: Vocab<Mechanism> = Vocab {
    parse: |s| s.parse(),
    names: || {
        Mechanism::ALL
            .iter()
            .map(|m| (m.as_str(), m.describe()))
            .collect()
    },
};

fn fd_mechanism_names() -> Vec<(&'static str, &'static str)> {
    Mechanism::ALL
        .iter()
        .filter(|m| m.has_fd())
        .map(|m| (m.as_str(), m.describe()))
        .collect()
}

/// `--mechanism` of pipetest: the mechanisms with an fd to wait on (pipetest waits on
/// every channel with one waiter; futex has none).
pub const FD_MECHANISMS: Vocab<Mechanism> = Vocab {
    parse: |s| {
        let m: Mechanism = s.parse()?;
        if m.has_fd() {
            return Ok(m);
        }
        let fd: Vec<&str> = fd_mechanism_names().into_iter().map(|(n, _)| n).collect();
        Err(format!(
            "'{s}' has no fd to wait on, and pipetest waits on fds: use one of {}",
            fd.join(", ")
        ))
    },
    names: fd_mechanism_names,
};

/// `--wait` of pingpong: every wait mode.
pub const WAIT_MODES: Vocab<WaitMode> = Vocab {
    parse: |s| s.parse(),
    names: || {
        WaitMode::ALL
            .iter()
            .map(|w| (w.as_str(), w.describe()))
            .collect()
    },
};

fn waiter_mode_names() -> Vec<(&'static str, &'static str)> {
    WaitMode::ALL
        .iter()
        .filter(|w| **w != WaitMode::Block)
        .map(|w| (w.as_str(), w.describe()))
        .collect()
}

/// `--wait` of pipetest: the wait modes with a waiter (pipetest runs one thread over
/// many channels: `block` cannot wait on them all).
pub const WAITER_MODES: Vocab<WaitMode> = Vocab {
    parse: |s| {
        let w: WaitMode = s.parse()?;
        if w != WaitMode::Block {
            return Ok(w);
        }
        let names: Vec<&str> = waiter_mode_names().into_iter().map(|(n, _)| n).collect();
        Err(format!(
            "'{s}': pipetest runs one thread over many channels, so it needs a waiter: use one of {}",
            names.join(", ")
        ))
    },
    names: waiter_mode_names,
};

/// (name, description) of every HTTP server wait mode (`HttpWait::all()`).
fn http_wait_names() -> Vec<(&'static str, &'static str)> {
    HttpWait::all()
        .iter()
        .map(|w| match w {
            HttpWait::Waiter(m) => (m.as_str(), m.describe()),
            _ => (
                w.name(),
                "one current-thread tokio runtime per worker: the async baseline",
            ),
        })
        .collect()
}

/// `--wait` of serve: one HTTP server wait mode (`HttpWait::all()`: every wait mode
/// with a waiter, and tokio; never `block`).
pub const HTTP_WAIT: Vocab<HttpWait> = Vocab {
    parse: |s| s.parse(),
    names: http_wait_names,
};

/// `--wait` of `run http`: a list item, one HTTP server wait mode or `all`.
pub const HTTP_WAIT_OR_ALL: Vocab<String> = Vocab {
    parse: |s| {
        if s != "all" {
            s.parse::<HttpWait>()?;
        }
        Ok(s.to_string())
    },
    names: || {
        let mut v = http_wait_names();
        v.push(("all", "every wait mode above"));
        v
    },
};

/// `--probes`: `default`, `all`, `none` or a comma-separated list of set names
/// (`ProbeSets`' parser); the names offered are the keywords and every set.
pub const PROBE_SETS: Vocab<ProbeSets> = Vocab {
    parse: |s| s.parse(),
    names: || {
        let mut v = vec![
            ("default", "the default probe sets"),
            ("all", "every probe set but nop"),
            ("none", "no probes: userspace timing only"),
        ];
        v.extend(
            crate::probes::ProbeSet::ALL
                .iter()
                .map(|p| (p.as_str(), p.describe())),
        );
        v
    },
};

/// `--pin`: `Pin::ALL`.
pub const PINS: Vocab<Pin> = Vocab {
    parse: |s| s.parse(),
    names: || Pin::ALL.iter().map(|p| (p.as_str(), "")).collect(),
};

/// `--tasks`: `Tasks::ALL`.
pub const TASKS: Vocab<Tasks> = Vocab {
    parse: |s| s.parse(),
    names: || Tasks::ALL.iter().map(|t| (t.as_str(), "")).collect(),
};

/// The longest duration any flag takes: 30 days. Longer ones are refused rather than
/// overflowing a clock (`Instant + Duration` panics past its range).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The parser of a whole-number flag: a decimal number from `min` to `max`, as type
/// `T` (which must hold `max`). Errors are one phrase clap prefixes with the flag:
/// "'-1': must be a positive whole number", "'abc' is not a whole number", "'…' is too
/// large: at most N". A negative number reaches it (rather than being taken for a flag)
/// because every numeric flag allows negative numbers.
pub fn whole<T>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64> + 'static,
{
    move |s: &str| {
        let t = s.trim();
        let floor = || match min {
            0 => "must be zero or more".to_string(),
            1 => "must be a positive whole number".to_string(),
            m => format!("must be at least {m}"),
        };
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if t.starts_with('-') {
            return Err(format!("'{s}': {}", floor()));
        }
        if !digits(t.strip_prefix('+').unwrap_or(t)) {
            return Err(format!("'{s}' is not a whole number"));
        }
        let too_large = || format!("'{s}' is too large: at most {max}");
        let v: u64 = t.parse().map_err(|_| too_large())?;
        if v < min {
            return Err(format!("'{s}': {}", floor()));
        }
        if v > max {
            return Err(too_large());
        }
        T::try_from(v).map_err(|_| too_large())
    }
}

/// The parser of a CPU number (`--server-cpu`, `--client-cpu`): one of this machine's
/// configured CPUs (0 to sysconf(_SC_NPROCESSORS_CONF) - 1).
pub fn parse_cpu(s: &str) -> Result<usize, String> {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) }.max(1) as u64;
    whole::<usize>(0, u64::MAX)(s).and_then(|c| {
        if (c as u64) < n {
            Ok(c)
        } else {
            Err(format!("CPU {c} does not exist here (CPUs 0 to {})", n - 1))
        }
    })
}

/// The parser of pipetest's `-n`: 2 to 1,000,000 channels (a message needs a channel to
/// be forwarded to; each channel is an fd or two).
pub fn parse_channels(s: &str) -> Result<usize, String> {
    whole::<usize>(2, 1_000_000)(s).map_err(|e| {
        if e.ends_with("must be at least 2") {
            format!("{e}: pipetest needs at least 2 channels")
        } else {
            e
        }
    })
}

/// The parser of `--rate`: requests per second, a positive finite number up to
/// 100,000,000 (an open-loop schedule finer than 10 ns per request means nothing).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    if s.trim().starts_with('-') {
        return Err(format!(
            "'{s}': must be a positive number of requests per second"
        ));
    }
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of requests per second"))?;
    if !r.is_finite() || r <= 0.0 {
        return Err(format!(
            "'{s}': must be a positive number of requests per second"
        ));
    }
    if r > 1e8 {
        return Err(format!(
            "'{s}' is too large: at most 100000000 requests per second"
        ));
    }
    Ok(r)
}

/// A listening address: `PORT` (on 127.0.0.1, loopback only unless asked) or
/// `IP:PORT` (`[IPv6]:PORT`).
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse()
        .map_err(|_| format!("'{s}': a port or IP:PORT (e.g. 9464, 0.0.0.0:9464 or [::1]:9464)"))
}

/// A duration that must be more than zero (a measured time, a timeout).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    if s.trim().starts_with('-') {
        return Err(format!("'{s}': must be more than zero (e.g. 500ms, 10s)"));
    }
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("'{s}': must be more than zero (e.g. 500ms, 10s)"));
    }
    Ok(d)
}

/// A timeout (`--timeout`, `--keep-alive-idle`, `--head-timeout`, `--write-idle`,
/// `--linger-timeout`): a duration of at least 1 ms. The server's loops sleep in whole
/// milliseconds (epoll_wait, poll) and the load client's tokio timers tick in them, so
/// `1ns` or `500us` could only mean "1 ms" or "at once": refused in one line with the
/// minimum (`ServerConfig::MIN_TIMEOUT`, `http::client::MIN_TIMEOUT`) rather than
/// guessed.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s)?;
    if d < workloads::http::ServerConfig::MIN_TIMEOUT {
        return Err(format!(
            "'{s}' is too short a timeout: at least 1ms (timers count whole milliseconds)"
        ));
    }
    Ok(d)
}

/// `--repeat`: a number of judged repeats, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeats {
    Fixed(u32),
    Auto,
}

impl std::str::FromStr for Repeats {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "auto" {
            return Ok(Repeats::Auto);
        }
        match s.trim().parse::<u32>() {
            Ok(k) if (1..=10_000).contains(&k) => Ok(Repeats::Fixed(k)),
            _ => Err(format!(
                "'{s}': must be a number of repeats from 1 to 10000, or auto"
            )),
        }
    }
}

/// `--precision`: a relative half-width (0.02 for 2%).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Precision(pub f64);

impl std::str::FromStr for Precision {
    type Err = String;

    /// "2%" or a fraction below 1 ("0.02").
    fn from_str(s: &str) -> Result<Self, String> {
        crate::results::compare::parse_threshold(s).map(Precision)
    }
}

/// The regression gate's noise threshold as a fraction (0.05 for 5%).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold(pub f64);

impl std::str::FromStr for Threshold {
    type Err = String;

    /// "5%" or a fraction below 1 ("0.05"); nothing else, so "1" cannot mean both 1%
    /// and 100%.
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().starts_with('-') {
            return Err(format!(
                "{s:?}: the threshold must be more than 0% and less than 100%"
            ));
        }
        crate::results::compare::parse_threshold(s).map(Threshold)
    }
}

#[derive(Args, Debug, Clone)]
pub struct PingpongArgs {
    /// Measured round trips.
    #[arg(long, short = 'r', default_value_t = 100_000, allow_hyphen_values = true,
          value_parser = whole::<u64>(1, MAX_ROUNDS))]
    pub rounds: u64,
    /// Measure for this long instead of a number of round trips (e.g. 10s, 500ms; a bare
    /// number is seconds).
    #[arg(long, short = 'd', value_parser = parse_positive_duration, conflicts_with = "rounds",
          allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Round trips run first and discarded (0 for none).
    #[arg(long, default_value_t = 1_000, value_name = "N", allow_hyphen_values = true,
          value_parser = whole::<u64>(0, MAX_ROUNDS))]
    pub warmup_rounds: u64,
    /// What signals (see `evbench list`); a comma-separated list measures each
    /// (`-m eventfd,pipe`: one case per mechanism × wait mode).
    #[arg(long, short = 'm', default_value = "pipe", value_delimiter = ',',
          value_parser = MECHANISMS)]
    pub mechanism: Vec<Mechanism>,
    /// How tasks wait: block (in the channel's own read / futex wait), epoll, epoll-et,
    /// poll, select, kevent or kevent-ring; a comma-separated list measures each
    /// (`-W epoll,block`: one case per mechanism × wait mode).
    #[arg(long, short = 'W', default_value = "block", value_delimiter = ',',
          value_parser = WAIT_MODES)]
    pub wait: Vec<WaitMode>,
    /// threads (of this process) or processes (forked).
    #[arg(long, default_value = "threads", value_parser = TASKS)]
    pub tasks: Tasks,
    /// Task placement: same (all on CPU 0), split (task i on CPU i mod 2), none (scheduler's choice).
    #[arg(long, default_value = "none", value_parser = PINS)]
    pub pin: Pin,
    /// pair, ring:N (the token goes around N tasks) or fanout:N (one waker, N waiters on
    /// one shared fd: the thundering herd).
    #[arg(long, default_value = "pair")]
    pub topology: Topology,
    /// Fanout waiters register the shared fd with EPOLLEXCLUSIVE (needs --wait epoll).
    #[arg(long)]
    pub exclusive: bool,
    /// Busy work per message each task handles (a duration: `2us`; 0 for none, the
    /// default): the task spins this long on CLOCK_MONOTONIC before answering, so a
    /// pair's round trip gains twice this. Recorded in the case's options (`think_ns`),
    /// not in its id: `compare` pairs a --think run with a plain one (a regression of
    /// known size).
    #[arg(long, value_parser = parse_duration, default_value = "0s", value_name = "DURATION",
          allow_hyphen_values = true)]
    pub think: Duration,
}

impl Default for PingpongArgs {
    fn default() -> Self {
        Self {
            rounds: 100_000,
            duration: None,
            warmup_rounds: 1_000,
            mechanism: vec![Mechanism::Pipe],
            wait: vec![WaitMode::Block],
            tasks: Tasks::Threads,
            pin: Pin::None,
            topology: Topology::Pair,
            exclusive: false,
            think: Duration::ZERO,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct PipetestArgs {
    /// Channels (pipes or eventfds) in the wait set (pipetest-4's -n).
    #[arg(long, short = 'n', default_value_t = 200, value_name = "N", allow_hyphen_values = true,
          value_parser = parse_channels)]
    pub channels: usize,
    /// Channels fired first; each message is forwarded A+1 channels ahead (pipetest-4's -a).
    #[arg(long, short = 'a', default_value_t = 1, value_name = "A", allow_hyphen_values = true,
          value_parser = whole::<usize>(1, 1_000_000))]
    pub active: usize,
    /// Write budget per run, messages (pipetest-4's -w).
    #[arg(long, short = 'w', default_value_t = 50_000, value_name = "N", allow_hyphen_values = true,
          value_parser = whole::<u64>(1, MAX_ROUNDS))]
    pub writes: u64,
    /// pipe (pipetest-4) or eventfd (eventfd-bench); any mechanism with an fd works. A
    /// comma-separated list measures each (`-m pipe,eventfd`: one case per mechanism ×
    /// wait mode).
    #[arg(long, short = 'm', default_value = "pipe", value_delimiter = ',',
          value_parser = FD_MECHANISMS)]
    pub mechanism: Vec<Mechanism>,
    /// How the loop waits; the originals use epoll-et (EPOLLIN|EPOLLET). A
    /// comma-separated list measures each (`-W epoll-et,poll`: one case per mechanism ×
    /// wait mode).
    #[arg(long, short = 'W', default_value = "epoll-et", value_delimiter = ',',
          value_parser = WAITER_MODES)]
    pub wait: Vec<WaitMode>,
    /// Busy work per message read (a duration: `2us`; 0 for none, the default): the loop
    /// spins this long on CLOCK_MONOTONIC for each message before forwarding it. Recorded
    /// in the case's options (`think_ns`), not in its id: `compare` pairs a --think run
    /// with a plain one.
    #[arg(long, value_parser = parse_duration, default_value = "0s", value_name = "DURATION",
          allow_hyphen_values = true)]
    pub think: Duration,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Print the checks as one JSON document.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print the lists as one JSON document.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A results document written by `evbench run -o FILE`.
    pub file: PathBuf,
    /// Print Markdown (for CI summaries) instead of the terminal report.
    #[arg(long)]
    pub markdown: bool,
    /// Write SVG plots (latency percentile distributions, throughput bars) into DIR.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Write one self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the HdrHistogram interval log (one interval per repeat, tagged per histogram).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// Write the figures as CSV: one row per case and metric or histogram.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// With --csv: one row per repeat and figure instead.
    #[arg(long, requires = "csv")]
    pub csv_repeats: bool,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// BASELINE CURRENT: one results document a side (or use --baseline / --current).
    #[arg(value_name = "FILE", num_args = 0..=2, conflicts_with_all = ["baseline", "current"])]
    pub files: Vec<PathBuf>,
    /// Baseline results documents, pooled: each case's repeats from every file (the A
    /// runs of an A/B alternation).
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "current")]
    pub baseline: Vec<PathBuf>,
    /// Current results documents, pooled like --baseline (the B runs).
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "baseline")]
    pub current: Vec<PathBuf>,
    /// Noise threshold: smaller changes never count. "5%" or a fraction below 1 ("0.05").
    #[arg(
        long,
        default_value = "5%",
        value_name = "PCT",
        allow_hyphen_values = true
    )]
    pub threshold: Threshold,
    /// Exit 2 when the results come from different machines (CPU model, count, kernel)
    /// or measured their headlines differently (schema v1 vs v2).
    #[arg(long)]
    pub strict: bool,
    /// Also write the verdict summary as Markdown to FILE (checked writable before
    /// anything is read; written whole or not at all).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the verdicts as one JSON document (every row with its intervals).
    #[arg(long)]
    pub json: bool,
    /// Write comparison plots into DIR: per workload and metric, baseline against
    /// current per case with their 95% intervals.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Write one self-contained HTML page of the verdicts and the comparison plots.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// What exits 1: `regressed` (default) or `inconclusive` (regressed or inconclusive).
    #[arg(long, value_enum, default_value = "regressed", value_name = "VERDICT")]
    pub fail_on: FailOn,
    /// Also judge p50 and p99 of every histogram (off by default: two more metrics per
    /// histogram, each moved by any burst of machine noise).
    #[arg(long)]
    pub percentiles: bool,
}

/// Which verdicts make `compare` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Only a regression.
    Regressed,
    /// A regression or an inconclusive metric.
    Inconclusive,
}

impl CompareArgs {
    /// The (baseline, current) files: the two positionals or --baseline / --current.
    /// `Err`: one line saying what is missing.
    pub fn sides(&self) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
        match (self.files.as_slice(), self.baseline.is_empty()) {
            ([b, c], true) => Ok((vec![b.clone()], vec![c.clone()])),
            ([], false) => Ok((self.baseline.clone(), self.current.clone())),
            ([_], true) => Err(
                "missing required argument: <CURRENT> (give BASELINE CURRENT, or --baseline FILE... --current FILE...)"
                    .into(),
            ),
            ([], true) => Err(
                "missing required arguments: <BASELINE>, <CURRENT> (or --baseline FILE... --current FILE...)"
                    .into(),
            ),
            _ => Err("give BASELINE CURRENT, or --baseline FILE... --current FILE...".into()),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    /// Server wait modes to sweep: a comma-separated list, or `all`.
    #[arg(long, short = 'W', default_value = "all", value_delimiter = ',',
          value_parser = HTTP_WAIT_OR_ALL)]
    pub wait: Vec<String>,
    /// Server event loops (SO_REUSEPORT), 1 to 256.
    #[arg(long, default_value_t = 1, allow_hyphen_values = true,
          value_parser = whole::<u32>(1, 256))]
    pub workers: u32,
    /// Response body size, bytes (0: an empty body; at most 1 GiB).
    #[arg(long, default_value_t = 128, allow_hyphen_values = true,
          value_parser = whole::<usize>(0, MAX_BODY))]
    pub body_size: usize,
    /// Pin the server (all its loops) to this CPU.
    #[arg(long, value_name = "CPU", allow_hyphen_values = true, value_parser = parse_cpu)]
    pub server_cpu: Option<usize>,
    /// Pin the load client to this CPU.
    #[arg(long, value_name = "CPU", allow_hyphen_values = true, value_parser = parse_cpu)]
    pub client_cpu: Option<usize>,
    #[command(flatten)]
    pub limits: ServerLimits,
    #[command(flatten)]
    pub client: ClientArgs,
}

impl HttpArgs {
    /// A short sweep for the default suite.
    pub fn suite() -> Self {
        Self {
            wait: vec!["all".into()],
            workers: 1,
            body_size: 128,
            server_cpu: None,
            client_cpu: None,
            limits: ServerLimits::default(),
            client: ClientArgs {
                connections: 32,
                rate: None,
                duration: Duration::from_secs(1),
                warmup_time: Duration::from_millis(300),
                no_keepalive: false,
                timeout: Duration::from_secs(5),
                threads: 1,
                path: "/".into(),
            },
        }
    }

    /// The wait modes named, `all` expanded.
    pub fn modes(&self) -> Result<Vec<HttpWait>> {
        let mut out = Vec::new();
        for w in &self.wait {
            if w == "all" {
                out.extend(HttpWait::all());
            } else {
                out.push(w.parse::<HttpWait>().map_err(|e| anyhow!(e))?);
            }
        }
        Ok(out)
    }
}

/// Client options shared by `evbench load` and `evbench run http`.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Concurrent connections, each with one request in flight.
    #[arg(long, short = 'c', default_value_t = 64, allow_hyphen_values = true,
          value_parser = whole::<u32>(1, 100_000))]
    pub connections: u32,
    /// Open loop: this many requests per second in total, latency from each request's
    /// scheduled time (coordinated omission corrected). Default: closed loop.
    #[arg(long, value_name = "REQ/S", allow_hyphen_values = true, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Measured time (e.g. 10s, 500ms; a bare number is seconds).
    #[arg(long, short = 'd', default_value = "5s", value_name = "DURATION",
          allow_hyphen_values = true, value_parser = parse_positive_duration)]
    pub duration: Duration,
    /// Load run first and not measured (e.g. 1s; 0 for none).
    #[arg(long, default_value = "1s", value_name = "DURATION", allow_hyphen_values = true,
          value_parser = parse_duration)]
    pub warmup_time: Duration,
    /// A new connection per request instead of keep-alive.
    #[arg(long)]
    pub no_keepalive: bool,
    /// How long a request may take before it counts as a timeout (e.g. 5s, 200ms; at
    /// least 1ms).
    #[arg(long, default_value = "5s", value_name = "DURATION",
          allow_hyphen_values = true, value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Client threads (tokio workers).
    #[arg(long, default_value_t = 1, allow_hyphen_values = true,
          value_parser = whole::<u32>(1, 256))]
    pub threads: u32,
    /// The request path.
    #[arg(long, default_value = "/")]
    pub path: String,
}

impl ClientArgs {
    /// The load client's configuration against `addr` (`host` for the Host header).
    /// Errors: a rate that is not a positive number of requests per second.
    pub fn config(&self, addr: SocketAddr, host: Option<String>) -> Result<LoadConfig> {
        let pace = match self.rate {
            None => Pace::Closed,
            Some(r) if r.is_finite() && r > 0.0 => Pace::Rate(r),
            Some(r) => bail!("--rate must be a positive number of requests per second (got {r})"),
        };
        Ok(LoadConfig {
            addr,
            connections: self.connections as usize,
            pace,
            warmup: self.warmup_time,
            duration: self.duration,
            keep_alive: !self.no_keepalive,
            path: self.path.clone(),
            host,
            timeout: self.timeout,
            threads: self.threads as usize,
            ..LoadConfig::default()
        })
    }
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// The server: HOST:PORT.
    #[arg(long, short = 's', default_value = "127.0.0.1:8080")]
    pub server: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print one JSON document instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// Options of `evbench serve` (also what `evbench run http` passes to its server).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// How the loops wait: epoll, epoll-et, poll, select, tokio, ... (see `evbench list`).
    #[arg(long, short = 'W', default_value = "epoll", value_parser = HTTP_WAIT)]
    pub wait: HttpWait,
    /// Event loops, each a thread with its own SO_REUSEPORT listen socket.
    #[arg(long, default_value_t = 1, allow_hyphen_values = true,
          value_parser = whole::<u32>(1, 256))]
    pub workers: u32,
    /// Body size of the served path, bytes (held in memory; 0: an empty body; at most 1 GiB).
    #[arg(long, default_value_t = 128, conflicts_with = "body_file", allow_hyphen_values = true,
          value_parser = whole::<usize>(0, MAX_BODY))]
    pub body_size: usize,
    /// Serve this file's contents instead, with sendfile(2).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// The served path; any other gets 404.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// Largest request head, bytes (64 to 1 MiB); larger ones get 431 and the connection
    /// is closed.
    #[arg(long, default_value_t = 8192, allow_hyphen_values = true,
          value_parser = whole::<usize>(64, 1 << 20))]
    pub max_header_bytes: usize,
    /// Pin the server (all its loops) to this CPU.
    #[arg(long, value_name = "CPU", allow_hyphen_values = true, value_parser = parse_cpu)]
    pub server_cpu: Option<usize>,
    /// Stop after this long (e.g. 30s, 5m; a bare number is seconds; default: until Ctrl-C).
    #[arg(long, short = 'd', value_name = "DURATION", allow_hyphen_values = true,
          value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub limits: ServerLimits,
    /// Print the final counters as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Line protocol for a parent process on stdin/stdout: prints `listening ADDR`,
    /// `tids T...`; answers `stats` with `stats JSON`; stops at end of input.
    #[arg(long, hide = true)]
    pub control: bool,
}

impl ServeArgs {
    /// The server's configuration from these options.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            addr: self.addr,
            wait: self.wait.clone(),
            workers: self.workers as usize,
            site: Site {
                path: self.path.clone(),
                body: match &self.body_file {
                    Some(p) => BodySource::File(p.clone()),
                    None => BodySource::Bytes(self.body_size),
                },
                max_header_bytes: self.max_header_bytes,
            },
            keep_alive_idle: self.limits.keep_alive_idle,
            request_head_timeout: self.limits.head_timeout,
            write_idle_timeout: self.limits.write_idle,
            linger_timeout: self.limits.linger_timeout,
            ..ServerConfig::default()
        }
    }
}

/// The server's connection limits, lighttpd 1.4.69's defaults (RFC9112.md in
/// workloads/src/http/ says where each comes from); each at least 1ms ([`parse_timeout`]).
#[derive(Args, Debug, Clone)]
pub struct ServerLimits {
    /// Close a kept-alive connection idle this long (lighttpd's server.max-keep-alive-idle).
    #[arg(long, default_value = "5s", value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_timeout)]
    pub keep_alive_idle: Duration,
    /// Close a connection whose request head has not fully arrived this long after it
    /// began (never looser than lighttpd's server.max-read-idle).
    #[arg(long, default_value = "60s", value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_timeout)]
    pub head_timeout: Duration,
    /// Close a connection that took none of its response for this long (lighttpd's
    /// server.max-write-idle).
    #[arg(long, default_value = "360s", value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_timeout)]
    pub write_idle: Duration,
    /// After an error response, drain the client's input this long before closing, so
    /// the response is not destroyed by a reset (lighttpd's linger time).
    #[arg(long, default_value = "5s", value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_timeout)]
    pub linger_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        let d = ServerConfig::default();
        Self {
            keep_alive_idle: d.keep_alive_idle,
            head_timeout: d.request_head_timeout,
            write_idle: d.write_idle_timeout,
            linger_timeout: d.linger_timeout,
        }
    }
}

/// `--order`: how the rounds of different cases are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Round r of every case before round r+1 of any, shuffled per round.
    Interleaved,
    /// Each case's rounds back to back, cases in the order given.
    Grouped,
}

/// The command tree as `evbench completions` writes it: every value flag with neither a
/// fixed vocabulary nor a path type (`--topology`, `--scan`, `--repeat`, `-d`,
/// `--rate`) is marked free text (`ValueHint::Other`), so the shells offer no file
/// names for it; paths keep clap's path completion and vocabularies their word lists.
/// Recursive over subcommands.
pub fn completion_command() -> clap::Command {
    fn free_text(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| {
            let plain = a.get_action().takes_values()
                && a.get_value_hint() == clap::ValueHint::Unknown
                && a.get_possible_values().is_empty();
            if plain {
                a.value_hint(clap::ValueHint::Other)
            } else {
                a
            }
        })
        .mut_subcommands(free_text)
    }
    free_text(<Cli as clap::CommandFactory>::command())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_listens_on_loopback_and_an_address_where_it_says() {
        assert_eq!(
            parse_listen_addr("9464").unwrap(),
            "127.0.0.1:9464".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen_addr("0.0.0.0:80").unwrap(),
            "0.0.0.0:80".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen_addr("[::1]:9").unwrap(),
            "[::1]:9".parse::<SocketAddr>().unwrap()
        );
        for bad in ["", "70000", "localhost", "1.2.3.4"] {
            let e = parse_listen_addr(bad).unwrap_err();
            assert!(e.contains("a port or IP:PORT"), "{bad}: {e}");
        }
    }

    /// The workload command as typed after `evbench run`, split into its combinations:
    /// (mechanism, wait mode) of each, in order.
    fn combos(argv: &[&str]) -> Result<Vec<(String, String)>, String> {
        let cli = parse_from([&["evbench", "run"][..], argv].concat()).unwrap();
        let Command::Run(r) = cli.command else {
            unreachable!()
        };
        let cmd = r.workload.unwrap();
        let one = |m: Vec<String>, w: Vec<String>| {
            assert_eq!((m.len(), w.len()), (1, 1), "one value each");
            (m[0].clone(), w[0].clone())
        };
        let names = |v: &[Mechanism]| v.iter().map(ToString::to_string).collect();
        let waits = |v: &[WaitMode]| v.iter().map(ToString::to_string).collect();
        Ok(cmd
            .combinations()?
            .into_iter()
            .map(|c| match c {
                WorkloadCmd::Pingpong(a) => one(names(&a.mechanism), waits(&a.wait)),
                WorkloadCmd::Pipetest(a) => one(names(&a.mechanism), waits(&a.wait)),
                WorkloadCmd::Http(a) => one(vec![String::new()], a.wait),
            })
            .collect())
    }

    /// Every combination once, mechanism first, each with exactly one value per list;
    /// http's `all` is every server wait mode; a single value stays one command.
    #[test]
    fn combinations_are_the_product_in_the_order_typed() {
        let pair = |m: &str, w: &str| (m.to_string(), w.to_string());
        assert_eq!(
            combos(&["pingpong", "-m", "eventfd,pipe", "-W", "epoll,block"]).unwrap(),
            [
                pair("eventfd", "epoll"),
                pair("eventfd", "block"),
                pair("pipe", "epoll"),
                pair("pipe", "block")
            ]
        );
        assert_eq!(
            combos(&["pipetest", "-W", "poll", "-W", "epoll-et"]).unwrap(),
            [pair("pipe", "poll"), pair("pipe", "epoll-et")]
        );
        assert_eq!(combos(&["pipetest"]).unwrap(), [pair("pipe", "epoll-et")]);
        let all: Vec<(String, String)> =
            HttpWait::all().iter().map(|w| pair("", w.name())).collect();
        assert_eq!(combos(&["http"]).unwrap(), all);
        assert_eq!(
            combos(&["http", "-W", "poll,epoll"]).unwrap(),
            [pair("", "poll"), pair("", "epoll")]
        );
        assert_eq!(
            combos(&["pipetest", "-W", "poll", "-W", "poll"]).unwrap_err(),
            "-W poll,poll: poll is given twice (each value is one case; name it once)"
        );
    }
}
