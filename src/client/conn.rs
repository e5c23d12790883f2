//! One SMTP/LMTP conversation with one host: greeting, EHLO, STARTTLS, AUTH, transactions.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use log::debug;
use rustls::pki_types::ServerName;

use super::email::{Email, Receipt, RecipientResult};
use super::error::{Error, ErrorKind};
use super::options::{AuthPolicy, Direction, Login, OnError, Options, TlsMode};
use crate::data::DotStuffer;
use crate::extensions::Extensions;
use crate::reply::{Reply, parse_reply_line};
use crate::sasl::{self, Mechanism};
use crate::server::Protocol;
use crate::stream::{Conn, Line, RecvError, SendError, deadline_in};

/// Body bytes stuffed and written per block (each block has its own write deadline).
const BLOCK: usize = 64 * 1024;

/// An open session with one server. Deliver as many messages as you like, then `close`.
pub struct Connection {
    conn: Conn,
    host: String,
    opts: Options,
    ext: Extensions,
    /// EHLO/LHLO was answered (parameters allowed), not HELO.
    esmtp: bool,
    tls: bool,
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
    let mut n: u64 = 0;
    let mut prev_cr = false;
    for &b in message {
        n += match (b, prev_cr) {
            (b'\n', true) => 0, // the LF of a CRLF already counted as part of the CR's 2
            (b'\n', false) | (b'\r', _) => 2,
            _ => 1,
        };
        prev_cr = b == b'\r';
    }
    if !message.is_empty() && !message.ends_with(b"\n") && !message.ends_with(b"\r") {
        n += 2;
    }
    n
}

impl Connection {
    /// Connects to one host (trying its addresses in order) and runs greeting, EHLO,
    /// STARTTLS and AUTH as the options say.
    pub(crate) fn open_to(
        host: &str,
        addrs: &[SocketAddr],
        opts: &Options,
        tls_mode: TlsMode,
        tls_config: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, Error> {
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
        for addr in addrs {
            match TcpStream::connect_timeout(addr, t.connect) {
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
                    last = Error::new(kind, format!("connecting to {addr}: {e}")).with_source(e);
                }
            }
        }
        let stream = stream.ok_or(last).map_err(|e| e.with_host(host))?;
        let _ = stream.set_nodelay(true);
        let mut c = Connection {
            conn: Conn::new(stream, t.command),
            host: host.to_string(),
            opts: opts.clone(),
            ext: Extensions::new(),
            esmtp: false,
            tls: false,
            authenticated: None,
            closed: false,
        };
        match c.setup(tls_mode, tls_config) {
            Ok(()) => Ok(c),
            Err(e) => {
                c.quit();
                Err(e.with_host(host))
            }
        }
    }

