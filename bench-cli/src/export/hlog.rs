//! The HdrHistogram interval log: one interval per repeat, tagged `case:histogram`,
//! as HdrHistogram's own tools (HistogramLogProcessor, HdrHistogram_py) read it.
use std::{io::Write, time::Duration};

use anyhow::{anyhow, Result};
use hdrhistogram::serialization::{
    interval_log::{IntervalLogWriterBuilder, Tag},
    V2DeflateSerializer,
};

use crate::results::RunResult;

/// The tag of histogram `name` of case `id`: tags may not hold ',', ' ', CR or LF.
pub fn tag(id: &str, name: &str) -> String {
    format!("{id}:{name}")
        .chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Writes the log. Timestamps are seconds after the run started; intervals are in
/// start order.
pub fn write(r: &RunResult, out: &mut impl Write) -> Result<()> {
    let start = std::time::UNIX_EPOCH + Duration::from_secs_f64(r.started_unix.max(0.0));
    let mut entries = Vec::new();
    for c in &r.cases {
        for rep in &c.repeats {
            for (name, h) in &rep.histograms {
                entries.push((rep.start_ns, rep.elapsed_ns, tag(&c.id, name), &h.hdr));
            }
        }
    }
    entries.sort_by_key(|e| e.0);
    let mut ser = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "evbench {} results, command: {}",
            r.provenance.evbench_version,
            r.command.join(" ")
        ))
        .add_comment(
            "one interval per repeat, tagged case:histogram; values in the histogram's unit (ns)",
        )
        .with_start_time(start)
        .with_base_time(start);
    let mut w = builder.begin_log_with(out, &mut ser)?;
    for (s, d, t, h) in &entries {
        let tag = Tag::new(t).ok_or_else(|| anyhow!("bad hlog tag {t:?}"))?;
        w.write_histogram(
            h,
            Duration::from_nanos(*s),
            Duration::from_nanos(*d),
            Some(tag),
        )
        .map_err(|e| anyhow!("cannot write the interval log: {e}"))?;
    }
    Ok(())
}
