//! A walker over a parsed TOML document that records every problem with its
//! position instead of stopping at the first one, as serde would.

use std::ops::Range;
use std::time::Duration;

use toml_edit::{Item, TableLike, Value};

use super::load::ConfigError;
use super::units;

/// The text of one file and the byte offset where each of its lines starts.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Returns the 1-based line and column of a byte offset. Columns count
    /// characters, not bytes, so a caret lines up under non-ASCII text.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self.text[start..offset].chars().count() + 1;
        (line + 1, column)
    }

    /// Returns the source text of a span, cut to 60 characters, for quoting
    /// in messages.
    pub fn excerpt(&self, span: &Range<usize>) -> String {
        let text = self.text.get(span.clone()).unwrap_or("").trim();
        shorten(text, 60)
    }
}

/// Joins `text` onto one line and cuts it to `max` characters, marking the
/// cut with an ellipsis, so a quoted value never breaks a one-line message.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let text = if text.contains('\n') {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        text.to_string()
    };
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// A table being validated: a `[section]`, one `[[array]]` entry or an
/// inline table.
#[derive(Clone, Copy)]
pub(crate) struct Section<'a> {
    pub table: &'a dyn TableLike,
    /// Byte offset of the table's header or opening brace; errors about a
    /// missing key point here.
    pub start: usize,
    /// The table's name in messages, for example `[global]`.
    pub title: &'a str,
}

/// A value found under a key, with the offsets of both.
#[derive(Clone, Copy)]
pub(crate) struct Field<'a> {
    pub name: &'a str,
    pub item: &'a Item,
    pub key_start: usize,
    pub value_start: usize,
}

/// Collects errors for one file.
pub(crate) struct Checker<'s> {
    pub source: &'s Source,
    pub errors: Vec<ConfigError>,
}

