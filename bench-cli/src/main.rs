use std::{io::Write as _, process::ExitCode};

use evbench::{
    cli::{Cli, Command},
    commands::{compare, doctor, list, load, report, run, serve, trace},
    signal,
};

fn main() -> ExitCode {
    // Before any handler exists: which signals the parent left ignored, for a command
    // `evbench trace` starts (it inherits them, as under env(1)).
    signal::record_ignored_at_start();
    // A fixed mmap threshold: glibc otherwise raises it after each large free (up to
    // 32 MiB), so the multi-MiB buffers of reading the probes' maps then come from
    // per-thread arenas that keep them; a looped suite grew from 42 to 140 MiB over 32
    // runs, and stayed at 10 MiB with the threshold fixed at 1 MiB (cargo xtask soak).
    // SAFETY: mallopt before any allocation-heavy work; it only sets a parameter.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`evbench list | head`) instead of failing writes; Rust ignores SIGPIPE by default.
    // SAFETY: restoring a default disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    stdout_errors_are_one_line();
    let cli = match evbench::cli::parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("evbench: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `print!` panics when stdout cannot be written (a full disk behind `>`, EIO): for a
/// command that still prints that way this hook turns that panic into one line and
/// exit 2, as for any output evbench could not write, instead of a backtrace and 101.
/// Every other panic keeps the default report.
fn stdout_errors_are_one_line() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(why) = msg.strip_prefix("failed printing to stdout: ") {
            eprintln!("evbench: error: cannot write to stdout: {why}");
            std::process::exit(2);
        }
        default(info);
    }));
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(mut args) => {
            let stop = signal::install()?;
            // Hidden soak hook (`cargo xtask soak`): EVBENCH_SOAK_LOOP=SECONDS runs the
            // whole command again and again in this one process until that time has
            // passed, so a leak shows across iterations (a new process per iteration
            // could not show one).
            let Some(time) = soak_loop() else {
                return run::run(args, &stop);
            };
            let t0 = std::time::Instant::now();
            loop {
                let code = run::run(args, &stop)?;
                if stop.is_set() || t0.elapsed() >= time || code != ExitCode::SUCCESS {
                    return Ok(code);
                }
                // Hand back what glibc's per-thread arenas keep after a run's threads are
                // gone: the soak then sees live memory, not allocator retention (without
                // it, --probes none runs grew from 8 MiB to a plateau of 110 MiB over five
                // suite runs, and MALLOC_ARENA_MAX=1 kept them flat at 41 MiB).
                // SAFETY: malloc_trim has no preconditions.
                unsafe { libc::malloc_trim(0) };
                // One idle second between runs: the soak samples the process then, at the
                // same point of every run.
                std::thread::sleep(std::time::Duration::from_secs(1));
                let Command::Run(again) = evbench::cli::parse()?.command else {
                    return Ok(code);
                };
                args = again;
            }
        }
        Command::Doctor(args) => doctor::run(args.json),
        Command::List(args) => list::run(args.json),
        Command::Report(args) => report::run(&args),
        Command::Compare(args) => compare::run(&args).map(ExitCode::from),
        Command::Serve(args) => serve::run(args, &signal::install()?),
        Command::Load(args) => load::run(args, &signal::install()?),
        Command::Trace(args) => Ok(trace::run(args)),
        Command::Completions { shell } => {
            // The value lists come from the parsers themselves (`cli::Vocab`): what
            // completes is what parses. Into memory first: clap_complete panics on a
            // failed write.
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut evbench::cli::completion_command(),
                "evbench",
                &mut script,
            );
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(&script).and_then(|()| out.flush()) {
                eprintln!(
                    "evbench: error: cannot write to stdout: {}",
                    evbench::files::cause(&e)
                );
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `EVBENCH_SOAK_LOOP` as a duration in seconds (unset or unreadable: no loop).
fn soak_loop() -> Option<std::time::Duration> {
    let s = std::env::var("EVBENCH_SOAK_LOOP").ok()?;
    s.trim()
        .parse::<u64>()
        .ok()
        .map(std::time::Duration::from_secs)
}

/// `--help` and `--version` print as clap renders them; a real usage error is one line.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind::*;
    if matches!(
        e.kind(),
        DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(if e.kind() == DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        });
    }
    eprintln!("evbench: error: {} (see --help)", usage_line(&e));
    // `evbench trace ... -- COMMAND`: evbench's own failures exit 125 there, so a
    // mistake in its options never passes for the command's status.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(if trace::is_command_mode(&argv) {
        trace::EXIT_FAILED
    } else {
        2
    })
}

/// A usage error in one line. clap puts the names of missing required arguments on the
/// lines after its first, so they are gathered into it.
fn usage_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(ContextValue::Strings(names)) = e.get(ContextKind::InvalidArg) {
            let s = if names.len() == 1 { "" } else { "s" };
            return format!("missing required argument{s}: {}", names.join(", "));
        }
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

fn one_line(e: &anyhow::Error) -> String {
    evbench::errors::without_errno(format!("{e:#}").replace('\n', " "))
}
