//! Large outputs written as they are made (issue 24): one locked, buffered stdout; JSON values
//! serialised straight into it, each string masked and escaped on its way out; piped tables
//! written line by line. The bytes are exactly those of the whole-string path (`pretty`,
//! `jsonl::line`, `render_table_with`): only the work and the memory differ.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A cell's width: its length when its row is printable ASCII (`ascii`), else measured.
fn cell_width(cell: &str, ascii: bool) -> usize {
    if ascii { cell.len() } else { width(cell) }
}

/// `n` spaces onto `line`.
fn pad(line: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        crate::scan::put_str(line, &SPACES[..k]);
        n -= k;
    }
}

/// How a list's rows are made: in blocks of `size` rows, by two threads taking the blocks in
/// turn when `two`.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    size: usize,
    two: bool,
}

/// Rows a block holds: a block's text is a few hundred KiB at most.
const BLOCK_ROWS: usize = 1024;

impl Split {
    /// For `rows` rows: two threads from four blocks (below, a thread costs more than it saves),
    /// if the machine has two processors for them.
    pub fn of(rows: usize) -> Split {
        Split {
            size: BLOCK_ROWS,
            two: rows >= 4 * BLOCK_ROWS && crate::scan::two_processors(),
        }
    }

    fn blocks(self, rows: usize) -> usize {
        rows.div_ceil(self.size)
    }

    /// The rows of block `b`.
    fn rows(self, b: usize, rows: usize) -> std::ops::Range<usize> {
        b * self.size..rows.min((b + 1) * self.size)
    }
}

/// Writes to `w` the text `make` makes of `rows` rows, a block of them at a time, made by two
/// threads when they are many (as [`Split::of`] says).
pub fn write_blocks(
    w: &mut dyn Write,
    rows: usize,
    make: &(dyn Fn(std::ops::Range<usize>, &mut String) + Sync),
) -> io::Result<()> {
    let split = Split::of(rows);
    in_order::<String>(
        split.blocks(rows),
        split.two,
        &|b, out| {
            out.clear();
            make(split.rows(b, rows), out);
            Ok(())
        },
        &mut |out| w.write_all(out.as_bytes()),
    )
}

/// Makes blocks `0..blocks`, each by `make` into a `T` (which it clears as it needs), and hands
/// each to `take` in order. With `two`, a second thread makes every other block, at most one
/// block ahead of `take`, so that what is held stays a few blocks whatever the list's size.
fn in_order<T: Default + Send>(
    blocks: usize,
    two: bool,
    make: &(dyn Fn(usize, &mut T) -> io::Result<()> + Sync),
    take: &mut dyn FnMut(&mut T) -> io::Result<()>,
) -> io::Result<()> {
    if !two || blocks < 2 {
        let mut block = T::default();
        for b in 0..blocks {
            make(b, &mut block)?;
            take(&mut block)?;
        }
        return Ok(());
    }
    let handoff = Handoff {
        state: std::sync::Mutex::new(Passing {
            block: None,
            spare: None,
            stopped: false,
        }),
        changed: std::sync::Condvar::new(),
        changes: AtomicU64::new(0),
    };
    let registry = crate::redact::Registry::here();
    let handoff = &handoff;
    let (_, own) = crate::worker::join(
        move || {
            registry.adopt();
            // Stopped however it ends, a panic too: the first thread then waits no more.
            let _stop = Stop(handoff);
            let mut block = T::default();
            for b in (1..blocks).step_by(2) {
                let made = make(b, &mut block).map(|()| std::mem::take(&mut block));
                let failed = made.is_err();
                let mut state = handoff.lock();
                while state.block.is_some() && !state.stopped {
                    state = handoff.wait(state);
                }
                if state.stopped {
                    return;
                }
                state.block = Some(made);
                block = state.spare.take().unwrap_or_default();
                handoff.notify();
                if failed {
                    return;
                }
            }
        },
        || {
            // Stops the second thread when this one ends early (an error of its own or `take`'s).
            let _stop = Stop(handoff);
            let mut own = T::default();
            for b in 0..blocks {
                if b % 2 == 0 {
                    make(b, &mut own)?;
                    take(&mut own)?;
                    continue;
                }
                let made = {
                    let mut state = handoff.lock();
                    loop {
                        if let Some(made) = state.block.take() {
                            handoff.notify();
                            break made;
                        }
                        if state.stopped {
                            return Err(io::Error::other("the second thread making rows stopped"));
                        }
                        state = handoff.wait(state);
                    }
                };
                let mut block = made?;
                take(&mut block)?;
                handoff.lock().spare = Some(block);
            }
            Ok(())
        },
    );
    own
}

