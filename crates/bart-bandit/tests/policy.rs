//! Exactness of the policies' probabilities and of page propensities: property tests over
//! random candidate sets, page rules, ε, temperatures and bags, and chi-square tests of
//! empirical frequencies over 100,000+ seeded pages against the logged probabilities.

use bart_bandit::page::obeying_rules;
use bart_bandit::{
    CandidateShelf, EpsilonGreedy, PageConfig, PagePlan, Pin, PlannedShelf, Policy, ScoredShelf,
    Scores, ShelfSummary,
};
use bart_core::{
    ArtistId, Explanation, ExplanationKind, Exploration, GenreId, ImpressionId, ItemId, Page,
    RegionId,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use statrs::distribution::{ChiSquared, ContinuousCDF};
use std::collections::HashMap;

/// Pearson's chi-square of observed counts against expected counts (cells with an expected
/// count below 5 are pooled), and the 0.999 quantile for its degrees of freedom.
/// r' without a shelf model: the mean of the best cards' scores.
fn by_top_mean(_: &Explanation, s: &ShelfSummary) -> f64 {
    s.top_mean
}

fn chi_square(observed: &[u64], expected: &[f64]) -> (f64, f64) {
    let (mut stat, mut df) = (0.0, 0usize);
    let (mut pool_o, mut pool_e) = (0.0, 0.0);
    for (&o, &e) in observed.iter().zip(expected) {
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
    if df < 2 {
        // One cell holds everything: observed must equal expected.
        return (stat, 1e-6);
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
            let all: Vec<usize> = (0..remaining.len()).collect();
            let (j, pj) = Policy::from(policy).draw(Scores::single(&remaining), &all, &mut rng, &mut Vec::new());
            prop_assert_eq!(pj, p[j]);
            remaining.remove(j);
        }
    }

    #[test]
    fn epsilon_greedy_draws_are_the_draws_of_its_probabilities(
        scores in scores_strategy(),
        epsilon in prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0],
        k in 1usize..30,
        seed in any::<u64>(),
    ) {
        // draw_without_replacement ranks once; a draw from the full probability vector at
        // every step must give the same picks and probabilities from the same random numbers.
        let policy = Policy::from(EpsilonGreedy::new(epsilon).unwrap());
        let fast = policy.draw_without_replacement(
            Scores::single(&scores),
            k,
            &mut Xoshiro256PlusPlus::seed_from_u64(seed),
        );
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut remaining: Vec<usize> = (0..scores.len()).collect();
        let mut slow = Vec::new();
        while slow.len() < k && !remaining.is_empty() {
            let (at, p) = policy.draw(Scores::single(&scores), &remaining, &mut rng, &mut Vec::new());
            slow.push((remaining.remove(at), p));
        }
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn marginals_are_distributions_over_candidates_and_steps(
        scores in scores_strategy(),
        epsilon in 0.0f64..=1.0,
        k in 1usize..8,
    ) {
        let m = Policy::from(EpsilonGreedy::new(epsilon).unwrap()).marginals(&scores, k).unwrap();
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
        let policy = Policy::from(EpsilonGreedy::new(epsilon).unwrap());
        let marginals = policy.marginals(&scores, k).unwrap();
        let mut counts = vec![0u64; n * k];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..draws {
            for (t, (i, _)) in policy
                .draw_without_replacement(Scores::single(&scores), k, &mut rng)
                .into_iter()
                .enumerate()
            {
                counts[t * n + i] += 1;
            }
        }
        for t in 0..k {
            let expected: Vec<f64> = (0..n).map(|i| marginals.get(t, i) * draws as f64).collect();
            let (stat, limit) = chi_square(&counts[t * n..(t + 1) * n], &expected);
            assert!(stat < limit, "ε {epsilon} step {t}: chi2 {stat} >= {limit}");
        }
    }
}

/// The artist of an item in these tests: four artists, and every seventh item has none.
fn artist_of(item: ItemId) -> Option<ArtistId> {
    (!item.0.is_multiple_of(7)).then_some(ArtistId(item.0 % 4))
}

/// A distinct explanation per shelf index.
fn explanation(s: usize) -> Explanation {
    let arg = s as u32;
    match s % 5 {
        0 => Explanation::BecauseYouListened(ArtistId(arg)),
        1 => Explanation::YourTopGenre(GenreId(arg as u16)),
        2 => Explanation::PopularIn(RegionId(arg as u16)),
        3 if s == 3 => Explanation::JumpBackIn,
        _ => Explanation::Discover(GenreId(arg as u16)),
    }
}

/// Shelves from (item, score per bag) lists; the mean score is the bags' mean.
fn scored(shelves: &[Vec<(u32, Vec<f64>)>], bag_count: usize) -> Vec<ScoredShelf> {
    shelves
        .iter()
        .enumerate()
        .map(|(s, items)| {
            let bags: Vec<Vec<f64>> = (0..bag_count)
                .map(|b| items.iter().map(|(_, v)| v[b]).collect())
                .collect();
            ScoredShelf {
                explanation: explanation(s),
                items: items.iter().map(|(i, _)| ItemId(*i)).collect(),
                scores: items
                    .iter()
                    .map(|(_, v)| v.iter().sum::<f64>() / v.len() as f64)
                    .collect(),
                bags,
            }
        })
        .collect()
}

/// r' as documented: the mean of the best `k` scores.
fn top_mean(scores: &[f64], k: usize) -> f64 {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    s.truncate(k);
    s.iter().sum::<f64>() / s.len() as f64
}

/// One draw of a page replayed: the step's slot, the candidates left, the policy's
/// probabilities over them and the position drawn.
struct Step {
    slot: (usize, usize),
    items: Vec<ItemId>,
    probabilities: Vec<f64>,
    chosen: usize,
}

/// Checks that the plan obeys every rule and drops nothing it need not.
fn check_plan(plan: &PagePlan, shelves: &[ScoredShelf], config: &PageConfig) {
    let mut seen = HashMap::new();
    for p in plan.shelves() {
        let source = shelves
            .iter()
            .find(|s| s.explanation == p.explanation)
            .expect("a planned shelf comes from the candidates");
        assert!(p.items.len() >= config.min_cards, "short shelf kept");
        let mut per_artist: HashMap<ArtistId, usize> = HashMap::new();
        for (j, &item) in p.items.iter().enumerate() {
            assert!(
                seen.insert(item, p.explanation).is_none(),
                "{item} planned twice"
            );
            // A repeated candidate keeps its first place and score.
            let first = source.items.iter().position(|&i| i == item).unwrap();
            assert_eq!(p.scores[j], source.scores[first]);
            if let Some(a) = artist_of(item) {
                *per_artist.entry(a).or_default() += 1;
            }
        }
        if let Some(cap) = config.max_per_artist {
            assert!(per_artist.values().all(|&n| n <= cap), "{per_artist:?}");
        }
        assert_eq!(p.score, top_mean(&p.scores, config.cards_per_shelf));
        // Nothing dropped without a reason: a left-out candidate is on another planned shelf,
        // or its artist is already at the cap here.
        // (Rules look at candidates only: the same plan whatever the scores.)
        for &item in &source.items {
            if !p.items.contains(&item) {
                let elsewhere = seen.get(&item).is_some_and(|e| *e != p.explanation)
                    || plan
                        .shelves()
                        .iter()
                        .any(|q| q.explanation != p.explanation && q.items.contains(&item));
                let capped = artist_of(item)
                    .is_some_and(|a| config.max_per_artist == per_artist.get(&a).copied());
                assert!(elsewhere || capped, "{item} dropped from {}", p.explanation);
            }
        }
    }
    let rows = config.rows.min(plan.shelves().len());
    assert_eq!(plan.pinned().len(), rows);
    for pin in &config.pinned {
        let candidates: Vec<&PlannedShelf> = plan
            .shelves()
            .iter()
            .filter(|s| s.explanation.kind() == pin.kind)
            .collect();
        if pin.row < rows && !candidates.is_empty() {
            let v = plan.pinned()[pin.row].expect("a pinned row with a shelf of its kind");
            // The first shelf of its kind (not pinned to another row), whatever the scores.
            assert_eq!(plan.shelves()[v].explanation, candidates[0].explanation);
        }
    }
}

/// Replays a page's draws from the plan, checking each logged probability against the
/// policy's own at that step, and the page against every rule. Returns the card steps.
fn replay(page: &Page, plan: &PagePlan, policy: Policy, config: &PageConfig) -> Vec<Step> {
    let planned = plan.shelves();
    let rows = plan.pinned();
    assert_eq!(page.shelves.len(), rows.len());
    let mut free: Vec<usize> = (0..planned.len())
        .filter(|v| !rows.contains(&Some(*v)))
        .collect();
    let bag_count = planned.first().map_or(0, |p| p.bags.len());
    let mut on_page = HashMap::new();
    let mut steps = Vec::new();
    let mut log_p = 0.0;
    let mut scratch = Vec::new();
    for (row, shelf) in page.shelves.iter().enumerate() {
        assert_eq!(usize::from(shelf.row), row);
        let v = planned
            .iter()
            .position(|p| p.explanation == shelf.explanation)
            .expect("shown shelves are planned");
        match rows[row] {
            Some(pinned) => {
                assert_eq!(pinned, v, "row {row} is pinned");
                assert_eq!(shelf.probability, 1.0);
            }
            None => {
                let mean: Vec<f64> = free.iter().map(|&f| planned[f].score).collect();
                let bags: Vec<Vec<f64>> = (0..bag_count)
                    .map(|b| {
                        free.iter()
                            .map(|&f| top_mean(&planned[f].bags[b], config.cards_per_shelf))
                            .collect()
                    })
                    .collect();
                let all: Vec<usize> = (0..free.len()).collect();
                policy.probabilities(
                    Scores {
                        mean: &mean,
                        bags: &bags,
                    },
                    &all,
                    &mut scratch,
                );
                let sum: f64 = scratch.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-12,
                    "shelf probabilities sum to {sum}"
                );
                let at = free
                    .iter()
                    .position(|&f| f == v)
                    .expect("drawn from the free shelves");
                assert!((shelf.probability - scratch[at]).abs() < 1e-12);
                free.remove(at);
            }
        }
        log_p += shelf.probability.ln();
        let p = &planned[v];
        assert_eq!(shelf.score, p.score);
        assert_eq!(shelf.cards.len(), config.cards_per_shelf.min(p.items.len()));
        let mut left: Vec<usize> = (0..p.items.len()).collect();
        let mut per_artist: HashMap<ArtistId, usize> = HashMap::new();
        for (column, card) in shelf.cards.iter().enumerate() {
            assert_eq!(usize::from(card.column), column);
            assert!(
                on_page.insert(card.item, row).is_none(),
                "{} twice on the page",
                card.item
            );
            if let Some(a) = artist_of(card.item) {
                *per_artist.entry(a).or_default() += 1;
            }
            policy.probabilities(
                Scores {
                    mean: &p.scores,
                    bags: &p.bags,
                },
                &left,
                &mut scratch,
            );
            let sum: f64 = scratch.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12, "card probabilities sum to {sum}");
            let at = left
                .iter()
                .position(|&j| p.items[j] == card.item)
                .expect("drawn from the shelf's remaining items");
            assert!((card.probability - scratch[at]).abs() < 1e-12);
            assert_eq!(card.score, p.scores[left[at]]);
            assert_eq!(
                card.propensity,
                plan.propensity(&shelf.explanation, card.item, row, column)
            );
            assert_eq!(
                card.propensity.is_some(),
                policy.marginals(&[1.0], 1).is_some()
            );
            log_p += card.probability.ln();
            steps.push(Step {
                slot: (row, column),
                items: left.iter().map(|&j| p.items[j]).collect(),
                probabilities: scratch.clone(),
                chosen: at,
            });
            left.remove(at);
        }
        if let Some(cap) = config.max_per_artist {
            assert!(per_artist.values().all(|&n| n <= cap));
        }
    }
    assert!((page.log_probability() - log_p).abs() < 1e-9);
    steps
}

