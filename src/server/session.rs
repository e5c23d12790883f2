//! One connection's state machine and loop.
//!
//! The state is an enum holding only what is valid in it; [`Session::dispatch`] is the one
//! `match` that decides what each command may do in each state, and every out-of-order command
//! gets `503 5.5.1` from there with the state unchanged.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use log::{debug, warn};

use crate::address::Mailbox;
use crate::command::{Command, CommandError, Param};
use crate::data::DataError;
use crate::extensions::Extensions;
use crate::reply::Reply;
use crate::sasl::{Mechanism, SaslError, ServerExchange, Step};
use crate::stream::{Conn, Line, Pending, RecvError, deadline_in, read_line};
use crate::tls::TlsInfo;

use super::config::{Protocol, ServerConfig};
use super::handler::{
    Body, ConnInfo, Envelope, ErrorAction, Greeting, Handler, MailParams, Phase, Recipient,
    SessionError,
};
use super::params::{Offered, RcptParams};
use super::reader::{BdatLimits, BdatReader, DataEnd, DataReader, Interruption};
use super::session_io::{SessionIo, queue};
use super::shared::{SessionSlot, Shared};

/// The client's HELO/EHLO/LHLO.
#[derive(Debug, Clone)]
struct Hello {
    name: String,
    /// EHLO or LHLO (parameters allowed), not HELO.
    esmtp: bool,
}

/// Where the session is.
#[derive(Debug, Default)]
enum State {
    /// No HELO/EHLO yet.
    #[default]
    Fresh,
    /// Greeted, no transaction.
    Ready(Hello),
    /// MAIL accepted; recipients (possibly none yet) in the envelope.
    Transaction(Hello, Box<Envelope>),
}

/// The next input for the main loop: a line read now, or a command that ended a BDAT
/// sequence (already parsed there).
enum Next {
    Line(Line),
    Parsed(Vec<u8>, Result<Command, CommandError>),
}

/// Whether the loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// A handler callback panicked.
struct Panicked;

pub(crate) struct Session<H: Handler, C: SessionIo = Conn> {
    io: C,
    cfg: Arc<ServerConfig>,
    shared: Arc<Shared>,
    slot: Arc<SessionSlot>,
    info: ConnInfo,
    handler: H,
    state: State,
    errors: usize,
    /// The size limit in force: the config's, unless the handler changed `SIZE` in EHLO.
    max_size: Option<u64>,
    /// Set once TLS is on.
    tls: Option<TlsInfo>,
    /// The identity from a successful AUTH.
    auth: Option<String>,
    /// Commands that moved no mail since the last accepted message.
    junk: usize,
    /// When the session's time is up (`max_session_duration` after it began).
    ends_at: Instant,
    /// A command line that ended a BDAT sequence, to run next in the main loop.
    pending: Option<Interruption>,
}

/// Longest line in an AUTH exchange (RFC 4954 §4: at least 12288 octets).
const MAX_SASL_LINE: usize = 12288 + 2;

fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_string())
}

impl<H: Handler, C: SessionIo> Session<H, C> {
    pub(crate) fn new(
        io: C,
        cfg: Arc<ServerConfig>,
        shared: Arc<Shared>,
        slot: Arc<SessionSlot>,
        info: ConnInfo,
        handler: H,
    ) -> Self {
        let cfg_duration = cfg.max_session_duration;
        Session {
            io,
            max_size: cfg.max_message_size,
            cfg,
            shared,
            slot,
            info,
            handler,
            state: State::Fresh,
            errors: 0,
            tls: None,
            auth: None,
            junk: 0,
            ends_at: deadline_in(cfg_duration),
            pending: None,
        }
    }

    /// Runs the session to its end; `on_close` is called exactly once.
    pub(crate) fn run(self) {
        let _ = self.run_to_end();
    }

    /// Runs the session to its end and gives back the handler and the connection.
    pub(crate) fn run_to_end(mut self) -> (H, C) {
        let _ = self.main();
        self.io.close();
        self.shared
            .stats
            .bytes_received
            .fetch_add(self.io.bytes_in(), Ordering::Relaxed);
        let h = &mut self.handler;
        if catch_unwind(AssertUnwindSafe(|| h.on_close())).is_err() {
            warn!(
                "{} session {}: handler panicked in on_close",
                self.info.peer, self.info.id
            );
        }
        (self.handler, self.io)
    }

    /// Queues a reply (sent before the next read that would block, or by a flush).
    fn queue(&mut self, reply: &Reply) {
        queue(&mut self.io, reply, self.cfg.enhanced_status_codes);
    }

    /// Calls a handler callback; a panic becomes [`Panicked`] after it is reported.
    fn call<T>(&mut self, name: &'static str, f: impl FnOnce(&mut H) -> T) -> Result<T, Panicked> {
        let h = &mut self.handler;
        match catch_unwind(AssertUnwindSafe(|| f(h))) {
            Ok(v) => Ok(v),
            Err(p) => {
                let message = panic_message(&*p);
                self.handler_panicked(name, message);
                Err(Panicked)
            }
        }
    }

