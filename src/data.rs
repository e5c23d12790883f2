//! SMTP DATA bodies (RFC 5321 §4.5.2): a streaming un-stuffing decoder for the server and a
//! streaming dot-stuffer for the client.
//!
//! Pure byte-slice code, no I/O. The decoder ends a message only on `<CR><LF>.<CR><LF>` found on
//! the raw bytes (or `.<CR><LF>` as the very first line). A bare CR or LF is never a line
//! delimiter, whatever the [`BareLinePolicy`], so forms such as `<LF>.<LF>` or `<CR>.<CR>`
//! cannot end DATA early and smuggle a second message past this server or a downstream one.

use std::fmt;

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const CRLF: &[u8] = b"\r\n";

/// What to do with a CR not followed by LF, or an LF not preceded by CR, inside DATA.
///
/// In every policy a bare CR or LF is ordinary content: it never starts a line, so it can
/// neither introduce a stuffed dot nor end the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLinePolicy {
    /// Record [`DataError::BareLf`] or [`DataError::BareCr`] and reject the message
    /// (RFC 5321 §2.3.8 forbids bare CR and LF).
    #[default]
    Reject,
    /// Replace it with CRLF.
    Normalize,
    /// Drop it.
    Strip,
    /// Pass it through unchanged.
    Allow,
}

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// Max decoded message size in octets; None = unlimited.
    pub max_size: Option<u64>,
    /// Max raw line length in octets INCLUDING the CRLF (RFC 5321 says 1000); None = unlimited.
    ///
    /// The terminating `.` CRLF line is never counted as a violation.
    pub max_line: Option<usize>,
    /// Bare CR / bare LF policy.
    pub bare_line: BareLinePolicy,
}

impl Default for DataLimits {
    /// 10,240,000 octets (Postfix's default), no line limit, bare CR/LF rejected.
    fn default() -> Self {
        DataLimits {
            max_size: Some(10_240_000),
            max_line: None,
            bare_line: BareLinePolicy::Reject,
        }
    }
}

/// The first problem found in a message (the decoder keeps scanning for the terminator after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    /// The decoded message is larger than [`DataLimits::max_size`].
    TooBig,
    /// A raw line is longer than [`DataLimits::max_line`].
    LineTooLong,
    /// An LF not preceded by CR, under [`BareLinePolicy::Reject`].
    BareLf,
    /// A CR not followed by LF, under [`BareLinePolicy::Reject`].
    BareCr,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataError::TooBig => "message exceeds the size limit",
            DataError::LineTooLong => "line exceeds the length limit",
            DataError::BareLf => "bare line feed in message data",
            DataError::BareCr => "bare carriage return in message data",
        })
    }
}

impl std::error::Error for DataError {}

/// Where the decoder is in the raw byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After a CRLF, or at the start: a `.` here is stuffing or the terminator.
    LineStart,
    /// Saw `.` at a line start (not emitted).
    Dot,
    /// Saw `.` CR at a line start: LF next means the terminator.
    DotCr,
    /// Inside a line.
    Text,
    /// Inside a line after a CR; the next byte decides whether it ends the line.
    Cr,
    /// The terminator was consumed.
    Done,
}

/// Streaming decoder for a DATA body.
///
/// Feed it raw bytes in chunks of any size; it appends the un-stuffed message to a caller's
/// buffer, so memory use does not grow with the message. After an error it keeps consuming up to
/// the terminator, so the server can reply and stay in sync with the client.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    limits: DataLimits,
    state: State,
    error: Option<DataError>,
    line_len: usize,
    raw_len: u64,
    decoded_len: u64,
}

impl DataDecoder {
    /// A decoder at the start of a body, applying `limits`.
    pub fn new(limits: DataLimits) -> Self {
        DataDecoder {
            limits,
            state: State::LineStart,
            error: None,
            line_len: 0,
            raw_len: 0,
            decoded_len: 0,
        }
    }

