//! Streaming evaluation of logs larger than memory: logged cards in a fixed-width binary file,
//! folded into [`Sums`] segment by segment, in parallel, with memory independent of the
//! number of cards.
//!
//! The file is a 16-byte header (`BARTOPE\0`, format version 1 and the record size 48, both
//! u32 little-endian) and then one 48-byte little-endian record per card: its cluster id (u64;
//! a page: the cards of a cluster are consecutive) and, as f64, the target probability, the
//! logging propensity, the reward, the reward model's prediction q̂ and its direct estimate v̂
//! (see [`Card`]). Segments of [`SEGMENT_RECORDS`] records are folded independently (a
//! cluster that crosses a segment's end belongs to the segment where it starts) and merged
//! in file order, so the result does not depend on the number of threads.

use crate::error::OpeError;
use crate::estimate::{Card, Sample, Sums, Tuning};
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The file's first 8 bytes.
pub const MAGIC: [u8; 8] = *b"BARTOPE\0";
/// The format version this module reads and writes.
pub const VERSION: u32 = 1;
/// Bytes per record.
pub const RECORD_BYTES: usize = 48;
const HEADER_BYTES: u64 = 16;
/// Records per independently folded segment.
pub const SEGMENT_RECORDS: u64 = 1 << 20;
/// Records read at a time: each thread holds one block (384 KiB).
const BLOCK_RECORDS: u64 = 8_192;

/// Writes logged cards in the streaming format.
pub struct EventWriter {
    out: BufWriter<File>,
    path: PathBuf,
    records: u64,
}

impl EventWriter {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path) -> Result<Self, OpeError> {
        let file = File::create(path).map_err(|e| io(path, e))?;
        let mut w = EventWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            records: 0,
        };
        let mut header = [0u8; HEADER_BYTES as usize];
        header[..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(RECORD_BYTES as u32).to_le_bytes());
        w.out.write_all(&header).map_err(|e| io(path, e))?;
        Ok(w)
    }

    /// Appends one card of cluster `cluster`.
    pub fn write(&mut self, cluster: u64, card: &Card) -> Result<(), OpeError> {
        let mut r = [0u8; RECORD_BYTES];
        r[..8].copy_from_slice(&cluster.to_le_bytes());
        let values = [
            card.sample.target,
            card.sample.logging,
            card.sample.reward,
            card.predicted,
            card.direct,
        ];
        for (k, v) in values.iter().enumerate() {
            r[8 + 8 * k..16 + 8 * k].copy_from_slice(&v.to_le_bytes());
        }
        self.records += 1;
        self.out.write_all(&r).map_err(|e| io(&self.path, e))
    }

    /// Flushes the file; returns the number of records written.
    pub fn finish(mut self) -> Result<u64, OpeError> {
        self.out.flush().map_err(|e| io(&self.path, e))?;
        Ok(self.records)
    }
}

/// Folds every card of `path` into [`Sums`] (each cluster id run one cluster), segments in
/// parallel. A bad header, a truncated record or an invalid value is an error naming the
/// file (and the record, numbered from 0).
pub fn fold_file(path: &Path, tuning: Tuning) -> Result<Sums, OpeError> {
    tuning.validate()?;
    let file = File::open(path).map_err(|e| io(path, e))?;
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    let bad = |reason: String| OpeError::File {
        file: path.display().to_string(),
        reason,
    };
    let mut header = [0u8; HEADER_BYTES as usize];
    if len < HEADER_BYTES {
        return Err(bad(format!(
            "{len} bytes: too short for the {HEADER_BYTES}-byte header"
        )));
    }
    file.read_exact_at(&mut header, 0)
        .map_err(|e| io(path, e))?;
    if header[..8] != MAGIC {
        return Err(bad("not a bart card-event file (bad magic number)".into()));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
    if version != VERSION || size as usize != RECORD_BYTES {
        return Err(bad(format!(
            "format version {version} with {size}-byte records; this reader knows version \
             {VERSION} with {RECORD_BYTES}-byte records"
        )));
    }
    let body = len - HEADER_BYTES;
    if !body.is_multiple_of(RECORD_BYTES as u64) {
        return Err(bad(format!(
            "truncated: {body} bytes after the header is not a whole number of \
             {RECORD_BYTES}-byte records (record {} is cut short)",
            body / RECORD_BYTES as u64
        )));
    }
    let records = body / RECORD_BYTES as u64;
    let reader = Reader {
        file: &file,
        path,
        records,
    };
    let parts = (0..records.div_ceil(SEGMENT_RECORDS))
        .into_par_iter()
        .map(|k| reader.fold_segment(k * SEGMENT_RECORDS, tuning))
        .collect::<Result<Vec<Sums>, OpeError>>()?;
    let mut sums = Sums::new(tuning);
    for part in parts {
        sums.merge(part);
    }
    Ok(sums)
}

struct Reader<'a> {
    file: &'a File,
    path: &'a Path,
    records: u64,
}

