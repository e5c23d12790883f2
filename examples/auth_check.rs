//! Is this mail authentic? Checks a message as a receiving server would: DKIM signatures, SPF
//! for the MAIL FROM and HELO identities, DMARC for the From domain.
//!
//! ```text
//! cargo run --example auth_check -- --ip 192.0.2.1 --helo mail.example.org \
//!     --mail-from bounce@example.org [--dns 127.0.0.1:53] [--authserv-id mx.example.net] message.eml
//! ```
//!
//! Prints the `Authentication-Results:` header the server would add, then one JSON object per
//! check (`{"method":"dkim","result":"pass",...}`, then `spf`, then `dmarc`). Exit status 0
//! whatever the results; 2 for a bad flag or an unreadable file. Bare LF line endings in the
//! file are read as CRLF.

#[path = "common/args.rs"]
mod args;
#[path = "common/resolver.rs"]
mod resolver;

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use args::{Cli, Long, Value, ValueExt, number, string};
use smtpkit::auth_check::{Checker, Identity};

const CLI: Cli = Cli {
    name: "auth_check",
    about: "checks a message's DKIM signatures, SPF and DMARC; prints Authentication-Results",
    usage: "--ip IP --helo NAME --mail-from ADDR [--dns ADDR:PORT] [--authserv-id ID] FILE|-",
    flags: &[
        ("--ip IP", "the client's address (required)"),
        ("--helo NAME", "the HELO/EHLO name (required)"),
        (
            "--mail-from ADDR",
            "the MAIL FROM address (required; \"\" or <> for the null sender)",
        ),
        (
            "--dns ADDR:PORT",
            "the nameserver to ask (default: those of /etc/resolv.conf)",
        ),
        (
            "--authserv-id ID",
            "the server name in the header (default: this host's name)",
        ),
        ("FILE", "the message (- for stdin)"),
    ],
    after: "Prints the Authentication-Results header, then a JSON line per check (dkim..., spf, \
dmarc).\nExit status 0 whatever the results, 2 for bad flags or an unreadable file.",
};

struct Options {
    ip: IpAddr,
    helo: String,
    mail_from: String,
    dns: Option<SocketAddr>,
    authserv_id: Option<String>,
    path: String,
}

fn parse_args(p: &mut args::Parser) -> Result<Options, args::Error> {
    let (mut ip, mut helo, mut mail_from, mut dns, mut id, mut path) =
        (None, None, None, None, None, None);
    while let Some(arg) = p.next()? {
        match arg {
            Long("ip") => ip = Some(number::<IpAddr>(p, "--ip")?),
            Long("helo") => helo = Some(string(p)?),
            Long("mail-from") => {
                let v = string(p)?;
                let v = v.trim();
                let v = v
                    .strip_prefix('<')
                    .and_then(|v| v.strip_suffix('>'))
                    .unwrap_or(v);
                mail_from = Some(v.to_string());
            }
            Long("dns") => dns = Some(number::<SocketAddr>(p, "--dns")?),
            Long("authserv-id") => id = Some(string(p)?),
            Value(v) if path.is_none() => path = Some(v.string()?),
            other => CLI.other(other)?,
        }
    }
    Ok(Options {
        ip: ip.ok_or("missing --ip")?,
        helo: helo.ok_or("missing --helo")?,
        mail_from: mail_from.ok_or("missing --mail-from")?,
        dns,
        authserv_id: id,
        path: path.ok_or("missing FILE")?,
    })
}

/// Reads bare LF line endings as CRLF (DKIM hashes CRLF lines; files saved on Unix often
/// have LF), streaming.
struct Crlf<R> {
    inner: R,
    last: u8,
    pending_lf: bool,
}

impl<R: Read> Read for Crlf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending_lf {
            self.pending_lf = false;
            self.last = b'\n';
            buf[0] = b'\n';
            return Ok(1);
        }
        // Read at most half of `buf`, so every LF can become two bytes (a one-byte `buf`
        // gets the LF on the next read).
        let half = (buf.len() / 2).max(1);
        let mut tmp = vec![0u8; half];
        let n = self.inner.read(&mut tmp)?;
        let mut w = 0;
        for &b in &tmp[..n] {
            if b == b'\n' && self.last != b'\r' {
                if w + 1 < buf.len() {
                    buf[w] = b'\r';
                    buf[w + 1] = b'\n';
                    w += 2;
                } else {
                    buf[w] = b'\r';
                    w += 1;
                    self.pending_lf = true;
                    self.last = b'\r';
                    continue;
                }
            } else {
                buf[w] = b;
                w += 1;
            }
            self.last = b;
        }
        Ok(w)
    }
}

fn main() -> ExitCode {
    let opts = CLI.parse(parse_args);
    let input: Box<dyn Read> = if opts.path == "-" {
        Box::new(io::stdin().lock())
    } else {
        match File::open(&opts.path) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("auth_check: cannot read {}: {e}", opts.path);
                return ExitCode::from(2);
            }
        }
    };
    let mut checker = Checker::with_resolver(Arc::from(resolver::resolver(opts.dns)));
    if let Some(id) = opts.authserv_id {
        checker = checker.authserv_id(id);
    }
    let identity = Identity::new(opts.ip, &opts.helo, &opts.mail_from);
    let message = Crlf {
        inner: input,
        last: 0,
        pending_lf: false,
    };
    let results = match checker.check(&identity, message) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("auth_check: cannot read {}: {e}", opts.path);
            return ExitCode::from(2);
        }
    };
    let mut out = io::stdout().lock();
    let mut text = results.header().replace("\r\n", "\n");
    for line in results.json_lines() {
        text.push_str(&line);
        text.push('\n');
    }
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}
