//! The server's object of a list row (`-o json`), made only when something reads it (issue 24:
//! a row costs memory in proportion to what it holds). A platform that decodes its rows into
//! typed structs keeps the struct: `-o json` of a list writes it straight from the struct, its
//! keys in the order of its JSON value (sorted), and a JSON value is made only when something
//! reads it as one (a rotation, `get`).

use std::fmt;
use std::io;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::redact::Masker;

pub(crate) mod plain;

pub use plain::Shape;

/// A typed server object that can write itself with its keys in the order its JSON value has
/// them (byte order, as `serde_json::Map` sorts), without making the value.
pub trait SortedJson: Serialize + Send + Sync {
    /// What its serialisation adds to or drops from the object it decoded from.
    const SHAPE: plain::Shape = plain::Shape {
        always: &[],
        keeps_null: false,
    };

    fn serialize_sorted<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;

    /// The object at the start of `text` and its length, read without serde when it is plain
    /// ([`plain::members`]) and holds only fields of the type: what decoding it gives. `None`
    /// leaves it to serde (the default).
    fn from_plain(_text: &str) -> Option<(Self, usize)>
    where
        Self: Sized,
    {
        None
    }

    /// The name and length of the object at the start of `text` when [`SortedJson::from_plain`]
    /// reads it, without making the row: the name its decoded row has (empty without one).
    /// `None` when `from_plain` declines it (the default).
    fn plain_name(_text: &str) -> Option<(&str, usize)> {
        None
    }
}

impl SortedJson for Value {
    const SHAPE: plain::Shape = plain::Shape {
        always: &[],
        keeps_null: true,
    };

    fn serialize_sorted<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}

/// One field of a typed object, as JSON shows it.
pub enum JsonField<'a> {
    Int(i64),
    Str(&'a str),
    Strs(&'a [compact_str::CompactString]),
}

impl Serialize for JsonField<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonField::Int(i) => s.serialize_i64(*i),
            JsonField::Str(v) => s.serialize_str(v),
            JsonField::Strs(v) => v.serialize(s),
        }
    }
}

