//! IPS and SNIPS as ratio estimators over clusters (pages), computed in one pass.

use serde::Serialize;
use thiserror::Error;

/// The 97.5% quantile of the standard normal distribution, for 95% intervals.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Errors from estimation.
#[derive(Debug, Error, PartialEq)]
pub enum OpeError {
    /// A logging propensity outside (0, 1] or a target probability outside [0, 1].
    #[error("invalid {field} {value} in sample {index}: must be in {range}")]
    InvalidProbability {
        field: &'static str,
        value: f64,
        index: usize,
        range: &'static str,
    },
    /// A logged page that does not fit what the evaluator rebuilt from its context.
    #[error("impression {impression}: {reason}")]
    Inconsistent { impression: u64, reason: String },
    /// No samples, or samples whose weights sum to zero (SNIPS undefined).
    #[error("cannot estimate {estimator}: {reason}")]
    Empty {
        estimator: &'static str,
        reason: &'static str,
    },
}

/// One logged decision: the target policy's probability of the logged action, the logging
/// policy's probability of it, and the observed reward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub target: f64,
    pub logging: f64,
    pub reward: f64,
}

impl Sample {
    /// The importance weight target / logging.
    pub fn weight(&self) -> f64 {
        self.target / self.logging
    }
}

/// Which estimator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// Inverse propensity scoring: mean of w * r over samples.
    Ips,
    /// Self-normalised IPS: sum of w * r over sum of w.
    Snips,
}

impl Estimator {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Ips => "ips",
            Estimator::Snips => "snips",
        }
    }
}

/// A point estimate with a 95% normal confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub std_error: f64,
    pub lo: f64,
    pub hi: f64,
    /// Number of samples (cards).
    pub samples: u64,
    /// Number of independent units (pages).
    pub clusters: u64,
    /// Kish effective sample size of the weights, (sum w)^2 / sum w^2.
    pub effective_samples: f64,
}

impl Estimate {
    /// Whether `x` lies inside the interval.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Whether the two intervals share no point.
    pub fn disjoint(&self, other: &Estimate) -> bool {
        self.hi < other.lo || other.hi < self.lo
    }
}

/// Single-pass accumulator of a ratio estimator sum(y) / sum(d) over clusters, with the
/// delta-method variance `n/(n-1) * sum (y_c - θ d_c)^2 / (sum d)^2` over clusters `c`.
/// IPS uses d = number of samples, SNIPS d = sum of weights. Memory is constant.
#[derive(Clone, Debug)]
pub struct Ratio {
    estimator: Estimator,
    clusters: u64,
    samples: u64,
    sum_y: f64,
    sum_d: f64,
    sum_yy: f64,
    sum_yd: f64,
    sum_dd: f64,
    sum_w: f64,
    sum_ww: f64,
    // The cluster being accumulated.
    open_y: f64,
    open_d: f64,
    open: bool,
}

impl Ratio {
    /// An empty accumulator for `estimator`.
    pub fn new(estimator: Estimator) -> Self {
        Ratio {
            estimator,
            clusters: 0,
            samples: 0,
            sum_y: 0.0,
            sum_d: 0.0,
            sum_yy: 0.0,
            sum_yd: 0.0,
            sum_dd: 0.0,
            sum_w: 0.0,
            sum_ww: 0.0,
            open_y: 0.0,
            open_d: 0.0,
            open: false,
        }
    }

    /// Adds one sample to the current cluster. Probabilities are validated.
    pub fn add(&mut self, sample: Sample) -> Result<(), OpeError> {
        let index = self.samples as usize;
        if !(sample.logging > 0.0 && sample.logging <= 1.0) {
            return Err(OpeError::InvalidProbability {
                field: "logging propensity",
                value: sample.logging,
                index,
                range: "(0, 1]",
            });
        }
        if !(0.0..=1.0).contains(&sample.target) {
            return Err(OpeError::InvalidProbability {
                field: "target probability",
                value: sample.target,
                index,
                range: "[0, 1]",
            });
        }
        let w = sample.weight();
        self.open = true;
        self.samples += 1;
        self.sum_w += w;
        self.sum_ww += w * w;
        self.open_y += w * sample.reward;
        self.open_d += match self.estimator {
            Estimator::Ips => 1.0,
            Estimator::Snips => w,
        };
        Ok(())
    }

