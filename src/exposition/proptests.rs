//! Property tests: no input makes the parser panic, and samples written
//! out in text format read back unchanged.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::check::format_value;
use super::*;

fn all(_: &str) -> bool {
    true
}

/// Bytes drawn mostly from exposition syntax, so that inputs get past the
/// first token more often than uniform random bytes do.
fn exposition_like() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"a".to_vec()),
        Just(b"_bucket".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"le=\"".to_vec()),
        Just(b"quantile=\"".to_vec()),
        Just(b"=".to_vec()),
        Just(b"\"".to_vec()),
        Just(b",".to_vec()),
        Just(b"\\".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"# TYPE a histogram\n".to_vec()),
        Just(b"# TYPE a summary\n".to_vec()),
        Just(b"# TYPE a counter\n".to_vec()),
        Just(b"# HELP a x\n".to_vec()),
        Just(b"# UNIT a s\n".to_vec()),
        Just(b"# EOF\n".to_vec()),
        Just(b" # {x=\"y\"} 1".to_vec()),
        Just(b"+Inf".to_vec()),
        Just(b"NaN".to_vec()),
        Just(b"1.5e3".to_vec()),
        Just(b"-1".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
        "\\PC{1,3}".prop_map(String::into_bytes),
    ];
    vec(pieces, 0..40).prop_map(|parts| parts.concat())
}

#[derive(Clone, Debug)]
struct GeneratedSample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

fn generated_sample() -> impl Strategy<Value = GeneratedSample> {
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        btree_map(
            "[a-zA-Z][a-zA-Z0-9_]{0,8}",
            "\\PC{0,12}|[\"\\\\\n{},=# ]{0,6}",
            0..5,
        ),
        any::<f64>(),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(name, labels, value, timestamp_ms)| GeneratedSample {
            name,
            labels: labels.into_iter().collect(),
            value,
            timestamp_ms,
        })
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes samples in text format 0.0.4; the index suffix keeps every
/// series distinct, so none is dropped as a duplicate.
fn write_text(samples: &[GeneratedSample]) -> String {
    let mut body = String::new();
    for (i, sample) in samples.iter().enumerate() {
        let labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        body.push_str(&format!(
            "{}_{i}{{{}}} {}",
            sample.name,
            labels.join(","),
            format_value(sample.value)
        ));
        if let Some(ts) = sample.timestamp_ms {
            body.push_str(&format!(" {ts}"));
        }
        body.push('\n');
    }
    body
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn assert_same_samples(left: &[Sample], right: &[Sample]) -> Result<(), TestCaseError> {
    prop_assert_eq!(left.len(), right.len());
    for (a, b) in left.iter().zip(right) {
        prop_assert_eq!(&a.labels, &b.labels);
        prop_assert!(same_value(a.value, b.value), "{} != {}", a.value, b.value);
        prop_assert_eq!(a.timestamp_ms, b.timestamp_ms);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..400)) {
        for format in [Format::Text, Format::OpenMetrics] {
            let report = parse(&body, format, &all);
            prop_assert!(report.errors.iter().all(|e| e.line >= 1 && e.column >= 1));
            let _ = check_metrics(&body, format);
        }
    }

    #[test]
    fn exposition_like_bytes_never_panic(body in exposition_like()) {
        for format in [Format::Text, Format::OpenMetrics] {
            let report = parse(&body, format, &all);
            prop_assert!(report.errors.iter().all(|e| e.line >= 1 && e.column >= 1));
            let _ = parse(&body, format, &|name: &str| name.len() % 2 == 0);
        }
    }

    #[test]
    fn normalized_listing_reads_back(body in exposition_like()) {
        let first = parse(&body, Format::Text, &all);
        let (listing, _) = check_metrics(&body, Format::Text);
        let samples_only: String = listing.lines().take(first.samples.len()).map(|l| format!("{l}\n")).collect();
        let second = parse(samples_only.as_bytes(), Format::Text, &all);
        prop_assert_eq!(&second.errors, &vec![]);
        assert_same_samples(&first.samples, &second.samples)?;
    }

    #[test]
    fn written_samples_read_back(samples in vec(generated_sample(), 1..12)) {
        let body = write_text(&samples);
        let report = parse(body.as_bytes(), Format::Text, &all);
        prop_assert_eq!(&report.errors, &vec![]);
        prop_assert_eq!(report.samples.len(), samples.len());
        for (i, (parsed, written)) in report.samples.iter().zip(&samples).enumerate() {
            let name = format!("{}_{i}", written.name);
            let expected = crate::labels::Labels::from_pairs(
                std::iter::once(("__name__".to_string(), name)).chain(written.labels.iter().cloned()),
            );
            prop_assert_eq!(&parsed.labels, &expected);
            prop_assert!(same_value(parsed.value, written.value), "{} != {}", parsed.value, written.value);
            prop_assert_eq!(parsed.timestamp_ms, written.timestamp_ms);
        }
    }
}

/// One line of a body that repeats series on purpose. Its name and labels
/// come from small sets, so that series repeat. The line also chooses the
/// written order of its labels, whether `\z` is written with a redundant
/// escape, and whether a comment line comes before it.
#[derive(Clone, Debug)]
struct RepeatingLine {
    name: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    reverse_order: bool,
    escape_unknown: bool,
    comment_before: bool,
}

