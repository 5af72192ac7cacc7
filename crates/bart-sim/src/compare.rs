//! A closed-loop comparison of serving arms on one simulated world.
//!
//! Phase 1 logs `train_days` days of uniformly random pages. Every model arm is trained once on
//! those same logged cards (counterfactually, like the demo's nightly pass). Phase 2 serves
//! `test_days` days of fresh visits, each visit assigned to one arm in equal shares, and the
//! simulated listeners answer; each arm's online stream rate per card is measured with a 95%
//! interval that treats pages as the independent unit.
//!
//! To show where a model's lead comes from, the comparison also measures how much each arm's
//! top shelf depends on the context: the share of its pages whose top shelf has its most
//! common explanation kind, and, for a sample of test contexts, how often its greedy top
//! shelf changes kind between a mobile weekday morning and a desktop weekday afternoon. A
//! logistic regression without crosses can barely change its ranking with platform or hour
//! (the context features add the same amount to every candidate's log-odds, which only moves
//! shelf scores, means of probabilities, a little); a factorization machine can.

use crate::error::SimError;
use crate::experiment::{
    EPSILON_GREEDY, MAX_PAGES_PER_DAY, REWARD_WINDOW_SECS, bar, fit_shelves, refs, training_cards,
};
use crate::response::Listening;
use crate::world::{World, WorldConfig};
use bart_bandit::{
    CandidateConfig, CardExamples, EpsilonGreedy, Interactions, LoggedCard, ModelConfig, ModelKind,
    Models, PageConfig, Policy, Recommender, RewardModel, TrainConfig, fit, seed_for, shelf_model,
};
use bart_core::{Context, ExplanationKind, Feedback, Impression, ImpressionId, Page, Platform};
use bart_log::LoggedPage;
use bart_ope::{Estimate, stream_rate};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Policy name logged for the pages of phase 1.
const LOGGING: &str = "random";

/// How an arm builds its pages.
#[derive(Clone, Debug, PartialEq)]
pub enum ArmPolicy {
    /// The uniform random policy.
    Random,
    /// ε-greedy on each item's global popularity.
    Popularity,
    /// ε-greedy on a reward model trained on the logged pages, shelves ordered by a shelf
    /// model r' trained on them too (`shelves`) or by their best cards' mean score.
    Model { config: ModelConfig, shelves: bool },
    /// ε-greedy on the simulator's true stream probabilities (a ceiling no model can see).
    Oracle,
}

/// One arm of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    pub name: String,
    pub policy: ArmPolicy,
}

impl Arm {
    /// The names [`Arm::named`] knows.
    pub const NAMES: [&str; 8] = [
        "random",
        "popularity",
        "lr",
        "lr-q",
        "fm2",
        "fm2-shelves",
        "fm3",
        "oracle",
    ];

    /// The arm called `name`: `random`, `popularity`, `oracle`, or a model on `base`'s
    /// settings: `lr` (logistic regression, no crosses), `lr-q` (logistic regression with
    /// the context x item, context x explanation and item x explanation crosses), `fm2`,
    /// `fm3` (factorization machines of 2nd and 3rd order), `fm2-shelves` (`fm2` with shelves
    /// ordered by a learned shelf model r').
    pub fn named(name: &str, base: &ModelConfig) -> Result<Arm, SimError> {
        let with = |kind: ModelKind, crosses: &[&str], shelves| -> Result<ArmPolicy, SimError> {
            let config = ModelConfig {
                kind,
                interactions: Interactions::parse(crosses)?,
                ..base.clone()
            };
            Ok(ArmPolicy::Model { config, shelves })
        };
        let model = |kind, crosses: &[&str]| with(kind, crosses, false);
        let policy = match name {
            "random" => ArmPolicy::Random,
            "popularity" => ArmPolicy::Popularity,
            "oracle" => ArmPolicy::Oracle,
            "lr" => model(ModelKind::Lr, &[])?,
            "lr-q" => model(ModelKind::Lr, &["ci", "ce", "ie"])?,
            "fm2" => model(ModelKind::Fm2, &[])?,
            "fm2-shelves" => with(ModelKind::Fm2, &[], true)?,
            "fm3" => model(ModelKind::Fm3, &[])?,
            _ => {
                return Err(SimError::InvalidConfig {
                    field: "arm",
                    value: name.to_string(),
                    reason: "must be random, popularity, lr, lr-q, fm2, fm2-shelves, fm3 or oracle",
                });
            }
        };
        Ok(Arm {
            name: name.to_string(),
            policy,
        })
    }
}

