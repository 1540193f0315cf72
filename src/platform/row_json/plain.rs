//! A list row's object written from its text in the answer, without decoding it again, when the
//! text is already what the typed path would write (issue 24: `-o json` of a large list). The
//! text is only re-laid out; anything the typed path would change is declined, and the caller
//! then takes that path.

/// What a typed row's own serialisation does beyond laying out its text.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Top-level keys it always writes (a `String` or `Vec` field with a default).
    pub always: &'static [&'static str],
    /// Whether a top-level `null` is written (a `Value` keeps it; an `Option` field drops it).
    pub keeps_null: bool,
}

/// Appends `text` (one JSON object that has decoded as a row) to `out` as serde_json lays it out,
/// pretty at `level` levels or compact, when that is what the typed path writes: its members
/// sorted by key at every depth (no key twice), strings of printable ASCII without escapes,
/// integers that fit in 64 bits, and the row's `shape` met. Otherwise `out` is left as it was
/// and the answer is false.
pub fn append(text: &str, out: &mut Vec<u8>, pretty: bool, level: usize, shape: Shape) -> bool {
    let start = out.len();
    // Room for the row laid out, most often: its text, and its indentation when pretty.
    out.reserve(if pretty { text.len() * 2 } else { text.len() } + 64);
    let mut copy = Copy {
        b: text.as_bytes(),
        i: 0,
        out,
        pretty,
    };
    let ok =
        copy.ws() == Some(b'{') && copy.object(level, Some(shape)).is_some() && copy.ws().is_none();
    if !ok {
        out.truncate(start);
    }
    ok
}

/// A member's value in a plain object, as [`members`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// An integer, read for its value only when asked ([`Field::int`]): a walk that only finds
    /// where a row ends and what it is named does not need it.
    Int(Int<'a>),
    Str(&'a str),
    Null,
    /// An array of strings: its items, by [`items`].
    Strs(&'a str),
}

impl Field<'_> {
    /// The value of an `Option<i64>` field: an integer or `null`; any other is declined (`None`).
    pub fn int(self) -> Option<Option<i64>> {
        match self {
            Field::Int(n) => Some(Some(n.value())),
            Field::Null => Some(None),
            _ => None,
        }
    }

    /// The value of an `Option<String>` field: a string or `null`; any other is declined.
    pub fn text(self) -> Option<Option<String>> {
        match self {
            Field::Str(s) => Some(Some(s.to_string())),
            Field::Null => Some(None),
            _ => None,
        }
    }
}

/// The fields of a plain object met so far, by their number: a field given twice is declined
/// (serde refuses it).
#[derive(Debug, Default)]
pub struct Seen(u32);

impl Seen {
    /// `Some` the first time `field` is met, `None` after.
    pub fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1 << field;
        (self.0 & bit == 0).then(|| self.0 |= bit)
    }
}

/// Reads the object at the start of `text` when it is plain: no whitespace; keys and strings
/// of printable ASCII without a quote or an escape; values that are integers (at most 18
/// digits, no leading zero, not `-0`), such strings, `null`, or arrays of such strings. Each
/// member is handed to `member`, which declines it with `None`; the answer is the object's
/// length, `None` when it is not plain or a member was declined.
pub fn members<'a>(
    text: &'a str,
    mut member: impl FnMut(&'a str, Field<'a>) -> Option<()>,
) -> Option<usize> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.get(1) == Some(&b'}') {
        return Some(2);
    }
    let mut i = 1;
    loop {
        let (key, next) = plain_str(text, i)?;
        if b.get(next) != Some(&b':') {
            return None;
        }
        i = next + 1;
        let value = match *b.get(i)? {
            b'"' => {
                let (s, next) = plain_str(text, i)?;
                i = next;
                Field::Str(s)
            }
            b'n' if b.get(i..i + 4) == Some(b"null") => {
                i += 4;
                Field::Null
            }
            b'[' => {
                let start = i + 1;
                i = start;
                if b.get(i) != Some(&b']') {
                    loop {
                        i = plain_str(text, i)?.1;
                        match *b.get(i)? {
                            b',' => i += 1,
                            b']' => break,
                            _ => return None,
                        }
                    }
                }
                i += 1;
                Field::Strs(&text[start..i - 1])
            }
            _ => {
                let next = plain_int_end(b, i)?;
                let n = Int(&text[i..next]);
                i = next;
                Field::Int(n)
            }
        };
        member(key, value)?;
        match *b.get(i)? {
            b',' => i += 1,
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The items of [`Field::Strs`] (`"a","b"`): none of them holds a quote, so every other piece
/// between quotes is an item, the others the commas between them.
pub fn items(strs: &str) -> Items<'_> {
    Items { strs, i: 0 }
}

/// The iterator of [`items`]: each item from its opening quote to the next quote.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    strs: &'a str,
    /// The opening quote of the next item.
    i: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.strs.as_bytes();
        if b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        let end = crate::scan::quote_or_backslash(b, start);
        // Past the closing quote and the comma after it.
        self.i = end + 2;
        self.strs.get(start..end)
    }
}

