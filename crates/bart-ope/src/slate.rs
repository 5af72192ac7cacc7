//! Slate estimators for whole pages: a page is shelves (rows) of cards, drawn row by row from
//! a shrinking set of shelves, then card by card within each shelf, and every draw's
//! probability is known under the logging and the target policy.
//!
//! Each estimator gives every logged card an importance weight; the page is one cluster of
//! [`Sums`], so the values and normal intervals are those of IPS (Σ w r over the target's
//! expected number of cards: a per-card rate) and its self-normalised form (Σ w r / Σ w):
//!
//! - **standard IPS**: the whole page's weight, the product of every draw's ratio (Swaminathan
//!   et al. 2017; obp's SlateStandardIPS). Unbiased for any reward; its variance grows with
//!   the number of draws.
//! - **independent IPS**: each card's slot-marginal ratio, P_e(item at its slot) / P_0(item at
//!   its slot) (obp's SlateIndependentIPS). Unbiased when a card's reward depends on its own
//!   slot only; with DM and DR from a reward model, this is the per-card view.
//! - **cascade IPS** (reward interaction; McInerney et al. 2020, Kiyohara et al. 2022; obp's
//!   SlateRewardInteractionIPS): the ratio of the prefix up to the card in reading order (the
//!   shelves and cards of the rows above, the card's shelf, the cards left of it and itself).
//!   Unbiased when a card's reward depends on what was shown before it.
//! - **shelf-cascade IPS**: the same by shelf, the prefix including the card's whole row:
//!   unbiased when a card's reward depends on its row and the rows above.
//! - **pseudo-inverse** (PI; Swaminathan et al. 2017) for rewards additive over slots: every
//!   card gets Σ_k w_k - (K - 1) over the page's K independent-IPS weights w_k. That is PI's
//!   closed form for a logging policy whose slots are drawn independently; bart draws without
//!   replacement, so here PI carries a small bias (the simulation reports it), in exchange for
//!   a variance that grows with K rather than exponentially.
//!
//! Because a row's draws depend only on the rows above and a card's only on its shelf and the
//! cards left of it, a prefix's probability is the product of its draws' conditional
//! probabilities under either policy.

use crate::error::OpeError;
use crate::estimate::{Estimate, Estimator, Sums, Terms, Tuning};
use serde::Serialize;

/// A policy's probabilities of one draw: conditional on the draws before it, and the
/// marginal (slot) probability when the policy has one in closed form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    pub conditional: f64,
    pub marginal: Option<f64>,
}

/// A logged card: its reward, the reward model's prediction q̂ for it (0 without one), and
/// its draw's probabilities under the logging and the target policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlateCard {
    pub reward: f64,
    pub predicted: f64,
    pub logging: Draw,
    pub target: Draw,
}

/// A logged row: the conditional probabilities of its shelf at that row given the shelves
/// above, under the logging and the target policy, and its cards left to right.
#[derive(Clone, Debug, PartialEq)]
pub struct SlateShelf {
    pub logging: f64,
    pub target: f64,
    pub cards: Vec<SlateCard>,
}

/// A logged page, rows top to bottom, with what the target is expected to do in its context.
#[derive(Clone, Debug, PartialEq)]
pub struct SlatePage {
    pub shelves: Vec<SlateShelf>,
    /// The target's expected number of cards in this context.
    pub expected_cards: f64,
    /// The reward model's estimate of the target's expected reward (streams) on this page,
    /// Σ over slots and items of P_e(item at slot) q̂; `None` without a reward model.
    pub direct: Option<f64>,
}

/// How a slate estimator weights a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    Standard,
    Independent,
    Cascade,
    ShelfCascade,
    PseudoInverse,
}

impl Weighting {
    /// Every weighting, in the order reports list them.
    pub const ALL: [Weighting; 5] = [
        Weighting::Independent,
        Weighting::Standard,
        Weighting::Cascade,
        Weighting::ShelfCascade,
        Weighting::PseudoInverse,
    ];

    /// Whether the weights need the slot marginals of both policies.
    pub fn needs_marginals(self) -> bool {
        matches!(self, Weighting::Independent | Weighting::PseudoInverse)
    }

