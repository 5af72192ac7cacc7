//! bart's own logged cards as training examples for the reward model, and as Vowpal Wabbit
//! `cb_adf` text.

use crate::card_features::{Hashing, Slot, VwText, card_features, context_features};
use crate::error::BanditError;
use crate::features::Features;
use crate::recommender::Recommender;
use crate::train::{Batch, Examples, Logged};
use crate::vw::{Label, reward_to_cost, write_example};
use bart_core::{Context, Explanation, Impression, ItemId};
use std::borrow::Cow;

/// One logged card with its joined reward.
#[derive(Clone, Copy, Debug)]
pub struct LoggedCard<'a> {
    pub context: &'a Context,
    pub explanation: Explanation,
    pub item: ItemId,
    pub slot: Slot,
    /// The slot propensity logged when the card was served.
    pub propensity: f64,
    pub reward: f64,
    /// Served by the uniform random policy (the exploration slice).
    pub explore: bool,
}

/// Logged cards featurised by a recommender, in batches of `batch_size`.
pub struct CardExamples<'a> {
    pub recommender: &'a Recommender,
    pub cards: &'a [LoggedCard<'a>],
    pub batch_size: usize,
}

impl CardExamples<'_> {
    fn logged(card: &LoggedCard<'_>) -> Logged {
        Logged {
            label: card.reward as f32,
            propensity: card.propensity,
            explore: card.explore,
        }
    }
}

impl Examples for CardExamples<'_> {
    fn batches(&self) -> usize {
        self.cards.len().div_ceil(self.batch_size.max(1))
    }

    fn batch(&self, k: usize) -> Result<Cow<'_, Batch>, BanditError> {
        let size = self.batch_size.max(1);
        let cards = &self.cards[k * size..((k + 1) * size).min(self.cards.len())];
        let affinity = &self.recommender.shared().affinity;
        let catalog = self.recommender.catalog();
        Ok(Cow::Owned(Batch::par_build(cards, |chunk, out| {
            let mut f = Features::default();
            let mut last: Option<*const Context> = None;
            let mut mark = f.mark();
            for card in chunk {
                let ptr = card.context as *const Context;
                if last != Some(ptr) {
                    f.clear();
                    context_features(card.context, affinity, &mut Hashing::new(&mut f));
                    mark = f.mark();
                    last = Some(ptr);
                }
                f.truncate(mark);
                // Items missing from the catalog keep only their context features.
                if let Some(item) = catalog.item(card.item) {
                    card_features(
                        card.context,
                        affinity,
                        item,
                        &card.explanation,
                        card.slot,
                        &mut Hashing::new(&mut f),
                    );
                }
                out.push(&f.example(), Self::logged(card));
            }
        })))
    }

    fn logged(&self) -> Result<Box<dyn Iterator<Item = Logged> + '_>, BanditError> {
        Ok(Box::new(self.cards.iter().map(Self::logged)))
    }
}

impl Recommender {
    /// Appends every card of a logged page to `out` as one `cb_adf` example: the card's draw
    /// from its shelf's remaining candidates (regenerated from the logged context). Shared
    /// features are the context's; each action is a remaining candidate, in candidate order,
    /// with the shelf's explanation at the card's slot; the label holds the card's
    /// conditional probability and cost `-reward`. The features are the ones the model sees,
    /// so a model scores the text exactly as it scores the page. Returns the examples written.
    pub fn write_cb_adf(
        &self,
        impression: &Impression,
        rewards: &[Vec<f64>],
        out: &mut String,
    ) -> Result<usize, BanditError> {
        let ctx = &impression.context;
        let affinity = &self.shared().affinity;
        let replay = |reason: String| BanditError::Replay {
            impression: impression.id.0,
            reason,
        };
        let mut shared = String::new();
        context_features(ctx, affinity, &mut VwText(&mut shared));
        let candidates = self.candidates(ctx);
        let mut written = 0;
        for (shelf, rewards) in impression.page.shelves.iter().zip(rewards) {
            let c = candidates
                .iter()
                .find(|c| c.explanation == shelf.explanation)
                .ok_or_else(|| {
                    replay(format!(
                        "shelf {:?} is not among the context's candidates",
                        shelf.explanation
                    ))
                })?;
            let mut remaining = c.items.clone();
            for (card, &reward) in shelf.cards.iter().zip(rewards) {
                let chosen = remaining
                    .iter()
                    .position(|&i| i == card.item)
                    .ok_or_else(|| {
                        replay(format!(
                            "item {} is not among its shelf's remaining candidates",
                            card.item.0
                        ))
                    })?;
                let slot = Slot {
                    row: shelf.row,
                    column: card.column,
                };
                let actions: Vec<String> = remaining
                    .iter()
                    .map(|&i| {
                        let mut a = String::new();
                        if let Some(item) = self.catalog().item(i) {
                            card_features(
                                ctx,
                                affinity,
                                item,
                                &shelf.explanation,
                                slot,
                                &mut VwText(&mut a),
                            );
                        }
                        a
                    })
                    .collect();
                let label = Label {
                    action: chosen,
                    cost: reward_to_cost(reward as f32),
                    probability: card.probability,
                };
                write_example(out, &shared, &actions, Some(label))?;
                written += 1;
                remaining.remove(chosen);
            }
        }
        Ok(written)
    }
}
