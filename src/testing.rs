//! An in-process mail catcher for your program's own tests: a real SMTP server on
//! `127.0.0.1:0` that keeps every message it accepts, with its envelope.
//!
//! ```
//! use std::time::Duration;
//! # #[cfg(feature = "client")]
//! use smtpkit::client::{Client, Email, Options, TlsMode};
//! use smtpkit::testing::Catcher;
//!
//! # #[cfg(not(feature = "client"))] fn main() {}
//! # #[cfg(feature = "client")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catcher = Catcher::start()?;
//! // The code under test sends through the catcher's address.
//! let client = Client::new(Options::relay(catcher.addr().to_string()).tls(TlsMode::Never))?;
//! client.send(&Email::new("app@example.org", &["user@example.net"], "Subject: Welcome\r\n\r\nHello\r\n")?)?;
//!
//! let messages = catcher.wait_for(1, Duration::from_secs(5))?;
//! assert_eq!(messages[0].envelope.recipients[0].mailbox.to_string(), "user@example.net");
//! assert_eq!(messages[0].subject().as_deref(), Some("Welcome"));
//! assert_eq!(messages[0].text().as_deref(), Some("Hello\r\n"));
//! # Ok(())
//! # }
//! // Dropping the catcher shuts its server down.
//! ```
//!
//! aiosmtpd's `Controller` and lettre's `StubTransport` play the same part in their worlds;
//! this one speaks real SMTP over a real socket, so the client side is tested as it runs.

use std::fmt;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::maildir::{DeliverError, Maildir, delivery_headers};
use crate::mime::{self, Body, Part};
use crate::reply::Reply;
use crate::server::{ConnInfo, Envelope, Handler, ServerBuilder, ServerHandle, Stats};

/// A message the catcher accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The envelope: HELO name, sender, recipients and their parameters, AUTH identity, TLS.
    pub envelope: Envelope,
    /// The client's address.
    pub peer: SocketAddr,
    /// The session's number (as in the server's log lines).
    pub session: u64,
    /// The message as received (un-stuffed; header and body, CRLF line endings as sent).
    pub data: Vec<u8>,
    /// The file it was stored in, when the catcher has a Maildir (`new/<name>`).
    pub file: Option<PathBuf>,
}

impl Message {
    /// The message decoded by smtpkit's MIME decoder.
    pub fn parse(&self) -> Result<Part, mime::MimeError> {
        mime::decode(&self.data)
    }

    /// The decoded `Subject` header, if the message has one and can be decoded.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The first header of that name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.parse().ok()?.header_value(name).map(str::to_string)
    }

    /// The first `text/plain` body (the message itself or a part of it), decoded to UTF-8.
    pub fn text(&self) -> Option<String> {
        first_text(&self.parse().ok()?, "plain")
    }

    /// The first `text/html` body, decoded to UTF-8.
    pub fn html(&self) -> Option<String> {
        first_text(&self.parse().ok()?, "html")
    }
}

/// The first `text/<subtype>` body in `part`, depth first, skipping attachments.
fn first_text(part: &Part, subtype: &str) -> Option<String> {
    match &part.body {
        Body::Text(t)
            if part.content_type.subtype == subtype
                && part
                    .disposition
                    .as_ref()
                    .is_none_or(|d| d.kind != "attachment") =>
        {
            Some(t.clone())
        }
        Body::Multipart(parts) => parts.iter().find_map(|p| first_text(p, subtype)),
        _ => None,
    }
}

/// [`Catcher::wait_for`] ran out of time; holds what had arrived.
#[derive(Debug, Clone)]
pub struct WaitTimeout {
    /// How many messages were awaited.
    pub wanted: usize,
    /// The messages caught when the time ran out.
    pub caught: Vec<Message>,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waited for {} message(s), {} arrived",
            self.wanted,
            self.caught.len()
        )
    }
}

impl std::error::Error for WaitTimeout {}

