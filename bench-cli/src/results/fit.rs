//! The two fits a parameter scan reports per line (issue 19): the linear fit
//! y = a + b·x (b: the cost per unit of the parameter, a: the fixed cost) and the
//! log-log fit ln y = c + k·ln x (k: the growth exponent; 0 flat, 1 linear, 2
//! quadratic), each by ordinary least squares with 95% intervals of both coefficients
//! from Student's t with n − 2 degrees of freedom, and each with its own R².
//!
//! The two R² are not comparable (one is of y, the other of ln y), so neither fit is
//! chosen over the other by it: both are reported. The formulas are the textbook ones
//! (e.g. Montgomery & Runger, "Applied Statistics and Probability for Engineers",
//! §11.3–11.4): b = Sxy/Sxx, a = ȳ − b·x̄, s² = SSE/(n − 2), se(b) = s/√Sxx,
//! se(a) = s·√(1/n + x̄²/Sxx), R² = 1 − SSE/SST. Student's t quantile comes from the
//! `statrs` crate.
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The confidence level of every interval here.
pub const LEVEL: f64 = 0.95;

/// One least-squares line through `n` points: y = intercept + slope·x.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Points fitted.
    pub n: usize,
    pub intercept: f64,
    /// 95% interval of the intercept; `None` with fewer than 3 points (no degree of
    /// freedom is left for the residual variance).
    pub intercept_ci: Option<(f64, f64)>,
    pub slope: f64,
    /// 95% interval of the slope; `None` with fewer than 3 points.
    pub slope_ci: Option<(f64, f64)>,
    /// 1 − SSE/SST; NaN when every y is the same (SST = 0: nothing to explain).
    pub r2: f64,
}

/// The `p` quantile of Student's t with `df` degrees of freedom (`p` in (0, 1),
/// `df` > 0). NaN for a `df` of 0 or less.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// Relative spread of y below which a fit treats y as constant: values that differ by
/// floating-point rounding alone (`0.1 + 0.2` against `0.3`, a mean of `ln 3` four times
/// against `ln 3`) are the same value, not a slope of 1e-31 with a meaningless R².
pub const FLAT_TOLERANCE: f64 = 1e-12;

/// Whether `ys` are one value to within [`FLAT_TOLERANCE`] of their magnitude (all
/// zero counts too). Judged on y itself, not on ln y: ln y of values near 1 is near 0,
/// where a relative tolerance means nothing.
pub fn is_flat(ys: impl IntoIterator<Item = f64>) -> bool {
    let (lo, hi) = ys
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    hi - lo <= FLAT_TOLERANCE * lo.abs().max(hi.abs())
}

/// The least-squares line through `points` (x, y). `None` when fewer than 2 points
/// are finite or every x is the same (no slope to find). When every y is the same
/// ([`is_flat`]) the fit is exactly flat: slope 0, intercept the mean of y, intervals
/// of zero width (with 3 points or more), R² NaN (nothing to explain).
pub fn linear(points: &[(f64, f64)]) -> Option<Fit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let flat = is_flat(pts.iter().map(|p| p.1));
    let level = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    least_squares(&pts, flat.then_some(level))
}

