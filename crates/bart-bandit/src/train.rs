//! Counterfactual training: log-loss weighted by inverse logged propensities (none, IPS,
//! clipped IPS or self-normalised), over examples featurised in batches.
//!
//! Gradient steps are sequential, in the data's order, so a model is bit-for-bit the same
//! whatever the number of threads; the threads featurise (or parse) the next batch while the
//! model learns from the current one. Several models can learn from one pass over the data
//! ([`fit_each`]), each on its own thread, e.g. the bags of bootstrap Thompson sampling.
//!
//! Bagging uses the online bootstrap (Oza & Russell, "Online Bagging and Boosting", 2001; VW's
//! `--bootstrap`): with [`TrainConfig::bootstrap`] set, example i counts k_i ~ Poisson(1)
//! times (its weight is multiplied by k_i, and k_i = 0 leaves it out), k_i drawn from the seed
//! and i alone by [`bootstrap_count`]. Poisson(1) is the limit of the number of times an
//! example is drawn into a resample of n from n, so a bag is a bootstrap resample of the log.

use crate::error::BanditError;
use crate::features::{Example, Feature, Group};
use crate::hash::hash;
use crate::model::RewardModel;
use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

/// How examples are weighted by their logged propensity p.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Weighting {
    /// Every example weighs 1 (biased towards what the logging policy liked).
    None,
    /// 1 / p: unbiased for the uniform-exploration objective.
    Ips,
    /// min(1 / p, M): trades a little bias for much less variance.
    Clipped(f64),
    /// (1 / p) / mean(1 / p) over the training set.
    SelfNormalised,
}

impl std::str::FromStr for Weighting {
    type Err = BanditError;
    fn from_str(s: &str) -> Result<Self, BanditError> {
        let bad = || {
            BanditError::invalid(
                "weighting",
                s,
                "must be none, ips, clipped:M (M >= 1) or self-normalised",
            )
        };
        match s {
            "none" => Ok(Weighting::None),
            "ips" => Ok(Weighting::Ips),
            "self-normalised" | "self-normalized" | "snips" => Ok(Weighting::SelfNormalised),
            _ => {
                let m: f64 = s
                    .strip_prefix("clipped:")
                    .and_then(|m| m.parse().ok())
                    .ok_or_else(bad)?;
                if m >= 1.0 && m.is_finite() {
                    Ok(Weighting::Clipped(m))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl std::fmt::Display for Weighting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weighting::None => write!(f, "none"),
            Weighting::Ips => write!(f, "ips"),
            Weighting::Clipped(m) => write!(f, "clipped:{m}"),
            Weighting::SelfNormalised => write!(f, "self-normalised"),
        }
    }
}

/// As its text (`"clipped:100"`), the form the command line takes.
impl Serialize for Weighting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Weighting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The most passes over the data a training run makes.
pub const MAX_EPOCHS: usize = 1000;

/// The largest importance weight training accepts: beyond it, f32 gradients overflow. Clip
/// (`clipped:M`) or self-normalise logs with smaller propensities.
pub const MAX_WEIGHT: f64 = 1e6;

/// Training options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub weighting: Weighting,
    /// Passes over the data.
    pub epochs: usize,
    /// Learn only from examples in the exploration slice (logged by uniform exploration).
    pub exploration_only: bool,
    /// Train one bag of an online bootstrap with this seed: example i's weight is multiplied
    /// by [`bootstrap_count`]`(seed, i)` ~ Poisson(1), i its index in log order (counting
    /// every example, also those outside the exploration slice), the same in every epoch.
    /// `None`: the plain fit (every count 1).
    pub bootstrap: Option<u64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            weighting: Weighting::Clipped(100.0),
            epochs: 1,
            exploration_only: false,
            bootstrap: None,
        }
    }
}

/// The hash namespace of the bootstrap's draws.
const BOOTSTRAP: u64 = 0xB0_0757_2A9C_0001;

/// P(K <= k) for K ~ Poisson(1), k = 0, 1, ...: the inverse-CDF table of [`poisson1`].
/// It stops where the CDF reaches 1 in f64 (k = 17 or 18); larger counts have probability
/// below 1e-16 and are never drawn.
fn poisson1_cdf() -> &'static [f64] {
    static CDF: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    CDF.get_or_init(|| {
        let mut p = (-1.0f64).exp();
        let mut cdf = vec![p];
        let mut k = 0.0;
        while *cdf.last().expect("not empty") < 1.0 && cdf.len() < 40 {
            k += 1.0;
            p /= k;
            cdf.push(cdf.last().expect("not empty") + p);
        }
        cdf
    })
}

