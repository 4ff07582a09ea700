//! The labels a scraped series is stored under: its own labels with the
//! target's labels attached.

use std::cmp::Ordering;

use crate::exposition::{self, LabelRef, LabelValue};
use crate::labels::{Labels, METRIC_NAME};

/// Attaches one target's labels to the series scraped from it.
#[derive(Debug)]
pub(crate) struct TargetLabeler<'t> {
    target_labels: &'t Labels,
    /// A target label named `exported_<x>` can interact with the renaming
    /// of a clashing label `x`. Such targets take the slower path, which
    /// applies the labels one at a time.
    merge_in_order: bool,
}

impl<'t> TargetLabeler<'t> {
    pub(crate) fn new(target_labels: &'t Labels) -> TargetLabeler<'t> {
        TargetLabeler {
            target_labels,
            merge_in_order: target_labels.iter().all(|(name, _)| !name.starts_with("exported_")),
        }
    }

    /// Builds the owned labels of a scraped sample, with the target's labels
    /// attached as [`attach_target_labels`] does.
    pub(crate) fn labels(&self, name: &str, scraped: &[LabelRef<'_>]) -> Labels {
        if self.merge_in_order {
            merge_target_labels(name, scraped, self.target_labels)
        } else {
            attach_target_labels(exposition::owned_labels(name, scraped), self.target_labels)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Format, SampleRef, Visitor};

    struct Collect<'l, 't>(&'l TargetLabeler<'t>, Vec<Labels>);

    impl<'a> Visitor<'a> for Collect<'_, '_> {
        fn sample(&mut self, sample: &SampleRef<'a, '_>) {
            self.1.push(self.0.labels(sample.name, sample.labels));
        }
    }

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
        let labeler = TargetLabeler::new(target);
        let mut merged = Collect(&labeler, Vec::new());
        exposition::visit(body.as_bytes(), Format::Text, keep_all, &mut merged);
        let owned = exposition::parse(body.as_bytes(), Format::Text, &keep_all);
        let merged = merged.1;
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
}
