//! The SPF record parser (RFC 7208 §4.5, §4.6, §5, §6, §12 ABNF): pure, no DNS.
//!
//! The whole record is checked before anything is evaluated (§4.6: a syntax error anywhere is
//! a permerror), macro strings included, so evaluation only sees well-formed terms.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::macros::MacroString;

/// Largest record text [`Record::parse`] accepts: the most a DNS message can carry (the
/// evaluator's own limit, `SpfOptions::max_record_len`, is lower by default).
pub const MAX_RECORD_LEN: usize = 65_535;

/// A directive's qualifier (RFC 7208 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `+` (the default).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

/// A mechanism (RFC 7208 §5). Domain specs are kept unexpanded; `None` means the current
/// domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:<domain-spec>`.
    Include(MacroString),
    /// `a[:<domain-spec>][/<cidr4>][//<cidr6>]`.
    A {
        /// The domain to look up.
        domain: Option<MacroString>,
        /// Prefix length for IPv4 clients (default 32).
        cidr4: u8,
        /// Prefix length for IPv6 clients (default 128).
        cidr6: u8,
    },
    /// `mx[:<domain-spec>][/<cidr4>][//<cidr6>]`.
    Mx {
        /// The domain whose MX hosts are looked up.
        domain: Option<MacroString>,
        /// Prefix length for IPv4 clients (default 32).
        cidr4: u8,
        /// Prefix length for IPv6 clients (default 128).
        cidr6: u8,
    },
    /// `ptr[:<domain-spec>]`.
    Ptr(Option<MacroString>),
    /// `ip4:<network>[/<len>]`.
    Ip4 {
        /// The network address.
        addr: Ipv4Addr,
        /// The prefix length (0..=32).
        prefix: u8,
    },
    /// `ip6:<network>[/<len>]`.
    Ip6 {
        /// The network address.
        addr: Ipv6Addr,
        /// The prefix length (0..=128).
        prefix: u8,
    },
    /// `exists:<domain-spec>`.
    Exists(MacroString),
}

impl Mechanism {
    /// Whether evaluating it costs a DNS lookup that counts against the limit of 10 (§4.6.4).
    pub fn counts_as_lookup(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// A qualifier and a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier (`+` when not written).
    pub qualifier: Qualifier,
    /// The mechanism.
    pub mechanism: Mechanism,
}

/// A parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The directives in order.
    pub directives: Vec<Directive>,
    /// `redirect=` (§6.1).
    pub redirect: Option<MacroString>,
    /// `exp=` (§6.2).
    pub exp: Option<MacroString>,
}

/// Why a record does not parse (every one is a permerror).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The text does not start with `v=spf1` followed by a space or its end.
    NotSpf,
    /// Longer than [`MAX_RECORD_LEN`].
    TooLong,
    /// A character outside printable US-ASCII and space.
    NonAscii,
    /// A term that is neither a known mechanism nor a modifier.
    UnknownTerm(String),
    /// A mechanism or modifier with a malformed argument.
    BadTerm(String),
    /// `redirect=` or `exp=` written twice.
    DuplicateModifier(&'static str),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotSpf => f.write_str("not an SPF record (no v=spf1)"),
            RecordError::TooLong => write!(f, "SPF record longer than {MAX_RECORD_LEN} octets"),
            RecordError::NonAscii => {
                f.write_str("SPF record with a non-ASCII or control character")
            }
            RecordError::UnknownTerm(t) => write!(f, "unknown SPF term {t:?}"),
            RecordError::BadTerm(t) => write!(f, "malformed SPF term {t:?}"),
            RecordError::DuplicateModifier(m) => write!(f, "{m}= given more than once"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Whether a TXT string is an SPF version 1 record (§4.5): `v=spf1` (any case) followed by a
/// space or the end.
pub fn is_spf_record(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
}

impl Record {
    /// Parses a record (the TXT strings already joined).
    ///
    /// ```
    /// use smtpkit::auth_check::spf::{Mechanism, Qualifier, Record};
    /// let r = Record::parse("v=spf1 ip4:192.0.2.0/24 -all").unwrap();
    /// assert_eq!(r.directives.len(), 2);
    /// assert_eq!(r.directives[1].qualifier, Qualifier::Fail);
    /// assert_eq!(r.directives[1].mechanism, Mechanism::All);
    /// assert!(Record::parse("v=spf1 ip4:192.0.2.0/33").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Record, RecordError> {
        if text.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLong);
        }
        if !is_spf_record(text) {
            return Err(RecordError::NotSpf);
        }
        if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(RecordError::NonAscii);
        }
        let mut record = Record::default();
        // Terms are separated by one or more spaces; trailing spaces are allowed (§4.5).
        for term in text[6..].split(' ').filter(|t| !t.is_empty()) {
            parse_term(term, &mut record)?;
        }
        Ok(record)
    }
}

