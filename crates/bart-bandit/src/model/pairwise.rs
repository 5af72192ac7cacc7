//! Order-2 scores of many examples that share most of their features, one dot product each.
//!
//! For a factorization machine of order 2 the logit of a set of features is
//! `c + Σ w x + ½ (|S|² − Σ |v|² x²)` with `S = Σ v x`. For two disjoint groups A and B
//! the pairwise part splits as `pairs(A) + pairs(B) + S_A · S_B`. A home page scores every
//! (item, explanation) pair: the context and a shelf's explanation form one *fixed* group,
//! the item's features another (remembered per item), and a few real-valued features whose
//! values change with every pair (the listener's shares of the item's genre and artist and
//! their preference for the artist) are expanded term by term. What is left per pair is one
//! dot product of rank length.

use super::{Partial, RewardModel, lanes_sum, sigmoid_f32};
use bart_models::dot_f32 as dot;

/// A model ready to score examples made of a [`Fixed`] group, an item row
/// ([`item_row`](Pairwise::item_row)) and values of the `R` real-valued features it was made
/// for.
///
/// Rows and fixed groups hold no subnormal numbers (they are flushed to 0 when made), so the
/// per-pair arithmetic never pays for a microcode assist, whatever the model's weights.
#[derive(Debug)]
pub struct Pairwise<'m, const R: usize> {
    rank: usize,
    /// `rank` rounded up to whole vectors of [`LANES`]: the length of the embedding sums in
    /// rows and fixed groups (zeros past `rank`).
    padded: usize,
    /// The constant's weight.
    constant: f64,
    /// Per real-valued feature: its linear weight and its embedding.
    reals: [(f32, &'m [f32]); R],
    /// `v_k · v_l` at `[k][l]` for every pair k < l of real-valued features (0 elsewhere).
    cross: [[f32; R]; R],
}

/// A fixed group summarised for [`Pairwise::logit`]: the constant and the group's own part of
/// the logit, its embedding sum, and per real-valued feature `w_k + v_k · S`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fixed<const R: usize> {
    logit: f64,
    pub(super) sum: Vec<f32>,
    pub(super) reals: [f32; R],
}

impl<const R: usize> Fixed<R> {
    /// The logit of the fixed group alone (no item, real values 0).
    pub fn logit(&self) -> f64 {
        self.logit
    }
}

impl RewardModel {
    /// Order-2 scoring for examples whose real-valued features beyond the groups are `reals`
    /// (hashed ids); `None` for models with 3rd-order terms or crosses, whose scores do not
    /// split this way.
    pub fn pairwise<const R: usize>(&self, reals: &[u32; R]) -> Option<Pairwise<'_, R>> {
        if self.config.order3() > 0 || !self.config.interactions.is_empty() {
            return None;
        }
        let rank = self.config.order2();
        let reals = reals.map(|id| {
            let row = &self.rows[self.row(id)..][..1 + rank];
            (row[0], &row[1..])
        });
        let mut cross = [[0.0; R]; R];
        for k in 0..R {
            for l in k + 1..R {
                cross[k][l] = flushed(dot(reals[k].1, reals[l].1));
            }
        }
        Some(Pairwise {
            rank,
            padded: rank.div_ceil(LANES) * LANES,
            constant: f64::from(self.rows[self.row(self.constant)]),
            reals,
            cross,
        })
    }
}

