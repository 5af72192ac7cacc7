//! Event records: what was served (impressions) and what the listener did (feedback).

use crate::context::Context;
use crate::exploration::Exploration;
use crate::ids::{ImpressionId, ItemId};
use crate::page::Page;
use serde::{Deserialize, Serialize};

/// A play of at least this many milliseconds counts as a stream (reward 1).
pub const STREAM_THRESHOLD_MS: u32 = 30_000;

/// A served page with everything needed to replay and evaluate it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Impression {
    pub id: ImpressionId,
    /// Unix time in seconds.
    pub timestamp: u64,
    pub context: Context,
    /// Name of the policy that built the page, e.g. `"random"` or `"bart"`.
    pub policy: String,
    /// How the policy explored: with the seed, the scores and the page rules it fixes every
    /// probability on the page.
    pub exploration: Exploration,
    /// Version of the reward model used (0 when no model was used).
    pub model_version: u32,
    /// The RNG seed the page was sampled with (derived from the impression id).
    pub seed: u64,
    pub page: Page,
}

/// A listener's action on a card, naming the card by its slot: an item can appear on more
/// than one shelf of a page, and each card earns its own reward.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub impression: ImpressionId,
    /// Row of the card's shelf.
    pub row: u16,
    /// Column of the card within its shelf.
    pub column: u16,
    pub item: ItemId,
    /// Unix time in seconds.
    pub timestamp: u64,
    /// How long the listener played the item, in milliseconds (0 for a skip).
    pub played_ms: u32,
}

impl Feedback {
    /// Whether this play counts as a stream under the default threshold.
    pub fn is_stream(&self) -> bool {
        self.played_ms >= STREAM_THRESHOLD_MS
    }
}
