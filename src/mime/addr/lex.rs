//! The lexer: atoms, quoted strings, comments, domain literals and specials, with offsets.

use super::types::AddrError;

/// RFC 5322 atext, plus any non-ASCII character that is not a control (RFC 6532).
pub(super) fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

pub(super) fn is_dot_atom(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Tok {
    pub(super) kind: Kind,
    /// White space or a comment comes right before.
    pub(super) sp: bool,
    /// Byte offset in the input.
    pub(super) off: usize,
}

pub(super) struct Lexed {
    pub(super) toks: Vec<Tok>,
    /// The first unterminated quoted string, comment or domain literal.
    pub(super) error: Option<AddrError>,
}

pub(super) fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// One character of a quoted string's or comment's content (after its delimiters are
/// handled): a quoted pair keeps the character it escapes, and CR and LF (folding) are dropped,
/// escaped or not.
fn push_content(c: char, chars: &mut impl Iterator<Item = (usize, char)>, text: &mut String) {
    match c {
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

pub(super) fn lex(s: &str) -> Lexed {
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
                        c => push_content(c, &mut chars, &mut text),
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
                        c => push_content(c, &mut chars, &mut text),
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
