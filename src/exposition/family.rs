//! Metric families: which family a sample name belongs to, and the
//! OpenMetrics rules that span several lines (metadata placement, name
//! clashes, contiguous groups, histogram and summary consistency).

use std::collections::{HashMap, HashSet};

use super::lexer::same_bytes;
use super::number::CanonicalFloat;
use super::Format;

/// The type a `# TYPE` line declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `unknown` in OpenMetrics, `untyped` in text 0.0.4, and any family
    /// without a `# TYPE` line.
    Unknown,
}

impl MetricType {
    pub(crate) fn parse(text: &str, format: Format) -> Option<Self> {
        let kind = match (text, format) {
            ("counter", _) => MetricType::Counter,
            ("gauge", _) => MetricType::Gauge,
            ("histogram", _) => MetricType::Histogram,
            ("summary", _) => MetricType::Summary,
            ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => MetricType::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
            ("info", Format::OpenMetrics) => MetricType::Info,
            ("stateset", Format::OpenMetrics) => MetricType::StateSet,
            _ => return None,
        };
        Some(kind)
    }

    /// Returns the suffixes that turn a family name into its sample names.
    /// In text 0.0.4 a counter's samples carry the family name as it is
    /// (`http_requests_total` is both), in OpenMetrics they add `_total`.
    pub(crate) fn suffixes(self, format: Format) -> &'static [&'static str] {
        match (self, format) {
            (MetricType::Counter, Format::Text) => &[""],
            (MetricType::Counter, Format::OpenMetrics) => &["_total", "_created"],
            (MetricType::Histogram, _) => &["_bucket", "_count", "_sum", "_created"],
            (MetricType::GaugeHistogram, _) => &["_bucket", "_gcount", "_gsum"],
            (MetricType::Summary, _) => &["", "_count", "_sum", "_created"],
            (MetricType::Info, _) => &["_info"],
            (MetricType::Gauge | MetricType::StateSet | MetricType::Unknown, _) => &[""],
        }
    }

    fn is_histogram(self) -> bool {
        matches!(self, MetricType::Histogram | MetricType::GaugeHistogram)
    }
}

/// The family a sample line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub kind: MetricType,
    pub suffix: &'static str,
}

impl Resolved {
    const UNKNOWN: Resolved = Resolved {
        kind: MetricType::Unknown,
        suffix: "",
    };

    /// True for a `_created` sample, which carries the family's creation
    /// time rather than a series of its own.
    pub fn is_created(self) -> bool {
        self.suffix == "_created"
    }

    /// Returns the label that varies within one group of samples: `le`
    /// for buckets, `quantile` for summary quantiles.
    pub fn bound_label(self) -> Option<&'static str> {
        match (self.kind, self.suffix) {
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
            (MetricType::Summary, "") => Some("quantile"),
            _ => None,
        }
    }
}

/// Everything the family rules need to know about one sample line.
pub(crate) struct SampleFacts<'s> {
    pub resolved: Resolved,
    pub value: f64,
    /// The numeric `le` or `quantile` bound; `Err` contains its text when it
    /// is missing (`""`) or not a number.
    pub bound: Result<f64, &'s str>,
    /// True when the label named after a state set family is present.
    pub has_state_label: bool,
    /// Number of characters in the exemplar's label names and values.
    pub exemplar_chars: Option<usize>,
    /// Hash of the labels that identify the sample's group.
    pub group_key: u64,
    pub line: usize,
}

/// A problem that spans several lines, reported at `line`.
pub(crate) struct FamilyError {
    pub line: usize,
    pub message: String,
}

/// Maximum length of an exemplar's label set in OpenMetrics 1.0, counted
/// in characters of label names and values.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

#[derive(Default)]
struct Group {
    key: u64,
    last_line: usize,
    previous_le: Option<f64>,
    previous_bucket: f64,
    infinity_bucket: Option<f64>,
    negative_bucket: bool,
    sum: Option<f64>,
    count: Option<f64>,
    has_histogram_sample: bool,
}

struct Family {
    name: String,
    kind: MetricType,
    has_type: bool,
    has_help: bool,
    has_unit: bool,
    has_samples: bool,
    any_filtered: bool,
    group: Option<Group>,
    closed_groups: HashSet<u64>,
}

impl Family {
    fn new(name: &str) -> Self {
        Family {
            name: name.to_string(),
            kind: MetricType::Unknown,
            has_type: false,
            has_help: false,
            has_unit: false,
            has_samples: false,
            any_filtered: false,
            group: None,
            closed_groups: HashSet::new(),
        }
    }

