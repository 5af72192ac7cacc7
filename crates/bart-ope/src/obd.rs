//! The Open Bandit Dataset (Saito et al., arXiv:2008.07146): its logs, item context and a
//! context-free target policy π_e(item | position), read from CSV with errors that name the
//! file, the line and the column; the reward model's features; and the logged cards that
//! the estimators take.
//!
//! Logs have the columns `item_id`, `position` (1 = left), `click` (0 or 1) and
//! `propensity_score`, optionally `user_feature_*` (categorical) and
//! `user-item_affinity_<item>` (numeric); other columns (`timestamp`, the unnamed index) are
//! ignored. The item context has `item_id` (every item 0..n once) and `item_feature_*`, each
//! numeric when all its values are numbers, else categorical. The target distribution has no
//! header (lines starting with `#` are comments): one line per item, one column per position
//! (the first column is position 1), each column summing to 1.

use crate::error::OpeError;
use crate::estimate::{Card, Sample};
use crate::regression::{CrossFit, SparseRows};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// One logged row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub item: u32,
    /// From 0 (the file's position 1).
    pub position: u32,
    pub click: f64,
    pub propensity: f64,
}

/// Logged rows with their user features.
#[derive(Clone, Debug)]
pub struct Logs {
    file: String,
    pub rows: Vec<Row>,
    /// The file line of each row, for error messages.
    lines: Vec<u64>,
    /// Per row, the category of each `user_feature_*` column.
    user: Vec<u32>,
    /// Categories per `user_feature_*` column.
    user_categories: Vec<usize>,
    /// Per row, the affinity to each item (0 where the file has no column for it).
    affinity: Vec<f64>,
    items: usize,
}

/// Per-item features.
#[derive(Clone, Debug)]
pub struct ItemContext {
    /// Per item, its numeric features.
    numeric: Vec<Vec<f64>>,
    /// Per item, its category in each categorical column.
    categorical: Vec<Vec<u32>>,
    /// Categories per categorical column.
    categories: Vec<usize>,
}

/// A context-free target policy π_e(item | position).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetDist {
    items: usize,
    positions: usize,
    /// `probs[item * positions + position]`.
    probs: Vec<f64>,
}

fn name_of(path: &Path) -> String {
    path.display().to_string()
}

/// A CSV reader; headerless files may have comment lines and are checked for equal lengths
/// by the caller.
fn open(path: &Path, headers: bool) -> Result<csv::Reader<std::fs::File>, OpeError> {
    csv::ReaderBuilder::new()
        .has_headers(headers)
        .flexible(!headers)
        .from_path(path)
        .map_err(|e| OpeError::File {
            file: name_of(path),
            reason: format!("cannot read: {e}"),
        })
}

fn csv_error(file: &str, e: csv::Error) -> OpeError {
    let malformed = |line: u64, reason: String| OpeError::Malformed {
        file: file.into(),
        line,
        reason,
    };
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => malformed(
            pos.as_ref().map_or(0, |p| p.line()),
            format!("{len} fields where the first line has {expected_len}"),
        ),
        csv::ErrorKind::Utf8 { pos, .. } => malformed(
            pos.as_ref().map_or(0, |p| p.line()),
            "not valid UTF-8 text".into(),
        ),
        _ => OpeError::File {
            file: file.into(),
            reason: format!("cannot read: {e}"),
        },
    }
}

/// Reads every record with its line; `f` sees each.
fn for_each_record(
    file: &str,
    reader: &mut csv::Reader<std::fs::File>,
    mut f: impl FnMut(u64, &csv::StringRecord) -> Result<(), OpeError>,
) -> Result<(), OpeError> {
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                f(line, &record)?;
            }
            Err(e) => return Err(csv_error(file, e)),
        }
    }
}

/// Where a value came from, for error messages.
struct At<'a> {
    file: &'a str,
    line: u64,
}

