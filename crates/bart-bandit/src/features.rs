//! The one feature hasher's interface: named namespaces of hashed features with values, and
//! configurable crosses between namespaces like Vowpal Wabbit's `-q` (pairs) and `--cubic`
//! (triples). Namespaces are selected in crosses by the first byte of their name, as in VW.

use crate::error::BanditError;
use crate::hash::{cross, hash_bytes};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// A hashed sparse feature: id (reduced to a bucket by the model's mask) and value.
pub type Feature = (u32, f32);

/// A feature namespace: its name's hash seeds its features' hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespace {
    initial: u8,
    seed: u64,
}

impl Namespace {
    /// The namespace called `name`; the empty name is VW's default namespace (initial ' ').
    pub fn new(name: &[u8]) -> Self {
        Namespace {
            initial: name.first().copied().unwrap_or(b' '),
            seed: hash_bytes(0, name),
        }
    }

    /// The byte that selects this namespace in crosses.
    pub fn initial(&self) -> u8 {
        self.initial
    }

    /// The id of the feature called `name` in this namespace.
    pub fn id(&self, name: &[u8]) -> u32 {
        hash_bytes(self.seed, name) as u32
    }

    /// The id of the feature `key=value` (the same id VW text `key=value` gets).
    pub fn id_of(&self, key: &str, value: impl std::fmt::Display) -> u32 {
        let mut buf = [0u8; 64];
        let mut w = &mut buf[..];
        write!(w, "{key}={value}").expect("feature name fits in 64 bytes");
        let len = 64 - w.len();
        self.id(&buf[..len])
    }
}

/// A run of features of one namespace inside a feature buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    pub initial: u8,
    pub start: u32,
    pub end: u32,
}

/// One example's features, by namespace: a view into a [`Features`] buffer or a batch.
#[derive(Clone, Copy, Debug)]
pub struct Example<'a> {
    pub feats: &'a [Feature],
    pub groups: &'a [Group],
}

impl<'a> Example<'a> {
    /// Every namespace feature, group by group.
    pub fn atoms(&self) -> impl Iterator<Item = Feature> + 'a {
        let feats = self.feats;
        self.groups
            .iter()
            .flat_map(move |g| feats[g.start as usize..g.end as usize].iter().copied())
    }

    fn group(&self, g: &Group) -> &'a [Feature] {
        &self.feats[g.start as usize..g.end as usize]
    }
}

/// A reusable buffer that builds one example namespace by namespace.
#[derive(Clone, Debug, Default)]
pub struct Features {
    feats: Vec<Feature>,
    groups: Vec<Group>,
}

/// A length of a [`Features`] buffer to truncate back to (shared features before an action's).
#[derive(Clone, Copy, Debug)]
pub struct Mark(usize, usize);

impl Features {
    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.feats.clear();
        self.groups.clear();
    }

    /// Starts a run of features in `ns`.
    pub fn namespace(&mut self, ns: &Namespace) {
        let at = self.feats.len() as u32;
        self.groups.push(Group {
            initial: ns.initial,
            start: at,
            end: at,
        });
    }

    /// Adds a feature to the current namespace (the default one if none was started).
    pub fn push(&mut self, id: u32, value: f32) {
        if self.groups.is_empty() {
            self.namespace(&Namespace::new(b""));
        }
        self.feats.push((id, value));
        self.groups.last_mut().expect("a group").end += 1;
    }

    /// Adds `key=value` with value 1 to the current namespace of `ns`.
    pub fn add(&mut self, ns: &Namespace, key: &str, value: impl std::fmt::Display) {
        self.push(ns.id_of(key, value), 1.0);
    }

    /// The current length, to truncate back to.
    pub fn mark(&self) -> Mark {
        Mark(self.feats.len(), self.groups.len())
    }

    /// Drops everything added after `mark`.
    pub fn truncate(&mut self, mark: Mark) {
        self.feats.truncate(mark.0);
        self.groups.truncate(mark.1);
    }

    /// The example built so far.
    pub fn example(&self) -> Example<'_> {
        Example {
            feats: &self.feats,
            groups: &self.groups,
        }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.feats.len()
    }

    /// True when no feature was added.
    pub fn is_empty(&self) -> bool {
        self.feats.is_empty()
    }
}

