//! Secrets in receiver settings: `${ENV_VAR}` references and header files.
//! Error messages name the variable or header, never a value.

/// Looks up an environment variable; tests pass a fake.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Replaces every `${NAME}` in `text` with the variable's value. A `$` not
/// followed by `{` is kept as is.
pub(crate) fn expand_env(text: &str, env: EnvLookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(String::from("\"${\" is not closed: write ${NAME}"));
        };
        let name = &after[..end];
        if !is_env_name(name) {
            return Err(format!(
                "\"${{{name}}}\" is not a valid variable name: use letters, digits and underscores"
            ));
        }
        match env(name) {
            Some(value) => out.push_str(&value),
            None => {
                return Err(format!(
                    "environment variable \"{name}\" is not set: export it before starting andon"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a headers file: one `Name: value` per line; blank lines and lines
/// starting with `#` are skipped. The error carries the 1-based line number.
pub(crate) fn parse_headers_file(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut headers = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err((index + 1, String::from("expected \"Name: value\"")));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| String::from("s3cret"))
    }

    #[test]
    fn expand_replaces_variable() {
        assert_eq!(
            expand_env("Bearer ${TOKEN}", &fake_env),
            Ok(String::from("Bearer s3cret"))
        );
    }

    #[test]
    fn expand_keeps_lone_dollar() {
        assert_eq!(expand_env("a$b", &fake_env), Ok(String::from("a$b")));
    }

    #[test]
    fn expand_names_unset_variable() {
        let message = expand_env("${MISSING}", &fake_env).unwrap_err();
        assert!(message.contains("\"MISSING\" is not set"));
    }

    #[test]
    fn expand_rejects_unclosed_reference() {
        assert!(expand_env("${TOKEN", &fake_env).is_err());
    }

    #[test]
    fn headers_file_skips_comments() {
        let parsed = parse_headers_file("# token\nAuthorization: Bearer x\n\n");
        assert_eq!(
            parsed,
            Ok(vec![(
                String::from("Authorization"),
                String::from("Bearer x")
            )])
        );
    }

    #[test]
    fn headers_file_reports_line_without_colon() {
        assert_eq!(
            parse_headers_file("A: b\nbroken\n").map_err(|e| e.0),
            Err(2)
        );
    }
}
