//! Property-style tests: random trees from a deterministic generator must survive
//! `decode(encode(tree))`, the output must be SMTP-safe, and no mutation of it may make the
//! decoder panic.

use super::{Body, Header, Part, decode, encode};

/// A 64-bit LCG (Knuth's MMIX constants); deterministic across platforms.
pub(crate) struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }
}

const WORDS: &[&str] = &[
    "hello",
    "world",
    "Grüße",
    "café",
    "naïve",
    "日本語",
    "テキスト",
    "Привет",
    "мир",
    "😀",
    "a=b",
    "x?y",
    "_under_",
    "100%",
    "(paren)",
    "\"quoted\"",
    "semi;colon",
    "comma,",
    "€uro",
    "tab\there",
    "=?utf-8?q?fake?=",
    "<angle>",
    "ok",
    "the",
    "quick",
    "brown",
    "fox",
];

fn text(r: &mut Lcg) -> String {
    let mut s = String::new();
    let lines = r.below(12);
    for _ in 0..lines {
        match r.below(10) {
            0 => s.push_str(".starts with a dot"),
            1 => s.push_str("From the start"),
            2 => s.push_str(&"long".repeat(30 + r.below(300))),
            3 => {
                for _ in 0..r.below(40) {
                    s.push_str(r.pick(WORDS));
                    s.push(' ');
                }
            }
            4 => s.push_str("trailing spaces  \t"),
            5 => s.push('.'),
            6 => s.push_str("nul\0and\x7fdel\x1besc"),
            _ => {
                for _ in 0..r.below(8) {
                    s.push_str(r.pick(WORDS));
                    s.push(' ');
                }
                s.push_str(r.pick(WORDS));
            }
        }
        s.push_str(r.pick(&["\r\n", "\n", "\r", "\r\n"]));
    }
    if r.chance(50) {
        s.push_str(r.pick(WORDS));
    }
    s
}

fn header_value(r: &mut Lcg) -> String {
    let mut s = String::new();
    let n = r.below(14);
    for i in 0..n {
        if i > 0 {
            s.push_str(r.pick(&[" ", " ", " ", "  ", "\t", " \t "]));
        }
        if r.chance(3) {
            s.push_str(&"x".repeat(r.below(1500)));
        } else {
            s.push_str(r.pick(WORDS));
        }
    }
    if n > 0 && r.chance(10) {
        s.push(' ');
    }
    s
}

fn address_list(r: &mut Lcg) -> String {
    let n = 1 + r.below(3);
    let mut out = Vec::new();
    for i in 0..n {
        let name_words = r.below(4);
        let mut name = Vec::new();
        for _ in 0..name_words {
            name.push(r.pick(&["Jörg", "Müller", "Ann", "李", "Smith", "Ñandú", "Bob"]));
        }
        let addr = format!("user{i}@example.com");
        if name.is_empty() {
            out.push(addr);
        } else {
            out.push(format!("{} <{addr}>", name.join(" ")));
        }
    }
    out.join(", ")
}

fn filename(r: &mut Lcg) -> String {
    match r.below(6) {
        0 => "report.pdf".to_owned(),
        1 => "Grüße & Küsse.txt".to_owned(),
        2 => format!("{}.bin", "très-long-nom-de-fichier-".repeat(1 + r.below(8))),
        3 => "with \"quotes\" and \\ backslash.txt".to_owned(),
        4 => "=?utf-8?q?not_encoded?=.txt".to_owned(),
        _ => format!("{}.dat", r.pick(WORDS)),
    }
}

fn bytes(r: &mut Lcg) -> Vec<u8> {
    let n = r.below(3000);
    (0..n)
        .map(|_| match r.below(8) {
            0 => b'\r',
            1 => b'\n',
            2 => 0,
            _ => r.next() as u8,
        })
        .collect()
}

fn with_headers(mut p: Part, r: &mut Lcg, top: bool) -> Part {
    let names = if top {
        &[
            "Subject", "From", "To", "Cc", "X-Test", "Comments", "Reply-To",
        ][..]
    } else {
        &["X-Part", "Content-ID", "Content-Description"][..]
    };
    for _ in 0..r.below(5) {
        let name = r.pick(names);
        let value = if matches!(name, "From" | "To" | "Cc" | "Reply-To") {
            address_list(r)
        } else {
            header_value(r)
        };
        p = p.header(name, &value);
    }
    p
}

