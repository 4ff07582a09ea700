//! PromQL functions on instant vectors and scalars, and the dispatch of all
//! function calls. Range-vector functions are in `range`.

use std::borrow::Cow;

use regex::Regex;

use super::eval::{internal, Evaluator};
use super::plan::{LabelMatcher, Node};
use super::value::{Sample, Value};
use super::{histogram, range, ExprError};
use crate::labels::{Labels, METRIC_NAME};

/// The functions andon evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    // Range-vector functions.
    Rate,
    Irate,
    Increase,
    Delta,
    Idelta,
    Deriv,
    PredictLinear,
    Resets,
    Changes,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    LastOverTime,
    QuantileOverTime,
    StddevOverTime,
    StdvarOverTime,
    PresentOverTime,
    AbsentOverTime,
    // Instant-vector and scalar functions.
    Absent,
    HistogramQuantile,
    Clamp,
    ClampMin,
    ClampMax,
    Round,
    Math(MathFn),
    Scalar,
    Vector,
    Time,
    Timestamp,
    LabelReplace,
    LabelJoin,
    Date(DateFn),
    Sort,
    SortDesc,
    Pi,
}

/// Functions that map each value on its own and drop the metric name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MathFn {
    Abs,
    Ceil,
    Floor,
    Sqrt,
    Exp,
    Ln,
    Log2,
    Log10,
    Sgn,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Deg,
    Rad,
}

/// Calendar functions of a Unix time in seconds, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateFn {
    DayOfWeek,
    DayOfMonth,
    DayOfYear,
    DaysInMonth,
    Hour,
    Minute,
    Month,
    Year,
}

impl Func {
    /// Resolves a PromQL function name; `None` for functions andon does not
    /// evaluate (native-histogram functions, `info` and the experimental
    /// ones of Prometheus 3).
    pub fn from_name(name: &str) -> Option<Func> {
        use Func::*;
        Some(match name {
            "rate" => Rate,
            "irate" => Irate,
            "increase" => Increase,
            "delta" => Delta,
            "idelta" => Idelta,
            "deriv" => Deriv,
            "predict_linear" => PredictLinear,
            "resets" => Resets,
            "changes" => Changes,
            "avg_over_time" => AvgOverTime,
            "min_over_time" => MinOverTime,
            "max_over_time" => MaxOverTime,
            "sum_over_time" => SumOverTime,
            "count_over_time" => CountOverTime,
            "last_over_time" => LastOverTime,
            "quantile_over_time" => QuantileOverTime,
            "stddev_over_time" => StddevOverTime,
            "stdvar_over_time" => StdvarOverTime,
            "present_over_time" => PresentOverTime,
            "absent_over_time" => AbsentOverTime,
            "absent" => Absent,
            "histogram_quantile" => HistogramQuantile,
            "clamp" => Clamp,
            "clamp_min" => ClampMin,
            "clamp_max" => ClampMax,
            "round" => Round,
            "scalar" => Scalar,
            "vector" => Vector,
            "time" => Time,
            "timestamp" => Timestamp,
            "label_replace" => LabelReplace,
            "label_join" => LabelJoin,
            "sort" => Sort,
            "sort_desc" => SortDesc,
            "pi" => Pi,
            _ => return MathFn::from_name(name).map(Math).or_else(|| DateFn::from_name(name).map(Date)),
        })
    }
}

impl MathFn {
    fn from_name(name: &str) -> Option<MathFn> {
        use MathFn::*;
        Some(match name {
            "abs" => Abs,
            "ceil" => Ceil,
            "floor" => Floor,
            "sqrt" => Sqrt,
            "exp" => Exp,
            "ln" => Ln,
            "log2" => Log2,
            "log10" => Log10,
            "sgn" => Sgn,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "asin" => Asin,
            "acos" => Acos,
            "atan" => Atan,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "tanh" => Tanh,
            "asinh" => Asinh,
            "acosh" => Acosh,
            "atanh" => Atanh,
            "deg" => Deg,
            "rad" => Rad,
            _ => return None,
        })
    }

    fn apply(self, v: f64) -> f64 {
        use MathFn::*;
        match self {
            Abs => v.abs(),
            Ceil => v.ceil(),
            Floor => v.floor(),
            Sqrt => v.sqrt(),
            Exp => v.exp(),
            Ln => v.ln(),
            Log2 => v.log2(),
            Log10 => v.log10(),
            Sgn => go_sign(v),
            Sin => v.sin(),
            Cos => v.cos(),
            Tan => v.tan(),
            Asin => v.asin(),
            Acos => v.acos(),
            Atan => v.atan(),
            Sinh => v.sinh(),
            Cosh => v.cosh(),
            Tanh => v.tanh(),
            Asinh => v.asinh(),
            Acosh => v.acosh(),
            Atanh => v.atanh(),
            Deg => v * 180.0 / std::f64::consts::PI,
            Rad => v * std::f64::consts::PI / 180.0,
        }
    }
}