#[derive(Debug, Default)]
struct Inbox {
    messages: Mutex<Vec<Message>>,
    arrived: Condvar,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Vec<Message>> {
        self.messages.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Configures a [`Catcher`]: the server's settings and an optional Maildir.
#[derive(Debug, Default)]
pub struct CatcherBuilder {
    server: Option<ServerBuilder>,
    maildir: Option<Maildir>,
    refuse: Vec<String>,
}

impl CatcherBuilder {
    /// The server's settings (hostname, limits, TLS, AUTH...); the catcher binds it to
    /// `127.0.0.1:0`. Default: `Server::builder()` with its defaults.
    pub fn server(mut self, builder: ServerBuilder) -> Self {
        self.server = Some(builder);
        self
    }

    /// Also store each message in this Maildir (the file name is in [`Message::file`]).
    pub fn maildir(mut self, store: Maildir) -> Self {
        self.maildir = Some(store);
        self
    }

    /// Refuse this recipient with `550 5.1.1` (compared without regard to case), to test how
    /// the code under test handles a refused address. Repeatable.
    pub fn refuse(mut self, address: &str) -> Self {
        self.refuse.push(address.to_ascii_lowercase());
        self
    }

    /// Binds `127.0.0.1:0` and starts the server.
    pub fn start(self) -> io::Result<Catcher> {
        let inbox = Arc::new(Inbox::default());
        let store = self.maildir.map(Arc::new);
        let refuse = Arc::new(self.refuse);
        let server = self
            .server
            .unwrap_or_default()
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let (inbox2, store2) = (Arc::clone(&inbox), store.clone());
        let handle = server.spawn(move |conn: &ConnInfo| Collector {
            inbox: Arc::clone(&inbox2),
            store: store2.clone(),
            refuse: Arc::clone(&refuse),
            peer: conn.peer,
            session: conn.id,
        })?;
        Ok(Catcher {
            addr: handle.local_addr(),
            handle: Some(handle),
            inbox,
            store,
        })
    }
}

/// A running in-process SMTP server that collects messages; it shuts down when dropped.
#[derive(Debug)]
pub struct Catcher {
    addr: SocketAddr,
    handle: Option<ServerHandle>,
    inbox: Arc<Inbox>,
    store: Option<Arc<Maildir>>,
}

impl Catcher {
    /// A catcher with the server's default settings on `127.0.0.1:0`.
    pub fn start() -> io::Result<Catcher> {
        Catcher::builder().start()
    }

    /// A builder, to set the server's settings or a Maildir.
    pub fn builder() -> CatcherBuilder {
        CatcherBuilder::default()
    }

    /// The address to send to (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Maildir messages are stored in, if one was given.
    pub fn maildir(&self) -> Option<&Maildir> {
        self.store.as_deref()
    }

    /// The messages caught so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.inbox.lock().clone()
    }

    /// Forgets the messages caught so far (a Maildir keeps its files).
    pub fn clear(&self) {
        self.inbox.lock().clear();
    }

    /// Waits until at least `n` messages have been caught, then returns them all; after
    /// `timeout`, an error holding what arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<Message>, WaitTimeout> {
        let deadline = Instant::now().checked_add(timeout);
        let mut messages = self.inbox.lock();
        while messages.len() < n {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return Err(WaitTimeout {
                    wanted: n,
                    caught: messages.clone(),
                });
            }
            messages = match self.inbox.arrived.wait_timeout(messages, left) {
                Ok((m, _)) => m,
                Err(p) => p.into_inner().0,
            };
        }
        Ok(messages.clone())
    }

    /// The server's counters.
    pub fn stats(&self) -> Stats {
        self.handle.as_ref().map(|h| h.stats()).unwrap_or_default()
    }

    /// Stops the server: open sessions get `421 4.3.2` after `grace`. Dropping the catcher
    /// does this with no grace.
    pub fn shutdown(mut self, grace: Duration) {
        if let Some(h) = self.handle.take() {
            h.shutdown(grace);
        }
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown(Duration::ZERO);
        }
    }
}

/// The per-connection handler.
struct Collector {
    inbox: Arc<Inbox>,
    store: Option<Arc<Maildir>>,
    refuse: Arc<Vec<String>>,
    peer: SocketAddr,
    session: u64,
}

impl Handler for Collector {
    fn on_rcpt(
        &mut self,
        to: &crate::address::Mailbox,
        _params: &[crate::command::Param],
        _envelope: &Envelope,
    ) -> Result<(), Reply> {
        if self.refuse.contains(&to.to_string().to_ascii_lowercase()) {
            return Err(Reply::NO_SUCH_USER);
        }
        Ok(())
    }

    fn on_data(&mut self, envelope: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        // Failing here (client gone, body refused) keeps nothing.
        let bytes = crate::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        let file = match &self.store {
            None => None,
            Some(store) => match store.deliver(&headers(envelope), &mut &bytes[..]) {
                Ok(name) => Some(store.path().join("new").join(name)),
                Err(DeliverError::Read(_)) => return Err(Reply::TRANSACTION_FAILED),
                Err(DeliverError::Write(e)) => {
                    log::warn!(
                        "{} session {}: cannot store message: {e}",
                        self.peer,
                        self.session
                    );
                    return Err(Reply::TRY_AGAIN);
                }
            },
        };
        let reply = match &file {
            Some(path) => Reply::QUEUED.with_text(format!(
                "OK: queued as {}",
                path.file_name().unwrap_or_default().to_string_lossy()
            )),
            None => Reply::QUEUED,
        };
        let mut messages = self.inbox.lock();
        messages.push(Message {
            envelope: envelope.clone(),
            peer: self.peer,
            session: self.session,
            data: bytes,
            file,
        });
        self.inbox.arrived.notify_all();
        Ok(reply)
    }
}

fn headers(envelope: &Envelope) -> Vec<u8> {
    let rcpts: Vec<&crate::address::Mailbox> =
        envelope.recipients.iter().map(|r| &r.mailbox).collect();
    delivery_headers(envelope.from.as_ref(), &rcpts)
}
