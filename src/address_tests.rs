//! Tests of `address`.

use super::*;

const STRICT: PathOptions = PathOptions {
    strict_lengths: true,
    allow_unbracketed: true,
};
const LENIENT: PathOptions = PathOptions {
    strict_lengths: false,
    allow_unbracketed: true,
};
const BRACKETS_ONLY: PathOptions = PathOptions {
    strict_lengths: true,
    allow_unbracketed: false,
};

fn mb(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local_part: local.to_owned(),
        domain: domain.to_owned(),
    }
}

fn fwd(s: &str) -> Result<Mailbox, AddressError> {
    parse_forward_path(s, &STRICT).map(|(m, _)| m)
}

fn rev(s: &str) -> Result<Option<Mailbox>, AddressError> {
    parse_reverse_path(s, &STRICT).map(|(m, _)| m)
}

/// A domain of exactly `len` octets made of labels of at most 63 "a"s.
fn domain_of_len(len: usize) -> String {
    let mut labels = Vec::new();
    let mut left = len;
    while left > 0 {
        // Leave at least 2 octets (".a") for the next label, never a 0-length label.
        let take = if left <= 63 { left } else { 63.min(left - 2) };
        labels.push("a".repeat(take));
        left -= take;
        left = left.saturating_sub(1);
    }
    let d = labels.join(".");
    assert_eq!(d.len(), len);
    d
}

#[test]
fn default_options() {
    assert_eq!(PathOptions::default(), STRICT);
}

#[test]
fn simple_mailboxes() {
    assert_eq!(
        Mailbox::parse("user@example.com"),
        Ok(mb("user", "example.com"))
    );
    assert_eq!(Mailbox::parse("a.b+c@x"), Ok(mb("a.b+c", "x")));
    assert_eq!(
        Mailbox::parse("!#$%&'*+-/=?^_`{|}~@example.org"),
        Ok(mb("!#$%&'*+-/=?^_`{|}~", "example.org"))
    );
    assert_eq!(Mailbox::parse("u@a-b.c1.2d"), Ok(mb("u", "a-b.c1.2d")));
    assert_eq!(Mailbox::parse("u@123"), Ok(mb("u", "123")));
}