/// Everything a comparison needs; checked once by [`CompareConfig::validate`].
#[derive(Clone, Debug)]
pub struct CompareConfig {
    pub world: WorldConfig,
    /// Days of uniformly random pages logged for training.
    pub train_days: u32,
    /// Days of test visits, shared equally by the arms.
    pub test_days: u32,
    /// Visits per day, in both phases.
    pub pages_per_day: usize,
    /// Exploration rate of every arm except `random`.
    pub epsilon: f64,
    pub arms: Vec<Arm>,
    pub page: PageConfig,
    pub candidates: CandidateConfig,
    pub train: TrainConfig,
    /// Feedback later than this after the impression does not count.
    pub reward_window_secs: u64,
    /// Test contexts sampled for the context-flip measure.
    pub flip_contexts: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        let base = ModelConfig::default();
        CompareConfig {
            world: WorldConfig::default(),
            train_days: 3,
            test_days: 1,
            pages_per_day: 40_000,
            epsilon: 0.1,
            arms: ["random", "popularity", "lr", "fm2"]
                .iter()
                .map(|n| Arm::named(n, &base).expect("known arm"))
                .collect(),
            page: PageConfig::default(),
            candidates: CandidateConfig::default(),
            train: TrainConfig::default(),
            reward_window_secs: REWARD_WINDOW_SECS,
            flip_contexts: 2_000,
        }
    }
}

impl CompareConfig {
    /// Checks every setting before any work starts.
    pub fn validate(&self) -> Result<(), SimError> {
        self.world.validate()?;
        let invalid = |field: &'static str, value: String, reason: &'static str| {
            Err(SimError::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if self.train_days == 0 {
            return invalid("train_days", "0".into(), "must be at least 1");
        }
        if self.test_days == 0 {
            return invalid("test_days", "0".into(), "must be at least 1");
        }
        if self.train_days + self.test_days > 365 {
            return invalid(
                "test_days",
                self.test_days.to_string(),
                "train_days + test_days must be at most 365",
            );
        }
        if !(2..=MAX_PAGES_PER_DAY).contains(&self.pages_per_day) {
            return invalid(
                "pages_per_day",
                self.pages_per_day.to_string(),
                "must be in 2..=10000000",
            );
        }
        if self.arms.is_empty() {
            return invalid("arms", String::new(), "must name at least one arm");
        }
        if self.arms.len() > self.pages_per_day {
            return invalid(
                "arms",
                self.arms.len().to_string(),
                "must not outnumber the pages per day",
            );
        }
        for (k, arm) in self.arms.iter().enumerate() {
            if self.arms[..k].iter().any(|a| a.name == arm.name) {
                return invalid("arms", arm.name.clone(), "names an arm twice");
            }
            if let ArmPolicy::Model { config, .. } = &arm.policy {
                config.validate()?;
            }
        }
        EpsilonGreedy::new(self.epsilon)?;
        self.page.validate()?;
        self.train.validate()?;
        Ok(())
    }
}

/// The share of an arm's test pages whose top shelf has an explanation kind.
#[derive(Clone, Debug, Serialize)]
pub struct KindShare {
    pub kind: ExplanationKind,
    pub share: f64,
}

/// What one arm earned online, and how its top shelf depends on the context.
#[derive(Clone, Debug, Serialize)]
pub struct ArmReport {
    pub name: String,
    pub epsilon: f64,
    pub pages: u64,
    pub cards: u64,
    /// Stream rate per card, with its 95% interval (pages are the unit).
    pub rate: Estimate,
    /// Top-shelf (row 0) explanation kinds of the arm's test pages, most common first.
    pub top_kinds: Vec<KindShare>,
    /// Over the sampled test contexts, the share whose greedy top shelf changes explanation
    /// kind between (mobile, 8 h) and (desktop, 14 h) on a weekday. `None` for the uniform
    /// random policy, which has no greedy page.
    pub flip: Option<f64>,
    /// Contexts the flip share is over (those with a page in both settings).
    pub flip_contexts: usize,
}

impl ArmReport {
    /// The most common top-shelf kind and its share.
    pub fn modal_kind(&self) -> Option<&KindShare> {
        self.top_kinds.first()
    }
}

/// One model's training pass.
#[derive(Clone, Debug, Serialize)]
pub struct TrainingReport {
    pub arm: String,
    pub model: ModelConfig,
    pub examples: u64,
    /// Progressive-validation log-loss of the first epoch, weighted as trained.
    pub weighted_log_loss: f64,
    pub log_loss: f64,
    pub mean_weight: f64,
    pub seconds: f64,
}

/// What the comparison measured.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    pub seed: u64,
    pub train_days: u32,
    pub test_days: u32,
    pub pages_per_day: usize,
    pub epsilon: f64,
    /// Pages and cards logged by the uniform random policy in phase 1 (the training set).
    pub logged_pages: usize,
    pub logged_cards: usize,
    /// The uniform random policy's stream rate on the logged pages.
    pub logged_rate: Estimate,
    pub training: Vec<TrainingReport>,
    /// In the configured order.
    pub arms: Vec<ArmReport>,
}

impl CompareReport {
    /// The arm called `name`.
    pub fn arm(&self, name: &str) -> Option<&ArmReport> {
        self.arms.iter().find(|a| a.name == name)
    }
}

/// How an arm scores candidates, once its model (if any) is trained.
enum Scorer {
    Uniform,
    Popularity,
    /// A card model and, when trained, a shelf model.
    Model(Box<RewardModel>, Option<Box<RewardModel>>),
    Oracle,
}

impl Scorer {
    /// The page for `ctx` at time `ts`.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        world: &World,
        listening: &Listening,
        recommender: &Recommender,
        ctx: &Context,
        ts: u64,
        policy: Policy,
        id: ImpressionId,
    ) -> Page {
        let scored_by = |score: &dyn Fn(&bart_core::Explanation, bart_core::ItemId) -> f64| {
            let scored = recommender.candidates(ctx).scored_by(score);
            recommender
                .plan(ctx, &scored, policy, None)
                .expect(EPSILON_GREEDY)
                .assemble(id)
        };
        match self {
            Scorer::Uniform => recommender
                .page(ctx, Models::default(), policy, id)
                .expect(EPSILON_GREEDY),
            Scorer::Model(cards, shelves) => {
                let models = Models {
                    cards: Some(cards),
                    shelves: shelves.as_deref(),
                };
                recommender
                    .page(ctx, models, policy, id)
                    .expect(EPSILON_GREEDY)
            }
            Scorer::Popularity => scored_by(&|_, i| {
                recommender
                    .catalog()
                    .item(i)
                    .map_or(0.0, |item| item.popularity)
            }),
            Scorer::Oracle => scored_by(&|e, i| {
                let repeats = listening.repeats(ctx.listener, i, ts);
                world.stream_probability(ctx, i, e, 0, 0, repeats)
            }),
        }
    }
}

