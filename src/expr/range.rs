//! Functions over range vectors, following Prometheus 3's `functions.go`:
//! the same extrapolation for `rate`, `increase` and `delta`, and the same
//! compensated (Kahan-Neumaier) sums for the `*_over_time` statistics.

use super::eval::{internal, Evaluator};
use super::functions::{absent_sample, go_max, Func};
use super::plan::Node;
use super::value::{Matrix, Origin, RangeSeries, Sample, Value};
use super::ExprError;
use crate::store::{is_stale_marker, Series};

/// Evaluates a function with a range-vector argument: the second one for
/// `quantile_over_time`, else the first.
pub fn call<'s>(ev: &Evaluator<'s>, func: Func, args: &[Node], ts: i64) -> Result<Value<'s>, ExprError> {
    let (matrix_node, scalar) = match func {
        Func::QuantileOverTime => (args.get(1), Some(ev.scalar(first(args)?, ts)?)),
        Func::PredictLinear => (args.first(), Some(ev.scalar(args.get(1).ok_or_else(|| internal("missing argument"))?, ts)?)),
        _ => (args.first(), None),
    };
    let matrix_node = matrix_node.ok_or_else(|| internal("missing range argument"))?;
    let param = scalar.unwrap_or(f64::NAN);
    if let Node::Range { selector, range_ms } = matrix_node {
        if func != Func::AbsentOverTime {
            if let Some(samples) = ev.shared_range_call(func, param, selector, *range_ms, ts) {
                return Ok(Value::Vector(samples));
            }
        }
    }
    let matrix = ev.matrix(matrix_node, ts)?;

    if func == Func::AbsentOverTime {
        let absent = matrix.series.is_empty();
        return Ok(Value::Vector(if absent { vec![absent_sample(matrix_node, ts)] } else { Vec::new() }));
    }

    let mut out = Vec::with_capacity(matrix.series.len());
    for series in &matrix.series {
        if let Some(value) = apply(func, series, &matrix, param, ts) {
            out.push(Sample {
                labels: series.labels.clone(),
                origin: series.origin,
                // last_over_time returns the selected sample itself and keeps
                // the metric name; every other range function drops it.
                drop_name: series.drop_name || func != Func::LastOverTime,
                value,
                t_ms: ts,
            });
        }
    }
    Ok(Value::Vector(out))
}

/// Tells whether [`visit_shared`] can evaluate `func(args)`: a range
/// function with one range-selector argument whose selector has a metric
/// name.
pub fn visits_shared(func: Func, args: &[Node]) -> bool {
    let one_range_argument = matches!(
        func,
        Func::Rate
            | Func::Irate
            | Func::Increase
            | Func::Delta
            | Func::Idelta
            | Func::Deriv
            | Func::Resets
            | Func::Changes
            | Func::AvgOverTime
            | Func::MinOverTime
            | Func::MaxOverTime
            | Func::SumOverTime
            | Func::CountOverTime
            | Func::LastOverTime
            | Func::StddevOverTime
            | Func::StdvarOverTime
            | Func::PresentOverTime
    );
    matches!(args, [Node::Range { selector, .. }] if one_range_argument && selector.name.is_some())
}

/// Passes each series' result of `func(args)`, which [`visits_shared`]
/// accepts, to `visit` in the order of the samples that [`call`] returns,
/// through the tick's shared results. Returns `None`, having visited
/// nothing, when those cannot be used; then the caller evaluates the call.
pub fn visit_shared<'s>(ev: &Evaluator<'s>, func: Func, args: &[Node], ts: i64, visit: impl FnMut(Origin<'s>, f64)) -> Option<()> {
    let [Node::Range { selector, range_ms }] = args else {
        return None;
    };
    if !visits_shared(func, args) {
        return None;
    }
    ev.visit_shared_range_call(func, f64::NAN, selector, *range_ms, ts, visit)
}

fn first(args: &[Node]) -> Result<&Node, ExprError> {
    args.first().ok_or_else(|| internal("missing argument"))
}

