//! Page assembly: shelves ordered one row at a time from the shrinking set of shelves, cards
//! within each shelf drawn one at a time from its shrinking candidate set, every choice with
//! its exact conditional probability.
//!
//! The page rules shrink the candidates before the first draw ([`PagePlan::new`]): each item
//! is kept on one shelf only, the one that ranks it highest by its own prior (no item twice on
//! a page), a shelf keeps at most `max_per_artist` items of an artist (its first), shelves left with fewer than
//! `min_cards` items are dropped (their items go back to the other shelves), and pinned shelves
//! take their rows. No draw can then break a rule, so every draw is a plain draw from a
//! shrinking set, its probability is the policy's own, and for ε-greedy the slot marginals
//! stay exact.
//!
//! The rules look at the candidates only, never at the scores, so every policy in a context
//! draws from the same shelves and items: a logging policy that explores covers every slot a
//! target policy can use, which keeps off-policy estimates unbiased.
//!
//! Shelf order depends on shelf scores r' fixed before any card is drawn (the mean of each
//! shelf's best `cards_per_shelf` item scores), so the row of a shelf and the cards inside it
//! are independent given the context and P(item j at row r, column c) factorises into
//! P(shelf at row r) * P(j at column c | shelf). For ε-greedy that makes slot propensities
//! exact and cheap.

use crate::candidates::CandidateShelf;
use crate::error::BanditError;
use crate::item_set::ItemSet;
use crate::policy::{Marginals, Policy, Ranking, Scores};
use crate::shelf_model::ShelfSummary;
use bart_core::{
    ArtistId, Card, Explanation, ExplanationKind, Exploration, ImpressionId, ItemId, Page, Shelf,
};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rustc_hash::FxHashMap;
use std::str::FromStr;
use std::sync::OnceLock;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The shape of a page and its rules.
#[derive(Clone, Debug, PartialEq)]
pub struct PageConfig {
    /// Maximum number of shelves (rows).
    pub rows: usize,
    /// Maximum number of cards per shelf.
    pub cards_per_shelf: usize,
    /// Shelves with fewer valid items are dropped.
    pub min_cards: usize,
    /// At most this many cards of one artist in a shelf.
    pub max_per_artist: Option<usize>,
    /// Shelves placed at fixed rows, e.g. "Jump back in" first.
    pub pinned: Vec<Pin>,
}

impl Default for PageConfig {
    fn default() -> Self {
        PageConfig {
            rows: 5,
            cards_per_shelf: 5,
            min_cards: 3,
            max_per_artist: None,
            pinned: Vec::new(),
        }
    }
}

/// A shelf pinned to a row: the first shelf of `kind` always takes `row` (when the page has
/// that many rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The kind of shelf pinned.
    pub kind: ExplanationKind,
    /// Its row, from 0 (top).
    pub row: usize,
}

impl FromStr for Pin {
    type Err = BanditError;

    /// Parses `kind=row`, e.g. `jump_back_in=0`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| BanditError::invalid("pin", s, why);
        let (kind, row) = s
            .split_once('=')
            .ok_or_else(|| bad("expected KIND=ROW, e.g. jump_back_in=0".into()))?;
        let kind = ExplanationKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(|| {
                let names: Vec<_> = ExplanationKind::ALL.iter().map(|k| k.name()).collect();
                bad(format!(
                    "unknown kind; expected one of {}",
                    names.join(", ")
                ))
            })?;
        let row = row
            .parse()
            .map_err(|_| bad("the row must be a whole number from 0".into()))?;
        Ok(Pin { kind, row })
    }
}

