//! Bootstrap Thompson sampling on a demo's data directory: the nightly training can be run
//! again exactly, bags retrained from the same seeds are the same models, and a Thompson page
//! logs at every draw exactly the probability the policy gives over the bags' scores.

use bart_bandit::{Policy, Recommender, RewardModel, Scores};
use bart_core::{Context, Exploration, ImpressionId, Page};
use bart_log::{EventStore, JoinQuery};
use bart_sim::WorldConfig;
use bart_sim::experiment::{self, DataDir, DemoConfig, ModelRecord, TrainingHistory, bag_seed};

fn tiny(dir: &std::path::Path) -> DemoConfig {
    DemoConfig {
        world: WorldConfig {
            seed: 5,
            artists: 150,
            items: 1_500,
            genres: 10,
            listeners: 400,
            regions: 5,
            ..WorldConfig::default()
        },
        data_dir: dir.to_path_buf(),
        days: 3,
        random_pages_per_day: 600,
        bart_pages_per_day: 60,
        ..DemoConfig::default()
    }
}

fn records(dir: &std::path::Path, version: u32) -> Vec<ModelRecord> {
    (1..=version)
        .map(|v| {
            let text = std::fs::read_to_string(DataDir::model_record(dir, v)).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

fn thompson_page(
    rec: &Recommender,
    ctx: &Context,
    bags: &[RewardModel],
    id: ImpressionId,
) -> (Page, bart_bandit::PagePlan) {
    let policy = Policy::new(Exploration::Thompson {
        bags: bags.len() as u32,
    })
    .unwrap();
    let scored = rec.score_bags(ctx, rec.candidates(ctx), bags);
    let plan = rec.plan(ctx, &scored, policy, None).unwrap();
    (plan.assemble(id), plan)
}

/// Thompson sampling's probability of `remaining[at]`, worked out directly: the share of bags
/// whose best remaining candidate it is (highest score, the first on ties).
fn share(bags: &[Vec<f64>], remaining: &[usize], at: usize) -> f64 {
    let best = |b: &Vec<f64>| {
        (1..remaining.len()).fold(0, |best, k| {
            if b[remaining[k]] > b[remaining[best]] {
                k
            } else {
                best
            }
        })
    };
    bags.iter().filter(|b| best(b) == at).count() as f64 / bags.len() as f64
}

/// Walks `page`'s draws in order (free rows, then each shelf's cards) and checks that each
/// logged probability is exactly the policy's probability over the bags' scores of the
/// candidates left at that step. Returns the number of draws checked.
fn check_draws(page: &Page, plan: &bart_bandit::PagePlan, policy: Policy) -> usize {
    let shelves = plan.shelves();
    let bag_count = shelves[0].bags.len();
    assert!(bag_count > 1);
    let mut free: Vec<usize> = (0..shelves.len())
        .filter(|v| !plan.pinned().contains(&Some(*v)))
        .collect();
    let mut p = Vec::new();
    let mut draws = 0;
    for shelf in &page.shelves {
        let v = shelves
            .iter()
            .position(|s| s.explanation == shelf.explanation)
            .expect("a planned shelf");
        if plan.pinned()[usize::from(shelf.row)].is_none() {
            // Row draw: over the free shelves left, by their shelf scores (per bag).
            let mean: Vec<f64> = free.iter().map(|&f| shelves[f].score).collect();
            let bags: Vec<Vec<f64>> = (0..bag_count)
                .map(|b| free.iter().map(|&f| shelves[f].bag_scores[b]).collect())
                .collect();
            let all: Vec<usize> = (0..free.len()).collect();
            policy.probabilities(
                Scores {
                    mean: &mean,
                    bags: &bags,
                },
                &all,
                &mut p,
            );
            let at = free
                .iter()
                .position(|&f| f == v)
                .expect("drawn from the free shelves");
            assert_eq!(shelf.probability, p[at], "row {}", shelf.row);
            assert_eq!(shelf.probability, share(&bags, &all, at));
            free.remove(at);
            draws += 1;
        }
        let planned = &shelves[v];
        let mut left: Vec<usize> = (0..planned.items.len()).collect();
        for card in &shelf.cards {
            policy.probabilities(
                Scores {
                    mean: &planned.scores,
                    bags: &planned.bags,
                },
                &left,
                &mut p,
            );
            let at = left
                .iter()
                .position(|&j| planned.items[j] == card.item)
                .expect("drawn from the shelf's remaining items");
            assert_eq!(
                card.probability, p[at],
                "{:?} column {}",
                shelf.explanation, card.column
            );
            assert_eq!(card.probability, share(&planned.bags, &left, at));
            assert!(card.probability > 0.0);
            assert_eq!(card.score, planned.scores[left[at]]);
            assert_eq!(card.propensity, None);
            left.remove(at);
            draws += 1;
        }
    }
    draws
}

#[test]
fn bags_retrain_exactly_and_thompson_pages_log_the_policys_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tiny(tmp.path());
    let (world, rec, report) = experiment::run(&config, false).unwrap();
    assert_eq!(report.model_version, 2);
    let dir = tmp.path();
    let store = EventStore::open(dir).unwrap();
    let records = records(dir, 2);
    assert_eq!(records[1].train, config.train);
    let saved = RewardModel::load(&DataDir::model(dir, 2)).unwrap();
    let history = TrainingHistory {
        store: &store,
        recommender: &rec,
        start: config.world.start,
        records: &records,
        model: saved.config(),
    };

    // The nights again, with the records' own options: the saved model, bit for bit (the
    // bags learn from exactly the pages the version learned from).
    let mut totals = Vec::new();
    let again = history
        .retrain(
            1,
            |_, _, train| train.clone(),
            |done, total| totals.push((done, total)),
        )
        .unwrap();
    // (Files hold the parameters, not the optimiser's state: compare them as saved.)
    let params = |m: &RewardModel| {
        let file = dir.join("params.bart");
        m.save(&file).unwrap();
        std::fs::read(&file).unwrap()
    };
    let saved_params = std::fs::read(DataDir::model(dir, 2)).unwrap();
    assert_eq!(params(&again[0]), saved_params);
    let examples: u64 = records.iter().map(|r| r.examples).sum();
    assert_eq!(totals.last(), Some(&(examples, examples)));
    // Records must be versions 1, 2, ... in order.
    let skipping = TrainingHistory {
        records: &records[1..],
        ..history
    };
    let err = skipping.retrain(1, |_, _, t| t.clone(), |_, _| {});
    assert!(err.unwrap_err().to_string().contains("v2 in place of v1"));
    // A night whose pages are not the ones the version learned from is refused.
    let mut changed = records.clone();
    changed[0].examples += 1;
    let moved = TrainingHistory {
        records: &changed,
        ..history
    };
    let err = moved
        .retrain(1, |_, _, t| t.clone(), |_, _| {})
        .unwrap_err();
    assert!(err.to_string().contains("store changed"), "{err}");

    // Four bags, twice: the same models; each bag another resample, none the plain model.
    let bags = history.bags(4, |_, _| {}).unwrap();
    let again = history.bags(4, |_, _| {}).unwrap();
    assert!(bags == again);
    let bag_params: Vec<Vec<u8>> = bags.iter().map(params).collect();
    for (a, bag) in bag_params.iter().enumerate() {
        assert_ne!(*bag, saved_params, "bag {a} is the plain model");
        assert!(
            !bag_params[..a].contains(bag),
            "bag {a} repeats an earlier one"
        );
    }
    assert_ne!(bag_seed(0, 1), bag_seed(0, 2));
    assert_ne!(bag_seed(0, 1), bag_seed(1, 1));

    // Thompson pages: rebuilt identically from the retrained bags, every draw's logged
    // probability the policy's own over the bags' scores, and the bags disagree often enough
    // that some draws are not certain.
    let policy = Policy::new(Exploration::Thompson { bags: 4 }).unwrap();
    let logged = store
        .joined(&JoinQuery {
            policy: None,
            from: Some(records[1].trained_until),
            until: None,
            window_secs: 3_600,
        })
        .unwrap();
    let (mut draws, mut uncertain) = (0, 0);
    for (k, p) in logged.iter().step_by(97).take(8).enumerate() {
        let ctx = &p.impression.context;
        let id = ImpressionId(1_000 + k as u64);
        let (page, plan) = thompson_page(&rec, ctx, &bags, id);
        assert_eq!(page, thompson_page(&rec, ctx, &again, id).0);
        assert!(page.card_count() > 0);
        draws += check_draws(&page, &plan, policy);
        uncertain += page
            .shelves
            .iter()
            .flat_map(|s| &s.cards)
            .filter(|c| c.probability < 1.0)
            .count();
    }
    assert!(draws >= 100, "{draws} draws");
    assert!(uncertain > 0, "the bags never disagreed");
    drop(world);
}
