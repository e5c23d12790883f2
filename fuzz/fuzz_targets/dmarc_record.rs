//! The DMARC record parser on arbitrary TXT strings: never panics; a record is a DMARC record
//! exactly when it starts with `v=DMARC1`; what it returns is within range (pct ≤ 100, at
//! most `MAX_URIS` URIs); and evaluating a message against it, with the record at
//! `_dmarc.example.org`, never panics and gives a pass, a fail or an error consistent with
//! the parse. The same bytes go through the Authentication-Results parser and the From-domain
//! reader, which must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::auth_check::dmarc::record::{self, MAX_URIS, RecordError};
use smtpkit::auth_check::dmarc::{self, Options, Sampling};
use smtpkit::auth_check::{
    DkimOutcome, DkimResult, DmarcResult, SpfIdentity, SpfOutcome, SpfResult, results,
};
use smtpkit::dns::StaticResolver;

fuzz_target!(|data: &[u8]| {
    let _ = dmarc::from_domain(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = results::parse(s);
    let parsed = record::parse(s);
    assert_eq!(
        matches!(parsed, Err(RecordError::NotDmarc)),
        !record::is_dmarc(s),
        "{s:?}"
    );
    if let Ok(r) = &parsed {
        assert!(r.pct <= 100);
        assert!(r.rua.len() <= MAX_URIS && r.ruf.len() <= MAX_URIS);
    }
    let dns = StaticResolver::new().with_txt("_dmarc.example.org", s);
    let dkim = [DkimOutcome {
        result: DkimResult::Pass,
        domain: "mail.example.org".to_string(),
        selector: "s".to_string(),
        identity: None,
        algorithm: "rsa-sha256".to_string(),
        header_b: "abcdefgh".to_string(),
        reason: None,
    }];
    let spf = SpfOutcome {
        result: SpfResult::Fail,
        identity: SpfIdentity::MailFrom,
        subject: "a@example.org".to_string(),
        domain: "example.org".to_string(),
        explanation: None,
        reason: None,
    };
    let opts = Options {
        sampling: Sampling::Fixed(data.len() as u8 % 100),
        nonexistent_policy: true,
    };
    let ev = dmarc::evaluate_with("sub.example.org", &dkim, &spf, &dns, &opts);
    let expected = match &parsed {
        Err(RecordError::NotDmarc) => DmarcResult::None,
        Err(RecordError::NoPolicy) => DmarcResult::PermError,
        // Relaxed DKIM alignment passes; strict cannot (mail.example.org vs sub.example.org).
        Ok(r) if r.adkim == record::Alignment::Relaxed => DmarcResult::Pass,
        Ok(_) => DmarcResult::Fail,
    };
    assert_eq!(ev.outcome.result, expected, "{s:?}");
    let mut ar = results::AuthResults::new("mx.example");
    ar.dmarc = Some(ev.outcome);
    let header = ar.header();
    let value = header["Authentication-Results:".len()..].replace("\r\n", "");
    let back = results::parse(&value).expect("our own header parses");
    assert_eq!(back.results.len(), 1);
});
