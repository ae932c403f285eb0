use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use evbench::{
    cli::{Cli, Command},
    commands::{compare, doctor, list, load, report, run, serve, trace},
    signal,
};

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`evbench list | head`) instead of failing writes; Rust ignores SIGPIPE by default.
    // SAFETY: restoring a default disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = match Cli::try_parse() {
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

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let stop = signal::install()?;
            run::run(args, &stop)
        }
        Command::Doctor(args) => doctor::run(args.json),
        Command::List(args) => list::run(args.json).map(|()| ExitCode::SUCCESS),
        Command::Report(args) => report::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Compare(args) => compare::run(&args).map(ExitCode::from),
        Command::Serve(args) => serve::run(args, &signal::install()?),
        Command::Load(args) => load::run(args, &signal::install()?),
        Command::Trace(args) => Ok(trace::run(args)),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "evbench",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
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
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("evbench: error: {first} (see --help)");
    ExitCode::from(2)
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
