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
    /// `# HELP`, `# TYPE` and `# UNIT` of each family, in body order.
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
    let mut builder = ReportBuilder { format, report: ParseReport::default() };
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
    Labels::from_pairs(
        std::iter::once((METRIC_NAME.to_string(), name.to_string()))
            .chain(labels.iter().map(|l| (l.name.to_string(), l.value.to_cow().into_owned()))),
    )
}

struct ReportBuilder {
    format: Format,
    report: ParseReport,
}

impl ReportBuilder {
    fn family(&mut self, name: &str) -> &mut FamilyMetadata {
        let families = &mut self.report.families;
        if families.last().is_none_or(|f| f.name != name) {
            families.push(FamilyMetadata { name: name.to_string(), ..FamilyMetadata::default() });
        }
        let last = families.len() - 1;
        &mut families[last]
    }
}

impl<'a> Visitor<'a> for ReportBuilder {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        self.report.samples.push(Sample {
            labels: owned_labels(sample.name, sample.labels),
            value: sample.value,
            timestamp_ms: sample.timestamp_ms,
            exemplar: sample.exemplar.map(|e| Exemplar {
                labels: Labels::from_pairs(e.labels.iter().map(|l| (l.name, l.value.to_cow().into_owned()))),
                value: e.value,
                timestamp_ms: e.timestamp_ms,
            }),
        });
    }

    fn help(&mut self, name: &'a str, text: &'a str) {
        let help = unescape_help(text, self.format);
        self.family(name).help = Some(help);
    }

    fn metric_type(&mut self, name: &'a str, kind: MetricType) {
        self.family(name).metric_type = Some(kind);
    }

    fn unit(&mut self, name: &'a str, unit: &'a str) {
        self.family(name).unit = Some(unit.to_string());
    }

    fn created(&mut self, sample: &SampleRef<'a, '_>) {
        let family = sample.name.strip_suffix("_created").unwrap_or(sample.name);
        if let Some(metadata) = self.report.families.iter_mut().rev().find(|f| f.name == family) {
            metadata.created_seconds.get_or_insert(sample.value);
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
