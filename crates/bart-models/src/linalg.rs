//! Small dense vector kernels, written so the compiler vectorises them.

//! The `f64` kernels are `#[inline(always)]` so that a caller compiled for wider vector units
//! (see `als`'s AVX2 dispatch) vectorises them for those units.

/// The number of rows of `dim` values in `vectors`, or an error if they do not divide.
pub(crate) fn rows_of(vectors: &[f32], dim: usize) -> crate::Result<usize> {
    if dim == 0 || !vectors.len().is_multiple_of(dim) {
        return Err(crate::ModelError::invalid(
            "vectors",
            format!("{} values do not make rows of {dim}", vectors.len()),
        ));
    }
    Ok(vectors.len() / dim)
}

/// `a · b`, in sixteen interleaved partial sums (so the loop vectorises; the order of
/// additions is fixed, so results do not depend on threads or vector width).
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..16 {
            s[j] += x[j] * y[j];
        }
    }
    for w in [8, 4, 2, 1] {
        for j in 0..w {
            s[j] += s[j + w];
        }
    }
    s[0] + tail
}

/// `a · b` in `f32`, in eight interleaved partial sums. Plain loops, `#[inline(always)]`: a
/// caller compiled for AVX2 (the page scorer) gets it in AVX2 too.
#[inline(always)]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut s = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    // From -0.0, as `Iterator::sum` starts.
    let mut tail = -0.0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            s[j] += x[j] * y[j];
        }
    }
    let mut total = -0.0f32;
    for x in s {
        total += x;
    }
    total + tail
}

/// `y += a x`.
#[inline(always)]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `out = m v` for a row-major `n x n` matrix `m`.
#[inline(always)]
pub(crate) fn matvec(m: &[f64], v: &[f64], out: &mut [f64]) {
    let n = v.len();
    for (o, row) in out.iter_mut().zip(m.chunks_exact(n)) {
        *o = dot(row, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_their_definitions() {
        let a: Vec<f64> = (0..37).map(|i| i as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..37).map(|i| (i * i) as f64 / 7.0).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12 * naive.abs());
        let (a32, b32): (Vec<f32>, Vec<f32>) = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (x as f32, y as f32))
            .unzip();
        assert!((dot_f32(&a32, &b32) as f64 - naive).abs() < 1e-6 * naive.abs());
        let mut y = b.clone();
        axpy(2.0, &a, &mut y);
        assert!(
            y.iter()
                .zip(&a)
                .zip(&b)
                .all(|((y, a), b)| *y == b + 2.0 * a)
        );
        let m = [1.0, 2.0, 3.0, 4.0];
        let mut out = [0.0; 2];
        matvec(&m, &[1.0, -1.0], &mut out);
        assert_eq!(out, [-1.0, -1.0]);
    }
}
