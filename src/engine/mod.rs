//! The rule engine: evaluates each rule and runs one tier state machine per
//! output series. It does no I/O and reads no clock: the time of every step
//! is an argument, in ms since the Unix epoch.
//!
//! Each series passes through two stages. [`machine`] decides the tier from
//! the values (triggers, clears, their `for` timers, missing data), and
//! [`flap`] decides which of those changes are sent while the series flaps.

mod flap;
mod machine;
mod series;
mod status;
pub mod template;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::config::Rule;
use crate::expr::{Expr, ExprError, TickCache};
use crate::labels::Labels;
use crate::store::Store;

use flap::FlapPolicy;
use machine::Policy;
use series::TrackedSeries;

pub use status::{SeriesState, SeriesStatus};

/// Alert tiers, ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Ok,
    Yellow,
    Red,
    Emergency,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Ok, Tier::Yellow, Tier::Red, Tier::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Ok => "ok",
            Tier::Yellow => "yellow",
            Tier::Red => "red",
            Tier::Emergency => "emergency",
        }
    }

    /// Parses a lowercase tier name.
    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cause of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A trigger held for its `for`, or a clear held for `clear_for`.
    Threshold,
    /// `on_missing` acted after `missing_for` without a value.
    Missing,
    /// The series started flapping; `to` is the tier held while it flaps,
    /// the highest seen in the flap window. `from` is the tier sent before,
    /// which equals `to` when the series flaps down from its highest tier.
    FlappingStarted,
    /// The flap window became calm; `to` is the current tier.
    FlappingEnded,
}

/// One change of tier of one series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    pub rule: String,
    /// The output series' labels plus the rule's own labels.
    pub labels: Labels,
    pub from: Tier,
    pub to: Tier,
    /// The value that caused the change (NaN when missing).
    pub value: f64,
    /// The threshold crossed: the trigger of `to` when escalating, the clear
    /// threshold of `from` when de-escalating (NaN when none applies).
    pub threshold: f64,
    /// When the change happened, in ms since the Unix epoch.
    pub at_ms: i64,
    /// When this incident began: the time the series left ok.
    pub incident_start_ms: i64,
    /// Stable hash of rule name and labels: the dedup key.
    pub fingerprint: String,
    pub reason: Reason,
    /// The rule's summary with `$value` and `$labels` filled in.
    pub summary: String,
}

/// A rule with its settings converted for the state machines.
#[derive(Debug)]
struct CompiledRule {
    rule: Rule,
    policy: Policy,
    flap: Option<FlapPolicy>,
}

/// Minimum time between two warnings about one rule's evaluation errors.
const ERROR_LOG_INTERVAL_MS: i64 = 60_000;

/// Rate limit for one rule's evaluation-error warnings.
#[derive(Debug, Default)]
struct ErrorLog {
    last_logged_ms: Option<i64>,
    /// Errors not logged since `last_logged_ms`.
    suppressed: u64,
}

impl ErrorLog {
    /// Logs `error` unless this rule's previous warning is less than
    /// [`ERROR_LOG_INTERVAL_MS`] old, counts the ones it skips, and returns
    /// whether it logged.
    fn record(&mut self, rule_name: &str, error: &ExprError, at_ms: i64) -> bool {
        let due = self
            .last_logged_ms
            .is_none_or(|last| at_ms.saturating_sub(last) >= ERROR_LOG_INTERVAL_MS);
        if !due {
            self.suppressed += 1;
            return false;
        }
        tracing::warn!(
            rule.name = rule_name,
            error = %error,
            suppressed = self.suppressed,
            "rule evaluation failed, so its series count as having no value"
        );
        self.last_logged_ms = Some(at_ms);
        self.suppressed = 0;
        true
    }
}

/// One rule, its expression and the state of each of its output series.
#[derive(Debug)]
struct RuleRunner {
    compiled: CompiledRule,
    expr: Expr,
    /// Keyed by the labels of the expression's output series. A BTreeMap so
    /// that missing series are visited in a stable order and replaying the
    /// same samples gives the same transitions in the same order.
    series: BTreeMap<Labels, TrackedSeries>,
    /// Number of the current evaluation; series not seen in it are missing.
    evaluation: u64,
    error_log: ErrorLog,
}

