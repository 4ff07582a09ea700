//! The tree walk: evaluates a [`Node`] at one timestamp over the store.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use super::functions::Func;
use super::plan::{At, LabelMatcher, Node, Selector, Subquery};
use super::tick::{ResultKey, TickCache};
use super::value::{Matrix, Origin, RangeSeries, Sample, Value};
use super::incremental::{self, WindowState};
use super::{aggregate, binary, functions, range as range_fns, ExprError};
use crate::labels::{Labels, METRIC_NAME};
use crate::store::{is_stale_marker, Series, SeriesRef, Store};

/// How many series ahead of the one it reads the preload loop of
/// [`Evaluator::shared_range_call`] requests a window state, so that the
/// memory reads of about this many states overlap.
const STATE_PREFETCH_DISTANCE: usize = 8;

/// How far back an instant selector looks for the latest sample, as
/// Prometheus's default `--query.lookback-delta`.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The subquery step used when an expression gives none: Prometheus takes
/// the rule group's evaluation interval, whose default is one minute.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// The series a selector matched in one store while its set of series
/// stayed the same, so that matchers run only when series come or go.
#[derive(Debug, Default)]
pub struct SelectorCache {
    key: Option<(u64, u64)>,
    series: Vec<SeriesRef>,
}

/// The maximum number of steps one subquery evaluates, so that an expression such as
/// `x[1y:1ms]` cannot stall the evaluation loop. A day at 1-second steps
/// (86,400) fits.
pub const MAX_SUBQUERY_STEPS: i64 = 100_000;

pub fn too_many_steps(steps: i64) -> ExprError {
    ExprError {
        offset: None,
        message: format!("subquery would evaluate {steps} steps, more than andon's maximum of {MAX_SUBQUERY_STEPS}; use a longer step"),
    }
}

pub struct Evaluator<'s> {
    pub store: &'s Store,
    pub selector_cache: &'s [Mutex<SelectorCache>],
    /// The time of the whole query, which `@ start()` and `@ end()` mean.
    pub query_ms: i64,
    pub default_step_ms: i64,
    /// Range-function results shared with the other rules of the tick.
    pub tick: Option<&'s RefCell<TickCache>>,
}

