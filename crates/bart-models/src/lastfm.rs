//! Importer for the HetRec 2011 Last.fm format: `artists.dat`, `tags.dat`, `user_artists.dat`
//! and `user_taggedartists.dat`, tab-separated with a header line. `tags.dat` is ISO-8859-1
//! (decoded byte by byte: Latin-1 maps bytes to code points one to one); the others are
//! UTF-8. Every malformed line is an error naming the file and the line.

use crate::error::{ModelError, Result};
use crate::listening::{Artist, ListeningData};
use crate::sparse::Csr;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The imported data and what was left out.
#[derive(Debug)]
pub struct Import {
    pub data: ListeningData,
    /// Tag assignments to artists that `artists.dat` does not list (HetRec's own data has
    /// 1,538 of them); they are skipped.
    pub skipped_tag_assignments: usize,
}

/// A text file's lines after the header, as `(line number, tab-separated fields)`.
struct Table {
    file: PathBuf,
    rows: Vec<(usize, Vec<String>)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Utf8,
    Latin1,
}

impl Table {
    /// Reads `dir/name`, checks its header is `header` and each line has exactly
    /// `header.len()` fields. Empty lines are skipped.
    fn read(dir: &Path, name: &str, encoding: Encoding, header: &[&str]) -> Result<Self> {
        let file = dir.join(name);
        let bytes = std::fs::read(&file).map_err(|source| ModelError::Io {
            file: file.clone(),
            source,
        })?;
        let line_error = |line: usize, reason: String| ModelError::Line {
            file: file.clone(),
            line,
            reason,
        };
        let mut rows = Vec::new();
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let text = match encoding {
                Encoding::Latin1 => raw.iter().map(|&b| b as char).collect(),
                Encoding::Utf8 => match std::str::from_utf8(raw) {
                    Ok(s) => s.to_owned(),
                    Err(e) => {
                        return Err(line_error(
                            i + 1,
                            format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
                        ));
                    }
                },
            };
            if i == 0 {
                let got: Vec<&str> = text.split('\t').collect();
                if got != header {
                    return Err(line_error(
                        1,
                        format!("expected the header `{}`", header.join("\\t")),
                    ));
                }
                continue;
            }
            if text.is_empty() {
                continue;
            }
            let fields: Vec<String> = text.split('\t').map(str::to_owned).collect();
            if fields.len() != header.len() {
                return Err(line_error(
                    i + 1,
                    format!(
                        "{} tab-separated fields, expected {} ({})",
                        fields.len(),
                        header.len(),
                        header.join(", ")
                    ),
                ));
            }
            rows.push((i + 1, fields));
        }
        Ok(Table { file, rows })
    }

    fn error(&self, line: usize, reason: String) -> ModelError {
        ModelError::Line {
            file: self.file.clone(),
            line,
            reason,
        }
    }

    /// Field `col` (0-based) of a row as a number.
    fn number(&self, line: usize, fields: &[String], col: usize, name: &str) -> Result<u32> {
        fields[col].trim().parse().map_err(|_| {
            self.error(
                line,
                format!(
                    "field {} ({name}): `{}` is not a non-negative integer",
                    col + 1,
                    fields[col]
                ),
            )
        })
    }
}

