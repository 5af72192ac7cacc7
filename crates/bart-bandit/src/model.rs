//! Reward models over hashed features: logistic regression and factorization machines of 2nd
//! and 3rd order (logistic link, log-loss), their optimisers (AdaGrad; FTRL-proximal for
//! logistic regression) and the one model file format (versioned header, configuration,
//! checksum).

use crate::error::BanditError;
use crate::features::{Example, Feature, Interactions, Namespace};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard};
use xxhash_rust::xxh3::xxh3_64;

mod pairwise;
pub(crate) use pairwise::prefetch;
pub use pairwise::{Fixed, Pair, Pairwise};

/// The largest embedding rank (BaRT tried 10 to 200).
pub const MAX_RANK: usize = 256;

/// The most memory a model may take, parameters and optimiser state together.
const MAX_MODEL_BYTES: u64 = 8 << 30;

/// Which model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Logistic regression: weights only, interactions only through configured crosses.
    Lr,
    /// Factorization machine with pairwise interactions of every namespace feature.
    Fm2,
    /// Factorization machine with pairwise and three-way interactions.
    Fm3,
}

impl ModelKind {
    /// The name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lr => "lr",
            ModelKind::Fm2 => "fm2",
            ModelKind::Fm3 => "fm3",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = BanditError;
    fn from_str(s: &str) -> Result<Self, BanditError> {
        match s {
            "lr" => Ok(ModelKind::Lr),
            "fm2" => Ok(ModelKind::Fm2),
            "fm3" => Ok(ModelKind::Fm3),
            _ => Err(BanditError::invalid("model", s, "must be lr, fm2 or fm3")),
        }
    }
}

/// How weights are learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Per-coordinate learning rates from the sum of squared gradients.
    AdaGrad,
    /// FTRL-proximal (McMahan et al. 2013) with L1 and L2; logistic regression only.
    Ftrl,
}

impl std::str::FromStr for Optimizer {
    type Err = BanditError;
    fn from_str(s: &str) -> Result<Self, BanditError> {
        match s {
            "adagrad" => Ok(Optimizer::AdaGrad),
            "ftrl" => Ok(Optimizer::Ftrl),
            _ => Err(BanditError::invalid(
                "optimizer",
                s,
                "must be adagrad or ftrl",
            )),
        }
    }
}

/// Everything that defines a model; stored in its file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub kind: ModelKind,
    /// log2 of the number of buckets.
    pub bits: u8,
    /// Embedding rank of the factorization machines.
    pub rank: usize,
    pub optimizer: Optimizer,
    /// AdaGrad's base learning rate, or FTRL's alpha.
    pub learning_rate: f64,
    /// FTRL's beta.
    pub ftrl_beta: f64,
    /// L1 penalty (FTRL only).
    pub l1: f64,
    /// L2 penalty.
    pub l2: f64,
    /// Crosses added as linear features.
    pub interactions: Interactions,
    /// Standard deviation of the initial embeddings.
    pub init_scale: f64,
    /// Seeds the initial embeddings.
    pub seed: u64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            kind: ModelKind::Fm2,
            bits: 18,
            rank: 16,
            optimizer: Optimizer::AdaGrad,
            learning_rate: 0.1,
            ftrl_beta: 1.0,
            l1: 0.0,
            l2: 1e-6,
            interactions: Interactions::default(),
            init_scale: 0.05,
            seed: 0,
        }
    }
}

/// A one-line summary: `fm2 rank 16, adagrad 0.1, 2^18 buckets, -q AU`.
impl std::fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind.name())?;
        if self.kind != ModelKind::Lr {
            write!(f, " rank {}", self.rank)?;
        }
        let optimizer = match self.optimizer {
            Optimizer::AdaGrad => "adagrad",
            Optimizer::Ftrl => "ftrl",
        };
        write!(
            f,
            ", {optimizer} {}, 2^{} buckets",
            self.learning_rate, self.bits
        )?;
        if !self.interactions.is_empty() {
            let specs: Vec<String> = self.interactions.clone().into();
            write!(f, ", -q {}", specs.join(" -q "))?;
        }
        Ok(())
    }
}

