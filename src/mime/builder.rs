//! A small message builder: addresses, subject, text and/or HTML, attachments, inline images,
//! custom headers. Produces SMTP-safe bytes plus the envelope for the client.
//!
//! ```
//! use smtpkit::mime::builder::MessageBuilder;
//!
//! let built = MessageBuilder::new()
//!     .from("Alice <alice@example.org>")
//!     .to("Bob <bob@example.net>, carol@example.com")
//!     .bcc("archive@example.org")
//!     .subject("Quarterly report")
//!     .text("Hello,\nthe report is attached.\n")
//!     .html("<p>Hello,<br>the report is attached.</p>")
//!     .attach("report.pdf", "application/pdf", b"%PDF-1.4 ...".to_vec())
//!     .build()?;
//! assert_eq!(built.recipients.len(), 3); // Bcc is in the envelope, not in the headers
//! #[cfg(feature = "client")]
//! let email = built.email(); // ready for smtpkit::client
//! # Ok::<(), smtpkit::mime::builder::BuildError>(())
//! ```
//!
//! Structure: text and HTML become `multipart/alternative`; inline images make the HTML a
//! `multipart/related`; attachments wrap everything in `multipart/mixed`. Date, Message-ID and
//! MIME-Version are added by [`encode`](super::encode()).

use std::borrow::Cow;
use std::fmt;

use super::Part;
use super::addr::{self, AddrError, Address};
use crate::address::Mailbox;

#[path = "builder_write.rs"]
mod write;

/// Why a message could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// No From address.
    NoSender,
    /// No recipient (To, Cc or Bcc).
    NoRecipient,
    /// An address that does not parse; holds the field and the reason.
    BadAddress(&'static str, AddrError),
    /// An address that parses for the header but cannot go in an envelope.
    BadEnvelope(String),
    /// A content type that is not `type/subtype`.
    BadContentType(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoSender => f.write_str("no From address"),
            BuildError::NoRecipient => f.write_str("no recipient"),
            BuildError::BadAddress(field, e) => write!(f, "bad {field} address: {e}"),
            BuildError::BadEnvelope(a) => write!(f, "{a:?} cannot be used as an envelope address"),
            BuildError::BadContentType(t) => write!(f, "bad content type {t:?}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::BadAddress(_, e) => Some(e),
            _ => None,
        }
    }
}

/// A built message: its bytes and its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltMessage {
    /// The message, SMTP-safe (CRLF, lines ≤ 998 octets).
    pub message: Vec<u8>,
    /// The envelope sender (From).
    pub from: Mailbox,
    /// The envelope recipients: To, Cc and Bcc, in that order, without duplicates.
    pub recipients: Vec<Mailbox>,
}

#[derive(Debug, Clone)]
struct Attachment {
    filename: String,
    content_type: String,
    data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Inline {
    content_id: String,
    content_type: String,
    data: Vec<u8>,
}

/// Builds a message step by step; errors (bad addresses, bad types) come from [`build`](Self::build).
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    from: Option<String>,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    reply_to: Vec<String>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    inline: Vec<Inline>,
    headers: Vec<(String, String)>,
}