impl PageConfig {
    /// Checks the shape and rules once, before serving.
    pub fn validate(&self) -> Result<(), BanditError> {
        if self.rows == 0 {
            return Err(BanditError::invalid(
                "rows",
                self.rows,
                "must be at least 1",
            ));
        }
        if self.min_cards == 0 || self.min_cards > self.cards_per_shelf {
            return Err(BanditError::invalid(
                "min_cards",
                self.min_cards,
                "must be in 1..=cards_per_shelf",
            ));
        }
        if self.max_per_artist == Some(0) {
            return Err(BanditError::invalid(
                "max_per_artist",
                0,
                "must be at least 1",
            ));
        }
        for (i, pin) in self.pinned.iter().enumerate() {
            if pin.row >= self.rows {
                return Err(BanditError::invalid(
                    "pin",
                    format!("{}={}", pin.kind.name(), pin.row),
                    format!("row must be below the page's {} rows", self.rows),
                ));
            }
            if self.pinned[..i].iter().any(|p| p.row == pin.row) {
                return Err(BanditError::invalid(
                    "pin",
                    format!("{}={}", pin.kind.name(), pin.row),
                    "another shelf is pinned to that row",
                ));
            }
        }
        Ok(())
    }
}

/// A candidate shelf with the reward model's score of each item (at the top-left slot).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredShelf {
    pub explanation: Explanation,
    pub items: Vec<ItemId>,
    /// The model's score of each item (the bags' mean under bagging).
    pub scores: Vec<f64>,
    /// `bags[b][i]`: bagged model b's score of item i, for Thompson sampling; else empty.
    pub bags: Vec<Vec<f64>>,
}

/// Scored candidate shelves of one context, made from a recommender's
/// [`Candidates`](crate::Candidates) (by `Recommender::score`, `score_bags` or
/// [`Candidates::scored_by`](crate::Candidates::scored_by)) and read-only, so they still obey
/// its page rules: `Recommender::plan` does not check them again.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredShelves {
    pub(crate) shelves: Vec<ScoredShelf>,
    /// The number of the recommender whose rules they obey.
    pub(crate) rules: u64,
}

impl std::ops::Deref for ScoredShelves {
    type Target = [ScoredShelf];

    fn deref(&self) -> &[ScoredShelf] {
        &self.shelves
    }
}

/// The RNG seed of a page, derived from its impression id.
pub fn seed_for(impression: ImpressionId) -> u64 {
    xxh3_64_with_seed(&impression.0.to_le_bytes(), 0xBA27)
}

/// A shelf the rules let through: the items it keeps (in candidate order) with their scores,
/// and its shelf score.
#[derive(Clone, Debug)]
pub struct PlannedShelf {
    pub explanation: Explanation,
    pub items: Vec<ItemId>,
    pub scores: Vec<f64>,
    /// Per bag, as in [`ScoredShelf::bags`].
    pub bags: Vec<Vec<f64>>,
    /// The shelf score r'.
    pub score: f64,
    /// The shelf score under each bag.
    pub bag_scores: Vec<f64>,
    /// Its best `cards_per_shelf + 1` items by score, for its summary, draws and marginals.
    ranking: Ranking,
    /// The marginals of its card draws, when the policy has them: worked out the first time
    /// they are needed (only shelves that are shown, or asked about, pay for them).
    cards: OnceLock<Option<Marginals>>,
}

/// Everything about a page fixed before the first draw: the shelves and items the rules
/// allow, the pinned rows, the shelf scores and, for ε-greedy, the exact slot propensities.
#[derive(Clone, Debug)]
pub struct PagePlan {
    policy: Policy,
    cards_per_shelf: usize,
    shelves: Vec<PlannedShelf>,
    /// The planned shelf at each row, `None` for rows the policy fills.
    fixed: Vec<Option<usize>>,
    /// Shelves drawn into the free rows, in plan order, with their scores (and per bag).
    free: Vec<usize>,
    free_scores: Vec<f64>,
    free_bags: Vec<Vec<f64>>,
    /// The best `free rows + 1` of the free shelves by score.
    free_ranking: Ranking,
    rows: Option<Marginals>,
}

impl PagePlan {
    /// Applies `config`'s rules to `shelves` and prepares `policy`'s draws. `artist_of` gives
    /// an item's artist for the per-artist cap (items without one are not capped);
    /// `shelf_score` is r', from a shelf's explanation and the summary of the scores of the
    /// items it keeps (`|_, s| s.top_mean` without a shelf model). Thompson sampling over N
    /// bags needs every shelf scored by exactly N bags (see `Recommender::score_bags`); other
    /// policies ignore bags.
    pub fn new(
        shelves: &[ScoredShelf],
        policy: Policy,
        config: &PageConfig,
        artist_of: &dyn Fn(ItemId) -> Option<ArtistId>,
        shelf_score: &dyn Fn(&Explanation, &ShelfSummary) -> f64,
    ) -> Result<Self, BanditError> {
        let items: Vec<&[ItemId]> = shelves.iter().map(|s| s.items.as_slice()).collect();
        let kept = apply_rules(&items, config, artist_of);
        Self::with_kept(shelves, kept, policy, config, shelf_score)
    }

