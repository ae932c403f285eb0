//! The statistics behind `compare`: percentile-bootstrap intervals of the ratio and of
//! the difference of two medians (the decision; Efron & Tibshirani, "An Introduction to
//! the Bootstrap", ch. 13) and the Mann-Whitney U test's p-value (reported beside it).
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::median_sorted;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 10_000;
/// Fixed seed: the same two files always give the same interval.
pub const SEED: u64 = 0x6576_6265_6e63_6821;

/// Median of unsorted values (empty gives NaN).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    median_sorted(&s)
}

/// The bootstrap distribution of a statistic of two medians: both samples resampled
/// with replacement, independently, `RESAMPLES` times (fixed seed), `f(median(base*),
/// median(current*))` of each resample, sorted (NaN last). Empty when a sample is empty.
pub fn bootstrap_medians(base: &[f64], current: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    if base.is_empty() || current.is_empty() {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut out = Vec::with_capacity(RESAMPLES);
    let (mut b, mut c) = (vec![0.0; base.len()], vec![0.0; current.len()]);
    for _ in 0..RESAMPLES {
        for x in b.iter_mut() {
            *x = base[rng.random_range(0..base.len())];
        }
        for x in c.iter_mut() {
            *x = current[rng.random_range(0..current.len())];
        }
        out.push(f(median(&b), median(&c)));
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Percentile bootstrap interval, at `level`, of one sample's median: the sample
/// resampled with replacement `RESAMPLES` times (fixed seed). `None` with fewer than two
/// values (one value has no spread to resample). With few values it is the sample's
/// range: of 5 values, a resample's median is the smallest with probability 5.8%
/// (3 or more of 5 draws on it), more than the 2.5% a 95% interval leaves below.
pub fn bootstrap_median_ci(xs: &[f64], level: f64) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut r = vec![0.0; xs.len()];
    let mut out = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for x in r.iter_mut() {
            *x = xs[rng.random_range(0..xs.len())];
        }
        out.push(median(&r));
    }
    out.sort_by(f64::total_cmp);
    Some(percentile_interval(&out, level))
}

/// The central `level` interval (percentile method) of a sorted bootstrap distribution:
/// its (1 − level)/2 and (1 + level)/2 quantiles, nearest rank. NaN bounds when empty.
pub fn percentile_interval(sorted: &[f64], level: f64) -> (f64, f64) {
    if sorted.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let alpha = (1.0 - level) / 2.0;
    let last = sorted.len() - 1;
    let at = |q: f64| sorted[((last as f64 * q).round() as usize).min(last)];
    (at(alpha), at(1.0 - alpha))
}

/// Percentile bootstrap interval, at `level` (0.95), of median(current) / median(base):
/// both samples resampled with replacement, independently, `RESAMPLES` times.
/// Returns (low, high); a resampled baseline median of 0 gives an infinite or NaN ratio.
pub fn bootstrap_ratio_ci(base: &[f64], current: &[f64], level: f64) -> (f64, f64) {
    percentile_interval(&bootstrap_medians(base, current, |b, c| c / b), level)
}

/// Percentile bootstrap interval, at `level`, of median(current) − median(base) (the
/// judgement of metrics whose baseline is near zero, where a ratio means nothing).
pub fn bootstrap_difference_ci(base: &[f64], current: &[f64], level: f64) -> (f64, f64) {
    percentile_interval(&bootstrap_medians(base, current, |b, c| c - b), level)
}

/// U statistic of `x` against `y`: pairs where x wins, ties counting one half.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> f64 {
    let mut u = 0.0;
    for a in x {
        for b in y {
            if a > b {
                u += 1.0;
            } else if a == b {
                u += 0.5;
            }
        }
    }
    u
}

/// Largest number of splits enumerated for the exact test.
const EXACT_LIMIT: u64 = 200_000;

fn binomial(n: u64, k: u64) -> u64 {
    let k = k.min(n - k);
    let mut r: u64 = 1;
    for i in 0..k {
        r = r.saturating_mul(n - i) / (i + 1);
    }
    r
}