impl MessageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        MessageBuilder::default()
    }
    /// The sender, `"Name <addr>"` or `"addr"` (UTF-8 names are encoded as RFC 2047 words).
    pub fn from(mut self, mailbox: &str) -> Self {
        self.from = Some(mailbox.to_string());
        self
    }
    /// Recipients (an address list; repeatable).
    pub fn to(mut self, list: &str) -> Self {
        self.to.push(list.to_string());
        self
    }
    /// Copy recipients (repeatable).
    pub fn cc(mut self, list: &str) -> Self {
        self.cc.push(list.to_string());
        self
    }
    /// Blind copies: in the envelope, never in the headers (repeatable).
    pub fn bcc(mut self, list: &str) -> Self {
        self.bcc.push(list.to_string());
        self
    }
    /// Reply-To (repeatable).
    pub fn reply_to(mut self, list: &str) -> Self {
        self.reply_to.push(list.to_string());
        self
    }
    /// The subject (any UTF-8).
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_string());
        self
    }
    /// The plain-text body.
    pub fn text(mut self, text: &str) -> Self {
        self.text = Some(text.to_string());
        self
    }
    /// The HTML body (with `text`, the two become `multipart/alternative`).
    pub fn html(mut self, html: &str) -> Self {
        self.html = Some(html.to_string());
        self
    }
    /// An attachment (`content_type` like `"application/pdf"`; UTF-8 file names are encoded
    /// per RFC 2231).
    pub fn attach(mut self, filename: &str, content_type: &str, data: Vec<u8>) -> Self {
        self.attachments.push(Attachment {
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            data,
        });
        self
    }
    /// An inline image for the HTML body, referenced there as `cid:<content_id>`.
    pub fn inline(mut self, content_id: &str, content_type: &str, data: Vec<u8>) -> Self {
        self.inline.push(Inline {
            content_id: content_id.to_string(),
            content_type: content_type.to_string(),
            data,
        });
        self
    }
    /// Any other header (encoded as needed).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The message tree (no Date/Message-ID yet: `encode` adds them).
    pub fn part(&self) -> Result<Part, BuildError> {
        self.tree(&self.parse()?, false)
    }

    /// From, To, Cc and Reply-To parsed (once: [`build`](Self::build) needs them for the
    /// headers and the envelope both).
    fn parse(&self) -> Result<Parsed<'_>, BuildError> {
        let from = self.from.as_deref().ok_or(BuildError::NoSender)?;
        let from = match plain_list(from) {
            Some(1) => Field::Plain(from),
            _ => Field::Full(vec![Address::Mailbox(
                addr::parse_mailbox(from).map_err(|e| BuildError::BadAddress("From", e))?,
            )]),
        };
        Ok(Parsed {
            from,
            to: lists("To", &self.to)?,
            cc: lists("Cc", &self.cc)?,
            reply_to: lists("Reply-To", &self.reply_to)?,
        })
    }

    /// The tree. With `borrowed`, for [`build`](Self::build): the bytes and text leaves are
    /// left empty (the encoder reads the builder's data and texts instead, in
    /// [`Self::bodies`] and [`Self::texts`] order), so nothing is copied or scanned twice.
    fn tree(&self, parsed: &Parsed<'_>, borrowed: bool) -> Result<Part, BuildError> {
        let mut body = self.body(borrowed)?;
        // Headers go first, in the usual order; the body part's own (Content-*) follow. Names
        // stay UTF-8 here: `encode` turns them into RFC 2047 words.
        let mut top = Vec::with_capacity(6 + self.headers.len());
        // For `build` the encoder reads `value` only: no copy of it in `raw`.
        let header = |name: &str, value: &str| {
            if borrowed {
                super::Header {
                    name: name.to_owned(),
                    raw: Vec::new(),
                    value: value.to_owned(),
                }
            } else {
                super::Header::new(name, value)
            }
        };
        for (name, field) in [
            ("From", &parsed.from),
            ("To", &parsed.to),
            ("Cc", &parsed.cc),
            ("Reply-To", &parsed.reply_to),
        ] {
            if let Some(value) = field.header() {
                top.push(header(name, &value));
            }
        }
        if let Some(s) = &self.subject {
            top.push(header("Subject", s));
        }
        for (n, v) in &self.headers {
            top.push(header(n, v));
        }
        top.append(&mut body.headers);
        body.headers = top;
        Ok(body)
    }

    /// The data of the bytes leaves in the tree's pre-order: inline images (only in the tree
    /// with HTML), attachments.
    fn bodies(&self) -> Vec<&[u8]> {
        let inline: &[Inline] = if self.html.is_some() {
            &self.inline
        } else {
            &[]
        };
        let inline = inline.iter().map(|i| i.data.as_slice());
        inline
            .chain(self.attachments.iter().map(|a| a.data.as_slice()))
            .collect()
    }

    /// The texts of the text leaves in the tree's pre-order: plain, HTML (or one empty text).
    fn texts(&self) -> Vec<&str> {
        match (&self.text, &self.html) {
            (None, None) => vec![""],
            (t, h) => t.iter().chain(h).map(String::as_str).collect(),
        }
    }

    fn body(&self, borrowed: bool) -> Result<Part, BuildError> {
        let text_part = |subtype: &str, text: &str| {
            if borrowed {
                // No charset parameter: the encoder writes `charset=utf-8` for text anyway.
                let content_type = super::ContentType::new("text", subtype);
                Part {
                    headers: Vec::new(),
                    content_type,
                    disposition: None,
                    encoding: super::TransferEncoding::SevenBit,
                    // Empty: the encoder reads the builder's text (`Self::texts`).
                    body: super::Body::Text(String::new()),
                }
            } else {
                Part::text(subtype, text)
            }
        };
        let data = |d: &[u8]| if borrowed { Vec::new() } else { d.to_vec() };
        let html = match &self.html {
            None => None,
            Some(h) if self.inline.is_empty() => Some(text_part("html", h)),
            Some(h) => {
                let mut parts = vec![text_part("html", h)];
                for i in &self.inline {
                    let (t, s) = split_type(&i.content_type)?;
                    parts.push(
                        Part::bytes(t, s, data(&i.data))
                            .header("Content-ID", &format!("<{}>", i.content_id))
                            .disposition("inline", None),
                    );
                }
                Some(Part::multipart("related", parts))
            }
        };
        let text = self.text.as_deref().map(|t| text_part("plain", t));
        let main = match (text, html) {
            (Some(t), Some(h)) => Part::multipart("alternative", vec![t, h]),
            (Some(t), None) => t,
            (None, Some(h)) => h,
            (None, None) => text_part("plain", ""),
        };
        if self.attachments.is_empty() {
            return Ok(main);
        }
        let mut parts = vec![main];
        for a in &self.attachments {
            let (t, s) = split_type(&a.content_type)?;
            parts.push(
                Part::bytes(t, s, data(&a.data)).disposition("attachment", Some(&a.filename)),
            );
        }
        Ok(Part::multipart("mixed", parts))
    }

    /// Builds the bytes and the envelope (From; To + Cc + Bcc without duplicates).
    pub fn build(&self) -> Result<BuiltMessage, BuildError> {
        let parsed = self.parse()?;
        // Straight into the output; the tree encoder for what that writer leaves to it.
        let message = match write::message(self, &parsed)? {
            Some(message) => message,
            None => super::encode::encode_borrowing(
                &self.tree(&parsed, true)?,
                Some(&self.bodies()),
                Some(&self.texts()),
            ),
        };
        let mut from = None;
        parsed.from.each_mailbox(&mut |mb| {
            from.get_or_insert(mb);
        })?;
        let from = from.ok_or(BuildError::NoSender)?;
        let mut recipients: Vec<Mailbox> = Vec::new();
        let mut add = |mb: Mailbox| {
            if !recipients.contains(&mb) {
                recipients.push(mb);
            }
        };
        parsed.to.each_mailbox(&mut add)?;
        parsed.cc.each_mailbox(&mut add)?;
        lists("Bcc", &self.bcc)?.each_mailbox(&mut add)?;
        if recipients.is_empty() {
            return Err(BuildError::NoRecipient);
        }
        Ok(BuiltMessage {
            message,
            from,
            recipients,
        })
    }
}

