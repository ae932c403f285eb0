//! Run statistics shared by every workload: pipetest's middle-of-sorted-runs mean, and
//! the mean / median / standard deviation across `--repeat` repeats.
use serde::Serialize;

/// Mean and standard deviation of the middle `keep` values of `runs` once sorted, as
/// pipetest-4 reports them (16 runs, middle 6: the 5 lowest and 5 highest dropped).
///
/// The standard deviation is the population one (divide by `keep`): it describes the
/// kept runs themselves, as the original's SIG does. Returns `None` when `keep` is 0,
/// larger than the number of runs, or when `runs.len() - keep` is odd (no middle).
pub fn middle_mean_sigma(runs: &[f64], keep: usize) -> Option<(f64, f64)> {
    if keep == 0 || keep > runs.len() || !(runs.len() - keep).is_multiple_of(2) {
        return None;
    }
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let skip = (runs.len() - keep) / 2;
    let mid = &sorted[skip..skip + keep];
    let mean = mid.iter().sum::<f64>() / keep as f64;
    let var = mid.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / keep as f64;
    Some((mean, var.sqrt()))
}

/// Summary of one figure across repeats.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of repeats summarised.
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    /// Sample standard deviation (divide by n − 1; 0 for a single repeat): repeats are
    /// samples of the machine's behaviour, not the whole population.
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; `None` when empty or when any value is not finite.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let n = values.len();
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let median = if !n.is_multiple_of(2) {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let stddev = if n > 1 {
            (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Summary {
            n,
            mean,
            median,
            stddev,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }

    /// Standard deviation relative to the mean (0 when the mean is 0).
    pub fn cv(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            self.stddev / self.mean.abs()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middle_six_of_sixteen() {
        // 1..=16 shuffled: the middle six once sorted are 6..=11.
        let runs = [
            16.0, 3.0, 9.0, 1.0, 12.0, 7.0, 14.0, 5.0, 10.0, 2.0, 15.0, 8.0, 4.0, 11.0, 6.0, 13.0,
        ];
        let (mean, sigma) = middle_mean_sigma(&runs, 6).unwrap();
        assert_eq!(mean, 8.5);
        // Population sigma of 6..=11: sqrt(17.5 / 6).
        assert!((sigma - (17.5f64 / 6.0).sqrt()).abs() < 1e-12, "{sigma}");
    }

    #[test]
    fn outliers_do_not_move_the_middle() {
        let mut runs = [2.0; 16];
        runs[0] = 1e9;
        runs[15] = 0.0;
        runs[3] = 1e6;
        assert_eq!(middle_mean_sigma(&runs, 6), Some((2.0, 0.0)));
    }

    #[test]
    fn middle_rejects_impossible_shapes() {
        assert_eq!(middle_mean_sigma(&[1.0; 16], 0), None);
        assert_eq!(middle_mean_sigma(&[1.0; 4], 6), None);
        assert_eq!(middle_mean_sigma(&[1.0; 16], 7), None);
    }

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            (s.n, s.mean, s.median, s.min, s.max),
            (4, 2.5, 2.5, 1.0, 4.0)
        );
        // Sample variance of 1..4 is 5/3.
        assert!((s.stddev - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.mean, one.median, one.stddev), (7.0, 7.0, 0.0));
        let odd = Summary::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(odd.median, 3.0);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }
}
