//! The line loop: reads a body once and hands every kept sample to a
//! [`Visitor`] as borrowed data, with no heap allocation per valid sample.

use super::family::{Families, FamilyError, Meta, MetricType, Resolved, SampleFacts};
use super::labels::{LabelRef, LabelValue};
use super::lexer::{self, same_bytes, Comment, LineError, RawTimestamp, SampleLine};
use super::number::{parse_real, parse_value, CanonicalFloat};
use super::series::{group_stem, is_canonical, SeriesError, SeriesKey, SeriesSet};
use super::{Format, ParseError};

/// One sample, borrowed from the body (`'a`) and from the reader's
/// reusable buffers (`'b`).
#[derive(Debug)]
pub struct SampleRef<'a, 'b> {
    pub name: &'a str,
    /// The series as the body writes it: from the first byte of the metric
    /// name through the closing `}` of the label set, or through the end of
    /// the name when the line has no label set. Two samples of one body
    /// with equal `series_text` are the same series. The converse does not
    /// hold: labels written in another order, escaped differently or with
    /// another bound spelling (`le="1.0"` and `le="1"`) give a different
    /// text for the same series, which [`Visitor::duplicate`] still catches.
    pub series_text: &'a str,
    /// Labels sorted by name, with unique names and no empty values.
    /// `le` and `quantile` bounds are in canonical form.
    pub labels: &'b [LabelRef<'a>],
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<ExemplarRef<'a, 'b>>,
    /// 1-based line number in the body.
    pub line: usize,
}

/// An exemplar attached to a sample (OpenMetrics only).
#[derive(Clone, Copy, Debug)]
pub struct ExemplarRef<'a, 'b> {
    /// Labels sorted by name.
    pub labels: &'b [LabelRef<'a>],
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// Receives what a body contains, in body order.
pub trait Visitor<'a> {
    /// Called once for each kept sample that is valid and not a duplicate.
    fn sample(&mut self, sample: &SampleRef<'a, '_>);

    /// Called for each `# HELP` line; `text` still has its escapes, which
    /// [`unescape_help`](super::unescape_help) resolves.
    fn help(&mut self, _name: &'a str, _text: &'a str) {}

    fn metric_type(&mut self, _name: &'a str, _kind: MetricType) {}

    fn unit(&mut self, _name: &'a str, _unit: &'a str) {}

    /// Called for each `_created` sample of a counter, histogram or summary:
    /// its value is the family's creation time in seconds, not a series.
    fn created(&mut self, _sample: &SampleRef<'a, '_>) {}

    /// Called for each kept sample whose series already appeared earlier in
    /// the body; the earlier value is the one kept.
    fn duplicate(&mut self, _sample: &SampleRef<'a, '_>) {}
}

/// Counts and problems from one pass over a body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VisitSummary {
    pub errors: Vec<ParseError>,
    /// Samples whose series already appeared earlier in the body; the first
    /// sample of each series is the one passed on.
    pub duplicates: usize,
    /// Sample lines skipped because `keep` rejected their metric name.
    pub filtered: usize,
    /// `_created` samples folded into their family.
    pub created: usize,
}

/// Reads `body` and calls `visitor` for every sample whose metric name
/// `keep` accepts. A line that `keep` rejects is skipped before anything
/// else is read from it, so it is not checked for errors either. `keep`
/// is not asked again about the names it rejected and accepted most
/// recently, so it must return the same result for the same name.
pub fn visit<'a, K, V>(body: &'a [u8], format: Format, keep: K, visitor: &mut V) -> VisitSummary
where
    K: FnMut(&str) -> bool,
    V: Visitor<'a> + ?Sized,
{
    let mut reader = Reader {
        format,
        keep,
        families: Families::new(format),
        labels: Vec::with_capacity(16),
        exemplar_labels: Vec::new(),
        series: SeriesSet::new(body, format),
        added_series: false,
        scratch: Vec::new(),
        last_sample_name: None,
        last_rejected: &[],
        last_accepted: &[],
        recent_name: &[],
        body,
        line_span: (0, 0),
        ascii_until: 0,
        family_errors: Vec::new(),
        summary: VisitSummary::default(),
    };
    reader.read_body(visitor);
    reader.summary
}

