//! RFC 5321 paths and mailboxes, with the RFC 6531 (SMTPUTF8) extensions.
//!
//! Pure string parsing: no I/O, and no panic on any input.
//! UTF-8 is always accepted here; whether the session allows it (SMTPUTF8 given) is decided by the
//! caller through [`Mailbox::is_ascii`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.1.
const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2.
const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3, brackets included.
const MAX_PATH: usize = 256;
/// RFC 1035 §2.3.4, measured on the ASCII (A-label) form.
const MAX_LABEL: usize = 63;

/// What ends an unbracketed path and may follow any path: SP, and HTAB which Postfix also tolerates.
const WS: [char; 2] = [' ', '\t'];

/// A mailbox from an SMTP path: local part (unquoted, semantic form) and domain
/// (a domain name, possibly UTF-8, or an address literal kept with its brackets, e.g. `"[192.0.2.1]"`
/// or `"[IPv6:2001:db8::1]"`). The domain is empty only for the special recipient `<Postmaster>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part with quotes and escapes removed (`"john\ doe"` becomes `john doe`).
    pub local_part: String,
    /// The domain as written, or an address literal with its brackets; empty for `<Postmaster>`.
    pub domain: String,
}

impl Mailbox {
    /// Parses `local@domain` (no angle brackets). Quoted local parts with escapes ("john\ doe"@x, "a\"b"@x) allowed.
    ///
    /// The RFC 5321 length limits on the local part (64) and domain (255) are enforced.
    pub fn parse(s: &str) -> Result<Mailbox, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let mut cur = Cursor::new(s);
        parse_mailbox(&mut cur, &PathOptions::default(), false, &[])
    }

    /// True when local part and domain are ASCII (else SMTPUTF8 is needed).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

/// Formats back to RFC 5321 syntax, quoting the local part only when it is not a dot-string.
/// The `<Postmaster>` case (empty domain) displays as the bare local part.
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_string(&self.local_part) {
            f.write_str(&self.local_part)?;
        } else {
            f.write_str("\"")?;
            for c in self.local_part.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        if !self.domain.is_empty() {
            write!(f, "@{}", self.domain)?;
        }
        Ok(())
    }
}

/// Why a path or mailbox was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing where a path or mailbox was expected.
    Empty,
    /// No opening `<` (and unbracketed paths are not allowed), or no closing `>`.
    MissingBracket,
    /// The null path `<>` where a mailbox is required (RCPT TO).
    NullNotAllowed,
    /// A malformed source route (`@a,@b:`) before the mailbox.
    BadRoute,
    /// The local part is neither a dot-string nor a quoted string.
    BadLocalPart,
    /// A quoted local part without its closing `"`.
    UnterminatedQuote,
    /// No `@` between local part and domain.
    MissingAt,
    /// The domain is not a valid name (bad character, empty or over-long label, trailing dot).
    BadDomain,
    /// A `[...]` address literal that is not a valid IPv4, IPv6 or general literal.
    BadAddressLiteral,
    /// The local part is over 64 octets (strict lengths only).
    LocalPartTooLong,
    /// The domain is over 255 octets (strict lengths only).
    DomainTooLong,
    /// The path is over 256 octets, brackets included (strict lengths only).
    PathTooLong,
    /// Something other than a space or the end of input follows the closing `>`.
    JunkAfterPath,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressError::Empty => "empty address",
            AddressError::MissingBracket => "missing angle bracket",
            AddressError::NullNotAllowed => "null path not allowed here",
            AddressError::BadRoute => "malformed source route",
            AddressError::BadLocalPart => "malformed local part",
            AddressError::UnterminatedQuote => "unterminated quoted local part",
            AddressError::MissingAt => "missing @ between local part and domain",
            AddressError::BadDomain => "malformed domain",
            AddressError::BadAddressLiteral => "malformed address literal",
            AddressError::LocalPartTooLong => "local part longer than 64 octets",
            AddressError::DomainTooLong => "domain longer than 255 octets",
            AddressError::PathTooLong => "path longer than 256 octets",
            AddressError::JunkAfterPath => "unexpected characters after the path",
        })
    }
}

impl std::error::Error for AddressError {}

/// Options for path parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathOptions {
    /// Enforce RFC 5321 §4.5.3.1 lengths: local part 64, domain 255, path 256 (incl. brackets). Default true.
    pub strict_lengths: bool,
    /// Accept a path without angle brackets (`MAIL FROM:a@b`), as Postfix does by default. Default true.
    pub allow_unbracketed: bool,
}

impl Default for PathOptions {
    fn default() -> Self {
        PathOptions {
            strict_lengths: true,
            allow_unbracketed: true,
        }
    }
}

