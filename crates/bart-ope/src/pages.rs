//! Estimating a policy's per-card stream rate from logged pages: IPS and SNIPS from slot
//! propensities ([`evaluate`]), and every slate estimator of several targets at once
//! ([`evaluate_targets`]).
//!
//! A card's reward depends on its own slot (item, explanation, row, column) and the context,
//! so the expected streams of a page under a target policy are the sum over slots of the
//! target's slot propensities times the expected rewards, and the sum of w * r over a logged
//! page, w = target slot propensity / logged slot propensity, is unbiased for it ("independent
//! IPS" over positions). The per-card rate divides by the target's expected number of cards
//! (IPS) or by the sum of the weights, which estimates it (SNIPS). The target's propensities
//! are exact: the candidates are rebuilt from the logged context and scored with the target's
//! model.

use crate::error::OpeError;
use crate::estimate::{Estimate, Estimator, Sample, Sums, Terms, Tuning};
use crate::slate::{Draw, SlateCard, SlatePage, SlateReport, SlateShelf, SlateSums};
use bart_bandit::{EpsilonGreedy, PagePlan, Recommender, RewardModel, ScoredShelf};
use bart_core::{Explanation, Impression, ItemId};
use rayon::prelude::*;
use serde::Serialize;

/// A policy to evaluate: a reward model (none for uniform random), its shelf model r' (none:
/// shelves by their best cards' mean score) and an ε-greedy policy.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub model: Option<&'a RewardModel>,
    pub shelves: Option<&'a RewardModel>,
    pub policy: EpsilonGreedy,
}

/// A logged page and its joined rewards, `rewards[shelf][card]`.
pub type LoggedPageRef<'a> = (&'a Impression, &'a [Vec<f64>]);

/// IPS and SNIPS estimates of one policy's per-card stream rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PolicyValue {
    pub ips: Estimate,
    pub snips: Estimate,
}

/// The per-card samples of one logged page for evaluating `target`, and the number of cards
/// the target is expected to show in that context.
pub fn page_samples(
    recommender: &Recommender,
    target: &Target,
    (impression, rewards): LoggedPageRef,
) -> Result<(Vec<Sample>, f64), OpeError> {
    let ctx = &impression.context;
    let scored = recommender.score(ctx, recommender.candidates(ctx), target.model);
    let inconsistent = |reason: String| OpeError::Inconsistent {
        impression: impression.id.0,
        reason,
    };
    let plan = recommender
        .plan(ctx, &scored, target.policy.into(), target.shelves)
        .map_err(|e| inconsistent(e.to_string()))?;
    let mut samples = Vec::with_capacity(impression.page.card_count());
    for (s, shelf) in impression.page.shelves.iter().enumerate() {
        for (c, card) in shelf.cards.iter().enumerate() {
            let known = scored
                .iter()
                .any(|sc| sc.explanation == shelf.explanation && sc.items.contains(&card.item));
            if !known {
                return Err(inconsistent(format!(
                    "item {} under {} is not a candidate of the logged context \
                     (were the logs made with other shared models?)",
                    card.item, shelf.explanation
                )));
            }
            let reward = rewards
                .get(s)
                .and_then(|r| r.get(c))
                .copied()
                .ok_or_else(|| inconsistent(format!("no reward for shelf {s} card {c}")))?;
            let logging = card.propensity.ok_or_else(|| {
                inconsistent(format!(
                    "logged by {} without slot propensities; this estimator needs ε-greedy logs",
                    impression.exploration
                ))
            })?;
            let target = plan
                .propensity(
                    &shelf.explanation,
                    card.item,
                    usize::from(shelf.row),
                    usize::from(card.column),
                )
                .expect("ε-greedy has slot propensities");
            samples.push(Sample {
                target,
                logging,
                reward,
            });
        }
    }
    let expected_cards = plan
        .expected_cards()
        .expect("ε-greedy has slot propensities");
    Ok((samples, expected_cards))
}