/// Serves day `day`'s `n` visits: `serve(listening state, visit index, context, impression
/// id, timestamp)` builds each impression (in parallel), the listeners respond, their streams are recorded,
/// and every page comes back with its rewards, in visit order. Deterministic for a seed.
#[allow(clippy::too_many_arguments)]
fn serve_day(
    world: &World,
    listening: &mut Listening,
    day: u32,
    n: usize,
    window_secs: u64,
    pb: &ProgressBar,
    serve: impl Fn(&Listening, usize, Context, ImpressionId, u64) -> Impression + Sync,
) -> Vec<LoggedPage> {
    let seed = world.config.seed;
    let mut rng =
        Xoshiro256PlusPlus::seed_from_u64(xxh3_64_with_seed(&u64::from(day).to_le_bytes(), seed));
    let visits = listening.visits(world, day, n, &mut rng);
    let mut pages = Vec::with_capacity(visits.len());
    for (chunk_no, chunk) in visits.chunks(2_048).enumerate() {
        let offset = chunk_no * 2_048;
        let contexts: Vec<_> = chunk
            .iter()
            .map(|&(listener, ts)| listening.context(world, listener, ts, &mut rng))
            .collect();
        let state = &*listening;
        let served: Vec<(Impression, Vec<Feedback>)> = contexts
            .into_par_iter()
            .enumerate()
            .map(|(k, context)| {
                let i = offset + k;
                let id = ImpressionId((u64::from(day) << 32) | i as u64);
                let imp = serve(state, i, context, id, chunk[k].1);
                let mut rrng = Xoshiro256PlusPlus::seed_from_u64(xxh3_64_with_seed(
                    &id.0.to_le_bytes(),
                    seed ^ 0x5EED,
                ));
                let feedback = state.respond(world, &imp, &mut rrng);
                (imp, feedback)
            })
            .collect();
        for (imp, feedback) in served {
            listening.record(world, imp.context.listener, &feedback);
            pages.push(LoggedPage::joined(imp, &feedback, window_secs));
        }
        pb.inc(chunk.len() as u64);
    }
    pages
}

/// The explanation kind of a page's top shelf.
fn top_kind(page: &Page) -> Option<ExplanationKind> {
    page.shelves
        .iter()
        .find(|s| s.row == 0)
        .map(|s| s.explanation.kind())
}

