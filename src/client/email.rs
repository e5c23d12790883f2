//! What the client sends (an envelope and a message) and what it learns (a receipt).

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::{Error, ErrorKind};
use crate::address::Mailbox;
use crate::command::Param;
use crate::dsn::{Notify, Orcpt, Ret};

/// A message to send: the envelope (reverse path and recipients) and the message bytes
/// (headers and body, any line endings: they are normalised to CRLF on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The reverse path; `None` is the null sender `<>` (bounces).
    pub from: Option<Mailbox>,
    /// Recipients, in order.
    pub to: Vec<Mailbox>,
    /// The message.
    pub message: Vec<u8>,
}

impl Email {
    /// Builds an email from address strings (`""` or `"<>"` for the null sender). Addresses are
    /// checked now: a CR, LF or anything else that is not an RFC 5321 mailbox is refused
    /// before anything is sent.
    pub fn new(from: &str, to: &[&str], message: impl Into<Vec<u8>>) -> Result<Email, Error> {
        let from = parse_path(from)?;
        if to.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no recipient"));
        }
        let to = to
            .iter()
            .map(|t| parse_mailbox(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Email {
            from,
            to,
            message: message.into(),
        })
    }

    /// True when an address needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        self.from.iter().chain(&self.to).any(|m| !m.is_ascii())
    }

    /// True when the message has 8-bit bytes (BODY=8BITMIME is wanted).
    pub fn is_8bit(&self) -> bool {
        !self.message.is_ascii()
    }

    /// The envelope of this email (addresses only, no DSN or extra parameters), to add
    /// those and send with [`Client::send_envelope`](super::Client::send_envelope).
    pub fn envelope(&self) -> Envelope {
        Envelope {
            from: self.from.clone(),
            to: self.to.iter().cloned().map(Recipient::new).collect(),
            ..Envelope::default()
        }
    }
}

/// Parses `addr`, `<addr>`; `""` and `"<>"` are the null sender (`None`).
fn parse_path(s: &str) -> Result<Option<Mailbox>, Error> {
    let s = s.trim();
    if s.is_empty() || s == "<>" {
        return Ok(None);
    }
    parse_mailbox(s).map(Some)
}

fn parse_mailbox(s: &str) -> Result<Mailbox, Error> {
    let s = s.trim();
    let s = s
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s);
    Mailbox::parse(s).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("bad address {s:?}: {e}")).with_source(e)
    })
}

/// One recipient of an [`Envelope`], with its DSN requests (RFC 3461) and extra RCPT
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address.
    pub mailbox: Mailbox,
    /// `NOTIFY=`: when a DSN is wanted (`Some(Notify::default())` is `NOTIFY=NEVER`); sent only
    /// when the server offers DSN.
    pub notify: Option<Notify>,
    /// `ORCPT=`: the original recipient (xtext-encoded on the wire); sent only with DSN.
    pub orcpt: Option<Orcpt>,
    /// Extra RCPT parameters for extensions smtpkit does not know, sent as given.
    pub params: Vec<Param>,
}

impl Recipient {
    /// A recipient without DSN requests or parameters.
    pub fn new(mailbox: Mailbox) -> Recipient {
        Recipient {
            mailbox,
            notify: None,
            orcpt: None,
            params: Vec::new(),
        }
    }
}

/// The envelope of a transaction: the reverse path, the recipients, and the MAIL and RCPT
/// parameters beyond those smtpkit sets itself (SIZE, BODY, SMTPUTF8).
///
/// DSN fields (RFC 3461: RET, ENVID, NOTIFY, ORCPT) are sent only when the server offers DSN;
/// otherwise they are left out, or the send fails before MAIL with
/// [`ErrorKind::MissingRequirement`] when [`Envelope::dsn_required`] is set. Extra parameters
/// ([`Envelope::mail_params`], [`Recipient::params`]) are sent as given whenever the server
/// answered EHLO, and refused (InvalidInput) when they could inject anything.
///
/// ```
/// use smtpkit::client::Envelope;
/// use smtpkit::dsn::{Notify, Ret};
///
/// let env = Envelope::new("alice@example.org", &["bob@example.net", "carol@example.net"])?
///     .ret(Ret::Headers)
///     .envid("QQ314159")
///     .notify_all(Notify { failure: true, delay: true, success: false })
///     .mail_param("MT-PRIORITY", Some("3"));
/// # Ok::<(), smtpkit::client::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; `None` is the null sender `<>`.
    pub from: Option<Mailbox>,
    /// The recipients, in order.
    pub to: Vec<Recipient>,
    /// `RET=`: full message or headers in a bounce.
    pub ret: Option<Ret>,
    /// `ENVID=`: the sender's identifier for this transaction (xtext-encoded on the wire).
    pub envid: Option<String>,
    /// Fail (MissingRequirement) rather than leave the DSN fields out when the server does not
    /// offer DSN.
    pub dsn_required: bool,
    /// Extra MAIL parameters, sent as given.
    pub mail_params: Vec<Param>,
}

