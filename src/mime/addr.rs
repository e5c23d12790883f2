//! RFC 5322 §3.4 address lists (`From`, `To`, `Cc`, `Reply-To`...), with RFC 6532 UTF-8 and
//! the obsolete syntax of RFC 5322 §4.4.
//!
//! Pure string handling: no I/O, no panic on any input, linear time (nested comments are
//! counted, not recursed into).
//!
//! # What the parsers accept
//!
//! Both [`parse_list`] and [`parse_list_strict`] (and [`parse_mailbox`]) accept the full RFC 5322
//! grammar, including its obsolete forms, which §4 says a parser must accept:
//!
//! - display names as atoms and quoted strings (with `\` escapes), dots in names
//!   (`Joe Q. Public <...>`), RFC 2047 encoded words (decoded with
//!   [`crate::mime::encoded_word::decode`]), raw UTF-8 (RFC 6532);
//! - comments `( ... )`, nested and with escapes, and folding white space anywhere between tokens;
//! - angle addresses, bare addr-specs, source routes (`<@a,@b:c@d>`, dropped), quoted local parts
//!   and local parts made of several words (`"a"."b"@c`), domain literals (`a@[192.0.2.1]`),
//!   white space and comments around the dots of a domain (`jdoe@test  . example`);
//! - groups (`Team: a@b, c@d;`), empty groups (`Undisclosed recipients:;`), and empty list
//!   members (`a@b, , c@d`).
//!
//! [`parse_list`] is lenient on top of that: it never fails and returns every entry it could
//! make sense of, skipping the others (anything up to the next `,`). It also tolerates a missing
//! comma between two addresses (`<a@b> <c@d>`), a `;` used as a list separator outside a group,
//! an unterminated angle address, quoted string or comment at the end of the input, a group
//! without its closing `;` at the end, a group with no name, and local parts with empty dot
//! segments (`a..b@c`, as some mobile carriers issue; re-quoted as `"a..b"@c`). Entries without
//! a domain (`undisclosed-recipients`, `Alice <alice>`, `<>`) are always skipped, so every
//! mailbox returned has an `addr` of the form `local@domain`.
//!
//! # Decisions
//!
//! - `a@b (Alice)`: a mailbox without a display name takes its name from the comments that follow
//!   its address (decoded, joined by a space), the RFC 822 `address (Full Name)` convention.
//!   Python's `email.utils.getaddresses` does the same; `email.headerregistry` drops the comment.
//!   Comments anywhere else are ignored.
//! - The `addr` is normalised: comments and white space removed, the local part unquoted and
//!   re-quoted only when it is not a dot-atom (`"john"@x` becomes `john@x`, `"john doe"@x`
//!   stays), the domain as written (a domain literal keeps its brackets).
//! - Encoded words are decoded in quoted strings too (`"=?utf-8?q?...?=" <a@b>`), which RFC 2047
//!   forbids senders to write but real mail contains; Python does the same. The decoder is only
//!   called when the name contains `=?`.
//! - Control characters in display names (CR, LF, tab, and any that an encoded word decodes to)
//!   become spaces, so a parsed name can never inject a header line when written back.

use std::fmt;

use crate::address::{AddressError, Mailbox};
use crate::mime::encoded_word;

/// One address: a mailbox with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedMailbox {
    /// The display name, decoded (quotes, escapes and encoded words removed); never `Some("")`
    /// when it comes from the parser.
    pub name: Option<String>,
    /// `local@domain` as written, with comments and white space removed and the local part
    /// re-quoted only when it is not a dot-atom.
    pub addr: String,
}

/// A list entry: a mailbox or a group of mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A single mailbox.
    Mailbox(NamedMailbox),
    /// A named group (`Team: a@b, c@d;`), possibly empty (`Undisclosed recipients:;`).
    Group {
        /// The group's display name, decoded.
        name: String,
        /// The group's mailboxes, in order.
        members: Vec<NamedMailbox>,
    },
}

/// Why an address or address list was refused by a strict parser.
///
/// Offsets are in bytes from the start of the parsed string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddrError {
    /// Nothing but white space, comments and commas.
    Empty,
    /// A quoted string without its closing `"`.
    UnterminatedQuote {
        /// Where the quoted string starts.
        offset: usize,
    },
    /// A comment without its closing `)`.
    UnterminatedComment {
        /// Where the comment starts.
        offset: usize,
    },
    /// A domain literal without its closing `]`.
    UnterminatedDomainLiteral {
        /// Where the domain literal starts.
        offset: usize,
    },
    /// A `<` without its closing `>`.
    MissingAngleClose {
        /// Where the `<` is.
        offset: usize,
    },
    /// `<>`, which is not an address in a message header.
    EmptyAngleAddr {
        /// Where the `<` is.
        offset: usize,
    },
    /// A local part with no `@domain` after it.
    MissingAt {
        /// Where the `@` was expected.
        offset: usize,
    },
    /// The local part is neither a dot-atom nor dot-separated words.
    BadLocalPart {
        /// Where the problem was found.
        offset: usize,
    },
    /// The domain is neither dot-separated atoms nor a domain literal.
    BadDomain {
        /// Where the problem was found.
        offset: usize,
    },
    /// A malformed obsolete source route (`<@a,@b:c@d>`).
    BadRoute {
        /// Where the route starts.
        offset: usize,
    },
    /// A display name that is not a phrase (starts with a dot, or a group without a name).
    BadDisplayName {
        /// Where the problem was found.
        offset: usize,
    },
    /// Two addresses without a comma between them.
    MissingComma {
        /// Where the second address starts.
        offset: usize,
    },
    /// A group without its closing `;`.
    UnclosedGroup {
        /// Where the group's `:` is.
        offset: usize,
    },
    /// A group where only a mailbox may be (inside a group, or in [`parse_mailbox`]).
    GroupNotAllowed {
        /// Where the group's `:` is.
        offset: usize,
    },
    /// A character that cannot appear here.
    Unexpected {
        /// The character found.
        found: char,
        /// Where it is.
        offset: usize,
    },
    /// The input ends in the middle of an address.
    UnexpectedEnd,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::Empty => f.write_str("no address"),
            AddrError::UnterminatedQuote { offset } => {
                write!(f, "unterminated quoted string at offset {offset}")
            }
            AddrError::UnterminatedComment { offset } => {
                write!(f, "unterminated comment at offset {offset}")
            }
            AddrError::UnterminatedDomainLiteral { offset } => {
                write!(f, "unterminated domain literal at offset {offset}")
            }
            AddrError::MissingAngleClose { offset } => {
                write!(f, "missing '>' for the '<' at offset {offset}")
            }
            AddrError::EmptyAngleAddr { offset } => {
                write!(f, "empty angle address '<>' at offset {offset}")
            }
            AddrError::MissingAt { offset } => {
                write!(f, "missing '@domain' at offset {offset}")
            }
            AddrError::BadLocalPart { offset } => {
                write!(f, "malformed local part at offset {offset}")
            }
            AddrError::BadDomain { offset } => write!(f, "malformed domain at offset {offset}"),
            AddrError::BadRoute { offset } => {
                write!(f, "malformed source route at offset {offset}")
            }
            AddrError::BadDisplayName { offset } => {
                write!(f, "malformed display name at offset {offset}")
            }
            AddrError::MissingComma { offset } => {
                write!(f, "missing ',' before the address at offset {offset}")
            }
            AddrError::UnclosedGroup { offset } => {
                write!(f, "group at offset {offset} not closed by ';'")
            }
            AddrError::GroupNotAllowed { offset } => {
                write!(f, "group not allowed here (offset {offset})")
            }
            AddrError::Unexpected { found, offset } => {
                write!(f, "unexpected {found:?} at offset {offset}")
            }
            AddrError::UnexpectedEnd => f.write_str("unexpected end of input"),
        }
    }
}

impl std::error::Error for AddrError {}

impl NamedMailbox {
    /// A mailbox from its parts, stored as given (an empty name is taken as no name).
    ///
    /// The address is not checked; use [`parse_mailbox`] to validate user input, or
    /// [`NamedMailbox::to_envelope`] to check it as an SMTP mailbox.
    pub fn new(name: Option<&str>, addr: &str) -> NamedMailbox {
        NamedMailbox {
            name: name.filter(|n| !n.is_empty()).map(str::to_owned),
            addr: addr.to_owned(),
        }
    }

