//! How precisely a case's headline is known: the distribution-free interval of a median,
//! and whether `--repeat auto` reached its target (`--precision`).
//!
//! The interval is the order-statistic one: for n repeats sorted, [x(k), x(n+1-k)] holds
//! the true median with probability 1 − 2·P(B ≤ k−1), B ~ Binomial(n, ½), whatever the
//! distribution; k is the largest that keeps that at or above the level. At 95% it needs
//! at least 6 repeats (then it is [min, max], 96.9%), which is why `--repeat auto` starts
//! at 6. Only whole repeats count: the samples inside one repeat (an HDR histogram's
//! round trips) are autocorrelated and share that repeat's conditions, so treating them
//! as independent would narrow the interval unsoundly — Kalibera & Jones ("Rigorous
//! benchmarking in reasonable time", ISMM 2013) show the variance that matters is
//! between the highest-level repetitions, and benchstat likewise judges per-run values.
use serde::{Deserialize, Serialize};

/// Fewest repeats for a distribution-free 95% interval of a median.
pub const MIN_AUTO_REPEATS: u32 = 6;

fn binom_cdf_half(n: u32, k: u32) -> f64 {
    // P(B <= k) for B ~ Binomial(n, 1/2), summed exactly in f64 (n is small).
    let mut c = 1.0f64; // C(n, 0)
    let mut sum = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            c = c * f64::from(n - i + 1) / f64::from(i);
        }
        sum += c;
    }
    sum / 2f64.powi(n as i32)
}

/// The distribution-free `level` interval of the median of `values`, or `None` when
/// there are too few of them for that level.
pub fn median_interval(values: &[f64], level: f64) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as u32;
    if n == 0 {
        return None;
    }
    let mut best = None;
    for k in 1..=n.div_ceil(2) {
        let coverage = 1.0 - 2.0 * binom_cdf_half(n, k - 1);
        if coverage >= level {
            best = Some(k);
        } else {
            break;
        }
    }
    let k = best? as usize;
    Some((v[k - 1], v[v.len() - k]))
}

/// The median of `values` (finite ones).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(super::median_sorted(&v))
}

/// Half the interval's width relative to the median (0.02 = ±2%), when both exist.
pub fn relative_half_width(values: &[f64], level: f64) -> Option<f64> {
    let (lo, hi) = median_interval(values, level)?;
    let m = median(values)?;
    (m != 0.0).then(|| (hi - lo) / 2.0 / m.abs())
}

/// What `--repeat auto` reached for one case (`cases[].convergence`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// The headline metric judged.
    pub metric: String,
    /// Whether the half-width reached the target before the time budget ended.
    pub converged: bool,
    /// Final half-width of the 95% interval of the median, relative (0.02 = ±2%); null
    /// with fewer than 6 counted repeats.
    pub half_width: Option<f64>,
    /// The target (`--precision`), relative.
    pub target: f64,
    /// Judged repeats measured.
    pub repeats: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_repeats_give_min_max_at_95_and_five_give_none() {
        let v = [5.0, 1.0, 3.0, 2.0, 6.0, 4.0];
        assert_eq!(median_interval(&v, 0.95), Some((1.0, 6.0)));
        assert_eq!(median_interval(&v[..5], 0.95), None);
        // n = 17: k = 5 (coverage 1 − 2·P(B ≤ 4) = 0.951), so [x(5), x(13)].
        let w: Vec<f64> = (1..=17).map(f64::from).collect();
        assert_eq!(median_interval(&w, 0.95), Some((5.0, 13.0)));
    }

    #[test]
    fn the_binomial_sums_are_exact() {
        assert_eq!(binom_cdf_half(6, 0), 1.0 / 64.0);
        assert_eq!(binom_cdf_half(6, 1), 7.0 / 64.0);
        assert!((binom_cdf_half(17, 4) - 3214.0 / 131072.0).abs() < 1e-15);
    }

    #[test]
    fn relative_half_width_is_against_the_median() {
        let v = [98.0, 99.0, 100.0, 100.0, 101.0, 102.0];
        let h = relative_half_width(&v, 0.95).unwrap();
        assert!((h - 0.02).abs() < 1e-12, "{h}");
    }
}
