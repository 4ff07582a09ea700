//! Rule files: `[defaults]` and `[[rule]]` sections with tiered thresholds.

use std::path::Path;
use std::time::Duration;

use super::document::{Checker, Section};
use super::main_file::{check_label_name, Names};
use super::{Direction, Flap, OnMissing, Rule, TierSpec};
use crate::engine::Tier;
use crate::expr::Expr;
use crate::labels::Labels;

const ROOT_KEYS: &[&str] = &["defaults", "rule"];
const DEFAULTS_KEYS: &[&str] = &[
    "for",
    "clear_for",
    "hysteresis",
    "on_missing",
    "missing_for",
    "flap",
];
const RULE_KEYS: &[&str] = &[
    "name",
    "expr",
    "unit",
    "for",
    "clear_for",
    "hysteresis",
    "on_missing",
    "missing_for",
    "flap",
    "summary",
    "labels",
    "yellow",
    "red",
    "emergency",
];
const TIER_KEYS: &[&str] = &["above", "below", "clear_below", "clear_above", "for"];
const FLAP_KEYS: &[&str] = &["max_transitions", "window"];
const UNITS: &[&str] = &["", "ratio", "seconds", "bytes", "percent"];
const TIERS: [(Tier, &str); 3] = [
    (Tier::Yellow, "yellow"),
    (Tier::Red, "red"),
    (Tier::Emergency, "emergency"),
];

/// Built-in `clear_for` when neither the rule nor the file's `[defaults]`
/// sets one: four scrapes at the default 15 s interval, so a single good
/// scrape does not end an incident.
pub const DEFAULT_CLEAR_FOR: Duration = Duration::from_secs(60);
/// Built-in `missing_for`: how long a series may lack a value before
/// `on_missing` acts.
pub const DEFAULT_MISSING_FOR: Duration = Duration::from_secs(300);

/// The width of the band between a tier's trigger and its clear threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hysteresis {
    Absolute(f64),
    /// Percent of the trigger's magnitude, in [0, 100).
    Percent(f64),
}

impl Hysteresis {
    fn band(self, trigger: f64) -> f64 {
        match self {
            Hysteresis::Absolute(width) => width,
            Hysteresis::Percent(percent) => trigger.abs() * percent / 100.0,
        }
    }
}

/// Settings that apply to every rule of a file unless the rule sets its own.
#[derive(Clone)]
struct Defaults {
    for_: Duration,
    clear_for: Duration,
    hysteresis: Option<Hysteresis>,
    on_missing: OnMissing,
    missing_for: Duration,
    flap: Option<Flap>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            for_: Duration::ZERO,
            clear_for: DEFAULT_CLEAR_FOR,
            hysteresis: None,
            on_missing: OnMissing::Hold,
            missing_for: DEFAULT_MISSING_FOR,
            flap: None,
        }
    }
}

/// Validates a rule file and returns its rules, each with the byte offset of
/// its name for duplicate checks across files.
pub(crate) fn check_rules(
    checker: &mut Checker<'_>,
    root: Section<'_>,
    path: &Path,
) -> Vec<(Rule, usize)> {
    checker.check_keys(root, ROOT_KEYS);
    let defaults = match checker.table(root, "defaults", "[defaults]") {
        Some(section) => {
            checker.check_keys(section, DEFAULTS_KEYS);
            overlay(checker, section, &Defaults::default())
        }
        None => Defaults::default(),
    };
    let mut rules = Vec::new();
    let mut names = Names::default();
    for section in checker.tables(root, "rule", "[[rule]]") {
        let unique = names.insert_entry(checker, section, "rule");
        if let Some((rule, name_start)) = rule(checker, section, &defaults, path) {
            if unique {
                rules.push((rule, name_start));
            }
        }
    }
    rules
}