/// The string starting at `i` (its quote) when it is printable ASCII without a quote or an
/// escape, and the index after its closing quote.
#[inline(always)]
fn plain_str(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let end = crate::scan::plain_run(b, i + 1);
    (*b.get(end)? == b'"').then(|| (&text[i + 1..end], end + 1))
}

/// A plain integer's text: `-?digits`, at most 18 digits (no overflow), no leading zero, not
/// `-0`, as [`plain_int_end`] found it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int<'a>(&'a str);

impl<'a> Int<'a> {
    /// Its digits as they stand: the decimal form of its value (no leading zero, no `-0`).
    pub fn text(self) -> &'a str {
        self.0
    }

    /// Its value, read eight digits at a time.
    #[inline(always)]
    pub fn value(self) -> i64 {
        let (negative, digits) = match self.0.as_bytes() {
            [b'-', digits @ ..] => (true, digits),
            digits => (false, digits),
        };
        let mut chunks = digits.chunks_exact(8);
        let mut n: i64 = 0;
        for chunk in &mut chunks {
            let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            n = n * 100_000_000
                + eight_digits(x.wrapping_sub(crate::scan::ONES * u64::from(b'0'))) as i64;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The last digits at the end of eight, after as many zeros.
            let mut word = [b'0'; 8];
            word[8 - rest.len()..].copy_from_slice(rest);
            let x = u64::from_le_bytes(word);
            n = n * 10i64.pow(rest.len() as u32)
                + eight_digits(x.wrapping_sub(crate::scan::ONES * u64::from(b'0'))) as i64;
        }
        if negative { -n } else { n }
    }
}

/// The integer starting at `i`: `-?digits`, at most 18 digits (no overflow), no leading zero,
/// not `-0`; and the index after it.
#[cfg(test)]
fn plain_int(text: &str, i: usize) -> Option<(i64, usize)> {
    let end = plain_int_end(text.as_bytes(), i)?;
    let int = Int(&text[i..end]);
    // Its digits are its value's decimal form (what a row's id text is made of).
    assert_eq!(int.text(), int.value().to_string());
    Some((int.value(), end))
}

/// The end of the integer starting at `i` (`-?digits`, at most 18 digits, no leading zero, not
/// `-0`): where its digits stop ([`crate::scan::digit_run`]); its value is not read.
#[inline(always)]
fn plain_int_end(b: &[u8], i: usize) -> Option<usize> {
    let negative = b.get(i) == Some(&b'-');
    let start = i + usize::from(negative);
    let end = crate::scan::digit_run(b, start);
    if end - start > 18 {
        return None;
    }
    checked(b, start, end, negative)
}

/// `end`, unless the digits `start..end` are none, or have a leading zero, or make `-0`.
#[inline(always)]
fn checked(b: &[u8], start: usize, end: usize, negative: bool) -> Option<usize> {
    let digits = end - start;
    if digits == 0 || (b[start] == b'0' && (digits > 1 || negative)) {
        return None;
    }
    Some(end)
}

/// The number that eight digit values make, the first in the lowest byte (leading zeros allowed).
#[inline(always)]
fn eight_digits(v: u64) -> u64 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    let pairs = (v & mask).wrapping_mul(100 + (1_000_000 << 32));
    let quads = ((v >> 16) & mask).wrapping_mul(1 + (10_000 << 32));
    pairs.wrapping_add(quads) >> 32
}

/// Objects of more members are declined (rows have a handful).
const MAX_MEMBERS: usize = 24;

/// A comma, a line's end and the indentation of the deepest levels most rows have: what goes
/// before a member or an element is one copy of a part of it.
const BREAK: &[u8; 2 + 2 * 8] = b",\n                ";

/// [`crate::scan::bytes_order`] of two keys, told at once by their first bytes when they
/// differ there (as a row's keys mostly do).
#[inline(always)]
fn key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => crate::scan::bytes_order(a, b),
    }
}

struct Copy<'a, 'o> {
    b: &'a [u8],
    i: usize,
    out: &'o mut Vec<u8>,
    pretty: bool,
}