/// The Poisson(1) quantile of `u` in [0, 1): the smallest k with P(K <= k) > u.
pub fn poisson1(u: f64) -> u32 {
    let cdf = poisson1_cdf();
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1) as u32
}

/// How many times example `index` (in log order) is drawn into bootstrap bag `seed`: a
/// Poisson(1) count from the uniform that hashing (seed, index) gives, so it depends on
/// nothing else (not on batches, threads or epochs).
pub fn bootstrap_count(seed: u64, index: u64) -> u32 {
    // The top 53 bits: a uniform on the grid of multiples of 2^-53 in [0, 1).
    let u = (hash(BOOTSTRAP, &[seed, index]) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    poisson1(u)
}

impl TrainConfig {
    /// Checks the options once, before training.
    pub fn validate(&self) -> Result<(), BanditError> {
        if let Weighting::Clipped(m) = self.weighting
            && (m.is_nan() || m < 1.0)
        {
            return Err(BanditError::invalid(
                "clipped weight",
                m,
                "must be at least 1",
            ));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(BanditError::invalid(
                "epochs",
                self.epochs,
                "must be in 1..=1000",
            ));
        }
        Ok(())
    }
}

/// A logged example's label and how it was logged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Logged {
    /// Reward in [0, 1].
    pub label: f32,
    /// Probability the logging policy gave the logged action.
    pub propensity: f64,
    /// Logged by uniform exploration.
    pub explore: bool,
}

#[derive(Clone, Copy, Debug)]
struct Row {
    groups_end: u32,
    logged: Logged,
}

/// Featurised examples, stored flat.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    feats: Vec<Feature>,
    groups: Vec<Group>,
    rows: Vec<Row>,
}

impl Batch {
    /// Appends an example.
    pub fn push(&mut self, x: &Example<'_>, logged: Logged) {
        for g in x.groups {
            let start = self.feats.len() as u32;
            self.feats
                .extend_from_slice(&x.feats[g.start as usize..g.end as usize]);
            self.groups.push(Group {
                initial: g.initial,
                start,
                end: self.feats.len() as u32,
            });
        }
        self.rows.push(Row {
            groups_end: self.groups.len() as u32,
            logged,
        });
    }

    /// Appends every example of `other`.
    pub fn append(&mut self, other: &Batch) {
        for (x, logged) in other.iter() {
            self.push(&x, logged);
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True without examples.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The logged records in order.
    pub fn logged(&self) -> impl Iterator<Item = Logged> + '_ {
        self.rows.iter().map(|r| r.logged)
    }

    /// The examples in order.
    pub fn iter(&self) -> impl Iterator<Item = (Example<'_>, Logged)> {
        let mut start = 0usize;
        self.rows.iter().map(move |r| {
            let end = r.groups_end as usize;
            let x = Example {
                feats: &self.feats,
                groups: &self.groups[start..end],
            };
            start = end;
            (x, r.logged)
        })
    }

    /// Builds a batch from `items`, featurised by `featurise` in parallel chunks (rayon) and
    /// concatenated in order.
    pub fn par_build<T: Sync>(items: &[T], featurise: impl Fn(&[T], &mut Batch) + Sync) -> Batch {
        use rayon::prelude::*;
        let parts: Vec<Batch> = items
            .par_chunks(1024)
            .map(|chunk| {
                let mut b = Batch::default();
                featurise(chunk, &mut b);
                b
            })
            .collect();
        let mut out = Batch::default();
        for p in &parts {
            out.append(p);
        }
        out
    }
}

/// A training set, featurised batch by batch.
pub trait Examples: Sync {
    /// Number of batches.
    fn batches(&self) -> usize;
    /// Batch `k`.
    fn batch(&self, k: usize) -> Result<Cow<'_, Batch>, BanditError>;
    /// The logged record of every example in order (needed before training only for
    /// self-normalised weights).
    fn logged(&self) -> Result<Box<dyn Iterator<Item = Logged> + '_>, BanditError>;
}

/// Examples already in memory.
impl Examples for [Batch] {
    fn batches(&self) -> usize {
        self.len()
    }
    fn batch(&self, k: usize) -> Result<Cow<'_, Batch>, BanditError> {
        Ok(Cow::Borrowed(&self[k]))
    }
    fn logged(&self) -> Result<Box<dyn Iterator<Item = Logged> + '_>, BanditError> {
        Ok(Box::new(self.iter().flat_map(Batch::logged)))
    }
}

