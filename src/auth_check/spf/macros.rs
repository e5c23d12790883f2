//! SPF macros (RFC 7208 §7): parsing of macro strings and their expansion. Pure: the one
//! macro that needs DNS (`%{p}`) gets its value from the caller, and only when used.

use std::fmt;
use std::net::IpAddr;

/// Longest expansion of one macro string: far above any real use, it keeps a hostile record
/// (`%{s}` repeated with a long sender) from building large strings.
pub const MAX_EXPANSION_LEN: usize = 8192;

/// A parsed macro string: literals and macros in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacroString {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `%%`, `%_` or `%-`: a fixed text, but a macro-expand for the grammar (§7.1).
    Escape(&'static str),
    Macro(Macro),
}

/// One `%{...}` macro.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Macro {
    /// The letter, lower-case.
    letter: u8,
    /// An upper-case letter asks for URL escaping.
    escape: bool,
    /// Keep this many right-hand parts (at most 255 kept; 0 = all).
    digits: usize,
    reverse: bool,
    /// The delimiters (empty: ".").
    delimiters: Vec<u8>,
}

/// A macro string that does not parse (a permerror where it appears).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError(pub String);

impl fmt::Display for MacroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid macro string: {}", self.0)
    }
}

impl std::error::Error for MacroError {}

/// The values the macros stand for (§7.2). The `p` macro is computed by the evaluator (it
/// needs DNS) and handed to [`MacroString::expand`] through a closure, asked only when used.
#[derive(Debug, Clone)]
pub struct MacroContext<'a> {
    /// `s`: the sender, `local@domain`.
    pub sender: &'a str,
    /// `l`: its local part.
    pub local: &'a str,
    /// `o`: its domain.
    pub sender_domain: &'a str,
    /// `d`: the domain being checked.
    pub domain: &'a str,
    /// `i`, `c`, `v`: the client address.
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO name.
    pub helo: &'a str,
    /// `r`: the receiving host's name (exp only).
    pub receiver: &'a str,
    /// `t`: seconds since the epoch (exp only).
    pub timestamp: u64,
}

impl MacroString {
    /// Parses a macro string (§7.1). `exp` allows the letters `c`, `r`, `t`, which are only
    /// valid in explanation text, and any visible character (explanations are free text).
    pub fn parse(s: &str, exp: bool) -> Result<MacroString, MacroError> {
        let err = || MacroError(s.to_string());
        let b = s.as_bytes();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c != b'%' {
                // macro-literal = %x21-24 / %x26-7E; explanations also hold spaces.
                let ok = (0x21..=0x7e).contains(&c) || (exp && c == b' ');
                if !ok {
                    return Err(err());
                }
                literal.push(c as char);
                i += 1;
                continue;
            }
            let escape = match b.get(i + 1) {
                Some(b'%') => "%",
                Some(b'_') => " ",
                Some(b'-') => "%20",
                Some(b'{') => {
                    let close = s[i..].find('}').ok_or_else(err)? + i;
                    let m = parse_macro(&b[i + 2..close], exp).ok_or_else(err)?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Macro(m));
                    i = close + 1;
                    continue;
                }
                _ => return Err(err()),
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Escape(escape));
            i += 2;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(MacroString { parts })
    }

    /// Whether the string ends with a macro-expand (`%{..}`, `%%`, `%_`, `%-`), which makes
    /// it a valid domain-end (§7.1).
    pub(crate) fn ends_with_macro(&self) -> bool {
        matches!(self.parts.last(), Some(Part::Macro(_) | Part::Escape(_)))
    }

    /// Whether the `p` macro is used (its value costs DNS lookups).
    pub fn uses_p(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Macro(m) if m.letter == b'p'))
    }

    /// Expands the macros; `p` is asked for the `%{p}` value when the string uses it.
    /// The result is at most [`MAX_EXPANSION_LEN`] bytes (longer is an error).
    pub fn expand(
        &self,
        ctx: &MacroContext<'_>,
        p: &mut dyn FnMut() -> String,
    ) -> Result<String, MacroError> {
        let mut out = String::new();
        let mut p_value: Option<String> = None;
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Escape(e) => out.push_str(e),
                Part::Macro(m) => {
                    let value: String = match m.letter {
                        b's' => ctx.sender.to_string(),
                        b'l' => ctx.local.to_string(),
                        b'o' => ctx.sender_domain.to_string(),
                        b'd' => ctx.domain.to_string(),
                        b'i' => dotted_ip(ctx.ip),
                        b'p' => p_value.get_or_insert_with(&mut *p).clone(),
                        b'v' => match ctx.ip {
                            IpAddr::V4(_) => "in-addr".to_string(),
                            IpAddr::V6(_) => "ip6".to_string(),
                        },
                        b'h' => ctx.helo.to_string(),
                        b'c' => ctx.ip.to_string(),
                        b'r' => ctx.receiver.to_string(),
                        b't' => ctx.timestamp.to_string(),
                        _ => return Err(MacroError(format!("%{{{}}}", m.letter as char))),
                    };
                    let value = transform(&value, m);
                    if m.escape {
                        url_escape(&value, &mut out);
                    } else {
                        out.push_str(&value);
                    }
                }
            }
            if out.len() > MAX_EXPANSION_LEN {
                return Err(MacroError("expansion too long".to_string()));
            }
        }
        Ok(out)
    }
}