/// An object of `known` fields (given in byte order of their keys; `None` ones left out) and the
/// `extra` ones the struct kept, merged in byte order of their keys.
pub fn serialize_merged<S: Serializer>(
    s: S,
    known: &[(&str, Option<JsonField<'_>>)],
    extra: &Map<String, Value>,
) -> Result<S::Ok, S::Error> {
    let present = known.iter().filter(|(_, v)| v.is_some()).count();
    let mut map = s.serialize_map(Some(present + extra.len()))?;
    let mut extra = extra.iter().peekable();
    for (key, value) in known {
        let Some(value) = value else { continue };
        while let Some((k, v)) = extra.next_if(|(k, _)| k.as_str() < *key) {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry(key, value)?;
    }
    for (k, v) in extra {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// What a lazily made row holds.
trait RowSource: Send + Sync {
    fn value(&self) -> Value;
    fn append(
        &self,
        out: &mut Vec<u8>,
        masker: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()>;
}

struct Typed<T>(T);

struct Sorted<'a, T>(&'a T);

impl<T: SortedJson> Serialize for Sorted<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_sorted(s)
    }
}

impl<T: SortedJson> RowSource for Typed<T> {
    fn value(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or(Value::Null)
    }

    fn append(
        &self,
        out: &mut Vec<u8>,
        masker: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()> {
        crate::redact::json::append(out, &Sorted(&self.0), masker, pretty, level, || {
            self.value()
        })
    }
}

/// A JSON value, given or made on first use.
#[derive(Clone)]
pub struct RowJson(Inner);

#[derive(Clone)]
enum Inner {
    Given(Value),
    Lazy {
        source: Arc<dyn RowSource>,
        made: OnceLock<Box<Value>>,
    },
    /// The object's text in the answer, decoded again when read.
    Raw {
        body: Arc<String>,
        start: u32,
        end: u32,
        codec: &'static Codec,
        made: OnceLock<Box<Value>>,
    },
}

/// Lays out a raw row: its text, whether the answer it is part of holds no secret, the output,
/// the masker, pretty or not, the level.
type Append = fn(&str, bool, &mut Vec<u8>, &Masker, bool, usize) -> io::Result<()>;

/// How a raw row's text reads, for its type.
struct Codec {
    value: fn(&str) -> Value,
    append: Append,
}

struct CodecOf<T>(std::marker::PhantomData<T>);

impl<T: SortedJson + DeserializeOwned> CodecOf<T> {
    const CODEC: Codec = Codec {
        value: |text| match serde_json::from_str::<T>(text) {
            Ok(t) => serde_json::to_value(&t).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        },
        append: |text, no_secret, out, masker, pretty, level| {
            // Its text already as the typed path writes it (no escape in it: what is in its
            // strings is in its text), and no secret in it: laid out as is.
            if (no_secret || matches!(masker.text(text), std::borrow::Cow::Borrowed(_)))
                && plain::append(text, out, pretty, level, T::SHAPE)
            {
                return Ok(());
            }
            match serde_json::from_str::<T>(text) {
                Ok(t) => Typed(t).append(out, masker, pretty, level),
                Err(_) => {
                    crate::redact::json::append(out, &Value::Null, masker, pretty, level, || {
                        Value::Null
                    })
                }
            }
        },
    };
}

/// The rows of a JSON array answer: each element decoded as `T` and made a row by `row`, with
/// its object kept as its text in `body` (no copy of it, nothing decoded twice unless read). An
/// answer that does not decode fails with the error decoding it whole gives.
pub fn decode_rows<T: SortedJson + DeserializeOwned, R>(
    body: Arc<String>,
    mut row: impl FnMut(T, RowJson) -> R,
) -> serde_json::Result<Vec<R>> {
    let mut rows = Vec::new();
    match walk::<T>(&body, &mut |t, start, end| {
        rows.push(row(t, raw_row::<T>(&body, start, end)));
    }) {
        Some(()) => Ok(rows),
        None => Err(whole_error::<T>(&body)),
    }
}

/// How an element of a list answer becomes a row `R`: decoded as `T` and made a row by
/// `decoded`, or read straight from its text by `plain` into a row (one `blank` made, or one
/// made before: a large list's output reuses one row for row after row), which makes it the row
/// `decoded` makes of what [`SortedJson::from_plain`] reads, its object left as it is, and gives
/// the element's length; it declines (`None`, the row then partly made) where `from_plain`
/// declines. A large list reads each row this way once or twice: the plain read makes no `T`.
pub struct Rows<T, R> {
    pub decoded: fn(T, RowJson) -> R,
    /// A row for `plain` to make, its object the one given (`None`: no plain read).
    pub blank: fn(RowJson) -> Option<R>,
    pub plain: fn(&str, &mut R) -> Option<usize>,
}

impl<T, R> Clone for Rows<T, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, R> Copy for Rows<T, R> {}

impl<T: SortedJson + DeserializeOwned, R> Rows<T, R> {
    /// Rows made by `decoded` alone (no plain read of their own).
    pub fn decoded(decoded: fn(T, RowJson) -> R) -> Rows<T, R> {
        Rows {
            decoded,
            blank: |_| None,
            plain: |_, _| None,
        }
    }

    /// [`Rows::at`] into `out`, a row made before, whose object it leaves as it is when the
    /// element is plain and makes `null` when not; the element's length, `None` when it does
    /// not decode.
    fn at_into(&self, text: &str, out: &mut R) -> Option<usize> {
        if let Some(n) = (self.plain)(text, out) {
            return Some(n);
        }
        let (t, n) = decode_at::<T>(text)?;
        *out = (self.decoded)(t, RowJson::from(Value::Null));
        Some(n)
    }

    /// The row of the element at the start of `text`, its object `json()`, and its length.
    fn at(&self, text: &str, json: impl Fn() -> RowJson) -> Option<(R, usize)> {
        if let Some(mut row) = (self.blank)(json())
            && let Some(n) = (self.plain)(text, &mut row)
        {
            return Some((row, n));
        }
        let (t, n) = decode_at::<T>(text)?;
        Some(((self.decoded)(t, json()), n))
    }
}

/// A list's rows made in one or two parts, the second's rows after the first's: as the one or two
/// threads that decoded a large answer made them, not copied into one (100,000 records of
/// `-o prometheus`: 6 MB fewer to copy).
#[derive(Debug, PartialEq)]
pub struct Parts<R> {
    pub first: Vec<R>,
    pub second: Vec<R>,
}

impl<R> Default for Parts<R> {
    fn default() -> Self {
        Vec::new().into()
    }
}

impl<R> From<Vec<R>> for Parts<R> {
    fn from(first: Vec<R>) -> Parts<R> {
        Parts {
            first,
            second: Vec::new(),
        }
    }
}

impl<R> Parts<R> {
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows in one list.
    pub fn into_vec(mut self) -> Vec<R> {
        self.first.append(&mut self.second);
        self.first
    }
}

/// The elements of a JSON array answer, each made a row by `rows` and into what `map` makes of
/// it (left out where that is `None`), in the answer's order, without their objects (each row
/// made into the one before it, [`Rows::plain`], rather than made anew): the rows
/// of [`decode_rows`] without a count taken on the answer for each. A large answer is decoded
/// by two threads, as [`walk_spans`] walks it, each into a part of its own.
pub fn decode_mapped<T: SortedJson + DeserializeOwned, R, M: Send>(
    body: Arc<String>,
    rows: Rows<T, R>,
    map: &(dyn Fn(&R) -> Option<M> + Sync),
) -> serde_json::Result<Parts<M>> {
    // Each thread's rows are given room at once for its part of the answer, by the length of
    // its first element: no copies as they grow (100,000 records: 12 MB copied, about 2 ms).
    // The first part is backed by huge pages where the kernel gives them (6 MB that do not
    // fault a page at a time); the second is not, so that the pages rounded up cost no more
    // than one huge page (huge pages for both took 2.5 MiB more at the peak, over the bound of
    // figure 4). The parts are not joined: that copied the second's 6 MB.
    let part = |from: usize, stop: usize, out: &mut Vec<M>, huge: bool| {
        let mut row = None;
        elements(&body, from, stop, &mut |i| {
            let text = &body[i..];
            let n = match &mut row {
                Some(row) => rows.at_into(text, row)?,
                None => {
                    let (first, n) = rows.at(text, || RowJson::from(Value::Null))?;
                    row = Some(first);
                    n
                }
            };
            if i == from {
                out.reserve(likely_rows(stop.min(body.len()) - from, n));
                if huge {
                    crate::http::budget::huge_pages(out);
                }
            }
            out.extend(row.as_ref().and_then(map));
            Some(i + n)
        })
    };
    let halves = || -> Option<(Vec<M>, Vec<M>)> {
        let Some(i) = first_element(&body)? else {
            return Some(Default::default());
        };
        let mut rows = Vec::new();
        let Some(seam) = two_threads(&body) else {
            part(i, usize::MAX, &mut rows, true)?;
            return Some((rows, Vec::new()));
        };
        let (second, first) = crate::worker::join(
            || {
                let mut rows = Vec::new();
                part(seam, usize::MAX, &mut rows, false).map(|_| rows)
            },
            || part(i, seam, &mut rows, true),
        );
        match first? {
            Walked::Stopped => Some((rows, second?)),
            Walked::End => Some((rows, Vec::new())),
        }
    };
    let Some((first, second)) = halves() else {
        return Err(whole_error::<T>(&body));
    };
    Ok(Parts { first, second })
}

/// About how many elements `len` bytes of an answer hold, by the length of the first, `first`
/// (and some more, for elements of other lengths), and no more than the objects one command may
/// read: the room reserved at once for their rows. Room reserved and never used costs address
/// space, not memory.
fn likely_rows(len: usize, first: usize) -> usize {
    let rows = len / first.max(1);
    (rows + rows / 32 + 16).min(crate::http::budget::MAX_TOTAL_OBJECTS)
}

/// Where a second thread is to begin walking `body` (an element's likely start half way), for
/// an answer large enough to be walked by two threads on a machine that has them.
fn two_threads(body: &str) -> Option<usize> {
    let two = body.len() >= TWO_THREADS_FROM && crate::scan::two_processors();
    two.then(|| likely_element(body.as_bytes(), body.len() / 2))
        .flatten()
}

/// Walks the elements of a JSON array answer in one pass: each decoded as `T` where it lies, its
/// end told by the decoder (no pass to split the array first), and given to `each` with where
/// its object starts and ends in `body`. `None`: anything but `[`, such elements, `,` and `]`.
fn walk<T: SortedJson + DeserializeOwned>(
    body: &str,
    each: &mut dyn FnMut(T, u32, u32),
) -> Option<()> {
    match first_element(body)? {
        Some(i) => elements(body, i, usize::MAX, &mut |i| {
            let (t, n) = decode_at::<T>(&body[i..])?;
            // Both fit: the body's length does.
            each(t, i as u32, (i + n) as u32);
            Some(i + n)
        })
        .map(|_| ()),
        None => Some(()),
    }
}

/// Where the first element of the array `body` starts: `Some(None)` for an empty array, `None`
/// for what is no array (or too long for a row's place to fit in 32 bits).
fn first_element(body: &str) -> Option<Option<usize>> {
    let bytes = body.as_bytes();
    u32::try_from(bytes.len()).ok()?;
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(bytes, i + 1);
    if bytes.get(i) == Some(&b']') {
        return (skip_ws(bytes, i + 1) == bytes.len()).then_some(None);
    }
    Some(Some(i))
}

/// How a walk of elements ended.
#[derive(Debug, PartialEq)]
enum Walked {
    /// At the array's `]`, nothing but whitespace after it.
    End,
    /// At an element that starts at the place it was to stop at.
    Stopped,
}

/// Walks the elements from the one starting at `i` as [`walk`] does, to the array's end or to
/// an element that starts at `stop`: `element` reads the one starting where it is told and
/// says where it ends (`None`: it does not decode).
fn elements(
    body: &str,
    mut i: usize,
    stop: usize,
    element: &mut dyn FnMut(usize) -> Option<usize>,
) -> Option<Walked> {
    let bytes = body.as_bytes();
    loop {
        if i == stop {
            return Some(Walked::Stopped);
        }
        let end = element(i)?;
        i = skip_ws(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(b']') => return (skip_ws(bytes, i + 1) == bytes.len()).then_some(Walked::End),
            _ => return None,
        }
    }
}

/// From how many bytes an answer's elements are walked by two threads, each half of them.
pub const TWO_THREADS_FROM: usize = 256 * 1024;

/// Where an element's name is: its place in the answer (`start`, `len`), as a plain element's
/// name is written there as it reads; or, for a name decoded apart, `OWNED` and its index in
/// the part's `owned`.
type NameAt = (u32, u32);

/// [`NameAt`]'s start of a name decoded apart.
const OWNED: u32 = u32::MAX;

/// The elements of a part of an answer, walked: where each lies and where its name is (eight
/// bytes a row: issue 24), and the places where a name comes before the one before it (the
/// part's runs of names in order end there).
#[derive(Debug, Default, PartialEq)]
struct Part {
    spans: Vec<(u32, u32)>,
    names: Vec<NameAt>,
    /// The names decoded apart (not plain: their text is not the answer's).
    owned: Vec<compact_str::CompactString>,
    descents: Vec<u32>,
}

impl Part {
    fn walk<T: SortedJson + DeserializeOwned>(
        body: &str,
        i: usize,
        stop: usize,
        name: fn(&T) -> &str,
    ) -> Option<(Self, Walked)> {
        let mut part = Part::default();
        let walked = elements(body, i, stop, &mut |i| {
            let text = &body[i..];
            // A plain element's name is read where it lies; another is decoded.
            let n = match T::plain_name(text) {
                Some((name, n)) => {
                    part.push_name(body, name);
                    n
                }
                None => {
                    let (t, n) = decode_at::<T>(text)?;
                    part.push_name(body, name(&t));
                    n
                }
            };
            // Compared while both names are at hand, by each thread for its part.
            if let [.., before, now] = part.names[..]
                && crate::scan::text_order(part.name(body, before), part.name(body, now)).is_gt()
            {
                part.descents.push(part.spans.len() as u32);
            }
            // Both fit: the body's length does.
            part.spans.push((i as u32, (i + n) as u32));
            Some(i + n)
        })?;
        Some((part, walked))
    }

    /// Keeps where `name` is: its place, when it is text of `body` (which fits in 32 bits, as
    /// [`first_element`] made sure), else a copy.
    fn push_name(&mut self, body: &str, name: &str) {
        let start = (name.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
        if start <= body.len() && name.len() <= body.len() - start {
            self.names.push((start as u32, name.len() as u32));
        } else {
            self.names.push((OWNED, self.owned.len() as u32));
            self.owned.push(name.into());
        }
    }

    /// The name `at` says, of this part's elements in `body`.
    fn name<'a>(&'a self, body: &'a str, at: NameAt) -> &'a str {
        match at {
            (OWNED, i) => &self.owned[i as usize],
            (start, len) => &body[start as usize..(start + len) as usize],
        }
    }
}

/// The elements of an answer, walked as [`walk`] walks them: where each lies, and whether they
/// are in the order of their names. A large answer is walked by two threads, the second from an
/// element's likely start half way, which counts only if the first thread's walk reaches that
/// very place (a `},{` inside a string is no element's start).
fn walk_spans<T: SortedJson + DeserializeOwned + Send>(
    body: &str,
    name: fn(&T) -> &str,
) -> Option<Walk> {
    let Some(i) = first_element(body)? else {
        return Some(Walk::default());
    };
    let Some(seam) = two_threads(body) else {
        return Part::walk(body, i, usize::MAX, name).map(|(part, _)| Walk::of(body, part, None));
    };
    let (second, first) = crate::worker::join(
        || Part::walk(body, seam, usize::MAX, name),
        || Part::walk(body, i, seam, name),
    );
    let (first, walked) = first?;
    let second = match walked {
        Walked::Stopped => Some(second?.0),
        Walked::End => None,
    };
    Some(Walk::of(body, first, second))
}

/// The elements of an answer, walked: where each lies and, when they are out of the order of
/// their names, their names and the places where a name comes before the one before it.
#[derive(Debug, Default, PartialEq)]
struct Walk {
    spans: Vec<(u32, u32)>,
    names: Option<Names>,
    descents: Vec<u32>,
}

/// The names of an answer's elements in its order, as the one or two threads that walked it
/// found them (not joined: they are read only to be sorted).
#[derive(Debug, Default, PartialEq)]
struct Names([Part; 2]);

impl Names {
    fn len(&self) -> usize {
        self.0[0].names.len() + self.0[1].names.len()
    }

    /// The name of element `i`, of `body`.
    fn get<'a>(&'a self, body: &'a str, i: usize) -> &'a str {
        let [first, second] = &self.0;
        match i.checked_sub(first.names.len()) {
            None => first.name(body, first.names[i]),
            Some(j) => second.name(body, second.names[j]),
        }
    }

    #[cfg(test)]
    fn iter<'a>(&'a self, body: &'a str) -> impl Iterator<Item = &'a str> {
        (0..self.len()).map(move |i| self.get(body, i))
    }
}

impl Walk {
    /// The walk of the part the first thread walked and of the one the second did, if any, of
    /// `body`.
    fn of(body: &str, mut first: Part, second: Option<Part>) -> Walk {
        let mut second = second.unwrap_or_default();
        let mut spans = std::mem::take(&mut first.spans);
        let mut descents = std::mem::take(&mut first.descents);
        let seam = spans.len() as u32;
        if let (Some(&a), Some(&b)) = (first.names.last(), second.names.first())
            && crate::scan::text_order(first.name(body, a), second.name(body, b)).is_gt()
        {
            descents.push(seam);
        }
        descents.extend(
            std::mem::take(&mut second.descents)
                .iter()
                .map(|d| d + seam),
        );
        spans.append(&mut second.spans);
        // What is left of the two parts is their names, kept to be sorted.
        Walk {
            spans,
            names: (!descents.is_empty()).then_some(Names([first, second])),
            descents,
        }
    }
}

/// The first place from `from` that looks like an element's start: a `{` after a `,` after a
/// `}` (whitespace between them aside), within 64 KiB.
fn likely_element(bytes: &[u8], from: usize) -> Option<usize> {
    let end = bytes.len().min(from + 64 * 1024);
    let mut at = from;
    while let Some(c) = memchr::memchr(b',', bytes.get(at..end)?) {
        let comma = at + c;
        let before = bytes[..comma]
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r'));
        let next = skip_ws(bytes, comma + 1);
        if before.is_some_and(|b| bytes[b] == b'}') && bytes.get(next) == Some(&b'{') {
            return Some(next);
        }
        at = comma + 1;
    }
    None
}

/// The element at the start of `text` and its length: read without serde when it is plain, by
/// serde otherwise.
fn decode_at<T: SortedJson + DeserializeOwned>(text: &str) -> Option<(T, usize)> {
    match T::from_plain(text) {
        Some(found) => Some(found),
        None => {
            let mut one = serde_json::Deserializer::from_str(text).into_iter::<T>();
            let t = one.next()?.ok()?;
            Some((t, one.byte_offset()))
        }
    }
}

/// The row object of `body[start..end]`, an element that decoded as `T`.
fn raw_row<T: SortedJson + DeserializeOwned>(body: &Arc<String>, start: u32, end: u32) -> RowJson {
    RowJson(Inner::Raw {
        body: Arc::clone(body),
        start,
        end,
        codec: &CodecOf::<T>::CODEC,
        made: OnceLock::new(),
    })
}

/// The error of an answer [`walk`] declined: the error decoding it whole gives. (An array that
/// decodes whole walks element by element, each element decoded as the whole decode decodes
/// it, so the error below is not expected.)
fn whole_error<T: DeserializeOwned>(body: &str) -> serde_json::Error {
    match serde_json::from_str::<Vec<T>>(body) {
        Err(e) => e,
        Ok(_) => serde::de::Error::custom("the answer's elements could not be read one by one"),
    }
}

/// Makes the row of the element at `start..end` of an answer, its object the element's.
type RowOf<R> = dyn Fn(&Arc<String>, u32, u32) -> Option<R> + Send + Sync;

/// Makes the row of an element's text into a row made before, as [`Rows::at_into`] does: a row
/// read only for its cells, with no count of the answer's references taken (which two threads
/// writing rows would contend for).
type RowInto<R> = dyn Fn(&str, &mut R) -> bool + Send + Sync;

/// The rows of a JSON array answer kept as where their objects lie in its text, each decoded
/// again when it is read (issue 24: a large list then costs its answer and eight bytes a row,
/// not the rows decoded). Made by [`decode_spans`], which decoded every element once.
pub struct Spans<R> {
    body: Arc<String>,
    spans: Vec<(u32, u32)>,
    /// The row of an element, `None` if it does not decode (it did once: not expected).
    row: Box<RowOf<R>>,
    /// The row of an element without its object, made into a row made before
    /// ([`Rows::at_into`]).
    row_into: Box<RowInto<R>>,
    /// How an element's object reads.
    codec: &'static Codec,
}

/// The rows of a JSON array answer as [`decode_rows`] decodes them, in the order of `name`
/// ([`crate::scan::text_order`], the answer's order kept among equal names), kept as
/// [`Spans`]: every element is decoded here, so an answer that does not decode fails here with
/// the error [`decode_rows`] gives, and a row read later is one that decoded.
pub fn decode_spans<T: SortedJson + DeserializeOwned + Send + 'static, R: 'static>(
    body: Arc<String>,
    rows: Rows<T, R>,
    name: fn(&T) -> &str,
) -> serde_json::Result<Spans<R>> {
    let Some(Walk {
        spans,
        names,
        descents,
    }) = walk_spans::<T>(&body, name)
    else {
        return Err(whole_error::<T>(&body));
    };
    let text_of = Arc::clone(&body);
    let mut kept = Spans {
        body,
        spans,
        row: Box::new(move |body, start, end| {
            let text = &body[start as usize..end as usize];
            rows.at(text, || raw_row::<T>(body, start, end))
                .map(|(row, _)| row)
        }),
        row_into: Box::new(move |text, out| rows.at_into(text, out).is_some()),
        codec: &CodecOf::<T>::CODEC,
    };
    if let Some(names) = names {
        // The answer's place breaks a tie: the order of a stable sort. An answer in order but
        // for a few rows (a token made last) has them put in place, not sorted whole.
        let text = |i| names.get(&text_of, i).as_bytes();
        let by_name = |a, b| crate::scan::bytes_order(text(a), text(b));
        let mut order = crate::scan::nearly_sorted_order(names.len(), &by_name, &descents)
            .unwrap_or_else(|| {
                crate::scan::sorted_order(names.len(), &|_| 0, &text, &|_, _| {
                    std::cmp::Ordering::Equal
                })
            });
        drop(names);
        crate::scan::permute(&mut kept.spans, &mut order);
    }
    Ok(kept)
}

impl<R> Spans<R> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Row `i`, decoded again (`None` only if what decoded once does not decode again).
    pub fn get(&self, i: usize) -> Option<R> {
        let (start, end) = *self.spans.get(i)?;
        (self.row)(&self.body, start, end)
    }

    /// Row `i` as [`Spans::get`] makes it, for what reads only its cells: made into `out` (a row
    /// made before), its server object not made (left as it is when the row is plain, `null`
    /// when not); `false` past the end, or where what decoded once does not decode again.
    pub fn cells_into(&self, i: usize, out: &mut R) -> bool {
        let Some(&(start, end)) = self.spans.get(i) else {
            return false;
        };
        (self.row_into)(&self.body[start as usize..end as usize], out)
    }

    /// The server's object of row `i`, not decoded until read.
    pub fn json(&self, i: usize) -> Option<RowJson> {
        let (start, end) = *self.spans.get(i)?;
        Some(RowJson(Inner::Raw {
            body: Arc::clone(&self.body),
            start,
            end,
            codec: self.codec,
            made: OnceLock::new(),
        }))
    }

    /// Appends the server's object of row `i` to `out` as [`RowJson::write`] appends
    /// [`Spans::json`]'s, without making it.
    pub fn write_json(
        &self,
        i: usize,
        out: &mut Vec<u8>,
        masker: &Masker,
        pretty: bool,
        level: usize,
    ) -> Option<io::Result<()>> {
        let (start, end) = *self.spans.get(i)?;
        Some((self.codec.append)(
            &self.body[start as usize..end as usize],
            masker.none_in(&self.body),
            out,
            masker,
            pretty,
            level,
        ))
    }

    /// Has `masker` search the answer for secrets ([`Masker::none_in`], which
    /// [`Spans::write_json`] asks), now.
    pub fn search_answer(&self, masker: &Masker) {
        masker.none_in(&self.body);
    }

    /// Keeps the rows `keep` says, in their order (each decoded once more).
    pub fn retain(&mut self, mut keep: impl FnMut(&R) -> bool) {
        let (body, row) = (&self.body, &self.row);
        self.spans
            .retain(|&(start, end)| row(body, start, end).is_some_and(|r| keep(&r)));
    }
}

/// Skips JSON whitespace in `bytes` from `i`; the index of the next byte.
#[inline]
fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\n' | b'\t' | b'\r') {
        i += 1;
    }
    i
}

impl RowJson {
    /// The value of `source`, serialised when first read.
    pub fn of<T: SortedJson + 'static>(source: T) -> RowJson {
        RowJson(Inner::Lazy {
            source: Arc::new(Typed(source)),
            made: OnceLock::new(),
        })
    }

    /// The row for one use (a large list written row by row): written with
    /// [`RowJson::write`], its value is not made.
    pub fn transient(&self) -> &RowJson {
        self
    }

    /// Appends the object to `out` as [`crate::redact::json::append`] appends its value:
    /// masked and escaped, pretty at `level` levels or on one line.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        masker: &Masker,
        pretty: bool,
        level: usize,
    ) -> io::Result<()> {
        match &self.0 {
            Inner::Lazy { source, made } if made.get().is_none() => {
                source.append(out, masker, pretty, level)
            }
            Inner::Raw {
                body,
                start,
                end,
                codec,
                made,
            } if made.get().is_none() => (codec.append)(
                &body[*start as usize..*end as usize],
                masker.none_in(body),
                out,
                masker,
                pretty,
                level,
            ),
            _ => {
                let v: &Value = self;
                crate::redact::json::append(out, v, masker, pretty, level, || v.clone())
            }
        }
    }

    /// The value, not kept when it had to be made.
    fn value(&self) -> std::borrow::Cow<'_, Value> {
        match &self.0 {
            Inner::Given(v) => std::borrow::Cow::Borrowed(v),
            Inner::Lazy { source, made } => match made.get() {
                Some(v) => std::borrow::Cow::Borrowed(v),
                None => std::borrow::Cow::Owned(source.value()),
            },
            Inner::Raw {
                body,
                start,
                end,
                codec,
                made,
            } => match made.get() {
                Some(v) => std::borrow::Cow::Borrowed(v),
                None => {
                    std::borrow::Cow::Owned((codec.value)(&body[*start as usize..*end as usize]))
                }
            },
        }
    }
}

