//! Window state per series kept across ticks, so that range functions
//! cost O(samples that entered or left the window) per tick instead of
//! O(window).
//!
//! A sidecar evaluates every rule once per interval, so from one tick to the
//! next a window gains the samples scraped since the last tick at its right
//! edge and loses as many at its left edge. For the `*_over_time`
//! statistics, `changes`, `deriv` and `predict_linear` the state keeps
//! running compensated sums, a count of changes and the window's extreme
//! value, updated by those samples. For `rate`, `increase` and `delta` it
//! keeps the window's first and last samples, its sample count and copies
//! of the samples after the first one.
//!
//! Some updates cannot be trusted: over a stale marker, a NaN or infinite
//! value, samples dropped by the store, a window that moved back or jumped
//! past its old samples, or sums that cancelled too far. Then the caller
//! scans the whole window as before and rebuilds the state.

use super::functions::Func;
use super::range::{extrapolate, kahan_inc, WindowEdges};
use crate::store::Series;

/// How far the sum of the absolute values added to or removed from a running
/// sum may exceed the sum itself before the state is rebuilt. By Neumaier's
/// bound, a compensated sum of n terms x_i is off by at most
/// `2u|S| + O(n u^2) * sum(|x_i|)`, with u = 2^-53. With this limit and
/// fewer than 2^30 terms, the second part stays below 2^-56 |S|, so the
/// running sum is as accurate as a full scan's.
const CANCELLATION_LIMIT: f64 = 1_048_576.0;

/// Tells whether `func` has an incremental form.
pub(super) fn supports(func: Func) -> bool {
    reads_edges_only(func)
        || matches!(
            func,
            Func::AvgOverTime | Func::SumOverTime | Func::Changes | Func::MinOverTime | Func::MaxOverTime | Func::Deriv | Func::PredictLinear
        )
}

/// Tells whether `func` needs only a window's first and last samples and
/// its sample count, while the window has no counter reset.
fn reads_edges_only(func: Func) -> bool {
    matches!(func, Func::Rate | Func::Increase | Func::Delta)
}

/// The number of samples after a window's first one that the state copies,
/// so that the window's next first samples are found without reading the
/// series' buffer, where the read is usually a cache miss.
const LOOKAHEAD: usize = 8;

const _: () = assert!(LOOKAHEAD <= u8::MAX as usize, "lookahead positions are stored as u8");

/// A Kahan-Neumaier sum, as Prometheus 3 accumulates its statistics.
#[derive(Clone, Copy, Debug, Default)]
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    fn add(&mut self, value: f64) {
        (self.sum, self.compensation) = kahan_inc(value, self.sum, self.compensation);
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The state of one function over one series' window `(start_ms, end_ms]`.
///
/// Invariant while `valid`: the window held exactly the samples from `first`
/// to `last` (at least one, none of them a stale marker, all finite), and
/// every field below describes those samples.
///
/// The fields that every update reads come first, and `repr(C)` keeps
/// that order, so that a steady update of `rate` touches few cache lines.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(super) struct WindowState {
    valid: bool,
    /// Whether counter resets matter: true for `rate` and `increase`, whose
    /// windows with a reset are scanned in full.
    is_counter: bool,
    /// Whether `extreme` is the maximum (`max_over_time`) or the minimum.
    wants_max: bool,
    /// The position in `lookahead` of the copy of the sample after `first`.
    lookahead_next: u8,
    /// The number of copies from `lookahead_next` on.
    lookahead_len: u8,
    start_ms: i64,
    end_ms: i64,
    first: (i64, f64),
    last: (i64, f64),
    /// The sequence numbers of `first` and `last` in the series (see
    /// `Series::appended`).
    first_sequence: u64,
    last_sequence: u64,
    count: usize,
    /// Pairs of consecutive samples with different values.
    changes: usize,
    /// The minimum or maximum sample.
    extreme: Extreme,
    sum_y: CompensatedSum,
    /// The sum of |y| over every value added or removed since the rebuild.
    abs_y: f64,
    /// Regression sums with x in seconds since `anchor_ms`.
    anchor_ms: i64,
    sum_x: CompensatedSum,
    sum_xy: CompensatedSum,
    sum_x2: CompensatedSum,
    abs_xy: f64,
    /// Copies of the samples that follow `first`, oldest first, so that
    /// the window's next first samples are found without reading the
    /// series' buffer.
    lookahead: [(i64, f64); LOOKAHEAD],
}

