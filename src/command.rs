//! SMTP/LMTP command lines: parsing into [`Command`], and the reply for each [`CommandError`].
//!
//! Pure byte-slice parsing, no I/O, no panic on any input. Syntax only: whether a command is
//! allowed now, and what SIZE or BODY values mean, is the session's business.

use crate::address::{AddressError, Mailbox, PathOptions, parse_forward_path, parse_reverse_path};
use crate::byte_search::{class, run_len, run_len_back};
use crate::reply::{EnhancedCode, Reply};
use std::borrow::Cow;
use std::fmt;

/// An ESMTP parameter from MAIL or RCPT: keyword (uppercased) and optional value (as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The keyword, ASCII-uppercased (`SIZE`, `BODY`, `SMTPUTF8`, ...).
    pub keyword: String,
    /// The text after `=`, exactly as sent; None for a bare keyword.
    pub value: Option<String>,
}

/// One SMTP/LMTP command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain`: the first word of the argument.
    Helo(String),
    /// `EHLO domain`: the first word of the argument.
    Ehlo(String),
    /// `LHLO domain` (LMTP): the first word of the argument.
    Lhlo(String),
    /// `MAIL FROM:<reverse-path> [params]`.
    Mail {
        /// The sender; None for the null reverse-path `<>`.
        from: Option<Mailbox>,
        /// ESMTP parameters in the order sent.
        params: Vec<Param>,
    },
    /// `RCPT TO:<forward-path> [params]`.
    Rcpt {
        /// The recipient (domain empty for `<Postmaster>`).
        to: Mailbox,
        /// ESMTP parameters in the order sent.
        params: Vec<Param>,
    },
    /// `DATA`.
    Data,
    /// `BDAT chunk-size [LAST]` (RFC 3030).
    Bdat {
        /// Octets in the chunk that follows the command line.
        size: u64,
        /// Whether this is the last chunk of the message.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP`, argument ignored.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`: the whole argument.
    Vrfy(String),
    /// `EXPN string`: the whole argument.
    Expn(String),
    /// `HELP [string]`: the whole argument, if any.
    Help(Option<String>),
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism name, ASCII-uppercased.
        mechanism: String,
        /// The initial response as sent (base64, or "=" for an empty one).
        initial: Option<String>,
    },
    /// Any verb we do not know: left to the handler (gen_smtp's handle_other).
    Unknown {
        /// The verb, ASCII-uppercased.
        verb: String,
        /// Everything after the verb and its separating spaces, as sent.
        args: String,
    },
}

