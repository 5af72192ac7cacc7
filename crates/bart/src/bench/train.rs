//! `bart bench train` writes a logged contextual-bandit data set as Vowpal Wabbit `cb_adf`
//! text (1,000,000 examples x 10 actions by default: shared features country (10 values),
//! hour (6) and device (3); action features action id and genre (5); uniform logging,
//! p = 0.1; binary reward from a hidden logistic click model with country x genre and
//! hour x genre effects), then times reading, parsing and training from that file and scores
//! the learned greedy policy against the hidden click model, exactly, over all 180 contexts.

use crate::train::{ModelArgs, train_vw};
use anyhow::{Context as _, Result};
use bart_bandit::{Features, Namespace, RewardModel};
use clap::Args;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct BenchTrainArgs {
    /// Logged examples to generate.
    #[arg(long, default_value_t = 1_000_000)]
    examples: usize,
    /// Seed of the hidden click model and of the logs.
    #[arg(long, default_value_t = 7)]
    data_seed: u64,
    /// Directory for the generated files (kept, so other tools can learn the same data).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Timed runs; the report gives each and the median.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    #[command(flatten)]
    model: ModelArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Version of the generator, in the file name: a changed generator never reuses old files.
const GENERATOR: u32 = 1;
const COUNTRIES: usize = 10;
const HOURS: usize = 6;
const DEVICES: usize = 3;
const ACTIONS: usize = 10;
const GENRES: usize = 5;

/// The hidden click model: P(click | country, hour, device, action).
#[derive(Clone, Debug)]
struct ClickModel {
    base: f64,
    action: Vec<f64>,
    device: Vec<f64>,
    country_genre: Vec<Vec<f64>>,
    hour_genre: Vec<Vec<f64>>,
}

fn genre(action: usize) -> usize {
    action % GENRES
}

impl ClickModel {
    fn new(rng: &mut Xoshiro256PlusPlus) -> Self {
        let mut normal = |sd: f64| {
            // Sum of 12 uniforms: mean 6, variance 1.
            let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
            sd * z
        };
        ClickModel {
            base: -2.8,
            action: (0..ACTIONS).map(|_| normal(0.3)).collect(),
            device: (0..DEVICES).map(|_| normal(0.3)).collect(),
            country_genre: (0..COUNTRIES)
                .map(|_| (0..GENRES).map(|_| normal(0.8)).collect())
                .collect(),
            hour_genre: (0..HOURS)
                .map(|_| (0..GENRES).map(|_| normal(0.8)).collect())
                .collect(),
        }
    }

    fn p(&self, (c, h, d): Ctx, a: usize) -> f64 {
        let z = self.base
            + self.action[a]
            + self.device[d]
            + self.country_genre[c][genre(a)]
            + self.hour_genre[h][genre(a)];
        1.0 / (1.0 + (-z).exp())
    }
}

type Ctx = (usize, usize, usize);

fn contexts() -> impl Iterator<Item = Ctx> {
    (0..COUNTRIES).flat_map(|c| (0..HOURS).flat_map(move |h| (0..DEVICES).map(move |d| (c, h, d))))
}

fn shared_line(out: &mut impl Write, (c, h, d): Ctx) -> std::io::Result<()> {
    writeln!(out, "shared |U country={c} hour={h} device={d}")
}

fn action_line(out: &mut impl Write, a: usize, label: Option<bool>) -> std::io::Result<()> {
    if let Some(click) = label {
        write!(out, "0:{}:0.1 ", if click { -1 } else { 0 })?;
    }
    writeln!(out, "|A action={a} genre={}", genre(a))
}

/// Writes the logged data set; returns the hidden click model.
fn generate(path: &Path, n: usize, seed: u64, truth: &ClickModel) -> Result<()> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x10_9ED);
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    for _ in 0..n {
        let ctx = (
            rng.random_range(0..COUNTRIES),
            rng.random_range(0..HOURS),
            rng.random_range(0..DEVICES),
        );
        let chosen = rng.random_range(0..ACTIONS);
        let click = rng.random::<f64>() < truth.p(ctx, chosen);
        shared_line(&mut out, ctx)?;
        for a in 0..ACTIONS {
            action_line(&mut out, a, (a == chosen).then_some(click))?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

/// Writes every context once, unlabelled, for other tools to predict on.
fn write_contexts(path: &Path) -> Result<()> {
    let mut out = Vec::new();
    for ctx in contexts() {
        shared_line(&mut out, ctx)?;
        for a in 0..ACTIONS {
            action_line(&mut out, a, None)?;
        }
        writeln!(out)?;
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// True click rates of the optimal policy, the uniform one, and `greedy` (an action per
/// context, in `contexts()` order); contexts are equally likely.
fn rates(truth: &ClickModel, greedy: &[usize]) -> (f64, f64, f64) {
    let n = (COUNTRIES * HOURS * DEVICES) as f64;
    let (mut best, mut uniform, mut learned) = (0.0, 0.0, 0.0);
    for (ctx, &g) in contexts().zip(greedy) {
        let p: Vec<f64> = (0..ACTIONS).map(|a| truth.p(ctx, a)).collect();
        best += p.iter().cloned().fold(0.0, f64::max) / n;
        uniform += p.iter().sum::<f64>() / ACTIONS as f64 / n;
        learned += p[g] / n;
    }
    (best, uniform, learned)
}

/// The model's greedy action in every context, from the same features the text gives.
fn greedy_actions(model: &RewardModel) -> Vec<usize> {
    let (u, a_ns) = (Namespace::new(b"U"), Namespace::new(b"A"));
    let mut f = Features::default();
    contexts()
        .map(|(c, h, d)| {
            f.clear();
            f.namespace(&u);
            f.add(&u, "country", c);
            f.add(&u, "hour", h);
            f.add(&u, "device", d);
            let mark = f.mark();
            let scores: Vec<f64> = (0..ACTIONS)
                .map(|a| {
                    f.truncate(mark);
                    f.namespace(&a_ns);
                    f.add(&a_ns, "action", a);
                    f.add(&a_ns, "genre", genre(a));
                    model.predict(&f.example())
                })
                .collect();
            bart_bandit::greedy(&scores)
        })
        .collect()
}

#[derive(Serialize)]
struct Run {
    seconds: f64,
    read_seconds: f64,
    examples_per_second: f64,
    log_loss: f64,
    click_rate: f64,
}

#[derive(Serialize)]
struct Report {
    file: PathBuf,
    examples: usize,
    model: bart_bandit::ModelConfig,
    runs: Vec<Run>,
    median_examples_per_second: f64,
    optimal_click_rate: f64,
    uniform_click_rate: f64,
}

pub fn run(args: BenchTrainArgs) -> Result<ExitCode> {
    let model_config = args.model.model_config()?;
    let train_config = args.model.train_config()?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.data_seed);
    let truth = ClickModel::new(&mut rng);
    let file = args.dir.join(format!(
        "cb_adf_g{GENERATOR}_{}_{}.txt",
        args.examples, args.data_seed
    ));
    if !file.exists() {
        if !args.quiet {
            eprintln!("writing {} ...", file.display());
        }
        let tmp = file.with_extension("partial");
        generate(&tmp, args.examples, args.data_seed, &truth)?;
        std::fs::rename(&tmp, &file)?;
    }
    write_contexts(&args.dir.join("contexts.txt"))?;
    let truth_path = args.dir.join(format!("truth_{}.json", args.data_seed));
    let all: Vec<Vec<f64>> = contexts()
        .map(|ctx| (0..ACTIONS).map(|a| truth.p(ctx, a)).collect())
        .collect();
    std::fs::write(&truth_path, serde_json::to_string(&all)?)?;

    let mut runs = Vec::new();
    let mut optimal = (0.0, 0.0);
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let mut model = RewardModel::new(model_config.clone())?;
        let (stats, read_seconds) =
            train_vw(&file, &mut model, &args.model, &train_config, args.quiet)?;
        let n = stats.examples;
        let seconds = start.elapsed().as_secs_f64();
        let (best, uniform, learned) = rates(&truth, &greedy_actions(&model));
        optimal = (best, uniform);
        runs.push(Run {
            seconds,
            read_seconds,
            examples_per_second: n as f64 / seconds,
            log_loss: stats.log_loss,
            click_rate: learned,
        });
    }
    let mut eps: Vec<f64> = runs.iter().map(|r| r.examples_per_second).collect();
    eps.sort_by(f64::total_cmp);
    let report = Report {
        file,
        examples: args.examples,
        model: model_config,
        median_examples_per_second: eps[eps.len() / 2],
        runs,
        optimal_click_rate: optimal.0,
        uniform_click_rate: optimal.1,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "bart bench train: {} examples x {ACTIONS} actions from {}; model {}",
        report.examples,
        report.file.display(),
        report.model,
    );
    for (k, r) in report.runs.iter().enumerate() {
        println!(
            "  run {}: {:.2} s ({:.2} s reading the file), {:.0} examples/s, progressive log-loss {:.4}, greedy click rate {:.4}",
            k + 1,
            r.seconds,
            r.read_seconds,
            r.examples_per_second,
            r.log_loss,
            r.click_rate
        );
    }
    println!(
        "median {:.0} examples/s; click rates: optimal {:.4}, uniform {:.4} (truth per context in {})",
        report.median_examples_per_second,
        report.optimal_click_rate,
        report.uniform_click_rate,
        truth_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
