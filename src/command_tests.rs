//! Tests of `command`.

use super::*;

const OPTS: PathOptions = PathOptions {
    strict_lengths: true,
    allow_unbracketed: true,
};
const BRACKETS_ONLY: PathOptions = PathOptions {
    strict_lengths: true,
    allow_unbracketed: false,
};

fn parse(line: &str) -> Result<Command, CommandError> {
    Command::parse(line.as_bytes(), &OPTS)
}

fn mb(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local_part: local.to_owned(),
        domain: domain.to_owned(),
    }
}

fn param(keyword: &str, value: Option<&str>) -> Param {
    Param {
        keyword: keyword.to_owned(),
        value: value.map(str::to_owned),
    }
}

/// The reply an error gives, as "code x.y.z text".
fn reply(line: &str) -> String {
    let (code, (class, subject, detail), text) = parse(line).unwrap_err().reply_parts();
    format!("{code} {class}.{subject}.{detail} {text}")
}

#[test]
fn hello_verbs() {
    assert_eq!(
        parse("HELO mx.example"),
        Ok(Command::Helo("mx.example".into()))
    );
    assert_eq!(
        parse("ehlo mx.example"),
        Ok(Command::Ehlo("mx.example".into()))
    );
    assert_eq!(
        parse("LhLo mx.example"),
        Ok(Command::Lhlo("mx.example".into()))
    );
    assert_eq!(
        parse("EHLO  [192.0.2.1]  "),
        Ok(Command::Ehlo("[192.0.2.1]".into()))
    );
    assert_eq!(parse("EHLO a b c"), Ok(Command::Ehlo("a".into())));
    assert_eq!(parse("EHLO\tx\r\n"), Ok(Command::Ehlo("x".into())));
    assert_eq!(reply("EHLO"), "501 5.5.4 Syntax: EHLO hostname");
    assert_eq!(reply("EHLO   "), "501 5.5.4 Syntax: EHLO hostname");
    assert_eq!(reply("helo"), "501 5.5.4 Syntax: HELO hostname");
    assert_eq!(reply("LHLO"), "501 5.5.4 Syntax: LHLO hostname");
    assert_eq!(parse("EHLO"), Err(CommandError::MissingArgument("EHLO")));
}

