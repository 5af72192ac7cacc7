//! `bart demo`: the whole loop on a synthetic world, or on a world built around imported
//! listening data, with a report.

use crate::interval;
use anyhow::{Result, bail};
use bart_bandit::EpsilonSchedule;
use bart_models::listening::ListeningData;
use bart_sim::experiment::{self, DemoConfig};
use bart_sim::report::render_page;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct DemoArgs {
    /// Where to write the world, the event store, the models and the report. A directory that
    /// holds imported listening data (`listening.bin`, from `bart import`) runs the loop on a
    /// world built around that data instead of a generated one.
    #[arg(long, default_value = "bart-data", env = "BART_DATA")]
    data: PathBuf,
    /// Simulated days.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Visits served by the uniform random policy per day.
    #[arg(long, default_value_t = 40_000)]
    random_pages: usize,
    /// Visits served by BaRT per day.
    #[arg(long, default_value_t = 400)]
    bart_pages: usize,
    /// BaRT's exploration rate ε (on the first day, with --epsilon-half-life).
    #[arg(long, default_value_t = 0.1)]
    epsilon: f64,
    /// Let ε decay towards --epsilon-floor, halving the distance every this many days.
    #[arg(long)]
    epsilon_half_life: Option<f64>,
    /// The ε a decaying schedule tends to.
    #[arg(long, default_value_t = 0.02, requires = "epsilon_half_life")]
    epsilon_floor: f64,
    #[command(flatten)]
    world: crate::WorldArgs,
    /// Also train a shelf model r' every night and order BaRT's shelves by it (by default
    /// shelves go by their best cards' mean score).
    #[arg(long)]
    shelf_model: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let mut world = args.world.config();
    let listening = args.data.join(ListeningData::FILE);
    let data = if listening.is_file() {
        if let Some(flag) = args.world.size_flag() {
            bail!(
                "{flag} does not apply to {}: the listening data decides the listeners, artists and items",
                listening.display()
            );
        }
        let (data, checksum) = ListeningData::load(&args.data)?;
        world.listening_checksum = Some(checksum);
        Some(data)
    } else {
        None
    };
    let config = DemoConfig {
        world,
        data_dir: args.data.clone(),
        days: args.days,
        random_pages_per_day: args.random_pages,
        bart_pages_per_day: args.bart_pages,
        epsilon: match args.epsilon_half_life {
            None => EpsilonSchedule::Fixed {
                epsilon: args.epsilon,
            },
            Some(half_life) => EpsilonSchedule::Decaying {
                start: args.epsilon,
                floor: args.epsilon_floor,
                half_life,
            },
        },
        shelf_model: args.shelf_model,
        ..DemoConfig::default()
    };
    config.validate()?;
    let started = Instant::now();
    if !args.json {
        let visits = format!(
            "{} days of {} random + {} BaRT visits; data in {}",
            config.days,
            config.random_pages_per_day,
            config.bart_pages_per_day,
            config.data_dir.display()
        );
        match &data {
            None => println!(
                "bart demo: {} listeners in {} regions, {} items by {} artists in {} genres; {visits}",
                config.world.listeners,
                config.world.regions,
                config.world.items,
                config.world.artists,
                config.world.genres,
            ),
            Some(data) => println!(
                "bart demo on the listening data in {} ({}): {} listeners placed in {} regions, {} artists (one card each) in up to {} genres (their most applied tags); the recommender learns from {:.0}% of each listener's artists, the simulated listeners stream by ALS on all of them; {visits}",
                listening.display(),
                data.source,
                data.listeners.len(),
                config.world.regions,
                data.artists.len(),
                config.world.genres,
                100.0 * (1.0 - bart_sim::HOLDOUT),
            ),
        }
    }
    let (world, _, report) = experiment::run(&config, !args.quiet && !args.json)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nOnline stream rate per card, with 95% intervals (pages are the unit):");
    println!(
        "  {:>3}  {:>5}  {:<26}  {:<26}  {:>10}",
        "day", "model", "random", "BaRT", "train loss"
    );
    for d in &report.days {
        println!(
            "  {:>3}  {:>5}  {:<26}  {:<26}  {:>10}",
            d.day,
            format!("v{}", d.model_version),
            interval(&d.random),
            interval(&d.bart),
            if d.train_examples > 0 {
                format!("{:.4}", d.train_log_loss)
            } else {
                "-".into()
            }
        );
    }
    let last = report.last_day();
    let beats = last.bart.disjoint(&last.random) && last.bart.value > last.random.value;
    println!(
        "\nLast day: BaRT (ε = {}, model v{}) {} vs random {}: {}",
        report.epsilon,
        report.model_version,
        interval(&last.bart),
        interval(&last.random),
        if beats {
            format!(
                "BaRT streams {:.2}x as often, intervals do not overlap",
                last.bart.value / last.random.value
            )
        } else {
            "no significant difference".to_string()
        }
    );
    let off = &report.offline;
    println!(
        "\nOff-policy estimate of BaRT with model v{} from the {} random pages of the last day (logged while it was live, never trained on):",
        report.model_version, report.offline_pages
    );
    for (name, e) in [("IPS", &off.ips), ("SNIPS", &off.snips)] {
        println!(
            "  {:<6} {}  effective sample size {:.0} of {} cards: {}",
            name,
            interval(e),
            e.effective_samples,
            e.samples,
            if last.bart.contains(e.value) {
                "inside the online interval"
            } else {
                "OUTSIDE the online interval"
            }
        );
    }
    println!("  online {}", interval(&last.bart));
    println!("\n{}", render_page(&world.catalog, &report.example));
    println!(
        "Done in {:.1} s. Report: {}; try `bart replay --impression {}`.",
        started.elapsed().as_secs_f64(),
        experiment::DataDir::report(&config.data_dir).display(),
        report.example.id
    );
    Ok(ExitCode::SUCCESS)
}
