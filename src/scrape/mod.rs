//! Scraping of targets over HTTP.
//!
//! One [`Scraper`] contains the HTTP client shared by all targets. A scrape
//! either returns the parsed samples with the target's labels attached, or a
//! [`ScrapeError`] with the cause; the caller records `up = 0` and goes on.

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_ENCODING, CONTENT_TYPE};

use crate::config::Target;
use crate::exposition::{self, Format, LabelRef, LabelValue, ParseError, SampleRef, Visitor};
use crate::labels::{Labels, METRIC_NAME};

/// The `Accept` header: OpenMetrics 1.0 first, then text 0.0.4.
pub const ACCEPT_HEADER: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A failed scrape and its cause.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("target answered HTTP {status}; expected 2xx (body not parsed)")]
    Status { status: u16 },
    #[error("scrape timed out after {}; raise the target's `timeout` or check the server", humantime::format_duration(*.after))]
    Timeout { after: Duration },
    #[error("body exceeds the limit of {limit} bytes (read {read} bytes so far); raise `body_size_limit` or reduce the exposed series")]
    BodyTooLarge { limit: u64, read: u64 },
    #[error("line {line} is longer than the limit of {limit} bytes (read {read} bytes of it); raise `line_size_limit` or fix the exporter")]
    LineTooLong { line: usize, limit: u64, read: u64 },
    #[error("response uses Content-Encoding {encoding:?}, which was not requested; only gzip is accepted")]
    UnexpectedEncoding { encoding: String },
    #[error("body is not text: {what}")]
    NotText { what: &'static str },
    #[error("request failed: {0}")]
    Transport(String),
    #[error("no line of the body could be parsed as {format:?} exposition; first problem at {line}:{column}: {message} (is the URL the metrics endpoint?)")]
    Unparsable { format: Format, line: usize, column: usize, message: String },
}

/// A successful scrape.
#[derive(Debug)]
pub struct Scrape {
    /// Samples kept (their metric name is read by some rule), with the
    /// target's labels attached.
    pub samples: Vec<(Labels, f64, Option<i64>)>,
    /// Lines that failed to parse. The rest of the body is still used.
    pub errors: Vec<ParseError>,
    /// Samples in the body, before filtering.
    pub samples_scraped: usize,
    pub duplicates: usize,
    pub body_bytes: usize,
    pub format: Format,
    /// True when the content type named no format and the fallback was used.
    pub used_fallback: bool,
}

/// The outcome of one scrape with its duration.
#[derive(Debug)]
pub struct ScrapeOutcome {
    pub result: Result<Scrape, ScrapeError>,
    pub duration: Duration,
}

/// The HTTP client shared by all targets.
#[derive(Clone, Debug)]
pub struct Scraper {
    client: reqwest::Client,
}

impl Scraper {
    /// Builds the client: rustls, gzip decoding, no redirects beyond 5, a
    /// user agent naming andon's version.
    pub fn new() -> Result<Scraper, ScrapeError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("andon/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|err| ScrapeError::Transport(err.to_string()))?;
        Ok(Scraper { client })
    }

    /// Scrapes `target` once, keeping samples whose metric name `keep`
    /// accepts.
    pub async fn scrape(&self, target: &Target, keep: &dyn Fn(&str) -> bool) -> ScrapeOutcome {
        let started = Instant::now();
        let result = match tokio::time::timeout(target.timeout, self.fetch(target)).await {
            Ok(fetched) => fetched
                .map(|(body, format, used_fallback)| parse_body(target, &body, format, used_fallback, keep))
                .and_then(reject_unparsable),
            Err(_) => Err(ScrapeError::Timeout { after: target.timeout }),
        };
        ScrapeOutcome { result, duration: started.elapsed() }
    }

