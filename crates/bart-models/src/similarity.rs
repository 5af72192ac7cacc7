//! Item co-listening similarity: items streamed by the same listeners, by cosine.

use bart_core::{Histories, ItemId};
use rayon::prelude::*;

/// The most similar items of every item by co-listening cosine
/// `|L(i) ∩ L(j)| / sqrt(|L(i)| |L(j)|)`, where `L(i)` is the set of listeners who played `i`.
#[derive(Clone, Debug, Default)]
pub struct Similarity {
    neighbours: Vec<Vec<(ItemId, f32)>>,
}

impl Similarity {
    /// Builds the top-`k` neighbour lists of `items` items from the listening histories.
    /// Neighbours are sorted by descending similarity, ties by item id.
    pub fn from_history(items: usize, histories: &Histories, k: usize) -> Self {
        // Distinct items per listener, and the inverted index item -> listeners.
        let baskets: Vec<Vec<u32>> = histories
            .iter()
            .map(|plays| {
                let mut b: Vec<u32> = plays
                    .iter()
                    .map(|p| p.item.0)
                    .filter(|&i| (i as usize) < items)
                    .collect();
                b.sort_unstable();
                b.dedup();
                b
            })
            .collect();
        let mut listeners_of: Vec<Vec<u32>> = vec![Vec::new(); items];
        for (l, basket) in baskets.iter().enumerate() {
            for &i in basket {
                listeners_of[i as usize].push(l as u32);
            }
        }
        let neighbours = (0..items)
            .into_par_iter()
            .map_init(
                || (vec![0u32; items], Vec::new()),
                |(counts, touched), i| {
                    for &l in &listeners_of[i] {
                        for &j in &baskets[l as usize] {
                            if j as usize != i {
                                if counts[j as usize] == 0 {
                                    touched.push(j);
                                }
                                counts[j as usize] += 1;
                            }
                        }
                    }
                    let ni = listeners_of[i].len() as f32;
                    let mut list: Vec<(ItemId, f32)> = touched
                        .drain(..)
                        .map(|j| {
                            let c = std::mem::take(&mut counts[j as usize]) as f32;
                            let nj = listeners_of[j as usize].len() as f32;
                            (ItemId(j), c / (ni * nj).sqrt())
                        })
                        .collect();
                    list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    list.truncate(k);
                    list
                },
            )
            .collect();
        Similarity { neighbours }
    }

    /// The items most similar to `item`, most similar first (empty for unknown items).
    pub fn similar(&self, item: ItemId) -> &[(ItemId, f32)] {
        self.neighbours.get(item.index()).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::tiny_world;

    #[test]
    fn cosine_of_co_listening() {
        let (catalog, _, histories) = tiny_world();
        let s = Similarity::from_history(catalog.items.len(), &histories, 10);
        // L(0) = {0, 1}, L(1) = {0}, L(2) = {0, 1}, L(3) = {1}.
        let near0 = s.similar(ItemId(0));
        assert_eq!(near0[0], (ItemId(2), 1.0));
        let expect = 1.0 / 2f32.sqrt();
        assert_eq!(near0[1].0, ItemId(1));
        assert!((near0[1].1 - expect).abs() < 1e-7);
        assert_eq!(near0[2].0, ItemId(3));
        assert!(s.similar(ItemId(4)).is_empty());
        let top1 = Similarity::from_history(catalog.items.len(), &histories, 1);
        assert_eq!(top1.similar(ItemId(0)).len(), 1);
    }
}
