//! The duplicate check: every series met so far in one body, compared
//! exactly by its canonical text.
//!
//! A series' canonical text is `name{a="1",b="2"}`: labels sorted by name,
//! values with their escapes written as `\\`, `\"` and `\n`, no empty
//! values, and `name` alone when no label is left. Exporters nearly always
//! write a series this way, and then an entry points at that text in the
//! body. Otherwise it points at the sample line, and the text is built
//! again from the line when it must be compared. Entries are found by a
//! 32-bit hash of the text and confirmed by comparing the bytes, so a hash
//! collision never makes two different series count as one.
//!
//! Entries live in one table per run of a group: consecutive samples whose
//! names share a family stem (`foo`, `foo_bucket`, `foo_sum`, ...). Two
//! samples with different stems are never the same series, so the table of
//! the current run is the only one searched, and it stays small enough for
//! the processor's cache even when the body contains millions of series.
//! While a run's series come in increasing order of their text, as
//! exporters write them, no table is needed at all (see
//! [`RunTable::Ordered`]).
//!
//! A group can come back in a later run, so each run is recorded when it
//! ends. In text 0.0.4 a clean run (see [`RunLines::clean`]) is recorded
//! as its range of lines. Any other run moves its entries to a log. A
//! group that comes back gets a table of its own, filled once from those
//! lines or from the log, which it keeps for the rest of the body.

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use super::labels::{LabelRef, LabelValue};
use super::lexer::{metric_name_len, parse_sample_line, trim_text_line, SampleLine};
use super::visit::canonicalize_labels;
use super::Format;

/// The sample-name suffixes that the group stem drops, from both formats'
/// counter, histogram, gauge histogram, summary and info families.
const STEM_SUFFIXES: [&str; 8] = [
    "_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info",
];

/// Returns the family stem of a sample name, the key of its group.
pub(crate) fn group_stem(name: &str) -> &str {
    STEM_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

/// A series' identity as the duplicate check receives it.
#[derive(Clone, Copy)]
pub(crate) enum SeriesKey<'a, 'b> {
    /// The series text of a line that already writes the canonical text.
    Written(&'a str),
    /// A line whose canonical text must be built from its name and labels
    /// (sorted, without empty values, bound in canonical form). `bound` is
    /// the label whose value was rewritten in canonical form, if any, so
    /// that the line can be read again the same way.
    Labels {
        line: &'a str,
        name: &'a str,
        labels: &'b [LabelRef<'a>],
        bound: Option<&'static str>,
    },
}

impl SeriesKey<'_, '_> {
    /// Returns how an entry for this key records its text, see
    /// [`Entry::location`].
    fn form(&self) -> u64 {
        match self {
            SeriesKey::Written(_) => FORM_WRITTEN,
            SeriesKey::Labels { bound: None, .. } => FORM_LINE,
            SeriesKey::Labels {
                bound: Some("le"), ..
            } => FORM_LINE_LE,
            SeriesKey::Labels { bound: Some(_), .. } => FORM_LINE_QUANTILE,
        }
    }
}

/// The entry's bytes are the series' canonical text.
const FORM_WRITTEN: u64 = 0;
/// The entry's bytes are a sample line, whose canonical text is built by
/// reading it again.
const FORM_LINE: u64 = 1;
/// As [`FORM_LINE`], with the `le` label rewritten in canonical form.
const FORM_LINE_LE: u64 = 2;
/// As [`FORM_LINE`], with the `quantile` label rewritten in canonical form.
const FORM_LINE_QUANTILE: u64 = 3;

/// Returns the bound label that an entry of `form` rewrote.
fn form_bound(form: u64) -> Option<&'static str> {
    match form {
        FORM_LINE_LE => Some("le"),
        FORM_LINE_QUANTILE => Some("quantile"),
        _ => None,
    }
}

/// One series: where its canonical text lies, and its last timestamp.
#[derive(Clone, Copy)]
struct Entry {
    hash: u32,
    len: u32,
    /// Byte offset in the body of the entry's bytes, shifted left by two,
    /// with the form (`FORM_WRITTEN` to `FORM_LINE_QUANTILE`) in the two
    /// lowest bits. Entries point into the body instead of holding a copy
    /// of the canonical text, because a million copies cost more to write
    /// than the rare re-reading of a line on a hash match.
    location: u64,
    /// Timestamp of the series' last sample in float seconds, NaN when it
    /// had none. NaN is free for this because timestamps are finite.
    last_timestamp: f64,
}

