use bart_core::{
    AgeGroup, ArtistId, Card, ClusterId, Context, Explanation, Exploration, Feedback, GenreId,
    Impression, ImpressionId, ItemId, ListenerId, Page, Platform, RegionId, Shelf,
};
use bart_log::{EventStore, JoinQuery, LogError, LoggedPage};
use std::path::Path;
use std::time::Instant;

fn context(listener: u32) -> Context {
    Context {
        listener: ListenerId(listener),
        region: RegionId(3),
        platform: Platform::Desktop,
        age_group: AgeGroup::From25To34,
        hour: 21,
        weekday: 4,
        recent_artists: vec![ArtistId(7), ArtistId(70_000)],
        recent_genres: vec![GenreId(2)],
        recent_items: vec![ItemId(11), ItemId(4_000_000)],
    }
}

/// A page with `shelves` shelves of `cards` cards; item ids are `base + 100 * row + column`.
fn page(id: u64, shelves: u16, cards: u16, base: u32) -> Page {
    let explanations = [
        Explanation::BecauseYouListened(ArtistId(42)),
        Explanation::YourTopGenre(GenreId(5)),
        Explanation::PopularIn(RegionId(3)),
        Explanation::JumpBackIn,
        Explanation::Discover(GenreId(9)),
        Explanation::PopularOn(Platform::Speaker),
        Explanation::DiscoverCluster(ClusterId(11)),
    ];
    Page {
        impression: ImpressionId(id),
        shelves: (0..shelves)
            .map(|row| Shelf {
                explanation: explanations[usize::from(row) % explanations.len()],
                row,
                probability: 1.0 / f64::from(row + 2),
                score: 0.1 + f64::from(row) / 7.0,
                cards: (0..cards)
                    .map(|column| Card {
                        item: ItemId(base + 100 * u32::from(row) + u32::from(column)),
                        column,
                        probability: 0.9 / f64::from(column + 1),
                        propensity: Some(0.5 / f64::from(column + row + 1)),
                        score: f64::from(column) / 3.0,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn impression(id: u64, timestamp: u64, policy: &str) -> Impression {
    Impression {
        id: ImpressionId(id),
        timestamp,
        context: context((id % 1000) as u32),
        policy: policy.to_string(),
        exploration: Exploration::EpsilonGreedy { epsilon: 0.1 },
        model_version: 3,
        seed: id.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        page: page(id, 2, 3, 1_000),
    }
}

fn feedback(
    impression: u64,
    (row, column): (u16, u16),
    item: u32,
    timestamp: u64,
    played_ms: u32,
) -> Feedback {
    Feedback {
        impression: ImpressionId(impression),
        row,
        column,
        item: ItemId(item),
        timestamp,
        played_ms,
    }
}

fn all(window_secs: u64) -> JoinQuery {
    JoinQuery {
        policy: None,
        from: None,
        until: None,
        window_secs,
    }
}

fn ids(pages: &[LoggedPage]) -> Vec<u64> {
    pages.iter().map(|p| p.impression.id.0).collect()
}

#[test]
fn impressions_round_trip_with_large_ids_and_seeds() {
    let mut store = EventStore::in_memory().unwrap();
    assert_eq!(store.path(), Path::new(":memory:"));
    let mut big = impression(u64::MAX, 1_700_000_000, "bart");
    big.seed = u64::MAX - 1;
    // Six shelves: one of every explanation kind.
    big.page = page(u64::MAX, 6, 5, 4_000_000_000);
    let mut half = impression(1 << 63, 1_700_000_001, "bart");
    half.seed = 1 << 63;
    half.model_version = u32::MAX;
    let mut small = impression(12, 1_700_000_002, "random");
    small.exploration = Exploration::Softmax { temperature: 0.25 };
    small.page.shelves[0].cards[0].propensity = None;
    small.page.shelves[1].cards.clear();
    let all_imps = vec![big, half, small];
    store.append_impressions(&all_imps).unwrap();

    for imp in &all_imps {
        assert_eq!(store.impression(imp.id).unwrap().as_ref(), Some(imp));
    }
    assert_eq!(store.impression(ImpressionId(13)).unwrap(), None);
    assert_eq!(
        store.time_range().unwrap(),
        Some((1_700_000_000, 1_700_000_002))
    );
    assert_eq!(EventStore::in_memory().unwrap().time_range().unwrap(), None);
    assert_eq!(store.count_impressions(None).unwrap(), 3);

    let joined = store.joined(&all(60)).unwrap();
    let got: Vec<&Impression> = joined.iter().map(|p| &p.impression).collect();
    assert_eq!(got, all_imps.iter().collect::<Vec<_>>());
    assert_eq!(joined[0].rewards, vec![vec![0.0; 5]; 6]);
    assert_eq!(joined[2].rewards, vec![vec![0.0; 3], vec![]]);
}

#[test]
fn join_applies_window_threshold_and_keys() {
    let mut store = EventStore::in_memory().unwrap();
    // Feedback written before its impression still counts once the impression is there.
    let t = 1_000;
    store
        .append_feedback(&[
            feedback(1, (0, 0), 10, t + 30, 45_000), // inside window -> 1
            feedback(1, (0, 1), 11, t + 60, 30_000), // at exactly t + window -> 1
            feedback(1, (0, 2), 12, t + 61, 90_000), // one second late -> 0
            feedback(1, (0, 3), 13, t + 10, 29_999), // too short -> 0
            feedback(1, (0, 4), 14, t + 10, 30_000), // threshold -> 1
            feedback(2, (0, 5), 15, t + 10, 90_000), // other impression -> 0
            feedback(1, (0, 0), 99, t + 10, 90_000), // item not on the page -> no effect
            feedback(1, (0, 6), 16, t + 5, 5_000),   // short then long -> 1
            feedback(1, (0, 6), 16, t + 20, 120_000), //
            feedback(1, (0, 7), 17, t - 1, 90_000),  // before the impression -> 0
            feedback(1, (1, 0), 1_100, t + 1, 31_000), // second shelf, first card -> 1
            feedback(404, (1, 1), 1_101, t + 1, 31_000), // unknown impression: stored, never joined
        ])
        .unwrap();
    let mut imp = impression(1, t, "bart");
    imp.page.shelves[0].cards = (10..=17)
        .map(|item| Card {
            item: ItemId(item),
            column: (item - 10) as u16,
            probability: 0.5,
            propensity: Some(0.25),
            score: 0.5,
        })
        .collect();
    let mut other = impression(2, t, "bart");
    other.page.shelves[0].cards.truncate(0);
    store.append_impressions(&[imp, other]).unwrap();

    let joined = store.joined(&all(60)).unwrap();
    assert_eq!(ids(&joined), vec![1, 2]);
    assert_eq!(
        joined[0].rewards,
        vec![
            vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
            vec![1.0, 0.0, 0.0],
        ]
    );
    assert_eq!(joined[1].rewards, vec![vec![], vec![0.0, 0.0, 0.0]]);

    // A shorter window drops the stream at t + 30 and the one at t + 60.
    let short = store.joined(&all(29)).unwrap();
    assert_eq!(
        short[0].rewards[0],
        vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    );
}

#[test]
fn each_card_earns_its_own_reward_even_when_its_item_repeats() {
    let mut store = EventStore::in_memory().unwrap();
    let mut imp = impression(5, 100, "bart");
    // The same item in both shelves.
    imp.page.shelves[1].cards[2].item = imp.page.shelves[0].cards[1].item;
    let item = imp.page.shelves[0].cards[1].item.0;
    store.append_impressions(&[imp]).unwrap();
    store
        .append_feedback(&[
            feedback(5, (1, 2), item, 110, 60_000), // the copy on the second shelf
            feedback(5, (0, 2), item, 110, 60_000), // a slot that shows another item
        ])
        .unwrap();
    let joined = store.joined(&all(60)).unwrap();
    assert_eq!(
        joined[0].rewards,
        vec![vec![0.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]]
    );
}

#[test]
fn join_filters_by_policy_and_time_and_orders_by_time_then_id() {
    let mut store = EventStore::in_memory().unwrap();
    store
        .append_impressions(&[
            impression(5, 300, "bart"),
            impression(1, 100, "random"),
            impression(4, 200, "bart"),
            impression(3, 200, "random"),
            impression(2, 100, "bart"),
        ])
        .unwrap();
    store
        .append_feedback(&[feedback(4, (0, 0), 1_000, 250, 60_000)])
        .unwrap();

    assert_eq!(store.count_impressions(None).unwrap(), 5);
    assert_eq!(store.count_impressions(Some("bart")).unwrap(), 3);
    assert_eq!(store.count_impressions(Some("nobody")).unwrap(), 0);

    let query = |policy: Option<&str>, from, until| JoinQuery {
        policy: policy.map(str::to_string),
        from,
        until,
        window_secs: 100,
    };
    let run = |q: JoinQuery| ids(&store.joined(&q).unwrap());
    assert_eq!(run(query(None, None, None)), vec![1, 2, 3, 4, 5]);
    assert_eq!(run(query(Some("bart"), None, None)), vec![2, 4, 5]);
    assert_eq!(run(query(Some("random"), None, None)), vec![1, 3]);
    assert_eq!(run(query(None, Some(200), None)), vec![3, 4, 5]);
    assert_eq!(run(query(None, None, Some(200))), vec![1, 2]);
    assert_eq!(run(query(None, Some(100), Some(300))), vec![1, 2, 3, 4]);
    assert_eq!(run(query(Some("bart"), Some(150), Some(301))), vec![4, 5]);
    assert_eq!(run(query(None, Some(u64::MAX), None)), Vec::<u64>::new());

    // Filtering on time must not lose the feedback of the selected impressions.
    let pages = store
        .joined(&query(Some("bart"), Some(200), Some(201)))
        .unwrap();
    assert_eq!(ids(&pages), vec![4]);
    assert_eq!(pages[0].rewards[0], vec![1.0, 0.0, 0.0]);
}

#[test]
fn duplicate_impression_rejects_the_whole_batch() {
    let mut store = EventStore::in_memory().unwrap();
    let first: Vec<Impression> = (1..=3).map(|id| impression(id, 10 * id, "bart")).collect();
    store.append_impressions(&first).unwrap();

    let mut replaced = impression(2, 999, "random");
    replaced.exploration = Exploration::UNIFORM;
    let err = store
        .append_impressions(&[
            impression(4, 40, "bart"),
            replaced,
            impression(5, 50, "bart"),
        ])
        .unwrap_err();
    assert!(
        matches!(&err, LogError::DuplicateImpression { impression: 2, path } if path == Path::new(":memory:")),
        "{err:?}"
    );
    assert!(err.to_string().contains("impression 2"), "{err}");
    assert!(err.to_string().contains(":memory:"), "{err}");

    let err = store
        .append_impressions(&[impression(6, 60, "bart"), impression(6, 61, "bart")])
        .unwrap_err();
    assert!(
        matches!(err, LogError::DuplicateImpression { impression: 6, .. }),
        "{err:?}"
    );

    assert_eq!(store.count_impressions(None).unwrap(), 3);
    for id in [4, 5, 6] {
        assert_eq!(store.impression(ImpressionId(id)).unwrap(), None);
    }
    let stored: Vec<Impression> = store
        .joined(&all(0))
        .unwrap()
        .into_iter()
        .map(|p| p.impression)
        .collect();
    assert_eq!(stored, first);
}

#[test]
fn open_reports_missing_directory_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nope");
    let err = EventStore::open(&dir).unwrap_err();
    assert!(
        matches!(&err, LogError::Missing { path, .. } if path == &dir),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    assert!(!dir.exists(), "open must not create the directory");

    let err = EventStore::open(tmp.path()).unwrap_err();
    let file = tmp.path().join("events.db");
    assert!(
        matches!(&err, LogError::Missing { path, .. } if path == &file),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
    assert!(!file.exists(), "open must not create the file");
}

#[test]
fn open_rejects_garbage_and_foreign_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.db");

    // Pseudo-random garbage (xorshift), 8 KiB.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let garbage: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&file, &garbage).unwrap();
    for result in [EventStore::open(tmp.path()), EventStore::create(tmp.path())] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, LogError::Corrupt { path, .. } if path == &file),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        garbage,
        "garbage must be left as is"
    );

    // A valid SQLite file that is not ours.
    std::fs::remove_file(&file).unwrap();
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("CREATE TABLE songs (name TEXT); INSERT INTO songs VALUES ('x');")
        .unwrap();
    for result in [EventStore::open(tmp.path()), EventStore::create(tmp.path())] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, LogError::Corrupt { path, .. } if path == &file),
            "{err:?}"
        );
        assert!(err.to_string().contains("user_version 0"), "{err}");
    }

    // An empty file is an empty SQLite database: open refuses it, create adds the schema.
    std::fs::write(&file, b"").unwrap();
    let err = EventStore::open(tmp.path()).unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    EventStore::create(tmp.path()).unwrap();
    EventStore::open(tmp.path()).unwrap();

    // Our schema, but a version this build does not read.
    rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = EventStore::open(tmp.path()).unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("schema version 99"), "{err}");

    // An older layout names itself.
    rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 1)
        .unwrap();
    let err = EventStore::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("older bart"), "{err}");

    // The right version but the tables are missing.
    std::fs::remove_file(&file).unwrap();
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("PRAGMA user_version = 2; CREATE TABLE impressions (id INTEGER);")
        .unwrap();
    let err = EventStore::open(tmp.path()).unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("no such column"), "{err}");
}

