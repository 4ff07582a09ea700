use super::*;

fn all(_: &str) -> bool {
    true
}

fn text(body: &str) -> ParseReport {
    parse(body.as_bytes(), Format::Text, &all)
}

fn openmetrics(body: &str) -> ParseReport {
    parse(body.as_bytes(), Format::OpenMetrics, &all)
}

fn only_sample(report: &ParseReport) -> &Sample {
    assert_eq!(report.errors, vec![], "unexpected errors");
    assert_eq!(report.samples.len(), 1, "sample count");
    &report.samples[0]
}

fn label<'r>(sample: &'r Sample, name: &str) -> Option<&'r str> {
    sample.labels.get(name)
}

#[test]
fn text_escaped_quote_in_label_value() {
    let report = text("m{name=\"\\\"bar\\\"\"} 1\n");
    assert_eq!(label(only_sample(&report), "name"), Some("\"bar\""));
}

#[test]
fn text_escaped_backslash_then_n_stays_four_chars() {
    let report = text("m{p=\"a\\\\nb\"} 2\n");
    let value = label(only_sample(&report), "p").unwrap();
    assert_eq!(value, "a\\nb");
    assert_eq!(value.chars().count(), 4);
}

#[test]
fn text_trailing_escaped_backslash_ends_value() {
    let report = text("m{part=\"F:\\\\\",vm=\"x\"} 3\n");
    let sample = only_sample(&report);
    assert_eq!(sample.labels.len(), 3);
    assert_eq!(label(sample, "part"), Some("F:\\"));
    assert_eq!(label(sample, "vm"), Some("x"));
}

#[test]
fn text_escaped_newline_becomes_newline() {
    let report = text("m{msg=\"l1\\nl2\"} 4\n");
    assert_eq!(label(only_sample(&report), "msg"), Some("l1\nl2"));
}

#[test]
fn label_values_with_syntax_characters_are_kept() {
    let report = text("req{path=\"/a?b=c\",code=\"200\"} 3\nfoo{bar=\"baz,qux\",x=\"1\"} 1\next{e=\"{plpgsql}\",db=\"pg\"} 1\n");
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 3);
    let s = &report.samples;
    assert_eq!(label(&s[0], "path"), Some("/a?b=c"));
    assert_eq!(label(&s[0], "code"), Some("200"));
    assert_eq!(s[0].value, 3.0);
    assert_eq!(label(&s[1], "bar"), Some("baz,qux"));
    assert_eq!(label(&s[1], "x"), Some("1"));
    assert_eq!(label(&s[2], "e"), Some("{plpgsql}"));
    assert_eq!(label(&s[2], "db"), Some("pg"));
}

#[test]
fn empty_braces_and_colon_names_are_valid() {
    let report = text("foo{} 1\njob:http_requests:rate5m 0.5\n");
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples[0].labels.metric_name(), Some("foo"));
    assert_eq!(report.samples[0].labels.len(), 1);
    assert_eq!(
        report.samples[1].labels.metric_name(),
        Some("job:http_requests:rate5m")
    );
    assert_eq!(report.samples[1].value, 0.5);
}

#[test]
fn invalid_value_names_line_and_token() {
    let report = text("ok 1\nbad 12abc\n");
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.errors.len(), 1);
    let error = &report.errors[0];
    assert_eq!(error.line, 2);
    assert_eq!(error.column, 5);
    assert!(error.message.contains("\"12abc\""), "{}", error.message);
}

#[test]
fn text_fractional_timestamp_is_an_error() {
    let report = text("u 1 1700000000.5\n");
    assert_eq!(report.samples.len(), 0);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].column, 5);
    assert!(report.errors[0].message.contains("\"1700000000.5\""));
}