/// A block passed from the second thread of [`in_order`] to the first, and a spent one back.
struct Handoff<T> {
    state: std::sync::Mutex<Passing<T>>,
    changed: std::sync::Condvar,
    /// Counts the changes of `state`, for [`Handoff::wait`] to watch without the lock.
    changes: AtomicU64,
}

/// How long a thread of [`in_order`] watches for the other's block before it sleeps: a block
/// takes a few hundred microseconds to make.
const WATCHED_FOR: std::time::Duration = std::time::Duration::from_micros(200);

struct Passing<T> {
    block: Option<io::Result<T>>,
    spare: Option<T>,
    /// One of the threads has ended: the other waits for it no more.
    stopped: bool,
}

impl<T> Handoff<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Passing<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the other thread to change the state (or a while: the caller looks again).
    /// The other thread is most often a moment from handing over its block, so it is watched
    /// for a while before this thread sleeps: a sleeping thread's processor is woken by the
    /// other's (on a virtual machine, through the host), which costs more than the wait.
    fn wait<'a>(
        &'a self,
        state: std::sync::MutexGuard<'a, Passing<T>>,
    ) -> std::sync::MutexGuard<'a, Passing<T>> {
        let seen = self.changes.load(Ordering::Acquire);
        drop(state);
        let changed = || self.changes.load(Ordering::Acquire) != seen;
        let start = std::time::Instant::now();
        while !changed() && start.elapsed() < WATCHED_FOR {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        let state = self.lock();
        if changed() {
            return state;
        }
        self.changed.wait(state).unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a change of the state, made under its lock, and wakes a sleeping waiter.
    fn notify(&self) {
        self.changes.fetch_add(1, Ordering::Release);
        self.changed.notify_all();
    }
}

/// Marks a [`Handoff`] stopped when dropped.
struct Stop<'a, T>(&'a Handoff<T>);

impl<T> Drop for Stop<'_, T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.stopped = true;
        self.0.notify();
    }
}

/// Writes rows `0..n` in order, row `i` appended to a buffer by `row`: a large list's rows made
/// by two threads, a block at a time ([`Split::of`]).
pub fn write_rows(
    w: &mut dyn Write,
    n: usize,
    row: &(dyn Fn(usize, &mut Vec<u8>) -> io::Result<()> + Sync),
) -> io::Result<()> {
    write_rows_split(w, n, Split::of(n), row)
}

fn write_rows_split(
    w: &mut dyn Write,
    n: usize,
    split: Split,
    row: &(dyn Fn(usize, &mut Vec<u8>) -> io::Result<()> + Sync),
) -> io::Result<()> {
    in_order::<Vec<u8>>(
        split.blocks(n),
        split.two,
        &|b, out| {
            out.clear();
            split.rows(b, n).try_for_each(|i| row(i, out))
        },
        &mut |out| w.write_all(out),
    )
}

/// `{"<key>": [rows…]}` pretty-printed, row `i` (of `n`) appended at level 2 by `row`: the bytes
/// of `pretty(&json!({key: rows}))`, a large list's rows made by two threads.
pub fn write_json_rows(
    w: &mut dyn Write,
    key: &str,
    n: usize,
    row: &(dyn Fn(usize, &mut Vec<u8>) -> io::Result<()> + Sync),
    masker: &Masker,
) -> io::Result<()> {
    json_rows_split(w, key, n, Split::of(n), row, masker)
}

fn json_rows_split(
    w: &mut dyn Write,
    key: &str,
    n: usize,
    split: Split,
    row: &(dyn Fn(usize, &mut Vec<u8>) -> io::Result<()> + Sync),
    masker: &Masker,
) -> io::Result<()> {
    w.write_all(b"{\n  ")?;
    write_json_string(&mut *w, &masker.key(key))?;
    w.write_all(b": [")?;
    write_rows_split(w, n, split, &|i, out| {
        out.extend_from_slice(if i > 0 { b",\n    " } else { b"\n    " });
        row(i, out)
    })?;
    if n > 0 {
        w.write_all(b"\n  ")?;
    }
    w.write_all(b"]\n}\n")
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
    let split = Split::of(rows.rows());
    piped_table(w, headers, show_headers, rows, masker, split)
}