impl At<'_> {
    fn error(&self, column: &str, reason: String) -> OpeError {
        OpeError::Input {
            file: self.file.into(),
            line: self.line,
            column: column.into(),
            reason,
        }
    }

    fn number(&self, column: &str, text: &str) -> Result<f64, OpeError> {
        match text.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(self.error(column, format!("{text:?} is not a number"))),
        }
    }

    fn probability(&self, column: &str, text: &str, open_at_zero: bool) -> Result<f64, OpeError> {
        let p = self.number(column, text)?;
        let ok = if open_at_zero {
            p > 0.0 && p <= 1.0
        } else {
            (0.0..=1.0).contains(&p)
        };
        if ok {
            Ok(p)
        } else {
            let range = if open_at_zero { "(0, 1]" } else { "[0, 1]" };
            Err(self.error(
                column,
                format!("{} is not a probability in {range}", text.trim()),
            ))
        }
    }

    fn index(&self, column: &str, text: &str, what: &str) -> Result<u32, OpeError> {
        text.trim()
            .parse::<u32>()
            .map_err(|_| self.error(column, format!("{text:?} is not {what}")))
    }
}

fn header_index(file: &str, headers: &csv::StringRecord, name: &str) -> Result<usize, OpeError> {
    headers
        .iter()
        .position(|h| h.trim() == name)
        .ok_or_else(|| OpeError::Input {
            file: file.into(),
            line: 1,
            column: name.into(),
            reason: "missing from the header".into(),
        })
}

fn headers_of(
    file: &str,
    reader: &mut csv::Reader<std::fs::File>,
) -> Result<csv::StringRecord, OpeError> {
    reader.headers().cloned().map_err(|e| csv_error(file, e))
}

/// Category ids in order of first appearance.
#[derive(Default)]
struct Dictionary(HashMap<String, u32>);

impl Dictionary {
    fn id(&mut self, value: &str) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(value.to_string()).or_insert(next)
    }
}

impl ItemContext {
    /// Reads `item_context.csv`.
    pub fn read(path: &Path) -> Result<Self, OpeError> {
        let file = name_of(path);
        let mut reader = open(path, true)?;
        let headers = headers_of(&file, &mut reader)?;
        let id_col = header_index(&file, &headers, "item_id")?;
        let features: Vec<(usize, String)> = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.trim().starts_with("item_feature_"))
            .map(|(i, h)| (i, h.trim().to_string()))
            .collect();
        let mut values: Vec<Option<Vec<String>>> = Vec::new();
        for_each_record(&file, &mut reader, |line, record| {
            let at = At { file: &file, line };
            let id = at.index(
                "item_id",
                &record[id_col],
                "an item id (a whole number from 0)",
            )? as usize;
            if id >= 100_000_000 {
                return Err(at.error("item_id", format!("item {id} is implausibly large")));
            }
            if values.len() <= id {
                values.resize(id + 1, None);
            }
            if values[id].is_some() {
                return Err(at.error("item_id", format!("item {id} appears twice")));
            }
            values[id] = Some(
                features
                    .iter()
                    .map(|(i, _)| record[*i].to_string())
                    .collect(),
            );
            Ok(())
        })?;
        if values.is_empty() {
            return Err(OpeError::File {
                file,
                reason: "no items".into(),
            });
        }
        let values: Vec<Vec<String>> = values
            .into_iter()
            .enumerate()
            .map(|(id, v)| {
                v.ok_or_else(|| OpeError::File {
                    file: file.clone(),
                    reason: format!("no row for item {id} (item ids must run from 0 without gaps)"),
                })
            })
            .collect::<Result<_, _>>()?;
        let items = values.len();
        let mut numeric = vec![Vec::new(); items];
        let mut categorical = vec![Vec::new(); items];
        let mut categories = Vec::new();
        for c in 0..features.len() {
            let parsed: Option<Vec<f64>> = values
                .iter()
                .map(|v| v[c].trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            match parsed {
                Some(xs) => {
                    for (item, x) in xs.into_iter().enumerate() {
                        numeric[item].push(x);
                    }
                }
                None => {
                    let mut dict = Dictionary::default();
                    for (item, v) in values.iter().enumerate() {
                        categorical[item].push(dict.id(v[c].trim()));
                    }
                    categories.push(dict.0.len());
                }
            }
        }
        Ok(ItemContext {
            numeric,
            categorical,
            categories,
        })
    }

