//! Finding the first byte of a kind in text made of short runs (a row's strings and keys):
//! eight bytes at a time, each word tested for every byte of the kind at once, then the last
//! few one by one. The runs are too short for a search (`memchr`) to pay for setting it up. And
//! the order of two such runs (names, keys), compared eight bytes at a time.

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each zero byte of `x`, exact at the first one: a borrow can set it only
/// above a zero byte. (`x - n × ONES & !x` does the same for bytes below `n`.)
#[inline(always)]
fn zero(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x
}

/// The high bit of each byte of `x` equal to `b`, exact at the first one.
#[inline(always)]
fn equal(x: u64, b: u8) -> u64 {
    zero(x ^ (ONES * u64::from(b)))
}

/// The index of the first byte from `i` that `is`, or the length of `bytes`. `marks` gives,
/// for a word of eight bytes, a high bit on each such byte (exact at the first).
#[inline(always)]
fn first_where(
    bytes: &[u8],
    mut i: usize,
    marks: impl Fn(u64) -> u64,
    is: impl Fn(u8) -> bool,
) -> usize {
    while let Some(word) = bytes.get(i..i + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let found = marks(u64::from_le_bytes(eight)) & HIGHS;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(|&b| !is(b)) {
        i += 1;
    }
    i
}

/// The first quote or backslash from `i` (what ends a JSON string's run of plain bytes).
#[inline(always)]
pub fn quote_or_backslash(bytes: &[u8], i: usize) -> usize {
    first_where(
        bytes,
        i,
        |x| equal(x, b'"') | equal(x, b'\\'),
        |b| b == b'"' || b == b'\\',
    )
}

/// The first byte from `i` that does not go between double quotes as it is: beyond printable
/// ASCII (a control byte, DEL, any byte of a non-ASCII character), a quote or a backslash.
#[inline(always)]
pub fn plain_run(bytes: &[u8], i: usize) -> usize {
    first_where(
        bytes,
        i,
        |x| {
            equal(x, b'"')
                | equal(x, b'\\')
                | equal(x, 0x7f)
                | (x.wrapping_sub(ONES * 0x20) & !x)
                | x
        },
        |b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\',
    )
}

/// The first byte from `i` beyond printable ASCII: a control byte, DEL, any byte of a non-ASCII
/// character.
#[inline(always)]
pub fn printable_run(bytes: &[u8], i: usize) -> usize {
    first_where(
        bytes,
        i,
        |x| equal(x, 0x7f) | (x.wrapping_sub(ONES * 0x20) & !x) | x,
        |b| !(0x20..0x7f).contains(&b),
    )
}

/// `a.cmp(b)`, the order of the bytes, compared eight at a time: the names of a list are short
/// and most often share a long start, where a call to compare memory costs more than the names.
pub fn text_order(a: &str, b: &str) -> std::cmp::Ordering {
    bytes_order(a.as_bytes(), b.as_bytes())
}

/// [`text_order`] of bytes: `a.cmp(b)`.
pub fn bytes_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let common = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= common {
        let eight = |s: &[u8]| u64::from_be_bytes(s[i..i + 8].try_into().expect("eight bytes"));
        let (x, y) = (eight(a), eight(b));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < common {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The first byte of each kind is found wherever it is, whatever bytes come before and
        /// after it (control bytes, DEL, those with the high bit set, those one off from a
        /// byte looked for).
        #[test]
        fn the_first_byte_of_a_kind_is_found_wherever_it_is(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'a', b' ', b'~', b'"', b'\\', b',', b'[', 0x1f, 0x7f, 0x80, 0xff, 0, 0x21,
                    0x23, 0x5b, 0x5d,
                ]),
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            let first = |is: &dyn Fn(u8) -> bool| {
                bytes[from..].iter().position(|&b| is(b)).map_or(bytes.len(), |n| from + n)
            };
            proptest::prop_assert_eq!(
                quote_or_backslash(&bytes, from),
                first(&|b| b == b'"' || b == b'\\')
            );
            proptest::prop_assert_eq!(
                plain_run(&bytes, from),
                first(&|b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
            );
            proptest::prop_assert_eq!(
                printable_run(&bytes, from),
                first(&|b| !(0x20..0x7f).contains(&b))
            );
        }
    }

    proptest::proptest! {
        /// Names that share long starts, of every length around eight and its multiples, with
        /// bytes on both sides of the high bit, are in `str`'s order.
        #[test]
        fn text_order_is_the_order_of_str(
            start in "(seed-0000|seed-000|x){0,3}",
            a in "[ -~é]{0,18}",
            b in "[ -~é]{0,18}",
        ) {
            let (a, b) = (format!("{start}{a}"), format!("{start}{b}"));
            proptest::prop_assert_eq!(text_order(&a, &b), a.cmp(&b));
            proptest::prop_assert_eq!(text_order(&b, &a), b.cmp(&a));
            proptest::prop_assert_eq!(text_order(&a, &a), std::cmp::Ordering::Equal);
        }
    }
}