/// `macro-letter transformers *delimiter` between the braces.
fn parse_macro(inner: &[u8], exp: bool) -> Option<Macro> {
    let (&first, mut rest) = inner.split_first()?;
    let letter = first.to_ascii_lowercase();
    let allowed: &[u8] = if exp { b"slodiphvcrt" } else { b"slodiphv" };
    if !allowed.contains(&letter) {
        return None;
    }
    let digits_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut digits = 0usize;
    if digits_len > 0 {
        // Saturate: more parts than a name can have means all of them.
        for &d in &rest[..digits_len] {
            digits = (digits * 10 + usize::from(d - b'0')).min(1000);
        }
        if digits == 0 {
            // RFC 7208 §7.3: the number of parts MUST be nonzero.
            return None;
        }
    }
    rest = &rest[digits_len..];
    let reverse = matches!(rest.first(), Some(b'r' | b'R'));
    if reverse {
        rest = &rest[1..];
    }
    if !rest.iter().all(|b| b".-+,/_=".contains(b)) {
        return None;
    }
    Some(Macro {
        letter,
        escape: first.is_ascii_uppercase(),
        digits,
        reverse,
        delimiters: rest.to_vec(),
    })
}

/// Splits on the delimiters, reverses, keeps the right-hand parts, joins with "." (§7.3).
fn transform(value: &str, m: &Macro) -> String {
    if m.digits == 0 && !m.reverse && m.delimiters.is_empty() {
        return value.to_string();
    }
    let delims: &[u8] = if m.delimiters.is_empty() {
        b"."
    } else {
        &m.delimiters
    };
    let mut parts: Vec<&str> = value
        .split(|c: char| c.is_ascii() && delims.contains(&(c as u8)))
        .collect();
    if m.reverse {
        parts.reverse();
    }
    if m.digits > 0 && m.digits < parts.len() {
        parts.drain(..parts.len() - m.digits);
    }
    parts.join(".")
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (§7.3).
fn url_escape(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `%{i}`: dotted quad, or 32 dot-separated nibbles for IPv6 (§7.3).
fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(63);
            for (n, byte) in v6.octets().iter().enumerate() {
                if n > 0 {
                    s.push('.');
                }
                s.push_str(&format!("{:x}.{:x}", byte >> 4, byte & 0xf));
            }
            s
        }
    }
}

/// Cuts labels off the left until the name is at most 253 octets (§4.6.4 / §7.3 note on
/// expanded domain names). A trailing dot is dropped first.
pub fn truncate_domain(name: &str) -> &str {
    let mut s = name.strip_suffix('.').unwrap_or(name);
    while s.len() > 253 {
        match s.find('.') {
            Some(i) => s = &s[i + 1..],
            None => break,
        }
    }
    s
}