/// Timestamp of a series' last sample in float seconds, for the
/// OpenMetrics rule that timestamps of a series never go back.
type LastTimestamp = Option<f64>;

/// The findings of the label and family checks on one sample line.
struct CheckedLabels {
    resolved: Resolved,
    /// True when the line's series text is the series' canonical text.
    written_canonical: bool,
}

struct Reader<'a, K> {
    format: Format,
    keep: K,
    families: Families,
    labels: Vec<LabelRef<'a>>,
    exemplar_labels: Vec<LabelRef<'a>>,
    /// Every series met so far, for the duplicate check.
    series: SeriesSet<'a>,
    /// Set when the line being read added a new series.
    added_series: bool,
    /// Reused buffer for unescaping label values while hashing groups.
    scratch: Vec<u8>,
    /// The name of the last sample line whose family was resolved, and
    /// its family. Lines of one family come together, so a line that
    /// repeats the name reuses the family without resolving it again.
    /// Cleared by every metadata line, which can change the family.
    last_sample_name: Option<(&'a str, Resolved)>,
    /// The metric name of the last line that `keep` rejected.
    last_rejected: &'a [u8],
    /// The metric name of the last line that `keep` accepted.
    last_accepted: &'a [u8],
    /// The metric name of the last metadata line or accepted sample line.
    /// The next line often has the same name (`# TYPE` after `# HELP`, the
    /// first sample after `# TYPE`), and comparing with it is cheaper than
    /// scanning the name.
    recent_name: &'a [u8],
    body: &'a [u8],
    /// Offsets in the body of the first byte and of the line end of the
    /// line being read.
    line_span: (usize, usize),
    /// End of the current ASCII run. Every byte from the start of the line
    /// where the run began up to this offset is ASCII, so a later line
    /// that ends there is valid UTF-8 without a check of its own. Advanced
    /// only for lines that are read past `keep`, so that a filtered parse
    /// does not scan the lines it skips.
    ascii_until: usize,
    family_errors: Vec<FamilyError>,
    summary: VisitSummary,
}

