//! One SMTP/LMTP conversation with one host: greeting, EHLO, STARTTLS, AUTH, transactions.
//!
//! (Over 900 lines on purpose: one conversation from connect to QUIT, whose steps share the
//! connection, the EHLO keywords and the transcript; splitting it would spread that state.)

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use log::{debug, info};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;

use super::email::{BodySource, Email, Envelope};
use super::error::{Error, ErrorKind};
use super::options::{AuthPolicy, Direction, Login, OnError, Options, TlsMode};
use super::receipt::{Outcome, Receipt, RecipientResult, TlsStatus};
use crate::command::Param;
use crate::data::DotStuffer;
use crate::extensions::Extensions;
use crate::proto::Protocol;
use crate::reply::{Reply, parse_reply_line};
use crate::sasl::{self, Mechanism};
use crate::stream::{Conn, HandshakeError, Line, RecvError, SendError, deadline_in};
use crate::tls::{CertificateProblem, recording_config};

/// Body bytes stuffed and written per block (each block has its own write deadline).
const BLOCK: usize = 64 * 1024;

/// The TLS side of a client, built once by [`Client::new`](super::Client::new).
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    /// The configuration for verified TLS (`Required`, `Implicit`), shared so that sessions
    /// resume.
    pub(crate) config: Arc<rustls::ClientConfig>,
    /// The verifier opportunistic TLS runs and records (`None`: verification is off).
    pub(crate) verifier: Option<Arc<dyn ServerCertVerifier>>,
    /// False when the caller turned verification off (DangerAcceptAnyCertificate).
    pub(crate) verifies: bool,
}

/// Where to connect: the host's name (logs, and the name verified unless `tls_name` says
/// otherwise), its addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer<'a> {
    pub(crate) host: &'a str,
    pub(crate) addrs: &'a [SocketAddr],
    pub(crate) tls_name: Option<&'a str>,
}

/// An open session with one server. Deliver as many messages as you like, then `close`.
pub struct Connection {
    conn: Conn,
    host: String,
    /// The name certificates are verified against.
    tls_name: String,
    opts: Options,
    ext: Extensions,
    /// EHLO/LHLO was answered (parameters allowed), not HELO.
    esmtp: bool,
    tls: Option<TlsStatus>,
    authenticated: Option<String>,
    /// The connection cannot be used any more (lost, or QUIT sent).
    closed: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .field("tls", &self.tls)
            .field("authenticated", &self.authenticated)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn send_error(e: SendError) -> Error {
    let kind = match e {
        SendError::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Network,
    };
    Error::new(kind, format!("{e}")).with_source(e)
}

fn recv_error(what: &str, e: RecvError) -> Error {
    // A TLS alert after the handshake (TLS 1.3 sends the server's verdict on a client
    // certificate only then) is a TLS failure, explained.
    let tls = match &e {
        RecvError::Io(io) => io
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .cloned(),
        _ => None,
    };
    if let Some(t) = tls {
        use rustls::AlertDescription as A;
        let hint = match &t {
            rustls::Error::AlertReceived(A::CertificateRequired | A::HandshakeFailure) => {
                " (the server wants a client certificate it accepts: client_identity)"
            }
            rustls::Error::AlertReceived(
                A::BadCertificate | A::UnknownCA | A::CertificateUnknown | A::AccessDenied,
            ) => " (the server refused the client certificate)",
            _ => "",
        };
        return Error::new(
            ErrorKind::Tls,
            format!("TLS failed waiting for the {what} reply: {t}{hint}"),
        )
        .with_source(e);
    }
    let kind = match e {
        RecvError::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Network,
    };
    Error::new(kind, format!("waiting for the {what} reply: {e}")).with_source(e)
}

/// CR, LF or NUL in anything that goes into a command line would let a caller inject commands.
fn check_line(what: &str, s: &str) -> Result<(), Error> {
    if s.is_empty() || s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid {what} {s:?}"),
        ));
    }
    Ok(())
}

/// The size of the message on the wire before dot-stuffing, as SIZE= declares it (RFC 1870):
/// line endings counted as CRLF, plus a final CRLF when missing.
pub(crate) fn wire_size(message: &[u8]) -> u64 {
    let mut w = super::email::WireSize::default();
    w.push(message);
    w.finish()
}

/// xtext (RFC 3461 §4): printable ASCII but `+` and `=` as is, anything else `+XX`.
pub(crate) fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'+' | b'=' => out.push_str(&format!("+{b:02X}")),
            33..=126 => out.push(b as char),
            _ => out.push_str(&format!("+{b:02X}")),
        }
    }
    out
}

/// Keywords smtpkit sets itself: a raw parameter may not repeat them.
const OWN_PARAMS: &[&str] = &[
    "SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "NOTIFY", "ORCPT",
];

