use super::*;

fn s(target: f64, logging: f64, reward: f64) -> Sample {
    Sample {
        target,
        logging,
        reward,
    }
}

fn card(target: f64, logging: f64, reward: f64, predicted: f64, direct: f64) -> Card {
    Card {
        sample: s(target, logging, reward),
        predicted,
        direct,
    }
}

/// Each card its own cluster.
fn rows(tuning: Tuning, cards: &[Card]) -> Sums {
    let mut sums = Sums::new(tuning);
    for &c in cards {
        sums.add_row(c).unwrap();
    }
    sums
}

fn value(sums: &Sums, e: Estimator) -> f64 {
    sums.estimate(e).unwrap().value
}

/// Weights 2, 0.5, 4, 0; rewards 1, 1, 0, 1; predictions 0.5, 0.25, 0.2, 0.6; direct
/// estimates 0.4, 0.3, 0.5, 0.2.
fn example() -> [Card; 4] {
    [
        card(0.5, 0.25, 1.0, 0.5, 0.4),
        card(0.25, 0.5, 1.0, 0.25, 0.3),
        card(0.4, 0.1, 0.0, 0.2, 0.5),
        card(0.0, 0.5, 1.0, 0.6, 0.2),
    ]
}

fn tuning(clip: f64, switch: f64, shrinkage: f64) -> Tuning {
    Tuning {
        clip,
        switch,
        shrinkage,
    }
}

const INF: f64 = f64::INFINITY;

#[test]
fn ips_and_snips_match_hand_computation() {
    let sums = rows(Tuning::default(), &example());
    let ips = sums.estimate(Estimator::Ips).unwrap();
    // (2 + 0.5 + 0 + 0) / 4
    assert_eq!(ips.value, 0.625);
    // 2.5 / (2 + 0.5 + 4 + 0)
    assert_eq!(value(&sums, Estimator::Snips), 2.5 / 6.5);
    // Kish ESS: 6.5^2 / (4 + 0.25 + 16)
    assert_eq!(ips.effective_samples, 6.5 * 6.5 / 20.25);
    assert_eq!(ips.samples, 4);
}

#[test]
fn reward_model_estimators_match_hand_computation() {
    let sums = rows(tuning(1.0, 3.0, 4.0), &example());
    // Mean of the direct estimates.
    let dm = (0.4 + 0.3 + 0.5 + 0.2) / 4.0;
    assert!((value(&sums, Estimator::Dm) - dm).abs() < 1e-15);
    // Weighted residuals w (r - q̂): 2 * 0.5, 0.5 * 0.75, 4 * -0.2, 0.
    let residuals = [1.0, 0.375, -0.8, 0.0];
    let dr = dm + residuals.iter().sum::<f64>() / 4.0;
    assert!((value(&sums, Estimator::Dr) - dr).abs() < 1e-15);
    let sndr = dm + residuals.iter().sum::<f64>() / 6.5;
    assert!((value(&sums, Estimator::Sndr) - sndr).abs() < 1e-15);
    // τ = 3 drops the card of weight 4.
    let switch = dm + (1.0 + 0.375) / 4.0;
    assert!((value(&sums, Estimator::SwitchDr) - switch).abs() < 1e-15);
    // λ = 4: shrunk weights 4w / (w² + 4) = 1, 2 / 4.25, 0.8, 0.
    let shrunk = 0.5 + 2.0 / 4.25 * 0.75 + 0.8 * -0.2;
    assert!((value(&sums, Estimator::DrOs) - (dm + shrunk / 4.0)).abs() < 1e-15);
    // Cap 1: min(w, 1) r = 1, 0.5, 0, 0.
    assert_eq!(value(&sums, Estimator::ClippedIps), 1.5 / 4.0);
}

#[test]
fn limiting_parameters_give_the_base_estimators() {
    let cards = example();
    let wide = rows(tuning(1e9, INF, INF), &cards);
    let narrow = rows(tuning(0.0, 0.0, 0.0), &cards);
    let ips = value(&wide, Estimator::Ips);
    let dr = value(&wide, Estimator::Dr);
    let dm = value(&wide, Estimator::Dm);
    assert_eq!(value(&wide, Estimator::ClippedIps), ips);
    assert_eq!(value(&wide, Estimator::SwitchDr), dr);
    assert_eq!(value(&wide, Estimator::DrOs), dr);
    assert_eq!(value(&narrow, Estimator::SwitchDr), dm);
    assert_eq!(value(&narrow, Estimator::DrOs), dm);
    assert_eq!(value(&narrow, Estimator::ClippedIps), 0.0);
    assert_ne!(dr, dm);
}

