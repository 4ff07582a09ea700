//! Delivery of transitions to receivers.
//!
//! Every receiver has its own task and queue, so a slow or failing receiver
//! delays only itself, and each receiver gets transitions in the order the
//! engine produced them. Routes decide which receivers get a transition.

mod route;
mod stdout;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, Receiver, ReceiverKind};
use crate::engine::Transition;

pub use route::Router;
pub use stdout::offset as stdout_offset;

/// A failed delivery and its cause.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The receiver rejected the payload (4xx other than 429); retrying
    /// would give the same response.
    #[error("receiver rejected the payload with HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    /// The receiver asked to slow down (HTTP 429).
    #[error("receiver is rate limiting (HTTP 429)")]
    RateLimited,
    /// A server error or a network failure; worth retrying.
    #[error("delivery failed: {0}")]
    Transient(String),
}

impl NotifyError {
    fn is_retryable(&self) -> bool {
        !matches!(self, NotifyError::Rejected { .. })
    }
}

/// Retry policy for one delivery.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts before a transition is dropped. The default retries until
    /// the delivery succeeds or andon shuts down: a page must not be lost
    /// because its receiver was down for a minute.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (1-based, after a failure):
    /// exponential with full jitter in its upper half, so sidecars that
    /// failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let base = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        let jitter = rand::rng().random_range(0.5..=1.0);
        base.mul_f64(jitter)
    }
}

/// Delivery counts of one receiver, for andon's own `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeliveryCounts {
    pub delivered: u64,
    /// Attempts that failed and were retried.
    pub retried: u64,
    /// Transitions given up on: rejected by the receiver, or out of attempts.
    pub dropped: u64,
}

/// Delivery counts per receiver name, shared with the HTTP server.
pub type DeliveryStats = Arc<Mutex<BTreeMap<String, DeliveryCounts>>>;

fn count(stats: &DeliveryStats, receiver: &str, update: impl FnOnce(&mut DeliveryCounts)) {
    let mut stats = match stats.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    update(stats.entry(receiver.to_owned()).or_default());
}

/// A receiver that delivers one transition.
#[derive(Debug)]
enum Sink {
    Webhook(webhook::Webhook),
    Stdout { origin_ms: Option<i64> },
}

impl Sink {
    fn new(receiver: &Receiver, external_url: &str, client: &reqwest::Client) -> Sink {
        match &receiver.kind {
            ReceiverKind::Webhook { url, headers, timeout } => Sink::Webhook(webhook::Webhook {
                receiver: receiver.name.clone(),
                url: url.clone(),
                headers: headers.clone(),
                timeout: *timeout,
                external_url: external_url.to_owned(),
                client: client.clone(),
            }),
            ReceiverKind::Stdout { origin_ms } => Sink::Stdout { origin_ms: *origin_ms },
        }
    }

    async fn deliver(&self, transition: &Transition) -> Result<(), NotifyError> {
        match self {
            Sink::Webhook(webhook) => webhook.deliver(transition).await,
            Sink::Stdout { origin_ms } => {
                stdout::print(transition, *origin_ms);
                Ok(())
            }
        }
    }
}

/// Routes transitions and runs one delivery task per receiver.
#[derive(Debug)]
pub struct Notifier {
    router: Router,
    queues: Vec<(String, mpsc::UnboundedSender<Transition>)>,
    tasks: Vec<JoinHandle<()>>,
    stats: DeliveryStats,
}

impl Notifier {
    /// Starts a delivery task for every receiver in `config`.
    pub fn start(config: &Config, retry: RetryPolicy) -> Notifier {
        let client = reqwest::Client::builder()
            .user_agent(concat!("andon/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        let stats = DeliveryStats::default();
        for receiver in &config.receivers {
            let sink = Sink::new(receiver, &config.global.external_url, &client);
            let (sender, queue) = mpsc::unbounded_channel();
            count(&stats, &receiver.name, |_| {});
            tasks.push(tokio::spawn(run_receiver(receiver.name.clone(), sink, queue, retry, stats.clone())));
            queues.push((receiver.name.clone(), sender));
        }
        let router = Router::new(config.routes.clone(), config.receivers.iter().map(|r| r.name.clone()).collect());
        Notifier { router, queues, tasks, stats }
    }

    /// Delivery counts per receiver, updated as deliveries happen.
    pub fn stats(&self) -> DeliveryStats {
        self.stats.clone()
    }

    /// Queues `transition` for every receiver its routes name.
    pub fn send(&mut self, transition: &Transition) {
        for name in self.router.receivers_for(transition) {
            if let Some((_, queue)) = self.queues.iter().find(|(n, _)| *n == name) {
                // A closed queue means its task ended, which only happens at
                // shutdown.
                let _ = queue.send(transition.clone());
            }
        }
    }

    /// Stops accepting transitions and waits up to `grace` for queued ones
    /// to be delivered.
    pub async fn shutdown(self, grace: Duration) {
        drop(self.queues);
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::error!(grace = ?grace, "shutdown grace period ended with deliveries still queued");
        }
    }
}

/// Delivers transitions for one receiver, in order, retrying each.
async fn run_receiver(
    name: String,
    sink: Sink,
    mut queue: mpsc::UnboundedReceiver<Transition>,
    retry: RetryPolicy,
    stats: DeliveryStats,
) {
    while let Some(transition) = queue.recv().await {
        deliver_with_retry(&name, &sink, &transition, retry, &stats).await;
    }
}

async fn deliver_with_retry(name: &str, sink: &Sink, transition: &Transition, retry: RetryPolicy, stats: &DeliveryStats) {
    for attempt in 1..=retry.max_attempts {
        match sink.deliver(transition).await {
            Ok(()) => {
                count(stats, name, |c| c.delivered += 1);
                if attempt > 1 {
                    tracing::info!(receiver.name = name, alert.fingerprint = %transition.fingerprint, attempt, "delivered after retries");
                }
                tracing::debug!(receiver.name = name, alert.fingerprint = %transition.fingerprint, attempt, "delivered");
                return;
            }
            Err(err) if err.is_retryable() && attempt < retry.max_attempts => {
                count(stats, name, |c| c.retried += 1);
                let wait = retry.backoff(attempt);
                tracing::warn!(receiver.name = name, alert.fingerprint = %transition.fingerprint, attempt, retry_in = ?wait, error = %err, "delivery failed, retrying");
                tokio::time::sleep(wait).await;
            }
            Err(err) => {
                count(stats, name, |c| c.dropped += 1);
                tracing::error!(receiver.name = name, rule.name = %transition.rule, alert.fingerprint = %transition.fingerprint, attempt, error = %err, "delivery failed; notification dropped");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let policy = RetryPolicy::default();
        assert!(policy.backoff(1) <= Duration::from_millis(500));
        assert!(policy.backoff(1) >= Duration::from_millis(250));
        assert!(policy.backoff(20) <= Duration::from_secs(30));
    }
}
