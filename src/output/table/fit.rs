//! Fitting a table to a terminal that is narrower than it (CONTRACT §14).
//!
//! - Ids, dates, statuses and platform names ([`ColumnKind::Id`], [`ColumnKind::Date`]) keep
//!   their whole width and never wrap.
//! - Text columns shrink, the widest first: first down to their longest word (so they wrap at
//!   spaces and lose nothing), then down to [`MIN_TEXT_WIDTH`], a word longer than the column
//!   being shortened with `…`. A word is never broken across lines.
//! - When even that is wider than the terminal, each row is printed as a block of `FIELD: value`
//!   lines, a blank line between blocks.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::ColumnKind;

/// The narrowest a text column gets before the table turns into blocks: a shortened cell still
/// shows five characters and its `…`.
pub const MIN_TEXT_WIDTH: usize = 6;

const SEPARATOR: &str = " | ";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// What to lay out: the header (`None` with `--no-headers`), rows as wide as the header, the
/// kind of each column.
pub struct Cells<'a> {
    pub header: Option<&'a [String]>,
    pub rows: &'a [Vec<String>],
    pub kinds: &'a [ColumnKind],
    /// The labels of the block form (the header, even with `--no-headers`).
    pub labels: &'a [String],
}

/// The table fitted to `width`, or `None` when it fits as it is (the caller then renders it
/// as when piped).
pub fn fit(cells: &Cells, width: usize, color: bool) -> Option<String> {
    let columns = cells.kinds.len();
    let natural: Vec<usize> = (0..columns)
        .map(|i| {
            let body = cells.rows.iter().map(|r| r[i].width()).max().unwrap_or(0);
            let head = cells.header.map_or(0, |h| h[i].width());
            body.max(head)
        })
        .collect();
    let separators = SEPARATOR.len() * columns.saturating_sub(1);
    let total = |w: &[usize]| w.iter().sum::<usize>() + separators;
    if total(&natural) <= width {
        return None;
    }
    let never_cut = |i: usize| cells.kinds[i] != ColumnKind::Text;
    // A header wraps at `_` and spaces: its longest word must fit.
    let header_word = |i: usize| {
        cells.header.map_or(0, |h| {
            words_of_header(&h[i]).map(str::width).max().unwrap_or(0)
        })
    };
    let longest_word = |i: usize| {
        let body = cells
            .rows
            .iter()
            .flat_map(|r| r[i].split_whitespace())
            .map(str::width)
            .max()
            .unwrap_or(0);
        body.max(header_word(i))
    };
    let hard: Vec<usize> = (0..columns)
        .map(|i| {
            if never_cut(i) {
                natural[i]
            } else {
                natural[i].min(header_word(i).max(MIN_TEXT_WIDTH))
            }
        })
        .collect();
    if total(&hard) > width {
        return Some(blocks(cells, width, color));
    }
    let soft: Vec<usize> = (0..columns)
        .map(|i| natural[i].min(longest_word(i).max(hard[i])))
        .collect();
    let mut widths = natural;
    for floors in [&soft, &hard] {
        while total(&widths) > width {
            let widest = (0..columns)
                .filter(|&i| widths[i] > floors[i])
                .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
            let Some(i) = widest else { break };
            widths[i] -= 1;
        }
    }
    Some(table(cells, &widths, color))
}

/// The rows as a table of the given column widths, text wrapped inside its cells.
fn table(cells: &Cells, widths: &[usize], color: bool) -> String {
    let mut out = String::new();
    if let Some(header) = cells.header {
        let lines: Vec<Vec<String>> = header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if cells.kinds[i] == ColumnKind::Text {
                    wrap(words_of_header(h), widths[i])
                } else {
                    vec![h.clone()]
                }
            })
            .collect();
        push_row(&mut out, &lines, widths, color);
    }
    for row in cells.rows {
        let lines: Vec<Vec<String>> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if cells.kinds[i] == ColumnKind::Text {
                    wrap(c.split_whitespace(), widths[i])
                } else {
                    vec![c.clone()]
                }
            })
            .collect();
        push_row(&mut out, &lines, widths, false);
    }
    out
}