    /// Closes the current cluster, and for IPS makes its denominator `target_samples`, the
    /// number of samples the target policy is expected to produce there (for a page: its
    /// expected number of cards), instead of the number logged. Then IPS estimates the
    /// target's reward per sample even when the two policies fill pages differently. SNIPS
    /// is unaffected.
    pub fn end_cluster_expecting(&mut self, target_samples: f64) {
        if self.estimator == Estimator::Ips {
            self.open_d = target_samples;
        }
        self.open = true;
        self.end_cluster();
    }

    /// Closes the current cluster (a page); samples added after belong to the next one.
    pub fn end_cluster(&mut self) {
        if !self.open {
            return;
        }
        let (y, d) = (self.open_y, self.open_d);
        self.clusters += 1;
        self.sum_y += y;
        self.sum_d += d;
        self.sum_yy += y * y;
        self.sum_yd += y * d;
        self.sum_dd += d * d;
        self.open_y = 0.0;
        self.open_d = 0.0;
        self.open = false;
    }

    /// Merges another accumulator of the same estimator (for parallel evaluation).
    pub fn merge(&mut self, mut other: Ratio) {
        self.end_cluster();
        other.end_cluster();
        self.clusters += other.clusters;
        self.samples += other.samples;
        self.sum_y += other.sum_y;
        self.sum_d += other.sum_d;
        self.sum_yy += other.sum_yy;
        self.sum_yd += other.sum_yd;
        self.sum_dd += other.sum_dd;
        self.sum_w += other.sum_w;
        self.sum_ww += other.sum_ww;
    }

    /// The estimate with its 95% interval (closing any open cluster first).
    pub fn finish(mut self) -> Result<Estimate, OpeError> {
        self.end_cluster();
        let estimator = self.estimator.name();
        if self.clusters == 0 {
            return Err(OpeError::Empty {
                estimator,
                reason: "no samples",
            });
        }
        if self.sum_d <= 0.0 {
            return Err(OpeError::Empty {
                estimator,
                reason: "the importance weights sum to zero",
            });
        }
        let value = self.sum_y / self.sum_d;
        let n = self.clusters as f64;
        let std_error = if self.clusters > 1 {
            let ss =
                (self.sum_yy - 2.0 * value * self.sum_yd + value * value * self.sum_dd).max(0.0);
            (n / (n - 1.0) * ss).sqrt() / self.sum_d
        } else {
            f64::INFINITY
        };
        Ok(Estimate {
            value,
            std_error,
            lo: value - Z95 * std_error,
            hi: value + Z95 * std_error,
            samples: self.samples,
            clusters: self.clusters,
            effective_samples: if self.sum_ww > 0.0 {
                self.sum_w * self.sum_w / self.sum_ww
            } else {
                0.0
            },
        })
    }
}

