//! Borrowed label pairs that the visitor hands out without copying.

use std::borrow::Cow;

use super::number::CanonicalFloat;

/// One label of a sample, borrowed from the body.
#[derive(Clone, Copy, Debug)]
pub struct LabelRef<'a> {
    pub name: &'a str,
    pub value: LabelValue<'a>,
    /// 0-based byte offset of the label name in its line.
    pub(crate) offset: usize,
}

/// A label value as the body wrote it; [`LabelValue::to_cow`] and
/// [`LabelValue::for_each_chunk`] resolve escapes on demand.
#[derive(Clone, Copy, Debug)]
pub enum LabelValue<'a> {
    /// Text without any backslash, used as it is.
    Plain(&'a str),
    /// Text that still contains backslash escapes: `\\`, `\"` and `\n`
    /// stand for a backslash, a double quote and a newline. A backslash
    /// before any other character is kept as it is, as Prometheus does.
    Escaped(&'a str),
    /// An `le` or `quantile` bound rewritten in canonical form.
    Canonical(CanonicalFloat),
}

impl<'a> LabelValue<'a> {
    /// Calls `f` with consecutive pieces of the unescaped value.
    pub fn for_each_chunk(&self, mut f: impl FnMut(&str)) {
        match self {
            LabelValue::Plain(text) => f(text),
            LabelValue::Canonical(number) => f(number.as_str()),
            LabelValue::Escaped(text) => unescape_chunks(text, &mut f),
        }
    }

    /// Returns the unescaped value, borrowed when it has no escapes.
    pub fn to_cow(&self) -> Cow<'a, str> {
        match self {
            LabelValue::Plain(text) => Cow::Borrowed(text),
            _ => {
                let mut out = String::new();
                self.for_each_chunk(|chunk| out.push_str(chunk));
                Cow::Owned(out)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            LabelValue::Plain(text) | LabelValue::Escaped(text) => text.is_empty(),
            LabelValue::Canonical(_) => false,
        }
    }

    /// Returns the number of Unicode scalar values after unescaping.
    pub(crate) fn char_count(&self) -> usize {
        let mut count = 0;
        self.for_each_chunk(|chunk| count += chunk.chars().count());
        count
    }
}

fn unescape_chunks(text: &str, f: &mut impl FnMut(&str)) {
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        f(&rest[..i]);
        let replacement = match rest.as_bytes().get(i + 1) {
            Some(b'\\') => "\\",
            Some(b'"') => "\"",
            Some(b'n') => "\n",
            // Unknown escape: keep the backslash, and let the next piece
            // start at the character after it.
            _ => {
                f("\\");
                rest = &rest[i + 1..];
                continue;
            }
        };
        f(replacement);
        rest = &rest[i + 2..];
    }
    f(rest);
}

/// Unescapes `# HELP` text: `\\` and `\n` in both formats, and `\"` in
/// OpenMetrics too. A backslash before any other character is kept.
pub(crate) fn unescape_help(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_value_resolves_known_escapes() {
        let value = LabelValue::Escaped(r#"a\"b\\c\nd\ze"#);
        assert_eq!(value.to_cow(), "a\"b\\c\nd\\ze");
    }

    #[test]
    fn escaped_backslash_at_end_resolves() {
        assert_eq!(LabelValue::Escaped(r"F:\\").to_cow(), "F:\\");
    }

    #[test]
    fn help_unescape_keeps_quote_escape_in_text_format() {
        assert_eq!(unescape_help(r#"a\"b\\c\n"#, false), "a\\\"b\\c\n");
        assert_eq!(unescape_help(r#"a\"b"#, true), "a\"b");
    }
}
