//! What off-policy evaluation needs of a target policy on a logged page: the probability the
//! target's plan gives to each of the page's draws, and the target's expectation of a value
//! over the cards it would show.

use crate::error::BanditError;
use crate::page::PagePlan;
use crate::policy::{Policy, Scores};
use bart_core::Page;

/// The conditional probability of every draw of a page under a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Draws {
    /// Per row, top first: P(the row's shelf there | the shelves above); 1 or 0 for a pinned
    /// row.
    pub shelves: Vec<f64>,
    /// Per row, per column: P(the card there | its shelf, the cards left of it).
    pub cards: Vec<Vec<f64>>,
}

impl PagePlan {
    /// The probability this plan's policy gives to each draw of `page`, in the order the page
    /// was drawn: rows from the shrinking set of free shelves, then each shelf's cards from
    /// its shrinking set of items. For a page the plan assembled these are exactly the logged
    /// probabilities. A shelf or item that is not among the plan's candidates is an error (the
    /// page was built from other candidates); a draw the policy cannot make has probability 0.
    pub fn draws(&self, page: &Page) -> Result<Draws, BanditError> {
        let (policy, _) = self.draw_settings();
        let shelves = self.shelves();
        let fixed = self.pinned();
        let bad = |reason: String| BanditError::Replay {
            impression: page.impression.0,
            reason,
        };
        let (free, free_scores, free_bags) = self.free_shelves();
        let mut remaining: Vec<usize> = (0..free.len()).collect();
        let mut scratch = Vec::new();
        let mut draws = Draws {
            shelves: Vec::with_capacity(page.shelves.len()),
            cards: Vec::with_capacity(page.shelves.len()),
        };
        for (row, logged) in page.shelves.iter().enumerate() {
            let v = shelves
                .iter()
                .position(|s| s.explanation == logged.explanation)
                .ok_or_else(|| {
                    bad(format!(
                        "shelf {} at row {row} is not a candidate",
                        logged.explanation
                    ))
                })?;
            let p = match fixed.get(row) {
                None => {
                    return Err(bad(format!(
                        "row {row} is beyond the page's {} rows",
                        fixed.len()
                    )));
                }
                Some(Some(pinned)) => f64::from(u8::from(*pinned == v)),
                Some(None) => {
                    let scores = Scores {
                        mean: &free_scores,
                        bags: &free_bags,
                    };
                    draw(
                        policy,
                        scores,
                        &mut remaining,
                        |i| free[i] == v,
                        &mut scratch,
                    )
                }
            };
            draws.shelves.push(p);
            let shelf = &shelves[v];
            let scores = Scores {
                mean: &shelf.scores,
                bags: &shelf.bags,
            };
            let mut items: Vec<usize> = (0..shelf.items.len()).collect();
            let mut cards = Vec::with_capacity(logged.cards.len());
            for card in &logged.cards {
                let j = shelf
                    .items
                    .iter()
                    .position(|&i| i == card.item)
                    .ok_or_else(|| {
                        bad(format!(
                            "item {} is not a candidate of shelf {}",
                            card.item, logged.explanation
                        ))
                    })?;
                cards.push(draw(policy, scores, &mut items, |i| i == j, &mut scratch));
            }
            draws.cards.push(cards);
        }
        Ok(draws)
    }

    /// The expected total of `value(v, j)` over the cards the plan shows (v indexes
    /// [`shelves`](Self::shelves), j that shelf's items), when the policy has exact
    /// marginals (ε-greedy): Σ_v P(v shown) Σ_j P(j among v's cards | v shown) value(v, j).
    /// With `value` 1 it is [`expected_cards`](Self::expected_cards); with a reward model's
    /// predictions, the target's expected reward on the page.
    pub fn expected_total(&self, value: impl Fn(usize, usize) -> f64) -> Option<f64> {
        let (policy, cards_per_shelf) = self.draw_settings();
        let (free, free_scores, _) = self.free_shelves();
        let free_rows = self.pinned().iter().filter(|f| f.is_none()).count();
        let rows = policy.marginals(&free_scores, free_rows)?;
        let mut total = 0.0;
        for (v, shelf) in self.shelves().iter().enumerate() {
            let shown = match free.iter().position(|&f| f == v) {
                Some(at) => (0..free_rows).map(|t| rows.get(t, at)).sum(),
                None => 1.0,
            };
            if shown == 0.0 {
                continue;
            }
            let cards = policy.marginals(&shelf.scores, cards_per_shelf)?;
            let within: f64 = (0..shelf.items.len())
                .map(|j| {
                    let p: f64 = (0..cards.steps()).map(|c| cards.get(c, j)).sum();
                    if p == 0.0 { 0.0 } else { p * value(v, j) }
                })
                .sum();
            total += shown * within;
        }
        Some(total)
    }

