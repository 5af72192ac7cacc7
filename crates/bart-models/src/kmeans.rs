//! k-means (Lloyd's iterations from a k-means++ start) over item embeddings, and names for
//! the clusters from their members' tags (for "Discover: <cluster>" shelves).

use crate::error::{ModelError, Result};
use crate::linalg::{dot_f32, rows_of};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A clustering of row-major vectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    pub dim: usize,
    /// `k` row-major centroids.
    pub centroids: Vec<f32>,
    /// The cluster of each vector.
    pub assignment: Vec<u32>,
    /// The objective (sum of squared distances to the assigned centroid) after each
    /// assignment step; it never increases.
    pub objective: Vec<f64>,
}

impl KMeans {
    pub fn k(&self) -> usize {
        self.centroids.len() / self.dim
    }

    /// How many vectors each cluster holds.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.k()];
        for &c in &self.assignment {
            sizes[c as usize] += 1;
        }
        sizes
    }
}

/// Clusters `vectors` (rows of `dim`) into `k` clusters: k-means++ seeding (each next centre
/// drawn with probability proportional to its squared distance from the nearest centre so
/// far), then at most `max_iterations` assignment/update rounds, stopping when no vector moves.
/// A cluster that loses every member keeps its centroid.
pub fn kmeans(
    vectors: &[f32],
    dim: usize,
    k: usize,
    max_iterations: usize,
    seed: u64,
) -> Result<KMeans> {
    let n = rows_of(vectors, dim)?;
    if k == 0 || k > n {
        return Err(ModelError::invalid(
            "k",
            format!("{k} clusters for {n} vectors (need 1 to {n})"),
        ));
    }
    let rows: Vec<&[f32]> = vectors.chunks_exact(dim).collect();
    let mut centroids = plus_plus(&rows, k, seed);
    let mut assignment = vec![u32::MAX; n];
    let mut objective = Vec::new();
    for _ in 0..max_iterations {
        let nearest: Vec<(u32, f64)> = rows
            .par_iter()
            .map(|v| closest(v, &centroids, dim))
            .collect();
        let moved = nearest.iter().zip(&assignment).any(|(a, &b)| a.0 != b);
        objective.push(nearest.iter().map(|a| a.1).sum());
        assignment = nearest.iter().map(|a| a.0).collect();
        if !moved {
            break;
        }
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (v, &c) in rows.iter().zip(&assignment) {
            counts[c as usize] += 1;
            for (s, x) in sums[c as usize * dim..].iter_mut().zip(*v) {
                *s += *x as f64;
            }
        }
        for c in (0..k).filter(|&c| counts[c] > 0) {
            for d in 0..dim {
                centroids[c * dim + d] = (sums[c * dim + d] / counts[c] as f64) as f32;
            }
        }
    }
    Ok(KMeans {
        dim,
        centroids,
        assignment,
        objective,
    })
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
}

/// The nearest centroid (lowest index on ties) and the squared distance to it.
fn closest(v: &[f32], centroids: &[f32], dim: usize) -> (u32, f64) {
    centroids
        .chunks_exact(dim)
        .enumerate()
        .map(|(c, m)| (c as u32, squared_distance(v, m)))
        .fold(
            (0, f64::INFINITY),
            |best, x| if x.1 < best.1 { x } else { best },
        )
}

fn plus_plus(rows: &[&[f32]], k: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut centroids = rows[rng.random_range(0..rows.len())].to_vec();
    let mut d2: Vec<f64> = rows
        .par_iter()
        .map(|v| squared_distance(v, &centroids))
        .collect();
    for _ in 1..k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            d2.iter()
                .position(|&d| {
                    target -= d;
                    target < 0.0
                })
                .unwrap_or(rows.len() - 1)
        } else {
            rng.random_range(0..rows.len())
        };
        let centre = rows[pick];
        centroids.extend_from_slice(centre);
        d2.par_iter_mut()
            .zip(rows)
            .for_each(|(d, v)| *d = d.min(squared_distance(v, centre)));
    }
    centroids
}

