//! Reading and validating config and rule files.
//! TODO(skeleton): replaced by the full loader.
use std::fmt;
use std::path::Path;

use super::{Config, Rule};

/// One problem in a config or rule file.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Every problem found while loading.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{} error(s) in configuration", .0.len())]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Loads `path` and every rule file it names.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let _ = path;
    todo!()
}

/// Parses one rule file's text. `file` names it in errors.
pub fn load_rules_str(file: &Path, text: &str) -> Result<Vec<Rule>, ConfigErrors> {
    let _ = (file, text);
    todo!()
}

/// Renders every error, one per line.
pub fn render_errors(errors: &ConfigErrors) -> String {
    errors.0.iter().map(|e| format!("{e}\n")).collect()
}
