//! Policies over a shrinking candidate set: ε-greedy, softmax and bootstrap Thompson sampling.
//! One function gives each policy's probabilities over the candidates left; sampling draws
//! from exactly that vector, so the probability logged is the one used.
//!
//! Greedy means the highest score by `f64::total_cmp`; ties go to the lowest candidate index.
//! The sampler and the marginals share that one order, so they agree even on odd scores.

use crate::error::BanditError;
use bart_core::Exploration;
use rand::{Rng, RngExt};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

/// The most bagged models Thompson sampling accepts.
pub const MAX_BAGS: u32 = 1024;

/// The scores of a set of candidates.
#[derive(Clone, Copy, Debug)]
pub struct Scores<'a> {
    /// The reward model's score of each candidate (the bags' mean under Thompson sampling).
    pub mean: &'a [f64],
    /// `bags[b][i]`: bagged model b's score of candidate i; empty with a single model.
    pub bags: &'a [Vec<f64>],
}

impl<'a> Scores<'a> {
    /// Scores of a single model.
    pub fn single(mean: &'a [f64]) -> Self {
        Scores { mean, bags: &[] }
    }
}

/// A policy: an [`Exploration`] whose parameters have been checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    exploration: Exploration,
}

impl Policy {
    /// Checks the parameters: ε in [0, 1], a positive finite temperature, 1 to
    /// [`MAX_BAGS`] bags.
    pub fn new(exploration: Exploration) -> Result<Self, BanditError> {
        match exploration {
            Exploration::EpsilonGreedy { epsilon } => {
                EpsilonGreedy::new(epsilon)?;
            }
            Exploration::Softmax { temperature } => {
                if !(temperature > 0.0 && temperature.is_finite()) {
                    return Err(BanditError::invalid(
                        "temperature",
                        temperature,
                        "must be positive and finite (use epsilon-greedy with epsilon 0 for greedy)",
                    ));
                }
            }
            Exploration::Thompson { bags } => {
                if !(1..=MAX_BAGS).contains(&bags) {
                    return Err(BanditError::invalid(
                        "bags",
                        bags,
                        format!("must be in 1..={MAX_BAGS}"),
                    ));
                }
            }
        }
        Ok(Policy { exploration })
    }

    /// The greedy policy.
    pub fn greedy() -> Self {
        Policy {
            exploration: Exploration::GREEDY,
        }
    }

    /// The uniform random policy.
    pub fn uniform() -> Self {
        Policy {
            exploration: Exploration::UNIFORM,
        }
    }

    /// The policy's kind and parameter, as logged.
    pub fn exploration(&self) -> Exploration {
        self.exploration
    }

    /// The probability of each of the `remaining` candidates (indices into `scores`), written
    /// to `out` in the same order. Thompson sampling without bags is greedy on the mean.
    ///
    /// # Panics
    /// If an index is out of range of the scores (or of a bag).
    pub fn probabilities(&self, scores: Scores<'_>, remaining: &[usize], out: &mut Vec<f64>) {
        out.clear();
        if remaining.is_empty() {
            return;
        }
        match self.exploration {
            Exploration::EpsilonGreedy { epsilon } => EpsilonGreedy { epsilon }.fill(
                remaining.len(),
                best_of(scores.mean, remaining),
                out,
            ),
            Exploration::Softmax { temperature } => {
                // Weights relative to the highest score that is a number. Infinite highest
                // scores share the mass; NaN scores get none unless every score is NaN
                // (then the draw is uniform).
                let best = remaining
                    .iter()
                    .map(|&i| scores.mean[i])
                    .filter(|s| !s.is_nan())
                    .max_by(f64::total_cmp);
                out.extend(remaining.iter().map(|&i| {
                    let s = scores.mean[i];
                    match best {
                        None => 1.0,
                        Some(_) if s.is_nan() => 0.0,
                        Some(b) if b.is_infinite() => f64::from(u8::from(s == b)),
                        Some(b) => ((s - b) / temperature).exp(),
                    }
                }));
                let total: f64 = out.iter().sum();
                out.iter_mut().for_each(|p| *p /= total);
            }
            Exploration::Thompson { .. } => {
                out.resize(remaining.len(), 0.0);
                if scores.bags.is_empty() {
                    out[best_of(scores.mean, remaining)] = 1.0;
                }
                let share = 1.0 / scores.bags.len() as f64;
                for bag in scores.bags {
                    out[best_of(bag, remaining)] += share;
                }
            }
        }
    }

