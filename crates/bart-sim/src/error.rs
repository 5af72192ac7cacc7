//! The crate's error type.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong in the simulator and the closed-loop experiments.
#[derive(Debug, Error)]
pub enum SimError {
    /// A configuration value is out of its allowed range.
    #[error("invalid config: {field} = {value}: {reason}")]
    InvalidConfig {
        /// The name of the offending field.
        field: &'static str,
        /// The offending value, as text.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Reading or writing a file of the data directory failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The event store failed.
    #[error(transparent)]
    Log(#[from] bart_log::LogError),
    /// A model or policy failed.
    #[error(transparent)]
    Bandit(#[from] bart_bandit::BanditError),
    /// Off-policy evaluation failed.
    #[error(transparent)]
    Ope(#[from] bart_ope::OpeError),
    /// Listening data could not be read, or a shared model could not be fitted.
    #[error(transparent)]
    Models(#[from] bart_models::ModelError),
}
