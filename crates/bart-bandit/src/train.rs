//! Counterfactual training: log-loss weighted by inverse logged propensities (none, IPS,
//! clipped IPS or self-normalised), over examples featurised in batches.
//!
//! Gradient steps are sequential, in the data's order, so a model is bit-for-bit the same
//! whatever the number of threads; the threads featurise (or parse) the next batch while the
//! model learns from the current one.

use crate::error::BanditError;
use crate::features::{Example, Feature, Group};
use crate::model::RewardModel;
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

/// The most passes over the data a training run makes.
pub const MAX_EPOCHS: usize = 1000;

/// The largest importance weight training accepts: beyond it, f32 gradients overflow. Clip
/// (`clipped:M`) or self-normalise logs with smaller propensities.
pub const MAX_WEIGHT: f64 = 1e6;

/// Training options.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub weighting: Weighting,
    /// Passes over the data.
    pub epochs: usize,
    /// Learn only from examples in the exploration slice (logged by uniform exploration).
    pub exploration_only: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            weighting: Weighting::Clipped(100.0),
            epochs: 1,
            exploration_only: false,
        }
    }
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

/// What a training run saw.
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
    mut progress: impl FnMut(u64, &TrainStats),
) -> Result<TrainStats, BanditError> {
    config.validate()?;
    let included = |l: &Logged| l.explore || !config.exploration_only;
    let mean_inverse = match config.weighting {
        Weighting::SelfNormalised => {
            let (mut count, mut sum) = (0u64, 0.0f64);
            for l in data.logged()?.filter(included) {
                count += 1;
                sum += 1.0 / l.propensity;
            }
            if count > 0 { sum / count as f64 } else { 1.0 }
        }
        _ => 1.0,
    };
    let weight = |p: f64| match config.weighting {
        Weighting::None => 1.0,
        Weighting::Ips => 1.0 / p,
        Weighting::Clipped(m) => (1.0 / p).min(m),
        Weighting::SelfNormalised => 1.0 / p / mean_inverse,
    };
    // Checks and weighs example `index`; nothing is learned from a bad one.
    let checked = |index: usize, l: &Logged| -> Result<f64, BanditError> {
        let bad = |reason: String| BanditError::Example { index, reason };
        if !(l.propensity > 0.0 && l.propensity <= 1.0) {
            return Err(bad(format!("propensity {} is not in (0, 1]", l.propensity)));
        }
        if !(0.0..=1.0).contains(&l.label) {
            return Err(bad(format!("reward {} is not in [0, 1]", l.label)));
        }
        let w = weight(l.propensity);
        if w.is_nan() || w > MAX_WEIGHT {
            return Err(bad(format!(
                "importance weight {w:.3e} (propensity {:e}) exceeds {MAX_WEIGHT:e}; use --weighting clipped:M",
                l.propensity
            )));
        }
        Ok(w)
    };
    let learn = |model: &mut RewardModel, batch: &Batch, first: usize, t: &mut Totals| {
        for (k, (x, l)) in batch.iter().enumerate() {
            if !included(&l) {
                t.skipped += 1;
                continue;
            }
            let w = checked(first + k, &l)?;
            let y = f64::from(l.label);
            let p = model.update(&x, y, w).clamp(1e-12, 1.0 - 1e-12);
            let loss = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            t.loss += loss;
            t.weighted_loss += w * loss;
            t.weights += w;
            t.n += 1;
        }
        Ok(())
    };
    let n = data.batches();
    let mut stats = TrainStats::default();
    let mut done = 0u64;
    for epoch in 0..config.epochs {
        let mut t = Totals::default();
        let mut first = 0;
        let mut current = if n > 0 { Some(data.batch(0)?) } else { None };
        for k in 0..n {
            let batch = current.take().expect("batch featurised ahead");
            let (next, learned) = rayon::join(
                || (k + 1 < n).then(|| data.batch(k + 1)).transpose(),
                || learn(model, &batch, first, &mut t),
            );
            learned?;
            current = next?;
            first += batch.len();
            done += batch.len() as u64;
            progress(done, &t.stats());
        }
        if t.n == 0 {
            return Err(BanditError::invalid(
                "training set",
                "empty",
                "no examples to learn from (with exploration_only, none in the exploration slice)",
            ));
        }
        // Only the first pass scores examples the model has not seen: keep its loss.
        if epoch == 0 {
            stats = t.stats();
        }
    }
    Ok(stats)
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
            exploration_only: false,
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
}
