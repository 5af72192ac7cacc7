//! Every per-card estimator on independent logged cards, with normal and bootstrap intervals
//! and weight diagnostics.

use crate::bootstrap::{Bootstrap, Interval};
use crate::diagnostics::WeightDiagnostics;
use crate::error::OpeError;
use crate::estimate::{Card, Estimator, Sums, Terms, Tuning, terms};
use serde::Serialize;

/// One estimator's value with its intervals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EstimateRow {
    pub estimator: Estimator,
    pub value: f64,
    pub std_error: f64,
    /// 95% normal (delta-method) interval.
    pub normal: Interval,
    /// Percentile bootstrap interval, when asked for.
    pub bootstrap: Option<Interval>,
}

/// An estimator that does not apply, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    pub estimator: Estimator,
    pub reason: String,
}

/// The estimates of one target policy from one set of logs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CardReport {
    pub samples: usize,
    pub tuning: Tuning,
    pub bootstrap: Option<Bootstrap>,
    pub estimates: Vec<EstimateRow>,
    pub skipped: Vec<Skipped>,
    pub diagnostics: WeightDiagnostics,
}

impl CardReport {
    /// The row of `estimator`, if it was estimated.
    pub fn get(&self, estimator: Estimator) -> Option<&EstimateRow> {
        self.estimates.iter().find(|r| r.estimator == estimator)
    }
}

/// Evaluates `estimators` on independent cards (each its own cluster). An estimator that
/// does not apply (replay for a stochastic target, SNIPS with zero weights) is listed in
/// `skipped` with the reason; invalid cards or settings are errors.
pub fn evaluate_cards(
    cards: &[Card],
    estimators: &[Estimator],
    tuning: Tuning,
    bootstrap: Option<&Bootstrap>,
) -> Result<CardReport, OpeError> {
    tuning.validate()?;
    let mut sums = Sums::new(tuning);
    let mut units: Vec<Terms> = Vec::with_capacity(cards.len());
    for (i, card) in cards.iter().enumerate() {
        units.push(terms(card, &tuning, i)?);
        sums.add_row(*card)?;
    }
    let mut estimates = Vec::new();
    let mut skipped = Vec::new();
    for &estimator in estimators {
        match sums.estimate(estimator) {
            Ok(e) => estimates.push(EstimateRow {
                estimator,
                value: e.value,
                std_error: e.std_error,
                normal: Interval { lo: e.lo, hi: e.hi },
                bootstrap: None,
            }),
            Err(e @ (OpeError::Unsupported(_) | OpeError::Empty { .. })) => skipped.push(Skipped {
                estimator,
                reason: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
    }
    if let Some(b) = bootstrap {
        let which: Vec<Estimator> = estimates.iter().map(|r| r.estimator).collect();
        for (row, interval) in estimates.iter_mut().zip(b.intervals(&units, &which)?) {
            row.bootstrap = interval.ok();
        }
    }
    let weights: Vec<f64> = cards.iter().map(|c| c.sample.weight()).collect();
    Ok(CardReport {
        samples: cards.len(),
        tuning,
        bootstrap: bootstrap.copied(),
        estimates,
        skipped,
        diagnostics: WeightDiagnostics::of(&weights),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::Sample;

    fn cards() -> Vec<Card> {
        (0..400)
            .map(|i| Card {
                sample: Sample {
                    target: if i % 2 == 0 { 0.6 } else { 0.4 },
                    logging: 0.5,
                    reward: (i % 5 == 0) as u8 as f64,
                },
                predicted: 0.2,
                direct: 0.2,
            })
            .collect()
    }

    #[test]
    fn every_applicable_estimator_gets_both_intervals() {
        let boot = Bootstrap {
            resamples: 300,
            seed: 3,
            level: 0.95,
        };
        let report =
            evaluate_cards(&cards(), &Estimator::ALL, Tuning::default(), Some(&boot)).unwrap();
        assert_eq!(report.samples, 400);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].estimator, Estimator::Replay);
        assert_eq!(report.estimates.len(), 8);
        for row in &report.estimates {
            let b = row.bootstrap.unwrap();
            assert!(
                b.contains(row.value) || row.estimator == Estimator::Dm,
                "{row:?}"
            );
            assert!(row.normal.contains(row.value));
        }
        // Rewards 1 on every 5th card (i = 0 mod 10 has weight 1.2, i = 5 mod 10 weight 0.8):
        // IPS = (40 * 1.2 + 40 * 0.8) / 400.
        let ips = report.get(Estimator::Ips).unwrap().value;
        assert!((ips - 0.2).abs() < 1e-15);
        // DM is the constant 0.2, with no spread.
        let dm = report.get(Estimator::Dm).unwrap();
        let b = dm.bootstrap.unwrap();
        assert!(b.lo == b.hi && (b.lo - 0.2).abs() < 1e-14, "{b:?}");
        assert!(report.diagnostics.warnings.is_empty());
    }

    #[test]
    fn invalid_cards_are_errors() {
        let mut c = cards();
        c[7].sample.logging = 0.0;
        assert!(matches!(
            evaluate_cards(&c, &[Estimator::Ips], Tuning::default(), None),
            Err(OpeError::InvalidProbability { index: 7, .. })
        ));
    }
}
