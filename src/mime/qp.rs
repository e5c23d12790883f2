//! Quoted-printable (RFC 2045 §6.7) for bodies.
//!
//! [`decode`] is lenient, like gen_smtp and Python: an `=` not followed by two hex digits
//! (either case) is kept literally, soft line breaks may end in CRLF or a bare LF, and
//! whitespace at the end of a line (or of the input) is removed as rule 3 requires.
//!
//! [`encode`] writes lines of at most 76 characters with soft breaks, keeps CRLF as hard
//! line breaks, encodes `=`, control bytes, bare CR and bare LF, 8-bit bytes, and spaces or
//! tabs that would end a line; a `.` or a `From ` at the start of an output line is encoded
//! too (`=2E`, `=46rom `) so that the text survives naive dot-stuffing and mbox transports.

use super::scan::Specials;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one line's content (no line break, trailing whitespace already removed).
/// Returns true when the line ended with a soft break.
fn decode_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    // The runs between `=` signs are copied whole.
    let mut rest = line;
    while let Some(eq) = rest.iter().position(|&b| b == b'=') {
        out.extend_from_slice(rest.get(..eq).unwrap_or_default());
        let after = rest.get(eq + 1..).unwrap_or_default();
        if after.is_empty() {
            return true;
        }
        let escaped = match (after.first(), after.get(1)) {
            (Some(&h), Some(&l)) => hex_value(h).zip(hex_value(l)),
            _ => None,
        };
        match escaped {
            Some((h, l)) => {
                out.push(h << 4 | l);
                rest = after.get(2..).unwrap_or_default();
            }
            None => {
                out.push(b'=');
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
    false
}

/// Decodes quoted-printable data; never fails (see the module docs for the leniency).
/// Hard line breaks are kept as they were written (CRLF or LF).
pub fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let (line, eol, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let (line, eol): (&[u8], &[u8]) = if lf > 0 && rest.get(lf - 1) == Some(&b'\r') {
                    (rest.get(..lf - 1).unwrap_or_default(), b"\r\n")
                } else {
                    (rest.get(..lf).unwrap_or_default(), b"\n")
                };
                (line, eol, rest.get(lf + 1..).unwrap_or_default())
            }
            None => (rest, &b""[..], &b""[..]),
        };
        let trimmed_len = line
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |p| p + 1);
        let line = line.get(..trimmed_len).unwrap_or_default();
        let soft = decode_line(line, &mut out);
        if !soft {
            out.extend_from_slice(eol);
        }
        rest = next;
    }
    out
}

/// Maximum characters on an encoded line, soft-break `=` included (RFC 2045).
const MAX_LINE: usize = 76;

/// Encodes `input` as quoted-printable with CRLF line breaks (see the module docs).
pub fn encode(input: &[u8]) -> String {
    let mut out = Vec::new();
    encode_into(input, &mut out);
    // Only printable ASCII and CRLF were written.
    String::from_utf8(out).unwrap_or_default()
}

/// The length (line break included) of a line at the start of `rest` that goes out exactly
/// as it is: at most `MAX_LINE - 1` literal characters, no space or tab before its end, no
/// `.` or `From ` at its start. `None` when the line needs the byte-by-byte encoder.
/// `special` is where the first special byte of `rest` is (`rest.len()` when none).
fn verbatim_line(rest: &[u8], special: usize) -> Option<usize> {
    let window = rest.get(..rest.len().min(MAX_LINE)).unwrap_or(rest);
    let p = special.min(window.len());
    let (line, taken) = if p < window.len() {
        if rest.get(p..p + 2) != Some(b"\r\n") {
            return None;
        }
        (window.get(..p)?, p + 2)
    } else if rest.len() < MAX_LINE {
        (rest, rest.len())
    } else {
        return None;
    };
    let bad_start = line.first() == Some(&b'.') || line.starts_with(b"From ");
    let bad_end = line.last() == Some(&b' ');
    (!bad_start && !bad_end).then_some(taken)
}

/// Appends the quoted-printable encoding of `input` to `out` (see [`encode`]).
pub(crate) fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    encode_listed(input, out, None);
}

