//! A simulated erlmcp server: serves `/metrics` whose values follow the
//! load-test profile on the demo's clock.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::profile::{condition_at, latency_cdf};
use crate::clock::Clock;

/// Histogram bucket bounds in seconds, as erlmcp's exporter intends them.
const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0];

/// Counters are integrated in steps of at most this many seconds.
const STEP_SECONDS: f64 = 0.1;

/// Seconds of baseline traffic the server has served before the demo
/// starts, so every counter (each histogram bucket too) has a consistent
/// history and `rate()` does not see a just-started server.
const HISTORY_SECONDS: f64 = 600.0;

/// Counter values, advanced to the clock's time on every scrape.
#[derive(Debug)]
struct Counters {
    /// Profile time up to which the counters are integrated.
    seconds: f64,
    requests: f64,
    errors: f64,
    buckets: [f64; BUCKETS.len()],
    latency_sum: f64,
    cpu_seconds: f64,
}

/// The simulated server's state.
#[derive(Debug)]
pub struct Simulator {
    clock: Arc<dyn Clock>,
    start_ms: i64,
    counters: Mutex<Counters>,
}

impl Simulator {
    /// Starts the profile at the clock's current time.
    pub fn new(clock: Arc<dyn Clock>) -> Simulator {
        let start_ms = clock.now_ms();
        let mut counters = Counters {
            seconds: -HISTORY_SECONDS,
            requests: 0.0,
            errors: 0.0,
            buckets: [0.0; BUCKETS.len()],
            latency_sum: 0.0,
            cpu_seconds: 0.0,
        };
        advance(&mut counters, 0.0);
        Simulator { clock, start_ms, counters: Mutex::new(counters) }
    }

    /// When the profile started, in ms since the Unix epoch on the demo clock.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// Seconds since the profile started, on the demo clock.
    pub fn profile_seconds(&self) -> f64 {
        (self.clock.now_ms() - self.start_ms) as f64 / 1000.0
    }

    /// Renders the metrics as of now in text format 0.0.4.
    pub fn render(&self) -> String {
        let now = self.profile_seconds();
        let mut counters = match self.counters.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        advance(&mut counters, now);
        render_text(&counters, now)
    }
}

fn advance(counters: &mut Counters, until: f64) {
    while counters.seconds < until {
        let dt = (until - counters.seconds).min(STEP_SECONDS);
        let condition = condition_at(counters.seconds + dt / 2.0);
        let requests = condition.requests_per_second * dt;
        counters.requests += requests;
        counters.errors += requests * condition.error_ratio;
        for (count, bound) in counters.buckets.iter_mut().zip(BUCKETS) {
            *count += requests * latency_cdf(&condition, bound);
        }
        counters.latency_sum += requests * condition.p50 * 1.2;
        counters.cpu_seconds += condition.cpu * dt;
        counters.seconds += dt;
    }
}

fn render_text(counters: &Counters, now: f64) -> String {
    let condition = condition_at(now);
    let mut out = String::with_capacity(2048);
    let requests = counters.requests.floor();
    let _ = writeln!(out, "# HELP erlmcp_requests_total Requests handled.\n# TYPE erlmcp_requests_total counter");
    let _ = writeln!(out, "erlmcp_requests_total {requests}");
    let _ = writeln!(out, "# HELP erlmcp_errors_total Requests that failed.\n# TYPE erlmcp_errors_total counter");
    let _ = writeln!(out, "erlmcp_errors_total {}", counters.errors.floor());
    let _ = writeln!(out, "# HELP erlmcp_request_duration_seconds Request latency.\n# TYPE erlmcp_request_duration_seconds histogram");
    for (count, bound) in counters.buckets.iter().zip(BUCKETS) {
        let _ = writeln!(out, "erlmcp_request_duration_seconds_bucket{{le=\"{bound}\"}} {}", count.floor());
    }
    let _ = writeln!(out, "erlmcp_request_duration_seconds_bucket{{le=\"+Inf\"}} {requests}");
    let _ = writeln!(out, "erlmcp_request_duration_seconds_sum {}", counters.latency_sum);
    let _ = writeln!(out, "erlmcp_request_duration_seconds_count {requests}");
    let _ = writeln!(out, "# HELP erlmcp_connections_active Open client connections.\n# TYPE erlmcp_connections_active gauge");
    let _ = writeln!(out, "erlmcp_connections_active {}", condition.connections.round());
    let _ = writeln!(out, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter");
    let _ = writeln!(out, "process_cpu_seconds_total {}", counters.cpu_seconds);
    let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge");
    let _ = writeln!(out, "process_resident_memory_bytes {}", condition.memory_bytes.round());
    out
}

/// The simulator's HTTP routes: `/metrics`.
pub fn router(simulator: Arc<Simulator>) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(simulator)
}

async fn metrics(State(simulator): State<Arc<Simulator>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], simulator.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ScaledClock;

    #[test]
    fn counters_grow_with_time() {
        let mut counters = Simulator::new(Arc::new(ScaledClock::new(0, 1.0))).counters.into_inner().unwrap();
        let before = counters.requests;
        advance(&mut counters, 10.0);
        assert!((counters.requests - before - 25_000.0).abs() < 1.0);
    }

    #[test]
    fn rendered_histogram_ends_with_inf() {
        let simulator = Simulator::new(Arc::new(ScaledClock::new(0, 1.0)));
        assert!(simulator.render().contains("le=\"+Inf\""));
    }
}
