//! bart-ope
