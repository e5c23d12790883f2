//! `Extensions::parse_ehlo` on arbitrary lines: never panics; what it parsed renders with
//! `ehlo_text` to lines that parse back to the same list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::extensions::Extensions;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let ext = Extensions::parse_ehlo(s.split('\n'));
    let _ = ext.size();
    for e in ext.iter() {
        assert!(ext.contains(&e.keyword));
    }
    let text = ext.ehlo_text("greeting");
    let again = Extensions::parse_ehlo(text.split('\n'));
    assert_eq!(again, ext, "{text:?}");
});