    /// The estimator's name, plain (IPS) or self-normalised.
    pub fn name(self, self_normalised: bool) -> &'static str {
        match (self, self_normalised) {
            (Weighting::Standard, false) => "standard IPS",
            (Weighting::Standard, true) => "standard SNIPS",
            (Weighting::Independent, false) => "independent IPS",
            (Weighting::Independent, true) => "independent SNIPS",
            (Weighting::Cascade, false) => "cascade IPS",
            (Weighting::Cascade, true) => "cascade SNIPS",
            (Weighting::ShelfCascade, false) => "shelf-cascade IPS",
            (Weighting::ShelfCascade, true) => "shelf-cascade SNIPS",
            (Weighting::PseudoInverse, false) => "PI",
            (Weighting::PseudoInverse, true) => "SNPI",
        }
    }
}

/// Every card's weight under `weighting`, rows top to bottom and cards left to right; `None`
/// when the weighting needs marginals the page lacks. `page` is the page's index in errors.
pub fn weights(
    slate: &SlatePage,
    weighting: Weighting,
    page: usize,
) -> Result<Option<Vec<f64>>, OpeError> {
    validate(slate, page)?;
    let cards = slate.shelves.iter().flat_map(|s| &s.cards);
    let independent: Option<Vec<f64>> = cards
        .clone()
        .map(|c| Some(c.target.marginal? / c.logging.marginal?))
        .collect();
    let ratio = |d: &SlateCard| d.target.conditional / d.logging.conditional;
    Ok(Some(match weighting {
        Weighting::Independent => match independent {
            Some(w) => w,
            None => return Ok(None),
        },
        Weighting::PseudoInverse => match independent {
            Some(w) => {
                let k = w.len() as f64;
                let pi = w.iter().sum::<f64>() - (k - 1.0);
                vec![pi; w.len()]
            }
            None => return Ok(None),
        },
        Weighting::Standard => {
            let whole: f64 = slate
                .shelves
                .iter()
                .map(|s| s.target / s.logging * s.cards.iter().map(ratio).product::<f64>())
                .product();
            vec![whole; cards.count()]
        }
        Weighting::Cascade | Weighting::ShelfCascade => {
            let mut out = Vec::new();
            let mut prefix = 1.0;
            for s in &slate.shelves {
                prefix *= s.target / s.logging;
                if weighting == Weighting::Cascade {
                    for c in &s.cards {
                        prefix *= ratio(c);
                        out.push(prefix);
                    }
                } else {
                    prefix *= s.cards.iter().map(ratio).product::<f64>();
                    out.extend(std::iter::repeat_n(prefix, s.cards.len()));
                }
            }
            out
        }
    }))
}

/// Refuses probabilities outside their ranges: logging ones in (0, 1], target ones in [0, 1].
fn validate(slate: &SlatePage, page: usize) -> Result<(), OpeError> {
    let check = |field, value: f64, logging: bool| {
        let ok = if logging {
            value > 0.0 && value <= 1.0
        } else {
            (0.0..=1.0).contains(&value)
        };
        if ok {
            Ok(())
        } else {
            Err(OpeError::InvalidProbability {
                field,
                value,
                index: page,
                range: if logging { "(0, 1]" } else { "[0, 1]" },
            })
        }
    };
    for s in &slate.shelves {
        check("logging shelf probability", s.logging, true)?;
        check("target shelf probability", s.target, false)?;
        for c in &s.cards {
            check("logging card probability", c.logging.conditional, true)?;
            check("target card probability", c.target.conditional, false)?;
            if let Some(m) = c.logging.marginal {
                check("logging slot propensity", m, true)?;
            }
            if let Some(m) = c.target.marginal {
                check("target slot propensity", m, false)?;
            }
        }
    }
    if !(slate.expected_cards > 0.0 && slate.expected_cards.is_finite()) {
        return Err(OpeError::InvalidProbability {
            field: "expected number of cards",
            value: slate.expected_cards,
            index: page,
            range: "(0, ∞)",
        });
    }
    Ok(())
}

/// One estimate of a slate report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlateRow {
    pub name: &'static str,
    pub estimate: Estimate,
}

