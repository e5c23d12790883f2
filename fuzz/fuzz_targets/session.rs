//! A whole server session, in memory (`smtpkit::server::script`): the same state machine that
//! serves sockets, fed the fuzz bytes as a scripted client with faults. The first byte picks
//! the chunk size (low 6 bits + 1), the configuration (CHUNKING, LMTP) and how the client ends
//! (close, reset, timeout, stop reading half way). Checks:
//! - every reply line is `DDD`, `DDD text` or `DDD-text` with CRLF, and multi-line replies
//!   keep one code;
//! - there are no more replies than command lines + 1 (the greeting);
//! - no message reaches the handler unless the input holds a DATA terminator (`\n.\r\n`) or a
//!   BDAT command, and never more DATA messages than terminators;
//! - `on_close` runs exactly once.
#![no_main]

use std::io::Read;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use smtpkit::Reply;
use smtpkit::server::script::{self, Script, Step};
use smtpkit::server::{Envelope, Handler, Protocol, ServerConfig};

#[derive(Default)]
struct Recorder {
    messages: usize,
    closes: usize,
}

impl Handler for Recorder {
    fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        self.messages += 1;
        Ok(Reply::QUEUED)
    }
    fn on_close(&mut self) {
        self.closes += 1;
    }
}

/// The configuration `sel` picks (CHUNKING, LMTP): four, made once and shared by every run
/// (a copy per run cost a few allocations, each dear under the fuzzer's compare tracing).
fn config(sel: u8) -> Arc<ServerConfig> {
    static CONFIGS: OnceLock<[Arc<ServerConfig>; 4]> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        // ServerConfig::default() reads the host name from /proc: once, not per input.
        let base = ServerConfig::default();
        std::array::from_fn(|i| {
            Arc::new(ServerConfig {
                hostname: "fuzz.example".into(),
                max_errors: 1_000_000,
                max_junk_commands: 1_000_000,
                max_line_length: 512,
                max_message_size: Some(64 * 1024),
                chunking: i & 1 != 0,
                protocol: if i & 2 != 0 {
                    Protocol::Lmtp
                } else {
                    Protocol::Smtp
                },
                ..base.clone()
            })
        })
    });
    // Bit 6 is CHUNKING, bit 7 LMTP.
    Arc::clone(&configs[usize::from(sel >> 6)])
}

/// How many times `byte` occurs in `hay`. 32 bytes at a time with arithmetic, no compare per
/// byte: every compare in this crate is traced by the fuzzer (a call each), and a per-byte loop
/// over the input cost more than the session it checks.
fn count_byte(hay: &[u8], byte: u8) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_ne_bytes([byte; 8]);
    // The high bit of each byte is set exactly where x has a zero byte (no borrows).
    let zeros = |w: &[u8; 8]| {
        let x = u64::from_ne_bytes(*w) ^ pattern;
        (!(((x & LOW7) + LOW7) | x | LOW7)).count_ones() as usize
    };
    let block = |b: &[[u8; 8]; 4]| zeros(&b[0]) + zeros(&b[1]) + zeros(&b[2]) + zeros(&b[3]);
    let (words, _) = hay.as_chunks::<8>();
    let (blocks, _) = words.as_chunks::<4>();
    let n: usize = blocks.iter().map(block).sum();
    // The last 0-31 bytes as one more block, padded with a byte that is not `byte`.
    let rest = &hay[blocks.len() * 32..];
    let mut last = [[!byte; 8]; 4];
    last.as_flattened_mut()[..rest.len()].copy_from_slice(rest);
    n + block(&last)
}

