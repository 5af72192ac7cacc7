use super::*;
use crate::features::Features;

fn config(kind: ModelKind) -> ModelConfig {
    ModelConfig {
        kind,
        bits: 10,
        rank: 4,
        interactions: Interactions::parse(&["UA"]).unwrap(),
        ..ModelConfig::default()
    }
}

/// Two namespaces with a repeated feature (same bucket twice) and real values.
fn example() -> Features {
    let mut f = example_without_repeat();
    f.push(Namespace::new(b"Action").id(b"genre=2"), -0.5);
    f
}

/// A model with every parameter set to a distinct pseudo-random value.
fn randomised(kind: ModelKind) -> RewardModel {
    let mut m = RewardModel::new(config(kind)).unwrap();
    for (k, w) in m.rows.iter_mut().enumerate() {
        *w = 0.3 * gaussian(7, k, 0);
    }
    m
}

fn loss(m: &RewardModel, x: &Example<'_>, y: f64, weight: f64) -> f64 {
    let z = m.logit(x);
    // weight * logloss, computed stably from the logit.
    weight * ((1.0 + (-z).exp()).ln() + (1.0 - y) * z)
}

#[test]
fn gradients_match_finite_differences_for_every_model() {
    for kind in [ModelKind::Lr, ModelKind::Fm2, ModelKind::Fm3] {
        let m = randomised(kind);
        let f = example();
        let x = f.example();
        let (y, weight) = (1.0, 2.5);
        let (logit, sums) = m.forward(&x);
        let dloss = ((sigmoid(logit) - y) * weight) as f32;
        let mut analytic = vec![0.0f64; m.rows.len()];
        let mut g = Gradient::default();
        m.gradient(&x, dloss, &sums, &mut g);
        for &(i, v) in &g.linear {
            analytic[i as usize] += f64::from(v);
        }
        let width = m.stride - 1;
        for (&base, block) in g.rows.iter().zip(g.embeddings.chunks_exact(width.max(1))) {
            for (f, &v) in block.iter().enumerate() {
                analytic[base as usize + 1 + f] += f64::from(v);
            }
        }
        // Every parameter, touched or not, against a central difference (optimiser state
        // has no effect on the loss: both sides are 0 there).
        for (i, &analytic) in analytic.iter().enumerate() {
            let h = 1e-2f32;
            let mut plus = m.clone();
            plus.rows[i] += h;
            let mut minus = m.clone();
            minus.rows[i] -= h;
            let numeric =
                (loss(&plus, &x, y, weight) - loss(&minus, &x, y, weight)) / (2.0 * f64::from(h));
            assert!(
                (analytic - numeric).abs() < 2e-3 * (1.0 + numeric.abs()),
                "{kind:?} param {i}: analytic {analytic} vs numeric {numeric}"
            );
        }
    }
}

#[test]
fn fm3_logit_equals_the_explicit_sum_over_triples() {
    let m = randomised(ModelKind::Fm3);
    let f = example();
    let x = f.example();
    let atoms: Vec<_> = x.atoms().collect();
    let r = m.config.rank;
    let mut expected = 0.0f64;
    m.for_each_linear(&x, |id, v| expected += f64::from(m.rows[m.row(id)] * v));
    let emb = |k: usize, off: usize, f: usize| {
        let (id, v) = atoms[k];
        f64::from(m.rows[m.row(id) + 1 + off + f] * v)
    };
    let n = atoms.len();
    for i in 0..n {
        for j in i + 1..n {
            expected += (0..r).map(|f| emb(i, 0, f) * emb(j, 0, f)).sum::<f64>();
            for l in j + 1..n {
                expected += (0..r)
                    .map(|f| emb(i, r, f) * emb(j, r, f) * emb(l, r, f))
                    .sum::<f64>();
            }
        }
    }
    assert!(
        (m.logit(&x) - expected).abs() < 1e-5,
        "{} vs {expected}",
        m.logit(&x)
    );
}

