//! Binary operators: arithmetic, comparison and set operators between
//! scalars and vectors, with vector matching as Prometheus 3's
//! `VectorBinop` and `VectorAnd`/`VectorOr`/`VectorUnless`.


use super::eval::{check_dropped_names, Evaluator};
use super::plan::{BinOp, Binary, Card};
use super::keys::{hash_pairs, KeyIndex, PairList};
use super::value::{Sample, Value};
use super::ExprError;
use crate::labels::{Labels, METRIC_NAME};

pub fn binary<'s>(ev: &Evaluator<'s>, bin: &Binary, ts: i64) -> Result<Value<'s>, ExprError> {
    let lhs = ev.eval(&bin.lhs, ts)?;
    let rhs = ev.eval(&bin.rhs, ts)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (value, keep) = element_op(bin.op, l, r);
            Ok(Value::Scalar(if bin.op.is_comparison() { f64::from(u8::from(keep)) } else { value }))
        }
        (Value::Vector(v), Value::Scalar(s)) => check_dropped_names(&bin.lhs, Value::Vector(vector_scalar(bin, v, s, false))),
        (Value::Scalar(s), Value::Vector(v)) => check_dropped_names(&bin.rhs, Value::Vector(vector_scalar(bin, v, s, true))),
        (Value::Vector(l), Value::Vector(r)) => match bin.op {
            BinOp::And => Ok(Value::Vector(and_unless(bin, l, &r, true))),
            BinOp::Unless => Ok(Value::Vector(and_unless(bin, l, &r, false))),
            BinOp::Or => Ok(Value::Vector(or(bin, l, r))),
            _ => vector_vector(bin, l, r, ev.store.series_set_key()).map(Value::Vector),
        },
        _ => Err(super::eval::internal("binary operator on a string or range vector")),
    }
}

/// Applies `op` to two values. For comparisons the value is the left one
/// and `keep` is true when the comparison holds.
fn element_op(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
    }
}

/// Arithmetic and `bool` comparisons drop the metric name; comparison
/// filters keep it.
fn drops_name(bin: &Binary) -> bool {
    !bin.op.is_comparison() || bin.return_bool
}

fn vector_scalar<'s>(bin: &Binary, samples: Vec<Sample<'s>>, scalar: f64, scalar_left: bool) -> Vec<Sample<'s>> {
    let drop_name = drops_name(bin);
    let mut out = Vec::with_capacity(samples.len());
    for mut sample in samples {
        let (l, r) = if scalar_left { (scalar, sample.value) } else { (sample.value, scalar) };
        let (mut value, keep) = element_op(bin.op, l, r);
        // A comparison keeps the vector's value even with the scalar on the left.
        if bin.op.is_comparison() && scalar_left {
            value = r;
        }
        if bin.return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        sample.value = value;
        sample.drop_name |= drop_name;
        out.push(sample);
    }
    out
}

/// Hashes the labels that vector matching compares: the `on` labels, or
/// all labels except the `ignoring` ones and `__name__`.
fn signature(bin: &Binary, sample: &Sample<'_>) -> u64 {
    hash_pairs(matched_pairs(bin, sample))
}

fn matched_pairs<'a>(bin: &'a Binary, sample: &'a Sample<'_>) -> impl Iterator<Item = (&'a str, &'a str)> {
    sample.label_pairs().filter(move |(name, _)| matched_label(bin, name))
}

fn same_signature(bin: &Binary, a: &Sample<'_>, b: &Sample<'_>) -> bool {
    matched_pairs(bin, a).eq(matched_pairs(bin, b))
}

fn matched_label(bin: &Binary, name: &str) -> bool {
    let listed = bin.matching_labels.iter().any(|l| l == name);
    if bin.on {
        listed
    } else {
        !listed && name != METRIC_NAME
    }
}