#[test]
fn undecodable_rows_name_their_impression() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.db");
    let good = impression(7, 100, "bart");
    {
        let mut store = EventStore::create(tmp.path()).unwrap();
        store
            .append_impressions(&[good.clone(), impression(8, 200, "bart")])
            .unwrap();
    }
    let raw = rusqlite::Connection::open(&file).unwrap();
    raw.execute("UPDATE impressions SET page = x'ff00ff' WHERE id = 8", [])
        .unwrap();
    drop(raw);

    let store = EventStore::open(tmp.path()).unwrap();
    assert_eq!(store.impression(ImpressionId(7)).unwrap(), Some(good));
    for err in [
        store.impression(ImpressionId(8)).unwrap_err(),
        store.joined(&all(60)).unwrap_err(),
    ] {
        assert!(
            matches!(&err, LogError::Decode { impression: 8, path, .. } if path == &file),
            "{err:?}"
        );
        assert!(err.to_string().contains("impression 8"), "{err}");
        assert!(err.to_string().contains("page"), "{err}");
    }

    // A column of the wrong type is a decode error too, not a panic.
    let raw = rusqlite::Connection::open(&file).unwrap();
    raw.execute(
        "UPDATE impressions SET exploration = 'lots' WHERE id = 7",
        [],
    )
    .unwrap();
    drop(raw);
    let err = store.impression(ImpressionId(7)).unwrap_err();
    assert!(
        matches!(err, LogError::Decode { impression: 7, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("exploration"), "{err}");
}

#[test]
fn create_then_open_sees_the_same_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").join("run1");
    let imps: Vec<Impression> = (0..50)
        .map(|i| {
            impression(
                1_000 + i,
                500 + i / 3,
                if i % 2 == 0 { "bart" } else { "random" },
            )
        })
        .collect();
    let fb = [
        feedback(1_010, (0, 2), 1_002, 505, 40_000),
        feedback(1_011, (1, 1), 1_101, 504, 10),
    ];
    let before = {
        let mut store = EventStore::create(&dir).unwrap();
        assert_eq!(store.path(), dir.join("events.db"));
        store.append_impressions(&imps[..25]).unwrap();
        store.append_impressions(&imps[25..]).unwrap();
        store.append_feedback(&fb).unwrap();
        store.joined(&all(30)).unwrap()
    };
    assert_eq!(before.len(), 50);
    let reward_sum: f64 = before.iter().flat_map(|p| p.rewards.concat()).sum();
    assert_eq!(reward_sum, 1.0);

    let store = EventStore::open(&dir).unwrap();
    assert_eq!(store.path(), dir.join("events.db"));
    assert_eq!(store.count_impressions(None).unwrap(), 50);
    assert_eq!(store.count_impressions(Some("bart")).unwrap(), 25);
    assert_eq!(store.joined(&all(30)).unwrap(), before);
    assert_eq!(
        store.impression(ImpressionId(1_033)).unwrap().as_ref(),
        Some(&imps[33])
    );

    // Creating again over an existing store keeps its data.
    let again = EventStore::create(&dir).unwrap();
    assert_eq!(again.count_impressions(None).unwrap(), 50);
}