/// One row of cells, each a list of lines, as as many text lines as its tallest cell; cells
/// painted cyan when `color`.
fn push_row(out: &mut String, cells: &[Vec<String>], widths: &[usize], color: bool) {
    let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
    for n in 0..height {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str(SEPARATOR);
            }
            let text = cell.get(n).map_or("", String::as_str);
            if color && !text.is_empty() {
                line.push_str(&format!("{CYAN}{text}{RESET}"));
            } else {
                line.push_str(text);
            }
            line.push_str(&" ".repeat(widths[i].saturating_sub(text.width())));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Each row as `FIELD: value` lines, the values aligned, text values wrapped to the terminal;
/// a blank line between rows.
fn blocks(cells: &Cells, width: usize, color: bool) -> String {
    let labels: Vec<String> = cells.labels.iter().map(|l| format!("{l}:")).collect();
    let indent = labels.iter().map(|l| l.width()).max().unwrap_or(0) + 1;
    let room = width.saturating_sub(indent).max(MIN_TEXT_WIDTH);
    let mut out = String::new();
    for (n, row) in cells.rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        for (i, value) in row.iter().enumerate() {
            let label = labels.get(i).map_or("", String::as_str);
            let lines = if cells.kinds[i] == ColumnKind::Text {
                wrap(value.split_whitespace(), room)
            } else {
                vec![value.clone()]
            };
            for (k, line) in lines.iter().enumerate() {
                let shown = if k > 0 || label.is_empty() {
                    String::new()
                } else if color {
                    format!("{CYAN}{label}{RESET}")
                } else {
                    label.to_string()
                };
                let pad = if k > 0 {
                    indent
                } else {
                    indent - label.width()
                };
                let text = format!("{shown}{}{line}", " ".repeat(pad));
                out.push_str(text.trim_end());
                out.push('\n');
            }
        }
    }
    out
}

/// A header's words: it wraps at `_` and at spaces (`DEDICATED_SUBJECT`, `LAST USED`).
fn words_of_header(header: &str) -> impl Iterator<Item = &str> {
    header.split(['_', ' ']).filter(|w| !w.is_empty())
}

/// Words filled into lines of at most `width` columns; a word wider than that is shortened
/// to fit with `…`. At least one (empty) line.
fn wrap<'a>(words: impl Iterator<Item = &'a str>, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in words {
        let word = shorten(word, width);
        if line.is_empty() {
            line = word;
        } else if line.width() + 1 + word.width() <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    lines.push(line);
    lines
}

/// `word` as it is when it fits `width` columns, else its start and `…` in `width` columns.
pub fn shorten(word: &str, width: usize) -> String {
    if word.width() <= width {
        return word.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in word.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnKind::{Date, Id, Text};

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn words_wrap_and_long_words_are_shortened() {
        assert_eq!(wrap("a bb ccc".split_whitespace(), 4), ["a bb", "ccc"]);
        assert_eq!(
            wrap("[stackstate-admin x]".split_whitespace(), 8),
            ["[stacks…", "x]"]
        );
        assert_eq!(wrap("".split_whitespace(), 5), [""]);
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("日本語の名前", 6), "日本…");
    }

    #[test]
    fn text_columns_shrink_to_their_words_before_shortening_them() {
        let header = strings(&["ID", "NAME", "ROLES"]);
        let rows = vec![strings(&[
            "12345",
            "a-name",
            "[role-one role-two role-three]",
        ])];
        let kinds = [Id, Text, Text];
        let cells = Cells {
            header: Some(&header),
            rows: &rows,
            kinds: &kinds,
            labels: &header,
        };
        assert_eq!(fit(&cells, 80, false), None);
        let text = fit(&cells, 30, false).unwrap();
        assert_eq!(
            text,
            "ID    | NAME   | ROLES\n12345 | a-name | [role-one\n      |        | role-two\n      |        | role-three]\n"
        );
        let text = fit(&cells, 24, false).unwrap();
        assert!(text.lines().all(|l| l.width() <= 24), "{text}");
        assert!(text.contains("role-t…"), "{text}");
    }

    #[test]
    fn blocks_when_even_ids_and_dates_do_not_fit() {
        let guid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let header = strings(&["ID", "EXPIRATION", "DEDICATED_SUBJECT"]);
        let rows = vec![
            strings(&[guid, "2025-01-01 (expired)", "one two three four five six"]),
            strings(&["7", "-", "-"]),
        ];
        let kinds = [Id, Date, Text];
        let cells = Cells {
            header: Some(&header),
            rows: &rows,
            kinds: &kinds,
            labels: &header,
        };
        let text = fit(&cells, 40, false).unwrap();
        assert_eq!(
            text,
            format!(
                "ID:                {guid}\nEXPIRATION:        2025-01-01 (expired)\nDEDICATED_SUBJECT: one two three four\n                   five six\n\nID:                7\nEXPIRATION:        -\nDEDICATED_SUBJECT: -\n"
            )
        );
        let painted = fit(&cells, 40, true).unwrap();
        assert!(painted.starts_with("\x1b[36mID:\x1b[0m "), "{painted:?}");
    }
}
