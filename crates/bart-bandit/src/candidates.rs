//! Candidate shelves v1: for a listener in a context, the explanations that apply and the items
//! each validly explains. Deterministic given the context and the shared models, so a page can
//! be rebuilt from its log.

use crate::item_set::ItemSet;
use crate::page::{ScoredShelf, ScoredShelves};
use bart_core::{Catalog, ClusterId, Context, Explanation, GenreId, ItemId, RegionId};
use bart_models::{Popularity, SharedModels};
use std::collections::BTreeSet;

/// How many shelves of each kind and how many items per shelf.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateConfig {
    /// Items per candidate shelf (the policy picks the cards among them).
    pub items_per_shelf: usize,
    /// `because_you_listened` shelves, one per most recent artist.
    pub recent_artists: usize,
    /// `your_top_genre` shelves.
    pub top_genres: usize,
    /// `discover` shelves.
    pub discover_genres: usize,
    /// `discover_cluster` shelves (when the catalog has clusters).
    pub discover_clusters: usize,
}

impl Default for CandidateConfig {
    fn default() -> Self {
        CandidateConfig {
            items_per_shelf: 12,
            recent_artists: 3,
            top_genres: 2,
            discover_genres: 2,
            discover_clusters: 2,
        }
    }
}

/// An explanation and the items it validly explains, best first by a cheap prior.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateShelf {
    pub explanation: Explanation,
    pub items: Vec<ItemId>,
}

/// The candidate shelves of one context that obey the page rules of the recommender that made
/// them ([`Recommender::candidates`](crate::Recommender::candidates)), read-only so they stay
/// that way: that recommender plans their pages without checking the rules again.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidates {
    pub(crate) shelves: Vec<CandidateShelf>,
    /// The number of the recommender whose rules they obey.
    pub(crate) rules: u64,
}

impl Candidates {
    /// The shelves with every item scored by `score` (given its shelf's explanation), still
    /// known to obey the rules.
    pub fn scored_by(self, score: impl Fn(&Explanation, ItemId) -> f64) -> ScoredShelves {
        let shelves = self
            .shelves
            .into_iter()
            .map(|c| ScoredShelf {
                scores: c.items.iter().map(|&i| score(&c.explanation, i)).collect(),
                explanation: c.explanation,
                items: c.items,
                bags: Vec::new(),
            })
            .collect();
        ScoredShelves {
            shelves,
            rules: self.rules,
        }
    }
}

impl std::ops::Deref for Candidates {
    type Target = [CandidateShelf];

    fn deref(&self) -> &[CandidateShelf] {
        &self.shelves
    }
}

impl IntoIterator for Candidates {
    type Item = CandidateShelf;
    type IntoIter = std::vec::IntoIter<CandidateShelf>;

    fn into_iter(self) -> Self::IntoIter {
        self.shelves.into_iter()
    }
}

impl<'a> IntoIterator for &'a Candidates {
    type Item = &'a CandidateShelf;
    type IntoIter = std::slice::Iter<'a, CandidateShelf>;

    fn into_iter(self) -> Self::IntoIter {
        self.shelves.iter()
    }
}

/// Item lists the shelf generators draw from, built once from the catalog.
#[derive(Clone, Debug)]
pub(crate) struct ItemIndex {
    /// Items of each artist, most popular first.
    by_artist: Vec<Vec<ItemId>>,
    /// Items of each main genre, most popular first.
    by_genre: Vec<Vec<ItemId>>,
    /// Per region, then for unknown regions, the main genres and the clusters in the order
    /// the most played items there first bring them up (where discover shelves come from).
    genres_by_region: Vec<Vec<GenreId>>,
    clusters_by_region: Vec<Vec<ClusterId>>,
    /// Items of each cluster's artists, most popular first.
    by_cluster: Vec<Vec<ItemId>>,
    /// The cluster of each item's artist, by item index.
    cluster_of: Vec<Option<ClusterId>>,
}

