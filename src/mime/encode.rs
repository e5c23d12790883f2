//! The encoder: a [`Part`] tree to message bytes that are always SMTP-safe.

use super::{Body, ContentType, Part, TransferEncoding, b64, encoded_word, params, qp, to_crlf};

/// Preferred line length for headers (RFC 5322 §2.1.1).
const FOLD_AT: usize = 78;
/// Longest line a text part may have and still go out as 7bit.
const MAX_7BIT_LINE: usize = 78;
/// A word longer than this is written as encoded words so that no line passes 998 octets.
const MAX_PLAIN_WORD: usize = 900;
/// Longest run of whitespace kept in a header (longer runs are shortened).
const MAX_WS_RUN: usize = 200;
/// Longest header name, type, subtype or disposition written (longer ones are cut).
const MAX_NAME: usize = 127;

/// Headers the encoder writes itself from the [`Part`] fields.
const CONTENT_HEADERS: [&str; 3] = [
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
];

/// Headers holding addresses, whose non-ASCII display names become encoded words.
const ADDRESS_HEADERS: [&str; 11] = [
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "sender",
    "resent-from",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "resent-sender",
];

/// Encodes a part as a message: CRLF line endings only, no line over 998 octets (headers
/// folded at 78 columns where possible), no NUL, no bare CR or LF. Never panics.
///
/// - The top-level part gets `Date` (now, UTC), `Message-ID` (`<unique@hostname>`, the
///   hostname from `/proc/sys/kernel/hostname`, else `localhost`) and `MIME-Version: 1.0`
///   when it has none.
/// - `Content-Type`, `Content-Disposition` and `Content-Transfer-Encoding` are written from
///   the fields (headers of those names in [`Part::headers`] are skipped); text gets
///   `charset=utf-8`.
/// - Transfer encoding per leaf: text with only CRLF line breaks, printable ASCII and lines
///   of at most 78 octets is `7bit`; other text is quoted-printable or base64, whichever is
///   shorter; [`Body::Bytes`] is base64 (except the raw body of a multipart or message kept
///   as bytes by the decoder's depth limit, written as it is when it is line-safe).
///   Text line endings are converted to CRLF. The `encoding` field is not read.
/// - Header values that are not printable ASCII become RFC 2047 encoded words (UTF-8, Q or
///   B), word by word so the ASCII words stay readable; whitespace between two encoded words
///   is carried inside them. In address headers (`From`, `To`, `Cc`, `Bcc`, `Reply-To`,
///   `Sender`, `Resent-*`) only display names (the text before `<`, unquoted first) are
///   encoded; addresses are left as they are (non-ASCII ones stay raw UTF-8, RFC 6532).
///   Leading whitespace of a value is not kept; control characters are encoded.
/// - Non-ASCII or long parameter values use RFC 2231 ([`params::format`]).
/// - Multipart boundaries are random-looking (time, counter, hash); a boundary that occurs
///   in any encoded child is replaced by a fresh one. A boundary already in the
///   `content_type` is kept when it is valid and does not occur.
pub fn encode(part: &Part) -> Vec<u8> {
    let mut out = Vec::new();
    write_part(part, true, &mut out);
    out
}

/// The transfer encoding [`encode`] gives text (already in CRLF form).
pub(crate) fn text_encoding(data: &[u8]) -> TransferEncoding {
    let mut escapes = 0usize;
    let mut needs_encoding = false;
    let mut line = 0usize;
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        if b == b'\r' && data.get(i + 1) == Some(&b'\n') {
            line = 0;
            i += 2;
            continue;
        }
        line += 1;
        if line > MAX_7BIT_LINE {
            needs_encoding = true;
        }
        match b {
            b'\t' | b' '..=b'~' => {
                if b == b'=' {
                    escapes += 1;
                }
            }
            _ => {
                needs_encoding = true;
                escapes += 1;
            }
        }
        i += 1;
    }
    if !needs_encoding {
        return TransferEncoding::SevenBit;
    }
    let qp_len = data.len() + 2 * escapes + data.len() / 75 * 3;
    let b64_len = data.len().div_ceil(3) * 4 * 78 / 76;
    if qp_len <= b64_len + 16 {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Base64
    }
}

