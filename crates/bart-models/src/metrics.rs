//! Top-k ranking metrics of a recommender on a hold-out split: recall@k and nDCG@k, with
//! each listener's training items excluded from their ranking.

use crate::knn::VectorIndex;
use crate::listening::ListeningData;
use crate::split::Split;
use rayon::prelude::*;
use serde::Serialize;

/// Mean metrics over the listeners with at least one held-out item.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ranking {
    pub k: usize,
    pub recall: f64,
    pub ndcg: f64,
    pub listeners: usize,
}

/// `|top-k ∩ relevant| / |relevant|` (0 if nothing is relevant).
pub fn recall_at_k(ranked: &[u32], relevant: &[u32]) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let hits = ranked.iter().filter(|i| relevant.contains(i)).count();
    hits as f64 / relevant.len() as f64
}

/// DCG of the top-k (a hit at rank r, from 1, adds `1 / log2(r + 1)`) over the DCG of a
/// ranking with every relevant item first.
pub fn ndcg_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    let gain = |r: usize| 1.0 / ((r + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| relevant.contains(i))
        .map(|(r, _)| gain(r))
        .sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(gain).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// Ranks every item for every listener by `score(listener, scores)` (which fills one score
/// per item), drops the listener's training items, and averages recall@k and nDCG@k over
/// the listeners with held-out items. Ties go to the lower item index.
pub fn evaluate(split: &Split, k: usize, score: impl Fn(usize, &mut [f64]) + Sync) -> Ranking {
    let items = split.train.cols();
    let per_listener: Vec<(f64, f64)> = (0..split.test.len())
        .into_par_iter()
        .filter(|&u| !split.test[u].is_empty())
        .map_init(
            || vec![0.0; items],
            |scores, u| {
                score(u, scores);
                for &i in split.train.row(u).0 {
                    scores[i as usize] = f64::NEG_INFINITY;
                }
                let ranked = top_k(scores, k);
                (
                    recall_at_k(&ranked, &split.test[u]),
                    ndcg_at_k(&ranked, &split.test[u], k),
                )
            },
        )
        .collect();
    let n = per_listener.len().max(1) as f64;
    Ranking {
        k,
        recall: per_listener.iter().map(|m| m.0).sum::<f64>() / n,
        ndcg: per_listener.iter().map(|m| m.1).sum::<f64>() / n,
        listeners: per_listener.len(),
    }
}

/// The indices of the `k` highest scores, best first, ties by index; `-inf` never ranks.
pub fn top_k(scores: &[f64], k: usize) -> Vec<u32> {
    let order = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    let mut idx: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| scores[i as usize] > f64::NEG_INFINITY)
        .collect();
    if k < idx.len() {
        idx.select_nth_unstable_by(k, order);
        idx.truncate(k);
    }
    idx.sort_unstable_by(order);
    idx
}

/// How often similar artists share a tag with the query.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TagAgreement {
    /// Of all results, the share that has at least one of the query's top tags among its
    /// own top tags.
    pub share: f64,
    /// Queries: artists with at least `min_listeners` listeners and at least one tag.
    pub queries: usize,
}

/// Asks `index` (one row per artist of `data`) for the `k` artists most similar to each
/// artist with at least `min_listeners` listeners and a tag, and measures how many results
/// share one of the query's `top_tags` most applied tags (with their own `top_tags`).
pub fn tag_agreement(
    data: &ListeningData,
    index: &VectorIndex,
    k: usize,
    min_listeners: u32,
    top_tags: usize,
) -> TagAgreement {
    let top = |a: usize| -> Vec<u32> {
        data.artist_tags[a]
            .iter()
            .take(top_tags)
            .map(|t| t.0)
            .collect()
    };
    let queries: Vec<usize> = data
        .listeners_per_artist()
        .iter()
        .enumerate()
        .filter(|&(a, &n)| n >= min_listeners && !data.artist_tags[a].is_empty())
        .map(|(a, _)| a)
        .collect();
    let (shared, total) = queries
        .par_iter()
        .map(|&a| {
            let mine = top(a);
            let found = index.similar(a, k);
            let shared = found
                .iter()
                .filter(|n| top(n.id as usize).iter().any(|t| mine.contains(t)))
                .count();
            (shared, found.len())
        })
        .reduce(|| (0, 0), |x, y| (x.0 + y.0, x.1 + y.1));
    TagAgreement {
        share: if total == 0 {
            0.0
        } else {
            shared as f64 / total as f64
        },
        queries: queries.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::Csr;

    #[test]
    fn metrics_match_hand_computation() {
        // Relevant {3, 7}; ranked [7, 1, 3]: two hits at ranks 1 and 3.
        assert_eq!(recall_at_k(&[7, 1, 3], &[3, 7]), 1.0);
        let ndcg = ndcg_at_k(&[7, 1, 3], &[3, 7], 3);
        let expect = (1.0 + 1.0 / 4f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((ndcg - expect).abs() < 1e-15);
        assert_eq!(ndcg_at_k(&[1, 2], &[3], 2), 0.0);
        assert_eq!(recall_at_k(&[1, 3], &[3, 4, 5, 6]), 0.25);
        assert_eq!(
            top_k(&[0.5, 2.0, 0.5, f64::NEG_INFINITY, 1.0], 3),
            [1, 4, 0]
        );
        assert_eq!(top_k(&[0.5, f64::NEG_INFINITY], 5), [0]);
    }

    #[test]
    fn evaluation_excludes_training_items() {
        // Listener 0 trained on item 0, holds out item 2; listener 1 holds out nothing.
        let split = Split {
            train: Csr::from_triples(2, 4, vec![(0, 0, 1.0), (1, 1, 1.0)]),
            test: vec![vec![2], vec![]],
        };
        // Item 0 scores best but is a training item, so item 2 (next) ranks first.
        let r = evaluate(&split, 1, |_, s| s.copy_from_slice(&[9.0, 1.0, 5.0, 2.0]));
        assert_eq!((r.recall, r.ndcg, r.listeners), (1.0, 1.0, 1));
        let r = evaluate(&split, 1, |_, s| s.copy_from_slice(&[9.0, 1.0, 2.0, 5.0]));
        assert_eq!((r.recall, r.ndcg), (0.0, 0.0));
    }

    #[test]
    fn tag_agreement_counts_results_sharing_a_top_tag() {
        use crate::knn::IndexKind;
        // tiny(): artists 1 and 2 share "trip-hop"; artist 0 has no tags (never a query).
        let data = crate::listening::tests::tiny();
        // Artist vectors: 1 is nearest to 2, 2 nearest to 1, 3 nearest to 0.
        let v = [1.0, 0.0, 0.0, 1.0, 0.1, 1.0, 1.0, 0.2];
        let index = VectorIndex::build(&v, 2, IndexKind::Exact, |_| {}).unwrap();
        let all = tag_agreement(&data, &index, 1, 1, 5);
        // Queries 1, 2 and 3; results 2 (shares), 1 (shares), 0 (no tags).
        assert_eq!(all.queries, 3);
        assert!((all.share - 2.0 / 3.0).abs() < 1e-12);
        // Only artist 1 has two listeners.
        assert_eq!(tag_agreement(&data, &index, 1, 2, 5).queries, 1);
    }
}
