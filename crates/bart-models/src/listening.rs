//! Imported listening data: listeners, artists, tags and the listener x artist play counts.
//! A data directory keeps it in `listening.bin` (see [`crate::store`] for the layout).

use crate::error::{ModelError, Result};
use crate::sparse::Csr;
use crate::store::{self, Kind};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An artist as the source names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artist {
    /// The source's id (Last.fm's artistID).
    pub id: u32,
    pub name: String,
}

/// Listening data in dense indices: listener `u` and artist `a` are rows and columns of
/// `plays`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListeningData {
    /// Where the data came from, e.g. `hetrec2011-lastfm-2k`.
    pub source: String,
    /// The source's id of each listener (Last.fm's userID), ascending.
    pub listeners: Vec<u32>,
    pub artists: Vec<Artist>,
    pub tags: Vec<String>,
    /// Per artist, `(tag index, times applied)`, most applied first (ties by tag index).
    pub artist_tags: Vec<Vec<(u32, u32)>>,
    /// Listeners x artists, each value a play count.
    pub plays: Csr,
}

const KIND: Kind = Kind {
    magic: *b"BARTLSTN",
    version: 1,
};

impl ListeningData {
    /// The file name inside a data directory.
    pub const FILE: &'static str = "listening.bin";

    /// Writes `dir/listening.bin`, creating `dir` if needed. Returns the data's checksum
    /// (embeddings fitted on it record it).
    pub fn save(&self, dir: &Path) -> Result<u64> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            file: dir.to_owned(),
            source,
        })?;
        store::write(&dir.join(Self::FILE), &KIND, self)
    }

    /// Reads `dir/listening.bin` and its checksum.
    pub fn load(dir: &Path) -> Result<(Self, u64)> {
        let path = dir.join(Self::FILE);
        let (data, sum): (Self, u64) = store::read(&path, &KIND)?;
        let consistent = data.plays.is_consistent()
            && data.plays.rows() == data.listeners.len()
            && data.plays.cols() == data.artists.len()
            && data.artist_tags.len() == data.artists.len()
            && data
                .artist_tags
                .iter()
                .flatten()
                .all(|&(t, _)| (t as usize) < data.tags.len());
        if !consistent {
            return Err(ModelError::Format {
                file: path,
                reason: "inconsistent dimensions".into(),
            });
        }
        Ok((data, sum))
    }

    /// The `n` most applied tags of an artist, most applied first.
    pub fn top_tags(&self, artist: usize, n: usize) -> impl Iterator<Item = &str> {
        self.artist_tags[artist]
            .iter()
            .take(n)
            .map(|&(t, _)| self.tags[t as usize].as_str())
    }

    /// How many listeners played each artist.
    pub fn listeners_per_artist(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.artists.len()];
        for u in 0..self.plays.rows() {
            for &a in self.plays.row(u).0 {
                counts[a as usize] += 1;
            }
        }
        counts
    }

    /// Finds an artist by the source's id (a number), by name (case-insensitive), or by a
    /// part of a name that only one artist's name contains.
    pub fn find_artist(&self, query: &str) -> Result<usize> {
        if let Ok(id) = query.trim().parse::<u32>()
            && let Some(a) = self.artists.iter().position(|a| a.id == id)
        {
            return Ok(a);
        }
        let q = query.trim().to_lowercase();
        if let Some(a) = self.artists.iter().position(|a| a.name.to_lowercase() == q) {
            return Ok(a);
        }
        let matches: Vec<usize> = (0..self.artists.len())
            .filter(|&a| self.artists[a].name.to_lowercase().contains(&q))
            .collect();
        match matches.as_slice() {
            [a] => Ok(*a),
            [] => Err(ModelError::invalid(
                "artist",
                format!("no artist id or name matches `{query}`"),
            )),
            many => {
                let names: Vec<&str> = many
                    .iter()
                    .take(5)
                    .map(|&a| self.artists[a].name.as_str())
                    .collect();
                Err(ModelError::invalid(
                    "artist",
                    format!(
                        "`{query}` matches {} artists ({}{}): give more of the name or the id",
                        many.len(),
                        names.join(", "),
                        if many.len() > 5 { ", ..." } else { "" }
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Three listeners, four artists, two tags.
    pub fn tiny() -> ListeningData {
        let artist = |id: u32, name: &str| Artist {
            id,
            name: name.into(),
        };
        ListeningData {
            source: "test".into(),
            listeners: vec![2, 5, 9],
            artists: vec![
                artist(10, "Radiohead"),
                artist(11, "Portishead"),
                artist(12, "Massive Attack"),
                artist(13, "Björk"),
            ],
            tags: vec!["trip-hop".into(), "électro".into()],
            artist_tags: vec![vec![], vec![(0, 3), (1, 1)], vec![(0, 2)], vec![(1, 1)]],
            plays: Csr::from_triples(
                3,
                4,
                vec![
                    (0, 0, 9.0),
                    (0, 1, 3.0),
                    (1, 1, 1.0),
                    (1, 2, 4.0),
                    (2, 3, 2.0),
                ],
            ),
        }
    }

    #[test]
    fn lookups_and_file_round_trip() {
        let d = tiny();
        assert_eq!(d.find_artist("12").unwrap(), 2);
        assert_eq!(d.find_artist("björk").unwrap(), 3);
        assert_eq!(d.find_artist("massive").unwrap(), 2);
        let many = d.find_artist("head").unwrap_err().to_string();
        assert!(
            many.contains("matches 2 artists (Radiohead, Portishead)"),
            "{many}"
        );
        assert!(d.find_artist("99").is_err());
        assert_eq!(d.listeners_per_artist(), vec![1, 2, 1, 1]);
        assert_eq!(
            d.top_tags(1, 5).collect::<Vec<_>>(),
            ["trip-hop", "électro"]
        );

        let dir = tempfile::tempdir().unwrap();
        let sum = d.save(&dir.path().join("new")).unwrap();
        assert_eq!(
            ListeningData::load(&dir.path().join("new")).unwrap(),
            (d, sum)
        );
    }
}
