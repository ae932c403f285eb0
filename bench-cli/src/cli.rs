//! Command-line types. Everything a user types is parsed here and nowhere else; the
//! commands receive checked values.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use workloads::{
    pingpong::{Pin, Tasks, Topology},
    Mechanism, WaitMode,
};

use crate::probes::ProbeSets;

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
  evbench run pipetest --hlog run.hlog     the HdrHistogram interval log too")]
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
Each metric is judged from its repeats: the 95% bootstrap interval of the ratio of medians
must lie wholly beyond the threshold to count as regressed or improved.
Exit status: 0 nothing regressed, 1 something regressed, 2 unusable input (or different
machines with --strict).

Examples:
  evbench compare results/baseline.json current.json
  evbench compare base.json cur.json --threshold 3% --strict --markdown summary.md")]
    Compare(CompareArgs),
    /// Serve HTTP with one of the wait modes, until Ctrl-C (for wrk, httperf, `evbench load`).
    #[command(after_help = "\
Examples:
  evbench serve --wait epoll --addr 0.0.0.0:8080
  evbench serve --wait tokio --workers 2 --body-size 4096
  wrk -c 64 -d 10 http://127.0.0.1:8080/")]
    Serve(crate::serve::ServeArgs),
    /// Load an HTTP server (any: evbench serve, lighttpd, nginx) and report req/s and latency.
    #[command(after_help = "\
Examples:
  evbench load --server 127.0.0.1:8080 -c 64 -d 10
  evbench load --server 127.0.0.1:8080 --rate 20000      open loop, wrk2-style latency")]
    Load(crate::load::LoadArgs),
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
}

/// Options every workload takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Probe sets to attach: a comma-separated list, `default`, `all` or `none`
    /// (see `evbench list`).
    #[arg(long, global = true, default_value = "default", value_name = "LIST")]
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
    /// Repeat the whole measurement K times and report mean / median / stddev across
    /// the repeats (for pipetest one measurement is the original's 16 runs).
    #[arg(long, global = true, default_value_t = 1, value_name = "K",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Also write the HdrHistogram interval log (one interval per repeat, tagged
    /// case:histogram) to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// No progress bar and no per-case lines; pipetest prints only AVG and SIG.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
}

impl Default for CommonArgs {
    fn default() -> Self {
        Self {
            probes: ProbeSets::default_sets(),
            kfunc: None,
            json: false,
            output: None,
            repeat: 1,
            hlog: None,
            quiet: false,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum WorkloadCmd {
    /// Tasks bounce a token: every round trip sleeps and wakes the tasks.
    #[command(after_help = "\
Examples:
  evbench run pingpong --rounds 100000
  evbench run pingpong --pin same          both tasks on CPU 0 (no cross-CPU wakeups)
  evbench run pingpong --pin split         one task per CPU (every wakeup crosses CPUs)
  evbench run pingpong -m futex --tasks processes
  evbench run pingpong -m eventfd --wait epoll --topology fanout:4 --exclusive
  evbench run pingpong --duration 5s --repeat 5 --json")]
    Pingpong(PingpongArgs),
    /// Davide Libenzi's pipetest-4 (and, with -m eventfd, eventfd-bench): one thread
    /// forwards messages across N channels in one epoll set.
    #[command(after_help = "\
Output: one line per run (µs/event) unless -q, then `AVG: x us/event` and `SIG: y`,
as the originals print them.

Examples:
  evbench run pipetest                     pipetest-4: 200 pipes, 1 active, 50,000 writes
  evbench run pipetest -m eventfd          eventfd-bench
  evbench run pipetest -n 1000 -a 10 -q")]
    Pipetest(PipetestArgs),
    /// A static HTTP server per wait mode (child process) under the load client.
    #[command(after_help = "\
Examples:
  evbench run http                             every wait mode, closed loop
  evbench run http --wait epoll,tokio -c 256 -d 10
  evbench run http --rate 20000                open loop, latency from the schedule")]
    Http(crate::run_http::HttpArgs),
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
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("'{s}': {e} (e.g. 500ms, 10s, 2m)"))
}

#[derive(Args, Debug, Clone)]
pub struct PingpongArgs {
    /// Measured round trips.
    #[arg(long, short = 'r', default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// Measure for this long instead of a number of round trips (e.g. 10s, 500ms).
    #[arg(long, short = 'd', value_parser = parse_duration, conflicts_with = "rounds")]
    pub duration: Option<std::time::Duration>,
    /// Round trips run first and discarded.
    #[arg(long, default_value_t = 1_000)]
    pub warmup: u64,
    /// What signals (see `evbench list`).
    #[arg(long, short = 'm', default_value = "pipe")]
    pub mechanism: Mechanism,
    /// How tasks wait: block (in the channel's own read / futex wait), epoll, epoll-et,
    /// poll or select.
    #[arg(long, short = 'W', default_value = "block")]
    pub wait: WaitMode,
    /// threads (of this process) or processes (forked).
    #[arg(long, default_value = "threads")]
    pub tasks: Tasks,
    /// Task placement: same (all on CPU 0), split (task i on CPU i mod 2), none (scheduler's choice).
    #[arg(long, default_value = "none")]
    pub pin: Pin,
    /// pair, ring:N (the token goes around N tasks) or fanout:N (one waker, N waiters on
    /// one shared fd: the thundering herd).
    #[arg(long, default_value = "pair")]
    pub topology: Topology,
    /// Fanout waiters register the shared fd with EPOLLEXCLUSIVE (needs --wait epoll).
    #[arg(long)]
    pub exclusive: bool,
}

impl Default for PingpongArgs {
    fn default() -> Self {
        Self {
            rounds: 100_000,
            duration: None,
            warmup: 1_000,
            mechanism: Mechanism::Pipe,
            wait: WaitMode::Block,
            tasks: Tasks::Threads,
            pin: Pin::None,
            topology: Topology::Pair,
            exclusive: false,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct PipetestArgs {
    /// Channels (pipes or eventfds) in the epoll set.
    #[arg(short = 'n', default_value_t = 200)]
    pub channels: usize,
    /// Channels fired first (each message is forwarded A+1 channels ahead).
    #[arg(short = 'a', default_value_t = 1)]
    pub active: usize,
    /// Write budget per run.
    #[arg(short = 'w', default_value_t = 50_000)]
    pub writes: u64,
    /// pipe (pipetest-4) or eventfd (eventfd-bench); eventfd-sem also works.
    #[arg(long, short = 'm', default_value = "pipe")]
    pub mechanism: Mechanism,
    /// How the loop waits; the originals use epoll-et (EPOLLIN|EPOLLET).
    #[arg(long, short = 'W', default_value = "epoll-et")]
    pub wait: WaitMode,
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
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The reference results document.
    pub baseline: PathBuf,
    /// The results document to judge.
    pub current: PathBuf,
    /// Noise threshold: smaller changes never count ("5%", "0.05").
    #[arg(long, default_value = "5%", value_name = "PCT")]
    pub threshold: String,
    /// Exit 2 when the results come from different machines (CPU model, count, kernel).
    #[arg(long)]
    pub strict: bool,
    /// Also write the verdict table as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the verdicts as one JSON document.
    #[arg(long)]
    pub json: bool,
}
