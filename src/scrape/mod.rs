//! Scraping of targets over HTTP.
//!
//! One [`Scraper`] contains the HTTP client shared by all targets. A scrape
//! has two steps: [`Scraper::fetch`] reads a target's body, which can run
//! for all targets at once, and [`store_body`] parses it into the store
//! through the target's [`SeriesCache`]. Either step can end in a
//! [`ScrapeError`] with the cause; the caller records `up = 0` and goes on.

mod cache;
mod labels;

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_ENCODING, CONTENT_TYPE};

use crate::config::Target;
use crate::exposition::{self, Format, ParseError};
use crate::store::Store;

pub use cache::{Ingested, SeriesCache};
pub use labels::{attach_target_labels, target_labels};

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
    /// Samples stored (their metric name is read by some rule).
    pub samples_kept: usize,
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

    /// Fetches the body of `target` once, within the target's timeout, and
    /// returns it with the time taken.
    pub async fn fetch(&self, target: &Target) -> (Result<Fetched, ScrapeError>, Duration) {
        let started = Instant::now();
        let result = match tokio::time::timeout(target.timeout, self.fetch_body(target)).await {
            Ok(fetched) => fetched,
            Err(_) => Err(ScrapeError::Timeout { after: target.timeout }),
        };
        (result, started.elapsed())
    }

    /// Scrapes `target` once into `store`: [`fetch`](Scraper::fetch), then
    /// [`store_body`], or [`SeriesCache::fail`] when either fails.
    pub async fn scrape_into(
        &self,
        target: &Target,
        keep: &dyn Fn(&str) -> bool,
        cache: &mut SeriesCache,
        store: &mut Store,
        at_ms: i64,
    ) -> ScrapeOutcome {
        let (fetched, fetch_time) = self.fetch(target).await;
        let started = Instant::now();
        let result = fetched.and_then(|fetched| store_body(target, &fetched, keep, cache, store, at_ms));
        if result.is_err() {
            cache.fail(store, at_ms);
        }
        ScrapeOutcome { result, duration: fetch_time + started.elapsed() }
    }

    /// Fetches the body, enforcing the status, encoding and size rules.
    async fn fetch_body(&self, target: &Target) -> Result<Fetched, ScrapeError> {
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
        Ok(Fetched { body, format, used_fallback })
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

/// A body read from a target, not parsed yet.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The format the content type names, or the target's fallback.
    pub format: Format,
    /// True when the content type named no format and the fallback was used.
    pub used_fallback: bool,
}

/// Parses a fetched body into `store` through the target's `cache`,
/// keeping the samples whose metric name `keep` accepts. A body in which
/// no line parses fails the scrape; its series are then stale already.
pub fn store_body(
    target: &Target,
    fetched: &Fetched,
    keep: &dyn Fn(&str) -> bool,
    cache: &mut SeriesCache,
    store: &mut Store,
    at_ms: i64,
) -> Result<Scrape, ScrapeError> {
    let ingested = cache.ingest(&fetched.body, fetched.format, &target.labels, keep, store, at_ms);
    let summary = ingested.summary;
    reject_unparsable(Scrape {
        samples_scraped: ingested.kept + summary.filtered + summary.duplicates,
        samples_kept: ingested.kept,
        errors: summary.errors,
        duplicates: summary.duplicates,
        body_bytes: fetched.body.len(),
        format: fetched.format,
        used_fallback: fetched.used_fallback,
    })
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
    use crate::labels::Labels;

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
