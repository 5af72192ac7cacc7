//! `bart train`: fits a reward model on bart's own logs or on Vowpal Wabbit `cb_adf` text.

use crate::data::Data;
use anyhow::{Context as _, Result, bail};
use bart_bandit::vw::CbAdfText;
use bart_bandit::{
    CardExamples, Examples, Interactions, ModelConfig, ModelKind, Optimizer, RewardModel,
    TrainConfig, TrainStats, Weighting, fit,
};
use bart_sim::experiment::{bar, training_cards};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A bart data directory (its event store, joined with rewards).
    Bart,
    /// Vowpal Wabbit `cb_adf` text: optional `shared |NS ...` line, one line per action,
    /// exactly one labelled `0:cost:probability`, a blank line between examples.
    VwCbAdf,
}

/// The reward model and how it is trained; unset values take the library defaults.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// Reward model: lr, fm2 or fm3 [default: fm2].
    #[arg(long)]
    model: Option<ModelKind>,
    /// Embedding rank of the factorization machines [default: 16].
    #[arg(long)]
    rank: Option<usize>,
    /// log2 of the number of hash buckets [default: 18].
    #[arg(long, short = 'b')]
    bits: Option<u8>,
    /// adagrad, or ftrl (logistic regression only) [default: adagrad].
    #[arg(long)]
    optimizer: Option<Optimizer>,
    /// AdaGrad learning rate or FTRL alpha [default: 0.1].
    #[arg(long)]
    learning_rate: Option<f64>,
    /// L1 penalty (FTRL) [default: 0].
    #[arg(long)]
    l1: Option<f64>,
    /// L2 penalty [default: 1e-6].
    #[arg(long)]
    l2: Option<f64>,
    /// Cross namespaces by their initials, like VW's -q (repeatable): -q UA, or -q UAE for
    /// triples.
    #[arg(short = 'q', long = "interactions")]
    interactions: Vec<String>,
    /// Seed of the initial embeddings [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Example weights: none, ips, clipped:M or self-normalised.
    #[arg(long, default_value = "clipped:100")]
    weighting: Weighting,
    /// Passes over the data.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Learn only from the exploration slice (pages of the uniform random policy).
    #[arg(long)]
    exploration_only: bool,
    /// Worker threads (default: all cores). Models are bit-for-bit the same for any count.
    #[arg(long)]
    threads: Option<usize>,
}

impl ModelArgs {
    /// The model configuration: the library defaults overridden by the flags given.
    pub fn model_config(&self) -> Result<ModelConfig> {
        let d = ModelConfig::default();
        let config = ModelConfig {
            kind: self.model.unwrap_or(d.kind),
            rank: self.rank.unwrap_or(d.rank),
            bits: self.bits.unwrap_or(d.bits),
            optimizer: self.optimizer.unwrap_or(d.optimizer),
            learning_rate: self.learning_rate.unwrap_or(d.learning_rate),
            l1: self.l1.unwrap_or(d.l1),
            l2: self.l2.unwrap_or(d.l2),
            interactions: Interactions::parse(&self.interactions)?,
            seed: self.seed.unwrap_or(d.seed),
            ..d
        };
        config.validate()?;
        Ok(config)
    }

    /// The training options.
    pub fn train_config(&self) -> Result<TrainConfig> {
        let config = TrainConfig {
            weighting: self.weighting,
            epochs: self.epochs,
            exploration_only: self.exploration_only,
            bootstrap: None,
        };
        config.validate()?;
        Ok(config)
    }

    /// Runs `f` on a rayon pool of `--threads` threads.
    pub fn with_threads<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let mut pool = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            if n == 0 {
                bail!("--threads must be at least 1");
            }
            pool = pool.num_threads(n);
        }
        Ok(pool.build()?.install(f))
    }
}

#[derive(Args)]
pub struct TrainArgs {
    /// Input format.
    #[arg(long, value_enum, default_value = "bart")]
    format: Format,
    /// The input: a data directory written by `bart demo` (format bart) or a text file.
    #[arg(long, alias = "logs", default_value = "bart-data", env = "BART_DATA")]
    input: PathBuf,
    /// Only pages of this policy (format bart), e.g. random.
    #[arg(long)]
    policy: Option<String>,
    #[command(flatten)]
    model: ModelArgs,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Trains on `data` (`total` examples per epoch) with a progress bar.
pub fn train_on(
    model: &mut RewardModel,
    data: &(impl Examples + ?Sized),
    total: u64,
    config: &TrainConfig,
    quiet: bool,
) -> Result<TrainStats> {
    let pb = bar(total * config.epochs as u64, "training", !quiet);
    let stats = fit(model, data, config, |done, s| {
        pb.set_position(done);
        pb.set_message(format!("log-loss {:.4}", s.log_loss));
    })?;
    pb.finish_and_clear();
    Ok(stats)
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let model_config = args.model.model_config()?;
    let train_config = args.model.train_config()?;
    let mut model = RewardModel::new(model_config)?;
    let start = Instant::now();
    let (stats, read_secs) = match args.format {
        Format::Bart => {
            let data = Data::open(&args.input)?;
            let pages = data.pages(args.policy.clone())?;
            let cards: Vec<_> = training_cards(&pages).collect();
            if cards.is_empty() {
                bail!("{}: no logged cards to train on", args.input.display());
            }
            let read = start.elapsed().as_secs_f64();
            let examples = CardExamples {
                recommender: &data.recommender,
                cards: &cards,
                batch_size: 65_536,
            };
            let stats = args.model.with_threads(|| {
                train_on(
                    &mut model,
                    &examples,
                    cards.len() as u64,
                    &train_config,
                    args.quiet,
                )
            })??;
            (stats, read)
        }
        Format::VwCbAdf => {
            if args.policy.is_some() || args.model.exploration_only {
                bail!(
                    "--policy and --exploration-only apply to bart logs only (every cb_adf example counts as exploration)"
                );
            }
            train_vw(
                &args.input,
                &mut model,
                &args.model,
                &train_config,
                args.quiet,
            )?
        }
    };
    model.save(&args.out)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "trained {} on {} examples ({} skipped) in {secs:.2} s ({read_secs:.2} s reading): {:.0} examples/s",
        model.config(),
        stats.examples,
        stats.skipped,
        stats.examples as f64 / secs,
    );
    println!(
        "progressive log-loss {:.5} (weighted {:.5}, mean weight {:.3}); model written to {}",
        stats.log_loss,
        stats.weighted_log_loss,
        stats.mean_weight,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Trains on a VW `cb_adf` file: the file is read into memory, then parsed chunk by chunk
/// on one thread while the model learns from the previous chunk on another. Returns the
/// statistics and the seconds spent reading the file.
pub fn train_vw(
    path: &Path,
    model: &mut RewardModel,
    args: &ModelArgs,
    config: &TrainConfig,
    quiet: bool,
) -> Result<(TrainStats, f64)> {
    let start = Instant::now();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let read = start.elapsed().as_secs_f64();
    let text = CbAdfText::new(path, &bytes);
    // Examples end with a blank line: a count for the progress bar.
    let total = memchr::memmem::find_iter(&bytes, b"\n\n").count() as u64;
    let stats = args.with_threads(|| train_on(model, &text, total, config, quiet))??;
    Ok((stats, read))
}