    /// Fetches the body, enforcing the status, encoding and size rules.
    async fn fetch(&self, target: &Target) -> Result<(Vec<u8>, Format, bool), ScrapeError> {
        let mut response = self
            .client
            .get(&target.url)
            .header(ACCEPT, ACCEPT_HEADER)
            .send()
            .await
            .map_err(|err| ScrapeError::Transport(error_chain(&err.without_url())))?;

        let status = response.status();
        if !status.is_success() {
            return Err(ScrapeError::Status { status: status.as_u16() });
        }

        // reqwest removes `Content-Encoding: gzip` once it decodes the body,
        // so any encoding still named here was not decoded.
        if let Some(encoding) = response.headers().get(CONTENT_ENCODING) {
            let encoding = String::from_utf8_lossy(encoding.as_bytes()).into_owned();
            if !encoding.eq_ignore_ascii_case("identity") {
                return Err(ScrapeError::UnexpectedEncoding { encoding });
            }
        }

        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let (format, used_fallback) = match exposition::format_from_content_type(content_type.as_deref()) {
            Some(format) => (format, false),
            None => (target.fallback_format, true),
        };

        let limit = target.body_size_limit;
        let mut lines = LineLimit::new(target.line_size_limit);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| ScrapeError::Transport(error_chain(&err.without_url())))?
        {
            let read = body.len() as u64 + chunk.len() as u64;
            if read > limit {
                return Err(ScrapeError::BodyTooLarge { limit, read });
            }
            lines.check(&chunk)?;
            body.extend_from_slice(&chunk);
        }
        check_text(&body)?;
        Ok((body, format, used_fallback))
    }
}

/// Tracks the length of the current line across chunks, so a body with one
/// huge line fails as soon as the line passes the limit.
struct LineLimit {
    limit: u64,
    line: usize,
    current: u64,
}

impl LineLimit {
    fn new(limit: u64) -> LineLimit {
        LineLimit { limit, line: 1, current: 0 }
    }

    fn check(&mut self, chunk: &[u8]) -> Result<(), ScrapeError> {
        let mut rest = chunk;
        while let Some(position) = rest.iter().position(|b| *b == b'\n') {
            self.current += position as u64;
            self.fail_if_long()?;
            self.line += 1;
            self.current = 0;
            rest = &rest[position + 1..];
        }
        self.current += rest.len() as u64;
        self.fail_if_long()
    }

    fn fail_if_long(&self) -> Result<(), ScrapeError> {
        if self.current > self.limit {
            return Err(ScrapeError::LineTooLong { line: self.line, limit: self.limit, read: self.current });
        }
        Ok(())
    }
}

/// Rejects bodies that are still compressed or binary, which would
/// otherwise show up as a confusing syntax error on line 1.
fn check_text(body: &[u8]) -> Result<(), ScrapeError> {
    if body.starts_with(&[0x1f, 0x8b]) {
        return Err(ScrapeError::NotText { what: "still gzip-compressed after decoding (compressed twice?)" });
    }
    let head = &body[..body.len().min(4096)];
    if head.contains(&0) {
        return Err(ScrapeError::NotText { what: "contains NUL bytes (binary data, perhaps protobuf)" });
    }
    Ok(())
}

/// Parses a fetched body and attaches the target's labels.
fn parse_body(
    target: &Target,
    body: &[u8],
    format: Format,
    used_fallback: bool,
    keep: &dyn Fn(&str) -> bool,
) -> Scrape {
    let read = read_samples(body, format, &target.labels, keep);
    let summary = read.summary;
    Scrape {
        samples_scraped: read.samples.len() + summary.filtered + summary.duplicates,
        samples: read.samples,
        errors: summary.errors,
        duplicates: summary.duplicates,
        body_bytes: body.len(),
        format,
        used_fallback,
    }
}

/// The samples of one body, with a target's labels attached.
#[derive(Debug)]
pub struct TargetSamples {
    pub samples: Vec<(Labels, f64, Option<i64>)>,
    /// Errors and counts of the pass over the body.
    pub summary: exposition::VisitSummary,
}

/// Reads the samples of `body` whose metric name `keep` accepts and
/// attaches `target_labels` to each, as [`attach_target_labels`] does.
///
/// Reads the body's borrowed samples directly, so each kept sample's owned
/// labels are built once, with the target's labels merged in.
pub fn read_samples(
    body: &[u8],
    format: Format,
    target_labels: &Labels,
    keep: &dyn Fn(&str) -> bool,
) -> TargetSamples {
    let mut collector = SampleCollector {
        target_labels,
        // A target label named `exported_<x>` can interact with the
        // renaming of a clashing label `x`. Such targets take the slower
        // path, which applies the labels one at a time.
        merge_in_order: target_labels.iter().all(|(name, _)| !name.starts_with("exported_")),
        samples: Vec::new(),
    };
    let summary = exposition::visit(body, format, keep, &mut collector);
    TargetSamples { samples: collector.samples, summary }
}

