//! A set of item ids as a bit vector. Item ids index the catalog, so they are small and dense,
//! and testing a bit is several times cheaper than hashing (page assembly does it for every
//! candidate, twice). Ids beyond any catalog's size (a client's stray id) go to a hash set, so
//! they cannot make the bit vector huge.

use bart_core::ItemId;
use rustc_hash::FxHashSet;

/// Ids from here on are kept in the hash set (2^24 bits is 2 MB).
const DENSE: u32 = 1 << 24;

/// A set of items; `clear` costs the number of members or, when they are many, a sweep of
/// the bit vector, whichever is less.
#[derive(Clone, Debug, Default)]
pub(crate) struct ItemSet {
    words: Vec<u64>,
    /// The dense members while they are fewer than an eighth of the words (beyond that,
    /// clearing sweeps every word).
    members: Vec<ItemId>,
    many: bool,
    sparse: FxHashSet<ItemId>,
}

impl ItemSet {
    /// Adds `item`; true if it was not there.
    #[inline]
    pub(crate) fn insert(&mut self, item: ItemId) -> bool {
        if item.0 >= DENSE {
            return self.sparse.insert(item);
        }
        let (word, bit) = (item.0 as usize / 64, 1u64 << (item.0 % 64));
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & bit == 0;
        if fresh {
            self.words[word] |= bit;
            if !self.many {
                self.members.push(item);
                self.many = self.members.len() > self.words.len() / 8;
            }
        }
        fresh
    }

    /// Whether `item` is in the set.
    #[inline]
    pub(crate) fn contains(&self, item: ItemId) -> bool {
        if item.0 >= DENSE {
            return self.sparse.contains(&item);
        }
        let (word, bit) = (item.0 as usize / 64, 1u64 << (item.0 % 64));
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    /// Empties the set.
    pub(crate) fn clear(&mut self) {
        if self.many {
            self.words.fill(0);
            self.many = false;
        } else {
            for item in &self.members {
                self.words[item.0 as usize / 64] = 0;
            }
        }
        self.members.clear();
        self.sparse.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_was_inserted_until_cleared() {
        let mut set = ItemSet::default();
        assert!(set.insert(ItemId(130)));
        assert!(set.insert(ItemId(3)));
        assert!(!set.insert(ItemId(130)));
        assert!(set.contains(ItemId(3)) && set.contains(ItemId(130)));
        assert!(!set.contains(ItemId(4)) && !set.contains(ItemId(1 << 30)));
        // A stray huge id is held without a huge bit vector.
        assert!(set.insert(ItemId(u32::MAX)) && !set.insert(ItemId(u32::MAX)));
        assert!(set.contains(ItemId(u32::MAX)));
        assert!(set.words.len() <= 3);
        set.clear();
        assert!(!set.contains(ItemId(3)) && !set.contains(ItemId(130)));
        assert!(!set.contains(ItemId(u32::MAX)));
        assert!(set.insert(ItemId(3)));
        // Many members: cleared by a sweep, then tracked one by one again.
        for i in (0..6400).step_by(3) {
            set.insert(ItemId(i));
        }
        assert!(set.many);
        set.clear();
        assert!(!set.many && set.members.is_empty());
        assert!((0..6400).all(|i| !set.contains(ItemId(i))));
        assert!(set.insert(ItemId(5)) && set.contains(ItemId(5)));
        set.clear();
        assert!(!set.contains(ItemId(5)));
    }
}
