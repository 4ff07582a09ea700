//! Label sets: the identity of a series.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The label that contains a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// A set of labels sorted by name, with unique names.
///
/// The metric name is stored as the `__name__` label, as Prometheus does, so
/// that selectors and vector matching treat it like any other label.
///
/// All names and values lie in one shared, immutable buffer, so a clone is
/// a reference-count increment and building a set is one allocation. The
/// buffer holds, per pair in name order, the name's and the value's byte
/// lengths as native-endian `usize`s, then the name's and the value's
/// bytes. An empty set has no buffer, so each set has exactly one encoding
/// and equality and hashing can work on the bytes.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels(Option<Arc<[u8]>>);

/// The size of one encoded length.
const LENGTH_BYTES: usize = std::mem::size_of::<usize>();

thread_local! {
    /// Scratch space for encoding, so that building a set allocates only
    /// its shared buffer.
    static ENCODE_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Labels {
    /// Creates an empty label set.
    pub fn new() -> Self {
        Labels(None)
    }

    /// Encodes `pairs`, which must be sorted by name with unique names and
    /// no empty value.
    fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let size: usize = pairs.clone().into_iter().map(|(n, v)| 2 * LENGTH_BYTES + n.len() + v.len()).sum();
        if size == 0 {
            return Labels(None);
        }
        ENCODE_BUFFER.with(|buffer| {
            // Only the loop below runs while the buffer is borrowed, and it
            // encodes no other label set, so the borrow succeeds. The fresh
            // buffer is a fallback that needs no panic.
            let mut fresh = Vec::new();
            let mut borrowed = buffer.try_borrow_mut();
            let bytes = match &mut borrowed {
                Ok(bytes) => &mut **bytes,
                Err(_) => &mut fresh,
            };
            bytes.clear();
            bytes.reserve(size);
            for (name, value) in pairs {
                bytes.extend_from_slice(&name.len().to_ne_bytes());
                bytes.extend_from_slice(&value.len().to_ne_bytes());
                bytes.extend_from_slice(name.as_bytes());
                bytes.extend_from_slice(value.as_bytes());
            }
            Labels(Some(Arc::from(&bytes[..])))
        })
    }

    /// Builds a label set from pairs in any order. A later pair replaces an
    /// earlier one with the same name; pairs with an empty value are dropped,
    /// because Prometheus treats an empty label value as an absent label.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut sorted: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            set_pair(&mut sorted, name.into(), value.into());
        }
        Labels::encode(sorted.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// Builds a label set from pairs that are already sorted by name, with
    /// unique names and no empty value, without re-sorting them. Pairs that
    /// break this are sorted and merged as [`Labels::from_pairs`] does.
    pub fn from_sorted_pairs(pairs: Vec<(String, String)>) -> Self {
        let sorted = pairs.windows(2).all(|w| w[0].0 < w[1].0);
        if sorted && pairs.iter().all(|(_, value)| !value.is_empty()) {
            Labels::encode(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        } else {
            Labels::from_pairs(pairs)
        }
    }

    /// Builds a label set from borrowed pairs that are sorted by name, with
    /// unique names, in one allocation. Pairs with an empty value are
    /// dropped. Pairs out of order are sorted and merged as
    /// [`Labels::from_pairs`] does, at the cost of more allocations.
    pub fn from_sorted_strs(pairs: &[(&str, &str)]) -> Self {
        let sorted = pairs.windows(2).all(|w| w[0].0 < w[1].0);
        if sorted {
            Labels::encode(pairs.iter().copied().filter(|(_, value)| !value.is_empty()))
        } else {
            Labels::from_pairs(pairs.iter().copied())
        }
    }

    /// Returns the value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter_raw().find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| as_str(v))
    }

    /// Returns the metric name, if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets `name` to `value`; an empty value removes the label. Rebuilds
    /// the set, so other clones keep the old labels.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        let mut pairs: Vec<(&str, &str)> = self.iter().filter(|(n, _)| *n != name).collect();
        if !value.is_empty() {
            let position = pairs.partition_point(|(n, _)| *n < name.as_str());
            pairs.insert(position, (name.as_str(), value.as_str()));
        }
        *self = Labels::encode(pairs.iter().copied());
    }

    /// Removes `name` and returns its value, if present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let value = self.get(name)?.to_string();
        *self = self.drop_all(&[name]);
        Some(value)
    }

    /// Returns a copy without the metric name, as PromQL functions and
    /// arithmetic produce. Without a metric name the copy shares the
    /// buffer.
    pub fn without_metric_name(&self) -> Labels {
        if self.metric_name().is_none() {
            return self.clone();
        }
        self.drop_all(&[METRIC_NAME])
    }

    /// Returns a copy that keeps only the named labels.
    pub fn keep_only(&self, names: &[impl AsRef<str>]) -> Labels {
        Labels::encode(self.iter().filter(|(n, _)| names.iter().any(|k| k.as_ref() == *n)))
    }

    /// Returns a copy without the named labels.
    pub fn drop_all(&self, names: &[impl AsRef<str>]) -> Labels {
        Labels::encode(self.iter().filter(|(n, _)| !names.iter().any(|k| k.as_ref() == *n)))
    }

    /// Iterates over `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.iter_raw().map(|(n, v)| (as_str(n), as_str(v)))
    }

    /// Iterates over the pairs' bytes, which compare faster than `str`s.
    fn iter_raw(&self) -> RawPairs<'_> {
        RawPairs { rest: self.0.as_deref().unwrap_or(&[]) }
    }

    pub fn len(&self) -> usize {
        self.iter_raw().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Tells whether both sets share one buffer, which implies that they
    /// are equal. Empty sets share none.
    pub fn shares_buffer(&self, other: &Labels) -> bool {
        matches!((&self.0, &other.0), (Some(a), Some(b)) if Arc::ptr_eq(a, b))
    }

    /// Returns a stable 64-bit hash of the labels, written as 16 hex digits.
    ///
    /// FNV-1a over `name 0xff value 0xff` pairs: the same labels give the same
    /// fingerprint in every process and release, which a dedup key needs
    /// (the standard library's hasher is seeded per process).
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", fnv1a(self.iter_raw().flat_map(|(n, v)| [n, &[0xff], v, &[0xff]])))
    }
}