    /// Decodes `input`, appending the un-stuffed message bytes to `out`. Returns how many
    /// input bytes were consumed: all of them, unless the terminator was found, in which case it
    /// stops right after the terminator's final LF (bytes after it are the next command and
    /// must be left to the caller). Calling feed after `is_done()` consumes nothing.
    ///
    /// A CR at the end of `input` is held back until the next byte shows whether it is bare.
    /// When an error is recorded, `out` keeps the prefix decoded before it; discard it.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut rest = input;
        while let Some((&b, tail)) = rest.split_first() {
            match self.state {
                State::Done => break,
                State::Text => {
                    // Whole plain lines go out as one copy; the states below handle the rest.
                    let span = self.plain_lines(rest);
                    if span > 0 {
                        let (lines, after) = rest.split_at(span);
                        self.emit(lines, out);
                        self.line_len = 0;
                        rest = after;
                        continue;
                    }
                    let (run, brk) = rest.split_at(line_break(rest));
                    self.text(run, out);
                    rest = match brk.split_first() {
                        Some((&CR, tail)) => {
                            self.count(1);
                            self.state = State::Cr;
                            tail
                        }
                        Some((_, tail)) => {
                            self.count(1);
                            self.bare(LF, DataError::BareLf, out);
                            tail
                        }
                        None => brk,
                    };
                }
                State::Cr if b == LF => {
                    rest = tail;
                    self.count(1);
                    self.emit(CRLF, out);
                    self.line_len = 0;
                    self.state = State::LineStart;
                }
                State::Cr => {
                    // Bare CR; `b` is then read as text.
                    self.bare(CR, DataError::BareCr, out);
                    self.state = State::Text;
                }
                State::LineStart if b == b'.' => {
                    rest = tail;
                    self.state = State::Dot;
                }
                State::Dot if b == CR => {
                    rest = tail;
                    self.state = State::DotCr;
                }
                State::Dot => {
                    // A stuffed dot: dropped, but it counts towards the raw line length.
                    self.count(1);
                    self.state = State::Text;
                }
                State::DotCr if b == LF => {
                    rest = tail;
                    self.state = State::Done;
                }
                State::DotCr => {
                    self.count(2);
                    self.bare(CR, DataError::BareCr, out);
                    self.state = State::Text;
                }
                State::LineStart => self.state = State::Text,
            }
        }
        let used = input.len() - rest.len();
        self.raw_len += used as u64;
        used
    }

    /// True once `CRLF.CRLF` (or `.CRLF` at the very start: empty message) was consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The first violation seen, if any. Once set, nothing more is appended to `out`
    /// (the message is rejected), but scanning for the terminator continues.
    pub fn error(&self) -> Option<DataError> {
        self.error
    }

    /// Raw octets consumed so far (terminator included).
    pub fn raw_len(&self) -> u64 {
        self.raw_len
    }

    /// Decoded octets emitted so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded_len
    }

    fn fail(&mut self, e: DataError) {
        self.error.get_or_insert(e);
    }

    /// Length of the longest prefix of `s` made of whole lines (`text CRLF`, no CR or LF in the
    /// text), each followed by a byte other than `.` and none over `max_line` (the first one
    /// counted from the current line's length). Such lines decode to themselves and leave the
    /// decoder in `Text` (a line start without a dot reads as text), so they need no state
    /// steps: most of a body is copied in spans, not line by line.
    fn plain_lines(&self, s: &[u8]) -> usize {
        let max = self.limits.max_line.unwrap_or(usize::MAX);
        let mut line_len = self.line_len;
        let mut end = 0;
        while let Some(i) = crate::byte_search::find_line_break(&s[end..]) {
            match s.get(end + i..end + i + 3) {
                Some(&[CR, LF, next]) if next != b'.' => {}
                _ => break,
            }
            if line_len.saturating_add(i + 2) > max {
                break;
            }
            line_len = 0;
            end += i + 2;
        }
        end
    }

    /// Counts `n` raw octets of the current line against `max_line`.
    fn count(&mut self, n: usize) {
        self.line_len = self.line_len.saturating_add(n);
        if self.limits.max_line.is_some_and(|max| self.line_len > max) {
            self.fail(DataError::LineTooLong);
        }
    }

    /// Emits a run of plain line content, cut exactly where the line grows too long.
    fn text(&mut self, run: &[u8], out: &mut Vec<u8>) {
        let room = self
            .limits
            .max_line
            .map_or(usize::MAX, |max| max.saturating_sub(self.line_len));
        self.emit(run.get(..room).unwrap_or(run), out);
        self.count(run.len());
    }

    fn bare(&mut self, byte: u8, err: DataError, out: &mut Vec<u8>) {
        match self.limits.bare_line {
            BareLinePolicy::Reject => self.fail(err),
            BareLinePolicy::Normalize => self.emit(CRLF, out),
            BareLinePolicy::Strip => {}
            BareLinePolicy::Allow => self.emit(&[byte], out),
        }
    }

    /// Appends decoded bytes, up to exactly `max_size`; nothing once an error is set.
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.error.is_some() {
            return;
        }
        let room = self
            .limits
            .max_size
            .map_or(u64::MAX, |max| max.saturating_sub(self.decoded_len));
        let n = usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()));
        let (fits, over) = bytes.split_at(n);
        out.extend_from_slice(fits);
        self.decoded_len += n as u64;
        if !over.is_empty() {
            self.fail(DataError::TooBig);
        }
    }
}