    /// The envelope path for this mailbox (for `MAIL FROM`/`RCPT TO`), validated by
    /// [`Mailbox::parse`] with its RFC 5321 rules and length limits.
    pub fn to_envelope(&self) -> Result<Mailbox, AddressError> {
        Mailbox::parse(&self.addr)
    }

    /// Formats as in a header: `addr`, or `name <addr>` with the name quoted when needed.
    ///
    /// Non-ASCII names are written raw when `utf8` is true (RFC 6532), else encoded with
    /// [`crate::mime::encoded_word::encode`]. Control characters are never written: in the name
    /// they become spaces, in the address they are dropped.
    pub fn format(&self, utf8: bool) -> String {
        let mut out = String::new();
        self.write_to(&mut out, utf8);
        out
    }

    fn write_to(&self, out: &mut String, utf8: bool) {
        match self.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => {
                push_phrase(out, name, utf8);
                out.push_str(" <");
                push_addr(out, &self.addr);
                out.push('>');
            }
            None => push_addr(out, &self.addr),
        }
    }
}

impl Address {
    /// Formats as in a header, as [`format_list`] does for one entry: a group is written
    /// `name: member, member;` (`name:;` when empty).
    pub fn format(&self, utf8: bool) -> String {
        let mut out = String::new();
        self.write_to(&mut out, utf8);
        out
    }

    fn write_to(&self, out: &mut String, utf8: bool) {
        match self {
            Address::Mailbox(m) => m.write_to(out, utf8),
            Address::Group { name, members } => {
                push_phrase(out, name, utf8);
                out.push(':');
                for (k, m) in members.iter().enumerate() {
                    out.push_str(if k == 0 { " " } else { ", " });
                    m.write_to(out, utf8);
                }
                out.push(';');
            }
        }
    }
}

/// The header form with `utf8 = false` (see [`NamedMailbox::format`]): safe in any header.
impl fmt::Display for NamedMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(false))
    }
}

/// The header form with `utf8 = false` (see [`Address::format`]): safe in any header.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(false))
    }
}

/// Parses an address-list header value (`To`, `Cc`, `From`...) leniently: never fails, skips
/// what it cannot parse (see the module documentation for what is tolerated).
///
/// The value may still contain folding (CRLF followed by white space).
pub fn parse_list(s: &str) -> Vec<Address> {
    let lexed = lex(s);
    let mut p = Parser::new(&lexed, s.len(), false);
    // The lenient parser recovers from every error itself.
    p.list().unwrap_or_default()
}

/// Parses an address-list header value strictly: RFC 5322 with its obsolete forms, RFC 2047
/// encoded words and RFC 6532 UTF-8, and nothing else; the first problem is returned.
///
/// At least one address is required (an empty group counts).
pub fn parse_list_strict(s: &str) -> Result<Vec<Address>, AddrError> {
    let lexed = lex(s);
    if let Some(e) = lexed.error.clone() {
        return Err(e);
    }
    let mut p = Parser::new(&lexed, s.len(), true);
    p.list()
}

/// Parses exactly one mailbox (`Alice <a@b>`, `a@b`, `a@b (Alice)`), with the rules of
/// [`parse_list_strict`]; surrounding white space and comments are allowed, groups are not.
pub fn parse_mailbox(s: &str) -> Result<NamedMailbox, AddrError> {
    let lexed = lex(s);
    if let Some(e) = lexed.error.clone() {
        return Err(e);
    }
    let mut p = Parser::new(&lexed, s.len(), true);
    if p.peek().is_none() {
        return Err(AddrError::Empty);
    }
    let words = p.words();
    if p.peek_is(':') {
        return Err(AddrError::GroupNotAllowed { offset: p.offset() });
    }
    let mailbox = p.mailbox(&words)?;
    if p.peek().is_some() {
        return Err(p.missing_comma());
    }
    Ok(mailbox)
}

/// Formats an address list for a header, entries separated by `, ` (no line folding: that is
/// the header writer's job).
///
/// Display names are quoted when they are not plain words separated by single spaces (so any
/// special, a dot, or repeated spaces cause quoting), with `"` and `\` escaped. Non-ASCII names
/// are kept raw when `utf8` is true (RFC 6532, for SMTPUTF8 messages), else encoded with
/// [`crate::mime::encoded_word::encode`]. Control characters are never written.
pub fn format_list(list: &[Address], utf8: bool) -> String {
    let mut out = String::new();
    for (k, a) in list.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        a.write_to(&mut out, utf8);
    }
    out
}

/// Every mailbox of a list, groups flattened, in order (for building the envelope's recipients).
pub fn mailboxes(list: &[Address]) -> Vec<&NamedMailbox> {
    let mut out = Vec::new();
    for a in list {
        match a {
            Address::Mailbox(m) => out.push(m),
            Address::Group { members, .. } => out.extend(members.iter()),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

/// Writes a display name: plain words as they are, anything else as a quoted string.
fn push_phrase(out: &mut String, name: &str, utf8: bool) {
    let clean = sanitize(name);
    // A name holding `=?` is encoded even when it could be written raw: the parser decodes
    // encoded words in names (quoted or not), so raw text that looks like one would not come
    // back as written.
    let text = if (!utf8 && !clean.is_ascii()) || clean.contains("=?") {
        encoded_word::encode(&clean)
    } else {
        clean
    };
    let text = sanitize(&text);
    if is_plain_phrase(&text, utf8) {
        out.push_str(&text);
    } else {
        push_quoted(out, &text);
    }
}

/// Words of atext separated by single spaces; ASCII only unless `utf8`.
fn is_plain_phrase(s: &str, utf8: bool) -> bool {
    !s.is_empty()
        && s.split(' ')
            .all(|w| !w.is_empty() && w.chars().all(|c| is_atext(c) && (utf8 || c.is_ascii())))
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn push_addr(out: &mut String, addr: &str) {
    out.extend(addr.chars().filter(|c| !c.is_control()));
}

/// Control characters become spaces.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// RFC 5322 atext, plus any non-ASCII character that is not a control (RFC 6532).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

fn is_dot_atom(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// The local part as it goes into `addr`: as is when a dot-atom, else quoted.
fn quote_local(local: &str) -> String {
    if is_dot_atom(local) {
        local.to_owned()
    } else {
        let mut out = String::with_capacity(local.len() + 2);
        push_quoted(&mut out, local);
        out
    }
}

/// The decoded display name, or None when empty.
fn clean_name(raw: String) -> Option<String> {
    let decoded = if raw.contains("=?") {
        encoded_word::decode(&raw)
    } else {
        raw
    };
    let name = sanitize(&decoded);
    if name.is_empty() { None } else { Some(name) }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A run of atext.
    Atom(String),
    /// A quoted string's content, escapes removed and folding unfolded.
    Quoted(String),
    /// A domain literal's content without brackets, white space trimmed and runs collapsed;
    /// false when it holds a control character or a `[`.
    Literal(String, bool),
    /// A comment's content without its outer parentheses, escapes removed.
    Comment(String),
    /// One of `< > @ , : ; .`.
    Special(char),
    /// Anything else that cannot start a token: `) ] \` and controls.
    Other(char),
}

#[derive(Debug)]
struct Tok {
    kind: Kind,
    /// White space or a comment comes right before.
    sp: bool,
    /// Byte offset in the input.
    off: usize,
}

struct Lexed {
    toks: Vec<Tok>,
    /// The first unterminated quoted string, comment or domain literal.
    error: Option<AddrError>,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(s: &str) -> Lexed {
    let mut toks = Vec::new();
    let mut error = None;
    let mut chars = s.char_indices().peekable();
    let mut sp = false;
    while let Some((off, c)) = chars.next() {
        let kind = match c {
            c if is_ws(c) => {
                sp = true;
                continue;
            }
            '"' => {
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                if e != '\r' && e != '\n' {
                                    text.push(e);
                                }
                            }
                        }
                        '\r' | '\n' => {}
                        c => text.push(c),
                    }
                }
                if !closed {
                    error.get_or_insert(AddrError::UnterminatedQuote { offset: off });
                }
                Kind::Quoted(text)
            }
            '(' => {
                let mut text = String::new();
                let mut depth = 1usize;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '(' => {
                            depth += 1;
                            text.push(c);
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            text.push(c);
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                if e != '\r' && e != '\n' {
                                    text.push(e);
                                }
                            }
                        }
                        '\r' | '\n' => {}
                        c => text.push(c),
                    }
                }
                if depth > 0 {
                    error.get_or_insert(AddrError::UnterminatedComment { offset: off });
                }
                Kind::Comment(text)
            }
            '[' => {
                let mut text = String::new();
                let mut closed = false;
                let mut gap = false;
                let mut valid = true;
                while let Some((_, c)) = chars.next() {
                    match c {
                        ']' => {
                            closed = true;
                            break;
                        }
                        c if is_ws(c) => gap = true,
                        c => {
                            valid &= c != '[' && !c.is_control();
                            if gap && !text.is_empty() {
                                text.push(' ');
                            }
                            gap = false;
                            text.push(c);
                            // A quoted-pair is kept as written, so the literal stays valid.
                            if c == '\\' {
                                match chars.next() {
                                    Some((_, e)) => {
                                        valid &= !e.is_control();
                                        text.push(e);
                                    }
                                    // A `\` ending the input escapes nothing: closing the
                                    // literal after it would give `[\]`, whose `]` is escaped.
                                    None => valid = false,
                                }
                            }
                        }
                    }
                }
                if !closed {
                    error.get_or_insert(AddrError::UnterminatedDomainLiteral { offset: off });
                }
                Kind::Literal(text, valid)
            }
            '<' | '>' | '@' | ',' | ':' | ';' | '.' => Kind::Special(c),
            c if is_atext(c) => {
                let mut text = String::from(c);
                while let Some(&(_, n)) = chars.peek() {
                    if !is_atext(n) {
                        break;
                    }
                    text.push(n);
                    chars.next();
                }
                Kind::Atom(text)
            }
            c => Kind::Other(c),
        };
        let is_comment = matches!(kind, Kind::Comment(_));
        toks.push(Tok { kind, sp, off });
        // A comment separates words as white space does.
        sp = is_comment;
    }
    Lexed { toks, error }
}

