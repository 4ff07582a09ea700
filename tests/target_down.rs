//! A target that cannot be scraped raises the built-in TargetDown rule.

mod common;

use std::time::Duration;

use common::{free_port, start_andon, start_receiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_raises_target_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (receiver, received) = start_receiver().await;
    // Nothing listens on this port: every scrape is refused.
    let dead_port = free_port();
    std::fs::write(
        dir.path().join("rules.toml"),
        "[[rule]]\nname = \"Gauge\"\nexpr = \"some_gauge\"\nred = { above = 1 }\n",
    )
    .expect("write rules");
    let config = format!(
        r#"
[global]
scrape_interval = "100ms"
scrape_timeout = "100ms"
target_down_after = "300ms"
listen = "127.0.0.1:{andon_port}"
rule_files = ["rules.toml"]

[[target]]
name = "dead"
url = "http://127.0.0.1:{dead_port}/metrics"

[[receiver]]
name = "hook"
kind = "webhook"
url = "http://{receiver}/hook"
"#,
        andon_port = free_port(),
    );
    let config_path = dir.path().join("andon.toml");
    std::fs::write(&config_path, config).expect("write config");
    let _andon = start_andon(&["run", "--config", config_path.to_str().expect("utf-8 path")]);

    let arrived = wait_for(Duration::from_secs(15), || !received.lock().expect("lock").is_empty()).await;
    assert!(arrived, "no notification for an unreachable target");
    let first = received.lock().expect("lock")[0].clone();
    assert_eq!(first["alerts"][0]["labels"]["alertname"], "TargetDown");
    assert_eq!(first["to"], "red");
    assert_eq!(first["alerts"][0]["labels"]["job"], "dead");
}
