//! The SQLite event store (schema v2) and the reward join.
//!
//! Layout: `impressions` holds one row per served page (context and page postcard-encoded,
//! the policy's exploration as JSON text such as `{"policy":"softmax","temperature":0.1}`),
//! `feedback` one row per listener action. SQLite integers are `i64`, so every `u64` (ids,
//! seeds, timestamps) is stored bit-cast with `as i64` and read back with `as u64`: lossless,
//! but values of 2^63 and above are stored negative. Time filters therefore assume timestamps
//! below 2^63 seconds, which every real Unix time is.
//!
//! The blobs follow the field order of bart-core's `Context` and `Card` (through their serde
//! derives) and of the private records below; a change to any of them changes the format and
//! must bump [`SCHEMA_VERSION`] (the `stored_layout_is_pinned` test catches it).

use crate::error::{LogError, Result};
use bart_core::{
    ArtistId, Card, ClusterId, Explanation, Feedback, GenreId, Impression, ImpressionId, ItemId,
    Page, Platform, RegionId, Shelf,
};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, Row, params, params_from_iter};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Name of the store's file inside its data directory.
pub const FILE_NAME: &str = "events.db";

/// Schema version, kept in `PRAGMA user_version`. Bump it when the tables or the blob encoding
/// change.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE impressions (
    id INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    listener INTEGER NOT NULL,
    policy TEXT NOT NULL,
    exploration TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    context BLOB NOT NULL,
    page BLOB NOT NULL
);
CREATE INDEX impressions_by_policy_time ON impressions (policy, timestamp);
CREATE INDEX impressions_by_time ON impressions (timestamp);
CREATE TABLE feedback (
    impression INTEGER NOT NULL,
    row INTEGER NOT NULL,
    column INTEGER NOT NULL,
    item INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    played_ms INTEGER NOT NULL
);
CREATE INDEX feedback_by_impression ON feedback (impression);
";

/// The impression columns every read selects, in the order `decode_impression` expects.
const SELECT_IMPRESSIONS: &str = "SELECT id, timestamp, policy, exploration, model_version, seed, context, page FROM impressions";
const SELECT_FEEDBACK: &str =
    "SELECT impression, row, column, item, timestamp, played_ms FROM feedback";

/// An append-only log of impressions and feedback in one SQLite file.
#[derive(Debug)]
pub struct EventStore {
    conn: Connection,
    path: PathBuf,
}

/// Which impressions to join and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinQuery {
    /// Only impressions of this policy, or all when `None`.
    pub policy: Option<String>,
    /// Only impressions with `timestamp >= from`.
    pub from: Option<u64>,
    /// Only impressions with `timestamp < until`.
    pub until: Option<u64>,
    /// Reward window in seconds: feedback counts if it arrives within this long after the
    /// impression (inclusive).
    pub window_secs: u64,
}

/// An impression with one reward per card: `rewards[shelf index][card index]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedPage {
    /// The impression as logged.
    pub impression: Impression,
    /// The reward of each card, shaped like `impression.page.shelves[s].cards[c]`.
    pub rewards: Vec<Vec<f64>>,
}

impl LoggedPage {
    /// The impression with the reward of each card from `feedback` (which may hold unrelated
    /// records), by [`card_reward`].
    pub fn joined(impression: Impression, feedback: &[Feedback], window_secs: u64) -> Self {
        let rewards = impression
            .page
            .shelves
            .iter()
            .map(|shelf| {
                shelf
                    .cards
                    .iter()
                    .map(|card| {
                        card_reward(
                            &impression,
                            (shelf.row, card.column),
                            card.item,
                            window_secs,
                            feedback,
                        )
                    })
                    .collect()
            })
            .collect();
        LoggedPage {
            impression,
            rewards,
        }
    }
}