/// Reads the settings that `[defaults]` and `[[rule]]` share, falling back
/// to `base` for each one not set.
fn overlay(checker: &mut Checker<'_>, section: Section<'_>, base: &Defaults) -> Defaults {
    Defaults {
        for_: checker.duration(section, "for").map_or(base.for_, |d| d.0),
        clear_for: checker
            .duration(section, "clear_for")
            .map_or(base.clear_for, |d| d.0),
        hysteresis: hysteresis(checker, section).or(base.hysteresis),
        on_missing: on_missing(checker, section).unwrap_or(base.on_missing),
        missing_for: checker
            .duration(section, "missing_for")
            .map_or(base.missing_for, |d| d.0),
        flap: match checker.field(section, "flap") {
            Some(_) => flap(checker, section),
            None => base.flap.clone(),
        },
    }
}

fn rule(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    defaults: &Defaults,
    path: &Path,
) -> Option<(Rule, usize)> {
    checker.check_keys(section, RULE_KEYS);
    let name = checker.required_name(section, "\"ErrorRate\"");
    let title = match &name {
        Some((name, _)) => format!("rule \"{name}\""),
        None => String::from("[[rule]]"),
    };
    let section = Section {
        title: &title,
        ..section
    };
    let errors_before = checker.errors.len();

    let expr = checker.required_string(section, "expr", "'sum(rate(http_requests_total[1m]))'");
    if expr.is_some() {
        check_expr(checker, section);
    }
    let unit = unit(checker, section);
    let settings = overlay(checker, section, defaults);
    let summary = checker.string(section, "summary").map(|(text, start)| {
        check_template(checker, &text, start);
        text
    });
    let mut labels = Labels::new();
    for pair in checker.string_map(section, "labels").unwrap_or_default() {
        if check_label_name(checker, &pair, &["alertname"]) {
            labels.set(pair.name, pair.value);
        }
    }
    let tiers = tiers(checker, section, settings.for_, settings.hysteresis);

    let (name, name_start) = name?;
    let (expr, _) = expr?;
    let (direction, tiers) = tiers?;
    if checker.errors.len() > errors_before {
        return None;
    }
    let rule = Rule {
        name,
        expr,
        unit,
        direction,
        tiers,
        clear_for: settings.clear_for,
        on_missing: settings.on_missing,
        missing_for: settings.missing_for,
        flap: settings.flap,
        summary: summary.unwrap_or_default(),
        labels,
        source: path.to_path_buf(),
    };
    Some((rule, name_start))
}

/// Parses the rule's PromQL and reports a failure at the position inside
/// the file of the problem, when the parser gives one.
fn check_expr(checker: &mut Checker<'_>, section: Section<'_>) {
    let Some(field) = checker.field(section, "expr") else {
        return;
    };
    let Some(source) = field.item.as_str() else {
        return;
    };
    let Err(error) = Expr::parse(source) else {
        return;
    };
    let start = match (error.offset, field.item.span()) {
        (Some(offset), Some(span)) => {
            let raw = checker.source.text.get(span.clone()).unwrap_or("");
            span.start + raw_offset(raw, offset)
        }
        _ => field.value_start,
    };
    let quoted = super::document::shorten(source.trim(), 60);
    checker.error_at(
        start,
        format!(
            "invalid PromQL expression \"{quoted}\": {}; fix the expression",
            error.message
        ),
    );
}

