//! Runs `andon demo` for a bounded time and checks that the story reaches
//! every tier and returns to ok.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_reaches_every_tier_and_recovers() {
    let started = Instant::now();
    // At 30x the 900-second profile takes 30 s.
    let output = Command::new(env!("CARGO_BIN_EXE_andon"))
        .args(["demo", "--speed", "30"])
        .output()
        .expect("andon demo should run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert!(started.elapsed() < Duration::from_secs(60), "demo ran for {:?}", started.elapsed());
    for tier in ["yellow", "red", "emergency", "ok"] {
        let arrow = format!("-> {tier} ");
        assert!(stdout.lines().any(|line| line.contains(&arrow)), "no transition into {tier}:\n{stdout}");
    }
}
