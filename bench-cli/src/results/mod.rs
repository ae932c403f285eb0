//! The durable results document (`RunResult`), documented in `results/SCHEMA.md`.
//!
//! A run is a list of cases; a case is named metrics measured once per repeat (scalars
//! with a unit and a direction), named histograms per repeat (stored losslessly) and
//! named counters. `compare` and the exports work on that shape alone, so pingpong,
//! pipetest and http cases all fit without either side knowing the workloads.
//!
//! Building one, as the run code does:
//! ```no_run
//! # use evbench::results::*;
//! # let h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
//! let mut run = RunResult::new(std::env::args().collect(), serde_json::json!({"repeat": 5}),
//!                              ProbesState::off("--probes none"), evbench::probes::OBJECT);
//! let noise = NoiseMeter::start();
//! let mut case = Case::new("pingpong", Some("pipe"), Some("block"), Some("pin=same"));
//! case.option("rounds", 100_000);
//! let mut rep = Repeat::new(std::time::Duration::from_millis(900));
//! rep.metric("ops_per_sec", Metric::higher("ops/s"), 111_000.0);
//! rep.histogram("round_trip_ns", "ns", &h);
//! rep.counter("rounds", 100_000);
//! case.push_repeat(rep);
//! run.push_case(case);
//! run.finish(noise.finish());
//! run.write(std::path::Path::new("result.json")).unwrap();
//! ```
pub mod compare;
pub mod fit;
pub mod hdr;
pub mod machine;
pub mod precision;
pub mod provenance;
pub mod scan;
pub mod stats;

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use machine::{Machine, Noise, NoiseMeter, PassNoise, PassNoiseMeter};
pub use provenance::Provenance;
pub use scan::{Scan, ScanPoint};

/// The major version of the document. Readers refuse another major version; fields are
/// only ever added within one. Version 2: headline figures from clean passes (no probe
/// attached), the kernel's figures from probed passes (`repeats[].probed`), warm-up
/// repeats apart (`warmup_repeats`); every v1 path keeps its meaning.
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest version this evbench still reads (`report`, `compare`).
pub const OLDEST_READABLE: u32 = 1;
/// The document's kind, so a stray JSON file is told apart from an old evbench one.
pub const SCHEMA_NAME: &str = "evbench.run";

/// One `evbench run`: provenance, machine, command and every case measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub schema_version: u32,
    pub provenance: Provenance,
    pub machine: Machine,
    /// Noise seen during the run (steal time); absent until `finish`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Noise>,
    pub probes: ProbesState,
    /// argv as typed.
    pub command: Vec<String>,
    /// The run's own options (repeat count, probe sets, …), defaults included.
    pub options: Value,
    /// Seconds since the epoch when the run started.
    pub started_unix: f64,
    /// Ctrl-C cut the run short; the figures cover what was measured.
    #[serde(default)]
    pub interrupted: bool,
    /// Everything a reader should know before trusting the figures (debug build, clock
    /// source not served by the vDSO, steal time, probe drops, …).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The parameter scan this run measured (`--scan`), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Scan>,
    pub cases: Vec<Case>,
}

/// Whether the eBPF probes ran, which sets, and why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbesState {
    pub on: bool,
    pub sets: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ProbesState {
    pub fn on(sets: impl Into<String>) -> Self {
        Self {
            on: true,
            sets: sets.into(),
            reason: None,
        }
    }
    pub fn off(reason: impl Into<String>) -> Self {
        Self {
            on: false,
            sets: "none".into(),
            reason: Some(reason.into()),
        }
    }
}

/// Which way is better for a metric; `compare` calls a move the other way a regression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
    /// Informational: reported, never judged.
    Neither,
}

/// A metric's declaration: unit and direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub unit: String,
    pub better: Better,
    /// Absolute change below which a difference is noise whatever its relative size
    /// (per-op event counts near zero: 0.00 → 0.05 switches/op is +inf%, yet it is one
    /// stray preemption in twenty operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_floor: Option<f64>,
}