    fn handler_panicked(&mut self, callback: &'static str, message: String) {
        self.queue(&Reply::INTERNAL_ERROR_CLOSING);
        let _ = self.io.flush();
        self.fault(SessionError::HandlerPanic { callback, message });
    }

    /// Reports a fault: one log line, then the handler's decision (ignored when fatal).
    fn fault(&mut self, err: SessionError) -> Flow {
        let (peer, id) = (self.info.peer, self.info.id);
        if err.is_ordinary() {
            debug!("{peer} session {id}: {err}");
        } else {
            warn!("{peer} session {id}: {err}");
        }
        self.shared.stats.count_error(&err);
        let h = &mut self.handler;
        let action = catch_unwind(AssertUnwindSafe(|| h.on_error(&err)));
        match action {
            _ if err.is_fatal() => Flow::Close,
            Ok(ErrorAction::Continue) => Flow::Continue,
            Ok(ErrorAction::Close) => Flow::Close,
            Err(_) => {
                warn!("{peer} session {id}: handler panicked in on_error");
                Flow::Close
            }
        }
    }

    /// Sends queued replies; a failure goes to `on_error`.
    fn flush(&mut self) -> Flow {
        match self.io.flush() {
            Ok(()) => Flow::Continue,
            Err(e) => self.fault(SessionError::Send(e)),
        }
    }

    /// A read failed: time-outs are answered with `421 4.4.2` first.
    fn recv_failed(&mut self, phase: Phase, e: RecvError) -> Flow {
        if let RecvError::TimedOut = e {
            self.queue(&Reply::TIMEOUT);
            let _ = self.io.flush();
        }
        self.fault(SessionError::from_recv(phase, e));
        Flow::Close
    }

    /// A client mistake: the reply is queued, the error counted and reported.
    fn client_error(&mut self, reply: &Reply, err: SessionError) -> Flow {
        self.queue(reply);
        self.errors += 1;
        self.fault(err)
    }