fn policy_strategy(bags: usize) -> impl Strategy<Value = Policy> {
    prop_oneof![
        (0.0f64..=1.0).prop_map(|epsilon| Exploration::EpsilonGreedy { epsilon }),
        (0.01f64..3.0).prop_map(|temperature| Exploration::Softmax { temperature }),
        Just(Exploration::Thompson { bags: bags as u32 }),
    ]
    .prop_map(|e| Policy::new(e).unwrap())
}

fn page_case() -> impl Strategy<Value = (Vec<ScoredShelf>, PageConfig, Policy, u64)> {
    (1usize..4).prop_flat_map(|bags| {
        let item = (
            0u32..24,
            prop::collection::vec((0u8..5).prop_map(|v| f64::from(v) / 4.0), bags),
        );
        let shelves = prop::collection::vec(prop::collection::vec(item, 0..12), 1..7);
        let config = (
            1usize..5,
            1usize..6,
            0usize..4,
            prop::option::of(1usize..3),
            0u8..4,
        )
            .prop_map(|(rows, cards, min, max_per_artist, pins)| {
                // "Jump back in" (one shelf at most) in the middle, and "because you
                // listened" (shelves 0 and 5, so possibly two) on the last row.
                let jump = Pin {
                    kind: ExplanationKind::JumpBackIn,
                    row: rows / 2,
                };
                let listened = Pin {
                    kind: ExplanationKind::BecauseYouListened,
                    row: rows - 1,
                };
                let pinned = match pins {
                    1 => vec![jump],
                    2 => vec![listened],
                    3 if rows >= 3 => vec![jump, listened],
                    _ => Vec::new(),
                };
                PageConfig {
                    rows,
                    cards_per_shelf: cards,
                    min_cards: 1 + min % cards,
                    max_per_artist,
                    pinned,
                }
            });
        (shelves, config, policy_strategy(bags), any::<u64>())
            .prop_map(move |(s, c, p, seed)| (scored(&s, bags), c, p, seed))
    })
}

