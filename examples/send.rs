//! Sends one message through a relay or to a domain's MX hosts, and reports what happened to
//! every recipient.
//!
//! ```text
//! cargo run --example send -- --from A --to B [--notify LIST] [--to C [--notify LIST]]...
//!     (--relay HOST[:PORT] | --mx DOMAIN [--dns ADDR:PORT] [--port N])
//!     [--tls never|opportunistic|required|implicit] [--ca PEM] [--insecure]
//!     [--user U --password P] [--allow-insecure-auth] [--ret FULL|HDRS] [--envid ID]
//!     [--lmtp] [--hostname H] [--retries N] [-v] [FILE]
//! ```
//!
//! The message is streamed from FILE (read from disk again for a retry, never held in memory),
//! or read from stdin when FILE is absent or `-`. Defaults: `--tls opportunistic`,
//! `--retries 1`, port 25 (465 with `--tls implicit`); `--port` applies to `--mx`, and to
//! `--relay` without an explicit `:PORT`. `--flag=value` works like `--flag value`.
//!
//! TLS: `opportunistic` encrypts whenever STARTTLS is offered, even when the certificate does
//! not verify (RFC 7435; the reason is logged), and goes on in cleartext only when STARTTLS is
//! absent or its handshake fails; `required` and `implicit` verify the certificate (`--ca PEM`
//! adds a CA beside the public roots). `--insecure` encrypts without verifying in every mode.
//! A TLS failure's cause (what failed, for which name, the usual fix) is in the result line.
//!
//! Credentials (`--user`): the transaction never starts unauthenticated. A server without AUTH,
//! no common mechanism, or a refusal fails the send before MAIL; credentials never go out
//! without TLS unless `--allow-insecure-auth`, nor over TLS whose certificate did not verify
//! unless `--insecure`.
//!
//! DSN (RFC 3461, sent when the server offers DSN): `--ret FULL|HDRS`, `--envid ID`, and
//! `--notify NEVER|SUCCESS,FAILURE,DELAY` for the recipient of the `--to` it follows, or, given
//! before any `--to`, for all recipients.
//!
//! Output (stdout), one line per recipient in the order given, then a result line:
//!
//! ```text
//! <rcpt> <code> <enhanced> <text>
//! result: delivered|partial|failed|unknown <code> <text>
//! ```
//!
//! An accepted recipient gets the final reply to the message (LMTP: its own reply after the
//! data); a refused one its RCPT reply; `-` stands for a missing enhanced code, and the lines of
//! a multi-line reply are joined with a space. A recipient whose reply never came (the
//! connection was lost after the final dot) gets `- - status unknown: ...`: the server may
//! have the message. A retry goes only to recipients with a temporary failure.
//!
//! The result line carries the final reply (code, then its text as sent, enhanced code
//! included); for a failure the error's reply, or `- <error message>` when there was none (the
//! recipients it stopped then read `- - not delivered (see the result line)`). `unknown` means
//! the connection was lost after the final dot: the server may have the message.
//!
//! Exit status: 0 delivered to every recipient, 1 partial, 2 failed or unknown, and 2 for a
//! usage error. Each error is printed once, in the result line (stderr has only the log).

use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use smtpkit::Reply;
use smtpkit::client::mx::DnsConfig;
use smtpkit::client::{
    BodySource, Client, Envelope, Error, ErrorKind, FileBody, Options, Outcome, Receipt,
    RecipientResult, Status, TlsMode,
};
use smtpkit::dsn::{Notify, Ret, parse_notify, parse_ret};
use smtpkit::server::Protocol;
use smtpkit::tls::ClientTrust;

#[path = "common/args.rs"]
mod args;