impl ModelConfig {
    /// Checks every parameter once, before fitting.
    pub fn validate(&self) -> Result<(), BanditError> {
        let positive = |x: f64| x > 0.0 && x.is_finite();
        let non_negative = |x: f64| x >= 0.0 && x.is_finite();
        if !(8..=28).contains(&self.bits) {
            return Err(BanditError::invalid("bits", self.bits, "must be in 8..=28"));
        }
        if self.kind != ModelKind::Lr && !(1..=MAX_RANK).contains(&self.rank) {
            return Err(BanditError::invalid(
                "rank",
                self.rank,
                "must be in 1..=256",
            ));
        }
        if self.optimizer == Optimizer::Ftrl && self.kind != ModelKind::Lr {
            return Err(BanditError::invalid(
                "optimizer",
                "ftrl",
                "FTRL-proximal is for logistic regression (--model lr) only",
            ));
        }
        if !positive(self.learning_rate) {
            return Err(BanditError::invalid(
                "learning_rate",
                self.learning_rate,
                "must be positive",
            ));
        }
        if !non_negative(self.ftrl_beta) {
            return Err(BanditError::invalid(
                "ftrl_beta",
                self.ftrl_beta,
                "must be >= 0",
            ));
        }
        if !non_negative(self.l1) {
            return Err(BanditError::invalid("l1", self.l1, "must be >= 0"));
        }
        if !non_negative(self.l2) {
            return Err(BanditError::invalid("l2", self.l2, "must be >= 0"));
        }
        // Parameters and optimiser state, f32 each; u32 indices address them.
        let floats = (1u64 << self.bits) * (1 + self.order2() + self.order3()) as u64 * 3;
        if floats * 4 > MAX_MODEL_BYTES {
            return Err(BanditError::invalid(
                "bits and rank",
                format!("{} and {}", self.bits, self.rank),
                "need more than 8 GiB of parameters and optimiser state; lower --bits or --rank",
            ));
        }
        if !positive(self.init_scale) {
            return Err(BanditError::invalid(
                "init_scale",
                self.init_scale,
                "must be positive",
            ));
        }
        Ok(())
    }

    fn order2(&self) -> usize {
        if self.kind == ModelKind::Lr {
            0
        } else {
            self.rank
        }
    }

    fn order3(&self) -> usize {
        if self.kind == ModelKind::Fm3 {
            self.rank
        } else {
            0
        }
    }
}

/// A reward model: P(reward = 1 | x) = sigmoid(linear + pairwise + three-way terms).
///
/// Each bucket owns one row: its parameters (`1 + r2 + r3` floats: the linear weight, the
/// 2nd-order embedding, the 3rd-order embedding) followed by their optimiser state, so one
/// update touches one contiguous stretch of memory per feature. Embeddings start at zero and are
/// initialised (from the seed and the bucket) the first time an update touches them, so
/// untouched buckets stay zero and the file stores only the rows that were learned.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardModel {
    config: ModelConfig,
    mask: u32,
    /// Parameters per row.
    stride: usize,
    /// Floats per row: parameters, then optimiser state (AdaGrad's sum of squared gradients
    /// per parameter, or FTRL's z and n). The state is not saved.
    width: usize,
    constant: u32,
    rows: Vec<f32>,
    /// Buckets whose embeddings have been initialised.
    ready: Vec<u64>,
    /// Scratch for the gradient of one update.
    grad: Gradient,
    /// Partials of feature groups that recur across examples (an item's features), by the
    /// caller's key; emptied by every update.
    memo: Memo,
}

/// A cache that is not part of the model's value: clones start empty, and it never makes two
/// models unequal.
#[derive(Debug, Default)]
struct Memo {
    rows: RwLock<MemoTable>,
    groups: RwLock<FxHashMap<u64, Partial>>,
}

