//! The closed loop on a synthetic world, day by day: listeners visit, each visit is served by
//! the uniform random policy or by BaRT's ε-greedy policy, pages and feedback are logged,
//! rewards are joined, and the reward model is retrained counterfactually every night and
//! promoted to serve the next day. After the last day, the model that served it is evaluated
//! off-policy on that day's random pages (logged while it was live, never trained on) and the
//! estimate is set beside the stream rate it earned online.

use crate::error::SimError;
use crate::response::Listening;
use crate::world::{DAY, World, WorldConfig};
use bart_bandit::hash::hash;
use bart_bandit::train::fit_each;
use bart_bandit::{
    CandidateConfig, CardExamples, EpsilonSchedule, LoggedCard, LoggedShelf, ModelConfig, Models,
    PageConfig, Policy, Recommender, RewardModel, ShelfExamples, ShelfSummary, Slot, TrainConfig,
    TrainStats, fit, seed_for, shelf_model,
};
use bart_core::{Impression, ImpressionId};
use bart_log::{EventStore, JoinQuery, LoggedPage};
use bart_models::{ArtistEmbeddings, SharedModels};
use bart_ope::{Estimate, LoggedPageRef, PolicyValue, Target, evaluate, stream_rate};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Name logged for pages of the uniform random policy.
pub const RANDOM: &str = "random";
/// Why the simulator's pages cannot fail to plan: their policies are ε-greedy, which needs no
/// bagged scores.
pub(crate) const EPSILON_GREEDY: &str = "an ε-greedy page needs no bags";
/// Name logged for pages of BaRT's ε-greedy policy.
pub const BART: &str = "bart";
/// Upper bound on visits per arm and day (impression ids hold the visit index in 32 bits).
pub(crate) const MAX_PAGES_PER_DAY: usize = 10_000_000;
/// Feedback later than this after its impression does not count, by default.
pub const REWARD_WINDOW_SECS: u64 = 3_600;

/// Everything the demo needs; checked once by [`DemoConfig::validate`].
#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub world: WorldConfig,
    /// Where the event store, models and report go.
    pub data_dir: PathBuf,
    pub days: u32,
    /// Visits served by the uniform random policy per day.
    pub random_pages_per_day: usize,
    /// Visits served by BaRT per day.
    pub bart_pages_per_day: usize,
    /// BaRT's exploration rate, by day.
    pub epsilon: EpsilonSchedule,
    pub page: PageConfig,
    pub candidates: CandidateConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    /// Feedback later than this after the impression does not count.
    pub reward_window_secs: u64,
    /// Train a shelf model r' every night beside the card model and order BaRT's shelves by
    /// it (otherwise by their best cards' mean score).
    pub shelf_model: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            world: WorldConfig::default(),
            data_dir: PathBuf::from("bart-data"),
            days: 7,
            random_pages_per_day: 40_000,
            bart_pages_per_day: 400,
            epsilon: EpsilonSchedule::Fixed { epsilon: 0.1 },
            page: PageConfig::default(),
            candidates: CandidateConfig::default(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            reward_window_secs: REWARD_WINDOW_SECS,
            shelf_model: false,
        }
    }
}

impl DemoConfig {
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
        if !(2..=365).contains(&self.days) {
            return invalid("days", self.days.to_string(), "must be in 2..=365");
        }
        for (field, pages) in [
            ("random_pages_per_day", self.random_pages_per_day),
            ("bart_pages_per_day", self.bart_pages_per_day),
        ] {
            if !(2..=MAX_PAGES_PER_DAY).contains(&pages) {
                return invalid(field, pages.to_string(), "must be in 2..=10000000");
            }
        }
        self.epsilon.validate()?;
        self.page.validate()?;
        self.model.validate()?;
        self.train.validate()?;
        Ok(())
    }
}

/// One day of the loop.
#[derive(Clone, Debug, Serialize)]
pub struct DayReport {
    pub day: u32,
    /// The model version BaRT served with (0: untrained, all scores equal).
    pub model_version: u32,
    /// Per-card stream rate of each arm.
    pub random: Estimate,
    pub bart: Estimate,
    /// The nightly training pass after this day.
    pub train_examples: u64,
    pub train_log_loss: f64,
}

