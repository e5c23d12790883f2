//! A mail catcher for development: accepts every message and stores it in a Maildir.
//!
//! ```text
//! cargo run --release --example smtp_server -- [FLAGS]      # --help lists them
//! ```
//!
//! Each message is written to `tmp/` and renamed into `new/` before the `250` reply, which
//! names the file. The file holds `Return-Path: <from>`, one `X-Original-To: <rcpt>` per
//! recipient the message was accepted for, then the message exactly as received (un-stuffed).
//! One INFO line per stored message; `--print` also writes each message to stdout; `--http
//! ADDR` serves a web view and a JSON API of the Maildir. `--auth-check` checks each message
//! (DKIM, SPF, DMARC, with the nameserver of `--dns` or the system's) and stores it with an
//! `Authentication-Results:` header after the `Return-Path:`/`X-Original-To:` lines. SIGINT or SIGTERM stops it
//! gracefully: open sessions finish their message (up to `--grace` seconds), then get `421
//! 4.3.2`; nothing partial stays in `tmp/`; exit status 0.

#[path = "common/args.rs"]
mod args;
#[path = "smtp_server/logger.rs"]
mod logger;
#[path = "common/resolver.rs"]
mod resolver;
#[path = "smtp_server/web.rs"]
mod web;

use std::cell::OnceCell;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use args::{Cli, Long, Short, number, string};
use smtpkit::Reply;
use smtpkit::address::Mailbox;
use smtpkit::auth_check::{Checker, Identity};
use smtpkit::command::Param;
use smtpkit::maildir::{DeliverError, Maildir, delivery_headers};
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{
    BareLinePolicy, ConnInfo, Envelope, Handler, ListenerOptions, Protocol, Server,
};
use smtpkit::tls::ServerTls;

const CLI: Cli = Cli {
    name: "smtp_server",
    about: "a mail catcher: accepts every message and stores it in a Maildir",
    usage: "[--listen ADDR]... [--maildir DIR] [--http ADDR] [--print] [FLAGS]",
    flags: &[
        (
            "--listen ADDR",
            "listen address (default 127.0.0.1:2525; repeatable)",
        ),
        (
            "--maildir DIR",
            "Maildir to store messages in (default ./maildir)",
        ),
        (
            "--http ADDR",
            "serve a web view and JSON API of the Maildir (e.g. 127.0.0.1:8025)",
        ),
        ("--print", "also write each message to stdout"),
        (
            "--auth-check",
            "check DKIM, SPF and DMARC; store each message with an\nAuthentication-Results header",
        ),
        (
            "--dns ADDR:PORT",
            "with --auth-check: the nameserver to ask (default: resolv.conf's)",
        ),
        (
            "--no-fsync",
            "do not flush each message to disk before 250 (faster; a crash may lose mail)",
        ),
        (
            "--hostname NAME",
            "name in the greeting (default: the machine's host name)",
        ),
        (
            "--max-size BYTES",
            "message size limit, advertised in SIZE (default 10240000; 0 = none)",
        ),
        (
            "--max-recipients N",
            "recipients per message (default 1000)",
        ),
        (
            "--max-sessions N",
            "sessions at once; past it 421 4.7.0 (default 128)",
        ),
        (
            "--max-per-ip N",
            "sessions at once from one address; past it 421 4.7.0 (default 50)",
        ),
        (
            "--min-threads N",
            "session threads started with the server and kept idle (default 1)",
        ),
        ("--lmtp", "speak LMTP (LHLO, one reply per recipient)"),
        (
            "--bare-lf POLICY",
            "reject (default) | normalize | strip | allow",
        ),
        (
            "--timeout SECS",
            "deadline for each command line and each DATA line (default 300/180)",
        ),
        (
            "--grace SECS",
            "on SIGINT/SIGTERM, time open sessions get to finish (default 10)",
        ),
        (
            "--refuse ADDR",
            "that recipient gets 550 5.1.1 (repeatable)",
        ),
        ("--defer ADDR", "that recipient gets 450 4.2.1 (repeatable)"),
        (
            "--fail-data ADDR",
            "LMTP: that recipient's DATA reply is 452 4.2.2 (repeatable)",
        ),
        (
            "--tls-cert PEM",
            "certificate chain: STARTTLS on the main listener (with --tls-key)",
        ),
        ("--tls-key PEM", "the certificate's private key"),
        (
            "--implicit-tls ADDR",
            "a second listener with implicit TLS (port 465 style)",
        ),
        (
            "--require-tls",
            "before STARTTLS only EHLO/HELO/NOOP/RSET/QUIT/STARTTLS",
        ),
        (
            "--auth USER:PASS",
            "enable AUTH (PLAIN, LOGIN, CRAM-MD5) with this user (repeatable)",
        ),
        ("--require-auth", "MAIL before AUTH gets 530 5.7.0"),
        ("--allow-insecure-auth", "offer AUTH without TLS"),
        ("--chunking", "offer CHUNKING/BDAT and BINARYMIME"),
        ("--dsn", "offer DSN (RET, ENVID, NOTIFY, ORCPT)"),
        (
            "--proxy-protocol",
            "expect a PROXY protocol header (v1/v2) on every listener",
        ),
        (
            "--proxy-trusted CIDR",
            "a balancer allowed to send PROXY headers (repeatable;\nrequired with --proxy-protocol)",
        ),
        (
            "--stats-every SECS",
            "log the server's counters every SECS seconds",
        ),
        (
            "-v, --verbose",
            "debug logging: a line per connection and per command",
        ),
    ],
    after: "Try it: swaks --server 127.0.0.1:2525 --to you@example.org\n\
Stop it with Ctrl-C: open sessions finish, then get 421 4.3.2; exit status 0.",
};

