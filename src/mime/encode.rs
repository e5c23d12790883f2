//! The encoder: a [`Part`] tree to message bytes that are always SMTP-safe.

use std::borrow::Cow;

use super::scan::{Specials, line_safe, scan_text_keeping};
use super::{Body, ContentType, Part, TransferEncoding, b64, encoded_word, params, qp, to_crlf};

/// Preferred line length for headers (RFC 5322 §2.1.1).
const FOLD_AT: usize = 78;
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
    encode_borrowing(part, None, None)
}

/// [`encode`], with the bodies of the [`Body::Bytes`] leaves taken from `bodies` in order
/// (pre-order, one per leaf) instead of the leaves, and those of the [`Body::Text`] leaves
/// from `texts` likewise: the message builder keeps its attachments and texts and need not
/// copy them into the tree.
pub(crate) fn encode_borrowing(
    part: &Part,
    bodies: Option<&[&[u8]]>,
    texts: Option<&[&str]>,
) -> Vec<u8> {
    let mut body_8bit = Vec::new();
    let mut taken = Bodies {
        list: bodies,
        next: 0,
        texts,
        next_text: 0,
    };
    mark_8bit(part, &mut body_8bit, &mut taken);
    let mut w = Writer {
        out: Vec::with_capacity(size_hint(part, bodies, texts)),
        safe: Vec::new(),
        body_8bit,
        next: 0,
        bodies: Bodies {
            list: bodies,
            next: 0,
            texts,
            next_text: 0,
        },
        scratch: String::new(),
    };
    w.part(part, true);
    w.out
}

/// The bodies of the bytes and text leaves when they are kept outside the tree.
struct Bodies<'a> {
    list: Option<&'a [&'a [u8]]>,
    next: usize,
    texts: Option<&'a [&'a str]>,
    next_text: usize,
}

impl<'a> Bodies<'a> {
    /// The body of the next bytes leaf, whose own bytes are `own`.
    fn take<'p>(&mut self, own: &'p [u8]) -> &'p [u8]
    where
        'a: 'p,
    {
        let Some(list) = self.list else {
            return own;
        };
        let body = list.get(self.next).copied().unwrap_or(own);
        self.next += 1;
        body
    }

    /// The text of the next text leaf, whose own text is `own`.
    fn take_text<'p>(&mut self, own: &'p str) -> &'p str
    where
        'a: 'p,
    {
        let Some(list) = self.texts else {
            return own;
        };
        let text = list.get(self.next_text).copied().unwrap_or(own);
        self.next_text += 1;
        text
    }
}

/// Whether a content type's body is a container (its raw bytes may be written as they are).
fn is_container(ct: &ContentType) -> bool {
    matches!(ct.mime_type.as_str(), "multipart" | "message")
}

/// Whether a header as [`write_header`] writes it has 8-bit bytes (raw UTF-8 addresses).
fn header_8bit(name: &str, value: &str) -> bool {
    // Only address headers keep non-ASCII text (their addresses, RFC 6532): other values
    // are written as encoded words where they are not printable ASCII.
    if value.is_ascii() || !ADDRESS_HEADERS.iter().any(|a| name.eq_ignore_ascii_case(a)) {
        return false;
    }
    let mut out = Vec::new();
    write_header(name, value, &mut out);
    !out.is_ascii()
}

fn is_content_header(name: &str) -> bool {
    CONTENT_HEADERS.iter().any(|c| name.eq_ignore_ascii_case(c))
}

/// Records, per part in pre-order, whether its encoded body has 8-bit bytes, and returns
/// whether the whole encoded part (headers too) has: a container declares `8bit` from its
/// children, but its headers are written before them.
fn mark_8bit(part: &Part, body_8bit: &mut Vec<bool>, bodies: &mut Bodies<'_>) -> bool {
    let me = body_8bit.len();
    body_8bit.push(false);
    let headers = part
        .headers
        .iter()
        .any(|h| !is_content_header(&h.name) && header_8bit(&h.name, &h.value));
    let body = match &part.body {
        Body::Text(_) => false,
        Body::Bytes(data) => {
            let data = bodies.take(data);
            is_container(&part.content_type) && line_safe(data) == Some(true)
        }
        Body::Message(inner) => mark_8bit(inner, body_8bit, bodies),
        Body::Multipart(parts) => parts
            .iter()
            .fold(false, |any, p| mark_8bit(p, body_8bit, bodies) | any),
    };
    if let Some(flag) = body_8bit.get_mut(me) {
        *flag = body;
    }
    headers || body
}