    fn setup(
        &mut self,
        tls_mode: TlsMode,
        tls_config: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<(), Error> {
        let t = self.opts.timeouts;
        if tls_mode == TlsMode::Implicit {
            self.handshake(tls_config.clone())?;
        }
        let greeting = self.read_reply("greeting", t.greeting)?;
        if greeting.code != 220 {
            return Err(Error::from_reply("greeting", greeting));
        }
        self.hello()?;
        let offered = self.ext.contains("STARTTLS");
        match tls_mode {
            TlsMode::Required if !offered && !self.tls => {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    "the server does not offer STARTTLS",
                ));
            }
            TlsMode::Required | TlsMode::Opportunistic if offered && !self.tls => {
                let r = self.command("STARTTLS", "STARTTLS", t.command)?;
                if r.code != 220 {
                    if tls_mode == TlsMode::Required {
                        return Err(Error::from_reply("STARTTLS", r));
                    }
                    debug!(target: "smtpkit::client", "{}: STARTTLS refused ({r}), going on without TLS", self.host);
                } else {
                    self.handshake(tls_config)?;
                    self.hello()?;
                }
            }
            _ => {}
        }
        self.authenticate()
    }

    fn handshake(&mut self, config: Option<Arc<rustls::ClientConfig>>) -> Result<(), Error> {
        let config = config.ok_or_else(|| Error::new(ErrorKind::Tls, "no TLS configuration"))?;
        let name = ServerName::try_from(self.host.clone()).map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("{:?} is not a valid TLS server name: {e}", self.host),
            )
        })?;
        let deadline = deadline_in(self.opts.timeouts.tls);
        let dropped = self
            .conn
            .start_tls_client(config, name, deadline)
            .map_err(|e| {
                // A failed handshake leaves nothing to say QUIT over.
                self.closed = true;
                Error::new(ErrorKind::Tls, format!("{e}")).with_source(e)
            })?;
        if dropped > 0 {
            // RFC 3207 §4.2 (response injection): never trust what came before encryption.
            debug!(target: "smtpkit::client", "{}: dropped {dropped} octets received before TLS", self.host);
        }
        self.tls = true;
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

    fn authenticate(&mut self) -> Result<(), Error> {
        let opts = self.opts.clone();
        let offered: Vec<String> = self
            .ext
            .get("AUTH")
            .map(|e| e.params.clone())
            .unwrap_or_default();
        let login = match (opts.auth, &opts.login) {
            (AuthPolicy::Never, _) | (AuthPolicy::IfAvailable, None) => return Ok(()),
            (AuthPolicy::IfAvailable, Some(_)) if offered.is_empty() => return Ok(()),
            (AuthPolicy::Always, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "AUTH is required but no credentials are set",
                ));
            }
            (AuthPolicy::Always, Some(_)) if offered.is_empty() => {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    "the server does not offer AUTH",
                ));
            }
            (_, Some(l)) => l.clone(),
        };
        if !self.tls && !opts.allow_insecure_auth {
            return Err(Error::new(
                ErrorKind::MissingRequirement,
                "refusing to send credentials without TLS (allow_insecure_auth is off)",
            ));
        }
        let usable: Vec<Mechanism> = opts
            .mechanisms
            .iter()
            .copied()
            .filter(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.as_str())))
            .collect();
        if usable.is_empty() {
            if opts.auth == AuthPolicy::Always {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    format!(
                        "no common AUTH mechanism (server offers {})",
                        offered.join(" ")
                    ),
                ));
            }
            return Ok(());
        }
        // gen_smtp's rule: a refused mechanism falls through to the next one.
        let mut last = None;
        for m in usable {
            let r = self.auth_with(m, &login)?;
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
            Some(r) => Err(Error::from_reply("AUTH", r)),
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
        let bad =
            |e: sasl::SaslError| Error::new(ErrorKind::UnexpectedReply, format!("AUTH {m}: {e}"));
        match m {
            Mechanism::Plain => {
                let resp = sasl::plain_response("", user, pass);
                self.secret_command(&format!("AUTH PLAIN {resp}"), "AUTH PLAIN ****", t)
            }
            Mechanism::XOAuth2 => {
                let resp = sasl::xoauth2_response(user, pass);
                let r =
                    self.secret_command(&format!("AUTH XOAUTH2 {resp}"), "AUTH XOAUTH2 ****", t)?;
                if r.code == 334 {
                    // The server explains the failure in the challenge; an empty line ends it.
                    return self.secret_command("", "", t);
                }
                Ok(r)
            }
            Mechanism::Login => {
                let mut r = self.command("AUTH LOGIN", "AUTH", t)?;
                let mut step = 0;
                while r.code == 334 && step < 2 {
                    let prompt = r.text.to_string();
                    let resp =
                        sasl::login_response(prompt.trim(), step, user, pass).map_err(bad)?;
                    r = self.secret_command(&resp, "****", t)?;
                    step += 1;
                }
                Ok(r)
            }
            Mechanism::CramMd5 => {
                let r = self.command("AUTH CRAM-MD5", "AUTH", t)?;
                if r.code != 334 {
                    return Ok(r);
                }
                let resp = sasl::cram_md5_response(r.text.trim(), user, pass).map_err(bad)?;
                self.secret_command(&resp, "****", t)
            }
        }
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
        self.tls
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
        if self.closed {
            return Err(
                Error::new(ErrorKind::Network, "the connection is closed").with_host(&self.host)
            );
        }
        let result = self.transaction(email);
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

    fn transaction(&mut self, email: &Email) -> Result<Receipt, Error> {
        if email.to.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no recipient"));
        }
        let t = self.opts.timeouts;
        let esmtp = self.esmtp;
        let utf8 = email.needs_smtputf8();
        if utf8 && !self.ext.contains("SMTPUTF8") {
            return Err(Error::new(
                ErrorKind::MissingRequirement,
                "a non-ASCII address needs SMTPUTF8, which the server does not offer",
            ));
        }
        let size = wire_size(&email.message);
        if let Some(max) = self.ext.size().filter(|&m| m > 0) {
            if size > max {
                return Err(Error::new(
                    ErrorKind::MissingRequirement,
                    format!(
                        "the message ({size} octets) is larger than the server accepts ({max})"
                    ),
                ));
            }
        }
        let mut mail = format!(
            "MAIL FROM:<{}>",
            email
                .from
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default()
        );
        if esmtp && self.ext.contains("SIZE") {
            mail.push_str(&format!(" SIZE={size}"));
        }
        if esmtp && email.is_8bit() && self.ext.contains("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        let rcpts: Vec<String> = email.to.iter().map(|m| format!("RCPT TO:<{m}>")).collect();
        for line in std::iter::once(&mail).chain(&rcpts) {
            check_line("command", line)?;
        }
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
                .map_err(|e| e.with_recipients(pending(email, &rcpt_replies)))?;
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
                return Err(all_refused(email, rcpt_replies));
            }
            data_reply = self
                .command("DATA", "DATA", t.data_start)
                .map_err(|e| e.with_recipients(pending(email, &rcpt_replies)))?;
        }
        let mut results = pending(email, &rcpt_replies);
        if !rcpt_replies.iter().any(Reply::is_positive) {
            self.abort_data(&data_reply)?;
            return Err(all_refused(email, rcpt_replies));
        }
        if data_reply.code != 354 {
            return Err(Error::from_reply("DATA", data_reply).with_recipients(results));
        }
        self.send_body(&email.message)?;
        let accepted: Vec<usize> = (0..results.len())
            .filter(|&i| rcpt_replies[i].is_positive())
            .collect();
        let lmtp = self.opts.protocol == Protocol::Lmtp;
        let unknown = |e: Error| {
            Error::new(
                ErrorKind::StatusUnknown,
                format!(
                    "delivery status unknown: the connection was lost after the message was sent ({e})"
                ),
            )
        };
        let mut finals = Vec::new();
        for _ in 0..if lmtp { accepted.len() } else { 1 } {
            match self.read_reply("message", t.data_end) {
                Ok(r) => finals.push(r),
                // A reply (421) is an answer: the message was not taken.
                Err(e) if e.reply().is_some() => return Err(e.with_recipients(results)),
                Err(e) => return Err(unknown(e).with_recipients(results)),
            }
        }
        for (k, &i) in accepted.iter().enumerate() {
            let r = if lmtp { &finals[k] } else { &finals[0] };
            results[i].reply = r.clone();
            results[i].delivered = r.is_positive();
        }
        let first = finals.first().cloned().unwrap_or(data_reply);
        match results.iter().find(|r| r.delivered) {
            Some(r) => {
                let reply = if lmtp { r.reply.clone() } else { first };
                Ok(Receipt {
                    host: self.host.clone(),
                    reply,
                    recipients: results,
                })
            }
            None => Err(Error::from_reply("message refused", first).with_recipients(results)),
        }
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
    /// own write deadline.
    fn send_body(&mut self, message: &[u8]) -> Result<(), Error> {
        self.conn.set_write_deadline(self.opts.timeouts.data_block);
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::with_capacity(BLOCK + BLOCK / 8);
        let mut result = Ok(());
        for chunk in message.chunks(BLOCK) {
            out.clear();
            stuffer.push(chunk, &mut out);
            self.conn.queue_bytes(&out);
            if let Err(e) = self.flush() {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            out.clear();
            stuffer.finish(&mut out);
            self.conn.queue_bytes(&out);
            result = self.flush();
        }
        self.conn.set_write_deadline(self.opts.timeouts.command);
        self.trace(
            Direction::Sent,
            &format!("<message, {} octets>", message.len()),
        );
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

/// The recipients with their RCPT replies, none delivered (yet).
fn pending(email: &Email, rcpt_replies: &[Reply]) -> Vec<RecipientResult> {
    email
        .to
        .iter()
        .zip(rcpt_replies)
        .map(|(m, r)| RecipientResult {
            mailbox: m.clone(),
            reply: r.clone(),
            delivered: false,
        })
        .collect()
}

fn all_refused(email: &Email, replies: Vec<Reply>) -> Error {
    // Worth retrying only when every refusal was temporary.
    let kind = if replies.iter().all(Reply::is_transient) {
        ErrorKind::Transient
    } else {
        ErrorKind::Permanent
    };
    let results = pending(email, &replies);
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
    fn sizes() {
        assert_eq!(wire_size(b""), 0);
        assert_eq!(wire_size(b"a"), 3);
        assert_eq!(wire_size(b"a\r\n"), 3);
        assert_eq!(wire_size(b"a\n"), 3);
        assert_eq!(wire_size(b"a\rb\n"), 6);
        assert_eq!(wire_size(b"a\r\nb"), 6);
    }
}
