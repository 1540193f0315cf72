//! Large outputs written as they are made (issue 24): one locked, buffered stdout; JSON values
//! serialised straight into it, each string masked and escaped on its way out; piped tables
//! written line by line. The bytes are exactly those of the whole-string path (`pretty`,
//! `jsonl::line`, `render_table_with`): only the work and the memory differ.

use std::io::{self, Write};

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use crate::platform::RowJson;
use crate::redact::json::{append, write_json_string};
use crate::redact::{Masker, Stream};

/// The buffer in front of stdout.
const BUFFER: usize = 64 * 1024;

/// Stdout, locked once and buffered.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(BUFFER, io::stdout().lock())
}

/// Writes `value` at `indent` levels (pretty) or on one line, masked and escaped. A value whose
/// object keys held a secret is masked first and written again, so that its keys come out
/// sorted as the whole-value path sorts them.
#[cfg_attr(not(test), allow(dead_code))]
pub fn write_value<W: Write>(
    w: &mut W,
    value: &Value,
    masker: &Masker,
    pretty: bool,
    level: usize,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    scratch.clear();
    append(scratch, value, masker, pretty, level, || value.clone())?;
    w.write_all(scratch)
}

/// One element of a JSON list, written masked and escaped into a scratch buffer.
pub trait JsonRow {
    fn write_row(
        &self,
        out: &mut Vec<u8>,
        masker: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()>;
}

impl JsonRow for Value {
    fn write_row(
        &self,
        out: &mut Vec<u8>,
        m: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()> {
        append(out, self, m, pretty, level, || self.clone())
    }
}

impl<T: JsonRow + ?Sized> JsonRow for &T {
    fn write_row(
        &self,
        out: &mut Vec<u8>,
        m: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()> {
        (**self).write_row(out, m, pretty, level)
    }
}

/// A row borrowed or made for the moment (a list's row kept as its text).
impl<T: JsonRow + Clone> JsonRow for std::borrow::Cow<'_, T> {
    fn write_row(
        &self,
        out: &mut Vec<u8>,
        m: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()> {
        (**self).write_row(out, m, pretty, level)
    }
}

/// A list row's server object, serialised straight from what the platform decoded.
impl JsonRow for RowJson {
    fn write_row(
        &self,
        out: &mut Vec<u8>,
        m: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()> {
        self.write(out, m, pretty, level)
    }
}

/// `{"<key>": [rows…]}` pretty-printed, each row written as it comes: the bytes of
/// `pretty(&json!({key: rows}))`.
pub fn write_json_list<W: Write, R: JsonRow>(
    w: &mut W,
    key: &str,
    rows: impl IntoIterator<Item = R>,
    masker: &Masker,
) -> io::Result<()> {
    w.write_all(b"{\n  ")?;
    write_json_string(w, &masker.key(key))?;
    w.write_all(b": [")?;
    let mut scratch = Vec::new();
    let mut any = false;
    for row in rows {
        scratch.clear();
        scratch.extend_from_slice(if any { b",\n    " } else { b"\n    " });
        row.write_row(&mut scratch, masker, true, 2)?;
        w.write_all(&scratch)?;
        any = true;
    }
    if any {
        w.write_all(b"\n  ")?;
    }
    w.write_all(b"]\n}\n")
}

/// `-A -o json`: `{"contexts": [entry…]}` pretty-printed, each context's entry written as it
/// comes and the rows of its list one by one: the bytes of `pretty(&json!({"contexts":
/// entries}))` where each entry holds its list under its key.
pub struct FleetJson<'m, W: Write> {
    w: W,
    masker: &'m Masker,
    scratch: Vec<u8>,
    entries: usize,
}

impl<'m, W: Write> FleetJson<'m, W> {
    pub fn start(mut w: W, masker: &'m Masker) -> io::Result<Self> {
        w.write_all(b"{\n  ")?;
        write_json_string(&mut w, &masker.key("contexts"))?;
        w.write_all(b": [")?;
        Ok(FleetJson {
            w,
            masker,
            scratch: Vec::new(),
            entries: 0,
        })
    }