/// Maps a byte offset in a TOML string's value to the byte offset in its
/// source text `raw` (delimiters included), undoing escapes of basic strings
/// and the newline that may follow a multi-line opening delimiter.
pub(crate) fn raw_offset(raw: &str, target: usize) -> usize {
    let (delimiter, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else {
        (1, raw.starts_with('\''))
    };
    let mut pos = delimiter.min(raw.len());
    if delimiter == 3 {
        if raw[pos..].starts_with("\r\n") {
            pos += 2;
        } else if raw[pos..].starts_with('\n') {
            pos += 1;
        }
    }
    if literal {
        return (pos + target).min(raw.len());
    }
    let mut decoded = 0;
    while decoded < target && pos < raw.len() {
        let rest = &raw[pos..];
        let (raw_len, decoded_len) = escape_lengths(rest);
        pos += raw_len;
        decoded += decoded_len;
    }
    pos.min(raw.len())
}

/// Returns how many source bytes the next character or escape of a basic
/// string takes, and how many bytes it decodes to.
fn escape_lengths(rest: &str) -> (usize, usize) {
    let mut chars = rest.chars();
    let Some(first) = chars.next() else {
        return (1, 1);
    };
    if first != '\\' {
        return (first.len_utf8(), first.len_utf8());
    }
    let hex_char = |digits: usize| {
        let decoded = rest
            .get(2..2 + digits)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32)
            .map_or(1, char::len_utf8);
        ((2 + digits).min(rest.len()), decoded)
    };
    match chars.next() {
        Some('u') => hex_char(4),
        Some('U') => hex_char(8),
        Some('x') => hex_char(2),
        // A backslash at the end of a line drops the line break and the
        // whitespace after it.
        Some(c) if c.is_whitespace() => {
            let skipped = rest[1..].len() - rest[1..].trim_start().len();
            (1 + skipped, 0)
        }
        Some(c) => (1 + c.len_utf8(), 1),
        None => (1, 1),
    }
}

fn unit(checker: &mut Checker<'_>, section: Section<'_>) -> String {
    let Some((unit, start)) = checker.string(section, "unit") else {
        return String::new();
    };
    if !UNITS.contains(&unit.as_str()) {
        checker.error_at(
            start,
            format!("unknown unit \"{unit}\": use \"ratio\", \"seconds\", \"bytes\", \"percent\" or \"\""),
        );
    }
    unit
}

fn on_missing(checker: &mut Checker<'_>, section: Section<'_>) -> Option<OnMissing> {
    let (value, start) = checker.string(section, "on_missing")?;
    match value.as_str() {
        "hold" => Some(OnMissing::Hold),
        "clear" => Some(OnMissing::Clear),
        "alert" => Some(OnMissing::Alert),
        _ => {
            checker.error_at(
                start,
                format!("invalid on_missing \"{value}\": use \"hold\", \"clear\" or \"alert\""),
            );
            None
        }
    }
}

fn hysteresis(checker: &mut Checker<'_>, section: Section<'_>) -> Option<Hysteresis> {
    let field = checker.field(section, "hysteresis")?;
    if let Some(text) = field.item.as_str() {
        let percent = text
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok());
        return match percent {
            Some(p) if (0.0..100.0).contains(&p) => Some(Hysteresis::Percent(p)),
            _ => {
                checker.error_at(
                    field.value_start,
                    format!("invalid hysteresis \"{text}\": write a number such as 0.0001 or a percent of the trigger from \"0%\" to \"99%\""),
                );
                None
            }
        };
    }
    let (width, start) = checker.number(section, "hysteresis")?;
    if width < 0.0 {
        checker.error_at(
            start,
            format!("invalid hysteresis {width}: it cannot be negative"),
        );
        return None;
    }
    Some(Hysteresis::Absolute(width))
}

fn flap(checker: &mut Checker<'_>, section: Section<'_>) -> Option<Flap> {
    let table = checker.table(section, "flap", "\"flap\"")?;
    checker.check_keys(table, FLAP_KEYS);
    let max_transitions = match checker.field(table, "max_transitions") {
        None => {
            checker.missing(table, "max_transitions", "4");
            None
        }
        Some(field) => match field.item.as_integer() {
            Some(n) if n >= 1 => usize::try_from(n).ok(),
            Some(n) => {
                checker.error_at(
                    field.value_start,
                    format!("invalid max_transitions {n}: it must be at least 1"),
                );
                None
            }
            None => {
                checker.wrong_type(field, "a whole number");
                None
            }
        },
    };
    if checker.field(table, "window").is_none() {
        checker.missing(table, "window", "\"10m\"");
    }
    let window = checker.positive_duration(table, "window");
    Some(Flap {
        max_transitions: max_transitions?,
        window: window?.0,
    })
}