/// The builder's header addresses, parsed.
struct Parsed<'a> {
    from: Field<'a>,
    to: Field<'a>,
    cc: Field<'a>,
    reply_to: Field<'a>,
}

/// One address field's lists: plain ones (see [`plain_list`]) kept as written, the others
/// parsed by the full RFC 5322 parser.
enum Field<'a> {
    /// Every list of the field is plain (see [`plain_list`]): as written.
    Plain(&'a str),
    /// Plain lists and parsed ones, in order.
    Mixed(Vec<Field<'a>>),
    /// Parsed by [`addr::parse_list_strict`] (or `parse_mailbox` for From).
    Full(Vec<Address>),
}

impl Field<'_> {
    /// The header value, as [`addr::format_list`] writes it; None for an empty field.
    fn header(&self) -> Option<Cow<'_, str>> {
        match self {
            Field::Plain(s) => Some(Cow::Borrowed(s)),
            Field::Full(list) if list.is_empty() => None,
            Field::Full(list) => Some(Cow::Owned(addr::format_list(list, true))),
            Field::Mixed(fields) => {
                let mut out = String::new();
                for v in fields.iter().filter_map(Field::header) {
                    if !out.is_empty() {
                        out.push_str(", ");
                    }
                    out.push_str(&v);
                }
                (!out.is_empty()).then_some(Cow::Owned(out))
            }
        }
    }

    /// The envelope mailboxes, in order (duplicates kept), as `NamedMailbox::to_envelope`
    /// gives them, each given to `f`.
    fn each_mailbox(&self, f: &mut impl FnMut(Mailbox)) -> Result<(), BuildError> {
        match self {
            Field::Plain(s) => plain_walk(s, |p| f(p.envelope())),
            Field::Full(list) => {
                for m in addr::mailboxes(list) {
                    let mb = m
                        .to_envelope()
                        .map_err(|_| BuildError::BadEnvelope(m.addr.clone()))?;
                    f(mb);
                }
            }
            Field::Mixed(fields) => {
                for field in fields {
                    field.each_mailbox(f)?;
                }
            }
        }
        Ok(())
    }
}

