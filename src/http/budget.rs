//! The bound on what one command reads, all answers together (CONTRACT §7): bytes of every body,
//! and JSON values and objects of every answer that is decoded. One `sts` process runs one
//! command, so the count is the process's: the pages of a paged list and the contexts of `-A`,
//! however many run at once, draw on the same budget, and an answer never costs memory past it.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of all the answers of one command together.
pub const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;
/// JSON values (array elements and object members, at any depth) of all the answers of one
/// command together: 100,000 StackState tokens hold about 650,000.
pub const MAX_TOTAL_VALUES: usize = 1_000_000;
/// JSON objects of all the answers of one command together. Each row of a list (a token, a key,
/// a user) is an object and costs a few hundred bytes once decoded, however little it holds:
/// this bounds what a list of empty objects can cost.
pub const MAX_TOTAL_OBJECTS: usize = 200_000;

static BYTES: AtomicUsize = AtomicUsize::new(0);
static VALUES: AtomicUsize = AtomicUsize::new(0);
static OBJECTS: AtomicUsize = AtomicUsize::new(0);

/// Which bound an answer hit, said in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Bytes,
    Values,
    Objects,
}

impl Exceeded {
    /// The end of the error message: what the bound is.
    pub fn describe(self) -> String {
        match self {
            Exceeded::Bytes => format!(
                "the answers to this command together exceed {} MiB, the bound on what one \
                 command reads",
                MAX_TOTAL_BYTES / (1024 * 1024)
            ),
            Exceeded::Values => format!(
                "the answers to this command together hold more than {MAX_TOTAL_VALUES} JSON \
                 values, the bound on what one command reads"
            ),
            Exceeded::Objects => format!(
                "the answers to this command together hold more than {MAX_TOTAL_OBJECTS} JSON \
                 objects (rows), the bound on what one command reads"
            ),
        }
    }
}

/// Takes `n` more bytes from the budget.
pub fn take_bytes(n: usize) -> Result<(), Exceeded> {
    take(&BYTES, n, MAX_TOTAL_BYTES, Exceeded::Bytes)
}

/// Takes the values and the objects of a JSON body from the budget, before it is decoded.
pub fn take_counted(counted: Counted) -> Result<(), Exceeded> {
    take(&VALUES, counted.values, MAX_TOTAL_VALUES, Exceeded::Values)?;
    take(
        &OBJECTS,
        counted.objects,
        MAX_TOTAL_OBJECTS,
        Exceeded::Objects,
    )
}

fn take(counter: &AtomicUsize, n: usize, max: usize, which: Exceeded) -> Result<(), Exceeded> {
    let before = counter.fetch_add(n, Ordering::SeqCst);
    if before.saturating_add(n) > max {
        Err(which)
    } else {
        Ok(())
    }
}

/// The bytes outside a string that can change the count: a string, a separator, an opening.
const STARTS: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b',' as usize] = true;
    t[b'[' as usize] = true;
    t[b'{' as usize] = true;
    t
};

/// What a JSON body holds, counted before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Array elements and object members, at any depth.
    pub values: usize,
    /// Objects, at any depth.
    pub objects: usize,
}

/// How many JSON values this body holds as array elements or object members, at any depth.
#[cfg(test)]
pub fn count_values(body: &[u8]) -> usize {
    count(body).values
}

/// The values and objects of this body, in one pass and without allocating (a malformed body
/// gives some count; the decoder refuses it).
pub fn count(body: &[u8]) -> Counted {
    let mut counter = Counter::default();
    counter.feed(body);
    counter.counted()
}

/// [`count`] made a piece at a time, as the body arrives (the count of the pieces is the count
/// of the whole, wherever it is cut).
#[derive(Debug, Default, Clone)]
pub struct Counter {
    values: usize,
    objects: usize,
    in_string: bool,
    escaped: bool,
    /// Just after `[` or `{`: the next thing that is not a closing bracket starts a member.
    first: bool,
}