impl Command {
    /// Parses one line WITHOUT its CRLF (the caller strips it; tolerate a trailing CR or LF anyway).
    pub fn parse(line: &[u8], opts: &PathOptions) -> Result<Command, CommandError> {
        // Trimmed as bytes, then checked as UTF-8 once (the same verdict as for the whole
        // line: only ASCII bytes are trimmed, and no multi-byte character holds one), then cut
        // into verb and argument: two `str` cuts, where trimming a `str` would test two more
        // char boundaries (compares, each a traced call under the session fuzz target).
        let line = trim_line(line);
        if line.is_empty() {
            return Err(CommandError::Empty);
        }
        let line = std::str::from_utf8(line).map_err(|_| CommandError::InvalidUtf8)?;
        let (verb, rest) = line
            .split_at_checked(run_len(line.as_bytes(), &NOT_WS))
            .unwrap_or((line, ""));
        let arg = rest
            .get(run_len(rest.as_bytes(), &WS)..)
            .unwrap_or_default();
        // One switch on the verb as a number: no upper-case copy, no string compares.
        let command = match verb_key(verb) {
            HELO => Command::Helo(hello_name(arg, "HELO")?),
            EHLO => Command::Ehlo(hello_name(arg, "EHLO")?),
            LHLO => Command::Lhlo(hello_name(arg, "LHLO")?),
            MAIL => {
                let path = path_argument(arg, "FROM:").ok_or(CommandError::MailSyntax)?;
                let (from, rest) =
                    parse_reverse_path(path, opts).map_err(CommandError::BadSender)?;
                Command::Mail {
                    from,
                    params: parse_params(rest)?,
                }
            }
            RCPT => {
                let path = path_argument(arg, "TO:").ok_or(CommandError::RcptSyntax)?;
                let (to, rest) =
                    parse_forward_path(path, opts).map_err(CommandError::BadRecipient)?;
                Command::Rcpt {
                    to,
                    params: parse_params(rest)?,
                }
            }
            DATA => no_argument(arg, "DATA", Command::Data)?,
            RSET => no_argument(arg, "RSET", Command::Rset)?,
            QUIT => no_argument(arg, "QUIT", Command::Quit)?,
            STARTTLS => no_argument(arg, "STARTTLS", Command::StartTls)?,
            NOOP => Command::Noop,
            VRFY => Command::Vrfy(required(arg, "VRFY")?.to_owned()),
            EXPN => Command::Expn(required(arg, "EXPN")?.to_owned()),
            HELP => Command::Help((!arg.is_empty()).then(|| arg.to_owned())),
            BDAT => parse_bdat(arg).ok_or(CommandError::BadBdat)?,
            AUTH => {
                let mut words = words(arg);
                let mechanism = words
                    .next()
                    .ok_or(CommandError::MissingArgument("AUTH"))?
                    .to_ascii_uppercase();
                let initial = words.next().map(str::to_owned);
                if words.next().is_some() {
                    return Err(CommandError::UnexpectedArgument("AUTH"));
                }
                Command::Auth { mechanism, initial }
            }
            _ => Command::Unknown {
                verb: verb.to_ascii_uppercase(),
                args: arg.to_owned(),
            },
        };
        Ok(command)
    }

    /// True for commands that move no mail (NOOP, RSET, HELP, VRFY, EXPN, HELO, EHLO, LHLO):
    /// what a server counts against its junk-command budget.
    pub fn moves_no_mail(&self) -> bool {
        matches!(
            self,
            Command::Noop
                | Command::Rset
                | Command::Help(_)
                | Command::Vrfy(_)
                | Command::Expn(_)
                | Command::Helo(_)
                | Command::Ehlo(_)
                | Command::Lhlo(_)
        )
    }

    /// The verb as a static upper-case name ("MAIL", "RCPT", ...; "UNKNOWN" for Unknown), for logs and errors.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo(_) => "HELO",
            Command::Ehlo(_) => "EHLO",
            Command::Lhlo(_) => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Unknown { .. } => "UNKNOWN",
        }
    }
}

