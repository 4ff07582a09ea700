//! Aggregation operators (`sum by (..)`, `topk`, ...), as Prometheus 3's
//! `aggregation` in `engine.go`.

use std::borrow::Cow;
use std::collections::HashMap;

use super::eval::{internal, Evaluator};
use super::keys::{KeyIndex, PairList};
use super::plan::{AggOp, Aggregate, Grouping, Node};
use super::range::{kahan_inc, quantile, Averager};
use super::functions::Func;
use super::range;
use super::value::{format_go_float, Origin, Sample, Value};
use super::ExprError;
use crate::labels::{Labels, METRIC_NAME};

/// The running state of one output group.
enum Accumulator {
    Sum { sum: f64, compensation: f64 },
    Avg(Averager),
    /// The running minimum (`largest` false) or maximum.
    Extreme { largest: bool, value: f64 },
    Count(f64),
    Variance { count: f64, mean: f64, value: f64 },
    Values(Vec<f64>),
}

pub fn aggregate<'s>(ev: &Evaluator<'s>, agg: &Aggregate, ts: i64) -> Result<Value<'s>, ExprError> {
    let param = match (&agg.param, agg.op) {
        (Some(node), AggOp::Topk | AggOp::Bottomk | AggOp::Quantile) => ev.scalar(node, ts)?,
        _ => f64::NAN,
    };
    if let Some(fused) = aggregate_shared_range_call(ev, agg, param, ts) {
        return Ok(Value::Vector(fused));
    }
    let mut samples = ev.vector(&agg.expr, ts)?;
    match agg.op {
        AggOp::CountValues => {
            let label = match &agg.param {
                Some(Node::String(label)) => label.as_str(),
                _ => return Err(internal("count_values without a label name")),
            };
            return Ok(Value::Vector(count_values(&samples, &agg.grouping, label, ts)));
        }
        AggOp::Topk | AggOp::Bottomk => {
            let k = top_k_param(param)?;
            if k == 0 {
                return Ok(Value::Vector(Vec::new()));
            }
            // Prometheus reads series in label order; ties keep that order.
            samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            return Ok(Value::Vector(top_k(samples, &agg.grouping, k, agg.op == AggOp::Topk)));
        }
        _ => {}
    }

    // A panic while the lock was held leaves at worst a cache that the key
    // check resets.
    let mut cache = agg.groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    cache.reset_unless(ev.store.series_set_key(), samples.len());
    let mut groups = Groups::default();
    for sample in samples {
        let position = cache.group_of(&sample, &agg.grouping);
        groups.add(agg.op, position, sample.value);
    }
    Ok(Value::Vector(groups.finish(&cache, agg.op, param, ts)))
}

/// Aggregates a range function over one named selector, such as
/// `sum by (job) (rate(x[5m]))`, straight from the tick's shared results,
/// without building a sample per series. Returns `None` for other
/// aggregations and arguments, and where the results cannot be shared.
/// The output is the same as through [`Evaluator::vector`]: one metric name
/// means that no two series' labels collide once the name is dropped, so
/// the call needs no duplicate check.
fn aggregate_shared_range_call<'s>(ev: &Evaluator<'s>, agg: &Aggregate, param: f64, ts: i64) -> Option<Vec<Sample<'s>>> {
    let Node::Call { func, args, .. } = &agg.expr else {
        return None;
    };
    let accumulates = !matches!(agg.op, AggOp::CountValues | AggOp::Topk | AggOp::Bottomk);
    if !accumulates || !range::visits_shared(*func, args) {
        return None;
    }
    // A panic while the lock was held leaves at worst a cache that the key
    // check resets.
    let mut cache = agg.groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Groups of store series are bounded by the series set, so the cache
    // is never overgrown here.
    let groups_so_far = cache.len();
    cache.reset_unless(ev.store.series_set_key(), groups_so_far);
    let drop_name = *func != Func::LastOverTime;
    let mut groups = Groups::default();
    range::visit_shared(ev, *func, args, ts, |origin, value| {
        let position = cache.group_of_series(origin, drop_name, &agg.grouping);
        groups.add(agg.op, position, value);
    })?;
    Some(groups.finish(&cache, agg.op, param, ts))
}