/// What the first read of a part of a table's rows holds, for rows made as they are read (a
/// large list's, from its tokens): their cells' text, made once. Two threads each fill one, side
/// by side: aligned to two cache lines so that the lengths one pushes on are never on a line of
/// the other's (which the processors would pass back and forth at every row: the read of
/// 100,000 rows took 17 ms rather than 12).
#[derive(Default)]
#[repr(align(128))]
struct Held {
    /// The part's first row.
    first: usize,
    cells: RowText,
    /// Where each row's cells end in `cells`, the high bit set for a row of printable ASCII
    /// (as wide as long, cell by cell).
    row_ends: Vec<u32>,
}

/// The bit of a held row's end that marks it printable ASCII.
const ASCII_ROW: u32 = 1 << 31;

impl Held {
    /// Row `r`'s cells (of this part), and whether the row is printable ASCII.
    fn row(&self, r: usize) -> (impl Iterator<Item = &str>, bool) {
        let r = r - self.first;
        let from = match r {
            0 => 0,
            _ => (self.row_ends[r - 1] & !ASCII_ROW) as usize,
        };
        let end = self.row_ends[r];
        (
            self.cells.cells(from, (end & !ASCII_ROW) as usize),
            end & ASCII_ROW != 0,
        )
    }
}

/// Reads rows `range` for their columns' widths, onto `widths`; with `hold`, holds their text,
/// given room at once by its first row's length.
fn measure(
    rows: &(impl TableRows + ?Sized),
    range: std::ops::Range<usize>,
    hold: bool,
    widths: &mut Vec<usize>,
    held: &mut Held,
) {
    held.first = range.start;
    let count = range.len();
    for r in range {
        if !hold {
            held.cells.clear();
        }
        let from = held.cells.ends.len();
        let text_from = held.cells.text.len();
        rows.row(r, &mut held.cells);
        let to = held.cells.ends.len();
        // A row of printable ASCII (most often) is as wide as long, cell by cell.
        let ascii = crate::redact::plain(&held.cells.text[text_from..], false);
        for (i, c) in held.cells.cells(from, to).enumerate() {
            if i >= widths.len() {
                widths.resize(i + 1, 1);
            }
            widths[i] = widths[i].max(cell_width(c, ascii));
        }
        if hold {
            if r == held.first {
                // Room for the part at once, by its first row (a quarter more text, for longer
                // rows): no copies as it grows.
                let text = held.cells.text.len();
                held.cells
                    .text
                    .reserve(count.saturating_mul(text + text / 4));
                held.cells
                    .ends
                    .reserve_exact(count.saturating_mul(to - from));
                held.row_ends.reserve_exact(count);
            }
            // A part's cells are far fewer than 2^31.
            held.row_ends
                .push(to as u32 | if ascii { ASCII_ROW } else { 0 });
        }
    }
}

fn piped_table(
    w: &mut dyn Write,
    headers: &[&str],
    show_headers: bool,
    rows: &(impl TableRows + ?Sized),
    masker: &Masker,
    split: Split,
) -> io::Result<()> {
    // Each row is read for its widths, then for its line. Rows made as they are read (a large
    // list's, from its tokens) are made once: their text is held for the second read (about 60
    // bytes a row, where a decoded token is 256). comfy-table gives an empty column one
    // character. A large table's halves are read by a thread each, and its lines made by two.
    let n = rows.rows();
    let hold = rows.made();
    let mut widths = vec![1usize; headers.len()];
    let mut held: [Held; 2] = Default::default();
    let half = if split.two { n / 2 } else { n };
    {
        let [low, high] = &mut held;
        let mut high_widths = Vec::new();
        if split.two {
            let registry = crate::redact::Registry::here();
            crate::worker::join(
                || {
                    registry.adopt();
                    measure(rows, half..n, hold, &mut high_widths, high);
                },
                || measure(rows, 0..half, hold, &mut widths, low),
            );
        } else {
            measure(rows, 0..n, hold, &mut widths, low);
        }
        if high_widths.len() > widths.len() {
            widths.resize(high_widths.len(), 1);
        }
        for (w, &h) in widths.iter_mut().zip(&high_widths) {
            *w = (*w).max(h);
        }
    }
    let columns = widths.len();
    let header = show_headers.then_some(headers);
    if columns == 0 {
        return Ok(());
    }
    for (i, h) in header.into_iter().flatten().enumerate() {
        widths[i] = widths[i].max(width(h));
    }
    let widths = &widths[..];
    // Lines go through the sink a block at a time: one search per secret over many lines (a
    // secret holds no newline, and a short one is masked as a whole word either way). Lines of
    // rows of printable ASCII (`ascii`) have nothing to escape: they are only searched.
    let sink = |text: &mut String, ascii: bool| {
        let safe = match ascii {
            true => masker.text(text),
            false => masker.sink(text, Stream::Stdout),
        };
        if let std::borrow::Cow::Owned(masked) = safe {
            *text = masked;
        }
    };
    if let Some(h) = header {
        let mut line = String::new();
        write_line(&mut line, widths, false, &mut h.iter().copied());
        sink(&mut line, false);
        w.write_all(line.as_bytes())?;
    }
    in_order::<String>(
        split.blocks(n),
        split.two,
        &|b, out| {
            out.clear();
            let mut all_ascii = hold;
            if hold {
                for r in split.rows(b, n) {
                    let (mut cells, ascii) = held[usize::from(r >= half)].row(r);
                    write_line(out, widths, ascii, &mut cells);
                    all_ascii &= ascii;
                }
            } else {
                let mut row = RowText::default();
                for r in split.rows(b, n) {
                    row.clear();
                    rows.row(r, &mut row);
                    write_line(out, widths, false, &mut row.cells(0, row.ends.len()));
                }
            }
            sink(out, all_ascii);
            Ok(())
        },
        &mut |out| w.write_all(out.as_bytes()),
    )
}

