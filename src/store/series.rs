//! One series' samples in time order, with the positions of stale markers and
//! counter resets so that range functions can skip scanning clean windows.

use crate::labels::Labels;

use super::is_stale_marker;

/// Samples dropped from the front are compacted away once they are at least
/// this many and at least half of the buffer, so appends stay amortized O(1).
const COMPACT_MIN: usize = 256;

/// One series: its labels and its samples `(t_ms, value)` in strictly
/// increasing time order.
#[derive(Debug)]
pub struct Series {
    labels: Labels,
    /// Samples; those before `head` are expired and wait for compaction.
    samples: Vec<(i64, f64)>,
    head: usize,
    /// Timestamps of the stale markers among the live samples.
    stale_times: Vec<i64>,
    /// Timestamps of samples whose value is below the previous non-stale
    /// value (a counter reset), among the live samples.
    reset_times: Vec<i64>,
    /// The latest non-stale value, to detect counter resets on append.
    last_value: Option<f64>,
}

/// The samples of a series inside a time window, stale markers included.
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    pub samples: &'a [(i64, f64)],
    /// Whether `samples` contains any stale marker.
    pub has_stale: bool,
    /// Whether any counter reset lies inside `samples` (after its first
    /// sample). Only valid when `has_stale` is false.
    pub has_reset: bool,
}

impl Series {
    pub(super) fn new(labels: Labels) -> Self {
        Series {
            labels,
            samples: Vec::new(),
            head: 0,
            stale_times: Vec::new(),
            reset_times: Vec::new(),
            last_value: None,
        }
    }

    /// The series' labels, including `__name__`.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The live samples, oldest first; may contain stale markers.
    pub fn samples(&self) -> &[(i64, f64)] {
        &self.samples[self.head..]
    }

    pub(super) fn is_empty(&self) -> bool {
        self.head == self.samples.len()
    }

    /// Appends a sample unless it is not newer than the latest one.
    pub(super) fn push(&mut self, t_ms: i64, value: f64) {
        if let Some(&(last_t, _)) = self.samples.last() {
            if t_ms <= last_t {
                return;
            }
        }
        if is_stale_marker(value) {
            self.stale_times.push(t_ms);
        } else {
            if matches!(self.last_value, Some(previous) if value < previous) {
                self.reset_times.push(t_ms);
            }
            self.last_value = Some(value);
        }
        self.samples.push((t_ms, value));
    }

    /// Drops samples at or before `cutoff_ms`.
    pub(super) fn drop_before(&mut self, cutoff_ms: i64) {
        let live = &self.samples[self.head..];
        let expired = live.partition_point(|&(t, _)| t <= cutoff_ms);
        if expired == 0 {
            return;
        }
        self.head += expired;
        drop_times_before(&mut self.stale_times, cutoff_ms);
        drop_times_before(&mut self.reset_times, cutoff_ms);
        if self.head == self.samples.len() {
            self.samples.clear();
            self.head = 0;
        } else if self.head >= COMPACT_MIN && self.head * 2 >= self.samples.len() {
            self.samples.drain(..self.head);
            self.head = 0;
        }
    }

    /// The latest sample at or before `t_ms` and after `t_ms - lookback_ms`,
    /// stale marker included.
    pub fn latest_at(&self, t_ms: i64, lookback_ms: i64) -> Option<(i64, f64)> {
        let live = self.samples();
        let end = live.partition_point(|&(t, _)| t <= t_ms);
        let sample = *live.get(end.checked_sub(1)?)?;
        (sample.0 > t_ms - lookback_ms).then_some(sample)
    }

    /// The samples in the left-open window `(start_ms, end_ms]`.
    pub fn window(&self, start_ms: i64, end_ms: i64) -> Window<'_> {
        let live = self.samples();
        let first = live.partition_point(|&(t, _)| t <= start_ms);
        let last = live.partition_point(|&(t, _)| t <= end_ms);
        let samples = &live[first..last.max(first)];
        let (Some(&(first_t, _)), Some(&(last_t, _))) = (samples.first(), samples.last()) else {
            return Window { samples, has_stale: false, has_reset: false };
        };
        Window {
            samples,
            has_stale: any_time_within(&self.stale_times, first_t - 1, last_t),
            has_reset: any_time_within(&self.reset_times, first_t, last_t),
        }
    }
}

fn drop_times_before(times: &mut Vec<i64>, cutoff_ms: i64) {
    let expired = times.partition_point(|&t| t <= cutoff_ms);
    times.drain(..expired);
}

/// Tells whether any of the sorted `times` lies in `(after, until]`.
fn any_time_within(times: &[i64], after: i64, until: i64) -> bool {
    let start = times.partition_point(|&t| t <= after);
    times.get(start).is_some_and(|&t| t <= until)
}