/// What the demo measured.
#[derive(Clone, Debug, Serialize)]
pub struct DemoReport {
    pub days: Vec<DayReport>,
    /// The model that served the last day.
    pub model_version: u32,
    pub epsilon: f64,
    /// Off-policy estimate of BaRT with that model from the last day's random pages, which
    /// were logged while it was live and never used for training.
    pub offline: PolicyValue,
    pub offline_pages: usize,
    /// A BaRT page from the last day, to show.
    pub example: Impression,
}

impl DemoReport {
    /// The last day's report.
    pub fn last_day(&self) -> &DayReport {
        self.days.last().expect("at least two days")
    }
}

/// The data directory's files.
pub struct DataDir;

impl DataDir {
    /// The world configuration file.
    pub fn world(dir: &Path) -> PathBuf {
        dir.join("world.json")
    }
    /// The file of model `version`.
    pub fn model(dir: &Path, version: u32) -> PathBuf {
        dir.join("models").join(format!("v{version}.bart"))
    }
    /// The file of version `version`'s shelf model r' (absent for versions trained without
    /// one: their shelves go by their best cards' mean score).
    pub fn shelf_model(dir: &Path, version: u32) -> PathBuf {
        dir.join("models").join(format!("v{version}.shelves.bart"))
    }
    /// The training record of model `version`.
    pub fn model_record(dir: &Path, version: u32) -> PathBuf {
        dir.join("models").join(format!("v{version}.json"))
    }
    /// The demo's JSON report.
    pub fn report(dir: &Path) -> PathBuf {
        dir.join("report.json")
    }
}

/// What a model was trained on, saved beside it: it may only be evaluated on later pages.
/// Version v continues version v - 1: it learned from the impressions from the previous
/// version's `trained_until` (the world's start for version 1) to its own, so the records
/// of versions 1 to v say how to train it again ([`TrainingHistory`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub version: u32,
    /// Impressions before this unix time (whose reward windows had closed) were trained on.
    pub trained_until: u64,
    pub reward_window_secs: u64,
    pub examples: u64,
    pub weighted_log_loss: f64,
    /// The training options of that night (the defaults in records that predate them, which
    /// is what the demo used).
    #[serde(default)]
    pub train: TrainConfig,
}