/// The share of the ways to split `pooled` into its first `n1` values' group size and
/// the rest whose U (first group against the rest) satisfies `extreme`; `None` beyond
/// `EXACT_LIMIT` splits (the caller then approximates).
fn exact_share(pooled: &[f64], n1: usize, extreme: impl Fn(f64) -> bool) -> Option<f64> {
    let n = pooled.len();
    if binomial(n as u64, n1 as u64) > EXACT_LIMIT {
        return None;
    }
    let (mut hits, mut total) = (0u64, 0u64);
    let mut pick: Vec<usize> = (0..n1).collect();
    let mut mask = vec![false; n];
    loop {
        mask.iter_mut().for_each(|m| *m = false);
        pick.iter().for_each(|&i| mask[i] = true);
        let a: Vec<f64> = pick.iter().map(|&i| pooled[i]).collect();
        let b: Vec<f64> = (0..n).filter(|&i| !mask[i]).map(|i| pooled[i]).collect();
        if extreme(mann_whitney_u(&a, &b)) {
            hits += 1;
        }
        total += 1;
        // Next combination in lexicographic order.
        let mut i = n1;
        loop {
            if i == 0 {
                return Some(hits as f64 / total as f64);
            }
            i -= 1;
            if pick[i] < n - n1 + i {
                pick[i] += 1;
                for j in i + 1..n1 {
                    pick[j] = pick[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// One-sided Mann-Whitney p-value that `x` tends to exceed `y`: the share of splits of
/// the pooled values with U at least the observed one. Exact (ties included) up to
/// 200 000 splits, else the normal approximation with tie and continuity corrections.
/// Fully separated 5 vs 5 gives 1/252 ≈ 0.004; 3 vs 3 can give no less than 1/20.
pub fn mann_whitney_p_greater(x: &[f64], y: &[f64]) -> f64 {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return f64::NAN;
    }
    let observed = mann_whitney_u(x, y);
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    if let Some(p) = exact_share(&pooled, n1, |u| u >= observed - 1e-9) {
        return p;
    }
    let var = u_variance(&pooled, n1, n2);
    if var <= 0.0 {
        return 1.0;
    }
    let z = (observed - (n1 * n2) as f64 / 2.0 - 0.5) / var.sqrt();
    (0.5 * libm::erfc(z / std::f64::consts::SQRT_2)).min(1.0)
}

/// Variance of U under the null, corrected for ties.
fn u_variance(pooled: &[f64], n1: usize, n2: usize) -> f64 {
    let n = pooled.len();
    let mut sorted = pooled.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)))
}

/// Two-sided Mann-Whitney U p-value. Exact (every split of the pooled values into
/// groups of the two sizes, ties included) when there are at most 200 000 splits;
/// otherwise the normal approximation with tie and continuity corrections.
pub fn mann_whitney_p(x: &[f64], y: &[f64]) -> f64 {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return f64::NAN;
    }
    let centre = (n1 * n2) as f64 / 2.0;
    let observed = (mann_whitney_u(x, y) - centre).abs();
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    // A split at least as far from the centre as the one observed (with a little slack
    // for the halves that ties add).
    if let Some(p) = exact_share(&pooled, n1, |u| (u - centre).abs() >= observed - 1e-9) {
        return p;
    }
    // Normal approximation: variance corrected for ties.
    let var = u_variance(&pooled, n1, n2);
    if var <= 0.0 {
        return 1.0;
    }
    let z = (observed - 0.5).max(0.0) / var.sqrt();
    // Two-sided tail of the standard normal: erfc(z / sqrt 2).
    libm::erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 values: the 95% interval of the median is their range (see the docstring's
    /// 5.8%); 1 value: none.
    #[test]
    fn median_interval_of_few_values_is_their_range() {
        assert_eq!(
            bootstrap_median_ci(&[3.0, 1.0, 4.0, 1.5, 9.0], 0.95),
            Some((1.0, 9.0))
        );
        assert_eq!(bootstrap_median_ci(&[3.0], 0.95), None);
    }

    /// Number of arrangements of n1 + n2 distinct values with U = u, by the classical
    /// recurrence f(n1, n2, u) = f(n1 − 1, n2, u − n2) + f(n1, n2 − 1, u): an
    /// independent route to the exact distribution.
    fn u_count(n1: usize, n2: usize, u: i64) -> u64 {
        if u < 0 {
            return 0;
        }
        if n1 == 0 || n2 == 0 {
            return u64::from(u == 0);
        }
        u_count(n1 - 1, n2, u - n2 as i64) + u_count(n1, n2 - 1, u)
    }

    fn exact_two_sided(n1: usize, n2: usize, u: f64) -> f64 {
        let centre = (n1 * n2) as f64 / 2.0;
        let d = (u - centre).abs();
        let total = binomial((n1 + n2) as u64, n1 as u64) as f64;
        let extreme: u64 = (0..=(n1 * n2) as i64)
            .filter(|&k| (k as f64 - centre).abs() >= d)
            .map(|k| u_count(n1, n2, k))
            .sum();
        extreme as f64 / total
    }

    #[test]
    fn exact_p_matches_the_recurrence() {
        // Fully separated 5 vs 5: only the two extreme splits of 252 → p = 2/252.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(mann_whitney_u(&x, &y), 0.0);
        assert!((mann_whitney_p(&x, &y) - 2.0 / 252.0).abs() < 1e-12);
        // Interleaved samples: U = 0 + 1 + 1 + 4 + 4 = 10 of 25; the recurrence agrees.
        let x = [1.0, 3.0, 4.0, 8.0, 9.5];
        let y = [2.0, 5.0, 6.0, 7.0, 10.0];
        let u = mann_whitney_u(&x, &y);
        assert_eq!(u, 10.0);
        let want = exact_two_sided(5, 5, u);
        assert!((mann_whitney_p(&x, &y) - want).abs() < 1e-12, "{want}");
        // 6 vs 4.
        let x = [1.0, 2.5, 3.0, 4.5, 7.0, 11.0];
        let y = [5.0, 6.0, 8.0, 12.0];
        let u = mann_whitney_u(&x, &y);
        assert!((mann_whitney_p(&x, &y) - exact_two_sided(6, 4, u)).abs() < 1e-12);
    }

    #[test]
    fn one_sided_p_matches_the_recurrence() {
        // The upper tail P(U >= u) by the recurrence, for distinct values.
        let upper = |n1: usize, n2: usize, u: f64| {
            let total = binomial((n1 + n2) as u64, n1 as u64) as f64;
            let k: u64 = (u.ceil() as i64..=(n1 * n2) as i64)
                .map(|k| u_count(n1, n2, k))
                .sum();
            k as f64 / total
        };
        // All of x above all of y: 1/C(2n, n): 1/20 at 3 vs 3, 1/252 at 5 vs 5.
        assert!((mann_whitney_p_greater(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]) - 0.05).abs() < 1e-12);
        let hi = [6.0, 7.0, 8.0, 9.0, 10.0];
        let lo = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((mann_whitney_p_greater(&hi, &lo) - 1.0 / 252.0).abs() < 1e-12);
        assert!((mann_whitney_p_greater(&lo, &hi) - 1.0).abs() < 1e-12);
        // Interleaved 5 vs 5 and 6 vs 4, both directions.
        for (x, y) in [
            (
                vec![1.0, 3.0, 4.0, 8.0, 9.5],
                vec![2.0, 5.0, 6.0, 7.0, 10.0],
            ),
            (
                vec![1.0, 2.5, 3.0, 4.5, 7.0, 11.0],
                vec![5.0, 6.0, 8.0, 12.0],
            ),
        ] {
            for (a, b) in [(&x, &y), (&y, &x)] {
                let want = upper(a.len(), b.len(), mann_whitney_u(a, b));
                assert!(
                    (mann_whitney_p_greater(a, b) - want).abs() < 1e-12,
                    "{want}"
                );
            }
        }
    }

    #[test]
    fn normal_approximation_is_close_for_large_samples() {
        // 15 vs 15 (155 million splits): normal route; separated samples give a tiny p,
        // identical ranges a p near 1.
        let x: Vec<f64> = (0..15).map(f64::from).collect();
        let y: Vec<f64> = (15..30).map(f64::from).collect();
        assert!(mann_whitney_p(&x, &y) < 1e-5);
        let y2: Vec<f64> = (0..15).map(|v| f64::from(v) + 0.5).collect();
        assert!(mann_whitney_p(&x, &y2) > 0.7);
    }

    #[test]
    fn bootstrap_of_constant_samples_is_the_ratio() {
        let (lo, hi) = bootstrap_ratio_ci(&[100.0; 5], &[120.0; 5], 0.95);
        assert_eq!((lo, hi), (1.2, 1.2));
    }

    #[test]
    fn bootstrap_bounds_are_ratios_of_order_statistics() {
        // With 3 values a side a resampled median is one of the values, so each bound
        // is one of the 9 ratios c_j / b_i, and the interval holds the ratio of medians.
        let b = [10.0, 11.0, 12.0];
        let c = [20.0, 21.0, 25.0];
        let (lo, hi) = bootstrap_ratio_ci(&b, &c, 0.95);
        let ratios: Vec<f64> = b
            .iter()
            .flat_map(|x| c.iter().map(move |y| y / x))
            .collect();
        assert!(ratios.contains(&lo) && ratios.contains(&hi));
        assert!(lo <= 21.0 / 11.0 && 21.0 / 11.0 <= hi);
        assert_eq!((lo, hi), bootstrap_ratio_ci(&b, &c, 0.95), "seeded");
    }
}
