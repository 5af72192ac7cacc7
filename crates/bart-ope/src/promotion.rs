//! The promotion rule: a candidate replaces the running policy only if the lower bound of
//! its confidence interval beats the running policy's estimate.

use crate::error::OpeError;
use serde::Serialize;

/// Whether to promote, and why, in words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub promote: bool,
    pub reason: String,
}

/// Promote only if `candidate_lower` (the lower end of the candidate's interval) is strictly
/// above `running` (the running policy's estimate). A tie keeps the running policy, and so
/// does a candidate without an interval. A running estimate that is not finite, or a NaN
/// bound, is refused: no decision can rest on it.
pub fn decide(running: f64, candidate_lower: Option<f64>) -> Result<Decision, OpeError> {
    if !running.is_finite() {
        return Err(OpeError::Unsupported(format!(
            "the running policy's estimate {running} is not a finite number: no promotion \
             decision can rest on it"
        )));
    }
    let Some(lower) = candidate_lower else {
        return Ok(Decision {
            promote: false,
            reason: "keep the running policy: the candidate has no confidence interval".into(),
        });
    };
    if lower.is_nan() {
        return Err(OpeError::Unsupported(
            "the candidate's lower confidence bound is NaN: no promotion decision can rest on it"
                .into(),
        ));
    }
    Ok(if lower > running {
        Decision {
            promote: true,
            reason: format!(
                "promote: the candidate's lower bound {lower:.4} beats the running policy's \
                 {running:.4}"
            ),
        }
    } else {
        Decision {
            promote: false,
            reason: format!(
                "keep the running policy: the candidate's lower bound {lower:.4} does not beat \
                 its {running:.4}"
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotes_only_a_strictly_better_lower_bound() {
        assert!(decide(0.18, Some(0.1801)).unwrap().promote);
        let d = decide(0.18, Some(0.17)).unwrap();
        assert!(!d.promote);
        assert_eq!(
            d.reason,
            "keep the running policy: the candidate's lower bound 0.1700 does not beat its 0.1800"
        );
    }

    #[test]
    fn a_tie_keeps_the_running_policy() {
        assert!(!decide(0.2, Some(0.2)).unwrap().promote);
    }

    #[test]
    fn no_interval_keeps_the_running_policy() {
        let d = decide(0.2, None).unwrap();
        assert!(!d.promote);
        assert!(d.reason.contains("no confidence interval"));
        // One page gives an infinite interval: its lower bound beats nothing.
        assert!(!decide(0.2, Some(f64::NEG_INFINITY)).unwrap().promote);
    }

    #[test]
    fn nan_is_refused() {
        assert!(decide(f64::NAN, Some(0.3)).is_err());
        assert!(decide(0.2, Some(f64::NAN)).is_err());
        assert!(decide(f64::INFINITY, Some(0.3)).is_err());
    }
}
