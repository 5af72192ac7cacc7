//! "Similar items": the nearest neighbours of a vector by cosine similarity, exact or
//! approximate behind one type. Exact search scores every vector (in parallel over queries);
//! the approximate index is a hierarchical navigable small world graph (HNSW, from `hnsw_rs`,
//! cargo feature `hnsw`), which answers in a few thousand distance computations. Below about
//! 100,000 vectors exact search is fast enough, and deterministic; [`IndexKind::auto`] picks.

use crate::error::Result;
use crate::linalg::{dot_f32, rows_of};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One result: a vector's row index and its cosine similarity to the query.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Neighbour {
    pub id: u32,
    pub similarity: f32,
}

/// Parameters of the HNSW graph.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Links per node and layer (M).
    pub connections: usize,
    /// Candidates kept while inserting (efConstruction).
    pub ef_construction: usize,
    /// Candidates kept while searching (efSearch; at least k is used).
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            connections: 16,
            ef_construction: 100,
            ef_search: 384,
        }
    }
}

/// Which search an index runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum IndexKind {
    Exact,
    Hnsw(HnswParams),
}

impl IndexKind {
    /// Exact search below this many vectors.
    pub const EXACT_BELOW: usize = 100_000;

    /// Exact search for small sets, HNSW with default parameters for large ones.
    pub fn auto(vectors: usize) -> Self {
        if vectors < Self::EXACT_BELOW {
            IndexKind::Exact
        } else {
            IndexKind::Hnsw(HnswParams::default())
        }
    }
}

/// Unit-normalised vectors and a search over them.
pub struct VectorIndex {
    dim: usize,
    unit: Vec<f32>,
    kind: IndexKind,
    #[cfg(feature = "hnsw")]
    graph: Option<hnsw::Graph>,
}

impl VectorIndex {
    /// Indexes row-major `vectors` of `dim` values each. All-zero rows stay zero (cosine 0
    /// with everything). `on_inserted(n)` reports progress of a graph build (n vectors so far).
    pub fn build(
        vectors: &[f32],
        dim: usize,
        kind: IndexKind,
        on_inserted: impl FnMut(usize),
    ) -> Result<Self> {
        rows_of(vectors, dim)?;
        let mut unit = vectors.to_vec();
        unit.par_chunks_mut(dim).for_each(normalise);
        #[cfg(feature = "hnsw")]
        let graph = match kind {
            IndexKind::Exact => None,
            IndexKind::Hnsw(params) => Some(hnsw::Graph::build(&unit, dim, params, on_inserted)),
        };
        #[cfg(not(feature = "hnsw"))]
        let _ = on_inserted;
        #[cfg(not(feature = "hnsw"))]
        if let IndexKind::Hnsw(_) = kind {
            return Err(crate::ModelError::invalid(
                "index",
                "HNSW needs bart-models' `hnsw` feature",
            ));
        }
        Ok(VectorIndex {
            dim,
            unit,
            kind,
            #[cfg(feature = "hnsw")]
            graph,
        })
    }

    /// The search the index runs, with its current parameters.
    pub fn kind(&self) -> IndexKind {
        self.kind
    }

    /// Changes HNSW's `ef_search` (a query-time setting: no rebuild); no effect on exact search.
    pub fn set_ef_search(&mut self, ef_search: usize) {
        if let IndexKind::Hnsw(params) = &mut self.kind {
            params.ef_search = ef_search;
        }
        #[cfg(feature = "hnsw")]
        if let Some(graph) = &mut self.graph {
            graph.ef_search = ef_search;
        }
    }

    /// The `k` vectors most similar to `query` (`dim` values, any norm), most similar first, ties by
    /// id. Exact or approximate, as the index was built.
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<Neighbour> {
        let mut q = query.to_vec();
        normalise(&mut q);
        #[cfg(feature = "hnsw")]
        if let Some(graph) = &self.graph {
            let mut found: Vec<Neighbour> = graph
                .search(&q, k)
                .into_iter()
                .map(|id| Neighbour {
                    id,
                    similarity: dot_f32(&q, self.row(id as usize)),
                })
                .collect();
            sort(&mut found);
            found.truncate(k);
            return found;
        }
        self.exact(&q, k)
    }

