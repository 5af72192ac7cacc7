//! bart-log: the event store (impressions and feedback in SQLite) and the reward join that
//! turns them into one reward per served card.

mod error;
mod store;

pub use error::{LogError, Result};
pub use store::{EventStore, FILE_NAME, JoinQuery, LoggedPage, card_reward};