    fn owns(&self, sample_name: &str, format: Format) -> Option<Resolved> {
        // Compare lengths first: most names differ in length from every
        // sample name of the family, which makes the common miss cheap.
        let extra = sample_name.len().checked_sub(self.name.len())?;
        let mut candidates = self
            .kind
            .suffixes(format)
            .iter()
            .filter(|s| s.len() == extra)
            .peekable();
        candidates.peek()?;
        let (base, rest) = sample_name.split_at_checked(self.name.len())?;
        if !same_bytes(base.as_bytes(), self.name.as_bytes()) {
            return None;
        }
        candidates
            .find(|s| same_bytes(s.as_bytes(), rest.as_bytes()))
            .map(|suffix| Resolved {
                kind: self.kind,
                suffix,
            })
    }
}

/// A metadata line.
pub(crate) enum Meta<'s> {
    Help,
    Type(MetricType),
    Unit(&'s str),
}

/// The family state of one body.
pub(crate) struct Families {
    format: Format,
    current: Option<Family>,
    /// OpenMetrics only: the type of every family met so far, to find
    /// a name met twice and sample names that clash with another family.
    seen: HashMap<String, MetricType>,
}

impl Families {
    pub fn new(format: Format) -> Self {
        Families {
            format,
            current: None,
            seen: HashMap::new(),
        }
    }

    /// Returns the family that owns `sample_name`. In OpenMetrics, a name
    /// that belongs to an earlier family is an error, and any other name
    /// starts a new family of unknown type.
    pub fn resolve(
        &mut self,
        sample_name: &str,
        errors: &mut Vec<FamilyError>,
    ) -> Result<Resolved, String> {
        if let Some(resolved) = self
            .current
            .as_ref()
            .and_then(|f| f.owns(sample_name, self.format))
        {
            return Ok(resolved);
        }
        if self.format == Format::Text {
            return Ok(Resolved::UNKNOWN);
        }
        if let Some(family) = self
            .current
            .as_ref()
            .filter(|f| sample_name.starts_with(f.name.as_str()))
        {
            if self.earlier_owner(sample_name) == Some(family.name.as_str()) {
                return Err(format!(
                    "\"{sample_name}\" is not a sample name of {:?} family \"{}\"",
                    family.kind, family.name
                ));
            }
        }
        if let Some(owner) = self.earlier_owner(sample_name) {
            return Err(format!(
                "sample \"{sample_name}\" belongs to family \"{owner}\", whose lines must be contiguous"
            ));
        }
        self.start_family(sample_name, errors);
        Ok(Resolved::UNKNOWN)
    }

    /// Notes a sample line that `keep` rejected, so that the checks that
    /// need every line of a family skip that family.
    pub fn note_filtered(&mut self, sample_name: &str) {
        let format = self.format;
        if let Some(family) = self.current.as_mut() {
            if family.owns(sample_name, format).is_some() {
                family.any_filtered = true;
            }
        }
    }

    /// Returns the earlier family whose samples include `sample_name`.
    /// Strips each known suffix instead of scanning every family, so the
    /// cost does not grow with the number of families.
    fn earlier_owner(&self, sample_name: &str) -> Option<&str> {
        const ALL_SUFFIXES: [&str; 9] = [
            "", "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
        ];
        ALL_SUFFIXES.iter().find_map(|suffix| {
            let base = sample_name.strip_suffix(suffix)?;
            let (name, kind) = self.seen.get_key_value(base)?;
            let owns = suffix.is_empty() || kind.suffixes(self.format).contains(suffix);
            owns.then_some(name.as_str())
        })
    }

    fn start_family(&mut self, name: &str, errors: &mut Vec<FamilyError>) {
        self.finish(errors);
        self.seen.insert(name.to_string(), MetricType::Unknown);
        self.current = Some(Family::new(name));
    }

    /// Applies a `# HELP`, `# TYPE` or `# UNIT` line.
    pub fn metadata(
        &mut self,
        name: &str,
        meta: Meta<'_>,
        errors: &mut Vec<FamilyError>,
    ) -> Result<(), String> {
        if self.format == Format::Text {
            if let Meta::Type(kind) = meta {
                // Reuse the name buffer: text bodies have a TYPE line per family.
                match self.current.as_mut() {
                    Some(family) => {
                        family.name.clear();
                        family.name.push_str(name);
                        family.kind = kind;
                    }
                    None => {
                        self.current = Some(Family {
                            kind,
                            ..Family::new(name)
                        })
                    }
                }
            }
            return Ok(());
        }
        let is_current = self.current.as_ref().is_some_and(|f| f.name == name);
        if !is_current {
            if self.seen.contains_key(name) || self.earlier_owner(name).is_some() {
                return Err(format!(
                    "metadata for \"{name}\" clashes with an earlier family"
                ));
            }
            self.start_family(name, errors);
        }
        let Some(family) = self.current.as_mut() else {
            return Ok(());
        };
        if family.has_samples {
            return Err(format!(
                "metadata for \"{name}\" must come before its samples"
            ));
        }
        match meta {
            Meta::Help => set_once(&mut family.has_help, "HELP", name)?,
            Meta::Unit(unit) => {
                set_once(&mut family.has_unit, "UNIT", name)?;
                check_unit(name, unit, family.kind)?;
            }
            Meta::Type(kind) => {
                set_once(&mut family.has_type, "TYPE", name)?;
                if family.has_unit {
                    check_unit(name, "", kind)?;
                }
                family.kind = kind;
                self.seen.insert(name.to_string(), kind);
                self.check_clashes(name, kind)?;
            }
        }
        Ok(())
    }