/// About the size of the encoded part, to allocate the output once.
fn size_hint(part: &Part, bodies: Option<&[&[u8]]>, texts: Option<&[&str]>) -> usize {
    let borrowed: usize = bodies
        .unwrap_or_default()
        .iter()
        .map(|b| b.len().div_ceil(57) * 78)
        .chain(
            texts
                .unwrap_or_default()
                .iter()
                .map(|t| t.len() + t.len() / 4),
        )
        .sum();
    (tree_size(part) + borrowed).min(1 << 30)
}

fn tree_size(part: &Part) -> usize {
    let headers: usize = part
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 8)
        .sum();
    let body = match &part.body {
        Body::Text(t) => t.len() + t.len() / 4,
        Body::Bytes(b) => b.len().div_ceil(57) * 78,
        Body::Message(inner) => tree_size(inner),
        Body::Multipart(parts) => parts.iter().map(|p| tree_size(p) + 80).sum(),
    };
    headers.saturating_add(body).saturating_add(400)
}

/// The encoder's state: one output buffer, written front to back.
struct Writer<'a> {
    out: Vec<u8>,
    /// Spans of `out` holding base64 or quoted-printable bodies, or 7bit text with no line
    /// starting with `-`, in order: no line in them can start with `--=_`, so a generated
    /// boundary needs no check against them.
    safe: Vec<(usize, usize)>,
    /// Per part in pre-order, from [`mark_8bit`].
    body_8bit: Vec<bool>,
    /// The pre-order index of the next part to write.
    next: usize,
    bodies: Bodies<'a>,
    /// The Content-Type value being written, kept between parts for its buffer.
    scratch: String,
}

