//! Differential test of the PromQL corpus in `tests/promql/`.
//!
//! The corpus's expected values are what promtool 2.42 computes, so promtool
//! must pass it unchanged, and andon's evaluator must pass the same files.
//! The combined test prints how many cases both agree on.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use andon::ruletest::promtool::run_files;

/// Environment variable that overrides the promtool binary.
const PROMTOOL_ENV: &str = "PROMTOOL";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("promql")
}

fn corpus_files() -> Vec<PathBuf> {
    let entries = std::fs::read_dir(corpus_dir()).expect("tests/promql is readable");
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .yml files in {}", corpus_dir().display());
    files
}

/// Counts the `promql_expr_test` entries of one file.
fn case_count(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("corpus file is readable");
    let document: serde_yaml::Value = serde_yaml::from_str(&text).expect("corpus file is YAML");
    let groups = document["tests"].as_sequence().cloned().unwrap_or_default();
    groups
        .iter()
        .map(|group| group["promql_expr_test"].as_sequence().map_or(0, Vec::len))
        .sum()
}

/// Extracts the `expr: "...", time: ...` line of every failed case, the same
/// in promtool's output and in andon's.
fn failed_cases(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with("expr: "))
        .map(|line| line.trim_end_matches(',').to_string())
        .collect()
}

/// Runs `promtool test rules` on one file and returns whether it passed and
/// its combined output. Panics with install instructions when promtool is missing.
fn run_promtool(path: &Path) -> (bool, String) {
    let binary = std::env::var(PROMTOOL_ENV).unwrap_or_else(|_| "promtool".to_string());
    let output = match Command::new(&binary).arg("test").arg("rules").arg(path).output() {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "promtool not found (tried {binary:?}): install it with `apt-get install prometheus` \
             (Debian's package, version 2.42) or set {PROMTOOL_ENV} to its path"
        ),
        Err(error) => panic!("failed to run {binary:?}: {error}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Runs andon's rule-test runner on one file and returns whether every case
/// passed, how many failed and its output.
fn run_andon(path: &Path) -> (bool, usize, String) {
    let mut output = Vec::new();
    let summary = run_files(&[path.to_path_buf()], &mut output).expect("report written to memory");
    (summary.is_success(), summary.failed, String::from_utf8_lossy(&output).into_owned())
}

#[test]
fn promtool_passes_corpus() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in corpus_files() {
        cases += case_count(&path);
        let (passed, output) = run_promtool(&path);
        if !passed {
            failures.push(output);
        }
    }
    println!("promtool: {cases} cases in {} files", corpus_files().len());
    assert!(failures.is_empty(), "promtool failed on the corpus:\n{}", failures.join("\n"));
}

#[test]
fn andon_agrees_with_promtool_on_corpus() {
    let mut total = 0;
    let mut disagreements = Vec::new();
    let mut reports = Vec::new();

    for path in corpus_files() {
        let cases = case_count(&path);
        total += cases;

        let (promtool_passed, promtool_output) = run_promtool(&path);
        let (andon_passed, andon_failed, andon_output) = run_andon(&path);
        let andon_cases = failed_cases(&andon_output);
        let mut failed = failed_cases(&promtool_output);
        failed.extend(andon_cases.iter().cloned());
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        disagreements.extend(failed.iter().map(|case| format!("{name}: {case}")));

        // A test group whose series failed to load (or whose evaluation
        // panicked) fails all its cases under one message without `expr:`.
        let unnamed = andon_failed.saturating_sub(andon_cases.len());
        disagreements.extend((0..unnamed).map(|_| format!("{name}: a case of a test group that failed as a whole")));

        if !promtool_passed {
            reports.push(format!("promtool on {name}:\n{promtool_output}"));
        }
        if !andon_passed {
            reports.push(format!("andon on {name}:\n{andon_output}"));
        }
    }

    let agreed = total.saturating_sub(disagreements.len());
    println!("andon and promtool agree on {agreed} of {total} cases");
    assert!(
        reports.is_empty(),
        "{} of {total} cases failed:\n{}\n\n{}",
        disagreements.len(),
        disagreements.join("\n"),
        reports.join("\n")
    );
}