proptest! {
    #[test]
    fn pages_follow_the_rules_and_log_each_draws_probability(
        (shelves, config, policy, seed) in page_case()
    ) {
        config.validate().unwrap();
        let plan = PagePlan::new(&shelves, policy, &config, &artist_of, &by_top_mean).unwrap();
        check_plan(&plan, &shelves, &config);
        // The rules never look at scores: unscored candidates give the same shelves, items
        // and pinned rows, so every policy draws from the same sets.
        let unscored: Vec<ScoredShelf> = shelves
            .iter()
            .map(|s| ScoredShelf { scores: vec![0.0; s.items.len()], bags: Vec::new(), ..s.clone() })
            .collect();
        let uniform = PagePlan::new(&unscored, Policy::uniform(), &config, &artist_of, &by_top_mean).unwrap();
        let layout = |p: &PagePlan| -> Vec<(Explanation, Vec<ItemId>)> {
            p.shelves().iter().map(|s| (s.explanation, s.items.clone())).collect()
        };
        prop_assert_eq!(layout(&plan), layout(&uniform));
        // Applying the rules before scoring (as serving does) keeps the same candidates.
        let candidates: Vec<CandidateShelf> = shelves
            .iter()
            .map(|s| CandidateShelf { explanation: s.explanation, items: s.items.clone() })
            .collect();
        let rule = |config: &PageConfig| -> Vec<(Explanation, Vec<ItemId>)> {
            obeying_rules(candidates.clone(), config, &artist_of)
                .into_iter()
                .map(|c| (c.explanation, c.items))
                .collect()
        };
        prop_assert_eq!(layout(&plan), rule(&config));
        // Without a cap the rules keep each item's first candidate by (position, shelf), in
        // two passes; a cap no shelf reaches takes the general sweep: the same candidates.
        let no_cap = PageConfig { max_per_artist: None, ..config.clone() };
        let unreachable = PageConfig { max_per_artist: Some(usize::MAX), ..config.clone() };
        prop_assert_eq!(rule(&no_cap), rule(&unreachable));
        prop_assert_eq!(plan.pinned(), uniform.pinned());
        for id in seed..seed.wrapping_add(5) {
            let page = plan.assemble(ImpressionId(id));
            replay(&page, &plan, policy, &config);
            prop_assert_eq!(&page, &plan.assemble(ImpressionId(id)));
        }
    }
}