/// The stored layout is part of the format (schema version 2): if bart-core's records change
/// shape, this test fails and the schema version must be bumped.
#[test]
fn stored_layout_is_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let imp = Impression {
        id: ImpressionId(u64::MAX),
        timestamp: 100,
        context: Context {
            listener: ListenerId(1),
            region: RegionId(2),
            platform: Platform::Web,
            age_group: AgeGroup::Over50,
            hour: 8,
            weekday: 6,
            recent_artists: vec![ArtistId(3)],
            recent_genres: vec![GenreId(4)],
            recent_items: vec![ItemId(300)],
        },
        policy: "bart".into(),
        exploration: Exploration::EpsilonGreedy { epsilon: 0.5 },
        model_version: 1,
        seed: 1 << 63,
        page: Page {
            impression: ImpressionId(7),
            shelves: vec![Shelf {
                explanation: Explanation::Discover(GenreId(4)),
                row: 0,
                probability: 0.5,
                score: 0.25,
                cards: vec![Card {
                    item: ItemId(5),
                    column: 0,
                    probability: 1.0,
                    propensity: Some(0.5),
                    score: 0.125,
                }],
            }],
        },
    };
    EventStore::create(tmp.path())
        .unwrap()
        .append_impressions(std::slice::from_ref(&imp))
        .unwrap();
    let raw = rusqlite::Connection::open(tmp.path().join("events.db")).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    type Row = (i64, i64, i64, String, String, i64, i64, Vec<u8>, Vec<u8>);
    let row: Row = raw
        .query_row(
            "SELECT id, timestamp, listener, policy, exploration, model_version, seed, context, page \
             FROM impressions",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .unwrap();
    let half = [0, 0, 0, 0, 0, 0, 0xe0, 0x3f]; // 0.5f64, little-endian
    let page: Vec<u8> = [
        &[7, 1, 4, 4, 0][..], // page impression, 1 shelf, Discover(genre 4), row 0
        &half,
        &[0, 0, 0, 0, 0, 0, 0xd0, 0x3f], // shelf score 0.25
        &[1, 5, 0],                      // 1 card: item 5, column 0
        &[0, 0, 0, 0, 0, 0, 0xf0, 0x3f], // probability 1.0
        &[1],                            // propensity: Some
        &half,
        &[0, 0, 0, 0, 0, 0, 0xc0, 0x3f], // score 0.125
    ]
    .concat();
    assert_eq!(
        row,
        (
            -1,
            100,
            1,
            "bart".into(),
            r#"{"policy":"epsilon_greedy","epsilon":0.5}"#.into(),
            1,
            i64::MIN,
            vec![1, 2, 2, 3, 8, 6, 1, 3, 1, 4, 1, 0xac, 0x02],
            page,
        )
    );
}

