//! The live loop: scrape every target, store the samples, evaluate the rules
//! right away, and hand transitions to the notifier.
//!
//! Evaluation follows each scrape round instead of running on a timer of its
//! own, so a threshold crossing reaches the receivers one scrape interval
//! plus milliseconds after it happens.

mod health;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

use crate::clock::Clock;
use crate::config::{Config, Direction, OnMissing, Rule, Target, TierSpec};
use crate::engine::{Engine, Tier, Transition};
use crate::expr::{Expr, ExprError};
use crate::labels::Labels;
use crate::notify::{Notifier, RetryPolicy};
use crate::scrape::{self, ScrapeOutcome, Scraper, SeriesCache};
use crate::server::{self, SharedStatus};
use crate::store::Store;

pub use health::TargetHealth;

/// The name of the built-in rule that reports targets whose scrapes fail.
pub const TARGET_DOWN_RULE: &str = "TargetDown";

/// An error that stops the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("rule {rule:?}: {source}")]
    Expr { rule: String, source: ExprError },
    #[error("could not build the HTTP client: {0}")]
    Client(#[from] scrape::ScrapeError),
    #[error("could not listen on {listen}: {source}; set `listen` in [global] to a free address")]
    Listen { listen: String, source: std::io::Error },
}

/// Settings of the loop that are not part of the config file.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long shutdown waits for queued notifications.
    pub shutdown_grace: Duration,
    pub retry: RetryPolicy,
    /// Delay the first scrape by a random part of the scrape interval, so
    /// sidecars started together do not scrape in lockstep.
    pub jitter: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { shutdown_grace: Duration::from_secs(10), retry: RetryPolicy::default(), jitter: true }
    }
}

/// The daemon's state between ticks.
struct Daemon {
    targets: Vec<Target>,
    health: Vec<TargetHealth>,
    scraper: Scraper,
    /// One per target, in the order of `targets`.
    caches: Vec<SeriesCache>,
    keep: Option<HashSet<String>>,
    store: Store,
    engine: Engine,
    notifier: Notifier,
    clock: Arc<dyn Clock>,
    status: SharedStatus,
    /// Each rule's name and the metric names it reads, until the first
    /// successful scrape round has been checked against them.
    unchecked_names: Option<Vec<(String, Vec<String>)>>,
    /// Metric names seen in successful scrapes, until that check.
    seen_names: HashSet<String>,
}

/// Runs until `shutdown` completes, then drains the notifier.
pub async fn run(
    config: Config,
    clock: Arc<dyn Clock>,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let status = SharedStatus::default();
    let listen = &config.global.listen;
    let address = server::start(listen, status.clone())
        .await
        .map_err(|source| DaemonError::Listen { listen: listen.clone(), source })?;
    log_banner(&config, address);
    for warning in rule_warnings(&config) {
        tracing::warn!("{warning}");
    }
    let mut daemon = Daemon::new(&config, clock, options, status)?;
    let scrape_every = daemon.clock.real_duration(config.global.scrape_interval);
    let evaluate_every = daemon.clock.real_duration(config.global.evaluation_interval);

    let offset = if options.jitter { scrape_every.mul_f64(rand::random::<f64>()) } else { Duration::ZERO };
    let mut scrape_tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, scrape_every);
    scrape_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut evaluate_tick = tokio::time::interval(evaluate_every);
    evaluate_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let separate_evaluation = evaluate_every < scrape_every;

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = scrape_tick.tick() => {
                daemon.scrape_all().await;
                daemon.evaluate();
            }
            _ = evaluate_tick.tick(), if separate_evaluation => daemon.evaluate(),
        }
    }

    tracing::info!(grace = ?options.shutdown_grace, "shutting down; delivering queued notifications");
    daemon.notifier.shutdown(options.shutdown_grace).await;
    tracing::info!("andon stopped");
    Ok(())
}

fn log_banner(config: &Config, address: std::net::SocketAddr) {
    let targets: Vec<String> = config.targets.iter().map(|t| scrape::redact_url(&t.url)).collect();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config.path = %config.path.display(),
        targets = ?targets,
        rules = config.rules.len(),
        receivers = config.receivers.len(),
        listen = %address,
        "andon starting"
    );
}

