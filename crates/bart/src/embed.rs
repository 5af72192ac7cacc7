//! `bart import lastfm`, `bart embed` and `bart similar`: shared models on imported listening
//! data. A data directory holds `listening.bin` (written by `import`) and `embeddings.bin`
//! (written by `embed`); both are versioned and checksummed (`bart_models::store`).

use anyhow::Result;
use bart_models::als::{AlsConfig, Confidence, Factors};
use bart_models::embeddings::{ClusterConfig, Embeddings};
use bart_models::knn::{IndexKind, VectorIndex};
use bart_models::lastfm;
use bart_models::listening::ListeningData;
use bart_sim::experiment::bar;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// HetRec 2011 Last.fm: artists.dat, tags.dat (ISO-8859-1), user_artists.dat and
    /// user_taggedartists.dat.
    Lastfm(ImportLastfmArgs),
}

#[derive(Args)]
pub struct ImportLastfmArgs {
    /// The directory holding the .dat files.
    dir: PathBuf,
    /// The data directory to write `listening.bin` into.
    #[arg(long)]
    out: PathBuf,
}

pub fn import(command: ImportCommand) -> Result<ExitCode> {
    let ImportCommand::Lastfm(args) = command;
    let imported = lastfm::import(&args.dir)?;
    let data = &imported.data;
    data.save(&args.out)?;
    let plays = data.plays.nnz();
    println!(
        "imported {} listeners, {} artists, {plays} listener-artist pairs and {} tags into {}",
        data.listeners.len(),
        data.artists.len(),
        data.tags.len(),
        args.out.join(ListeningData::FILE).display()
    );
    if imported.skipped_tag_assignments > 0 {
        println!(
            "skipped {} tag assignments to artists that artists.dat does not list",
            imported.skipped_tag_assignments
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// ALS hyperparameters (defaults tuned on Last.fm-2k; see BENCHMARKS.md).
#[derive(Args)]
pub struct AlsArgs {
    /// Rank of the factors.
    #[arg(long, default_value_t = AlsConfig::default().factors)]
    factors: usize,
    #[arg(long, default_value_t = AlsConfig::default().iterations)]
    iterations: usize,
    /// L2 penalty λ on every factor.
    #[arg(long, default_value_t = AlsConfig::default().regularization)]
    regularization: f64,
    /// Confidence of a played pair: 1 + alpha * ln(1 + plays / eps), or with
    /// --linear-confidence 1 + alpha * plays.
    #[arg(long, default_value_t = default_log().0)]
    alpha: f64,
    #[arg(long, default_value_t = default_log().1)]
    eps: f64,
    #[arg(long)]
    linear_confidence: bool,
    /// Conjugate-gradient steps per row and half-iteration.
    #[arg(long, default_value_t = AlsConfig::default().cg_steps)]
    cg_steps: usize,
    /// Seed of the initial factors (and of the clustering).
    #[arg(long, default_value_t = AlsConfig::default().seed)]
    seed: u64,
}

fn default_log() -> (f64, f64) {
    match AlsConfig::default().confidence {
        Confidence::Log { alpha, eps } => (alpha, eps),
        Confidence::Linear { alpha } => (alpha, 1.0),
    }
}

impl AlsArgs {
    pub fn config(&self) -> AlsConfig {
        AlsConfig {
            factors: self.factors,
            regularization: self.regularization,
            iterations: self.iterations,
            cg_steps: self.cg_steps,
            confidence: if self.linear_confidence {
                Confidence::Linear { alpha: self.alpha }
            } else {
                Confidence::Log {
                    alpha: self.alpha,
                    eps: self.eps,
                }
            },
            seed: self.seed,
        }
    }
}

#[derive(Args)]
pub struct EmbedArgs {
    /// Data directory written by `bart import`.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    als: AlsArgs,
    /// k-means clusters of the artists.
    #[arg(long, default_value_t = 40)]
    clusters: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn embed(args: EmbedArgs) -> Result<ExitCode> {
    let (data, checksum) = ListeningData::load(&args.data)?;
    let started = Instant::now();
    let e = fit(
        &data,
        checksum,
        &args.als.config(),
        args.clusters,
        !args.quiet,
    )?;
    e.save(&args.data)?;
    println!(
        "fitted rank-{} ALS ({} iterations) on {} listeners x {} artists and {} clusters in {:.2} s -> {}",
        e.factors.rank,
        e.als.iterations,
        data.listeners.len(),
        data.artists.len(),
        e.cluster_names.len(),
        started.elapsed().as_secs_f64(),
        args.data.join(Embeddings::FILE).display()
    );
    let sizes = e.clusters.sizes();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(sizes[c]));
    for c in order {
        println!(
            "  Discover: {:<40} {:>6} artists",
            e.cluster_names[c], sizes[c]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Fits the embeddings and clusters, with a progress bar over ALS iterations if `progress`.
fn fit(
    data: &ListeningData,
    checksum: u64,
    als: &AlsConfig,
    clusters: usize,
    progress: bool,
) -> Result<Embeddings> {
    let pb = bar(als.iterations as u64, "ALS iterations", progress);
    let clusters = ClusterConfig {
        k: clusters,
        max_iterations: 100,
        tags_per_name: 2,
        seed: als.seed,
    };
    let e = Embeddings::fit(data, checksum, als, &clusters, |_, _: &Factors| pb.inc(1))?;
    pb.finish_and_clear();
    Ok(e)
}

#[derive(Clone, Copy, ValueEnum)]
pub enum IndexChoice {
    /// Exact below 100,000 artists, HNSW above.
    Auto,
    Exact,
    Hnsw,
}

#[derive(Args)]
pub struct SimilarArgs {
    /// Data directory written by `bart import` (and `bart embed`).
    #[arg(long)]
    data: PathBuf,
    /// The artist: its Last.fm id, its name, or a part of its name that only it has.
    artist: String,
    /// How many similar artists.
    #[arg(short, default_value_t = 10)]
    k: usize,
    #[arg(long, value_enum, default_value_t = IndexChoice::Auto)]
    index: IndexChoice,
}

pub fn similar(args: SimilarArgs) -> Result<ExitCode> {
    let (data, checksum) = ListeningData::load(&args.data)?;
    let artist = data.find_artist(&args.artist)?;
    let embeddings = match Embeddings::load(&args.data, checksum)? {
        Some(e) => e,
        None => {
            eprintln!(
                "no {} in {}: fitting ALS with the default settings now (run `bart embed` to keep them)",
                Embeddings::FILE,
                args.data.display()
            );
            fit(&data, checksum, &AlsConfig::default(), 40, false)?
        }
    };
    let f = &embeddings.factors;
    let kind = match args.index {
        IndexChoice::Auto => IndexKind::auto(data.artists.len()),
        IndexChoice::Exact => IndexKind::Exact,
        IndexChoice::Hnsw => IndexKind::Hnsw(Default::default()),
    };
    let index = VectorIndex::build(&f.item_vectors(), f.rank, kind, |_| {})?;
    let listeners = data.listeners_per_artist();
    let describe = |a: usize| {
        let tags: Vec<&str> = data.top_tags(a, 3).collect();
        format!(
            "id {}, {} listeners{}",
            data.artists[a].id,
            listeners[a],
            if tags.is_empty() {
                String::new()
            } else {
                format!(", {}", tags.join(", "))
            }
        )
    };
    let cluster = embeddings.clusters.assignment[artist] as usize;
    println!(
        "{} ({}; cluster \"{}\"), by {} cosine of rank-{} ALS factors:",
        data.artists[artist].name,
        describe(artist),
        embeddings.cluster_names[cluster],
        match index.kind() {
            IndexKind::Exact => "exact",
            IndexKind::Hnsw(_) => "approximate (HNSW)",
        },
        f.rank
    );
    for (rank, n) in index.similar(artist, args.k).iter().enumerate() {
        let a = n.id as usize;
        println!(
            "{:>3}. {:<32} {:.3}  ({})",
            rank + 1,
            data.artists[a].name,
            n.similarity,
            describe(a)
        );
    }
    Ok(ExitCode::SUCCESS)
}
