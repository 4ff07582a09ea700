//! Throughput of the exposition parser, and of the scraper's reading of a
//! body (parse plus target labels), against prometheus-parse 0.2.5 on the
//! same bodies, plus a count of what prometheus-parse returns versus
//! what each body contains (printed before the measurements).
//!
//! Run: `cargo bench --bench parse`. Measurement time is kept short
//! because the benchmark machines are shared.

use std::collections::HashMap;
use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use andon::exposition::{parse, visit, Format, SampleRef, Visitor};
use andon::labels::Labels;
use andon::scrape::SeriesCache;
use andon::store::Store;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The 10 metric names a filtered parse keeps: names that alerting rules
/// commonly read, present in the node_exporter and Prometheus bodies.
const KEPT_NAMES: [&str; 10] = [
    "node_cpu_seconds_total",
    "node_memory_MemAvailable_bytes",
    "node_filesystem_avail_bytes",
    "node_load1",
    "node_network_receive_bytes_total",
    "up",
    "process_resident_memory_bytes",
    "prometheus_http_request_duration_seconds_bucket",
    "go_goroutines",
    "gen_metric_0007",
];

struct Input {
    name: &'static str,
    body: Vec<u8>,
}

fn fixture(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exporters")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A text 0.0.4 body of 1,000 gauge families with 1,000 series each,
/// written the way client libraries write them.
fn generated_body() -> Vec<u8> {
    let mut body = String::with_capacity(90 << 20);
    for metric in 0..1_000 {
        let _ = writeln!(
            body,
            "# HELP gen_metric_{metric:04} Generated gauge number {metric}."
        );
        let _ = writeln!(body, "# TYPE gen_metric_{metric:04} gauge");
        for series in 0..1_000 {
            let _ = writeln!(
                body,
                "gen_metric_{metric:04}{{instance=\"host-{:03}.example:9100\",job=\"node\",device=\"sd{series}\"}} {}.{}",
                series % 250,
                series * 37 + metric,
                series % 10,
            );
        }
    }
    body.into_bytes()
}

fn inputs() -> Vec<Input> {
    vec![
        Input {
            name: "node_exporter-e2e",
            body: fixture("node_exporter-e2e.prom"),
        },
        Input {
            name: "prometheus-2.42-self",
            body: fixture("prometheus-2.42-self.prom"),
        },
        Input {
            name: "generated-1M-series",
            body: generated_body(),
        },
    ]
}

fn keep_all(_: &str) -> bool {
    true
}

fn keep_ten(name: &str) -> bool {
    KEPT_NAMES.contains(&name)
}

/// Counts labels without building owned values, as a store that interns
/// names would read them.
struct Count(usize);

impl<'a> Visitor<'a> for Count {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        self.0 += sample.labels.len() + 1;
    }
}

/// A target scraped again and again with the same body, as the daemon
/// stores it: through the target's series cache into a store, one second
/// after the previous scrape. The first scrape, which learns the series,
/// happens before timing.
struct SteadyScrape {
    cache: SeriesCache,
    store: Store,
    at_ms: i64,
}

impl SteadyScrape {
    fn new(body: &[u8], target: &Labels, keep: fn(&str) -> bool) -> SteadyScrape {
        let mut scrape = SteadyScrape { cache: SeriesCache::new(), store: Store::new(5_000), at_ms: 0 };
        scrape.next(body, target, keep);
        scrape
    }

    fn next(&mut self, body: &[u8], target: &Labels, keep: fn(&str) -> bool) -> usize {
        self.at_ms += 1_000;
        let ingested = self.cache.ingest(body, Format::Text, target, &keep, &mut self.store, self.at_ms);
        self.store.prune(self.at_ms);
        ingested.kept
    }
}

fn prometheus_parse(body: &[u8]) -> prometheus_parse::Scrape {
    let text = std::str::from_utf8(body).unwrap_or("");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap_or(
        prometheus_parse::Scrape {
            docs: HashMap::new(),
            samples: Vec::new(),
        },
    )
}