#[derive(Clone, Copy)]
enum GroupState {
    /// No series of the group has been recorded yet.
    Empty,
    /// The group's only run so far; its entries lie in this part of the log.
    Logged { start: usize, end: usize },
    /// The group's only run so far, a clean run (see [`RunLines::clean`]),
    /// whose lines lie in this byte range of the body. Every entry of the
    /// run has the form `form`.
    Replayable { start: usize, end: usize, form: u64 },
    /// The group came back after another group, so it keeps this table.
    Kept(usize),
}

/// The table that the current run inserts into.
#[derive(Clone, Copy)]
enum RunTable {
    /// No table yet: the run is clean, and each of its series has a
    /// canonical text greater than the one before it, so none can repeat
    /// an earlier one. Exporters write most families in this order. The
    /// first series out of order, or a line that would make the run
    /// unclean, fills the scratch table from the run's lines.
    Ordered,
    /// The reusable table, moved to the log when the run ends.
    Scratch,
    Kept(usize),
}

/// The series of one body, see the module documentation.
pub(crate) struct SeriesSet<'a> {
    body: &'a [u8],
    format: Format,
    /// Reused buffer for the canonical text of the series being checked.
    text: Vec<u8>,
    /// Reused buffers for reading a stored line again.
    reread: Reread<'a>,
    /// The canonical text of the ordered run's last series, see
    /// [`RunTable::Ordered`].
    previous: Previous<'a>,
    /// Storage for a previous text that does not lie in the body.
    previous_text: Vec<u8>,
    /// The entries of the ordered run, without their hashes.
    ordered: Vec<Entry>,
    /// The stem of the current run's group.
    stem: Option<&'a str>,
    run: RunTable,
    scratch: HashTable<Entry>,
    kept: Vec<HashTable<Entry>>,
    /// The index in `states` of each group met so far, by stem.
    groups: FxHashMap<&'a str, usize>,
    states: Vec<GroupState>,
    /// The index in `states` of the current run's group.
    group: usize,
    log: Vec<Entry>,
    /// The number of series the body's length suggests, see
    /// [`series_capacity_hint`].
    log_hint: usize,
    /// The current run's range of lines, and whether it is clean.
    lines: RunLines,
    /// True for text 0.0.4, the only format whose runs can be clean.
    replay_allowed: bool,
}

/// The lines of the current run, and whether they can be read again to
/// rebuild its entries.
#[derive(Default)]
struct RunLines {
    /// True while the run is clean: in text 0.0.4, every line from its
    /// first series through its last is a new series of the run, and all
    /// their entries have one form. Reading those lines again then gives
    /// the run's entries, so a clean run needs no log.
    clean: bool,
    /// The form of the run's entries, once it has one.
    form: Option<u64>,
    /// Byte range in the body from the start of the run's first series'
    /// line to the end of its last.
    range: Option<(usize, usize)>,
    /// Set by a line that added no series, see
    /// [`SeriesSet::line_added_nothing`].
    interrupted: bool,
}

impl RunLines {
    /// Returns whether a new series whose entry has the form `form` leaves
    /// the run clean.
    fn stays_clean(&self, form: u64) -> bool {
        self.clean
            && !(self.interrupted && self.range.is_some())
            && self.form.is_none_or(|f| f == form)
    }

    /// Extends the range by `line`, a line that added a series whose entry
    /// has the form `form`, and notes what makes the run unclean.
    fn add(&mut self, body: &[u8], line: &str, form: u64) {
        if self.interrupted && self.range.is_some() {
            self.clean = false;
        }
        if *self.form.get_or_insert(form) != form {
            self.clean = false;
        }
        match (body_offset(body, line), &mut self.range) {
            (Some(start), Some((_, end))) => *end = start + line.len(),
            (Some(start), range @ None) => *range = Some((start, start + line.len())),
            (None, _) => self.clean = false,
        }
        self.interrupted = false;
    }
}

/// The location of the canonical text of an ordered run's last series.
#[derive(Clone, Copy)]
enum Previous<'a> {
    None,
    Body(&'a [u8]),
    /// In [`SeriesSet::previous_text`].
    Copied,
}