/// Every address of a repeatable field's lists.
fn lists<'a>(field: &'static str, v: &'a [String]) -> Result<Field<'a>, BuildError> {
    let full = |s: &str| {
        addr::parse_list_strict(s)
            .map(Field::Full)
            .map_err(|e| BuildError::BadAddress(field, e))
    };
    match v {
        [] => Ok(Field::Full(Vec::new())),
        [one] => match plain_list(one) {
            Some(_) => Ok(Field::Plain(one)),
            None => full(one),
        },
        many => many
            .iter()
            .map(|s| match plain_list(s) {
                Some(_) => Ok(Field::Plain(s)),
                None => full(s),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Field::Mixed),
    }
}

/// A mailbox of a plain list: `local@domain` with an optional display name, all borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlainMailbox<'a> {
    name: Option<&'a str>,
    local: &'a str,
    domain: &'a str,
}

impl PlainMailbox<'_> {
    fn envelope(&self) -> Mailbox {
        Mailbox {
            local_part: self.local.to_owned(),
            domain: self.domain.to_owned(),
        }
    }
}

/// The fast path for the usual address list: `addr@domain` and `Display Name <addr@domain>`
/// entries separated by `", "`, printable ASCII, names of atext words separated by single
/// spaces, dot-atom local parts of at most 64 octets, host-name domains (letters, digits,
/// inner hyphens, labels of at most 63 octets, at most 255 in all), no `=?` anywhere. Such a
/// list needs no quoting, no RFC 2047 and no comment removal: [`addr::format_list`] of its
/// parse is the list as written, and each address is its own envelope mailbox. None for
/// anything else (the full parser decides, with its errors); else the number of mailboxes.
fn plain_list(s: &str) -> Option<usize> {
    plain_each(s, |_| {})
}

/// [`plain_list`], giving each mailbox to `f` as it goes (so a list checked once can be
/// walked again without keeping its mailboxes).
fn plain_each<'a>(s: &'a str, mut f: impl FnMut(PlainMailbox<'a>)) -> Option<usize> {
    if s.is_empty() || s.as_bytes().windows(2).any(|w| w == b"=?") {
        return None;
    }
    let mut count = 0;
    let mut rest = s;
    loop {
        let (entry, next) = match rest.find(',') {
            Some(c) => (rest.get(..c)?, Some(rest.get(c..)?.strip_prefix(", ")?)),
            None => (rest, None),
        };
        f(plain_mailbox(entry)?);
        count += 1;
        match next {
            Some(n) => rest = n,
            None => return Some(count),
        }
    }
}

