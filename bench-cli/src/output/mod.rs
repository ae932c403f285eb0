//! Terminal output: warnings, figures formatted for people, and the kernel section.
pub mod kernel;
pub mod progress;

/// One warning line on stderr.
pub fn warn(msg: &str) {
    eprintln!("evbench: warning: {msg}");
}

/// A nanosecond figure with a unit a person reads at a glance (ns, µs, ms, s).
pub fn ns(v: f64) -> String {
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

/// "p50 …  p90 …  p99 …  p99.9 …  max …" of a latency summary, as reports print it.
pub fn percentiles(p: &crate::results::Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ns(p.p50 as f64),
        ns(p.p90 as f64),
        ns(p.p99 as f64),
        ns(p.p999 as f64),
        ns(p.max as f64)
    )
}

/// An integer with thousands separators.
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

/// A figure with its unit, compactly.
pub fn figure(v: f64, unit: &str) -> String {
    if unit == "ns" {
        return ns(v);
    }
    let num = if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
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
    }
}
