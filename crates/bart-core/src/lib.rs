//! The domain model of bart: ids, catalog, listeners, context, explanations, pages and the
//! event records that flow around the loop. No I/O lives here.

pub mod catalog;
pub mod context;
pub mod event;
pub mod explanation;
pub mod exploration;
pub mod history;
pub mod ids;
pub mod page;

pub use catalog::{
    AgeGroup, Artist, Catalog, Cluster, Genre, Item, ItemKind, Listener, Platform, Region,
};
pub use context::Context;
pub use event::{Feedback, Impression, STREAM_THRESHOLD_MS};
pub use explanation::{Explanation, ExplanationKind};
pub use exploration::Exploration;
pub use history::{Histories, Play};
pub use ids::{ArtistId, ClusterId, GenreId, ImpressionId, ItemId, ListenerId, RegionId};
pub use page::{Card, Page, Shelf};
