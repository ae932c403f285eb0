//! evbench's command-line tool as a library: the binary is a thin `main`, and the
//! integration tests drive the same probes and commands directly.
//!
//! Layers, top to bottom; a module uses only modules below it (`cargo xtask clippy`
//! fails on any import cycle, `use` and paths in function bodies alike):
//! - `commands`: one file per subcommand (run, trace, serve, load, report, compare, doctor,
//!   list);
//! - `export`: whole reports: terminal, Markdown, SVG, HTML, HdrHistogram log, verdicts,
//!   the run's human report;
//! - `engine`: the run engine, the one place that decides what runs when (`scheduler`),
//!   and one module per workload turning options into cases;
//! - `cli`: the command line's types and value parsers, the options the engine reads;
//! - `output`: terminal primitives the engine and exports share: figures formatted for
//!   people, progress, warnings, the kernel section;
//! - `probes`: loading the eBPF programs and collecting their maps;
//! - `results`: the results document, its statistics and the regression gate's
//!   judgement;
//! - `errors`, `files`, `signal`, `privdrop`: errno helpers, files written whole or not
//!   at all, the Ctrl-C / SIGTERM flag, and the drop to another user (`--user`).
pub mod cli;
pub mod commands;
pub mod engine;
pub mod errors;
pub mod export;
pub mod files;
pub mod output;
pub mod privdrop;
pub mod probes;
pub mod results;
pub mod signal;