/// Six shelves sharing items (1, 2 and 3), one with three items of artist 0 (40, 44, 48),
/// one too short to show.
fn shelves(bags: usize) -> Vec<ScoredShelf> {
    let spec: [&[(u32, f64)]; 6] = [
        &[(0, 0.2), (1, 0.4), (2, 0.1), (3, 0.3), (5, 0.05)],
        &[(10, 0.1), (11, 0.1), (2, 0.3), (13, 0.2)],
        &[(30, 0.05), (31, 0.15), (32, 0.25), (3, 0.1)],
        &[(20, 0.9), (1, 0.8), (21, 0.1), (22, 0.3)],
        &[
            (40, 0.01),
            (41, 0.02),
            (42, 0.5),
            (43, 0.03),
            (44, 0.3),
            (48, 0.2),
        ],
        &[(50, 0.7), (2, 0.1)],
    ];
    let items: Vec<Vec<(u32, Vec<f64>)>> = spec
        .iter()
        .map(|shelf| {
            shelf
                .iter()
                .map(|&(i, s)| {
                    // Bags disagree around the mean s.
                    let v = (0..bags)
                        .map(|b| s + 0.1 * ((i as usize * 7 + b * 3) % 5) as f64 - 0.2)
                        .collect();
                    (i, v)
                })
                .collect()
        })
        .collect();
    scored(&items, bags)
}

