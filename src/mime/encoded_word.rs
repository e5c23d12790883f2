//! RFC 2047 encoded words (`=?charset?B?...?=`, `=?charset?Q?...?=`) in header text.
//!
//! [`decode`] finds encoded words anywhere in the text (also glued to other text, as Python
//! does), drops whitespace between adjacent encoded words (§6.2), and joins the raw bytes of
//! adjacent words in the same charset before converting them, so a multibyte character split
//! across two words still decodes. A word with an unknown charset, a bad encoding letter, or
//! base64 text with characters outside the alphabet is left exactly as written. The RFC 2231
//! language suffix (`=?utf-8*en?Q?...?=`) is accepted and ignored.
//!
//! [`encode`] returns plain printable ASCII unchanged and otherwise produces UTF-8 words
//! (Q or B, whichever is shorter) of at most 75 characters, folded with CRLF SP, never
//! splitting a UTF-8 character across two words.

use super::{b64, charset};

/// Longest encoded word (RFC 2047 §2).
pub const MAX_WORD: usize = 75;
const PREFIX_Q: &str = "=?UTF-8?Q?";
const PREFIX_B: &str = "=?UTF-8?B?";
/// Room for the encoded text in one word: 75 minus `=?UTF-8?X?` and `?=`.
const PAYLOAD: usize = MAX_WORD - 12;

/// One piece of header text: literal text, or a decodable encoded word.
enum Piece<'a> {
    Literal(&'a str),
    Word { charset: &'a str, bytes: Vec<u8> },
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes Q text (`_` is a space; a bad `=` escape is kept literally).
fn decode_q(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                if let (Some(h), Some(l)) = (
                    text.get(i + 1).copied().and_then(hex_value),
                    text.get(i + 2).copied().and_then(hex_value),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'=');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// Parses an encoded word at the start of `s` (which starts with `=?`). Returns the charset
/// (language suffix removed), the decoded bytes and the length of the word in `s`.
fn parse_word(s: &str) -> Option<(&str, Vec<u8>, usize)> {
    let rest = s.strip_prefix("=?")?;
    let q1 = rest.find('?')?;
    let charset_full = rest.get(..q1)?;
    if charset_full.is_empty()
        || charset_full
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || !b.is_ascii())
    {
        return None;
    }
    let charset = charset_full.split('*').next().unwrap_or(charset_full);
    let after = rest.get(q1 + 1..)?;
    let mut chars = after.chars();
    let enc = chars.next()?;
    if chars.next()? != '?' {
        return None;
    }
    let text_start = after.get(2..)?;
    let end = text_start.find('?')?;
    let text = text_start.get(..end)?;
    if !text_start.get(end..)?.starts_with("?=") {
        return None;
    }
    if text
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return None;
    }
    let bytes = match enc {
        'Q' | 'q' => decode_q(text.as_bytes()),
        'B' | 'b' => {
            if !b64::is_clean(text.as_bytes()) {
                return None;
            }
            b64::decode_lenient(text.as_bytes())
        }
        _ => return None,
    };
    if !charset::is_supported(charset) {
        return None;
    }
    // "=?" + charset + "?" + enc + "?" + text + "?="
    let len = 2 + charset_full.len() + 1 + enc.len_utf8() + 1 + text.len() + 2;
    Some((charset, bytes, len))
}

fn split_pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut pos = 0;
    while let Some(found) = text.get(pos..).and_then(|t| t.find("=?")) {
        let at = pos + found;
        match text.get(at..).and_then(parse_word) {
            Some((charset, bytes, len)) => {
                if let Some(lit) = text.get(literal_start..at).filter(|l| !l.is_empty()) {
                    pieces.push(Piece::Literal(lit));
                }
                pieces.push(Piece::Word { charset, bytes });
                pos = at + len;
                literal_start = pos;
            }
            None => pos = at + 1,
        }
    }
    if let Some(lit) = text.get(literal_start..).filter(|l| !l.is_empty()) {
        pieces.push(Piece::Literal(lit));
    }
    pieces
}