/// Why a line could not be parsed. Each maps to an SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Empty or whitespace-only line: `500 5.5.2`.
    Empty,
    /// The line is not UTF-8: `500 5.5.2`.
    InvalidUtf8,
    /// The verb (named) needs an argument: `501 5.5.4 Syntax: <usage>`.
    MissingArgument(&'static str),
    /// The verb (named) takes no argument, or got too many: `501 5.5.4 Syntax: <usage>`.
    UnexpectedArgument(&'static str),
    /// MAIL without `FROM:` followed by a path: `501 5.5.4`.
    MailSyntax,
    /// RCPT without `TO:` followed by a path: `501 5.5.4`.
    RcptSyntax,
    /// The reverse-path is malformed: `501 5.1.7`.
    BadSender(AddressError),
    /// The forward-path is malformed (or `<>`): `501 5.1.3`.
    BadRecipient(AddressError),
    /// A malformed ESMTP parameter (the offending word): `501 5.5.4`.
    BadParam(String),
    /// BDAT without a valid chunk size, or with something other than `LAST` after it: `501 5.5.4`.
    BadBdat,
    /// A HELO/EHLO/LHLO name (verb named) with control characters: `501 5.5.2`. Such a name
    /// would reach logs, `Received:` headers and handlers.
    BadHelloName(&'static str),
}

impl CommandError {
    /// (reply code, enhanced status code (class, subject, detail), reply text) for this error.
    pub fn reply_parts(&self) -> (u16, (u8, u16, u16), String) {
        let (code, enhanced, text) = self.parts();
        (code, enhanced, text.into_owned())
    }

    /// The reply's code, enhanced code and text: the one table both [`Self::reply_parts`] and
    /// the [`Reply`] conversion read. Fixed texts are borrowed, not copied: every syntax error
    /// the server answers comes through here.
    fn parts(&self) -> (u16, (u8, u16, u16), Cow<'static, str>) {
        match self {
            CommandError::Empty => (500, (5, 5, 2), "Error: bad syntax".into()),
            CommandError::InvalidUtf8 => (500, (5, 5, 2), "Error: invalid UTF-8 in command".into()),
            CommandError::MissingArgument(verb) | CommandError::UnexpectedArgument(verb) => {
                (501, (5, 5, 4), format!("Syntax: {}", usage(verb)).into())
            }
            CommandError::MailSyntax => (501, (5, 5, 4), "Syntax: MAIL FROM:<address>".into()),
            CommandError::RcptSyntax => (501, (5, 5, 4), "Syntax: RCPT TO:<address>".into()),
            CommandError::BadSender(_) => (501, (5, 1, 7), "Bad sender address syntax".into()),
            CommandError::BadRecipient(_) => {
                (501, (5, 1, 3), "Bad recipient address syntax".into())
            }
            CommandError::BadParam(_) => (501, (5, 5, 4), "Bad parameter syntax".into()),
            CommandError::BadBdat => (501, (5, 5, 4), "Syntax: BDAT chunk-size [LAST]".into()),
            CommandError::BadHelloName(verb) => (
                501,
                (5, 5, 2),
                format!("Error: invalid {verb} hostname").into(),
            ),
        }
    }
}

impl From<&CommandError> for Reply {
    fn from(e: &CommandError) -> Reply {
        let (code, (c, s, d), text) = e.parts();
        Reply::new(code, Some(EnhancedCode::new(c, s, d)), text)
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Empty => f.write_str("empty command line"),
            CommandError::InvalidUtf8 => f.write_str("command line is not valid UTF-8"),
            CommandError::MissingArgument(verb) => write!(f, "{verb} needs an argument"),
            CommandError::UnexpectedArgument(verb) => write!(f, "unexpected argument to {verb}"),
            CommandError::MailSyntax => f.write_str("MAIL without FROM:<address>"),
            CommandError::RcptSyntax => f.write_str("RCPT without TO:<address>"),
            CommandError::BadSender(e) => write!(f, "bad sender address: {e}"),
            CommandError::BadRecipient(e) => write!(f, "bad recipient address: {e}"),
            CommandError::BadParam(p) => write!(f, "bad ESMTP parameter {p:?}"),
            CommandError::BadBdat => f.write_str("BDAT without a valid chunk size"),
            CommandError::BadHelloName(verb) => {
                write!(f, "{verb} hostname with control characters")
            }
        }
    }
}

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandError::BadSender(e) | CommandError::BadRecipient(e) => Some(e),
            _ => None,
        }
    }
}

/// The usage shown after "Syntax: " for a verb.
fn usage(verb: &str) -> &str {
    match verb {
        "HELO" => "HELO hostname",
        "EHLO" => "EHLO hostname",
        "LHLO" => "LHLO hostname",
        "VRFY" => "VRFY address",
        "EXPN" => "EXPN mailing-list",
        "AUTH" => "AUTH mechanism [initial-response]",
        other => other,
    }
}

/// The verbs, as [`verb_key`] gives them.
const HELO: u64 = key(b"HELO");
const EHLO: u64 = key(b"EHLO");
const LHLO: u64 = key(b"LHLO");
const MAIL: u64 = key(b"MAIL");
const RCPT: u64 = key(b"RCPT");
const DATA: u64 = key(b"DATA");
const RSET: u64 = key(b"RSET");
const QUIT: u64 = key(b"QUIT");
const STARTTLS: u64 = key(b"STARTTLS");
const NOOP: u64 = key(b"NOOP");
const VRFY: u64 = key(b"VRFY");
const EXPN: u64 = key(b"EXPN");
const HELP: u64 = key(b"HELP");
const BDAT: u64 = key(b"BDAT");
const AUTH: u64 = key(b"AUTH");

