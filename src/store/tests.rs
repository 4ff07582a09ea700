use super::*;

fn labels(name: &str, instance: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", instance)])
}

fn samples_of(store: &Store, labels: &Labels) -> Vec<(i64, f64)> {
    store.series(labels).map(|s| s.samples().to_vec()).unwrap_or_default()
}

#[test]
fn append_keeps_samples_in_order() {
    let mut store = Store::new(60_000);
    let a = labels("up", "a");
    store.append(&a, 1_000, 1.0);
    store.append(&a, 2_000, 0.0);
    assert_eq!(samples_of(&store, &a), vec![(1_000, 1.0), (2_000, 0.0)]);
}

#[test]
fn out_of_order_sample_is_ignored() {
    let mut store = Store::new(60_000);
    let a = labels("up", "a");
    store.append(&a, 2_000, 1.0);
    store.append(&a, 1_000, 5.0);
    assert_eq!(samples_of(&store, &a), vec![(2_000, 1.0)]);
}

#[test]
fn duplicate_timestamp_is_ignored() {
    let mut store = Store::new(60_000);
    let a = labels("up", "a");
    store.append(&a, 2_000, 1.0);
    store.append(&a, 2_000, 5.0);
    assert_eq!(samples_of(&store, &a), vec![(2_000, 1.0)]);
}

#[test]
fn old_samples_are_dropped_on_append() {
    let mut store = Store::new(10_000);
    let a = labels("up", "a");
    store.append(&a, 1_000, 1.0);
    store.append(&a, 5_000, 2.0);
    store.append(&a, 12_000, 3.0);
    assert_eq!(samples_of(&store, &a), vec![(5_000, 2.0), (12_000, 3.0)]);
}

#[test]
fn long_series_stays_bounded() {
    let mut store = Store::new(10_000);
    let a = labels("up", "a");
    for second in 0..10_000 {
        store.append(&a, second * 1_000, second as f64);
    }
    let kept = samples_of(&store, &a);
    assert_eq!(kept.len(), 10);
    assert_eq!(kept.first(), Some(&(9_990_000, 9_990.0)));
}

#[test]
fn series_without_samples_is_removed() {
    let mut store = Store::new(10_000);
    let a = labels("up", "a");
    store.append(&a, 1_000, 1.0);
    store.prune(20_000);
    assert!(store.series(&a).is_none());
    assert_eq!(store.series_count(), 0);
}

#[test]
fn stale_marker_is_not_a_nan() {
    assert!(!is_stale_marker(f64::NAN));
    assert!(is_stale_marker(STALE_MARKER));
}

#[test]
fn window_is_left_open() {
    let mut store = Store::new(600_000);
    let a = labels("m", "a");
    for t in [60_000, 90_000, 120_000] {
        store.append(&a, t, 1.0);
    }
    let series = store.series(&a).expect("series exists");
    let window = series.window(60_000, 120_000);
    assert_eq!(window.samples, &[(90_000, 1.0), (120_000, 1.0)]);
}

#[test]
fn window_reports_reset_inside() {
    let mut store = Store::new(600_000);
    let a = labels("m", "a");
    for (t, v) in [(10_000, 5.0), (20_000, 1.0), (30_000, 2.0)] {
        store.append(&a, t, v);
    }
    let series = store.series(&a).expect("series exists");
    assert!(series.window(0, 30_000).has_reset);
    assert!(!series.window(15_000, 30_000).has_reset);
}

#[test]
fn window_reports_stale_marker() {
    let mut store = Store::new(600_000);
    let a = labels("m", "a");
    store.append(&a, 10_000, 1.0);
    store.append(&a, 20_000, STALE_MARKER);
    store.append(&a, 30_000, 1.0);
    let series = store.series(&a).expect("series exists");
    assert!(series.window(0, 30_000).has_stale);
    assert!(!series.window(20_000, 30_000).has_stale);
}

#[test]
fn name_index_selects_by_name() {
    let mut store = Store::new(60_000);
    store.append(&labels("a", "x"), 1_000, 1.0);
    store.append(&labels("b", "x"), 1_000, 1.0);
    assert_eq!(store.series_named(Some("a")).count(), 1);
    assert_eq!(store.series_named(None).count(), 2);
}

#[test]
fn samples_from_follows_sequence_numbers() {
    let mut store = Store::new(2_500);
    let a = labels("up", "a");
    for t in 1..=5 {
        store.append(&a, t * 1_000, t as f64);
    }
    // The samples at 1 s and 2 s, sequence numbers 0 and 1, are past the
    // 2.5-second retention.
    let series = store.series(&a).expect("series exists");
    assert_eq!(series.appended(), 5);
    assert_eq!(series.samples_from(2), Some(&[(3_000, 3.0), (4_000, 4.0), (5_000, 5.0)][..]));
    assert_eq!(series.samples_from(5), Some(&[][..]));
    assert_eq!(series.samples_from(1), None);
    assert_eq!(series.samples_from(6), None);
}

#[test]
fn window_names_first_sequence() {
    let mut store = Store::new(60_000);
    let a = labels("up", "a");
    for t in 1..=5 {
        store.append(&a, t * 1_000, t as f64);
    }
    let series = store.series(&a).expect("series exists");
    assert_eq!(series.window(2_000, 4_000).first_sequence, 2);
}

#[test]
fn labels_without_name_drops_only_name() {
    let mut store = Store::new(60_000);
    let a = labels("up", "a");
    store.append(&a, 1_000, 1.0);
    let series = store.series(&a).expect("series exists");
    assert_eq!(series.labels_without_name(), &Labels::from_pairs([("instance", "a")]));
}
