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

/// Asks the kernel to back a large buffer of what a command makes (a large list's rows) with huge
/// pages where it can (Linux, when transparent huge pages are on for those who ask): 6 MB of
/// records are then written into a few pages, not 1,500 that each fault on first touch (issue
/// 24). A hint only: the buffer reads and writes the same either way, and a refusal is ignored.
/// An answer's buffer is not given them: its arrival then waited tens of milliseconds in about
/// one run of five (docs/benchmarks.md, the notes).
pub fn huge_pages<T>(buf: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 * 1024 * 1024;
        let bytes = buf.capacity().saturating_mul(std::mem::size_of::<T>());
        if bytes < 2 * HUGE {
            return;
        }
        let start = (buf.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (buf.as_ptr() as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: advice on whole pages of this buffer's own allocation, which it neither
            // frees nor moves; MADV_HUGEPAGE changes how they are backed, never what they hold.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Has the kernel back every page of `buf`'s room now, as a first write to each would (Linux 5.14
/// and later; elsewhere, or refused, nothing happens), on the helper thread ([`crate::worker`])
/// while the caller goes on: a large answer's buffer is mapped while the answer arrives, so
/// that the thread receiving it does not stop at each new page it copies into (issue 24: about
/// a millisecond of a 100,000-token list's receive, and its slowest runs, when the system had to
/// find the pages then). `None` when the helper is not free, or there is nothing to do.
///
/// The buffer must be neither freed nor moved (grown) until the answer has been taken: what
/// is mapped is its allocation's.
pub fn populate_later(buf: &Vec<u8>) -> Option<crate::worker::Later<()>> {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let at = buf.as_ptr() as usize;
        let (start, end) = (
            at.next_multiple_of(PAGE),
            (at + buf.capacity()) / PAGE * PAGE,
        );
        (end > start).then_some(())?;
        crate::worker::later(move || {
            // SAFETY: whole pages of the buffer's own allocation, which the caller keeps in
            // place until this has ended (above). A population writes nothing the buffer holds:
            // it maps the pages a write would, and leaves mapped ones as they are.
            unsafe {
                libc::madvise(
                    start as *mut libc::c_void,
                    end - start,
                    libc::MADV_POPULATE_WRITE,
                );
            }
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = buf;
        None
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

/// From how long a piece of an answer the processor is asked for its wider compares.
#[cfg(target_arch = "x86_64")]
const WIDE_FROM: usize = 16 * 1024;

/// The bytes of a block counted at once.
const BLOCK: usize = 64;

/// A bit per byte of a block (bit `i` for byte `i`) for each kind of byte the count looks at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Marks {
    quote: u64,
    backslash: u64,
    comma: u64,
    /// `{`
    brace: u64,
    /// `[` and `{`
    open: u64,
    /// `]` and `}`
    close: u64,
    /// What `u8::is_ascii_whitespace` takes: space, tab, line feed, form feed, carriage return.
    blank: u64,
}

impl Marks {
    /// Sixty-four bytes compared at once, each compare a mask of its own.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn avx512(block: &[u8; BLOCK]) -> Marks {
        use std::arch::x86_64::{
            __m512i, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_or_si512, _mm512_set1_epi8,
        };
        // SAFETY: `block` is 64 bytes long, and the load takes any alignment.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast::<__m512i>()) };
        let is = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
        // `[` and `{` differ only in the bit 0x20, as do `]` and `}`.
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let folded_is = |b: u8| _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b as i8));
        Marks {
            quote: is(b'"'),
            backslash: is(b'\\'),
            comma: is(b','),
            brace: is(b'{'),
            open: folded_is(b'{'),
            close: folded_is(b'}'),
            blank: is(b' ') | is(b'\t') | is(b'\n') | is(b'\r') | is(0x0c),
        }
    }

    /// Thirty-two bytes compared at once.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    fn avx2(block: &[u8; BLOCK]) -> Marks {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8,
        };
        let mut m = Marks::default();
        for (k, half) in block.chunks_exact(32).enumerate() {
            // SAFETY: `half` is 32 bytes long, and the load takes any alignment.
            let v = unsafe { _mm256_loadu_si256(half.as_ptr().cast::<__m256i>()) };
            let is = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
            let bits = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32) << (32 * k);
            let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
            m.quote |= bits(is(b'"'));
            m.backslash |= bits(is(b'\\'));
            m.comma |= bits(is(b','));
            m.brace |= bits(is(b'{'));
            m.open |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)));
            m.close |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)));
            m.blank |= bits(_mm256_or_si256(
                _mm256_or_si256(is(b' '), is(b'\t')),
                _mm256_or_si256(_mm256_or_si256(is(b'\n'), is(b'\r')), is(0x0c)),
            ));
        }
        m
    }

    /// Sixteen bytes compared at once (SSE2, which every x86-64 processor has, so no build
    /// of this crate for x86-64 is without it).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "sse2")]
    fn sse2(block: &[u8; BLOCK]) -> Marks {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut m = Marks::default();
        for (k, sixteen) in block.chunks_exact(16).enumerate() {
            // SAFETY: `sixteen` is 16 bytes long, and the load takes any alignment.
            let v = unsafe { _mm_loadu_si128(sixteen.as_ptr().cast::<__m128i>()) };
            let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let bits = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u16) << (16 * k);
            // `[` and `{` differ only in the bit 0x20, as do `]` and `}`.
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            m.quote |= bits(is(b'"'));
            m.backslash |= bits(is(b'\\'));
            m.comma |= bits(is(b','));
            m.brace |= bits(is(b'{'));
            m.open |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)));
            m.close |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)));
            m.blank |= bits(_mm_or_si128(
                _mm_or_si128(is(b' '), is(b'\t')),
                _mm_or_si128(_mm_or_si128(is(b'\n'), is(b'\r')), is(0x0c)),
            ));
        }
        m
    }

    /// A byte at a time: the marks of any processor, and what the fast one is held to.
    #[cfg(any(test, not(target_arch = "x86_64")))]
    #[inline]
    fn one_by_one(block: &[u8; BLOCK]) -> Marks {
        let mut m = Marks::default();
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            let mark = |on: bool, mask: &mut u64| {
                if on {
                    *mask |= bit;
                }
            };
            mark(b == b'"', &mut m.quote);
            mark(b == b'\\', &mut m.backslash);
            mark(b == b',', &mut m.comma);
            mark(b == b'{', &mut m.brace);
            mark(b == b'[' || b == b'{', &mut m.open);
            mark(b == b']' || b == b'}', &mut m.close);
            mark(b.is_ascii_whitespace(), &mut m.blank);
        }
        m
    }
}

