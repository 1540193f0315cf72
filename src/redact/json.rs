//! JSON written safe for a terminal (issue 24): serde_json's layouts, with every string value
//! and key masked on its way out as [`super::json_value_except`] masks it and escaped as
//! [`super::json_text`] escapes it, so that large outputs are serialised once, straight from
//! the values or typed structs that hold them.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

use super::Masker;

/// serde_json's pretty (two spaces, starting at `indent` levels) or compact layout, with every
/// string value and key masked as [`crate::redact::json_value_except`] masks it and escaped as
/// [`crate::redact::json_text`] escapes it.
struct SafeFormatter<'m> {
    masker: &'m Masker,
    pretty: bool,
    indent: usize,
    has_value: bool,
    in_key: bool,
    /// The string being written, unescaped, until its end.
    string: String,
    /// A key was masked: the row must be written again with its keys sorted after masking.
    key_masked: &'m std::cell::Cell<bool>,
}

fn indent<W: ?Sized + Write>(w: &mut W, n: usize) -> io::Result<()> {
    for _ in 0..n {
        w.write_all(b"  ")?;
    }
    Ok(())
}

impl Formatter for SafeFormatter<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.indent -= 1;
        if self.pretty && self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.indent)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !self.pretty {
            return if first { Ok(()) } else { w.write_all(b",") };
        }
        w.write_all(if first { b"\n" } else { b",\n" })?;
        indent(w, self.indent)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.indent -= 1;
        if self.pretty && self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.indent)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.in_key = true;
        self.begin_array_value(w, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.in_key = false;
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.pretty { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_string<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.string.clear();
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, _w: &mut W, s: &str) -> io::Result<()> {
        self.string.push_str(s);
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        _w: &mut W,
        e: CharEscape,
    ) -> io::Result<()> {
        self.string.push(match e {
            CharEscape::Quote => '"',
            CharEscape::ReverseSolidus => '\\',
            CharEscape::Solidus => '/',
            CharEscape::Backspace => '\u{8}',
            CharEscape::FormFeed => '\u{c}',
            CharEscape::LineFeed => '\n',
            CharEscape::CarriageReturn => '\r',
            CharEscape::Tab => '\t',
            CharEscape::AsciiControl(b) => char::from(b),
        });
        Ok(())
    }

    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let raw = std::mem::take(&mut self.string);
        let shown = if self.in_key {
            let k = self.masker.key(&raw);
            if matches!(k, Cow::Owned(_)) {
                self.key_masked.set(true);
            }
            k
        } else {
            self.masker.value(&raw)
        };
        let result = write_json_string(w, &shown);
        drop(shown);
        self.string = raw;
        result
    }
}

/// `s` in quotes onto `out`, as [`write_json_string`] writes it: a plain one copied at once.
#[inline]
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    if super::plain_in_quotes(s) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        crate::scan::put(out, s.as_bytes());
        out.push(b'"');
    } else {
        let _ = write_json_string(out, s);
    }
}

/// A JSON string in quotes: serde_json's escapes, then `\uXXXX` for what
/// [`crate::redact::needs_escape`] names (C1 controls, DEL, bidirectional overrides).
pub fn write_json_string<W: ?Sized + Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    if super::plain_in_quotes(s) {
        w.write_all(s.as_bytes())?;
        return w.write_all(b"\"");
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escaped: Option<Cow<'static, str>> = match c {
            '"' => Some("\\\"".into()),
            '\\' => Some("\\\\".into()),
            '\n' => Some("\\n".into()),
            '\r' => Some("\\r".into()),
            '\t' => Some("\\t".into()),
            '\u{8}' => Some("\\b".into()),
            '\u{c}' => Some("\\f".into()),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
                Some(format!("\\u00{}", String::from_utf8_lossy(&hex)).into())
            }
            c if crate::redact::needs_escape(c) => Some(format!("\\u{:04x}", c as u32).into()),
            _ => None,
        };
        if let Some(e) = escaped {
            w.write_all(&s.as_bytes()[start..i])?;
            w.write_all(e.as_bytes())?;
            start = i + c.len_utf8();
        }
    }
    w.write_all(&s.as_bytes()[start..])?;
    w.write_all(b"\"")
}

/// Writes `value` into `out` at `level` levels (pretty) or on one line, every string masked by
/// `masker` and escaped for a terminal. True when an object key was masked: the caller then
/// writes the value again from a masked copy, so that its keys come out sorted after masking.
pub fn serialize<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    masker: &Masker,
    pretty: bool,
    level: usize,
) -> io::Result<bool> {
    let key_masked = std::cell::Cell::new(false);
    let formatter = SafeFormatter {
        masker,
        pretty,
        indent: level,
        has_value: false,
        in_key: false,
        string: String::new(),
        key_masked: &key_masked,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, formatter);
    value.serialize(&mut ser).map_err(io::Error::other)?;
    drop(ser);
    Ok(key_masked.get())
}

/// Appends `value` to `out` as [`serialize`] writes it; when an object key had to be masked,
/// writes instead the masked copy of `as_value()` (whose keys then sort as masked).
pub fn append<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    masker: &Masker,
    pretty: bool,
    level: usize,
    as_value: impl FnOnce() -> serde_json::Value,
) -> io::Result<()> {
    let start = out.len();
    if serialize(out, value, masker, pretty, level)? {
        out.truncate(start);
        let mut owned = as_value();
        super::json_value_except(&mut owned, masker.allowed());
        serialize(out, &owned, masker, pretty, level)?;
    }
    Ok(())
}
