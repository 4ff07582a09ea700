//! One output series of a rule: its state machine, its flap detector and
//! the tier last sent to receivers.

use crate::config::Rule;
use crate::labels::{Labels, METRIC_NAME};

use super::flap::{FlapDetector, FlapVerdict};
use super::machine::{Change, TierMachine};
use super::status::{SeriesState, SeriesStatus};
use super::{template, CompiledRule, Reason, Tier, Transition};

/// The label that carries the rule name in a fingerprint, as in
/// Alertmanager.
const ALERT_NAME: &str = "alertname";

#[derive(Clone, Debug)]
pub(super) struct TrackedSeries {
    machine: TierMachine,
    flap: FlapDetector,
    /// The `to` of the last transition sent. Equals the machine's tier
    /// except while flapping, when it is the held tier.
    notified: Tier,
    /// When `notified` left ok; `None` while it is ok.
    incident_start_ms: Option<i64>,
    /// Series labels without the metric name, plus the rule's labels.
    labels: Labels,
    fingerprint: String,
    /// Number of the last evaluation whose result contained this series.
    seen_in: u64,
}

impl TrackedSeries {
    pub fn new(rule: &Rule, series_labels: &Labels, at_ms: i64) -> TrackedSeries {
        let labels = transition_labels(rule, series_labels);
        let mut identity = labels.clone();
        identity.set(ALERT_NAME, rule.name.as_str());
        TrackedSeries {
            machine: TierMachine::new(at_ms),
            flap: FlapDetector::default(),
            notified: Tier::Ok,
            incident_start_ms: None,
            labels,
            fingerprint: identity.fingerprint(),
            seen_in: 0,
        }
    }

    pub fn mark_seen(&mut self, evaluation: u64) {
        self.seen_in = evaluation;
    }

    pub fn seen_in(&self, evaluation: u64) -> bool {
        self.seen_in == evaluation
    }

    /// Feeds one evaluation's value (NaN for none), appends what must be
    /// sent, and returns whether the series can be forgotten.
    pub fn observe(
        &mut self,
        rule: &CompiledRule,
        value: f64,
        at_ms: i64,
        out: &mut Vec<Transition>,
    ) -> bool {
        let step = self.machine.observe(&rule.policy, value, at_ms);
        if let Some(change) = step.change {
            out.extend(self.filter_change(rule, change, at_ms));
        }
        out.extend(self.end_flapping_if_calm(rule, at_ms));
        step.forgettable && self.flap.held().is_none() && self.notified == Tier::Ok
    }

    /// Passes a change of the state machine through flap detection.
    fn filter_change(
        &mut self,
        rule: &CompiledRule,
        change: Change,
        at_ms: i64,
    ) -> Option<Transition> {
        let Some(policy) = &rule.flap else {
            return Some(self.send(&rule.rule, change, at_ms));
        };
        match self.flap.record(policy, &change, at_ms) {
            FlapVerdict::Send => Some(self.send(&rule.rule, change, at_ms)),
            FlapVerdict::Start(held) => {
                let started = Change {
                    from: self.notified,
                    to: held,
                    value: change.value,
                    threshold: f64::NAN,
                    reason: Reason::FlappingStarted,
                };
                Some(self.send(&rule.rule, started, at_ms))
            }
            FlapVerdict::Escalate => {
                let escalated = Change { from: self.notified, ..change };
                Some(self.send(&rule.rule, escalated, at_ms))
            }
            FlapVerdict::Suppress => None,
        }
    }

    fn end_flapping_if_calm(&mut self, rule: &CompiledRule, at_ms: i64) -> Option<Transition> {
        let held = self.flap.end_if_calm(rule.flap.as_ref()?, at_ms)?;
        let ended = Change {
            from: held,
            to: self.machine.tier(),
            value: self.machine.value(),
            threshold: f64::NAN,
            reason: Reason::FlappingEnded,
        };
        Some(self.send(&rule.rule, ended, at_ms))
    }

    /// Builds the transition for `change` and records it as notified. The
    /// `from` of the transition is always the tier last notified.
    fn send(&mut self, rule: &Rule, change: Change, at_ms: i64) -> Transition {
        let from = self.notified;
        if from == Tier::Ok {
            self.incident_start_ms = Some(at_ms);
        }
        let incident_start_ms = self.incident_start_ms.unwrap_or(at_ms);
        if change.to == Tier::Ok {
            self.incident_start_ms = None;
        }
        self.notified = change.to;

        Transition {
            rule: rule.name.clone(),
            labels: self.labels.clone(),
            from,
            to: change.to,
            value: change.value,
            threshold: change.threshold,
            at_ms,
            incident_start_ms,
            fingerprint: self.fingerprint.clone(),
            reason: change.reason,
            summary: template::render(&rule.summary, change.value, &self.labels),
        }
    }

    /// Describes the series for the API.
    pub fn status(&self, rule: &CompiledRule) -> SeriesStatus {
        let (state, threshold, since_ms) = self.state(rule);
        SeriesStatus {
            rule: rule.rule.name.clone(),
            labels: self.labels.clone(),
            fingerprint: self.fingerprint.clone(),
            state,
            notified_tier: self.notified,
            flapping: self.flap.held().is_some(),
            value: self.machine.value(),
            threshold,
            since_ms,
            incident_start_ms: self.incident_start_ms,
        }
    }

    /// Returns the state with the threshold it is measured against and the
    /// time its condition began to hold.
    fn state(&self, rule: &CompiledRule) -> (SeriesState, f64, i64) {
        let policy = &rule.policy;
        let tier = self.machine.tier();
        if let Some(since) = self.machine.missing_since_ms() {
            return (SeriesState::NoData, f64::NAN, since);
        }
        if let Some((pending, since)) = self.machine.pending(policy) {
            let trigger = policy.thresholds(pending).map_or(f64::NAN, |t| t.trigger);
            return (SeriesState::Pending(pending), trigger, since);
        }
        if tier == Tier::Ok {
            let lowest_trigger = policy.tiers.first().map_or(f64::NAN, |t| t.trigger);
            return (
                SeriesState::Ok,
                lowest_trigger,
                self.machine.tier_since_ms(),
            );
        }
        let clear = policy.thresholds(tier).map_or(f64::NAN, |t| t.clear);
        match self.machine.clear_since_ms() {
            Some(since) => (SeriesState::Clearing(tier), clear, since),
            None => (
                SeriesState::Active(tier),
                clear,
                self.machine.tier_since_ms(),
            ),
        }
    }
}

/// Returns the labels a transition carries: the series labels without the
/// metric name (as Prometheus drops it from alerts), with the rule's labels
/// added and taking precedence.
///
/// NOTE: two series that differ only in their metric name get the same
/// labels and fingerprint here, so receivers see them as one alert.
/// Prometheus rejects such a result instead; rejecting it would need the
/// check in `RuleRunner::observe`.
fn transition_labels(rule: &Rule, series_labels: &Labels) -> Labels {
    let mut labels = series_labels.clone();
    labels.remove(METRIC_NAME);
    for (name, value) in rule.labels.iter() {
        labels.set(name, value);
    }
    labels
}
