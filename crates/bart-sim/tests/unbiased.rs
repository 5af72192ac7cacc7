//! Unbiasedness in simulation with a small number of log sets (the 10,000-set run is
//! `bart bench unbiased`, see BENCHMARKS.md).

use bart_sim::unbiased::{StudyConfig, render, run};

#[test]
fn ips_snips_and_dr_are_unbiased_for_the_true_value() {
    let config = StudyConfig {
        contexts: 20,
        pages_per_context: 30,
        log_sets: 40,
        seed: 1,
        ..StudyConfig::default()
    };
    let report = run(&config).unwrap();
    println!("{}", render(&report));
    // The target is far from the logging policy: an estimator stuck at the logged rate
    // would fail the check below.
    assert!(report.true_value > 1.3 * report.logging_value, "{report:?}");
    // The page-level (slate) weights are products of up to 12 ratios: their means over 40
    // sets are dominated by rare huge weights, so only the per-card estimators are held to
    // the 2-SE check here (the full table is `bart bench unbiased`).
    for name in ["IPS", "SNIPS", "DR"] {
        let row = report.rows.iter().find(|r| r.name == name).unwrap();
        assert!(
            row.unbiased_within_2se,
            "{name}: mean {} vs truth {} (SE {})",
            row.mean, report.true_value, row.std_error
        );
        assert!(row.std_error > 0.0);
    }
    // The per-card estimators are the accurate ones: the whole-page weights of standard IPS
    // are almost always tiny (its rare huge ones are missing from 40 sets), so its RMSE is
    // several times theirs.
    let rmse = |name: &str| report.rows.iter().find(|r| r.name == name).unwrap().rmse;
    assert!(3.0 * rmse("DR") < rmse("standard IPS") && 3.0 * rmse("IPS") < rmse("standard IPS"));
}
