//! Dumps the MIME tree of a message as one JSON object.
//!
//! ```text
//! cargo run --example mime_dump -- message.eml
//! cargo run --example mime_dump < message.eml        # or FILE = "-"
//! ```
//!
//! Each part is an object with `content_type` (`"text/plain"`), `params` (object),
//! `disposition` (string, or null when the part has no Content-Disposition header),
//! `disposition_params` (object) and `headers` (array of `[name, decoded value]`, the part's
//! own headers only). Text leaves add `text` (decoded, line endings as decoded); other leaves
//! add `size` and `sha256` (hex, of the decoded bytes); multiparts add `parts`; a nested
//! message (`message/rfc822`) adds `parts` with exactly one element, the nested message.
//! A message that cannot be read at all prints `{"error": "..."}` and exits with status 1.
//! `--pretty` indents the JSON; `--help` lists the flags.

#[path = "common/args.rs"]
mod args;
#[path = "common/json.rs"]
mod json;

use std::io::Read;
use std::process::ExitCode;

use args::{Cli, Long, Value, ValueExt};

use smtpkit::mime::{self, Body, Part};

fn json_params(out: &mut String, params: &[(String, String)]) {
    out.push('{');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        json::string(out, name);
        out.push_str(": ");
        json::string(out, value);
    }
    out.push('}');
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn json_part(out: &mut String, part: &Part) {
    out.push_str("{\"content_type\": ");
    json::string(out, &part.content_type.essence());
    out.push_str(", \"params\": ");
    json_params(out, &part.content_type.params);
    out.push_str(", \"disposition\": ");
    match &part.disposition {
        Some(d) => json::string(out, &d.kind),
        None => out.push_str("null"),
    }
    out.push_str(", \"disposition_params\": ");
    json_params(
        out,
        part.disposition.as_ref().map_or(&[][..], |d| &d.params),
    );
    out.push_str(", \"headers\": [");
    for (i, h) in part.headers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('[');
        json::string(out, &h.name);
        out.push_str(", ");
        json::string(out, &h.value);
        out.push(']');
    }
    out.push(']');
    match &part.body {
        Body::Text(text) => {
            out.push_str(", \"text\": ");
            json::string(out, text);
        }
        Body::Bytes(data) => {
            out.push_str(&format!(
                ", \"size\": {}, \"sha256\": \"{}\"",
                data.len(),
                sha256_hex(data)
            ));
        }
        Body::Multipart(parts) => {
            out.push_str(", \"parts\": [");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_part(out, p);
            }
            out.push(']');
        }
        Body::Message(inner) => {
            out.push_str(", \"parts\": [");
            json_part(out, inner);
            out.push(']');
        }
    }
    out.push('}');
}

const CLI: Cli = Cli {
    name: "mime_dump",
    about: "prints the MIME tree of a message as one JSON object",
    usage: "[--pretty] [FILE|-]",
    flags: &[
        ("--pretty", "indent the JSON (two spaces per level)"),
        ("FILE", "the message (default: stdin; - is stdin too)"),
    ],
    after: "Each part: content_type, params, disposition (null without the header),\n\
disposition_params, headers ([name, decoded value]), then text, or size and sha256, or parts.\n\
A message that cannot be read prints {\"error\": \"...\"} and exits 1.",
};

struct Options {
    pretty: bool,
    path: Option<String>,
}

fn parse_args(p: &mut args::Parser) -> Result<Options, args::Error> {
    let mut o = Options {
        pretty: false,
        path: None,
    };
    while let Some(arg) = p.next()? {
        match arg {
            Long("pretty") => o.pretty = true,
            Value(v) if o.path.is_none() => o.path = Some(v.string()?),
            other => CLI.other(other)?,
        }
    }
    Ok(o)
}

fn print(json: &str, pretty: bool) {
    if pretty {
        println!("{}", json::pretty(json));
    } else {
        println!("{json}");
    }
}

fn main() -> ExitCode {
    let opts = CLI.parse(parse_args);
    let mut data = Vec::new();
    let read = match opts.path.as_deref() {
        None | Some("-") => std::io::stdin().read_to_end(&mut data).map(|_| ()),
        Some(p) => std::fs::read(p).map(|d| data = d),
    };
    let mut out = String::new();
    if let Err(e) = read {
        out.push_str("{\"error\": ");
        json::string(&mut out, &format!("cannot read input: {e}"));
        out.push('}');
        print(&out, opts.pretty);
        return ExitCode::FAILURE;
    }
    match mime::decode(&data) {
        Ok(part) => {
            json_part(&mut out, &part);
            print(&out, opts.pretty);
            ExitCode::SUCCESS
        }
        Err(e) => {
            out.push_str("{\"error\": ");
            json::string(&mut out, &e.to_string());
            out.push('}');
            print(&out, opts.pretty);
            ExitCode::FAILURE
        }
    }
}
