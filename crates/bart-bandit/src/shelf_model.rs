//! The shelf-level reward model r' that orders shelves: P(a shelf gets at least one stream |
//! context, explanation, a summary of its best cards' scores, row), a [`RewardModel`] of its
//! own over shelf features, trained on logged shelves weighted by the inverse of the
//! probability their row was drawn with.
//!
//! Without a trained r' a shelf's score is the mean of its best cards' scores
//! ([`ShelfSummary::top_mean`]), which the card model alone gives.

use crate::card_features::{FeatureSink, Hashing, context_features, explanation_features};
use crate::error::BanditError;
use crate::features::Features;
use crate::model::{ModelConfig, Pairwise, Partial, RewardModel, sigmoid};
use crate::policy::Ranking;
use crate::recommender::{EXPLANATION_KEY, add_hashed, explanation_key};
use crate::train::{Batch, Examples, Logged};
use bart_core::{Context, Explanation};
use bart_models::Affinity;
use std::borrow::Cow;
use std::cell::RefCell;

/// What r' knows of a shelf's cards: the scores of the best `k` it could show (k = cards per
/// shelf), as the card model gives them at the top-left slot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShelfSummary {
    /// The mean of the best k scores, summed best first (0 for an empty shelf).
    pub top_mean: f64,
    /// The best score.
    pub best: f64,
    /// How many cards it can fill, at most k.
    pub cards: usize,
}

impl ShelfSummary {
    /// The summary of a shelf whose candidates scored `scores`, for `k` cards per shelf.
    pub fn of(scores: &[f64], k: usize) -> Self {
        ShelfSummary::ranked(scores, &Ranking::new(scores, k), k)
    }

    /// The same from the shelf's `ranking` (of at least its `k` best).
    pub(crate) fn ranked(scores: &[f64], ranking: &Ranking, k: usize) -> Self {
        let top = &ranking.best()[..k.min(scores.len())];
        let Some(&best) = top.first() else {
            return ShelfSummary::default();
        };
        ShelfSummary {
            top_mean: top.iter().map(|&i| scores[i]).sum::<f64>() / top.len() as f64,
            best: scores[best],
            cards: top.len(),
        }
    }
}

/// The shelf namespaces of one shelf at `row`: its explanation, its summary and its row (the
/// context's own features come first, from [`context_features`]).
pub fn shelf_features(
    explanation: &Explanation,
    summary: &ShelfSummary,
    row: u16,
    out: &mut impl FeatureSink,
) {
    explanation_features(explanation, out);
    summary_codes(summary, row, out);
    summary_values(summary, out);
}

/// The discrete part of a shelf's summary, twenty bands of the mean best score and the number
/// of cards, and its row.
fn summary_codes(summary: &ShelfSummary, row: u16, out: &mut impl FeatureSink) {
    out.namespace("s");
    out.add("band", band(summary));
    out.add("cards", summary.cards as u64);
    out.namespace("q");
    out.add("row", u64::from(row));
}

/// The band of a summary's mean best score, one of twenty.
fn band(summary: &ShelfSummary) -> u64 {
    (summary.top_mean.clamp(0.0, 1.0) * 20.0).min(19.0) as u64
}

/// The real values of a shelf's summary: its mean best score and its best.
fn summary_values(summary: &ShelfSummary, out: &mut impl FeatureSink) {
    out.namespace("s");
    out.real("top_mean", summary.top_mean as f32);
    out.real("best", summary.best as f32);
}

/// One logged shelf with its outcome.
#[derive(Clone, Copy, Debug)]
pub struct LoggedShelf<'a> {
    pub context: &'a Context,
    pub explanation: Explanation,
    pub row: u16,
    /// Its cards' summary under the card model being paired with r'.
    pub summary: ShelfSummary,
    /// P(this shelf at this row | the shelves above), as logged.
    pub propensity: f64,
    /// 1 if any of its cards was streamed.
    pub reward: f64,
    /// Served by the uniform random policy.
    pub explore: bool,
}

/// Logged shelves featurised for training r', in batches of `batch_size`.
pub struct ShelfExamples<'a> {
    pub affinity: &'a Affinity,
    pub shelves: &'a [LoggedShelf<'a>],
    pub batch_size: usize,
}