#[test]
fn mail_from() {
    let mail = |from: Option<Mailbox>, params: Vec<Param>| Ok(Command::Mail { from, params });
    assert_eq!(
        parse("MAIL FROM:<a@b.c>"),
        mail(Some(mb("a", "b.c")), vec![])
    );
    assert_eq!(
        parse("mail from:<a@b.c>"),
        mail(Some(mb("a", "b.c")), vec![])
    );
    assert_eq!(parse("Mail From:<>"), mail(None, vec![]));
    assert_eq!(
        parse("MAIL FROM: <a@b.c>"),
        mail(Some(mb("a", "b.c")), vec![])
    );
    assert_eq!(
        parse("MAIL  FROM:   <a@b.c>  "),
        mail(Some(mb("a", "b.c")), vec![])
    );
    assert_eq!(parse("MAIL FROM:a@b.c"), mail(Some(mb("a", "b.c")), vec![]));
    assert_eq!(
        parse("MAIL FROM:<a@b.c> SIZE=1000 BODY=8BITMIME SMTPUTF8"),
        mail(
            Some(mb("a", "b.c")),
            vec![
                param("SIZE", Some("1000")),
                param("BODY", Some("8BITMIME")),
                param("SMTPUTF8", None),
            ]
        )
    );
    assert_eq!(
        parse("MAIL FROM:a@b.c  size=10\tbody=7bit "),
        mail(
            Some(mb("a", "b.c")),
            vec![param("SIZE", Some("10")), param("BODY", Some("7bit"))]
        )
    );
    assert_eq!(
        parse("MAIL FROM:<@r.example:jörg@bücher.de> SMTPUTF8"),
        mail(Some(mb("jörg", "bücher.de")), vec![param("SMTPUTF8", None)])
    );
    assert_eq!(
        parse(r#"MAIL FROM:<"john doe"@x> ENVID=a+2Bb"#),
        mail(
            Some(mb("john doe", "x")),
            vec![param("ENVID", Some("a+2Bb"))]
        )
    );
}

#[test]
fn mail_errors() {
    for line in [
        "MAIL",
        "MAIL <a@b>",
        "MAIL FROM",
        "MAIL FROM:",
        "MAIL FROM:   ",
        "MAIL FROM :<a@b>",
        "MAIL FROM<a@b>",
        "MAIL TO:<a@b>",
        "MAIL FRÖM:<a@b>",
        "MAIL FR",
    ] {
        assert_eq!(parse(line), Err(CommandError::MailSyntax), "{line}");
        assert_eq!(reply(line), "501 5.5.4 Syntax: MAIL FROM:<address>");
    }
    for line in [
        "MAIL FROM:<a@b",
        "MAIL FROM:<a@@b>",
        "MAIL FROM:<a b@c>",
        "MAIL FROM:<a@b>x",
        "MAIL FROM:<Postmaster>",
        "MAIL FROM:<a@[1.2.3.999]>",
    ] {
        assert!(
            matches!(parse(line), Err(CommandError::BadSender(_))),
            "{line}"
        );
        assert_eq!(reply(line), "501 5.1.7 Bad sender address syntax");
    }
    assert_eq!(
        parse("MAIL FROM:<a@b"),
        Err(CommandError::BadSender(AddressError::MissingBracket))
    );
    assert_eq!(
        Command::parse(b"MAIL FROM:a@b", &BRACKETS_ONLY),
        Err(CommandError::BadSender(AddressError::MissingBracket))
    );
    let long = format!("MAIL FROM:<{}@x>", "a".repeat(65));
    assert_eq!(
        parse(&long),
        Err(CommandError::BadSender(AddressError::LocalPartTooLong))
    );
    let lenient = PathOptions {
        strict_lengths: false,
        allow_unbracketed: true,
    };
    assert!(Command::parse(long.as_bytes(), &lenient).is_ok());
}

#[test]
fn rcpt_to() {
    let rcpt = |to: Mailbox, params: Vec<Param>| Ok(Command::Rcpt { to, params });
    assert_eq!(parse("RCPT TO:<a@b.c>"), rcpt(mb("a", "b.c"), vec![]));
    assert_eq!(parse("rcpt to: <a@b.c>"), rcpt(mb("a", "b.c"), vec![]));
    assert_eq!(parse("RCPT TO:a@b.c"), rcpt(mb("a", "b.c"), vec![]));
    assert_eq!(
        parse("RCPT TO:<Postmaster>"),
        rcpt(mb("Postmaster", ""), vec![])
    );
    assert_eq!(
        parse("RCPT TO:<postMaster>"),
        rcpt(mb("postMaster", ""), vec![])
    );
    assert_eq!(
        parse("RCPT TO:<@a.example,@b.example:user@c.example>"),
        rcpt(mb("user", "c.example"), vec![])
    );
    assert_eq!(
        parse("RCPT TO:<a@[IPv6:2001:db8::1]> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b"),
        rcpt(
            mb("a", "[IPv6:2001:db8::1]"),
            vec![
                param("NOTIFY", Some("SUCCESS,FAILURE")),
                param("ORCPT", Some("rfc822;a+40b")),
            ]
        )
    );
    for line in [
        "RCPT",
        "RCPT <a@b>",
        "RCPT TO",
        "RCPT TO:",
        "RCPT TO :<a@b>",
        "RCPT FROM:<a@b>",
    ] {
        assert_eq!(parse(line), Err(CommandError::RcptSyntax), "{line}");
        assert_eq!(reply(line), "501 5.5.4 Syntax: RCPT TO:<address>");
    }
    assert_eq!(
        parse("RCPT TO:<>"),
        Err(CommandError::BadRecipient(AddressError::NullNotAllowed))
    );
    for line in [
        "RCPT TO:<>",
        "RCPT TO:<a>",
        "RCPT TO:<a@b..c>",
        "RCPT TO:<\"a@b>",
    ] {
        assert_eq!(
            reply(line),
            "501 5.1.3 Bad recipient address syntax",
            "{line}"
        );
    }
}

#[test]
fn params() {
    let params = |line: &str| match parse(line) {
        Ok(Command::Mail { params, .. }) => Ok(params),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(
        params("MAIL FROM:<> X-FOO=bar 2KW=é"),
        Ok(vec![param("X-FOO", Some("bar")), param("2KW", Some("é"))])
    );
    assert_eq!(
        params("MAIL FROM:<> size=10"),
        Ok(vec![param("SIZE", Some("10"))])
    );
    // Semantics are the session's: odd values pass.
    assert_eq!(
        params("MAIL FROM:<> SIZE=abc"),
        Ok(vec![param("SIZE", Some("abc"))])
    );
    for bad in [
        "SIZE=",
        "=1",
        "-X=1",
        "X_Y=1",
        "A=b=c",
        "SIZE=1\u{7f}",
        "SIZE=1\u{85}",
        "K\u{e9}Y",
    ] {
        let line = format!("MAIL FROM:<> {bad}");
        assert_eq!(
            params(&line),
            Err(CommandError::BadParam(bad.to_owned())),
            "{bad}"
        );
        assert_eq!(reply(&line), "501 5.5.4 Bad parameter syntax");
    }
    assert_eq!(
        parse("RCPT TO:<a@b> NOTIFY="),
        Err(CommandError::BadParam("NOTIFY=".into()))
    );
    assert_eq!(
        parse("MAIL FROM:<a@b> SIZE=1 BAD="),
        Err(CommandError::BadParam("BAD=".into()))
    );
}

#[test]
fn verbs_without_arguments() {
    assert_eq!(parse("DATA"), Ok(Command::Data));
    assert_eq!(parse("data \t "), Ok(Command::Data));
    assert_eq!(parse("RSET"), Ok(Command::Rset));
    assert_eq!(parse("quit"), Ok(Command::Quit));
    assert_eq!(parse("StartTLS"), Ok(Command::StartTls));
    assert_eq!(parse("NOOP"), Ok(Command::Noop));
    assert_eq!(parse("NOOP anything at all"), Ok(Command::Noop));
    assert_eq!(
        parse("DATA x"),
        Err(CommandError::UnexpectedArgument("DATA"))
    );
    assert_eq!(reply("DATA x"), "501 5.5.4 Syntax: DATA");
    assert_eq!(reply("RSET x"), "501 5.5.4 Syntax: RSET");
    assert_eq!(reply("QUIT now"), "501 5.5.4 Syntax: QUIT");
    assert_eq!(reply("STARTTLS x"), "501 5.5.4 Syntax: STARTTLS");
}

#[test]
fn vrfy_expn_help() {
    assert_eq!(
        parse("VRFY postmaster"),
        Ok(Command::Vrfy("postmaster".into()))
    );
    assert_eq!(
        parse("vrfy \"John Doe\" "),
        Ok(Command::Vrfy("\"John Doe\"".into()))
    );
    assert_eq!(parse("EXPN list"), Ok(Command::Expn("list".into())));
    assert_eq!(reply("VRFY"), "501 5.5.4 Syntax: VRFY address");
    assert_eq!(reply("EXPN  "), "501 5.5.4 Syntax: EXPN mailing-list");
    assert_eq!(parse("HELP"), Ok(Command::Help(None)));
    assert_eq!(parse("help  "), Ok(Command::Help(None)));
    assert_eq!(
        parse("HELP mail from"),
        Ok(Command::Help(Some("mail from".into())))
    );
}

#[test]
fn bdat() {
    let bdat = |size, last| Ok(Command::Bdat { size, last });
    assert_eq!(parse("BDAT 1000"), bdat(1000, false));
    assert_eq!(parse("bdat 0 LAST"), bdat(0, true));
    assert_eq!(parse("BDAT 86 last"), bdat(86, true));
    assert_eq!(parse("BDAT  00042   Last "), bdat(42, true));
    assert_eq!(parse("BDAT 18446744073709551615"), bdat(u64::MAX, false));
    assert_eq!(parse("BDAT 00000000000000000001 LAST"), bdat(1, true));
    for line in [
        "BDAT",
        "BDAT LAST",
        "BDAT +1",
        "BDAT -1",
        "BDAT 1.5",
        "BDAT 0x10",
        "BDAT 18446744073709551616",
        "BDAT 000000000000000000001",
        "BDAT 10 LASTX",
        "BDAT 10 LAST x",
        "BDAT 10 FIRST",
        "BDAT １２",
    ] {
        assert_eq!(parse(line), Err(CommandError::BadBdat), "{line}");
        assert_eq!(reply(line), "501 5.5.4 Syntax: BDAT chunk-size [LAST]");
    }
}

#[test]
fn auth() {
    assert_eq!(
        parse("AUTH plain dGVzdAB0ZXN0ADEyMzQ="),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial: Some("dGVzdAB0ZXN0ADEyMzQ=".into())
        })
    );
    assert_eq!(
        parse("auth login"),
        Ok(Command::Auth {
            mechanism: "LOGIN".into(),
            initial: None
        })
    );
    assert_eq!(
        parse("AUTH PLAIN ="),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial: Some("=".into())
        })
    );
    assert_eq!(
        reply("AUTH"),
        "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
    );
    assert_eq!(
        parse("AUTH PLAIN a b"),
        Err(CommandError::UnexpectedArgument("AUTH"))
    );
}

