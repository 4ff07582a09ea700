//! The sections of the main config file: `[global]`, `[[target]]`,
//! `[[receiver]]` and `[[route]]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;

use super::document::{closest, Checker, Pair, Section};
use super::secrets::{expand_env, parse_headers_file, EnvLookup};
use super::{Global, Receiver, ReceiverKind, Route, Target};
use crate::engine::Tier;
use crate::exposition::Format;
use crate::labels::Labels;

const ROOT_KEYS: &[&str] = &["global", "target", "receiver", "route"];
const GLOBAL_KEYS: &[&str] = &[
    "scrape_interval",
    "evaluation_interval",
    "scrape_timeout",
    "body_size_limit",
    "listen",
    "external_url",
    "target_down_after",
    "rule_files",
];
const TARGET_KEYS: &[&str] = &[
    "name",
    "url",
    "labels",
    "timeout",
    "body_size_limit",
    "line_size_limit",
    "fallback_format",
];
const WEBHOOK_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "url_file",
    "headers",
    "headers_file",
    "timeout",
];
const STDOUT_KEYS: &[&str] = &["name", "kind"];
const ROUTE_KEYS: &[&str] = &["tiers", "matchers", "receivers"];

pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// 16 MiB: far above any sane `/metrics` page, low enough that a runaway
/// exporter cannot exhaust the sidecar's memory.
pub const DEFAULT_BODY_SIZE_LIMIT: u64 = 16 << 20;
/// Default maximum length of one line of a scrape body: 1 MiB.
pub const DEFAULT_LINE_SIZE_LIMIT: u64 = 1 << 20;
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9071";
pub const DEFAULT_TARGET_DOWN_AFTER: Duration = Duration::from_secs(30);
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything read from the main file, plus the rule file entries still to
/// be read, each with the offset of its entry for errors.
pub(crate) struct MainFile {
    pub global: Global,
    pub targets: Vec<Target>,
    pub receivers: Vec<Receiver>,
    pub routes: Vec<Route>,
    pub rule_files: Vec<(PathBuf, usize)>,
}

/// Validates the main file's sections. `dir` is the config file's folder,
/// against which file paths are resolved.
pub(crate) fn check_main(
    checker: &mut Checker<'_>,
    root: Section<'_>,
    dir: &Path,
    env: EnvLookup<'_>,
) -> MainFile {
    check_root_keys(checker, root);
    let (global, rule_files) = global(checker, root);

    let target_sections = checker.tables(root, "target", "[[target]]");
    if target_sections.is_empty() && checker.field(root, "target").is_none() {
        checker.error_at(
            0,
            "no [[target]] section: add one with name and url to scrape",
        );
    }
    let mut targets = Vec::new();
    let mut seen = Names::default();
    for section in target_sections {
        let unique = seen.insert_entry(checker, section, "target");
        if let Some((target, _)) = target(checker, section, &global) {
            if unique {
                targets.push(target);
            }
        }
    }

    let mut receivers = Vec::new();
    let mut seen = Names::default();
    for section in checker.tables(root, "receiver", "[[receiver]]") {
        let unique = seen.insert_entry(checker, section, "receiver");
        if let Some((receiver, _)) = receiver(checker, section, dir, env) {
            if unique {
                receivers.push(receiver);
            }
        }
    }

    // Routes are checked against every declared receiver name, including
    // receivers with errors of their own, so one bad field is not reported
    // a second time as an unknown receiver.
    let receiver_names: Vec<&str> = seen.0.iter().map(|(name, _)| name.as_str()).collect();
    let mut routes = Vec::new();
    for section in checker.tables(root, "route", "[[route]]") {
        if let Some(route) = route(checker, section, &receiver_names) {
            routes.push(route);
        }
    }

    MainFile {
        global,
        targets,
        receivers,
        routes,
        rule_files,
    }
}