    fn reply(&mut self, reply: &Reply) -> Flow {
        self.queue(reply);
        // RFC 5321 §3.8: 421 means the server is closing the channel.
        if reply.code == 421 {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    fn main(&mut self) -> Flow {
        if self.info.implicit_tls && self.start_tls() == Flow::Close {
            return Flow::Close;
        }
        let info = self.info.clone();
        let greeting = match self.call("on_connect", |h| h.on_connect(&info)) {
            Ok(g) => g,
            Err(Panicked) => return Flow::Close,
        };
        let host = self.cfg.hostname.clone();
        let esmtp = match self.info.protocol {
            Protocol::Smtp => "ESMTP",
            Protocol::Lmtp => "LMTP",
        };
        let flow = match greeting {
            Greeting::Accept => self.reply(&Reply::new(220, None, format!("{host} {esmtp}"))),
            Greeting::Banner(text) => self.reply(&Reply::new(220, None, format!("{host} {text}"))),
            Greeting::Reject(r) => {
                self.queue(&r);
                Flow::Close
            }
            Greeting::Close => return Flow::Close,
        };
        if let Err(e) = self.io.flush() {
            return self.fault(SessionError::Send(e));
        }
        if flow == Flow::Close {
            return Flow::Close;
        }
        loop {
            let in_transaction = matches!(self.state, State::Transaction(..));
            // Idle between transactions: a shutdown may wake this read (see Shared::shutdown).
            self.slot.idle.store(!in_transaction, Ordering::SeqCst);
            if !in_transaction && self.shared.shutting_down() {
                self.slot.idle.store(false, Ordering::SeqCst);
                self.queue(&Reply::SHUTTING_DOWN);
                return Flow::Close;
            }
            if self.errors >= self.cfg.max_errors {
                self.queue(&Reply::TOO_MANY_ERRORS);
                let _ = self.io.flush();
                return self.fault(SessionError::TooManyErrors);
            }
            // Refused MAIL and RCPT count too; they are answered first.
            if self.junk > self.cfg.max_junk_commands {
                self.queue(&Reply::TOO_MANY_JUNK);
                let _ = self.io.flush();
                return self.fault(SessionError::TooManyJunkCommands);
            }
            // The session's lifetime ends it between transactions; one under way may finish.
            if !in_transaction && Instant::now() >= self.ends_at {
                self.queue(&Reply::SESSION_TOO_LONG);
                let _ = self.io.flush();
                return self.fault(SessionError::SessionTooLong);
            }
            let mut deadline = deadline_in(self.cfg.command_timeout);
            let lifetime_bound = !in_transaction && self.ends_at <= deadline;
            if lifetime_bound {
                deadline = self.ends_at;
            }
            let line = match self.pending.take() {
                Some(Interruption::Command(bytes, parsed)) => Ok(Next::Parsed(bytes, parsed)),
                Some(Interruption::TooLong) => Ok(Next::Line(Line::TooLong)),
                None => {
                    let max = self.command_line_limit();
                    read_line(&mut self.io, max, deadline).map(Next::Line)
                }
            };
            self.slot.idle.store(false, Ordering::SeqCst);
            let flow = match line {
                Err(RecvError::Closed) if self.shared.shutting_down() => {
                    self.queue(&Reply::SHUTTING_DOWN);
                    return Flow::Close;
                }
                Err(RecvError::TimedOut) if lifetime_bound => {
                    self.queue(&Reply::SESSION_TOO_LONG);
                    let _ = self.io.flush();
                    return self.fault(SessionError::SessionTooLong);
                }
                Err(e) => return self.recv_failed(Phase::Command, e),
                Ok(Next::Line(Line::TooLong)) => {
                    self.client_error(&Reply::LINE_TOO_LONG, SessionError::LineTooLong)
                }
                Ok(Next::Line(Line::Complete(bytes))) => {
                    let parsed = Command::parse(&bytes, &self.cfg.paths);
                    self.run_line(&bytes, parsed)
                }
                Ok(Next::Parsed(bytes, parsed)) => self.run_line(&bytes, parsed),
            };
            if flow == Flow::Close {
                return Flow::Close;
            }
            // Replies are flushed before any read that would block (see Conn::fill), which
            // answers a pipelined group in one write; a failed write is reported here.
            if self.io.buffered().is_empty() && self.flush() == Flow::Close {
                return Flow::Close;
            }
        }
    }

    /// Runs one command line (without its CRLF), parsed once by whoever read it.
    fn run_line(&mut self, bytes: &[u8], parsed: Result<Command, CommandError>) -> Flow {
        if !self.line_fits(bytes) {
            return self.client_error(&Reply::LINE_TOO_LONG, SessionError::LineTooLong);
        }
        match parsed {
            Ok(cmd) => {
                if cmd.moves_no_mail() {
                    self.junk += 1;
                    if self.junk > self.cfg.max_junk_commands {
                        self.queue(&Reply::TOO_MANY_JUNK);
                        let _ = self.io.flush();
                        self.fault(SessionError::TooManyJunkCommands);
                        return Flow::Close;
                    }
                }
                self.dispatch(cmd)
            }
            Err(e) => {
                let reply = Reply::from(&e);
                // A BDAT refused for its syntax still brings its chunk (RFC 3030 §2).
                if let Some(size) = crate::command::bdat_chunk_size(bytes) {
                    if let Err(flow) = self.skip_chunk(size, &reply) {
                        return flow;
                    }
                }
                self.client_error(&reply, SessionError::Syntax(e))
            }
        }
    }

    /// The one `match`: what each command may do in each state. Each arm yields the next state.
    fn dispatch(&mut self, cmd: Command) -> Flow {
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let state = std::mem::take(&mut self.state);
        let (next, flow) = match (state, cmd) {
            (s, cmd) if self.cfg.require_tls && self.tls.is_none() && !allowed_before_tls(&cmd) => {
                let flow = self.refuse_command(&cmd, &Reply::NEED_TLS, cmd.verb());
                (s, flow)
            }
            (_, Command::Quit) => {
                self.queue(&Reply::BYE);
                // A client that hangs up before reading 221 is not an error.
                let _ = self.io.flush();
                (State::Fresh, Flow::Close)
            }
            (s, Command::Noop) => (s, self.reply(&Reply::OK)),
            (s, Command::Help(_)) => (s, self.reply(&Reply::HELP)),
            (s, Command::Rset) => {
                let next = self.end_transaction(s);
                (next, self.reply(&Reply::OK))
            }
            (s, Command::Helo(_) | Command::Ehlo(_)) if lmtp => (
                s,
                self.client_error(&Reply::USE_LHLO, SessionError::OutOfOrder("HELO")),
            ),
            (s, Command::Lhlo(arg)) if !lmtp => self.unknown(s, "LHLO", &arg),
            (s, Command::Helo(name)) => self.hello(s, name, false),
            (s, Command::Ehlo(name) | Command::Lhlo(name)) => self.hello(s, name, true),
            (s @ State::Ready(_), Command::Mail { .. })
                if self.cfg.require_auth && self.auth.is_none() =>
            {
                (
                    s,
                    self.client_error(&Reply::NEED_AUTH, SessionError::OutOfOrder("MAIL")),
                )
            }
            (State::Ready(h), Command::Mail { from, params }) => self.mail(h, from, params),
            (s @ State::Fresh, Command::Mail { .. }) => {
                (s, self.out_of_order("MAIL", "Error: send HELO/EHLO first"))
            }
            (s @ State::Transaction(..), Command::Mail { .. }) => {
                (s, self.out_of_order("MAIL", "Error: nested MAIL command"))
            }
            (State::Transaction(h, env), Command::Rcpt { to, params }) => {
                self.rcpt(h, env, to, params)
            }
            (s, Command::Rcpt { .. }) => (s, self.out_of_order("RCPT", "Error: need MAIL command")),
            (s @ State::Transaction(..), Command::Data) if binary_mime(&s) => (
                s,
                self.out_of_order("DATA", "Error: BODY=BINARYMIME needs BDAT"),
            ),
            (State::Transaction(h, env), Command::Data) if !env.recipients.is_empty() => {
                self.data(h, env)
            }
            (s @ State::Transaction(..), Command::Data) => {
                (s, self.out_of_order("DATA", "Error: need RCPT command"))
            }
            (s, Command::Data) => (s, self.out_of_order("DATA", "Error: need MAIL command")),
            (s, Command::Vrfy(arg)) => match self.call("on_vrfy", |h| h.on_vrfy(&arg)) {
                Ok(r) => (s, self.reply(&r)),
                Err(Panicked) => (s, Flow::Close),
            },
            (s, Command::Expn(arg)) => match self.call("on_expn", |h| h.on_expn(&arg)) {
                Ok(r) => (s, self.reply(&r)),
                Err(Panicked) => (s, Flow::Close),
            },
            (s, Command::StartTls) if self.cfg.tls.is_none() => (s, self.not_offered("STARTTLS")),
            (s, Command::StartTls) if self.tls.is_some() => (
                s,
                self.out_of_order("STARTTLS", "Error: TLS already active"),
            ),
            (s, Command::StartTls) => {
                let _ = self.end_transaction(s);
                // RFC 3207 §4.2: the session starts over, the client must EHLO again.
                (State::Fresh, self.start_tls())
            }
            (s, Command::Auth { .. }) if self.cfg.auth_mechanisms.is_empty() => (
                s,
                self.out_of_order("AUTH", "Error: authentication not enabled"),
            ),
            (s, Command::Auth { .. }) if self.auth.is_some() => {
                (s, self.out_of_order("AUTH", "Error: already authenticated"))
            }
            (s @ State::Fresh, Command::Auth { .. }) => {
                (s, self.out_of_order("AUTH", "Error: send EHLO first"))
            }
            (s @ State::Transaction(..), Command::Auth { .. }) => (
                s,
                self.out_of_order("AUTH", "Error: AUTH not allowed during a mail transaction"),
            ),
            (s @ State::Ready(_), Command::Auth { mechanism, initial }) => {
                (s, self.authenticate(&mechanism, initial.as_deref()))
            }
            (s, cmd @ Command::Bdat { .. }) if !self.cfg.chunking => {
                let flow = self.refuse_command(&cmd, &Reply::NOT_IMPLEMENTED, "BDAT");
                (s, flow)
            }
            (State::Transaction(h, env), Command::Bdat { size, last })
                if !env.recipients.is_empty() =>
            {
                self.bdat(h, env, size, last)
            }
            (s, cmd @ Command::Bdat { .. }) => {
                let text = if matches!(s, State::Transaction(..)) {
                    "Error: need RCPT command"
                } else {
                    "Error: need MAIL command"
                };
                let flow = self.refuse_command(&cmd, &Reply::BAD_SEQUENCE.with_text(text), "BDAT");
                (s, flow)
            }
            (s, Command::Unknown { verb, args }) => self.unknown(s, &verb, &args),
        };
        self.state = next;
        flow
    }

    /// Longest command line to read: AUTH's initial response may be longer than other commands
    /// (RFC 4954 §4: 12288 octets), so when AUTH is offered lines are read up to that and
    /// [`Session::line_fits`] applies the usual limit to the rest.
    fn command_line_limit(&self) -> usize {
        if self.cfg.auth_mechanisms.is_empty() {
            self.cfg.max_line_length
        } else {
            self.cfg.max_line_length.max(MAX_SASL_LINE)
        }
    }

    /// False for a line (without its CRLF) longer than the command limit, unless it is AUTH.
    fn line_fits(&self, line: &[u8]) -> bool {
        line.len() + 2 <= self.cfg.max_line_length
            || line
                .get(..5)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"AUTH "))
    }