impl Daemon {
    fn new(config: &Config, clock: Arc<dyn Clock>, options: Options, status: SharedStatus) -> Result<Daemon, DaemonError> {
        let notifier = Notifier::start(config, options.retry);
        status.lock().deliveries = notifier.stats();
        let mut rules = Vec::new();
        for rule in config.rules.iter().cloned().chain([target_down_rule(config)]) {
            let expr = Expr::parse(&rule.expr).map_err(|source| DaemonError::Expr { rule: rule.name.clone(), source })?;
            rules.push((rule, expr));
        }
        let keep = metric_filter(rules.iter().map(|(_, expr)| expr));
        let unchecked_names = rules
            .iter()
            // absent() exists to watch for a missing metric, so its names
            // are expected to be missing.
            .filter(|(rule, _)| rule.name != TARGET_DOWN_RULE && !rule.expr.contains("absent"))
            .map(|(rule, expr)| (rule.name.clone(), expr.metric_names().unwrap_or_default()))
            .collect();
        if config.receivers.is_empty() {
            tracing::warn!("no [[receiver]] is configured: transitions are only logged");
        }
        let retention = rules.iter().map(|(_, expr)| expr.lookback_ms()).max().unwrap_or(0)
            + 2 * config.global.scrape_interval.as_millis() as i64;

        let targets: Vec<Target> = config
            .targets
            .iter()
            .map(|target| {
                let mut target = target.clone();
                target.labels = scrape::target_labels(&target.name, &target.url, &target.labels);
                target
            })
            .collect();
        Ok(Daemon {
            health: targets.iter().map(|t| TargetHealth::new(&t.name)).collect(),
            caches: targets.iter().map(|_| SeriesCache::new()).collect(),
            targets,
            scraper: Scraper::new()?,
            keep,
            store: Store::new(retention),
            engine: Engine::new(rules),
            notifier,
            clock,
            status,
            unchecked_names: Some(unchecked_names),
            seen_names: HashSet::new(),
        })
    }

    /// Fetches every target at once, then stores the bodies one by one.
    async fn scrape_all(&mut self) {
        let at_ms = self.clock.now_ms();
        let scraper = &self.scraper;
        let fetched = futures::future::join_all(self.targets.iter().map(|target| scraper.fetch(target))).await;
        for (index, (fetched, fetch_time)) in fetched.into_iter().enumerate() {
            let started = Instant::now();
            let result = fetched.and_then(|fetched| self.store_body(index, &fetched, at_ms));
            if result.is_err() {
                self.caches[index].fail(&mut self.store, at_ms);
            }
            let outcome = ScrapeOutcome { result, duration: fetch_time + started.elapsed() };
            self.store_outcome(index, at_ms, outcome);
        }
        self.store.prune(at_ms);
        self.check_metric_names();
        let mut status = self.status.lock();
        status.targets = self.health.clone();
        status.ready = true;
    }

    fn store_body(&mut self, index: usize, fetched: &scrape::Fetched, at_ms: i64) -> Result<scrape::Scrape, scrape::ScrapeError> {
        let keep = &self.keep;
        let keep_name = |name: &str| keep.as_ref().is_none_or(|names| names.contains(name));
        let cache = &mut self.caches[index];
        let stored = scrape::store_body(&self.targets[index], fetched, &keep_name, cache, &mut self.store, at_ms);
        if self.unchecked_names.is_some() {
            self.seen_names.extend(cache.metric_names().map(str::to_owned));
        }
        stored
    }

    /// Warns once, after the first round in which a target responded, about
    /// every metric a rule reads that no target exposes: usually a typo in
    /// the rule, which would otherwise stay silent forever.
    fn check_metric_names(&mut self) {
        if !self.health.iter().any(|health| health.up) {
            return;
        }
        let Some(rules) = self.unchecked_names.take() else { return };
        for (rule, names) in rules {
            for name in names.iter().filter(|name| !self.seen_names.contains(*name) && !is_synthetic(name)) {
                tracing::warn!(rule.name = %rule, metric = %name, "no target exposes a metric this rule reads; check the name");
            }
        }
        self.seen_names = HashSet::new();
    }