/// The one reward definition. A card's reward is 1.0 if at least one feedback record has the
/// impression's id and the card's slot (row, column) and item, is a stream (`played_ms >=
/// bart_core::STREAM_THRESHOLD_MS`), and arrived at `t` with
/// `impression.timestamp <= t <= impression.timestamp + window_secs`; otherwise 0.0, which is
/// also the default reward when no feedback arrived. `feedback` may hold unrelated records.
pub fn card_reward(
    impression: &Impression,
    (row, column): (u16, u16),
    item: ItemId,
    window_secs: u64,
    feedback: &[Feedback],
) -> f64 {
    let window = impression.timestamp..=impression.timestamp.saturating_add(window_secs);
    let streamed = feedback.iter().any(|f| {
        f.impression == impression.id
            && (f.row, f.column) == (row, column)
            && f.item == item
            && f.is_stream()
            && window.contains(&f.timestamp)
    });
    if streamed { 1.0 } else { 0.0 }
}

impl EventStore {
    /// Creates the directory if needed and opens or creates `dir/events.db` with the schema.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| LogError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| sqlite(&path, e))?;
        Self::init(conn, path, true)
    }

    /// Opens an existing store; never creates anything. A missing directory or file gives
    /// [`LogError::Missing`]; a file that is not SQLite or lacks the schema gives
    /// [`LogError::Corrupt`].
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(LogError::Missing {
                path: dir.to_owned(),
                what: "data directory".into(),
            });
        }
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Err(LogError::Missing {
                path,
                what: "event store".into(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| sqlite(&path, e))?;
        Self::init(conn, path, false)
    }

    /// A store in memory, for tests. Its path shows as `:memory:`.
    pub fn in_memory() -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| sqlite(&path, e))?;
        Self::init(conn, path, true)
    }

    /// Checks the file before writing anything to it, adds the schema to an empty database
    /// when `create` is set, then switches to WAL.
    fn init(mut conn: Connection, path: PathBuf, create: bool) -> Result<Self> {
        let err = |e| sqlite(&path, e);
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        let mut version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| match e.sqlite_error_code() {
                Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => LogError::Corrupt {
                    path: path.clone(),
                    reason: format!("not an SQLite database ({e})"),
                },
                _ => sqlite(&path, e),
            })?;
        if create && version == 0 {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(err)?;
            if tables == 0 {
                // Rows are ~1 KB blobs written in bulk: large pages halve the write time.
                conn.pragma_update(None, "page_size", 65_536).map_err(err)?;
                let tx = conn.transaction().map_err(err)?;
                tx.execute_batch(SCHEMA).map_err(err)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(err)?;
                tx.commit().map_err(err)?;
                version = SCHEMA_VERSION;
            }
        }
        let corrupt = |reason: String| LogError::Corrupt {
            path: path.clone(),
            reason,
        };
        match version {
            SCHEMA_VERSION => {}
            0 => return Err(corrupt("no bart schema (user_version 0)".into())),
            v if v < SCHEMA_VERSION => {
                return Err(corrupt(format!(
                    "schema version {v} was written by an older bart; this build reads version \
                     {SCHEMA_VERSION} (run `bart demo` into a new directory)"
                )));
            }
            v => {
                return Err(corrupt(format!(
                    "schema version {v}, this build reads version {SCHEMA_VERSION}"
                )));
            }
        }
        for sql in [SELECT_IMPRESSIONS, SELECT_FEEDBACK] {
            conn.prepare(&format!("{sql} LIMIT 0"))
                .map_err(|e| corrupt(format!("unexpected tables: {e}")))?;
        }
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // A 64 MiB page cache holds a whole 5,000-page batch, so SQLite does not spill
        // mid-transaction.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(err)?;
        Ok(EventStore { conn, path })
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends impressions in one transaction: all or nothing. An id that is already stored
    /// (or repeated within the batch) gives [`LogError::DuplicateImpression`].
    pub fn append_impressions(&mut self, impressions: &[Impression]) -> Result<()> {
        let path = &self.path;
        let err = |e| sqlite(path, e);
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO impressions (id, timestamp, listener, policy, exploration, \
                     model_version, seed, context, page) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            let (mut context, mut page) = (Vec::new(), Vec::new());
            for imp in impressions {
                let bad = |reason: String| LogError::Encode {
                    path: path.clone(),
                    impression: imp.id.0,
                    reason,
                };
                encode(&imp.context, &mut context)
                    .and_then(|()| encode(&PageRecord::from(&imp.page), &mut page))
                    .map_err(|e| bad(e.to_string()))?;
                // JSON has no NaN or infinity: serde_json writes them as null, which would
                // never read back.
                let exploration =
                    serde_json::to_string(&imp.exploration).map_err(|e| bad(e.to_string()))?;
                if exploration.contains("null") {
                    return Err(bad(format!(
                        "exploration {exploration}: its parameter must be a finite number"
                    )));
                }
                insert
                    .execute(params![
                        imp.id.0 as i64,
                        imp.timestamp as i64,
                        imp.context.listener.0,
                        imp.policy,
                        exploration,
                        imp.model_version,
                        imp.seed as i64,
                        context,
                        page,
                    ])
                    .map_err(|e| {
                        let duplicate = e.sqlite_error().is_some_and(|s| {
                            s.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        });
                        if duplicate {
                            LogError::DuplicateImpression {
                                path: path.clone(),
                                impression: imp.id.0,
                            }
                        } else {
                            sqlite(path, e)
                        }
                    })?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Appends feedback in one transaction. Feedback for an impression that is not stored
    /// (yet) is kept; it counts once its impression is there.
    pub fn append_feedback(&mut self, feedback: &[Feedback]) -> Result<()> {
        let path = &self.path;
        let err = |e| sqlite(path, e);
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO feedback (impression, row, column, item, timestamp, played_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for f in feedback {
                insert
                    .execute(params![
                        f.impression.0 as i64,
                        f.row,
                        f.column,
                        f.item.0,
                        f.timestamp as i64,
                        f.played_ms
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The impression with this id, if stored.
    pub fn impression(&self, id: ImpressionId) -> Result<Option<Impression>> {
        let err = |e| sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_IMPRESSIONS} WHERE id = ?1"))
            .map_err(err)?;
        let mut rows = stmt.query([id.0 as i64]).map_err(err)?;
        match rows.next().map_err(err)? {
            Some(row) => decode_impression(&self.path, row).map(Some),
            None => Ok(None),
        }
    }

    /// Number of stored impressions, of one policy or of all.
    pub fn count_impressions(&self, policy: Option<&str>) -> Result<u64> {
        let count: i64 = match policy {
            Some(policy) => self.conn.query_row(
                "SELECT count(*) FROM impressions WHERE policy = ?1",
                [policy],
                |r| r.get(0),
            ),
            None => self
                .conn
                .query_row("SELECT count(*) FROM impressions", [], |r| r.get(0)),
        }
        .map_err(|e| sqlite(&self.path, e))?;
        Ok(count as u64)
    }

    /// The earliest and latest impression timestamps, or `None` for an empty store.
    pub fn time_range(&self) -> Result<Option<(u64, u64)>> {
        let (lo, hi): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(timestamp), max(timestamp) FROM impressions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| sqlite(&self.path, e))?;
        Ok(lo.zip(hi).map(|(lo, hi)| (lo as u64, hi as u64)))
    }

    /// Impressions matching the query, ordered by timestamp then id, each with its card
    /// rewards per [`card_reward`].
    pub fn joined(&self, query: &JoinQuery) -> Result<Vec<LoggedPage>> {
        let err = |e| sqlite(&self.path, e);
        let feedback = self.feedback_for(query)?;
        let mut sql = format!("{SELECT_IMPRESSIONS} WHERE 1");
        let mut values = Vec::new();
        if let Some(policy) = &query.policy {
            sql.push_str(" AND policy = ?");
            values.push(Value::Text(policy.clone()));
        }
        if let Some(from) = query.from {
            sql.push_str(" AND timestamp >= ?");
            values.push(Value::Integer(sql_time(from)));
        }
        if let Some(until) = query.until {
            sql.push_str(" AND timestamp < ?");
            values.push(Value::Integer(sql_time(until)));
        }
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let mut rows = stmt.query(params_from_iter(values)).map_err(err)?;
        let mut pages = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let impression = decode_impression(&self.path, row)?;
            let first = feedback.partition_point(|f| f.impression < impression.id);
            let count = feedback[first..].partition_point(|f| f.impression == impression.id);
            let feedback = &feedback[first..first + count];
            pages.push(LoggedPage::joined(impression, feedback, query.window_secs));
        }
        pages.sort_unstable_by_key(|p| (p.impression.timestamp, p.impression.id));
        Ok(pages)
    }

    /// All feedback that can fall inside the reward window of an impression the query
    /// selects, sorted by impression id.
    fn feedback_for(&self, query: &JoinQuery) -> Result<Vec<Feedback>> {
        let err = |e| sqlite(&self.path, e);
        let mut sql = format!("{SELECT_FEEDBACK} WHERE 1");
        let mut values = Vec::new();
        if let Some(from) = query.from {
            sql.push_str(" AND timestamp >= ?");
            values.push(sql_time(from));
        }
        if let Some(until) = query.until {
            sql.push_str(" AND timestamp <= ?");
            values.push(sql_time(until.saturating_add(query.window_secs)));
        }
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let mut rows = stmt.query(params_from_iter(values)).map_err(err)?;
        let mut feedback = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let impression = ImpressionId(row.get::<_, i64>(0).map_err(err)? as u64);
            let column = |e: rusqlite::Error| LogError::Decode {
                path: self.path.clone(),
                impression: impression.0,
                reason: format!("feedback row: {e}"),
            };
            feedback.push(Feedback {
                impression,
                row: row.get(1).map_err(column)?,
                column: row.get(2).map_err(column)?,
                item: ItemId(row.get(3).map_err(column)?),
                timestamp: row.get::<_, i64>(4).map_err(column)? as u64,
                played_ms: row.get(5).map_err(column)?,
            });
        }
        feedback.sort_unstable_by_key(|f| f.impression);
        Ok(feedback)
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> LogError {
    LogError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// A query time bound as stored: timestamps of 2^63 and above clamp to the largest one.
fn sql_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Reads one row selected with [`SELECT_IMPRESSIONS`].
fn decode_impression(path: &Path, row: &Row<'_>) -> Result<Impression> {
    let id = row.get::<_, i64>(0).map_err(|e| sqlite(path, e))? as u64;
    decode_columns(row, id).map_err(|reason| LogError::Decode {
        path: path.to_owned(),
        impression: id,
        reason,
    })
}

fn decode_columns(row: &Row<'_>, id: u64) -> std::result::Result<Impression, String> {
    let column = |e: rusqlite::Error| e.to_string();
    let page: PageRecord = decode_blob(row.get_ref(7).map_err(column)?, "page")?;
    Ok(Impression {
        id: ImpressionId(id),
        timestamp: row.get::<_, i64>(1).map_err(column)? as u64,
        policy: row.get(2).map_err(column)?,
        exploration: serde_json::from_str(&row.get::<_, String>(3).map_err(column)?)
            .map_err(|e| format!("exploration: {e}"))?,
        model_version: row.get(4).map_err(column)?,
        seed: row.get::<_, i64>(5).map_err(column)? as u64,
        context: decode_blob(row.get_ref(6).map_err(column)?, "context")?,
        page: page.into(),
    })
}

/// Postcard-encodes `value` into `buf`, reusing its allocation.
fn encode<T: Serialize>(value: &T, buf: &mut Vec<u8>) -> postcard::Result<()> {
    buf.clear();
    *buf = postcard::to_extend(value, std::mem::take(buf))?;
    Ok(())
}

/// Decodes a postcard blob that must be consumed exactly.
fn decode_blob<T: DeserializeOwned>(
    value: ValueRef<'_>,
    column: &str,
) -> std::result::Result<T, String> {
    let bytes = value.as_bytes().map_err(|e| format!("{column}: {e}"))?;
    match postcard::take_from_bytes(bytes) {
        Ok((decoded, [])) => Ok(decoded),
        Ok((_, rest)) => Err(format!("{column}: {} trailing bytes", rest.len())),
        Err(e) => Err(format!("{column}: {e}")),
    }
}

/// A page as stored. bart-core's `Explanation` is adjacently tagged, which postcard cannot
/// read back, so shelves carry an [`ExplanationRecord`] instead; all else is the same.
#[derive(Serialize, Deserialize)]
struct PageRecord<'a> {
    impression: ImpressionId,
    shelves: Vec<ShelfRecord<'a>>,
}

#[derive(Serialize, Deserialize)]
struct ShelfRecord<'a> {
    explanation: ExplanationRecord,
    row: u16,
    probability: f64,
    score: f64,
    cards: Cow<'a, [Card]>,
}

/// `Explanation` with plain enum encoding. The variant order is part of the stored format:
/// append new variants, never reorder.
#[derive(Serialize, Deserialize)]
enum ExplanationRecord {
    BecauseYouListened(ArtistId),
    YourTopGenre(GenreId),
    PopularIn(RegionId),
    JumpBackIn,
    Discover(GenreId),
    PopularOn(Platform),
    DiscoverCluster(ClusterId),
}

impl<'a> From<&'a Page> for PageRecord<'a> {
    fn from(page: &'a Page) -> Self {
        let Page {
            impression,
            shelves,
        } = page;
        let shelves = shelves
            .iter()
            .map(|shelf| {
                let Shelf {
                    explanation,
                    row,
                    probability,
                    score,
                    cards,
                } = shelf;
                ShelfRecord {
                    explanation: (*explanation).into(),
                    row: *row,
                    probability: *probability,
                    score: *score,
                    cards: Cow::Borrowed(cards),
                }
            })
            .collect();
        PageRecord {
            impression: *impression,
            shelves,
        }
    }
}

impl From<PageRecord<'_>> for Page {
    fn from(record: PageRecord<'_>) -> Self {
        let shelves = record
            .shelves
            .into_iter()
            .map(|shelf| Shelf {
                explanation: shelf.explanation.into(),
                row: shelf.row,
                probability: shelf.probability,
                score: shelf.score,
                cards: shelf.cards.into_owned(),
            })
            .collect();
        Page {
            impression: record.impression,
            shelves,
        }
    }
}

impl From<Explanation> for ExplanationRecord {
    fn from(explanation: Explanation) -> Self {
        match explanation {
            Explanation::BecauseYouListened(a) => ExplanationRecord::BecauseYouListened(a),
            Explanation::YourTopGenre(g) => ExplanationRecord::YourTopGenre(g),
            Explanation::PopularIn(r) => ExplanationRecord::PopularIn(r),
            Explanation::JumpBackIn => ExplanationRecord::JumpBackIn,
            Explanation::Discover(g) => ExplanationRecord::Discover(g),
            Explanation::PopularOn(p) => ExplanationRecord::PopularOn(p),
            Explanation::DiscoverCluster(c) => ExplanationRecord::DiscoverCluster(c),
        }
    }
}

impl From<ExplanationRecord> for Explanation {
    fn from(record: ExplanationRecord) -> Self {
        match record {
            ExplanationRecord::BecauseYouListened(a) => Explanation::BecauseYouListened(a),
            ExplanationRecord::YourTopGenre(g) => Explanation::YourTopGenre(g),
            ExplanationRecord::PopularIn(r) => Explanation::PopularIn(r),
            ExplanationRecord::JumpBackIn => Explanation::JumpBackIn,
            ExplanationRecord::Discover(g) => Explanation::Discover(g),
            ExplanationRecord::PopularOn(p) => Explanation::PopularOn(p),
            ExplanationRecord::DiscoverCluster(c) => Explanation::DiscoverCluster(c),
        }
    }
}