/// The examples' command-line convention (`--help` on stdout, `--version`, exit 2 naming a
/// bad flag); `send` keeps its own loop because `--notify` belongs to the `--to` before it.
const CLI: args::Cli = args::Cli {
    name: "send",
    about: "sends one message through a relay or to a domain's MX hosts and reports each recipient",
    usage: "--from A --to B [--notify LIST] [--to C [--notify LIST]]... \
(--relay HOST[:PORT] | --mx DOMAIN) [FLAGS] [FILE]",
    flags: &[
        ("--from ADDR", "envelope sender ('' for the null sender)"),
        ("--to ADDR", "a recipient (repeatable)"),
        (
            "--notify LIST",
            "DSN NOTIFY: NEVER or SUCCESS,FAILURE,DELAY; for the --to before it, else for all",
        ),
        ("--relay HOST[:PORT]", "deliver through this relay"),
        ("--mx DOMAIN", "deliver to the domain's MX hosts"),
        (
            "--dns ADDR:PORT",
            "nameserver for --mx (default: /etc/resolv.conf)",
        ),
        ("--port N", "port (default 25, 465 with --tls implicit)"),
        (
            "--tls MODE",
            "never | opportunistic (default) | required | implicit",
        ),
        ("--ca PEM", "a CA to trust beside the public roots"),
        ("--insecure", "encrypt without verifying the certificate"),
        (
            "--user U --password P",
            "authenticate (the transaction never starts without it)",
        ),
        ("--allow-insecure-auth", "allow credentials without TLS"),
        ("--ret FULL|HDRS", "DSN RET"),
        ("--envid ID", "DSN ENVID"),
        ("--lmtp", "speak LMTP (LHLO, a reply per recipient)"),
        ("--hostname H", "name for EHLO (default: this machine's)"),
        ("--retries N", "retries for temporary failures (default 1)"),
        ("-v, --verbose", "debug logging to stderr"),
        ("FILE", "the message (default: stdin; - is stdin)"),
    ],
    after: "Output: a line per recipient (<rcpt> <code> <enhanced> <text>), then\n\
result: delivered|partial|failed|unknown <code> <text>. Exit 0 delivered, 1 partial, 2 failed.",
};

/// The per-recipient text for a recipient stopped by an error without a server reply (the
/// error is printed once, in the result line).
const NOT_SENT: &str = "- - not delivered (see the result line)";

/// The per-recipient text for a recipient whose reply never came.
const UNKNOWN: &str = "- - status unknown: the connection was lost after the final dot, \
the server may have the message";

/// Where to deliver, as given on the command line.
#[derive(Debug)]
enum Route {
    Relay(String),
    Mx(String),
}

