//! Renders andon's own metrics in text format 0.0.4.

use std::fmt::Write as _;

use super::Status;

/// Escapes a label value for the text format.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes `# HELP` and `# TYPE` lines, then one sample per target.
fn per_target(out: &mut String, status: &Status, name: &str, kind: &str, help: &str, value: impl Fn(&crate::daemon::TargetHealth) -> f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for target in &status.targets {
        let _ = writeln!(out, "{name}{{target=\"{}\"}} {}", escape(&target.target), value(target));
    }
}

/// Renders every figure in `status`.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP andon_build_info andon's version.\n# TYPE andon_build_info gauge");
    let _ = writeln!(out, "andon_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));

    per_target(&mut out, status, "andon_target_up", "gauge", "1 if the last scrape of the target succeeded.", |t| f64::from(u8::from(t.up)));
    per_target(&mut out, status, "andon_scrape_duration_seconds", "gauge", "Duration of the last scrape.", |t| t.last_duration_seconds);
    per_target(&mut out, status, "andon_scrape_samples_scraped", "gauge", "Samples in the last scrape's body.", |t| t.samples_scraped as f64);
    per_target(&mut out, status, "andon_scrape_samples_kept", "gauge", "Samples of the last scrape that some rule reads.", |t| t.samples_kept as f64);
    per_target(&mut out, status, "andon_scrape_body_bytes", "gauge", "Decoded size of the last scrape's body.", |t| t.body_bytes as f64);
    per_target(&mut out, status, "andon_scrapes_total", "counter", "Scrapes attempted.", |t| t.scrapes_total as f64);
    per_target(&mut out, status, "andon_scrape_failures_total", "counter", "Scrapes that failed.", |t| t.scrape_failures_total as f64);
    per_target(&mut out, status, "andon_scrape_parse_errors_total", "counter", "Lines that could not be parsed.", |t| t.parse_errors_total as f64);
    per_target(&mut out, status, "andon_scrape_duplicates_total", "counter", "Samples repeated within one scrape (first value kept).", |t| t.duplicates_total as f64);

    let _ = writeln!(out, "# HELP andon_evaluations_total Rule evaluation rounds.\n# TYPE andon_evaluations_total counter");
    let _ = writeln!(out, "andon_evaluations_total {}", status.evaluations_total);
    let _ = writeln!(out, "# HELP andon_transitions_total Tier transitions, by rule and tier entered.\n# TYPE andon_transitions_total counter");
    for ((rule, tier), count) in &status.transitions_total {
        let _ = writeln!(out, "andon_transitions_total{{rule=\"{}\",tier=\"{tier}\"}} {count}", escape(rule));
    }
    let deliveries = match status.deliveries.lock() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let _ = writeln!(out, "# HELP andon_notifications_total Notification deliveries by receiver and outcome: delivered, retried (a failed attempt that will be retried), dropped.\n# TYPE andon_notifications_total counter");
    for (receiver, counts) in &deliveries {
        let receiver = escape(receiver);
        for (outcome, value) in [("delivered", counts.delivered), ("retried", counts.retried), ("dropped", counts.dropped)] {
            let _ = writeln!(out, "andon_notifications_total{{receiver=\"{receiver}\",outcome=\"{outcome}\"}} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::TargetHealth;

    #[test]
    fn renders_target_figures() {
        let mut status = Status::default();
        let mut health = TargetHealth::new("node");
        health.up = true;
        status.targets.push(health);
        let text = render(&status);
        assert!(text.contains("andon_target_up{target=\"node\"} 1\n"), "{text}");
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
