//! The serving engine: catalog and shared models in, explained pages out.

use crate::candidates::{self, CandidateConfig, CandidateShelf, Candidates, ItemIndex};
use crate::card_features::{
    FeatureSink, Hashing, ItemFacts, Listener, Relation, ShelfRelation, Slot, card_features,
    context_features, explanation_features, item_features, position_features,
};
use crate::error::BanditError;
use crate::features::{Example, Features, Mark};
use crate::model::{Fixed, Pair, Pairwise, Partial, Remembered, RewardModel, prefetch, sigmoid};
use crate::page::{self, PageConfig, PagePlan, ScoredShelf, ScoredShelves};
use crate::policy::Policy;
use crate::shelf_model::{ShelfScorer, ShelfSummary};
use bart_core::{ArtistId, Catalog, Context, Explanation, ImpressionId, ItemId, Page};
use bart_models::SharedModels;
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything needed to build a page except the reward model and the policy, which change
/// as the loop learns.
#[derive(Clone, Debug)]
pub struct Recommender {
    catalog: Catalog,
    shared: SharedModels,
    index: ItemIndex,
    /// Per catalog item, what the relation features need (a small table that stays cached).
    facts: Vec<ItemFacts>,
    /// The hashed ids of the relation's real-valued features.
    share_ids: [u32; Relation::REALS],
    candidates: CandidateConfig,
    page: PageConfig,
    /// A number for this catalog and page rules, unique in the process (clones share it): the
    /// candidates it made carry it, so it plans them without checking the rules again.
    rules: u64,
}

