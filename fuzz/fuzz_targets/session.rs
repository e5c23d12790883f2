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

fn config(sel: u8) -> ServerConfig {
    // ServerConfig::default() reads the host name from /proc: once, not per input.
    static BASE: std::sync::OnceLock<ServerConfig> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(ServerConfig::default);
    ServerConfig {
        hostname: "fuzz.example".into(),
        max_errors: 1_000_000,
        max_junk_commands: 1_000_000,
        max_line_length: 512,
        max_message_size: Some(64 * 1024),
        chunking: sel & 0x40 != 0,
        protocol: if sel & 0x80 != 0 {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        },
        ..base.clone()
    }
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

/// A reply line without its CRLF: `DDD`, `DDD text` or `DDD-text` with a code from 200 to 599
/// (what `parse_reply_line` accepts); its code and whether more lines follow. Tables and
/// arithmetic, not a compare per byte (each is a traced call).
fn reply_line(line: &[u8], text: &str) -> (u16, bool) {
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
    const DIGIT: [u8; 256] = table(b'0', b'9', b'0');
    const SEP: [u8; 256] = table(b' ', b' ', b'-');
    let mut head = [b' '; 4];
    let n = line.len().min(4);
    head[..n].copy_from_slice(&line[..n]);
    let [a, b, c, sep] = head;
    let ok = DIGIT[a as usize] & DIGIT[b as usize] & DIGIT[c as usize] & SEP[sep as usize];
    let code = u16::from(a.wrapping_sub(b'0')) * 100
        + u16::from(b.wrapping_sub(b'0')) * 10
        + u16::from(c.wrapping_sub(b'0'));
    // `|`, not `||`: no branch per test.
    if (ok == 0) | (code.wrapping_sub(200) >= 400) | (n < 3) {
        panic!("bad reply line {:?}: {text:?}", String::from_utf8_lossy(line));
    }
    (code, sep == b'-')
}

fn check_replies(out: &[u8]) -> usize {
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte that is zero in x (exact: no borrows).
    let zeros = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    let text = std::str::from_utf8(out).expect("replies are UTF-8");
    let mut replies = 0;
    let mut open: Option<u16> = None;
    let mut line_start = 0;
    // A CR in the last byte of the previous word: its LF is the next word's first byte.
    let mut carry = 0;
    // One pass, eight bytes at a time: the CRs must sit exactly one byte before the LFs (every
    // line ends in CRLF, no CR or LF elsewhere), and each LF ends a line to check.
    let mut word = |i: usize, w: &[u8; 8]| {
        let w = u64::from_le_bytes(*w);
        let cr = zeros(w ^ CRS);
        let mut lf = zeros(w ^ LFS);
        assert_eq!(cr << 8 | carry, lf, "CR not before LF, or LF alone: {text:?}");
        carry = cr >> 56;
        while lf != 0 {
            let end = i * 8 + (lf.trailing_zeros() / 8) as usize;
            lf &= lf - 1;
            let (code, more) = reply_line(&out[line_start..end - 1], text);
            line_start = end + 1;
            if let Some(c) = open {
                assert_eq!(c, code, "{text:?}");
            }
            open = more.then_some(code);
            replies += usize::from(!more);
        }
    };
    let (words, tail) = out.as_chunks::<8>();
    for (i, w) in words.iter().enumerate() {
        word(i, w);
    }
    // The last bytes as one more word, padded with zeros (neither CR nor LF).
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    word(words.len(), &last);
    assert_eq!(line_start, out.len(), "no CRLF at the end: {text:?}");
    assert_eq!(open, None, "unfinished multi-line reply: {text:?}");
    replies
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
    let replies = check_replies(&out.output);
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
