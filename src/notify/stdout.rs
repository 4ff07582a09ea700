//! A receiver that prints one line per transition, for `andon demo` and for
//! trying rules by hand.

use crate::clock::rfc3339;
use crate::engine::Transition;

/// Formats a transition as one line:
/// `TIME RULE SERIES FROM -> TO value=V threshold=T (reason)`. TIME is
/// `+MM:SS` since `origin_ms` when given, else RFC 3339.
pub fn format_line(transition: &Transition, origin_ms: Option<i64>) -> String {
    let time = match origin_ms {
        Some(origin) => offset(transition.at_ms - origin),
        None => rfc3339(transition.at_ms),
    };
    format!(
        "{time} {rule} {series} {from} -> {to} value={value} threshold={threshold} ({reason:?})",
        rule = transition.rule,
        series = transition.labels,
        from = transition.from,
        to = transition.to,
        value = format_number(transition.value),
        threshold = format_number(transition.threshold),
        reason = transition.reason,
    )
}

/// Prints a transition to standard output.
pub fn print(transition: &Transition, origin_ms: Option<i64>) {
    println!("{}", format_line(transition, origin_ms));
}

/// Formats a duration in ms as `+MM:SS`.
pub fn offset(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    format!("+{:02}:{:02}", seconds / 60, seconds % 60)
}

/// Formats a number with up to 4 significant digits, as people read them.
pub fn format_number(value: f64) -> String {
    if !value.is_finite() || value == 0.0 {
        return value.to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 12) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_counts_minutes() {
        assert_eq!(offset(125_400), "+02:05");
    }

    #[test]
    fn number_keeps_four_digits() {
        assert_eq!(format_number(0.000512345), "0.0005123");
        assert_eq!(format_number(123456.0), "123456");
        assert_eq!(format_number(0.25), "0.25");
    }
}
