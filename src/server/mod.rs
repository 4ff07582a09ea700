//! andon's own HTTP server: `/metrics` about andon itself, health and
//! readiness probes.

mod metrics;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::daemon::TargetHealth;
use crate::engine::{SeriesStatus, Tier};

/// Figures the server reports, updated by the live loop after every round.
#[derive(Debug, Default)]
pub struct Status {
    pub targets: Vec<TargetHealth>,
    /// Transitions sent so far, by rule and tier entered.
    pub transitions_total: BTreeMap<(String, Tier), u64>,
    /// True once every target has been scraped at least once.
    pub ready: bool,
    pub evaluations_total: u64,
    /// Every tracked series' state after the latest evaluation.
    pub series: Vec<SeriesStatus>,
    /// Delivery counts per receiver, shared with the notifier.
    pub deliveries: crate::notify::DeliveryStats,
}

/// Status shared between the loop and the server.
#[derive(Clone, Debug, Default)]
pub struct SharedStatus(Arc<Mutex<Status>>);

impl SharedStatus {
    /// Locks the status. A poisoned lock still holds usable figures, so it
    /// is recovered rather than propagated.
    pub fn lock(&self) -> MutexGuard<'_, Status> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Binds `listen` and serves until the task is dropped; returns the bound
/// address (useful when the port is 0).
pub async fn start(listen: &str, status: SharedStatus) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/-/healthy", get(|| async { "andon is healthy\n" }))
        .route("/-/ready", get(ready))
        .route("/api/v1/alerts", get(alerts))
        .with_state(status);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "HTTP server stopped");
        }
    });
    Ok(address)
}

async fn serve_metrics(State(status): State<SharedStatus>) -> impl IntoResponse {
    let body = metrics::render(&status.lock());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

/// Lists every series that is not ok, with its state and the reason, in the
/// Prometheus API envelope. `?all=1` lists ok series too.
async fn alerts(
    State(status): State<SharedStatus>,
    axum::extract::Query(query): axum::extract::Query<AlertsQuery>,
) -> impl IntoResponse {
    let status = status.lock();
    let series: Vec<&SeriesStatus> = status
        .series
        .iter()
        .filter(|series| query.all.is_some() || series.notified_tier != Tier::Ok || !matches!(series.state, crate::engine::SeriesState::Ok))
        .collect();
    let targets: Vec<serde_json::Value> = status
        .targets
        .iter()
        .map(|target| serde_json::json!({ "target": target.target, "up": target.up, "lastError": target.last_error }))
        .collect();
    axum::Json(serde_json::json!({ "status": "success", "data": { "series": series, "targets": targets } }))
}

#[derive(Debug, serde::Deserialize)]
struct AlertsQuery {
    all: Option<String>,
}

async fn ready(State(status): State<SharedStatus>) -> impl IntoResponse {
    if status.lock().ready {
        (StatusCode::OK, "andon is ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "andon has not scraped every target yet\n")
    }
}
