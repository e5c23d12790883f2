//! The RFC 5322 §3.4 address-list parser over the lexer's tokens, strict or lenient.

use super::format::{push_quoted, sanitize};
use super::lex::{Kind, Lexed, Tok, is_dot_atom, is_ws, lex};
use super::types::{AddrError, Address, NamedMailbox};
use crate::mime::encoded_word;

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
