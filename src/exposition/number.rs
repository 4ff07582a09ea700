//! Sample values, timestamps and the canonical text of `le` and `quantile`.

use std::fmt::{self, Write};

/// Parses a sample value: a decimal float with an optional exponent, or
/// `NaN`, `Inf`, `Infinity` with an optional sign (any letter case).
/// Hex floats, `0b`/`0o` prefixes and `_` separators are invalid, as the
/// OpenMetrics 1.0 grammar and Prometheus reject them.
pub(crate) fn parse_value(token: &str) -> Option<f64> {
    if let Some(v) = parse_small_integer(token) {
        return Some(v);
    }
    if let Some(v) = parse_short_decimal(token) {
        return Some(v);
    }
    let bytes = token.as_bytes();
    let unsigned = match bytes.first() {
        Some(b'+' | b'-') => &token[1..],
        _ => token,
    };
    if unsigned.eq_ignore_ascii_case("nan") {
        // The grammar allows no sign on NaN.
        return (unsigned.len() == token.len()).then_some(f64::NAN);
    }
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if bytes[0] == b'-' {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    parse_real(token)
}

/// Parses a `realnumber`: digits, an optional fraction and exponent, no
/// NaN or infinity.
pub(crate) fn parse_real(token: &str) -> Option<f64> {
    let digits_only = token
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !digits_only || !token.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Fast path for the common `123` and `-5`: at most 15 digits, so the
/// conversion to f64 is exact.
fn parse_small_integer(token: &str) -> Option<f64> {
    let bytes = token.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some(if negative { -(n as f64) } else { n as f64 })
}

/// Fast path for short decimals such as `0.25` and `-1234.5`: digits, a
/// point and digits, at most 15 digits in all. The digits then form an
/// integer below 2^53 and the divisor 10^k is at most 10^15, both exact in
/// an f64, so the one correctly rounded division gives the correctly
/// rounded value, the same as `str::parse` (Clinger's fast path).
fn parse_short_decimal(token: &str) -> Option<f64> {
    let bytes = token.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.len() > 16 {
        return None;
    }
    let point = digits.iter().position(|&b| b == b'.')?;
    let (integer, fraction) = (&digits[..point], &digits[point + 1..]);
    if integer.is_empty() || fraction.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in integer.iter().chain(fraction) {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    let value = n as f64 / POWERS_OF_TEN[fraction.len()];
    Some(if negative { -value } else { value })
}

/// 10^0 to 10^15, each exact in an f64.
const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Parses a text 0.0.4 timestamp: an integer count of milliseconds since
/// the Unix epoch, with an optional sign.
pub(crate) fn parse_text_timestamp(token: &str) -> Option<i64> {
    let digits = token.strip_prefix(['-', '+']).unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse::<i64>().ok()
}

/// Converts OpenMetrics float seconds to milliseconds, rounded to the
/// nearest millisecond.
///
/// NOTE: seconds beyond about 9.2e15 (year 292 million) saturate at
/// `i64::MAX` milliseconds; the OpenMetrics grammar puts no bound on them.
pub(crate) fn seconds_to_ms(seconds: f64) -> i64 {
    // `as` saturates for out-of-range floats, so no input can panic here.
    (seconds * 1000.0).round() as i64
}

/// The canonical text of an `le` or `quantile` bound, as the Go client
/// library writes it with `strconv.FormatFloat(v, 'g', -1, 64)`. That is
/// the shortest digits that read back as the same value, in exponent form
/// when the decimal exponent is below -4 or at least 6, and `+Inf`, `-Inf`
/// or `NaN` for the special values. So `le="1.000"` and `le="1"` become
/// one series, and `histogram_quantile` groups their buckets together.
///
/// NOTE: Prometheus 3 writes whole numbers as `1.0` instead; series from
/// andon's store are only compared with each other, so one form suffices.
#[derive(Clone, Copy)]
pub struct CanonicalFloat {
    buf: [u8; 32],
    len: u8,
}

impl CanonicalFloat {
    /// Returns the canonical form of the bound written as `text`, whose
    /// value is `value`. Most bounds are already written in canonical form
    /// (`0.005`, `2.5`, `+Inf`), which is recognized without formatting.
    pub(crate) fn of_text(text: &str, value: f64) -> Self {
        if is_canonical_decimal(text) || matches!(text, "+Inf" | "-Inf" | "NaN") {
            let mut out = CanonicalFloat {
                buf: [0; 32],
                len: 0,
            };
            out.push_str(text);
            return out;
        }
        CanonicalFloat::new(value)
    }

    pub fn new(value: f64) -> Self {
        let mut out = CanonicalFloat {
            buf: [0; 32],
            len: 0,
        };
        if value.is_nan() {
            out.push_str("NaN");
        } else if value == f64::INFINITY {
            out.push_str("+Inf");
        } else if value == f64::NEG_INFINITY {
            out.push_str("-Inf");
        } else {
            out.write_go_g(value);
        }
        out
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("NaN")
    }

    fn push_str(&mut self, s: &str) {
        for b in s.bytes() {
            self.push(b);
        }
    }

    fn push(&mut self, b: u8) {
        // 17 significant digits, a sign, a point and a 5-byte exponent fit
        // in 32 bytes; the guard only keeps a logic error from panicking.
        if usize::from(self.len) < self.buf.len() {
            self.buf[usize::from(self.len)] = b;
            self.len += 1;
        }
    }

    fn write_go_g(&mut self, value: f64) {
        // Rust's `{:e}` gives the shortest round-trip digits, for example
        // `1.5e-7`; split them into a digit string and a decimal exponent.
        let mut sci = StackStr::default();
        let _ = write!(sci, "{:e}", value.abs());
        let text = sci.as_str();
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let mut digits = StackStr::default();
        for c in mantissa.chars().filter(|c| c.is_ascii_digit()) {
            let _ = digits.write_char(c);
        }
        let digits = digits.as_str().as_bytes();
        if value.is_sign_negative() && value != 0.0 {
            self.push(b'-');
        }
        if !(-4..6).contains(&exponent) {
            self.write_exponent_form(digits, exponent);
        } else {
            self.write_fixed_form(digits, exponent);
        }
    }

    fn write_exponent_form(&mut self, digits: &[u8], exponent: i32) {
        self.push(digits[0]);
        if digits.len() > 1 {
            self.push(b'.');
            for &d in &digits[1..] {
                self.push(d);
            }
        }
        self.push(b'e');
        self.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            self.push(b'0');
        }
        let mut text = StackStr::default();
        let _ = write!(text, "{magnitude}");
        self.push_str(text.as_str());
    }

    fn write_fixed_form(&mut self, digits: &[u8], exponent: i32) {
        if exponent < 0 {
            self.push_str("0.");
            for _ in 0..(-exponent - 1) {
                self.push(b'0');
            }
            for &d in digits {
                self.push(d);
            }
            return;
        }
        let integer_len = exponent as usize + 1;
        for i in 0..integer_len.max(digits.len()) {
            if i == integer_len {
                self.push(b'.');
            }
            self.push(digits.get(i).copied().unwrap_or(b'0'));
        }
    }
}

/// Returns whether `text` is a decimal that [`CanonicalFloat::new`] writes
/// the same way. That is an optional `-` and an integer part, which is `0`
/// or 1 to 6 digits without a leading zero. A point and digits that do not
/// end in `0` may follow. The value must be at least 0.0001,
/// below which the Go format switches to exponent form, and at most 15
/// significant digits, which read back to the same digits. `-0` is not
/// canonical (it is written `0`).
fn is_canonical_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let (integer, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(point) => (&digits[..point], Some(&digits[point + 1..])),
        None => (digits, None),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if integer.is_empty() || integer.len() > 6 || !all_digits(integer) {
        return false;
    }
    let zero_integer = integer == b"0";
    if integer[0] == b'0' && !zero_integer {
        return false;
    }
    let Some(fraction) = fraction else {
        return !(zero_integer && text.starts_with('-'));
    };
    if fraction.is_empty() || !all_digits(fraction) || fraction.last() == Some(&b'0') {
        return false;
    }
    let significant = if zero_integer {
        let leading_zeros = fraction.iter().take_while(|&&b| b == b'0').count();
        if leading_zeros > 3 {
            return false;
        }
        fraction.len() - leading_zeros
    } else {
        integer.len() + fraction.len()
    };
    significant <= 15
}

impl fmt::Debug for CanonicalFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A small string on the stack, for formatting without a heap allocation.
#[derive(Default)]
struct StackStr {
    buf: [u8; 32],
    len: usize,
}

impl StackStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for StackStr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        CanonicalFloat::new(parse_value(text).unwrap())
            .as_str()
            .to_string()
    }

    #[test]
    fn canonical_float_matches_go_g_format() {
        let cases = [
            ("1.000", "1"),
            ("+Inf", "+Inf"),
            ("0.1", "0.1"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1.1e-5", "1.1e-05"),
            ("100000", "100000"),
            ("1e6", "1e+06"),
            ("1555555.55555552", "1.55555555555552e+06"),
            ("1e23", "1e+23"),
            ("0", "0"),
            ("-1.0", "-1"),
            ("0.25", "0.25"),
            ("2.5", "2.5"),
            ("123456", "123456"),
            ("1e100", "1e+100"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input {input}");
        }
    }

    #[test]
    fn canonical_text_shortcut_matches_formatting() {
        let cases = [
            "0",
            "1",
            "-1",
            "2.5",
            "0.005",
            "0.0001",
            "0.00001",
            "0.1",
            "10",
            "100000",
            "999999",
            "1000000",
            "1.0",
            "01",
            "-0",
            "0.25",
            "123456.789",
            "0.000123",
            "1e3",
            "+1",
            "0.10",
            "5e-05",
            "3.14159265358979",
            "3.141592653589793",
            "-0.5",
            "60",
            "+Inf",
            "-Inf",
        ];
        for text in cases {
            let value = parse_value(text).unwrap();
            let shortcut = CanonicalFloat::of_text(text, value);
            let formatted = CanonicalFloat::new(value);
            assert_eq!(shortcut.as_str(), formatted.as_str(), "input {text}");
        }
    }

    #[test]
    fn value_rejects_hex_and_separators() {
        for bad in [
            "0x1", "0x1p-3", "1_2", "0b1", "0o1", "12abc", "", "+nan", "1 ", ".",
        ] {
            assert_eq!(parse_value(bad), None, "input {bad:?}");
        }
    }

    #[test]
    fn value_accepts_special_and_exponent_forms() {
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value("1.5e3"), Some(1500.0));
        assert_eq!(parse_value("-2E-2"), Some(-0.02));
        assert_eq!(
            parse_value("9223372036854775808"),
            Some(9_223_372_036_854_775_808_f64)
        );
    }

    #[test]
    fn short_decimal_matches_standard_parse() {
        let cases = [
            "0.1",
            "0.3",
            "-0.0",
            "1.5",
            "123.456",
            "0.000001",
            "9007199254.740993",
            "999999999999.999",
            "1.000000000000001",
            "4.35",
            "2.675",
            "-1234.5",
            "0.30000000000000004",
        ];
        for text in cases {
            let expected: f64 = text.parse().unwrap();
            let parsed = parse_value(text).unwrap();
            assert_eq!(parsed.to_bits(), expected.to_bits(), "input {text}");
        }
    }

    #[test]
    fn short_decimal_matches_standard_parse_on_a_grid() {
        // Every value with up to 4 integer and 1 to 6 fraction digits from
        // a stride through the digit space.
        for n in (0u64..100_000_000).step_by(9_973) {
            for fraction_digits in 1..=6 {
                let digits = n.to_string();
                let padded = format!("{digits:0>width$}", width = fraction_digits + 1);
                let (integer, fraction) = padded.split_at(padded.len() - fraction_digits);
                let text = format!("{integer}.{fraction}");
                let expected: f64 = text.parse().unwrap();
                let parsed = parse_value(&text).unwrap();
                assert_eq!(parsed.to_bits(), expected.to_bits(), "input {text}");
            }
        }
    }

    #[test]
    fn text_timestamp_rejects_fraction() {
        assert_eq!(parse_text_timestamp("1700000000.5"), None);
        assert_eq!(
            parse_text_timestamp("1700000000000"),
            Some(1_700_000_000_000)
        );
    }
}
