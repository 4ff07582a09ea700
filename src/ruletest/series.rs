//! The series notation of promtool's test files: a metric written as
//! `name{label="value", ...}` and its values in the expanding notation
//! (`1+2x3`, `_x2`, `stale`).

use crate::labels::{Labels, METRIC_NAME};
use crate::store::STALE_MARKER;

/// A metric or a values string that is not in promtool's series notation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid series notation {text:?} at byte {offset}: {message}")]
pub struct SeriesError {
    pub text: String,
    pub offset: usize,
    pub message: String,
}

/// One slot of a values string: a sample, or `_` for a slot without one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Slot {
    Missing,
    Value(f64),
}

/// Parses a metric such as `up{job="api"}` or `{__name__="up"}` into labels.
///
/// Only `=` is allowed between a label and its value, as in Prometheus's
/// `parser.ParseMetric`. Values may use double quotes, single quotes (both
/// with Go escapes) or backticks (raw).
pub fn parse_metric(text: &str) -> Result<Labels, SeriesError> {
    let mut cursor = Cursor { text, pos: 0 };
    cursor.skip_space();

    let mut labels = Labels::new();
    let name = cursor.take_while(|i, c| is_name_char(c, i == 0, true));
    if !name.is_empty() {
        labels.set(METRIC_NAME, name);
    }
    cursor.skip_space();

    if cursor.eat('{') {
        parse_label_list(&mut cursor, &mut labels)?;
    } else if name.is_empty() {
        return Err(cursor.error("expected a metric name or '{'"));
    }

    cursor.skip_space();
    if !cursor.at_end() {
        return Err(cursor.error("unexpected text after the metric"));
    }
    Ok(labels)
}

/// Parses `a="b", c="d"}` after the opening brace.
fn parse_label_list(cursor: &mut Cursor, labels: &mut Labels) -> Result<(), SeriesError> {
    let mut seen: Vec<String> = Vec::new();
    loop {
        cursor.skip_space();
        if cursor.eat('}') {
            return Ok(());
        }

        let start = cursor.pos;
        let name = cursor.take_while(|i, c| is_name_char(c, i == 0, false));
        if name.is_empty() {
            return Err(cursor.error("expected a label name or '}'"));
        }
        if seen.iter().any(|n| n == name) {
            return Err(SeriesError {
                text: cursor.text.to_string(),
                offset: start,
                message: format!("label {name:?} appears twice"),
            });
        }
        seen.push(name.to_string());

        cursor.skip_space();
        if !cursor.eat('=') {
            return Err(cursor.error("expected '=' (test series allow only equality)"));
        }
        cursor.skip_space();
        let value = cursor.quoted_string()?;
        labels.set(name, value);

        cursor.skip_space();
        if !cursor.eat(',') && cursor.peek() != Some('}') {
            return Err(cursor.error("expected ',' or '}'"));
        }
    }
}

/// Tells whether `c` may appear in a metric name (`colon` true) or label
/// name at position `first` or later.
fn is_name_char(c: char, first: bool, colon: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (!first && c.is_ascii_digit())
}

