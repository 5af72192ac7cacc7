//! Exactness of the policy's probabilities and of page propensities: property tests over
//! random scores and ε, and chi-square tests of empirical frequencies over 100,000+ seeded
//! draws against the logged probabilities.

use bart_bandit::{EpsilonGreedy, PageConfig, PageMarginals, ScoredShelf, assemble};
use bart_core::{ArtistId, Explanation, GenreId, ImpressionId, ItemId, Page, RegionId};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use statrs::distribution::{ChiSquared, ContinuousCDF};
use std::collections::HashMap;

/// Pearson's chi-square of observed counts against expected probabilities (cells with an
/// expected count below 5 are pooled), and the 0.999 quantile for its degrees of freedom.
fn chi_square(observed: &[u64], expected: &[f64], total: u64) -> (f64, f64) {
    let (mut stat, mut df) = (0.0, 0usize);
    let (mut pool_o, mut pool_e) = (0.0, 0.0);
    for (&o, &p) in observed.iter().zip(expected) {
        let e = p * total as f64;
        if e < 5.0 {
            pool_o += o as f64;
            pool_e += e;
        } else {
            stat += (o as f64 - e).powi(2) / e;
            df += 1;
        }
    }
    if pool_e >= 5.0 {
        stat += (pool_o - pool_e).powi(2) / pool_e;
        df += 1;
    } else {
        assert!(
            pool_o <= 5.0 + 5.0 * pool_e,
            "mass where none expected: {pool_o}"
        );
    }
    let limit = ChiSquared::new((df - 1) as f64).unwrap().inverse_cdf(0.999);
    (stat, limit)
}

fn scores_strategy() -> impl Strategy<Value = Vec<f64>> {
    // Few distinct values, so ties are common.
    prop::collection::vec((0u8..6).prop_map(|v| f64::from(v) / 5.0), 1..25)
}

proptest! {
    #[test]
    fn every_draw_is_a_distribution_with_the_greedy_mass(
        scores in scores_strategy(),
        epsilon in 0.0f64..=1.0,
        seed in any::<u64>(),
    ) {
        let policy = EpsilonGreedy::new(epsilon).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut remaining = scores.clone();
        while !remaining.is_empty() {
            let p = policy.probabilities(&remaining);
            let sum: f64 = p.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-12, "sum {}", sum);
            let m = remaining.len() as f64;
            let best = remaining.iter().cloned().fold(f64::MIN, f64::max);
            let greedy = remaining.iter().position(|&s| s == best).unwrap();
            prop_assert!((p[greedy] - (1.0 - epsilon + epsilon / m)).abs() < 1e-12);
            for (i, &pi) in p.iter().enumerate() {
                if i != greedy {
                    prop_assert!((pi - epsilon / m).abs() < 1e-12);
                }
            }
            let (j, pj) = policy.draw(&remaining, &mut rng);
            prop_assert_eq!(pj, p[j]);
            remaining.remove(j);
        }
    }

    #[test]
    fn marginals_are_distributions_over_candidates_and_steps(
        scores in scores_strategy(),
        epsilon in 0.0f64..=1.0,
        k in 1usize..8,
    ) {
        let m = EpsilonGreedy::new(epsilon).unwrap().marginals(&scores, k);
        for t in 0..m.steps() {
            let sum: f64 = (0..scores.len()).map(|i| m.get(t, i)).sum();
            prop_assert!((sum - 1.0).abs() < 1e-12, "step {} sums to {}", t, sum);
        }
        for i in 0..scores.len() {
            let total: f64 = (0..m.steps()).map(|t| m.get(t, i)).sum();
            prop_assert!((0.0..=1.0 + 1e-12).contains(&total));
        }
    }
}

#[test]
fn sequential_draw_frequencies_match_the_marginals() {
    let scores = [0.3, 0.9, 0.1, 0.5, 0.5, 0.7, 0.2, 0.05];
    let (n, k, draws) = (scores.len(), 4, 200_000u64);
    for epsilon in [0.1, 0.5] {
        let policy = EpsilonGreedy::new(epsilon).unwrap();
        let marginals = policy.marginals(&scores, k);
        let mut counts = vec![0u64; n * k];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..draws {
            for (t, (i, _)) in policy
                .draw_without_replacement(&scores, k, &mut rng)
                .into_iter()
                .enumerate()
            {
                counts[t * n + i] += 1;
            }
        }
        for t in 0..k {
            let expected: Vec<f64> = (0..n).map(|i| marginals.get(t, i)).collect();
            let (stat, limit) = chi_square(&counts[t * n..(t + 1) * n], &expected, draws);
            assert!(stat < limit, "ε {epsilon} step {t}: chi2 {stat} >= {limit}");
        }
    }
}

