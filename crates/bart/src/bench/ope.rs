//! `bart bench ope`: the Open Bandit Pipeline's unit of work on one OBD file (10,000 rows):
//! IPS, SNIPS, DM and DR of a target policy, each with a 1,000-resample percentile bootstrap
//! interval. The timed part starts from the parsed logs, the target distribution and the
//! reward model's predictions (the inputs obp's estimators take) and covers the per-row
//! target probabilities and DM terms, the point estimates and the bootstrap. Reading the
//! files and fitting the cross-fitted reward model are timed once, separately.
//!
//! With `--stream`: IPS, SNIPS and DR with normal intervals over a file of logged card
//! events (10 million by default, written first if missing), folded from disk in bounded
//! memory ([`bart_ope::stream`]), with the events per second and the peak resident memory.

use crate::obd::{ModelArgs, ObdFiles, label, print_table};
use anyhow::{Context as _, Result};
use bart_ope::diagnostics::thousands;
use bart_ope::obd::{Predictions, cards};
use bart_ope::{Card, Estimator, Sample, Tuning, evaluate_cards};
use clap::Args;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
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
    #[command(flatten)]
    stream: StreamArgs,
}

/// The streaming benchmark.
#[derive(Args)]
struct StreamArgs {
    /// Time the streaming pass over a file of card events instead of the OBD unit of work.
    #[arg(long)]
    stream: bool,
    /// Card events in the file (pages of 10 cards).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Where the event file is kept (written once, reused).
    #[arg(long, default_value = "/tmp/bart-bench-ope")]
    dir: PathBuf,
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
    if args.stream.stream {
        return stream(&args.stream, args.json);
    }
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

#[derive(Serialize)]
struct StreamReport {
    file: PathBuf,
    events: u64,
    bytes: u64,
    threads: usize,
    write_seconds: Option<f64>,
    seconds: f64,
    events_per_second: f64,
    /// Peak resident memory of the process (VmHWM), in MiB.
    peak_rss_mib: Option<f64>,
    estimates: Vec<(&'static str, bart_ope::Estimate)>,
}

fn stream(args: &StreamArgs, json: bool) -> Result<ExitCode> {
    use bart_ope::stream::{EventWriter, fold_file};
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let file = args.dir.join(format!("card_events_{}.bin", args.events));
    let bytes = 16 + args.events * bart_ope::stream::RECORD_BYTES as u64;
    let present = std::fs::metadata(&file).is_ok_and(|m| m.len() == bytes);
    let write_seconds = if present {
        None
    } else {
        let start = Instant::now();
        let mut w = EventWriter::create(&file)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
        for i in 0..args.events {
            // Pages of 10 cards; a logging policy spreading 0.05-0.2 over the slots and a
            // target that favours some of them; rewards at about 15%.
            let logging: f64 = [0.05, 0.1, 0.2][(i % 3) as usize];
            let target = (logging * rng.random_range(0.0..3.0)).min(1.0);
            let predicted = 0.1 + 0.1 * rng.random::<f64>();
            let card = Card {
                sample: Sample {
                    target,
                    logging,
                    reward: f64::from(u8::from(rng.random::<f64>() < predicted)),
                },
                predicted,
                direct: 0.15,
            };
            w.write(i / 10, &card)?;
        }
        w.finish()?;
        Some(start.elapsed().as_secs_f64())
    };
    let start = Instant::now();
    let sums = fold_file(&file, Tuning::default())?;
    let estimates = [
        ("IPS", Estimator::Ips),
        ("SNIPS", Estimator::Snips),
        ("DR", Estimator::Dr),
    ]
    .iter()
    .map(|&(name, e)| Ok((name, sums.estimate(e)?)))
    .collect::<Result<Vec<_>>>()?;
    let seconds = start.elapsed().as_secs_f64();
    let out = StreamReport {
        file,
        events: args.events,
        bytes,
        threads: rayon::current_num_threads(),
        write_seconds,
        seconds,
        events_per_second: args.events as f64 / seconds,
        peak_rss_mib: peak_rss_mib(),
        estimates,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(s) = out.write_seconds {
        println!(
            "Wrote {} ({:.0} MB) in {s:.1} s.",
            out.file.display(),
            bytes as f64 / 1e6
        );
    }
    println!(
        "{} card events streamed from {} on {} threads: {:.2} s, {:.1} M events/s, peak RSS {}.",
        thousands(out.events as f64),
        out.file.display(),
        out.threads,
        out.seconds,
        out.events_per_second / 1e6,
        out.peak_rss_mib
            .map_or("unknown".into(), |m| format!("{m:.1} MiB"))
    );
    for (name, e) in &out.estimates {
        println!(
            "  {name:<6} {:.6} [{:.6}, {:.6}]  ({} pages)",
            e.value,
            e.lo,
            e.hi,
            thousands(e.clusters as f64)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// VmHWM from /proc/self/status, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