/// Ordinary least squares through finite `pts`; `flat`: y is this constant (to
/// rounding), so the fit is that level exactly.
fn least_squares(pts: &[(f64, f64)], flat: Option<f64>) -> Option<Fit> {
    let n = pts.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    // All x equal (to rounding): the slope is undefined.
    if sxx <= f64::EPSILON * mx.abs().max(1.0).powi(2) * nf {
        return None;
    }
    if let Some(level) = flat {
        // Rounding in the mean of y (or of ln y) would otherwise leave a slope of
        // 1e-31 and an R² of -0.000 where nothing varies.
        let zero = (n > 2).then_some((0.0, 0.0));
        return Some(Fit {
            n,
            intercept: level,
            intercept_ci: zero.map(|_| (level, level)),
            slope: 0.0,
            slope_ci: zero,
            r2: f64::NAN,
        });
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sst: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = pts
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let r2 = if sst > 0.0 { 1.0 - sse / sst } else { f64::NAN };
    let (intercept_ci, slope_ci) = if n > 2 {
        let df = (n - 2) as f64;
        let s = (sse / df).sqrt();
        let t = t_quantile(0.5 + LEVEL / 2.0, df);
        let hb = t * s / sxx.sqrt();
        let ha = t * s * (1.0 / nf + mx * mx / sxx).sqrt();
        (
            Some((intercept - ha, intercept + ha)),
            Some((slope - hb, slope + hb)),
        )
    } else {
        (None, None)
    };
    Some(Fit {
        n,
        intercept,
        intercept_ci,
        slope,
        slope_ci,
        r2,
    })
}

/// The least-squares line through (ln x, ln y): its slope is the growth exponent k of
/// y ∝ x^k, its intercept ln of the factor. Points with x ≤ 0 or y ≤ 0 have no
/// logarithm and are left out; returns the fit and how many were left out. `None` as
/// for [`linear`], on the points kept. A constant y ([`is_flat`], judged on y, not
/// ln y) gives k = 0 exactly, intercept ln of the mean of y, zero-width intervals and
/// an R² of NaN, as [`linear`] does.
pub fn log_log(points: &[(f64, f64)]) -> Option<(Fit, usize)> {
    let kept: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
        .collect();
    let left_out = points.len() - kept.len();
    let flat = is_flat(kept.iter().map(|p| p.1));
    let level = (kept.iter().map(|p| p.1).sum::<f64>() / kept.len() as f64).ln();
    let logs: Vec<(f64, f64)> = kept.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
    least_squares(&logs, flat.then_some(level)).map(|f| (f, left_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    /// Student's t quantiles against the printed tables (4 significant digits and
    /// better): t(0.975; 1) = 12.706, (3) = 3.182, (4) = 2.776, (10) = 2.228,
    /// (30) = 2.042; t(0.995; 5) = 4.032.
    #[test]
    fn t_quantiles_match_the_tables() {
        for (p, df, want) in [
            (0.975, 1.0, 12.7062),
            (0.975, 3.0, 3.18245),
            (0.975, 4.0, 2.77645),
            (0.975, 10.0, 2.22814),
            (0.975, 30.0, 2.04227),
            (0.995, 5.0, 4.03214),
        ] {
            let t = t_quantile(p, df);
            assert!(close(t, want, 1e-5), "t({p}; {df}) = {t}, want {want}");
        }
        assert!(t_quantile(0.975, 0.0).is_nan());
    }

    /// A constant metric (syscalls_per_op 3 at every point, two repeats each; and a
    /// level that differs by rounding alone, 0.1 + 0.2 against 0.3) fits flat in both
    /// models: slope exactly 0, interval [0, 0], intercept the level (ln of it for
    /// log-log), R² undefined. Before, log-log gave k = -1.6e-31 [-1.4e-16, 1.4e-16]
    /// with an R² of ln y of -0.000.
    #[test]
    fn a_constant_y_fits_exactly_flat_in_both_models() {
        let xs = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
        let three: Vec<(f64, f64)> = xs.iter().flat_map(|&x| [(x, 3.0), (x, 3.0)]).collect();
        let rounded: Vec<(f64, f64)> = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| (x, if i % 2 == 0 { 0.1 + 0.2 } else { 0.3 }))
            .collect();
        for (pts, level) in [(&three, 3.0), (&rounded, 0.3)] {
            let lin = linear(pts).unwrap();
            let (ll, left_out) = log_log(pts).unwrap();
            assert_eq!(left_out, 0);
            for (f, want) in [(&lin, level), (&ll, f64::ln(level))] {
                assert_eq!(f.slope.to_bits(), 0f64.to_bits(), "{f:?}");
                assert_eq!(f.slope_ci, Some((0.0, 0.0)), "{f:?}");
                assert!((f.intercept - want).abs() <= 1e-15, "{f:?}");
                let (lo, hi) = f.intercept_ci.unwrap();
                assert_eq!((lo, hi), (f.intercept, f.intercept));
                assert!(f.r2.is_nan(), "{f:?}");
                assert_eq!(f.n, pts.len());
            }
        }
        // Exactly 3 everywhere: the intercepts are 3 and ln 3 to the bit.
        assert_eq!(linear(&three).unwrap().intercept, 3.0);
        assert_eq!(log_log(&three).unwrap().0.intercept, 3f64.ln());
        // All zero counts: flat at 0 (no log-log fit: no logarithm of 0).
        let zeros: Vec<(f64, f64)> = xs.iter().map(|&x| (x, 0.0)).collect();
        let f = linear(&zeros).unwrap();
        assert_eq!(
            (f.slope, f.intercept, f.slope_ci),
            (0.0, 0.0, Some((0.0, 0.0)))
        );
        assert!(log_log(&zeros).is_none());
        // Two points: flat, but no interval (no degree of freedom).
        let f = linear(&[(1.0, 5.0), (2.0, 5.0)]).unwrap();
        assert_eq!((f.slope, f.slope_ci, f.intercept_ci), (0.0, None, None));
        // A real difference of one part in 10^9 is a slope, not rounding.
        let f = linear(&[(1.0, 1.0), (2.0, 1.0 + 1e-9), (3.0, 1.0 + 2e-9)]).unwrap();
        assert!(
            (f.slope - 1e-9).abs() < 1e-14 && (f.r2 - 1.0).abs() < 1e-6,
            "{f:?}"
        );
        assert!(!is_flat([1.0, 1.0 + 1e-9]) && is_flat([3.0, 3.0 + 1e-15]));
    }
}
