//! The serving engine: catalog and shared models in, explained pages out.

use crate::candidates::{self, CandidateConfig, CandidateShelf, ItemIndex};
use crate::card_features::{Hashing, Slot, card_features, context_features};
use crate::error::BanditError;
use crate::features::Features;
use crate::model::RewardModel;
use crate::page::{self, PageConfig, ScoredShelf};
use crate::policy::EpsilonGreedy;
use bart_core::{Catalog, Context, Explanation, ImpressionId, ItemId, Page};
use bart_models::SharedModels;

/// Everything needed to build a page except the reward model and the policy, which change
/// as the loop learns.
#[derive(Clone, Debug)]
pub struct Recommender {
    catalog: Catalog,
    shared: SharedModels,
    index: ItemIndex,
    candidates: CandidateConfig,
    page: PageConfig,
}

impl Recommender {
    /// A recommender over `catalog` with the given shared models and configuration.
    pub fn new(
        catalog: Catalog,
        shared: SharedModels,
        candidates: CandidateConfig,
        page: PageConfig,
    ) -> Result<Self, BanditError> {
        page.validate()?;
        if candidates.items_per_shelf == 0 {
            return Err(BanditError::invalid(
                "items_per_shelf",
                0,
                "must be at least 1",
            ));
        }
        Ok(Recommender {
            index: ItemIndex::new(&catalog),
            catalog,
            shared,
            candidates,
            page,
        })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The shared models (affinities feed the features).
    pub fn shared(&self) -> &SharedModels {
        &self.shared
    }

    /// The page shape.
    pub fn page_config(&self) -> &PageConfig {
        &self.page
    }

    /// The candidate shelves for a context.
    pub fn candidates(&self, ctx: &Context) -> Vec<CandidateShelf> {
        candidates::generate(
            &self.candidates,
            &self.catalog,
            &self.index,
            &self.shared,
            ctx,
        )
    }

    /// Scores every candidate with `model` at the top-left slot; without a model every score
    /// is 0 (the uniform policy needs none).
    pub fn score(
        &self,
        ctx: &Context,
        candidates: Vec<CandidateShelf>,
        model: Option<&RewardModel>,
    ) -> Vec<ScoredShelf> {
        let affinity = &self.shared.affinity;
        let mut f = Features::default();
        context_features(ctx, affinity, &mut Hashing::new(&mut f));
        let mark = f.mark();
        candidates
            .into_iter()
            .map(|c| {
                let scores = match model {
                    Some(m) => c
                        .items
                        .iter()
                        .map(|&i| {
                            f.truncate(mark);
                            if let Some(item) = self.catalog.item(i) {
                                card_features(
                                    ctx,
                                    affinity,
                                    item,
                                    &c.explanation,
                                    Slot::TOP_LEFT,
                                    &mut Hashing::new(&mut f),
                                );
                            }
                            m.predict(&f.example())
                        })
                        .collect(),
                    None => vec![0.0; c.items.len()],
                };
                ScoredShelf {
                    explanation: c.explanation,
                    items: c.items,
                    scores,
                }
            })
            .collect()
    }

    /// The model's features for one card (unknown items keep only the context's).
    pub fn card_example(
        &self,
        ctx: &Context,
        item: ItemId,
        explanation: &Explanation,
        slot: Slot,
    ) -> Features {
        let mut f = Features::default();
        let mut sink = Hashing::new(&mut f);
        context_features(ctx, &self.shared.affinity, &mut sink);
        if let Some(item) = self.catalog.item(item) {
            card_features(
                ctx,
                &self.shared.affinity,
                item,
                explanation,
                slot,
                &mut sink,
            );
        }
        f
    }

    /// Candidates, scores and page in one call.
    pub fn page(
        &self,
        ctx: &Context,
        model: Option<&RewardModel>,
        policy: &EpsilonGreedy,
        impression: ImpressionId,
    ) -> Page {
        let scored = self.score(ctx, self.candidates(ctx), model);
        page::assemble(&scored, policy, &self.page, impression)
    }
}