#[test]
fn text_timestamp_is_milliseconds() {
    let report = text("x 1 1700000000000\n");
    // 1700000000000 ms is 2023-11-14T22:13:20Z.
    let expected = time::macros::datetime!(2023-11-14 22:13:20 UTC).unix_timestamp() * 1000;
    assert_eq!(only_sample(&report).timestamp_ms, Some(expected));
    assert_eq!(expected, 1_700_000_000_000);
}

#[test]
fn openmetrics_timestamp_is_float_seconds() {
    let report = openmetrics("x 1 1700000000.5\n# EOF\n");
    assert_eq!(only_sample(&report).timestamp_ms, Some(1_700_000_000_500));
}

#[test]
fn bad_line_is_reported_and_rest_parses() {
    let report = text("a 1\nb{x=\"1\" 2\nc 3\n");
    assert_eq!(report.samples.len(), 2);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 2);
    assert_eq!(report.samples[1].labels.metric_name(), Some("c"));
}

#[test]
fn special_values_and_exponents_parse() {
    let report = text("a NaN\nb +Inf\nc -Inf\nd 1.5e3\ne -2E-2\n");
    assert_eq!(report.errors, vec![]);
    assert!(report.samples[0].value.is_nan());
    assert_eq!(report.samples[1].value, f64::INFINITY);
    assert_eq!(report.samples[2].value, f64::NEG_INFINITY);
    assert_eq!(report.samples[3].value, 1500.0);
    assert_eq!(report.samples[4].value, -0.02);
}

#[test]
fn hex_value_is_an_error() {
    let report = text("a 0x1F\n");
    assert_eq!(report.samples.len(), 0);
    assert!(report.errors[0].message.contains("\"0x1F\""));
}

#[test]
fn help_escapes_are_resolved() {
    let report = text("# HELP a line\\nnext \\\\ end\n# TYPE a gauge\na 1\n");
    let family = &report.families[0];
    assert_eq!(family.help.as_deref(), Some("line\nnext \\ end"));
    assert_eq!(family.metric_type, Some(MetricType::Gauge));
}

#[test]
fn openmetrics_unit_and_type_are_kept() {
    let report =
        openmetrics("# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n");
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.families[0].unit.as_deref(), Some("seconds"));
}

#[test]
fn exemplar_is_kept_apart_from_value() {
    let report =
        openmetrics("# TYPE a counter\na_total 3 1.5 # {trace_id=\"abc\"} 0.25 2.5\n# EOF\n");
    let sample = only_sample(&report);
    assert_eq!(sample.value, 3.0);
    assert_eq!(sample.timestamp_ms, Some(1500));
    let exemplar = sample.exemplar.as_ref().unwrap();
    assert_eq!(exemplar.labels.get("trace_id"), Some("abc"));
    assert_eq!(exemplar.value, 0.25);
    assert_eq!(exemplar.timestamp_ms, Some(2500));
}

#[test]
fn created_is_folded_into_family() {
    let report = openmetrics("# TYPE a counter\na_total 1\na_created 1700000000\n# EOF\n");
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.created, 1);
    assert_eq!(report.families[0].created_seconds, Some(1_700_000_000.0));
}

#[test]
fn openmetrics_requires_eof() {
    let report = openmetrics("a 1\n");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 2);
}

#[test]
fn openmetrics_rejects_text_after_eof() {
    let report = openmetrics("a 1\n# EOF\nb 2\n");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 3);
}

#[test]
fn text_only_forms_are_invalid_openmetrics() {
    let bodies = [
        "a{x=\"1\",} 1\n# EOF\n",
        "a 1\n\nb 1\n# EOF\n",
        "# TYPE a untyped\na 1\n# EOF\n",
        "a 1\n",
    ];
    for body in bodies {
        assert_eq!(text(body).errors, vec![], "text 0.0.4: {body:?}");
        assert!(
            !openmetrics(body).errors.is_empty(),
            "OpenMetrics: {body:?}"
        );
    }
}