#[test]
fn without_a_reward_model_dr_is_ips_and_sndr_is_snips() {
    let cards: Vec<Card> = example().iter().map(|c| Card::from(c.sample)).collect();
    let sums = rows(Tuning::default(), &cards);
    assert_eq!(value(&sums, Estimator::Dm), 0.0);
    assert_eq!(value(&sums, Estimator::Dr), value(&sums, Estimator::Ips));
    assert_eq!(
        value(&sums, Estimator::Sndr),
        value(&sums, Estimator::Snips)
    );
}

#[test]
fn sndr_on_constant_rewards_is_the_constant() {
    // Rewards 0.3 everywhere; a reward model that knows it; uneven weights.
    let cards: Vec<Card> = (0..7)
        .map(|i| {
            card(
                0.1 * (i % 3) as f64 + 0.05,
                0.1 + 0.1 * i as f64,
                0.3,
                0.3,
                0.3,
            )
        })
        .collect();
    let sums = rows(Tuning::default(), &cards);
    assert!((value(&sums, Estimator::Sndr) - 0.3).abs() < 1e-15);
    // And without a model SNDR is SNIPS, which is the constant too.
    let bare: Vec<Card> = cards.iter().map(|c| Card::from(c.sample)).collect();
    assert!((value(&rows(Tuning::default(), &bare), Estimator::Sndr) - 0.3).abs() < 1e-15);
}

#[test]
fn dr_with_a_perfect_reward_model_has_zero_variance() {
    // The reward model predicts every reward exactly and the target's expected reward is the
    // same, 0.25, in every context: every DR term is 0.25, so DR has no variance, while IPS
    // does.
    let cards: Vec<Card> = (0..20)
        .map(|i| {
            let r = (i % 4 == 0) as u8 as f64;
            card(0.5, 0.2 + 0.03 * i as f64, r, r, 0.25)
        })
        .collect();
    let sums = rows(Tuning::default(), &cards);
    let dr = sums.estimate(Estimator::Dr).unwrap();
    assert!((dr.value - 0.25).abs() < 1e-15);
    assert!(dr.std_error < 1e-9, "{}", dr.std_error);
    assert!(sums.estimate(Estimator::Ips).unwrap().std_error > 0.05);
}

#[test]
fn standard_errors_are_the_sample_standard_errors_for_singletons() {
    let cards = example();
    let sums = rows(Tuning::default(), &cards);
    let check = |e: Estimator, y: [f64; 4]| {
        let mean = y.iter().sum::<f64>() / 4.0;
        let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
        let se = (var / 4.0).sqrt();
        let est = sums.estimate(e).unwrap();
        assert!((est.value - mean).abs() < 1e-15);
        assert!((est.std_error - se).abs() < 1e-14, "{e:?}");
        assert!((est.lo - (mean - Z95 * se)).abs() < 1e-14);
        assert!((est.hi - (mean + Z95 * se)).abs() < 1e-14);
    };
    check(Estimator::Ips, [2.0, 0.5, 0.0, 0.0]);
    // v̂ + w (r - q̂)
    check(Estimator::Dr, [1.4, 0.675, -0.3, 0.2]);
}

#[test]
fn snips_standard_error_is_the_delta_method_ratio_error() {
    let cards = example();
    let sums = rows(Tuning::default(), &cards);
    let y: [f64; 4] = [2.0, 0.5, 0.0, 0.0];
    let d: [f64; 4] = [2.0, 0.5, 4.0, 0.0];
    let theta: f64 = 2.5 / 6.5;
    let ss: f64 = y.iter().zip(d).map(|(y, d)| (y - theta * d).powi(2)).sum();
    let se = (4.0 / 3.0 * ss).sqrt() / 6.5;
    let e = sums.estimate(Estimator::Snips).unwrap();
    assert!((e.std_error - se).abs() < 1e-14);
}

#[test]
fn clusters_are_the_unit_of_variance() {
    // Two pages of two cards, on-policy (weights 1): rates 1/2 and 2/2.
    let mut sums = Sums::new(Tuning::default());
    for page in [[1.0, 0.0], [1.0, 1.0]] {
        for r in page {
            sums.add(s(1.0, 1.0, r)).unwrap();
        }
        sums.end_cluster();
    }
    let e = sums.estimate(Estimator::Ips).unwrap();
    assert_eq!(e.value, 0.75);
    assert_eq!(e.clusters, 2);
    // y = (1, 2), d = (2, 2), θ = 0.75: residuals (-0.5, 0.5); 2/1 * 0.5 / 16.
    assert!((e.std_error - (2.0f64 * 0.5).sqrt() / 4.0).abs() < 1e-15);
}

