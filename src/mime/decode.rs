//! The decoder: bytes of a message to a [`Part`] tree. Lenient and total: every input
//! except the empty one gives a tree (see [`decode_with`] for the rules it follows).

use std::borrow::Cow;
use std::collections::HashMap;

use super::{
    Body, ContentType, DecodeOptions, Disposition, Header, MimeError, Part, TransferEncoding, b64,
    charset, encoded_word, params, qp,
};

/// Decodes a message with the default [`DecodeOptions`]. See [`decode_with`].
pub fn decode(message: &[u8]) -> Result<Part, MimeError> {
    decode_with(message, &DecodeOptions::default())
}

/// Decodes a message. Never panics; fails only on empty input or when a count cap of
/// [`DecodeOptions`] is exceeded ([`MimeError`] names it).
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
///   epilogue are dropped. A delimiter of an enclosing multipart also ends every part inside
///   it (an outer boundary wins over an inner one with the same text). A missing closing
///   delimiter: parts run to the end of the body, whose final line break is dropped (as
///   Python). No delimiter at all (missing first boundary): the multipart holds one
///   `text/plain` part with the whole body. No `boundary` parameter: the part is read as
///   `text/plain` (its `content_type` says so).
/// - **Transfer encodings**: base64 lenient (junk skipped, padding optional), quoted-printable
///   lenient ([`qp::decode`]), anything else (7bit, 8bit, binary, unknown) as is.
/// - **Text** (`text/*`) is converted to UTF-8 from its `charset` (see [`charset`]): an
///   invalid or unknown charset still gives text, lossy.
/// - **Nested messages** (`message/rfc822`, `message/global`) are decoded recursively, after
///   undoing a (non-conforming) base64 or quoted-printable transfer encoding. Other
///   `message/*` types and all other types are [`Body::Bytes`]. The transfer-decoded copies
///   of nested messages alive at once never exceed the input's size: a nested message whose
///   decoded copy would pass that is kept as a [`Body::Bytes`] leaf of the decoded bytes.
/// - **Limits**: a multipart or nested message deeper than `max_depth` is kept as a
///   [`Body::Bytes`] leaf of its (transfer-decoded) body; more than `max_parts` parts in all
///   is [`MimeError::TooManyParts`], more than `max_headers` header fields in one part
///   [`MimeError::TooManyHeaders`], more than `max_params` parameters in a `Content-Type` or
///   `Content-Disposition` [`MimeError::TooManyParams`], more than `max_fields` header fields
///   and parameters in the whole message [`MimeError::TooManyFields`].
///
/// **Cost**: one pass over the input, whatever its shape. Each line is found once; a line
/// that starts with `--` is checked against the open boundaries (compared with each one up
/// to 24 open levels, looked up in a hash map past that); then each byte is read by the
/// decoder of the one header or body it belongs to. Parameters are grouped by name in a hash
/// map. Nested messages and multiparts are parsed in place, never copied per level; only a
/// non-conforming base64 or quoted-printable nested message is decoded into a buffer of its
/// own. Time is linear in the input size, and a count cap stops the work at the cap.
///
/// **Memory**: the heap held at the peak is the returned tree plus, at most, one body being
/// converted and the decoded copies of encoded nested messages (at most the input size in
/// all). For ASCII or UTF-8 input the tree holds each header twice (its raw bytes and its
/// text; `Content-Type` and `Content-Disposition` three times, with their parameters) and
/// each body once, so the peak stays within three times the input plus the fixed cost of
/// the counted items (100 to 180 bytes per header field or parameter, 400 to 600 per part,
/// however short they are on the wire), which the count caps of [`DecodeOptions`] bound to
/// a constant (about 25 MB at the defaults).
/// Text converted from an 8-bit legacy charset can grow to three UTF-8 bytes per input
/// byte.
pub fn decode_with(message: &[u8], opts: &DecodeOptions) -> Result<Part, MimeError> {
    if message.is_empty() {
        return Err(MimeError::Empty);
    }
    let mut ctx = Ctx {
        opts,
        parts: 0,
        fields: 0,
        decoded_alive: 0,
        decoded_budget: message.len(),
        max_depth: opts.max_depth.min(HARD_MAX_DEPTH),
    };
    let mut buf = Buf::new(message);
    ctx.part(&mut buf, 0, false, 0).map(|(part, _)| part)
}

/// Recursion guard: `max_depth` values above this act as this.
const HARD_MAX_DEPTH: usize = 100;