impl<const R: usize> Pairwise<'_, R> {
    /// Numbers per item row: its own logit part, its dot product with each real-valued
    /// feature's embedding, then its embedding sum (padded with zeros to whole vectors).
    pub fn row_len(&self) -> usize {
        1 + R + self.padded
    }

    /// Writes the row of an item group's partial into `row` ([`row_len`](Self::row_len)
    /// long).
    pub fn item_row(&self, item: &Partial, row: &mut [f32]) {
        let sum = &item.sums[..self.rank];
        let (head, out) = row.split_at_mut(1 + R);
        head[0] = (item.linear + self.pairs(item)) as f32;
        for (r, (_, v)) in head[1..].iter_mut().zip(&self.reals) {
            *r = dot(sum, v);
        }
        let (out, padding) = out.split_at_mut(self.rank);
        out.copy_from_slice(sum);
        padding.fill(0.0);
        row.iter_mut().for_each(|x| *x = flushed(*x));
    }

    /// The fixed group of a partial.
    pub fn fixed(&self, group: &Partial) -> Fixed<R> {
        let mut sum = vec![0.0; self.padded];
        for (s, &x) in sum.iter_mut().zip(&group.sums[..self.rank]) {
            *s = flushed(x);
        }
        Fixed {
            logit: self.group_logit(group),
            reals: self
                .reals
                .map(|(w, v)| flushed(w + dot(&sum[..self.rank], v))),
            sum,
        }
    }

    /// The logit of a group alone: the constant, its linear part and its own pairs.
    pub fn group_logit(&self, group: &Partial) -> f64 {
        self.constant + group.linear + self.pairs(group)
    }

    /// The logit of the example made of `fixed`, the item of `row` and the real-valued
    /// features at `values` (in the order the scorer was made with), in `f32`: one dot
    /// product of rank length and a few products, without branches.
    pub fn logit(&self, fixed: &Fixed<R>, row: &[f32], values: &[f32; R]) -> f32 {
        self.logit_with(fixed, row, values, dot_lanes)
    }

    /// [`logit`](Self::logit) with `dot` for the dot product of the embedding sums
    /// ([`dot_lanes`] or a twin that adds in the same order).
    #[inline(always)]
    fn logit_with(
        &self,
        fixed: &Fixed<R>,
        row: &[f32],
        values: &[f32; R],
        dot: impl Fn(&[f32], &[f32]) -> f32,
    ) -> f32 {
        let (head, sum) = row.split_at(1 + R);
        let mut z = head[0] + dot(sum, &fixed.sum[..sum.len()]);
        for k in 0..R {
            let mut slope = fixed.reals[k] + head[1 + k];
            for (&y, &c) in values[k + 1..].iter().zip(&self.cross[k][k + 1..]) {
                slope += y * c;
            }
            z += values[k] * slope;
        }
        fixed.logit as f32 + z
    }

    /// Appends the probability of each of `pairs` to `out`: [`logit`](Self::logit) of its
    /// group in `fixed`, its row and its values through the logistic function, or `unknown`
    /// for `None`. Runs with AVX2 where the CPU has it (the same results bit for bit: the
    /// same order of additions, no fused multiply-add).
    pub fn probabilities(
        &self,
        fixed: &[Fixed<R>],
        pairs: &[Option<Pair<'_, R>>],
        unknown: f64,
        out: &mut Vec<f64>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the AVX2 instructions `probabilities_avx2` is compiled for.
            return unsafe { self.probabilities_avx2(fixed, pairs, unknown, out) };
        }
        self.probabilities_with::<0>(fixed, pairs, unknown, out, dot_lanes);
    }

    /// [`probabilities`](Self::probabilities) compiled for AVX2, each common width of the
    /// embedding sums in a copy of its own that knows it (the dot product unrolled, its
    /// length checks gone).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn probabilities_avx2(
        &self,
        fixed: &[Fixed<R>],
        pairs: &[Option<Pair<'_, R>>],
        unknown: f64,
        out: &mut Vec<f64>,
    ) {
        // The closure inherits AVX2, which makes the call safe.
        let dot = |a: &[f32], b: &[f32]| dot_lanes_avx2(a, b);
        match self.padded {
            16 => self.probabilities_with::<16>(fixed, pairs, unknown, out, dot),
            32 => self.probabilities_with::<32>(fixed, pairs, unknown, out, dot),
            64 => self.probabilities_with::<64>(fixed, pairs, unknown, out, dot),
            _ => self.probabilities_with::<0>(fixed, pairs, unknown, out, dot),
        }
    }

    /// [`probabilities`](Self::probabilities) with `dot` as in
    /// [`logit_with`](Self::logit_with), for embedding sums `W` wide (0: as wide as the
    /// scorer's, known only when it runs).
    #[inline(always)]
    fn probabilities_with<const W: usize>(
        &self,
        fixed: &[Fixed<R>],
        pairs: &[Option<Pair<'_, R>>],
        unknown: f64,
        out: &mut Vec<f64>,
        dot: impl Fn(&[f32], &[f32]) -> f32,
    ) {
        // Item rows are scattered over a table of the whole catalog: ask for the row a few
        // pairs ahead while this one is computed.
        const AHEAD: usize = 12;
        // Plain loops: iterator adapters would be compiled apart, without AVX2. The logits
        // first, then the logistic function over all of them (vectorised).
        let len = 1 + R + if W > 0 { W } else { self.padded };
        let mut p = vec![0.0f32; pairs.len()];
        for k in 0..pairs.len() {
            if let Some(Some((_, row, _))) = pairs.get(k + AHEAD) {
                prefetch(&row[..len]);
            }
            if let Some((at, row, values)) = &pairs[k] {
                p[k] = self.logit_with(&fixed[*at as usize], &row[..len], values, &dot);
            }
        }
        for z in &mut p {
            *z = sigmoid_f32(*z);
        }
        out.reserve(pairs.len());
        for (&p, pair) in p.iter().zip(pairs) {
            out.push(if pair.is_some() {
                f64::from(p)
            } else {
                unknown
            });
        }
    }

    /// A group's pairwise interactions among its own features: ½ (|S|² − Σ |v|² x²).
    fn pairs(&self, group: &Partial) -> f64 {
        let sum = &group.sums[..self.rank];
        0.5 * f64::from(lanes_sum(sum, |a| a * a) - group.sums[self.rank])
    }
}