/// Top-shelf kinds of `pages`, most common first (ties in `ExplanationKind::ALL` order).
fn kind_shares(pages: &[LoggedPage]) -> Vec<KindShare> {
    let mut counts = [0usize; ExplanationKind::ALL.len()];
    let mut total = 0usize;
    for p in pages {
        if let Some(kind) = top_kind(&p.impression.page) {
            let k = ExplanationKind::ALL
                .iter()
                .position(|&x| x == kind)
                .expect("every kind is listed");
            counts[k] += 1;
            total += 1;
        }
    }
    let mut shares: Vec<KindShare> = ExplanationKind::ALL
        .iter()
        .zip(counts)
        .filter(|&(_, c)| c > 0)
        .map(|(&kind, c)| KindShare {
            kind,
            share: c as f64 / total as f64,
        })
        .collect();
    shares.sort_by(|a, b| b.share.total_cmp(&a.share));
    shares
}

/// Builds the world and the recommender, logs random pages, trains every model arm on them,
/// then serves the test days to all arms in equal shares and measures each.
pub fn run(config: &CompareConfig, progress: bool) -> Result<CompareReport, SimError> {
    config.validate()?;
    let world = World::generate(&config.world)?;
    let recommender = crate::experiment::build_recommender(
        &world,
        config.candidates.clone(),
        config.page.clone(),
    )?;
    let mut listening = Listening::new(&world);
    let window = config.reward_window_secs;
    let uniform = EpsilonGreedy::uniform();

    // Phase 1: uniformly random pages, the exploration logs.
    let mut logged: Vec<LoggedPage> = Vec::new();
    for day in 0..config.train_days {
        let pb = bar(
            config.pages_per_day as u64,
            &format!("logging day {}", day + 1),
            progress,
        );
        logged.extend(serve_day(
            &world,
            &mut listening,
            day,
            config.pages_per_day,
            window,
            &pb,
            |_, _, context, id, timestamp| Impression {
                id,
                timestamp,
                page: recommender
                    .page(&context, Models::default(), uniform.into(), id)
                    .expect(EPSILON_GREEDY),
                context,
                policy: LOGGING.to_string(),
                exploration: Policy::from(uniform).exploration(),
                model_version: 0,
                seed: seed_for(id),
            },
        ));
        pb.finish_and_clear();
    }
    let logged_rate = stream_rate(&refs(&logged))?;
    let cards: Vec<LoggedCard<'_>> = training_cards(&logged).collect();

    // Every model arm learns from the same logged cards.
    let mut training = Vec::new();
    let mut scorers = Vec::with_capacity(config.arms.len());
    for arm in &config.arms {
        let scorer = match &arm.policy {
            ArmPolicy::Random => Scorer::Uniform,
            ArmPolicy::Popularity => Scorer::Popularity,
            ArmPolicy::Oracle => Scorer::Oracle,
            ArmPolicy::Model {
                config: model_config,
                shelves,
            } => {
                let started = Instant::now();
                let mut model = RewardModel::new(model_config.clone())?;
                let pb = bar(
                    (cards.len() * config.train.epochs) as u64,
                    &format!("training {}", arm.name),
                    progress,
                );
                let examples = CardExamples {
                    recommender: &recommender,
                    cards: &cards,
                    batch_size: 65_536,
                };
                let stats = fit(&mut model, &examples, &config.train, |done, s| {
                    pb.set_position(done);
                    pb.set_message(format!("training {}, log-loss {:.4}", arm.name, s.log_loss));
                })?;
                let shelves = match shelves {
                    false => None,
                    true => {
                        let mut r = RewardModel::new(shelf_model::config(config.world.seed))?;
                        fit_shelves(
                            &recommender,
                            &logged,
                            &model,
                            &mut r,
                            &config.train,
                            config.world.seed,
                        )?;
                        Some(Box::new(r))
                    }
                };
                pb.finish_and_clear();
                training.push(TrainingReport {
                    arm: arm.name.clone(),
                    model: model_config.clone(),
                    examples: stats.examples,
                    weighted_log_loss: stats.weighted_log_loss,
                    log_loss: stats.log_loss,
                    mean_weight: stats.mean_weight,
                    seconds: started.elapsed().as_secs_f64(),
                });
                Scorer::Model(Box::new(model), shelves)
            }
        };
        scorers.push(scorer);
    }
    let logged_pages = logged.len();
    let logged_cards = cards.len();
    drop(cards);
    drop(logged);

    // Phase 2: fresh visits, each served by one arm, equal shares in a seeded shuffle.
    let exploit = EpsilonGreedy::new(config.epsilon)?;
    let policies: Vec<EpsilonGreedy> = config
        .arms
        .iter()
        .map(|a| match a.policy {
            ArmPolicy::Random => uniform,
            _ => exploit,
        })
        .collect();
    let k = config.arms.len();
    let mut tested: Vec<Vec<LoggedPage>> = vec![Vec::new(); k];
    for t in 0..config.test_days {
        let day = config.train_days + t;
        let mut assign: Vec<usize> = (0..config.pages_per_day).map(|i| i % k).collect();
        assign.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(xxh3_64_with_seed(
            &u64::from(day).to_le_bytes(),
            config.world.seed ^ 0xA225,
        )));
        let pb = bar(
            config.pages_per_day as u64,
            &format!("test day {}", t + 1),
            progress,
        );
        let pages = serve_day(
            &world,
            &mut listening,
            day,
            config.pages_per_day,
            window,
            &pb,
            |state, i, context, id, timestamp| {
                let a = assign[i];
                let page = scorers[a].page(
                    &world,
                    state,
                    &recommender,
                    &context,
                    timestamp,
                    policies[a].into(),
                    id,
                );
                Impression {
                    id,
                    timestamp,
                    context,
                    policy: config.arms[a].name.clone(),
                    exploration: Policy::from(policies[a]).exploration(),
                    model_version: u32::from(matches!(scorers[a], Scorer::Model(..))),
                    seed: seed_for(id),
                    page,
                }
            },
        );
        pb.finish_and_clear();
        for (i, page) in pages.into_iter().enumerate() {
            tested[assign[i]].push(page);
        }
    }

    // The context-flip sample: test contexts evenly spread over the test days.
    let all: Vec<(&Context, u64)> = {
        let mut v: Vec<_> = tested
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.impression.id,
                    &p.impression.context,
                    p.impression.timestamp,
                )
            })
            .collect();
        v.sort_by_key(|&(id, _, _)| id);
        v.into_iter().map(|(_, c, ts)| (c, ts)).collect()
    };
    let step = all.len().div_ceil(config.flip_contexts.max(1)).max(1);
    let sample: Vec<(&Context, u64)> = if config.flip_contexts == 0 {
        Vec::new()
    } else {
        all.iter().step_by(step).copied().collect()
    };
    let greedy = Policy::greedy();
    let pb = bar(
        (sample.len()
            * scorers
                .iter()
                .filter(|s| !matches!(s, Scorer::Uniform))
                .count()) as u64,
        "context flips",
        progress && !sample.is_empty(),
    );
    let mut arms = Vec::with_capacity(k);
    for (a, arm) in config.arms.iter().enumerate() {
        let pages = &tested[a];
        let (flip, flip_contexts) = if matches!(scorers[a], Scorer::Uniform) || sample.is_empty() {
            (None, 0)
        } else {
            let flips: Vec<bool> = sample
                .par_iter()
                .enumerate()
                .filter_map(|(j, &(ctx, ts))| {
                    let at = |platform: Platform, hour: u8| Context {
                        platform,
                        hour,
                        weekday: 2,
                        ..ctx.clone()
                    };
                    let id = ImpressionId(u64::MAX - j as u64);
                    let kind = |c: &Context| {
                        top_kind(&scorers[a].page(
                            &world,
                            &listening,
                            &recommender,
                            c,
                            ts,
                            greedy,
                            id,
                        ))
                    };
                    let morning = kind(&at(Platform::Mobile, 8))?;
                    let afternoon = kind(&at(Platform::Desktop, 14))?;
                    pb.inc(1);
                    Some(morning != afternoon)
                })
                .collect();
            let n = flips.len();
            let changed = flips.iter().filter(|&&f| f).count();
            ((n > 0).then(|| changed as f64 / n as f64), n)
        };
        arms.push(ArmReport {
            name: arm.name.clone(),
            epsilon: policies[a].epsilon(),
            pages: pages.len() as u64,
            cards: pages
                .iter()
                .map(|p| p.impression.page.card_count() as u64)
                .sum(),
            rate: stream_rate(&refs(pages))?,
            top_kinds: kind_shares(pages),
            flip,
            flip_contexts,
        });
    }
    pb.finish_and_clear();
    Ok(CompareReport {
        seed: config.world.seed,
        train_days: config.train_days,
        test_days: config.test_days,
        pages_per_day: config.pages_per_day,
        epsilon: config.epsilon,
        logged_pages,
        logged_cards,
        logged_rate,
        training,
        arms,
    })
}
