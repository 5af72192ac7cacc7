//! Off-policy evaluation: estimate how a target policy would have done from logs of another.
//!
//! v1 has the per-card estimators IPS and SNIPS with normal confidence intervals that treat
//! each page as one independent unit (cards on a page share a listener and a context, so they
//! are not independent), and their application to logged home pages.

pub mod estimate;
pub mod pages;

pub use estimate::{Estimate, Estimator, OpeError, Ratio, Sample, Z95};
pub use pages::{LoggedPageRef, PolicyValue, Target, evaluate, page_samples, stream_rate};
