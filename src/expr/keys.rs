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

/// Label pairs gathered once per sample, so that hashing and comparing them
/// need not look them up again. Up to 8 pairs stay on the stack.
pub struct PairList<'a> {
    inline: [(&'a str, &'a str); INLINE_PAIRS],
    len: usize,
    spill: Vec<(&'a str, &'a str)>,
}

const INLINE_PAIRS: usize = 8;

impl<'a> PairList<'a> {
    pub fn collect(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut list = PairList { inline: [("", ""); INLINE_PAIRS], len: 0, spill: Vec::new() };
        for pair in pairs {
            if list.len < INLINE_PAIRS {
                list.inline[list.len] = pair;
                list.len += 1;
            } else {
                if list.spill.is_empty() {
                    list.spill.extend_from_slice(&list.inline);
                }
                list.spill.push(pair);
            }
        }
        list
    }

    pub fn as_slice(&self) -> &[(&'a str, &'a str)] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    pub fn hash(&self) -> u64 {
        hash_pairs(self.as_slice().iter().copied())
    }

    /// Whether `labels` has exactly these pairs.
    pub fn equals(&self, labels: &crate::labels::Labels) -> bool {
        labels.iter().eq(self.as_slice().iter().copied())
    }
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
    fn pair_list_spills_past_inline_capacity() {
        let names: Vec<String> = (0..20).map(|i| format!("l{i:02}")).collect();
        let list = PairList::collect(names.iter().map(|n| (n.as_str(), "v")));
        assert_eq!(list.as_slice().len(), 20);
        assert_eq!(list.as_slice()[19].0, "l19");
    }

    #[test]
    fn colliding_hashes_stay_apart() {
        let mut index = KeyIndex::default();
        let names = ["a", "b", "c"];
        for (position, _) in names.iter().enumerate() {
            // All three use hash 7, so only the comparison separates them.
            assert_eq!(index.find_or_insert(7, position, |p| names[p] == names[position]), None);
        }
        assert_eq!(index.find(7, |p| names[p] == "c"), Some(2));
    }
}
