//! Evaluation tests with exact values. Expected values were derived by
//! hand from Prometheus 3's algorithms; comments show the arithmetic.

use super::*;
use crate::exposition::Format;
use crate::scrape::SeriesCache;
use crate::store::STALE_MARKER;

const S: i64 = 1_000;

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut labels = Labels::from_pairs(pairs.iter().copied());
    labels.set("__name__", name);
    labels
}

/// Loads samples given as `(seconds, value)`.
fn load(store: &mut Store, labels: &Labels, samples: &[(i64, f64)]) {
    for &(seconds, value) in samples {
        store.append(labels, seconds * S, value);
    }
}

/// Stores one scrape of a text-format `body` at `seconds`, as the daemon
/// does for a target without labels of its own.
fn scrape(store: &mut Store, cache: &mut SeriesCache, body: &str, seconds: i64) {
    cache.ingest(body.as_bytes(), Format::Text, &Labels::new(), &|_: &str| true, store, seconds * S);
}

fn store() -> Store {
    Store::new(3_600 * S)
}

fn eval_at(store: &Store, source: &str, seconds: i64) -> Vec<(Labels, f64)> {
    let expr = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
    expr.eval(store, seconds * S).unwrap_or_else(|e| panic!("{source}: {e:?}"))
}

fn single(store: &Store, source: &str, seconds: i64) -> f64 {
    let result = eval_at(store, source, seconds);
    assert_eq!(result.len(), 1, "{source} returned {result:?}");
    result[0].1
}

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{actual} != {expected}");
}

fn counter_store(values: [f64; 4]) -> Store {
    let mut store = store();
    let c = labels("c", &[("job", "a")]);
    let times = [65, 80, 95, 110];
    load(&mut store, &c, &times.iter().copied().zip(values).collect::<Vec<_>>());
    store
}

#[test]
fn rate_counts_dip_as_reset() {
    let store = counter_store([1000.0, 1010.0, 1005.0, 1015.0]);
    // Increase 15 + 1010 for the reset over 45 s sampled, extrapolated by
    // 5 s at the start and 10 s at the end to 60 s: 1025 / 45.
    assert_close(single(&store, "rate(c[1m])", 120), 1025.0 / 45.0);
}

#[test]
fn rate_of_steady_counter() {
    let store = counter_store([1000.0, 1005.0, 1010.0, 1015.0]);
    assert_close(single(&store, "rate(c[1m])", 120), 15.0 / 45.0);
}

#[test]
fn rate_of_new_series_extrapolates_half_interval() {
    let mut store = store();
    let x = labels("x", &[]);
    load(&mut store, &x, &[(100, 1.3e9), (115, 1.3e9 + 10.0), (130, 1.3e9 + 20.0)]);
    // 30 s are sampled. The start gap of 30 s exceeds 1.1 * 15 s, so only
    // 7.5 s are added: 20 * 37.5 / 30 / 60.
    assert_close(single(&store, "rate(x[1m])", 130), 20.0 * 37.5 / 30.0 / 60.0);
}

#[test]
fn rate_of_single_sample_is_empty() {
    let mut store = store();
    load(&mut store, &labels("x", &[]), &[(100, 5.0)]);
    assert!(eval_at(&store, "rate(x[1m])", 130).is_empty());
}

#[test]
fn rate_stops_at_zero_point() {
    let mut store = store();
    load(&mut store, &labels("x", &[]), &[(70, 2.0), (80, 12.0), (90, 22.0)]);
    // The 40 s gap to the window start is cut to half an interval (5 s),
    // then to the zero point 2 s before the first sample: 20 * 22 / 20 / 60.
    assert_close(single(&store, "rate(x[1m])", 90), 20.0 * 22.0 / 20.0 / 60.0);
}

#[test]
fn increase_matches_rate_times_range() {
    let store = counter_store([1000.0, 1005.0, 1010.0, 1015.0]);
    assert_close(single(&store, "increase(c[1m])", 120), 20.0);
}

#[test]
fn delta_does_not_correct_resets() {
    let store = counter_store([1000.0, 1010.0, 1005.0, 1015.0]);
    assert_close(single(&store, "delta(c[1m])", 120), 15.0 * 60.0 / 45.0);
}

#[test]
fn rate_window_is_left_open() {
    let mut store = store();
    load(&mut store, &labels("x", &[]), &[(60, 0.0), (90, 30.0), (120, 60.0)]);
    // (60, 120] contains the samples at 90 s and 120 s only.
    assert_close(single(&store, "count_over_time(x[1m])", 120), 2.0);
}

#[test]
fn irate_uses_last_two_samples() {
    let store = counter_store([1000.0, 1010.0, 1005.0, 1015.0]);
    assert_close(single(&store, "irate(c[1m])", 120), 10.0 / 15.0);
}

