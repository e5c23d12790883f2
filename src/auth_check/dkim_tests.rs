use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::dkim::{Signer, SigningKey, canonicalize_body};
use crate::dns::StaticResolver;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// RFC 8463 Appendix A.3: the example message with its two signatures.
const RFC8463_MESSAGE: &str = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r
 d=football.example.com; i=@football.example.com;\r
 q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r
 subject : date : message-id : from : subject : date;\r
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r
 b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r
 Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r
 d=football.example.com; i=@football.example.com;\r
 q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r
 date : message-id : from : subject : date;\r
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r
 b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r
 DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r
 dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r
From: Joe SixPack <joe@football.example.com>\r
To: Suzie Q <suzie@shopping.example.net>\r
Subject: Is dinner ready?\r
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r
\r
Hi.\r
\r
We lost the game.  Are you hungry yet?\r
\r
Joe.\r
";

/// RFC 8463 Appendix A.2: the published keys.
fn rfc8463_dns() -> StaticResolver {
    StaticResolver::new()
        .with_txt(
            "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        )
        .with_txt(
            "test._domainkey.football.example.com",
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR\
             iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC\
             DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3\
             Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
        )
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Verifies `message` fed in chunks of `chunk` octets.
fn verify_chunked(
    message: &[u8],
    chunk: usize,
    options: VerifyOptions,
    dns: &dyn Resolver,
    now: SystemTime,
) -> Vec<DkimOutcome> {
    let mut v = DkimVerifier::with_options(options);
    for piece in message.chunks(chunk.max(1)) {
        v.update(piece);
    }
    v.finish(dns, now)
}

fn verify(message: &[u8], dns: &dyn Resolver, now: SystemTime) -> Vec<DkimOutcome> {
    verify_chunked(
        message,
        message.len().max(1),
        VerifyOptions::new(),
        dns,
        now,
    )
}

fn results(outcomes: &[DkimOutcome]) -> Vec<DkimResult> {
    outcomes.iter().map(|o| o.result).collect()
}

#[test]
fn rfc8463_example_verifies() {
    let dns = rfc8463_dns();
    let outcomes = verify(RFC8463_MESSAGE.as_bytes(), &dns, at(1_528_637_909));
    assert_eq!(
        outcomes,
        [
            DkimOutcome {
                result: DkimResult::Pass,
                domain: "football.example.com".into(),
                selector: "brisbane".into(),
                identity: Some("@football.example.com".into()),
                algorithm: "ed25519-sha256".into(),
                header_b: "/gCrinpc".into(),
                reason: None,
            },
            DkimOutcome {
                result: DkimResult::Pass,
                domain: "football.example.com".into(),
                selector: "test".into(),
                identity: Some("@football.example.com".into()),
                algorithm: "rsa-sha256".into(),
                header_b: "F45dVWDf".into(),
                reason: None,
            },
        ]
    );
    // The same, fed in pieces of every small size.
    for chunk in 1..=9 {
        let o = verify_chunked(
            RFC8463_MESSAGE.as_bytes(),
            chunk,
            VerifyOptions::new(),
            &dns,
            at(1_528_637_909),
        );
        assert_eq!(results(&o), [DkimResult::Pass, DkimResult::Pass], "{chunk}");
    }
    // A stricter local minimum makes the 1024-bit RSA key a policy result.
    let o = verify_chunked(
        RFC8463_MESSAGE.as_bytes(),
        100,
        VerifyOptions::new().min_rsa_bits(2048),
        &dns,
        at(1_528_637_909),
    );
    assert_eq!(results(&o), [DkimResult::Pass, DkimResult::Policy]);
    assert_eq!(
        o[1].reason.as_deref(),
        Some("RSA key of 1024 bits, below the local minimum of 2048")
    );
}

#[test]
fn rfc8463_example_tampered() {
    let dns = rfc8463_dns();
    let now = at(1_528_637_909);
    let body = RFC8463_MESSAGE.replace("hungry yet?", "hungry now?");
    let o = verify(body.as_bytes(), &dns, now);
    assert_eq!(results(&o), [DkimResult::Fail, DkimResult::Fail]);
    assert_eq!(o[0].reason.as_deref(), Some("body hash did not verify"));
    // Relaxed body: whitespace changes do not matter.
    let spaces = RFC8463_MESSAGE.replace("the game.  Are", "the game. \t Are  ");
    assert_eq!(
        results(&verify(spaces.as_bytes(), &dns, now)),
        [DkimResult::Pass, DkimResult::Pass]
    );
    let header = RFC8463_MESSAGE.replace("Is dinner ready?", "Is lunch ready?");
    let o = verify(header.as_bytes(), &dns, now);
    assert_eq!(results(&o), [DkimResult::Fail, DkimResult::Fail]);
    assert_eq!(o[1].reason.as_deref(), Some("signature did not verify"));
    // Relaxed header: refolding does not matter.
    let folded = RFC8463_MESSAGE.replace("Subject: Is dinner", "Subject:   Is\r\n\t dinner");
    assert_eq!(
        results(&verify(folded.as_bytes(), &dns, now)),
        [DkimResult::Pass, DkimResult::Pass]
    );
    // From is oversigned in h=: a second From breaks both.
    let added = format!("From: evil@example.org\r\n{RFC8463_MESSAGE}");
    assert_eq!(
        results(&verify(added.as_bytes(), &dns, now)),
        [DkimResult::Fail, DkimResult::Fail]
    );
}

#[test]
fn key_lookup_failures() {
    let now = at(1_528_637_909);
    let msg = RFC8463_MESSAGE.as_bytes();
    // No key: permerror; SERVFAIL: temperror.
    let dns = StaticResolver::new().with_failure("test._domainkey.football.example.com");
    let o = verify(msg, &dns, now);
    assert_eq!(results(&o), [DkimResult::PermError, DkimResult::TempError]);
    assert_eq!(
        o[0].reason.as_deref(),
        Some("no key for brisbane._domainkey.football.example.com (NXDOMAIN)")
    );
    // Revoked, wrong type, wrong hash, not for email, bad version, garbage.
    let cases = [
        ("v=DKIM1; k=ed25519; p=", "key revoked (empty p=)"),
        (
            "v=DKIM1; k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "invalid key record: p= is not an RSA public key",
        ),
        (
            "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "key does not allow sha256 (h=)",
        ),
        (
            "v=DKIM1; k=ed25519; s=tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "invalid key record: key not for email (s=)",
        ),
        (
            "v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "invalid key record: v=DKIM2 is not DKIM1",
        ),
        (
            "v=DKIM1; k=ed25519; t=s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "",
        ),
    ];
    for (record, why) in cases {
        let dns = rfc8463_dns().with_txt("brisbane._domainkey.football.example.com", record);
        // StaticResolver keeps both records; the first that parses is used. Use a fresh one.
        let dns = if why.is_empty() {
            dns
        } else {
            StaticResolver::new().with_txt("brisbane._domainkey.football.example.com", record)
        };
        let o = verify(msg, &dns, now);
        if why.is_empty() {
            continue;
        }
        assert_eq!(o[0].result, DkimResult::PermError, "{record}");
        assert_eq!(o[0].reason.as_deref(), Some(why), "{record}");
    }
    // t=s with i= equal to d= passes; t=y is noted.
    let dns = StaticResolver::new().with_txt(
        "brisbane._domainkey.football.example.com",
        "v=DKIM1; k=ed25519; t=y:s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    );
    let o = verify(msg, &dns, now);
    assert_eq!(o[0].result, DkimResult::Pass);
    assert_eq!(o[0].reason.as_deref(), Some("key in testing mode (t=y)"));
}

#[test]
fn time_checks() {
    let dns = rfc8463_dns();
    let msg = RFC8463_MESSAGE.as_bytes();
    // t= in the future beyond the skew.
    let o = verify(msg, &dns, at(1_528_637_909 - 301));
    assert_eq!(
        o[0].reason.as_deref(),
        Some("signature timestamp in the future (t=)")
    );
    assert_eq!(
        results(&verify(msg, &dns, at(1_528_637_909 - 299))),
        [DkimResult::Pass; 2]
    );
    // x= passed.
    let expired = RFC8463_MESSAGE.replace(
        "t=1528637909; h=from : to :",
        "t=1528637909; x=1528637999; h=from : to :",
    );
    let o = verify(expired.as_bytes(), &dns, at(1_528_638_000));
    assert_eq!(o[0].result, DkimResult::PermError);
    assert_eq!(o[0].reason.as_deref(), Some("signature expired (x=)"));
}

/// An Ed25519 signing key generated by ring, as PEM.
fn ed25519_key() -> (SigningKey, String) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    let key = SigningKey::from_pem(pem.as_bytes()).unwrap();
    let record = key.dns_txt_record();
    (key, record)
}

const MESSAGE: &[u8] = b"From: A <a@example.com>\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nLine one\r\n\r\n  indented\t line \r\n\r\n\r\n";

#[test]
fn own_signer_roundtrip() {
    let (key, record) = ed25519_key();
    let dns = StaticResolver::new().with_txt("sel._domainkey.example.com", &record);
    let signer = Signer::new("example.com", "sel", key).body_length(true);
    let signed = signer.sign(MESSAGE).unwrap();
    let now = SystemTime::now();
    assert_eq!(results(&verify(&signed, &dns, now)), [DkimResult::Pass]);
    // Appended content beyond l=: policy by default, pass when allowed.
    let mut appended = signed.clone();
    appended.extend_from_slice(b"-- \r\nunsubscribe here\r\n");
    let o = verify(&appended, &dns, now);
    assert_eq!(o[0].result, DkimResult::Policy);
    assert_eq!(
        o[0].reason.as_deref(),
        Some("26 body octets not covered by l=")
    );
    let o = verify_chunked(
        &appended,
        7,
        VerifyOptions::new().allow_partial_body(true),
        &dns,
        now,
    );
    assert_eq!(o[0].result, DkimResult::Pass);
    // A body shorter than l=.
    let cut = &signed[..signed.len() - 14];
    let o = verify(cut, &dns, now);
    assert_eq!(o[0].result, DkimResult::PermError);
}

#[test]
fn every_canonicalization_with_own_signer() {
    for (h, b) in [
        (Canonicalization::Simple, Canonicalization::Simple),
        (Canonicalization::Simple, Canonicalization::Relaxed),
        (Canonicalization::Relaxed, Canonicalization::Simple),
        (Canonicalization::Relaxed, Canonicalization::Relaxed),
    ] {
        let (key, record) = ed25519_key();
        let dns = StaticResolver::new().with_txt("sel._domainkey.example.com", &record);
        let signed = Signer::new("example.com", "sel", key)
            .canonicalization(h, b)
            .identity("user@mail.example.com")
            .sign(MESSAGE)
            .unwrap();
        for chunk in [1, 2, 3, 5, 64, 4096] {
            let o = verify_chunked(
                &signed,
                chunk,
                VerifyOptions::new(),
                &dns,
                SystemTime::now(),
            );
            assert_eq!(results(&o), [DkimResult::Pass], "{h}/{b} chunk {chunk}");
            assert_eq!(o[0].identity.as_deref(), Some("user@mail.example.com"));
        }
        // t=s: the i= domain is a subdomain, refused.
        let strict =
            StaticResolver::new().with_txt("sel._domainkey.example.com", &format!("{record}; t=s"));
        let o = verify(&signed, &strict, SystemTime::now());
        assert_eq!(
            o[0].reason.as_deref(),
            Some("key requires i= domain to equal d= (t=s)")
        );
    }
}

#[test]
fn limits() {
    let (key, record) = ed25519_key();
    let dns = StaticResolver::new().with_txt("sel._domainkey.example.com", &record);
    let signer = Signer::new("example.com", "sel", key);
    // 12 signatures: 10 checked, 2 refused.
    let mut msg = MESSAGE.to_vec();
    for _ in 0..12 {
        msg = signer.sign(&msg).unwrap();
    }
    let o = verify(&msg, &dns, SystemTime::now());
    assert_eq!(o.len(), 12);
    // Each signature covers the ones below? No: h= does not list DKIM-Signature, so all pass.
    assert!(
        o[..10].iter().all(|o| o.result == DkimResult::Pass),
        "{o:?}"
    );
    assert!(o[10..].iter().all(|o| o.result == DkimResult::PermError
        && o.reason.as_deref() == Some("too many signatures (more than 10)")));
    let o = verify_chunked(
        &msg,
        100,
        VerifyOptions::new().max_signatures(1),
        &dns,
        SystemTime::now(),
    );
    assert_eq!(results(&o)[..2], [DkimResult::Pass, DkimResult::PermError]);
    // Header over the byte limit, or the field count.
    let o = verify_chunked(
        &msg,
        100,
        VerifyOptions::new().max_header_bytes(200),
        &dns,
        SystemTime::now(),
    );
    assert_eq!(results(&o), [DkimResult::PermError]);
    let o = verify_chunked(
        &msg,
        100,
        VerifyOptions::new().max_headers(5),
        &dns,
        SystemTime::now(),
    );
    assert_eq!(results(&o), [DkimResult::PermError]);
    // An unsigned message over the limit: no outcome.
    let o = verify_chunked(
        MESSAGE,
        100,
        VerifyOptions::new().max_header_bytes(10),
        &dns,
        SystemTime::now(),
    );
    assert!(o.is_empty());
    // No body at all, and no header.
    assert!(verify(b"From: a@example.com\r\n", &dns, SystemTime::now()).is_empty());
    assert!(verify(b"", &dns, SystemTime::now()).is_empty());
}

#[test]
fn signature_syntax() {
    let base = "v=1; a=rsa-sha256; d=example.com; s=sel; h=From:To; bh=AAAA; b=AAAA";
    assert!(Signature::parse(base).is_ok());
    let bad = [
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=To; bh=AAAA; b=AAAA",
            "From is not signed (h=)",
        ),
        (
            "v=2; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA",
            "v= is not 1",
        ),
        (
            "v=1; a=rsa-md5; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA",
            "unknown algorithm \"rsa-md5\"",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA",
            "missing b=",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; i=a@example.org",
            "i= domain example.org is not within d=example.com",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; i=a@badexample.com",
            "i= domain badexample.com is not within d=example.com",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; t=10; x=9",
            "x= is before t=",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; l=x",
            "l= is not a number: \"x\"",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; c=odd",
            "unknown c=odd",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; q=http",
            "unsupported query method q=http",
        ),
        (
            "v=1; a=rsa-sha256; d=exa mple.com; s=sel; h=From; bh=AAAA; b=AAAA",
            "invalid d=exa mple.com",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=A*AA",
            "b= is not valid base64",
        ),
        (
            "v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA; d=x.com",
            "tag d= given twice",
        ),
    ];
    for (value, why) in bad {
        assert_eq!(
            Signature::parse(value).err().as_deref(),
            Some(why),
            "{value}"
        );
    }
    assert!(parse_tag_list("a=1;;b=2").is_err());
    assert!(parse_tag_list("1a=1").is_err());
    assert_eq!(
        parse_tag_list(" a = 1 ;\r\n b=\t;").unwrap(),
        [("a", "1"), ("b", "")]
    );
    assert_eq!(parse_tag_list("").unwrap(), []);
}

#[test]
fn key_records() {
    let k = KeyRecord::parse("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        .unwrap();
    assert_eq!(
        (k.key_type, k.bits, k.public_key.len()),
        (KeyType::Ed25519, 256, 32)
    );
    // The SubjectPublicKeyInfo form of the same Ed25519 key.
    let k2 = KeyRecord::parse(
        "k=ed25519; p=MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    )
    .unwrap();
    assert_eq!(k2.public_key, k.public_key);
    let rsa = KeyRecord::parse(
        "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
    )
    .unwrap();
    assert_eq!((rsa.key_type, rsa.bits), (KeyType::Rsa, 1024));
    assert!(KeyRecord::parse("k=dsa; p=AAAA").is_err());
    assert!(KeyRecord::parse("k=rsa").is_err());
    assert!(KeyRecord::parse("k=rsa; p=MAA=").is_err());
    let revoked = KeyRecord::parse("v=DKIM1; p=").unwrap();
    assert!(revoked.public_key.is_empty());
}

/// RFC 6376 §3.4.5's example, and the streaming body canonicaliser against the whole-body one.
#[test]
fn canonicalization_examples() {
    let header = b"A: X\r\nB : Y\t\r\n\tZ  \r\n";
    let (fields, _) = parse_message(header);
    let relaxed: Vec<u8> = fields
        .iter()
        .flat_map(|f| canonicalize_header(Canonicalization::Relaxed, f.raw))
        .collect();
    assert_eq!(relaxed, b"a:X\r\nb:Y Z\r\n");
    let simple: Vec<u8> = fields
        .iter()
        .flat_map(|f| canonicalize_header(Canonicalization::Simple, f.raw))
        .collect();
    assert_eq!(simple, header);
    let body = b" C \r\nD \t E\r\n\r\n\r\n";
    assert_eq!(stream(Canonicalization::Relaxed, body, 1), b" C\r\nD E\r\n");
    assert_eq!(
        stream(Canonicalization::Simple, body, 1),
        b" C \r\nD \t E\r\n"
    );

    let bodies: [&[u8]; 14] = [
        b"",
        b"\r\n",
        b"\r\n\r\n",
        b"a",
        b"a\r\n",
        b"a\r\n\r\n \r\n\t\r\n",
        b" \t ",
        b"a \r\n b\t\r\n\r\nc",
        b"bare\rcr\r\r\n\r",
        b"x\r",
        b"\r",
        b"  lead\r\n\r\n\r\ntrail  \t",
        b"\n\n",
        b"a\r\n\r\nb\r\n\r\n",
    ];
    for body in bodies {
        for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
            let whole = canonicalize_body(c, body);
            for chunk in 1..=4 {
                assert_eq!(stream(c, body, chunk), whole, "{c} {body:?} chunk {chunk}");
            }
        }
    }
}

fn stream(c: Canonicalization, body: &[u8], chunk: usize) -> Vec<u8> {
    let mut canon = BodyCanon::new(c);
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        canon.feed(piece, &mut |b| out.extend_from_slice(b));
    }
    canon.finish(&mut |b| out.extend_from_slice(b));
    out
}

#[test]
fn b_value_removed() {
    assert_eq!(
        without_b_value(b"DKIM-Signature: a=1; b=abc\r\n def; bh=xyz\r\n"),
        b"DKIM-Signature: a=1; b=; bh=xyz"
    );
    assert_eq!(
        without_b_value(b"DKIM-Signature: a=1; bh=xyz;\r\n b = abc\r\n def\r\n"),
        b"DKIM-Signature: a=1; bh=xyz;\r\n b ="
    );
}

/// The streaming canonicaliser against the whole-body one on pseudo-random bodies made of the
/// octets that matter (and long runs past the block size), cut at pseudo-random places.
#[test]
fn streaming_canonicalization_matches() {
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"ab \t\r\n\r\n";
    for round in 0..400 {
        let len = (next() % 200) as usize + if round % 50 == 0 { 20_000 } else { 0 };
        let body: Vec<u8> = (0..len)
            .map(|i| {
                if round % 50 == 0 && i < 20_000 {
                    b'x'
                } else {
                    alphabet[(next() % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
            let whole = canonicalize_body(c, &body);
            let mut canon = BodyCanon::new(c);
            let mut out = Vec::new();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = ((next() % 13) as usize + 1).min(rest.len());
                let n = if next() % 7 == 0 { rest.len() } else { n };
                canon.feed(&rest[..n], &mut |b| out.extend_from_slice(b));
                rest = &rest[n..];
            }
            canon.finish(&mut |b| out.extend_from_slice(b));
            assert_eq!(out, whole, "round {round} {c}");
        }
    }
}