impl From<Value> for RowJson {
    fn from(v: Value) -> RowJson {
        RowJson(Inner::Given(v))
    }
}

impl Deref for RowJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        match &self.0 {
            Inner::Given(v) => v,
            Inner::Lazy { source, made } => made.get_or_init(|| Box::new(source.value())),
            Inner::Raw {
                body,
                start,
                end,
                codec,
                made,
            } => {
                made.get_or_init(|| Box::new((codec.value)(&body[*start as usize..*end as usize])))
            }
        }
    }
}

impl fmt::Debug for RowJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.value(), f)
    }
}

impl PartialEq for RowJson {
    fn eq(&self, other: &RowJson) -> bool {
        *self.value() == *other.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_on_demand_and_equal_to_the_given_value() {
        let lazy = RowJson::of(serde_json::json!({"b": 1, "a": [2]}));
        assert_eq!(*lazy.value(), serde_json::json!({"a": [2], "b": 1}));
        assert_eq!(lazy, RowJson::from(serde_json::json!({"a": [2], "b": 1})));
        assert_eq!(lazy["a"][0], 2);
        assert_eq!(lazy.clone().get("b"), Some(&Value::from(1)));
    }

    #[derive(Serialize)]
    struct Two {
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<i64>,
        m: String,
        #[serde(flatten)]
        extra: Map<String, Value>,
    }

    impl SortedJson for Two {
        fn serialize_sorted<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize_merged(
                s,
                &[
                    ("b", self.b.map(JsonField::Int)),
                    ("m", Some(JsonField::Str(&self.m))),
                ],
                &self.extra,
            )
        }
    }