impl DateFn {
    fn from_name(name: &str) -> Option<DateFn> {
        use DateFn::*;
        Some(match name {
            "day_of_week" => DayOfWeek,
            "day_of_month" => DayOfMonth,
            "day_of_year" => DayOfYear,
            "days_in_month" => DaysInMonth,
            "hour" => Hour,
            "minute" => Minute,
            "month" => Month,
            "year" => Year,
            _ => return None,
        })
    }

    /// Applies the function to Unix seconds, truncated toward zero as Go's
    /// `int64()` conversion does; NaN for values outside the calendar.
    fn apply(self, seconds: f64) -> f64 {
        if !seconds.is_finite() {
            return f64::NAN;
        }
        let Ok(time) = time::OffsetDateTime::from_unix_timestamp(seconds.trunc() as i64) else {
            return f64::NAN;
        };
        use DateFn::*;
        f64::from(match self {
            DayOfWeek => u32::from(time.weekday().number_days_from_sunday()),
            DayOfMonth => u32::from(time.day()),
            DayOfYear => u32::from(time.ordinal()),
            DaysInMonth => u32::from(time.month().length(time.year())),
            Hour => u32::from(time.hour()),
            Minute => u32::from(time.minute()),
            Month => u32::from(u8::from(time.month())),
            Year => return f64::from(time.year()),
        })
    }
}

/// Tells whether `name` is a function of Prometheus 3 or of `promql-parser`,
/// supported by andon or not.
pub fn is_prometheus_function(name: &str) -> bool {
    const UNSUPPORTED: &[&str] = &[
        "double_exponential_smoothing",
        "holt_winters",
        "first_over_time",
        "histogram_avg",
        "histogram_count",
        "histogram_fraction",
        "histogram_quantiles",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_sum",
        "info",
        "integral",
        "mad_over_time",
        "max_of",
        "min_of",
        "range",
        "sort_by_label",
        "sort_by_label_desc",
        "start_timestamp",
        "step",
        "ts_of_first_over_time",
        "ts_of_last_over_time",
        "ts_of_max_over_time",
        "ts_of_min_over_time",
    ];
    Func::from_name(name).is_some() || UNSUPPORTED.contains(&name)
}

/// Evaluates a function call at `ts`.
pub fn call<'s>(ev: &Evaluator<'s>, func: Func, args: &[Node], regex: Option<&Regex>, ts: i64) -> Result<Value<'s>, ExprError> {
    let arg = |i: usize| args.get(i).ok_or_else(|| internal("missing function argument"));
    match func {
        Func::Time => Ok(Value::Scalar(ts as f64 / 1000.0)),
        Func::Pi => Ok(Value::Scalar(std::f64::consts::PI)),
        Func::Scalar => {
            let samples = ev.vector(arg(0)?, ts)?;
            Ok(Value::Scalar(if samples.len() == 1 { samples[0].value } else { f64::NAN }))
        }
        Func::Vector => {
            let value = ev.scalar(arg(0)?, ts)?;
            Ok(Value::Vector(vec![unlabelled(value, ts)]))
        }
        Func::Absent => {
            let present = !ev.vector(arg(0)?, ts)?.is_empty();
            Ok(Value::Vector(if present { Vec::new() } else { vec![absent_sample(arg(0)?, ts)] }))
        }
        Func::HistogramQuantile => {
            let q = ev.scalar(arg(0)?, ts)?;
            Ok(Value::Vector(histogram::quantile(q, ev.vector(arg(1)?, ts)?, ts)))
        }
        Func::Clamp => {
            let samples = ev.vector(arg(0)?, ts)?;
            let (min, max) = (ev.scalar(arg(1)?, ts)?, ev.scalar(arg(2)?, ts)?);
            if max < min {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(Value::Vector(map_values(samples, |v| go_max(min, go_min(max, v)))))
        }
        Func::ClampMin => {
            let samples = ev.vector(arg(0)?, ts)?;
            let min = ev.scalar(arg(1)?, ts)?;
            Ok(Value::Vector(map_values(samples, |v| go_max(v, min))))
        }
        Func::ClampMax => {
            let samples = ev.vector(arg(0)?, ts)?;
            let max = ev.scalar(arg(1)?, ts)?;
            Ok(Value::Vector(map_values(samples, |v| go_min(v, max))))
        }
        Func::Round => {
            let samples = ev.vector(arg(0)?, ts)?;
            let to_nearest = match args.get(1) {
                Some(node) => ev.scalar(node, ts)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            Ok(Value::Vector(map_values(samples, |v| (v * inverse + 0.5).floor() / inverse)))
        }
        Func::Math(f) => Ok(Value::Vector(map_values(ev.vector(arg(0)?, ts)?, |v| f.apply(v)))),
        Func::Date(f) => {
            let samples = match args.first() {
                Some(node) => ev.vector(node, ts)?,
                None => vec![unlabelled(ts as f64 / 1000.0, ts)],
            };
            Ok(Value::Vector(map_values(samples, |v| f.apply(v))))
        }
        Func::Timestamp => {
            // Only a plain selector yields its samples' own times; any other
            // expression's samples carry the evaluation time, as in Prometheus.
            let own_times = matches!(arg(0)?, Node::Selector(_));
            let mut samples = ev.vector(arg(0)?, ts)?;
            for sample in &mut samples {
                sample.value = if own_times { sample.t_ms } else { ts } as f64 / 1000.0;
                sample.drop_name = true;
            }
            Ok(Value::Vector(samples))
        }
        Func::Sort | Func::SortDesc => {
            let mut samples = ev.vector(arg(0)?, ts)?;
            sort_by_value(&mut samples, func == Func::SortDesc);
            Ok(Value::Vector(samples))
        }
        Func::LabelReplace => {
            let regex = regex.ok_or_else(|| internal("label_replace without a compiled regex"))?;
            label_replace(ev.vector(arg(0)?, ts)?, &string_args(args.get(1..).unwrap_or_default())?, regex).map(Value::Vector)
        }
        Func::LabelJoin => label_join(ev.vector(arg(0)?, ts)?, &string_args(args.get(1..).unwrap_or_default())?).map(Value::Vector),
        _ => range::call(ev, func, args, ts),
    }
}

fn string_args(args: &[Node]) -> Result<Vec<&str>, ExprError> {
    args.iter()
        .map(|a| match a {
            Node::String(s) => Ok(s.as_str()),
            _ => Err(internal("expected a string literal")),
        })
        .collect()
}

pub fn unlabelled<'s>(value: f64, ts: i64) -> Sample<'s> {
    Sample { labels: Cow::Owned(Labels::new()), origin: None, drop_name: false, value, t_ms: ts }
}

/// Maps every value and drops the metric name, as PromQL's math functions do.
fn map_values<'s>(mut samples: Vec<Sample<'s>>, f: impl Fn(f64) -> f64) -> Vec<Sample<'s>> {
    for sample in &mut samples {
        sample.value = f(sample.value);
        sample.drop_name = true;
    }
    samples
}

