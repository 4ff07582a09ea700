//! A per-target memory of the series a target exposes, so that a steady
//! scrape stores each sample without building its labels.
//!
//! Exporters write the same series the same way on every scrape. The cache
//! keys each series by its text in the body (metric name and label set, as
//! written) and remembers its labels, with the target's labels attached, and
//! its position in the store. A sample whose text is known costs one hash
//! of that text and one append. Only a series seen for the first time has
//! its labels built and looked up in the store.
//!
//! The cache also finds the series a scrape lacks. A series that the
//! previous scrape contained and this one does not gets a stale marker, as
//! in Prometheus, and is dropped from the cache.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use crate::exposition::{self, Format, SampleRef, Visitor, VisitSummary};
use crate::labels::Labels;
use crate::store::{SeriesRef, Store, STALE_MARKER};

use super::labels::TargetLabeler;

/// Past this many series texts per live series, the texts are forgotten
/// and learnt again, which bounds the memory of a target that writes its
/// series in a new way on every scrape.
const TEXTS_PER_SERIES: usize = 2;

/// The series one target exposed in its latest scrape.
#[derive(Debug, Default)]
pub struct SeriesCache {
    /// A series' text in the body, from the first byte of its metric name
    /// through its label set, to its slot.
    by_text: FxHashMap<Box<str>, u32>,
    /// The slot of each label set, for a series written in a new way.
    by_labels: HashMap<Labels, u32>,
    slots: Vec<Slot>,
    /// Slots that hold no series, for reuse.
    free: Vec<u32>,
    /// The format the texts were read in: the same text can mean other
    /// labels in another format, so a change of format clears them.
    /// NOTE: a family whose `# TYPE` changes between scrapes keeps the
    /// labels of its first reading, for example an `le` bound written as
    /// `1.0` stays as read under the old type until the series goes stale.
    format: Option<Format>,
    /// Numbers scrapes; 0 means "never", so the first scrape is 1.
    scrape: u64,
    /// [`Store::positions_key`] when the slots' references were taken.
    positions_key: (u64, u64),
}

#[derive(Debug)]
struct Slot {
    labels: Labels,
    /// The series' place in the store, resolved on first use after the
    /// store moved series.
    series: Option<SeriesRef>,
    /// The scrape that last contained the series; 0 for a free slot.
    last_seen: u64,
}

/// The result of storing one body.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Errors and counts of the pass over the body.
    pub summary: VisitSummary,
    /// Samples appended to the store.
    pub kept: usize,
}

impl SeriesCache {
    /// Creates an empty cache.
    pub fn new() -> SeriesCache {
        SeriesCache::default()
    }