    #[test]
    fn a_typed_row_writes_the_bytes_of_its_value() {
        crate::redact::register("secret-0123456789");
        let masker = Masker::now(None);
        for extra in [
            serde_json::json!({}),
            serde_json::json!({"a": 1, "c": "secret-0123456789", "n": null, "z": [{"y": 1, "x": 2}]}),
            serde_json::json!({"secret-0123456789": 1, "A": 2}),
        ] {
            for b in [None, Some(3)] {
                let two = Two {
                    b,
                    m: "x\u{1b}secret-0123456789".into(),
                    extra: extra.as_object().unwrap().clone(),
                };
                let row = RowJson::of(two);
                for pretty in [false, true] {
                    let mut typed = b"[".to_vec();
                    row.write(&mut typed, &masker, pretty, 2).unwrap();
                    let mut whole = b"[".to_vec();
                    crate::redact::json::append(
                        &mut whole,
                        &*row.value(),
                        &masker,
                        pretty,
                        2,
                        || row.value().into_owned(),
                    )
                    .unwrap();
                    assert_eq!(String::from_utf8(typed), String::from_utf8(whole));
                }
            }
        }
    }

    fn name_of(v: &Value) -> &str {
        v.get("name").and_then(Value::as_str).unwrap_or_default()
    }