impl Envelope {
    /// An envelope from address strings (`""` or `"<>"` for the null sender), checked now.
    pub fn new(from: &str, to: &[&str]) -> Result<Envelope, Error> {
        let from = parse_path(from)?;
        if to.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no recipient"));
        }
        let to = to
            .iter()
            .map(|t| parse_mailbox(t).map(Recipient::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            from,
            to,
            ..Envelope::default()
        })
    }

    /// `RET=`.
    pub fn ret(mut self, ret: Ret) -> Self {
        self.ret = Some(ret);
        self
    }
    /// `ENVID=`.
    pub fn envid(mut self, id: impl Into<String>) -> Self {
        self.envid = Some(id.into());
        self
    }
    /// `NOTIFY=` for every recipient.
    pub fn notify_all(mut self, notify: Notify) -> Self {
        for r in &mut self.to {
            r.notify = Some(notify);
        }
        self
    }
    /// `NOTIFY=` for the recipient at `index` (in the order given).
    pub fn notify(mut self, index: usize, notify: Notify) -> Self {
        if let Some(r) = self.to.get_mut(index) {
            r.notify = Some(notify);
        }
        self
    }
    /// `ORCPT=` for the recipient at `index`.
    pub fn orcpt(mut self, index: usize, orcpt: Orcpt) -> Self {
        if let Some(r) = self.to.get_mut(index) {
            r.orcpt = Some(orcpt);
        }
        self
    }
    /// Fail rather than send without DSN when the server does not offer it.
    pub fn dsn_required(mut self, on: bool) -> Self {
        self.dsn_required = on;
        self
    }
    /// An extra MAIL parameter (`KEYWORD` or `KEYWORD=value`).
    pub fn mail_param(mut self, keyword: &str, value: Option<&str>) -> Self {
        self.mail_params.push(Param {
            keyword: keyword.to_string(),
            value: value.map(str::to_string),
        });
        self
    }
    /// An extra RCPT parameter for the recipient at `index`.
    pub fn rcpt_param(mut self, index: usize, keyword: &str, value: Option<&str>) -> Self {
        if let Some(r) = self.to.get_mut(index) {
            r.params.push(Param {
                keyword: keyword.to_string(),
                value: value.map(str::to_string),
            });
        }
        self
    }

    /// True when an address needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        self.from
            .iter()
            .chain(self.to.iter().map(|r| &r.mailbox))
            .any(|m| !m.is_ascii())
    }

    /// True when any DSN field is set.
    pub fn has_dsn(&self) -> bool {
        self.ret.is_some()
            || self.envid.is_some()
            || self
                .to
                .iter()
                .any(|r| r.notify.is_some() || r.orcpt.is_some())
    }
}

/// A message body read while it is sent, so a large message is never held in memory (the
/// client sends it in blocks, with CRLF line endings and dot-stuffing as for byte bodies).
///
/// [`BodySource::open`] is called once per attempt: a source that can be opened again (a file)
/// is retried like a byte body; a one-shot reader ([`ReaderBody`]) fails a second attempt with
/// [`ErrorKind::InvalidInput`].
pub trait BodySource: Sync {
    /// A reader for the whole body, from its start.
    fn open(&self) -> io::Result<Box<dyn Read + '_>>;
    /// The size declared in `SIZE=` (RFC 1870), when known. It is an estimate, and is checked
    /// against the server's limit before MAIL.
    fn size_hint(&self) -> Option<u64>;
    /// Whether the body has 8-bit bytes (`BODY=8BITMIME`); `None` when unknown, which declares
    /// 8BITMIME whenever the server offers it.
    fn is_8bit(&self) -> Option<bool> {
        None
    }
}

