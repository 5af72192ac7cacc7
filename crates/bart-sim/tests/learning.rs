//! Off-policy estimates against exact ground truth, and counterfactual training weights.
//!
//! The simulator knows every card's true stream probability, and the target policy's slot
//! propensities are exact, so the target's true per-card stream rate over a fixed set of
//! contexts can be computed exactly and compared with IPS and SNIPS from uniform logs.

use bart_bandit::card_features::{Listener, Relation, ShelfRelation};
use bart_bandit::{
    CandidateConfig, CardExamples, CardFeaturiser, EpsilonGreedy, LoggedCard, ModelConfig,
    ModelKind, Models, PageConfig, PagePlan, Policy, Recommender, RewardModel, ShelfSummary, Slot,
    TrainConfig, Weighting, fit,
};
use bart_core::{
    Context, Explanation, Exploration, Impression, ImpressionId, ItemId, ListenerId, Platform,
};
use bart_ope::{Target, evaluate};
use bart_sim::experiment::build_recommender;
use bart_sim::listening_world::sample_listening;
use bart_sim::unbiased::page_rewards;
use bart_sim::{Listening, World, WorldConfig};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::HashMap;

fn world() -> World {
    World::generate(&WorldConfig {
        seed: 11,
        artists: 150,
        items: 1_500,
        genres: 10,
        listeners: 300,
        regions: 5,
        ..WorldConfig::default()
    })
    .unwrap()
}

/// The generated world above, and a world of as many listeners built around sample
/// listening data (with embeddings, so preferences are not 0, and clusters).
fn worlds() -> [World; 2] {
    let data = sample_listening(300, 400, 5);
    let listening = World::from_listening(&world().config, &data, 0).unwrap();
    assert!(listening.embeddings.is_some() && !listening.catalog.clusters.is_empty());
    [world(), listening]
}

fn contexts(world: &World, n: u32) -> Vec<Context> {
    let listening = Listening::new(world);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let listeners = world.listeners.len() as u32;
    (0..n)
        .map(|l| {
            let ts = world.config.start + u64::from(l) * 997;
            listening.context(world, ListenerId(l % listeners), ts, &mut rng)
        })
        .collect()
}

/// The target's exact expected streams and expected cards in one context.
fn truth(world: &World, rec: &Recommender, target: &Target, ctx: &Context) -> (f64, f64) {
    let scored = rec.score(ctx, rec.candidates(ctx), target.model);
    let plan = rec
        .plan(ctx, &scored, target.policy.into(), target.shelves)
        .unwrap();
    bart_sim::unbiased::truth(world, rec, &plan, ctx)
}

