//! The whole loop on a small world: BaRT must beat random online with non-overlapping 95%
//! intervals, the off-policy estimate of the model that served the last day must lie inside
//! the interval of its online value, and every logged page must replay bit for bit.

mod common;

use bart_bandit::{EpsilonSchedule, Models, Policy, RewardModel, seed_for};
use bart_log::{EventStore, JoinQuery};
use bart_sim::WorldConfig;
use bart_sim::experiment::{self, BART, DataDir, DemoConfig, RANDOM};

fn small(dir: &std::path::Path) -> DemoConfig {
    DemoConfig {
        world: WorldConfig {
            seed: 7,
            artists: 500,
            items: 5_000,
            genres: 20,
            listeners: 2_500,
            regions: 10,
            ..WorldConfig::default()
        },
        data_dir: dir.to_path_buf(),
        days: 3,
        random_pages_per_day: 12_000,
        bart_pages_per_day: 150,
        ..DemoConfig::default()
    }
}

#[test]
fn the_loop_learns_and_offline_agrees_with_online_and_pages_replay() {
    let dir = tempfile::tempdir().unwrap();
    // Files of an earlier demo are replaced, not mixed in.
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(DataDir::model(dir.path(), 9), b"stale").unwrap();
    std::fs::write(dir.path().join("events.db"), b"stale").unwrap();
    // ε decays 0.3, 0.175, 0.1125 over the three days; every page logs its own.
    let schedule = EpsilonSchedule::Decaying {
        start: 0.3,
        floor: 0.05,
        half_life: 1.0,
    };
    // Shelves ordered by a nightly shelf model r', which replay must use too.
    let config = DemoConfig {
        epsilon: schedule,
        shelf_model: true,
        ..small(dir.path())
    };
    let (world, recommender, report) = experiment::run(&config, false).unwrap();
    assert!((report.epsilon - 0.1125).abs() < 1e-15);
    assert!(!DataDir::model(dir.path(), 9).exists());

    let last = report.last_day();
    assert_eq!(report.days.len(), 3);
    assert_eq!(report.model_version, 2);
    assert_eq!(last.model_version, 2);
    common::assert_bart_learned(&report);
    assert_eq!(report.offline_pages, 12_000);
    assert!(DataDir::report(dir.path()).is_file());
    assert!(DataDir::model(dir.path(), 2).is_file());

    // Replay every BaRT page of the last day, and a sample of random pages, from the log.
    let store = EventStore::open(dir.path()).unwrap();
    let bart_pages = store
        .joined(&JoinQuery {
            policy: Some(BART.into()),
            from: None,
            until: None,
            window_secs: 3_600,
        })
        .unwrap();
    for p in &bart_pages {
        let day = (p.impression.timestamp - config.world.start) / 86_400;
        let scheduled = Policy::from(schedule.at(day as f64)).exploration();
        assert_eq!(p.impression.exploration, scheduled, "day {day}");
    }
    assert_eq!(bart_pages.len(), 3 * 150);
    let day_start = config.world.start + 2 * 86_400;
    let model = RewardModel::load(&DataDir::model(dir.path(), 2)).unwrap();
    let shelves = RewardModel::load(&DataDir::shelf_model(dir.path(), 2)).unwrap();
    for (policy, take) in [(BART, usize::MAX), (RANDOM, 300)] {
        let pages = store
            .joined(&JoinQuery {
                policy: Some(policy.into()),
                from: Some(day_start),
                until: None,
                window_secs: 3_600,
            })
            .unwrap();
        assert!(!pages.is_empty());
        for logged in pages.iter().take(take).map(|p| &p.impression) {
            let models = match logged.model_version {
                0 => Models::default(),
                _ => Models {
                    cards: Some(&model),
                    shelves: Some(&shelves),
                },
            };
            let policy = Policy::new(logged.exploration).unwrap();
            let rebuilt = recommender
                .page(&logged.context, models, policy, logged.id)
                .unwrap();
            assert_eq!(rebuilt, logged.page, "impression {}", logged.id);
            assert_eq!(logged.seed, seed_for(logged.id));
        }
    }
    // The world in the data directory is the one the demo ran on.
    let saved: WorldConfig =
        serde_json::from_str(&std::fs::read_to_string(DataDir::world(dir.path())).unwrap())
            .unwrap();
    assert_eq!(saved, world.config);
}

#[test]
fn invalid_demo_settings_are_rejected_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small(dir.path());
    config.days = 1;
    let err = experiment::run(&config, false).unwrap_err().to_string();
    assert!(err.contains("days"), "{err}");
    config.days = 3;
    config.epsilon = EpsilonSchedule::Fixed { epsilon: 2.0 };
    let err = experiment::run(&config, false).unwrap_err().to_string();
    assert!(err.contains("epsilon"), "{err}");
    assert!(!DataDir::report(dir.path()).exists());
}
