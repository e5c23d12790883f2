//! The borrowed tree of [`decode_ref`](super::decode_ref): a [`Part`] tree whose names, values
//! and bodies borrow from the input where they are the input's bytes as they are, so decoding
//! allocates only for what it has to change (folded or encoded headers, transfer-encoded or
//! converted bodies) and for the lists of the tree.
//!
//! Also the two outputs the decoder writes through one code path: [`Owned`] builds a [`Part`]
//! and [`Borrowed`] a [`PartRef`], each without an intermediate copy of the other.

use std::borrow::Cow;

use super::{
    Body, ContentType, Disposition, Header, Part, TransferEncoding, charset, decode, params,
};

/// A parameter of a [`ContentTypeRef`] or [`DispositionRef`]: name (lower-case) and value
/// (decoded: RFC 2231, RFC 2047).
pub type ParamRef<'a> = (Cow<'a, str>, Cow<'a, str>);

/// A [`Header`] borrowing from the input: the name always (except in a transfer-decoded nested
/// message), the raw value unless the field was folded, the decoded value unless it had to
/// change (encoded words, folding, 8-bit bytes that are not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// The field name as written (case kept).
    pub name: Cow<'a, str>,
    /// The unfolded value as it was on the wire.
    pub raw: Cow<'a, [u8]>,
    /// The decoded value, as [`Header::value`].
    pub value: Cow<'a, str>,
}

impl HeaderRef<'_> {
    /// The owned [`Header`].
    pub fn into_owned(self) -> Header {
        Header {
            name: self.name.into_owned(),
            raw: self.raw.into_owned(),
            value: self.value.into_owned(),
        }
    }

    fn into_static(self) -> HeaderRef<'static> {
        HeaderRef {
            name: Cow::Owned(self.name.into_owned()),
            raw: Cow::Owned(self.raw.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// A [`ContentType`] borrowing from the input: type and subtype are borrowed when already
/// lower-case, parameters when neither quoted pairs, comments nor RFC 2231/2047 changed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTypeRef<'a> {
    /// The top-level type, lower-case: `text`, `multipart`, ...
    pub mime_type: Cow<'a, str>,
    /// The subtype, lower-case: `plain`, `mixed`, ...
    pub subtype: Cow<'a, str>,
    /// The parameters, names lower-case, values decoded (RFC 2231, RFC 2047).
    pub params: Vec<ParamRef<'a>>,
}

impl ContentTypeRef<'_> {
    /// The value of the first parameter with this name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// `type/subtype`, e.g. `"text/plain"`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.mime_type, self.subtype)
    }

    /// The owned [`ContentType`].
    pub fn into_owned(self) -> ContentType {
        ContentType {
            mime_type: self.mime_type.into_owned(),
            subtype: self.subtype.into_owned(),
            params: owned_params(self.params),
        }
    }
}

/// A [`Disposition`] borrowing from the input (see [`ContentTypeRef`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispositionRef<'a> {
    /// Lower-case: `inline`, `attachment`, ...
    pub kind: Cow<'a, str>,
    /// The parameters, names lower-case, values decoded (RFC 2231, RFC 2047).
    pub params: Vec<ParamRef<'a>>,
}

impl DispositionRef<'_> {
    /// The value of the first parameter with this name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// The owned [`Disposition`].
    pub fn into_owned(self) -> Disposition {
        Disposition {
            kind: self.kind.into_owned(),
            params: owned_params(self.params),
        }
    }
}