    /// One context: the members of `fields` (an object) and, when given, the list under its key
    /// in its sorted place among them, as the whole-value path sorts an object's keys.
    pub fn entry<R: JsonRow>(
        &mut self,
        fields: &Value,
        list: Option<(&str, impl IntoIterator<Item = R>)>,
    ) -> io::Result<()> {
        self.w.write_all(if self.entries > 0 {
            b",\n    {"
        } else {
            b"\n    {"
        })?;
        self.entries += 1;
        let empty = serde_json::Map::new();
        let members = fields.as_object().unwrap_or(&empty);
        let mut list = list.map(|(key, rows)| (self.masker.key(key).into_owned(), rows));
        let mut first = true;
        for (key, value) in members {
            let key = self.masker.key(key);
            if list.as_ref().is_some_and(|(k, _)| k.as_str() < &*key) {
                let (k, rows) = list.take().expect("checked");
                self.list_member(&mut first, &k, rows)?;
            }
            self.member_key(&mut first, &key)?;
            write_value(&mut self.w, value, self.masker, true, 3, &mut self.scratch)?;
        }
        if let Some((k, rows)) = list.take() {
            self.list_member(&mut first, &k, rows)?;
        }
        self.w.write_all(b"\n    }")
    }

    fn member_key(&mut self, first: &mut bool, key: &str) -> io::Result<()> {
        self.w
            .write_all(if *first { b"\n      " } else { b",\n      " })?;
        *first = false;
        write_json_string(&mut self.w, key)?;
        self.w.write_all(b": ")
    }

    fn list_member<R: JsonRow>(
        &mut self,
        first: &mut bool,
        key: &str,
        rows: impl IntoIterator<Item = R>,
    ) -> io::Result<()> {
        self.member_key(first, key)?;
        self.w.write_all(b"[")?;
        let mut any = false;
        for row in rows {
            self.scratch.clear();
            self.scratch
                .extend_from_slice(if any { b",\n        " } else { b"\n        " });
            row.write_row(&mut self.scratch, self.masker, true, 4)?;
            self.w.write_all(&self.scratch)?;
            any = true;
        }
        if any {
            self.w.write_all(b"\n      ")?;
        }
        self.w.write_all(b"]")
    }

    pub fn finish(mut self) -> io::Result<W> {
        if self.entries > 0 {
            self.w.write_all(b"\n  ")?;
        }
        self.w.write_all(b"]\n}\n")?;
        Ok(self.w)
    }
}

/// The display width of a cell: its length when it is printable ASCII.
fn width(s: &str) -> usize {
    if crate::redact::plain(s, false) {
        s.len()
    } else {
        s.width()
    }
}

/// `n` spaces onto `line`.
fn pad(line: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        line.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// A piped table (no terminal width, no colour): the bytes `render_table_with` makes with
/// comfy-table, written line by line, each line through the sink's redaction. A cell wider than
/// comfy-table's own arithmetic allows (it counts in `u16` and wraps such a cell at 65,535
/// columns) stays whole on its line here: a piped table never wraps.
pub fn write_piped_table<W: Write>(
    w: &mut W,
    headers: &[&str],
    show_headers: bool,
    rows: &(impl TableRows + ?Sized),
    masker: &Masker,
) -> io::Result<()> {
    // Each row is read for its widths, then for its line. Rows made as they are read (a large
    // list's, from its tokens) are made once: their text is held for the second read (about 60
    // bytes a row, where a decoded token is 256). comfy-table gives an empty column one
    // character.
    let mut widths = vec![1usize; headers.len()];
    let hold = rows.made();
    let mut held = Held::default();
    for r in 0..rows.rows() {
        rows.with_row(r, |cells| {
            for (i, c) in cells.enumerate() {
                if i >= widths.len() {
                    widths.resize(i + 1, 1);
                }
                widths[i] = widths[i].max(width(c));
                if hold {
                    held.text.push_str(c);
                    held.ends.push(held.text.len());
                }
            }
            if hold {
                held.rows.push(held.ends.len());
            }
        });
    }
    let columns = widths.len();
    let header = show_headers.then_some(headers);
    if columns == 0 {
        return Ok(());
    }
    for (i, h) in header.into_iter().flatten().enumerate() {
        widths[i] = widths[i].max(width(h));
    }
    // Lines go through the sink a batch at a time: one search per secret over many lines (a
    // secret holds no newline, and a short one is masked as a whole word either way).
    const BATCH: usize = 32 * 1024;
    let mut batch = String::with_capacity(BATCH + 256);
    let mut flush = |batch: &mut String| -> io::Result<()> {
        w.write_all(masker.sink(batch, Stream::Stdout).as_bytes())?;
        batch.clear();
        Ok(())
    };
    let mut write_line = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let line = &mut batch;
        let start = line.len();
        for (i, &column_width) in widths.iter().enumerate() {
            let cell = cells.next().unwrap_or("");
            if i > 0 {
                line.push_str(" | ");
            }
            line.push_str(cell);
            if i + 1 < columns {
                pad(line, column_width.saturating_sub(width(cell)));
            }
        }
        let end = start + line[start..].trim_end().len();
        line.truncate(end);
        line.push('\n');
        if line.len() >= BATCH {
            flush(line)?;
        }
        Ok(())
    };
    if let Some(h) = header {
        write_line(&mut h.iter().copied())?;
    }
    if hold {
        let mut cell = 0;
        for &row_end in &held.rows {
            let mut cells = (cell..row_end).map(|c| {
                let start = if c == 0 { 0 } else { held.ends[c - 1] };
                &held.text[start..held.ends[c]]
            });
            write_line(&mut cells)?;
            cell = row_end;
        }
    } else {
        for r in 0..rows.rows() {
            rows.with_row(r, |cells| write_line(cells))?;
        }
    }
    flush(&mut batch)
}

/// The text of rows made once and read again: every cell's text one after the other, where
/// each cell ends, and where each row's cells end.
#[derive(Default)]
struct Held {
    text: String,
    ends: Vec<usize>,
    rows: Vec<usize>,
}

/// The rows of a table: each one's cells' text, handed to `f`.
pub trait TableRows {
    fn rows(&self) -> usize;
    fn with_row<R>(&self, r: usize, f: impl FnOnce(&mut dyn Iterator<Item = &str>) -> R) -> R;
    /// Whether a row is made when it is read (rather than held): then it is read once.
    fn made(&self) -> bool {
        false
    }
}

impl TableRows for [Vec<String>] {
    fn rows(&self) -> usize {
        self.len()
    }