    /// Where an element lies in its answer.
    type Span = (u32, u32);

    /// The places and order one thread finds, and where a name comes before the one before
    /// it (counted here, not as the walk counts them).
    fn walked_by_one(body: &str) -> Option<(Vec<Span>, bool, Vec<u32>)> {
        let i = first_element(body)?.unwrap();
        let (part, _) = Part::walk(body, i, usize::MAX, name_of)?;
        let names: Vec<&str> = part.names.iter().map(|&at| part.name(body, at)).collect();
        let sorted = names.windows(2).all(|w| w[0] <= w[1]);
        let descents = (1..names.len())
            .filter(|&i| names[i] < names[i - 1])
            .map(|i| i as u32)
            .collect();
        Some((part.spans, sorted, descents))
    }

    #[test]
    fn a_large_answer_walked_by_two_threads_is_walked_as_by_one() {
        // Rows of about 100 bytes, enough of them for two threads; `names(i)` names row `i`.
        let answer = |names: &dyn Fn(usize) -> String, odd: Option<(usize, &str)>| {
            let rows: Vec<String> = (0..4000)
                .map(|i| match odd {
                    Some((at, text)) if at == i => text.to_string(),
                    _ => format!(
                        r#"{{"id":{i},"name":"{}","roles":["stackstate-admin"],"pad":"{:040}"}}"#,
                        names(i),
                        0
                    ),
                })
                .collect();
            format!("[{}]", rows.join(",\n "))
        };
        let sorted = |i: usize| format!("n{i:05}");
        let one_out_of_place = |i: usize| format!("n{:05}", if i == 3999 { 0 } else { i });
        // The row where the second thread would begin (the row after it), and one with a
        // string that looks like an element's start there.
        let plain = answer(&sorted, None);
        let (spans, ..) = walked_by_one(&plain).unwrap();
        let middle = spans
            .iter()
            .position(|&(_, end)| end as usize > plain.len() / 2)
            .unwrap();
        // In order on each side of where the second thread begins (the row after the middle
        // one), not across it.
        let halves_sorted = |i: usize| format!("n{:05}", if i <= middle { i + 4000 } else { i });
        let trap = format!(
            r#"{{"id":{middle},"name":"{}","pad":"{}"}}"#,
            sorted(middle),
            "},{".repeat(100)
        );
        let trap = trap.as_str();
        // Whether the second thread began inside a string, in one case at least.
        let mut trapped = false;
        for (body, in_order) in [
            (answer(&sorted, None), true),
            (answer(&halves_sorted, None), false),
            (answer(&one_out_of_place, None), false),
            (answer(&sorted, Some((middle, trap))), true),
            (answer(&sorted, Some((middle - 1, trap))), true),
        ] {
            assert!(body.len() >= TWO_THREADS_FROM);
            let two = walk_spans::<Value>(&body, name_of).unwrap();
            let (spans, sorted, descents) = walked_by_one(&body).unwrap();
            assert_eq!(two.spans, spans);
            assert_eq!(spans.len(), 4000);
            assert_eq!(sorted, in_order);
            assert_eq!(two.descents, descents);
            assert_eq!(descents.is_empty(), in_order);
            // The names of rows out of order, each its row's.
            assert_eq!(two.names.is_none(), in_order);
            let names = two.names.iter().flat_map(|n| n.iter(&body));
            for (names, &(start, end)) in names.zip(&spans) {
                let row: Value = serde_json::from_str(&body[start as usize..end as usize]).unwrap();
                assert_eq!(names, name_of(&row));
            }
            let seam = likely_element(body.as_bytes(), body.len() / 2).unwrap() as u32;
            trapped |= !spans.iter().any(|&(start, _)| start == seam);
            // Rows made as they are decoded: those of the whole answer, in its order.
            let ids = |v: &Value| v["id"].as_u64().filter(|id| id % 3 != 0);
            let mapped = decode_mapped(Arc::new(body.clone()), Rows::decoded(|v, _| v), &ids)
                .unwrap()
                .into_vec();
            let one: Vec<u64> = serde_json::from_str::<Vec<Value>>(&body)
                .unwrap()
                .iter()
                .filter_map(ids)
                .collect();
            assert_eq!(mapped, one);
        }
        assert!(trapped);
        for bad in [
            answer(&sorted, Some((3000, r#"{"id":1"#))),
            answer(&sorted, Some((1000, "{]"))),
            answer(&sorted, None) + "x",
        ] {
            assert_eq!(walk_spans::<Value>(&bad, name_of), None);
            assert_eq!(walked_by_one(&bad), None);
            let whole = serde_json::from_str::<Vec<Value>>(&bad).unwrap_err();
            let rows = Rows::decoded(|_: Value, _| ());
            let mapped = decode_mapped(Arc::new(bad.clone()), rows, &|_| Some(())).unwrap_err();
            assert_eq!(mapped.to_string(), whole.to_string());
        }
    }
}
