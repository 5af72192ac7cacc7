//! Decide and learn: candidate shelves, the feature hasher, reward models (logistic
//! regression, factorization machines), counterfactual training, the policies (ε-greedy,
//! softmax, bootstrap Thompson sampling) with exact probabilities and page assembly.

pub mod candidates;
pub mod card_features;
pub mod error;
pub mod features;
pub mod hash;
mod item_set;
pub mod likelihood;
pub mod logged;
pub mod model;
pub mod page;
pub mod policy;
pub mod recommender;
pub mod shelf_model;
pub mod train;
pub mod vw;

pub use candidates::{CandidateConfig, CandidateShelf, Candidates};
pub use card_features::Slot;
pub use error::BanditError;
pub use features::{Example, Features, Interactions, Namespace};
pub use likelihood::Draws;
pub use logged::{CardExamples, LoggedCard};
pub use model::{
    Fixed, Groups, ModelConfig, ModelKind, Optimizer, Pair, Pairwise, Partial, Remembered,
    RewardModel,
};
pub use page::{PageConfig, PagePlan, Pin, PlannedShelf, ScoredShelf, ScoredShelves, seed_for};
pub use policy::{EpsilonGreedy, EpsilonSchedule, MAX_BAGS, Marginals, Policy, Scores, greedy};
pub use recommender::{CardFeaturiser, Models, Recommender};
pub use shelf_model::{LoggedShelf, ShelfExamples, ShelfScorer, ShelfSummary};
pub use train::{
    Batch, Examples, Logged, MAX_EPOCHS, MAX_WEIGHT, TrainConfig, TrainStats, Weighting, fit,
};