    /// Draws one of the `remaining` candidates: its position in `remaining` and the
    /// probability it had. `scratch` holds the probabilities.
    ///
    /// # Panics
    /// If `remaining` is empty.
    pub fn draw(
        &self,
        scores: Scores<'_>,
        remaining: &[usize],
        rng: &mut impl Rng,
        scratch: &mut Vec<f64>,
    ) -> (usize, f64) {
        self.probabilities(scores, remaining, scratch);
        let at = sample(scratch, rng.random::<f64>());
        (at, scratch[at])
    }

    /// Draws `k` candidates one at a time, each from the candidates not yet drawn
    /// (M1 = all, M2 = M1 minus the first pick, ...). Returns (index, conditional probability)
    /// per draw. `k` is capped at the number of candidates.
    pub fn draw_without_replacement(
        &self,
        scores: Scores<'_>,
        k: usize,
        rng: &mut impl Rng,
    ) -> Vec<(usize, f64)> {
        self.draw_ranked(scores, None, k, rng)
    }

    /// [`draw_without_replacement`](Self::draw_without_replacement) with the best of
    /// `scores.mean` ranked already (used when it covers the `k` best).
    pub(crate) fn draw_ranked(
        &self,
        scores: Scores<'_>,
        ranking: Option<&Ranking>,
        k: usize,
        rng: &mut impl Rng,
    ) -> Vec<(usize, f64)> {
        if let Exploration::EpsilonGreedy { epsilon } = self.exploration {
            let k = k.min(scores.mean.len());
            let own;
            let best = match ranking {
                Some(r) if r.best.len() >= k => &r.best[..k],
                _ => {
                    own = Ranking::new(scores.mean, k);
                    &own.best
                }
            };
            return EpsilonGreedy { epsilon }.draw_without_replacement(scores.mean, best, rng);
        }
        let mut remaining: Vec<usize> = (0..scores.mean.len()).collect();
        let mut scratch = Vec::with_capacity(remaining.len());
        let mut out = Vec::with_capacity(k.min(remaining.len()));
        while out.len() < k && !remaining.is_empty() {
            let (at, p) = self.draw(scores, &remaining, rng, &mut scratch);
            out.push((remaining.remove(at), p));
        }
        out
    }

    /// The exact marginal probability that candidate `i` is the `t`-th of `k` draws without
    /// replacement, for the policies that have one in closed form (ε-greedy). Softmax and
    /// Thompson sampling log the conditional probability of each draw instead.
    pub fn marginals(&self, scores: &[f64], k: usize) -> Option<Marginals> {
        self.marginals_ranked(scores, None, k)
    }

    /// [`marginals`](Self::marginals) with the best of `scores` ranked already (used when it
    /// covers the `k + 1` best).
    pub(crate) fn marginals_ranked(
        &self,
        scores: &[f64],
        ranking: Option<&Ranking>,
        k: usize,
    ) -> Option<Marginals> {
        match self.exploration {
            Exploration::EpsilonGreedy { epsilon } => {
                Some(Marginals::new(epsilon, scores, ranking, k))
            }
            Exploration::Softmax { .. } | Exploration::Thompson { .. } => None,
        }
    }
}

impl From<EpsilonGreedy> for Policy {
    fn from(policy: EpsilonGreedy) -> Self {
        Policy {
            exploration: Exploration::EpsilonGreedy {
                epsilon: policy.epsilon,
            },
        }
    }
}

/// ε-greedy: over a set M with greedy choice a*, P(a*) = 1 - ε + ε/|M|, P(a) = ε/|M| otherwise.
/// ε = 1 is the uniform random policy, ε = 0 the greedy one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpsilonGreedy {
    epsilon: f64,
}