impl<'a, K: FnMut(&str) -> bool> Reader<'a, K> {
    fn read_body<V: Visitor<'a> + ?Sized>(&mut self, visitor: &mut V) {
        let body = self.body;
        let mut start = 0;
        let mut line_number = 0;
        let mut eof_line = None;
        while start < body.len() {
            line_number += 1;
            prefetch_ahead(body, start);
            let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |i| start + i);
            self.line_span = (start, end);
            let line = &body[start..end];
            start = end + 1;
            if let Some(eof) = eof_line {
                self.error(
                    line_number,
                    1,
                    format!("unexpected text after \"# EOF\" on line {eof}"),
                );
                break;
            }
            if self.read_line(line_number, line, visitor) {
                eof_line = Some(line_number);
            }
            if !std::mem::take(&mut self.added_series) {
                self.series.line_added_nothing();
            }
            if !self.family_errors.is_empty() {
                self.flush_family_errors();
            }
        }
        self.families.finish(&mut self.family_errors);
        self.flush_family_errors();
        if self.format == Format::OpenMetrics && eof_line.is_none() {
            self.error(
                line_number + 1,
                1,
                "missing \"# EOF\" at the end of the OpenMetrics body".to_string(),
            );
        }
    }

    fn flush_family_errors(&mut self) {
        if self.family_errors.is_empty() {
            return;
        }
        for problem in self.family_errors.drain(..) {
            self.summary.errors.push(ParseError {
                line: problem.line,
                column: 1,
                message: problem.message,
            });
        }
    }

    fn error(&mut self, line: usize, column: usize, message: String) {
        self.summary.errors.push(ParseError {
            line,
            column,
            message,
        });
    }

    /// Reads one line without its newline; returns true for `# EOF`.
    fn read_line<V: Visitor<'a> + ?Sized>(
        &mut self,
        number: usize,
        mut line: &'a [u8],
        visitor: &mut V,
    ) -> bool {
        let mut skipped = 0;
        if self.format == Format::Text {
            // Text 0.0.4 bodies may use CRLF and indent lines.
            line = line.strip_suffix(b"\r").unwrap_or(line);
            skipped = line
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            line = &line[skipped..];
            if line.is_empty() {
                return false;
            }
        }
        if line.is_empty() {
            self.error(
                number,
                1,
                "blank lines are not allowed in OpenMetrics".to_string(),
            );
            return false;
        }
        let mut name_len = 0;
        if line[0] != b'#' {
            match self.select(line) {
                Some(len) => name_len = len,
                None => return false,
            }
        }
        let checked = if self.line_in_ascii_run() {
            // SAFETY: the line is part of `body[start..end]` for the line
            // span, whose bytes `line_in_ascii_run` found to be ASCII, and
            // every ASCII byte sequence is valid UTF-8.
            Ok(unsafe { std::str::from_utf8_unchecked(line) })
        } else {
            line_to_str(line)
        };
        let text = match checked {
            Ok(text) => text,
            Err(e) => {
                self.error(
                    number,
                    skipped + e.valid_up_to() + 1,
                    "invalid UTF-8".to_string(),
                );
                return false;
            }
        };
        let result = if line[0] == b'#' {
            self.read_comment(text, visitor)
        } else {
            self.read_sample(number, text, name_len, visitor)
                .map(|()| false)
        };
        match result {
            Ok(is_eof) => is_eof,
            Err(e) => {
                self.error(number, skipped + e.offset + 1, e.message);
                false
            }
        }
    }

    /// Returns whether every byte of the line being read is ASCII, scanning
    /// the body as far as needed. After a line that was scanned too, the
    /// scan reads `ASCII_SCAN_AHEAD` bytes ahead, so that it runs once for
    /// many lines. After a line that `keep` skipped, it reads only the
    /// line, because the lines that follow may be skipped as well.
    fn line_in_ascii_run(&mut self) -> bool {
        let (start, end) = self.line_span;
        if self.ascii_until >= end {
            return true;
        }
        self.ascii_until = if self.ascii_until >= start {
            extend_ascii_run(self.body, self.ascii_until, end)
        } else {
            let run_end = start + non_ascii_offset(&self.body[start..end]);
            // The newline after a clean line is ASCII too, so the run
            // reaches the start of the next line, which then scans ahead.
            if run_end == end {
                end + 1
            } else {
                run_end
            }
        };
        end <= self.ascii_until
    }

    /// Asks `keep` about the line's metric name. Returns `None` when the
    /// line is to be skipped, and otherwise the length of its metric name
    /// (0 when it has none, which the full parse reports). Exporters write
    /// a family's series together, so the name that `keep` rejected last
    /// and the name it accepted last are remembered, and a line that
    /// starts with either is decided without scanning its name or asking
    /// again.
    fn select(&mut self, line: &'a [u8]) -> Option<usize> {
        if lexer::starts_with_name(line, self.last_accepted) {
            return Some(self.last_accepted.len());
        }
        if lexer::starts_with_name(line, self.last_rejected) {
            self.note_filtered(self.last_rejected);
            return None;
        }
        let name_len = lexer::metric_name_len_hinted(line, self.recent_name);
        if name_len == 0 {
            return Some(0);
        }
        let name_bytes = &line[..name_len];
        // The name scanner accepts only ASCII bytes, so this conversion
        // cannot fail. An invalid name is left for the full parse to report.
        let Ok(name) = line_to_str(name_bytes) else {
            return Some(name_len);
        };
        if (self.keep)(name) {
            self.last_accepted = name_bytes;
            self.recent_name = name_bytes;
            return Some(name_len);
        }
        self.last_rejected = name_bytes;
        self.note_filtered(name_bytes);
        None
    }

    /// Counts a sample line that `keep` rejected, and in OpenMetrics
    /// reports it to the family checks.
    fn note_filtered(&mut self, name: &[u8]) {
        self.summary.filtered += 1;
        if self.format == Format::OpenMetrics {
            if let Ok(name) = line_to_str(name) {
                self.families.note_filtered(name);
            }
        }
    }

    fn read_comment<V: Visitor<'a> + ?Sized>(
        &mut self,
        line: &'a str,
        visitor: &mut V,
    ) -> Result<bool, LineError> {
        let at_start = |message: String| LineError { offset: 0, message };
        self.last_sample_name = None;
        let comment = lexer::parse_comment(line, self.format, self.recent_name)?;
        if let Comment::Help { name, .. }
        | Comment::Type { name, .. }
        | Comment::Unit { name, .. } = comment
        {
            self.recent_name = name.as_bytes();
        }
        match comment {
            Comment::Eof => return Ok(true),
            Comment::Other => {}
            Comment::Help { name, text } => {
                self.families
                    .metadata(name, Meta::Help, &mut self.family_errors)
                    .map_err(at_start)?;
                visitor.help(name, text);
            }
            Comment::Unit { name, unit } => {
                self.families
                    .metadata(name, Meta::Unit(unit), &mut self.family_errors)
                    .map_err(at_start)?;
                visitor.unit(name, unit);
            }
            Comment::Type {
                name,
                kind,
                kind_offset,
            } => {
                let parsed = MetricType::parse(kind, self.format).ok_or_else(|| LineError {
                    offset: kind_offset,
                    message: format!("invalid metric type \"{kind}\""),
                })?;
                self.families
                    .metadata(name, Meta::Type(parsed), &mut self.family_errors)
                    .map_err(at_start)?;
                visitor.metric_type(name, parsed);
            }
        }
        Ok(false)
    }

    fn read_sample<V: Visitor<'a> + ?Sized>(
        &mut self,
        number: usize,
        line: &'a str,
        name_len: usize,
        visitor: &mut V,
    ) -> Result<(), LineError> {
        let parsed = lexer::parse_sample_line(
            line,
            name_len,
            self.format,
            &mut self.labels,
            &mut self.exemplar_labels,
        )?;
        let checked = self.check_labels_and_family(number, &parsed)?;
        self.deliver(number, line, &parsed, checked, visitor)
    }

    /// Resolves the sample's family, puts its labels in canonical order and
    /// form, and applies the checks that can reject it.
    fn check_labels_and_family(
        &mut self,
        number: usize,
        parsed: &SampleLine<'a>,
    ) -> Result<CheckedLabels, LineError> {
        let at_start = |message: String| LineError { offset: 0, message };
        let resolved = match self.last_sample_name {
            Some((name, resolved)) if same_bytes(name.as_bytes(), parsed.name.as_bytes()) => {
                resolved
            }
            _ => {
                let resolved = self
                    .families
                    .resolve(parsed.name, &mut self.family_errors)
                    .map_err(at_start)?;
                self.last_sample_name = Some((parsed.name, resolved));
                self.series.enter_group(group_stem(parsed.name));
                resolved
            }
        };
        let mut bound_rewritten = false;
        let bound = canonicalize_bound(
            &mut self.labels,
            resolved.bound_label(),
            self.format,
            &mut bound_rewritten,
        );
        let name_label = self
            .labels
            .iter()
            .find(|l| l.name == crate::labels::METRIC_NAME);
        if let Some(label) = name_label {
            return Err(LineError {
                offset: label.offset,
                message: format!("label \"{}\" repeats the metric name", label.name),
            });
        }

        let reordered = sort_and_check_unique(&mut self.labels)?;
        sort_and_check_unique(&mut self.exemplar_labels)?;
        if self.format == Format::OpenMetrics {
            let facts = self.facts(parsed, resolved, bound, number);
            self.families
                .check_sample(&facts, &mut self.family_errors)
                .map_err(at_start)?;
        }
        self.labels.retain(|label| !label.value.is_empty());
        let written_canonical = !reordered
            && !bound_rewritten
            && is_canonical(parsed.series_text, parsed.name, &self.labels);
        Ok(CheckedLabels {
            resolved,
            written_canonical,
        })
    }

    /// Hands the sample to the visitor unless it is a `_created` sample or
    /// repeats a series met earlier in the body.
    fn deliver<V: Visitor<'a> + ?Sized>(
        &mut self,
        number: usize,
        line: &'a str,
        parsed: &SampleLine<'a>,
        checked: CheckedLabels,
        visitor: &mut V,
    ) -> Result<(), LineError> {
        let sample = SampleRef {
            name: parsed.name,
            series_text: parsed.series_text,
            labels: &self.labels,
            value: parsed.value,
            timestamp_ms: parsed.timestamp.map(RawTimestamp::to_ms),
            exemplar: parsed.exemplar.map(|e| ExemplarRef {
                labels: &self.exemplar_labels,
                value: e.value,
                timestamp_ms: e.timestamp.map(|s| RawTimestamp::Seconds(s).to_ms()),
            }),
            line: number,
        };
        if checked.resolved.is_created() {
            self.summary.created += 1;
            visitor.created(&sample);
            return Ok(());
        }

        let key = if checked.written_canonical {
            SeriesKey::Written(parsed.series_text)
        } else {
            SeriesKey::Labels {
                line,
                name: parsed.name,
                labels: &self.labels,
                bound: checked.resolved.bound_label(),
            }
        };
        let timestamp = parsed.timestamp.map(RawTimestamp::ordering_key);
        let repeat = self
            .series
            .insert(key, timestamp, line)
            .map_err(|e| LineError {
                offset: 0,
                message: match e {
                    SeriesError::TooLong => {
                        "line is 4 GiB or longer, which the duplicate check cannot record"
                    }
                    SeriesError::OutsideBody => "internal error: series text outside the body",
                }
                .to_string(),
            })?;
        let Some(last) = repeat else {
            self.added_series = true;
            visitor.sample(&sample);
            return Ok(());
        };
        if self.format == Format::OpenMetrics {
            let previous = (!last.is_nan()).then_some(*last);
            check_timestamp_order(previous, timestamp, parsed.value_offset)?;
            *last = timestamp.unwrap_or(f64::NAN);
        }
        self.summary.duplicates += 1;
        visitor.duplicate(&sample);
        Ok(())
    }

    fn facts<'s>(
        &mut self,
        parsed: &SampleLine<'a>,
        resolved: Resolved,
        bound: Result<f64, &'s str>,
        line: usize,
    ) -> SampleFacts<'s> {
        let family_name = &parsed.name[..parsed.name.len() - resolved.suffix.len()];
        let exemplar_chars = parsed.exemplar.map(|_| {
            self.exemplar_labels
                .iter()
                .map(|l| l.name.chars().count() + l.value.char_count())
                .sum()
        });
        let mut scratch = std::mem::take(&mut self.scratch);
        let group_key = group_hash(&self.labels, resolved, family_name, &mut scratch);
        self.scratch = scratch;
        SampleFacts {
            resolved,
            value: parsed.value,
            bound,
            has_state_label: self.labels.iter().any(|l| l.name == family_name),
            exemplar_chars,
            group_key,
            line,
        }
    }
}

