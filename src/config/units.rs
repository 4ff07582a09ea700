//! Durations and sizes as config files write them.

use std::time::Duration;

/// Duration units in the order Prometheus requires them, with their length
/// in milliseconds. A year is 365 days and a week 7 days, as in Prometheus.
pub const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus-style duration: "500ms", "15s", "1m30s", "2h", "1d".
/// Units must appear from largest to smallest, each at most once; "0" alone
/// is zero. The error describes the problem; the caller quotes the input.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(String::from(
            "it is empty: write a number and a unit such as \"15s\"",
        ));
    }
    let mut rest = text;
    let mut total_ms: u64 = 0;
    // Index into DURATION_UNITS after the last unit seen, to enforce order.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(String::from(
                "expected a whole number followed by a unit (ms, s, m, h, d, w, y), such as \"1m30s\"",
            ));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.chars().take_while(char::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        if after.starts_with('.') && unit.is_empty() {
            return Err(format!(
                "durations take whole numbers: write \"{text}\" with a smaller unit, such as \"90s\" for \"1.5m\""
            ));
        }
        if after.starts_with(char::is_whitespace) && unit.is_empty() {
            return Err(String::from(
                "a duration has no spaces: write the number and unit together, such as \"5s\"",
            ));
        }
        if unit.is_empty() {
            return Err(format!(
                "\"{number}\" has no unit: add one, such as \"{number}s\""
            ));
        }
        let Some(index) = DURATION_UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!(
                "unknown unit \"{unit}\": use ms, s, m, h, d, w or y"
            ));
        };
        if index < next_unit {
            return Err(String::from(
                "units must go from largest to smallest, each once, such as \"1h30m\"",
            ));
        }
        next_unit = index + 1;
        let amount: u64 = number
            .parse()
            .map_err(|_| String::from("the number is too large"))?;
        total_ms = amount
            .checked_mul(DURATION_UNITS[index].1)
            .and_then(|ms| ms.checked_add(total_ms))
            .ok_or_else(|| String::from("the duration is too long"))?;
        rest = after;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Size units: decimal (kB = 1000 bytes) and binary (KiB = 1024 bytes).
const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1_000),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("", 1),
];

/// Parses a size such as "16MiB", "512KiB", "10MB" or "1000" (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(String::from(
            "expected a whole number and a unit such as \"16MiB\"",
        ));
    }
    let Some((_, factor)) = SIZE_UNITS.iter().find(|(name, _)| *name == unit.trim()) else {
        return Err(format!(
            "unknown unit \"{unit}\": use B, KB, MB, GB, KiB, MiB or GiB"
        ));
    };
    let amount: u64 = number
        .parse()
        .map_err(|_| String::from("the number is too large"))?;
    amount
        .checked_mul(*factor)
        .ok_or_else(|| String::from("the size is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_names_whole_numbers() {
        let message = parse_duration("1.5m").unwrap_err();
        assert!(message.contains("whole numbers"), "{message}");
    }

    #[test]
    fn space_is_named() {
        let message = parse_duration("5 s").unwrap_err();
        assert!(message.contains("no spaces"), "{message}");
    }

    #[test]
    fn duration_parses_milliseconds() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn duration_parses_compound() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn duration_parses_days() {
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn duration_parses_bare_zero() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn duration_rejects_missing_unit() {
        assert!(parse_duration("15").is_err());
    }

    #[test]
    fn duration_rejects_units_out_of_order() {
        assert!(parse_duration("30s1m").is_err());
    }

    #[test]
    fn duration_rejects_unknown_unit() {
        assert!(parse_duration("5min").is_err());
    }

    #[test]
    fn duration_rejects_fraction() {
        assert!(parse_duration("1.5s").is_err());
    }

    #[test]
    fn duration_rejects_overflow() {
        assert!(parse_duration("99999999999999999y").is_err());
    }

    #[test]
    fn size_parses_binary_unit() {
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
    }

    #[test]
    fn size_parses_decimal_unit() {
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
    }

    #[test]
    fn size_parses_plain_bytes() {
        assert_eq!(parse_size("1000"), Ok(1000));
    }

    #[test]
    fn size_rejects_unknown_unit() {
        assert!(parse_size("16Mb").is_err());
    }
}