impl ItemIndex {
    pub(crate) fn new(catalog: &Catalog, popularity: &Popularity) -> Self {
        let mut by_artist = vec![Vec::new(); catalog.artists.len()];
        let mut by_genre = vec![Vec::new(); catalog.genres.len()];
        let mut items: Vec<_> = catalog.items.iter().collect();
        items.sort_by(|a, b| b.popularity.total_cmp(&a.popularity).then(a.id.cmp(&b.id)));
        for item in items {
            if let Some(v) = by_artist.get_mut(item.artist.index()) {
                v.push(item.id);
            }
            if let Some(v) = by_genre.get_mut(item.genre().index()) {
                v.push(item.id);
            }
        }
        let mut artist_cluster = vec![None; catalog.artists.len()];
        for c in &catalog.clusters {
            for a in &c.artists {
                if let Some(slot) = artist_cluster.get_mut(a.index()) {
                    *slot = Some(c.id);
                }
            }
        }
        let by_cluster = catalog
            .clusters
            .iter()
            .map(|c| {
                let mut items: Vec<ItemId> = c
                    .artists
                    .iter()
                    .flat_map(|a| by_artist.get(a.index()).into_iter().flatten().copied())
                    .collect();
                items.sort_by(|a, b| {
                    let p = |i: &ItemId| catalog.items[i.index()].popularity;
                    p(b).total_cmp(&p(a)).then(a.cmp(b))
                });
                items
            })
            .collect();
        let cluster_of: Vec<Option<ClusterId>> = catalog
            .items
            .iter()
            .map(|i| artist_cluster.get(i.artist.index()).copied().flatten())
            .collect();
        // Each region's most played items, then the global ones for unknown regions.
        let tops: Vec<&[ItemId]> = (0..catalog.regions.len())
            .map(|r| popularity.top_in(RegionId(r as u16)))
            .chain([popularity.top()])
            .collect();
        let genre_of = |i: ItemId| catalog.item(i).map(|item| item.genre());
        let cluster = |i: ItemId| cluster_of.get(i.index()).copied().flatten();
        ItemIndex {
            by_artist,
            by_genre,
            genres_by_region: tops.iter().map(|top| first_seen(top, genre_of)).collect(),
            clusters_by_region: tops.iter().map(|top| first_seen(top, cluster)).collect(),
            by_cluster,
            cluster_of,
        }
    }
}

/// The keys of `top`'s items, in order of first appearance.
fn first_seen<K: PartialEq>(top: &[ItemId], key: impl Fn(ItemId) -> Option<K>) -> Vec<K> {
    let mut keys: Vec<K> = Vec::new();
    for k in top.iter().filter_map(|&i| key(i)) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// `region`'s row of a table with one row per region and a last one for unknown regions.
fn of_region<K>(table: &[Vec<K>], region: RegionId) -> &[K] {
    &table[region.index().min(table.len() - 1)]
}

/// A shelf's items being gathered from several sources, without repeats.
struct Gather<'s> {
    items: Vec<ItemId>,
    seen: &'s mut ItemSet,
}

impl<'s> Gather<'s> {
    /// Starts a shelf of up to `n` items, reusing `seen` (emptied) for its repeat checks.
    fn new(n: usize, seen: &'s mut ItemSet) -> Self {
        seen.clear();
        Gather {
            items: Vec::with_capacity(n),
            seen,
        }
    }

    /// Adds items from `source`, skipping repeats, until the shelf holds `n`.
    fn fill(&mut self, source: impl IntoIterator<Item = ItemId>, n: usize) {
        for item in source {
            if self.items.len() >= n {
                return;
            }
            if self.seen.insert(item) {
                self.items.push(item);
            }
        }
    }

    /// The items gathered, from `source` alone.
    fn only(
        source: impl IntoIterator<Item = ItemId>,
        n: usize,
        seen: &'s mut ItemSet,
    ) -> Vec<ItemId> {
        let mut g = Gather::new(n, seen);
        g.fill(source, n);
        g.items
    }
}