/// A [`Body`] borrowing from the input: a text body that is the input's UTF-8 (or ASCII) as
/// it is and a bytes body without transfer encoding are borrowed; decoded ones are owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRef<'a> {
    /// text/* decoded to UTF-8, as [`Body::Text`].
    Text(Cow<'a, str>),
    /// Anything else, decoded bytes, as [`Body::Bytes`].
    Bytes(Cow<'a, [u8]>),
    /// multipart/*: the parts (preamble and epilogue dropped).
    Multipart(Vec<PartRef<'a>>),
    /// message/rfc822 (and message/global): the nested message.
    Message(Box<PartRef<'a>>),
}

/// A [`Part`] borrowing from the decoded input, from [`decode_ref`](super::decode_ref): the
/// same tree and the same values, without a copy of what the input holds as it is.
/// [`PartRef::into_owned`] gives the [`Part`] that [`decode`](super::decode) returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRef<'a> {
    /// Headers in order, the part's own only, `Content-Type` and the other MIME headers
    /// included.
    pub headers: Vec<HeaderRef<'a>>,
    /// The content type (a default when the header is missing or invalid).
    pub content_type: ContentTypeRef<'a>,
    /// Content-Disposition, `None` when the part has no such header.
    pub disposition: Option<DispositionRef<'a>>,
    /// The transfer encoding the part had.
    pub encoding: TransferEncoding,
    /// The decoded body.
    pub body: BodyRef<'a>,
}

impl PartRef<'_> {
    /// The first header with this name (case-insensitive), decoded.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| &*h.value)
    }

    /// The filename from Content-Disposition `filename` or else Content-Type `name`.
    pub fn filename(&self) -> Option<&str> {
        self.disposition
            .as_ref()
            .and_then(|d| d.param("filename"))
            .or_else(|| self.content_type.param("name"))
    }

    /// The owned [`Part`]: equal to what [`decode`](super::decode) returns for the same
    /// input.
    pub fn into_owned(self) -> Part {
        Part {
            headers: self
                .headers
                .into_iter()
                .map(HeaderRef::into_owned)
                .collect(),
            content_type: self.content_type.into_owned(),
            disposition: self.disposition.map(DispositionRef::into_owned),
            encoding: self.encoding,
            body: match self.body {
                BodyRef::Text(t) => Body::Text(t.into_owned()),
                BodyRef::Bytes(b) => Body::Bytes(b.into_owned()),
                BodyRef::Multipart(parts) => {
                    Body::Multipart(parts.into_iter().map(PartRef::into_owned).collect())
                }
                BodyRef::Message(m) => Body::Message(Box::new(m.into_owned())),
            },
        }
    }

    /// The same tree owning everything (for a nested message decoded from a buffer of its
    /// own, which the tree cannot borrow from).
    pub(crate) fn into_static(self) -> PartRef<'static> {
        PartRef {
            headers: self
                .headers
                .into_iter()
                .map(HeaderRef::into_static)
                .collect(),
            content_type: ContentTypeRef {
                mime_type: Cow::Owned(self.content_type.mime_type.into_owned()),
                subtype: Cow::Owned(self.content_type.subtype.into_owned()),
                params: static_params(self.content_type.params),
            },
            disposition: self.disposition.map(|d| DispositionRef {
                kind: Cow::Owned(d.kind.into_owned()),
                params: static_params(d.params),
            }),
            encoding: self.encoding,
            body: match self.body {
                BodyRef::Text(t) => BodyRef::Text(Cow::Owned(t.into_owned())),
                BodyRef::Bytes(b) => BodyRef::Bytes(Cow::Owned(b.into_owned())),
                BodyRef::Multipart(parts) => {
                    BodyRef::Multipart(parts.into_iter().map(PartRef::into_static).collect())
                }
                BodyRef::Message(m) => BodyRef::Message(Box::new(m.into_static())),
            },
        }
    }
}

fn find_param<'p>(params: &'p [ParamRef<'_>], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| &**v)
}

fn owned_params(params: Vec<ParamRef<'_>>) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

fn static_params(params: Vec<ParamRef<'_>>) -> Vec<ParamRef<'static>> {
    params
        .into_iter()
        .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned())))
        .collect()
}

/// A body as the decoder hands it to a [`Tree`].
pub(crate) enum BodyOut<'a, P> {
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Multipart(Vec<P>),
    Message(P),
}