impl WindowState {
    /// Moves the state to the window `(start_ms, end_ms]` of `series` and
    /// returns whether it is valid there. On `false` the caller must scan
    /// the window and call [`WindowState::rebuild`].
    pub(super) fn advance(&mut self, func: Func, series: &Series, start_ms: i64, end_ms: i64) -> bool {
        let moved_forward = start_ms >= self.start_ms && end_ms >= self.end_ms && start_ms < self.last.0;
        if !self.valid || !moved_forward {
            self.valid = false;
            return false;
        }
        self.valid = if reads_edges_only(func) {
            self.move_edges(series, start_ms, end_ms)
        } else {
            self.apply_changes(func, series, start_ms, end_ms)
        };
        self.valid
    }

    /// Adds the samples that entered the window and removes those that
    /// left it. The leaving samples come from the lookahead copies, so a
    /// steady tick reads only the newest samples of the series' buffer.
    fn apply_changes(&mut self, func: Func, series: &Series, start_ms: i64, end_ms: i64) -> bool {
        let Some((entering, entering_sequence)) = self.entering(series, end_ms) else {
            return false;
        };
        let entering = entering.as_slice();
        let mut previous = self.last.1;
        for &sample in entering {
            if !sample.1.is_finite() {
                return false;
            }
            self.add(sample, previous);
            previous = sample.1;
        }
        if let Some(&last) = entering.last() {
            self.last = last;
            self.last_sequence = entering_sequence + entering.len() as u64 - 1;
        }

        // `start_ms < last.0` of the old window, which `advance` checked,
        // makes every leaving sample an old one, and the window keeps at
        // least the old last sample.
        let mut extreme_left = false;
        while self.first.0 <= start_ms {
            let old = self.first;
            if !self.move_first(series) {
                return false;
            }
            extreme_left |= old.0 == self.extreme.sample.0;
            self.remove(old, self.first.1);
        }
        self.start_ms = start_ms;
        self.end_ms = end_ms;

        if extreme_left && matches!(func, Func::MinOverTime | Func::MaxOverTime) {
            let window = series.samples_from(self.first_sequence).and_then(|samples| samples.get(..self.window_len()));
            let Some(window) = window.filter(|window| !window.is_empty()) else {
                return false;
            };
            self.extreme = extreme_of(window, self.wants_max);
        }
        // The store may have pruned samples that the state still counts.
        let clean = series.is_clean_between(self.first.0, self.last.0, false);
        clean && self.count == self.window_len() && self.sums_are_accurate(func, end_ms.saturating_sub(start_ms))
    }