impl BodySource for [u8] {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(self))
    }
    fn size_hint(&self) -> Option<u64> {
        Some(super::conn::wire_size(self))
    }
    fn is_8bit(&self) -> Option<bool> {
        Some(!self.is_ascii())
    }
}

impl BodySource for Vec<u8> {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(&self[..]))
    }
    fn size_hint(&self) -> Option<u64> {
        self.as_slice().size_hint()
    }
    fn is_8bit(&self) -> Option<bool> {
        self.as_slice().is_8bit()
    }
}

/// A body read from a file at each attempt (so a retry sends it again). The file is read once
/// when the body is made, in blocks, to declare its exact wire size in `SIZE=` and whether it
/// needs `BODY=8BITMIME`; it is never held in memory.
#[derive(Debug, Clone)]
pub struct FileBody {
    path: PathBuf,
    size: u64,
    eight_bit: bool,
}

impl FileBody {
    /// The file at `path`, measured now.
    pub fn new(path: impl AsRef<Path>) -> io::Result<FileBody> {
        let path = path.as_ref().to_path_buf();
        let mut file = std::fs::File::open(&path)?;
        let mut counter = WireSize::default();
        let mut eight_bit = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            counter.push(&buf[..n]);
            eight_bit |= !buf[..n].is_ascii();
        }
        Ok(FileBody {
            path,
            size: counter.finish(),
            eight_bit,
        })
    }
}

impl BodySource for FileBody {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(std::fs::File::open(&self.path)?))
    }
    fn size_hint(&self) -> Option<u64> {
        Some(self.size)
    }
    fn is_8bit(&self) -> Option<bool> {
        Some(self.eight_bit)
    }
}

/// Counts the wire size of a body given in pieces (as `SIZE=` declares it: line ends as
/// CRLF, a final CRLF when missing; before dot-stuffing).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WireSize {
    n: u64,
    prev_cr: bool,
    last: Option<u8>,
}

impl WireSize {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.n += match (b, self.prev_cr) {
                (b'\n', true) => 0, // the LF of a CRLF: counted with its CR
                (b'\n', false) | (b'\r', _) => 2,
                _ => 1,
            };
            self.prev_cr = b == b'\r';
        }
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        match self.last {
            Some(b'\n' | b'\r') | None => self.n,
            Some(_) => self.n + 2,
        }
    }
}

/// A body from any reader, readable once: a second attempt (a retry) fails with
/// [`ErrorKind::InvalidInput`] instead of sending an empty or partial message.
pub struct ReaderBody<R> {
    reader: Mutex<Option<R>>,
    size: Option<u64>,
}

impl<R> fmt::Debug for ReaderBody<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaderBody")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<R: Read + Send> ReaderBody<R> {
    /// Wraps `reader`; `size` (when known) is declared in `SIZE=`.
    pub fn new(reader: R, size: Option<u64>) -> ReaderBody<R> {
        ReaderBody {
            reader: Mutex::new(Some(reader)),
            size,
        }
    }
}

impl<R: Read + Send> BodySource for ReaderBody<R> {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        match self.reader.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(r) => Ok(Box::new(r)),
            None => Err(io::Error::other(
                "the body reader was already consumed by an earlier attempt",
            )),
        }
    }
    fn size_hint(&self) -> Option<u64> {
        self.size
    }
}

#[cfg(feature = "mime")]
#[cfg_attr(docsrs, doc(cfg(feature = "mime")))]
impl crate::mime::builder::BuiltMessage {
    /// The message as a client [`Email`]: the builder's envelope (From; To, Cc and Bcc) and
    /// bytes. The conversion lives with the client, so MIME never depends on it.
    pub fn email(&self) -> Email {
        Email {
            from: Some(self.from.clone()),
            to: self.recipients.clone(),
            message: self.message.clone(),
        }
    }
}