impl<'s> Evaluator<'s> {
    pub fn eval(&self, node: &Node, ts: i64) -> Result<Value<'s>, ExprError> {
        match node {
            Node::Number(v) => Ok(Value::Scalar(*v)),
            Node::String(_) => Ok(Value::String),
            Node::Selector(selector) => Ok(Value::Vector(self.instant(selector, ts))),
            Node::Range { selector, range_ms } => Ok(Value::Matrix(self.range(selector, *range_ms, ts))),
            Node::Subquery(subquery) => Ok(Value::Matrix(self.subquery(subquery, ts)?)),
            Node::Call { func, args, regex } => {
                check_dropped_names(node, functions::call(self, *func, args, regex.as_ref(), ts)?)
            }
            Node::Aggregate(agg) => aggregate::aggregate(self, agg, ts),
            Node::Binary(bin) => binary::binary(self, bin, ts),
            Node::Negate(inner) => Ok(negate(self.eval(inner, ts)?)),
        }
    }

    /// Evaluates a node that the parser typed as a scalar.
    pub fn scalar(&self, node: &Node, ts: i64) -> Result<f64, ExprError> {
        match self.eval(node, ts)? {
            Value::Scalar(v) => Ok(v),
            _ => Err(internal("expected a scalar")),
        }
    }

    /// Evaluates a node that the parser typed as an instant vector.
    pub fn vector(&self, node: &Node, ts: i64) -> Result<Vec<Sample<'s>>, ExprError> {
        match self.eval(node, ts)? {
            Value::Vector(v) => Ok(v),
            _ => Err(internal("expected an instant vector")),
        }
    }

    /// Evaluates a node that the parser typed as a range vector.
    pub fn matrix(&self, node: &Node, ts: i64) -> Result<Matrix<'s>, ExprError> {
        match self.eval(node, ts)? {
            Value::Matrix(m) => Ok(m),
            _ => Err(internal("expected a range vector")),
        }
    }

    fn resolve(&self, at: Option<At>, ts: i64) -> i64 {
        match at {
            None => ts,
            Some(At::EvalTime) => self.query_ms,
            Some(At::Millis(ms)) => ms,
        }
    }

    /// Selects the latest sample in `(t - 5m, t]` of each matching series;
    /// a series whose latest sample is a stale marker is absent.
    fn instant(&self, selector: &Selector, ts: i64) -> Vec<Sample<'s>> {
        let t = self.resolve(selector.at, ts).saturating_sub(selector.offset_ms);
        self.matching_refs(selector)
            .into_iter()
            .filter_map(|(series_ref, series)| {
                let (t_ms, value) = series.latest_at(t, LOOKBACK_MS)?;
                (!is_stale_marker(value)).then(|| Sample {
                    labels: Cow::Borrowed(series.labels()),
                    origin: Some(Origin { series_ref, series }),
                    drop_name: false,
                    value,
                    t_ms,
                })
            })
            .collect()
    }

    /// Selects the samples in `(t - range, t]` of each matching series,
    /// without stale markers; series with no sample there are left out.
    fn range(&self, selector: &Selector, range_ms: i64, ts: i64) -> Matrix<'s> {
        let end_ms = self.resolve(selector.at, ts).saturating_sub(selector.offset_ms);
        let series = self
            .matching_refs(selector)
            .into_iter()
            .filter_map(|(series_ref, series)| range_series(Origin { series_ref, series }, end_ms.saturating_sub(range_ms), end_ms))
            .collect();
        Matrix { series, end_ms, range_ms }
    }

    /// Applies the range function `func` to `selector[range_ms]` through the
    /// tick's shared results, computing only those of series that no other
    /// rule of the tick has read with the same function and window. Returns
    /// `None` when the call cannot be shared: without a tick cache, or inside
    /// a subquery, whose steps are at other times than the query's.
    pub fn shared_range_call(
        &self,
        func: Func,
        param: f64,
        selector: &Selector,
        range_ms: i64,
        ts: i64,
    ) -> Option<Vec<Sample<'s>>> {
        let mut out = Vec::new();
        self.visit_shared_range_call(func, param, selector, range_ms, ts, |origin, value| {
            out.push(Sample {
                labels: Cow::Borrowed(origin.series.labels()),
                origin: Some(origin),
                // last_over_time keeps the metric name, as in `range::call`.
                drop_name: func != Func::LastOverTime,
                value,
                t_ms: ts,
            });
        })?;
        Some(out)
    }

    /// Computes the results of [`Evaluator::shared_range_call`] and passes
    /// each series' result to `visit` in the same order, instead of
    /// collecting them into samples.
    pub fn visit_shared_range_call(
        &self,
        func: Func,
        param: f64,
        selector: &Selector,
        range_ms: i64,
        ts: i64,
        mut visit: impl FnMut(Origin<'s>, f64),
    ) -> Option<()> {
        let tick = self.tick.filter(|_| ts == self.query_ms)?;
        // A panic cannot leave the cache borrowed: the borrow ends with
        // this function, and evaluation never re-enters it.
        let mut cache = tick.borrow_mut();
        cache.begin(self.store, self.query_ms);

        let end_ms = self.resolve(selector.at, ts).saturating_sub(selector.offset_ms);
        let start_ms = end_ms.saturating_sub(range_ms);
        let window = Matrix { series: Vec::new(), end_ms, range_ms };
        let mut key = ResultKey {
            func,
            param_bits: param.to_bits(),
            group: usize::MAX,
            range_ms,
            end_offset_ms: end_ms.saturating_sub(self.query_ms),
        };
        let matched = self.matching_refs(selector);

        // Load the window edges of the series still to compute, and whose
        // window state cannot move without reading the sample buffer,
        // before reading their windows, so that their memory reads overlap.
        let mut table = 0;
        let mut preloaded = 0i64;
        for (index, &(series_ref, series)) in matched.iter().enumerate() {
            if series_ref.group() != key.group {
                key.group = series_ref.group();
                table = cache.table(key, self.store.group_len(key.group));
            }
            let position = series_ref.position();
            if cache.get(table, position).is_some() || range_fns::reads_latest_only(func) {
                continue;
            }
            // The states are read in order, but far apart, so the state a
            // few series ahead is requested before this loop reaches it.
            let ahead = matched.get(index + STATE_PREFETCH_DISTANCE).filter(|(ahead, _)| ahead.group() == key.group);
            if let Some(state) = ahead.and_then(|(ahead, _)| cache.state(table, ahead.position())) {
                state.prefetch();
            }
            preloaded ^= match cache.state(table, position) {
                Some(state) if !state.reads_buffer() => 0,
                Some(state) => state.preload(series, start_ms),
                None => series.preload_window(start_ms),
            };
        }
        std::hint::black_box(preloaded);

        key.group = usize::MAX;
        for (series_ref, series) in matched {
            // The selector cache lists series group by group, so the table
            // lookup runs once per group.
            if series_ref.group() != key.group {
                key.group = series_ref.group();
                table = cache.table(key, self.store.group_len(key.group));
            }
            let value = match cache.get(table, series_ref.position()) {
                Some(value) => value,
                None => {
                    let state = cache.state_mut(table, series_ref.position());
                    let origin = Origin { series_ref, series };
                    let value = compute_range_call(func, param, origin, &window, ts, state);
                    cache.set(table, series_ref.position(), value);
                    value
                }
            };
            if let Some(value) = value {
                visit(Origin { series_ref, series }, value);
            }
        }
        Some(())
    }

    /// Returns the series that `selector` matches with their positions, in
    /// store order, so grouped by metric name.
    fn matching_refs(&self, selector: &Selector) -> Vec<(SeriesRef, &'s Series)> {
        let key = self.store.series_set_key();
        let Some(cache) = self.selector_cache.get(selector.id) else {
            return self.store.series_named(selector.name.as_deref()).filter(|(_, s)| matches(selector, s)).collect();
        };
        // A panic while the lock was held leaves a cache that is at worst
        // stale, and the key check below refills it.
        let mut cache = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.key != Some(key) {
            cache.series = self
                .store
                .series_named(selector.name.as_deref())
                .filter(|(_, series)| matches(selector, series))
                .map(|(series_ref, _)| series_ref)
                .collect();
            cache.key = Some(key);
        }
        cache
            .series
            .iter()
            .filter_map(|&series_ref| Some((series_ref, self.store.series_at(series_ref)?)))
            .collect()
    }

    /// Evaluates the inner expression at every multiple of the step in
    /// `(t - range, t]`, as Prometheus aligns subquery steps to absolute time.
    fn subquery(&self, subquery: &Subquery, ts: i64) -> Result<Matrix<'s>, ExprError> {
        let end_ms = self.resolve(subquery.at, ts).saturating_sub(subquery.offset_ms);
        let start_ms = end_ms.saturating_sub(subquery.range_ms);
        let step = subquery.step_ms.unwrap_or(self.default_step_ms).max(1);
        let steps = subquery.range_ms / step;
        if steps > MAX_SUBQUERY_STEPS {
            return Err(too_many_steps(steps));
        }
        // Integer division truncates toward zero as Go's does.
        let mut t = step * (start_ms / step);
        if t <= start_ms {
            t += step;
        }

        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut series: Vec<RangeSeries<'s>> = Vec::new();
        while t <= end_ms {
            let samples = match self.eval(&subquery.expr, t)? {
                Value::Scalar(v) => vec![Sample { labels: Cow::Owned(Labels::new()), origin: None, drop_name: false, value: v, t_ms: t }],
                Value::Vector(v) => v,
                _ => return Err(internal("subquery of a range vector")),
            };
            for sample in samples {
                let labels = sample.to_labels();
                let position = *index.entry(labels.clone()).or_insert_with(|| {
                    series.push(RangeSeries {
                        labels: Cow::Owned(labels),
                        origin: None,
                        drop_name: false,
                        samples: Cow::Owned(Vec::new()),
                        may_reset: true,
                    });
                    series.len() - 1
                });
                series[position].samples.to_mut().push((t, sample.value));
            }
            let Some(next) = t.checked_add(step) else {
                break;
            };
            t = next;
        }
        Ok(Matrix { series, end_ms, range_ms: subquery.range_ms })
    }
}

