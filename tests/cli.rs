//! The command line as a user meets it: exit codes and what is printed.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn andon_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_andon"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("andon should start");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    child.wait_with_output().expect("andon should finish")
}

fn andon(args: &[&str]) -> Output {
    andon_with_stdin(args, b"")
}

#[test]
fn check_metrics_lists_normalized_samples() {
    let output = andon_with_stdin(&["check", "metrics"], b"m{b=\"2\",a=\"1\"} 1 1700000000000\n");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "m{a=\"1\",b=\"2\"} 1 1700000000000\n");
}

#[test]
fn check_metrics_reports_line_and_column() {
    let output = andon_with_stdin(&["check", "metrics"], b"ok 1\nbad 12abc\n");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ok{} 1\n"), "{stdout}");
    assert!(stdout.contains("2:5:"), "{stdout}");
    assert!(stdout.contains("12abc"), "{stdout}");
}

#[test]
fn check_metrics_openmetrics_needs_eof() {
    let output = andon_with_stdin(&["check", "metrics", "--format", "openmetrics"], b"a 1\n");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn check_accepts_example_config() {
    let output = andon(&["check", "examples/andon.toml"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn check_reports_every_error_with_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("andon.toml");
    std::fs::write(&config, "[global]\nscrape_interval = \"fast\"\nbogus = 1\n").expect("write config");
    let output = andon(&["check", config.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("andon.toml:2:19"), "{stderr}");
    assert!(stderr.contains("andon.toml:3:1"), "{stderr}");
}

#[test]
fn demo_rejects_zero_speed() {
    let output = andon(&["demo", "--speed", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--speed"));
}

#[test]
fn check_metrics_warns_on_repeated_series() {
    let output = andon_with_stdin(&["check", "metrics"], b"m 1\nm 2\n");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("2:1: warning: repeated series m{}"), "{stdout}");
}

#[test]
fn check_warns_on_range_shorter_than_two_scrapes() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rules.toml"), "[[rule]]\nname = \"Cpu\"\nexpr = 'rate(x[5s])'\nred = { above = 1 }\n").expect("write rules");
    let config = dir.path().join("andon.toml");
    std::fs::write(
        &config,
        "[global]\nscrape_interval = \"5s\"\nscrape_timeout = \"5s\"\nrule_files = [\"rules.toml\"]\n\n[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:1/metrics\"\n",
    )
    .expect("write config");
    let output = andon(&["check", config.to_str().expect("utf-8 path")]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: rule \"Cpu\""), "{stderr}");
}
