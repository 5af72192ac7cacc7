//! The one error type of the shared models: importing, reading and writing files, and fitting.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong in `bart-models`.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A file could not be opened, read or written.
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of a text file is malformed (line numbers count from 1, the header included).
    #[error("{}, line {line}: {reason}", file.display())]
    Line {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    /// A binary file is truncated, corrupt, foreign or of another version.
    #[error("{}: {reason}", file.display())]
    Format { file: PathBuf, reason: String },
    /// A configuration or an argument is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl ModelError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ModelError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// The result type of `bart-models`.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