    /// The shelves the policy orders (not pinned), in plan order, with their shelf scores
    /// and their scores under each bag: the set the row draws start from.
    fn free_shelves(&self) -> (Vec<usize>, Vec<f64>, Vec<Vec<f64>>) {
        let shelves = self.shelves();
        let fixed = self.pinned();
        let free: Vec<usize> = (0..shelves.len())
            .filter(|v| !fixed.contains(&Some(*v)))
            .collect();
        let scores = free.iter().map(|&v| shelves[v].score).collect();
        let bag_count = shelves.first().map_or(0, |s| s.bag_scores.len());
        let bags = (0..bag_count)
            .map(|b| free.iter().map(|&v| shelves[v].bag_scores[b]).collect())
            .collect();
        (free, scores, bags)
    }
}

/// The probability `policy` gives to drawing the candidate `is_it` picks out of `remaining`,
/// which then loses it (0 if it is not there: already drawn, or not in this set).
fn draw(
    policy: Policy,
    scores: Scores<'_>,
    remaining: &mut Vec<usize>,
    is_it: impl Fn(usize) -> bool,
    scratch: &mut Vec<f64>,
) -> f64 {
    let Some(at) = remaining.iter().position(|&i| is_it(i)) else {
        return 0.0;
    };
    policy.probabilities(scores, remaining, scratch);
    remaining.remove(at);
    scratch[at]
}

#[cfg(test)]
mod tests {
    use crate::page::{PageConfig, PagePlan, Pin, ScoredShelf};
    use crate::policy::{EpsilonGreedy, Policy};
    use crate::shelf_model::ShelfSummary;
    use bart_core::{
        ArtistId, Explanation, ExplanationKind, Exploration, GenreId, ImpressionId, ItemId, Page,
    };

    const A: Explanation = Explanation::YourTopGenre(GenreId(1));
    const B: Explanation = Explanation::Discover(GenreId(2));

    fn shelves(bags: usize) -> Vec<ScoredShelf> {
        let shelf = |explanation, items: &[u32], scores: &[f64]| ScoredShelf {
            explanation,
            items: items.iter().map(|&i| ItemId(i)).collect(),
            scores: scores.to_vec(),
            bags: (0..bags)
                .map(|b| scores.iter().map(|s| s * (1.0 + b as f64 * 0.3)).collect())
                .collect(),
        };
        vec![
            shelf(A, &[1, 2, 3], &[0.1, 0.5, 0.2]),
            shelf(B, &[4, 5], &[0.3, 0.2]),
        ]
    }

    fn config() -> PageConfig {
        PageConfig {
            rows: 2,
            cards_per_shelf: 2,
            min_cards: 1,
            max_per_artist: None,
            pinned: Vec::new(),
        }
    }

    fn plan(policy: Policy, config: &PageConfig, bags: usize) -> PagePlan {
        let by_top_mean = |_: &Explanation, s: &ShelfSummary| s.top_mean;
        PagePlan::new(
            &shelves(bags),
            policy,
            config,
            &|_| None::<ArtistId>,
            &by_top_mean,
        )
        .unwrap()
    }

    /// A page drawn by the uniform policy: shelf B first, then A; cards 5, 4 and 1, 2.
    fn logged() -> Page {
        let mut page = plan(Policy::uniform(), &config(), 0).assemble(ImpressionId(0));
        page.shelves.sort_by_key(|s| s.explanation != B);
        for (row, s) in page.shelves.iter_mut().enumerate() {
            s.row = row as u16;
            let items: &[u32] = if s.explanation == B { &[5, 4] } else { &[1, 2] };
            for (c, &i) in s.cards.iter_mut().zip(items) {
                c.item = ItemId(i);
            }
        }
        page
    }