/// The running states of an aggregation's groups, by group position.
#[derive(Default)]
struct Groups {
    accumulators: Vec<Option<Accumulator>>,
    /// Group positions in the order of their first sample, which is the
    /// output order.
    order: Vec<usize>,
}

impl Groups {
    fn add(&mut self, op: AggOp, position: usize, value: f64) {
        if position >= self.accumulators.len() {
            self.accumulators.resize_with(position + 1, || None);
        }
        match &mut self.accumulators[position] {
            Some(accumulator) => accumulate(accumulator, value),
            slot @ None => {
                *slot = Some(start(op, value));
                self.order.push(position);
            }
        }
    }

    fn finish<'s>(mut self, cache: &GroupCache, op: AggOp, param: f64, ts: i64) -> Vec<Sample<'s>> {
        let mut out = Vec::with_capacity(self.order.len());
        for position in self.order {
            let (Some(accumulator), Some(labels)) = (self.accumulators[position].take(), cache.groups.get(position)) else {
                continue;
            };
            out.push(Sample {
                labels: Cow::Owned(labels.clone()),
                origin: None,
                drop_name: false,
                value: finish(op, accumulator, param),
                t_ms: ts,
            });
        }
        out
    }
}

/// The output groups of one aggregation and the group of each store series
/// seen so far, valid while the store's set of series is unchanged.
///
/// Finding a sample's group means looking up and hashing its labels, which
/// costs more than the aggregation itself. A sample whose labels are
/// borrowed from the store is instead found by its series' position, which
/// stays fixed while the store's series set key does.
#[derive(Debug, Default)]
pub struct GroupCache {
    key: Option<(u64, u64)>,
    groups: Vec<Labels>,
    index: KeyIndex,
    /// Group positions by the series' group and position in the store:
    /// entry `2 * position + 1` is for samples that drop `__name__`, and
    /// `NO_GROUP` marks series not seen yet.
    by_series: Vec<Vec<u32>>,
}

/// The entry of [`GroupCache::by_series`] for a series not seen yet.
const NO_GROUP: u32 = u32::MAX;

impl GroupCache {
    /// Empties the cache unless it belongs to `key`. Groups of samples with
    /// owned labels are not tied to series and can change every evaluation
    /// (after `count_values`, say), so the cache is also emptied once it
    /// contains far more groups than one evaluation with `samples` inputs adds.
    pub(super) fn reset_unless(&mut self, key: (u64, u64), samples: usize) {
        let overgrown = self.groups.len() > 1024 + 2 * samples;
        if self.key != Some(key) || overgrown {
            *self = GroupCache { key: Some(key), ..GroupCache::default() };
        }
    }

    /// The number of groups, which bounds every position that
    /// [`GroupCache::group_of`] has returned.
    pub(super) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Returns the position of the group of a sample of `origin`'s series,
    /// as [`GroupCache::group_of`] does for a sample with its labels.
    pub(super) fn group_of_series(&mut self, origin: Origin<'_>, drop_name: bool, grouping: &Grouping) -> usize {
        let series_ref = origin.series_ref;
        let entry = 2 * series_ref.position() + usize::from(drop_name);
        let known = self.by_series.get(series_ref.group()).and_then(|entries| entries.get(entry));
        if let Some(&position) = known.filter(|&&position| position != NO_GROUP) {
            return position as usize;
        }
        let sample = Sample { labels: Cow::Borrowed(origin.series.labels()), origin: Some(origin), drop_name, value: 0.0, t_ms: 0 };
        self.group_of(&sample, grouping)
    }

