//! Webhook delivery against a real HTTP receiver that fails: retries keep
//! the order per receiver, and a rejected payload is not retried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon::engine::{Reason, Tier, Transition};
use andon::labels::Labels;
use andon::notify::{Notifier, RetryPolicy};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

/// A receiver that responds to `failures` requests with `status`, then 200.
#[derive(Clone)]
struct Flaky {
    failures: usize,
    status: StatusCode,
    requests: Arc<AtomicUsize>,
    accepted: Arc<Mutex<Vec<Value>>>,
}

async fn receive(State(flaky): State<Flaky>, Json(body): Json<Value>) -> StatusCode {
    let seen = flaky.requests.fetch_add(1, Ordering::SeqCst);
    if seen < flaky.failures {
        return flaky.status;
    }
    flaky.accepted.lock().expect("lock").push(body);
    StatusCode::OK
}

async fn start_flaky(failures: usize, status: StatusCode) -> (String, Flaky) {
    let flaky = Flaky { failures, status, requests: Arc::default(), accepted: Arc::default() };
    let app = Router::new().route("/hook", post(receive)).with_state(flaky.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), flaky)
}

fn notifier(url: &str) -> Notifier {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rules.toml"), "").expect("write rules");
    let config = format!(
        "[global]\nrule_files = [\"rules.toml\"]\n\n[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:9/metrics\"\n\n[[receiver]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n"
    );
    let path = dir.path().join("andon.toml");
    std::fs::write(&path, config).expect("write config");
    let config = andon::config::load(&path).expect("config loads");
    let retry = RetryPolicy { max_attempts: 5, initial_backoff: Duration::from_millis(10), max_backoff: Duration::from_millis(50) };
    Notifier::start(&config, retry)
}

fn transition(from: Tier, to: Tier, value: f64) -> Transition {
    Transition {
        rule: "Gauge".into(),
        labels: Labels::from_pairs([("instance", "a")]),
        from,
        to,
        value,
        threshold: 1.0,
        at_ms: 1_700_000_000_000,
        incident_start_ms: 1_700_000_000_000,
        fingerprint: "0000000000000001".into(),
        reason: Reason::Threshold,
        summary: String::new(),
    }
}

#[tokio::test]
async fn server_errors_are_retried_in_order() {
    let (url, flaky) = start_flaky(2, StatusCode::SERVICE_UNAVAILABLE).await;
    let mut notifier = notifier(&url);
    notifier.send(&transition(Tier::Ok, Tier::Yellow, 1.0));
    notifier.send(&transition(Tier::Yellow, Tier::Red, 2.0));
    notifier.send(&transition(Tier::Red, Tier::Ok, 3.0));
    notifier.shutdown(Duration::from_secs(10)).await;

    let accepted = flaky.accepted.lock().expect("lock");
    let values: Vec<f64> = accepted.iter().map(|body| body["value"].as_f64().unwrap_or(f64::NAN)).collect();
    assert_eq!(values, vec![1.0, 2.0, 3.0]);
    assert_eq!(flaky.requests.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn rejected_payload_is_not_retried() {
    let (url, flaky) = start_flaky(1, StatusCode::BAD_REQUEST).await;
    let mut notifier = notifier(&url);
    let stats = notifier.stats();
    notifier.send(&transition(Tier::Ok, Tier::Red, 1.0));
    notifier.send(&transition(Tier::Red, Tier::Ok, 2.0));
    notifier.shutdown(Duration::from_secs(10)).await;

    let counts = stats.lock().expect("lock")["hook"];
    assert_eq!(counts.dropped, 1);
    assert_eq!(counts.delivered, 1);

    let accepted = flaky.accepted.lock().expect("lock");
    let values: Vec<f64> = accepted.iter().map(|body| body["value"].as_f64().unwrap_or(f64::NAN)).collect();
    assert_eq!(values, vec![2.0]);
    assert_eq!(flaky.requests.load(Ordering::SeqCst), 2);
}
