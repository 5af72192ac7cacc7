//! The difference between two policies evaluated on the same logged pages, with an interval
//! that accounts for the pairing: both estimates come from the same pages, so their errors
//! are correlated and the interval of the difference is narrower than the two intervals
//! suggest.

use crate::error::OpeError;
use crate::estimate::{Estimator, Terms, Z95};
use serde::Serialize;

/// A difference (candidate - running) with its 95% normal interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub value: f64,
    pub std_error: f64,
    pub lo: f64,
    pub hi: f64,
}

/// `estimator`(candidate) - `estimator`(running) from the summed terms of each page under
/// each policy (`running[i]` and `candidate[i]` are page i's, e.g. from
/// [`crate::Sums::end_cluster_expecting`]). Its delta-method standard error is
/// √(n/(n-1) Σ_i (d_i - d̄)²), d_i = g_c · t_c,i - g_r · t_r,i with g each estimator's
/// gradient at its sums.
pub fn difference(
    estimator: Estimator,
    running: &[Terms],
    candidate: &[Terms],
) -> Result<Difference, OpeError> {
    if running.len() != candidate.len() {
        return Err(OpeError::Unsupported(format!(
            "a paired comparison needs the same pages: {} against {}",
            running.len(),
            candidate.len()
        )));
    }
    let sum = |units: &[Terms]| {
        units
            .iter()
            .fold([0.0; crate::estimate::TERMS], |mut acc, t| {
                acc.iter_mut().zip(t).for_each(|(a, x)| *a += x);
                acc
            })
    };
    let (sr, sc) = (sum(running), sum(candidate));
    let value = estimator.value(&sc)? - estimator.value(&sr)?;
    let n = running.len();
    let std_error = if n > 1 {
        let (gr, gc) = (estimator.gradient(&sr), estimator.gradient(&sc));
        let dot = |g: &Terms, t: &Terms| g.iter().zip(t).map(|(a, b)| a * b).sum::<f64>();
        let d: Vec<f64> = running
            .iter()
            .zip(candidate)
            .map(|(r, c)| dot(&gc, c) - dot(&gr, r))
            .collect();
        let mean = d.iter().sum::<f64>() / n as f64;
        let ss: f64 = d.iter().map(|x| (x - mean) * (x - mean)).sum();
        (n as f64 / (n as f64 - 1.0) * ss).sqrt()
    } else {
        f64::INFINITY
    };
    Ok(Difference {
        value,
        std_error,
        lo: value - Z95 * std_error,
        hi: value + Z95 * std_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{Card, Sample, Sums, Tuning, terms};

    fn unit(target: f64, logging: f64, reward: f64) -> Terms {
        let sample = Sample {
            target,
            logging,
            reward,
        };
        terms(&Card::from(sample), &Tuning::default(), 0).unwrap()
    }

    #[test]
    fn ips_difference_is_the_mean_of_paired_differences() {
        // Running weights 1, 0.5, 2, 1; candidate 2, 1, 0, 1; rewards 1, 1, 0.5, 0.
        let r = [
            (0.5, 0.5, 1.0),
            (0.25, 0.5, 1.0),
            (1.0, 0.5, 0.5),
            (0.5, 0.5, 0.0),
        ];
        let c = [
            (1.0, 0.5, 1.0),
            (0.5, 0.5, 1.0),
            (0.0, 0.5, 0.5),
            (0.5, 0.5, 0.0),
        ];
        let running: Vec<Terms> = r.iter().map(|&(t, l, y)| unit(t, l, y)).collect();
        let candidate: Vec<Terms> = c.iter().map(|&(t, l, y)| unit(t, l, y)).collect();
        let d = difference(Estimator::Ips, &running, &candidate).unwrap();
        // Per-card differences of w r: 1, 0.5, -1, 0; mean 0.125.
        let x = [1.0, 0.5, -1.0, 0.0];
        let mean: f64 = x.iter().sum::<f64>() / 4.0;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
        assert!((d.value - mean).abs() < 1e-15);
        assert!((d.std_error - (var / 4.0).sqrt()).abs() < 1e-15);
        assert!((d.lo - (mean - Z95 * d.std_error)).abs() < 1e-15);
    }

    #[test]
    fn a_policy_against_itself_differs_by_exactly_zero() {
        let mut sums = Sums::new(Tuning::default());
        let mut pages = Vec::new();
        for i in 0..5 {
            sums.add(Sample {
                target: 0.1 * i as f64,
                logging: 0.5,
                reward: (i % 2) as f64,
            })
            .unwrap();
            pages.push(sums.end_cluster_expecting(1.5));
        }
        for e in [Estimator::Ips, Estimator::Snips] {
            let d = difference(e, &pages, &pages).unwrap();
            assert_eq!((d.value, d.std_error), (0.0, 0.0));
        }
        assert!(difference(Estimator::Ips, &pages, &pages[1..]).is_err());
        let one = difference(Estimator::Ips, &pages[..1], &pages[..1]).unwrap();
        assert_eq!(one.std_error, f64::INFINITY);
    }
}