impl<'s> Checker<'s> {
    pub fn new(source: &'s Source) -> Checker<'s> {
        Checker {
            source,
            errors: Vec::new(),
        }
    }

    /// Records an error at a byte offset of this file.
    pub fn error_at(&mut self, offset: usize, message: impl Into<String>) {
        let (line, column) = self.source.position(offset);
        self.errors.push(ConfigError {
            file: self.source.name.clone(),
            line,
            column,
            message: message.into(),
        });
    }

    /// Returns the value's source text, quoted for a message.
    pub fn quote(&self, item: &Item) -> String {
        match item.span() {
            Some(span) => self.source.excerpt(&span),
            None => String::from("(value)"),
        }
    }

    /// Reports every key of `section` that is not in `allowed`, with the
    /// closest allowed key as a suggestion.
    pub fn check_keys(&mut self, section: Section<'_>, allowed: &[&str]) {
        for (name, _) in section.table.iter() {
            if !allowed.contains(&name) {
                self.unknown_key(section, name, allowed);
            }
        }
    }

    /// Reports the key `name` of `section` as unknown.
    pub fn unknown_key(&mut self, section: Section<'_>, name: &str, allowed: &[&str]) {
        let start = key_start(section.table, name).unwrap_or(section.start);
        let hint = match closest(name, allowed) {
            Some(best) => format!("did you mean \"{best}\"? "),
            None => String::new(),
        };
        self.error_at(
            start,
            format!(
                "unknown key \"{name}\" in {}: {hint}allowed keys are {}",
                section.title,
                allowed.join(", ")
            ),
        );
    }

    /// Returns the field `name` of `section`, if present.
    pub fn field<'a>(&self, section: Section<'a>, name: &str) -> Option<Field<'a>> {
        let (key, item) = section.table.get_key_value(name)?;
        if item.is_none() {
            return None;
        }
        let key_start = key.span().map_or(section.start, |s| s.start);
        let value_start = item.span().map_or(key_start, |s| s.start);
        Some(Field {
            name: key.get(),
            item,
            key_start,
            value_start,
        })
    }

    /// Reports a missing required key at the start of its table.
    pub fn missing(&mut self, section: Section<'_>, name: &str, example: &str) {
        self.error_at(
            section.start,
            format!(
                "missing required key \"{name}\" in {}: add {name} = {example}",
                section.title
            ),
        );
    }

    /// Reports a value of the wrong type.
    pub fn wrong_type(&mut self, field: Field<'_>, expected: &str) {
        let found = self.quote(field.item);
        let kind = field.item.type_name();
        self.error_at(
            field.value_start,
            format!(
                "\"{}\" must be {expected}, found {kind} {found}",
                field.name
            ),
        );
    }

    /// Returns the string under `name`; reports a value of another type.
    pub fn string(&mut self, section: Section<'_>, name: &str) -> Option<(String, usize)> {
        let field = self.field(section, name)?;
        match field.item.as_str() {
            Some(text) => Some((text.to_string(), field.value_start)),
            None => {
                self.wrong_type(field, "a string");
                None
            }
        }
    }

    /// Returns the non-empty string under `name`, which names a target,
    /// receiver or rule; reports it when missing or empty.
    pub fn required_name(
        &mut self,
        section: Section<'_>,
        example: &str,
    ) -> Option<(String, usize)> {
        let (name, start) = self.required_string(section, "name", example)?;
        if name.trim().is_empty() {
            self.error_at(
                start,
                format!(
                    "\"name\" in {} is empty: give it a name such as {example}",
                    section.title
                ),
            );
            return None;
        }
        Some((name, start))
    }

    /// Returns the string under `name`; reports it when missing.
    pub fn required_string(
        &mut self,
        section: Section<'_>,
        name: &str,
        example: &str,
    ) -> Option<(String, usize)> {
        if self.field(section, name).is_none() {
            self.missing(section, name, example);
            return None;
        }
        self.string(section, name)
    }

    /// Returns the duration under `name`, written like "15s" or "1m30s".
    pub fn duration(&mut self, section: Section<'_>, name: &str) -> Option<(Duration, usize)> {
        let field = self.field(section, name)?;
        let Some(text) = field.item.as_str() else {
            self.wrong_type(field, "a duration string such as \"15s\"");
            return None;
        };
        match units::parse_duration(text) {
            Ok(duration) => Some((duration, field.value_start)),
            Err(problem) => {
                self.error_at(
                    field.value_start,
                    format!("invalid duration \"{text}\" for \"{name}\": {problem}"),
                );
                None
            }
        }
    }

    /// Returns the duration under `name` and reports it when zero.
    pub fn positive_duration(
        &mut self,
        section: Section<'_>,
        name: &str,
    ) -> Option<(Duration, usize)> {
        let (duration, start) = self.duration(section, name)?;
        if duration.is_zero() {
            self.error_at(start, format!("\"{name}\" must be longer than 0s, found \"0s\": set a positive duration such as \"10s\""));
            return None;
        }
        Some((duration, start))
    }

    /// Returns the size in bytes under `name`: an integer or a string
    /// such as "16MiB".
    pub fn size(&mut self, section: Section<'_>, name: &str) -> Option<(u64, usize)> {
        let field = self.field(section, name)?;
        let parsed = match field.item.as_value() {
            Some(Value::Integer(n)) => {
                u64::try_from(*n.value()).map_err(|_| String::from("a size cannot be negative"))
            }
            Some(Value::String(s)) => units::parse_size(s.value()),
            _ => {
                self.wrong_type(field, "a size such as \"16MiB\"");
                return None;
            }
        };
        match parsed {
            Ok(0) => {
                let quoted = self.quote(field.item);
                self.error_at(
                    field.value_start,
                    format!("invalid size {quoted} for \"{name}\": it must be larger than 0 bytes"),
                );
                None
            }
            Ok(bytes) => Some((bytes, field.value_start)),
            Err(problem) => {
                let quoted = self.quote(field.item);
                self.error_at(
                    field.value_start,
                    format!("invalid size {quoted} for \"{name}\": {problem}"),
                );
                None
            }
        }
    }

    /// Returns the finite number under `name`, integer or float.
    pub fn number(&mut self, section: Section<'_>, name: &str) -> Option<(f64, usize)> {
        let field = self.field(section, name)?;
        let number = match field.item.as_value() {
            // Thresholds far beyond 2^53 lose precision, which does not
            // matter for alerting.
            Some(Value::Integer(n)) => *n.value() as f64,
            Some(Value::Float(f)) => *f.value(),
            _ => {
                self.wrong_type(field, "a number");
                return None;
            }
        };
        if !number.is_finite() {
            let quoted = self.quote(field.item);
            self.error_at(
                field.value_start,
                format!("\"{name}\" must be a finite number, found {quoted}"),
            );
            return None;
        }
        Some((number, field.value_start))
    }

    /// Returns the array of strings under `name`.
    pub fn strings(&mut self, section: Section<'_>, name: &str) -> Option<Vec<(String, usize)>> {
        let field = self.field(section, name)?;
        let Some(array) = field.item.as_array() else {
            self.wrong_type(field, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for value in array.iter() {
            let start = value.span().map_or(field.value_start, |s| s.start);
            match value.as_str() {
                Some(text) => out.push((text.to_string(), start)),
                None => {
                    let quoted = value
                        .span()
                        .map(|s| self.source.excerpt(&s))
                        .unwrap_or_default();
                    self.error_at(
                        start,
                        format!(
                            "every entry of \"{name}\" must be a string, found {} {quoted}",
                            value.type_name()
                        ),
                    );
                }
            }
        }
        Some(out)
    }

    /// Returns the table (standard or inline) under `name`.
    pub fn table<'a>(
        &mut self,
        section: Section<'a>,
        name: &str,
        title: &'a str,
    ) -> Option<Section<'a>> {
        let field = self.field(section, name)?;
        match field.item.as_table_like() {
            Some(table) => Some(Section {
                table,
                start: field.value_start,
                title,
            }),
            None => {
                self.wrong_type(field, "a table such as { key = \"value\" }");
                None
            }
        }
    }

    /// Returns the string pairs of the table under `name`, each with the
    /// offsets of its key and value.
    pub fn string_map(&mut self, section: Section<'_>, name: &str) -> Option<Vec<Pair>> {
        let title = format!("\"{name}\"");
        let table = self.table(section, name, &title)?;
        let mut out = Vec::new();
        for (key, item) in table.table.iter() {
            let key_start = key_start(table.table, key).unwrap_or(table.start);
            let value_start = item.span().map_or(key_start, |s| s.start);
            match item.as_str() {
                Some(value) => out.push(Pair {
                    name: key.to_string(),
                    value: value.to_string(),
                    key_start,
                    value_start,
                }),
                None => {
                    let quoted = self.quote(item);
                    self.error_at(
                        value_start,
                        format!(
                            "\"{name}.{key}\" must be a string, found {} {quoted}: quote it",
                            item.type_name()
                        ),
                    );
                }
            }
        }
        Some(out)
    }

    /// Returns the entries of an array of tables (`[[name]]` or
    /// `name = [{..}, {..}]`).
    pub fn tables<'a>(
        &mut self,
        section: Section<'a>,
        name: &str,
        title: &'a str,
    ) -> Vec<Section<'a>> {
        let Some(field) = self.field(section, name) else {
            return Vec::new();
        };
        if let Some(array) = field.item.as_array_of_tables() {
            return array
                .iter()
                .map(|table| Section {
                    table,
                    start: table.span().map_or(field.key_start, |s| s.start),
                    title,
                })
                .collect();
        }
        if let Some(array) = field.item.as_array() {
            let mut out = Vec::new();
            for value in array.iter() {
                let start = value.span().map_or(field.value_start, |s| s.start);
                match value.as_inline_table() {
                    Some(table) => out.push(Section {
                        table,
                        start,
                        title,
                    }),
                    None => self.error_at(
                        start,
                        format!(
                            "every entry of \"{name}\" must be a table: write [[{name}]] sections"
                        ),
                    ),
                }
            }
            return out;
        }
        self.error_at(
            field.key_start,
            format!("\"{name}\" must be an array of tables: write [[{name}]] instead of [{name}]"),
        );
        Vec::new()
    }
}

