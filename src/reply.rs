//! SMTP replies: a code, an optional enhanced status code (RFC 3463) and text lines.
//!
//! Pure formatting and parsing, no I/O. A [`Reply`] is a plain value; the named constants cover
//! the replies the server sends on its own, and handlers build others with [`Reply::new`].

use std::borrow::Cow;
use std::fmt;

use crate::byte_search;

/// An enhanced mail system status code (RFC 3463), such as `2.1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// Class: 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// Subject (0–999).
    pub subject: u16,
    /// Detail (0–999).
    pub detail: u16,
}

impl EnhancedCode {
    /// Builds a code from its three parts.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses `class.subject.detail` (for example `5.1.1`).
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split('.');
        let class: u8 = parse_digits(it.next()?, 1)?;
        let subject: u16 = parse_digits(it.next()?, 3)?;
        let detail: u16 = parse_digits(it.next()?, 3)?;
        if it.next().is_some() || !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(EnhancedCode::new(class, subject, detail))
    }
}

fn parse_digits<T: std::str::FromStr>(s: &str, max_len: usize) -> Option<T> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply. `text` may hold several lines separated by `\n`; each is sent as one line of
/// a multi-line reply (`250-...` then `250 ...`), each carrying the enhanced code when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// Three-digit reply code (RFC 5321 §4.2).
    pub code: u16,
    /// Enhanced status code, sent after the reply code (RFC 2034).
    pub enhanced: Option<EnhancedCode>,
    /// Text, lines separated by `\n`.
    pub text: Cow<'static, str>,
}

const fn r(code: u16, e: (u8, u16, u16), text: &'static str) -> Reply {
    Reply {
        code,
        enhanced: Some(EnhancedCode::new(e.0, e.1, e.2)),
        text: Cow::Borrowed(text),
    }
}