#[test]
fn unknown_verbs() {
    assert_eq!(
        parse("xclient ADDR=1.2.3.4"),
        Ok(Command::Unknown {
            verb: "XCLIENT".into(),
            args: "ADDR=1.2.3.4".into()
        })
    );
    assert_eq!(
        parse("GET / HTTP/1.1"),
        Ok(Command::Unknown {
            verb: "GET".into(),
            args: "/ HTTP/1.1".into()
        })
    );
    assert_eq!(
        parse("\u{1}\u{2}\u{3}"),
        Ok(Command::Unknown {
            verb: "\u{1}\u{2}\u{3}".into(),
            args: String::new()
        })
    );
    // A verb must be the whole first word.
    assert!(matches!(
        parse("MAILFROM:<a@b>"),
        Ok(Command::Unknown { .. })
    ));
    assert!(matches!(parse("DATAX"), Ok(Command::Unknown { .. })));
    assert_eq!(parse("   NOOP"), Ok(Command::Noop));
}

#[test]
fn empty_and_invalid_lines() {
    for line in ["", " ", "\t \t", "\r\n", "\r", "\n", "  \r\n"] {
        assert_eq!(parse(line), Err(CommandError::Empty), "{line:?}");
        assert_eq!(reply(line), "500 5.5.2 Error: bad syntax");
    }
    for line in [
        &b"MAIL FROM:<\xff@x>"[..],
        b"\xc3",
        b"EHLO \xc0\x80",
        b"\xff\xfe\xfd",
    ] {
        assert_eq!(Command::parse(line, &OPTS), Err(CommandError::InvalidUtf8));
    }
    let (code, enhanced, text) = CommandError::InvalidUtf8.reply_parts();
    assert_eq!(
        (code, enhanced, text.as_str()),
        (500, (5, 5, 2), "Error: invalid UTF-8 in command")
    );
    assert_eq!(parse("QUIT\r\n"), Ok(Command::Quit));
    assert_eq!(parse("QUIT\n"), Ok(Command::Quit));
    assert_eq!(parse("QUIT\r"), Ok(Command::Quit));
}