/// A string entry of a table such as `labels` or `headers`.
#[derive(Clone, Debug)]
pub(crate) struct Pair {
    pub name: String,
    pub value: String,
    pub key_start: usize,
    pub value_start: usize,
}

fn key_start(table: &dyn TableLike, name: &str) -> Option<usize> {
    let (key, _) = table.get_key_value(name)?;
    key.span().map(|s| s.start)
}

/// Returns the allowed name closest to `name` when it is near enough to be
/// a likely typo.
pub(crate) fn closest<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    allowed
        .iter()
        .map(|candidate| (edit_distance(&lower, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance in characters where swapping two neighbours counts as one
/// edit (optimal string alignment), since "abvoe" is a typo of "above".
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] is the distance between the first i chars of a and the
    // first j chars of b.
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let source = Source::new("f", "a = 1\nbé = \"x\"\n");
        assert_eq!(source.position(12), (2, 6));
    }

    #[test]
    fn position_of_first_byte_is_one_one() {
        let source = Source::new("f", "a = 1\n");
        assert_eq!(source.position(0), (1, 1));
    }

    #[test]
    fn position_past_end_is_clamped() {
        let source = Source::new("f", "a\nb");
        assert_eq!(source.position(99), (2, 2));
    }

    #[test]
    fn closest_suggests_typo_fix() {
        assert_eq!(
            closest("scrape_intervall", &["scrape_interval", "listen"]),
            Some("scrape_interval")
        );
    }

    #[test]
    fn closest_ignores_unrelated_names() {
        assert_eq!(closest("colour", &["url", "name"]), None);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn edit_distance_counts_swap_as_one() {
        assert_eq!(edit_distance("abvoe", "above"), 1);
    }
}
