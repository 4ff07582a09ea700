//! The tier state machine of one series, before flap filtering.
//!
//! It takes one observation per evaluation (a value, or none) and returns
//! the change of tier that the observation causes, if any. Every time is in ms
//! since the Unix epoch and comes from the caller.

use std::time::Duration;

use crate::config::{Direction, OnMissing, Rule};

use super::{Reason, Tier};

/// Converts a duration to whole milliseconds, saturating at `i64::MAX`.
pub(super) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One tier's thresholds with its `for` in ms.
#[derive(Clone, Debug)]
pub(super) struct TierThresholds {
    pub tier: Tier,
    pub trigger: f64,
    pub clear: f64,
    pub for_ms: i64,
}

/// The parts of a rule that drive the state machine, with durations in ms.
#[derive(Clone, Debug)]
pub(super) struct Policy {
    pub direction: Direction,
    /// Ordered from the lowest tier to the highest, as in [`Rule::tiers`].
    pub tiers: Vec<TierThresholds>,
    pub clear_for_ms: i64,
    pub on_missing: OnMissing,
    pub missing_for_ms: i64,
}

impl Policy {
    pub fn from_rule(rule: &Rule) -> Policy {
        let tiers = rule
            .tiers
            .iter()
            .map(|spec| TierThresholds {
                tier: spec.tier,
                trigger: spec.trigger,
                clear: spec.clear,
                for_ms: duration_ms(spec.for_),
            })
            .collect();
        Policy {
            direction: rule.direction,
            tiers,
            clear_for_ms: duration_ms(rule.clear_for),
            on_missing: rule.on_missing,
            missing_for_ms: duration_ms(rule.missing_for),
        }
    }

    /// Returns the thresholds of `tier`, or `None` for ok and for tiers the
    /// rule does not define.
    pub fn thresholds(&self, tier: Tier) -> Option<&TierThresholds> {
        self.tiers.iter().find(|t| t.tier == tier)
    }

    /// Tells whether `value` is past `tier`'s trigger (strictly).
    pub fn triggers(&self, tier: &TierThresholds, value: f64) -> bool {
        match self.direction {
            Direction::Above => value > tier.trigger,
            Direction::Below => value < tier.trigger,
        }
    }

    /// Tells whether `value` is on the clear side of `tier`'s clear threshold
    /// (inclusive).
    pub fn clears(&self, tier: &TierThresholds, value: f64) -> bool {
        match self.direction {
            Direction::Above => value <= tier.clear,
            Direction::Below => value >= tier.clear,
        }
    }
}

/// A change of tier decided by the state machine.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Change {
    pub from: Tier,
    pub to: Tier,
    /// NaN for a change caused by missing data.
    pub value: f64,
    /// Trigger of `to` when escalating, clear of `from` when de-escalating,
    /// NaN for missing data.
    pub threshold: f64,
    pub reason: Reason,
}

/// The outcome of one observation.
#[derive(Debug, Default)]
pub(super) struct Step {
    pub change: Option<Change>,
    /// The series is at ok and has had no value for `missing_for`, so its
    /// state carries nothing worth keeping.
    pub forgettable: bool,
}

/// Per-series state. Invariant: every `Some` time is at or before the last
/// observation's time, unless the caller's clock went backwards.
#[derive(Clone, Debug)]
pub(super) struct TierMachine {
    tier: Tier,
    /// When `tier` was entered (or the series first seen). Set by every change.
    tier_since_ms: i64,
    /// Indexed by `Tier as usize`: since when each tier above `tier` has had
    /// its trigger hold on every observation. Cleared by a missing value, by
    /// a value that does not trigger, and for tiers at or below `tier` by
    /// every change.
    trigger_since_ms: [Option<i64>; 4],
    /// Since when the clear condition of `tier` has held on every
    /// observation. Cleared by a missing value, a value that does not clear,
    /// and every change.
    clear_since_ms: Option<i64>,
    /// The latest value, NaN while the series has no value.
    value: f64,
    /// Time of the first observation of the current run without a value;
    /// `None` while values arrive.
    missing_since_ms: Option<i64>,
    /// Whether `on_missing` already acted in the current missing run, so it
    /// acts once per run.
    missing_handled: bool,
}

impl TierMachine {
    pub fn new(at_ms: i64) -> TierMachine {
        TierMachine {
            tier: Tier::Ok,
            tier_since_ms: at_ms,
            trigger_since_ms: [None; 4],
            clear_since_ms: None,
            value: f64::NAN,
            missing_since_ms: None,
            missing_handled: false,
        }
    }

    pub fn tier(&self) -> Tier {
        self.tier
    }

    pub fn tier_since_ms(&self) -> i64 {
        self.tier_since_ms
    }

    /// Returns the latest value, or NaN while the series has no value.
    pub fn value(&self) -> f64 {
        self.value
    }

    pub fn missing_since_ms(&self) -> Option<i64> {
        self.missing_since_ms
    }

    pub fn clear_since_ms(&self) -> Option<i64> {
        self.clear_since_ms
    }

