//! Implicit-feedback matrix factorisation: weighted alternating least squares with a
//! conjugate-gradient solver (Hu, Koren and Volinsky 2008; the CG variant of Takács et al.,
//! as the `implicit` library implements it).
//!
//! Every (listener u, item i) pair has a preference p = 1 if u played i, else 0, and a
//! confidence c = 1 + f(plays) for played pairs, else 1. The factors minimise
//! `Σ_{u,i} c_ui (p_ui - x_u·y_i)² + λ (Σ_u |x_u|² + Σ_i |y_i|²)`. Each half-iteration
//! solves every row's normal equations `(YᵀY + Yᵀ(C_u - I)Y + λI) x_u = Yᵀ C_u p_u` by a few
//! conjugate-gradient steps warm-started from the previous factors; YᵀY is shared by all rows,
//! so a row costs O(k² + nnz(u) k) per step. Rows are solved in parallel (rayon); results do
//! not depend on the number of threads.

use crate::error::{ModelError, Result};
use crate::linalg::{axpy, dot, matvec};
use crate::sparse::Csr;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How a play count becomes a confidence `c = 1 + f(plays)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Confidence {
    /// `f = alpha * plays` (Hu, Koren and Volinsky's first choice).
    Linear { alpha: f64 },
    /// `f = alpha * ln(1 + plays / eps)`: tames play counts that span five orders of magnitude.
    Log { alpha: f64, eps: f64 },
}

impl Confidence {
    /// The confidence of a pair with `plays` plays.
    pub fn of(self, plays: f64) -> f64 {
        match self {
            Confidence::Linear { alpha } => 1.0 + alpha * plays,
            Confidence::Log { alpha, eps } => 1.0 + alpha * (plays / eps).ln_1p(),
        }
    }
}

/// Hyperparameters of a fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlsConfig {
    /// The rank k of the factors.
    pub factors: usize,
    /// λ, the L2 penalty on every factor.
    pub regularization: f64,
    pub iterations: usize,
    /// Conjugate-gradient steps per row and half-iteration (`implicit` uses 3).
    pub cg_steps: usize,
    pub confidence: Confidence,
    /// Seed of the initial factors (uniform in [0, 0.01), as `implicit` does).
    pub seed: u64,
}

impl Default for AlsConfig {
    /// Tuned on Last.fm-2k (see `bart bench als`).
    fn default() -> Self {
        AlsConfig {
            factors: 64,
            regularization: 10.0,
            iterations: 15,
            cg_steps: 3,
            confidence: Confidence::Log {
                alpha: 2.0,
                eps: 1.0,
            },
            seed: 42,
        }
    }
}

impl AlsConfig {
    fn validate(&self) -> Result<()> {
        let positive = |field, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(ModelError::invalid(
                    field,
                    format!("{v} (must be positive)"),
                ))
            }
        };
        if self.factors == 0 {
            return Err(ModelError::invalid("factors", "0 (must be at least 1)"));
        }
        if self.cg_steps == 0 {
            return Err(ModelError::invalid("cg_steps", "0 (must be at least 1)"));
        }
        positive("regularization", self.regularization)?;
        match self.confidence {
            Confidence::Linear { alpha } => positive("alpha", alpha),
            Confidence::Log { alpha, eps } => {
                positive("alpha", alpha)?;
                positive("eps", eps)
            }
        }
    }
}

/// Fitted listener and item factors, row-major (`rank` values per row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    pub rank: usize,
    pub users: Vec<f64>,
    pub items: Vec<f64>,
}

impl Factors {
    pub fn user(&self, u: usize) -> &[f64] {
        &self.users[u * self.rank..(u + 1) * self.rank]
    }

    pub fn item(&self, i: usize) -> &[f64] {
        &self.items[i * self.rank..(i + 1) * self.rank]
    }

    pub fn item_count(&self) -> usize {
        self.items.len() / self.rank
    }

    /// The predicted preference `x_u · y_i`.
    pub fn score(&self, u: usize, i: usize) -> f64 {
        dot(self.user(u), self.item(i))
    }

    /// The item factors as `f32` rows, for a nearest-neighbour index.
    pub fn item_vectors(&self) -> Vec<f32> {
        self.items.iter().map(|&v| v as f32).collect()
    }
}

/// Fits factors to a listener x item matrix of play counts. `on_iteration(i, factors)` runs
/// after each full iteration (i from 1), e.g. for a progress bar.
pub fn fit(
    plays: &Csr,
    config: &AlsConfig,
    mut on_iteration: impl FnMut(usize, &Factors),
) -> Result<Factors> {
    config.validate()?;
    let by_user = confidences(plays, config.confidence);
    let by_item = by_user.transpose();
    let k = config.factors;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let mut init =
        |n: usize| -> Vec<f64> { (0..n * k).map(|_| rng.random::<f64>() * 0.01).collect() };
    let mut f = Factors {
        rank: k,
        users: init(plays.rows()),
        items: init(plays.cols()),
    };
    for it in 1..=config.iterations {
        solve_rows(&mut f.users, &f.items, &by_user, k, config);
        solve_rows(&mut f.items, &f.users, &by_item, k, config);
        on_iteration(it, &f);
    }
    Ok(f)
}

/// The matrix of confidences `c = 1 + f(plays)` of the played pairs.
pub fn confidences(plays: &Csr, confidence: Confidence) -> Csr {
    plays.map_values(|p| confidence.of(p as f64) as f32)
}

/// The objective `Σ_{u,i} c_ui (p_ui - x_u·y_i)² + λ (Σ|x_u|² + Σ|y_i|²)` over all pairs,
/// given the confidences of the played pairs (`c = 1`, `p = 0` elsewhere).
pub fn loss(confidences: &Csr, f: &Factors, regularization: f64) -> f64 {
    let gram = gram(&f.items, f.rank, 0.0);
    let mut tmp = vec![0.0; f.rank];
    let mut total = 0.0;
    for u in 0..confidences.rows() {
        let x = f.user(u);
        matvec(&gram, x, &mut tmp);
        total += dot(x, &tmp); // Σ_i (x·y_i)² as if every pair were unplayed
        let (items, cs) = confidences.row(u);
        for (&i, &c) in items.iter().zip(cs) {
            let s = dot(x, f.item(i as usize));
            total += c as f64 * (1.0 - s) * (1.0 - s) - s * s;
        }
    }
    let norms = dot(&f.users, &f.users) + dot(&f.items, &f.items);
    total + regularization * norms
}

/// `YᵀY + λI` for row-major `y` with `k` columns. Partial sums over fixed blocks of rows are
/// added in order, so the result does not depend on the number of threads.
fn gram(y: &[f64], k: usize, lambda: f64) -> Vec<f64> {
    const BLOCK: usize = 1024;
    let partials: Vec<Vec<f64>> = y
        .par_chunks(BLOCK * k)
        .map(|block| {
            let mut g = vec![0.0; k * k];
            for row in block.chunks_exact(k) {
                for (a, &ra) in row.iter().enumerate() {
                    axpy(ra, row, &mut g[a * k..(a + 1) * k]);
                }
            }
            g
        })
        .collect();
    let mut g = vec![0.0; k * k];
    for p in &partials {
        axpy(1.0, p, &mut g);
    }
    for a in 0..k {
        g[a * k + a] += lambda;
    }
    g
}

/// One half-iteration: every row of `x` from the fixed factors `y` and its confidences.
fn solve_rows(x: &mut [f64], y: &[f64], conf: &Csr, k: usize, config: &AlsConfig) {
    let g = gram(y, k, config.regularization);
    x.par_chunks_mut(k).enumerate().for_each_init(
        || Scratch::new(k),
        |s, (u, xu)| {
            let (cols, cs) = conf.row(u);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has the AVX2 instructions `cg_solve_avx2` is compiled for.
                unsafe { cg_solve_avx2(xu, &g, y, cols, cs, config.cg_steps, s) };
                return;
            }
            cg_solve(xu, &g, y, cols, cs, config.cg_steps, s);
        },
    );
}

/// [`cg_solve`] compiled for AVX2 (four `f64` lanes instead of SSE2's two; no fused
/// multiply-add, so results are the same bit for bit).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn cg_solve_avx2(
    x: &mut [f64],
    g: &[f64],
    y: &[f64],
    cols: &[u32],
    cs: &[f32],
    steps: usize,
    s: &mut Scratch,
) {
    cg_solve(x, g, y, cols, cs, steps, s)
}

/// The residual, direction and product vectors of one CG solve.
struct Scratch {
    r: Vec<f64>,
    p: Vec<f64>,
    ap: Vec<f64>,
}

impl Scratch {
    fn new(k: usize) -> Self {
        Scratch {
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
        }
    }
}

/// Improves `x` towards the solution of `(G + Σ_j (c_j - 1) y_j y_jᵀ) x = Σ_j c_j y_j` by at
/// most `steps` conjugate-gradient steps, where `G = YᵀY + λI` and j runs over `cols`.
#[inline(always)]
fn cg_solve(
    x: &mut [f64],
    g: &[f64],
    y: &[f64],
    cols: &[u32],
    cs: &[f32],
    steps: usize,
    s: &mut Scratch,
) {
    let k = x.len();
    let row = |j: u32| &y[j as usize * k..(j as usize + 1) * k];
    // r = b - A x
    matvec(g, x, &mut s.ap);
    for (r, ap) in s.r.iter_mut().zip(&s.ap) {
        *r = -ap;
    }
    for (&j, &c) in cols.iter().zip(cs) {
        let (yj, c) = (row(j), c as f64);
        axpy(c - (c - 1.0) * dot(yj, x), yj, &mut s.r);
    }
    s.p.copy_from_slice(&s.r);
    let mut rs_old = dot(&s.r, &s.r);
    for _ in 0..steps {
        if rs_old < 1e-20 {
            break;
        }
        matvec(g, &s.p, &mut s.ap);
        for (&j, &c) in cols.iter().zip(cs) {
            let yj = row(j);
            axpy((c as f64 - 1.0) * dot(yj, &s.p), yj, &mut s.ap);
        }
        let step = rs_old / dot(&s.p, &s.ap);
        axpy(step, &s.p, x);
        axpy(-step, &s.ap, &mut s.r);
        let rs_new = dot(&s.r, &s.r);
        for (p, r) in s.p.iter_mut().zip(&s.r) {
            *p = r + (rs_new / rs_old) * *p;
        }
        rs_old = rs_new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded random listener x item matrix of play counts with about `density` filled.
    fn random_plays(rows: usize, cols: usize, density: f64, seed: u64) -> Csr {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut t = Vec::new();
        for r in 0..rows as u32 {
            for c in 0..cols as u32 {
                if rng.random::<f64>() < density {
                    t.push((r, c, rng.random_range(1..50) as f32));
                }
            }
        }
        Csr::from_triples(rows, cols, t)
    }

    /// Solves the symmetric positive definite system `a x = b` by Cholesky decomposition.
    fn cholesky_solve(a: &[f64], b: &[f64]) -> Vec<f64> {
        let n = b.len();
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let s: f64 = (0..j).map(|m| l[i * n + m] * l[j * n + m]).sum();
                l[i * n + j] = if i == j {
                    (a[i * n + i] - s).sqrt()
                } else {
                    (a[i * n + j] - s) / l[j * n + j]
                };
            }
        }
        let mut z = vec![0.0; n];
        for i in 0..n {
            z[i] = (b[i] - (0..i).map(|m| l[i * n + m] * z[m]).sum::<f64>()) / l[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            x[i] = (z[i] - (i + 1..n).map(|m| l[m * n + i] * x[m]).sum::<f64>()) / l[i * n + i];
        }
        x
    }

    #[test]
    fn cg_matches_a_direct_solve_of_the_normal_equations() {
        let (k, items, lambda) = (6, 12, 0.3);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let y: Vec<f64> = (0..items * k).map(|_| rng.random::<f64>() - 0.5).collect();
        let cols = [1u32, 4, 5, 9];
        let cs = [3.0f32, 1.5, 21.0, 2.0];
        // A = YᵀY + λI + Σ (c - 1) y yᵀ and b = Σ c y, written out.
        let mut a = vec![0.0; k * k];
        for i in 0..items {
            let c = cols
                .iter()
                .position(|&j| j as usize == i)
                .map_or(1.0, |p| cs[p] as f64);
            for r in 0..k {
                for s in 0..k {
                    a[r * k + s] += c * y[i * k + r] * y[i * k + s];
                }
            }
        }
        for r in 0..k {
            a[r * k + r] += lambda;
        }
        let mut b = vec![0.0; k];
        for (&j, &c) in cols.iter().zip(&cs) {
            axpy(c as f64, &y[j as usize * k..(j as usize + 1) * k], &mut b);
        }
        let direct = cholesky_solve(&a, &b);

        let g = gram(&y, k, lambda);
        let mut x: Vec<f64> = (0..k).map(|_| rng.random::<f64>()).collect();
        cg_solve(&mut x, &g, &y, &cols, &cs, k, &mut Scratch::new(k));
        for (cg, d) in x.iter().zip(&direct) {
            assert!((cg - d).abs() < 1e-6, "CG {x:?} vs Cholesky {direct:?}");
        }
    }

    #[test]
    fn loss_matches_its_definition_and_never_increases() {
        let plays = random_plays(30, 40, 0.15, 1);
        let config = AlsConfig {
            factors: 5,
            regularization: 0.5,
            iterations: 12,
            cg_steps: 2,
            ..AlsConfig::default()
        };
        let conf = confidences(&plays, config.confidence);
        let mut losses = Vec::new();
        let f = fit(&plays, &config, |_, f| {
            losses.push(loss(&conf, f, config.regularization))
        })
        .unwrap();

        // The loss by brute force over every pair.
        let mut brute = config.regularization * (dot(&f.users, &f.users) + dot(&f.items, &f.items));
        for u in 0..30 {
            let (cols, cs) = conf.row(u);
            for i in 0..40 {
                let (c, p) = match cols.iter().position(|&j| j as usize == i) {
                    Some(pos) => (cs[pos] as f64, 1.0),
                    None => (1.0, 0.0),
                };
                brute += c * (p - f.score(u, i)).powi(2);
            }
        }
        let last = *losses.last().unwrap();
        assert!((last - brute).abs() < 1e-9 * brute, "{last} vs {brute}");
        assert!(
            losses.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12)),
            "{losses:?}"
        );
        assert!(losses[11] < 0.9 * losses[0], "{losses:?}");
    }

    #[test]
    fn recovers_block_structure_and_is_reproducible() {
        // Listeners 0-9 play items 0-9, listeners 10-19 play items 10-19, each 7 of the 10.
        let mut t = Vec::new();
        for u in 0..20u32 {
            for i in 0..10u32 {
                if (u + i) % 10 < 7 {
                    t.push((u, (u / 10) * 10 + i, 5.0));
                }
            }
        }
        let plays = Csr::from_triples(20, 20, t);
        let config = AlsConfig {
            factors: 2,
            regularization: 1.0,
            iterations: 10,
            ..AlsConfig::default()
        };
        let f = fit(&plays, &config, |_, _| {}).unwrap();
        // Rank 2 can only tell the blocks apart: an unplayed item of the listener's own block
        // outscores every item of the other.
        for u in 0..20 {
            let own = (u / 10) * 10 + (17 - u % 10) % 10;
            let other_best = (0..10)
                .map(|i| f.score(u, (1 - u / 10) * 10 + i))
                .fold(f64::MIN, f64::max);
            assert!(
                f.score(u, own) > other_best + 0.3,
                "listener {u}: {} vs {other_best}",
                f.score(u, own)
            );
        }
        assert_eq!(fit(&plays, &config, |_, _| {}).unwrap(), f);
        let bad = AlsConfig {
            regularization: 0.0,
            ..config
        };
        assert!(fit(&plays, &bad, |_, _| {}).is_err());
    }
}
