//! Small statistics the benches share.

/// The median (0 for no values).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The largest value (0 for none): the best run of a higher-is-better figure. Other
/// load on a shared machine only ever makes a run worse, so the best estimates a
/// variant's own cost.
pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}
