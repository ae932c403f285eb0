//! `evbench report FILE`: renders a saved result in the formats asked for.
//!
//! `--csv -` and `--hlog -` write to stdout in place of the text report. Every other
//! output path (`--svg DIR`, `--html`, `--hlog`, `--csv`) is checked before anything is
//! read or rendered, and every file is written whole or not at all (`crate::files`): a
//! full disk leaves no partial file under a final name, the report on stdout is still
//! printed, and the command exits 2 naming each file it could not write. A document
//! with nothing to plot (every case interrupted, no figure) makes `--svg DIR` say so
//! in one line on stderr and write nothing (exit 0: the report itself is complete).
use std::{io::Write, path::Path, process::ExitCode};

use anyhow::Result;

use crate::{cli::ReportArgs, export, files, results::RunResult};

/// Exit status when a file could not be written or an output path is unusable.
const OUTPUT_EXIT: u8 = 2;

/// Checks every output path of `report` before any work: each can be written, the SVG
/// directory exists or can be created, and no two outputs name one file. `Err` is one
/// line naming the flag and the path.
pub fn check_outputs(args: &ReportArgs) -> Result<(), String> {
    let outs = file_outputs(args);
    for (flag, p) in &outs {
        files::check_output(flag, p)?;
    }
    if let Some(dir) = &args.svg {
        files::check_output_dir("--svg", dir)?;
    }
    files::check_distinct(&outs)?;
    // Nor may an output overwrite the document being read (same path, a symlink to
    // it, or a hard link).
    files::check_not_inputs(&outs, &[("input file", args.file.as_path())])
}

/// The (flag, path) of every output file of `report` but the plots (`-` is stdout,
/// no file).
fn file_outputs(args: &ReportArgs) -> Vec<(&'static str, &Path)> {
    let mut outs: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &args.html {
        outs.push(("--html", p));
    }
    if let Some(p) = &args.hlog {
        outs.push(("--hlog", p));
    }
    if let Some(p) = &args.csv {
        outs.push(("--csv", p));
    }
    // "-" is stdout (see `is_stdout`), no file to check.
    outs.retain(|(_, p)| !is_stdout(p));
    outs
}

/// Refuses a plot file of `--svg DIR` that another output or an input names
/// (`--svg . --html ./pingpong-ops_per_sec.svg` would replace the plot with the page):
/// the plot names depend on the document, so this runs once the plots are drawn and
/// before anything is written or printed. Shared by `report` and `compare`. `Err` is
/// one line naming both flags and the file.
pub fn check_plot_files(
    plots: &[std::path::PathBuf],
    outs: &[(&str, &Path)],
    inputs: &[(&str, &Path)],
) -> Result<(), String> {
    let svgs: Vec<(&str, &Path)> = plots.iter().map(|p| ("--svg", p.as_path())).collect();
    for svg in &svgs {
        for out in outs {
            files::check_distinct(&[*svg, *out])?;
        }
    }
    files::check_not_inputs(&svgs, inputs)
}

/// Whether an output path is `-`: stdout, as for most Unix tools. The text report is
/// then left out, so stdout holds that one output alone (CSV or interval log).
fn is_stdout(p: &Path) -> bool {
    p == Path::new("-")
}

/// Writes one `--csv`/`--hlog` output: to stdout for `-`, else to the file (whole or
/// not at all) with a "wrote" line; a failure goes into `failed`.
fn write_output(
    path: &Path,
    failed: &mut Vec<String>,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = f(&mut out).and_then(|()| out.flush()) {
            failed.push(format!("cannot write to stdout: {}", files::cause(&e)));
        }
        return;
    }
    match files::write_with(path, |w| f(w)) {
        Ok(()) => eprintln!("evbench: wrote {}", path.display()),
        Err(e) => failed.push(e.to_string()),
    }
}

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    if let Err(e) = check_outputs(args) {
        eprintln!("evbench: error: {}", e.replace('\n', " "));
        return Ok(ExitCode::from(OUTPUT_EXIT));
    }
    let r = RunResult::read(&args.file)?;
    let plots = match &args.svg {
        Some(dir) => {
            let plots = export::svg::plots(&r)?;
            let paths = export::svg::plot_paths(&plots, dir);
            let inputs = [("input file", args.file.as_path())];
            if let Err(e) = check_plot_files(&paths, &file_outputs(args), &inputs) {
                eprintln!("evbench: error: {e}");
                return Ok(ExitCode::from(OUTPUT_EXIT));
            }
            plots
        }
        None => Vec::new(),
    };
    let text = if args.markdown {
        export::markdown::render(&r)
    } else {
        export::terminal::render(&r)
    };
    let mut failed: Vec<String> = Vec::new();
    // A stdout that cannot take the report (a full disk behind `>`) is one line and
    // exit 2, like any output; the files asked for are still written. An output sent
    // to stdout (`-`) takes stdout's place.
    let to_stdout = [&args.csv, &args.hlog]
        .iter()
        .any(|p| p.as_deref().is_some_and(is_stdout));
    if !to_stdout {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out
            .write_all(crate::output::printable(&text).as_bytes())
            .and_then(|()| out.flush())
        {
            failed.push(format!(
                "cannot write the report to stdout: {}",
                files::cause(&e)
            ));
        }
    }
    if let Some(dir) = &args.svg {
        write_svgs(&plots, dir, &mut failed);
    }
    if let Some(path) = &args.html {
        match files::write_atomic(path, export::html::render(&r)?.as_bytes()) {
            Ok(()) => eprintln!("evbench: wrote {}", path.display()),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if let Some(path) = &args.hlog {
        write_output(path, &mut failed, |mut w| {
            export::hlog::write(&r, &mut w).map_err(std::io::Error::other)
        });
    }
    if let Some(path) = &args.csv {
        write_output(path, &mut failed, |w| {
            export::csv::write(&r, args.csv_repeats, w).map_err(std::io::Error::other)
        });
    }
    for f in &failed {
        eprintln!("evbench: error: {f}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(OUTPUT_EXIT)
    })
}

/// The one line `--svg DIR` prints when a document has no figure to draw (`report` and
/// `compare` alike).
pub fn nothing_to_plot(dir: &Path) -> String {
    format!(
        "evbench: --svg {}: nothing to plot (no case has a measured figure); no file written",
        dir.display()
    )
}

/// Writes every plot into `dir` (created if missing), all or none
/// (`export::svg::write_plots`): a failure is one line naming the first file that could
/// not be written, and leaves no plot of this invocation behind.
fn write_svgs(plots: &[(String, String, String)], dir: &Path, failed: &mut Vec<String>) {
    match export::svg::write_plots(plots, dir) {
        Ok(files) if files.is_empty() => eprintln!("{}", nothing_to_plot(dir)),
        Ok(files) => {
            for f in files {
                eprintln!("evbench: wrote {}", f.display());
            }
        }
        Err(e) => failed.push(crate::errors::chain(e.as_ref())),
    }
}
