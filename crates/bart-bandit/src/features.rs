//! Features of (context, item, explanation, position) for the reward model: hashed atoms of
//! each side plus crosses (context x item, context x explanation, item x explanation), like
//! Vowpal Wabbit's `-q`. Position (row, column) is a feature of its own so training can
//! separate it from appeal; scores for ranking are taken at row 0, column 0.

use crate::hash::hash;
use crate::model::Feature;
use bart_core::{Context, Explanation, Item};
use bart_models::Affinity;

/// Feature namespaces. Changing a number invalidates stored models.
mod ns {
    pub const BIAS: u64 = 1;
    pub const REGION: u64 = 2;
    pub const PLATFORM: u64 = 3;
    pub const AGE: u64 = 4;
    pub const DAYPART: u64 = 5;
    pub const WEEKEND: u64 = 6;
    pub const BREADTH: u64 = 7;
    pub const PLATFORM_DAYPART: u64 = 8;
    pub const ITEM: u64 = 20;
    pub const ARTIST: u64 = 21;
    pub const GENRE: u64 = 22;
    pub const KIND: u64 = 23;
    pub const POPULARITY: u64 = 24;
    pub const RELEASE: u64 = 25;
    pub const EXPLANATION_KIND: u64 = 26;
    pub const EXPLANATION: u64 = 27;
    pub const RELATION: u64 = 28;
    pub const FAMILIAR: u64 = 29;
    pub const GENRE_AFFINITY: u64 = 30;
    pub const ARTIST_AFFINITY: u64 = 31;
    pub const GENRE_AFFINITY_VALUE: u64 = 32;
    pub const ARTIST_AFFINITY_VALUE: u64 = 33;
    pub const ROW: u64 = 40;
    pub const COLUMN: u64 = 41;
    pub const CROSS: u64 = 100;
}

/// A position on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub row: u16,
    pub column: u16,
}

impl Slot {
    /// The top-left slot, where ranking scores are taken.
    pub const TOP_LEFT: Slot = Slot { row: 0, column: 0 };
}

/// The context side, hashed once per page.
#[derive(Clone, Debug)]
pub struct ContextFeatures {
    bias: u64,
    region: u64,
    platform: u64,
    age: u64,
    daypart: u64,
    weekend: u64,
    breadth: u64,
    platform_daypart: u64,
}

impl ContextFeatures {
    /// Hashes the context atoms. Breadth is how many genres make up at least 10% of the
    /// listener's plays (0 for a listener without history).
    pub fn new(ctx: &Context, affinity: &Affinity) -> Self {
        let breadth = affinity
            .top_genres(ctx.listener)
            .iter()
            .filter(|(_, s)| *s >= 0.1)
            .count()
            .min(4) as u64;
        let platform = ctx.platform as u64;
        let daypart = u64::from(ctx.daypart());
        ContextFeatures {
            bias: hash(ns::BIAS, &[0]),
            region: hash(ns::REGION, &[u64::from(ctx.region.0)]),
            platform: hash(ns::PLATFORM, &[platform]),
            age: hash(ns::AGE, &[ctx.age_group as u64]),
            daypart: hash(ns::DAYPART, &[daypart]),
            weekend: hash(ns::WEEKEND, &[u64::from(ctx.weekday >= 5)]),
            breadth: hash(ns::BREADTH, &[breadth]),
            platform_daypart: hash(ns::PLATFORM_DAYPART, &[platform, daypart]),
        }
    }
}

/// Position of `x` in a most-recent-first list, bucketed: 0 first, 1 second or third,
/// 2 further back, 3 absent.
fn recency<T: PartialEq>(list: &[T], x: &T) -> u64 {
    match list.iter().position(|y| y == x) {
        Some(0) => 0,
        Some(1 | 2) => 1,
        Some(_) => 2,
        None => 3,
    }
}

fn bucket(x: f32, edges: &[f32]) -> u64 {
    edges.iter().take_while(|&&e| x >= e).count() as u64
}

