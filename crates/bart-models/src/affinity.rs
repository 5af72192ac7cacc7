//! Listener-artist, listener-genre and listener-cluster affinity: each listener's share of
//! plays, optionally with older plays counting less (exponential decay with a half-life);
//! and, when embeddings were fitted, the listener's predicted preference for an artist.

use crate::artist_embeddings::ArtistEmbeddings;
use crate::error::{ModelError, Result};
use bart_core::{ArtistId, Catalog, ClusterId, GenreId, Histories, ListenerId, Play};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Per-listener affinities, each list sorted by descending share (ties by id) and summing to 1
/// (empty for listeners without history).
#[derive(Clone, Debug, Default)]
pub struct Affinity {
    artists: Vec<Vec<(ArtistId, f32)>>,
    genres: Vec<Vec<(GenreId, f32)>>,
    /// Shares of the catalog's clusters (empty lists when it has none).
    clusters: Vec<Vec<(ClusterId, f32)>>,
    embeddings: Option<Arc<ArtistEmbeddings>>,
}

impl Affinity {
    /// Counts each listener's plays per artist and per main genre of the item played.
    /// Plays of items that are not in the catalog are ignored.
    pub fn from_history(catalog: &Catalog, histories: &Histories) -> Self {
        Self::weighted(catalog, histories, |_| 1.0)
    }

    /// Like [`Affinity::from_history`], but a play `age` seconds before `now` counts
    /// `2^(-age / half_life_secs)` (plays after `now` count 1): the shares are
    /// `Σ_plays of a 2^(-age/h) / Σ_all plays 2^(-age/h)`.
    pub fn from_history_decayed(
        catalog: &Catalog,
        histories: &Histories,
        now: u64,
        half_life_secs: f64,
    ) -> Result<Self> {
        if !(half_life_secs.is_finite() && half_life_secs > 0.0) {
            return Err(ModelError::invalid(
                "half_life",
                format!("{half_life_secs} s (must be positive)"),
            ));
        }
        Ok(Self::weighted(catalog, histories, |p| {
            let age = now.saturating_sub(p.timestamp) as f64;
            (-age / half_life_secs).exp2()
        }))
    }

    fn weighted(catalog: &Catalog, histories: &Histories, weight: impl Fn(&Play) -> f64) -> Self {
        let members = || {
            catalog
                .clusters
                .iter()
                .flat_map(|c| c.artists.iter().map(|&a| (a, c.id)))
        };
        let mut cluster_of = vec![None; members().map(|(a, _)| a.index() + 1).max().unwrap_or(0)];
        for (a, c) in members() {
            cluster_of[a.index()] = Some(c);
        }
        let mut artists = Vec::with_capacity(histories.len());
        let mut genres = Vec::with_capacity(histories.len());
        let mut clusters = Vec::with_capacity(histories.len());
        for plays in histories {
            let mut by_artist: BTreeMap<ArtistId, f64> = BTreeMap::new();
            let mut by_genre: BTreeMap<GenreId, f64> = BTreeMap::new();
            let mut by_cluster: BTreeMap<ClusterId, f64> = BTreeMap::new();
            for (play, item) in plays
                .iter()
                .filter_map(|p| catalog.item(p.item).map(|i| (p, i)))
            {
                let w = weight(play);
                *by_artist.entry(item.artist).or_default() += w;
                *by_genre.entry(item.genre()).or_default() += w;
                if let Some(&Some(c)) = cluster_of.get(item.artist.index()) {
                    *by_cluster.entry(c).or_default() += w;
                }
            }
            artists.push(shares(by_artist));
            genres.push(shares(by_genre));
            clusters.push(shares(by_cluster));
        }
        Affinity {
            artists,
            genres,
            clusters,
            embeddings: None,
        }
    }

    /// The same affinities with the listeners' predicted preferences from `embeddings`.
    pub fn with_embeddings(self, embeddings: Arc<ArtistEmbeddings>) -> Self {
        Affinity {
            embeddings: Some(embeddings),
            ..self
        }
    }

    /// The listener's artists, most played first.
    pub fn top_artists(&self, listener: ListenerId) -> &[(ArtistId, f32)] {
        self.artists
            .get(listener.index())
            .map_or(&[], Vec::as_slice)
    }

    /// The listener's genres, most played first.
    pub fn top_genres(&self, listener: ListenerId) -> &[(GenreId, f32)] {
        self.genres.get(listener.index()).map_or(&[], Vec::as_slice)
    }

    /// The listener's share of plays of this artist (0 if never played).
    pub fn artist(&self, listener: ListenerId, artist: ArtistId) -> f32 {
        lookup(self.top_artists(listener), artist)
    }

    /// The listener's share of plays of this genre (0 if never played).
    pub fn genre(&self, listener: ListenerId, genre: GenreId) -> f32 {
        lookup(self.top_genres(listener), genre)
    }

    /// The listener's clusters, most played first (empty without clusters in the catalog).
    pub fn top_clusters(&self, listener: ListenerId) -> &[(ClusterId, f32)] {
        self.clusters
            .get(listener.index())
            .map_or(&[], Vec::as_slice)
    }

    /// The listener's share of plays of this cluster's artists (0 if never played).
    pub fn cluster(&self, listener: ListenerId, cluster: ClusterId) -> f32 {
        lookup(self.top_clusters(listener), cluster)
    }