pub fn bar(len: u64, msg: &str, visible: bool) -> ProgressBar {
    let pb = if visible {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>32} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// Builds the world ([`World::build`]: around the listening data in `config.data_dir` when
/// `config.world` names some) and the recommender, then runs the loop. Writes `world.json`,
/// the event store, one model file per night (`models/`) and `report.json` into
/// `config.data_dir`, replacing those of an earlier demo there.
pub fn run(
    config: &DemoConfig,
    progress: bool,
) -> Result<(World, Recommender, DemoReport), SimError> {
    config.validate()?;
    let dir = &config.data_dir;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Io { path, source }
    };
    let models = dir.join("models");
    if models.is_dir() {
        std::fs::remove_dir_all(&models).map_err(io(&models))?;
    }
    std::fs::create_dir_all(&models).map_err(io(&models))?;
    for stale in ["events.db", "events.db-wal", "events.db-shm"] {
        let path = dir.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    let pb = bar(0, "building the world", progress);
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    let world = World::build(&config.world, dir)?;
    let world_path = DataDir::world(dir);
    let json = serde_json::to_string_pretty(&world.config).expect("config serialises");
    std::fs::write(&world_path, json).map_err(io(&world_path))?;

    let recommender = build_recommender(&world, config.candidates.clone(), config.page.clone())?;
    pb.finish_and_clear();
    let mut store = EventStore::create(dir)?;
    let mut listening = Listening::new(&world);
    let mut model = RewardModel::new(config.model.clone())?;
    // r', from the first night on when the config asks for it.
    let mut shelves: Option<RewardModel> = None;
    let mut version = 0u32;
    let start = config.world.start;
    let window = config.reward_window_secs;
    let seed = config.world.seed;
    let mut days = Vec::new();
    let mut trained_until = start;
    let mut offline = None;
    let mut offline_pages = 0;
    let mut example = None;

    for day in 0..config.days {
        let serving_version = version;
        let bart_epsilon = config.epsilon.at(f64::from(day));
        let bart_policy = Policy::from(bart_epsilon);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(xxh3_64_with_seed(
            &u64::from(day).to_le_bytes(),
            seed,
        ));
        let n = config.random_pages_per_day + config.bart_pages_per_day;
        let visits = listening.visits(&world, day, n, &mut rng);
        let mut arms = vec![false; visits.len()];
        arms[..config.bart_pages_per_day.min(visits.len())].fill(true);
        arms.shuffle(&mut rng);
        let pb = bar(
            visits.len() as u64,
            &format!("day {} serving", day + 1),
            progress,
        );
        for (chunk_no, chunk) in visits.chunks(2_048).enumerate() {
            let offset = chunk_no * 2_048;
            let contexts: Vec<_> = chunk
                .iter()
                .map(|&(listener, ts)| listening.context(&world, listener, ts, &mut rng))
                .collect();
            let served: Vec<(Impression, Vec<bart_core::Feedback>)> = contexts
                .into_par_iter()
                .enumerate()
                .map(|(k, context)| {
                    let i = offset + k;
                    let id = ImpressionId((u64::from(day) << 32) | i as u64);
                    let is_bart = arms[i];
                    let (policy, name, models, v) = if is_bart {
                        let models = Models {
                            cards: Some(&model),
                            shelves: shelves.as_ref(),
                        };
                        (bart_policy, BART, models, version)
                    } else {
                        (Policy::uniform(), RANDOM, Models::default(), 0)
                    };
                    let page = recommender
                        .page(&context, models, policy, id)
                        .expect(EPSILON_GREEDY);
                    let imp = Impression {
                        id,
                        timestamp: chunk[k].1,
                        context,
                        policy: name.to_string(),
                        exploration: policy.exploration(),
                        model_version: v,
                        seed: seed_for(id),
                        page,
                    };
                    let mut rrng = Xoshiro256PlusPlus::seed_from_u64(xxh3_64_with_seed(
                        &id.0.to_le_bytes(),
                        seed ^ 0x5EED,
                    ));
                    let feedback = listening.respond(&world, &imp, &mut rrng);
                    (imp, feedback)
                })
                .collect();
            for (imp, feedback) in &served {
                listening.record(&world, imp.context.listener, feedback);
            }
            let (imps, feedback): (Vec<_>, Vec<_>) = served.into_iter().unzip();
            store.append_impressions(&imps)?;
            store.append_feedback(&feedback.concat())?;
            if day + 1 == config.days
                && example.is_none()
                && let Some(imp) = imps.iter().find(|i| i.policy == BART)
            {
                example = Some(imp.clone());
            }
            pb.inc(chunk.len() as u64);
        }
        pb.finish_and_clear();

        let day_start = start + u64::from(day) * DAY;
        let day_end = day_start + DAY;
        let rate = |policy: &str| -> Result<Estimate, SimError> {
            let pages = store.joined(&JoinQuery {
                policy: Some(policy.to_string()),
                from: Some(day_start),
                until: Some(day_end),
                window_secs: window,
            })?;
            Ok(stream_rate(&refs(&pages))?)
        };
        let (random, bart) = (rate(RANDOM)?, rate(BART)?);

        // The night: train on the pages whose reward window has closed and promote the new
        // model. After the last day, evaluate the model that served it instead.
        let mut stats = TrainStats::default();
        if day + 1 < config.days {
            let until = day_end - window;
            let pages = night_pages(&store, trained_until, until, window)?;
            trained_until = until;
            let pb = bar(
                (card_count(&pages) * config.train.epochs) as u64,
                &format!("night {} training", day + 1),
                progress,
            );
            stats = fit_pages(
                &recommender,
                &pages,
                std::slice::from_mut(&mut model),
                std::slice::from_ref(&config.train),
                |done, s| {
                    pb.set_position(done);
                    pb.set_message(format!("night {}, log-loss {:.4}", day + 1, s.log_loss));
                },
            )?[0];
            pb.finish_and_clear();
            version += 1;
            model.save(&DataDir::model(dir, version))?;
            if config.shelf_model {
                let mut r = match shelves.take() {
                    Some(r) => r,
                    None => RewardModel::new(shelf_model::config(seed))?,
                };
                let night_seed = hash(seed, &[u64::from(day)]);
                fit_shelves(
                    &recommender,
                    &pages,
                    &model,
                    &mut r,
                    &config.train,
                    night_seed,
                )?;
                r.save(&DataDir::shelf_model(dir, version))?;
                shelves = Some(r);
            }
            let record = ModelRecord {
                version,
                trained_until: until,
                reward_window_secs: window,
                examples: stats.examples,
                weighted_log_loss: stats.weighted_log_loss,
                train: config.train.clone(),
            };
            let path = DataDir::model_record(dir, version);
            let json = serde_json::to_string_pretty(&record).expect("record serialises");
            std::fs::write(&path, json).map_err(io(&path))?;
        } else {
            let pages = store.joined(&JoinQuery {
                policy: Some(RANDOM.to_string()),
                from: Some(day_start),
                until: Some(day_end),
                window_secs: window,
            })?;
            let pb = bar(0, "offline evaluation", progress);
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            let target = Target {
                model: Some(&model),
                shelves: shelves.as_ref(),
                policy: bart_epsilon,
            };
            offline = Some(evaluate(&recommender, &target, &refs(&pages))?);
            offline_pages = pages.len();
            pb.finish_and_clear();
        }
        days.push(DayReport {
            day: day + 1,
            model_version: serving_version,
            random,
            bart,
            train_examples: stats.examples,
            train_log_loss: stats.weighted_log_loss,
        });
    }
    let report = DemoReport {
        days,
        model_version: version,
        epsilon: config.epsilon.at(f64::from(config.days - 1)).epsilon(),
        offline: offline.expect("evaluated after the last day"),
        offline_pages,
        example: example.expect("BaRT served on the last day"),
    };
    let path = DataDir::report(dir);
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    std::fs::write(&path, json).map_err(io(&path))?;
    Ok((world, recommender, report))
}

/// Similar items (and similar artists) kept per item (artist).
const NEIGHBOURS: usize = 20;

/// The recommender for a world: shared models from its history, with the world's embeddings
/// when it has some.
pub fn build_recommender(
    world: &World,
    candidates: CandidateConfig,
    page: PageConfig,
) -> Result<Recommender, SimError> {
    let mut shared = SharedModels::build(
        &world.catalog,
        &world.listeners,
        &world.histories,
        NEIGHBOURS,
    );
    if let Some(e) = &world.embeddings {
        shared = shared.with_embeddings(ArtistEmbeddings::new(&e.factors, NEIGHBOURS)?);
    }
    Ok(Recommender::new(
        world.catalog.clone(),
        shared,
        candidates,
        page,
    )?)
}

pub(crate) fn refs(pages: &[LoggedPage]) -> Vec<LoggedPageRef<'_>> {
    pages
        .iter()
        .map(|p| (&p.impression, p.rewards.as_slice()))
        .collect()
}

