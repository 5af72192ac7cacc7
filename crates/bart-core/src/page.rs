//! The home page: shelves (rows) of cards, each choice with its exact probability.

use crate::explanation::Explanation;
use crate::ids::{ImpressionId, ItemId};
use serde::{Deserialize, Serialize};

/// One card on a shelf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub item: ItemId,
    /// Column within the shelf, from 0 (leftmost).
    pub column: u16,
    /// P(this card at this column | shelf, the cards left of it): the probability used to
    /// sample it.
    pub probability: f64,
    /// P(this item at this row and column | context) under the policy that built the page:
    /// the marginal over every way the page could have been drawn, when the policy has an
    /// exact one (ε-greedy). Slot-level off-policy estimators divide by it.
    pub propensity: Option<f64>,
    /// The reward model's score (predicted stream probability) at sampling time.
    pub score: f64,
}

impl Card {
    /// The probability to weight the card's reward by: its slot propensity when the policy
    /// has one, else the conditional probability of its draw (the contextual-bandit view of
    /// each card as one decision).
    pub fn weight_propensity(&self) -> f64 {
        self.propensity.unwrap_or(self.probability)
    }
}

/// One row of the page, titled by its explanation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shelf {
    pub explanation: Explanation,
    /// Row on the page, from 0 (top).
    pub row: u16,
    /// P(this shelf at this row | the shelves above it): the probability used to sample it.
    pub probability: f64,
    /// The shelf-level score used to order shelves.
    pub score: f64,
    pub cards: Vec<Card>,
}

/// A whole home page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub impression: ImpressionId,
    pub shelves: Vec<Shelf>,
}

impl Page {
    /// Natural log of the probability of the whole page: the sum of the logs of every shelf and
    /// card probability.
    pub fn log_probability(&self) -> f64 {
        self.shelves
            .iter()
            .map(|s| s.probability.ln() + s.cards.iter().map(|c| c.probability.ln()).sum::<f64>())
            .sum()
    }

    /// Number of cards on the page.
    pub fn card_count(&self) -> usize {
        self.shelves.iter().map(|s| s.cards.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_probability_sums_every_choice() {
        let card = |item, column, probability| Card {
            item: ItemId(item),
            column,
            probability,
            propensity: Some(probability / 2.0),
            score: 0.1,
        };
        let page = Page {
            impression: ImpressionId(7),
            shelves: vec![Shelf {
                explanation: Explanation::JumpBackIn,
                row: 0,
                probability: 0.5,
                score: 0.1,
                cards: vec![card(1, 0, 0.25), card(2, 1, 0.8)],
            }],
        };
        let expected = (0.5f64 * 0.25 * 0.8).ln();
        assert!((page.log_probability() - expected).abs() < 1e-15);
        assert_eq!(page.card_count(), 2);
    }
}
