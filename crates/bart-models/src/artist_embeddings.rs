//! ALS factors in serving form: a listener's preference for an artist (the dot product of
//! their factors, a reward-model feature) and each artist's most similar artists (for
//! "Because you listened to" shelves), found by exact cosine through the one similar-items
//! index and remembered per artist on first use. Search is exact, never HNSW, so the same
//! factors always give the same lists and a logged page can be rebuilt from its log.

use crate::als::Factors;
use crate::error::Result;
use crate::knn::{IndexKind, VectorIndex};
use crate::linalg::dot_f32;
use bart_core::{ArtistId, ListenerId};
use std::fmt;
use std::sync::OnceLock;

/// Listener and artist factors (`f32` rows, listener and artist ids equal row indices) and
/// the similar artists of each artist.
pub struct ArtistEmbeddings {
    rank: usize,
    listeners: Vec<f32>,
    artists: Vec<f32>,
    index: VectorIndex,
    neighbours: usize,
    similar: Vec<OnceLock<Box<[ArtistId]>>>,
}

impl fmt::Debug for ArtistEmbeddings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtistEmbeddings")
            .field("rank", &self.rank)
            .field("listeners", &(self.listeners.len() / self.rank))
            .field("artists", &(self.artists.len() / self.rank))
            .field("neighbours", &self.neighbours)
            .finish()
    }
}

impl ArtistEmbeddings {
    /// Serves `factors` (users are listeners, items are artists), keeping `neighbours`
    /// similar artists per artist.
    pub fn new(factors: &Factors, neighbours: usize) -> Result<Self> {
        let artists = factors.item_vectors();
        let index = VectorIndex::build(&artists, factors.rank, IndexKind::Exact, |_| {})?;
        Ok(ArtistEmbeddings {
            rank: factors.rank,
            listeners: factors.users.iter().map(|&v| v as f32).collect(),
            similar: (0..factors.item_count()).map(|_| OnceLock::new()).collect(),
            artists,
            index,
            neighbours,
        })
    }

    /// The rank of the factors.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The listener's factors, if the listener was fitted.
    pub fn listener(&self, listener: ListenerId) -> Option<&[f32]> {
        row(&self.listeners, self.rank, listener.index())
    }

    /// The artist's factors, if the artist was fitted.
    pub fn artist(&self, artist: ArtistId) -> Option<&[f32]> {
        row(&self.artists, self.rank, artist.index())
    }

    /// The predicted preference `x_u · y_a` of the listener for the artist (0 when either
    /// was not fitted).
    pub fn preference(&self, listener: ListenerId, artist: ArtistId) -> f32 {
        match (self.listener(listener), self.artist(artist)) {
            (Some(x), Some(y)) => dot_f32(x, y),
            _ => 0.0,
        }
    }

    /// The artist's most similar artists by cosine, most similar first (ties by id), itself
    /// excluded; empty for an artist that was not fitted.
    pub fn similar(&self, artist: ArtistId) -> &[ArtistId] {
        let Some(cell) = self.similar.get(artist.index()) else {
            return &[];
        };
        cell.get_or_init(|| {
            self.index
                .similar(artist.index(), self.neighbours)
                .into_iter()
                .map(|n| ArtistId(n.id))
                .collect()
        })
    }
}

fn row(rows: &[f32], rank: usize, i: usize) -> Option<&[f32]> {
    rows.get(i * rank..(i + 1) * rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two listeners and four artists in two dimensions.
    fn factors() -> Factors {
        Factors {
            rank: 2,
            users: vec![1.0, 0.0, 0.5, 2.0],
            items: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, -1.0, 0.2],
        }
    }

    #[test]
    fn preferences_are_dot_products_and_similar_artists_go_by_cosine() {
        let e = ArtistEmbeddings::new(&factors(), 2).unwrap();
        assert_eq!(
            e.preference(ListenerId(1), ArtistId(1)),
            0.5 * 0.9 + 2.0 * 0.1
        );
        assert_eq!(e.preference(ListenerId(0), ArtistId(3)), -1.0);
        assert_eq!(e.preference(ListenerId(2), ArtistId(0)), 0.0);
        assert_eq!(e.preference(ListenerId(0), ArtistId(4)), 0.0);
        // Cosines from artist 0: 0.994 (artist 1), 0 (artist 2), -0.981 (artist 3).
        assert_eq!(e.similar(ArtistId(0)), [ArtistId(1), ArtistId(2)]);
        // From artist 2: 0.110 (1), 0 (0), 0.196 (3).
        assert_eq!(e.similar(ArtistId(2)), [ArtistId(3), ArtistId(1)]);
        assert_eq!(
            e.similar(ArtistId(2)),
            [ArtistId(3), ArtistId(1)],
            "remembered"
        );
        assert!(e.similar(ArtistId(9)).is_empty());
    }
}
