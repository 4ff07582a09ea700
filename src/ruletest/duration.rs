//! Prometheus durations (`1h30m`, `10m30s`, `0`), as promtool's test files
//! write `interval`, `evaluation_interval` and `eval_time`.

/// A duration that is not in Prometheus's form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: expected units in the order y, w, d, h, m, s, ms (such as 1h30m or 10m30s)")]
pub struct DurationError {
    pub text: String,
}

/// Units in the order Prometheus requires them, with their length in ms.
/// A year is 365 days and a week 7 days, as in Prometheus.
const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration into milliseconds.
///
/// Each unit may appear once, in the order of [`UNITS`], and `0` alone is zero.
pub fn parse_duration_ms(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError { text: text.to_string() };
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid());
    }

    let mut rest = text;
    let mut total: i64 = 0;
    // Index of the next unit allowed, so that units appear in order and once.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];

        let position = UNITS[next_unit..]
            .iter()
            .position(|(unit, _)| unit_matches(rest, unit))
            .ok_or_else(invalid)?;
        let (unit, unit_ms) = UNITS[next_unit + position];
        rest = &rest[unit.len()..];
        next_unit += position + 1;

        let part = number.checked_mul(unit_ms).ok_or_else(invalid)?;
        total = total.checked_add(part).ok_or_else(invalid)?;
    }
    Ok(total)
}

/// Tells whether `rest` starts with `unit`, where `m` must not be the start
/// of `ms`.
fn unit_matches(rest: &str, unit: &str) -> bool {
    rest.starts_with(unit) && !(unit == "m" && rest.starts_with("ms"))
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
    for (unit, unit_ms) in UNITS {
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