fn config() -> PageConfig {
    PageConfig {
        rows: 3,
        cards_per_shelf: 3,
        min_cards: 3,
        max_per_artist: Some(2),
        pinned: vec![Pin {
            kind: ExplanationKind::JumpBackIn,
            row: 1,
        }],
    }
}

#[test]
fn page_slot_frequencies_match_logged_probabilities_for_every_policy() {
    let cfg = config();
    let pages = 100_000u64;
    let policies = [
        (Exploration::EpsilonGreedy { epsilon: 0.3 }, 1),
        (Exploration::UNIFORM, 1),
        (Exploration::Softmax { temperature: 0.1 }, 1),
        (Exploration::Thompson { bags: 4 }, 4),
    ];
    for (exploration, bags) in policies {
        let policy = Policy::new(exploration).unwrap();
        let shelves = shelves(bags);
        let plan = PagePlan::new(&shelves, policy, &cfg, &artist_of, &by_top_mean).unwrap();
        check_plan(&plan, &shelves, &cfg);
        // The rules bite: the short shelf is dropped, items 1, 2 and 3 stay on the first
        // shelf (no other ranks them higher), the shelf with three items of artist 0 keeps its first two, and "Jump back
        // in" takes row 1.
        let on = |i: u32| -> Vec<Explanation> {
            let on = plan
                .shelves()
                .iter()
                .filter(|s| s.items.contains(&ItemId(i)));
            on.map(|s| s.explanation).collect()
        };
        assert_eq!(plan.shelves().len(), 5);
        for i in [1, 2, 3] {
            assert_eq!(on(i), [explanation(0)]);
        }
        assert_eq!(on(44), [explanation(4)]);
        assert_eq!(on(48), []);
        assert_eq!(on(50), []);
        assert_eq!(
            plan.shelves()[plan.pinned()[1].unwrap()].explanation,
            Explanation::JumpBackIn
        );
        let mut counts: HashMap<(usize, usize, ItemId), u64> = HashMap::new();
        // Σ over pages of the probability each step gave each item: its expectation is the
        // slot's marginal, whatever the policy (the tower rule).
        let mut expected: HashMap<(usize, usize, ItemId), f64> = HashMap::new();
        let mut exact: HashMap<(usize, usize, ItemId), f64> = HashMap::new();
        for id in 0..pages {
            let page = plan.assemble(ImpressionId(id));
            let steps = if id < 2_000 {
                replay(&page, &plan, policy, &cfg)
            } else {
                fast_steps(&page, &plan, policy)
            };
            for step in steps {
                let (row, column) = step.slot;
                *counts
                    .entry((row, column, step.items[step.chosen]))
                    .or_default() += 1;
                for (item, p) in step.items.iter().zip(&step.probabilities) {
                    *expected.entry((row, column, *item)).or_default() += p;
                }
            }
            for shelf in &page.shelves {
                for card in &shelf.cards {
                    if let Some(p) = card.propensity {
                        exact.insert(
                            (usize::from(shelf.row), usize::from(card.column), card.item),
                            p,
                        );
                    }
                }
            }
        }
        let mut slots: Vec<(usize, usize)> = expected.keys().map(|&(r, c, _)| (r, c)).collect();
        slots.sort();
        slots.dedup();
        for (row, column) in slots {
            let keys: Vec<ItemId> = expected
                .keys()
                .filter(|k| (k.0, k.1) == (row, column))
                .map(|k| k.2)
                .collect();
            let observed: Vec<u64> = keys
                .iter()
                .map(|&i| counts.get(&(row, column, i)).copied().unwrap_or(0))
                .collect();
            let mean: Vec<f64> = keys.iter().map(|&i| expected[&(row, column, i)]).collect();
            let (stat, limit) = chi_square(&observed, &mean);
            assert!(
                stat < limit,
                "{exploration} slot ({row},{column}): {stat} >= {limit}"
            );
            if policy.marginals(&[1.0], 1).is_some() {
                // ε-greedy also has exact slot marginals: test the counts against them too.
                let marginal: Vec<f64> = keys
                    .iter()
                    .map(|&i| {
                        let e = plan
                            .shelves()
                            .iter()
                            .find(|s| s.items.contains(&i))
                            .unwrap();
                        plan.propensity(&e.explanation, i, row, column).unwrap() * pages as f64
                    })
                    .collect();
                let (stat, limit) = chi_square(&observed, &marginal);
                assert!(
                    stat < limit,
                    "{exploration} slot ({row},{column}) vs marginals: {stat} >= {limit}"
                );
                for (&i, m) in keys.iter().zip(&marginal) {
                    if let Some(p) = exact.get(&(row, column, i)) {
                        assert!((p * pages as f64 - m).abs() < 1e-6);
                    }
                }
            }
        }
    }
}