/// ` KEYWORD[=value]`, checked against RFC 5321's esmtp-keyword and esmtp-value (UTF-8 allowed,
/// RFC 6531).
fn raw_param(p: &Param) -> Result<String, Error> {
    let k = p.keyword.as_str();
    let keyword_ok = k.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !keyword_ok {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid ESMTP parameter keyword {k:?}"),
        ));
    }
    if OWN_PARAMS.iter().any(|o| o.eq_ignore_ascii_case(k)) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{k} is set by the client itself (use the typed field)"),
        ));
    }
    match &p.value {
        None => Ok(format!(" {k}")),
        Some(v) => {
            let ok = !v.is_empty() && v.bytes().all(|b| matches!(b, 33..=60 | 62..=126 | 128..));
            if !ok {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("invalid value {v:?} for ESMTP parameter {k}"),
                ));
            }
            Ok(format!(" {k}={v}"))
        }
    }
}

fn notify_value(n: &crate::dsn::Notify) -> String {
    if n.never() {
        return "NEVER".into();
    }
    let mut v = Vec::new();
    if n.success {
        v.push("SUCCESS");
    }
    if n.failure {
        v.push("FAILURE");
    }
    if n.delay {
        v.push("DELAY");
    }
    v.join(",")
}

/// A failed handshake as an error: a certificate problem in words (what, for which name, the
/// usual fix), anything else as the handshake error says.
fn handshake_error(e: HandshakeError, name: &str) -> Error {
    if let HandshakeError::Tls(tls) = &e {
        if let Some(problem) = CertificateProblem::from_rustls(tls, name) {
            return Error::new(ErrorKind::Tls, format!("TLS handshake failed: {problem}"))
                .with_source(problem);
        }
    }
    Error::new(ErrorKind::Tls, format!("{e}")).with_source(e)
}

/// Connects to `addr`, from `source` when given.
fn connect(
    addr: &SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect_timeout(addr, timeout);
    };
    if ip.is_ipv4() != addr.is_ipv4() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("source address {ip} cannot reach {addr} (other address family)"),
        ));
    }
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(*addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    socket.connect_timeout(&(*addr).into(), timeout)?;
    Ok(socket.into())
}