    fn store_outcome(&mut self, index: usize, at_ms: i64, outcome: ScrapeOutcome) {
        let target = &self.targets[index];
        let health = &mut self.health[index];
        health.record(target, &outcome, at_ms);
        let up = match outcome.result {
            // A failed scrape has ended every series of the target, as in
            // Prometheus: rules then see no data, not old values.
            Ok(_) => 1.0,
            Err(_) => 0.0,
        };
        let duration = outcome.duration.as_secs_f64();
        for (name, value) in [("up", up), ("scrape_duration_seconds", duration)] {
            let mut labels = target.labels.clone();
            labels.set(crate::labels::METRIC_NAME, name);
            self.store.append(&labels, at_ms, value);
        }
    }

    /// Evaluates every rule now and queues the transitions.
    fn evaluate(&mut self) {
        let at_ms = self.clock.now_ms();
        let transitions = self.engine.evaluate(&self.store, at_ms);
        let mut status = self.status.lock();
        status.evaluations_total += 1;
        status.series = self.engine.snapshot();
        for transition in transitions {
            log_transition(&transition);
            *status.transitions_total.entry((transition.rule.clone(), transition.to)).or_default() += 1;
            self.notifier.send(&transition);
        }
    }
}

fn log_transition(transition: &Transition) {
    tracing::info!(
        rule.name = %transition.rule,
        series = %transition.labels,
        from = %transition.from,
        to = %transition.to,
        value = transition.value,
        threshold = transition.threshold,
        reason = ?transition.reason,
        alert.fingerprint = %transition.fingerprint,
        "tier changed"
    );
}

/// Returns problems in a valid config that make a rule unable to fire:
/// a range selector too short to hold two scrapes, which functions such as
/// `rate` need. `andon check` prints these and `andon run` logs them.
pub fn rule_warnings(config: &Config) -> Vec<String> {
    let interval_ms = config.global.scrape_interval.as_millis() as i64;
    let mut warnings = Vec::new();
    for rule in &config.rules {
        let Ok(expr) = Expr::parse(&rule.expr) else { continue };
        let Some(range_ms) = expr.shortest_range_ms() else { continue };
        if range_ms < 2 * interval_ms {
            warnings.push(format!(
                "rule {:?} ({}): a range of {} holds fewer than two scrapes at scrape_interval {}, so functions such as rate() return nothing and the rule never fires; use a range of at least {} (four times the interval is safer)",
                rule.name,
                rule.source.display(),
                humantime::format_duration(Duration::from_millis(range_ms as u64)),
                humantime::format_duration(config.global.scrape_interval),
                humantime::format_duration(config.global.scrape_interval * 2),
            ));
        }
    }
    warnings
}

/// Tells whether the daemon writes `name` itself rather than scraping it.
fn is_synthetic(name: &str) -> bool {
    matches!(name, "up" | "scrape_duration_seconds")
}

/// The metric names rules read, or `None` when some selector has no fixed
/// name and every series must be kept. `up` and `scrape_duration_seconds`
/// are written by the daemon itself and need no scraping.
fn metric_filter<'a>(exprs: impl Iterator<Item = &'a Expr>) -> Option<HashSet<String>> {
    let mut names = HashSet::new();
    for expr in exprs {
        names.extend(expr.metric_names()?);
    }
    Some(names)
}

/// Builds the built-in rule that raises red when a target's `up` has been 0 for
/// `target_down_after`.
fn target_down_rule(config: &Config) -> Rule {
    Rule {
        name: TARGET_DOWN_RULE.to_owned(),
        expr: "up".to_owned(),
        unit: String::new(),
        direction: Direction::Below,
        tiers: vec![TierSpec { tier: Tier::Red, trigger: 1.0, clear: 1.0, for_: config.global.target_down_after }],
        clear_for: Duration::ZERO,
        on_missing: OnMissing::Hold,
        missing_for: Duration::from_secs(300),
        flap: None,
        summary: "Target {{ $labels.instance }} (job {{ $labels.job }}) cannot be scraped".to_owned(),
        labels: Labels::new(),
        source: config.path.clone(),
    }
}