impl Reply {
    /// `250 2.0.0 OK`
    pub const OK: Reply = r(250, (2, 0, 0), "OK");
    /// `250 2.1.0 OK` (MAIL accepted)
    pub const SENDER_OK: Reply = r(250, (2, 1, 0), "OK");
    /// `250 2.1.5 OK` (RCPT accepted)
    pub const RECIPIENT_OK: Reply = r(250, (2, 1, 5), "OK");
    /// `250 2.0.0 OK: queued` (message accepted)
    pub const QUEUED: Reply = r(250, (2, 0, 0), "OK: queued");
    /// `354 End data with <CR><LF>.<CR><LF>`
    pub const START_DATA: Reply = Reply {
        code: 354,
        enhanced: None,
        text: Cow::Borrowed("End data with <CR><LF>.<CR><LF>"),
    };
    /// `221 2.0.0 Bye`
    pub const BYE: Reply = r(221, (2, 0, 0), "Bye");
    /// `252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery`
    pub const CANNOT_VRFY: Reply = r(
        252,
        (2, 1, 5),
        "Cannot VRFY user, but will accept message and attempt delivery",
    );
    /// `502 5.5.1 Command not implemented`
    pub const NOT_IMPLEMENTED: Reply = r(502, (5, 5, 1), "Command not implemented");
    /// `500 5.5.2 Command not recognized`
    pub const UNRECOGNIZED: Reply = r(500, (5, 5, 2), "Command not recognized");
    /// `503 5.5.1 Bad sequence of commands`
    pub const BAD_SEQUENCE: Reply = r(503, (5, 5, 1), "Bad sequence of commands");
    /// `500 5.5.2 Line too long`
    pub const LINE_TOO_LONG: Reply = r(500, (5, 5, 2), "Line too long");
    /// `552 5.3.4 Message size exceeds fixed limit`
    pub const TOO_BIG: Reply = r(552, (5, 3, 4), "Message size exceeds fixed limit");
    /// `452 4.5.3 Too many recipients`
    pub const TOO_MANY_RECIPIENTS: Reply = r(452, (4, 5, 3), "Too many recipients");
    /// `550 5.6.11 Bare CR or LF not allowed in message`
    pub const BARE_LINE_ENDING: Reply = r(550, (5, 6, 11), "Bare CR or LF not allowed in message");
    /// `555 5.5.4 Unsupported parameter`
    pub const UNSUPPORTED_PARAM: Reply = r(555, (5, 5, 4), "Unsupported parameter");
    /// `553 5.6.7 Non-ASCII address requires SMTPUTF8`
    pub const NEED_SMTPUTF8: Reply = r(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8");
    /// `421 4.7.0 Too many errors, closing connection`
    pub const TOO_MANY_ERRORS: Reply = r(421, (4, 7, 0), "Too many errors, closing connection");
    /// `421 4.7.0 Too many commands without mail, closing connection`: the junk-command budget
    /// (NOOP, RSET, VRFY, refused RCPT...) is spent.
    pub const TOO_MANY_JUNK: Reply = r(
        421,
        (4, 7, 0),
        "Too many commands without mail, closing connection",
    );
    /// `421 4.4.2 Session time limit reached, closing connection`
    pub const SESSION_TOO_LONG: Reply = r(
        421,
        (4, 4, 2),
        "Session time limit reached, closing connection",
    );
    /// `421 4.7.0 Too many sessions, try again later`
    pub const BUSY: Reply = r(421, (4, 7, 0), "Too many sessions, try again later");
    /// `421 4.7.0 Too many connections from your address`
    pub const TOO_MANY_FROM_ADDRESS: Reply =
        r(421, (4, 7, 0), "Too many connections from your address");
    /// `554 5.5.0 Protocol error: talked before the greeting`
    pub const PREGREET: Reply = r(554, (5, 5, 0), "Protocol error: talked before the greeting");
    /// `421 4.4.2 Timeout, closing connection`
    pub const TIMEOUT: Reply = r(421, (4, 4, 2), "Timeout, closing connection");
    /// `421 4.3.2 Service shutting down, closing connection`
    pub const SHUTTING_DOWN: Reply = r(421, (4, 3, 2), "Service shutting down, closing connection");
    /// `421 4.3.0 Internal error, closing connection`: a handler panicked; the session ends.
    pub const INTERNAL_ERROR_CLOSING: Reply =
        r(421, (4, 3, 0), "Internal error, closing connection");
    /// `214 2.0.0` with a pointer to RFC 5321: the answer to HELP.
    pub const HELP: Reply = r(
        214,
        (2, 0, 0),
        "See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)",
    );
    /// `500 5.5.1 Error: this is LMTP, use LHLO`: HELO/EHLO on an LMTP listener.
    pub const USE_LHLO: Reply = r(500, (5, 5, 1), "Error: this is LMTP, use LHLO");
    /// `500 5.5.6 Authentication exchange line is too long`
    pub const AUTH_LINE_TOO_LONG: Reply =
        r(500, (5, 5, 6), "Authentication exchange line is too long");
    /// `500 5.5.2 Line too long in message`: a DATA line past `max_data_line`.
    pub const DATA_LINE_TOO_LONG: Reply = r(500, (5, 5, 2), "Line too long in message");
    /// `451 4.3.0 Internal error`: a handler failed (panicked)
    pub const INTERNAL_ERROR: Reply = r(451, (4, 3, 0), "Internal error");
    /// `554 5.7.1 Access denied`: the default reject of a connection
    pub const ACCESS_DENIED: Reply = r(554, (5, 7, 1), "Access denied");
    /// `550 5.1.1 Mailbox unavailable`
    pub const NO_SUCH_USER: Reply = r(550, (5, 1, 1), "Mailbox unavailable");
    /// `450 4.2.1 Mailbox temporarily unavailable`
    pub const MAILBOX_BUSY: Reply = r(450, (4, 2, 1), "Mailbox temporarily unavailable");
    /// `451 4.3.0 Message rejected, try again later`
    pub const TRY_AGAIN: Reply = r(451, (4, 3, 0), "Message rejected, try again later");
    /// `220 2.0.0 Ready to start TLS`
    pub const READY_TLS: Reply = r(220, (2, 0, 0), "Ready to start TLS");
    /// `530 5.7.0 Must issue a STARTTLS command first`
    pub const NEED_TLS: Reply = r(530, (5, 7, 0), "Must issue a STARTTLS command first");
    /// `530 5.7.0 Authentication required`
    pub const NEED_AUTH: Reply = r(530, (5, 7, 0), "Authentication required");
    /// `538 5.7.11 Encryption required for requested authentication mechanism`
    pub const AUTH_NEEDS_TLS: Reply = r(
        538,
        (5, 7, 11),
        "Encryption required for requested authentication mechanism",
    );
    /// `235 2.7.0 Authentication successful`
    pub const AUTH_OK: Reply = r(235, (2, 7, 0), "Authentication successful");
    /// `535 5.7.8 Authentication credentials invalid`
    pub const AUTH_FAILED: Reply = r(535, (5, 7, 8), "Authentication credentials invalid");
    /// `504 5.5.4 Unrecognized authentication type`
    pub const AUTH_UNKNOWN_MECHANISM: Reply = r(504, (5, 5, 4), "Unrecognized authentication type");
    /// `554 5.6.0 Transaction failed`
    pub const TRANSACTION_FAILED: Reply = r(554, (5, 6, 0), "Transaction failed");

    /// Builds a reply. `text` lines are separated by `\n`.
    pub fn new(
        code: u16,
        enhanced: Option<EnhancedCode>,
        text: impl Into<Cow<'static, str>>,
    ) -> Self {
        Reply {
            code,
            enhanced,
            text: text.into(),
        }
    }

    /// Builds a reply with an enhanced code given as a tuple: `Reply::with(550, (5, 1, 1), "No such user")`.
    pub fn with(code: u16, enhanced: (u8, u16, u16), text: impl Into<Cow<'static, str>>) -> Self {
        Reply::new(
            code,
            Some(EnhancedCode::new(enhanced.0, enhanced.1, enhanced.2)),
            text,
        )
    }

    /// The same reply with other text.
    pub fn with_text(&self, text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            text: text.into(),
            ..self.clone()
        }
    }

