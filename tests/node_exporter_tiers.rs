//! Drives one tiered rule through every tier with a real
//! prometheus-node-exporter as the scrape target and a real HTTP receiver.
//!
//! The gauge comes from node_exporter's textfile collector: the test writes
//! a `.prom` file and node_exporter serves it on its next scrape.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, start_andon, start_receiver, wait_for, wait_for_async, ChildGuard, Received};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// Yellow above 50 (clears at or below 40), red above 70 (60), emergency
/// above 90 (80). Every band is 10 wide so band values are unambiguous.
const RULES: &str = r#"
[[rule]]
name = "TestGauge"
expr = "andon_test_gauge"
clear_for = "300ms"
yellow = { above = 50, clear_below = 40 }
red = { above = 70, clear_below = 60 }
emergency = { above = 90, clear_below = 80 }
"#;

fn write_gauge(dir: &Path, value: f64) {
    let staging = dir.join("gauge.prom.tmp");
    std::fs::write(&staging, format!("andon_test_gauge {value}\n")).expect("write textfile");
    // A rename is atomic, so node_exporter never reads half a file.
    std::fs::rename(&staging, dir.join("gauge.prom")).expect("rename textfile");
}

fn start_node_exporter(textfile_dir: &Path, port: u16) -> ChildGuard {
    let child = Command::new(NODE_EXPORTER)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .arg("--collector.textfile")
        .arg(format!("--collector.textfile.directory={}", textfile_dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("{NODE_EXPORTER} should start (install Debian's prometheus-node-exporter): {err}"));
    ChildGuard(child)
}

/// Reads `andon_evaluations_total` from andon's own `/metrics`; 0 while
/// andon does not respond yet.
async fn evaluations(andon_port: u16) -> u64 {
    let url = format!("http://127.0.0.1:{andon_port}/metrics");
    let Ok(response) = reqwest::get(&url).await else { return 0 };
    let body = response.text().await.unwrap_or_default();
    body.lines()
        .find_map(|line| line.strip_prefix("andon_evaluations_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

fn transitions(received: &Received) -> Vec<(String, String, f64)> {
    received
        .lock()
        .expect("receiver lock")
        .iter()
        .map(|body| {
            (
                body["from"].as_str().unwrap_or_default().to_owned(),
                body["to"].as_str().unwrap_or_default().to_owned(),
                body["value"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauge_walks_every_tier_with_hysteresis() {
    let dir = tempfile::tempdir().expect("temp dir");
    let textfiles = dir.path().join("textfiles");
    std::fs::create_dir(&textfiles).expect("textfile dir");
    write_gauge(&textfiles, 10.0);

    let exporter_port = free_port();
    let _exporter = start_node_exporter(&textfiles, exporter_port);
    let (receiver, received) = start_receiver().await;
    let andon_port = free_port();

    std::fs::write(dir.path().join("rules.toml"), RULES).expect("write rules");
    let config = format!(
        r#"
[global]
scrape_interval = "100ms"
evaluation_interval = "100ms"
scrape_timeout = "100ms"
listen = "127.0.0.1:{andon_port}"
rule_files = ["rules.toml"]

[[target]]
name = "node"
url = "http://127.0.0.1:{exporter_port}/metrics"

[[receiver]]
name = "hook"
kind = "webhook"
url = "http://{receiver}/hook"
"#,
    );
    let config_path = dir.path().join("andon.toml");
    std::fs::write(&config_path, config).expect("write config");
    let _andon = start_andon(&["run", "--config", config_path.to_str().expect("utf-8 path")]);

    // Each step: the value to write, and the transition it must cause
    // (None: a value inside the current tier's band, which must cause none).
    let steps: [(f64, Option<(&str, &str)>); 9] = [
        (60.0, Some(("ok", "yellow"))),
        (45.0, None),
        (75.0, Some(("yellow", "red"))),
        (65.0, None),
        (95.0, Some(("red", "emergency"))),
        (85.0, None),
        (65.0, Some(("emergency", "red"))),
        (61.0, None),
        (10.0, Some(("red", "ok"))),
    ];
    let mut expected = Vec::new();
    for (value, transition) in steps {
        write_gauge(&textfiles, value);
        match transition {
            Some((from, to)) => {
                expected.push((from.to_owned(), to.to_owned(), value));
                let arrived = wait_for(Duration::from_secs(15), || transitions(&received).len() >= expected.len()).await;
                assert!(arrived, "no {from} -> {to} transition for value {value}; received {:?}", transitions(&received));
            }
            None => {
                // Eight evaluations after the write: several scrapes of the
                // new value and longer than clear_for, so a wrong transition
                // would have been sent.
                let start = evaluations(andon_port).await;
                let passed = wait_for_async(Duration::from_secs(15), || async { evaluations(andon_port).await >= start + 8 }).await;
                assert!(passed, "andon stopped evaluating");
            }
        }
        assert_eq!(transitions(&received), expected, "after writing {value}");
    }
}
