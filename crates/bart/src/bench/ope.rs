//! `bart bench ope`: the Open Bandit Pipeline's unit of work on one OBD file (10,000 rows):
//! IPS, SNIPS, DM and DR of a target policy, each with a 1,000-resample percentile bootstrap
//! interval. The timed part starts from the parsed logs, the target distribution and the
//! reward model's predictions (the inputs obp's estimators take) and covers the per-row
//! target probabilities and DM terms, the point estimates and the bootstrap. Reading the
//! files and fitting the cross-fitted reward model are timed once, separately.

use crate::obd::{ModelArgs, ObdFiles, label, print_table};
use anyhow::Result;
use bart_ope::obd::{Predictions, cards};
use bart_ope::{Estimator, Tuning, evaluate_cards};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// obp 0.5.7 on a 2-core machine, for the same unit of work (seconds).
const OBP_SECONDS: f64 = 1.07;

#[derive(Args)]
pub struct BenchOpeArgs {
    /// Logged rows (OBD CSV).
    #[arg(long, default_value = "../shared/data/obd/random/all/all.csv")]
    logs: PathBuf,
    /// Item features (OBD item_context.csv).
    #[arg(long, default_value = "../shared/data/obd/random/all/item_context.csv")]
    item_context: PathBuf,
    /// Target policy π_e(item | position).
    #[arg(long, default_value = "../shared/data/obd/bts_action_dist_all.csv")]
    target_dist: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Timed repetitions; the report gives the median.
    #[arg(long, default_value_t = 21)]
    repeat: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    rows: usize,
    resamples: usize,
    threads: usize,
    read_ms: f64,
    reward_model_ms: f64,
    /// Milliseconds per unit of work, each repetition.
    runs_ms: Vec<f64>,
    p50_ms: f64,
    min_ms: f64,
    obp_ms: f64,
    speedup_vs_obp: f64,
}

const ESTIMATORS: [Estimator; 4] = [
    Estimator::Ips,
    Estimator::Snips,
    Estimator::Dm,
    Estimator::Dr,
];

pub fn run(args: BenchOpeArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.repeat > 0, "--repeat must be at least 1");
    let files = ObdFiles {
        logs: args.logs.clone(),
        item_context: args.item_context.clone(),
        target_dist: Some(args.target_dist.clone()),
        target: None,
    };
    let start = Instant::now();
    let loaded = files.load()?;
    let read_ms = ms(start);
    let start = Instant::now();
    let predictions = Predictions::fit(&loaded.logs, &loaded.context, &args.model.reward_model())?;
    let reward_model_ms = ms(start);
    let boot = args.model.bootstrap();
    let unit = || {
        let cards = cards(&loaded.logs, &loaded.target, Some(&predictions));
        evaluate_cards(&cards, &ESTIMATORS, Tuning::default(), Some(&boot))
    };
    let report = unit()?; // warm-up
    let mut runs_ms = Vec::with_capacity(args.repeat);
    for _ in 0..args.repeat {
        let start = Instant::now();
        let again = unit()?;
        runs_ms.push(ms(start));
        anyhow::ensure!(again == report, "the estimates changed between runs");
    }
    let mut sorted = runs_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let p50_ms = sorted[sorted.len() / 2];
    let out = Report {
        rows: loaded.logs.rows.len(),
        resamples: boot.resamples,
        threads: rayon::current_num_threads(),
        read_ms,
        reward_model_ms,
        p50_ms,
        min_ms: sorted[0],
        obp_ms: OBP_SECONDS * 1e3,
        speedup_vs_obp: OBP_SECONDS * 1e3 / p50_ms,
        runs_ms,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = ESTIMATORS
        .iter()
        .map(|&e| label(e, &Tuning::default()))
        .collect();
    println!(
        "{} and {} on {} ({} rows), target {}, {} bootstrap resamples, {} threads:",
        names[..3].join(", "),
        names[3],
        args.logs.display(),
        out.rows,
        args.target_dist.display(),
        out.resamples,
        out.threads
    );
    println!(
        "  estimates with intervals: p50 {:.2} ms, min {:.2} ms over {} runs ({:.0}x faster \
         than obp 0.5.7's {:.0} ms)",
        out.p50_ms, out.min_ms, args.repeat, out.speedup_vs_obp, out.obp_ms
    );
    println!(
        "  not timed above: reading the files {:.1} ms, fitting the cross-fitted reward model \
         {:.1} ms",
        out.read_ms, out.reward_model_ms
    );
    print_table(&report);
    Ok(ExitCode::SUCCESS)
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
