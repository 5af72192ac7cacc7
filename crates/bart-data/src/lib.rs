//! bart-data