#[derive(Debug)]
struct Args {
    from: String,
    to: Vec<String>,
    route: Route,
    dns: Option<SocketAddr>,
    port: Option<u16>,
    tls: TlsMode,
    ca: Option<PathBuf>,
    insecure: bool,
    ret: Option<Ret>,
    envid: Option<String>,
    /// NOTIFY for all recipients (given before any --to).
    notify_all: Option<Notify>,
    /// NOTIFY per recipient (given after its --to), aligned with `to`.
    notify: Vec<Option<Notify>>,
    login: Option<(String, String)>,
    allow_insecure_auth: bool,
    lmtp: bool,
    hostname: Option<String>,
    retries: usize,
    verbose: bool,
    file: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut from = None;
    let mut to = Vec::new();
    let mut relay = None;
    let mut mx = None;
    let mut dns = None;
    let mut port = None;
    let mut tls = TlsMode::Opportunistic;
    let mut ca = None;
    let mut insecure = false;
    let mut ret = None;
    let mut envid = None;
    let mut notify_all = None;
    let mut notify: Vec<Option<Notify>> = Vec::new();
    let mut user = None;
    let mut password = None;
    let mut allow_insecure_auth = false;
    let mut lmtp = false;
    let mut hostname = None;
    let mut retries = 1;
    let mut verbose = false;
    let mut file: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        // --flag=value is --flag value.
        let (arg, mut inline) = match arg.split_once('=') {
            Some((flag, v)) if flag.starts_with("--") => (flag.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .take()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--from" => from = Some(value("--from")?),
            "--to" => {
                to.push(value("--to")?);
                notify.push(None);
            }
            "--notify" => {
                let v = value("--notify")?;
                let n = parse_notify(&v).ok_or_else(|| {
                    format!("bad --notify {v:?}: want NEVER or a list of SUCCESS,FAILURE,DELAY")
                })?;
                match notify.last_mut() {
                    Some(slot) => *slot = Some(n),
                    None => notify_all = Some(n),
                }
            }
            "--ret" => {
                let v = value("--ret")?;
                ret = Some(
                    parse_ret(&v).ok_or_else(|| format!("bad --ret {v:?}: want FULL or HDRS"))?,
                );
            }
            "--envid" => {
                let v = value("--envid")?;
                if v.is_empty()
                    || v.chars().count() > 100
                    || !v.bytes().all(|b| (33..=126).contains(&b))
                {
                    return Err(format!(
                        "bad --envid {v:?}: want 1 to 100 printable ASCII characters"
                    ));
                }
                envid = Some(v);
            }
            "--insecure" => insecure = true,
            "--relay" => relay = Some(value("--relay")?),
            "--mx" => mx = Some(value("--mx")?),
            "--dns" => {
                let v = value("--dns")?;
                dns = Some(
                    v.parse::<SocketAddr>()
                        .map_err(|_| format!("bad --dns {v:?}: want ADDR:PORT"))?,
                );
            }
            "--port" => {
                let v = value("--port")?;
                port = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or_else(|| format!("bad --port {v:?}"))?,
                );
            }
            "--tls" => {
                tls = match value("--tls")?.as_str() {
                    "never" => TlsMode::Never,
                    "opportunistic" => TlsMode::Opportunistic,
                    "required" => TlsMode::Required,
                    "implicit" => TlsMode::Implicit,
                    v => return Err(format!("bad --tls {v:?}")),
                }
            }
            "--ca" => ca = Some(PathBuf::from(value("--ca")?)),
            "--user" => user = Some(value("--user")?),
            "--password" => password = Some(value("--password")?),
            "--allow-insecure-auth" => allow_insecure_auth = true,
            "--lmtp" => lmtp = true,
            "--hostname" => hostname = Some(value("--hostname")?),
            "--retries" => {
                let v = value("--retries")?;
                retries = v.parse().map_err(|_| format!("bad --retries {v:?}"))?;
            }
            "-v" | "--verbose" => verbose = true,
            "-h" | "--help" => CLI.help(),
            "-V" | "--version" => {
                println!("send {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0)
            }
            "-" => file = Some(PathBuf::from("-")),
            s if s.starts_with('-') => return Err(format!("invalid option '{s}'")),
            s => {
                if file.is_some() {
                    return Err(format!("only one FILE, got another: {s:?}"));
                }
                file = Some(PathBuf::from(s));
            }
        }
        if inline.is_some() {
            return Err(format!("{arg} takes no value"));
        }
    }
    let from = from.ok_or("--from is required (use --from '' for the null sender)")?;
    if to.is_empty() {
        return Err("at least one --to is required".into());
    }
    let route = match (relay, mx) {
        (Some(r), None) => Route::Relay(r),
        (None, Some(d)) => Route::Mx(d),
        (Some(_), Some(_)) => return Err("--relay and --mx exclude each other".into()),
        (None, None) => return Err("--relay HOST[:PORT] or --mx DOMAIN is required".into()),
    };
    if dns.is_some() && matches!(route, Route::Relay(_)) {
        return Err("--dns only applies to --mx".into());
    }
    let login = match (user, password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => return Err("--user and --password go together".into()),
    };
    if file.as_deref() == Some(std::path::Path::new("-")) {
        file = None;
    }
    if insecure && ca.is_some() {
        return Err("--insecure and --ca exclude each other".into());
    }
    Ok(Args {
        from,
        to,
        route,
        dns,
        port,
        tls,
        ca,
        insecure,
        ret,
        envid,
        notify_all,
        notify,
        login,
        allow_insecure_auth,
        lmtp,
        hostname,
        retries,
        verbose,
        file,
    })
}

fn options(a: &Args) -> Result<Options, String> {
    let mut o = match &a.route {
        Route::Relay(r) => Options::relay(r.clone()),
        Route::Mx(d) => Options::mx(d.clone()),
    };
    if let Some(addr) = a.dns {
        o = o.dns(DnsConfig::with_nameserver(addr));
    }
    if let Some(p) = a.port {
        o = o.port(p);
    }
    o = o
        .tls(a.tls)
        .retries(a.retries)
        .allow_insecure_auth(a.allow_insecure_auth)
        .protocol(if a.lmtp {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        });
    if let Some(path) = &a.ca {
        // The CA beside the public roots.
        let trust = ClientTrust::WebPki
            .add_roots_from_pem_file(path)
            .map_err(|e| e.to_string())?;
        o = o.trust(trust);
    }
    if a.insecure {
        o = o.trust(ClientTrust::DangerAcceptAnyCertificate);
    }
    if let Some((u, p)) = &a.login {
        o = o.login(u.clone(), p.clone());
    }
    if let Some(h) = &a.hostname {
        o = o.hostname(h.clone());
    }
    Ok(o)
}

/// `<code> <enhanced or -> <text>`, the text's lines joined with a space.
fn reply_fields(r: &Reply) -> String {
    let enhanced = r
        .enhanced
        .map_or_else(|| "-".to_string(), |e| e.to_string());
    format!("{} {enhanced} {}", r.code, joined(r))
}

