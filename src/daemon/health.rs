//! Per-target scrape health: the figures andon reports about each target,
//! and the rate-limited logging of scrape failures.

use crate::config::Target;
use crate::scrape::{redact_url, ScrapeOutcome};

/// A repeated scrape failure is logged at most once per this many ms.
const WARN_EVERY_MS: i64 = 60_000;

/// Figures of one target's recent scrapes.
#[derive(Clone, Debug, Default)]
pub struct TargetHealth {
    pub target: String,
    pub up: bool,
    pub last_scrape_ms: i64,
    pub last_duration_seconds: f64,
    pub last_error: Option<String>,
    pub samples_scraped: usize,
    pub samples_kept: usize,
    pub body_bytes: usize,
    pub scrapes_total: u64,
    pub scrape_failures_total: u64,
    pub parse_errors_total: u64,
    pub duplicates_total: u64,
    /// When a failed scrape was last logged, for rate limiting.
    last_warn_ms: Option<i64>,
    /// When parse errors were last logged; kept apart from failures, and not
    /// reset by a successful scrape, so a body with a bad line every scrape
    /// is logged once a minute.
    last_parse_warn_ms: Option<i64>,
    /// Whether the fallback format has been logged yet (logged once).
    fallback_logged: bool,
}

impl TargetHealth {
    pub fn new(target: &str) -> TargetHealth {
        TargetHealth { target: target.to_owned(), ..TargetHealth::default() }
    }

    /// Updates the figures from one scrape and logs what an operator needs.
    pub fn record(&mut self, target: &Target, outcome: &ScrapeOutcome, at_ms: i64) {
        self.scrapes_total += 1;
        self.last_scrape_ms = at_ms;
        self.last_duration_seconds = outcome.duration.as_secs_f64();
        match &outcome.result {
            Ok(scrape) => {
                if !self.up && self.scrapes_total > 1 {
                    tracing::info!(target.name = %target.name, target.url = %redact_url(&target.url), "target responds again");
                }
                self.up = true;
                self.last_error = None;
                self.last_warn_ms = None;
                self.samples_scraped = scrape.samples_scraped;
                self.samples_kept = scrape.samples_kept;
                self.body_bytes = scrape.body_bytes;
                self.parse_errors_total += scrape.errors.len() as u64;
                self.duplicates_total += scrape.duplicates as u64;
                tracing::debug!(
                    target.name = %target.name,
                    duration_seconds = self.last_duration_seconds,
                    samples.scraped = scrape.samples_scraped,
                    samples.kept = scrape.samples_kept,
                    parse_errors = scrape.errors.len(),
                    duplicates = scrape.duplicates,
                    body_bytes = scrape.body_bytes,
                    "scraped"
                );
                if let Some(first) = scrape.errors.first() {
                    warn_limited(&mut self.last_parse_warn_ms, at_ms, || {
                        tracing::warn!(target.name = %target.name, target.url = %redact_url(&target.url), errors = scrape.errors.len(), first.line = first.line, first.column = first.column, first.message = %first.message, "lines in the scrape could not be parsed; the rest was used");
                    });
                }
                if scrape.used_fallback && !self.fallback_logged {
                    self.fallback_logged = true;
                    tracing::info!(target.name = %target.name, format = ?scrape.format, "content type names no exposition format; using the target's fallback_format");
                }
            }
            Err(err) => {
                self.up = false;
                self.scrape_failures_total += 1;
                self.last_error = Some(err.to_string());
                warn_limited(&mut self.last_warn_ms, at_ms, || {
                    tracing::warn!(target.name = %target.name, target.url = %redact_url(&target.url), error = %err, "scrape failed");
                });
            }
        }
    }

}

/// Runs `log` unless it ran less than a minute before `at_ms`.
fn warn_limited(last: &mut Option<i64>, at_ms: i64, log: impl FnOnce()) {
    let due = last.is_none_or(|last| at_ms - last >= WARN_EVERY_MS);
    if due {
        *last = Some(at_ms);
        log();
    }
}
