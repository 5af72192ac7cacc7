//! `bart evaluate obd` and `bart bench ope` on the Open Bandit Dataset sample in
//! ../shared/data/obd: obp's reference IPS and SNIPS (REFERENCE.md) to 1e-12, replay for a
//! deterministic target, and errors that name the file, the line and the column.

// The reference values are written digit for digit as REFERENCE.md prints them.
#![allow(clippy::excessive_precision)]

use std::path::Path;

mod common;
use common::{bart, text_of};

const OBD: &str = "../../../shared/data/obd";

fn data(rel: &str) -> String {
    let p = Path::new(OBD).join(rel);
    assert!(p.exists(), "the OBD sample is missing: {}", p.display());
    p.display().to_string()
}

fn evaluate_json(extra: &[&str]) -> serde_json::Value {
    let out = bart(&[&["evaluate", "obd", "--resamples", "200", "--json"], extra].concat());
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn value(v: &serde_json::Value, estimator: &str) -> f64 {
    v["estimates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["estimator"] == estimator)
        .unwrap_or_else(|| panic!("no {estimator} in {v}"))["value"]
        .as_f64()
        .unwrap()
}

fn assert_relative(actual: f64, expected: f64) {
    let rel = ((actual - expected) / expected).abs();
    assert!(
        rel < 1e-12,
        "{actual} vs {expected}: relative error {rel:e}"
    );
}

#[test]
fn reproduces_obp_in_both_directions() {
    let (logs, context) = (
        data("random/all/all.csv"),
        data("random/all/item_context.csv"),
    );
    let target = data("bts_action_dist_all.csv");
    let v = evaluate_json(&[
        "--logs",
        &logs,
        "--item-context",
        &context,
        "--target-dist",
        &target,
    ]);
    assert_eq!(v["rows"], 10_000);
    assert_relative(value(&v, "ips"), 0.0045528799999999996);
    assert_relative(value(&v, "snips"), 0.0047758330812309535);
    assert_eq!(v["skipped"][0]["estimator"], "replay");

    let (logs, context) = (data("bts/all/all.csv"), data("bts/all/item_context.csv"));
    let v = evaluate_json(&[
        "--logs",
        &logs,
        "--item-context",
        &context,
        "--target",
        "uniform",
    ]);
    assert_relative(value(&v, "ips"), 0.0023596395168460067);
    assert_relative(value(&v, "snips"), 0.0023337138931617337);
    assert!(
        !v["diagnostics"]["warnings"].as_array().unwrap().is_empty(),
        "{v}"
    );
}

#[test]
fn a_deterministic_target_gets_replay() {
    // Item 3 at every position; under uniform logging replay is the click rate of the rows
    // that logged item 3.
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("item3.csv");
    let text: String = (0..80)
        .map(|i| if i == 3 { "1,1,1\n" } else { "0,0,0\n" })
        .collect();
    std::fs::write(&dist, text).unwrap();
    let logs = data("random/all/all.csv");
    let csv = std::fs::read_to_string(&logs).unwrap();
    let (mut shown, mut clicks) = (0.0, 0.0);
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[2] == "3" {
            shown += 1.0;
            clicks += f[4].parse::<f64>().unwrap();
        }
    }
    let v = evaluate_json(&[
        "--logs",
        &logs,
        "--item-context",
        &data("random/all/item_context.csv"),
        "--target-dist",
        dist.to_str().unwrap(),
    ]);
    assert!(shown > 50.0);
    assert_eq!(value(&v, "replay"), clicks / shown);
    assert_eq!(v["deterministic_target"], true);
}

#[test]
fn bad_input_names_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("all.csv");
    let csv = std::fs::read_to_string(data("bts/all/all.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().take(30).map(String::from).collect();
    let mut fields: Vec<&str> = lines[16].split(',').collect();
    fields[5] = "0";
    lines[16] = fields.join(",");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = bart(&[
        "evaluate",
        "obd",
        "--logs",
        path.to_str().unwrap(),
        "--item-context",
        &data("bts/all/item_context.csv"),
        "--target",
        "uniform",
    ]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.trim(),
        format!(
            "error: {} line 17, column propensity_score: 0 is not a probability in (0, 1]",
            path.display()
        )
    );
    let out = bart(&[
        "evaluate",
        "obd",
        "--logs",
        &data("bts/all/all.csv"),
        "--item-context",
        &data("bts/all/item_context.csv"),
    ]);
    assert_eq!(out.status.code(), Some(2), "a target is required");
}

#[test]
fn bench_ope_reports_its_timings() {
    let out = bart(&[
        "bench",
        "ope",
        "--logs",
        &data("random/all/all.csv"),
        "--item-context",
        &data("random/all/item_context.csv"),
        "--target-dist",
        &data("bts_action_dist_all.csv"),
        "--resamples",
        "50",
        "--repeat",
        "3",
        "--json",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["rows"], 10_000);
    assert_eq!(v["runs_ms"].as_array().unwrap().len(), 3);
    assert!(v["p50_ms"].as_f64().unwrap() > 0.0);
}
