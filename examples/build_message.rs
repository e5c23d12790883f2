//! Builds a message with the MIME builder and prints it (or sends it).
//!
//! ```text
//! cargo run --example build_message -- --from "Alice <alice@example.org>" --to bob@example.net \
//!     --subject "Report" --text "Hello" [--html "<p>Hello</p>"] [--attach FILE]... \
//!     [--inline CID=FILE]... [--send HOST:PORT]
//! ```
//!
//! Without `--send` the message goes to stdout; with it, smtpkit's client delivers it through
//! that relay (opportunistic TLS) and prints one line per recipient.

use std::process::ExitCode;

use smtpkit::client::{Client, Options};
use smtpkit::mime::builder::MessageBuilder;

const USAGE: &str = "usage: build_message --from ADDR --to LIST... [--cc LIST]... [--bcc LIST]... \
[--subject S] [--text TEXT] [--html HTML] [--attach FILE]... [--inline CID=FILE]... [--send HOST:PORT]";

/// A content type from a file name (enough for an example).
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        _ => "application/octet-stream",
    }
}

fn run() -> Result<ExitCode, String> {
    let mut b = MessageBuilder::new();
    let mut send = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        b = match flag.as_str() {
            "--from" => b.from(&value()?),
            "--to" => b.to(&value()?),
            "--cc" => b.cc(&value()?),
            "--bcc" => b.bcc(&value()?),
            "--subject" => b.subject(&value()?),
            "--text" => b.text(&value()?),
            "--html" => b.html(&value()?),
            "--attach" => {
                let path = value()?;
                let data = std::fs::read(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
                let name = std::path::Path::new(&path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(path.clone());
                b.attach(&name, content_type(&path), data)
            }
            "--inline" => {
                let v = value()?;
                let (cid, path) = v.split_once('=').ok_or("--inline wants CID=FILE")?;
                let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                b.inline(cid, content_type(path), data)
            }
            "--send" => {
                send = Some(value()?);
                b
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown flag {other:?}")),
        };
    }
    let built = b.build().map_err(|e| e.to_string())?;
    let Some(relay) = send else {
        use std::io::Write;
        std::io::stdout()
            .write_all(&built.message)
            .map_err(|e| e.to_string())?;
        return Ok(ExitCode::SUCCESS);
    };
    let client = Client::new(Options::relay(relay)).map_err(|e| e.to_string())?;
    match client.send(&built.email()) {
        Ok(receipt) => {
            for r in &receipt.recipients {
                println!("{} {}", r.mailbox, r.reply);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("failed: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("build_message: {e}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
