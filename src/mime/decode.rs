//! The decoder: bytes of a message to a [`Part`] tree. Lenient and total: every input
//! except the empty one gives a tree (see [`decode_with`] for the rules it follows).

use std::borrow::Cow;
use std::marker::PhantomData;

use super::delimiters::{Buf, Stop};
use super::part_ref::{BodyOut, Borrowed, HeaderRef, Owned, ParamRef, PartRef, Tree, take_headers};
use super::{
    DecodeOptions, MimeError, Part, TransferEncoding, b64, charset, encoded_word, params, qp,
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
///   `message/*` types and all other types are [`Body::Bytes`](super::Body::Bytes). The
///   transfer-decoded copies of nested messages alive at once never exceed the input's size:
///   a nested message whose decoded copy would pass that is kept as a
///   [`Body::Bytes`](super::Body::Bytes) leaf of the decoded bytes.
/// - **Limits**: a multipart or nested message deeper than `max_depth` is kept as a
///   [`Body::Bytes`](super::Body::Bytes) leaf of its (transfer-decoded) body; more than
///   `max_parts` parts in all is [`MimeError::TooManyParts`], more than `max_headers` header
///   fields in one part [`MimeError::TooManyHeaders`], more than `max_params` parameters in a
///   `Content-Type` or `Content-Disposition` [`MimeError::TooManyParams`], more than
///   `max_fields` header fields and parameters in the whole message
///   [`MimeError::TooManyFields`].
///
/// **Cost**: one pass over the input, whatever its shape. Each line is found once; a line
/// that starts with `--` is checked against the open boundaries (compared with each one up
/// to 24 open levels, looked up in a hash map past that); then each byte is read by the
/// decoder of the one header or body it belongs to. Nested messages and multiparts are
/// parsed in place, never copied per level; only a non-conforming base64 or quoted-printable
/// nested message is decoded into a buffer of its own. Time is linear in the input size, and
/// a count cap stops the work at the cap.
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
///
/// [`decode_ref_with`] gives the same tree borrowing from the input, at a fraction of the
/// allocations.
pub fn decode_with(message: &[u8], opts: &DecodeOptions) -> Result<Part, MimeError> {
    decode_tree::<Owned>(message, opts)
}

/// Decodes a message with the default [`DecodeOptions`] into a tree that borrows from it. See
/// [`decode_ref_with`].
pub fn decode_ref(message: &[u8]) -> Result<PartRef<'_>, MimeError> {
    decode_ref_with(message, &DecodeOptions::default())
}

/// [`decode_with`] returning a [`PartRef`], which borrows from `message` every header name,
/// raw value and decoded value, parameter, type and body that is there as it is (UTF-8 or
/// ASCII, no folding, no encoded word, no transfer encoding, no charset conversion); only
/// what the decoder changes is allocated. The faster choice when the tree does not have to
/// outlive the input. Same rules, limits and errors as [`decode_with`]:
/// `decode_ref_with(m, o).map(PartRef::into_owned)` equals `decode_with(m, o)`. A nested
/// message undone from base64 or quoted-printable is decoded from a buffer of its own, so its
/// subtree owns all its values.
///
/// ```
/// use smtpkit::mime::{self, BodyRef};
///
/// let bytes = b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
/// let part = mime::decode_ref_with(bytes, &mime::DecodeOptions::default())?;
/// assert_eq!(part.header_value("subject"), Some("hi"));
/// assert!(matches!(&part.body, BodyRef::Text(t) if t == "hello\r\n"));
/// let owned: mime::Part = part.into_owned();
/// assert_eq!(owned, mime::decode(bytes)?);
/// # Ok::<(), mime::MimeError>(())
/// ```
pub fn decode_ref_with<'a>(
    message: &'a [u8],
    opts: &DecodeOptions,
) -> Result<PartRef<'a>, MimeError> {
    decode_tree::<Borrowed>(message, opts)
}