/// How far ahead of the line being read the body is prefetched, in bytes.
/// Far enough that the load is done when the reader gets there (about a
/// dozen lines of a typical exporter), near enough to stay in cache.
const PREFETCH_DISTANCE: usize = 1024;

/// Asks the processor to load the body `PREFETCH_DISTANCE` bytes ahead of
/// `offset` into cache. A body larger than the cache is read from memory
/// once, and without this hint each line waited for its first cache line,
/// about a sixth of the parse of an 84 MB body.
fn prefetch_ahead(body: &[u8], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = body.get(offset + PREFETCH_DISTANCE) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE, which the intrinsic needs, is part of every x86_64
        // processor. A prefetch only hints the cache: it changes no memory
        // that the program reads and cannot fault, and the pointer is in bounds.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (body, offset);
}

/// How far past the end of the line being read the ASCII scan goes, in
/// bytes. The scan then runs about once per 60 lines of node_exporter's
/// body, and the bytes it reads are still in cache when their lines are
/// parsed.
const ASCII_SCAN_AHEAD: usize = 4096;

/// Scans `body` from `from`, which is at most `line_end`, and returns the
/// offset of its first byte that is not ASCII, stopping at
/// `ASCII_SCAN_AHEAD` bytes past `line_end` or at the end of the body.
fn extend_ascii_run(body: &[u8], from: usize, line_end: usize) -> usize {
    let limit = body.len().min(line_end.saturating_add(ASCII_SCAN_AHEAD));
    from + non_ascii_offset(&body[from..limit])
}