    #[test]
    fn epsilon_greedy_draw_probabilities_match_a_hand_computation() {
        let target = plan(EpsilonGreedy::new(0.2).unwrap().into(), &config(), 0);
        let d = target.draws(&logged()).unwrap();
        // Shelf scores: A (0.5 + 0.2) / 2 = 0.35 is greedy over B's 0.25, so P(B first) =
        // ε/2, then A is the only one left. In B, 4 is greedy: P(5) = ε/2, then 4 is alone.
        // In A, 2 is greedy: P(1) = ε/3, then P(2) = 1 - ε + ε/2 from {2, 3}.
        assert_eq!(d.shelves, [0.1, 1.0]);
        assert_eq!(d.cards[0], [0.1, 1.0]);
        assert!((d.cards[1][0] - 0.2 / 3.0).abs() < 1e-16);
        assert!((d.cards[1][1] - 0.9).abs() < 1e-15);
        // The uniform policy: 1/2 then 1 for the rows, 1/2 then 1 in B, 1/3 then 1/2 in A.
        let uniform = plan(Policy::uniform(), &config(), 0);
        let d = uniform.draws(&logged()).unwrap();
        assert_eq!(d.shelves, [0.5, 1.0]);
        assert_eq!(d.cards, [vec![0.5, 1.0], vec![1.0 / 3.0, 0.5]]);
    }

    #[test]
    fn a_plan_gives_its_own_pages_their_logged_probabilities() {
        let policies = [
            (Exploration::EpsilonGreedy { epsilon: 0.3 }, 0),
            (Exploration::Softmax { temperature: 0.1 }, 0),
            (Exploration::Thompson { bags: 3 }, 3),
        ];
        for (exploration, bags) in policies {
            let mut config = config();
            for pinned in [None, Some(1)] {
                config.pinned = pinned
                    .map(|row| Pin {
                        kind: ExplanationKind::Discover,
                        row,
                    })
                    .into_iter()
                    .collect();
                let p = plan(Policy::new(exploration).unwrap(), &config, bags);
                for id in 0..20 {
                    let page = p.assemble(ImpressionId(id));
                    let d = p.draws(&page).unwrap();
                    for (row, s) in page.shelves.iter().enumerate() {
                        assert_eq!(d.shelves[row], s.probability, "{exploration:?}");
                        let logged: Vec<f64> = s.cards.iter().map(|c| c.probability).collect();
                        assert_eq!(d.cards[row], logged, "{exploration:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn pinned_rows_and_impossible_draws() {
        let mut config = config();
        config.pinned = vec![Pin {
            kind: ExplanationKind::YourTopGenre,
            row: 0,
        }];
        // A is pinned to row 0: the logged page with B on top is impossible there.
        let target = plan(EpsilonGreedy::new(0.2).unwrap().into(), &config, 0);
        let d = target.draws(&logged()).unwrap();
        assert_eq!(d.shelves, [0.0, 0.0]);
        // Greedy (ε = 0) never explores: P(5 first in B) = 0.
        let greedy = plan(Policy::greedy(), &self::config(), 0);
        assert_eq!(greedy.draws(&logged()).unwrap().cards[0], [0.0, 1.0]);
    }

    #[test]
    fn foreign_shelves_and_items_are_errors() {
        let target = plan(Policy::uniform(), &config(), 0);
        let mut page = logged();
        page.shelves[1].cards[0].item = ItemId(99);
        let err = target.draws(&page).unwrap_err().to_string();
        assert!(err.contains("item 99 is not a candidate"), "{err}");
        let mut page = logged();
        page.shelves[0].explanation = Explanation::JumpBackIn;
        let err = target.draws(&page).unwrap_err().to_string();
        assert!(err.contains("at row 0 is not a candidate"), "{err}");
    }

    #[test]
    fn expected_total_of_ones_is_the_expected_number_of_cards() {
        for epsilon in [0.0, 0.2, 1.0] {
            let p = plan(EpsilonGreedy::new(epsilon).unwrap().into(), &config(), 0);
            let cards = p.expected_total(|_, _| 1.0).unwrap();
            assert!((cards - p.expected_cards().unwrap()).abs() < 1e-12);
            assert!((cards - 4.0).abs() < 1e-12);
        }
        // Any value: the sum over every slot of P(item there) times the item's value.
        let p = plan(EpsilonGreedy::new(0.2).unwrap().into(), &config(), 0);
        let value = |v: usize, j: usize| (10 * v + j) as f64;
        let mut by_slots = 0.0;
        for (v, s) in p.shelves().iter().enumerate() {
            for (j, &item) in s.items.iter().enumerate() {
                for row in 0..2 {
                    for column in 0..2 {
                        by_slots +=
                            p.propensity(&s.explanation, item, row, column).unwrap() * value(v, j);
                    }
                }
            }
        }
        assert!((p.expected_total(value).unwrap() - by_slots).abs() < 1e-12);
        assert!(
            plan(
                Policy::new(Exploration::Softmax { temperature: 1.0 }).unwrap(),
                &config(),
                0
            )
            .expected_total(|_, _| 1.0)
            .is_none()
        );
    }
}
