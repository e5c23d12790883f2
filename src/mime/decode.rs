//! The decoder: bytes of a message to a [`Part`] tree. Lenient and total: every input
//! except the empty one gives a tree (see [`decode_with`] for the rules it follows).

use super::{
    Body, ContentType, DecodeOptions, Disposition, Header, MimeError, Part, TransferEncoding, b64,
    charset, encoded_word, params, qp,
};

/// Decodes a message with the default [`DecodeOptions`]. See [`decode_with`].
pub fn decode(message: &[u8]) -> Result<Part, MimeError> {
    decode_with(message, &DecodeOptions::default())
}

/// Decodes a message. Never panics; fails only on empty input or too many parts.
///
/// The rules, chosen to match gen_smtp's `mimemail` and Python's `email` package where the
/// RFCs leave room:
///
/// - **Lines** end in CRLF or a bare LF, everywhere. The header block ends at the first empty
///   line. A leading mbox `From ` line is skipped. A line that is neither a header
///   (`name:` with a name of printable ASCII) nor a continuation ends the headers and
///   **starts the body** (Python does the same). A continuation line before any header is
///   ignored. Folded headers are unfolded by removing the line breaks only.
/// - **MIME-Version** is not required: `Content-Type` is honoured without it (as Python
///   does; gen_smtp treats a message without it as MIME 1.0 too).
/// - **Content-Type** missing or invalid (no `type/subtype`): `text/plain;
///   charset=<default_charset>`, or `message/rfc822` inside `multipart/digest`.
/// - **Multipart**: delimiter lines are `--boundary`, optionally `--` after it, then only
///   spaces or tabs; the line break before a delimiter belongs to it. The preamble and
///   epilogue are dropped. A missing closing delimiter: parts run to the end of the body,
///   whose final line break is dropped (as Python). No delimiter at all (missing first
///   boundary): the multipart holds one `text/plain` part with the whole body. No
///   `boundary` parameter: the part is read as `text/plain` (its `content_type` says so).
/// - **Transfer encodings**: base64 lenient (junk skipped, padding optional), quoted-printable
///   lenient ([`qp::decode`]), anything else (7bit, 8bit, binary, unknown) as is.
/// - **Text** (`text/*`) is converted to UTF-8 from its `charset` (see [`charset`]): an
///   invalid or unknown charset still gives text, lossy.
/// - **Nested messages** (`message/rfc822`, `message/global`) are decoded recursively, after
///   undoing a (non-conforming) base64 or quoted-printable transfer encoding. Other
///   `message/*` types and all other types are [`Body::Bytes`].
/// - **Limits**: a multipart or nested message deeper than `max_depth` is kept as a
///   [`Body::Bytes`] leaf of its (transfer-decoded) body; more than `max_parts` parts in all
///   is [`MimeError::TooManyParts`].
pub fn decode_with(message: &[u8], opts: &DecodeOptions) -> Result<Part, MimeError> {
    if message.is_empty() {
        return Err(MimeError::Empty);
    }
    let mut ctx = Ctx { opts, parts: 0 };
    ctx.part(message, false, 0)
}

/// Recursion guard: `max_depth` values above this act as this.
const HARD_MAX_DEPTH: usize = 100;

struct Ctx<'a> {
    opts: &'a DecodeOptions,
    parts: usize,
}

/// The line starting at `pos`: (end of its content, start of the next line). The content
/// excludes the CRLF or LF.
fn line_at(data: &[u8], pos: usize) -> (usize, usize) {
    let rest = data.get(pos..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let end = pos + lf;
            let content_end = if lf > 0 && rest.get(lf - 1) == Some(&b'\r') {
                end - 1
            } else {
                end
            };
            (content_end, end + 1)
        }
        None => (data.len(), data.len()),
    }
}

/// Length of the field name when `line` is a header line (`name:`).
fn header_name_len(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    if name.is_empty() || !name.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    Some(colon)
}

