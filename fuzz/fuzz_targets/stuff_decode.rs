//! The client's dot-stuffer chained into the server's decoder (policy Allow): exactly one
//! message comes out, equal to the input with line endings normalised to CRLF and a final
//! CRLF added when missing, and all the stuffed bytes are consumed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::data::{BareLinePolicy, DataDecoder, DataLimits, DotStuffer, dot_stuff};

fn normalise(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let wire = dot_stuff(data);
    // The streaming stuffer, split at the middle, writes the same bytes.
    let mut streamed = Vec::new();
    let mut s = DotStuffer::new();
    let (a, b) = data.split_at(data.len() / 2);
    s.push(a, &mut streamed);
    s.push(b, &mut streamed);
    s.finish(&mut streamed);
    assert_eq!(streamed, wire);

    let limits = DataLimits {
        max_size: None,
        max_line: None,
        bare_line: BareLinePolicy::Allow,
    };
    let mut d = DataDecoder::new(limits);
    let mut out = Vec::new();
    let used = d.feed(&wire, &mut out);
    assert!(d.is_done(), "no terminator found in {wire:?}");
    assert_eq!(used, wire.len(), "finished early: {wire:?}");
    assert_eq!(d.error(), None);
    assert_eq!(out, normalise(data));
    // Under Reject the stuffed form has no bare CR/LF either.
    let mut strict = DataDecoder::new(DataLimits {
        max_size: None,
        max_line: None,
        bare_line: BareLinePolicy::Reject,
    });
    let mut out2 = Vec::new();
    assert_eq!(strict.feed(&wire, &mut out2), wire.len());
    assert_eq!(strict.error(), None);
    assert_eq!(out2, out);
});