    /// [`PagePlan::new`] for shelves known to obey `config`'s rules (a recommender's
    /// [`ScoredShelves`]), which keeps every item without checking.
    pub(crate) fn obeying(
        shelves: &[ScoredShelf],
        policy: Policy,
        config: &PageConfig,
        shelf_score: &dyn Fn(&Explanation, &ShelfSummary) -> f64,
    ) -> Result<Self, BanditError> {
        let kept = keep_all(shelves.len());
        Self::with_kept(shelves, kept, policy, config, shelf_score)
    }

    /// The plan of `shelves` of which the rules keep `kept`: each kept shelf with the items
    /// it keeps.
    fn with_kept(
        shelves: &[ScoredShelf],
        kept: Vec<(usize, Kept)>,
        policy: Policy,
        config: &PageConfig,
        shelf_score: &dyn Fn(&Explanation, &ShelfSummary) -> f64,
    ) -> Result<Self, BanditError> {
        let bag_count = match policy.exploration() {
            Exploration::Thompson { bags } => bags as usize,
            _ => 0,
        };
        if bag_count > 0 {
            for shelf in shelves {
                let fits = shelf.bags.len() == bag_count
                    && shelf.bags.iter().all(|b| b.len() == shelf.items.len());
                if !fits {
                    return Err(BanditError::invalid(
                        "bags",
                        format!("{} on shelf {}", shelf.bags.len(), shelf.explanation),
                        format!(
                            "Thompson sampling over {bag_count} bags needs {bag_count} bagged \
                             scores of every item (score with Recommender::score_bags)"
                        ),
                    ));
                }
            }
        }
        let k = config.cards_per_shelf;
        let planned: Vec<PlannedShelf> = kept
            .into_iter()
            .map(|(s, keep)| {
                let source = &shelves[s];
                let bags = &source.bags[..bag_count];
                let (items, scores, bags): (Vec<ItemId>, Vec<f64>, Vec<Vec<f64>>) = match keep {
                    Kept::All => (source.items.clone(), source.scores.clone(), bags.to_vec()),
                    Kept::Only(keep) => {
                        let gather = |xs: &[f64]| keep.iter().map(|&j| xs[j]).collect();
                        (
                            keep.iter().map(|&j| source.items[j]).collect(),
                            gather(&source.scores),
                            bags.iter().map(|bag| gather(bag)).collect(),
                        )
                    }
                };
                let r = |summary| shelf_score(&source.explanation, &summary);
                let ranking = Ranking::new(&scores, k + 1);
                PlannedShelf {
                    explanation: source.explanation,
                    items,
                    score: r(ShelfSummary::ranked(&scores, &ranking, k)),
                    bag_scores: bags.iter().map(|b| r(ShelfSummary::of(b, k))).collect(),
                    cards: OnceLock::new(),
                    ranking,
                    scores,
                    bags,
                }
            })
            .collect();
        let page_rows = config.rows.min(planned.len());
        let mut fixed = vec![None; page_rows];
        for pin in config.pinned.iter().filter(|p| p.row < page_rows) {
            fixed[pin.row] = (0..planned.len())
                .find(|&v| planned[v].explanation.kind() == pin.kind && !fixed.contains(&Some(v)));
        }
        let free: Vec<usize> = (0..planned.len())
            .filter(|v| !fixed.contains(&Some(*v)))
            .collect();
        let free_scores: Vec<f64> = free.iter().map(|&v| planned[v].score).collect();
        let free_bags: Vec<Vec<f64>> = (0..bag_count)
            .map(|b| free.iter().map(|&v| planned[v].bag_scores[b]).collect())
            .collect();
        let free_rows = fixed.iter().filter(|f| f.is_none()).count();
        let free_ranking = Ranking::new(&free_scores, free_rows + 1);
        Ok(PagePlan {
            policy,
            cards_per_shelf: k,
            rows: policy.marginals_ranked(&free_scores, Some(&free_ranking), free_rows),
            free_ranking,
            shelves: planned,
            fixed,
            free,
            free_scores,
            free_bags,
        })
    }

