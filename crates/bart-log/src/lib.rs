//! bart-log
