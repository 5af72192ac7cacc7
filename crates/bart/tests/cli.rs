//! The `bart` binary end to end: a tiny demo, then page, replay and evaluate on its data
//! directory; and clear errors (naming the file, and the line for text) for a missing data
//! directory, a corrupt database and a malformed world file.

use std::path::Path;
use std::process::Output;

mod common;
use common::{assert_shown_page_replays, bart, text_of};

fn tiny_demo(dir: &Path) -> Output {
    bart(&[
        "demo",
        "--quiet",
        "--data",
        dir.to_str().unwrap(),
        "--listeners",
        "400",
        "--items",
        "1500",
        "--artists",
        "150",
        "--genres",
        "10",
        "--regions",
        "5",
        "--days",
        "2",
        "--random-pages",
        "600",
        "--bart-pages",
        "60",
    ])
}

#[test]
fn demo_then_page_replay_and_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    let out = tiny_demo(&dir);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Online stream rate per card"), "{stdout}");
    assert!(stdout.contains("Off-policy estimate of BaRT with model v1"));
    assert!(stdout.contains("Home page of listener"));
    // Without --shelf-model shelves go by their best cards' mean score: no r' is trained.
    assert!(dir.join("models").join("v1.bart").is_file());
    assert!(!dir.join("models").join("v1.shelves.bart").exists());
    assert_shown_page_replays(d, &stdout);

    let out = bart(&["replay", "--data", d, "--impression", "12345"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("no impression 12345") && stderr.contains("events.db"));

    let out = bart(&["evaluate", "--data", d, "--json"]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["model_version"], 1);
    assert_eq!(v["pages"], 600);
    let ips = v["ips"]["value"].as_f64().unwrap();
    assert!(ips > 0.0 && ips < 1.0);
    // The same numbers the demo reported for that model and day.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["offline"]["ips"]["value"], v["ips"]["value"]);

    // Several policies: model v1 running, the uniform policy as candidate. The uniform
    // target is the logging policy, so every weight is 1 and each of its IPS-type estimates
    // is the observed rate; the paired difference of SNIPS is exactly the difference of the
    // two estimates.
    let out = bart(&[
        "evaluate", "--data", d, "--policy", "v1", "--policy", "uniform", "--json",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["pages"], 600);
    let rate = v["logging_policy"]["value"].as_f64().unwrap();
    let uniform = &v["policies"][1];
    assert_eq!(uniform["policy"], "uniform");
    let estimate = |p: &serde_json::Value, name: &str| {
        let rows = p["estimates"].as_array().unwrap();
        let row = rows.iter().find(|r| r["name"] == name).unwrap();
        row["estimate"]["value"].as_f64().unwrap()
    };
    for name in [
        "independent SNIPS",
        "standard SNIPS",
        "cascade SNIPS",
        "SNPI",
    ] {
        assert!(
            (estimate(uniform, name) - rate).abs() < 1e-12,
            "{name}: {v}"
        );
    }
    let running = &v["policies"][0];
    assert_eq!(running["model_version"], 1);
    let comparison = &v["comparisons"][0];
    assert_eq!(comparison["decided_by"], "DR");
    let snips = comparison["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d[0] == "independent SNIPS")
        .unwrap();
    let gap = estimate(uniform, "independent SNIPS") - estimate(running, "independent SNIPS");
    assert!((snips[1]["value"].as_f64().unwrap() - gap).abs() < 1e-12);
    // v1 streams more than uniform here, so the uniform candidate is not promoted.
    assert_eq!(comparison["decision"]["promote"], false, "{comparison}");
    let out = bart(&["evaluate", "--data", d, "--policy", "v9"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("--policy v9: no model v9"), "{stderr}");
    let out = bart(&["evaluate", "--data", d, "--policy", "nope.bart"]);
    let (_, stderr) = text_of(&out);
    assert!(
        stderr.contains("--policy nope.bart: not a model version"),
        "{stderr}"
    );

    // Model v1 was trained on day 1: it cannot be judged on day 1's pages.
    let out = bart(&["evaluate", "--data", d, "--day", "1", "--model", "1"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("evaluate it on day 2 or later"), "{stderr}");
    // Without --model, day 1 gets the newest model trained before it: none. With ε = 1 the
    // target is the logging policy itself: every weight is 1, so SNIPS is the observed rate;
    // IPS divides by the expected rather than the shown number of cards, so it is close.
    let out = bart(&[
        "evaluate",
        "--data",
        d,
        "--day",
        "1",
        "--epsilon",
        "1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&text_of(&out).0).unwrap();
    assert_eq!(v["model_version"], 0);
    let rate = v["logging_policy"]["value"].as_f64().unwrap();
    assert!(
        (v["snips"]["value"].as_f64().unwrap() - rate).abs() < 1e-12,
        "{v}"
    );
    let ips = &v["ips"];
    let gap = (ips["value"].as_f64().unwrap() - rate).abs();
    assert!(gap < 0.5 * ips["std_error"].as_f64().unwrap(), "{v}");

    let out = bart(&["page", "--data", d, "--listener", "3", "--hour", "8"]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Home page of listener 3"), "{stdout}");
    assert!(stdout.contains("p = "), "{stdout}");

    // Pinning "Popular in" (every page has one) to the top row puts it there with p = 1.
    let out = bart(&[
        "page",
        "--data",
        d,
        "--listener",
        "3",
        "--pin",
        "popular_in=0",
        "--max-per-artist",
        "1",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let first = stdout.lines().find(|l| l.trim_start().starts_with("1. "));
    assert!(
        first.is_some_and(|l| l.contains("Popular in") && l.contains("(p = 1.000)")),
        "{stdout}"
    );
    let out = bart(&[
        "page",
        "--data",
        d,
        "--listener",
        "3",
        "--pin",
        "jumpback=0",
    ]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("unknown kind"), "{stderr}");

    let out = bart(&["page", "--data", d, "--listener", "400"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("listener 400 does not exist"), "{stderr}");
}

#[test]
fn missing_data_directory_is_named() {
    let out = bart(&["page", "--data", "/nonexistent/bart-x", "--listener", "1"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("/nonexistent/bart-x"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn corrupt_database_and_malformed_world_file_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = dir.to_str().unwrap();
    std::fs::write(
        dir.join("world.json"),
        r#"{"seed": 1, "artists": 50, "items": 200, "genres": 5, "listeners": 40,
 "regions": 3, "plays_per_listener": 10, "start": 1767571200, "history_days": 30}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("events.db"),
        b"this is not a database at all, not even close",
    )
    .unwrap();
    let out = bart(&["evaluate", "--data", d]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("events.db"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    std::fs::write(
        dir.join("world.json"),
        "{\"seed\": 1,\n \"artists\": fifty}\n",
    )
    .unwrap();
    let out = bart(&["replay", "--data", d, "--impression", "1"]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("world.json: line 2"), "{stderr}");
}

#[test]
fn invalid_flags_name_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bart(&[
        "demo",
        "--quiet",
        "--data",
        tmp.path().to_str().unwrap(),
        "--epsilon",
        "1.5",
    ]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("epsilon = 1.5"), "{stderr}");
}

#[test]
fn train_export_and_predict_round_trip_through_vw_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    assert!(tiny_demo(&dir).status.success());
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (fm2, lr, text) = (path("fm2.bart"), path("lr.bart"), path("logs.txt"));

    let out = bart(&[
        "train",
        "--input",
        d,
        "--model",
        "fm2",
        "--rank",
        "8",
        "--weighting",
        "clipped:50",
        "--out",
        &fm2,
        "--quiet",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("trained fm2 rank 8, adagrad 0.1, 2^18 buckets on"),
        "{stdout}"
    );

    let out = bart(&[
        "export",
        "vw-cb-adf",
        "--data",
        d,
        "--policy",
        "random",
        "--out",
        &text,
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let examples: usize = stdout.split_whitespace().nth(1).unwrap().parse().unwrap();
    let exported = std::fs::read_to_string(&text).unwrap();
    assert_eq!(exported.matches("\n\n").count(), examples);

    // Predict: one line per example, the greedy index and ε-greedy probabilities summing to 1.
    let out = bart(&[
        "predict",
        "--model",
        &fm2,
        "--input",
        &text,
        "--epsilon",
        "0.1",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), examples);
    for line in &lines {
        let (greedy, probs) = line.split_once(' ').unwrap();
        let greedy: usize = greedy.parse().unwrap();
        let p: Vec<f64> = probs.split(',').map(|x| x.parse().unwrap()).collect();
        let n = p.len() as f64;
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((p[greedy] - (0.9 + 0.1 / n)).abs() < 1e-12, "{line}");
    }

    // The exported text trains a model too, with VW's -q.
    let out = bart(&[
        "train",
        "--format",
        "vw-cb-adf",
        "--input",
        &text,
        "--model",
        "lr",
        "-q",
        "ci",
        "--out",
        &lr,
        "--quiet",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("-q ci on {examples} examples")),
        "{stdout}"
    );

    // Clear errors: a malformed line names the file and line; a model file that is not one.
    std::fs::write(&text, "shared |c a=1\n0:-1:1.5 |i x\n").unwrap();
    let out = bart(&[
        "train",
        "--format",
        "vw-cb-adf",
        "--input",
        &text,
        "--out",
        &lr,
    ]);
    let (_, stderr) = text_of(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("logs.txt:2:"), "{stderr}");
    let out = bart(&["predict", "--model", &text, "--input", &text]);
    let (_, stderr) = text_of(&out);
    assert!(stderr.contains("not a bart model file"), "{stderr}");
    let out = bart(&[
        "train",
        "--input",
        d,
        "--out",
        &lr,
        "--weighting",
        "clipped:0.5",
    ]);
    let (_, stderr) = text_of(&out);
    assert!(stderr.contains("weighting"), "{stderr}");
}

#[test]
fn bench_train_and_simulate_run_small() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = bart(&[
        "bench",
        "train",
        "--examples",
        "3000",
        "--repeat",
        "1",
        "--dir",
        dir,
        "--model",
        "lr",
        "-q",
        "UA",
        "--json",
        "--quiet",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (best, uniform) = (
        v["optimal_click_rate"].as_f64().unwrap(),
        v["uniform_click_rate"].as_f64().unwrap(),
    );
    let learned = v["runs"][0]["click_rate"].as_f64().unwrap();
    assert!(uniform < learned && learned <= best, "{stdout}");
    // The data set is kept for other tools, with every context and the hidden truth.
    let file = v["file"].as_str().unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(text.matches("\n\n").count(), 3000);
    assert_eq!(text.lines().filter(|l| l.starts_with("0:")).count(), 3000);
    assert!(tmp.path().join("contexts.txt").exists());

    let out = bart(&[
        "simulate",
        "--quiet",
        "--listeners",
        "300",
        "--items",
        "1000",
        "--artists",
        "100",
        "--genres",
        "8",
        "--regions",
        "4",
        "--train-days",
        "1",
        "--test-days",
        "1",
        "--pages-per-day",
        "400",
        "--json",
    ]);
    let (stdout, stderr) = text_of(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let arms: Vec<&str> = v["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(arms, ["random", "popularity", "lr", "fm2"]);
}