impl Examples for ShelfExamples<'_> {
    fn batches(&self) -> usize {
        self.shelves.len().div_ceil(self.batch_size.max(1))
    }

    fn batch(&self, k: usize) -> Result<Cow<'_, Batch>, BanditError> {
        let size = self.batch_size.max(1);
        let shelves = &self.shelves[k * size..((k + 1) * size).min(self.shelves.len())];
        Ok(Cow::Owned(Batch::par_build(shelves, |chunk, out| {
            let mut f = Features::default();
            for shelf in chunk {
                f.clear();
                let mut h = Hashing::new(&mut f);
                context_features(shelf.context, self.affinity, &mut h);
                shelf_features(&shelf.explanation, &shelf.summary, shelf.row, &mut h);
                out.push(&f.example(), logged(shelf));
            }
        })))
    }

    fn logged(&self) -> Result<Box<dyn Iterator<Item = Logged> + '_>, BanditError> {
        Ok(Box::new(self.shelves.iter().map(logged)))
    }
}

fn logged(shelf: &LoggedShelf<'_>) -> Logged {
    Logged {
        label: shelf.reward as f32,
        propensity: shelf.propensity,
        explore: shelf.explore,
    }
}

/// r' in one context: the context's features summed once, then per shelf its own few.
pub struct ShelfScorer<'m> {
    model: &'m RewardModel,
    pairwise: Pairwise<'m, 0>,
    context: Partial,
    /// A shelf's features and partial, reused from shelf to shelf.
    scratch: RefCell<(Features, Partial)>,
}

impl<'m> ShelfScorer<'m> {
    /// Scores shelves in `ctx` with `model`, a shelf model of order 2 without crosses (as
    /// [`config`] makes them).
    pub fn new(
        model: &'m RewardModel,
        ctx: &Context,
        affinity: &Affinity,
    ) -> Result<Self, BanditError> {
        let pairwise = model.pairwise(&[]).ok_or_else(|| {
            BanditError::invalid(
                "shelf model",
                model.config(),
                "must be of order 2 (LR or FM2) without crosses",
            )
        })?;
        let mut f = Features::default();
        context_features(ctx, affinity, &mut Hashing::new(&mut f));
        let mut context = model.partial();
        model.add_to(&mut context, &f.example());
        Ok(ShelfScorer {
            model,
            pairwise,
            scratch: RefCell::new((f, context.clone())),
            context,
        })
    }

    /// r' of a shelf with `summary` at the top row: the partials of its explanation and of
    /// its summary's codes remembered by the model, its summary's values added each time.
    pub fn score(&self, explanation: &Explanation, summary: &ShelfSummary) -> f64 {
        let explained = EXPLANATION_KEY | explanation_key(explanation);
        let coded = SUMMARY_KEY | band(summary) << 32 | summary.cards.min(u32::MAX as usize) as u64;
        let groups = self.model.memo_groups([explained, coded], |key, p| {
            if key == explained {
                add_hashed(self.model, &mut |h| explanation_features(explanation, h), p);
            } else {
                add_hashed(self.model, &mut |h| summary_codes(summary, 0, h), p);
            }
        });
        let (f, p) = &mut *self.scratch.borrow_mut();
        p.clone_from(&self.context);
        for key in [explained, coded] {
            p.add(groups.get(key).expect("memo_groups remembers every key"));
        }
        f.clear();
        summary_values(summary, &mut Hashing::new(f));
        self.model.add_to(p, &f.example());
        sigmoid(self.pairwise.group_logit(p))
    }
}

/// Marks a remembered group as a summary's codes (band and cards, at the top row), apart from
/// the explanations' mark and the card model's relation codes (below 2^40).
const SUMMARY_KEY: u64 = 1 << 62;

