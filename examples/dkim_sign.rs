//! Signs a message with DKIM and prints it, the `DKIM-Signature` header field prepended.
//!
//! ```text
//! dkim_sign --key PEM --domain D --selector S [--algorithm rsa-sha256|ed25519-sha256]
//!           [--canonicalization relaxed/relaxed] [--headers From:To:...]
//!           [--oversign From:To:... | --no-oversign] FILE|-
//! ```
//!
//! The algorithm comes from the key (`--algorithm`, when given, must match it). The
//! canonicalisation defaults to relaxed/relaxed; a single name means that name for the header
//! and `simple` for the body (RFC 6376 §3.5). Bare LF (or CR) line endings in the input become
//! CRLF before signing. Errors go to stderr with exit status 2.
//!
//! Oversigning (RFC 6376 §8.15) is on by default for From, To, Cc, Subject, Date, Reply-To
//! and the MIME header fields that are signed: each is listed in `h=` once more than it
//! occurs, so that a field added later above the signed ones (a second `From:`) breaks the
//! signature. `--oversign LIST` replaces that set (an empty LIST turns it off, as
//! `--no-oversign` does).
//!
//! `dkim_sign --key PEM --dns-record --domain D --selector S` prints the TXT record to
//! publish for the key (`S._domainkey.D. IN TXT "v=DKIM1; k=...; p=..."`).

#[path = "common/args.rs"]
mod args;

use std::io::{Read, Write};
use std::process::ExitCode;

use args::{Cli, Long, Value, ValueExt, string};

use smtpkit::dkim::{Algorithm, Signer, SigningKey, parse_canonicalization};

const CLI: Cli = Cli {
    name: "dkim_sign",
    about: "signs a message with DKIM and prints it with its DKIM-Signature header",
    usage: "--key PEM --domain D --selector S [FLAGS] FILE|-   or   --key PEM --dns-record [--domain D --selector S]",
    flags: &[
        (
            "--key PEM",
            "the private key: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8)",
        ),
        ("--domain D", "the signing domain (d=)"),
        ("--selector S", "the selector (s=)"),
        (
            "--algorithm ALG",
            "rsa-sha256 | ed25519-sha256; must match the key (default: the key's)",
        ),
        (
            "--canonicalization C",
            "header/body, simple or relaxed (default relaxed/relaxed;\none name means NAME/simple)",
        ),
        (
            "--headers LIST",
            "the header fields to sign, colon-separated (default: From, To,\nCc, Subject, Date, Message-ID, ... that are present)",
        ),
        (
            "--oversign LIST",
            "fields listed once more than they occur (an empty LIST: none)",
        ),
        ("--no-oversign", "no oversigning"),
        (
            "--dns-record",
            "print the TXT record to publish for the key, and exit",
        ),
        (
            "FILE",
            "the message (- for stdin); bare LF line endings become CRLF",
        ),
    ],
    after: "Errors go to stderr with exit status 2.",
};

#[derive(Default)]
struct Args {
    key: Option<String>,
    domain: Option<String>,
    selector: Option<String>,
    algorithm: Option<String>,
    canonicalization: Option<String>,
    headers: Option<String>,
    oversign: Option<String>,
    file: Option<String>,
    dns_record: bool,
}

fn parse_args(p: &mut args::Parser) -> Result<Args, args::Error> {
    let mut a = Args::default();
    while let Some(arg) = p.next()? {
        match arg {
            Long("key") => a.key = Some(string(p)?),
            Long("domain") => a.domain = Some(string(p)?),
            Long("selector") => a.selector = Some(string(p)?),
            Long("algorithm") => a.algorithm = Some(string(p)?),
            Long("canonicalization") => a.canonicalization = Some(string(p)?),
            Long("headers") => a.headers = Some(string(p)?),
            Long("oversign") => a.oversign = Some(string(p)?),
            Long("no-oversign") => a.oversign = Some(String::new()),
            Long("dns-record") => a.dns_record = true,
            Value(v) => {
                if a.file.replace(v.string()?).is_some() {
                    return Err("more than one input file given".into());
                }
            }
            other => CLI.other(other)?,
        }
    }
    Ok(a)
}

/// The record as a zone-file line, split into strings of at most 255 octets (RFC 1035's
/// limit; verifiers concatenate them): `S._domainkey.D. IN TXT "..." "..."`. Without a
/// domain and selector, only the strings.
fn dns_record(args: &Args) -> Result<Vec<u8>, String> {
    let key_path = args.key.as_deref().ok_or("--key is required")?;
    let key = SigningKey::from_pem_file(key_path).map_err(|e| format!("{key_path}: {e}"))?;
    let record = key.dns_txt_record();
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    let line = match (&args.domain, &args.selector) {
        (Some(d), Some(s)) => format!(
            "{s}._domainkey.{}. IN TXT {}\n",
            d.trim_end_matches('.'),
            strings.join(" ")
        ),
        _ => format!("{}\n", strings.join(" ")),
    };
    Ok(line.into_bytes())
}

fn run(args: Args) -> Result<Vec<u8>, String> {
    let key_path = args.key.ok_or("--key is required")?;
    let domain = args.domain.ok_or("--domain is required")?;
    let selector = args.selector.ok_or("--selector is required")?;
    let file = args.file.ok_or("no input FILE (use - for stdin)")?;

    let key = SigningKey::from_pem_file(&key_path).map_err(|e| format!("{key_path}: {e}"))?;
    if let Some(name) = &args.algorithm {
        let wanted = Algorithm::from_name(name)
            .ok_or_else(|| format!("unknown algorithm {name:?} (rsa-sha256 or ed25519-sha256)"))?;
        if wanted != key.algorithm() {
            return Err(format!(
                "--algorithm {wanted} does not match the key in {key_path}, which is {}",
                key.algorithm()
            ));
        }
    }
    let mut signer = Signer::new(&domain, &selector, key);
    if let Some(c) = &args.canonicalization {
        let (header, body) = parse_canonicalization(c).ok_or_else(|| {
            format!("bad --canonicalization {c:?} (simple|relaxed[/simple|relaxed])")
        })?;
        signer = signer.canonicalization(header, body);
    }
    if let Some(h) = &args.headers {
        let names: Vec<&str> = h.split(':').map(str::trim).collect();
        signer = signer.headers(&names);
    }
    if let Some(o) = &args.oversign {
        // An empty list turns oversigning off; an empty name in a list is an error.
        let names: Vec<&str> = if o.trim().is_empty() {
            Vec::new()
        } else {
            o.split(':').map(str::trim).collect()
        };
        signer = signer.oversign(&names);
    }

    let mut message = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut message)
            .map_err(|e| format!("reading stdin: {e}"))?;
    } else {
        message = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    }
    signer.sign(&message).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = CLI.parse(parse_args);
    let result = if args.dns_record {
        dns_record(&args)
    } else {
        run(args)
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&out).and_then(|()| stdout.flush()) {
                eprintln!("dkim_sign: writing stdout: {e}");
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dkim_sign: {e}");
            ExitCode::from(2)
        }
    }
}