impl Reader<'_> {
    /// Folds the clusters that start in [start, start + SEGMENT_RECORDS), reading past the
    /// end to finish the last one.
    fn fold_segment(&self, start: u64, tuning: Tuning) -> Result<Sums, OpeError> {
        let end = (start + SEGMENT_RECORDS).min(self.records);
        let mut sums = Sums::new(tuning);
        let mut buf = vec![0u8; BLOCK_RECORDS as usize * RECORD_BYTES];
        // The cluster open before `start` belongs to an earlier segment.
        let mut skip = if start > 0 {
            let mut r = [0u8; RECORD_BYTES];
            self.read(start - 1, &mut r)?;
            Some(cluster_of(&r))
        } else {
            None
        };
        let mut current: Option<u64> = None;
        let mut at = start;
        while at < self.records {
            let n = BLOCK_RECORDS.min(self.records - at);
            let block = &mut buf[..n as usize * RECORD_BYTES];
            self.read(at, block)?;
            for (i, r) in block.chunks_exact(RECORD_BYTES).enumerate() {
                let index = at + i as u64;
                let cluster = cluster_of(r);
                if skip == Some(cluster) {
                    continue;
                }
                skip = None;
                if current != Some(cluster) {
                    if index >= end {
                        return Ok(sums);
                    }
                    sums.end_cluster();
                    current = Some(cluster);
                }
                let value = |k: usize| f64::from_le_bytes(r[k..k + 8].try_into().expect("8 bytes"));
                let card = Card {
                    sample: Sample {
                        target: value(8),
                        logging: value(16),
                        reward: value(24),
                    },
                    predicted: value(32),
                    direct: value(40),
                };
                sums.add_numbered(card, index as usize)
                    .map_err(|e| OpeError::File {
                        file: self.path.display().to_string(),
                        reason: format!("record {index}: {e}"),
                    })?;
            }
            if skip.is_some() && at + n >= end {
                // The segment lies inside a cluster that started earlier.
                return Ok(sums);
            }
            at += n;
        }
        Ok(sums)
    }

    fn read(&self, record: u64, into: &mut [u8]) -> Result<(), OpeError> {
        self.file
            .read_exact_at(into, HEADER_BYTES + record * RECORD_BYTES as u64)
            .map_err(|e| io(self.path, e))
    }
}

fn cluster_of(record: &[u8]) -> u64 {
    u64::from_le_bytes(record[..8].try_into().expect("8 bytes"))
}