/// One line of a piped table onto `line`: `cells` padded to `widths`, the last one not, the
/// line's trailing blanks taken off. A cell of an `ascii` row (printable ASCII, as the first
/// read found) is as wide as long.
fn write_line(
    line: &mut String,
    widths: &[usize],
    ascii: bool,
    cells: &mut dyn Iterator<Item = &str>,
) {
    let start = line.len();
    let columns = widths.len();
    for (i, &column_width) in widths.iter().enumerate() {
        let cell = cells.next().unwrap_or("");
        if i > 0 {
            line.push_str(" | ");
        }
        crate::scan::put_str(line, cell);
        if i + 1 < columns {
            pad(line, column_width.saturating_sub(cell_width(cell, ascii)));
        }
    }
    let end = start + line[start..].trim_end().len();
    line.truncate(end);
    line.push('\n');
}

/// The rows of a table: each one's cells' text, made by [`TableRows::row`].
pub trait TableRows: Sync {
    fn rows(&self) -> usize;
    /// Appends row `r`'s cells to `row`, each ended by [`RowText::end_cell`].
    fn row(&self, r: usize, row: &mut RowText);
    /// Whether a row is made when it is read (rather than held): then it is read once.
    fn made(&self) -> bool {
        false
    }
}

impl TableRows for [Vec<String>] {
    fn rows(&self) -> usize {
        self.len()
    }

    fn row(&self, r: usize, row: &mut RowText) {
        for c in &self[r] {
            row.text.push_str(c);
            row.end_cell();
        }
    }
}

/// Rows made when read by `make`, which appends row `r`'s cells to the [`RowText`] it is
/// given, each ended by [`RowText::end_cell`].
pub struct MadeRows<F> {
    pub rows: usize,
    pub make: F,
}

/// The text of cells one after the other, and where each ends.
#[derive(Default)]
pub struct RowText {
    pub text: String,
    ends: Vec<u32>,
}

impl RowText {
    pub fn end_cell(&mut self) {
        self.ends.push(self.text.len() as u32);
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Where the next cell begins, to come [`RowText::back_to`].
    pub fn mark(&self) -> CellMark {
        CellMark {
            text: self.text.len(),
            cells: self.ends.len(),
        }
    }

    /// The cells from `mark` on taken off.
    pub fn back_to(&mut self, mark: CellMark) {
        self.text.truncate(mark.text);
        self.ends.truncate(mark.cells);
    }

    /// The text of cells `from..to`.
    pub(crate) fn cells(&self, from: usize, to: usize) -> impl Iterator<Item = &str> {
        (from..to).map(|c| {
            let start = if c == 0 { 0 } else { self.ends[c - 1] as usize };
            &self.text[start..self.ends[c] as usize]
        })
    }
}

/// A place in a [`RowText`]: its text's length and its count of cells.
#[derive(Debug, Clone, Copy)]
pub struct CellMark {
    pub text: usize,
    cells: usize,
}

impl<F: Fn(usize, &mut RowText) + Sync> TableRows for MadeRows<F> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn made(&self) -> bool {
        true
    }

