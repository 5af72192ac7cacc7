//! Interop with Vowpal Wabbit: `bart predict` on `cb_adf` text and `bart export vw-cb-adf` of
//! bart's own logs, so a VW user can learn the same data with both tools.

use crate::data::Data;
use anyhow::{Context as _, Result};
use bart_bandit::vw::for_each_example;
use bart_bandit::{EpsilonGreedy, RewardModel, greedy};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Text formats bart reads and writes besides its own logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TextFormat {
    /// Vowpal Wabbit `cb_adf` text.
    VwCbAdf,
}

#[derive(Args)]
pub struct PredictArgs {
    /// Input format.
    #[arg(long, value_enum, default_value = "vw-cb-adf")]
    format: TextFormat,
    /// Model file written by `bart train`.
    #[arg(long)]
    model: PathBuf,
    /// Examples to score (labels, if any, are ignored).
    #[arg(long)]
    input: PathBuf,
    /// Exploration rate of the ε-greedy probabilities printed.
    #[arg(long, default_value_t = 0.05)]
    epsilon: f64,
}

/// Prints, per example, the greedy action's index and the ε-greedy probability of every
/// action, in input order: `2 0.0125,0.0125,0.9625,0.0125`.
pub fn predict(args: PredictArgs) -> Result<ExitCode> {
    let TextFormat::VwCbAdf = args.format;
    let policy = EpsilonGreedy::new(args.epsilon)?;
    let model = RewardModel::load(&args.model)?;
    let text = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut scores = Vec::new();
    for_each_example(&args.input, &text, |ex| -> Result<()> {
        scores.clear();
        scores.extend((0..ex.len()).map(|k| model.predict(&ex.action(k))));
        let p = policy.probabilities(&scores);
        let list: Vec<String> = p.iter().map(|x| x.to_string()).collect();
        writeln!(out, "{} {}", greedy(&scores), list.join(","))?;
        Ok(())
    })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(value_enum)]
    format: TextFormat,
    #[command(flatten)]
    data: crate::DataArg,
    /// Only pages of this policy, e.g. random.
    #[arg(long)]
    policy: Option<String>,
    /// Where to write the text.
    #[arg(long)]
    out: PathBuf,
}

/// Writes every logged card as one `cb_adf` example: the card's draw from its shelf's
/// remaining candidates. Shared features are the context's; each action is a remaining
/// candidate item with the shelf's explanation at the card's slot; the label is the card's
/// conditional probability and cost -reward. Features are the ones bart's model sees, so a
/// model trained on the export scores them exactly as bart does.
pub fn export(args: ExportArgs) -> Result<ExitCode> {
    let TextFormat::VwCbAdf = args.format;
    let data = Data::open(&args.data.data)?;
    let pages = data.pages(args.policy.clone())?;
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let (mut text, mut examples) = (String::new(), 0usize);
    for page in &pages {
        text.clear();
        examples += data
            .recommender
            .write_cb_adf(&page.impression, &page.rewards, &mut text)?;
        out.write_all(text.as_bytes())?;
    }
    out.flush()?;
    println!(
        "wrote {examples} examples from {} pages to {}",
        pages.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
