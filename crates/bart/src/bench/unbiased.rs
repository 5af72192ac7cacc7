//! `bart bench unbiased`: the estimators' bias, spread and RMSE over many seeded sets of
//! uniform logs against the simulator's exact value of a fixed target
//! ([`bart_sim::unbiased`]).

use anyhow::Result;
use bart_sim::unbiased::{StudyConfig, render, run as study};
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct BenchUnbiasedArgs {
    /// Independent seeded log sets (checked as a whole and in batches of 200).
    #[arg(long, default_value_t = 10_000)]
    sets: usize,
    /// Contexts per log set.
    #[arg(long, default_value_t = 40)]
    contexts: usize,
    /// Pages per context per log set.
    #[arg(long, default_value_t = 50)]
    pages: usize,
    /// ε of the target (greedy on the candidates' prior order).
    #[arg(long, default_value_t = 0.2)]
    epsilon: f64,
    /// Seed of the contexts and of the log sets.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchUnbiasedArgs) -> Result<ExitCode> {
    let config = StudyConfig {
        contexts: args.contexts,
        pages_per_context: args.pages,
        log_sets: args.sets,
        target_epsilon: args.epsilon,
        seed: args.seed,
        ..StudyConfig::default()
    };
    let start = Instant::now();
    let report = study(&config)?;
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
        println!(
            "\n{seconds:.1} s on {} threads.",
            rayon::current_num_threads()
        );
    }
    Ok(ExitCode::SUCCESS)
}