fn decode_tree<'a, T: Tree<'a>>(
    message: &'a [u8],
    opts: &DecodeOptions,
) -> Result<T::Part, MimeError> {
    if message.is_empty() {
        return Err(MimeError::Empty);
    }
    let counts = Counts {
        parts: 0,
        fields: 0,
        decoded_alive: 0,
        decoded_budget: message.len(),
        max_depth: opts.max_depth.min(HARD_MAX_DEPTH),
    };
    let mut ctx = Ctx::<T>::new(opts, counts);
    let mut buf = Buf::new(message);
    ctx.part(&mut buf, 0, false, 0).map(|(part, _)| part)
}

/// Recursion guard: `max_depth` values above this act as this.
const HARD_MAX_DEPTH: usize = 100;

/// What a decode has counted so far; a nested message decoded from its own buffer goes on
/// with the same counts.
#[derive(Clone, Copy)]
struct Counts {
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

/// One decode of a buffer of lifetime `'a` into the tree `T`.
struct Ctx<'o, 'a, T: Tree<'a>> {
    opts: &'o DecodeOptions,
    n: Counts,
    /// The headers of the part being read, until the tree takes them (before its body is
    /// decoded, so the parts inside reuse the list).
    headers: Vec<T::Header>,
    /// The parameters of the field being read, likewise.
    params: Vec<T::Param>,
    tree: PhantomData<T>,
}

/// The first LF at or after `from`, eight bytes at a time (no `unsafe`, no dependency).
/// `#[inline]`: the line loops of the delimiter search live in another module.
#[inline]
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
#[inline]
pub(super) fn line_at(data: &[u8], pos: usize) -> (usize, usize) {
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

/// A header's raw value as text (without decoding encoded words), for parsing its
/// parameters: borrowed from the input when the header is (the usual case: its value is its
/// raw bytes, already checked as UTF-8).
pub(super) fn field_text<'a>(h: &HeaderRef<'a>) -> Cow<'a, str> {
    if let (Cow::Borrowed(v), Cow::Borrowed(r)) = (&h.value, &h.raw)
        && std::ptr::eq(v.as_bytes(), *r)
    {
        return Cow::Borrowed(v);
    }
    match &h.raw {
        Cow::Borrowed(r) => charset::header_bytes_to_cow(r),
        Cow::Owned(r) => Cow::Owned(charset::header_bytes_to_cow(r).into_owned()),
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

fn first_header<'h, 'a, T: Tree<'a>>(
    headers: &'h [T::Header],
    name: &str,
) -> Option<&'h T::Header> {
    headers
        .iter()
        .find(|h| T::name(h).eq_ignore_ascii_case(name))
}

/// Parses a field with parameters, appending them to `out`: the main value, `None` past
/// `max_params` (nothing appended then). Text owned by the caller gives owned values.
pub(super) fn parse_field<'a>(
    text: Cow<'a, str>,
    max_params: usize,
    out: &mut Vec<ParamRef<'a>>,
) -> Option<Cow<'a, str>> {
    match text {
        Cow::Borrowed(t) => params::parse_into(t, max_params, out),
        Cow::Owned(t) => {
            let mut tmp: Vec<ParamRef<'_>> = Vec::new();
            let value = params::parse_into(&t, max_params, &mut tmp)?;
            out.extend(
                tmp.into_iter()
                    .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned()))),
            );
            Some(Cow::Owned(value.into_owned()))
        }
    }
}

/// `s` lower-cased, borrowed when it is already.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

pub(super) fn lower_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => lower(b),
        Cow::Owned(o) => Cow::Owned(lower(&o).into_owned()),
    }
}

/// `type/subtype` of a Content-Type value, trimmed, and whether it holds an upper-case
/// letter; `None` when it is not that.
fn split_type(value: &str) -> Option<(&str, &str, bool)> {
    let value = super::trim(value);
    // One pass over the usual value (`text/plain`: no space, one slash): where the slash is,
    // whether every byte is printable, whether any is upper-case.
    let (mut slash, mut graphic, mut upper) = (None, true, false);
    for (i, &b) in value.as_bytes().iter().enumerate() {
        match b {
            b'/' if slash.is_none() => slash = Some(i),
            b'A'..=b'Z' => upper = true,
            _ => graphic &= b.is_ascii_graphic() && b != b'/',
        }
    }
    let slash = slash?;
    let t = value.get(..slash).unwrap_or_default();
    let s = value.get(slash + 1..).unwrap_or_default();
    if graphic && !t.is_empty() && !s.is_empty() {
        return Some((t, s, upper));
    }
    // White space around the slash, or not a valid type: the general rule.
    let (t, s) = (super::trim(t), super::trim(s));
    let valid = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    (valid(t) && valid(s)).then_some((t, s, true))
}