/// Parses a reverse-path (MAIL FROM argument) at the start of `s`: `<>` gives Ok((None, rest)).
/// Returns the mailbox and the rest of `s` after the path (leading spaces not yet stripped).
///
/// The rest is always empty or starts with a space or tab; anything else right after the path is
/// [`AddressError::JunkAfterPath`].
pub fn parse_reverse_path<'a>(
    s: &'a str,
    opts: &PathOptions,
) -> Result<(Option<Mailbox>, &'a str), AddressError> {
    parse_path(s, opts, false)
}

/// Parses a forward-path (RCPT TO argument): `<>` is an error; `<Postmaster>` (any case, no domain) is allowed
/// and yields Mailbox { local_part: "Postmaster" (as written), domain: "" }.
///
/// The rest is always empty or starts with a space or tab, as for [`parse_reverse_path`].
pub fn parse_forward_path<'a>(
    s: &'a str,
    opts: &PathOptions,
) -> Result<(Mailbox, &'a str), AddressError> {
    match parse_path(s, opts, true)? {
        (Some(mailbox), rest) => Ok((mailbox, rest)),
        (None, _) => Err(AddressError::NullNotAllowed),
    }
}

/// Shared body of the two path parsers; `forward` allows `<Postmaster>`.
fn parse_path<'a>(
    s: &'a str,
    opts: &PathOptions,
    forward: bool,
) -> Result<(Option<Mailbox>, &'a str), AddressError> {
    let (mailbox, path_len, rest) = if let Some(inner) = s.strip_prefix('<') {
        let mut cur = Cursor::new(inner);
        let mailbox = if cur.eat('>') {
            None
        } else if cur.peek().is_none() {
            return Err(AddressError::MissingBracket);
        } else {
            let mailbox = parse_route_and_mailbox(&mut cur, opts, forward, &['>'])?;
            if !cur.eat('>') {
                // parse_mailbox only stops before '>' or at the end of input.
                return Err(AddressError::MissingBracket);
            }
            Some(mailbox)
        };
        (mailbox, cur.pos + 1, cur.rest())
    } else if s.is_empty() || s.starts_with(WS) {
        return Err(AddressError::Empty);
    } else if opts.allow_unbracketed {
        let (token, rest) = s.split_at(s.find(WS).unwrap_or(s.len()));
        let mut cur = Cursor::new(token);
        let mailbox = parse_route_and_mailbox(&mut cur, opts, forward, &[])?;
        // Counted as if it had been bracketed, so both forms share one limit.
        (Some(mailbox), token.len() + 2, rest)
    } else {
        return Err(AddressError::MissingBracket);
    };
    if opts.strict_lengths && path_len > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    if !(rest.is_empty() || rest.starts_with(WS)) {
        return Err(AddressError::JunkAfterPath);
    }
    Ok((mailbox, rest))
}

/// `[A-d-l ":"] Mailbox`; the source route is checked and dropped (RFC 5321 §4.1.2, Appendix C).
fn parse_route_and_mailbox(
    cur: &mut Cursor<'_>,
    opts: &PathOptions,
    forward: bool,
    stops: &[char],
) -> Result<Mailbox, AddressError> {
    let routed = skip_route(cur)?;
    // `<Postmaster>` is special only when written alone.
    parse_mailbox(cur, opts, forward && !routed, stops)
}

/// Skips `@dom1,@dom2:` if present; returns whether there was one.
fn skip_route(cur: &mut Cursor<'_>) -> Result<bool, AddressError> {
    if cur.peek() != Some('@') {
        return Ok(false);
    }
    loop {
        if !cur.eat('@') {
            return Err(AddressError::BadRoute);
        }
        let start = cur.pos;
        while cur.peek().is_some_and(is_domain_char) {
            cur.bump();
        }
        // At-domain = "@" Domain: names only, no address literals.
        if !is_valid_domain_name(cur.since(start)) {
            return Err(AddressError::BadRoute);
        }
        match cur.bump() {
            Some(',') => {}
            Some(':') => return Ok(true),
            _ => return Err(AddressError::BadRoute),
        }
    }
}

/// Parses `local@domain`, which must be followed by the end of input or one of `stops`.
fn parse_mailbox(
    cur: &mut Cursor<'_>,
    opts: &PathOptions,
    allow_postmaster: bool,
    stops: &[char],
) -> Result<Mailbox, AddressError> {
    let start = cur.pos;
    let local_part = parse_local_part(cur)?;
    let raw_local = cur.since(start);
    if opts.strict_lengths && raw_local.len() > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong);
    }
    if !cur.eat('@') {
        if !at_stop(cur, stops) {
            return Err(AddressError::BadLocalPart);
        }
        if allow_postmaster && raw_local.eq_ignore_ascii_case("postmaster") {
            return Ok(Mailbox {
                local_part,
                domain: String::new(),
            });
        }
        return Err(AddressError::MissingAt);
    }
    let domain = parse_domain(cur, stops)?;
    if opts.strict_lengths && domain.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    Ok(Mailbox { local_part, domain })
}

