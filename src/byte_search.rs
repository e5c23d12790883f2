//! Finding a byte (or CR or LF) in a buffer 32 bytes at a time: the command reader's line
//! search, DATA's line breaks and the reply writer's lines. A word-at-a-time "has a zero byte"
//! test takes about 2 instructions per byte where a byte loop takes 4 to 5, and under the
//! session fuzz target's compare tracing a byte loop is a traced call per byte. Also runs of
//! bytes of a class (command words, address atoms), by table.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `x` that is zero is set (and maybe some above the first: a
/// borrow; never below it, so the lowest set bit is exact).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Index of the first `byte` in `hay`.
pub(crate) fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    let pattern = u64::from_ne_bytes([byte; 8]);
    find_by(hay, !byte, |w| zero_bytes(w ^ pattern))
}

/// Index of the first CR or LF in `hay`.
pub(crate) fn find_line_break(hay: &[u8]) -> Option<usize> {
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    find_by(hay, 0, |w| zero_bytes(w ^ CRS) | zero_bytes(w ^ LFS))
}

/// Index of the first byte that `mask` marks (sets its high bit in the little-endian word of
/// eight bytes); `pad` must not be marked. 32 bytes (four words) per test, the last block
/// padded: a byte loop costs a compare per byte, and under the fuzzer's compare tracing a
/// call per byte. A short `hay` (the session reads lines in small pieces) is one padded block:
/// about two compares in all.
fn find_by(hay: &[u8], pad: u8, mask: impl Fn(u64) -> u64) -> Option<usize> {
    let mut blocks = hay.chunks_exact(32);
    let mut start = 0usize;
    for b in &mut blocks {
        let b: &[u8; 32] = b.try_into().ok()?;
        let m = masks(b, &mask);
        if m[0] | m[1] | m[2] | m[3] != 0 {
            return Some(start.wrapping_add(gather(m).trailing_zeros() as usize));
        }
        start = start.wrapping_add(32);
    }
    let rest = blocks.remainder();
    let mut last = [pad; 32];
    last.get_mut(..rest.len())?.copy_from_slice(rest);
    let m = masks(&last, &mask);
    // Where the last block starts, at most `hay.len()`: wrapping arithmetic cannot wrap, and
    // saves the overflow tests (traced compares).
    let start = hay.len().wrapping_sub(rest.len());
    (m[0] | m[1] | m[2] | m[3] != 0)
        .then(|| start.wrapping_add(gather(m).trailing_zeros() as usize))
}

/// The marks of the four words of a 32-byte block (high bits, see [`zero_bytes`]).
#[inline(always)]
fn masks(b: &[u8; 32], mask: &impl Fn(u64) -> u64) -> [u64; 4] {
    [word(b, 0), word(b, 8), word(b, 16), word(b, 24)].map(|w| mask(w) & HIGHS)
}

/// One bit per byte of a block (bit i for byte i) from its words' marks; the lowest set bit
/// is exact (a false mark is only ever above a true one in its word). Only the block that has
/// a mark is gathered: a block without one costs one test of the words' union, in release
/// code and under the fuzzer's compare tracing alike.
#[inline(always)]
fn gather(m: [u64; 4]) -> u32 {
    // The high bit of each byte gathered into the top byte: bit 7 of byte i lands on bit
    // 56 + i (the eight partial products never overlap).
    let g = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    g(m[0]) | g(m[1]) << 8 | g(m[2]) << 16 | g(m[3]) << 24
}

/// The eight bytes of `b` from `i` (a constant once inlined: no bounds checks left).
#[inline(always)]
fn word(b: &[u8; 32], i: usize) -> u64 {
    let w = |k: usize| b.get(i + k).copied().unwrap_or(0);
    u64::from_le_bytes([w(0), w(1), w(2), w(3), w(4), w(5), w(6), w(7)])
}

/// A byte class as a table, for [`run_len`]: a lookup is not a compare, and each compare is a
/// traced call under the session fuzz target. `inverted` makes it every byte but `members`.
pub(crate) const fn class(members: &[u8], inverted: bool) -> [bool; 256] {
    let mut t = [inverted; 256];
    let mut i = 0;
    while i < members.len() {
        t[members[i] as usize] = !inverted;
        i += 1;
    }
    t
}

/// How many bytes at the start of `s` are in `class`. A slice iterator's loop tests
/// pointers, which the fuzzer does not trace; the count comes from the length left, once
/// (`Iter::as_slice` per byte would test its pointer each time, under debug assertions).
pub(crate) fn run_len(s: &[u8], class: &[bool; 256]) -> usize {
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if !class[usize::from(b)] {
            // `b` and the bytes after it are not in the run.
            return s.len().wrapping_sub(it.len()).wrapping_sub(1);
        }
    }
    s.len()
}

/// How many bytes at the end of `s` are in `class` (see [`run_len`]).
pub(crate) fn run_len_back(s: &[u8], class: &[bool; 256]) -> usize {
    let mut it = s.iter();
    while let Some(&b) = it.next_back() {
        if !class[usize::from(b)] {
            return s.len().wrapping_sub(it.len()).wrapping_sub(1);
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_count_as_take_while_does() {
        const WS: [bool; 256] = class(b" \t", false);
        const NOT_WS: [bool; 256] = class(b" \t", true);
        let alphabet = [b' ', b'\t', b'a', 0xc3];
        for len in 0..6u32 {
            for mut code in 0..4usize.pow(len) {
                let mut s = Vec::new();
                for _ in 0..len {
                    s.push(alphabet[code % 4]);
                    code /= 4;
                }
                for t in [&WS, &NOT_WS] {
                    let front = s.iter().take_while(|&&b| t[usize::from(b)]).count();
                    let back = s.iter().rev().take_while(|&&b| t[usize::from(b)]).count();
                    assert_eq!(run_len(&s, t), front, "{s:?}");
                    assert_eq!(run_len_back(&s, t), back, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn find_byte_finds_the_first() {
        for len in 0..80 {
            for at in 0..len {
                let mut hay = vec![b'x'; len];
                hay[at] = b'\n';
                if at + 3 < len {
                    hay[at + 3] = b'\n';
                }
                assert_eq!(find_byte(&hay, b'\n'), Some(at));
            }
            assert_eq!(find_byte(&vec![0xff; len], b'\n'), None);
        }
    }

    #[test]
    fn find_line_break_finds_the_first_cr_or_lf_at_every_offset() {
        // Every position of a CR or LF in a word and across words and blocks, after bytes that
        // look like them (0x0c, 0x0e, 0x8a, 0x8d) and next to 0x00 and 0xff.
        for len in 0..70 {
            for at in 0..=len {
                for brk in [b'\r', b'\n'] {
                    for fill in [b'a', 0x0c, 0x0e, 0x8a, 0x8d, 0x00, 0xff] {
                        let mut v = vec![fill; len];
                        if at < len {
                            v[at] = brk;
                            // A later break never hides the first.
                            if at + 3 < len {
                                v[at + 3] = b'\n';
                            }
                        }
                        let want = v.iter().position(|&b| b == b'\r' || b == b'\n');
                        assert_eq!(
                            find_line_break(&v),
                            want,
                            "len {len} at {at} fill {fill:#x}"
                        );
                        let lf = v.iter().position(|&b| b == b'\n');
                        assert_eq!(
                            find_byte(&v, b'\n'),
                            lf,
                            "LF: len {len} at {at} fill {fill:#x}"
                        );
                    }
                }
            }
        }
    }
}