/// A series that the duplicate check cannot record.
#[derive(Debug)]
pub(crate) enum SeriesError {
    /// Its line is 4 GiB or longer, more than an entry's 32-bit length.
    TooLong,
    /// Its text does not lie in the body, which no caller does.
    OutsideBody,
}

/// Reused buffers for reading a stored line again and building its
/// canonical text.
#[derive(Default)]
struct Reread<'a> {
    labels: Vec<LabelRef<'a>>,
    exemplar_labels: Vec<LabelRef<'a>>,
    text: Vec<u8>,
}

/// The capacity, in entries, above which a run's table is dropped instead
/// of cleared when it is less than a quarter full. Clearing costs time in
/// proportion to the capacity, so one large group would otherwise slow
/// down every small group after it.
const SCRATCH_KEEP_CAPACITY: usize = 4096;

impl<'a> SeriesSet<'a> {
    pub fn new(body: &'a [u8], format: Format) -> Self {
        SeriesSet {
            body,
            format,
            text: Vec::new(),
            reread: Reread::default(),
            previous: Previous::None,
            previous_text: Vec::new(),
            ordered: Vec::new(),
            stem: None,
            run: RunTable::Scratch,
            scratch: HashTable::new(),
            kept: Vec::new(),
            groups: FxHashMap::with_capacity_and_hasher(
                group_capacity_hint(body.len()),
                Default::default(),
            ),
            states: Vec::new(),
            group: 0,
            log: Vec::new(),
            log_hint: series_capacity_hint(body.len()),
            lines: RunLines::default(),
            replay_allowed: format == Format::Text,
        }
    }

    /// Inserts the series `key`, which belongs to the group last entered
    /// with [`SeriesSet::enter_group`]. Returns `None` when the series is
    /// new, and otherwise the last timestamp of the series in seconds (NaN
    /// for none), for the caller to check and update. `timestamp` is the
    /// last timestamp a new series starts with. In text 0.0.4, which puts
    /// no rule on the order of a series' timestamps, a repeated series may
    /// report NaN. `line` is the sample's line, without its line end and
    /// leading blanks.
    pub fn insert(
        &mut self,
        key: SeriesKey<'a, '_>,
        timestamp: Option<f64>,
        line: &'a str,
    ) -> Result<Option<&mut f64>, SeriesError> {
        let form = key.form();
        let (text, stored): (&[u8], &'a str) = match key {
            SeriesKey::Written(text) => (text.as_bytes(), text),
            SeriesKey::Labels {
                line, name, labels, ..
            } => {
                write_canonical(&mut self.text, name, labels);
                (&self.text, line)
            }
        };
        let offset = body_offset(self.body, stored).ok_or(SeriesError::OutsideBody)?;
        let len = u32::try_from(stored.len()).map_err(|_| SeriesError::TooLong)?;

        if let RunTable::Ordered = self.run {
            let previous = match self.previous {
                Previous::None => None,
                Previous::Body(bytes) => Some(bytes),
                Previous::Copied => Some(self.previous_text.as_slice()),
            };
            let in_order = previous.is_none_or(|previous| text > previous);
            if in_order && self.lines.stays_clean(form) {
                self.lines.add(self.body, line, form);
                // The hash is left for `fill_scratch`, which most runs
                // never need.
                self.ordered.push(Entry {
                    hash: 0,
                    len,
                    location: ((offset as u64) << 2) | form,
                    last_timestamp: timestamp.unwrap_or(f64::NAN),
                });
                self.previous = match key {
                    SeriesKey::Written(written) => Previous::Body(written.as_bytes()),
                    SeriesKey::Labels { .. } => {
                        self.previous_text.clear();
                        self.previous_text.extend_from_slice(text);
                        Previous::Copied
                    }
                };
                return Ok(None);
            }
            let source = (self.body, self.format);
            fill_table(
                &mut self.ordered,
                &mut self.scratch,
                source,
                &mut self.reread,
            );
            self.run = RunTable::Scratch;
        }

        let hash = hash_text(text);
        let table = match self.run {
            RunTable::Ordered | RunTable::Scratch => &mut self.scratch,
            RunTable::Kept(index) => &mut self.kept[index],
        };
        let (body, format, reread) = (self.body, self.format, &mut self.reread);
        let found = table.entry(
            table_hash(hash),
            |entry| {
                entry.hash == hash
                    && stored_canonical(body, format, entry, reread).is_some_and(|t| t == text)
            },
            |entry| table_hash(entry.hash),
        );
        match found {
            TableEntry::Occupied(occupied) => Ok(Some(&mut occupied.into_mut().last_timestamp)),
            TableEntry::Vacant(vacant) => {
                vacant.insert(Entry {
                    hash,
                    len,
                    location: ((offset as u64) << 2) | form,
                    last_timestamp: timestamp.unwrap_or(f64::NAN),
                });
                self.lines.add(body, line, form);
                Ok(None)
            }
        }
    }

