//! Splits one line of an exposition body into its tokens, with no heap
//! allocation unless the line is invalid.

use super::labels::{LabelRef, LabelValue};
use super::number::{parse_real, parse_text_timestamp, parse_value, seconds_to_ms};
use super::Format;

/// A problem found in one line: 0-based byte offset and message.
#[derive(Debug)]
pub(crate) struct LineError {
    pub offset: usize,
    pub message: String,
}

impl LineError {
    fn new(offset: usize, message: String) -> Self {
        LineError { offset, message }
    }
}

/// The timestamp as written: milliseconds in text 0.0.4, float seconds in
/// OpenMetrics (kept as seconds so ordering checks see every digit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RawTimestamp {
    Millis(i64),
    Seconds(f64),
}

impl RawTimestamp {
    pub fn to_ms(self) -> i64 {
        match self {
            RawTimestamp::Millis(ms) => ms,
            RawTimestamp::Seconds(s) => seconds_to_ms(s),
        }
    }

    pub fn ordering_key(self) -> f64 {
        match self {
            RawTimestamp::Millis(ms) => ms as f64 / 1000.0,
            RawTimestamp::Seconds(s) => s,
        }
    }
}

/// A parsed sample line; labels and exemplar labels live in buffers owned
/// by the caller so they can be reused from line to line.
#[derive(Debug)]
pub(crate) struct SampleLine<'a> {
    pub name: &'a str,
    /// The metric name and label set as written, through the closing `}`.
    pub series_text: &'a str,
    pub value: f64,
    pub value_offset: usize,
    pub timestamp: Option<RawTimestamp>,
    pub exemplar: Option<ExemplarLine>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ExemplarLine {
    pub value: f64,
    pub timestamp: Option<f64>,
}

