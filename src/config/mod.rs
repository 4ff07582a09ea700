//! The configuration model: `andon.toml` and the rule files it names.
//!
//! `load` reads every file, collects every error with its file, line and
//! column, and returns either a complete [`Config`] or all the errors.
//! `examples/andon.toml` and `rules/erlmcp.toml` show every key in use.
//!
//! # `andon.toml`
//!
//! - `[global]`: every key is optional. `scrape_interval` defaults to 15s
//!   and `evaluation_interval` to the scrape interval. `scrape_timeout`
//!   defaults to 10s, capped at the scrape interval, and an explicit longer
//!   value is an error. `body_size_limit` defaults to "16MiB", `listen` to
//!   "127.0.0.1:9071", `external_url` to `http://` and the listen address,
//!   and `target_down_after` to 30s. `rule_files` are resolved against the
//!   config file's folder.
//! - `[[target]]`: `name` and `url` are required; `labels`, `timeout`,
//!   `body_size_limit` and `fallback_format` ("text" or "openmetrics",
//!   default "text") are optional. `instance` defaults to the URL's host
//!   and port; `job` is the target's name and cannot be set as a label.
//! - `[[receiver]]`: `name` and `kind`. A `kind = "webhook"` receiver takes
//!   `url` or `url_file`, `headers`, `headers_file` and `timeout` (default
//!   10s). `${NAME}` in `url` and header values reads an environment
//!   variable. `url_file` holds the URL, and `headers_file` holds one
//!   `Name: value` line per header; both are relative to the config file's
//!   folder. `kind = "stdout"` takes no other keys.
//! - `[[route]]`: `receivers` is required; `tiers` (default: all) and
//!   `matchers` (label equality, `alertname` is the rule name) are optional.
//!
//! # Rule files
//!
//! An optional `[defaults]` table sets `for`, `clear_for`, `hysteresis`,
//! `on_missing`, `missing_for` and `flap` for every rule of the file. A
//! `[[rule]]` takes `name`, `expr` (PromQL), `unit`, `summary`, `labels`,
//! the same settings as `[defaults]`, and at least one of the tiers
//! `yellow`, `red`, `emergency`, each `{ above = X, clear_below = Y, for =
//! ".." }` or `{ below = X, clear_above = Y, for = ".." }`.
//!
//! Defaults, from the rule, then the file's `[defaults]`, then built in:
//! `for` 0s; `clear_for` 60s ([`DEFAULT_CLEAR_FOR`]); `missing_for` 5m;
//! `on_missing` "hold"; no flap detection. A tier's `for` defaults to the
//! rule's. Its clear threshold defaults to the trigger minus `hysteresis`
//! (plus, for `below` tiers), where `hysteresis` is an absolute number or a
//! string percent of the trigger such as "10%"; without one, clear equals
//! the trigger.
//!
//! Durations are Prometheus-style strings ("500ms", "15s", "1m30s", "2h",
//! "1d"). Sizes are bytes or strings with B, KB, MB, GB (powers of 1000) or
//! KiB, MiB, GiB (powers of 1024).

mod document;
mod load;
mod main_file;
mod render;
mod rule_file;
mod secrets;
mod units;

pub use load::{check, load, load_rules_str, CheckSummary, ConfigError, ConfigErrors};
pub use main_file::{
    DEFAULT_LINE_SIZE_LIMIT,
    DEFAULT_BODY_SIZE_LIMIT, DEFAULT_LISTEN, DEFAULT_SCRAPE_INTERVAL, DEFAULT_SCRAPE_TIMEOUT,
    DEFAULT_TARGET_DOWN_AFTER, DEFAULT_WEBHOOK_TIMEOUT,
};
pub use render::{render_errors, render_errors_with};
pub use rule_file::{DEFAULT_CLEAR_FOR, DEFAULT_MISSING_FOR};
pub use units::{parse_duration, parse_size, DURATION_UNITS};

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::Tier;
use crate::labels::Labels;

/// A loaded and validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The path of the main config file, for logs.
    pub path: PathBuf,
    pub global: Global,
    pub targets: Vec<Target>,
    pub receivers: Vec<Receiver>,
    pub routes: Vec<Route>,
    /// Rules from every rule file, in file order.
    pub rules: Vec<Rule>,
}

