//! Rendering of a rule's `summary`: the subset of Prometheus's alert
//! templates that andon supports.
//!
//! An action is `{{ HEAD }}` or `{{ HEAD | PIPE | ... }}`. HEAD is `$value`,
//! `.Value`, `$labels.NAME` or `.Labels.NAME`, and each PIPE is one of
//! `humanize`, `humanize1024`, `humanizeDuration` or `humanizePercentage`,
//! formatted as Prometheus's `template/template.go` formats them: Go's
//! `%.4g`, and `%v` for a bare value. Any other action, and a pipe on a
//! label that is not a number, is copied as written, so a typo shows up in
//! the message and never fails a notification.

use crate::labels::Labels;

/// Renders `template` with `value` as `$value` and `labels` as `$labels`.
pub fn render(template: &str, value: f64, labels: &Labels) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let inner_start = open + 2;
        let Some(close) = rest[inner_start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner_end = inner_start + close;
        match expand(&rest[inner_start..inner_end], value, labels) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[open..inner_end + 2]),
        }
        rest = &rest[inner_end + 2..];
    }
    out.push_str(rest);
    out
}

/// An intermediate result of a pipeline.
enum Operand {
    Number(f64),
    Text(String),
}

/// Expands one action's inner text; `None` leaves it as written.
fn expand(action: &str, value: f64, labels: &Labels) -> Option<String> {
    let mut stages = action.split('|').map(str::trim);
    let head = stages.next()?;
    let mut operand = if head == "$value" || head == ".Value" {
        Operand::Number(value)
    } else {
        let name = head
            .strip_prefix("$labels.")
            .or_else(|| head.strip_prefix(".Labels."))?;
        if !is_label_name(name) {
            return None;
        }
        // Prometheus runs templates with `missingkey=zero`, so a label the
        // series lacks renders as the empty string.
        Operand::Text(labels.get(name).unwrap_or_default().to_string())
    };
    for pipe in stages {
        operand = Operand::Text(apply_pipe(pipe, &operand)?);
    }
    Some(match operand {
        Operand::Number(v) => format_go_float(v, None),
        Operand::Text(text) => text,
    })
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn apply_pipe(pipe: &str, operand: &Operand) -> Option<String> {
    let function: fn(f64) -> String = match pipe {
        "humanize" => humanize,
        "humanize1024" => humanize_1024,
        "humanizeDuration" => humanize_duration,
        "humanizePercentage" => humanize_percentage,
        _ => return None,
    };
    let number = match operand {
        Operand::Number(v) => *v,
        // Prometheus converts a string argument with Go's ParseFloat.
        Operand::Text(text) => text.trim().parse::<f64>().ok()?,
    };
    Some(function(number))
}

/// Scales by powers of 1000 with SI prefixes (`1.235M`, `12m`).
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_go_float(v, Some(4));
    }
    let (scaled, prefix) = if v.abs() >= 1.0 {
        scale_up(v, 1000.0, &["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        scale_down(v)
    };
    format!("{}{prefix}", format_go_float(scaled, Some(4)))
}

/// Scales by powers of 1024 with binary prefixes (`1.5ki`).
pub fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_go_float(v, Some(4));
    }
    let (scaled, prefix) = scale_up(v, 1024.0, &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]);
    format!("{}{prefix}", format_go_float(scaled, Some(4)))
}

/// Formats seconds as `1d 2h 3m 4s`, `1.5s` or `250ms`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_go_float(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", format_go_float(v, Some(4)));
    }
    if v.abs() < 1.0 {
        let (scaled, prefix) = scale_down(v);
        return format!("{}{prefix}s", format_go_float(scaled, Some(4)));
    }

    let sign = if v < 0.0 { "-" } else { "" };
    let magnitude = v.abs();
    // Go's int64 conversion truncates toward zero; `as` also saturates.
    let total = magnitude as i64;
    let seconds = total % 60;
    let minutes = (total / 60) % 60;
    let hours = (total / 3600) % 24;
    let days = total / 86_400;
    if days != 0 {
        format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
    } else if hours != 0 {
        format!("{sign}{hours}h {minutes}m {seconds}s")
    } else if minutes != 0 {
        format!("{sign}{minutes}m {seconds}s")
    } else {
        format!("{sign}{}s", format_go_float(magnitude, Some(4)))
    }
}

/// Formats a ratio as a percentage (`0.0012` is `0.12%`).
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", format_go_float(v * 100.0, Some(4)))
}

/// Divides by `base` while the value is at least `base`, picking the prefix.
fn scale_up(mut v: f64, base: f64, prefixes: &[&'static str]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

/// Multiplies by 1000 while the value is below 1, picking the SI prefix.
fn scale_down(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// Formats like Go's `%g`: `precision` significant digits, or the shortest
/// exact form for `None` (Go's `%v`). Exponent form is used when the decimal
/// exponent is below -4 or at least the precision (6 for the shortest form),
/// trailing zeros are dropped, and infinities print as `+Inf` and `-Inf`.
pub fn format_go_float(v: f64, precision: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }

    let scientific = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, v),
        None => format!("{v:e}"),
    };
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let all_digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = all_digits.trim_end_matches('0');
    let sign = if v < 0.0 { "-" } else { "" };

    // Go decides the form from the digit count and the decimal point
    // position after rounding (strconv's %g rules).
    let digit_count = digits.len() as i32;
    let point = exponent + 1;
    let limit = match precision {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i32;
            if p > digit_count && digit_count >= point {
                digit_count
            } else {
                p
            }
        }
    };
    if exponent < -4 || exponent >= limit {
        format!("{sign}{}", exponent_form(digits, exponent))
    } else {
        format!("{sign}{}", plain_form(digits, point))
    }
}