/// The next number for a recommender's rules.
fn next_rules() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
        // The ids of the relation's real features, hashed once; each pair gives only values.
        let mut f = Features::default();
        let mut h = Hashing::new(&mut f);
        h.namespace(Relation::NAMESPACE);
        Relation::default().write_real(&mut h);
        let mut share_ids = [0; Relation::REALS];
        for (to, (id, _)) in share_ids.iter_mut().zip(f.example().atoms()) {
            *to = id;
        }
        Ok(Recommender {
            index: ItemIndex::new(&catalog, &shared.popularity),
            share_ids,
            facts: catalog.items.iter().map(ItemFacts::from).collect(),
            catalog,
            shared,
            candidates,
            page,
            rules: next_rules(),
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

    /// The same recommender with another page shape and rules.
    pub fn with_page(mut self, page: PageConfig) -> Result<Self, BanditError> {
        page.validate()?;
        self.page = page;
        self.rules = next_rules();
        Ok(self)
    }

    /// The page shape.
    pub fn page_config(&self) -> &PageConfig {
        &self.page
    }

    /// The candidate shelves for a context, after the page rules (each item on one shelf, the
    /// per-artist cap, the minimum length), so nothing the page cannot show is scored.
    pub fn candidates(&self, ctx: &Context) -> Candidates {
        let generated = candidates::generate(
            &self.candidates,
            &self.catalog,
            &self.index,
            &self.shared,
            ctx,
        );
        Candidates {
            shelves: page::obeying_rules(generated, &self.page, &|i| self.artist_of(i)),
            rules: self.rules,
        }
    }

    fn artist_of(&self, item: ItemId) -> Option<ArtistId> {
        self.facts.get(item.index()).map(|f| f.artist)
    }

    /// Scores every candidate with `model` at the top-left slot; without a model every score
    /// is 0 (the uniform policy needs none).
    pub fn score<'r>(
        &'r self,
        ctx: &'r Context,
        candidates: Candidates,
        model: Option<&RewardModel>,
    ) -> ScoredShelves {
        let Candidates {
            shelves: candidates,
            rules,
        } = candidates;
        let scores: Vec<Vec<f64>> = match model {
            None => candidates
                .iter()
                .map(|c| vec![0.0; c.items.len()])
                .collect(),
            Some(m) => match m.pairwise(&self.share_ids) {
                Some(pairwise) => self.score_pairwise(ctx, &candidates, m, &pairwise),
                None => {
                    let mut features = CardFeaturiser::new(self);
                    candidates
                        .iter()
                        .map(|c| {
                            let card = |&i: &ItemId| {
                                m.predict(&features.card(ctx, i, &c.explanation, Slot::TOP_LEFT))
                            };
                            c.items.iter().map(card).collect()
                        })
                        .collect()
                }
            },
        };
        let shelves = candidates
            .into_iter()
            .zip(scores)
            .map(|(c, scores)| ScoredShelf {
                explanation: c.explanation,
                items: c.items,
                scores,
                bags: Vec::new(),
            })
            .collect();
        ScoredShelves { shelves, rules }
    }

    /// Scores every candidate with each bagged model (for Thompson sampling): each shelf gets
    /// every bag's scores and their mean.
    pub fn score_bags<'r>(
        &'r self,
        ctx: &'r Context,
        candidates: Candidates,
        bags: &[RewardModel],
    ) -> ScoredShelves {
        let per_bag: Vec<ScoredShelves> = bags
            .iter()
            .map(|m| self.score(ctx, candidates.clone(), Some(m)))
            .collect();
        let shelves = candidates
            .shelves
            .into_iter()
            .enumerate()
            .map(|(s, c)| {
                let bags: Vec<Vec<f64>> = per_bag.iter().map(|b| b[s].scores.clone()).collect();
                let n = bags.len().max(1) as f64;
                let scores = (0..c.items.len())
                    .map(|j| bags.iter().map(|b| b[j]).sum::<f64>() / n)
                    .collect();
                ScoredShelf {
                    explanation: c.explanation,
                    items: c.items,
                    scores,
                    bags,
                }
            })
            .collect();
        ScoredShelves {
            shelves,
            rules: candidates.rules,
        }
    }

    /// Prepares `policy`'s draws over scored shelves (see [`PagePlan::new`]), shelves ordered
    /// by the shelf model `shelves` in `ctx` or, without one, by the mean of their best cards'
    /// scores. Shelves from this recommender's candidates obey its page rules already; others
    /// are made to.
    pub fn plan(
        &self,
        ctx: &Context,
        scored: &ScoredShelves,
        policy: Policy,
        shelves: Option<&RewardModel>,
    ) -> Result<PagePlan, BanditError> {
        let plan = |shelf_score: &dyn Fn(&Explanation, &ShelfSummary) -> f64| {
            if scored.rules == self.rules {
                PagePlan::obeying(scored, policy, &self.page, shelf_score)
            } else {
                let artist_of = |i| self.artist_of(i);
                PagePlan::new(scored, policy, &self.page, &artist_of, shelf_score)
            }
        };
        match shelves {
            None => plan(&|_, s| s.top_mean),
            Some(model) => {
                let r = ShelfScorer::new(model, ctx, &self.shared.affinity)?;
                plan(&|e, s| r.score(e, s))
            }
        }
    }

    /// Makes `model`'s row of every catalog item now, as a server does when it loads a model,
    /// so that no page pays for them (pages make the rows they lack otherwise).
    pub fn prepare(&self, model: &RewardModel) {
        if let Some(pairwise) = model.pairwise(&self.share_ids) {
            self.item_rows(model, &pairwise, 0..self.catalog.items.len() as u32);
        }
    }

    /// `m`'s rows of the items `keys`, every one in the catalog (see
    /// [`Pairwise::item_row`]), each made the first time.
    fn item_rows<'m>(
        &self,
        m: &'m RewardModel,
        pairwise: &Pairwise<'_, { Relation::REALS }>,
        keys: impl IntoIterator<Item = u32>,
    ) -> Remembered<'m> {
        let bound = self.facts.len() as u32;
        m.memo_rows(pairwise.row_len(), bound, keys, |key, row| {
            if let Some(item) = self.catalog.item(ItemId(key)) {
                let mut p = m.partial();
                add_hashed(m, &mut |h| item_features(item, h), &mut p);
                pairwise.item_row(&p, row);
            }
        })
    }

    /// The same scores by [`Pairwise`] parts: the context and the position once per page (the
    /// context's features hashed once), each item, each explanation and each combination of
    /// the relation's codes once per model (remembered by the model), each fixed group (a
    /// shelf with one combination of codes) once per page, and per (item, explanation) one
    /// dot product and the relation's real values.
    fn score_pairwise(
        &self,
        ctx: &Context,
        candidates: &[CandidateShelf],
        m: &RewardModel,
        pairwise: &Pairwise<'_, { Relation::REALS }>,
    ) -> Vec<Vec<f64>> {
        let affinity = &self.shared.affinity;
        let mut page = m.partial();
        add_hashed(m, &mut |h| context_features(ctx, affinity, h), &mut page);
        // Items missing from the catalog keep only the context's features.
        let unknown = sigmoid(pairwise.fixed(&page).logit());
        add_hashed(m, &mut |h| position_features(Slot::TOP_LEFT, h), &mut page);
        let known = candidates
            .iter()
            .flat_map(|c| &c.items)
            .filter(|i| i.index() < self.facts.len())
            .map(|i| i.0);
        let items = self.item_rows(m, pairwise, known);
        let listener = Listener::new(ctx, affinity);
        // First every pair's relation: the fixed group of its (shelf, relation codes), made
        // the first time they meet, its item's row and its real values (the facts of the item
        // a few places on loaded meanwhile). Then the arithmetic in a tight loop, where the
        // loads of many item rows are in flight at once.
        let mut fixed: Vec<Fixed<{ Relation::REALS }>> = Vec::new();
        // This shelf's combinations of codes (key, relation, slot), in the order of their
        // fixed groups, and the place in it of each slot's.
        let mut codes: Vec<(u64, Relation, usize)> = Vec::new();
        let mut place = vec![u32::MAX; ShelfRelation::SLOTS];
        let count = candidates.iter().map(|c| c.items.len()).sum();
        let mut pairs: Vec<Option<Pair<'_, { Relation::REALS }>>> = Vec::with_capacity(count);
        // A shelf's partial and one of its groups', reused (no allocation per shelf).
        let (mut shelf, mut group) = (m.partial(), m.partial());
        for c in candidates {
            codes.clear();
            let first = fixed.len() as u32;
            let relation = ShelfRelation::new(ctx, &listener, &c.explanation);
            pairs.extend(c.items.iter().enumerate().map(|(k, &i)| {
                if let Some(ahead) = c.items.get(k + 16) {
                    prefetch(self.facts.get(ahead.index()..=ahead.index()).unwrap_or(&[]));
                }
                let (&item, row) = (self.facts.get(i.index())?, items.get(i.0)?);
                let r = relation.of(&listener, item);
                let slot = relation.slot(&r);
                if place[slot] == u32::MAX {
                    place[slot] = codes.len() as u32;
                    codes.push((r.discrete_key(), r, slot));
                }
                Some((first + place[slot], row, r.reals()))
            }));
            for &(_, _, slot) in &codes {
                place[slot] = u32::MAX;
            }
            let shelf_key = EXPLANATION_KEY | explanation_key(&c.explanation);
            let keys = codes.iter().map(|&(k, _, _)| k);
            let groups =
                m.memo_groups(std::iter::once(shelf_key).chain(keys), |key, p| match codes
                    .iter()
                    .find(|&&(k, _, _)| k == key)
                {
                    Some((_, r, _)) => add_hashed(
                        m,
                        &mut |h| {
                            h.namespace(Relation::NAMESPACE);
                            r.write_discrete(h)
                        },
                        p,
                    ),
                    None => add_hashed(m, &mut |h| explanation_features(&c.explanation, h), p),
                });
            let remembered = |key| groups.get(key).expect("memo_groups remembers every key");
            shelf.clone_from(&page);
            shelf.add(remembered(shelf_key));
            fixed.extend(codes.iter().map(|&(key, _, _)| {
                group.clone_from(&shelf);
                group.add(remembered(key));
                pairwise.fixed(&group)
            }));
        }
        let mut scores = Vec::with_capacity(pairs.len());
        pairwise.probabilities(&fixed, &pairs, unknown, &mut scores);
        let mut scores = scores.into_iter();
        candidates
            .iter()
            .map(|c| scores.by_ref().take(c.items.len()).collect())
            .collect()
    }

    /// Candidates, scores and page in one call, with one model version (so not Thompson
    /// sampling, which needs bags: [`score_bags`](Self::score_bags) then
    /// [`plan`](Self::plan)).
    pub fn page(
        &self,
        ctx: &Context,
        models: Models<'_>,
        policy: Policy,
        impression: ImpressionId,
    ) -> Result<Page, BanditError> {
        let scored = self.score(ctx, self.candidates(ctx), models.cards);
        Ok(self
            .plan(ctx, &scored, policy, models.shelves)?
            .assemble(impression))
    }
}

