//! Tests of `mime::encode`.

use super::*;
use crate::mime::Part;
use crate::mime::scan::{next_special, text_encoding};

#[test]
fn encodings_chosen() {
    assert_eq!(text_encoding(b"hello\r\nworld"), TransferEncoding::SevenBit);
    assert_eq!(
        text_encoding("café\r\n".as_bytes()),
        TransferEncoding::QuotedPrintable
    );
    assert_eq!(
        text_encoding("日本語のテキスト".as_bytes()),
        TransferEncoding::Base64
    );
    assert_eq!(
        text_encoding("x".repeat(100).as_bytes()),
        TransferEncoding::QuotedPrintable
    );
    assert_eq!(text_encoding(b"a\0b"), TransferEncoding::QuotedPrintable);
}

#[test]
fn next_special_matches_a_byte_loop() {
    let naive = |d: &[u8], i: usize| {
        (i..d.len())
            .find(|&k| {
                d.get(k)
                    .is_some_and(|&b| !(b' '..=b'~').contains(&b) || b == b'=')
            })
            .unwrap_or(d.len())
    };
    // Every byte value at every offset of blocks and tails, plus a pseudo-random mix.
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
    for len in [0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 100] {
        for b in 0..=255u8 {
            for at in (0..len).step_by(7) {
                let mut d = vec![b'a'; len];
                d[at] = b;
                for from in [0, 1, at.saturating_sub(1), at, at + 1] {
                    assert_eq!(next_special(&d, from), naive(&d, from), "{b} {at} {len}");
                }
            }
        }
        let d: Vec<u8> = (0..len).map(|_| b' ' + (next() % 100) as u8).collect();
        for from in 0..=len + 1 {
            assert_eq!(next_special(&d, from), naive(&d, from));
        }
    }
}

#[test]
fn header_folding() {
    let mut out = Vec::new();
    let long = "word ".repeat(40);
    write_header("Subject", long.trim_end(), &mut out);
    let text = String::from_utf8(out).unwrap();
    for line in text.split("\r\n") {
        assert!(line.len() <= 78, "{line}");
    }
    let mut out = Vec::new();
    write_header("Subject", "Grüße aus Köln und Zürich", &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?Q?K=C3=B6ln?= und\r\n =?UTF-8?Q?Z=C3=BCrich?=\r\n"
    );
    let mut out = Vec::new();
    write_header(
        "To",
        "\"Müller, Jörg\" <j@example.com>, plain <p@example.com>, x@example.com",
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "To: =?UTF-8?Q?M=C3=BCller=2C_J=C3=B6rg?= <j@example.com>, plain\r\n <p@example.com>, x@example.com\r\n"
    );
    let mut out = Vec::new();
    write_header("X-Long", &"a".repeat(2000), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.split("\r\n").all(|l| l.len() <= 998));
    assert_eq!(
        super::super::decode::header_text(
            text.trim_start_matches("X-Long: ")
                .trim_end()
                .replace("\r\n", "")
                .as_bytes()
        ),
        "a".repeat(2000)
    );
}

#[test]
fn nothing_injects_lines() {
    let mut part = Part::text("plain\r\nBcc: evil@example.com", "body")
        .header("Subject\r\nBcc", "x\r\nBcc: evil@example.com")
        .header("To", "\"Jörg\r\nBcc: evil\" <a@example.com>");
    part.content_type.mime_type = "te\nxt".into();
    part.content_type
        .params
        .push(("na;me\r\n=".into(), "v\r\nBcc: evil".into()));
    part.disposition = Some(crate::mime::Disposition {
        kind: "attachment\r\nBcc: evil".into(),
        params: vec![("filename".into(), "a\r\nBcc: evil".into())],
    });
    let wire = encode(&part);
    let text = String::from_utf8_lossy(&wire);
    assert!(!text.contains("\nBcc"), "{text}");
    assert!(!text.contains("\rBcc"), "{text}");
    let back = crate::mime::decode(&wire).unwrap();
    assert_eq!(back.header_value("bcc"), None);
    assert_eq!(back.filename(), Some("a\r\nBcc: evil"));
    // Nothing too long either.
    let mut part = Part::bytes(&"t".repeat(2000), &"s".repeat(2000), vec![1u8])
        .header(&"N".repeat(2000), "v")
        .header("To", &format!("Jörg <{}@example.com>", "a".repeat(2000)))
        .disposition(&"k".repeat(2000), Some(&"f".repeat(3000)));
    part.content_type
        .params
        .push(("p".repeat(2000), "v".repeat(2000)));
    let wire = encode(&part);
    let longest = wire.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
    assert!(longest <= 999, "{longest}");
    let back = crate::mime::decode(&wire).unwrap();
    assert_eq!(back.filename(), Some("f".repeat(3000).as_str()));
}

