//! The Open Bandit Dataset sample in ../shared/data/obd: IPS and SNIPS match obp 0.5.7's
//! reference values (REFERENCE.md) to 1e-12, DM and DR land inside IPS's bootstrap interval,
//! and bad input names the file, the line and the column.

// The reference values are written digit for digit as REFERENCE.md prints them.
#![allow(clippy::excessive_precision)]

use bart_ope::obd::{ItemContext, Logs, Predictions, RewardModelConfig, TargetDist, cards};
use bart_ope::{Bootstrap, CardReport, Estimator, OpeError, Tuning, evaluate_cards};
use std::path::{Path, PathBuf};

const OBD: &str = "../../../shared/data/obd";

fn data(rel: &str) -> PathBuf {
    let p = Path::new(OBD).join(rel);
    assert!(p.exists(), "the OBD sample is missing: {}", p.display());
    p
}

fn evaluate(logs: &str, target: Option<&str>) -> CardReport {
    let context = ItemContext::read(&data(&format!("{logs}/all/item_context.csv"))).unwrap();
    let logs = Logs::read(&data(&format!("{logs}/all/all.csv")), context.items()).unwrap();
    let target = match target {
        Some(file) => TargetDist::read(&data(file), context.items()).unwrap(),
        None => TargetDist::uniform(context.items(), logs.positions()),
    };
    target.check(&logs).unwrap();
    let predictions = Predictions::fit(&logs, &context, &RewardModelConfig::default()).unwrap();
    let cards = cards(&logs, &target, Some(&predictions));
    let boot = Bootstrap {
        resamples: 1000,
        seed: 42,
        level: 0.95,
    };
    evaluate_cards(&cards, &Estimator::ALL, Tuning::default(), Some(&boot)).unwrap()
}

fn assert_relative(actual: f64, expected: f64) {
    let rel = ((actual - expected) / expected).abs();
    assert!(
        rel < 1e-12,
        "{actual} vs {expected}: relative error {rel:e}"
    );
}

fn check(report: &CardReport, ips: f64, snips: f64) {
    assert_eq!(report.samples, 10_000);
    assert_relative(report.get(Estimator::Ips).unwrap().value, ips);
    assert_relative(report.get(Estimator::Snips).unwrap().value, snips);
    let ips_interval = report.get(Estimator::Ips).unwrap().bootstrap.unwrap();
    for e in [Estimator::Dm, Estimator::Dr] {
        let v = report.get(e).unwrap().value;
        assert!(
            ips_interval.contains(v),
            "{e:?} {v} outside IPS's {ips_interval:?}"
        );
    }
    assert_eq!(
        report.skipped.len(),
        1,
        "replay needs a deterministic target"
    );
}

#[test]
fn bernoulli_ts_from_random_logs_matches_obp() {
    let report = evaluate("random", Some("bts_action_dist_all.csv"));
    check(&report, 0.0045528799999999996, 0.0047758330812309535);
    // Uniform logging: the mean weight is about 1, and no warning is due.
    assert!(
        report.diagnostics.warnings.is_empty(),
        "{:?}",
        report.diagnostics.warnings
    );
}

#[test]
fn uniform_from_bernoulli_ts_logs_matches_obp() {
    let report = evaluate("bts", None);
    check(&report, 0.0023596395168460067, 0.0023337138931617337);
    // Weights up to 0.0125 / 4.5e-5 = 277.8: few effective rows.
    let d = &report.diagnostics;
    assert!((d.max_weight - 0.0125 / 4.5e-5).abs() < 1e-9);
    assert!(d.effective_samples < 1_000.0, "{}", d.effective_samples);
    assert!(!d.warnings.is_empty());
}

/// A copy of the first `rows` data lines of the random logs, with `edit` applied to the text.
fn edited_logs(dir: &Path, rows: usize, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(data("random/all/all.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let path = dir.join("all.csv");
    std::fs::write(&path, edit(head.join("\n") + "\n")).unwrap();
    path
}

fn read_error(path: &Path) -> String {
    let err: OpeError = Logs::read(path, 80).unwrap_err();
    err.to_string()
}

/// Replaces field `column` (0-based) of data row `row` (1-based: file line row + 1).
fn set_field(text: String, row: usize, column: usize, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<&str> = lines[row].split(',').collect();
    fields[column] = value;
    lines[row] = fields.join(",");
    lines.join("\n") + "\n"
}

#[test]
fn bad_logs_name_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let name = tmp.path().join("all.csv").display().to_string();
    // Columns: index, timestamp, item_id, position, click, propensity_score, ...
    let missing = edited_logs(tmp.path(), 20, |t| {
        t.replacen("propensity_score", "pscore", 1)
    });
    assert_eq!(
        read_error(&missing),
        format!("{name} line 1, column propensity_score: missing from the header")
    );
    let zero = edited_logs(tmp.path(), 20, |t| set_field(t, 16, 5, "0"));
    assert_eq!(
        read_error(&zero),
        format!("{name} line 17, column propensity_score: 0 is not a probability in (0, 1]")
    );
    let big = edited_logs(tmp.path(), 20, |t| set_field(t, 3, 5, "1.5"));
    assert_eq!(
        read_error(&big),
        format!("{name} line 4, column propensity_score: 1.5 is not a probability in (0, 1]")
    );
    let word = edited_logs(tmp.path(), 20, |t| set_field(t, 9, 4, "yes"));
    assert_eq!(
        read_error(&word),
        format!("{name} line 10, column click: \"yes\" is not a number")
    );
    let item = edited_logs(tmp.path(), 20, |t| set_field(t, 2, 2, "80"));
    assert_eq!(
        read_error(&item),
        format!(
            "{name} line 3, column item_id: item 80 is not in the item context (items 0 to 79)"
        )
    );
    let short = edited_logs(tmp.path(), 20, |t| set_field(t, 5, 7, "a,b"));
    assert!(read_error(&short).starts_with(&format!("{name} line 6: 91 fields")));
    assert!(
        Logs::read(&tmp.path().join("nope.csv"), 80)
            .unwrap_err()
            .to_string()
            .contains("nope.csv: cannot read")
    );
}

#[test]
fn bad_target_distributions_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dist.csv");
    let name = path.display().to_string();
    let text = std::fs::read_to_string(data("bts_action_dist_all.csv")).unwrap();
    std::fs::write(&path, text.replacen("0.01078,", "1.01078,", 1)).unwrap();
    assert_eq!(
        TargetDist::read(&path, 80).unwrap_err().to_string(),
        format!("{name} line 2, column 1: 1.01078 is not a probability in [0, 1]")
    );
    std::fs::write(&path, text.replacen("0.01078,", "0.02078,", 1)).unwrap();
    assert!(
        TargetDist::read(&path, 80)
            .unwrap_err()
            .to_string()
            .contains("the probabilities of position 1 (column 1) sum to 1.0")
    );
    std::fs::write(&path, &text).unwrap();
    assert!(
        TargetDist::read(&path, 81)
            .unwrap_err()
            .to_string()
            .contains("80 item lines, but the item context has 81 items")
    );
}
