//! Runs Prometheus rule unit-test files, the input of `promtool test rules`,
//! against andon's PromQL evaluator.
//!
//! Each test group loads its `input_series` into a fresh [`Store`] and
//! evaluates every `promql_expr_test` at its `eval_time`. Results are compared
//! as promtool compares them: both sample lists are sorted by labels, label
//! sets must match exactly and values must be equal within a relative
//! tolerance of 1e-6 (or both NaN). `alert_rule_test` entries and
//! `rule_files` are reported as not supported yet.
//!
//! Known differences from promtool 2.42: andon loads every input sample,
//! while promtool loads samples only up to the last multiple of
//! `evaluation_interval` at or before the latest `eval_time` (this matters
//! only for `@` modifiers that read later samples). promtool 2.42 compares
//! values exactly and never matches an expected NaN.

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

use crate::expr::Expr;
use crate::labels::Labels;
use crate::ruletest::duration::{format_duration_ms, parse_duration_ms};
use crate::ruletest::series::{parse_metric, parse_number, parse_values, Slot};
use crate::store::Store;

/// Interval between samples and between rule evaluations when a file sets
/// none, as in promtool: one minute.
const DEFAULT_INTERVAL_MS: i64 = 60_000;

/// Extra retention beyond the last sample or evaluation time, so that the
/// store never drops a sample that a test reads. One hour, far above the
/// 5-minute lookback.
const RETENTION_MARGIN_MS: i64 = 3_600_000;

/// Relative tolerance for comparing an expected value with the result.
const RELATIVE_TOLERANCE: f64 = 1e-6;

/// A failure to produce the test report itself. Problems inside the test
/// files are printed and counted in [`RunSummary`] instead.
#[derive(Debug, thiserror::Error)]
pub enum RuleTestError {
    #[error("failed to write the test report: {0}")]
    Output(#[from] std::io::Error),
}

/// A test file that cannot be run at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid test file {path}: {source}")]
    Yaml { path: PathBuf, source: serde_yaml::Error },
    #[error("invalid evaluation_interval: {0}")]
    Interval(String),
}

/// Counts of one run over one or more files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// `promql_expr_test` entries whose result matched.
    pub passed: usize,
    /// `promql_expr_test` entries that did not match or failed to evaluate,
    /// plus one per test group whose input could not be loaded and that has
    /// no entries.
    pub failed: usize,
    /// Skipped `alert_rule_test` entries, plus one per test group of a file
    /// whose `rule_files` were not loaded.
    pub unsupported: usize,
    /// Files that could not be read or parsed.
    pub invalid_files: usize,
}

impl RunSummary {
    /// Tells whether every case passed and every file was valid. Skipped
    /// unsupported entries do not count as failures.
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.invalid_files == 0
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Option<Vec<String>>,
    #[serde(default)]
    evaluation_interval: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)] // Orders rule groups, which andon does not load yet.
    group_eval_order: Option<Vec<String>>,
    #[serde(default)]
    tests: Option<Vec<TestGroup>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    interval: Option<Value>,
    #[serde(default)]
    input_series: Option<Vec<InputSeries>>,
    #[serde(default)]
    alert_rule_test: Option<Vec<Value>>,
    #[serde(default)]
    promql_expr_test: Option<Vec<ExprTest>>,
    // Alert templates read these two. They are kept so that such files parse.
    #[serde(default)]
    #[allow(dead_code)]
    external_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[allow(dead_code)]
    external_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(default)]
    values: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    #[serde(default)]
    eval_time: Value,
    #[serde(default)]
    exp_samples: Option<Vec<ExpSample>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    value: Value,
}

