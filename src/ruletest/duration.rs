//! Prometheus durations (`1h30m`, `10m30s`, `0`), as promtool's test files
//! write `interval`, `evaluation_interval` and `eval_time`.

/// A duration that is not in Prometheus's form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: expected units in the order y, w, d, h, m, s, ms (such as 1h30m or 10m30s)")]
pub struct DurationError {
    pub text: String,
}

/// Parses a Prometheus duration into milliseconds, with the same rules as
/// durations in andon's config files: units from `y` down to `ms`, each at
/// most once, and `0` alone is zero.
pub fn parse_duration_ms(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError { text: text.to_string() };
    let duration = crate::config::parse_duration(text).map_err(|_| invalid())?;
    i64::try_from(duration.as_millis()).map_err(|_| invalid())
}

/// Formats milliseconds as Prometheus does (`10m30s`, `0s`).
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = rest.saturating_neg();
    }
    for (unit, unit_ms) in crate::config::DURATION_UNITS {
        let unit_ms = unit_ms as i64;
        if rest >= unit_ms {
            out.push_str(&format!("{}{unit}", rest / unit_ms));
            rest %= unit_ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combined_units() {
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
    }

    #[test]
    fn parses_milliseconds_after_minutes() {
        assert_eq!(parse_duration_ms("1m500ms"), Ok(60_500));
    }

    #[test]
    fn parses_days_weeks_years() {
        assert_eq!(parse_duration_ms("1y1w1d"), Ok((365 + 7 + 1) * 86_400_000));
    }

    #[test]
    fn parses_bare_zero() {
        assert_eq!(parse_duration_ms("0"), Ok(0));
    }

    #[test]
    fn rejects_units_out_of_order() {
        assert!(parse_duration_ms("30s1m").is_err());
    }

    #[test]
    fn rejects_repeated_unit() {
        assert!(parse_duration_ms("1m1m").is_err());
    }

    #[test]
    fn rejects_number_without_unit() {
        assert!(parse_duration_ms("10").is_err());
    }

    #[test]
    fn rejects_empty_text() {
        assert!(parse_duration_ms("").is_err());
    }

    #[test]
    fn rejects_overflow() {
        assert!(parse_duration_ms("9999999999999999y").is_err());
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_duration_ms(630_000), "10m30s");
    }

    #[test]
    fn formats_zero_with_unit() {
        assert_eq!(format_duration_ms(0), "0s");
    }
}