/// The models of a version, borrowed: the reward model that scores cards and the shelf
/// model r' that orders shelves (each optional: without a card model every score is 0, without
/// r' shelves go by their best cards' mean score).
#[derive(Clone, Copy, Debug, Default)]
pub struct Models<'m> {
    pub cards: Option<&'m RewardModel>,
    pub shelves: Option<&'m RewardModel>,
}

impl<'m> Models<'m> {
    /// A card model alone.
    pub fn cards(model: &'m RewardModel) -> Self {
        Models {
            cards: Some(model),
            shelves: None,
        }
    }
}

/// Adds the features `write` gives, hashed, to `into`.
pub(crate) fn add_hashed(
    m: &RewardModel,
    write: &mut dyn FnMut(&mut Hashing<'_>),
    into: &mut Partial,
) {
    let mut f = Features::default();
    write(&mut Hashing::new(&mut f));
    m.add_to(into, &f.example());
}

/// Marks a remembered group as a shelf's explanation. The card model's other keys are
/// relation codes (below 2^40); r' keeps its summaries' codes under its own mark (bit 62).
pub(crate) const EXPLANATION_KEY: u64 = 1 << 63;

/// An explanation as a number: its kind and its argument.
pub(crate) fn explanation_key(e: &Explanation) -> u64 {
    (e.kind() as u64) << 32 | u64::from(e.arg())
}

/// The reward model's features of cards: a context's own are computed once and reused for
/// every card shown in it.
pub struct CardFeaturiser<'r> {
    recommender: &'r Recommender,
    context: Option<&'r Context>,
    features: Features,
    mark: Mark,
}

impl<'r> CardFeaturiser<'r> {
    pub fn new(recommender: &'r Recommender) -> Self {
        let features = Features::default();
        CardFeaturiser {
            recommender,
            context: None,
            mark: features.mark(),
            features,
        }
    }

    /// The features of `item` under `explanation` at `slot` in `ctx`. Items missing from the
    /// catalog keep only the context's features.
    pub fn card(
        &mut self,
        ctx: &'r Context,
        item: ItemId,
        explanation: &Explanation,
        slot: Slot,
    ) -> Example<'_> {
        let affinity = &self.recommender.shared.affinity;
        if !self.context.is_some_and(|c| std::ptr::eq(c, ctx)) {
            self.features.clear();
            context_features(ctx, affinity, &mut Hashing::new(&mut self.features));
            self.mark = self.features.mark();
            self.context = Some(ctx);
        }
        self.features.truncate(self.mark);
        if let Some(item) = self.recommender.catalog.item(item) {
            let mut sink = Hashing::new(&mut self.features);
            card_features(ctx, affinity, item, explanation, slot, &mut sink);
        }
        self.features.example()
    }
}