/// `PopularOn` was appended to the stored explanations: it is variant 5, its platform the
/// variant index of `Platform`, and the variants before it keep their bytes.
#[test]
fn popular_on_round_trips_and_is_appended_to_the_stored_format() {
    let tmp = tempfile::tempdir().unwrap();
    let mut imp = impression(1, 100, "bart");
    let shelf = |row: u16, explanation| Shelf {
        explanation,
        row,
        probability: 0.5,
        score: 0.25,
        cards: Vec::new(),
    };
    imp.page = Page {
        impression: ImpressionId(1),
        shelves: vec![
            shelf(0, Explanation::PopularOn(Platform::Mobile)),
            shelf(1, Explanation::PopularOn(Platform::Desktop)),
            shelf(2, Explanation::PopularOn(Platform::Web)),
            shelf(3, Explanation::PopularOn(Platform::Speaker)),
            shelf(4, Explanation::PopularIn(RegionId(3))),
        ],
    };
    let mut store = EventStore::create(tmp.path()).unwrap();
    store
        .append_impressions(std::slice::from_ref(&imp))
        .unwrap();
    assert_eq!(store.impression(imp.id).unwrap().as_ref(), Some(&imp));
    drop(store);
    let reopened = EventStore::open(tmp.path()).unwrap();
    assert_eq!(reopened.impression(imp.id).unwrap(), Some(imp));

    let raw = rusqlite::Connection::open(tmp.path().join("events.db")).unwrap();
    let page: Vec<u8> = raw
        .query_row("SELECT page FROM impressions", [], |r| r.get(0))
        .unwrap();
    let half = [0, 0, 0, 0, 0, 0, 0xe0, 0x3f]; // 0.5f64, little-endian
    let quarter = [0, 0, 0, 0, 0, 0, 0xd0, 0x3f]; // 0.25f64
    let shelf_bytes = |explanation: &[u8], row: u8| {
        [explanation, &[row][..], &half, &quarter, &[0]].concat() // no cards
    };
    let expected: Vec<u8> = [
        vec![1, 5], // page impression, 5 shelves
        shelf_bytes(&[5, 0], 0),
        shelf_bytes(&[5, 1], 1),
        shelf_bytes(&[5, 2], 2),
        shelf_bytes(&[5, 3], 3),
        shelf_bytes(&[2, 3], 4), // PopularIn(region 3): unchanged
    ]
    .concat();
    assert_eq!(page, expected);
}