/// Splits the header block off. Returns the headers (name, unfolded raw value) and the
/// offset where the body starts.
pub(crate) fn split_headers(data: &[u8]) -> (Vec<(String, Vec<u8>)>, usize) {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pos = 0;
    let mut first = true;
    while pos < data.len() {
        let (content_end, next) = line_at(data, pos);
        let line = data.get(pos..content_end).unwrap_or_default();
        if line.is_empty() {
            return (headers, next);
        }
        if first && line.starts_with(b"From ") {
            first = false;
            pos = next;
            continue;
        }
        first = false;
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, raw)) = headers.last_mut() {
                raw.extend_from_slice(line);
            }
            pos = next;
            continue;
        }
        let Some(colon) = header_name_len(line) else {
            return (headers, pos);
        };
        let name = String::from_utf8_lossy(line.get(..colon).unwrap_or_default()).into_owned();
        let value = line.get(colon + 1..).unwrap_or_default();
        let start = value
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(value.len());
        headers.push((name, value.get(start..).unwrap_or_default().to_vec()));
        pos = next;
    }
    (headers, data.len())
}

/// Decodes a header's raw value to text.
pub(crate) fn header_text(raw: &[u8]) -> String {
    encoded_word::decode(&charset::header_bytes_to_string(raw))
}

fn first_header<'h>(headers: &'h [Header], name: &str) -> Option<&'h Header> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// Parses a Content-Type value; `None` when it is not `type/subtype`.
pub(crate) fn parse_content_type(raw: &[u8]) -> Option<ContentType> {
    let (value, params) = params::parse(&charset::header_bytes_to_string(raw));
    let (t, s) = value.split_once('/')?;
    let (t, s) = (t.trim(), s.trim());
    let valid = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if !valid(t) || !valid(s) {
        return None;
    }
    Some(ContentType {
        mime_type: t.to_ascii_lowercase(),
        subtype: s.to_ascii_lowercase(),
        params,
    })
}

fn transfer_decode(body: &[u8], encoding: &TransferEncoding) -> Vec<u8> {
    match encoding {
        TransferEncoding::Base64 => b64::decode_lenient(body),
        TransferEncoding::QuotedPrintable => qp::decode(body),
        _ => body.to_vec(),
    }
}

/// Where the parts of a multipart body are, or `None` when no delimiter line was found.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut found = false;
    let mut pos = 0;
    while pos < body.len() {
        let (content_end, next) = line_at(body, pos);
        let line = body.get(pos..content_end).unwrap_or_default();
        if let Some(rest) = line.strip_prefix(delimiter.as_slice()) {
            let (closing, tail) = match rest.strip_prefix(b"--") {
                Some(tail) => (true, tail),
                None => (false, rest),
            };
            if tail.iter().all(|&b| b == b' ' || b == b'\t') {
                if let Some(start) = current {
                    let mut end = pos;
                    if end > start && body.get(end - 1) == Some(&b'\n') {
                        end -= 1;
                        if end > start && body.get(end - 1) == Some(&b'\r') {
                            end -= 1;
                        }
                    }
                    parts.push(body.get(start..end).unwrap_or_default());
                }
                found = true;
                if closing {
                    return Some(parts);
                }
                current = Some(next);
            }
        }
        pos = next;
    }
    if !found {
        return None;
    }
    if let Some(start) = current {
        let mut part = body.get(start..).unwrap_or_default();
        if let Some(p) = part.strip_suffix(b"\n") {
            part = p.strip_suffix(b"\r").unwrap_or(p);
        }
        parts.push(part);
    }
    Some(parts)
}