struct Ctx<'a> {
    opts: &'a DecodeOptions,
    /// Parts counted so far (against `max_parts`).
    parts: usize,
    /// Header fields and parameters counted so far (against `max_fields`).
    fields: usize,
    /// Bytes of transfer-decoded nested messages alive now.
    decoded_alive: usize,
    /// Most bytes of transfer-decoded nested messages alive at once: the input size.
    decoded_budget: usize,
    max_depth: usize,
}

/// The first LF at or after `from`, eight bytes at a time (no `unsafe`, no dependency).
pub(crate) fn find_lf(data: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const LFS: u64 = ONES * b'\n' as u64;
    let rest = data.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut offset = from;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ LFS;
        // Nonzero exactly when some byte of x is zero, i.e. some byte is an LF.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            return chunk.iter().position(|&b| b == b'\n').map(|p| offset + p);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| offset + p)
}

/// The line starting at `pos`: (end of its content, start of the next line). The content
/// excludes the CRLF or LF.
fn line_at(data: &[u8], pos: usize) -> (usize, usize) {
    match find_lf(data, pos) {
        Some(end) => {
            let content_end = if end > pos && data.get(end - 1) == Some(&b'\r') {
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
    // One pass: the first byte that is a colon or not printable ASCII must be a colon.
    let end = line
        .iter()
        .position(|&b| b == b':' || !(0x21..=0x7e).contains(&b))?;
    (end > 0 && line.get(end) == Some(&b':')).then_some(end)
}

fn trim_end_wsp(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(0, |i| i + 1);
    b.get(..n).unwrap_or_default()
}

/// Where a region of the buffer (a part, a body, a preamble) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The end of the buffer.
    Eof,
    /// A delimiter line of the open multipart `level`: the line starts at `line`, the next
    /// one at `next`.
    Delim {
        line: usize,
        next: usize,
        level: usize,
        closing: bool,
    },
}

/// Whether `rest` (a line after its leading `--`) is `boundary`, optionally `--`, then only
/// spaces or tabs: `Some(closing)` when it is.
fn delimiter_of(boundary: &[u8], rest: &[u8]) -> Option<bool> {
    // Boundaries of nested parts often differ only at their end (`b0`, `b1`...): the last
    // byte rejects most of them without a full comparison.
    if let Some(last) = boundary.len().checked_sub(1)
        && rest.get(last) != boundary.get(last)
    {
        return None;
    }
    let tail = rest.strip_prefix(boundary)?;
    let (closing, tail) = match tail.strip_prefix(b"--") {
        Some(t) => (true, t),
        None => (false, tail),
    };
    tail.iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(closing)
}

/// Up to this many open levels (more than the default `max_depth`) a candidate line, one
/// that starts with `--`, is compared with each boundary: at most this many comparisons of
/// at most the line's length. Past it the line is looked up in a hash map by the two keys
/// it could carry, so the cost per line stops growing with the depth.
const LINEAR_LEVELS: usize = 24;

/// The boundaries of the open multiparts, outermost first, in one buffer: opening a level
/// copies its boundary once, without an allocation of its own.
#[derive(Default)]
struct Levels {
    bytes: Vec<u8>,
    /// Where each level's boundary ends in `bytes`, and whether it is a prefix of an outer
    /// level's boundary or has one as its prefix.
    ends: Vec<(usize, bool)>,
    /// Open levels so flagged. With none, a line can be the delimiter of one level at most
    /// (two boundaries that both start a line are prefixes of one another).
    prefixed: usize,
}

impl Levels {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn get(&self, level: usize) -> Option<&[u8]> {
        let (end, _) = *self.ends.get(level)?;
        let start = match level.checked_sub(1) {
            Some(prev) => self.ends.get(prev)?.0,
            None => 0,
        };
        self.bytes.get(start..end)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&(end, _)| {
            let b = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            b
        })
    }

    fn push(&mut self, boundary: &[u8]) {
        let prefixed = self
            .iter()
            .any(|b| b.starts_with(boundary) || boundary.starts_with(b));
        self.bytes.extend_from_slice(boundary);
        self.ends.push((self.bytes.len(), prefixed));
        self.prefixed += usize::from(prefixed);
    }

    fn pop(&mut self) {
        if let Some((_, prefixed)) = self.ends.pop() {
            self.prefixed -= usize::from(prefixed);
        }
        self.bytes.truncate(self.ends.last().map_or(0, |e| e.0));
    }
}

/// A buffer being parsed (the message, or a transfer-decoded nested message) and the
/// boundaries of the multiparts open in it, outermost first.
struct Buf<'b> {
    data: &'b [u8],
    levels: Levels,
    /// Past [`LINEAR_LEVELS`] open levels: a boundary with trailing spaces and tabs removed,
    /// to the open levels using it, outermost first (a level whose boundary repeats an outer
    /// one exactly is left out: the outer one always wins). So the cost of a line does not
    /// grow with the nesting depth.
    index: Option<HashMap<Vec<u8>, Vec<usize>>>,
}

