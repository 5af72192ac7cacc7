//! The `bart` command: a thin layer over the library crates. Each subcommand parses into a
//! validated configuration before any work starts.

mod bench;
mod data;
mod demo;
mod embed;
mod inspect;
mod interop;
mod obd;
mod policies;
mod simulate;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc rather than the system allocator: a page makes and frees hundreds of small
/// vectors, which took about a tenth of its time in glibc's malloc and free (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// bart: BaRT (Bandits for Recommendations as Treatments) home pages, explained and exploring.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole loop for several days on a synthetic music world, or on a world built
    /// around listening data imported into the data directory.
    Demo(demo::DemoArgs),
    /// Build and print one listener's home page from a data directory.
    Page(inspect::PageArgs),
    /// Rebuild a logged page from its seed, context and model version and check it is identical.
    Replay(inspect::ReplayArgs),
    /// Estimate a model's stream rate off-policy from the random logs of a data directory,
    /// or a target policy's click rate from Open Bandit Dataset logs (`evaluate obd`).
    Evaluate(inspect::EvaluateArgs),
    /// Compare serving arms (random, popularity, LR, FM) online on one synthetic world.
    Simulate(simulate::SimulateArgs),
    /// Fit a reward model (LR, FM2, FM3) on bart logs or VW cb_adf text, counterfactually.
    Train(train::TrainArgs),
    /// Score VW cb_adf examples with a model: greedy action and ε-greedy probabilities.
    Predict(interop::PredictArgs),
    /// Write bart's logs in another tool's format.
    Export(interop::ExportArgs),
    /// Import listening data from another format into a data directory.
    #[command(subcommand)]
    Import(embed::ImportCommand),
    /// Fit ALS embeddings and named artist clusters on imported listening data.
    Embed(embed::EmbedArgs),
    /// The artists most similar to one artist, by ALS embeddings.
    Similar(embed::SimilarArgs),
    /// Measure performance on fixed synthetic workloads.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// The data directory argument shared by every command that reads one.
#[derive(clap::Args)]
struct DataArg {
    /// Data directory written by `bart demo`.
    #[arg(long, default_value = "bart-data", env = "BART_DATA")]
    data: PathBuf,
}

/// The size and seed of a synthetic world, shared by the commands that generate one.
#[derive(clap::Args)]
struct WorldArgs {
    /// Seed of the world and of every simulated choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Listeners of a generated world [default: 10000].
    #[arg(long)]
    listeners: Option<usize>,
    /// Items of a generated world [default: 20000].
    #[arg(long)]
    items: Option<usize>,
    /// Artists of a generated world [default: 2000].
    #[arg(long)]
    artists: Option<usize>,
    /// Genres (the most applied tags, for listening data).
    #[arg(long, default_value_t = 30)]
    genres: usize,
    #[arg(long, default_value_t = 20)]
    regions: usize,
}

impl WorldArgs {
    fn config(&self) -> bart_sim::WorldConfig {
        let default = bart_sim::WorldConfig::default();
        bart_sim::WorldConfig {
            seed: self.seed,
            artists: self.artists.unwrap_or(default.artists),
            items: self.items.unwrap_or(default.items),
            genres: self.genres,
            listeners: self.listeners.unwrap_or(default.listeners),
            regions: self.regions,
            ..default
        }
    }

    /// The first flag given that sizes a generated world (listening data has its own sizes).
    fn size_flag(&self) -> Option<&'static str> {
        [
            ("--listeners", self.listeners),
            ("--items", self.items),
            ("--artists", self.artists),
        ]
        .into_iter()
        .find_map(|(flag, value)| value.map(|_| flag))
    }
}

/// An estimate with its 95% interval: `0.1234 [0.1200, 0.1268]`.
fn interval(e: &bart_ope::Estimate) -> String {
    format!("{:.4} [{:.4}, {:.4}]", e.value, e.lo, e.hi)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Page(args) => inspect::page(args),
        Command::Replay(args) => inspect::replay(args),
        Command::Evaluate(args) => inspect::evaluate(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Train(args) => train::run(args),
        Command::Predict(args) => interop::predict(args),
        Command::Export(args) => interop::export(args),
        Command::Import(command) => embed::import(command),
        Command::Embed(args) => embed::embed(args),
        Command::Similar(args) => embed::similar(args),
        Command::Bench(command) => bench::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
