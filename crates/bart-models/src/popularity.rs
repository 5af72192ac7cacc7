//! Item popularity per region, from play counts.

use bart_core::{Catalog, Histories, ItemId, Listener, RegionId};

/// Items ranked by plays within each region (ties by catalog popularity, then id), and
/// globally.
#[derive(Clone, Debug, Default)]
pub struct Popularity {
    by_region: Vec<Vec<ItemId>>,
    global: Vec<ItemId>,
}

/// How many top items to keep per region.
const KEEP: usize = 500;

impl Popularity {
    /// Counts plays per region; listeners and histories are indexed alike.
    pub fn from_history(catalog: &Catalog, listeners: &[Listener], histories: &Histories) -> Self {
        let n = catalog.items.len();
        let mut counts = vec![vec![0u32; n]; catalog.regions.len()];
        let mut global = vec![0u32; n];
        for (listener, plays) in listeners.iter().zip(histories) {
            for p in plays.iter().filter(|p| p.item.index() < n) {
                if let Some(c) = counts.get_mut(listener.region.index()) {
                    c[p.item.index()] += 1;
                }
                global[p.item.index()] += 1;
            }
        }
        let rank = |c: &[u32]| {
            let mut ids: Vec<ItemId> = (0..n as u32).map(ItemId).collect();
            ids.sort_by(|a, b| {
                c[b.index()]
                    .cmp(&c[a.index()])
                    .then(
                        catalog.items[b.index()]
                            .popularity
                            .total_cmp(&catalog.items[a.index()].popularity),
                    )
                    .then(a.cmp(b))
            });
            ids.truncate(KEEP);
            ids
        };
        Popularity {
            by_region: counts.iter().map(|c| rank(c)).collect(),
            global: rank(&global),
        }
    }

    /// The most played items in a region, most played first (global list for unknown regions).
    pub fn top_in(&self, region: RegionId) -> &[ItemId] {
        self.by_region.get(region.index()).unwrap_or(&self.global)
    }

    /// The most played items overall.
    pub fn top(&self) -> &[ItemId] {
        &self.global
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::tiny_world;

    #[test]
    fn ranks_by_regional_plays() {
        let (catalog, listeners, histories) = tiny_world();
        let p = Popularity::from_history(&catalog, &listeners, &histories);
        // Region 0 is listener 0 (items 0, 0, 1, 2): item 0 first, then 1 and 2 tied on one
        // play, broken by catalog popularity (0.2 > 0.1). Region 1 is listener 1 (0, 2, 3):
        // a three-way tie broken by popularity.
        assert_eq!(
            &p.top_in(RegionId(0))[..3],
            &[ItemId(0), ItemId(2), ItemId(1)]
        );
        assert_eq!(
            &p.top_in(RegionId(1))[..3],
            &[ItemId(3), ItemId(2), ItemId(0)]
        );
        assert_eq!(&p.top()[..2], &[ItemId(0), ItemId(2)]);
        assert_eq!(p.top_in(RegionId(9)), p.top());
    }
}
