//! The online comparison of serving arms on a small world: every arm trained on the same
//! uniformly random logs, then served side by side on fresh visits.

use bart_bandit::ModelConfig;
use bart_sim::WorldConfig;
use bart_sim::compare::{self, Arm, ArmPolicy, CompareConfig, CompareReport};

fn small(seed: u64) -> CompareConfig {
    CompareConfig {
        world: WorldConfig {
            seed,
            artists: 400,
            items: 4_000,
            listeners: 2_000,
            ..WorldConfig::default()
        },
        pages_per_day: 6_000,
        flip_contexts: 1_000,
        ..CompareConfig::default()
    }
}

fn summary(report: &CompareReport) -> String {
    report
        .arms
        .iter()
        .map(|a| {
            let modal = a.modal_kind().expect("pages have a top shelf");
            format!(
                "{} {:.4} [{:.4}, {:.4}] modal {} {:.3} flip {:?}",
                a.name,
                a.rate.value,
                a.rate.lo,
                a.rate.hi,
                modal.kind.name(),
                modal.share,
                a.flip
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Seeds 1 to 5 at this size (checked by hand) all order the point estimates
/// fm2 > lr > popularity > random; logistic regression's greedy top shelf changed kind between
/// the two settings for 0-0.2% of contexts, the factorization machine's for 4.9-8.3% (seed 3:
/// 4.9%). The popularity arm's flips too (2.9-30%), as the popular_on shelf's items change
/// with the platform. The modal top-shelf shares were 0.91-0.93 for lr and 0.86-0.90 for fm2,
/// so only the flip is asserted.
#[test]
fn fm2_beats_lr_beats_popularity_beats_random_and_only_fm2_reads_the_context() {
    let report = compare::run(&small(3), false).unwrap();
    let text = summary(&report);
    println!("{text}");
    let arm = |name: &str| report.arm(name).unwrap();
    let (random, popularity, lr, fm2) = (arm("random"), arm("popularity"), arm("lr"), arm("fm2"));
    assert!(fm2.rate.value > lr.rate.value, "{text}");
    assert!(lr.rate.value > popularity.rate.value, "{text}");
    assert!(popularity.rate.value > random.rate.value, "{text}");
    // With non-overlapping 95% intervals at every step.
    assert!(fm2.rate.disjoint(&lr.rate), "{text}");
    assert!(lr.rate.disjoint(&popularity.rate), "{text}");
    assert!(popularity.rate.disjoint(&random.rate), "{text}");
    // Equal shares of the test day's visits; ε-greedy everywhere but random.
    assert!(report.arms.iter().all(|a| a.pages == 1_500), "{text}");
    assert_eq!(random.flip, None);
    assert_eq!(fm2.epsilon, 0.1);
    // LR picks nearly the same top shelf whatever the platform and hour; FM2 does not.
    let (lr_flip, fm2_flip) = (lr.flip.unwrap(), fm2.flip.unwrap());
    assert!(lr_flip < fm2_flip, "{text}");
    assert!(lr_flip <= 0.01 && fm2_flip >= 0.03, "{text}");
    assert!(lr.modal_kind().unwrap().share >= 0.85, "{text}");
    // Both models learned from the same logged cards.
    assert_eq!(report.training.len(), 2);
    assert!(
        report
            .training
            .iter()
            .all(|t| t.examples == report.logged_cards as u64)
    );
}

#[test]
fn same_seed_same_report() {
    let config = CompareConfig {
        world: WorldConfig {
            seed: 9,
            artists: 100,
            items: 1_000,
            genres: 10,
            listeners: 300,
            regions: 5,
            ..WorldConfig::default()
        },
        train_days: 1,
        pages_per_day: 400,
        flip_contexts: 50,
        ..CompareConfig::default()
    };
    let a = serde_json::to_value(compare::run(&config, false).unwrap()).unwrap();
    let b = serde_json::to_value(compare::run(&config, false).unwrap()).unwrap();
    let strip = |mut v: serde_json::Value| {
        for t in v["training"].as_array_mut().unwrap() {
            t["seconds"] = 0.into();
        }
        v
    };
    assert_eq!(strip(a), strip(b));
}

#[test]
fn arms_are_named_and_checked() {
    let base = ModelConfig::default();
    for name in Arm::NAMES {
        assert_eq!(Arm::named(name, &base).unwrap().name, name);
    }
    assert!(matches!(
        Arm::named("lr-q", &base).unwrap().policy,
        ArmPolicy::Model { ref config, .. } if !config.interactions.is_empty()
    ));
    let err = Arm::named("bandit", &base).unwrap_err().to_string();
    assert!(err.contains("arm") && err.contains("bandit"), "{err}");
    let twice = CompareConfig {
        arms: vec![
            Arm::named("lr", &base).unwrap(),
            Arm::named("lr", &base).unwrap(),
        ],
        ..CompareConfig::default()
    };
    assert!(twice.validate().unwrap_err().to_string().contains("twice"));
    let no_test = CompareConfig {
        test_days: 0,
        ..CompareConfig::default()
    };
    assert!(
        no_test
            .validate()
            .unwrap_err()
            .to_string()
            .contains("test_days")
    );
}

/// The hand check behind the assertions above: `cargo test -p bart-sim --test compare --
/// --ignored --nocapture seeds`.
#[test]
#[ignore]
fn seeds_one_to_five() {
    for seed in 1..=5 {
        println!(
            "seed {seed}\n{}",
            summary(&compare::run(&small(seed), false).unwrap())
        );
    }
}

/// The full-scale comparison (default world and sizes); run with
/// `cargo test -p bart-sim --release --test compare -- --ignored --nocapture`.
#[test]
#[ignore]
fn full_scale() {
    let started = std::time::Instant::now();
    let report = compare::run(&CompareConfig::default(), true).unwrap();
    println!("{}", summary(&report));
    println!("{:.1} s", started.elapsed().as_secs_f64());
}
