//! The one table renderer (CONTRACT §2–§4; STYLE, Output), built on `comfy-table`.
//!
//! Callers pass plain rows of strings and say what kind each column is; the look is the Go CLI's:
//! no borders, no header separator, ` | ` between left-aligned columns, no trailing spaces.
//!
//! - Without a width (stdout is not a terminal) nothing wraps: one line per row, as scripts expect.
//! - With a width (a terminal), the table fits it ([`fit`], CONTRACT §14): [`ColumnKind::Text`]
//!   columns shrink and wrap at spaces, a word too long for its column shortened with `…`, while
//!   [`ColumnKind::Id`] and [`ColumnKind::Date`] columns keep their whole content on one line.
//!   When even those do not fit, each row becomes a block of `FIELD: value` lines.

mod fit;

use comfy_table::{
    Cell, ColumnConstraint, ContentArrangement, ContentLineStyle, LineStyle, Table, TableStyle,
};

/// What a column holds, which decides whether it may wrap on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// An id, a guid, a status, a platform name: never cut, never wrapped.
    Id,
    /// A date (`2025-01-01`, `2025-01-01 (expired)`, `2h ago`): never cut, never wrapped.
    Date,
    /// Free text (names, roles, scopes, descriptions, URLs): on a terminal too narrow for the
    /// table, wraps at spaces and is shortened with `…`.
    Text,
}

/// How a table is laid out, beyond its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableOptions {
    /// The terminal's width to fit; `None` (not a terminal) never wraps.
    pub width: Option<u16>,
    /// Leave the header line out (`--no-headers`); the columns are then as wide as their cells.
    pub no_headers: bool,
    /// Colour the header cells (cyan) with ANSI escapes.
    pub color: bool,
}

/// The Go CLI's look: columns joined by ` | ` (the padding around the `|` comes from the columns),
/// nothing else drawn.
const GO_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::none())
    .header_lines(ContentLineStyle::none().junction('|'))
    .header_separator(LineStyle::none())
    .content_lines(ContentLineStyle::none().junction('|'))
    .row_separator(LineStyle::none())
    .bottom_border(LineStyle::none());

const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// A table with a header line and no colour, fitted to `width` when given. `kinds` names the
/// kind of each column (a column without one is [`ColumnKind::Text`]); rows shorter than the
/// header are padded with empty cells.
pub fn render_table(
    headers: &[&str],
    rows: &[Vec<String>],
    kinds: &[ColumnKind],
    width: Option<u16>,
) -> String {
    render_table_with(
        headers,
        rows,
        kinds,
        TableOptions {
            width,
            ..TableOptions::default()
        },
    )
}