/// Returns the length of the metric name at the start of `bytes`
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`), 0 when there is none.
pub(crate) fn metric_name_len(bytes: &[u8]) -> usize {
    // In a valid line the name ends at `{`, a blank or the line end. Find
    // that end with a SIMD search, then check the bytes before it in one
    // pass without early exit, which the compiler vectorizes. On names of
    // 20 to 60 bytes this beats a byte-by-byte scan. When the check fails,
    // the byte scan finds where the name really ends.
    let end = memchr::memchr3(b'{', b' ', b'\t', bytes).unwrap_or(bytes.len());
    let all_name_bytes = bytes[..end]
        .iter()
        .fold(true, |ok, &b| ok & is_name_byte_branchless(b));
    let len = if all_name_bytes {
        end
    } else {
        bytes
            .iter()
            .position(|&b| !NAME_BYTES[usize::from(b)])
            .unwrap_or(bytes.len())
    };
    match bytes.first() {
        Some(b) if b.is_ascii_digit() => 0,
        _ => len,
    }
}

/// Returns whether `line` starts with the metric name `name`: the bytes of
/// `name` followed by a byte that cannot continue a name. False for an
/// empty `name`.
pub(crate) fn starts_with_name(line: &[u8], name: &[u8]) -> bool {
    !name.is_empty()
        && line.len() >= name.len()
        && same_bytes(&line[..name.len()], name)
        && line
            .get(name.len())
            .is_none_or(|&b| !is_metric_name_byte(b))
}

/// Returns the length of the metric name at the start of `bytes`, as
/// [`metric_name_len`] does, checking first whether it is `hint`, a name
/// met recently.
pub(crate) fn metric_name_len_hinted(bytes: &[u8], hint: &[u8]) -> usize {
    if starts_with_name(bytes, hint) {
        hint.len()
    } else {
        metric_name_len(bytes)
    }
}

/// Tests a byte as [`NAME_BYTES`] does, with comparisons only, so that a
/// loop over it can be vectorized.
fn is_name_byte_branchless(b: u8) -> bool {
    let lower = b | 0x20;
    (lower >= b'a') & (lower <= b'z') | (b >= b'0') & (b <= b'9') | (b == b'_') | (b == b':')
}

/// True for the bytes allowed in a metric name after its first byte.
pub(crate) fn is_metric_name_byte(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
}

/// Bytes allowed in a metric name after its first byte: `[a-zA-Z0-9_:]`.
/// A table lookup is cheaper than the chain of range checks on the hot
/// path, where every line's name is scanned.
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b':';
        b += 1;
    }
    table
};

fn label_name_len(bytes: &[u8]) -> usize {
    let len = bytes
        .iter()
        .position(|&b| !LABEL_NAME_BYTES[usize::from(b)])
        .unwrap_or(bytes.len());
    match bytes.first() {
        Some(b) if b.is_ascii_digit() => 0,
        _ => len,
    }
}

/// Bytes allowed in a label name after its first byte: `[a-zA-Z0-9_]`.
static LABEL_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

/// Compares two short byte strings 8 bytes at a time. Names of one body
/// are mostly 10 to 60 bytes long, where calling `memcmp` costs more than
/// the comparison.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a_words = a.chunks_exact(8);
    let mut b_words = b.chunks_exact(8);
    for (x, y) in (&mut a_words).zip(&mut b_words) {
        if u64::from_ne_bytes(word(x)) != u64::from_ne_bytes(word(y)) {
            return false;
        }
    }
    a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .all(|(x, y)| x == y)
}

/// Copies an 8-byte chunk into an array.
pub(crate) fn word(chunk: &[u8]) -> [u8; 8] {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(chunk);
    buf
}

/// Returns the token starting at `offset`: everything up to the next
/// space, tab or label syntax character, at most 40 bytes, for quoting
/// in an error message.
pub(crate) fn token_at(line: &str, offset: usize) -> &str {
    let rest = line.get(offset..).unwrap_or("");
    let end = rest
        .char_indices()
        .find(|&(i, c)| matches!(c, ' ' | '\t' | ',' | '}' | '{' | '=') && i > 0 || i >= 40)
        .map_or(rest.len(), |(i, _)| i);
    &rest[..end]
}

/// Returns the largest char boundary of `text` that is at most `max`.
fn char_boundary_at_most(text: &str, max: usize) -> usize {
    (0..=max.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    format: Format,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.line.as_bytes()[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// Skips spaces and tabs in text 0.0.4, where Prometheus allows them
    /// between tokens; OpenMetrics allows none.
    fn skip_optional_space(&mut self) {
        if self.format == Format::Text {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
        }
    }

    /// Consumes the separator between tokens: exactly one space in
    /// OpenMetrics, one or more spaces or tabs in text 0.0.4. Returns
    /// false when there is none.
    fn separator(&mut self) -> bool {
        match (self.format, self.peek()) {
            (Format::OpenMetrics, Some(b' ')) => {
                self.pos += 1;
                true
            }
            (Format::Text, Some(b' ' | b'\t')) => {
                self.skip_optional_space();
                true
            }
            _ => false,
        }
    }

    /// Returns the token up to the next separator or the end of the line.
    fn token(&mut self) -> (usize, &'a str) {
        let start = self.pos;
        let len = self
            .rest()
            .iter()
            .position(|&b| b == b' ' || (self.format == Format::Text && b == b'\t'))
            .unwrap_or(self.rest().len());
        self.pos += len;
        (start, &self.line[start..self.pos])
    }

    fn error(&self, message: String) -> LineError {
        LineError::new(self.pos, message)
    }

    fn quoted_token(&self) -> &'a str {
        token_at(self.line, self.pos)
    }
}

/// Strips what text 0.0.4 allows around a line's tokens: a CR before the
/// line end and blanks before the first token.
pub(crate) fn trim_text_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let blanks = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &line[blanks..]
}

/// Parses a sample line whose metric name is `name_len` bytes long (see
/// [`metric_name_len`]), appending its labels to `labels` and its exemplar
/// labels to `exemplar_labels` (both cleared first).
pub(crate) fn parse_sample_line<'a>(
    line: &'a str,
    name_len: usize,
    format: Format,
    labels: &mut Vec<LabelRef<'a>>,
    exemplar_labels: &mut Vec<LabelRef<'a>>,
) -> Result<SampleLine<'a>, LineError> {
    labels.clear();
    exemplar_labels.clear();
    let mut cursor = Cursor {
        line,
        pos: 0,
        format,
    };
    if name_len == 0 {
        return Err(cursor.error(format!("invalid metric name \"{}\"", cursor.quoted_token())));
    }
    let name = &line[..name_len];
    cursor.pos = name_len;
    // Text 0.0.4 allows spaces between the name and the label set.
    cursor.skip_optional_space();
    if cursor.peek() == Some(b'{') {
        parse_labels(&mut cursor, labels)?;
    } else {
        cursor.pos = name_len;
    }
    let series_text = &line[..cursor.pos];
    if !cursor.separator() {
        if cursor.at_end() {
            return Err(cursor.error(format!("missing value for metric \"{name}\"")));
        }
        return Err(cursor.error(format!(
            "expected a space before the value, found \"{}\"",
            cursor.quoted_token()
        )));
    }
    let (value_offset, value_token) = cursor.token();
    let value = parse_value(value_token).ok_or_else(|| {
        LineError::new(
            value_offset,
            format!("invalid value \"{value_token}\" for metric \"{name}\""),
        )
    })?;
    let mut sample = SampleLine {
        name,
        series_text,
        value,
        value_offset,
        timestamp: None,
        exemplar: None,
    };
    match format {
        Format::Text => parse_text_tail(&mut cursor, &mut sample)?,
        Format::OpenMetrics => parse_openmetrics_tail(&mut cursor, &mut sample, exemplar_labels)?,
    }
    Ok(sample)
}

fn parse_text_tail(cursor: &mut Cursor<'_>, sample: &mut SampleLine<'_>) -> Result<(), LineError> {
    if !cursor.separator() || cursor.at_end() {
        return Ok(());
    }
    let (offset, token) = cursor.token();
    let ms = parse_text_timestamp(token).ok_or_else(|| {
        LineError::new(
            offset,
            format!("invalid timestamp \"{token}\": text format 0.0.4 needs integer milliseconds"),
        )
    })?;
    sample.timestamp = Some(RawTimestamp::Millis(ms));
    cursor.skip_optional_space();
    if !cursor.at_end() {
        return Err(cursor.error(format!(
            "unexpected text \"{}\" after the timestamp",
            cursor.quoted_token()
        )));
    }
    Ok(())
}

fn parse_openmetrics_tail<'a>(
    cursor: &mut Cursor<'a>,
    sample: &mut SampleLine<'a>,
    exemplar_labels: &mut Vec<LabelRef<'a>>,
) -> Result<(), LineError> {
    if cursor.at_end() {
        return Ok(());
    }
    if !cursor.separator() {
        return Err(cursor.error(format!(
            "unexpected text \"{}\" after the value",
            cursor.quoted_token()
        )));
    }
    if cursor.peek() != Some(b'#') {
        let (offset, token) = cursor.token();
        let seconds = parse_real(token)
            .ok_or_else(|| LineError::new(offset, format!("invalid timestamp \"{token}\"")))?;
        sample.timestamp = Some(RawTimestamp::Seconds(seconds));
        if cursor.at_end() {
            return Ok(());
        }
        if !cursor.separator() {
            return Err(cursor.error(format!(
                "unexpected text \"{}\" after the timestamp",
                cursor.quoted_token()
            )));
        }
    }
    sample.exemplar = Some(parse_exemplar(cursor, exemplar_labels)?);
    Ok(())
}

fn parse_exemplar<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelRef<'a>>,
) -> Result<ExemplarLine, LineError> {
    if !cursor.rest().starts_with(b"# {") {
        return Err(cursor.error(format!(
            "invalid exemplar \"{}\": expected \"# {{labels}} value\"",
            cursor.quoted_token()
        )));
    }
    cursor.pos += 2;
    parse_labels(cursor, labels)?;
    if !cursor.separator() {
        return Err(cursor.error("missing exemplar value".to_string()));
    }
    let (value_offset, token) = cursor.token();
    let value = parse_value(token).ok_or_else(|| {
        LineError::new(value_offset, format!("invalid exemplar value \"{token}\""))
    })?;
    let mut exemplar = ExemplarLine {
        value,
        timestamp: None,
    };
    if cursor.at_end() {
        return Ok(exemplar);
    }
    if !cursor.separator() {
        return Err(cursor.error("unexpected text after the exemplar value".to_string()));
    }
    let (ts_offset, token) = cursor.token();
    let seconds = parse_real(token).ok_or_else(|| {
        LineError::new(ts_offset, format!("invalid exemplar timestamp \"{token}\""))
    })?;
    exemplar.timestamp = Some(seconds);
    if !cursor.at_end() {
        return Err(cursor.error(format!(
            "unexpected text \"{}\" after the exemplar timestamp",
            cursor.quoted_token()
        )));
    }
    Ok(exemplar)
}

/// Parses `{name="value",...}` starting at the opening brace.
fn parse_labels<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelRef<'a>>,
) -> Result<(), LineError> {
    cursor.pos += 1;
    let mut after_comma = false;
    loop {
        cursor.skip_optional_space();
        if cursor.peek() == Some(b'}') {
            if after_comma && cursor.format == Format::OpenMetrics {
                return Err(cursor.error("trailing comma in the label set".to_string()));
            }
            cursor.pos += 1;
            return Ok(());
        }
        parse_label(cursor, labels)?;
        cursor.skip_optional_space();
        match cursor.peek() {
            Some(b',') => {
                cursor.pos += 1;
                after_comma = true;
            }
            Some(b'}') => after_comma = false,
            None => {
                return Err(cursor.error("missing \"}\" at the end of the label set".to_string()))
            }
            Some(_) => {
                return Err(cursor.error(format!(
                    "expected \",\" or \"}}\" after a label, found \"{}\"",
                    cursor.quoted_token()
                )))
            }
        }
    }
}

/// Parses one `name="value"` pair and appends it to `labels`. Appending
/// here, instead of returning the pair, lets the compiler write the 64-byte
/// [`LabelRef`] once, where a returned `Result` was copied through the stack
/// at a cost of about a third of the label loop.
fn parse_label<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelRef<'a>>,
) -> Result<(), LineError> {
    let name_offset = cursor.pos;
    let name_len = label_name_len(cursor.rest());
    if name_len == 0 {
        return Err(cursor.error(format!("invalid label name \"{}\"", cursor.quoted_token())));
    }
    let name = &cursor.line[name_offset..name_offset + name_len];
    cursor.pos += name_len;
    cursor.skip_optional_space();
    if cursor.peek() != Some(b'=') {
        return Err(cursor.error(format!("missing \"=\" after label name \"{name}\"")));
    }
    cursor.pos += 1;
    cursor.skip_optional_space();
    if cursor.peek() != Some(b'"') {
        return Err(cursor.error(format!(
            "label \"{name}\" needs a double-quoted value, found \"{}\"",
            cursor.quoted_token()
        )));
    }
    cursor.pos += 1;
    let (text, escaped) = scan_quoted(cursor).ok_or_else(|| {
        LineError::new(
            name_offset,
            format!("unterminated value of label \"{name}\""),
        )
    })?;
    let value = if escaped {
        LabelValue::Escaped(text)
    } else {
        LabelValue::Plain(text)
    };
    labels.push(LabelRef {
        name,
        value,
        offset: name_offset,
    });
    Ok(())
}

/// Scans a label value up to its closing quote, which it consumes.
/// Returns the value as written and whether it contains a backslash.
fn scan_quoted<'a>(cursor: &mut Cursor<'a>) -> Option<(&'a str, bool)> {
    let start = cursor.pos;
    let bytes = cursor.line.as_bytes();
    // Most values are short (`"node"`, `"200"`), and for them a byte loop
    // is faster than setting up a SIMD search.
    let short_end = bytes.len().min(start + 16);
    let mut i = start;
    while i < short_end {
        match bytes[i] {
            b'"' => {
                cursor.pos = i + 1;
                return Some((&cursor.line[start..i], false));
            }
            b'\\' => break,
            _ => i += 1,
        }
    }
    let mut escaped = false;
    loop {
        let offset = memchr::memchr2(b'"', b'\\', &bytes[i..])?;
        i += offset;
        if bytes[i] == b'"' {
            break;
        }
        escaped = true;
        // A backslash escapes the next byte; a backslash at the end of the
        // line leaves the value unterminated.
        i += 2;
        if i > bytes.len() {
            return None;
        }
    }
    cursor.pos = i + 1;
    Some((&cursor.line[start..i], escaped))
}

/// A metadata or comment line.
#[derive(Debug, PartialEq)]
pub(crate) enum Comment<'a> {
    Help {
        name: &'a str,
        text: &'a str,
    },
    Type {
        name: &'a str,
        kind: &'a str,
        kind_offset: usize,
    },
    Unit {
        name: &'a str,
        unit: &'a str,
    },
    Eof,
    /// A comment that carries no metadata (text 0.0.4 only).
    Other,
}

/// Parses a line that starts with `#`. `hint` is a metric name met
/// recently, which the line's name is compared with before it is scanned.
pub(crate) fn parse_comment<'a>(
    line: &'a str,
    format: Format,
    hint: &[u8],
) -> Result<Comment<'a>, LineError> {
    match format {
        Format::OpenMetrics => parse_openmetrics_comment(line, hint),
        Format::Text => parse_text_comment(line, hint),
    }
}