    /// Notes a line that added no series to the set: a comment, a blank
    /// line, an invalid or filtered line, a `_created` sample or a
    /// repeated series. Such a line inside a run makes the run unclean.
    pub fn line_added_nothing(&mut self) {
        self.lines.interrupted = true;
    }

    /// Ends the current run and starts one for the group `stem`, unless
    /// `stem` is the current group.
    pub fn enter_group(&mut self, stem: &'a str) {
        if self.stem == Some(stem) {
            return;
        }
        self.end_run();
        self.stem = Some(stem);
        self.lines = RunLines {
            clean: self.replay_allowed,
            ..RunLines::default()
        };
        let states = &mut self.states;
        self.group = *self.groups.entry(stem).or_insert_with(|| {
            states.push(GroupState::Empty);
            states.len() - 1
        });
        match self.states[self.group] {
            GroupState::Empty => {
                self.previous = Previous::None;
                self.ordered.clear();
                self.run = if self.replay_allowed {
                    RunTable::Ordered
                } else {
                    RunTable::Scratch
                };
            }
            GroupState::Kept(index) => self.run = RunTable::Kept(index),
            state => {
                let table = self.rebuild_table(state);
                // A group kept in its own table is never clean, because its
                // entries are not all in one range of lines.
                self.lines.clean = false;
                let index = self.kept.len();
                self.kept.push(table);
                self.states[self.group] = GroupState::Kept(index);
                self.run = RunTable::Kept(index);
            }
        }
    }

    /// Builds the table of a group that comes back, from the log or the
    /// lines of its earlier run.
    fn rebuild_table(&mut self, state: GroupState) -> HashTable<Entry> {
        match state {
            GroupState::Logged { start, end } => {
                let mut table = HashTable::with_capacity(end - start);
                for entry in &self.log[start..end] {
                    table.insert_unique(table_hash(entry.hash), *entry, |e| table_hash(e.hash));
                }
                table
            }
            GroupState::Replayable { start, end, form } => {
                let mut table = HashTable::new();
                let source = Replay {
                    body: self.body,
                    format: self.format,
                    start,
                    end,
                    form,
                };
                source.fill(&mut table, &mut self.reread);
                table
            }
            GroupState::Empty | GroupState::Kept(_) => HashTable::new(),
        }
    }

    /// Moves the entries of a run in the scratch table to the log.
    fn end_run(&mut self) {
        if let RunTable::Ordered = self.run {
            let lines = &self.lines;
            if let (true, Some((start, end)), Some(form)) = (lines.clean, lines.range, lines.form) {
                self.states[self.group] = GroupState::Replayable { start, end, form };
                return;
            }
            // Only a line outside the body makes an ordered run unclean,
            // which no caller passes; its entries are logged all the same.
            let source = (self.body, self.format);
            fill_table(
                &mut self.ordered,
                &mut self.scratch,
                source,
                &mut self.reread,
            );
            self.run = RunTable::Scratch;
        }
        let lines = &self.lines;
        let (Some(_), RunTable::Scratch) = (self.stem, self.run) else {
            return;
        };
        if self.scratch.is_empty() {
            return;
        }
        if let (true, Some((start, end)), Some(form)) = (lines.clean, lines.range, lines.form) {
            self.states[self.group] = GroupState::Replayable { start, end, form };
            if self.scratch.capacity() > SCRATCH_KEEP_CAPACITY
                && self.scratch.len() < self.scratch.capacity() / 4
            {
                self.scratch = HashTable::new();
            } else {
                self.scratch.clear();
            }
            return;
        }
        let start = self.log.len();
        reserve_log(&mut self.log, self.scratch.len(), self.log_hint);
        if self.scratch.capacity() > SCRATCH_KEEP_CAPACITY
            && self.scratch.len() < self.scratch.capacity() / 4
        {
            self.log.extend(self.scratch.iter().copied());
            self.scratch = HashTable::new();
        } else {
            self.log.extend(self.scratch.drain());
        }
        let end = self.log.len();
        self.states[self.group] = GroupState::Logged { start, end };
    }
}

