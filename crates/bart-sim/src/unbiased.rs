//! Unbiasedness of the off-policy estimators in simulation, by the Open Bandit paper's
//! protocol: a fixed target policy, many independent seeded sets of uniform logs, and each
//! estimator's bias, standard deviation and RMSE over the sets against the target's exact
//! value.
//!
//! The simulator knows every card's true stream probability and the target's slot
//! propensities are exact, so the target's true per-card stream rate over a fixed set of
//! contexts is exact: Σ_contexts Σ_slots P(item at slot) P(stream | slot) over
//! Σ_contexts E[cards]. Every log set serves the same contexts the same number of times with
//! the uniform random policy, with rewards drawn from the true probabilities. DM and DR use
//! as reward model the true stream probability at the top-left slot: right about the items,
//! wrong about every other slot (it ignores position), and never fit on the logs.

use crate::error::SimError;
use crate::experiment::build_recommender;
use crate::response::Listening;
use crate::world::{World, WorldConfig};
use bart_bandit::{
    CandidateConfig, EpsilonGreedy, PageConfig, PagePlan, Policy, Recommender, ScoredShelves,
};
use bart_core::{Context, Exploration, Impression, ImpressionId, ListenerId, Page};
use bart_ope::slate::{CARD_DR, SlateSums};
use bart_ope::{PageModel, Tuning, direct_estimate, slate_page};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// The size of the study.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StudyConfig {
    pub world: WorldConfig,
    /// Distinct contexts (listener, time, platform), each served `pages_per_context` times
    /// per log set.
    pub contexts: usize,
    pub pages_per_context: usize,
    /// Independent seeded log sets.
    pub log_sets: usize,
    /// ε of the target: greedy on the candidates' prior order (no reward model), explores
    /// with probability ε.
    pub target_epsilon: f64,
    /// Rows and cards per shelf of every page.
    pub rows: usize,
    pub cards_per_shelf: usize,
    pub seed: u64,
}

impl Default for StudyConfig {
    /// About 1.5 s per 200 log sets on 2 cores in release.
    fn default() -> Self {
        StudyConfig {
            world: WorldConfig {
                seed: 11,
                artists: 150,
                items: 1_500,
                genres: 10,
                listeners: 300,
                regions: 5,
                ..WorldConfig::default()
            },
            contexts: 40,
            pages_per_context: 50,
            log_sets: 200,
            target_epsilon: 0.2,
            rows: 3,
            cards_per_shelf: 3,
            seed: 7,
        }
    }
}

/// One estimator over the log sets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EstimatorRow {
    pub name: &'static str,
    /// "card" (each card weighted by its slot propensities) or "page" (slate weights).
    pub level: &'static str,
    pub mean: f64,
    pub bias: f64,
    /// Standard deviation of the estimates over the log sets.
    pub std_dev: f64,
    pub rmse: f64,
    /// Standard error of the mean, std_dev / √sets.
    pub std_error: f64,
    /// |bias| <= 2 standard errors.
    pub unbiased_within_2se: bool,
    /// Log sets on which the estimator was defined.
    pub sets: usize,
    /// The same check on consecutive batches of [`BATCH`] sets: how many batches there were
    /// and in how many the mean was within 2 of its standard errors of the truth. For an
    /// unbiased estimator about 95% are, so one unlucky batch (or one unlucky seed) is told
    /// apart from a bias, which fails batch after batch.
    pub batches: usize,
    pub batches_within_2se: usize,
}

/// Log sets per batch of the calibration check: the protocol's minimum study size.
pub const BATCH: usize = 200;

/// The study's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StudyReport {
    pub config: StudyConfig,
    pub true_value: f64,
    /// The uniform logging policy's own true rate, for scale.
    pub logging_value: f64,
    pub pages_per_set: usize,
    pub rows: Vec<EstimatorRow>,
}