    fn check_clashes(&self, name: &str, kind: MetricType) -> Result<(), String> {
        for suffix in kind.suffixes(self.format).iter().filter(|s| !s.is_empty()) {
            let sample_name = format!("{name}{suffix}");
            if self.seen.contains_key(&sample_name) {
                return Err(format!(
                    "samples \"{sample_name}\" of \"{name}\" clash with family \"{sample_name}\""
                ));
            }
        }
        Ok(())
    }

    /// Applies the OpenMetrics rules to one sample of the current family.
    pub fn check_sample(
        &mut self,
        facts: &SampleFacts<'_>,
        errors: &mut Vec<FamilyError>,
    ) -> Result<(), String> {
        if self.format == Format::Text {
            return Ok(());
        }
        let Some(family) = self.current.as_mut() else {
            return Ok(());
        };
        check_values(&family.name, facts)?;
        if family
            .group
            .as_ref()
            .is_some_and(|g| g.key != facts.group_key)
        {
            if let Some(group) = family.group.take() {
                family.closed_groups.insert(group.key);
                finish_group(family, &group, errors);
            }
        }
        if family.group.is_none() {
            if family.closed_groups.contains(&facts.group_key) {
                return Err(format!(
                    "samples of \"{}\" with the same labels must be contiguous",
                    family.name
                ));
            }
            family.group = Some(Group {
                key: facts.group_key,
                ..Group::default()
            });
        }
        family.has_samples = true;
        let kind = family.kind;
        let group = family.group.get_or_insert_with(Group::default);
        group.last_line = facts.line;
        if kind.is_histogram() {
            record_histogram_sample(group, facts)?;
        }
        Ok(())
    }

    /// Runs the checks that need a whole family; call at the end of a body.
    pub fn finish(&mut self, errors: &mut Vec<FamilyError>) {
        if let Some(mut family) = self.current.take() {
            if let Some(group) = family.group.take() {
                finish_group(&family, &group, errors);
            }
        }
    }
}

fn set_once(flag: &mut bool, keyword: &str, name: &str) -> Result<(), String> {
    if *flag {
        return Err(format!("repeated {keyword} line for \"{name}\""));
    }
    *flag = true;
    Ok(())
}

fn check_unit(name: &str, unit: &str, kind: MetricType) -> Result<(), String> {
    if matches!(kind, MetricType::Info | MetricType::StateSet) {
        return Err(format!(
            "\"{name}\" is an info or stateset family, which cannot have a unit"
        ));
    }
    if !unit.is_empty()
        && !name
            .strip_suffix(unit)
            .is_some_and(|base| base.ends_with('_'))
    {
        return Err(format!(
            "metric name \"{name}\" must end with \"_{unit}\", its unit"
        ));
    }
    Ok(())
}

fn check_values(family: &str, facts: &SampleFacts<'_>) -> Result<(), String> {
    let Resolved { kind, suffix } = facts.resolved;
    let value = facts.value;
    let must_be_count = matches!(
        (kind, suffix),
        (MetricType::Counter, "_total")
            | (MetricType::Histogram, "_bucket" | "_count" | "_sum")
            | (MetricType::GaugeHistogram, "_bucket" | "_gcount")
            | (MetricType::Summary, "_count" | "_sum")
    );
    if must_be_count && (value.is_nan() || value < 0.0) {
        return Err(format!(
            "\"{family}{suffix}\" must be a non-negative number, not {value}"
        ));
    }
    if kind == MetricType::GaugeHistogram && suffix == "_gsum" && value.is_nan() {
        return Err(format!("\"{family}_gsum\" must not be NaN"));
    }
    check_bound(family, facts)?;
    check_state_and_info(family, facts)?;
    check_exemplar(family, facts)
}