struct Cursor<'a> {
    text: &'a str,
    /// Byte offset into `text`, always on a char boundary.
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) {
        self.take_while(|_, c| c.is_whitespace());
    }

    /// Consumes chars while `keep(index, char)` returns true and returns them.
    fn take_while(&mut self, keep: impl Fn(usize, char) -> bool) -> &'a str {
        let start = self.pos;
        for (i, c) in self.rest().chars().enumerate() {
            if !keep(i, c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }

    fn error(&self, message: &str) -> SeriesError {
        SeriesError { text: self.text.to_string(), offset: self.pos, message: message.to_string() }
    }

    /// Parses a quoted label value and returns its unescaped text.
    fn quoted_string(&mut self) -> Result<String, SeriesError> {
        let quote = match self.peek() {
            Some(q @ ('"' | '\'' | '`')) => q,
            _ => return Err(self.error("expected a quoted label value")),
        };
        self.pos += 1;

        let mut value = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated label value"));
            };
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(value);
            }
            if c == '\\' && quote != '`' {
                value.push(self.escape(quote)?);
            } else {
                value.push(c);
            }
        }
    }

    /// Decodes one Go escape sequence after its backslash.
    fn escape(&mut self, quote: char) -> Result<char, SeriesError> {
        let Some(c) = self.peek() else {
            return Err(self.error("unterminated escape sequence"));
        };
        self.pos += c.len_utf8();
        let simple = match c {
            'a' => Some('\u{07}'),
            'b' => Some('\u{08}'),
            'f' => Some('\u{0c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{0b}'),
            '\\' => Some('\\'),
            c if c == quote => Some(c),
            _ => None,
        };
        if let Some(decoded) = simple {
            return Ok(decoded);
        }
        let (digits, radix) = match c {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => {
                // An octal escape has three digits, and the first is already read.
                self.pos -= 1;
                (3, 8)
            }
            _ => return Err(self.error("unknown escape sequence")),
        };
        let code_text = self.rest().get(..digits).ok_or_else(|| self.error("truncated escape sequence"))?;
        let code = u32::from_str_radix(code_text, radix).map_err(|_| self.error("invalid escape sequence"))?;
        self.pos += digits;
        char::from_u32(code).ok_or_else(|| self.error("escape is not a valid character"))
    }
}

/// Parses a values string such as `0+10x5 _ stale 1e3 -2-1x2 Inf` into
/// slots, one per `interval` of the test, starting at time 0.
///
/// The notation is Prometheus's: `a+bxn` and `a-bxn` give n+1 values from
/// `a` in steps of `b`, `axn` repeats `a` n+1 times, `_` is one slot without
/// a sample and `_xn` is n of them, `stale` is a stale marker.
pub fn parse_values(text: &str) -> Result<Vec<Slot>, SeriesError> {
    let mut slots = Vec::new();
    let mut offset = 0;
    for item in text.split_whitespace() {
        // Offset of this item in `text`, for error messages.
        offset = text[offset..].find(item).map_or(offset, |i| offset + i);
        parse_item(item, &mut slots).map_err(|message| SeriesError {
            text: text.to_string(),
            offset,
            message,
        })?;
        offset += item.len();
    }
    Ok(slots)
}

/// Parses one space-separated item and appends its slots.
fn parse_item(item: &str, slots: &mut Vec<Slot>) -> Result<(), String> {
    let (body, times) = split_times(item)?;

    if body == "_" {
        // `_xn` is n missing slots, unlike `axn`, which is n+1 values.
        let count = times.unwrap_or(1);
        slots.extend(std::iter::repeat_n(Slot::Missing, to_usize(count)?));
        return Ok(());
    }

    let (start_text, step_text) = split_step(body);
    let start = parse_value(start_text)?;
    let Some(times) = times else {
        if step_text.is_some() {
            return Err(format!("{item:?} has a step but no 'x' count"));
        }
        slots.push(Slot::Value(start));
        return Ok(());
    };
    let step = match step_text {
        Some(text) => parse_number(text)?,
        None => 0.0,
    };

    // Prometheus adds the step to the running value (not start + i*step), so
    // a step such as 0.1 accumulates the same rounding error here.
    let mut value = start;
    slots.push(Slot::Value(value));
    for _ in 0..to_usize(times)? {
        value += step;
        slots.push(Slot::Value(value));
    }
    Ok(())
}

/// Splits `1+2x3` into `1+2` and 3. An item without `x<digits>` has no count.
fn split_times(item: &str) -> Result<(&str, Option<u64>), String> {
    let Some(x) = item.rfind('x') else {
        return Ok((item, None));
    };
    let count_text = &item[x + 1..];
    if count_text.is_empty() || !count_text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((item, None));
    }
    // Prometheus's lexer reads `NaNx3` or `stalex3` as one identifier and
    // rejects it, so andon rejects it too instead of accepting files that
    // promtool cannot run.
    if item[..x].ends_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("{item:?}: a count cannot follow NaN, Inf or stale; write each value out"));
    }
    let count = count_text.parse::<u64>().map_err(|_| format!("count {count_text:?} is too large"))?;
    Ok((&item[..x], Some(count)))
}