/// The estimators reported: (name in the slate report, level, name in the table).
const REPORTED: [(&str, &str, &str); 11] = [
    ("independent IPS", "card", "IPS"),
    ("independent SNIPS", "card", "SNIPS"),
    (CARD_DR, "card", "DR"),
    ("standard IPS", "page", "standard IPS"),
    ("standard SNIPS", "page", "standard SNIPS"),
    ("cascade IPS", "page", "cascade IPS"),
    ("cascade SNIPS", "page", "cascade SNIPS"),
    ("shelf-cascade IPS", "page", "shelf-cascade IPS"),
    ("shelf-cascade SNIPS", "page", "shelf-cascade SNIPS"),
    ("PI", "page", "PI"),
    ("SNPI", "page", "SNPI"),
];

/// What is fixed for one context across log sets.
struct Fixed {
    impression: Impression,
    logging: PagePlan,
    target: PagePlan,
    q: ScoredShelves,
    direct: f64,
}

/// Runs the study.
pub fn run(config: &StudyConfig) -> Result<StudyReport, SimError> {
    for (field, value) in [
        ("contexts", config.contexts),
        ("pages_per_context", config.pages_per_context),
    ] {
        if value == 0 {
            return Err(SimError::InvalidConfig {
                field,
                value: value.to_string(),
                reason: "must be at least 1",
            });
        }
    }
    if config.log_sets < 2 {
        return Err(SimError::InvalidConfig {
            field: "log_sets",
            value: config.log_sets.to_string(),
            reason: "must be at least 2 (a standard deviation needs two)",
        });
    }
    let target_policy: Policy = EpsilonGreedy::new(config.target_epsilon)?.into();
    let world = World::generate(&config.world)?;
    let page = PageConfig {
        rows: config.rows,
        cards_per_shelf: config.cards_per_shelf,
        min_cards: config.cards_per_shelf.min(3),
        ..PageConfig::default()
    };
    let rec = build_recommender(&world, CandidateConfig::default(), page)?;
    let listening = Listening::new(&world);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let listeners = world.listeners.len() as u64;
    let mut fixed = Vec::with_capacity(config.contexts);
    let (mut streams, mut cards, mut logging_streams, mut logging_cards) = (0.0, 0.0, 0.0, 0.0);
    for c in 0..config.contexts as u64 {
        let ts = world.config.start + c * 997;
        let ctx = listening.context(&world, ListenerId((c % listeners) as u32), ts, &mut rng);
        let candidates = rec.candidates(&ctx);
        let unscored = rec.score(&ctx, candidates.clone(), None);
        let logging = rec.plan(&ctx, &unscored, Policy::uniform(), None)?;
        let target = rec.plan(&ctx, &unscored, target_policy, None)?;
        let (s, n) = truth(&world, &rec, &target, &ctx);
        (streams, cards) = (streams + s, cards + n);
        let (s, n) = truth(&world, &rec, &logging, &ctx);
        (logging_streams, logging_cards) = (logging_streams + s, logging_cards + n);
        let q = candidates.scored_by(|e, i| world.stream_probability(&ctx, i, e, 0, 0, 0));
        let direct = direct_estimate(&target, &q)?;
        fixed.push(Fixed {
            impression: Impression {
                id: ImpressionId(0),
                timestamp: ts,
                context: ctx,
                policy: "random".into(),
                exploration: Exploration::UNIFORM,
                model_version: 0,
                seed: 0,
                page: bart_core::Page {
                    impression: ImpressionId(0),
                    shelves: Vec::new(),
                },
            },
            logging,
            target,
            q,
            direct,
        });
    }
    let true_value = streams / cards;
    let pages_per_set = config.contexts * config.pages_per_context;
    let estimates = (0..config.log_sets)
        .into_par_iter()
        .map(|set| log_set(&world, &fixed, config, set as u64))
        .collect::<Result<Vec<Vec<f64>>, SimError>>()?;
    let rows = REPORTED
        .iter()
        .enumerate()
        .map(|(k, &(_, level, name))| {
            let values: Vec<f64> = estimates.iter().map(|e| e[k]).collect();
            summarise(name, level, &values, true_value)
        })
        .collect();
    Ok(StudyReport {
        config: config.clone(),
        true_value,
        logging_value: logging_streams / logging_cards,
        pages_per_set,
        rows,
    })
}

