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

use std::fmt;

use super::Part;
use super::addr::{self, AddrError, Address, NamedMailbox};
use crate::address::Mailbox;

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
    fn parse(&self) -> Result<Parsed, BuildError> {
        let from = self.from.as_deref().ok_or(BuildError::NoSender)?;
        let from = addr::parse_mailbox(from).map_err(|e| BuildError::BadAddress("From", e))?;
        Ok(Parsed {
            from,
            to: lists("To", &self.to)?,
            cc: lists("Cc", &self.cc)?,
            reply_to: lists("Reply-To", &self.reply_to)?,
        })
    }

    /// The tree. With `borrowed`, for [`build`](Self::build): the bytes leaves are left
    /// empty (the encoder reads the builder's data instead, in [`Self::bodies`] order) and
    /// text leaves are not scanned for their `encoding` (the encoder scans them anyway).
    fn tree(&self, parsed: &Parsed, borrowed: bool) -> Result<Part, BuildError> {
        let mut body = self.body(borrowed)?;
        // Headers go first, in the usual order; the body part's own (Content-*) follow. Names
        // stay UTF-8 here: `encode` turns them into RFC 2047 words.
        let mut top = vec![super::Header::new("From", &parsed.from.format(true))];
        for (name, list) in [
            ("To", &parsed.to),
            ("Cc", &parsed.cc),
            ("Reply-To", &parsed.reply_to),
        ] {
            if !list.is_empty() {
                top.push(super::Header::new(name, &addr::format_list(list, true)));
            }
        }
        if let Some(s) = &self.subject {
            top.push(super::Header::new("Subject", s));
        }
        for (n, v) in &self.headers {
            top.push(super::Header::new(n, v));
        }
        top.append(&mut body.headers);
        body.headers = top;
        Ok(body)
    }

    /// The data of the bytes leaves in the tree's pre-order: inline images, attachments.
    fn bodies(&self) -> Vec<&[u8]> {
        let inline = self.inline.iter().map(|i| i.data.as_slice());
        inline
            .chain(self.attachments.iter().map(|a| a.data.as_slice()))
            .collect()
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
                    body: super::Body::Text(text.to_owned()),
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
                        Part::bytes(&t, &s, data(&i.data))
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
                Part::bytes(&t, &s, data(&a.data)).disposition("attachment", Some(&a.filename)),
            );
        }
        Ok(Part::multipart("mixed", parts))
    }

    /// Builds the bytes and the envelope (From; To + Cc + Bcc without duplicates).
    pub fn build(&self) -> Result<BuiltMessage, BuildError> {
        let parsed = self.parse()?;
        let part = self.tree(&parsed, true)?;
        let envelope = |m: &NamedMailbox| {
            m.to_envelope()
                .map_err(|_| BuildError::BadEnvelope(m.addr.clone()))
        };
        let from = envelope(&parsed.from)?;
        let mut recipients: Vec<Mailbox> = Vec::new();
        let mut add = |list: &[Address]| -> Result<(), BuildError> {
            for m in addr::mailboxes(list) {
                let mb = envelope(m)?;
                if !recipients.contains(&mb) {
                    recipients.push(mb);
                }
            }
            Ok(())
        };
        add(&parsed.to)?;
        add(&parsed.cc)?;
        add(&lists("Bcc", &self.bcc)?)?;
        if recipients.is_empty() {
            return Err(BuildError::NoRecipient);
        }
        Ok(BuiltMessage {
            message: super::encode::encode_borrowing(&part, Some(&self.bodies())),
            from,
            recipients,
        })
    }
}

/// The builder's header addresses, parsed.
struct Parsed {
    from: NamedMailbox,
    to: Vec<Address>,
    cc: Vec<Address>,
    reply_to: Vec<Address>,
}

/// Every address of a repeatable field's lists.
fn lists(field: &'static str, v: &[String]) -> Result<Vec<Address>, BuildError> {
    let mut all = Vec::new();
    for s in v {
        all.extend(addr::parse_list_strict(s).map_err(|e| BuildError::BadAddress(field, e))?);
    }
    Ok(all)
}

fn split_type(t: &str) -> Result<(String, String), BuildError> {
    match t.split_once('/') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() && !b.contains('/') => {
            Ok((a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase()))
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