impl EpsilonGreedy {
    /// A policy with exploration rate `epsilon` in [0, 1].
    pub fn new(epsilon: f64) -> Result<Self, BanditError> {
        if !(0.0..=1.0).contains(&epsilon) {
            return Err(BanditError::invalid(
                "epsilon",
                epsilon,
                "must be in [0, 1]",
            ));
        }
        Ok(EpsilonGreedy { epsilon })
    }

    /// The uniform random policy (ε = 1).
    pub fn uniform() -> Self {
        EpsilonGreedy { epsilon: 1.0 }
    }

    /// The exploration rate.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The probability of each candidate, given their scores. Empty for no candidates.
    pub fn probabilities(&self, scores: &[f64]) -> Vec<f64> {
        let mut p = Vec::with_capacity(scores.len());
        if !scores.is_empty() {
            self.fill(scores.len(), greedy(scores), &mut p);
        }
        p
    }

    /// The probabilities of an exploring and of the greedy candidate among `m`.
    fn masses(&self, m: usize) -> (f64, f64) {
        let explore = self.epsilon / m as f64;
        (explore, explore + (1.0 - self.epsilon))
    }

    /// Writes to `out` the probabilities of `m` candidates, the one at `best` greedy.
    fn fill(&self, m: usize, best: usize, out: &mut Vec<f64>) {
        let (explore, greedy) = self.masses(m);
        out.clear();
        out.resize(m, explore);
        out[best] = greedy;
    }

    /// The draw [`sample`] makes with `u` from the probabilities [`fill`](Self::fill) writes,
    /// and its probability, without writing them: the same partial sums in the same order.
    fn pick(&self, m: usize, best: usize, u: f64) -> (usize, f64) {
        let (explore, greedy) = self.masses(m);
        let p = |i: usize| if i == best { greedy } else { explore };
        let mut acc = 0.0;
        for i in 0..m {
            acc += p(i);
            if u < acc {
                return (i, p(i));
            }
        }
        // As `sample`: the last candidate with mass.
        let last = if explore > 0.0 { m - 1 } else { best };
        (last, p(last))
    }

    /// [`Policy::draw_without_replacement`] for ε-greedy, `best.len()` draws, the same draws
    /// from the same random numbers: the best candidate left at each step is the first of the
    /// best (ranked once) not drawn yet, so no step scans every candidate.
    fn draw_without_replacement(
        &self,
        scores: &[f64],
        best: &[usize],
        rng: &mut impl Rng,
    ) -> Vec<(usize, f64)> {
        let k = best.len();
        let mut remaining: Vec<usize> = (0..scores.len()).collect();
        let mut out: Vec<(usize, f64)> = Vec::with_capacity(k);
        for _ in 0..k {
            let greedy = *best
                .iter()
                .find(|&&i| !out.iter().any(|&(j, _)| j == i))
                .expect("k draws leave one of the k best");
            let at = remaining
                .binary_search(&greedy)
                .expect("not drawn yet, so remaining");
            let (pick, p) = self.pick(remaining.len(), at, rng.random::<f64>());
            out.push((remaining.remove(pick), p));
        }
        out
    }
}

/// How BaRT's ε changes as the loop runs: fixed, or decaying from `start` towards `floor`,
/// halving the distance every `half_life` steps (days in the demo). Each page logs the ε it
/// was served with, so its probabilities stay exact whatever the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "schedule", rename_all = "snake_case")]
pub enum EpsilonSchedule {
    Fixed {
        epsilon: f64,
    },
    Decaying {
        start: f64,
        floor: f64,
        half_life: f64,
    },
}

