//! Base64 helpers shared by the body and encoded-word codecs: a lenient decoder (as gen_smtp
//! and Python's `email` are lenient) and a line-wrapping encoder.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Sextet values by byte; 0xff marks bytes outside the alphabet.
const SEXTETS: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn sextet(b: u8) -> Option<u32> {
    match SEXTETS[usize::from(b)] {
        0xff => None,
        v => Some(u32::from(v)),
    }
}

/// Decodes base64, skipping every byte outside the alphabet (line breaks, spaces, junk),
/// tolerating missing padding, and stopping at the first `=` that ends a group (what
/// Python's `email` does, so text after a padded group is ignored). A final lone sextet,
/// which cannot carry a whole byte, is dropped.
pub(crate) fn decode_lenient(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut n = 0u8;
    for &b in input {
        if let Some(v) = sextet(b) {
            acc = acc << 6 | v;
            n += 1;
            if n == 4 {
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                acc = 0;
                n = 0;
            }
        } else if b == b'=' && n >= 2 {
            break;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out
}

/// Whether every byte is in the base64 alphabet or is `=` (used to tell a malformed
/// encoded word from a valid one).
pub(crate) fn is_clean(input: &[u8]) -> bool {
    input.iter().all(|&b| b == b'=' || sextet(b).is_some())
}

/// Encodes without line breaks.
#[cfg(test)]
pub(crate) fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// [`encode`], appended to `out`.
pub(crate) fn encode_into(data: &[u8], out: &mut String) {
    STANDARD.encode_string(data, out);
}

/// Encodes in lines of 76 characters separated by CRLF (no final line break).
#[cfg(test)]
pub(crate) fn encode_lines(data: &[u8]) -> String {
    let mut out = Vec::new();
    encode_lines_into(data, &mut out);
    // Only base64 symbols, `=` and CRLF were written.
    String::from_utf8(out).unwrap_or_default()
}

/// The length of [`encode_lines_into`]'s output for `n` bytes: groups of 4 per 3 bytes, a
/// CRLF between lines of 76 (57 bytes each).
pub(crate) fn encoded_lines_len(n: usize) -> usize {
    n.div_ceil(3) * 4 + n.div_ceil(57).saturating_sub(1) * 2
}

/// Appends `data` in base64 lines of 76 characters separated by CRLF (no final line break).
/// encodify's SIMD engine (AVX2/SSSE3/NEON when the CPU has them) writes at memory speed,
/// which matters for attachments: it is most of the cost of building a message with one.
pub(crate) fn encode_lines_into(data: &[u8], out: &mut Vec<u8>) {
    let engine = encodify::base64::MIME;
    out.reserve(engine.encoded_len(data.len()));
    let start = out.len();
    engine.encode_append(data, out);
    // The MIME engine ends every line, the last one too; the caller writes the final break.
    if out.len() >= start + 2 && out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_decoding() {
        assert_eq!(decode_lenient(b"aGVsbG8gd29ybGQ="), b"hello world");
        assert_eq!(decode_lenient(b"aGVsbG8gd29ybGQ"), b"hello world");
        assert_eq!(
            decode_lenient(b"aGVs!!bG8g\r\nd2*9ybGQ=\r\n"),
            b"hello world"
        );
        assert_eq!(decode_lenient(b"aGk=aGk="), b"hi");
        assert_eq!(decode_lenient(b"aGVsbG8=junk"), b"hello");
        assert_eq!(decode_lenient(b"a"), b"");
        assert_eq!(decode_lenient(b""), b"");
        assert_eq!(decode_lenient(b"=aGk"), b"hi");
    }

    #[test]
    fn encoding_round_trips() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let text = encode_lines(&data);
        assert!(text.split("\r\n").all(|l| l.len() <= 76));
        assert_eq!(decode_lenient(text.as_bytes()), data);
        assert_eq!(encode(b"hi"), "aGk=");
        assert_eq!(encode_lines(b""), "");
        assert_eq!(encode_lines(&[0u8; 57]), "A".repeat(76));
        let two = encode_lines(&[0u8; 58]);
        assert_eq!(two, format!("{}\r\nAA==", "A".repeat(76)));
        for n in [0, 1, 2, 3, 56, 57, 58, 113, 114, 115, 1000, 102_400] {
            assert_eq!(
                encode_lines(&vec![7u8; n]).len(),
                encoded_lines_len(n),
                "{n}"
            );
        }
    }
}
