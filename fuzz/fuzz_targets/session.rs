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
    let zeros = |w: &[u8]| {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let x = u64::from_ne_bytes(word) ^ pattern;
        (!(((x & LOW7) + LOW7) | x | LOW7)).count_ones() as usize
    };
    let mut blocks = hay.chunks_exact(32);
    let mut n = 0;
    for block in &mut blocks {
        // A fixed count: unrolled, no loop compare.
        n += block.chunks_exact(8).map(zeros).sum::<usize>();
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        n += zeros(w);
    }
    n + words.remainder().iter().filter(|&&b| b == byte).count()
}

/// Index of the first LF in `hay`, eight bytes at a time (as `count_byte`, for the same reason).
fn find_lf(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = hay.chunks_exact(8);
    let mut start = 0;
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let x = u64::from_le_bytes(word) ^ LFS;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(start + (found.trailing_zeros() / 8) as usize);
        }
        start += 8;
    }
    let tail = words.remainder().iter().position(|&b| b == b'\n');
    tail.map(|i| start + i)
}

/// A reply line without its CRLF: `DDD`, `DDD text` or `DDD-text` with a code from 200 to 599
/// (what `parse_reply_line` accepts); its code and whether more lines follow.
fn reply_line(line: &[u8], text: &str) -> (u16, bool) {
    let bad = || -> ! { panic!("bad reply line {:?}: {text:?}", String::from_utf8_lossy(line)) };
    let mut head = [b' '; 4];
    match line.get(..4).or(line.get(..3)) {
        Some(h) => head[..h.len()].copy_from_slice(h),
        None => bad(),
    }
    let [a, b, c, sep] = head;
    let digit = |d: u8| d.wrapping_sub(b'0') < 10;
    if !(digit(a) && digit(b) && digit(c)) || sep != b' ' && sep != b'-' {
        bad();
    }
    let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    if !(200..600).contains(&code) {
        bad();
    }
    (code, sep == b'-')
}

fn check_replies(out: &[u8]) -> usize {
    let text = std::str::from_utf8(out).expect("replies are UTF-8");
    let mut replies = 0;
    let mut lines = 0;
    let mut open: Option<u16> = None;
    let mut rest = out;
    while !rest.is_empty() {
        let lf = find_lf(rest).unwrap_or_else(|| panic!("no CRLF at the end: {text:?}"));
        let line = rest[..lf]
            .strip_suffix(b"\r")
            .unwrap_or_else(|| panic!("bare LF: {text:?}"));
        rest = &rest[lf + 1..];
        lines += 1;
        let (code, more) = reply_line(line, text);
        if let Some(c) = open {
            assert_eq!(c, code, "{text:?}");
        }
        open = more.then_some(code);
        if !more {
            replies += 1;
        }
    }
    // Every line ends in CRLF, so one CR per line means no CR inside a line.
    assert_eq!(count_byte(out, b'\r'), lines, "CR inside a line: {text:?}");
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
