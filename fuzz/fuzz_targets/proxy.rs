//! PROXY protocol headers (v1 and v2): `proxy::parse` never panics; a header found at `n`
//! is found the same from exactly its `n` bytes, and every shorter prefix asks for more or
//! gives the same error class.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::server::proxy::parse;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Some((header, n))) => {
            assert!(n > 0 && n <= data.len());
            assert_eq!(parse(&data[..n]), Ok(Some((header, n))));
            for k in 0..n {
                assert!(
                    matches!(parse(&data[..k]), Ok(None) | Err(_)),
                    "prefix {k} of {n}"
                );
            }
        }
        Ok(None) => {
            // Needs more: every prefix needs more too.
            for k in 0..data.len() {
                assert_eq!(parse(&data[..k]), Ok(None), "prefix {k}");
            }
        }
        Err(_) => {}
    }
});
