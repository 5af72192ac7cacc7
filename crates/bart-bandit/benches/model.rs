//! Reward-model throughput: one optimiser step and one prediction on examples shaped like
//! bart's cards (23 namespace features, three of them high-cardinality), a page's worth of
//! pairwise scores, and parsing VW `cb_adf` text.
//!
//! `cargo bench -p bart-bandit --bench model`

use bart_bandit::vw::read_training;
use bart_bandit::{Features, ModelConfig, ModelKind, Namespace, Pair, RewardModel};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// 4,096 examples: 20 low-cardinality features and item, artist and instance ids.
fn examples() -> Vec<Features> {
    let ns: Vec<Namespace> = ["c", "i", "e", "r", "p"]
        .iter()
        .map(|n| Namespace::new(n.as_bytes()))
        .collect();
    (0..4096u64)
        .map(|k| {
            let mut f = Features::default();
            let mix = |salt: u64| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7) ^ salt;
            for (j, n) in ns.iter().enumerate() {
                f.namespace(n);
                for slot in 0..4u64 {
                    f.add(n, "low", (mix(slot + 10 * j as u64) % 8) * 10 + slot);
                }
            }
            let i = &ns[1];
            f.add(i, "item", mix(1) % 20_000);
            f.add(i, "artist", mix(2) % 2_000);
            f.add(&ns[2], "instance", mix(3) % 2_000);
            f
        })
        .collect()
}

fn models(c: &mut Criterion) {
    let data = examples();
    let mut group = c.benchmark_group("model");
    group.throughput(Throughput::Elements(data.len() as u64));
    for (name, kind, rank) in [
        ("lr", ModelKind::Lr, 0),
        ("fm2_r16", ModelKind::Fm2, 16),
        ("fm2_r32", ModelKind::Fm2, 32),
        ("fm3_r16", ModelKind::Fm3, 16),
    ] {
        let config = ModelConfig {
            kind,
            rank: rank.max(1),
            ..ModelConfig::default()
        };
        let mut model = RewardModel::new(config).unwrap();
        for (k, f) in data.iter().enumerate() {
            model.update(&f.example(), (k % 7 == 0) as u8 as f64, 2.0);
        }
        group.bench_function(format!("update/{name}"), |b| {
            b.iter(|| {
                for (k, f) in data.iter().enumerate() {
                    black_box(model.update(&f.example(), (k % 7 == 0) as u8 as f64, 2.0));
                }
            })
        });
        group.bench_function(format!("predict/{name}"), |b| {
            b.iter(|| {
                data.iter()
                    .map(|f| model.predict(&f.example()))
                    .sum::<f64>()
            })
        });
    }
    group.finish();
}

/// The arithmetic of a page's scores ([`bart_bandit::Pairwise::probabilities`], FM rank 32):
/// 3,255 pairs over 100 fixed groups, their item rows picked at random from a table of
/// 20,000 (as a page's are) or from 64 that stay in cache.
fn pairwise(c: &mut Criterion) {
    let r = Namespace::new(b"r");
    let mut model = RewardModel::new(ModelConfig {
        kind: ModelKind::Fm2,
        rank: 32,
        ..ModelConfig::default()
    })
    .unwrap();
    let data = examples();
    for (k, f) in data.iter().enumerate() {
        model.update(&f.example(), (k % 7 == 0) as u8 as f64, 2.0);
    }
    let reals = [
        r.id(b"genre_share"),
        r.id(b"artist_share"),
        r.id(b"preference"),
    ];
    let pairwise = model.pairwise(&reals).unwrap();
    let partial = |f: &Features| {
        let mut p = model.partial();
        model.add_to(&mut p, &f.example());
        p
    };
    let fixed: Vec<_> = data[..100]
        .iter()
        .map(|f| pairwise.fixed(&partial(f)))
        .collect();
    let width = pairwise.row_len();
    let mut table = vec![0.0; 20_000 * width];
    for (row, f) in table.chunks_exact_mut(width).zip(data.iter().cycle()) {
        pairwise.item_row(&partial(f), row);
    }
    let mut group = c.benchmark_group("pairwise");
    group.throughput(Throughput::Elements(3255));
    for (name, items) in [("rows_of_20000", 20_000), ("rows_of_64", 64)] {
        let pairs: Vec<Option<Pair<'_, 3>>> = (0..3255u64)
            .map(|k| {
                let item = (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize % items;
                let values = [0.1 * (k % 5) as f32, 0.05 * (k % 3) as f32, 0.0];
                Some(((k / 33) as u32, &table[item * width..][..width], values))
            })
            .collect();
        let mut out = Vec::with_capacity(pairs.len());
        group.bench_function(format!("3255_pairs/{name}"), |b| {
            b.iter(|| {
                out.clear();
                pairwise.probabilities(&fixed, &pairs, 0.5, &mut out);
                black_box(out.last().copied())
            })
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut text = String::new();
    for k in 0..20_000usize {
        text.push_str(&format!(
            "shared |U country={} hour={} device={}\n",
            k % 10,
            k % 6,
            k % 3
        ));
        for a in 0..10 {
            let label = if a == k % 10 { "0:-1:0.1 " } else { "" };
            text.push_str(&format!("{label}|A action={a} genre={}\n", a % 5));
        }
        text.push('\n');
    }
    let mut group = c.benchmark_group("vw");
    group.throughput(Throughput::Elements(20_000));
    group.bench_function("read_training/20k_examples_x10_actions", |b| {
        b.iter(|| read_training(std::path::Path::new("bench.txt"), text.as_bytes()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, models, pairwise, parse);
criterion_main!(benches);