/// Reports a `{{` without its closing `}}`, which the template would print
/// literally.
fn check_template(checker: &mut Checker<'_>, text: &str, start: usize) {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        match rest[open + 2..].find("}}") {
            Some(close) => rest = &rest[open + 2 + close + 2..],
            None => {
                checker.error_at(
                    start,
                    format!(
                        "summary \"{}\" has \"{{{{\" without a closing \"}}}}\": close it",
                        super::document::shorten(text, 60)
                    ),
                );
                return;
            }
        }
    }
}

/// One tier's trigger with the offset of its value, for ordering checks.
struct Trigger {
    key: &'static str,
    value: f64,
    start: usize,
}

fn tiers(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    rule_for: Duration,
    hysteresis: Option<Hysteresis>,
) -> Option<(Direction, Vec<TierSpec>)> {
    let mut direction: Option<(Direction, &str)> = None;
    let mut specs = Vec::new();
    let mut triggers = Vec::new();
    let mut complete = true;
    for (tier, key) in TIERS {
        if checker.field(section, key).is_none() {
            continue;
        }
        let title = format!("tier \"{key}\" of {}", section.title);
        let Some(table) = checker.table(section, key, &title) else {
            complete = false;
            continue;
        };
        match tier_spec(
            checker,
            table,
            tier,
            key,
            &mut direction,
            rule_for,
            hysteresis,
        ) {
            Some((spec, trigger)) => {
                specs.push(spec);
                triggers.push(trigger);
            }
            None => complete = false,
        }
    }
    if specs.is_empty() && complete {
        checker.error_at(
            section.start,
            format!(
                "{} has no tier: add yellow, red or emergency, such as red = {{ above = 0.5 }}",
                section.title
            ),
        );
        return None;
    }
    let (direction, _) = direction?;
    complete &= check_order(checker, direction, &triggers);
    complete.then_some((direction, specs))
}

