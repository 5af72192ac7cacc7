//! The seeded synthetic music world: catalog, listeners, listening histories, and the hidden
//! tastes that decide how a listener responds to a card.

use crate::error::SimError;
use crate::listening_world::FactorAppeal;
use crate::names::{self, GENRES, REGIONS};
use bart_core::{
    AgeGroup, Artist, ArtistId, Catalog, ClusterId, Context, Explanation, Genre, GenreId,
    Histories, Item, ItemId, ItemKind, Listener, ListenerId, Platform, Play, Region, RegionId,
};
use bart_models::embeddings::Embeddings;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Beta, LogNormal, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// Seconds in a day.
/// Seconds in a simulated day.
pub const DAY: u64 = 86_400;

/// Relative activity for each LOCAL hour of the day: night trough, morning bump, evening peak.
pub(crate) const DAILY_CURVE: [f64; 24] = [
    0.020, 0.012, 0.008, 0.006, 0.006, 0.010, 0.025, 0.045, 0.055, 0.045, 0.040, 0.042, 0.048,
    0.045, 0.042, 0.044, 0.050, 0.058, 0.066, 0.075, 0.080, 0.078, 0.062, 0.040,
];

// ---- The hidden response model's constants (logit scale unless noted). ----

/// Intercept of the stream logit: a typical candidate streams with probability ~0.03.
const BASE: f64 = -6.45;
/// Weight of the listener's (daypart-adjusted) genre log-preference.
const W_TASTE: f64 = 1.9;
/// Bonus for an item by one of the listener's favourite artists.
const FAVOURITE_ARTIST: f64 = 1.9;
/// Weight of ln(popularity) (item quality); ln(popularity) is clamped below at
/// `QUALITY_FLOOR` and centred on `QUALITY_CENTER`.
const W_QUALITY: f64 = 0.63;
const QUALITY_FLOOR: f64 = -5.0;
const QUALITY_CENTER: f64 = -2.5;
/// Bonus for an item in the context's recent items (familiarity).
const FAMILIAR: f64 = 0.6;
/// Penalty per stream of this item in the last three days.
const BOREDOM: f64 = 0.8;
/// Platform (row, in `Platform::ALL` order) x item kind (column, in `ItemKind::ALL` order).
const PLATFORM_KIND: [[f64; 4]; 4] = [
    [0.6, -0.6, 0.6, -0.2],  // mobile: tracks and playlists
    [-0.2, 0.8, -0.2, 0.4],  // desktop: albums
    [0.2, 0.2, 0.0, 0.0],    // web
    [-0.2, -0.2, 1.0, -1.5], // speaker: playlists, not artist cards
];
/// Age group (in `AgeGroup::ALL` order) x release recency: younger listeners like new music.
const AGE_RECENCY: [f64; 4] = [2.9, 1.3, -0.6, -2.1];
/// Recency = exp(-age / RECENCY_DAYS), centred on `RECENCY_CENTER`.
const RECENCY_DAYS: f64 = 8.0 * 365.0;
const RECENCY_CENTER: f64 = 0.45;
/// A shelf title that does not fit the item or the listener ("wrong explanation").
const WRONG: f64 = -1.8;

/// Configuration of a world: generated (the synthetic world), or built around imported
/// listening data, whose counts of artists, items, listeners and tags then decide those
/// fields (see [`World::from_listening`]). Every count is validated by
/// [`WorldConfig::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldConfig {
    /// Seed of every random choice made while generating the world.
    pub seed: u64,
    /// Number of artists.
    pub artists: usize,
    /// Number of items (at least one per artist).
    pub items: usize,
    /// Number of genres (at most the number of genre names shipped, 40).
    pub genres: usize,
    /// Number of listeners.
    pub listeners: usize,
    /// Number of regions (at most the number of region names shipped, 26).
    pub regions: usize,
    /// Mean number of plays in a listener's history (the actual count is heavy-tailed).
    pub plays_per_listener: usize,
    /// Unix time (seconds) at which the simulation starts; histories end just before it.
    pub start: u64,
    /// Histories span `[start - history_days days, start)`.
    pub history_days: u32,
    /// The checksum of the listening data (`listening.bin` of the data directory) the world
    /// is built around; `None` for a generated world.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_checksum: Option<u64>,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 42,
            artists: 2_000,
            items: 20_000,
            genres: 30,
            listeners: 10_000,
            regions: 20,
            plays_per_listener: 60,
            start: 1_767_571_200, // 2026-01-05T00:00:00Z, a Monday
            history_days: 60,
            listening_checksum: None,
        }
    }
}

/// Upper bound on entity counts, so a config can never ask for absurd memory.
const MAX_COUNT: usize = 10_000_000;
/// Upper bound on the mean total of history plays.
const MAX_PLAYS: usize = 200_000_000;