    /// The `k` vectors most similar to row `id`, itself excluded.
    pub fn similar(&self, id: usize, k: usize) -> Vec<Neighbour> {
        let mut found = self.nearest(self.row(id), k + 1);
        found.retain(|n| n.id as usize != id);
        found.truncate(k);
        found
    }

    /// Exact top-`k` by scoring every row, whatever the index kind (the reference that an
    /// approximate index is measured against).
    pub fn nearest_exact(&self, query: &[f32], k: usize) -> Vec<Neighbour> {
        let mut q = query.to_vec();
        normalise(&mut q);
        self.exact(&q, k)
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.unit[i * self.dim..(i + 1) * self.dim]
    }

    fn exact(&self, unit_query: &[f32], k: usize) -> Vec<Neighbour> {
        let mut all: Vec<Neighbour> = self
            .unit
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(i, v)| Neighbour {
                id: i as u32,
                similarity: dot_f32(unit_query, v),
            })
            .collect();
        if k < all.len() {
            all.select_nth_unstable_by(k, order);
            all.truncate(k);
        }
        sort(&mut all);
        all
    }
}

/// Most similar first, ties by id.
fn order(a: &Neighbour, b: &Neighbour) -> std::cmp::Ordering {
    b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id))
}

fn sort(v: &mut [Neighbour]) {
    v.sort_unstable_by(order);
}

fn normalise(v: &mut [f32]) {
    let norm = dot_f32(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(feature = "hnsw")]
mod hnsw {
    use super::HnswParams;
    use crate::linalg::dot_f32;
    use hnsw_rs::prelude::{Distance, Hnsw};

    /// `1 - cos` between unit vectors (never negative, which `hnsw_rs`'s own dot distance
    /// asserts and rounding can break).
    #[derive(Clone, Copy, Default)]
    pub struct Angular;

    impl Distance<f32> for Angular {
        fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
            (1.0 - dot_f32(a, b)).max(0.0)
        }
    }

    /// An HNSW graph over unit vectors. `hnsw_rs` draws node levels from its own fixed seed
    /// and inserts in parallel, so the graph (not the exact results) can vary between runs.
    pub struct Graph {
        inner: Hnsw<'static, f32, Angular>,
        pub ef_search: usize,
    }

    impl Graph {
        pub fn build(
            unit: &[f32],
            dim: usize,
            params: HnswParams,
            mut on_inserted: impl FnMut(usize),
        ) -> Self {
            const CHUNK: usize = 16_384;
            let n = unit.len() / dim;
            let layers = 16;
            let inner = Hnsw::new(
                params.connections,
                n,
                layers,
                params.ef_construction,
                Angular,
            );
            let rows: Vec<(&[f32], usize)> = unit.chunks_exact(dim).zip(0..).collect();
            for (c, chunk) in rows.chunks(CHUNK).enumerate() {
                inner.parallel_insert_slice(&chunk.to_vec());
                on_inserted(c * CHUNK + chunk.len());
            }
            let mut inner = inner;
            inner.set_searching_mode(true);
            Graph {
                inner,
                ef_search: params.ef_search,
            }
        }

        pub fn search(&self, unit_query: &[f32], k: usize) -> Vec<u32> {
            self.inner
                .search(unit_query, k, self.ef_search.max(k))
                .into_iter()
                .map(|n| n.d_id as u32)
                .collect()
        }
    }
}

/// `n` row-major vectors of `dim` values from a seeded mixture of `clusters` Gaussians: each
/// centre's coordinates are standard normal, each vector is a uniformly chosen centre plus
/// normal noise of standard deviation `spread`.
pub fn gaussian_mixture(n: usize, dim: usize, clusters: usize, spread: f32, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).expect("a valid normal");
    let centres: Vec<f32> = (0..clusters * dim)
        .map(|_| normal.sample(&mut rng))
        .collect();
    let mut v = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.random_range(0..clusters);
        v.extend(
            centres[c * dim..(c + 1) * dim]
                .iter()
                .map(|x| x + spread * normal.sample(&mut rng)),
        );
    }
    v
}