    /// Returns the samples after `last` up to `end_ms` with the sequence
    /// number of the first of them, or `None` when the store dropped
    /// `last`. When the series' latest sample is at or before `end_ms`,
    /// which is the case at every tick that evaluates at the latest scrape,
    /// they are found by sequence number instead of by a search.
    fn entering<'a>(&self, series: &'a Series, end_ms: i64) -> Option<(Entering<'a>, u64)> {
        let latest = series.last_sample()?;
        let next_sequence = self.last_sequence + 1;
        if latest.0 <= end_ms && series.appended() == next_sequence + 1 {
            // Only the latest sample entered, which the series keeps a copy
            // of beside its buffer.
            return Some((Entering::Latest(latest), next_sequence));
        }
        if latest.0 <= end_ms {
            return Some((Entering::Buffered(series.samples_from(next_sequence)?), next_sequence));
        }
        let window = series.window(self.last.0, end_ms);
        Some((Entering::Buffered(window.samples), window.first_sequence))
    }

    /// Moves `first` to the next sample, from the lookahead copies, which
    /// are refilled from the series when empty. Returns false when the
    /// store dropped the next sample or none follows.
    fn move_first(&mut self, series: &Series) -> bool {
        if self.lookahead_len == 0 && !self.refill_lookahead(series) {
            return false;
        }
        self.first = self.lookahead[usize::from(self.lookahead_next)];
        self.first_sequence += 1;
        self.lookahead_next += 1;
        self.lookahead_len -= 1;
        true
    }

    /// Moves `first`, `last` and `count` to the new window, taking the new
    /// first sample from the lookahead copies. In a steady tick, where the
    /// window ends at or after the series' latest sample, this reads no
    /// sample buffer except to refill the copies every `LOOKAHEAD` samples.
    fn move_edges(&mut self, series: &Series, start_ms: i64, end_ms: i64) -> bool {
        if !self.move_last(series, end_ms) {
            return false;
        }
        while self.first.0 <= start_ms {
            if !self.move_first(series) {
                return false;
            }
        }
        self.start_ms = start_ms;
        self.end_ms = end_ms;
        self.count = self.window_len();
        // The store may have pruned the samples the copies stand for, or
        // marked a reset or a stale sample among the new ones.
        series.is_clean_between(self.first.0, self.last.0, self.is_counter)
    }

    /// Moves `last` to the latest sample at or before `end_ms`. The store
    /// appends samples in time order, so when the series' latest sample is
    /// at or before `end_ms`, every sample after the old `last` entered the
    /// window and the latest is the new `last`.
    fn move_last(&mut self, series: &Series, end_ms: i64) -> bool {
        let Some(latest) = series.last_sample() else {
            return false;
        };
        if latest.0 <= end_ms {
            self.last = latest;
            self.last_sequence = series.appended().saturating_sub(1);
            return true;
        }
        let entering = series.window(self.last.0, end_ms);
        if let Some(&last) = entering.samples.last() {
            self.last = last;
            self.last_sequence = entering.first_sequence + entering.samples.len() as u64 - 1;
        }
        true
    }

    /// Copies the samples after `first` into the lookahead. Returns false
    /// when the store dropped them or none follows.
    fn refill_lookahead(&mut self, series: &Series) -> bool {
        let Some(following) = series.samples_from(self.first_sequence + 1) else {
            return false;
        };
        self.copy_lookahead(following);
        self.lookahead_len > 0
    }

    /// Returns the number of samples from `first` to `last`, all of which
    /// the window contains while the state is valid.
    fn window_len(&self) -> usize {
        let span = self.last_sequence.saturating_sub(self.first_sequence);
        usize::try_from(span).map_or(usize::MAX, |span| span.saturating_add(1))
    }

    /// Requests the samples that updating the state will read first from
    /// the series' buffer: by a prefetch hint for a valid state, which
    /// returns 0, and by the loads of `Series::preload_window` otherwise,
    /// which return a value to pass to `std::hint::black_box`.
    pub(super) fn preload(&self, series: &Series, start_ms: i64) -> i64 {
        if !self.valid {
            return series.preload_window(start_ms);
        }
        // The refill copies up to `LOOKAHEAD` samples, which span several
        // cache lines.
        if let Some(following) = series.samples_from(self.first_sequence + 1) {
            let copied = &following[..following.len().min(LOOKAHEAD)];
            for sample in copied.iter().step_by(4) {
                prefetch(sample);
            }
            if let Some(last) = copied.last() {
                prefetch(last);
            }
        }
        0
    }

    /// Asks the CPU to load the fields that every update reads, which lie
    /// in the state's first 80 bytes, by requesting the cache lines of the
    /// first and the last of them.
    pub(super) fn prefetch(&self) {
        prefetch(&self.valid);
        prefetch(&self.count);
    }

    /// Tells whether updating the state reads the oldest samples of the
    /// series' buffer, so that the caller loads that memory ahead for such
    /// states only.
    pub(super) fn reads_buffer(&self) -> bool {
        !(self.valid && self.lookahead_len > 0)
    }

    /// Sets the edges and the lookahead copies from the window
    /// `(start_ms, end_ms]` of `series`. Returns false when the window has
    /// no sample, a stale marker, or a counter reset that matters.
    fn fill_edges(&mut self, series: &Series, start_ms: i64, end_ms: i64) -> bool {
        let window = series.window(start_ms, end_ms);
        let samples = window.samples;
        let (Some(&first), Some(&last)) = (samples.first(), samples.last()) else {
            return false;
        };
        if window.has_stale || (self.is_counter && window.has_reset) {
            return false;
        }
        self.start_ms = start_ms;
        self.end_ms = end_ms;
        self.first = first;
        self.last = last;
        self.set_sequences(samples, window.first_sequence);
        self.count = samples.len();
        true
    }

    /// Sets the sequence numbers of the window `samples`, which start at
    /// `first_sequence`, and copies the samples after the first one.
    fn set_sequences(&mut self, samples: &[(i64, f64)], first_sequence: u64) {
        self.first_sequence = first_sequence;
        self.last_sequence = first_sequence + (samples.len() as u64).saturating_sub(1);
        self.copy_lookahead(samples.get(1..).unwrap_or(&[]));
    }

    /// Copies the first `LOOKAHEAD` of `following`, the samples after
    /// `first`.
    fn copy_lookahead(&mut self, following: &[(i64, f64)]) {
        let copied = following.len().min(LOOKAHEAD);
        self.lookahead[..copied].copy_from_slice(&following[..copied]);
        self.lookahead_next = 0;
        // `LOOKAHEAD` fits in a `u8`, as the assertion beside it checks.
        self.lookahead_len = copied as u8;
    }

    /// Counts `sample`, which follows a sample of value `previous`, into the
    /// state.
    fn add(&mut self, sample: (i64, f64), previous: f64) {
        let (t, y) = sample;
        self.count += 1;
        self.changes += usize::from(y != previous);
        self.extreme.update(sample, self.wants_max);
        self.sum_y.add(y);
        self.abs_y += y.abs();
        let x = self.x_of(t);
        self.sum_x.add(x);
        self.sum_xy.add(x * y);
        self.sum_x2.add(x * x);
        self.abs_xy += (x * y).abs();
    }

    /// Removes `sample`, which is followed by a sample of value `next`, from
    /// the state.
    fn remove(&mut self, sample: (i64, f64), next: f64) {
        let (t, y) = sample;
        self.count = self.count.saturating_sub(1);
        self.changes = self.changes.saturating_sub(usize::from(y != next));
        self.sum_y.add(-y);
        self.abs_y += y.abs();
        let x = self.x_of(t);
        self.sum_x.add(-x);
        self.sum_xy.add(-(x * y));
        self.sum_x2.add(-(x * x));
        self.abs_xy += (x * y).abs();
    }

    /// Tells whether the running sums are still close enough to a full
    /// scan's. The regression is rebuilt once its anchor lies more than a
    /// window before the window's first sample, because x values far from 0
    /// lose precision when the variance is computed.
    fn sums_are_accurate(&self, func: Func, range_ms: i64) -> bool {
        match func {
            Func::AvgOverTime | Func::SumOverTime => within_limit(self.abs_y, self.sum_y.value()),
            Func::Deriv | Func::PredictLinear => {
                let anchor_near = self.first.0.saturating_sub(self.anchor_ms) <= range_ms.max(1);
                anchor_near
                    && within_limit(self.abs_y, self.sum_y.value())
                    && within_limit(self.abs_xy, self.sum_xy.value())
                    && self.regression_is_well_conditioned()
            }
            _ => true,
        }
    }

    /// Rebuilds the state from a full window of `series`, or leaves it
    /// invalid when the window has a stale marker, a value that is not
    /// finite, or no sample.
    pub(super) fn rebuild(&mut self, func: Func, series: &Series, start_ms: i64, end_ms: i64) {
        *self = WindowState::default();
        if reads_edges_only(func) {
            self.is_counter = func != Func::Delta;
            self.valid = self.fill_edges(series, start_ms, end_ms);
            return;
        }
        let window = series.window(start_ms, end_ms);
        let samples = window.samples;
        let (Some(&first), Some(&last)) = (samples.first(), samples.last()) else {
            return;
        };
        if window.has_stale || samples.iter().any(|s| !s.1.is_finite()) {
            return;
        }
        self.start_ms = start_ms;
        self.end_ms = end_ms;
        self.first = first;
        self.last = last;
        self.set_sequences(samples, window.first_sequence);
        self.anchor_ms = first.0;
        self.wants_max = func == Func::MaxOverTime;
        self.extreme = Extreme::starting_at(first);
        let mut previous = first.1;
        for &sample in samples {
            self.add(sample, previous);
            previous = sample.1;
        }
        self.valid = true;
    }

    /// Returns the function's value over the state's window, as
    /// `range::apply` computes it from the samples. `range_ms` is the
    /// window's length, which its start only gives when not clamped.
    pub(super) fn result(&self, func: Func, param: f64, ts: i64, range_ms: i64) -> Option<f64> {
        let n = self.count as f64;
        match func {
            Func::Rate | Func::Increase | Func::Delta => (self.count >= 2).then(|| {
                let edges = WindowEdges { first: self.first, last: self.last, count: self.count };
                let change = self.last.1 - self.first.1;
                let is_counter = func != Func::Delta;
                extrapolate(edges, change, self.end_ms, range_ms, is_counter, func == Func::Rate)
            }),
            Func::AvgOverTime => Some(self.sum_y.value() / n),
            Func::SumOverTime => Some(self.sum_y.value()),
            Func::Changes => Some(self.changes as f64),
            Func::MinOverTime | Func::MaxOverTime => Some(self.extreme.sample.1),
            Func::Deriv => (self.count >= 2).then(|| self.slope()),
            Func::PredictLinear => (self.count >= 2).then(|| {
                let slope = self.slope();
                // The intercept at `ts`, as Prometheus regresses on times
                // relative to the evaluation time.
                let intercept = if self.changes == 0 {
                    self.first.1
                } else {
                    let mean_x_at_ts = self.sum_x.value() / n - self.x_of(ts);
                    self.sum_y.value() / n - slope * mean_x_at_ts
                };
                slope * param + intercept
            }),
            _ => None,
        }
    }

    /// The least-squares slope; 0 for a constant series, as Prometheus
    /// returns (the values are finite here).
    fn slope(&self) -> f64 {
        if self.changes == 0 {
            return 0.0;
        }
        let n = self.count as f64;
        let (sum_x, sum_y) = (self.sum_x.value(), self.sum_y.value());
        let cov_xy = self.sum_xy.value() - sum_x * sum_y / n;
        let var_x = self.sum_x2.value() - sum_x * sum_x / n;
        cov_xy / var_x
    }

    /// Tells whether the covariance and variance keep enough of the sums'
    /// bits for the slope to match a full scan within relative 1e-6. Each
    /// product x * y is rounded before it is summed, by up to 2^-53 of its
    /// size, and those errors differ between this state's anchor and the
    /// full scan's. Where the covariance is below 2^-28 of the summed
    /// |x * y|, both results are mostly rounding noise, so the full scan is
    /// used to return the same noise as Prometheus.
    fn regression_is_well_conditioned(&self) -> bool {
        if self.changes == 0 {
            return true;
        }
        let n = self.count as f64;
        let (sum_x, sum_y) = (self.sum_x.value(), self.sum_y.value());
        let cov_xy = self.sum_xy.value() - sum_x * sum_y / n;
        let var_x = self.sum_x2.value() - sum_x * sum_x / n;
        const MIN_RATIO: f64 = 1.0 / 268_435_456.0;
        cov_xy.abs() >= MIN_RATIO * self.abs_xy && var_x >= MIN_RATIO * self.sum_x2.value()
    }

    fn x_of(&self, t_ms: i64) -> f64 {
        t_ms.saturating_sub(self.anchor_ms) as f64 / 1000.0
    }

}