impl WorldConfig {
    /// The number of genre names shipped (the maximum for `genres`).
    pub const MAX_GENRES: usize = GENRES.len();
    /// The number of region names shipped (the maximum for `regions`).
    pub const MAX_REGIONS: usize = REGIONS.len();

    /// Checks every field; the error names the first offending field and its value.
    pub fn validate(&self) -> Result<(), SimError> {
        fn bad(field: &'static str, value: impl ToString, reason: &'static str) -> SimError {
            SimError::InvalidConfig {
                field,
                value: value.to_string(),
                reason,
            }
        }
        if self.artists == 0 || self.artists > MAX_COUNT {
            return Err(bad("artists", self.artists, "must be in 1..=10000000"));
        }
        if self.items < self.artists || self.items > MAX_COUNT {
            return Err(bad(
                "items",
                self.items,
                "must be at least the number of artists and at most 10000000",
            ));
        }
        if self.genres == 0 || self.genres > Self::MAX_GENRES {
            return Err(bad("genres", self.genres, "must be in 1..=40"));
        }
        if self.listeners == 0 || self.listeners > MAX_COUNT {
            return Err(bad("listeners", self.listeners, "must be in 1..=10000000"));
        }
        if self.regions == 0 || self.regions > Self::MAX_REGIONS {
            return Err(bad("regions", self.regions, "must be in 1..=26"));
        }
        if self.plays_per_listener == 0 || self.plays_per_listener > 10_000 {
            return Err(bad(
                "plays_per_listener",
                self.plays_per_listener,
                "must be in 1..=10000",
            ));
        }
        if self.listeners.saturating_mul(self.plays_per_listener) > MAX_PLAYS {
            return Err(bad(
                "plays_per_listener",
                self.plays_per_listener,
                "listeners x plays_per_listener must be at most 200000000",
            ));
        }
        if self.history_days == 0 || self.history_days > 3_650 {
            return Err(bad(
                "history_days",
                self.history_days,
                "must be in 1..=3650",
            ));
        }
        // 30 years of release dates and the history window must fit after 1970, and the
        // simulation must have room to run before year 9999.
        let min_start = (u64::from(self.history_days) + 31 * 366) * DAY;
        if self.start < min_start || self.start > 253_402_300_799 - 3_650 * DAY {
            return Err(bad(
                "start",
                self.start,
                "must be a unix time after 2001 and before 9989",
            ));
        }
        Ok(())
    }
}

/// A set of ids with sampling weights (sampling is by binary search on the cumulative sum).
#[derive(Clone, Debug, Default)]
pub(crate) struct Weighted {
    ids: Vec<u32>,
    cdf: Vec<f64>,
}

impl Weighted {
    pub(crate) fn new(ids: Vec<u32>, weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cdf = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect::<Vec<_>>();
        debug_assert_eq!(cdf.len(), ids.len());
        Weighted { ids, cdf }
    }

    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<u32> {
        let total = *self.cdf.last()?;
        if total <= 0.0 {
            return Some(self.ids[rng.random_range(0..self.ids.len())]);
        }
        let u = rng.random::<f64>() * total;
        let i = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.ids.len() - 1);
        Some(self.ids[i])
    }
}

/// A listener's hidden tastes. A world built from listening data fills only what the
/// explanation effects read (the favourite and top genres and clusters, the curiosity); the
/// genre log-preferences and favourite artists feed the generated world's appeal.
#[derive(Clone, Debug)]
pub(crate) struct Taste {
    /// Log-preference over genres (before the daypart shift).
    pub(crate) genre: Vec<f64>,
    /// How strongly the listener follows the genres' daypart profiles.
    pub(crate) daypart_strength: f64,
    /// The 2-4 favourite genres, strongest first.
    pub(crate) favourite_genres: Vec<GenreId>,
    /// Favourite artists, sorted.
    pub(crate) favourite_artists: Vec<ArtistId>,
    /// Openness to new genres, in [0, 1].
    pub(crate) curiosity: f64,
    /// The top three genres for each daypart (taste + daypart shift), best first.
    pub(crate) top_genres: [Vec<GenreId>; 4],
    /// The catalog clusters the listener plays most (none in a generated world).
    pub(crate) favourite_clusters: Vec<ClusterId>,
}

/// The hidden ground truth of the world. Never exposed: the only window is
/// [`World::stream_probability`].
#[derive(Clone)]
pub(crate) struct Truth {
    /// Per genre: log-preference shift for [night, morning, afternoon, evening].
    pub(crate) genre_daypart: Vec<[f64; 4]>,
    /// Per region: UTC offset in hours.
    pub(crate) region_offset: Vec<i32>,
    /// Per listener.
    pub(crate) tastes: Vec<Taste>,
    /// Listener activity levels (visit rates), for sampling visitors.
    pub(crate) activity: Weighted,
    /// Cumulative distribution of the local hour of a visit or a play.
    pub(crate) hour: Weighted,
    /// The world's start as days since 1970 (release recency is measured against it).
    pub(crate) start_day: u32,
    /// How much a listener likes an item before the context and the shelf's title.
    pub(crate) appeal: Appeal,
}