#[derive(Debug, Default)]
struct Options {
    listen: Vec<String>,
    maildir: PathBuf,
    http: Option<String>,
    print: bool,
    auth_check: bool,
    dns: Option<SocketAddr>,
    no_fsync: bool,
    hostname: Option<String>,
    max_size: Option<u64>,
    max_recipients: Option<usize>,
    max_sessions: Option<usize>,
    max_per_ip: Option<usize>,
    min_threads: Option<usize>,
    lmtp: bool,
    bare_lf: BareLinePolicy,
    timeout: Option<u64>,
    grace: u64,
    refuse: Vec<String>,
    defer: Vec<String>,
    fail_data: Vec<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    implicit_tls: Option<String>,
    require_tls: bool,
    users: Vec<(String, String)>,
    require_auth: bool,
    allow_insecure_auth: bool,
    chunking: bool,
    dsn: bool,
    proxy_protocol: bool,
    proxy_trusted: Vec<String>,
    stats_every: Option<u64>,
    verbose: bool,
}

fn positive(p: &mut args::Parser, flag: &str) -> Result<u64, args::Error> {
    let v = string(p)?;
    v.parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| args::Error(format!("bad {flag} {v:?}")))
}

fn parse_args(p: &mut args::Parser) -> Result<Options, args::Error> {
    let mut o = Options {
        maildir: PathBuf::from("./maildir"),
        grace: 10,
        ..Options::default()
    };
    while let Some(arg) = p.next()? {
        match arg {
            Long("listen") => o.listen.push(string(p)?),
            Long("maildir") => o.maildir = PathBuf::from(p.value()?),
            Long("http") => o.http = Some(string(p)?),
            Long("print") => o.print = true,
            Long("auth-check") => o.auth_check = true,
            Long("dns") => o.dns = Some(number(p, "--dns")?),
            Long("no-fsync") => o.no_fsync = true,
            Long("hostname") => o.hostname = Some(string(p)?),
            Long("max-size") => o.max_size = Some(number(p, "--max-size")?),
            Long("max-recipients") => o.max_recipients = Some(number(p, "--max-recipients")?),
            Long("max-sessions") => o.max_sessions = Some(positive(p, "--max-sessions")? as usize),
            Long("max-per-ip") => o.max_per_ip = Some(positive(p, "--max-per-ip")? as usize),
            Long("min-threads") => o.min_threads = Some(number(p, "--min-threads")?),
            Long("lmtp") => o.lmtp = true,
            Long("bare-lf") => {
                o.bare_lf = match string(p)?.as_str() {
                    "reject" => BareLinePolicy::Reject,
                    "normalize" => BareLinePolicy::Normalize,
                    "strip" => BareLinePolicy::Strip,
                    "allow" => BareLinePolicy::Allow,
                    v => return Err(format!("bad --bare-lf {v:?}").into()),
                }
            }
            Long("timeout") => o.timeout = Some(positive(p, "--timeout")?),
            Long("grace") => o.grace = number(p, "--grace")?,
            Long("refuse") => o.refuse.push(string(p)?.to_ascii_lowercase()),
            Long("defer") => o.defer.push(string(p)?.to_ascii_lowercase()),
            Long("fail-data") => o.fail_data.push(string(p)?.to_ascii_lowercase()),
            Long("tls-cert") => o.tls_cert = Some(PathBuf::from(p.value()?)),
            Long("tls-key") => o.tls_key = Some(PathBuf::from(p.value()?)),
            Long("implicit-tls") => o.implicit_tls = Some(string(p)?),
            Long("require-tls") => o.require_tls = true,
            Long("auth") => {
                let v = string(p)?;
                let (user, pass) = v
                    .split_once(':')
                    .ok_or_else(|| format!("bad --auth {v:?}: want USER:PASS"))?;
                o.users.push((user.to_string(), pass.to_string()));
            }
            Long("require-auth") => o.require_auth = true,
            Long("allow-insecure-auth") => o.allow_insecure_auth = true,
            Long("chunking") => o.chunking = true,
            Long("dsn") => o.dsn = true,
            Long("proxy-protocol") => o.proxy_protocol = true,
            Long("proxy-trusted") => o.proxy_trusted.push(string(p)?),
            Long("stats-every") => o.stats_every = Some(positive(p, "--stats-every")?),
            Short('v') | Long("verbose") => o.verbose = true,
            other => CLI.other(other)?,
        }
    }
    if o.listen.is_empty() {
        o.listen.push("127.0.0.1:2525".into());
    }
    if o.tls_cert.is_some() != o.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if (o.implicit_tls.is_some() || o.require_tls) && o.tls_cert.is_none() {
        return Err("--implicit-tls and --require-tls need --tls-cert and --tls-key".into());
    }
    if o.proxy_protocol && o.proxy_trusted.is_empty() {
        return Err(
            "--proxy-protocol needs --proxy-trusted CIDR (the balancers allowed to \
                    send PROXY headers; a PROXY header names the client)"
                .into(),
        );
    }
    if o.dns.is_some() && !o.auth_check {
        return Err("--dns needs --auth-check".into());
    }
    if o.require_auth && o.users.is_empty() {
        return Err("--require-auth needs at least one --auth USER:PASS".into());
    }
    if o.require_auth && o.tls_cert.is_none() && !o.allow_insecure_auth {
        return Err("--require-auth needs --tls-cert/--tls-key or --allow-insecure-auth (AUTH is never offered otherwise)".into());
    }
    Ok(o)
}