/// The estimates of one log set, in the order of [`REPORTED`].
fn log_set(
    world: &World,
    fixed: &[Fixed],
    config: &StudyConfig,
    set: u64,
) -> Result<Vec<f64>, SimError> {
    let mut rng =
        Xoshiro256PlusPlus::seed_from_u64(config.seed ^ set.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut sums = SlateSums::new(Tuning::default());
    let mut index = 0;
    for f in fixed {
        let mut impression = f.impression.clone();
        for _ in 0..config.pages_per_context {
            let id = ImpressionId(rng.random());
            impression.id = id;
            impression.seed = bart_bandit::seed_for(id);
            impression.page = f.logging.assemble(id);
            let rewards = page_rewards(world, &impression.context, &impression.page, &mut rng);
            let model = PageModel {
                scores: &f.q,
                direct: f.direct,
            };
            let slate = slate_page(&f.target, Some(model), (&impression, &rewards))?;
            sums.add(&slate, index)?;
            index += 1;
        }
    }
    let report = sums.report();
    // An estimator undefined on this set (SNPI when the pseudo-inverse weights sum to zero
    // or less) counts as NaN and is left out of its row.
    Ok(REPORTED
        .iter()
        .map(|&(name, _, _)| report.get(name).map_or(f64::NAN, |e| e.value))
        .collect())
}

/// Rewards of every card of `page` shown in `ctx`, `rewards[shelf][card]`: 1 with the card's
/// true stream probability at its slot (no repeats), else 0.
pub fn page_rewards(
    world: &World,
    ctx: &Context,
    page: &Page,
    rng: &mut impl rand::Rng,
) -> Vec<Vec<f64>> {
    page.shelves
        .iter()
        .map(|s| {
            s.cards
                .iter()
                .map(|card| {
                    let p = world.stream_probability(
                        ctx,
                        card.item,
                        &s.explanation,
                        s.row,
                        card.column,
                        0,
                    );
                    f64::from(u8::from(rng.random::<f64>() < p))
                })
                .collect()
        })
        .collect()
}

/// A policy's exact expected streams and expected cards in one context.
pub fn truth(world: &World, rec: &Recommender, plan: &PagePlan, ctx: &Context) -> (f64, f64) {
    let cfg = rec.page_config();
    let mut streams = 0.0;
    for shelf in plan.shelves() {
        for &item in &shelf.items {
            for row in 0..cfg.rows {
                for column in 0..cfg.cards_per_shelf {
                    let p = plan
                        .propensity(&shelf.explanation, item, row, column)
                        .unwrap_or(0.0);
                    if p > 0.0 {
                        streams += p * world.stream_probability(
                            ctx,
                            item,
                            &shelf.explanation,
                            row as u16,
                            column as u16,
                            0,
                        );
                    }
                }
            }
        }
    }
    (streams, plan.expected_cards().unwrap_or(0.0))
}

/// The row of the estimates that are defined (not NaN).
fn summarise(name: &'static str, level: &'static str, values: &[f64], truth: f64) -> EstimatorRow {
    let values: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let (mean, var) = mean_variance(&values);
    let n = values.len() as f64;
    let mse = values.iter().map(|v| (v - truth).powi(2)).sum::<f64>() / n;
    let std_error = (var / n).sqrt();
    let within = |values: &[f64]| {
        let (mean, var) = mean_variance(values);
        (mean - truth).abs() <= 2.0 * (var / values.len() as f64).sqrt()
    };
    let batches = values.chunks_exact(BATCH);
    EstimatorRow {
        batches: batches.len(),
        batches_within_2se: batches.filter(|b| within(b)).count(),
        name,
        level,
        mean,
        bias: mean - truth,
        std_dev: var.sqrt(),
        rmse: mse.sqrt(),
        std_error,
        unbiased_within_2se: within(&values),
        sets: values.len(),
    }
}

/// The mean and the sample variance (n - 1) of `values`.
fn mean_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// The report as a text table.
pub fn render(report: &StudyReport) -> String {
    use std::fmt::Write;
    let c = &report.config;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Target ε = {} (greedy on prior order) from uniform logs: {} log sets x {} pages \
         ({} contexts x {}), {} x {} pages.",
        c.target_epsilon,
        c.log_sets,
        report.pages_per_set,
        c.contexts,
        c.pages_per_context,
        c.rows,
        c.cards_per_shelf
    );
    let _ = writeln!(
        out,
        "True per-card stream rate: target {:.5}, uniform logging policy {:.5}.\n",
        report.true_value, report.logging_value
    );
    let _ = writeln!(
        out,
        "  {:<6} {:<20} {:>9} {:>10} {:>9} {:>9} {:>9} {:>5} {:>6} {:>8}",
        "level", "estimator", "mean", "bias", "sd", "RMSE", "SE(mean)", "sets", "<=2 SE", "batches"
    );
    for r in &report.rows {
        let batches = if r.batches == 0 {
            "-".to_string()
        } else {
            format!("{}/{}", r.batches_within_2se, r.batches)
        };
        let _ = writeln!(
            out,
            "  {:<6} {:<20} {:>9.5} {:>+10.5} {:>9.5} {:>9.5} {:>9.5} {:>5} {:>6} {:>8}",
            r.level,
            r.name,
            r.mean,
            r.bias,
            r.std_dev,
            r.rmse,
            r.std_error,
            r.sets,
            if r.unbiased_within_2se { "yes" } else { "no" },
            batches
        );
    }
    let _ = writeln!(
        out,
        "\n<=2 SE: |bias| within 2 standard errors of the mean over all sets. batches: in how \
         many batches of {BATCH} sets it is (about 95% for an unbiased estimator)."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_statistics_are_their_formulas() {
        let r = summarise("x", "card", &[1.0, 2.0, f64::NAN, 3.0, 6.0], 2.5);
        assert_eq!(r.sets, 4);
        assert_eq!(r.mean, 3.0);
        assert_eq!(r.bias, 0.5);
        // Sample variance (4 + 1 + 0 + 9) / 3; MSE (2.25 + 0.25 + 0.25 + 12.25) / 4.
        assert!((r.std_dev - (14.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((r.rmse - 15.0f64.sqrt() / 2.0).abs() < 1e-15);
        assert!((r.std_error - (14.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert!(r.unbiased_within_2se);
        assert!(!summarise("x", "card", &[3.0, 3.1, 2.9, 3.0], 2.5).unbiased_within_2se);
        assert_eq!((r.batches, r.batches_within_2se), (0, 0));
    }

    #[test]
    fn batches_are_checked_one_by_one() {
        // Batch 1 alternates truth ± 1 (mean on the truth), batch 2 sits 1 above it, with
        // a small spread; the NaN is left out and the last 3 values make no full batch.
        let mut values: Vec<f64> = (0..BATCH)
            .map(|i| if i % 2 == 0 { 1.0 } else { 3.0 })
            .collect();
        values.push(f64::NAN);
        values.extend((0..BATCH).map(|i| if i % 2 == 0 { 2.9 } else { 3.1 }));
        values.extend([2.0; 3]);
        let r = summarise("x", "card", &values, 2.0);
        assert_eq!(r.sets, 2 * BATCH + 3);
        assert_eq!((r.batches, r.batches_within_2se), (2, 1));
    }
}