    /// Returns the position of the sample's group, adding the group if new.
    pub(super) fn group_of(&mut self, sample: &Sample<'_>, grouping: &Grouping) -> usize {
        let identity = sample.origin.map(|origin| {
            let series_ref = origin.series_ref;
            (series_ref.group(), 2 * series_ref.position() + usize::from(sample.drop_name))
        });
        if let Some((group, entry)) = identity {
            let known = self.by_series.get(group).and_then(|entries| entries.get(entry));
            if let Some(&position) = known.filter(|&&position| position != NO_GROUP) {
                return position as usize;
            }
        }
        let pairs = PairList::collect(group_pairs(sample, grouping));
        let groups = &mut self.groups;
        let position = match self.index.find_or_insert(pairs.hash(), groups.len(), |p| pairs.equals(&groups[p])) {
            Some(position) => position,
            None => {
                groups.push(Labels::from_sorted_strs(pairs.as_slice()));
                groups.len() - 1
            }
        };
        if let (Some((group, entry)), Ok(position)) = (identity, u32::try_from(position)) {
            if self.by_series.len() <= group {
                self.by_series.resize_with(group + 1, Vec::new);
            }
            let entries = &mut self.by_series[group];
            if entries.len() <= entry {
                entries.resize(entry + 1, NO_GROUP);
            }
            entries[entry] = position;
        }
        position
    }
}

fn start(op: AggOp, value: f64) -> Accumulator {
    match op {
        AggOp::Sum => Accumulator::Sum { sum: value, compensation: 0.0 },
        AggOp::Avg => {
            let mut averager = Averager::default();
            averager.add(value);
            Accumulator::Avg(averager)
        }
        AggOp::Min | AggOp::Max => Accumulator::Extreme { largest: op == AggOp::Max, value },
        AggOp::Count | AggOp::Group => Accumulator::Count(1.0),
        AggOp::Stddev | AggOp::Stdvar => Accumulator::Variance { count: 1.0, mean: value, value: 0.0 },
        _ => Accumulator::Values(vec![value]),
    }
}

fn accumulate(accumulator: &mut Accumulator, value: f64) {
    match accumulator {
        Accumulator::Sum { sum, compensation } => (*sum, *compensation) = kahan_inc(value, *sum, *compensation),
        Accumulator::Avg(averager) => averager.add(value),
        Accumulator::Extreme { largest, value: current } => *current = fold_extreme(*largest, *current, value),
        Accumulator::Count(count) => *count += 1.0,
        Accumulator::Variance { count, mean, value: aux } => {
            *count += 1.0;
            let delta = value - *mean;
            *mean += delta / *count;
            *aux += delta * (value - *mean);
        }
        Accumulator::Values(values) => values.push(value),
    }
}

fn finish(op: AggOp, accumulator: Accumulator, param: f64) -> f64 {
    match (op, accumulator) {
        (_, Accumulator::Sum { sum, compensation }) => sum + compensation,
        (_, Accumulator::Avg(averager)) => averager.result(),
        (AggOp::Group, _) => 1.0,
        (_, Accumulator::Count(count)) => count,
        (AggOp::Stddev, Accumulator::Variance { count, value, .. }) => (value / count).sqrt(),
        (_, Accumulator::Variance { count, value, .. }) => value / count,
        (AggOp::Quantile, Accumulator::Values(values)) => quantile(param, values),
        (_, Accumulator::Extreme { value, .. }) => value,
        _ => f64::NAN,
    }
}

/// Folds one value into a minimum or maximum; a NaN so far is replaced by
/// any value, as in Prometheus.
fn fold_extreme(largest: bool, current: f64, value: f64) -> f64 {
    let replace = if largest { value > current } else { value < current } || current.is_nan();
    if replace {
        value
    } else {
        current
    }
}