/// Dot-string or quoted string; returns the semantic (unquoted, unescaped) form.
fn parse_local_part(cur: &mut Cursor<'_>) -> Result<String, AddressError> {
    if cur.eat('"') {
        let mut text = String::new();
        loop {
            match cur.bump() {
                None => return Err(AddressError::UnterminatedQuote),
                Some('"') => return Ok(text),
                Some('\\') => match cur.bump() {
                    None => return Err(AddressError::UnterminatedQuote),
                    // quoted-pairSMTP: backslash then printable ASCII only.
                    Some(c @ ' '..='~') => text.push(c),
                    Some(_) => return Err(AddressError::BadLocalPart),
                },
                Some(c) if is_qtext(c) => text.push(c),
                Some(_) => return Err(AddressError::BadLocalPart),
            }
        }
    }
    let start = cur.pos;
    loop {
        let atom_start = cur.pos;
        while cur.peek().is_some_and(is_atext) {
            cur.bump();
        }
        // Covers an empty local part, a leading or trailing dot and "..".
        if cur.pos == atom_start {
            return Err(AddressError::BadLocalPart);
        }
        if !cur.eat('.') {
            return Ok(cur.since(start).to_owned());
        }
    }
}

/// Domain name or address literal, returned as written.
fn parse_domain(cur: &mut Cursor<'_>, stops: &[char]) -> Result<String, AddressError> {
    let start = cur.pos;
    if cur.eat('[') {
        let content_start = cur.pos;
        while cur.peek().is_some_and(|c| c != ']') {
            cur.bump();
        }
        let content = cur.since(content_start);
        if !cur.eat(']') || !is_valid_literal(content) || !at_stop(cur, stops) {
            return Err(AddressError::BadAddressLiteral);
        }
        return Ok(cur.since(start).to_owned());
    }
    while cur.peek().is_some_and(is_domain_char) {
        cur.bump();
    }
    let name = cur.since(start);
    if !is_valid_domain_name(name) || !at_stop(cur, stops) {
        return Err(AddressError::BadDomain);
    }
    Ok(name.to_owned())
}

/// True at the end of input or before one of `stops`.
fn at_stop(cur: &Cursor<'_>, stops: &[char]) -> bool {
    cur.peek().is_none_or(|c| stops.contains(&c))
}

/// RFC 5321 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// RFC 5321 qtextSMTP, plus any non-ASCII character (RFC 6531).
fn is_qtext(c: char) -> bool {
    matches!(c, ' '..='!' | '#'..='[' | ']'..='~') || !c.is_ascii()
}

fn is_dot_string(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// Characters that may appear in a domain name. Non-ASCII is taken as part of a U-label without
/// IDNA validation (that needs Unicode tables std does not have); only whitespace and controls,
/// which can never be valid, are refused.
fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '-'
        || c == '.'
        || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
}

/// sub-domain *("." sub-domain): non-empty labels, no hyphen at either end, label ≤ 63 octets
/// in A-label form. The caller has already restricted the characters.
fn is_valid_domain_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label_ascii_len(label).is_some_and(|n| n <= MAX_LABEL)
        })
}

/// Length the label has in DNS: itself when ASCII, else "xn--" plus its Punycode (RFC 3492).
/// None means "too long to bother".
fn label_ascii_len(label: &str) -> Option<usize> {
    if label.is_ascii() {
        return Some(label.len());
    }
    // Punycode emits at least one character per input character, so this bounds the work.
    if label.chars().count() > MAX_LABEL {
        return None;
    }
    punycode_len(label).map(|n| n + 4)
}