/// Runs every file in `paths`, prints promtool-style results to `out` and
/// returns the counts. A file that cannot be read or parsed is reported and
/// counted, and the others still run.
pub fn run_files(paths: &[PathBuf], out: &mut dyn Write) -> Result<RunSummary, RuleTestError> {
    let mut summary = RunSummary::default();
    for path in paths {
        writeln!(out, "Unit Testing:  {}", path.display())?;
        match load_file(path) {
            Ok(file) => run_file(&file, out, &mut summary)?,
            Err(error) => {
                writeln!(out, "  FAILED:\n    {error}\n")?;
                summary.invalid_files += 1;
            }
        }
    }

    if summary.invalid_files > 0 {
        writeln!(out, "{} test files could not be read or parsed", summary.invalid_files)?;
    }
    if summary.unsupported > 0 {
        writeln!(out, "{} entries not supported yet and skipped", summary.unsupported)?;
    }
    writeln!(out, "Summary: {} passed, {} failed", summary.passed, summary.failed)?;
    Ok(summary)
}

fn load_file(path: &Path) -> Result<LoadedFile, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { path: path.to_path_buf(), source })?;
    let file: TestFile =
        serde_yaml::from_str(&text).map_err(|source| FileError::Yaml { path: path.to_path_buf(), source })?;
    let evaluation_interval_ms = match &file.evaluation_interval {
        None => DEFAULT_INTERVAL_MS,
        Some(value) => duration_field(value).map_err(FileError::Interval)?,
    };
    Ok(LoadedFile { file, evaluation_interval_ms })
}

struct LoadedFile {
    file: TestFile,
    evaluation_interval_ms: i64,
}

/// Runs the groups of one parsed file and prints SUCCESS or its failures.
fn run_file(loaded: &LoadedFile, out: &mut dyn Write, summary: &mut RunSummary) -> Result<(), RuleTestError> {
    let groups = loaded.file.tests.as_deref().unwrap_or_default();
    let has_rule_files = loaded.file.rule_files.as_ref().is_some_and(|files| !files.is_empty());
    let mut failures = Vec::new();

    for (index, group) in groups.iter().enumerate() {
        let name = match &group.name {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("#{}", index + 1),
        };
        if has_rule_files {
            writeln!(out, "  NOT SUPPORTED: test {name:?}: rule_files are not supported yet, so recording and alerting rules are not evaluated")?;
            summary.unsupported += 1;
        }
        let alerts = group.alert_rule_test.as_ref().map_or(0, Vec::len);
        if alerts > 0 {
            writeln!(out, "  NOT SUPPORTED: test {name:?}: alert_rule_test is not supported yet; {alerts} entries skipped")?;
            summary.unsupported += alerts;
        }

        let outcome = run_group(group, loaded.evaluation_interval_ms);
        summary.passed += outcome.passed;
        summary.failed += outcome.failed;
        failures.extend(outcome.messages);
    }

    if failures.is_empty() {
        writeln!(out, "  SUCCESS\n")?;
    } else {
        writeln!(out, "  FAILED:")?;
        for failure in failures {
            writeln!(out, "{failure}\n")?;
        }
    }
    Ok(())
}

/// Counts and failure messages of one test group.
#[derive(Default)]
struct GroupOutcome {
    passed: usize,
    failed: usize,
    messages: Vec<String>,
}

impl GroupOutcome {
    fn fail(&mut self, message: String) {
        self.failed += 1;
        self.messages.push(message);
    }
}

/// Loads one group's series and runs its expression tests, turning a panic
/// in the store or evaluator into failures of this group only.
fn run_group(group: &TestGroup, evaluation_interval_ms: i64) -> GroupOutcome {
    let cases = group.promql_expr_test.as_deref().unwrap_or_default();
    let result = catch_unwind(AssertUnwindSafe(|| run_group_cases(group, cases, evaluation_interval_ms)));
    match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(message)) => fail_group(cases.len(), message),
        Err(panic) => fail_group(cases.len(), format!("    evaluation panicked: {}", panic_message(&panic))),
    }
}

