//! Order-2 scores of many examples that share most of their features, one dot product each.
//!
//! For a factorization machine of order 2 the logit of a set of features is
//! `c + Σ w x + ½ (|S|² − Σ |v|² x²)` with `S = Σ v x`. For two disjoint groups A and B
//! the pairwise part splits as `pairs(A) + pairs(B) + S_A · S_B`. A home page scores every
//! (item, explanation) pair: the context and a shelf's explanation form one *fixed* group,
//! the item's features another (remembered per item), and a few real-valued features whose
//! values change with every pair (the listener's shares of the item's genre and artist and
//! their preference for the artist) are expanded term by term. What is left per pair is one
//! dot product of rank length.

use super::{Partial, RewardModel, lanes_sum};
use bart_models::dot_f32 as dot;

/// A model ready to score examples made of a [`Fixed`] group, an item row
/// ([`item_row`](Pairwise::item_row)) and values of the real-valued features it was made for.
#[derive(Debug)]
pub struct Pairwise<'m> {
    rank: usize,
    /// The constant's weight.
    constant: f64,
    /// Per real-valued feature: its linear weight and its embedding.
    reals: Vec<(f32, &'m [f32])>,
    /// `v_k · v_l` for every pair k < l of real-valued features, row by row.
    cross: Vec<f32>,
}

/// A fixed group summarised for [`Pairwise::logit`]: the constant and the group's own part of
/// the logit, its embedding sum, and per real-valued feature `w_k + v_k · S`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fixed {
    logit: f64,
    sum: Vec<f32>,
    reals: Vec<f32>,
}

impl Fixed {
    /// The logit of the fixed group alone (no item, real values 0).
    pub fn logit(&self) -> f64 {
        self.logit
    }
}

impl RewardModel {
    /// Order-2 scoring for examples whose real-valued features beyond the groups are `reals`
    /// (hashed ids); `None` for models with 3rd-order terms or crosses, whose scores do not
    /// split this way.
    pub fn pairwise(&self, reals: &[u32]) -> Option<Pairwise<'_>> {
        if self.config.order3() > 0 || !self.config.interactions.is_empty() {
            return None;
        }
        let rank = self.config.order2();
        let reals: Vec<(f32, &[f32])> = reals
            .iter()
            .map(|&id| {
                let row = &self.rows[self.row(id)..][..1 + rank];
                (row[0], &row[1..])
            })
            .collect();
        let mut cross = Vec::new();
        for (k, (_, u)) in reals.iter().enumerate() {
            for (_, v) in &reals[k + 1..] {
                cross.push(dot(u, v));
            }
        }
        Some(Pairwise {
            rank,
            constant: f64::from(self.rows[self.row(self.constant)]),
            reals,
            cross,
        })
    }
}

impl Pairwise<'_> {
    /// Numbers per item row: its own logit part, its dot product with each real-valued
    /// feature's embedding, then its embedding sum.
    pub fn row_len(&self) -> usize {
        1 + self.reals.len() + self.rank
    }

    /// Writes the row of an item group's partial into `row` ([`row_len`](Self::row_len)
    /// long).
    pub fn item_row(&self, item: &Partial, row: &mut [f32]) {
        let sum = &item.sums[..self.rank];
        let (own, rest) = row.split_at_mut(1);
        let (reals, out) = rest.split_at_mut(self.reals.len());
        own[0] = (item.linear + self.pairs(item)) as f32;
        for (r, (_, v)) in reals.iter_mut().zip(&self.reals) {
            *r = dot(sum, v);
        }
        out.copy_from_slice(sum);
    }

    /// The fixed group of a partial.
    pub fn fixed(&self, group: &Partial) -> Fixed {
        let sum = group.sums[..self.rank].to_vec();
        Fixed {
            logit: self.constant + group.linear + self.pairs(group),
            reals: self.reals.iter().map(|&(w, v)| w + dot(&sum, v)).collect(),
            sum,
        }
    }

    /// The logit of the example made of `fixed`, the item of `row` and the real-valued
    /// features at `values` (in the order the scorer was made with).
    pub fn logit(&self, fixed: &Fixed, row: &[f32], values: &[f32]) -> f64 {
        let (own, rest) = row.split_at(1);
        let (reals, sum) = rest.split_at(self.reals.len());
        let mut z = own[0] + dot(sum, &fixed.sum);
        debug_assert_eq!(values.len(), self.reals.len());
        // Terms of a value 0 (a feature the page lacks, such as the preference without
        // embeddings) are 0: skipped.
        let mut cross = self.cross.iter();
        for (k, &x) in values.iter().enumerate() {
            let later = &values[k + 1..];
            if x == 0.0 {
                // So are its cross terms with the later values.
                cross.by_ref().take(later.len()).for_each(drop);
                continue;
            }
            z += x * (fixed.reals[k] + reals[k]);
            for (&y, &c) in later.iter().zip(&mut cross) {
                if y != 0.0 {
                    z += x * y * c;
                }
            }
        }
        fixed.logit + f64::from(z)
    }

    /// A group's pairwise interactions among its own features: ½ (|S|² − Σ |v|² x²).
    fn pairs(&self, group: &Partial) -> f64 {
        let sum = &group.sums[..self.rank];
        0.5 * f64::from(lanes_sum(sum, |a| a * a) - group.sums[self.rank])
    }
}