impl Ctx<'_> {
    fn count(&mut self) -> Result<(), MimeError> {
        self.parts += 1;
        if self.parts > self.opts.max_parts {
            return Err(MimeError::TooManyParts {
                limit: self.opts.max_parts,
            });
        }
        Ok(())
    }

    fn default_text(&self) -> ContentType {
        let mut ct = ContentType::new("text", "plain");
        ct.set_param("charset", &self.opts.default_charset);
        ct
    }

    fn text_body(&self, ct: &ContentType, data: &[u8]) -> Body {
        let label = ct
            .param("charset")
            .filter(|c| !c.trim().is_empty())
            .unwrap_or(&self.opts.default_charset);
        Body::Text(charset::to_utf8(data, label).0)
    }

    /// Decodes one part (headers and body); `in_digest` selects the default type.
    fn part(&mut self, data: &[u8], in_digest: bool, depth: usize) -> Result<Part, MimeError> {
        self.count()?;
        let (raw_headers, body_start) = split_headers(data);
        let body = data.get(body_start..).unwrap_or_default();
        let headers: Vec<Header> = raw_headers
            .into_iter()
            .map(|(name, raw)| {
                let value = header_text(&raw);
                Header { name, raw, value }
            })
            .collect();
        let mut content_type =
            match first_header(&headers, "content-type").and_then(|h| parse_content_type(&h.raw)) {
                Some(ct) => ct,
                None if in_digest && first_header(&headers, "content-type").is_none() => {
                    ContentType::new("message", "rfc822")
                }
                None => self.default_text(),
            };
        let encoding = first_header(&headers, "content-transfer-encoding")
            .map(|h| TransferEncoding::parse(&h.value))
            .unwrap_or(TransferEncoding::SevenBit);
        let disposition = first_header(&headers, "content-disposition").map(|h| {
            let (kind, params) = params::parse(&charset::header_bytes_to_string(&h.raw));
            Disposition {
                kind: kind.to_ascii_lowercase(),
                params,
            }
        });
        let container = content_type.mime_type == "multipart"
            || (content_type.mime_type == "message"
                && matches!(content_type.subtype.as_str(), "rfc822" | "global"));
        let body = if container && depth >= self.opts.max_depth.min(HARD_MAX_DEPTH) {
            Body::Bytes(transfer_decode(body, &encoding))
        } else if content_type.mime_type == "multipart" {
            match content_type.param("boundary").filter(|b| !b.is_empty()) {
                None => {
                    content_type = self.default_text();
                    self.text_body(&content_type, body)
                }
                Some(boundary) => {
                    let digest = content_type.subtype == "digest";
                    match split_multipart(body, boundary.as_bytes()) {
                        Some(pieces) => {
                            let mut parts = Vec::with_capacity(pieces.len());
                            for piece in pieces {
                                parts.push(self.part(piece, digest, depth + 1)?);
                            }
                            Body::Multipart(parts)
                        }
                        None => {
                            self.count()?;
                            let ct = self.default_text();
                            let text = self.text_body(&ct, body);
                            Body::Multipart(vec![Part {
                                headers: Vec::new(),
                                content_type: ct,
                                disposition: None,
                                encoding: TransferEncoding::SevenBit,
                                body: text,
                            }])
                        }
                    }
                }
            }
        } else if container {
            let inner = transfer_decode(body, &encoding);
            Body::Message(Box::new(self.part(&inner, false, depth + 1)?))
        } else {
            let decoded = transfer_decode(body, &encoding);
            if content_type.mime_type == "text" {
                self.text_body(&content_type, &decoded)
            } else {
                Body::Bytes(decoded)
            }
        };
        Ok(Part {
            headers,
            content_type,
            disposition,
            encoding,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &Part) -> &str {
        match &p.body {
            Body::Text(t) => t,
            other => panic!("not text: {other:?}"),
        }
    }

    fn parts(p: &Part) -> &[Part] {
        match &p.body {
            Body::Multipart(v) => v,
            other => panic!("not multipart: {other:?}"),
        }
    }

    #[test]
    fn simple_message() {
        let m = decode(b"From: a@b\r\nSubject: hi\r\n there\r\n\r\nbody\r\n").unwrap();
        assert_eq!(m.headers.len(), 2);
        assert_eq!(m.header_value("subject"), Some("hi there"));
        assert_eq!(m.headers[1].raw, b"hi there");
        assert_eq!(m.content_type.essence(), "text/plain");
        assert_eq!(m.content_type.param("charset"), Some("us-ascii"));
        assert_eq!(text(&m), "body\r\n");
        assert_eq!(m.encoding, TransferEncoding::SevenBit);
        assert_eq!(m.disposition, None);
    }

    #[test]
    fn header_edge_cases() {
        let m =
            decode(b"From sender Mon Jan 1\n X: cont\nA: 1\nnot a header\nB: 2\n\nrest").unwrap();
        assert_eq!(m.headers.len(), 1);
        assert_eq!(text(&m), "not a header\nB: 2\n\nrest");
        let m = decode(b"A: 1\r\nB:2").unwrap();
        assert_eq!(m.headers.len(), 2);
        assert_eq!(m.header_value("b"), Some("2"));
        assert_eq!(text(&m), "");
        let m = decode(b"\r\nonly body").unwrap();
        assert!(m.headers.is_empty());
        assert_eq!(text(&m), "only body");
        assert_eq!(decode(b""), Err(MimeError::Empty));
        let m = decode(b"Subject: =?utf-8?q?caf=C3=A9?= \xe9\r\n\r\n").unwrap();
        assert_eq!(m.header_value("subject"), Some("café é"));
    }

    #[test]
    fn multipart_basic() {
        let msg = b"Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\npreamble\r\n--xx\r\n\r\none\r\n--xx \t\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>caf\xe9</p>\r\n\r\n--xx--\r\nepilogue\r\n";
        let m = decode(msg).unwrap();
        let p = parts(&m);
        assert_eq!(p.len(), 2);
        assert_eq!(text(&p[0]), "one");
        assert_eq!(p[1].content_type.essence(), "text/html");
        assert_eq!(text(&p[1]), "<p>café</p>\r\n");
    }

    #[test]
    fn multipart_broken() {
        // Missing close: the last part runs to the end, its final line break dropped.
        let m =
            decode(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\n--b\n\nworld\n")
                .unwrap();
        let p = parts(&m);
        assert_eq!(p.len(), 2);
        assert_eq!(text(&p[1]), "world");
        // Missing first boundary: one text part with the whole body.
        let m =
            decode(b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n").unwrap();
        assert_eq!(m.content_type.essence(), "multipart/mixed");
        let p = parts(&m);
        assert_eq!(p.len(), 1);
        assert_eq!(text(&p[0]), "no parts here\r\n");
        // No boundary parameter: text/plain.
        let m = decode(b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n").unwrap();
        assert_eq!(m.content_type.essence(), "text/plain");
        assert_eq!(text(&m), "--b\r\n\r\nx\r\n--b--\r\n");
        // A boundary that is a prefix of a longer line is not a delimiter.
        let m = decode(
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--bx\r\n--b--\r\n",
        )
        .unwrap();
        assert_eq!(text(&parts(&m)[0]), "--bx");
    }

    #[test]
    fn digest_and_nested() {
        let msg = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nhi\r\n--d--\r\n";
        let m = decode(msg).unwrap();
        let p = parts(&m);
        assert_eq!(p[0].content_type.essence(), "message/rfc822");
        let Body::Message(inner) = &p[0].body else {
            panic!()
        };
        assert_eq!(inner.header_value("subject"), Some("inner"));
        assert_eq!(text(inner), "hi");
    }

    #[test]
    fn limits() {
        let mut msg = Vec::new();
        for _ in 0..30 {
            msg.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        msg.extend_from_slice(b"\r\nend");
        let mut m = decode(&msg).unwrap();
        let mut depth = 0;
        while let Body::Message(inner) = m.body {
            m = *inner;
            depth += 1;
        }
        assert_eq!(depth, 20);
        assert!(matches!(m.body, Body::Bytes(_)));
        let opts = DecodeOptions {
            max_parts: 3,
            ..DecodeOptions::default()
        };
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--";
        assert_eq!(
            decode_with(msg, &opts),
            Err(MimeError::TooManyParts { limit: 3 })
        );
        assert!(decode(msg).is_ok());
    }

    #[test]
    fn transfer_encodings() {
        let m = decode(b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n\r\nAAEC\r\nAw\r\n").unwrap();
        assert_eq!(m.body, Body::Bytes(vec![0, 1, 2, 3]));
        assert_eq!(m.encoding, TransferEncoding::Base64);
        let m = decode(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nx  \r\n").unwrap();
        assert_eq!(text(&m), "café x\r\n");
        let m = decode(b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5").unwrap();
        let Body::Message(inner) = &m.body else {
            panic!()
        };
        assert_eq!(inner.header_value("subject"), Some("x"));
    }
}
