//! The DATA decoder is chunk-invariant: fed in pieces (boundaries from the input), it gives the
//! same output, consumed count, done flag and error as fed the whole buffer at once, for every
//! bare-line policy and a few limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpkit::data::{BareLinePolicy, DataDecoder, DataLimits};

struct Run {
    out: Vec<u8>,
    used: usize,
    done: bool,
    error: Option<smtpkit::data::DataError>,
    raw: u64,
    decoded: u64,
}

fn run(limits: DataLimits, body: &[u8], cuts: &[usize]) -> Run {
    let mut d = DataDecoder::new(limits);
    let mut out = Vec::new();
    let mut used = 0;
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&body.len())) {
        let end = end.clamp(start, body.len());
        let chunk = &body[start..end];
        let n = d.feed(chunk, &mut out);
        assert!(n <= chunk.len());
        used += n;
        if d.is_done() {
            break;
        }
        assert_eq!(n, chunk.len(), "not done, yet input left over");
        start = end;
    }
    assert_eq!(d.raw_len(), used as u64);
    Run {
        used,
        done: d.is_done(),
        error: d.error(),
        raw: d.raw_len(),
        decoded: d.decoded_len(),
        out,
    }
}

fuzz_target!(|data: &[u8]| {
    // Layout: [policy/limits byte][number of cuts][cut bytes...][body]
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&ncuts, rest)) = rest.split_first() else {
        return;
    };
    let ncuts = usize::from(ncuts % 32).min(rest.len());
    let (cut_bytes, body) = rest.split_at(ncuts);
    let mut cuts: Vec<usize> = Vec::new();
    let mut pos = 0usize;
    for &c in cut_bytes {
        pos += usize::from(c);
        cuts.push(pos);
    }
    let bare_line = match sel & 3 {
        0 => BareLinePolicy::Reject,
        1 => BareLinePolicy::Normalize,
        2 => BareLinePolicy::Strip,
        _ => BareLinePolicy::Allow,
    };
    let limits = DataLimits {
        max_size: (sel & 4 != 0).then_some(u64::from(sel >> 3) * 4),
        max_line: (sel & 8 != 0).then_some(usize::from(sel >> 4) + 3),
        bare_line,
    };
    let whole = run(limits, body, &[]);
    let split = run(limits, body, &cuts);
    let bytewise_cuts: Vec<usize> = (1..body.len().min(512)).collect();
    let bytewise = run(limits, body, &bytewise_cuts);
    for other in [&split, &bytewise] {
        assert_eq!(other.out, whole.out);
        assert_eq!(other.used, whole.used);
        assert_eq!(other.done, whole.done);
        assert_eq!(other.error, whole.error);
        assert_eq!(other.raw, whole.raw);
        assert_eq!(other.decoded, whole.decoded);
    }
    assert_eq!(whole.decoded, whole.out.len() as u64);
    if let Some(max) = limits.max_size {
        assert!(whole.out.len() as u64 <= max);
    }
    // The message ends only on CRLF.CRLF (or .CRLF as the very first line).
    if whole.done {
        let consumed = &body[..whole.used];
        assert!(consumed.ends_with(b".\r\n"));
        assert!(consumed == b".\r\n" || consumed.ends_with(b"\r\n.\r\n"));
        let first = consumed
            .windows(5)
            .position(|w| w == b"\r\n.\r\n")
            .map(|i| i + 5);
        if consumed != b".\r\n" && !body.starts_with(b".\r\n") {
            assert_eq!(
                first,
                Some(whole.used),
                "finished past the first terminator"
            );
        }
    } else {
        assert_eq!(whole.used, body.len());
        assert!(!body.starts_with(b".\r\n"));
        assert!(!body.windows(5).any(|w| w == b"\r\n.\r\n"));
    }
});