/// Imports a HetRec 2011 Last.fm directory.
pub fn import(dir: &Path) -> Result<Import> {
    let artists_table = Table::read(
        dir,
        "artists.dat",
        Encoding::Utf8,
        &["id", "name", "url", "pictureURL"],
    )?;
    let mut artist_index = HashMap::new();
    let mut artists = Vec::with_capacity(artists_table.rows.len());
    for (line, f) in &artists_table.rows {
        let id = artists_table.number(*line, f, 0, "id")?;
        if artist_index.insert(id, artists.len() as u32).is_some() {
            return Err(artists_table.error(*line, format!("artist id {id} appears twice")));
        }
        artists.push(Artist {
            id,
            name: f[1].clone(),
        });
    }

    let tags_table = Table::read(dir, "tags.dat", Encoding::Latin1, &["tagID", "tagValue"])?;
    let mut tag_index = HashMap::new();
    let mut tags = Vec::with_capacity(tags_table.rows.len());
    for (line, f) in &tags_table.rows {
        let id = tags_table.number(*line, f, 0, "tagID")?;
        if tag_index.insert(id, tags.len() as u32).is_some() {
            return Err(tags_table.error(*line, format!("tag id {id} appears twice")));
        }
        tags.push(f[1].clone());
    }

    let plays_table = Table::read(
        dir,
        "user_artists.dat",
        Encoding::Utf8,
        &["userID", "artistID", "weight"],
    )?;
    let mut raw = Vec::with_capacity(plays_table.rows.len());
    for (line, f) in &plays_table.rows {
        let user = plays_table.number(*line, f, 0, "userID")?;
        let artist = plays_table.number(*line, f, 1, "artistID")?;
        let weight = plays_table.number(*line, f, 2, "weight")?;
        let &a = artist_index.get(&artist).ok_or_else(|| {
            plays_table.error(*line, format!("artistID {artist} is not in artists.dat"))
        })?;
        raw.push((user, a, weight as f32));
    }
    let mut listeners: Vec<u32> = raw.iter().map(|&(u, _, _)| u).collect();
    listeners.sort_unstable();
    listeners.dedup();
    let listener_index: HashMap<u32, u32> = listeners
        .iter()
        .enumerate()
        .map(|(i, &u)| (u, i as u32))
        .collect();
    let triples = raw
        .into_iter()
        .map(|(u, a, w)| (listener_index[&u], a, w))
        .collect();
    let plays = Csr::from_triples(listeners.len(), artists.len(), triples);

    let tagged = Table::read(
        dir,
        "user_taggedartists.dat",
        Encoding::Utf8,
        &["userID", "artistID", "tagID", "day", "month", "year"],
    )?;
    let mut counts: Vec<HashMap<u32, u32>> = vec![HashMap::new(); artists.len()];
    let mut skipped = 0;
    for (line, f) in &tagged.rows {
        let names = ["userID", "artistID", "tagID", "day", "month", "year"];
        let mut n = [0u32; 6];
        for (col, name) in names.iter().enumerate() {
            n[col] = tagged.number(*line, f, col, name)?;
        }
        let &t = tag_index
            .get(&n[2])
            .ok_or_else(|| tagged.error(*line, format!("tagID {} is not in tags.dat", n[2])))?;
        match artist_index.get(&n[1]) {
            Some(&a) => *counts[a as usize].entry(t).or_default() += 1,
            None => skipped += 1,
        }
    }
    let artist_tags = counts
        .into_iter()
        .map(|c| {
            let mut v: Vec<(u32, u32)> = c.into_iter().collect();
            v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            v
        })
        .collect();

    Ok(Import {
        data: ListeningData {
            source: "hetrec2011-lastfm-2k".into(),
            listeners,
            artists,
            tags,
            artist_tags,
            plays,
        },
        skipped_tag_assignments: skipped,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a small, valid HetRec directory; `tags.dat` holds Latin-1 bytes.
    pub fn write_sample(dir: &Path) {
        let files: [(&str, &[u8]); 4] = [
            (
                "artists.dat",
                "id\tname\turl\tpictureURL\n1\tBjörk\thttp://a\thttp://p\n7\tMúm\thttp://b\t\n"
                    .as_bytes(),
            ),
            ("tags.dat", b"tagID\ttagValue\n3\tfran\xe7ais\n4\tm\xfasica\n"),
            (
                "user_artists.dat",
                b"userID\tartistID\tweight\n2\t1\t100\n2\t7\t5\n9\t7\t40\n",
            ),
            (
                "user_taggedartists.dat",
                b"userID\tartistID\ttagID\tday\tmonth\tyear\n2\t1\t4\t1\t4\t2009\n9\t1\t4\t1\t4\t2009\n2\t1\t3\t1\t4\t2009\n2\t99\t3\t1\t4\t2009\n",
            ),
        ];
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    #[test]
    fn imports_a_sample_with_latin1_tags() {
        let dir = tempfile::tempdir().unwrap();
        write_sample(dir.path());
        let Import {
            data,
            skipped_tag_assignments,
        } = import(dir.path()).unwrap();
        assert_eq!(skipped_tag_assignments, 1);
        assert_eq!(data.listeners, [2, 9]);
        assert_eq!(data.artists[1].name, "Múm");
        assert_eq!(data.tags, ["français", "música"]);
        assert_eq!(data.artist_tags, [vec![(1, 2), (0, 1)], vec![]]);
        assert_eq!(data.plays.row(0), (&[0, 1][..], &[100.0, 5.0][..]));
        assert_eq!(data.plays.row(1), (&[1][..], &[40.0][..]));
    }

    /// Replaces one file of the sample and returns the import error's text.
    fn error_with(name: &str, bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        write_sample(dir.path());
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let e = import(dir.path()).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
        e
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = error_with(
            "user_artists.dat",
            b"userID\tartistID\tweight\n2\t1\t100\n2\t7\n",
        );
        assert!(
            e.ends_with("line 3: 2 tab-separated fields, expected 3 (userID, artistID, weight)"),
            "{e}"
        );
        let e = error_with(
            "user_artists.dat",
            b"userID\tartistID\tweight\n2\t1\tmany\n",
        );
        assert!(
            e.ends_with("line 2: field 3 (weight): `many` is not a non-negative integer"),
            "{e}"
        );
        let e = error_with(
            "artists.dat",
            b"id\tname\turl\tpictureURL\n1\tBj\xf6rk\tu\tp\n",
        );
        assert!(
            e.ends_with("line 2: invalid UTF-8 at byte 5 of the line"),
            "{e}"
        );
        let e = error_with("user_artists.dat", b"userID\tartistID\tweight\n2\t5\t1\n");
        assert!(
            e.ends_with("line 2: artistID 5 is not in artists.dat"),
            "{e}"
        );
        let e = error_with("tags.dat", b"tag\tvalue\n");
        assert!(
            e.ends_with("line 1: expected the header `tagID\\ttagValue`"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        write_sample(dir.path());
        std::fs::remove_file(dir.path().join("tags.dat")).unwrap();
        let e = import(dir.path()).unwrap_err();
        assert!(
            matches!(&e, ModelError::Io { file, .. } if file.ends_with("tags.dat")),
            "{e}"
        );
    }
}