#[test]
fn learns_an_interaction_only_a_factorization_machine_can_express() {
    // Reward is 1 exactly when user u and action a agree (u == a): XOR-like, no main effects.
    let (un, an) = (Namespace::new(b"U"), Namespace::new(b"A"));
    let mut f = Features::default();
    let mut fit = |kind| {
        let mut m = RewardModel::new(ModelConfig {
            learning_rate: 0.05,
            ..config(kind)
        })
        .unwrap();
        m.config.interactions = Interactions::default();
        for step in 0..20_000u32 {
            let (u, a) = (step % 4, (step / 4) % 4);
            f.clear();
            f.namespace(&un);
            f.add(&un, "u", u);
            f.namespace(&an);
            f.add(&an, "a", a);
            m.update(&f.example(), f64::from(u8::from(u == a)), 1.0);
        }
        let mut correct = 0;
        for u in 0..4 {
            for a in 0..4 {
                f.clear();
                f.namespace(&un);
                f.add(&un, "u", u);
                f.namespace(&an);
                f.add(&an, "a", a);
                correct += usize::from((m.predict(&f.example()) > 0.5) == (u == a));
            }
        }
        correct
    };
    assert_eq!(fit(ModelKind::Fm2), 16);
    // Logistic regression without crosses can only say "no" everywhere.
    assert_eq!(fit(ModelKind::Lr), 12);
}

#[test]
fn ftrl_learns_and_l1_zeroes_useless_weights() {
    let ns = Namespace::new(b"X");
    let mut m = RewardModel::new(ModelConfig {
        kind: ModelKind::Lr,
        optimizer: Optimizer::Ftrl,
        learning_rate: 0.5,
        l1: 1.0,
        ..config(ModelKind::Lr)
    })
    .unwrap();
    let mut f = Features::default();
    for step in 0..4000u32 {
        f.clear();
        f.namespace(&ns);
        let signal = step % 2;
        f.add(&ns, "signal", signal);
        // A noise feature, uncorrelated with the label.
        f.add(&ns, "noise", (step / 2) % 2);
        m.update(&f.example(), f64::from(signal), 1.0);
    }
    let w = |name: &str| m.rows[m.row(ns.id(name.as_bytes()))];
    assert!(w("signal=1") > 1.0 && w("signal=0") < -1.0);
    assert_eq!(w("noise=0"), 0.0);
    assert_eq!(w("noise=1"), 0.0);
    assert!(
        RewardModel::new(ModelConfig {
            optimizer: Optimizer::Ftrl,
            ..config(ModelKind::Fm2)
        })
        .unwrap_err()
        .to_string()
        .contains("logistic regression")
    );
}

#[test]
fn round_trip_is_exact_and_corruption_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.bart");
    let mut m = RewardModel::new(config(ModelKind::Fm3)).unwrap();
    let f = example();
    for _ in 0..3 {
        m.update(&f.example(), 1.0, 3.0);
    }
    m.save(&path).unwrap();
    let loaded = RewardModel::load(&path).unwrap();
    let params = |m: &RewardModel| {
        (0..1 << 10)
            .flat_map(|b| m.params(b).to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(params(&loaded), params(&m));
    assert_eq!(loaded.config, m.config);
    assert_eq!(loaded.ready, m.ready);
    assert_eq!(
        loaded.logit(&f.example()).to_bits(),
        m.logit(&f.example()).to_bits()
    );
    // Only learned rows are stored: 1 constant + 4 atom buckets + 6 crosses at most.
    let good = std::fs::read(&path).unwrap();
    let row = 4 + 4 * m.stride;
    assert!(good.len() < 200 + 12 * row, "{} bytes", good.len());

    let check = |bytes: &[u8], needle: &str| {
        std::fs::write(&path, bytes).unwrap();
        let err = RewardModel::load(&path).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
        assert!(err.contains("m.bart"), "{err}");
    };
    let mut flipped = good.clone();
    let at = good.len() - 20;
    flipped[at] ^= 1;
    check(&flipped, "checksum mismatch");
    check(&good[..good.len() - 3], "truncated");
    check(b"hello", "not a bart model file");
    let mut v1 = good.clone();
    v1[8] = 1;
    check(&v1, "format version 1");
    let mut extra = good.clone();
    extra.push(0);
    check(&extra, "unexpected bytes");
    // A model holding a NaN is not saved; a well-formed file (valid checksum) holding one,
    // or an inconsistent configuration, is not loaded.
    let mut nan = m.clone();
    let b = m.row(m.constant);
    nan.rows[b] = f32::NAN;
    let err = nan.save(&path).unwrap_err().to_string();
    assert!(err.contains("not saved") && err.contains("NaN"), "{err}");
    let mut bytes = good.clone();
    let body = bytes.len() - 8;
    let at = body - 4;
    bytes[at..body].copy_from_slice(&f32::NAN.to_le_bytes());
    let sum = xxh3_64(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = RewardModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("NaN, not a finite number"), "{err}");
    let mut wrong = m.clone();
    wrong.config.rank = 9;
    wrong.save(&path).unwrap();
    let err = RewardModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("rows of 9 floats"), "{err}");
}

