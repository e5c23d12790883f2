//! The fixture corpus under `tests/fixtures/mime/`: each message decodes to the expected
//! tree (types, decoded text, filenames, part counts).

use smtpkit::mime::{self, Body, Part, TransferEncoding};

fn load(name: &str) -> Part {
    let path = format!("{}/tests/fixtures/mime/{name}", env!("CARGO_MANIFEST_DIR"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    mime::decode(&data).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parts(p: &Part) -> &[Part] {
    match &p.body {
        Body::Multipart(v) => v,
        other => panic!("not a multipart: {other:?}"),
    }
}

fn text(p: &Part) -> &str {
    match &p.body {
        Body::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

fn bytes(p: &Part) -> &[u8] {
    match &p.body {
        Body::Bytes(b) => b,
        other => panic!("not bytes: {other:?}"),
    }
}

fn inner(p: &Part) -> &Part {
    match &p.body {
        Body::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

fn essence(p: &Part) -> String {
    p.content_type.essence()
}

#[test]
fn plain() {
    let m = load("plain.eml");
    assert_eq!(essence(&m), "text/plain");
    assert_eq!(m.content_type.param("charset"), Some("us-ascii"));
    assert_eq!(m.encoding, TransferEncoding::SevenBit);
    assert_eq!(m.header_value("Subject"), Some("Plain hello"));
    assert_eq!(
        m.header_value("from"),
        Some("Alice Example <alice@example.com>")
    );
    assert_eq!(m.headers.len(), 8);
    assert_eq!(
        text(&m),
        "Hello Bob,\r\n\r\nThis is a plain message.\r\n-- \r\nAlice\r\n"
    );
}

#[test]
fn alternative() {
    let m = load("alternative.eml");
    assert_eq!(essence(&m), "multipart/alternative");
    assert_eq!(m.header_value("subject"), Some("Café menu"));
    assert_eq!(m.header_value("from"), Some("Renée <renee@example.com>"));
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(essence(&p[0]), "text/plain");
    assert_eq!(p[0].encoding, TransferEncoding::QuotedPrintable);
    assert_eq!(text(&p[0]), "Café au lait: 3 €\r\nCrème brûlée: 5 €\r\n");
    assert_eq!(essence(&p[1]), "text/html");
    assert_eq!(
        text(&p[1]),
        "<html><body><p>Café au lait: 3 €</p><p>Crème brûlée: 5 €</p></body></html>\r\n"
    );
}

#[test]
fn mixed_with_attachments() {
    let m = load("mixed_attachments.eml");
    assert_eq!(
        m.content_type.param("boundary"),
        Some("----=_Part_0_123456.789")
    );
    let p = parts(&m);
    assert_eq!(p.len(), 3);
    assert_eq!(text(&p[0]), "Please find the report attached.\r\n");
    assert_eq!(essence(&p[1]), "application/pdf");
    assert_eq!(p[1].filename(), Some("report.pdf"));
    assert_eq!(
        p[1].disposition.as_ref().map(|d| d.kind.as_str()),
        Some("attachment")
    );
    assert!(bytes(&p[1]).starts_with(b"%PDF-1.4\n"));
    assert!(bytes(&p[1]).ends_with(b"%%EOF\n"));
    assert_eq!(essence(&p[2]), "image/png");
    assert_eq!(p[2].disposition, None);
    assert_eq!(p[2].filename(), Some("pixel.png"));
    assert_eq!(bytes(&p[2]).len(), 66);
    assert!(bytes(&p[2]).starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn related_with_inline_image() {
    let m = load("related.eml");
    assert_eq!(essence(&m), "multipart/related");
    assert_eq!(m.content_type.param("type"), Some("text/html"));
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert!(text(&p[0]).contains("src=\"cid:logo@example.com\""));
    assert_eq!(p[1].header_value("content-id"), Some("<logo@example.com>"));
    assert_eq!(
        p[1].disposition.as_ref().map(|d| d.kind.as_str()),
        Some("inline")
    );
    assert_eq!(p[1].filename(), Some("logo.png"));
    assert!(bytes(&p[1]).starts_with(b"\x89PNG"));
}

#[test]
fn nested_message() {
    let m = load("nested_rfc822.eml");
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&p[0]), "See the forwarded message.\r\n");
    assert_eq!(essence(&p[1]), "message/rfc822");
    let fwd = inner(&p[1]);
    assert_eq!(fwd.header_value("subject"), Some("Original à transférer"));
    assert_eq!(essence(fwd), "multipart/alternative");
    let q = parts(fwd);
    assert_eq!(q.len(), 2);
    assert_eq!(text(&q[0]), "Voilà le texte.");
    assert_eq!(text(&q[1]), "<p>Voilà le texte.</p>");
}

#[test]
fn rfc2047_names() {
    let m = load("rfc2047_filename.eml");
    assert_eq!(m.header_value("subject"), Some("見積書 and more"));
    assert_eq!(m.header_value("from"), Some("山田太郎 <yamada@example.jp>"));
    let p = parts(&m);
    assert_eq!(p.len(), 3);
    assert_eq!(p[1].content_type.param("name"), Some("見積書.xls"));
    assert_eq!(p[1].filename(), Some("見積書.xls"));
    assert_eq!(p[2].filename(), Some("résumé final.doc"));
}

#[test]
fn rfc2231_names() {
    let m = load("rfc2231_filename.eml");
    let p = parts(&m);
    assert_eq!(p.len(), 4);
    assert_eq!(
        p[1].filename(),
        Some("€ Preisliste für das Jahr 2026 – Entwurf.pdf")
    );
    assert_eq!(p[2].filename(), Some("résumé £.txt"));
    assert_eq!(text(&p[2]), "résumé");
    assert_eq!(
        p[3].filename(),
        Some("a-very-long-plain-ascii-file-name-split-over-two-sections.bin")
    );
    assert_eq!(bytes(&p[3]), [0, 1, 2, 3]);
}

#[test]
fn legacy_charsets() {
    let m = load("windows1252.eml");
    assert_eq!(
        m.header_value("subject"),
        Some("“Smart quotes” – and € sign")
    );
    assert_eq!(m.header_value("from"), Some("François <f@example.fr>"));
    assert_eq!(text(&m), "“Quoted” text – price 5€ … naïve\r\n");

    let m = load("iso2022jp.eml");
    assert_eq!(m.header_value("subject"), Some("日本語の件名"));
    assert_eq!(text(&m), "こんにちは、世界。\r\nテストメールです。\r\n");

    let m = load("shift_jis.eml");
    assert_eq!(m.header_value("subject"), Some("シフトJIS件名"));
    assert_eq!(text(&m), "シフトJISの本文です。\r\n漢字とカナ。\r\n");

    let m = load("gb2312.eml");
    assert_eq!(m.header_value("subject"), Some("测试邮件"));
    assert_eq!(text(&m), "你好，世界！\r\n这是一封测试邮件。\r\n");

    let m = load("koi8r.eml");
    assert_eq!(m.header_value("subject"), Some("Тестовое письмо"));
    assert_eq!(m.encoding, TransferEncoding::EightBit);
    assert_eq!(text(&m), "Привет, мир!\r\nЭто тестовое письмо.\r\n");
}

#[test]
fn broken_boundaries() {
    let m = load("broken_missing_close.eml");
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&p[0]), "first part");
    assert_eq!(text(&p[1]), "second part, never closed");

    let m = load("broken_missing_first.eml");
    assert_eq!(essence(&m), "multipart/mixed");
    let p = parts(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(essence(&p[0]), "text/plain");
    assert_eq!(
        text(&p[0]),
        "Just some text\r\nwith no boundary lines at all.\r\n"
    );

    let m = load("broken_no_boundary.eml");
    assert_eq!(essence(&m), "text/plain");
    assert!(text(&m).starts_with("--something\r\nContent-Type: text/plain\r\n"));
    assert_eq!(m.header_value("content-type"), Some("multipart/mixed"));
}

#[test]
fn outlook_quoted_printable() {
    let m = load("outlook_qp.eml");
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(
        text(&p[0]),
        "Hello,   \r\nThis line is long enough that Outlook wraps it with a soft line break \
         right here, and 1+1=2.   \r\nLowercase hex: café and naïve.\r\n\
         Trailing spaces above are transport padding.\r\n"
    );
    assert_eq!(
        text(&p[1]),
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; \
         charset=iso-8859-1\"></head><body><p>café</p></body></html>\r\n"
    );
}

#[test]
fn sloppy_base64() {
    let m = load("base64_nopad_junk.eml");
    let p = parts(&m);
    assert_eq!(text(&p[0]), "Hello world!");
    assert_eq!(bytes(&p[1]), [0, 1, 2, 3, 4]);
    assert_eq!(p[1].filename(), Some("data.bin"));
}

#[test]
fn raw_utf8_headers() {
    let m = load("raw_utf8_headers.eml");
    assert_eq!(m.header_value("subject"), Some("Grüße aus München ✓"));
    assert_eq!(
        m.header_value("from"),
        Some("Jörg Müller <joerg@example.de>")
    );
    let p = parts(&m);
    assert_eq!(text(&p[0]), "Body in UTF-8: ünïcödé ✓");
    assert_eq!(p[1].filename(), Some("Übersicht.txt"));
}

#[test]
fn lf_only_line_endings() {
    let m = load("lf_only.eml");
    assert_eq!(m.header_value("subject"), Some("LF only"));
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&p[0]), "line one\nline two");
    assert_eq!(text(&p[1]), "<p>line one</p>");
}

#[test]
fn digest_defaults_to_messages() {
    let m = load("digest.eml");
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    for (part, subject) in p.iter().zip(["First", "Second"]) {
        assert_eq!(essence(part), "message/rfc822");
        assert!(part.headers.is_empty());
        assert_eq!(inner(part).header_value("subject"), Some(subject));
    }
    assert_eq!(text(inner(&p[0])), "First message.");
}

#[test]
fn unknown_charset_is_lossy_utf8() {
    let m = load("unknown_charset.eml");
    assert_eq!(m.content_type.param("charset"), Some("x-unknown-42"));
    assert_eq!(text(&m), "valid utf-8 é and a bad byte \u{fffd}\r\n");
}

#[test]
fn latin1_header_bytes() {
    let m = load("latin1_header_bytes.eml");
    assert_eq!(m.header_value("subject"), Some("café crème"));
    assert_eq!(m.headers[1].raw, b"caf\xe9 cr\xe8me");
    assert_eq!(text(&m), "café\r\n");
}

#[test]
fn no_mime_version_still_mime() {
    let m = load("no_mime_version.eml");
    assert_eq!(m.header_value("mime-version"), None);
    let p = parts(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(text(&p[0]), "part");
}

/// Every fixture survives a re-encode: same types, texts and filenames.
#[test]
fn fixtures_reencode() {
    let dir = format!("{}/tests/fixtures/mime", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 20);
    fn shape(p: &Part, out: &mut Vec<String>) {
        out.push(format!(
            "{} {:?} {:?}",
            p.content_type.essence(),
            p.filename(),
            p.disposition.as_ref().map(|d| &d.kind)
        ));
        match &p.body {
            Body::Text(t) => out.push(t.replace("\r\n", "\n")),
            Body::Bytes(b) => out.push(format!("{b:?}")),
            Body::Multipart(v) => v.iter().for_each(|c| shape(c, out)),
            Body::Message(m) => shape(m, out),
        }
    }
    for name in names {
        let first = load(&name);
        let again = mime::decode(&mime::encode(&first)).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        shape(&first, &mut a);
        shape(&again, &mut b);
        assert_eq!(a, b, "{name}");
        assert_eq!(
            first.header_value("subject"),
            again.header_value("subject"),
            "{name}"
        );
    }
}