/// Reports unknown top-level keys, with a precise hint for the two common
/// misplacements: a `[global]` key above the `[global]` header, and rules
/// written into the main file.
fn check_root_keys(checker: &mut Checker<'_>, root: Section<'_>) {
    for (name, _) in root.table.iter() {
        if ROOT_KEYS.contains(&name) {
            continue;
        }
        let Some(field) = checker.field(root, name) else {
            continue;
        };
        if GLOBAL_KEYS.contains(&name) {
            checker.error_at(
                field.key_start,
                format!("\"{name}\" belongs in [global]: move it below the [global] header"),
            );
        } else if name == "rule" {
            checker.error_at(
                field.key_start,
                "[[rule]] sections belong in a rule file: move them to one and list it in [global] rule_files",
            );
        } else {
            checker.unknown_key(root, name, ROOT_KEYS);
        }
    }
}

/// Names already defined in one namespace, with the line of each.
#[derive(Default)]
pub(crate) struct Names(Vec<(String, usize)>);

impl Names {
    /// Records the `name` of a table entry; reports it and returns false
    /// when it is taken. A missing or non-string name is left for the
    /// entry's own checks to report.
    pub fn insert_entry(
        &mut self,
        checker: &mut Checker<'_>,
        section: Section<'_>,
        what: &str,
    ) -> bool {
        let Some(field) = checker.field(section, "name") else {
            return true;
        };
        let Some(name) = field.item.as_str() else {
            return true;
        };
        self.insert(checker, what, name, field.value_start)
    }

    /// Records `name`; reports it and returns false when it is taken.
    pub fn insert(
        &mut self,
        checker: &mut Checker<'_>,
        what: &str,
        name: &str,
        start: usize,
    ) -> bool {
        if let Some((_, first)) = self.0.iter().find(|(n, _)| n == name) {
            let (line, _) = checker.source.position(*first);
            checker.error_at(
                start,
                format!("duplicate {what} name \"{name}\": it is already defined on line {line}; rename one of them"),
            );
            return false;
        }
        self.0.push((name.to_string(), start));
        true
    }
}

fn global(checker: &mut Checker<'_>, root: Section<'_>) -> (Global, Vec<(PathBuf, usize)>) {
    let section = checker.table(root, "global", "[global]");
    if let Some(section) = section {
        checker.check_keys(section, GLOBAL_KEYS);
    }
    let duration = |checker: &mut Checker<'_>, name: &str| {
        section.and_then(|s| checker.positive_duration(s, name))
    };

    let scrape_interval =
        duration(checker, "scrape_interval").map_or(DEFAULT_SCRAPE_INTERVAL, |d| d.0);
    let evaluation_interval =
        duration(checker, "evaluation_interval").map_or(scrape_interval, |d| d.0);
    let scrape_timeout = match duration(checker, "scrape_timeout") {
        Some((timeout, start)) => {
            check_timeout(checker, timeout, start, scrape_interval);
            timeout
        }
        None => DEFAULT_SCRAPE_TIMEOUT.min(scrape_interval),
    };
    let target_down_after =
        duration(checker, "target_down_after").map_or(DEFAULT_TARGET_DOWN_AFTER, |d| d.0);
    let body_size_limit = section
        .and_then(|s| checker.size(s, "body_size_limit"))
        .map_or(DEFAULT_BODY_SIZE_LIMIT, |s| s.0);

    let listen = match section.and_then(|s| checker.string(s, "listen")) {
        Some((listen, start)) => {
            if listen.parse::<SocketAddr>().is_err() {
                checker.error_at(
                    start,
                    format!("invalid listen address \"{listen}\": write an IP address and port such as \"{DEFAULT_LISTEN}\""),
                );
            }
            listen
        }
        None => DEFAULT_LISTEN.to_string(),
    };
    let external_url = match section.and_then(|s| checker.string(s, "external_url")) {
        Some((url, start)) => {
            check_url(checker, &url, start, "external_url");
            url
        }
        None => format!("http://{listen}"),
    };
    let rule_files: Vec<(PathBuf, usize)> = section
        .and_then(|s| checker.strings(s, "rule_files"))
        .unwrap_or_default()
        .into_iter()
        .map(|(path, start)| (PathBuf::from(path), start))
        .collect();

    let global = Global {
        scrape_interval,
        evaluation_interval,
        scrape_timeout,
        body_size_limit,
        listen,
        external_url,
        target_down_after,
        rule_files: rule_files.iter().map(|(path, _)| path.clone()).collect(),
    };
    (global, rule_files)
}

