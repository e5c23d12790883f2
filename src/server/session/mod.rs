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
use crate::proto::TlsInfo;
use crate::reply::Reply;
#[cfg(feature = "auth")]
use crate::sasl::{Mechanism, SaslError, ServerExchange, Step};
#[cfg(feature = "tls")]
use crate::stream::Pending;
use crate::stream::{Conn, Line, RecvError, deadline_after, deadline_in, read_line_into};
use secure::MAX_SASL_LINE;

use super::config::{Protocol, ServerConfig};
use super::handler::{
    Body, ConnInfo, Envelope, ErrorAction, Greeting, Handler, MailParams, Phase, Recipient,
    SessionError,
};
use super::params::{Offered, RcptParams};
use super::reader::{BdatLimits, BdatReader, DataEnd, DataReader, Interruption};
use super::session_io::{SessionIo, queue};
use super::shared::{SessionSlot, Shared};

mod envelope;
mod message;
mod secure;

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
    /// The client said QUIT (and was answered): the close may skip its drain.
    quit: bool,
    /// The command line buffer, reused from line to line (at most the line limit).
    line: Vec<u8>,
    /// The longest command line to read ([`command_line_limit`]), worked out once: the
    /// configuration does not change during a session.
    line_limit: usize,
}

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
        let line_limit = command_line_limit(&cfg);
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
            quit: false,
            line: Vec::new(),
            line_limit,
        }
    }

    /// Runs the session to its end; `on_close` is called exactly once.
    pub(crate) fn run(self) {
        let _ = self.run_to_end();
    }

    /// Runs the session to its end and gives back the handler and the connection.
    pub(crate) fn run_to_end(mut self) -> (H, C) {
        let _ = self.main();
        match self.quit {
            true => self.io.close_after_quit(),
            false => self.io.close(),
        }
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
            // One reading of the clock for both tests (each reading costs, and the fuzz
            // target traces the compares inside it). The deadline is never before `now`, so
            // a lifetime already over is also one that bounds this read: the second test
            // only runs when the first holds (an `Instant` compare is two traced calls).
            let now = Instant::now();
            let mut deadline = deadline_after(now, self.cfg.command_timeout);
            let lifetime_bound = !in_transaction && self.ends_at <= deadline;
            if lifetime_bound {
                if now >= self.ends_at {
                    self.queue(&Reply::SESSION_TOO_LONG);
                    let _ = self.io.flush();
                    return self.fault(SessionError::SessionTooLong);
                }
                deadline = self.ends_at;
            }
            // Two two-way tests, not one `match` over the enum's niche values: a switch the
            // fuzzer traces dearly, on every command line (this is nearly always None).
            let line = if let Some(p) = self.pending.take() {
                match p {
                    Interruption::Command(bytes, parsed) => Ok(Next::Parsed(bytes, parsed)),
                    Interruption::TooLong => Ok(Next::Line(Line::TooLong)),
                }
            } else {
                let max = self.line_limit;
                // The session's line buffer, lent out and given back below: no allocation
                // per command line.
                let mut bytes = std::mem::take(&mut self.line);
                match read_line_into(&mut self.io, max, deadline, &mut bytes) {
                    Ok(true) => Ok(Next::Line(Line::Complete(bytes))),
                    other => {
                        self.line = bytes;
                        other.map(|_| Next::Line(Line::TooLong))
                    }
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
                    let flow = self.run_line(&bytes, parsed);
                    self.line = bytes;
                    flow
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
                // A BDAT refused for its syntax still brings its chunk (RFC 3030 §2). Only a
                // BDAT verb gives BadBdat, so other errors skip the second look at the line.
                let bdat = matches!(e, CommandError::BadBdat);
                if let Some(size) = bdat
                    .then(|| crate::command::bdat_chunk_size(bytes))
                    .flatten()
                {
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
            (s, cmd)
                if self.cfg.requires_tls() && self.tls.is_none() && !allowed_before_tls(&cmd) =>
            {
                let flow = self.refuse_command(&cmd, &Reply::NEED_TLS, cmd.verb());
                (s, flow)
            }
            (_, Command::Quit) => {
                self.queue(&Reply::BYE);
                // A client that hangs up before reading 221 is not an error.
                let _ = self.io.flush();
                self.quit = true;
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
                if self.cfg.requires_auth() && self.auth.is_none() =>
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
            (s, Command::StartTls) if !self.cfg.tls_offered() => (s, self.not_offered("STARTTLS")),
            (s, Command::StartTls) if self.tls.is_some() => (
                s,
                self.out_of_order("STARTTLS", "Error: TLS already active"),
            ),
            (s, Command::StartTls) => {
                let _ = self.end_transaction(s);
                // RFC 3207 §4.2: the session starts over, the client must EHLO again.
                (State::Fresh, self.start_tls())
            }
            (s, Command::Auth { .. }) if !self.cfg.auth_offered() => (
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

    /// False for a line (without its CRLF) longer than the command limit, unless it is AUTH.
    fn line_fits(&self, line: &[u8]) -> bool {
        line.len() + 2 <= self.cfg.max_line_length
            || line
                .get(..5)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"AUTH "))
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

    fn out_of_order(&mut self, verb: &'static str, text: &'static str) -> Flow {
        self.client_error(
            &Reply::BAD_SEQUENCE.with_text(text),
            SessionError::OutOfOrder(verb),
        )
    }

    fn unknown(&mut self, s: State, verb: &str, args: &str) -> (State, Flow) {
        match self.call("on_unknown", |h| h.on_unknown(verb, args)) {
            Ok(r) if r.code >= 400 => {
                let verb = printable_verb(verb);
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
}

/// Longest command line to read: AUTH's initial response may be longer than other commands
/// (RFC 4954 §4: 12288 octets), so when AUTH is offered lines are read up to that and
/// [`Session::line_fits`] applies the usual limit to the rest.
fn command_line_limit(cfg: &ServerConfig) -> usize {
    if !cfg.auth_offered() {
        cfg.max_line_length
    } else {
        cfg.max_line_length.max(MAX_SASL_LINE)
    }
}

/// The first 32 printable ASCII octets of a verb, for logs. Bytes, not chars: no byte of a
/// non-ASCII char is ASCII. A table and arithmetic, no test per byte (each a traced call
/// under the session fuzz target): every byte is written, and only a printable one moves
/// the end, until there are 32.
fn printable_verb(verb: &str) -> String {
    const GRAPHIC: [u8; 256] = {
        let mut t = [0; 256];
        let mut b = b'!';
        while b <= b'~' {
            t[b as usize] = 1;
            b += 1;
        }
        t
    };
    let mut buf = [0u8; 64];
    let mut n = 0usize;
    for &b in verb.as_bytes() {
        buf[n & 63] = b;
        // n stops at 32: (n >> 5) is 1 there, 0 below.
        n = n.wrapping_add(usize::from(GRAPHIC[usize::from(b)]) & (1 ^ (n >> 5)));
    }
    String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
}

/// True when the transaction declared BODY=BINARYMIME (which only BDAT may carry).
fn binary_mime(s: &State) -> bool {
    matches!(s, State::Transaction(_, env) if env.params.body == Some(Body::BinaryMime))
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::SessionError;
    use crate::command::CommandError;
    use crate::server::shared::Counters;

    #[test]
    fn syntax_errors_are_ordinary_not_fatal_and_counted_as_protocol_errors() {
        for err in [
            SessionError::Syntax(CommandError::Empty),
            SessionError::UnknownCommand("X".into()),
        ] {
            assert!(err.is_ordinary() && !err.is_fatal(), "{err}");
            let c = Counters::default();
            c.count_error(&err);
            assert_eq!(c.protocol_errors.load(Ordering::Relaxed), 1, "{err}");
        }
    }
    #[test]
    fn printable_verb_keeps_the_first_32_printable_octets() {
        let long = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij\u{7f}é~";
        for verb in ["", "X", "\u{1}A\tB C\u{7f}", "é€x", long, &long.repeat(3)] {
            let want: String = verb
                .bytes()
                .filter(u8::is_ascii_graphic)
                .take(32)
                .map(char::from)
                .collect();
            assert_eq!(super::printable_verb(verb), want, "{verb:?}");
        }
    }
}
