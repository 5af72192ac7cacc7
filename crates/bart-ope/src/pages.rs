//! Estimating a policy's per-card stream rate from logged pages.
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
use crate::estimate::{Estimate, Estimator, Sample, Sums, Tuning};
use bart_bandit::{EpsilonGreedy, Recommender, RewardModel};
use bart_core::Impression;
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
