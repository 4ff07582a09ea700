//! The duplicate check: every series met so far in one body, compared
//! exactly by its canonical text.
//!
//! A series' canonical text is `name{a="1",b="2"}`: labels sorted by name,
//! values with their escapes written as `\\`, `\"` and `\n`, no empty
//! values, and `name` alone when no label is left. Exporters nearly always
//! write a series this way, and then the text is borrowed from the body.
//! Otherwise it is built once and kept in an arena. Entries are found by a
//! 32-bit hash of that text and confirmed by comparing the bytes, so a hash
//! collision never makes two different series count as one.
//!
//! Entries live in one table per run of a group: consecutive samples whose
//! names share a family stem (`foo`, `foo_bucket`, `foo_sum`, ...). Two
//! samples with different stems are never the same series, so the table of
//! the current run is the only one searched, and it stays small enough for
//! the processor's cache even when the body contains millions of series. When
//! a run ends its entries move to a log. A group that comes back in a later
//! run gets a table of its own, filled once from the log, which it keeps
//! for the rest of the body.

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use super::labels::{LabelRef, LabelValue};
use super::lexer::{metric_name_len, parse_sample_line, trim_text_line};
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
pub(crate) enum SeriesKey<'a, 'b> {
    /// The series text of a line that already writes the canonical text.
    Written(&'a str),
    /// A name and labels (sorted, without empty values) whose canonical
    /// text must be built.
    Labels {
        name: &'a str,
        labels: &'b [LabelRef<'a>],
    },
}

/// One series: where its canonical text lies, and its last timestamp.
#[derive(Clone, Copy)]
struct Entry {
    hash: u32,
    len: u32,
    /// Byte offset of the canonical text, shifted left by one. The lowest
    /// bit is set when the text lies in the arena instead of the body.
    location: u64,
    /// Timestamp of the series' last sample in float seconds, NaN when it
    /// had none. NaN is free for this because timestamps are finite.
    last_timestamp: f64,
}

enum GroupState {
    /// The group's only run so far; its entries lie in this part of the log.
    Logged { start: usize, end: usize },
    /// The group's only run so far, a clean run (see [`SeriesSet::clean`]),
    /// whose lines lie in this byte range of the body.
    Replayable { start: usize, end: usize },
    /// The group came back after another group, so it keeps this table.
    Kept(usize),
}

/// The table that the current run inserts into.
#[derive(Clone, Copy)]
enum RunTable {
    /// The reusable table, moved to the log when the run ends.
    Scratch,
    Kept(usize),
}

/// The series of one body, see the module documentation.
pub(crate) struct SeriesSet<'a> {
    body: &'a [u8],
    /// Canonical texts of the series that the body does not write in
    /// canonical form.
    arena: Vec<u8>,
    /// Reused buffer for the canonical text of the series being checked.
    text: Vec<u8>,
    /// The stem of the current run's group.
    stem: Option<&'a str>,
    run: RunTable,
    scratch: HashTable<Entry>,
    kept: Vec<HashTable<Entry>>,
    groups: FxHashMap<&'a str, GroupState>,
    log: Vec<Entry>,
    /// The number of series the body's length suggests, see
    /// [`series_capacity_hint`].
    log_hint: usize,
    /// True while the current run is clean: in text 0.0.4, every line from
    /// its first series through its last is a new series of the run, and
    /// the line writes it in canonical form. Reading those lines again then
    /// gives the run's entries, so a clean run needs no log.
    clean: bool,
    /// Byte range in the body of the current run's lines, from the start
    /// of its first series' line to the end of its last.
    run_lines: Option<(usize, usize)>,
    /// Set by a line that added no series, see [`SeriesSet::line_added_nothing`].
    interrupted: bool,
    /// True for text 0.0.4, the only format whose runs can be clean.
    replay_allowed: bool,
}

/// A series whose canonical text is 4 GiB or longer, which the entries'
/// 32-bit length cannot record.
#[derive(Debug)]
pub(crate) struct SeriesTooLong;

/// The capacity, in entries, above which a run's table is dropped instead
/// of cleared when it is less than a quarter full. Clearing costs time in
/// proportion to the capacity, so one large group would otherwise slow
/// down every small group after it.
const SCRATCH_KEEP_CAPACITY: usize = 4096;