    fn with_row<R>(&self, r: usize, f: impl FnOnce(&mut dyn Iterator<Item = &str>) -> R) -> R {
        f(&mut self[r].iter().map(String::as_str))
    }
}

/// Rows made when read by `make`, which appends row `r`'s cells to the [`RowText`] it is
/// given, each ended by [`RowText::end_cell`].
pub struct MadeRows<F> {
    pub rows: usize,
    pub make: F,
    pub scratch: std::cell::RefCell<RowText>,
}

/// The text of the row being made, and where its cells end.
#[derive(Default)]
pub struct RowText {
    pub text: String,
    ends: Vec<usize>,
}

impl RowText {
    pub fn end_cell(&mut self) {
        self.ends.push(self.text.len());
    }
}

impl<F: Fn(usize, &mut RowText)> TableRows for MadeRows<F> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn made(&self) -> bool {
        true
    }

    fn with_row<R>(&self, r: usize, f: impl FnOnce(&mut dyn Iterator<Item = &str>) -> R) -> R {
        let mut row = self.scratch.borrow_mut();
        row.text.clear();
        row.ends.clear();
        (self.make)(r, &mut row);
        let row = &*row;
        f(&mut (0..row.ends.len()).map(|c| {
            let start = if c == 0 { 0 } else { row.ends[c - 1] };
            &row.text[start..row.ends[c]]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::table::{ColumnKind, TableOptions, render_table_with};
    use proptest::prelude::*;
    use serde_json::json;

    /// Strings with what the sink escapes or masks: controls, C1, DEL, bidi, wide characters,
    /// quotes, and the secrets registered below.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("a".to_string()),
                Just(" ".to_string()),
                Just("\"\\/".to_string()),
                Just("\n\t\r\u{8}\u{c}\u{1}\u{1b}[31m".to_string()),
                Just("\u{7f}\u{9b}\u{202e}\u{2028}\u{061c}".to_string()),
                Just("日本é🙂".to_string()),
                Just("stream-secret-0123456789".to_string()),
                Just("zq7".to_string()),
                Just("***".to_string()),
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    fn register() {
        crate::redact::register("stream-secret-0123456789");
        crate::redact::register("zq7");
    }

    proptest! {
        #[test]
        fn json_lists_are_the_bytes_of_the_whole_value_path(
            rows in prop::collection::vec(prop::collection::vec((text(), text()), 0..4), 0..4)
        ) {
            register();
            let rows: Vec<Value> = rows
                .into_iter()
                .map(|kv| {
                    let m: serde_json::Map<String, Value> = kv
                        .into_iter()
                        .map(|(k, v)| (k, json!([v.clone(), {"n": v}, [], {}, 1, null, true])))
                        .collect();
                    Value::Object(m)
                })
                .collect();
            let masker = Masker::now(None);
            let mut out = Vec::new();
            write_json_list(&mut out, "service-tokens", rows.iter(), &masker).unwrap();
            let expected = crate::output::pretty(&json!({"service-tokens": rows}));
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
            for row in &rows {
                let mut out = Vec::new();
                write_value(&mut out, row, &masker, false, 0, &mut Vec::new()).unwrap();
                out.push(b'\n');
                let expected = crate::output::jsonl::line(row.clone(), None);
                prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
        }

        #[test]
        fn fleet_json_is_the_bytes_of_the_whole_value_path(
            contexts in prop::collection::vec(
                (text(), prop::option::of(prop::collection::vec(text(), 0..3))),
                0..4,
            ),
            keys: bool,
        ) {
            register();
            let list_key = if keys { "ingestion-api-keys" } else { "service-tokens" };
            let masker = Masker::now(None);
            let mut fleet = FleetJson::start(Vec::new(), &masker).unwrap();
            let mut whole = Vec::new();
            for (name, rows) in &contexts {
                let mut fields = json!({"context": name, "platform": "p", "url": "http://h"});
                let mut entry = fields.clone();
                match rows {
                    Some(rows) => {
                        let rows: Vec<Value> =
                            rows.iter().map(|r| json!({"name": r, "id": 1})).collect();
                        entry[list_key] = json!(rows);
                        fleet.entry(&fields, Some((list_key, rows.iter()))).unwrap();
                    }
                    None => {
                        fields["error"] = json!({"error-message": name, "exit-code": 3});
                        entry = fields.clone();
                        fleet.entry(&fields, None::<(&str, Vec<Value>)>).unwrap();
                    }
                }
                whole.push(entry);
            }
            let out = fleet.finish().unwrap();
            let expected = crate::output::pretty(&json!({"contexts": whole}));
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }

        #[test]
        fn piped_tables_are_the_bytes_of_comfy_table(
            rows in prop::collection::vec(prop::collection::vec(text(), 0..4), 1..5),
            no_headers: bool,
        ) {
            register();
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|r| r.iter().map(|c| crate::output::clean(c)).collect())
                .collect();
            let headers = ["ID", "NAME", "DEDICATED_SUBJECT"];
            let options = TableOptions { width: None, no_headers, color: false };
            let kinds = [ColumnKind::Id, ColumnKind::Text, ColumnKind::Text];
            let whole = render_table_with(&headers, &rows, &kinds, options);
            let expected = crate::redact::text(&whole, Stream::Stdout);
            let masker = Masker::now(None);
            let mut out = Vec::new();
            write_piped_table(&mut out, &headers, !no_headers, &rows[..], &masker).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected.clone());
            // The same rows made as they are read (a large list's table).
            let made = MadeRows {
                rows: rows.len(),
                make: |r: usize, row: &mut RowText| {
                    for c in &rows[r] {
                        row.text.push_str(c);
                        row.end_cell();
                    }
                },
                scratch: Default::default(),
            };
            let mut out = Vec::new();
            write_piped_table(&mut out, &headers, !no_headers, &made, &masker).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn a_cell_wider_than_comfy_tables_arithmetic_stays_whole_on_its_line() {
        let name = "n".repeat(70_000);
        let rows = [
            vec!["1".to_string(), name.clone()],
            vec!["22".to_string(), "b".into()],
        ];
        let mut out = Vec::new();
        write_piped_table(
            &mut out,
            &["ID", "NAME"],
            true,
            &rows[..],
            &Masker::now(None),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "one line per row and the header");
        assert_eq!(lines[0], "ID | NAME");
        assert_eq!(lines[1], format!("1  | {name}"));
        assert_eq!(lines[2], "22 | b");
        // Padded to it, in a column before the last.
        let rows = [vec![name.clone(), "a".into()], vec!["1".into(), "b".into()]];
        let mut out = Vec::new();
        write_piped_table(&mut out, &["N", "V"], false, &rows[..], &Masker::now(None)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, format!("{name} | a\n1{} | b\n", " ".repeat(69_999)));
    }

    #[test]
    fn a_secret_echoed_as_a_key_is_masked_and_the_keys_sorted_again() {
        register();
        let row = json!({"stream-secret-0123456789": 1, "a": "zq7", "b": {"x-stream-secret-0123456789": 2}});
        let masker = Masker::now(None);
        let mut out = Vec::new();
        write_json_list(&mut out, "k", [&row], &masker).unwrap();
        let expected = crate::output::pretty(&json!({"k": [row]}));
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert!(expected.contains("\"***\": 1"), "{expected}");
    }
}