/// What the decoder builds: the owned tree or the borrowed one. The decoder collects a part's
/// headers and parameters in scratch lists of the tree's own items, which it reuses; the tree
/// takes them from there. Each item is made from the input's bytes by the tree, so the owned
/// tree allocates each of its strings once, with nothing to convert after.
pub(crate) trait Tree<'a> {
    type Part;
    type Header;
    type Param;

    /// Room the header scratch list starts with.
    const HEADER_ROOM: usize;

    /// A header from its name, raw value (both the input's) and decoded value.
    fn header(name: &'a str, raw: &'a [u8], value: Cow<'a, str>) -> Self::Header;
    fn name(h: &Self::Header) -> &str;
    fn value(h: &Self::Header) -> &str;
    /// Appends a continuation line to the raw value (the decoded one is then stale).
    fn unfold(h: &mut Self::Header, line: &[u8]);
    /// Decodes the value again from the raw one.
    fn redecode(h: &mut Self::Header);
    /// Parses a Content-Type header, appending its parameters to `out`: the lower-cased type
    /// and subtype (`None` inside when it is not `type/subtype`); `None` past `max_params`
    /// (nothing appended then).
    #[allow(clippy::type_complexity)]
    fn content_type(
        h: &Self::Header,
        max_params: usize,
        out: &mut Vec<Self::Param>,
    ) -> Option<Option<(Cow<'a, str>, Cow<'a, str>)>>;
    /// Parses a Content-Disposition header likewise: the lower-cased kind.
    fn disposition(
        h: &Self::Header,
        max_params: usize,
        out: &mut Vec<Self::Param>,
    ) -> Option<Cow<'a, str>>;
    /// A field's parameters, taken from the scratch list (left empty).
    fn params(scratch: &mut Vec<Self::Param>) -> Vec<Self::Param>;
    /// A parameter made by the decoder.
    fn param_of(name: &'static str, value: Cow<'a, str>) -> Self::Param;
    fn param<'p>(params: &'p [Self::Param], name: &str) -> Option<&'p str>;
    #[allow(clippy::too_many_arguments)]
    fn part(
        headers: Vec<Self::Header>,
        mime_type: Cow<'a, str>,
        subtype: Cow<'a, str>,
        params: Vec<Self::Param>,
        disposition: Option<(Cow<'a, str>, Vec<Self::Param>)>,
        encoding: TransferEncoding,
        body: BodyOut<'a, Self::Part>,
    ) -> Self::Part;
    /// A nested message decoded from a buffer of its own.
    fn from_static(part: PartRef<'static>) -> Self::Part;
}

/// Builds [`Part`]s.
pub(crate) struct Owned;

/// Builds [`PartRef`]s.
pub(crate) struct Borrowed;

/// The items of `scratch` moved to an exactly sized list; `scratch` keeps its allocation.
/// (The allocator's small blocks are its cheapest.)
pub(crate) fn exact<T>(scratch: &mut Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(scratch.len());
    out.append(scratch);
    out
}

/// A part's headers, taken from the scratch list (left empty).
pub(crate) fn take_headers<H>(scratch: &mut Vec<H>) -> Vec<H> {
    // A few headers (a part inside a multipart) are copied to an exactly sized list: the
    // allocator's small blocks are its cheapest, and the scratch keeps its allocation for
    // the next part. A long block (a message's) becomes the part's list as it is.
    if scratch.len() <= 4 {
        exact(scratch)
    } else {
        std::mem::take(scratch)
    }
}

impl<'a> Tree<'a> for Owned {
    type Part = Part;
    type Header = Header;
    type Param = (String, String);

    /// A message's usual header block without growing the list (the two reallocations cost
    /// more than the room), at most 1008 bytes: glibc's per-thread cache takes blocks up to
    /// 1032. Only the first list to take the scratch holds this room: at most one per decode.
    const HEADER_ROOM: usize = 14;

    #[inline]
    fn header(name: &'a str, raw: &'a [u8], value: Cow<'a, str>) -> Header {
        Header {
            name: name.to_owned(),
            raw: raw.to_vec(),
            value: value.into_owned(),
        }
    }

    fn name(h: &Header) -> &str {
        &h.name
    }

    fn value(h: &Header) -> &str {
        &h.value
    }

    fn unfold(h: &mut Header, line: &[u8]) {
        h.raw.extend_from_slice(line);
    }

    fn redecode(h: &mut Header) {
        h.value = decode::header_text(&h.raw);
    }

    fn content_type(
        h: &Header,
        max_params: usize,
        out: &mut Vec<(String, String)>,
    ) -> Option<Option<(Cow<'a, str>, Cow<'a, str>)>> {
        let text = owned_field_text(h);
        let value = params::parse_into(&text, max_params, out)?;
        Some(
            decode::content_type(value)
                .map(|(t, s)| (Cow::Owned(t.into_owned()), Cow::Owned(s.into_owned()))),
        )
    }

    fn disposition(
        h: &Header,
        max_params: usize,
        out: &mut Vec<(String, String)>,
    ) -> Option<Cow<'a, str>> {
        let text = owned_field_text(h);
        let kind = params::parse_into(&text, max_params, out)?;
        Some(Cow::Owned(decode::lower_cow(kind).into_owned()))
    }

    fn params(scratch: &mut Vec<(String, String)>) -> Vec<(String, String)> {
        exact(scratch)
    }

    fn param_of(name: &'static str, value: Cow<'a, str>) -> (String, String) {
        (name.to_owned(), value.into_owned())
    }

    fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
        super::find_param(params, name)
    }

    fn part(
        headers: Vec<Header>,
        mime_type: Cow<'a, str>,
        subtype: Cow<'a, str>,
        params: Vec<(String, String)>,
        disposition: Option<(Cow<'a, str>, Vec<(String, String)>)>,
        encoding: TransferEncoding,
        body: BodyOut<'a, Part>,
    ) -> Part {
        Part {
            headers,
            content_type: ContentType {
                mime_type: mime_type.into_owned(),
                subtype: subtype.into_owned(),
                params,
            },
            disposition: disposition.map(|(kind, params)| Disposition {
                kind: kind.into_owned(),
                params,
            }),
            encoding,
            body: match body {
                BodyOut::Text(t) => Body::Text(t.into_owned()),
                BodyOut::Bytes(b) => Body::Bytes(b.into_owned()),
                BodyOut::Multipart(parts) => Body::Multipart(parts),
                BodyOut::Message(m) => Body::Message(Box::new(m)),
            },
        }
    }

    fn from_static(part: PartRef<'static>) -> Part {
        part.into_owned()
    }
}

