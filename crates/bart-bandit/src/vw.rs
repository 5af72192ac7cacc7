//! Vowpal Wabbit `cb_adf` text: reading logged examples for training and prediction, and
//! writing them.
//!
//! An example is an optional `shared |NS f ...` line, one line per action, then a blank line
//! (or the end of the file):
//!
//! ```text
//! shared |User country=3 hour:0.5
//! |Action action=7 genre=2
//! 0:-1:0.25 |Action action=9 genre=2 |Extra:2 x:0.5
//! | default_namespace_feature
//! ```
//!
//! * `|NS` starts namespace `NS` (the text up to whitespace after the bar); `|` followed by
//!   whitespace is the default namespace (name ""). `|NS:2` multiplies the namespace's values
//!   by 2.
//! * A feature is `name` (value 1) or `name:value`; its id is `Namespace::new(NS).id(name)`,
//!   exactly as [`crate::card_features`] hashes the same text.
//! * The logged action's line starts with its label `action:cost:probability` (the action
//!   number is ignored, as in VW's adf). VW minimises cost; bart predicts P(reward = 1), so
//!   costs must be -1 (reward) or 0 (none), or in between: see [`cost_to_reward`].
//! * Shared features come first in every action's example, then the action's.
//!
//! Every error names the file and 1-based line. No input makes the reader panic.

use crate::error::BanditError;
use crate::features::{Example, Feature, Group, Namespace};
use crate::train::{Batch, Examples, Logged};
use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

/// Examples per training batch [`CbAdfText`] aims for.
pub const BATCH_EXAMPLES: usize = 1 << 16;

/// The label of an example's logged action.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Label {
    /// Index of the labelled action among the example's actions (0-based).
    pub action: usize,
    /// VW cost: -1 for a reward (stream, click), 0 for none.
    pub cost: f32,
    /// Probability the logging policy chose this action, in (0, 1].
    pub probability: f64,
}

impl Label {
    /// The reward bart learns, `-cost`: always `Some` for labels the reader returns.
    pub fn reward(&self) -> Option<f32> {
        cost_to_reward(self.cost)
    }
}

/// VW's cost to bart's reward: `reward = -cost`, which must lie in [0, 1] (cost -1 for a
/// reward, 0 for none). `None` outside that range or for a non-finite cost.
pub fn cost_to_reward(cost: f32) -> Option<f32> {
    // 0.0 - cost, not -cost: a cost of 0 gives reward +0, not -0.
    let reward = 0.0 - cost;
    (0.0..=1.0).contains(&reward).then_some(reward)
}

/// bart's reward to VW's cost: `-reward`.
pub fn reward_to_cost(reward: f32) -> f32 {
    0.0 - reward
}