/// What every connection's handler shares.
struct Shared {
    opts: Options,
    store: Maildir,
    /// With `--auth-check`.
    checker: Option<Checker>,
}

/// One handler per connection.
struct Catcher {
    shared: Arc<Shared>,
    peer: SocketAddr,
    id: u64,
    /// `<peer> session <id>`, the start of every stored-message line: written at the first
    /// one and kept (formatting an address costs more than the rest of the line).
    who: OnceCell<String>,
}

fn matches(list: &[String], m: &Mailbox) -> bool {
    // Most runs have no such list: no string made for each recipient then.
    if list.is_empty() {
        return false;
    }
    let s = m.to_string().to_ascii_lowercase();
    list.contains(&s)
}

/// `"text"` with `"` and `\` escaped and control characters written as spaces, for a log
/// line (formatted straight into the line, no string of its own).
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut rest = self.0;
        // Runs of ordinary characters in one write each.
        while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c.is_control()) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or(' ');
            match c {
                '"' | '\\' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                _ => f.write_char(' ')?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)?;
        f.write_char('"')
    }
}

/// A mailbox, or nothing for the null sender.
struct OrEmpty<'a>(Option<&'a Mailbox>);

impl fmt::Display for OrEmpty<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(m) => write!(f, "{m}"),
            None => Ok(()),
        }
    }
}