/// The pages one night of the loop trains on: every impression logged at or after `from` and
/// before `until`, in log order (timestamp, then id), with its rewards over `window_secs`.
pub fn night_pages(
    store: &EventStore,
    from: u64,
    until: u64,
    window_secs: u64,
) -> Result<Vec<LoggedPage>, SimError> {
    Ok(store.joined(&JoinQuery {
        policy: None,
        from: Some(from),
        until: Some(until),
        window_secs,
    })?)
}

/// The number of cards (training examples) on `pages`.
pub fn card_count(pages: &[LoggedPage]) -> usize {
    pages.iter().map(|p| p.impression.page.card_count()).sum()
}

/// Trains each of `models` (with `configs[m]`) on the cards of `pages`, as the loop trains
/// its model every night: the cards in log order, featurised once per batch for all models.
pub fn fit_pages(
    recommender: &Recommender,
    pages: &[LoggedPage],
    models: &mut [RewardModel],
    configs: &[TrainConfig],
    progress: impl FnMut(u64, &TrainStats),
) -> Result<Vec<TrainStats>, SimError> {
    let cards: Vec<LoggedCard<'_>> = training_cards(pages).collect();
    let examples = CardExamples {
        recommender,
        cards: &cards,
        batch_size: 65_536,
    };
    Ok(fit_each(models, &examples, configs, progress)?)
}