#[test]
fn text_reads_crlf_and_missing_final_newline() {
    let report = text("a{x=\"1\"} 1\r\nb 2 1000\r\nc 3");
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 3);
    assert_eq!(label(&report.samples[0], "x"), Some("1"));
    assert_eq!(report.samples[1].timestamp_ms, Some(1000));
    assert_eq!(report.samples[2].value, 3.0);
}

#[test]
fn histogram_bounds_are_canonical() {
    let body = "# TYPE h histogram\nh_bucket{le=\"0.100\"} 1\nh_bucket{le=\"1.000\"} 2\nh_bucket{le=\"1e6\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 2\nh_count 3\n";
    let report = text(body);
    assert_eq!(report.errors, vec![]);
    let les: Vec<_> = report
        .samples
        .iter()
        .filter_map(|s| s.labels.get("le"))
        .collect();
    assert_eq!(les, vec!["0.1", "1", "1e+06", "+Inf"]);
}

#[test]
fn summary_quantiles_are_canonical() {
    let report = text(
        "# TYPE s summary\ns{quantile=\"0.50\"} 1\ns{quantile=\"1.0\"} 2\ns_sum 3\ns_count 2\n",
    );
    let quantiles: Vec<_> = report
        .samples
        .iter()
        .filter_map(|s| s.labels.get("quantile"))
        .collect();
    assert_eq!(quantiles, vec!["0.5", "1"]);
}

#[test]
fn repeated_series_keeps_first_value() {
    let report = text("a{x=\"1\"} 1\na{x=\"1\"} 2\n");
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.samples[0].value, 1.0);
    assert_eq!(report.duplicates, 1);
}

#[test]
fn repeated_series_with_reordered_labels_is_duplicate() {
    let report = text("a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n");
    assert_eq!(report.duplicates, 1);
}

#[test]
fn repeated_series_written_differently_is_duplicate() {
    // Each line repeats the first series: blanks, a trailing comma, an
    // empty label, an escape written two ways, and an empty label set.
    let cases = [
        ("a{x=\"1\",y=\"2\"} 1\n", "a { x = \"1\" , y=\"2\", } 2\n"),
        ("a{x=\"1\"} 1\n", "a{e=\"\",x=\"1\"} 2\n"),
        ("a{x=\"\\\\z\"} 1\n", "a{x=\"\\z\"} 2\n"),
        ("a{x=\"q\\\"\"} 1\n", "a{x=\"q\\\"\"} 2\n"),
        ("a 1\n", "a{} 2\n"),
        ("a{} 1\n", "a{e=\"\"} 2\n"),
    ];
    for (first, second) in cases {
        let report = text(&format!("{first}{second}"));
        assert_eq!(report.errors, vec![], "{first}{second}");
        assert_eq!(report.duplicates, 1, "{first}{second}");
    }
}

#[test]
fn bucket_bound_written_two_ways_is_duplicate() {
    let body = "# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"1\"} 2\n";
    let report = text(body);
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.duplicates, 1);
}

#[test]
fn series_differing_in_one_byte_are_distinct() {
    let report =
        text("a{x=\"1\"} 1\na{x=\"2\"} 2\na{x=\"1\",y=\"\\\\\"} 3\na{x=\"1\",y=\"\\\"\"} 4\n");
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.samples.len(), 4);
}

#[test]
fn repeat_after_other_families_is_duplicate() {
    let body = "a{x=\"1\"} 1\na_sum 2\nb 3\na{x=\"2\"} 4\nc 5\na{x=\"1\"} 6\na_sum 7\nb 8\n";
    let report = text(body);
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 5);
    assert_eq!(report.duplicates, 3);
}

