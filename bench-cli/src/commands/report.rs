//! `evbench report FILE`: renders a saved result in the formats asked for.
use std::io::Write as _;

use anyhow::{Context, Result};

use crate::{cli::ReportArgs, export, results::RunResult};

pub fn run(args: &ReportArgs) -> Result<()> {
    if let Some(path) = &args.csv {
        crate::files::check_output("--csv", path).map_err(anyhow::Error::msg)?;
    }
    let r = RunResult::read(&args.file)?;
    let text = if args.markdown {
        export::markdown::render(&r)
    } else {
        export::terminal::render(&r)
    };
    std::io::stdout().write_all(text.as_bytes())?;
    if let Some(dir) = &args.svg {
        for f in export::svg::write_dir(&r, dir)? {
            eprintln!("evbench: wrote {}", f.display());
        }
    }
    if let Some(path) = &args.html {
        std::fs::write(path, export::html::render(&r)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("evbench: wrote {}", path.display());
    }
    if let Some(path) = &args.hlog {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        export::hlog::write(&r, &mut f)?;
        f.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("evbench: wrote {}", path.display());
    }
    if let Some(path) = &args.csv {
        crate::files::write_with(path, |w| {
            export::csv::write(&r, args.csv_repeats, w).map_err(std::io::Error::other)
        })?;
        eprintln!("evbench: wrote {}", path.display());
    }
    Ok(())
}