/// The candidate shelves for `ctx`, in a fixed order: because_you_listened (most recent artist
/// first), your_top_genre, popular_in (the context's region), popular_on (the context's
/// platform, which may differ from the listener's usual one), jump_back_in, discover,
/// discover_cluster (when the catalog has clusters). because_you_listened draws similar
/// artists from the embeddings when there are some, else similar items by co-listening. Every
/// listener, with history or without, gets the popular_in and popular_on shelves. Shelves may
/// hold fewer items than asked; page assembly drops those that are too short.
pub(crate) fn generate(
    config: &CandidateConfig,
    catalog: &Catalog,
    index: &ItemIndex,
    shared: &SharedModels,
    ctx: &Context,
) -> Vec<CandidateShelf> {
    let n = config.items_per_shelf;
    let genre_items = |g: GenreId| {
        index
            .by_genre
            .get(g.index())
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
    };
    let mut shelves = Vec::new();
    let seen = &mut ItemSet::default();

    for &artist in ctx.recent_artists.iter().take(config.recent_artists) {
        let own = index
            .by_artist
            .get(artist.index())
            .map_or(&[][..], Vec::as_slice);
        let mut items = Gather::new(n, seen);
        items.fill(own.iter().copied(), n / 2);
        match &shared.embeddings {
            // The most popular item of each similar artist, most similar first.
            Some(embeddings) => {
                let similar = embeddings.similar(artist).iter();
                items.fill(
                    similar.filter_map(|a| index.by_artist.get(a.index())?.first().copied()),
                    n,
                );
            }
            None => {
                let similar = own
                    .iter()
                    .take(3)
                    .flat_map(|&i| shared.similarity.similar(i).iter().map(|&(j, _)| j));
                items.fill(similar, n);
            }
        }
        if let Some(genre) = catalog.artist(artist).map(|a| a.genres[0]) {
            items.fill(genre_items(genre), n);
        }
        shelves.push(CandidateShelf {
            explanation: Explanation::BecauseYouListened(artist),
            items: items.items,
        });
    }

    let mut top: Vec<GenreId> = shared
        .affinity
        .top_genres(ctx.listener)
        .iter()
        .map(|&(g, _)| g)
        .collect();
    if top.is_empty() {
        top = ctx.recent_genres.clone();
    }
    for &genre in top.iter().take(config.top_genres) {
        shelves.push(CandidateShelf {
            explanation: Explanation::YourTopGenre(genre),
            items: genre_items(genre).take(n).collect(),
        });
    }

    // The genre and popularity lists hold each item once: no repeats to skip.
    let popular = |top: &[ItemId]| top.iter().take(n).copied().collect();
    shelves.push(CandidateShelf {
        explanation: Explanation::PopularIn(ctx.region),
        items: popular(shared.popularity.top_in(ctx.region)),
    });
    shelves.push(CandidateShelf {
        explanation: Explanation::PopularOn(ctx.platform),
        items: popular(shared.popularity.top_on(ctx.platform)),
    });
    shelves.push(CandidateShelf {
        explanation: Explanation::JumpBackIn,
        items: Gather::only(ctx.recent_items.iter().copied(), n, seen),
    });

    // Genres new to the listener, in the order the region's most played items bring them up.
    // A listener with no known genre (cold start) gets the region's broad genres in the
    // places of the top-genre shelves too, so the page is still full and explained.
    let known: BTreeSet<GenreId> = shared
        .affinity
        .top_genres(ctx.listener)
        .iter()
        .map(|&(g, _)| g)
        .chain(ctx.recent_genres.iter().copied())
        .collect();
    let discover = if known.is_empty() {
        config.discover_genres + config.top_genres
    } else {
        config.discover_genres
    };
    let new_genres = of_region(&index.genres_by_region, ctx.region)
        .iter()
        .filter(|g| !known.contains(g))
        .take(discover);
    for &genre in new_genres {
        shelves.push(CandidateShelf {
            explanation: Explanation::Discover(genre),
            items: genre_items(genre).take(n).collect(),
        });
    }

    // Clusters new to the listener (none of their artists played or recent), found the same
    // way as new genres.
    if !index.by_cluster.is_empty() {
        let cluster_of = |i: ItemId| index.cluster_of.get(i.index()).copied().flatten();
        let known: BTreeSet<ClusterId> = shared
            .affinity
            .top_clusters(ctx.listener)
            .iter()
            .map(|&(c, _)| c)
            .chain(ctx.recent_items.iter().filter_map(|&i| cluster_of(i)))
            .collect();
        let new_clusters = of_region(&index.clusters_by_region, ctx.region)
            .iter()
            .filter(|c| !known.contains(c))
            .take(config.discover_clusters);
        for &cluster in new_clusters {
            let items = index.by_cluster.get(cluster.index()).into_iter().flatten();
            shelves.push(CandidateShelf {
                explanation: Explanation::DiscoverCluster(cluster),
                items: Gather::only(items.copied(), n, seen),
            });
        }
    }
    shelves
}