/// Sets `name` to `value` in pairs sorted by name, as [`Labels::set`] does.
fn set_pair(pairs: &mut Vec<(String, String)>, name: String, value: String) {
    match pairs.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
        Ok(i) if value.is_empty() => {
            pairs.remove(i);
        }
        Ok(i) => pairs[i].1 = value,
        Err(_) if value.is_empty() => {}
        Err(i) => pairs.insert(i, (name, value)),
    }
}

/// Converts a name or value that [`RawPairs`] cut from a label buffer.
fn as_str(bytes: &[u8]) -> &str {
    // SAFETY: `Labels::encode` is the only writer of label buffers, and it
    // copies whole `&str`s, each preceded by its byte length. `RawPairs`
    // cuts names and values at exactly those lengths, so every slice it
    // returns is the bytes of one `&str`, which are valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// The pairs of an encoded label buffer, as byte slices.
#[derive(Clone)]
struct RawPairs<'a> {
    rest: &'a [u8],
}

impl<'a> RawPairs<'a> {
    fn take_length(&mut self) -> Option<usize> {
        let (length, rest) = self.rest.split_first_chunk::<LENGTH_BYTES>()?;
        self.rest = rest;
        Some(usize::from_ne_bytes(*length))
    }

    fn take_bytes(&mut self, length: usize) -> Option<&'a [u8]> {
        let (bytes, rest) = self.rest.split_at_checked(length)?;
        self.rest = rest;
        Some(bytes)
    }
}

impl<'a> Iterator for RawPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let name_length = self.take_length()?;
        let value_length = self.take_length()?;
        let name = self.take_bytes(name_length)?;
        let value = self.take_bytes(value_length)?;
        Some((name, value))
    }
}

