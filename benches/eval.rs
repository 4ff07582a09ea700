//! Expression evaluation: one tick evaluates 50 typical alert expressions
//! over a store of 5,000 series with one sample per second.
//!
//! Before each tick the benchmark appends one scrape (one sample per series,
//! one second after the previous one, not timed), and the tick evaluates at
//! that scrape's time, as a sidecar that evaluates once per scrape does.
//! Each tick passes one `TickCache`, kept across ticks, to every
//! expression, as the engine does, so rules share range-function results
//! and window functions update their state from the previous tick.
//!
//! Run with `cargo bench --bench eval`. Besides criterion's timings it
//! prints the heap allocations of one tick with 5-minute and with 1-minute
//! windows, counted by a wrapping global allocator, to show that no
//! allocation grows with the window length. With `TICKS=n` in the
//! environment it runs n ticks, prints their times and exits.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use andon::expr::{Expr, TickCache};
use andon::labels::Labels;
use andon::store::Store;
use criterion::{criterion_group, criterion_main, Criterion};

/// Counts allocations and reallocations made through the system allocator.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const SECOND_MS: i64 = 1_000;
/// Samples per series: 10 minutes at one per second, so that 5-minute
/// windows and the 5-minute lookback are full.
const HISTORY_S: i64 = 600;
const JOBS: usize = 10;
const INSTANCES: usize = 10;
const BUCKETS: [&str; 12] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];

/// 50 alert expressions of the kinds users paste: rates, ratios,
/// histogram quantiles, aggregations and comparisons. `RANGE` is replaced
/// by the window length.
const EXPRESSIONS: [&str; 50] = [
    "sum(rate(http_requests_total{code=~\"5..\"}[RANGE])) / sum(rate(http_requests_total[RANGE])) > 0.01",
    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[RANGE])) / sum by (job) (rate(http_requests_total[RANGE])) > 0.05",
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[RANGE]))) > 0.2",
    "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[RANGE]))) > 1",
    "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"job-1\"}[RANGE])))",
    "sum(rate(erlmcp_errors_total[RANGE])) / sum(rate(erlmcp_requests_total[RANGE])) > 0.0005",
    "sum by (instance) (rate(erlmcp_errors_total[RANGE])) / sum by (instance) (rate(erlmcp_requests_total[RANGE]))",
    "rate(process_cpu_seconds_total[RANGE]) > 0.5",
    "avg by (job) (rate(process_cpu_seconds_total[RANGE])) > 0.6",
    "max(rate(process_cpu_seconds_total[RANGE])) > 0.75",
    "process_resident_memory_bytes > 300e6",
    "sum by (job) (process_resident_memory_bytes) > 3.5e9",
    "max_over_time(process_resident_memory_bytes[RANGE]) > 400e6",
    "erlmcp_connections_active > 150",
    "sum(erlmcp_connections_active) > 350",
    "avg_over_time(erlmcp_connections_active[RANGE]) > 200",
    "up == 0",
    "sum by (job) (up) < 5",
    "count by (job) (up == 0) > 1",
    "absent(up{job=\"job-1\"})",
    "node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.1",
    "(node_filesystem_avail_bytes / node_filesystem_size_bytes) * 100 < 15",
    "predict_linear(node_filesystem_avail_bytes{mountpoint=\"/\"}[RANGE], 4 * 3600) < 0",
    "min by (instance) (node_filesystem_avail_bytes{mountpoint=~\"/|/var\"}) < 1e9",
    "1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[RANGE])) > 0.8",
    "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[RANGE])) > 3",
    "avg by (mode) (rate(node_cpu_seconds_total[RANGE]))",
    "increase(http_requests_total{code=\"500\"}[RANGE]) > 10",
    "sum(increase(http_requests_total[RANGE])) > 1e6",
    "topk(5, sum by (instance) (rate(http_requests_total[RANGE])))",
    "bottomk(3, sum by (job) (rate(http_requests_total[RANGE])))",
    "irate(http_requests_total{method=\"GET\", code=\"200\"}[RANGE]) > 100",
    "delta(erlmcp_connections_active[RANGE]) > 50",
    "deriv(process_resident_memory_bytes[RANGE]) > 1e5",
    "changes(up[RANGE]) > 2",
    "resets(process_cpu_seconds_total[RANGE]) > 0",
    "quantile by (job) (0.9, rate(http_requests_total[RANGE]))",
    "stddev by (job) (rate(http_requests_total[RANGE]))",
    "count(rate(http_requests_total[RANGE]) > 1)",
    "sum by (job, code) (rate(http_requests_total[RANGE])) > 5",
    "sum without (instance, method) (rate(http_requests_total[RANGE])) > 5",
    "rate(http_requests_total{code=\"500\"}[RANGE]) / ignoring(code) group_left rate(http_requests_total{code=\"200\"}[RANGE]) > 0.1",
    "sum by (instance) (rate(http_requests_total[RANGE])) / on(instance) group_left sum by (instance) (rate(process_cpu_seconds_total[RANGE]))",
    "rate(erlmcp_requests_total[RANGE]) > 5000",
    "sum(rate(erlmcp_requests_total[RANGE])) > bool 5000",
    "clamp_max(sum by (job) (rate(http_requests_total[RANGE])), 1000)",
    "min_over_time(up[RANGE]) == 0",
    "last_over_time(erlmcp_connections_active[RANGE]) > 300",
    "(sum(rate(http_requests_total{code=~\"5..\"}[RANGE])) or vector(0)) > 0",
    "sum by (job) (rate(http_request_duration_seconds_sum[RANGE])) / sum by (job) (rate(http_request_duration_seconds_count[RANGE])) > 0.15",
];

fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut labels = Labels::from_pairs(pairs.iter().copied());
    labels.set("__name__", name);
    labels
}

/// The label sets of the store with a value function per series: counters
/// grow by a per-series step each second, gauges wobble.
fn all_series() -> Vec<(Labels, f64, bool)> {
    let mut out = Vec::new();
    for j in 0..JOBS {
        for i in 0..INSTANCES {
            let job = format!("job-{j}");
            let instance = format!("host-{j}-{i}:9100");
            let base = [("job", job.as_str()), ("instance", instance.as_str())];
            for method in ["GET", "POST"] {
                for code in ["200", "201", "404", "500", "503"] {
                    let labels = [base[0], base[1], ("method", method), ("code", code)];
                    out.push((series("http_requests_total", &labels), 1.0 + (j + i) as f64, true));
                }
            }
            for le in BUCKETS {
                out.push((series("http_request_duration_seconds_bucket", &[base[0], base[1], ("le", le)]), 10.0, true));
            }
            out.push((series("http_request_duration_seconds_sum", &base), 1.5, true));
            out.push((series("http_request_duration_seconds_count", &base), 10.0, true));
            out.push((series("process_cpu_seconds_total", &base), 0.3, true));
            out.push((series("process_resident_memory_bytes", &base), 2.5e8, false));
            out.push((series("erlmcp_requests_total", &base), 250.0, true));
            out.push((series("erlmcp_errors_total", &base), 0.1, true));
            out.push((series("erlmcp_connections_active", &base), 120.0, false));
            out.push((series("up", &base), 1.0, false));
            for mountpoint in ["/", "/var", "/home", "/boot", "/srv"] {
                let labels = [base[0], base[1], ("mountpoint", mountpoint)];
                out.push((series("node_filesystem_avail_bytes", &labels), 5e10, false));
                out.push((series("node_filesystem_size_bytes", &labels), 1e11, false));
            }
            for cpu in 0..2 {
                for mode in ["idle", "user", "system", "iowait", "steal"] {
                    let cpu = cpu.to_string();
                    let labels = [base[0], base[1], ("cpu", cpu.as_str()), ("mode", mode)];
                    out.push((series("node_cpu_seconds_total", &labels), 0.1, true));
                }
            }
        }
    }
    out
}

/// The store and the series that scrapes append to, one sample per series
/// and second.
struct Feed {
    store: Store,
    series: Vec<(Labels, f64, bool)>,
    values: Vec<f64>,
    /// The second of the next scrape; the latest scrape is one before.
    next_second: i64,
}

impl Feed {
    /// Builds a store with `HISTORY_S` seconds of samples.
    fn new() -> Feed {
        let series = all_series();
        let values = vec![0.0; series.len()];
        let mut feed = Feed { store: Store::new((HISTORY_S + 1) * SECOND_MS), series, values, next_second: 0 };
        for _ in 0..HISTORY_S {
            feed.scrape();
        }
        feed
    }

    /// Appends one sample to every series, one second after the previous
    /// scrape: counters grow by their step, gauges wobble.
    fn scrape(&mut self) {
        let second = self.next_second;
        for (index, (labels, step, counter)) in self.series.iter().enumerate() {
            let wobble = ((second as usize * 7 + index) % 13) as f64;
            self.values[index] = if *counter { self.values[index] + step * (1.0 + wobble / 13.0) } else { step * (1.0 + wobble / 100.0) };
            self.store.append(labels, second * SECOND_MS, self.values[index]);
        }
        self.next_second += 1;
    }

