//! Parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.
//!
//! [`visit`] reads a body once and hands each kept sample to a
//! [`Visitor`] as borrowed data; [`parse`] builds owned [`Sample`]s on
//! top of it, and [`check_metrics`] prints a normalized listing.
//!
//! Both formats share one line reader. Text 0.0.4 is read the way
//! Prometheus reads it: spaces and tabs between tokens, CRLF line ends,
//! blank lines, trailing commas in label sets and integer millisecond
//! timestamps are accepted. OpenMetrics is read strictly by its 1.0 grammar
//! and rules: float-second timestamps, exemplars, `# UNIT`, `# EOF`, and
//! the checks that span lines (metadata before samples, contiguous
//! families and groups, histogram and summary consistency).
//!
//! A line that cannot be read gives a [`ParseError`] and is dropped alone;
//! the lines after it are still read.

mod check;
mod family;
mod labels;
mod lexer;
mod number;
mod series;
mod visit;

pub use check::check_metrics;
pub use family::MetricType;
pub use labels::{LabelRef, LabelValue};
pub use number::CanonicalFloat;
pub use visit::{visit, ExemplarRef, SampleRef, VisitSummary, Visitor};

use crate::labels::{Labels, METRIC_NAME};

/// The `Accept` header a scraper sends: OpenMetrics 1.0.0 first, then text
/// 0.0.4, then anything (read with the target's fallback format).
pub const ACCEPT_HEADER: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

/// Picks the format named by a response's `Content-Type`, or `None` when the
/// header is missing or names neither format.
pub fn format_from_content_type(content_type: Option<&str>) -> Option<Format> {
    let media_type = content_type?.split(';').next()?.trim();
    if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
        Some(Format::OpenMetrics)
    } else if media_type.eq_ignore_ascii_case("text/plain") {
        Some(Format::Text)
    } else {
        None
    }
}

/// One parsed sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// All labels, with the metric name as `__name__`.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the line carried a timestamp.
    pub timestamp_ms: Option<i64>,
    /// The exemplar after the value (OpenMetrics only).
    pub exemplar: Option<Exemplar>,
}

/// An exemplar: a sample of a trace or event that a counter or bucket
/// counted, kept apart from the sample's own value and timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// A line that could not be parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in bytes) where the problem was found.
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The outcome of parsing one body: every sample kept and every problem.
#[derive(Clone, Debug, Default)]
pub struct ParseReport {
    pub samples: Vec<Sample>,
    pub errors: Vec<ParseError>,
    /// Samples whose series already appeared earlier in the body.
    pub duplicates: usize,
    /// Samples skipped because no rule reads their metric name.
    pub filtered: usize,
    /// `_created` samples, folded into their counter, histogram or summary
    /// family instead of becoming series.
    pub created: usize,
    /// `# HELP`, `# TYPE` and `# UNIT` of each family that has a kept
    /// sample, in body order.
    pub families: Vec<FamilyMetadata>,
}

/// The metadata lines of one family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FamilyMetadata {
    pub name: String,
    pub metric_type: Option<MetricType>,
    /// Help text with its escapes resolved.
    pub help: Option<String>,
    pub unit: Option<String>,
    /// Creation time from the family's first `_created` sample, in seconds
    /// since the Unix epoch.
    pub created_seconds: Option<f64>,
}

/// Parses `body`, keeping only samples whose metric name `keep` accepts.
pub fn parse(body: &[u8], format: Format, keep: &dyn Fn(&str) -> bool) -> ParseReport {
    let mut builder = ReportBuilder {
        format,
        report: ParseReport::default(),
        pending: None,
    };
    let summary = visit(body, format, keep, &mut builder);
    let mut report = builder.report;
    report.errors = summary.errors;
    report.duplicates = summary.duplicates;
    report.filtered = summary.filtered;
    report.created = summary.created;
    report
}

/// Resolves the escapes of `# HELP` text: `\\` and `\n` in both formats,
/// and `\"` in OpenMetrics too.
pub fn unescape_help(text: &str, format: Format) -> String {
    labels::unescape_help(text, format == Format::OpenMetrics)
}

