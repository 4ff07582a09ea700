//! Scrapes of broken and hostile targets: each ends with a clear error or a
//! correct result, never a panic, a hang or unbounded memory.
//!
//! Each test starts a raw HTTP server on 127.0.0.1 that writes exactly the
//! bytes the case needs.

use std::io::Write as _;
use std::time::{Duration, Instant};

use andon::config::Target;
use andon::exposition::Format;
use andon::labels::Labels;
use andon::scrape::{ScrapeError, ScrapeOutcome, Scraper, SeriesCache};
use andon::store::Store;
use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the raw server does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Writes these bytes and closes.
    Respond(Vec<u8>),
    /// Writes headers, then one byte every 100 ms, forever.
    Trickle,
    /// Reads the request and never responds.
    Silent,
    /// Writes headers, then chunks of this many `a` bytes, forever.
    Endless(usize),
}

async fn serve(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, behaviour.clone()));
        }
    });
    format!("http://{address}/metrics")
}

async fn handle(mut stream: TcpStream, behaviour: Behaviour) {
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request).await;
    match behaviour {
        Behaviour::Respond(bytes) => {
            let _ = stream.write_all(&bytes).await;
        }
        Behaviour::Trickle => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\r\n").await;
            loop {
                if stream.write_all(b"a").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Behaviour::Silent => tokio::time::sleep(Duration::from_secs(3600)).await,
        Behaviour::Endless(chunk) => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\r\n").await;
            let bytes = vec![b'a'; chunk];
            while stream.write_all(&bytes).await.is_ok() {}
        }
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len()).into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(body).expect("gzip");
    encoder.finish().expect("gzip")
}

fn target(url: String) -> Target {
    Target {
        name: "t".into(),
        url,
        labels: Labels::from_pairs([("job", "t"), ("instance", "local")]),
        timeout: Duration::from_millis(500),
        body_size_limit: 64 * 1024,
        line_size_limit: 1 << 20,
        fallback_format: Format::Text,
    }
}

fn keep_all(_: &str) -> bool {
    true
}

/// Scrapes `target` once into a new store, at time 0.
async fn scrape(target: &Target) -> (ScrapeOutcome, Store) {
    let mut store = Store::new(60_000);
    let mut cache = SeriesCache::new();
    let scraper = Scraper::new().expect("client");
    let outcome = scraper.scrape_into(target, &keep_all, &mut cache, &mut store, 0).await;
    (outcome, store)
}

/// Returns the oldest value of every series in `store`, in the order of
/// their labels.
fn values(store: &Store) -> Vec<f64> {
    let mut series: Vec<_> = store.series_named(None).map(|(_, s)| (s.labels().clone(), s.samples()[0].1)).collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series.into_iter().map(|(_, value)| value).collect()
}

const TEXT: (&str, &str) = ("Content-Type", "text/plain; version=0.0.4");

