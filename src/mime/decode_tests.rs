//! Tests of `mime::decode`.

use super::*;
use crate::mime::Body;
use crate::mime::delimiters::LINEAR_LEVELS;

fn text(p: &Part) -> &str {
    match &p.body {
        Body::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

fn parts(p: &Part) -> &[Part] {
    match &p.body {
        Body::Multipart(v) => v,
        other => panic!("not multipart: {other:?}"),
    }
}

#[test]
fn simple_message() {
    let m = decode(b"From: a@b\r\nSubject: hi\r\n there\r\n\r\nbody\r\n").unwrap();
    assert_eq!(m.headers.len(), 2);
    assert_eq!(m.header_value("subject"), Some("hi there"));
    assert_eq!(m.headers[1].raw, b"hi there");
    assert_eq!(m.content_type.essence(), "text/plain");
    assert_eq!(m.content_type.param("charset"), Some("us-ascii"));
    assert_eq!(text(&m), "body\r\n");
    assert_eq!(m.encoding, TransferEncoding::SevenBit);
    assert_eq!(m.disposition, None);
}

#[test]
fn header_edge_cases() {
    let m = decode(b"From sender Mon Jan 1\n X: cont\nA: 1\nnot a header\nB: 2\n\nrest").unwrap();
    assert_eq!(m.headers.len(), 1);
    assert_eq!(text(&m), "not a header\nB: 2\n\nrest");
    let m = decode(b"A: 1\r\nB:2").unwrap();
    assert_eq!(m.headers.len(), 2);
    assert_eq!(m.header_value("b"), Some("2"));
    assert_eq!(text(&m), "");
    let m = decode(b"\r\nonly body").unwrap();
    assert!(m.headers.is_empty());
    assert_eq!(text(&m), "only body");
    assert_eq!(decode(b""), Err(MimeError::Empty));
    let m = decode(b"Subject: =?utf-8?q?caf=C3=A9?= \xe9\r\n\r\n").unwrap();
    assert_eq!(m.header_value("subject"), Some("café é"));
}

#[test]
fn multipart_basic() {
    let msg = b"Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\npreamble\r\n--xx\r\n\r\none\r\n--xx \t\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>caf\xe9</p>\r\n\r\n--xx--\r\nepilogue\r\n";
    let m = decode(msg).unwrap();
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&p[0]), "one");
    assert_eq!(p[1].content_type.essence(), "text/html");
    assert_eq!(text(&p[1]), "<p>café</p>\r\n");
}