    /// Returns the number of series the latest scrape contained.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Tells whether the latest scrape contained no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the metric names of the series the latest scrape contained.
    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.live_slots().filter_map(|slot| slot.labels.metric_name())
    }

    /// Reads `body`, appends every sample whose metric name `keep` accepts
    /// to `store` at `at_ms` (or at the sample's own timestamp) with
    /// `target_labels` attached, and marks the series the previous scrape
    /// contained and this one lacks as stale at `at_ms`.
    pub fn ingest(
        &mut self,
        body: &[u8],
        format: Format,
        target_labels: &Labels,
        keep: &dyn Fn(&str) -> bool,
        store: &mut Store,
        at_ms: i64,
    ) -> Ingested {
        self.begin(format, store);
        let mut writer = Writer {
            cache: self,
            store,
            labeler: TargetLabeler::new(target_labels),
            at_ms,
            kept: 0,
            duplicates: 0,
        };
        let mut summary = exposition::visit(body, format, keep, &mut writer);
        let (kept, duplicates) = (writer.kept, writer.duplicates);
        summary.duplicates += duplicates;
        self.end(store, at_ms);
        Ingested { summary, kept }
    }

    /// Records a failed scrape: every series of the previous scrape becomes
    /// stale at `at_ms`, as a target that cannot be read has no data.
    pub fn fail(&mut self, store: &mut Store, at_ms: i64) {
        if let Some(format) = self.format {
            self.begin(format, store);
        } else {
            self.scrape += 1;
        }
        self.end(store, at_ms);
    }

    fn begin(&mut self, format: Format, store: &Store) {
        if self.format != Some(format) {
            self.by_text.clear();
            self.format = Some(format);
        }
        if store.positions_key() != self.positions_key {
            for slot in &mut self.slots {
                slot.series = None;
            }
            self.positions_key = store.positions_key();
        }
        self.scrape += 1;
    }

    /// Marks the series this scrape lacked as stale and drops them.
    fn end(&mut self, store: &mut Store, at_ms: i64) {
        let scrape = self.scrape;
        let mut forgot = false;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.last_seen == 0 || slot.last_seen == scrape {
                continue;
            }
            let series = slot.series.unwrap_or_else(|| store.resolve(&slot.labels));
            store.append_to(series, at_ms, STALE_MARKER);
            self.by_labels.remove(&slot.labels);
            slot.labels = Labels::new();
            slot.series = None;
            slot.last_seen = 0;
            self.free.push(index as u32);
            forgot = true;
        }
        let slots = &self.slots;
        if forgot {
            self.by_text.retain(|_, slot| slots[*slot as usize].last_seen != 0);
        }
        if self.by_text.len() > TEXTS_PER_SERIES * self.len() + 64 {
            self.by_text.clear();
        }
    }

    /// Finds or makes the slot of a series whose text is not known yet.
    fn learn(&mut self, sample: &SampleRef<'_, '_>, labeler: &TargetLabeler<'_>) -> u32 {
        let labels = labeler.labels(sample.name, sample.labels);
        let slot = match self.by_labels.get(&labels) {
            Some(&slot) => slot,
            None => {
                let slot = Slot { labels: labels.clone(), series: None, last_seen: 0 };
                let index = match self.free.pop() {
                    Some(index) => {
                        self.slots[index as usize] = slot;
                        index
                    }
                    None => {
                        self.slots.push(slot);
                        (self.slots.len() - 1) as u32
                    }
                };
                self.by_labels.insert(labels, index);
                index
            }
        };
        self.by_text.insert(sample.series_text.into(), slot);
        slot
    }

    fn live_slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|slot| slot.last_seen != 0)
    }
}

/// Appends the samples of one body to the store.
struct Writer<'c, 's, 't> {
    cache: &'c mut SeriesCache,
    store: &'s mut Store,
    labeler: TargetLabeler<'t>,
    at_ms: i64,
    kept: usize,
    /// Samples of a series that an earlier line of the body wrote in
    /// another way, which the parser cannot tell apart by text.
    duplicates: usize,
}

