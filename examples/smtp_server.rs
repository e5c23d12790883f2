//! A mail catcher for development: accepts every message and stores it in a Maildir.
//!
//! ```text
//! cargo run --release --example smtp_server -- [--listen 127.0.0.1:2525] [--maildir ./maildir]
//!     [--hostname NAME] [--max-size BYTES] [--max-recipients N] [--lmtp]
//!     [--bare-lf reject|normalize|strip|allow] [--timeout SECS]
//!     [--refuse ADDR]... [--defer ADDR]... [--fail-data ADDR]... [-v]
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
use smtpkit::server::{BareLinePolicy, ConnInfo, Envelope, Handler, Protocol, Server};

const USAGE: &str = "usage: smtp_server [--listen ADDR] [--maildir DIR] [--hostname NAME] \
[--max-size BYTES] [--max-recipients N] [--lmtp] [--bare-lf reject|normalize|strip|allow] \
[--timeout SECS] [--refuse ADDR]... [--defer ADDR]... [--fail-data ADDR]... [-v]";

#[derive(Debug, Default)]
struct Options {
    listen: String,
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
    verbose: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:2525".into(),
        maildir: PathBuf::from("./maildir"),
        ..Options::default()
    };
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--listen" => o.listen = value("--listen")?,
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
            "-v" | "--verbose" => o.verbose = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown flag {other:?}")),
        }
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
    let server = match b.bind(opts.listen.as_str()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smtp_server: cannot listen on {}: {e}", opts.listen);
            return ExitCode::FAILURE;
        }
    };
    log::info!(
        "smtp_server listening on {}, storing mail in {}",
        server.local_addr(),
        opts.maildir.display()
    );
    let opts = Arc::new(opts);
    let counter = Arc::new(AtomicU64::new(0));
    let result = server.serve(move |_conn: &ConnInfo| Catcher {
        opts: Arc::clone(&opts),
        counter: Arc::clone(&counter),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtp_server: {e}");
            ExitCode::FAILURE
        }
    }
}