/// Returns the offset of the first byte of `bytes` that is not ASCII, or
/// `bytes.len()` when all are. The 64-byte blocks compile to a few vector
/// ORs each. In a `perf` profile of the full parse of node_exporter's body
/// this scan took 2% of the time, where the check per line had taken 9%.
fn non_ascii_offset(bytes: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let mut offset = 0;
    for block in bytes.chunks_exact(BLOCK) {
        let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
            break;
        };
        let high_bits = block
            .chunks_exact(8)
            .fold(0u64, |acc, w| acc | u64::from_ne_bytes(lexer::word(w)));
        if high_bits & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        offset += BLOCK;
    }
    let rest = &bytes[offset..];
    offset + rest.iter().position(|&b| b >= 0x80).unwrap_or(rest.len())
}

/// Converts a line to `&str`, checking the common all-ASCII case first
/// because it is several times faster than full UTF-8 validation on short
/// lines.
fn line_to_str(line: &[u8]) -> Result<&str, std::str::Utf8Error> {
    // An OR over every 8-byte word, without early exit, then one test of
    // the high bits. The standard `is_ascii` checks short lines one byte at
    // a time.
    let mut words = line.chunks_exact(8);
    let high_bits = (&mut words).fold(0u64, |acc, w| acc | u64::from_ne_bytes(lexer::word(w)));
    let tail = words.remainder().iter().fold(0u8, |acc, &b| acc | b);
    let all_ascii = high_bits & 0x8080_8080_8080_8080 == 0 && tail < 0x80;
    if all_ascii {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(line) });
    }
    std::str::from_utf8(line)
}