/// Fails every case of a group with one printed message. A broken group
/// without cases counts as one failure so that it still shows.
fn fail_group(cases: usize, message: String) -> GroupOutcome {
    GroupOutcome { passed: 0, failed: cases.max(1), messages: vec![message] }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

fn run_group_cases(group: &TestGroup, cases: &[ExprTest], evaluation_interval_ms: i64) -> Result<GroupOutcome, String> {
    let interval_ms = match &group.interval {
        None => evaluation_interval_ms,
        Some(value) => duration_field(value).map_err(|e| format!("    invalid interval: {e}"))?,
    };
    if interval_ms <= 0 {
        return Err("    invalid interval: must be above zero".to_string());
    }

    let series = parse_input_series(group.input_series.as_deref().unwrap_or_default())?;
    let mut eval_times = Vec::with_capacity(cases.len());
    for case in cases {
        eval_times.push(duration_field(&case.eval_time).map_err(|e| format!("    expr: {}, invalid eval_time: {e}", go_quote(&case.expr))));
    }

    let last_ms = last_time_ms(&series, interval_ms, &eval_times);
    let store = load_store(&series, interval_ms, last_ms.saturating_add(RETENTION_MARGIN_MS));

    let mut outcome = GroupOutcome::default();
    for (case, eval_time) in cases.iter().zip(eval_times) {
        let result = eval_time.and_then(|at_ms| run_case(case, &store, at_ms, evaluation_interval_ms));
        match result {
            Ok(()) => outcome.passed += 1,
            Err(message) => outcome.fail(message),
        }
    }
    Ok(outcome)
}

fn parse_input_series(inputs: &[InputSeries]) -> Result<Vec<(Labels, Vec<Slot>)>, String> {
    let mut series = Vec::with_capacity(inputs.len());
    for input in inputs {
        let labels = parse_metric(&input.series).map_err(|e| format!("    input series: {e}"))?;
        let values_text = scalar_text(&input.values)
            .ok_or_else(|| format!("    input series {}: values must be a string", input.series))?;
        let slots = parse_values(&values_text).map_err(|e| format!("    input series {}: {e}", input.series))?;
        series.push((labels, slots));
    }
    Ok(series)
}

/// Latest sample or evaluation time of a group, in ms.
fn last_time_ms(series: &[(Labels, Vec<Slot>)], interval_ms: i64, eval_times: &[Result<i64, String>]) -> i64 {
    let longest = series.iter().map(|(_, slots)| slots.len()).max().unwrap_or(0);
    let last_sample = i64::try_from(longest).unwrap_or(i64::MAX).saturating_mul(interval_ms);
    let last_eval = eval_times.iter().filter_map(|t| t.as_ref().ok()).copied().max().unwrap_or(0);
    last_sample.max(last_eval)
}

/// Appends every sample. Slot `i` is at `i * interval_ms`, and `_` slots
/// have no sample.
fn load_store(series: &[(Labels, Vec<Slot>)], interval_ms: i64, retention_ms: i64) -> Store {
    let mut store = Store::new(retention_ms);
    for (labels, slots) in series {
        let mut at_ms: i64 = 0;
        for slot in slots {
            if let Slot::Value(value) = slot {
                store.append(labels, at_ms, *value);
            }
            at_ms = at_ms.saturating_add(interval_ms);
        }
    }
    store
}

/// Evaluates one case and, on a mismatch, returns promtool's failure message.
/// Subqueries without a step use `evaluation_interval_ms`, as promtool does.
fn run_case(case: &ExprTest, store: &Store, at_ms: i64, evaluation_interval_ms: i64) -> Result<(), String> {
    let header = format!("    expr: {}, time: {}", go_quote(&case.expr), format_duration_ms(at_ms));
    let expected = parse_expected(case.exp_samples.as_deref().unwrap_or_default())
        .map_err(|e| format!("{header}, err: {e}"))?;
    let got = Expr::parse(&case.expr)
        .map(|expr| expr.with_default_subquery_step_ms(evaluation_interval_ms))
        .and_then(|expr| expr.eval(store, at_ms))
        .map_err(|e| format!("{header}, err: {e}"))?;

    let expected = sorted(expected);
    let got = sorted(got);
    if samples_match(&expected, &got) {
        return Ok(());
    }
    Err(format!(
        "{header},\n        exp: {}\n        got: {}",
        format_samples(&expected),
        format_samples(&got)
    ))
}

fn parse_expected(samples: &[ExpSample]) -> Result<Vec<(Labels, f64)>, String> {
    samples
        .iter()
        .map(|sample| {
            // promtool reads absent or empty `labels` as the empty label set,
            // the labels of `sum(x)` or a scalar.
            let labels = if sample.labels.trim().is_empty() {
                Labels::new()
            } else {
                parse_metric(&sample.labels).map_err(|e| format!("exp_samples: {e}"))?
            };
            let value = expected_value(&sample.value)
                .ok_or_else(|| format!("exp_samples: value of {} is not a number", sample.labels))?;
            Ok((labels, value))
        })
        .collect()
}

/// Reads an expected value: a YAML number (`.inf` and `.nan` included) or
/// a string such as `+Inf` or `NaN`, which promtool's YAML reader accepts.
fn expected_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => parse_number(text).ok(),
        _ => None,
    }
}