/// Remembered rows by key: `key`'s numbers at `rows[key * width..]`, made when bit `key` of
/// `made` is set. A row's place follows from its key, and whether it is made is one bit of a
/// small table, so finding rows costs no load from a large one.
#[derive(Debug, Default)]
struct MemoTable {
    width: usize,
    made: Vec<u64>,
    rows: Vec<f32>,
    /// Every key below this is made.
    full: usize,
}

impl MemoTable {
    fn contains(&self, key: u32) -> bool {
        let (word, bit) = (key as usize / 64, key % 64);
        self.made.get(word).is_some_and(|w| w >> bit & 1 == 1)
    }

    fn insert(&mut self, key: u32, row: &[f32]) {
        let (at, width) = (key as usize, self.width);
        if self.rows.len() < (at + 1) * width {
            self.rows.resize((at + 1) * width, 0.0);
        }
        self.rows[at * width..][..width].copy_from_slice(row);
        if self.made.len() <= at / 64 {
            self.made.resize(at / 64 + 1, 0);
        }
        self.made[at / 64] |= 1 << (at % 64);
        while u32::try_from(self.full).is_ok_and(|k| self.contains(k)) {
            self.full += 1;
        }
    }

    fn clear(&mut self) {
        self.made.clear();
        self.rows.clear();
        self.full = 0;
    }
}

/// Rows remembered by a model, from [`RewardModel::memo_rows`]; a borrow of the model, so it
/// cannot change meanwhile.
pub struct Remembered<'m> {
    table: RwLockReadGuard<'m, MemoTable>,
}

impl Remembered<'_> {
    /// The row remembered for `key`.
    pub fn get(&self, key: u32) -> Option<&[f32]> {
        let width = self.table.width;
        self.table
            .contains(key)
            .then(|| &self.table.rows[key as usize * width..][..width])
    }
}

/// Partials remembered by a model, from [`RewardModel::memo_groups`]; a borrow of the model.
pub struct Groups<'m> {
    table: RwLockReadGuard<'m, FxHashMap<u64, Partial>>,
}

impl Groups<'_> {
    /// The partial remembered for `key`.
    pub fn get(&self, key: u64) -> Option<&Partial> {
        self.table.get(&key)
    }
}

impl Clone for Memo {
    fn clone(&self) -> Self {
        Memo::default()
    }
}

impl PartialEq for Memo {
    fn eq(&self, _: &Memo) -> bool {
        true
    }
}

/// The gradient of one example's loss, without L2: (row index, value) of every linear weight,
/// and a block of `r2 + r3` values per namespace feature for its row's embeddings.
#[derive(Clone, Debug, Default, PartialEq)]
struct Gradient {
    linear: Vec<(u32, f32)>,
    rows: Vec<u32>,
    embeddings: Vec<f32>,
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The logistic function in `f32`, for serving: the model's parameters are `f32`. Its
/// exponential is inline and without branches, so a loop of them vectorises.
#[inline(always)]
pub fn sigmoid_f32(z: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-z))
}

/// `e^x` within 3 ulp: `2^n e^r` with `n = round(x / ln 2)`, `e^r` by Cephes' `expf`
/// polynomial (libm's `expf` is a call, which no loop vectorises). Clamped to the normal
/// range, `[-87.3, 88.3]`; NaN stays NaN.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    // ln 2 in two parts, so r = x - n ln 2 keeps its precision.
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n from the bits of n + 1.5 * 2^23, whose last bits hold n: a vector addition where a
    // conversion to an integer (saturating, NaN to 0) is a scalar one per lane.
    let n_bits = (n + 12_582_912.0).to_bits();
    e * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

/// Power sums of the embedding terms a = v_f x of a set of features: per factor `s1` over
/// 2nd-order embeddings (`r2` values), then `t1` and `t2` over 3rd-order ones (`r3` each),
/// then Σ_f s2 and Σ_f t3 (the interaction terms need only these totals, so they are kept as
/// one number each). They add up over disjoint sets of features and give the interaction
/// terms.
struct Sums {
    r2: usize,
    r3: usize,
    values: [f32; 3 * MAX_RANK + 2],
}

