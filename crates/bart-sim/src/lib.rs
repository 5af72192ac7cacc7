//! bart-sim: a seeded synthetic music world and simulated listeners whose hidden responses
//! depend on context x item x explanation interactions, for closed-loop experiments.

pub mod compare;
pub mod error;
pub mod experiment;
pub mod listening_world;
mod names;
pub mod report;
pub mod response;
pub mod unbiased;
pub mod world;

pub use error::SimError;
pub use listening_world::HOLDOUT;
pub use response::Listening;
pub use world::{World, WorldConfig};