#[test]
fn ips_and_snips_recover_the_true_rate_of_a_target_from_uniform_logs() {
    let world = world();
    let rec = build_recommender(&world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let ctxs = contexts(&world, 150);
    // A target far from uniform: greedy on the candidates' prior order, ε = 0.2.
    let target = Target {
        model: None,
        shelves: None,
        policy: EpsilonGreedy::new(0.2).unwrap(),
    };
    let (mut streams, mut cards) = (0.0, 0.0);
    for ctx in &ctxs {
        let (s, c) = truth(&world, &rec, &target, ctx);
        streams += s;
        cards += c;
    }
    let true_rate = streams / cards;

    // Uniform logs: 200 pages per context, rewards drawn from the true probabilities.
    let uniform = EpsilonGreedy::uniform();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let mut logged = Vec::new();
    let mut short_shelves = 0;
    for (c, ctx) in ctxs.iter().enumerate() {
        for k in 0..200u64 {
            let id = ImpressionId(c as u64 * 1_000 + k);
            let page = rec
                .page(ctx, Models::default(), uniform.into(), id)
                .unwrap();
            short_shelves += page.shelves.iter().filter(|s| s.cards.len() < 5).count();
            let rewards = page_rewards(&world, ctx, &page, &mut rng);
            let imp = Impression {
                id,
                timestamp: 0,
                context: ctx.clone(),
                policy: "random".into(),
                exploration: Exploration::UNIFORM,
                model_version: 0,
                seed: bart_bandit::seed_for(id),
                page,
            };
            logged.push((imp, rewards));
        }
    }
    assert!(
        short_shelves > 0,
        "the fixture should include short shelves"
    );
    let refs: Vec<_> = logged.iter().map(|(i, r)| (i, r.as_slice())).collect();
    let value = evaluate(&rec, &target, &refs).unwrap();
    for e in [value.ips, value.snips] {
        let z = (e.value - true_rate) / e.std_error;
        assert!(
            z.abs() < 3.0,
            "estimate {} vs truth {true_rate}: z = {z}",
            e.value
        );
    }
    // The target really differs from uniform: its true rate is not the logged one.
    let logged_rate = bart_ope::stream_rate(&refs).unwrap();
    assert!(
        (true_rate - logged_rate.value).abs() > 5.0 * logged_rate.std_error,
        "target {true_rate} vs logged {:?}",
        logged_rate
    );
}

#[test]
fn training_weights_follow_the_weighting_and_bad_examples_are_refused() {
    let world = world();
    let rec = build_recommender(&world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let ctx = &contexts(&world, 1)[0];
    let shelf = &rec.candidates(ctx)[0];
    let card = |propensity: f64, reward: f64| LoggedCard {
        context: ctx,
        explanation: shelf.explanation,
        item: shelf.items[0],
        slot: Slot::TOP_LEFT,
        propensity,
        reward,
        explore: propensity == 0.25,
    };
    let train = |cards: &[LoggedCard<'_>], config: &TrainConfig| {
        let mut model = RewardModel::new(ModelConfig {
            kind: ModelKind::Lr,
            ..ModelConfig::default()
        })
        .unwrap();
        let examples = CardExamples {
            recommender: &rec,
            cards,
            batch_size: 2,
        };
        fit(&mut model, &examples, config, |_, _| {}).map(|s| (s, model))
    };
    let clipped = TrainConfig {
        weighting: Weighting::Clipped(50.0),
        ..TrainConfig::default()
    };
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        let err = train(&[card(0.5, 1.0), card(bad, 1.0)], &clipped).unwrap_err();
        assert!(err.to_string().contains("example 1: propensity"), "{err}");
    }
    let err = train(&[card(0.5, 2.0)], &clipped).unwrap_err();
    assert!(
        err.to_string().contains("reward 2 is not in [0, 1]"),
        "{err}"
    );

    // Mean weights are exact for every weighting; the loss reported is the first
    // (progressive) pass's whatever the number of epochs.
    let data = [card(0.5, 1.0), card(0.01, 0.0), card(0.25, 1.0)];
    let mean_weight = |weighting: &str| {
        let config = TrainConfig {
            weighting: weighting.parse().unwrap(),
            ..TrainConfig::default()
        };
        train(&data, &config).unwrap().0.mean_weight
    };
    assert_eq!(mean_weight("none"), 1.0);
    assert!((mean_weight("ips") - (2.0 + 100.0 + 4.0) / 3.0).abs() < 1e-12);
    assert!((mean_weight("clipped:50") - (2.0 + 50.0 + 4.0) / 3.0).abs() < 1e-12);
    assert!((mean_weight("self-normalised") - 1.0).abs() < 1e-12);
    assert!("clipped:0.5".parse::<Weighting>().is_err());
    let (s1, one) = train(&data, &clipped).unwrap();
    let three = TrainConfig {
        epochs: 3,
        ..clipped.clone()
    };
    let (s3, three) = train(&data, &three).unwrap();
    assert_eq!(s1, s3);
    assert_eq!(s1.examples, 3);
    assert_ne!(one, three);
    // The exploration slice alone: only the card with propensity 0.25.
    let explore = TrainConfig {
        exploration_only: true,
        ..clipped.clone()
    };
    let (s, _) = train(&data, &explore).unwrap();
    assert_eq!((s.examples, s.skipped, s.mean_weight), (1, 2, 4.0));
    // A fresh model predicts 0.5, so one example's progressive loss is exactly ln 2.
    let (single, _) = train(&[card(0.01, 0.0)], &clipped).unwrap();
    assert!((single.weighted_log_loss - 2f64.ln()).abs() < 1e-12);
}

#[test]
fn training_is_bit_for_bit_the_same_on_one_thread_or_many() {
    let world = world();
    let rec = build_recommender(&world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let ctxs = contexts(&world, 300);
    let mut cards = Vec::new();
    for (k, ctx) in ctxs.iter().enumerate() {
        for (s, shelf) in rec.candidates(ctx).iter().enumerate().take(3) {
            for (c, &item) in shelf.items.iter().enumerate().take(4) {
                cards.push(LoggedCard {
                    context: ctx,
                    explanation: shelf.explanation,
                    item,
                    slot: Slot {
                        row: s as u16,
                        column: c as u16,
                    },
                    propensity: 0.05 + 0.01 * ((k + s + c) % 7) as f64,
                    reward: f64::from(u8::from((k * 7 + s * 3 + c) % 5 == 0)),
                    explore: true,
                });
            }
        }
    }
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut model = RewardModel::new(ModelConfig::default()).unwrap();
            let examples = CardExamples {
                recommender: &rec,
                cards: &cards,
                batch_size: 1000,
            };
            let stats = fit(&mut model, &examples, &TrainConfig::default(), |_, _| {}).unwrap();
            (stats, model)
        })
    };
    let (s1, m1) = run(1);
    let (s4, m4) = run(4);
    assert_eq!(s1.examples, cards.len() as u64);
    assert_eq!(
        s1.weighted_log_loss.to_bits(),
        s4.weighted_log_loss.to_bits()
    );
    assert_eq!(m1, m4);
}

