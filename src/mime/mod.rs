//! MIME messages (RFC 2045–2049, 2231, 6532): a tree of [`Part`]s, a lenient [`decode`]r that
//! never panics, and an [`encode`]r whose output is always SMTP-safe. The Rust counterpart of
//! gen_smtp's `mimemail`.
//!
//! ```
//! use smtpkit::mime::{self, Part, Body};
//!
//! let message = Part::multipart("mixed", vec![
//!     Part::text("plain", "Grüße!\r\n"),
//!     Part::bytes("application", "pdf", vec![0u8, 1, 2]).disposition("attachment", Some("Bericht.pdf")),
//! ])
//! .header("From", "Jörg <jorg@example.com>")
//! .header("Subject", "Bericht für März");
//! let bytes = mime::encode(&message);
//! let back = mime::decode(&bytes)?;
//! assert_eq!(back.header_value("subject"), Some("Bericht für März"));
//! let Body::Multipart(parts) = &back.body else { panic!() };
//! assert_eq!(parts[0].body, Body::Text("Grüße!\r\n".into()));
//! assert_eq!(parts[1].filename(), Some("Bericht.pdf"));
//! # Ok::<(), mime::MimeError>(())
//! ```
//!
//! The rules the decoder follows (line endings, broken boundaries, defaults, limits) are listed
//! on [`decode_with`]; what the encoder guarantees and chooses, on [`encode`].
//!
//! The codecs are public for reuse: [`qp`] (quoted-printable bodies), [`encoded_word`]
//! (RFC 2047 header words), [`params`] (`Content-Type`-style parameters with RFC 2231) and
//! [`charset`] (conversion to UTF-8).

pub mod addr;
mod b64;
pub mod builder;
pub mod charset;
mod decode;
mod delimiters;
mod encode;
pub mod encoded_word;
pub mod params;
mod part_ref;
pub mod qp;
#[cfg(test)]
mod roundtrip_tests;
mod scan;
pub mod util;

pub use decode::{decode, decode_ref, decode_ref_with, decode_with};
pub use encode::encode;
pub use part_ref::{BodyRef, ContentTypeRef, DispositionRef, HeaderRef, ParamRef, PartRef};

/// One header field: name as written, the unfolded raw value (bytes after the colon, leading
/// whitespace trimmed, folding CRLFs removed), and the decoded text (RFC 2047 words decoded;
/// raw UTF-8 (RFC 6532) kept as UTF-8; other 8-bit bytes decoded as windows-1252, a superset
/// of latin-1, so nothing is lost to U+FFFD).
///
/// Headers added with [`Part::header`] hold the text in both `raw` (as UTF-8) and `value`;
/// [`encode`] writes `value`, encoding it as needed, and ignores `raw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name as written (case kept).
    pub name: String,
    /// The unfolded value as it was on the wire.
    pub raw: Vec<u8>,
    /// The decoded value.
    pub value: String,
}

impl Header {
    /// A header with the given name and decoded text (`raw` is the text as UTF-8).
    pub fn new(name: &str, value: &str) -> Header {
        Header {
            name: name.to_owned(),
            raw: value.as_bytes().to_vec(),
            value: value.to_owned(),
        }
    }
}

/// Content-Type: lower-case type and subtype, parameters in order (names lower-case, values
/// decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// The top-level type: `text`, `multipart`, ...
    pub mime_type: String,
    /// The subtype: `plain`, `mixed`, ...
    pub subtype: String,
    /// The parameters, names lower-case, values decoded (RFC 2231, RFC 2047).
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// `type/subtype` without parameters (both lower-cased).
    pub fn new(t: &str, s: &str) -> Self {
        ContentType {
            mime_type: t.trim().to_ascii_lowercase(),
            subtype: s.trim().to_ascii_lowercase(),
            params: Vec::new(),
        }
    }

    /// The value of the first parameter with this name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// `type/subtype`, e.g. `"text/plain"`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.mime_type, self.subtype)
    }

    /// Sets a parameter, replacing the first one of that name or appending.
    pub fn set_param(&mut self, name: &str, value: &str) {
        set_param(&mut self.params, name, value);
    }
}

/// Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// Lower-case: `inline`, `attachment`, ...
    pub kind: String,
    /// The parameters, names lower-case, values decoded (RFC 2231, RFC 2047).
    pub params: Vec<(String, String)>,
}

