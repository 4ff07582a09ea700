//! Label sets: the identity of a series.

use std::fmt;

/// The label that contains a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// A set of labels sorted by name, with unique names.
///
/// The metric name is stored as the `__name__` label, as Prometheus does, so
/// that selectors and vector matching treat it like any other label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Creates an empty label set.
    pub fn new() -> Self {
        Labels(Vec::new())
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
        let mut labels = Labels::new();
        for (name, value) in pairs {
            labels.set(name, value);
        }
        labels
    }

    /// Builds a label set from pairs that are already sorted by name, with
    /// unique names and no empty value, without re-sorting them. Pairs that
    /// break this are sorted and merged as [`Labels::from_pairs`] does.
    pub fn from_sorted_pairs(pairs: Vec<(String, String)>) -> Self {
        let sorted = pairs.windows(2).all(|w| w[0].0 < w[1].0);
        if sorted && pairs.iter().all(|(_, value)| !value.is_empty()) {
            Labels(pairs)
        } else {
            Labels::from_pairs(pairs)
        }
    }

    /// Returns the value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Returns the metric name, if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Removes `name` and returns its value, if present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0.remove(i).1)
    }

    /// Returns a copy without the metric name, as PromQL functions and
    /// arithmetic produce.
    pub fn without_metric_name(&self) -> Labels {
        let mut copy = self.clone();
        copy.remove(METRIC_NAME);
        copy
    }

    /// Returns a copy that keeps only the named labels.
    pub fn keep_only(&self, names: &[impl AsRef<str>]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| names.iter().any(|k| k.as_ref() == n))
                .cloned()
                .collect(),
        )
    }

    /// Returns a copy without the named labels.
    pub fn drop_all(&self, names: &[impl AsRef<str>]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| !names.iter().any(|k| k.as_ref() == n))
                .cloned()
                .collect(),
        )
    }

    /// Iterates over `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns a stable 64-bit hash of the labels, written as 16 hex digits.
    ///
    /// FNV-1a over `name 0xff value 0xff` pairs: the same labels give the same
    /// fingerprint in every process and release, which a dedup key needs
    /// (the standard library's hasher is seeded per process).
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", fnv1a(self.0.iter().flat_map(|(n, v)| {
            [n.as_bytes(), &[0xff], v.as_bytes(), &[0xff]]
        })))
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
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
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
    fn display_escapes_values() {
        let labels = Labels::from_pairs([("__name__", "m"), ("p", "a\"b\n")]);
        assert_eq!(labels.to_string(), "m{p=\"a\\\"b\\n\"}");
    }
}
