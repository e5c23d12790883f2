//! The MIME examples as users run them: `mime_dump` prints the decoded tree as JSON,
//! `build_message` builds (and sends) a message that decodes back to what was given.

mod common;
use common::tools::example;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use smtpkit::mime::{self, Body};

fn run(name: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/mime/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn mime_dump_prints_the_tree() {
    let out = run("mime_dump", &[&fixture("mixed_attachments.eml")], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.starts_with("{\"content_type\": \"multipart/mixed\""),
        "{json}"
    );
    assert!(json.contains("\"parts\": ["), "{json}");
    assert!(json.contains("\"disposition\": null"), "{json}");
    assert!(json.contains("\"sha256\": \""), "{json}");
    // The same from stdin.
    let data = std::fs::read(fixture("mixed_attachments.eml")).unwrap();
    let out2 = run("mime_dump", &["-"], &data);
    assert_eq!(String::from_utf8(out2.stdout).unwrap(), json);
    // Headers are the part's own, decoded.
    let out = run("mime_dump", &[&fixture("rfc2047_filename.eml")], b"");
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(json.contains("\"headers\": [["), "{json}");
}

#[test]
fn mime_dump_unreadable_input() {
    let out = run("mime_dump", &["-"], b"");
    assert_eq!(out.status.code(), Some(1));
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(json.starts_with("{\"error\": \""), "{json}");
}

#[test]
fn build_message_prints_and_sends() {
    let dir = std::env::temp_dir().join(format!("smtpkit-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("Bericht über.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n\x00\xff binary").unwrap();
    let args = [
        "--from",
        "Jörg <jorg@example.org>",
        "--to",
        "bob@example.net",
        "--bcc",
        "hidden@example.org",
        "--subject",
        "Grüße",
        "--text",
        "Hallo\n",
        "--html",
        "<p>Hallo</p>",
        "--attach",
        pdf.to_str().unwrap(),
    ];
    let out = run("build_message", &args, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = mime::decode(&out.stdout).unwrap();
    assert_eq!(tree.header_value("Subject"), Some("Grüße"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hidden@"));
    let Body::Multipart(parts) = &tree.body else {
        panic!("{tree:?}")
    };
    assert_eq!(parts[1].filename(), Some("Bericht über.pdf"));
    assert_eq!(
        parts[1].body,
        Body::Bytes(b"%PDF-1.4\n\x00\xff binary".to_vec())
    );
    // --send: through smtpkit's server; Bcc is in the envelope.
    let (srv, rec) = common::default_server();
    let relay = srv.local_addr().to_string();
    let mut with_send = args.to_vec();
    with_send.extend(["--send", relay.as_str()]);
    let out = run("build_message", &with_send, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("bob@example.net 250 2.0.0 OK: queued"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hidden@example.org 250 2.0.0 OK: queued"),
        "{stdout}"
    );
    common::wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages[0].to, ["bob@example.net", "hidden@example.org"]);
    let _ = std::fs::remove_dir_all(&dir);
}