    fn row(&self, r: usize, row: &mut RowText) {
        (self.make)(r, row)
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
            let expected = crate::output::pretty(&json!({"service-tokens": rows}));
            // In one thread, and in two with blocks of one or two rows.
            for split in [Split::of(rows.len()), Split { size: 1, two: true }, Split { size: 2, two: true }] {
                let mut out = Vec::new();
                json_rows_split(&mut out, "service-tokens", rows.len(), split,
                    &|i, out| rows[i].write_row(out, &masker, true, 2), &masker).unwrap();
                prop_assert_eq!(String::from_utf8(out).unwrap(), expected.clone());
            }
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
            // The same rows made as they are read (a large list's table), and both read by two
            // threads in blocks of one or two rows.
            let made = MadeRows {
                rows: rows.len(),
                make: |r: usize, row: &mut RowText| {
                    for c in &rows[r] {
                        row.text.push_str(c);
                        row.end_cell();
                    }
                },
            };
            let mut out = Vec::new();
            write_piped_table(&mut out, &headers, !no_headers, &made, &masker).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected.clone());
            for split in [Split { size: 1, two: true }, Split { size: 2, two: true }] {
                let mut out = Vec::new();
                piped_table(&mut out, &headers, !no_headers, &made, &masker, split).unwrap();
                prop_assert_eq!(String::from_utf8(out).unwrap(), expected.clone());
                let mut out = Vec::new();
                piped_table(&mut out, &headers, !no_headers, &rows[..], &masker, split).unwrap();
                prop_assert_eq!(String::from_utf8(out).unwrap(), expected.clone());
            }
        }
    }

    #[test]
    fn held_rows_of_printable_ascii_are_still_searched_for_secrets() {
        // Rows made as they are read, written as they are (no cell made safe when made): the
        // lines of printable ASCII are not escaped, but a secret in them is masked all the same;
        // the others are escaped.
        register();
        let rows = [
            ["1", "x-stream-secret-0123456789-y", "plain"],
            ["2", "zq7", "-"],
            ["3", "red\u{1b}[31m", "-"],
        ];
        let made = MadeRows {
            rows: rows.len(),
            make: |r: usize, row: &mut RowText| {
                for c in rows[r] {
                    row.text.push_str(c);
                    row.end_cell();
                }
            },
        };
        let headers = ["ID", "NAME", "DEDICATED_SUBJECT"];
        let masker = Masker::now(None);
        for split in [Split::of(rows.len()), Split { size: 1, two: true }] {
            let mut out = Vec::new();
            piped_table(&mut out, &headers, true, &made, &masker, split).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_eq!(
                out.lines().skip(1).collect::<Vec<_>>(),
                // Laid out before they are masked, as the whole-output path masks them; a
                // control character escaped.
                [
                    "1  | x-***-y | plain",
                    "2  | ***                          | -",
                    "3  | red\\u001b[31m                     | -",
                ]
            );
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
        write_json_rows(
            &mut out,
            "k",
            1,
            &|_, out| row.write_row(out, &masker, true, 2),
            &masker,
        )
        .unwrap();
        let expected = crate::output::pretty(&json!({"k": [row]}));
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert!(expected.contains("\"***\": 1"), "{expected}");
    }

    #[test]
    fn rows_made_by_two_threads_come_out_in_order_and_an_error_of_either_ends_the_write() {
        let split = Split { size: 3, two: true };
        let row = |i: usize, out: &mut Vec<u8>| -> io::Result<()> {
            out.extend_from_slice(format!("{i}\n").as_bytes());
            Ok(())
        };
        let mut out = Vec::new();
        write_rows_split(&mut out, 100, split, &row).unwrap();
        let expected: String = (0..100).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        // A row of a block of the first thread (0-2, 6-8, …) or of the second (3-5, …) fails:
        // the error is the write's, and what came before it is written, nothing after.
        for failing in [0, 4, 50, 99] {
            let mut out = Vec::new();
            let e = write_rows_split(&mut out, 100, split, &|i, out| match i == failing {
                true => Err(io::Error::other(format!("row {i}"))),
                false => row(i, out),
            })
            .unwrap_err();
            assert_eq!(e.to_string(), format!("row {failing}"));
            let written = String::from_utf8(out).unwrap();
            let block_start = failing / 3 * 3;
            assert_eq!(
                written,
                expected[..expected
                    .find(&format!("\n{block_start}\n"))
                    .map_or(0, |n| n + 1)]
            );
        }
        // The writer fails: the rows still being made are left.
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                match self.0 > 5 {
                    true => Err(io::Error::other("full")),
                    false => Ok(buf.len()),
                }
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = write_rows_split(&mut Full(0), 100, split, &row).unwrap_err();
        assert_eq!(e.to_string(), "full");
    }
}