    /// Reads and drops the chunk of a refused BDAT, so its bytes never run as commands. A chunk
    /// past twice the size limit is not read: `refusal` is sent and the session closes
    /// (`Err` carries the flow to return).
    fn skip_chunk(&mut self, size: u64, refusal: &Reply) -> Result<(), Flow> {
        let too_big = self
            .max_size
            .is_some_and(|max| size > max.saturating_mul(2));
        if too_big {
            self.queue(refusal);
            let _ = self.io.flush();
            self.fault(SessionError::DataRejected(DataError::TooBig));
            return Err(Flow::Close);
        }
        self.discard_chunk(size)
            .map_err(|e| self.recv_failed(Phase::Data, e))
    }

    /// Refuses a command as a client mistake; a refused BDAT's chunk is consumed first.
    fn refuse_command(&mut self, cmd: &Command, reply: &Reply, verb: &'static str) -> Flow {
        if let Command::Bdat { size, .. } = cmd {
            if let Err(flow) = self.skip_chunk(*size, reply) {
                return flow;
            }
        }
        self.client_error(reply, SessionError::OutOfOrder(verb))
    }

    fn not_offered(&mut self, verb: &'static str) -> Flow {
        self.client_error(&Reply::NOT_IMPLEMENTED, SessionError::OutOfOrder(verb))
    }