pub(crate) fn tree(r: &mut Lcg, depth: usize) -> Part {
    let kind = if depth >= 3 { r.below(2) } else { r.below(5) };
    let part = match kind {
        0 => Part::text(r.pick(&["plain", "html", "csv"]), text(r)),
        1 => {
            let (t, s) = match r.below(3) {
                0 => ("application", "octet-stream"),
                1 => ("image", "png"),
                _ => ("application", "pdf"),
            };
            Part::bytes(t, s, bytes(r))
        }
        2 | 3 => {
            let n = r.below(4);
            let parts = (0..n).map(|_| tree(r, depth + 1)).collect();
            Part::multipart(
                r.pick(&["mixed", "alternative", "related", "digest"]),
                parts,
            )
        }
        _ => {
            let inner = tree(r, depth + 1);
            Part::message(with_headers(inner, r, true))
        }
    };
    let part = if r.chance(30) {
        let kind = r.pick(&["attachment", "inline"]);
        let name = if r.chance(80) {
            Some(filename(r))
        } else {
            None
        };
        part.disposition(kind, name.as_deref())
    } else {
        part
    };
    with_headers(part, r, depth == 0)
}

/// What `decode(encode(x))` is compared on: headers by name and decoded value (without the
/// MIME headers and the ones `encode` adds), the boundary parameter dropped.
fn normalise(p: &Part, added: &[&str]) -> Part {
    let headers: Vec<Header> = p
        .headers
        .iter()
        .filter(|h| {
            let n = h.name.to_ascii_lowercase();
            !matches!(
                n.as_str(),
                "content-type" | "content-transfer-encoding" | "content-disposition"
            ) && !added.contains(&n.as_str())
        })
        .map(|h| Header {
            name: h.name.clone(),
            raw: Vec::new(),
            value: h.value.clone(),
        })
        .collect();
    let mut ct = p.content_type.clone();
    if ct.mime_type == "multipart" {
        ct.params.retain(|(n, _)| n != "boundary");
    }
    let body = match &p.body {
        Body::Multipart(parts) => {
            Body::Multipart(parts.iter().map(|c| normalise(c, &[])).collect())
        }
        Body::Message(inner) => Body::Message(Box::new(normalise(inner, &[]))),
        other => other.clone(),
    };
    Part {
        headers,
        content_type: ct,
        disposition: p.disposition.clone(),
        encoding: p.encoding.clone(),
        body,
    }
}

/// SMTP-safe: CRLF only, no line over 998 octets, no NUL.
fn assert_smtp_safe(data: &[u8]) {
    assert!(!data.contains(&0), "NUL in output");
    let mut line = 0usize;
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        match b {
            b'\r' => {
                assert_eq!(data.get(i + 1), Some(&b'\n'), "bare CR at {i}");
                line = 0;
                i += 2;
                continue;
            }
            b'\n' => panic!("bare LF at {i}"),
            _ => line += 1,
        }
        assert!(line <= 998, "line over 998 at {i}");
        i += 1;
    }
}

/// Header lines of the top-level part stay within 78 columns unless one word is longer.
fn assert_headers_folded(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    for line in head.split("\r\n") {
        let line = line.trim_end();
        if line.len() > 78 {
            let longest = line.split([' ', '\t']).map(str::len).max().unwrap_or(0);
            assert!(longest + 16 > line.len(), "badly folded: {line}");
        }
    }
}

#[test]
fn random_trees_round_trip() {
    let mut r = Lcg(0x5eed_1234);
    for case in 0..3000 {
        let original = tree(&mut r, 0);
        let wire = encode(&original);
        assert_smtp_safe(&wire);
        assert_headers_folded(&wire);
        let back = decode(&wire).unwrap_or_else(|e| panic!("case {case}: {e}"));
        let want = normalise(&original, &[]);
        let got = normalise(&back, &["date", "message-id", "mime-version"]);
        if want != got {
            panic!(
                "case {case} differs\nwant: {want:#?}\ngot: {got:#?}\nwire:\n{}",
                String::from_utf8_lossy(&wire)
            );
        }
        // Encoding a decoded tree again gives the same tree.
        let again = decode(&encode(&back)).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(normalise(&again, &[]), normalise(&back, &[]), "case {case}");
    }
}