#[test]
fn ips_can_divide_by_the_expected_cluster_size() {
    // Two pages: weights (2, 0.5) rewards (1, 1); weight 4 reward 1. The target is
    // expected to show 1.5 and 1 cards there.
    let mut sums = Sums::new(Tuning::default());
    sums.add(s(0.5, 0.25, 1.0)).unwrap();
    sums.add(s(0.25, 0.5, 1.0)).unwrap();
    sums.end_cluster_expecting(1.5);
    sums.add(s(0.4, 0.1, 1.0)).unwrap();
    sums.end_cluster_expecting(1.0);
    assert_eq!(value(&sums, Estimator::Ips), (2.5 + 4.0) / 2.5);
    assert_eq!(value(&sums, Estimator::Snips), 6.5 / 6.5);
}

#[test]
fn replay_averages_the_matched_cards_of_a_deterministic_target() {
    let cards = [
        card(1.0, 0.5, 1.0, 0.0, 0.0),
        card(0.0, 0.5, 1.0, 0.0, 0.0),
        card(1.0, 0.25, 0.0, 0.0, 0.0),
        card(1.0, 0.5, 1.0, 0.0, 0.0),
    ];
    let sums = rows(Tuning::default(), &cards);
    assert_eq!(value(&sums, Estimator::Replay), 2.0 / 3.0);
    let stochastic = rows(Tuning::default(), &example());
    assert!(matches!(
        stochastic.estimate(Estimator::Replay),
        Err(OpeError::Unsupported(_))
    ));
}

#[test]
fn merge_equals_one_pass() {
    let data: Vec<Card> = (0..40)
        .map(|i| {
            card(
                (i % 7) as f64 / 7.0,
                0.1 + (i % 5) as f64 * 0.2,
                (i % 3 == 0) as u8 as f64,
                (i % 4) as f64 * 0.1,
                (i % 6) as f64 * 0.05,
            )
        })
        .collect();
    let mut whole = Sums::new(tuning(3.0, 2.0, 5.0));
    let mut a = Sums::new(tuning(3.0, 2.0, 5.0));
    let mut b = Sums::new(tuning(3.0, 2.0, 5.0));
    for (k, page) in data.chunks(4).enumerate() {
        let part = if k < 3 { &mut a } else { &mut b };
        for &x in page {
            whole.add(x).unwrap();
            part.add(x).unwrap();
        }
        whole.end_cluster();
        part.end_cluster();
    }
    a.merge(b);
    for e in Estimator::ALL {
        if e == Estimator::Replay {
            continue;
        }
        let (m, w) = (a.estimate(e).unwrap(), whole.estimate(e).unwrap());
        assert!((m.value - w.value).abs() < 1e-15, "{e:?}");
        assert!((m.std_error - w.std_error).abs() < 1e-12, "{e:?}");
    }
}

#[test]
fn invalid_and_empty_inputs_are_errors() {
    let mut sums = Sums::new(Tuning::default());
    assert!(matches!(
        sums.add(s(0.5, 0.0, 1.0)),
        Err(OpeError::InvalidProbability {
            field: "logging propensity",
            ..
        })
    ));
    assert!(matches!(
        sums.add(s(1.5, 0.5, 1.0)),
        Err(OpeError::InvalidProbability {
            field: "target probability",
            ..
        })
    ));
    assert!(matches!(
        sums.add(s(0.5, 0.5, f64::NAN)),
        Err(OpeError::NotFinite {
            field: "reward",
            ..
        })
    ));
    assert!(matches!(
        sums.estimate(Estimator::Ips),
        Err(OpeError::Empty { .. })
    ));
    sums.add_row(s(0.0, 0.5, 1.0)).unwrap();
    assert!(matches!(
        sums.estimate(Estimator::Snips),
        Err(OpeError::Empty { .. })
    ));
    assert!(tuning(-1.0, 1.0, 1.0).validate().is_err());
    assert!(tuning(1.0, f64::NAN, 1.0).validate().is_err());
    assert!(tuning(0.0, INF, INF).validate().is_ok());
}
