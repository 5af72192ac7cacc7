//! bart's own logged cards as training examples for the reward model.

use crate::card_features::{Hashing, Slot, card_features, context_features};
use crate::error::BanditError;
use crate::features::Features;
use crate::recommender::Recommender;
use crate::train::{Batch, Examples, Logged};
use bart_core::{Context, Explanation, ItemId};
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

    fn logged(&self) -> Box<dyn Iterator<Item = Logged> + '_> {
        Box::new(self.cards.iter().map(Self::logged))
    }
}