    /// 2xx
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text lines (at least one, possibly empty).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n').map(|l| l.trim_end_matches('\r'))
    }

    /// Appends the wire form to `out`: every line `CODE-[enhanced ]text\r\n`, the last with a
    /// space instead of the dash. CR and LF never leak from the text into the stream, and the
    /// enhanced code is only sent when `enhanced_codes` is on (ENHANCEDSTATUSCODES).
    pub fn write_to(&self, out: &mut Vec<u8>, enhanced_codes: bool) {
        // Written without formatting machinery or allocation: every reply the server sends
        // goes through here. The head of a line (code, separator, enhanced code) is made once
        // in a small array and copied whole with the text and the CRLF: three appends a line,
        // and few tests (each a traced call under the session fuzz target). Lines are found
        // eight bytes at a time (see `byte_search`).
        let code = u32::from(self.code.min(999));
        let mut head = [0u8; 32];
        head[0] = b'0' + (code / 100) as u8;
        head[1] = b'0' + (code / 10 % 10) as u8;
        head[2] = b'0' + (code % 10) as u8;
        let mut head_len = 4;
        let enhanced = match (enhanced_codes, self.enhanced) {
            (true, Some(e)) => {
                head_len = put_decimal(&mut head, head_len, e.class.into());
                head[head_len & 31] = b'.';
                head_len = put_decimal(&mut head, head_len.wrapping_add(1), e.subject);
                head[head_len & 31] = b'.';
                head_len = put_decimal(&mut head, head_len.wrapping_add(1), e.detail);
                true
            }
            _ => false,
        };
        let mut rest = self.text.as_bytes();
        loop {
            // This line is `rest[..lf]` (another follows) or all of `rest` (the last). A CR is
            // dropped wherever it is (LF cannot be in a line: lines are split on it).
            let (lf, cr) = match byte_search::find_line_break(rest) {
                None => (None, None),
                Some(i) if rest.get(i) == Some(&b'\n') => (Some(i), None),
                Some(i) => (byte_search::find_byte(rest, b'\n'), Some(i)),
            };
            let line = rest.get(..lf.unwrap_or(rest.len())).unwrap_or_default();
            head[3] = if lf.is_some() { b'-' } else { b' ' };
            let mut len = head_len;
            if enhanced {
                let empty = match cr {
                    None => line.is_empty(),
                    Some(_) => line.iter().all(|&b| b == b'\r'),
                };
                if !empty {
                    // `& 31`: an index the compiler sees in bounds (no traced test).
                    head[len & 31] = b' ';
                    len = len.wrapping_add(1);
                }
            }
            out.extend_from_slice(head.get(..len).unwrap_or_default());
            match cr {
                None => out.extend_from_slice(line),
                Some(_) => {
                    for piece in line.split(|&b| b == b'\r') {
                        out.extend_from_slice(piece);
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            match lf {
                Some(i) => rest = rest.get(i + 1..).unwrap_or_default(),
                None => break,
            }
        }
    }

    /// The wire form as bytes (with enhanced codes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v, true);
        v
    }
}

/// Writes `n` in decimal into `buf` from `at` and returns where it ends. Without a test per
/// digit: all five digits are written (the unused ones past the end, overwritten or never
/// sent), and the width is arithmetic. `at` is at most 15 here (a head's code, class and
/// subject), so the writes stay inside `buf`.
fn put_decimal(buf: &mut [u8; 32], at: usize, n: u16) -> usize {
    let n = u32::from(n);
    // The five digits, then room for the indices past them (`& 15`, not `% 5`: the compiler
    // would make a remainder of a small number a compare).
    let (a, b, c, d, e) = (n / 10000, n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10);
    let digits = [a, b, c, d, e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    // One for each power of ten up to n: (n + 2^16 - k) >> 16 is 1 exactly when n >= k.
    let ge = |k: u32| (n.wrapping_add(0x1_0000).wrapping_sub(k) >> 16) as usize;
    let width = 1 + ge(10) + ge(100) + ge(1000) + ge(10000);
    // Wrapping arithmetic, `|` for `+` and masked indices: no overflow or bounds tests
    // (traced calls), and no loop.
    let skip = 5usize.wrapping_sub(width);
    let digit = |k: usize| b'0' | digits[skip.wrapping_add(k) & 15] as u8;
    buf[at & 31] = digit(0);
    buf[at.wrapping_add(1) & 31] = digit(1);
    buf[at.wrapping_add(2) & 31] = digit(2);
    buf[at.wrapping_add(3) & 31] = digit(3);
    buf[at.wrapping_add(4) & 31] = digit(4);
    at.wrapping_add(width)
}

impl fmt::Display for Reply {
    /// One line for logs: `550 5.1.1 text` (lines joined by ` / `).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        for (i, line) in self.lines().enumerate() {
            f.write_str(if i == 0 { " " } else { " / " })?;
            f.write_str(line)?;
        }
        Ok(())
    }
}