    /// The shelves the rules let through, in candidate order.
    pub fn shelves(&self) -> &[PlannedShelf] {
        &self.shelves
    }

    /// One entry per row of the page: the index (into [`shelves`](Self::shelves)) of the
    /// shelf pinned there, or `None` for a row the policy fills.
    pub fn pinned(&self) -> &[Option<usize>] {
        &self.fixed
    }

    /// The marginals of shelf `v`'s card draws, when the policy has them.
    fn card_marginals(&self, v: usize) -> Option<&Marginals> {
        let shelf = &self.shelves[v];
        shelf
            .cards
            .get_or_init(|| {
                let (scores, k) = (&shelf.scores, self.cards_per_shelf);
                self.policy
                    .marginals_ranked(scores, Some(&shelf.ranking), k)
            })
            .as_ref()
    }

    /// P(`shelf` at `row`), when the policy has exact marginals.
    fn row_propensity(&self, row: usize, shelf: usize) -> Option<f64> {
        let Some(fixed) = self.fixed.get(row) else {
            return self.rows.as_ref().map(|_| 0.0);
        };
        match fixed {
            Some(v) => Some(if *v == shelf { 1.0 } else { 0.0 }),
            None => {
                let step = self.fixed[..row].iter().filter(|f| f.is_none()).count();
                let Some(at) = self.free.iter().position(|&v| v == shelf) else {
                    return Some(0.0);
                };
                Some(self.rows.as_ref()?.get(step, at))
            }
        }
    }

    /// P(`item` under `explanation` at (`row`, `column`)) when the policy has exact slot
    /// propensities (ε-greedy): 0 when the slot cannot hold it; `None` for softmax and
    /// Thompson sampling.
    pub fn propensity(
        &self,
        explanation: &Explanation,
        item: ItemId,
        row: usize,
        column: usize,
    ) -> Option<f64> {
        self.rows.as_ref()?;
        let Some(v) = self
            .shelves
            .iter()
            .position(|s| s.explanation == *explanation)
        else {
            return Some(0.0);
        };
        let shelf = &self.shelves[v];
        let Some(j) = shelf.items.iter().position(|&i| i == item) else {
            return Some(0.0);
        };
        Some(self.row_propensity(row, v)? * self.card_marginals(v)?.get(column, j))
    }

    /// The expected number of cards on the page, when the policy has exact marginals: the
    /// sum over shelves of P(shelf shown) times its number of cards.
    pub fn expected_cards(&self) -> Option<f64> {
        (0..self.shelves.len())
            .map(|v| {
                let shown: Option<f64> = (0..self.fixed.len())
                    .map(|r| self.row_propensity(r, v))
                    .sum();
                Some(shown? * self.cards_per_shelf.min(self.shelves[v].items.len()) as f64)
            })
            .sum()
    }

    /// Builds the page for `impression`: the free rows first (the policy over shelf scores,
    /// shrinking), then the cards of each shelf in row order (the policy over item scores,
    /// shrinking). Sampling is seeded from the impression id, so the same inputs always give
    /// the same page.
    pub fn assemble(&self, impression: ImpressionId) -> Page {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed_for(impression));
        let policy = &self.policy;
        let free_scores = Scores {
            mean: &self.free_scores,
            bags: &self.free_bags,
        };
        let free_rows = self.fixed.iter().filter(|f| f.is_none()).count();
        let mut drawn = policy
            .draw_ranked(free_scores, Some(&self.free_ranking), free_rows, &mut rng)
            .into_iter()
            .map(|(at, p)| (self.free[at], p));
        let order: Vec<(usize, f64)> = self
            .fixed
            .iter()
            .map(|f| match f {
                Some(v) => (*v, 1.0),
                None => drawn.next().expect("one draw per free row"),
            })
            .collect();
        let shelves = order
            .into_iter()
            .enumerate()
            .map(|(row, (v, shelf_probability))| {
                let shelf = &self.shelves[v];
                let scores = Scores {
                    mean: &shelf.scores,
                    bags: &shelf.bags,
                };
                let row_p = self.row_propensity(row, v);
                let marginals = self.card_marginals(v);
                let cards = policy
                    .draw_ranked(scores, Some(&shelf.ranking), self.cards_per_shelf, &mut rng)
                    .into_iter()
                    .enumerate()
                    .map(|(column, (j, probability))| Card {
                        item: shelf.items[j],
                        column: column as u16,
                        probability,
                        propensity: row_p.zip(marginals).map(|(r, m)| r * m.get(column, j)),
                        score: shelf.scores[j],
                    })
                    .collect();
                Shelf {
                    explanation: shelf.explanation,
                    row: row as u16,
                    probability: shelf_probability,
                    score: shelf.score,
                    cards,
                }
            })
            .collect();
        Page {
            impression,
            shelves,
        }
    }
}