impl Sums {
    fn new(r2: usize, r3: usize) -> Self {
        Sums {
            r2,
            r3,
            values: [0.0; 3 * MAX_RANK + 2],
        }
    }

    fn len(&self) -> usize {
        self.r2 + 2 * self.r3 + 2
    }

    fn s1(&self) -> &[f32] {
        &self.values[..self.r2]
    }

    fn t(&self, power: usize) -> &[f32] {
        &self.values[self.r2 + (power - 1) * self.r3..][..self.r3]
    }

    /// Σ_{i<j} a_i a_j for every 3rd-order factor.
    fn e2(&self, f: usize) -> f32 {
        let (t1, t2) = (self.t(1)[f], self.t(2)[f]);
        0.5 * (t1 * t1 - t2)
    }

    fn interactions(&self) -> f64 {
        interactions(self.r2, self.r3, &self.values[..self.len()])
    }
}

/// The pairwise and three-way terms of the logit from power sums laid out as in [`Sums`]:
/// Σ_f (s1² - s2) / 2 + Σ_f (t1³ - 3 t1 t2 + 2 t3) / 6.
fn interactions(r2: usize, r3: usize, sums: &[f32]) -> f64 {
    let (s1, rest) = sums.split_at(r2);
    let (t1, rest) = rest.split_at(r3);
    let (t2, totals) = rest.split_at(r3);
    let pairs: f32 = lanes_sum(s1, |a| a * a) - totals[0];
    let mut triples = 2.0 * totals[1];
    if !t1.is_empty() {
        let cubes = lanes_sum(t1, |p1| p1 * p1 * p1);
        let mixed: f32 = t1.iter().zip(t2).map(|(p1, p2)| p1 * p2).sum();
        triples += cubes - 3.0 * mixed;
    }
    0.5 * f64::from(pairs) + f64::from(triples) / 6.0
}

/// Σ f(x) over `xs`, summed in eight lanes so that it vectorises (a plain float sum must keep
/// its order, one addition at a time).
fn lanes_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l += f(x);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// The part of a score that a group of namespace features contributes (their linear sum and
/// power sums). Scores of examples made of disjoint groups, such as a page's context, a
/// shelf's explanation and an item, combine partials instead of revisiting every feature;
/// see [`Pairwise`].
#[derive(Debug, PartialEq)]
pub struct Partial {
    linear: f64,
    sums: Vec<f32>,
}

impl Clone for Partial {
    fn clone(&self) -> Self {
        Partial {
            linear: self.linear,
            sums: self.sums.clone(),
        }
    }

    /// Reuses `self`'s allocation (the page scorer copies a partial per shelf and group).
    fn clone_from(&mut self, source: &Self) {
        self.linear = source.linear;
        self.sums.clone_from(&source.sums);
    }
}

impl Partial {
    /// Adds a disjoint group's partial (of the same model).
    pub fn add(&mut self, other: &Partial) {
        self.linear += other.linear;
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
    }
}

