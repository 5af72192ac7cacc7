//! Commands that read a data directory: `page`, `replay`, `evaluate`.

use crate::DataArg;
use crate::data::Data;
use anyhow::{Result, bail};
use bart_bandit::{EpsilonGreedy, PageConfig, Pin, Policy, seed_for};
use bart_core::Exploration;
use bart_core::{Impression, ImpressionId, ListenerId, Platform};
use bart_log::{JoinQuery, LoggedPage};
use bart_ope::{Target, evaluate as estimate, stream_rate};
use bart_sim::Listening;
use bart_sim::experiment::{RANDOM, REWARD_WINDOW_SECS};
use bart_sim::report::render_page;
use bart_sim::world::DAY;
use clap::{Args, Subcommand, ValueEnum};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
enum PlatformArg {
    Mobile,
    Desktop,
    Web,
    Speaker,
}

#[derive(Args)]
pub struct PageArgs {
    #[command(flatten)]
    data: DataArg,
    /// Listener id.
    #[arg(long)]
    listener: u32,
    /// Local hour of day (0-23); default: the listener's own at the start of the simulation.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..24))]
    hour: Option<u8>,
    /// Platform; default: the listener's.
    #[arg(long, value_enum)]
    platform: Option<PlatformArg>,
    /// Model version; default: the newest.
    #[arg(long)]
    model: Option<u32>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Pin the first shelf of a kind to a row, e.g. `jump_back_in=0` (repeatable).
    #[arg(long, value_name = "KIND=ROW")]
    pin: Vec<Pin>,
    /// At most this many cards of one artist in a shelf.
    #[arg(long)]
    max_per_artist: Option<usize>,
    /// Impression id (the sampling seed is derived from it).
    #[arg(long, default_value_t = 1)]
    impression: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyKind {
    EpsilonGreedy,
    Softmax,
    Greedy,
    /// Bootstrap Thompson sampling over --bags bagged copies of the model, trained on the fly.
    Thompson,
}

/// How the served page explores.
#[derive(Args)]
struct PolicyArgs {
    /// The policy that fills the page.
    #[arg(long, value_enum, default_value = "epsilon-greedy")]
    policy: PolicyKind,
    /// Exploration rate ε of epsilon-greedy.
    #[arg(long, default_value_t = 0.1)]
    epsilon: f64,
    /// Temperature of softmax: P(card) is proportional to exp(score / temperature).
    #[arg(long, default_value_t = 0.05)]
    temperature: f64,
    /// Bags of Thompson sampling: copies of the model retrained on bootstrap resamples of
    /// its training logs (deterministically, so replays rebuild the same ones).
    #[arg(long, default_value_t = 8)]
    bags: u32,
}

impl PolicyArgs {
    fn policy(&self) -> Result<Policy> {
        Ok(Policy::new(match self.policy {
            PolicyKind::EpsilonGreedy => Exploration::EpsilonGreedy {
                epsilon: self.epsilon,
            },
            PolicyKind::Softmax => Exploration::Softmax {
                temperature: self.temperature,
            },
            PolicyKind::Greedy => Exploration::GREEDY,
            PolicyKind::Thompson => Exploration::Thompson { bags: self.bags },
        })?)
    }
}

pub fn page(args: PageArgs) -> Result<ExitCode> {
    let policy = args.policy.policy()?;
    let mut data = Data::open(&args.data.data)?;
    if !args.pin.is_empty() || args.max_per_artist.is_some() {
        let rules = PageConfig {
            pinned: args.pin.clone(),
            max_per_artist: args.max_per_artist,
            ..data.recommender.page_config().clone()
        };
        data.recommender = data.recommender.with_page(rules)?;
    }
    let world = &data.world;
    if args.listener as usize >= world.listeners.len() {
        bail!(
            "listener {} does not exist: the world in {} has listeners 0 to {}",
            args.listener,
            data.dir.display(),
            world.listeners.len().saturating_sub(1)
        );
    }
    let version = match args.model {
        Some(v) => v,
        None => data.latest_model()?,
    };
    let listening = Listening::new(world);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.impression);
    let ts = world.config.start;
    let mut context = listening.context(world, ListenerId(args.listener), ts, &mut rng);
    if let Some(h) = args.hour {
        context.hour = h;
    }
    if let Some(p) = args.platform {
        context.platform = match p {
            PlatformArg::Mobile => Platform::Mobile,
            PlatformArg::Desktop => Platform::Desktop,
            PlatformArg::Web => Platform::Web,
            PlatformArg::Speaker => Platform::Speaker,
        };
    }
    let id = ImpressionId(args.impression);
    let page = data.page(&context, version, policy, id)?;
    let impression = Impression {
        id,
        timestamp: ts,
        context,
        policy: "bart".into(),
        exploration: policy.exploration(),
        model_version: version,
        seed: seed_for(id),
        page,
    };
    print!("{}", render_page(&world.catalog, &impression));
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    data: DataArg,
    /// The impression to rebuild.
    #[arg(long)]
    impression: u64,
}

pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let data = Data::open(&args.data.data)?;
    let Some(logged) = data.store.impression(ImpressionId(args.impression))? else {
        bail!(
            "no impression {} in {}",
            args.impression,
            data.store.path().display()
        );
    };
    let policy = Policy::new(logged.exploration)?;
    let rebuilt = data.page(&logged.context, logged.model_version, policy, logged.id)?;
    print!("{}", render_page(&data.world.catalog, &logged));
    if rebuilt == logged.page && seed_for(logged.id) == logged.seed {
        let model = match logged.exploration {
            Exploration::Thompson { bags } => {
                format!("{bags} bags of model v{}", logged.model_version)
            }
            _ => format!("model v{}", logged.model_version),
        };
        println!(
            "\nReplayed from seed {:#018x}, the logged context and {model}: identical ({} cards).",
            logged.seed,
            rebuilt.card_count()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nReplay differs from the log. Rebuilt page:\n");
        let again = Impression {
            page: rebuilt,
            ..logged
        };
        print!("{}", render_page(&data.world.catalog, &again));
        Ok(ExitCode::from(1))
    }
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvaluateArgs {
    #[command(subcommand)]
    kind: Option<EvaluateKind>,
    #[command(flatten)]
    data: DataArg,
    /// Simulated day (from 1) whose random pages to evaluate on; default: the last.
    #[arg(long)]
    day: Option<u64>,
    /// Model version to evaluate; default: the newest trained before that day. A model may
    /// only be evaluated on pages it was not trained on.
    #[arg(long, conflicts_with = "policy")]
    model: Option<u32>,
    /// A policy to evaluate with every per-card and page estimator (repeatable): a model
    /// version (`v3` or `3`), a model file (`candidate.bart`) or `uniform`. The first is the
    /// running policy, each other a candidate compared with it; its model (if any) is the
    /// reward model of DM and DR.
    #[arg(long, value_name = "VERSION|FILE|uniform")]
    policy: Vec<String>,
    /// Exploration rate ε of the evaluated policy.
    #[arg(long, default_value_t = 0.1)]
    epsilon: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Other logs to evaluate on.
#[derive(Subcommand)]
enum EvaluateKind {
    /// Estimate a target policy on Open Bandit Dataset logs with every per-card estimator
    /// (replay, DM, IPS, clipped IPS, SNIPS, DR, SNDR, switch-DR, DR-OS).
    Obd(crate::obd::ObdArgs),
}

pub fn evaluate(args: EvaluateArgs) -> Result<ExitCode> {
    if let Some(EvaluateKind::Obd(obd)) = args.kind {
        return crate::obd::evaluate(obd);
    }
    let policy = EpsilonGreedy::new(args.epsilon)?;
    let data = Data::open(&args.data.data)?;
    if !args.policy.is_empty() {
        return crate::policies::run(&data, &args.policy, policy, args.day, args.json);
    }
    let (day, from, until) = day_range(&data, args.day)?;
    let version = match args.model {
        Some(v) => v,
        None => {
            let mut v = data.latest_model()?;
            while v > 0 && data.model_record(v)?.trained_until > from {
                v -= 1;
            }
            v
        }
    };
    check_unseen(&data, version, day)?;
    let model = data.model(version)?;
    let pages = random_pages(&data, day, from, until)?;
    let refs: Vec<_> = pages
        .iter()
        .map(|p| (&p.impression, p.rewards.as_slice()))
        .collect();
    let shelves = data.shelf_model(version)?;
    let target = Target {
        model: model.as_ref(),
        shelves: shelves.as_ref(),
        policy,
    };
    let value = estimate(&data.recommender, &target, &refs)?;
    let logging = stream_rate(&refs)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model_version": version,
                "epsilon": args.epsilon,
                "day": day,
                "pages": pages.len(),
                "ips": value.ips,
                "snips": value.snips,
                "logging_policy": logging,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Model v{version} with ε = {} on the {} random pages of day {day} in {}:",
        args.epsilon,
        pages.len(),
        data.store.path().display()
    );
    println!(
        "  {:<16} {:>8}  {:<20}  {:>12}",
        "estimator", "estimate", "95% interval", "ESS (cards)"
    );
    for (name, e) in [
        ("IPS", value.ips),
        ("SNIPS", value.snips),
        ("random (logged)", logging),
    ] {
        println!(
            "  {:<16} {:>8.4}  [{:.4}, {:.4}]  {:>12.0}",
            name, e.value, e.lo, e.hi, e.effective_samples
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The day to evaluate on (default: the last logged) and its time range [from, until).
pub fn day_range(data: &Data, day: Option<u64>) -> Result<(u64, u64, u64)> {
    let start = data.world.config.start;
    let Some((_, last)) = data.store.time_range()? else {
        bail!("no impressions in {}", data.store.path().display());
    };
    let last_day = last.saturating_sub(start) / DAY + 1;
    let day = day.unwrap_or(last_day);
    if day == 0 || day > last_day {
        bail!("--day {day} is outside the logged days 1 to {last_day}");
    }
    Ok((day, start + (day - 1) * DAY, start + day * DAY))
}

/// Refuses to evaluate model `version` on a day whose pages it was trained on.
pub fn check_unseen(data: &Data, version: u32, day: u64) -> Result<()> {
    if version == 0 {
        return Ok(());
    }
    let start = data.world.config.start;
    let record = data.model_record(version)?;
    if record.trained_until > start + (day - 1) * DAY {
        let first = (record.trained_until - start).div_ceil(DAY) + 1;
        bail!(
            "model v{version} was trained on pages up to day {}, so its estimate on day \
             {day} would be optimistic: evaluate it on day {first} or later",
            first - 1
        );
    }
    Ok(())
}

/// The uniform random policy's pages of `day`, with their rewards joined.
pub fn random_pages(data: &Data, day: u64, from: u64, until: u64) -> Result<Vec<LoggedPage>> {
    let pages = data.store.joined(&JoinQuery {
        policy: Some(RANDOM.into()),
        from: Some(from),
        until: Some(until),
        window_secs: REWARD_WINDOW_SECS,
    })?;
    if pages.is_empty() {
        bail!(
            "no random pages on day {day} in {}",
            data.store.path().display()
        );
    }
    Ok(pages)
}
