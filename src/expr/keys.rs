//! Hash keys for grouping and matching label sets. A 64-bit hash finds the
//! candidate and a comparison of the labels confirms it, so that two label
//! sets with the same hash never merge.

use std::collections::hash_map::Entry;
use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

/// Hashes `(name, value)` pairs; the 0xff separators keep `("ab", "c")` and
/// `("a", "bc")` apart, as 0xff never occurs in UTF-8.
pub fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut hasher = FxHasher::default();
    for (name, value) in pairs {
        hasher.write(name.as_bytes());
        hasher.write_u8(0xff);
        hasher.write(value.as_bytes());
        hasher.write_u8(0xff);
    }
    hasher.finish()
}

/// Positions in some list, keyed by label-set hashes with open addressing:
/// a collision moves on to the next key in a fixed sequence.
#[derive(Debug, Default)]
pub struct KeyIndex {
    positions: FxHashMap<u64, usize>,
}

/// The step between probed keys after a collision: an odd constant, so the
/// sequence visits every 64-bit key.
const PROBE_STEP: u64 = 0x9e37_79b9_7f4a_7c15;

impl KeyIndex {
    pub fn with_capacity(capacity: usize) -> Self {
        KeyIndex { positions: FxHashMap::with_capacity_and_hasher(capacity, Default::default()) }
    }

    /// Returns the stored position whose label set `same` confirms, or
    /// stores `next` for this label set and returns `None`.
    pub fn find_or_insert(&mut self, hash: u64, next: usize, same: impl Fn(usize) -> bool) -> Option<usize> {
        let mut key = hash;
        loop {
            match self.positions.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(next);
                    return None;
                }
                Entry::Occupied(entry) if same(*entry.get()) => return Some(*entry.get()),
                Entry::Occupied(_) => key = key.wrapping_add(PROBE_STEP),
            }
        }
    }

    /// Returns the stored position whose label set `same` confirms.
    pub fn find(&self, hash: u64, same: impl Fn(usize) -> bool) -> Option<usize> {
        let mut key = hash;
        loop {
            let position = *self.positions.get(&key)?;
            if same(position) {
                return Some(position);
            }
            key = key.wrapping_add(PROBE_STEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_hashes_stay_apart() {
        let mut index = KeyIndex::default();
        let names = ["a", "b", "c"];
        for (position, _) in names.iter().enumerate() {
            // All three use hash 7; only the comparison tells them apart.
            assert_eq!(index.find_or_insert(7, position, |p| names[p] == names[position]), None);
        }
        assert_eq!(index.find(7, |p| names[p] == "c"), Some(2));
    }
}
