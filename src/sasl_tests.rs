//! Tests of `sasl`.

use super::*;

const RFC2195_CHALLENGE: &str = "<1896.697170952@postoffice.reston.mci.net>";
const RFC2195_CHALLENGE_B64: &str = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
const RFC2195_RESPONSE_B64: &str = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw";

fn b64(s: &[u8]) -> String {
    STANDARD.encode(s)
}

fn done(step: Step) -> Credentials {
    match step {
        Step::Done(c) => c,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn challenge(step: Step) -> String {
    match step {
        Step::Challenge(c) => c,
        other => panic!("expected Challenge, got {other:?}"),
    }
}

fn decode_str(s: &str) -> String {
    String::from_utf8(STANDARD.decode(s).unwrap()).unwrap()
}

#[test]
fn mechanism_names() {
    for m in Mechanism::ALL {
        assert_eq!(Mechanism::parse(m.as_str()), Some(m));
        assert_eq!(Mechanism::parse(&m.as_str().to_lowercase()), Some(m));
        assert_eq!(m.to_string(), m.as_str());
    }
    assert_eq!(Mechanism::parse("cram-md5"), Some(Mechanism::CramMd5));
    assert_eq!(Mechanism::parse("XOAuth2"), Some(Mechanism::XOAuth2));
    assert_eq!(Mechanism::parse("CRAM-SHA1"), None);
    assert_eq!(Mechanism::parse(""), None);
    assert_eq!(
        Mechanism::ALL,
        [
            Mechanism::CramMd5,
            Mechanism::Login,
            Mechanism::Plain,
            Mechanism::XOAuth2
        ]
    );
}

#[test]
fn rfc2195_example() {
    assert_eq!(
        cram_md5_digest("tanstaaftanstaaf", RFC2195_CHALLENGE),
        "b913a602c7eda7a495b4e6e7334d3890"
    );
    assert_eq!(
        cram_md5_response(RFC2195_CHALLENGE_B64, "tim", "tanstaaftanstaaf").unwrap(),
        RFC2195_RESPONSE_B64
    );
    let mut ex = ServerExchange {
        mech: Mechanism::CramMd5,
        state: State::CramWait {
            challenge: RFC2195_CHALLENGE.to_owned(),
        },
    };
    let creds = done(ex.respond(RFC2195_RESPONSE_B64).unwrap());
    assert_eq!(
        creds,
        Credentials::CramMd5 {
            username: "tim".into(),
            challenge: RFC2195_CHALLENGE.into(),
            digest: "b913a602c7eda7a495b4e6e7334d3890".into(),
        }
    );
    assert!(creds.check_password("tanstaaftanstaaf"));
    assert!(!creds.check_password("tanstaaftanstaag"));
    assert!(!creds.check_password(""));
}

#[test]
fn rfc4616_examples() {
    assert_eq!(
        plain_response("", "tim", "tanstaaftanstaaf"),
        "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
    );
    assert_eq!(
        plain_response("Ursel", "Kurt", "xipj3plmq"),
        "VXJzZWwAS3VydAB4aXBqM3BsbXE="
    );
    let (_, step) =
        ServerExchange::start(Mechanism::Plain, Some("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), "h").unwrap();
    let c = done(step);
    assert_eq!(
        c,
        Credentials::Plain {
            authzid: String::new(),
            authcid: "tim".into(),
            password: "tanstaaftanstaaf".into()
        }
    );
    assert_eq!(c.username(), "tim");
    assert_eq!(c.mechanism(), Mechanism::Plain);
    assert!(c.check_password("tanstaaftanstaaf"));
    assert!(!c.check_password("tanstaaftanstaa"));
    assert!(!c.check_password("tanstaaftanstaafx"));

    let (_, step) =
        ServerExchange::start(Mechanism::Plain, Some("VXJzZWwAS3VydAB4aXBqM3BsbXE="), "h").unwrap();
    let c = done(step);
    assert_eq!(c.username(), "Kurt");
    assert!(matches!(&c, Credentials::Plain { authzid, .. } if authzid == "Ursel"));
    assert!(c.check_password("xipj3plmq"));
}

#[test]
fn plain_without_initial_response() {
    let (mut ex, step) = ServerExchange::start(Mechanism::Plain, None, "h").unwrap();
    assert_eq!(step, Step::Challenge(String::new()));
    assert!(!ex.is_finished());
    let c = done(ex.respond(&plain_response("", "joe", "pw")).unwrap());
    assert_eq!(c.username(), "joe");
    assert!(c.check_password("pw"));
    assert!(!c.check_password("PW"));
    assert!(ex.is_finished());
    assert!(matches!(
        ex.respond("AGEAYg=="),
        Err(SaslError::Malformed(_))
    ));
}

#[test]
fn plain_tolerates_whitespace_and_missing_padding() {
    let line = format!("  {}\t", plain_response("", "joe", "pw"));
    let (mut ex, _) = ServerExchange::start(Mechanism::Plain, None, "h").unwrap();
    assert_eq!(done(ex.respond(&line).unwrap()).username(), "joe");

    // "\0joe\0pwx" encodes with one '=' of padding.
    let padded = plain_response("", "joe", "pwx");
    assert!(padded.ends_with('='));
    let unpadded = padded.trim_end_matches('=');
    let (_, step) = ServerExchange::start(Mechanism::Plain, Some(unpadded), "h").unwrap();
    assert!(done(step).check_password("pwx"));
}

#[test]
fn plain_malformed() {
    let start = |raw: &[u8]| ServerExchange::start(Mechanism::Plain, Some(&b64(raw)), "h");
    for raw in [
        &b"joe\0pw"[..],
        b"\0\0pw",
        b"\0joe\0",
        b"a\0b\0c\0d",
        b"no nul at all",
        b"\0j\xffoe\0pw",
    ] {
        assert!(
            matches!(start(raw), Err(SaslError::Malformed(_))),
            "{raw:?}"
        );
    }
    // "=" is an empty response: malformed for PLAIN.
    assert!(matches!(
        ServerExchange::start(Mechanism::Plain, Some("="), "h"),
        Err(SaslError::Malformed(_))
    ));
    let (mut ex, _) = ServerExchange::start(Mechanism::Plain, None, "h").unwrap();
    assert!(matches!(ex.respond(""), Err(SaslError::Malformed(_))));
}

#[test]
fn login_exchange() {
    let (mut ex, step) = ServerExchange::start(Mechanism::Login, None, "h").unwrap();
    let p1 = challenge(step);
    assert_eq!(p1, "VXNlcm5hbWU6");
    assert_eq!(decode_str(&p1), "Username:");
    let r1 = login_response(&p1, 0, "alice", "s3cret").unwrap();
    assert_eq!(decode_str(&r1), "alice");
    let p2 = challenge(ex.respond(&r1).unwrap());
    assert_eq!(p2, "UGFzc3dvcmQ6");
    assert_eq!(decode_str(&p2), "Password:");
    let r2 = login_response(&p2, 1, "alice", "s3cret").unwrap();
    let c = done(ex.respond(&r2).unwrap());
    assert_eq!(
        c,
        Credentials::Login {
            username: "alice".into(),
            password: "s3cret".into()
        }
    );
    assert_eq!(c.mechanism(), Mechanism::Login);
    assert!(c.check_password("s3cret"));
    assert!(!c.check_password("s3cre"));
}

#[test]
fn login_with_initial_response() {
    let (mut ex, step) = ServerExchange::start(Mechanism::Login, Some(&b64(b"bob")), "h").unwrap();
    assert_eq!(step, Step::Challenge(LOGIN_PASSWORD_PROMPT.into()));
    let c = done(ex.respond(&b64(b"pw")).unwrap());
    assert_eq!(c.username(), "bob");
    assert!(c.check_password("pw"));

    assert!(matches!(
        ServerExchange::start(Mechanism::Login, Some("="), "h"),
        Err(SaslError::Malformed(_))
    ));
}

#[test]
fn login_malformed() {
    let (mut ex, _) = ServerExchange::start(Mechanism::Login, None, "h").unwrap();
    assert!(matches!(
        ex.respond(&b64(b"\xff\xfe")),
        Err(SaslError::Malformed(_))
    ));
    let (mut ex, _) = ServerExchange::start(Mechanism::Login, None, "h").unwrap();
    ex.respond(&b64(b"u")).unwrap();
    assert!(matches!(ex.respond(""), Err(SaslError::Malformed(_))));
}

#[test]
fn login_prompt_variants() {
    // The prompt is not interpreted: the first answer is the username, the second the
    // password, whatever the prompts say (even when a server gets them "wrong", or adds
    // words after the base64).
    for p in [
        "VXNlcm5hbWU6",
        "UGFzc3dvcmQ6",
        "VXNlcm5hbWU6 some words",
        "",
        "not base64!",
    ] {
        let r = login_response(p, 0, "u", "p").unwrap();
        assert_eq!(decode_str(&r), "u", "{p:?} step 0");
        let r = login_response(p, 1, "u", "p").unwrap();
        assert_eq!(decode_str(&r), "p", "{p:?} step 1");
    }
    assert_eq!(login_answer(0, "alice", "s3cret"), "YWxpY2U=");
    assert_eq!(login_answer(1, "alice", "s3cret"), "czNjcmV0");
}

#[test]
fn oauthbearer_rfc7628_example() {
    // RFC 7628 §4.1, with host and port.
    let r = oauthbearer_response(
        "user@example.com",
        "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        Some("server.example.com"),
        Some(587),
    );
    assert_eq!(
        decode_str(&r),
        "n,a=user@example.com,\x01host=server.example.com\x01port=587\x01\
         auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    );
    // GS2 escaping of the authorization identity.
    let r = oauthbearer_response("a,b=c", "t", None, None);
    assert_eq!(decode_str(&r), "n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01");
    assert_eq!(decode_str(OAUTHBEARER_ABORT), "\x01");
}

#[test]
fn cram_md5_exchange() {
    let (mut ex, step) = ServerExchange::start(Mechanism::CramMd5, None, "mx.example").unwrap();
    let ch_b64 = challenge(step);
    let ch = decode_str(&ch_b64);
    assert!(ch.starts_with('<') && ch.ends_with("@mx.example>"), "{ch}");
    let r = cram_md5_response(&ch_b64, "carol", "pass word").unwrap();
    let c = done(ex.respond(&r).unwrap());
    assert_eq!(c.username(), "carol");
    assert_eq!(c.mechanism(), Mechanism::CramMd5);
    assert!(matches!(&c, Credentials::CramMd5 { challenge, digest, .. }
            if *challenge == ch && *digest == cram_md5_digest("pass word", &ch)));
    assert!(c.check_password("pass word"));
    assert!(!c.check_password("password"));
}

#[test]
fn cram_md5_details() {
    assert_eq!(
        ServerExchange::start(Mechanism::CramMd5, Some("dGlt"), "h").unwrap_err(),
        SaslError::UnexpectedInitialResponse
    );
    assert_eq!(
        ServerExchange::start(Mechanism::CramMd5, Some("="), "h").unwrap_err(),
        SaslError::UnexpectedInitialResponse
    );
    let feed = |raw: &str| {
        let (mut ex, _) = ServerExchange::start(Mechanism::CramMd5, None, "h").unwrap();
        ex.respond(&b64(raw.as_bytes()))
    };
    // Upper-case digest accepted and stored lower-case; user names may contain spaces.
    let c = done(feed("john doe B913A602C7EDA7A495B4E6E7334D3890").unwrap());
    assert_eq!(c.username(), "john doe");
    assert!(
        matches!(&c, Credentials::CramMd5 { digest, .. } if digest == "b913a602c7eda7a495b4e6e7334d3890")
    );
    for bad in [
        "timb913a602c7eda7a495b4e6e7334d3890",
        "tim b913a602c7eda7a495b4e6e7334d389",
        "tim b913a602c7eda7a495b4e6e7334d38900",
        "tim b913a602c7eda7a495b4e6e7334d389g",
        " b913a602c7eda7a495b4e6e7334d3890",
        "tim ",
        "",
    ] {
        assert!(matches!(feed(bad), Err(SaslError::Malformed(_))), "{bad:?}");
    }
    // A hand-built credential with a non-hex digest never matches.
    let c = Credentials::CramMd5 {
        username: "x".into(),
        challenge: "<1@h>".into(),
        digest: "zz".into(),
    };
    assert!(!c.check_password("zz"));
}

#[test]
fn xoauth2_exchange() {
    let initial = xoauth2_response(
        "someuser@example.com",
        "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
    );
    assert_eq!(
        initial,
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    );
    let (_, step) = ServerExchange::start(Mechanism::XOAuth2, Some(&initial), "h").unwrap();
    let c = done(step);
    assert_eq!(
        c,
        Credentials::XOAuth2 {
            user: "someuser@example.com".into(),
            token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg".into()
        }
    );
    assert_eq!(c.mechanism(), Mechanism::XOAuth2);
    assert!(!c.check_password("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"));

    let (mut ex, step) = ServerExchange::start(Mechanism::XOAuth2, None, "h").unwrap();
    assert_eq!(step, Step::Challenge(String::new()));
    let c = done(ex.respond(&xoauth2_response("u", "t")).unwrap());
    assert_eq!(c.username(), "u");
}

#[test]
fn xoauth2_tolerance_and_errors() {
    let parse = |raw: &str| {
        ServerExchange::start(Mechanism::XOAuth2, Some(&b64(raw.as_bytes())), "h")
            .map(|(_, s)| done(s))
    };
    let want = Credentials::XOAuth2 {
        user: "u@x".into(),
        token: "tok".into(),
    };
    assert_eq!(parse("auth=bearer tok\x01user=u@x\x01\x01").unwrap(), want);
    assert_eq!(parse("user=u@x\x01auth=BEARER tok").unwrap(), want);
    assert_eq!(
        parse("user=u@x\x01host=h\x01auth=Bearer tok\x01").unwrap(),
        want
    );
    for bad in [
        "user=u@x\x01\x01",
        "auth=Bearer tok\x01\x01",
        "user=u@x\x01auth=Basic tok\x01\x01",
        "user=u@x\x01auth=Bearer \x01\x01",
        "user=\x01auth=Bearer tok\x01\x01",
        "user=a\x01user=b\x01auth=Bearer tok\x01\x01",
        "user u@x\x01auth=Bearer tok",
        "",
    ] {
        assert!(
            matches!(parse(bad), Err(SaslError::Malformed(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ServerExchange::start(Mechanism::XOAuth2, Some("="), "h"),
        Err(SaslError::Malformed(_))
    ));
}

#[test]
fn cancel_at_each_step() {
    for mech in Mechanism::ALL {
        let (mut ex, _) = ServerExchange::start(mech, None, "h").unwrap();
        assert_eq!(ex.respond("*"), Err(SaslError::Cancelled), "{mech}");
        assert!(ex.is_finished());
    }
    let (mut ex, _) = ServerExchange::start(Mechanism::Login, None, "h").unwrap();
    ex.respond(&b64(b"u")).unwrap();
    assert_eq!(ex.respond(" * "), Err(SaslError::Cancelled));
    let (mut ex, _) = ServerExchange::start(Mechanism::Login, Some(&b64(b"u")), "h").unwrap();
    assert_eq!(ex.respond("*"), Err(SaslError::Cancelled));
    for mech in [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2] {
        assert_eq!(
            ServerExchange::start(mech, Some("*"), "h").unwrap_err(),
            SaslError::Cancelled
        );
    }
}

#[test]
fn bad_base64() {
    for line in [
        "!!!!",
        "AHRpbQB0YW5zd GFhZnRh",
        "A",
        "AHRpbQ-_",
        "Zh==",
        "Zg=x",
    ] {
        let (mut ex, _) = ServerExchange::start(Mechanism::Plain, None, "h").unwrap();
        assert_eq!(ex.respond(line), Err(SaslError::BadBase64), "{line:?}");
        assert_eq!(
            ServerExchange::start(Mechanism::XOAuth2, Some(line), "h").unwrap_err(),
            SaslError::BadBase64
        );
    }
    assert_eq!(
        cram_md5_response("%%%", "u", "p"),
        Err(SaslError::BadBase64)
    );
}

#[test]
fn error_replies() {
    assert_eq!(
        SaslError::Cancelled.reply_parts(),
        (501, (5, 7, 0), "Authentication cancelled")
    );
    assert_eq!(
        SaslError::BadBase64.reply_parts(),
        (501, (5, 5, 2), "Invalid base64 data")
    );
    assert_eq!(
        SaslError::Malformed("x").reply_parts(),
        (501, (5, 5, 2), "Malformed authentication data")
    );
    assert_eq!(SaslError::UnexpectedInitialResponse.reply_parts().0, 501);
    assert!(SaslError::Malformed("why").to_string().contains("why"));
    let _: &dyn std::error::Error = &SaslError::BadBase64;
}

#[test]
fn debug_redacts_secrets() {
    let c = Credentials::Plain {
        authzid: String::new(),
        authcid: "u".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    let c = Credentials::XOAuth2 {
        user: "u".into(),
        token: "tok123".into(),
    };
    assert!(!format!("{c:?}").contains("tok123"));
}

#[test]
fn challenges_unique() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let c = cram_md5_challenge("host.example");
        assert!(c.starts_with('<') && c.ends_with("@host.example>"));
        assert!(seen.insert(c));
    }
    let c = cram_md5_challenge("");
    assert!(c.ends_with("@localhost>"), "{c}");
    let c = cram_md5_challenge("a b<c>@d");
    assert!(c.ends_with("@abcd>"), "{c}");
}

#[test]
fn constant_time_eq() {
    assert!(ct_eq(b"", b""));
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(!ct_eq(b"ab", b"abc"));
    assert!(!ct_eq(b"", b"\0"));
    assert!(!ct_eq(b"\0", b""));
}

#[test]
fn no_panic_on_mutated_inputs() {
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
    let valid = [
        plain_response("a", "b", "c"),
        b64(b"alice"),
        RFC2195_RESPONSE_B64.to_owned(),
        xoauth2_response("u", "t"),
        "=".to_owned(),
        "*".to_owned(),
    ];
    let alphabet: &[u8] = b"ABCabc019+/= *\x00\x01\t-_";
    for round in 0..20_000 {
        let base = &valid[round % valid.len()];
        let mut bytes = base.as_bytes().to_vec();
        for _ in 0..(next() % 4 + 1) {
            let r = next();
            let pos = if bytes.is_empty() {
                0
            } else {
                (r as usize >> 8) % bytes.len()
            };
            match r % 4 {
                0 if !bytes.is_empty() => {
                    bytes[pos] = alphabet[(r >> 32) as usize % alphabet.len()]
                }
                1 => bytes.insert(pos.min(bytes.len()), (r >> 24) as u8),
                2 if !bytes.is_empty() => {
                    bytes.remove(pos);
                }
                _ => bytes.truncate(pos),
            }
        }
        // Also wrap random raw payloads in valid base64.
        let raw: Vec<u8> = (0..(next() % 40)).map(|_| next() as u8 % 8).collect();
        for line in [String::from_utf8_lossy(&bytes).into_owned(), b64(&raw)] {
            for mech in Mechanism::ALL {
                let _ = ServerExchange::start(mech, Some(&line), "h");
                if let Ok((mut ex, _)) = ServerExchange::start(mech, None, "h") {
                    let _ = ex.respond(&line);
                    let _ = ex.respond(&line);
                    let _ = ex.respond(&line);
                }
            }
            let _ = login_response(&line, round % 2, "u", "p");
            let _ = cram_md5_response(&line, "u", "p");
            let _ = Mechanism::parse(&line);
            let _ = cram_md5_challenge(&line);
        }
    }
}