fn check_timestamp_order(
    last: LastTimestamp,
    current: LastTimestamp,
    offset: usize,
) -> Result<(), LineError> {
    let message = match (last, current) {
        (Some(_), None) | (None, Some(_)) => {
            "a series must have a timestamp on all of its samples or on none"
        }
        (Some(previous), Some(now)) if now < previous => {
            "timestamp is older than the previous sample of this series"
        }
        _ => return Ok(()),
    };
    Err(LineError {
        offset,
        message: message.to_string(),
    })
}

/// Rewrites the `le` or `quantile` label of a bucket or quantile sample in
/// canonical form, and returns its numeric value, or the text that is not
/// a number (`""` when the label is missing). Sets `rewritten` when the
/// canonical text differs from the written one.
fn canonicalize_bound<'a>(
    labels: &mut [LabelRef<'a>],
    bound_label: Option<&str>,
    format: Format,
    rewritten: &mut bool,
) -> Result<f64, &'a str> {
    let Some(bound_label) = bound_label else {
        return Err("");
    };
    let Some(label) = labels.iter_mut().find(|l| l.name == bound_label) else {
        return Err("");
    };
    let text = match label.value {
        LabelValue::Plain(text) | LabelValue::Escaped(text) => text,
        LabelValue::Canonical(_) => return Err(""),
    };
    let number = match format {
        // OpenMetrics writes bounds as plain reals or exactly `+Inf`.
        Format::OpenMetrics => match text {
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            _ => parse_real(text),
        },
        Format::Text => parse_value(text),
    };
    let number = number.ok_or(text)?;
    let canonical = CanonicalFloat::of_text(text, number);
    *rewritten = canonical.as_str() != text;
    label.value = LabelValue::Canonical(canonical);
    Ok(number)
}

/// Puts the labels of a line that passed every check in canonical form
/// again: `bound` rewritten, sorted by name, without empty values.
pub(crate) fn canonicalize_labels(
    labels: &mut Vec<LabelRef<'_>>,
    bound: Option<&str>,
    format: Format,
) {
    let _ = canonicalize_bound(labels, bound, format, &mut false);
    // The line passed the check for repeated names when it was first read.
    let _ = sort_and_check_unique(labels);
    labels.retain(|label| !label.value.is_empty());
}

/// Compares the first bytes before calling the full comparison, because
/// neighbouring label names nearly always differ there.
fn name_greater(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x > y,
        _ => a > b,
    }
}