/// Reports a scrape timeout longer than the interval, which would let
/// scrapes of one target overlap.
fn check_timeout(checker: &mut Checker<'_>, timeout: Duration, start: usize, interval: Duration) {
    if timeout > interval {
        checker.error_at(
            start,
            format!(
                "timeout \"{}\" is longer than scrape_interval \"{}\": make it at most the interval",
                humantime::format_duration(timeout),
                humantime::format_duration(interval)
            ),
        );
    }
}

/// Parses `text` as an http or https URL; reports it when invalid.
fn check_url(checker: &mut Checker<'_>, text: &str, start: usize, key: &str) -> Option<Url> {
    match parse_http_url(text) {
        Ok(url) => Some(url),
        Err(problem) => {
            checker.error_at(
                start,
                format!("invalid URL \"{text}\" for \"{key}\": {problem}; write a full URL such as \"http://127.0.0.1:8080/metrics\""),
            );
            None
        }
    }
}

fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| e.to_string())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "the scheme \"{}\" is not http or https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(String::from("it has no host"));
    }
    Ok(url)
}

fn target(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    global: &Global,
) -> Option<(Target, usize)> {
    checker.check_keys(section, TARGET_KEYS);
    let name = checker.required_name(section, "\"api\"");
    let title = match &name {
        Some((name, _)) => format!("[[target]] \"{name}\""),
        None => String::from("[[target]]"),
    };
    let section = Section {
        title: &title,
        ..section
    };
    let url = checker.required_string(section, "url", "\"http://127.0.0.1:8080/metrics\"");
    let parsed_url = url
        .as_ref()
        .and_then(|(url, start)| check_url(checker, url, *start, "url"));

    let mut labels = Labels::new();
    for pair in checker.string_map(section, "labels").unwrap_or_default() {
        if check_label_name(checker, &pair, &["job"]) {
            labels.set(pair.name, pair.value);
        }
    }
    if labels.get("instance").is_none() {
        if let Some(url) = &parsed_url {
            labels.set("instance", instance_of(url));
        }
    }

    let timeout = match checker.positive_duration(section, "timeout") {
        Some((timeout, start)) => {
            check_timeout(checker, timeout, start, global.scrape_interval);
            timeout
        }
        None => global.scrape_timeout,
    };
    let body_size_limit = checker
        .size(section, "body_size_limit")
        .map_or(global.body_size_limit, |s| s.0);
    let line_size_limit = checker
        .size(section, "line_size_limit")
        .map_or(DEFAULT_LINE_SIZE_LIMIT, |s| s.0);
    let fallback_format = match checker.string(section, "fallback_format") {
        Some((format, start)) => parse_format(checker, &format, start).unwrap_or(Format::Text),
        None => Format::Text,
    };

    let (name, name_start) = name?;
    let (url, _) = url?;
    parsed_url?;
    Some((
        Target {
            name,
            url,
            labels,
            timeout,
            body_size_limit,
            line_size_limit,
            fallback_format,
        },
        name_start,
    ))
}

/// Returns the `instance` label Prometheus gives a target: host and port.
fn instance_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn parse_format(checker: &mut Checker<'_>, format: &str, start: usize) -> Option<Format> {
    match format {
        "text" => Some(Format::Text),
        "openmetrics" => Some(Format::OpenMetrics),
        _ => {
            checker.error_at(
                start,
                format!("invalid fallback_format \"{format}\": use \"text\" or \"openmetrics\""),
            );
            None
        }
    }
}

/// Checks a label name: Prometheus syntax, not reserved (`__` prefix), and
/// not one of `taken`, which andon sets itself.
pub(crate) fn check_label_name(checker: &mut Checker<'_>, pair: &Pair, taken: &[&str]) -> bool {
    let name = pair.name.as_str();
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let problem = if !valid {
        "label names use letters, digits and underscores and do not start with a digit"
    } else if name.starts_with("__") {
        "names starting with \"__\" are reserved for internal use"
    } else if taken.contains(&name) {
        "andon sets this label itself"
    } else {
        return true;
    };
    checker.error_at(
        pair.key_start,
        format!("invalid label name \"{name}\": {problem}; rename it"),
    );
    false
}

