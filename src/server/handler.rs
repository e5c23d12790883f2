//! The `Handler` trait: what a server user writes. One handler per connection, built by a
//! factory from [`ConnInfo`]; every callback has a default that accepts.

use std::fmt;
use std::io::{self, Read};
use std::net::SocketAddr;

use crate::address::Mailbox;
use crate::command::Param;
use crate::data::DataError;
use crate::extensions::Extensions;
use crate::proto::TlsInfo;
use crate::reply::Reply;
#[cfg(feature = "auth")]
use crate::sasl::Credentials;
use crate::stream::{HandshakeError, RecvError, SendError};

use super::config::Protocol;

/// What the server knows about a connection when it builds the handler.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// A number unique within this server, for logs.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address the client connected to.
    pub local: SocketAddr,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// Which listener accepted the connection (0 = the first bound).
    pub listener: usize,
    /// The listener does implicit TLS: the handshake comes before the greeting (port 465 style).
    pub implicit_tls: bool,
    /// The load balancer's address, when a PROXY protocol header gave the real client in
    /// `peer`.
    pub proxy: Option<SocketAddr>,
}

/// The `BODY` parameter of MAIL (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`
    SevenBit,
    /// `BODY=8BITMIME`
    EightBitMime,
    /// `BODY=BINARYMIME` (RFC 3030; with BDAT only)
    BinaryMime,
}

/// The parameters of MAIL that the server understands, plus the rest as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=` as declared by the client.
    pub size: Option<u64>,
    /// `BODY=`
    pub body: Option<Body>,
    /// `SMTPUTF8` was given.
    pub smtputf8: bool,
    /// `RET=` (DSN, when enabled).
    pub ret: Option<crate::dsn::Ret>,
    /// `ENVID=` decoded (DSN, when enabled).
    pub envid: Option<String>,
    /// Other parameters, each already accepted by [`Handler::on_mail_param`].
    pub other: Vec<Param>,
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path.
    pub mailbox: Mailbox,
    /// Its parameters, each accepted by [`Handler::on_rcpt_param`] (DSN's excepted, when on).
    pub params: Vec<Param>,
    /// `NOTIFY=` (DSN, when enabled).
    pub notify: Option<crate::dsn::Notify>,
    /// `ORCPT=` (DSN, when enabled).
    pub orcpt: Option<crate::dsn::Orcpt>,
}

/// The envelope of the current transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The name the client gave in HELO/EHLO/LHLO.
    pub helo: String,
    /// The reverse path; `None` is the null sender `<>`.
    pub from: Option<Mailbox>,
    /// MAIL parameters.
    pub params: MailParams,
    /// Accepted recipients, in order.
    pub recipients: Vec<Recipient>,
    /// The identity the client authenticated as (AUTH), if any.
    pub auth: Option<String>,
    /// The TLS parameters, when the session is encrypted.
    pub tls: Option<TlsInfo>,
}

/// What to do with a new connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Greeting {
    /// Send the standard `220 <hostname> ESMTP` banner.
    #[default]
    Accept,
    /// Send `220 <hostname> <text>`.
    Banner(String),
    /// Send this reply (normally `554`) and close. The client may still send QUIT.
    Reject(Reply),
    /// Close without a word.
    Close,
}

/// The part of a session a fault happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sending the greeting.
    Greeting,
    /// Reading or answering a command.
    Command,
    /// Receiving a DATA body.
    Data,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Greeting => "greeting",
            Phase::Command => "command",
            Phase::Data => "data",
        })
    }
}

