//! ESMTP parameters of MAIL and RCPT through the command parser, then the values the session
//! interprets: SIZE, BODY, and the DSN ones (RET, ENVID, NOTIFY, ORCPT, xtext), and the
//! session's parameter rules (`MailParams::parse`, `RcptParams::parse`) under every offer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::address::PathOptions;
use smtpkit::command::{Command, Param};
use smtpkit::dsn;
use smtpkit::server::MailParams;
use smtpkit::server::params::{Offered, RcptParams};

/// The session's rules: never a panic, unknown parameters kept in order, SIZE within the limit.
fn rules(params: &[Param], rcpt: bool) {
    for bits in 0u8..32 {
        let offered = Offered {
            max_size: (bits & 1 != 0).then_some(1000),
            eight_bit_mime: bits & 2 != 0,
            binary_mime: bits & 4 != 0,
            dsn: bits & 8 != 0,
            smtputf8: bits & 16 != 0,
        };
        if rcpt {
            if let Ok((_, unknown)) = RcptParams::parse(params.to_vec(), &offered) {
                assert!(unknown.len() <= params.len());
            }
        } else if let Ok((m, unknown)) = MailParams::parse(params.to_vec(), true, &offered) {
            assert!(unknown.len() <= params.len());
            assert!(m.size.is_none_or(|n| offered.max_size.is_none_or(|max| n <= max)));
        }
    }
}

fn values(params: &[Param]) {
    for p in params {
        assert!(!p.keyword.is_empty());
        assert_eq!(p.keyword, p.keyword.to_ascii_uppercase());
        let Some(v) = p.value.as_deref() else {
            continue;
        };
        match p.keyword.as_str() {
            "SIZE" => {
                let _ = v.parse::<u64>();
            }
            "BODY" => {
                let _ = v.to_ascii_uppercase();
            }
            _ => {}
        }
        let _ = dsn::parse_ret(v);
        if let Some(id) = dsn::parse_envid(v) {
            assert!(!id.is_empty() && id.chars().count() <= 100);
        }
        if let Some(n) = dsn::parse_notify(v) {
            // NEVER alone, or a non-empty set of flags.
            assert_eq!(n.never(), v.eq_ignore_ascii_case("NEVER"));
        }
        if let Some(o) = dsn::parse_orcpt(v) {
            assert!(!o.address.is_empty());
            assert_eq!(o.addr_type, o.addr_type.to_ascii_lowercase());
        }
        if let Some(d) = dsn::decode_xtext(v) {
            assert!(d.len() <= v.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = PathOptions::default();
    for prefix in [
        &b"MAIL FROM:<a@example.com> "[..],
        b"RCPT TO:<b@example.com> ",
    ] {
        let mut line = prefix.to_vec();
        line.extend_from_slice(data);
        match Command::parse(&line, &opts) {
            Ok(Command::Mail { params, .. }) => {
                values(&params);
                rules(&params, false);
            }
            Ok(Command::Rcpt { params, .. }) => {
                values(&params);
                rules(&params, true);
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => {}
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = dsn::decode_xtext(s);
        let _ = dsn::parse_notify(s);
        let _ = dsn::parse_orcpt(s);
    }
});