fn shelves() -> Vec<ScoredShelf> {
    let shelf = |explanation, first: u32, scores: &[f64]| ScoredShelf {
        explanation,
        items: (first..first + scores.len() as u32).map(ItemId).collect(),
        scores: scores.to_vec(),
    };
    vec![
        shelf(
            Explanation::BecauseYouListened(ArtistId(1)),
            0,
            &[0.2, 0.4, 0.1, 0.3, 0.05],
        ),
        shelf(
            Explanation::YourTopGenre(GenreId(2)),
            10,
            &[0.1, 0.1, 0.3, 0.2],
        ),
        // Too short for min_cards = 3: never shown.
        shelf(Explanation::JumpBackIn, 20, &[0.9, 0.8]),
        shelf(Explanation::PopularIn(RegionId(0)), 30, &[0.05, 0.15, 0.25]),
        shelf(
            Explanation::Discover(GenreId(4)),
            40,
            &[0.01, 0.02, 0.5, 0.03],
        ),
    ]
}

fn config() -> PageConfig {
    PageConfig {
        rows: 3,
        cards_per_shelf: 3,
        min_cards: 3,
    }
}

/// Replays the sequential choices of a page and checks each logged conditional probability
/// against the policy's own probability at that step.
fn check_conditionals(page: &Page, shelves: &[ScoredShelf], policy: &EpsilonGreedy) {
    let cfg = config();
    let valid: Vec<&ScoredShelf> = shelves
        .iter()
        .filter(|s| s.items.len() >= cfg.min_cards)
        .collect();
    let mut left: Vec<(&ScoredShelf, f64)> = valid
        .iter()
        .map(|s| {
            let mut top = s.scores.clone();
            top.sort_by(|a, b| b.total_cmp(a));
            top.truncate(cfg.cards_per_shelf);
            (*s, top.iter().sum::<f64>() / top.len() as f64)
        })
        .collect();
    for shelf in &page.shelves {
        let scores: Vec<f64> = left.iter().map(|(_, s)| *s).collect();
        let j = left
            .iter()
            .position(|(s, _)| s.explanation == shelf.explanation)
            .unwrap();
        assert_eq!(shelf.probability, policy.probabilities(&scores)[j]);
        let source = left.remove(j).0;
        let mut items: Vec<(ItemId, f64)> = source
            .items
            .iter()
            .copied()
            .zip(source.scores.iter().copied())
            .collect();
        for card in &shelf.cards {
            let scores: Vec<f64> = items.iter().map(|(_, s)| *s).collect();
            let c = items.iter().position(|(i, _)| *i == card.item).unwrap();
            assert_eq!(card.probability, policy.probabilities(&scores)[c]);
            assert_eq!(card.score, items[c].1);
            items.remove(c);
        }
    }
}

#[test]
fn page_slot_frequencies_match_logged_propensities() {
    let shelves = shelves();
    let cfg = config();
    let pages = 100_000u64;
    for epsilon in [0.2, 1.0] {
        let policy = EpsilonGreedy::new(epsilon).unwrap();
        let marginals = PageMarginals::new(&shelves, &policy, &cfg);
        let mut counts: HashMap<(usize, usize, ItemId), u64> = HashMap::new();
        let mut logged: HashMap<(usize, usize, ItemId), f64> = HashMap::new();
        for id in 0..pages {
            let page = assemble(&shelves, &policy, &cfg, ImpressionId(id));
            if id < 200 {
                check_conditionals(&page, &shelves, &policy);
            }
            assert_eq!(page.shelves.len(), 3);
            for shelf in &page.shelves {
                assert_ne!(shelf.explanation, Explanation::JumpBackIn);
                for card in &shelf.cards {
                    let key = (shelf.row as usize, card.column as usize, card.item);
                    *counts.entry(key).or_default() += 1;
                    let p = *logged.entry(key).or_insert(card.propensity);
                    // The same slot always logs the same propensity (fixed context).
                    assert_eq!(p, card.propensity);
                    assert_eq!(
                        p,
                        marginals.propensity(&shelves, &shelf.explanation, card.item, key.0, key.1)
                    );
                }
            }
        }
        // Every (row, column) is a distribution over (shelf, item); compare each with counts.
        for row in 0..cfg.rows {
            for column in 0..cfg.cards_per_shelf {
                let mut expected = Vec::new();
                let mut observed = Vec::new();
                for s in shelves.iter().filter(|s| s.items.len() >= cfg.min_cards) {
                    for &item in &s.items {
                        expected.push(marginals.propensity(
                            &shelves,
                            &s.explanation,
                            item,
                            row,
                            column,
                        ));
                        observed.push(counts.get(&(row, column, item)).copied().unwrap_or(0));
                    }
                }
                let total: f64 = expected.iter().sum();
                assert!(
                    (total - 1.0).abs() < 1e-12,
                    "slot ({row}, {column}) sums to {total}"
                );
                let (stat, limit) = chi_square(&observed, &expected, pages);
                assert!(
                    stat < limit,
                    "ε {epsilon} slot ({row},{column}): {stat} >= {limit}"
                );
            }
        }
    }
}

#[test]
fn replay_from_the_impression_id_gives_the_same_page() {
    let shelves = shelves();
    let policy = EpsilonGreedy::new(0.5).unwrap();
    let a = assemble(&shelves, &policy, &config(), ImpressionId(99));
    let b = assemble(&shelves, &policy, &config(), ImpressionId(99));
    assert_eq!(a, b);
    let differs = (0..20).any(|i| assemble(&shelves, &policy, &config(), ImpressionId(i)) != a);
    assert!(differs, "different impressions should give different pages");
}