/// How model version v of a data directory was trained, enough to train it again: version v
/// continues version v - 1, so night k (from 1) learned from the [`night_pages`] from the end
/// of night k - 1 (the world's start for night 1) to `records[k - 1].trained_until`, with the
/// options `records[k - 1].train`.
#[derive(Clone, Copy)]
pub struct TrainingHistory<'a> {
    pub store: &'a EventStore,
    pub recommender: &'a Recommender,
    /// The world's start: where night 1's pages begin.
    pub start: u64,
    /// The records of versions 1 to v, in order.
    pub records: &'a [ModelRecord],
    /// The model configuration of version v (in its file).
    pub model: &'a ModelConfig,
}

impl TrainingHistory<'_> {
    /// Trains `models` fresh models with the version's model configuration through its
    /// nights, all models on each batch of cards at once, model m on night k with
    /// `config(m, k, &records[k - 1].train)`. With the records' own options this gives back
    /// the saved model bit for bit, as long as the store still holds the same pages.
    /// `progress` is told the examples done and the total so far (it grows as each night's
    /// pages are read).
    pub fn retrain(
        &self,
        models: usize,
        config: impl Fn(usize, u32, &TrainConfig) -> TrainConfig,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Vec<RewardModel>, SimError> {
        if let Some((k, r)) = (1..).zip(self.records).find(|(k, r)| r.version != *k) {
            return Err(SimError::InvalidConfig {
                field: "model records",
                value: format!("v{} in place of v{k}", r.version),
                reason: "need the records of versions 1, 2, ... in order",
            });
        }
        let mut trained = (0..models)
            .map(|_| RewardModel::new(self.model.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut done, mut total) = (0u64, 0u64);
        let mut from = self.start;
        for record in self.records {
            let until = record.trained_until;
            let pages = night_pages(self.store, from, until, record.reward_window_secs)?;
            from = until;
            // The night's cards must be the ones the version learned from: a page logged into
            // a trained window since would shift every bootstrap draw after it.
            let cards = card_count(&pages) as u64;
            if !record.train.exploration_only && cards != record.examples {
                return Err(SimError::InvalidConfig {
                    field: "logged pages",
                    value: format!(
                        "{cards} cards in v{}'s night, {} when it was trained",
                        record.version, record.examples
                    ),
                    reason: "the store changed since, so retraining (or bagging) that version \
                             would not give it back",
                });
            }
            let configs: Vec<TrainConfig> = (0..models)
                .map(|m| config(m, record.version, &record.train))
                .collect();
            total += (card_count(&pages) * record.train.epochs) as u64;
            progress(done, total);
            fit_pages(self.recommender, &pages, &mut trained, &configs, |d, _| {
                progress(done + d, total)
            })?;
            done = total;
        }
        Ok(trained)
    }

    /// `bags` bags of the version for bootstrap Thompson sampling: [`retrain`](Self::retrain)
    /// with the version's own options, bag b with bootstrap seed [`bag_seed`]`(b, night)` each
    /// night. The same history always gives the same bags, whatever the number of threads.
    pub fn bags(
        &self,
        bags: usize,
        progress: impl FnMut(u64, u64),
    ) -> Result<Vec<RewardModel>, SimError> {
        self.retrain(
            bags,
            |b, night, train| TrainConfig {
                bootstrap: Some(bag_seed(b, night)),
                ..train.clone()
            },
            progress,
        )
    }
}

/// The bootstrap seed of bag `bag` on night `night`.
pub fn bag_seed(bag: usize, night: u32) -> u64 {
    hash(BAG_SEEDS, &[bag as u64, u64::from(night)])
}

/// The hash namespace of [`bag_seed`].
const BAG_SEEDS: u64 = 0xBA65_0000_0000_0001;

/// Every card of the pages, with its reward; cards of the uniform policy are the exploration
/// slice.
pub fn training_cards(pages: &[LoggedPage]) -> impl Iterator<Item = LoggedCard<'_>> {
    pages.iter().flat_map(|p| {
        let ctx = &p.impression.context;
        let explore = p.impression.policy == RANDOM;
        p.impression
            .page
            .shelves
            .iter()
            .zip(&p.rewards)
            .flat_map(move |(shelf, rewards)| {
                shelf
                    .cards
                    .iter()
                    .zip(rewards)
                    .map(move |(card, &reward)| LoggedCard {
                        context: ctx,
                        explanation: shelf.explanation,
                        item: card.item,
                        slot: Slot {
                            row: shelf.row,
                            column: card.column,
                        },
                        propensity: card.weight_propensity(),
                        reward,
                        explore,
                    })
            })
    })
}

