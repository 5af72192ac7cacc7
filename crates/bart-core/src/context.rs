//! The request context: who is asking, where, when, and what they listened to lately.

use crate::catalog::{AgeGroup, Platform};
use crate::ids::{ArtistId, GenreId, ItemId, ListenerId, RegionId};
use serde::{Deserialize, Serialize};

/// Everything the recommender knows at request time. Logged with every impression so a page
/// can be rebuilt from the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub listener: ListenerId,
    pub region: RegionId,
    pub platform: Platform,
    pub age_group: AgeGroup,
    /// Local hour of day, 0..24.
    pub hour: u8,
    /// Local day of week, 0 (Monday) ..7.
    pub weekday: u8,
    /// Artists streamed recently, most recent first, without repeats.
    pub recent_artists: Vec<ArtistId>,
    /// Genres streamed recently, most recent first, without repeats.
    pub recent_genres: Vec<GenreId>,
    /// Items streamed recently, most recent first, without repeats.
    pub recent_items: Vec<ItemId>,
}

impl Context {
    /// Coarse part of the day: 0 night (0-5h), 1 morning (6-11h), 2 afternoon (12-17h),
    /// 3 evening (18-23h).
    pub fn daypart(&self) -> u8 {
        (self.hour % 24) / 6
    }
}