#[test]
fn verb_names() {
    let cases = [
        ("HELO x", "HELO"),
        ("EHLO x", "EHLO"),
        ("LHLO x", "LHLO"),
        ("MAIL FROM:<>", "MAIL"),
        ("RCPT TO:<a@b>", "RCPT"),
        ("DATA", "DATA"),
        ("BDAT 1", "BDAT"),
        ("RSET", "RSET"),
        ("NOOP", "NOOP"),
        ("QUIT", "QUIT"),
        ("VRFY x", "VRFY"),
        ("EXPN x", "EXPN"),
        ("HELP", "HELP"),
        ("STARTTLS", "STARTTLS"),
        ("AUTH PLAIN", "AUTH"),
        ("FOO", "UNKNOWN"),
    ];
    for (line, verb) in cases {
        assert_eq!(parse(line).map(|c| c.verb()), Ok(verb), "{line}");
    }
}

#[test]
fn error_display_and_source() {
    use std::error::Error;
    let e = CommandError::BadSender(AddressError::MissingAt);
    assert_eq!(
        e.to_string(),
        "bad sender address: missing @ between local part and domain"
    );
    assert_eq!(
        e.source().map(|s| s.to_string()),
        Some(AddressError::MissingAt.to_string())
    );
    assert!(CommandError::Empty.source().is_none());
    assert_eq!(
        CommandError::BadParam("X=".into()).to_string(),
        "bad ESMTP parameter \"X=\""
    );
}

#[test]
fn hello_names_without_control_characters() {
    assert_eq!(
        parse("EHLO a\x1bb"),
        Err(CommandError::BadHelloName("EHLO"))
    );
    assert_eq!(parse("HELO x\0"), Err(CommandError::BadHelloName("HELO")));
    assert_eq!(
        parse("LHLO \u{85}x"),
        Err(CommandError::BadHelloName("LHLO"))
    );
    assert_eq!(CommandError::BadHelloName("EHLO").reply_parts().0, 501);
    assert_eq!(
        parse("EHLO bücher.example"),
        Ok(Command::Ehlo("bücher.example".into()))
    );
}

