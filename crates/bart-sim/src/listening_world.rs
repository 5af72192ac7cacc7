//! A world built around imported listening data, semi-synthetic in the way of the Open Bandit
//! Pipeline and RecoGym: the data decides the catalog, the listeners and their tastes; the
//! generated world's machinery decides the rest.
//!
//! - **Catalog**: one artist card per artist; genres are the `genres` tags applied to most
//!   artists, each artist's genres its own most applied among them (an untagged artist takes
//!   the commonest main genre of its cluster); popularity is the share of listeners.
//! - **History**: a seeded fifth of each listener's artists is held out; the rest is what the
//!   recommender may learn from: ALS factors and k-means clusters named by tags fitted on its
//!   play counts ([`World::embeddings`]), and a timeline of plays inside the history window,
//!   drawn in proportion to the square root of the play counts.
//! - **Truth**: ALS fitted on every play. The appeal of artist a to listener u is
//!   `intercept + SCALE * x_u · y_a`, the intercept calibrated so that the
//!   `CALIBRATION_ARTISTS` most popular artists stream with mean probability
//!   `TARGET_RATE` to a listener; familiarity, boredom, position and the explanation effects
//!   are the generated world's, with the listener's favourite genres and clusters and
//!   curiosity (the percentile of the entropy of their genre shares) taken from every play.
//! - **Contexts**: regions, platforms, age groups, visit times and activity levels are drawn
//!   from the seed as in a generated world, except that a listener visits in proportion to
//!   the square root of their total plays.

use crate::error::SimError;
use crate::world::{
    Appeal, DAILY_CURVE, DAY, Profiles, Taste, Truth, Weighted, World, WorldConfig, phase_rng,
    sigmoid,
};
use bart_core::{
    Artist, ArtistId, Catalog, Cluster, ClusterId, Genre, GenreId, Item, ItemId, ItemKind,
    ListenerId, Play,
};
use bart_models::als::{self, AlsConfig, Factors};
use bart_models::embeddings::{ClusterConfig, Embeddings};
use bart_models::listening::{self, ListeningData};
use bart_models::sparse::Csr;
use bart_models::split::holdout;
use rand::RngExt;
use std::path::Path;

/// The share of each listener's artists held out of the history.
pub const HOLDOUT: f64 = 0.2;
/// The rank of the truth's ALS factors.
const TRUTH_RANK: usize = 32;
/// Logit per unit of the truth's predicted preference.
const SCALE: f64 = 6.0;
/// The mean stream probability of the most popular artists, before position and title.
const TARGET_RATE: f64 = 0.02;
/// How many of the most popular artists the intercept is calibrated on.
const CALIBRATION_ARTISTS: usize = 500;
/// k-means clusters of the history's artist factors.
const CLUSTERS: usize = 40;
/// Tags in a cluster's name.
const TAGS_PER_NAME: usize = 2;
/// A genre or cluster is a favourite from this share of a listener's plays on.
const FAVOURITE_SHARE: f64 = 0.15;

/// The appeal of an artist to a listener from ALS factors fitted on every play.
#[derive(Clone)]
pub(crate) struct FactorAppeal {
    rank: usize,
    listeners: Vec<f64>,
    artists: Vec<f64>,
    intercept: f64,
}

