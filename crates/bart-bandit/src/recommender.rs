//! The serving engine: catalog and shared models in, explained pages out.

use crate::candidates::{self, CandidateConfig, CandidateShelf, ItemIndex};
use crate::error::BanditError;
use crate::features::{ContextFeatures, Slot, pair_features};
use crate::model::{Feature, LogisticRegression};
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
        model: Option<&LogisticRegression>,
    ) -> Vec<ScoredShelf> {
        let cf = model.map(|_| ContextFeatures::new(ctx, &self.shared.affinity));
        let mut buf = Vec::with_capacity(64);
        candidates
            .into_iter()
            .map(|c| {
                let scores = match (model, &cf) {
                    (Some(m), Some(cf)) => c
                        .items
                        .iter()
                        .map(|&i| {
                            buf.clear();
                            self.push_features(
                                cf,
                                ctx,
                                i,
                                &c.explanation,
                                Slot::TOP_LEFT,
                                &mut buf,
                            );
                            m.predict(&buf)
                        })
                        .collect(),
                    _ => vec![0.0; c.items.len()],
                };
                ScoredShelf {
                    explanation: c.explanation,
                    items: c.items,
                    scores,
                }
            })
            .collect()
    }

    /// Candidates, scores and page in one call.
    pub fn page(
        &self,
        ctx: &Context,
        model: Option<&LogisticRegression>,
        policy: &EpsilonGreedy,
        impression: ImpressionId,
    ) -> Page {
        let scored = self.score(ctx, self.candidates(ctx), model);
        page::assemble(&scored, policy, &self.page, impression)
    }

    /// Context features for `ctx`, computed once per page.
    pub fn context_features(&self, ctx: &Context) -> ContextFeatures {
        ContextFeatures::new(ctx, &self.shared.affinity)
    }

    /// Appends the features of (item, explanation) at `slot`. Unknown items add none.
    pub fn push_features(
        &self,
        cf: &ContextFeatures,
        ctx: &Context,
        item: ItemId,
        explanation: &Explanation,
        slot: Slot,
        out: &mut Vec<Feature>,
    ) {
        if let Some(item) = self.catalog.item(item) {
            pair_features(cf, ctx, &self.shared.affinity, item, explanation, slot, out);
        }
    }
}