/// Decodes the RFC 2047 encoded words in `text` (see the module docs). Never fails.
pub fn decode(text: &str) -> String {
    if !super::has_word_start(text.as_bytes()) {
        return text.to_owned();
    }
    let pieces = split_pieces(text);
    let mut out = String::with_capacity(text.len());
    // Pending bytes of a run of adjacent words in one charset.
    let mut pending: Option<(&str, Vec<u8>)> = None;
    let flush = |pending: &mut Option<(&str, Vec<u8>)>, out: &mut String| {
        if let Some((cs, bytes)) = pending.take() {
            out.push_str(&charset::to_utf8(&bytes, cs).0);
        }
    };
    let mut i = 0;
    while let Some(piece) = pieces.get(i) {
        match piece {
            Piece::Word { charset, bytes } => match &mut pending {
                Some((cs, acc)) if cs.eq_ignore_ascii_case(charset) => acc.extend_from_slice(bytes),
                _ => {
                    flush(&mut pending, &mut out);
                    pending = Some((charset, bytes.clone()));
                }
            },
            Piece::Literal(lit) => {
                let prev = i.checked_sub(1).and_then(|j| pieces.get(j));
                let between_words = matches!(pieces.get(i + 1), Some(Piece::Word { .. }))
                    && matches!(prev, Some(Piece::Word { .. }))
                    && lit
                        .bytes()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
                if !between_words {
                    flush(&mut pending, &mut out);
                    out.push_str(lit);
                }
            }
        }
        i += 1;
    }
    flush(&mut pending, &mut out);
    out
}

/// Whether `text` can go into a header as it is: printable ASCII (and tabs) only, and nothing
/// a decoder would take for an encoded word.
pub fn is_plain(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        && !text.contains("=?")
}

/// Whether a character may stay literal in Q text (RFC 2047 §5 rule 3, the strictest set,
/// so the word is valid in phrases, comments and unstructured text alike).
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(c: char) -> usize {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| if b == b' ' || q_literal(b) { 1 } else { 3 })
        .sum()
}

fn push_q(word: &mut String, c: char) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        if b == b' ' {
            word.push('_');
        } else if q_literal(b) {
            word.push(char::from(b));
        } else {
            word.push('=');
            word.push(char::from(HEX[usize::from(b >> 4)]));
            word.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Encodes `text` as a list of UTF-8 encoded words, each at most 75 characters, never
/// splitting a character. Q is used unless it would be at least 5 characters longer than B
/// for the whole text (Python's bias towards the readable form).
/// The empty text gives no words.
pub fn encode_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    encode_words_each(text, |w| words.push(w.to_owned()));
    words
}

/// [`encode_words`], giving each word to `f` from one buffer (the encoder writes them
/// straight into the message).
pub(crate) fn encode_words_each(text: &str, mut f: impl FnMut(&str)) {
    let q_total: usize = text.chars().map(q_len).sum();
    let b_total = text.len().div_ceil(3) * 4;
    // Each word is written in place, prefix first (no `format!`: it was most of the cost).
    let mut word = String::with_capacity(PREFIX_Q.len() + PAYLOAD + 2);
    if q_total < b_total + 5 {
        word.push_str(PREFIX_Q);
        for c in text.chars() {
            if word.len() > PREFIX_Q.len() && word.len() - PREFIX_Q.len() + q_len(c) > PAYLOAD {
                word.push_str("?=");
                f(&word);
                word.truncate(PREFIX_Q.len());
            }
            push_q(&mut word, c);
        }
        if word.len() > PREFIX_Q.len() {
            word.push_str("?=");
            f(&word);
        }
    } else {
        // 63 characters of payload hold 15 groups: 45 bytes.
        let max_bytes = PAYLOAD / 4 * 3;
        let mut emit = |chunk: &str| {
            word.clear();
            word.push_str(PREFIX_B);
            b64::encode_into(chunk.as_bytes(), &mut word);
            word.push_str("?=");
            f(&word);
        };
        // The chunk is `text[start..end]`, whole characters.
        let (mut start, mut end) = (0, 0);
        for (i, c) in text.char_indices() {
            if end > start && end - start + c.len_utf8() > max_bytes {
                emit(text.get(start..end).unwrap_or_default());
                start = i;
            }
            end = i + c.len_utf8();
        }
        if end > start {
            emit(text.get(start..end).unwrap_or_default());
        }
    }
}

