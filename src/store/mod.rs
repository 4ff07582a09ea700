//! The sample store: one buffer of recent samples per series that some rule
//! reads, indexed by metric name.
//!
//! Staleness follows Prometheus: the scraper appends a stale marker to a
//! series that a target's previous scrape contained and the current scrape
//! lacks, so it disappears from instant selectors at once instead of after
//! the 5-minute lookback.

mod series;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::labels::Labels;

pub use series::Series;

/// Prometheus's stale marker: a sample with this NaN bit pattern marks
/// the end of its series at that time.
pub const STALE_MARKER: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// Tells whether `value` is the stale marker (and not an ordinary NaN).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_MARKER.to_bits()
}

/// The series that share one metric name, with a lookup by label set.
#[derive(Debug, Default)]
struct NameGroup {
    series: Vec<Series>,
    index: HashMap<Labels, usize>,
}

impl NameGroup {
    /// Returns the position of the series for `labels`, creating it when
    /// missing, and whether it was created.
    fn position_of(&mut self, labels: &Labels) -> (usize, bool) {
        match self.index.get(labels) {
            Some(&position) => (position, false),
            None => {
                self.series.push(Series::new(labels.clone()));
                self.index.insert(labels.clone(), self.series.len() - 1);
                (self.series.len() - 1, true)
            }
        }
    }

    /// Removes the series at `position`, keeping the index consistent with
    /// the swap that `Vec::swap_remove` does.
    fn remove_at(&mut self, position: usize) {
        let removed = self.series.swap_remove(position);
        self.index.remove(removed.labels());
        if let Some(moved) = self.series.get(position) {
            self.index.insert(moved.labels().clone(), position);
        }
    }
}

/// Source of store ids, unique within the process.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// Stores recent samples per series.
#[derive(Debug)]
pub struct Store {
    retention_ms: i64,
    /// Series grouped by metric name. Groups are never removed, so that
    /// their positions stay valid for [`SeriesRef`]s.
    groups: Vec<NameGroup>,
    /// Positions in `groups` by metric name; series without a name are
    /// under "".
    group_positions: HashMap<String, usize>,
    id: u64,
    /// Counts changes to the set of series or to their positions.
    generation: u64,
    /// Counts removals of series, the only change that moves a series to
    /// another position.
    removals: u64,
    /// Counts calls that may change samples (appends and prunes), so that
    /// results computed from samples can tell whether they are current.
    sample_version: u64,
}

impl Store {
    /// Creates a store that keeps `retention_ms` of samples per series.
    pub fn new(retention_ms: i64) -> Self {
        Store {
            retention_ms: retention_ms.max(0),
            groups: Vec::new(),
            group_positions: HashMap::new(),
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            generation: 0,
            removals: 0,
            sample_version: 0,
        }
    }

    /// Identifies this store and its current set of series: the same key
    /// means every [`SeriesRef`] taken under it is still valid and no
    /// series was added or removed.
    pub fn series_set_key(&self) -> (u64, u64) {
        (self.id, self.generation)
    }

    /// Identifies this store and the positions of its series: the same key
    /// means every [`SeriesRef`] taken under it still names the same series.
    /// Unlike [`series_set_key`](Store::series_set_key), adding a series
    /// keeps this key, because new series go after the existing ones.
    pub fn positions_key(&self) -> (u64, u64) {
        (self.id, self.removals)
    }

    /// Identifies this store and its current samples: the same key means no
    /// sample was appended or dropped and no series added or removed.
    pub fn content_key(&self) -> (u64, u64, u64) {
        (self.id, self.generation, self.sample_version)
    }

    /// Returns the number of positions in the group that [`SeriesRef::group`]
    /// names, valid while [`series_set_key`](Store::series_set_key) is unchanged.
    pub fn group_len(&self, group: usize) -> usize {
        self.groups.get(group).map_or(0, |g| g.series.len())
    }