/// The mailboxes of a list [`plain_list`] accepted, without checking it again: entries
/// hold no `,`, names no `<`, local parts no `@`.
fn plain_walk<'a>(s: &'a str, mut f: impl FnMut(PlainMailbox<'a>)) {
    for entry in s.split(',') {
        let entry = entry.strip_prefix(' ').unwrap_or(entry);
        let (name, spec) = match entry.strip_suffix('>').and_then(name_and_spec) {
            Some((name, spec)) => (Some(name), spec),
            None => (None, entry),
        };
        if let Some((local, domain)) = spec.split_once('@') {
            f(PlainMailbox {
                name,
                local,
                domain,
            });
        }
    }
}

/// One entry of [`plain_list`].
fn plain_mailbox(entry: &str) -> Option<PlainMailbox<'_>> {
    let Some(e) = entry.strip_suffix('>') else {
        let (local, domain) = plain_spec(entry)?;
        return Some(PlainMailbox {
            name: None,
            local,
            domain,
        });
    };
    let (name, spec) = name_and_spec(e)?;
    let (local, domain) = plain_spec(spec).filter(|_| words(name.as_bytes(), b' '))?;
    Some(PlainMailbox {
        name: Some(name),
        local,
        domain,
    })
}

/// `Name <spec` split at its ` <`: the first `<` (a plain name holds none).
fn name_and_spec(e: &str) -> Option<(&str, &str)> {
    let lt = e.find('<')?;
    let name = e.get(..lt)?.strip_suffix(' ')?;
    Some((name, e.get(lt + 1..)?))
}

/// `local@domain` of [`plain_list`]: a dot-atom local part, a host-name domain.
fn plain_spec(spec: &str) -> Option<(&str, &str)> {
    let (local, domain) = spec.split_once('@')?;
    let local_ok = local.len() <= 64 && words(local.as_bytes(), b'.');
    let domain_ok = domain.len() <= 255 && host_name(domain.as_bytes());
    (local_ok && domain_ok).then_some((local, domain))
}

/// Non-empty runs of atext separated by single `sep` bytes (a dot-atom, or a phrase of
/// atoms with single spaces), one pass over the bytes.
fn words(b: &[u8], sep: u8) -> bool {
    let mut after_sep = true;
    for &c in b {
        if c == sep {
            if after_sep {
                return false;
            }
            after_sep = true;
        } else if is_atext(c) {
            after_sep = false;
        } else {
            return false;
        }
    }
    !after_sep
}

/// Labels of letters, digits and inner hyphens, 1 to 63 octets, separated by single dots.
fn host_name(b: &[u8]) -> bool {
    let (mut len, mut last) = (0usize, b'.');
    for &c in b {
        if c == b'.' {
            if len == 0 || last == b'-' {
                return false;
            }
            len = 0;
        } else if c.is_ascii_alphanumeric() || (c == b'-' && len > 0) {
            len += 1;
            if len > 63 {
                return false;
            }
        } else {
            return false;
        }
        last = c;
    }
    len > 0 && last != b'-'
}

/// RFC 5322 atext, ASCII only.
fn is_atext(b: u8) -> bool {
    const ATEXT: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = b.is_ascii_alphanumeric()
                || matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'/' | b'=' | b'?' | b'^'..=b'`' | b'{'..=b'~');
            c += 1;
        }
        t
    };
    ATEXT[usize::from(b)]
}

