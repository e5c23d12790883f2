//! A mail catcher for development: accepts every message and stores it in a Maildir.
//!
//! ```text
//! cargo run --release --example smtp_server -- [--listen 127.0.0.1:2525]... [--maildir ./maildir]
//!     [--hostname NAME] [--max-size BYTES] [--max-recipients N] [--lmtp]
//!     [--bare-lf reject|normalize|strip|allow] [--timeout SECS]
//!     [--refuse ADDR]... [--defer ADDR]... [--fail-data ADDR]...
//!     [--tls-cert PEM --tls-key PEM] [--implicit-tls ADDR] [--require-tls]
//!     [--auth USER:PASS]... [--require-auth] [--allow-insecure-auth]
//!     [--chunking] [--dsn] [--proxy-protocol --proxy-trusted CIDR...] [--stats-every SECS] [-v]
//! ```
//!
//! Each message is written to `tmp/` and renamed into `new/` before the `250` reply, which
//! names the file. The file holds `Return-Path: <from>`, one `X-Original-To: <rcpt>` per
//! recipient the message was accepted for, then the message exactly as received (un-stuffed).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smtpkit::Reply;
use smtpkit::address::Mailbox;
use smtpkit::command::Param;
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{
    BareLinePolicy, ConnInfo, Envelope, Handler, ListenerOptions, Protocol, Server,
};
use smtpkit::tls::ServerTls;

const USAGE: &str = "usage: smtp_server [--listen ADDR]... [--maildir DIR] [--hostname NAME] \
[--max-size BYTES] [--max-recipients N] [--lmtp] [--bare-lf reject|normalize|strip|allow] \
[--timeout SECS] [--refuse ADDR]... [--defer ADDR]... [--fail-data ADDR]... \
[--tls-cert PEM --tls-key PEM] [--implicit-tls ADDR] [--require-tls] \
[--auth USER:PASS]... [--require-auth] [--allow-insecure-auth] \
[--chunking] [--dsn] [--proxy-protocol --proxy-trusted CIDR...] [--stats-every SECS] [-v]";

#[derive(Debug, Default)]
struct Options {
    listen: Vec<String>,
    maildir: PathBuf,
    hostname: Option<String>,
    max_size: Option<u64>,
    max_recipients: Option<usize>,
    lmtp: bool,
    bare_lf: BareLinePolicy,
    timeout: Option<u64>,
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

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        listen: Vec::new(),
        maildir: PathBuf::from("./maildir"),
        ..Options::default()
    };
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--listen" => o.listen.push(value("--listen")?),
            "--chunking" => o.chunking = true,
            "--dsn" => o.dsn = true,
            "--proxy-protocol" => o.proxy_protocol = true,
            "--proxy-trusted" => o.proxy_trusted.push(value("--proxy-trusted")?),
            "--stats-every" => {
                let v = value("--stats-every")?;
                o.stats_every = Some(
                    v.parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("bad --stats-every {v:?}"))?,
                );
            }
            "--maildir" => o.maildir = PathBuf::from(value("--maildir")?),
            "--hostname" => o.hostname = Some(value("--hostname")?),
            "--max-size" => {
                let v = value("--max-size")?;
                o.max_size = Some(v.parse().map_err(|_| format!("bad --max-size {v:?}"))?);
            }
            "--max-recipients" => {
                let v = value("--max-recipients")?;
                o.max_recipients = Some(
                    v.parse()
                        .map_err(|_| format!("bad --max-recipients {v:?}"))?,
                );
            }
            "--lmtp" => o.lmtp = true,
            "--bare-lf" => {
                o.bare_lf = match value("--bare-lf")?.as_str() {
                    "reject" => BareLinePolicy::Reject,
                    "normalize" => BareLinePolicy::Normalize,
                    "strip" => BareLinePolicy::Strip,
                    "allow" => BareLinePolicy::Allow,
                    v => return Err(format!("bad --bare-lf {v:?}")),
                }
            }
            "--timeout" => {
                let v = value("--timeout")?;
                o.timeout = Some(
                    v.parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("bad --timeout {v:?}"))?,
                );
            }
            "--refuse" => o.refuse.push(value("--refuse")?.to_ascii_lowercase()),
            "--defer" => o.defer.push(value("--defer")?.to_ascii_lowercase()),
            "--fail-data" => o.fail_data.push(value("--fail-data")?.to_ascii_lowercase()),
            "--tls-cert" => o.tls_cert = Some(PathBuf::from(value("--tls-cert")?)),
            "--tls-key" => o.tls_key = Some(PathBuf::from(value("--tls-key")?)),
            "--implicit-tls" => o.implicit_tls = Some(value("--implicit-tls")?),
            "--require-tls" => o.require_tls = true,
            "--auth" => {
                let v = value("--auth")?;
                let (user, pass) = v
                    .split_once(':')
                    .ok_or_else(|| format!("bad --auth {v:?}: want USER:PASS"))?;
                o.users.push((user.to_string(), pass.to_string()));
            }
            "--require-auth" => o.require_auth = true,
            "--allow-insecure-auth" => o.allow_insecure_auth = true,
            "-v" | "--verbose" => o.verbose = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown flag {other:?}")),
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
    if o.require_auth && o.users.is_empty() {
        return Err("--require-auth needs at least one --auth USER:PASS".into());
    }
    if o.require_auth && o.tls_cert.is_none() && !o.allow_insecure_auth {
        return Err("--require-auth needs --tls-cert/--tls-key or --allow-insecure-auth (AUTH is never offered otherwise)".into());
    }
    Ok(o)
}

