//! `bart simulate`: serving arms compared online on one synthetic world. Uniformly random
//! pages are logged, every model arm is trained on those same pages, then fresh visits are
//! shared equally by the arms and each arm's stream rate is measured with a 95% interval.

use crate::interval;
use anyhow::Result;
use bart_bandit::{ModelConfig, TrainConfig};
use bart_sim::compare::{self, Arm, ArmReport, CompareConfig};
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct SimulateArgs {
    /// Days of uniformly random pages logged to train the models on.
    #[arg(long, default_value_t = 3)]
    train_days: u32,
    /// Days of test visits, shared equally by the arms.
    #[arg(long, default_value_t = 1)]
    test_days: u32,
    /// Visits per day, in both phases.
    #[arg(long, default_value_t = 40_000)]
    pages_per_day: usize,
    /// Exploration rate ε of every arm except random.
    #[arg(long, default_value_t = 0.1)]
    epsilon: f64,
    /// The arms, from the one expected to do worst to the one expected to do best: random,
    /// popularity, lr, lr-q (lr with context, item and explanation crosses), fm2,
    /// fm2-shelves (fm2 with a learned shelf model r' ordering the shelves), fm3, oracle (the
    /// simulator's true probabilities).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "random,popularity,lr,fm2"
    )]
    arms: Vec<String>,
    /// Embedding rank of the factorization machines [default: the model's, 16].
    #[arg(long)]
    rank: Option<usize>,
    /// AdaGrad learning rate of every model [default: the model's, 0.1].
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Passes over the logged pages.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[command(flatten)]
    world: crate::WorldArgs,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

fn modal(arm: &ArmReport) -> String {
    arm.modal_kind().map_or("-".into(), |k| {
        format!("{} {:.0}%", k.kind.name(), 100.0 * k.share)
    })
}

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    let defaults = ModelConfig::default();
    let base = ModelConfig {
        rank: args.rank.unwrap_or(defaults.rank),
        learning_rate: args.learning_rate.unwrap_or(defaults.learning_rate),
        ..defaults
    };
    let arms = args
        .arms
        .iter()
        .map(|name| Arm::named(name.trim(), &base))
        .collect::<Result<Vec<_>, _>>()?;
    let config = CompareConfig {
        world: args.world.config(),
        train_days: args.train_days,
        test_days: args.test_days,
        pages_per_day: args.pages_per_day,
        epsilon: args.epsilon,
        arms,
        train: TrainConfig {
            epochs: args.epochs,
            ..TrainConfig::default()
        },
        ..CompareConfig::default()
    };
    config.validate()?;
    let started = Instant::now();
    if !args.json {
        println!(
            "bart simulate: {} listeners, {} items; {} day(s) of {} uniformly random pages to train on, then {} test day(s) of {} visits shared by {} arms (ε = {} except random); seed {}",
            config.world.listeners,
            config.world.items,
            config.train_days,
            config.pages_per_day,
            config.test_days,
            config.pages_per_day,
            config.arms.len(),
            config.epsilon,
            config.world.seed
        );
    }
    let report = compare::run(&config, !args.quiet && !args.json)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "\nTrained on {} cards of {} random pages (their stream rate {}):",
        report.logged_cards,
        report.logged_pages,
        interval(&report.logged_rate)
    );
    for t in &report.training {
        println!(
            "  {:<10} progressive log-loss {:.4} (weighted {:.4}) in {:.1} s",
            t.arm, t.log_loss, t.weighted_log_loss, t.seconds
        );
    }
    println!("\nOnline stream rate per card, with 95% intervals (pages are the unit):");
    println!(
        "  {:<10}  {:<26}  {:>6}  {:>8}  {:<26}  {:>6}",
        "arm", "rate [95% CI]", "pages", "cards", "modal top shelf", "flip"
    );
    for arm in &report.arms {
        println!(
            "  {:<10}  {:<26}  {:>6}  {:>8}  {:<26}  {:>6}",
            arm.name,
            interval(&arm.rate),
            arm.pages,
            arm.cards,
            modal(arm),
            arm.flip
                .map_or("-".into(), |f| format!("{:.1}%", 100.0 * f))
        );
    }
    println!(
        "  (flip: share of sampled test contexts whose greedy top shelf changes explanation kind between mobile at 8 h and desktop at 14 h on a weekday)"
    );
    if report.arms.len() >= 2 {
        let steps: Vec<(bool, String)> = report
            .arms
            .windows(2)
            .rev()
            .map(|w| {
                let (lo, hi) = (&w[0], &w[1]);
                let above = hi.rate.value > lo.rate.value;
                let disjoint = hi.rate.disjoint(&lo.rate);
                let verdict = match (above, disjoint) {
                    (true, true) => "higher, intervals disjoint",
                    (true, false) => "higher, intervals OVERLAP",
                    (false, true) => "LOWER, intervals disjoint",
                    (false, false) => "LOWER, intervals overlap",
                };
                (
                    above && disjoint,
                    format!(
                        "{} vs {}: {:.2}x, {}",
                        hi.name,
                        lo.name,
                        hi.rate.value / lo.rate.value,
                        verdict
                    ),
                )
            })
            .collect();
        let chain: Vec<&str> = report.arms.iter().rev().map(|a| a.name.as_str()).collect();
        let holds = steps.iter().all(|(ok, _)| *ok);
        println!(
            "\n{} with non-overlapping 95% intervals at every step: {}",
            chain.join(" > "),
            if holds { "yes" } else { "NO" }
        );
        for (_, line) in &steps {
            println!("  {line}");
        }
    }
    println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
