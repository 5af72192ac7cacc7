//! Listener-artist and listener-genre affinity: each listener's share of plays.

use bart_core::{ArtistId, Catalog, GenreId, Histories, ListenerId};
use std::collections::BTreeMap;

/// Per-listener affinities, each list sorted by descending share (ties by id) and summing to 1
/// (empty for listeners without history).
#[derive(Clone, Debug, Default)]
pub struct Affinity {
    artists: Vec<Vec<(ArtistId, f32)>>,
    genres: Vec<Vec<(GenreId, f32)>>,
}

impl Affinity {
    /// Counts each listener's plays per artist and per main genre of the item played.
    /// Plays of items that are not in the catalog are ignored.
    pub fn from_history(catalog: &Catalog, histories: &Histories) -> Self {
        let mut artists = Vec::with_capacity(histories.len());
        let mut genres = Vec::with_capacity(histories.len());
        for plays in histories {
            let mut by_artist: BTreeMap<ArtistId, u32> = BTreeMap::new();
            let mut by_genre: BTreeMap<GenreId, u32> = BTreeMap::new();
            for item in plays.iter().filter_map(|p| catalog.item(p.item)) {
                *by_artist.entry(item.artist).or_default() += 1;
                *by_genre.entry(item.genre()).or_default() += 1;
            }
            artists.push(shares(by_artist));
            genres.push(shares(by_genre));
        }
        Affinity { artists, genres }
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
}

fn shares<K: Copy + Ord>(counts: BTreeMap<K, u32>) -> Vec<(K, f32)> {
    let total: u32 = counts.values().sum();
    let mut v: Vec<(K, f32)> = counts
        .into_iter()
        .map(|(k, c)| (k, c as f32 / total as f32))
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
    }
}