/// `d.ddde+XX` with at least two exponent digits, as Go writes it.
fn exponent_form(digits: &str, exponent: i32) -> String {
    let (first, rest) = digits.split_at(1);
    let fraction = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{first}{fraction}e{exponent_sign}{:02}",
        exponent.unsigned_abs()
    )
}

/// Plain decimal notation of `0.digits × 10^point`.
fn plain_form(digits: &str, point: i32) -> String {
    let count = digits.len() as i32;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point >= count {
        format!("{digits}{}", "0".repeat((point - count) as usize))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels::from_pairs([("instance", "db:9100"), ("job", "node")])
    }

    #[test]
    fn humanize_percentage_of_small_ratio() {
        assert_eq!(humanize_percentage(0.0012), "0.12%");
    }

    #[test]
    fn humanize_uses_si_prefixes() {
        assert_eq!(humanize(1_234_567.0), "1.235M");
        assert_eq!(humanize(0.012), "12m");
        assert_eq!(humanize(999.0), "999");
        assert_eq!(humanize(0.0), "0");
    }

    #[test]
    fn humanize_1024_uses_binary_prefixes() {
        assert_eq!(humanize_1024(1536.0), "1.5ki");
        assert_eq!(humanize_1024(1.0), "1");
        assert_eq!(humanize_1024(3.0 * 1024.0 * 1024.0 * 1024.0), "3Gi");
    }

    #[test]
    fn humanize_duration_splits_units() {
        assert_eq!(humanize_duration(90_061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(3_661.0), "1h 1m 1s");
        assert_eq!(humanize_duration(61.0), "1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(-61.0), "-1m 1s");
    }

    #[test]
    fn go_float_matches_percent_v() {
        assert_eq!(format_go_float(1e6, None), "1e+06");
        assert_eq!(format_go_float(123_456.0, None), "123456");
        assert_eq!(format_go_float(0.0001, None), "0.0001");
        assert_eq!(format_go_float(0.00001, None), "1e-05");
        assert_eq!(format_go_float(0.1 + 0.2, None), "0.30000000000000004");
        assert_eq!(format_go_float(f64::INFINITY, None), "+Inf");
    }

    #[test]
    fn go_float_matches_percent_4g() {
        assert_eq!(format_go_float(100_000.0, Some(4)), "1e+05");
        assert_eq!(format_go_float(1000.0, Some(4)), "1000");
        assert_eq!(format_go_float(1234.56, Some(4)), "1235");
        assert_eq!(format_go_float(0.000_012_34, Some(4)), "1.234e-05");
        assert_eq!(format_go_float(-2.5, Some(4)), "-2.5");
    }

    #[test]
    fn renders_value_and_labels() {
        let text = render(
            "{{ $value | humanizePercentage }} on {{ $labels.instance }}",
            0.0012,
            &labels(),
        );
        assert_eq!(text, "0.12% on db:9100");
    }

    #[test]
    fn renders_without_spaces_and_dot_forms() {
        assert_eq!(
            render("{{$value}} {{ .Labels.job }} {{ .Value }}", 2.0, &labels()),
            "2 node 2"
        );
    }

    #[test]
    fn missing_label_renders_empty() {
        assert_eq!(render("pod={{ $labels.pod }}.", 1.0, &labels()), "pod=.");
    }

    #[test]
    fn prometheus_documented_examples() {
        assert_eq!(humanize_duration(899.99), "14m 59s");
        assert_eq!(humanize_percentage(0.123_456_7), "12.35%");
        assert_eq!(humanize_1024(1_048_576.0), "1Mi");
    }

    #[test]
    fn unknown_pipe_is_left_as_written() {
        assert_eq!(
            render("x {{ $value | title }} y", 1.0, &labels()),
            "x {{ $value | title }} y"
        );
    }

    #[test]
    fn unknown_placeholder_is_left_as_written() {
        assert_eq!(
            render("{{ $externalURL }}", 1.0, &labels()),
            "{{ $externalURL }}"
        );
    }

    #[test]
    fn unclosed_action_is_left_as_written() {
        assert_eq!(render("a {{ $value", 1.0, &labels()), "a {{ $value");
    }

    #[test]
    fn pipe_on_numeric_label_humanizes() {
        let labels = Labels::from_pairs([("limit", "2048")]);
        assert_eq!(
            render("{{ $labels.limit | humanize1024 }}", 0.0, &labels),
            "2ki"
        );
    }

    #[test]
    fn pipe_on_text_label_is_left_as_written() {
        assert_eq!(
            render("{{ $labels.job | humanize }}", 0.0, &labels()),
            "{{ $labels.job | humanize }}"
        );
    }

    #[test]
    fn multibyte_text_is_kept() {
        assert_eq!(render("é {{ $value }} ü", 1.0, &labels()), "é 1 ü");
    }
}