/// The candidate shelves that obey `config`'s rules: what [`PagePlan::new`] keeps of them,
/// before any scoring (the rules never look at scores).
pub fn obeying_rules(
    candidates: Vec<CandidateShelf>,
    config: &PageConfig,
    artist_of: &dyn Fn(ItemId) -> Option<ArtistId>,
) -> Vec<CandidateShelf> {
    let items: Vec<&[ItemId]> = candidates.iter().map(|c| c.items.as_slice()).collect();
    let mut kept = apply_rules(&items, config, artist_of)
        .into_iter()
        .peekable();
    candidates
        .into_iter()
        .enumerate()
        .filter_map(|(s, mut shelf)| {
            let (_, keep) = kept.next_if(|(k, _)| *k == s)?;
            if let Kept::Only(keep) = keep {
                // In place: the kept indices rise, so each lands at or before where it was.
                for (to, &j) in keep.iter().enumerate() {
                    shelf.items[to] = shelf.items[j];
                }
                shelf.items.truncate(keep.len());
            }
            Some(shelf)
        })
        .collect()
}

/// The items of a shelf that the rules keep.
enum Kept {
    /// Every one.
    All,
    /// Those at these indices, rising.
    Only(Vec<usize>),
}

/// The shelves the rules let through, each with the items it keeps.
///
/// Candidates are taken by position, the first of every shelf, then the second of every
/// shelf, and so on (shelves in candidate order at each position): a candidate is kept unless
/// its item is already on a shelf or its shelf already keeps `max_per_artist` items of its
/// artist. So an item shared by several shelves stays on the one that ranks it highest by its
/// own prior (the earlier shelf on ties). A shelf left with fewer than `min_cards` items is
/// then dropped (the one keeping fewest first, the later on ties) and the rest taken again,
/// until every shelf left is long enough.
fn apply_rules(
    shelves: &[&[ItemId]],
    config: &PageConfig,
    artist_of: &dyn Fn(ItemId) -> Option<ArtistId>,
) -> Vec<(usize, Kept)> {
    let mut placed = ItemSet::default();
    let mut per_artist: FxHashMap<(usize, ArtistId), usize> = FxHashMap::default();
    // Shelves that obey the rules already (as a recommender's candidates under the same rules
    // do) keep everything; one pass tells, and stops at the first item that breaks one.
    let obeys = shelves.iter().enumerate().all(|(s, items)| {
        items.len() >= config.min_cards
            && items.iter().all(|&item| {
                let capped = config
                    .max_per_artist
                    .and_then(|cap| Some((cap, artist_of(item)?)));
                let within = capped.is_none_or(|(cap, artist)| {
                    let n = per_artist.entry((s, artist)).or_default();
                    *n += 1;
                    *n <= cap
                });
                within && placed.insert(item)
            })
    });
    if obeys {
        return keep_all(shelves.len());
    }
    if config.max_per_artist.is_none()
        && let Some(kept) = first_claims(shelves, config.min_cards)
    {
        return kept;
    }
    let mut alive: Vec<bool> = shelves
        .iter()
        .map(|items| items.len() >= config.min_cards)
        .collect();
    let longest = shelves.iter().map(|items| items.len()).max().unwrap_or(0);
    loop {
        placed.clear();
        per_artist.clear();
        let mut keep: Vec<Vec<usize>> = shelves
            .iter()
            .map(|items| Vec::with_capacity(items.len()))
            .collect();
        for j in 0..longest {
            for (s, items) in shelves.iter().enumerate() {
                let Some(&item) = items.get(j).filter(|_| alive[s]) else {
                    continue;
                };
                let capped = config
                    .max_per_artist
                    .and_then(|cap| Some((cap, artist_of(item)?)));
                if let Some((cap, artist)) = capped {
                    if placed.contains(item) {
                        continue;
                    }
                    let n = per_artist.entry((s, artist)).or_default();
                    if *n == cap {
                        continue;
                    }
                    *n += 1;
                }
                if placed.insert(item) {
                    keep[s].push(j);
                }
            }
        }
        let shortest = (0..shelves.len())
            .filter(|&s| alive[s] && keep[s].len() < config.min_cards)
            .min_by_key(|&s| (keep[s].len(), std::cmp::Reverse(s)));
        match shortest {
            Some(s) => alive[s] = false,
            None => {
                return (0..shelves.len())
                    .filter(|&s| alive[s])
                    .map(|s| (s, Kept::Only(std::mem::take(&mut keep[s]))))
                    .collect();
            }
        }
    }
}