/// Every fault a session can meet, as a value (gen_smtp's `handle_error` reasons).
// A tag byte of its own rather than one shared with a field's niche: a `match` is then one
// switch, not a niche decode (two compares) and a switch. The fault path matches each error
// five times, and the session fuzz target traces every compare (a call each).
#[derive(Debug)]
#[non_exhaustive]
#[repr(u8)]
pub enum SessionError {
    /// The peer closed the connection (end of stream) other than after QUIT.
    Closed(Phase),
    /// The peer reset the connection.
    Reset(Phase),
    /// A deadline passed (`421 4.4.2` was sent).
    Timeout(Phase),
    /// A TLS handshake failed (STARTTLS or implicit TLS); the connection is closed.
    TlsHandshake(HandshakeError),
    /// An AUTH attempt failed (bad credentials or a malformed exchange); holds the reply sent.
    AuthFailed(Reply),
    /// Reading failed in another way.
    Recv(Phase, io::Error),
    /// A reply could not be written.
    Send(SendError),
    /// A command line exceeded the limit (`500 5.5.2` was sent).
    LineTooLong,
    /// A command came out of order (`503 5.5.1` was sent).
    OutOfOrder(&'static str),
    /// A line could not be parsed (the reply was sent).
    Syntax(crate::command::CommandError),
    /// An unknown command was refused (by [`Handler::on_unknown`]); holds the verb.
    UnknownCommand(String),
    /// A MAIL or RCPT parameter was refused as malformed or unsupported (`501`/`555`); holds
    /// the reply sent.
    BadParameter(Reply),
    /// The client made too many errors (`421 4.7.0` was sent).
    TooManyErrors,
    /// The client spent its budget of commands that move no mail (`421 4.7.0` was sent; see
    /// [`ServerConfig::max_junk_commands`](super::ServerConfig::max_junk_commands)).
    TooManyJunkCommands,
    /// The session reached its longest allowed duration (`421 4.4.2` was sent; see
    /// [`ServerConfig::max_session_duration`](super::ServerConfig::max_session_duration)).
    SessionTooLong,
    /// A message body broke a rule (size, line length, bare CR/LF); it was rejected.
    DataRejected(DataError),
    /// A callback panicked; the client got `451 4.3.0` or `421`, and the session ends.
    HandlerPanic {
        /// The callback's name.
        callback: &'static str,
        /// The panic message, when it was a string.
        message: String,
    },
}

impl SessionError {
    /// True for errors after which the session cannot go on whatever `on_error` says
    /// (the connection is gone, or the session is ending).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SessionError::Closed(_)
                | SessionError::Reset(_)
                | SessionError::Timeout(_)
                | SessionError::TlsHandshake(_)
                | SessionError::Recv(..)
                | SessionError::TooManyErrors
                | SessionError::TooManyJunkCommands
                | SessionError::SessionTooLong
                | SessionError::HandlerPanic { .. }
        )
    }

    pub(crate) fn from_recv(phase: Phase, e: RecvError) -> Self {
        match e {
            RecvError::Closed => SessionError::Closed(phase),
            RecvError::Reset => SessionError::Reset(phase),
            RecvError::TimedOut => SessionError::Timeout(phase),
            RecvError::Io(e) => SessionError::Recv(phase, e),
        }
    }

    /// True for ordinary events (peer gone, timeouts, protocol mistakes), logged at debug;
    /// false for real faults, logged at warn.
    pub fn is_ordinary(&self) -> bool {
        !matches!(
            self,
            SessionError::Recv(..)
                | SessionError::Send(SendError::Io(_))
                | SessionError::HandlerPanic { .. }
        )
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Closed(p) => write!(f, "peer closed the connection during {p}"),
            SessionError::Reset(p) => write!(f, "connection reset during {p}"),
            SessionError::Timeout(p) => write!(f, "timeout during {p}"),
            SessionError::TlsHandshake(e) => e.fmt(f),
            SessionError::AuthFailed(r) => write!(f, "authentication failed: {r}"),
            SessionError::Recv(p, e) => write!(f, "receive failed during {p}: {e}"),
            SessionError::Send(e) => e.fmt(f),
            SessionError::LineTooLong => f.write_str("command line too long"),
            SessionError::OutOfOrder(c) => write!(f, "{c} out of order"),
            SessionError::Syntax(e) => write!(f, "syntax error: {e}"),
            SessionError::UnknownCommand(v) => write!(f, "unknown command {v:?}"),
            SessionError::BadParameter(r) => write!(f, "parameter refused: {r}"),
            SessionError::TooManyErrors => f.write_str("too many errors"),
            SessionError::TooManyJunkCommands => f.write_str("too many commands without mail"),
            SessionError::SessionTooLong => f.write_str("session time limit reached"),
            SessionError::DataRejected(e) => write!(f, "message rejected: {e}"),
            SessionError::HandlerPanic { callback, message } => {
                write!(f, "handler panicked in {callback}: {message}")
            }
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Recv(_, e) => Some(e),
            SessionError::Send(e) => Some(e),
            SessionError::TlsHandshake(e) => Some(e),
            SessionError::Syntax(e) => Some(e),
            SessionError::DataRejected(e) => Some(e),
            _ => None,
        }
    }
}

/// The handler's decision after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorAction {
    /// Carry on with the session (ignored for fatal errors).
    Continue,
    /// End the session cleanly.
    Close,
}

/// Reads the whole message into a `Vec<u8>` (gen_smtp's `handle_DATA` gets a binary). Fails
/// when the body is rejected or the connection breaks before the terminator: a partial
/// message never comes back as `Ok`.
pub fn collect(data: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    data.read_to_end(&mut v)?;
    Ok(v)
}