impl<'b> Buf<'b> {
    fn new(data: &'b [u8]) -> Self {
        Buf {
            data,
            levels: Levels::default(),
            index: None,
        }
    }

    fn index_level(
        index: &mut HashMap<Vec<u8>, Vec<usize>>,
        levels: &Levels,
        level: usize,
        boundary: &[u8],
    ) {
        let users = index.entry(trim_end_wsp(boundary).to_vec()).or_default();
        let shadowed = users
            .iter()
            .any(|&l| levels.get(l).is_some_and(|b| b == boundary));
        if !shadowed {
            users.push(level);
        }
    }

    /// Opens a multipart level; returns its index.
    fn push(&mut self, boundary: &[u8]) -> usize {
        let level = self.levels.len();
        if self.index.is_none() && level >= LINEAR_LEVELS {
            let mut index = HashMap::new();
            for (l, b) in self.levels.iter().enumerate() {
                Self::index_level(&mut index, &self.levels, l, b);
            }
            self.index = Some(index);
        }
        if let Some(index) = &mut self.index {
            Self::index_level(index, &self.levels, level, boundary);
        }
        self.levels.push(boundary);
        level
    }

    /// Closes the innermost level.
    fn pop(&mut self) {
        let Some(level) = self.levels.len().checked_sub(1) else {
            return;
        };
        if level <= LINEAR_LEVELS {
            self.index = None;
            self.levels.pop();
            return;
        }
        let key = trim_end_wsp(self.levels.get(level).unwrap_or_default());
        if let Some(index) = &mut self.index
            && let Some(users) = index.get_mut(key)
            && users.last() == Some(&level)
        {
            users.pop();
            if users.is_empty() {
                index.remove(key);
            }
        }
        self.levels.pop();
    }

    /// Whether `line` (without its line break) is a delimiter of an open level: the
    /// outermost such level and whether the delimiter is a closing one.
    fn delimiter(&self, line: &[u8]) -> Option<(usize, bool)> {
        let rest = line.strip_prefix(b"--")?;
        let Some(index) = &self.index else {
            if self.levels.prefixed == 0 {
                // One level at most can match: innermost first, where most delimiters are.
                return (0..self.levels.len()).rev().find_map(|level| {
                    let b = self.levels.get(level).unwrap_or_default();
                    delimiter_of(b, rest).map(|closing| (level, closing))
                });
            }
            return self
                .levels
                .iter()
                .enumerate()
                .find_map(|(level, b)| delimiter_of(b, rest).map(|closing| (level, closing)));
        };
        // `--boundary` then white space: the key is the line trimmed; `--boundary--` then
        // white space: the line trimmed, without its `--`, trimmed again (the boundary may
        // end in white space itself).
        let open_key = trim_end_wsp(rest);
        let close_key = open_key.strip_suffix(b"--").map(trim_end_wsp);
        let mut found: Option<(usize, bool)> = None;
        for key in std::iter::once(open_key).chain(close_key) {
            for &level in index.get(key).map(Vec::as_slice).unwrap_or_default() {
                if found.is_some_and(|(f, _)| f <= level) {
                    break;
                }
                let boundary = self.levels.get(level).unwrap_or_default();
                if let Some(closing) = delimiter_of(boundary, rest) {
                    found = Some((level, closing));
                    break;
                }
            }
        }
        found
    }

    /// The stop when the line at `pos` (a line start) is a delimiter of an open level.
    fn stop_at(&self, pos: usize) -> Option<Stop> {
        if self.levels.is_empty() || !self.data.get(pos..)?.starts_with(b"--") {
            return None;
        }
        let (content_end, next) = line_at(self.data, pos);
        let (level, closing) = self.delimiter(self.data.get(pos..content_end)?)?;
        Some(Stop::Delim {
            line: pos,
            next,
            level,
            closing,
        })
    }