struct SampleCollector<'t> {
    target_labels: &'t Labels,
    merge_in_order: bool,
    samples: Vec<(Labels, f64, Option<i64>)>,
}

impl<'a> Visitor<'a> for SampleCollector<'_> {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        let labels = if self.merge_in_order {
            merge_target_labels(sample.name, sample.labels, self.target_labels)
        } else {
            attach_target_labels(exposition::owned_labels(sample.name, sample.labels), self.target_labels)
        };
        self.samples.push((labels, sample.value, sample.timestamp_ms));
    }
}

/// Builds a sample's owned labels with the target's labels merged in, in
/// one pass over both sorted lists. Gives the same result as
/// [`attach_target_labels`] when no target label name starts with
/// `exported_`.
fn merge_target_labels(name: &str, scraped: &[LabelRef<'_>], target_labels: &Labels) -> Labels {
    let mut pairs = Vec::with_capacity(scraped.len() + 1 + target_labels.len());
    let mut exported = Vec::new();
    let mut scraped = scraped_pairs(name, scraped).peekable();
    let mut target = target_labels.iter().filter(|(name, _)| *name != METRIC_NAME).peekable();
    loop {
        let order = match (scraped.peek(), target.peek()) {
            (Some((scraped_name, _)), Some((target_name, _))) => compare_names(scraped_name, target_name),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        match order {
            Ordering::Less => {
                if let Some((name, value)) = scraped.next() {
                    pairs.push((name.to_owned(), value.to_cow().into_owned()));
                }
            }
            Ordering::Greater => {
                if let Some((name, value)) = target.next() {
                    pairs.push((name.to_owned(), value.to_owned()));
                }
            }
            Ordering::Equal => {
                if let (Some((name, scraped_value)), Some((_, value))) = (scraped.next(), target.next()) {
                    let scraped_value = scraped_value.to_cow();
                    if scraped_value != value {
                        exported.push((format!("exported_{name}"), scraped_value.into_owned()));
                    }
                    pairs.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
    let mut labels = Labels::from_sorted_pairs(pairs);
    for (name, value) in exported {
        labels.set(name, value);
    }
    labels
}

/// Orders label names as `str::cmp` does, deciding on the first byte when
/// it differs, which avoids a call to `memcmp` for most pairs.
fn compare_names(a: &str, b: &str) -> Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Returns a sample's labels with its metric name as `__name__`, in name
/// order (the visitor hands labels sorted by name, without `__name__`).
fn scraped_pairs<'a, 's>(
    name: &'a str,
    labels: &'s [LabelRef<'a>],
) -> impl Iterator<Item = (&'a str, LabelValue<'a>)> + 's {
    let split = labels.partition_point(|label| label.name < METRIC_NAME);
    let (before, after) = labels.split_at(split);
    let pair = |label: &LabelRef<'a>| (label.name, label.value);
    before
        .iter()
        .map(pair)
        .chain(std::iter::once((METRIC_NAME, LabelValue::Plain(name))))
        .chain(after.iter().map(pair))
}

/// Fails a scrape in which not one sample could be read, such as an HTML
/// page at a wrong URL: a target that serves no metrics is down, not up
/// with parse errors.
fn reject_unparsable(scrape: Scrape) -> Result<Scrape, ScrapeError> {
    match scrape.errors.first() {
        Some(first) if scrape.samples_scraped == 0 => Err(ScrapeError::Unparsable {
            format: scrape.format,
            line: first.line,
            column: first.column,
            message: first.message.clone(),
        }),
        _ => Ok(scrape),
    }
}

/// Adds the target's labels to a scraped series. A scraped label that
/// clashes with a target label is kept as `exported_<name>`, as Prometheus
/// does without `honor_labels`.
pub fn attach_target_labels(mut labels: Labels, target_labels: &Labels) -> Labels {
    for (name, value) in target_labels.iter() {
        if name == METRIC_NAME {
            continue;
        }
        if let Some(scraped) = labels.get(name).map(str::to_owned) {
            if scraped != value {
                labels.set(format!("exported_{name}"), scraped);
            }
        }
        labels.set(name, value);
    }
    labels
}

/// Builds the labels every series of `target` carries: `job`, `instance` (the URL's
/// host and port unless set), and the configured ones.
pub fn target_labels(name: &str, url: &str, configured: &Labels) -> Labels {
    let mut labels = configured.clone();
    if labels.get("job").is_none() {
        labels.set("job", name);
    }
    if labels.get("instance").is_none() {
        if let Ok(parsed) = reqwest::Url::parse(url) {
            let host = parsed.host_str().unwrap_or_default();
            let instance = match parsed.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            labels.set("instance", instance);
        }
    }
    labels
}

/// Returns `url` with any password replaced by `<redacted>`, for logs.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("<redacted>"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Joins an error with its sources, so "connection refused" is not hidden
/// behind "error sending request".
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashing_label_is_exported() {
        let scraped = Labels::from_pairs([("__name__", "m"), ("job", "inner")]);
        let target = Labels::from_pairs([("job", "outer")]);
        let labels = attach_target_labels(scraped, &target);
        assert_eq!(labels.get("job"), Some("outer"));
        assert_eq!(labels.get("exported_job"), Some("inner"));
    }

    /// Reads `body` both ways: through the merged path and through the
    /// owned parse followed by `attach_target_labels`.
    fn both_ways(body: &str, target: &Labels) -> (Vec<Labels>, Vec<Labels>) {
        let keep_all = |_: &str| true;
        let merged = read_samples(body.as_bytes(), Format::Text, target, &keep_all);
        let owned = exposition::parse(body.as_bytes(), Format::Text, &keep_all);
        let merged = merged.samples.into_iter().map(|(labels, _, _)| labels).collect();
        let attached = owned
            .samples
            .into_iter()
            .map(|sample| attach_target_labels(sample.labels, target))
            .collect();
        (merged, attached)
    }

    #[test]
    fn merged_labels_match_attached_labels() {
        let target = Labels::from_pairs([("__name__", "ignored"), ("instance", "h:1"), ("job", "outer")]);
        let bodies = [
            "m 1\n",
            "m{a=\"1\",z=\"2\"} 1\n",
            "m{job=\"inner\"} 1\n",
            "m{job=\"outer\"} 1\n",
            "m{exported_job=\"old\",job=\"inner\"} 1\n",
            "m{instance=\"x\\\"y\",job=\"inner\"} 1\n",
            "A{B=\"1\",_=\"2\"} 1\n",
        ];
        for body in bodies {
            let (merged, attached) = both_ways(body, &target);
            assert_eq!(merged, attached, "{body}");
        }
    }

    #[test]
    fn exported_target_label_takes_attach_path() {
        let target = Labels::from_pairs([("exported_job", "t"), ("job", "outer")]);
        let (merged, attached) = both_ways("m{exported_job=\"s\",job=\"inner\"} 1\n", &target);
        assert_eq!(merged, attached);
    }

    #[test]
    fn instance_defaults_to_host_and_port() {
        let labels = target_labels("node", "http://127.0.0.1:9100/metrics", &Labels::new());
        assert_eq!(labels.get("instance"), Some("127.0.0.1:9100"));
        assert_eq!(labels.get("job"), Some("node"));
    }

    #[test]
    fn password_is_redacted() {
        assert_eq!(redact_url("http://u:secret@h:1/metrics"), "http://u:%3Credacted%3E@h:1/metrics");
    }

    #[test]
    fn double_gzip_is_not_text() {
        let err = check_text(&[0x1f, 0x8b, 8, 0]).unwrap_err();
        assert!(err.to_string().contains("gzip"), "{err}");
    }

    #[test]
    fn long_line_across_chunks_fails() {
        let mut lines = LineLimit::new(10);
        assert!(lines.check(b"short\nabcdef").is_ok());
        let err = lines.check(b"ghijk").unwrap_err();
        assert!(matches!(err, ScrapeError::LineTooLong { line: 2, limit: 10, read: 11 }), "{err}");
    }

    #[test]
    fn binary_body_is_not_text() {
        let err = check_text(b"abc\0def").unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }
}
