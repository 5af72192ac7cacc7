//! `bart evaluate obd`: every per-card estimator of a target policy on Open Bandit Dataset
//! logs, with normal and bootstrap intervals and weight diagnostics.

use anyhow::{Context as _, Result, bail};
use bart_ope::diagnostics::thousands;
use bart_ope::obd::{ItemContext, Logs, Predictions, RewardModelConfig, TargetDist, cards};
use bart_ope::{Bootstrap, CardReport, DM_INTERVAL_CAVEAT, Estimator, Tuning, evaluate_cards};
use clap::{ArgGroup, Args, ValueEnum};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The files of one evaluation.
#[derive(Args)]
pub struct ObdFiles {
    /// Logged rows: OBD CSV with item_id, position (1 = left), click, propensity_score and
    /// optionally user_feature_* and user-item_affinity_* columns.
    #[arg(long)]
    pub logs: PathBuf,
    /// Item features: OBD item_context.csv (item_id, item_feature_*).
    #[arg(long)]
    pub item_context: PathBuf,
    /// Target policy π_e(item | position) as CSV: one line per item, one column per position
    /// (like bts_action_dist_all.csv; `#` starts a comment line).
    #[arg(long)]
    pub target_dist: Option<PathBuf>,
    /// A built-in target policy instead of --target-dist.
    #[arg(long, value_enum)]
    pub target: Option<BuiltinTarget>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BuiltinTarget {
    /// Every item with the same probability at every position.
    Uniform,
}

/// The reward model and the bootstrap.
#[derive(Args)]
pub struct ModelArgs {
    /// Folds of the reward model's cross-fitting.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// L2 penalty of the reward model (logistic regression).
    #[arg(long, default_value_t = 10.0)]
    pub l2: f64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 1_000)]
    pub resamples: usize,
    /// Seed of the folds and of the bootstrap.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl ModelArgs {
    pub fn reward_model(&self) -> RewardModelConfig {
        RewardModelConfig {
            folds: self.folds,
            seed: self.seed,
            l2: self.l2,
        }
    }

    pub fn bootstrap(&self) -> Bootstrap {
        Bootstrap {
            resamples: self.resamples,
            seed: self.seed,
            level: 0.95,
        }
    }
}

#[derive(Args)]
#[command(group(ArgGroup::new("target_policy").required(true).args(["target_dist", "target"])))]
pub struct ObdArgs {
    #[command(flatten)]
    files: ObdFiles,
    #[command(flatten)]
    model: ModelArgs,
    /// Cap on the weights of clipped IPS.
    #[arg(long, default_value_t = 100.0)]
    clip: f64,
    /// Switch-DR keeps the residual of rows with weights up to this.
    #[arg(long, default_value_t = 100.0)]
    switch: f64,
    /// λ of DR with optimistic shrinkage: weights become λw / (w² + λ).
    #[arg(long, default_value_t = 100.0)]
    shrinkage: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Logs, item context and target, read and checked against each other.
pub struct Loaded {
    pub logs: Logs,
    pub context: ItemContext,
    pub target: TargetDist,
    pub target_name: String,
}

impl ObdFiles {
    pub fn load(&self) -> Result<Loaded> {
        let context = ItemContext::read(&self.item_context)?;
        let logs = Logs::read(&self.logs, context.items())?;
        let (target, target_name) = match (&self.target_dist, self.target) {
            (Some(path), None) => (
                TargetDist::read(path, context.items())?,
                path.display().to_string(),
            ),
            (None, Some(BuiltinTarget::Uniform)) => (
                TargetDist::uniform(context.items(), logs.positions()),
                "uniform".to_string(),
            ),
            _ => bail!("give the target policy: either --target-dist FILE or --target uniform"),
        };
        target.check(&logs)?;
        Ok(Loaded {
            logs,
            context,
            target,
            target_name,
        })
    }
}

/// How reports name an estimator.
pub fn label(e: Estimator, tuning: &Tuning) -> String {
    match e {
        Estimator::Replay => "replay".into(),
        Estimator::Dm => "DM".into(),
        Estimator::Ips => "IPS".into(),
        Estimator::ClippedIps => format!("clipped IPS (M={})", tuning.clip),
        Estimator::Snips => "SNIPS".into(),
        Estimator::Dr => "DR".into(),
        Estimator::Sndr => "SNDR".into(),
        Estimator::SwitchDr => format!("switch-DR (τ={})", tuning.switch),
        Estimator::DrOs => format!("DR-OS (λ={})", tuning.shrinkage),
    }
}

#[derive(Serialize)]
struct Output<'a> {
    logs: &'a Path,
    item_context: &'a Path,
    target: &'a str,
    deterministic_target: bool,
    rows: usize,
    clicks: f64,
    reward_model: RewardModelConfig,
    reward_model_seconds: f64,
    #[serde(flatten)]
    report: &'a CardReport,
}