/// [`apply_rules`] without a per-artist cap, in two passes over the shelves instead of a
/// sweep across them: a candidate is kept exactly when no candidate of its item comes before
/// it by (position, shelf). `None` when the item ids are too sparse for a table by id.
fn first_claims(shelves: &[&[ItemId]], min_cards: usize) -> Option<Vec<(usize, Kept)>> {
    let entries: usize = shelves.iter().map(|items| items.len()).sum();
    let longest = shelves.iter().map(|items| items.len()).max().unwrap_or(0);
    let top = shelves.iter().flat_map(|items| items.iter()).max()?.index();
    if top > 16 * entries + (1 << 16) || shelves.len() > 1 << 16 || longest > 1 << 16 {
        return None;
    }
    // The (position, shelf) of each item's first candidate, packed so they order as pairs.
    let at = |j: usize, s: usize| (j << 16 | s) as u32;
    let mut first = vec![u32::MAX; top + 1];
    let mut alive: Vec<bool> = shelves
        .iter()
        .map(|items| items.len() >= min_cards)
        .collect();
    loop {
        let live = || (0..shelves.len()).filter(|&s| alive[s]);
        for s in live() {
            for (j, item) in shelves[s].iter().enumerate() {
                let claim = &mut first[item.index()];
                *claim = (*claim).min(at(j, s));
            }
        }
        let keep: Vec<(usize, Vec<usize>)> = live()
            .map(|s| {
                // Without a branch: whether an item is a repeat is as good as random.
                let items = shelves[s];
                let mut kept = vec![0; items.len()];
                let mut n = 0;
                for (j, item) in items.iter().enumerate() {
                    kept[n] = j;
                    n += usize::from(first[item.index()] == at(j, s));
                }
                kept.truncate(n);
                (s, kept)
            })
            .collect();
        let shortest = keep
            .iter()
            .filter(|(_, kept)| kept.len() < min_cards)
            .min_by_key(|&(s, kept)| (kept.len(), std::cmp::Reverse(*s)));
        match shortest {
            Some(&(s, _)) => {
                alive[s] = false;
                for items in shelves {
                    for item in *items {
                        first[item.index()] = u32::MAX;
                    }
                }
            }
            None => {
                let kept = |(s, keep): (usize, Vec<usize>)| {
                    let all = keep.len() == shelves[s].len();
                    (s, if all { Kept::All } else { Kept::Only(keep) })
                };
                return Some(keep.into_iter().map(kept).collect());
            }
        }
    }
}

/// Every shelf with every one of its items.
fn keep_all(shelves: usize) -> Vec<(usize, Kept)> {
    (0..shelves).map(|s| (s, Kept::All)).collect()
}

impl PagePlan {
    /// The policy and the number of cards per shelf, for the likelihoods of logged draws
    /// (`likelihood.rs`).
    pub(crate) fn draw_settings(&self) -> (Policy, usize) {
        (self.policy, self.cards_per_shelf)
    }
}
