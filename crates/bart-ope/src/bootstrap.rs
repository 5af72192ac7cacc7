//! Seeded percentile bootstrap over independent units (rows, or pages as clusters).
//!
//! Each resample draws as many units as there are, with replacement, adds up their terms
//! (see [`crate::estimate::terms`]) and evaluates every estimator on the sums: no copy of the
//! data per resample, one pass over the drawn indices for all estimators at once. Resample
//! `b` draws from its own generator seeded from (seed, b), so the intervals depend on the
//! seed alone, not on the number of threads.

use crate::error::OpeError;
use crate::estimate::{Estimator, TERMS, Terms};
use rand::{Rng, RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// Resamples, seed and confidence level of a percentile bootstrap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bootstrap {
    pub resamples: usize,
    pub seed: u64,
    /// Coverage of the interval, e.g. 0.95.
    pub level: f64,
}

/// A percentile interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Whether `x` lies inside the interval.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

impl Bootstrap {
    /// Percentile intervals of `estimators` over `units` (each unit's summed terms), in the
    /// order given. An estimator that is undefined on some resample (say, SNIPS when every
    /// drawn weight is 0) gets that error instead of an interval.
    pub fn intervals(
        &self,
        units: &[Terms],
        estimators: &[Estimator],
    ) -> Result<Vec<Result<Interval, OpeError>>, OpeError> {
        if self.resamples < 2 || !(self.level > 0.0 && self.level < 1.0) {
            return Err(OpeError::Unsupported(format!(
                "a bootstrap needs at least 2 resamples and a level in (0, 1), not {} and {}",
                self.resamples, self.level
            )));
        }
        if units.is_empty() {
            return Err(OpeError::Empty {
                estimator: "bootstrap",
                reason: "no samples",
            });
        }
        // Keep only the terms the estimators read and that vary between units, next to each
        // other; a term with the same value c in every unit sums to n c in every resample.
        let mut used: Vec<usize> = estimators.iter().flat_map(|e| e.terms_used()).collect();
        used.sort_unstable();
        used.dedup();
        let n = units.len() as f64;
        let mut fixed = [0.0; TERMS];
        used.retain(|&t| {
            let c = units[0][t];
            let constant = units.iter().all(|u| u[t] == c);
            if constant {
                fixed[t] = n * c;
            }
            !constant
        });
        macro_rules! by_width {
            ($($k:literal)*) => {
                match used.len() {
                    $($k => self.draws::<$k>(units, &used, fixed, estimators),)*
                    _ => self.draws::<TERMS>(units, &(0..TERMS).collect::<Vec<_>>(), fixed, estimators),
                }
            };
        }
        let draws = by_width!(0 1 2 3 4 5 6 7 8 9);
        let alpha = 1.0 - self.level;
        Ok((0..estimators.len())
            .map(|k| {
                let mut values = draws
                    .iter()
                    .map(|d| d[k].clone())
                    .collect::<Result<Vec<f64>, OpeError>>()?;
                values.sort_by(f64::total_cmp);
                Ok(Interval {
                    lo: percentile(&values, alpha / 2.0),
                    hi: percentile(&values, 1.0 - alpha / 2.0),
                })
            })
            .collect())
    }

    /// Every estimator's value on every resample, from the `K` terms in `used` and the
    /// `fixed` sums of the others.
    fn draws<const K: usize>(
        &self,
        units: &[Terms],
        used: &[usize],
        fixed: Terms,
        estimators: &[Estimator],
    ) -> Vec<Vec<Result<f64, OpeError>>> {
        let rows: Vec<[f64; K]> = units
            .iter()
            .map(|u| std::array::from_fn(|k| u[used[k]]))
            .collect();
        (0..self.resamples)
            .into_par_iter()
            .map(|b| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(resample_seed(self.seed, b));
                let drawn = resample_sums(&rows, &mut rng);
                let mut sums = fixed;
                for (k, &t) in used.iter().enumerate() {
                    sums[t] = drawn[k];
                }
                estimators.iter().map(|e| e.value(&sums)).collect()
            })
            .collect()
    }
}

/// The sums of `rows.len()` rows drawn with replacement. Two indices come from each 64-bit
/// draw, and two sets of accumulators keep the additions independent.
fn resample_sums<const K: usize>(rows: &[[f64; K]], rng: &mut Xoshiro256PlusPlus) -> [f64; K] {
    let n = rows.len();
    let mut a = [0.0; K];
    let mut b = [0.0; K];
    let add = |acc: &mut [f64; K], row: &[f64; K]| {
        for (x, y) in acc.iter_mut().zip(row) {
            *x += y;
        }
    };
    match u32::try_from(n) {
        Ok(n32) => {
            for _ in 0..n / 2 {
                let x = rng.next_u64();
                add(&mut a, &rows[below(x as u32, n32, rng)]);
                add(&mut b, &rows[below((x >> 32) as u32, n32, rng)]);
            }
            if n % 2 == 1 {
                add(&mut a, &rows[below(rng.next_u32(), n32, rng)]);
            }
        }
        Err(_) => {
            for _ in 0..n {
                add(&mut a, &rows[rng.random_range(0..n)]);
            }
        }
    }
    add(&mut a, &b);
    a
}