impl Estimator {
    /// Estimates over clusters of samples (each inner slice is one page).
    pub fn estimate<'a>(
        self,
        clusters: impl IntoIterator<Item = &'a [Sample]>,
    ) -> Result<Estimate, OpeError> {
        let mut acc = Ratio::new(self);
        for cluster in clusters {
            for &s in cluster {
                acc.add(s)?;
            }
            acc.end_cluster();
        }
        acc.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(target: f64, logging: f64, reward: f64) -> Sample {
        Sample {
            target,
            logging,
            reward,
        }
    }

    #[test]
    fn ips_and_snips_match_hand_computation() {
        // Weights 2, 0.5, 4, 0; rewards 1, 1, 0, 1.
        let data = [
            s(0.5, 0.25, 1.0),
            s(0.25, 0.5, 1.0),
            s(0.4, 0.1, 0.0),
            s(0.0, 0.5, 1.0),
        ];
        let singles: Vec<&[Sample]> = data.chunks(1).collect();
        let ips = Estimator::Ips.estimate(singles.clone()).unwrap();
        // (2 + 0.5 + 0 + 0) / 4
        assert_eq!(ips.value, 0.625);
        let snips = Estimator::Snips.estimate(singles).unwrap();
        // 2.5 / (2 + 0.5 + 4 + 0)
        assert_eq!(snips.value, 2.5 / 6.5);
        // Kish ESS: 6.5^2 / (4 + 0.25 + 16)
        assert_eq!(ips.effective_samples, 6.5 * 6.5 / 20.25);
        assert_eq!(ips.samples, 4);
    }

    #[test]
    fn ips_standard_error_is_the_sample_standard_error_for_singletons() {
        let data = [
            s(0.5, 0.25, 1.0),
            s(0.25, 0.5, 1.0),
            s(0.4, 0.1, 0.0),
            s(0.0, 0.5, 1.0),
        ];
        let ips = Estimator::Ips.estimate(data.chunks(1)).unwrap();
        let y = [2.0, 0.5, 0.0, 0.0];
        let mean = 0.625;
        let var = y.iter().map(|v: &f64| (v - mean).powi(2)).sum::<f64>() / 3.0;
        let se = (var / 4.0).sqrt();
        assert!((ips.std_error - se).abs() < 1e-15);
        assert!((ips.lo - (mean - Z95 * se)).abs() < 1e-15);
        assert!((ips.hi - (mean + Z95 * se)).abs() < 1e-15);
    }

    #[test]
    fn clusters_are_the_unit_of_variance() {
        // Two pages of two cards, on-policy (weights 1): rates 1/2 and 2/2.
        let data = [
            s(1.0, 1.0, 1.0),
            s(1.0, 1.0, 0.0),
            s(1.0, 1.0, 1.0),
            s(1.0, 1.0, 1.0),
        ];
        let e = Estimator::Ips.estimate(data.chunks(2)).unwrap();
        assert_eq!(e.value, 0.75);
        assert_eq!(e.clusters, 2);
        // y = (1, 2), d = (2, 2), θ = 0.75: residuals (-0.5, 0.5); 2/1 * 0.5 / 16.
        assert!((e.std_error - (2.0f64 * 0.5).sqrt() / 4.0).abs() < 1e-15);
    }

    #[test]
    fn ips_can_divide_by_the_expected_cluster_size() {
        // Two pages: weights (2, 0.5) rewards (1, 1); weight 4 reward 1. The target is
        // expected to show 1.5 and 1 cards there.
        let mut acc = Ratio::new(Estimator::Ips);
        acc.add(s(0.5, 0.25, 1.0)).unwrap();
        acc.add(s(0.25, 0.5, 1.0)).unwrap();
        acc.end_cluster_expecting(1.5);
        acc.add(s(0.4, 0.1, 1.0)).unwrap();
        acc.end_cluster_expecting(1.0);
        assert_eq!(acc.finish().unwrap().value, (2.5 + 4.0) / 2.5);
    }

    #[test]
    fn merge_equals_one_pass() {
        let data: Vec<Sample> = (0..40)
            .map(|i| {
                s(
                    (i % 7) as f64 / 7.0,
                    0.1 + (i % 5) as f64 * 0.2,
                    (i % 3 == 0) as u8 as f64,
                )
            })
            .collect();
        for est in [Estimator::Ips, Estimator::Snips] {
            let whole = est.estimate(data.chunks(4)).unwrap();
            let mut a = Ratio::new(est);
            let mut b = Ratio::new(est);
            for (k, page) in data.chunks(4).enumerate() {
                let acc = if k < 3 { &mut a } else { &mut b };
                for &x in page {
                    acc.add(x).unwrap();
                }
                acc.end_cluster();
            }
            a.merge(b);
            let merged = a.finish().unwrap();
            assert!((merged.value - whole.value).abs() < 1e-15);
            assert!((merged.std_error - whole.std_error).abs() < 1e-12);
        }
    }

    #[test]
    fn invalid_and_empty_inputs_are_errors() {
        let zero = [s(0.5, 0.0, 1.0)];
        assert!(matches!(
            Estimator::Ips.estimate([&zero[..]]),
            Err(OpeError::InvalidProbability {
                field: "logging propensity",
                ..
            })
        ));
        let big = [s(1.5, 0.5, 1.0)];
        assert!(Estimator::Ips.estimate([&big[..]]).is_err());
        assert!(matches!(
            Estimator::Ips.estimate(std::iter::empty()),
            Err(OpeError::Empty { .. })
        ));
        let no_weight = [s(0.0, 0.5, 1.0)];
        assert!(matches!(
            Estimator::Snips.estimate([&no_weight[..]]),
            Err(OpeError::Empty { .. })
        ));
    }
}