impl<'a> Copy<'a, '_> {
    /// Skips whitespace; the next byte.
    #[inline(always)]
    fn ws(&mut self) -> Option<u8> {
        self.i = super::skip_ws(self.b, self.i);
        self.b.get(self.i).copied()
    }

    /// A line's end and `level` levels of indentation, after a comma when `comma`.
    #[inline(always)]
    fn newline(&mut self, level: usize, comma: bool) {
        let from = usize::from(!comma);
        match BREAK.get(from..2 + 2 * level) {
            Some(b) => crate::scan::put(self.out, b),
            None => {
                self.out.extend_from_slice(&BREAK[from..2]);
                for _ in 0..level {
                    self.out.extend_from_slice(b"  ");
                }
            }
        }
    }

    /// What goes before a member or an element: its comma (taken off the first member of an
    /// object at its end), and its line when pretty.
    #[inline(always)]
    fn before(&mut self, level: usize, comma: bool) {
        if self.pretty {
            self.newline(level, comma);
        } else if comma {
            self.out.push(b',');
        }
    }

    fn value(&mut self, level: usize) -> Option<()> {
        match self.ws()? {
            b'{' => self.object(level, None),
            b'[' => self.array(level),
            b'"' => {
                let start = self.i;
                self.string()?;
                // Its text, quotes and all: it has no escape.
                crate::scan::put(self.out, &self.b[start..self.i]);
                Some(())
            }
            b'n' => self.word(b"null"),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            _ => self.integer(),
        }
    }

    #[inline(always)]
    fn word(&mut self, w: &[u8]) -> Option<()> {
        let end = self.i + w.len();
        (self.b.get(self.i..end)? == w).then_some(())?;
        crate::scan::put(self.out, w);
        self.i = end;
        Some(())
    }

    /// `-?digits`, at most 18 digits (an i64 or u64 writes them back as they are), not `-0`,
    /// no leading zero, and not the start of a number with a fraction or an exponent.
    #[inline(always)]
    fn integer(&mut self) -> Option<()> {
        let start = self.i;
        self.i = plain_int_end(self.b, start)?;
        if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        crate::scan::put(self.out, &self.b[start..self.i]);
        Some(())
    }

    /// A string without escapes, of printable ASCII; its content.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.i + 1;
        let end = crate::scan::plain_run(self.b, start);
        (*self.b.get(end)? == b'"').then_some(())?;
        self.i = end + 1;
        Some(&self.b[start..end])
    }

    /// An object, its members sorted by key as the typed path writes them (a server keeps its
    /// own field order): each member is laid out, with a leading comma, where it comes, and then
    /// moved into its place among those before it.
    fn object(&mut self, level: usize, top: Option<Shape>) -> Option<()> {
        self.i += 1;
        let mut always = 0;
        if self.ws()? == b'}' {
            self.i += 1;
            self.out.extend_from_slice(b"{}");
        } else {
            // Each member is laid out with a leading comma; the first one's becomes the `{`.
            let base = self.out.len();
            // Each member's key and the length of its laid-out bytes, in their present order.
            let mut members: [(&[u8], usize); MAX_MEMBERS] = [(&[], 0); MAX_MEMBERS];
            let mut n = 0;
            loop {
                if self.ws()? != b'"' || n == MAX_MEMBERS {
                    return None;
                }
                let quoted = self.i;
                let key = self.string()?;
                let start = self.out.len();
                self.before(level + 1, true);
                if self.b.get(self.i) == Some(&b':') {
                    // `"key":` copied at once.
                    self.i += 1;
                    crate::scan::put(self.out, &self.b[quoted..self.i]);
                } else {
                    crate::scan::put(self.out, &self.b[quoted..self.i]);
                    if self.ws()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    self.out.push(b':');
                }
                if self.pretty {
                    self.out.push(b' ');
                }
                if let Some(shape) = top {
                    if !shape.keeps_null && self.ws()? == b'n' {
                        return None;
                    }
                    always += usize::from(shape.always.iter().any(|a| a.as_bytes() == key));
                }
                self.value(level + 1)?;
                members[n] = (key, self.out.len() - start);
                n += 1;
                // Into its place: swapped with each member before it whose key is greater; a
                // key given twice declines the object.
                let mut k = n - 1;
                while k > 0 {
                    match key_order(members[k - 1].0, members[k].0) {
                        std::cmp::Ordering::Less => break,
                        std::cmp::Ordering::Equal => return None,
                        std::cmp::Ordering::Greater => {
                            let at = base + members[..k - 1].iter().map(|m| m.1).sum::<usize>();
                            let (a, b) = (members[k - 1].1, members[k].1);
                            self.out[at..at + a + b].rotate_left(a);
                            members.swap(k - 1, k);
                            k -= 1;
                        }
                    }
                }
                match self.ws()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
            // The first member's leading comma.
            self.out[base] = b'{';
            if self.pretty {
                self.newline(level, false);
            }
            self.out.push(b'}');
        }
        match top {
            Some(shape) if always != shape.always.len() => None,
            _ => Some(()),
        }
    }

    fn array(&mut self, level: usize) -> Option<()> {
        self.i += 1;
        if self.ws()? == b']' {
            self.i += 1;
            self.out.extend_from_slice(b"[]");
            return Some(());
        }
        self.out.push(b'[');
        let mut first = true;
        loop {
            self.before(level + 1, !first);
            first = false;
            self.value(level + 1)?;
            match self.ws()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        if self.pretty {
            self.newline(level, false);
        }
        self.out.push(b']');
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: Shape = Shape {
        always: &["name"],
        keeps_null: false,
    };

    fn laid_out(text: &str, pretty: bool) -> Option<String> {
        let mut out = b"x".to_vec();
        let ok = append(text, &mut out, pretty, 1, ROW);
        assert_eq!(ok, out.len() > 1, "declined means nothing written");
        ok.then(|| String::from_utf8(out[1..].to_vec()).unwrap())
    }

    #[test]
    fn a_plain_object_is_laid_out_as_serde_json_lays_it_out() {
        let text = r#" {"z":{"y":null,"b":[{"d":1,"c":2}]}, "a" : [ 1 , {"b":[]}, {} ], "name":"n x", "id":-12, "t":true} "#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            laid_out(text, false).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
        let pretty = laid_out(text, true).unwrap();
        assert_eq!(
            pretty,
            serde_json::to_string_pretty(&value)
                .unwrap()
                .replace('\n', "\n  ")
        );
        assert!(pretty.ends_with("\n  }"), "{pretty}");
        // Keys that share their first bytes, or are the start of another, in any order.
        let text = r#"{"nb":1,"na":[2],"n":3,"names":"y","name":"x","a":{"bb":1,"b":2}}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            laid_out(text, false).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
        assert_eq!(
            laid_out(r#"{"name":""}"#, true).unwrap(),
            "{\n    \"name\": \"\"\n  }"
        );
    }

    #[test]
    fn anything_the_typed_path_would_change_is_declined() {
        for text in [
            r#"{"name":"a","name":"b"}"#, // a key twice
            r#"{"z":1,"name":"a","z":2}"#,
            r#"{"name":"a","nb":1,"n":2,"nb":3}"#, // a key twice among keys alike
            r#"{"id":1}"#,                         // `name` missing: written as ""
            r#"{"id":null,"name":"a"}"#,           // a top-level null is dropped
            r#"{"name":"a\u0041"}"#,               // an escape
            r#"{"name":"é"}"#,                     // beyond ASCII
            "{\"name\":\"a\u{7f}\"}",              // DEL
            r#"{"id":1.0,"name":"a"}"#,            // not an integer
            r#"{"id":1e3,"name":"a"}"#,
            r#"{"id":-0,"name":"a"}"#,
            r#"{"id":1234567890123456789,"name":"a"}"#, // 19 digits
            r#"{"name":"a"} x"#,
            r#"{"name":"a""#,
            "[]",
        ] {
            assert_eq!(laid_out(text, true), None, "{text}");
        }
        assert!(laid_out(r#"{"name":"a","z":{"a":null}}"#, true).is_some());
        assert!(laid_out(r#"{"id":123456789012345678,"name":"a"}"#, true).is_some());
    }

    /// What [`plain_int`] reads, a digit at a time.
    fn int_by_digits(b: &[u8], i: usize) -> Option<(i64, usize)> {
        let negative = b.get(i) == Some(&b'-');
        let start = i + usize::from(negative);
        let digits = b[start..].iter().take_while(|d| d.is_ascii_digit()).count();
        let end = start + digits;
        if digits == 0 || digits > 18 || (b[start] == b'0' && (digits > 1 || negative)) {
            return None;
        }
        let n: i64 = std::str::from_utf8(&b[start..end])
            .unwrap()
            .parse()
            .unwrap();
        Some((if negative { -n } else { n }, end))
    }

    proptest::proptest! {
        /// Integers of every length to 20 digits, with leading zeros and a sign, ended by
        /// bytes on either side of the digits (or by the text's end), from any place, read
        /// eight bytes at a time as they are a digit at a time; the digits of one that is read
        /// are its value's decimal form.
        #[test]
        fn integers_read_eight_bytes_at_a_time_are_those_read_a_digit_at_a_time(
            before in "[,:]{0,9}",
            sign in "-?",
            digits in "0{0,2}[0-9]{0,20}",
            after in "[ ,}/:\x00\x7fé0-9]{0,10}",
        ) {
            let text = format!("{before}{sign}{digits}{after}");
            let i = before.len();
            proptest::prop_assert_eq!(
                plain_int(&text, i),
                int_by_digits(text.as_bytes(), i),
                "{}", text
            );
        }
    }
}