#[test]
fn multipart_broken() {
    // Missing close: the last part runs to the end, its final line break dropped.
    let m = decode(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\n--b\n\nworld\n")
        .unwrap();
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&p[1]), "world");
    // Missing first boundary: one text part with the whole body.
    let m = decode(b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n").unwrap();
    assert_eq!(m.content_type.essence(), "multipart/mixed");
    let p = parts(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(text(&p[0]), "no parts here\r\n");
    // No boundary parameter: text/plain.
    let m = decode(b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n").unwrap();
    assert_eq!(m.content_type.essence(), "text/plain");
    assert_eq!(text(&m), "--b\r\n\r\nx\r\n--b--\r\n");
    // A boundary that is a prefix of a longer line is not a delimiter.
    let m =
        decode(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--bx\r\n--b--\r\n")
            .unwrap();
    assert_eq!(text(&parts(&m)[0]), "--bx");
}

#[test]
fn digest_and_nested() {
    let msg = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nhi\r\n--d--\r\n";
    let m = decode(msg).unwrap();
    let p = parts(&m);
    assert_eq!(p[0].content_type.essence(), "message/rfc822");
    let Body::Message(inner) = &p[0].body else {
        panic!()
    };
    assert_eq!(inner.header_value("subject"), Some("inner"));
    assert_eq!(text(inner), "hi");
}

#[test]
fn limits() {
    let mut msg = Vec::new();
    for _ in 0..30 {
        msg.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    msg.extend_from_slice(b"\r\nend");
    let mut m = decode(&msg).unwrap();
    let mut depth = 0;
    while let Body::Message(inner) = m.body {
        m = *inner;
        depth += 1;
    }
    assert_eq!(depth, 20);
    assert!(matches!(m.body, Body::Bytes(_)));
    let opts = DecodeOptions {
        max_parts: 3,
        ..DecodeOptions::default()
    };
    let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--";
    assert_eq!(
        decode_with(msg, &opts),
        Err(MimeError::TooManyParts { limit: 3 })
    );
    assert!(decode(msg).is_ok());
}

#[test]
fn transfer_encodings() {
    let m = decode(b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n\r\nAAEC\r\nAw\r\n").unwrap();
    assert_eq!(m.body, Body::Bytes(vec![0, 1, 2, 3]));
    assert_eq!(m.encoding, TransferEncoding::Base64);
    let m = decode(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nx  \r\n").unwrap();
    assert_eq!(text(&m), "café x\r\n");
    let m = decode(b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5").unwrap();
    let Body::Message(inner) = &m.body else {
        panic!()
    };
    assert_eq!(inner.header_value("subject"), Some("x"));
}

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

#[test]
fn header_cap_per_part() {
    let o = DecodeOptions {
        max_headers: 3,
        ..opts()
    };
    // Continuation lines do not count; the fourth field does.
    assert!(decode_with(b"a: 1\r\n more\r\nb: 2\r\nc: 3\r\n\r\nx", &o).is_ok());
    assert_eq!(
        decode_with(b"a:\nb:\nc:\nd:\n\nx", &o),
        Err(MimeError::TooManyHeaders { limit: 3 })
    );
    // Per part: three fields in each of two parts is fine.
    let msg = b"Content-Type: multipart/mixed; boundary=b\r\nb: 1\r\n\r\n--b\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\nx\r\n--b--\r\n";
    assert!(decode_with(msg, &o).is_ok());
    let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\na:\r\nb:\r\nc:\r\nd:\r\n\r\nx\r\n--b--\r\n";
    assert_eq!(
        decode_with(msg, &o),
        Err(MimeError::TooManyHeaders { limit: 3 })
    );
    // The default refuses megabytes of `a:` lines after 1000 of them.
    let flood = b"a:\n".repeat(100_000);
    assert_eq!(
        decode(&flood),
        Err(MimeError::TooManyHeaders { limit: 1000 })
    );
    assert!(decode(&b"a:\n".repeat(1000)).is_ok());
}

#[test]
fn param_cap_per_field() {
    let o = DecodeOptions {
        max_params: 2,
        ..opts()
    };
    assert!(decode_with(b"Content-Type: text/plain; a=1; b=2; c\r\n\r\nx", &o).is_ok());
    assert_eq!(
        decode_with(b"Content-Type: text/plain; a=1; b=2; c=3\r\n\r\nx", &o),
        Err(MimeError::TooManyParams { limit: 2 })
    );
    assert_eq!(
        decode_with(
            b"Content-Disposition: attachment; f*0=a; f*1=b; f*2=c\r\n\r\nx",
            &o
        ),
        Err(MimeError::TooManyParams { limit: 2 })
    );
    // Only Content-Type and Content-Disposition are parsed for parameters.
    assert!(decode_with(b"X-Other: a; a=1; b=2; c=3\r\n\r\nx", &o).is_ok());
    let mut many = b"Content-Type: text/plain".to_vec();
    for i in 0..5000 {
        many.extend_from_slice(format!(";\r\n p{i}=v").as_bytes());
    }
    many.extend_from_slice(b"\r\n\r\nbody");
    assert_eq!(decode(&many), Err(MimeError::TooManyParams { limit: 1000 }));
    let lifted = DecodeOptions {
        max_params: usize::MAX,
        ..opts()
    };
    let m = decode_with(&many, &lifted).unwrap();
    assert_eq!(m.content_type.params.len(), 5000);
    assert_eq!(m.content_type.param("p4999"), Some("v"));
}

#[test]
fn field_cap_per_message() {
    let o = DecodeOptions {
        max_fields: 5,
        ..opts()
    };
    // 2 header fields + 1 parameter at the top, 2 fields in the part: 5.
    let msg = b"Content-Type: multipart/mixed; boundary=b\r\nX: 1\r\n\r\n--b\r\nA: 1\r\nB: 2\r\n\r\nx\r\n--b--\r\n";
    assert!(decode_with(msg, &o).is_ok());
    let msg = b"Content-Type: multipart/mixed; boundary=b\r\nX: 1\r\n\r\n--b\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nx\r\n--b--\r\n";
    assert_eq!(
        decode_with(msg, &o),
        Err(MimeError::TooManyFields { limit: 5 })
    );
    // Parameters count too.
    let msg = b"Content-Type: multipart/mixed; boundary=b; x=1; y=2; z=3; w=4\r\n\r\n--b--\r\n";
    assert_eq!(
        decode_with(msg, &o),
        Err(MimeError::TooManyFields { limit: 5 })
    );
}

#[test]
fn nested_messages_in_place() {
    // 19 levels around one body: every level parsed, the body read once.
    let mut msg = Vec::new();
    for i in 0..19 {
        msg.extend_from_slice(
            format!("Subject: {i}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes(),
        );
    }
    msg.extend_from_slice(b"Subject: bottom\r\n\r\nthe body\r\n");
    let mut m = decode(&msg).unwrap();
    for i in 0..19 {
        assert_eq!(m.header_value("subject"), Some(i.to_string().as_str()));
        let Body::Message(inner) = m.body else {
            panic!("level {i}")
        };
        m = *inner;
    }
    assert_eq!(m.header_value("subject"), Some("bottom"));
    assert_eq!(text(&m), "the body\r\n");
}

#[test]
fn encoded_nested_messages_within_budget() {
    use crate::mime::b64;
    // One base64 level is opened; a second one inside it would make the decoded copies
    // alive at once larger than the input, so it stays bytes.
    let inner = format!("Subject: in\r\n\r\n{}", "hello ".repeat(500)).into_bytes();
    let middle = format!(
        "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        b64::encode_lines(&inner)
    );
    let outer = format!(
        "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        b64::encode_lines(middle.as_bytes())
    );
    let m = decode(outer.as_bytes()).unwrap();
    let Body::Message(mid) = &m.body else {
        panic!()
    };
    assert_eq!(mid.body, Body::Bytes(inner.clone()));
    // With room to spare (a large sibling), both levels open.
    let msg = format!(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n{}\r\n--b\r\n{outer}\r\n--b--\r\n",
        "x".repeat(4000)
    );
    let m = decode(msg.as_bytes()).unwrap();
    let Body::Multipart(parts) = &m.body else {
        panic!()
    };
    let Body::Message(mid) = &parts[1].body else {
        panic!()
    };
    let Body::Message(inner) = &mid.body else {
        panic!("{:?}", mid.body)
    };
    assert_eq!(inner.header_value("subject"), Some("in"));
}

#[test]
fn outer_delimiters_end_inner_parts() {
    // The inner multipart is never closed: the outer delimiter ends it and its last
    // part; each unclosed level drops one more final line break.
    let msg = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\ninner\r\n\r\n\r\n--o\r\n\r\nsecond\r\n--o--\r\n";
    let m = decode(msg).unwrap();
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&parts(&p[0])[0]), "inner\r\n");
    assert_eq!(text(&p[1]), "second");
    // The same boundary at two levels: the outer one wins, so the inner multipart finds
    // no delimiter of its own and holds its body as text.
    let msg = b"Content-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\n\r\nx\r\n--s--\r\n";
    let m = decode(msg).unwrap();
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(text(&parts(&p[0])[0]), "");
    // A delimiter line inside a header block ends the part there.
    let msg = b"Content-Type: multipart/mixed; boundary=\"x:y\"\r\n\r\n--x:y\r\nA: 1\r\n--x:y\r\nB: 2\r\n\r\nz\r\n--x:y--\r\n";
    let m = decode(msg).unwrap();
    let p = parts(&m);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].header_value("a"), Some("1"));
    assert_eq!(p[1].header_value("b"), Some("2"));
}

#[test]
fn boundaries_with_trailing_space() {
    // A (non-conforming) boundary ending in a space is matched exactly, as Python does.
    let msg = b"Content-Type: multipart/mixed; boundary=\"b \"\r\n\r\n--b\r\n\r\nno\r\n--b \r\n\r\nyes\r\n--b --\r\n";
    let m = decode(msg).unwrap();
    let p = parts(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(text(&p[0]), "yes");
}

#[test]
fn deep_nesting_past_the_linear_levels() {
    // More open levels than LINEAR_LEVELS: the hash-map lookup takes over.
    let depth = LINEAR_LEVELS + 10;
    let o = DecodeOptions {
        max_depth: depth + 5,
        ..opts()
    };
    let mut msg = String::new();
    for d in 0..depth {
        // Pairs of levels share a key once trimmed: `l1<TAB>` then `l1` inside it. A
        // line `--l1` is not the outer one's (its boundary has the tab) but the inner's.
        let b = match d % 3 {
            1 => format!("l{d}\t"),
            2 => format!("l{}", d - 1),
            _ => format!("l{d}"),
        };
        msg.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n--{b}\r\n\r\nt{d}\r\n--{b}\r\n"
        ));
    }
    msg.push_str("\r\nbottom\r\n");
    let m = decode_with(msg.as_bytes(), &o).unwrap();
    let mut p = &m;
    for d in 0..depth {
        let kids = parts(p);
        assert_eq!(kids.len(), 2, "level {d}");
        assert_eq!(text(&kids[0]), format!("t{d}"));
        p = &kids[1];
    }
    assert_eq!(text(p), "bottom");
}

/// Every message of the fixture and fuzz corpora (those present) decodes to the same tree
/// through `decode_ref_with` as through `decode_with`, errors included, under the default
/// options, lifted caps, and a low depth with a non-default charset.
#[test]
fn borrowed_tree_equals_owned_tree() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for dir in ["tests/fixtures/mime", "fuzz/corpus/mime"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                inputs.push(bytes);
            }
        }
    }
    inputs.push(b"Subject: =?utf-8?q?caf=C3=A9?=\r\n folded\r\nX: \xe9t\xe9\r\nContent-Type: Message/RFC822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQpib2R5\r\n".to_vec());
    inputs.push(b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n".to_vec());
    inputs.push(b"Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter\r\n".to_vec());
    let lifted = DecodeOptions {
        max_headers: usize::MAX,
        max_params: usize::MAX,
        max_fields: usize::MAX,
        ..DecodeOptions::default()
    };
    let shallow = DecodeOptions {
        max_depth: 2,
        default_charset: "iso-8859-1".to_owned(),
        ..DecodeOptions::default()
    };
    for input in &inputs {
        for opts in [&DecodeOptions::default(), &lifted, &shallow] {
            let owned = decode_with(input, opts);
            let borrowed = decode_ref_with(input, opts).map(PartRef::into_owned);
            assert_eq!(borrowed, owned, "{:?}", String::from_utf8_lossy(input));
        }
    }
}

#[test]
fn borrowed_tree_borrows_what_is_there_as_it_is() {
    use std::borrow::Cow;
    let msg = b"Subject: plain\r\nX-Enc: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n";
    let p = decode_ref(msg).unwrap();
    assert!(matches!(p.headers[0].value, Cow::Borrowed("plain")));
    assert!(matches!(p.headers[0].raw, Cow::Borrowed(b"plain")));
    assert_eq!(p.header_value("x-enc"), Some("café"));
    assert!(matches!(p.headers[1].value, Cow::Owned(_)));
    assert!(matches!(p.content_type.mime_type, Cow::Borrowed("text")));
    assert_eq!(p.content_type.param("CHARSET"), Some("utf-8"));
    assert!(matches!(p.content_type.params[0].1, Cow::Borrowed(_)));
    assert!(matches!(
        p.body,
        crate::mime::BodyRef::Text(Cow::Borrowed("hello\r\n"))
    ));
    assert_eq!(p.filename(), None);
    assert_eq!(p.content_type.essence(), "text/plain");
}
