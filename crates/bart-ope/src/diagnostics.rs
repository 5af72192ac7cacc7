//! Importance-weight diagnostics, with warnings in plain words.

use serde::Serialize;

/// How evenly the importance weights spread over the logged rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightDiagnostics {
    pub samples: usize,
    /// Kish effective sample size, (Σ w)² / Σ w².
    pub effective_samples: f64,
    /// Mean weight: about 1 when the logging policy covers every action of the target.
    pub mean_weight: f64,
    pub max_weight: f64,
    /// Share of Σ w carried by the heaviest 1% of rows (at least one row).
    pub top_share: f64,
    pub warnings: Vec<String>,
}

impl WeightDiagnostics {
    /// Diagnostics of the weights of all rows.
    pub fn of(weights: &[f64]) -> Self {
        let n = weights.len();
        let (sum, sum_sq) = weights
            .iter()
            .fold((0.0, 0.0), |(s, q), &w| (s + w, q + w * w));
        let max_weight = weights.iter().copied().fold(0.0, f64::max);
        let top = n.div_ceil(100).max(1).min(n);
        let mut sorted = weights.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let top_sum: f64 = sorted.iter().take(top).sum();
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let d = WeightDiagnostics {
            samples: n,
            effective_samples: ratio(sum * sum, sum_sq),
            mean_weight: ratio(sum, n as f64),
            max_weight,
            top_share: ratio(top_sum, sum),
            warnings: Vec::new(),
        };
        let warnings = d.warn(sum_sq, top);
        WeightDiagnostics { warnings, ..d }
    }

    fn warn(&self, sum_sq: f64, top: usize) -> Vec<String> {
        let n = self.samples;
        let mut out = Vec::new();
        if n == 0 {
            return vec!["no rows: nothing to estimate".into()];
        }
        if self.max_weight == 0.0 {
            return vec![
                "every weight is 0: the target never takes a logged action, so only the \
                 reward model (DM) can say anything"
                    .into(),
            ];
        }
        let ess = self.effective_samples;
        let of = format!(
            "effective sample size {} of {}",
            thousands(ess),
            thousands(n as f64)
        );
        if ess < 30.0 || ess < n as f64 / 100.0 {
            out.push(format!("{of}: this estimate is unreliable"));
        } else if ess < n as f64 / 10.0 {
            out.push(format!(
                "{of}: a few heavily weighted rows dominate, so expect a wide interval"
            ));
        }
        if self.top_share > 0.5 {
            out.push(format!(
                "the heaviest 1% of rows ({}) carry {:.0}% of the weight: the estimate rests \
                 on them",
                thousands(top as f64),
                100.0 * self.top_share
            ));
        }
        // The mean weight estimates Σ_a π_e(a | x) over the actions the logging policy can
        // take: 1 unless the logs miss some of the target's actions or the propensities are
        // wrong. Its standard error is sd(w) / √n.
        let nf = n as f64;
        let var = (sum_sq / nf - self.mean_weight * self.mean_weight).max(0.0);
        let se = (var / nf).sqrt();
        if (self.mean_weight - 1.0).abs() > (4.0 * se).max(0.01) {
            out.push(format!(
                "the mean weight is {:.3}, not 1: the logs may not cover the target's actions, \
                 or the propensities or the target's probabilities are wrong",
                self.mean_weight
            ));
        }
        out
    }
}

/// A count with thousands separators: 10000.4 -> "10,000".
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_weights_raise_no_warning() {
        let d = WeightDiagnostics::of(&[1.0; 500]);
        assert_eq!(d.effective_samples, 500.0);
        assert_eq!(d.mean_weight, 1.0);
        assert_eq!(d.max_weight, 1.0);
        // The heaviest 1% of 500 rows is 5 rows of 500.
        assert_eq!(d.top_share, 0.01);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn one_huge_weight_is_unreliable() {
        // 9,999 rows of weight 0.01 and one of weight 9,900.01: mean 1, ESS about 1.
        let mut w = vec![0.01; 9_999];
        w.push(10_000.0 - 99.99);
        let d = WeightDiagnostics::of(&w);
        assert!((d.mean_weight - 1.0).abs() < 1e-9);
        let ess = 10_000.0f64.powi(2) / (9_999.0 * 1e-4 + 9_900.01f64.powi(2));
        assert!((d.effective_samples - ess).abs() < 1e-9);
        assert_eq!(d.max_weight, 9_900.01);
        assert_eq!(
            d.warnings,
            [
                "effective sample size 1 of 10,000: this estimate is unreliable",
                "the heaviest 1% of rows (100) carry 99% of the weight: the estimate rests on them",
            ]
        );
    }

    #[test]
    fn uneven_weights_and_a_low_mean_are_named() {
        // 950 rows of weight 0.2 and 50 of weight 16.2: mean 1, ESS = 1000² / 13,160 ≈ 76.
        let mut w = vec![0.2; 950];
        w.extend([16.2; 50]);
        let d = WeightDiagnostics::of(&w);
        assert!((d.effective_samples - 1e6 / 13_160.0).abs() < 1e-6);
        assert_eq!(
            d.warnings,
            [
                "effective sample size 76 of 1,000: a few heavily weighted rows dominate, so \
              expect a wide interval"
            ]
        );
        let mut low = vec![0.5; 990];
        low.extend([1.0; 10]);
        let d = WeightDiagnostics::of(&low);
        assert_eq!(
            d.warnings,
            [
                "the mean weight is 0.505, not 1: the logs may not cover the target's actions, \
              or the propensities or the target's probabilities are wrong"
            ]
        );
        assert!(WeightDiagnostics::of(&[0.0, 0.0]).warnings[0].starts_with("every weight is 0"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(37.2), "37");
        assert_eq!(thousands(10_000.0), "10,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
