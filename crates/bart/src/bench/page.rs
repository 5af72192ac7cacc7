//! `bart bench page`: the latency of one home page on one thread, from context to a page with
//! exact propensities: candidate shelves, reward-model scores for every (item, explanation)
//! pair, then the policy's draws and the slot marginals.
//!
//! The shape is the one BaRT serves at scale: 10 shelves x 10 cards chosen from about 30
//! candidate shelves of up to 100 items (about 3,000 pairs), scored by a factorization
//! machine of rank 32 trained on simulated logs.

use anyhow::Result;
use bart_bandit::{
    CandidateConfig, CardExamples, EpsilonGreedy, LoggedCard, ModelConfig, PageConfig, Policy,
    RewardModel, Slot, TrainConfig, Weighting, fit, shelf_model,
};
use bart_core::{ImpressionId, ListenerId};
use bart_sim::experiment::build_recommender;
use bart_sim::{Listening, World, WorldConfig};
use clap::Args;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct BenchPageArgs {
    /// Pages to time (each for another listener and time).
    #[arg(long, default_value_t = 2_000)]
    pages: usize,
    /// Embedding rank of the FM2 reward model.
    #[arg(long, default_value_t = 32)]
    rank: usize,
    /// Shelves per page.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    /// Cards per shelf.
    #[arg(long, default_value_t = 10)]
    cards: usize,
    /// Items per candidate shelf.
    #[arg(long, default_value_t = 120)]
    items_per_shelf: usize,
    /// Times each page this many times and keeps its fastest run of each stage: on a shared
    /// machine this filters out the interference of other processes (1 = a single pass).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Seed of the world and of the listeners' visits.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Quantiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Quantiles {
    /// Microseconds.
    fn of(mut xs: Vec<f64>) -> Self {
        xs.sort_by(f64::total_cmp);
        let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
        Quantiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: xs[xs.len() - 1],
            mean: xs.iter().sum::<f64>() / xs.len() as f64,
        }
    }
}

#[derive(Serialize)]
struct Report {
    pages: usize,
    /// Milliseconds to make the model's row of every catalog item before the first page.
    prepare_ms: f64,
    mean_candidate_shelves: f64,
    mean_candidate_pairs: f64,
    mean_cards: f64,
    /// Microseconds per page.
    total: Quantiles,
    candidates: Quantiles,
    scoring: Quantiles,
    assembly: Quantiles,
}

