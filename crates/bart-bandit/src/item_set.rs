//! A set of item ids as a bit vector. Item ids index the catalog, so they are small and dense,
//! and testing a bit is several times cheaper than hashing (page assembly does it for every
//! candidate, twice). Ids beyond any catalog's size (a client's stray id) go to a hash set, so
//! they cannot make the bit vector huge.

use bart_core::ItemId;
use rustc_hash::FxHashSet;

/// Ids from here on are kept in the hash set (2^24 bits is 2 MB).
const DENSE: u32 = 1 << 24;

/// A set of items; `clear` costs the number of members, not the size of the catalog.
#[derive(Clone, Debug, Default)]
pub(crate) struct ItemSet {
    words: Vec<u64>,
    members: Vec<ItemId>,
    sparse: FxHashSet<ItemId>,
}

impl ItemSet {
    /// Adds `item`; true if it was not there.
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
            self.members.push(item);
        }
        fresh
    }

    /// Whether `item` is in the set.
    pub(crate) fn contains(&self, item: ItemId) -> bool {
        if item.0 >= DENSE {
            return self.sparse.contains(&item);
        }
        let (word, bit) = (item.0 as usize / 64, 1u64 << (item.0 % 64));
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    /// Empties the set.
    pub(crate) fn clear(&mut self) {
        for item in self.members.drain(..) {
            self.words[item.0 as usize / 64] = 0;
        }
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
    }
}
