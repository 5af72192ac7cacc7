//! Off-policy evaluation: estimate how a target policy would have done from logs of another.
//!
//! v1 has the per-card estimators IPS and SNIPS with normal confidence intervals that treat
//! each page as one independent unit (cards on a page share a listener and a context, so they
//! are not independent).

pub mod estimate;

pub use estimate::{Estimate, Estimator, OpeError, Ratio, Sample, Z95};