impl Metric {
    pub fn higher(unit: &str) -> Self {
        Self {
            unit: unit.into(),
            better: Better::Higher,
            noise_floor: None,
        }
    }
    pub fn lower(unit: &str) -> Self {
        Self {
            unit: unit.into(),
            better: Better::Lower,
            noise_floor: None,
        }
    }
    pub fn neither(unit: &str) -> Self {
        Self {
            unit: unit.into(),
            better: Better::Neither,
            noise_floor: None,
        }
    }

    /// Declares the absolute change below which `compare` calls a difference noise.
    pub fn with_noise_floor(mut self, floor: f64) -> Self {
        self.noise_floor = Some(floor);
        self
    }
}

/// Noise floor of per-operation event counts (switches, wakeups, syscalls per op): one
/// event in ten operations.
pub const PER_OP_NOISE_FLOOR: f64 = 0.1;

/// The metric each case reports the probes' cost in (schema v2): the probed pass's time
/// per operation over the clean pass's, per round.
pub const PROBE_SLOWDOWN: &str = "probe_slowdown";

/// A metric across repeats: its declaration and the summary of its per-repeat values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    #[serde(flatten)]
    pub metric: Metric,
    pub across: Across,
}

/// Summary of one figure over the repeats. `stddev` is the sample standard deviation
/// (n − 1; 0 for one repeat). With `n` 0 (no repeat measured the figure) every
/// statistic is written as JSON `null`, never 0 (issue 18 item 1); reading `null` gives
/// 0.0 in memory, which readers never show because they check `n` first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "AcrossJson", from = "AcrossJson")]
pub struct Across {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
}

/// [`Across`] as the document holds it: statistics absent (`null`) when `n` is 0.
#[derive(Serialize, Deserialize)]
struct AcrossJson {
    n: usize,
    mean: Option<f64>,
    median: Option<f64>,
    stddev: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

impl From<Across> for AcrossJson {
    fn from(a: Across) -> Self {
        let v = |x: f64| (a.n > 0).then_some(x);
        Self {
            n: a.n,
            mean: v(a.mean),
            median: v(a.median),
            stddev: v(a.stddev),
            min: v(a.min),
            max: v(a.max),
        }
    }
}

impl From<AcrossJson> for Across {
    fn from(a: AcrossJson) -> Self {
        let v = |x: Option<f64>| x.unwrap_or(0.0);
        Self {
            n: a.n,
            mean: v(a.mean),
            median: v(a.median),
            stddev: v(a.stddev),
            min: v(a.min),
            max: v(a.max),
        }
    }
}

impl Across {
    /// Summary of `values` (NaN-free; an empty slice gives zeros).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self {
                n,
                mean: 0.0,
                median: 0.0,
                stddev: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        Self {
            n,
            mean,
            median: median_sorted(&s),
            stddev: var.sqrt(),
            min: s[0],
            max: s[n - 1],
        }
    }
}

/// Median of a sorted, non-empty slice (mean of the middle two for an even length).
pub fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Percentile summary of a histogram (its unit is the histogram's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// One histogram of one repeat: unit, summary, and the lossless encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hist {
    pub unit: String,
    #[serde(flatten)]
    pub summary: Percentiles,
    /// HdrHistogram V2 compressed, base64 ("HISTFAAA…"); kept encoded in memory.
    pub hdr: hdr::Hdr,
}

impl Hist {
    /// The summary and lossless encoding of `h`. A `u64` histogram always encodes; were
    /// it not to, the repeat keeps an empty one rather than failing the run.
    pub fn new(unit: &str, h: &Histogram<u64>) -> Self {
        Self {
            unit: unit.into(),
            summary: Percentiles::of(h),
            hdr: hdr::Hdr::encode(h).unwrap_or_else(|_| {
                hdr::Hdr::encode(&Histogram::new(3).expect("3 significant digits is valid"))
                    .expect("an empty histogram encodes")
            }),
        }
    }
}

/// A histogram merged over a case's repeats: unit and summary (the lossless data stays
/// per repeat).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistInfo {
    pub unit: String,
    #[serde(flatten)]
    pub summary: Percentiles,
}