/// The part of the stream logit that depends on the listener and the item alone (and, in a
/// generated world, on the platform, daypart and age group).
#[derive(Clone)]
pub(crate) enum Appeal {
    /// Genre taste, favourite artists, quality, platform x kind, age x release recency.
    Generated,
    /// From the factors of every play of imported listening data.
    Factors(FactorAppeal),
}

impl fmt::Debug for Truth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Truth { .. }")
    }
}

impl Truth {
    /// The local (hour, weekday 0 = Monday) in `region` at unix time `ts`.
    pub(crate) fn local_time(&self, region: RegionId, ts: u64) -> (u8, u8) {
        let offset = i64::from(self.region_offset.get(region.index()).copied().unwrap_or(0));
        let local = i64::try_from(ts).unwrap_or(i64::MAX - DAY as i64) + offset * 3_600;
        let day = DAY as i64;
        let hour = local.rem_euclid(day) / 3_600;
        // 1970-01-01 was a Thursday (3 with Monday = 0).
        let weekday = (local.div_euclid(day) + 3).rem_euclid(7);
        (hour as u8, weekday as u8)
    }

    /// A random UTC second of the day at which someone in `region` is active, following the
    /// daily curve in local time.
    pub(crate) fn sample_utc_second<R: Rng + ?Sized>(&self, region: RegionId, rng: &mut R) -> u64 {
        let hour = u64::from(self.hour.sample(rng).unwrap_or(20));
        let local = hour * 3_600 + rng.random_range(0..3_600u64);
        let offset = i64::from(self.region_offset.get(region.index()).copied().unwrap_or(0));
        (local as i64 - offset * 3_600).rem_euclid(DAY as i64) as u64
    }

    /// A listener drawn by activity level.
    pub(crate) fn sample_listener<R: Rng + ?Sized>(&self, rng: &mut R) -> ListenerId {
        ListenerId(self.activity.sample(rng).unwrap_or(0))
    }

    /// Effective taste for genre `g` in daypart `d`.
    fn taste_at(&self, taste: &Taste, g: GenreId, d: usize) -> f64 {
        let gi = g.index();
        match taste.genre.get(gi) {
            Some(t) => t + taste.daypart_strength * self.genre_daypart[gi][d],
            None => -2.0,
        }
    }

    /// The stream logit of one card (without the position effect).
    fn logit(
        &self,
        catalog: &Catalog,
        taste: &Taste,
        ctx: &Context,
        item: &Item,
        explanation: &Explanation,
        repeats: u32,
    ) -> f64 {
        let d = usize::from(ctx.daypart().min(3));
        let mut logit = match &self.appeal {
            Appeal::Generated => self.generated_appeal(taste, ctx, item, d),
            Appeal::Factors(f) => f.appeal(ctx.listener, item.artist),
        };
        let recent = ctx.recent_items.contains(&item.id);
        if recent {
            logit += FAMILIAR;
        }
        logit += self.explanation_effect(catalog, taste, ctx, item, explanation, d, recent);
        logit - BOREDOM * f64::from(repeats)
    }

    /// The generated world's appeal of an item to a listener in a context.
    fn generated_appeal(&self, taste: &Taste, ctx: &Context, item: &Item, d: usize) -> f64 {
        // Genre taste: the primary genre counts most.
        let primary = self.taste_at(taste, item.genres[0], d);
        let genre = if item.genres.len() > 1 {
            let rest = item.genres[1..]
                .iter()
                .map(|&g| self.taste_at(taste, g, d))
                .sum::<f64>()
                / (item.genres.len() - 1) as f64;
            0.75 * primary + 0.25 * rest
        } else {
            primary
        };
        let mut logit = BASE + W_TASTE * genre;
        if taste.favourite_artists.binary_search(&item.artist).is_ok() {
            logit += FAVOURITE_ARTIST;
        }
        logit += W_QUALITY * (item.popularity.max(1e-9).ln().max(QUALITY_FLOOR) - QUALITY_CENTER);
        logit += PLATFORM_KIND[platform_index(ctx.platform)][kind_index(item.kind)];
        let age_days = f64::from(self.start_day.saturating_sub(item.release_day));
        let recency = (-age_days / RECENCY_DAYS).exp();
        logit + AGE_RECENCY[age_index(ctx.age_group)] * (recency - RECENCY_CENTER)
    }

