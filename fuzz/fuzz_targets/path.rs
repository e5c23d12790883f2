//! RFC 5321 paths and mailboxes: `Mailbox::parse`, `parse_reverse_path`, `parse_forward_path`
//! never panic; a parsed mailbox formats to text that parses back to the same mailbox.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::address::{Mailbox, PathOptions, parse_forward_path, parse_reverse_path};

fn round_trip(m: &Mailbox) {
    if m.domain.is_empty() {
        return; // <Postmaster>: displays as the bare local part
    }
    let text = m.to_string();
    assert_eq!(Mailbox::parse(&text).as_ref(), Ok(m), "{text:?}");
    // Mailbox::parse limits the local part and the domain, not the whole path (256 octets
    // with the brackets), so the bracketed form is read without the length limits.
    let bracketed = format!("<{text}>");
    let lenient = PathOptions {
        strict_lengths: false,
        allow_unbracketed: true,
    };
    let (again, rest) =
        parse_forward_path(&bracketed, &lenient).unwrap_or_else(|e| panic!("{bracketed:?}: {e}"));
    assert_eq!(&again, m);
    assert!(rest.is_empty());
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Mailbox::parse(s) {
        round_trip(&m);
    }
    for (strict_lengths, allow_unbracketed) in [(true, true), (false, false), (true, false)] {
        let opts = PathOptions {
            strict_lengths,
            allow_unbracketed,
        };
        if let Ok((m, rest)) = parse_reverse_path(s, &opts) {
            assert!(rest.is_empty() || rest.starts_with([' ', '\t']), "{rest:?}");
            if let (Some(m), true) = (m, strict_lengths) {
                round_trip(&m);
            }
        }
        if let Ok((m, rest)) = parse_forward_path(s, &opts) {
            assert!(rest.is_empty() || rest.starts_with([' ', '\t']), "{rest:?}");
            if strict_lengths {
                round_trip(&m);
            }
        }
    }
});