    /// The TLS handshake (after `220` for STARTTLS, or at connect for implicit TLS). On
    /// success the session forgets what it knew (RFC 3207 §4.2) and tells the handler.
    fn start_tls(&mut self) -> Flow {
        let Some(tls) = self.cfg.tls.as_ref().map(|t| t.server_config()) else {
            return Flow::Close;
        };
        if !self.info.implicit_tls {
            self.queue(&Reply::READY_TLS);
            if let Err(e) = self.io.flush() {
                return self.fault(SessionError::Send(e));
            }
        }
        let deadline = deadline_in(self.cfg.tls_handshake_timeout);
        let pending = if self.info.implicit_tls && self.tls.is_none() {
            Pending::HandToTls
        } else {
            Pending::Discard
        };
        let (dropped, info) = match self.io.start_tls(tls, deadline, pending) {
            Ok(v) => v,
            Err(e) => {
                self.fault(SessionError::TlsHandshake(e));
                return Flow::Close;
            }
        };
        if dropped > 0 {
            debug!(
                "{} session {}: dropped {dropped} octets pipelined before the TLS handshake",
                self.info.peer, self.info.id
            );
        }
        self.shared
            .stats
            .tls_handshakes
            .fetch_add(1, Ordering::Relaxed);
        self.auth = None;
        self.max_size = self.cfg.max_message_size;
        let result = self.call("on_starttls", |h| h.on_starttls(&info));
        self.tls = Some(info);
        match result {
            Ok(()) => Flow::Continue,
            Err(Panicked) => Flow::Close,
        }
    }

    /// One AUTH exchange (RFC 4954): challenges and responses until the handler decides.
    fn authenticate(&mut self, mechanism: &str, initial: Option<&str>) -> Flow {
        if self.tls.is_none() && !self.cfg.allow_insecure_auth {
            return self.reply(&Reply::AUTH_NEEDS_TLS);
        }
        let mech = match Mechanism::parse(mechanism) {
            Some(m) if self.cfg.auth_mechanisms.contains(&m) => m,
            _ => {
                return self.client_error(
                    &Reply::AUTH_UNKNOWN_MECHANISM,
                    SessionError::AuthFailed(Reply::AUTH_UNKNOWN_MECHANISM),
                );
            }
        };
        let host = self.cfg.hostname.clone();
        let mut step = ServerExchange::start(mech, initial, &host);
        let credentials = loop {
            let (exchange, challenge) = match step {
                Ok((ex, Step::Challenge(c))) => (ex, c),
                Ok((_, Step::Done(creds))) => break creds,
                Err(e) => return self.sasl_failed(e),
            };
            self.queue(&Reply::new(334, None, challenge));
            let deadline = deadline_in(self.cfg.command_timeout);
            let line = match read_line(&mut self.io, MAX_SASL_LINE, deadline) {
                Err(e) => return self.recv_failed(Phase::Command, e),
                Ok(Line::TooLong) => {
                    let r = Reply::AUTH_LINE_TOO_LONG;
                    return self.client_error(&r, SessionError::AuthFailed(r.clone()));
                }
                Ok(Line::Complete(l)) => l,
            };
            let mut exchange = exchange;
            let line = String::from_utf8_lossy(&line);
            step = exchange.respond(&line).map(|st| (exchange, st));
        };
        match self.call("on_auth", |h| h.on_auth(&credentials)) {
            Err(Panicked) => Flow::Close,
            Ok(Ok(())) => {
                self.auth = Some(credentials.username().to_string());
                self.reply(&Reply::AUTH_OK)
            }
            Ok(Err(r)) => {
                let flow = self.client_error(&r, SessionError::AuthFailed(r.clone()));
                if r.code == 421 { Flow::Close } else { flow }
            }
        }
    }

    fn sasl_failed(&mut self, e: SaslError) -> Flow {
        let r = Reply::from(&e);
        if e == SaslError::Cancelled {
            // Giving up is the client's right, not a mistake.
            return self.reply(&r);
        }
        self.client_error(&r, SessionError::AuthFailed(r.clone()))
    }

    fn out_of_order(&mut self, verb: &'static str, text: &'static str) -> Flow {
        self.client_error(
            &Reply::BAD_SEQUENCE.with_text(text),
            SessionError::OutOfOrder(verb),
        )
    }

    fn unknown(&mut self, s: State, verb: &str, args: &str) -> (State, Flow) {
        match self.call("on_unknown", |h| h.on_unknown(verb, args)) {
            Ok(r) if r.code >= 400 => {
                // Only printable ASCII of the verb goes to logs.
                let verb: String = verb
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(32)
                    .collect();
                let flow = self.client_error(&r, SessionError::UnknownCommand(verb));
                (s, if r.code == 421 { Flow::Close } else { flow })
            }
            Ok(r) => (s, self.reply(&r)),
            Err(Panicked) => (s, Flow::Close),
        }
    }