/// Names each cluster by its `per_cluster` most characteristic tags, joined by ", ".
/// `item_tags[i]` lists item i's `(tag, count)`; each item's counts are first made shares of
/// its own tags (so heavily tagged items do not drown the rest). A tag's score in a cluster
/// is its summed share there times a smoothed inverse cluster frequency
/// `1 + ln((1 + k) / (1 + clusters whose members carry it))`, so a tag every cluster has
/// ("rock") names a cluster only where it dominates. Clusters without tags get "cluster N".
pub fn name_by_tags(
    clustering: &KMeans,
    item_tags: &[Vec<(u32, u32)>],
    tags: &[String],
    per_cluster: usize,
) -> Vec<String> {
    let k = clustering.k();
    let mut weight: Vec<HashMap<u32, f64>> = vec![HashMap::new(); k];
    for (item_tags, &c) in item_tags.iter().zip(&clustering.assignment) {
        let total: u32 = item_tags.iter().map(|t| t.1).sum();
        for &(t, n) in item_tags {
            *weight[c as usize].entry(t).or_default() += n as f64 / total as f64;
        }
    }
    let mut clusters_with: HashMap<u32, usize> = HashMap::new();
    for w in &weight {
        for &t in w.keys() {
            *clusters_with.entry(t).or_default() += 1;
        }
    }
    weight
        .iter()
        .enumerate()
        .map(|(c, w)| {
            let mut scored: Vec<(u32, f64)> = w
                .iter()
                .map(|(&t, &s)| {
                    let idf = 1.0 + ((1 + k) as f64 / (1 + clusters_with[&t]) as f64).ln();
                    (t, s * idf)
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            if scored.is_empty() {
                format!("cluster {c}")
            } else {
                let names: Vec<&str> = scored
                    .iter()
                    .take(per_cluster)
                    .map(|&(t, _)| tags[t as usize].as_str())
                    .collect();
                names.join(", ")
            }
        })
        .collect()
}

/// Unit-normalised copies of row-major vectors, so k-means clusters by cosine.
pub fn unit_rows(vectors: &[f32], dim: usize) -> Vec<f32> {
    let mut v = vectors.to_vec();
    for row in v.chunks_exact_mut(dim) {
        let norm = dot_f32(row, row).sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::gaussian_mixture;

    #[test]
    fn recovers_well_separated_blobs_and_the_objective_never_increases() {
        let (dim, blobs) = (5, 6);
        // Centres are ~N(0, 1) per coordinate; noise 0.02 keeps blobs far apart.
        let v = gaussian_mixture(3_000, dim, blobs, 0.02, 9);
        let result = kmeans(&v, dim, blobs, 100, 1).unwrap();
        // Every pair of points is together in the clustering exactly when it came from the
        // same blob: nearest-centre distances within a blob are tiny, across blobs large.
        let blob_of: Vec<usize> = v
            .chunks(dim)
            .map(|p| {
                v.chunks(dim)
                    .position(|q| squared_distance(p, q) < 0.1)
                    .unwrap()
            })
            .collect();
        for i in 0..3_000 {
            for j in (i + 1..3_000).step_by(97) {
                assert_eq!(
                    blob_of[i] == blob_of[j],
                    result.assignment[i] == result.assignment[j],
                    "points {i} and {j}"
                );
            }
        }
        assert_eq!(result.sizes().iter().filter(|&&s| s > 0).count(), blobs);
        assert!(result.objective.windows(2).all(|w| w[1] <= w[0]));
        let bound = 3_000.0 * dim as f64 * 0.02f64.powi(2) * 1.5;
        assert!(*result.objective.last().unwrap() < bound);

        // On overlapping blobs Lloyd takes many rounds: still never up.
        let overlapping = gaussian_mixture(3_000, dim, 12, 0.8, 4);
        let r = kmeans(&overlapping, dim, 8, 50, 2).unwrap();
        assert!(r.objective.len() > 3);
        assert!(
            r.objective.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12)),
            "{:?}",
            r.objective
        );
        assert_eq!(kmeans(&overlapping, dim, 8, 50, 2).unwrap(), r);
        assert!(kmeans(&v, dim, 0, 10, 1).is_err());
    }

    #[test]
    fn names_come_from_characteristic_tags() {
        let clustering = KMeans {
            dim: 1,
            centroids: vec![0.0, 1.0, 2.0],
            assignment: vec![0, 0, 1, 1],
            objective: vec![],
        };
        let tags: Vec<String> = ["rock", "jazz", "metal"].map(String::from).to_vec();
        // "rock" is in both named clusters, so a cluster's own tag outranks it.
        let item_tags = vec![
            vec![(0, 5), (1, 4)],
            vec![(1, 2)],
            vec![(0, 3), (2, 3)],
            vec![(2, 1)],
        ];
        let names = name_by_tags(&clustering, &item_tags, &tags, 2);
        assert_eq!(names, ["jazz, rock", "metal, rock", "cluster 2"]);
    }
}