#[test]
fn repeat_across_runs_is_duplicate() {
    // The first run of `a` is clean (read again from the body when `a`
    // comes back), or not clean for one of several reasons (its entries
    // are kept in a log instead). Each body repeats `a{x="1"}` once.
    let bodies = [
        "a{x=\"1\"} 1\n  a{x=\"2\"} 1\r\nb 1\na{x=\"1\"} 2\n",
        "a{x=\"1\",a=\"0\"} 1\nb 1\na{a=\"0\",x=\"1\"} 2\n",
        "a{x=\"1\"} 1\n# comment\na{x=\"2\"} 1\nb 1\na{x=\"1\"} 2\n",
        "a{x=\"1\"} 1\n\na{x=\"2\"} 1\nb 1\na{x=\"1\"} 2\n",
        "a{x=\"1\"} 1\na{x=\"1\",x=\"1\"} 1\na{x=\"2\"} 1\nb 1\na{x=\"1\"} 2\n",
        "a{x=\"\\\\\"} 1\na{x=\"1\"} 1\nb 1\na{x=\"1\"} 2\n",
        "a{x=\"1\"} 1\na_created 5\na{x=\"2\"} 1\nb 1\na{x=\"1\"} 2\n",
        "a{x=\"1\"} 1\na{x=\"1\"} 1\nb 1\na{x=\"1\"} 2\na{x=\"3\"} 1\nc 1\na{x=\"3\"} 2\n",
    ];
    for body in bodies {
        let report = text(body);
        let expected_errors = usize::from(body.contains("x=\"1\",x="));
        assert_eq!(report.errors.len(), expected_errors, "{body:?}");
        let expected = if body.matches("a{x=\"1\"}").count() == 3 {
            2
        } else {
            1
        };
        let expected = expected + usize::from(body.contains("x=\"3\"} 2"));
        assert_eq!(report.duplicates, expected, "{body:?}");
    }
}

#[test]
fn filtered_line_inside_run_keeps_repeat_detection() {
    let keep = |name: &str| name != "a_sum";
    let body = b"a{x=\"1\"} 1\na_sum 1\na{x=\"2\"} 1\nb 1\na{x=\"2\"} 2\n";
    let report = parse(body, Format::Text, &keep);
    assert_eq!(report.filtered, 1);
    assert_eq!(report.duplicates, 1);
}

#[test]
fn repeat_after_large_family_is_duplicate() {
    // A family large enough that its table is dropped, not cleared, when
    // the small families after it start.
    let mut body = String::new();
    for i in 0..20_000 {
        body.push_str(&format!("big{{i=\"{i}\"}} 1\n"));
    }
    body.push_str("s1 1\ns2 1\nbig{i=\"7\"} 2\ns1 3\nbig{i=\"20000\"} 4\n");
    let report = text(&body);
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 20_003);
    assert_eq!(report.duplicates, 2);
}

#[test]
fn repeated_label_name_rejects_only_that_sample() {
    let report = text("a{x=\"1\",x=\"2\"} 1\nb 2\n");
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].column, 9);
    assert!(report.errors[0].message.contains("\"x\""));
}

#[test]
fn keep_skips_unwanted_lines() {
    let keep = |name: &str| name == "b";
    let report = parse(b"a 1\nb 2\nc{x=\"y\"} 3\n", Format::Text, &keep);
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.filtered, 2);
}

#[test]
fn visitor_gets_borrowed_labels() {
    struct Names(Vec<String>);
    impl<'a> Visitor<'a> for Names {
        fn sample(&mut self, sample: &SampleRef<'a, '_>) {
            for label in sample.labels {
                self.0
                    .push(format!("{}={}", label.name, label.value.to_cow()));
            }
        }
    }
    let mut names = Names(Vec::new());
    let summary = visit(
        b"a{b=\"2\",a=\"1\"} 1\n",
        Format::Text,
        |_| true,
        &mut names,
    );
    assert_eq!(summary.errors, vec![]);
    assert_eq!(names.0, vec!["a=1", "b=2"]);
}

/// Collects each delivered sample's `series_text`.
struct SeriesTexts(Vec<String>);

impl<'a> Visitor<'a> for SeriesTexts {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        self.0.push(sample.series_text.to_string());
    }
}

