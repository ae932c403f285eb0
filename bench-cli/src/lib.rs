//! evbench's command-line tool as a library: the binary is a thin `main`, and the
//! integration tests drive the same probes and commands directly.
pub mod cli;
pub mod compare;
pub mod doctor;
pub mod errors;
pub mod export;
pub mod list;
pub mod load;
pub mod output;
pub mod probes;
pub mod report;
pub mod results;
pub mod run;
pub mod run_http;
pub mod run_pipetest;
pub mod serve;
pub mod signal;
pub mod suite;