/// Whether bytes can go out as they are: CRLF line breaks only, no NUL, lines of at most
/// 998 octets. Returns `Some(has_8bit)` when so.
fn line_safe(data: &[u8]) -> Option<bool> {
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

/// The encoded body of a part, the content type to declare and the transfer encoding.
struct Encoded {
    content_type: ContentType,
    encoding: Option<TransferEncoding>,
    body: Vec<u8>,
}

fn encode_body(part: &Part) -> Encoded {
    let mut content_type = part.content_type.clone();
    match &part.body {
        Body::Text(text) => {
            if matches!(content_type.mime_type.as_str(), "multipart" | "message") {
                content_type = ContentType::new("text", "plain");
            }
            if content_type.mime_type.eq_ignore_ascii_case("text") {
                content_type.set_param("charset", "utf-8");
            }
            let text = to_crlf(text);
            let encoding = text_encoding(text.as_bytes());
            let body = match encoding {
                TransferEncoding::SevenBit => text.as_bytes().to_vec(),
                TransferEncoding::QuotedPrintable => qp::encode(text.as_bytes()).into_bytes(),
                _ => b64::encode_lines(text.as_bytes()).into_bytes(),
            };
            Encoded {
                content_type,
                encoding: Some(encoding),
                body,
            }
        }
        Body::Bytes(data) => {
            let container = matches!(content_type.mime_type.as_str(), "multipart" | "message");
            if let Some(eight) = line_safe(data).filter(|_| container) {
                let encoding = if eight {
                    TransferEncoding::EightBit
                } else {
                    TransferEncoding::SevenBit
                };
                return Encoded {
                    content_type,
                    encoding: Some(encoding),
                    body: data.clone(),
                };
            }
            if container {
                content_type = ContentType::new("application", "octet-stream");
            }
            Encoded {
                content_type,
                encoding: Some(TransferEncoding::Base64),
                body: b64::encode_lines(data).into_bytes(),
            }
        }
        Body::Message(inner) => {
            if content_type.mime_type != "message" {
                content_type = ContentType::new("message", "rfc822");
            }
            let mut body = Vec::new();
            write_part(inner, false, &mut body);
            let encoding = body
                .iter()
                .any(|&b| b >= 0x80)
                .then_some(TransferEncoding::EightBit);
            Encoded {
                content_type,
                encoding,
                body,
            }
        }
        Body::Multipart(parts) => {
            if content_type.mime_type != "multipart" {
                content_type = ContentType::new("multipart", "mixed");
            }
            let children: Vec<Vec<u8>> = parts
                .iter()
                .map(|p| {
                    let mut child = Vec::new();
                    write_part(p, false, &mut child);
                    child
                })
                .collect();
            let boundary = choose_boundary(content_type.param("boundary"), &children);
            content_type.set_param("boundary", &boundary);
            let mut body = Vec::new();
            for child in &children {
                body.extend_from_slice(b"--");
                body.extend_from_slice(boundary.as_bytes());
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(child);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"--");
            body.extend_from_slice(boundary.as_bytes());
            body.extend_from_slice(b"--\r\n");
            let encoding = body
                .iter()
                .any(|&b| b >= 0x80)
                .then_some(TransferEncoding::EightBit);
            Encoded {
                content_type,
                encoding,
                body,
            }
        }
    }
}

/// True when a line of `haystack` starts with `needle`: a boundary delimiter only counts at
/// the start of a line (RFC 2046 §5.1.1), so one pass over the lines is enough.
fn line_starts_with(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .split(|&b| b == b'\n')
            .any(|line| line.starts_with(needle))
}

/// A boundary valid per RFC 2046 (1–70 characters of the allowed set, no final space).
fn valid_boundary(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 70
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

fn choose_boundary(existing: Option<&str>, children: &[Vec<u8>]) -> String {
    let free = |b: &str| {
        let mut delimiter = b"--".to_vec();
        delimiter.extend_from_slice(b.as_bytes());
        !children.iter().any(|c| line_starts_with(c, &delimiter))
    };
    if let Some(b) = existing.filter(|b| valid_boundary(b) && free(b)) {
        return b.to_owned();
    }
    loop {
        let b = crate::mime::util::boundary();
        if free(&b) {
            return b;
        }
    }
}

/// One piece of a header value: the whitespace before it and the word.
struct Atom {
    ws: String,
    word: String,
}

/// Splits text into atoms at spaces and tabs, keeping the exact whitespace (a final run of
/// whitespace becomes an atom with an empty word).
fn atoms(text: &str) -> Vec<Atom> {
    let mut out = Vec::new();
    let mut ws = String::new();
    let mut word = String::new();
    for c in text.chars() {
        if c == ' ' || c == '\t' {
            if !word.is_empty() {
                out.push(Atom {
                    ws: std::mem::take(&mut ws),
                    word: std::mem::take(&mut word),
                });
            }
            if ws.len() < MAX_WS_RUN {
                ws.push(c);
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() || !ws.is_empty() {
        out.push(Atom { ws, word });
    }
    out
}

/// Encodes unstructured text: words that are not plain ASCII (or are too long for a line)
/// become encoded words; a run of such words separated only by whitespace is encoded as one
/// text, so the whitespace between them survives.
fn encode_unstructured(text: &str) -> Vec<Atom> {
    let input = atoms(text);
    let needs = |a: &Atom| !encoded_word::is_plain(&a.word) || a.word.len() > MAX_PLAIN_WORD;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(atom) = input.get(i) {
        if !needs(atom) {
            out.push(Atom {
                ws: atom.ws.clone(),
                word: atom.word.clone(),
            });
            i += 1;
            continue;
        }
        let mut run = atom.word.clone();
        let mut j = i + 1;
        while let Some(next) = input.get(j) {
            if next.word.is_empty() || !needs(next) {
                break;
            }
            run.push_str(&next.ws);
            run.push_str(&next.word);
            j += 1;
        }
        for (k, w) in encoded_word::encode_words(&run).into_iter().enumerate() {
            let ws = if k == 0 {
                atom.ws.clone()
            } else {
                " ".to_owned()
            };
            out.push(Atom { ws, word: w });
        }
        i = j;
    }
    out
}

/// Splits an address list at commas outside quotes, angle brackets and comments.
fn split_addresses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut escaped, mut angle, mut comment) = (false, false, 0usize, 0usize);
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || comment > 0 => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted => comment = comment.saturating_sub(1),
            '<' if !quoted && comment == 0 => angle += 1,
            '>' if !quoted && comment == 0 => angle = angle.saturating_sub(1),
            ',' if !quoted && comment == 0 && angle == 0 => {
                out.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text.get(start..).unwrap_or_default());
    out
}

/// Encodes an address list: display names that are not plain ASCII become encoded words.
fn encode_addresses(text: &str) -> Vec<Atom> {
    let mut out: Vec<Atom> = Vec::new();
    let list = split_addresses(text);
    let count = list.len();
    for (n, item) in list.into_iter().enumerate() {
        let item = item.trim();
        let sep = if n + 1 < count { "," } else { "" };
        let first_ws = if out.is_empty() { "" } else { " " };
        let (display, rest) = match item.rfind('<') {
            Some(lt)
                if !item.get(..lt).unwrap_or_default().contains('"')
                    || item.get(..lt).is_some_and(|d| d.trim_end().ends_with('"')) =>
            {
                (
                    item.get(..lt).unwrap_or_default().trim(),
                    item.get(lt..).unwrap_or_default(),
                )
            }
            _ => ("", item),
        };
        let mut pieces: Vec<Atom> = Vec::new();
        if !display.is_empty() {
            let unquoted = display
                .strip_prefix('"')
                .and_then(|d| d.strip_suffix('"'))
                .map(|d| d.replace("\\\"", "\"").replace("\\\\", "\\"));
            if encoded_word::is_plain(display) {
                pieces.extend(atoms(display));
            } else {
                let name = unquoted.as_deref().unwrap_or(display);
                pieces.extend(
                    encoded_word::encode_words(name)
                        .into_iter()
                        .map(|word| Atom {
                            ws: " ".into(),
                            word,
                        }),
                );
            }
        }
        let mut tail = atoms(rest);
        if let Some(last) = tail.last_mut() {
            last.word.push_str(sep);
        } else if let Some(last) = pieces.last_mut() {
            last.word.push_str(sep);
        }
        pieces.extend(tail);
        for (k, mut atom) in pieces.into_iter().enumerate() {
            if k == 0 {
                atom.ws = first_ws.to_owned();
            } else if atom.ws.is_empty() {
                atom.ws = " ".to_owned();
            }
            out.push(atom);
        }
    }
    out
}

/// A header name safe to write: printable ASCII without `:` (others replaced by `-`).
fn clean_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ':' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "X-Unnamed".to_owned()
    } else {
        cleaned.chars().take(MAX_NAME).collect()
    }
}

/// Writes `Name: atoms` folded before whitespace at 78 columns where possible.
fn write_folded(name: &str, atoms: &[Atom], out: &mut Vec<u8>) {
    let name = clean_name(name);
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let mut line = name.len() + 1;
    let mut first = true;
    for atom in atoms {
        let ws: &str = if first { " " } else { atom.ws.as_str() };
        let len = ws.len() + atom.word.len();
        if !first && !atom.word.is_empty() && line + len > FOLD_AT && line > name.len() + 1 {
            out.extend_from_slice(b"\r\n");
            line = 0;
        }
        out.extend_from_slice(ws.as_bytes());
        out.extend_from_slice(atom.word.as_bytes());
        line += len;
        first = false;
    }
    out.extend_from_slice(b"\r\n");
}

fn write_header(name: &str, value: &str, out: &mut Vec<u8>) {
    let value = value.trim_start_matches([' ', '\t']);
    let lower = name.to_ascii_lowercase();
    let atoms = if ADDRESS_HEADERS.contains(&lower.as_str()) && !encoded_word::is_plain(value) {
        // An address too long for a line, or holding a control character (a NUL, a CR...),
        // cannot be valid: encode it rather than break SMTP.
        encode_addresses(value)
            .into_iter()
            .flat_map(|a| {
                if a.word.len() > MAX_PLAIN_WORD || a.word.chars().any(char::is_control) {
                    encode_unstructured(&a.word)
                        .into_iter()
                        .enumerate()
                        .map(|(i, mut w)| {
                            w.ws = if i == 0 { a.ws.clone() } else { " ".into() };
                            w
                        })
                        .collect()
                } else {
                    vec![a]
                }
            })
            .collect()
    } else {
        encode_unstructured(value)
    };
    write_folded(name, &atoms, out);
}

/// Writes a structured value (parameters): folded at its spaces, never encoded.
fn write_structured(name: &str, value: &str, out: &mut Vec<u8>) {
    write_folded(name, &atoms(value), out);
}

/// `s` reduced to RFC 2045 token characters, lower-case, or `default` when nothing is left.
fn token_or(s: &str, default: &str) -> String {
    let t: String = s
        .bytes()
        .filter(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(b))
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect();
    if t.is_empty() {
        default.to_owned()
    } else {
        t.chars().take(MAX_NAME).collect()
    }
}

fn write_part(part: &Part, top: bool, out: &mut Vec<u8>) {
    let encoded = encode_body(part);
    let has = |n: &str| part.headers.iter().any(|h| h.name.eq_ignore_ascii_case(n));
    for h in &part.headers {
        let lower = h.name.to_ascii_lowercase();
        if CONTENT_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        write_header(&h.name, &h.value, out);
    }
    if top {
        if !has("date") {
            write_structured("Date", &super::util::rfc5322_date_now(), out);
        }
        if !has("message-id") {
            write_structured(
                "Message-ID",
                &super::util::message_id(super::util::cached_fqdn()),
                out,
            );
        }
        if !has("mime-version") {
            write_structured("MIME-Version", "1.0", out);
        }
    }
    let ct = &encoded.content_type;
    let essence = format!(
        "{}/{}",
        token_or(&ct.mime_type, "application"),
        token_or(&ct.subtype, "octet-stream")
    );
    write_structured("Content-Type", &params::format(&essence, &ct.params), out);
    if let Some(d) = &part.disposition {
        let kind = token_or(&d.kind, "attachment");
        write_structured(
            "Content-Disposition",
            &params::format(&kind, &d.params),
            out,
        );
    }
    if let Some(enc) = &encoded.encoding {
        write_structured("Content-Transfer-Encoding", enc.as_str(), out);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&encoded.body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::Part;

    #[test]
    fn encodings_chosen() {
        assert_eq!(text_encoding(b"hello\r\nworld"), TransferEncoding::SevenBit);
        assert_eq!(
            text_encoding("café\r\n".as_bytes()),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            text_encoding("日本語のテキスト".as_bytes()),
            TransferEncoding::Base64
        );
        assert_eq!(
            text_encoding("x".repeat(100).as_bytes()),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(text_encoding(b"a\0b"), TransferEncoding::QuotedPrintable);
    }

    #[test]
    fn header_folding() {
        let mut out = Vec::new();
        let long = "word ".repeat(40);
        write_header("Subject", long.trim_end(), &mut out);
        let text = String::from_utf8(out).unwrap();
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
        let mut out = Vec::new();
        write_header("Subject", "Grüße aus Köln und Zürich", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?Q?K=C3=B6ln?= und\r\n =?UTF-8?Q?Z=C3=BCrich?=\r\n"
        );
        let mut out = Vec::new();
        write_header(
            "To",
            "\"Müller, Jörg\" <j@example.com>, plain <p@example.com>, x@example.com",
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "To: =?UTF-8?Q?M=C3=BCller=2C_J=C3=B6rg?= <j@example.com>, plain\r\n <p@example.com>, x@example.com\r\n"
        );
        let mut out = Vec::new();
        write_header("X-Long", &"a".repeat(2000), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.split("\r\n").all(|l| l.len() <= 998));
        assert_eq!(
            super::super::decode::header_text(
                text.trim_start_matches("X-Long: ")
                    .trim_end()
                    .replace("\r\n", "")
                    .as_bytes()
            ),
            "a".repeat(2000)
        );
    }

    #[test]
    fn nothing_injects_lines() {
        let mut part = Part::text("plain\r\nBcc: evil@example.com", "body")
            .header("Subject\r\nBcc", "x\r\nBcc: evil@example.com")
            .header("To", "\"Jörg\r\nBcc: evil\" <a@example.com>");
        part.content_type.mime_type = "te\nxt".into();
        part.content_type
            .params
            .push(("na;me\r\n=".into(), "v\r\nBcc: evil".into()));
        part.disposition = Some(crate::mime::Disposition {
            kind: "attachment\r\nBcc: evil".into(),
            params: vec![("filename".into(), "a\r\nBcc: evil".into())],
        });
        let wire = encode(&part);
        let text = String::from_utf8_lossy(&wire);
        assert!(!text.contains("\nBcc"), "{text}");
        assert!(!text.contains("\rBcc"), "{text}");
        let back = crate::mime::decode(&wire).unwrap();
        assert_eq!(back.header_value("bcc"), None);
        assert_eq!(back.filename(), Some("a\r\nBcc: evil"));
        // Nothing too long either.
        let mut part = Part::bytes(&"t".repeat(2000), &"s".repeat(2000), vec![1u8])
            .header(&"N".repeat(2000), "v")
            .header("To", &format!("Jörg <{}@example.com>", "a".repeat(2000)))
            .disposition(&"k".repeat(2000), Some(&"f".repeat(3000)));
        part.content_type
            .params
            .push(("p".repeat(2000), "v".repeat(2000)));
        let wire = encode(&part);
        let longest = wire.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
        assert!(longest <= 999, "{longest}");
        let back = crate::mime::decode(&wire).unwrap();
        assert_eq!(back.filename(), Some("f".repeat(3000).as_str()));
    }

    #[test]
    fn boundaries_avoid_content() {
        let a = crate::mime::util::boundary();
        let b = crate::mime::util::boundary();
        assert_ne!(a, b);
        assert!(valid_boundary(&a), "{a}");
        let child = format!("--{a}\r\n").into_bytes();
        let chosen = choose_boundary(Some(&a), &[child]);
        assert_ne!(chosen, a);
        assert_eq!(choose_boundary(Some("keep"), &[b"x".to_vec()]), "keep");
    }

    /// Found by fuzz/mime: an address header whose address part held a control character
    /// (`From:` NUL, or a bare CR kept by the decoder) was written raw: a NUL or a bare CR in
    /// the output, which is then not SMTP-safe.
    #[test]
    fn regression_control_characters_in_address_headers_are_encoded() {
        for value in [
            "\0",
            "a\rb",
            "x\0y@example.com",
            "Ann <a\r@example.com>",
            "\x01, b@c",
        ] {
            let mut out = Vec::new();
            write_header("From", value, &mut out);
            let body = out.strip_suffix(b"\r\n").expect("ends with CRLF");
            assert!(
                body.iter()
                    .all(|&b| b == b'\t' || b == b'\r' || b == b'\n' || (b' '..=b'~').contains(&b)),
                "{value:?} -> {out:?}"
            );
            // Only folding CRLFs remain: each followed by white space.
            for (i, w) in body.windows(2).enumerate() {
                if w[0] == b'\r' {
                    assert!(
                        w[1] == b'\n' && matches!(body.get(i + 2), Some(b' ' | b'\t')),
                        "{out:?}"
                    );
                }
            }
            assert!(!body.contains(&b'\n') || body.contains(&b'\r'));
        }
    }
}
