//! Decide and learn: candidate shelves, feature hashing, the reward model, the ε-greedy policy
//! with exact propensities, page assembly and counterfactual training.

pub mod candidates;
pub mod error;
pub mod features;
pub mod hash;
pub mod model;
pub mod page;
pub mod policy;
pub mod recommender;
pub mod train;

pub use candidates::{CandidateConfig, CandidateShelf};
pub use error::BanditError;
pub use features::Slot;
pub use model::{LogisticRegression, ModelConfig};
pub use page::{PageConfig, PageMarginals, ScoredShelf, assemble, seed_for};
pub use policy::{EpsilonGreedy, Marginals};
pub use recommender::Recommender;
pub use train::{LoggedCard, TrainConfig, TrainStats};
