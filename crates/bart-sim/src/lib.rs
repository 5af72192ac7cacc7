//! bart-sim
