//! `evbench compare BASELINE CURRENT`: the regression gate (judgement in
//! `results::compare`, rendering in `export::compare`).
use crate::{
    cli::CompareArgs,
    export::compare::{render_markdown, render_text},
    results::compare::compare_files,
};

/// Exit status of `compare`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const REGRESSED: u8 = 1;
    pub const UNUSABLE: u8 = 2;
}

/// `evbench compare`: prints the verdict, writes `--markdown`, returns the exit status.
pub fn run(args: &CompareArgs) -> anyhow::Result<u8> {
    let threshold = args.threshold.0;
    // Plot outputs are checked before any work, like every output path.
    if let Some(dir) = &args.svg {
        if let Err(e) = crate::files::check_output_dir("--svg", dir) {
            eprintln!("evbench: error: {e}");
            return Ok(exit::UNUSABLE);
        }
    }
    if let Some(p) = &args.html {
        if let Err(e) = crate::files::check_output("--html", p) {
            eprintln!("evbench: error: {e}");
            return Ok(exit::UNUSABLE);
        }
    }
    let c = match compare_files(&args.baseline, &args.current, threshold) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("evbench: error: unusable input: {e}");
            return Ok(exit::UNUSABLE);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{}", render_text(&c));
    }
    if let Some(path) = &args.markdown {
        use anyhow::Context;
        std::fs::write(path, render_markdown(&c))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(dir) = &args.svg {
        for f in crate::export::compare_svg::write_dir(&c, dir)? {
            eprintln!("evbench: wrote {}", f.display());
        }
    }
    if let Some(p) = &args.html {
        crate::files::write_atomic(p, crate::export::compare_svg::html(&c)?.as_bytes())?;
        eprintln!("evbench: wrote {}", p.display());
    }
    for m in &c.method {
        eprintln!("evbench: warning: {m}");
    }
    if !c.method.is_empty() && args.strict {
        eprintln!(
            "evbench: error: the two results measured their headlines differently (--strict)"
        );
        return Ok(exit::UNUSABLE);
    }
    if !c.machine.is_empty() {
        if args.strict {
            eprintln!("evbench: error: the two results come from different machines (--strict)");
            return Ok(exit::UNUSABLE);
        }
        eprintln!("evbench: warning: the two results come from different machines: the verdicts may reflect the machines, not the code");
    }
    Ok(if c.regressed() > 0 {
        exit::REGRESSED
    } else {
        exit::OK
    })
}