    /// Number of items.
    pub fn items(&self) -> usize {
        self.numeric.len()
    }
}

impl Logs {
    /// Reads a logs file whose item ids must be below `items`.
    pub fn read(path: &Path, items: usize) -> Result<Self, OpeError> {
        let file = name_of(path);
        let mut reader = open(path, true)?;
        let headers = headers_of(&file, &mut reader)?;
        let col = |name| header_index(&file, &headers, name);
        let (item_col, position_col, click_col, propensity_col) = (
            col("item_id")?,
            col("position")?,
            col("click")?,
            col("propensity_score")?,
        );
        let user_cols: Vec<(usize, String)> = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.trim().starts_with("user_feature_"))
            .map(|(i, h)| (i, h.trim().to_string()))
            .collect();
        let mut affinity_cols = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            if let Some(rest) = h.trim().strip_prefix("user-item_affinity_") {
                let at = At {
                    file: &file,
                    line: 1,
                };
                let item = at.index(h, rest, "an item id")? as usize;
                if item >= items {
                    return Err(at.error(
                        h,
                        format!(
                            "item {item} is not in the item context (items 0 to {})",
                            items - 1
                        ),
                    ));
                }
                affinity_cols.push((i, h.trim().to_string(), item));
            }
        }
        let mut dictionaries: Vec<Dictionary> =
            user_cols.iter().map(|_| Dictionary::default()).collect();
        let mut logs = Logs {
            file: file.clone(),
            rows: Vec::new(),
            lines: Vec::new(),
            user: Vec::new(),
            user_categories: Vec::new(),
            affinity: Vec::new(),
            items,
        };
        for_each_record(&file, &mut reader, |line, record| {
            let at = At { file: &file, line };
            let item = at.index(
                "item_id",
                &record[item_col],
                "an item id (a whole number from 0)",
            )?;
            if item as usize >= items {
                return Err(at.error(
                    "item_id",
                    format!(
                        "item {item} is not in the item context (items 0 to {})",
                        items - 1
                    ),
                ));
            }
            let position = at.index(
                "position",
                &record[position_col],
                "a position (1 = left, 2, 3, ...)",
            )?;
            if position == 0 {
                return Err(at.error(
                    "position",
                    "0 is not a position: they start at 1 (left)".into(),
                ));
            }
            let click = at.number("click", &record[click_col])?;
            if click != 0.0 && click != 1.0 {
                return Err(at.error(
                    "click",
                    format!("{} is not a click (0 or 1)", record[click_col].trim()),
                ));
            }
            let propensity = at.probability("propensity_score", &record[propensity_col], true)?;
            logs.rows.push(Row {
                item,
                position: position - 1,
                click,
                propensity,
            });
            logs.lines.push(line);
            for ((i, _), dict) in user_cols.iter().zip(&mut dictionaries) {
                logs.user.push(dict.id(record[*i].trim()));
            }
            let start = logs.affinity.len();
            logs.affinity.resize(start + items, 0.0);
            for (i, name, item) in &affinity_cols {
                logs.affinity[start + item] = at.number(name, &record[*i])?;
            }
            Ok(())
        })?;
        if logs.rows.is_empty() {
            return Err(OpeError::File {
                file,
                reason: "no rows".into(),
            });
        }
        logs.user_categories = dictionaries.iter().map(|d| d.0.len()).collect();
        Ok(logs)
    }

    /// Number of positions: the largest logged.
    pub fn positions(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.position as usize + 1)
            .max()
            .unwrap_or(0)
    }

    /// Number of items.
    pub fn items(&self) -> usize {
        self.items
    }
}

