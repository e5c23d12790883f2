//! `mime::decode` never panics on any bytes; re-encoding what it decoded is SMTP-safe (CRLF
//! only, no line over 998 octets, no NUL) and decodes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::mime;

fn assert_smtp_safe(data: &[u8]) {
    assert!(!data.contains(&0), "NUL in output");
    let mut line = 0usize;
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        match b {
            b'\r' => {
                assert_eq!(data.get(i + 1), Some(&b'\n'), "bare CR at {i}");
                line = 0;
                i += 2;
                continue;
            }
            b'\n' => panic!("bare LF at {i}"),
            _ => line += 1,
        }
        assert!(line <= 998, "line over 998 at {i}");
        i += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(part) = mime::decode(data) else {
        return;
    };
    let wire = mime::encode(&part);
    assert_smtp_safe(&wire);
    let again = mime::decode(&wire).expect("re-decode of encoder output");
    assert_smtp_safe(&mime::encode(&again));
});
