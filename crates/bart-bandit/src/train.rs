//! Counterfactual training: importance-weighted log-loss, w = min(1 / propensity, max_weight),
//! with the card's real position as a feature so position bias is learned apart from appeal.

use crate::error::BanditError;
use crate::features::Slot;
use crate::model::LogisticRegression;
use crate::recommender::Recommender;
use bart_core::{Context, Explanation, ItemId};

/// Training options.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Largest importance weight (clipping trades a little bias for much less variance).
    pub max_weight: f64,
    /// Passes over the data.
    pub epochs: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_weight: 100.0,
            epochs: 1,
        }
    }
}

impl TrainConfig {
    /// Checks the options once, before training.
    pub fn validate(&self) -> Result<(), BanditError> {
        if self.max_weight.is_nan() || self.max_weight < 1.0 {
            return Err(BanditError::invalid(
                "max_weight",
                self.max_weight,
                "must be at least 1",
            ));
        }
        if self.epochs == 0 {
            return Err(BanditError::invalid("epochs", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The importance weight of a card logged with `propensity`.
    pub fn weight(&self, propensity: f64) -> f64 {
        (1.0 / propensity).min(self.max_weight)
    }
}

/// One logged card with its joined reward.
#[derive(Clone, Copy, Debug)]
pub struct LoggedCard<'a> {
    pub context: &'a Context,
    pub explanation: Explanation,
    pub item: ItemId,
    pub row: u16,
    pub column: u16,
    /// The slot propensity logged when the card was served.
    pub propensity: f64,
    pub reward: f64,
}

/// What a training pass saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainStats {
    pub examples: u64,
    /// Progressive-validation log-loss of the first epoch (each example scored before it is
    /// learned), weighted like the training loss.
    pub weighted_log_loss: f64,
    pub mean_weight: f64,
}

impl Recommender {
    /// Trains `model` on `cards` for `config.epochs` passes (sequential and deterministic).
    /// `cards` is called once per epoch; `progress` is told how many examples are done.
    pub fn train<'a, I>(
        &self,
        model: &mut LogisticRegression,
        cards: impl Fn() -> I,
        config: &TrainConfig,
        mut progress: impl FnMut(u64),
    ) -> Result<TrainStats, BanditError>
    where
        I: Iterator<Item = LoggedCard<'a>>,
    {
        config.validate()?;
        let mut stats = TrainStats::default();
        let mut buf = Vec::with_capacity(64);
        for epoch in 0..config.epochs {
            let (mut n, mut loss, mut wsum) = (0u64, 0.0, 0.0);
            let mut last: Option<(*const Context, _)> = None;
            for card in cards() {
                if !(card.propensity > 0.0 && card.propensity <= 1.0) {
                    return Err(BanditError::invalid(
                        "propensity",
                        card.propensity,
                        "a logged propensity must be in (0, 1]",
                    ));
                }
                let ptr = card.context as *const Context;
                let cf = match last.take() {
                    Some((p, cf)) if p == ptr => cf,
                    _ => self.context_features(card.context),
                };
                buf.clear();
                self.push_features(
                    &cf,
                    card.context,
                    card.item,
                    &card.explanation,
                    Slot {
                        row: card.row,
                        column: card.column,
                    },
                    &mut buf,
                );
                last = Some((ptr, cf));
                let w = config.weight(card.propensity);
                let p = model.update(&buf, card.reward, w).clamp(1e-12, 1.0 - 1e-12);
                loss -= w * (card.reward * p.ln() + (1.0 - card.reward) * (1.0 - p).ln());
                wsum += w;
                n += 1;
                if n % 65_536 == 0 {
                    progress(n);
                }
            }
            progress(n);
            // Only the first pass scores examples the model has not seen: keep its loss.
            if epoch == 0 {
                stats = TrainStats {
                    examples: n,
                    weighted_log_loss: if wsum > 0.0 { loss / wsum } else { 0.0 },
                    mean_weight: if n > 0 { wsum / n as f64 } else { 0.0 },
                };
            }
        }
        Ok(stats)
    }
}
