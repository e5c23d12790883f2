//! The DKIM tag-list parser, the DKIM-Signature and key record parsers, and the verifier on
//! arbitrary input: never panic; a parsed tag list has valid, distinct names; the verifier
//! gives one outcome per signature it saw, with at most 8 characters of `b=`.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use smtpkit::auth_check::dkim::{
    DkimVerifier, KeyRecord, Signature, VerifyOptions, parse_tag_list,
};
use smtpkit::dns::StaticResolver;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(tags) = parse_tag_list(s) {
            for (i, (name, _)) in tags.iter().enumerate() {
                assert!(
                    name.starts_with(|c: char| c.is_ascii_alphabetic()),
                    "{name:?}"
                );
                assert!(tags[..i].iter().all(|(n, _)| n != name), "{name:?} twice");
            }
        }
        if let Ok(sig) = Signature::parse(s) {
            assert!(sig.headers.iter().any(|h| h.eq_ignore_ascii_case("from")));
            assert!(sig.identity_domain.ends_with(&sig.domain));
        }
        if let Ok(key) = KeyRecord::parse(s) {
            assert!(key.public_key.is_empty() || key.bits > 0);
        }
    }
    // The input as a signed message, with a key record that is the input's first line.
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let record = String::from_utf8_lossy(first);
    let dns = StaticResolver::new()
        .with_txt("s._domainkey.example.com", &record)
        .with_txt(
            "sel._domainkey.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        );
    let mut v = DkimVerifier::with_options(
        VerifyOptions::new()
            .max_header_bytes(8192)
            .max_signatures(3),
    );
    let mid = data.len() / 2;
    v.update(&data[..mid]);
    v.update(&data[mid..]);
    let outcomes = v.finish(&dns, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    for o in &outcomes {
        assert!(o.header_b.chars().count() <= 8);
    }
});