/// Checks the server's output and counts its replies:
/// - every line is `DDD`, `DDD text` or `DDD-text` ended by CRLF, with a code from 200 to 599
///   (what `parse_reply_line` accepts), and there is no CR or LF elsewhere;
/// - the lines of a multi-line reply keep one code, and the last reply is complete.
///
/// One pass, 32 bytes per step, without a branch per line test: every compare in this crate is
/// a traced call under the fuzzer, so the tests accumulate into one word tested at the end.
/// Should it be set, [`explain`] finds the first fault and panics with it.
fn check_replies(mut out: Vec<u8>) -> usize {
    const fn table(from: u8, to: u8, extra: u8) -> [u8; 256] {
        let mut t = [0; 256];
        let mut b = from;
        while b <= to {
            t[b as usize] = 1;
            b += 1;
        }
        t[extra as usize] = 1;
        t
    }
    const FIRST: [u8; 256] = table(b'2', b'5', b'2');
    const DIGIT: [u8; 256] = table(b'0', b'9', b'0');
    // The fourth byte: a space or a hyphen, or the CR of a line of just the code (a CR is
    // only ever right before an LF: checked below).
    const SEP: [u8; 256] = table(b' ', b' ', b'-');
    const MORE: [u8; 256] = table(b'-', b'-', b'-');
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte that is zero in x (exact: no borrows).
    let zeros = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    // Those high bits as one bit per byte (bit i for byte i).
    let bits = |z: u64| ((z >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    let len = out.len();
    if std::str::from_utf8(&out).is_err() {
        explain(&out);
    }
    // Zeros (neither CR nor LF) to a whole number of blocks, with room for a 4-byte head
    // read at the end of the output.
    out.resize((len + 4 + 31) & !31, 0);
    let mut sep_ok = SEP;
    sep_ok[usize::from(b'\r')] = 1;
    let mut bad = 0u32;
    let mut replies = 0usize;
    let (mut open_code, mut open_mask) = (0u32, 0u32);
    let mut line_start = 0usize;
    // A CR in the last byte of the previous block: its LF is this block's first byte.
    let mut carry = 0u32;
    let (blocks, _) = out.as_chunks::<32>();
    for (i, b) in blocks.iter().enumerate() {
        let (mut cr, mut lf) = (0u32, 0u32);
        for k in 0..4 {
            let w = u64::from_le_bytes(std::array::from_fn(|j| b[k * 8 + j]));
            cr |= bits(zeros(w ^ CRS)) << (k * 8);
            lf |= bits(zeros(w ^ LFS)) << (k * 8);
        }
        // Every CR right before an LF and every LF right after a CR.
        bad |= (cr << 1 | carry) ^ lf;
        carry = cr >> 31;
        while lf != 0 {
            // Wrapping arithmetic: no overflow test (a traced compare) per line.
            let end = i
                .wrapping_mul(32)
                .wrapping_add(lf.trailing_zeros() as usize);
            lf &= lf.wrapping_sub(1);
            let head = out.get(line_start..).and_then(|r| r.first_chunk::<4>());
            let [a, b, c, sep] = head.copied().unwrap_or([0; 4]);
            line_start = end.wrapping_add(1);
            let ok = FIRST[usize::from(a)]
                & DIGIT[usize::from(b)]
                & DIGIT[usize::from(c)]
                & sep_ok[usize::from(sep)];
            let code = u32::from(a) * 100 + u32::from(b) * 10 + u32::from(c);
            let more = u32::from(MORE[usize::from(sep)]);
            bad |= u32::from(ok ^ 1) | ((code ^ open_code) & open_mask);
            open_code = code;
            open_mask = 0u32.wrapping_sub(more);
            replies = replies.wrapping_add((more ^ 1) as usize);
        }
    }
    // No CRLF at the end, or a multi-line reply left open.
    if (bad | open_mask) as usize | (line_start ^ len) != 0 {
        out.truncate(len);
        explain(&out);
    }
    replies
}

/// Panics with the first fault [`check_replies`] found in `out`: one test at a time, for the
/// message.
fn explain(out: &[u8]) -> ! {
    let text = std::str::from_utf8(out).expect("replies are UTF-8");
    assert!(text.ends_with("\r\n"), "no CRLF at the end: {text:?}");
    let mut open: Option<u16> = None;
    for line in text.split_terminator("\r\n") {
        assert!(
            !line.contains(['\r', '\n']),
            "CR or LF inside a line: {text:?}"
        );
        let b = line.as_bytes();
        let code = b
            .get(..3)
            .filter(|c| c.iter().all(u8::is_ascii_digit))
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c));
        let sep = b.get(3).copied();
        let (Some(code), true) = (code, matches!(sep, None | Some(b' ' | b'-'))) else {
            panic!("bad reply line {line:?}: {text:?}");
        };
        if let Some(c) = open {
            assert_eq!(c, code, "{text:?}");
        }
        open = (sep == Some(b'-')).then_some(code);
    }
    assert_eq!(open, None, "unfinished multi-line reply: {text:?}");
    panic!("the reply check and its explanation disagree: {text:?}");
}

/// How many DATA terminators (`\n.\r\n`) `input` holds.
fn terminators(input: &[u8]) -> usize {
    input.windows(4).filter(|w| *w == b"\n.\r\n").count()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&end, input)) = rest.split_first() else {
        return;
    };
    let chunk = usize::from(sel & 0x3f) + 1;
    // With `end % 4 == 3` the client stops reading before the first piece at or past half
    // the input (when there is one).
    let half = input.len() / 2;
    let cut = half.div_ceil(chunk) * chunk;
    let script = if end % 4 == 3 && cut < input.len() {
        Script::new()
            .send_in_pieces(&input[..cut], chunk)
            .then(Step::StopReading)
            .send_in_pieces(&input[cut..], chunk)
    } else {
        Script::new().send_in_pieces(input, chunk)
    };
    let script = script.then(match end % 4 {
        0 => Step::Close,
        1 => Step::Reset,
        _ => Step::Timeout,
    });
    let out = script::run(config(sel), Recorder::default(), script).expect("valid config");
    let replies = check_replies(out.output);
    let lines = count_byte(input, b'\n');
    // SMTP: a reply per line at most, plus the greeting and a 421 at a timeout. LMTP answers
    // a message once per recipient, so only the SMTP bound is checked.
    if sel & 0x80 == 0 {
        assert!(replies <= lines + 2, "{replies} replies for {lines} lines");
    }
    assert!(replies >= 1, "no greeting");
    assert_eq!(out.handler.closes, 1, "on_close count");
    // Only counted when a message got through: most inputs never get that far.
    if sel & 0x40 == 0 && out.handler.messages > 0 {
        let terminators = terminators(input);
        assert!(
            out.handler.messages <= terminators,
            "{} messages but {terminators} terminators",
            out.handler.messages
        );
    }
});