/// An estimator that does not apply, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlateSkipped {
    pub name: &'static str,
    pub reason: String,
}

/// Every slate estimator of one target on a set of pages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlateReport {
    pub pages: u64,
    pub estimates: Vec<SlateRow>,
    pub skipped: Vec<SlateSkipped>,
}

impl SlateReport {
    /// The estimate named `name`, if it was made.
    pub fn get(&self, name: &str) -> Option<&Estimate> {
        self.estimates
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.estimate)
    }
}

/// Names of the reward-model estimators of the per-card (independent) view.
pub const CARD_DM: &str = "DM";
pub const CARD_DR: &str = "DR";
pub const CARD_SNDR: &str = "SNDR";

/// Mergeable single-pass sums of every slate estimator over pages (each page a cluster).
#[derive(Clone, Debug)]
pub struct SlateSums {
    sums: Vec<Sums>,
    /// Some page had no slot marginals: independent IPS and PI do not apply.
    missing_marginals: bool,
    /// Some page had no direct estimate: DM and DR do not apply.
    missing_direct: bool,
    pages: u64,
}

impl SlateSums {
    /// Empty sums.
    pub fn new(tuning: Tuning) -> Self {
        SlateSums {
            sums: vec![Sums::new(tuning); Weighting::ALL.len()],
            missing_marginals: false,
            missing_direct: false,
            pages: 0,
        }
    }

    /// Adds one page (`index` names it in errors). Returns the page's summed terms under the
    /// independent weights, for paired comparisons ([`crate::compare`]), when it has them.
    pub fn add(&mut self, slate: &SlatePage, index: usize) -> Result<Option<Terms>, OpeError> {
        let mut card_terms = None;
        let predicted: Vec<f64> = slate
            .shelves
            .iter()
            .flat_map(|s| s.cards.iter().map(|c| c.predicted))
            .collect();
        let rewards = slate
            .shelves
            .iter()
            .flat_map(|s| s.cards.iter().map(|c| c.reward));
        for (k, &weighting) in Weighting::ALL.iter().enumerate() {
            let Some(w) = weights(slate, weighting, index)? else {
                self.missing_marginals = true;
                continue;
            };
            let sums = &mut self.sums[k];
            for ((w, r), q) in w.into_iter().zip(rewards.clone()).zip(&predicted) {
                sums.add_weighted(w, r, *q)?;
            }
            if weighting == Weighting::Independent {
                if let Some(direct) = slate.direct {
                    sums.add_direct(direct)?;
                }
                card_terms = Some(sums.end_cluster_expecting(slate.expected_cards));
            } else {
                sums.end_cluster_expecting(slate.expected_cards);
            }
        }
        self.missing_direct |= slate.direct.is_none();
        self.pages += 1;
        Ok(card_terms)
    }

    /// Merges sums of other pages.
    pub fn merge(&mut self, other: SlateSums) {
        for (a, b) in self.sums.iter_mut().zip(other.sums) {
            a.merge(b);
        }
        self.missing_marginals |= other.missing_marginals;
        self.missing_direct |= other.missing_direct;
        self.pages += other.pages;
    }

    /// The sums of one weighting.
    pub fn sums(&self, weighting: Weighting) -> &Sums {
        let k = Weighting::ALL.iter().position(|&w| w == weighting);
        &self.sums[k.expect("every weighting has sums")]
    }

    /// Every estimate: for each weighting IPS and its self-normalised form, and DM, DR and
    /// SNDR of the independent (per-card) view when every page had a direct estimate.
    pub fn report(&self) -> SlateReport {
        let mut estimates = Vec::new();
        let mut skipped = Vec::new();
        let mut put = |name: &'static str, result: Result<Estimate, OpeError>| match result {
            Ok(estimate) => estimates.push(SlateRow { name, estimate }),
            Err(e) => skipped.push(SlateSkipped {
                name,
                reason: e.to_string(),
            }),
        };
        for weighting in Weighting::ALL {
            for (normalised, estimator) in [(false, Estimator::Ips), (true, Estimator::Snips)] {
                let name = weighting.name(normalised);
                if weighting.needs_marginals() && self.missing_marginals {
                    put(name, Err(needs(MARGINALS)));
                } else {
                    put(name, self.sums(weighting).estimate(estimator));
                }
            }
        }
        for (name, estimator) in [
            (CARD_DM, Estimator::Dm),
            (CARD_DR, Estimator::Dr),
            (CARD_SNDR, Estimator::Sndr),
        ] {
            if self.missing_marginals {
                put(name, Err(needs(MARGINALS)));
            } else if self.missing_direct {
                put(name, Err(needs("a reward model")));
            } else {
                put(name, self.sums(Weighting::Independent).estimate(estimator));
            }
        }
        SlateReport {
            pages: self.pages,
            estimates,
            skipped,
        }
    }
}

