//! RFC 5322 address lists: `parse_list`, `parse_list_strict`, `parse_mailbox` never panic;
//! what `parse_list` returns formats (UTF-8 or ASCII form) to text that parses back to the
//! same list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::mime::addr::{self, Address};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = addr::parse_list_strict(s);
    let _ = addr::parse_mailbox(s);
    let list = addr::parse_list(s);
    for m in addr::mailboxes(&list) {
        assert!(m.addr.contains('@'), "{m:?}");
        if let Some(n) = &m.name {
            assert!(!n.is_empty());
            assert!(!n.contains(['\r', '\n']), "{n:?}");
        }
    }
    if list.is_empty() {
        return;
    }
    let text = addr::format_list(&list, true);
    assert!(!text.contains(['\r', '\n']), "{text:?}");
    let back: Vec<Address> = addr::parse_list(&text);
    assert_eq!(back, list, "utf8 form {text:?}");
    let ascii = addr::format_list(&list, false);
    let back = addr::parse_list(&ascii);
    assert_eq!(back, list, "ascii form {ascii:?}");
});