/// The size the demo writes: 300,000 pages of 5 x 5 cards in batches of 5,000, about 1.5
/// feedback rows per page. Run with
/// `cargo test -p bart-log --release --test store -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_300k_pages() {
    const PAGES: u64 = 300_000;
    const BATCH: usize = 5_000;
    let tmp = tempfile::tempdir().unwrap();
    let mut store = EventStore::create(tmp.path()).unwrap();
    let mut x = 88_172_645_463_325_252u64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut impressions = Vec::with_capacity(PAGES as usize);
    let mut per_page = Vec::with_capacity(PAGES as usize);
    for id in 0..PAGES {
        let timestamp = 1_700_000_000 + id / 4;
        let mut imp = impression(id, timestamp, if id % 2 == 0 { "bart" } else { "random" });
        imp.page = page(id, 5, 5, (rand() % 50_000) as u32);
        let feedback: Vec<Feedback> = (0..1 + id % 2)
            .map(|_| {
                let shelf = &imp.page.shelves[(rand() % 5) as usize];
                let card = &shelf.cards[(rand() % 5) as usize];
                Feedback {
                    impression: imp.id,
                    row: shelf.row,
                    column: card.column,
                    item: card.item,
                    timestamp: timestamp + rand() % 600,
                    played_ms: (rand() % 60_000) as u32,
                }
            })
            .collect();
        impressions.push(imp);
        per_page.push(feedback);
    }
    let feedbacks = per_page.concat();

    let start = Instant::now();
    for batch in impressions.chunks(BATCH) {
        store.append_impressions(batch).unwrap();
    }
    let append_impressions = start.elapsed();
    let start = Instant::now();
    for batch in feedbacks.chunks(BATCH) {
        store.append_feedback(batch).unwrap();
    }
    let append_feedback = start.elapsed();

    let start = Instant::now();
    let joined = store.joined(&all(300)).unwrap();
    let join = start.elapsed();
    let start = Instant::now();
    let bart = store
        .joined(&JoinQuery {
            policy: Some("bart".into()),
            from: Some(1_700_010_000),
            until: Some(1_700_020_000),
            window_secs: 300,
        })
        .unwrap();
    let join_slice = start.elapsed();

    // Pages with at least one rewarded card, by the reward definition applied directly.
    let expected = impressions
        .iter()
        .zip(&per_page)
        .filter(|(imp, feedback)| {
            imp.page
                .shelves
                .iter()
                .flat_map(|s| s.cards.iter().map(move |c| (s.row, c)))
                .any(|(row, c)| {
                    bart_log::card_reward(imp, (row, c.column), c.item, 300, feedback) > 0.0
                })
        })
        .count();
    let pages_with_reward = joined
        .iter()
        .filter(|p| p.rewards.iter().flatten().any(|&r| r > 0.0))
        .count();
    assert_eq!(joined.len(), PAGES as usize);
    assert_eq!(pages_with_reward, expected);
    assert_eq!(bart.len(), 20_000);
    let size = std::fs::metadata(store.path()).unwrap().len();
    println!(
        "append {PAGES} impressions: {append_impressions:.2?}; append {} feedback: \
         {append_feedback:.2?}; joined all: {join:.2?}; joined one policy, 10,000 s: \
         {join_slice:.2?}; pages with a reward: {pages_with_reward}; file {:.1} MB",
        feedbacks.len(),
        size as f64 / 1e6
    );
}