/// How the explanation relates to this context and item, as a small code per kind.
fn relation(ctx: &Context, affinity: &Affinity, item: &Item, explanation: &Explanation) -> u64 {
    match *explanation {
        Explanation::BecauseYouListened(a) => {
            recency(&ctx.recent_artists, &a) * 2 + u64::from(item.artist == a)
        }
        Explanation::YourTopGenre(g) => {
            let rank = affinity
                .top_genres(ctx.listener)
                .iter()
                .position(|(h, _)| *h == g)
                .unwrap_or(3)
                .min(3) as u64;
            rank * 2 + u64::from(item.genre() == g)
        }
        Explanation::PopularIn(r) => u64::from(r == ctx.region),
        Explanation::JumpBackIn => recency(&ctx.recent_items, &item.id),
        Explanation::Discover(g) => bucket(affinity.genre(ctx.listener, g), &[1e-6, 0.05, 0.15]),
    }
}

/// Appends the features of one (item, explanation) at `slot` to `out`.
pub fn pair_features(
    cf: &ContextFeatures,
    ctx: &Context,
    affinity: &Affinity,
    item: &Item,
    explanation: &Explanation,
    slot: Slot,
    out: &mut Vec<Feature>,
) {
    let genre_share = affinity.genre(ctx.listener, item.genre());
    let artist_share = affinity.artist(ctx.listener, item.artist);
    let kind = explanation.kind() as u64;
    let genre = hash(ns::GENRE, &[u64::from(item.genre().0)]);
    let item_kind = hash(ns::KIND, &[item.kind as u64]);
    let popularity = hash(ns::POPULARITY, &[(item.popularity * 10.0) as u64]);
    let release = hash(ns::RELEASE, &[u64::from(item.release_day / 1826)]);
    let ekind = hash(ns::EXPLANATION_KIND, &[kind]);
    let familiar = hash(
        ns::FAMILIAR,
        &[
            recency(&ctx.recent_items, &item.id),
            recency(&ctx.recent_artists, &item.artist),
        ],
    );
    let gaff = hash(
        ns::GENRE_AFFINITY,
        &[bucket(genre_share, &[1e-6, 0.05, 0.15, 0.3])],
    );
    let aaff = hash(
        ns::ARTIST_AFFINITY,
        &[bucket(artist_share, &[1e-6, 0.02, 0.05, 0.1])],
    );
    let atoms = [
        cf.bias,
        cf.region,
        cf.platform,
        cf.age,
        cf.daypart,
        cf.weekend,
        cf.breadth,
        cf.platform_daypart,
        hash(ns::ITEM, &[u64::from(item.id.0)]),
        hash(ns::ARTIST, &[u64::from(item.artist.0)]),
        genre,
        item_kind,
        popularity,
        release,
        ekind,
        hash(ns::EXPLANATION, &[kind, u64::from(explanation.arg())]),
        hash(
            ns::RELATION,
            &[kind, relation(ctx, affinity, item, explanation)],
        ),
        familiar,
        gaff,
        aaff,
        hash(ns::ROW, &[u64::from(slot.row)]),
        hash(ns::COLUMN, &[u64::from(slot.column)]),
    ];
    let crosses = [
        (cf.region, genre),
        (cf.platform, item_kind),
        (cf.daypart, genre),
        (cf.age, release),
        (cf.platform, ekind),
        (cf.daypart, ekind),
        (cf.weekend, ekind),
        (cf.breadth, ekind),
        (cf.platform_daypart, ekind),
        (cf.platform_daypart, familiar),
        (cf.breadth, popularity),
        (ekind, gaff),
        (ekind, aaff),
        (ekind, popularity),
        (ekind, familiar),
        (ekind, item_kind),
    ];
    out.extend(atoms.iter().map(|&h| (h as u32, 1.0)));
    out.extend(
        crosses
            .iter()
            .map(|&(a, b)| (hash(ns::CROSS, &[a, b]) as u32, 1.0)),
    );
    out.push((hash(ns::GENRE_AFFINITY_VALUE, &[0]) as u32, genre_share));
    out.push((hash(ns::ARTIST_AFFINITY_VALUE, &[0]) as u32, artist_share));
}