impl Ord for Labels {
    /// Orders pair by pair, name then value, as the sorted pair lists
    /// compare.
    fn cmp(&self, other: &Self) -> Ordering {
        if self.shares_buffer(other) {
            return Ordering::Equal;
        }
        self.iter_raw().cmp(other.iter_raw())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Labels {
    /// Writes `Labels([(name, value), ...])`, as a derived `Debug` of a list
    /// of pairs would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Labels").field(&self.iter().collect::<Vec<_>>()).finish()
    }
}

/// FNV-1a 64-bit over a sequence of byte slices.
pub fn fnv1a<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for byte in part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

impl serde::Serialize for Labels {
    /// Serializes as a JSON object in name order.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl fmt::Display for Labels {
    /// Writes the labels in PromQL form: `name{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (name, value) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_replaces() {
        let labels = Labels::from_pairs([("b", "2"), ("a", "1"), ("b", "3")]);
        assert_eq!(labels.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "3")]);
    }

    #[test]
    fn from_sorted_pairs_sorts_unsorted_input() {
        let pairs = vec![("b".to_string(), "2".to_string()), ("a".to_string(), "1".to_string())];
        let labels = Labels::from_sorted_pairs(pairs);
        assert_eq!(labels.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "2")]);
    }

    #[test]
    fn empty_value_removes_label() {
        let mut labels = Labels::from_pairs([("a", "1")]);
        labels.set("a", "");
        assert!(labels.is_empty());
    }

    #[test]
    fn fingerprint_is_stable() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        assert_eq!(labels.fingerprint(), labels.clone().fingerprint());
        assert_eq!(labels.fingerprint().len(), 16);
    }

    #[test]
    fn multibyte_values_round_trip() {
        // Exercises the unchecked UTF-8 conversion on values made of
        // multibyte characters, which a wrong length would cut.
        let pairs = [("__name__", "größe"), ("emoji", "🦀x🦀"), ("z", "日本")];
        let labels = Labels::from_pairs(pairs);
        assert_eq!(labels.iter().collect::<Vec<_>>(), pairs.to_vec());
        assert_eq!(labels.get("emoji"), Some("🦀x🦀"));
        assert_eq!(labels.metric_name(), Some("größe"));
    }

    #[test]
    fn order_is_pair_by_pair() {
        let shorter = Labels::from_pairs([("a", "1")]);
        let longer = Labels::from_pairs([("a", "1"), ("b", "0")]);
        let later_name = Labels::from_pairs([("aa", "0")]);
        let later_value = Labels::from_pairs([("a", "2")]);
        assert!(shorter < longer);
        assert!(longer < later_value);
        assert!(later_value < later_name);
        assert!(Labels::new() < shorter);
    }

    #[test]
    fn clone_shares_buffer() {
        let labels = Labels::from_pairs([("a", "1")]);
        assert!(labels.shares_buffer(&labels.clone()));
    }

    #[test]
    fn set_leaves_clones_unchanged() {
        let original = Labels::from_pairs([("a", "1"), ("c", "3")]);
        let mut changed = original.clone();
        changed.set("b", "2");
        assert_eq!(original.iter().collect::<Vec<_>>(), vec![("a", "1"), ("c", "3")]);
        assert_eq!(changed.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "2"), ("c", "3")]);
    }

    #[test]
    fn remove_returns_value() {
        let mut labels = Labels::from_pairs([("a", "1"), ("b", "2")]);
        assert_eq!(labels.remove("a"), Some("1".to_string()));
        assert_eq!(labels, Labels::from_pairs([("b", "2")]));
        assert_eq!(labels.remove("a"), None);
    }

    #[test]
    fn equal_sets_are_equal_however_built() {
        let mut built = Labels::from_pairs([("b", "2"), ("__name__", "m")]);
        built.set("a", "1");
        let sorted = Labels::from_sorted_strs(&[("__name__", "m"), ("a", "1"), ("b", "2")]);
        assert_eq!(built, sorted);
        assert_eq!(built.without_metric_name(), Labels::from_pairs([("a", "1"), ("b", "2")]));
    }

    #[test]
    fn emptied_set_equals_new() {
        let mut labels = Labels::from_pairs([("a", "1")]);
        labels.remove("a");
        assert_eq!(labels, Labels::new());
        assert_eq!(labels.len(), 0);
    }

    #[test]
    fn debug_lists_pairs() {
        let labels = Labels::from_pairs([("a", "1")]);
        assert_eq!(format!("{labels:?}"), r#"Labels([("a", "1")])"#);
    }

    #[test]
    fn display_escapes_values() {
        let labels = Labels::from_pairs([("__name__", "m"), ("p", "a\"b\n")]);
        assert_eq!(labels.to_string(), "m{p=\"a\\\"b\\n\"}");
    }
}
