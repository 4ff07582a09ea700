//! Generic webhook receiver: POSTs Alertmanager's webhook payload.
//!
//! The body is Alertmanager's version 4 webhook JSON, so receivers written
//! for Alertmanager accept it unchanged. andon adds `from`, `to`, `value`,
//! `threshold` and `reason` at the top level and in each alert; JSON readers
//! ignore keys they do not know.

use std::time::Duration;

use serde::Serialize;

use super::NotifyError;
use crate::clock::rfc3339;
use crate::engine::{Reason, Tier, Transition};
use crate::labels::Labels;

/// Alertmanager writes this for an alert that has not ended.
const NO_END: &str = "0001-01-01T00:00:00Z";

/// A configured webhook receiver.
#[derive(Debug)]
pub struct Webhook {
    pub receiver: String,
    pub url: String,
    /// May hold secrets: never logged.
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub external_url: String,
    pub client: reqwest::Client,
}

/// Alertmanager's webhook payload with andon's fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub version: &'static str,
    pub group_key: String,
    pub truncated_alerts: u32,
    pub status: &'static str,
    pub receiver: String,
    pub group_labels: Labels,
    pub common_labels: Labels,
    pub common_annotations: Labels,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<Alert>,
    pub from: Tier,
    pub to: Tier,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub reason: Reason,
}

/// One alert in the payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: &'static str,
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
    pub from: Tier,
    pub to: Tier,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

/// JSON has no NaN: a missing value is sent as null.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Builds the payload for one transition.
pub fn payload(receiver: &str, external_url: &str, transition: &Transition) -> Payload {
    let resolved = transition.to == Tier::Ok;
    let status = if resolved { "resolved" } else { "firing" };

    let mut labels = transition.labels.without_metric_name();
    labels.set("alertname", transition.rule.clone());
    // The tier an alert is in; on resolution, the tier it left.
    let tier = if resolved { transition.from } else { transition.to };
    labels.set("tier", tier.as_str());
    // A rule's own `severity` label wins over the one derived from the tier.
    if labels.get("severity").is_none() {
        labels.set("severity", severity(tier));
    }

    let mut annotations = Labels::new();
    annotations.set("summary", transition.summary.clone());

    let alert = Alert {
        status,
        labels: labels.clone(),
        annotations: annotations.clone(),
        starts_at: rfc3339(transition.incident_start_ms),
        ends_at: if resolved { rfc3339(transition.at_ms) } else { NO_END.to_owned() },
        generator_url: external_url.to_owned(),
        fingerprint: transition.fingerprint.clone(),
        from: transition.from,
        to: transition.to,
        value: finite(transition.value),
        threshold: finite(transition.threshold),
    };
    let group_labels = Labels::from_pairs([("alertname", transition.rule.clone())]);
    Payload {
        version: "4",
        group_key: format!("{{}}:{{alertname=\"{}\"}}", transition.rule),
        truncated_alerts: 0,
        status,
        receiver: receiver.to_owned(),
        group_labels,
        common_labels: labels,
        common_annotations: annotations,
        external_url: external_url.to_owned(),
        alerts: vec![alert],
        from: transition.from,
        to: transition.to,
        value: finite(transition.value),
        threshold: finite(transition.threshold),
        reason: transition.reason,
    }
}

/// Returns the conventional `severity` label for a tier, for receivers that route
/// on it.
pub fn severity(tier: Tier) -> &'static str {
    match tier {
        Tier::Ok => "none",
        Tier::Yellow => "warning",
        Tier::Red => "critical",
        Tier::Emergency => "emergency",
    }
}

impl Webhook {
    /// POSTs one transition.
    pub async fn deliver(&self, transition: &Transition) -> Result<(), NotifyError> {
        let body = payload(&self.receiver, &self.external_url, transition);
        let mut request = self.client.post(&self.url).timeout(self.timeout).json(&body);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|err| NotifyError::Transient(crate::scrape::error_chain(&err.without_url())))?;
        classify(response).await
    }
}

/// Maps an HTTP response to success or the kind of failure.
pub(crate) async fn classify(response: reqwest::Response) -> Result<(), NotifyError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status.as_u16() == 429 {
        return Err(NotifyError::RateLimited);
    }
    let body: String = response.text().await.unwrap_or_default().chars().take(200).collect();
    if status.is_client_error() {
        return Err(NotifyError::Rejected { status: status.as_u16(), body });
    }
    Err(NotifyError::Transient(format!("HTTP {}: {body}", status.as_u16())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(from: Tier, to: Tier) -> Transition {
        Transition {
            rule: "ErrorRate".into(),
            labels: Labels::from_pairs([("__name__", "x"), ("instance", "a:1")]),
            from,
            to,
            value: 0.002,
            threshold: 0.001,
            at_ms: 1_700_000_060_000,
            incident_start_ms: 1_700_000_000_000,
            fingerprint: "0123456789abcdef".into(),
            reason: Reason::Threshold,
            summary: "error rate high".into(),
        }
    }

    #[test]
    fn firing_payload_has_alertmanager_fields() {
        let json = serde_json::to_value(payload("hook", "http://andon", &transition(Tier::Ok, Tier::Red))).unwrap();
        assert_eq!(json["version"], "4");
        assert_eq!(json["status"], "firing");
        assert_eq!(json["alerts"][0]["labels"]["alertname"], "ErrorRate");
        assert_eq!(json["alerts"][0]["labels"]["tier"], "red");
        assert_eq!(json["alerts"][0]["endsAt"], NO_END);
        assert_eq!(json["alerts"][0]["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(json["to"], "red");
        assert!(json["alerts"][0]["labels"].get("__name__").is_none());
    }

    #[test]
    fn resolved_payload_names_tier_left() {
        let json = serde_json::to_value(payload("hook", "", &transition(Tier::Yellow, Tier::Ok))).unwrap();
        assert_eq!(json["status"], "resolved");
        assert_eq!(json["alerts"][0]["labels"]["tier"], "yellow");
        assert_eq!(json["alerts"][0]["endsAt"], "2023-11-14T22:14:20Z");
    }

    #[test]
    fn rule_severity_label_is_kept() {
        let mut t = transition(Tier::Ok, Tier::Yellow);
        t.labels.set("severity", "page");
        let json = serde_json::to_value(payload("hook", "", &t)).unwrap();
        assert_eq!(json["alerts"][0]["labels"]["severity"], "page");
    }

    #[test]
    fn nan_value_is_null() {
        let mut t = transition(Tier::Red, Tier::Red);
        t.value = f64::NAN;
        let json = serde_json::to_value(payload("hook", "", &t)).unwrap();
        assert!(json["value"].is_null());
    }
}