impl Counter {
    pub fn feed(&mut self, body: &[u8]) {
        let mut i = 0;
        if self.escaped && !body.is_empty() {
            // The byte after a backslash that ended the last piece.
            self.escaped = false;
            i = 1;
        }
        while i < body.len() {
            if self.in_string {
                i = crate::scan::quote_or_backslash(body, i);
                match body.get(i) {
                    None => break,
                    Some(b'"') => {
                        self.in_string = false;
                        i += 1;
                    }
                    // A backslash: the byte after it is skipped, in this piece or the next.
                    Some(_) if i + 1 == body.len() => {
                        self.escaped = true;
                        break;
                    }
                    Some(_) => i += 2,
                }
                continue;
            }
            let b = body[i];
            i += 1;
            if b.is_ascii_whitespace() {
                continue;
            }
            if !self.first && !STARTS[usize::from(b)] {
                // Digits, letters, `:` and closing brackets count for nothing: skip to the next
                // byte that might.
                while i < body.len() && !STARTS[usize::from(body[i])] {
                    i += 1;
                }
                continue;
            }
            if self.first && b != b']' && b != b'}' {
                self.values += 1;
            }
            self.first = false;
            match b {
                b'"' => self.in_string = true,
                b'[' => self.first = true,
                b'{' => {
                    self.first = true;
                    self.objects += 1;
                }
                b',' => self.values += 1,
                _ => {}
            }
        }
    }

    pub fn counted(&self) -> Counted {
        Counted {
            values: self.values,
            objects: self.objects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_at_every_depth() {
        assert_eq!(count_values(b"[]"), 0);
        assert_eq!(count_values(b"{}"), 0);
        assert_eq!(count_values(b"[{}, {}, {}]"), 3);
        assert_eq!(count_values(b"[[], [1], [1, 2]]"), 6);
        assert_eq!(
            count_values(br#"{"a": 1, "b": [true, null], "c": {"d": "x,]"}}"#),
            6
        );
        assert_eq!(count_values(br#"["a\"[,", "b"]"#), 2);
        assert_eq!(count_values(b"  [ \n ]  "), 0);
        assert_eq!(
            count_values(br#"[12, true,null ,[3,{"k":[ ]}], -1.5e3]"#),
            8
        );
        assert_eq!(count_values(br#"{"a":1}{"b":[2 , 3]}"#), 4);
        let million = format!("[{}]", vec!["{}"; 1_000_000].join(","));
        assert_eq!(count_values(million.as_bytes()), 1_000_000);
    }

    #[test]
    fn objects_are_counted_at_every_depth_outside_strings() {
        let objects = |body: &[u8]| count(body).objects;
        assert_eq!(objects(b"[]"), 0);
        assert_eq!(objects(b"[{}, {}, {}]"), 3);
        assert_eq!(objects(br#"{"a": {"b": [{}, "{"]}, "c": "}{"}"#), 3);
        assert_eq!(objects(br#"["\"{", {"k": "\\"}]"#), 1);
    }

    proptest::proptest! {
        /// Fed in pieces cut anywhere (inside a string, after a backslash, between a bracket
        /// and what follows it), the count is the count of the whole.
        #[test]
        fn counted_in_pieces_it_is_counted_whole(
            parts in proptest::collection::vec(0usize..13, 0..40),
            cuts in proptest::collection::vec(0usize..400, 0..12),
        ) {
            const PARTS: [&str; 13] = ["[", "]", "{", "}", ",", ":", "\"a\\\"[,{\"", "12", " ",
                "\"\\\\\"", "true", "\"k\"", "\"x\\u0041\""];
            let body: String = parts.iter().map(|&p| PARTS[p]).collect();
            let bytes = body.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut counter = Counter::default();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                counter.feed(&bytes[from..cut]);
                from = cut;
            }
            proptest::prop_assert_eq!(counter.counted(), count(bytes));
        }
    }

    proptest::proptest! {
        /// Strings short and long, with quotes, backslashes, brackets and commas in them, count
        /// as one value each, and nothing in them counts.
        #[test]
        fn nothing_in_a_string_counts(
            strings in proptest::collection::vec("[a\"\\\\,\\[{}\\] é]{0,90}", 0..12),
        ) {
            let objects: Vec<serde_json::Value> = strings
                .iter()
                .map(|s| serde_json::json!({ "k": s, s.clone(): [s] }))
                .collect();
            let body = serde_json::to_string(&(&strings, &objects)).unwrap();
            let members: usize = objects.iter().map(|o| o.as_object().unwrap().len()).sum();
            proptest::prop_assert_eq!(
                count(body.as_bytes()),
                Counted {
                    values: 2 + strings.len() * 2 + members + strings.len(),
                    objects: strings.len(),
                }
            );
        }
    }

    #[test]
    fn the_bound_names_itself() {
        assert!(Exceeded::Bytes.describe().contains("32 MiB"));
        assert!(Exceeded::Values.describe().contains("1000000 JSON values"));
        assert!(Exceeded::Objects.describe().contains("200000 JSON objects"));
    }
}