/// An upper-case verb of at most 8 octets as a number: its octets, padded with 0xFF (never
/// in UTF-8, so `DATA` and `DATA\0` differ).
const fn key(verb: &[u8]) -> u64 {
    let mut k = [0xff; 8];
    let mut i = 0;
    while i < verb.len() && i < 8 {
        k[i] = verb[i];
        i += 1;
    }
    u64::from_le_bytes(k)
}

/// A verb, ASCII-uppercased, as [`key`] makes it; 0 (no verb's key) when longer than 8.
fn verb_key(verb: &str) -> u64 {
    let mut k = [0xff; 8];
    match k.get_mut(..verb.len()) {
        Some(slots) => slots.copy_from_slice(verb.as_bytes()),
        None => return 0,
    }
    upper8(u64::from_le_bytes(k))
}

/// Eight bytes ASCII-uppercased at once, as `u8::to_ascii_uppercase` does each: a byte is a
/// lower-case letter when its high bit is clear and its low seven bits are from `a` to `z`.
/// Arithmetic, not a compare per byte (each a traced call under the session fuzz target).
fn upper8(x: u64) -> u64 {
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // No carry between bytes: a low-7 value plus at most 0x1f stays below 0x100.
    let low = x & LOW7;
    let from_a = low + u64::from_ne_bytes([0x80 - b'a'; 8]);
    let past_z = low + u64::from_ne_bytes([0x80 - b'z' - 1; 8]);
    let lower = from_a & !past_z & !x & HIGHS;
    // The high bit moved to 0x20: the case bit.
    x ^ (lower >> 2)
}

/// SP and HTAB: the separators between verb, argument and parameters (HTAB as Postfix also
/// tolerates it).
static WS: [bool; 256] = class(b" \t", false);
/// Everything but SP and HTAB.
static NOT_WS: [bool; 256] = class(b" \t", true);
/// SP, HTAB, CR and LF: what a line is trimmed of.
static EDGE: [bool; 256] = class(b" \t\r\n", false);

/// Without leading SP/HTAB. Byte by byte: they are ASCII, so every cut is a char boundary.
fn trim_start_ws(s: &str) -> &str {
    s.get(run_len(s.as_bytes(), &WS)..).unwrap_or_default()
}

/// Without leading and trailing SP, HTAB, CR and LF.
fn trim_line(s: &[u8]) -> &[u8] {
    let start = run_len(s, &EDGE);
    let end = s.len().wrapping_sub(run_len_back(s, &EDGE));
    s.get(start..end.max(start)).unwrap_or_default()
}

/// Non-empty words separated by SP/HTAB.
fn words(arg: &str) -> Words<'_> {
    Words { rest: arg }
}

/// The iterator [`words`] returns: bytes searched, not chars (the separators are ASCII).
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = trim_start_ws(self.rest);
        let end = run_len(s.as_bytes(), &NOT_WS);
        self.rest = s.get(end..).unwrap_or_default();
        s.get(..end).filter(|w| !w.is_empty())
    }
}

/// The first word of a HELO/EHLO/LHLO argument; later words are ignored, as Postfix does.
fn hello_name(arg: &str, verb: &'static str) -> Result<String, CommandError> {
    let name = words(arg)
        .next()
        .ok_or(CommandError::MissingArgument(verb))?;
    if name.chars().any(char::is_control) {
        return Err(CommandError::BadHelloName(verb));
    }
    Ok(name.to_owned())
}

