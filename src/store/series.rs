//! One series' samples in time order, with the positions of stale markers and
//! counter resets so that range functions can skip scanning clean windows.

use std::sync::OnceLock;

use crate::labels::Labels;

use super::is_stale_marker;

/// Samples dropped from the front are compacted away once they are at least
/// this many and at least half of the buffer, so appends stay amortized O(1)
/// and a buffer keeps at most about twice its live samples: a series with
/// 20 live samples keeps a buffer of about 40, not of 512.
const COMPACT_MIN: usize = 16;

/// One series: its labels and its samples `(t_ms, value)` in strictly
/// increasing time order.
#[derive(Debug)]
pub struct Series {
    /// Copies of the oldest live sample's time and of the latest sample,
    /// valid while the series is not empty. Most lookups are near the
    /// newest samples, and these spare them a cache miss on the buffer.
    first_t: i64,
    last: (i64, f64),
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
    /// The number of samples ever appended, so that readers can name a
    /// sample by its sequence number: the first appended sample is 0.
    appended: u64,
    /// `labels` without `__name__`, built on first use, which PromQL
    /// functions and arithmetic return on every evaluation.
    labels_without_name: OnceLock<Labels>,
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
    /// The sequence number of the first sample (see [`Series::appended`]).
    pub first_sequence: u64,
}

impl Series {
    pub(super) fn new(labels: Labels) -> Self {
        Series {
            first_t: 0,
            last: (0, 0.0),
            labels,
            samples: Vec::new(),
            head: 0,
            stale_times: Vec::new(),
            reset_times: Vec::new(),
            last_value: None,
            appended: 0,
            labels_without_name: OnceLock::new(),
        }
    }

    /// Returns the series' labels without `__name__`, shared by every
    /// caller.
    pub fn labels_without_name(&self) -> &Labels {
        self.labels_without_name.get_or_init(|| self.labels.without_metric_name())
    }

    /// Returns the number of samples ever appended, which is also the
    /// sequence number the next appended sample gets.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// Returns the latest sample, or `None` when the series is empty,
    /// without reading the sample buffer.
    pub fn last_sample(&self) -> Option<(i64, f64)> {
        (!self.is_empty()).then_some(self.last)
    }

    /// Returns the live samples from sequence number `sequence` on, empty when
    /// `sequence` is the next to be appended, or `None` when that sample
    /// was dropped or lies further ahead.
    pub fn samples_from(&self, sequence: u64) -> Option<&[(i64, f64)]> {
        let live = self.samples();
        let oldest = self.appended.checked_sub(live.len() as u64)?;
        let offset = usize::try_from(sequence.checked_sub(oldest)?).ok()?;
        live.get(offset..)
    }

