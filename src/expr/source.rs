//! Positions in expression source text. `promql-parser` 0.11 keeps no
//! positions in its syntax tree nor in its error messages, so errors are
//! located by scanning the source: string literals and comments are skipped.

/// Returns the byte offset of the first call of `name`: the identifier
/// followed by optional whitespace and `(`.
pub fn position_of_call(source: &str, name: &str) -> Option<usize> {
    identifiers(source).into_iter().find_map(|(start, end)| {
        let followed_by_paren = source[end..].trim_start().starts_with('(');
        (&source[start..end] == name && followed_by_paren).then_some(start)
    })
}

/// Guesses the byte offset of a syntax error from the parser's message: a
/// function or a regex named in the message, the first call of an unknown
/// function, or an unbalanced bracket.
pub fn position_of_error(source: &str, message: &str) -> Option<usize> {
    if let Some(name) = quoted_function(message) {
        if let Some(position) = position_of_call(source, name) {
            return Some(position);
        }
    }
    if let Some(pattern) = message.strip_prefix("illegal regex for ") {
        if let Some(position) = position_of_string(source, pattern) {
            return Some(position);
        }
    }
    if let Some(position) = unknown_function(source) {
        return Some(position);
    }
    unbalanced_bracket(source)
}

/// Extracts `x` from the parser's `function "x"`, `function 'x'` or
/// `function with name 'x'`.
fn quoted_function(message: &str) -> Option<&str> {
    for prefix in ["function \"", "function '", "function with name '"] {
        if let Some(start) = message.find(prefix) {
            let rest = &message[start + prefix.len()..];
            let end = rest.find(['"', '\''])?;
            return Some(&rest[..end]);
        }
    }
    None
}

/// The offset of the first string literal with exactly this content, in
/// any of PromQL's three quotes.
fn position_of_string(source: &str, content: &str) -> Option<usize> {
    ['"', '\'', '`'].iter().find_map(|quote| source.find(&format!("{quote}{content}{quote}")))
}

/// The first identifier followed by `(` that is neither a known function,
/// an aggregation nor a keyword that takes a label list.
fn unknown_function(source: &str) -> Option<usize> {
    const KEYWORDS: &[&str] = &[
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "sum", "avg",
        "min", "max", "count", "count_values", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "limitk",
        "limit_ratio", "start", "end", "atan2", "offset", "fill", "fill_left", "fill_right",
    ];
    identifiers(source).into_iter().find_map(|(start, end)| {
        let word = &source[start..end];
        let followed_by_paren = source[end..].trim_start().starts_with('(');
        let known = KEYWORDS.contains(&word) || super::functions::is_prometheus_function(word);
        (followed_by_paren && !known).then_some(start)
    })
}

/// The offset of the first closing bracket without an opening one, or of
/// the last opening bracket left unclosed.
fn unbalanced_bracket(source: &str) -> Option<usize> {
    let mut open: Vec<(usize, char)> = Vec::new();
    for (position, c) in code_chars(source) {
        match c {
            '(' | '[' | '{' => open.push((position, c)),
            ')' | ']' | '}' => {
                let expected = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((_, o)) if o == expected => {}
                    _ => return Some(position),
                }
            }
            _ => {}
        }
    }
    open.last().map(|&(position, _)| position)
}

/// The `(start, end)` byte ranges of identifiers outside strings, comments
/// and label matchers.
fn identifiers(source: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut start: Option<usize> = None;
    let mut brace_depth = 0usize;
    let mut previous_end = 0usize;
    for (position, c) in code_chars(source) {
        let word_char = c.is_ascii_alphanumeric() || c == '_' || c == ':';
        // A gap in the positions means a skipped string or comment, which
        // ends any identifier.
        if let Some(s) = start {
            if !word_char || position != previous_end {
                found.push((s, previous_end));
                start = None;
            }
        }
        match c {
            '{' => brace_depth += 1,
            '}' => brace_depth = brace_depth.saturating_sub(1),
            _ => {}
        }
        let starts_word = start.is_none() && (c.is_ascii_alphabetic() || c == '_' || c == ':');
        let after_digit = source[..position].chars().next_back().is_some_and(|p| p.is_ascii_alphanumeric() || p == '.');
        if starts_word && brace_depth == 0 && !(after_digit && position == previous_end) {
            start = Some(position);
        }
        previous_end = position + c.len_utf8();
    }
    if let Some(s) = start {
        found.push((s, previous_end));
    }
    found
}

/// Characters outside string literals and `#` comments, with their offsets.
fn code_chars(source: &str) -> Vec<(usize, char)> {
    let mut out = Vec::with_capacity(source.len());
    let mut chars = source.char_indices().peekable();
    while let Some((position, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => skip_string(&mut chars, c),
            '#' => {
                for (_, next) in chars.by_ref() {
                    if next == '\n' {
                        break;
                    }
                }
            }
            _ => out.push((position, c)),
        }
    }
    out
}

fn skip_string(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, quote: char) {
    while let Some((_, c)) = chars.next() {
        if c == '\\' && quote != '`' {
            chars.next();
        } else if c == quote {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_position_skips_strings() {
        let source = r#"label_replace(up, "x", "holt_winters(", "", "") + holt_winters(x[5m], 0.1, 0.1)"#;
        assert_eq!(position_of_call(source, "holt_winters"), Some(50));
    }

    #[test]
    fn call_position_ignores_metric_names() {
        assert_eq!(position_of_call("info + info (x)", "info"), Some(7));
    }

    #[test]
    fn unbalanced_paren_is_located() {
        assert_eq!(position_of_error("sum(rate(x[5m])", "invalid promql query"), Some(3));
    }

    #[test]
    fn stray_closing_paren_is_located() {
        assert_eq!(position_of_error("rate(x[5m]))", "invalid promql query"), Some(11));
    }

    #[test]
    fn function_in_type_error_is_located() {
        let message = "expected type matrix in call to function 'rate', got vector";
        assert_eq!(position_of_error("1 + rate(x)", message), Some(4));
    }

    #[test]
    fn removed_function_is_located() {
        let message = "unknown function with name 'holt_winters'";
        assert_eq!(position_of_error("x + holt_winters(x[5m], 0.5, 0.5)", message), Some(4));
    }

    #[test]
    fn invalid_regex_is_located() {
        assert_eq!(position_of_error(r#"x{a=~"("}"#, "illegal regex for ("), Some(5));
    }

    #[test]
    fn unknown_function_is_located() {
        assert_eq!(position_of_error("1 + nosuchfn(x)", "unknown function"), Some(4));
    }
}