/// Every bit of the policy's parameter survives the store, so a page's probabilities can be
/// recomputed exactly; a parameter JSON cannot hold is refused, not stored unreadable.
#[test]
fn exploration_parameters_round_trip_to_the_bit() {
    let mut store = EventStore::in_memory().unwrap();
    // ε of day 13 of a schedule decaying from 0.1 to 0.02 with a half-life of one day: a
    // value that JSON parsers without exact float parsing read back one unit off.
    let epsilon = 0.02 + 0.08 * (-13.0f64).exp2();
    let explorations = [
        Exploration::EpsilonGreedy { epsilon },
        Exploration::EpsilonGreedy {
            epsilon: 0.020009765625000002,
        },
        Exploration::Softmax {
            temperature: std::f64::consts::PI / 100.0,
        },
        Exploration::Thompson { bags: 1024 },
    ];
    let imps: Vec<Impression> = explorations
        .iter()
        .enumerate()
        .map(|(k, &e)| Impression {
            exploration: e,
            ..impression(k as u64 + 1, 100, "bart")
        })
        .collect();
    store.append_impressions(&imps).unwrap();
    for imp in &imps {
        let back = store.impression(imp.id).unwrap().unwrap();
        assert_eq!(back.exploration, imp.exploration);
    }
    let bad = Impression {
        exploration: Exploration::Softmax {
            temperature: f64::NAN,
        },
        ..impression(9, 100, "bart")
    };
    let err = store.append_impressions(&[bad]).unwrap_err();
    assert!(err.to_string().contains("finite"), "{err}");
    assert_eq!(store.count_impressions(None).unwrap(), 4);
}