impl Connection {
    /// Connects to one host (trying its addresses in order) and runs greeting, EHLO,
    /// STARTTLS and AUTH as the options say.
    pub(crate) fn open_to(
        peer: Peer<'_>,
        opts: &Options,
        tls_mode: TlsMode,
        tls: Option<&TlsSetup>,
    ) -> Result<Connection, Error> {
        let host = peer.host;
        check_line("EHLO name", &opts.hostname)?;
        if opts.hostname.contains(' ') {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "EHLO name must not contain spaces",
            ));
        }
        let t = &opts.timeouts;
        let mut last = Error::new(ErrorKind::Network, "no address to connect to");
        let mut stream = None;
        for addr in peer.addrs {
            match connect(addr, opts.source_address, t.connect) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => {
                    let kind = if e.kind() == std::io::ErrorKind::TimedOut {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Network
                    };
                    let from = opts
                        .source_address
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default();
                    last =
                        Error::new(kind, format!("connecting to {addr}{from}: {e}")).with_source(e);
                }
            }
        }
        let stream = stream.ok_or(last).map_err(|e| e.with_host(host))?;
        let _ = stream.set_nodelay(true);
        let mut c = Connection {
            conn: Conn::new(stream, t.command),
            host: host.to_string(),
            tls_name: peer.tls_name.unwrap_or(host).to_string(),
            opts: opts.clone(),
            ext: Extensions::new(),
            esmtp: false,
            tls: None,
            authenticated: None,
            closed: false,
        };
        match c.setup(tls_mode, tls) {
            Ok(()) => Ok(c),
            Err(e) => {
                c.quit();
                Err(e.with_host(host))
            }
        }
    }

    fn setup(&mut self, tls_mode: TlsMode, tls: Option<&TlsSetup>) -> Result<(), Error> {
        let t = self.opts.timeouts;
        if tls_mode == TlsMode::Implicit {
            self.handshake(tls_mode, tls)?;
        }
        let greeting = self.read_reply("greeting", t.greeting)?;
        if greeting.code != 220 {
            return Err(Error::from_reply("greeting", greeting));
        }
        self.hello()?;
        let offered = self.ext.contains("STARTTLS");
        let encrypted = self.tls.is_some();
        match tls_mode {
            TlsMode::Required if !offered && !encrypted => {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    "TLS is required but the server does not offer STARTTLS",
                ));
            }
            TlsMode::Required | TlsMode::Opportunistic if offered && !encrypted => {
                let r = self.command("STARTTLS", "STARTTLS", t.command)?;
                if r.code != 220 {
                    if tls_mode == TlsMode::Required {
                        return Err(Error::from_reply("STARTTLS", r));
                    }
                    info!(target: "smtpkit::client", "{}: STARTTLS refused ({r}), going on without TLS", self.host);
                } else {
                    self.handshake(tls_mode, tls)?;
                    self.hello()?;
                }
            }
            TlsMode::Opportunistic if !offered => {
                debug!(target: "smtpkit::client", "{}: no STARTTLS offered, going on without TLS", self.host);
            }
            _ => {}
        }
        self.authenticate()
    }

    fn handshake(&mut self, mode: TlsMode, setup: Option<&TlsSetup>) -> Result<(), Error> {
        let setup = setup.ok_or_else(|| Error::new(ErrorKind::Tls, "no TLS configuration"))?;
        let name = ServerName::try_from(self.tls_name.clone()).map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("{:?} is not a valid TLS server name: {e}", self.tls_name),
            )
        })?;
        // Opportunistic TLS (RFC 7435): encrypt whatever the certificate; verify it on the
        // side and record the outcome.
        let (config, slot) = if mode == TlsMode::Opportunistic && setup.verifies {
            let (c, s) = recording_config(&setup.config, setup.verifier.clone());
            (c, Some(s))
        } else {
            (setup.config.clone(), None)
        };
        let deadline = deadline_in(self.opts.timeouts.tls);
        let tls_name = self.tls_name.clone();
        let dropped = self
            .conn
            .start_tls_client(config, name, deadline)
            .map_err(|e| {
                // A failed handshake leaves nothing to say QUIT over.
                self.closed = true;
                handshake_error(e, &tls_name)
            })?;
        if dropped > 0 {
            // RFC 3207 §4.2 (response injection): never trust what came before encryption.
            debug!(target: "smtpkit::client", "{}: dropped {dropped} octets received before TLS", self.host);
        }
        let recorded = slot.and_then(|s| s.lock().unwrap_or_else(|p| p.into_inner()).take());
        let status = match recorded {
            Some(e) => {
                let why = CertificateProblem::from_rustls(&e, &self.tls_name)
                    .map_or_else(|| e.to_string(), |p| p.to_string());
                info!(target: "smtpkit::client", "{}: opportunistic TLS without a verified certificate: {why}", self.host);
                TlsStatus::Unverified(why)
            }
            None if setup.verifies => TlsStatus::Verified,
            None => TlsStatus::NotChecked,
        };
        debug!(target: "smtpkit::client", "{}: {status}", self.host);
        self.tls = Some(status);
        Ok(())
    }

    /// EHLO (HELO after 500/502), or LHLO for LMTP.
    fn hello(&mut self) -> Result<(), Error> {
        let name = self.opts.hostname.clone();
        let timeout = self.opts.timeouts.command;
        if self.opts.protocol == Protocol::Lmtp {
            let r = self.command(&format!("LHLO {name}"), "LHLO", timeout)?;
            if r.code != 250 {
                return Err(Error::from_reply("LHLO", r));
            }
            self.ext = Extensions::parse_ehlo(r.lines());
            self.esmtp = true;
            return Ok(());
        }
        let r = self.command(&format!("EHLO {name}"), "EHLO", timeout)?;
        match r.code {
            250 => {
                self.ext = Extensions::parse_ehlo(r.lines());
                self.esmtp = true;
                Ok(())
            }
            500 | 502 => {
                let r = self.command(&format!("HELO {name}"), "HELO", timeout)?;
                if r.code != 250 {
                    return Err(Error::from_reply("HELO", r));
                }
                self.ext = Extensions::new();
                self.esmtp = false;
                Ok(())
            }
            _ => Err(Error::from_reply("EHLO", r)),
        }
    }

    /// AUTH as the policy says. With credentials and [`AuthPolicy::Always`] (the default),
    /// anything but a `235` ends the attempt here, before MAIL.
    fn authenticate(&mut self) -> Result<(), Error> {
        let opts = self.opts.clone();
        let Some(login) = opts.login.as_ref().filter(|_| opts.wants_auth()) else {
            return Ok(());
        };
        let optional = opts.auth == AuthPolicy::IfAvailable;
        let offered: Vec<String> = self
            .ext
            .get("AUTH")
            .map(|e| e.params.clone())
            .unwrap_or_default();
        if offered.is_empty() {
            if optional {
                info!(target: "smtpkit::client", "{}: no AUTH offered, sending unauthenticated (AuthPolicy::IfAvailable)", self.host);
                return Ok(());
            }
            let hint = if self.tls.is_none() && self.ext.contains("STARTTLS") {
                " (it offers STARTTLS: AUTH may come after it)"
            } else {
                ""
            };
            return Err(Error::new(
                ErrorKind::MissingRequirement,
                format!("credentials are set but the server does not offer AUTH{hint}"),
            ));
        }
        match &self.tls {
            None if !opts.allow_insecure_auth => {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    "refusing to send credentials without TLS (allow_insecure_auth is off)",
                ));
            }
            Some(TlsStatus::Unverified(why)) if !opts.allow_unverified_auth => {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    format!(
                        "refusing to send credentials over TLS whose certificate did not verify \
                         (allow_unverified_auth is off): {why}"
                    ),
                ));
            }
            _ => {}
        }
        let usable: Vec<Mechanism> = opts
            .mechanisms
            .iter()
            .copied()
            .filter(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.as_str())))
            .collect();
        if usable.is_empty() {
            if optional {
                info!(target: "smtpkit::client", "{}: no common AUTH mechanism, sending unauthenticated (AuthPolicy::IfAvailable)", self.host);
                return Ok(());
            }
            let mine: Vec<&str> = opts.mechanisms.iter().map(Mechanism::as_str).collect();
            return Err(Error::new(
                ErrorKind::MissingRequirement,
                format!(
                    "no common AUTH mechanism (the server offers {}, the client uses {})",
                    offered.join(" "),
                    mine.join(" ")
                ),
            ));
        }
        // gen_smtp's rule: a refused mechanism falls through to the next one.
        let mut last = None;
        for m in usable {
            let r = self.auth_with(m, login)?;
            match r.code {
                235 => {
                    self.authenticated = Some(login.username.clone());
                    return Ok(());
                }
                400..=499 => return Err(Error::from_reply("AUTH", r)),
                _ => last = Some(r),
            }
        }
        match last {
            Some(r) => Err(Error::from_reply(
                "AUTH refused with every mechanism tried",
                r,
            )),
            None => Err(Error::new(
                ErrorKind::UnexpectedReply,
                "AUTH ended without a reply",
            )),
        }
    }

    /// One AUTH exchange; returns the final reply.
    fn auth_with(&mut self, m: Mechanism, login: &Login) -> Result<Reply, Error> {
        let t = self.opts.timeouts.command;
        let (user, pass) = (login.username.as_str(), login.password.as_str());
        check_line("user name", user)?;
        let r = match m {
            Mechanism::Plain => {
                let resp = sasl::plain_response("", user, pass);
                let r = self.secret_command(&format!("AUTH PLAIN {resp}"), "AUTH PLAIN ****", t)?;
                if r.code == 334 {
                    // A server that ignored the initial response asks for it again.
                    self.secret_command(&resp, "****", t)?
                } else {
                    r
                }
            }
            Mechanism::XOAuth2 => {
                let resp = sasl::xoauth2_response(user, pass);
                let r =
                    self.secret_command(&format!("AUTH XOAUTH2 {resp}"), "AUTH XOAUTH2 ****", t)?;
                if r.code == 334 {
                    // The server explains the failure in the challenge; an empty line ends it.
                    self.secret_command("", "", t)?
                } else {
                    r
                }
            }
            Mechanism::OAuthBearer => {
                let resp = sasl::oauthbearer_response(user, pass, None, None);
                let r = self.secret_command(
                    &format!("AUTH OAUTHBEARER {resp}"),
                    "AUTH OAUTHBEARER ****",
                    t,
                )?;
                if r.code == 334 {
                    // RFC 7628 §3.2.3: the error comes as a challenge; ^A ends the exchange.
                    self.secret_command(sasl::OAUTHBEARER_ABORT, "AQ==", t)?
                } else {
                    r
                }
            }
            Mechanism::Login => {
                // The prompts are not interpreted: username, then password, whatever the
                // prompt text says (some servers add words after the base64, or send none).
                let mut r = self.command("AUTH LOGIN", "AUTH", t)?;
                let mut step = 0;
                while r.code == 334 && step < 2 {
                    r = self.secret_command(&sasl::login_answer(step, user, pass), "****", t)?;
                    step += 1;
                }
                if r.code == 334 {
                    // A third prompt: cancel (RFC 4954 §4) rather than guess.
                    self.command("*", "AUTH", t)?
                } else {
                    r
                }
            }
            Mechanism::CramMd5 => {
                let r = self.command("AUTH CRAM-MD5", "AUTH", t)?;
                if r.code != 334 {
                    return Ok(r);
                }
                // The challenge is the first word (some servers add text after it).
                let text = r.text.to_string();
                let challenge = text.split_whitespace().next().unwrap_or("");
                match sasl::cram_md5_response(challenge, user, pass) {
                    Ok(resp) => self.secret_command(&resp, "****", t)?,
                    Err(e) => {
                        debug!(target: "smtpkit::client", "{}: AUTH CRAM-MD5: {e}, cancelling", self.host);
                        self.command("*", "AUTH", t)?
                    }
                }
            }
        };
        Ok(r)
    }

    fn trace(&self, dir: Direction, line: &str) {
        let arrow = if dir == Direction::Sent { ">" } else { "<" };
        debug!(target: "smtpkit::client", "{} {arrow} {line}", self.host);
        if let Some(f) = &self.opts.transcript {
            f(&self.host, dir, line);
        }
    }

    /// Queues a command line (not flushed).
    fn queue(&mut self, line: &str, shown: &str) {
        self.trace(Direction::Sent, shown);
        self.conn.queue_bytes(line.as_bytes());
        self.conn.queue_bytes(b"\r\n");
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.conn.flush().map_err(|e| {
            self.closed = true;
            send_error(e)
        })
    }

    /// Sends one command and reads its reply.
    fn command(&mut self, line: &str, what: &str, timeout: Duration) -> Result<Reply, Error> {
        self.queue(line, line);
        self.flush()?;
        self.read_reply(what, timeout)
    }

    /// Like `command`, but the line is shown masked in logs and transcripts.
    fn secret_command(
        &mut self,
        line: &str,
        shown: &str,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        self.queue(line, shown);
        self.flush()?;
        self.read_reply("AUTH", timeout)
    }

    /// Reads one reply, strictly: every line `DDD-` or `DDD `, the same code on every line,
    /// line length and total size capped (an endless reply is an error, not a hang).
    fn read_reply(&mut self, what: &str, timeout: Duration) -> Result<Reply, Error> {
        let deadline = deadline_in(timeout);
        let (max_line, max_total) = self.opts.max_reply;
        let mut lines: Vec<String> = Vec::new();
        let mut total = 0;
        loop {
            let line = match self.conn.read_line(max_line, deadline) {
                Ok(Line::Complete(l)) => l,
                Ok(Line::TooLong) => {
                    self.closed = true;
                    return Err(Error::new(
                        ErrorKind::UnexpectedReply,
                        format!("{what} reply line too long"),
                    ));
                }
                Err(e) => {
                    self.closed = true;
                    return Err(recv_error(what, e));
                }
            };
            total += line.len() + 2;
            let text = String::from_utf8_lossy(&line).into_owned();
            self.trace(Direction::Received, &text);
            let (code, more, _) = match parse_reply_line(&text) {
                Ok(v) => v,
                Err(e) => {
                    self.closed = true;
                    return Err(
                        Error::new(ErrorKind::UnexpectedReply, format!("{what}: {e}"))
                            .with_source(e),
                    );
                }
            };
            if lines
                .first()
                .is_some_and(|f| !f.starts_with(&format!("{code:03}")))
            {
                self.closed = true;
                return Err(Error::new(
                    ErrorKind::UnexpectedReply,
                    format!("{what}: reply lines carry different codes"),
                ));
            }
            lines.push(text);
            if total > max_total {
                self.closed = true;
                return Err(Error::new(
                    ErrorKind::UnexpectedReply,
                    format!("{what} reply too long"),
                ));
            }
            if !more {
                break;
            }
        }
        let reply = Reply::parse_lines(lines.iter().map(String::as_str)).map_err(|e| {
            self.closed = true;
            Error::new(ErrorKind::UnexpectedReply, format!("{what}: {e}")).with_source(e)
        })?;
        if reply.code == 421 {
            // RFC 5321 §3.8: the server is closing the channel; nothing more will come.
            self.closed = true;
            return Err(Error::from_reply(what, reply));
        }
        Ok(reply)
    }

    /// The host this connection talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's EHLO keywords (empty after HELO).
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// True when the session is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// How the session is protected: `None` without TLS, else whether the certificate
    /// verified.
    pub fn tls_status(&self) -> Option<&TlsStatus> {
        self.tls.as_ref()
    }

    /// The identity authenticated as, if any.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// False once the connection was lost or closed.
    pub fn is_open(&self) -> bool {
        !self.closed
    }

    /// Sends one message. A refused recipient does not stop the others: the receipt lists
    /// every recipient with its reply. Fails when no recipient was accepted, the message was
    /// refused, or the connection broke (after the final dot: [`ErrorKind::StatusUnknown`]).
    /// After a failed transaction the connection is reset (RSET) or closed (QUIT) as
    /// [`Options::on_error`] says.
    pub fn deliver(&mut self, email: &Email) -> Result<Receipt, Error> {
        self.deliver_envelope(&email.envelope(), &email.message)
    }

    /// Sends one message with a full [`Envelope`] (DSN, extra parameters) and a body from any
    /// [`BodySource`] (bytes, a file, a reader), streamed in blocks. Otherwise like
    /// [`Connection::deliver`].
    pub fn deliver_envelope(
        &mut self,
        envelope: &Envelope,
        body: &dyn BodySource,
    ) -> Result<Receipt, Error> {
        if self.closed {
            return Err(
                Error::new(ErrorKind::Network, "the connection is closed").with_host(&self.host)
            );
        }
        let result = self.transaction(envelope, body);
        if let Err(e) = &result {
            if !self.closed && e.kind() != ErrorKind::StatusUnknown {
                match self.opts.on_error {
                    OnError::Reset => {
                        if self.reset().is_err() {
                            self.quit();
                        }
                    }
                    OnError::Quit => self.quit(),
                }
            }
        }
        result.map_err(|e| e.with_host(&self.host))
    }

    /// The MAIL command line.
    fn mail_line(&self, env: &Envelope, body: &dyn BodySource, dsn: bool) -> Result<String, Error> {
        let mut mail = format!(
            "MAIL FROM:<{}>",
            env.from.as_ref().map(|m| m.to_string()).unwrap_or_default()
        );
        if !self.esmtp {
            return Ok(mail);
        }
        if let Some(size) = body.size_hint() {
            if self.ext.contains("SIZE") {
                mail.push_str(&format!(" SIZE={size}"));
            }
        }
        if body.is_8bit() != Some(false) && self.ext.contains("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if env.needs_smtputf8() {
            mail.push_str(" SMTPUTF8");
        }
        if dsn {
            match env.ret {
                Some(crate::dsn::Ret::Full) => mail.push_str(" RET=FULL"),
                Some(crate::dsn::Ret::Headers) => mail.push_str(" RET=HDRS"),
                None => {}
            }
            if let Some(id) = &env.envid {
                if id.is_empty() || id.chars().count() > 100 {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "ENVID must have 1 to 100 characters (RFC 3461)",
                    ));
                }
                mail.push_str(&format!(" ENVID={}", xtext(id)));
            }
        }
        for p in &env.mail_params {
            mail.push_str(&raw_param(p)?);
        }
        Ok(mail)
    }

    /// The RCPT command lines.
    fn rcpt_lines(&self, env: &Envelope, dsn: bool) -> Result<Vec<String>, Error> {
        env.to
            .iter()
            .map(|r| {
                let mut line = format!("RCPT TO:<{}>", r.mailbox);
                if !self.esmtp {
                    return Ok(line);
                }
                if dsn {
                    if let Some(n) = &r.notify {
                        line.push_str(&format!(" NOTIFY={}", notify_value(n)));
                    }
                    if let Some(o) = &r.orcpt {
                        let ok = !o.addr_type.is_empty()
                            && o.addr_type
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                        if !ok || o.address.is_empty() {
                            return Err(Error::new(
                                ErrorKind::InvalidInput,
                                format!("invalid ORCPT {};{}", o.addr_type, o.address),
                            ));
                        }
                        line.push_str(&format!(" ORCPT={};{}", o.addr_type, xtext(&o.address)));
                    }
                }
                for p in &r.params {
                    line.push_str(&raw_param(p)?);
                }
                Ok(line)
            })
            .collect()
    }

    fn transaction(&mut self, env: &Envelope, body: &dyn BodySource) -> Result<Receipt, Error> {
        if env.to.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no recipient"));
        }
        let t = self.opts.timeouts;
        if env.needs_smtputf8() && !self.ext.contains("SMTPUTF8") {
            return Err(Error::new(
                ErrorKind::MissingRequirement,
                "a non-ASCII address needs SMTPUTF8, which the server does not offer",
            ));
        }
        let has_params = !env.mail_params.is_empty() || env.to.iter().any(|r| !r.params.is_empty());
        if has_params && !self.esmtp {
            return Err(Error::new(
                ErrorKind::MissingRequirement,
                "the server did not answer EHLO: ESMTP parameters cannot be sent",
            ));
        }
        let dsn = self.esmtp && self.ext.contains("DSN");
        if env.has_dsn() && !dsn {
            if env.dsn_required {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    "DSN was requested (dsn_required) but the server does not offer DSN",
                ));
            }
            debug!(target: "smtpkit::client", "{}: the server does not offer DSN: RET, ENVID, NOTIFY and ORCPT left out", self.host);
        }
        if let (Some(size), Some(max)) = (body.size_hint(), self.ext.size().filter(|&m| m > 0)) {
            if size > max {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    format!(
                        "the message ({size} octets) is larger than the server accepts ({max})"
                    ),
                ));
            }
        }
        let mail = self.mail_line(env, body, dsn)?;
        let rcpts = self.rcpt_lines(env, dsn)?;
        for line in std::iter::once(&mail).chain(&rcpts) {
            check_line("command", line)?;
        }
        // Opened before anything is sent: a body that cannot be read sends nothing.
        let mut reader = body.open().map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("cannot read the message body: {e}"),
            )
            .with_source(e)
        })?;
        let pipelined = self.opts.pipelining && self.ext.contains("PIPELINING");
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        let data_reply;
        if pipelined {
            // RFC 2920: MAIL, every RCPT and DATA in one write, then every reply in order.
            self.queue(&mail, &mail);
            for r in &rcpts {
                self.queue(r, r);
            }
            self.queue("DATA", "DATA");
            self.flush()?;
            let mail_reply = self.read_reply("MAIL", t.mail)?;
            for _ in &rcpts {
                rcpt_replies.push(self.read_reply("RCPT", t.rcpt)?);
            }
            data_reply = self
                .read_reply("DATA", t.data_start)
                .map_err(|e| settle(e, pending(env, &rcpt_replies)))?;
            if !mail_reply.is_positive() {
                self.abort_data(&data_reply)?;
                return Err(Error::from_reply("MAIL", mail_reply));
            }
        } else {
            let mail_reply = self.command(&mail, "MAIL", t.mail)?;
            if !mail_reply.is_positive() {
                return Err(Error::from_reply("MAIL", mail_reply));
            }
            for r in &rcpts {
                rcpt_replies.push(self.command(r, "RCPT", t.rcpt)?);
            }
            if !rcpt_replies.iter().any(Reply::is_positive) {
                return Err(all_refused(env, rcpt_replies));
            }
            data_reply = self
                .command("DATA", "DATA", t.data_start)
                .map_err(|e| settle(e, pending(env, &rcpt_replies)))?;
        }
        let mut results = pending(env, &rcpt_replies);
        if !rcpt_replies.iter().any(Reply::is_positive) {
            self.abort_data(&data_reply)?;
            return Err(all_refused(env, rcpt_replies));
        }
        if data_reply.code != 354 {
            return Err(settle(Error::from_reply("DATA", data_reply), results));
        }
        if let Err(e) = self.send_body(&mut *reader) {
            return Err(settle(e, results));
        }
        let accepted: Vec<usize> = (0..results.len())
            .filter(|&i| rcpt_replies[i].is_positive())
            .collect();
        let lmtp = self.opts.protocol == Protocol::Lmtp;
        // One reply for SMTP; one per accepted recipient, in order, for LMTP. Every reply that
        // arrives is kept; recipients left without one when the connection ends are Unknown.
        let mut lost = None;
        let mut first_final = None;
        let groups: Vec<Vec<usize>> = if lmtp {
            accepted.iter().map(|&i| vec![i]).collect()
        } else {
            vec![accepted.clone()]
        };
        let mut answered = 0;
        for group in &groups {
            let reply = match self.read_reply("message", t.data_end) {
                Ok(r) => r,
                // A reply (421) is an answer: the message was not taken for these.
                Err(e) => match e.reply() {
                    Some(r) => {
                        lost = Some(e.to_string());
                        r.clone()
                    }
                    None => {
                        lost = Some(e.to_string());
                        break;
                    }
                },
            };
            for &i in group {
                results[i].outcome = Outcome::of(&reply);
                results[i].delivered = results[i].outcome == Outcome::Delivered;
                results[i].reply = reply.clone();
            }
            first_final.get_or_insert(reply);
            answered += 1;
            if lost.is_some() {
                break;
            }
        }
        for group in &groups[answered..] {
            for &i in group {
                results[i].outcome = Outcome::Unknown;
            }
        }
        if let Some(r) = results.iter().find(|r| r.delivered) {
            let reply = if lmtp {
                r.reply.clone()
            } else {
                first_final.unwrap_or(data_reply)
            };
            if results.iter().any(|r| r.outcome == Outcome::Unknown) {
                info!(target: "smtpkit::client", "{}: the connection ended before every recipient's reply: {}", self.host, lost.as_deref().unwrap_or("-"));
            }
            return Ok(Receipt {
                host: self.host.clone(),
                reply,
                recipients: results,
                tls: self.tls.clone(),
            });
        }
        if results.iter().any(|r| r.outcome == Outcome::Unknown) {
            let e = Error::new(
                ErrorKind::StatusUnknown,
                format!(
                    "delivery status unknown: the connection was lost after the message was sent ({})",
                    lost.as_deref().unwrap_or("no reply")
                ),
            );
            return Err(e.with_recipients(results));
        }
        let first = first_final.unwrap_or(data_reply);
        Err(Error::from_reply("message refused", first).with_recipients(results))
    }

    /// After a pipelined DATA that got 354 although nothing can be sent: a lone dot ends it.
    fn abort_data(&mut self, data_reply: &Reply) -> Result<(), Error> {
        if data_reply.code == 354 {
            self.queue(".", ".");
            self.flush()?;
            self.read_reply("empty message", self.opts.timeouts.data_end)?;
        }
        Ok(())
    }

    /// Streams the body: CRLF line endings, dot-stuffing, one terminator; each block has its
    /// own write deadline. A body that cannot be read ends the connection without the final
    /// dot, so the server discards the partial message.
    fn send_body(&mut self, reader: &mut dyn Read) -> Result<(), Error> {
        self.conn.set_write_deadline(self.opts.timeouts.data_block);
        let mut stuffer = DotStuffer::new();
        let mut buf = vec![0u8; BLOCK];
        let mut out = Vec::with_capacity(BLOCK + BLOCK / 8);
        let mut total: u64 = 0;
        let result = loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.closed = true;
                    self.conn.close();
                    break Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("reading the message body failed after {total} octets (the message was not sent): {e}"),
                    )
                    .with_source(e));
                }
            };
            total += n as u64;
            out.clear();
            stuffer.push(&buf[..n], &mut out);
            self.conn.queue_bytes(&out);
            if let Err(e) = self.flush() {
                break Err(e);
            }
        };
        let result = result.and_then(|()| {
            out.clear();
            stuffer.finish(&mut out);
            self.conn.queue_bytes(&out);
            self.flush()
        });
        self.conn.set_write_deadline(self.opts.timeouts.command);
        self.trace(Direction::Sent, &format!("<message, {total} octets>"));
        result
    }

    /// RSET: ends any transaction, keeps the connection.
    pub fn reset(&mut self) -> Result<(), Error> {
        let r = self.command("RSET", "RSET", self.opts.timeouts.command)?;
        if r.is_positive() {
            Ok(())
        } else {
            Err(Error::from_reply("RSET", r))
        }
    }

    /// NOOP: checks that the server is still there.
    pub fn noop(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::new(ErrorKind::Network, "the connection is closed"));
        }
        let r = self.command("NOOP", "NOOP", self.opts.timeouts.command)?;
        if r.is_positive() {
            Ok(())
        } else {
            Err(Error::from_reply("NOOP", r))
        }
    }

    /// QUIT, a short wait for `221`, then close.
    pub fn close(mut self) {
        self.quit();
    }

    fn quit(&mut self) {
        if !self.closed {
            self.queue("QUIT", "QUIT");
            if self.flush().is_ok() {
                let _ = self.read_reply(
                    "QUIT",
                    Duration::from_secs(5).min(self.opts.timeouts.command),
                );
            }
            self.closed = true;
        }
        self.conn.close();
    }
}