/// Why a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyParseError {
    /// A line is not `DDD`, `DDD text` or `DDD-text`.
    BadLine(String),
    /// The lines of one multi-line reply carry different codes.
    CodeMismatch,
    /// No line, or the input ended before the last line (`DDD ` form).
    Incomplete,
}

impl fmt::Display for ReplyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyParseError::BadLine(l) => write!(f, "malformed reply line: {l:?}"),
            ReplyParseError::CodeMismatch => f.write_str("reply lines carry different codes"),
            ReplyParseError::Incomplete => f.write_str("incomplete reply"),
        }
    }
}

impl std::error::Error for ReplyParseError {}

/// One parsed reply line: code, whether more lines follow, and the text after the separator.
pub fn parse_reply_line(line: &str) -> Result<(u16, bool, &str), ReplyParseError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || ReplyParseError::BadLine(line.chars().take(80).collect());
    let digits = line.get(..3).ok_or_else(bad)?;
    let code: u16 = parse_digits(digits, 3).ok_or_else(bad)?;
    if !(200..600).contains(&code) {
        return Err(bad());
    }
    match line.as_bytes().get(3) {
        None => Ok((code, false, "")),
        Some(b' ') => Ok((code, false, line.get(4..).unwrap_or(""))),
        Some(b'-') => Ok((code, true, line.get(4..).unwrap_or(""))),
        Some(_) => Err(bad()),
    }
}