#[test]
fn logs_exported_as_cb_adf_read_back_to_the_served_draws_and_the_models_features() {
    for world in worlds() {
        exported_logs_read_back(&world);
    }
}

fn exported_logs_read_back(world: &World) {
    let rec = build_recommender(world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let ctxs = contexts(world, 40);
    // A model with non-trivial scores: a few updates on logged-like cards.
    let mut model = RewardModel::new(ModelConfig::default()).unwrap();
    let cards: Vec<LoggedCard<'_>> = ctxs
        .iter()
        .flat_map(|ctx| {
            let shelf = rec.candidates(ctx)[0].clone();
            let explanation = shelf.explanation;
            shelf
                .items
                .into_iter()
                .enumerate()
                .map(move |(k, item)| LoggedCard {
                    context: ctx,
                    explanation,
                    item,
                    slot: Slot::TOP_LEFT,
                    propensity: 0.1,
                    reward: f64::from(u8::from(k % 3 == 0)),
                    explore: true,
                })
        })
        .collect();
    let examples = CardExamples {
        recommender: &rec,
        cards: &cards,
        batch_size: 64,
    };
    fit(&mut model, &examples, &TrainConfig::default(), |_, _| {}).unwrap();

    let policy = EpsilonGreedy::new(0.2).unwrap();
    let mut featuriser = CardFeaturiser::new(&rec);
    // The same model with every item's row made at once, as a server loads it.
    let prepared = model.clone();
    rec.prepare(&prepared);
    let (mut checked, mut text, mut preferred) = (0, String::new(), 0);
    for (k, ctx) in ctxs.iter().enumerate() {
        let page = rec
            .page(
                ctx,
                Models::cards(&model),
                policy.into(),
                ImpressionId(k as u64),
            )
            .unwrap();
        let rewards: Vec<Vec<f64>> = page
            .shelves
            .iter()
            .map(|s| {
                s.cards
                    .iter()
                    .map(|c| f64::from(u8::from(c.column == 1)))
                    .collect()
            })
            .collect();
        let imp = Impression {
            id: ImpressionId(k as u64),
            timestamp: 0,
            context: ctx.clone(),
            policy: "bart".into(),
            exploration: Exploration::EpsilonGreedy { epsilon: 0.2 },
            model_version: 1,
            seed: 0,
            page: page.clone(),
        };
        text.clear();
        let n = rec.write_cb_adf(&imp, &rewards, &mut text).unwrap();
        assert_eq!(n, page.card_count());
        let scored = rec.score(ctx, rec.candidates(ctx), Some(&model));
        assert_eq!(rec.score(ctx, rec.candidates(ctx), Some(&prepared)), scored);
        let path = std::path::Path::new("export.txt");
        let mut reader = bart_bandit::vw::ExampleReader::new(path, text.as_bytes());
        for shelf in &page.shelves {
            let served = scored
                .iter()
                .find(|s| s.explanation == shelf.explanation)
                .unwrap();
            // Serving's scores from partials equal the model's on each card's full features,
            // the listener's preference for the item's artist included.
            for (j, &item) in served.items.iter().enumerate() {
                let artist = world.catalog.items[item.index()].artist;
                preferred +=
                    usize::from(rec.shared().affinity.preference(ctx.listener, artist) != 0.0);
                let full = featuriser.card(ctx, item, &served.explanation, Slot::TOP_LEFT);
                let full = model.predict(&full);
                assert!(
                    (full - served.scores[j]).abs() < 1e-5,
                    "{full} vs {}",
                    served.scores[j]
                );
            }
            let mut remaining: Vec<usize> = (0..served.items.len()).collect();
            for card in &shelf.cards {
                let ex = reader.next_example().unwrap().unwrap();
                let label = ex.label().unwrap();
                // The action set is the shelf's remaining candidates, in order, and the label
                // holds the probability the card was drawn with, which the serving scores
                // of that set give exactly.
                assert_eq!(ex.len(), remaining.len());
                let scores: Vec<f64> = remaining.iter().map(|&j| served.scores[j]).collect();
                assert_eq!(served.items[remaining[label.action]], card.item);
                assert_eq!(
                    policy.probabilities(&scores)[label.action],
                    card.probability
                );
                assert_eq!(label.probability, card.probability);
                assert_eq!(
                    label.reward(),
                    Some(if card.column == 1 { 1.0 } else { 0.0 })
                );
                // Each action's features are the model's own, so scores agree to the bit.
                let slot = Slot {
                    row: shelf.row,
                    column: card.column,
                };
                for (a, &j) in remaining.iter().enumerate() {
                    let native = featuriser.card(ctx, served.items[j], &shelf.explanation, slot);
                    let parsed: Vec<_> = ex.action(a).atoms().collect();
                    assert_eq!(parsed, native.atoms().collect::<Vec<_>>());
                    assert_eq!(
                        model.predict(&ex.action(a)).to_bits(),
                        model.predict(&native).to_bits()
                    );
                }
                remaining.remove(label.action);
                checked += 1;
            }
        }
        assert!(reader.next_example().unwrap().is_none());
    }
    assert!(checked >= 40 * 15, "{checked}");
    assert_eq!(preferred > 0, world.embeddings.is_some(), "{preferred}");
}

#[test]
fn a_listener_without_history_gets_a_full_explained_page() {
    let world = world();
    let rec = build_recommender(&world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let known = &contexts(&world, 1)[0];
    let newcomer = Context {
        listener: ListenerId(1_000_000),
        recent_artists: Vec::new(),
        recent_genres: Vec::new(),
        recent_items: Vec::new(),
        ..known.clone()
    };
    // Every listener, newcomer or not, gets a popular_on shelf for the platform in use (not
    // the listener's usual one) right after popular_in, the same every time, long enough to
    // show after the page rules have left the items it shares with popular_in there.
    let elsewhere = Context {
        platform: Platform::ALL
            .into_iter()
            .find(|&p| p != known.platform)
            .unwrap(),
        ..newcomer.clone()
    };
    let config = rec.page_config();
    for ctx in [known, &newcomer, &elsewhere] {
        let candidates = rec.candidates(ctx);
        assert_eq!(candidates, rec.candidates(ctx));
        let at = candidates
            .iter()
            .position(|c| c.explanation == Explanation::PopularIn(ctx.region))
            .unwrap();
        let popular_on = &candidates[at + 1];
        assert_eq!(popular_on.explanation, Explanation::PopularOn(ctx.platform));
        assert!(popular_on.items.len() >= config.min_cards, "{popular_on:?}");
    }
    for (k, policy) in [EpsilonGreedy::uniform(), EpsilonGreedy::new(0.1).unwrap()]
        .iter()
        .enumerate()
    {
        let page = rec
            .page(
                &newcomer,
                Models::default(),
                (*policy).into(),
                ImpressionId(k as u64),
            )
            .unwrap();
        assert_eq!(page.shelves.len(), config.rows, "{page:?}");
        for shelf in &page.shelves {
            assert!(shelf.cards.len() >= config.min_cards);
            assert!(!shelf.explanation.title(&world.catalog).is_empty());
            // Only explanations that are true of a newcomer.
            assert!(matches!(
                shelf.explanation,
                Explanation::PopularIn(_) | Explanation::PopularOn(_) | Explanation::Discover(_)
            ));
        }
    }
}

#[test]
fn a_recommender_plans_its_own_candidates_unchecked_and_checks_any_others() {
    let world = world();
    let rec = build_recommender(&world, CandidateConfig::default(), PageConfig::default()).unwrap();
    // The same catalog with stricter rules: one card per artist, at least five per shelf.
    let strict = rec
        .clone()
        .with_page(PageConfig {
            max_per_artist: Some(1),
            min_cards: 5,
            ..PageConfig::default()
        })
        .unwrap();
    let artist_of = |i: ItemId| world.catalog.item(i).map(|item| item.artist);
    let by_top_mean = |_: &Explanation, s: &ShelfSummary| s.top_mean;
    let policy: Policy = EpsilonGreedy::new(0.2).unwrap().into();
    let layout = |plan: &PagePlan| -> Vec<(Explanation, Vec<ItemId>)> {
        let shelves = plan.shelves().iter();
        shelves.map(|s| (s.explanation, s.items.clone())).collect()
    };
    let mut bites = 0;
    for (k, ctx) in contexts(&world, 30).iter().enumerate() {
        let id = ImpressionId(k as u64);
        let scored = rec
            .candidates(ctx)
            .scored_by(|_, i| f64::from(i.0 % 17) / 17.0);
        // Its own candidates: the plan the checks would make, without them.
        let own = rec.plan(ctx, &scored, policy, None).unwrap();
        let checked = PagePlan::new(&scored, policy, rec.page_config(), &artist_of, &by_top_mean);
        let checked = checked.unwrap();
        assert_eq!(layout(&own), layout(&checked));
        assert_eq!(own.assemble(id), checked.assemble(id));
        // Another recommender's: made to obey this one's rules.
        let other = strict.plan(ctx, &scored, policy, None).unwrap();
        let config = strict.page_config();
        let checked = PagePlan::new(&scored, policy, config, &artist_of, &by_top_mean).unwrap();
        assert_eq!(layout(&other), layout(&checked));
        assert_eq!(other.assemble(id), checked.assemble(id));
        bites += usize::from(layout(&other) != layout(&own));
    }
    // The stricter rules change most pages, so trusting the shelves would be seen above.
    assert!(bites >= 20, "{bites}");
}

#[test]
fn relation_features_from_indexed_listener_facts_equal_the_scanned_ones() {
    for world in worlds() {
        indexed_relations_equal_scanned(&world);
    }
}

fn indexed_relations_equal_scanned(world: &World) {
    let rec = build_recommender(world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let affinity = &rec.shared().affinity;
    let (mut checked, mut preferred, mut discover_clusters) = (0, 0, 0);
    for ctx in contexts(world, 30) {
        // Repeats in the recent lists: the first position counts, as a scan finds it.
        let mut repeated = ctx.clone();
        repeated
            .recent_items
            .extend(ctx.recent_items.iter().rev().copied());
        repeated
            .recent_artists
            .extend(ctx.recent_artists.iter().rev().copied());
        for ctx in [ctx, repeated] {
            let listener = Listener::new(&ctx, affinity);
            for shelf in rec.candidates(&ctx) {
                let more = ctx.recent_items.iter().copied();
                let on_shelf = ShelfRelation::new(&ctx, &listener, &shelf.explanation);
                // Slots tell keys apart within the shelf: one key per slot, one slot per key.
                let (mut key_of, mut slot_of) = (HashMap::new(), HashMap::new());
                for item in shelf.items.iter().copied().chain(more) {
                    let item = world.catalog.item(item).unwrap();
                    let scanned = Relation::of(&ctx, affinity, item, &shelf.explanation);
                    let indexed = Relation::with(&ctx, &listener, item.into(), &shelf.explanation);
                    assert_eq!(scanned, indexed);
                    let (slot, key) = (on_shelf.slot(&indexed), indexed.discrete_key());
                    assert!(slot < ShelfRelation::SLOTS);
                    assert_eq!(*key_of.entry(slot).or_insert(key), key);
                    assert_eq!(*slot_of.entry(key).or_insert(slot), slot);
                    let preference = affinity.preference(ctx.listener, item.artist);
                    assert_eq!(scanned.reals()[2], preference);
                    preferred += usize::from(preference != 0.0);
                    discover_clusters +=
                        usize::from(matches!(shelf.explanation, Explanation::DiscoverCluster(_)));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 5_000, "{checked}");
    // Preferences and cluster shelves exactly when the world has embeddings and clusters.
    assert_eq!(preferred > 1_000, world.embeddings.is_some(), "{preferred}");
    assert_eq!(discover_clusters > 0, !world.catalog.clusters.is_empty());
}