/// Recipients as `<a>,<b>`.
struct Angled<'a>(&'a [&'a Mailbox]);

impl fmt::Display for Angled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "<{r}>")?;
        }
        Ok(())
    }
}

/// A reader that remembers whether an error came from it (and not from a writer).
struct Tracked<'a> {
    inner: &'a mut dyn Read,
    failed: bool,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        self.failed = r.is_err();
        r
    }
}

impl Catcher {
    /// Streams the body into the Maildir; logs the outcome. Returns the file name.
    fn store(
        &self,
        env: &Envelope,
        rcpts: &[&Mailbox],
        data: &mut dyn Read,
    ) -> Result<String, DeliverError> {
        let mut headers = delivery_headers(env.from.as_ref(), rcpts);
        // The log line's size and subject are taken on the way to the file, not read back.
        let mut seen = Seen {
            inner: data,
            size: 0,
            head: Vec::new(),
            head_done: false,
        };
        let result = match &self.shared.checker {
            Some(checker) => self.check_and_deliver(checker, env, &mut headers, &mut seen),
            None => self.shared.store.deliver(&headers, &mut seen),
        };
        match &result {
            Ok(name) => self.stored(env, rcpts, name, seen.size, &seen.head),
            // The client vanished or the body was refused: the library logs that at debug.
            Err(DeliverError::Read(_)) => {}
            // Something the operator must fix (disk full, permissions).
            Err(e @ DeliverError::Write(_)) => {
                log::warn!(
                    "{} session {}: cannot store message: {e}",
                    self.peer,
                    self.id
                )
            }
        }
        result
    }

    /// `--auth-check`: spools the message to `tmp/` while checking it, then delivers the
    /// spooled copy with the Authentication-Results header appended to `headers`.
    fn check_and_deliver(
        &self,
        checker: &Checker,
        env: &Envelope,
        headers: &mut Vec<u8>,
        data: &mut dyn Read,
    ) -> Result<String, DeliverError> {
        let spool = self
            .shared
            .store
            .path()
            .join("tmp")
            .join(format!("spool-{}", self.shared.store.unique_name()));
        let identity = Identity::from_envelope(self.peer.ip(), env);
        let mut source = Tracked {
            inner: data,
            failed: false,
        };
        let checked = File::create(&spool).and_then(|f| {
            let mut w = BufWriter::new(f);
            checker.check_tee(&identity, &mut source, &mut w)
        });
        let result = match checked {
            Ok(results) => {
                log::debug!("{} session {}: {}", self.peer, self.id, results.value());
                headers.extend_from_slice(results.header().as_bytes());
                match File::open(&spool) {
                    Ok(mut f) => self
                        .shared
                        .store
                        .deliver(headers, &mut f)
                        .map_err(|e| match e {
                            // Reading our own spool file is the store's problem.
                            DeliverError::Read(e) => DeliverError::Write(e),
                            e => e,
                        }),
                    Err(e) => Err(DeliverError::Write(e)),
                }
            }
            Err(e) if source.failed => Err(DeliverError::Read(e)),
            Err(e) => Err(DeliverError::Write(e)),
        };
        let _ = std::fs::remove_file(&spool);
        result
    }