/// A session's callbacks. All have defaults that accept, so a handler implements only what it
/// cares about. Returning `Err(reply)` refuses with that reply; a `421` reply also closes the
/// session after it is sent.
///
/// The message body arrives through a `Read` in [`Handler::on_data`]; it reports an error
/// (rather than end of file) when the body is rejected or the client vanishes before the
/// terminating dot, so a handler that propagates read errors never keeps a partial message.
#[allow(unused_variables)]
pub trait Handler: Send {
    /// A client connected. Default: the standard banner.
    fn on_connect(&mut self, conn: &ConnInfo) -> Greeting {
        Greeting::Accept
    }

    /// HELO. Default: accept.
    fn on_helo(&mut self, domain: &str) -> Result<(), Reply> {
        Ok(())
    }

    /// EHLO (or LHLO); `extensions` may be edited (add, remove, `SIZE 0` for no limit).
    fn on_ehlo(&mut self, domain: &str, extensions: &mut Extensions) -> Result<(), Reply> {
        Ok(())
    }

    /// MAIL FROM, after the server checked its known parameters. Default: accept.
    fn on_mail(&mut self, from: Option<&Mailbox>, params: &MailParams) -> Result<(), Reply> {
        Ok(())
    }

    /// A MAIL parameter the server does not know (gen_smtp's `handle_MAIL_extension`).
    /// Default: `555 5.5.4`.
    fn on_mail_param(&mut self, param: &Param) -> Result<(), Reply> {
        Err(Reply::UNSUPPORTED_PARAM)
    }

    /// RCPT TO, with its parameters already accepted by [`Handler::on_rcpt_param`]. Default: accept.
    fn on_rcpt(
        &mut self,
        to: &Mailbox,
        params: &[Param],
        envelope: &Envelope,
    ) -> Result<(), Reply> {
        Ok(())
    }

    /// A RCPT parameter. Default: `555 5.5.4`.
    fn on_rcpt_param(&mut self, param: &Param) -> Result<(), Reply> {
        Err(Reply::UNSUPPORTED_PARAM)
    }

    /// The message body. Return the reply to send (`Ok(Reply::QUEUED)` by default) or a refusal.
    /// If the handler returns before reading it all, the server reads the rest; either way
    /// the reply goes out only once the whole body has arrived, and a body the server refuses
    /// (too big, a bare line ending, a broken connection) gets the server's reply instead.
    /// The default reads nothing and accepts: the server reads the body and drops it.
    fn on_data(&mut self, envelope: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        Ok(Reply::QUEUED)
    }

    /// LMTP: the message body, with one result per recipient of `envelope.recipients`, in
    /// order. The default calls [`Handler::on_data`] and gives its result to every recipient.
    fn on_data_lmtp(
        &mut self,
        envelope: &Envelope,
        data: &mut dyn Read,
    ) -> Vec<Result<Reply, Reply>> {
        let r = self.on_data(envelope, data);
        vec![r; envelope.recipients.len()]
    }

    /// TLS is established: after STARTTLS (the session then starts over, RFC 3207), or at
    /// connect on an implicit-TLS listener (before `on_connect`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    fn on_starttls(&mut self, info: &TlsInfo) {}

    /// AUTH: verify the credentials (for example with [`Credentials::check_password`]).
    /// Default: refuse with `535 5.7.8`, since there is no user database to check against.
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    fn on_auth(&mut self, credentials: &Credentials) -> Result<(), Reply> {
        Err(Reply::AUTH_FAILED)
    }

    /// RSET (and the implicit reset of a new EHLO).
    fn on_rset(&mut self) {}

    /// VRFY. Default: `252 2.1.5`.
    fn on_vrfy(&mut self, arg: &str) -> Reply {
        Reply::CANNOT_VRFY
    }

    /// EXPN. Default: `502 5.5.1`.
    fn on_expn(&mut self, arg: &str) -> Reply {
        Reply::NOT_IMPLEMENTED
    }

    /// A command the server does not know (gen_smtp's `handle_other`). Default: `500 5.5.2`.
    fn on_unknown(&mut self, verb: &str, args: &str) -> Reply {
        Reply::UNRECOGNIZED
    }

    /// A fault. The default closes after a failed write and carries on after protocol errors;
    /// for fatal errors ([`SessionError::is_fatal`]) the answer is ignored.
    fn on_error(&mut self, error: &SessionError) -> ErrorAction {
        match error {
            SessionError::Send(_) => ErrorAction::Close,
            _ => ErrorAction::Continue,
        }
    }

    /// The session ended; called exactly once per connection (gen_smtp's `terminate`).
    fn on_close(&mut self) {}
}