/// The samples that entered a window since the previous tick.
enum Entering<'a> {
    /// Only the series' latest sample, copied from beside its buffer.
    Latest((i64, f64)),
    Buffered(&'a [(i64, f64)]),
}

impl Entering<'_> {
    fn as_slice(&self) -> &[(i64, f64)] {
        match self {
            Entering::Latest(sample) => std::slice::from_ref(sample),
            Entering::Buffered(samples) => samples,
        }
    }
}

/// The minimum or maximum of a window, updated sample by sample as
/// Prometheus's scan is, which keeps the first of equal values: that
/// matters only for 0 and -0, which compare equal.
#[derive(Clone, Copy, Debug, Default)]
struct Extreme {
    sample: (i64, f64),
    /// Whether a sample equal to `sample` but with other bits (a zero of the
    /// other sign) came after it. Until then the newest sample with the same
    /// bits is kept, so that a constant series keeps its extreme while
    /// samples leave; from then on the oldest is kept.
    other_sign_seen: bool,
}

impl Extreme {
    fn starting_at(sample: (i64, f64)) -> Extreme {
        Extreme { sample, other_sign_seen: false }
    }

    /// Counts in `sample`, newer than every sample before it; `max` picks
    /// the maximum.
    fn update(&mut self, sample: (i64, f64), max: bool) {
        let (value, extreme) = (sample.1, self.sample.1);
        let beyond = if max { value > extreme } else { value < extreme };
        if beyond {
            *self = Extreme::starting_at(sample);
        } else if value.to_bits() == extreme.to_bits() {
            if !self.other_sign_seen {
                self.sample = sample;
            }
        } else if value == extreme {
            self.other_sign_seen = true;
        }
    }
}