/// Sorts labels by name and rejects a repeated name. Returns whether the
/// order changed.
fn sort_and_check_unique(labels: &mut [LabelRef<'_>]) -> Result<bool, LineError> {
    // Exporters nearly always write labels sorted, so insertion sort is
    // linear here and needs no allocation.
    let mut reordered = false;
    for i in 1..labels.len() {
        let mut j = i;
        while j > 0 && name_greater(labels[j - 1].name, labels[j].name) {
            labels.swap(j - 1, j);
            reordered = true;
            j -= 1;
        }
    }
    match labels.windows(2).find(|pair| pair[0].name == pair[1].name) {
        Some(pair) => {
            let second = if pair[0].offset > pair[1].offset {
                pair[0]
            } else {
                pair[1]
            };
            Err(LineError {
                offset: second.offset,
                message: format!("duplicate label name \"{}\"", second.name),
            })
        }
        None => Ok(reordered),
    }
}

/// Hashes the labels that identify a sample's group within its family:
/// all labels except the bucket or quantile bound, all but the state label
/// of a state set, and none for an info family.
fn group_hash(
    labels: &[LabelRef<'_>],
    resolved: Resolved,
    family_name: &str,
    scratch: &mut Vec<u8>,
) -> u64 {
    let skipped = match resolved.kind {
        MetricType::Info => return 0,
        MetricType::StateSet => Some(family_name),
        _ => resolved.bound_label(),
    };
    let mut hasher = SeriesHasher::new();
    for label in labels
        .iter()
        .filter(|l| Some(l.name) != skipped && !l.value.is_empty())
    {
        hasher.write_label(label, scratch);
    }
    hasher.finish() as u64
}

/// A two-lane 128-bit hash over a sequence of byte strings, eight bytes at
/// a time; each string's length is mixed in, so field boundaries count.
/// Not meant for keys that an attacker chooses to collide: a collision
/// only merges two series of one body.
struct SeriesHasher {
    a: u64,
    b: u64,
}

impl SeriesHasher {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;

    fn new() -> Self {
        SeriesHasher {
            a: 0x243f_6a88_85a3_08d3,
            b: 0x1319_8a2e_0370_7344,
        }
    }

    fn mix(&mut self, word: u64) {
        self.a = (self.a ^ word).wrapping_mul(Self::K1).rotate_left(31);
        self.b = (self.b ^ word.rotate_left(17))
            .wrapping_mul(Self::K2)
            .rotate_left(27);
    }

    fn write_field(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            self.mix(u64::from_le_bytes(buf));
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        self.mix(u64::from_le_bytes(tail));
        self.mix(bytes.len() as u64);
    }

    /// Hashes a label's name and unescaped value.
    fn write_label(&mut self, label: &LabelRef<'_>, scratch: &mut Vec<u8>) {
        self.write_field(label.name.as_bytes());
        match label.value {
            LabelValue::Plain(text) => self.write_field(text.as_bytes()),
            LabelValue::Canonical(number) => self.write_field(number.as_str().as_bytes()),
            LabelValue::Escaped(_) => {
                scratch.clear();
                label
                    .value
                    .for_each_chunk(|chunk| scratch.extend_from_slice(chunk.as_bytes()));
                self.write_field(scratch);
            }
        }
    }

    fn finish(self) -> u128 {
        (u128::from(fmix64(self.a)) << 64) | u128::from(fmix64(self.b ^ self.a.rotate_left(32)))
    }
}

/// MurmurHash3's 64-bit finalizer: spreads every input bit over the output.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ignore;

    impl<'a> Visitor<'a> for Ignore {
        fn sample(&mut self, _sample: &SampleRef<'a, '_>) {}
    }

    struct Names(Vec<String>);

    impl<'a> Visitor<'a> for Names {
        fn sample(&mut self, sample: &SampleRef<'a, '_>) {
            self.0.push(sample.name.to_string());
        }
    }

    /// Returns the (line, column, message) of each error in a text body.
    fn text_errors(body: &[u8]) -> Vec<(usize, usize, String)> {
        let summary = visit(body, Format::Text, |_: &str| true, &mut Ignore);
        summary
            .errors
            .into_iter()
            .map(|e| (e.line, e.column, e.message))
            .collect()
    }

    fn invalid_utf8_at(line: usize, column: usize) -> Vec<(usize, usize, String)> {
        vec![(line, column, "invalid UTF-8".to_string())]
    }

    #[test]
    fn invalid_utf8_in_label_value_reported_at_byte() {
        let errors = text_errors(b"a 1\nb{x=\"\xff\"} 2\nc 3\n");
        assert_eq!(errors, invalid_utf8_at(2, 6));
    }

    #[test]
    fn invalid_utf8_skips_only_its_line() {
        let mut names = Names(Vec::new());
        visit(
            b"a 1\nb{x=\"\xff\"} 2\nc 3\n",
            Format::Text,
            |_: &str| true,
            &mut names,
        );
        assert_eq!(names.0, ["a", "c"]);
    }

    #[test]
    fn invalid_utf8_after_valid_non_ascii_line() {
        let errors = text_errors("a{x=\"é\"} 1\nb 2\n".as_bytes());
        assert_eq!(errors, vec![]);
        let errors = text_errors(b"a{x=\"\xc3\xa9\"} 1\nb 2\nc{x=\"\xc3\"} 3\n");
        assert_eq!(errors, invalid_utf8_at(3, 6));
    }

    #[test]
    fn invalid_utf8_in_help_text() {
        let errors = text_errors(b"# HELP a caf\xe9\na 1\n");
        assert_eq!(errors, invalid_utf8_at(1, 13));
    }

    #[test]
    fn invalid_utf8_reported_before_syntax_error() {
        let errors = text_errors(b"a{x=1,y=\"\xff\"} 1\n");
        assert_eq!(errors, invalid_utf8_at(1, 10));
    }

    #[test]
    fn invalid_utf8_column_counts_indent() {
        let errors = text_errors(b"  a{x=\"\xff\"} 1\n");
        assert_eq!(errors, invalid_utf8_at(1, 8));
    }

    #[test]
    fn invalid_utf8_far_past_scan_window() {
        // 1,000 lines of 10 bytes put the bad line about 10,000 bytes in,
        // past the 4 KiB that the first scan reads ahead.
        let mut body = Vec::new();
        for i in 0..1000 {
            body.extend_from_slice(format!("m{i:04} 1.0\n").as_bytes());
        }
        body.extend_from_slice(b"bad{x=\"\x80\"} 1\nlast 1\n");
        let errors = text_errors(&body);
        assert_eq!(errors, invalid_utf8_at(1001, 8));
    }

    #[test]
    fn invalid_utf8_on_every_line_of_window() {
        let mut body = Vec::new();
        for _ in 0..600 {
            body.extend_from_slice(b"a{x=\"\xff\"} 1\n");
        }
        let errors = text_errors(&body);
        assert_eq!(errors.len(), 600);
    }

    #[test]
    fn invalid_utf8_in_kept_lines_between_skipped_ones() {
        let body = b"skip{x=\"\xff\"} 1\nkeep 1\nskip 2\nkeep{x=\"\xff\"} 2\nkeep{y=\"1\"} 3\n";
        let summary = visit(body, Format::Text, |name: &str| name == "keep", &mut Ignore);
        let errors: Vec<_> = summary
            .errors
            .into_iter()
            .map(|e| (e.line, e.column, e.message))
            .collect();
        assert_eq!(errors, invalid_utf8_at(4, 9));
    }

    #[test]
    fn non_ascii_offset_finds_byte_in_each_position() {
        for position in 0..200 {
            let mut bytes = vec![b'a'; 200];
            bytes[position] = 0x80;
            assert_eq!(non_ascii_offset(&bytes), position, "position {position}");
        }
    }

    #[test]
    fn non_ascii_offset_of_ascii_is_length() {
        assert_eq!(non_ascii_offset(&[b'a'; 131]), 131);
    }

    #[test]
    fn keep_not_asked_again_for_repeated_rejection() {
        let body = b"a 1\na{x=\"1\"} 2\nab 3\nb 4\n";
        let mut asked = Vec::new();
        let keep = |name: &str| {
            asked.push(name.to_string());
            name == "b"
        };
        let summary = visit(body, Format::Text, keep, &mut Ignore);
        assert_eq!(asked, ["a", "ab", "b"]);
        assert_eq!(summary.filtered, 3);
    }
}