impl TargetDist {
    /// Reads π_e(item | position) for `items` items.
    pub fn read(path: &Path, items: usize) -> Result<Self, OpeError> {
        let file = name_of(path);
        let mut reader = open(path, false)?;
        let mut probs = Vec::new();
        let mut positions = 0;
        let mut rows = 0;
        for_each_record(&file, &mut reader, |line, record| {
            if record
                .get(0)
                .is_some_and(|f| f.trim_start().starts_with('#'))
            {
                return Ok(());
            }
            if rows > 0 && record.len() != positions {
                return Err(OpeError::Malformed {
                    file: file.clone(),
                    line,
                    reason: format!(
                        "{} fields where the first line has {positions}",
                        record.len()
                    ),
                });
            }
            let at = At { file: &file, line };
            positions = record.len();
            rows += 1;
            for (k, text) in record.iter().enumerate() {
                probs.push(at.probability(&(k + 1).to_string(), text, false)?);
            }
            Ok(())
        })?;
        if rows != items {
            return Err(OpeError::File {
                file,
                reason: format!("{rows} item lines, but the item context has {items} items"),
            });
        }
        for k in 0..positions {
            let sum: f64 = (0..items).map(|a| probs[a * positions + k]).sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(OpeError::File {
                    file,
                    reason: format!(
                        "the probabilities of position {} (column {}) sum to {sum}, not 1",
                        k + 1,
                        k + 1
                    ),
                });
            }
        }
        Ok(TargetDist {
            items,
            positions,
            probs,
        })
    }

    /// The uniform random policy: 1 / items everywhere.
    pub fn uniform(items: usize, positions: usize) -> Self {
        TargetDist {
            items,
            positions,
            probs: vec![1.0 / items as f64; items * positions],
        }
    }

    /// π_e(item | position), position from 0.
    pub fn prob(&self, item: usize, position: usize) -> f64 {
        self.probs[item * self.positions + position]
    }

    /// Whether the policy picks one item per position with probability 1.
    pub fn is_deterministic(&self) -> bool {
        self.probs.iter().all(|&p| p == 0.0 || p == 1.0)
    }

    /// Checks that every logged position and item is one the policy has.
    pub fn check(&self, logs: &Logs) -> Result<(), OpeError> {
        if self.items != logs.items {
            return Err(OpeError::Unsupported(format!(
                "the target has {} items, the logs {}",
                self.items, logs.items
            )));
        }
        match logs
            .rows
            .iter()
            .position(|r| r.position as usize >= self.positions)
        {
            None => Ok(()),
            Some(i) => Err(OpeError::Input {
                file: logs.file.clone(),
                line: logs.lines[i],
                column: "position".into(),
                reason: format!(
                    "position {} is beyond the target distribution's {} positions",
                    logs.rows[i].position + 1,
                    self.positions
                ),
            }),
        }
    }
}

/// The reward model's features of (a row's user, an item, a position): an intercept, the
/// item, the position, each user feature's category, the user's affinity to the item, and
/// the item's numeric and categorical features.
struct Featurizer<'a> {
    logs: &'a Logs,
    context: &'a ItemContext,
    positions: usize,
    /// Offsets of the blocks.
    position0: u32,
    user0: Vec<u32>,
    affinity0: u32,
    numeric0: u32,
    categorical0: Vec<u32>,
    dim: usize,
}

impl<'a> Featurizer<'a> {
    fn new(logs: &'a Logs, context: &'a ItemContext, positions: usize) -> Self {
        let mut next = 1 + context.items() as u32;
        let position0 = next;
        next += positions as u32;
        let mut blocks = |sizes: &[usize]| {
            sizes
                .iter()
                .map(|&s| {
                    let start = next;
                    next += s as u32;
                    start
                })
                .collect::<Vec<u32>>()
        };
        let user0 = blocks(&logs.user_categories);
        let affinity0 = blocks(&[1])[0];
        let numeric = context.numeric.first().map_or(0, Vec::len);
        let numeric0 = blocks(&[numeric])[0];
        let categorical0 = blocks(&context.categories);
        Featurizer {
            logs,
            context,
            positions,
            position0,
            user0,
            affinity0,
            numeric0,
            categorical0,
            dim: next as usize,
        }
    }

