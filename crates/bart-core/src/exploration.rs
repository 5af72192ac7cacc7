//! How a policy explores: the parameters that, with the page's seed, the scores and the page
//! rules, fix every probability on a page. Logged with each impression so pages can be replayed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A policy's kind and its one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Exploration {
    /// The best candidate with probability 1 - ε, else uniform (greedy at ε = 0, uniform
    /// random at ε = 1).
    EpsilonGreedy { epsilon: f64 },
    /// P(a) proportional to exp(score(a) / temperature).
    Softmax { temperature: f64 },
    /// Bootstrap Thompson sampling: a bagged model drawn uniformly picks its best candidate.
    Thompson { bags: u32 },
}

impl Exploration {
    /// The greedy policy (ε = 0), for evaluation.
    pub const GREEDY: Exploration = Exploration::EpsilonGreedy { epsilon: 0.0 };
    /// The uniform random policy (ε = 1).
    pub const UNIFORM: Exploration = Exploration::EpsilonGreedy { epsilon: 1.0 };
}

impl fmt::Display for Exploration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exploration::EpsilonGreedy { epsilon: 0.0 } => f.write_str("greedy"),
            Exploration::EpsilonGreedy { epsilon } => write!(f, "ε-greedy (ε = {epsilon})"),
            Exploration::Softmax { temperature } => {
                write!(f, "softmax (temperature {temperature})")
            }
            Exploration::Thompson { bags } => write!(f, "Thompson sampling ({bags} bags)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_the_policy_and_its_parameter() {
        let cases = [
            (
                Exploration::EpsilonGreedy { epsilon: 0.1 },
                r#"{"policy":"epsilon_greedy","epsilon":0.1}"#,
            ),
            (
                Exploration::Softmax { temperature: 0.5 },
                r#"{"policy":"softmax","temperature":0.5}"#,
            ),
            (
                Exploration::Thompson { bags: 8 },
                r#"{"policy":"thompson","bags":8}"#,
            ),
        ];
        for (e, json) in cases {
            assert_eq!(serde_json::to_string(&e).unwrap(), json);
            assert_eq!(serde_json::from_str::<Exploration>(json).unwrap(), e);
        }
        assert_eq!(Exploration::GREEDY.to_string(), "greedy");
    }
}