    /// Returns the sequence number of the live sample at `index` in
    /// [`Series::samples`].
    pub fn sequence_of(&self, index: usize) -> u64 {
        // Every live sample was appended, so `appended` is at least the
        // number of live samples.
        let oldest = self.appended.saturating_sub(self.samples().len() as u64);
        oldest.saturating_add(index as u64)
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
        if self.is_empty() {
            self.first_t = t_ms;
        } else if t_ms <= self.last.0 {
            return;
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
        self.last = (t_ms, value);
        self.appended += 1;
    }

    /// Drops samples at or before `cutoff_ms`.
    pub(super) fn drop_before(&mut self, cutoff_ms: i64) {
        if self.is_empty() || self.first_t > cutoff_ms {
            return;
        }
        let live = &self.samples[self.head..];
        let expired = count_expired(live, cutoff_ms);
        if expired == 0 {
            return;
        }
        self.head += expired;
        drop_times_before(&mut self.stale_times, cutoff_ms);
        drop_times_before(&mut self.reset_times, cutoff_ms);
        if self.head == self.samples.len() {
            self.samples.clear();
            self.head = 0;
            return;
        }
        self.first_t = self.samples[self.head].0;
        if self.head >= COMPACT_MIN && self.head * 2 >= self.samples.len() {
            self.samples.drain(..self.head);
            self.head = 0;
        }
    }

    /// The latest sample at or before `t_ms` and after `t_ms - lookback_ms`,
    /// stale marker included.
    pub fn latest_at(&self, t_ms: i64, lookback_ms: i64) -> Option<(i64, f64)> {
        if self.is_empty() {
            return None;
        }
        let sample = if t_ms >= self.last.0 {
            self.last
        } else {
            let live = self.samples();
            let end = count_at_or_before(live, t_ms, self.first_t, self.last.0);
            *live.get(end.checked_sub(1)?)?
        };
        (sample.0 > t_ms.saturating_sub(lookback_ms)).then_some(sample)
    }

    /// Reads the sample nearest the interpolated position of `start_ms` and
    /// the latest sample in the buffer, and returns a value derived from
    /// their times (0 for an empty series).
    ///
    /// A window search and `rate` on a large store wait for memory at the
    /// window's first and last samples. Calling this for many series before
    /// reading their windows lets the CPU load those samples in parallel
    /// instead of one after another. Callers pass the result to
    /// `std::hint::black_box` to keep the reads.
    pub fn preload_window(&self, start_ms: i64) -> i64 {
        let live = self.samples();
        let position = interpolated_position(live, start_ms, self.first_t, self.last.0);
        let start = live.get(position).map_or(0, |&(t, _)| t);
        let end = live.last().map_or(0, |&(t, _)| t);
        start ^ end
    }

    /// Tells whether all samples in `[first_ms, last_ms]` are still in the
    /// buffer and none of them is a stale marker, nor (with `check_resets`)
    /// a counter reset after `first_ms`. Reads only the stored times of
    /// stale markers and resets, not the samples.
    pub fn is_clean_between(&self, first_ms: i64, last_ms: i64, check_resets: bool) -> bool {
        let kept = !self.is_empty() && self.first_t <= first_ms;
        let stale = any_time_within(&self.stale_times, first_ms.saturating_sub(1), last_ms);
        let reset = check_resets && any_time_within(&self.reset_times, first_ms, last_ms);
        kept && !stale && !reset
    }

    /// Tells whether a stale marker or a counter reset lies in
    /// `(after_ms, until_ms]`. Reads only their stored times.
    pub fn has_stale_or_reset_within(&self, after_ms: i64, until_ms: i64) -> bool {
        any_time_within(&self.stale_times, after_ms, until_ms) || any_time_within(&self.reset_times, after_ms, until_ms)
    }

    /// The samples in the left-open window `(start_ms, end_ms]`.
    pub fn window(&self, start_ms: i64, end_ms: i64) -> Window<'_> {
        let live = self.samples();
        let (first_t, last_t) = (self.first_t, self.last.0);
        let last = count_at_or_before(live, end_ms, first_t, last_t);
        let first = count_at_or_before(live, start_ms, first_t, last_t).min(last);
        let samples = &live[first..last];
        let first_sequence = self.sequence_of(first);
        let mut window = Window { samples, has_stale: false, has_reset: false, first_sequence };
        // Most series have neither stale markers nor resets; then the
        // window's first and last samples need not be read here.
        if self.stale_times.is_empty() && self.reset_times.is_empty() {
            return window;
        }
        if let (Some(&(first_t, _)), Some(&(last_t, _))) = (samples.first(), samples.last()) {
            window.has_stale = any_time_within(&self.stale_times, first_t.saturating_sub(1), last_t);
            window.has_reset = any_time_within(&self.reset_times, first_t, last_t);
        }
        window
    }
}