    /// Returns the highest tier whose trigger holds but has not yet held for
    /// its `for`, with the time it started to hold.
    pub fn pending(&self, policy: &Policy) -> Option<(Tier, i64)> {
        policy
            .tiers
            .iter()
            .rev()
            .find_map(|t| self.trigger_since_ms[t.tier as usize].map(|since| (t.tier, since)))
    }

    /// Feeds one evaluation's value; NaN counts as no value.
    pub fn observe(&mut self, policy: &Policy, value: f64, at_ms: i64) -> Step {
        if value.is_nan() {
            return self.observe_missing(policy, at_ms);
        }
        self.missing_since_ms = None;
        self.missing_handled = false;
        self.value = value;

        self.update_trigger_timers(policy, value, at_ms);
        if let Some(change) = self.escalate(policy, value, at_ms) {
            return Step {
                change: Some(change),
                forgettable: false,
            };
        }
        self.update_clear_timer(policy, value, at_ms);
        Step {
            change: self.deescalate(policy, value, at_ms),
            forgettable: false,
        }
    }

    /// Feeds an evaluation in which the series had no value.
    pub fn observe_missing(&mut self, policy: &Policy, at_ms: i64) -> Step {
        // No value breaks every "held continuously" run.
        self.trigger_since_ms = [None; 4];
        self.clear_since_ms = None;
        self.value = f64::NAN;

        let since = *self.missing_since_ms.get_or_insert(at_ms);
        if at_ms.saturating_sub(since) < policy.missing_for_ms {
            return Step::default();
        }
        let change = if self.missing_handled {
            None
        } else {
            self.missing_handled = true;
            self.apply_on_missing(policy, at_ms)
        };
        Step {
            change,
            forgettable: self.tier == Tier::Ok,
        }
    }

    fn update_trigger_timers(&mut self, policy: &Policy, value: f64, at_ms: i64) {
        for thresholds in &policy.tiers {
            let slot = &mut self.trigger_since_ms[thresholds.tier as usize];
            if thresholds.tier > self.tier && policy.triggers(thresholds, value) {
                slot.get_or_insert(at_ms);
            } else {
                *slot = None;
            }
        }
    }

    /// Moves to the highest tier whose trigger has held for its `for`.
    fn escalate(&mut self, policy: &Policy, value: f64, at_ms: i64) -> Option<Change> {
        let target = policy.tiers.iter().rev().find(|t| {
            self.trigger_since_ms[t.tier as usize]
                .is_some_and(|since| at_ms.saturating_sub(since) >= t.for_ms)
        })?;
        let higher_since = self.trigger_since_ms;
        let change = Change {
            from: self.tier,
            to: target.tier,
            value,
            threshold: target.trigger,
            reason: Reason::Threshold,
        };
        self.enter(target.tier, at_ms);
        // Tiers above the new one keep their runs: their triggers held
        // throughout, so a later `for` counts from when each began.
        for t in policy.tiers.iter().filter(|t| t.tier > target.tier) {
            self.trigger_since_ms[t.tier as usize] = higher_since[t.tier as usize];
        }
        Some(change)
    }

    fn update_clear_timer(&mut self, policy: &Policy, value: f64, at_ms: i64) {
        let clears = policy
            .thresholds(self.tier)
            .is_some_and(|current| policy.clears(current, value));
        if clears {
            self.clear_since_ms.get_or_insert(at_ms);
        } else {
            self.clear_since_ms = None;
        }
    }

    /// Moves down to the highest tier whose clear condition does not hold,
    /// once the current tier's clear has held for `clear_for`.
    fn deescalate(&mut self, policy: &Policy, value: f64, at_ms: i64) -> Option<Change> {
        let since = self.clear_since_ms?;
        if at_ms.saturating_sub(since) < policy.clear_for_ms {
            return None;
        }
        let current = policy.thresholds(self.tier)?;
        let target = policy
            .tiers
            .iter()
            .rev()
            .filter(|t| t.tier < self.tier)
            .find(|t| !policy.clears(t, value))
            .map_or(Tier::Ok, |t| t.tier);
        let change = Change {
            from: self.tier,
            to: target,
            value,
            threshold: current.clear,
            reason: Reason::Threshold,
        };
        self.enter(target, at_ms);
        Some(change)
    }

    fn apply_on_missing(&mut self, policy: &Policy, at_ms: i64) -> Option<Change> {
        let target = match policy.on_missing {
            OnMissing::Hold => return None,
            OnMissing::Clear => Tier::Ok,
            OnMissing::Alert => policy.tiers.last()?.tier,
        };
        if target == self.tier {
            return None;
        }
        let change = Change {
            from: self.tier,
            to: target,
            value: f64::NAN,
            threshold: f64::NAN,
            reason: Reason::Missing,
        };
        self.enter(target, at_ms);
        Some(change)
    }

    /// Sets the tier and restarts every timer.
    fn enter(&mut self, tier: Tier, at_ms: i64) {
        self.tier = tier;
        self.tier_since_ms = at_ms;
        self.trigger_since_ms = [None; 4];
        self.clear_since_ms = None;
    }
}