fn parse_term(term: &str, record: &mut Record) -> Result<(), RecordError> {
    let bad = || RecordError::BadTerm(term.to_string());
    // A modifier: name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
    if let Some(eq) = term.find('=') {
        let name = &term[..eq];
        let value = &term[eq + 1..];
        if is_modifier_name(name) {
            if name.eq_ignore_ascii_case("redirect") {
                if record.redirect.is_some() {
                    return Err(RecordError::DuplicateModifier("redirect"));
                }
                record.redirect = Some(domain_spec(value).ok_or_else(bad)?);
            } else if name.eq_ignore_ascii_case("exp") {
                if record.exp.is_some() {
                    return Err(RecordError::DuplicateModifier("exp"));
                }
                record.exp = Some(domain_spec(value).ok_or_else(bad)?);
            } else {
                // Unknown modifiers are ignored (§6), but must be valid macro strings.
                MacroString::parse(value, false).map_err(|_| bad())?;
            }
            return Ok(());
        }
    }
    let (qualifier, rest) = match term.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &term[1..]),
        b'-' => (Qualifier::Fail, &term[1..]),
        b'~' => (Qualifier::SoftFail, &term[1..]),
        b'?' => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let name_end = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, arg) = rest.split_at(name_end);
    let lower = name.to_ascii_lowercase();
    let mechanism = match lower.as_str() {
        "all" if arg.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(required_spec(arg).ok_or_else(bad)?),
        "exists" => Mechanism::Exists(required_spec(arg).ok_or_else(bad)?),
        "ptr" => Mechanism::Ptr(match arg {
            "" => None,
            _ => Some(required_spec(arg).ok_or_else(bad)?),
        }),
        "a" | "mx" => {
            let (domain, cidr4, cidr6) = domain_and_dual_cidr(arg).ok_or_else(bad)?;
            if lower == "a" {
                Mechanism::A {
                    domain,
                    cidr4,
                    cidr6,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    cidr4,
                    cidr6,
                }
            }
        }
        "ip4" => {
            let net = arg.strip_prefix(':').ok_or_else(bad)?;
            let (addr, prefix) = split_cidr(net, 32).ok_or_else(bad)?;
            Mechanism::Ip4 {
                addr: parse_ip4(addr).ok_or_else(bad)?,
                prefix,
            }
        }
        "ip6" => {
            let net = arg.strip_prefix(':').ok_or_else(bad)?;
            let (addr, prefix) = split_cidr(net, 128).ok_or_else(bad)?;
            // ip6-network is RFC 4291 text: hex, colons, and dots for an embedded IPv4.
            if !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(bad());
            }
            Mechanism::Ip6 {
                addr: addr.parse().map_err(|_| bad())?,
                prefix,
            }
        }
        "all" => return Err(bad()),
        _ => return Err(RecordError::UnknownTerm(term.to_string())),
    };
    record.directives.push(Directive {
        qualifier,
        mechanism,
    });
    Ok(())
}

fn is_modifier_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `":" domain-spec` (required).
fn required_spec(arg: &str) -> Option<MacroString> {
    domain_spec(arg.strip_prefix(':')?)
}

/// `[":" domain-spec] [dual-cidr-length]` for `a` and `mx`. The CIDR lengths are read from
/// the right, as a domain spec may hold `/` (a macro literal).
fn domain_and_dual_cidr(arg: &str) -> Option<(Option<MacroString>, u8, u8)> {
    let mut rest = arg;
    let mut cidr6 = 128;
    let mut cidr4 = 32;
    if let Some((head, len)) = split_trailing_len(rest, "//") {
        cidr6 = cidr_len(len, 128)?;
        rest = head;
    }
    if let Some((head, len)) = split_trailing_len(rest, "/") {
        cidr4 = cidr_len(len, 32)?;
        rest = head;
    }
    let domain = match rest {
        "" => None,
        _ => Some(required_spec(rest)?),
    };
    Some((domain, cidr4, cidr6))
}

/// `head sep digits` with `digits` the (possibly empty) run of digits at the end.
fn split_trailing_len<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let digits_start = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let head = s[..digits_start].strip_suffix(sep)?;
    // "a//64" read for "/" must not take the second slash of "//".
    if sep == "/" && head.ends_with('/') {
        return None;
    }
    Some((head, &s[digits_start..]))
}

/// `"0" / %x31-39 0*2DIGIT`, at most `max`.
fn cidr_len(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    let n: u8 = s.parse().ok()?;
    (n <= max).then_some(n)
}

/// `network [ "/" len ]` for ip4/ip6.
fn split_cidr(s: &str, max: u8) -> Option<(&str, u8)> {
    match s.split_once('/') {
        Some((addr, len)) => Some((addr, cidr_len(len, max)?)),
        None => Some((s, max)),
    }
}

/// A dotted quad with RFC 7208's `qnum` (no leading zeros).
fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// `domain-spec = macro-string domain-end`; `domain-end = ( "." toplabel [ "." ] ) /
/// macro-expand` (§7.1). An empty spec is not one.
pub(crate) fn domain_spec(s: &str) -> Option<MacroString> {
    let ms = MacroString::parse(s, false).ok()?;
    if !ms.ends_with_macro() && !ends_with_toplabel(s) {
        return None;
    }
    Some(ms)
}

/// Whether `s` ends with `"." toplabel [ "." ]`, toplabel = `( *alphanum ALPHA *alphanum ) /
/// ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn ends_with_toplabel(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let Some(dot) = s.rfind('.') else {
        return false;
    };
    let label = &s[dot + 1..];
    let b = label.as_bytes();
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if b.contains(&b'-') {
        // Starts and ends with alphanum; then any mix is allowed (even all digits).
        b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric()
    } else {
        b.iter().any(u8::is_ascii_alphabetic)
    }
}