/// Computes one series' result; `None` leaves the series out.
pub(super) fn apply(func: Func, series: &RangeSeries<'_>, matrix: &Matrix<'_>, param: f64, ts: i64) -> Option<f64> {
    let samples: &[(i64, f64)] = &series.samples;
    let values = || samples.iter().map(|&(_, v)| v);
    let &(_, last) = samples.last()?;
    match func {
        Func::Rate => extrapolated_rate(series, matrix, true, true),
        Func::Increase => extrapolated_rate(series, matrix, true, false),
        Func::Delta => extrapolated_rate(series, matrix, false, false),
        Func::Irate => instant_delta(samples, true),
        Func::Idelta => instant_delta(samples, false),
        Func::Deriv => (samples.len() >= 2).then(|| linear_regression(samples, samples[0].0).0),
        Func::PredictLinear => (samples.len() >= 2).then(|| {
            let (slope, intercept) = linear_regression(samples, ts);
            slope * param + intercept
        }),
        // The store's reset index found no reset in this window.
        Func::Resets if !series.may_reset => Some(0.0),
        Func::Resets => Some(count_pairs(samples, |prev, cur| cur < prev)),
        Func::Changes => Some(count_pairs(samples, |prev, cur| !(cur == prev || (cur.is_nan() && prev.is_nan())))),
        Func::AvgOverTime => Some(average(values())),
        Func::SumOverTime => Some(kahan_sum(values())),
        Func::CountOverTime => Some(samples.len() as f64),
        Func::LastOverTime => Some(last),
        Func::PresentOverTime => Some(1.0),
        Func::MinOverTime => Some(values().fold(samples[0].1, |m, v| if v < m || m.is_nan() { v } else { m })),
        Func::MaxOverTime => Some(values().fold(samples[0].1, |m, v| if v > m || m.is_nan() { v } else { m })),
        Func::QuantileOverTime => Some(quantile(param, values().collect())),
        Func::StdvarOverTime => Some(variance(values())),
        Func::StddevOverTime => Some(variance(values()).sqrt()),
        _ => None,
    }
}

/// Computes `rate`, `increase` and `delta`: the change over the window,
/// corrected for counter resets and extrapolated to the window edges. A gap
/// to an edge of at least 1.1 average sample intervals is extrapolated by
/// half an interval only, and a counter never back past its zero point.
fn extrapolated_rate(series: &RangeSeries<'_>, matrix: &Matrix<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let samples: &[(i64, f64)] = &series.samples;
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let first_v = first.1;
    let mut result = last.1 - first_v;
    if is_counter && series.may_reset {
        let mut previous = first_v;
        for &(_, value) in &samples[1..] {
            if value < previous {
                result += previous;
            }
            previous = value;
        }
    }
    let edges = WindowEdges { first, last, count: samples.len() };
    Some(extrapolate(edges, result, matrix.end_ms, matrix.range_ms, is_counter, is_rate))
}

/// A window's first and last samples and its number of samples.
#[derive(Clone, Copy, Debug)]
pub(super) struct WindowEdges {
    pub first: (i64, f64),
    pub last: (i64, f64),
    /// At least 2.
    pub count: usize,
}

/// Extrapolates `result`, the change over the samples of `edges` corrected
/// for counter resets, to the window `(end_ms - range_ms, end_ms]`, as
/// [`extrapolated_rate`] describes.
pub(super) fn extrapolate(edges: WindowEdges, result: f64, end_ms: i64, range_ms: i64, is_counter: bool, is_rate: bool) -> f64 {
    let (first_t, first_v) = edges.first;
    let (last_t, _) = edges.last;
    let range_start = end_ms.saturating_sub(range_ms);
    // Exact for any difference that fits i64, and no overflow beyond.
    let seconds_between = |from: i64, to: i64| to.checked_sub(from).map_or(to as f64 - from as f64, |d| d as f64) / 1000.0;
    let mut duration_to_start = seconds_between(range_start, first_t);
    let mut duration_to_end = seconds_between(last_t, end_ms);
    let sampled_interval = seconds_between(first_t, last_t);
    let average_interval = sampled_interval / (edges.count - 1) as f64;
    let threshold = average_interval * 1.1;

    if duration_to_start >= threshold {
        duration_to_start = average_interval / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_interval / 2.0;
    }

    let mut factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    result * factor
}

/// Tells whether `func` reads only a window's newest samples, or only
/// whether it has a stale marker or a reset, so that
/// [`from_latest_samples`] computes it on most windows.
pub(super) fn reads_latest_only(func: Func) -> bool {
    matches!(func, Func::LastOverTime | Func::PresentOverTime | Func::Irate | Func::Idelta | Func::Resets)
}

/// Computes a function that [`reads_latest_only`] over the window
/// `(start_ms, end_ms]` of `series` from its latest samples, without a
/// window search. Returns `None` when that cannot be done: the window ends
/// before the latest sample, the samples read include a stale marker, or
/// `resets` has a reset or a stale marker to count in the window. Then
/// the caller scans the window.
pub(super) fn from_latest_samples(func: Func, series: &Series, start_ms: i64, end_ms: i64) -> Option<Option<f64>> {
    let latest = series.last_sample()?;
    if latest.0 > end_ms || is_stale_marker(latest.1) {
        return None;
    }
    if latest.0 <= start_ms {
        // The window contains no sample.
        return Some(None);
    }
    match func {
        Func::LastOverTime => Some(Some(latest.1)),
        Func::PresentOverTime => Some(Some(1.0)),
        Func::Resets if series.has_stale_or_reset_within(start_ms, end_ms) => None,
        Func::Resets => Some(Some(0.0)),
        Func::Irate | Func::Idelta => {
            let [.., previous, last] = *series.samples() else {
                return None;
            };
            if is_stale_marker(previous.1) {
                return None;
            }
            if previous.0 <= start_ms {
                // One sample in the window gives no result.
                return Some(None);
            }
            Some(instant_delta(&[previous, last], func == Func::Irate))
        }
        _ => None,
    }
}

