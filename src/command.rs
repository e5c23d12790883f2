//! SMTP/LMTP command lines: parsing into [`Command`], and the reply for each [`CommandError`].
//!
//! Pure byte-slice parsing, no I/O, no panic on any input. Syntax only: whether a command is
//! allowed now, and what SIZE or BODY values mean, is the session's business.

use crate::address::{AddressError, Mailbox, PathOptions, parse_forward_path, parse_reverse_path};
use crate::reply::{EnhancedCode, Reply};
use std::fmt;

/// Separators between verb, argument and parameters: SP, and HTAB which Postfix also tolerates.
const WS: [char; 2] = [' ', '\t'];

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
        let line = std::str::from_utf8(line).map_err(|_| CommandError::InvalidUtf8)?;
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            return Err(CommandError::Empty);
        }
        let (verb, arg) = match line.split_once(WS) {
            Some((verb, arg)) => (verb, arg.trim_start_matches(WS)),
            None => (line, ""),
        };
        let verb = verb.to_ascii_uppercase();
        let command = match verb.as_str() {
            "HELO" => Command::Helo(hello_name(arg, "HELO")?),
            "EHLO" => Command::Ehlo(hello_name(arg, "EHLO")?),
            "LHLO" => Command::Lhlo(hello_name(arg, "LHLO")?),
            "MAIL" => {
                let path = path_argument(arg, "FROM:").ok_or(CommandError::MailSyntax)?;
                let (from, rest) =
                    parse_reverse_path(path, opts).map_err(CommandError::BadSender)?;
                Command::Mail {
                    from,
                    params: parse_params(rest)?,
                }
            }
            "RCPT" => {
                let path = path_argument(arg, "TO:").ok_or(CommandError::RcptSyntax)?;
                let (to, rest) =
                    parse_forward_path(path, opts).map_err(CommandError::BadRecipient)?;
                Command::Rcpt {
                    to,
                    params: parse_params(rest)?,
                }
            }
            "DATA" => no_argument(arg, "DATA", Command::Data)?,
            "RSET" => no_argument(arg, "RSET", Command::Rset)?,
            "QUIT" => no_argument(arg, "QUIT", Command::Quit)?,
            "STARTTLS" => no_argument(arg, "STARTTLS", Command::StartTls)?,
            "NOOP" => Command::Noop,
            "VRFY" => Command::Vrfy(required(arg, "VRFY")?.to_owned()),
            "EXPN" => Command::Expn(required(arg, "EXPN")?.to_owned()),
            "HELP" => Command::Help((!arg.is_empty()).then(|| arg.to_owned())),
            "BDAT" => parse_bdat(arg).ok_or(CommandError::BadBdat)?,
            "AUTH" => {
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
                verb,
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
        match self {
            CommandError::Empty => (500, (5, 5, 2), "Error: bad syntax".to_owned()),
            CommandError::InvalidUtf8 => {
                (500, (5, 5, 2), "Error: invalid UTF-8 in command".to_owned())
            }
            CommandError::MissingArgument(verb) | CommandError::UnexpectedArgument(verb) => {
                (501, (5, 5, 4), format!("Syntax: {}", usage(verb)))
            }
            CommandError::MailSyntax => (501, (5, 5, 4), "Syntax: MAIL FROM:<address>".to_owned()),
            CommandError::RcptSyntax => (501, (5, 5, 4), "Syntax: RCPT TO:<address>".to_owned()),
            CommandError::BadSender(_) => (501, (5, 1, 7), "Bad sender address syntax".to_owned()),
            CommandError::BadRecipient(_) => {
                (501, (5, 1, 3), "Bad recipient address syntax".to_owned())
            }
            CommandError::BadParam(_) => (501, (5, 5, 4), "Bad parameter syntax".to_owned()),
            CommandError::BadBdat => (501, (5, 5, 4), "Syntax: BDAT chunk-size [LAST]".to_owned()),
            CommandError::BadHelloName(verb) => {
                (501, (5, 5, 2), format!("Error: invalid {verb} hostname"))
            }
        }
    }
}

