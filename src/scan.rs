//! Finding the first byte of a kind in text made of short runs (a row's strings and keys):
//! eight bytes at a time, each word tested for every byte of the kind at once, then the last
//! few one by one. The runs are too short for a search (`memchr`) to pay for setting it up. And
//! the order of two such runs (names, keys), compared eight bytes at a time.

/// Every byte 1: times a byte, that byte in each place.
pub(crate) const ONES: u64 = u64::from_le_bytes([1; 8]);
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

/// The first byte from `i` that is not an ASCII digit.
#[inline(always)]
pub fn digit_run(bytes: &[u8], i: usize) -> usize {
    first_where(
        bytes,
        i,
        // A byte below '0' borrows (its high bit then set), one above '9' has its high bit set
        // once 0x46 is added; only bytes after the first such one can be disturbed.
        |x| x.wrapping_sub(ONES * u64::from(b'0')) | x.wrapping_add(ONES * 0x46),
        |b| !b.is_ascii_digit(),
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

/// Appends `bytes` to `out`, a short run (the most of a row's pieces: a key, a number, a line's
/// indentation) copied inline rather than by a call to copy memory, which costs more than the
/// bytes do.
#[inline(always)]
pub fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    let len = out.len();
    if n > 32 || out.capacity() - len < 32 {
        out.extend_from_slice(bytes);
        return;
    }
    let src = bytes.as_ptr();
    // SAFETY: `out` has room for 32 more bytes past its length (checked above), and `n` (at
    // most 32) is at least the width of the word `ends` copies by, so its reads are within
    // `bytes` and its writes within that room. `n` bytes are then written.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        if n >= 16 {
            ends::<u128>(src, dst, n);
        } else if n >= 8 {
            ends::<u64>(src, dst, n);
        } else if n >= 4 {
            ends::<u32>(src, dst, n);
        } else if n > 0 {
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
        out.set_len(len + n);
    }
}

/// Copies `n` bytes from `src` to `dst` as two words of `W`, the first and the last (they
/// overlap when `n` is under twice the word's width, and together cover all `n` up to it).
///
/// # Safety
/// `n` is at least the width of `W` and at most twice it; `n` bytes are readable at `src` and
/// writable at `dst`.
#[inline(always)]
unsafe fn ends<W: Copy>(src: *const u8, dst: *mut u8, n: usize) {
    let k = std::mem::size_of::<W>();
    // SAFETY: both words lie within the `n` bytes at each end (the caller's promise).
    unsafe {
        let (first, last) = (
            src.cast::<W>().read_unaligned(),
            src.add(n - k).cast::<W>().read_unaligned(),
        );
        dst.cast::<W>().write_unaligned(first);
        dst.add(n - k).cast::<W>().write_unaligned(last);
    }
}