// ---------------------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordKind {
    Atom,
    Quoted,
    Dot,
}

/// An atom, quoted string or dot of a phrase or local part.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    kind: WordKind,
    sp: bool,
    off: usize,
}

struct Parser<'a> {
    toks: &'a [Tok],
    i: usize,
    strict: bool,
    /// Input length, the offset reported at the end.
    end: usize,
}

impl<'a> Parser<'a> {
    fn new(lexed: &'a Lexed, end: usize, strict: bool) -> Self {
        Parser {
            toks: &lexed.toks,
            i: 0,
            strict,
            end,
        }
    }

    /// Index of the next token that is not a comment.
    fn sig(&self) -> usize {
        let mut j = self.i;
        while matches!(
            self.toks.get(j),
            Some(Tok {
                kind: Kind::Comment(_),
                ..
            })
        ) {
            j += 1;
        }
        j
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.sig())
    }

    fn peek_kind(&self) -> Option<&'a Kind> {
        self.peek().map(|t| &t.kind)
    }

    fn peek_is(&self, c: char) -> bool {
        self.peek_kind() == Some(&Kind::Special(c))
    }

    fn bump(&mut self) -> Option<&'a Tok> {
        let j = self.sig();
        let t = self.toks.get(j)?;
        self.i = j + 1;
        Some(t)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek_is(c);
        if found {
            self.bump();
        }
        found
    }

    fn offset(&self) -> usize {
        self.peek().map_or(self.end, |t| t.off)
    }

    fn unexpected(&self) -> AddrError {
        match self.peek() {
            None => AddrError::UnexpectedEnd,
            Some(t) => AddrError::Unexpected {
                found: match &t.kind {
                    Kind::Atom(a) => a.chars().next().unwrap_or(' '),
                    Kind::Quoted(_) => '"',
                    Kind::Literal(..) => '[',
                    Kind::Comment(_) => '(',
                    Kind::Special(c) | Kind::Other(c) => *c,
                },
                offset: t.off,
            },
        }
    }

    /// The error for something after a complete address that is not a separator.
    fn missing_comma(&self) -> AddrError {
        match self.peek_kind() {
            Some(Kind::Atom(_) | Kind::Quoted(_) | Kind::Special('<')) => AddrError::MissingComma {
                offset: self.offset(),
            },
            _ => self.unexpected(),
        }
    }

    /// After an error (lenient mode): skips to the next of `stops`, always moving forward.
    fn recover(&mut self, start: usize, stops: &[char]) {
        while let Some(t) = self.peek() {
            if matches!(t.kind, Kind::Special(c) if stops.contains(&c)) {
                break;
            }
            self.bump();
        }
        if self.i <= start && self.bump().is_none() {
            self.i = self.toks.len();
        }
    }

    /// address-list, with the obsolete empty members.
    fn list(&mut self) -> Result<Vec<Address>, AddrError> {
        let mut out = Vec::new();
        while let Some(t) = self.peek() {
            match t.kind {
                Kind::Special(',') => {
                    self.bump();
                    continue;
                }
                Kind::Special(';') if !self.strict => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            let start = self.i;
            match self.address() {
                Ok(a) => {
                    out.push(a);
                    if self.strict && !(self.peek().is_none() || self.peek_is(',')) {
                        return Err(self.missing_comma());
                    }
                }
                Err(e) if self.strict => return Err(e),
                Err(_) => self.recover(start, &[',', ';']),
            }
        }
        if self.strict && out.is_empty() {
            return Err(AddrError::Empty);
        }
        Ok(out)
    }

    /// mailbox / group.
    fn address(&mut self) -> Result<Address, AddrError> {
        let words = self.words();
        if self.peek_is(':') {
            return self.group(&words);
        }
        self.mailbox(&words).map(Address::Mailbox)
    }

    /// Atoms, quoted strings and dots: a phrase or a local part, decided by what follows.
    fn words(&mut self) -> Vec<Word<'a>> {
        let mut words = Vec::new();
        while let Some(t) = self.peek() {
            let (text, kind) = match &t.kind {
                Kind::Atom(a) => (a.as_str(), WordKind::Atom),
                Kind::Quoted(q) => (q.as_str(), WordKind::Quoted),
                Kind::Special('.') => (".", WordKind::Dot),
                _ => break,
            };
            words.push(Word {
                text,
                kind,
                sp: t.sp,
                off: t.off,
            });
            self.bump();
        }
        words
    }

    /// The display name from a phrase (None when absent or empty); strict mode refuses a
    /// phrase that starts with a dot.
    fn phrase(&self, words: &[Word<'_>]) -> Result<Option<String>, AddrError> {
        let Some(first) = words.first() else {
            return Ok(None);
        };
        if self.strict && first.kind == WordKind::Dot {
            return Err(AddrError::BadDisplayName { offset: first.off });
        }
        let mut text = String::new();
        for (k, w) in words.iter().enumerate() {
            if k > 0 && w.sp {
                text.push(' ');
            }
            text.push_str(w.text);
        }
        Ok(clean_name(text))
    }

    /// mailbox = name-addr / addr-spec, after its leading words.
    fn mailbox(&mut self, words: &[Word<'_>]) -> Result<NamedMailbox, AddrError> {
        match self.peek() {
            Some(Tok {
                kind: Kind::Special('<'),
                off,
                ..
            }) => {
                let lt = *off;
                let name = self.phrase(words)?;
                self.bump();
                let addr = self.angle_addr(lt)?;
                let name = name.or_else(|| self.comment_name());
                Ok(NamedMailbox { name, addr })
            }
            Some(Tok {
                kind: Kind::Special('@'),
                ..
            }) => {
                let addr = self.addr_spec(words)?;
                let name = self.comment_name();
                Ok(NamedMailbox { name, addr })
            }
            Some(Tok {
                kind: Kind::Special(':'),
                off,
                ..
            }) => Err(AddrError::GroupNotAllowed { offset: *off }),
            None
            | Some(Tok {
                kind: Kind::Special(',' | ';'),
                ..
            }) if !words.is_empty() => Err(AddrError::MissingAt {
                offset: self.offset(),
            }),
            _ => Err(self.unexpected()),
        }
    }

    /// The text of the comments right after an address, as a display name.
    fn comment_name(&mut self) -> Option<String> {
        let mut text = String::new();
        while let Some(Tok {
            kind: Kind::Comment(c),
            ..
        }) = self.toks.get(self.i)
        {
            let c = c.trim_matches(is_ws);
            if !c.is_empty() {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(c);
            }
            self.i += 1;
        }
        clean_name(text)
    }

    /// angle-addr after its `<`, with the obsolete route.
    fn angle_addr(&mut self, lt: usize) -> Result<String, AddrError> {
        if self.peek_is('>') {
            self.bump();
            return Err(AddrError::EmptyAngleAddr { offset: lt });
        }
        if self.peek_is('@') {
            self.route()?;
        }
        let words = self.words();
        if !self.peek_is('@') {
            return Err(match self.peek_kind() {
                _ if words.is_empty() => self.unexpected(),
                Some(Kind::Special('>')) | None => AddrError::MissingAt {
                    offset: self.offset(),
                },
                _ => self.unexpected(),
            });
        }
        let addr = self.addr_spec(&words)?;
        if !self.eat('>') {
            match self.peek() {
                None if !self.strict => {}
                None => return Err(AddrError::MissingAngleClose { offset: lt }),
                Some(_) => return Err(self.unexpected()),
            }
        }
        Ok(addr)
    }

    /// obs-route = obs-domain-list ":" ; obs-domain-list = *(CFWS / ",") "@" domain
    /// *("," [CFWS] ["@" domain]). The route is checked and dropped.
    fn route(&mut self) -> Result<(), AddrError> {
        let start = self.offset();
        let bad = AddrError::BadRoute { offset: start };
        while self.eat(',') {}
        loop {
            if !self.eat('@') {
                return Err(bad);
            }
            self.domain().map_err(|_| bad.clone())?;
            if self.eat(':') {
                return Ok(());
            }
            if !self.eat(',') {
                return Err(bad);
            }
            while self.eat(',') {}
            if self.eat(':') {
                return Ok(());
            }
        }
    }

    /// addr-spec = local-part "@" domain, with the local part's words already read and the
    /// `@` next.
    fn addr_spec(&mut self, words: &[Word<'_>]) -> Result<String, AddrError> {
        let at = self.offset();
        let local = self.local_part(words, at)?;
        self.bump();
        let domain = self.domain()?;
        Ok(format!("{local}@{domain}"))
    }

    /// local-part = dot-atom / quoted-string / obs-local-part (word *("." word)), returned
    /// re-quoted when needed. Lenient mode also takes empty dot segments (`a..b`).
    fn local_part(&self, words: &[Word<'_>], at: usize) -> Result<String, AddrError> {
        let mut semantic = String::new();
        let mut after_word = false;
        let mut regular = true;
        let mut any_word = false;
        for w in words {
            if w.kind == WordKind::Dot {
                regular &= after_word;
                after_word = false;
            } else if after_word {
                // Two words without a dot between them (`Alice a@b`).
                return Err(AddrError::BadLocalPart { offset: w.off });
            } else {
                after_word = true;
                any_word = true;
            }
            semantic.push_str(w.text);
        }
        regular &= after_word;
        // Controls (even a tab, which a quoted string may hold) never go into an address.
        if !any_word || (self.strict && !regular) || semantic.chars().any(char::is_control) {
            let offset = words.first().map_or(at, |w| w.off);
            return Err(AddrError::BadLocalPart { offset });
        }
        Ok(quote_local(&semantic))
    }

    /// domain = dot-atom / domain-literal / obs-domain (atoms with CFWS around the dots).
    fn domain(&mut self) -> Result<String, AddrError> {
        let offset = self.offset();
        match self.peek_kind() {
            Some(Kind::Literal(l, true)) => {
                self.bump();
                Ok(format!("[{l}]"))
            }
            Some(Kind::Atom(a)) => {
                self.bump();
                let mut domain = a.clone();
                while self.eat('.') {
                    match self.peek_kind() {
                        Some(Kind::Atom(a)) => {
                            domain.push('.');
                            domain.push_str(a);
                            self.bump();
                        }
                        _ => {
                            return Err(AddrError::BadDomain {
                                offset: self.offset(),
                            });
                        }
                    }
                }
                Ok(domain)
            }
            _ => Err(AddrError::BadDomain { offset }),
        }
    }

    /// group = display-name ":" [group-list] ";", after its name's words, with `:` next.
    fn group(&mut self, words: &[Word<'_>]) -> Result<Address, AddrError> {
        let colon = self.offset();
        if self.strict && words.is_empty() {
            return Err(AddrError::BadDisplayName { offset: colon });
        }
        let name = self.phrase(words)?.unwrap_or_default();
        self.bump();
        let mut members = Vec::new();
        loop {
            match self.peek_kind() {
                None if self.strict => return Err(AddrError::UnclosedGroup { offset: colon }),
                None => break,
                Some(Kind::Special(';')) => {
                    self.bump();
                    break;
                }
                Some(Kind::Special(',')) => {
                    self.bump();
                }
                Some(_) => {
                    let start = self.i;
                    let words = self.words();
                    match self.mailbox(&words) {
                        Ok(m) => {
                            members.push(m);
                            let separated =
                                matches!(self.peek_kind(), None | Some(Kind::Special(',' | ';')));
                            if self.strict && !separated {
                                return Err(self.missing_comma());
                            }
                        }
                        Err(e) if self.strict => return Err(e),
                        Err(_) => self.recover(start, &[',', ';']),
                    }
                }
            }
        }
        Ok(Address::Group { name, members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: &str, addr: &str) -> NamedMailbox {
        NamedMailbox::new(Some(name), addr)
    }

    fn m(name: &str, addr: &str) -> Address {
        Address::Mailbox(mb(name, addr))
    }

    fn g(name: &str, members: &[(&str, &str)]) -> Address {
        Address::Group {
            name: name.to_owned(),
            members: members.iter().map(|&(n, a)| mb(n, a)).collect(),
        }
    }

    /// Strict parse that must succeed, and must agree with the lenient parser.
    fn strict(s: &str) -> Vec<Address> {
        let list = parse_list_strict(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(parse_list(s), list, "lenient differs on {s:?}");
        list
    }

    #[test]
    fn rfc5322_appendix_a() {
        // A.1.1
        assert_eq!(
            strict("John Doe <jdoe@machine.example>"),
            [m("John Doe", "jdoe@machine.example")]
        );
        assert_eq!(
            strict("Mary Smith <mary@example.net>"),
            [m("Mary Smith", "mary@example.net")]
        );
        // A.1.2
        assert_eq!(
            strict("\"Joe Q. Public\" <john.q.public@example.com>"),
            [m("Joe Q. Public", "john.q.public@example.com")]
        );
        assert_eq!(
            strict("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            [
                m("Mary Smith", "mary@x.test"),
                m("", "jdoe@example.org"),
                m("Who?", "one@y.test")
            ]
        );
        assert_eq!(
            strict("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"),
            [
                m("", "boss@nil.test"),
                m("Giant; \"Big\" Box", "sysservices@example.net")
            ]
        );
        // A.1.3
        assert_eq!(
            strict("Pete <pete@silly.example>"),
            [m("Pete", "pete@silly.example")]
        );
        assert_eq!(
            strict("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            [g(
                "A Group",
                &[
                    ("Ed Jones", "c@a.test"),
                    ("", "joe@where.test"),
                    ("John", "jdoe@one.test")
                ]
            )]
        );
        assert_eq!(
            strict("Undisclosed recipients:;"),
            [g("Undisclosed recipients", &[])]
        );
        // A.2
        assert_eq!(
            strict("\"Mary Smith: Personal Account\" <smith@home.example>"),
            [m("Mary Smith: Personal Account", "smith@home.example")]
        );
        // A.3
        assert_eq!(
            strict("Jane Brown <j-brown@other.example>"),
            [m("Jane Brown", "j-brown@other.example")]
        );
        // A.4
        assert_eq!(
            strict("John Doe <jdoe@node.example>"),
            [m("John Doe", "jdoe@node.example")]
        );
        // A.5
        assert_eq!(
            strict("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            [m("Pete", "pete@silly.test")]
        );
        assert_eq!(
            strict(
                "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)"
            ),
            [g(
                "A Group",
                &[
                    ("Chris Jones", "c@public.example"),
                    ("", "joe@example.org"),
                    ("John", "jdoe@one.test")
                ]
            )]
        );
        assert_eq!(
            strict("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;"),
            [g("Hidden recipients", &[])]
        );
        // A.6.1
        assert_eq!(
            strict("Joe Q. Public <john.q.public@example.com>"),
            [m("Joe Q. Public", "john.q.public@example.com")]
        );
        assert_eq!(
            strict("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example"),
            [
                m("Mary Smith", "mary@example.net"),
                m("", "jdoe@test.example")
            ]
        );
        // A.6.2 has only current-syntax addresses (its date is tested in util).
        // A.6.3
        assert_eq!(
            strict("John Doe <jdoe@machine(comment).  example>"),
            [m("John Doe", "jdoe@machine.example")]
        );
        assert_eq!(
            strict("Mary Smith\r\n  \r\n          <mary@example.net>"),
            [m("Mary Smith", "mary@example.net")]
        );
    }

    /// Expected values from Python 3.11.7's `email.headerregistry` (the modern parser):
    /// `HeaderRegistry()('To', s).groups`, a group with `display_name` None being a bare
    /// mailbox. Inputs where we decide otherwise are in `python_deviations`.
    #[test]
    fn python_parity() {
        let cases: Vec<(&str, Vec<Address>)> = vec![
            ("Alice <a@b>", vec![m("Alice", "a@b")]),
            (
                "\"Joe Q. Public\" <john.q.public@example.com>",
                vec![m("Joe Q. Public", "john.q.public@example.com")],
            ),
            (
                "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
                vec![
                    m("Mary Smith", "mary@x.test"),
                    m("", "jdoe@example.org"),
                    m("Who?", "one@y.test"),
                ],
            ),
            (
                "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
                vec![
                    m("", "boss@nil.test"),
                    m("Giant; \"Big\" Box", "sysservices@example.net"),
                ],
            ),
            (
                "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
                vec![g(
                    "A Group",
                    &[
                        ("Ed Jones", "c@a.test"),
                        ("", "joe@where.test"),
                        ("John", "jdoe@one.test"),
                    ],
                )],
            ),
            (
                "Undisclosed recipients:;",
                vec![g("Undisclosed recipients", &[])],
            ),
            (
                "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
                vec![m("Pete", "pete@silly.test")],
            ),
            (
                "A Group(Some people):Chris Jones <c@(Chris's host.)public.example>,joe@example.org,John <jdoe@one.test> (my dear friend); (the end of the group)",
                vec![g(
                    "A Group",
                    &[
                        ("Chris Jones", "c@public.example"),
                        ("", "joe@example.org"),
                        ("John", "jdoe@one.test"),
                    ],
                )],
            ),
            (
                "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
                vec![g("Hidden recipients", &[])],
            ),
            (
                "Joe Q. Public <john.q.public@example.com>",
                vec![m("Joe Q. Public", "john.q.public@example.com")],
            ),
            (
                "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
                vec![
                    m("Mary Smith", "mary@example.net"),
                    m("", "jdoe@test.example"),
                ],
            ),
            (
                "John Doe <jdoe@machine(comment).  example>",
                vec![m("John Doe", "jdoe@machine.example")],
            ),
            ("  <mary@example.net>", vec![m("", "mary@example.net")]),
            (
                "\"john doe\"@example.com",
                vec![m("", "\"john doe\"@example.com")],
            ),
            ("\"john\"@example.com", vec![m("", "john@example.com")]),
            ("a@[192.168.0.1]", vec![m("", "a@[192.168.0.1]")]),
            ("a@[ 1.2.3.4 ]", vec![m("", "a@[1.2.3.4]")]),
            (
                "Alice <a@[IPv6:2001:db8::1]>",
                vec![m("Alice", "a@[IPv6:2001:db8::1]")],
            ),
            (
                "André <andre@example.com>",
                vec![m("André", "andre@example.com")],
            ),
            ("José Ñ <j@ñ.example>", vec![m("José Ñ", "j@ñ.example")]),
            (
                "山田 太郎 <taro@例え.jp>",
                vec![m("山田 太郎", "taro@例え.jp")],
            ),
            (
                "\"山田 太郎\" <taro@example.jp>",
                vec![m("山田 太郎", "taro@example.jp")],
            ),
            ("ñoño@example.com", vec![m("", "ñoño@example.com")]),
            ("\"\" <a@b>", vec![m("", "a@b")]),
            (" , , a@b, ,", vec![m("", "a@b")]),
            ("Alice <a@b", vec![m("Alice", "a@b")]),
            ("a@b>", vec![m("", "a@b")]),
            ("\"Alice\" (nick) <a@b>", vec![m("Alice", "a@b")]),
            ("Alice (nick) <a@b>", vec![m("Alice", "a@b")]),
            ("\"a\\\"b\\\\c\" <x@y>", vec![m("a\"b\\c", "x@y")]),
            (
                "\"John \\\"the man\\\" Doe\" <j@x>",
                vec![m("John \"the man\" Doe", "j@x")],
            ),
            ("\"\\\\\" <a@b>", vec![m("\\", "a@b")]),
            ("\"a\\(b\" <x@y>", vec![m("a(b", "x@y")]),
            (
                "Group: a@b;, c@d",
                vec![g("Group", &[("", "a@b")]), m("", "c@d")],
            ),
            ("Group: a@b", vec![g("Group", &[("", "a@b")])]),
            (
                "Team: a@b, Alice <c@d>;, e@f",
                vec![g("Team", &[("", "a@b"), ("Alice", "c@d")]), m("", "e@f")],
            ),
            ("Ed <e@x>, Group: ;", vec![m("Ed", "e@x"), g("Group", &[])]),
            ("a.b.c@d.e", vec![m("", "a.b.c@d.e")]),
            ("Mr. Smith <s@x>", vec![m("Mr. Smith", "s@x")]),
            ("Mr.Smith <s@x>", vec![m("Mr.Smith", "s@x")]),
            ("a b <c@d> e", vec![m("a b", "c@d")]),
            ("<@a,@b:c@d>", vec![m("", "c@d")]),
            ("\"a\".\"b\"@c", vec![m("", "a.b@c")]),
            ("\"a\". b @ c . d", vec![m("", "a.b@c.d")]),
            (
                "\"Mary Smith: Personal Account\" <smith@home.example>",
                vec![m("Mary Smith: Personal Account", "smith@home.example")],
            ),
            ("Joe  Smith <j@s>", vec![m("Joe Smith", "j@s")]),
            ("\"Joe  Smith\" <j@s>", vec![m("Joe  Smith", "j@s")]),
            ("a\tb <c@d>", vec![m("a b", "c@d")]),
            ("  a@b  ", vec![m("", "a@b")]),
            ("a@b,c@d", vec![m("", "a@b"), m("", "c@d")]),
            (
                "\"quoted, comma\" <a@b>, c@d",
                vec![m("quoted, comma", "a@b"), m("", "c@d")],
            ),
            ("(comment only)", vec![]),
            ("", vec![]),
            (",", vec![]),
            ("(unterminated a@b", vec![]),
            (
                "George Jones<Group@Host>",
                vec![m("George Jones", "Group@Host")],
            ),
            (
                "\"Al Neuman\"@Mad-Host, Sam.Irving@Other-Host",
                vec![
                    m("", "\"Al Neuman\"@Mad-Host"),
                    m("", "Sam.Irving@Other-Host"),
                ],
            ),
            (
                "Important folk: Tom Softwood <Balsa@Tree.Root>, \"Sam Irving\"@Other-Host;, Standard Distribution: /main/davis/people/standard@Other-Host, \"<Jones>standard.dist.3\"@Tops-20-Host>;",
                vec![
                    g(
                        "Important folk",
                        &[
                            ("Tom Softwood", "Balsa@Tree.Root"),
                            ("", "\"Sam Irving\"@Other-Host"),
                        ],
                    ),
                    g(
                        "Standard Distribution",
                        &[
                            ("", "/main/davis/people/standard@Other-Host"),
                            ("", "\"<Jones>standard.dist.3\"@Tops-20-Host"),
                        ],
                    ),
                ],
            ),
            (
                "much.\"more\\ unusual\"@example.com",
                vec![m("", "\"much.more unusual\"@example.com")],
            ),
            (
                "very.\"(),:;<>[]\".VERY.\"very@\\\\ \\\"very\".unusual@strange.example.com",
                vec![m(
                    "",
                    "\"very.(),:;<>[].VERY.very@\\\\ \\\"very.unusual\"@strange.example.com",
                )],
            ),
            (
                "\"first\\\\\\\"last\"@iana.org",
                vec![m("", "\"first\\\\\\\"last\"@iana.org")],
            ),
            (
                "cal(woo(yay)hoopla)@iamcal.com",
                vec![m("", "cal@iamcal.com")],
            ),
            (
                "a(a(b(c)d(e(f))g)h(i)j)@iana.org",
                vec![m("", "a@iana.org")],
            ),
            (
                "\"foo\"(yay)@(hoopla)[1.2.3.4]",
                vec![m("", "foo@[1.2.3.4]")],
            ),
            (
                "first.(\")middle.last(\")@iana.org",
                vec![m("", "first.middle.last@iana.org")],
            ),
            (
                "+@b.c, user%uucp!path@berkeley.edu",
                vec![m("", "+@b.c"), m("", "user%uucp!path@berkeley.edu")],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_list(input), want, "{input:?}");
        }
    }

    /// Where we differ from Python 3.11.7 on purpose; `HR` is `email.headerregistry`, `GA`
    /// `email.utils.getaddresses`.
    #[test]
    fn python_deviations() {
        let cases: Vec<(&str, Vec<Address>)> = vec![
            // The comment after a bare address is its name (GA: 'Alice'; HR: no name).
            ("a@b (Alice)", vec![m("Alice", "a@b")]),
            ("<a@b> (Alice)", vec![m("Alice", "a@b")]), // GA and HR: no name
            ("a@b (one) (two)", vec![m("one two", "a@b")]), // GA: 'one two'
            ("a(x)@b (Alice)", vec![m("Alice", "a@b")]), // GA: 'x x Alice'
            ("a@b (Alice (Al) Smith)", vec![m("Alice (Al) Smith", "a@b")]), // GA: 'Alice Al Smith'
            ("x@y (a\\(b)", vec![m("a(b", "x@y")]),     // GA: 'a(b'
            (
                "(foo)cal(bar)@(baz)iamcal.com(quux)",
                vec![m("quux", "cal@iamcal.com")], // HR: no name
            ),
            // Entries without a domain are skipped (HR and GA keep 'alice', 'junk', '<>'...).
            ("alice", vec![]),
            ("Alice <alice>", vec![]),
            ("<>", vec![]),
            ("\"\"", vec![]),
            ("Mary Smith", vec![]),  // HR: '"Mary Smith"'
            ("foo bar baz", vec![]), // HR: '"foo bar baz"'
            ("a@b, junk, c@d", vec![m("", "a@b"), m("", "c@d")]),
            ("@b", vec![]),                   // HR: '<>'
            ("a@b.", vec![]),                 // HR: '<>'
            ("Alice a@b", vec![]),            // HR: '"Alice a"@b'
            ("\"unterminated <a@b>", vec![]), // HR: '"unterminated <a@b>"'
            // A local part that is not a dot-atom is re-quoted (HR writes a..b@c).
            ("a..b@c", vec![m("", "\"a..b\"@c")]),
            (".a@b", vec![m("", "\".a\"@b")]),
            ("\"a..b\"@c", vec![m("", "\"a..b\"@c")]),
            // A missing comma starts a new entry (GA agrees on the first; HR keeps only a@b).
            ("<a@b> <c@d>", vec![m("", "a@b"), m("", "c@d")]),
            ("a@b c@d", vec![m("", "a@b"), m("", "c@d")]),
            // A stray ';' separates entries (HR stops at it).
            ("a@b; c@d", vec![m("", "a@b"), m("", "c@d")]),
            // Junk after a complete address is dropped (HR: '<>').
            ("a@b@c", vec![m("", "a@b")]),
            // A group inside a group is skipped (HR: member 'B').
            ("A:B:c@d;", vec![g("A", &[])]),
            // HR raises AttributeError on two groups separated by ';' only.
            (
                "G1: a@b; G2: c@d;",
                vec![g("G1", &[("", "a@b")]), g("G2", &[("", "c@d")])],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_list(input), want, "{input:?}");
        }
    }

    #[test]
    fn encoded_words_go_through_the_decoder() {
        // HR decodes these to 'André Pirard', 'Keld Jørn Simonsen' and 'André'.
        let cases = [
            (
                "=?utf-8?q?Andr=C3=A9?= Pirard <PIRARD@vm1.ulg.ac.be>",
                "=?utf-8?q?Andr=C3=A9?= Pirard",
                "PIRARD@vm1.ulg.ac.be",
            ),
            (
                "=?iso-8859-1?q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
                "=?iso-8859-1?q?Keld_J=F8rn_Simonsen?=",
                "keld@dkuug.dk",
            ),
            // In a quoted string too, as Python and real-world readers do.
            (
                "\"=?utf-8?b?QW5kcsOp?=\" <andre@example.com>",
                "=?utf-8?b?QW5kcsOp?=",
                "andre@example.com",
            ),
            // In the comment that names a bare address.
            (
                "andre@example.com (=?utf-8?b?QW5kcsOp?=)",
                "=?utf-8?b?QW5kcsOp?=",
                "andre@example.com",
            ),
        ];
        for (input, raw_name, addr) in cases {
            let want = NamedMailbox::new(Some(&encoded_word::decode(raw_name)), addr);
            assert_eq!(
                parse_list(input),
                [Address::Mailbox(want.clone())],
                "{input:?}"
            );
            assert_eq!(parse_mailbox(input), Ok(want), "{input:?}");
        }
        // Group names as well.
        assert_eq!(
            parse_list("=?utf-8?q?Les_=C3=A9l=C3=A8ves?=: a@b;"),
            [g(
                &encoded_word::decode("=?utf-8?q?Les_=C3=A9l=C3=A8ves?="),
                &[("", "a@b")]
            )]
        );
    }

    #[test]
    fn strict_errors() {
        use AddrError::*;
        let cases = [
            ("", Empty),
            (" (only a comment) , ", Empty),
            ("\"abc", UnterminatedQuote { offset: 0 }),
            ("a@b (abc", UnterminatedComment { offset: 4 }),
            ("a@[1.2.3.4", UnterminatedDomainLiteral { offset: 2 }),
            ("Alice <a@b", MissingAngleClose { offset: 6 }),
            ("<>", EmptyAngleAddr { offset: 0 }),
            ("alice", MissingAt { offset: 5 }),
            ("Alice <alice>", MissingAt { offset: 12 }),
            ("a..b@c", BadLocalPart { offset: 0 }),
            ("a.@c", BadLocalPart { offset: 0 }),
            ("Alice a@b", BadLocalPart { offset: 6 }),
            ("\"a\tb\"@c", BadLocalPart { offset: 0 }),
            ("@b", BadLocalPart { offset: 0 }),
            ("a@", BadDomain { offset: 2 }),
            ("a@b.", BadDomain { offset: 4 }),
            ("a@b..c", BadDomain { offset: 4 }),
            ("a@[x[y]", BadDomain { offset: 2 }),
            ("<@a,b:c@d>", BadRoute { offset: 1 }),
            ("<@a:@b:c@d>", BadLocalPart { offset: 4 }),
            ("<@:c@d>", BadRoute { offset: 1 }),
            ("<@a c@d>", BadRoute { offset: 1 }),
            (". Smith <a@b>", BadDisplayName { offset: 0 }),
            (": a@b;", BadDisplayName { offset: 0 }),
            ("<a@b> <c@d>", MissingComma { offset: 6 }),
            ("a@b c@d", MissingComma { offset: 4 }),
            ("G: a@b c@d;", MissingComma { offset: 7 }),
            ("G1: a@b; G2: c@d;", MissingComma { offset: 9 }),
            ("G: a@b", UnclosedGroup { offset: 1 }),
            ("G: H: a@b;;", GroupNotAllowed { offset: 4 }),
            (
                "a@b; c@d",
                Unexpected {
                    found: ';',
                    offset: 3,
                },
            ),
            (
                "a@b>",
                Unexpected {
                    found: '>',
                    offset: 3,
                },
            ),
            (
                "Alice <a@b c>",
                Unexpected {
                    found: 'c',
                    offset: 11,
                },
            ),
            (
                "a)@b",
                Unexpected {
                    found: ')',
                    offset: 1,
                },
            ),
            (
                "a\u{0}@b",
                Unexpected {
                    found: '\u{0}',
                    offset: 1,
                },
            ),
            ("Alice <", UnexpectedEnd),
        ];
        for (input, want) in cases {
            assert_eq!(parse_list_strict(input), Err(want.clone()), "{input:?}");
            assert!(!want.to_string().is_empty());
        }
    }

    #[test]
    fn lenient_tolerances() {
        // Everything the strict parser refuses above, the lenient one survives.
        assert_eq!(parse_list("Alice <a@b"), [m("Alice", "a@b")]);
        assert_eq!(parse_list("Alice <a@b (unterminated"), [m("Alice", "a@b")]);
        assert_eq!(parse_list("a@b (Alice"), [m("Alice", "a@b")]);
        assert_eq!(parse_list("G: a@b"), [g("G", &[("", "a@b")])]);
        assert_eq!(parse_list(": a@b;"), [g("", &[("", "a@b")])]);
        assert_eq!(parse_list(". Smith <a@b>"), [m(". Smith", "a@b")]);
        assert_eq!(
            parse_list("G: a@b c@d, <>, junk, e@f;"),
            [g("G", &[("", "a@b"), ("", "c@d"), ("", "e@f")])]
        );
        assert_eq!(parse_list("G: H: a@b;; c@d"), [g("G", &[]), m("", "c@d")]);
        assert_eq!(
            parse_list("Alice <a@b c>, d@e"),
            [m("", "d@e")],
            "a broken entry is dropped, the next one kept"
        );
        assert_eq!(parse_list("a)@b, \u{0}, c@d"), [m("", "c@d")]);
        assert_eq!(
            parse_list("Bob <b@x> Carol <c@x>"),
            [m("Bob", "b@x"), m("Carol", "c@x")]
        );
        assert_eq!(parse_list("a@[x[y], b@c"), [m("", "b@c")]);
        assert_eq!(parse_list("\"a\tb\"@c, d@e"), [m("", "d@e")]);
        // Outlook-style separators.
        assert_eq!(parse_list("a@b;c@d;"), [m("", "a@b"), m("", "c@d")]);
    }

    #[test]
    fn parse_mailbox_cases() {
        assert_eq!(parse_mailbox("Alice <a@b>"), Ok(mb("Alice", "a@b")));
        assert_eq!(parse_mailbox("  (x) a@b (Alice)  "), Ok(mb("Alice", "a@b")));
        assert_eq!(parse_mailbox("<@r:a@b>"), Ok(mb("", "a@b")));
        assert_eq!(parse_mailbox("\"a b\"@c"), Ok(mb("", "\"a b\"@c")));
        assert_eq!(parse_mailbox(""), Err(AddrError::Empty));
        assert_eq!(parse_mailbox("(x)"), Err(AddrError::Empty));
        assert_eq!(
            parse_mailbox("a@b, c@d"),
            Err(AddrError::Unexpected {
                found: ',',
                offset: 3
            })
        );
        assert_eq!(
            parse_mailbox("G: a@b;"),
            Err(AddrError::GroupNotAllowed { offset: 1 })
        );
        assert_eq!(
            parse_mailbox("Alice <a@b"),
            Err(AddrError::MissingAngleClose { offset: 6 })
        );
        assert_eq!(
            parse_mailbox("a@b\"x"),
            Err(AddrError::UnterminatedQuote { offset: 3 })
        );
    }

    #[test]
    fn names_never_hold_controls() {
        let list = parse_list("\"A\\\rB\u{7}C\" <a@b>, x@y (D\tE)");
        assert_eq!(list, [m("AB C", "a@b"), m("D E", "x@y")]);
        // Folding inside a quoted string is unfolded.
        assert_eq!(parse_list("\"A\r\n B\" <a@b>"), [m("A B", "a@b")]);
    }

    #[test]
    fn format_quoting() {
        let f = |name: &str, utf8: bool| mb(name, "a@b").format(utf8);
        assert_eq!(f("", false), "a@b");
        assert_eq!(f("Alice", false), "Alice <a@b>");
        assert_eq!(f("Alice Smith", false), "Alice Smith <a@b>");
        assert_eq!(f("Joe Q. Public", false), "\"Joe Q. Public\" <a@b>");
        assert_eq!(f("Smith, John", false), "\"Smith, John\" <a@b>");
        assert_eq!(f("a\"b\\c", false), "\"a\\\"b\\\\c\" <a@b>");
        assert_eq!(f("Joe  Smith", false), "\"Joe  Smith\" <a@b>");
        assert_eq!(f(" Joe", false), "\" Joe\" <a@b>");
        assert_eq!(f("x(y)", false), "\"x(y)\" <a@b>");
        assert_eq!(f("<evil@x>", false), "\"<evil@x>\" <a@b>");
        assert_eq!(f("O'Brien", false), "O'Brien <a@b>");
        // RFC 6532: raw UTF-8, quoted only for specials.
        assert_eq!(f("José Ñ", true), "José Ñ <a@b>");
        assert_eq!(f("Ñ, J", true), "\"Ñ, J\" <a@b>");
        // Otherwise through the encoder; whatever it returns, the name stays one phrase.
        let enc = f("José Ñ", false);
        let encoded = encoded_word::encode("José Ñ");
        if is_plain_phrase(&encoded, false) {
            assert_eq!(enc, format!("{encoded} <a@b>"));
        } else {
            assert!(enc.starts_with('"'), "{enc}");
        }
        // Control characters are never written.
        assert_eq!(f("A\r\nBcc: x@y", false), "\"A  Bcc: x@y\" <a@b>");
        assert_eq!(
            NamedMailbox::new(Some("A"), "a@b\r\nBcc: x@y").format(true),
            "A <a@bBcc: x@y>"
        );
    }

    #[test]
    fn format_lists_and_groups() {
        let list = vec![
            m("Mary Smith", "mary@x.test"),
            m("", "jdoe@example.org"),
            g(
                "A Group",
                &[("Ed Jones", "c@a.test"), ("", "joe@where.test")],
            ),
            g("Undisclosed recipients", &[]),
            g("", &[("", "x@y")]),
        ];
        assert_eq!(
            format_list(&list, false),
            "Mary Smith <mary@x.test>, jdoe@example.org, A Group: Ed Jones <c@a.test>, joe@where.test;, Undisclosed recipients:;, \"\": x@y;"
        );
        assert_eq!(
            parse_list_strict(&format_list(&list, false)),
            Ok(list.clone())
        );
        assert_eq!(format_list(&[], true), "");
        assert_eq!(list[2].to_string(), list[2].format(false));
        assert_eq!(mb("Mary", "m@x").to_string(), "Mary <m@x>");
    }

    #[test]
    fn round_trips() {
        let names = [
            "Alice",
            "Joe Q. Public",
            "Giant; \"Big\" Box",
            "a\\b",
            "  spaced  out ",
            "(not a comment)",
            "José Ñ",
            "山田 太郎",
            "=?",
        ];
        let addrs = [
            "a@b",
            "\"john doe\"@example.com",
            "\"a\\\"b\"@x",
            "\"a..b\"@c",
            "\"\"@c",
            "ñoño@例え.jp",
            "a@[192.0.2.1]",
            "a@[IPv6:2001:db8::1]",
            "user%uucp!path@berkeley.edu",
        ];
        for name in names {
            for addr in addrs {
                let list = vec![
                    m(name, addr),
                    m("", addr),
                    g(name, &[(name, addr), ("", addr)]),
                ];
                let text = format_list(&list, true);
                assert_eq!(parse_list_strict(&text), Ok(list.clone()), "{text}");
                if name.is_ascii() {
                    let text = format_list(&list, false);
                    assert_eq!(parse_list_strict(&text), Ok(list.clone()), "{text}");
                }
                let one = mb(name, addr);
                assert_eq!(parse_mailbox(&one.format(true)), Ok(one.clone()));
            }
        }
        // Through the real encoder and decoder: they must be inverses.
        let one = mb("José Ñ, Jr.", "j@x");
        assert_eq!(parse_mailbox(&one.to_string()), Ok(one));
    }

    #[test]
    fn to_envelope_and_mailboxes() {
        let list = parse_list(
            "Alice <alice@example.com>, Team: \"b c\"@example.org, d@[192.0.2.1];, Empty:;, e@例え.jp",
        );
        let flat = mailboxes(&list);
        let addrs: Vec<&str> = flat.iter().map(|m| m.addr.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "alice@example.com",
                "\"b c\"@example.org",
                "d@[192.0.2.1]",
                "e@例え.jp"
            ]
        );
        let env: Vec<Mailbox> = flat.iter().map(|m| m.to_envelope().unwrap()).collect();
        assert_eq!(env[0].local_part, "alice");
        assert_eq!(env[1].local_part, "b c");
        assert_eq!(env[1].domain, "example.org");
        assert_eq!(env[2].domain, "[192.0.2.1]");
        assert!(!env[3].is_ascii());
        assert_eq!(env[1].to_string(), flat[1].addr);
        // What RFC 5322 allows but RFC 5321 does not.
        assert!(mb("", "a@b_c!").to_envelope().is_err());
        assert!(mb("", "nobody").to_envelope().is_err());
    }

    #[test]
    fn constructors() {
        assert_eq!(NamedMailbox::new(Some(""), "a@b").name, None);
        assert_eq!(NamedMailbox::new(None, "a@b").format(true), "a@b");
        assert_eq!(
            NamedMailbox::new(Some("X"), "a@b"),
            NamedMailbox {
                name: Some("X".into()),
                addr: "a@b".into()
            }
        );
        // Some("") written by hand is taken as no name.
        let hand = NamedMailbox {
            name: Some(String::new()),
            addr: "a@b".into(),
        };
        assert_eq!(hand.to_string(), "a@b");
        let _: &dyn std::error::Error = &AddrError::Empty;
    }

    #[test]
    fn deep_nesting_and_long_inputs() {
        let deep = "(".repeat(100_000) + "a@b";
        assert_eq!(parse_list(&deep), []);
        assert!(parse_list_strict(&deep).is_err());
        let closed = "(".repeat(50_000) + &")".repeat(50_000) + "a@b";
        assert_eq!(parse_list(&closed), [m("", "a@b")]);
        let many = vec!["x@y"; 20_000].join(",");
        assert_eq!(parse_list_strict(&many).map(|l| l.len()), Ok(20_000));
        let commas = ",".repeat(100_000);
        assert_eq!(parse_list(&commas), []);
        let junk = "<".repeat(50_000) + &">".repeat(50_000) + &";:".repeat(20_000);
        let _ = parse_list(&junk);
        let _ = parse_mailbox(&junk);
    }

    /// Every corpus entry: each prefix, then thousands of random corruptions. Nothing may
    /// panic; lenient results are well-formed and stable when formatted and re-parsed; a strict
    /// success is what the lenient parser gives.
    #[test]
    fn no_panic_on_mutated_inputs() {
        let corpus = [
            "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
            "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
            "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
            "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
            "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
            "José Ñ <j@ñ.example>, 山田 太郎 <taro@例え.jp>, a@[IPv6:2001:db8::1]",
            "=?utf-8?q?Andr=C3=A9?= Pirard <PIRARD@vm1.ulg.ac.be> (x (y) \\( z)",
            "very.\"(),:;<>[]\".VERY.\"very@\\\\ \\\"very\".unusual@strange.example.com",
            "Undisclosed recipients:;, a@b (Alice), <@a,@b:c@d>",
        ];
        let alphabet: Vec<char> = "<>@,:;.()[]\"\\ \t\r\na=?é山\u{0}\u{7f}\u{85}"
            .chars()
            .collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut parsed, mut strict_ok) = (0, 0);
        let mut check = |s: &str| {
            let lenient = parse_list(s);
            parsed += usize::from(!lenient.is_empty());
            for m in mailboxes(&lenient) {
                let (local, domain) = m.addr.rsplit_once('@').expect("an @");
                assert!(!local.is_empty() && !domain.is_empty(), "{s:?}: {m:?}");
                assert!(!m.addr.chars().any(char::is_control), "{s:?}: {m:?}");
                assert!(
                    !m.name
                        .as_deref()
                        .is_some_and(|n| n.chars().any(char::is_control))
                );
                let _ = m.to_envelope();
            }
            if !s.contains("=?") {
                let text = format_list(&lenient, true);
                assert_eq!(parse_list(&text), lenient, "{s:?} -> {text:?}");
                assert!(!text.contains(['\r', '\n']));
                if !lenient.is_empty() {
                    assert_eq!(parse_list_strict(&text), Ok(lenient.clone()), "{text:?}");
                }
            }
            if let Ok(list) = parse_list_strict(s) {
                assert_eq!(list, lenient, "{s:?}");
                strict_ok += 1;
            }
            if let Ok(one) = parse_mailbox(s) {
                assert_eq!(lenient, [Address::Mailbox(one)], "{s:?}");
            }
        };
        for base in corpus {
            for (i, _) in base.char_indices() {
                check(base.get(..i).unwrap_or_default());
                check(base.get(i..).unwrap_or_default());
            }
        }
        for round in 0..20_000 {
            let base = corpus[round % corpus.len()];
            let mut bytes = base.as_bytes().to_vec();
            for _ in 0..(next() % 6 + 1) {
                let r = next();
                let pos = (r as usize >> 8) % (bytes.len() + 1);
                match r % 5 {
                    0 if pos < bytes.len() => bytes[pos] = (r >> 32) as u8,
                    1 => {
                        let c = alphabet[(r >> 40) as usize % alphabet.len()];
                        let mut buf = [0; 4];
                        for (k, b) in c.encode_utf8(&mut buf).bytes().enumerate() {
                            bytes.insert(pos + k, b);
                        }
                    }
                    2 if pos < bytes.len() => {
                        bytes.remove(pos);
                    }
                    3 => bytes.truncate(pos),
                    _ => {
                        let (a, b) = bytes.split_at(pos);
                        bytes = [b, a].concat();
                    }
                }
            }
            check(&String::from_utf8_lossy(&bytes));
        }
        // The mutations must leave enough parseable input for the checks to mean something.
        assert!(parsed > 10_000 && strict_ok > 2_000, "{parsed} {strict_ok}");
    }

    /// Found by fuzz/addr_list: `&@[\` made the lenient parser return the address `&@[\]`,
    /// whose `]` is escaped, so the formatted list did not parse back to the same list.
    #[test]
    fn regression_trailing_backslash_in_domain_literal() {
        assert_eq!(parse_list("&@[\\"), vec![]);
        assert_eq!(parse_list("a@b, c@[1.2\\"), parse_list("a@b"));
        // A complete quoted-pair still counts, and formats back to itself.
        let list = parse_list("c@[1.2\\]]");
        let text = format_list(&list, true);
        assert_eq!(parse_list(&text), list, "{text}");
    }

    /// Found by fuzz/addr_list: a display name that decodes to text looking like an encoded
    /// word (`=?utf-8?q?x?=`) was formatted raw, and parsing the formatted list decoded it a
    /// second time.
    #[test]
    fn regression_name_that_looks_like_an_encoded_word() {
        for name in ["=?utf-8?q?J=C3=B6rg?=", "a =?x?= b", "Jörg =?", "=?"] {
            let list = vec![Address::Mailbox(NamedMailbox::new(
                Some(name),
                "j@example.com",
            ))];
            for utf8 in [true, false] {
                let text = format_list(&list, utf8);
                assert_eq!(parse_list(&text), list, "{name:?} utf8={utf8}: {text}");
            }
        }
        // What the fuzzer found: a name decoded from a nested encoded word.
        let list = parse_list("=?utf-8?q?Ja=?utf-8?q?=C3J=C3=?=oB6rg?= <j@xmple>");
        assert_eq!(parse_list(&format_list(&list, true)), list);
    }
}
