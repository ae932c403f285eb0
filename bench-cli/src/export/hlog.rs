//! The HdrHistogram interval log, in the reference format as the Java implementation's
//! `org.HdrHistogram.HistogramLogWriter` writes it (HdrHistogram 2.1, log format 1.3),
//! so HistogramLogProcessor, HdrHistogram_py and the Rust crate's reader take it:
//!
//! ```text
//! #evbench … results, command: …                 (outputComment)
//! #one interval per repeat, …                    (outputComment: what the columns hold)
//! #[Histogram log format version 1.3]            (outputLogFormatVersion)
//! #[StartTime: 1795415229.965 (seconds since epoch), Sun Nov 29 23:20:42 UTC 2026]
//! #[BaseTime: 1795415229.965 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! Tag=pingpong/pipe/block/pin=same:round_trip_ns,0.038,0.190,0.126,HISTFAAA…
//! ```
//!
//! Columns, as the reference writes them (`outputIntervalHistogram(start, end, h,
//! 1e6)`, `%.3f`): `StartTimestamp`, seconds after BaseTime (the run's start);
//! `Interval_Length`, seconds; `Interval_Max`, the interval's largest value divided by
//! 1,000,000 (the reference's default ratio: ms for our ns histograms); then the
//! histogram, V2 compressed and base64, its values in the histogram's unit (ns). One
//! interval per judged repeat and histogram (interrupted ones included: the log is raw
//! data), tagged `case:histogram`, in start order.
use std::io::Write;

use anyhow::{anyhow, Result};
use base64::Engine as _;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use crate::results::RunResult;

/// The reference writer's `maxValueUnitRatio` default: `Interval_Max` is the maximum
/// divided by this.
pub const MAX_VALUE_UNIT_RATIO: u64 = 1_000_000;

/// The log format version the reference writer declares.
pub const LOG_FORMAT_VERSION: &str = "1.3";

/// The legend line, as `HistogramLogWriter.outputLegend` prints it.
pub const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

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

/// Milliseconds as Java's `%.3f` of `ms / 1000.0` prints them (exact for whole ms).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `v / ratio` to three decimals, rounded half up on the exact quotient, as Java's
/// `Formatter` (`%.3f`, `RoundingMode.HALF_UP`) prints the double `v / ratio`.
fn ratio3(v: u64, ratio: u64) -> String {
    // Thousandths of (v / ratio), half up: (v·1000 + ratio/2) / ratio.
    let t = (u128::from(v) * 1000 + u128::from(ratio) / 2) / u128::from(ratio);
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// Java's `Date.toString()` of `ms` since the epoch, in UTC ("Sun Nov 29 23:20:42 UTC
/// 2026"); readers ignore it, people read it.
pub fn java_date_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// One interval of the log: start (after the base time) and length in whole ms, tag,
/// histogram.
pub struct Interval<'a> {
    pub start_ms: u64,
    pub length_ms: u64,
    pub tag: String,
    pub hist: &'a crate::results::hdr::Hdr,
}

/// The intervals of `r`, in start order (ties: the order the cases ran).
pub fn intervals(r: &RunResult) -> Vec<Interval<'_>> {
    // Nearest ms, half up: what Java's `%.3f` prints for ns / 1e9 seconds.
    let ms = |ns: u64| (ns + 500_000) / 1_000_000;
    let mut v = Vec::new();
    for c in &r.cases {
        for rep in &c.repeats {
            for (name, h) in &rep.histograms {
                v.push(Interval {
                    start_ms: ms(rep.start_ns),
                    length_ms: ms(rep.elapsed_ns),
                    tag: tag(&c.id, name),
                    hist: &h.hdr,
                });
            }
        }
    }
    v.sort_by_key(|i| i.start_ms);
    v
}

/// The run's start in whole milliseconds since the epoch (the log's StartTime and
/// BaseTime).
pub fn start_ms(r: &RunResult) -> u64 {
    (r.started_unix.max(0.0) * 1000.0).round() as u64
}

/// The two comments evbench puts first.
pub fn comments(r: &RunResult) -> [String; 2] {
    [
        format!(
            "evbench {} results, command: {}",
            r.provenance.evbench_version,
            r.command.join(" ")
        ),
        "one interval per repeat, tagged case:histogram; StartTimestamp and Interval_Length in s after BaseTime; Interval_Max in ms (the maximum / 1e6); histogram values in ns".into(),
    ]
}

/// Writes the log of `r` (see the module docs). Errors: the writer's, or a histogram
/// that cannot be encoded.
pub fn write(r: &RunResult, out: &mut impl Write) -> Result<()> {
    let start = start_ms(r);
    for c in comments(r) {
        writeln!(out, "#{c}")?;
    }
    writeln!(out, "#[Histogram log format version {LOG_FORMAT_VERSION}]")?;
    writeln!(
        out,
        "#[StartTime: {} (seconds since epoch), {}]",
        seconds(start),
        java_date_utc(start)
    )?;
    writeln!(out, "#[BaseTime: {} (seconds since epoch)]", seconds(start))?;
    writeln!(out, "{LEGEND}")?;
    let mut ser = V2DeflateSerializer::new();
    let mut buf = Vec::new();
    for i in intervals(r) {
        buf.clear();
        let hist = i.hist.decode();
        ser.serialize(&hist, &mut buf)
            .map_err(|e| anyhow!("cannot encode histogram {}: {e:?}", i.tag))?;
        writeln!(
            out,
            "Tag={},{},{},{},{}",
            i.tag,
            seconds(i.start_ms),
            seconds(i.length_ms),
            ratio3(hist.max(), MAX_VALUE_UNIT_RATIO),
            base64::engine::general_purpose::STANDARD.encode(&buf)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_java_does() {
        assert_eq!(seconds(1_795_415_229_965), "1795415229.965");
        assert_eq!(seconds(38), "0.038");
        // 126,335 ns / 1e6 = 0.126335 → 0.126; 1,500 ns → 0.0015 → 0.002 (half up).
        assert_eq!(ratio3(126_335, MAX_VALUE_UNIT_RATIO), "0.126");
        assert_eq!(ratio3(1_500, MAX_VALUE_UNIT_RATIO), "0.002");
        assert_eq!(ratio3(4_500, MAX_VALUE_UNIT_RATIO), "0.005");
        assert_eq!(ratio3(7_897_087, MAX_VALUE_UNIT_RATIO), "7.897");
        assert_eq!(java_date_utc(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            java_date_utc(1_795_415_229_965),
            "Mon Nov 23 06:27:09 UTC 2026"
        );
    }
}
