//! `bart page --policy thompson` and `bart replay` of Thompson pages: the bags are trained on
//! the fly, the same every time, so pages repeat and a logged Thompson page (built here with
//! the library) replays exactly; without a trained model Thompson sampling is refused.

use bart_bandit::{Policy, seed_for};
use bart_core::{Exploration, Impression, ImpressionId};
use bart_log::{EventStore, JoinQuery};
use bart_sim::WorldConfig;
use bart_sim::experiment::{self, DataDir, DemoConfig, ModelRecord, TrainingHistory};
use std::path::Path;

mod common;
use common::{bart, text_of};

/// A two-day demo: model v1, trained on day 1.
fn tiny_demo(dir: &Path) -> DemoConfig {
    let config = DemoConfig {
        world: WorldConfig {
            seed: 3,
            artists: 150,
            items: 1_500,
            genres: 10,
            listeners: 400,
            regions: 5,
            ..WorldConfig::default()
        },
        data_dir: dir.to_path_buf(),
        days: 2,
        random_pages_per_day: 600,
        bart_pages_per_day: 60,
        shelf_model: true,
        ..DemoConfig::default()
    };
    experiment::run(&config, false).unwrap();
    config
}

/// Logs a page built with `bags` bags of model v1 under `id`, saying it was served with
/// `logged_bags` bags.
fn log_thompson_page(config: &DemoConfig, id: ImpressionId, bags: u32, logged_bags: u32) {
    let dir = &config.data_dir;
    let world = bart_sim::World::generate(&config.world).unwrap();
    let rec = experiment::build_recommender(&world, config.candidates.clone(), config.page.clone())
        .unwrap();
    let mut store = EventStore::open(dir).unwrap();
    let record: ModelRecord =
        serde_json::from_str(&std::fs::read_to_string(DataDir::model_record(dir, 1)).unwrap())
            .unwrap();
    let model = bart_bandit::RewardModel::load(&DataDir::model(dir, 1)).unwrap();
    let history = TrainingHistory {
        store: &store,
        recommender: &rec,
        start: config.world.start,
        records: std::slice::from_ref(&record),
        model: model.config(),
    };
    let trained = history.bags(bags as usize, |_, _| {}).unwrap();
    // A context served on day 2, after everything v1 learned from.
    let day2 = store
        .joined(&JoinQuery {
            policy: None,
            from: Some(record.trained_until),
            until: None,
            window_secs: 3_600,
        })
        .unwrap();
    let served = &day2[7].impression;
    let ctx = &served.context;
    let policy = Policy::new(Exploration::Thompson { bags }).unwrap();
    let scored = rec.score_bags(ctx, rec.candidates(ctx), &trained);
    // Shelves are ordered by v1's shelf model, as `bart replay` orders them.
    let shelves = bart_bandit::RewardModel::load(&DataDir::shelf_model(dir, 1)).unwrap();
    let page = rec
        .plan(ctx, &scored, policy, Some(&shelves))
        .unwrap()
        .assemble(id);
    store
        .append_impressions(&[Impression {
            id,
            timestamp: served.timestamp,
            context: ctx.clone(),
            policy: "bart".into(),
            exploration: Exploration::Thompson { bags: logged_bags },
            model_version: 1,
            seed: seed_for(id),
            page,
        }])
        .unwrap();
}

#[test]
fn thompson_pages_repeat_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    let config = tiny_demo(&dir);

    let page = |extra: &[&str]| {
        let mut args = vec![
            "page",
            "--data",
            d,
            "--listener",
            "7",
            "--policy",
            "thompson",
        ];
        args.extend_from_slice(extra);
        bart(&args)
    };
    let first = page(&["--bags", "4"]);
    let (stdout, stderr) = text_of(&first);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stdout.contains("policy bart (Thompson sampling (4 bags)), model v1"),
        "{stdout}"
    );
    assert!(stdout.contains("p = "), "{stdout}");
    assert_eq!(page(&["--bags", "4"]).stdout, first.stdout);
    // Another impression draws another page (here, and almost surely).
    let other = page(&["--bags", "4", "--impression", "2"]);
    assert!(other.status.success());
    assert_ne!(other.stdout, first.stdout);
    let help = text_of(&bart(&["page", "--help"])).0;
    assert!(
        help.contains("thompson") && help.contains("[default: 8]"),
        "{help}"
    );

    // A logged Thompson page replays exactly from the bags rebuilt by the command...
    log_thompson_page(&config, ImpressionId(1 << 40), 4, 4);
    let out = bart(&[
        "replay",
        "--data",
        d,
        "--impression",
        &(1u64 << 40).to_string(),
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("and 4 bags of model v1: identical"),
        "{stdout}"
    );
    // ...and the bag count is the logged one: a page logged with the wrong count differs.
    log_thompson_page(&config, ImpressionId((1 << 40) + 1), 4, 3);
    let out = bart(&[
        "replay",
        "--data",
        d,
        "--impression",
        &((1u64 << 40) + 1).to_string(),
    ]);
    let (stdout, _) = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Replay differs from the log"), "{stdout}");

    // Clear errors: no bags, the untrained model, no trained model at all.
    let out = page(&["--bags", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).1.contains("bags = 0"), "{}", text_of(&out).1);
    let out = page(&["--model", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text_of(&out).1.contains("model v0 is the untrained one"),
        "{}",
        text_of(&out).1
    );
    std::fs::remove_dir_all(dir.join("models")).unwrap();
    let out = page(&[]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("Thompson sampling needs a trained model to bag") && stderr.contains(d),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
