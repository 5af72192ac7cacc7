//! Page assembly: shelves ordered one row at a time from the shrinking set of shelves, cards
//! within each shelf drawn one at a time from its shrinking candidate set, every choice with
//! its exact conditional probability and every card with its exact slot propensity.
//!
//! Shelf order depends on shelf scores that are fixed before any card is drawn (the mean of
//! each shelf's best `cards_per_shelf` item scores), so the row of a shelf and the cards inside
//! it are independent given the context and P(item j at row r, column c) factorises into
//! P(shelf at row r) * P(j at column c | shelf). That makes slot propensities exact and cheap.

use crate::error::BanditError;
use crate::policy::{EpsilonGreedy, Marginals};
use bart_core::{Card, Explanation, ImpressionId, ItemId, Page, Shelf};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The shape of a page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageConfig {
    /// Maximum number of shelves (rows).
    pub rows: usize,
    /// Maximum number of cards per shelf.
    pub cards_per_shelf: usize,
    /// Shelves with fewer valid items are dropped.
    pub min_cards: usize,
}

impl Default for PageConfig {
    fn default() -> Self {
        PageConfig {
            rows: 5,
            cards_per_shelf: 5,
            min_cards: 3,
        }
    }
}

impl PageConfig {
    /// Checks the shape once, before serving.
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
        Ok(())
    }
}

/// A candidate shelf with the reward model's score of each item (at the top-left slot).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredShelf {
    pub explanation: Explanation,
    pub items: Vec<ItemId>,
    pub scores: Vec<f64>,
}

/// The RNG seed of a page, derived from its impression id.
pub fn seed_for(impression: ImpressionId) -> u64 {
    xxh3_64_with_seed(&impression.0.to_le_bytes(), 0xBA27)
}

/// The exact slot propensities of a policy on one set of scored shelves.
#[derive(Clone, Debug)]
pub struct PageMarginals {
    /// Indices into the scored shelves of the shelves long enough to show.
    valid: Vec<usize>,
    shelf_scores: Vec<f64>,
    rows: Marginals,
    /// Per valid shelf, the marginals of its card draws.
    cards: Vec<Marginals>,
}

impl PageMarginals {
    /// The expected number of cards on the page: the sum over shelves of P(shelf shown)
    /// times its number of cards.
    pub fn expected_cards(&self) -> f64 {
        self.cards
            .iter()
            .enumerate()
            .map(|(v, m)| {
                let shown: f64 = (0..self.rows.steps()).map(|r| self.rows.get(r, v)).sum();
                shown * m.steps() as f64
            })
            .sum()
    }
}

impl PageMarginals {
    /// Marginals of `policy` over `shelves` for a page of shape `config`.
    pub fn new(shelves: &[ScoredShelf], policy: &EpsilonGreedy, config: &PageConfig) -> Self {
        let valid: Vec<usize> = (0..shelves.len())
            .filter(|&s| shelves[s].items.len() >= config.min_cards)
            .collect();
        let shelf_scores: Vec<f64> = valid
            .iter()
            .map(|&s| shelf_score(&shelves[s].scores, config.cards_per_shelf))
            .collect();
        let rows = policy.marginals(&shelf_scores, config.rows);
        let cards = valid
            .iter()
            .map(|&s| policy.marginals(&shelves[s].scores, config.cards_per_shelf))
            .collect();
        PageMarginals {
            valid,
            shelf_scores,
            rows,
            cards,
        }
    }

    /// P(`item` under `explanation` at (`row`, `column`)); 0 when that cannot happen.
    pub fn propensity(
        &self,
        shelves: &[ScoredShelf],
        explanation: &Explanation,
        item: ItemId,
        row: usize,
        column: usize,
    ) -> f64 {
        let Some(v) = self
            .valid
            .iter()
            .position(|&s| shelves[s].explanation == *explanation)
        else {
            return 0.0;
        };
        let Some(j) = shelves[self.valid[v]].items.iter().position(|&i| i == item) else {
            return 0.0;
        };
        self.rows.get(row, v) * self.cards[v].get(column, j)
    }
}

/// Shelf-level score r': the mean of the shelf's best `k` item scores.
fn shelf_score(scores: &[f64], k: usize) -> f64 {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    s.truncate(k);
    if s.is_empty() {
        0.0
    } else {
        s.iter().sum::<f64>() / s.len() as f64
    }
}

/// Builds the page for `impression`: rows first (ε-greedy over shelf scores, shrinking), then
/// the cards of each placed shelf (ε-greedy over item scores, shrinking). Sampling is seeded
/// from the impression id, so the same inputs always give the same page.
pub fn assemble(
    shelves: &[ScoredShelf],
    policy: &EpsilonGreedy,
    config: &PageConfig,
    impression: ImpressionId,
) -> Page {
    let marginals = PageMarginals::new(shelves, policy, config);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed_for(impression));
    let order = policy.draw_without_replacement(&marginals.shelf_scores, config.rows, &mut rng);
    let placed = order
        .into_iter()
        .enumerate()
        .map(|(row, (v, shelf_probability))| {
            let shelf = &shelves[marginals.valid[v]];
            let draws =
                policy.draw_without_replacement(&shelf.scores, config.cards_per_shelf, &mut rng);
            let cards = draws
                .into_iter()
                .enumerate()
                .map(|(column, (j, probability))| Card {
                    item: shelf.items[j],
                    column: column as u16,
                    probability,
                    propensity: marginals.rows.get(row, v) * marginals.cards[v].get(column, j),
                    score: shelf.scores[j],
                })
                .collect();
            Shelf {
                explanation: shelf.explanation,
                row: row as u16,
                probability: shelf_probability,
                score: marginals.shelf_scores[v],
                cards,
            }
        })
        .collect();
    Page {
        impression,
        shelves: placed,
    }
}