    fn features(&self, row: usize, item: usize, position: usize, out: &mut Vec<(u32, f64)>) {
        out.clear();
        out.push((0, 1.0));
        out.push((1 + item as u32, 1.0));
        out.push((
            self.position0 + position.min(self.positions - 1) as u32,
            1.0,
        ));
        let users = self.user0.len();
        for (k, &start) in self.user0.iter().enumerate() {
            out.push((start + self.logs.user[row * users + k], 1.0));
        }
        let affinity = self.logs.affinity[row * self.logs.items + item];
        if affinity != 0.0 {
            out.push((self.affinity0, affinity));
        }
        for (k, &x) in self.context.numeric[item].iter().enumerate() {
            out.push((self.numeric0 + k as u32, x));
        }
        for (&start, &c) in self
            .categorical0
            .iter()
            .zip(&self.context.categorical[item])
        {
            out.push((start + c, 1.0));
        }
    }
}

/// Settings of the reward model.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RewardModelConfig {
    /// Cross-fitting folds.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// L2 penalty of the logistic regression.
    pub l2: f64,
}

impl Default for RewardModelConfig {
    fn default() -> Self {
        RewardModelConfig {
            folds: 5,
            seed: 42,
            l2: 10.0,
        }
    }
}

/// Cross-fitted predictions q̂(x_i, item, position_i) for every row i and item.
#[derive(Clone, Debug)]
pub struct Predictions {
    items: usize,
    values: Vec<f64>,
}

impl Predictions {
    /// Fits the click model with cross-fitting and predicts, for each row, the click
    /// probability of every item at the row's position with the model that did not see it.
    pub fn fit(
        logs: &Logs,
        context: &ItemContext,
        config: &RewardModelConfig,
    ) -> Result<Self, OpeError> {
        if context.items() != logs.items {
            return Err(OpeError::Unsupported(format!(
                "the item context has {} items, the logs were read for {}",
                context.items(),
                logs.items
            )));
        }
        let featurizer = Featurizer::new(logs, context, logs.positions());
        let mut rows = SparseRows::new();
        let mut buf = Vec::new();
        for (i, r) in logs.rows.iter().enumerate() {
            featurizer.features(i, r.item as usize, r.position as usize, &mut buf);
            rows.push(buf.iter().copied());
        }
        let labels: Vec<f64> = logs.rows.iter().map(|r| r.click).collect();
        let fit = CrossFit::fit(
            featurizer.dim,
            &rows,
            &labels,
            config.folds,
            config.seed,
            config.l2,
        )?;
        let items = logs.items;
        let mut values = vec![0.0; logs.rows.len() * items];
        values
            .par_chunks_mut(items)
            .enumerate()
            .for_each_init(Vec::new, |buf, (i, out)| {
                let model = fit.model_for(i);
                let position = logs.rows[i].position as usize;
                for (item, q) in out.iter_mut().enumerate() {
                    featurizer.features(i, item, position, buf);
                    *q = model.predict(buf);
                }
            });
        Ok(Predictions { items, values })
    }

    /// q̂ of every item for row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.items..(i + 1) * self.items]
    }
}

/// The logged cards for evaluating `target`: target and logging probabilities of the logged
/// item at its position, the click, and, given predictions, q̂ of the logged item and
/// Σ_item π_e(item | position) q̂(item).
pub fn cards(logs: &Logs, target: &TargetDist, predictions: Option<&Predictions>) -> Vec<Card> {
    logs.rows
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let (item, position) = (r.item as usize, r.position as usize);
            let sample = Sample {
                target: target.prob(item, position),
                logging: r.propensity,
                reward: r.click,
            };
            match predictions {
                None => Card::from(sample),
                Some(p) => {
                    let q = p.row(i);
                    let direct = q
                        .iter()
                        .enumerate()
                        .map(|(a, q)| target.prob(a, position) * q)
                        .sum();
                    Card {
                        sample,
                        predicted: q[item],
                        direct,
                    }
                }
            }
        })
        .collect()
}