/// The lines of a clean run, `body[start..end]`, each of which added one
/// new series whose entry had the form `form`.
struct Replay<'a> {
    body: &'a [u8],
    format: Format,
    start: usize,
    end: usize,
    form: u64,
}

impl<'a> Replay<'a> {
    /// Reads the lines again and inserts their entries into `table`.
    fn fill(&self, table: &mut HashTable<Entry>, reread: &mut Reread<'a>) {
        let lines = self.body.get(self.start..self.end).unwrap_or_default();
        for line in lines.split(|&b| b == b'\n') {
            let line = trim_text_line(line);
            let Some(offset) = body_offset(self.body, line) else {
                continue;
            };
            let stored_len = match self.form {
                FORM_WRITTEN => {
                    reread_line(line, self.format, reread).map(|parsed| parsed.series_text.len())
                }
                _ => Some(line.len()),
            };
            let Some(stored_len) = stored_len.and_then(|len| u32::try_from(len).ok()) else {
                continue;
            };
            let mut entry = Entry {
                hash: 0,
                len: stored_len,
                location: ((offset as u64) << 2) | self.form,
                last_timestamp: f64::NAN,
            };
            let Some(text) = stored_canonical(self.body, self.format, &entry, reread) else {
                continue;
            };
            entry.hash = hash_text(text);
            table.insert_unique(table_hash(entry.hash), entry, |e| table_hash(e.hash));
        }
    }
}

/// Moves the entries of an ordered run, which lack their hashes, into
/// `table`. `source` is the body and its format.
fn fill_table<'a>(
    entries: &mut Vec<Entry>,
    table: &mut HashTable<Entry>,
    (body, format): (&'a [u8], Format),
    reread: &mut Reread<'a>,
) {
    for mut entry in entries.drain(..) {
        let Some(text) = stored_canonical(body, format, &entry, reread) else {
            continue;
        };
        entry.hash = hash_text(text);
        table.insert_unique(table_hash(entry.hash), entry, |e| table_hash(e.hash));
    }
}

/// Reserves room for `additional` more entries in the log. Once the log
/// outgrows 4,096 entries it grows to `hint` entries at once, instead of
/// doubling about ten more times (and copying itself each time) on a
/// large body. Bodies that `keep` mostly filters never reach that size.
fn reserve_log(log: &mut Vec<Entry>, additional: usize, hint: usize) {
    let needed = log.len() + additional;
    if needed > log.capacity() && needed > 4096 && hint > needed {
        log.reserve(hint - log.len());
    }
}

/// Estimates the number of family groups a body of `body_len` bytes holds:
/// one per 256 bytes, capped at 2^14. node_exporter's body has one group
/// per 320 bytes, and a low estimate only costs rehashes.
fn group_capacity_hint(body_len: usize) -> usize {
    (body_len / 256).min(1 << 14)
}

/// Estimates the number of sample lines a body of `body_len` bytes holds.
/// Sample lines of real exporters are rarely shorter than 64 bytes, and a
/// shorter average only costs the copies this estimate avoids. The
/// estimate is capped at 2^20 series: 24 MiB of address space, whose pages
/// become resident only as series fill them.
fn series_capacity_hint(body_len: usize) -> usize {
    (body_len / 64).min(1 << 20)
}

/// Returns the offset of `text` in `body`, or `None` when it does not lie
/// there.
fn body_offset(body: &[u8], text: impl AsRef<[u8]>) -> Option<usize> {
    let text = text.as_ref();
    let offset = (text.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = offset.checked_add(text.len())?;
    (end <= body.len()).then_some(offset)
}

/// Reads a stored sample line again into `reread`'s label buffers.
fn reread_line<'a, 'r>(
    line: &'a [u8],
    format: Format,
    reread: &'r mut Reread<'a>,
) -> Option<SampleLine<'a>> {
    let line = std::str::from_utf8(line).ok()?;
    let name_len = metric_name_len(line.as_bytes());
    parse_sample_line(
        line,
        name_len,
        format,
        &mut reread.labels,
        &mut reread.exemplar_labels,
    )
    .ok()
}

