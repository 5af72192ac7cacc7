//! bart-models