/// `type/subtype`, each trimmed (`Part::bytes` lower-cases them).
fn split_type(t: &str) -> Result<(&str, &str), BuildError> {
    match t.split_once('/') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() && !b.contains('/') => {
            Ok((a.trim(), b.trim()))
        }
        _ => Err(BuildError::BadContentType(t.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::{Body, decode};

    #[test]
    fn structure_and_envelope() {
        let b = MessageBuilder::new()
            .from("Jürgen <j@example.org>")
            .to("Bob <bob@example.net>, carol@example.com")
            .cc("dave@example.com")
            .bcc("secret@example.org, bob@example.net")
            .reply_to("replies@example.org")
            .subject("Grüße — naïve café")
            .text("plain\n.dot line\n")
            .html("<p>html <img src=\"cid:logo\"></p>")
            .inline("logo", "image/png", vec![0x89, b'P', b'N', b'G', 0, 13, 10])
            .attach("Überblick.pdf", "application/pdf", vec![1, 2, 3, 0, 255])
            .header("X-Mailer", "smtpkit");
        let built = b.build().unwrap();
        let rcpts: Vec<String> = built.recipients.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            rcpts,
            [
                "bob@example.net",
                "carol@example.com",
                "dave@example.com",
                "secret@example.org"
            ]
        );
        assert_eq!(built.from.to_string(), "j@example.org");
        let text = String::from_utf8_lossy(&built.message);
        assert!(!text.contains("secret@"), "Bcc leaked into the headers");
        assert!(built.message.is_ascii());
        assert!(text.split("\r\n").all(|l| l.len() <= 998));
        let tree = decode(&built.message).unwrap();
        assert_eq!(tree.content_type.essence(), "multipart/mixed");
        assert_eq!(tree.header_value("Subject"), Some("Grüße — naïve café"));
        assert_eq!(tree.header_value("From"), Some("Jürgen <j@example.org>"));
        assert_eq!(tree.header_value("X-Mailer"), Some("smtpkit"));
        assert!(tree.header_value("Date").is_some() && tree.header_value("Message-ID").is_some());
        let Body::Multipart(parts) = &tree.body else {
            panic!("not multipart")
        };
        assert_eq!(parts[0].content_type.essence(), "multipart/alternative");
        assert_eq!(parts[1].filename(), Some("Überblick.pdf"));
        assert_eq!(parts[1].body, Body::Bytes(vec![1, 2, 3, 0, 255]));
        let Body::Multipart(alt) = &parts[0].body else {
            panic!()
        };
        // The tree `build` encodes (its bytes leaves read from the builder) is `part()`'s.
        let again = decode(&crate::mime::encode(&b.part().unwrap())).unwrap();
        let leaves = |p: &crate::mime::Part| {
            let mut out = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(p) = stack.pop() {
                match p.body {
                    Body::Multipart(ps) => stack.extend(ps.into_iter().rev()),
                    body => out.push((p.content_type.essence(), p.disposition, body)),
                }
            }
            out
        };
        assert_eq!(leaves(&tree), leaves(&again));
        assert_eq!(leaves(&tree).len(), 4);
        assert_eq!(alt[0].body, Body::Text("plain\r\n.dot line\r\n".into()));
        assert_eq!(alt[1].content_type.essence(), "multipart/related");
        let Body::Multipart(rel) = &alt[1].body else {
            panic!()
        };
        assert_eq!(rel[1].header_value("Content-ID"), Some("<logo>"));
    }

    /// The fast path agrees with the full parser and formatter wherever it answers.
    fn check_plain(s: &str) -> bool {
        let mut plain = Vec::new();
        let Some(count) = plain_each(s, |p| plain.push(p)) else {
            return false;
        };
        assert_eq!(count, plain.len());
        let mut walked = Vec::new();
        plain_walk(s, |p| walked.push(p));
        assert_eq!(walked, plain, "{s:?}");
        let full = addr::parse_list_strict(s).expect("a plain list parses");
        assert_eq!(addr::format_list(&full, true), s, "header of {s:?}");
        let boxes = addr::mailboxes(&full);
        assert_eq!(boxes.len(), plain.len(), "{s:?}");
        for (m, p) in boxes.iter().zip(&plain) {
            assert_eq!(m.name.as_deref(), p.name, "{s:?}");
            assert_eq!(m.addr, format!("{}@{}", p.local, p.domain), "{s:?}");
            assert_eq!(m.to_envelope(), Ok(p.envelope()), "{s:?}");
        }
        if plain.len() == 1 {
            let m = addr::parse_mailbox(s).expect("a plain mailbox parses");
            assert_eq!(Address::Mailbox(m).format(true), s);
        }
        true
    }

    #[test]
    fn plain_addresses_match_the_parser() {
        use proptest::prelude::*;
        // Pieces that are plain, nearly plain, and everything the fast path must refuse.
        const PIECES: &[&str] = &[
            "a",
            "Bob",
            "x.y",
            "b",
            "Z9",
            "!#$%&'*+-/=?^_`{|}~",
            "@",
            "@",
            "<",
            ">",
            " <",
            ">",
            ", ",
            ",",
            " ",
            "  ",
            ".",
            "..",
            "-",
            "example.org",
            "ex-ample.net",
            "=?",
            "?=",
            "\"",
            "(",
            ")",
            ":",
            ";",
            "é",
            "x-",
            "-y",
            "\t",
            "\\",
            "[1.2.3.4]",
            "\r\n",
            "\u{7f}",
            "\u{0}",
            "Smith",
            "O'Neil",
            "a.",
            ".b",
            "A",
            "1",
            "=",
            "?",
            "[",
            "]",
        ];
        let long_label = "l".repeat(63);
        let atom = proptest::sample::select(PIECES).prop_map(str::to_owned);
        let soup = proptest::collection::vec(atom.clone(), 1..12).prop_map(|v| v.concat());
        let word = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,6}";
        let label = "[A-Za-z0-9][A-Za-z0-9-]{0,4}[A-Za-z0-9]|[a-z]";
        let spec = (
            proptest::collection::vec(word, 1..3),
            proptest::collection::vec(label, 1..4),
        )
            .prop_map(|(l, d)| format!("{}@{}", l.join("."), d.join(".")));
        let entry = (
            proptest::option::of(proptest::collection::vec(word, 1..4)),
            spec,
        )
            .prop_map(|(n, s)| match n {
                Some(n) => format!("{} <{s}>", n.join(" ")),
                None => s,
            });
        let list = proptest::collection::vec(entry, 1..4).prop_map(|v| v.join(", "));
        // A plain list with one piece of soup spliced in somewhere.
        let spliced = (list.clone(), soup.clone(), any::<proptest::sample::Index>()).prop_map(
            |(l, s, at)| {
                let cut = at.index(l.len() + 1);
                format!("{}{s}{}", &l[..cut], &l[cut..])
            },
        );
        let mut plain_seen = 0;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for strategy in [list.boxed(), spliced.boxed(), soup.boxed()] {
            for _ in 0..3000 {
                let s = strategy.new_tree(&mut runner).expect("a value").current();
                plain_seen += usize::from(check_plain(&s));
            }
        }
        assert!(
            plain_seen > 2500,
            "only {plain_seen} inputs took the fast path"
        );
        // The length limits stay the full parser's.
        for s in [
            format!("{}@example.org", "a".repeat(64)),
            format!("{}@example.org", "a".repeat(65)),
            format!("a@{long_label}.org"),
            format!("a@{long_label}x.org"),
            format!("a@{}", ["abcdefghi"; 26].join(".")),
            format!("a@{}", ["abcdefghi"; 25].join(".")),
        ] {
            check_plain(&s);
        }
        assert!(plain_list(&format!("{}@example.org", "a".repeat(65))).is_none());
        assert_eq!(
            plain_list("Bob <bob@example.net>, carol@example.com"),
            Some(2)
        );
        assert!(plain_list("Jürgen <j@example.org>").is_none());
    }

    #[test]
    fn simple_and_errors() {
        let built = MessageBuilder::new()
            .from("a@example.org")
            .to("b@example.net")
            .text("hi")
            .build()
            .unwrap();
        let tree = decode(&built.message).unwrap();
        assert_eq!(tree.content_type.essence(), "text/plain");
        assert_eq!(
            MessageBuilder::new()
                .to("b@example.net")
                .build()
                .unwrap_err(),
            BuildError::NoSender
        );
        assert_eq!(
            MessageBuilder::new()
                .from("a@example.org")
                .build()
                .unwrap_err(),
            BuildError::NoRecipient
        );
        assert!(matches!(
            MessageBuilder::new()
                .from("a@example.org")
                .to("not an address")
                .build(),
            Err(BuildError::BadAddress("To", _))
        ));
        assert!(matches!(
            MessageBuilder::new()
                .from("a@example.org")
                .to("b@example.net")
                .attach("x", "pdf", vec![])
                .build(),
            Err(BuildError::BadContentType(_))
        ));
    }
}