/// [`render_table`] with every option: the header line left out, or coloured.
pub fn render_table_with(
    headers: &[&str],
    rows: &[Vec<String>],
    kinds: &[ColumnKind],
    options: TableOptions,
) -> String {
    let columns = headers
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    if columns == 0 {
        return String::new();
    }
    let header: Option<Vec<String>> = (!options.no_headers).then(|| {
        let mut header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        header.resize(columns, String::new());
        header
    });
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.resize(columns, String::new());
            row
        })
        .collect();
    let kinds: Vec<ColumnKind> = (0..columns)
        .map(|i| kinds.get(i).copied().unwrap_or(ColumnKind::Text))
        .collect();
    if let Some(width) = options.width {
        let labels: Vec<String> = {
            let mut labels: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
            labels.resize(columns, String::new());
            labels
        };
        let cells = fit::Cells {
            header: header.as_deref(),
            rows: &rows,
            kinds: &kinds,
            labels: &labels,
        };
        if let Some(text) = fit::fit(&cells, usize::from(width), options.color) {
            return text;
        }
    }

    let table = build(header.as_deref(), &rows, options.width);
    let text = table.trim_fmt();
    let mut out = String::with_capacity(text.len() + 1);
    for (n, line) in text.lines().enumerate() {
        if n == 0 && header.is_some() && options.color {
            out.push_str(&paint_cells(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The comfy-table of these cells: the Go style, ` | ` made of the columns' padding, each column
/// as wide as its content (the table fits: [`fit`] handled the rest).
fn build(header: Option<&[String]>, rows: &[Vec<String>], width: Option<u16>) -> Table {
    let mut table = Table::new();
    table.load_style(GO_STYLE);
    if let Some(header) = header {
        table.set_header(header.iter().map(Cell::new));
    }
    table.add_rows(rows.iter().cloned());
    match width {
        Some(width) => table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width),
        None => table.set_content_arrangement(ContentArrangement::Disabled),
    };
    let count = table.column_count();
    for (i, column) in table.column_iter_mut().enumerate() {
        let padding = match (i == 0, i + 1 == count) {
            (true, true) => (0, 0),
            (true, false) => (0, 1),
            (false, true) => (1, 0),
            (false, false) => (1, 1),
        };
        column.set_padding(padding);
        column.set_constraint(ColumnConstraint::ContentWidth);
    }
    table
}

/// A header line with each cell cyan and the separators left plain.
fn paint_cells(line: &str) -> String {
    line.split(" | ")
        .map(|cell| {
            let body = cell.trim_end();
            let pad = &cell[body.len()..];
            if body.is_empty() {
                cell.to_string()
            } else {
                format!("{CYAN}{body}{RESET}{pad}")
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnKind::{Date, Id, Text};
    use unicode_width::UnicodeWidthStr;

    fn cells(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn piped_tables_have_the_go_look() {
        let rows = cells(&[&["1", "a"], &["22", "bbb"]]);
        assert_eq!(
            render_table(&["A", "B"], &rows, &[Id, Text], None),
            "A  | B\n1  | a\n22 | bbb\n"
        );
        let long = "word ".repeat(40);
        let rows = cells(&[&["1", long.trim_end(), "-"]]);
        let text = render_table(&["ID", "DESCRIPTION", "X"], &rows, &[Id, Text, Text], None);
        assert_eq!(text.lines().count(), 2, "nothing wraps without a width");
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text:?}");
    }

    #[test]
    fn colour_paints_the_header_cells_only() {
        let options = TableOptions {
            color: true,
            ..TableOptions::default()
        };
        let rows = cells(&[&["1", "2"]]);
        assert_eq!(
            render_table_with(&["AB", "C"], &rows, &[Id, Id], options),
            "\x1b[36mAB\x1b[0m | \x1b[36mC\x1b[0m\n1  | 2\n"
        );
    }

    #[test]
    fn no_headers_sizes_columns_by_their_cells() {
        let options = TableOptions {
            no_headers: true,
            ..TableOptions::default()
        };
        let rows = cells(&[&["1", "a"], &["22", "b"]]);
        assert_eq!(
            render_table_with(&["LONG_HEADER", "B"], &rows, &[Id, Text], options),
            "1  | a\n22 | b\n"
        );
    }

    #[test]
    fn a_terminal_wraps_text_and_never_ids_or_dates() {
        let id = "328642869089449";
        let date = "2025-01-01 (expired)";
        let roles = "[stackstate-k8s-troubleshooter stackstate-power-user stackstate-admin]";
        let rows = cells(&[&[id, "a-rather-long-token-name", date, roles, "-"]]);
        let headers = ["ID", "NAME", "EXPIRATION", "ROLES", "DEDICATED_SUBJECT"];
        let kinds = [Id, Text, Date, Text, Text];
        for width in [40u16, 60, 80, 120] {
            let text = render_table(&headers, &rows, &kinds, Some(width));
            assert!(text.contains(id), "{width}: {text}");
            assert!(text.contains(date), "{width}: {text}");
            assert!(text.lines().all(|l| !l.ends_with(' ')), "{text:?}");
            assert!(
                text.lines().all(|l| l.width() <= usize::from(width)),
                "{width}:\n{text}"
            );
            if width <= 60 {
                // The id and the date do not fit beside the narrowest text: blocks of fields.
                assert!(text.starts_with("ID: "), "{text}");
                continue;
            }
            assert!(text.lines().next().unwrap().starts_with("ID "), "{text}");
            // Every line keeps the four separators: text wraps inside its cell.
            assert!(text.lines().all(|l| l.matches(" |").count() == 4), "{text}");
        }
        let joined: String = render_table(&headers, &rows, &kinds, Some(120))
            .lines()
            .skip(1)
            .map(|l| l.split('|').nth(3).unwrap_or("").trim().to_string())
            .collect();
        let roles: String = roles.split(' ').collect();
        assert_eq!(joined, roles, "text wrapped at its words loses nothing");
    }

    #[test]
    fn ids_overflow_rather_than_break() {
        let guid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let rows = cells(&[&[guid, guid, "text"]]);
        let text = render_table(&["GUID", "OTHER", "T"], &rows, &[Id, Id, Text], Some(30));
        assert_eq!(text.matches(guid).count(), 2, "{text}");
    }

    #[test]
    fn empty_and_ragged_input() {
        assert_eq!(render_table(&[], &[], &[], None), "");
        let rows = cells(&[&["1"]]);
        assert_eq!(render_table(&["A", "B"], &rows, &[], None), "A | B\n1 |\n");
    }
}
