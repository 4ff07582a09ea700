//! Helpers shared by the integration tests: a webhook receiver on
//! 127.0.0.1, child processes that are killed when dropped, and polling with
//! a deadline.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

/// A process killed when the guard is dropped, so a failing test leaves no
/// server behind.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Returns a port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port on 127.0.0.1")
}

/// Starts the andon binary with `args`, logging to the test's stderr.
pub fn start_andon(args: &[&str]) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_andon"))
        .args(args)
        .env("ANDON_LOG", "info,andon=debug")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("andon binary should start");
    ChildGuard(child)
}

/// Webhook payloads received so far.
pub type Received = Arc<Mutex<Vec<Value>>>;

/// Starts a webhook receiver on 127.0.0.1 that records every JSON body.
pub async fn start_receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let app = Router::new().route("/hook", post(record)).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
    let address = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, received)
}

async fn record(State(received): State<Received>, Json(body): Json<Value>) {
    received.lock().expect("receiver lock").push(body);
}

/// Polls `condition` every 20 ms until it is true or `timeout` passes.
pub async fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// Polls the async `condition` every 20 ms until it is true or `timeout`
/// passes.
pub async fn wait_for_async<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition().await
}
