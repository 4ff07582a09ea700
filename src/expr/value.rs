//! Values that flow between evaluation steps.
//!
//! Samples borrow their labels from the store while they can: most alert
//! expressions select many series and reduce them to few, so copying every
//! label set would dominate the cost of a tick. Dropping `__name__` is
//! recorded as a flag and applied when labels are read or output.

use std::borrow::Cow;

use crate::labels::{Labels, METRIC_NAME};
use crate::store::{Series, SeriesRef};

/// The store series whose labels a sample or range borrows.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'s> {
    pub series_ref: SeriesRef,
    pub series: &'s Series,
}

/// One element of an instant vector.
#[derive(Clone, Debug)]
pub struct Sample<'s> {
    pub labels: Cow<'s, Labels>,
    /// The series that `labels` is borrowed from, while it is. Caches keyed
    /// by series find the sample's entry by it instead of by its labels.
    pub origin: Option<Origin<'s>>,
    /// Whether `__name__` counts as removed from `labels`.
    pub drop_name: bool,
    pub value: f64,
    /// The sample's own timestamp, for `timestamp()`.
    pub t_ms: i64,
}

impl<'s> Sample<'s> {
    /// Returns the value of label `name`, or "" when absent.
    pub fn label(&self, name: &str) -> &str {
        if self.drop_name && name == METRIC_NAME {
            return "";
        }
        label_value(&self.labels, name)
    }

    /// Iterates over the visible labels in name order.
    pub fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let drop_name = self.drop_name;
        self.labels.iter().filter(move |(n, _)| !(drop_name && *n == METRIC_NAME))
    }

    /// Returns the visible labels as an owned set, which shares the
    /// buffer of the labels it was built from when it can.
    pub fn to_labels(&self) -> Labels {
        match self.origin {
            Some(origin) if self.drop_name => origin.series.labels_without_name().clone(),
            _ if self.drop_name && self.labels.metric_name().is_some() => self.labels.without_metric_name(),
            _ => self.labels.as_ref().clone(),
        }
    }

    /// Returns the visible labels, as [`Sample::to_labels`] does.
    pub fn into_labels(self) -> Labels {
        self.to_labels()
    }

    /// Applies a pending name drop so that `labels` can be edited.
    pub fn labels_mut(&mut self) -> &mut Labels {
        self.origin = None;
        if self.drop_name {
            self.drop_name = false;
            if self.labels.metric_name().is_some() {
                self.labels.to_mut().remove(METRIC_NAME);
            }
        }
        self.labels.to_mut()
    }
}

/// Returns the value of label `name`, or "" when absent.
///
/// Series have few labels, and an equality scan compares lengths before
/// bytes, which is cheaper here than the ordered comparisons of a binary
/// search.
pub fn label_value<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v)
}

/// The samples of one series in a range, oldest first, without stale
/// markers.
#[derive(Clone, Debug)]
pub struct RangeSeries<'s> {
    pub labels: Cow<'s, Labels>,
    /// The series that `labels` is borrowed from, as for [`Sample`].
    pub origin: Option<Origin<'s>>,
    pub drop_name: bool,
    pub samples: Cow<'s, [(i64, f64)]>,
    /// Whether a counter reset may lie inside `samples`; false allows
    /// `rate` to skip scanning them.
    pub may_reset: bool,
}

/// A range vector with the window it was read for, which `rate` needs for
/// extrapolation.
#[derive(Clone, Debug)]
pub struct Matrix<'s> {
    pub series: Vec<RangeSeries<'s>>,
    /// The window is `(end_ms - range_ms, end_ms]`.
    pub end_ms: i64,
    pub range_ms: i64,
}

#[derive(Clone, Debug)]
pub enum Value<'s> {
    Scalar(f64),
    /// A string literal; functions read string arguments from the tree.
    String,
    Vector(Vec<Sample<'s>>),
    Matrix(Matrix<'s>),
}

/// Writes a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` does, which
/// Prometheus uses for `count_values` labels.
pub fn format_go_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}
