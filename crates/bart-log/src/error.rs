//! The crate's one error type. Every message names the file (or directory) it is about.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing an event store.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The data directory or its `events.db` does not exist.
    #[error("no {what} at {} (run `bart demo` first)", path.display())]
    Missing {
        /// The directory or file that is missing.
        path: PathBuf,
        /// What it should have been: `"data directory"` or `"event store"`.
        what: String,
    },
    /// The file exists but is not a bart event store (not SQLite, no or wrong schema).
    #[error("{} is not a bart event store: {reason}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored impression does not decode.
    #[error("{}: impression {impression} does not decode: {reason}", path.display())]
    Decode {
        /// The database file.
        path: PathBuf,
        /// The id of the impression that fails.
        impression: u64,
        /// Which column fails and why.
        reason: String,
    },
    /// An impression could not be encoded for storage.
    #[error("{}: impression {impression} cannot be encoded: {reason}", path.display())]
    Encode {
        /// The database file.
        path: PathBuf,
        /// The id of the impression that fails.
        impression: u64,
        /// Why it fails.
        reason: String,
    },
    /// An appended impression id is already stored (or repeated in the batch); nothing from
    /// that batch was written.
    #[error("{}: impression {impression} is already stored", path.display())]
    DuplicateImpression {
        /// The database file.
        path: PathBuf,
        /// The repeated impression id.
        impression: u64,
    },
    /// The data directory could not be created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Any other SQLite error.
    #[error("{}: sqlite: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying SQLite error.
        source: rusqlite::Error,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, LogError>;