impl RuleRunner {
    fn new(rule: Rule, expr: Expr) -> RuleRunner {
        let compiled = CompiledRule {
            policy: Policy::from_rule(&rule),
            flap: rule.flap.as_ref().map(FlapPolicy::from_config),
            rule,
        };
        RuleRunner {
            compiled,
            expr,
            series: BTreeMap::new(),
            evaluation: 0,
            error_log: ErrorLog::default(),
        }
    }

    fn observe(&mut self, values: &[(Labels, f64)], at_ms: i64) -> Vec<Transition> {
        self.evaluation += 1;
        let mut transitions = Vec::new();
        let mut forgotten = Vec::new();

        for (labels, value) in values {
            if let Some(series) = self.series.get_mut(labels) {
                series.mark_seen(self.evaluation);
                if series.observe(&self.compiled, *value, at_ms, &mut transitions) {
                    forgotten.push(labels.clone());
                }
                continue;
            }
            // A series first seen without a value has no state worth keeping.
            if value.is_nan() {
                continue;
            }
            let mut series = TrackedSeries::new(&self.compiled.rule, labels, at_ms);
            series.mark_seen(self.evaluation);
            // A real value never makes a series forgettable, so it is kept.
            series.observe(&self.compiled, *value, at_ms, &mut transitions);
            self.series.insert(labels.clone(), series);
        }

        for (labels, series) in &mut self.series {
            if series.seen_in(self.evaluation) {
                continue;
            }
            if series.observe(&self.compiled, f64::NAN, at_ms, &mut transitions) {
                forgotten.push(labels.clone());
            }
        }

        for labels in &forgotten {
            self.series.remove(labels);
        }
        transitions
    }
}

/// Evaluates rules and tracks each series' tier.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<RuleRunner>,
    /// Range-function results shared by the rules of one `evaluate` call.
    tick_cache: TickCache,
}

impl Engine {
    /// Creates an engine for `rules`, each with its parsed expression.
    pub fn new(rules: Vec<(Rule, Expr)>) -> Engine {
        let rules = rules
            .into_iter()
            .map(|(rule, expr)| RuleRunner::new(rule, expr))
            .collect();
        Engine { rules, tick_cache: TickCache::new() }
    }

    /// Evaluates every rule at `at_ms` and returns the transitions, in rule
    /// order. An expression that fails to evaluate counts as missing data for
    /// that rule and is logged.
    // TODO: test through a real `Store` once `Expr::eval` is implemented;
    // until then only `observe`, which this wraps, is tested.
    pub fn evaluate(&mut self, store: &Store, at_ms: i64) -> Vec<Transition> {
        let mut transitions = Vec::new();
        for index in 0..self.rules.len() {
            let runner = &mut self.rules[index];
            let values = match runner.expr.eval_with(store, at_ms, &mut self.tick_cache) {
                Ok(values) => values,
                Err(error) => {
                    runner
                        .error_log
                        .record(&runner.compiled.rule.name, &error, at_ms);
                    Vec::new()
                }
            };
            transitions.extend(self.observe(index, &values, at_ms));
        }
        transitions
    }

    /// Feeds one evaluation result of the rule at `rule_index` (in the order
    /// given to [`Engine::new`]) and returns its transitions. Series absent
    /// from `values`, and NaN values, count as no value. An index with no
    /// rule returns nothing.
    pub fn observe(
        &mut self,
        rule_index: usize,
        values: &[(Labels, f64)],
        at_ms: i64,
    ) -> Vec<Transition> {
        match self.rules.get_mut(rule_index) {
            Some(runner) => runner.observe(values, at_ms),
            None => Vec::new(),
        }
    }

    /// Returns the state of every tracked series, in rule order and then in
    /// label order, for the API's "why (not) firing" view.
    pub fn snapshot(&self) -> Vec<SeriesStatus> {
        self.rules
            .iter()
            .flat_map(|runner| {
                runner
                    .series
                    .values()
                    .map(|series| series.status(&runner.compiled))
            })
            .collect()
    }
}