/// Indexes samples by signature; the first of equal signatures wins.
fn index_by_signature(bin: &Binary, samples: &[Sample<'_>]) -> KeyIndex {
    let mut index = KeyIndex::with_capacity(samples.len());
    for (position, sample) in samples.iter().enumerate() {
        index.find_or_insert(signature(bin, sample), position, |p| same_signature(bin, &samples[p], sample));
    }
    index
}

fn find_match(bin: &Binary, index: &KeyIndex, samples: &[Sample<'_>], sample: &Sample<'_>) -> Option<usize> {
    index.find(signature(bin, sample), |p| same_signature(bin, &samples[p], sample))
}

fn and_unless<'s>(bin: &Binary, lhs: Vec<Sample<'s>>, rhs: &[Sample<'s>], keep_matched: bool) -> Vec<Sample<'s>> {
    let right = index_by_signature(bin, rhs);
    lhs.into_iter().filter(|s| find_match(bin, &right, rhs, s).is_some() == keep_matched).collect()
}

fn or<'s>(bin: &Binary, mut lhs: Vec<Sample<'s>>, rhs: Vec<Sample<'s>>) -> Vec<Sample<'s>> {
    let left = index_by_signature(bin, &lhs);
    let extra: Vec<Sample<'s>> = rhs.into_iter().filter(|s| find_match(bin, &left, &lhs, s).is_none()).collect();
    lhs.extend(extra);
    lhs
}

/// Arithmetic and comparison between two vectors. The "many" side is the
/// left one except for `group_right`.
fn vector_vector<'s>(bin: &Binary, lhs: Vec<Sample<'s>>, rhs: Vec<Sample<'s>>, series_set: (u64, u64)) -> Result<Vec<Sample<'s>>, ExprError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = matches!(bin.card, Card::OneToMany(_));
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };

    // Match groups as positions in the node's signature cache, which finds
    // the group of a series read before by its position in the store
    // instead of hashing and comparing label strings.
    let (one_groups, many_groups, group_count) = {
        // A panic while the lock was held leaves at worst a cache that the
        // key check resets.
        let mut signatures = bin.signatures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        signatures.reset_unless(series_set, one.len() + many.len());
        let one_groups: Vec<usize> = one.iter().map(|s| signatures.group_of(s, &bin.matching)).collect();
        let many_groups: Vec<usize> = many.iter().map(|s| signatures.group_of(s, &bin.matching)).collect();
        (one_groups, many_groups, signatures.len())
    };
    let mut one_of_group = vec![usize::MAX; group_count];
    for (position, &group) in one_groups.iter().enumerate() {
        if one_of_group[group] != usize::MAX {
            return Err(duplicate_error(bin, &one[one_of_group[group]], &one[position], one_to_many));
        }
        one_of_group[group] = position;
    }

    // A position on the "one" side stands for its match group.
    let mut matched = vec![false; one.len()];
    // For group_left/group_right: the match group of each output sample,
    // and an index of (match group, labels) to find duplicate results.
    let mut out_groups: Vec<usize> = Vec::new();
    let mut grouped_index = KeyIndex::default();
    let mut out: Vec<Sample<'s>> = Vec::with_capacity(many.len());
    for (sample, group) in many.into_iter().zip(many_groups) {
        let position = one_of_group[group];
        if position == usize::MAX {
            continue;
        }
        let other = &one[position];
        let (l, r) = if one_to_many { (other.value, sample.value) } else { (sample.value, other.value) };
        let (mut value, keep) = element_op(bin.op, l, r);
        if bin.return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }

        let result = result_sample(bin, sample, other, value);
        if let Card::OneToOne = bin.card {
            if std::mem::replace(&mut matched[position], true) {
                return Err(ExprError {
                    offset: None,
                    message: "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                });
            }
        } else {
            let pairs = PairList::collect(result.label_pairs());
            let same = |p: usize| out_groups[p] == position && pairs.as_slice().iter().copied().eq(out[p].label_pairs());
            let key = pairs.hash() ^ (position as u64);
            if grouped_index.find_or_insert(key, out.len(), same).is_some() {
                return Err(ExprError {
                    offset: None,
                    message: "multiple matches for labels: grouping labels must ensure unique matches".into(),
                });
            }
            out_groups.push(position);
        }
        out.push(result);
    }
    Ok(out)
}

/// Builds the output sample from the "many" side's labels: without
/// `__name__` for arithmetic and `bool`, reduced to the `on` labels (or
/// without the `ignoring` ones) for one-to-one matching, and with the
/// `group_left`/`group_right` labels copied from the "one" side.
fn result_sample<'s>(bin: &Binary, mut sample: Sample<'s>, other: &Sample<'s>, value: f64) -> Sample<'s> {
    sample.value = value;
    sample.drop_name |= drops_name(bin);
    let include = match &bin.card {
        Card::OneToOne => {
            // The common `a / b` without modifiers keeps the borrowed labels.
            if bin.on || !bin.matching_labels.is_empty() {
                let labels = sample.labels_mut();
                let names: Vec<String> = labels.iter().map(|(n, _)| n.to_string()).collect();
                for name in names {
                    let listed = bin.matching_labels.contains(&name);
                    if listed != bin.on {
                        labels.remove(&name);
                    }
                }
            }
            return sample;
        }
        Card::ManyToOne(include) | Card::OneToMany(include) => include,
    };
    if include.is_empty() {
        return sample;
    }
    let labels = sample.labels_mut();
    for name in include {
        match other.label(name) {
            "" => {
                labels.remove(name);
            }
            value => labels.set(name.as_str(), value),
        }
    }
    sample
}

/// The labels of the match group, for error messages.
fn match_group(bin: &Binary, sample: &Sample<'_>) -> Labels {
    Labels::from_pairs(matched_pairs(bin, sample))
}

fn duplicate_error(bin: &Binary, first: &Sample<'_>, second: &Sample<'_>, one_is_left: bool) -> ExprError {
    let side = if one_is_left { "left" } else { "right" };
    ExprError {
        offset: None,
        message: format!(
            "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];\
             many-to-many matching not allowed: matching labels must be unique on one side",
            match_group(bin, first),
            first.to_labels(),
            second.to_labels()
        ),
    }
}

