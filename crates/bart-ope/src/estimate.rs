//! Per-card estimators as functions of mergeable sums over logged cards, computed in one pass.
//!
//! Every card is reduced to a fixed vector of terms (its weight, weighted reward, the reward
//! model's direct estimate, weighted residuals, ...). Cards are grouped into clusters (pages,
//! or one card each when the rows are independent), and an accumulator keeps the sums of the
//! clusters' term vectors and of their outer products. Each estimator is a sum of ratios of
//! those sums, so its value and its delta-method normal interval follow from the
//! accumulator alone, and accumulators of disjoint parts of the logs merge by addition.

use crate::error::OpeError;
use serde::Serialize;

/// The 97.5% quantile of the standard normal distribution, for 95% intervals.
pub const Z95: f64 = 1.959_963_984_540_054;

/// One logged decision: the target policy's probability of the logged action, the logging
/// policy's probability of it, and the observed reward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub target: f64,
    pub logging: f64,
    pub reward: f64,
}

impl Sample {
    /// The importance weight target / logging.
    pub fn weight(&self) -> f64 {
        self.target / self.logging
    }
}

/// A logged decision with a reward model's view of it: `predicted` = q̂(x, logged action),
/// `direct` = Σ_a π_e(a | x) q̂(x, a), the reward model's estimate of the target's reward in
/// this context. Without a reward model both are 0, and DM is 0, DR is IPS, SNDR is SNIPS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Card {
    pub sample: Sample,
    pub predicted: f64,
    pub direct: f64,
}

impl From<Sample> for Card {
    fn from(sample: Sample) -> Self {
        Card {
            sample,
            predicted: 0.0,
            direct: 0.0,
        }
    }
}

/// Printed under every table that shows DM with an interval: the interval treats q̂ as known.
pub const DM_INTERVAL_CAVEAT: &str = "DM's intervals hold the fitted reward model fixed: its \
     fitting error is not in them, so they are too narrow. DR, with the logged propensities, \
     is unbiased however wrong the model is, and its intervals hold.";

/// Which per-card estimator. With w = π_e(a|x) / π_0(a|x), r the reward, q̂ the reward
/// model's prediction for the logged action and v̂ its direct estimate (see [`Card`]):
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// Replay (Li et al. 2011), deterministic targets only: mean reward of the cards where the
    /// logged action is the target's.
    Replay,
    /// Direct method: mean of v̂.
    Dm,
    /// Inverse propensity scoring: mean of w r.
    Ips,
    /// IPS with weights capped at [`Tuning::clip`]: mean of min(w, M) r.
    ClippedIps,
    /// Self-normalised IPS: Σ w r / Σ w.
    Snips,
    /// Doubly robust: mean of v̂ + w (r - q̂).
    Dr,
    /// Self-normalised DR: mean of v̂ + Σ w (r - q̂) / Σ w.
    Sndr,
    /// Switch-DR (Wang et al. 2017, as in the Open Bandit Pipeline): mean of
    /// v̂ + 1[w ≤ τ] w (r - q̂), τ = [`Tuning::switch`].
    SwitchDr,
    /// DR with optimistic shrinkage (Su et al. 2020): mean of v̂ + ŵ (r - q̂) with
    /// ŵ = λ w / (w² + λ), λ = [`Tuning::shrinkage`].
    DrOs,
}