    /// Ends any transaction (telling the handler) and returns the greeted state.
    fn end_transaction(&mut self, s: State) -> State {
        match s {
            State::Transaction(h, _) => {
                if self.call("on_rset", |h| h.on_rset()).is_err() {
                    return State::Fresh;
                }
                State::Ready(h)
            }
            other => other,
        }
    }

    fn hello(&mut self, s: State, name: String, esmtp: bool) -> (State, Flow) {
        let previous = self.end_transaction(s);
        let host = self.cfg.hostname.clone();
        let result = if esmtp {
            let mut ext = self.extensions();
            match self.call("on_ehlo", |h| h.on_ehlo(&name, &mut ext)) {
                Err(Panicked) => return (State::Fresh, Flow::Close),
                Ok(Err(r)) => Err(r),
                Ok(Ok(())) => {
                    self.max_size = match ext.size() {
                        Some(0) => None,
                        Some(n) => Some(n),
                        None => self.cfg.max_message_size,
                    };
                    // No enhanced code on EHLO lines: clients parse them as keywords.
                    Ok(Reply::new(250, None, ext.ehlo_text(&host)))
                }
            }
        } else {
            match self.call("on_helo", |h| h.on_helo(&name)) {
                Err(Panicked) => return (State::Fresh, Flow::Close),
                Ok(Err(r)) => Err(r),
                Ok(Ok(())) => Ok(Reply::new(250, None, host)),
            }
        };
        match result {
            Ok(r) => (State::Ready(Hello { name, esmtp }), self.reply(&r)),
            Err(r) => (previous, self.reply(&r)),
        }
    }

    /// The EHLO keywords from the configuration, before the handler edits them.
    fn extensions(&self) -> Extensions {
        let mut ext = Extensions::new();
        let c = &self.cfg;
        if c.pipelining {
            ext.add("PIPELINING");
        }
        ext.set("SIZE", [c.max_message_size.unwrap_or(0).to_string()]);
        if c.eight_bit_mime {
            ext.add("8BITMIME");
        }
        if c.smtputf8 {
            ext.add("SMTPUTF8");
        }
        if c.enhanced_status_codes {
            ext.add("ENHANCEDSTATUSCODES");
        }
        if c.chunking {
            ext.add("CHUNKING");
            if c.binary_mime {
                ext.add("BINARYMIME");
            }
        }
        if c.dsn {
            ext.add("DSN");
        }
        if c.tls.is_some() && self.tls.is_none() {
            ext.add("STARTTLS");
        }
        if !c.auth_mechanisms.is_empty() && (self.tls.is_some() || c.allow_insecure_auth) {
            ext.set("AUTH", c.auth_mechanisms.iter().map(|m| m.as_str()));
        }
        ext
    }

    /// What this session offers, for the parameter rules.
    fn offered(&self) -> Offered {
        Offered {
            max_size: self.max_size,
            eight_bit_mime: self.cfg.eight_bit_mime,
            binary_mime: self.cfg.binary_mime,
            dsn: self.cfg.dsn,
            smtputf8: self.cfg.smtputf8,
        }
    }

    /// Checks MAIL parameters: the known ones by the rules in `params`, the rest through the
    /// handler. `Err` holds the reply and whether it was the client's mistake.
    fn mail_params(
        &mut self,
        esmtp: bool,
        params: Vec<Param>,
    ) -> Result<MailParams, (Reply, bool)> {
        let (mut out, unknown) = MailParams::parse(params, esmtp, &self.offered())
            .map_err(|e| (Reply::from(&e), e.is_client_mistake()))?;
        for p in unknown {
            match self.call("on_mail_param", |h| h.on_mail_param(&p)) {
                Ok(Ok(())) => out.other.push(p),
                Ok(Err(r)) => {
                    let counts = r.code == 555 || r.code == 501;
                    return Err((r, counts));
                }
                Err(Panicked) => return Err((Reply::INTERNAL_ERROR, false)),
            }
        }
        Ok(out)
    }

    fn mail(&mut self, hello: Hello, from: Option<Mailbox>, params: Vec<Param>) -> (State, Flow) {
        let params = match self.mail_params(hello.esmtp, params) {
            Ok(p) => p,
            Err((r, counts)) => return self.refuse(State::Ready(hello), r, counts),
        };
        if from.as_ref().is_some_and(|m| !m.is_ascii()) && !params.smtputf8 {
            return self.refuse(State::Ready(hello), Reply::NEED_SMTPUTF8, false);
        }
        match self.call("on_mail", |h| h.on_mail(from.as_ref(), &params)) {
            Err(Panicked) => (State::Ready(hello), Flow::Close),
            Ok(Err(r)) => {
                self.junk += 1;
                let flow = self.reply(&r);
                (State::Ready(hello), flow)
            }
            Ok(Ok(())) => {
                let env = Envelope {
                    helo: hello.name.clone(),
                    from,
                    params,
                    recipients: Vec::new(),
                    auth: self.auth.clone(),
                    tls: self.tls.clone(),
                };
                (
                    State::Transaction(hello, Box::new(env)),
                    self.reply(&Reply::SENDER_OK),
                )
            }
        }
    }