fn parse_openmetrics_comment<'a>(line: &'a str, hint: &[u8]) -> Result<Comment<'a>, LineError> {
    if line == "# EOF" {
        return Ok(Comment::Eof);
    }
    let keyword = ["# HELP ", "# TYPE ", "# UNIT "]
        .into_iter()
        .find(|k| line.starts_with(k))
        .ok_or_else(|| {
            LineError::new(
                0,
                format!(
                    "invalid comment \"{}\": OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF",
                    &line[..char_boundary_at_most(line, 40)]
                ),
            )
        })?;
    let start = keyword.len();
    let name_len = metric_name_len_hinted(&line.as_bytes()[start..], hint);
    if name_len == 0 {
        return Err(LineError::new(
            start,
            format!("invalid metric name \"{}\"", token_at(line, start)),
        ));
    }
    let name = &line[start..start + name_len];
    let after = start + name_len;
    if line.as_bytes().get(after) != Some(&b' ') {
        return Err(LineError::new(
            after,
            format!("expected a space after \"{name}\""),
        ));
    }
    let rest = &line[after + 1..];
    Ok(match &keyword[2..6] {
        "HELP" => Comment::Help { name, text: rest },
        "TYPE" => Comment::Type {
            name,
            kind: rest,
            kind_offset: after + 1,
        },
        _ => Comment::Unit { name, unit: rest },
    })
}