/// One workload × mechanism × wait mode × options, measured `repeats.len()` times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Pairing key for `compare`: `workload/mechanism/wait[/variant]`.
    pub id: String,
    pub workload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// What else tells this case from its siblings (`pin=same`), part of `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Every option of the workload, defaults included.
    #[serde(default)]
    pub options: BTreeMap<String, Value>,
    /// Declared metrics with their across-repeat summaries.
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricInfo>,
    /// Histograms merged over all repeats (summaries).
    #[serde(default)]
    pub histograms: BTreeMap<String, HistInfo>,
    /// Judged repeats: each a round's clean pass, with its probed pass (if it had one)
    /// under `probed` and that pass's kernel figures beside the clean ones.
    pub repeats: Vec<Repeat>,
    /// Warm-up repeats (`--warmup-repeats`): run first, recorded, never in statistics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warmup_repeats: Vec<Repeat>,
    /// `--repeat auto`: whether the headline reached `--precision`, and how wide it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<precision::Convergence>,
    /// In a parameter scan: the scanned option's value in this case (its label ends
    /// `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanPoint>,
}

impl Case {
    pub fn new(
        workload: &str,
        mechanism: Option<&str>,
        wait: Option<&str>,
        variant: Option<&str>,
    ) -> Self {
        let id = [Some(workload), mechanism, wait, variant]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        Self {
            id,
            workload: workload.into(),
            mechanism: mechanism.map(Into::into),
            wait: wait.map(Into::into),
            variant: variant.map(Into::into),
            options: BTreeMap::new(),
            metrics: BTreeMap::new(),
            histograms: BTreeMap::new(),
            repeats: Vec::new(),
            warmup_repeats: Vec::new(),
            convergence: None,
            scan: None,
        }
    }

    /// Makes this case a point of a parameter scan: `point.label` becomes the last part
    /// of its id (`pipetest/pipe/epoll/channels=800`) and `scan` records the value.
    pub fn set_scan(&mut self, point: ScanPoint) {
        self.id = format!("{}/{}", self.id, point.label);
        self.scan = Some(point);
    }

    /// The id without the scan's label: the line of a scan plot this case is a point
    /// of (one per mechanism × wait mode × variant). The id itself outside a scan.
    pub fn line_id(&self) -> &str {
        match &self.scan {
            Some(p) => self
                .id
                .strip_suffix(&p.label)
                .and_then(|s| s.strip_suffix('/'))
                .unwrap_or(&self.id),
            None => &self.id,
        }
    }

    /// Appends a warm-up repeat (numbered in order); it never enters the statistics.
    pub fn push_warmup(&mut self, mut r: Repeat) {
        r.index = self.warmup_repeats.len() as u32 + 1;
        r.declared.clear();
        self.warmup_repeats.push(r);
    }

    /// Repeats that count: judged and not interrupted.
    pub fn counted(&self) -> impl Iterator<Item = &Repeat> {
        self.repeats.iter().filter(|r| !r.interrupted)
    }

