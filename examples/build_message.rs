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

#[path = "common/args.rs"]
mod args;

use std::process::ExitCode;

use args::{Cli, Long, string};
use smtpkit::client::{Client, Options};
use smtpkit::mime::builder::MessageBuilder;

const CLI: Cli = Cli {
    name: "build_message",
    about: "builds a MIME message and prints it, or sends it through a relay",
    usage: "--from ADDR --to LIST [--subject S] [--text TEXT] [--html HTML] [FLAGS]",
    flags: &[
        (
            "--from ADDR",
            "the author, e.g. \"Alice <alice@example.org>\"",
        ),
        ("--to LIST", "recipients, comma-separated (repeatable)"),
        ("--cc LIST", "copy recipients (repeatable)"),
        (
            "--bcc LIST",
            "blind copy: in the envelope only (repeatable)",
        ),
        ("--subject S", "the subject"),
        ("--text TEXT", "the text/plain body"),
        (
            "--html HTML",
            "the text/html body (with --text: multipart/alternative)",
        ),
        ("--attach FILE", "attach a file (repeatable)"),
        (
            "--inline CID=FILE",
            "an inline part for the HTML, cid:CID (repeatable)",
        ),
        (
            "--send HOST:PORT",
            "send it through this relay (opportunistic TLS) instead of printing",
        ),
    ],
    after: "",
};

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
    let (b, send) = CLI.parse(parse_args);
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

fn read(path: &str) -> Result<Vec<u8>, args::Error> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}").into())
}

fn parse_args(p: &mut args::Parser) -> Result<(MessageBuilder, Option<String>), args::Error> {
    let mut b = MessageBuilder::new();
    let mut send = None;
    while let Some(arg) = p.next()? {
        b = match arg {
            Long("from") => b.from(&string(p)?),
            Long("to") => b.to(&string(p)?),
            Long("cc") => b.cc(&string(p)?),
            Long("bcc") => b.bcc(&string(p)?),
            Long("subject") => b.subject(&string(p)?),
            Long("text") => b.text(&string(p)?),
            Long("html") => b.html(&string(p)?),
            Long("attach") => {
                let path = string(p)?;
                let data = read(&path)?;
                let name = std::path::Path::new(&path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(path.clone());
                b.attach(&name, content_type(&path), data)
            }
            Long("inline") => {
                let v = string(p)?;
                let (cid, path) = v.split_once('=').ok_or("--inline wants CID=FILE")?;
                let data = read(path)?;
                b.inline(cid, content_type(path), data)
            }
            Long("send") => {
                send = Some(string(p)?);
                b
            }
            other => {
                CLI.other(other)?;
                b
            }
        };
    }
    Ok((b, send))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("build_message: {e}");
            ExitCode::from(2)
        }
    }
}