/// [`put`] onto a `String`.
#[inline(always)]
pub fn put_str(out: &mut String, s: &str) {
    // SAFETY: the bytes appended are those of a `str`, whole: the text stays UTF-8.
    put(unsafe { out.as_mut_vec() }, s.as_bytes());
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

/// The order of `n` items (their indices): by `group`, then by `text` in byte order
/// ([`bytes_order`]), then by `tie`, then by index (a stable sort's order). Each item is
/// sorted as a key of its group, its text's first 16 bytes and its length, read once, so that
/// comparisons touch the text only when two texts share 16 bytes and are longer; runs already
/// in order are found and merged, not sorted again (an answer is often a few such runs).
pub fn sorted_order<'t>(
    n: usize,
    group: &(dyn Fn(usize) -> u32 + Sync),
    text: &(dyn Fn(usize) -> &'t [u8] + Sync),
    tie: &(dyn Fn(usize, usize) -> std::cmp::Ordering + Sync),
) -> Vec<u32> {
    let two = n >= TWO_THREADS_FROM && two_processors();
    sorted_order_in(n, group, text, tie, two)
}

/// Whether this machine has a second processor for a large list's work (two threads). Asked of
/// the system once: on Linux the answer reads the process's cgroup files.
pub fn two_processors() -> bool {
    static TWO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// From how many items [`sorted_order`] sorts each half in a thread of its own and merges them.
const TWO_THREADS_FROM: usize = 16 * 1024;

/// An item as [`sorted_order`] sorts it: its group, its index, its text's first 16 bytes
/// (big-endian, zeros after a shorter text) and its length (17 for any longer).
type Key = (u32, u32, u64, u64, u32);

/// [`sorted_order`], its halves sorted by two threads and merged when `two`.
fn sorted_order_in<'t>(
    n: usize,
    group: &(dyn Fn(usize) -> u32 + Sync),
    text: &(dyn Fn(usize) -> &'t [u8] + Sync),
    tie: &(dyn Fn(usize, usize) -> std::cmp::Ordering + Sync),
    two: bool,
) -> Vec<u32> {
    // Keys in the order of the texts, equal only for the same text or for texts longer than
    // 16 bytes that share them.
    let key = |i: usize| -> Key {
        let t = text(i);
        let mut b = [0u8; 16];
        let k = t.len().min(16);
        b[..k].copy_from_slice(&t[..k]);
        (
            group(i),
            i as u32,
            u64::from_be_bytes(b[..8].try_into().expect("eight bytes")),
            u64::from_be_bytes(b[8..].try_into().expect("eight bytes")),
            t.len().min(17) as u32,
        )
    };
    let compare = |a: &Key, b: &Key| {
        (a.0, a.2, a.3, a.4)
            .cmp(&(b.0, b.2, b.3, b.4))
            .then_with(|| match a.4 > 16 {
                true => bytes_order(text(a.1 as usize), text(b.1 as usize)),
                false => std::cmp::Ordering::Equal,
            })
            .then_with(|| tie(a.1 as usize, b.1 as usize))
    };
    let sort = |keys: &mut [Key], from: usize| {
        for (k, i) in keys.iter_mut().zip(from..) {
            *k = key(i);
        }
        keys.sort_by(compare);
    };
    let mut keys: Vec<Key> = vec![(0, 0, 0, 0, 0); n];
    if !two {
        sort(&mut keys, 0);
        return keys.into_iter().map(|k| k.1).collect();
    }
    let (low, high) = keys.split_at_mut(n / 2);
    crate::worker::join(|| sort(high, n / 2), || sort(low, 0));
    // The low half's item first among equal ones: a stable sort's order.
    let mut order = Vec::with_capacity(n);
    let (mut i, mut j) = (0, 0);
    while i < low.len() && j < high.len() {
        if compare(&high[j], &low[i]).is_lt() {
            order.push(high[j].1);
            j += 1;
        } else {
            order.push(low[i].1);
            i += 1;
        }
    }
    order.extend(low[i..].iter().chain(&high[j..]).map(|k| k.1));
    order
}

/// The order of `n` items by `compare`, then by index (a stable sort's, as [`sorted_order`]
/// gives it), found without sorting them when all but a few are in order already. `descents`
/// are the places `i`, rising, where `compare` puts item `i` before item `i - 1`: they cut the
/// items into runs in order. The longest run keeps its order and the items of the others, at
/// most [`nearly_sorted_few`] of them, are put into it, each where a binary search says. `None`
/// when more items than that lie outside the longest run (then the items want a sort).
pub fn nearly_sorted_order(
    n: usize,
    compare: &(dyn Fn(usize, usize) -> std::cmp::Ordering + Sync),
    descents: &[u32],
) -> Option<Vec<u32>> {
    // The longest run, [a, b) (the first of the longest).
    let (mut a, mut b, mut start) = (0, 0, 0);
    for end in descents.iter().map(|&d| d as usize).chain([n]) {
        if end - start > b - a {
            (a, b) = (start, end);
        }
        start = end;
    }
    if n - (b - a) > nearly_sorted_few(n) {
        return None;
    }
    // Items compare by `compare`, then by index: no two are equal, and in a run (in order,
    // indices rising) that order is the run's.
    let before = |x: usize, y: usize| compare(x, y).then(x.cmp(&y)).is_lt();
    let others: Vec<usize> = (0..a).chain(b..n).collect();
    // Sorted as `sorted_order` sorts (its code, not another sort's): a stable sort by `compare`.
    let sorted = sorted_order(others.len(), &|_| 0, &|_| &[], &|i, j| {
        compare(others[i], others[j])
    });
    let mut order = Vec::with_capacity(n);
    let mut from = a;
    for x in sorted.into_iter().map(|i| others[i as usize]) {
        // The first item of the run's rest that comes after `x`.
        let (mut low, mut high) = (from, b);
        while low < high {
            let mid = low + (high - low) / 2;
            if before(mid, x) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        order.extend(from as u32..low as u32);
        order.push(x as u32);
        from = low;
    }
    order.extend(from as u32..b as u32);
    Some(order)
}

/// How many items [`nearly_sorted_order`] puts into the longest run of `n`, at most: each costs
/// a binary search, where a sort of all `n` costs about `n` comparisons even for runs.
fn nearly_sorted_few(n: usize) -> usize {
    64 + n / 64
}

/// Puts `items` in `order` ([`sorted_order`]'s: item `order[i]` goes to place `i`), in place:
/// one swap a move, along each cycle of the permutation. `order` is used up.
pub fn permute<T>(items: &mut [T], order: &mut [u32]) {
    debug_assert_eq!(items.len(), order.len());
    for start in 0..items.len() {
        let mut at = start;
        // A place done points at itself.
        while order[at] as usize != at {
            let from = order[at] as usize;
            order[at] = at as u32;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Runs of every length to 40 bytes, put after any text into a buffer with any room
        /// left, are appended as `extend_from_slice` appends them.
        #[test]
        fn a_run_put_is_the_run_appended(
            before in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            room in 0usize..48,
            run in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let mut out = Vec::with_capacity(before.len() + room);
            out.extend_from_slice(&before);
            put(&mut out, &run);
            proptest::prop_assert_eq!(out, [before, run].concat());
        }
    }

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
        /// The first byte that is not a digit is found after runs of digits of any length,
        /// whatever it is: the bytes next to '0' and '9', those with the high bit set, a zero.
        #[test]
        fn the_end_of_a_run_of_digits_is_found_wherever_it_is(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'0', b'1', b'5', b'8', b'9', b'0', b'9', b'3', b'/', b':', 0, 0x7f, 0x80,
                    0xb0, 0xb9, 0xba, 0xff, b'-',
                ]),
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            let end = bytes[from..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(bytes.len(), |n| from + n);
            proptest::prop_assert_eq!(digit_run(&bytes, from), end);
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

    proptest::proptest! {
        /// A long list in order but for a few items put elsewhere or renamed (a token created
        /// last, names that order by their bytes as `seed-99999` and `seed-100000` do), ordered
        /// from its runs as a stable sort by text orders it; too many items out of place, none.
        #[test]
        fn a_list_nearly_in_order_is_ordered_from_its_runs(
            n in 0usize..3000,
            moved in proptest::collection::vec((0usize..3000, 0usize..3000), 0..12),
            renamed in proptest::collection::vec((0usize..3000, "[a-z]{0,3}|n0[0-9]{0,5}"), 0..12),
            shuffled in 0usize..200,
        ) {
            let mut texts: Vec<String> = (0..n).map(|i| format!("n{:05}", i / 2)).collect();
            for (from, to) in &moved {
                if n > 0 {
                    let t = texts.remove(from % n);
                    texts.insert(to % n, t);
                }
            }
            for (at, text) in &renamed {
                if n > 0 {
                    texts[at % n] = text.clone();
                }
            }
            // A stretch reversed: more items out of place than a few, for a long list.
            let stretch = shuffled.min(n);
            texts[..stretch].reverse();
            let text = |i: usize| texts[i].as_bytes();
            let descents: Vec<u32> = (1..n)
                .filter(|&i| texts[i] < texts[i - 1])
                .map(|i| i as u32)
                .collect();
            let mut expected: Vec<usize> = (0..n).collect();
            expected.sort_by_key(|&i| &texts[i]);
            match nearly_sorted_order(n, &|a, b| bytes_order(text(a), text(b)), &descents) {
                Some(order) => proptest::prop_assert_eq!(
                    order.iter().map(|&i| i as usize).collect::<Vec<_>>(),
                    expected
                ),
                // Declined only for more items outside the longest run than a few.
                None => {
                    let mut longest = 0;
                    let mut start = 0;
                    for end in descents.iter().map(|&d| d as usize).chain([n]) {
                        longest = longest.max(end - start);
                        start = end;
                    }
                    proptest::prop_assert!(n - longest > nearly_sorted_few(n));
                }
            }
        }
    }

    proptest::proptest! {
        /// Items ordered by group, text, tie and index, as a stable sort by the same comparison
        /// orders them, then moved to that order in place: texts that share 16 bytes and more,
        /// differ in trailing zero bytes or only in length, and items equal but for their index.
        #[test]
        fn sorted_order_is_a_stable_sort_and_permute_moves_items_to_it(
            items in proptest::collection::vec(
                (0u32..3, "(seed-0000000000|seed-00|x){0,2}[a\\x00é]{0,3}", 0u8..3),
                0..60,
            ),
        ) {
            let text = |i: usize| items[i].1.as_bytes();
            let mut order = sorted_order(
                items.len(),
                &|i| items[i].0,
                &text,
                &|a, b| items[a].2.cmp(&items[b].2),
            );
            // Its halves sorted by two threads and merged: the same order.
            let two = sorted_order_in(
                items.len(),
                &|i| items[i].0,
                &text,
                &|a, b| items[a].2.cmp(&items[b].2),
                true,
            );
            proptest::prop_assert_eq!(&two, &order);
            let mut expected: Vec<usize> = (0..items.len()).collect();
            expected.sort_by(|&a, &b| {
                (items[a].0, text(a), items[a].2).cmp(&(items[b].0, text(b), items[b].2))
            });
            proptest::prop_assert_eq!(
                order.iter().map(|&i| i as usize).collect::<Vec<_>>(),
                expected.clone()
            );
            // Found from its runs, as long as few items lie outside the longest one.
            let texts: Vec<&[u8]> = (0..items.len()).map(text).collect();
            let descents: Vec<u32> = (1..items.len())
                .filter(|&i| texts[i] < texts[i - 1])
                .map(|i| i as u32)
                .collect();
            let by_text: Vec<usize> = {
                let mut e: Vec<usize> = (0..items.len()).collect();
                e.sort_by_key(|&i| texts[i]);
                e
            };
            let by_bytes = |a: usize, b: usize| bytes_order(text(a), text(b));
            let nearly = nearly_sorted_order(items.len(), &by_bytes, &descents);
            match nearly {
                Some(nearly) => proptest::prop_assert_eq!(
                    nearly.iter().map(|&i| i as usize).collect::<Vec<_>>(),
                    by_text
                ),
                None => proptest::prop_assert!(items.len() > nearly_sorted_few(items.len())),
            }
            let mut moved = items.clone();
            permute(&mut moved, &mut order);
            let by_order: Vec<_> = expected.iter().map(|&i| items[i].clone()).collect();
            proptest::prop_assert_eq!(moved, by_order);
        }
    }
}