impl Estimator {
    /// Every estimator, in the order reports list them.
    pub const ALL: [Estimator; 9] = [
        Estimator::Replay,
        Estimator::Dm,
        Estimator::Ips,
        Estimator::ClippedIps,
        Estimator::Snips,
        Estimator::Dr,
        Estimator::Sndr,
        Estimator::SwitchDr,
        Estimator::DrOs,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Replay => "replay",
            Estimator::Dm => "dm",
            Estimator::Ips => "ips",
            Estimator::ClippedIps => "clipped_ips",
            Estimator::Snips => "snips",
            Estimator::Dr => "dr",
            Estimator::Sndr => "sndr",
            Estimator::SwitchDr => "switch_dr",
            Estimator::DrOs => "dr_os",
        }
    }

    /// Whether the estimator uses a reward model.
    pub fn needs_reward_model(self) -> bool {
        !matches!(
            self,
            Estimator::Replay | Estimator::Ips | Estimator::ClippedIps | Estimator::Snips
        )
    }

    /// The estimate as a sum of ratios: each part is (numerator terms, denominator term).
    fn parts(self) -> &'static [(&'static [usize], usize)] {
        match self {
            Estimator::Replay => &[(&[MATCHED_REWARD], MATCHED)],
            Estimator::Dm => &[(&[DIRECT], COUNT)],
            Estimator::Ips => &[(&[WEIGHTED_REWARD], COUNT)],
            Estimator::ClippedIps => &[(&[CLIPPED_REWARD], COUNT)],
            Estimator::Snips => &[(&[WEIGHTED_REWARD], WEIGHT)],
            Estimator::Dr => &[(&[DIRECT, RESIDUAL], COUNT)],
            Estimator::Sndr => &[(&[DIRECT], COUNT), (&[RESIDUAL], WEIGHT)],
            Estimator::SwitchDr => &[(&[DIRECT, SWITCHED_RESIDUAL], COUNT)],
            Estimator::DrOs => &[(&[DIRECT, SHRUNK_RESIDUAL], COUNT)],
        }
    }

    /// The terms the estimator reads, each once.
    pub fn terms_used(self) -> Vec<usize> {
        let mut used: Vec<usize> = self
            .parts()
            .iter()
            .flat_map(|(num, den)| num.iter().chain([den]).copied())
            .collect();
        used.sort_unstable();
        used.dedup();
        used
    }

    /// The estimate from summed terms; an error when a denominator is not positive.
    pub fn value(self, sums: &Terms) -> Result<f64, OpeError> {
        let mut value = 0.0;
        for &(num, den) in self.parts() {
            let d = sums[den];
            if d <= 0.0 || d.is_nan() {
                return Err(OpeError::Empty {
                    estimator: self.name(),
                    reason: match den {
                        COUNT => "no samples",
                        WEIGHT => "the importance weights sum to zero",
                        _ => "the target never chose a logged action",
                    },
                });
            }
            value += num.iter().map(|&t| sums[t]).sum::<f64>() / d;
        }
        Ok(value)
    }

    /// The gradient of [`Estimator::value`] with respect to the sums (denominators positive).
    pub(crate) fn gradient(self, sums: &Terms) -> Terms {
        let mut g = [0.0; TERMS];
        for &(num, den) in self.parts() {
            let d = sums[den];
            let part = num.iter().map(|&t| sums[t]).sum::<f64>() / d;
            for &t in num {
                g[t] += 1.0 / d;
            }
            g[den] -= part / d;
        }
        g
    }
}

/// Parameters of the estimators that have one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tuning {
    /// Cap M on the weights of clipped IPS.
    pub clip: f64,
    /// Threshold τ of switch-DR: residuals of cards with larger weights are dropped.
    pub switch: f64,
    /// λ of DR with optimistic shrinkage (∞: DR; 0: DM).
    pub shrinkage: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            clip: 100.0,
            switch: 100.0,
            shrinkage: 100.0,
        }
    }
}

impl Tuning {
    /// Refuses negative or NaN parameters.
    pub fn validate(&self) -> Result<(), OpeError> {
        for (name, v) in [
            ("clip", self.clip),
            ("switch", self.switch),
            ("shrinkage", self.shrinkage),
        ] {
            if v.is_nan() || v < 0.0 {
                return Err(OpeError::Unsupported(format!(
                    "{name} = {v}: must be a number >= 0 (inf allowed)"
                )));
            }
        }
        Ok(())
    }
}

/// Number of terms per card.
pub const TERMS: usize = 10;
/// A card's (or a cluster's summed) terms.
pub type Terms = [f64; TERMS];

const COUNT: usize = 0;
const WEIGHT: usize = 1;
const WEIGHTED_REWARD: usize = 2;
const CLIPPED_REWARD: usize = 3;
const DIRECT: usize = 4;
const RESIDUAL: usize = 5;
const SWITCHED_RESIDUAL: usize = 6;
const SHRUNK_RESIDUAL: usize = 7;
const MATCHED: usize = 8;
const MATCHED_REWARD: usize = 9;

/// Validates a card (`index` names it in errors) and returns its terms.
pub fn terms(card: &Card, tuning: &Tuning, index: usize) -> Result<Terms, OpeError> {
    let Sample {
        target,
        logging,
        reward,
    } = card.sample;
    if !(logging > 0.0 && logging <= 1.0) {
        return Err(OpeError::InvalidProbability {
            field: "logging propensity",
            value: logging,
            index,
            range: "(0, 1]",
        });
    }
    if !(0.0..=1.0).contains(&target) {
        return Err(OpeError::InvalidProbability {
            field: "target probability",
            value: target,
            index,
            range: "[0, 1]",
        });
    }
    let mut t = weighted_terms(card.sample.weight(), card, tuning, index)?;
    if target == 1.0 {
        t[MATCHED] = 1.0;
        t[MATCHED_REWARD] = reward;
    }
    Ok(t)
}

