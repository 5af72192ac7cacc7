//! Off-policy evaluation: estimate how a target policy would have done from logs of another.
//!
//! Per-card estimators (replay, DM, IPS, clipped IPS, SNIPS, DR, SNDR, switch-DR, DR with
//! optimistic shrinkage) are functions of mergeable single-pass sums ([`Sums`]), with
//! delta-method normal intervals over independent units (cards, or pages as clusters: cards
//! on a page share a listener and a context, so they are not independent) and seeded
//! percentile bootstrap intervals. DM and DR use a cross-fitted logistic reward model. Applied
//! to logged home pages ([`pages`]) and to the Open Bandit Dataset ([`obd`]). Whole pages
//! have slate estimators ([`slate`]: standard, independent, cascade and pseudo-inverse IPS);
//! two policies are compared on the same pages ([`compare`]) and the promotion rule decides
//! ([`promotion`]). Logs larger than memory are folded from disk in bounded memory
//! ([`stream`]).

pub mod bootstrap;
pub mod card;
pub mod compare;
pub mod diagnostics;
pub mod error;
pub mod estimate;
pub mod obd;
pub mod pages;
pub mod promotion;
pub mod regression;
pub mod slate;
pub mod stream;

pub use bootstrap::{Bootstrap, Interval};
pub use card::{CardReport, EstimateRow, Skipped, evaluate_cards};
pub use compare::{Difference, difference};
pub use diagnostics::WeightDiagnostics;
pub use error::OpeError;
pub use estimate::{Card, DM_INTERVAL_CAVEAT, Estimate, Estimator, Sample, Sums, Tuning, Z95};
pub use pages::{
    LoggedPageRef, PageModel, PolicyValue, Target, TargetEvaluation, direct_estimate, evaluate,
    evaluate_targets, page_samples, slate_page, stream_rate,
};
pub use promotion::{Decision, decide};
pub use slate::{SlatePage, SlateReport, SlateSums, Weighting};
