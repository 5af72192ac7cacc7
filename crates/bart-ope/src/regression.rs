//! The reward model of DM and DR: L2-regularised logistic regression on sparse features, fit
//! by Newton's method (deterministic), with K-fold cross-fitting so that no row is scored by
//! a model that saw it.

use crate::error::OpeError;
use bart_bandit::model::sigmoid;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Sparse feature rows: row `i` has the (index, value) pairs `entries[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, Default)]
pub struct SparseRows {
    entries: Vec<(u32, f64)>,
    offsets: Vec<usize>,
}

impl SparseRows {
    /// No rows.
    pub fn new() -> Self {
        SparseRows {
            entries: Vec::new(),
            offsets: vec![0],
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: impl IntoIterator<Item = (u32, f64)>) {
        self.entries.extend(row);
        self.offsets.push(self.entries.len());
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[(u32, f64)] {
        &self.entries[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// A fitted logistic regression; feature 0 is the intercept (not penalised).
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic {
    weights: Vec<f64>,
}

const MAX_NEWTON_STEPS: usize = 100;

impl Logistic {
    /// Minimises Σ logloss(y_i, σ(w·x_i)) + l2/2 Σ_{j≥1} w_j² over the rows where `train` is
    /// true. Labels are in [0, 1]; every feature index must be below `dim`.
    pub fn fit(
        dim: usize,
        rows: &SparseRows,
        labels: &[f64],
        train: impl Fn(usize) -> bool,
        l2: f64,
    ) -> Result<Self, OpeError> {
        if !(l2 > 0.0 && l2.is_finite()) {
            return Err(OpeError::Unsupported(format!(
                "the L2 penalty must be a positive number, not {l2}"
            )));
        }
        let train: Vec<usize> = (0..rows.len()).filter(|&i| train(i)).collect();
        if train.is_empty() {
            return Err(OpeError::Empty {
                estimator: "reward model",
                reason: "no training rows",
            });
        }
        let mean = train.iter().map(|&i| labels[i]).sum::<f64>() / train.len() as f64;
        let floor = 0.5 / train.len() as f64;
        let mean = mean.clamp(floor, 1.0 - floor);
        let mut w = vec![0.0; dim];
        w[0] = (mean / (1.0 - mean)).ln();
        let objective = |w: &[f64]| {
            let loss: f64 = train
                .iter()
                .map(|&i| {
                    let z = dot(w, rows.row(i));
                    // log(1 + e^z) - y z, stably.
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - labels[i] * z
                })
                .sum();
            loss + 0.5 * l2 * w[1..].iter().map(|x| x * x).sum::<f64>()
        };
        let mut current = objective(&w);
        for _ in 0..MAX_NEWTON_STEPS {
            let mut grad: Vec<f64> = w.iter().map(|x| l2 * x).collect();
            grad[0] = 0.0;
            let mut hess = vec![0.0; dim * dim];
            for j in 1..dim {
                hess[j * dim + j] = l2;
            }
            for &i in &train {
                let row = rows.row(i);
                let p = sigmoid(dot(&w, row));
                let (g, h) = (p - labels[i], p * (1.0 - p));
                for &(a, xa) in row {
                    grad[a as usize] += g * xa;
                    for &(b, xb) in row {
                        hess[a as usize * dim + b as usize] += h * xa * xb;
                    }
                }
            }
            let step = solve_spd(&mut hess, grad, dim)?;
            // Halve the step until the objective does not increase.
            let mut t = 1.0;
            let mut next;
            loop {
                next = w
                    .iter()
                    .zip(&step)
                    .map(|(a, s)| a - t * s)
                    .collect::<Vec<_>>();
                let value = objective(&next);
                if value <= current || t < 1e-10 {
                    current = value.min(current);
                    break;
                }
                t *= 0.5;
            }
            let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
            w = next;
            if moved < 1e-10 {
                break;
            }
        }
        Ok(Logistic { weights: w })
    }

    /// P(y = 1 | x).
    pub fn predict(&self, row: &[(u32, f64)]) -> f64 {
        sigmoid(dot(&self.weights, row))
    }
}

/// Models fit with K-fold cross-fitting: rows are dealt into `folds` folds by a seeded
/// shuffle, and the model for fold k is fit on every other fold.
#[derive(Clone, Debug)]
pub struct CrossFit {
    fold_of: Vec<usize>,
    models: Vec<Logistic>,
}

impl CrossFit {
    /// Fits one model per fold (in parallel; the result does not depend on the threads).
    pub fn fit(
        dim: usize,
        rows: &SparseRows,
        labels: &[f64],
        folds: usize,
        seed: u64,
        l2: f64,
    ) -> Result<Self, OpeError> {
        use rayon::prelude::*;
        if folds < 2 || folds > rows.len() {
            return Err(OpeError::Unsupported(format!(
                "cross-fitting needs between 2 and {} folds (one row each at least), not {folds}",
                rows.len()
            )));
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let mut fold_of = vec![0; rows.len()];
        for (k, &i) in order.iter().enumerate() {
            fold_of[i] = k % folds;
        }
        let models = (0..folds)
            .into_par_iter()
            .map(|k| Logistic::fit(dim, rows, labels, |i| fold_of[i] != k, l2))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CrossFit { fold_of, models })
    }

    /// The model that never saw row `i`.
    pub fn model_for(&self, i: usize) -> &Logistic {
        &self.models[self.fold_of[i]]
    }

    /// The fold of row `i`.
    pub fn fold(&self, i: usize) -> usize {
        self.fold_of[i]
    }
}

fn dot(w: &[f64], row: &[(u32, f64)]) -> f64 {
    row.iter().map(|&(j, x)| w[j as usize] * x).sum()
}

/// Solves A x = b for a symmetric positive definite A (row-major, overwritten by its
/// Cholesky factor).
fn solve_spd(a: &mut [f64], mut b: Vec<f64>, n: usize) -> Result<Vec<f64>, OpeError> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return Err(OpeError::Unsupported(
                "the reward model's Newton system is not positive definite (a feature with \
                 no variation and no penalty?)"
                    .into(),
            ));
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        // [[4, 2], [2, 3]] x = [2, 1]  =>  x = [0.5, 0].
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(&mut a, vec![2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
        let mut singular = vec![0.0; 4];
        assert!(solve_spd(&mut singular, vec![1.0, 1.0], 2).is_err());
    }

    /// One binary feature: the fit satisfies the penalised score equations exactly.
    #[test]
    fn newton_reaches_the_penalised_optimum() {
        let mut rows = SparseRows::new();
        let mut labels = Vec::new();
        // Group a (feature 1 on): 3 of 10 positive; group b: 1 of 10.
        for i in 0..20 {
            let a = i < 10;
            rows.push(if a {
                vec![(0, 1.0), (1, 1.0)]
            } else {
                vec![(0, 1.0)]
            });
            labels.push(if a {
                (i < 3) as u8 as f64
            } else {
                (i == 10) as u8 as f64
            });
        }
        let l2 = 0.5;
        let m = Logistic::fit(2, &rows, &labels, |_| true, l2).unwrap();
        let pa = m.predict(rows.row(0));
        let pb = m.predict(rows.row(19));
        // Score equations: Σ (p - y) = 0 (intercept); Σ_a (p - y) + l2 w1 = 0.
        let w1 = (pa / (1.0 - pa)).ln() - (pb / (1.0 - pb)).ln();
        assert!((10.0 * (pa - 0.3) + 10.0 * (pb - 0.1)).abs() < 1e-9);
        assert!((10.0 * (pa - 0.3) + l2 * w1).abs() < 1e-9);
        assert!(pa > pb);
    }

    #[test]
    fn cross_fitting_is_seeded_and_never_scores_training_rows() {
        let mut rows = SparseRows::new();
        let mut labels = Vec::new();
        for i in 0..50 {
            rows.push([(0, 1.0), (1 + (i % 3) as u32, 1.0)]);
            labels.push((i % 5 == 0) as u8 as f64);
        }
        let a = CrossFit::fit(4, &rows, &labels, 5, 9, 1.0).unwrap();
        let b = CrossFit::fit(4, &rows, &labels, 5, 9, 1.0).unwrap();
        let c = CrossFit::fit(4, &rows, &labels, 5, 10, 1.0).unwrap();
        assert_eq!(a.fold_of, b.fold_of);
        assert_eq!(a.models, b.models);
        assert_ne!(a.fold_of, c.fold_of);
        for k in 0..5 {
            assert_eq!(a.fold_of.iter().filter(|&&f| f == k).count(), 10);
        }
        // The model for row i is the one fit without i's fold.
        for i in 0..50 {
            let k = a.fold(i);
            let refit = Logistic::fit(4, &rows, &labels, |j| a.fold(j) != k, 1.0).unwrap();
            assert_eq!(a.model_for(i), &refit);
        }
        assert!(CrossFit::fit(4, &rows, &labels, 1, 9, 1.0).is_err());
        assert!(CrossFit::fit(4, &rows, &labels, 51, 9, 1.0).is_err());
    }
}
