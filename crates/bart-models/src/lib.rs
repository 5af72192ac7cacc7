//! Shared models built from listening history, used by every shelf generator and by the
//! reward model: listener affinities (optionally time-decayed), item co-listening similarity,
//! popularity per region and per platform; and, from imported listening data (Last.fm),
//! implicit-feedback ALS embeddings, similar items (exact or HNSW), k-means clusters named by
//! tags, and the hold-out split and ranking metrics that measure them.

pub mod affinity;
pub mod als;
pub mod artist_embeddings;
pub mod embeddings;
pub mod error;
pub mod kmeans;
pub mod knn;
pub mod lastfm;
mod linalg;
pub mod listening;
pub mod metrics;
pub mod popularity;
pub mod similarity;
pub mod sparse;
pub mod split;
mod store;

pub use affinity::Affinity;
pub use artist_embeddings::ArtistEmbeddings;
pub use error::{ModelError, Result};
pub use linalg::dot_f32;
pub use popularity::Popularity;
pub use similarity::Similarity;

use bart_core::{Catalog, Histories, Listener};
use std::sync::Arc;

/// All shared models, built together from one catalog and history.
#[derive(Clone, Debug)]
pub struct SharedModels {
    pub affinity: Affinity,
    pub similarity: Similarity,
    pub popularity: Popularity,
    /// Listener and artist embeddings, when they were fitted on the history (the affinity
    /// holds them too, for its preferences).
    pub embeddings: Option<Arc<ArtistEmbeddings>>,
}

impl SharedModels {
    /// Builds every shared model. `neighbours` is how many similar items to keep per item.
    pub fn build(
        catalog: &Catalog,
        listeners: &[Listener],
        histories: &Histories,
        neighbours: usize,
    ) -> Self {
        SharedModels {
            affinity: Affinity::from_history(catalog, histories),
            similarity: Similarity::from_history(catalog.items.len(), histories, neighbours),
            popularity: Popularity::from_history(catalog, listeners, histories),
            embeddings: None,
        }
    }

    /// The same models with embeddings: similar artists for the shelves, preferences for
    /// the reward model.
    pub fn with_embeddings(self, embeddings: ArtistEmbeddings) -> Self {
        let embeddings = Arc::new(embeddings);
        SharedModels {
            affinity: self.affinity.with_embeddings(Arc::clone(&embeddings)),
            embeddings: Some(embeddings),
            ..self
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use bart_core::*;

    /// Two listeners, five items by two artists: listener 0 played 0, 0, 1, 2; listener 1
    /// played 0, 2, 3. Item 4 was never played.
    pub fn tiny_world() -> (Catalog, Vec<Listener>, Histories) {
        let item = |id: u32, artist: u32, genre: u16| Item {
            id: ItemId(id),
            kind: ItemKind::Track,
            title: format!("t{id}"),
            artist: ArtistId(artist),
            genres: vec![GenreId(genre)],
            popularity: 0.1 * id as f64,
            release_day: 0,
        };
        let catalog = Catalog {
            genres: vec![],
            regions: vec![
                Region {
                    id: RegionId(0),
                    name: "A".into(),
                },
                Region {
                    id: RegionId(1),
                    name: "B".into(),
                },
            ],
            artists: vec![],
            items: vec![
                item(0, 0, 0),
                item(1, 0, 0),
                item(2, 1, 1),
                item(3, 1, 1),
                item(4, 1, 1),
            ],
            clusters: vec![],
        };
        let listener = |id: u32| Listener {
            id: ListenerId(id),
            region: RegionId(id as u16),
            platform: Platform::Mobile,
            age_group: AgeGroup::Under25,
        };
        let plays = |items: &[u32]| {
            items
                .iter()
                .enumerate()
                .map(|(t, &i)| Play {
                    item: ItemId(i),
                    timestamp: t as u64,
                })
                .collect::<Vec<_>>()
        };
        (
            catalog,
            vec![listener(0), listener(1)],
            vec![plays(&[0, 0, 1, 2]), plays(&[0, 2, 3])],
        )
    }
}
