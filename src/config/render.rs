//! Prints config errors the way rustc prints compile errors: position and
//! message, the source line, and a caret under the column.

use std::collections::HashMap;

use super::load::ConfigErrors;

/// Renders every error with its source line, read again from disk, and a
/// closing summary line.
pub fn render_errors(errors: &ConfigErrors) -> String {
    render_errors_with(errors, |file| std::fs::read_to_string(file).ok())
}

/// Renders errors with the source text that `read` returns for each file
/// name; a file it cannot return is shown without source lines.
pub fn render_errors_with(errors: &ConfigErrors, read: impl Fn(&str) -> Option<String>) -> String {
    let mut sources: HashMap<&str, Option<String>> = HashMap::new();
    let mut files: Vec<&str> = Vec::new();
    let mut out = String::new();
    for error in &errors.0 {
        if !files.contains(&error.file.as_str()) {
            files.push(&error.file);
        }
        out.push_str(&error.to_string());
        out.push('\n');
        let text = sources
            .entry(&error.file)
            .or_insert_with(|| read(&error.file));
        if let Some(line) = text.as_deref().and_then(|t| source_line(t, error.line)) {
            out.push_str(&snippet(line, error.line, error.column));
        }
    }
    out.push_str(&summary(errors.0.len(), &files));
    out
}

fn source_line(text: &str, line: usize) -> Option<&str> {
    let index = line.checked_sub(1)?;
    text.lines().nth(index)
}

/// Formats the gutter, the line and a caret. The caret's padding copies tabs from
/// the line so it lines up in any tab width.
fn snippet(line: &str, number: usize, column: usize) -> String {
    let gutter = " ".repeat(number.to_string().len());
    let padding: String = line
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{gutter} |\n{number} | {line}\n{gutter} | {padding}^\n")
}

fn summary(count: usize, files: &[&str]) -> String {
    let errors = if count == 1 {
        String::from("1 error")
    } else {
        format!("{count} errors")
    };
    format!("{errors} in {}\n", files.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    fn one_error(line: usize, column: usize) -> ConfigErrors {
        ConfigErrors(vec![ConfigError {
            file: String::from("andon.toml"),
            line,
            column,
            message: String::from("invalid duration \"15\""),
        }])
    }

    #[test]
    fn caret_sits_under_column() {
        let text = "[global]\nscrape_interval = \"15\"\n";
        let rendered = render_errors_with(&one_error(2, 19), |_| Some(text.to_string()));
        let expected = "andon.toml:2:19: invalid duration \"15\"\n  |\n2 | scrape_interval = \"15\"\n  |                   ^\n1 error in andon.toml\n";
        assert_eq!(rendered, expected);
    }

    #[test]
    fn unreadable_source_prints_message_only() {
        let rendered = render_errors_with(&one_error(2, 19), |_| None);
        assert_eq!(
            rendered,
            "andon.toml:2:19: invalid duration \"15\"\n1 error in andon.toml\n"
        );
    }

    #[test]
    fn caret_padding_keeps_tabs() {
        assert_eq!(snippet("\ta = 1", 3, 6), "  |\n3 | \ta = 1\n  | \t    ^\n");
    }
}