/// The card steps of a page without the rule checks of [`replay`].
fn fast_steps(page: &Page, plan: &PagePlan, policy: Policy) -> Vec<Step> {
    let mut steps = Vec::new();
    for shelf in &page.shelves {
        let p = plan
            .shelves()
            .iter()
            .find(|p| p.explanation == shelf.explanation)
            .unwrap();
        let mut left: Vec<usize> = (0..p.items.len()).collect();
        let mut probabilities = Vec::new();
        for card in &shelf.cards {
            policy.probabilities(
                Scores {
                    mean: &p.scores,
                    bags: &p.bags,
                },
                &left,
                &mut probabilities,
            );
            let at = left.iter().position(|&j| p.items[j] == card.item).unwrap();
            steps.push(Step {
                slot: (usize::from(shelf.row), usize::from(card.column)),
                items: left.iter().map(|&j| p.items[j]).collect(),
                probabilities: probabilities.clone(),
                chosen: at,
            });
            left.remove(at);
        }
    }
    steps
}

#[test]
fn policies_give_their_closed_forms() {
    let scores = [0.1, 0.5, 0.3];
    let all = [0, 1, 2];
    let mut p = Vec::new();
    let softmax = Policy::new(Exploration::Softmax { temperature: 0.2 }).unwrap();
    softmax.probabilities(Scores::single(&scores), &all, &mut p);
    let z: f64 = scores.iter().map(|s| (s / 0.2f64).exp()).sum();
    for (pi, s) in p.iter().zip(scores) {
        assert!((pi - (s / 0.2f64).exp() / z).abs() < 1e-15);
    }
    // Over the remaining {0, 2} only.
    softmax.probabilities(Scores::single(&scores), &[0, 2], &mut p);
    let z2 = (0.1f64 / 0.2).exp() + (0.3f64 / 0.2).exp();
    assert!((p[0] - (0.1f64 / 0.2).exp() / z2).abs() < 1e-15);
    // Thompson: the share of bags whose best remaining candidate each one is.
    let bags = vec![
        vec![0.9, 0.1, 0.2],
        vec![0.1, 0.8, 0.2],
        vec![0.3, 0.7, 0.9],
        vec![0.5, 0.6, 0.4],
    ];
    let ts = Policy::new(Exploration::Thompson { bags: 4 }).unwrap();
    let mean = [0.45, 0.55, 0.425];
    ts.probabilities(
        Scores {
            mean: &mean,
            bags: &bags,
        },
        &all,
        &mut p,
    );
    assert_eq!(p, vec![0.25, 0.5, 0.25]);
    ts.probabilities(
        Scores {
            mean: &mean,
            bags: &bags,
        },
        &[0, 2],
        &mut p,
    );
    assert_eq!(p, vec![0.5, 0.5]);
    // Bad parameters are refused with their names.
    for (bad, name) in [
        (Exploration::Softmax { temperature: 0.0 }, "temperature"),
        (
            Exploration::Softmax {
                temperature: f64::NAN,
            },
            "temperature",
        ),
        (Exploration::Thompson { bags: 0 }, "bags"),
        (Exploration::EpsilonGreedy { epsilon: -0.1 }, "epsilon"),
    ] {
        assert!(Policy::new(bad).unwrap_err().to_string().contains(name));
    }
}

