//! The normalized listing that `andon check metrics` prints.

use std::fmt::Write;

use super::labels::LabelRef;
use super::visit::{visit, SampleRef, Visitor};
use super::Format;

/// Lists every sample of `body` as `name{a="1",b="2"} value [timestamp_ms]
/// [# {labels} value [timestamp_ms]]`, labels sorted by name, then one
/// `line:column: message` line per problem and one `line:1: warning:` line
/// per repeated series. Returns the listing and true when the body has no
/// problem; a repeated series is a warning, because a scrape keeps its
/// first value and goes on.
pub fn check_metrics(body: &[u8], format: Format) -> (String, bool) {
    let mut listing = Listing(String::new(), String::new());
    let summary = visit(body, format, |_| true, &mut listing);
    let Listing(mut out, warnings) = listing;
    for error in &summary.errors {
        let _ = writeln!(out, "{error}");
    }
    out.push_str(&warnings);
    (out, summary.errors.is_empty())
}

/// The sample listing, and the warnings printed after the problems.
struct Listing(String, String);

impl<'a> Visitor<'a> for Listing {
    fn duplicate(&mut self, sample: &SampleRef<'a, '_>) {
        let out = &mut self.1;
        let _ = write!(out, "{}:1: warning: repeated series ", sample.line);
        out.push_str(sample.name);
        write_labels(out, sample.labels);
        out.push_str("; the first value is kept\n");
    }

    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        let out = &mut self.0;
        out.push_str(sample.name);
        write_labels(out, sample.labels);
        let _ = write!(out, " {}", format_value(sample.value));
        if let Some(ts) = sample.timestamp_ms {
            let _ = write!(out, " {ts}");
        }
        if let Some(exemplar) = &sample.exemplar {
            out.push_str(" # ");
            write_labels(out, exemplar.labels);
            let _ = write!(out, " {}", format_value(exemplar.value));
            if let Some(ts) = exemplar.timestamp_ms {
                let _ = write!(out, " {ts}");
            }
        }
        out.push('\n');
    }
}

/// Writes a label set in exposition syntax, always with braces.
pub(crate) fn write_labels(out: &mut String, labels: &[LabelRef<'_>]) {
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(label.name);
        out.push_str("=\"");
        label.value.for_each_chunk(|chunk| escape_into(out, chunk));
        out.push('"');
    }
    out.push('}');
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Formats a value so that it reads back exactly: `NaN`, `+Inf`, `-Inf`,
/// or Rust's shortest round-trip decimal.
pub(crate) fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}