#[test]
fn mutations_never_panic() {
    let mut r = Lcg(42);
    let tokens: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"--",
        b"=?",
        b"?=",
        b"=",
        b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=",
        b"*0*=",
        b"'",
        b"\"",
        b"\xff\xfe",
        b"\xc3",
        b"=\r\n",
        b";",
        b":",
        b" ",
        b"\t",
        b"Content-Transfer-Encoding: base64\r\n",
        b"message/rfc822",
    ];
    for _ in 0..3000 {
        let mut wire = encode(&tree(&mut r, 1));
        for _ in 0..1 + r.below(8) {
            let at = r.below(wire.len() + 1);
            match r.below(4) {
                0 => wire.truncate(at),
                1 => {
                    if at < wire.len() {
                        wire.remove(at);
                    }
                }
                2 => {
                    if let Some(b) = wire.get_mut(at) {
                        *b = r.next() as u8;
                    }
                }
                _ => {
                    let t = tokens.get(r.below(tokens.len())).copied().unwrap_or(b"");
                    let at = at.min(wire.len());
                    wire.splice(at..at, t.iter().copied());
                }
            }
        }
        let _ = decode(&wire);
    }
    // Pure noise too.
    for _ in 0..2000 {
        let n = r.below(400);
        let noise: Vec<u8> = (0..n)
            .map(|_| {
                let t = tokens.get(r.below(tokens.len())).copied().unwrap_or(b"");
                if r.chance(50) {
                    r.next() as u8
                } else {
                    t.first().copied().unwrap_or(b'x')
                }
            })
            .collect();
        let _ = decode(&noise);
    }
}

fn weird_string(r: &mut Lcg) -> String {
    const POOL: &[&str] = &[
        "\r", "\n", "\r\n", "\0", ":", ";", "\"", "\\", "=", "?", "=?", "?=", " ", "\t", "é", "日",
        "😀", "a", "--", "*", "'", "%", "(", ")", "<", ">", ",", "\u{7f}", "\u{85}",
    ];
    let max = if r.chance(5) { 1500 } else { 12 };
    let n = r.below(max);
    (0..n).map(|_| r.pick(POOL)).collect()
}

fn weird_tree(r: &mut Lcg, depth: usize) -> Part {
    let mut part = match if depth >= 2 { r.below(3) } else { r.below(5) } {
        0 => Part::text(&weird_string(r), weird_string(r)),
        1 => {
            let mut p = Part::bytes(&weird_string(r), &weird_string(r), weird_string(r));
            if r.chance(30) {
                p.content_type.mime_type = r.pick(&["multipart", "message"]).to_owned();
            }
            p
        }
        2 => {
            let mut p = Part::text("plain", weird_string(r));
            p.body = Body::Text(weird_string(r)); // bypasses the CRLF normalisation
            p.content_type.mime_type = r.pick(&["multipart", "message", "text", "x"]).to_owned();
            p
        }
        3 => Part::multipart(
            &weird_string(r),
            (0..r.below(3)).map(|_| weird_tree(r, depth + 1)).collect(),
        ),
        _ => Part::message(weird_tree(r, depth + 1)),
    };
    for _ in 0..r.below(4) {
        part = part.header(&weird_string(r), &weird_string(r));
    }
    for _ in 0..r.below(3) {
        let (n, v) = (weird_string(r), weird_string(r));
        part.content_type.params.push((n, v));
    }
    if r.chance(40) {
        let f = weird_string(r);
        part = part.disposition(&weird_string(r), Some(&f));
    }
    part
}

#[test]
fn any_tree_encodes_smtp_safe() {
    let mut r = Lcg(7);
    for _ in 0..3000 {
        let wire = encode(&weird_tree(&mut r, 0));
        assert_smtp_safe(&wire);
        let _ = decode(&wire).expect("encoder output decodes");
    }
}
