//! evbench's command-line tool as a library: the binary is a thin `main`, and the
//! integration tests drive the same probes and commands directly.
//!
//! Layers, top to bottom; a module uses only modules below it (`cargo xtask clippy`
//! fails on any import cycle, `use` and paths in function bodies alike):
//! - `commands`: one file per subcommand (run, serve, load, report, compare, doctor, list);
//! - `cli`: the command line's types, every flag in one vocabulary;
//! - `export`: whole reports: terminal, Markdown, SVG, HTML, HdrHistogram log, verdicts;
//! - `engine`: the run engine, the one place that decides what runs when, and one module
//!   per workload turning options into cases;
//! - `output`: terminal primitives: figures formatted for people, progress, warnings;
//! - `probes`: loading the eBPF programs and collecting their maps (knows nothing of
//!   results or output);
//! - `results`: the results document, its statistics and the regression gate's judgement;
//! - `errors`, `files`, `signal`: errno helpers, files written whole or not at all, and
//!   the Ctrl-C / SIGTERM flag.
pub mod cli;
pub mod commands;
pub mod engine;
pub mod errors;
pub mod export;
pub mod files;
pub mod output;
pub mod probes;
pub mod results;
pub mod signal;
