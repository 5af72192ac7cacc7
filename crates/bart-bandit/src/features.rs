//! The one feature hasher's interface: named namespaces of hashed features with values, and
//! configurable crosses between namespaces like Vowpal Wabbit's `-q` (pairs) and `--cubic`
//! (triples). Namespaces are selected in crosses by the first byte of their name, as in VW.

use crate::error::BanditError;
use crate::hash::{cross, hash_bytes};
use serde::{Deserialize, Serialize};

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
    pub fn id_of(&self, key: &str, value: impl itoa::Integer) -> u32 {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(value).as_bytes();
        let len = key.len() + 1 + digits.len();
        let mut buf = [0u8; 64];
        if len > buf.len() {
            // Longer than the stack buffer: the same bytes, on the heap.
            return self.id(&[key.as_bytes(), b"=", digits].concat());
        }
        buf[..key.len()].copy_from_slice(key.as_bytes());
        buf[key.len()] = b'=';
        buf[key.len() + 1..len].copy_from_slice(digits);
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
    pub fn add(&mut self, ns: &Namespace, key: &str, value: impl itoa::Integer) {
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

/// Crosses between namespaces, as in Vowpal Wabbit: "UA" crosses every feature of the
/// namespaces starting with `U` with every feature of those starting with `A` (id
/// `cross(a, u)`, value `a * u`); three letters make triples. As in VW, `UA` and `AU` are one
/// interaction, and a namespace crossed with itself (`UU`) gives each unordered pair of its
/// features once, a feature with itself included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Interactions(Vec<Vec<u8>>);

impl Interactions {
    /// Parses specs such as `["UA", "UAE"]`.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Self, BanditError> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for s in specs {
            let s = s.as_ref();
            if !((2..=3).contains(&s.len()) && s.is_ascii() && !s.contains(':')) {
                return Err(BanditError::invalid(
                    "interaction",
                    format!("{s:?}"),
                    "must be 2 or 3 ASCII namespace initials, such as UA or UAE (the wildcard ':' is not supported)",
                ));
            }
            let mut letters = s.as_bytes().to_vec();
            letters.sort_unstable();
            if !out.contains(&letters) {
                out.push(letters);
            }
        }
        Ok(Interactions(out))
    }

    /// True when there are no crosses.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Visits every crossed feature of `x`.
    pub fn for_each(&self, x: &Example<'_>, mut visit: impl FnMut(u32, f32)) {
        // The features of the namespaces starting with `c`, in order.
        let of = |c: u8| {
            x.groups
                .iter()
                .filter(move |g| g.initial == c)
                .flat_map(|g| x.group(g).iter().copied())
        };
        // Letters are sorted, so repeated ones are adjacent: for those, later positions only.
        for spec in &self.0 {
            let skip = |k: usize, i: usize| if spec[k] == spec[k - 1] { i } else { 0 };
            for (i, (a, va)) in of(spec[0]).enumerate() {
                for (j, (b, vb)) in of(spec[1]).enumerate().skip(skip(1, i)) {
                    let (ab, vab) = (cross(a, b), va * vb);
                    if spec.len() == 2 {
                        visit(ab, vab);
                        continue;
                    }
                    for (c, vc) in of(spec[2]).skip(skip(2, j)) {
                        visit(cross(ab, c), vab * vc);
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
        let long = "x".repeat(100);
        assert_eq!(ns.id_of(&long, 1), ns.id(format!("{long}=1").as_bytes()));
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
        Interactions::parse(&["UA", "AEU", "AX", "AU"])
            .unwrap()
            .for_each(&f.example(), |id, v| seen.push((id, v)));
        // Letters sorted, duplicates dropped: AU, AEU, AX.
        assert_eq!(
            seen,
            vec![
                (cross(10, 1), 2.0),
                (cross(10, 2), 1.0),
                (cross(cross(10, 100), 1), 6.0),
                (cross(cross(10, 100), 2), 3.0),
            ]
        );
        // A namespace with itself: unordered pairs, each feature with itself included.
        let mut seen = Vec::new();
        Interactions::parse(&["UU"])
            .unwrap()
            .for_each(&f.example(), |id, v| seen.push((id, v)));
        assert_eq!(
            seen,
            vec![(cross(1, 1), 1.0), (cross(1, 2), 0.5), (cross(2, 2), 0.25)]
        );
        let mut n = 0;
        Interactions::parse(&["UUU"])
            .unwrap()
            .for_each(&f.example(), |_, _| n += 1);
        assert_eq!(n, 4); // 111, 112, 122, 222
        assert!(Interactions::parse(&["U:"]).is_err());
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