    /// The time of the latest scrape, at which a tick evaluates.
    fn now_ms(&self) -> i64 {
        (self.next_second - 1) * SECOND_MS
    }
}

fn parse_all(range: &str) -> Vec<Expr> {
    EXPRESSIONS
        .iter()
        .map(|source| {
            let source = source.replace("RANGE", range);
            Expr::parse(&source).unwrap_or_else(|e| panic!("{source}: {e}"))
        })
        .collect()
}

/// Evaluates every expression once at the latest scrape's time, sharing
/// range-function results and window states through `cache` as the engine
/// does.
fn tick(exprs: &[Expr], feed: &Feed, cache: &mut TickCache) -> usize {
    let mut outputs = 0;
    for expr in exprs {
        outputs += expr.eval_with(&feed.store, feed.now_ms(), cache).map(|r| r.len()).unwrap_or(0);
    }
    outputs
}

/// Appends one scrape, then times one tick over it; the scrape is not timed.
fn scrape_and_tick(exprs: &[Expr], feed: &mut Feed, cache: &mut TickCache) -> Duration {
    feed.scrape();
    let started = Instant::now();
    black_box(tick(exprs, feed, cache));
    started.elapsed()
}

/// Counts the allocations of one tick after a scrape, once earlier ticks
/// have filled the selector caches and window states, as in a running
/// sidecar.
fn allocations_per_tick(exprs: &[Expr], feed: &mut Feed, cache: &mut TickCache) -> usize {
    scrape_and_tick(exprs, feed, cache);
    feed.scrape();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    black_box(tick(exprs, feed, cache));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn bench_eval(c: &mut Criterion) {
    let mut feed = Feed::new();
    let five_minutes = parse_all("5m");
    let one_minute = parse_all("1m");
    println!("store: {} series, {} samples each; one tick: 50 expressions", feed.store.series_count(), HISTORY_S);
    for (label, exprs) in [("5m", &five_minutes), ("1m", &one_minute)] {
        let mut cache = TickCache::new();
        feed.scrape();
        let outputs = tick(exprs, &feed, &mut cache);
        let allocations = allocations_per_tick(exprs, &mut feed, &mut cache);
        println!("{label} windows: {outputs} output series, {allocations} allocations per tick");
    }

    // PER_EXPR=n prints each expression's time, averaged over n ticks,
    // each after a scrape and with the cache holding only what the
    // expressions before it in the list computed in that tick.
    if let Ok(rounds) = std::env::var("PER_EXPR") {
        let rounds: u32 = rounds.parse().unwrap_or(1).max(1);
        let mut cache = TickCache::new();
        let mut totals = vec![Duration::ZERO; five_minutes.len()];
        for _ in 0..rounds {
            feed.scrape();
            for (index, expr) in five_minutes.iter().enumerate() {
                let started = Instant::now();
                black_box(expr.eval_with(&feed.store, feed.now_ms(), &mut cache).map(|r| r.len()).unwrap_or(0));
                totals[index] += started.elapsed();
            }
        }
        for (index, total) in totals.iter().enumerate() {
            println!("{:>8.1} us  {}", total.as_secs_f64() * 1e6 / f64::from(rounds), EXPRESSIONS[index]);
        }
        return;
    }

    // TICKS=n runs n ticks with 5-minute windows, each after a scrape,
    // instead of criterion, and prints the mean and the fastest tenth of
    // the tick times, which other processes on a shared machine disturb
    // least.
    if let Ok(ticks) = std::env::var("TICKS") {
        let ticks: usize = ticks.parse().unwrap_or(0).max(10);
        let mut cache = TickCache::new();
        let mut times: Vec<Duration> = (0..ticks).map(|_| scrape_and_tick(&five_minutes, &mut feed, &mut cache)).collect();
        times.sort();
        let mean = times.iter().sum::<Duration>() / ticks as u32;
        let fastest_tenth = times[..ticks / 10].iter().sum::<Duration>() / (ticks / 10) as u32;
        println!("{ticks} ticks: mean {mean:?}, median {:?}, mean of fastest tenth {fastest_tenth:?}", times[ticks / 2]);
        return;
    }

    let mut group = c.benchmark_group("eval");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    for (name, exprs) in [("tick_50_exprs_5000_series_5m", &five_minutes), ("tick_50_exprs_5000_series_1m", &one_minute)] {
        let mut cache = TickCache::new();
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| (0..iterations).map(|_| scrape_and_tick(exprs, &mut feed, &mut cache)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_eval);
criterion_main!(benches);