/// `<code> <text>` with the text as sent (enhanced code first, when there is one).
fn reply_summary(r: &Reply) -> String {
    match r.enhanced {
        Some(e) => format!("{} {e} {}", r.code, joined(r)),
        None => format!("{} {}", r.code, joined(r)),
    }
}

fn joined(r: &Reply) -> String {
    r.lines().collect::<Vec<_>>().join(" ")
}

/// One recipient's line: its reply, or `status unknown` when its reply never came.
fn recipient_line(r: &RecipientResult) -> String {
    if r.outcome == Outcome::Unknown {
        format!("{} {UNKNOWN}", r.mailbox)
    } else {
        format!("{} {}", r.mailbox, reply_fields(&r.reply))
    }
}

/// The per-recipient lines and the result line for a successful send.
fn report_receipt(receipt: &Receipt) -> (Vec<String>, String, u8) {
    let lines = receipt.recipients.iter().map(recipient_line).collect();
    let (status, code) = match receipt.status() {
        Status::Delivered => ("delivered", 0),
        Status::Partial => ("partial", 1),
    };
    let result = format!("result: {status} {}", reply_summary(&receipt.reply));
    (lines, result, code)
}

/// The per-recipient lines and the result line for a failed send. A recipient the server
/// refused shows its own refusal; the others show what ended the send.
fn report_error(to: &[String], e: &Error) -> (Vec<String>, String) {
    let unknown = e.kind() == ErrorKind::StatusUnknown;
    // The error itself goes to the result line only: the recipients it stopped point there.
    let why = if unknown {
        UNKNOWN.to_string()
    } else {
        match e.reply() {
            Some(r) => reply_fields(r),
            None => NOT_SENT.to_string(),
        }
    };
    let results = e.recipients();
    let lines = to
        .iter()
        .enumerate()
        .map(|(i, rcpt)| match results.get(i) {
            Some(r) if r.outcome == Outcome::Unknown || !r.reply.is_positive() => recipient_line(r),
            Some(r) => format!("{} {why}", r.mailbox),
            None => format!("{rcpt} {why}"),
        })
        .collect();
    let result = if unknown {
        format!(
            "result: unknown - the connection was lost after the final dot, \
             the server may have the message ({e})"
        )
    } else {
        match e.reply() {
            Some(r) => format!("result: failed {}", reply_summary(r)),
            None => format!("result: failed - {e}"),
        }
    };
    (lines, result)
}

/// The body: a file is streamed (and measured once for SIZE=); stdin is read into memory, so
/// that a retry can send it again.
fn read_body(file: Option<&PathBuf>) -> io::Result<Box<dyn BodySource>> {
    match file {
        Some(path) => Ok(Box::new(FileBody::new(path)?)),
        None => {
            let mut message = Vec::new();
            io::stdin().lock().read_to_end(&mut message)?;
            Ok(Box::new(message))
        }
    }
}

/// The envelope with the DSN flags.
fn envelope(a: &Args) -> Result<Envelope, Error> {
    let to: Vec<&str> = a.to.iter().map(String::as_str).collect();
    let mut env = Envelope::new(&a.from, &to)?;
    env.ret = a.ret;
    env.envid = a.envid.clone();
    for (r, n) in env.to.iter_mut().zip(&a.notify) {
        r.notify = n.or(a.notify_all);
    }
    Ok(env)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => CLI.fail(e),
    };
    let level = if args.verbose {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let _ = simplelog::TermLogger::init(
        level,
        simplelog::Config::default(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    );
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("send: {e}");
            return ExitCode::from(2);
        }
    };
    let body = match read_body(args.file.as_ref()) {
        Ok(b) => b,
        Err(e) => {
            let what = args
                .file
                .as_ref()
                .map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
            eprintln!("send: cannot read {what}: {e}");
            return ExitCode::from(2);
        }
    };
    let result =
        envelope(&args).and_then(|env| Client::new(opts)?.send_envelope(&env, body.as_ref()));
    // The error goes to the result line only (not also to the log).
    let (lines, result, code) = match result {
        Ok(receipt) => report_receipt(&receipt),
        Err(e) => {
            let (lines, result) = report_error(&args.to, &e);
            (lines, result, 2)
        }
    };
    for line in lines {
        println!("{line}");
    }
    println!("{result}");
    ExitCode::from(code)
}