#[test]
fn irate_after_reset_uses_last_value() {
    let store = counter_store([1000.0, 1010.0, 1020.0, 6.0]);
    assert_close(single(&store, "irate(c[1m])", 120), 6.0 / 15.0);
}

#[test]
fn idelta_uses_last_two_samples() {
    let store = counter_store([1000.0, 1010.0, 1020.0, 6.0]);
    assert_close(single(&store, "idelta(c[1m])", 120), -1014.0);
}

#[test]
fn deriv_of_line() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0), (20, 3.0), (30, 5.0)]);
    assert_close(single(&store, "deriv(g[1m])", 30), 0.2);
}

#[test]
fn predict_linear_from_eval_time() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0), (20, 3.0), (30, 5.0)]);
    assert_close(single(&store, "predict_linear(g[1m], 100)", 30), 25.0);
}

#[test]
fn resets_and_changes_count() {
    let store = counter_store([1000.0, 1010.0, 1005.0, 1005.0]);
    assert_close(single(&store, "resets(c[1m])", 120), 1.0);
    assert_close(single(&store, "changes(c[1m])", 120), 2.0);
}

#[test]
fn over_time_statistics() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 2.0), (20, 4.0), (30, 4.0), (40, 5.0)]);
    assert_close(single(&store, "avg_over_time(g[1m])", 40), 3.75);
    assert_close(single(&store, "sum_over_time(g[1m])", 40), 15.0);
    assert_close(single(&store, "min_over_time(g[1m])", 40), 2.0);
    assert_close(single(&store, "max_over_time(g[1m])", 40), 5.0);
    assert_close(single(&store, "last_over_time(g[1m])", 40), 5.0);
    assert_close(single(&store, "present_over_time(g[1m])", 40), 1.0);
    assert_close(single(&store, "quantile_over_time(0.5, g[1m])", 40), 4.0);
    assert_close(single(&store, "stdvar_over_time(g[1m])", 40), 1.1875);
    assert_close(single(&store, "stddev_over_time(g[1m])", 40), 1.1875f64.sqrt());
}

#[test]
fn last_over_time_keeps_metric_name() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 2.0)]);
    let result = eval_at(&store, "last_over_time(g[1m])", 20);
    assert_eq!(result[0].0.metric_name(), Some("g"));
}

#[test]
fn rate_drops_metric_name() {
    let store = counter_store([1000.0, 1005.0, 1010.0, 1015.0]);
    let result = eval_at(&store, "rate(c[1m])", 120);
    assert_eq!(result[0].0, Labels::from_pairs([("job", "a")]));
}

fn histogram_store(counts: &[(&str, f64)]) -> Store {
    let mut store = store();
    for (le, count) in counts {
        load(&mut store, &labels("h_bucket", &[("le", le)]), &[(10, *count)]);
    }
    store
}

#[test]
fn histogram_quantile_interpolates() {
    let store = histogram_store(&[("0.1", 5.0), ("0.2", 8.0), ("+Inf", 10.0)]);
    assert_close(single(&store, "histogram_quantile(0.5, h_bucket)", 20), 0.1);
    assert_close(single(&store, "histogram_quantile(0.7, h_bucket)", 20), 0.1 + 0.1 * 2.0 / 3.0);
    assert_close(single(&store, "histogram_quantile(0.95, h_bucket)", 20), 0.2);
}

#[test]
fn histogram_quantile_without_inf_bucket_is_nan() {
    let store = histogram_store(&[("0.1", 5.0), ("0.2", 8.0)]);
    assert!(single(&store, "histogram_quantile(0.5, h_bucket)", 20).is_nan());
}

#[test]
fn histogram_quantile_of_zero_counts_is_nan() {
    let store = histogram_store(&[("0.1", 0.0), ("0.2", 0.0), ("+Inf", 0.0)]);
    assert!(single(&store, "histogram_quantile(0.5, h_bucket)", 20).is_nan());
}

#[test]
fn histogram_quantile_compares_le_as_numbers() {
    let store = histogram_store(&[("1.000", 5.0), ("10", 8.0), ("2.0", 6.0), ("+Inf", 10.0)]);
    // Sorted numerically: 1:5, 2:6, 10:8, +Inf:10; rank 7 lies in (2, 10].
    assert_close(single(&store, "histogram_quantile(0.7, h_bucket)", 20), 2.0 + 8.0 * 0.5);
}

#[test]
fn histogram_quantile_groups_without_le() {
    let mut store = store();
    for (job, le, count) in [("a", "1", 1.0), ("a", "+Inf", 2.0), ("b", "1", 2.0), ("b", "+Inf", 2.0)] {
        load(&mut store, &labels("h_bucket", &[("job", job), ("le", le)]), &[(10, count)]);
    }
    let result = eval_at(&store, "histogram_quantile(0.5, h_bucket)", 20);
    assert_eq!(result.len(), 2);
    assert_eq!(result[0].0, Labels::from_pairs([("job", "a")]));
    assert_close(result[0].1, 1.0);
    assert_close(result[1].1, 0.5);
}

