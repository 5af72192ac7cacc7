//! Compressed sparse rows: the listener x item interaction matrix and its transpose.

use serde::{Deserialize, Serialize};

/// A sparse `rows x cols` matrix in compressed sparse row form. Column indices within a row
/// are strictly increasing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    cols: usize,
    /// Row `r` holds entries `starts[r]..starts[r + 1]`.
    starts: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Csr {
    /// Builds a matrix from `(row, col, value)` triples in any order; duplicates are summed.
    /// Panics if a triple lies outside `rows x cols` (callers validate their input first).
    pub fn from_triples(rows: usize, cols: usize, mut triples: Vec<(u32, u32, f32)>) -> Self {
        triples.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut starts = vec![0; rows + 1];
        let mut indices = Vec::with_capacity(triples.len());
        let mut values: Vec<f32> = Vec::with_capacity(triples.len());
        let mut last = None;
        for (r, c, v) in triples {
            assert!(
                (r as usize) < rows && (c as usize) < cols,
                "entry out of range"
            );
            if last == Some((r, c)) {
                *values.last_mut().expect("a previous entry") += v;
                continue;
            }
            last = Some((r, c));
            starts[r as usize + 1] += 1;
            indices.push(c);
            values.push(v);
        }
        for r in 0..rows {
            starts[r + 1] += starts[r];
        }
        Csr {
            cols,
            starts,
            indices,
            values,
        }
    }

    pub fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The column indices and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let span = self.starts[r]..self.starts[r + 1];
        (&self.indices[span.clone()], &self.values[span])
    }

    /// The transpose (columns become rows).
    pub fn transpose(&self) -> Csr {
        let triples = (0..self.rows())
            .flat_map(|r| {
                let (cols, vals) = self.row(r);
                cols.iter().zip(vals).map(move |(&c, &v)| (c, r as u32, v))
            })
            .collect();
        Csr::from_triples(self.cols, self.rows(), triples)
    }

    /// Applies `f` to every stored value.
    pub fn map_values(&self, f: impl Fn(f32) -> f32) -> Csr {
        Csr {
            values: self.values.iter().map(|&v| f(v)).collect(),
            ..self.clone()
        }
    }

    /// Checks the invariants (used after decoding a file).
    pub(crate) fn is_consistent(&self) -> bool {
        let n = self.indices.len();
        self.starts.first() == Some(&0)
            && self.starts.last() == Some(&n)
            && self.values.len() == n
            && self.starts.windows(2).all(|w| w[0] <= w[1])
            && (0..self.rows()).all(|r| {
                let (cols, _) = self.row(r);
                cols.windows(2).all(|w| w[0] < w[1])
                    && cols.last().is_none_or(|&c| (c as usize) < self.cols)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_sum_duplicates_and_transpose_round_trips() {
        let m = Csr::from_triples(
            3,
            4,
            vec![(2, 0, 1.0), (0, 3, 2.0), (0, 1, 5.0), (0, 3, 1.0)],
        );
        assert_eq!((m.rows(), m.cols(), m.nnz()), (3, 4, 3));
        assert_eq!(m.row(0), (&[1, 3][..], &[5.0, 3.0][..]));
        assert_eq!(m.row(1), (&[][..], &[][..]));
        assert_eq!(m.row(2), (&[0][..], &[1.0][..]));
        let t = m.transpose();
        assert_eq!((t.rows(), t.cols()), (4, 3));
        assert_eq!(t.row(3), (&[0][..], &[3.0][..]));
        assert_eq!(t.transpose(), m);
        assert!(m.is_consistent() && t.is_consistent());
    }
}