    /// The first delimiter line of an open level at or after `pos` (a line start).
    fn find_stop(&self, mut pos: usize) -> Stop {
        if self.levels.is_empty() {
            return Stop::Eof;
        }
        while pos < self.data.len() {
            if let Some(stop) = self.stop_at(pos) {
                return stop;
            }
            match find_lf(self.data, pos) {
                Some(lf) => pos = lf + 1,
                None => break,
            }
        }
        Stop::Eof
    }

    /// The end of a region that starts at `start` and is ended by `stop`: the line break
    /// before a delimiter belongs to the delimiter, and each multipart left unclosed drops
    /// one more final line break of its last part (as if each level had cut out its parts
    /// before its children were parsed).
    fn end_of(&self, start: usize, stop: Stop) -> usize {
        let (mut end, trims) = match stop {
            Stop::Eof => (self.data.len(), self.levels.len()),
            Stop::Delim { line, level, .. } => (line, self.levels.len().saturating_sub(level)),
        };
        for _ in 0..trims {
            if end > start && self.data.get(end - 1) == Some(&b'\n') {
                end -= 1;
                if end > start && self.data.get(end - 1) == Some(&b'\r') {
                    end -= 1;
                }
            } else {
                break;
            }
        }
        end.max(start)
    }

    fn slice(&self, start: usize, end: usize) -> &'b [u8] {
        self.data.get(start..end).unwrap_or_default()
    }
}

/// A header's raw value as text (without decoding encoded words): its decoded value when
/// that is the raw value as it is (the usual case), which spares a second UTF-8 check.
fn header_cow(h: &Header) -> Cow<'_, str> {
    if h.value.as_bytes() == h.raw.as_slice() {
        Cow::Borrowed(&h.value)
    } else {
        charset::header_bytes_to_cow(&h.raw)
    }
}

/// Decodes a header's raw value to text.
pub(crate) fn header_text(raw: &[u8]) -> String {
    let text = charset::header_bytes_to_cow(raw);
    if super::has_word_start(text.as_bytes()) {
        encoded_word::decode(&text)
    } else {
        text.into_owned()
    }
}

fn first_header<'h>(headers: &'h [Header], name: &str) -> Option<&'h Header> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// Parses a Content-Type value: `None` when it is not `type/subtype`; `Err` when it has more
/// than `max_params` parameters.
fn parse_content_type(h: &Header, max_params: usize) -> Result<Option<ContentType>, ()> {
    let text = header_cow(h);
    let (value, params) = params::parse_borrowed(&text, max_params).ok_or(())?;
    let Some((t, s)) = value.split_once('/') else {
        return Ok(None);
    };
    let (t, s) = (super::trim(t), super::trim(s));
    let valid = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if !valid(t) || !valid(s) {
        return Ok(None);
    }
    Ok(Some(ContentType {
        mime_type: t.to_ascii_lowercase(),
        subtype: s.to_ascii_lowercase(),
        params,
    }))
}