    /// How the explanation (the shelf's title) changes the appeal of the item, in context.
    #[allow(clippy::too_many_arguments)]
    fn explanation_effect(
        &self,
        catalog: &Catalog,
        taste: &Taste,
        ctx: &Context,
        item: &Item,
        explanation: &Explanation,
        daypart: usize,
        recent: bool,
    ) -> f64 {
        match *explanation {
            Explanation::BecauseYouListened(a) => {
                let Some(artist) = catalog.artist(a) else {
                    return WRONG;
                };
                // By the artist: fully relevant; same main genre: half.
                let relevance = if item.artist == a {
                    1.0
                } else if item.genres.contains(&artist.genres[0]) {
                    0.5
                } else {
                    0.0
                };
                match ctx.recent_artists.iter().position(|&x| x == a) {
                    _ if relevance == 0.0 => WRONG,
                    Some(p) if p < 3 => 2.9 * relevance,
                    Some(_) => 0.6 * relevance,
                    None => WRONG,
                }
            }
            Explanation::YourTopGenre(g) => {
                let top = taste.top_genres[daypart].contains(&g);
                match (top, item.genres.contains(&g)) {
                    (true, true) => 1.7,
                    (true, false) => -0.8,
                    (false, true) => -1.0,
                    (false, false) => WRONG,
                }
            }
            Explanation::PopularIn(r) => {
                if r == ctx.region {
                    // Mainstream (low-curiosity) listeners follow the charts.
                    (3.4 * item.popularity.sqrt() - 0.6) * (1.3 - taste.curiosity)
                } else {
                    WRONG
                }
            }
            Explanation::PopularOn(p) => {
                if p == ctx.platform {
                    // The same chart-following as popular_in, a little weaker: a platform's
                    // chart says less about the listener than the region's.
                    0.8 * (3.4 * item.popularity.sqrt() - 0.6) * (1.3 - taste.curiosity)
                } else {
                    WRONG
                }
            }
            Explanation::JumpBackIn => {
                if !recent {
                    return WRONG;
                }
                // Routine listening on the phone or speaker, mornings and evenings; at work
                // on the desktop in the afternoon people want something new.
                match (ctx.platform, daypart) {
                    (Platform::Mobile | Platform::Speaker, 1 | 3) => 2.7,
                    (Platform::Desktop, 2) => -1.9,
                    (Platform::Web, 2) => -1.0,
                    (Platform::Desktop | Platform::Web, _) => 0.0,
                    _ => 0.8,
                }
            }
            Explanation::Discover(g) => {
                if !item.genres.contains(&g) {
                    return WRONG;
                }
                discovery(taste, ctx, taste.favourite_genres.contains(&g))
            }
            Explanation::DiscoverCluster(c) => {
                let member = catalog
                    .clusters
                    .get(c.index())
                    .is_some_and(|cluster| cluster.artists.binary_search(&item.artist).is_ok());
                if !member {
                    return WRONG;
                }
                discovery(taste, ctx, taste.favourite_clusters.contains(&c))
            }
        }
    }
}

/// The effect of a "Discover" title on an item that fits it: curious listeners like it,
/// more at weekends and on computers; nothing is left to discover in a favourite.
fn discovery(taste: &Taste, ctx: &Context, favourite: bool) -> f64 {
    let mut effect = 6.3 * taste.curiosity - 2.1;
    if ctx.weekday >= 5 {
        effect += 1.0;
    }
    effect += match ctx.platform {
        Platform::Desktop => 1.0,
        Platform::Web => 0.5,
        Platform::Mobile => 0.0,
        Platform::Speaker => -0.4,
    };
    if favourite {
        effect = effect.min(0.0) - 1.3;
    }
    effect
}

fn platform_index(p: Platform) -> usize {
    Platform::ALL.iter().position(|&x| x == p).unwrap_or(0)
}

fn kind_index(k: ItemKind) -> usize {
    ItemKind::ALL.iter().position(|&x| x == k).unwrap_or(0)
}

fn age_index(a: AgeGroup) -> usize {
    AgeGroup::ALL.iter().position(|&x| x == a).unwrap_or(0)
}