fn receiver(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Option<(Receiver, usize)> {
    let name = checker.required_name(section, "\"oncall\"");
    let title = match &name {
        Some((name, _)) => format!("[[receiver]] \"{name}\""),
        None => String::from("[[receiver]]"),
    };
    let section = Section {
        title: &title,
        ..section
    };
    let kind = match checker.required_string(section, "kind", "\"webhook\"") {
        Some((kind, _)) if kind == "webhook" => {
            checker.check_keys(section, WEBHOOK_KEYS);
            webhook(checker, section, dir, env)
        }
        Some((kind, _)) if kind == "stdout" => {
            checker.check_keys(section, STDOUT_KEYS);
            Some(ReceiverKind::Stdout { origin_ms: None })
        }
        Some((kind, start)) => {
            checker.error_at(
                start,
                format!("unknown receiver kind \"{kind}\": use \"webhook\" or \"stdout\""),
            );
            checker.check_keys(section, WEBHOOK_KEYS);
            None
        }
        None => {
            checker.check_keys(section, WEBHOOK_KEYS);
            None
        }
    };
    let (name, name_start) = name?;
    Some((Receiver { name, kind: kind? }, name_start))
}

fn webhook(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Option<ReceiverKind> {
    let url = webhook_url(checker, section, dir, env);
    let mut headers = Vec::new();
    let mut complete = true;
    for pair in checker.string_map(section, "headers").unwrap_or_default() {
        match expand_env(&pair.value, env) {
            Ok(value) => {
                complete &= push_header(
                    checker,
                    &mut headers,
                    pair.name.clone(),
                    value,
                    pair.key_start,
                )
            }
            Err(problem) => {
                checker.error_at(
                    pair.value_start,
                    format!("header \"{}\": {problem}", pair.name),
                );
                complete = false;
            }
        }
    }
    if let Some((path, start)) = checker.string(section, "headers_file") {
        complete &= headers_from_file(checker, &mut headers, &dir.join(&path), &path, start);
    }
    let timeout = checker
        .positive_duration(section, "timeout")
        .map_or(DEFAULT_WEBHOOK_TIMEOUT, |t| t.0);
    if !complete {
        return None;
    }
    let url = url?;
    let has_credentials = reqwest::Url::parse(&url).is_ok_and(|u| !u.username().is_empty() || u.password().is_some());
    if has_credentials && headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization")) {
        // The URL's credentials become an Authorization header of their own,
        // so the request would carry two and the receiver may pick either.
        checker.error_at(
            section.start,
            format!("{} has credentials in its URL and an Authorization header: keep one", section.title),
        );
        return None;
    }
    Some(ReceiverKind::Webhook {
        url,
        headers,
        timeout,
    })
}

/// Reads the webhook URL from `url` (with `${ENV}` expanded) or from the
/// file named by `url_file`, since a Slack-style URL is itself a secret.
fn webhook_url(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Option<String> {
    let inline = checker.string(section, "url");
    let file = checker.string(section, "url_file");
    match (inline, file) {
        (Some(_), Some((_, start))) => {
            checker.error_at(
                start,
                format!(
                    "{} sets both \"url\" and \"url_file\": keep one",
                    section.title
                ),
            );
            None
        }
        (None, None) => {
            checker.missing(
                section,
                "url",
                "\"http://127.0.0.1:9095/alerts\" (or url_file = \"path\")",
            );
            None
        }
        (Some((raw, start)), None) if !raw.contains("${") => {
            check_url(checker, &raw, start, "url").map(|_| raw)
        }
        (Some((raw, start)), None) => match expand_env(&raw, env) {
            // The expanded URL may contain a secret, so the message quotes
            // only the URL as written in the file.
            Ok(url) => match parse_http_url(&url) {
                Ok(_) => Some(url),
                Err(problem) => {
                    checker.error_at(
                        start,
                        format!("invalid URL after expanding variables in \"{raw}\": {problem}"),
                    );
                    None
                }
            },
            Err(problem) => {
                checker.error_at(start, format!("\"url\": {problem}"));
                None
            }
        },
        (None, Some((path, start))) => {
            let text = read_secret_file(checker, &dir.join(&path), &path, start, "url_file")?;
            let url = text.trim().to_string();
            match parse_http_url(&url) {
                Ok(_) => Some(url),
                Err(problem) => {
                    checker.error_at(
                        start,
                        format!("the URL in url_file \"{path}\" is invalid: {problem}"),
                    );
                    None
                }
            }
        }
    }
}

fn read_secret_file(
    checker: &mut Checker<'_>,
    path: &Path,
    written: &str,
    start: usize,
    key: &str,
) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(error) => {
            checker.error_at(
                start,
                format!(
                    "cannot read {key} \"{written}\" (resolved to \"{}\"): {error}",
                    path.display()
                ),
            );
            None
        }
    }
}