/// The terms of a card whose importance weight `w` is given rather than a ratio of its
/// probabilities (the card's own are ignored): slate weights are products or sums of ratios,
/// and the pseudo-inverse's can be negative. Replay does not apply to such cards.
fn weighted_terms(w: f64, card: &Card, tuning: &Tuning, index: usize) -> Result<Terms, OpeError> {
    let reward = card.sample.reward;
    for (field, value) in [
        ("weight", w),
        ("reward", reward),
        ("prediction", card.predicted),
        ("direct estimate", card.direct),
    ] {
        if !value.is_finite() {
            return Err(OpeError::NotFinite {
                field,
                value,
                index,
            });
        }
    }
    let residual = reward - card.predicted;
    let shrunk = if tuning.shrinkage.is_infinite() {
        w
    } else if tuning.shrinkage == 0.0 {
        0.0
    } else {
        tuning.shrinkage * w / (w * w + tuning.shrinkage)
    };
    Ok([
        1.0,
        w,
        w * reward,
        w.min(tuning.clip) * reward,
        card.direct,
        w * residual,
        if w <= tuning.switch {
            w * residual
        } else {
            0.0
        },
        shrunk * residual,
        0.0,
        0.0,
    ])
}

/// A point estimate with a 95% normal confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub std_error: f64,
    pub lo: f64,
    pub hi: f64,
    /// Number of samples (cards).
    pub samples: u64,
    /// Number of independent units (pages).
    pub clusters: u64,
    /// Kish effective sample size of the weights, (sum w)^2 / sum w^2.
    pub effective_samples: f64,
}

impl Estimate {
    /// Whether `x` lies inside the interval.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Whether the two intervals share no point.
    pub fn disjoint(&self, other: &Estimate) -> bool {
        self.hi < other.lo || other.hi < self.lo
    }
}

/// Single-pass accumulator of every estimator over clusters of cards: the sums of the
/// clusters' terms and of their outer products, from which each estimator's value and its
/// delta-method variance `n/(n-1) * Σ_c (g · (t_c - t̄))^2` follow (g the estimator's gradient,
/// `t_c` a cluster's summed terms, n the number of clusters). Memory is constant.
#[derive(Clone, Debug)]
pub struct Sums {
    tuning: Tuning,
    clusters: u64,
    samples: u64,
    /// Some card's target probability was neither 0 nor 1: replay does not apply.
    stochastic_target: bool,
    total: Terms,
    outer: [Terms; TERMS],
    /// Σ w² over cards, for the effective sample size.
    sum_ww: f64,
    open: Terms,
    open_ww: f64,
    is_open: bool,
}

impl Sums {
    /// An empty accumulator.
    pub fn new(tuning: Tuning) -> Self {
        Sums {
            tuning,
            clusters: 0,
            samples: 0,
            stochastic_target: false,
            total: [0.0; TERMS],
            outer: [[0.0; TERMS]; TERMS],
            sum_ww: 0.0,
            open: [0.0; TERMS],
            open_ww: 0.0,
            is_open: false,
        }
    }

    /// Adds one card to the current cluster; probabilities and values are validated.
    pub fn add(&mut self, card: impl Into<Card>) -> Result<(), OpeError> {
        self.add_numbered(card, self.samples as usize)
    }

    /// [`add`](Self::add), naming the card `index` in errors (e.g. its record in a file).
    pub fn add_numbered(&mut self, card: impl Into<Card>, index: usize) -> Result<(), OpeError> {
        let card = card.into();
        let t = terms(&card, &self.tuning, index)?;
        let target = card.sample.target;
        self.stochastic_target |= target != 0.0 && target != 1.0;
        self.push(t);
        Ok(())
    }

    /// Adds one card to the current cluster by its importance weight (any finite number),
    /// reward and reward-model prediction q̂ (see [`Card`]); its direct estimate is 0 (add a
    /// cluster's with [`add_direct`](Self::add_direct)).
    pub fn add_weighted(
        &mut self,
        weight: f64,
        reward: f64,
        predicted: f64,
    ) -> Result<(), OpeError> {
        let card = Card {
            sample: Sample {
                target: 0.0,
                logging: 1.0,
                reward,
            },
            predicted,
            direct: 0.0,
        };
        let t = weighted_terms(weight, &card, &self.tuning, self.samples as usize)?;
        self.stochastic_target = true;
        self.push(t);
        Ok(())
    }