/// [`encode_into`], reading where the special bytes are from `specials` (from
/// [`scan_text_keeping`](super::scan::scan_text_keeping) over `input`) where it has them.
pub(crate) fn encode_listed(input: &[u8], out: &mut Vec<u8>, specials: Option<&Specials>) {
    // The next listed special byte to look at.
    let mut k = 0;
    let mut first_special = |i: usize| match specials.filter(|s| s.from <= i) {
        Some(s) => {
            while s.at.get(k).is_some_and(|&p| p < i) {
                k += 1;
            }
            s.at.get(k).map_or(input.len(), |&p| p) - i
        }
        // Within the line's window only, as `verbatim_line` reads no further.
        None => {
            let window = input.get(..input.len().min(i + MAX_LINE)).unwrap_or(input);
            super::scan::next_special(window, i) - i
        }
    };
    out.reserve(input.len() + input.len() / 8 + 8);
    let mut line_len = 0usize;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        // Most text lines are short and plain: copy them whole.
        if line_len == 0 {
            let special = first_special(i);
            if let Some(n) = input.get(i..).and_then(|rest| verbatim_line(rest, special)) {
                out.extend_from_slice(input.get(i..i + n).unwrap_or_default());
                i += n;
                continue;
            }
        }
        if b == b'\r' && input.get(i + 1) == Some(&b'\n') {
            out.extend_from_slice(b"\r\n");
            line_len = 0;
            i += 2;
            continue;
        }
        let next = input.get(i + 1..).unwrap_or_default();
        let at_eol = next.is_empty() || next.starts_with(b"\r\n");
        let literal = match b {
            b'=' => false,
            b' ' | b'\t' => !at_eol,
            b'.' => line_len != 0,
            b'F' => line_len != 0 || !next.starts_with(b"rom "),
            33..=126 => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        if line_len + width > MAX_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            line_len = 0;
            // The byte now starts a line: re-evaluate the start-of-line rules.
            continue;
        }
        if literal {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        }
        line_len += width;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2045_rules() {
        // Rule 2: literal representation; rule 1: =XX.
        assert_eq!(decode(b"a=3Db=3db"), b"a=b=b");
        // Rule 3: trailing whitespace is removed.
        assert_eq!(decode(b"abc  \t\r\ndef \r\n"), b"abc\r\ndef\r\n");
        // Rule 5: soft line breaks, CRLF or LF, and with whitespace after the '='.
        assert_eq!(decode(b"ab=\r\ncd=\nef= \t\r\ngh"), b"abcdefgh");
        // Lenient: a bad escape is kept.
        assert_eq!(decode(b"x=ZZ y=4 z="), b"x=ZZ y=4 z");
        assert_eq!(decode(b"="), b"");
        assert_eq!(decode(b"=\r\n"), b"");
        assert_eq!(decode(b"a\nb\n"), b"a\nb\n");
        assert_eq!(decode(b"caf=C3=A9"), "café".as_bytes());
    }

    #[test]
    fn encode_basics() {
        assert_eq!(encode(b"a=b"), "a=3Db");
        assert_eq!(encode(b"end \r\nx\t"), "end=20\r\nx=09");
        assert_eq!(encode(b"a b"), "a b");
        assert_eq!(encode(b".dot\r\n.x"), "=2Edot\r\n=2Ex");
        assert_eq!(encode(b"From me\r\nFrom"), "=46rom me\r\nFrom");
        assert_eq!(encode("é".as_bytes()), "=C3=A9");
        assert_eq!(encode(b"a\nb\rc"), "a=0Ab=0Dc");
        assert_eq!(encode(b"\0"), "=00");
    }

    #[test]
    fn long_lines_are_soft_broken() {
        let input = "x".repeat(200);
        let out = encode(input.as_bytes());
        for line in out.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
        }
        assert_eq!(decode(out.as_bytes()), input.as_bytes());
        let input = "é".repeat(100) + "." + &".".repeat(100);
        let out = encode(input.as_bytes());
        for line in out.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            assert!(!line.starts_with('.'));
        }
        assert_eq!(decode(out.as_bytes()), input.as_bytes());
    }

    #[test]
    fn verbatim_lines_match_the_byte_encoder() {
        // The whole-line copy must give what the byte-by-byte path gives.
        let x75 = "x".repeat(75);
        let x76 = "x".repeat(76);
        assert_eq!(
            encode(format!("{x75}\r\n").as_bytes()),
            format!("{x75}\r\n")
        );
        assert_eq!(encode(x75.as_bytes()), x75);
        assert_eq!(encode(x76.as_bytes()), format!("{x75}=\r\nx"));
        assert_eq!(
            encode(format!("{x76}\r\nab").as_bytes()),
            format!("{x75}=\r\nx\r\nab")
        );
        assert_eq!(encode(b"ab \r\n"), "ab=20\r\n");
        assert_eq!(encode(b"ab "), "ab=20");
        assert_eq!(
            encode(b"\r\n\r\n.a\r\nFrom x\r\nFrom"),
            "\r\n\r\n=2Ea\r\n=46rom x\r\nFrom"
        );
    }

    #[test]
    fn round_trip_all_bytes() {
        let mut data: Vec<u8> = (0..=255u8).collect();
        data.extend_from_slice(b" \r\n \t\r\n\r\n. \r\n");
        data.extend((0..=255u8).rev());
        data.push(b' ');
        assert_eq!(decode(encode(&data).as_bytes()), data);
    }
}
