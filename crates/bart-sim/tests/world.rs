//! Integration tests of the synthetic world and the simulated listeners' hidden response.

use bart_core::{
    Card, Context, Explanation, ExplanationKind, Feedback, GenreId, Impression, ImpressionId,
    ItemId, ItemKind, ListenerId, Page, Platform, STREAM_THRESHOLD_MS, Shelf,
};
use bart_sim::{Listening, SimError, World, WorldConfig};
use rand::{Rng, RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::HashSet;
use std::sync::OnceLock;

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// The default-size world, generated once for the whole test binary.
fn default_world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| World::generate(&WorldConfig::default()).expect("default config is valid"))
}

fn small_config(seed: u64) -> WorldConfig {
    WorldConfig {
        seed,
        artists: 150,
        items: 1_500,
        genres: 20,
        listeners: 400,
        regions: 8,
        plays_per_listener: 40,
        ..WorldConfig::default()
    }
}

// ---- Observable-only candidate generation, like a recommender would do. ----

/// Public statistics a recommender could compute from the catalog and the histories.
struct Observed {
    /// Per genre: the most popular items of that main genre, best first.
    top_by_genre: Vec<Vec<ItemId>>,
    /// Per artist: all items.
    by_artist: Vec<Vec<ItemId>>,
    /// Per region: the most streamed items by that region's listeners, most first.
    popular_in_region: Vec<Vec<ItemId>>,
}

impl Observed {
    fn new(world: &World) -> Self {
        let catalog = &world.catalog;
        let mut top_by_genre = vec![Vec::new(); catalog.genres.len()];
        let mut by_artist = vec![Vec::new(); catalog.artists.len()];
        for item in &catalog.items {
            top_by_genre[item.genre().index()].push(item.id);
            by_artist[item.artist.index()].push(item.id);
        }
        for list in &mut top_by_genre {
            list.sort_by(|a, b| {
                catalog.items[b.index()]
                    .popularity
                    .total_cmp(&catalog.items[a.index()].popularity)
                    .then(a.cmp(b))
            });
            list.truncate(POOL);
        }
        let mut counts = vec![vec![0u32; catalog.items.len()]; catalog.regions.len()];
        for (listener, history) in world.listeners.iter().zip(&world.histories) {
            for play in history {
                counts[listener.region.index()][play.item.index()] += 1;
            }
        }
        let popular_in_region = counts
            .iter()
            .map(|c| {
                let mut ids: Vec<ItemId> = (0..c.len() as u32).map(ItemId).collect();
                ids.sort_by(|a, b| c[b.index()].cmp(&c[a.index()]).then(a.cmp(b)));
                ids.truncate(POOL);
                ids
            })
            .collect();
        Observed {
            top_by_genre,
            by_artist,
            popular_in_region,
        }
    }
}

