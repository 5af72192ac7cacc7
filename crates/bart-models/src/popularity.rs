//! Item popularity per region and per platform, from play counts.

use bart_core::{Catalog, Histories, ItemId, Listener, Platform, RegionId};

/// Items ranked by plays within each region, within each platform, and globally (ties by
/// catalog popularity, then id).
#[derive(Clone, Debug, Default)]
pub struct Popularity {
    by_region: Vec<Vec<ItemId>>,
    /// In `Platform::ALL` order.
    by_platform: Vec<Vec<ItemId>>,
    global: Vec<ItemId>,
}

/// How many top items to keep per region and per platform.
const KEEP: usize = 500;

fn platform_index(p: Platform) -> usize {
    Platform::ALL.iter().position(|&x| x == p).unwrap_or(0)
}

impl Popularity {
    /// Counts plays per region and per platform; listeners and histories are indexed alike.
    /// A listener's plays all count under their region and their main platform (the one in
    /// their profile), as plays carry no platform of their own.
    pub fn from_history(catalog: &Catalog, listeners: &[Listener], histories: &Histories) -> Self {
        let n = catalog.items.len();
        let mut counts = vec![vec![0u32; n]; catalog.regions.len()];
        let mut platform_counts = vec![vec![0u32; n]; Platform::ALL.len()];
        let mut global = vec![0u32; n];
        for (listener, plays) in listeners.iter().zip(histories) {
            let platform = &mut platform_counts[platform_index(listener.platform)];
            for p in plays.iter().filter(|p| p.item.index() < n) {
                if let Some(c) = counts.get_mut(listener.region.index()) {
                    c[p.item.index()] += 1;
                }
                platform[p.item.index()] += 1;
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
            by_platform: platform_counts.iter().map(|c| rank(c)).collect(),
            global: rank(&global),
        }
    }

    /// The most played items in a region, most played first (global list for unknown regions).
    pub fn top_in(&self, region: RegionId) -> &[ItemId] {
        self.by_region.get(region.index()).unwrap_or(&self.global)
    }

    /// The most played items by listeners whose main platform is `platform`, most played
    /// first (the global list when the model has no per-platform counts).
    pub fn top_on(&self, platform: Platform) -> &[ItemId] {
        self.by_platform
            .get(platform_index(platform))
            .unwrap_or(&self.global)
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
    use bart_core::{AgeGroup, ListenerId, Play};

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

    #[test]
    fn ranks_by_plays_on_the_main_platform() {
        let (catalog, mut listeners, mut histories) = tiny_world();
        // Listener 0 (mobile): 0, 0, 1, 2. Listener 1 moves to desktop: 0, 2, 3. A third
        // listener on desktop in region 0 plays 3, 3, 4 and an unknown item 99 (ignored).
        listeners[1].platform = Platform::Desktop;
        listeners.push(Listener {
            id: ListenerId(2),
            region: RegionId(0),
            platform: Platform::Desktop,
            age_group: AgeGroup::Over50,
        });
        histories.push(
            [3, 3, 4, 99]
                .iter()
                .map(|&i| Play {
                    item: ItemId(i),
                    timestamp: 0,
                })
                .collect(),
        );
        let p = Popularity::from_history(&catalog, &listeners, &histories);
        // Mobile counts: item 0: 2, 1: 1, 2: 1, 3: 0, 4: 0; ties by catalog popularity.
        assert_eq!(
            p.top_on(Platform::Mobile),
            &[ItemId(0), ItemId(2), ItemId(1), ItemId(4), ItemId(3)]
        );
        // Desktop counts: 3: 3 (1 + 2), 0: 1, 2: 1, 4: 1, 1: 0.
        assert_eq!(
            p.top_on(Platform::Desktop),
            &[ItemId(3), ItemId(4), ItemId(2), ItemId(0), ItemId(1)]
        );
        // Nobody uses web or a speaker: no plays, so catalog popularity alone decides.
        let by_catalog = [ItemId(4), ItemId(3), ItemId(2), ItemId(1), ItemId(0)];
        assert_eq!(p.top_on(Platform::Web), &by_catalog);
        assert_eq!(p.top_on(Platform::Speaker), &by_catalog);
        // Global counts: 0: 3, 3: 3, 2: 2, 1: 1, 4: 1. Regions are unchanged by platforms:
        // region 0 now holds listeners 0 and 2.
        assert_eq!(
            p.top(),
            &[ItemId(3), ItemId(0), ItemId(2), ItemId(4), ItemId(1)]
        );
        assert_eq!(
            p.top_in(RegionId(0)),
            &[ItemId(3), ItemId(0), ItemId(4), ItemId(2), ItemId(1)]
        );
        // A model without per-platform counts falls back to the global list.
        let empty = Popularity::default();
        assert!(empty.top_on(Platform::Mobile).is_empty());
        let fallback = Popularity {
            by_platform: Vec::new(),
            ..p.clone()
        };
        assert_eq!(fallback.top_on(Platform::Web), p.top());
    }
}