const MARGINALS: &str = "the slot propensities of both policies (ε-greedy logs and target)";

fn needs(what: &str) -> OpeError {
    OpeError::Unsupported(format!("needs {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(conditional: f64, marginal: f64) -> Draw {
        Draw {
            conditional,
            marginal: Some(marginal),
        }
    }

    fn card(reward: f64, logging: Draw, target: Draw) -> SlateCard {
        SlateCard {
            reward,
            predicted: 0.0,
            logging,
            target,
        }
    }

    /// Two shelves of two cards. Logging: shelf draws 1/2 then 1, card draws 1/4 then 1/3,
    /// marginals 0.1 to 0.4. Target: shelf draws 0.8 then 1, cards 0.6, 0.5, 0.3, 0.9,
    /// marginals 0.2 to 0.5. Rewards 1, 0, 1, 1.
    fn page() -> SlatePage {
        SlatePage {
            shelves: vec![
                SlateShelf {
                    logging: 0.5,
                    target: 0.8,
                    cards: vec![
                        card(1.0, draw(0.25, 0.1), draw(0.6, 0.2)),
                        card(0.0, draw(1.0 / 3.0, 0.2), draw(0.5, 0.3)),
                    ],
                },
                SlateShelf {
                    logging: 1.0,
                    target: 1.0,
                    cards: vec![
                        card(1.0, draw(0.25, 0.3), draw(0.3, 0.4)),
                        card(1.0, draw(1.0 / 3.0, 0.4), draw(0.9, 0.5)),
                    ],
                },
            ],
            expected_cards: 4.0,
            direct: None,
        }
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn each_weighting_is_its_formula() {
        let p = page();
        let w = |k| weights(&p, k, 0).unwrap().unwrap();
        // Card ratios: 2.4, 1.5, 1.2, 2.7; shelf ratios 1.6, 1.
        let whole = 1.6 * 2.4 * 1.5 * 1.0 * 1.2 * 2.7;
        close(&w(Weighting::Standard), &[whole; 4]);
        close(&w(Weighting::Independent), &[2.0, 1.5, 4.0 / 3.0, 1.25]);
        close(
            &w(Weighting::Cascade),
            &[1.6 * 2.4, 1.6 * 2.4 * 1.5, 1.6 * 3.6 * 1.2, whole],
        );
        close(
            &w(Weighting::ShelfCascade),
            &[1.6 * 3.6, 1.6 * 3.6, whole, whole],
        );
        let pi = 2.0 + 1.5 + 4.0 / 3.0 + 1.25 - 3.0;
        close(&w(Weighting::PseudoInverse), &[pi; 4]);
        // The standard weight is the ratio of the page's probabilities.
        let target: f64 = 0.8 * 0.6 * 0.5 * 1.0 * 0.3 * 0.9;
        let logging: f64 = 0.5 * 0.25 / 3.0 * 0.25 / 3.0;
        assert!((whole - target / logging).abs() < 1e-9);
    }

    #[test]
    fn estimates_are_the_weighted_sums() {
        let mut sums = SlateSums::new(Tuning::default());
        sums.add(&page(), 0).unwrap();
        let report = sums.report();
        let whole = 1.6 * 2.4 * 1.5 * 1.2 * 2.7;
        // IPS: Σ w r / expected cards; rewards 1, 0, 1, 1.
        let ips = report.get("standard IPS").unwrap().value;
        assert!((ips - 3.0 * whole / 4.0).abs() < 1e-12);
        let snips = report.get("standard SNIPS").unwrap().value;
        assert!((snips - 0.75).abs() < 1e-15);
        let ind = report.get("independent IPS").unwrap().value;
        assert!((ind - (2.0 + 4.0 / 3.0 + 1.25) / 4.0).abs() < 1e-15);
        let cascade = report.get("cascade SNIPS").unwrap().value;
        let c = [3.84, 5.76, 6.912, whole];
        let expect = (c[0] + c[2] + c[3]) / c.iter().sum::<f64>();
        assert!((cascade - expect).abs() < 1e-12);
        // No reward model: DM, DR and SNDR are skipped with the reason.
        assert_eq!(report.skipped.len(), 3);
        assert_eq!(report.skipped[1].name, CARD_DR);
        assert_eq!(report.skipped[1].reason, "needs a reward model");
    }

    #[test]
    fn the_logging_policy_as_target_weighs_every_card_one() {
        let mut p = page();
        for s in &mut p.shelves {
            s.target = s.logging;
            for c in &mut s.cards {
                c.target = c.logging;
            }
        }
        for k in Weighting::ALL {
            close(&weights(&p, k, 0).unwrap().unwrap(), &[1.0; 4]);
        }
    }

    #[test]
    fn self_normalised_forms_of_a_constant_reward_are_the_constant() {
        let mut sums = SlateSums::new(Tuning::default());
        for i in 0..3 {
            let mut p = page();
            // Different pages, different weights.
            p.shelves[0].target = 0.2 + 0.3 * i as f64;
            for s in &mut p.shelves {
                for c in &mut s.cards {
                    c.reward = 0.35;
                }
            }
            sums.add(&p, i).unwrap();
        }
        let report = sums.report();
        for k in Weighting::ALL {
            let v = report.get(k.name(true)).unwrap().value;
            assert!((v - 0.35).abs() < 1e-15, "{}: {v}", k.name(true));
        }
    }

    #[test]
    fn dr_uses_the_direct_estimate_and_the_independent_weights() {
        let mut p = page();
        for s in &mut p.shelves {
            for c in &mut s.cards {
                c.predicted = 0.5;
            }
        }
        p.direct = Some(1.7);
        let mut sums = SlateSums::new(Tuning::default());
        let terms = sums.add(&p, 0).unwrap().unwrap();
        let report = sums.report();
        // DR = (v̂ + Σ w (r - q̂)) / expected cards, w = 2, 1.5, 4/3, 1.25.
        let residuals = 2.0 * 0.5 + 1.5 * -0.5 + 4.0 / 3.0 * 0.5 + 1.25 * 0.5;
        let dr = report.get(CARD_DR).unwrap().value;
        assert!((dr - (1.7 + residuals) / 4.0).abs() < 1e-15);
        assert!((report.get(CARD_DM).unwrap().value - 1.7 / 4.0).abs() < 1e-15);
        assert_eq!(terms[0], 4.0);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    }

    #[test]
    fn missing_marginals_skip_only_the_estimators_that_need_them() {
        let mut p = page();
        p.shelves[1].cards[0].logging.marginal = None;
        let mut sums = SlateSums::new(Tuning::default());
        assert_eq!(sums.add(&p, 0).unwrap(), None);
        let report = sums.report();
        assert!(report.get("cascade IPS").is_some());
        assert!(report.get("independent IPS").is_none());
        assert!(report.get("PI").is_none());
        let names: Vec<_> = report.skipped.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "independent IPS",
                "independent SNIPS",
                "PI",
                "SNPI",
                CARD_DM,
                CARD_DR,
                CARD_SNDR
            ]
        );
    }

    #[test]
    fn invalid_probabilities_name_the_field_and_the_page() {
        let mut p = page();
        p.shelves[1].cards[1].logging.conditional = 0.0;
        let err = SlateSums::new(Tuning::default()).add(&p, 7).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid logging card probability 0 in sample 7: must be in (0, 1]"
        );
        let mut p = page();
        p.shelves[0].target = f64::NAN;
        assert!(matches!(
            weights(&p, Weighting::Standard, 2),
            Err(OpeError::InvalidProbability {
                field: "target shelf probability",
                index: 2,
                ..
            })
        ));
    }
}