impl<'a> Visitor<'a> for Writer<'_, '_, '_> {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        let index = match self.cache.by_text.get(sample.series_text) {
            Some(&index) => index,
            None => self.cache.learn(sample, &self.labeler),
        };
        let scrape = self.cache.scrape;
        let slot = &mut self.cache.slots[index as usize];
        if slot.last_seen == scrape {
            self.duplicates += 1;
            return;
        }
        slot.last_seen = scrape;
        let series = match slot.series {
            Some(series) => series,
            None => *slot.series.insert(self.store.resolve(&slot.labels)),
        };
        self.store.append_to(series, sample.timestamp_ms.unwrap_or(self.at_ms), sample.value);
        self.kept += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;

    fn keep_all(_: &str) -> bool {
        true
    }

    fn target() -> Labels {
        Labels::from_pairs([("instance", "127.0.0.1:9100"), ("job", "node")])
    }

    fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
        let mut labels = Labels::from_pairs(pairs.iter().copied());
        labels.set("__name__", name);
        labels.set("instance", "127.0.0.1:9100");
        labels.set("job", "node");
        labels
    }

    fn ingest(cache: &mut SeriesCache, store: &mut Store, body: &str, at_ms: i64) -> Ingested {
        cache.ingest(body.as_bytes(), Format::Text, &target(), &keep_all, store, at_ms)
    }

    fn samples(store: &Store, labels: &Labels) -> Vec<(i64, f64)> {
        store.series(labels).map(|s| s.samples().to_vec()).unwrap_or_default()
    }

    #[test]
    fn samples_are_stored_with_target_labels() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a{x=\"1\"} 5\n", 10 * S);
        assert_eq!(samples(&store, &series("a", &[("x", "1")])), vec![(10 * S, 5.0)]);
    }

    #[test]
    fn known_series_is_appended_on_later_scrapes() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a{x=\"1\"} 5\n", 10 * S);
        ingest(&mut cache, &mut store, "a{x=\"1\"} 6\n", 20 * S);
        assert_eq!(samples(&store, &series("a", &[("x", "1")])), vec![(10 * S, 5.0), (20 * S, 6.0)]);
    }

    #[test]
    fn missing_series_gets_stale_marker() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a 1\nb 2\n", 10 * S);
        ingest(&mut cache, &mut store, "a 1\n", 20 * S);
        let b = samples(&store, &series("b", &[]));
        assert!(crate::store::is_stale_marker(b[1].1), "{b:?}");
    }

    #[test]
    fn stale_series_is_forgotten() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a 1\nb 2\n", 10 * S);
        ingest(&mut cache, &mut store, "a 1\n", 20 * S);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn stale_marker_is_written_once() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a 1\nb 2\n", 10 * S);
        ingest(&mut cache, &mut store, "a 1\n", 20 * S);
        ingest(&mut cache, &mut store, "a 1\n", 30 * S);
        assert_eq!(samples(&store, &series("b", &[])).len(), 2);
    }

    #[test]
    fn series_that_returns_gets_samples_again() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a 1\nb 2\n", 10 * S);
        ingest(&mut cache, &mut store, "a 1\n", 20 * S);
        ingest(&mut cache, &mut store, "a 1\nb 3\n", 30 * S);
        assert_eq!(samples(&store, &series("b", &[])).last(), Some(&(30 * S, 3.0)));
    }

    #[test]
    fn other_target_series_stay_live() {
        let (mut first, mut second, mut store) = (SeriesCache::new(), SeriesCache::new(), Store::new(60 * S));
        ingest(&mut first, &mut store, "a 1\n", 10 * S);
        ingest(&mut second, &mut store, "b 1\n", 10 * S);
        ingest(&mut second, &mut store, "b 2\n", 20 * S);
        assert_eq!(samples(&store, &series("a", &[])), vec![(10 * S, 1.0)]);
    }

    #[test]
    fn failed_scrape_makes_every_series_stale() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a 1\n", 10 * S);
        cache.fail(&mut store, 20 * S);
        let a = samples(&store, &series("a", &[]));
        assert!(crate::store::is_stale_marker(a[1].1), "{a:?}");
    }

    #[test]
    fn reordered_labels_are_one_series() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a{x=\"1\",y=\"2\"} 1\n", 10 * S);
        ingest(&mut cache, &mut store, "a{y=\"2\",x=\"1\"} 2\n", 20 * S);
        assert_eq!(samples(&store, &series("a", &[("x", "1"), ("y", "2")])), vec![(10 * S, 1.0), (20 * S, 2.0)]);
    }

    #[test]
    fn rewritten_series_is_not_marked_stale() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a{x=\"1\",y=\"2\"} 1\n", 10 * S);
        ingest(&mut cache, &mut store, "a{y=\"2\",x=\"1\"} 2\n", 20 * S);
        ingest(&mut cache, &mut store, "a{y=\"2\",x=\"1\"} 3\n", 30 * S);
        let values: Vec<f64> = samples(&store, &series("a", &[("x", "1"), ("y", "2")])).iter().map(|s| s.1).collect();
        assert_eq!(values, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn own_timestamp_is_kept() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        ingest(&mut cache, &mut store, "a 1 9500\n", 10 * S);
        assert_eq!(samples(&store, &series("a", &[])), vec![(9_500, 1.0)]);
    }

    #[test]
    fn counts_kept_samples() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        let ingested = ingest(&mut cache, &mut store, "a 1\nb 2\n", 10 * S);
        assert_eq!(ingested.kept, 2);
    }

    #[test]
    fn references_survive_removal_of_other_series() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(15 * S));
        store.append(&Labels::from_pairs([("__name__", "a"), ("other", "1")]), 0, 1.0);
        ingest(&mut cache, &mut store, "a 1\n", 10 * S);
        // Pruning at 20 s drops the other series, which moves `a`.
        store.prune(20 * S);
        ingest(&mut cache, &mut store, "a 2\n", 20 * S);
        assert_eq!(samples(&store, &series("a", &[])), vec![(10 * S, 1.0), (20 * S, 2.0)]);
    }

    #[test]
    fn filtered_names_are_not_stored() {
        let (mut cache, mut store) = (SeriesCache::new(), Store::new(60 * S));
        cache.ingest(b"a 1\nb 2\n", Format::Text, &target(), &|name: &str| name == "a", &mut store, 10 * S);
        assert!(store.series(&series("b", &[])).is_none());
    }
}