/// What a training run saw. Under the bootstrap, an example drawn k times counts as k
/// examples (the resample's size and means), and one drawn 0 times as none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainStats {
    /// Examples learned from per epoch.
    pub examples: u64,
    /// Examples left out (outside the exploration slice).
    pub skipped: u64,
    /// Progressive-validation log-loss of the first epoch (each example scored before it is
    /// learned), weighted like the training loss.
    pub weighted_log_loss: f64,
    /// The same, unweighted.
    pub log_loss: f64,
    pub mean_weight: f64,
}

#[derive(Default)]
struct Totals {
    n: u64,
    skipped: u64,
    loss: f64,
    weighted_loss: f64,
    weights: f64,
}

impl Totals {
    fn stats(&self) -> TrainStats {
        let per = |x: f64, n: f64| if n > 0.0 { x / n } else { 0.0 };
        TrainStats {
            examples: self.n,
            skipped: self.skipped,
            weighted_log_loss: per(self.weighted_loss, self.weights),
            log_loss: per(self.loss, self.n as f64),
            mean_weight: per(self.weights, self.n as f64),
        }
    }
}

/// Trains `model` on `data` for `config.epochs` passes. After each batch, `progress` is told
/// how many examples (over all epochs) are done and the current epoch's statistics so far.
/// Runs on the current rayon pool; the result does not depend on its size.
pub fn fit(
    model: &mut RewardModel,
    data: &(impl Examples + ?Sized),
    config: &TrainConfig,
    progress: impl FnMut(u64, &TrainStats),
) -> Result<TrainStats, BanditError> {
    let mut stats = fit_each(
        std::slice::from_mut(model),
        data,
        std::slice::from_ref(config),
        progress,
    )?;
    Ok(stats.pop().expect("one model, one result"))
}

/// Trains each of `models` with its own configuration (`configs[m]` for `models[m]`, e.g. the
/// same options with different bootstrap seeds) in one pass over `data` per epoch: each batch
/// is featurised once and every model learns from it on its own thread. Each model ends
/// bit-for-bit as [`fit`] alone would leave it, whatever the number of threads. The
/// configurations must agree on the number of epochs. `progress` is told the examples done
/// (over all epochs, once per example whatever the number of models) and the first model's
/// statistics so far. On a bad example, the error is the one the first model meets.
pub fn fit_each(
    models: &mut [RewardModel],
    data: &(impl Examples + ?Sized),
    configs: &[TrainConfig],
    mut progress: impl FnMut(u64, &TrainStats),
) -> Result<Vec<TrainStats>, BanditError> {
    if models.len() != configs.len() {
        return Err(BanditError::invalid(
            "training configurations",
            configs.len(),
            format!("need one per model ({})", models.len()),
        ));
    }
    for config in configs {
        config.validate()?;
    }
    let Some(epochs) = configs.first().map(|c| c.epochs) else {
        return Ok(Vec::new());
    };
    if configs.iter().any(|c| c.epochs != epochs) {
        return Err(BanditError::invalid(
            "epochs",
            "different per model",
            "models trained together make the same passes",
        ));
    }
    let weighers = configs
        .iter()
        .map(|config| Weigher::new(config, data))
        .collect::<Result<Vec<_>, _>>()?;
    let n = data.batches();
    let mut stats = vec![TrainStats::default(); models.len()];
    let mut done = 0u64;
    for epoch in 0..epochs {
        let mut totals: Vec<Totals> = models.iter().map(|_| Totals::default()).collect();
        let mut first = 0;
        let mut current = if n > 0 { Some(data.batch(0)?) } else { None };
        for k in 0..n {
            let batch = current.take().expect("batch featurised ahead");
            let (next, learned) = rayon::join(
                || (k + 1 < n).then(|| data.batch(k + 1)).transpose(),
                || -> Vec<Result<(), BanditError>> {
                    models
                        .par_iter_mut()
                        .zip(&weighers)
                        .zip(&mut totals)
                        .map(|((model, w), t)| w.learn(model, &batch, first, t))
                        .collect()
                },
            );
            // The first model's error, whichever thread met one first.
            learned.into_iter().collect::<Result<Vec<()>, _>>()?;
            current = next?;
            first += batch.len();
            done += batch.len() as u64;
            progress(done, &totals[0].stats());
        }
        if totals.iter().any(|t| t.n == 0) {
            return Err(BanditError::invalid(
                "training set",
                "empty",
                "no examples to learn from (with exploration_only, none in the exploration slice; \
                 with bootstrap, none drawn)",
            ));
        }
        // Only the first pass scores examples the model has not seen: keep its loss.
        if epoch == 0 {
            stats = totals.iter().map(Totals::stats).collect();
        }
    }
    Ok(stats)
}