/// Hashes the labels that identify a sample's output group.
/// The labels of `sample` that its output group keeps, in name order. For
/// `by`, looking up the few listed names is cheaper than filtering every
/// label of the series.
fn group_pairs<'a>(sample: &'a Sample<'_>, grouping: &'a Grouping) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    match grouping {
        Grouping::By(names) => Either::Left(names.iter().filter_map(move |name| {
            let value = sample.label(name);
            (!value.is_empty()).then_some((name.as_str(), value))
        })),
        Grouping::Without(_) => Either::Right(sample.label_pairs().filter(move |(name, _)| keeps(grouping, name))),
    }
}

/// One of two iterators over the same items, chosen at run time without
/// boxing.
enum Either<L, R> {
    Left(L),
    Right(R),
}

impl<T, L: Iterator<Item = T>, R: Iterator<Item = T>> Iterator for Either<L, R> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            Either::Left(left) => left.next(),
            Either::Right(right) => right.next(),
        }
    }
}

/// Whether an aggregation's output keeps label `name`: `by` keeps the
/// listed labels, `without` all but the listed ones and `__name__`.
fn keeps(grouping: &Grouping, name: &str) -> bool {
    match grouping {
        Grouping::By(labels) => labels.iter().any(|l| l == name),
        Grouping::Without(labels) => name != METRIC_NAME && !labels.iter().any(|l| l == name),
    }
}

fn group_labels(sample: &Sample<'_>, grouping: &Grouping) -> Labels {
    Labels::from_pairs(group_pairs(sample, grouping))
}

/// Checks `k` of topk/bottomk as Prometheus does and truncates it; 0 means
/// an empty result.
fn top_k_param(param: f64) -> Result<usize, ExprError> {
    if param.is_nan() {
        return Err(ExprError { offset: None, message: "Parameter value is NaN".into() });
    }
    if !(-9.223_372_036_854_775e18..=9.223_372_036_854_775e18).contains(&param) {
        return Err(ExprError { offset: None, message: format!("Scalar value {param} overflows int64") });
    }
    Ok(if param < 1.0 { 0 } else { param.trunc() as usize })
}

/// Keeps the `k` largest (or smallest) samples of each group, NaN ranked
/// last, with the samples' own labels.
fn top_k<'s>(samples: Vec<Sample<'s>>, grouping: &Grouping, k: usize, largest: bool) -> Vec<Sample<'s>> {
    let mut index = KeyIndex::default();
    let mut groups: Vec<(Labels, Vec<Sample<'s>>)> = Vec::new();
    for sample in samples {
        let found = {
            let pairs = PairList::collect(group_pairs(&sample, grouping));
            let same = |position: usize| pairs.equals(&groups[position].0);
            index.find_or_insert(pairs.hash(), groups.len(), same).ok_or_else(|| Labels::from_sorted_strs(pairs.as_slice()))
        };
        match found {
            Ok(position) => groups[position].1.push(sample),
            Err(labels) => groups.push((labels, vec![sample])),
        }
    }
    let mut out = Vec::new();
    for (_, mut group) in groups {
        group.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) if largest => b.value.total_cmp(&a.value),
            (false, false) => a.value.total_cmp(&b.value),
        });
        group.truncate(k);
        out.extend(group);
    }
    out
}

/// `count_values("label", v)`: counts the samples per group and value,
/// with the value written into `label`.
fn count_values<'s>(samples: &[Sample<'s>], grouping: &Grouping, label: &str, ts: i64) -> Vec<Sample<'s>> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Sample<'s>> = Vec::new();
    for sample in samples {
        let mut labels = group_labels(sample, grouping);
        labels.set(label, format_go_float(sample.value));
        match index.get(&labels) {
            Some(&position) => out[position].value += 1.0,
            None => {
                index.insert(labels.clone(), out.len());
                out.push(Sample { labels: Cow::Owned(labels), origin: None, drop_name: false, value: 1.0, t_ms: ts });
            }
        }
    }
    out
}