fn matches(selector: &Selector, series: &Series) -> bool {
    let name = selector.name.as_deref();
    selector.matchers.iter().all(|m| match m {
        // The name index has already applied this matcher.
        LabelMatcher::Equal(n, v) if n == METRIC_NAME && Some(v.as_str()) == name => true,
        _ => m.matches(super::value::label_value(series.labels(), m.name())),
    })
}

/// Raises Prometheus's error for two equal label sets in the result of a
/// function or of an operator between a vector and a scalar, as Prometheus
/// checks after every such step. Only results of series with different
/// names can collide once names are dropped, so the check runs only when
/// `node`, the step or its vector operand, reads more than one name.
/// Vector matching needs no check: its own errors already rule out equal
/// label sets in its result.
pub fn check_dropped_names<'s>(node: &Node, value: Value<'s>) -> Result<Value<'s>, ExprError> {
    if let Value::Vector(samples) = &value {
        let dropped = samples.iter().any(|sample| sample.drop_name);
        if dropped && selector_names(node) == SelectorNames::Several && !one_dropped_name(samples) {
            functions::check_unique_labels(samples)?;
        }
    }
    Ok(value)
}

/// Tells whether every sample had its name dropped and all had the same name
/// (or none), as after `(a / b) * 100`: such label sets were distinct before the
/// drop and stay distinct, so the costly check can be skipped.
fn one_dropped_name(samples: &[Sample<'_>]) -> bool {
    let Some(first) = samples.first() else {
        return true;
    };
    let name = first.labels.metric_name();
    samples.iter().all(|sample| sample.drop_name && sample.labels.metric_name() == name)
}

/// The metric names that the selectors under a node read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SelectorNames<'n> {
    None,
    One(&'n str),
    /// More than one name, or a selector without a fixed name.
    Several,
}

fn selector_names(node: &Node) -> SelectorNames<'_> {
    match node {
        Node::Selector(selector) | Node::Range { selector, .. } => {
            selector.name.as_deref().map_or(SelectorNames::Several, SelectorNames::One)
        }
        Node::Subquery(subquery) => selector_names(&subquery.expr),
        Node::Call { args, .. } => args.iter().map(selector_names).fold(SelectorNames::None, merge_names),
        Node::Aggregate(agg) => selector_names(&agg.expr),
        Node::Binary(bin) => merge_names(selector_names(&bin.lhs), selector_names(&bin.rhs)),
        Node::Negate(inner) => selector_names(inner),
        Node::Number(_) | Node::String(_) => SelectorNames::None,
    }
}