/// A uniform index below `n` from the random `x` (Lemire's multiply-and-reject: exact, and
/// almost never draws again).
#[inline]
fn below(x: u32, n: u32, rng: &mut Xoshiro256PlusPlus) -> usize {
    let mut m = u64::from(x) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * u64::from(n);
        }
    }
    (m >> 32) as usize
}

/// The seed of resample `b`: a SplitMix64-style mix of the two, so neighbouring resamples
/// get unrelated generators.
fn resample_seed(seed: u64, b: usize) -> u64 {
    let mut z = seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `q` quantile of sorted values, interpolating linearly between order statistics
/// (NumPy's default).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    match sorted.get(lo + 1) {
        Some(&next) if frac > 0.0 => sorted[lo] + frac * (next - sorted[lo]),
        _ => sorted[lo],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{Card, Sample, Tuning, terms};

    fn units(rewards: &[f64], weights: &[f64]) -> Vec<Terms> {
        rewards
            .iter()
            .zip(weights)
            .enumerate()
            .map(|(i, (&reward, &w))| {
                let sample = Sample {
                    target: w * 0.1,
                    logging: 0.1,
                    reward,
                };
                terms(&Card::from(sample), &Tuning::default(), i).unwrap()
            })
            .collect()
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 5.0);
        assert_eq!(percentile(&v, 0.5), 3.0);
        // h = 4 * 0.025 = 0.1
        assert!((percentile(&v, 0.025) - 1.1).abs() < 1e-15);
        assert!((percentile(&v, 0.975) - 4.9).abs() < 1e-15);
    }

    #[test]
    fn seeded_and_independent_of_the_thread_count() {
        let rewards: Vec<f64> = (0..300).map(|i| (i % 7 == 0) as u8 as f64).collect();
        let weights: Vec<f64> = (0..300).map(|i| 0.5 + (i % 4) as f64 * 0.5).collect();
        let u = units(&rewards, &weights);
        let est = [Estimator::Ips, Estimator::Snips];
        let boot = |seed| Bootstrap {
            resamples: 200,
            seed,
            level: 0.95,
        };
        let a = boot(7).intervals(&u, &est).unwrap();
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| boot(7).intervals(&u, &est).unwrap());
        assert_eq!(a, one_thread);
        let other = boot(8).intervals(&u, &est).unwrap();
        assert_ne!(a, other);
        for r in &a {
            let i = r.as_ref().unwrap();
            assert!(i.lo < i.hi);
        }
    }

    #[test]
    fn a_single_unit_gives_a_point_interval() {
        let u = units(&[0.25], &[2.0]);
        let r = Bootstrap {
            resamples: 10,
            seed: 1,
            level: 0.9,
        }
        .intervals(&u, &[Estimator::Ips, Estimator::Snips])
        .unwrap();
        assert_eq!(r[0], Ok(Interval { lo: 0.5, hi: 0.5 }));
        assert_eq!(r[1], Ok(Interval { lo: 0.25, hi: 0.25 }));
    }

    #[test]
    fn undefined_resamples_and_bad_settings_are_errors() {
        let u = units(&[1.0, 0.0], &[0.0, 0.0]);
        let r = Bootstrap {
            resamples: 10,
            seed: 1,
            level: 0.95,
        }
        .intervals(&u, &[Estimator::Ips, Estimator::Snips])
        .unwrap();
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(OpeError::Empty { .. })));
        let bad = Bootstrap {
            resamples: 1,
            seed: 1,
            level: 0.95,
        };
        assert!(bad.intervals(&u, &[Estimator::Ips]).is_err());
        assert!(
            Bootstrap {
                resamples: 100,
                seed: 1,
                level: 0.95
            }
            .intervals(&[], &[Estimator::Ips])
            .is_err()
        );
    }

    /// Bernoulli(0.3) rewards logged on-policy: the 95% percentile interval of the mean
    /// covers 0.3 in about 95% of 200 seeded data sets of 200 rows.
    #[test]
    fn percentile_intervals_cover_the_true_mean() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let trials = 200;
        let mut covered = 0;
        for t in 0..trials {
            let rewards: Vec<f64> = (0..200)
                .map(|_| (rng.random::<f64>() < 0.3) as u8 as f64)
                .collect();
            let u = units(&rewards, &vec![1.0; 200]);
            let r = Bootstrap {
                resamples: 400,
                seed: t,
                level: 0.95,
            }
            .intervals(&u, &[Estimator::Ips])
            .unwrap();
            covered += r[0].as_ref().unwrap().contains(0.3) as usize;
        }
        let rate = covered as f64 / trials as f64;
        assert!((0.9..=0.99).contains(&rate), "coverage {rate}");
    }
}