/// Builds an owned label set from a sample's borrowed name and labels.
pub fn owned_labels(name: &str, labels: &[LabelRef<'_>]) -> Labels {
    let mut pairs = Vec::with_capacity(labels.len() + 1);
    let mut name_written = false;
    for label in labels {
        // The visitor hands labels sorted by name, so `__name__` goes in
        // before the first label that sorts after it.
        if !name_written && label.name > METRIC_NAME {
            pairs.push((METRIC_NAME.to_string(), name.to_string()));
            name_written = true;
        }
        pairs.push((label.name.to_string(), label.value.to_cow().into_owned()));
    }
    if !name_written {
        pairs.push((METRIC_NAME.to_string(), name.to_string()));
    }
    Labels::from_sorted_pairs(pairs)
}

/// The metadata lines of the family being read, kept borrowed until one of
/// its samples is kept, so that families that `keep` filters out cost no
/// allocation.
struct PendingFamily<'a> {
    name: &'a str,
    help: Option<&'a str>,
    metric_type: Option<MetricType>,
    unit: Option<&'a str>,
    recorded: bool,
}

struct ReportBuilder<'a> {
    format: Format,
    report: ParseReport,
    pending: Option<PendingFamily<'a>>,
}

impl<'a> ReportBuilder<'a> {
    fn pending(&mut self, name: &'a str) -> &mut PendingFamily<'a> {
        if self.pending.as_ref().is_some_and(|p| p.name != name) {
            self.pending = None;
        }
        self.pending.get_or_insert(PendingFamily {
            name,
            help: None,
            metric_type: None,
            unit: None,
            recorded: false,
        })
    }

    /// Adds the pending family to the report when `sample_name` is one of
    /// its samples; returns whether the report's last family is it.
    fn record_family_of(&mut self, sample_name: &str) -> bool {
        let Some(pending) = self.pending.as_mut() else {
            return false;
        };
        const SAMPLE_SUFFIXES: [&str; 9] = [
            "", "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
        ];
        let owned = sample_name
            .strip_prefix(pending.name)
            .is_some_and(|rest| SAMPLE_SUFFIXES.contains(&rest));
        if !owned {
            return false;
        }
        if !pending.recorded {
            pending.recorded = true;
            let metadata = FamilyMetadata {
                name: pending.name.to_string(),
                metric_type: pending.metric_type,
                help: pending.help.map(|text| unescape_help(text, self.format)),
                unit: pending.unit.map(str::to_string),
                created_seconds: None,
            };
            self.report.families.push(metadata);
        }
        true
    }

    /// Applies a metadata line that follows samples already recorded.
    fn update_recorded(&mut self, name: &str, apply: impl FnOnce(&mut FamilyMetadata)) {
        if let Some(last) = self.report.families.last_mut().filter(|f| f.name == name) {
            if self
                .pending
                .as_ref()
                .is_some_and(|p| p.recorded && p.name == name)
            {
                apply(last);
            }
        }
    }
}

impl<'a> Visitor<'a> for ReportBuilder<'a> {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        self.record_family_of(sample.name);
        self.report.samples.push(Sample {
            labels: owned_labels(sample.name, sample.labels),
            value: sample.value,
            timestamp_ms: sample.timestamp_ms,
            exemplar: sample.exemplar.map(|e| Exemplar {
                labels: Labels::from_pairs(
                    e.labels
                        .iter()
                        .map(|l| (l.name, l.value.to_cow().into_owned())),
                ),
                value: e.value,
                timestamp_ms: e.timestamp_ms,
            }),
        });
    }

    fn help(&mut self, name: &'a str, text: &'a str) {
        self.pending(name).help = Some(text);
        let format = self.format;
        self.update_recorded(name, |f| f.help = Some(unescape_help(text, format)));
    }

    fn metric_type(&mut self, name: &'a str, kind: MetricType) {
        self.pending(name).metric_type = Some(kind);
        self.update_recorded(name, |f| f.metric_type = Some(kind));
    }

    fn unit(&mut self, name: &'a str, unit: &'a str) {
        self.pending(name).unit = Some(unit);
        self.update_recorded(name, |f| f.unit = Some(unit.to_string()));
    }

    fn created(&mut self, sample: &SampleRef<'a, '_>) {
        if self.record_family_of(sample.name) {
            if let Some(family) = self.report.families.last_mut() {
                family.created_seconds.get_or_insert(sample.value);
            }
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
