//! Runs the OpenMetrics parser conformance suite in
//! `tests/fixtures/openmetrics-suite`: every `<case>/metrics` body with a
//! `test.json` verdict of type `text` is parsed as OpenMetrics, and the
//! parser must accept exactly the bodies the suite marks `shouldParse`.

use std::fs;
use std::path::{Path, PathBuf};

use andon::exposition::{parse, Format, ParseReport};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openmetrics-suite")
}

struct Case {
    name: String,
    body: Vec<u8>,
    should_parse: bool,
}

fn text_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let entries = fs::read_dir(suite_dir()).expect("the suite folder is readable");
    for entry in entries {
        let dir = entry.expect("a folder entry").path();
        let Ok(verdict) = fs::read_to_string(dir.join("test.json")) else {
            continue;
        };
        let verdict: serde_json::Value = serde_json::from_str(&verdict).expect("test.json is JSON");
        if verdict["type"] != "text" {
            continue;
        }
        let file = verdict["file"].as_str().unwrap_or("metrics");
        cases.push(Case {
            name: dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            body: fs::read(dir.join(file)).expect("the case body is readable"),
            should_parse: verdict["shouldParse"]
                .as_bool()
                .expect("shouldParse is a boolean"),
        });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

fn parse_case(name: &str) -> ParseReport {
    let body = fs::read(suite_dir().join(name).join("metrics")).expect("the case body is readable");
    parse(&body, Format::OpenMetrics, &|_| true)
}

/// Returns why a case failed, or `None` when the verdict matches.
fn judge(case: &Case) -> Option<String> {
    let report = parse(&case.body, Format::OpenMetrics, &|_| true);
    if case.should_parse && !report.errors.is_empty() {
        let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        return Some(format!("valid body rejected: {}", errors.join("; ")));
    }
    if !case.should_parse && report.errors.is_empty() {
        return Some("invalid body accepted".to_string());
    }
    if report.errors.iter().any(|e| e.line == 0) {
        return Some("error without a line number".to_string());
    }
    None
}

#[test]
fn suite_verdicts_match() {
    let cases = text_cases();
    assert!(cases.len() >= 200, "found only {} text cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| judge(case).map(|why| format!("{}: {why}", case.name)))
        .collect();
    println!(
        "OpenMetrics suite: {} of {} text cases pass",
        cases.len() - failures.len(),
        cases.len()
    );
    for failure in &failures {
        println!("FAIL {failure}");
    }
    assert!(failures.is_empty(), "{} suite cases failed", failures.len());
}

#[test]
fn counter_exemplar_values() {
    let report = parse_case("counter_exemplars");
    assert_eq!(report.samples.len(), 1);
    let sample = &report.samples[0];
    assert_eq!(sample.labels.metric_name(), Some("a_total"));
    assert_eq!(sample.value, 0.0);
    assert_eq!(sample.timestamp_ms, Some(123_000));
    let exemplar = sample.exemplar.as_ref().expect("an exemplar");
    assert_eq!(exemplar.labels.get("a"), Some("b"));
    assert_eq!(exemplar.value, 0.5);
    assert_eq!(exemplar.timestamp_ms, None);
}

#[test]
fn escaping_values() {
    let report = parse_case("escaping");
    let values: Vec<_> = report
        .samples
        .iter()
        .map(|s| s.labels.get("foo").unwrap_or(""))
        .collect();
    assert_eq!(
        values,
        vec!["b\"a\nr", "b\\a\\z", "b\"a\nr # ", "b\\a\\z # "]
    );
    assert_eq!(report.families[0].help.as_deref(), Some("he\n\\l\\tp"));
}

#[test]
fn timestamps_are_milliseconds() {
    let report = parse_case("timestamps");
    let stamps: Vec<_> = report.samples.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(stamps[0], Some(0));
    assert_eq!(stamps[1], Some(0));
    assert_eq!(stamps[2], Some(1100));
    // 12345678901234567890.1 s is beyond i64 milliseconds and saturates.
    assert_eq!(stamps[3], Some(i64::MAX));
    assert_eq!(stamps[4], Some(1_500_000));
    assert_eq!(stamps[5], Some(1_234_567_890_000));
}

#[test]
fn histogram_exemplars_and_bounds() {
    let report = parse_case("histogram_exemplars");
    let les: Vec<_> = report
        .samples
        .iter()
        .map(|s| s.labels.get("le").unwrap_or(""))
        .collect();
    assert_eq!(les, vec!["1", "2", "+Inf"]);
    let last = report.samples[2].exemplar.as_ref().expect("an exemplar");
    assert_eq!(last.value, 4.0);
    assert_eq!(last.timestamp_ms, Some(123_000));
}

#[test]
fn hash_in_label_value_is_kept() {
    let report = parse_case("hash_in_label_value");
    let values: Vec<_> = report
        .samples
        .iter()
        .map(|s| s.labels.get("foo").unwrap_or(""))
        .collect();
    assert_eq!(values, vec!["foo # bar", "} foo # bar # "]);
}

#[test]
fn created_sample_is_folded() {
    let report = parse_case("counter_unit");
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.created, 1);
    assert_eq!(report.families[0].unit.as_deref(), Some("seconds"));
    assert_eq!(report.families[0].created_seconds, Some(123.456));
}