/// Encodes header text: returned unchanged when [`is_plain`], otherwise as encoded words
/// (see [`encode_words`]) separated by CRLF SP folding points.
pub fn encode(text: &str) -> String {
    if is_plain(text) {
        return text.to_owned();
    }
    encode_words(text).join("\r\n ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2047 §8, the table of encoded-word pairs.
    #[test]
    fn rfc2047_section8_examples() {
        let cases = [
            ("(=?ISO-8859-1?Q?a?=)", "(a)"),
            ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input), want, "{input}");
        }
    }

    #[test]
    fn rfc2047_section8_headers() {
        assert_eq!(
            decode("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"),
            "Keith Moore <moore@cs.utk.edu>"
        );
        assert_eq!(
            decode("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
            "Keld Jørn Simonsen <keld@dkuug.dk>"
        );
        assert_eq!(
            decode("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            "André Pirard <PIRARD@vm1.ulg.ac.be>"
        );
        assert_eq!(
            decode(
                "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n \
                 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="
            ),
            "If you can read this you understand the example."
        );
        assert_eq!(
            decode(
                "Nathaniel Borenstein <nsb@thumper.bellcore.com> (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"
            ),
            "Nathaniel Borenstein <nsb@thumper.bellcore.com> (םולש ןב ילטפנ)"
        );
    }

    #[test]
    fn split_multibyte_and_mixed() {
        assert_eq!(decode("=?utf-8?q?=E2=82?= =?UTF-8?q?=AC?="), "€");
        assert_eq!(decode("=?utf-8?B?4oI=?==?utf-8?B?rA==?="), "€");
        assert_eq!(decode("a =?utf-8?q?=C3=A9?= b"), "a é b");
        assert_eq!(decode("x=?utf-8?q?=C3=A9?=y"), "xéy");
        assert_eq!(decode("=?utf-8*en?q?hi?="), "hi");
        assert_eq!(decode("=?utf-8?q??="), "");
    }

    #[test]
    fn malformed_and_unknown_left_alone() {
        for s in [
            "=?x-unknown?q?abc?=",
            "=?utf-8?x?abc?=",
            "=?utf-8?b?a!b?=",
            "=?utf-8?q?a b?=",
            "=?utf-8?q?abc",
            "=??q?abc?=",
            "=?",
            "=?utf-8?",
            "=?utf-8?q",
            "=?é?q?a?=",
            "just text",
        ] {
            assert_eq!(decode(s), s, "{s}");
        }
        assert_eq!(decode("=?utf-8?q?a=?= ok"), "a= ok");
        assert_eq!(decode("=?x?q?a?= =?utf-8?q?b?="), "=?x?q?a?= b");
    }

    #[test]
    fn encode_plain_and_words() {
        assert_eq!(encode("Hello world"), "Hello world");
        assert_eq!(encode("café"), "=?UTF-8?Q?caf=C3=A9?=");
        assert_eq!(decode(&encode("a =?x?q?y?= b")), "a =?x?q?y?= b");
        assert_eq!(encode(""), "");
        let long = "日本語のテキスト".repeat(20);
        let enc = encode(&long);
        for w in enc.split("\r\n ") {
            assert!(w.len() <= MAX_WORD, "{w}");
            assert!(w.starts_with("=?UTF-8?B?"));
        }
        assert_eq!(decode(&enc), long);
        let mixed = "Grüße aus Köln, schöne Größe! ".repeat(8);
        let enc = encode(&mixed);
        for w in enc.split("\r\n ") {
            assert!(w.len() <= MAX_WORD, "{w}");
        }
        assert_eq!(decode(&enc), mixed);
    }
}