fn headers_from_file(
    checker: &mut Checker<'_>,
    headers: &mut Vec<(String, String)>,
    path: &Path,
    written: &str,
    start: usize,
) -> bool {
    let Some(text) = read_secret_file(checker, path, written, start, "headers_file") else {
        return false;
    };
    match parse_headers_file(&text) {
        Ok(pairs) => pairs.into_iter().fold(true, |ok, (name, value)| {
            push_header(checker, headers, name, value, start) && ok
        }),
        Err((line, problem)) => {
            checker.error_at(
                start,
                format!("headers_file \"{written}\" line {line}: {problem}"),
            );
            false
        }
    }
}

/// Validates one header and adds it; the value is never quoted.
fn push_header(
    checker: &mut Checker<'_>,
    headers: &mut Vec<(String, String)>,
    name: String,
    value: String,
    start: usize,
) -> bool {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        checker.error_at(
            start,
            format!("invalid header name \"{name}\": use letters, digits and dashes"),
        );
        return false;
    }
    if HeaderValue::from_str(&value).is_err() {
        checker.error_at(
            start,
            format!("the value of header \"{name}\" contains a line break or control character: remove it"),
        );
        return false;
    }
    if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
        checker.error_at(start, format!("header \"{name}\" is set twice: keep one"));
        return false;
    }
    headers.push((name, value));
    true
}

fn route(checker: &mut Checker<'_>, section: Section<'_>, known: &[&str]) -> Option<Route> {
    checker.check_keys(section, ROUTE_KEYS);
    let mut complete = true;

    let mut tiers = Vec::new();
    for (name, start) in checker.strings(section, "tiers").unwrap_or_default() {
        match Tier::from_name(&name) {
            Some(tier) if tier != Tier::Ok => tiers.push(tier),
            Some(_) => {
                checker.error_at(start, "route tier \"ok\" is not allowed: list \"yellow\", \"red\" or \"emergency\"; a route for a tier also sends its return to ok");
                complete = false;
            }
            None => {
                let hint = closest(&name, &["yellow", "red", "emergency"])
                    .map(|best| format!("did you mean \"{best}\"? "))
                    .unwrap_or_default();
                checker.error_at(
                    start,
                    format!(
                        "unknown tier \"{name}\": {hint}use \"yellow\", \"red\" or \"emergency\""
                    ),
                );
                complete = false;
            }
        }
    }

    let mut matchers = Vec::new();
    for pair in checker.string_map(section, "matchers").unwrap_or_default() {
        if check_label_name(checker, &pair, &[]) {
            matchers.push((pair.name, pair.value));
        }
    }

    let receivers = route_receivers(checker, section, known);
    if !complete {
        return None;
    }
    Some(Route {
        tiers,
        matchers,
        receivers: receivers?,
    })
}

fn route_receivers(
    checker: &mut Checker<'_>,
    section: Section<'_>,
    known: &[&str],
) -> Option<Vec<String>> {
    if checker.field(section, "receivers").is_none() {
        checker.missing(section, "receivers", "[\"oncall\"]");
        return None;
    }
    let names = checker.strings(section, "receivers")?;
    if names.is_empty() {
        if let Some(field) = checker.field(section, "receivers") {
            checker.error_at(
                field.value_start,
                "\"receivers\" is empty: name at least one [[receiver]]",
            );
        }
        return None;
    }
    let mut complete = true;
    for (name, start) in &names {
        if !known.contains(&name.as_str()) {
            let hint = closest(name, known)
                .map(|best| format!("did you mean \"{best}\"? "))
                .unwrap_or_default();
            let defined = if known.is_empty() {
                String::from("none")
            } else {
                known.join(", ")
            };
            checker.error_at(
                *start,
                format!("unknown receiver \"{name}\": {hint}defined receivers are {defined}"),
            );
            complete = false;
        }
    }
    complete.then(|| names.into_iter().map(|(name, _)| name).collect())
}