    /// Records one option (chainable).
    pub fn option(&mut self, name: &str, value: impl Serialize) -> &mut Self {
        self.options.insert(
            name.into(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Appends a repeat (numbered in order) and refreshes the across-repeat summaries.
    pub fn push_repeat(&mut self, mut r: Repeat) {
        r.index = self.repeats.len() as u32 + 1;
        if let Some(p) = r.probed.as_mut() {
            p.index = r.index;
        }
        if r.start_ns == 0 {
            r.start_ns = self.repeats.last().map_or(0, |p| p.start_ns + p.elapsed_ns);
        }
        for (name, m) in std::mem::take(&mut r.declared) {
            self.metrics.entry(name).or_insert(MetricInfo {
                metric: m,
                across: Across::of(&[]),
            });
        }
        self.repeats.push(r);
        self.refresh();
    }

    /// Recomputes `metrics[].across` and `histograms` from the repeats.
    pub fn refresh(&mut self) {
        let names: Vec<String> = self.metrics.keys().cloned().collect();
        for name in names {
            let across = Across::of(&self.values(&name));
            if let Some(info) = self.metrics.get_mut(&name) {
                info.across = across;
            }
        }
        let mut merged: BTreeMap<String, (String, Histogram<u64>)> = BTreeMap::new();
        for r in self.counted() {
            for (name, h) in &r.histograms {
                match merged.get_mut(name) {
                    Some((_, m)) => {
                        // Same-precision histograms always merge; a failure would mean
                        // a hand-edited file, and the summary then covers fewer repeats.
                        let _ = m.add(h.hdr.decode());
                    }
                    None => {
                        merged.insert(name.clone(), (h.unit.clone(), h.hdr.decode()));
                    }
                }
            }
        }
        self.histograms = merged
            .into_iter()
            .map(|(name, (unit, h))| {
                (
                    name,
                    HistInfo {
                        unit,
                        summary: Percentiles::of(&h),
                    },
                )
            })
            .collect();
    }

    /// The per-repeat values of metric `name` (repeats that lack it are skipped).
    pub fn values(&self, name: &str) -> Vec<f64> {
        self.counted()
            .filter_map(|r| r.metrics.get(name).copied())
            .filter(|v| v.is_finite())
            .collect()
    }

    /// Histogram `name` merged over all repeats.
    pub fn merged(&self, name: &str) -> Option<Histogram<u64>> {
        let mut out: Option<Histogram<u64>> = None;
        for h in self.counted().filter_map(|r| r.histograms.get(name)) {
            match out.as_mut() {
                Some(m) => {
                    let _ = m.add(h.hdr.decode());
                }
                None => out = Some(h.hdr.decode()),
            }
        }
        out
    }
}

/// One measurement of a case: raw figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Repeat {
    /// 1-based.
    pub index: u32,
    /// When it started, ns after the first repeat of the run started (hlog timestamps).
    pub start_ns: u64,
    /// Measured wall time.
    pub elapsed_ns: u64,
    #[serde(default)]
    pub interrupted: bool,
    /// Scalar figures of this repeat, declared in the case's `metrics`.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Exact counts (messages, syscalls, switches, …).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    #[serde(default)]
    pub histograms: BTreeMap<String, Hist>,
    /// Workload-specific raw figures (tasks, runs, the probes' full figures).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, Value>,
    /// The probed pass of the same round (schema v2): its own workload figures, measured
    /// with the probes attached. Its kernel figures stand in this repeat's
    /// `counters`, `histograms`, `metrics` and `details.kernel`, as in v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probed: Option<Box<Repeat>>,
    /// What the pass met from the rest of the machine (schema v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<PassNoise>,
    #[serde(skip)]
    declared: BTreeMap<String, Metric>,
}

impl Repeat {
    pub fn new(elapsed: Duration) -> Self {
        Self {
            index: 0,
            start_ns: 0,
            elapsed_ns: elapsed.as_nanos() as u64,
            interrupted: false,
            metrics: BTreeMap::new(),
            counters: BTreeMap::new(),
            histograms: BTreeMap::new(),
            details: BTreeMap::new(),
            probed: None,
            noise: None,
            declared: BTreeMap::new(),
        }
    }

    /// Sets the start offset (ns after the run's first repeat started); without it,
    /// repeats are laid end to end.
    pub fn started_at(&mut self, offset: Duration) -> &mut Self {
        self.start_ns = offset.as_nanos() as u64;
        self
    }

    /// Records a scalar figure; a non-finite value (0/0) is left out, as JSON has none.
    pub fn metric(&mut self, name: &str, m: Metric, value: f64) -> &mut Self {
        self.declared.insert(name.into(), m);
        if value.is_finite() {
            self.metrics.insert(name.into(), value);
        }
        self
    }

    pub fn counter(&mut self, name: &str, value: u64) -> &mut Self {
        self.counters.insert(name.into(), value);
        self
    }

    pub fn histogram(&mut self, name: &str, unit: &str, h: &Histogram<u64>) -> &mut Self {
        self.histograms.insert(name.into(), Hist::new(unit, h));
        self
    }

    /// Any serialisable raw figures under `details[name]`.
    pub fn detail(&mut self, name: &str, value: impl Serialize) -> &mut Self {
        self.details.insert(
            name.into(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }
}

/// Why a results file cannot be used.
#[derive(Debug)]
pub enum ReadError {
    /// The file cannot be read.
    Unreadable(String),
    /// It is not JSON, or not a results document.
    NotAResult(String),
    /// A results document of another major version.
    Incompatible { found: u32 },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(m) | Self::NotAResult(m) => f.write_str(m),
            Self::Incompatible { found } => write!(
                f,
                "incompatible schema version {found} (this evbench reads versions {OLDEST_READABLE} to {SCHEMA_VERSION})"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

impl RunResult {
    /// A new document: provenance and machine are read now.
    pub fn new(
        command: Vec<String>,
        options: Value,
        probes: ProbesState,
        ebpf_object: &[u8],
    ) -> Self {
        let provenance = Provenance::current(ebpf_object);
        let machine = Machine::current();
        let mut warnings = Vec::new();
        warnings.extend(provenance.warnings());
        warnings.extend(machine.warnings());
        if !probes.on {
            warnings.push(format!(
                "probes off ({}): kernel figures are missing",
                probes.reason.as_deref().unwrap_or("not asked for")
            ));
        }
        Self {
            schema: SCHEMA_NAME.into(),
            schema_version: SCHEMA_VERSION,
            provenance,
            machine,
            noise: None,
            probes,
            command,
            options,
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            interrupted: false,
            warnings,
            scan: None,
            cases: Vec::new(),
        }
    }

    pub fn push_case(&mut self, c: Case) {
        self.cases.push(c);
    }

    /// Records the noise seen during the run, with a warning when it is large.
    pub fn finish(&mut self, noise: Noise) {
        self.warnings.extend(noise.warnings());
        self.noise = Some(noise);
    }

    /// The case with this id.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> anyhow::Result<String> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Writes the document to `path` whole or not at all (`files::write_atomic`).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::files::write_atomic(path, self.to_json()?.as_bytes())?;
        Ok(())
    }

    /// Parses a document, telling an unreadable file, a foreign JSON file and another
    /// schema version apart.
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ReadError::NotAResult(format!("not JSON: {e}")))?;
        let version = v.get("schema_version").and_then(Value::as_u64);
        let Some(version) = version else {
            return Err(ReadError::NotAResult(
                "not an evbench results document (no schema_version)".into(),
            ));
        };
        if !(u64::from(OLDEST_READABLE)..=u64::from(SCHEMA_VERSION)).contains(&version) {
            return Err(ReadError::Incompatible {
                found: version.min(u64::from(u32::MAX)) as u32,
            });
        }
        let doc: Self = serde_json::from_value(v)
            .map_err(|e| ReadError::NotAResult(format!("malformed results document: {e}")))?;
        doc.check_values()?;
        Ok(doc)
    }

    /// Refuses a judged figure no measurement can give: every metric with a direction
    /// (`better` higher or lower: throughput, time per event, events per operation) is
    /// a rate, a time or a count, never negative; a negative (or NaN) value in any
    /// repeat, warm-up, probed pass or summary means a damaged or hand-edited document,
    /// and judging it would call nonsense a verdict. `Err` names the case and metric.
    fn check_values(&self) -> Result<(), ReadError> {
        for c in &self.cases {
            for (name, info) in &c.metrics {
                if info.metric.better == Better::Neither {
                    continue;
                }
                let bad = |v: f64| v.is_nan() || v < 0.0;
                let mut values: Vec<f64> = Vec::new();
                for r in c.repeats.iter().chain(&c.warmup_repeats) {
                    values.extend(r.metrics.get(name));
                    if let Some(p) = &r.probed {
                        values.extend(p.metrics.get(name));
                    }
                }
                let a = &info.across;
                if a.n > 0 {
                    values.extend([a.mean, a.median, a.min, a.max]);
                }
                if let Some(v) = values.into_iter().find(|&v| bad(v)) {
                    return Err(ReadError::NotAResult(format!(
                        "case {}: {name} = {v} {}: a time, rate or count per operation cannot be negative",
                        c.id, info.metric.unit
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn read(path: &Path) -> Result<Self, ReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReadError::Unreadable(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text).map_err(|e| match e {
            ReadError::NotAResult(m) => ReadError::NotAResult(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}