/// Splits `1e3+2` into `1e3` and `+2`: the step starts at the first sign
/// after the first character that is not an exponent's sign.
fn split_step(body: &str) -> (&str, Option<&str>) {
    let bytes = body.as_bytes();
    for i in 1..bytes.len() {
        let is_sign = bytes[i] == b'+' || bytes[i] == b'-';
        let after_exponent = matches!(bytes[i - 1], b'e' | b'E')
            && i >= 2
            && (bytes[i - 2].is_ascii_digit() || bytes[i - 2] == b'.');
        if is_sign && !after_exponent {
            return (&body[..i], Some(&body[i..]));
        }
    }
    (body, None)
}

/// Converts a repeat count to a slot count, bounded so that a typo such as
/// `1x99999999999` fails instead of exhausting memory.
fn to_usize(count: u64) -> Result<usize, String> {
    const MAX_SLOTS: u64 = 10_000_000;
    if count > MAX_SLOTS {
        return Err(format!("count {count} is above the maximum of {MAX_SLOTS}"));
    }
    usize::try_from(count).map_err(|_| format!("count {count} is too large"))
}

/// Parses a sample value: a number, `stale`, or `Inf`/`NaN` with any case.
fn parse_value(text: &str) -> Result<f64, String> {
    if text == "stale" {
        return Ok(STALE_MARKER);
    }
    parse_number(text)
}