/// Up to `k` distinct random elements of `list` (not in `exclude`).
fn sample_from(list: &[ItemId], k: usize, exclude: &[ItemId], rng: &mut impl Rng) -> Vec<ItemId> {
    let mut pool: Vec<ItemId> = list
        .iter()
        .copied()
        .filter(|i| !exclude.contains(i))
        .collect();
    let k = k.min(pool.len());
    for i in 0..k {
        let j = rng.random_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool
}

/// Size of the candidate pools and of a candidate shelf.
const POOL: usize = 150;
const SHELF: usize = 20;

type Shelves = Vec<(Explanation, Vec<ItemId>)>;

/// Plausible candidate shelves for a request: items by recent artists, the listener's most
/// played genres, popular in the region, recent items, and genres the listener never played.
fn candidates(world: &World, obs: &Observed, ctx: &Context, rng: &mut impl Rng) -> Shelves {
    let catalog = &world.catalog;
    let mut shelves: Shelves = Vec::new();
    for &a in ctx.recent_artists.iter().take(4) {
        let own = sample_from(&obs.by_artist[a.index()], 8, &[], rng);
        let primary = catalog.artists[a.index()].genres[0];
        let mut items = own.clone();
        items.extend(sample_from(
            &obs.top_by_genre[primary.index()],
            SHELF - own.len(),
            &own,
            rng,
        ));
        shelves.push((Explanation::BecauseYouListened(a), items));
    }
    let mut genre_plays = vec![0u32; catalog.genres.len()];
    for play in &world.histories[ctx.listener.index()] {
        genre_plays[catalog.items[play.item.index()].genre().index()] += 1;
    }
    let mut by_plays: Vec<usize> = (0..genre_plays.len()).collect();
    by_plays.sort_by(|&a, &b| genre_plays[b].cmp(&genre_plays[a]).then(a.cmp(&b)));
    for &g in by_plays.iter().take(2) {
        let items = sample_from(&obs.top_by_genre[g], SHELF, &[], rng);
        shelves.push((Explanation::YourTopGenre(GenreId(g as u16)), items));
    }
    let popular = sample_from(&obs.popular_in_region[ctx.region.index()], SHELF, &[], rng);
    shelves.push((Explanation::PopularIn(ctx.region), popular));
    if !ctx.recent_items.is_empty() {
        shelves.push((Explanation::JumpBackIn, ctx.recent_items.clone()));
    }
    let unplayed: Vec<usize> = (0..genre_plays.len())
        .filter(|&g| genre_plays[g] == 0 && !obs.top_by_genre[g].is_empty())
        .collect();
    for _ in 0..2.min(unplayed.len()) {
        let g = unplayed[rng.random_range(0..unplayed.len())];
        if shelves
            .iter()
            .any(|(e, _)| *e == Explanation::Discover(GenreId(g as u16)))
        {
            continue;
        }
        let items = sample_from(&obs.top_by_genre[g], SHELF, &[], rng);
        shelves.push((Explanation::Discover(GenreId(g as u16)), items));
    }
    shelves.retain(|(_, items)| !items.is_empty());
    shelves
}

const ROWS: usize = 5;
const COLUMNS: usize = 5;

/// Mean stream probability per card of a uniformly random 5x5 page from the candidates.
fn random_page(
    world: &World,
    listening: &Listening,
    ctx: &Context,
    ts: u64,
    shelves: &Shelves,
    rng: &mut impl Rng,
) -> f64 {
    let mut order: Vec<usize> = (0..shelves.len()).collect();
    for i in 0..order.len() {
        let j = rng.random_range(i..order.len());
        order.swap(i, j);
    }
    let mut used: Vec<ItemId> = Vec::new();
    let (mut sum, mut n) = (0.0, 0);
    for (row, &s) in order.iter().take(ROWS).enumerate() {
        let (e, items) = &shelves[s];
        let picks = sample_from(items, COLUMNS, &used, rng);
        for (col, &item) in picks.iter().enumerate() {
            let rep = listening.repeats(ctx.listener, item, ts);
            sum += world.stream_probability(ctx, item, e, row as u16, col as u16, rep);
            n += 1;
            used.push(item);
        }
    }
    sum / n.max(1) as f64
}

/// A shelf's score (sum of its best 5 probabilities), index, and items by probability.
type ScoredShelf = (f64, usize, Vec<(f64, ItemId)>);

/// Mean stream probability per card of the best 5x5 page by true probability.
fn oracle_page(
    world: &World,
    listening: &Listening,
    ctx: &Context,
    ts: u64,
    shelves: &Shelves,
) -> f64 {
    let p0 = |e: &Explanation, item: ItemId| {
        let rep = listening.repeats(ctx.listener, item, ts);
        world.stream_probability(ctx, item, e, 0, 0, rep)
    };
    let mut scored: Vec<ScoredShelf> = shelves
        .iter()
        .enumerate()
        .map(|(s, (e, items))| {
            let mut ps: Vec<(f64, ItemId)> = items.iter().map(|&i| (p0(e, i), i)).collect();
            ps.sort_by(|a, b| b.0.total_cmp(&a.0));
            let score = ps.iter().take(COLUMNS).map(|x| x.0).sum::<f64>();
            (score, s, ps)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut used: HashSet<ItemId> = HashSet::new();
    let (mut sum, mut n) = (0.0, 0);
    for (row, (_, s, ps)) in scored.iter().take(ROWS).enumerate() {
        let e = &shelves[*s].0;
        let mut col = 0u16;
        for &(_, item) in ps {
            if col as usize >= COLUMNS {
                break;
            }
            if !used.insert(item) {
                continue;
            }
            let rep = listening.repeats(ctx.listener, item, ts);
            sum += world.stream_probability(ctx, item, e, row as u16, col, rep);
            n += 1;
            col += 1;
        }
    }
    sum / n.max(1) as f64
}

/// The explanation kind of the best (explanation, item) candidate by true probability.
fn best_kind(
    world: &World,
    listening: &Listening,
    ctx: &Context,
    ts: u64,
    shelves: &Shelves,
) -> ExplanationKind {
    let mut best = (f64::NEG_INFINITY, ExplanationKind::PopularIn);
    for (e, items) in shelves {
        for &item in items {
            let rep = listening.repeats(ctx.listener, item, ts);
            let p = world.stream_probability(ctx, item, e, 0, 0, rep);
            if p > best.0 {
                best = (p, e.kind());
            }
        }
    }
    best.1
}

/// Requests of day 0 of a world, with contexts.
fn requests(world: &World, n: usize, seed: u64) -> Vec<(Context, u64)> {
    let listening = Listening::new(world);
    let mut r = rng(seed);
    listening
        .visits(world, 0, n, &mut r)
        .into_iter()
        .map(|(l, ts)| (listening.context(world, l, ts, &mut r), ts))
        .collect()
}

/// Mean stream probability per card of uniformly random pages and of oracle pages.
fn random_and_oracle(world: &World, n: usize, seed: u64) -> (f64, f64) {
    let listening = Listening::new(world);
    let obs = Observed::new(world);
    let mut r = rng(seed);
    let (mut random, mut oracle, mut count) = (0.0, 0.0, 0);
    for (ctx, ts) in requests(world, n, seed + 1) {
        let shelves = candidates(world, &obs, &ctx, &mut r);
        if shelves.is_empty() {
            continue;
        }
        random += random_page(world, &listening, &ctx, ts, &shelves, &mut r);
        oracle += oracle_page(world, &listening, &ctx, ts, &shelves);
        count += 1;
    }
    (random / count as f64, oracle / count as f64)
}

/// Share of requests whose best explanation kind (by true probability, over their own
/// candidates) differs between a mobile weekday morning and a desktop weekday afternoon.
/// (The candidates are built once for the request's own context, so they carry no
/// popular_on shelf: one named after the request's platform would be wrong on the other.)
fn best_kind_change_share(
    world: &World,
    n: usize,
    seed: u64,
) -> (f64, [[usize; ExplanationKind::ALL.len()]; 2]) {
    let listening = Listening::new(world);
    let obs = Observed::new(world);
    let mut r = rng(seed);
    let (mut changed, mut count) = (0, 0);
    let mut kinds = [[0usize; ExplanationKind::ALL.len()]; 2];
    let k = |x: ExplanationKind| ExplanationKind::ALL.iter().position(|&y| y == x).unwrap();
    for (ctx, ts) in requests(world, n, seed + 1) {
        let shelves = candidates(world, &obs, &ctx, &mut r);
        if shelves.is_empty() {
            continue;
        }
        let at = |platform: Platform, hour: u8| Context {
            platform,
            hour,
            weekday: 2,
            ..ctx.clone()
        };
        let a = best_kind(world, &listening, &at(Platform::Mobile, 8), ts, &shelves);
        let b = best_kind(world, &listening, &at(Platform::Desktop, 14), ts, &shelves);
        kinds[0][k(a)] += 1;
        kinds[1][k(b)] += 1;
        changed += usize::from(a != b);
        count += 1;
    }
    (changed as f64 / count as f64, kinds)
}

const DAY: u64 = 86_400;

// ---- Determinism ----

#[test]
fn same_seed_same_world_and_behaviour_different_seed_differs() {
    let a = World::generate(&small_config(5)).unwrap();
    let b = World::generate(&small_config(5)).unwrap();
    assert_eq!(a.catalog, b.catalog);
    assert_eq!(a.listeners, b.listeners);
    assert_eq!(a.histories, b.histories);

    let run = |w: &World| {
        let mut listening = Listening::new(w);
        let mut r = rng(99);
        let mut out = Vec::new();
        for day in 0..2 {
            for (i, (l, ts)) in listening
                .visits(w, day, 200, &mut r)
                .into_iter()
                .enumerate()
            {
                let ctx = listening.context(w, l, ts, &mut r);
                let impression = one_shelf_impression(w, &ctx, ts, i as u64);
                let feedback = listening.respond(w, &impression, &mut r);
                listening.record(w, l, &feedback);
                let p = impression.page.shelves[0].cards.first().map(|c| {
                    w.stream_probability(
                        &ctx,
                        c.item,
                        &impression.page.shelves[0].explanation,
                        0,
                        0,
                        0,
                    )
                });
                out.push((ctx, p, feedback));
            }
        }
        out
    };
    let (ra, rb) = (run(&a), run(&b));
    assert_eq!(ra, rb);
    assert!(ra.iter().any(|(_, _, f)| f.iter().any(Feedback::is_stream)));

    let c = World::generate(&small_config(6)).unwrap();
    assert_ne!(a.catalog.items, c.catalog.items);
    assert_ne!(a.catalog.artists, c.catalog.artists);
    assert_ne!(a.histories, c.histories);
    let rc = run(&c);
    assert_ne!(ra, rc);
}

/// A page with one JumpBackIn-or-PopularIn shelf of up to 5 cards.
fn one_shelf_impression(world: &World, ctx: &Context, ts: u64, id: u64) -> Impression {
    let (explanation, items): (Explanation, Vec<ItemId>) = if ctx.recent_items.is_empty() {
        (
            Explanation::PopularIn(ctx.region),
            (0..5)
                .map(|i| ItemId((id as u32 * 7 + i) % world.catalog.items.len() as u32))
                .collect(),
        )
    } else {
        (
            Explanation::JumpBackIn,
            ctx.recent_items.iter().copied().take(5).collect(),
        )
    };
    impression(ctx, ts, id, vec![(explanation, items)])
}

fn impression(
    ctx: &Context,
    ts: u64,
    id: u64,
    shelves: Vec<(Explanation, Vec<ItemId>)>,
) -> Impression {
    let shelves = shelves
        .into_iter()
        .enumerate()
        .map(|(row, (explanation, items))| Shelf {
            explanation,
            row: row as u16,
            probability: 1.0,
            score: 0.0,
            cards: items
                .into_iter()
                .enumerate()
                .map(|(column, item)| Card {
                    item,
                    column: column as u16,
                    probability: 1.0,
                    propensity: Some(1.0),
                    score: 0.0,
                })
                .collect(),
        })
        .collect();
    Impression {
        id: ImpressionId(id),
        timestamp: ts,
        context: ctx.clone(),
        policy: "test".into(),
        exploration: bart_core::Exploration::UNIFORM,
        model_version: 0,
        seed: id,
        page: Page {
            impression: ImpressionId(id),
            shelves,
        },
    }
}

// ---- Shape of the world ----

#[test]
fn sizes_ids_genres_and_histories_follow_the_config() {
    let config = small_config(3);
    let w = World::generate(&config).unwrap();
    let c = &w.catalog;
    assert_eq!(c.genres.len(), config.genres);
    assert_eq!(c.regions.len(), config.regions);
    assert_eq!(c.artists.len(), config.artists);
    assert_eq!(c.items.len(), config.items);
    assert_eq!(w.listeners.len(), config.listeners);
    assert_eq!(w.histories.len(), config.listeners);
    for (i, g) in c.genres.iter().enumerate() {
        assert_eq!(g.id.index(), i);
    }
    for (i, r) in c.regions.iter().enumerate() {
        assert_eq!(r.id.index(), i);
    }
    let distinct_genre_names: HashSet<&str> = c.genres.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(distinct_genre_names.len(), config.genres);
    for (i, a) in c.artists.iter().enumerate() {
        assert_eq!(a.id.index(), i);
        assert!((1..=3).contains(&a.genres.len()), "{a:?}");
        assert!(a.genres.iter().all(|g| g.index() < config.genres));
        assert_eq!(
            a.genres.iter().collect::<HashSet<_>>().len(),
            a.genres.len()
        );
        assert!((0.0..=1.0).contains(&a.popularity));
        assert!(!a.name.is_empty());
    }
    let start_day = (config.start / DAY) as u32;
    for (i, it) in c.items.iter().enumerate() {
        assert_eq!(it.id.index(), i);
        assert!(!it.genres.is_empty());
        assert!(it.genres.iter().all(|g| g.index() < config.genres));
        assert!(it.artist.index() < config.artists);
        assert_eq!(it.genre(), c.artists[it.artist.index()].genres[0]);
        assert!((0.0..=1.0).contains(&it.popularity));
        assert!(it.release_day <= start_day && it.release_day + 31 * 366 >= start_day);
        assert!(!it.title.is_empty());
    }
    for (i, l) in w.listeners.iter().enumerate() {
        assert_eq!(l.id.index(), i);
        assert!(l.region.index() < config.regions);
    }
    let window_start = config.start - u64::from(config.history_days) * DAY;
    let mut total = 0;
    for h in &w.histories {
        assert!(!h.is_empty());
        assert!(
            h.windows(2).all(|p| p[0].timestamp <= p[1].timestamp),
            "chronological"
        );
        assert!(
            h.iter()
                .all(|p| (window_start..config.start).contains(&p.timestamp))
        );
        assert!(h.iter().all(|p| p.item.index() < config.items));
        total += h.len();
    }
    let mean = total as f64 / config.listeners as f64;
    let target = config.plays_per_listener as f64;
    assert!(
        (mean - target).abs() < 0.2 * target,
        "mean history length {mean}"
    );
}

#[test]
fn default_world_has_realistic_statistics() {
    let w = default_world();
    let c = &w.catalog;
    let n = c.items.len() as f64;
    let share = |k: ItemKind| c.items.iter().filter(|i| i.kind == k).count() as f64 / n;
    assert!(
        (0.55..0.65).contains(&share(ItemKind::Track)),
        "{}",
        share(ItemKind::Track)
    );
    assert!((0.17..0.23).contains(&share(ItemKind::Album)));
    assert!((0.08..0.12).contains(&share(ItemKind::Playlist)));
    assert!((0.08..0.12).contains(&share(ItemKind::Artist)));
    // Artist cards are titled by their artist; names are mostly unique.
    for it in c.items.iter().filter(|i| i.kind == ItemKind::Artist) {
        assert_eq!(it.title, c.artists[it.artist.index()].name);
    }
    let names: HashSet<&str> = c.artists.iter().map(|a| a.name.as_str()).collect();
    assert!(names.len() as f64 > 0.98 * c.artists.len() as f64);
    // Heavy-tailed popularity, and popular artists have more items.
    let mut pops: Vec<f64> = c.artists.iter().map(|a| a.popularity).collect();
    pops.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(pops[0], 1.0);
    assert!(
        pops[pops.len() / 2] < 0.1,
        "median artist popularity {}",
        pops[pops.len() / 2]
    );
    let threshold = pops[pops.len() / 10];
    let by_top = c
        .items
        .iter()
        .filter(|i| c.artists[i.artist.index()].popularity >= threshold)
        .count() as f64;
    assert!(by_top / n > 0.2, "top 10% artists own {}", by_top / n);
    // Releases skew recent: median age under 10 years.
    let start_day = (w.config.start / DAY) as u32;
    let mut ages: Vec<u32> = c.items.iter().map(|i| start_day - i.release_day).collect();
    ages.sort_unstable();
    assert!(ages[ages.len() / 2] < 3_650);
    // Mobile is the most common platform; region sizes are uneven.
    let platform = |p: Platform| w.listeners.iter().filter(|l| l.platform == p).count();
    assert!(
        Platform::ALL
            .iter()
            .all(|&p| p == Platform::Mobile || platform(p) < platform(Platform::Mobile))
    );
    let mut regions = vec![0usize; c.regions.len()];
    for l in &w.listeners {
        regions[l.region.index()] += 1;
    }
    assert!(regions.iter().max().unwrap() > &(3 * regions.iter().min().unwrap()));
    // Histories are concentrated on a few genres and heavy-tailed in length.
    let mut focus = 0.0;
    for h in &w.histories {
        let mut counts = vec![0usize; c.genres.len()];
        for p in h {
            counts[c.items[p.item.index()].genre().index()] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        focus += counts.iter().take(4).sum::<usize>() as f64 / h.len() as f64;
    }
    focus /= w.histories.len() as f64;
    assert!(
        focus > 0.6,
        "share of plays in a listener's top 4 genres {focus}"
    );
    let mut lens: Vec<usize> = w.histories.iter().map(Vec::len).collect();
    lens.sort_unstable();
    assert!(lens[lens.len() * 99 / 100] > 4 * lens[lens.len() / 2]);
}

#[test]
fn validate_rejects_bad_configs_naming_the_field() {
    assert!(WorldConfig::default().validate().is_ok());
    let cases: Vec<(&str, WorldConfig)> = vec![
        (
            "listeners",
            WorldConfig {
                listeners: 0,
                ..WorldConfig::default()
            },
        ),
        (
            "artists",
            WorldConfig {
                artists: 0,
                ..WorldConfig::default()
            },
        ),
        (
            "items",
            WorldConfig {
                items: 1_999,
                ..WorldConfig::default()
            },
        ),
        (
            "genres",
            WorldConfig {
                genres: 0,
                ..WorldConfig::default()
            },
        ),
        (
            "genres",
            WorldConfig {
                genres: WorldConfig::MAX_GENRES + 1,
                ..WorldConfig::default()
            },
        ),
        (
            "regions",
            WorldConfig {
                regions: 0,
                ..WorldConfig::default()
            },
        ),
        (
            "regions",
            WorldConfig {
                regions: WorldConfig::MAX_REGIONS + 1,
                ..WorldConfig::default()
            },
        ),
        (
            "plays_per_listener",
            WorldConfig {
                plays_per_listener: 0,
                ..WorldConfig::default()
            },
        ),
        (
            "history_days",
            WorldConfig {
                history_days: 0,
                ..WorldConfig::default()
            },
        ),
        (
            "start",
            WorldConfig {
                start: 0,
                ..WorldConfig::default()
            },
        ),
    ];
    for (field, config) in cases {
        let err = config.validate().unwrap_err();
        let SimError::InvalidConfig {
            field: f, value, ..
        } = &err
        else {
            panic!("expected InvalidConfig, got {err}");
        };
        assert_eq!(*f, field, "{err}");
        assert!(!value.is_empty());
        assert!(err.to_string().contains(field));
        assert_eq!(
            World::generate(&config).unwrap_err().to_string(),
            err.to_string()
        );
    }
    // The maximum counts are accepted.
    let max = WorldConfig {
        genres: WorldConfig::MAX_GENRES,
        regions: WorldConfig::MAX_REGIONS,
        artists: 50,
        items: 50,
        listeners: 30,
        ..WorldConfig::default()
    };
    let w = World::generate(&max).unwrap();
    assert_eq!(w.catalog.genres.len(), 40);
    assert_eq!(w.catalog.regions.len(), 26);
}

// ---- The hidden response ----

/// A sample of (context, item, explanation) triples from the candidates of day-0 requests.
fn sample_cards(n: usize) -> Vec<(Context, ItemId, Explanation)> {
    let world = default_world();
    let obs = Observed::new(world);
    let mut r = rng(21);
    let mut out = Vec::new();
    for (ctx, _) in requests(world, n, 22) {
        for (e, items) in candidates(world, &obs, &ctx, &mut r) {
            let item = items[r.random_range(0..items.len())];
            out.push((ctx.clone(), item, e));
        }
    }
    out
}

#[test]
fn position_effect_decreases_along_rows_and_columns() {
    let world = default_world();
    for (ctx, item, e) in sample_cards(100) {
        let p = |row: u16, column: u16| world.stream_probability(&ctx, item, &e, row, column, 0);
        let p00 = p(0, 0);
        assert!(p00 > 0.0 && p00 < 1.0);
        for k in 0..9u16 {
            assert!(p(k + 1, 0) < p(k, 0), "row {k}");
            assert!(p(0, k + 1) < p(0, k), "column {k}");
            assert!(p(3, k + 1) < p(3, k));
        }
        let expected = p00 / ((1.0 + 0.3 * 2.0) * (1.0 + 0.12 * 4.0));
        assert!((p(2, 4) - expected).abs() < 1e-12);
    }
}

#[test]
fn boredom_decreases_probability_with_repeats() {
    let world = default_world();
    for (ctx, item, e) in sample_cards(100) {
        let p = |repeats: u32| world.stream_probability(&ctx, item, &e, 1, 1, repeats);
        for k in 0..6 {
            assert!(p(k + 1) < p(k), "repeats {k}");
        }
        // Each repeat lowers the logit of the examined card by exactly 0.8.
        let logit = |k: u32| {
            let q = p(k) * (1.3 * 1.12);
            (q / (1.0 - q)).ln()
        };
        assert!((logit(0) - logit(3) - 2.4).abs() < 1e-6);
    }
}

#[test]
fn unknown_listener_or_item_has_probability_zero() {
    let world = default_world();
    let (ctx, item, e) = sample_cards(1).remove(0);
    assert_eq!(
        world.stream_probability(&ctx, ItemId(u32::MAX), &e, 0, 0, 0),
        0.0
    );
    let stranger = Context {
        listener: ListenerId(u32::MAX),
        ..ctx
    };
    assert_eq!(world.stream_probability(&stranger, item, &e, 0, 0, 0), 0.0);
}

#[test]
fn because_you_listened_needs_the_artist_in_recent_listening() {
    let world = default_world();
    let (mut first, mut absent, mut n) = (0.0, 0.0, 0);
    for (ctx, _) in requests(world, 1_000, 31) {
        let Some(&a) = ctx.recent_artists.first() else {
            continue;
        };
        let item = world
            .catalog
            .items
            .iter()
            .find(|i| i.artist == a)
            .unwrap()
            .id;
        let e = Explanation::BecauseYouListened(a);
        let without = Context {
            recent_artists: ctx.recent_artists[1..].to_vec(),
            ..ctx.clone()
        };
        let p_first = world.stream_probability(&ctx, item, &e, 0, 0, 0);
        let p_absent = world.stream_probability(&without, item, &e, 0, 0, 0);
        assert!(p_first > p_absent, "{p_first} <= {p_absent}");
        first += p_first;
        absent += p_absent;
        n += 1;
    }
    assert!(n > 800);
    let (first, absent) = (first / n as f64, absent / n as f64);
    println!("BecauseYouListened, item by the artist: first {first:.4} absent {absent:.4}");
    assert!(first > 3.0 * absent, "first {first} absent {absent}");
}

#[test]
fn popular_on_helps_popular_items_on_the_context_platform_a_little_less_than_popular_in() {
    let world = default_world();
    let obs = Observed::new(world);
    let (mut on, mut other, mut region, mut n) = (0.0, 0.0, 0.0, 0);
    for (ctx, _) in requests(world, 1_000, 41) {
        let elsewhere = Platform::ALL
            .into_iter()
            .find(|&p| p != ctx.platform)
            .unwrap();
        for &item in obs.popular_in_region[ctx.region.index()].iter().take(10) {
            let p = |e: Explanation| world.stream_probability(&ctx, item, &e, 0, 0, 0);
            let p_on = p(Explanation::PopularOn(ctx.platform));
            let p_other = p(Explanation::PopularOn(elsewhere));
            // A shelf named after another platform does not fit the listener.
            assert!(p_on > p_other, "{p_on} <= {p_other}");
            on += p_on;
            other += p_other;
            region += p(Explanation::PopularIn(ctx.region));
            n += 1;
        }
    }
    assert!(n >= 9_000);
    let (on, other, region) = (on / n as f64, other / n as f64, region / n as f64);
    println!(
        "popular items: popular_on {on:.4} (other platform {other:.4}), popular_in {region:.4}"
    );
    assert!(on > 2.0 * other, "on {on} other {other}");
    assert!(on < region && on > 0.6 * region, "on {on} in {region}");
}

#[test]
fn best_explanation_kind_depends_on_context() {
    let (share, kinds) = best_kind_change_share(default_world(), 1_500, 8);
    println!(
        "best kind differs (mobile 8h vs desktop 14h) for {share:.3}; best kinds {:?}: {kinds:?}",
        ExplanationKind::ALL.map(ExplanationKind::name)
    );
    assert!(share > 0.3, "share {share}");
    // No single kind is best everywhere.
    assert!(kinds[0].iter().filter(|&&c| c > 0).count() >= 3);
}

#[test]
fn calibration_random_vs_oracle() {
    let (random, oracle) = random_and_oracle(default_world(), 1_500, 7);
    println!(
        "mean stream probability per card on 5x5 pages: random {random:.4} oracle {oracle:.4} ratio {:.2}",
        oracle / random
    );
    assert!((0.04..=0.08).contains(&random), "random mean {random}");
    assert!(
        (3.0..=5.0).contains(&(oracle / random)),
        "oracle {oracle} random {random}"
    );
}

// ---- Listening: visits, contexts, responses ----

#[test]
fn visits_are_sorted_inside_the_day_heavy_tailed_and_follow_the_daily_curve() {
    let world = default_world();
    let listening = Listening::new(world);
    let mut r = rng(41);
    let n = 20_000;
    let visits = listening.visits(world, 1, n, &mut r);
    assert_eq!(visits.len(), n);
    let day_start = world.config.start + DAY;
    assert!(visits.windows(2).all(|v| v[0].1 <= v[1].1));
    assert!(
        visits
            .iter()
            .all(|&(l, t)| (day_start..day_start + DAY).contains(&t)
                && l.index() < world.listeners.len())
    );
    let mut per_listener = vec![0usize; world.listeners.len()];
    let mut hours = [0usize; 24];
    for &(l, t) in &visits {
        per_listener[l.index()] += 1;
        hours[listening.context(world, l, t, &mut r).hour as usize] += 1;
    }
    per_listener.sort_unstable_by(|a, b| b.cmp(a));
    let top = per_listener[..per_listener.len() / 10]
        .iter()
        .sum::<usize>() as f64
        / n as f64;
    assert!(top > 0.3, "top 10% of listeners make {top} of visits");
    let evening: usize = hours[19..22].iter().sum();
    let night: usize = hours[2..5].iter().sum();
    assert!(evening > 4 * night, "evening {evening} night {night}");
}

#[test]
fn context_uses_local_time_platform_mix_and_recent_streams() {
    let world = default_world();
    let listening = Listening::new(world);
    let mut r = rng(51);
    let offsets = [
        ("United States", -5i64),
        ("Brazil", -3),
        ("United Kingdom", 0),
        ("Japan", 9),
    ];
    for (name, offset) in offsets {
        let region = world
            .catalog
            .regions
            .iter()
            .find(|x| x.name == name)
            .unwrap()
            .id;
        let l = world.listeners.iter().find(|l| l.region == region).unwrap();
        // Monday 2026-01-05 01:00 UTC.
        let ctx = listening.context(world, l.id, world.config.start + 3_600, &mut r);
        let local = 1 + offset;
        assert_eq!(i64::from(ctx.hour), local.rem_euclid(24), "{name}");
        assert_eq!(ctx.weekday, if local < 0 { 6 } else { 0 }, "{name}");
        assert_eq!((ctx.region, ctx.age_group), (l.region, l.age_group));
    }
    // Main platform 75% of the time.
    let l = &world.listeners[0];
    let trials = 4_000;
    let main = (0..trials)
        .filter(|_| {
            listening
                .context(world, l.id, world.config.start, &mut r)
                .platform
                == l.platform
        })
        .count() as f64
        / trials as f64;
    assert!(
        (main - 0.75).abs() < 4.5 * (0.75f64 * 0.25 / trials as f64).sqrt(),
        "{main}"
    );
    // Recent lists: recomputed by brute force from the histories.
    for (ctx, ts) in requests(world, 300, 52) {
        let h = &world.histories[ctx.listener.index()];
        let (mut items, mut artists, mut genres) = (Vec::new(), Vec::new(), Vec::new());
        for p in h
            .iter()
            .rev()
            .filter(|p| p.timestamp < ts && p.timestamp >= ts - 14 * DAY)
        {
            let it = &world.catalog.items[p.item.index()];
            for (list, x) in [
                (&mut items, it.id.0),
                (&mut artists, it.artist.0),
                (&mut genres, u32::from(it.genre().0)),
            ] {
                if list.len() < 10 && !list.contains(&x) {
                    list.push(x);
                }
            }
        }
        assert_eq!(
            ctx.recent_items.iter().map(|i| i.0).collect::<Vec<_>>(),
            items
        );
        assert_eq!(
            ctx.recent_artists.iter().map(|a| a.0).collect::<Vec<_>>(),
            artists
        );
        assert_eq!(
            ctx.recent_genres
                .iter()
                .map(|g| u32::from(g.0))
                .collect::<Vec<_>>(),
            genres
        );
    }
}

#[test]
fn respond_matches_stream_probability() {
    let world = default_world();
    let listening = Listening::new(world);
    let (ctx, ts) = requests(world, 500, 61)
        .into_iter()
        .find(|(c, _)| c.recent_items.len() >= 5 && !c.recent_artists.is_empty())
        .unwrap();
    let ctx = Context {
        platform: Platform::Mobile,
        hour: 8,
        ..ctx
    };
    let a = ctx.recent_artists[0];
    let by_a: Vec<ItemId> = world
        .catalog
        .items
        .iter()
        .filter(|i| i.artist == a)
        .map(|i| i.id)
        .take(5)
        .collect();
    let discover = world
        .catalog
        .items
        .iter()
        .rev()
        .take(5)
        .map(|i| i.id)
        .collect::<Vec<_>>();
    let imp = impression(
        &ctx,
        ts,
        77,
        vec![
            (Explanation::JumpBackIn, ctx.recent_items[..5].to_vec()),
            (Explanation::BecauseYouListened(a), by_a),
            (
                Explanation::Discover(world.catalog.items[discover[0].index()].genre()),
                discover,
            ),
        ],
    );
    let expected: Vec<(ItemId, f64)> = imp
        .page
        .shelves
        .iter()
        .flat_map(|s| {
            s.cards.iter().map(|c| {
                let rep = listening.repeats(ctx.listener, c.item, ts);
                (
                    c.item,
                    world.stream_probability(&ctx, c.item, &s.explanation, s.row, c.column, rep),
                )
            })
        })
        .collect();
    assert!(expected.iter().any(|&(_, p)| p > 0.2), "{expected:?}");
    let trials = 4_000;
    let mut streams = vec![0usize; expected.len()];
    let (mut short, mut silent) = (0usize, 0usize);
    let mut r = rng(62);
    for _ in 0..trials {
        let feedback = listening.respond(world, &imp, &mut r);
        assert!(
            feedback
                .windows(2)
                .all(|f| f[0].timestamp <= f[1].timestamp)
        );
        let mut seen = vec![false; expected.len()];
        for f in &feedback {
            assert_eq!(f.impression, imp.id);
            assert!((ts + 5..=ts + 1_800).contains(&f.timestamp));
            // Items on the page are distinct, so the card is found by item.
            let k = expected.iter().position(|&(i, _)| i == f.item).unwrap();
            assert!(!seen[k]);
            seen[k] = true;
            if f.is_stream() {
                assert!((STREAM_THRESHOLD_MS..=300_000).contains(&f.played_ms));
                streams[k] += 1;
            } else {
                assert!((1_000..STREAM_THRESHOLD_MS).contains(&f.played_ms));
                short += 1;
            }
        }
        silent += seen.iter().filter(|&&s| !s).count();
    }
    for (k, &(item, p)) in expected.iter().enumerate() {
        let freq = streams[k] as f64 / trials as f64;
        let tol = 4.5 * (p * (1.0 - p) / trials as f64).sqrt() + 1e-3;
        assert!(
            (freq - p).abs() < tol,
            "card {k} ({item:?}): freq {freq} p {p}"
        );
    }
    let short_share = short as f64 / (short + silent) as f64;
    assert!(
        (short_share - 0.3).abs() < 0.02,
        "short plays {short_share}"
    );
}

#[test]
fn record_then_context_shows_the_streamed_item_first() {
    let world = default_world();
    let mut listening = Listening::new(world);
    let mut r = rng(71);
    let ts = world.config.start + 3_600;
    let l = ListenerId(3);
    let before = listening.context(world, l, ts, &mut r);
    let fresh: Vec<ItemId> = world
        .catalog
        .items
        .iter()
        .map(|i| i.id)
        .filter(|i| !before.recent_items.contains(i))
        .take(2)
        .collect();
    let (streamed, skipped) = (fresh[0], fresh[1]);
    let feedback = [
        Feedback {
            impression: ImpressionId(1),
            row: 0,
            column: 1,
            item: skipped,
            timestamp: ts + 200,
            played_ms: 12_000,
        },
        Feedback {
            impression: ImpressionId(1),
            row: 0,
            column: 0,
            item: streamed,
            timestamp: ts + 100,
            played_ms: 95_000,
        },
    ];
    assert_eq!(listening.repeats(l, streamed, ts + 1_000), 0);
    listening.record(world, l, &feedback);
    let after = listening.context(world, l, ts + 1_000, &mut r);
    let item = &world.catalog.items[streamed.index()];
    assert_eq!(after.recent_items[0], streamed);
    assert_eq!(after.recent_artists[0], item.artist);
    assert_eq!(after.recent_genres[0], item.genre());
    assert!(!after.recent_items.contains(&skipped));
    assert_eq!(
        &after.recent_items[1..],
        &before.recent_items[..after.recent_items.len() - 1]
    );
    assert_eq!(listening.repeats(l, streamed, ts + 1_000), 1);
    // Not yet visible before it happened, and forgotten for boredom after three days.
    assert!(
        !listening
            .context(world, l, ts + 50, &mut r)
            .recent_items
            .contains(&streamed)
    );
    assert_eq!(listening.repeats(l, streamed, ts + 100 + 3 * DAY + 1), 0);
    assert!(
        listening
            .context(world, l, ts + 10 * DAY, &mut r)
            .recent_items
            .contains(&streamed)
    );
    assert!(
        !listening
            .context(world, l, ts + 15 * DAY, &mut r)
            .recent_items
            .contains(&streamed)
    );
}