/// The sample `absent()` and `absent_over_time()` return: labels from the
/// equality matchers of a plain selector argument, except labels that other
/// matchers also constrain, as Prometheus builds them.
pub fn absent_sample<'s>(arg: &Node, ts: i64) -> Sample<'s> {
    let matchers: &[LabelMatcher] = match arg {
        Node::Selector(selector) | Node::Range { selector, .. } => &selector.matchers,
        _ => &[],
    };
    let mut labels = Labels::new();
    let mut seen: Vec<&str> = Vec::new();
    for matcher in matchers {
        let name = matcher.name();
        if name == METRIC_NAME {
            continue;
        }
        match matcher {
            LabelMatcher::Equal(_, value) if !seen.contains(&name) => {
                labels.set(name, value.as_str());
                seen.push(name);
            }
            _ => {
                labels.remove(name);
            }
        }
    }
    Sample { labels: Cow::Owned(labels), origin: None, drop_name: false, value: 1.0, t_ms: ts }
}

/// Sorts by value, NaN last in both directions, as `sort` and `sort_desc` do.
pub fn sort_by_value(samples: &mut [Sample<'_>], descending: bool) {
    samples.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) if descending => b.value.total_cmp(&a.value),
        (false, false) => a.value.total_cmp(&b.value),
    });
}

/// `label_replace(v, dst, replacement, src, regex)`.
fn label_replace<'s>(mut samples: Vec<Sample<'s>>, args: &[&str], regex: &Regex) -> Result<Vec<Sample<'s>>, ExprError> {
    let [dst, replacement, src, _pattern] = args else {
        return Err(internal("label_replace needs four string arguments"));
    };
    for sample in &mut samples {
        let source_value = sample.label(src).to_string();
        if let Some(captures) = regex.captures(&source_value) {
            let mut result = String::new();
            captures.expand(replacement, &mut result);
            sample.labels_mut().set(*dst, result);
        }
    }
    check_unique_labels(&samples)?;
    Ok(samples)
}

/// `label_join(v, dst, separator, src...)`.
fn label_join<'s>(mut samples: Vec<Sample<'s>>, args: &[&str]) -> Result<Vec<Sample<'s>>, ExprError> {
    let [dst, separator, sources @ ..] = args else {
        return Err(internal("label_join needs at least two string arguments"));
    };
    for sample in &mut samples {
        let joined = sources.iter().map(|s| sample.label(s)).collect::<Vec<_>>().join(separator);
        sample.labels_mut().set(*dst, joined);
    }
    check_unique_labels(&samples)?;
    Ok(samples)
}

/// Raises Prometheus's error for a vector with two equal label sets.
pub fn check_unique_labels(samples: &[Sample<'_>]) -> Result<(), ExprError> {
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    for sample in samples {
        if !seen.insert(sample.to_labels()) {
            return Err(duplicate_labels_error());
        }
    }
    Ok(())
}

pub fn duplicate_labels_error() -> ExprError {
    ExprError { offset: None, message: "vector cannot contain metrics with the same labelset".into() }
}

/// Go's `math.Max`: NaN if either is NaN.
pub fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN if either is NaN.
pub fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// `sgn()`: -1, 1, or the value itself for zeros and NaN.
fn go_sign(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