/// A pair ready for its arithmetic: the place of its fixed group, its item's row and its
/// real values.
pub type Pair<'a, const R: usize> = (u32, &'a [f32], [f32; R]);

/// Starts loading every cache line of `row` (a hint: no effect on results).
#[inline(always)]
pub(crate) fn prefetch<T>(row: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in row
        .chunks((64 / std::mem::size_of::<T>().max(1)).max(1))
        .map(<[T]>::as_ptr)
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE, which `_mm_prefetch` needs, is part of every x86_64 target, and a
        // prefetch never faults or reads into the program: any address is allowed.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Numbers per vector in [`dot_lanes`]: 8 `f32`, one AVX register.
const LANES: usize = 8;

/// `a · b` for lengths that are whole vectors of [`LANES`]: one partial sum per lane, added
/// up as a tree at the end (three vector additions, where a running total would wait on
/// eight in a row).
#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0.0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for j in 0..LANES {
            s[j] += x[j] * y[j];
        }
    }
    let q: [f32; 4] = std::array::from_fn(|j| s[j] + s[j + 4]);
    (q[0] + q[2]) + (q[1] + q[3])
}

/// [`dot_lanes`] in AVX2 registers, adding in the same order (the same result bit for bit).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn dot_lanes_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut s = _mm256_setzero_ps();
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        // SAFETY: each chunk holds the 8 `f32` an unaligned 256-bit load reads.
        let (x, y) = unsafe { (_mm256_loadu_ps(x.as_ptr()), _mm256_loadu_ps(y.as_ptr())) };
        s = _mm256_add_ps(s, _mm256_mul_ps(x, y));
    }
    // q_j = s_j + s_{j+4}, then (q_0 + q_2) + (q_1 + q_3).
    let q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
    let h = _mm_add_ps(q, _mm_movehl_ps(q, q));
    _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
}

/// `x`, or 0 if it is subnormal.
fn flushed(x: f32) -> f32 {
    if x.is_subnormal() { 0.0 } else { x }
}
