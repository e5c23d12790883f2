//! RFC 5321 paths and mailboxes, with the RFC 6531 (SMTPUTF8) extensions.
//!
//! Pure string parsing: no I/O, and no panic on any input.
//! UTF-8 is always accepted here; whether the session allows it (SMTPUTF8 given) is decided by the
//! caller through [`Mailbox::is_ascii`].

use crate::byte_search::{class, run_len};
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
/// Every byte but SP and HTAB (the bytes of [`WS`]).
static NOT_WS: [bool; 256] = class(b" \t", true);

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
        // Up to the first SP or HTAB (or the end): a byte run by table, not a char search.
        let (token, rest) = s.split_at(run_len(s.as_bytes(), &NOT_WS));
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
        cur.skip(&DOMAIN_ASCII, is_domain_char);
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
        cur.skip(&ATEXT_ASCII, is_atext);
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
    cur.skip(&DOMAIN_ASCII, is_domain_char);
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

/// The ASCII bytes of a set, as a table for [`Cursor::skip`]; no byte from 0x80 up.
const fn ascii_table(set: u128) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = set >> b & 1 != 0;
        b += 1;
    }
    t
}

/// The ASCII characters [`is_atext`] accepts.
static ATEXT_ASCII: [bool; 256] = ascii_table(ascii_set(b"!#$%&'*+-/=?^_`{|}~"));
/// The ASCII characters [`is_domain_char`] accepts.
static DOMAIN_ASCII: [bool; 256] = ascii_table(ascii_set(b"-."));

/// RFC 5321 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
fn is_atext(c: char) -> bool {
    // One bit per ASCII character: a shift, not a search of the specials.
    const ATEXT: u128 = ascii_set(b"!#$%&'*+-/=?^_`{|}~");
    match u32::from(c) {
        a @ 0..0x80 => ATEXT >> a & 1 != 0,
        _ => true,
    }
}

/// The ASCII letters and digits and `extra`, one bit per character.
const fn ascii_set(extra: &[u8]) -> u128 {
    let mut set = 0u128;
    let mut c = 0;
    while c < 128 {
        if (c as u8).is_ascii_alphanumeric() {
            set |= 1 << c;
        }
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        set |= 1 << extra[i];
        i += 1;
    }
    set
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
    const LDH_DOT: u128 = ascii_set(b"-.");
    match u32::from(c) {
        a @ 0..0x80 => LDH_DOT >> a & 1 != 0,
        _ => !c.is_whitespace() && !c.is_control(),
    }
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
        // ASCII without decoding: nearly every character of a path.
        match self.s.as_bytes().get(self.pos) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            Some(_) => self.rest().chars().next(),
            None => None,
        }
    }

    /// Advances past the characters `accept` takes, where `ascii` is what it takes of ASCII:
    /// runs of ASCII by table, a byte at a time without decoding or a compare per byte (each
    /// a traced call under the session fuzz target); others one by one.
    fn skip(&mut self, ascii: &[bool; 256], accept: impl Fn(char) -> bool) {
        loop {
            let rest = self.s.as_bytes().get(self.pos..).unwrap_or_default();
            self.pos = self.pos.wrapping_add(run_len(rest, ascii));
            match self.peek() {
                Some(c) if !c.is_ascii() && accept(c) => self.pos += c.len_utf8(),
                _ => return,
            }
        }
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
#[path = "address_tests.rs"]
mod tests;
