//! SPF records (RFC 7208): `Record::parse` and the macro expander never panic, expansions stay
//! within `MAX_EXPANSION_LEN`, expanded domains are cut to 253 octets, and a whole evaluation
//! of the input as a domain's record (over a `StaticResolver`) ends with a result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::auth_check::spf::{
    MAX_EXPANSION_LEN, MacroContext, MacroString, Mechanism, Record, SpfOptions, check_host,
    truncate_domain,
};
use smtpkit::dns::StaticResolver;

fn expand_checked(ms: &MacroString, ctx: &MacroContext<'_>) {
    if let Ok(out) = ms.expand(ctx, &mut || "host.example.org".to_string()) {
        assert!(out.len() <= MAX_EXPANSION_LEN);
        let cut = truncate_domain(&out);
        assert!(cut.len() <= 253 || !cut.contains('.'), "{cut:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let ip = "2001:db8::cb01".parse().unwrap();
    let ctx = MacroContext {
        sender: "strong-bad@email.example.com",
        local: "strong-bad",
        sender_domain: "email.example.com",
        domain: "email.example.com",
        ip,
        helo: "mx.example.org",
        receiver: "unknown",
        timestamp: 0,
    };
    for exp in [false, true] {
        if let Ok(ms) = MacroString::parse(s, exp) {
            expand_checked(&ms, &ctx);
        }
    }
    let text = format!("v=spf1 {s}");
    if let Ok(record) = Record::parse(&text) {
        for d in &record.directives {
            match &d.mechanism {
                Mechanism::Include(ms) | Mechanism::Exists(ms) => expand_checked(ms, &ctx),
                Mechanism::A { domain: Some(ms), .. }
                | Mechanism::Mx { domain: Some(ms), .. }
                | Mechanism::Ptr(Some(ms)) => expand_checked(ms, &ctx),
                _ => {}
            }
        }
        for ms in record.redirect.iter().chain(&record.exp) {
            expand_checked(ms, &ctx);
        }
    }
    // A whole evaluation: the input is the record of example.org, whose names resolve a bit.
    let dns = StaticResolver::new()
        .with_txt("example.org", &text)
        .with_txt("inc.example.org", "v=spf1 a mx ptr -all")
        .with_a("example.org", "192.0.2.1".parse().unwrap())
        .with_mx("example.org", 10, "example.org")
        .with_ptr("192.0.2.1".parse().unwrap(), "example.org");
    for client in ["192.0.2.1", "2001:db8::1"] {
        let _ = check_host(
            client.parse().unwrap(),
            "example.org",
            "a@example.org",
            "mx.example.org",
            &dns,
            &SpfOptions::default(),
        );
    }
});