/// The recipients with their RCPT replies, none delivered (yet): an accepted one is Deferred
/// until the message's reply settles it.
fn pending(env: &Envelope, rcpt_replies: &[Reply]) -> Vec<RecipientResult> {
    env.to
        .iter()
        .zip(rcpt_replies)
        .map(|(r, reply)| RecipientResult {
            mailbox: r.mailbox.clone(),
            reply: reply.clone(),
            delivered: false,
            outcome: match Outcome::of(reply) {
                Outcome::Delivered => Outcome::Deferred,
                o => o,
            },
        })
        .collect()
}

/// A transaction that failed before the final dot: the recipients the server had accepted
/// share the error's fate (Refused when permanent, else Deferred: worth retrying).
fn settle(e: Error, mut results: Vec<RecipientResult>) -> Error {
    let outcome = if e.is_permanent() {
        Outcome::Refused
    } else {
        Outcome::Deferred
    };
    for r in &mut results {
        if r.reply.is_positive() {
            r.outcome = outcome;
        }
    }
    e.with_recipients(results)
}

fn all_refused(env: &Envelope, replies: Vec<Reply>) -> Error {
    // Worth retrying only when every refusal was temporary.
    let kind = if replies.iter().all(Reply::is_transient) {
        ErrorKind::Transient
    } else {
        ErrorKind::Permanent
    };
    let results = pending(env, &replies);
    let e = match replies.into_iter().next() {
        Some(r) => Error::from_reply("every recipient was refused", r),
        None => Error::new(kind, "every recipient was refused"),
    };
    e.with_kind(kind).with_recipients(results)
}

#[cfg(test)]
mod tests {
    use super::wire_size;

    #[test]
    fn sizes_in_pieces() {
        let text = b"a\r\nb\rc\nd";
        for cut in 0..text.len() {
            let mut w = super::super::email::WireSize::default();
            w.push(&text[..cut]);
            w.push(&text[cut..]);
            assert_eq!(w.finish(), wire_size(text), "cut at {cut}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(wire_size(b""), 0);
        assert_eq!(wire_size(b"a"), 3);
        assert_eq!(wire_size(b"a\r\n"), 3);
        assert_eq!(wire_size(b"a\n"), 3);
        assert_eq!(wire_size(b"a\rb\n"), 6);
        assert_eq!(wire_size(b"a\r\nb"), 6);
    }
}
