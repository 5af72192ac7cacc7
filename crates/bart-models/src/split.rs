//! A seeded per-listener hold-out split of a listener x item matrix.

use crate::error::{ModelError, Result};
use crate::sparse::Csr;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Training plays and, per listener, the held-out items (ascending).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: Csr,
    pub test: Vec<Vec<u32>>,
}

/// Holds out `round(fraction * n)` of each listener's `n` items, chosen uniformly by a
/// partial Fisher-Yates shuffle from one RNG seeded with `seed` (listeners in order).
pub fn holdout(plays: &Csr, fraction: f64, seed: u64) -> Result<Split> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(ModelError::invalid(
            "fraction",
            format!("{fraction} (must be in [0, 1))"),
        ));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut train = Vec::with_capacity(plays.nnz());
    let mut test = Vec::with_capacity(plays.rows());
    for u in 0..plays.rows() {
        let (items, values) = plays.row(u);
        let mut order: Vec<usize> = (0..items.len()).collect();
        let held = (fraction * items.len() as f64).round() as usize;
        for i in 0..held {
            let j = rng.random_range(i..order.len());
            order.swap(i, j);
        }
        let mut out: Vec<u32> = order[..held].iter().map(|&p| items[p]).collect();
        out.sort_unstable();
        train.extend(
            order[held..]
                .iter()
                .map(|&p| (u as u32, items[p], values[p])),
        );
        test.push(out);
    }
    Ok(Split {
        train: Csr::from_triples(plays.rows(), plays.cols(), train),
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_out_a_fifth_of_each_listener_reproducibly() {
        let t: Vec<(u32, u32, f32)> = (0..50u32)
            .flat_map(|u| (0..(u % 11)).map(move |i| (u, (i * 7 + u) % 100, 1.0 + i as f32)))
            .collect();
        let plays = Csr::from_triples(50, 100, t);
        let s = holdout(&plays, 0.2, 7).unwrap();
        for u in 0..50 {
            let (all, values) = plays.row(u);
            let (kept, kept_values) = s.train.row(u);
            assert_eq!(s.test[u].len(), (0.2 * all.len() as f64).round() as usize);
            assert_eq!(kept.len() + s.test[u].len(), all.len());
            // Train and test partition the listener's items; training keeps the values.
            let mut union: Vec<u32> = kept.iter().chain(&s.test[u]).copied().collect();
            union.sort_unstable();
            assert_eq!(union, all);
            for (i, v) in kept.iter().zip(kept_values) {
                assert_eq!(values[all.iter().position(|a| a == i).unwrap()], *v);
            }
        }
        assert_eq!(holdout(&plays, 0.2, 7).unwrap(), s);
        assert_ne!(holdout(&plays, 0.2, 8).unwrap().test, s.test);
        assert!(holdout(&plays, 1.0, 7).is_err());
    }
}