fn check_bound(family: &str, facts: &SampleFacts<'_>) -> Result<(), String> {
    let Some(label) = facts.resolved.bound_label() else {
        return Ok(());
    };
    let bound = match facts.bound {
        Ok(bound) => bound,
        Err("") => return Err(format!("sample of \"{family}\" has no \"{label}\" label")),
        Err(text) => return Err(format!("invalid \"{label}\" value \"{text}\"")),
    };
    if label == "quantile" {
        if !(0.0..=1.0).contains(&bound) {
            return Err(format!(
                "quantile {bound} of \"{family}\" is outside 0 to 1"
            ));
        }
        if facts.value < 0.0 {
            return Err(format!(
                "quantile value of \"{family}\" must not be negative"
            ));
        }
    }
    Ok(())
}

fn check_state_and_info(family: &str, facts: &SampleFacts<'_>) -> Result<(), String> {
    match facts.resolved.kind {
        MetricType::Info if facts.value != 1.0 => {
            Err(format!("info \"{family}\" must have the value 1"))
        }
        MetricType::StateSet if !facts.has_state_label => Err(format!(
            "stateset \"{family}\" needs a label named \"{family}\""
        )),
        MetricType::StateSet if facts.value != 0.0 && facts.value != 1.0 => {
            Err(format!("stateset \"{family}\" must have the value 0 or 1"))
        }
        _ => Ok(()),
    }
}

fn check_exemplar(family: &str, facts: &SampleFacts<'_>) -> Result<(), String> {
    let Some(chars) = facts.exemplar_chars else {
        return Ok(());
    };
    let allowed = matches!(
        (facts.resolved.kind, facts.resolved.suffix),
        (MetricType::Counter, "_total")
            | (
                MetricType::Histogram | MetricType::GaugeHistogram,
                "_bucket"
            )
    );
    if !allowed {
        return Err(format!(
            "exemplars are allowed only on counter _total and histogram _bucket samples, not on \"{family}{}\"",
            facts.resolved.suffix
        ));
    }
    if chars > MAX_EXEMPLAR_LABEL_CHARS {
        return Err(format!(
            "exemplar labels have {chars} characters, more than the {MAX_EXEMPLAR_LABEL_CHARS} allowed"
        ));
    }
    Ok(())
}

fn record_histogram_sample(group: &mut Group, facts: &SampleFacts<'_>) -> Result<(), String> {
    match facts.resolved.suffix {
        "_bucket" => {
            let Ok(le) = facts.bound else {
                return Ok(());
            };
            if group.previous_le.is_some_and(|previous| le <= previous) {
                return Err(format!(
                    "bucket le=\"{}\" must come after smaller bounds only",
                    CanonicalFloat::new(le).as_str()
                ));
            }
            if group.previous_le.is_some() && facts.value < group.previous_bucket {
                return Err(format!(
                    "bucket le=\"{}\" has a lower count than the bucket before it",
                    CanonicalFloat::new(le).as_str()
                ));
            }
            group.previous_le = Some(le);
            group.previous_bucket = facts.value;
            group.negative_bucket |= le < 0.0;
            if le == f64::INFINITY {
                group.infinity_bucket = Some(facts.value);
            }
        }
        "_sum" | "_gsum" => group.sum = Some(facts.value),
        "_count" | "_gcount" => group.count = Some(facts.value),
        _ => return Ok(()),
    }
    group.has_histogram_sample = true;
    Ok(())
}

fn finish_group(family: &Family, group: &Group, errors: &mut Vec<FamilyError>) {
    if !family.kind.is_histogram() || !group.has_histogram_sample || family.any_filtered {
        return;
    }
    if let Some(message) = histogram_problem(family, group) {
        errors.push(FamilyError {
            line: group.last_line,
            message,
        });
    }
}

fn histogram_problem(family: &Family, group: &Group) -> Option<String> {
    let name = &family.name;
    let gauge = family.kind == MetricType::GaugeHistogram;
    let (sum, count) = if gauge {
        ("_gsum", "_gcount")
    } else {
        ("_sum", "_count")
    };
    let Some(infinity) = group.infinity_bucket else {
        return Some(format!("histogram \"{name}\" has no le=\"+Inf\" bucket"));
    };
    if group.sum.is_some() != group.count.is_some() {
        return Some(format!(
            "histogram \"{name}\" needs both {sum} and {count}, or neither"
        ));
    }
    if group.count.is_some_and(|c| c != infinity) {
        return Some(format!(
            "histogram \"{name}\": {count} differs from the +Inf bucket {infinity}"
        ));
    }
    let sum_value = group.sum?;
    if !gauge && group.negative_bucket {
        return Some(format!(
            "histogram \"{name}\" has negative buckets, so it must not have {sum}"
        ));
    }
    if gauge && sum_value < 0.0 && !group.negative_bucket {
        return Some(format!(
            "gauge histogram \"{name}\" has a negative {sum} but no negative bucket"
        ));
    }
    None
}