impl EpsilonSchedule {
    /// Checks the schedule once, before serving.
    pub fn validate(&self) -> Result<(), BanditError> {
        match *self {
            EpsilonSchedule::Fixed { epsilon } => EpsilonGreedy::new(epsilon).map(|_| ()),
            EpsilonSchedule::Decaying {
                start,
                floor,
                half_life,
            } => {
                EpsilonGreedy::new(start)?;
                EpsilonGreedy::new(floor)?;
                if floor > start {
                    return Err(BanditError::invalid(
                        "epsilon floor",
                        floor,
                        "must not exceed the starting epsilon",
                    ));
                }
                if !(half_life > 0.0 && half_life.is_finite()) {
                    return Err(BanditError::invalid(
                        "epsilon half-life",
                        half_life,
                        "must be positive",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The policy at step `t` >= 0: ε = floor + (start - floor) * 2^(-t / half_life).
    pub fn at(&self, t: f64) -> EpsilonGreedy {
        let epsilon = match *self {
            EpsilonSchedule::Fixed { epsilon } => epsilon,
            EpsilonSchedule::Decaying {
                start,
                floor,
                half_life,
            } => floor + (start - floor) * (-t / half_life).exp2(),
        };
        EpsilonGreedy {
            epsilon: epsilon.clamp(0.0, 1.0),
        }
    }
}

/// The one ranking order: higher score first (`total_cmp`), then lower index.
fn rank(scores: &[f64], a: usize, b: usize) -> std::cmp::Ordering {
    scores[b].total_cmp(&scores[a]).then(a.cmp(&b))
}

/// The best candidates of a list of scores in the one ranking order, found once and shared by
/// the draws, the marginals and the shelf summary of a shelf.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ranking {
    best: Vec<usize>,
}

impl Ranking {
    /// The `count` best-ranked candidates of `scores` (all of them if fewer).
    pub(crate) fn new(scores: &[f64], count: usize) -> Self {
        let count = count.min(scores.len());
        if count * 8 > scores.len() {
            // Many of them: every candidate as one integer that orders as `rank` does (the
            // score's key reversed, then the index), selected then sorted.
            let place = |(i, &x): (usize, &f64)| u128::from(!order_key(x)) << 64 | i as u128;
            let mut order: Vec<u128> = scores.iter().enumerate().map(place).collect();
            if count < order.len() {
                order.select_nth_unstable(count);
            }
            order.truncate(count);
            order.sort_unstable();
            let best = order.into_iter().map(|k| k as u64 as usize).collect();
            return Ranking { best };
        }
        // A few of many (a shelf's cards, a page's rows): kept in order as they come, most
        // candidates falling below the last one kept at one comparison. A later candidate
        // with an equal key ranks below, so only greater keys move ahead.
        let mut keys = vec![0u64; count];
        let mut best = vec![0; count];
        let mut len = 0;
        for (i, &x) in scores.iter().enumerate() {
            let key = order_key(x);
            if len == count && keys.last().is_none_or(|&last| key <= last) {
                continue;
            }
            let mut at = len.min(count - 1);
            while at > 0 && keys[at - 1] < key {
                keys[at] = keys[at - 1];
                best[at] = best[at - 1];
                at -= 1;
            }
            keys[at] = key;
            best[at] = i;
            len = (len + 1).min(count);
        }
        Ranking { best }
    }

    /// Their indices, best first.
    pub(crate) fn best(&self) -> &[usize] {
        &self.best
    }
}

/// `x` as an integer in `f64::total_cmp` order (greater for greater).
fn order_key(x: f64) -> u64 {
    let bits = x.to_bits() as i64;
    (bits ^ ((((bits >> 63) as u64) >> 1) as i64)) as u64 ^ (1 << 63)
}

/// Index of the highest score, lowest index on ties.
pub fn greedy(scores: &[f64]) -> usize {
    best_among(scores, scores.len(), |k| k)
}

/// Position in `remaining` of the best-ranked candidate.
fn best_of(scores: &[f64], remaining: &[usize]) -> usize {
    best_among(scores, remaining.len(), |k| remaining[k])
}

/// The position k < `m` whose candidate `index(k)` ranks best.
fn best_among(scores: &[f64], m: usize, index: impl Fn(usize) -> usize) -> usize {
    (1..m).fold(0, |best, k| {
        if rank(scores, index(k), index(best)).is_lt() {
            k
        } else {
            best
        }
    })
}

/// Inverse-CDF sample from `p` with a uniform `u` in [0, 1).
fn sample(p: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    // Rounding left u above the last partial sum: take the last candidate with mass.
    p.iter().rposition(|&pi| pi > 0.0).unwrap_or(0)
}

/// Marginal draw probabilities of sequential ε-greedy without replacement.
///
/// Computed exactly by dynamic programming over (step t, frontier f), where the frontier is
/// the best-ranked candidate not yet drawn. Given (t, f), every rank above f has been drawn
/// and the t - f other draws are a uniformly random subset of the ranks below f: greedy picks
/// never touch them and exploring picks treat them alike. So a rank j below the frontier is
/// still there with probability 1 - u/N (u = t - f drawn out of N = n - f - 1), and when the
/// frontier is drawn the next one is found by the hypergeometric gap. O(k^3 + n) (a
/// selection of the best k + 1, then a sort of them), and the table by rank, which depends
/// on ε, n and k alone, is remembered: pages ask for the same few again and again.
#[derive(Clone, Debug, PartialEq)]
pub struct Marginals {
    n: usize,
    k: usize,
    /// Columns per step: the ranks 0..=k one by one, then one for every rank below (they are
    /// alike at every step, so only the best k + 1 candidates need sorting).
    width: usize,
    /// k x width, by rank.
    by_rank: Arc<[f64]>,
    /// The rank of each candidate index (`width - 1` for every rank from there down).
    rank_of: Vec<u32>,
}

impl Marginals {
    fn new(epsilon: f64, scores: &[f64], ranking: Option<&Ranking>, k: usize) -> Self {
        let n = scores.len();
        let k = k.min(n);
        let width = n.min(k + 2);
        // Candidate indices by rank: score descending, index ascending (matches `greedy`);
        // only the first width - 1.
        let tail = width.saturating_sub(1);
        let own;
        let order = match ranking {
            Some(r) if r.best.len() >= tail => &r.best[..tail],
            _ => {
                own = Ranking::new(scores, tail);
                &own.best
            }
        };
        let by_rank = RANK_TABLES.get(epsilon, n, k);
        let mut rank_of = vec![tail as u32; n];
        for (rank, &i) in order[..tail].iter().enumerate() {
            rank_of[i] = rank as u32;
        }
        Marginals {
            n,
            k,
            width,
            by_rank,
            rank_of,
        }
    }

    /// P(candidate `index` is drawn at step `step`); 0 outside the table.
    pub fn get(&self, step: usize, index: usize) -> f64 {
        if step < self.k && index < self.n {
            self.by_rank[step * self.width + self.rank_of[index] as usize]
        } else {
            0.0
        }
    }

    /// Number of draws covered.
    pub fn steps(&self) -> usize {
        self.k
    }
}

/// The ε-greedy rank tables already worked out, by (ε, n, k) (see [`Marginals`]).
static RANK_TABLES: LazyLock<RankTables> = LazyLock::new(|| RankTables(RwLock::default()));

/// Tables by rank of [`Marginals`], remembered; emptied when it holds [`RankTables::CAP`]
/// (a decaying ε makes new ones forever).
struct RankTables(RwLock<FxHashMap<RankKey, Arc<[f64]>>>);

/// ε's bits, n and k.
type RankKey = (u64, usize, usize);

impl RankTables {
    const CAP: usize = 4096;

    /// The k x width table of P(rank at step) for ε-greedy draws of k from n candidates.
    fn get(&self, epsilon: f64, n: usize, k: usize) -> Arc<[f64]> {
        let key = (epsilon.to_bits(), n, k);
        let read = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(table) = read.get(&key) {
            return Arc::clone(table);
        }
        drop(read);
        let table: Arc<[f64]> = rank_table(epsilon, n, k).into();
        let mut tables = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if tables.len() >= Self::CAP {
            tables.clear();
        }
        tables.insert(key, Arc::clone(&table));
        table
    }
}

/// The table by rank of [`Marginals`]: `k` (at most `n`) rows of `n.min(k + 2)` columns.
fn rank_table(epsilon: f64, n: usize, k: usize) -> Vec<f64> {
    let width = n.min(k + 2);
    let mut by_rank = vec![0.0; k * width];
    // state[f]: P(frontier = rank f) at the current step; f <= t.
    let mut state = vec![0.0; k + 1];
    state[0] = 1.0;
    let mut next = vec![0.0; k + 1];
    // below[j]: probability mass for ranks > f, added with a difference array (ranks
    // from `width` on are never read).
    let mut below = vec![0.0; width];
    for t in 0..k {
        let m = (n - t) as f64;
        let explore = epsilon / m;
        next.fill(0.0);
        below.fill(0.0);
        let row = &mut by_rank[t * width..(t + 1) * width];
        for f in 0..=t.min(n - 1) {
            let pf = state[f];
            if pf == 0.0 {
                continue;
            }
            let u = t - f;
            let big_n = n - f - 1;
            let front = 1.0 - epsilon + explore;
            row[f] += pf * front;
            if big_n > 0 {
                let stay = 1.0 - u as f64 / big_n as f64;
                below[f + 1] += pf * explore * stay;
            }
            // An exploring pick of another candidate keeps the frontier.
            if m > 1.0 {
                next[f] += pf * epsilon * (m - 1.0) / m;
            }
            // Drawing the frontier: the next one is g ranks further with probability
            // [u/N (u-1)/(N-1) ... (u-g+1)/(N-g+1)] * (N-u)/(N-g).
            if big_n > u {
                let mut run = 1.0;
                for g in 0..=u {
                    let nf = f + 1 + g;
                    let p_gap = run * (big_n - u) as f64 / (big_n - g) as f64;
                    if nf <= k {
                        next[nf] += pf * front * p_gap;
                    }
                    if g < u {
                        run *= (u - g) as f64 / (big_n - g) as f64;
                    }
                }
            }
        }
        // Only below[..t + 2] is non-zero, so the running sum is flat after it.
        let upto = (t + 2).min(width);
        let mut acc = 0.0;
        for (slot, b) in row[..upto].iter_mut().zip(&below[..upto]) {
            acc += b;
            *slot += acc;
        }
        for slot in &mut row[upto..] {
            *slot += acc;
        }
        std::mem::swap(&mut state, &mut next);
    }
    by_rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn epsilon_greedy_probabilities_are_exact() {
        let p = EpsilonGreedy::new(0.2)
            .unwrap()
            .probabilities(&[0.1, 0.5, 0.5, 0.3]);
        // The first of two tied maxima is greedy: 1 - ε + ε/4, the rest ε/4.
        assert_eq!(
            p,
            vec![0.2 / 4.0, 1.0 - 0.2 + 0.2 / 4.0, 0.2 / 4.0, 0.2 / 4.0]
        );
        assert_eq!(
            EpsilonGreedy::uniform().probabilities(&[3.0, 1.0]),
            vec![0.5, 0.5]
        );
        assert!(EpsilonGreedy::new(1.5).is_err());
        assert!(EpsilonGreedy::new(f64::NAN).is_err());
    }

    #[test]
    fn marginals_in_closed_form() {
        // Uniform: every candidate equally likely at every step.
        let m = Policy::uniform()
            .marginals(&[0.3, 0.1, 0.9, 0.2, 0.5], 3)
            .unwrap();
        for t in 0..3 {
            for i in 0..5 {
                assert!((m.get(t, i) - 0.2).abs() < 1e-15);
            }
        }
        // Greedy: ranks in order.
        let g = Policy::greedy().marginals(&[0.3, 0.1, 0.9], 3).unwrap();
        assert_eq!((g.get(0, 2), g.get(1, 0), g.get(2, 1)), (1.0, 1.0, 1.0));
        // Two steps by hand, ε = 0.5, scores ranked a > b > c.
        let e = 0.5;
        let m = Policy::from(EpsilonGreedy::new(e).unwrap())
            .marginals(&[0.9, 0.5, 0.1], 2)
            .unwrap();
        let first = [1.0 - e + e / 3.0, e / 3.0, e / 3.0];
        let second_a = first[1] * (1.0 - e + e / 2.0) + first[2] * (1.0 - e + e / 2.0);
        let second_b = first[0] * (1.0 - e + e / 2.0) + first[2] * (e / 2.0);
        let second_c = first[0] * (e / 2.0) + first[1] * (e / 2.0);
        for (i, want) in first.iter().enumerate() {
            assert!((m.get(0, i) - want).abs() < 1e-15);
        }
        assert!((m.get(1, 0) - second_a).abs() < 1e-15);
        assert!((m.get(1, 1) - second_b).abs() < 1e-15);
        assert!((m.get(1, 2) - second_c).abs() < 1e-15);
    }

    #[test]
    fn remembered_rank_tables_are_keyed_by_epsilon_n_and_k() {
        // Each differs from the first in one of the three, and the last repeats it.
        for (epsilon, n, k) in [
            (0.1, 7, 3),
            (0.6, 7, 3),
            (0.1, 8, 3),
            (0.1, 7, 4),
            (0.1, 7, 3),
        ] {
            let scores: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let policy = Policy::from(EpsilonGreedy::new(epsilon).unwrap());
            let m = policy.marginals(&scores, k).unwrap();
            assert_eq!(
                *m.by_rank,
                *rank_table(epsilon, n, k),
                "ε {epsilon} n {n} k {k}"
            );
        }
    }

    #[test]
    fn marginals_equal_the_enumeration_of_every_draw_sequence() {
        // Every sequence of k draws from 7 candidates (two tied), each weighted by the product
        // of its conditional probabilities: the ranks below k + 1 share one column.
        fn walk(
            policy: &EpsilonGreedy,
            scores: &[f64],
            remaining: &mut Vec<usize>,
            p: f64,
            t: usize,
            k: usize,
            exact: &mut [f64],
        ) {
            if t == k {
                return;
            }
            let left: Vec<f64> = remaining.iter().map(|&i| scores[i]).collect();
            for (at, q) in policy.probabilities(&left).into_iter().enumerate() {
                let i = remaining.remove(at);
                exact[t * scores.len() + i] += p * q;
                walk(policy, scores, remaining, p * q, t + 1, k, exact);
                remaining.insert(at, i);
            }
        }
        let scores = [0.3, 0.9, 0.1, 0.5, 0.5, 0.7, 0.2];
        let n = scores.len();
        for (epsilon, k) in [(0.1, 4), (0.6, 2), (0.3, 5), (1.0, 3)] {
            let policy = EpsilonGreedy::new(epsilon).unwrap();
            let mut exact = vec![0.0; k * n];
            walk(
                &policy,
                &scores,
                &mut (0..n).collect(),
                1.0,
                0,
                k,
                &mut exact,
            );
            let m = Policy::from(policy).marginals(&scores, k).unwrap();
            for t in 0..k {
                for i in 0..n {
                    let (want, got) = (exact[t * n + i], m.get(t, i));
                    assert!(
                        (want - got).abs() < 1e-14,
                        "ε {epsilon} t {t} i {i}: {want} vs {got}"
                    );
                }
            }
        }
    }

    #[test]
    fn rankings_follow_the_ranking_order_on_odd_scores() {
        let scores = [
            0.5,
            f64::NAN,
            -f64::NAN,
            0.9,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            0.5,
            f64::MIN_POSITIVE / 4.0,
            -1.0,
            0.9,
        ];
        // Alone, and many times over (ties across copies) so that a few of many are picked
        // as they come; then rising and falling runs.
        let many: Vec<f64> = scores
            .iter()
            .copied()
            .cycle()
            .take(10 * scores.len())
            .collect();
        let rising: Vec<f64> = (0..100).map(f64::from).collect();
        let falling: Vec<f64> = rising.iter().rev().copied().collect();
        for scores in [&scores[..], &many, &rising, &falling] {
            let mut all: Vec<usize> = (0..scores.len()).collect();
            all.sort_by(|&a, &b| rank(scores, a, b));
            for count in 0..=scores.len() + 1 {
                let want = &all[..count.min(scores.len())];
                assert_eq!(Ranking::new(scores, count).best(), want, "count {count}");
            }
        }
    }

    #[test]
    fn greedy_and_marginals_agree_on_odd_scores() {
        // NaN and infinities rank by total_cmp in both the sampler and the marginals.
        let scores = [0.5, f64::NAN, 0.9, f64::INFINITY, -0.0, 0.0];
        let policy = Policy::greedy();
        let m = policy.marginals(&scores, scores.len()).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let drawn =
            policy.draw_without_replacement(Scores::single(&scores), scores.len(), &mut rng);
        for (t, (i, p)) in drawn.into_iter().enumerate() {
            assert_eq!(p, 1.0);
            assert_eq!(m.get(t, i), 1.0, "step {t} drew {i}");
        }
    }

    #[test]
    fn softmax_stays_a_distribution_on_odd_scores() {
        let softmax = Policy::new(Exploration::Softmax { temperature: 0.1 }).unwrap();
        let mut p = Vec::new();
        let mut probabilities = |scores: &[f64]| {
            let all: Vec<usize> = (0..scores.len()).collect();
            softmax.probabilities(Scores::single(scores), &all, &mut p);
            p.clone()
        };
        let z = 1.0 + (-3.0f64).exp();
        let want = [(-3.0f64).exp() / z, 0.0, 1.0 / z];
        for (got, want) in probabilities(&[0.2, f64::NAN, 0.5]).iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
        let inf = f64::INFINITY;
        assert_eq!(probabilities(&[inf, 0.3, inf]), vec![0.5, 0.0, 0.5]);
        assert_eq!(probabilities(&[-inf, f64::NAN, -inf]), vec![0.5, 0.0, 0.5]);
        assert_eq!(probabilities(&[f64::NAN, f64::NAN]), vec![0.5, 0.5]);
        assert_eq!(probabilities(&[1e300, -1e300]), vec![1.0, 0.0]);
    }

    #[test]
    fn draw_frequencies_follow_the_probabilities() {
        let epsilon_greedy = EpsilonGreedy::new(0.3).unwrap();
        let policy = Policy::from(epsilon_greedy);
        let scores = [0.2, 0.7, 0.1, 0.4];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut counts = [0u32; 4];
        let mut scratch = Vec::new();
        for _ in 0..40_000 {
            let all = [0, 1, 2, 3];
            counts[policy
                .draw(Scores::single(&scores), &all, &mut rng, &mut scratch)
                .0] += 1;
        }
        for (c, p) in counts.iter().zip(epsilon_greedy.probabilities(&scores)) {
            // 5 binomial standard deviations.
            let sd = (40_000.0 * p * (1.0 - p)).sqrt();
            assert!(
                (f64::from(*c) - 40_000.0 * p).abs() < 5.0 * sd,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn epsilon_schedules_are_exact() {
        let fixed = EpsilonSchedule::Fixed { epsilon: 0.1 };
        assert_eq!(fixed.at(0.0).epsilon(), 0.1);
        assert_eq!(fixed.at(30.0).epsilon(), 0.1);
        let decaying = EpsilonSchedule::Decaying {
            start: 0.4,
            floor: 0.1,
            half_life: 2.0,
        };
        decaying.validate().unwrap();
        assert_eq!(decaying.at(0.0).epsilon(), 0.4);
        assert!((decaying.at(2.0).epsilon() - 0.25).abs() < 1e-15);
        assert!((decaying.at(4.0).epsilon() - 0.175).abs() < 1e-15);
        assert!((decaying.at(1e6).epsilon() - 0.1).abs() < 1e-15);
        let bad = |start, floor, half_life| {
            EpsilonSchedule::Decaying {
                start,
                floor,
                half_life,
            }
            .validate()
            .unwrap_err()
            .to_string()
        };
        assert!(bad(0.1, 0.2, 1.0).contains("floor"));
        assert!(bad(0.3, 0.1, 0.0).contains("half-life"));
        assert!(bad(1.5, 0.1, 1.0).contains("epsilon"));
    }
}