impl RewardModel {
    /// A model with all weights zero (predicts 0.5 everywhere).
    pub fn new(config: ModelConfig) -> Result<Self, BanditError> {
        config.validate()?;
        let n = 1usize << config.bits;
        let stride = 1 + config.order2() + config.order3();
        let width = stride
            + match config.optimizer {
                Optimizer::AdaGrad => stride,
                Optimizer::Ftrl => 2,
            };
        Ok(RewardModel {
            mask: (n - 1) as u32,
            stride,
            width,
            constant: Namespace::new(b"constant").id(b"constant"),
            rows: vec![0.0; n * width],
            ready: vec![0; n.div_ceil(64)],
            grad: Gradient::default(),
            memo: Memo::default(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Where the row of feature `id` starts.
    fn row(&self, id: u32) -> usize {
        (id & self.mask) as usize * self.width
    }

    /// The parameters of bucket `b`.
    fn params(&self, b: usize) -> &[f32] {
        &self.rows[b * self.width..][..self.stride]
    }

    /// Visits the linear features: the constant, every namespace feature, every cross.
    fn for_each_linear(&self, x: &Example<'_>, mut visit: impl FnMut(u32, f32)) {
        visit(self.constant, 1.0);
        for (id, v) in x.atoms() {
            visit(id, v);
        }
        self.config.interactions.for_each(x, visit);
    }

    /// Adds the namespace features of `x` to a linear sum and to power sums.
    fn accumulate(&self, x: &Example<'_>, linear: &mut f64, sums: &mut [f32]) {
        self.accumulate_atoms(x.atoms(), linear, sums);
    }

    fn accumulate_atoms(
        &self,
        atoms: impl IntoIterator<Item = Feature>,
        linear: &mut f64,
        sums: &mut [f32],
    ) {
        let (r2, r3) = (self.config.order2(), self.config.order3());
        let (s1, rest) = sums.split_at_mut(r2);
        let (t1, rest) = rest.split_at_mut(r3);
        let (t2, totals) = rest.split_at_mut(r3);
        for (id, v) in atoms {
            let row = &self.rows[self.row(id)..][..1 + r2 + r3];
            *linear += f64::from(row[0] * v);
            let (w2, w3) = row[1..].split_at(r2);
            for (p1, &w) in s1.iter_mut().zip(w2) {
                *p1 += w * v;
            }
            totals[0] += v * v * lanes_sum(w2, |w| w * w);
            if r3 > 0 {
                for ((p1, p2), &u) in t1.iter_mut().zip(t2.iter_mut()).zip(w3) {
                    let a = u * v;
                    *p1 += a;
                    *p2 += a * a;
                }
                totals[1] += v * v * v * lanes_sum(w3, |u| u * u * u);
            }
        }
    }

    fn forward(&self, x: &Example<'_>) -> (f64, Sums) {
        let mut sums = Sums::new(self.config.order2(), self.config.order3());
        let n = sums.len();
        let mut logit = f64::from(self.rows[self.row(self.constant)]);
        self.accumulate(x, &mut logit, &mut sums.values[..n]);
        self.config.interactions.for_each(x, |id, v| {
            logit += f64::from(self.rows[self.row(id)] * v);
        });
        (logit + sums.interactions(), sums)
    }

    /// A partial of no features.
    pub fn partial(&self) -> Partial {
        Partial {
            linear: 0.0,
            sums: vec![0.0; Sums::new(self.config.order2(), self.config.order3()).len()],
        }
    }

    /// Adds the namespace features of `x` to `part`.
    pub fn add_to(&self, part: &mut Partial, x: &Example<'_>) {
        self.accumulate(x, &mut part.linear, &mut part.sums);
    }

    /// Rows of `width` numbers for the keys `keys`, each below `bound` (each built by `build`
    /// the first time) and remembered until the next update. A key must determine its row (an
    /// item's id, for the item features of one catalog, summarised one way); keys index a
    /// table (key k's row sits at k * width), so they should be small and dense; `width` must
    /// be at least 1. Asking for another width forgets every row. Once every row below
    /// `bound` is made, the keys are not looked at. The answer reads the rows without further
    /// locking.
    pub(crate) fn memo_rows(
        &self,
        width: usize,
        bound: u32,
        keys: impl IntoIterator<Item = u32>,
        build: impl Fn(u32, &mut [f32]),
    ) -> Remembered<'_> {
        let read = self.memo.rows.read().unwrap_or_else(|e| e.into_inner());
        let same = read.width == width;
        if same && read.full >= bound as usize {
            return Remembered { table: read };
        }
        let mut missing: Vec<u32> = keys
            .into_iter()
            .filter(|&k| !(same && read.contains(k)))
            .collect();
        if missing.is_empty() {
            return Remembered { table: read };
        }
        drop(read);
        missing.sort_unstable();
        missing.dedup();
        let mut built = vec![0.0; missing.len() * width];
        for (&k, row) in missing.iter().zip(built.chunks_exact_mut(width)) {
            build(k, row);
        }
        let mut write = self.memo.rows.write().unwrap_or_else(|e| e.into_inner());
        if write.width != width {
            write.clear();
            write.width = width;
        }
        for (&k, row) in missing.iter().zip(built.chunks_exact(width)) {
            if !write.contains(k) {
                write.insert(k, row);
            }
        }
        drop(write);
        Remembered {
            table: self.memo.rows.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The partials of feature groups by the caller's keys (each built by `build` the first
    /// time, from an empty partial) and remembered until the next update: a key must determine
    /// its group's features (a shelf's explanation, a combination of relation codes).
    pub fn memo_groups(
        &self,
        keys: impl IntoIterator<Item = u64>,
        build: impl Fn(u64, &mut Partial),
    ) -> Groups<'_> {
        let read = self.memo.groups.read().unwrap_or_else(|e| e.into_inner());
        let mut missing: Vec<u64> = keys.into_iter().filter(|k| !read.contains_key(k)).collect();
        if missing.is_empty() {
            return Groups { table: read };
        }
        drop(read);
        missing.sort_unstable();
        missing.dedup();
        let built: Vec<(u64, Partial)> = missing
            .into_iter()
            .map(|k| {
                let mut p = self.partial();
                build(k, &mut p);
                (k, p)
            })
            .collect();
        self.memo
            .groups
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(built);
        Groups {
            table: self.memo.groups.read().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The score's log-odds.
    pub fn logit(&self, x: &Example<'_>) -> f64 {
        self.forward(x).0
    }

    /// Predicted probability of reward 1.
    pub fn predict(&self, x: &Example<'_>) -> f64 {
        sigmoid(self.logit(x))
    }

    /// The gradient of `weight * logloss`, where `dloss = weight * (p - y)`, at the current
    /// parameters (all of it computed before any step, so a bucket that appears twice gets
    /// both contributions exactly).
    fn gradient(&self, x: &Example<'_>, dloss: f32, sums: &Sums, g: &mut Gradient) {
        g.linear.clear();
        g.rows.clear();
        g.embeddings.clear();
        self.for_each_linear(x, |id, v| g.linear.push((self.row(id) as u32, dloss * v)));
        let (r2, r3) = (self.config.order2(), self.config.order3());
        if r2 == 0 {
            return;
        }
        for (id, v) in x.atoms() {
            let base = self.row(id);
            let row = &self.rows[base + 1..][..r2 + r3];
            g.rows.push(base as u32);
            let at = g.embeddings.len();
            g.embeddings.resize(at + r2 + r3, 0.0);
            let (out2, out3) = g.embeddings[at..].split_at_mut(r2);
            for ((o, &s1), &w) in out2.iter_mut().zip(sums.s1()).zip(&row[..r2]) {
                *o = dloss * v * (s1 - w * v);
            }
            for (f, (o, &u)) in out3.iter_mut().zip(&row[r2..]).enumerate() {
                let a = u * v;
                *o = dloss * v * (sums.e2(f) - a * (sums.t(1)[f] - a));
            }
        }
    }

    /// Gives the embeddings of `x`'s buckets their initial values, once per bucket.
    fn initialise(&mut self, x: &Example<'_>) {
        let width = self.config.order2() + self.config.order3();
        if width == 0 {
            return;
        }
        for (id, _) in x.atoms() {
            let bucket = (id & self.mask) as usize;
            if self.ready[bucket / 64] >> (bucket % 64) & 1 == 1 {
                continue;
            }
            self.ready[bucket / 64] |= 1 << (bucket % 64);
            let base = bucket * self.width + 1;
            let scale = self.config.init_scale as f32;
            for f in 0..width {
                self.rows[base + f] = scale * gaussian(self.config.seed, bucket, f);
            }
        }
    }

    /// One optimiser step on `weight * logloss(label, p)`. Returns the prediction made before
    /// the step (for progressive validation).
    pub fn update(&mut self, x: &Example<'_>, label: f64, weight: f64) -> f64 {
        let rows = self.memo.rows.get_mut().unwrap_or_else(|e| e.into_inner());
        if !rows.made.is_empty() {
            rows.clear();
        }
        let groups = self
            .memo
            .groups
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        if !groups.is_empty() {
            groups.clear();
        }
        self.initialise(x);
        let (logit, sums) = self.forward(x);
        let p = sigmoid(logit);
        let dloss = ((p - label) * weight) as f32;
        let mut grad = std::mem::take(&mut self.grad);
        self.gradient(x, dloss, &sums, &mut grad);
        let (lr, l2) = (self.config.learning_rate as f32, self.config.l2 as f32);
        match self.config.optimizer {
            Optimizer::AdaGrad => {
                // A weight that only L2 moves (a feature whose value is always 0) shrinks
                // geometrically and would stick at the smallest subnormal, which slows every
                // product it enters several-fold: subnormal results are flushed to 0.
                let step = |w: &mut f32, sum: &mut f32, g: f32| {
                    let g = g + l2 * *w;
                    *sum += g * g;
                    let next = *w - lr * g / (sum.sqrt() + 1e-6);
                    *w = if next.is_subnormal() { 0.0 } else { next };
                };
                let stride = self.stride;
                for &(i, g) in &grad.linear {
                    let (params, state) =
                        self.rows[i as usize..][..2 * stride].split_at_mut(stride);
                    step(&mut params[0], &mut state[0], g);
                }
                // Each block of embeddings and its state are contiguous: this loop vectorises.
                let width = stride - 1;
                for (&base, g) in grad
                    .rows
                    .iter()
                    .zip(grad.embeddings.chunks_exact(width.max(1)))
                {
                    let row = &mut self.rows[base as usize + 1..][..2 * stride - 1];
                    let (params, state) = row.split_at_mut(stride);
                    for ((w, sum), &g) in params[..width].iter_mut().zip(&mut state[..width]).zip(g)
                    {
                        step(w, sum, g);
                    }
                }
            }
            Optimizer::Ftrl => {
                let (beta, l1) = (self.config.ftrl_beta as f32, self.config.l1 as f32);
                // Logistic regression only: one parameter per row, then z and n.
                for &(i, g) in &grad.linear {
                    let i = i as usize;
                    let (z, n) = (self.rows[i + 1], self.rows[i + 2]);
                    let sigma = ((n + g * g).sqrt() - n.sqrt()) / lr;
                    let z = z + g - sigma * self.rows[i];
                    let n = n + g * g;
                    self.rows[i + 1] = z;
                    self.rows[i + 2] = n;
                    self.rows[i] = if z.abs() <= l1 {
                        0.0
                    } else {
                        -(z - z.signum() * l1) / ((beta + n.sqrt()) / lr + l2)
                    };
                }
            }
        }
        self.grad = grad;
        p
    }

    /// Writes the model file: magic, format version, JSON configuration, the bucket count and
    /// row width, the learned rows (bucket index and floats), and an xxh3 checksum of
    /// everything before it.
    pub fn save(&self, path: &Path) -> Result<(), BanditError> {
        if let Some((b, w)) = (0..=self.mask as usize).find_map(|b| {
            self.params(b)
                .iter()
                .find(|w| !w.is_finite())
                .map(|&w| (b, w))
        }) {
            return Err(BanditError::ModelFile {
                path: path.to_path_buf(),
                reason: format!(
                    "not saved: bucket {b} holds {w}, not a finite number (did training diverge?)"
                ),
            });
        }
        let config = serde_json::to_vec(&self.config).expect("config serialises");
        let rows: Vec<usize> = (0..=self.mask as usize)
            .filter(|&b| self.params(b).iter().any(|&w| w != 0.0))
            .collect();
        let mut buf = Vec::with_capacity(64 + config.len() + rows.len() * (4 + 4 * self.stride));
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf.extend_from_slice(&(config.len() as u32).to_le_bytes());
        buf.extend_from_slice(&config);
        buf.extend_from_slice(&(self.stride as u32).to_le_bytes());
        buf.extend_from_slice(&(rows.len() as u64).to_le_bytes());
        for &b in &rows {
            buf.extend_from_slice(&(b as u32).to_le_bytes());
            for w in self.params(b) {
                buf.extend_from_slice(&w.to_le_bytes());
            }
        }
        let sum = xxh3_64(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        std::fs::write(path, buf).map_err(|source| BanditError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a model file written by [`save`](Self::save). A file that is not a bart model,
    /// of another format version, truncated, corrupt or inconsistent is rejected with a clear
    /// error.
    pub fn load(path: &Path) -> Result<Self, BanditError> {
        let bytes = std::fs::read(path).map_err(|source| BanditError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| BanditError::ModelFile {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a bart model file (bad magic bytes)".into()));
        }
        let mut r = Reader {
            bytes: &bytes,
            pos: MAGIC.len(),
        };
        let truncated = || bad(format!("truncated ({} bytes)", bytes.len()));
        let version = r.u32().ok_or_else(truncated)?;
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version} is not supported (this bart reads version {FORMAT_VERSION})"
            )));
        }
        let config_len = r.u32().ok_or_else(truncated)?;
        let config_bytes = r.take(config_len as usize).ok_or_else(truncated)?;
        let stride = r.u32().ok_or_else(truncated)? as usize;
        let rows = r.u64().ok_or_else(truncated)?;
        let row_bytes = 4 + 4 * stride;
        let body = r
            .take(
                usize::try_from(rows)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(row_bytes),
            )
            .ok_or_else(truncated)?;
        let body_end = r.pos;
        let sum = r.u64().ok_or_else(truncated)?;
        if r.pos != bytes.len() {
            return Err(bad(format!(
                "{} unexpected bytes after the checksum",
                bytes.len() - r.pos
            )));
        }
        if xxh3_64(&bytes[..body_end]) != sum {
            return Err(bad("checksum mismatch: the file is corrupt".into()));
        }
        let config: ModelConfig = serde_json::from_slice(config_bytes)
            .map_err(|e| bad(format!("unreadable configuration: {e}")))?;
        let mut model =
            RewardModel::new(config).map_err(|e| bad(format!("invalid configuration: {e}")))?;
        if stride != model.stride {
            return Err(bad(format!(
                "rows of {stride} floats do not match the configuration ({})",
                model.stride
            )));
        }
        let mut last = None;
        for row in body.chunks_exact(row_bytes) {
            let b = u32::from_le_bytes(row[..4].try_into().unwrap());
            if b > model.mask || last.is_some_and(|l| b <= l) {
                return Err(bad(format!("bucket {b} is out of order or out of range")));
            }
            last = Some(b);
            let b = b as usize;
            for (k, w) in row[4..].chunks_exact(4).enumerate() {
                let w = f32::from_le_bytes(w.try_into().unwrap());
                if !w.is_finite() {
                    return Err(bad(format!("bucket {b} holds {w}, not a finite number")));
                }
                model.rows[b * model.width + k] = w;
            }
            if model.params(b)[1..].iter().any(|&w| w != 0.0) {
                model.ready[b / 64] |= 1 << (b % 64);
            }
        }
        Ok(model)
    }
}

/// A deterministic standard normal draw for (seed, bucket, factor): Box-Muller on two
/// uniforms from the one hasher.
fn gaussian(seed: u64, bucket: usize, factor: usize) -> f32 {
    let uniform = |salt: u64| {
        let h = crate::hash::hash(seed, &[bucket as u64, factor as u64, salt]);
        ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (u1, u2) = (uniform(0), uniform(1));
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

const MAGIC: &[u8; 8] = b"BARTMODL";
const FORMAT_VERSION: u32 = 2;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests;