/// IPS and SNIPS of `target` over logged pages, each page one cluster. Chunks run in
/// parallel and are merged in order, so the result does not depend on the thread count.
pub fn evaluate(
    recommender: &Recommender,
    target: &Target,
    pages: &[LoggedPageRef],
) -> Result<PolicyValue, OpeError> {
    let parts = pages
        .par_chunks(256)
        .map(|chunk| {
            let mut sums = Sums::new(Tuning::default());
            for &page in chunk {
                let (samples, expected_cards) = page_samples(recommender, target, page)?;
                for s in samples {
                    sums.add(s)?;
                }
                sums.end_cluster_expecting(expected_cards);
            }
            Ok(sums)
        })
        .collect::<Result<Vec<_>, OpeError>>()?;
    let mut sums = Sums::new(Tuning::default());
    for part in parts {
        sums.merge(part);
    }
    Ok(PolicyValue {
        ips: sums.estimate(Estimator::Ips)?,
        snips: sums.estimate(Estimator::Snips)?,
    })
}

/// The observed (on-policy) stream rate per card, with pages as clusters.
pub fn stream_rate(pages: &[LoggedPageRef]) -> Result<Estimate, OpeError> {
    let mut acc = Sums::new(Tuning::default());
    for (_, rewards) in pages {
        for &reward in rewards.iter().flatten() {
            acc.add(Sample {
                target: 1.0,
                logging: 1.0,
                reward,
            })?;
        }
        acc.end_cluster();
    }
    acc.finish(Estimator::Ips)
}

/// A reward model's view of one context: its scores of the context's candidates
/// ([`Recommender::score`]) and the target's expected reward by them ([`direct_estimate`]).
#[derive(Clone, Copy, Debug)]
pub struct PageModel<'a> {
    pub scores: &'a [ScoredShelf],
    pub direct: f64,
}

/// The reward model's estimate of the target's expected reward on a page of the context
/// `plan` was made for: Σ over the cards the target may show of P(shown) q̂
/// ([`PagePlan::expected_total`]; q̂ is scored at the top-left slot). The target needs exact
/// marginals (ε-greedy).
pub fn direct_estimate(plan: &PagePlan, scores: &[ScoredShelf]) -> Result<f64, OpeError> {
    let aligned = plan
        .shelves()
        .iter()
        .map(|p| {
            let shelf = scored_shelf(scores, &p.explanation)?;
            p.items
                .iter()
                .enumerate()
                .map(|(j, &item)| score_of(shelf, item, Some(j)))
                .collect::<Result<Vec<f64>, OpeError>>()
        })
        .collect::<Result<Vec<_>, OpeError>>()?;
    plan.expected_total(|v, j| aligned[v][j])
        .ok_or_else(no_marginals)
}

fn no_marginals() -> OpeError {
    OpeError::Unsupported(
        "the target policy has no exact slot marginals (its expected cards and rewards are \
         unknown): evaluate ε-greedy targets"
            .into(),
    )
}

fn scored_shelf<'a>(
    scores: &'a [ScoredShelf],
    explanation: &Explanation,
) -> Result<&'a ScoredShelf, OpeError> {
    scores
        .iter()
        .find(|s| s.explanation == *explanation)
        .ok_or_else(|| {
            OpeError::Unsupported(format!("the reward model did not score {explanation}"))
        })
}

/// The score of `item` on `shelf`, looked for at `hint` first.
fn score_of(shelf: &ScoredShelf, item: ItemId, hint: Option<usize>) -> Result<f64, OpeError> {
    match hint.and_then(|j| shelf.items.get(j).map(|&i| (j, i))) {
        Some((j, i)) if i == item => Some(shelf.scores[j]),
        _ => shelf
            .items
            .iter()
            .position(|&i| i == item)
            .map(|j| shelf.scores[j]),
    }
    .ok_or_else(|| {
        OpeError::Unsupported(format!(
            "the reward model did not score item {item} under {}",
            shelf.explanation
        ))
    })
}

