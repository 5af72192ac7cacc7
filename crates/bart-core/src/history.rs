//! Listening history: the streams a listener made before (or outside) the home page.

use crate::ids::ItemId;
use serde::{Deserialize, Serialize};

/// One stream of an item by a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Play {
    pub item: ItemId,
    /// Unix time in seconds.
    pub timestamp: u64,
}

/// Every listener's plays, indexed by listener id, each in chronological order.
pub type Histories = Vec<Vec<Play>>;