    /// The INFO line for a stored message, and `--print` (which reads the file back).
    fn stored(&self, env: &Envelope, rcpts: &[&Mailbox], name: &str, size: u64, head: &[u8]) {
        let header_end = find(head, b"\r\n\r\n").map_or(head.len(), |i| i + 4);
        // The borrowing decoder: the same values (`decode_ref` equals `decode`), without an
        // owned copy of every header.
        let decoded = smtpkit::mime::decode_ref(&head[..header_end]);
        let subject = decoded
            .as_ref()
            .ok()
            .and_then(|p| p.header_value("Subject"))
            .unwrap_or_default();
        let who = self
            .who
            .get_or_init(|| format!("{} session {}", self.peer, self.id));
        log::info!(
            "{who}: stored {name}: from=<{}> to={} size={} subject={}",
            OrEmpty(env.from.as_ref()),
            Angled(rcpts),
            size,
            Quoted(subject),
        );
        if self.shared.opts.print {
            let path = self.shared.store.path().join("new").join(name);
            let content = std::fs::read(&path).unwrap_or_default();
            let header_end = find(&content, b"\r\n\r\n").map_or(content.len(), |i| i + 4);
            print_message(&content, header_end, self.peer);
        }
    }
}

/// The most of a message's header block kept for the log line.
const HEAD_MAX: usize = 64 * 1024;

/// A message on its way to the Maildir: counts its octets and keeps its header block (up to
/// the blank line, at most [`HEAD_MAX`]).
struct Seen<'a> {
    inner: &'a mut dyn Read,
    size: u64,
    head: Vec<u8>,
    head_done: bool,
}

impl Read for Seen<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.size += n as u64;
        if !self.head_done {
            let got = &buf[..n];
            let take = got.len().min(HEAD_MAX - self.head.len());
            // The blank line may straddle two reads: first the seam (the last 3 octets kept
            // and the first 3 read), then the read alone. Only the header block is copied,
            // not the whole read.
            let back = self.head.len().min(3);
            let front = take.min(3);
            let mut seam = [0u8; 6];
            seam[..back].copy_from_slice(&self.head[self.head.len() - back..]);
            seam[back..back + front].copy_from_slice(&got[..front]);
            let end = match find(&seam[..back + front], b"\r\n\r\n") {
                Some(i) => Some(i + 4 - back),
                None => find(&got[..take], b"\r\n\r\n").map(|i| i + 4),
            };
            match end {
                Some(end) => {
                    self.head.extend_from_slice(&got[..end]);
                    self.head_done = true;
                }
                None => {
                    self.head.extend_from_slice(&got[..take]);
                    self.head_done = self.head.len() >= HEAD_MAX;
                }
            }
        }
        Ok(n)
    }
}

