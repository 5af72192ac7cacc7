//! Page assembly on its own: the rules, shelf scores, row and card draws and exact slot
//! propensities of a 10 x 10 page from 31 scored candidate shelves of about 105 items
//! (3,250 pairs, as `bart bench page` sees them), for each policy.
//!
//! `cargo bench -p bart-bandit --bench page`

use bart_bandit::{PageConfig, PagePlan, Policy, ScoredShelf, ShelfSummary};
use bart_core::{ArtistId, Explanation, Exploration, GenreId, ImpressionId, ItemId};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// 31 shelves with overlapping items and pseudo-random scores; `bags` bagged scores each.
/// r' without a shelf model: the mean of the best cards' scores.
fn by_top_mean(_: &Explanation, s: &ShelfSummary) -> f64 {
    s.top_mean
}

fn shelves(bags: usize) -> Vec<ScoredShelf> {
    let mix = |k: u64| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    (0..31u64)
        .map(|s| {
            let items: Vec<ItemId> = (0..105u32).map(|j| ItemId(s as u32 * 90 + j)).collect();
            let score = |b: u64, j: usize| 0.05 + 0.4 * mix(s * 1_000_003 + j as u64 * 7 + b);
            let bags: Vec<Vec<f64>> = (0..bags as u64)
                .map(|b| (0..items.len()).map(|j| score(b + 1, j)).collect())
                .collect();
            let scores = (0..items.len())
                .map(|j| {
                    if bags.is_empty() {
                        score(0, j)
                    } else {
                        bags.iter().map(|b| b[j]).sum::<f64>() / bags.len() as f64
                    }
                })
                .collect();
            ScoredShelf {
                explanation: Explanation::Discover(GenreId(s as u16)),
                items,
                scores,
                bags,
            }
        })
        .collect()
}

fn bench_page(c: &mut Criterion) {
    let config = PageConfig {
        rows: 10,
        cards_per_shelf: 10,
        min_cards: 3,
        ..PageConfig::default()
    };
    let artist = |i: ItemId| Some(ArtistId(i.0 % 500));
    for (name, exploration, bags) in [
        (
            "epsilon_greedy",
            Exploration::EpsilonGreedy { epsilon: 0.1 },
            0,
        ),
        ("softmax", Exploration::Softmax { temperature: 0.05 }, 0),
        ("thompson_8", Exploration::Thompson { bags: 8 }, 8),
    ] {
        let scored = shelves(bags);
        let policy = Policy::new(exploration).unwrap();
        let mut id = 0;
        c.bench_function(&format!("page_{name}"), |b| {
            b.iter(|| {
                id += 1;
                let plan =
                    PagePlan::new(black_box(&scored), policy, &config, &artist, &by_top_mean)
                        .unwrap();
                black_box(plan.assemble(ImpressionId(id)))
            })
        });
    }
}

criterion_group!(benches, bench_page);
criterion_main!(benches);
