//! The crate's one error type.

use std::path::PathBuf;
use thiserror::Error;

/// Errors from configuring, saving and loading models and policies.
#[derive(Debug, Error)]
pub enum BanditError {
    /// A parameter outside its valid range.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// A model file that cannot be used.
    #[error("model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },
    /// A training example that cannot be learned from.
    #[error("example {index}: {reason}")]
    Example { index: usize, reason: String },
    /// A logged page that cannot be rebuilt from its context.
    #[error(
        "impression {impression}: {reason} (was the world or the candidate configuration changed?)"
    )]
    Replay { impression: u64, reason: String },
    /// A line of an input file that cannot be parsed.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl BanditError {
    pub(crate) fn invalid(
        name: &'static str,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        BanditError::InvalidParameter {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