/// One handler per connection; the options are shared.
struct Catcher {
    opts: Arc<Options>,
    counter: Arc<AtomicU64>,
}

fn matches(list: &[String], m: &Mailbox) -> bool {
    let s = m.to_string().to_ascii_lowercase();
    list.contains(&s)
}

impl Catcher {
    /// Streams the body into `tmp/`, then renames it into `new/`. Returns the file name.
    fn store(&self, env: &Envelope, rcpts: &[&Mailbox], data: &mut dyn Read) -> io::Result<String> {
        let name = self.unique_name();
        let tmp = self.opts.maildir.join("tmp").join(&name);
        let result = write_message(&tmp, env, rcpts, data);
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, self.opts.maildir.join("new").join(&name))?;
        Ok(name)
    }

    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{}P{}Q{n}.smtpkit",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id()
        )
    }
}

fn write_message(
    path: &Path,
    env: &Envelope,
    rcpts: &[&Mailbox],
    data: &mut dyn Read,
) -> io::Result<()> {
    let file = File::create(path)?;
    let mut w = BufWriter::with_capacity(64 * 1024, file);
    let from = env.from.as_ref().map(|m| m.to_string()).unwrap_or_default();
    write!(w, "Return-Path: <{from}>\r\n")?;
    for r in rcpts {
        write!(w, "X-Original-To: <{r}>\r\n")?;
    }
    // A read error (client gone, body rejected) aborts: no partial message is kept.
    io::copy(data, &mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

impl Handler for Catcher {
    fn on_auth(&mut self, credentials: &Credentials) -> Result<(), Reply> {
        let known =
            self.opts.users.iter().any(|(user, pass)| {
                credentials.username() == user && credentials.check_password(pass)
            });
        if known {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }

    fn on_rcpt(&mut self, to: &Mailbox, _params: &[Param], _env: &Envelope) -> Result<(), Reply> {
        if matches(&self.opts.refuse, to) {
            return Err(Reply::NO_SUCH_USER);
        }
        if matches(&self.opts.defer, to) {
            return Err(Reply::MAILBOX_BUSY);
        }
        Ok(())
    }

    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let rcpts: Vec<&Mailbox> = env.recipients.iter().map(|r| &r.mailbox).collect();
        match self.store(env, &rcpts, data) {
            Ok(name) => Ok(Reply::QUEUED.with_text(format!("OK: queued as {name}"))),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Reply::TRANSACTION_FAILED),
            Err(e) => {
                log::warn!("cannot store message: {e}");
                Err(Reply::TRY_AGAIN)
            }
        }
    }

    fn on_data_lmtp(&mut self, env: &Envelope, data: &mut dyn Read) -> Vec<Result<Reply, Reply>> {
        let failed = |m: &Mailbox| matches(&self.opts.fail_data, m);
        let rcpts: Vec<&Mailbox> = env
            .recipients
            .iter()
            .map(|r| &r.mailbox)
            .filter(|m| !failed(m))
            .collect();
        let stored = if rcpts.is_empty() {
            io::copy(data, &mut io::sink()).map(|_| String::new())
        } else {
            self.store(env, &rcpts, data)
        };
        env.recipients
            .iter()
            .map(|r| match &stored {
                _ if failed(&r.mailbox) => Err(Reply::with(452, (4, 2, 2), "Mailbox full")),
                Ok(name) => Ok(Reply::QUEUED.with_text(format!("OK: queued as {name}"))),
                Err(_) => Err(Reply::TRY_AGAIN),
            })
            .collect()
    }
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("smtp_server: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let level = if opts.verbose {
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
    for sub in ["tmp", "new", "cur"] {
        if let Err(e) = fs::create_dir_all(opts.maildir.join(sub)) {
            eprintln!("smtp_server: cannot create {}: {e}", opts.maildir.display());
            return ExitCode::FAILURE;
        }
    }
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
    if let Some(t) = opts.timeout {
        let t = Duration::from_secs(t);
        b = b.command_timeout(t).data_block_timeout(t);
    }
    if let (Some(cert), Some(key)) = (&opts.tls_cert, &opts.tls_key) {
        // Certificate problems show now, at startup, not at the first handshake.
        match ServerTls::from_pem_files(cert, key) {
            Ok(tls) => b = b.tls(tls).require_tls(opts.require_tls),
            Err(e) => {
                eprintln!("smtp_server: {e}");
                return ExitCode::FAILURE;
            }
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
    let mut server = match b.bind_with(opts.listen[0].as_str(), lo) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smtp_server: cannot listen on {}: {e}", opts.listen[0]);
            return ExitCode::FAILURE;
        }
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
            Err(e) => {
                eprintln!("smtp_server: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
    }
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
    let opts = Arc::new(opts);
    let counter = Arc::new(AtomicU64::new(0));
    let stats_every = opts.stats_every;
    let handle = server.spawn(move |_conn: &ConnInfo| Catcher {
        opts: Arc::clone(&opts),
        counter: Arc::clone(&counter),
    });
    let handle = match handle {
        Ok(h) => h,
        Err(e) => {
            eprintln!("smtp_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match stats_every {
        // The counters, for an operator's eyes or a log scraper.
        Some(secs) => loop {
            std::thread::sleep(Duration::from_secs(secs));
            log::info!("stats {:?}", handle.stats());
        },
        None => handle.join(),
    }
    ExitCode::SUCCESS
}