/// Bit `i` of the result is the parity of bits `0..=i` of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

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
        // The widest compare the processor has: sixty-four bytes at once (AVX-512BW), thirty-two
        // (AVX2), else sixteen (SSE2, which every x86-64 processor has); the wide ones with the
        // one-instruction bit count that processors with them have. The standard library asks
        // the processor once and keeps the answer.
        #[cfg(target_arch = "x86_64")]
        {
            // A small piece is counted by SSE2 without asking: the first question costs a
            // process a few dozen microseconds in a virtual machine (each CPUID leaves it), more
            // than a small answer's count.
            let wide = body.len() >= WIDE_FROM && std::is_x86_feature_detected!("popcnt");
            if wide && std::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the processor has AVX-512BW and POPCNT (asked just above).
                unsafe { self.feed_avx512(body) }
            } else if wide && std::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor has AVX2 and POPCNT (asked just above).
                unsafe { self.feed_avx2(body) }
            } else {
                // SAFETY: SSE2 is part of x86-64 itself: every processor that runs this has it.
                unsafe { self.feed_sse2(body) }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.feed_by(body, Marks::one_by_one);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw,popcnt")]
    fn feed_avx512(&mut self, body: &[u8]) {
        self.feed_by(body, |block| Marks::avx512(block));
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn feed_avx2(&mut self, body: &[u8]) {
        self.feed_by(body, |block| Marks::avx2(block));
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    fn feed_sse2(&mut self, body: &[u8]) {
        self.feed_by(body, |block| Marks::sse2(block));
    }

    /// Sixty-four bytes at a time where the block has no backslash (nearly every block of a
    /// list), the bytes one by one elsewhere; both keep the same state, so they take turns.
    /// Inlined into each caller, so that `marks` is built for that caller's processor.
    #[inline(always)]
    fn feed_by(&mut self, body: &[u8], marks: impl Fn(&[u8; BLOCK]) -> Marks) {
        let mut blocks = body.chunks_exact(BLOCK);
        for block in &mut blocks {
            let block: &[u8; BLOCK] = block.try_into().expect("a block");
            if self.escaped || !self.block(marks(block)) {
                self.bytes(block);
            }
        }
        self.bytes(blocks.remainder());
    }

    /// One block counted with a bit per byte: the strings told by the quotes (none escaped,
    /// since the block has no backslash), each opening bracket's first member found by a
    /// carry through the blanks after it. `false`, and nothing counted, for a block with a
    /// backslash.
    #[inline(always)]
    fn block(&mut self, m: Marks) -> bool {
        if m.backslash != 0 {
            return false;
        }
        // The bytes of strings, each opening quote included and each closing one not.
        let inside = prefix_xor(m.quote) ^ if self.in_string { !0 } else { 0 };
        let outside = !inside;
        let opens = m.open & outside;
        let blanks = m.blank & outside;
        // Just after each opening bracket (and at the start, after one the last block ended
        // with): a carry runs through the blanks there to the next byte that is not one.
        let starts = (opens << 1) | u64::from(self.first);
        let (sum, past_the_end) = blanks.overflowing_add(starts);
        let next = sum & !blanks;
        // Each first member counts; a closing bracket there is an empty array or object.
        let members = next & !(m.close & outside);
        self.values += ((m.comma & outside).count_ones() + members.count_ones()) as usize;
        self.objects += (m.brace & outside).count_ones() as usize;
        self.first = past_the_end || opens >> 63 != 0;
        self.in_string = inside >> 63 != 0;
        true
    }

    /// The bytes one by one.
    fn bytes(&mut self, body: &[u8]) {
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

    /// How many of the pages of `len` bytes from the page at `at` are mapped (`mincore`).
    #[cfg(target_os = "linux")]
    fn mapped_pages(at: usize, len: usize) -> usize {
        let mut resident = vec![0u8; len.div_ceil(4096)];
        // SAFETY: `at` is a page's start, and `resident` has a byte for each page of `len`.
        let r = unsafe { libc::mincore(at as *mut libc::c_void, len, resident.as_mut_ptr()) };
        assert_eq!(r, 0);
        resident.iter().filter(|r| *r & 1 == 1).count()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_buffer_populated_while_it_is_written_is_mapped_and_keeps_what_was_written() {
        crate::worker::start();
        let len = 24 << 20;
        let byte = |i: usize| (i % 251) as u8;
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        let first = (4 << 20) + 123;
        buf.extend((0..first).map(byte));
        // Another test's join may hold the helper for a moment.
        let populating = (0..10_000_000)
            .find_map(|_| {
                populate_later(&buf).or_else(|| {
                    std::thread::yield_now();
                    None
                })
            })
            .expect("the helper was never free");
        // Written while the helper maps the rest.
        buf.extend((first..len).map(byte));
        populating.take();
        assert!(buf.iter().enumerate().all(|(i, b)| *b == byte(i)));
        // Every page of the room is mapped, the ones written and the ones not yet too.
        let mut room: Vec<u8> = Vec::with_capacity(len);
        room.push(1);
        (0..10_000_000)
            .find_map(|_| {
                populate_later(&room).or_else(|| {
                    std::thread::yield_now();
                    None
                })
            })
            .expect("the helper was never free")
            .take();
        let at = (room.as_ptr() as usize).next_multiple_of(4096);
        let pages = (room.as_ptr() as usize + len - at) / 4096;
        assert_eq!(mapped_pages(at, pages * 4096), pages);
        assert_eq!(room, [1]);
    }

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
            proptest::prop_assert_eq!(count_in_pieces(bytes, cuts), count(bytes));
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

    /// The count of `body` fed to one counter in pieces, cut at `cuts` (any order, past the end
    /// taken as the end).
    fn count_in_pieces(body: &[u8], cuts: Vec<usize>) -> Counted {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
        cuts.sort_unstable();
        let mut counter = Counter::default();
        let mut from = 0;
        for cut in cuts.into_iter().chain([body.len()]) {
            counter.feed(&body[from..cut]);
            from = cut;
        }
        counter.counted()
    }

    /// The count made a byte at a time, which the blocks are held to.
    fn count_by_bytes(body: &[u8]) -> Counted {
        let mut counter = Counter::default();
        counter.bytes(body);
        counter.counted()
    }

    proptest::proptest! {
        /// Counted a block at a time, any body (well formed or not: blanks of every kind,
        /// brackets left open, strings left open, a backslash now and then, wherever the
        /// blocks and the pieces are cut) counts what it counts a byte at a time.
        #[test]
        fn blocks_count_what_bytes_count(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"[]{},:\"    \t\n\r\x0c\x0ba1\xc3\xa9[[]]{}".to_vec()),
                0..1200,
            ),
            backslashes in proptest::collection::vec(0usize..1200, 0..3),
            cuts in proptest::collection::vec(0usize..1200, 0..6),
        ) {
            let mut body = bytes;
            for at in backslashes {
                let at = at.min(body.len());
                body.insert(at, b'\\');
            }
            let whole = count_by_bytes(&body);
            proptest::prop_assert_eq!(count(&body), whole);
            proptest::prop_assert_eq!(count_in_pieces(&body, cuts), whole);
        }

        /// The marks made sixteen bytes at a time are those made one by one, for any bytes.
        #[test]
        fn the_marks_of_a_block_are_its_bytes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, BLOCK),
        ) {
            let block: &[u8; BLOCK] = bytes.as_slice().try_into().unwrap();
            let bytes = Marks::one_by_one(block);
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: SSE2 is part of x86-64.
                proptest::prop_assert_eq!(unsafe { Marks::sse2(block) }, bytes);
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the processor has AVX2.
                    proptest::prop_assert_eq!(unsafe { Marks::avx2(block) }, bytes);
                }
                if std::is_x86_feature_detected!("avx512bw") {
                    // SAFETY: the processor has AVX-512BW.
                    proptest::prop_assert_eq!(unsafe { Marks::avx512(block) }, bytes);
                }
            }
        }
    }

    #[test]
    fn a_list_is_counted_a_block_at_a_time() {
        // Blanks across the blocks' edges, an empty array and object at an edge, strings
        // across edges, an escape now and then, as a pretty-printed list has them; each body
        // longer than WIDE_FROM, so counted by the widest compare this processor has.
        let rows: Vec<serde_json::Value> = (0..400)
            .map(|i| serde_json::json!({"id": i, "name": format!("row {i} [x], {{y}} \"{}\"", i % 7), "roles": ["a", "b"], "e": [], "o": {}}))
            .collect();
        for body in [
            serde_json::to_vec(&rows).unwrap(),
            serde_json::to_vec_pretty(&rows).unwrap(),
        ] {
            assert!(body.len() >= WIDE_FROM);
            assert_eq!(
                count(&body),
                Counted {
                    values: 400 + 400 * 5 + 400 * 2,
                    objects: 400 * 2,
                }
            );
            assert_eq!(count(&body), count_by_bytes(&body));
        }
    }

    #[test]
    fn the_bound_names_itself() {
        assert!(Exceeded::Bytes.describe().contains("32 MiB"));
        assert!(Exceeded::Values.describe().contains("1000000 JSON values"));
        assert!(Exceeded::Objects.describe().contains("200000 JSON objects"));
    }
}