#[test]
fn boundaries_avoid_content() {
    let a = crate::mime::util::boundary();
    let b = crate::mime::util::boundary();
    assert_ne!(a, b);
    assert!(valid_boundary(&a), "{a}");
    let boundary_of = |wire: &[u8]| {
        let tree = crate::mime::decode(wire).unwrap();
        tree.content_type.param("boundary").unwrap().to_owned()
    };
    // A kept boundary that a child holds at the start of a line is replaced...
    for text in ["--keep\r\n", "x\r\n--keep", "x\r\n--keeper\r\n"] {
        let mut part = Part::multipart("mixed", vec![Part::text("plain", text)]);
        part.content_type.set_param("boundary", "keep");
        let wire = encode(&part);
        assert_ne!(boundary_of(&wire), "keep", "{text:?}");
        let tree = crate::mime::decode(&wire).unwrap();
        let crate::mime::Body::Multipart(parts) = &tree.body else {
            panic!()
        };
        assert_eq!(parts[0].body, crate::mime::Body::Text(text.into()));
    }
    // ... also in a nested header block or behind a base64 body, and kept otherwise.
    let mut part = Part::multipart(
        "mixed",
        vec![
            Part::bytes("application", "x", vec![0u8; 100]),
            Part::text("plain", "a --keep\r\n").header("--keep", "v"),
        ],
    );
    part.content_type.set_param("boundary", "keep");
    assert_ne!(boundary_of(&encode(&part)), "keep");
    let mut part = Part::multipart(
        "mixed",
        vec![
            Part::bytes("application", "x", vec![0u8; 100]),
            Part::text("plain", "a --keep\r\n -keep"),
        ],
    );
    part.content_type.set_param("boundary", "keep");
    assert_eq!(boundary_of(&encode(&part)), "keep");
    // A generated boundary in a 7bit child, nested one level down.
    let mut inner = Part::multipart("mixed", vec![Part::text("plain", "x")]);
    inner.content_type.set_param("boundary", "=_inner");
    let mut outer = Part::multipart("mixed", vec![inner, Part::text("plain", "--=_outer")]);
    outer.content_type.set_param("boundary", "=_outer");
    let wire = encode(&outer);
    assert_ne!(boundary_of(&wire), "=_outer");
    let mut outer = Part::multipart("mixed", vec![Part::text("plain", "--=_inner")]);
    outer.content_type.set_param("boundary", "=_in");
    assert_ne!(boundary_of(&encode(&outer)), "=_in");
}

/// Found by fuzz/mime: an address header whose address part held a control character
/// (`From:` NUL, or a bare CR kept by the decoder) was written raw: a NUL or a bare CR in
/// the output, which is then not SMTP-safe.
#[test]
fn regression_control_characters_in_address_headers_are_encoded() {
    for value in [
        "\0",
        "a\rb",
        "x\0y@example.com",
        "Ann <a\r@example.com>",
        "\x01, b@c",
    ] {
        let mut out = Vec::new();
        write_header("From", value, &mut out);
        let body = out.strip_suffix(b"\r\n").expect("ends with CRLF");
        assert!(
            body.iter()
                .all(|&b| b == b'\t' || b == b'\r' || b == b'\n' || (b' '..=b'~').contains(&b)),
            "{value:?} -> {out:?}"
        );
        // Only folding CRLFs remain: each followed by white space.
        for (i, w) in body.windows(2).enumerate() {
            if w[0] == b'\r' {
                assert!(
                    w[1] == b'\n' && matches!(body.get(i + 2), Some(b' ' | b'\t')),
                    "{out:?}"
                );
            }
        }
        assert!(!body.contains(&b'\n') || body.contains(&b'\r'));
    }
}

#[test]
fn listed_specials_give_the_same_quoted_printable() {
    use crate::mime::scan::{Specials, scan_text_keeping};
    // Pseudo-random texts from pieces that exercise every rule: long lines, `=`, tabs and
    // spaces at line ends, 8-bit bytes, `.` and `From ` at line starts, controls.
    let pieces: [&[u8]; 12] = [
        b"word ",
        b"=",
        b"\t",
        b" \r\n",
        b"\r\n",
        b".dot",
        b"From me",
        "café ".as_bytes(),
        b"\x01",
        b"a-long-token-without-any-break-at-all-that-runs-past-the-line-width-",
        b"<html><body><p>",
        b"-- ",
    ];
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
    // Each text's length comes from the last number drawn for the text before it.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..300 {
        let mut text = Vec::new();
        let n = (seed % 60) as usize;
        for _ in 0..n {
            seed = next();
            let piece = pieces.get((seed % pieces.len() as u64) as usize).copied();
            text.extend_from_slice(piece.unwrap_or_default());
        }
        let mut specials = Specials::new();
        scan_text_keeping(&text, &mut specials);
        let mut listed = Vec::new();
        crate::mime::qp::encode_listed(&text, &mut listed, Some(&specials));
        let mut plain = Vec::new();
        crate::mime::qp::encode_into(&text, &mut plain);
        assert_eq!(listed, plain, "{:?}", String::from_utf8_lossy(&text));
    }
}

#[test]
fn unstructured_headers_written_in_place_as_from_atoms() {
    // `write_unstructured` streams what `encode_unstructured` + `write_folded` wrote.
    let wide = " ".repeat(250);
    let pieces: [&str; 13] = [
        &wide,
        "word",
        " ",
        "\t",
        "café",
        "–",
        "日本語",
        "=?x?=",
        "\u{1}",
        "a-long-token-without-any-break-at-all-that-runs-past-the-line-width",
        "   ",
        "x",
        "ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé",
    ];
    let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
    for _ in 0..500 {
        let n = (next() % 30) as usize;
        let text: String = (0..n)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let text = text.trim_start_matches([' ', '\t']);
        let mut streamed = Vec::new();
        write_unstructured("Subject", text, &mut streamed);
        let mut listed = Vec::new();
        write_folded("Subject", encode_unstructured(text), &mut listed);
        assert_eq!(streamed, listed, "{text:?}");
    }
    // And the words: one buffer or a list, the same words.
    for text in [
        "",
        "café",
        "日本語のテキスト",
        &"ü".repeat(200),
        &"é x".repeat(60),
    ] {
        let mut each = Vec::new();
        crate::mime::encoded_word::encode_words_each(text, |w| each.push(w.to_owned()));
        assert_eq!(each, crate::mime::encoded_word::encode_words(text));
    }
}
