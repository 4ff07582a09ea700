//! `histogram_quantile` over classic buckets, as Prometheus 3's
//! `BucketQuantile`.

use std::borrow::Cow;
use super::keys::{hash_pairs, KeyIndex};
use super::value::Sample;
use crate::labels::{Labels, METRIC_NAME};

/// Bucket counts that differ by less than this relative amount are treated
/// as equal, hiding floating-point noise (Prometheus's `smallDeltaTolerance`).
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The bucket label.
const LE: &str = "le";

#[derive(Clone, Copy, Debug)]
struct Bucket {
    upper_bound: f64,
    count: f64,
}

/// Groups the bucket series by their labels other than `le` and
/// `__name__`, and returns the `q` quantile of each group. Series without a
/// numeric `le` are ignored.
pub fn quantile<'s>(q: f64, samples: Vec<Sample<'s>>, ts: i64) -> Vec<Sample<'s>> {
    let mut index = KeyIndex::default();
    let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
    for sample in &samples {
        let Some(upper_bound) = parse_go_float(sample.label(LE)) else {
            continue;
        };
        let group_pairs = || sample.label_pairs().filter(|(n, _)| *n != LE && *n != METRIC_NAME);
        let bucket = Bucket { upper_bound, count: sample.value };
        let same = |position: usize| groups[position].0.iter().eq(group_pairs());
        match index.find_or_insert(hash_pairs(group_pairs()), groups.len(), same) {
            Some(position) => groups[position].1.push(bucket),
            None => groups.push((Labels::from_pairs(group_pairs()), vec![bucket])),
        }
    }

    groups
        .into_iter()
        .map(|(labels, buckets)| Sample {
            labels: Cow::Owned(labels),
            origin: None,
            drop_name: false,
            value: bucket_quantile(q, buckets),
            t_ms: ts,
        })
        .collect()
}

fn bucket_quantile(q: f64, mut buckets: Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    match buckets.last() {
        Some(last) if last.upper_bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut buckets = coalesce(buckets);
    ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let searched = &buckets[..buckets.len() - 1];
    let b = searched.partition_point(|bucket| bucket.count < rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].upper_bound;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return buckets[0].upper_bound;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Merges buckets with the same upper bound by adding their counts.
fn coalesce(buckets: Vec<Bucket>) -> Vec<Bucket> {
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        match merged.last_mut() {
            Some(last) if last.upper_bound == bucket.upper_bound => last.count += bucket.count,
            _ => merged.push(bucket),
        }
    }
    merged
}

/// Raises any count below an earlier one to it (scrapes of buckets are not
/// atomic), and evens out differences within the tolerance.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let Some(first) = buckets.first() else {
        return;
    };
    let mut previous = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let current = bucket.count;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) || current < previous {
            bucket.count = previous;
            continue;
        }
        previous = current;
    }
}

fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Parses a float as Go's `strconv.ParseFloat` for the forms exporters write
/// in `le`: decimals, exponents, and `+Inf`/`Inf`/`NaN` in any case.
pub fn parse_go_float(text: &str) -> Option<f64> {
    let trimmed = text.strip_prefix('+').unwrap_or(text);
    let lower = trimmed.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => return Some(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if text.is_empty() || text.contains('_') {
        return None;
    }
    trimmed.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs.iter().map(|&(upper_bound, count)| Bucket { upper_bound, count }).collect()
    }

    #[test]
    fn le_with_trailing_zeros_parses() {
        assert_eq!(parse_go_float("1.000"), Some(1.0));
    }

    #[test]
    fn le_plus_inf_parses() {
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
    }

    #[test]
    fn non_monotonic_buckets_are_fixed() {
        let value = bucket_quantile(0.5, buckets(&[(1.0, 10.0), (2.0, 8.0), (f64::INFINITY, 20.0)]));
        // Counts become 10, 10, 20: rank 10 falls in the first bucket.
        assert_eq!(value, 1.0);
    }

    #[test]
    fn duplicate_bounds_are_added() {
        let value = bucket_quantile(0.5, buckets(&[(1.0, 2.0), (1.0, 3.0), (f64::INFINITY, 10.0)]));
        assert_eq!(value, 1.0);
    }
}