    /// The history each series keeps, in milliseconds.
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Appends one sample to a series that belongs to no target (such as
    /// `up`, or series loaded by tests); it never goes stale by absence.
    /// `value` may be [`STALE_MARKER`]. A sample at or before the series'
    /// latest timestamp is ignored, as Prometheus rejects out-of-order and
    /// duplicate samples.
    pub fn append(&mut self, labels: &Labels, at_ms: i64, value: f64) {
        let series_ref = self.resolve(labels);
        self.append_to(series_ref, at_ms, value);
    }

    /// Returns the reference of the series with `labels`, creating an empty
    /// series when there is none. An empty series is removed by the next
    /// [`prune`](Store::prune), so a sample should follow at once.
    pub fn resolve(&mut self, labels: &Labels) -> SeriesRef {
        let name = labels.metric_name().unwrap_or("");
        let group = match self.group_positions.get(name) {
            Some(&group) => group,
            None => {
                self.groups.push(NameGroup::default());
                self.group_positions.insert(name.to_string(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let (position, created) = self.groups[group].position_of(labels);
        if created {
            self.generation += 1;
        }
        SeriesRef { group, position }
    }

    /// Appends one sample to the series `series_ref` names, as
    /// [`append`](Store::append) does, without a lookup by labels. The
    /// reference must come from [`resolve`](Store::resolve) under the
    /// current [`positions_key`](Store::positions_key); a reference to no
    /// series is ignored.
    pub fn append_to(&mut self, series_ref: SeriesRef, at_ms: i64, value: f64) {
        let cutoff = at_ms.saturating_sub(self.retention_ms);
        let Some(series) = self.groups.get_mut(series_ref.group).and_then(|g| g.series.get_mut(series_ref.position)) else {
            return;
        };
        self.sample_version += 1;
        series.push(at_ms, value);
        series.drop_before(cutoff);
    }

    /// Drops samples older than `retention_ms` before `now_ms` from every
    /// series, and the series left without samples.
    pub fn prune(&mut self, now_ms: i64) {
        let cutoff = now_ms.saturating_sub(self.retention_ms);
        self.sample_version += 1;
        for group in &mut self.groups {
            let mut position = 0;
            while position < group.series.len() {
                group.series[position].drop_before(cutoff);
                if group.series[position].is_empty() {
                    group.remove_at(position);
                    self.generation += 1;
                    self.removals += 1;
                } else {
                    position += 1;
                }
            }
        }
    }

    /// Iterates over the series named `name`, or over all series when `name`
    /// is `None`.
    pub fn series_named<'a>(&'a self, name: Option<&str>) -> impl Iterator<Item = (SeriesRef, &'a Series)> + 'a {
        // A name without a group matches no position.
        let only = name.map(|name| self.group_positions.get(name).copied().unwrap_or(usize::MAX));
        self.groups
            .iter()
            .enumerate()
            .filter(move |(g, _)| only.is_none_or(|o| o == *g))
            .flat_map(|(g, group)| {
                group.series.iter().enumerate().map(move |(s, series)| (SeriesRef { group: g, position: s }, series))
            })
    }

    /// Returns the series that `series_ref` names; valid while
    /// [`series_set_key`](Store::series_set_key) is unchanged.
    pub fn series_at(&self, series_ref: SeriesRef) -> Option<&Series> {
        self.groups.get(series_ref.group)?.series.get(series_ref.position)
    }

    /// Returns the series with exactly these labels.
    pub fn series(&self, labels: &Labels) -> Option<&Series> {
        let group = &self.groups[*self.group_positions.get(labels.metric_name().unwrap_or(""))?];
        group.index.get(labels).map(|&position| &group.series[position])
    }

    /// The number of series held.
    pub fn series_count(&self) -> usize {
        self.groups.iter().map(|g| g.series.len()).sum()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new(0)
    }
}

/// The position of a series in a [`Store`], cheaper to follow than a
/// lookup by labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesRef {
    group: usize,
    position: usize,
}

impl SeriesRef {
    /// Returns the series' metric-name group, which all series of one name
    /// share.
    pub fn group(&self) -> usize {
        self.group
    }

    /// Returns the series' position in its group, below [`Store::group_len`].
    pub fn position(&self) -> usize {
        self.position
    }
}

#[cfg(test)]
mod tests;
