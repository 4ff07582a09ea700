//! The sample store: one ring buffer per series that some rule reads.
//! TODO(skeleton): replaced by the full store.

use crate::labels::Labels;

/// Prometheus's stale marker: a sample with this NaN bit pattern says the
/// series ended at that time.
pub const STALE_MARKER: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// Tells whether `value` is the stale marker (and not an ordinary NaN).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_MARKER.to_bits()
}

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
    /// `up`, or series loaded by tests); it never goes stale by absence.
    /// `value` may be [`STALE_MARKER`].
    pub fn append(&mut self, labels: &Labels, at_ms: i64, value: f64) {
        let _ = (labels, at_ms, value);
        todo!()
    }
}
