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

use std::io::Read;
use std::process::ExitCode;

use smtpkit::mime::{self, Body, Part};

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_params(out: &mut String, params: &[(String, String)]) {
    out.push('{');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        json_string(out, name);
        out.push_str(": ");
        json_string(out, value);
    }
    out.push('}');
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn json_part(out: &mut String, part: &Part) {
    out.push_str("{\"content_type\": ");
    json_string(out, &part.content_type.essence());
    out.push_str(", \"params\": ");
    json_params(out, &part.content_type.params);
    out.push_str(", \"disposition\": ");
    match &part.disposition {
        Some(d) => json_string(out, &d.kind),
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
        json_string(out, &h.name);
        out.push_str(", ");
        json_string(out, &h.value);
        out.push(']');
    }
    out.push(']');
    match &part.body {
        Body::Text(text) => {
            out.push_str(", \"text\": ");
            json_string(out, text);
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

fn main() -> ExitCode {
    let path = std::env::args().nth(1);
    let mut data = Vec::new();
    let read = match path.as_deref() {
        None | Some("-") => std::io::stdin().read_to_end(&mut data).map(|_| ()),
        Some(p) => std::fs::read(p).map(|d| data = d),
    };
    let mut out = String::new();
    if let Err(e) = read {
        out.push_str("{\"error\": ");
        json_string(&mut out, &format!("cannot read input: {e}"));
        out.push('}');
        println!("{out}");
        return ExitCode::FAILURE;
    }
    match mime::decode(&data) {
        Ok(part) => {
            json_part(&mut out, &part);
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            out.push_str("{\"error\": ");
            json_string(&mut out, &e.to_string());
            out.push('}');
            println!("{out}");
            ExitCode::FAILURE
        }
    }
}