#[tokio::test]
async fn not_found_names_status() {
    let body = br#"{"error":"not found"}"#;
    let url = serve(Behaviour::Respond(response("404 Not Found", &[("Content-Type", "application/json")], body))).await;
    let (outcome, _) = scrape(&target(url)).await;
    let err = outcome.result.expect_err("a 404 must fail");
    assert!(matches!(err, ScrapeError::Status { status: 404 }), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn oversized_body_stops_at_limit() {
    let url = serve(Behaviour::Endless(16 * 1024)).await;
    let (outcome, _) = scrape(&target(url)).await;
    let err = outcome.result.expect_err("an endless body must fail");
    match err {
        ScrapeError::BodyTooLarge { limit, read } => {
            assert_eq!(limit, 64 * 1024);
            // Reading stops within one chunk of the limit.
            assert!(read <= limit + 64 * 1024, "read {read} bytes");
        }
        other => panic!("expected BodyTooLarge, got {other}"),
    }
}

#[tokio::test]
async fn oversized_message_names_both_sizes() {
    let err = ScrapeError::BodyTooLarge { limit: 100, read: 150 };
    let message = err.to_string();
    assert!(message.contains("100"), "{message}");
    assert!(message.contains("150"), "{message}");
}

#[tokio::test]
async fn trickling_body_times_out() {
    let url = serve(Behaviour::Trickle).await;
    let started = Instant::now();
    let (outcome, _) = scrape(&target(url)).await;
    assert!(matches!(outcome.result, Err(ScrapeError::Timeout { .. })), "{:?}", outcome.result);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn silent_server_times_out() {
    let url = serve(Behaviour::Silent).await;
    let started = Instant::now();
    let (outcome, _) = scrape(&target(url)).await;
    assert!(matches!(outcome.result, Err(ScrapeError::Timeout { .. })), "{:?}", outcome.result);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn gzip_body_is_decoded_once() {
    let body = gzip(b"m{a=\"1\"} 42\n");
    let url = serve(Behaviour::Respond(response("200 OK", &[TEXT, ("Content-Encoding", "gzip")], &body))).await;
    let (outcome, store) = scrape(&target(url)).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(values(&store), vec![42.0]);
}

#[tokio::test]
async fn double_gzip_is_reported() {
    let body = gzip(&gzip(b"m 1\n"));
    let url = serve(Behaviour::Respond(response("200 OK", &[TEXT, ("Content-Encoding", "gzip")], &body))).await;
    let err = scrape(&target(url)).await.0.result.expect_err("must fail");
    assert!(matches!(err, ScrapeError::NotText { .. }), "{err}");
}

#[tokio::test]
async fn binary_body_is_reported() {
    let url = serve(Behaviour::Respond(response("200 OK", &[TEXT], b"\x0a\x05hello\x00\x01\x02"))).await;
    let err = scrape(&target(url)).await.0.result.expect_err("must fail");
    assert!(matches!(err, ScrapeError::NotText { .. }), "{err}");
}

#[tokio::test]
async fn unrequested_encoding_is_reported() {
    let url = serve(Behaviour::Respond(response("200 OK", &[TEXT, ("Content-Encoding", "br")], b"\x8b\x00\x80"))).await;
    let err = scrape(&target(url)).await.0.result.expect_err("must fail");
    assert!(matches!(err, ScrapeError::UnexpectedEncoding { .. }), "{err}");
}

#[tokio::test]
async fn crlf_and_missing_final_newline_parse() {
    let body = b"# TYPE m gauge\r\nm{a=\"1\"} 1\r\nm{a=\"2\"} 2";
    let url = serve(Behaviour::Respond(response("200 OK", &[TEXT], body))).await;
    let (outcome, store) = scrape(&target(url)).await;
    assert_eq!(outcome.result.expect("scrape").errors, vec![]);
    assert_eq!(values(&store), vec![1.0, 2.0]);
}

#[tokio::test]
async fn unknown_content_type_uses_fallback() {
    let url = serve(Behaviour::Respond(response("200 OK", &[("Content-Type", "text/html")], b"m 7\n"))).await;
    let (outcome, store) = scrape(&target(url)).await;
    let scrape = outcome.result.expect("scrape");
    assert!(scrape.used_fallback);
    assert_eq!(scrape.format, Format::Text);
    assert_eq!(values(&store), vec![7.0]);
}

#[tokio::test]
async fn long_line_names_both_sizes() {
    let mut body = b"m 1\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 2000));
    let url = serve(Behaviour::Respond(response("200 OK", &[TEXT], &body))).await;
    let mut target = target(url);
    target.line_size_limit = 1000;
    let err = scrape(&target).await.0.result.expect_err("must fail");
    let message = err.to_string();
    assert!(matches!(err, ScrapeError::LineTooLong { line: 2, limit: 1000, .. }), "{message}");
    assert!(message.contains("1000"), "{message}");
}

#[tokio::test]
async fn html_page_fails_the_scrape() {
    let body = b"<html>\n<head><title>Node Exporter</title></head>\n</html>\n";
    let url = serve(Behaviour::Respond(response("200 OK", &[("Content-Type", "text/html")], body))).await;
    let err = scrape(&target(url)).await.0.result.expect_err("must fail");
    assert!(matches!(err, ScrapeError::Unparsable { line: 1, .. }), "{err}");
}
