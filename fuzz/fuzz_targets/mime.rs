//! `mime::decode` never panics on any bytes; re-encoding what it decoded is SMTP-safe (CRLF
//! only, no line over 998 octets, no NUL) and decodes again (count caps lifted).
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
    // The encoder may add fields (Date, Message-ID, MIME-Version) and split long parameter
    // values into RFC 2231 sections, so its output can pass a count cap the input was
    // within: re-decode with the count caps lifted.
    let lifted = mime::DecodeOptions {
        max_headers: usize::MAX,
        max_params: usize::MAX,
        max_fields: usize::MAX,
        ..mime::DecodeOptions::default()
    };
    let again = mime::decode_with(&wire, &lifted).expect("re-decode of encoder output");
    assert_smtp_safe(&mime::encode(&again));
});