    /// Answers a refused command; `counts` when it was the client's mistake.
    fn refuse(&mut self, s: State, r: Reply, counts: bool) -> (State, Flow) {
        let flow = if counts {
            self.client_error(&r, SessionError::BadParameter(r.clone()))
        } else {
            self.junk += 1;
            self.reply(&r)
        };
        (s, flow)
    }

    fn rcpt(
        &mut self,
        hello: Hello,
        mut env: Box<Envelope>,
        to: Mailbox,
        params: Vec<Param>,
    ) -> (State, Flow) {
        if env.recipients.len() >= self.cfg.max_recipients {
            self.junk += 1;
            let flow = self.reply(&Reply::TOO_MANY_RECIPIENTS);
            return (State::Transaction(hello, env), flow);
        }
        if !to.is_ascii() && !env.params.smtputf8 {
            self.junk += 1;
            let flow = self.reply(&Reply::NEED_SMTPUTF8);
            return (State::Transaction(hello, env), flow);
        }
        let (known, unknown) = match RcptParams::parse(params, &self.offered()) {
            Ok(v) => v,
            Err(e) => {
                let r = Reply::from(&e);
                return self.refuse(State::Transaction(hello, env), r, e.is_client_mistake());
            }
        };
        let mut accepted = Vec::with_capacity(unknown.len());
        for p in unknown {
            match self.call("on_rcpt_param", |h| h.on_rcpt_param(&p)) {
                Ok(Ok(())) => accepted.push(p),
                Ok(Err(r)) => {
                    let counts = r.code == 555 || r.code == 501;
                    return self.refuse(State::Transaction(hello, env), r, counts);
                }
                Err(Panicked) => return (State::Transaction(hello, env), Flow::Close),
            }
        }
        let result = self.call("on_rcpt", |h| h.on_rcpt(&to, &accepted, &env));
        let flow = match result {
            Err(Panicked) => Flow::Close,
            Ok(Err(r)) => {
                self.junk += 1;
                self.reply(&r)
            }
            Ok(Ok(())) => {
                env.recipients.push(Recipient {
                    mailbox: to,
                    params: accepted,
                    notify: known.notify,
                    orcpt: known.orcpt,
                });
                self.reply(&Reply::RECIPIENT_OK)
            }
        };
        (State::Transaction(hello, env), flow)
    }

    fn data(&mut self, hello: Hello, env: Box<Envelope>) -> (State, Flow) {
        self.queue(&Reply::START_DATA);
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let mut limits = self.cfg.data_limits();
        limits.max_size = self.max_size;
        let mut reader = DataReader::new(
            &mut self.io,
            limits,
            self.cfg.data_timeout,
            self.cfg.data_block_timeout,
        );
        let result = run_handler(&mut self.handler, lmtp, &env, &mut reader);
        let (end, raw) = reader.finish();
        self.conclude(hello, env, result, end, raw)
    }

    /// A CHUNKING transaction (RFC 3030), from its first BDAT to `LAST`.
    fn bdat(&mut self, hello: Hello, env: Box<Envelope>, size: u64, last: bool) -> (State, Flow) {
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let limits = BdatLimits {
            max_size: self.max_size,
            max_line: self.cfg.max_line_length,
            command_timeout: self.cfg.command_timeout,
            block_timeout: self.cfg.data_block_timeout,
            whole_timeout: self.cfg.data_timeout,
            paths: self.cfg.paths,
            enhanced: self.cfg.enhanced_status_codes,
        };
        let mut reader = BdatReader::new(&mut self.io, limits, size, last);
        let result = run_handler(&mut self.handler, lmtp, &env, &mut reader);
        let reject = match &result {
            Ok(rs) if !rs.iter().any(Result::is_ok) => rs.iter().find_map(|r| r.clone().err()),
            Ok(_) => None,
            Err(_) => Some(Reply::INTERNAL_ERROR),
        };
        let (end, interrupted, raw) = reader.finish(reject.as_ref());
        match interrupted {
            None => self.conclude(hello, env, result, end, raw),
            Some(i) => {
                // The message is abandoned, unanswered; the line that broke in runs as a command.
                debug!(
                    "{} session {}: BDAT sequence interrupted",
                    self.info.peer, self.info.id
                );
                if let Err(message) = result {
                    let name = if lmtp { "on_data_lmtp" } else { "on_data" };
                    self.handler_panicked(name, message);
                    return (State::Ready(hello), Flow::Close);
                }
                // The main loop runs it next, like any other command.
                self.pending = Some(i);
                (State::Ready(hello), Flow::Continue)
            }
        }
    }