#[test]
fn instant_selector_takes_latest_in_lookback() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0), (20, 2.0)]);
    assert_close(single(&store, "g", 25), 2.0);
    assert!(eval_at(&store, "g", 320).is_empty());
    assert_close(single(&store, "g", 319), 2.0);
}

#[test]
fn stale_marker_hides_series() {
    let mut store = store();
    let g = labels("g", &[]);
    load(&mut store, &g, &[(10, 1.0)]);
    store.append(&g, 20 * S, STALE_MARKER);
    assert!(eval_at(&store, "g", 25).is_empty());
    assert_close(single(&store, "g", 15), 1.0);
}

#[test]
fn stale_marker_is_skipped_in_ranges() {
    let mut store = store();
    let g = labels("g", &[]);
    load(&mut store, &g, &[(10, 1.0)]);
    store.append(&g, 20 * S, STALE_MARKER);
    load(&mut store, &g, &[(30, 3.0)]);
    assert_close(single(&store, "count_over_time(g[1m])", 40), 2.0);
    assert_close(single(&store, "sum_over_time(g[1m])", 40), 4.0);
}

#[test]
fn scrape_absence_is_stale_at_once() {
    let mut store = store();
    let mut cache = SeriesCache::new();
    scrape(&mut store, &mut cache, "up{i=\"a\"} 1\nup{i=\"b\"} 1\n", 10);
    scrape(&mut store, &mut cache, "up{i=\"a\"} 1\n", 20);
    assert_eq!(eval_at(&store, "up", 20).len(), 1);
}

fn job_store() -> Store {
    let mut store = store();
    for (job, instance, value) in [("api", "1", 1.0), ("api", "2", 2.0), ("db", "1", 4.0)] {
        load(&mut store, &labels("m", &[("job", job), ("instance", instance)]), &[(10, value)]);
    }
    store
}

