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

/// The least-squares line through `points` (x, y). `None` when fewer than 2 points
/// are finite or every x is the same (no slope to find).
pub fn linear(points: &[(f64, f64)]) -> Option<Fit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = pts.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sst: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    // All x equal (to rounding): the slope is undefined.
    if sxx <= f64::EPSILON * mx.abs().max(1.0).powi(2) * nf {
        return None;
    }
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
/// for [`linear`], on the points kept.
pub fn log_log(points: &[(f64, f64)]) -> Option<(Fit, usize)> {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    let left_out = points.len() - logs.len();
    linear(&logs).map(|f| (f, left_out))
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
}
