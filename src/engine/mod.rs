//! The rule engine: evaluates each rule and runs one tier state machine per
//! output series. It reads no clock: the time of every step is an argument.
//! TODO(skeleton): replaced by the full engine.

use std::fmt;

use serde::Serialize;

use crate::config::Rule;
use crate::expr::Expr;
use crate::labels::Labels;
use crate::store::Store;

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

/// Why a transition happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A trigger held for its `for`, or a clear held for `clear_for`.
    Threshold,
    /// `on_missing` acted after `missing_for` without a value.
    Missing,
    /// The series started flapping; `to` is the tier held while it flaps.
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

/// Evaluates rules and tracks each series' tier.
#[derive(Debug)]
pub struct Engine {}

impl Engine {
    /// Creates an engine for `rules`, each with its parsed expression.
    pub fn new(rules: Vec<(Rule, Expr)>) -> Engine {
        let _ = rules;
        todo!()
    }

    /// Evaluates every rule at `at_ms` and returns the transitions, in rule
    /// order. An expression that fails to evaluate counts as missing data for
    /// that rule and is logged.
    pub fn evaluate(&mut self, store: &Store, at_ms: i64) -> Vec<Transition> {
        let _ = (store, at_ms);
        todo!()
    }
}