/// The share of the exact top-k that an approximate top-k found, averaged over queries.
pub fn recall(approximate: &[Vec<Neighbour>], exact: &[Vec<Neighbour>]) -> f64 {
    let (mut found, mut total) = (0usize, 0usize);
    for (a, e) in approximate.iter().zip(exact) {
        found += e.iter().filter(|n| a.iter().any(|m| m.id == n.id)).count();
        total += e.len();
    }
    if total == 0 {
        1.0
    } else {
        found as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_top_k_equals_a_brute_force_sort() {
        let dim = 8;
        let mut v = gaussian_mixture(500, dim, 5, 0.5, 3);
        v.extend_from_within(..dim); // an exact duplicate of row 0: a tie
        v.extend_from_slice(&[0.0; 8]); // a zero row
        let index = VectorIndex::build(&v, dim, IndexKind::Exact, |_| {}).unwrap();
        let query: Vec<f32> = v[..dim].iter().map(|x| 3.0 * x).collect();
        let norm = |x: &[f32]| x.iter().map(|a| a * a).sum::<f32>().sqrt();
        let mut brute: Vec<(u32, f32)> = v
            .chunks(dim)
            .enumerate()
            .map(|(i, r)| {
                let cos = if norm(r) == 0.0 {
                    0.0
                } else {
                    r.iter().zip(&query).map(|(a, b)| a * b).sum::<f32>() / (norm(r) * norm(&query))
                };
                (i as u32, cos)
            })
            .collect();
        brute.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let got = index.nearest(&query, 20);
        assert_eq!(got.len(), 20);
        assert_eq!((got[0].id, got[1].id), (0, 500));
        for (g, b) in got.iter().zip(&brute) {
            assert_eq!(g.id, b.0);
            assert!((g.similarity - b.1).abs() < 1e-5);
        }
        let similar = index.similar(0, 3);
        assert_eq!(
            similar.iter().map(|n| n.id).collect::<Vec<_>>(),
            [500, brute[2].0, brute[3].0]
        );
        assert_eq!(index.nearest(&query, 10_000).len(), 502);
        assert!(VectorIndex::build(&v[..7], dim, IndexKind::Exact, |_| {}).is_err());
    }

    #[cfg(feature = "hnsw")]
    #[test]
    fn hnsw_recall_on_a_seeded_clustered_set() {
        // 10 clusters of about 1,000 points: within a cluster the points are i.i.d. 64-d
        // Gaussians, the hard case for a graph index (`bart bench ann` runs 1,000,000).
        let (n, dim, queries) = (10_000, 64, 200);
        let v = gaussian_mixture(n + queries, dim, 10, 0.5, 11);
        let (base, qs) = v.split_at(n * dim);
        assert!(matches!(
            IndexKind::auto(IndexKind::EXACT_BELOW),
            IndexKind::Hnsw(_)
        ));
        assert_eq!(IndexKind::auto(n), IndexKind::Exact);
        let mut inserted = 0;
        // hnsw_rs inserts in parallel, so the graph varies between runs: search wide enough
        // that recall clears 0.95 with a margin (ef 64 gave 0.937 to 0.96).
        let params = HnswParams {
            connections: 16,
            ef_construction: 100,
            ef_search: 256,
        };
        let index =
            VectorIndex::build(base, dim, IndexKind::Hnsw(params), |n| inserted = n).unwrap();
        assert_eq!(inserted, n);
        let queries: Vec<&[f32]> = qs.chunks(dim).collect();
        let approx: Vec<Vec<Neighbour>> =
            queries.par_iter().map(|q| index.nearest(q, 10)).collect();
        let exact: Vec<Vec<Neighbour>> = queries
            .par_iter()
            .map(|q| index.nearest_exact(q, 10))
            .collect();
        let r = recall(&approx, &exact);
        println!("recall@10 {r}");
        assert!(r >= 0.95, "recall@10 {r}");
        // A narrower search finds fewer of the true neighbours.
        let mut narrow = index;
        narrow.set_ef_search(10);
        let approx: Vec<Vec<Neighbour>> = queries.iter().map(|q| narrow.nearest(q, 10)).collect();
        assert!(recall(&approx, &exact) < r);
        assert_eq!(recall(&exact, &exact), 1.0);
    }
}