/// Returns the extreme of the non-empty, finite `samples`, the maximum when
/// `max` is set.
fn extreme_of(samples: &[(i64, f64)], max: bool) -> Extreme {
    let Some((&first, rest)) = samples.split_first() else {
        return Extreme::starting_at((0, f64::NAN));
    };
    let mut extreme = Extreme::starting_at(first);
    for &sample in rest {
        extreme.update(sample, max);
    }
    extreme
}

/// Tells whether a running sum with `abs_total` of absolute terms is still
/// accurate; see [`CANCELLATION_LIMIT`].
fn within_limit(abs_total: f64, sum: f64) -> bool {
    abs_total <= CANCELLATION_LIMIT * sum.abs()
}

/// Asks the CPU to load the cache line of `value` without waiting for it.
#[cfg(target_arch = "x86_64")]
fn prefetch<T>(value: &T) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has. A
    // prefetch is only a hint: it never faults and changes no memory, and
    // the pointer comes from a live reference anyway.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast()) };
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch<T>(_value: &T) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Expr, TickCache};
    use crate::labels::Labels;
    use crate::store::{Store, STALE_MARKER};

    const S: i64 = 1_000;

    fn series_labels(kind: &str) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("kind", kind)])
    }

    /// The value of each test series at second `t`; `None` appends nothing.
    fn value_at(kind: &str, t: i64) -> Option<f64> {
        let wobble = ((t * 7) % 13) as f64;
        Some(match kind {
            "gauge" => 100.0 + wobble / 10.0,
            "counter" => (t * t) as f64 * 0.5,
            "constant" => 3.0,
            "large" => 1e15 + wobble,
            "cancelling" if t % 2 == 0 => 1e17,
            "cancelling" => -1e17 + 1.0,
            "zeros" if t % 3 == 0 => -0.0,
            "zeros" => 0.0,
            "nan" if t == 40 => f64::NAN,
            "nan" => wobble,
            "stale" if t == 50 => STALE_MARKER,
            "stale" => wobble,
            "gap" if (30..45).contains(&t) => return None,
            "gap" => wobble * 2.0,
            "decreasing" => 1000.0 - t as f64,
            _ => return None,
        })
    }

    const KINDS: [&str; 11] = ["gauge", "counter", "constant", "large", "cancelling", "zeros", "nan", "stale", "gap", "decreasing", "sparse"];

    fn append_second(store: &mut Store, t: i64) {
        for kind in KINDS {
            let value = if kind == "sparse" { (t % 7 == 0).then_some(t as f64) } else { value_at(kind, t) };
            if let Some(value) = value {
                store.append(&series_labels(kind), t * S, value);
            }
        }
    }

    fn same(actual: f64, expected: f64, exact: bool) -> bool {
        if actual.is_nan() || expected.is_nan() {
            return actual.is_nan() && expected.is_nan();
        }
        if exact {
            return actual.to_bits() == expected.to_bits();
        }
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1e-300)
    }

    /// Evaluates `source` each second with a cache kept across ticks, as the
    /// engine does, and compares every result with a full scan.
    fn check_against_full_scan(source: &str, exact: bool) {
        check_every(source, exact, 1);
    }

    /// Evaluates `source` every `step_s` seconds, so that `step_s` samples
    /// enter each window between ticks, and compares as
    /// [`check_against_full_scan`] does.
    fn check_every(source: &str, exact: bool, step_s: i64) {
        let expr = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        let mut store = Store::new(70 * S);
        let mut cache = TickCache::new();
        for t in 0..150 {
            append_second(&mut store, t);
            if t % step_s != 0 {
                continue;
            }
            let incremental = expr.eval_with(&store, t * S, &mut cache).expect("evaluates with the cache");
            let full = expr.eval(&store, t * S).expect("evaluates");
            let incremental_labels: Vec<&Labels> = incremental.iter().map(|(l, _)| l).collect();
            let full_labels: Vec<&Labels> = full.iter().map(|(l, _)| l).collect();
            assert_eq!(incremental_labels, full_labels, "{source} at {t} s");
            for ((labels, actual), (_, expected)) in incremental.iter().zip(&full) {
                assert!(same(*actual, *expected, exact), "{source} at {t} s for {labels:?}: {actual} != {expected}");
            }
        }
    }

    #[test]
    fn avg_over_time_matches_full_scan() {
        check_against_full_scan("avg_over_time(m[20s])", false);
    }

    #[test]
    fn sum_over_time_matches_full_scan() {
        check_against_full_scan("sum_over_time(m[20s])", false);
    }

    #[test]
    fn changes_matches_full_scan() {
        check_against_full_scan("changes(m[20s])", true);
    }

    #[test]
    fn min_over_time_matches_full_scan() {
        check_against_full_scan("min_over_time(m[20s])", true);
    }

    #[test]
    fn max_over_time_matches_full_scan() {
        check_against_full_scan("max_over_time(m[20s])", true);
    }

    #[test]
    fn deriv_matches_full_scan() {
        check_against_full_scan("deriv(m[20s])", false);
    }

    #[test]
    fn predict_linear_matches_full_scan() {
        check_against_full_scan("predict_linear(m[20s], 600)", false);
    }

    #[test]
    fn rate_matches_full_scan() {
        check_against_full_scan("rate(m[20s])", true);
    }

    #[test]
    fn increase_matches_full_scan() {
        check_against_full_scan("increase(m[20s])", true);
    }

    #[test]
    fn delta_matches_full_scan() {
        check_against_full_scan("delta(m[20s])", true);
    }

    #[test]
    fn rate_of_long_window_matches_full_scan() {
        // Longer than the lookahead, so the first sample is found again
        // in the buffer every few ticks.
        check_against_full_scan("rate(m[50s])", true);
    }

    #[test]
    fn offset_window_matches_full_scan() {
        check_against_full_scan("avg_over_time(m[30s] offset 10s)", false);
    }

    #[test]
    fn offset_rate_matches_full_scan() {
        // The window ends before the latest sample, so its new last sample
        // is found by a search instead of by sequence number.
        check_against_full_scan("rate(m[30s] offset 10s)", true);
    }

    #[test]
    fn offset_max_matches_full_scan() {
        check_against_full_scan("max_over_time(m[30s] offset 10s)", true);
    }

    #[test]
    fn sparse_ticks_match_full_scan() {
        // Three samples enter and leave each window between ticks.
        for source in ["rate(m[20s])", "changes(m[20s])", "min_over_time(m[20s])", "max_over_time(m[50s])"] {
            check_every(source, true, 3);
        }
        for source in ["avg_over_time(m[20s])", "deriv(m[20s])", "predict_linear(m[50s], 60)"] {
            check_every(source, false, 3);
        }
    }

    #[test]
    fn ticks_longer_than_lookahead_match_full_scan() {
        // More samples leave each window than the lookahead copies.
        let step_s = LOOKAHEAD as i64 + 3;
        check_every("increase(m[40s])", true, step_s);
        check_every("sum_over_time(m[40s])", false, step_s);
    }

    #[test]
    fn latest_sample_functions_match_full_scan() {
        // These read the series' latest samples instead of the window when
        // the window ends at the latest sample, and scan it otherwise.
        for function in ["last_over_time", "present_over_time", "irate", "idelta", "resets"] {
            check_against_full_scan(&format!("{function}(m[20s])"), true);
            check_against_full_scan(&format!("{function}(m[20s] offset 5s)"), true);
            check_every(&format!("{function}(m[3s])"), true, 4);
        }
    }

    #[test]
    fn aggregated_shared_results_match_full_scan() {
        // Aggregations read these from the tick's shared results without
        // building samples.
        let sources = [
            "sum(rate(m[20s]))",
            "sum by (kind) (increase(m[20s]))",
            "count without (kind) (resets(m[20s]))",
            "max by (__name__) (last_over_time(m[20s]))",
            "min by (__name__) (irate(m[20s]))",
            "group by (kind) (changes(m[20s]))",
            "quantile(0.5, count_over_time(m[20s]))",
        ];
        for source in sources {
            check_against_full_scan(source, true);
        }
        for source in ["avg(delta(m[20s]))", "stddev(sum_over_time(m[20s]))", "stdvar by (kind) (avg_over_time(m[20s]))"] {
            check_against_full_scan(source, false);
        }
    }

    #[test]
    fn functions_sharing_state_match_full_scan() {
        // Each pair keeps one window state per series; the second function
        // of a pair finds it already moved to the tick's window.
        let pairs = [
            ("rate(m[20s]) + increase(m[20s])", true),
            ("increase(m[20s]) - rate(m[20s])", true),
            ("sum_over_time(m[20s]) / avg_over_time(m[20s])", false),
            ("predict_linear(m[20s], 60) - deriv(m[20s]) - predict_linear(m[20s], 5)", false),
        ];
        for (source, exact) in pairs {
            check_against_full_scan(source, exact);
            check_every(source, exact, 3);
        }
    }

    #[test]
    fn kept_group_caches_match_fresh_parse() {
        // One expression keeps its aggregation and matching groups across
        // evaluations, keyed by series position and by label pairs. A
        // freshly parsed one starts without them.
        let sources = [
            "sum by (kind) (m) / on (kind) group_left sum by (kind) (rate(m[20s]))",
            "max by (kind) (m) > bool ignoring (kind) group_left min(m)",
            "sum by (v) (count_values(\"v\", round(m / 100)))",
            "count by (kind) (sum by (kind, v) (count_values without (kind) (\"v\", round(m / 100))))",
        ];
        for source in sources {
            let kept = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
            let mut store = Store::new(70 * S);
            for t in 0..80 {
                append_second(&mut store, t);
                let fresh = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
                let expected = fresh.eval(&store, t * S).map_err(|e| e.message);
                let actual = kept.eval(&store, t * S).map_err(|e| e.message);
                let same = match (&actual, &expected) {
                    (Ok(actual), Ok(expected)) => {
                        actual.len() == expected.len()
                            && actual.iter().zip(expected).all(|(a, e)| a.0 == e.0 && same(a.1, e.1, true))
                    }
                    _ => actual == expected,
                };
                assert!(same, "{source} at {t} s: {actual:?} != {expected:?}");
            }
        }
    }

    #[test]
    fn prefetch_leaves_sample_unchanged() {
        let samples = vec![(1_000, 2.5), (2_000, 3.5)];
        prefetch(&samples[1]);
        assert_eq!(samples, vec![(1_000, 2.5), (2_000, 3.5)]);
    }

    fn gauge_store(until_s: i64, retention_s: i64) -> (Store, Labels) {
        let mut store = Store::new(retention_s * S);
        let labels = series_labels("gauge");
        for t in 0..=until_s {
            store.append(&labels, t * S, value_at("gauge", t).unwrap_or(0.0));
        }
        (store, labels)
    }

    #[test]
    fn advance_keeps_state_of_clean_series() {
        let (mut store, labels) = gauge_store(100, 1_000);
        let mut state = WindowState::default();
        let series = store.series(&labels).expect("series exists");
        state.rebuild(Func::AvgOverTime, series, 80 * S, 100 * S);
        store.append(&labels, 101 * S, 1.0);
        let series = store.series(&labels).expect("series exists");
        assert!(state.advance(Func::AvgOverTime, series, 81 * S, 101 * S));
    }

    #[test]
    fn advance_moves_rate_edges_past_lookahead() {
        let mut store = Store::new(1_000 * S);
        let labels = series_labels("counter");
        for t in 0..=100 {
            store.append(&labels, t * S, t as f64);
        }
        let mut state = WindowState::default();
        state.rebuild(Func::Rate, store.series(&labels).expect("series exists"), 80 * S, 100 * S);
        for t in 101..=110 {
            store.append(&labels, t * S, t as f64);
            let series = store.series(&labels).expect("series exists");
            assert!(state.advance(Func::Rate, series, (t - 20) * S, t * S), "at {t} s");
        }
    }

    #[test]
    fn advance_rejects_rate_after_reset() {
        let mut store = Store::new(1_000 * S);
        let labels = series_labels("counter");
        for t in 0..=100 {
            store.append(&labels, t * S, t as f64);
        }
        let mut state = WindowState::default();
        state.rebuild(Func::Rate, store.series(&labels).expect("series exists"), 80 * S, 100 * S);
        store.append(&labels, 101 * S, 0.0);
        let series = store.series(&labels).expect("series exists");
        assert!(!state.advance(Func::Rate, series, 81 * S, 101 * S));
    }

    #[test]
    fn advance_rejects_window_moved_back() {
        let (store, labels) = gauge_store(100, 1_000);
        let series = store.series(&labels).expect("series exists");
        let mut state = WindowState::default();
        state.rebuild(Func::AvgOverTime, series, 80 * S, 100 * S);
        assert!(!state.advance(Func::AvgOverTime, series, 79 * S, 99 * S));
    }

    #[test]
    fn advance_rejects_pruned_samples() {
        let (mut store, labels) = gauge_store(100, 30);
        let mut state = WindowState::default();
        let series = store.series(&labels).expect("series exists");
        state.rebuild(Func::AvgOverTime, series, 75 * S, 100 * S);
        // The retention of 30 s drops the samples up to 80 s, which the
        // state still counts.
        store.append(&labels, 110 * S, 1.0);
        let series = store.series(&labels).expect("series exists");
        assert!(!state.advance(Func::AvgOverTime, series, 76 * S, 110 * S));
    }

    #[test]
    fn advance_rejects_stale_marker() {
        let (mut store, labels) = gauge_store(100, 1_000);
        let mut state = WindowState::default();
        let series = store.series(&labels).expect("series exists");
        state.rebuild(Func::AvgOverTime, series, 80 * S, 100 * S);
        store.append(&labels, 101 * S, STALE_MARKER);
        let series = store.series(&labels).expect("series exists");
        assert!(!state.advance(Func::AvgOverTime, series, 81 * S, 101 * S));
    }

    #[test]
    fn rebuild_leaves_nan_window_invalid() {
        let (mut store, labels) = gauge_store(100, 1_000);
        store.append(&labels, 101 * S, f64::NAN);
        store.append(&labels, 102 * S, 1.0);
        let series = store.series(&labels).expect("series exists");
        let mut state = WindowState::default();
        state.rebuild(Func::MaxOverTime, series, 82 * S, 102 * S);
        assert!(!state.advance(Func::MaxOverTime, series, 82 * S, 102 * S));
    }
}
