//! Text scans for the encoder: which transfer encoding a body needs, and whether raw bytes
//! are line-safe. Word-at-a-time byte search, no `unsafe`.

use super::{TransferEncoding, b64};

/// Longest line a text part may have and still go out as 7bit.
const MAX_7BIT_LINE: usize = 78;

/// What one pass over a text body finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextScan {
    /// A CR not followed by LF, or an LF without a CR before it.
    pub(crate) bare_eol: bool,
    /// The transfer encoding [`encode`](super::encode()) gives the text as it is.
    pub(crate) encoding: TransferEncoding,
    /// A line starts with `-` (a 7bit body without one cannot hold a boundary delimiter).
    pub(crate) dash_line: bool,
    /// About the length of the body in `encoding` (exact for 7bit and base64), to size the
    /// output before writing it.
    pub(crate) encoded_len: usize,
}

/// Whether a byte is one a scan must look at: a control byte, DEL, 8-bit, or `=`.
fn is_special(b: u8) -> bool {
    b.wrapping_sub(b' ') > b'~' - b' ' || b == b'='
}

/// Whether a block holds a special byte. Written as a plain fold over a fixed-size array so
/// that the compiler turns it into vector compares (SSE2 on x86-64), without `unsafe`.
fn block_has_special(block: &[u8; 32]) -> bool {
    block.iter().fold(false, |any, &b| any | is_special(b))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` (high bit of each lane) that are control bytes, 8-bit, DEL or `=`.
/// Lanes above the lowest flagged one may be flagged wrongly (a borrow), the lowest one is
/// exact: the usual "has a byte less than n" bit tricks.
fn special_mask(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let del = w ^ (ONES * 0x7f);
    let is_del = del.wrapping_sub(ONES) & !del;
    let eq = w ^ (ONES * u64::from(b'='));
    let is_eq = eq.wrapping_sub(ONES) & !eq;
    (below_space | is_del | is_eq | w) & HIGHS
}

/// The index of the first byte at or after `i` that is not printable ASCII (a control byte,
/// DEL, 8-bit) or is `=`; `data.len()` when there is none. Thirty-two bytes a round, then
/// eight at a time inside the block that has one: most text has one such byte a line (its
/// CR).
pub(crate) fn next_special(data: &[u8], mut i: usize) -> usize {
    while let Some(block) = data
        .get(i..i + 32)
        .and_then(|c| <&[u8; 32]>::try_from(c).ok())
    {
        if block_has_special(block) {
            break;
        }
        i += 32;
    }
    while let Some(chunk) = data.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        let mask = special_mask(u64::from_le_bytes(chunk));
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = data.get(i) {
        if is_special(b) {
            return i;
        }
        i += 1;
    }
    data.len()
}

/// The positions of the special bytes ([`next_special`]) of a text from `from` on, every
/// one of them (both bytes of a line break too), as [`scan_text_keeping`] found them: the
/// quoted-printable encoder then needs no second scan of the text.
#[derive(Debug)]
pub(crate) struct Specials {
    /// Where the list starts: `usize::MAX` until the scan knows the text needs encoding
    /// (7bit text keeps nothing).
    pub(crate) from: usize,
    pub(crate) at: Vec<usize>,
}

impl Specials {
    pub(crate) fn new() -> Self {
        Specials {
            from: usize::MAX,
            at: Vec::new(),
        }
    }
}

/// One pass over text: bare line endings, and the transfer encoding it needs (text with only
/// CRLF line breaks, printable ASCII or tabs, and lines of at most 78 octets is 7bit; else
/// quoted-printable or base64, whichever is shorter).
pub(crate) fn scan_text(data: &[u8]) -> TextScan {
    scan(data, None)
}

/// [`scan_text`], keeping the positions of the special bytes once the text needs encoding.
pub(crate) fn scan_text_keeping(data: &[u8], keep: &mut Specials) -> TextScan {
    scan(data, Some(keep))
}

fn scan(data: &[u8], keep: Option<&mut Specials>) -> TextScan {
    let keeping = keep.is_some();
    // A text with many special bytes is better rescanned than listed.
    let most = data.len() / 8 + 64;
    // Where the list starts (`usize::MAX`: not yet; past the end: given up), and the list.
    let mut from = usize::MAX;
    let mut at: Vec<usize> = Vec::new();
    let mut escapes = 0usize;
    let mut needs_encoding = false;
    let mut bare_eol = false;
    let mut line_start = 0usize;
    let mut dash_line = data.first() == Some(&b'-');
    let mut i = 0;
    loop {
        let p = next_special(data, i);
        let Some(&b) = data.get(p) else {
            needs_encoding |= data.len().saturating_sub(line_start) > MAX_7BIT_LINE;
            break;
        };
        if from <= i {
            at.push(p);
        }
        match b {
            b'\r' if data.get(p + 1) == Some(&b'\n') => {
                needs_encoding |= p - line_start > MAX_7BIT_LINE;
                dash_line |= data.get(p + 2) == Some(&b'-');
                line_start = p + 2;
                if from <= p {
                    at.push(p + 1);
                }
            }
            b'\t' => {}
            b'=' => escapes += 1,
            _ => {
                bare_eol |= b == b'\r' || b == b'\n';
                needs_encoding = true;
                escapes += 1;
            }
        }
        i = if line_start == p + 2 { p + 2 } else { p + 1 };
        if keeping && needs_encoding && from == usize::MAX {
            from = i;
            // About one special byte a line (its line break, two entries).
            at.reserve((data.len() - i) / 32 + 8);
        } else if at.len() > most {
            from = data.len() + 1;
            at = Vec::new();
        }
    }
    if let Some(k) = keep {
        k.from = from;
        k.at = at;
    }
    let (encoding, encoded_len) = if !needs_encoding {
        (TransferEncoding::SevenBit, data.len())
    } else {
        let qp_len = data.len() + 2 * escapes + data.len() / 75 * 3;
        let b64_len = data.len().div_ceil(3) * 4 * 78 / 76;
        if qp_len <= b64_len + 16 {
            // Soft breaks of lines that the estimate does not see (`.`, `From `, spaces
            // before a break): rare, and a little slack covers them.
            (TransferEncoding::QuotedPrintable, qp_len + qp_len / 32 + 16)
        } else {
            (TransferEncoding::Base64, b64::encoded_lines_len(data.len()))
        }
    };
    TextScan {
        bare_eol,
        encoding,
        dash_line,
        encoded_len,
    }
}

/// The transfer encoding [`encode`](super::encode()) gives text (already in CRLF form).
pub(crate) fn text_encoding(data: &[u8]) -> TransferEncoding {
    scan_text(data).encoding
}

/// Whether bytes can go out as they are: CRLF line breaks only, no NUL, lines of at most
/// 998 octets. Returns `Some(has_8bit)` when so.
pub(crate) fn line_safe(data: &[u8]) -> Option<bool> {
    let mut eight = false;
    let mut line = 0usize;
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        match b {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                line = 0;
                i += 2;
                continue;
            }
            b'\r' | b'\n' | 0 => return None,
            _ => {}
        }
        eight |= b >= 0x80;
        line += 1;
        if line > 998 {
            return None;
        }
        i += 1;
    }
    Some(eight)
}