#[test]
fn bdat_size_of_refused_lines() {
    assert_eq!(bdat_chunk_size(b"BDAT 10 LAST x"), Some(10));
    assert_eq!(bdat_chunk_size(b"bdat 7 NOTLAST"), Some(7));
    assert_eq!(
        bdat_chunk_size(b"BDAT 18446744073709551615"),
        Some(u64::MAX)
    );
    assert_eq!(bdat_chunk_size(b"BDAT 18446744073709551616"), None);
    assert_eq!(bdat_chunk_size(b"BDAT +5"), None);
    assert_eq!(bdat_chunk_size(b"BDAT"), None);
    assert_eq!(bdat_chunk_size(b"DATA 5"), None);
    assert_eq!(bdat_chunk_size(b"\xff 5"), None);
}

#[test]
fn very_long_lines() {
    let junk = "A".repeat(1 << 20);
    assert!(matches!(parse(&junk), Ok(Command::Unknown { .. })));
    let long_helo = format!("EHLO {junk}");
    assert_eq!(parse(&long_helo), Ok(Command::Ehlo(junk.clone())));
    let long_path = format!("MAIL FROM:<{junk}@x>");
    assert_eq!(
        parse(&long_path),
        Err(CommandError::BadSender(AddressError::LocalPartTooLong))
    );
    let many_params = format!("MAIL FROM:<> {}", "X=1 ".repeat(100_000));
    assert!(
        matches!(parse(&many_params), Ok(Command::Mail { params, .. }) if params.len() == 100_000)
    );
    let quotes = format!("RCPT TO:<\"{}", "\\\"".repeat(100_000));
    assert_eq!(
        parse(&quotes),
        Err(CommandError::BadRecipient(AddressError::UnterminatedQuote))
    );
    let utf8 = "日".repeat(100_000);
    assert!(parse(&format!("RCPT TO:<a@{utf8}>")).is_err());
    assert!(parse(&format!("EHLO {utf8}")).is_ok());
}

/// Every reply is well formed: 5xx, class matching the code, non-empty text.
fn check_result(result: &Result<Command, CommandError>) {
    match result {
        Ok(command) => {
            assert!(!command.verb().is_empty());
        }
        Err(e) => {
            let (code, (class, _, _), text) = e.reply_parts();
            assert!((500..600).contains(&code));
            assert_eq!(u16::from(class), code / 100);
            assert!(!text.is_empty() && !e.to_string().is_empty());
        }
    }
}

