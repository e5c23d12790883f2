//! Tests of `mime::util`.

use super::*;
use std::collections::HashSet;

#[test]
fn known_dates() {
    let cases = [
        (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 +0000"),
        (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
        (-31_536_000, "Wed, 01 Jan 1969 00:00:00 +0000"),
        (-27_723_480, "Fri, 14 Feb 1969 03:02:00 +0000"),
        (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 +0000"),
        (1_795_970_870, "Sun, 29 Nov 2026 16:47:50 +0000"),
        (-62_167_219_200, "Sat, 01 Jan 0000 00:00:00 +0000"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 +0000"),
        // Clamped.
        (i64::MIN, "Sat, 01 Jan 0000 00:00:00 +0000"),
        (i64::MAX, "Fri, 31 Dec 9999 23:59:59 +0000"),
    ];
    for (t, want) in cases {
        assert_eq!(rfc5322_date(t), want, "{t}");
        if (-62_167_219_200..=253_402_300_799).contains(&t) {
            assert_eq!(parse_rfc5322_date(want), Some(t), "{want}");
        }
    }
}

#[test]
fn now_is_now() {
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let now = parse_rfc5322_date(&rfc5322_date_now()).unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert!(before as i64 <= now && now <= after as i64);
    assert!(rfc5322_date_now().ends_with(" +0000"));
}

#[test]
fn calendar_round_trip() {
    // Every day from year 0 to 9999 (about 3.65 million): both conversions agree.
    let first = days_from_civil(0, 1, 1);
    let last = days_from_civil(9999, 12, 31);
    let mut expected = (0, 1, 1);
    for days in first..=last {
        assert_eq!(civil_from_days(days), expected, "{days}");
        assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
        let (y, m, d) = expected;
        expected = if d < days_in_month(y, m) {
            (y, m, d + 1)
        } else if m < 12 {
            (y, m + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
    }
    // Formatting and parsing agree, at odd times spread over the whole range.
    let mut t = -62_167_219_200;
    while t <= 253_402_300_799 {
        assert_eq!(parse_rfc5322_date(&rfc5322_date(t)), Some(t), "{t}");
        t += 7_654_321;
    }
}

/// Expected values from Python 3.11.7's `email.utils.mktime_tz(parsedate_tz(s))` where
/// Python parses the input; the RFC 5322 Appendix A dates first.
#[test]
fn parse_appendix_a_and_obsolete_forms() {
    let cases = [
        ("Fri, 21 Nov 1997 09:55:06 -0600", 880_127_706), // A.1.1
        (
            "Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)",
            -27_723_480,
        ), // A.5
        ("Tue, 1 Jul 2003 10:52:37 +0200", 1_057_049_557), // A.6.1
        ("21 Nov 97 09:55:06 GMT", 880_106_106),          // A.6.2
        // A.6.3 (Python returns None for this one; RFC 5322 allows CFWS around the colons).
        (
            "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
            880_127_706,
        ),
        ("26 Aug 76 14:29 EDT", 209_932_140), // RFC 822 A.3.1
        ("27 Aug 76 09:32 PDT", 210_011_520), // RFC 822 A.3.3
        ("Sun, 29 Nov 2026 16:47:50 +0000", 1_795_970_870),
        ("Sat, 31 Dec 1960 23:59:59 EST", -283_978_801),
        ("Wed, 29 Feb 2000 12:00:00 CST", 951_847_200),
        ("Thu, 13 Feb 1969 23:32:00 MST", -27_710_880),
        ("Thu, 13 Feb 1969 23:32:00 MDT", -27_714_480),
        ("Thu, 13 Feb 1969 23:32:00 CDT", -27_718_080),
        ("Thu, 13 Feb 1969 23:32:00 PST", -27_707_280),
        ("Thu, 13 Feb 1969 23:32:00 +1400", -27_786_480),
        ("1 Jan 2049 00:00:00 +0000", 2_493_072_000),
        // RFC 5322 §4.3: 50-99 is 19xx (Python: 2050), three digits add 1900 (Python: 101).
        ("1 Jan 50 00:00:00 +0000", -631_152_000),
        ("Mon, 1 Jan 101 00:00:00 +0000", 978_307_200),
    ];
    for (s, want) in cases {
        assert_eq!(parse_rfc5322_date(s), Some(want), "{s:?}");
    }
}

#[test]
fn parse_lenient_forms() {
    let t = Some(1_795_970_870);
    for s in [
        "Sun, 29 Nov 2026 16:47:50 +0000",
        "29 Nov 2026 16:47:50 +0000",
        "Sunday, 29 November 2026 16:47:50 +0000",
        "sun, 29 nov 2026 16:47:50 gmt",
        "SUN,29 NOV 2026 16:47:50 UT",
        "Sun , 29 Nov 2026 16:47:50 UTC",
        "Sun. 29 Nov. 2026 16:47:50 Z",
        "Sun, Nov 29 2026 16:47:50 +0000",
        "Sun, 29 Nov 2026 16:47:50",
        "Sun, 29 Nov 2026 16:47:50 -0000",
        "Sun, 29 Nov 2026 16:47:50 +0000 (UTC)",
        "Sun, 29 Nov 2026 16:47:50 +0000 extra words",
        "Sun, 29 Nov 2026 17:47:50 +0100",
        "Sun, 29 Nov 2026 17:47:50+0100",
        "Sun, 29 Nov 2026 15:47:50-0100",
        "Sun, 29 Nov 2026 17:47:50 +01:00",
        "Sun, 29 Nov 2026 17:47:50 +01",
        "Sun, 29 Nov 2026 16:47:50 A",
        "Sun, 29 Nov 2026 16:47:50 CEST",
        "(c) Sun, (c) 29 (c) Nov (c) 2026 (c) 16 (c) : 47 : 50 (c) +0000 (c)",
        "  Sun,\r\n 29 Nov 2026\r\n 16:47:50 +0000  ",
        "Sun, 29 Nov 2026 16:47:50 +0000 (unterminated",
    ] {
        assert_eq!(parse_rfc5322_date(s), t, "{s:?}");
    }
    assert_eq!(
        parse_rfc5322_date("Sun, 29 Nov 2026 16:47 +0000"),
        Some(1_795_970_820)
    );
    assert_eq!(
        parse_rfc5322_date("Thu, 31 Dec 1998 23:59:60 +0000"),
        Some(915_148_800),
        "a leap second is the next second"
    );
    assert_eq!(
        parse_rfc5322_date("Sep 9 2001 1:46:40 +0000"),
        Some(1_000_000_000)
    );
    assert_eq!(
        parse_rfc5322_date("9 September 2001 1:46:40"),
        Some(1_000_000_000)
    );
    assert_eq!(
        parse_rfc5322_date("9 Sept 2001 01:46:40 GMT"),
        Some(1_000_000_000)
    );
}

#[test]
fn parse_refusals() {
    for s in [
        "",
        "   ",
        "garbage",
        "Sun, 29 Nov 2026",
        "Sun, 29 Nov 2026 +0000",
        "31 Feb 2000 00:00:00 +0000",
        "29 Feb 1900 00:00:00 +0000",
        "29 Feb 2100 00:00:00 +0000",
        "0 Jan 2000 00:00:00 +0000",
        "32 Jan 2000 00:00:00 +0000",
        "1 Foo 2000 00:00:00 +0000",
        "1 Marchx 2000 00:00:00 +0000",
        "1 Jan 2000 24:00:00 +0000",
        "1 Jan 2000 12:60:00 +0000",
        "1 Jan 2000 12:00:61 +0000",
        "1 Jan 2000 12:00:00:00 +0000",
        "1 Jan 2000 12 +0000",
        "1 Jan 2000 123:00 +0000",
        "1 Jan 2000 12:00:00 +0060",
        "1 Jan 2000 12:00:00 +12345",
        "1 Jan 2000 12:00:00 +",
        "1 Jan 2000 12:00:00 +ab",
        "1 Jan 2000 12:00:00 12",
        "1 Jan 12345 00:00:00 +0000",
        "1 Jan 5 00:00:00 +0000",
        "1 Jan -5 00:00:00 +0000",
        "Sun, 29 Nov 2026 16:47:50 ±0000",
        "２９ Nov 2026 16:47:50 +0000",
    ] {
        assert_eq!(parse_rfc5322_date(s), None, "{s:?}");
    }
}

#[test]
fn date_parser_never_panics() {
    let corpus = [
        "Thu,\r\n 13\r\n Feb\r\n 1969\r\n 23:32\r\n -0330 (Newfoundland Time)",
        "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
        "Sun, 29 Nov 2026 16:47:50+0000",
        "21 Nov 97 09:55:06 GMT",
    ];
    let alphabet: Vec<char> = "0123456789:+-,() \\\r\nJanSepZé".chars().collect();
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for round in 0..30_000 {
        let mut chars: Vec<char> = corpus[round % corpus.len()].chars().collect();
        for _ in 0..(next() % 4 + 1) {
            let r = next();
            let pos = (r as usize >> 8) % (chars.len() + 1);
            match r % 4 {
                0 if pos < chars.len() => {
                    chars[pos] = alphabet[(r >> 32) as usize % alphabet.len()]
                }
                1 => chars.insert(pos, alphabet[(r >> 40) as usize % alphabet.len()]),
                2 if pos < chars.len() => {
                    chars.remove(pos);
                }
                _ => chars.truncate(pos),
            }
        }
        let s: String = chars.into_iter().collect();
        if let Some(t) = parse_rfc5322_date(&s) {
            parsed += 1;
            // Whatever parses re-formats and re-parses to the same instant.
            assert_eq!(parse_rfc5322_date(&rfc5322_date(t)), Some(t), "{s:?}");
        }
    }
    assert!(parsed > 3_000, "{parsed}");
    let long = "(".repeat(100_000) + &" :".repeat(50_000);
    assert_eq!(parse_rfc5322_date(&long), None);
}

#[test]
fn message_ids_are_unique_and_well_formed() {
    let mut seen = HashSet::new();
    for _ in 0..100_000 {
        let id = message_id("mx.example.com");
        assert!(seen.insert(id), "duplicate");
    }
    let id = message_id("mx.example.com");
    let inner = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix("@mx.example.com>"))
        .unwrap();
    assert_eq!(inner.split('.').count(), 4, "{id}");
    assert!(
        inner.chars().all(|c| c == '.' || c.is_ascii_alphanumeric()),
        "{id}"
    );
    // A valid msg-id: its inside is a valid addr-spec.
    let addr_spec = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap();
    assert!(crate::address::Mailbox::parse(addr_spec).is_ok());
    assert!(message_id("").ends_with("@localhost>"));
    assert!(message_id(" . ").ends_with("@localhost>"));
    assert!(message_id("a b<c>@d").ends_with("@abcd>"));
    assert!(message_id("host..example.").ends_with("@host.example>"));
    assert!(message_id("[192.0.2.1]").ends_with("@[192.0.2.1]>"));
    assert!(message_id("例え.jp").ends_with("@例え.jp>"));
    assert!(message_id("\r\nx").ends_with("@x>"));
}

#[test]
fn base36_digits() {
    assert_eq!(base36(0), "0");
    assert_eq!(base36(35), "z");
    assert_eq!(base36(36), "10");
    assert_eq!(base36(u128::from(u64::MAX)), "3w5e11264sgsf");
    assert_eq!(base36(u128::from(u64::MAX) + 1), "3w5e11264sgsg");
    assert_eq!(base36(u128::MAX), "f5lxx1zz5pnorynqglhzmsp33");
}

#[test]
fn message_ids_unique_across_threads() {
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..10_000).map(|_| message_id("h")).collect::<Vec<_>>()))
        .collect();
    let mut seen = HashSet::new();
    for h in handles {
        for id in h.join().unwrap() {
            assert!(seen.insert(id));
        }
    }
    assert_eq!(seen.len(), 40_000);
}

#[test]
fn boundaries() {
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let b = boundary();
        assert!(b.starts_with("=_"), "{b}");
        assert!((1..=70).contains(&b.len()), "{b}");
        // RFC 2046 bcharsnospace, and no trailing space.
        assert!(
            b.chars()
                .all(|c| c.is_ascii_alphanumeric() || "'()+_,-./:=?".contains(c)),
            "{b}"
        );
        assert!(seen.insert(b));
    }
}

#[test]
fn fqdn_guessing() {
    let resolv =
        "# comment\nnameserver 10.0.0.1\nsearch corp.example other.example\noptions ndots:1\n";
    assert_eq!(
        fqdn_from(Some("mx1.example.com\n"), None, None),
        "mx1.example.com"
    );
    assert_eq!(
        fqdn_from(Some("mx1\n"), Some("example.org\n"), Some(resolv)),
        "mx1.example.org"
    );
    assert_eq!(
        fqdn_from(Some("mx1\n"), Some("(none)\n"), Some(resolv)),
        "mx1.corp.example"
    );
    assert_eq!(
        fqdn_from(
            Some("mx1"),
            None,
            Some("domain a.example\nsearch b.example\n")
        ),
        "mx1.b.example"
    );
    assert_eq!(
        fqdn_from(
            Some("mx1"),
            None,
            Some("search b.example.\ndomain a.example\n")
        ),
        "mx1.a.example"
    );
    assert_eq!(fqdn_from(Some("mx1"), None, Some("search\n")), "mx1");
    assert_eq!(
        fqdn_from(Some("mx1"), Some("bad domain"), Some("nameserver x\n")),
        "mx1"
    );
    assert_eq!(fqdn_from(Some("mx1"), None, None), "mx1");
    assert_eq!(
        fqdn_from(Some("localhost"), Some("example.org"), None),
        "localhost"
    );
    assert_eq!(
        fqdn_from(Some("mx1.example.com."), None, None),
        "mx1.example.com"
    );
    assert_eq!(fqdn_from(Some(""), Some("example.org"), None), "localhost");
    assert_eq!(
        fqdn_from(Some("bad name"), Some("example.org"), None),
        "localhost"
    );
    assert_eq!(
        fqdn_from(None, Some("example.org"), Some(resolv)),
        "localhost"
    );
    let fqdn = guess_fqdn();
    assert!(
        !fqdn.is_empty() && !fqdn.contains(char::is_whitespace),
        "{fqdn:?}"
    );
}

#[test]
#[cfg(feature = "auth")]
fn cram_md5_reexport() {
    // RFC 2195 §2.
    assert_eq!(
        cram_md5_digest(
            "tanstaaftanstaaf",
            "<1896.697170952@postoffice.reston.mci.net>"
        ),
        "b913a602c7eda7a495b4e6e7334d3890"
    );
}