#[test]
fn matchers_of_all_kinds() {
    let store = job_store();
    assert_eq!(eval_at(&store, r#"m{job="api"}"#, 20).len(), 2);
    assert_eq!(eval_at(&store, r#"m{job!="api"}"#, 20).len(), 1);
    assert_eq!(eval_at(&store, r#"m{job=~"a.*"}"#, 20).len(), 2);
    assert_eq!(eval_at(&store, r#"m{job!~"a.*"}"#, 20).len(), 1);
    assert_eq!(eval_at(&store, r#"m{job=~"p"}"#, 20).len(), 0);
    assert_eq!(eval_at(&store, r#"{__name__="m", job="db"}"#, 20).len(), 1);
    assert_eq!(eval_at(&store, r#"m{missing=""}"#, 20).len(), 3);
}

#[test]
fn regex_dot_matches_newline() {
    let mut store = store();
    load(&mut store, &labels("m", &[("msg", "a\nb")]), &[(10, 1.0)]);
    assert_eq!(eval_at(&store, r#"m{msg=~"a.b"}"#, 20).len(), 1);
}

#[test]
fn offset_and_at_move_the_evaluation_time() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0), (70, 2.0)]);
    assert_close(single(&store, "g offset 1m", 75), 1.0);
    assert_close(single(&store, "g @ 20", 75), 1.0);
    assert_close(single(&store, "g @ end()", 75), 2.0);
}

#[test]
fn subquery_steps_are_aligned() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(0, 1.0), (30, 2.0), (60, 3.0)]);
    // Steps at 40, 50, 60, 70 s in (35, 75]: values 2, 2, 3, 3.
    assert_close(single(&store, "sum_over_time(g[40s:10s])", 75), 10.0);
    assert_close(single(&store, "count_over_time(g[40s:10s])", 75), 4.0);
}

#[test]
fn sum_by_and_without() {
    let store = job_store();
    let by = eval_at(&store, "sum by (job) (m)", 20);
    assert_eq!(by, vec![(Labels::from_pairs([("job", "api")]), 3.0), (Labels::from_pairs([("job", "db")]), 4.0)]);
    let without = eval_at(&store, "sum without (instance) (m)", 20);
    assert_eq!(without, by);
}

#[test]
fn aggregations_compute_exact_values() {
    let store = job_store();
    assert_close(single(&store, "sum(m)", 20), 7.0);
    assert_close(single(&store, "avg(m)", 20), 7.0 / 3.0);
    assert_close(single(&store, "min(m)", 20), 1.0);
    assert_close(single(&store, "max(m)", 20), 4.0);
    assert_close(single(&store, "count(m)", 20), 3.0);
    assert_close(single(&store, "group(m)", 20), 1.0);
    assert_close(single(&store, "stdvar(m)", 20), 14.0 / 9.0);
    assert_close(single(&store, "quantile(0.5, m)", 20), 2.0);
}

#[test]
fn topk_keeps_labels() {
    let store = job_store();
    let result = eval_at(&store, "topk(1, m)", 20);
    assert_eq!(result, vec![(labels("m", &[("job", "db"), ("instance", "1")]), 4.0)]);
}

#[test]
fn bottomk_by_group() {
    let store = job_store();
    assert_eq!(eval_at(&store, "bottomk by (job) (1, m)", 20).len(), 2);
}

#[test]
fn count_values_labels_by_value() {
    let store = job_store();
    let result = eval_at(&store, r#"count_values("v", m)"#, 20);
    assert_eq!(result.len(), 3);
    assert_eq!(result[0].0, Labels::from_pairs([("v", "1")]));
}

#[test]
fn arithmetic_drops_name_and_comparison_keeps_it() {
    let store = job_store();
    let doubled = eval_at(&store, r#"m{job="db"} * 2"#, 20);
    assert_eq!(doubled, vec![(Labels::from_pairs([("job", "db"), ("instance", "1")]), 8.0)]);
    let filtered = eval_at(&store, "m > 1", 20);
    assert_eq!(filtered.len(), 2);
    assert_eq!(filtered[0].0.metric_name(), Some("m"));
}

#[test]
fn comparison_with_bool_returns_zero_or_one() {
    let store = job_store();
    let result = eval_at(&store, "m > bool 1", 20);
    let values: Vec<f64> = result.iter().map(|r| r.1).collect();
    assert_eq!(values, vec![0.0, 1.0, 1.0]);
    assert_eq!(result[0].0.metric_name(), None);
}

#[test]
fn scalar_on_left_of_comparison_keeps_vector_value() {
    let store = job_store();
    let result = eval_at(&store, "3 > m", 20);
    let values: Vec<f64> = result.iter().map(|r| r.1).collect();
    assert_eq!(values, vec![1.0, 2.0]);
}

#[test]
fn division_by_zero_and_nan_comparison() {
    let store = store();
    assert_eq!(single(&store, "1 / 0", 0), f64::INFINITY);
    assert!(single(&store, "0 / 0", 0).is_nan());
    assert_eq!(single(&store, "(0 / 0) == bool (0 / 0)", 0), 0.0);
    assert_eq!(single(&store, "-7 % 3", 0), -1.0);
    assert_eq!(single(&store, "2 ^ 3 ^ 2", 0), 512.0);
}

fn ratio_store() -> Store {
    let mut store = store();
    for (job, errors, requests) in [("api", 1.0, 10.0), ("db", 2.0, 40.0)] {
        load(&mut store, &labels("errors", &[("job", job)]), &[(10, errors)]);
        load(&mut store, &labels("requests", &[("job", job)]), &[(10, requests)]);
    }
    store
}

#[test]
fn one_to_one_matching_divides_by_labels() {
    let store = ratio_store();
    let result = eval_at(&store, "errors / requests", 20);
    assert_eq!(result, vec![(Labels::from_pairs([("job", "api")]), 0.1), (Labels::from_pairs([("job", "db")]), 0.05)]);
}

#[test]
fn on_keeps_only_matching_labels() {
    let mut store = ratio_store();
    load(&mut store, &labels("errors", &[("job", "api"), ("code", "500")]), &[(10, 3.0)]);
    let result = eval_at(&store, r#"errors{code="500"} / on(job) requests"#, 20);
    assert_eq!(result, vec![(Labels::from_pairs([("job", "api")]), 0.3)]);
}

#[test]
fn group_left_copies_labels_from_one_side() {
    let mut store = store();
    for code in ["200", "500"] {
        load(&mut store, &labels("hits", &[("job", "api"), ("code", code)]), &[(10, 5.0)]);
    }
    load(&mut store, &labels("info", &[("job", "api"), ("team", "web")]), &[(10, 1.0)]);
    let result = eval_at(&store, "hits * on(job) group_left(team) info", 20);
    assert_eq!(result.len(), 2);
    assert_eq!(result[0].0, Labels::from_pairs([("job", "api"), ("code", "200"), ("team", "web")]));
}

#[test]
fn vector_matching_follows_new_series() {
    let mut store = store();
    load(&mut store, &labels("used", &[("job", "api")]), &[(10, 2.0)]);
    load(&mut store, &labels("size", &[("job", "api")]), &[(10, 4.0)]);
    let expr = Expr::parse("used / size").expect("parses");
    let first = expr.eval(&store, 20 * S).expect("evaluates");
    assert_eq!(first, vec![(Labels::from_pairs([("job", "api")]), 0.5)]);

    // The same expression, whose match groups are cached, after a new
    // series on each side.
    load(&mut store, &labels("used", &[("job", "db")]), &[(15, 3.0)]);
    load(&mut store, &labels("size", &[("job", "db")]), &[(15, 6.0)]);
    let second = expr.eval(&store, 20 * S).expect("evaluates");
    let expected = vec![(Labels::from_pairs([("job", "api")]), 0.5), (Labels::from_pairs([("job", "db")]), 0.5)];
    assert_eq!(second, expected);
}

#[test]
fn vector_matching_repeats_duplicate_error() {
    let mut store = store();
    for code in ["200", "500"] {
        load(&mut store, &labels("info", &[("job", "api"), ("code", code)]), &[(10, 1.0)]);
    }
    load(&mut store, &labels("hits", &[("job", "api")]), &[(10, 5.0)]);
    let expr = Expr::parse("hits / on(job) group_left info").expect("parses");
    for round in 0..2 {
        let error = expr.eval(&store, 20 * S).expect_err("duplicate on the one side");
        assert!(error.message.starts_with("found duplicate series"), "round {round}: {}", error.message);
    }
}

#[test]
fn many_to_many_match_is_an_error() {
    let mut store = store();
    for code in ["200", "500"] {
        load(&mut store, &labels("hits", &[("job", "api"), ("code", code)]), &[(10, 5.0)]);
    }
    load(&mut store, &labels("info", &[("job", "api")]), &[(10, 1.0)]);
    let expr = Expr::parse("hits / on(job) info").expect("parses");
    let error = expr.eval(&store, 20 * S).expect_err("many-to-one without group_left");
    assert!(error.message.starts_with("multiple matches for labels"), "{}", error.message);
}

#[test]
fn duplicate_on_one_side_is_an_error() {
    let mut store = store();
    for code in ["200", "500"] {
        load(&mut store, &labels("hits", &[("job", "api"), ("code", code)]), &[(10, 5.0)]);
    }
    load(&mut store, &labels("info", &[("job", "api")]), &[(10, 1.0)]);
    let expr = Expr::parse("info / on(job) hits").expect("parses");
    let error = expr.eval(&store, 20 * S).expect_err("duplicate on the right");
    assert!(error.message.starts_with("found duplicate series for the match group {job=\"api\"} on the right"), "{}", error.message);
}

#[test]
fn set_operators() {
    let store = ratio_store();
    assert_eq!(eval_at(&store, r#"errors and requests{job="api"}"#, 20).len(), 1);
    assert_eq!(eval_at(&store, r#"errors unless requests{job="api"}"#, 20).len(), 1);
    assert_eq!(eval_at(&store, r#"errors{job="api"} or requests"#, 20).len(), 2);
    assert_eq!(eval_at(&store, r#"errors or on() requests"#, 20).len(), 2);
}

#[test]
fn absent_builds_labels_from_equality_matchers() {
    let store = store();
    let result = eval_at(&store, r#"absent(nope{job="a", instance=~"x"})"#, 20);
    assert_eq!(result, vec![(Labels::from_pairs([("job", "a")]), 1.0)]);
}

#[test]
fn absent_of_present_series_is_empty() {
    let store = job_store();
    assert!(eval_at(&store, "absent(m)", 20).is_empty());
    assert!(eval_at(&store, "absent_over_time(m[1m])", 20).is_empty());
    assert_eq!(eval_at(&store, "absent_over_time(nope[1m])", 20).len(), 1);
}

#[test]
fn instant_functions() {
    let store = store();
    assert_eq!(single(&store, "clamp(vector(5), 1, 3)", 0), 3.0);
    assert_eq!(single(&store, "clamp_min(vector(0), 1)", 0), 1.0);
    assert_eq!(single(&store, "clamp_max(vector(5), 1)", 0), 1.0);
    assert!(eval_at(&store, "clamp(vector(5), 3, 1)", 0).is_empty());
    assert_eq!(single(&store, "round(vector(2.5))", 0), 3.0);
    assert_eq!(single(&store, "round(vector(-2.5))", 0), -2.0);
    assert_eq!(single(&store, "round(vector(7), 5)", 0), 5.0);
    assert_eq!(single(&store, "abs(vector(-2))", 0), 2.0);
    assert_eq!(single(&store, "sgn(vector(-2))", 0), -1.0);
    assert_eq!(single(&store, "sqrt(vector(9))", 0), 3.0);
    assert_eq!(single(&store, "log2(vector(8))", 0), 3.0);
    assert_eq!(single(&store, "scalar(vector(4))", 0), 4.0);
    assert_eq!(single(&store, "time()", 90), 90.0);
}

#[test]
fn date_functions_use_utc() {
    let store = store();
    // 2024-02-29T13:45:00Z, a Thursday.
    let at = "vector(1709214300)";
    assert_eq!(single(&store, &format!("year({at})"), 0), 2024.0);
    assert_eq!(single(&store, &format!("month({at})"), 0), 2.0);
    assert_eq!(single(&store, &format!("day_of_month({at})"), 0), 29.0);
    assert_eq!(single(&store, &format!("days_in_month({at})"), 0), 29.0);
    assert_eq!(single(&store, &format!("day_of_week({at})"), 0), 4.0);
    assert_eq!(single(&store, &format!("hour({at})"), 0), 13.0);
    assert_eq!(single(&store, &format!("minute({at})"), 0), 45.0);
}

#[test]
fn timestamp_returns_sample_time() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0)]);
    assert_eq!(single(&store, "timestamp(g)", 20), 10.0);
}

#[test]
fn label_replace_and_join() {
    let mut store = store();
    load(&mut store, &labels("g", &[("a", "x-1"), ("b", "y")]), &[(10, 1.0)]);
    let replaced = eval_at(&store, r#"label_replace(g, "n", "$1", "a", "x-(.*)")"#, 20);
    assert_eq!(replaced[0].0.get("n"), Some("1"));
    let joined = eval_at(&store, r#"label_join(g, "j", ",", "a", "b")"#, 20);
    assert_eq!(joined[0].0.get("j"), Some("x-1,y"));
}

#[test]
fn label_replace_collision_is_an_error() {
    let store = job_store();
    let expr = Expr::parse(r#"label_replace(m, "instance", "", "", "")"#).expect("parses");
    assert!(expr.eval(&store, 20 * S).is_err());
}

#[test]
fn sort_desc_orders_results() {
    let store = job_store();
    let values: Vec<f64> = eval_at(&store, "sort_desc(m)", 20).iter().map(|r| r.1).collect();
    assert_eq!(values, vec![4.0, 2.0, 1.0]);
}

#[test]
fn unsupported_function_is_rejected_with_position() {
    let error = Expr::parse("1 + histogram_count(m)").expect_err("native histogram function");
    assert_eq!(error.offset, Some(4));
    assert_eq!(error.message, "function \"histogram_count\" is not supported by andon");
}

#[test]
fn experimental_aggregation_is_rejected() {
    let error = Expr::parse("limitk(2, m)").expect_err("experimental");
    assert_eq!(error.offset, Some(0));
}

#[test]
fn syntax_error_has_position() {
    let error = Expr::parse("sum(rate(m[5m])").expect_err("unclosed");
    assert_eq!(error.offset, Some(3));
}

#[test]
fn range_vector_result_is_rejected() {
    assert!(Expr::parse("m[5m]").is_err());
}

#[test]
fn metric_names_lists_selectors() {
    let expr = Expr::parse("sum(rate(a[1m])) / sum(rate(b[1m])) > 0.1").expect("parses");
    assert_eq!(expr.metric_names(), Some(vec!["a".to_string(), "b".to_string()]));
}

#[test]
fn metric_names_none_for_unnamed_selector() {
    let expr = Expr::parse(r#"{job="x"}"#).expect("parses");
    assert_eq!(expr.metric_names(), None);
}

#[test]
fn lookback_counts_range_offset_and_lookback() {
    assert_eq!(Expr::parse("rate(a[10m] offset 1m)").expect("parses").lookback_ms(), 660_000);
    assert_eq!(Expr::parse("a").expect("parses").lookback_ms(), 300_000);
    assert_eq!(Expr::parse("max_over_time(a[10m:1m])").expect("parses").lookback_ms(), 900_000);
}

#[test]
fn negation_drops_name() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0)]);
    assert_eq!(eval_at(&store, "-g", 20), vec![(Labels::new(), -1.0)]);
}

#[test]
fn rate_of_same_labels_after_name_drop_is_an_error() {
    let mut store = store();
    load(&mut store, &labels("a", &[]), &[(10, 1.0), (20, 2.0)]);
    load(&mut store, &labels("b", &[]), &[(10, 1.0), (20, 2.0)]);
    let expr = Expr::parse(r#"rate({__name__=~"a|b"}[1m])"#).expect("parses");
    assert!(expr.eval(&store, 20 * S).is_err());
}

/// Two series whose labels are equal once their names are dropped.
fn store_of_a_and_b() -> Store {
    let mut store = store();
    load(&mut store, &labels("a", &[("job", "x")]), &[(10, 1.0), (20, 2.0)]);
    load(&mut store, &labels("b", &[("job", "x")]), &[(10, 1.0), (20, 2.0)]);
    store
}

#[test]
fn aggregated_rate_of_same_labels_is_an_error() {
    let expr = Expr::parse(r#"sum(rate({__name__=~"a|b"}[1m]))"#).expect("parses");
    let result = expr.eval(&store_of_a_and_b(), 20 * S);
    assert_eq!(result.map_err(|e| e.message), Err("vector cannot contain metrics with the same labelset".to_string()));
}

#[test]
fn aggregated_arithmetic_of_same_labels_is_an_error() {
    let expr = Expr::parse(r#"count({__name__=~"a|b"} * 2)"#).expect("parses");
    assert!(expr.eval(&store_of_a_and_b(), 20 * S).is_err());
}

#[test]
fn aggregated_filter_keeps_names() {
    // A comparison without `bool` keeps the names, so a and b stay apart.
    let expr = Expr::parse(r#"count({__name__=~"a|b"} > 0)"#).expect("parses");
    assert_eq!(expr.eval(&store_of_a_and_b(), 20 * S).expect("evaluates"), vec![(Labels::new(), 2.0)]);
}

#[test]
fn vector_match_of_two_names_is_not_checked() {
    let expr = Expr::parse("sum(a / b)").expect("parses");
    assert_eq!(expr.eval(&store_of_a_and_b(), 20 * S).expect("evaluates"), vec![(Labels::new(), 1.0)]);
}

#[test]
fn scalar_op_after_vector_match_is_not_checked() {
    let expr = Expr::parse("sum((a / b) * 2)").expect("parses");
    assert_eq!(expr.eval(&store_of_a_and_b(), 20 * S).expect("evaluates"), vec![(Labels::new(), 2.0)]);
}

#[test]
fn selector_cache_sees_new_series() {
    let mut store = store();
    load(&mut store, &labels("g", &[("i", "a")]), &[(10, 1.0)]);
    let expr = Expr::parse("sum(g)").expect("parses");
    assert_eq!(expr.eval(&store, 20 * S).expect("evaluates")[0].1, 1.0);
    load(&mut store, &labels("g", &[("i", "b")]), &[(15, 2.0)]);
    assert_eq!(expr.eval(&store, 20 * S).expect("evaluates")[0].1, 3.0);
}

#[test]
fn selector_cache_forgets_removed_series() {
    let mut store = Store::new(60 * S);
    load(&mut store, &labels("g", &[("i", "a")]), &[(10, 1.0)]);
    load(&mut store, &labels("g", &[("i", "b")]), &[(50, 2.0)]);
    let expr = Expr::parse("sum(g)").expect("parses");
    assert_eq!(expr.eval(&store, 55 * S).expect("evaluates")[0].1, 3.0);
    // Series a's only sample expires, which removes the series and moves b.
    store.prune(75 * S);
    assert_eq!(expr.eval(&store, 75 * S).expect("evaluates")[0].1, 2.0);
}

#[test]
fn selector_cache_is_per_store() {
    let mut first = store();
    load(&mut first, &labels("g", &[]), &[(10, 1.0)]);
    let mut second = store();
    load(&mut second, &labels("g", &[]), &[(10, 5.0)]);
    let expr = Expr::parse("g").expect("parses");
    assert_eq!(expr.eval(&first, 20 * S).expect("evaluates")[0].1, 1.0);
    assert_eq!(expr.eval(&second, 20 * S).expect("evaluates")[0].1, 5.0);
}

#[test]
fn group_left_duplicate_result_is_an_error() {
    let mut store = store();
    for code in ["200", "500"] {
        load(&mut store, &labels("hits", &[("job", "api"), ("code", code)]), &[(10, 5.0)]);
    }
    load(&mut store, &labels("info", &[("job", "api"), ("code", "x")]), &[(10, 1.0)]);
    let expr = Expr::parse("hits * on(job) group_left(code) info").expect("parses");
    let error = expr.eval(&store, 20 * S).expect_err("both results get code=x");
    assert_eq!(error.message, "multiple matches for labels: grouping labels must ensure unique matches");
}

#[test]
fn expr_and_store_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expr>();
    assert_send_sync::<Store>();
}

#[test]
fn series_returns_after_stale_marker() {
    let mut store = store();
    let mut cache = SeriesCache::new();
    scrape(&mut store, &mut cache, "up{i=\"a\"} 1\nup{i=\"b\"} 1\n", 10);
    scrape(&mut store, &mut cache, "up{i=\"a\"} 1\n", 20);
    scrape(&mut store, &mut cache, "up{i=\"a\"} 1\nup{i=\"b\"} 0\n", 30);
    assert_eq!(eval_at(&store, "up", 30).len(), 2);
    assert_eq!(eval_at(&store, r#"count_over_time(up{i="b"}[1m])"#, 30), vec![(Labels::from_pairs([("i", "b")]), 2.0)]);
}

#[test]
fn type_error_has_function_position() {
    let error = Expr::parse("1 + rate(m)").expect_err("rate needs a range vector");
    assert_eq!(error.offset, Some(4));
}

#[test]
fn subquery_with_too_many_steps_is_rejected() {
    assert!(Expr::parse("max_over_time(m[1y:1ms])").is_err());
    assert!(Expr::parse("max_over_time(m[1d:1s])").is_ok());
}

#[test]
fn extreme_offsets_do_not_overflow() {
    let mut store = store();
    load(&mut store, &labels("g", &[]), &[(10, 1.0)]);
    for source in ["g offset 292y", "g offset -292y", "rate(g[292y])", "g @ -9223372036854775"] {
        let expr = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        assert!(expr.eval(&store, i64::MAX).is_ok(), "{source}");
        assert!(expr.eval(&store, i64::MIN).is_ok(), "{source}");
        let _ = expr.lookback_ms();
    }
}

#[test]
fn aggregation_cache_keeps_values_across_evaluations() {
    let mut store = store();
    load(&mut store, &labels("m", &[("job", "a")]), &[(10, 1.0), (20, 2.0)]);
    load(&mut store, &labels("m", &[("job", "b")]), &[(10, 5.0), (20, 7.0)]);
    let expr = Expr::parse("sum by (job) (m)").expect("parses");
    let first = expr.eval(&store, 15 * S).expect("evaluates");
    let second = expr.eval(&store, 25 * S).expect("evaluates");
    assert_eq!(first, vec![(Labels::from_pairs([("job", "a")]), 1.0), (Labels::from_pairs([("job", "b")]), 5.0)]);
    assert_eq!(second, vec![(Labels::from_pairs([("job", "a")]), 2.0), (Labels::from_pairs([("job", "b")]), 7.0)]);
}

#[test]
fn aggregation_of_owned_labels_regroups_each_time() {
    let mut store = store();
    load(&mut store, &labels("m", &[("job", "a")]), &[(10, 1.0), (20, 2.0)]);
    let expr = Expr::parse(r#"sum by (v) (count_values("v", m))"#).expect("parses");
    assert_eq!(expr.eval(&store, 15 * S).expect("evaluates"), vec![(Labels::from_pairs([("v", "1")]), 1.0)]);
    assert_eq!(expr.eval(&store, 25 * S).expect("evaluates"), vec![(Labels::from_pairs([("v", "2")]), 1.0)]);
}

/// Builds a store of two counters and a gauge, with a reset and a stale
/// marker.
fn shared_store() -> Store {
    let mut store = store();
    let a = labels("c", &[("job", "a")]);
    let b = labels("c", &[("job", "b")]);
    let g = labels("g", &[("job", "a")]);
    load(&mut store, &a, &[(0, 1.0), (15, 5.0), (30, 2.0), (45, 9.0), (60, 12.0)]);
    load(&mut store, &b, &[(0, 10.0), (15, 20.0), (30, STALE_MARKER), (45, 40.0), (60, 50.0)]);
    load(&mut store, &g, &[(0, 3.0), (15, 1.0), (30, 4.0), (45, 1.0), (60, 5.0)]);
    store
}

/// Expressions whose range calls share results within one tick, in an
/// order where later ones read windows that earlier ones filled.
const SHARED_EXPRESSIONS: [&str; 10] = [
    "rate(c[1m])",
    "sum(rate(c[1m]))",
    "rate(c{job=\"b\"}[1m])",
    "increase(c[1m])",
    "rate(c[30s])",
    "rate(c[1m] offset 15s)",
    "quantile_over_time(0.5, g[1m])",
    "quantile_over_time(0.9, g[1m])",
    "last_over_time(g[1m])",
    "max_over_time(rate(c[30s])[1m:15s])",
];

#[test]
fn tick_cache_matches_plain_eval() {
    let store = shared_store();
    let mut cache = TickCache::new();
    for source in SHARED_EXPRESSIONS {
        let expr = Expr::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        let plain = expr.eval(&store, 65 * S);
        let shared = expr.eval_with(&store, 65 * S, &mut cache);
        assert_eq!(format!("{shared:?}"), format!("{plain:?}"), "{source}");
    }
}

#[test]
fn tick_cache_recomputes_after_append() {
    let mut store = shared_store();
    let mut cache = TickCache::new();
    let expr = Expr::parse("rate(c{job=\"a\"}[1m])").unwrap_or_else(|e| panic!("{e:?}"));
    let before = expr.eval_with(&store, 65 * S, &mut cache);
    store.append(&labels("c", &[("job", "a")]), 62 * S, 30.0);
    let after = expr.eval_with(&store, 65 * S, &mut cache);
    assert_eq!(format!("{after:?}"), format!("{:?}", expr.eval(&store, 65 * S)));
    assert_ne!(format!("{after:?}"), format!("{before:?}"));
}

#[test]
fn tick_cache_recomputes_at_new_time() {
    let store = shared_store();
    let mut cache = TickCache::new();
    let expr = Expr::parse("rate(c[1m])").unwrap_or_else(|e| panic!("{e:?}"));
    expr.eval_with(&store, 65 * S, &mut cache).unwrap_or_else(|e| panic!("{e:?}"));
    let later = expr.eval_with(&store, 70 * S, &mut cache);
    assert_eq!(format!("{later:?}"), format!("{:?}", expr.eval(&store, 70 * S)));
}