pub fn run(args: BenchPageArgs) -> Result<ExitCode> {
    let world = World::generate(&WorldConfig {
        seed: args.seed,
        ..WorldConfig::default()
    })?;
    let candidates = CandidateConfig {
        items_per_shelf: args.items_per_shelf,
        recent_artists: 20,
        top_genres: 20,
        discover_genres: 30,
        ..CandidateConfig::default()
    };
    let page = PageConfig {
        rows: args.rows,
        cards_per_shelf: args.cards,
        min_cards: 3,
        ..PageConfig::default()
    };
    let rec = build_recommender(&world, candidates, page.clone())?;
    let listening = Listening::new(&world);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let n = world.listeners.len() as u32;
    let contexts: Vec<_> = (0..args.pages + 300)
        .map(|_| {
            let listener = ListenerId(rng.random_range(0..n));
            let ts = world.config.start + rng.random_range(0..7 * bart_sim::world::DAY);
            listening.context(&world, listener, ts, &mut rng)
        })
        .collect();
    let (train, timed) = contexts.split_at(300);

    // A rank-32 FM2 trained on every candidate pair of 300 visits, labelled with the
    // simulator's stream probability at a random slot.
    let mut cards = Vec::new();
    for ctx in train {
        for shelf in &rec.candidates(ctx) {
            for &item in &shelf.items {
                let slot = Slot {
                    row: rng.random_range(0..args.rows as u16),
                    column: rng.random_range(0..args.cards as u16),
                };
                let p = world.stream_probability(
                    ctx,
                    item,
                    &shelf.explanation,
                    slot.row,
                    slot.column,
                    0,
                );
                cards.push(LoggedCard {
                    context: ctx,
                    explanation: shelf.explanation,
                    item,
                    slot,
                    propensity: 1.0,
                    reward: p,
                    explore: true,
                });
            }
        }
    }
    let mut model = RewardModel::new(ModelConfig {
        rank: args.rank,
        ..ModelConfig::default()
    })?;
    let examples = CardExamples {
        recommender: &rec,
        cards: &cards,
        batch_size: 65_536,
    };
    let config = TrainConfig {
        weighting: Weighting::None,
        ..TrainConfig::default()
    };
    fit(&mut model, &examples, &config, |_, _| {})?;
    // As a server loading the model: every item's row made before the first page.
    let t = Instant::now();
    rec.prepare(&model);
    let prepare_ms = t.elapsed().as_secs_f64() * 1e3;

    // Shelves ordered by a shelf model r' (untrained: its cost is a trained one's).
    let shelf_model = RewardModel::new(shelf_model::config(args.seed))?;
    let policy = Policy::from(EpsilonGreedy::new(0.1)?);
    let (mut total, mut cand, mut scoring, mut assembly) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut shelves, mut pairs, mut shown) = (0usize, 0usize, 0usize);
    let micros = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e6;
    for (k, ctx) in timed.iter().enumerate() {
        // Per stage, the fastest of the repeats.
        let mut best = [f64::INFINITY; 4];
        for _ in 0..args.repeat {
            let t0 = Instant::now();
            let c = rec.candidates(ctx);
            let t1 = Instant::now();
            let scored = rec.score(ctx, c, Some(&model));
            let t2 = Instant::now();
            let page = rec
                .plan(ctx, &scored, policy, Some(&shelf_model))?
                .assemble(ImpressionId(k as u64));
            let t3 = Instant::now();
            let times = [
                micros(t0, t3),
                micros(t0, t1),
                micros(t1, t2),
                micros(t2, t3),
            ];
            for (b, t) in best.iter_mut().zip(times) {
                *b = b.min(t);
            }
            shelves += scored.len();
            pairs += scored.iter().map(|s| s.items.len()).sum::<usize>();
            shown += std::hint::black_box(page).card_count();
        }
        total.push(best[0]);
        cand.push(best[1]);
        scoring.push(best[2]);
        assembly.push(best[3]);
    }
    let m = (timed.len() * args.repeat as usize) as f64;
    let report = Report {
        pages: timed.len(),
        prepare_ms,
        mean_candidate_shelves: shelves as f64 / m,
        mean_candidate_pairs: pairs as f64 / m,
        mean_cards: shown as f64 / m,
        total: Quantiles::of(total),
        candidates: Quantiles::of(cand),
        scoring: Quantiles::of(scoring),
        assembly: Quantiles::of(assembly),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "bart bench page: {} pages of {} x {} on one thread; {:.1} candidate shelves, {:.0} (item, explanation) pairs and {:.1} cards per page; FM2 rank {}",
        report.pages,
        args.rows,
        args.cards,
        report.mean_candidate_shelves,
        report.mean_candidate_pairs,
        report.mean_cards,
        args.rank
    );
    println!(
        "  the model's {} item rows made when it is loaded, in {:.1} ms",
        rec.catalog().items.len(),
        report.prepare_ms
    );
    println!("  microseconds      p50      p90      p99      max     mean");
    for (name, q) in [
        ("whole page", &report.total),
        ("candidates", &report.candidates),
        ("scoring", &report.scoring),
        ("draws + marginals", &report.assembly),
    ] {
        println!(
            "  {name:<17} {:>7.0}  {:>7.0}  {:>7.0}  {:>7.0}  {:>7.0}",
            q.p50, q.p90, q.p99, q.max, q.mean
        );
    }
    Ok(ExitCode::SUCCESS)
}