/// `irate` and `idelta`: from the last two samples.
fn instant_delta(samples: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    let [.., (previous_t, previous_v), (last_t, last_v)] = *samples else {
        return None;
    };
    let mut result = if is_rate && last_v < previous_v { last_v } else { last_v - previous_v };
    let interval_ms = last_t.saturating_sub(previous_t);
    if interval_ms == 0 {
        return None;
    }
    if is_rate {
        result /= interval_ms as f64 / 1000.0;
    }
    Some(result)
}

fn count_pairs(samples: &[(i64, f64)], counts: impl Fn(f64, f64) -> bool) -> f64 {
    samples.windows(2).filter(|pair| counts(pair[0].1, pair[1].1)).count() as f64
}

/// Adds one value with Kahan-Neumaier compensation, as Prometheus's
/// `kahanSumInc`; returns the new sum and compensation.
pub fn kahan_inc(increment: f64, sum: f64, compensation: f64) -> (f64, f64) {
    let total = sum + increment;
    let compensation = if total.is_infinite() {
        0.0
    } else if sum.abs() >= increment.abs() {
        compensation + ((sum - total) + increment)
    } else {
        compensation + ((increment - total) + sum)
    };
    (total, compensation)
}

pub fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, compensation) = values.fold((0.0, 0.0), |(s, c), v| kahan_inc(v, s, c));
    sum + compensation
}

/// Computes the mean with a compensated sum, switching to an incremental
/// mean once the sum would overflow, as Prometheus 3's `avg_over_time` and
/// `avg` do.
pub fn average(values: impl Iterator<Item = f64>) -> f64 {
    let mut averager = Averager::default();
    for value in values {
        averager.add(value);
    }
    averager.result()
}

/// A running mean, computed as [`average`] describes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Averager {
    count: f64,
    sum: f64,
    compensation: f64,
    mean: f64,
    incremental: bool,
}

impl Averager {
    pub fn add(&mut self, value: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (sum, compensation) = kahan_inc(value, self.sum, self.compensation);
            if self.count == 1.0 || !sum.is_infinite() {
                self.sum = sum;
                self.compensation = compensation;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.compensation /= self.count - 1.0;
        }
        if self.mean.is_infinite() {
            if value.is_infinite() && (self.mean > 0.0) == (value > 0.0) {
                return;
            }
            if !value.is_infinite() && !value.is_nan() {
                return;
            }
        }
        let corrected = self.mean + self.compensation;
        let (mean, compensation) = kahan_inc(value / self.count - corrected / self.count, self.mean, self.compensation);
        self.mean = mean;
        self.compensation = compensation;
    }

    pub fn result(&self) -> f64 {
        if self.incremental {
            self.mean + self.compensation
        } else {
            (self.sum + self.compensation) / self.count
        }
    }
}

/// The population variance with Welford's method and compensated sums, as
/// Prometheus 3's `stdvar_over_time`.
fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut mean_c, mut aux, mut aux_c) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for value in values {
        count += 1.0;
        let delta = value - (mean + mean_c);
        (mean, mean_c) = kahan_inc(delta / count, mean, mean_c);
        (aux, aux_c) = kahan_inc(delta * (value - (mean + mean_c)), aux, aux_c);
    }
    (aux + aux_c) / count
}

/// Least-squares fit with x in seconds relative to `intercept_ms`; returns
/// `(slope, intercept)`. A constant series has slope 0 (NaN if infinite).
fn linear_regression(samples: &[(i64, f64)], intercept_ms: i64) -> (f64, f64) {
    let initial = samples[0].1;
    let constant = samples.iter().all(|&(_, v)| v == initial);
    if constant {
        return if initial.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, initial) };
    }
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    for &(t, y) in samples {
        n += 1.0;
        let x = (t - intercept_ms) as f64 / 1000.0;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(y, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * y, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2);
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// The `q` quantile with linear interpolation between closest ranks, as
/// Prometheus's `quantile` helper: -Inf below 0, +Inf above 1, NaN for NaN
/// or no values.
pub fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // Go's sort.Float64s orders NaN first.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = go_max(0.0, rank.floor()) as usize;
    let upper = (lower + 1).min(values.len() - 1);
    let weight = rank - rank.floor();
    values[lower] * (1.0 - weight) + values[upper] * weight
}