#[test]
fn replay_from_the_impression_id_gives_the_same_page() {
    let shelves = shelves(1);
    let policy = Policy::from(EpsilonGreedy::new(0.5).unwrap());
    let plan = PagePlan::new(&shelves, policy, &config(), &artist_of, &by_top_mean).unwrap();
    let a = plan.assemble(ImpressionId(99));
    assert_eq!(
        a,
        PagePlan::new(&shelves, policy, &config(), &artist_of, &by_top_mean)
            .unwrap()
            .assemble(ImpressionId(99))
    );
    let differs = (0..20).any(|i| plan.assemble(ImpressionId(i)) != a);
    assert!(differs, "different impressions should give different pages");
}

#[test]
fn thompson_sampling_refuses_shelves_without_its_bags() {
    let thompson = Policy::new(Exploration::Thompson { bags: 4 }).unwrap();
    let plan = |shelves: &[ScoredShelf]| {
        PagePlan::new(shelves, thompson, &config(), &artist_of, &by_top_mean)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(plan(&shelves(4)), None);
    // Three bags, none, or a bag shorter than its shelf: named, not served greedily.
    for wrong in [shelves(3), shelves(1)] {
        let err = plan(&wrong).expect("refused");
        assert!(err.contains("bags") && err.contains("score_bags"), "{err}");
    }
    let mut short = shelves(4);
    short[2].bags[1].pop();
    assert!(plan(&short).is_some());
    // Other policies ignore bags.
    let epsilon = Policy::from(EpsilonGreedy::new(0.1).unwrap());
    assert!(PagePlan::new(&short, epsilon, &config(), &artist_of, &by_top_mean).is_ok());
}