/// Number of characters the RFC 3492 encoder would output for `label` (section 6.3, counting
/// instead of emitting). Checked arithmetic: None on overflow.
fn punycode_len(label: &str) -> Option<usize> {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    let code_points: Vec<u32> = label.chars().map(u32::from).collect();
    let basic = code_points.iter().filter(|&&c| c < 0x80).count();
    let mut len = basic + usize::from(basic > 0);
    let mut n: u32 = 0x80;
    let mut delta: u32 = 0;
    let mut bias: u32 = 72;
    let mut handled = basic;
    while handled < code_points.len() {
        let m = code_points.iter().copied().filter(|&c| c >= n).min()?;
        let points = u32::try_from(handled + 1).ok()?;
        delta = delta.checked_add((m - n).checked_mul(points)?)?;
        n = m;
        for &c in &code_points {
            if c < n {
                delta = delta.checked_add(1)?;
            } else if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    len += 1;
                    q = (q - t) / (BASE - t);
                    k = k.checked_add(BASE)?;
                }
                len += 1;
                let points = u32::try_from(handled + 1).ok()?;
                bias = punycode_adapt(delta, points, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(len)
}

/// RFC 3492 §6.1 bias adaptation.
fn punycode_adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > (35 * 26) / 2 {
        delta /= 35;
        k += 36;
    }
    k + (36 * delta) / (delta + 38)
}

/// Content of `[...]`: IPv4, `IPv6:` + IPv6 (tag case-insensitive), or `tag:dcontent`.
fn is_valid_literal(content: &str) -> bool {
    match content.split_once(':') {
        None => content.parse::<Ipv4Addr>().is_ok(),
        Some((tag, addr)) if tag.eq_ignore_ascii_case("IPv6") => addr.parse::<Ipv6Addr>().is_ok(),
        Some((tag, value)) => {
            // Standardized-tag = Ldh-str; dcontent = %d33-90 / %d94-126.
            !tag.is_empty()
                && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !tag.ends_with('-')
                && !value.is_empty()
                && value.chars().all(|c| matches!(c, '!'..='Z' | '^'..='~'))
        }
    }
}

/// A position in a string that only ever moves by whole characters, so every slice it takes
/// lies on char boundaries.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or_default()
    }

    fn since(&self, start: usize) -> &'a str {
        self.s.get(start..self.pos).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: PathOptions = PathOptions {
        strict_lengths: true,
        allow_unbracketed: true,
    };
    const LENIENT: PathOptions = PathOptions {
        strict_lengths: false,
        allow_unbracketed: true,
    };
    const BRACKETS_ONLY: PathOptions = PathOptions {
        strict_lengths: true,
        allow_unbracketed: false,
    };

    fn mb(local: &str, domain: &str) -> Mailbox {
        Mailbox {
            local_part: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    fn fwd(s: &str) -> Result<Mailbox, AddressError> {
        parse_forward_path(s, &STRICT).map(|(m, _)| m)
    }

    fn rev(s: &str) -> Result<Option<Mailbox>, AddressError> {
        parse_reverse_path(s, &STRICT).map(|(m, _)| m)
    }

    /// A domain of exactly `len` octets made of labels of at most 63 "a"s.
    fn domain_of_len(len: usize) -> String {
        let mut labels = Vec::new();
        let mut left = len;
        while left > 0 {
            // Leave at least 2 octets (".a") for the next label, never a 0-length label.
            let take = if left <= 63 { left } else { 63.min(left - 2) };
            labels.push("a".repeat(take));
            left -= take;
            left = left.saturating_sub(1);
        }
        let d = labels.join(".");
        assert_eq!(d.len(), len);
        d
    }

    #[test]
    fn default_options() {
        assert_eq!(PathOptions::default(), STRICT);
    }

    #[test]
    fn simple_mailboxes() {
        assert_eq!(
            Mailbox::parse("user@example.com"),
            Ok(mb("user", "example.com"))
        );
        assert_eq!(Mailbox::parse("a.b+c@x"), Ok(mb("a.b+c", "x")));
        assert_eq!(
            Mailbox::parse("!#$%&'*+-/=?^_`{|}~@example.org"),
            Ok(mb("!#$%&'*+-/=?^_`{|}~", "example.org"))
        );
        assert_eq!(Mailbox::parse("u@a-b.c1.2d"), Ok(mb("u", "a-b.c1.2d")));
        assert_eq!(Mailbox::parse("u@123"), Ok(mb("u", "123")));
    }

    #[test]
    fn bad_mailboxes() {
        assert_eq!(Mailbox::parse(""), Err(AddressError::Empty));
        assert_eq!(Mailbox::parse("user"), Err(AddressError::MissingAt));
        assert_eq!(
            Mailbox::parse("@example.com"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(Mailbox::parse(".a@x"), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse("a.@x"), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse("a..b@x"), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse("a b@x"), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse("a(b)@x"), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse("a@"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@b@c"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x."), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@.x"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x..y"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@-x.com"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x-.com"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x_y.com"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x y"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x\u{3000}y"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("a@x\u{85}y"), Err(AddressError::BadDomain));
        assert_eq!(Mailbox::parse("<a@x>"), Err(AddressError::BadLocalPart));
    }

    #[test]
    fn quoted_local_parts() {
        assert_eq!(Mailbox::parse(r#""john\ doe"@x"#), Ok(mb("john doe", "x")));
        assert_eq!(Mailbox::parse(r#""a\"b"@x"#), Ok(mb("a\"b", "x")));
        assert_eq!(Mailbox::parse(r#""a\\b"@x"#), Ok(mb("a\\b", "x")));
        assert_eq!(Mailbox::parse(r#""john doe"@x"#), Ok(mb("john doe", "x")));
        assert_eq!(Mailbox::parse(r#""a@b"@x"#), Ok(mb("a@b", "x")));
        assert_eq!(Mailbox::parse(r#""a.b"@x"#), Ok(mb("a.b", "x")));
        assert_eq!(Mailbox::parse(r#""..."@x"#), Ok(mb("...", "x")));
        assert_eq!(Mailbox::parse(r#""\a"@x"#), Ok(mb("a", "x")));
        assert_eq!(Mailbox::parse("\"\"@x"), Ok(mb("", "x")));
        assert_eq!(Mailbox::parse("\"jörg\"@x"), Ok(mb("jörg", "x")));
        assert_eq!(
            Mailbox::parse(r#""abc"#),
            Err(AddressError::UnterminatedQuote)
        );
        assert_eq!(
            Mailbox::parse(r#""abc\"#),
            Err(AddressError::UnterminatedQuote)
        );
        assert_eq!(
            Mailbox::parse(r#""abc\"@x"#),
            Err(AddressError::UnterminatedQuote)
        );
        assert_eq!(
            Mailbox::parse("\"a\tb\"@x"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(
            Mailbox::parse("\"a\\\tb\"@x"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(
            Mailbox::parse("\"a\\éb\"@x"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(
            Mailbox::parse("\"a\0b\"@x"),
            Err(AddressError::BadLocalPart)
        );
        assert_eq!(Mailbox::parse(r#""a"b@x"#), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse(r#"a"b"@x"#), Err(AddressError::BadLocalPart));
        assert_eq!(Mailbox::parse(r#""a""#), Err(AddressError::MissingAt));
    }

    #[test]
    fn utf8_mailboxes() {
        let m = Mailbox::parse("用户@例子.广告").unwrap();
        assert_eq!(m, mb("用户", "例子.广告"));
        assert!(!m.is_ascii());
        assert_eq!(
            Mailbox::parse("jörg@müller.de"),
            Ok(mb("jörg", "müller.de"))
        );
        assert!(!mb("a", "müller.de").is_ascii());
        assert!(!mb("jörg", "x").is_ascii());
        assert!(mb("a", "x").is_ascii());
        assert_eq!(
            Mailbox::parse("δοκιμή@παράδειγμα.δοκιμή")
                .unwrap()
                .local_part,
            "δοκιμή"
        );
        assert_eq!(
            Mailbox::parse("a@xn--mnchen-3ya.de"),
            Ok(mb("a", "xn--mnchen-3ya.de"))
        );
    }

    #[test]
    fn address_literals() {
        assert_eq!(Mailbox::parse("a@[192.0.2.1]"), Ok(mb("a", "[192.0.2.1]")));
        assert_eq!(
            Mailbox::parse("a@[IPv6:2001:db8::1]"),
            Ok(mb("a", "[IPv6:2001:db8::1]"))
        );
        assert_eq!(Mailbox::parse("a@[ipv6:::1]"), Ok(mb("a", "[ipv6:::1]")));
        assert_eq!(
            Mailbox::parse("a@[IPv6:::ffff:192.0.2.1]"),
            Ok(mb("a", "[IPv6:::ffff:192.0.2.1]"))
        );
        assert_eq!(
            Mailbox::parse("a@[x-tag:some~thing]"),
            Ok(mb("a", "[x-tag:some~thing]"))
        );
        for bad in [
            "a@[]",
            "a@[192.0.2]",
            "a@[192.0.2.256]",
            "a@[192.0.2.1.5]",
            "a@[192.000.002.001]",
            "a@[ 192.0.2.1]",
            "a@[IPv6:2001:db8::g]",
            "a@[IPv6:2001:db8:::1]",
            "a@[IPv6:1:2:3:4:5:6:7:8:9]",
            "a@[IPv6:192.0.2.1]",
            "a@[IPv6:]",
            "a@[:x]",
            "a@[tag-:x]",
            "a@[ta_g:x]",
            "a@[tag:]",
            "a@[tag:a b]",
            "a@[tag:a\\b]",
            "a@[tag:a[b]",
            "a@[tag:é]",
            "a@[192.0.2.1",
            "a@[192.0.2.1]x",
            "a@[192.0.2.1].com",
            "a@x[192.0.2.1]",
        ] {
            let expected = if bad == "a@x[192.0.2.1]" {
                AddressError::BadDomain
            } else {
                AddressError::BadAddressLiteral
            };
            assert_eq!(Mailbox::parse(bad), Err(expected), "{bad}");
        }
        assert_eq!(
            fwd("<a@[IPv6:2001:db8::1]> X"),
            Ok(mb("a", "[IPv6:2001:db8::1]"))
        );
        assert_eq!(
            fwd("<a@[IPv6:2001:db8::1>"),
            Err(AddressError::BadAddressLiteral)
        );
        assert_eq!(fwd("<a@[1.2.3.4]x>"), Err(AddressError::BadAddressLiteral));
    }

    #[test]
    fn reverse_paths() {
        assert_eq!(parse_reverse_path("<>", &STRICT), Ok((None, "")));
        assert_eq!(
            parse_reverse_path("<> SIZE=10", &STRICT),
            Ok((None, " SIZE=10"))
        );
        assert_eq!(
            parse_reverse_path("<a@b> SIZE=10 BODY=8BITMIME", &STRICT),
            Ok((Some(mb("a", "b")), " SIZE=10 BODY=8BITMIME"))
        );
        assert_eq!(rev("<a@b>"), Ok(Some(mb("a", "b"))));
        assert_eq!(rev("<Postmaster>"), Err(AddressError::MissingAt));
        assert_eq!(rev("<a@b"), Err(AddressError::MissingBracket));
        assert_eq!(rev("<"), Err(AddressError::MissingBracket));
        assert_eq!(rev("<a"), Err(AddressError::MissingAt));
        assert_eq!(rev("<a@b>x"), Err(AddressError::JunkAfterPath));
        assert_eq!(rev("<a@b>>"), Err(AddressError::JunkAfterPath));
        assert_eq!(rev("<a@b> "), Ok(Some(mb("a", "b"))));
        assert_eq!(rev("<a@b>\tX"), Ok(Some(mb("a", "b"))));
        assert_eq!(rev("< a@b>"), Err(AddressError::BadLocalPart));
        assert_eq!(rev("<a@b >"), Err(AddressError::BadDomain));
        assert_eq!(rev("<a@b,c>"), Err(AddressError::BadDomain));
        assert_eq!(rev(""), Err(AddressError::Empty));
        assert_eq!(rev(" <a@b>"), Err(AddressError::Empty));
        assert_eq!(rev(r#"<"a>b"@x>"#), Ok(Some(mb("a>b", "x"))));
        assert_eq!(rev(r#"<"john\ doe"@x>"#), Ok(Some(mb("john doe", "x"))));
        assert_eq!(rev("<jörg@bücher.de>"), Ok(Some(mb("jörg", "bücher.de"))));
    }

    #[test]
    fn junk_after_null_path() {
        assert_eq!(rev("<>x"), Err(AddressError::JunkAfterPath));
    }

    #[test]
    fn forward_paths_and_postmaster() {
        assert_eq!(
            parse_forward_path("<a@b> NOTIFY=NEVER", &STRICT),
            Ok((mb("a", "b"), " NOTIFY=NEVER"))
        );
        assert_eq!(fwd("<>"), Err(AddressError::NullNotAllowed));
        assert_eq!(fwd("<Postmaster>"), Ok(mb("Postmaster", "")));
        assert_eq!(fwd("<postmaster>"), Ok(mb("postmaster", "")));
        assert_eq!(fwd("<POSTMASTER>"), Ok(mb("POSTMASTER", "")));
        assert_eq!(
            fwd("<Postmaster@example.com>"),
            Ok(mb("Postmaster", "example.com"))
        );
        assert_eq!(fwd("Postmaster"), Ok(mb("Postmaster", "")));
        assert_eq!(fwd("<\"Postmaster\">"), Err(AddressError::MissingAt));
        assert_eq!(fwd("<@a.example:Postmaster>"), Err(AddressError::MissingAt));
        assert_eq!(fwd("<Postmaste>"), Err(AddressError::MissingAt));
        assert_eq!(fwd("<Postmaster"), Err(AddressError::MissingBracket));
        assert_eq!(fwd("<Postmaster x>"), Err(AddressError::BadLocalPart));
        assert_eq!(mb("Postmaster", "").to_string(), "Postmaster");
    }

    #[test]
    fn source_routes_are_dropped() {
        assert_eq!(
            fwd("<@a.example,@b.example:user@c.example>"),
            Ok(mb("user", "c.example"))
        );
        assert_eq!(
            fwd("<@a.example:user@c.example>"),
            Ok(mb("user", "c.example"))
        );
        assert_eq!(
            rev("<@a.example:user@c.example>"),
            Ok(Some(mb("user", "c.example")))
        );
        assert_eq!(
            fwd("@a.example:user@c.example"),
            Ok(mb("user", "c.example"))
        );
        for bad in [
            "<@a.example>",
            "<@:user@c>",
            "<@a..b:user@c>",
            "<@a,b:user@c>",
            "<@a,:user@c>",
            "<@a;user@c>",
            "<@[1.2.3.4]:user@c>",
            "<@a.example",
        ] {
            assert_eq!(fwd(bad), Err(AddressError::BadRoute), "{bad}");
        }
        assert_eq!(fwd("<@a:>"), Err(AddressError::BadLocalPart));
    }

    #[test]
    fn unbracketed_form() {
        assert_eq!(
            parse_reverse_path("a@b SIZE=1", &STRICT),
            Ok((Some(mb("a", "b")), " SIZE=1"))
        );
        assert_eq!(parse_forward_path("a@b", &STRICT), Ok((mb("a", "b"), "")));
        assert_eq!(fwd("a@b>"), Err(AddressError::BadDomain));
        assert_eq!(fwd(r#""a b"@c"#), Err(AddressError::UnterminatedQuote));
        assert_eq!(
            parse_forward_path("a@b", &BRACKETS_ONLY),
            Err(AddressError::MissingBracket)
        );
        assert_eq!(
            parse_reverse_path("<a@b>", &BRACKETS_ONLY),
            Ok((Some(mb("a", "b")), ""))
        );
    }

    #[test]
    fn local_part_length_boundary() {
        let ok = format!("<{}@x>", "a".repeat(64));
        let long = format!("<{}@x>", "a".repeat(65));
        assert!(fwd(&ok).is_ok());
        assert_eq!(fwd(&long), Err(AddressError::LocalPartTooLong));
        assert!(parse_forward_path(&long, &LENIENT).is_ok());
        // Counted as sent, quotes and escapes included.
        let quoted = format!("<\"{}\"@x>", "a".repeat(62));
        assert!(fwd(&quoted).is_ok());
        let quoted = format!("<\"{}\\ \"@x>", "a".repeat(61));
        assert_eq!(fwd(&quoted), Err(AddressError::LocalPartTooLong));
        assert_eq!(
            Mailbox::parse(&format!("{}@x", "a".repeat(65))),
            Err(AddressError::LocalPartTooLong)
        );
    }

    #[test]
    fn domain_length_boundary() {
        let d255 = domain_of_len(255);
        let d256 = domain_of_len(256);
        assert_eq!(Mailbox::parse(&format!("a@{d255}")), Ok(mb("a", &d255)));
        assert_eq!(
            Mailbox::parse(&format!("a@{d256}")),
            Err(AddressError::DomainTooLong)
        );
        assert_eq!(
            fwd(&format!("<a@{d256}>")),
            Err(AddressError::DomainTooLong)
        );
        // A 255-octet domain fits the domain limit but not the 256-octet path.
        assert_eq!(fwd(&format!("<a@{d255}>")), Err(AddressError::PathTooLong));
        assert!(parse_forward_path(&format!("<a@{d256}>"), &LENIENT).is_ok());
    }

    #[test]
    fn path_length_boundary() {
        let local = "a".repeat(64);
        // "<" + 64 + "@" + domain + ">" = 256
        let d = domain_of_len(256 - 67);
        let ok = format!("<{local}@{d}>");
        assert_eq!(ok.len(), 256);
        assert!(fwd(&ok).is_ok());
        let d = domain_of_len(257 - 67);
        let long = format!("<{local}@{d}>");
        assert_eq!(long.len(), 257);
        assert_eq!(fwd(&long), Err(AddressError::PathTooLong));
        assert!(parse_forward_path(&long, &LENIENT).is_ok());
        // Unbracketed: counted as if bracketed.
        assert!(fwd(&ok[1..ok.len() - 1]).is_ok());
        assert_eq!(
            fwd(&long[1..long.len() - 1]),
            Err(AddressError::PathTooLong)
        );
        // The route counts towards the path.
        let routed = format!("<@rr:{}@{}>", "a".repeat(60), domain_of_len(189));
        assert_eq!(routed.len(), 256);
        assert!(fwd(&routed).is_ok());
        let routed = format!("<@rrr:{}@{}>", "a".repeat(60), domain_of_len(189));
        assert_eq!(fwd(&routed), Err(AddressError::PathTooLong));
    }

    #[test]
    fn label_length() {
        let ok = format!("a@{}.com", "b".repeat(63));
        let long = format!("a@{}.com", "b".repeat(64));
        assert!(Mailbox::parse(&ok).is_ok());
        assert_eq!(Mailbox::parse(&long), Err(AddressError::BadDomain));
        // The label limit is a DNS rule, so it holds in lenient mode too.
        assert_eq!(
            parse_forward_path(&long, &LENIENT),
            Err(AddressError::BadDomain)
        );
        // U-labels are measured in A-label form, not in UTF-8 octets: 30 x U+65E5 is 90 octets
        // but a short A-label.
        assert!(Mailbox::parse(&format!("a@{}.jp", "日".repeat(30))).is_ok());
        // 40 consecutive CJK characters: 120 octets, A-label of 61.
        let close: String = (0x4E00..0x4E28).filter_map(char::from_u32).collect();
        assert_eq!(label_ascii_len(&close), Some(61));
        assert!(Mailbox::parse(&format!("a@{close}.cn")).is_ok());
        // 20 scattered ones: only 60 octets, but an A-label of 64.
        let scattered: String = (0..20)
            .filter_map(|i| char::from_u32(0x4E00 + i * 997))
            .collect();
        assert_eq!(scattered.len(), 60);
        assert_eq!(label_ascii_len(&scattered), Some(64));
        assert_eq!(
            Mailbox::parse(&format!("a@{scattered}.cn")),
            Err(AddressError::BadDomain)
        );
    }

    #[test]
    fn punycode_lengths_match_known_encodings() {
        let cases: [(&str, &str); 5] = [
            ("münchen", "mnchen-3ya"),
            ("bücher", "bcher-kva"),
            ("日本語", "wgv71a119e"),
            ("テスト", "zckzah"),
            ("中国", "fiqs8s"),
        ];
        for (label, encoded) in cases {
            assert_eq!(punycode_len(label), Some(encoded.len()), "{label}");
        }
        // RFC 3492 §7.1 samples (B) and (L).
        let chinese: String = [
            0x4ED6, 0x4EEC, 0x4E3A, 0x4EC0, 0x4E48, 0x4E0D, 0x8BF4, 0x4E2D, 0x6587,
        ]
        .into_iter()
        .filter_map(char::from_u32)
        .collect();
        assert_eq!(
            punycode_len(&chinese),
            Some("ihqwcrb4cv8a8dqg056pqjye".len())
        );
        let mixed: String = [0x33, 0x5E74, 0x42, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F]
            .into_iter()
            .filter_map(char::from_u32)
            .collect();
        assert_eq!(punycode_len(&mixed), Some("3B-ww4c5e180e575a65lsy2b".len()));
        assert!(punycode_len("\u{10FFFF}\u{80}a").is_some());
    }

    #[test]
    fn display_quotes_only_when_needed() {
        assert_eq!(mb("user", "example.com").to_string(), "user@example.com");
        assert_eq!(mb("a.b", "x").to_string(), "a.b@x");
        assert_eq!(mb("john doe", "x").to_string(), r#""john doe"@x"#);
        assert_eq!(mb("a\"b", "x").to_string(), r#""a\"b"@x"#);
        assert_eq!(mb("a\\b", "x").to_string(), r#""a\\b"@x"#);
        assert_eq!(mb("a..b", "x").to_string(), r#""a..b"@x"#);
        assert_eq!(mb(".a", "x").to_string(), r#"".a"@x"#);
        assert_eq!(mb("", "x").to_string(), r#"""@x"#);
        assert_eq!(mb("jörg", "müller.de").to_string(), "jörg@müller.de");
        assert_eq!(mb("a", "[192.0.2.1]").to_string(), "a@[192.0.2.1]");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            r#""john\ doe"@x"#,
            r#""a\"b"@x"#,
            r#""a\\b"@x"#,
            r#""a@b"@x"#,
            "\"\"@x",
            "plain@x.y",
            "jörg@müller.de",
            "a@[IPv6:2001:db8::1]",
        ] {
            let m = Mailbox::parse(s).unwrap();
            assert_eq!(Mailbox::parse(&m.to_string()), Ok(m.clone()), "{s}");
        }
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            AddressError::MissingAt.to_string(),
            "missing @ between local part and domain"
        );
        let e: Box<dyn std::error::Error> = Box::new(AddressError::BadDomain);
        assert_eq!(e.to_string(), "malformed domain");
    }

    /// Every prefix and every single-character corruption of some valid paths: no panic, and
    /// whatever is accepted displays to something that parses back to the same mailbox.
    #[test]
    fn mutated_paths_never_panic() {
        let seeds = [
            "<user@example.com> SIZE=1",
            r#"<"john\ doe"@x.example>"#,
            "<@a.example,@b.example:user@c.example>",
            "<a@[IPv6:2001:db8::1]>",
            "<a@[192.0.2.1]>",
            "<a@[tag:val]>",
            "<jörg@bücher.de>",
            "<用户@例子.广告>",
            "<Postmaster>",
            "<>",
            "a@b.c",
        ];
        let subs = [
            '<',
            '>',
            '@',
            '"',
            '\\',
            '.',
            ',',
            ':',
            '[',
            ']',
            ' ',
            '\t',
            '\0',
            'é',
            '日',
            '-',
            'a',
            '\u{10FFFF}',
        ];
        let mut inputs = Vec::new();
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            for i in 0..=chars.len() {
                inputs.push(chars[..i].iter().collect::<String>());
                if i < chars.len() {
                    let mut deleted = chars.clone();
                    deleted.remove(i);
                    inputs.push(deleted.into_iter().collect());
                    for &sub in &subs {
                        let mut changed = chars.clone();
                        changed[i] = sub;
                        inputs.push(changed.iter().collect());
                        changed.insert(i, sub);
                        inputs.push(changed.into_iter().collect());
                    }
                }
            }
        }
        for input in &inputs {
            for opts in [STRICT, LENIENT, BRACKETS_ONLY] {
                let reverse = parse_reverse_path(input, &opts);
                let forward = parse_forward_path(input, &opts);
                for m in [reverse.ok().and_then(|r| r.0), forward.ok().map(|r| r.0)]
                    .into_iter()
                    .flatten()
                {
                    // Mailbox::parse applies strict lengths, so only strict results must round-trip.
                    if !m.domain.is_empty() && opts.strict_lengths {
                        assert_eq!(Mailbox::parse(&m.to_string()), Ok(m.clone()), "{input:?}");
                    }
                }
            }
            let _ = Mailbox::parse(input).map(|m| m.to_string());
        }
    }
}
