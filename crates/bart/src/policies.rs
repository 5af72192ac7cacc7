//! `bart evaluate --policy RUNNING --policy CANDIDATE ...`: several policies on one day's
//! random pages with every per-card and page estimator, each candidate compared with the
//! running policy (paired differences) and the promotion decision.
//!
//! DM and DR take the running policy's model as their reward model (scored at the top-left
//! slot). It was trained before the evaluated day (checked for model versions), so it never
//! saw the pages it scores and needs no cross-fitting; with a uniform running policy there is
//! no reward model and DM and DR are skipped.

use crate::data::Data;
use crate::inspect::{check_unseen, day_range, random_pages};
use anyhow::{Context as _, Result, bail};
use bart_bandit::{EpsilonGreedy, RewardModel};
use bart_ope::diagnostics::thousands;
use bart_ope::slate::{CARD_DM, CARD_DR};
use bart_ope::{
    DM_INTERVAL_CAVEAT, Decision, Difference, Estimate, Estimator, SlateReport, Target, decide,
    difference, evaluate_targets, stream_rate,
};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// A policy named on the command line, loaded.
struct Named {
    name: String,
    version: Option<u32>,
    model: Option<RewardModel>,
    /// The version's shelf model r', when it was trained with one.
    shelves: Option<RewardModel>,
    policy: EpsilonGreedy,
}

/// Parses `v3`, `3`, a path to a model file, or `uniform`.
fn load(data: &Data, spec: &str, epsilon: EpsilonGreedy, day: u64) -> Result<Named> {
    if spec == "uniform" {
        return Ok(Named {
            name: "uniform".into(),
            version: None,
            model: None,
            shelves: None,
            policy: EpsilonGreedy::uniform(),
        });
    }
    let version = spec.strip_prefix('v').unwrap_or(spec).parse::<u32>().ok();
    if let Some(v) = version {
        let latest = data.latest_model()?;
        if v > latest {
            bail!(
                "--policy {spec}: no model v{v} in {} (versions 0 to {latest})",
                data.dir.display()
            );
        }
        check_unseen(data, v, day).with_context(|| format!("--policy {spec}"))?;
        return Ok(Named {
            name: format!("v{v}"),
            version: Some(v),
            model: data.model(v)?,
            shelves: data.shelf_model(v)?,
            policy: epsilon,
        });
    }
    let path = PathBuf::from(spec);
    if !path.is_file() {
        bail!(
            "--policy {spec}: not a model version (v3 or 3), `uniform` or an existing model file"
        );
    }
    let model =
        RewardModel::load(&path).with_context(|| format!("--policy {spec}: cannot load"))?;
    Ok(Named {
        name: spec.to_string(),
        version: None,
        model: Some(model),
        shelves: None,
        policy: epsilon,
    })
}

#[derive(Serialize)]
struct PolicyOut<'a> {
    policy: &'a str,
    model_version: Option<u32>,
    epsilon: f64,
    #[serde(flatten)]
    report: &'a SlateReport,
}

