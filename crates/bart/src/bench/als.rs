//! `bart bench als`: ALS against the popularity baseline on Last.fm-2k with a seeded
//! per-listener hold-out (recall@k and nDCG@k, training artists excluded from each ranking),
//! the fit time, and how often the similar artists share a top tag with the query.

use crate::embed::AlsArgs;
use anyhow::Result;
use bart_models::als::{self, Factors};
use bart_models::knn::{IndexKind, VectorIndex};
use bart_models::metrics::{Ranking, TagAgreement, evaluate, tag_agreement};
use bart_models::{lastfm, split};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct BenchAlsArgs {
    /// A HetRec 2011 Last.fm directory.
    #[arg(long, default_value = "../shared/data/lastfm-2k")]
    lastfm: PathBuf,
    /// Share of each listener's artists held out.
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
    /// Seed of the hold-out split.
    #[arg(long, default_value_t = 42)]
    split_seed: u64,
    /// Cut-off of the ranking metrics and number of similar artists.
    #[arg(short, default_value_t = 10)]
    k: usize,
    #[command(flatten)]
    als: AlsArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    listeners: usize,
    artists: usize,
    pairs: usize,
    held_out_pairs: usize,
    threads: usize,
    popularity: Ranking,
    als: Ranking,
    /// ALS fit on the training split, seconds.
    fit_train_s: f64,
    /// ALS fit on every play (what `bart embed` fits), seconds.
    fit_all_s: f64,
    /// Similar artists (fitted on every play) sharing a top-5 tag with the query, over artists
    /// with at least 20 listeners.
    similar: TagAgreement,
}

pub fn run(args: BenchAlsArgs) -> Result<ExitCode> {
    let data = lastfm::import(&args.lastfm)?.data;
    let config = args.als.config();
    let split = split::holdout(&data.plays, args.holdout, args.split_seed)?;

    // Popularity: how many training listeners each artist has, the same for everyone.
    let mut listeners = vec![0.0; data.artists.len()];
    for u in 0..split.train.rows() {
        for &a in split.train.row(u).0 {
            listeners[a as usize] += 1.0;
        }
    }
    let popularity = evaluate(&split, args.k, |_, s| s.copy_from_slice(&listeners));

    let (factors, fit_train_s) = timed(|| als::fit(&split.train, &config, |_, _| {}))?;
    let als = evaluate(&split, args.k, |u, s| {
        for (i, v) in s.iter_mut().enumerate() {
            *v = factors.score(u, i);
        }
    });

    let (all, fit_all_s) = timed(|| als::fit(&data.plays, &config, |_, _| {}))?;
    let index = VectorIndex::build(&all.item_vectors(), all.rank, IndexKind::Exact, |_| {})?;
    let similar = tag_agreement(&data, &index, args.k, 20, 5);

    let report = Report {
        listeners: data.listeners.len(),
        artists: data.artists.len(),
        pairs: data.plays.nnz(),
        held_out_pairs: split.test.iter().map(Vec::len).sum(),
        threads: rayon::current_num_threads(),
        popularity,
        als,
        fit_train_s,
        fit_all_s,
        similar,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let r = &report;
    println!(
        "Last.fm: {} listeners x {} artists, {} pairs; {} held out ({:.0}% of each listener's artists, seed {})",
        r.listeners,
        r.artists,
        r.pairs,
        r.held_out_pairs,
        args.holdout * 100.0,
        args.split_seed
    );
    println!("ALS: {config:?}");
    let k = args.k;
    println!(
        "{:<12} {:>10} {:>10}",
        "",
        format!("recall@{k}"),
        format!("nDCG@{k}")
    );
    for (name, m) in [("popularity", &r.popularity), ("ALS", &r.als)] {
        println!("{name:<12} {:>10.4} {:>10.4}", m.recall, m.ndcg);
    }
    println!(
        "{:<12} {:>9.2}x {:>9.2}x   (over {} listeners)",
        "ALS / pop.",
        r.als.recall / r.popularity.recall,
        r.als.ndcg / r.popularity.ndcg,
        r.als.listeners
    );
    println!(
        "fit: {:.3} s on the training split, {:.3} s on every play ({} threads)",
        r.fit_train_s, r.fit_all_s, r.threads
    );
    println!(
        "similar artists sharing a top-5 tag with the query: {:.3} of the top {k} over {} artists with >= 20 listeners",
        r.similar.share, r.similar.queries
    );
    Ok(ExitCode::SUCCESS)
}

fn timed(f: impl FnOnce() -> bart_models::Result<Factors>) -> Result<(Factors, f64)> {
    let started = Instant::now();
    let factors = f()?;
    Ok((factors, started.elapsed().as_secs_f64()))
}