impl<'a> SeriesSet<'a> {
    pub fn new(body: &'a [u8], format: Format) -> Self {
        SeriesSet {
            body,
            arena: Vec::new(),
            text: Vec::new(),
            stem: None,
            run: RunTable::Scratch,
            scratch: HashTable::new(),
            kept: Vec::new(),
            groups: FxHashMap::default(),
            log: Vec::new(),
            log_hint: series_capacity_hint(body.len()),
            clean: false,
            run_lines: None,
            interrupted: false,
            replay_allowed: format == Format::Text,
        }
    }

    /// Inserts the series `key`, which belongs to the group last entered
    /// with [`SeriesSet::enter_group`]. Returns `None` when the series is
    /// new, and otherwise the last timestamp of the series in seconds (NaN
    /// for none), for the caller to check and update. `timestamp` is the
    /// last timestamp a new series starts with. `line` is the sample's
    /// line, without its line end and leading blanks.
    pub fn insert(
        &mut self,
        key: SeriesKey<'a, '_>,
        timestamp: Option<f64>,
        line: &'a str,
    ) -> Result<Option<&mut f64>, SeriesTooLong> {
        let in_body = match key {
            SeriesKey::Written(text) => self.body_offset(text),
            SeriesKey::Labels { .. } => None,
        };
        let written_key = matches!(key, SeriesKey::Written(_));
        let text: &[u8] = match (key, in_body) {
            (SeriesKey::Written(text), Some(_)) => text.as_bytes(),
            (SeriesKey::Written(text), None) => {
                self.text.clear();
                self.text.extend_from_slice(text.as_bytes());
                &self.text
            }
            (SeriesKey::Labels { name, labels }, _) => {
                write_canonical(&mut self.text, name, labels);
                &self.text
            }
        };
        let len = u32::try_from(text.len()).map_err(|_| SeriesTooLong)?;
        let hash = hash_text(text);

        let table = match self.run {
            RunTable::Scratch => &mut self.scratch,
            RunTable::Kept(index) => &mut self.kept[index],
        };
        let (body, arena) = (self.body, &mut self.arena);
        let found = table.entry(
            table_hash(hash),
            |entry| entry.hash == hash && stored_text(body, arena, entry) == text,
            |entry| table_hash(entry.hash),
        );
        match found {
            TableEntry::Occupied(occupied) => Ok(Some(&mut occupied.into_mut().last_timestamp)),
            TableEntry::Vacant(vacant) => {
                let written = written_key && in_body.is_some();
                let line_start = body_offset(body, line);
                self.clean &= written && !(self.interrupted && self.run_lines.is_some());
                match (line_start, &mut self.run_lines) {
                    (Some(start), Some((_, end))) => *end = start + line.len(),
                    (Some(start), lines @ None) => *lines = Some((start, start + line.len())),
                    (None, _) => self.clean = false,
                }
                self.interrupted = false;
                let location = match in_body {
                    Some(offset) => (offset as u64) << 1,
                    None => {
                        let offset = arena.len() as u64;
                        arena.extend_from_slice(text);
                        (offset << 1) | 1
                    }
                };
                vacant.insert(Entry {
                    hash,
                    len,
                    location,
                    last_timestamp: timestamp.unwrap_or(f64::NAN),
                });
                Ok(None)
            }
        }
    }

    fn body_offset(&self, text: &str) -> Option<usize> {
        body_offset(self.body, text)
    }

    /// Notes a line that added no series to the set: a comment, a blank
    /// line, an invalid or filtered line, a `_created` sample or a
    /// repeated series. Such a line inside a run makes the run unclean.
    pub fn line_added_nothing(&mut self) {
        self.interrupted = true;
    }