#[test]
fn bad_mailboxes() {
    assert_eq!(Mailbox::parse(""), Err(AddressError::Empty));
    assert_eq!(Mailbox::parse("user"), Err(AddressError::MissingAt));
    assert_eq!(
        Mailbox::parse("@example.com"),
        Err(AddressError::BadLocalPart)
    );
    assert_eq!(Mailbox::parse(".a@x"), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse("a.@x"), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse("a..b@x"), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse("a b@x"), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse("a(b)@x"), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse("a@"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@b@c"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x."), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@.x"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x..y"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@-x.com"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x-.com"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x_y.com"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x y"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x\u{3000}y"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("a@x\u{85}y"), Err(AddressError::BadDomain));
    assert_eq!(Mailbox::parse("<a@x>"), Err(AddressError::BadLocalPart));
}

#[test]
fn quoted_local_parts() {
    assert_eq!(Mailbox::parse(r#""john\ doe"@x"#), Ok(mb("john doe", "x")));
    assert_eq!(Mailbox::parse(r#""a\"b"@x"#), Ok(mb("a\"b", "x")));
    assert_eq!(Mailbox::parse(r#""a\\b"@x"#), Ok(mb("a\\b", "x")));
    assert_eq!(Mailbox::parse(r#""john doe"@x"#), Ok(mb("john doe", "x")));
    assert_eq!(Mailbox::parse(r#""a@b"@x"#), Ok(mb("a@b", "x")));
    assert_eq!(Mailbox::parse(r#""a.b"@x"#), Ok(mb("a.b", "x")));
    assert_eq!(Mailbox::parse(r#""..."@x"#), Ok(mb("...", "x")));
    assert_eq!(Mailbox::parse(r#""\a"@x"#), Ok(mb("a", "x")));
    assert_eq!(Mailbox::parse("\"\"@x"), Ok(mb("", "x")));
    assert_eq!(Mailbox::parse("\"jörg\"@x"), Ok(mb("jörg", "x")));
    assert_eq!(
        Mailbox::parse(r#""abc"#),
        Err(AddressError::UnterminatedQuote)
    );
    assert_eq!(
        Mailbox::parse(r#""abc\"#),
        Err(AddressError::UnterminatedQuote)
    );
    assert_eq!(
        Mailbox::parse(r#""abc\"@x"#),
        Err(AddressError::UnterminatedQuote)
    );
    assert_eq!(
        Mailbox::parse("\"a\tb\"@x"),
        Err(AddressError::BadLocalPart)
    );
    assert_eq!(
        Mailbox::parse("\"a\\\tb\"@x"),
        Err(AddressError::BadLocalPart)
    );
    assert_eq!(
        Mailbox::parse("\"a\\éb\"@x"),
        Err(AddressError::BadLocalPart)
    );
    assert_eq!(
        Mailbox::parse("\"a\0b\"@x"),
        Err(AddressError::BadLocalPart)
    );
    assert_eq!(Mailbox::parse(r#""a"b@x"#), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse(r#"a"b"@x"#), Err(AddressError::BadLocalPart));
    assert_eq!(Mailbox::parse(r#""a""#), Err(AddressError::MissingAt));
}

#[test]
fn utf8_mailboxes() {
    let m = Mailbox::parse("用户@例子.广告").unwrap();
    assert_eq!(m, mb("用户", "例子.广告"));
    assert!(!m.is_ascii());
    assert_eq!(
        Mailbox::parse("jörg@müller.de"),
        Ok(mb("jörg", "müller.de"))
    );
    assert!(!mb("a", "müller.de").is_ascii());
    assert!(!mb("jörg", "x").is_ascii());
    assert!(mb("a", "x").is_ascii());
    assert_eq!(
        Mailbox::parse("δοκιμή@παράδειγμα.δοκιμή")
            .unwrap()
            .local_part,
        "δοκιμή"
    );
    assert_eq!(
        Mailbox::parse("a@xn--mnchen-3ya.de"),
        Ok(mb("a", "xn--mnchen-3ya.de"))
    );
}

#[test]
fn address_literals() {
    assert_eq!(Mailbox::parse("a@[192.0.2.1]"), Ok(mb("a", "[192.0.2.1]")));
    assert_eq!(
        Mailbox::parse("a@[IPv6:2001:db8::1]"),
        Ok(mb("a", "[IPv6:2001:db8::1]"))
    );
    assert_eq!(Mailbox::parse("a@[ipv6:::1]"), Ok(mb("a", "[ipv6:::1]")));
    assert_eq!(
        Mailbox::parse("a@[IPv6:::ffff:192.0.2.1]"),
        Ok(mb("a", "[IPv6:::ffff:192.0.2.1]"))
    );
    assert_eq!(
        Mailbox::parse("a@[x-tag:some~thing]"),
        Ok(mb("a", "[x-tag:some~thing]"))
    );
    for bad in [
        "a@[]",
        "a@[192.0.2]",
        "a@[192.0.2.256]",
        "a@[192.0.2.1.5]",
        "a@[192.000.002.001]",
        "a@[ 192.0.2.1]",
        "a@[IPv6:2001:db8::g]",
        "a@[IPv6:2001:db8:::1]",
        "a@[IPv6:1:2:3:4:5:6:7:8:9]",
        "a@[IPv6:192.0.2.1]",
        "a@[IPv6:]",
        "a@[:x]",
        "a@[tag-:x]",
        "a@[ta_g:x]",
        "a@[tag:]",
        "a@[tag:a b]",
        "a@[tag:a\\b]",
        "a@[tag:a[b]",
        "a@[tag:é]",
        "a@[192.0.2.1",
        "a@[192.0.2.1]x",
        "a@[192.0.2.1].com",
        "a@x[192.0.2.1]",
    ] {
        let expected = if bad == "a@x[192.0.2.1]" {
            AddressError::BadDomain
        } else {
            AddressError::BadAddressLiteral
        };
        assert_eq!(Mailbox::parse(bad), Err(expected), "{bad}");
    }
    assert_eq!(
        fwd("<a@[IPv6:2001:db8::1]> X"),
        Ok(mb("a", "[IPv6:2001:db8::1]"))
    );
    assert_eq!(
        fwd("<a@[IPv6:2001:db8::1>"),
        Err(AddressError::BadAddressLiteral)
    );
    assert_eq!(fwd("<a@[1.2.3.4]x>"), Err(AddressError::BadAddressLiteral));
}

#[test]
fn reverse_paths() {
    assert_eq!(parse_reverse_path("<>", &STRICT), Ok((None, "")));
    assert_eq!(
        parse_reverse_path("<> SIZE=10", &STRICT),
        Ok((None, " SIZE=10"))
    );
    assert_eq!(
        parse_reverse_path("<a@b> SIZE=10 BODY=8BITMIME", &STRICT),
        Ok((Some(mb("a", "b")), " SIZE=10 BODY=8BITMIME"))
    );
    assert_eq!(rev("<a@b>"), Ok(Some(mb("a", "b"))));
    assert_eq!(rev("<Postmaster>"), Err(AddressError::MissingAt));
    assert_eq!(rev("<a@b"), Err(AddressError::MissingBracket));
    assert_eq!(rev("<"), Err(AddressError::MissingBracket));
    assert_eq!(rev("<a"), Err(AddressError::MissingAt));
    assert_eq!(rev("<a@b>x"), Err(AddressError::JunkAfterPath));
    assert_eq!(rev("<a@b>>"), Err(AddressError::JunkAfterPath));
    assert_eq!(rev("<a@b> "), Ok(Some(mb("a", "b"))));
    assert_eq!(rev("<a@b>\tX"), Ok(Some(mb("a", "b"))));
    assert_eq!(rev("< a@b>"), Err(AddressError::BadLocalPart));
    assert_eq!(rev("<a@b >"), Err(AddressError::BadDomain));
    assert_eq!(rev("<a@b,c>"), Err(AddressError::BadDomain));
    assert_eq!(rev(""), Err(AddressError::Empty));
    assert_eq!(rev(" <a@b>"), Err(AddressError::Empty));
    assert_eq!(rev(r#"<"a>b"@x>"#), Ok(Some(mb("a>b", "x"))));
    assert_eq!(rev(r#"<"john\ doe"@x>"#), Ok(Some(mb("john doe", "x"))));
    assert_eq!(rev("<jörg@bücher.de>"), Ok(Some(mb("jörg", "bücher.de"))));
}

#[test]
fn junk_after_null_path() {
    assert_eq!(rev("<>x"), Err(AddressError::JunkAfterPath));
}

#[test]
fn forward_paths_and_postmaster() {
    assert_eq!(
        parse_forward_path("<a@b> NOTIFY=NEVER", &STRICT),
        Ok((mb("a", "b"), " NOTIFY=NEVER"))
    );
    assert_eq!(fwd("<>"), Err(AddressError::NullNotAllowed));
    assert_eq!(fwd("<Postmaster>"), Ok(mb("Postmaster", "")));
    assert_eq!(fwd("<postmaster>"), Ok(mb("postmaster", "")));
    assert_eq!(fwd("<POSTMASTER>"), Ok(mb("POSTMASTER", "")));
    assert_eq!(
        fwd("<Postmaster@example.com>"),
        Ok(mb("Postmaster", "example.com"))
    );
    assert_eq!(fwd("Postmaster"), Ok(mb("Postmaster", "")));
    assert_eq!(fwd("<\"Postmaster\">"), Err(AddressError::MissingAt));
    assert_eq!(fwd("<@a.example:Postmaster>"), Err(AddressError::MissingAt));
    assert_eq!(fwd("<Postmaste>"), Err(AddressError::MissingAt));
    assert_eq!(fwd("<Postmaster"), Err(AddressError::MissingBracket));
    assert_eq!(fwd("<Postmaster x>"), Err(AddressError::BadLocalPart));
    assert_eq!(mb("Postmaster", "").to_string(), "Postmaster");
}

#[test]
fn source_routes_are_dropped() {
    assert_eq!(
        fwd("<@a.example,@b.example:user@c.example>"),
        Ok(mb("user", "c.example"))
    );
    assert_eq!(
        fwd("<@a.example:user@c.example>"),
        Ok(mb("user", "c.example"))
    );
    assert_eq!(
        rev("<@a.example:user@c.example>"),
        Ok(Some(mb("user", "c.example")))
    );
    assert_eq!(
        fwd("@a.example:user@c.example"),
        Ok(mb("user", "c.example"))
    );
    for bad in [
        "<@a.example>",
        "<@:user@c>",
        "<@a..b:user@c>",
        "<@a,b:user@c>",
        "<@a,:user@c>",
        "<@a;user@c>",
        "<@[1.2.3.4]:user@c>",
        "<@a.example",
    ] {
        assert_eq!(fwd(bad), Err(AddressError::BadRoute), "{bad}");
    }
    assert_eq!(fwd("<@a:>"), Err(AddressError::BadLocalPart));
}

#[test]
fn unbracketed_form() {
    assert_eq!(
        parse_reverse_path("a@b SIZE=1", &STRICT),
        Ok((Some(mb("a", "b")), " SIZE=1"))
    );
    assert_eq!(parse_forward_path("a@b", &STRICT), Ok((mb("a", "b"), "")));
    assert_eq!(fwd("a@b>"), Err(AddressError::BadDomain));
    assert_eq!(fwd(r#""a b"@c"#), Err(AddressError::UnterminatedQuote));
    assert_eq!(
        parse_forward_path("a@b", &BRACKETS_ONLY),
        Err(AddressError::MissingBracket)
    );
    assert_eq!(
        parse_reverse_path("<a@b>", &BRACKETS_ONLY),
        Ok((Some(mb("a", "b")), ""))
    );
}

#[test]
fn local_part_length_boundary() {
    let ok = format!("<{}@x>", "a".repeat(64));
    let long = format!("<{}@x>", "a".repeat(65));
    assert!(fwd(&ok).is_ok());
    assert_eq!(fwd(&long), Err(AddressError::LocalPartTooLong));
    assert!(parse_forward_path(&long, &LENIENT).is_ok());
    // Counted as sent, quotes and escapes included.
    let quoted = format!("<\"{}\"@x>", "a".repeat(62));
    assert!(fwd(&quoted).is_ok());
    let quoted = format!("<\"{}\\ \"@x>", "a".repeat(61));
    assert_eq!(fwd(&quoted), Err(AddressError::LocalPartTooLong));
    assert_eq!(
        Mailbox::parse(&format!("{}@x", "a".repeat(65))),
        Err(AddressError::LocalPartTooLong)
    );
}

#[test]
fn domain_length_boundary() {
    let d255 = domain_of_len(255);
    let d256 = domain_of_len(256);
    assert_eq!(Mailbox::parse(&format!("a@{d255}")), Ok(mb("a", &d255)));
    assert_eq!(
        Mailbox::parse(&format!("a@{d256}")),
        Err(AddressError::DomainTooLong)
    );
    assert_eq!(
        fwd(&format!("<a@{d256}>")),
        Err(AddressError::DomainTooLong)
    );
    // A 255-octet domain fits the domain limit but not the 256-octet path.
    assert_eq!(fwd(&format!("<a@{d255}>")), Err(AddressError::PathTooLong));
    assert!(parse_forward_path(&format!("<a@{d256}>"), &LENIENT).is_ok());
}

#[test]
fn path_length_boundary() {
    let local = "a".repeat(64);
    // "<" + 64 + "@" + domain + ">" = 256
    let d = domain_of_len(256 - 67);
    let ok = format!("<{local}@{d}>");
    assert_eq!(ok.len(), 256);
    assert!(fwd(&ok).is_ok());
    let d = domain_of_len(257 - 67);
    let long = format!("<{local}@{d}>");
    assert_eq!(long.len(), 257);
    assert_eq!(fwd(&long), Err(AddressError::PathTooLong));
    assert!(parse_forward_path(&long, &LENIENT).is_ok());
    // Unbracketed: counted as if bracketed.
    assert!(fwd(&ok[1..ok.len() - 1]).is_ok());
    assert_eq!(
        fwd(&long[1..long.len() - 1]),
        Err(AddressError::PathTooLong)
    );
    // The route counts towards the path.
    let routed = format!("<@rr:{}@{}>", "a".repeat(60), domain_of_len(189));
    assert_eq!(routed.len(), 256);
    assert!(fwd(&routed).is_ok());
    let routed = format!("<@rrr:{}@{}>", "a".repeat(60), domain_of_len(189));
    assert_eq!(fwd(&routed), Err(AddressError::PathTooLong));
}

#[test]
fn label_length() {
    let ok = format!("a@{}.com", "b".repeat(63));
    let long = format!("a@{}.com", "b".repeat(64));
    assert!(Mailbox::parse(&ok).is_ok());
    assert_eq!(Mailbox::parse(&long), Err(AddressError::BadDomain));
    // The label limit is a DNS rule, so it holds in lenient mode too.
    assert_eq!(
        parse_forward_path(&long, &LENIENT),
        Err(AddressError::BadDomain)
    );
    // U-labels are measured in A-label form, not in UTF-8 octets: 30 x U+65E5 is 90 octets
    // but a short A-label.
    assert!(Mailbox::parse(&format!("a@{}.jp", "日".repeat(30))).is_ok());
    // 40 consecutive CJK characters: 120 octets, A-label of 61.
    let close: String = (0x4E00..0x4E28).filter_map(char::from_u32).collect();
    assert_eq!(label_ascii_len(&close), Some(61));
    assert!(Mailbox::parse(&format!("a@{close}.cn")).is_ok());
    // 20 scattered ones: only 60 octets, but an A-label of 64.
    let scattered: String = (0..20)
        .filter_map(|i| char::from_u32(0x4E00 + i * 997))
        .collect();
    assert_eq!(scattered.len(), 60);
    assert_eq!(label_ascii_len(&scattered), Some(64));
    assert_eq!(
        Mailbox::parse(&format!("a@{scattered}.cn")),
        Err(AddressError::BadDomain)
    );
}

#[test]
fn punycode_lengths_match_known_encodings() {
    let cases: [(&str, &str); 5] = [
        ("münchen", "mnchen-3ya"),
        ("bücher", "bcher-kva"),
        ("日本語", "wgv71a119e"),
        ("テスト", "zckzah"),
        ("中国", "fiqs8s"),
    ];
    for (label, encoded) in cases {
        assert_eq!(punycode_len(label), Some(encoded.len()), "{label}");
    }
    // RFC 3492 §7.1 samples (B) and (L).
    let chinese: String = [
        0x4ED6, 0x4EEC, 0x4E3A, 0x4EC0, 0x4E48, 0x4E0D, 0x8BF4, 0x4E2D, 0x6587,
    ]
    .into_iter()
    .filter_map(char::from_u32)
    .collect();
    assert_eq!(
        punycode_len(&chinese),
        Some("ihqwcrb4cv8a8dqg056pqjye".len())
    );
    let mixed: String = [0x33, 0x5E74, 0x42, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F]
        .into_iter()
        .filter_map(char::from_u32)
        .collect();
    assert_eq!(punycode_len(&mixed), Some("3B-ww4c5e180e575a65lsy2b".len()));
    assert!(punycode_len("\u{10FFFF}\u{80}a").is_some());
}

#[test]
fn display_quotes_only_when_needed() {
    assert_eq!(mb("user", "example.com").to_string(), "user@example.com");
    assert_eq!(mb("a.b", "x").to_string(), "a.b@x");
    assert_eq!(mb("john doe", "x").to_string(), r#""john doe"@x"#);
    assert_eq!(mb("a\"b", "x").to_string(), r#""a\"b"@x"#);
    assert_eq!(mb("a\\b", "x").to_string(), r#""a\\b"@x"#);
    assert_eq!(mb("a..b", "x").to_string(), r#""a..b"@x"#);
    assert_eq!(mb(".a", "x").to_string(), r#"".a"@x"#);
    assert_eq!(mb("", "x").to_string(), r#"""@x"#);
    assert_eq!(mb("jörg", "müller.de").to_string(), "jörg@müller.de");
    assert_eq!(mb("a", "[192.0.2.1]").to_string(), "a@[192.0.2.1]");
}

#[test]
fn display_round_trips() {
    for s in [
        r#""john\ doe"@x"#,
        r#""a\"b"@x"#,
        r#""a\\b"@x"#,
        r#""a@b"@x"#,
        "\"\"@x",
        "plain@x.y",
        "jörg@müller.de",
        "a@[IPv6:2001:db8::1]",
    ] {
        let m = Mailbox::parse(s).unwrap();
        assert_eq!(Mailbox::parse(&m.to_string()), Ok(m.clone()), "{s}");
    }
}

#[test]
fn errors_display() {
    assert_eq!(
        AddressError::MissingAt.to_string(),
        "missing @ between local part and domain"
    );
    let e: Box<dyn std::error::Error> = Box::new(AddressError::BadDomain);
    assert_eq!(e.to_string(), "malformed domain");
}

/// Every prefix and every single-character corruption of some valid paths: no panic, and
/// whatever is accepted displays to something that parses back to the same mailbox.
#[test]
fn mutated_paths_never_panic() {
    let seeds = [
        "<user@example.com> SIZE=1",
        r#"<"john\ doe"@x.example>"#,
        "<@a.example,@b.example:user@c.example>",
        "<a@[IPv6:2001:db8::1]>",
        "<a@[192.0.2.1]>",
        "<a@[tag:val]>",
        "<jörg@bücher.de>",
        "<用户@例子.广告>",
        "<Postmaster>",
        "<>",
        "a@b.c",
    ];
    let subs = [
        '<',
        '>',
        '@',
        '"',
        '\\',
        '.',
        ',',
        ':',
        '[',
        ']',
        ' ',
        '\t',
        '\0',
        'é',
        '日',
        '-',
        'a',
        '\u{10FFFF}',
    ];
    let mut inputs = Vec::new();
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for i in 0..=chars.len() {
            inputs.push(chars[..i].iter().collect::<String>());
            if i < chars.len() {
                let mut deleted = chars.clone();
                deleted.remove(i);
                inputs.push(deleted.into_iter().collect());
                for &sub in &subs {
                    let mut changed = chars.clone();
                    changed[i] = sub;
                    inputs.push(changed.iter().collect());
                    changed.insert(i, sub);
                    inputs.push(changed.into_iter().collect());
                }
            }
        }
    }
    for input in &inputs {
        for opts in [STRICT, LENIENT, BRACKETS_ONLY] {
            let reverse = parse_reverse_path(input, &opts);
            let forward = parse_forward_path(input, &opts);
            for m in [reverse.ok().and_then(|r| r.0), forward.ok().map(|r| r.0)]
                .into_iter()
                .flatten()
            {
                // Mailbox::parse applies strict lengths, so only strict results must round-trip.
                if !m.domain.is_empty() && opts.strict_lengths {
                    assert_eq!(Mailbox::parse(&m.to_string()), Ok(m.clone()), "{input:?}");
                }
            }
        }
        let _ = Mailbox::parse(input).map(|m| m.to_string());
    }
}

/// The bit-set character classes answer as the definitions they replaced.
#[test]
fn character_classes_match_their_definitions() {
    for c in (0..0x3000)
        .filter_map(char::from_u32)
        .chain(['\u{85}', '\u{a0}', '\u{2028}'])
    {
        let atext = c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
        assert_eq!(is_atext(c), atext, "{c:?}");
        let domain = c.is_ascii_alphanumeric()
            || c == '-'
            || c == '.'
            || (!c.is_ascii() && !c.is_whitespace() && !c.is_control());
        assert_eq!(is_domain_char(c), domain, "{c:?}");
    }
    let s = "a\u{e9}b";
    let mut cur = Cursor::new(s);
    assert_eq!(cur.bump(), Some('a'));
    assert_eq!(cur.bump(), Some('\u{e9}'));
    assert_eq!(cur.peek(), Some('b'));
}