impl Disposition {
    /// The value of the first parameter with this name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

fn find_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn set_param(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    match params
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(slot) => slot.1 = value.to_owned(),
        None => params.push((name.to_ascii_lowercase(), value.to_owned())),
    }
}

/// Content-Transfer-Encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7bit` (also the meaning of a missing header).
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`.
    Binary,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
    /// Anything else, lower-cased (the body is kept as it was).
    Other(String),
}

impl TransferEncoding {
    /// The header value: `7bit`, `quoted-printable`, ...
    pub fn as_str(&self) -> &str {
        match self {
            TransferEncoding::SevenBit => "7bit",
            TransferEncoding::EightBit => "8bit",
            TransferEncoding::Binary => "binary",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Base64 => "base64",
            TransferEncoding::Other(s) => s,
        }
    }

    /// Parses a header value (case-insensitive, trimmed).
    pub fn parse(value: &str) -> TransferEncoding {
        let v = trim(value);
        let known = [
            ("7bit", TransferEncoding::SevenBit),
            ("8bit", TransferEncoding::EightBit),
            ("binary", TransferEncoding::Binary),
            ("quoted-printable", TransferEncoding::QuotedPrintable),
            ("base64", TransferEncoding::Base64),
        ];
        known
            .into_iter()
            .find(|(name, _)| v.eq_ignore_ascii_case(name))
            .map(|(_, e)| e)
            .unwrap_or_else(|| TransferEncoding::Other(v.to_ascii_lowercase()))
    }
}

/// A body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// text/* decoded to UTF-8 (line endings as in the decoded content).
    Text(String),
    /// Anything else, decoded bytes.
    Bytes(Vec<u8>),
    /// multipart/*: the parts (preamble and epilogue dropped).
    Multipart(Vec<Part>),
    /// message/rfc822 (and message/global): the nested message.
    Message(Box<Part>),
}

/// A message or a part of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Headers in order, the part's own only. After [`decode`] this includes
    /// `Content-Type` and the other MIME headers; [`encode`] skips those three
    /// (`Content-Type`, `Content-Disposition`, `Content-Transfer-Encoding`) and writes them
    /// from the fields below instead.
    pub headers: Vec<Header>,
    /// The content type (a default when the header is missing or invalid).
    pub content_type: ContentType,
    /// Content-Disposition, `None` when the part has no such header.
    pub disposition: Option<Disposition>,
    /// The transfer encoding the part had (after [`decode`]) or will get (constructors).
    /// [`encode`] chooses its own and does not read this field.
    pub encoding: TransferEncoding,
    /// The decoded body.
    pub body: Body,
}

/// `str::trim`, without its char-by-char scan when both ends are ASCII and not white space
/// (the usual header token).
pub(crate) fn trim(s: &str) -> &str {
    let solid =
        |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii() && !b.is_ascii_whitespace() && b != 0x0b);
    if solid(s.as_bytes().first()) && solid(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// Whether `b` holds `=?`, the start of an RFC 2047 encoded word. A byte search: cheaper than
/// `str::contains` on the short strings of headers and parameters.
pub(crate) fn has_word_start(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'=')) {
        if b.get(i + p + 1) == Some(&b'?') {
            return true;
        }
        i += p + 1;
    }
    false
}

/// Converts line endings to CRLF (lone CR and lone LF alike).
pub(crate) fn to_crlf(text: &str) -> std::borrow::Cow<'_, str> {
    if !has_bare_line_ending(text.as_bytes()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut start = 0;
    // Copy the runs between line endings; CR and LF are ASCII, so every cut is on a
    // character boundary.
    while let Some(p) = b
        .get(start..)
        .and_then(|r| r.iter().position(|&c| c == b'\r' || c == b'\n'))
    {
        let j = start + p;
        out.push_str(text.get(start..j).unwrap_or_default());
        out.push_str("\r\n");
        start = if b.get(j) == Some(&b'\r') && b.get(j + 1) == Some(&b'\n') {
            j + 2
        } else {
            j + 1
        };
    }
    out.push_str(text.get(start..).unwrap_or_default());
    std::borrow::Cow::Owned(out)
}

/// True when `b` has a CR not followed by LF, or an LF not preceded by CR.
fn has_bare_line_ending(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = b
        .get(i..)
        .and_then(|r| r.iter().position(|&c| c == b'\r' || c == b'\n'))
    {
        let j = i + p;
        if b.get(j) == Some(&b'\r') && b.get(j + 1) == Some(&b'\n') {
            i = j + 2;
        } else {
            return true;
        }
    }
    false
}

impl Part {
    /// A `text/<subtype>; charset=utf-8` leaf. Line endings are converted to CRLF, the
    /// canonical form of text (RFC 2046 §4.1.1), so that [`decode`] gives the text back
    /// exactly.
    pub fn text(subtype: &str, text: impl Into<String>) -> Part {
        let text: String = text.into();
        // One pass finds both; no copy when the text is already in CRLF form.
        let scan = scan::scan_text(text.as_bytes());
        let (text, encoding) = if scan.bare_eol {
            let text = to_crlf(&text).into_owned();
            let encoding = scan::text_encoding(text.as_bytes());
            (text, encoding)
        } else {
            (text, scan.encoding)
        };
        let mut content_type = ContentType::new("text", subtype);
        content_type.set_param("charset", "utf-8");
        Part {
            headers: Vec::new(),
            content_type,
            disposition: None,
            encoding,
            body: Body::Text(text),
        }
    }

    /// A leaf of any type holding bytes (written as base64). For `text/*` prefer
    /// [`Part::text`]: text bodies are decoded to [`Body::Text`].
    pub fn bytes(mime_type: &str, subtype: &str, data: impl Into<Vec<u8>>) -> Part {
        Part {
            headers: Vec::new(),
            content_type: ContentType::new(mime_type, subtype),
            disposition: None,
            encoding: TransferEncoding::Base64,
            body: Body::Bytes(data.into()),
        }
    }

    /// A `multipart/<subtype>` holding `parts` (the boundary is chosen by [`encode`]).
    pub fn multipart(subtype: &str, parts: Vec<Part>) -> Part {
        Part {
            headers: Vec::new(),
            content_type: ContentType::new("multipart", subtype),
            disposition: None,
            encoding: TransferEncoding::SevenBit,
            body: Body::Multipart(parts),
        }
    }

    /// A `message/rfc822` holding `inner`.
    pub fn message(inner: Part) -> Part {
        Part {
            headers: Vec::new(),
            content_type: ContentType::new("message", "rfc822"),
            disposition: None,
            encoding: TransferEncoding::SevenBit,
            body: Body::Message(Box::new(inner)),
        }
    }

    /// Adds a header (name: text; the value is encoded on output as needed: RFC 2047 words,
    /// folding). Returns self for chaining.
    pub fn header(mut self, name: &str, value: &str) -> Part {
        self.headers.push(Header::new(name, value));
        self
    }

    /// Sets Content-Disposition with an optional filename (RFC 2231-encoded on output when
    /// non-ASCII). Returns self for chaining.
    pub fn disposition(mut self, kind: &str, filename: Option<&str>) -> Part {
        let params = filename
            .map(|f| vec![("filename".to_owned(), f.to_owned())])
            .unwrap_or_default();
        self.disposition = Some(Disposition {
            kind: kind.trim().to_ascii_lowercase(),
            params,
        });
        self
    }

    /// The first header with this name (case-insensitive), decoded.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The filename from Content-Disposition `filename` or else Content-Type `name`.
    pub fn filename(&self) -> Option<&str> {
        self.disposition
            .as_ref()
            .and_then(|d| d.param("filename"))
            .or_else(|| self.content_type.param("name"))
    }
}

/// Decoding limits. Every limit is a count, checked as the decoder goes, so a hostile
/// message costs at most the work up to the limit; the count caps also bound the fixed
/// cost of the tree (each header field or parameter costs 100 to 180 bytes of memory however
/// short it is on the wire, each part 400 to 600), which is what keeps [`decode_with`]'s
/// peak memory within a small multiple of the input (see its docs).
///
/// The defaults are far above what real mail uses and low enough that the worst message
/// they admit costs a few tens of megabytes at most. For comparison: Postfix caps MIME
/// nesting at 100 (`mime_nesting_limit`) and one header at 100 KiB (`header_size_limit`),
/// Exim the header block at 1 MiB (`header_maxsize`); mail-parser (Rust) caps only the
/// nesting of encoded messages (3); Python's `email` has no caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Nesting depth up to which multiparts and nested messages are opened (default 20);
    /// a container deeper than this is kept as a [`Body::Bytes`] leaf of its (transfer-decoded)
    /// body.
    /// Values above 100 act as 100 (the decoder recurses once per level).
    pub max_depth: usize,
    /// Most parts in one message, containers included (default 10 000); more is
    /// [`MimeError::TooManyParts`].
    pub max_parts: usize,
    /// Most header fields in one part (default 1000); more is [`MimeError::TooManyHeaders`].
    /// Real messages carry tens of fields, rarely a few hundred (long relay chains; Postfix
    /// bounces a message after 50 `Received:` fields, `hopcount_limit`); a part past 1000 is
    /// an attack on the parser, such as megabytes of `a:` lines, each of which would cost
    /// about 100 bytes of memory for 3 bytes of input.
    pub max_headers: usize,
    /// Most parameters in one `Content-Type` or `Content-Disposition` field, counted as
    /// written: each RFC 2231 section counts (default 1000); more is
    /// [`MimeError::TooManyParams`]. Real fields carry a handful (`charset`, `boundary`,
    /// `name`, `filename`...); a 255-byte non-ASCII filename split into RFC 2231 sections
    /// takes 13, and the most [`encode`] writes for one value of 20 000 bytes is about 1000
    /// (it splits at 60 characters). The parameters this admits cost at most about 100 KB
    /// while the field is parsed; the ones kept count against `max_fields`.
    pub max_params: usize,
    /// Most header fields and parameters in the whole message, all parts and nested
    /// messages together (default 100 000); more is [`MimeError::TooManyFields`]. The
    /// per-part caps alone would still let 10 000 parts of 1000 tiny fields each cost a
    /// gigabyte; this one keeps the fixed cost of fields under 20 MB. A digest of 2000
    /// forwarded messages of 40 fields each stays within it.
    pub max_fields: usize,
    /// Charset of text parts that name none (default `us-ascii`, see [`charset`]).
    pub default_charset: String,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_depth: 20,
            max_parts: 10_000,
            max_headers: 1000,
            max_params: 1000,
            max_fields: 100_000,
            default_charset: "us-ascii".to_owned(),
        }
    }
}

/// Why a message could not be read at all. Everything else is decoded best-effort.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MimeError {
    /// The input was empty.
    Empty,
    /// The message has more parts than [`DecodeOptions::max_parts`].
    TooManyParts {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A part has more header fields than [`DecodeOptions::max_headers`].
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A `Content-Type` or `Content-Disposition` field has more parameters than
    /// [`DecodeOptions::max_params`].
    TooManyParams {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The message has more header fields and parameters in all than
    /// [`DecodeOptions::max_fields`].
    TooManyFields {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl std::fmt::Display for MimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MimeError::Empty => f.write_str("empty message"),
            MimeError::TooManyParts { limit } => {
                write!(f, "message has more than {limit} MIME parts")
            }
            MimeError::TooManyHeaders { limit } => {
                write!(f, "a MIME part has more than {limit} header fields")
            }
            MimeError::TooManyParams { limit } => {
                write!(f, "a header field has more than {limit} parameters")
            }
            MimeError::TooManyFields { limit } => write!(
                f,
                "message has more than {limit} header fields and parameters in all"
            ),
        }
    }
}

impl std::error::Error for MimeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors() {
        let p = Part::text("HTML", "a\nb\rc\r\n")
            .header("Subject", "x")
            .disposition("Inline", Some("f.html"));
        assert_eq!(p.content_type.essence(), "text/html");
        assert_eq!(p.content_type.param("CHARSET"), Some("utf-8"));
        assert_eq!(p.body, Body::Text("a\r\nb\r\nc\r\n".into()));
        assert_eq!(p.header_value("subject"), Some("x"));
        assert_eq!(p.filename(), Some("f.html"));
        assert_eq!(
            p.disposition.as_ref().map(|d| d.kind.as_str()),
            Some("inline")
        );
        let mut b = Part::bytes("Application", "PDF", vec![1u8]);
        assert_eq!(b.content_type.essence(), "application/pdf");
        assert_eq!(b.filename(), None);
        b.content_type.set_param("name", "n.pdf");
        assert_eq!(b.filename(), Some("n.pdf"));
        let m = Part::message(Part::multipart("mixed", vec![b]));
        assert_eq!(m.content_type.essence(), "message/rfc822");
        assert_eq!(
            TransferEncoding::parse(" Base64 "),
            TransferEncoding::Base64
        );
        assert_eq!(TransferEncoding::parse("x-uue").as_str(), "x-uue");
        assert_eq!(
            MimeError::TooManyParts { limit: 3 }.to_string(),
            "message has more than 3 MIME parts"
        );
    }
}