#[test]
fn invalid_config_is_rejected() {
    let err = RewardModel::new(ModelConfig {
        bits: 40,
        ..ModelConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("bits = 40"));
    let err = RewardModel::new(ModelConfig {
        kind: ModelKind::Fm3,
        bits: 28,
        rank: 256,
        ..ModelConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("more than 8 GiB"), "{err}");
    let err = RewardModel::new(ModelConfig {
        rank: 0,
        ..ModelConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("rank = 0"));
}

#[test]
fn pairwise_parts_combine_to_the_full_prediction() {
    let (u, a, r) = (
        Namespace::new(b"User"),
        Namespace::new(b"Action"),
        Namespace::new(b"Real"),
    );
    let reals = [r.id(b"share"), r.id(b"other"), r.id(b"third")];
    for kind in [ModelKind::Lr, ModelKind::Fm2] {
        let mut m = randomised(kind);
        m.config.interactions = Interactions::default();
        let pairwise = m.pairwise(&reals).expect("order 2 without crosses");
        let (mut user, mut action) = (Features::default(), Features::default());
        user.namespace(&u);
        user.push(u.id(b"country=3"), 1.0);
        user.push(u.id(b"age"), 0.7);
        action.namespace(&a);
        action.push(a.id(b"genre=2"), 1.0);
        action.push(a.id(b"len"), 1.5);
        let (mut pu, mut pa) = (m.partial(), m.partial());
        m.add_to(&mut pu, &user.example());
        m.add_to(&mut pa, &action.example());
        let fixed = pairwise.fixed(&pu);
        let mut row = vec![0.0; pairwise.row_len()];
        pairwise.item_row(&pa, &mut row);
        // Zeros first, in the middle and last (their terms and cross terms vanish).
        let cases = [
            [0.0, 0.0, 0.0],
            [0.25, -1.5, 0.0],
            [0.0, 0.8, -1.2],
            [1.1, 0.0, 0.6],
            [0.4, 0.9, 2.0],
        ];
        for values in cases {
            let mut full = example_without_repeat();
            full.namespace(&r);
            for (&id, &x) in reals.iter().zip(&values) {
                full.push(id, x);
            }
            let full = m.logit(&full.example());
            let parts = f64::from(pairwise.logit(&fixed, &row, &values));
            assert!((full - parts).abs() < 1e-5, "{kind:?}: {full} vs {parts}");
            assert!(full.abs() > 0.01, "{kind:?}: a trivial score");
        }
        // The fixed group alone.
        let alone = m.logit(&user.example());
        assert!((fixed.logit() - alone).abs() < 1e-5, "{alone}");
    }
    assert!(randomised(ModelKind::Fm3).pairwise(&reals).is_none());
    assert!(
        randomised(ModelKind::Fm2).pairwise(&reals).is_none(),
        "crosses"
    );
}

/// [`example`] without its repeated feature.
#[test]
fn weights_that_only_l2_moves_end_at_zero_not_subnormal() {
    let ns = Namespace::new(b"x");
    let (on, off) = (ns.id(b"on"), ns.id(b"off"));
    let mut m = RewardModel::new(config(ModelKind::Fm2)).unwrap();
    let mut f = Features::default();
    f.namespace(&ns);
    f.push(on, 1.0);
    // Always present with value 0: no loss gradient, only L2, which shrinks its weights
    // geometrically through the subnormals.
    f.push(off, 0.0);
    for step in 0..5_000u32 {
        m.update(&f.example(), f64::from(step % 3 == 0), 1.0);
    }
    let off_params = &m.rows[m.row(off)..][..m.stride];
    assert!(off_params.iter().all(|w| *w == 0.0), "{off_params:?}");
    assert!(!m.rows.iter().any(|w| w.is_subnormal()));
}

fn example_without_repeat() -> Features {
    let mut f = Features::default();
    let (u, a) = (Namespace::new(b"User"), Namespace::new(b"Action"));
    f.namespace(&u);
    f.push(u.id(b"country=3"), 1.0);
    f.push(u.id(b"age"), 0.7);
    f.namespace(&a);
    f.push(a.id(b"genre=2"), 1.0);
    f.push(a.id(b"len"), 1.5);
    f
}

#[test]
fn remembered_rows_are_forgotten_by_the_next_update_or_another_width() {
    let mut m = RewardModel::new(config(ModelKind::Fm2)).unwrap();
    let f = example_without_repeat();
    let logit = |m: &RewardModel| m.logit(&f.example()) as f32;
    let builds = std::cell::Cell::new(0);
    let build = |k: u32, row: &mut [f32]| {
        builds.set(builds.get() + 1);
        row[0] = logit(&m);
        row[1] = k as f32;
    };
    let first = m.memo_rows(2, 8, [7, 7], build).get(7).unwrap().to_vec();
    let again = m.memo_rows(2, 8, [7, 3], |k, row| {
        assert_eq!(k, 3, "7 is remembered");
        row.copy_from_slice(&[logit(&m), 3.0]);
    });
    assert_eq!(again.get(7), Some(&first[..]));
    assert_eq!(again.get(3), Some(&[first[0], 3.0][..]));
    assert_eq!(again.get(8), None);
    assert_eq!(again.get(1 << 20), None);
    drop(again);
    assert_eq!(builds.get(), 1);
    let wider = m.memo_rows(3, 8, [7], |_, row| row.copy_from_slice(&[1.0, 2.0, 3.0]));
    assert_eq!(wider.get(7), Some(&[1.0, 2.0, 3.0][..]), "rebuilt");
    assert_eq!(wider.get(3), None, "forgotten");
    drop(wider);
    m.update(&f.example(), 1.0, 1.0);
    let after = m.memo_rows(3, 8, [7], |_, row| {
        row.copy_from_slice(&[logit(&m), 0.0, 0.0])
    });
    let updated = after.get(7).unwrap()[0];
    assert_eq!(updated, logit(&m));
    assert_ne!(updated, first[0], "the update changed the weights");
    drop(after);
    // Clones start with an empty memo and compare equal.
    assert_eq!(m.clone(), m);
}

#[test]
fn rows_made_below_a_bound_are_found_without_looking_at_the_keys() {
    let mut m = RewardModel::new(config(ModelKind::Fm2)).unwrap();
    let builds = std::cell::Cell::new(0);
    let build = |k: u32, row: &mut [f32]| {
        builds.set(builds.get() + 1);
        row[0] = k as f32;
    };
    // Made out of order: 0..4 is full only once 0 is made.
    drop(m.memo_rows(1, 4, [3, 1, 2], build));
    assert_eq!(builds.get(), 3);
    let gap = m.memo_rows(1, 4, [0, 3], build);
    assert_eq!(
        (builds.get(), gap.get(0), gap.get(3)),
        (4, Some(&[0.0][..]), Some(&[3.0][..]))
    );
    drop(gap);
    // Every row below 4 is made: the keys are not looked at, and nothing is built.
    let full = m.memo_rows(1, 4, std::iter::from_fn(|| panic!("keys read")), build);
    assert_eq!((full.get(2), full.get(4)), (Some(&[2.0][..]), None));
    drop(full);
    // A higher bound looks at the keys again, and builds the one missing.
    assert_eq!(m.memo_rows(1, 5, [4], build).get(4), Some(&[4.0][..]));
    assert_eq!(builds.get(), 5);
    // An update forgets them all, the bound with them.
    let f = example_without_repeat();
    m.update(&f.example(), 1.0, 1.0);
    assert_eq!(m.memo_rows(1, 4, [2], build).get(0), None);
    assert_eq!(builds.get(), 6);
}

#[test]
fn remembered_groups_are_forgotten_by_the_next_update() {
    let mut m = RewardModel::new(config(ModelKind::Fm2)).unwrap();
    let f = example_without_repeat();
    let builds = std::cell::Cell::new(0);
    let build = |_: u64, p: &mut Partial| {
        builds.set(builds.get() + 1);
        m.add_to(p, &f.example());
    };
    let mut whole = m.partial();
    m.add_to(&mut whole, &f.example());
    let groups = m.memo_groups([5, 5, 9], build);
    assert_eq!(groups.get(5), Some(&whole));
    assert_eq!(groups.get(9), Some(&whole));
    assert_eq!(groups.get(6), None);
    drop(groups);
    assert_eq!(builds.get(), 2);
    assert!(m.memo_groups([9, 5], build).get(5).is_some());
    assert_eq!(builds.get(), 2, "remembered");
    m.update(&f.example(), 1.0, 1.0);
    let mut after = m.partial();
    m.add_to(&mut after, &f.example());
    assert_ne!(after, whole, "the update changed the weights");
    let rebuilt = m.memo_groups([5], |_, p| m.add_to(p, &f.example()));
    assert_eq!(rebuilt.get(5), Some(&after));
}

#[test]
fn partials_of_disjoint_groups_add_up() {
    let mut m = randomised(ModelKind::Fm2);
    m.config.interactions = Interactions::default();
    let (u, a) = (Namespace::new(b"User"), Namespace::new(b"Action"));
    let (mut user, mut action) = (Features::default(), Features::default());
    user.namespace(&u);
    user.push(u.id(b"country=3"), 1.0);
    action.namespace(&a);
    action.push(a.id(b"len"), 1.5);
    let (mut sum, mut pa) = (m.partial(), m.partial());
    m.add_to(&mut sum, &user.example());
    m.add_to(&mut pa, &action.example());
    sum.add(&pa);
    // A copy into a partial that holds other sums replaces them.
    let mut copy = pa.clone();
    copy.add(&pa);
    copy.clone_from(&sum);
    assert_eq!(copy, sum);
    let pairwise = m.pairwise(&[]).unwrap();
    let mut both = Features::default();
    both.namespace(&u);
    both.push(u.id(b"country=3"), 1.0);
    both.namespace(&a);
    both.push(a.id(b"len"), 1.5);
    let full = m.logit(&both.example());
    assert!((pairwise.fixed(&sum).logit() - full).abs() < 1e-6, "{full}");
}

#[test]
fn rows_and_fixed_groups_hold_no_subnormal_numbers() {
    let mut m = RewardModel::new(config(ModelKind::Fm2)).unwrap();
    m.config.interactions = Interactions::default();
    let ns = Namespace::new(b"x");
    let id = ns.id(b"tiny");
    // Every parameter of the feature's bucket subnormal (as old models could leave them).
    let at = m.row(id);
    m.rows[at..][..m.stride].fill(f32::from_bits(1));
    let mut f = Features::default();
    f.namespace(&ns);
    f.push(id, 1.0);
    let mut p = m.partial();
    m.add_to(&mut p, &f.example());
    assert!(
        p.sums.iter().any(|x| x.is_subnormal()),
        "the test needs subnormal sums"
    );
    let pairwise = m.pairwise(&[id]).unwrap();
    let mut row = vec![1.0; pairwise.row_len()];
    pairwise.item_row(&p, &mut row);
    let fixed = pairwise.fixed(&p);
    assert!(
        row.iter()
            .chain(&fixed.sum)
            .chain(&fixed.reals)
            .all(|x| !x.is_subnormal())
    );
    assert!(row.iter().all(|&x| x == 0.0), "{row:?}");
}

#[test]
fn batched_probabilities_are_the_logits_through_the_sigmoid_bit_for_bit() {
    // A rank of whole AVX2 vectors, one that rows pad with zeros (both widths with a kernel
    // of their own) and one whose width the kernel learns only when it runs.
    for rank in [32, 13, 40] {
        batched_probabilities_match_at(rank);
    }
}

fn batched_probabilities_match_at(rank: usize) {
    let (u, a, r) = (
        Namespace::new(b"User"),
        Namespace::new(b"Action"),
        Namespace::new(b"Real"),
    );
    let mut m = RewardModel::new(ModelConfig {
        rank,
        ..config(ModelKind::Fm2)
    })
    .unwrap();
    m.config.interactions = Interactions::default();
    for (k, w) in m.rows.iter_mut().enumerate() {
        *w = 0.3 * gaussian(7, k, 0);
    }
    let reals = [r.id(b"share"), r.id(b"other")];
    let pairwise = m.pairwise(&reals).unwrap();
    let partial = |ns: &Namespace, name: String| {
        let mut f = Features::default();
        f.namespace(ns);
        f.push(ns.id(name.as_bytes()), 1.0);
        let mut p = m.partial();
        m.add_to(&mut p, &f.example());
        p
    };
    let fixed: Vec<_> = (0..3)
        .map(|k| pairwise.fixed(&partial(&u, format!("u={k}"))))
        .collect();
    let rows: Vec<Vec<f32>> = (0..40)
        .map(|k| {
            let mut row = vec![0.0; pairwise.row_len()];
            pairwise.item_row(&partial(&a, format!("a={k}")), &mut row);
            row
        })
        .collect();
    let pairs: Vec<Option<Pair<'_, 2>>> = (0..100)
        .map(|k| {
            let values = [(k % 7) as f32 * 0.1, (k % 3) as f32 * -0.2];
            (k % 11 != 0).then(|| ((k % 3) as u32, rows[k % 40].as_slice(), values))
        })
        .collect();
    let mut out = vec![0.25];
    pairwise.probabilities(&fixed, &pairs, 0.125, &mut out);
    assert_eq!(out.len(), 101, "appended");
    for (p, pair) in out[1..].iter().zip(&pairs) {
        let expected = match pair {
            Some((at, row, values)) => f64::from(sigmoid_f32(pairwise.logit(
                &fixed[*at as usize],
                row,
                values,
            ))),
            None => 0.125,
        };
        assert_eq!(p.to_bits(), expected.to_bits());
    }
}

#[test]
fn the_serving_exponential_is_within_3_ulp_over_the_normal_range() {
    let mut worst = 0.0f64;
    for k in 0..=200_000 {
        let x = -87.3 + (88.3 + 87.3) * f64::from(k) / 200_000.0;
        let got = f64::from(exp_f32(x as f32));
        let exact = (f64::from(x as f32)).exp();
        worst = worst.max(((got - exact) / exact).abs());
    }
    // One ulp of f32 is 2^-23 relative (1.19e-7) at worst.
    assert!(worst < 3.0 * 1.2e-7, "{worst:e}");
    assert!(exp_f32(f32::NAN).is_nan());
    assert!(exp_f32(-1e9) > 0.0 && exp_f32(1e9).is_finite());
    for z in [-30.0, -3.5, -0.1, 0.0, 0.7, 4.0, 25.0] {
        let exact = sigmoid(z);
        assert!(
            (f64::from(sigmoid_f32(z as f32)) - exact).abs() <= 3e-7 * exact,
            "{z}"
        );
    }
    assert_eq!(sigmoid_f32(0.0), 0.5);
}