fn trim_blanks_start(text: &str) -> &str {
    let blanks = text
        .bytes()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &text[blanks..]
}

fn parse_text_comment<'a>(line: &'a str, hint: &[u8]) -> Result<Comment<'a>, LineError> {
    if let Some(comment) = parse_single_spaced_metadata(line, hint) {
        return Ok(comment);
    }
    parse_blank_separated_comment(line, hint)
}

/// Parses a text 0.0.4 comment line, skipping any run of blanks around its
/// keyword and name.
fn parse_blank_separated_comment<'a>(line: &'a str, hint: &[u8]) -> Result<Comment<'a>, LineError> {
    let after_hash = trim_blanks_start(&line[1..]);
    let bytes = after_hash.as_bytes();
    let keyword = match bytes.first_chunk::<4>() {
        Some(b"HELP") => "HELP",
        Some(b"TYPE") => "TYPE",
        _ => return Ok(Comment::Other),
    };
    if !matches!(bytes.get(4), Some(b' ' | b'\t')) {
        return Ok(Comment::Other);
    }
    let rest = trim_blanks_start(&after_hash[4..]);
    let start = line.len() - rest.len();
    let name_len = metric_name_len_hinted(rest.as_bytes(), hint);
    if name_len == 0 {
        return Err(LineError::new(
            start,
            format!("invalid metric name \"{}\"", token_at(line, start)),
        ));
    }
    let name = &rest[..name_len];
    let after_name = &rest[name_len..];
    if !after_name.is_empty() && !after_name.starts_with([' ', '\t']) {
        return Err(LineError::new(
            start + name_len,
            format!("invalid metric name \"{}\"", token_at(line, start)),
        ));
    }
    let text = trim_blanks_start(after_name);
    if keyword == "HELP" {
        return Ok(Comment::Help { name, text });
    }
    Ok(Comment::Type {
        name,
        kind: text.trim_end_matches([' ', '\t']),
        kind_offset: line.len() - text.len(),
    })
}