/// One model's weighting of the examples: which it learns from and how much each weighs.
struct Weigher<'c> {
    config: &'c TrainConfig,
    /// Mean of 1 / p over the training set (the bootstrap resample under bootstrap), for
    /// self-normalised weights; else 1.
    mean_inverse: f64,
}

impl<'c> Weigher<'c> {
    /// Makes the pre-pass self-normalised weights need, over the same examples and counts
    /// that training uses, so the weights of the learned examples average exactly 1.
    fn new(config: &'c TrainConfig, data: &(impl Examples + ?Sized)) -> Result<Self, BanditError> {
        let mut w = Weigher {
            config,
            mean_inverse: 1.0,
        };
        if config.weighting == Weighting::SelfNormalised {
            let (mut count, mut sum) = (0u64, 0.0f64);
            for (i, l) in data.logged()?.enumerate() {
                if !w.included(&l) {
                    continue;
                }
                let c = w.count(i);
                count += u64::from(c);
                sum += f64::from(c) * (1.0 / l.propensity);
            }
            if count > 0 {
                w.mean_inverse = sum / count as f64;
            }
        }
        Ok(w)
    }

    fn included(&self, l: &Logged) -> bool {
        l.explore || !self.config.exploration_only
    }

    /// The times example `index` is learned from: its bootstrap count, else 1.
    fn count(&self, index: usize) -> u32 {
        match self.config.bootstrap {
            None => 1,
            Some(seed) => bootstrap_count(seed, index as u64),
        }
    }

    fn weight(&self, p: f64) -> f64 {
        match self.config.weighting {
            Weighting::None => 1.0,
            Weighting::Ips => 1.0 / p,
            Weighting::Clipped(m) => (1.0 / p).min(m),
            Weighting::SelfNormalised => 1.0 / p / self.mean_inverse,
        }
    }

    /// Checks and weighs example `index` (before its bootstrap count, so every bag refuses
    /// the same examples); nothing is learned from a bad one.
    fn checked(&self, index: usize, l: &Logged) -> Result<f64, BanditError> {
        let bad = |reason: String| BanditError::Example { index, reason };
        if !(l.propensity > 0.0 && l.propensity <= 1.0) {
            return Err(bad(format!("propensity {} is not in (0, 1]", l.propensity)));
        }
        if !(0.0..=1.0).contains(&l.label) {
            return Err(bad(format!("reward {} is not in [0, 1]", l.label)));
        }
        let w = self.weight(l.propensity);
        if w.is_nan() || w > MAX_WEIGHT {
            return Err(bad(format!(
                "importance weight {w:.3e} (propensity {:e}) exceeds {MAX_WEIGHT:e}; use --weighting clipped:M",
                l.propensity
            )));
        }
        Ok(w)
    }