/// Counts the samples at or before `t_ms`, as `partition_point` would.
///
/// Evaluation reads near the newest samples of buffers that together can
/// exceed the CPU cache, where a plain binary search pays a cache miss per
/// probe. Samples are close to evenly spaced, so the search starts at the
/// position that the time interpolates to and gallops outward from there.
/// `first_t` and `last_t` are the times of the first and last sample.
fn count_at_or_before(samples: &[(i64, f64)], t_ms: i64, first_t: i64, last_t: i64) -> usize {
    if samples.is_empty() {
        return 0;
    }
    if t_ms >= last_t {
        return samples.len();
    }
    if t_ms < first_t {
        return 0;
    }
    // first_t <= t_ms < last_t here.
    let guess = interpolated_position(samples, t_ms, first_t, last_t);
    let is_before = |i: usize| samples[i].0 <= t_ms;
    if is_before(guess) {
        // The count is above `guess`: gallop up until a sample is after t.
        let mut low = guess;
        let mut step = 1;
        loop {
            let probe = low + step;
            if probe >= samples.len() || !is_before(probe) {
                let high = probe.min(samples.len());
                return low + 1 + samples[low + 1..high].partition_point(|&(t, _)| t <= t_ms);
            }
            low = probe;
            step *= 2;
        }
    } else {
        // The count is at or below `guess`: gallop down.
        let mut high = guess;
        let mut step = 1;
        loop {
            if high < step || is_before(high - step) {
                let low = high.saturating_sub(step);
                return low + samples[low..high].partition_point(|&(t, _)| t <= t_ms);
            }
            high -= step;
            step *= 2;
        }
    }
}

/// Returns the position of `t_ms` if samples were evenly spaced between
/// `first_t` and `last_t`, clamped to the positions of `samples` (0 when
/// empty).
fn interpolated_position(samples: &[(i64, f64)], t_ms: i64, first_t: i64, last_t: i64) -> usize {
    let last_position = samples.len().saturating_sub(1);
    if t_ms <= first_t || last_t <= first_t {
        return 0;
    }
    if t_ms >= last_t {
        return last_position;
    }
    // Differences as f64, because i64 differences can overflow.
    let span = last_t as f64 - first_t as f64;
    let guess = (((t_ms as f64 - first_t as f64) / span) * last_position as f64) as usize;
    guess.min(last_position)
}

/// Counts the samples at or before `cutoff_ms`. A store pruned on every
/// scrape drops one or a few samples at a time, so the first samples are
/// checked one by one. That reads one cache line, where a binary search
/// over a cold buffer waits for memory at every probe.
fn count_expired(live: &[(i64, f64)], cutoff_ms: i64) -> usize {
    const LINEAR_PROBES: usize = 8;
    let scanned = live.iter().take(LINEAR_PROBES).take_while(|&&(t, _)| t <= cutoff_ms).count();
    if scanned < LINEAR_PROBES {
        return scanned;
    }
    LINEAR_PROBES + live[LINEAR_PROBES..].partition_point(|&(t, _)| t <= cutoff_ms)
}

fn drop_times_before(times: &mut Vec<i64>, cutoff_ms: i64) {
    if times.first().is_none_or(|&t| t > cutoff_ms) {
        return;
    }
    let expired = times.partition_point(|&t| t <= cutoff_ms);
    times.drain(..expired);
}

/// Tells whether any of the sorted `times` lies in `(after, until]`.
fn any_time_within(times: &[i64], after: i64, until: i64) -> bool {
    let start = times.partition_point(|&t| t <= after);
    times.get(start).is_some_and(|&t| t <= until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_matches_partition_point() {
        let samples: Vec<(i64, f64)> = [0, 1, 2, 7, 8, 50, 51, 52, 100, 300].iter().map(|&t| (t, 0.0)).collect();
        for t in -5..310 {
            let expected = samples.partition_point(|&(s, _)| s <= t);
            assert_eq!(count_at_or_before(&samples, t, 0, 300), expected, "t = {t}");
        }
    }

    #[test]
    fn expired_count_matches_partition_point() {
        let samples: Vec<(i64, f64)> = (0..40).map(|t| (t * 10, 0.0)).collect();
        for cutoff in -5..410 {
            let expected = samples.partition_point(|&(t, _)| t <= cutoff);
            assert_eq!(count_expired(&samples, cutoff), expected, "cutoff = {cutoff}");
        }
    }

    #[test]
    fn search_of_empty_is_zero() {
        assert_eq!(count_at_or_before(&[], 5, 0, 0), 0);
    }
}