// ---------------------------------------------------------------------------------------
// Lines

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s
        && is_ws(*first)
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && is_ws(*last)
    {
        s = rest;
    }
    s
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A plain decimal `-?digits[.digits]` as (negative, digits as an integer, digits after the
/// point), if it has at most 19 digits.
fn plain_decimal(bytes: &[u8]) -> Option<(bool, u64, usize)> {
    let (negative, bytes) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let (mut mantissa, mut digits, mut point) = (0u64, 0usize, None);
    for &c in bytes {
        match c {
            b'0'..=b'9' if digits < 19 => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b'.' if point.is_none() => point = Some(digits),
            _ => return None,
        }
    }
    (digits > 0).then(|| (negative, mantissa, digits - point.unwrap_or(digits)))
}

const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a number as `str::parse` does. Plain decimals whose digits and power of ten are
/// exact floats take Clinger's fast path (one correctly rounded division, so the same result).
fn parse_f32(bytes: &[u8]) -> Option<f32> {
    if let Some((negative, m, frac)) = plain_decimal(bytes)
        && m < 1 << 24
        && frac < POW10_F32.len()
    {
        let x = m as f32 / POW10_F32[frac];
        return Some(if negative { -x } else { x });
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// [`parse_f32`] for `f64`.
fn parse_f64(bytes: &[u8]) -> Option<f64> {
    if let Some((negative, m, frac)) = plain_decimal(bytes)
        && m < 1 << 53
        && frac < POW10_F64.len()
    {
        let x = m as f64 / POW10_F64[frac];
        return Some(if negative { -x } else { x });
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A label as read, before its action's index is known.
#[derive(Clone, Copy, Debug)]
struct RawLabel {
    cost: f32,
    reward: f32,
    probability: f64,
}

/// What a line is.
enum Line<'a> {
    Blank,
    /// The shared line's features (empty, or starting with `|`).
    Shared(&'a [u8]),
    /// An action line's label and features (empty, or starting with `|`).
    Action(Option<RawLabel>, &'a [u8]),
}

fn classify(line: &[u8]) -> Result<Line<'_>, String> {
    let t = trim(line);
    match t {
        [] => Ok(Line::Blank),
        [b'|', ..] => Ok(Line::Action(None, t)),
        [b's', b'h', b'a', b'r', b'e', b'd', rest @ ..]
            if rest.first().is_none_or(|&b| is_ws(b)) =>
        {
            let rest = trim(rest);
            if rest.first().is_some_and(|&b| b != b'|') {
                return Err(format!(
                    "shared line: expected '|' after \"shared\", found \"{}\" (shared lines have \
                     no label)",
                    show(rest)
                ));
            }
            Ok(Line::Shared(rest))
        }
        _ => {
            let end = t
                .iter()
                .position(|&b| is_ws(b) || b == b'|')
                .unwrap_or(t.len());
            let label = parse_label(&t[..end])?;
            let rest = trim(&t[end..]);
            if rest.first().is_some_and(|&b| b != b'|') {
                return Err(format!(
                    "expected '|' after the label \"{}\", found \"{}\" (tags and several labels \
                     are not supported)",
                    show(&t[..end]),
                    show(rest)
                ));
            }
            Ok(Line::Action(Some(label), rest))
        }
    }
}

fn parse_label(token: &[u8]) -> Result<RawLabel, String> {
    let bad = |what: String| format!("label \"{}\": {what}", show(token));
    let mut parts = token.split(|&b| b == b':');
    let (Some(action), Some(cost), Some(prob), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(
            "is not action:cost:probability, such as 0:-1:0.25".into()
        ));
    };
    if action.is_empty() || !action.iter().all(u8::is_ascii_digit) {
        return Err(bad(format!(
            "action \"{}\" is not a non-negative integer",
            show(action)
        )));
    }
    let cost = parse_f32(cost)
        .filter(|c| c.is_finite())
        .ok_or_else(|| bad(format!("cost \"{}\" is not a finite number", show(cost))))?;
    let probability = match parse_f64(prob) {
        Some(p) if p > 0.0 && p <= 1.0 => p,
        Some(p) => return Err(bad(format!("probability {p} is not in (0, 1]"))),
        None => {
            return Err(bad(format!(
                "probability \"{}\" is not a number",
                show(prob)
            )));
        }
    };
    let reward = cost_to_reward(cost).ok_or_else(|| {
        bad(format!(
            "cost {cost} gives reward {} outside [0, 1]: bart learns P(reward = 1), so use cost \
             -1 for a reward (stream, click) and 0 for none",
            0.0 - cost
        ))
    })?;
    Ok(RawLabel {
        cost,
        reward,
        probability,
    })
}

// ---------------------------------------------------------------------------------------
// Features

/// Where parsed features go.
trait Sink {
    fn namespace(&mut self, name: &[u8]);
    fn feature(&mut self, name: &[u8], value: f32);
}

/// Checks the syntax only (unlabelled action lines when training).
struct Validate;

impl Sink for Validate {
    fn namespace(&mut self, _: &[u8]) {}
    fn feature(&mut self, _: &[u8], _: f32) {}
}

/// The namespaces seen so far (files have few), so that each name is hashed once.
#[derive(Clone, Debug, Default)]
struct Namespaces(Vec<(Box<[u8]>, Namespace)>);

impl Namespaces {
    fn get(&mut self, name: &[u8]) -> Namespace {
        if let Some((_, ns)) = self.0.iter().find(|(n, _)| **n == *name) {
            return *ns;
        }
        let ns = Namespace::new(name);
        if self.0.len() < 32 {
            self.0.push((name.into(), ns));
        }
        ns
    }
}

/// Hashes features onto flat feature and group buffers, as [`crate::Features`] would.
struct Hash<'b> {
    feats: &'b mut Vec<Feature>,
    groups: &'b mut Vec<Group>,
    names: &'b mut Namespaces,
    ns: Option<Namespace>,
}

impl<'b> Hash<'b> {
    fn new(
        feats: &'b mut Vec<Feature>,
        groups: &'b mut Vec<Group>,
        names: &'b mut Namespaces,
    ) -> Self {
        Hash {
            feats,
            groups,
            names,
            ns: None,
        }
    }
}

impl Sink for Hash<'_> {
    fn namespace(&mut self, name: &[u8]) {
        let ns = self.names.get(name);
        self.ns = Some(ns);
        let at = self.feats.len() as u32;
        self.groups.push(Group {
            initial: ns.initial(),
            start: at,
            end: at,
        });
    }
    fn feature(&mut self, name: &[u8], value: f32) {
        // parse_features starts a namespace before any feature.
        if let (Some(ns), Some(g)) = (&self.ns, self.groups.last_mut()) {
            self.feats.push((ns.id(name), value));
            g.end += 1;
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = ONES * 0x80;

/// The high bit of each zero byte of `x`, and maybe of bytes above the lowest zero byte (so
/// the lowest flagged byte is always a zero byte).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The eight bytes at `i`, if there are eight.
fn word(text: &[u8], i: usize) -> Option<u64> {
    let w = text.get(i..i.checked_add(8)?)?;
    <[u8; 8]>::try_from(w).ok().map(u64::from_le_bytes)
}

/// The first index at or after `i` of byte `a`, `b` or `c`, or `text.len()`; eight bytes at
/// a time (SWAR), faster than `memchr3` on short lines.
fn find3(text: &[u8], mut i: usize, a: u8, b: u8, c: u8) -> usize {
    let splat = |x: u8| ONES * u64::from(x);
    while let Some(w) = word(text, i) {
        let m = zero_bytes(w ^ splat(a)) | zero_bytes(w ^ splat(b)) | zero_bytes(w ^ splat(c));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&x) = text.get(i)
        && x != a
        && x != b
        && x != c
    {
        i += 1;
    }
    i.min(text.len())
}

/// The first byte at or after `i` that may end or split a token: below `!` (whitespace and
/// other control bytes), `:` or `|`; `text.len()` if none. Eight bytes at a time (SWAR: in
/// each mask, the lowest flagged byte is always a true match).
fn next_candidate(text: &[u8], mut i: usize) -> usize {
    while let Some(w) = word(text, i) {
        let below = w.wrapping_sub(ONES * 0x21) & !w & HIGHS;
        let m = below
            | zero_bytes(w ^ (ONES * u64::from(b':')))
            | zero_bytes(w ^ (ONES * u64::from(b'|')));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = text.get(i)
        && b > b' '
        && b != b':'
        && b != b'|'
    {
        i += 1;
    }
    i.min(text.len())
}

/// Parses the features of a line (empty, or starting with `|`) into `sink`.
fn parse_features(text: &[u8], sink: &mut impl Sink) -> Result<(), String> {
    let n = text.len();
    let mut weight = 1.0f32;
    let mut in_namespace = false;
    let mut i = 0;
    while i < n {
        if is_ws(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut colon = usize::MAX;
        let mut bars = 0u32;
        loop {
            i = next_candidate(text, i);
            match text.get(i) {
                None | Some(b' ' | b'\t' | b'\r') => break,
                Some(b':') if colon == usize::MAX => colon = i,
                Some(b'|') => bars += 1,
                Some(_) => {}
            }
            i += 1;
        }
        let token = &text[start..i];
        let (name, value) = if colon == usize::MAX {
            (token, None)
        } else {
            (&text[start..colon], Some(&text[colon + 1..i]))
        };
        if token[0] == b'|' {
            let name = &name[1..];
            if bars > 1 {
                return Err(format!(
                    "namespace \"{}\": '|' inside a namespace name",
                    show(token)
                ));
            }
            weight = match value {
                None => 1.0,
                Some(v) => parse_f32(v).filter(|w| w.is_finite()).ok_or_else(|| {
                    format!(
                        "namespace \"{}\": weight \"{}\" is not a finite number",
                        show(token),
                        show(v)
                    )
                })?,
            };
            sink.namespace(name);
            in_namespace = true;
            continue;
        }
        if bars > 0 {
            return Err(format!(
                "feature \"{}\": '|' inside a feature (put whitespace before a namespace)",
                show(token)
            ));
        }
        if !in_namespace {
            return Err(format!(
                "feature \"{}\" before the first '|' namespace",
                show(token)
            ));
        }
        if name.is_empty() {
            return Err(format!("feature \"{}\": empty feature name", show(token)));
        }
        let value = match value {
            None => weight,
            Some(v) => {
                let x = parse_f32(v).ok_or_else(|| {
                    format!(
                        "feature \"{}\": value \"{}\" is not a number",
                        show(token),
                        show(v)
                    )
                })?;
                if !x.is_finite() {
                    return Err(format!(
                        "feature \"{}\": value {x} is not finite",
                        show(token)
                    ));
                }
                let y = x * weight;
                if !y.is_finite() {
                    return Err(format!(
                        "feature \"{}\": value {x} times the namespace weight {weight} is not \
                         finite",
                        show(token)
                    ));
                }
                y
            }
        };
        sink.feature(name, value);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Examples, line by line

/// A parse error at a line counted from the start of a chunk (1-based).
struct Bad {
    line: usize,
    reason: String,
}

/// Lines of a byte buffer, counted.
struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Lines {
            data,
            pos: 0,
            line: 0,
        }
    }

    fn next_line(&mut self) -> Option<&'a [u8]> {
        let rest = self.data.get(self.pos..).filter(|r| !r.is_empty())?;
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        self.pos += len + 1;
        self.line += 1;
        Some(&rest[..len])
    }

    fn bad(&self, reason: String) -> Bad {
        Bad {
            line: self.line,
            reason,
        }
    }
}

/// The state of the example being read: its first line, shared line and actions.
#[derive(Default)]
struct State {
    /// First line (0 outside an example).
    first: usize,
    actions: usize,
    /// Line and label of the labelled action.
    labelled: Option<(usize, Label)>,
}

impl State {
    /// Checks line `line` of kind `shared` may come now, and starts an example if needed.
    fn enter(&mut self, line: usize, shared: bool) -> Result<(), String> {
        if self.first == 0 {
            self.first = line;
        } else if shared && self.actions > 0 {
            return Err(
                "shared line after action lines: end the previous example with a blank line".into(),
            );
        } else if shared {
            return Err("second shared line in one example".into());
        }
        Ok(())
    }

    fn label(&mut self, line: usize, raw: RawLabel) -> Result<(), String> {
        if let Some((other, _)) = self.labelled {
            let up = line - other;
            let s = if up == 1 { "" } else { "s" };
            return Err(format!(
                "a second labelled action in one example (the first is {up} line{s} up); exactly \
                 one action per example is labelled"
            ));
        }
        self.labelled = Some((
            line,
            Label {
                action: self.actions,
                cost: raw.cost,
                probability: raw.probability,
            },
        ));
        Ok(())
    }

    fn check_actions(&self) -> Result<(), Bad> {
        if self.actions == 0 {
            return Err(Bad {
                line: self.first,
                reason: "example has a shared line but no action lines".into(),
            });
        }
        Ok(())
    }
}

/// Parses one chunk (whole examples) into a training batch of labelled actions.
fn parse_training_chunk(chunk: &[u8]) -> Result<Batch, Bad> {
    let mut batch = Batch::default();
    let (mut feats, mut groups) = (Vec::new(), Vec::new());
    let mut names = Namespaces::default();
    let mut state = State::default();
    let mut reward = 0.0f32;
    let mut lines = Lines::new(chunk);
    loop {
        // Fast path for the commonest line, an unlabelled action of plain names (`|A a b=2`):
        // one scan finds its end and shows it is valid without looking at its tokens.
        if chunk.get(lines.pos) == Some(&b'|') {
            let end = find3(chunk, lines.pos + 1, b'\n', b':', b'|');
            if chunk.get(end).is_none_or(|&b| b == b'\n') {
                lines.pos = end + 1;
                lines.line += 1;
                if state.first == 0 {
                    state.first = lines.line;
                }
                state.actions += 1;
                continue;
            }
        }
        let line = lines.next_line();
        let kind = match line {
            None => Line::Blank,
            Some(l) => classify(l).map_err(|r| lines.bad(r))?,
        };
        let at = lines.line;
        let done = match kind {
            Line::Blank => {
                if state.first != 0 {
                    state.check_actions()?;
                    let Some((_, label)) = state.labelled else {
                        return Err(Bad {
                            line: state.first,
                            reason: format!(
                                "the example starting here has {} action lines and none is \
                                 labelled: training needs one labelled action:cost:probability",
                                state.actions
                            ),
                        });
                    };
                    let x = Example {
                        feats: &feats,
                        groups: &groups,
                    };
                    let logged = Logged {
                        label: reward,
                        propensity: label.probability,
                        explore: true,
                    };
                    batch.push(&x, logged);
                    feats.clear();
                    groups.clear();
                    state = State::default();
                }
                line.is_none()
            }
            Line::Shared(text) => {
                state.enter(at, true).map_err(|r| lines.bad(r))?;
                parse_features(text, &mut Hash::new(&mut feats, &mut groups, &mut names))
                    .map_err(|r| lines.bad(r))?;
                false
            }
            Line::Action(None, text) => {
                state.enter(at, false).map_err(|r| lines.bad(r))?;
                parse_features(text, &mut Validate).map_err(|r| lines.bad(r))?;
                state.actions += 1;
                false
            }
            Line::Action(Some(raw), text) => {
                state.enter(at, false).map_err(|r| lines.bad(r))?;
                state.label(at, raw).map_err(|r| lines.bad(r))?;
                parse_features(text, &mut Hash::new(&mut feats, &mut groups, &mut names))
                    .map_err(|r| lines.bad(r))?;
                reward = raw.reward;
                state.actions += 1;
                false
            }
        };
        if done {
            return Ok(batch);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Training: parallel chunks

/// Lines of the file before byte `at`.
fn lines_before(data: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &data[..at]).count()
}

fn is_blank_line(line: &[u8]) -> bool {
    line.iter().all(|&b| is_ws(b))
}

/// The start of the first blank line at or after byte `from` (a line start), or the end.
fn next_boundary(data: &[u8], from: usize) -> usize {
    let mut at = from;
    while at < data.len() {
        // Lines start at 0 or right after a newline.
        let start = if at == 0 {
            0
        } else {
            match memchr::memchr(b'\n', &data[at - 1..]) {
                Some(i) => at + i,
                None => return data.len(),
            }
        };
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        if is_blank_line(&data[start..end]) {
            return start;
        }
        at = end + 1;
    }
    data.len()
}

/// Pieces a batch is parsed in, in parallel.
const PIECES: usize = 8;

/// Bytes for about [`BATCH_EXAMPLES`] / [`PIECES`] examples, estimated from the first MiB.
fn piece_bytes(data: &[u8]) -> usize {
    let sample = &data[..data.len().min(1 << 20)];
    let mut lines = Lines::new(sample);
    let (mut ends, mut inside) = (0usize, false);
    while let Some(l) = lines.next_line() {
        let blank = is_blank_line(l);
        ends += usize::from(inside && blank);
        inside = !blank;
    }
    let per_example = sample.len() / ends.max(1);
    per_example.max(1).saturating_mul(BATCH_EXAMPLES / PIECES)
}

/// A `cb_adf` text as training examples, parsed batch by batch when asked for: each batch's
/// pieces (whole examples each) in parallel on the current rayon pool, so parsing the next
/// batch overlaps learning from the current one and idle threads join in. Each example holds
/// the shared features then the labelled action's features, with
/// `Logged { label: -cost, propensity: probability, explore: true }`. Every line is checked,
/// labelled or not, and errors name the file and line; the first error in the file wins.
pub struct CbAdfText<'a> {
    path: &'a Path,
    data: &'a [u8],
    /// Piece starts, then the end of the text.
    bounds: Vec<usize>,
}

impl<'a> CbAdfText<'a> {
    /// `data`, the text of `path`, in batches of about [`BATCH_EXAMPLES`] examples.
    pub fn new(path: &'a Path, data: &'a [u8]) -> Self {
        Self::in_pieces(path, data, piece_bytes(data))
    }

    /// Pieces of about `bytes` bytes, split at blank lines.
    fn in_pieces(path: &'a Path, data: &'a [u8], bytes: usize) -> Self {
        let mut bounds = vec![0];
        while let Some(&last) = bounds.last()
            && last < data.len()
        {
            bounds.push(next_boundary(data, last.saturating_add(bytes.max(1))));
        }
        CbAdfText { path, data, bounds }
    }

    fn pieces(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    fn parse(&self, piece: usize) -> Result<Batch, BanditError> {
        let (start, end) = (self.bounds[piece], self.bounds[piece + 1]);
        parse_training_chunk(&self.data[start..end]).map_err(|bad| BanditError::Parse {
            path: self.path.to_path_buf(),
            line: lines_before(self.data, start) + bad.line,
            reason: bad.reason,
        })
    }

    /// Every batch, parsed in parallel.
    pub fn parse_all(&self) -> Result<Vec<Batch>, BanditError> {
        use rayon::prelude::*;
        let parsed: Vec<Result<Cow<'_, Batch>, BanditError>> = (0..self.batches())
            .into_par_iter()
            .map(|k| self.batch(k))
            .collect();
        parsed
            .into_iter()
            .map(|b| b.map(Cow::into_owned))
            .filter(|b| !b.as_ref().is_ok_and(Batch::is_empty))
            .collect()
    }
}

impl Examples for CbAdfText<'_> {
    fn batches(&self) -> usize {
        self.pieces().div_ceil(PIECES)
    }

    fn batch(&self, k: usize) -> Result<Cow<'_, Batch>, BanditError> {
        use rayon::prelude::*;
        let pieces = k * PIECES..((k + 1) * PIECES).min(self.pieces());
        let parsed: Vec<Result<Batch, BanditError>> =
            pieces.into_par_iter().map(|p| self.parse(p)).collect();
        let mut batch = Batch::default();
        for piece in parsed {
            batch.append(&piece?);
        }
        Ok(Cow::Owned(batch))
    }

    fn logged(&self) -> Result<Box<dyn Iterator<Item = Logged> + '_>, BanditError> {
        let batches = self.parse_all()?;
        let logged: Vec<Logged> = batches.iter().flat_map(|b| b.logged()).collect();
        Ok(Box::new(logged.into_iter()))
    }
}

/// Parses `data` (the text of `path`) into training batches of about [`BATCH_EXAMPLES`]
/// examples, in file order, in parallel (see [`CbAdfText`]).
pub fn read_training(path: &Path, data: &[u8]) -> Result<Vec<Batch>, BanditError> {
    CbAdfText::new(path, data).parse_all()
}

/// [`read_training`] with pieces of about `chunk` bytes.
#[cfg(test)]
fn read_training_in_chunks(
    path: &Path,
    data: &[u8],
    chunk: usize,
) -> Result<Vec<Batch>, BanditError> {
    CbAdfText::in_pieces(path, data, chunk).parse_all()
}

// ---------------------------------------------------------------------------------------
// Prediction: example by example

/// One parsed example: every action's features (shared first), and the label if any.
#[derive(Clone, Debug, Default)]
pub struct CbAdfExample {
    line: usize,
    feats: Vec<Feature>,
    /// The shared groups, then for each action a copy of them followed by its own.
    groups: Vec<Group>,
    shared: usize,
    actions: Vec<Range<usize>>,
    label: Option<Label>,
}

impl CbAdfExample {
    /// The 1-based line of the example's first line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Number of actions (at least 1).
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Always false for a parsed example.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The shared features alone.
    pub fn shared(&self) -> Example<'_> {
        Example {
            feats: &self.feats,
            groups: &self.groups[..self.shared],
        }
    }

    /// Action `k`'s example, shared features first, ready for
    /// [`crate::RewardModel::predict`]. Panics if `k >= self.len()`.
    pub fn action(&self, k: usize) -> Example<'_> {
        Example {
            feats: &self.feats,
            groups: &self.groups[self.actions[k].clone()],
        }
    }

    /// The logged action's label, if one action is labelled.
    pub fn label(&self) -> Option<Label> {
        self.label
    }

    fn clear(&mut self) {
        self.line = 0;
        self.feats.clear();
        self.groups.clear();
        self.shared = 0;
        self.actions.clear();
        self.label = None;
    }
}

/// Reads `cb_adf` examples one by one, reusing one [`CbAdfExample`]. Labels are optional (at
/// most one action per example).
pub struct ExampleReader<'a> {
    path: &'a Path,
    lines: Lines<'a>,
    example: CbAdfExample,
    names: Namespaces,
}

impl<'a> ExampleReader<'a> {
    /// A reader of `data`, the text of `path` (named in errors).
    pub fn new(path: &'a Path, data: &'a [u8]) -> Self {
        ExampleReader {
            path,
            lines: Lines::new(data),
            example: CbAdfExample::default(),
            names: Namespaces::default(),
        }
    }

    /// The next example, or `None` at the end of the text.
    pub fn next_example(&mut self) -> Result<Option<&CbAdfExample>, BanditError> {
        match self.read() {
            Ok(true) => Ok(Some(&self.example)),
            Ok(false) => Ok(None),
            Err(bad) => Err(BanditError::Parse {
                path: self.path.to_path_buf(),
                line: bad.line,
                reason: bad.reason,
            }),
        }
    }

    /// Reads the next example into `self.example`; false at the end.
    fn read(&mut self) -> Result<bool, Bad> {
        let ex = &mut self.example;
        ex.clear();
        let mut state = State::default();
        while let Some(line) = self.lines.next_line() {
            let at = self.lines.line;
            let bad = |reason| Bad { line: at, reason };
            match classify(line).map_err(bad)? {
                Line::Blank if state.first == 0 => continue,
                Line::Blank => break,
                Line::Shared(text) => {
                    state.enter(at, true).map_err(bad)?;
                    parse_features(
                        text,
                        &mut Hash::new(&mut ex.feats, &mut ex.groups, &mut self.names),
                    )
                    .map_err(bad)?;
                    ex.shared = ex.groups.len();
                }
                Line::Action(raw, text) => {
                    state.enter(at, false).map_err(bad)?;
                    if let Some(raw) = raw {
                        state.label(at, raw).map_err(bad)?;
                    }
                    let start = ex.groups.len();
                    ex.groups.extend_from_within(..ex.shared);
                    parse_features(
                        text,
                        &mut Hash::new(&mut ex.feats, &mut ex.groups, &mut self.names),
                    )
                    .map_err(bad)?;
                    ex.actions.push(start..ex.groups.len());
                    state.actions += 1;
                }
            }
        }
        if state.first == 0 {
            return Ok(false);
        }
        state.check_actions()?;
        ex.line = state.first;
        ex.label = state.labelled.map(|(_, l)| l);
        Ok(true)
    }
}

/// Calls `f` on every example of `data` (the text of `path`), in order; stops at the first
/// error, of parsing or of `f`.
pub fn for_each_example<E: From<BanditError>>(
    path: &Path,
    data: &[u8],
    mut f: impl FnMut(&CbAdfExample) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = ExampleReader::new(path, data);
    while let Some(ex) = reader.next_example()? {
        f(ex)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Writing

const WS: [char; 2] = [' ', '\t'];

/// Checks `text` is one line of features the reader accepts.
fn check_text(text: &str) -> Result<(), BanditError> {
    let bad = |reason| {
        Err(BanditError::invalid(
            "cb_adf feature text",
            format!("{text:?}"),
            reason,
        ))
    };
    if text.contains(['\n', '\r']) {
        return bad("must be one line");
    }
    let t = text.trim_matches(WS);
    if !(t.is_empty() || t.starts_with('|')) {
        return bad("must start with a '|' namespace");
    }
    if let Err(why) = parse_features(t.as_bytes(), &mut Validate) {
        return Err(BanditError::invalid(
            "cb_adf feature text",
            format!("{text:?} ({why})"),
            "would not read back",
        ));
    }
    Ok(())
}

/// Appends one `cb_adf` example to `out`: `shared` (features such as `|c region=3 share:0.25`,
/// as [`crate::card_features::VwText`] renders them; no shared line if empty), one line per
/// action, the labelled one prefixed with `0:cost:probability`, and a blank line. An action
/// without features is written `|`. Numbers are written so they read back exactly.
pub fn write_example<S: AsRef<str>>(
    out: &mut String,
    shared: &str,
    actions: &[S],
    label: Option<Label>,
) -> Result<(), BanditError> {
    use std::fmt::Write;
    if actions.is_empty() {
        return Err(BanditError::invalid(
            "cb_adf actions",
            0,
            "an example needs at least one action",
        ));
    }
    check_text(shared)?;
    for a in actions {
        check_text(a.as_ref())?;
    }
    if let Some(l) = label {
        if l.action >= actions.len() {
            return Err(BanditError::invalid(
                "cb_adf label action",
                l.action,
                "must be the index of one of the actions",
            ));
        }
        if !(l.probability > 0.0 && l.probability <= 1.0) {
            return Err(BanditError::invalid(
                "cb_adf label probability",
                l.probability,
                "must be in (0, 1]",
            ));
        }
        if cost_to_reward(l.cost).is_none() {
            return Err(BanditError::invalid(
                "cb_adf label cost",
                l.cost,
                "must be in [-1, 0] (-1 for a reward, 0 for none)",
            ));
        }
    }
    let shared = shared.trim_matches(WS);
    if !shared.is_empty() {
        let _ = writeln!(out, "shared {shared}");
    }
    for (k, a) in actions.iter().enumerate() {
        let text = a.as_ref().trim_matches(WS);
        let text = if text.is_empty() { "|" } else { text };
        match label {
            Some(l) if l.action == k => {
                let _ = writeln!(out, "0:{}:{} {text}", l.cost, l.probability);
            }
            _ => {
                let _ = writeln!(out, "{text}");
            }
        }
    }
    out.push('\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card_features::{FeatureSink, Hashing, VwText};
    use crate::features::Features;
    use proptest::prelude::*;

    type Groups = Vec<(u8, Vec<Feature>)>;

    fn groups_of(x: &Example<'_>) -> Groups {
        x.groups
            .iter()
            .map(|g| {
                (
                    g.initial,
                    x.feats[g.start as usize..g.end as usize].to_vec(),
                )
            })
            .collect()
    }

    fn rows(batches: &[Batch]) -> Vec<(Groups, Logged)> {
        batches
            .iter()
            .flat_map(|b| b.iter().map(|(x, l)| (groups_of(&x), l)))
            .collect()
    }

    /// What parsing gives: equal rows, or the same error message.
    fn outcome(r: Result<Vec<Batch>, BanditError>) -> Result<Vec<(Groups, Logged)>, String> {
        r.map(|b| rows(&b)).map_err(|e| e.to_string())
    }

    fn path() -> &'static Path {
        Path::new("file.txt")
    }

    const TWO: &str = "shared |User country=3 hour:0.5
|Action action=1 genre=2
0:-1:0.25 |Action action=2 genre=2 |Extra:2 x:0.5 y
| plain w:3


shared |User country=4
0:0:0.5 |Action action=7
|Action action=8
   |Action action=9 | d\t
";

    fn ns(name: &str) -> Namespace {
        Namespace::new(name.as_bytes())
    }

    #[test]
    fn parses_training_examples_exactly() {
        let (u, a, e) = (ns("User"), ns("Action"), ns("Extra"));
        let batches = read_training(path(), TWO.as_bytes()).unwrap();
        let expected = vec![
            (
                vec![
                    (b'U', vec![(u.id(b"country=3"), 1.0), (u.id(b"hour"), 0.5)]),
                    (
                        b'A',
                        vec![(a.id(b"action=2"), 1.0), (a.id(b"genre=2"), 1.0)],
                    ),
                    (b'E', vec![(e.id(b"x"), 1.0), (e.id(b"y"), 2.0)]),
                ],
                Logged {
                    label: 1.0,
                    propensity: 0.25,
                    explore: true,
                },
            ),
            (
                vec![
                    (b'U', vec![(u.id(b"country=4"), 1.0)]),
                    (b'A', vec![(a.id(b"action=7"), 1.0)]),
                ],
                Logged {
                    label: 0.0,
                    propensity: 0.5,
                    explore: true,
                },
            ),
        ];
        assert_eq!(rows(&batches), expected);
        // Reward 0 is +0, not -0.
        assert!(rows(&batches)[1].1.label.is_sign_positive());
    }

    #[test]
    fn reads_every_action_for_prediction() {
        let (u, a, e, d) = (ns("User"), ns("Action"), ns("Extra"), ns(""));
        let mut seen = Vec::new();
        for_each_example(path(), TWO.as_bytes(), |ex| -> Result<(), BanditError> {
            let actions: Vec<Groups> = (0..ex.len()).map(|k| groups_of(&ex.action(k))).collect();
            seen.push((ex.line(), groups_of(&ex.shared()), actions, ex.label()));
            Ok(())
        })
        .unwrap();
        let shared1 = vec![(b'U', vec![(u.id(b"country=3"), 1.0), (u.id(b"hour"), 0.5)])];
        let shared2 = vec![(b'U', vec![(u.id(b"country=4"), 1.0)])];
        let with = |shared: &Groups, own: Groups| [shared.clone(), own].concat();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, 1);
        assert_eq!(seen[0].1, shared1);
        assert_eq!(
            seen[0].2,
            vec![
                with(
                    &shared1,
                    vec![(
                        b'A',
                        vec![(a.id(b"action=1"), 1.0), (a.id(b"genre=2"), 1.0)]
                    )]
                ),
                with(
                    &shared1,
                    vec![
                        (
                            b'A',
                            vec![(a.id(b"action=2"), 1.0), (a.id(b"genre=2"), 1.0)]
                        ),
                        (b'E', vec![(e.id(b"x"), 1.0), (e.id(b"y"), 2.0)]),
                    ]
                ),
                with(
                    &shared1,
                    vec![(b' ', vec![(d.id(b"plain"), 1.0), (d.id(b"w"), 3.0)])]
                ),
            ]
        );
        assert_eq!(
            seen[0].3,
            Some(Label {
                action: 1,
                cost: -1.0,
                probability: 0.25
            })
        );
        assert_eq!(seen[1].0, 7);
        assert_eq!(seen[1].1, shared2);
        assert_eq!(
            seen[1].2[2],
            with(
                &shared2,
                vec![
                    (b'A', vec![(a.id(b"action=9"), 1.0)]),
                    (b' ', vec![(d.id(b"d"), 1.0)])
                ]
            )
        );
        assert_eq!(
            seen[1].3,
            Some(Label {
                action: 0,
                cost: 0.0,
                probability: 0.5
            })
        );
        // Examples without labels and without shared lines are fine for prediction.
        let mut n = 0;
        for_each_example(
            path(),
            b"\n|A a\n|A b\n\n\n|A c",
            |ex| -> Result<(), BanditError> {
                assert_eq!(ex.label(), None);
                assert!(groups_of(&ex.shared()).is_empty());
                n += ex.len();
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn hashes_like_the_card_featuriser() {
        let (mut text, mut hashed) = (String::new(), Features::default());
        let sinks: [&mut dyn FeatureSink; 2] =
            [&mut VwText(&mut text), &mut Hashing::new(&mut hashed)];
        for sink in sinks {
            sink.namespace("c");
            sink.add("region", 3);
            sink.real("share", 0.1 + 0.2);
            sink.namespace("r");
            sink.real("tiny", 1e-7 / 3.0);
        }
        let mut out = String::new();
        write_example(
            &mut out,
            "",
            &[&text],
            Some(Label {
                action: 0,
                cost: -1.0,
                probability: 1.0,
            }),
        )
        .unwrap();
        let got = rows(&read_training(path(), out.as_bytes()).unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, groups_of(&hashed.example()));
    }

    #[test]
    fn errors_name_file_line_and_reason() {
        // Lines 1-4 are a valid example, 5-6 blank: the bad line is line 7.
        let prefix = "shared |U u\n|A a\n0:0:0.5 |A b\n|A c\n\n\n";
        let cases: &[(&str, usize, &str)] = &[
            (
                "0:-1 |A b",
                7,
                "label \"0:-1\": is not action:cost:probability",
            ),
            ("0:-1:0.5:1 |A b", 7, "is not action:cost:probability"),
            (
                "x:-1:0.5 |A b",
                7,
                "action \"x\" is not a non-negative integer",
            ),
            (
                ":-1:0.5 |A b",
                7,
                "action \"\" is not a non-negative integer",
            ),
            ("0:abc:0.5 |A b", 7, "cost \"abc\" is not a finite number"),
            ("0:-1:0 |A b", 7, "probability 0 is not in (0, 1]"),
            ("0:-1:1.5 |A b", 7, "probability 1.5 is not in (0, 1]"),
            ("0:-1:p |A b", 7, "probability \"p\" is not a number"),
            ("0:1:0.5 |A b", 7, "cost 1 gives reward -1 outside [0, 1]"),
            (
                "0:-2:0.5 |A b",
                7,
                "use cost -1 for a reward (stream, click) and 0 for none",
            ),
            (
                "0:-1:0.5 tag |A b",
                7,
                "expected '|' after the label \"0:-1:0.5\"",
            ),
            (
                "0:-1:0.5 |A b\n|A c:xyz",
                8,
                "feature \"c:xyz\": value \"xyz\" is not a number",
            ),
            (
                "0:-1:0.5 |A b\n|A c:NaN",
                8,
                "feature \"c:NaN\": value NaN is not finite",
            ),
            ("0:-1:0.5 |A b\n|A c:inf", 8, "value inf is not finite"),
            ("0:-1:0.5 |A b\n|A c:", 8, "value \"\" is not a number"),
            (
                "0:-1:0.5 |A b\n|A :3",
                8,
                "feature \":3\": empty feature name",
            ),
            ("0:-1:0.5 |A b\n|A c|B d", 8, "'|' inside a feature"),
            ("0:-1:0.5 |A b\n||A c", 8, "'|' inside a namespace name"),
            (
                "0:-1:0.5 |A b\n|A:w c",
                8,
                "namespace \"|A:w\": weight \"w\" is not a finite",
            ),
            (
                "0:-1:0.5 |A b\n|A:1e30 c:1e30",
                8,
                "times the namespace weight",
            ),
            (
                "0:-1:0.5 |A b\n0:0:0.5 |A c",
                8,
                "a second labelled action in one example (the first is 1 line up)",
            ),
            ("|A b\n|A c", 7, "has 2 action lines and none is labelled"),
            (
                "shared |U v",
                7,
                "example has a shared line but no action lines",
            ),
            (
                "shared |U v\n\n0:0:1 |A",
                7,
                "example has a shared line but no action lines",
            ),
            (
                "shared 0:0:1 |U v\n0:0:1 |A",
                7,
                "shared lines have no label",
            ),
            (
                "shared |U v\nshared |U w\n0:0:1 |A",
                8,
                "second shared line in one example",
            ),
            ("0:0:1 |A\nshared |U v", 8, "shared line after action lines"),
            (
                "hello",
                7,
                "label \"hello\": is not action:cost:probability",
            ),
        ];
        for &(bad, line, reason) in cases {
            let text = format!("{prefix}{bad}\n\n|A ok\n0:0:1 |A\n");
            let err = read_training(path(), text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("file.txt:{line}: ")),
                "{bad:?}: {err}"
            );
            assert!(err.contains(reason), "{bad:?}: {err}");
            // The same with tiny chunks, and the prediction reader where labels are optional.
            let chunked = read_training_in_chunks(path(), text.as_bytes(), 1).unwrap_err();
            assert_eq!(chunked.to_string(), err);
            let read = for_each_example(path(), text.as_bytes(), |_| Ok::<_, BanditError>(()));
            if reason.contains("none is labelled") {
                assert!(read.is_ok());
            } else {
                assert_eq!(read.unwrap_err().to_string(), err, "{bad:?}");
            }
        }
    }

    /// A varied text of `n` examples (optional shared lines, 1-5 actions, CRLF, extra blank
    /// lines, values and weights), with one labelled action each.
    fn generated(n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            let eol = if i % 7 == 3 { "\r\n" } else { "\n" };
            if i % 3 != 0 {
                s += &format!("shared |U country={} hour:{}{eol}", i % 50, i as f32 / 7.0);
            }
            let k = 1 + i % 5;
            for j in 0..k {
                if j == i % k {
                    s += &format!("0:{}:{} ", -((i % 2) as f32), 1.0 / (1 + j) as f64);
                }
                s += &format!(
                    "|A action={j} genre={} |B:{} x:{}{eol}",
                    i % 11,
                    1 + i % 3,
                    j
                );
            }
            s += if i % 5 == 0 { "\n \n" } else { eol };
        }
        s
    }

    #[test]
    fn training_while_parsing_equals_training_on_parsed_batches() {
        use crate::model::{ModelConfig, RewardModel};
        use crate::train::{TrainConfig, fit};
        let text = generated(3000);
        let streamed = CbAdfText::in_pieces(path(), text.as_bytes(), 2048);
        assert!(streamed.batches() > 2);
        let train = |data: &dyn Fn(&mut RewardModel) -> crate::train::TrainStats| {
            let mut m = RewardModel::new(ModelConfig::default()).unwrap();
            let stats = data(&mut m);
            (stats, m)
        };
        let config = TrainConfig::default();
        let (s1, m1) = train(&|m| fit(m, &streamed, &config, |_, _| {}).unwrap());
        let parsed = read_training(path(), text.as_bytes()).unwrap();
        let (s2, m2) = train(&|m| fit(m, parsed.as_slice(), &config, |_, _| {}).unwrap());
        assert_eq!(s1.examples, 3000);
        assert_eq!(s1, s2);
        assert_eq!(m1, m2);
    }

    #[test]
    fn parallel_chunks_equal_one_chunk() {
        let text = generated(5000);
        let one = read_training_in_chunks(path(), text.as_bytes(), usize::MAX).unwrap();
        assert_eq!(one.len(), 1);
        let expected = rows(&one);
        assert_eq!(expected.len(), 5000);
        for chunk in [1, 7, 100, 4096, 100_000] {
            let many = read_training_in_chunks(path(), text.as_bytes(), chunk).unwrap();
            assert!(chunk > 4096 || many.len() > 1);
            assert_eq!(rows(&many), expected, "chunk {chunk}");
        }
        assert_eq!(
            rows(&read_training(path(), text.as_bytes()).unwrap()),
            expected
        );
        // An error deep in the text has its true line, whatever the chunking.
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let at = lines.len() - 40;
        let bad = format!(
            "{}|A x:oops\n{}",
            lines[..at].concat(),
            lines[at..].concat()
        );
        for chunk in [usize::MAX, 1, 100, 4096] {
            let err = read_training_in_chunks(path(), bad.as_bytes(), chunk).unwrap_err();
            let msg = format!("file.txt:{}: feature \"x:oops\"", at + 1);
            assert!(err.to_string().starts_with(&msg), "{err}");
        }
    }

    #[test]
    fn write_then_read_round_trips() {
        let mut text = String::new();
        let mut expected = Vec::new();
        for i in 0..50u32 {
            let mut shared_text = String::new();
            let mut shared = Features::default();
            let sinks: [&mut dyn FeatureSink; 2] = [
                &mut VwText(&mut shared_text),
                &mut Hashing::new(&mut shared),
            ];
            for sink in sinks {
                sink.namespace("c");
                sink.add("region", u64::from(i % 4));
                sink.real("share", i as f32 / 3.0);
            }
            let n = 1 + i as usize % 4;
            let mut actions = Vec::new();
            let mut hashed = Vec::new();
            for j in 0..n {
                let (mut t, mut f) = (String::new(), Features::default());
                let sinks: [&mut dyn FeatureSink; 2] =
                    [&mut VwText(&mut t), &mut Hashing::new(&mut f)];
                for sink in sinks {
                    sink.namespace("i");
                    sink.add("item", j as u64);
                    sink.namespace("r");
                    sink.real("genre_share", (j as f32 + 0.1) / 7.0);
                }
                actions.push(t);
                hashed.push(groups_of(&f.example()));
            }
            let label = (i % 5 != 4).then(|| Label {
                action: i as usize % n,
                cost: -((i % 2) as f32),
                probability: 1.0 / f64::from(1 + i % 9),
            });
            write_example(&mut text, &shared_text, &actions, label).unwrap();
            expected.push((groups_of(&shared.example()), hashed, label));
        }
        let mut got = Vec::new();
        for_each_example(path(), text.as_bytes(), |ex| -> Result<(), BanditError> {
            let shared = groups_of(&ex.shared());
            let actions = (0..ex.len())
                .map(|k| groups_of(&ex.action(k))[shared.len()..].to_vec())
                .collect::<Vec<_>>();
            assert_eq!(groups_of(&ex.action(0))[..shared.len()], shared[..]);
            got.push((shared, actions, ex.label()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, expected);
        // Every example here is labelled but those of i % 5 == 4: training needs them all.
        let err = read_training(path(), text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("none is labelled"), "{err}");
        // The writer refuses what would not read back.
        let mut out = String::new();
        assert!(write_example(&mut out, "", &[] as &[&str], None).is_err());
        assert!(write_example(&mut out, "c x", &["|a"], None).is_err());
        assert!(write_example(&mut out, "", &["|a\nb"], None).is_err());
        let err = write_example(&mut out, "", &["|a x:abc"], None).unwrap_err();
        assert!(
            err.to_string().contains("value \"abc\" is not a number"),
            "{err}"
        );
        let label = |action, cost, probability| {
            Some(Label {
                action,
                cost,
                probability,
            })
        };
        assert!(write_example(&mut out, "", &["|a"], label(1, 0.0, 0.5)).is_err());
        assert!(write_example(&mut out, "", &["|a"], label(0, 1.0, 0.5)).is_err());
        assert!(write_example(&mut out, "", &["|a"], label(0, 0.0, 0.0)).is_err());
        assert!(out.is_empty());
        write_example(&mut out, " ", &["", "|a"], label(0, -0.5, 0.5)).unwrap();
        assert_eq!(out, "0:-0.5:0.5 |\n|a\n\n");
        let rows = rows(&read_training(path(), out.as_bytes()).unwrap());
        assert_eq!(rows[0].1.label, 0.5);
        assert_eq!(reward_to_cost(1.0), -1.0);
        assert_eq!(cost_to_reward(-1.0), Some(1.0));
        assert_eq!(cost_to_reward(0.5), None);
    }

    #[test]
    fn fast_float_parsing_equals_std() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            ".5",
            "5.",
            "-.5",
            "0.1",
            "0.3",
            "1e3",
            "+1",
            "16777216",
            "16777217",
            "0.0000000001",
            "0.00000000001",
            "123456789012345678901",
            "1..2",
            "-",
            ".",
            "",
            "1-",
            "9007199254740993",
            "0.1234567890123456789",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut seed = 7u64;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let digits = (seed >> 33) % 100_000_000_000;
            let point = (seed >> 20) % 13;
            let s = format!("{digits:0>12}");
            cases.push(format!("{}.{}", &s[..point as usize], &s[point as usize..]));
            cases.push(format!("-{}", (seed >> 40) as f32 / 1e4));
        }
        for c in &cases {
            assert_eq!(parse_f32(c.as_bytes()), c.parse::<f32>().ok(), "{c}");
            assert_eq!(parse_f64(c.as_bytes()), c.parse::<f64>().ok(), "{c}");
            if let Some(x) = parse_f32(c.as_bytes()) {
                assert_eq!(
                    x.is_sign_negative(),
                    c.parse::<f32>().unwrap().is_sign_negative()
                );
            }
        }
    }

    #[test]
    fn finds_token_ends_like_a_byte_loop() {
        let alphabet = b"ab=9 :|\t\r\x01\xff";
        let mut seed = 1u64;
        for len in 0..40 {
            for _ in 0..200 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        alphabet[(seed >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                for i in 0..=len {
                    let expected = (i..len)
                        .find(|&j| text[j] <= b' ' || text[j] == b':' || text[j] == b'|')
                        .unwrap_or(len);
                    assert_eq!(next_candidate(&text, i), expected, "{text:?} from {i}");
                    let expected = (i..len)
                        .find(|&j| matches!(text[j], b'=' | b':' | b'\xff'))
                        .unwrap_or(len);
                    assert_eq!(
                        find3(&text, i, b'=', b':', 0xff),
                        expected,
                        "{text:?} from {i}"
                    );
                }
            }
        }
    }

    fn text_strategy() -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&[u8]> = vec![
            b"shared",
            b" ",
            b" ",
            b"|",
            b"|A",
            b"|B:2",
            b":",
            b"0",
            b"1",
            b"-1",
            b"0.5",
            b"a",
            b"x=3",
            b"\n",
            b"\n",
            b"\n\n",
            b"\t",
            b"\r",
            b"nan",
            b"\xc3\xa9",
            b"\xff",
            b"1e39",
            b"0:-1:0.5 ",
            b"0:0:1 ",
            b"|A a b:2\n",
        ];
        // Whole lines, mostly valid, so that many texts parse.
        let lines: Vec<&[u8]> = vec![
            b"shared |U u v:0.5\n",
            b"|A a b=2\n",
            b"|A a\r\n",
            b" |A a\n",
            b"|A a:2 |B:0.5 c\n",
            b"| d\n",
            b"0:-1:0.5 |A a b:2\n",
            b"0:0:1 |A x\n",
            b"0:-1:0.25|A x\n",
            b"\n",
            b"\n",
            b" \t\n",
        ];
        // Valid examples: an optional shared line, 1-4 actions, one of them labelled.
        let actions: Vec<&[u8]> = vec![
            b"|A a b=2",
            b"|A a\r",
            b" |A a",
            b"|A a:2 |B:0.5 c",
            b"| d",
            b"|A:-1 x:1e-3\t",
            b"|",
        ];
        let labels: Vec<&[u8]> = vec![b"0:-1:0.5 ", b"0:0:1 ", b"1:-0.25:0.125", b"3:-1:1e-3 "];
        let example = (
            any::<bool>(),
            prop::collection::vec(prop::sample::select(actions), 1..5),
            any::<prop::sample::Index>(),
            prop::sample::select(labels),
            prop::sample::select(vec![&b"\n"[..], b"\n\n", b"\r\n \n"]),
        )
            .prop_map(|(shared, actions, at, label, end)| {
                let mut s = Vec::new();
                if shared {
                    s.extend_from_slice(b"shared |U u v:0.5\n");
                }
                let at = at.index(actions.len());
                for (k, a) in actions.iter().enumerate() {
                    if k == at {
                        s.extend_from_slice(label);
                    }
                    s.extend_from_slice(a);
                    s.push(b'\n');
                }
                s.extend_from_slice(end);
                s
            });
        prop_oneof![
            prop::collection::vec(example, 0..20).prop_map(|v| v.concat()),
            prop::collection::vec(prop::sample::select(pieces), 0..80).prop_map(|v| v.concat()),
            prop::collection::vec(prop::sample::select(lines), 0..40).prop_map(|v| v.concat()),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_all_readers_agree(text in text_strategy()) {
            let one = outcome(read_training_in_chunks(path(), &text, usize::MAX));
            for chunk in [1, 5, 17] {
                prop_assert_eq!(&outcome(read_training_in_chunks(path(), &text, chunk)), &one);
            }
            // The prediction reader (no fast paths) sees the same labelled examples and the
            // same first error, but for examples without a label, which only training refuses.
            let mut reader = ExampleReader::new(path(), &text);
            let mut labelled = Vec::new();
            let error = loop {
                match reader.next_example() {
                    Ok(Some(ex)) => {
                        for k in 0..ex.len() {
                            let _ = ex.action(k).atoms().count();
                        }
                        if let Some(l) = ex.label() {
                            let logged = Logged {
                                label: l.reward().unwrap(),
                                propensity: l.probability,
                                explore: true,
                            };
                            labelled.push((groups_of(&ex.action(l.action)), logged));
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e.to_string()),
                }
            };
            match one {
                Ok(rows) => {
                    prop_assert_eq!(error, None);
                    prop_assert_eq!(rows, labelled);
                }
                Err(e) if e.contains("none is labelled") => {}
                Err(e) => prop_assert_eq!(error, Some(e)),
            }
        }
    }

    /// Throughput by hand: `cargo test --release -p bart-bandit vw -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn throughput() {
        let n = std::env::var("VW_N").map_or(1_000_000, |r| r.parse().unwrap_or(1_000_000));
        let mut text = String::with_capacity(n * 260);
        for i in 0..n {
            text += &format!(
                "shared |U country={} hour={} device={}\n",
                i % 50,
                i % 24,
                i % 3
            );
            for j in 0..10 {
                if j == i % 10 {
                    text += &format!("0:{}:0.1 ", -((i % 2) as i32));
                }
                text += &format!("|A action={j} genre={}\n", (i + j) % 30);
            }
            text += "\n";
        }
        // CPU seconds of this process's threads (Linux), to see the cost on a busy machine.
        let cpu = || -> f64 {
            let tasks = std::fs::read_dir("/proc/self/task")
                .into_iter()
                .flatten()
                .flatten();
            let ns = tasks.filter_map(|t| {
                let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
                stat.split(' ').next()?.parse::<f64>().ok()
            });
            ns.sum::<f64>() / 1e9
        };
        let runs = std::env::var("VW_RUNS").map_or(3, |r| r.parse().unwrap_or(3));
        for _ in 0..runs {
            let (t, c) = (std::time::Instant::now(), cpu());
            let batches = read_training(path(), text.as_bytes()).unwrap();
            let (s, c) = (t.elapsed().as_secs_f64(), cpu() - c);
            let count: usize = batches.iter().map(Batch::len).sum();
            assert_eq!(count, n);
            println!(
                "{n} examples ({} MB) in {} batches, {s:.3} s: {:.2} M examples/s on {} \
                 threads; {c:.2} CPU s: {:.2} M examples per CPU second",
                text.len() / 1_000_000,
                batches.len(),
                n as f64 / s / 1e6,
                rayon::current_num_threads(),
                n as f64 / c / 1e6,
            );
        }
    }
}