fn sorted(mut samples: Vec<(Labels, f64)>) -> Vec<(Labels, f64)> {
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}

/// Compares two label-sorted sample lists: same label sets in the same
/// order, values equal within [`RELATIVE_TOLERANCE`].
pub fn samples_match(expected: &[(Labels, f64)], got: &[(Labels, f64)]) -> bool {
    expected.len() == got.len()
        && expected.iter().zip(got).all(|((el, ev), (gl, gv))| el == gl && values_match(*ev, *gv))
}

/// Tells whether two values are equal within [`RELATIVE_TOLERANCE`] of their
/// magnitude. Both NaN match, and zero matches only zero, because a relative
/// tolerance of zero is zero.
pub fn values_match(expected: f64, got: f64) -> bool {
    if expected.is_nan() || got.is_nan() {
        return expected.is_nan() && got.is_nan();
    }
    if expected == got {
        return true;
    }
    let difference = (expected - got).abs();
    let magnitude = expected.abs().max(got.abs());
    magnitude.is_finite() && difference <= RELATIVE_TOLERANCE * magnitude
}

/// Formats samples as promtool does: `{a="b"} 1E+00, {} 2E+00`, or `nil`.
fn format_samples(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_string();
    }
    samples
        .iter()
        .map(|(labels, value)| format!("{} {}", format_labels(labels), format_value(*value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats labels as Prometheus's `labels.Labels.String` does, with the
/// metric name as an ordinary `__name__` label.
fn format_labels(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(name, value)| format!("{name}={}", go_quote(value))).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Formats a value as Go's `strconv.FormatFloat(v, 'E', -1, 64)`: the
/// shortest exact digits, an upper-case `E` and a signed exponent of at
/// least two digits (`1.5E+00`).
fn format_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let rust = format!("{value:E}");
    let Some((mantissa, exponent)) = rust.split_once('E') else {
        return rust;
    };
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    format!("{mantissa}E{sign}{digits:0>2}")
}

/// Quotes text as Go's `%q` does for the characters that test files use.
fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Reads a duration field, which YAML may give as a string (`10m`) or a
/// number (`0`).
fn duration_field(value: &Value) -> Result<i64, String> {
    let text = scalar_text(value).ok_or_else(|| format!("{value:?} is not a duration"))?;
    if text.is_empty() {
        return Ok(0);
    }
    parse_duration_ms(&text).map_err(|e| e.to_string())
}

/// Returns a YAML scalar as text, with a missing value as empty text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    fn run_to_string(paths: &[PathBuf]) -> (RunSummary, String) {
        let mut out = Vec::new();
        let summary = run_files(paths, &mut out).expect("report written");
        (summary, String::from_utf8(out).expect("utf-8 report"))
    }

    fn labels(text: &str) -> Labels {
        parse_metric(text).expect("valid metric")
    }

    const FULL_FILE: &str = r#"
rule_files: []
evaluation_interval: 30s
group_eval_order: [a]
tests:
  - name: full
    interval: 1m
    external_labels: {region: eu}
    external_url: http://example.invalid
    input_series:
      - series: 'up{job="api"}'
        values: 1x3
      - series: 'other'
        values: 5
    promql_expr_test:
      - expr: up
        eval_time: 2m
        exp_samples:
          - labels: 'up{job="api"}'
            value: 1
      - expr: vector(1)
        eval_time: 0
        exp_samples:
    alert_rule_test: []
"#;

    #[test]
    fn load_file_reads_every_promtool_field() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = load_file(&write_file(&dir, "full.yml", FULL_FILE)).expect("valid file");
        assert_eq!(loaded.evaluation_interval_ms, 30_000);
    }

    #[test]
    fn load_file_keeps_cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = load_file(&write_file(&dir, "full.yml", FULL_FILE)).expect("valid file");
        let groups = loaded.file.tests.expect("tests present");
        assert_eq!(groups[0].promql_expr_test.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn load_file_defaults_interval_to_one_minute() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = load_file(&write_file(&dir, "t.yml", "tests: []\n")).expect("valid file");
        assert_eq!(loaded.evaluation_interval_ms, DEFAULT_INTERVAL_MS);
    }

    #[test]
    fn load_file_rejects_unknown_field() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(&dir, "t.yml", "tests:\n  - promql_exp_test: []\n");
        assert!(matches!(load_file(&path), Err(FileError::Yaml { .. })));
    }

    #[test]
    fn load_file_rejects_invalid_interval() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(&dir, "t.yml", "evaluation_interval: 1 minute\n");
        assert!(matches!(load_file(&path), Err(FileError::Interval(_))));
    }

    #[test]
    fn run_files_counts_missing_file() {
        let (summary, _) = run_to_string(&[PathBuf::from("/nonexistent/andon-test.yml")]);
        assert_eq!(summary.invalid_files, 1);
    }

    #[test]
    fn run_files_reports_alert_tests_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "tests:\n  - name: alerts\n    alert_rule_test:\n      - eval_time: 1m\n        alertname: A\n      - eval_time: 2m\n        alertname: B\n";
        let (summary, output) = run_to_string(&[write_file(&dir, "a.yml", text)]);
        assert_eq!(summary.unsupported, 2);
        assert!(output.contains("test \"alerts\": alert_rule_test is not supported yet; 2 entries skipped"), "{output}");
        assert!(summary.is_success());
    }

    #[test]
    fn run_files_reports_rule_files_per_test() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "rule_files: [rules.yml]\ntests:\n  - name: one\n  - name: two\n";
        let (summary, output) = run_to_string(&[write_file(&dir, "r.yml", text)]);
        assert_eq!(summary.unsupported, 2);
        assert!(output.contains("test \"two\": rule_files are not supported yet"), "{output}");
    }

    #[test]
    fn run_files_fails_group_with_invalid_series() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "tests:\n  - input_series:\n      - series: 'up{job=~\"a\"}'\n        values: '1'\n    promql_expr_test:\n      - expr: up\n      - expr: up\n";
        let (summary, output) = run_to_string(&[write_file(&dir, "s.yml", text)]);
        assert_eq!(summary.failed, 2);
        assert!(output.contains("input series: invalid series notation"), "{output}");
    }

    #[test]
    fn run_files_fails_case_with_invalid_eval_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "tests:\n  - promql_expr_test:\n      - expr: up\n        eval_time: soon\n";
        let (summary, output) = run_to_string(&[write_file(&dir, "e.yml", text)]);
        assert_eq!(summary.failed, 1);
        assert!(output.contains("expr: \"up\", invalid eval_time"), "{output}");
    }

    #[test]
    fn exp_sample_without_labels_matches_sum() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "tests:\n  - input_series:\n      - series: 'x{a=\"1\"}'\n        values: '1 2 3'\n    promql_expr_test:\n      - expr: sum(x)\n        eval_time: 2m\n        exp_samples:\n          - value: 3\n";
        let (summary, output) = run_to_string(&[write_file(&dir, "n.yml", text)]);
        assert_eq!(summary.passed, 1, "{output}");
    }

    #[test]
    fn run_files_prints_summary_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, output) = run_to_string(&[write_file(&dir, "t.yml", "tests: []\n")]);
        assert!(output.ends_with("Summary: 0 passed, 0 failed\n"), "{output}");
    }

    #[test]
    fn expected_value_reads_yaml_infinity() {
        let value: Value = serde_yaml::from_str("-.inf").expect("yaml");
        assert_eq!(expected_value(&value), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn expected_value_reads_prometheus_infinity_text() {
        assert_eq!(expected_value(&Value::String("+Inf".into())), Some(f64::INFINITY));
    }

    #[test]
    fn expected_value_rejects_text() {
        assert_eq!(expected_value(&Value::String("high".into())), None);
    }

    #[test]
    fn values_match_within_relative_tolerance() {
        assert!(values_match(1_000_000.0, 1_000_000.5));
    }

    #[test]
    fn values_differ_beyond_relative_tolerance() {
        assert!(!values_match(1.0, 1.00001));
    }

    #[test]
    fn values_match_both_nan() {
        assert!(values_match(f64::NAN, f64::NAN));
    }

    #[test]
    fn values_differ_nan_and_number() {
        assert!(!values_match(f64::NAN, 1.0));
    }

    #[test]
    fn values_match_same_infinity() {
        assert!(values_match(f64::INFINITY, f64::INFINITY));
    }

    #[test]
    fn values_differ_opposite_infinity() {
        assert!(!values_match(f64::INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn values_differ_zero_and_tiny() {
        assert!(!values_match(0.0, 1e-17));
    }

    #[test]
    fn samples_match_after_sorting() {
        let expected = sorted(vec![(labels("{a=\"2\"}"), 2.0), (labels("{a=\"1\"}"), 1.0)]);
        let got = sorted(vec![(labels("{a=\"1\"}"), 1.0), (labels("{a=\"2\"}"), 2.0)]);
        assert!(samples_match(&expected, &got));
    }

    #[test]
    fn samples_differ_in_one_label() {
        let expected = vec![(labels("{a=\"1\", b=\"x\"}"), 1.0)];
        let got = vec![(labels("{a=\"1\", b=\"y\"}"), 1.0)];
        assert!(!samples_match(&expected, &got));
    }

    #[test]
    fn samples_differ_with_extra_label() {
        let expected = vec![(labels("{a=\"1\"}"), 1.0)];
        let got = vec![(labels("m{a=\"1\"}"), 1.0)];
        assert!(!samples_match(&expected, &got));
    }

    #[test]
    fn samples_differ_in_count() {
        let expected = vec![(labels("{a=\"1\"}"), 1.0)];
        assert!(!samples_match(&expected, &[]));
    }

    #[test]
    fn format_value_matches_go_exponent_form() {
        assert_eq!(format_value(100.0), "1E+02");
    }

    #[test]
    fn format_value_keeps_shortest_digits() {
        assert_eq!(format_value(0.0016666666666666663), "1.6666666666666663E-03");
    }

    #[test]
    fn format_value_three_digit_exponent() {
        assert_eq!(format_value(1e-300), "1E-300");
    }

    #[test]
    fn format_value_zero() {
        assert_eq!(format_value(0.0), "0E+00");
    }

    #[test]
    fn format_value_infinity() {
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn format_samples_like_promtool() {
        let samples = vec![(labels("x{i=\"q\\\"z\", job=\"a\"}"), 100.0), (Labels::new(), 2.0)];
        assert_eq!(format_samples(&samples), "{__name__=\"x\", i=\"q\\\"z\", job=\"a\"} 1E+02, {} 2E+00");
    }

    #[test]
    fn format_samples_empty_is_nil() {
        assert_eq!(format_samples(&[]), "nil");
    }

    #[test]
    fn go_quote_escapes_quotes_and_newlines() {
        assert_eq!(go_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