/// Settings under `[global]`.
#[derive(Clone, Debug)]
pub struct Global {
    /// Time between scrapes of each target. Default 15 s.
    pub scrape_interval: Duration,
    /// Time between rule evaluations when no scrape triggers one. Rules are
    /// also evaluated right after every scrape. Default: `scrape_interval`.
    pub evaluation_interval: Duration,
    /// Default per-target scrape timeout. Default 10 s, capped at the
    /// scrape interval.
    pub scrape_timeout: Duration,
    /// Default maximum size of a decoded scrape body, in bytes. Default 16 MiB.
    pub body_size_limit: u64,
    /// Address of andon's own HTTP server. Default `127.0.0.1:9071`.
    pub listen: String,
    /// Base URL of this andon, sent as `externalURL` in webhook payloads.
    pub external_url: String,
    /// After this long without a successful scrape, a target is reported
    /// down by the built-in `TargetDown` rule. Default 30 s.
    pub target_down_after: Duration,
    /// Rule files, relative to the config file's folder.
    pub rule_files: Vec<PathBuf>,
}

/// One scrape target under `[[target]]`.
#[derive(Clone, Debug)]
pub struct Target {
    /// The `job` label of every series from this target.
    pub name: String,
    pub url: String,
    /// Extra labels added to every series; `instance` defaults to the URL's
    /// host and port.
    pub labels: Labels,
    pub timeout: Duration,
    pub body_size_limit: u64,
    /// Maximum length of one line of the body, in bytes. Default 1 MiB.
    pub line_size_limit: u64,
    /// The format used when the response's content type names none.
    pub fallback_format: crate::exposition::Format,
}

/// The kind of a receiver and its settings.
#[derive(Clone, Debug)]
pub enum ReceiverKind {
    /// POST of an Alertmanager webhook payload (version 4).
    Webhook {
        url: String,
        /// Extra HTTP headers, for example `Authorization`. Values may be
        /// secrets and are never logged.
        headers: Vec<(String, String)>,
        timeout: Duration,
    },
    /// Lines on standard output; used by `andon demo`.
    Stdout {
        /// When set, times are printed as `+MM:SS` since this time (ms since
        /// the Unix epoch) instead of as RFC 3339.
        origin_ms: Option<i64>,
    },
}

/// A receiver under `[[receiver]]`.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub name: String,
    pub kind: ReceiverKind,
}

/// A route under `[[route]]`: which transitions go to which receivers.
#[derive(Clone, Debug)]
pub struct Route {
    /// Tiers whose entry or exit this route sends; empty means all. A
    /// transition matches when its `from` or `to` tier is listed, so a route
    /// for `red` also sends the return from red to ok.
    pub tiers: Vec<Tier>,
    /// Label equality matchers, all of which must hold. `alertname` matches
    /// the rule name.
    pub matchers: Vec<(String, String)>,
    pub receivers: Vec<String>,
}

/// Direction of a rule's thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Higher values are worse: triggers are `value > threshold`.
    Above,
    /// Lower values are worse (free memory): triggers are `value < threshold`.
    Below,
}

/// One tier's thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct TierSpec {
    pub tier: Tier,
    /// Trigger: strictly above (or below) this value.
    pub trigger: f64,
    /// Clear: at or below (or at or above) this value. For `Above` rules
    /// `clear <= trigger`; for `Below` rules `clear >= trigger`.
    pub clear: f64,
    /// How long the trigger must hold before the tier is entered.
    pub for_: Duration,
}

/// The action taken when a series has no value (missing or NaN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMissing {
    /// Keep the current tier (default): a silent target never sends a false
    /// "resolved".
    Hold,
    /// Return to ok after `missing_for`.
    Clear,
    /// Enter the rule's highest tier after `missing_for`.
    Alert,
}

/// Flap detection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Flap {
    /// More transitions than this within `window` mark a series flapping.
    pub max_transitions: usize,
    pub window: Duration,
}

/// A rule under `[[rule]]` in a rule file.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    /// The PromQL source.
    pub expr: String,
    /// Unit of the value, for humanized messages: "ratio", "seconds",
    /// "bytes", "percent" or empty.
    pub unit: String,
    pub direction: Direction,
    /// Tiers present in this rule, ordered from lowest (yellow) to highest.
    pub tiers: Vec<TierSpec>,
    /// How long the clear condition must hold before leaving a tier.
    /// Default: the rule file's `[defaults]`, else [`DEFAULT_CLEAR_FOR`].
    pub clear_for: Duration,
    pub on_missing: OnMissing,
    pub missing_for: Duration,
    pub flap: Option<Flap>,
    /// Message template; `{{ $value }}` and `{{ $labels.NAME }}` are replaced.
    pub summary: String,
    /// Extra labels on every transition of this rule.
    pub labels: Labels,
    /// The file this rule came from, for messages.
    pub source: PathBuf,
}