/// Index of the first CR or LF in `s`, or `s.len()`.
fn line_break(s: &[u8]) -> usize {
    crate::byte_search::find_line_break(s).unwrap_or(s.len())
}

/// Streaming dot-stuffer for the client side: normalises line endings to CRLF (a bare LF or a
/// bare CR becomes CRLF), doubles a `.` at the start of every line, and `finish` adds the
/// terminator (first a CRLF if the body does not already end with one).
///
/// Normalising bare line endings means every `.` a receiver could see at a line start is
/// stuffed, whatever its line-ending rules.
#[derive(Debug, Clone, Default)]
pub struct DotStuffer {
    /// Some bytes of the current line were written (false at the start of the body).
    mid_line: bool,
    /// A CR was the last byte seen; the next byte decides whether it is a CRLF or bare.
    pending_cr: bool,
}

impl DotStuffer {
    /// A stuffer at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stuffs the next chunk of the body into `out`. A trailing CR is held until the next
    /// chunk (or [`finish`](Self::finish)) so a CRLF split across chunks stays one line end.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while let Some((&b, tail)) = rest.split_first() {
            if self.pending_cr {
                // CRLF, or a bare CR: both end the line as CRLF.
                self.pending_cr = false;
                self.mid_line = false;
                out.extend_from_slice(CRLF);
                if b == LF {
                    rest = tail;
                }
                continue;
            }
            if !self.mid_line {
                self.mid_line = true;
                if b == b'.' {
                    out.push(b'.');
                }
            }
            let (run, brk) = rest.split_at(line_break(rest));
            out.extend_from_slice(run);
            rest = match brk.split_first() {
                Some((&CR, tail)) => {
                    self.pending_cr = true;
                    tail
                }
                Some((_, tail)) => {
                    out.extend_from_slice(CRLF);
                    self.mid_line = false;
                    tail
                }
                None => brk,
            };
        }
    }

    /// Ends the body: a CRLF if the last line is unterminated, then `.` CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.mid_line || self.pending_cr {
            out.extend_from_slice(CRLF);
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// Whole-buffer convenience: `dot_stuff(b"a\n.b") == b"a\r\n..b\r\n.\r\n"`.
///
/// ```
/// use smtpkit::data::dot_stuff;
/// assert_eq!(dot_stuff(b"a\n.b"), b"a\r\n..b\r\n.\r\n");
/// assert_eq!(dot_stuff(b""), b".\r\n");
/// ```
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    let mut stuffer = DotStuffer::new();
    stuffer.push(body, &mut out);
    stuffer.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: [BareLinePolicy; 4] = [
        BareLinePolicy::Reject,
        BareLinePolicy::Normalize,
        BareLinePolicy::Strip,
        BareLinePolicy::Allow,
    ];

    /// Output, bytes consumed, error, done.
    type Outcome = (Vec<u8>, usize, Option<DataError>, bool);

    fn lim(bare_line: BareLinePolicy) -> DataLimits {
        DataLimits {
            max_size: None,
            max_line: None,
            bare_line,
        }
    }

    /// Feeds `chunks` in order (even after done, which must consume nothing).
    fn decode_chunks(limits: DataLimits, chunks: &[&[u8]]) -> Outcome {
        let mut d = DataDecoder::new(limits);
        let mut out = Vec::new();
        let mut used = 0;
        for chunk in chunks {
            let was_done = d.is_done();
            let n = d.feed(chunk, &mut out);
            assert!(n <= chunk.len());
            assert!(n == chunk.len() || d.is_done());
            assert!(!was_done || n == 0);
            used += n;
        }
        assert_eq!(d.raw_len(), used as u64);
        assert_eq!(d.decoded_len(), out.len() as u64);
        (out, used, d.error(), d.is_done())
    }

    /// Decodes `input` whole, byte by byte and at every 2-way split; all must agree.
    fn decode(limits: DataLimits, input: &[u8]) -> Outcome {
        let whole = decode_chunks(limits, &[input]);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode_chunks(limits, &bytes), whole, "byte by byte");
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(decode_chunks(limits, &[a, b]), whole, "split at {i}");
        }
        whole
    }

    fn done(out: &[u8], used: usize) -> Outcome {
        (out.to_vec(), used, None, true)
    }

    #[test]
    fn simple_and_empty() {
        let msg = b"Subject: hi\r\n\r\nHello\r\n.\r\n";
        assert_eq!(
            decode(lim(BareLinePolicy::Reject), msg),
            done(b"Subject: hi\r\n\r\nHello\r\n", msg.len())
        );
        assert_eq!(decode(DataLimits::default(), b".\r\n"), done(b"", 3));
        assert_eq!(
            decode(DataLimits::default(), b"\r\n.\r\n"),
            done(b"\r\n", 5)
        );
        assert_eq!(decode(DataLimits::default(), b""), (vec![], 0, None, false));
    }

    #[test]
    fn unstuffing() {
        let l = lim(BareLinePolicy::Reject);
        let msg = b"..hidden\r\n.x\r\n..\r\nmid.dle.\r\n...\r\n.\r\n";
        assert_eq!(
            decode(l, msg),
            done(b".hidden\r\nx\r\n.\r\nmid.dle.\r\n..\r\n", msg.len())
        );
        assert_eq!(decode(l, b"..\r\n..\r\n.\r\n"), done(b".\r\n.\r\n", 11));
        // Only a real CRLF starts a line.
        let allow = lim(BareLinePolicy::Allow);
        let (out, _, _, fin) = decode(allow, b"a\n..b");
        assert_eq!((out.as_slice(), fin), (&b"a\n..b"[..], false));
    }

    #[test]
    fn leaves_the_next_command() {
        let msg = b"a\r\n.\r\nQUIT\r\n";
        assert_eq!(decode(DataLimits::default(), msg), done(b"a\r\n", 6));
        let mut d = DataDecoder::new(DataLimits::default());
        let mut out = Vec::new();
        assert_eq!(d.feed(msg, &mut out), 6);
        assert_eq!(d.feed(b"QUIT\r\n", &mut out), 0);
        assert_eq!((d.raw_len(), out.as_slice()), (6, &b"a\r\n"[..]));
    }

    #[test]
    fn smuggling_never_ends_data() {
        let forms: [(&[u8], DataError); 5] = [
            (b"\n.\n", DataError::BareLf),
            (b"\n.\r\n", DataError::BareLf),
            (b"\r.\r", DataError::BareCr),
            (b"\r\n.\n", DataError::BareLf),
            (b"\r.\r\n", DataError::BareCr),
        ];
        for (form, err) in forms {
            for policy in POLICIES {
                for after in [&b"MAIL FROM:<x>"[..], b""] {
                    let mut body = [b"a", form, after].concat();
                    let (_, used, _, fin) = decode(lim(policy), &body);
                    assert!(!fin, "{form:?} {policy:?}");
                    assert_eq!(used, body.len());
                    body.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
                    let (_, used, e, fin) = decode(lim(policy), &body);
                    assert!(fin && used == body.len() - 6, "{form:?} {policy:?}");
                    let want = (policy == BareLinePolicy::Reject).then_some(err);
                    assert_eq!(e, want, "{form:?} {policy:?}");
                }
            }
        }
        let msg = b"a\r\n.\nb\r\n.\r\n";
        let outs: [&[u8]; 4] = [b"a\r\n", b"a\r\n\r\nb\r\n", b"a\r\nb\r\n", b"a\r\n\nb\r\n"];
        for (policy, want) in POLICIES.into_iter().zip(outs) {
            assert_eq!(decode(lim(policy), msg).0, want, "{policy:?}");
        }
    }

    #[test]
    fn bare_line_policies() {
        let cases: [(&[u8], [&[u8]; 4]); 4] = [
            (b"a\nb", [b"a", b"a\r\nb", b"ab", b"a\nb"]),
            (b"a\rb", [b"a", b"a\r\nb", b"ab", b"a\rb"]),
            (b"a\r\r\n", [b"a", b"a\r\n\r\n", b"a\r\n", b"a\r\r\n"]),
            (b"\n.\r", [b"", b"\r\n.\r\n", b".", b"\n.\r"]),
        ];
        for (body, outs) in cases {
            let msg = [body, b"\r\n.\r\n"].concat();
            for (policy, want) in POLICIES.into_iter().zip(outs) {
                let (out, used, e, fin) = decode(lim(policy), &msg);
                let mut want = want.to_vec();
                if policy == BareLinePolicy::Reject {
                    assert!(e.is_some(), "{body:?}");
                } else {
                    want.extend_from_slice(b"\r\n");
                    assert_eq!(e, None);
                }
                assert_eq!(
                    (out, used, fin),
                    (want, msg.len(), true),
                    "{body:?} {policy:?}"
                );
            }
        }
        // A CR ending a chunk is only judged once the next byte arrives.
        let mut d = DataDecoder::new(lim(BareLinePolicy::Reject));
        let mut out = Vec::new();
        d.feed(b"a\r", &mut out);
        assert_eq!((d.error(), out.as_slice()), (None, &b"a"[..]));
        d.feed(b"\n.\r\n", &mut out);
        assert_eq!(
            (d.error(), d.is_done(), out.as_slice()),
            (None, true, &b"a\r\n"[..])
        );
        let mut d = DataDecoder::new(lim(BareLinePolicy::Normalize));
        out.clear();
        d.feed(b"a\r", &mut out);
        d.feed(b"b\r\n.\r\n", &mut out);
        assert_eq!(out, b"a\r\nb\r\n");
    }

    #[test]
    fn size_limit() {
        let msg = b"abcd\r\n.\r\n";
        let l = |max| DataLimits {
            max_size: Some(max),
            ..DataLimits::default()
        };
        assert_eq!(decode(l(6), msg), done(b"abcd\r\n", 9));
        assert_eq!(
            decode(l(5), msg),
            (b"abcd\r".to_vec(), 9, Some(DataError::TooBig), true)
        );
        assert_eq!(decode(l(0), b".\r\n"), done(b"", 3));
        let long = [&b"x".repeat(500)[..], b"\r\n..\r\nmore\r\n.\r\nQUIT"].concat();
        let (out, used, e, fin) = decode(l(100), &long);
        assert_eq!(
            (out.len(), used, e, fin),
            (100, long.len() - 4, Some(DataError::TooBig), true)
        );
    }

    /// Bodies of many short lines (the span copy's ground) with dots, bare CRs and LFs mixed
    /// in, under tight limits: whole, byte by byte (where no span is ever seen whole) and at
    /// every split, all agree.
    #[test]
    fn spans_match_line_by_line() {
        let mut next = crate::test_rng::xorshift(0x5eed_da7a);
        let pieces: [&[u8]; 7] = [b"ab", b"\r\n", b"\r\n", b".", b"\r", b"\n", b"xyz"];
        for round in 0..300 {
            let mut body = Vec::new();
            for _ in 0..next() % 40 {
                body.extend_from_slice(pieces[(next() % 7) as usize]);
            }
            if round % 2 == 0 {
                body.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
            }
            let policy = POLICIES[(next() % 4) as usize];
            let limits = DataLimits {
                max_size: [None, Some(next() % 60)][(next() % 2) as usize],
                max_line: [None, Some(2 + (next() % 8) as usize)][(next() % 2) as usize],
                bare_line: policy,
            };
            decode(limits, &body);
        }
    }

    #[test]
    fn line_limit() {
        let l = DataLimits {
            max_line: Some(1000),
            ..DataLimits::default()
        };
        let line = |prefix: &[u8], n: usize| [prefix, &b"x".repeat(n), b"\r\n.\r\n"].concat();
        let ok = line(b"", 998);
        assert_eq!(decode(l, &ok), done(&ok[..1000], 1003));
        let (out, _, e, fin) = decode(l, &line(b"", 999));
        assert_eq!(
            (out.len(), e, fin),
            (999, Some(DataError::LineTooLong), true)
        );
        let (out, _, e, _) = decode(l, &line(b"", 1001));
        assert_eq!((out.len(), e), (1000, Some(DataError::LineTooLong)));
        // The stuffed dot counts: it is a raw octet.
        assert_eq!(decode(l, &line(b".", 997)).2, None);
        assert_eq!(decode(l, &line(b".", 998)).2, Some(DataError::LineTooLong));
        let tiny = DataLimits {
            max_line: Some(2),
            ..DataLimits::default()
        };
        assert_eq!(decode(tiny, b".\r\n"), done(b"", 3));
    }

    #[test]
    fn first_error_wins() {
        let msg = [&b"a\nb\rc"[..], &b"x".repeat(200), b"\r\n.\r\n"].concat();
        let l = |max_size, max_line, bare_line| DataLimits {
            max_size: Some(max_size),
            max_line: Some(max_line),
            bare_line,
        };
        let run = |l| decode(l, &msg).2;
        assert_eq!(
            run(l(10, 100, BareLinePolicy::Reject)),
            Some(DataError::BareLf)
        );
        assert_eq!(
            run(l(10, 100, BareLinePolicy::Allow)),
            Some(DataError::TooBig)
        );
        assert_eq!(
            run(l(1000, 10, BareLinePolicy::Allow)),
            Some(DataError::LineTooLong)
        );
        assert_eq!(
            run(l(0, 100, BareLinePolicy::Reject)),
            Some(DataError::TooBig)
        );
    }

    /// Straightforward model of the decoder for inputs that contain a terminator.
    fn model(limits: DataLimits, input: &[u8]) -> Outcome {
        let end = if input.starts_with(b".\r\n") {
            3
        } else {
            input.windows(5).position(|w| w == b"\r\n.\r\n").unwrap() + 5
        };
        let (mut out, mut err, mut lines) = (Vec::new(), None, Vec::new());
        let body = &input[..end - 3];
        let mut rest = body;
        while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
            lines.push(&rest[..i]);
            rest = &rest[i + 2..];
        }
        let mut emit = |err: &mut Option<DataError>, bytes: &[u8]| {
            for &b in bytes {
                if err.is_none() && limits.max_size.is_some_and(|m| out.len() as u64 >= m) {
                    *err = Some(DataError::TooBig);
                }
                if err.is_none() {
                    out.push(b);
                }
            }
        };
        for line in lines {
            let mut len = 0;
            let mut count = |err: &mut Option<DataError>| {
                len += 1;
                if err.is_none() && limits.max_line.is_some_and(|m| len > m) {
                    *err = Some(DataError::LineTooLong);
                }
            };
            let content = line.strip_prefix(b".").inspect(|_| count(&mut err));
            for &b in content.unwrap_or(line) {
                count(&mut err);
                let e = if b == CR {
                    DataError::BareCr
                } else {
                    DataError::BareLf
                };
                match (b == CR || b == LF, limits.bare_line) {
                    (false, _) | (true, BareLinePolicy::Allow) => emit(&mut err, &[b]),
                    (true, BareLinePolicy::Reject) => _ = err.get_or_insert(e),
                    (true, BareLinePolicy::Normalize) => emit(&mut err, CRLF),
                    (true, BareLinePolicy::Strip) => {}
                }
            }
            count(&mut err);
            count(&mut err);
            emit(&mut err, CRLF);
        }
        (out, end, err, true)
    }

    #[test]
    fn matches_model_on_random_input() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut rand = move |n: u64| next() % n;
        for _ in 0..3000 {
            let len = rand(24);
            let mut input: Vec<u8> = (0..len).map(|_| b"a.\r\n\r"[rand(5) as usize]).collect();
            input.extend_from_slice(b"\r\n.\r\nNEXT");
            let limits = DataLimits {
                max_size: (rand(3) > 0).then(|| rand(30)),
                max_line: (rand(3) > 0).then(|| rand(12) as usize),
                bare_line: POLICIES[rand(4) as usize],
            };
            assert_eq!(
                decode(limits, &input),
                model(limits, &input),
                "{input:?} {limits:?}"
            );
        }
    }

    fn stuff_chunks(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        for chunk in chunks {
            s.push(chunk, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn dot_stuffing() {
        let cases: [(&[u8], &[u8]); 10] = [
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a\r", b"a\r\n.\r\n"),
            (b"\r\n", b"\r\n.\r\n"),
            (b"a\nb\rc\r\nd", b"a\r\nb\r\nc\r\nd\r\n.\r\n"),
            (b"\r\r\n\n", b"\r\n\r\n\r\n.\r\n"),
            (b".a\n.b\r\n..c", b"..a\r\n..b\r\n...c\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b"a\r.\n.", b"a\r\n..\r\n..\r\n.\r\n"),
        ];
        for (body, want) in cases {
            assert_eq!(dot_stuff(body), want, "{body:?}");
            for i in 0..=body.len() {
                let (a, b) = body.split_at(i);
                assert_eq!(stuff_chunks(&[a, b]), want, "{body:?} split at {i}");
            }
            let bytes: Vec<&[u8]> = body.chunks(1).collect();
            assert_eq!(stuff_chunks(&bytes), want);
        }
        assert_eq!(stuff_chunks(&[b"a\r", b"\nb"]), b"a\r\nb\r\n.\r\n");
    }

    #[test]
    fn stuff_then_decode_round_trips() {
        let long = [&b".x".repeat(700)[..], b"\r\n.\r\n..\r\n"].concat();
        let bodies: [&[u8]; 12] = [
            b"",
            b"a",
            b"a\r\n",
            b".",
            b".\r\n",
            b"..",
            b"\r\n",
            b"\r\n.\r\n",
            b"a\r\n.\r\nb",
            b".a\r\n..b\r\n...\r\n\r\n",
            b"a\r\n.",
            &long,
        ];
        for body in bodies {
            let wire = dot_stuff(body);
            let mut want = body.to_vec();
            if !body.is_empty() && !body.ends_with(b"\r\n") {
                want.extend_from_slice(b"\r\n");
            }
            assert_eq!(
                decode(lim(BareLinePolicy::Allow), &wire),
                done(&want, wire.len()),
                "{body:?}"
            );
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            DataError::TooBig.to_string(),
            "message exceeds the size limit"
        );
        assert_eq!(
            DataError::BareCr.to_string(),
            "bare carriage return in message data"
        );
    }
}