/// The chunk size of a `BDAT` line, even one that does not parse as a whole (`BDAT 10 LAST x`):
/// a refused BDAT must still consume its chunk (RFC 3030 §2), or the chunk's bytes would run
/// as commands. None when the line is not BDAT or has no readable size.
pub fn bdat_chunk_size(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let mut words = words(line);
    if !words.next()?.eq_ignore_ascii_case("BDAT") {
        return None;
    }
    let size = words.next()?;
    if size.len() > 20 || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    size.parse().ok()
}

fn required<'a>(arg: &'a str, verb: &'static str) -> Result<&'a str, CommandError> {
    if arg.is_empty() {
        Err(CommandError::MissingArgument(verb))
    } else {
        Ok(arg)
    }
}

fn no_argument(arg: &str, verb: &'static str, command: Command) -> Result<Command, CommandError> {
    if arg.is_empty() {
        Ok(command)
    } else {
        Err(CommandError::UnexpectedArgument(verb))
    }
}

/// The path after `FROM:`/`TO:` (matched case-insensitively, no space before the colon, any
/// after it), or None when the keyword or the path is missing.
fn path_argument<'a>(arg: &'a str, keyword: &str) -> Option<&'a str> {
    // As a verb is matched: both as upper-cased numbers (the keywords are at most 8 octets).
    let head = arg.get(..keyword.len())?;
    if verb_key(head) != key(keyword.as_bytes()) {
        return None;
    }
    let path = trim_start_ws(arg.get(keyword.len()..)?);
    (!path.is_empty()).then_some(path)
}

/// `BDAT chunk-size [LAST]`; chunk-size is 1 to 20 ASCII digits that fit a u64.
fn parse_bdat(arg: &str) -> Option<Command> {
    let mut words = words(arg);
    let size = words.next()?;
    // u64::from_str alone would also take a leading '+'.
    if size.len() > 20 || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let size = size.parse().ok()?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    words
        .next()
        .is_none()
        .then_some(Command::Bdat { size, last })
}

/// The parameters after a path: the rest is empty or starts with a separator (the address
/// parser guarantees it).
fn parse_params(rest: &str) -> Result<Vec<Param>, CommandError> {
    words(rest).map(parse_param).collect()
}

/// esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2, value widened by RFC 6531).
fn parse_param(word: &str) -> Result<Param, CommandError> {
    // Runs of bytes by table (see `run_len`), not a test per char: each is a traced call
    // under the session fuzz target. A keyword is ASCII; a value's non-ASCII part, rare, is
    // checked by char.
    let b = word.as_bytes();
    let eq = run_len(b, &NOT_EQ);
    let (keyword, value) = match (word.get(..eq), word.get(eq..)) {
        (Some(k), Some(v)) if eq < b.len() => (k, Some(v.get(1..).unwrap_or_default())),
        _ => (word, None),
    };
    let k = keyword.as_bytes();
    let keyword_ok =
        k.first().is_some_and(|&c| ALNUM[usize::from(c)]) && run_len(k, &KEYWORD) == k.len();
    let value_ok = value.is_none_or(|v| {
        let ascii = run_len(v.as_bytes(), &VALUE_ASCII);
        let rest = v.get(ascii..).unwrap_or_default();
        !v.is_empty() && rest.chars().all(|c| c != '=' && !c.is_control())
    });
    if !(keyword_ok && value_ok) {
        return Err(CommandError::BadParam(word.to_owned()));
    }
    Ok(Param {
        keyword: keyword.to_ascii_uppercase(),
        value: value.map(str::to_owned),
    })
}

/// Every byte but `=`.
static NOT_EQ: [bool; 256] = class(b"=", true);
/// ASCII letters and digits.
static ALNUM: [bool; 256] = class(ALNUM_BYTES, false);
/// What an esmtp-keyword is made of: ASCII letters, digits and `-`.
static KEYWORD: [bool; 256] = {
    let mut t = class(ALNUM_BYTES, false);
    t[b'-' as usize] = true;
    t
};
/// The ASCII bytes an esmtp-value may hold: not `=`, not a control.
static VALUE_ASCII: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = b != b'=' as usize;
        b += 1;
    }
    t
};
const ALNUM_BYTES: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
