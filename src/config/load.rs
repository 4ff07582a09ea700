//! Reading and validating config and rule files.

use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::Document;

use super::document::{Checker, Section, Source};
use super::main_file::check_main;
use super::rule_file::check_rules;
use super::secrets::EnvLookup;
use super::{Config, Rule};

/// One problem in a config or rule file.
///
/// `line` and `column` are 1-based; the column counts characters. Both are
/// 0 when the problem concerns the whole file (it cannot be read).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every problem found while loading.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{} error(s) in configuration", .0.len())]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Counts of what a valid configuration defines, for `andon check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSummary {
    pub path: PathBuf,
    pub targets: usize,
    pub rules: usize,
    pub rule_files: usize,
    pub receivers: usize,
    pub routes: usize,
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: ok, {} from {}, {}, {}, {}",
            self.path.display(),
            plural(self.rules, "rule"),
            plural(self.rule_files, "rule file"),
            plural(self.targets, "target"),
            plural(self.receivers, "receiver"),
            plural(self.routes, "route"),
        )
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Loads `path` and every rule file it names. `${NAME}` references in
/// receiver settings read the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// Loads the config for `andon check` and counts what it defines.
pub fn check(path: &Path) -> Result<CheckSummary, ConfigErrors> {
    let config = load(path)?;
    Ok(CheckSummary {
        path: path.to_path_buf(),
        targets: config.targets.len(),
        rules: config.rules.len(),
        rule_files: config.global.rule_files.len(),
        receivers: config.receivers.len(),
        routes: config.routes.len(),
    })
}

/// [`load`] with an injectable environment, so tests need not change the
/// process environment.
pub(crate) fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    let source = read_source(path)?;
    let document = parse_document(&source)?;
    let mut checker = Checker::new(&source);
    let root = Section {
        table: document.as_table(),
        start: 0,
        title: "the config file",
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let main = check_main(&mut checker, root, dir, env);

    let mut rule_errors = Vec::new();
    let mut rules: Vec<(Rule, Position)> = Vec::new();
    let mut seen_files: Vec<PathBuf> = Vec::new();
    for (entry, start) in &main.rule_files {
        let resolved = dir.join(entry);
        if seen_files.contains(&resolved) {
            checker.error_at(
                *start,
                format!(
                    "rule file \"{}\" is listed twice: remove one entry",
                    entry.display()
                ),
            );
            continue;
        }
        seen_files.push(resolved.clone());
        let text = match std::fs::read_to_string(&resolved) {
            Ok(text) => text,
            Err(error) => {
                checker.error_at(
                    *start,
                    format!(
                        "cannot read rule file \"{}\" (resolved to \"{}\"): {error}; paths are relative to the folder of {}",
                        entry.display(),
                        resolved.display(),
                        source.name
                    ),
                );
                continue;
            }
        };
        let (file_rules, errors) = check_rule_text(&resolved, &text);
        rule_errors.extend(errors);
        for (rule, position) in file_rules {
            if let Some(error) = duplicate_across_files(&rules, &rule, &position) {
                rule_errors.push(error);
            } else {
                rules.push((rule, position));
            }
        }
    }

    // Errors of the main file in reading order, then each rule file's.
    let mut errors = checker.errors;
    errors.sort_by_key(|e| (e.line, e.column));
    errors.extend(rule_errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        path: path.to_path_buf(),
        global: main.global,
        targets: main.targets,
        receivers: main.receivers,
        routes: main.routes,
        rules: rules.into_iter().map(|(rule, _)| rule).collect(),
    })
}

/// The position of a rule's name, for duplicate reports across files.
struct Position {
    file: String,
    line: usize,
    column: usize,
}

fn duplicate_across_files(
    rules: &[(Rule, Position)],
    rule: &Rule,
    position: &Position,
) -> Option<ConfigError> {
    let (_, first) = rules.iter().find(|(r, _)| r.name == rule.name)?;
    Some(ConfigError {
        file: position.file.clone(),
        line: position.line,
        column: position.column,
        message: format!(
            "duplicate rule name \"{}\": it is already defined at {}:{}; rename one of them",
            rule.name, first.file, first.line
        ),
    })
}

/// Parses one rule file's text. `file` names it in errors and becomes each
/// rule's `source`.
pub fn load_rules_str(file: &Path, text: &str) -> Result<Vec<Rule>, ConfigErrors> {
    let (rules, errors) = check_rule_text(file, text);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(rules.into_iter().map(|(rule, _)| rule).collect())
}

fn check_rule_text(file: &Path, text: &str) -> (Vec<(Rule, Position)>, Vec<ConfigError>) {
    let source = Source::new(file.display().to_string(), text);
    let document = match parse_document(&source) {
        Ok(document) => document,
        Err(ConfigErrors(errors)) => return (Vec::new(), errors),
    };
    let mut checker = Checker::new(&source);
    let root = Section {
        table: document.as_table(),
        start: 0,
        title: "the rule file",
    };
    let rules = check_rules(&mut checker, root, file)
        .into_iter()
        .map(|(rule, start)| {
            let (line, column) = source.position(start);
            (
                rule,
                Position {
                    file: source.name.clone(),
                    line,
                    column,
                },
            )
        })
        .collect();
    let mut errors = checker.errors;
    errors.sort_by_key(|e| (e.line, e.column));
    (rules, errors)
}

fn read_source(path: &Path) -> Result<Source, ConfigErrors> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Source::new(name, text)),
        Err(error) => Err(ConfigErrors(vec![ConfigError {
            file: name,
            line: 0,
            column: 0,
            message: format!("cannot read the config file: {error}"),
        }])),
    }
}

/// Parses TOML syntax; the error points at the first syntax problem, since
/// nothing after it can be trusted.
fn parse_document(source: &Source) -> Result<Document<&str>, ConfigErrors> {
    Document::parse(source.text.as_str()).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let (line, column) = source.position(span.start);
        let found = if span.is_empty() {
            String::new()
        } else {
            format!(" at \"{}\"", source.excerpt(&span))
        };
        ConfigErrors(vec![ConfigError {
            file: source.name.clone(),
            line,
            column,
            message: format!("invalid TOML{found}: {}{}", error.message().trim_end(), yaml_hint(source)),
        }])
    })
}

/// A hint for a Prometheus YAML rule file given where andon's TOML belongs.
fn yaml_hint(source: &Source) -> &'static str {
    let yaml_name = source.name.ends_with(".yml") || source.name.ends_with(".yaml");
    let prometheus_rules = source.text.lines().any(|line| line.trim_start().starts_with("groups:"));
    if yaml_name || prometheus_rules {
        " (this looks like YAML: andon config and rule files are TOML; write each Prometheus alert as a [[rule]] with name, expr and tiers)"
    } else {
        ""
    }
}
