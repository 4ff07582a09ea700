//! Feeds arbitrary bytes to the exposition parser in both formats.
//! Checks that nothing panics, that every error names a line and column,
//! and that the normalized listing of a text body reads back as the same
//! samples.

#![no_main]

use andon::exposition::{check_metrics, parse, Format, Sample};
use libfuzzer_sys::fuzz_target;

fn same(a: &Sample, b: &Sample) -> bool {
    let same_value = a.value == b.value || (a.value.is_nan() && b.value.is_nan());
    a.labels == b.labels && same_value && a.timestamp_ms == b.timestamp_ms
}

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        let report = parse(data, format, &|_| true);
        assert!(report.errors.iter().all(|e| e.line >= 1 && e.column >= 1));
        let _ = parse(data, format, &|name: &str| name.len() % 2 == 0);
    }
    let report = parse(data, Format::Text, &|_| true);
    let (listing, valid) = check_metrics(data, Format::Text);
    assert_eq!(valid, report.errors.is_empty());
    let samples: String = listing
        .lines()
        .take(report.samples.len())
        .map(|l| format!("{l}\n"))
        .collect();
    let again = parse(samples.as_bytes(), Format::Text, &|_| true);
    assert!(
        again.errors.is_empty(),
        "listing does not read back: {:?}",
        again.errors
    );
    assert_eq!(again.samples.len(), report.samples.len());
    assert!(report
        .samples
        .iter()
        .zip(&again.samples)
        .all(|(a, b)| same(a, b)));
});