/// One logged page as the slate estimators see it under the target whose plan for the
/// page's context is `plan`: the logged probabilities of every draw (and slot propensities,
/// for ε-greedy logs), the target's for the same draws ([`PagePlan::draws`],
/// [`PagePlan::propensity`]) and the rewards; with a reward model, its prediction for each
/// card and its direct estimate. The target needs exact marginals (ε-greedy) for its
/// expected number of cards.
pub fn slate_page(
    plan: &PagePlan,
    model: Option<PageModel>,
    (impression, rewards): LoggedPageRef,
) -> Result<SlatePage, OpeError> {
    let inconsistent = |reason: String| OpeError::Inconsistent {
        impression: impression.id.0,
        reason,
    };
    let draws = plan
        .draws(&impression.page)
        .map_err(|e| inconsistent(e.to_string()))?;
    let expected_cards = plan.expected_cards().ok_or_else(no_marginals)?;
    let mut shelves = Vec::with_capacity(impression.page.shelves.len());
    for (s, logged) in impression.page.shelves.iter().enumerate() {
        let q_shelf = model
            .map(|m| scored_shelf(m.scores, &logged.explanation))
            .transpose()
            .map_err(|e| inconsistent(e.to_string()))?;
        let mut cards = Vec::with_capacity(logged.cards.len());
        for (c, card) in logged.cards.iter().enumerate() {
            let reward = rewards
                .get(s)
                .and_then(|r| r.get(c))
                .copied()
                .ok_or_else(|| inconsistent(format!("no reward for shelf {s} card {c}")))?;
            let predicted = match q_shelf {
                Some(shelf) => {
                    score_of(shelf, card.item, None).map_err(|e| inconsistent(e.to_string()))?
                }
                None => 0.0,
            };
            let (row, column) = (usize::from(logged.row), usize::from(card.column));
            cards.push(SlateCard {
                reward,
                predicted,
                logging: Draw {
                    conditional: card.probability,
                    marginal: card.propensity,
                },
                target: Draw {
                    conditional: draws.cards[s][c],
                    marginal: plan.propensity(&logged.explanation, card.item, row, column),
                },
            });
        }
        shelves.push(SlateShelf {
            logging: logged.probability,
            target: draws.shelves[s],
            cards,
        });
    }
    Ok(SlatePage {
        shelves,
        expected_cards,
        direct: model.map(|m| m.direct),
    })
}

/// Every slate estimate of one target, and its pages' summed per-card (independent) terms
/// for paired comparisons ([`crate::compare::difference`]).
#[derive(Clone, Debug)]
pub struct TargetEvaluation {
    pub report: SlateReport,
    pub page_terms: Vec<Terms>,
}

/// Evaluates several targets on the same logged pages with every slate estimator: per page
/// the candidates are rebuilt once, the reward model `q` (if any; DM and DR need it) scores
/// them once, and each target scores and plans them. Chunks run in parallel and merge in
/// order, so the result does not depend on the number of threads.
pub fn evaluate_targets(
    recommender: &Recommender,
    targets: &[Target],
    q: Option<&RewardModel>,
    pages: &[LoggedPageRef],
) -> Result<Vec<TargetEvaluation>, OpeError> {
    let empty = || {
        targets
            .iter()
            .map(|_| (SlateSums::new(Tuning::default()), Vec::new()))
            .collect::<Vec<_>>()
    };
    let parts = pages
        .par_chunks(64)
        .enumerate()
        .map(|(k, chunk)| {
            let mut acc = empty();
            for (i, &page) in chunk.iter().enumerate() {
                let ctx = &page.0.context;
                let candidates = recommender.candidates(ctx);
                let q_scored = q.map(|m| recommender.score(ctx, candidates.clone(), Some(m)));
                for (target, (sums, terms)) in targets.iter().zip(&mut acc) {
                    let same = match (target.model, q) {
                        (Some(a), Some(b)) => std::ptr::eq(a, b),
                        _ => false,
                    };
                    let own;
                    let scored = match &q_scored {
                        Some(s) if same => s,
                        _ => {
                            own = recommender.score(ctx, candidates.clone(), target.model);
                            &own
                        }
                    };
                    let plan = recommender
                        .plan(ctx, scored, target.policy.into(), target.shelves)
                        .map_err(|e| OpeError::Inconsistent {
                            impression: page.0.id.0,
                            reason: e.to_string(),
                        })?;
                    let model = match &q_scored {
                        Some(scores) => Some(PageModel {
                            scores,
                            direct: direct_estimate(&plan, scores).map_err(|e| {
                                OpeError::Inconsistent {
                                    impression: page.0.id.0,
                                    reason: e.to_string(),
                                }
                            })?,
                        }),
                        None => None,
                    };
                    let slate = slate_page(&plan, model, page)?;
                    if let Some(t) = sums.add(&slate, k * 64 + i)? {
                        terms.push(t);
                    }
                }
            }
            Ok(acc)
        })
        .collect::<Result<Vec<_>, OpeError>>()?;
    let mut total = empty();
    for part in parts {
        for ((sums, terms), (s, t)) in total.iter_mut().zip(part) {
            sums.merge(s);
            terms.extend(t);
        }
    }
    Ok(total
        .into_iter()
        .map(|(sums, page_terms)| TargetEvaluation {
            report: sums.report(),
            page_terms,
        })
        .collect())
}