    /// One step per example of `batch`, whose first example has index `first`: the weight
    /// times the bootstrap count (exactly the weight when the count is 1).
    fn learn(
        &self,
        model: &mut RewardModel,
        batch: &Batch,
        first: usize,
        t: &mut Totals,
    ) -> Result<(), BanditError> {
        for (k, (x, l)) in batch.iter().enumerate() {
            if !self.included(&l) {
                t.skipped += 1;
                continue;
            }
            let w = self.checked(first + k, &l)?;
            let c = self.count(first + k);
            if c == 0 {
                continue;
            }
            let copies = f64::from(c);
            let w = w * copies;
            let y = f64::from(l.label);
            let p = model.update(&x, y, w).clamp(1e-12, 1.0 - 1e-12);
            let loss = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            t.loss += copies * loss;
            t.weighted_loss += w * loss;
            t.weights += w;
            t.n += u64::from(c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Features, Namespace};
    use crate::model::{ModelConfig, ModelKind};

    /// Two equally likely contexts the model cannot see, and a logging policy that depends on
    /// them: action 0 is logged with p = 0.9 in context 0 and p = 0.1 in context 1. Action 0
    /// streams with probability 0.8 in context 0 and 0.1 in context 1, so its true rate is
    /// 0.45, but among the logged action-0 examples context 0 makes up 90%, so the unweighted
    /// fit converges to 0.9 * 0.8 + 0.1 * 0.1 = 0.73. Labels are the true probabilities, so
    /// every fit has a closed-form limit.
    fn biased_logs() -> Vec<Batch> {
        let ns = Namespace::new(b"A");
        let truth = [[0.8f32, 0.4], [0.1, 0.6]];
        let logging = [[0.9, 0.1], [0.1, 0.9]];
        let mut batch = Batch::default();
        let mut f = Features::default();
        for _ in 0..3000 {
            for c in 0..2 {
                for a in 0..2 {
                    for _ in 0..(logging[c][a] * 10.0) as usize {
                        f.clear();
                        f.namespace(&ns);
                        f.add(&ns, "action", a);
                        let logged = Logged {
                            label: truth[c][a],
                            propensity: logging[c][a],
                            explore: false,
                        };
                        batch.push(&f.example(), logged);
                    }
                }
            }
        }
        vec![batch]
    }

    fn fitted_rate_of_action_0(weighting: &str) -> f64 {
        let mut model = RewardModel::new(ModelConfig {
            kind: ModelKind::Lr,
            learning_rate: 0.02,
            ..ModelConfig::default()
        })
        .unwrap();
        let config = TrainConfig {
            weighting: weighting.parse().unwrap(),
            epochs: 3,
            ..TrainConfig::default()
        };
        fit(&mut model, biased_logs().as_slice(), &config, |_, _| {}).unwrap();
        let ns = Namespace::new(b"A");
        let mut f = Features::default();
        f.namespace(&ns);
        f.add(&ns, "action", 0);
        model.predict(&f.example())
    }

    #[test]
    fn ips_weighting_recovers_the_truth_the_unweighted_fit_misses() {
        let none = fitted_rate_of_action_0("none");
        let ips = fitted_rate_of_action_0("ips");
        let snips = fitted_rate_of_action_0("self-normalised");
        let clipped = fitted_rate_of_action_0("clipped:5");
        assert!((none - 0.73).abs() < 0.01, "unweighted {none}");
        assert!((ips - 0.45).abs() < 0.01, "ips {ips}");
        assert!((snips - 0.45).abs() < 0.01, "self-normalised {snips}");
        // Weights min(1/p, 5): (0.45 * 10/9 * 0.8 + 0.05 * 5 * 0.1) / (0.45 * 10/9 + 0.05 * 5).
        assert!((clipped - 0.425 / 0.75).abs() < 0.01, "clipped {clipped}");
    }

    #[test]
    fn empty_training_sets_and_huge_weights_are_refused() {
        let mut model = RewardModel::new(ModelConfig::default()).unwrap();
        let only_logged = TrainConfig {
            exploration_only: true,
            ..TrainConfig::default()
        };
        let err = fit(
            &mut model,
            biased_logs().as_slice(),
            &only_logged,
            |_, _| {},
        );
        assert!(err.unwrap_err().to_string().contains("no examples"));
        let mut b = Batch::default();
        let f = Features::default();
        let tiny = Logged {
            label: 1.0,
            propensity: 1e-9,
            explore: true,
        };
        b.push(&f.example(), tiny);
        let ips = TrainConfig {
            weighting: Weighting::Ips,
            ..TrainConfig::default()
        };
        let err = fit(&mut model, [b].as_slice(), &ips, |_, _| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("example 0: importance weight 1.000e9"),
            "{err}"
        );
        assert!(
            TrainConfig {
                epochs: 1001,
                ..TrainConfig::default()
            }
            .validate()
            .is_err()
        );
    }

    /// 3,000 examples in three batches: two namespaces, labels and propensities spread over
    /// their ranges, every fourth example in the exploration slice.
    fn mixed_logs() -> Vec<Batch> {
        let (ctx, act) = (Namespace::new(b"C"), Namespace::new(b"A"));
        let mut f = Features::default();
        (0..3)
            .map(|b| {
                let mut batch = Batch::default();
                for j in 0..1000u64 {
                    let i = b * 1000 + j;
                    let h = hash(99, &[i]);
                    f.clear();
                    f.namespace(&ctx);
                    f.add(&ctx, "c", (h % 7) as usize);
                    f.namespace(&act);
                    f.add(&act, "a", ((h >> 8) % 11) as usize);
                    let logged = Logged {
                        label: ((h >> 16) % 3) as f32 / 2.0,
                        propensity: 0.02 + 0.98 * ((h >> 24) % 1000) as f64 / 1000.0,
                        explore: i % 4 == 0,
                    };
                    batch.push(&f.example(), logged);
                }
                batch
            })
            .collect()
    }

    fn small_model() -> RewardModel {
        RewardModel::new(ModelConfig {
            bits: 12,
            rank: 4,
            ..ModelConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn bootstrap_counts_are_poisson_1() {
        // The inverse CDF at its steps: u below P(K = 0) = e^-1 gives 0, u = e^-1 gives 1.
        let e1 = (-1.0f64).exp();
        assert_eq!(poisson1(0.0), 0);
        assert_eq!(poisson1(e1.next_down()), 0);
        assert_eq!(poisson1(e1), 1);
        assert_eq!(poisson1(2.0 * e1.next_down()), 1);
        assert_eq!(poisson1(2.0 * e1), 2);
        assert!(poisson1(1.0f64.next_down()) <= 20);
        // 200,000 counts against n e^-1 / k! for k = 0..6 and k >= 7 pooled (n P = 17.5):
        // Pearson's chi-square below its 0.999 quantile with 7 degrees of freedom.
        let n = 200_000u64;
        for seed in [0, 1, u64::MAX] {
            let mut observed = [0u64; 8];
            let mut sum = 0u64;
            for i in 0..n {
                let k = bootstrap_count(seed, i);
                observed[(k as usize).min(7)] += 1;
                sum += u64::from(k);
            }
            let mut p = e1;
            let mut expected = [0.0; 8];
            for (k, e) in expected.iter_mut().enumerate().take(7) {
                if k > 0 {
                    p /= k as f64;
                }
                *e = n as f64 * p;
            }
            expected[7] = n as f64 - expected[..7].iter().sum::<f64>();
            let chi2: f64 = observed
                .iter()
                .zip(&expected)
                .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
                .sum();
            assert!(chi2 < 24.32, "seed {seed}: chi-square {chi2}, {observed:?}");
            // Mean 1, variance 1: within 5 standard errors.
            let mean = sum as f64 / n as f64;
            assert!((mean - 1.0).abs() < 5.0 / (n as f64).sqrt(), "mean {mean}");
        }
        // Bags are independent: counts of two seeds, and of neighbouring indices, are
        // uncorrelated (covariance within 5 standard errors of 0; each term has variance 1).
        let (mut across, mut along) = (0.0, 0.0);
        for i in 0..n {
            let k = |seed, i| f64::from(bootstrap_count(seed, i)) - 1.0;
            across += k(1, i) * k(2, i);
            along += k(1, i) * k(1, i + 1);
        }
        for cov in [across, along] {
            assert!((cov / n as f64).abs() < 5.0 / (n as f64).sqrt(), "{cov}");
        }
    }

    /// The specification of training: one update per learned example, in log order, with
    /// the weighting's weight times the bootstrap count (1 without bootstrap, and a count of
    /// 0 learns nothing), indices counting every example, the same counts every epoch.
    fn by_hand(data: &[Batch], config: &TrainConfig) -> (RewardModel, u64) {
        let mut model = small_model();
        let examples: Vec<(Example<'_>, Logged)> = data.iter().flat_map(Batch::iter).collect();
        let included = |l: &Logged| l.explore || !config.exploration_only;
        let count = |i: usize| config.bootstrap.map_or(1, |s| bootstrap_count(s, i as u64));
        let (mut n, mut inverse) = (0u64, 0.0);
        for (i, (_, l)) in examples.iter().enumerate().filter(|(_, e)| included(&e.1)) {
            n += u64::from(count(i));
            inverse += f64::from(count(i)) * (1.0 / l.propensity);
        }
        let mean_inverse = inverse / n as f64;
        let mut learned = 0;
        for epoch in 0..config.epochs {
            for (i, (x, l)) in examples.iter().enumerate() {
                if !included(l) || count(i) == 0 {
                    continue;
                }
                let w = match config.weighting {
                    Weighting::None => 1.0,
                    Weighting::Ips => 1.0 / l.propensity,
                    Weighting::Clipped(m) => (1.0 / l.propensity).min(m),
                    Weighting::SelfNormalised => 1.0 / l.propensity / mean_inverse,
                };
                model.update(x, f64::from(l.label), w * f64::from(count(i)));
                if epoch == 0 {
                    learned += u64::from(count(i));
                }
            }
        }
        (model, learned)
    }

    #[test]
    fn training_is_the_weighted_update_loop_with_and_without_bootstrap() {
        let data = mixed_logs();
        for weighting in ["none", "ips", "clipped:5", "self-normalised"] {
            for (bootstrap, exploration_only, epochs) in [
                (None, false, 1),
                (None, true, 2),
                (Some(5), false, 1),
                (Some(6), true, 2),
            ] {
                let config = TrainConfig {
                    weighting: weighting.parse().unwrap(),
                    epochs,
                    exploration_only,
                    bootstrap,
                };
                let mut model = small_model();
                let stats = fit(&mut model, data.as_slice(), &config, |_, _| {}).unwrap();
                let (expected, learned) = by_hand(&data, &config);
                assert!(model == expected, "{config:?}");
                assert_eq!(stats.examples, learned, "{config:?}");
                assert_eq!(stats.skipped, if exploration_only { 2250 } else { 0 });
                // Self-normalised weights average 1 over what was learned, resample or not:
                // the pre-pass saw the same counts as training.
                if config.weighting == Weighting::SelfNormalised {
                    assert!((stats.mean_weight - 1.0).abs() < 1e-12, "{stats:?}");
                }
                if bootstrap.is_some() {
                    // A resample: about as many draws as examples, not the same.
                    let all = if exploration_only { 750 } else { 3000 };
                    assert_ne!(stats.examples, all);
                    assert!((stats.examples as f64 - all as f64).abs() < 5.0 * (all as f64).sqrt());
                }
            }
        }
    }

    #[test]
    fn bags_are_reproducible_and_differ_by_seed_whatever_the_threads() {
        let data = mixed_logs();
        let configs: Vec<TrainConfig> = [Some(1), Some(2), Some(1), None]
            .into_iter()
            .map(|bootstrap| TrainConfig {
                bootstrap,
                ..TrainConfig::default()
            })
            .collect();
        let train = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut models: Vec<RewardModel> = configs.iter().map(|_| small_model()).collect();
                let stats = fit_each(&mut models, data.as_slice(), &configs, |_, _| {}).unwrap();
                (models, stats)
            })
        };
        let (one, stats_one) = train(1);
        let (four, stats_four) = train(4);
        assert!(one == four);
        assert_eq!(stats_one, stats_four);
        // The same seed gives the same bag, another seed another bag, and neither is the
        // plain fit.
        assert!(one[0] == one[2]);
        assert!(one[0] != one[1]);
        assert!(one[0] != one[3] && one[1] != one[3]);
        // Training together is training alone.
        for (model, config) in one.iter().zip(&configs) {
            let mut alone = small_model();
            fit(&mut alone, data.as_slice(), config, |_, _| {}).unwrap();
            assert!(*model == alone);
        }
        // Models trained together make the same passes.
        let mut two = vec![small_model(), small_model()];
        let three = TrainConfig {
            epochs: 3,
            ..TrainConfig::default()
        };
        let err = fit_each(
            &mut two,
            data.as_slice(),
            &[TrainConfig::default(), three],
            |_, _| {},
        );
        assert!(err.unwrap_err().to_string().contains("epochs"));
    }

    #[test]
    fn train_configs_round_trip_through_json() {
        let config = TrainConfig {
            weighting: Weighting::Clipped(12.5),
            epochs: 2,
            exploration_only: true,
            bootstrap: Some(u64::MAX),
        };
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            json,
            r#"{"weighting":"clipped:12.5","epochs":2,"exploration_only":true,"bootstrap":18446744073709551615}"#
        );
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), config);
        // Missing fields take the defaults (records written before a field existed).
        assert_eq!(
            serde_json::from_str::<TrainConfig>("{}").unwrap(),
            TrainConfig::default()
        );
        assert!(serde_json::from_str::<TrainConfig>(r#"{"weighting":"clipped:0.5"}"#).is_err());
    }
}