fn io(path: &Path, e: std::io::Error) -> OpeError {
    OpeError::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::Estimator;

    fn card(i: u64) -> Card {
        Card {
            sample: Sample {
                target: (i % 7) as f64 / 7.0,
                logging: 0.1 + (i % 5) as f64 * 0.2,
                reward: f64::from(u8::from(i.is_multiple_of(3))),
            },
            predicted: (i % 4) as f64 * 0.1,
            direct: (i % 6) as f64 * 0.05,
        }
    }

    /// Clusters of 1 to 9 cards: cluster c has c % 9 + 1.
    fn events() -> Vec<(u64, Card)> {
        let mut out = Vec::new();
        let mut i = 0;
        for c in 0..400u64 {
            for _ in 0..c % 9 + 1 {
                out.push((c, card(i)));
                i += 1;
            }
        }
        out
    }

    fn write(path: &Path, events: &[(u64, Card)]) {
        let mut w = EventWriter::create(path).unwrap();
        for (c, card) in events {
            w.write(*c, card).unwrap();
        }
        assert_eq!(w.finish().unwrap(), events.len() as u64);
    }

    fn in_memory(events: &[(u64, Card)]) -> Sums {
        let mut sums = Sums::new(Tuning::default());
        let mut last = None;
        for (c, card) in events {
            if last != Some(*c) {
                sums.end_cluster();
                last = Some(*c);
            }
            sums.add(*card).unwrap();
        }
        sums.end_cluster();
        sums
    }

    fn assert_same(a: &Sums, b: &Sums) {
        for e in [Estimator::Ips, Estimator::Snips, Estimator::Dr] {
            let (x, y) = (a.estimate(e).unwrap(), b.estimate(e).unwrap());
            assert_eq!((x.clusters, x.samples), (y.clusters, y.samples), "{e:?}");
            // Sums in another order: equal up to rounding, which the one-pass variance
            // (raw second moments) amplifies when a cluster holds a million cards.
            assert!(
                (x.value - y.value).abs() < 1e-10 * y.value.abs(),
                "{e:?} {x:?} {y:?}"
            );
            assert!(
                (x.std_error - y.std_error).abs() < 1e-5 * y.std_error,
                "{e:?} {x:?} {y:?}"
            );
        }
    }

    #[test]
    fn streaming_equals_one_pass_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.bin");
        let events = events();
        write(&path, &events);
        let streamed = fold_file(&path, Tuning::default()).unwrap();
        assert_same(&streamed, &in_memory(&events));
        assert_eq!(streamed.estimate(Estimator::Ips).unwrap().clusters, 400);
    }

    #[test]
    fn clusters_crossing_segments_stay_whole() {
        // Segment boundaries at every 2^20 records: one cluster of 2^20 + 3 cards spans a
        // whole segment and then some, and short clusters straddle the next boundary.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.bin");
        let mut events = vec![(7, card(1))];
        events.extend((0..SEGMENT_RECORDS + 3).map(|i| (8, card(i))));
        events.extend((0..SEGMENT_RECORDS).map(|i| (9 + i / 3, card(i + 5))));
        write(&path, &events);
        let streamed = fold_file(&path, Tuning::default()).unwrap();
        let expect = in_memory(&events);
        assert_same(&streamed, &expect);
        let clusters = 2 + SEGMENT_RECORDS.div_ceil(3);
        assert_eq!(
            streamed.estimate(Estimator::Ips).unwrap().clusters,
            clusters
        );
    }

    #[test]
    fn bad_files_are_errors_that_name_the_file_and_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.bin");
        let mut events = events();
        events[37].1.sample.logging = 0.0;
        write(&path, &events);
        let err = fold_file(&path, Tuning::default()).unwrap_err().to_string();
        assert!(
            err.contains("events.bin: record 37: invalid logging propensity 0 in sample 37"),
            "{err}"
        );
        write(&path, &events[..3]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = fold_file(&path, Tuning::default()).unwrap_err().to_string();
        assert!(
            err.contains("truncated") && err.contains("record 2 is cut short"),
            "{err}"
        );
        std::fs::write(&path, b"id,target,logging\n1,0.5,0.5\n").unwrap();
        let err = fold_file(&path, Tuning::default()).unwrap_err().to_string();
        assert!(err.contains("bad magic number"), "{err}");
        let err = fold_file(&dir.path().join("missing.bin"), Tuning::default()).unwrap_err();
        assert!(err.to_string().contains("missing.bin"), "{err}");
    }
}