impl Writer<'_> {
    fn part(&mut self, part: &Part, top: bool) {
        let index = self.next;
        self.next += 1;
        // The declared type: the part's own, borrowed, unless the body forces another; the
        // parameter the encoder sets (charset, boundary) is written in place by `headers`.
        let mut content_type = Cow::Borrowed(&part.content_type);
        match &part.body {
            Body::Text(text) => {
                let text = self.bodies.take_text(text);
                if is_container(&content_type) {
                    content_type = Cow::Owned(ContentType::new("text", "plain"));
                }
                let charset = content_type
                    .mime_type
                    .eq_ignore_ascii_case("text")
                    .then_some(("charset", "utf-8"));
                let mut specials = Specials::new();
                let scan = scan_text_keeping(text.as_bytes(), &mut specials);
                let converted;
                let (bytes, scan) = if scan.bare_eol {
                    converted = to_crlf(text);
                    specials = Specials::new();
                    let scan = scan_text_keeping(converted.as_bytes(), &mut specials);
                    (converted.as_bytes(), scan)
                } else {
                    (text.as_bytes(), scan)
                };
                let encoding = scan.encoding;
                self.headers(part, top, &content_type, charset, Some(&encoding));
                match encoding {
                    TransferEncoding::SevenBit => {
                        // CRLF lines only, none starting with `-`: no delimiter can be in
                        // it, so the boundary check skips it like an encoded body.
                        let start = self.out.len();
                        self.out.extend_from_slice(bytes);
                        if !scan.dash_line {
                            self.safe.push((start, self.out.len()));
                        }
                    }
                    TransferEncoding::QuotedPrintable => {
                        let start = self.out.len();
                        qp::encode_listed(bytes, &mut self.out, Some(&specials));
                        self.safe.push((start, self.out.len()));
                    }
                    _ => self.base64(bytes),
                }
            }
            Body::Bytes(data) => {
                let data = self.bodies.take(data);
                let container = is_container(&content_type);
                if let Some(eight) = line_safe(data).filter(|_| container) {
                    let encoding = if eight {
                        TransferEncoding::EightBit
                    } else {
                        TransferEncoding::SevenBit
                    };
                    self.headers(part, top, &content_type, None, Some(&encoding));
                    self.out.extend_from_slice(data);
                    return;
                }
                if container {
                    content_type = Cow::Owned(ContentType::new("application", "octet-stream"));
                }
                let base64 = TransferEncoding::Base64;
                self.headers(part, top, &content_type, None, Some(&base64));
                self.base64(data);
            }
            Body::Message(inner) => {
                if content_type.mime_type != "message" {
                    content_type = Cow::Owned(ContentType::new("message", "rfc822"));
                }
                let encoding = self.eight(index).then_some(TransferEncoding::EightBit);
                self.headers(part, top, &content_type, None, encoding.as_ref());
                self.part(inner, false);
            }
            Body::Multipart(parts) => {
                if content_type.mime_type != "multipart" {
                    content_type = Cow::Owned(ContentType::new("multipart", "mixed"));
                }
                let encoding = self.eight(index).then_some(TransferEncoding::EightBit);
                let mut boundary = content_type
                    .param("boundary")
                    .filter(|b| valid_boundary(b))
                    .map_or_else(crate::mime::util::boundary, str::to_owned);
                let (start, safe_mark, bodies_mark, texts_mark) = (
                    self.out.len(),
                    self.safe.len(),
                    self.bodies.next,
                    self.bodies.next_text,
                );
                let mut spans = Vec::with_capacity(parts.len());
                // Written once with a candidate boundary, then checked against what the
                // children hold; a boundary that occurs (a kept one, or bad luck) is replaced
                // and the part written again.
                loop {
                    self.out.truncate(start);
                    self.safe.truncate(safe_mark);
                    self.next = index + 1;
                    self.bodies.next = bodies_mark;
                    self.bodies.next_text = texts_mark;
                    spans.clear();
                    let set = Some(("boundary", boundary.as_str()));
                    self.headers(part, top, &content_type, set, encoding.as_ref());
                    for p in parts {
                        self.delimiter(&boundary, b"\r\n");
                        let child = self.out.len();
                        self.part(p, false);
                        spans.push((child, self.out.len()));
                        self.out.extend_from_slice(b"\r\n");
                    }
                    self.delimiter(&boundary, b"--\r\n");
                    if self.boundary_free(&boundary, &spans, safe_mark) {
                        break;
                    }
                    boundary = crate::mime::util::boundary();
                }
            }
        }
    }

    fn eight(&self, index: usize) -> bool {
        self.body_8bit.get(index).copied().unwrap_or(false)
    }

    fn base64(&mut self, data: &[u8]) {
        let start = self.out.len();
        b64::encode_lines_into(data, &mut self.out);
        self.safe.push((start, self.out.len()));
    }

    fn delimiter(&mut self, boundary: &str, end: &[u8]) {
        self.out.extend_from_slice(b"--");
        self.out.extend_from_slice(boundary.as_bytes());
        self.out.extend_from_slice(end);
    }

    /// True when no line of the children (the `spans` of `out`) starts with `--boundary`
    /// (RFC 2046 §5.1.1: a delimiter only counts at the start of a line). Base64 and
    /// quoted-printable bodies are skipped for a boundary starting with `=_`, which neither
    /// encoding can write.
    fn boundary_free(&self, boundary: &str, spans: &[(usize, usize)], safe_mark: usize) -> bool {
        let mut delimiter = Vec::with_capacity(boundary.len() + 2);
        delimiter.extend_from_slice(b"--");
        delimiter.extend_from_slice(boundary.as_bytes());
        let safe = if boundary.starts_with("=_") {
            self.safe.get(safe_mark..).unwrap_or_default()
        } else {
            &[]
        };
        let mut safe = safe.iter().peekable();
        for &(start, end) in spans {
            let child = self.out.get(start..end).unwrap_or_default();
            if child.starts_with(&delimiter) {
                return false;
            }
            let mut pos = start;
            while pos < end {
                // The next stretch to read: up to the next safe span inside the child.
                while safe.next_if(|&&(_, e)| e <= pos).is_some() {}
                let (stop, resume) = match safe.peek() {
                    Some(&&(s, e)) if s < end => (s.max(pos), e),
                    _ => (end, end),
                };
                let stretch = self.out.get(..stop).unwrap_or_default();
                let mut from = pos;
                while let Some(lf) = super::decode::find_lf(stretch, from) {
                    let line = self.out.get(lf + 1..end).unwrap_or_default();
                    if line.starts_with(&delimiter) {
                        return false;
                    }
                    from = lf + 1;
                }
                pos = resume.max(stop);
            }
        }
        true
    }

    /// The part's own headers, the top-level ones, then the content headers and the blank
    /// line.
    fn headers(
        &mut self,
        part: &Part,
        top: bool,
        ct: &ContentType,
        set: Option<(&str, &str)>,
        encoding: Option<&TransferEncoding>,
    ) {
        let out = &mut self.out;
        for h in &part.headers {
            if !is_content_header(&h.name) {
                write_header(&h.name, &h.value, out);
            }
        }
        if top {
            let has = |n: &str| part.headers.iter().any(|h| h.name.eq_ignore_ascii_case(n));
            if !has("date") {
                write_structured("Date", &super::util::rfc5322_date_now(), out);
            }
            if !has("message-id") {
                write_structured("Message-ID", &super::util::message_id_here(), out);
            }
            if !has("mime-version") {
                write_structured("MIME-Version", "1.0", out);
            }
        }
        let (mime_type, subtype) = (
            token_or(&ct.mime_type, "application"),
            token_or(&ct.subtype, "octet-stream"),
        );
        let mut value = std::mem::take(&mut self.scratch);
        value.clear();
        value.push_str(&mime_type);
        value.push('/');
        value.push_str(&subtype);
        // `set` replaces the first parameter of its name (as ContentType::set_param does) or
        // comes last.
        let mut set = set;
        for (name, v) in &ct.params {
            match set.filter(|(n, _)| name.eq_ignore_ascii_case(n)) {
                Some((_, new)) => {
                    params::push_param(&mut value, name, new);
                    set = None;
                }
                None => params::push_param(&mut value, name, v),
            }
        }
        if let Some((name, v)) = set {
            params::push_param(&mut value, name, v);
        }
        write_structured("Content-Type", &value, out);
        self.scratch = value;
        if let Some(d) = &part.disposition {
            let kind = token_or(&d.kind, "attachment");
            write_structured(
                "Content-Disposition",
                &params::format(&kind, &d.params),
                out,
            );
        }
        if let Some(enc) = encoding {
            write_structured("Content-Transfer-Encoding", enc.as_str(), out);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A boundary valid per RFC 2046 (1–70 characters of the allowed set, no final space).
fn valid_boundary(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 70
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

/// One piece of a header value: the whitespace before it and the word (borrowed from the
/// value where they are its own text).
struct Atom<'a> {
    ws: Cow<'a, str>,
    word: Cow<'a, str>,
}

/// Splits text into atoms at spaces and tabs, keeping the exact whitespace (a final run of
/// whitespace becomes an atom with an empty word). An iterator: folding a structured value
/// needs no list.
fn atoms(text: &str) -> Atoms<'_> {
    Atoms { text, i: 0 }
}

/// The iterator of [`atoms`].
#[derive(Clone)]
struct Atoms<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Iterator for Atoms<'a> {
    type Item = Atom<'a>;

    fn next(&mut self) -> Option<Atom<'a>> {
        let (text, b) = (self.text, self.text.as_bytes());
        let mut i = self.i;
        if i >= b.len() {
            return None;
        }
        let ws_start = i;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let word_start = i;
        while b.get(i).is_some_and(|&c| c != b' ' && c != b'\t') {
            i += 1;
        }
        self.i = i;
        // Spaces and tabs are ASCII: every cut is on a character boundary.
        let ws_end = word_start.min(ws_start + MAX_WS_RUN);
        Some(Atom {
            ws: Cow::Borrowed(text.get(ws_start..ws_end).unwrap_or_default()),
            word: Cow::Borrowed(text.get(word_start..i).unwrap_or_default()),
        })
    }
}