/// Every prefix, deletion, single-byte corruption and insertion of valid commands, under
/// each option set: parse never panics and every error has a proper reply.
#[test]
fn mutated_commands_never_panic() {
    let seeds: [&[u8]; 14] = [
        b"EHLO mx.example.com",
        b"MAIL FROM:<user@example.com> SIZE=1000 BODY=8BITMIME SMTPUTF8",
        b"MAIL FROM:<>",
        "RCPT TO:<jörg@bücher.de> NOTIFY=NEVER".as_bytes(),
        b"RCPT TO:<@a.example,@b.example:\"john\\ doe\"@[IPv6:2001:db8::1]>",
        b"RCPT TO:<Postmaster>",
        b"RCPT TO:a@[192.0.2.1]",
        b"BDAT 1000 LAST",
        b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
        b"VRFY user",
        b"HELP",
        b"STARTTLS",
        b"DATA",
        b"NOOP x",
    ];
    let subs = [
        0u8, b' ', b'\t', b'\r', b'\n', b'<', b'>', b'@', b':', b'"', b'\\', b'=', b'[', b']',
        b'.', b',', b'a', b'0', 0x7f, 0x80, 0xbf, 0xc3, 0xe6, 0xf0, 0xff,
    ];
    let options = [
        OPTS,
        BRACKETS_ONLY,
        PathOptions {
            strict_lengths: false,
            allow_unbracketed: true,
        },
    ];
    let mut count = 0usize;
    let mut run = |bytes: &[u8]| {
        for opts in &options {
            check_result(&Command::parse(bytes, opts));
            count += 1;
        }
    };
    for seed in seeds {
        for i in 0..=seed.len() {
            run(&seed[..i]);
            run(&seed[i..]);
            if i < seed.len() {
                let mut deleted = seed.to_vec();
                deleted.remove(i);
                run(&deleted);
                for &b in &subs {
                    let mut changed = seed.to_vec();
                    changed[i] = b;
                    run(&changed);
                    changed.insert(i, b);
                    run(&changed);
                }
            }
        }
    }
    // Random lines over the same interesting alphabet, from a fixed-seed xorshift.
    let alphabet: Vec<u8> = subs.iter().copied().chain(*b"MAILFROMRCPTO:BDAT").collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let prefixes: [&[u8]; 4] = [b"MAIL FROM:", b"RCPT TO:<", b"BDAT ", b"EHLO "];
    for n in 0..20_000u64 {
        let mut line = prefixes[(n % 4) as usize].to_vec();
        let len = next() % 40;
        for _ in 0..len {
            line.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        run(&line);
    }
    assert!(count > 100_000, "{count}");
}

/// The reply for an error is the one `reply_parts` describes (the fixed texts are borrowed
/// there, built here).
#[test]
fn reply_from_error_matches_reply_parts() {
    use crate::address::AddressError;
    use crate::reply::{EnhancedCode, Reply};
    let errors = [
        CommandError::Empty,
        CommandError::InvalidUtf8,
        CommandError::MissingArgument("HELO"),
        CommandError::UnexpectedArgument("DATA"),
        CommandError::MailSyntax,
        CommandError::RcptSyntax,
        CommandError::BadSender(AddressError::MissingAt),
        CommandError::BadRecipient(AddressError::MissingAt),
        CommandError::BadParam("X=".into()),
        CommandError::BadBdat,
        CommandError::BadHelloName("EHLO"),
    ];
    for e in errors {
        let (code, (c, s, d), text) = e.reply_parts();
        assert_eq!(
            Reply::from(&e),
            Reply::new(code, Some(EnhancedCode::new(c, s, d)), text),
            "{e:?}"
        );
    }
}

#[test]
fn upper8_uppercases_each_byte_as_u8_does() {
    for b in 0..=255u8 {
        for at in 0..8 {
            let mut bytes = [b'a', b'z', b'@', b'[', 0x7f, 0xe1, b'`', b'{'];
            bytes[at] = b;
            let want = bytes.map(|b| b.to_ascii_uppercase());
            assert_eq!(
                upper8(u64::from_le_bytes(bytes)),
                u64::from_le_bytes(want),
                "{b:#x} at {at}"
            );
        }
    }
}

#[test]
fn byte_runs_match_take_while() {
    for line in [
        "",
        " ",
        "\t x",
        "MAIL FROM:<a@b>",
        "  \r\n",
        "x\t\t",
        "é ß\t",
    ] {
        let b = line.as_bytes();
        let ws = |c: &u8| *c == b' ' || *c == b'\t';
        assert_eq!(run_len(b, &WS), b.iter().take_while(|c| ws(c)).count());
        assert_eq!(run_len(b, &NOT_WS), b.iter().take_while(|c| !ws(c)).count());
        let edge = |c: &u8| ws(c) || *c == b'\r' || *c == b'\n';
        assert_eq!(
            run_len_back(b, &EDGE),
            b.iter().rev().take_while(|c| edge(c)).count()
        );
    }
}

#[test]
fn parse_param_by_tables_agrees_with_a_test_per_char() {
    // The rules as they were written a char at a time.
    fn reference(word: &str) -> bool {
        let (keyword, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let keyword_ok = keyword
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && keyword
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        keyword_ok
            && value.is_none_or(|v| !v.is_empty() && v.chars().all(|c| c != '=' && !c.is_control()))
    }
    let alphabet = [
        'A', 'z', '9', '-', '=', '\u{1}', '\u{7f}', 'é', '\u{85}', '~',
    ];
    for len in 0..5u32 {
        for mut code in 0..alphabet.len().pow(len) {
            let mut word = String::new();
            for _ in 0..len {
                word.push(alphabet[code % alphabet.len()]);
                code /= alphabet.len();
            }
            let got = parse_param(&word);
            assert_eq!(got.is_ok(), reference(&word), "{word:?}");
            if let Ok(p) = got {
                let (k, v) = word
                    .split_once('=')
                    .map_or((&*word, None), |(k, v)| (k, Some(v)));
                assert_eq!(p.keyword, k.to_ascii_uppercase());
                assert_eq!(p.value.as_deref(), v);
            }
        }
    }
}