/// Parses a number as Go's `strconv.ParseFloat` does for the forms that
/// test files use: decimals, exponents, signs, `Inf` and `NaN`.
pub fn parse_number(text: &str) -> Result<f64, String> {
    let unsigned = text.trim_start_matches(['+', '-']);
    let lower = unsigned.to_ascii_lowercase();
    // Rust also accepts "infinity", which Prometheus's lexer does not.
    let allowed = lower == "inf"
        || lower == "nan"
        || (!unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit() || b"eE+-.".contains(&b)));
    if !allowed || text.len() - unsigned.len() > 1 {
        return Err(format!("{text:?} is not a number"));
    }
    text.parse::<f64>().map_err(|_| format!("{text:?} is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::is_stale_marker;

    fn values(text: &str) -> Vec<Slot> {
        parse_values(text).expect("valid values")
    }

    fn numbers(slots: &[Slot]) -> Vec<f64> {
        slots
            .iter()
            .filter_map(|s| match s {
                Slot::Value(v) => Some(*v),
                Slot::Missing => None,
            })
            .collect()
    }

    #[test]
    fn metric_with_name_and_labels() {
        let labels = parse_metric(r#"up{job="api", instance='a:1'}"#).expect("valid metric");
        assert_eq!(labels, Labels::from_pairs([("__name__", "up"), ("job", "api"), ("instance", "a:1")]));
    }

    #[test]
    fn metric_name_only() {
        assert_eq!(parse_metric("node:cpu:rate5m"), Ok(Labels::from_pairs([("__name__", "node:cpu:rate5m")])));
    }

    #[test]
    fn metric_empty_braces() {
        assert_eq!(parse_metric("{}"), Ok(Labels::new()));
    }

    #[test]
    fn metric_name_as_label() {
        assert_eq!(parse_metric(r#"{__name__="up", a="1",}"#), Ok(Labels::from_pairs([("__name__", "up"), ("a", "1")])));
    }

    #[test]
    fn metric_value_escapes() {
        let labels = parse_metric(r#"m{a="q\"z\\n\x41\u00e9\101"}"#).expect("valid metric");
        assert_eq!(labels.get("a"), Some("q\"z\\nA\u{e9}A"));
    }

    #[test]
    fn metric_raw_backtick_value() {
        let labels = parse_metric(r#"m{a=`x\d+`}"#).expect("valid metric");
        assert_eq!(labels.get("a"), Some(r"x\d+"));
    }

    #[test]
    fn metric_rejects_regex_matcher() {
        assert!(parse_metric(r#"m{a=~"x"}"#).is_err());
    }

    #[test]
    fn metric_rejects_duplicate_label() {
        assert!(parse_metric(r#"m{a="1", a="2"}"#).is_err());
    }

    #[test]
    fn metric_rejects_unterminated_value() {
        assert!(parse_metric(r#"m{a="1}"#).is_err());
    }

    #[test]
    fn metric_rejects_trailing_text() {
        assert!(parse_metric(r#"m{a="1"} 5"#).is_err());
    }

    #[test]
    fn metric_rejects_empty_text() {
        assert!(parse_metric("").is_err());
    }

    #[test]
    fn metric_rejects_multibyte_garbage_without_panic() {
        assert!(parse_metric("m{é=\"1\"}").is_err());
    }

    #[test]
    fn values_increasing_series() {
        assert_eq!(numbers(&values("1+2x3")), vec![1.0, 3.0, 5.0, 7.0]);
    }

    #[test]
    fn values_decreasing_series() {
        assert_eq!(numbers(&values("10-2x2")), vec![10.0, 8.0, 6.0]);
    }

    #[test]
    fn values_negative_start_and_step() {
        assert_eq!(numbers(&values("-2-1x2")), vec![-2.0, -3.0, -4.0]);
    }

    #[test]
    fn values_repeat_shorthand_gives_n_plus_one() {
        assert_eq!(numbers(&values("7x3")), vec![7.0; 4]);
    }

    #[test]
    fn values_step_accumulates_like_prometheus() {
        let got = numbers(&values("0.1+0.1x10"));
        assert_eq!(got.last(), Some(&1.0999999999999999));
    }

    #[test]
    fn values_exponents() {
        assert_eq!(numbers(&values("1e3 2.5E-1 1e+2+1e+2x1")), vec![1000.0, 0.25, 100.0, 200.0]);
    }

    #[test]
    fn values_single_blank_is_one_slot() {
        assert_eq!(values("1 _ 2"), vec![Slot::Value(1.0), Slot::Missing, Slot::Value(2.0)]);
    }

    #[test]
    fn values_blank_times_n_is_n_slots() {
        assert_eq!(values("_x3"), vec![Slot::Missing; 3]);
    }

    #[test]
    fn values_stale_marker() {
        let slots = values("stale");
        assert!(matches!(slots[..], [Slot::Value(v)] if is_stale_marker(v)));
    }

    #[test]
    fn values_nan_is_not_stale() {
        let slots = values("NaN");
        assert!(matches!(slots[..], [Slot::Value(v)] if v.is_nan()));
        assert!(matches!(slots[..], [Slot::Value(v)] if !is_stale_marker(v)));
    }

    #[test]
    fn values_infinities() {
        assert_eq!(numbers(&values("Inf +Inf -Inf inf")), vec![f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
    }

    #[test]
    fn values_empty_text() {
        assert_eq!(values("  "), vec![]);
    }

    #[test]
    fn values_reject_step_without_count() {
        assert!(parse_values("1+2").is_err());
    }

    #[test]
    fn values_reject_word() {
        assert!(parse_values("1 abc").is_err());
    }

    #[test]
    fn values_reject_infinity_spelled_out() {
        assert!(parse_values("infinity").is_err());
    }

    #[test]
    fn values_reject_huge_blank_count() {
        assert!(parse_values("_x99999999999").is_err());
    }

    #[test]
    fn values_reject_count_after_word() {
        assert!(parse_values("NaNx3").is_err());
    }

    #[test]
    fn values_reject_huge_repeat_count() {
        assert!(parse_values("1x99999999999").is_err());
    }

    #[test]
    fn values_error_reports_item_offset() {
        let error = parse_values("1 2 oops").expect_err("invalid item");
        assert_eq!(error.offset, 4);
    }
}