/// Encodes unstructured text: words that are not plain ASCII (or are too long for a line)
/// become encoded words; a run of such words separated only by whitespace is encoded as one
/// text, so the whitespace between them survives.
fn encode_unstructured(text: &str) -> Vec<Atom<'_>> {
    let input: Vec<Atom<'_>> = atoms(text).collect();
    let needs = |a: &Atom| !is_plain(&a.word) || a.word.len() > MAX_PLAIN_WORD;
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
        let mut run = atom.word.to_string();
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
                Cow::Borrowed(" ")
            };
            out.push(Atom {
                ws,
                word: Cow::Owned(w),
            });
        }
        i = j;
    }
    out
}

/// [`encoded_word::is_plain`] without a substring searcher: header values are short, and
/// setting one up cost more than the test.
fn is_plain(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().all(|&c| c == b'\t' || (b' '..=b'~').contains(&c)) && !b.windows(2).any(|w| w == b"=?")
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
fn encode_addresses(text: &str) -> Vec<Atom<'_>> {
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
            if is_plain(display) {
                pieces.extend(atoms(display));
            } else {
                let name = unquoted.as_deref().unwrap_or(display);
                pieces.extend(
                    encoded_word::encode_words(name)
                        .into_iter()
                        .map(|word| Atom {
                            ws: Cow::Borrowed(" "),
                            word: Cow::Owned(word),
                        }),
                );
            }
        }
        let mut tail: Vec<Atom<'_>> = atoms(rest).collect();
        if let Some(last) = tail.last_mut() {
            last.word.to_mut().push_str(sep);
        } else if let Some(last) = pieces.last_mut() {
            last.word.to_mut().push_str(sep);
        }
        pieces.extend(tail);
        for (k, mut atom) in pieces.into_iter().enumerate() {
            if k == 0 {
                atom.ws = Cow::Borrowed(first_ws);
            } else if atom.ws.is_empty() {
                atom.ws = Cow::Borrowed(" ");
            }
            out.push(atom);
        }
    }
    out
}