/// The configuration of a fresh r': an FM2 of rank 8 over the shelf features.
pub fn config(seed: u64) -> ModelConfig {
    ModelConfig {
        rank: 8,
        seed,
        ..ModelConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card_features::tests::bare_context;
    use crate::model::ModelKind;
    use crate::train::{TrainConfig, Weighting, fit};
    use bart_core::{Platform, RegionId};

    fn context(platform: Platform) -> Context {
        bare_context(RegionId(1), platform)
    }

    #[test]
    fn summaries_take_the_best_cards() {
        let s = ShelfSummary::of(&[0.2, 0.9, 0.5, 0.7, 0.5], 2);
        assert_eq!((s.top_mean, s.best, s.cards), (0.8, 0.9, 2));
        let all = ShelfSummary::of(&[0.2, 0.9, 0.4], 10);
        assert_eq!(
            (all.top_mean, all.best, all.cards),
            ((0.9 + 0.4 + 0.2) / 3.0, 0.9, 3)
        );
        assert_eq!(ShelfSummary::of(&[], 5), ShelfSummary::default());
        assert_eq!(ShelfSummary::of(&[0.3], 0), ShelfSummary::default());
    }

    /// Shelves whose stream rate depends on the platform only for "Jump back in": r' learns
    /// to put it first on mobile and last on desktop, and serving's scores equal the model's
    /// on each shelf's full features.
    #[test]
    fn r_prime_learns_a_shelf_effect_and_serves_the_models_own_scores() {
        let (mobile, desktop) = (context(Platform::Mobile), context(Platform::Desktop));
        let jump = Explanation::JumpBackIn;
        let popular = Explanation::PopularIn(RegionId(1));
        let summary = ShelfSummary::of(&[0.3, 0.2, 0.1], 3);
        let rate = |ctx: &Context, e: &Explanation| match (ctx.platform, e) {
            (Platform::Mobile, Explanation::JumpBackIn) => 0.6,
            (_, Explanation::JumpBackIn) => 0.05,
            _ => 0.3,
        };
        let mut shelves = Vec::new();
        for i in 0..4_000 {
            let ctx = if i % 2 == 0 { &mobile } else { &desktop };
            let explanation = if (i / 2) % 2 == 0 { jump } else { popular };
            shelves.push(LoggedShelf {
                context: ctx,
                explanation,
                row: (i % 3) as u16,
                summary,
                propensity: 0.5,
                reward: rate(ctx, &explanation),
                explore: true,
            });
        }
        let affinity = Affinity::default();
        let examples = ShelfExamples {
            affinity: &affinity,
            shelves: &shelves,
            batch_size: 512,
        };
        let mut model = RewardModel::new(config(1)).unwrap();
        let train = TrainConfig {
            weighting: Weighting::Ips,
            epochs: 3,
            ..TrainConfig::default()
        };
        fit(&mut model, &examples, &train, |_, _| {}).unwrap();
        for (ctx, first) in [(&mobile, jump), (&desktop, popular)] {
            let r = ShelfScorer::new(&model, ctx, &affinity).unwrap();
            let (j, p) = (r.score(&jump, &summary), r.score(&popular, &summary));
            let best = if j > p { jump } else { popular };
            assert_eq!(
                best, first,
                "{:?}: jump {j:.3}, popular {p:.3}",
                ctx.platform
            );
            // Another card count in the same band, and another band: the remembered partials are
            // keyed by both.
            let others = [
                ShelfSummary::of(&[0.18, 0.16], 3),
                ShelfSummary::of(&[0.9], 3),
            ];
            for (e, summary) in [jump, popular]
                .into_iter()
                .flat_map(|e| [summary].into_iter().chain(others).map(move |s| (e, s)))
            {
                let served = r.score(&e, &summary);
                let mut f = Features::default();
                let mut h = Hashing::new(&mut f);
                context_features(ctx, &affinity, &mut h);
                shelf_features(&e, &summary, 0, &mut h);
                let full = model.predict(&f.example());
                assert!((full - served).abs() < 1e-6, "{full} vs {served}");
            }
        }
        let fm3 = RewardModel::new(ModelConfig {
            kind: ModelKind::Fm3,
            ..config(1)
        })
        .unwrap();
        let err = ShelfScorer::new(&fm3, &mobile, &affinity).err().unwrap();
        assert!(err.to_string().contains("order 2"), "{err}");
    }
}
