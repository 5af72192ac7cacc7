//! The binary files of a data directory. Each is one value laid out as
//! `magic (8 bytes) | format version (u32 LE) | payload length (u64 LE) | payload (postcard) |
//! xxh3-64 of the payload (u64 LE)`, so a truncated, corrupt, foreign or outdated file is
//! refused with the reason instead of being misread.

use crate::error::{ModelError, Result};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;
use xxhash_rust::xxh3::xxh3_64;

/// What a file holds and the version of its layout.
pub(crate) struct Kind {
    pub magic: [u8; 8],
    pub version: u32,
}

const HEADER: usize = 8 + 4 + 8;

/// Writes `value` to `path` (through a temporary file, so a reader never sees half of it).
/// Returns the payload's checksum.
pub(crate) fn write<T: Serialize>(path: &Path, kind: &Kind, value: &T) -> Result<u64> {
    let payload = postcard::to_allocvec(value).map_err(|e| ModelError::Format {
        file: path.to_owned(),
        reason: format!("cannot encode: {e}"),
    })?;
    let checksum = xxh3_64(&payload);
    let mut bytes = Vec::with_capacity(HEADER + payload.len() + 8);
    bytes.extend_from_slice(&kind.magic);
    bytes.extend_from_slice(&kind.version.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    let io = |source| ModelError::Io {
        file: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(checksum)
}

/// Reads a value written by [`write`] with the same kind; returns it with its checksum.
pub(crate) fn read<T: DeserializeOwned>(path: &Path, kind: &Kind) -> Result<(T, u64)> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        file: path.to_owned(),
        source,
    })?;
    let bad = |reason: String| ModelError::Format {
        file: path.to_owned(),
        reason,
    };
    if bytes.len() < HEADER || bytes[..8] != kind.magic {
        return Err(bad(format!(
            "not a {} file",
            String::from_utf8_lossy(&kind.magic).trim_end_matches('\0')
        )));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != kind.version {
        return Err(bad(format!(
            "format version {version}, this build reads version {}",
            kind.version
        )));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    if bytes.len() as u64 != HEADER as u64 + len + 8 {
        return Err(bad(format!(
            "truncated or padded: {} bytes, the header says {}",
            bytes.len(),
            HEADER as u64 + len + 8
        )));
    }
    let (payload, tail) = bytes[HEADER..].split_at(len as usize);
    let checksum = xxh3_64(payload);
    if tail != checksum.to_le_bytes() {
        return Err(bad("checksum mismatch: the file is corrupt".into()));
    }
    let value = postcard::from_bytes(payload).map_err(|e| bad(format!("cannot decode: {e}")))?;
    Ok((value, checksum))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind {
        magic: *b"BARTTEST",
        version: 3,
    };

    #[test]
    fn round_trip_and_every_kind_of_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.bin");
        let value = (vec![1u32, 2, 3], "x".to_string());
        let sum = write(&path, &KIND, &value).unwrap();
        assert_eq!(
            read::<(Vec<u32>, String)>(&path, &KIND).unwrap(),
            (value, sum)
        );

        let good = std::fs::read(&path).unwrap();
        let refused = |bytes: &[u8], kind: &Kind| {
            std::fs::write(&path, bytes).unwrap();
            read::<(Vec<u32>, String)>(&path, kind)
                .unwrap_err()
                .to_string()
        };
        let mut flipped = good.clone();
        flipped[HEADER + 1] ^= 1;
        assert!(refused(&flipped, &KIND).contains("checksum"));
        assert!(refused(&good[..good.len() - 1], &KIND).contains("truncated"));
        let other = Kind {
            magic: *b"BARTTEST",
            version: 4,
        };
        assert!(refused(&good, &other).contains("version 3"));
        let foreign = Kind {
            magic: *b"OTHERKND",
            version: 3,
        };
        assert!(refused(&good, &foreign).contains("not a OTHERKND file"));
    }
}