fn merge_names<'n>(a: SelectorNames<'n>, b: SelectorNames<'n>) -> SelectorNames<'n> {
    match (a, b) {
        (SelectorNames::None, other) | (other, SelectorNames::None) => other,
        (SelectorNames::One(x), SelectorNames::One(y)) if x == y => a,
        _ => SelectorNames::Several,
    }
}

/// Computes `func` over the window of `series` that `window` bounds,
/// updating the series' `state` from the previous tick when the function
/// has an incremental form, and scanning the whole window otherwise.
fn compute_range_call(
    func: Func,
    param: f64,
    origin: Origin<'_>,
    window: &Matrix<'_>,
    ts: i64,
    state: Option<&mut WindowState>,
) -> Option<f64> {
    let series = origin.series;
    let start_ms = window.end_ms.saturating_sub(window.range_ms);
    let scan = || range_series(origin, start_ms, window.end_ms).and_then(|samples| range_fns::apply(func, &samples, window, param, ts));
    if range_fns::reads_latest_only(func) {
        return range_fns::from_latest_samples(func, series, start_ms, window.end_ms).unwrap_or_else(scan);
    }
    let Some(state) = state.filter(|_| incremental::supports(func)) else {
        return scan();
    };
    if state.advance(func, series, start_ms, window.end_ms) {
        return state.result(func, param, ts, window.range_ms);
    }
    let value = scan();
    state.rebuild(func, series, start_ms, window.end_ms);
    value
}

/// Returns the samples of `series` in `(start_ms, end_ms]` without stale
/// markers, or `None` when there are none.
fn range_series(origin: Origin<'_>, start_ms: i64, end_ms: i64) -> Option<RangeSeries<'_>> {
    let series = origin.series;
    let window = series.window(start_ms, end_ms);
    let samples: Cow<'_, [(i64, f64)]> = if window.has_stale {
        Cow::Owned(window.samples.iter().copied().filter(|&(_, v)| !is_stale_marker(v)).collect())
    } else {
        Cow::Borrowed(window.samples)
    };
    (!samples.is_empty()).then(|| RangeSeries {
        labels: Cow::Borrowed(series.labels()),
        origin: Some(origin),
        drop_name: false,
        samples,
        may_reset: window.has_stale || window.has_reset,
    })
}

fn negate(value: Value<'_>) -> Value<'_> {
    match value {
        Value::Scalar(v) => Value::Scalar(-v),
        Value::Vector(mut samples) => {
            for sample in &mut samples {
                sample.value = -sample.value;
                sample.drop_name = true;
            }
            Value::Vector(samples)
        }
        other => other,
    }
}

pub fn internal(what: &str) -> ExprError {
    ExprError { offset: None, message: format!("internal error in the evaluator: {what}") }
}