    /// Adds the reward model's direct estimate v̂ of a whole cluster (for a page: the target's
    /// expected reward there) to the current cluster.
    pub fn add_direct(&mut self, direct: f64) -> Result<(), OpeError> {
        if !direct.is_finite() {
            return Err(OpeError::NotFinite {
                field: "direct estimate",
                value: direct,
                index: self.samples as usize,
            });
        }
        self.open[DIRECT] += direct;
        self.is_open = true;
        Ok(())
    }

    fn push(&mut self, t: Terms) {
        self.samples += 1;
        self.open_ww += t[WEIGHT] * t[WEIGHT];
        for (o, x) in self.open.iter_mut().zip(t) {
            *o += x;
        }
        self.is_open = true;
    }

    /// Adds one card as a cluster of its own (independent rows).
    pub fn add_row(&mut self, card: impl Into<Card>) -> Result<(), OpeError> {
        self.add(card)?;
        self.end_cluster();
        Ok(())
    }

    /// Closes the current cluster, counting it as `target_samples` cards: the number the
    /// target policy is expected to show there (for a page: its expected number of cards)
    /// instead of the number logged. Then the per-card means (IPS, DM, DR, ...) estimate the
    /// target's reward per card even when the two policies fill pages differently. The
    /// self-normalised ratios (SNIPS, replay) are unaffected.
    /// Returns the cluster's summed terms (for paired comparisons, see [`crate::compare`]).
    pub fn end_cluster_expecting(&mut self, target_samples: f64) -> Terms {
        self.open[COUNT] = target_samples;
        self.is_open = true;
        let t = self.open;
        self.end_cluster();
        t
    }

    /// Closes the current cluster (a page); cards added after belong to the next one.
    pub fn end_cluster(&mut self) {
        if !self.is_open {
            return;
        }
        let t = std::mem::replace(&mut self.open, [0.0; TERMS]);
        self.is_open = false;
        self.clusters += 1;
        self.sum_ww += std::mem::take(&mut self.open_ww);
        for (i, row) in self.outer.iter_mut().enumerate() {
            self.total[i] += t[i];
            for (o, x) in row.iter_mut().zip(t) {
                *o += t[i] * x;
            }
        }
    }

    /// Merges another accumulator (for parallel evaluation).
    pub fn merge(&mut self, mut other: Sums) {
        self.end_cluster();
        other.end_cluster();
        self.clusters += other.clusters;
        self.samples += other.samples;
        self.stochastic_target |= other.stochastic_target;
        self.sum_ww += other.sum_ww;
        for i in 0..TERMS {
            self.total[i] += other.total[i];
            for j in 0..TERMS {
                self.outer[i][j] += other.outer[i][j];
            }
        }
    }

    /// `estimator` with its 95% normal interval (over the closed clusters).
    pub fn estimate(&self, estimator: Estimator) -> Result<Estimate, OpeError> {
        if estimator == Estimator::Replay && self.stochastic_target {
            return Err(OpeError::Unsupported(
                "replay needs a deterministic target (probabilities 0 or 1)".into(),
            ));
        }
        if self.clusters == 0 {
            return Err(OpeError::Empty {
                estimator: estimator.name(),
                reason: "no samples",
            });
        }
        let value = estimator.value(&self.total)?;
        let n = self.clusters as f64;
        let std_error = if self.clusters > 1 {
            let g = estimator.gradient(&self.total);
            let gs: f64 = g.iter().zip(&self.total).map(|(a, b)| a * b).sum();
            let mut quad = 0.0;
            for i in 0..TERMS {
                if g[i] != 0.0 {
                    for j in 0..TERMS {
                        quad += g[i] * self.outer[i][j] * g[j];
                    }
                }
            }
            (n / (n - 1.0) * (quad - gs * gs / n).max(0.0)).sqrt()
        } else {
            f64::INFINITY
        };
        Ok(Estimate {
            value,
            std_error,
            lo: value - Z95 * std_error,
            hi: value + Z95 * std_error,
            samples: self.samples,
            clusters: self.clusters,
            effective_samples: if self.sum_ww > 0.0 {
                self.total[WEIGHT] * self.total[WEIGHT] / self.sum_ww
            } else {
                0.0
            },
        })
    }

    /// The estimate (closing any open cluster first).
    pub fn finish(mut self, estimator: Estimator) -> Result<Estimate, OpeError> {
        self.end_cluster();
        self.estimate(estimator)
    }
}

#[cfg(test)]
mod tests;
