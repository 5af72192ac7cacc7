//! `bart bench ann`: HNSW against exact search on vectors from a seeded Gaussian mixture:
//! recall@k, query throughput of both, build time and memory.

use anyhow::Result;
use bart_models::knn::{HnswParams, IndexKind, Neighbour, VectorIndex, gaussian_mixture, recall};
use bart_sim::experiment::bar;
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct BenchAnnArgs {
    /// Indexed vectors.
    #[arg(long, default_value_t = 1_000_000)]
    vectors: usize,
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Gaussian clusters of the mixture (centres standard normal).
    #[arg(long, default_value_t = 1_000)]
    clusters: usize,
    /// Standard deviation of each cluster around its centre.
    #[arg(long, default_value_t = 0.5)]
    spread: f32,
    /// Query vectors, drawn from the same mixture.
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// HNSW links per node (M).
    #[arg(long, default_value_t = HnswParams::default().connections)]
    connections: usize,
    #[arg(long, default_value_t = HnswParams::default().ef_construction)]
    ef_construction: usize,
    /// efSearch values to measure, all on the one graph (384 is the default of `bart similar`).
    #[arg(long, value_delimiter = ',', default_values_t = [128, 256, 384, 512])]
    ef_search: Vec<usize>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Serialize)]
struct Report {
    vectors: usize,
    dim: usize,
    /// The graph's parameters (each search below sets its own efSearch).
    params: HnswParams,
    threads: usize,
    build_s: f64,
    /// Growth of the resident set while building (the unit-normalised copy and the graph).
    build_rss_mb: f64,
    /// The vectors alone, for scale.
    vectors_mb: f64,
    exact_queries_per_s: f64,
    searches: Vec<Search>,
}

/// HNSW queries at one efSearch.
#[derive(Serialize)]
struct Search {
    ef_search: usize,
    recall: f64,
    queries_per_s: f64,
    /// Queries per second over exact search's.
    speedup: f64,
}

pub fn run(args: BenchAnnArgs) -> Result<ExitCode> {
    let n = args.vectors;
    let all = gaussian_mixture(
        n + args.queries,
        args.dim,
        args.clusters,
        args.spread,
        args.seed,
    );
    let (base, queries) = all.split_at(n * args.dim);
    let queries: Vec<&[f32]> = queries.chunks(args.dim).collect();
    let params = HnswParams {
        connections: args.connections,
        ef_construction: args.ef_construction,
        ef_search: HnswParams::default().ef_search,
    };

    let pb = bar(n as u64, "HNSW inserts", !args.quiet);
    let rss_before = resident_mb();
    let started = Instant::now();
    let mut index = VectorIndex::build(base, args.dim, IndexKind::Hnsw(params), |done| {
        pb.set_position(done as u64)
    })?;
    let build_s = started.elapsed().as_secs_f64();
    let build_rss_mb = resident_mb() - rss_before;
    pb.finish_and_clear();

    let (exact, exact_s) = search(&queries, |q| index.nearest_exact(q, args.k));
    let exact_queries_per_s = queries.len() as f64 / exact_s;
    let mut searches = Vec::new();
    for &ef in &args.ef_search {
        index.set_ef_search(ef);
        let (approx, s) = search(&queries, |q| index.nearest(q, args.k));
        let queries_per_s = queries.len() as f64 / s;
        searches.push(Search {
            ef_search: ef,
            recall: recall(&approx, &exact),
            queries_per_s,
            speedup: queries_per_s / exact_queries_per_s,
        });
    }
    let report = Report {
        vectors: n,
        dim: args.dim,
        params,
        threads: rayon::current_num_threads(),
        build_s,
        build_rss_mb,
        vectors_mb: (n * args.dim * 4) as f64 / 1e6,
        exact_queries_per_s,
        searches,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let r = &report;
    println!(
        "{} vectors x {} dims from {} Gaussian clusters (spread {}, seed {}); {} queries, k = {}",
        r.vectors,
        r.dim,
        args.clusters,
        args.spread,
        args.seed,
        queries.len(),
        args.k
    );
    println!(
        "HNSW M = {}, ef_construction = {}; {} threads",
        params.connections, params.ef_construction, r.threads
    );
    println!(
        "build: {:.1} s, resident memory +{:.0} MB (the vectors alone: {:.0} MB)",
        r.build_s, r.build_rss_mb, r.vectors_mb
    );
    println!("exact search: {:.1} queries/s", r.exact_queries_per_s);
    println!(
        "{:>10} {:>10} {:>10} {:>10}",
        "ef_search",
        format!("recall@{}", args.k),
        "queries/s",
        "x exact"
    );
    for s in &r.searches {
        println!(
            "{:>10} {:>10.4} {:>10.0} {:>9.1}x",
            s.ef_search, s.recall, s.queries_per_s, s.speedup
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs every query (in parallel) and returns the results and the wall time in seconds.
fn search(
    queries: &[&[f32]],
    f: impl Fn(&[f32]) -> Vec<Neighbour> + Sync,
) -> (Vec<Vec<Neighbour>>, f64) {
    let started = Instant::now();
    let found = queries.par_iter().map(|q| f(q)).collect();
    (found, started.elapsed().as_secs_f64())
}

/// The process's resident set size in MB (Linux; 0 elsewhere).
fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