/// At most this many pages a night teach r' (a seeded sample of the night's pages): the shelf
/// model has few parameters, and each page's candidates are rebuilt and scored to summarise
/// its shelves.
pub const SHELF_PAGES_PER_NIGHT: usize = 30_000;

/// The shown shelves of a seeded sample of at most `max_pages` of `pages`, as r' training
/// examples for the card model `cards`: each shelf's summary is the one serving computes with
/// that model (its candidates rebuilt from the logged context and scored), its reward 1 if
/// any of its cards was streamed, its propensity the logged probability of its row.
pub fn training_shelves<'p>(
    recommender: &Recommender,
    pages: &'p [LoggedPage],
    cards: &RewardModel,
    max_pages: usize,
    seed: u64,
) -> Vec<LoggedShelf<'p>> {
    let k = recommender.page_config().cards_per_shelf;
    let keep = |p: &LoggedPage| {
        pages.len() <= max_pages
            || (hash(seed, &[p.impression.id.0]) as u128 * pages.len() as u128)
                < (max_pages as u128) << 64
    };
    let sampled: Vec<&LoggedPage> = pages.iter().filter(|p| keep(p)).collect();
    let per_page: Vec<Vec<LoggedShelf<'p>>> = sampled
        .par_iter()
        .map(|p| {
            let ctx = &p.impression.context;
            let scored = recommender.score(ctx, recommender.candidates(ctx), Some(cards));
            let explore = p.impression.policy == RANDOM;
            p.impression
                .page
                .shelves
                .iter()
                .zip(&p.rewards)
                .filter_map(|(shelf, rewards)| {
                    let source = scored.iter().find(|s| s.explanation == shelf.explanation)?;
                    Some(LoggedShelf {
                        context: ctx,
                        explanation: shelf.explanation,
                        row: shelf.row,
                        summary: ShelfSummary::of(&source.scores, k),
                        propensity: shelf.probability,
                        reward: rewards.iter().sum::<f64>() / rewards.len().max(1) as f64,
                        explore,
                    })
                })
                .collect()
        })
        .collect();
    per_page.concat()
}

/// Trains the shelf model `shelves` on a night's `pages` (see [`training_shelves`]).
pub fn fit_shelves(
    recommender: &Recommender,
    pages: &[LoggedPage],
    cards: &RewardModel,
    shelves: &mut RewardModel,
    config: &TrainConfig,
    seed: u64,
) -> Result<TrainStats, SimError> {
    let logged = training_shelves(recommender, pages, cards, SHELF_PAGES_PER_NIGHT, seed);
    let examples = ShelfExamples {
        affinity: &recommender.shared().affinity,
        shelves: &logged,
        batch_size: 65_536,
    };
    Ok(fit(shelves, &examples, config, |_, _| {})?)
}