impl FactorAppeal {
    /// The factors, with the intercept that gives the `CALIBRATION_ARTISTS` artists of
    /// `popular` a mean stream probability of `TARGET_RATE` over all listeners (by bisection:
    /// the mean is increasing in the intercept).
    fn calibrated(factors: &Factors, popular: &[usize]) -> Self {
        let mut appeal = FactorAppeal {
            rank: factors.rank,
            listeners: factors.users.clone(),
            artists: factors.items.clone(),
            intercept: 0.0,
        };
        let listeners = factors.users.len() / factors.rank.max(1);
        let preferences: Vec<f64> = (0..listeners)
            .flat_map(|u| popular.iter().map(move |&a| (u, a)))
            .map(|(u, a)| appeal.preference(ListenerId(u as u32), ArtistId(a as u32)))
            .collect();
        let mean = |intercept: f64| {
            preferences
                .iter()
                .map(|&p| sigmoid(intercept + SCALE * p))
                .sum::<f64>()
                / preferences.len().max(1) as f64
        };
        let (mut lo, mut hi) = (-30.0, 30.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if mean(mid) < TARGET_RATE {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        appeal.intercept = 0.5 * (lo + hi);
        appeal
    }

    /// `x_u · y_a`, 0 for a listener or artist without factors.
    fn preference(&self, listener: ListenerId, artist: ArtistId) -> f64 {
        let (u, a, k) = (listener.index(), artist.index(), self.rank);
        match (
            self.listeners.get(u * k..(u + 1) * k),
            self.artists.get(a * k..(a + 1) * k),
        ) {
            (Some(x), Some(y)) => x.iter().zip(y).map(|(a, b)| a * b).sum(),
            _ => 0.0,
        }
    }

    /// The appeal logit of the artist to the listener.
    pub(crate) fn appeal(&self, listener: ListenerId, artist: ArtistId) -> f64 {
        self.intercept + SCALE * self.preference(listener, artist)
    }
}

impl World {
    /// The world of a data directory: generated from `config`, or, when `config` names
    /// listening data, built around the `listening.bin` in `dir`, which must be the data
    /// the configuration was made with.
    pub fn build(config: &WorldConfig, dir: &Path) -> Result<World, SimError> {
        let Some(expected) = config.listening_checksum else {
            return World::generate(config);
        };
        let (data, checksum) = ListeningData::load(dir)?;
        if checksum != expected {
            return Err(SimError::InvalidConfig {
                field: "listening_checksum",
                value: format!("{expected:#x} (the data's is {checksum:#x})"),
                reason: "the listening data changed since the world was built on it",
            });
        }
        World::from_listening(config, &data, checksum)
    }

    /// The world built around `data` (whose `listening.bin` has checksum `checksum`): see the
    /// module documentation. `config` gives the seed, the number of genres (tags), regions,
    /// the mean number of history plays per listener and the history window; the counts of
    /// artists, items and listeners are the data's. Deterministic given both.
    pub fn from_listening(
        config: &WorldConfig,
        data: &ListeningData,
        checksum: u64,
    ) -> Result<World, SimError> {
        let (n_listeners, n_artists) = (data.listeners.len(), data.artists.len());
        let tags = tags_by_artists(data);
        let config = WorldConfig {
            artists: n_artists,
            items: n_artists,
            listeners: n_listeners,
            genres: config.genres.min(tags.len()),
            listening_checksum: Some(checksum),
            ..config.clone()
        };
        config.validate()?;
        let seed = config.seed;
        let split = holdout(&data.plays, HOLDOUT, seed)?;
        let history = ListeningData {
            plays: split.train,
            ..data.clone()
        };
        let embeddings = Embeddings::fit(
            &history,
            checksum,
            &AlsConfig {
                seed,
                ..AlsConfig::default()
            },
            &ClusterConfig {
                k: CLUSTERS,
                max_iterations: 100,
                tags_per_name: TAGS_PER_NAME,
                seed,
            },
            |_, _| {},
        )?;

        let genre_tags = &tags[..config.genres];
        let clusters: Vec<Cluster> = (0..embeddings.cluster_names.len())
            .map(|c| Cluster {
                id: ClusterId(c as u16),
                name: embeddings.cluster_names[c].clone(),
                artists: (0..n_artists)
                    .filter(|&a| embeddings.clusters.assignment[a] as usize == c)
                    .map(|a| ArtistId(a as u32))
                    .collect(),
            })
            .collect();
        let artist_genres = artist_genres(data, genre_tags, &embeddings.clusters.assignment);
        let listeners_of = data.listeners_per_artist();
        let most = f64::from(listeners_of.iter().copied().max().unwrap_or(1).max(1));
        let artists: Vec<Artist> = (0..n_artists)
            .map(|a| Artist {
                id: ArtistId(a as u32),
                name: data.artists[a].name.clone(),
                genres: artist_genres[a].clone(),
                popularity: f64::from(listeners_of[a]) / most,
            })
            .collect();
        let items: Vec<Item> = artists
            .iter()
            .map(|a| Item {
                id: ItemId(a.id.0),
                kind: ItemKind::Artist,
                title: a.name.clone(),
                artist: a.id,
                genres: a.genres.clone(),
                popularity: a.popularity,
                // Release dates are unknown.
                release_day: 0,
            })
            .collect();
        let profiles = Profiles::new(config.regions);
        let catalog = Catalog {
            genres: genre_tags
                .iter()
                .enumerate()
                .map(|(g, &t)| Genre {
                    id: GenreId(g as u16),
                    name: data.tags[t as usize].clone(),
                })
                .collect(),
            regions: profiles.regions.clone(),
            artists,
            items,
            clusters,
        };

        let mut rng = phase_rng(seed, 4);
        let listeners: Vec<_> = (0..n_listeners)
            .map(|u| profiles.draw(u as u32, &mut rng))
            .collect();
        let activity: Vec<f64> = (0..n_listeners)
            .map(|u| {
                let total: f64 = data.plays.row(u).1.iter().map(|&p| f64::from(p)).sum();
                total.sqrt().max(1e-3)
            })
            .collect();
        let truth_factors = als::fit(
            &data.plays,
            &AlsConfig {
                factors: TRUTH_RANK,
                seed: seed ^ 0x7207_4000,
                ..AlsConfig::default()
            },
            |_, _| {},
        )?;
        let mut popular: Vec<usize> = (0..n_artists).collect();
        popular.sort_by_key(|&a| (std::cmp::Reverse(listeners_of[a]), a));
        popular.truncate(CALIBRATION_ARTISTS);
        let truth = Truth {
            genre_daypart: vec![[0.0; 4]; config.genres],
            region_offset: profiles.offsets.clone(),
            tastes: tastes(data, &catalog),
            activity: Weighted::new((0..n_listeners as u32).collect(), activity.clone()),
            hour: Weighted::new((0..24).collect(), DAILY_CURVE),
            start_day: (config.start / DAY) as u32,
            appeal: Appeal::Factors(FactorAppeal::calibrated(&truth_factors, &popular)),
        };

        // The history's timeline: plays of the kept artists inside the window.
        let window_start = config.start - u64::from(config.history_days) * DAY;
        let mean_activity = activity.iter().sum::<f64>() / n_listeners.max(1) as f64;
        let mean_plays = config.plays_per_listener as f64;
        let histories = (0..n_listeners)
            .map(|u| {
                let (kept, counts) = history.plays.row(u);
                if kept.is_empty() {
                    return Vec::new();
                }
                let mut rng = phase_rng(seed ^ (u as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93), 5);
                let n = (mean_plays * activity[u] / mean_activity)
                    .round()
                    .clamp(1.0, 15.0 * mean_plays) as usize;
                let pick =
                    Weighted::new(kept.to_vec(), counts.iter().map(|&c| f64::from(c).sqrt()));
                let mut plays: Vec<Play> = (0..n)
                    .filter_map(|_| {
                        let artist = pick.sample(&mut rng)?;
                        let day = rng.random_range(0..u64::from(config.history_days));
                        let second = truth.sample_utc_second(listeners[u].region, &mut rng);
                        Some(Play {
                            item: ItemId(artist),
                            timestamp: (window_start + day * DAY + second).min(config.start - 1),
                        })
                    })
                    .collect();
                plays.sort_by_key(|p| (p.timestamp, p.item));
                plays
            })
            .collect();

        Ok(World {
            catalog,
            config,
            listeners,
            histories,
            embeddings: Some(embeddings),
            truth,
        })
    }
}

/// Tag indices by how many artists carry them, most first (ties by index); tags no artist
/// carries are left out.
fn tags_by_artists(data: &ListeningData) -> Vec<u32> {
    let mut carriers = vec![0usize; data.tags.len()];
    for tags in &data.artist_tags {
        for &(t, _) in tags {
            carriers[t as usize] += 1;
        }
    }
    let mut order: Vec<u32> = (0..data.tags.len() as u32)
        .filter(|&t| carriers[t as usize] > 0)
        .collect();
    order.sort_by_key(|&t| (std::cmp::Reverse(carriers[t as usize]), t));
    order
}

/// Each artist's genres: its most applied tags among `genre_tags` (at most three, most applied
/// first), or else the commonest main genre of the tagged artists of its cluster (else
/// genre 0).
fn artist_genres(
    data: &ListeningData,
    genre_tags: &[u32],
    cluster_of: &[u32],
) -> Vec<Vec<GenreId>> {
    let genre_of_tag = |t: u32| {
        genre_tags
            .iter()
            .position(|&g| g == t)
            .map(|g| GenreId(g as u16))
    };
    let tagged: Vec<Vec<GenreId>> = data
        .artist_tags
        .iter()
        .map(|tags| {
            tags.iter()
                .filter_map(|&(t, _)| genre_of_tag(t))
                .take(3)
                .collect()
        })
        .collect();
    let clusters = cluster_of
        .iter()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0);
    let mut counts = vec![vec![0usize; genre_tags.len().max(1)]; clusters];
    for (genres, &c) in tagged.iter().zip(cluster_of) {
        if let Some(g) = genres.first() {
            counts[c as usize][g.index()] += 1;
        }
    }
    let commonest: Vec<GenreId> = counts
        .iter()
        .map(|c| {
            let best = (0..c.len()).max_by_key(|&g| (c[g], std::cmp::Reverse(g)));
            GenreId(best.unwrap_or(0) as u16)
        })
        .collect();
    tagged
        .into_iter()
        .zip(cluster_of)
        .map(|(genres, &c)| {
            if genres.is_empty() {
                vec![commonest[c as usize]]
            } else {
                genres
            }
        })
        .collect()
}

/// `(index, share)` pairs, largest share first (ties by index).
type Shares = Vec<(usize, f64)>;

/// Each listener's tastes from every play: shares of genres and clusters with each artist
/// weighted by ln(1 + plays), the top three genres (the same at every time of day), the
/// favourites (a share of at least `FAVOURITE_SHARE`, at least the top one, at most four),
/// and curiosity as the percentile of the entropy of the genre shares among listeners.
fn tastes(data: &ListeningData, catalog: &Catalog) -> Vec<Taste> {
    let mut cluster_of = vec![None; catalog.artists.len()];
    for c in &catalog.clusters {
        for a in &c.artists {
            cluster_of[a.index()] = Some(c.id);
        }
    }
    let ranked = |weights: Vec<f64>| -> Shares {
        let total: f64 = weights.iter().sum();
        let mut v: Vec<(usize, f64)> = weights
            .into_iter()
            .enumerate()
            .filter(|&(_, w)| w > 0.0)
            .map(|(k, w)| (k, w / total))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let favourites = |shares: &Shares| -> Vec<usize> {
        shares
            .iter()
            .enumerate()
            .take_while(|&(k, &(_, s))| k == 0 || s >= FAVOURITE_SHARE)
            .take(4)
            .map(|(_, &(g, _))| g)
            .collect()
    };
    // Per listener: the shares of genres, then of clusters.
    let per_listener: Vec<(Shares, Shares)> = (0..data.listeners.len())
        .map(|u| {
            let mut genres = vec![0.0; catalog.genres.len()];
            let mut clusters = vec![0.0; catalog.clusters.len()];
            let (artists, plays) = data.plays.row(u);
            for (&a, &p) in artists.iter().zip(plays) {
                let w = f64::from(p).ln_1p();
                genres[catalog.artists[a as usize].genres[0].index()] += w;
                if let Some(c) = cluster_of[a as usize] {
                    clusters[c.index()] += w;
                }
            }
            (ranked(genres), ranked(clusters))
        })
        .collect();
    let entropy: Vec<f64> = per_listener
        .iter()
        .map(|(g, _)| -g.iter().map(|&(_, s)| s * s.ln()).sum::<f64>())
        .collect();
    let mut order: Vec<usize> = (0..entropy.len()).collect();
    order.sort_by(|&a, &b| entropy[a].total_cmp(&entropy[b]).then(a.cmp(&b)));
    let mut curiosity = vec![0.5; entropy.len()];
    let last = (entropy.len().max(2) - 1) as f64;
    for (rank, &u) in order.iter().enumerate() {
        curiosity[u] = rank as f64 / last;
    }
    per_listener
        .into_iter()
        .zip(curiosity)
        .map(|((genres, clusters), curiosity)| {
            let top: Vec<GenreId> = genres
                .iter()
                .take(3)
                .map(|&(g, _)| GenreId(g as u16))
                .collect();
            Taste {
                genre: Vec::new(),
                daypart_strength: 0.0,
                favourite_genres: favourites(&genres)
                    .into_iter()
                    .map(|g| GenreId(g as u16))
                    .collect(),
                favourite_artists: Vec::new(),
                curiosity,
                top_genres: std::array::from_fn(|_| top.clone()),
                favourite_clusters: favourites(&clusters)
                    .into_iter()
                    .map(|c| ClusterId(c as u16))
                    .collect(),
            }
        })
        .collect()
}

/// Scenes of the listening data of [`sample_listening`].
const SCENES: usize = 8;

/// Small seeded listening data with structure, for tests and examples: artists belong to one
/// of eight scenes (tagged `scene N`, and some also `loud` or `quiet`), with Zipf-like
/// popularity; each listener prefers one or two scenes and plays 10 to 40 artists, nine in
/// ten from their scenes, with log-normal play counts.
pub fn sample_listening(listeners: usize, artists: usize, seed: u64) -> ListeningData {
    let mut rng = phase_rng(seed, 11);
    let scene_of: Vec<usize> = (0..artists).map(|a| a % SCENES).collect();
    let weight = |a: usize| 1.0 / (1.0 + a as f64 / SCENES as f64);
    let by_scene: Vec<Weighted> = (0..SCENES)
        .map(|s| {
            let members: Vec<u32> = (s as u32..artists as u32).step_by(SCENES).collect();
            let w: Vec<f64> = members.iter().map(|&a| weight(a as usize)).collect();
            Weighted::new(members, w)
        })
        .collect();
    let all = Weighted::new((0..artists as u32).collect(), (0..artists).map(weight));
    let mut triples = Vec::new();
    for u in 0..listeners {
        let first = rng.random_range(0..SCENES);
        let second = rng.random_range(0..SCENES);
        let n = rng.random_range(10..=40usize).min(artists);
        let mut picked = std::collections::BTreeSet::new();
        for _ in 0..20 * n {
            if picked.len() == n {
                break;
            }
            let source = match rng.random_range(0..10) {
                0 => &all,
                1..4 => &by_scene[second],
                _ => &by_scene[first],
            };
            if let Some(a) = source.sample(&mut rng) {
                picked.insert(a);
            }
        }
        for a in picked {
            let plays = (4.0 + 1.5 * rng.random::<f64>() * 3.0).exp().round() as f32;
            triples.push((u as u32, a, plays));
        }
    }
    let mut tags: Vec<String> = (0..SCENES).map(|s| format!("scene {s}")).collect();
    tags.extend(["loud".to_string(), "quiet".to_string()]);
    ListeningData {
        source: "sample".into(),
        listeners: (1..=listeners as u32).collect(),
        artists: (0..artists)
            .map(|a| listening::Artist {
                id: a as u32 + 1,
                name: format!("Artist {a}"),
            })
            .collect(),
        tags,
        artist_tags: (0..artists)
            .map(|a| match a % 10 {
                // Every fifth artist is untagged.
                0 | 5 => Vec::new(),
                1 => vec![(scene_of[a] as u32, 5), (SCENES as u32, 2)],
                2 => vec![(scene_of[a] as u32, 3), (SCENES as u32 + 1, 1)],
                _ => vec![(scene_of[a] as u32, 4)],
            })
            .collect(),
        plays: Csr::from_triples(listeners, artists, triples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_intercept_gives_popular_artists_the_target_rate_and_played_artists_appeal_more() {
        let data = sample_listening(300, 400, 3);
        let factors = als::fit(
            &data.plays,
            &AlsConfig {
                factors: TRUTH_RANK,
                ..AlsConfig::default()
            },
            |_, _| {},
        )
        .unwrap();
        let popular: Vec<usize> = (0..50).collect();
        let appeal = FactorAppeal::calibrated(&factors, &popular);
        let mean = (0..300u32)
            .flat_map(|u| popular.iter().map(move |&a| (u, a)))
            .map(|(u, a)| sigmoid(appeal.appeal(ListenerId(u), ArtistId(a as u32))))
            .sum::<f64>()
            / (300.0 * 50.0);
        assert!((mean - TARGET_RATE).abs() < 1e-9, "{mean}");
        // Played artists appeal far more than unplayed ones.
        let (mut played, mut unplayed) = ((0.0, 0), (0.0, 0));
        for u in 0..300 {
            let (artists, _) = data.plays.row(u);
            for a in 0..400u32 {
                let x = appeal.appeal(ListenerId(u as u32), ArtistId(a));
                let side = if artists.contains(&a) {
                    &mut played
                } else {
                    &mut unplayed
                };
                side.0 += x;
                side.1 += 1;
            }
        }
        let gap = played.0 / f64::from(played.1) - unplayed.0 / f64::from(unplayed.1);
        assert!(gap > 2.0, "{gap}");
    }
}