/// The probability that a card at (row, column) is looked at.
fn examine(row: u16, column: u16) -> f64 {
    1.0 / ((1.0 + 0.3 * f64::from(row)) * (1.0 + 0.12 * f64::from(column)))
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A world: a public catalog, listeners and histories, and hidden tastes.
#[derive(Clone, Debug)]
pub struct World {
    /// The configuration the world was made from.
    pub config: WorldConfig,
    /// Genres, regions, artists, items and clusters; ids equal indices.
    pub catalog: Catalog,
    /// Public listener profiles; ids equal indices.
    pub listeners: Vec<Listener>,
    /// Per listener, the chronological streams made before `config.start`.
    pub histories: Histories,
    /// ALS factors of listeners and artists and the artists' clusters, fitted on the
    /// history's play counts, for the recommender (worlds built from listening data; the
    /// catalog's clusters come from them).
    pub embeddings: Option<Embeddings>,
    pub(crate) truth: Truth,
}

/// The regions of a world (the first of the shipped table, with their UTC offsets) and the
/// draws of a listener's public profile.
pub(crate) struct Profiles {
    pub(crate) regions: Vec<Region>,
    /// Per region: UTC offset in hours.
    pub(crate) offsets: Vec<i32>,
    region: Weighted,
    platform: Weighted,
    age: Weighted,
}

impl Profiles {
    /// The first `regions` regions; the first are the largest.
    pub(crate) fn new(regions: usize) -> Self {
        let specs = &REGIONS[..regions];
        Profiles {
            regions: (0..)
                .zip(specs)
                .map(|(i, r)| Region {
                    id: RegionId(i),
                    name: r.name.to_string(),
                })
                .collect(),
            offsets: specs.iter().map(|r| r.utc_offset).collect(),
            region: Weighted::new(
                (0..regions as u32).collect(),
                (0..regions).map(|i| ((i + 1) as f64).powf(-0.7)),
            ),
            platform: Weighted::new(vec![0, 1, 2, 3], [0.6, 0.2, 0.12, 0.08]),
            age: Weighted::new(vec![0, 1, 2, 3], [0.3, 0.32, 0.23, 0.15]),
        }
    }

    /// Listener `id`'s region, main platform and age group, drawn in that order.
    pub(crate) fn draw<R: Rng + ?Sized>(&self, id: u32, rng: &mut R) -> Listener {
        Listener {
            id: ListenerId(id),
            region: RegionId(self.region.sample(rng).unwrap_or(0) as u16),
            platform: Platform::ALL[self.platform.sample(rng).unwrap_or(0) as usize],
            age_group: AgeGroup::ALL[self.age.sample(rng).unwrap_or(0) as usize],
        }
    }
}

/// A generator with its own stream, so that the phases of generation do not disturb each other.
pub(crate) fn phase_rng(seed: u64, phase: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ phase.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    rng.sample(StandardNormal)
}

fn shuffle<T, R: Rng + ?Sized>(v: &mut [T], rng: &mut R) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Genres whose artists sometimes get a "DJ"/"MC"/"Lil" name.
const URBAN: [&str; 8] = [
    "hip hop",
    "electronic",
    "techno",
    "house",
    "trap",
    "grime",
    "drum and bass",
    "amapiano",
];

/// Draws a genre by weight that is not in `taken` (up to a few attempts).
fn distinct_genre<R: Rng + ?Sized>(
    w: &Weighted,
    taken: &[GenreId],
    rng: &mut R,
) -> Option<GenreId> {
    (0..12)
        .filter_map(|_| w.sample(rng))
        .map(|g| GenreId(g as u16))
        .find(|g| !taken.contains(g))
}

impl World {
    /// Generates the world from the config: deterministic given `config.seed`.
    pub fn generate(config: &WorldConfig) -> Result<World, SimError> {
        config.validate()?;
        if let Some(checksum) = config.listening_checksum {
            return Err(SimError::InvalidConfig {
                field: "listening_checksum",
                value: format!("{checksum:#x}"),
                reason: "a world of listening data is built from the data (World::build)",
            });
        }
        let seed = config.seed;
        let n_genres = config.genres;
        let start_day = (config.start / DAY) as u32;

        // Genres: global popularity (mainstream first) and daypart profiles.
        let mut rng = phase_rng(seed, 1);
        let genres: Vec<Genre> = GENRES[..n_genres]
            .iter()
            .enumerate()
            .map(|(i, (name, _))| Genre {
                id: GenreId(i as u16),
                name: (*name).to_string(),
            })
            .collect();
        let genre_weight: Vec<f64> = (0..n_genres)
            .map(|i| ((i + 1) as f64).powf(-0.6) * (0.2 * normal(&mut rng)).exp())
            .collect();
        let genre_sampler = Weighted::new((0..n_genres as u32).collect(), genre_weight.clone());
        let genre_daypart: Vec<[f64; 4]> = GENRES[..n_genres]
            .iter()
            .map(|(_, mood)| mood.daypart_profile().map(|x| x + 0.15 * normal(&mut rng)))
            .collect();
        let genre_index = |name: &str| GENRES[..n_genres].iter().position(|(g, _)| *g == name);

        // Regions: sizes, UTC offsets and favoured genres.
        let profiles = Profiles::new(config.regions);
        let region_genre: Vec<Vec<f64>> = REGIONS[..config.regions]
            .iter()
            .map(|spec| {
                let mut pref = vec![0.0; n_genres];
                let mut found = Vec::new();
                for (k, name) in spec.genres.iter().enumerate() {
                    if let Some(g) = genre_index(name) {
                        pref[g] = 1.0 - 0.2 * k as f64;
                        found.push(GenreId(g as u16));
                    }
                }
                while found.len() < 3.min(n_genres) {
                    match distinct_genre(&genre_sampler, &found, &mut rng) {
                        Some(g) => {
                            pref[g.index()] = 0.8 - 0.2 * found.len() as f64;
                            found.push(g);
                        }
                        None => break,
                    }
                }
                pref
            })
            .collect();
        let region_genre_sampler: Vec<Weighted> = region_genre
            .iter()
            .map(|pref| Weighted::new((0..n_genres as u32).collect(), pref.iter().copied()))
            .collect();

        // Artists: Zipf-like popularity, 1-3 genres, pronounceable names.
        let mut rng = phase_rng(seed, 2);
        let mut ranks: Vec<usize> = (0..config.artists).collect();
        shuffle(&mut ranks, &mut rng);
        let mut used_names = HashSet::new();
        let artists: Vec<Artist> = ranks
            .iter()
            .enumerate()
            .map(|(i, &rank)| {
                let popularity = ((rank + 1) as f64).powf(-0.45).clamp(0.0, 1.0);
                let primary = GenreId(genre_sampler.sample(&mut rng).unwrap_or(0) as u16);
                let mut genres = vec![primary];
                let count = match rng.random_range(0..20) {
                    0..7 => 1,
                    7..15 => 2,
                    _ => 3,
                };
                while genres.len() < count {
                    match distinct_genre(&genre_sampler, &genres, &mut rng) {
                        Some(g) => genres.push(g),
                        None => break,
                    }
                }
                let urban = URBAN.contains(&GENRES[primary.index()].0);
                let mut name = names::artist_name(&mut rng, urban);
                for _ in 0..10 {
                    if !used_names.contains(&name) {
                        break;
                    }
                    name = names::artist_name(&mut rng, urban);
                }
                used_names.insert(name.clone());
                Artist {
                    id: ArtistId(i as u32),
                    name,
                    genres,
                    popularity,
                }
            })
            .collect();

        // Items: popular artists get more; kinds ~60/20/10/10; popularity from the artist.
        let mut rng = phase_rng(seed, 3);
        let artist_sampler = Weighted::new(
            (0..config.artists as u32).collect(),
            artists.iter().map(|a| a.popularity + 0.02),
        );
        let mut counts = vec![1usize; config.artists];
        for _ in config.artists..config.items {
            counts[artist_sampler.sample(&mut rng).unwrap_or(0) as usize] += 1;
        }
        let mut slots: Vec<(u32, bool)> = Vec::with_capacity(config.items);
        for (a, &c) in counts.iter().enumerate() {
            slots.push((a as u32, true));
            slots.extend(std::iter::repeat_n((a as u32, false), c - 1));
        }
        shuffle(&mut slots, &mut rng);
        let card_share = (0.1 * config.items as f64 / config.artists as f64).min(1.0);
        let popularity_noise = LogNormal::new(0.0, 0.35).expect("valid lognormal");
        let items: Vec<Item> = slots
            .iter()
            .enumerate()
            .map(|(i, &(a, first))| {
                let artist = &artists[a as usize];
                let kind = if first && rng.random_bool(card_share) {
                    ItemKind::Artist
                } else {
                    match rng.random::<f64>() * 0.9 {
                        x if x < 0.6 => ItemKind::Track,
                        x if x < 0.8 => ItemKind::Album,
                        _ => ItemKind::Playlist,
                    }
                };
                let mut genres = artist.genres.clone();
                if kind == ItemKind::Playlist
                    && rng.random_bool(0.3)
                    && let Some(g) = distinct_genre(&genre_sampler, &genres, &mut rng)
                {
                    genres.push(g);
                }
                let kind_factor = match kind {
                    ItemKind::Track => 1.0,
                    ItemKind::Album => 0.9,
                    ItemKind::Playlist => 1.3,
                    ItemKind::Artist => 1.2,
                };
                let noise: f64 = rng.sample(popularity_noise);
                let popularity = (artist.popularity * noise * kind_factor).clamp(0.0005, 1.0);
                let age = 30.0 * 365.25 * rng.random::<f64>().powf(2.2);
                let release_day = start_day.saturating_sub(age as u32);
                let title = match kind {
                    ItemKind::Track | ItemKind::Album => names::title(&mut rng),
                    ItemKind::Playlist => {
                        names::playlist_title(&mut rng, GENRES[genres[0].index()].0, &artist.name)
                    }
                    ItemKind::Artist => artist.name.clone(),
                };
                Item {
                    id: ItemId(i as u32),
                    kind,
                    title,
                    artist: artist.id,
                    genres,
                    popularity,
                    release_day,
                }
            })
            .collect();

        // Sampling indices for listeners and histories.
        let by_popularity = |ids: Vec<u32>, floor: f64| {
            let w: Vec<f64> = ids
                .iter()
                .map(|&i| items[i as usize].popularity + floor)
                .collect();
            Weighted::new(ids, w)
        };
        let mut artist_items: Vec<Vec<u32>> = vec![Vec::new(); config.artists];
        let mut genre_items: Vec<Vec<u32>> = vec![Vec::new(); n_genres];
        for it in &items {
            artist_items[it.artist.index()].push(it.id.0);
            genre_items[it.genre().index()].push(it.id.0);
        }
        let items_by_artist: Vec<Weighted> = artist_items
            .into_iter()
            .map(|ids| by_popularity(ids, 0.01))
            .collect();
        let items_by_genre: Vec<Weighted> = genre_items
            .into_iter()
            .map(|ids| by_popularity(ids, 0.002))
            .collect();
        let all_items = by_popularity((0..config.items as u32).collect(), 0.0);
        let mut genre_artists: Vec<Vec<u32>> = vec![Vec::new(); n_genres];
        for a in &artists {
            genre_artists[a.genres[0].index()].push(a.id.0);
        }
        let artists_by_genre: Vec<Weighted> = genre_artists
            .into_iter()
            .map(|ids| {
                let w: Vec<f64> = ids
                    .iter()
                    .map(|&a| artists[a as usize].popularity + 0.02)
                    .collect();
                Weighted::new(ids, w)
            })
            .collect();

        // Listeners: public profile and hidden tastes.
        let mut rng = phase_rng(seed, 4);
        let curiosity_dist = Beta::new(2.0, 2.5).expect("valid beta");
        let activity_dist = LogNormal::new(0.0, 1.0).expect("valid lognormal");
        let mut listeners = Vec::with_capacity(config.listeners);
        let mut tastes = Vec::with_capacity(config.listeners);
        let mut activity = Vec::with_capacity(config.listeners);
        for l in 0..config.listeners {
            let listener = profiles.draw(l as u32, &mut rng);
            let region = listener.region;
            listeners.push(listener);
            let curiosity: f64 = rng.sample(curiosity_dist);
            let daypart_strength = rng.random_range(0.3..1.5);
            activity.push(rng.sample(activity_dist));

            let n_fav = rng.random_range(2..=4usize).min(n_genres);
            let mut favourite_genres = Vec::with_capacity(n_fav);
            for _ in 0..40 {
                if favourite_genres.len() >= n_fav {
                    break;
                }
                let sampler = if rng.random_bool(0.5) {
                    &region_genre_sampler[region.index()]
                } else {
                    &genre_sampler
                };
                if let Some(g) = sampler.sample(&mut rng).map(|g| GenreId(g as u16))
                    && !favourite_genres.contains(&g)
                {
                    favourite_genres.push(g);
                }
            }
            if favourite_genres.is_empty() {
                favourite_genres.push(GenreId(0));
            }
            let mut genre: Vec<f64> = (0..n_genres)
                .map(|g| {
                    -(1.0 - 0.5 * curiosity)
                        + 0.25 * normal(&mut rng)
                        + 0.4 * region_genre[region.index()][g]
                })
                .collect();
            for (k, g) in favourite_genres.iter().enumerate() {
                genre[g.index()] = 1.3 - 0.25 * k as f64 + 0.2 * normal(&mut rng);
            }

            let n_artists = rng.random_range(3..=10usize);
            let mut favourite_artists = Vec::with_capacity(n_artists);
            for _ in 0..4 * n_artists {
                if favourite_artists.len() >= n_artists {
                    break;
                }
                let g = favourite_genres[rng.random_range(0..favourite_genres.len())];
                if let Some(a) = artists_by_genre[g.index()].sample(&mut rng).map(ArtistId)
                    && !favourite_artists.contains(&a)
                {
                    favourite_artists.push(a);
                }
            }
            favourite_artists.sort_unstable();

            let top_genres = std::array::from_fn(|d| {
                let mut order: Vec<usize> = (0..n_genres).collect();
                let eff = |g: usize| genre[g] + daypart_strength * genre_daypart[g][d];
                order.sort_by(|&a, &b| eff(b).total_cmp(&eff(a)).then(a.cmp(&b)));
                order
                    .into_iter()
                    .take(3)
                    .map(|g| GenreId(g as u16))
                    .collect()
            });
            tastes.push(Taste {
                genre,
                daypart_strength,
                favourite_genres,
                favourite_artists,
                curiosity,
                top_genres,
                favourite_clusters: Vec::new(),
            });
        }

        let truth = Truth {
            genre_daypart,
            region_offset: profiles.offsets,
            tastes,
            activity: Weighted::new((0..config.listeners as u32).collect(), activity.clone()),
            hour: Weighted::new((0..24).collect(), DAILY_CURVE),
            start_day,
            appeal: Appeal::Generated,
        };

        // Histories: sessions of plays drawn from the tastes, inside the window.
        let window_start = config.start - u64::from(config.history_days) * DAY;
        let mean_activity = 0.5f64.exp();
        let mean_plays = config.plays_per_listener as f64;
        let histories: Histories = (0..config.listeners)
            .map(|l| {
                let mut rng = phase_rng(seed ^ (l as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93), 5);
                let n = (mean_plays * activity[l] / mean_activity)
                    .round()
                    .clamp(1.0, 15.0 * mean_plays) as usize;
                history(
                    &truth,
                    &listeners[l],
                    l,
                    n,
                    window_start,
                    config,
                    &items,
                    &items_by_artist,
                    &items_by_genre,
                    &all_items,
                    &mut rng,
                )
            })
            .collect();

        Ok(World {
            config: config.clone(),
            catalog: Catalog {
                genres,
                regions: profiles.regions,
                artists,
                items,
                clusters: Vec::new(),
            },
            listeners,
            histories,
            embeddings: None,
            truth,
        })
    }

    /// Hidden ground truth: P(stream >= 30 s) for this card, shown to the listener of `ctx` under
    /// `explanation` at (`row`, `column`) of the page. `repeats` = times this listener streamed
    /// this item in the last 3 days. 0 for an unknown listener or item.
    pub fn stream_probability(
        &self,
        ctx: &Context,
        item: ItemId,
        explanation: &Explanation,
        row: u16,
        column: u16,
        repeats: u32,
    ) -> f64 {
        let (Some(taste), Some(it)) = (
            self.truth.tastes.get(ctx.listener.index()),
            self.catalog.item(item),
        ) else {
            return 0.0;
        };
        let logit = self
            .truth
            .logit(&self.catalog, taste, ctx, it, explanation, repeats);
        examine(row, column) * sigmoid(logit)
    }
}

/// One listener's history: sessions of a few plays, chronological, inside
/// `[window_start, config.start)`.
#[allow(clippy::too_many_arguments)]
fn history<R: Rng + ?Sized>(
    truth: &Truth,
    listener: &Listener,
    l: usize,
    n: usize,
    window_start: u64,
    config: &WorldConfig,
    items: &[Item],
    items_by_artist: &[Weighted],
    items_by_genre: &[Weighted],
    all_items: &Weighted,
    rng: &mut R,
) -> Vec<Play> {
    let taste = &truth.tastes[l];
    let n_genres = taste.genre.len();
    // Genre choice per daypart: softmax of the daypart-adjusted taste.
    let genre_cdf: [Weighted; 4] = std::array::from_fn(|d| {
        Weighted::new(
            (0..n_genres as u32).collect(),
            (0..n_genres).map(|g| {
                (1.5 * (taste.genre[g] + taste.daypart_strength * truth.genre_daypart[g][d])).exp()
            }),
        )
    });
    // Session start times, then plays a few minutes apart.
    let mut sessions: Vec<(u64, usize)> = Vec::new();
    let mut left = n;
    while left > 0 {
        let len = (1 + (-(1.0 - rng.random::<f64>()).ln() * 3.0) as usize).min(left);
        left -= len;
        let day = rng.random_range(0..u64::from(config.history_days));
        let second = truth.sample_utc_second(listener.region, rng);
        sessions.push((window_start + day * DAY + second, len));
    }
    sessions.sort_unstable();
    let mut plays: Vec<Play> = Vec::with_capacity(n);
    for (start, len) in sessions {
        let mut ts = start;
        let mut session_artist: Option<ArtistId> = None;
        for _ in 0..len {
            let (hour, _) = truth.local_time(listener.region, ts);
            let d = usize::from(hour / 6);
            let r: f64 = rng.random();
            let pick = if r < 0.08 && !plays.is_empty() {
                let back = rng.random_range(0..plays.len().min(30));
                Some(plays[plays.len() - 1 - back].item.0)
            } else if let Some(a) = session_artist.filter(|_| r < 0.3) {
                items_by_artist[a.index()].sample(rng)
            } else if r < 0.5 && !taste.favourite_artists.is_empty() {
                let a = taste.favourite_artists[rng.random_range(0..taste.favourite_artists.len())];
                items_by_artist[a.index()].sample(rng)
            } else if r < 0.92 {
                genre_cdf[d]
                    .sample(rng)
                    .and_then(|g| items_by_genre[g as usize].sample(rng))
            } else {
                None
            };
            let Some(item) = pick.or_else(|| all_items.sample(rng)) else {
                continue;
            };
            session_artist = Some(items[item as usize].artist);
            plays.push(Play {
                item: ItemId(item),
                timestamp: ts.min(config.start - 1),
            });
            ts += rng.random_range(120..330);
        }
    }
    plays.sort_by_key(|p| p.timestamp);
    plays
}