/// A header's raw value as text, for parsing its parameters: its decoded value when that is
/// the raw value as it is (the usual case), which spares a second UTF-8 check.
fn owned_field_text(h: &Header) -> Cow<'_, str> {
    if h.value.as_bytes() == h.raw.as_slice() {
        Cow::Borrowed(&h.value)
    } else {
        charset::header_bytes_to_cow(&h.raw)
    }
}

impl<'a> Tree<'a> for Borrowed {
    type Part = PartRef<'a>;
    type Header = HeaderRef<'a>;
    type Param = ParamRef<'a>;

    /// None: measured, the borrowed tree's multipart decode is slower with it.
    const HEADER_ROOM: usize = 0;

    fn header(name: &'a str, raw: &'a [u8], value: Cow<'a, str>) -> HeaderRef<'a> {
        HeaderRef {
            name: Cow::Borrowed(name),
            raw: Cow::Borrowed(raw),
            value,
        }
    }

    fn name<'h>(h: &'h HeaderRef<'a>) -> &'h str {
        &h.name
    }

    fn value<'h>(h: &'h HeaderRef<'a>) -> &'h str {
        &h.value
    }

    fn unfold(h: &mut HeaderRef<'a>, line: &[u8]) {
        h.raw.to_mut().extend_from_slice(line);
    }

    fn redecode(h: &mut HeaderRef<'a>) {
        h.value = Cow::Owned(decode::header_text(&h.raw));
    }

    fn content_type(
        h: &HeaderRef<'a>,
        max_params: usize,
        out: &mut Vec<ParamRef<'a>>,
    ) -> Option<Option<(Cow<'a, str>, Cow<'a, str>)>> {
        let value = decode::parse_field(decode::field_text(h), max_params, out)?;
        Some(decode::content_type(value))
    }

    fn disposition(
        h: &HeaderRef<'a>,
        max_params: usize,
        out: &mut Vec<ParamRef<'a>>,
    ) -> Option<Cow<'a, str>> {
        decode::parse_field(decode::field_text(h), max_params, out).map(decode::lower_cow)
    }

    fn params(scratch: &mut Vec<ParamRef<'a>>) -> Vec<ParamRef<'a>> {
        exact(scratch)
    }

    fn param_of(name: &'static str, value: Cow<'a, str>) -> ParamRef<'a> {
        (Cow::Borrowed(name), value)
    }

    fn param<'p>(params: &'p [ParamRef<'a>], name: &str) -> Option<&'p str> {
        find_param(params, name)
    }

    fn part(
        headers: Vec<HeaderRef<'a>>,
        mime_type: Cow<'a, str>,
        subtype: Cow<'a, str>,
        params: Vec<ParamRef<'a>>,
        disposition: Option<(Cow<'a, str>, Vec<ParamRef<'a>>)>,
        encoding: TransferEncoding,
        body: BodyOut<'a, PartRef<'a>>,
    ) -> PartRef<'a> {
        PartRef {
            headers,
            content_type: ContentTypeRef {
                mime_type,
                subtype,
                params,
            },
            disposition: disposition.map(|(kind, params)| DispositionRef { kind, params }),
            encoding,
            body: match body {
                BodyOut::Text(t) => BodyRef::Text(t),
                BodyOut::Bytes(b) => BodyRef::Bytes(b),
                BodyOut::Multipart(parts) => BodyRef::Multipart(parts),
                BodyOut::Message(m) => BodyRef::Message(Box::new(m)),
            },
        }
    }

    fn from_static(part: PartRef<'static>) -> PartRef<'a> {
        part
    }
}