    /// The embeddings the preferences come from, if any.
    pub fn embeddings(&self) -> Option<&Arc<ArtistEmbeddings>> {
        self.embeddings.as_ref()
    }

    /// The listener's predicted preference for the artist, the dot product of their
    /// embeddings (0 without embeddings, or for a listener or artist they do not hold).
    pub fn preference(&self, listener: ListenerId, artist: ArtistId) -> f32 {
        self.embeddings
            .as_ref()
            .map_or(0.0, |e| e.preference(listener, artist))
    }
}

fn shares<K: Copy + Ord>(weights: BTreeMap<K, f64>) -> Vec<(K, f32)> {
    let total: f64 = weights.values().sum();
    let mut v: Vec<(K, f32)> = weights
        .into_iter()
        .filter(|&(_, w)| w > 0.0)
        .map(|(k, w)| (k, (w / total) as f32))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn lookup<K: PartialEq>(list: &[(K, f32)], key: K) -> f32 {
    list.iter()
        .find(|(k, _)| *k == key)
        .map_or(0.0, |(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::tiny_world;

    #[test]
    fn shares_are_exact_and_sorted() {
        let (catalog, _, histories) = tiny_world();
        let a = Affinity::from_history(&catalog, &histories);
        // Listener 0 played items 0, 0, 1, 2: artists 0, 0, 0, 1 and genres 0, 0, 0, 1.
        assert_eq!(
            a.top_artists(ListenerId(0)),
            &[(ArtistId(0), 0.75), (ArtistId(1), 0.25)]
        );
        assert_eq!(a.genre(ListenerId(0), GenreId(1)), 0.25);
        assert_eq!(a.genre(ListenerId(0), GenreId(7)), 0.0);
        assert!(a.top_genres(ListenerId(99)).is_empty());
        assert!(a.top_clusters(ListenerId(0)).is_empty(), "no clusters");
        assert_eq!(
            a.preference(ListenerId(0), ArtistId(0)),
            0.0,
            "no embeddings"
        );
    }

    #[test]
    fn cluster_shares_count_the_plays_of_member_artists() {
        let (mut catalog, _, histories) = tiny_world();
        // Artist 1 alone in cluster 0; artist 0 in no cluster.
        catalog.clusters = vec![bart_core::Cluster {
            id: ClusterId(0),
            name: "c".into(),
            artists: vec![ArtistId(1)],
        }];
        let a = Affinity::from_history(&catalog, &histories);
        // Only clustered plays count: listener 0's one play of artist 1 is all of them.
        assert_eq!(a.top_clusters(ListenerId(0)), &[(ClusterId(0), 1.0)]);
        assert_eq!(a.cluster(ListenerId(1), ClusterId(0)), 1.0);
        assert_eq!(a.cluster(ListenerId(1), ClusterId(1)), 0.0);
        let factors = crate::als::Factors {
            rank: 1,
            users: vec![2.0, -1.0],
            items: vec![0.5, 3.0],
        };
        let e = Arc::new(ArtistEmbeddings::new(&factors, 1).unwrap());
        let a = a.with_embeddings(e);
        assert_eq!(a.preference(ListenerId(0), ArtistId(1)), 6.0);
        assert_eq!(a.preference(ListenerId(1), ArtistId(0)), -0.5);
    }

    #[test]
    fn decayed_shares_equal_the_closed_form() {
        let (catalog, _, _) = tiny_world();
        let day = 86_400u64;
        let days = 30u64;
        // Listener 0 plays item 0 (artist 0, genre 0) once a day for 30 days, days 0-29,
        // and item 2 (artist 1, genre 1) once, on day 29. "Now" is day 29, half-life 7 days.
        let mut plays: Vec<Play> = (0..days)
            .map(|d| Play {
                item: bart_core::ItemId(0),
                timestamp: d * day,
            })
            .collect();
        plays.push(Play {
            item: bart_core::ItemId(2),
            timestamp: 29 * day,
        });
        let histories = vec![plays];
        let a = Affinity::from_history_decayed(&catalog, &histories, 29 * day, 7.0 * day as f64)
            .unwrap();
        // Artist 0's weight is the geometric series Σ_{j=0}^{29} r^j = (1 - r^30) / (1 - r)
        // with r = 2^(-1/7); artist 1's is 1.
        let r = 2f64.powf(-1.0 / 7.0);
        let w0 = (1.0 - r.powi(30)) / (1.0 - r);
        let share1 = 1.0 / (1.0 + w0);
        assert!((a.artist(ListenerId(0), ArtistId(1)) as f64 - share1).abs() < 1e-6);
        assert!((a.artist(ListenerId(0), ArtistId(0)) as f64 - (1.0 - share1)).abs() < 1e-6);
        assert!((a.genre(ListenerId(0), GenreId(1)) as f64 - share1).abs() < 1e-6);
        // Undecayed, the same listener's artist 1 share is 1/31.
        let flat = Affinity::from_history(&catalog, &histories);
        assert!((flat.artist(ListenerId(0), ArtistId(1)) as f64 - 1.0 / 31.0).abs() < 1e-7);
        // A huge half-life is no decay; a zero one is refused.
        let slow = Affinity::from_history_decayed(&catalog, &histories, 29 * day, 1e15).unwrap();
        assert!((slow.artist(ListenerId(0), ArtistId(1)) - 1.0 / 31.0).abs() < 1e-6);
        assert!(Affinity::from_history_decayed(&catalog, &histories, 0, 0.0).is_err());
    }
}