/// A header name safe to write: printable ASCII without `:` (others replaced by `-`).
fn clean_name(name: &str) -> Cow<'_, str> {
    // The usual name is clean already: borrowed.
    if !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b':')
    {
        return Cow::Borrowed(name);
    }
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
        Cow::Borrowed("X-Unnamed")
    } else {
        Cow::Owned(cleaned.chars().take(MAX_NAME).collect())
    }
}

/// Writes `Name: atoms` folded before whitespace at 78 columns where possible.
fn write_folded<'a>(name: &str, atoms: impl IntoIterator<Item = Atom<'a>>, out: &mut Vec<u8>) {
    let mut folder = Folder::new(name, out);
    for atom in atoms {
        folder.push(&atom.ws, &atom.word);
    }
    folder.finish();
}

/// A header being written atom by atom, folded before whitespace at 78 columns where
/// possible.
struct Folder<'o> {
    out: &'o mut Vec<u8>,
    /// The length of `Name:`.
    start: usize,
    line: usize,
    first: bool,
}

impl<'o> Folder<'o> {
    /// Writes `Name:` (cleaned).
    fn new(name: &str, out: &'o mut Vec<u8>) -> Self {
        let name = clean_name(name);
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        Folder {
            out,
            start: name.len() + 1,
            line: name.len() + 1,
            first: true,
        }
    }

    /// One atom: the first one goes after a single space, whatever its whitespace.
    fn push(&mut self, ws: &str, word: &str) {
        let ws = if self.first { " " } else { ws };
        let len = ws.len() + word.len();
        if !self.first && !word.is_empty() && self.line + len > FOLD_AT && self.line > self.start {
            self.out.extend_from_slice(b"\r\n");
            self.line = 0;
        }
        self.out.extend_from_slice(ws.as_bytes());
        self.out.extend_from_slice(word.as_bytes());
        self.line += len;
        self.first = false;
    }