    /// Consumes the chunk of a BDAT that is refused (RFC 3030 §2: its data must be read, or
    /// it would be taken for commands). False when the connection failed meanwhile.
    fn discard_chunk(&mut self, size: u64) -> Result<(), RecvError> {
        let mut left = size;
        let deadline = deadline_in(self.cfg.data_timeout);
        while left > 0 {
            if self.io.buffered().is_empty() {
                self.io.fill(deadline)?;
            }
            let n = self
                .io
                .buffered()
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            self.io.consume(n);
            left -= n as u64;
        }
        Ok(())
    }

    /// Answers a finished message (DATA or BDAT): limits, the handler's replies, statistics.
    fn conclude(
        &mut self,
        hello: Hello,
        env: Box<Envelope>,
        result: Result<Vec<Result<Reply, Reply>>, String>,
        end: DataEnd,
        raw: u64,
    ) -> (State, Flow) {
        let lmtp = self.info.protocol == Protocol::Lmtp;
        let ready = State::Ready(hello);
        let results = match result {
            Ok(r) => r,
            Err(message) => {
                let name = if lmtp { "on_data_lmtp" } else { "on_data" };
                self.handler_panicked(name, message);
                return (ready, Flow::Close);
            }
        };
        let rejected = match end {
            // Cut off by a shutdown whose grace period ended: not acknowledged.
            DataEnd::Broken(RecvError::Closed) if self.shared.shutting_down() => {
                self.queue(&Reply::SHUTTING_DOWN);
                return (ready, Flow::Close);
            }
            DataEnd::Broken(e) => return (ready, self.recv_failed(Phase::Data, e)),
            DataEnd::Abandoned => {
                // Refused by the size limit like any other over-size body: counted as such.
                self.shared
                    .stats
                    .messages_rejected
                    .fetch_add(1, Ordering::Relaxed);
                // LMTP: still one reply per recipient (RFC 2033 §4.2), then close.
                for _ in 0..if lmtp { env.recipients.len() } else { 1 } {
                    self.queue(&Reply::TOO_BIG);
                }
                let _ = self.io.flush();
                self.fault(SessionError::DataRejected(DataError::TooBig));
                return (ready, Flow::Close);
            }
            DataEnd::Complete(e) => e,
        };
        let stats = &self.shared.stats;
        if let Some(e) = rejected {
            stats.messages_rejected.fetch_add(1, Ordering::Relaxed);
            let reply = match e {
                DataError::TooBig => Reply::TOO_BIG,
                DataError::LineTooLong => Reply::DATA_LINE_TOO_LONG,
                DataError::BareLf | DataError::BareCr => Reply::BARE_LINE_ENDING,
            };
            let count = if lmtp { env.recipients.len() } else { 1 };
            for _ in 0..count {
                self.queue(&reply);
            }
            let flow = self.fault(SessionError::DataRejected(e));
            return (ready, flow);
        }
        let replies: Vec<Reply> = if lmtp {
            // One reply per accepted recipient, whatever the handler returned.
            (0..env.recipients.len())
                .map(|i| match results.get(i) {
                    Some(Ok(r)) | Some(Err(r)) => r.clone(),
                    None => Reply::TRY_AGAIN,
                })
                .collect()
        } else {
            results
                .into_iter()
                .take(1)
                .map(|r| r.unwrap_or_else(|e| e))
                .collect()
        };
        let accepted = replies.iter().any(Reply::is_positive);
        if accepted {
            // A session that delivers mail is not junk: its budget starts again.
            self.junk = 0;
            stats.messages.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.messages_rejected.fetch_add(1, Ordering::Relaxed);
        }
        debug!(
            "{} session {}: message from <{}> for {} recipient(s), {raw} octets: {}",
            self.info.peer,
            self.info.id,
            env.from.as_ref().map(|m| m.to_string()).unwrap_or_default(),
            env.recipients.len(),
            replies.first().map(|r| r.to_string()).unwrap_or_default()
        );
        let mut flow = Flow::Continue;
        for r in &replies {
            if self.reply(r) == Flow::Close {
                flow = Flow::Close;
            }
        }
        (ready, flow)
    }
}

/// True when the transaction declared BODY=BINARYMIME (which only BDAT may carry).
fn binary_mime(s: &State) -> bool {
    matches!(s, State::Transaction(_, env) if env.params.body == Some(Body::BinaryMime))
}

/// Runs the handler on a message body; a panic comes back as its message.
fn run_handler<H: Handler>(
    h: &mut H,
    lmtp: bool,
    env: &Envelope,
    body: &mut dyn std::io::Read,
) -> Result<Vec<Result<Reply, Reply>>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        if lmtp {
            h.on_data_lmtp(env, body)
        } else {
            vec![h.on_data(env, body)]
        }
    }))
    .map_err(|p| panic_message(&*p))
}

/// RFC 3207 §4: with TLS required, what may run before STARTTLS.
fn allowed_before_tls(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Ehlo(_)
            | Command::Helo(_)
            | Command::Lhlo(_)
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::StartTls
    )
}
