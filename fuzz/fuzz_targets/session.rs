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
use smtpkit::reply::parse_reply_line;
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

/// How many times `byte` occurs in `hay`. Eight bytes at a time with arithmetic, no compare per
/// byte: every compare in this crate is traced by the fuzzer (a call each), and a per-byte loop
/// over the input cost more than the session it checks.
fn count_byte(hay: &[u8], byte: u8) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_ne_bytes([byte; 8]);
    let mut words = hay.chunks_exact(8);
    let mut n = 0;
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let x = u64::from_ne_bytes(word) ^ pattern;
        // The high bit of each byte is set exactly where x has a zero byte (no borrows).
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        n += zero.count_ones() as usize;
    }
    n + words.remainder().iter().filter(|&&b| b == byte).count()
}

fn check_replies(out: &[u8]) -> usize {
    let text = std::str::from_utf8(out).expect("replies are UTF-8");
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    let mut replies = 0;
    let mut lines = 0;
    let mut open: Option<u16> = None;
    for line in text.split_terminator('\n') {
        let line = line
            .strip_suffix('\r')
            .unwrap_or_else(|| panic!("bare LF: {text:?}"));
        lines += 1;
        let (code, more, _) = parse_reply_line(line).unwrap_or_else(|e| panic!("{e}: {text:?}"));
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
    let mut script = Script::new();
    let half = input.len() / 2;
    for (i, piece) in input.chunks(chunk).enumerate() {
        if end % 4 == 3 && i * chunk >= half {
            script = script.then(Step::StopReading);
        }
        script = script.send(piece);
    }
    script = script.then(match end % 4 {
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
