//! bart-bandit