    fn finish(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Writes unstructured text as [`encode_unstructured`] splits it, straight into `out`.
fn write_unstructured(name: &str, text: &str, out: &mut Vec<u8>) {
    let needs = |a: &Atom| !is_plain(&a.word) || a.word.len() > MAX_PLAIN_WORD;
    let mut folder = Folder::new(name, out);
    let mut input = atoms(text);
    while let Some(atom) = input.next() {
        if !needs(&atom) {
            folder.push(&atom.ws, &atom.word);
            continue;
        }
        // The run of words to encode together, with the whitespace between them: the text
        // itself unless a run of whitespace in it was shortened.
        let start = input.i - atom.word.len();
        let mut shortened = false;
        let mut end = input.i;
        loop {
            let mut probe = input.clone();
            match probe.next() {
                Some(n) if !n.word.is_empty() && needs(&n) => {
                    shortened |= n.ws.len() >= MAX_WS_RUN;
                    end = probe.i;
                    input = probe;
                }
                _ => break,
            }
        }
        let run = match text.get(start..end).filter(|_| !shortened) {
            Some(run) => Cow::Borrowed(run),
            None => {
                let mut run = atom.word.to_string();
                for n in atoms(text.get(start..end).unwrap_or_default()).skip(1) {
                    run.push_str(&n.ws);
                    run.push_str(&n.word);
                }
                Cow::Owned(run)
            }
        };
        let mut ws: &str = &atom.ws;
        encoded_word::encode_words_each(&run, |w| {
            folder.push(ws, w);
            ws = " ";
        });
    }
    folder.finish();
}

/// Writes `Name: value` as it is when it fits on a line and the name is clean (the common
/// case, and what the folding writer would write); false when it did not.
fn write_short(name: &str, value: &str, out: &mut Vec<u8>) -> bool {
    let fits = !name.is_empty()
        && !value.is_empty()
        && name.len() + 2 + value.len() <= FOLD_AT
        && !value.starts_with([' ', '\t'])
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b':');
    if fits {
        out.reserve(name.len() + value.len() + 4);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    fits
}

/// Writes `Name: value`, encoding and folding the value as [`encode`] describes.
pub(super) fn write_header(name: &str, value: &str, out: &mut Vec<u8>) {
    let value = value.trim_start_matches([' ', '\t']);
    if is_plain(value) && write_short(name, value, out) {
        return;
    }
    let address = ADDRESS_HEADERS.iter().any(|a| name.eq_ignore_ascii_case(a));
    if !address || is_plain(value) {
        return write_unstructured(name, value, out);
    }
    // An address too long for a line, or holding a control character (a NUL, a CR...),
    // cannot be valid: encode it rather than break SMTP.
    let atoms = encode_addresses(value).into_iter().flat_map(|a| {
        if a.word.len() > MAX_PLAIN_WORD || a.word.chars().any(char::is_control) {
            encode_unstructured(&a.word)
                .into_iter()
                .enumerate()
                .map(|(i, w)| Atom {
                    ws: if i == 0 { a.ws.clone() } else { " ".into() },
                    word: Cow::Owned(w.word.into_owned()),
                })
                .collect()
        } else {
            vec![a]
        }
    });
    write_folded(name, atoms, out);
}

/// Writes a structured value (parameters): folded at its spaces, never encoded.
pub(super) fn write_structured(name: &str, value: &str, out: &mut Vec<u8>) {
    if write_short(name, value, out) {
        return;
    }
    write_folded(name, atoms(value), out);
}

/// `s` reduced to RFC 2045 token characters, lower-case, or `default` when nothing is left.
pub(super) fn token_or<'a>(s: &'a str, default: &'a str) -> Cow<'a, str> {
    let token_byte = |b: &u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(b);
    // Already a lower-case token (what the builder and the decoder give): as it is.
    if !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes().all(|b| token_byte(&b) && !b.is_ascii_uppercase())
    {
        return Cow::Borrowed(s);
    }
    let t: String = s
        .bytes()
        .filter(token_byte)
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect();
    if t.is_empty() {
        Cow::Borrowed(default)
    } else {
        Cow::Owned(t.chars().take(MAX_NAME).collect())
    }
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