/// Parses `# HELP name text` and `# TYPE name kind` written with one space
/// between tokens, as exporters write them, without the blank skipping of
/// the general path. These lines are 45% of node_exporter's body. Returns
/// `None` for every other form, which [`parse_blank_separated_comment`]
/// then reads, and otherwise the comment that it would return.
fn parse_single_spaced_metadata<'a>(line: &'a str, hint: &[u8]) -> Option<Comment<'a>> {
    const PREFIX_LEN: usize = "# HELP ".len();
    let bytes = line.as_bytes();
    let is_help = match bytes.first_chunk::<PREFIX_LEN>()? {
        b"# HELP " => true,
        b"# TYPE " => false,
        _ => return None,
    };
    // 0 also when the name starts with a blank, which the general path skips.
    let name_len = metric_name_len_hinted(&bytes[PREFIX_LEN..], hint);
    if name_len == 0 {
        return None;
    }
    let name_end = PREFIX_LEN + name_len;
    let text_start = match bytes.get(name_end) {
        None => name_end,
        Some(b' ') if !matches!(bytes.get(name_end + 1), Some(b' ' | b'\t')) => name_end + 1,
        Some(_) => return None,
    };
    let name = &line[PREFIX_LEN..name_end];
    let text = &line[text_start..];
    if is_help {
        return Some(Comment::Help { name, text });
    }
    Some(Comment::Type {
        name,
        kind: text.trim_end_matches([' ', '\t']),
        kind_offset: text_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branchless_name_test_matches_table() {
        for b in 0..=255u8 {
            assert_eq!(
                is_name_byte_branchless(b),
                NAME_BYTES[usize::from(b)],
                "byte {b}"
            );
        }
    }

    #[test]
    fn name_len_stops_at_invalid_byte() {
        assert_eq!(metric_name_len(b"abc-def{x=\"1\"} 1"), 3);
    }

    #[test]
    fn name_len_stops_at_brace() {
        assert_eq!(metric_name_len(b"a_b:c{x=\"1\"} 1"), 5);
    }

    #[test]
    fn name_len_takes_whole_input() {
        assert_eq!(metric_name_len(b"up"), 2);
    }

    /// Text comment lines, each with the hint that the line loop could pass.
    const TEXT_COMMENTS: [(&str, &str); 16] = [
        ("# HELP up Whether the target is up.", ""),
        ("# HELP up Whether the target is up.", "up"),
        ("# HELP up_total Counts \\ and \\n.", "up"),
        ("# HELP up", ""),
        ("# HELP up ", ""),
        ("# HELP up  two spaces", ""),
        ("# HELP up\ttab", ""),
        ("# HELP  up text", ""),
        ("# HELP up-down text", ""),
        ("# HELP 1up text", ""),
        ("# TYPE up gauge", "up"),
        ("# TYPE up gauge  ", ""),
        ("# TYPE up", ""),
        ("# TYPE up \tgauge", ""),
        ("#  TYPE up gauge", ""),
        ("# TYPEup gauge", ""),
    ];

    #[test]
    fn single_spaced_metadata_matches_general_path() {
        for (line, hint) in TEXT_COMMENTS {
            if let Some(fast) = parse_single_spaced_metadata(line, hint.as_bytes()) {
                let general = parse_blank_separated_comment(line, hint.as_bytes());
                assert_eq!(Some(fast), general.ok(), "line {line:?}, hint {hint:?}");
            }
        }
    }

    #[test]
    fn single_spaced_metadata_reads_exporter_lines() {
        let help = parse_single_spaced_metadata("# HELP up Whether it is up.", b"");
        assert_eq!(
            help,
            Some(Comment::Help {
                name: "up",
                text: "Whether it is up."
            })
        );
        let kind = parse_single_spaced_metadata("# TYPE up gauge", b"up");
        assert_eq!(
            kind,
            Some(Comment::Type {
                name: "up",
                kind: "gauge",
                kind_offset: 10
            })
        );
    }

    #[test]
    fn single_spaced_metadata_rejects_extra_blanks() {
        for line in [
            "# HELP  up text",
            "# HELP up  text",
            "# HELP up\ttext",
            "#  HELP up text",
        ] {
            assert_eq!(
                parse_single_spaced_metadata(line, b""),
                None,
                "line {line:?}"
            );
        }
    }

    #[test]
    fn name_len_rejects_leading_digit() {
        assert_eq!(metric_name_len(b"1up 1"), 0);
    }
}