fn repeating_line() -> impl Strategy<Value = RepeatingLine> {
    let names = prop_oneof![Just("a"), Just("a_sum"), Just("b"), Just("b_bucket")];
    let label = prop_oneof![
        (
            prop_oneof![Just("x"), Just("y")],
            prop_oneof![Just("1"), Just("2"), Just(""), Just("\\z"), Just("q\"")],
        ),
        (
            Just("le"),
            prop_oneof![Just("1"), Just("1.0"), Just("+Inf")]
        ),
    ];
    (
        names,
        vec(label, 0..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, labels, reverse_order, escape_unknown, comment_before)| RepeatingLine {
                name,
                labels,
                reverse_order,
                escape_unknown,
                comment_before,
            },
        )
}

/// Returns the labels of `line` as a sorted map without empty values, or
/// `None` when a label name repeats, which makes the line invalid.
fn identity(line: &RepeatingLine) -> Option<Vec<(String, String)>> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for (name, value) in &line.labels {
        if labels.iter().any(|(n, _)| n == name) {
            return None;
        }
        labels.push((name.to_string(), value.to_string()));
    }
    labels.retain(|(_, v)| !v.is_empty());
    // The body declares `b` a histogram, so the bounds of its buckets are
    // read in canonical form.
    if line.name == "b_bucket" {
        for (name, value) in &mut labels {
            if name == "le" && value == "1.0" {
                *value = "1".to_string();
            }
        }
    }
    labels.sort();
    Some(labels)
}

fn write_repeating(lines: &[RepeatingLine]) -> String {
    let mut body = String::from("# TYPE b histogram\n");
    for line in lines {
        if line.comment_before {
            body.push_str("# a comment\n");
        }
        let mut labels: Vec<String> = line
            .labels
            .iter()
            .map(|(k, v)| {
                // `\z` is not an escape, so `\z` and `\\z` are the same value.
                let value = match (line.escape_unknown, *v) {
                    (true, "\\z") => "\\z".to_string(),
                    _ => escape(v),
                };
                format!("{k}=\"{value}\"")
            })
            .collect();
        if line.reverse_order {
            labels.reverse();
        }
        body.push_str(&format!("{}{{{}}} 1\n", line.name, labels.join(",")));
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn duplicates_match_distinct_series(lines in vec(repeating_line(), 0..40)) {
        let body = write_repeating(&lines);
        let report = parse(body.as_bytes(), Format::Text, &all);
        let valid: Vec<_> = lines
            .iter()
            .filter_map(|l| identity(l).map(|labels| (l.name, labels)))
            .collect();
        let distinct: std::collections::HashSet<_> = valid.iter().cloned().collect();
        prop_assert_eq!(report.errors.len(), lines.len() - valid.len());
        prop_assert_eq!(report.samples.len(), distinct.len());
        prop_assert_eq!(report.duplicates, valid.len() - distinct.len());
    }
}

struct IgnoreSamples;

impl<'a> Visitor<'a> for IgnoreSamples {
    fn sample(&mut self, _sample: &SampleRef<'a, '_>) {}
}

/// Returns the (line, column) of each "invalid UTF-8" error that a
/// separate check of each line gives. Lines are read as the text loop
/// reads them, after CR and indent trimming, and sample lines whose metric
/// name `keep` rejects are skipped.
fn utf8_errors_line_by_line(body: &[u8], keep: fn(&str) -> bool) -> Vec<(usize, usize)> {
    let mut errors = Vec::new();
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let skipped = line
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let line = &line[skipped..];
        if line.is_empty() {
            continue;
        }
        if line[0] != b'#' {
            let name_len = super::lexer::metric_name_len(line);
            let name = std::str::from_utf8(&line[..name_len]).unwrap_or("");
            if name_len > 0 && !keep(name) {
                continue;
            }
        }
        if let Err(e) = std::str::from_utf8(line) {
            errors.push((index + 1, skipped + e.valid_up_to() + 1));
        }
    }
    errors
}

fn utf8_errors_of_visit(body: &[u8], keep: fn(&str) -> bool) -> Vec<(usize, usize)> {
    let summary = visit(body, Format::Text, keep, &mut IgnoreSamples);
    summary
        .errors
        .iter()
        .filter(|e| e.message == "invalid UTF-8")
        .map(|e| (e.line, e.column))
        .collect()
}

fn keep_a(name: &str) -> bool {
    name.starts_with('a')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The padding of 4-byte lines moves the random part across the 4 KiB
    /// that the ASCII scan reads ahead.
    #[test]
    fn utf8_errors_match_line_by_line_check(
        padding in 0usize..1200,
        tail in exposition_like(),
    ) {
        let mut body = b"a 1\n".repeat(padding);
        body.extend_from_slice(&tail);
        prop_assert_eq!(utf8_errors_of_visit(&body, all), utf8_errors_line_by_line(&body, all));
    }

    #[test]
    fn filtered_utf8_errors_match_line_by_line_check(
        padding in 0usize..1200,
        tail in exposition_like(),
    ) {
        let mut body = b"b 1\n".repeat(padding);
        body.extend_from_slice(&tail);
        prop_assert_eq!(
            utf8_errors_of_visit(&body, keep_a),
            utf8_errors_line_by_line(&body, keep_a)
        );
    }
}
