//! The one error type of the crate.

use thiserror::Error;

/// Errors from estimation and from reading logged data.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum OpeError {
    /// A logging propensity outside (0, 1] or a target probability outside [0, 1].
    #[error("invalid {field} {value} in sample {index}: must be in {range}")]
    InvalidProbability {
        field: &'static str,
        value: f64,
        index: usize,
        range: &'static str,
    },
    /// A reward or a reward-model prediction that is not a finite number.
    #[error("{field} {value} in sample {index} is not a finite number")]
    NotFinite {
        field: &'static str,
        value: f64,
        index: usize,
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
    /// An estimator or option that does not apply to these data or this target.
    #[error("{0}")]
    Unsupported(String),
    /// A file that cannot be opened or read, or whose content as a whole is wrong.
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    /// A line of an input file that cannot be parsed as a record.
    #[error("{file} line {line}: {reason}")]
    Malformed {
        file: String,
        line: u64,
        reason: String,
    },
    /// A bad value or a missing column in an input file, with its line (1 = the header).
    #[error("{file} line {line}, column {column}: {reason}")]
    Input {
        file: String,
        line: u64,
        column: String,
        reason: String,
    },
}