fn tier_spec(
    checker: &mut Checker<'_>,
    table: Section<'_>,
    tier: Tier,
    key: &'static str,
    direction: &mut Option<(Direction, &'static str)>,
    rule_for: Duration,
    hysteresis: Option<Hysteresis>,
) -> Option<(TierSpec, Trigger)> {
    checker.check_keys(table, TIER_KEYS);
    let above = checker.number(table, "above");
    let below = checker.number(table, "below");
    let for_ = checker.duration(table, "for").map_or(rule_for, |d| d.0);
    let (this_direction, (trigger, start)) = match (above, below) {
        (Some(_), Some((_, start))) => {
            checker.error_at(
                start,
                format!(
                    "{} sets both \"above\" and \"below\": keep one",
                    table.title
                ),
            );
            return None;
        }
        (Some(above), None) => (Direction::Above, above),
        (None, Some(below)) => (Direction::Below, below),
        (None, None) => {
            if checker.field(table, "above").is_none() && checker.field(table, "below").is_none() {
                checker.missing(
                    table,
                    "above",
                    "0.5 (or below = 0.5 for a rule where lower is worse)",
                );
            }
            return None;
        }
    };
    match direction {
        Some((first, first_key)) if *first != this_direction => {
            let (this_word, first_word) = match this_direction {
                Direction::Above => ("above", "below"),
                Direction::Below => ("below", "above"),
            };
            checker.error_at(
                start,
                format!("tier \"{key}\" uses \"{this_word}\" but tier \"{first_key}\" uses \"{first_word}\": all tiers of a rule must use the same direction"),
            );
            return None;
        }
        Some(_) => {}
        None => *direction = Some((this_direction, key)),
    }
    let clear = clear_threshold(checker, table, this_direction, trigger, hysteresis)?;
    let spec = TierSpec {
        tier,
        trigger,
        clear,
        for_,
    };
    Some((
        spec,
        Trigger {
            key,
            value: trigger,
            start,
        },
    ))
}

/// Reads or derives the clear threshold and checks it lies on the healthy
/// side of the trigger (at or below it for `above` tiers).
fn clear_threshold(
    checker: &mut Checker<'_>,
    table: Section<'_>,
    direction: Direction,
    trigger: f64,
    hysteresis: Option<Hysteresis>,
) -> Option<f64> {
    let (key, wrong_key, trigger_key) = match direction {
        Direction::Above => ("clear_below", "clear_above", "above"),
        Direction::Below => ("clear_above", "clear_below", "below"),
    };
    if let Some(field) = checker.field(table, wrong_key) {
        checker.error_at(
            field.key_start,
            format!("\"{wrong_key}\" does not go with \"{trigger_key}\": use \"{key}\""),
        );
        return None;
    }
    let band = hysteresis.map_or(0.0, |h| h.band(trigger));
    let Some((clear, start)) = checker.number(table, key) else {
        let clear = match direction {
            Direction::Above => trigger - band,
            Direction::Below => trigger + band,
        };
        // A band wider than the trigger itself puts the clear threshold
        // across zero (above) or past twice the trigger (below), which for
        // rates, ratios and sizes means the tier never clears. It is most
        // often a percent written as a plain number.
        if trigger != 0.0 && band > trigger.abs() {
            let field = checker.field(table, trigger_key).map(|f| f.value_start).unwrap_or(table.start);
            checker.error_at(
                field,
                format!("hysteresis {band} is wider than {trigger_key} = {trigger} itself and puts its clear threshold at {clear}, where the tier would likely never clear: write the band as a percent such as \"20%\", or set {key} explicitly"),
            );
            return None;
        }
        return Some(clear);
    };
    let wrong_side = match direction {
        Direction::Above => clear > trigger,
        Direction::Below => clear < trigger,
    };
    if wrong_side {
        let side = if direction == Direction::Above {
            "at or below"
        } else {
            "at or above"
        };
        checker.error_at(
            start,
            format!("{key} = {clear} is on the wrong side of {trigger_key} = {trigger}: it must be {side} {trigger}, or the tier could never clear"),
        );
        return None;
    }
    Some(clear)
}

/// Checks that triggers get worse from yellow to emergency: rising for
/// `above` rules, falling for `below` rules.
fn check_order(checker: &mut Checker<'_>, direction: Direction, triggers: &[Trigger]) -> bool {
    let mut ordered = true;
    for pair in triggers.windows(2) {
        let (lower, higher) = (&pair[0], &pair[1]);
        let (in_order, relation) = match direction {
            Direction::Above => (higher.value > lower.value, "greater"),
            Direction::Below => (higher.value < lower.value, "less"),
        };
        if !in_order {
            checker.error_at(
                higher.start,
                format!(
                    "tier \"{}\" trigger {} must be {relation} than tier \"{}\" trigger {}: tiers go from yellow (mildest) to emergency (worst)",
                    higher.key, higher.value, lower.key, lower.value
                ),
            );
            ordered = false;
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_offset_skips_opening_quote() {
        assert_eq!(raw_offset("'sum(x)'", 4), 5);
    }

    #[test]
    fn raw_offset_skips_newline_after_multiline_delimiter() {
        assert_eq!(raw_offset("'''\nsum(x)\n'''", 4), 8);
    }

    #[test]
    fn raw_offset_counts_escapes_in_basic_strings() {
        // `\"` is two source bytes for one value byte.
        assert_eq!(raw_offset(r#""a{b=\"c\"}x""#, 7), 10);
    }

    #[test]
    fn expression_offset_maps_to_file_position() {
        // Offset 19 of the expression is the `/` on its second line.
        let text = "[[rule]]\nexpr = '''\nsum(rate(a[1m]))\n  / sum(rate(b[1m]))\n'''\n";
        let source = super::super::document::Source::new("r.toml", text);
        let start = text.find("'''").unwrap_or(0);
        let end = text.rfind("'''").map_or(text.len(), |i| i + 3);
        let offset = start + raw_offset(&text[start..end], 19);
        assert_eq!(source.position(offset), (4, 3));
    }

    #[test]
    fn percent_band_scales_with_trigger() {
        assert_eq!(Hysteresis::Percent(20.0).band(150.0), 30.0);
    }
}