#[test]
fn series_text_spans_name_and_label_set() {
    let body = b"  a{b=\"x y\",c=\"}\"} 1 17\nup 1\nm {q=\"\\\"\"}\t2\ne{} 3\n";
    let mut texts = SeriesTexts(Vec::new());
    let summary = visit(body, Format::Text, |_| true, &mut texts);
    assert_eq!(summary.errors, vec![]);
    assert_eq!(
        texts.0,
        vec!["a{b=\"x y\",c=\"}\"}", "up", "m {q=\"\\\"\"}", "e{}"]
    );
}

#[test]
fn series_text_in_openmetrics_stops_before_exemplar() {
    let body = b"# TYPE c counter\nc_total{a=\"1\"} 1 # {t=\"x\"} 1\n# EOF\n";
    let mut texts = SeriesTexts(Vec::new());
    let summary = visit(body, Format::OpenMetrics, |_| true, &mut texts);
    assert_eq!(summary.errors, vec![]);
    assert_eq!(texts.0, vec!["c_total{a=\"1\"}"]);
}

#[test]
fn content_type_picks_format() {
    let cases = [
        (
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Some(Format::OpenMetrics),
        ),
        (
            Some("text/plain; version=0.0.4; charset=utf-8"),
            Some(Format::Text),
        ),
        (Some("text/plain"), Some(Format::Text)),
        (Some("application/json"), None),
        (None, None),
    ];
    for (header, expected) in cases {
        assert_eq!(format_from_content_type(header), expected, "{header:?}");
    }
}

#[test]
fn check_metrics_normalizes_and_lists_problems() {
    let body = b"b{z=\"2\",a=\"1\"} 1.50 1000\nbad 12abc\n";
    let (listing, valid) = check_metrics(body, Format::Text);
    assert_eq!(
        listing,
        "b{a=\"1\",z=\"2\"} 1.5 1000\n2:5: invalid value \"12abc\" for metric \"bad\"\n"
    );
    assert!(!valid);
}

#[test]
fn check_metrics_writes_exemplar() {
    let body = b"# TYPE a counter\na_total 1 # {t=\"x\"} 2 3\n# EOF\n";
    let (listing, valid) = check_metrics(body, Format::OpenMetrics);
    assert_eq!(listing, "a_total{} 1 # {t=\"x\"} 2 3000\n");
    assert!(valid);
}

#[test]
fn filtered_histogram_parts_give_no_errors() {
    let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# EOF\n";
    let report = parse(body.as_bytes(), Format::OpenMetrics, &|name: &str| {
        name == "h_count"
    });
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 1);
    assert_eq!(report.filtered, 3);
}

#[test]
fn openmetrics_histogram_keeps_one_family_per_label_set() {
    let body = "# TYPE h histogram\n\
        h_bucket{path=\"/a\",le=\"0.5\"} 1\nh_bucket{path=\"/a\",le=\"+Inf\"} 2\nh_sum{path=\"/a\"} 3\nh_count{path=\"/a\"} 2\n\
        h_bucket{path=\"/b\",le=\"0.5\"} 0\nh_bucket{path=\"/b\",le=\"+Inf\"} 1\nh_sum{path=\"/b\"} 1\nh_count{path=\"/b\"} 1\n# EOF\n";
    let report = openmetrics(body);
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.samples.len(), 8);
    assert_eq!(report.families.len(), 1);
    assert_eq!(report.families[0].metric_type, Some(MetricType::Histogram));
    assert_eq!(report.samples[0].labels.get("le"), Some("0.5"));
}

#[test]
fn metric_name_label_in_braces_is_an_error() {
    let report = text("a{__name__=\"b\"} 1\n");
    assert_eq!(report.samples.len(), 0);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].column, 3);
}

#[test]
fn exemplar_on_gauge_is_an_error() {
    let report = openmetrics("# TYPE a gauge\na 1 # {x=\"y\"} 1\n# EOF\n");
    assert_eq!(report.samples.len(), 0);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 2);
}
