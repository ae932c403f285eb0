//! What a parameter scan (`evbench run --scan NAME=VALUES`, issue 19) records in the
//! results document: the scan itself at the top (`RunResult::scan`) and, in each case,
//! its point of the scan (`Case::scan`). Both are additions to schema version 2 that
//! older readers ignore (results/SCHEMA.md).
use serde::{Deserialize, Serialize};

/// The parameter a run scanned: the option's long name, the unit its values are in, the
/// values in the order given (after rounding and dropping repeats), and `--scan` as
/// typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scan {
    /// The option's long name (`channels`, `fanout`, `connections`, `body-size`, …).
    pub name: String,
    /// The unit of `values` (`channels`, `waiters`, `req/s`, `bytes`, `ns` for a
    /// duration such as `think`).
    pub unit: String,
    /// Every value measured, one case (per wait mode for http) each, as numbers in
    /// `unit`.
    pub values: Vec<f64>,
    /// The `--scan` argument as typed (`channels=200..9000:8log`).
    pub spec: String,
}

/// One case's point of the scan: the value its option had. `label` (`channels=800`,
/// `think=2us`) is the last part of the case's id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanPoint {
    /// The option's long name, as in [`Scan::name`].
    pub name: String,
    /// The value, in [`Scan::unit`].
    pub value: f64,
    /// `NAME=VALUE` as it stands in the case id.
    pub label: String,
}
