//! Off-policy evaluation: estimate how a target policy would have done from logs of another.
//!
//! Per-card estimators (replay, DM, IPS, clipped IPS, SNIPS, DR, SNDR, switch-DR, DR with
//! optimistic shrinkage) are functions of mergeable single-pass sums ([`Sums`]), with
//! delta-method normal intervals over independent units (cards, or pages as clusters: cards
//! on a page share a listener and a context, so they are not independent) and seeded
//! percentile bootstrap intervals. DM and DR use a cross-fitted logistic reward model. Applied
//! to logged home pages ([`pages`]) and to the Open Bandit Dataset ([`obd`]).

pub mod bootstrap;
pub mod card;
pub mod diagnostics;
pub mod error;
pub mod estimate;
pub mod obd;
pub mod pages;
pub mod regression;

pub use bootstrap::{Bootstrap, Interval};
pub use card::{CardReport, EstimateRow, Skipped, evaluate_cards};
pub use diagnostics::WeightDiagnostics;
pub use error::OpeError;
pub use estimate::{Card, Estimate, Estimator, Sample, Sums, Tuning, Z95};
pub use pages::{LoggedPageRef, PolicyValue, Target, evaluate, page_samples, stream_rate};
