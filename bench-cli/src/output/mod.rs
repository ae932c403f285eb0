//! Terminal output: warnings, figures formatted for people, and the kernel section.
pub mod kernel;
pub mod progress;

/// One warning line on stderr.
pub fn warn(msg: &str) {
    eprintln!(
        "evbench: warning: {}",
        crate::errors::without_errno(msg.to_string())
    );
}

/// `s` with every control character but newline and tab shown escaped (`\u{1b}`), for
/// text printed to a terminal: a results document is anyone's file, and a case id
/// holding ESC sequences must not drive the reader's terminal.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A nanosecond figure with a unit a person reads at a glance (ns, µs, ms, s).
pub fn ns(v: f64) -> String {
    // An overflowed mean or median (1e308 + 1e308) is no figure: never "inf s".
    if !v.is_finite() {
        return NO_DATA.into();
    }
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        format!("{:.1} µs", v / 1e3)
    } else if v < 1e9 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// "p50 …  p90 …  p99 …  p99.9 …  max …" of a latency summary, as reports print it;
/// "no data" for an empty histogram (nothing was measured: its zeros mean nothing).
pub fn percentiles(p: &crate::results::Percentiles) -> String {
    if p.count == 0 {
        return "no data".into();
    }
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ns(p.p50 as f64),
        ns(p.p90 as f64),
        ns(p.p99 as f64),
        ns(p.p999 as f64),
        ns(p.max as f64)
    )
}

/// What every format prints where a figure is missing or was never measured (an
/// empty histogram, a case with no complete clean pass): never a 0 that looks measured.
pub const NO_DATA: &str = "—";

/// The spread of repeated figures, one definition for every format: the coefficient of
/// variation, sample standard deviation (n − 1) over the mean, in percent. `None` with
/// fewer than two repeats (one repeat has no spread to show) or a zero mean.
pub fn spread_pct(a: &crate::results::Across) -> Option<f64> {
    (a.n >= 2 && a.mean != 0.0).then(|| a.stddev / a.mean.abs() * 100.0)
}

/// How [`spread_pct`] is defined, for column headers and footnotes.
pub const SPREAD_DEF: &str = "± cv (sd/mean)";

/// "median ± cv%" of repeated figures in `unit` ([`figure`]'s rules): the median alone
/// for one repeat, [`NO_DATA`] for none.
pub fn median_spread(a: &crate::results::Across, unit: &str) -> String {
    if a.n == 0 {
        return NO_DATA.into();
    }
    match spread_pct(a) {
        Some(cv) => format!("{} ± {cv:.1}%", figure(a.median, unit)),
        None => figure(a.median, unit),
    }
}

/// An integer with thousands separators (every count evbench prints goes through here).
pub fn count(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 time", "2 times", "1,000 times": `n` (with thousands separators) and the noun
/// that fits it. Every count printed with a noun goes through here.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// One time unit for a whole column of nanosecond figures, so its header can name it:
/// (divisor, unit) — ns below 1 µs, µs below 1 ms, ms below 1 s, else s — chosen from
/// the column's largest value.
pub fn time_scale(max_ns: f64) -> (f64, &'static str) {
    if max_ns < 1e3 {
        (1.0, "ns")
    } else if max_ns < 1e6 {
        (1e3, "µs")
    } else if max_ns < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

/// A nanosecond figure in a column's unit from [`time_scale`], without the unit (the
/// header has it): whole numbers in ns, one decimal otherwise.
pub fn scaled(v_ns: f64, (div, unit): (f64, &str)) -> String {
    if unit == "ns" {
        format!("{v_ns:.0}")
    } else {
        format!("{:.1}", v_ns / div)
    }
}

/// A figure with its unit, compactly: ns through [`ns`]; otherwise three significant
/// digits (k and M suffixes from 10,000), the unit after a space; [`NO_DATA`] for a
/// value that is not finite.
pub fn figure(v: f64, unit: &str) -> String {
    if unit == "ns" {
        return ns(v);
    }
    // Not a figure (a median of 1e308 and 1e308 overflows): never "infM".
    if !v.is_finite() {
        return NO_DATA.into();
    }
    let num = if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v.abs() >= 1000.0 {
        // Four whole digits: with the thousands separator every count has (`count`).
        let c = count(v.abs().round() as u64);
        if v < 0.0 {
            format!("-{c}")
        } else {
            c
        }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        // Three significant digits below 100, so a column does not mix 100 and 80.000.
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if unit.is_empty() {
        num
    } else {
        format!("{num} {unit}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_units_and_separators() {
        assert_eq!(super::ns(950.0), "950 ns");
        assert_eq!(super::ns(12_345.0), "12.3 µs");
        assert_eq!(super::ns(2_500_000.0), "2.50 ms");
        assert_eq!(super::count(1_234_567), "1,234,567");
        assert_eq!(super::count(12), "12");
        assert_eq!(super::plural(1, "time", "times"), "1 time");
        assert_eq!(super::plural(0, "time", "times"), "0 times");
        assert_eq!(super::plural(1_000, "time", "times"), "1,000 times");
        // Four-digit figures carry the separator too (an SVG bar read "9059 round
        // trips/s" beside "202,000").
        assert_eq!(
            super::figure(9_059.0, "round trips/s"),
            "9,059 round trips/s"
        );
        assert_eq!(super::figure(-1_500.4, ""), "-1,500");
        assert_eq!(super::figure(999.6, ""), "1000");
        assert_eq!(super::figure(12_345.0, ""), "12.3k");
    }

    #[test]
    fn a_time_column_has_one_unit() {
        let s = super::time_scale(82_400.0);
        assert_eq!(s.1, "µs");
        assert_eq!(super::scaled(10_500.0, s), "10.5");
        assert_eq!(super::scaled(950.0, s), "0.9");
        assert_eq!(super::scaled(950.0, super::time_scale(950.0)), "950");
    }

    fn across(v: &[f64]) -> crate::results::Across {
        crate::results::Across::of(v)
    }

    #[test]
    fn one_repeat_has_no_spread_and_none_is_no_data() {
        assert_eq!(super::median_spread(&across(&[85_200.0]), ""), "85.2k");
        assert_eq!(super::median_spread(&across(&[]), "ns"), "—");
        // mean 2, sd 1 (n − 1): cv 50%; the median is shown beside it.
        assert_eq!(
            super::median_spread(&across(&[1.0, 2.0, 3.0]), ""),
            "2.00 ± 50.0%"
        );
        assert_eq!(super::spread_pct(&across(&[5.0])), None);
    }
}

#[cfg(test)]
mod printable_tests {
    #[test]
    fn control_characters_are_shown_escaped_but_newlines_and_tabs_kept() {
        assert_eq!(super::printable("a\tb\nc"), "a\tb\nc");
        assert_eq!(
            super::printable("id\u{1b}[2Jx\r\u{7}"),
            "id\\u{1b}[2Jx\\r\\u{7}"
        );
    }
}
