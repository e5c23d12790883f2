//! Unit tests of the address parsers and formatter.

use super::format::is_plain_phrase;
use super::*;
use crate::address::Mailbox;
use crate::mime::encoded_word;

fn mb(name: &str, addr: &str) -> NamedMailbox {
    NamedMailbox::new(Some(name), addr)
}

fn m(name: &str, addr: &str) -> Address {
    Address::Mailbox(mb(name, addr))
}

fn g(name: &str, members: &[(&str, &str)]) -> Address {
    Address::Group {
        name: name.to_owned(),
        members: members.iter().map(|&(n, a)| mb(n, a)).collect(),
    }
}

/// Strict parse that must succeed, and must agree with the lenient parser.
fn strict(s: &str) -> Vec<Address> {
    let list = parse_list_strict(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert_eq!(parse_list(s), list, "lenient differs on {s:?}");
    list
}

#[test]
fn rfc5322_appendix_a() {
    // A.1.1
    assert_eq!(
        strict("John Doe <jdoe@machine.example>"),
        [m("John Doe", "jdoe@machine.example")]
    );
    assert_eq!(
        strict("Mary Smith <mary@example.net>"),
        [m("Mary Smith", "mary@example.net")]
    );
    // A.1.2
    assert_eq!(
        strict("\"Joe Q. Public\" <john.q.public@example.com>"),
        [m("Joe Q. Public", "john.q.public@example.com")]
    );
    assert_eq!(
        strict("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
        [
            m("Mary Smith", "mary@x.test"),
            m("", "jdoe@example.org"),
            m("Who?", "one@y.test")
        ]
    );
    assert_eq!(
        strict("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"),
        [
            m("", "boss@nil.test"),
            m("Giant; \"Big\" Box", "sysservices@example.net")
        ]
    );
    // A.1.3
    assert_eq!(
        strict("Pete <pete@silly.example>"),
        [m("Pete", "pete@silly.example")]
    );
    assert_eq!(
        strict("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
        [g(
            "A Group",
            &[
                ("Ed Jones", "c@a.test"),
                ("", "joe@where.test"),
                ("John", "jdoe@one.test")
            ]
        )]
    );
    assert_eq!(
        strict("Undisclosed recipients:;"),
        [g("Undisclosed recipients", &[])]
    );
    // A.2
    assert_eq!(
        strict("\"Mary Smith: Personal Account\" <smith@home.example>"),
        [m("Mary Smith: Personal Account", "smith@home.example")]
    );
    // A.3
    assert_eq!(
        strict("Jane Brown <j-brown@other.example>"),
        [m("Jane Brown", "j-brown@other.example")]
    );
    // A.4
    assert_eq!(
        strict("John Doe <jdoe@node.example>"),
        [m("John Doe", "jdoe@node.example")]
    );
    // A.5
    assert_eq!(
        strict("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
        [m("Pete", "pete@silly.test")]
    );
    assert_eq!(
        strict(
            "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)"
        ),
        [g(
            "A Group",
            &[
                ("Chris Jones", "c@public.example"),
                ("", "joe@example.org"),
                ("John", "jdoe@one.test")
            ]
        )]
    );
    assert_eq!(
        strict("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;"),
        [g("Hidden recipients", &[])]
    );
    // A.6.1
    assert_eq!(
        strict("Joe Q. Public <john.q.public@example.com>"),
        [m("Joe Q. Public", "john.q.public@example.com")]
    );
    assert_eq!(
        strict("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example"),
        [
            m("Mary Smith", "mary@example.net"),
            m("", "jdoe@test.example")
        ]
    );
    // A.6.2 has only current-syntax addresses (its date is tested in util).
    // A.6.3
    assert_eq!(
        strict("John Doe <jdoe@machine(comment).  example>"),
        [m("John Doe", "jdoe@machine.example")]
    );
    assert_eq!(
        strict("Mary Smith\r\n  \r\n          <mary@example.net>"),
        [m("Mary Smith", "mary@example.net")]
    );
}

/// Expected values from Python 3.11.7's `email.headerregistry` (the modern parser):
/// `HeaderRegistry()('To', s).groups`, a group with `display_name` None being a bare
/// mailbox. Inputs where we decide otherwise are in `python_deviations`.
#[test]
fn python_parity() {
    let cases: Vec<(&str, Vec<Address>)> = vec![
        ("Alice <a@b>", vec![m("Alice", "a@b")]),
        (
            "\"Joe Q. Public\" <john.q.public@example.com>",
            vec![m("Joe Q. Public", "john.q.public@example.com")],
        ),
        (
            "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
            vec![
                m("Mary Smith", "mary@x.test"),
                m("", "jdoe@example.org"),
                m("Who?", "one@y.test"),
            ],
        ),
        (
            "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
            vec![
                m("", "boss@nil.test"),
                m("Giant; \"Big\" Box", "sysservices@example.net"),
            ],
        ),
        (
            "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
            vec![g(
                "A Group",
                &[
                    ("Ed Jones", "c@a.test"),
                    ("", "joe@where.test"),
                    ("John", "jdoe@one.test"),
                ],
            )],
        ),
        (
            "Undisclosed recipients:;",
            vec![g("Undisclosed recipients", &[])],
        ),
        (
            "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
            vec![m("Pete", "pete@silly.test")],
        ),
        (
            "A Group(Some people):Chris Jones <c@(Chris's host.)public.example>,joe@example.org,John <jdoe@one.test> (my dear friend); (the end of the group)",
            vec![g(
                "A Group",
                &[
                    ("Chris Jones", "c@public.example"),
                    ("", "joe@example.org"),
                    ("John", "jdoe@one.test"),
                ],
            )],
        ),
        (
            "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
            vec![g("Hidden recipients", &[])],
        ),
        (
            "Joe Q. Public <john.q.public@example.com>",
            vec![m("Joe Q. Public", "john.q.public@example.com")],
        ),
        (
            "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
            vec![
                m("Mary Smith", "mary@example.net"),
                m("", "jdoe@test.example"),
            ],
        ),
        (
            "John Doe <jdoe@machine(comment).  example>",
            vec![m("John Doe", "jdoe@machine.example")],
        ),
        ("  <mary@example.net>", vec![m("", "mary@example.net")]),
        (
            "\"john doe\"@example.com",
            vec![m("", "\"john doe\"@example.com")],
        ),
        ("\"john\"@example.com", vec![m("", "john@example.com")]),
        ("a@[192.168.0.1]", vec![m("", "a@[192.168.0.1]")]),
        ("a@[ 1.2.3.4 ]", vec![m("", "a@[1.2.3.4]")]),
        (
            "Alice <a@[IPv6:2001:db8::1]>",
            vec![m("Alice", "a@[IPv6:2001:db8::1]")],
        ),
        (
            "André <andre@example.com>",
            vec![m("André", "andre@example.com")],
        ),
        ("José Ñ <j@ñ.example>", vec![m("José Ñ", "j@ñ.example")]),
        (
            "山田 太郎 <taro@例え.jp>",
            vec![m("山田 太郎", "taro@例え.jp")],
        ),
        (
            "\"山田 太郎\" <taro@example.jp>",
            vec![m("山田 太郎", "taro@example.jp")],
        ),
        ("ñoño@example.com", vec![m("", "ñoño@example.com")]),
        ("\"\" <a@b>", vec![m("", "a@b")]),
        (" , , a@b, ,", vec![m("", "a@b")]),
        ("Alice <a@b", vec![m("Alice", "a@b")]),
        ("a@b>", vec![m("", "a@b")]),
        ("\"Alice\" (nick) <a@b>", vec![m("Alice", "a@b")]),
        ("Alice (nick) <a@b>", vec![m("Alice", "a@b")]),
        ("\"a\\\"b\\\\c\" <x@y>", vec![m("a\"b\\c", "x@y")]),
        (
            "\"John \\\"the man\\\" Doe\" <j@x>",
            vec![m("John \"the man\" Doe", "j@x")],
        ),
        ("\"\\\\\" <a@b>", vec![m("\\", "a@b")]),
        ("\"a\\(b\" <x@y>", vec![m("a(b", "x@y")]),
        (
            "Group: a@b;, c@d",
            vec![g("Group", &[("", "a@b")]), m("", "c@d")],
        ),
        ("Group: a@b", vec![g("Group", &[("", "a@b")])]),
        (
            "Team: a@b, Alice <c@d>;, e@f",
            vec![g("Team", &[("", "a@b"), ("Alice", "c@d")]), m("", "e@f")],
        ),
        ("Ed <e@x>, Group: ;", vec![m("Ed", "e@x"), g("Group", &[])]),
        ("a.b.c@d.e", vec![m("", "a.b.c@d.e")]),
        ("Mr. Smith <s@x>", vec![m("Mr. Smith", "s@x")]),
        ("Mr.Smith <s@x>", vec![m("Mr.Smith", "s@x")]),
        ("a b <c@d> e", vec![m("a b", "c@d")]),
        ("<@a,@b:c@d>", vec![m("", "c@d")]),
        ("\"a\".\"b\"@c", vec![m("", "a.b@c")]),
        ("\"a\". b @ c . d", vec![m("", "a.b@c.d")]),
        (
            "\"Mary Smith: Personal Account\" <smith@home.example>",
            vec![m("Mary Smith: Personal Account", "smith@home.example")],
        ),
        ("Joe  Smith <j@s>", vec![m("Joe Smith", "j@s")]),
        ("\"Joe  Smith\" <j@s>", vec![m("Joe  Smith", "j@s")]),
        ("a\tb <c@d>", vec![m("a b", "c@d")]),
        ("  a@b  ", vec![m("", "a@b")]),
        ("a@b,c@d", vec![m("", "a@b"), m("", "c@d")]),
        (
            "\"quoted, comma\" <a@b>, c@d",
            vec![m("quoted, comma", "a@b"), m("", "c@d")],
        ),
        ("(comment only)", vec![]),
        ("", vec![]),
        (",", vec![]),
        ("(unterminated a@b", vec![]),
        (
            "George Jones<Group@Host>",
            vec![m("George Jones", "Group@Host")],
        ),
        (
            "\"Al Neuman\"@Mad-Host, Sam.Irving@Other-Host",
            vec![
                m("", "\"Al Neuman\"@Mad-Host"),
                m("", "Sam.Irving@Other-Host"),
            ],
        ),
        (
            "Important folk: Tom Softwood <Balsa@Tree.Root>, \"Sam Irving\"@Other-Host;, Standard Distribution: /main/davis/people/standard@Other-Host, \"<Jones>standard.dist.3\"@Tops-20-Host>;",
            vec![
                g(
                    "Important folk",
                    &[
                        ("Tom Softwood", "Balsa@Tree.Root"),
                        ("", "\"Sam Irving\"@Other-Host"),
                    ],
                ),
                g(
                    "Standard Distribution",
                    &[
                        ("", "/main/davis/people/standard@Other-Host"),
                        ("", "\"<Jones>standard.dist.3\"@Tops-20-Host"),
                    ],
                ),
            ],
        ),
        (
            "much.\"more\\ unusual\"@example.com",
            vec![m("", "\"much.more unusual\"@example.com")],
        ),
        (
            "very.\"(),:;<>[]\".VERY.\"very@\\\\ \\\"very\".unusual@strange.example.com",
            vec![m(
                "",
                "\"very.(),:;<>[].VERY.very@\\\\ \\\"very.unusual\"@strange.example.com",
            )],
        ),
        (
            "\"first\\\\\\\"last\"@iana.org",
            vec![m("", "\"first\\\\\\\"last\"@iana.org")],
        ),
        (
            "cal(woo(yay)hoopla)@iamcal.com",
            vec![m("", "cal@iamcal.com")],
        ),
        (
            "a(a(b(c)d(e(f))g)h(i)j)@iana.org",
            vec![m("", "a@iana.org")],
        ),
        (
            "\"foo\"(yay)@(hoopla)[1.2.3.4]",
            vec![m("", "foo@[1.2.3.4]")],
        ),
        (
            "first.(\")middle.last(\")@iana.org",
            vec![m("", "first.middle.last@iana.org")],
        ),
        (
            "+@b.c, user%uucp!path@berkeley.edu",
            vec![m("", "+@b.c"), m("", "user%uucp!path@berkeley.edu")],
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_list(input), want, "{input:?}");
    }
}

/// Where we differ from Python 3.11.7 on purpose; `HR` is `email.headerregistry`, `GA`
/// `email.utils.getaddresses`.
#[test]
fn python_deviations() {
    let cases: Vec<(&str, Vec<Address>)> = vec![
        // The comment after a bare address is its name (GA: 'Alice'; HR: no name).
        ("a@b (Alice)", vec![m("Alice", "a@b")]),
        ("<a@b> (Alice)", vec![m("Alice", "a@b")]), // GA and HR: no name
        ("a@b (one) (two)", vec![m("one two", "a@b")]), // GA: 'one two'
        ("a(x)@b (Alice)", vec![m("Alice", "a@b")]), // GA: 'x x Alice'
        ("a@b (Alice (Al) Smith)", vec![m("Alice (Al) Smith", "a@b")]), // GA: 'Alice Al Smith'
        ("x@y (a\\(b)", vec![m("a(b", "x@y")]),     // GA: 'a(b'
        (
            "(foo)cal(bar)@(baz)iamcal.com(quux)",
            vec![m("quux", "cal@iamcal.com")], // HR: no name
        ),
        // Entries without a domain are skipped (HR and GA keep 'alice', 'junk', '<>'...).
        ("alice", vec![]),
        ("Alice <alice>", vec![]),
        ("<>", vec![]),
        ("\"\"", vec![]),
        ("Mary Smith", vec![]),  // HR: '"Mary Smith"'
        ("foo bar baz", vec![]), // HR: '"foo bar baz"'
        ("a@b, junk, c@d", vec![m("", "a@b"), m("", "c@d")]),
        ("@b", vec![]),                   // HR: '<>'
        ("a@b.", vec![]),                 // HR: '<>'
        ("Alice a@b", vec![]),            // HR: '"Alice a"@b'
        ("\"unterminated <a@b>", vec![]), // HR: '"unterminated <a@b>"'
        // A local part that is not a dot-atom is re-quoted (HR writes a..b@c).
        ("a..b@c", vec![m("", "\"a..b\"@c")]),
        (".a@b", vec![m("", "\".a\"@b")]),
        ("\"a..b\"@c", vec![m("", "\"a..b\"@c")]),
        // A missing comma starts a new entry (GA agrees on the first; HR keeps only a@b).
        ("<a@b> <c@d>", vec![m("", "a@b"), m("", "c@d")]),
        ("a@b c@d", vec![m("", "a@b"), m("", "c@d")]),
        // A stray ';' separates entries (HR stops at it).
        ("a@b; c@d", vec![m("", "a@b"), m("", "c@d")]),
        // Junk after a complete address is dropped (HR: '<>').
        ("a@b@c", vec![m("", "a@b")]),
        // A group inside a group is skipped (HR: member 'B').
        ("A:B:c@d;", vec![g("A", &[])]),
        // HR raises AttributeError on two groups separated by ';' only.
        (
            "G1: a@b; G2: c@d;",
            vec![g("G1", &[("", "a@b")]), g("G2", &[("", "c@d")])],
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_list(input), want, "{input:?}");
    }
}

#[test]
fn encoded_words_go_through_the_decoder() {
    // HR decodes these to 'André Pirard', 'Keld Jørn Simonsen' and 'André'.
    let cases = [
        (
            "=?utf-8?q?Andr=C3=A9?= Pirard <PIRARD@vm1.ulg.ac.be>",
            "=?utf-8?q?Andr=C3=A9?= Pirard",
            "PIRARD@vm1.ulg.ac.be",
        ),
        (
            "=?iso-8859-1?q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
            "=?iso-8859-1?q?Keld_J=F8rn_Simonsen?=",
            "keld@dkuug.dk",
        ),
        // In a quoted string too, as Python and real-world readers do.
        (
            "\"=?utf-8?b?QW5kcsOp?=\" <andre@example.com>",
            "=?utf-8?b?QW5kcsOp?=",
            "andre@example.com",
        ),
        // In the comment that names a bare address.
        (
            "andre@example.com (=?utf-8?b?QW5kcsOp?=)",
            "=?utf-8?b?QW5kcsOp?=",
            "andre@example.com",
        ),
    ];
    for (input, raw_name, addr) in cases {
        let want = NamedMailbox::new(Some(&encoded_word::decode(raw_name)), addr);
        assert_eq!(
            parse_list(input),
            [Address::Mailbox(want.clone())],
            "{input:?}"
        );
        assert_eq!(parse_mailbox(input), Ok(want), "{input:?}");
    }
    // Group names as well.
    assert_eq!(
        parse_list("=?utf-8?q?Les_=C3=A9l=C3=A8ves?=: a@b;"),
        [g(
            &encoded_word::decode("=?utf-8?q?Les_=C3=A9l=C3=A8ves?="),
            &[("", "a@b")]
        )]
    );
}

#[test]
fn strict_errors() {
    use AddrError::*;
    let cases = [
        ("", Empty),
        (" (only a comment) , ", Empty),
        ("\"abc", UnterminatedQuote { offset: 0 }),
        ("a@b (abc", UnterminatedComment { offset: 4 }),
        ("a@[1.2.3.4", UnterminatedDomainLiteral { offset: 2 }),
        ("Alice <a@b", MissingAngleClose { offset: 6 }),
        ("<>", EmptyAngleAddr { offset: 0 }),
        ("alice", MissingAt { offset: 5 }),
        ("Alice <alice>", MissingAt { offset: 12 }),
        ("a..b@c", BadLocalPart { offset: 0 }),
        ("a.@c", BadLocalPart { offset: 0 }),
        ("Alice a@b", BadLocalPart { offset: 6 }),
        ("\"a\tb\"@c", BadLocalPart { offset: 0 }),
        ("@b", BadLocalPart { offset: 0 }),
        ("a@", BadDomain { offset: 2 }),
        ("a@b.", BadDomain { offset: 4 }),
        ("a@b..c", BadDomain { offset: 4 }),
        ("a@[x[y]", BadDomain { offset: 2 }),
        ("<@a,b:c@d>", BadRoute { offset: 1 }),
        ("<@a:@b:c@d>", BadLocalPart { offset: 4 }),
        ("<@:c@d>", BadRoute { offset: 1 }),
        ("<@a c@d>", BadRoute { offset: 1 }),
        (". Smith <a@b>", BadDisplayName { offset: 0 }),
        (": a@b;", BadDisplayName { offset: 0 }),
        ("<a@b> <c@d>", MissingComma { offset: 6 }),
        ("a@b c@d", MissingComma { offset: 4 }),
        ("G: a@b c@d;", MissingComma { offset: 7 }),
        ("G1: a@b; G2: c@d;", MissingComma { offset: 9 }),
        ("G: a@b", UnclosedGroup { offset: 1 }),
        ("G: H: a@b;;", GroupNotAllowed { offset: 4 }),
        (
            "a@b; c@d",
            Unexpected {
                found: ';',
                offset: 3,
            },
        ),
        (
            "a@b>",
            Unexpected {
                found: '>',
                offset: 3,
            },
        ),
        (
            "Alice <a@b c>",
            Unexpected {
                found: 'c',
                offset: 11,
            },
        ),
        (
            "a)@b",
            Unexpected {
                found: ')',
                offset: 1,
            },
        ),
        (
            "a\u{0}@b",
            Unexpected {
                found: '\u{0}',
                offset: 1,
            },
        ),
        ("Alice <", UnexpectedEnd),
    ];
    for (input, want) in cases {
        assert_eq!(parse_list_strict(input), Err(want.clone()), "{input:?}");
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn lenient_tolerances() {
    // Everything the strict parser refuses above, the lenient one survives.
    assert_eq!(parse_list("Alice <a@b"), [m("Alice", "a@b")]);
    assert_eq!(parse_list("Alice <a@b (unterminated"), [m("Alice", "a@b")]);
    assert_eq!(parse_list("a@b (Alice"), [m("Alice", "a@b")]);
    assert_eq!(parse_list("G: a@b"), [g("G", &[("", "a@b")])]);
    assert_eq!(parse_list(": a@b;"), [g("", &[("", "a@b")])]);
    assert_eq!(parse_list(". Smith <a@b>"), [m(". Smith", "a@b")]);
    assert_eq!(
        parse_list("G: a@b c@d, <>, junk, e@f;"),
        [g("G", &[("", "a@b"), ("", "c@d"), ("", "e@f")])]
    );
    assert_eq!(parse_list("G: H: a@b;; c@d"), [g("G", &[]), m("", "c@d")]);
    assert_eq!(
        parse_list("Alice <a@b c>, d@e"),
        [m("", "d@e")],
        "a broken entry is dropped, the next one kept"
    );
    assert_eq!(parse_list("a)@b, \u{0}, c@d"), [m("", "c@d")]);
    assert_eq!(
        parse_list("Bob <b@x> Carol <c@x>"),
        [m("Bob", "b@x"), m("Carol", "c@x")]
    );
    assert_eq!(parse_list("a@[x[y], b@c"), [m("", "b@c")]);
    assert_eq!(parse_list("\"a\tb\"@c, d@e"), [m("", "d@e")]);
    // Outlook-style separators.
    assert_eq!(parse_list("a@b;c@d;"), [m("", "a@b"), m("", "c@d")]);
}

#[test]
fn parse_mailbox_cases() {
    assert_eq!(parse_mailbox("Alice <a@b>"), Ok(mb("Alice", "a@b")));
    assert_eq!(parse_mailbox("  (x) a@b (Alice)  "), Ok(mb("Alice", "a@b")));
    assert_eq!(parse_mailbox("<@r:a@b>"), Ok(mb("", "a@b")));
    assert_eq!(parse_mailbox("\"a b\"@c"), Ok(mb("", "\"a b\"@c")));
    assert_eq!(parse_mailbox(""), Err(AddrError::Empty));
    assert_eq!(parse_mailbox("(x)"), Err(AddrError::Empty));
    assert_eq!(
        parse_mailbox("a@b, c@d"),
        Err(AddrError::Unexpected {
            found: ',',
            offset: 3
        })
    );
    assert_eq!(
        parse_mailbox("G: a@b;"),
        Err(AddrError::GroupNotAllowed { offset: 1 })
    );
    assert_eq!(
        parse_mailbox("Alice <a@b"),
        Err(AddrError::MissingAngleClose { offset: 6 })
    );
    assert_eq!(
        parse_mailbox("a@b\"x"),
        Err(AddrError::UnterminatedQuote { offset: 3 })
    );
}

#[test]
fn names_never_hold_controls() {
    let list = parse_list("\"A\\\rB\u{7}C\" <a@b>, x@y (D\tE)");
    assert_eq!(list, [m("AB C", "a@b"), m("D E", "x@y")]);
    // Folding inside a quoted string is unfolded.
    assert_eq!(parse_list("\"A\r\n B\" <a@b>"), [m("A B", "a@b")]);
}

#[test]
fn format_quoting() {
    let f = |name: &str, utf8: bool| mb(name, "a@b").format(utf8);
    assert_eq!(f("", false), "a@b");
    assert_eq!(f("Alice", false), "Alice <a@b>");
    assert_eq!(f("Alice Smith", false), "Alice Smith <a@b>");
    assert_eq!(f("Joe Q. Public", false), "\"Joe Q. Public\" <a@b>");
    assert_eq!(f("Smith, John", false), "\"Smith, John\" <a@b>");
    assert_eq!(f("a\"b\\c", false), "\"a\\\"b\\\\c\" <a@b>");
    assert_eq!(f("Joe  Smith", false), "\"Joe  Smith\" <a@b>");
    assert_eq!(f(" Joe", false), "\" Joe\" <a@b>");
    assert_eq!(f("x(y)", false), "\"x(y)\" <a@b>");
    assert_eq!(f("<evil@x>", false), "\"<evil@x>\" <a@b>");
    assert_eq!(f("O'Brien", false), "O'Brien <a@b>");
    // RFC 6532: raw UTF-8, quoted only for specials.
    assert_eq!(f("José Ñ", true), "José Ñ <a@b>");
    assert_eq!(f("Ñ, J", true), "\"Ñ, J\" <a@b>");
    // Otherwise through the encoder; whatever it returns, the name stays one phrase.
    let enc = f("José Ñ", false);
    let encoded = encoded_word::encode("José Ñ");
    if is_plain_phrase(&encoded, false) {
        assert_eq!(enc, format!("{encoded} <a@b>"));
    } else {
        assert!(enc.starts_with('"'), "{enc}");
    }
    // Control characters are never written.
    assert_eq!(f("A\r\nBcc: x@y", false), "\"A  Bcc: x@y\" <a@b>");
    assert_eq!(
        NamedMailbox::new(Some("A"), "a@b\r\nBcc: x@y").format(true),
        "A <a@bBcc: x@y>"
    );
}

#[test]
fn format_lists_and_groups() {
    let list = vec![
        m("Mary Smith", "mary@x.test"),
        m("", "jdoe@example.org"),
        g(
            "A Group",
            &[("Ed Jones", "c@a.test"), ("", "joe@where.test")],
        ),
        g("Undisclosed recipients", &[]),
        g("", &[("", "x@y")]),
    ];
    assert_eq!(
        format_list(&list, false),
        "Mary Smith <mary@x.test>, jdoe@example.org, A Group: Ed Jones <c@a.test>, joe@where.test;, Undisclosed recipients:;, \"\": x@y;"
    );
    assert_eq!(
        parse_list_strict(&format_list(&list, false)),
        Ok(list.clone())
    );
    assert_eq!(format_list(&[], true), "");
    assert_eq!(list[2].to_string(), list[2].format(false));
    assert_eq!(mb("Mary", "m@x").to_string(), "Mary <m@x>");
}

#[test]
fn round_trips() {
    let names = [
        "Alice",
        "Joe Q. Public",
        "Giant; \"Big\" Box",
        "a\\b",
        "  spaced  out ",
        "(not a comment)",
        "José Ñ",
        "山田 太郎",
        "=?",
    ];
    let addrs = [
        "a@b",
        "\"john doe\"@example.com",
        "\"a\\\"b\"@x",
        "\"a..b\"@c",
        "\"\"@c",
        "ñoño@例え.jp",
        "a@[192.0.2.1]",
        "a@[IPv6:2001:db8::1]",
        "user%uucp!path@berkeley.edu",
    ];
    for name in names {
        for addr in addrs {
            let list = vec![
                m(name, addr),
                m("", addr),
                g(name, &[(name, addr), ("", addr)]),
            ];
            let text = format_list(&list, true);
            assert_eq!(parse_list_strict(&text), Ok(list.clone()), "{text}");
            if name.is_ascii() {
                let text = format_list(&list, false);
                assert_eq!(parse_list_strict(&text), Ok(list.clone()), "{text}");
            }
            let one = mb(name, addr);
            assert_eq!(parse_mailbox(&one.format(true)), Ok(one.clone()));
        }
    }
    // Through the real encoder and decoder: they must be inverses.
    let one = mb("José Ñ, Jr.", "j@x");
    assert_eq!(parse_mailbox(&one.to_string()), Ok(one));
}

#[test]
fn to_envelope_and_mailboxes() {
    let list = parse_list(
        "Alice <alice@example.com>, Team: \"b c\"@example.org, d@[192.0.2.1];, Empty:;, e@例え.jp",
    );
    let flat = mailboxes(&list);
    let addrs: Vec<&str> = flat.iter().map(|m| m.addr.as_str()).collect();
    assert_eq!(
        addrs,
        [
            "alice@example.com",
            "\"b c\"@example.org",
            "d@[192.0.2.1]",
            "e@例え.jp"
        ]
    );
    let env: Vec<Mailbox> = flat.iter().map(|m| m.to_envelope().unwrap()).collect();
    assert_eq!(env[0].local_part, "alice");
    assert_eq!(env[1].local_part, "b c");
    assert_eq!(env[1].domain, "example.org");
    assert_eq!(env[2].domain, "[192.0.2.1]");
    assert!(!env[3].is_ascii());
    assert_eq!(env[1].to_string(), flat[1].addr);
    // What RFC 5322 allows but RFC 5321 does not.
    assert!(mb("", "a@b_c!").to_envelope().is_err());
    assert!(mb("", "nobody").to_envelope().is_err());
}

#[test]
fn constructors() {
    assert_eq!(NamedMailbox::new(Some(""), "a@b").name, None);
    assert_eq!(NamedMailbox::new(None, "a@b").format(true), "a@b");
    assert_eq!(
        NamedMailbox::new(Some("X"), "a@b"),
        NamedMailbox {
            name: Some("X".into()),
            addr: "a@b".into()
        }
    );
    // Some("") written by hand is taken as no name.
    let hand = NamedMailbox {
        name: Some(String::new()),
        addr: "a@b".into(),
    };
    assert_eq!(hand.to_string(), "a@b");
    let _: &dyn std::error::Error = &AddrError::Empty;
}

#[test]
fn deep_nesting_and_long_inputs() {
    let deep = "(".repeat(100_000) + "a@b";
    assert_eq!(parse_list(&deep), []);
    assert!(parse_list_strict(&deep).is_err());
    let closed = "(".repeat(50_000) + &")".repeat(50_000) + "a@b";
    assert_eq!(parse_list(&closed), [m("", "a@b")]);
    let many = vec!["x@y"; 20_000].join(",");
    assert_eq!(parse_list_strict(&many).map(|l| l.len()), Ok(20_000));
    let commas = ",".repeat(100_000);
    assert_eq!(parse_list(&commas), []);
    let junk = "<".repeat(50_000) + &">".repeat(50_000) + &";:".repeat(20_000);
    let _ = parse_list(&junk);
    let _ = parse_mailbox(&junk);
}

/// Every corpus entry: each prefix, then thousands of random corruptions. Nothing may
/// panic; lenient results are well-formed and stable when formatted and re-parsed; a strict
/// success is what the lenient parser gives.
#[test]
fn no_panic_on_mutated_inputs() {
    let corpus = [
        "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
        "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
        "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
        "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
        "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
        "José Ñ <j@ñ.example>, 山田 太郎 <taro@例え.jp>, a@[IPv6:2001:db8::1]",
        "=?utf-8?q?Andr=C3=A9?= Pirard <PIRARD@vm1.ulg.ac.be> (x (y) \\( z)",
        "very.\"(),:;<>[]\".VERY.\"very@\\\\ \\\"very\".unusual@strange.example.com",
        "Undisclosed recipients:;, a@b (Alice), <@a,@b:c@d>",
    ];
    let alphabet: Vec<char> = "<>@,:;.()[]\"\\ \t\r\na=?é山\u{0}\u{7f}\u{85}"
        .chars()
        .collect();
    let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
    let (mut parsed, mut strict_ok) = (0, 0);
    let mut check = |s: &str| {
        let lenient = parse_list(s);
        parsed += usize::from(!lenient.is_empty());
        for m in mailboxes(&lenient) {
            let (local, domain) = m.addr.rsplit_once('@').expect("an @");
            assert!(!local.is_empty() && !domain.is_empty(), "{s:?}: {m:?}");
            assert!(!m.addr.chars().any(char::is_control), "{s:?}: {m:?}");
            assert!(
                !m.name
                    .as_deref()
                    .is_some_and(|n| n.chars().any(char::is_control))
            );
            let _ = m.to_envelope();
        }
        if !s.contains("=?") {
            let text = format_list(&lenient, true);
            assert_eq!(parse_list(&text), lenient, "{s:?} -> {text:?}");
            assert!(!text.contains(['\r', '\n']));
            if !lenient.is_empty() {
                assert_eq!(parse_list_strict(&text), Ok(lenient.clone()), "{text:?}");
            }
        }
        if let Ok(list) = parse_list_strict(s) {
            assert_eq!(list, lenient, "{s:?}");
            strict_ok += 1;
        }
        if let Ok(one) = parse_mailbox(s) {
            assert_eq!(lenient, [Address::Mailbox(one)], "{s:?}");
        }
    };
    for base in corpus {
        for (i, _) in base.char_indices() {
            check(base.get(..i).unwrap_or_default());
            check(base.get(i..).unwrap_or_default());
        }
    }
    for round in 0..20_000 {
        let base = corpus[round % corpus.len()];
        let mut bytes = base.as_bytes().to_vec();
        for _ in 0..(next() % 6 + 1) {
            let r = next();
            let pos = (r as usize >> 8) % (bytes.len() + 1);
            match r % 5 {
                0 if pos < bytes.len() => bytes[pos] = (r >> 32) as u8,
                1 => {
                    let c = alphabet[(r >> 40) as usize % alphabet.len()];
                    let mut buf = [0; 4];
                    for (k, b) in c.encode_utf8(&mut buf).bytes().enumerate() {
                        bytes.insert(pos + k, b);
                    }
                }
                2 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                3 => bytes.truncate(pos),
                _ => {
                    let (a, b) = bytes.split_at(pos);
                    bytes = [b, a].concat();
                }
            }
        }
        check(&String::from_utf8_lossy(&bytes));
    }
    // The mutations must leave enough parseable input for the checks to mean something.
    assert!(parsed > 10_000 && strict_ok > 2_000, "{parsed} {strict_ok}");
}

/// Found by fuzz/addr_list: `&@[\` made the lenient parser return the address `&@[\]`,
/// whose `]` is escaped, so the formatted list did not parse back to the same list.
#[test]
fn regression_trailing_backslash_in_domain_literal() {
    assert_eq!(parse_list("&@[\\"), vec![]);
    assert_eq!(parse_list("a@b, c@[1.2\\"), parse_list("a@b"));
    // A complete quoted-pair still counts, and formats back to itself.
    let list = parse_list("c@[1.2\\]]");
    let text = format_list(&list, true);
    assert_eq!(parse_list(&text), list, "{text}");
}

/// Found by fuzz/addr_list: a display name that decodes to text looking like an encoded
/// word (`=?utf-8?q?x?=`) was formatted raw, and parsing the formatted list decoded it a
/// second time.
#[test]
fn regression_name_that_looks_like_an_encoded_word() {
    for name in ["=?utf-8?q?J=C3=B6rg?=", "a =?x?= b", "Jörg =?", "=?"] {
        let list = vec![Address::Mailbox(NamedMailbox::new(
            Some(name),
            "j@example.com",
        ))];
        for utf8 in [true, false] {
            let text = format_list(&list, utf8);
            assert_eq!(parse_list(&text), list, "{name:?} utf8={utf8}: {text}");
        }
    }
    // What the fuzzer found: a name decoded from a nested encoded word.
    let list = parse_list("=?utf-8?q?Ja=?utf-8?q?=C3J=C3=?=oB6rg?= <j@xmple>");
    assert_eq!(parse_list(&format_list(&list, true)), list);
}
