//! The sample store: one ring buffer per series that some rule reads.
//! TODO(skeleton): replaced by the full store.

use crate::labels::Labels;

/// Stores recent samples per series.
#[derive(Debug, Default)]
pub struct Store {}

impl Store {
    /// Creates a store that keeps `retention_ms` of samples per series.
    pub fn new(retention_ms: i64) -> Self {
        let _ = retention_ms;
        Store {}
    }

    /// Stores one scrape of `target`: appends every sample at `at_ms` (or
    /// the sample's own timestamp) and marks the target's series that this
    /// scrape no longer contains as stale from `at_ms` on.
    pub fn ingest_scrape(&mut self, target: &str, at_ms: i64, samples: Vec<(Labels, f64, Option<i64>)>) {
        let _ = (target, at_ms, samples);
        todo!()
    }

    /// Appends one sample to a series that belongs to no target (such as
    /// `up`); it never goes stale by absence.
    pub fn append(&mut self, labels: &Labels, at_ms: i64, value: f64) {
        let _ = (labels, at_ms, value);
        todo!()
    }
}