/// Returns the canonical text of an entry: its bytes in the body, or for
/// an entry that points at a line, the text built by reading the line
/// again the way it was read first.
fn stored_canonical<'a, 's>(
    body: &'a [u8],
    format: Format,
    entry: &Entry,
    reread: &'s mut Reread<'a>,
) -> Option<&'s [u8]> {
    let offset = usize::try_from(entry.location >> 2).ok()?;
    let end = offset.checked_add(entry.len as usize)?;
    let bytes = body.get(offset..end)?;
    let form = entry.location & 3;
    if form == FORM_WRITTEN {
        return Some(bytes);
    }
    let parsed = reread_line(bytes, format, reread)?;
    canonicalize_labels(&mut reread.labels, form_bound(form), format);
    write_canonical(&mut reread.text, parsed.name, &reread.labels);
    Some(&reread.text)
}

/// Writes the canonical text of a series to `out`, which it clears first.
fn write_canonical(out: &mut Vec<u8>, name: &str, labels: &[LabelRef<'_>]) {
    out.clear();
    out.extend_from_slice(name.as_bytes());
    if labels.is_empty() {
        return;
    }
    out.push(b'{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(label.name.as_bytes());
        out.extend_from_slice(b"=\"");
        match label.value {
            LabelValue::Plain(text) => out.extend_from_slice(text.as_bytes()),
            LabelValue::Canonical(number) => out.extend_from_slice(number.as_str().as_bytes()),
            LabelValue::Escaped(_) => label.value.for_each_chunk(|chunk| escape_into(out, chunk)),
        }
        out.push(b'"');
    }
    out.push(b'}');
}

fn escape_into(out: &mut Vec<u8>, text: &str) {
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Returns whether `series_text` is already the canonical text of the
/// series `name{labels}`, given labels sorted, without empty values and
/// with canonical bounds. The caller must also know that the line wrote
/// the labels in this order and each bound as its canonical text. Then
/// the text is canonical when every value is plain and the text has no
/// byte beyond the minimum: no blank, trailing comma, empty value or `{}`.
pub(crate) fn is_canonical(series_text: &str, name: &str, labels: &[LabelRef<'_>]) -> bool {
    let mut expected = name.len();
    if !labels.is_empty() {
        // The braces and one comma between each two labels.
        expected += 2 + labels.len() - 1;
    }
    for label in labels {
        let value_len = match label.value {
            LabelValue::Plain(text) => text.len(),
            LabelValue::Canonical(number) => number.as_str().len(),
            LabelValue::Escaped(_) => return false,
        };
        // `name="value"`
        expected += label.name.len() + 3 + value_len;
    }
    expected == series_text.len()
}

/// Spreads an entry's 32-bit hash to the 64 bits the table reads: the low
/// bits pick the bucket, and the top 7 bits are the tag that the table
/// compares before it calls the equality test.
fn table_hash(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// Hashes `text` with a 64-bit multiply-fold, 8 bytes at a time, folded to
/// 32 bits. It need not resist chosen collisions, because a collision
/// costs one byte comparison and never a wrong result.
fn hash_text(text: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (text.len() as u64).wrapping_mul(K);
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        h = fold_multiply(h ^ u64::from_le_bytes(buf), K);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut buf = [0u8; 8];
        buf[..tail.len()].copy_from_slice(tail);
        h = fold_multiply(h ^ u64::from_le_bytes(buf), K);
    }
    let h = fold_multiply(h, 0xc2b2_ae3d_27d4_eb4f);
    (h ^ (h >> 32)) as u32
}

/// Multiplies to 128 bits and XORs the halves, which spreads every input
/// bit over the result.
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain<'a>(name: &'a str, value: &'a str) -> LabelRef<'a> {
        LabelRef {
            name,
            value: LabelValue::Plain(value),
            offset: 0,
        }
    }

    /// Finds two different values of label `x` whose canonical texts of
    /// `m{x="..."}` have the same 32-bit hash. By the birthday bound a pair
    /// turns up after about 2^16 values.
    fn colliding_values() -> (String, String) {
        let mut seen = std::collections::HashMap::new();
        let mut text = Vec::new();
        for i in 0u32.. {
            let value = i.to_string();
            write_canonical(&mut text, "m", &[plain("x", &value)]);
            if let Some(earlier) = seen.insert(hash_text(&text), value.clone()) {
                return (earlier, value);
            }
        }
        unreachable!("the u32 range holds a collision")
    }

    /// Returns the series text of every line of `body`, as the lexer
    /// reads it.
    fn series_texts(body: &str) -> Vec<&str> {
        body.lines()
            .map(|line| {
                let name_len = metric_name_len(line.as_bytes());
                let (mut labels, mut exemplar) = (Vec::new(), Vec::new());
                parse_sample_line(line, name_len, Format::Text, &mut labels, &mut exemplar)
                    .unwrap()
                    .series_text
            })
            .collect()
    }

    #[test]
    fn hash_collision_keeps_written_series_apart() {
        let (first, second) = colliding_values();
        let body = format!("m{{x=\"{first}\"}} 1\nm{{x=\"{second}\"}} 1\n");
        let texts = series_texts(&body);
        let mut set = SeriesSet::new(body.as_bytes(), Format::Text);
        set.enter_group("m");
        let new_first = set.insert(SeriesKey::Written(texts[0]), None, texts[0]);
        assert!(new_first.unwrap().is_none());
        let new_second = set.insert(SeriesKey::Written(texts[1]), None, texts[1]);
        assert!(new_second.unwrap().is_none());
        let again = set.insert(SeriesKey::Written(texts[0]), None, texts[0]);
        assert!(again.unwrap().is_some());
    }

    #[test]
    fn hash_collision_keeps_reread_series_apart() {
        // Lines with an empty label, so their entries point at the lines
        // and a hash match reads them again.
        let (first, second) = colliding_values();
        let body = format!("m{{e=\"\",x=\"{first}\"}} 1\nm{{e=\"\",x=\"{second}\"}} 1\n");
        let lines: Vec<&str> = body.lines().collect();
        let mut set = SeriesSet::new(body.as_bytes(), Format::Text);
        set.enter_group("m");
        for (line, value, expect_new) in [
            (lines[0], first.as_str(), true),
            (lines[1], second.as_str(), true),
            (lines[0], first.as_str(), false),
        ] {
            let labels = [plain("x", value)];
            let key = SeriesKey::Labels {
                line,
                name: "m",
                labels: &labels,
                bound: None,
            };
            let repeat = set.insert(key, None, line).unwrap();
            assert_eq!(repeat.is_none(), expect_new, "{line}");
        }
    }

    #[test]
    fn written_and_reread_text_match() {
        // OpenMetrics, the format that keeps the last timestamp of a series.
        let body = "m{a=\"1\",b=\"2\"} 1\nm{b=\"2\",a=\"1\"} 2\n";
        let texts = series_texts(body);
        let lines: Vec<&str> = body.lines().collect();
        let mut set = SeriesSet::new(body.as_bytes(), Format::OpenMetrics);
        set.enter_group("m");
        let first = set.insert(SeriesKey::Written(texts[0]), Some(5.0), lines[0]);
        assert!(first.unwrap().is_none());
        let labels = [plain("a", "1"), plain("b", "2")];
        let key = SeriesKey::Labels {
            line: lines[1],
            name: "m",
            labels: &labels,
            bound: None,
        };
        let last = set.insert(key, None, lines[1]).unwrap().map(|t| *t);
        assert_eq!(last, Some(5.0));
    }

    #[test]
    fn canonical_text_escapes_values() {
        let mut out = Vec::new();
        let labels = [LabelRef {
            name: "a",
            value: LabelValue::Escaped(r#"q\"\\\n\z"#),
            offset: 0,
        }];
        write_canonical(&mut out, "m", &labels);
        assert_eq!(out, br#"m{a="q\"\\\n\\z"}"#);
    }

    #[test]
    fn group_stem_drops_one_suffix() {
        assert_eq!(group_stem("http_seconds_bucket"), "http_seconds");
        assert_eq!(group_stem("jobs_total"), "jobs");
        assert_eq!(group_stem("up"), "up");
        assert_eq!(group_stem("_sum"), "");
    }
}