    /// Ends the current run and starts one for the group `stem`, unless
    /// `stem` is the current group.
    pub fn enter_group(&mut self, stem: &'a str) {
        if self.stem == Some(stem) {
            return;
        }
        self.end_run();
        self.stem = Some(stem);
        self.clean = self.replay_allowed;
        self.run_lines = None;
        self.interrupted = false;
        let table = match self.groups.get(stem) {
            None => {
                self.run = RunTable::Scratch;
                return;
            }
            Some(GroupState::Kept(index)) => {
                self.run = RunTable::Kept(*index);
                return;
            }
            Some(&GroupState::Logged { start, end }) => {
                let mut table = HashTable::with_capacity(end - start);
                for entry in &self.log[start..end] {
                    table.insert_unique(table_hash(entry.hash), *entry, |e| table_hash(e.hash));
                }
                table
            }
            Some(&GroupState::Replayable { start, end }) => self.replay(start, end),
        };
        // A group kept in its own table is never clean, because its
        // entries are not all in one range of lines.
        self.clean = false;
        let index = self.kept.len();
        self.kept.push(table);
        self.groups.insert(stem, GroupState::Kept(index));
        self.run = RunTable::Kept(index);
    }

    /// Rebuilds the entries of a clean run from its lines in
    /// `body[start..end]`. Each of those lines added one new series, which
    /// the line wrote in canonical form, so its series text is the entry.
    fn replay(&self, start: usize, end: usize) -> HashTable<Entry> {
        let mut table = HashTable::new();
        let mut labels = Vec::new();
        let mut exemplar_labels = Vec::new();
        let lines = self.body.get(start..end).unwrap_or_default();
        for line in lines.split(|&b| b == b'\n') {
            let line = trim_text_line(line);
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let name_len = metric_name_len(line.as_bytes());
            let parsed = parse_sample_line(
                line,
                name_len,
                Format::Text,
                &mut labels,
                &mut exemplar_labels,
            );
            let Some(offset) = parsed.ok().and_then(|p| self.body_offset(p.series_text).map(|o| (o, p.series_text))) else {
                continue;
            };
            let (offset, text) = offset;
            let hash = hash_text(text.as_bytes());
            table.insert_unique(
                table_hash(hash),
                Entry {
                    hash,
                    len: text.len() as u32,
                    location: (offset as u64) << 1,
                    last_timestamp: f64::NAN,
                },
                |e| table_hash(e.hash),
            );
        }
        table
    }

    /// Moves the entries of a run in the scratch table to the log.
    fn end_run(&mut self) {
        let (Some(stem), RunTable::Scratch) = (self.stem, self.run) else {
            return;
        };
        if self.scratch.is_empty() {
            return;
        }
        if let (true, Some((start, end))) = (self.clean, self.run_lines) {
            self.groups.insert(stem, GroupState::Replayable { start, end });
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
        self.groups.insert(stem, GroupState::Logged { start, end });
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
fn body_offset(body: &[u8], text: &str) -> Option<usize> {
    let offset = (text.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = offset.checked_add(text.len())?;
    (end <= body.len()).then_some(offset)
}

fn stored_text<'s>(body: &'s [u8], arena: &'s [u8], entry: &Entry) -> &'s [u8] {
    let offset = (entry.location >> 1) as usize;
    let source = if entry.location & 1 == 1 { arena } else { body };
    source
        .get(offset..offset + entry.len as usize)
        .unwrap_or_default()
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

    #[test]
    fn hash_collision_keeps_series_apart() {
        let (first, second) = colliding_values();
        let mut set = SeriesSet::new(b"", Format::Text);
        set.enter_group("m");
        let labels = [plain("x", &first)];
        let key = SeriesKey::Labels {
            name: "m",
            labels: &labels,
        };
        assert!(set.insert(key, None, "").unwrap().is_none());
        let labels = [plain("x", &second)];
        let key = SeriesKey::Labels {
            name: "m",
            labels: &labels,
        };
        assert!(set.insert(key, None, "").unwrap().is_none());
        let labels = [plain("x", &first)];
        let key = SeriesKey::Labels {
            name: "m",
            labels: &labels,
        };
        assert!(set.insert(key, None, "").unwrap().is_some());
    }

    #[test]
    fn written_and_built_text_match() {
        let body = b"m{a=\"1\",b=\"2\"}";
        let written = std::str::from_utf8(body).unwrap();
        let mut set = SeriesSet::new(body, Format::Text);
        set.enter_group("m");
        let first = set.insert(SeriesKey::Written(written), Some(5.0), written);
        assert!(first.unwrap().is_none());
        let labels = [plain("a", "1"), plain("b", "2")];
        let key = SeriesKey::Labels {
            name: "m",
            labels: &labels,
        };
        let last = set.insert(key, None, "").unwrap().map(|t| *t);
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