/// The lower-cased type and subtype of a Content-Type value; `None` when it is not
/// `type/subtype`.
pub(super) fn content_type<'a>(value: Cow<'a, str>) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    match value {
        Cow::Borrowed(v) => split_type(v).map(|(t, s, upper)| match upper {
            false => (Cow::Borrowed(t), Cow::Borrowed(s)),
            true => (lower(t), lower(s)),
        }),
        Cow::Owned(v) => split_type(&v).map(|(t, s, _)| {
            (
                Cow::Owned(t.to_ascii_lowercase()),
                Cow::Owned(s.to_ascii_lowercase()),
            )
        }),
    }
}

fn transfer_decode<'d>(body: &'d [u8], encoding: &TransferEncoding) -> Cow<'d, [u8]> {
    match encoding {
        TransferEncoding::Base64 => Cow::Owned(b64::decode_lenient(body)),
        TransferEncoding::QuotedPrintable => Cow::Owned(qp::decode(body)),
        _ => Cow::Borrowed(body),
    }
}

/// A content type as the decoder carries it: type, subtype, parameters.
type Ct<'a, T> = (Cow<'a, str>, Cow<'a, str>, Vec<<T as Tree<'a>>::Param>);

impl<'o, 'a, T: Tree<'a>> Ctx<'o, 'a, T> {
    fn new(opts: &'o DecodeOptions, n: Counts) -> Self {
        Ctx {
            opts,
            n,
            headers: Vec::with_capacity(T::HEADER_ROOM),
            params: Vec::new(),
            tree: PhantomData,
        }
    }

    fn count(&mut self) -> Result<(), MimeError> {
        self.n.parts += 1;
        if self.n.parts > self.opts.max_parts {
            return Err(MimeError::TooManyParts {
                limit: self.opts.max_parts,
            });
        }
        Ok(())
    }

    fn count_fields(&mut self, n: usize) -> Result<(), MimeError> {
        self.n.fields = self.n.fields.saturating_add(n);
        if self.n.fields > self.opts.max_fields {
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

    /// `text/plain; charset=<default_charset>` (the parameter scratch list is empty here).
    fn default_text(&mut self) -> Ct<'a, T> {
        let charset = match self.opts.default_charset.as_str() {
            // The default default: no allocation for it.
            "us-ascii" => Cow::Borrowed("us-ascii"),
            other => Cow::Owned(other.to_owned()),
        };
        self.params.clear();
        self.params.push(T::param_of("charset", charset));
        (
            Cow::Borrowed("text"),
            Cow::Borrowed("plain"),
            T::params(&mut self.params),
        )
    }

    fn text_body(&self, charset: Option<&str>, data: Cow<'a, [u8]>) -> Cow<'a, str> {
        let label = charset
            .filter(|c| match c.as_bytes().first() {
                // The usual label starts with a letter: no char-by-char trim.
                Some(&b) if b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r') => true,
                _ => !c.trim().is_empty(),
            })
            .unwrap_or(&self.opts.default_charset);
        charset::cow_to_utf8_cow(data, label)
    }

    /// Reads the header block of the part starting at `start` into the header scratch list
    /// (values decoded). Returns where the body starts, and the stop when a delimiter line
    /// (or the end of the buffer) came before the body.
    fn headers(&mut self, buf: &Buf<'a>, start: usize) -> Result<(usize, Option<Stop>), MimeError> {
        let data = buf.data;
        self.headers.clear();
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
            let line: &'a [u8] = data.get(pos..content_end).unwrap_or_default();
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
                if let Some(h) = self.headers.last_mut() {
                    T::unfold(h, line);
                    stale = true;
                }
                pos = next;
                continue;
            }
            let Some(colon) = header_name_len(line) else {
                break (pos, None);
            };
            if self.headers.len() >= self.opts.max_headers {
                return Err(MimeError::TooManyHeaders {
                    limit: self.opts.max_headers,
                });
            }
            self.count_fields(1)?;
            if stale && let Some(h) = self.headers.last_mut() {
                T::redecode(h);
            }
            stale = false;
            let value = line.get(colon + 1..).unwrap_or_default();
            let skip = value
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(value.len());
            let raw: &'a [u8] = value.get(skip..).unwrap_or_default();
            // One UTF-8 check for the line gives the name and, for the usual value (no
            // encoded word), its text.
            let header = match std::str::from_utf8(line) {
                Ok(text) => {
                    let value = text.get(colon + 1 + skip..).unwrap_or_default();
                    T::header(
                        text.get(..colon).unwrap_or_default(),
                        raw,
                        if super::has_word_start(raw) {
                            Cow::Owned(encoded_word::decode(value))
                        } else {
                            Cow::Borrowed(value)
                        },
                    )
                }
                Err(_) => {
                    let name = line.get(..colon).unwrap_or_default();
                    // Printable ASCII (checked by `header_name_len`), so always valid UTF-8.
                    let name = std::str::from_utf8(name).unwrap_or_default();
                    T::header(name, raw, Cow::Owned(header_text(raw)))
                }
            };
            self.headers.push(header);
            pos = next;
        };
        if stale && let Some(h) = self.headers.last_mut() {
            T::redecode(h);
        }
        Ok((body_start, stop))
    }

    /// The body region starting at `start`: its bytes and the stop that ends it.
    fn region(&self, buf: &Buf<'a>, start: usize, known: Option<Stop>) -> (&'a [u8], Stop) {
        let stop = known.unwrap_or_else(|| buf.find_stop(start));
        (buf.slice(start, buf.end_of(start, stop)), stop)
    }

    /// Decodes a transfer-decoded nested message from its own buffer, with the counts so far.
    fn nested(&mut self, data: &[u8], depth: usize) -> Result<PartRef<'static>, MimeError> {
        let mut inner = Ctx::<Borrowed>::new(self.opts, self.n);
        let mut buf = Buf::new(data);
        let result = inner.part(&mut buf, 0, false, depth);
        self.n = inner.n;
        result.map(|(part, _)| part.into_static())
    }

    /// Decodes the part starting at `start` (a line start) in `buf`; `in_digest` selects the
    /// default type. Returns the part and the stop that ended it (not consumed).
    fn part(
        &mut self,
        buf: &mut Buf<'a>,
        start: usize,
        in_digest: bool,
        depth: usize,
    ) -> Result<(T::Part, Stop), MimeError> {
        self.count()?;
        let (body_start, known) = self.headers(buf, start)?;
        let max_params = self.opts.max_params;
        let ct_header = first_header::<T>(&self.headers, "content-type");
        let encoding = first_header::<T>(&self.headers, "content-transfer-encoding")
            .map(|h| TransferEncoding::parse(T::value(h)))
            .unwrap_or(TransferEncoding::SevenBit);
        let has_ct = ct_header.is_some();
        let parsed = match ct_header {
            Some(h) => {
                self.params.clear();
                T::content_type(h, max_params, &mut self.params)
                    .ok_or_else(|| self.too_many_params())?
            }
            None => None,
        };
        let (mut mime_type, mut subtype, mut ct_params) = match parsed {
            Some((t, s)) => {
                self.count_fields(self.params.len())?;
                (t, s, T::params(&mut self.params))
            }
            None if in_digest && !has_ct => {
                self.params.clear();
                (
                    Cow::Borrowed("message"),
                    Cow::Borrowed("rfc822"),
                    Vec::new(),
                )
            }
            None => self.default_text(),
        };
        let disposition = match first_header::<T>(&self.headers, "content-disposition") {
            Some(h) => {
                self.params.clear();
                let kind = T::disposition(h, max_params, &mut self.params)
                    .ok_or_else(|| self.too_many_params())?;
                self.count_fields(self.params.len())?;
                Some((kind, T::params(&mut self.params)))
            }
            None => None,
        };
        // Taken before the body: the parts inside reuse the scratch list.
        let headers = take_headers(&mut self.headers);
        let multipart = mime_type == "multipart";
        let container =
            multipart || (mime_type == "message" && matches!(&*subtype, "rfc822" | "global"));
        let (body, stop) = if container && depth >= self.n.max_depth {
            let (bytes, stop) = self.region(buf, body_start, known);
            (BodyOut::Bytes(transfer_decode(bytes, &encoding)), stop)
        } else if multipart {
            let boundary = T::param(&ct_params, "boundary").filter(|b| !b.is_empty());
            match boundary {
                None => {
                    (mime_type, subtype, ct_params) = self.default_text();
                    let (bytes, stop) = self.region(buf, body_start, known);
                    let charset = T::param(&ct_params, "charset");
                    (
                        BodyOut::Text(self.text_body(charset, Cow::Borrowed(bytes))),
                        stop,
                    )
                }
                Some(boundary) => {
                    let digest = subtype == "digest";
                    self.multipart(buf, boundary.as_bytes(), body_start, digest, depth)?
                }
            }
        } else if container {
            match encoding {
                TransferEncoding::Base64 | TransferEncoding::QuotedPrintable => {
                    let (bytes, stop) = self.region(buf, body_start, known);
                    let decoded = transfer_decode(bytes, &encoding).into_owned();
                    let alive = self.n.decoded_alive.saturating_add(decoded.len());
                    if alive > self.n.decoded_budget {
                        (BodyOut::Bytes(Cow::Owned(decoded)), stop)
                    } else {
                        self.n.decoded_alive = alive;
                        let result = self.nested(&decoded, depth + 1);
                        self.n.decoded_alive -= decoded.len();
                        (BodyOut::Message(T::from_static(result?)), stop)
                    }
                }
                _ => {
                    // Parsed in place: the nested message is the rest of this part's region.
                    let (inner, stop) = self.part(buf, body_start, false, depth + 1)?;
                    (BodyOut::Message(inner), stop)
                }
            }
        } else {
            let (bytes, stop) = self.region(buf, body_start, known);
            let decoded = transfer_decode(bytes, &encoding);
            let body = if mime_type == "text" {
                let charset = T::param(&ct_params, "charset");
                BodyOut::Text(self.text_body(charset, decoded))
            } else {
                BodyOut::Bytes(decoded)
            };
            (body, stop)
        };
        let part = T::part(
            headers,
            mime_type,
            subtype,
            ct_params,
            disposition,
            encoding,
            body,
        );
        Ok((part, stop))
    }

    /// The body of a multipart with this boundary, starting at `start`: its parts, and the
    /// stop that ended it (a delimiter of an enclosing level, or the end of the buffer).
    fn multipart(
        &mut self,
        buf: &mut Buf<'a>,
        boundary: &[u8],
        start: usize,
        digest: bool,
        depth: usize,
    ) -> Result<(BodyOut<'a, T::Part>, Stop), MimeError> {
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
                let (mime_type, subtype, params) = self.default_text();
                let bytes = buf.slice(start, buf.end_of(start, other));
                let text = self.text_body(T::param(&params, "charset"), Cow::Borrowed(bytes));
                let part = T::part(
                    Vec::new(),
                    mime_type,
                    subtype,
                    params,
                    None,
                    TransferEncoding::SevenBit,
                    BodyOut::Text(text),
                );
                return Ok((BodyOut::Multipart(vec![part]), other));
            }
        };
        let mut parts = Vec::new();
        loop {
            if closing {
                // The epilogue runs to a delimiter of an enclosing level; dropped.
                buf.pop();
                let stop = buf.find_stop(next);
                return Ok((BodyOut::Multipart(parts), stop));
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
                    return Ok((BodyOut::Multipart(parts), other));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
