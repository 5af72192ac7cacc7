//! Fitted shared models of imported listening data, kept in a data directory as
//! `embeddings.bin` (see [`crate::store`] for the layout): the ALS factors, the k-means
//! clusters of the artists and their names.

use crate::als::{self, AlsConfig, Factors};
use crate::error::{ModelError, Result};
use crate::kmeans::{KMeans, kmeans, name_by_tags, unit_rows};
use crate::listening::ListeningData;
use crate::store::{self, Kind};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything `bart embed` fits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embeddings {
    /// The checksum of the `listening.bin` these were fitted on.
    pub data_checksum: u64,
    pub als: AlsConfig,
    pub factors: Factors,
    /// Artists clustered by cosine over their factors.
    pub clusters: KMeans,
    /// Each cluster's name from its artists' tags.
    pub cluster_names: Vec<String>,
}

/// The settings of [`Embeddings::fit`] beyond ALS's.
#[derive(Clone, Copy, Debug)]
pub struct ClusterConfig {
    pub k: usize,
    pub max_iterations: usize,
    /// Tags per cluster name.
    pub tags_per_name: usize,
    pub seed: u64,
}

const KIND: Kind = Kind {
    magic: *b"BARTEMBD",
    version: 1,
};

impl Embeddings {
    /// The file name inside a data directory.
    pub const FILE: &'static str = "embeddings.bin";

    /// Fits ALS on all of `data`'s plays, then clusters and names the artists.
    /// `on_iteration` runs after each ALS iteration.
    pub fn fit(
        data: &ListeningData,
        data_checksum: u64,
        als: &AlsConfig,
        clusters: &ClusterConfig,
        on_iteration: impl FnMut(usize, &Factors),
    ) -> Result<Self> {
        let factors = als::fit(&data.plays, als, on_iteration)?;
        let unit = unit_rows(&factors.item_vectors(), factors.rank);
        let k = clusters.k.min(data.artists.len());
        let clustering = kmeans(
            &unit,
            factors.rank,
            k,
            clusters.max_iterations,
            clusters.seed,
        )?;
        let cluster_names = name_by_tags(
            &clustering,
            &data.artist_tags,
            &data.tags,
            clusters.tags_per_name,
        );
        Ok(Embeddings {
            data_checksum,
            als: *als,
            factors,
            clusters: clustering,
            cluster_names,
        })
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        store::write(&dir.join(Self::FILE), &KIND, self).map(|_| ())
    }

    /// Reads `dir/embeddings.bin`, or `None` if there is none. Refuses embeddings fitted on
    /// other listening data than the one with `data_checksum`.
    pub fn load(dir: &Path, data_checksum: u64) -> Result<Option<Self>> {
        let path = dir.join(Self::FILE);
        if !path.exists() {
            return Ok(None);
        }
        let (e, _): (Self, u64) = store::read(&path, &KIND)?;
        if e.data_checksum != data_checksum {
            return Err(ModelError::Format {
                file: path,
                reason: format!(
                    "fitted on other listening data than {} (run `bart embed` again)",
                    ListeningData::FILE
                ),
            });
        }
        Ok(Some(e))
    }
}
