//! The simulated listeners' behaviour: when they visit, what context their request carries,
//! and how they react to a served page (the hidden response).

use crate::world::{DAY, World};
use bart_core::{
    Context, Feedback, Impression, ItemId, ListenerId, Platform, Play, STREAM_THRESHOLD_MS,
};
use rand::{Rng, RngExt};

/// Recent listening in a context covers this many seconds before the request.
const RECENT_WINDOW: u64 = 14 * DAY;
/// Streams in this many seconds before a request make a listener bored of an item.
const BOREDOM_WINDOW: u64 = 3 * DAY;
/// Plays older than this, relative to a listener's latest play, are forgotten.
const KEEP: u64 = 15 * DAY;
/// At most this many recent artists, genres and items in a context.
const MAX_RECENT: usize = 10;
/// Probability that a visit comes from the listener's main platform.
const MAIN_PLATFORM: f64 = 0.75;
/// Probability that a card that is not streamed is still played briefly (a skip).
const SHORT_PLAY: f64 = 0.3;

/// Mutable listening state of every listener during a simulation: recent streams (from history,
/// then from simulated streams).
#[derive(Clone, Debug)]
pub struct Listening {
    /// Per listener, streams in chronological order; only the last `KEEP` seconds are kept.
    plays: Vec<Vec<Play>>,
}

impl Listening {
    /// The state at the start of the simulation: the recent part of every history.
    pub fn new(world: &World) -> Self {
        let cutoff = world.config.start.saturating_sub(KEEP);
        let plays = world
            .histories
            .iter()
            .map(|h| {
                let from = h.partition_point(|p| p.timestamp < cutoff);
                h[from..].to_vec()
            })
            .collect();
        Listening { plays }
    }

    /// The visits of one simulated day (day 0 starts at world.config.start): `n` (listener,
    /// unix timestamp) pairs, listeners drawn by a per-listener activity level (hidden,
    /// heavy-tailed), local times following a daily curve (evening peak, night trough), sorted
    /// by timestamp. Every timestamp lies inside the day, in UTC.
    pub fn visits(
        &self,
        world: &World,
        day: u32,
        n: usize,
        rng: &mut impl Rng,
    ) -> Vec<(ListenerId, u64)> {
        let day_start = world.config.start + u64::from(day) * DAY;
        let mut visits: Vec<(ListenerId, u64)> = (0..n)
            .map(|_| {
                let listener = world.truth.sample_listener(rng);
                let region = world.listeners[listener.index()].region;
                (
                    listener,
                    day_start + world.truth.sample_utc_second(region, rng),
                )
            })
            .collect();
        visits.sort_by_key(|&(l, t)| (t, l));
        visits
    }

    /// The request context of a visit: region and age group from the listener; platform =
    /// listener's main platform with prob 0.75, else another; hour/weekday = LOCAL time (each
    /// region has a fixed UTC offset); recent_artists/genres/items = most recent first,
    /// distinct, at most 10 each, from streams in the last 14 days before `timestamp` (history
    /// + simulated). Recent genres are the streamed items' main genres.
    ///
    /// # Panics
    /// If `listener` is not a listener of `world`.
    pub fn context(
        &self,
        world: &World,
        listener: ListenerId,
        timestamp: u64,
        rng: &mut impl Rng,
    ) -> Context {
        let profile = &world.listeners[listener.index()];
        let platform = if rng.random_bool(MAIN_PLATFORM) {
            profile.platform
        } else {
            let others: Vec<Platform> = Platform::ALL
                .into_iter()
                .filter(|&p| p != profile.platform)
                .collect();
            others[rng.random_range(0..others.len())]
        };
        let (hour, weekday) = world.truth.local_time(profile.region, timestamp);
        let mut ctx = Context {
            listener,
            region: profile.region,
            platform,
            age_group: profile.age_group,
            hour,
            weekday,
            recent_artists: Vec::new(),
            recent_genres: Vec::new(),
            recent_items: Vec::new(),
        };
        let plays = &self.plays[listener.index()];
        let end = plays.partition_point(|p| p.timestamp < timestamp);
        let since = timestamp.saturating_sub(RECENT_WINDOW);
        for play in plays[..end].iter().rev() {
            if play.timestamp < since {
                break;
            }
            let Some(item) = world.catalog.item(play.item) else {
                continue;
            };
            push_distinct(&mut ctx.recent_items, item.id);
            push_distinct(&mut ctx.recent_artists, item.artist);
            push_distinct(&mut ctx.recent_genres, item.genre());
            if ctx.recent_items.len() >= MAX_RECENT
                && ctx.recent_artists.len() >= MAX_RECENT
                && ctx.recent_genres.len() >= MAX_RECENT
            {
                break;
            }
        }
        ctx
    }

