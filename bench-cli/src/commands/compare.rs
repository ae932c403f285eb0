//! `evbench compare BASELINE CURRENT` (or `--baseline FILE... --current FILE...`): the
//! regression gate (judgement in `results::compare`, rendering in `export::compare`).
//!
//! Exit status, for CI scripts: 0 nothing regressed; 1 something regressed (with
//! `--fail-on inconclusive`, also something inconclusive); 2 the gate could not judge —
//! unusable input, nothing judged (every metric too few repeats), an output that could
//! not be written, or different machines / measuring methods with `--strict`. 2 wins over
//! 1, and the verdict table still reaches stdout whenever there is one.
use std::io::Write as _;

use crate::{
    cli::{CompareArgs, FailOn},
    export::compare::{render_markdown, render_text},
    files::{self, check_output, write_atomic},
    results::compare::{compare_files, Comparison, Settings},
};

/// Exit status of `compare`.
pub mod exit {
    /// Nothing regressed.
    pub const OK: u8 = 0;
    /// Something regressed (or was inconclusive, with `--fail-on inconclusive`).
    pub const REGRESSED: u8 = 1;
    /// The gate could not judge: unusable input, nothing judged, an output not written,
    /// different machines with `--strict`.
    pub const UNUSABLE: u8 = 2;
}

/// `evbench compare`: checks the outputs, judges, prints the verdict, writes
/// `--markdown`, returns the exit status.
pub fn run(args: &CompareArgs) -> anyhow::Result<u8> {
    let (base, cur) = match args.sides() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "evbench: error: {}",
                crate::errors::without_errno(e.to_string())
            );
            return Ok(exit::UNUSABLE);
        }
    };
    // An output that cannot be written, or that would overwrite an input, is known
    // before anything is read or judged.
    let mut outs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(p) = &args.markdown {
        outs.push(("--markdown", p));
    }
    if let Some(p) = &args.html {
        outs.push(("--html", p));
    }
    let inputs: Vec<(&str, &std::path::Path)> = base
        .iter()
        .map(|p| ("baseline file", p.as_path()))
        .chain(cur.iter().map(|p| ("current file", p.as_path())))
        .collect();
    let checked = outs
        .iter()
        .try_for_each(|(flag, p)| check_output(flag, p))
        .and_then(|()| files::check_distinct(&outs))
        .and_then(|()| files::check_not_inputs(&outs, &inputs))
        .and_then(|()| match &args.svg {
            Some(dir) => files::check_output_dir("--svg", dir),
            None => Ok(()),
        });
    if let Err(e) = checked {
        eprintln!(
            "evbench: error: {}",
            crate::errors::without_errno(e.to_string())
        );
        return Ok(exit::UNUSABLE);
    }
    let settings = Settings {
        threshold: args.threshold.0,
        percentiles: args.percentiles,
    };
    let mut c = match compare_files(&base, &cur, settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "evbench: error: unusable input: {}",
                crate::errors::without_errno(e.to_string())
            );
            return Ok(exit::UNUSABLE);
        }
    };
    c.fail_on_inconclusive = args.fail_on == FailOn::Inconclusive;
    // The plot files are known once the comparison is drawn: none may be another
    // output or an input (checked before anything is printed or written).
    let plots = match &args.svg {
        Some(dir) => {
            let plots = crate::export::compare_svg::plots(&c)?;
            let paths = crate::export::svg::plot_paths(&plots, dir);
            if let Err(e) = super::report::check_plot_files(&paths, &outs, &inputs) {
                eprintln!("evbench: error: {e}");
                return Ok(exit::UNUSABLE);
            }
            plots
        }
        None => Vec::new(),
    };
    let text = if args.json {
        let mut j = serde_json::to_string_pretty(&c)?;
        j.push('\n');
        j
    } else {
        render_text(&c)
    };
    // println! would panic on a full or closed stdout: a failed write is one line and
    // exit 2, and the files asked for are still written. (A reader gone away ends the
    // process by SIGPIPE first, as for any Unix tool: see main.)
    let mut could_not_judge = false;
    {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out
            .write_all(crate::output::printable(&text).as_bytes())
            .and_then(|()| out.flush())
        {
            eprintln!(
                "evbench: error: cannot write the verdict to stdout: {}",
                files::cause(&e)
            );
            could_not_judge = true;
        }
    }
    if let Some(path) = &args.markdown {
        if let Err(e) = write_atomic(path, render_markdown(&c).as_bytes()) {
            eprintln!(
                "evbench: error: {} (the verdict above is complete; exit 2)",
                crate::errors::without_errno(e.to_string())
            );
            could_not_judge = true;
        }
    }
    if let Some(dir) = &args.svg {
        match crate::export::svg::write_plots(&plots, dir) {
            Ok(files) if files.is_empty() => {
                eprintln!("{}", super::report::nothing_to_plot(dir));
            }
            Ok(files) => {
                for f in files {
                    eprintln!("evbench: wrote {}", f.display());
                }
            }
            Err(e) => {
                // One line: the write error already quotes its cause.
                eprintln!("evbench: error: {}", crate::errors::chain(e.as_ref()));
                could_not_judge = true;
            }
        }
    }
    if let Some(p) = &args.html {
        let page = crate::export::compare_svg::html(&c)?;
        match write_atomic(p, page.as_bytes()) {
            Ok(()) => eprintln!("evbench: wrote {}", p.display()),
            Err(e) => {
                eprintln!(
                    "evbench: error: {}",
                    crate::errors::without_errno(e.to_string())
                );
                could_not_judge = true;
            }
        }
    }
    could_not_judge |= report_doubts(&c, args.strict);
    if c.nothing_judged() {
        eprintln!(
            "evbench: error: nothing judged: no metric has {} repeats on both sides: {}",
            crate::results::compare::MIN_REPEATS,
            c.no_verdict_causes().join("; ")
        );
        could_not_judge = true;
    }
    Ok(status(&c, could_not_judge, args.fail_on))
}

/// Prints the warnings about machines and methods; true when `--strict` makes them fatal.
fn report_doubts(c: &Comparison, strict: bool) -> bool {
    for m in &c.method {
        eprintln!("evbench: warning: {m}");
    }
    let mut fatal = false;
    if !c.method.is_empty() && strict {
        eprintln!(
            "evbench: error: the two results measured their headlines differently (--strict)"
        );
        fatal = true;
    }
    if !c.machine.is_empty() {
        if strict {
            eprintln!("evbench: error: the results come from different machines (--strict)");
            fatal = true;
        } else {
            eprintln!("evbench: warning: the results come from different machines: the verdicts may reflect the machines, not the code");
        }
    }
    fatal
}

/// The exit status: 2 wins over 1, 1 over 0.
pub fn status(c: &Comparison, could_not_judge: bool, fail_on: FailOn) -> u8 {
    if could_not_judge {
        exit::UNUSABLE
    } else if c.regressed() > 0 || (fail_on == FailOn::Inconclusive && c.inconclusive() > 0) {
        exit::REGRESSED
    } else {
        exit::OK
    }
}
