//! Worlds built around listening data: the catalog and the history the recommender sees come
//! from the data (the held-out artists never appear in it), the world rebuilds exactly from
//! its data directory and refuses changed data, and the whole loop learns on it, with
//! similar-artist and cluster shelves, and replays its pages bit for bit.

mod common;

use bart_bandit::{CandidateConfig, Models, PageConfig, Policy, RewardModel};
use bart_core::{Explanation, ItemKind, ListenerId};
use bart_log::{EventStore, JoinQuery};
use bart_models::split::holdout;
use bart_sim::experiment::{self, BART, DataDir, DemoConfig, build_recommender};
use bart_sim::listening_world::sample_listening;
use bart_sim::{HOLDOUT, World, WorldConfig};
use std::collections::BTreeSet;

fn config() -> WorldConfig {
    WorldConfig {
        seed: 5,
        genres: 6,
        regions: 5,
        ..WorldConfig::default()
    }
}

#[test]
fn the_catalog_is_the_datas_and_the_history_leaves_the_held_out_artists_out() {
    let data = sample_listening(300, 400, 1);
    let world = World::from_listening(&config(), &data, 77).unwrap();
    let c = &world.config;
    assert_eq!((c.listeners, c.artists, c.items), (300, 400, 400));
    assert_eq!((c.genres, c.listening_checksum), (6, Some(77)));
    // Genres are the tags carried by most artists: the eight scenes (40 artists each, the
    // untagged fifth aside) tie with `loud` and `quiet` (40 each) and come first by index.
    let names: Vec<&str> = world
        .catalog
        .genres
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "scene 0", "scene 1", "scene 2", "scene 3", "scene 4", "scene 5"
        ]
    );
    for (a, item) in world.catalog.items.iter().enumerate() {
        assert_eq!((item.id.index(), item.artist.index()), (a, a));
        assert_eq!(item.kind, ItemKind::Artist);
        assert_eq!(item.title, data.artists[a].name);
        // A tagged artist of a kept scene has that scene as its only genre.
        if a % 5 != 0 && a % 8 < 6 {
            assert_eq!(
                item.genres.iter().map(|g| g.index()).collect::<Vec<_>>(),
                [a % 8]
            );
        }
    }
    // Every artist is in exactly one cluster.
    let mut members: Vec<u32> = world
        .catalog
        .clusters
        .iter()
        .flat_map(|c| c.artists.iter().map(|a| a.0))
        .collect();
    members.sort_unstable();
    assert_eq!(members, (0..400).collect::<Vec<_>>());

    let split = holdout(&data.plays, HOLDOUT, 5).unwrap();
    let mut plays = 0;
    for (u, history) in world.histories.iter().enumerate() {
        let played: BTreeSet<u32> = history.iter().map(|p| p.item.0).collect();
        let kept: BTreeSet<u32> = split.train.row(u).0.iter().copied().collect();
        assert!(played.is_subset(&kept), "listener {u}");
        assert!(split.test[u].iter().all(|a| !played.contains(a)));
        let window = c.start - u64::from(c.history_days) * 86_400..c.start;
        assert!(history.iter().all(|p| window.contains(&p.timestamp)));
        assert!(history.is_sorted_by_key(|p| p.timestamp));
        plays += history.len();
    }
    // The mean number of plays is the configured one, up to rounding.
    assert!((plays as f64 / 300.0 - 60.0).abs() < 1.0, "{plays}");

    // Because-you-listened shelves hold the artist, then its most similar artists, in order
    // (less what the page rules give to other shelves).
    let rec = build_recommender(&world, CandidateConfig::default(), PageConfig::default()).unwrap();
    let embeddings = rec.shared().embeddings.as_ref().unwrap();
    let listening = bart_sim::Listening::new(&world);
    let mut rng = <rand_xoshiro::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(1);
    let ctx = listening.context(&world, ListenerId(3), c.start, &mut rng);
    let artist = ctx.recent_artists[0];
    let shelf = &rec.candidates(&ctx)[0];
    assert_eq!(shelf.explanation, Explanation::BecauseYouListened(artist));
    let mut expected = std::iter::once(artist).chain(embeddings.similar(artist).iter().copied());
    for item in &shelf.items {
        assert!(expected.any(|a| a.0 == item.0), "{shelf:?}");
    }
    assert!(shelf.items.len() >= 8, "{shelf:?}");
}

#[test]
fn the_world_rebuilds_from_its_directory_and_refuses_changed_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_listening(120, 150, 2);
    let checksum = data.save(dir.path()).unwrap();
    let config = WorldConfig {
        listening_checksum: Some(checksum),
        ..config()
    };
    let a = World::build(&config, dir.path()).unwrap();
    let b = World::build(&a.config, dir.path()).unwrap();
    assert_eq!(a.config, b.config);
    assert_eq!(a.catalog, b.catalog);
    assert_eq!(a.histories, b.histories);
    assert_eq!(a.embeddings, b.embeddings);
    let err = World::generate(&a.config).unwrap_err().to_string();
    assert!(err.contains("listening_checksum"), "{err}");

    sample_listening(120, 150, 3).save(dir.path()).unwrap();
    let err = World::build(&a.config, dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("listening_checksum") && err.contains("changed since"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("listening.bin")).unwrap();
    let err = World::build(&a.config, dir.path()).unwrap_err().to_string();
    assert!(err.contains("listening.bin"), "{err}");
}

#[test]
fn the_loop_learns_on_listening_data_and_its_pages_replay() {
    let dir = tempfile::tempdir().unwrap();
    let checksum = sample_listening(600, 800, 4).save(dir.path()).unwrap();
    let config = DemoConfig {
        world: WorldConfig {
            listening_checksum: Some(checksum),
            ..config()
        },
        data_dir: dir.path().to_path_buf(),
        days: 3,
        random_pages_per_day: 6_000,
        bart_pages_per_day: 150,
        ..DemoConfig::default()
    };
    let (world, recommender, report) = experiment::run(&config, false).unwrap();
    common::assert_bart_learned(&report);
    let saved: WorldConfig =
        serde_json::from_str(&std::fs::read_to_string(DataDir::world(dir.path())).unwrap())
            .unwrap();
    assert_eq!(saved, world.config);

    // Every BaRT page of the last day replays from the log, in a world rebuilt from the
    // directory; some of them show cluster and similar-artist shelves.
    let rebuilt = World::build(&saved, dir.path()).unwrap();
    let again =
        build_recommender(&rebuilt, CandidateConfig::default(), PageConfig::default()).unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    let pages = store
        .joined(&JoinQuery {
            policy: Some(BART.into()),
            from: Some(config.world.start + 2 * 86_400),
            until: None,
            window_secs: 3_600,
        })
        .unwrap();
    let model = RewardModel::load(&DataDir::model(dir.path(), 2)).unwrap();
    let mut kinds = BTreeSet::new();
    for logged in pages.iter().map(|p| &p.impression) {
        let policy = Policy::new(logged.exploration).unwrap();
        for rec in [&recommender, &again] {
            let page = rec
                .page(&logged.context, Models::cards(&model), policy, logged.id)
                .unwrap();
            assert_eq!(page, logged.page, "impression {}", logged.id);
        }
        kinds.extend(
            logged
                .page
                .shelves
                .iter()
                .map(|s| s.explanation.kind().name()),
        );
    }
    assert_eq!(pages.len(), 150);
    assert!(
        kinds.contains("discover_cluster") && kinds.contains("because_you_listened"),
        "{kinds:?}"
    );
}
