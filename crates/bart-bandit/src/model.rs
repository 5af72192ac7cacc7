//! The reward model v1: logistic regression over hashed features, trained by weighted AdaGrad,
//! and its file format (versioned header, configuration, checksum).

use crate::error::BanditError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use xxhash_rust::xxh3::xxh3_64;

/// A hashed sparse feature: bucket index and value.
pub type Feature = (u32, f32);

/// Hyperparameters of the reward model, stored in the model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// log2 of the number of weight buckets.
    pub bits: u8,
    /// AdaGrad base learning rate.
    pub learning_rate: f64,
    /// L2 penalty applied to the weights a step touches.
    pub l2: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            bits: 20,
            learning_rate: 0.1,
            l2: 1e-6,
        }
    }
}

impl ModelConfig {
    /// Checks every parameter once, before fitting.
    pub fn validate(&self) -> Result<(), BanditError> {
        if !(8..=28).contains(&self.bits) {
            return Err(BanditError::invalid("bits", self.bits, "must be in 8..=28"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(BanditError::invalid(
                "learning_rate",
                self.learning_rate,
                "must be positive",
            ));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(BanditError::invalid("l2", self.l2, "must be >= 0"));
        }
        Ok(())
    }
}

/// Logistic regression: P(stream) = sigmoid(sum of w[i] * x[i]).
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticRegression {
    config: ModelConfig,
    mask: u32,
    weights: Vec<f32>,
    /// AdaGrad's running sum of squared gradients (training state, not saved).
    grad_sq: Vec<f32>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl LogisticRegression {
    /// A model with all weights zero (predicts 0.5 everywhere).
    pub fn new(config: ModelConfig) -> Result<Self, BanditError> {
        config.validate()?;
        let n = 1usize << config.bits;
        Ok(LogisticRegression {
            mask: (n - 1) as u32,
            weights: vec![0.0; n],
            grad_sq: vec![0.0; n],
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Bucket mask: hashed features are reduced with `hash as u32 & mask`.
    pub fn mask(&self) -> u32 {
        self.mask
    }

    /// The linear score (log-odds).
    pub fn logit(&self, features: &[Feature]) -> f64 {
        features
            .iter()
            .map(|&(i, x)| f64::from(self.weights[(i & self.mask) as usize] * x))
            .sum()
    }

    /// Predicted probability of a stream.
    pub fn predict(&self, features: &[Feature]) -> f64 {
        sigmoid(self.logit(features))
    }

    /// One AdaGrad step on the importance-weighted log-loss `weight * logloss(label, p)`.
    /// Returns the prediction made before the step (for progressive validation).
    pub fn update(&mut self, features: &[Feature], label: f64, weight: f64) -> f64 {
        let p = self.predict(features);
        let g = ((p - label) * weight) as f32;
        let (lr, l2) = (self.config.learning_rate as f32, self.config.l2 as f32);
        for &(i, x) in features {
            let i = (i & self.mask) as usize;
            let grad = g * x + l2 * self.weights[i];
            self.grad_sq[i] += grad * grad;
            self.weights[i] -= lr * grad / (self.grad_sq[i].sqrt() + 1e-6);
        }
        p
    }

    /// Writes the model file: magic, format version, JSON configuration, weights (f32 LE) and
    /// an xxh3 checksum of everything before it.
    pub fn save(&self, path: &Path) -> Result<(), BanditError> {
        let config = serde_json::to_vec(&self.config).expect("config serialises");
        let mut buf = Vec::with_capacity(32 + config.len() + 4 * self.weights.len());
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf.extend_from_slice(&(config.len() as u32).to_le_bytes());
        buf.extend_from_slice(&config);
        buf.extend_from_slice(&(self.weights.len() as u64).to_le_bytes());
        for w in &self.weights {
            buf.extend_from_slice(&w.to_le_bytes());
        }
        let sum = xxh3_64(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        std::fs::write(path, buf).map_err(|source| BanditError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a model file written by [`save`](Self::save). A file that is not a bart model,
    /// of another format version, truncated or corrupt is rejected with a clear error.
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
        let version = u32::from_le_bytes(r.take(4).ok_or_else(truncated)?.try_into().unwrap());
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version} is not supported (this bart reads version {FORMAT_VERSION})"
            )));
        }
        let config_len = u32::from_le_bytes(r.take(4).ok_or_else(truncated)?.try_into().unwrap());
        let config_bytes = r.take(config_len as usize).ok_or_else(truncated)?;
        let n = u64::from_le_bytes(r.take(8).ok_or_else(truncated)?.try_into().unwrap());
        let weight_bytes = r
            .take(usize::try_from(n).unwrap_or(usize::MAX).saturating_mul(4))
            .ok_or_else(truncated)?;
        let body_end = r.pos;
        let sum = u64::from_le_bytes(r.take(8).ok_or_else(truncated)?.try_into().unwrap());
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
        config
            .validate()
            .map_err(|e| bad(format!("invalid configuration: {e}")))?;
        if n != 1u64 << config.bits {
            return Err(bad(format!(
                "{n} weights do not match bits = {}",
                config.bits
            )));
        }
        let mut model = LogisticRegression::new(config).map_err(|e| bad(e.to_string()))?;
        for (k, (w, b)) in model
            .weights
            .iter_mut()
            .zip(weight_bytes.chunks_exact(4))
            .enumerate()
        {
            *w = f32::from_le_bytes(b.try_into().unwrap());
            if !w.is_finite() {
                return Err(bad(format!("weight {k} is {w}, not a finite number")));
            }
        }
        Ok(model)
    }
}

const MAGIC: &[u8; 8] = b"BARTMODL";
const FORMAT_VERSION: u32 = 1;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> LogisticRegression {
        LogisticRegression::new(ModelConfig {
            bits: 10,
            ..ModelConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // d/dw_i of weight * logloss = weight * (p - y) * x_i.
        let mut m = small();
        for (k, w) in m.weights.iter_mut().enumerate() {
            *w = ((k % 13) as f32 - 6.0) * 0.05;
        }
        let x: Vec<Feature> = vec![(3, 1.0), (17, 0.5), (900, -2.0)];
        let (y, weight) = (1.0, 2.5);
        let loss = |m: &LogisticRegression| {
            let p = m.predict(&x);
            -weight * (y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        };
        let p = m.predict(&x);
        for &(i, xi) in &x {
            let analytic = weight * (p - y) * f64::from(xi);
            let h = 1e-3f32;
            let mut plus = m.clone();
            plus.weights[i as usize] += h;
            let mut minus = m.clone();
            minus.weights[i as usize] -= h;
            let numeric = (loss(&plus) - loss(&minus)) / (2.0 * f64::from(h));
            assert!((analytic - numeric).abs() < 1e-3, "{analytic} vs {numeric}");
        }
    }

    #[test]
    fn learns_a_separable_rule() {
        let mut m = small();
        for _ in 0..2000 {
            m.update(&[(1, 1.0)], 1.0, 1.0);
            m.update(&[(2, 1.0)], 0.0, 1.0);
        }
        assert!(m.predict(&[(1, 1.0)]) > 0.95);
        assert!(m.predict(&[(2, 1.0)]) < 0.05);
    }

    #[test]
    fn round_trip_is_exact_and_corruption_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bart");
        let mut m = small();
        m.update(&[(5, 1.0), (6, 0.25)], 1.0, 3.0);
        m.save(&path).unwrap();
        let loaded = LogisticRegression::load(&path).unwrap();
        assert_eq!(loaded.weights, m.weights);
        assert_eq!(loaded.config, m.config);

        let good = std::fs::read(&path).unwrap();
        let check = |bytes: &[u8], needle: &str| {
            std::fs::write(&path, bytes).unwrap();
            let err = LogisticRegression::load(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("m.bart"), "{err}");
        };
        let mut flipped = good.clone();
        flipped[100] ^= 1;
        check(&flipped, "checksum mismatch");
        check(&good[..good.len() - 3], "truncated");
        check(b"hello", "not a bart model file");
        let mut v2 = good.clone();
        v2[8] = 2;
        check(&v2, "format version 2");
        let mut extra = good.clone();
        extra.push(0);
        check(&extra, "unexpected bytes");
        // A well-formed file (valid checksum) holding a NaN weight.
        let mut nan = m.clone();
        nan.weights[7] = f32::NAN;
        nan.save(&path).unwrap();
        let err = LogisticRegression::load(&path).unwrap_err().to_string();
        assert!(err.contains("weight 7 is NaN"), "{err}");
    }

    #[test]
    fn invalid_config_is_rejected() {
        let err = LogisticRegression::new(ModelConfig {
            bits: 40,
            ..ModelConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("bits = 40"));
    }
}