#[derive(Serialize)]
struct Comparison {
    running: String,
    candidate: String,
    /// candidate - running, paired over the same pages, per per-card estimator.
    differences: Vec<(&'static str, Difference)>,
    /// The estimator the decision rests on.
    decided_by: &'static str,
    decision: Decision,
}

/// The per-card estimators compared, with their names in the slate report.
const COMPARED: [(&str, Estimator); 3] = [
    ("independent IPS", Estimator::Ips),
    ("independent SNIPS", Estimator::Snips),
    (CARD_DR, Estimator::Dr),
];

pub fn run(
    data: &Data,
    specs: &[String],
    epsilon: EpsilonGreedy,
    day: Option<u64>,
    json: bool,
) -> Result<ExitCode> {
    let (day, from, until) = day_range(data, day)?;
    let named = specs
        .iter()
        .map(|s| load(data, s, epsilon, day))
        .collect::<Result<Vec<_>>>()?;
    let pages = random_pages(data, day, from, until)?;
    let refs: Vec<_> = pages
        .iter()
        .map(|p| (&p.impression, p.rewards.as_slice()))
        .collect();
    let targets: Vec<Target> = named
        .iter()
        .map(|n| Target {
            model: n.model.as_ref(),
            shelves: n.shelves.as_ref(),
            policy: n.policy,
        })
        .collect();
    let q = named[0].model.as_ref();
    let results = evaluate_targets(&data.recommender, &targets, q, &refs)?;
    let logging = stream_rate(&refs)?;
    let running = &results[0];
    // DR when the running policy gives a reward model, else SNIPS.
    let decided_by = if q.is_some() {
        CARD_DR
    } else {
        "independent SNIPS"
    };
    let mut comparisons = Vec::new();
    for (n, result) in named.iter().zip(&results).skip(1) {
        let mut differences = Vec::new();
        for (name, estimator) in COMPARED {
            if estimator == Estimator::Dr && q.is_none() {
                continue;
            }
            let d = difference(estimator, &running.page_terms, &result.page_terms)?;
            differences.push((name, d));
        }
        let running_value = running.report.get(decided_by).map(|e| e.value);
        let Some(running_value) = running_value else {
            bail!("the running policy has no {decided_by} estimate to decide on");
        };
        let decision = decide(running_value, result.report.get(decided_by).map(|e| e.lo))?;
        comparisons.push(Comparison {
            running: named[0].name.clone(),
            candidate: n.name.clone(),
            differences,
            decided_by,
            decision,
        });
    }
    if json {
        let policies: Vec<PolicyOut> = named
            .iter()
            .zip(&results)
            .map(|(n, r)| PolicyOut {
                policy: &n.name,
                model_version: n.version,
                epsilon: n.policy.epsilon(),
                report: &r.report,
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "day": day,
                "pages": pages.len(),
                "reward_model": q.map(|_| named[0].name.clone()),
                "logging_policy": logging,
                "policies": policies,
                "comparisons": comparisons,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} policies on the {} random pages of day {day} in {} (reward model of DM and DR: {}).",
        named.len(),
        thousands(pages.len() as f64),
        data.store.path().display(),
        q.map_or("none (uniform running policy)".to_string(), |_| format!(
            "the running policy's, {}",
            named[0].name
        ))
    );
    for (n, r) in named.iter().zip(&results) {
        println!(
            "\n{} (ε = {}){}:",
            n.name,
            n.policy.epsilon(),
            if std::ptr::eq(n, &named[0]) {
                ", running"
            } else {
                ""
            }
        );
        print_table(&r.report, &logging);
    }
    for c in &comparisons {
        println!(
            "\n{} against {} (paired over the same pages):",
            c.candidate, c.running
        );
        for (name, d) in &c.differences {
            println!(
                "  {:<20} {:>+9.4}  [{:+.4}, {:+.4}]",
                name, d.value, d.lo, d.hi
            );
        }
        println!("  by {}: {}", c.decided_by, c.decision.reason);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &SlateReport, logging: &Estimate) {
    println!(
        "  {:<20} {:>9}  {:<20}  {:>12}",
        "estimator", "estimate", "95% interval", "ESS (cards)"
    );
    let row = |name: &str, e: &Estimate| {
        println!(
            "  {:<20} {:>9.4}  [{:.4}, {:.4}]  {:>12}",
            name,
            e.value,
            e.lo,
            e.hi,
            thousands(e.effective_samples)
        );
    };
    for r in &report.estimates {
        row(r.name, &r.estimate);
    }
    for s in &report.skipped {
        println!("  {:<20} {:>9}  {}", s.name, "n/a", s.reason);
    }
    row("random (logged)", logging);
    if report.get(CARD_DM).is_some() {
        println!("  {DM_INTERVAL_CAVEAT}");
    }
}