impl From<&CommandError> for Reply {
    fn from(e: &CommandError) -> Reply {
        let (code, (c, s, d), text) = e.reply_parts();
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

/// Non-empty words separated by SP/HTAB.
fn words(arg: &str) -> impl Iterator<Item = &str> {
    arg.split(WS).filter(|w| !w.is_empty())
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
    let mut words = words(line.trim_start_matches(WS));
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
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = arg.get(keyword.len()..)?.trim_start_matches(WS);
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
    let (keyword, value) = match word.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (word, None),
    };
    let keyword_ok = keyword
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && keyword
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let value_ok =
        value.is_none_or(|v| !v.is_empty() && v.chars().all(|c| c != '=' && !c.is_control()));
    if !(keyword_ok && value_ok) {
        return Err(CommandError::BadParam(word.to_owned()));
    }
    Ok(Param {
        keyword: keyword.to_ascii_uppercase(),
        value: value.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: PathOptions = PathOptions {
        strict_lengths: true,
        allow_unbracketed: true,
    };
    const BRACKETS_ONLY: PathOptions = PathOptions {
        strict_lengths: true,
        allow_unbracketed: false,
    };

    fn parse(line: &str) -> Result<Command, CommandError> {
        Command::parse(line.as_bytes(), &OPTS)
    }

    fn mb(local: &str, domain: &str) -> Mailbox {
        Mailbox {
            local_part: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    fn param(keyword: &str, value: Option<&str>) -> Param {
        Param {
            keyword: keyword.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    /// The reply an error gives, as "code x.y.z text".
    fn reply(line: &str) -> String {
        let (code, (class, subject, detail), text) = parse(line).unwrap_err().reply_parts();
        format!("{code} {class}.{subject}.{detail} {text}")
    }

    #[test]
    fn hello_verbs() {
        assert_eq!(
            parse("HELO mx.example"),
            Ok(Command::Helo("mx.example".into()))
        );
        assert_eq!(
            parse("ehlo mx.example"),
            Ok(Command::Ehlo("mx.example".into()))
        );
        assert_eq!(
            parse("LhLo mx.example"),
            Ok(Command::Lhlo("mx.example".into()))
        );
        assert_eq!(
            parse("EHLO  [192.0.2.1]  "),
            Ok(Command::Ehlo("[192.0.2.1]".into()))
        );
        assert_eq!(parse("EHLO a b c"), Ok(Command::Ehlo("a".into())));
        assert_eq!(parse("EHLO\tx\r\n"), Ok(Command::Ehlo("x".into())));
        assert_eq!(reply("EHLO"), "501 5.5.4 Syntax: EHLO hostname");
        assert_eq!(reply("EHLO   "), "501 5.5.4 Syntax: EHLO hostname");
        assert_eq!(reply("helo"), "501 5.5.4 Syntax: HELO hostname");
        assert_eq!(reply("LHLO"), "501 5.5.4 Syntax: LHLO hostname");
        assert_eq!(parse("EHLO"), Err(CommandError::MissingArgument("EHLO")));
    }

    #[test]
    fn mail_from() {
        let mail = |from: Option<Mailbox>, params: Vec<Param>| Ok(Command::Mail { from, params });
        assert_eq!(
            parse("MAIL FROM:<a@b.c>"),
            mail(Some(mb("a", "b.c")), vec![])
        );
        assert_eq!(
            parse("mail from:<a@b.c>"),
            mail(Some(mb("a", "b.c")), vec![])
        );
        assert_eq!(parse("Mail From:<>"), mail(None, vec![]));
        assert_eq!(
            parse("MAIL FROM: <a@b.c>"),
            mail(Some(mb("a", "b.c")), vec![])
        );
        assert_eq!(
            parse("MAIL  FROM:   <a@b.c>  "),
            mail(Some(mb("a", "b.c")), vec![])
        );
        assert_eq!(parse("MAIL FROM:a@b.c"), mail(Some(mb("a", "b.c")), vec![]));
        assert_eq!(
            parse("MAIL FROM:<a@b.c> SIZE=1000 BODY=8BITMIME SMTPUTF8"),
            mail(
                Some(mb("a", "b.c")),
                vec![
                    param("SIZE", Some("1000")),
                    param("BODY", Some("8BITMIME")),
                    param("SMTPUTF8", None),
                ]
            )
        );
        assert_eq!(
            parse("MAIL FROM:a@b.c  size=10\tbody=7bit "),
            mail(
                Some(mb("a", "b.c")),
                vec![param("SIZE", Some("10")), param("BODY", Some("7bit"))]
            )
        );
        assert_eq!(
            parse("MAIL FROM:<@r.example:jörg@bücher.de> SMTPUTF8"),
            mail(Some(mb("jörg", "bücher.de")), vec![param("SMTPUTF8", None)])
        );
        assert_eq!(
            parse(r#"MAIL FROM:<"john doe"@x> ENVID=a+2Bb"#),
            mail(
                Some(mb("john doe", "x")),
                vec![param("ENVID", Some("a+2Bb"))]
            )
        );
    }

    #[test]
    fn mail_errors() {
        for line in [
            "MAIL",
            "MAIL <a@b>",
            "MAIL FROM",
            "MAIL FROM:",
            "MAIL FROM:   ",
            "MAIL FROM :<a@b>",
            "MAIL FROM<a@b>",
            "MAIL TO:<a@b>",
            "MAIL FRÖM:<a@b>",
            "MAIL FR",
        ] {
            assert_eq!(parse(line), Err(CommandError::MailSyntax), "{line}");
            assert_eq!(reply(line), "501 5.5.4 Syntax: MAIL FROM:<address>");
        }
        for line in [
            "MAIL FROM:<a@b",
            "MAIL FROM:<a@@b>",
            "MAIL FROM:<a b@c>",
            "MAIL FROM:<a@b>x",
            "MAIL FROM:<Postmaster>",
            "MAIL FROM:<a@[1.2.3.999]>",
        ] {
            assert!(
                matches!(parse(line), Err(CommandError::BadSender(_))),
                "{line}"
            );
            assert_eq!(reply(line), "501 5.1.7 Bad sender address syntax");
        }
        assert_eq!(
            parse("MAIL FROM:<a@b"),
            Err(CommandError::BadSender(AddressError::MissingBracket))
        );
        assert_eq!(
            Command::parse(b"MAIL FROM:a@b", &BRACKETS_ONLY),
            Err(CommandError::BadSender(AddressError::MissingBracket))
        );
        let long = format!("MAIL FROM:<{}@x>", "a".repeat(65));
        assert_eq!(
            parse(&long),
            Err(CommandError::BadSender(AddressError::LocalPartTooLong))
        );
        let lenient = PathOptions {
            strict_lengths: false,
            allow_unbracketed: true,
        };
        assert!(Command::parse(long.as_bytes(), &lenient).is_ok());
    }

    #[test]
    fn rcpt_to() {
        let rcpt = |to: Mailbox, params: Vec<Param>| Ok(Command::Rcpt { to, params });
        assert_eq!(parse("RCPT TO:<a@b.c>"), rcpt(mb("a", "b.c"), vec![]));
        assert_eq!(parse("rcpt to: <a@b.c>"), rcpt(mb("a", "b.c"), vec![]));
        assert_eq!(parse("RCPT TO:a@b.c"), rcpt(mb("a", "b.c"), vec![]));
        assert_eq!(
            parse("RCPT TO:<Postmaster>"),
            rcpt(mb("Postmaster", ""), vec![])
        );
        assert_eq!(
            parse("RCPT TO:<postMaster>"),
            rcpt(mb("postMaster", ""), vec![])
        );
        assert_eq!(
            parse("RCPT TO:<@a.example,@b.example:user@c.example>"),
            rcpt(mb("user", "c.example"), vec![])
        );
        assert_eq!(
            parse("RCPT TO:<a@[IPv6:2001:db8::1]> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b"),
            rcpt(
                mb("a", "[IPv6:2001:db8::1]"),
                vec![
                    param("NOTIFY", Some("SUCCESS,FAILURE")),
                    param("ORCPT", Some("rfc822;a+40b")),
                ]
            )
        );
        for line in [
            "RCPT",
            "RCPT <a@b>",
            "RCPT TO",
            "RCPT TO:",
            "RCPT TO :<a@b>",
            "RCPT FROM:<a@b>",
        ] {
            assert_eq!(parse(line), Err(CommandError::RcptSyntax), "{line}");
            assert_eq!(reply(line), "501 5.5.4 Syntax: RCPT TO:<address>");
        }
        assert_eq!(
            parse("RCPT TO:<>"),
            Err(CommandError::BadRecipient(AddressError::NullNotAllowed))
        );
        for line in [
            "RCPT TO:<>",
            "RCPT TO:<a>",
            "RCPT TO:<a@b..c>",
            "RCPT TO:<\"a@b>",
        ] {
            assert_eq!(
                reply(line),
                "501 5.1.3 Bad recipient address syntax",
                "{line}"
            );
        }
    }

    #[test]
    fn params() {
        let params = |line: &str| match parse(line) {
            Ok(Command::Mail { params, .. }) => Ok(params),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(
            params("MAIL FROM:<> X-FOO=bar 2KW=é"),
            Ok(vec![param("X-FOO", Some("bar")), param("2KW", Some("é"))])
        );
        assert_eq!(
            params("MAIL FROM:<> size=10"),
            Ok(vec![param("SIZE", Some("10"))])
        );
        // Semantics are the session's: odd values pass.
        assert_eq!(
            params("MAIL FROM:<> SIZE=abc"),
            Ok(vec![param("SIZE", Some("abc"))])
        );
        for bad in [
            "SIZE=",
            "=1",
            "-X=1",
            "X_Y=1",
            "A=b=c",
            "SIZE=1\u{7f}",
            "SIZE=1\u{85}",
            "K\u{e9}Y",
        ] {
            let line = format!("MAIL FROM:<> {bad}");
            assert_eq!(
                params(&line),
                Err(CommandError::BadParam(bad.to_owned())),
                "{bad}"
            );
            assert_eq!(reply(&line), "501 5.5.4 Bad parameter syntax");
        }
        assert_eq!(
            parse("RCPT TO:<a@b> NOTIFY="),
            Err(CommandError::BadParam("NOTIFY=".into()))
        );
        assert_eq!(
            parse("MAIL FROM:<a@b> SIZE=1 BAD="),
            Err(CommandError::BadParam("BAD=".into()))
        );
    }

    #[test]
    fn verbs_without_arguments() {
        assert_eq!(parse("DATA"), Ok(Command::Data));
        assert_eq!(parse("data \t "), Ok(Command::Data));
        assert_eq!(parse("RSET"), Ok(Command::Rset));
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("StartTLS"), Ok(Command::StartTls));
        assert_eq!(parse("NOOP"), Ok(Command::Noop));
        assert_eq!(parse("NOOP anything at all"), Ok(Command::Noop));
        assert_eq!(
            parse("DATA x"),
            Err(CommandError::UnexpectedArgument("DATA"))
        );
        assert_eq!(reply("DATA x"), "501 5.5.4 Syntax: DATA");
        assert_eq!(reply("RSET x"), "501 5.5.4 Syntax: RSET");
        assert_eq!(reply("QUIT now"), "501 5.5.4 Syntax: QUIT");
        assert_eq!(reply("STARTTLS x"), "501 5.5.4 Syntax: STARTTLS");
    }

    #[test]
    fn vrfy_expn_help() {
        assert_eq!(
            parse("VRFY postmaster"),
            Ok(Command::Vrfy("postmaster".into()))
        );
        assert_eq!(
            parse("vrfy \"John Doe\" "),
            Ok(Command::Vrfy("\"John Doe\"".into()))
        );
        assert_eq!(parse("EXPN list"), Ok(Command::Expn("list".into())));
        assert_eq!(reply("VRFY"), "501 5.5.4 Syntax: VRFY address");
        assert_eq!(reply("EXPN  "), "501 5.5.4 Syntax: EXPN mailing-list");
        assert_eq!(parse("HELP"), Ok(Command::Help(None)));
        assert_eq!(parse("help  "), Ok(Command::Help(None)));
        assert_eq!(
            parse("HELP mail from"),
            Ok(Command::Help(Some("mail from".into())))
        );
    }

    #[test]
    fn bdat() {
        let bdat = |size, last| Ok(Command::Bdat { size, last });
        assert_eq!(parse("BDAT 1000"), bdat(1000, false));
        assert_eq!(parse("bdat 0 LAST"), bdat(0, true));
        assert_eq!(parse("BDAT 86 last"), bdat(86, true));
        assert_eq!(parse("BDAT  00042   Last "), bdat(42, true));
        assert_eq!(parse("BDAT 18446744073709551615"), bdat(u64::MAX, false));
        assert_eq!(parse("BDAT 00000000000000000001 LAST"), bdat(1, true));
        for line in [
            "BDAT",
            "BDAT LAST",
            "BDAT +1",
            "BDAT -1",
            "BDAT 1.5",
            "BDAT 0x10",
            "BDAT 18446744073709551616",
            "BDAT 000000000000000000001",
            "BDAT 10 LASTX",
            "BDAT 10 LAST x",
            "BDAT 10 FIRST",
            "BDAT １２",
        ] {
            assert_eq!(parse(line), Err(CommandError::BadBdat), "{line}");
            assert_eq!(reply(line), "501 5.5.4 Syntax: BDAT chunk-size [LAST]");
        }
    }

    #[test]
    fn auth() {
        assert_eq!(
            parse("AUTH plain dGVzdAB0ZXN0ADEyMzQ="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("dGVzdAB0ZXN0ADEyMzQ=".into())
            })
        );
        assert_eq!(
            parse("auth login"),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None
            })
        );
        assert_eq!(
            parse("AUTH PLAIN ="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("=".into())
            })
        );
        assert_eq!(
            reply("AUTH"),
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
        );
        assert_eq!(
            parse("AUTH PLAIN a b"),
            Err(CommandError::UnexpectedArgument("AUTH"))
        );
    }

    #[test]
    fn unknown_verbs() {
        assert_eq!(
            parse("xclient ADDR=1.2.3.4"),
            Ok(Command::Unknown {
                verb: "XCLIENT".into(),
                args: "ADDR=1.2.3.4".into()
            })
        );
        assert_eq!(
            parse("GET / HTTP/1.1"),
            Ok(Command::Unknown {
                verb: "GET".into(),
                args: "/ HTTP/1.1".into()
            })
        );
        assert_eq!(
            parse("\u{1}\u{2}\u{3}"),
            Ok(Command::Unknown {
                verb: "\u{1}\u{2}\u{3}".into(),
                args: String::new()
            })
        );
        // A verb must be the whole first word.
        assert!(matches!(
            parse("MAILFROM:<a@b>"),
            Ok(Command::Unknown { .. })
        ));
        assert!(matches!(parse("DATAX"), Ok(Command::Unknown { .. })));
        assert_eq!(parse("   NOOP"), Ok(Command::Noop));
    }

    #[test]
    fn empty_and_invalid_lines() {
        for line in ["", " ", "\t \t", "\r\n", "\r", "\n", "  \r\n"] {
            assert_eq!(parse(line), Err(CommandError::Empty), "{line:?}");
            assert_eq!(reply(line), "500 5.5.2 Error: bad syntax");
        }
        for line in [
            &b"MAIL FROM:<\xff@x>"[..],
            b"\xc3",
            b"EHLO \xc0\x80",
            b"\xff\xfe\xfd",
        ] {
            assert_eq!(Command::parse(line, &OPTS), Err(CommandError::InvalidUtf8));
        }
        let (code, enhanced, text) = CommandError::InvalidUtf8.reply_parts();
        assert_eq!(
            (code, enhanced, text.as_str()),
            (500, (5, 5, 2), "Error: invalid UTF-8 in command")
        );
        assert_eq!(parse("QUIT\r\n"), Ok(Command::Quit));
        assert_eq!(parse("QUIT\n"), Ok(Command::Quit));
        assert_eq!(parse("QUIT\r"), Ok(Command::Quit));
    }

    #[test]
    fn verb_names() {
        let cases = [
            ("HELO x", "HELO"),
            ("EHLO x", "EHLO"),
            ("LHLO x", "LHLO"),
            ("MAIL FROM:<>", "MAIL"),
            ("RCPT TO:<a@b>", "RCPT"),
            ("DATA", "DATA"),
            ("BDAT 1", "BDAT"),
            ("RSET", "RSET"),
            ("NOOP", "NOOP"),
            ("QUIT", "QUIT"),
            ("VRFY x", "VRFY"),
            ("EXPN x", "EXPN"),
            ("HELP", "HELP"),
            ("STARTTLS", "STARTTLS"),
            ("AUTH PLAIN", "AUTH"),
            ("FOO", "UNKNOWN"),
        ];
        for (line, verb) in cases {
            assert_eq!(parse(line).map(|c| c.verb()), Ok(verb), "{line}");
        }
    }

    #[test]
    fn error_display_and_source() {
        use std::error::Error;
        let e = CommandError::BadSender(AddressError::MissingAt);
        assert_eq!(
            e.to_string(),
            "bad sender address: missing @ between local part and domain"
        );
        assert_eq!(
            e.source().map(|s| s.to_string()),
            Some(AddressError::MissingAt.to_string())
        );
        assert!(CommandError::Empty.source().is_none());
        assert_eq!(
            CommandError::BadParam("X=".into()).to_string(),
            "bad ESMTP parameter \"X=\""
        );
    }

    #[test]
    fn hello_names_without_control_characters() {
        assert_eq!(
            parse("EHLO a\x1bb"),
            Err(CommandError::BadHelloName("EHLO"))
        );
        assert_eq!(parse("HELO x\0"), Err(CommandError::BadHelloName("HELO")));
        assert_eq!(
            parse("LHLO \u{85}x"),
            Err(CommandError::BadHelloName("LHLO"))
        );
        assert_eq!(CommandError::BadHelloName("EHLO").reply_parts().0, 501);
        assert_eq!(
            parse("EHLO bücher.example"),
            Ok(Command::Ehlo("bücher.example".into()))
        );
    }

    #[test]
    fn bdat_size_of_refused_lines() {
        assert_eq!(bdat_chunk_size(b"BDAT 10 LAST x"), Some(10));
        assert_eq!(bdat_chunk_size(b"bdat 7 NOTLAST"), Some(7));
        assert_eq!(
            bdat_chunk_size(b"BDAT 18446744073709551615"),
            Some(u64::MAX)
        );
        assert_eq!(bdat_chunk_size(b"BDAT 18446744073709551616"), None);
        assert_eq!(bdat_chunk_size(b"BDAT +5"), None);
        assert_eq!(bdat_chunk_size(b"BDAT"), None);
        assert_eq!(bdat_chunk_size(b"DATA 5"), None);
        assert_eq!(bdat_chunk_size(b"\xff 5"), None);
    }

    #[test]
    fn very_long_lines() {
        let junk = "A".repeat(1 << 20);
        assert!(matches!(parse(&junk), Ok(Command::Unknown { .. })));
        let long_helo = format!("EHLO {junk}");
        assert_eq!(parse(&long_helo), Ok(Command::Ehlo(junk.clone())));
        let long_path = format!("MAIL FROM:<{junk}@x>");
        assert_eq!(
            parse(&long_path),
            Err(CommandError::BadSender(AddressError::LocalPartTooLong))
        );
        let many_params = format!("MAIL FROM:<> {}", "X=1 ".repeat(100_000));
        assert!(
            matches!(parse(&many_params), Ok(Command::Mail { params, .. }) if params.len() == 100_000)
        );
        let quotes = format!("RCPT TO:<\"{}", "\\\"".repeat(100_000));
        assert_eq!(
            parse(&quotes),
            Err(CommandError::BadRecipient(AddressError::UnterminatedQuote))
        );
        let utf8 = "日".repeat(100_000);
        assert!(parse(&format!("RCPT TO:<a@{utf8}>")).is_err());
        assert!(parse(&format!("EHLO {utf8}")).is_ok());
    }

    /// Every reply is well formed: 5xx, class matching the code, non-empty text.
    fn check_result(result: &Result<Command, CommandError>) {
        match result {
            Ok(command) => {
                assert!(!command.verb().is_empty());
            }
            Err(e) => {
                let (code, (class, _, _), text) = e.reply_parts();
                assert!((500..600).contains(&code));
                assert_eq!(u16::from(class), code / 100);
                assert!(!text.is_empty() && !e.to_string().is_empty());
            }
        }
    }

    /// Every prefix, deletion, single-byte corruption and insertion of valid commands, under
    /// each option set: parse never panics and every error has a proper reply.
    #[test]
    fn mutated_commands_never_panic() {
        let seeds: [&[u8]; 14] = [
            b"EHLO mx.example.com",
            b"MAIL FROM:<user@example.com> SIZE=1000 BODY=8BITMIME SMTPUTF8",
            b"MAIL FROM:<>",
            "RCPT TO:<jörg@bücher.de> NOTIFY=NEVER".as_bytes(),
            b"RCPT TO:<@a.example,@b.example:\"john\\ doe\"@[IPv6:2001:db8::1]>",
            b"RCPT TO:<Postmaster>",
            b"RCPT TO:a@[192.0.2.1]",
            b"BDAT 1000 LAST",
            b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
            b"VRFY user",
            b"HELP",
            b"STARTTLS",
            b"DATA",
            b"NOOP x",
        ];
        let subs = [
            0u8, b' ', b'\t', b'\r', b'\n', b'<', b'>', b'@', b':', b'"', b'\\', b'=', b'[', b']',
            b'.', b',', b'a', b'0', 0x7f, 0x80, 0xbf, 0xc3, 0xe6, 0xf0, 0xff,
        ];
        let options = [
            OPTS,
            BRACKETS_ONLY,
            PathOptions {
                strict_lengths: false,
                allow_unbracketed: true,
            },
        ];
        let mut count = 0usize;
        let mut run = |bytes: &[u8]| {
            for opts in &options {
                check_result(&Command::parse(bytes, opts));
                count += 1;
            }
        };
        for seed in seeds {
            for i in 0..=seed.len() {
                run(&seed[..i]);
                run(&seed[i..]);
                if i < seed.len() {
                    let mut deleted = seed.to_vec();
                    deleted.remove(i);
                    run(&deleted);
                    for &b in &subs {
                        let mut changed = seed.to_vec();
                        changed[i] = b;
                        run(&changed);
                        changed.insert(i, b);
                        run(&changed);
                    }
                }
            }
        }
        // Random lines over the same interesting alphabet, from a fixed-seed xorshift.
        let alphabet: Vec<u8> = subs.iter().copied().chain(*b"MAILFROMRCPTO:BDAT").collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let prefixes: [&[u8]; 4] = [b"MAIL FROM:", b"RCPT TO:<", b"BDAT ", b"EHLO "];
        for n in 0..20_000u64 {
            let mut line = prefixes[(n % 4) as usize].to_vec();
            let len = next() % 40;
            for _ in 0..len {
                line.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            run(&line);
        }
        assert!(count > 100_000, "{count}");
    }
}