fn bench_parsers(c: &mut Criterion) {
    print_accuracy();
    let mut group = c.benchmark_group("exposition");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    // The labels the scraper attaches to every series of a target.
    let target = Labels::from_pairs([("instance", "127.0.0.1:9100"), ("job", "node")]);
    for input in inputs() {
        let body = input.body.as_slice();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("andon-parse-full", input.name),
            body,
            |b, body| b.iter(|| black_box(parse(body, Format::Text, &keep_all))),
        );
        group.bench_with_input(
            BenchmarkId::new("andon-visit-full", input.name),
            body,
            |b, body| {
                b.iter(|| {
                    let mut count = Count(0);
                    black_box(visit(body, Format::Text, keep_all, &mut count));
                    black_box(count.0)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("andon-visit-filtered", input.name),
            body,
            |b, body| {
                b.iter(|| {
                    let mut count = Count(0);
                    black_box(visit(body, Format::Text, keep_ten, &mut count));
                    black_box(count.0)
                })
            },
        );
        for (row, keep) in [("andon-scrape-full", keep_all as fn(&str) -> bool), ("andon-scrape-filtered", keep_ten)] {
            group.bench_with_input(BenchmarkId::new(row, input.name), body, |b, body| {
                // Built here, so that a filter that skips the row also
                // skips the first scrape.
                let mut scrape = SteadyScrape::new(body, &target, keep);
                b.iter(|| black_box(scrape.next(body, &target, keep)))
            });
        }
        group.bench_with_input(
            BenchmarkId::new("prometheus-parse-full", input.name),
            body,
            |b, body| b.iter(|| black_box(prometheus_parse(body))),
        );
    }
    group.finish();
}

/// Prints, for each body, how many samples prometheus-parse 0.2.5 returns
/// and how many match the body exactly, next to what andon reads.
fn print_accuracy() {
    println!("\nprometheus-parse 0.2.5 versus the body (andon's reading):");
    let mut bodies: Vec<(String, Vec<u8>)> = inputs()
        .into_iter()
        .filter(|i| i.body.len() < 1 << 20)
        .map(|i| (i.name.to_string(), i.body))
        .collect();
    bodies.push(("tricky-lines".to_string(), TRICKY.as_bytes().to_vec()));
    for (name, body) in &bodies {
        let ours = plain_points(&parse(body, Format::Text, &keep_all));
        let theirs = their_points(&prometheus_parse(body));
        let exact = ours
            .iter()
            .filter(|(key, point)| theirs.get(*key).is_some_and(|p| same(p, point)))
            .count();
        let dropped = ours.keys().filter(|key| !theirs.contains_key(*key)).count();
        println!(
            "  {name}: {} samples without le/quantile; prometheus-parse returns {} of them, {} exactly; {} are missing or have different labels; {} of its samples match no line",
            ours.len(),
            theirs.len(),
            exact,
            dropped,
            theirs.keys().filter(|key| !ours.contains_key(*key)).count(),
        );
    }
    for line in TRICKY.lines() {
        let theirs = their_points(&prometheus_parse(line.as_bytes()));
        let returned: Vec<String> = theirs
            .iter()
            .map(|(k, (v, ts))| format!("{k} {v} ts={ts:?}"))
            .collect();
        println!(
            "  {line:<40} -> {}",
            if returned.is_empty() {
                "(dropped)".to_string()
            } else {
                returned.join(", ")
            }
        );
    }
    println!();
}

/// Lines that real exporters write and that a split-on-comma or
/// `\w+`-name parser reads wrong.
const TRICKY: &str = "foo{bar=\"baz,qux\",x=\"1\"} 1
foo{} 2
job:http_requests:rate5m 0.5
req{path=\"/a?b=c\",code=\"200\"} 3
ext{e=\"{plpgsql}\",db=\"pg\"} 1
esc{name=\"\\\"bar\\\"\"} 1
x 1 1700000000000
u 1 1700000000.5
";

type Point = (f64, Option<i64>);

fn same(a: &Point, b: &Point) -> bool {
    (a.0 == b.0 || (a.0.is_nan() && b.0.is_nan())) && a.1 == b.1
}

fn plain_points(report: &andon::exposition::ParseReport) -> HashMap<String, Point> {
    report
        .samples
        .iter()
        .filter(|s| s.labels.get("le").is_none() && s.labels.get("quantile").is_none())
        .map(|s| {
            (
                s.labels.to_string().replace(", ", ","),
                (s.value, s.timestamp_ms),
            )
        })
        .collect()
}

fn their_points(scrape: &prometheus_parse::Scrape) -> HashMap<String, Point> {
    use prometheus_parse::Value;
    let mut points = HashMap::new();
    for sample in &scrape.samples {
        let value = match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => continue,
        };
        let pairs = sample.labels.iter().map(|(k, v)| (k.clone(), v.clone()));
        let labels = Labels::from_pairs(
            std::iter::once(("__name__".to_string(), sample.metric.clone())).chain(pairs),
        );
        // prometheus-parse puts the parse time where a line has no
        // timestamp it can read; only a line's own timestamp counts here.
        let ts = sample.timestamp.timestamp_millis();
        let ts = (ts < 1_000_000_000_000_000)
            .then_some(ts)
            .filter(|t| *t != now_ms_marker(*t));
        points.insert(labels.to_string().replace(", ", ","), (value, ts));
    }
    points
}

/// Returns `t` unchanged when it lies within a minute of now, so that the
/// parse time prometheus-parse puts on samples without a readable
/// timestamp is treated as no timestamp.
fn now_ms_marker(t: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    if (now - t).abs() < 60_000 {
        t
    } else {
        i64::MIN
    }
}

criterion_group!(benches, bench_parsers);
criterion_main!(benches);