impl Reply {
    /// Parses a complete (possibly multi-line) reply from its lines. When every line starts
    /// with the same enhanced code, it is split off into `enhanced`.
    pub fn parse_lines<'a>(
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Result<Reply, ReplyParseError> {
        let mut code = None;
        let mut texts: Vec<&str> = Vec::new();
        let mut finished = false;
        for line in lines {
            if finished {
                return Err(ReplyParseError::BadLine(line.chars().take(80).collect()));
            }
            let (c, more, text) = parse_reply_line(line)?;
            if *code.get_or_insert(c) != c {
                return Err(ReplyParseError::CodeMismatch);
            }
            texts.push(text);
            finished = !more;
        }
        let (Some(code), true) = (code, finished) else {
            return Err(ReplyParseError::Incomplete);
        };
        let first_enhanced = texts
            .first()
            .and_then(|t| t.split(' ').next())
            .and_then(EnhancedCode::parse)
            .filter(|e| u16::from(e.class) == code / 100);
        let enhanced = first_enhanced.filter(|e| {
            texts
                .iter()
                .all(|t| t.split(' ').next().and_then(EnhancedCode::parse) == Some(*e))
        });
        let text: Vec<&str> = texts
            .iter()
            .map(|t| match enhanced {
                Some(_) => t.split_once(' ').map_or("", |(_, rest)| rest),
                None => t,
            })
            .collect();
        Ok(Reply::new(code, enhanced, text.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_decimal_writes_every_u16_as_format_does() {
        for n in 0..=u16::MAX {
            let mut buf = [b'x'; 32];
            for at in [0, 4, 11] {
                let end = put_decimal(&mut buf, at, n);
                assert_eq!(&buf[at..end], n.to_string().as_bytes(), "{n} at {at}");
            }
        }
    }

    fn wire(r: &Reply) -> String {
        String::from_utf8(r.to_bytes()).unwrap()
    }

    #[test]
    fn single_line() {
        assert_eq!(wire(&Reply::OK), "250 2.0.0 OK\r\n");
        assert_eq!(
            wire(&Reply::START_DATA),
            "354 End data with <CR><LF>.<CR><LF>\r\n"
        );
        let mut v = Vec::new();
        Reply::NO_SUCH_USER.write_to(&mut v, false);
        assert_eq!(v, b"550 Mailbox unavailable\r\n");
    }

    #[test]
    fn multi_line_and_injection() {
        let r = Reply::with(250, (2, 0, 0), "a\nb\r\nc");
        assert_eq!(wire(&r), "250-2.0.0 a\r\n250-2.0.0 b\r\n250 2.0.0 c\r\n");
        let r = Reply::new(250, None, "x\ry");
        assert_eq!(wire(&r), "250 xy\r\n");
        let r = Reply::new(250, None, "");
        assert_eq!(wire(&r), "250 \r\n");
    }

    #[test]
    fn codes_are_written_as_numbers() {
        assert_eq!(wire(&Reply::new(5, None, "x")), "005 x\r\n");
        assert_eq!(wire(&Reply::new(1000, None, "x")), "999 x\r\n");
        assert_eq!(wire(&Reply::with(550, (5, 0, 0), "")), "550 5.0.0\r\n");
        let r = Reply::with(451, (4, 999, 65535), "a\nb");
        assert_eq!(wire(&r), "451-4.999.65535 a\r\n451 4.999.65535 b\r\n");
        let r = Reply {
            enhanced: Some(EnhancedCode {
                class: 255,
                subject: 10,
                detail: 0,
            }),
            ..Reply::new(250, None, "\r\r")
        };
        assert_eq!(wire(&r), "250 255.10.0\r\n");
    }

    #[test]
    fn display() {
        assert_eq!(
            Reply::with(250, (2, 0, 0), "a\nb").to_string(),
            "250 2.0.0 a / b"
        );
        assert_eq!(
            Reply::START_DATA.to_string(),
            "354 End data with <CR><LF>.<CR><LF>"
        );
    }

    #[test]
    fn enhanced_parse() {
        assert_eq!(
            EnhancedCode::parse("5.1.1"),
            Some(EnhancedCode::new(5, 1, 1))
        );
        assert_eq!(
            EnhancedCode::parse("2.123.999"),
            Some(EnhancedCode::new(2, 123, 999))
        );
        for bad in [
            "", "5", "5.1", "5.1.1.1", "3.0.0", "5.1000.1", "5.a.1", "5..1", "+5.1.1",
        ] {
            assert_eq!(EnhancedCode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn parse_round_trip() {
        for r in [
            Reply::OK,
            Reply::with(250, (2, 0, 0), "a\nb\nc"),
            Reply::START_DATA,
            Reply::new(220, None, "mx.example ESMTP"),
        ] {
            let bytes = r.to_bytes();
            let text = String::from_utf8(bytes).unwrap();
            let parsed = Reply::parse_lines(text.split_inclusive("\r\n")).unwrap();
            assert_eq!(parsed, r);
        }
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            Reply::parse_lines(["250-a\r\n"]),
            Err(ReplyParseError::Incomplete)
        );
        assert_eq!(
            Reply::parse_lines(["250-a", "251 b"]),
            Err(ReplyParseError::CodeMismatch)
        );
        assert!(Reply::parse_lines(["25x ok"]).is_err());
        assert!(Reply::parse_lines(["250xok"]).is_err());
        assert!(Reply::parse_lines(["999 ok"]).is_err());
        assert!(Reply::parse_lines(["2"]).is_err());
        assert!(Reply::parse_lines(["é50 ok"]).is_err());
        assert_eq!(Reply::parse_lines(["250"]), Ok(Reply::new(250, None, "")));
        // Enhanced code only split off when every line has it.
        let r = Reply::parse_lines(["250-2.0.0 a", "250 b"]).unwrap();
        assert_eq!(r.enhanced, None);
        assert_eq!(r.text, "2.0.0 a\nb");
    }

    /// The line splitting `write_to` had before it searched eight bytes at a time: every text
    /// made of `a`, `é`, CR and LF up to 5 characters, and longer ones across word boundaries,
    /// give the same bytes.
    #[test]
    fn write_to_matches_the_line_iterator() {
        fn reference(r: &Reply, enhanced_codes: bool) -> Vec<u8> {
            let mut out = Vec::new();
            let mut lines = r.lines().peekable();
            while let Some(line) = lines.next() {
                out.extend_from_slice(format!("{:03}", r.code).as_bytes());
                out.push(if lines.peek().is_some() { b'-' } else { b' ' });
                if let (true, Some(e)) = (enhanced_codes, r.enhanced) {
                    out.extend_from_slice(e.to_string().as_bytes());
                    if !line.is_empty() {
                        out.push(b' ');
                    }
                }
                for piece in line.split('\r') {
                    out.extend_from_slice(piece.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            out
        }
        let alphabet = ["a", "\u{e9}", "\r", "\n"];
        let mut texts = vec![String::new()];
        let mut layer = vec![String::new()];
        for _ in 0..5 {
            layer = layer
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(layer.iter().cloned());
        }
        for n in [7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 70] {
            for at in [0, 1, n / 2, n - 1] {
                for c in ["\r", "\n", "\r\n"] {
                    let mut t = "x".repeat(n);
                    t.insert_str(at, c);
                    texts.push(t);
                }
            }
        }
        for text in texts {
            for r in [
                Reply::new(250, None, text.clone()),
                Reply::with(550, (5, 1, 1), text.clone()),
            ] {
                for enhanced in [false, true] {
                    let mut got = Vec::new();
                    r.write_to(&mut got, enhanced);
                    assert_eq!(got, reference(&r, enhanced), "{text:?}");
                }
            }
        }
    }
}