pub fn evaluate(args: ObdArgs) -> Result<ExitCode> {
    let tuning = Tuning {
        clip: args.clip,
        switch: args.switch,
        shrinkage: args.shrinkage,
    };
    tuning.validate()?;
    let loaded = args.files.load()?;
    let config = args.model.reward_model();
    let start = Instant::now();
    let predictions = Predictions::fit(&loaded.logs, &loaded.context, &config)
        .context("cannot fit the reward model")?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let cards = cards(&loaded.logs, &loaded.target, Some(&predictions));
    let report = evaluate_cards(
        &cards,
        &Estimator::ALL,
        tuning,
        Some(&args.model.bootstrap()),
    )?;
    let clicks: f64 = loaded.logs.rows.iter().map(|r| r.click).sum();
    if args.json {
        let out = Output {
            logs: &args.files.logs,
            item_context: &args.files.item_context,
            target: &loaded.target_name,
            deterministic_target: loaded.target.is_deterministic(),
            rows: loaded.logs.rows.len(),
            clicks,
            reward_model: config,
            reward_model_seconds: fit_seconds,
            report: &report,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Target {} on {}: {} rows, {} clicks, {} items, {} positions.",
        loaded.target_name,
        args.files.logs.display(),
        thousands(loaded.logs.rows.len() as f64),
        clicks,
        loaded.logs.items(),
        loaded.logs.positions()
    );
    println!(
        "Reward model of DM and the DRs: logistic regression on item, position, user features, \
         user-item affinity and item features, L2 {}, cross-fitted in {} folds (seed {}): {:.2} s.",
        config.l2, config.folds, config.seed, fit_seconds
    );
    print_table(&report);
    Ok(ExitCode::SUCCESS)
}

/// The estimates, the skipped estimators, the diagnostics and their warnings.
pub fn print_table(report: &CardReport) {
    let boot = report.bootstrap.map_or(String::new(), |b| {
        format!(
            "95% bootstrap interval ({} resamples, seed {})",
            thousands(b.resamples as f64),
            b.seed
        )
    });
    println!(
        "\n  {:<20} {:>9}  {:<22}  {}",
        "estimator", "estimate", "95% normal interval", boot
    );
    let pair = |lo: f64, hi: f64| format!("[{lo:.6}, {hi:.6}]");
    for row in &report.estimates {
        println!(
            "  {:<20} {:>9.6}  {:<22}  {}",
            label(row.estimator, &report.tuning),
            row.value,
            pair(row.normal.lo, row.normal.hi),
            row.bootstrap.map_or("-".into(), |b| pair(b.lo, b.hi))
        );
    }
    for s in &report.skipped {
        println!(
            "  {:<20} {:>9}  {}",
            label(s.estimator, &report.tuning),
            "n/a",
            s.reason
        );
    }
    if report
        .estimates
        .iter()
        .any(|r| r.estimator == Estimator::Dm)
    {
        println!("\n{DM_INTERVAL_CAVEAT}");
    }
    let d = &report.diagnostics;
    println!(
        "\nWeights: effective sample size {} of {}, mean {:.3}, largest {:.1}, the heaviest 1% \
         of rows carry {:.1}% of the weight.",
        thousands(d.effective_samples),
        thousands(d.samples as f64),
        d.mean_weight,
        d.max_weight,
        100.0 * d.top_share
    );
    for w in &d.warnings {
        println!("warning: {w}");
    }
}
