//! evbench's command-line tool as a library: the binary is a thin `main`, and the
//! integration tests drive the same probes and commands directly.
pub mod cli;
pub mod doctor;
pub mod errors;
pub mod list;
pub mod machine;
pub mod output;
pub mod probes;
pub mod run;
pub mod run_pipetest;
pub mod signal;
pub mod summary;