/// Where `needle` first starts in `hay`. Only the places where its first octet is are
/// compared (a window-by-window compare was a `memcmp` call per octet of the headers).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut at = 0;
    while at <= last_start {
        let i = at + hay[at..=last_start].iter().position(|&b| b == first)?;
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

/// Writes a message to stdout as aiosmtpd's debugging server does: between two marker
/// lines, with an `X-Peer:` header added, line endings as LF.
fn print_message(content: &[u8], header_end: usize, peer: SocketAddr) {
    let (head, body) = content.split_at(header_end.min(content.len()));
    let head = String::from_utf8_lossy(head).replace("\r\n", "\n");
    let body = String::from_utf8_lossy(body).replace("\r\n", "\n");
    let mut out = io::stdout().lock();
    let _ = write!(
        out,
        "---------- MESSAGE FOLLOWS ----------\n{}X-Peer: {}\n\n{}{}------------ END MESSAGE ------------\n",
        head.trim_end_matches('\n').to_string() + "\n",
        peer.ip(),
        body,
        if body.is_empty() || body.ends_with('\n') {
            ""
        } else {
            "\n"
        },
    );
    let _ = out.flush();
}

impl Handler for Catcher {
    fn on_auth(&mut self, credentials: &Credentials) -> Result<(), Reply> {
        let known =
            self.shared.opts.users.iter().any(|(user, pass)| {
                credentials.username() == user && credentials.check_password(pass)
            });
        if known {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }

    fn on_rcpt(&mut self, to: &Mailbox, _params: &[Param], _env: &Envelope) -> Result<(), Reply> {
        if matches(&self.shared.opts.refuse, to) {
            return Err(Reply::NO_SUCH_USER);
        }
        if matches(&self.shared.opts.defer, to) {
            return Err(Reply::MAILBOX_BUSY);
        }
        Ok(())
    }

    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let rcpts: Vec<&Mailbox> = env.recipients.iter().map(|r| &r.mailbox).collect();
        match self.store(env, &rcpts, data) {
            Ok(name) => Ok(Reply::QUEUED.with_text(queued_as(&name))),
            Err(DeliverError::Read(_)) => Err(Reply::TRANSACTION_FAILED),
            Err(DeliverError::Write(_)) => Err(Reply::TRY_AGAIN),
        }
    }

    fn on_data_lmtp(&mut self, env: &Envelope, data: &mut dyn Read) -> Vec<Result<Reply, Reply>> {
        let opts = &self.shared.opts;
        let failed = |m: &Mailbox| matches(&opts.fail_data, m);
        let rcpts: Vec<&Mailbox> = env
            .recipients
            .iter()
            .map(|r| &r.mailbox)
            .filter(|m| !failed(m))
            .collect();
        let stored = if rcpts.is_empty() {
            io::copy(data, &mut io::sink())
                .map(|_| String::new())
                .map_err(DeliverError::Read)
        } else {
            self.store(env, &rcpts, data)
        };
        env.recipients
            .iter()
            .map(|r| match &stored {
                _ if failed(&r.mailbox) => Err(Reply::with(452, (4, 2, 2), "Mailbox full")),
                Ok(name) => Ok(Reply::QUEUED.with_text(queued_as(name))),
                Err(_) => Err(Reply::TRY_AGAIN),
            })
            .collect()
    }

    fn on_close(&mut self) {
        log::debug!("{} session {}: closed", self.peer, self.id);
    }
}

/// The 250's text: `OK: queued as <file name>` (pushed, not `format!`ed: a message's reply).
fn queued_as(name: &str) -> String {
    const OK: &str = "OK: queued as ";
    let mut text = String::with_capacity(OK.len() + name.len());
    text.push_str(OK);
    text.push_str(name);
    text
}

/// A start-up failure: one line, exit 2.
fn startup_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("smtp_server: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let opts = CLI.parse(parse_args);
    let level = if opts.verbose {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    logger::init(level);

    // Start-up checks: each failure is one line and exit status 2, before anything listens.
    let store = match Maildir::create(&opts.maildir) {
        Ok(s) => s.fsync(!opts.no_fsync),
        Err(e) => return startup_error(format_args!("cannot write to the Maildir: {e}")),
    };
    let mut b = Server::builder()
        .protocol(if opts.lmtp {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        })
        .bare_line_policy(opts.bare_lf);
    if let Some(h) = &opts.hostname {
        b = b.hostname(h.clone());
    }
    if let Some(n) = opts.max_size {
        b = b.max_message_size(if n == 0 { None } else { Some(n) });
    }
    if let Some(n) = opts.max_recipients {
        b = b.max_recipients(n);
    }
    if let Some(n) = opts.max_sessions {
        b = b.max_sessions(n);
    }
    if let Some(n) = opts.max_per_ip {
        b = b.max_sessions_per_ip(n);
    }
    if let Some(n) = opts.min_threads {
        b = b.min_threads(n);
    }
    if let Some(t) = opts.timeout {
        let t = Duration::from_secs(t);
        b = b.command_timeout(t).data_block_timeout(t);
    }
    if let (Some(cert), Some(key)) = (&opts.tls_cert, &opts.tls_key) {
        match ServerTls::from_pem_files(cert, key) {
            Ok(tls) => b = b.tls(tls).require_tls(opts.require_tls),
            Err(e) => return startup_error(e),
        }
    }
    if !opts.users.is_empty() {
        // CRAM-MD5 needs the plain password, which this catcher has.
        b = b
            .auth_mechanisms(&[Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
            .require_auth(opts.require_auth)
            .allow_insecure_auth(opts.allow_insecure_auth);
    }
    let trusted: Vec<&str> = opts.proxy_trusted.iter().map(String::as_str).collect();
    b = b
        .proxy_trusted(&trusted)
        .chunking(opts.chunking)
        .binary_mime(opts.chunking)
        .dsn(opts.dsn);
    let lo = ListenerOptions {
        proxy_protocol: opts.proxy_protocol,
        ..Default::default()
    };
    // A bad combination of flags is a usage error, not a failure to listen.
    if let Err(e) = b.config_ref().validate() {
        return startup_error(format_args!("bad configuration: {e}"));
    }
    let mut server = match b.bind_with(opts.listen[0].as_str(), lo) {
        Ok(s) => s,
        Err(e) => return startup_error(format_args!("cannot listen on {}: {e}", opts.listen[0])),
    };
    let implicit = ListenerOptions {
        implicit_tls: true,
        ..lo
    };
    let more = opts.listen[1..]
        .iter()
        .map(|a| (a, lo))
        .chain(opts.implicit_tls.iter().map(|a| (a, implicit)));
    for (addr, options) in more {
        server = match server.listen(addr.as_str(), options) {
            Ok(s) => s,
            Err(e) => return startup_error(format_args!("cannot listen on {addr}: {e}")),
        };
    }
    let web = match &opts.http {
        Some(addr) => match web::WebView::bind(addr, store.path()) {
            Ok(w) => Some(w),
            Err(e) => return startup_error(format_args!("cannot serve HTTP on {addr}: {e}")),
        },
        None => None,
    };
    // Signals are caught from here on (before the "listening" line, so a test that waits
    // for it can send one at once).
    let mut signals = match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(s) => s,
        Err(e) => return startup_error(format_args!("cannot catch signals: {e}")),
    };

    for (i, addr) in server.local_addrs().iter().enumerate() {
        match i {
            0 => log::info!(
                "smtp_server listening on {addr}, storing mail in {}",
                opts.maildir.display()
            ),
            _ if i >= opts.listen.len() => {
                log::info!("smtp_server listening on {addr} (implicit TLS)")
            }
            _ => log::info!("smtp_server listening on {addr}"),
        }
    }
    let grace = Duration::from_secs(opts.grace);
    let stats_every = opts.stats_every;
    let checker = opts.auth_check.then(|| {
        let c = Checker::with_resolver(Arc::from(resolver::resolver(opts.dns)));
        match &opts.hostname {
            Some(h) => c.authserv_id(h.clone()),
            None => c,
        }
    });
    let shared = Arc::new(Shared {
        opts,
        store,
        checker,
    });
    let handle = server.spawn(move |conn: &ConnInfo| {
        log::debug!(
            "{} session {}: connected to {}{}",
            conn.peer,
            conn.id,
            conn.local,
            conn.proxy
                .map(|p| format!(" through the proxy {p}"))
                .unwrap_or_default()
        );
        Catcher {
            shared: Arc::clone(&shared),
            peer: conn.peer,
            id: conn.id,
            who: OnceCell::new(),
        }
    });
    let handle = match handle {
        Ok(h) => Arc::new(h),
        Err(e) => return startup_error(e),
    };
    if let Some(w) = web {
        log::info!("smtp_server web view on http://{}/", w.addr());
        let h = Arc::clone(&handle);
        w.spawn(move || h.stats());
    }
    if let Some(secs) = stats_every {
        // The counters as one key=value line, for an operator's eyes or a log scraper.
        let h = Arc::clone(&handle);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(secs));
                log::info!("stats {}", h.stats());
            }
        });
    }

    let signal = signals
        .forever()
        .next()
        .unwrap_or(signal_hook::consts::SIGTERM);
    let name = if signal == signal_hook::consts::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    log::info!(
        "{name}: stopping; open sessions get up to {}s to finish (a second signal stops at once)",
        grace.as_secs()
    );
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            log::warn!("second signal: stopping at once");
            std::process::exit(1);
        }
    });
    handle.shutdown(grace);
    log::info!("stopped: {}", handle.stats());
    ExitCode::SUCCESS
}
