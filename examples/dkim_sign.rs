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

use std::io::{Read, Write};
use std::process::ExitCode;

use smtpkit::dkim::{Algorithm, Signer, SigningKey, parse_canonicalization};

const USAGE: &str = "usage: dkim_sign --key PEM --domain D --selector S \
[--algorithm rsa-sha256|ed25519-sha256] [--canonicalization relaxed/relaxed] \
[--headers From:To:...] [--oversign From:To:... | --no-oversign] FILE|-";

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
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut args = Args::default();
    let mut argv = argv.peekable();
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        if arg == "--no-oversign" {
            args.oversign = Some(String::new());
            continue;
        }
        if arg == "-" || !arg.starts_with("--") {
            if args.file.replace(arg).is_some() {
                return Err("more than one input file given".into());
            }
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let slot = match name.as_str() {
            "--key" => &mut args.key,
            "--domain" => &mut args.domain,
            "--selector" => &mut args.selector,
            "--algorithm" => &mut args.algorithm,
            "--canonicalization" => &mut args.canonicalization,
            "--headers" => &mut args.headers,
            "--oversign" => &mut args.oversign,
            _ => return Err(format!("unknown option {name}")),
        };
        let value = match inline {
            Some(v) => v,
            None => argv.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        *slot = Some(value);
    }
    Ok(Parsed::Run(args))
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
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("dkim_sign: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(signed) => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(&signed).and_then(|()| out.flush()) {
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
