//! One file per subcommand: each turns its parsed arguments into work for the layers
//! below (the run engine, the probes, the results model) and writes what they return
//! through `export` and `output`.
pub mod compare;
pub mod doctor;
pub mod list;
pub mod load;
pub mod report;
pub mod run;
pub mod serve;
pub mod trace;
