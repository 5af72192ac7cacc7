//! `bart bench`: measured performance on fixed synthetic workloads.

mod als;
mod ann;
mod ope;
mod page;
mod train;
mod unbiased;

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Training throughput from a VW cb_adf file, and the learned policy's true click rate.
    Train(train::BenchTrainArgs),
    /// Page latency on one thread: candidates, scores, draws and exact propensities.
    Page(page::BenchPageArgs),
    /// Off-policy estimates with bootstrap intervals on an Open Bandit Dataset file.
    Ope(ope::BenchOpeArgs),
    /// ALS against popularity on Last.fm-2k (hold-out recall and nDCG), fit time, similar artists.
    Als(als::BenchAlsArgs),
    /// HNSW against exact nearest-neighbour search on a seeded Gaussian mixture.
    Ann(ann::BenchAnnArgs),
    /// Bias, spread and RMSE of the off-policy estimators over many seeded log sets, against
    /// the simulator's exact value of a target.
    Unbiased(unbiased::BenchUnbiasedArgs),
}

pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Train(args) => train::run(args),
        BenchCommand::Page(args) => page::run(args),
        BenchCommand::Ope(args) => ope::run(args),
        BenchCommand::Als(args) => als::run(args),
        BenchCommand::Ann(args) => ann::run(args),
        BenchCommand::Unbiased(args) => unbiased::run(args),
    }
}
