//! Estimating a policy's per-card stream rate from logged pages.
//!
//! A card's reward depends on its own slot (item, explanation, row, column) and the context,
//! so the per-card value of a target policy is the sum over slots of the target's slot
//! propensities times the expected rewards, and IPS with weight = target slot propensity /
//! logged slot propensity is unbiased for it ("independent IPS" over positions). The target's
//! propensities are exact: the candidates are rebuilt from the logged context and scored with
//! the target's model.

use crate::estimate::{Estimate, Estimator, OpeError, Ratio, Sample};
use bart_bandit::{EpsilonGreedy, LogisticRegression, PageMarginals, Recommender};
use bart_core::Impression;
use rayon::prelude::*;
use serde::Serialize;

/// A policy to evaluate: a reward model (none for uniform random) and an ε-greedy policy.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub model: Option<&'a LogisticRegression>,
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

/// The per-card samples of one logged page for evaluating `target`.
pub fn page_samples(
    recommender: &Recommender,
    target: &Target,
    (impression, rewards): LoggedPageRef,
) -> Result<Vec<Sample>, OpeError> {
    let ctx = &impression.context;
    let scored = recommender.score(ctx, recommender.candidates(ctx), target.model);
    let marginals = PageMarginals::new(&scored, &target.policy, recommender.page_config());
    let mut samples = Vec::with_capacity(impression.page.card_count());
    for (s, shelf) in impression.page.shelves.iter().enumerate() {
        for (c, card) in shelf.cards.iter().enumerate() {
            let known = scored
                .iter()
                .any(|sc| sc.explanation == shelf.explanation && sc.items.contains(&card.item));
            if !known {
                return Err(OpeError::Inconsistent {
                    impression: impression.id.0,
                    reason: format!(
                        "item {} under {} is not a candidate of the logged context \
                         (were the logs made with other shared models?)",
                        card.item, shelf.explanation
                    ),
                });
            }
            let reward = rewards
                .get(s)
                .and_then(|r| r.get(c))
                .copied()
                .ok_or_else(|| OpeError::Inconsistent {
                    impression: impression.id.0,
                    reason: format!("no reward for shelf {s} card {c}"),
                })?;
            samples.push(Sample {
                target: marginals.propensity(
                    &scored,
                    &shelf.explanation,
                    card.item,
                    usize::from(shelf.row),
                    usize::from(card.column),
                ),
                logging: card.propensity,
                reward,
            });
        }
    }
    Ok(samples)
}

/// IPS and SNIPS of `target` over logged pages, each page one cluster; parallel.
pub fn evaluate(
    recommender: &Recommender,
    target: &Target,
    pages: &[LoggedPageRef],
) -> Result<PolicyValue, OpeError> {
    let (ips, snips) = pages
        .par_chunks(256)
        .map(|chunk| {
            let mut ips = Ratio::new(Estimator::Ips);
            let mut snips = Ratio::new(Estimator::Snips);
            for &page in chunk {
                for s in page_samples(recommender, target, page)? {
                    ips.add(s)?;
                    snips.add(s)?;
                }
                ips.end_cluster();
                snips.end_cluster();
            }
            Ok((ips, snips))
        })
        .try_reduce(
            || (Ratio::new(Estimator::Ips), Ratio::new(Estimator::Snips)),
            |(mut a, mut b), (c, d)| {
                a.merge(c);
                b.merge(d);
                Ok((a, b))
            },
        )?;
    Ok(PolicyValue {
        ips: ips.finish()?,
        snips: snips.finish()?,
    })
}

/// The observed (on-policy) stream rate per card, with pages as clusters.
pub fn stream_rate(pages: &[LoggedPageRef]) -> Result<Estimate, OpeError> {
    let mut acc = Ratio::new(Estimator::Ips);
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
    acc.finish()
}