/// Crosses between namespaces: "UA" crosses every feature of namespaces starting with `U`
/// with every feature of those starting with `A` (id `cross(u, a)`, value `u * a`); three
/// letters make triples.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Interactions(Vec<Vec<u8>>);

impl Interactions {
    /// Parses specs such as `["UA", "UAE"]`.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Self, BanditError> {
        specs
            .iter()
            .map(|s| {
                let s = s.as_ref();
                if (2..=3).contains(&s.len()) && s.is_ascii() {
                    Ok(s.as_bytes().to_vec())
                } else {
                    Err(BanditError::invalid(
                        "interaction",
                        format!("{s:?}"),
                        "must be 2 or 3 ASCII namespace initials, such as UA or UAE",
                    ))
                }
            })
            .collect::<Result<_, _>>()
            .map(Interactions)
    }

    /// True when there are no crosses.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Visits every crossed feature of `x`.
    pub fn for_each(&self, x: &Example<'_>, mut visit: impl FnMut(u32, f32)) {
        let of = |c: u8| x.groups.iter().filter(move |g| g.initial == c);
        for spec in &self.0 {
            for ga in of(spec[0]) {
                for gb in of(spec[1]) {
                    for &(a, va) in x.group(ga) {
                        for &(b, vb) in x.group(gb) {
                            let (ab, vab) = (cross(a, b), va * vb);
                            if spec.len() == 2 {
                                visit(ab, vab);
                                continue;
                            }
                            for gc in of(spec[2]) {
                                for &(c, vc) in x.group(gc) {
                                    visit(cross(ab, c), vab * vc);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl TryFrom<Vec<String>> for Interactions {
    type Error = BanditError;
    fn try_from(specs: Vec<String>) -> Result<Self, BanditError> {
        Interactions::parse(&specs)
    }
}

impl From<Interactions> for Vec<String> {
    fn from(i: Interactions) -> Self {
        i.0.into_iter()
            .map(|s| String::from_utf8(s).expect("ASCII"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_ids_equal_text_ids() {
        let ns = Namespace::new(b"User");
        assert_eq!(ns.initial(), b'U');
        assert_eq!(ns.id_of("country", 3), ns.id(b"country=3"));
        assert_ne!(ns.id(b"a"), Namespace::new(b"Action").id(b"a"));
    }

    #[test]
    fn crosses_pairs_and_triples_with_values() {
        let (u, a, e) = (
            Namespace::new(b"U"),
            Namespace::new(b"A"),
            Namespace::new(b"E"),
        );
        let mut f = Features::default();
        f.namespace(&u);
        f.push(1, 1.0);
        f.push(2, 0.5);
        f.namespace(&a);
        f.push(10, 2.0);
        f.namespace(&e);
        f.push(100, 3.0);
        let mut seen = Vec::new();
        Interactions::parse(&["UA", "UAE", "AX"])
            .unwrap()
            .for_each(&f.example(), |id, v| seen.push((id, v)));
        assert_eq!(
            seen,
            vec![
                (cross(1, 10), 2.0),
                (cross(2, 10), 1.0),
                (cross(cross(1, 10), 100), 6.0),
                (cross(cross(2, 10), 100), 3.0),
            ]
        );
        let m = f.mark();
        f.namespace(&a);
        f.push(11, 1.0);
        assert_eq!(f.example().atoms().count(), 5);
        f.truncate(m);
        assert_eq!(f.example().atoms().count(), 4);
        assert!(Interactions::parse(&["U"]).is_err());
        assert!(Interactions::parse(&["UAEX"]).is_err());
    }
}