    /// How many times `listener` streamed `item` in the 3 days before `timestamp` (the
    /// `repeats` argument of [`World::stream_probability`]). 0 for an unknown listener.
    pub fn repeats(&self, listener: ListenerId, item: ItemId, timestamp: u64) -> u32 {
        let Some(plays) = self.plays.get(listener.index()) else {
            return 0;
        };
        let end = plays.partition_point(|p| p.timestamp < timestamp);
        let since = timestamp.saturating_sub(BOREDOM_WINDOW);
        plays[..end]
            .iter()
            .rev()
            .take_while(|p| p.timestamp >= since)
            .filter(|p| p.item == item)
            .count() as u32
    }

    /// The listener's reaction to a served page (read-only on self, so pages can be answered in
    /// parallel): for every card, stream with probability world.stream_probability(ctx, item,
    /// explanation, row, column, repeats). A stream yields a Feedback with played_ms in
    /// [30_000, 300_000]; a non-stream yields, with prob 0.3, a short play in [1_000, 29_999] ms,
    /// else no feedback. Feedback timestamps in [imp.timestamp + 5, imp.timestamp + 1_800];
    /// the result is sorted by timestamp.
    pub fn respond(
        &self,
        world: &World,
        impression: &Impression,
        rng: &mut impl Rng,
    ) -> Vec<Feedback> {
        let ctx = &impression.context;
        let mut feedback = Vec::new();
        for shelf in &impression.page.shelves {
            for card in &shelf.cards {
                let repeats = self.repeats(ctx.listener, card.item, impression.timestamp);
                let p = world.stream_probability(
                    ctx,
                    card.item,
                    &shelf.explanation,
                    shelf.row,
                    card.column,
                    repeats,
                );
                let played_ms = if rng.random::<f64>() < p {
                    Some(rng.random_range(STREAM_THRESHOLD_MS..=300_000))
                } else if rng.random_bool(SHORT_PLAY) {
                    Some(rng.random_range(1_000..STREAM_THRESHOLD_MS))
                } else {
                    None
                };
                if let Some(played_ms) = played_ms {
                    feedback.push(Feedback {
                        impression: impression.id,
                        row: shelf.row,
                        column: card.column,
                        item: card.item,
                        timestamp: impression.timestamp + rng.random_range(5..=1_800),
                        played_ms,
                    });
                }
            }
        }
        feedback.sort_by_key(|f| f.timestamp);
        feedback
    }

    /// Records the streams (played_ms >= STREAM_THRESHOLD_MS) of a response into the state.
    /// Unknown listeners and items are ignored.
    pub fn record(&mut self, world: &World, listener: ListenerId, feedback: &[Feedback]) {
        let Some(plays) = self.plays.get_mut(listener.index()) else {
            return;
        };
        for f in feedback {
            if !f.is_stream() || world.catalog.item(f.item).is_none() {
                continue;
            }
            let at = plays.partition_point(|p| p.timestamp <= f.timestamp);
            plays.insert(
                at,
                Play {
                    item: f.item,
                    timestamp: f.timestamp,
                },
            );
        }
        if let Some(last) = plays.last() {
            let cutoff = last.timestamp.saturating_sub(KEEP);
            let old = plays.partition_point(|p| p.timestamp < cutoff);
            if old > 0 {
                plays.drain(..old);
            }
        }
    }
}

fn push_distinct<T: PartialEq>(list: &mut Vec<T>, x: T) {
    if list.len() < MAX_RECENT && !list.contains(&x) {
        list.push(x);
    }
}