fn transfer_decode<'d>(body: &'d [u8], encoding: &TransferEncoding) -> Cow<'d, [u8]> {
    match encoding {
        TransferEncoding::Base64 => Cow::Owned(b64::decode_lenient(body)),
        TransferEncoding::QuotedPrintable => Cow::Owned(qp::decode(body)),
        _ => Cow::Borrowed(body),
    }
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

    fn count_fields(&mut self, n: usize) -> Result<(), MimeError> {
        self.fields = self.fields.saturating_add(n);
        if self.fields > self.opts.max_fields {
            return Err(MimeError::TooManyFields {
                limit: self.opts.max_fields,
            });
        }
        Ok(())
    }

    fn too_many_params(&self) -> MimeError {
        MimeError::TooManyParams {
            limit: self.opts.max_params,
        }
    }

    fn default_text(&self) -> ContentType {
        ContentType {
            mime_type: "text".to_owned(),
            subtype: "plain".to_owned(),
            params: vec![("charset".to_owned(), self.opts.default_charset.clone())],
        }
    }

    fn text_body(&self, ct: &ContentType, data: Cow<'_, [u8]>) -> Body {
        let label = ct
            .param("charset")
            .filter(|c| match c.as_bytes().first() {
                // The usual label starts with a letter: no char-by-char trim.
                Some(&b) if b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r') => true,
                _ => !c.trim().is_empty(),
            })
            .unwrap_or(&self.opts.default_charset);
        Body::Text(charset::cow_to_utf8(data, label))
    }

    /// Reads the header block of the part starting at `start`. Returns the headers (values
    /// not yet decoded), where the body starts, and the stop when a delimiter line (or the
    /// end of the buffer) came before the body.
    fn headers(
        &mut self,
        buf: &Buf<'_>,
        start: usize,
    ) -> Result<(Vec<Header>, usize, Option<Stop>), MimeError> {
        let data = buf.data;
        let mut headers: Vec<Header> = Vec::new();
        // The last header got continuation lines: its text is decoded again at its end.
        let mut stale = false;
        let mut pos = start;
        let mut first = true;
        let (body_start, stop) = loop {
            if pos >= data.len() {
                break (data.len(), Some(Stop::Eof));
            }
            if let Some(stop) = buf.stop_at(pos) {
                break (pos, Some(stop));
            }
            let (content_end, next) = line_at(data, pos);
            let line = data.get(pos..content_end).unwrap_or_default();
            if line.is_empty() {
                break (next, None);
            }
            if first && line.starts_with(b"From ") {
                first = false;
                pos = next;
                continue;
            }
            first = false;
            if matches!(line.first(), Some(b' ' | b'\t')) {
                if let Some(h) = headers.last_mut() {
                    h.raw.extend_from_slice(line);
                    stale = true;
                }
                pos = next;
                continue;
            }
            let Some(colon) = header_name_len(line) else {
                break (pos, None);
            };
            if headers.len() >= self.opts.max_headers {
                return Err(MimeError::TooManyHeaders {
                    limit: self.opts.max_headers,
                });
            }
            self.count_fields(1)?;
            if stale && let Some(h) = headers.last_mut() {
                h.value = header_text(&h.raw);
            }
            stale = false;
            let value = line.get(colon + 1..).unwrap_or_default();
            let skip = value
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(value.len());
            let raw = value.get(skip..).unwrap_or_default();
            // One UTF-8 check for the line gives the name and, for the usual value (no
            // encoded word), its text.
            let header = match std::str::from_utf8(line) {
                Ok(text) => {
                    let name = text.get(..colon).unwrap_or_default().to_owned();
                    let value = text.get(colon + 1 + skip..).unwrap_or_default();
                    let value = if super::has_word_start(raw) {
                        encoded_word::decode(value)
                    } else {
                        value.to_owned()
                    };
                    Header {
                        name,
                        raw: raw.to_vec(),
                        value,
                    }
                }
                Err(_) => {
                    let name = line.get(..colon).unwrap_or_default();
                    // Printable ASCII (checked by `header_name_len`), so always valid UTF-8.
                    let name = std::str::from_utf8(name).unwrap_or_default().to_owned();
                    Header {
                        name,
                        raw: raw.to_vec(),
                        value: header_text(raw),
                    }
                }
            };
            headers.push(header);
            pos = next;
        };
        if stale && let Some(h) = headers.last_mut() {
            h.value = header_text(&h.raw);
        }
        Ok((headers, body_start, stop))
    }

    /// The body region starting at `start`: its bytes and the stop that ends it.
    fn region<'b>(&self, buf: &Buf<'b>, start: usize, known: Option<Stop>) -> (&'b [u8], Stop) {
        let stop = known.unwrap_or_else(|| buf.find_stop(start));
        (buf.slice(start, buf.end_of(start, stop)), stop)
    }

    /// Decodes the part starting at `start` (a line start) in `buf`; `in_digest` selects the
    /// default type. Returns the part and the stop that ended it (not consumed).
    fn part(
        &mut self,
        buf: &mut Buf<'_>,
        start: usize,
        in_digest: bool,
        depth: usize,
    ) -> Result<(Part, Stop), MimeError> {
        self.count()?;
        let (headers, body_start, known) = self.headers(buf, start)?;
        let content_type_header = first_header(&headers, "content-type");
        let parsed = match content_type_header {
            Some(h) => {
                parse_content_type(h, self.opts.max_params).map_err(|()| self.too_many_params())?
            }
            None => None,
        };
        let mut content_type = match parsed {
            Some(ct) => {
                self.count_fields(ct.params.len())?;
                ct
            }
            None if in_digest && content_type_header.is_none() => {
                ContentType::new("message", "rfc822")
            }
            None => self.default_text(),
        };
        let encoding = first_header(&headers, "content-transfer-encoding")
            .map(|h| TransferEncoding::parse(&h.value))
            .unwrap_or(TransferEncoding::SevenBit);
        let disposition = match first_header(&headers, "content-disposition") {
            Some(h) => {
                let text = header_cow(h);
                let (kind, params) = params::parse_borrowed(&text, self.opts.max_params)
                    .ok_or_else(|| self.too_many_params())?;
                self.count_fields(params.len())?;
                Some(Disposition {
                    kind: kind.to_ascii_lowercase(),
                    params,
                })
            }
            None => None,
        };
        let multipart = content_type.mime_type == "multipart";
        let container = multipart
            || (content_type.mime_type == "message"
                && matches!(content_type.subtype.as_str(), "rfc822" | "global"));
        let (body, stop) = if container && depth >= self.max_depth {
            let (bytes, stop) = self.region(buf, body_start, known);
            let decoded = transfer_decode(bytes, &encoding).into_owned();
            (Body::Bytes(decoded), stop)
        } else if multipart {
            let boundary = content_type
                .param("boundary")
                .filter(|b| !b.is_empty())
                .map(str::as_bytes);
            match boundary {
                None => {
                    content_type = self.default_text();
                    let (bytes, stop) = self.region(buf, body_start, known);
                    (self.text_body(&content_type, Cow::Borrowed(bytes)), stop)
                }
                Some(boundary) => {
                    let digest = content_type.subtype == "digest";
                    self.multipart(buf, boundary, body_start, digest, depth)?
                }
            }
        } else if container {
            match encoding {
                TransferEncoding::Base64 | TransferEncoding::QuotedPrintable => {
                    let (bytes, stop) = self.region(buf, body_start, known);
                    let decoded = transfer_decode(bytes, &encoding).into_owned();
                    let alive = self.decoded_alive.saturating_add(decoded.len());
                    if alive > self.decoded_budget {
                        (Body::Bytes(decoded), stop)
                    } else {
                        self.decoded_alive = alive;
                        let mut inner = Buf::new(&decoded);
                        let result = self.part(&mut inner, 0, false, depth + 1);
                        self.decoded_alive -= decoded.len();
                        (Body::Message(Box::new(result?.0)), stop)
                    }
                }
                _ => {
                    // Parsed in place: the nested message is the rest of this part's region.
                    let (inner, stop) = self.part(buf, body_start, false, depth + 1)?;
                    (Body::Message(Box::new(inner)), stop)
                }
            }
        } else {
            let (bytes, stop) = self.region(buf, body_start, known);
            let decoded = transfer_decode(bytes, &encoding);
            let body = if content_type.mime_type == "text" {
                self.text_body(&content_type, decoded)
            } else {
                Body::Bytes(decoded.into_owned())
            };
            (body, stop)
        };
        Ok((
            Part {
                headers,
                content_type,
                disposition,
                encoding,
                body,
            },
            stop,
        ))
    }

    /// The body of a multipart with this boundary, starting at `start`: its parts, and the
    /// stop that ended it (a delimiter of an enclosing level, or the end of the buffer).
    fn multipart(
        &mut self,
        buf: &mut Buf<'_>,
        boundary: &[u8],
        start: usize,
        digest: bool,
        depth: usize,
    ) -> Result<(Body, Stop), MimeError> {
        let level = buf.push(boundary);
        // The preamble: up to the first delimiter of any open level.
        let (mut next, mut closing) = match buf.find_stop(start) {
            Stop::Delim {
                level: l,
                next,
                closing,
                ..
            } if l == level => (next, closing),
            other => {
                // No delimiter of its own: one text part holding the whole body.
                buf.pop();
                self.count()?;
                let ct = self.default_text();
                let bytes = buf.slice(start, buf.end_of(start, other));
                let text = self.text_body(&ct, Cow::Borrowed(bytes));
                let part = Part {
                    headers: Vec::new(),
                    content_type: ct,
                    disposition: None,
                    encoding: TransferEncoding::SevenBit,
                    body: text,
                };
                return Ok((Body::Multipart(vec![part]), other));
            }
        };
        let mut parts = Vec::new();
        loop {
            if closing {
                // The epilogue runs to a delimiter of an enclosing level; dropped.
                buf.pop();
                let stop = buf.find_stop(next);
                return Ok((Body::Multipart(parts), stop));
            }
            let (child, stop) = self.part(buf, next, digest, depth + 1)?;
            parts.push(child);
            match stop {
                Stop::Delim {
                    level: l,
                    next: n,
                    closing: c,
                    ..
                } if l == level => {
                    next = n;
                    closing = c;
                }
                other => {
                    // Unclosed: ended by an enclosing level's delimiter or the end.
                    buf.pop();
                    return Ok((Body::Multipart(parts), other));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
