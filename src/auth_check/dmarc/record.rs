//! The DMARC policy record (RFC 7489 §6.3, §6.4; RFC 9091's `np=`): a pure parser.
//!
//! What the parser does with a record that is not quite right, following the RFC:
//! - a record that does not start with `v=DMARC1` ("DMARC1" case-sensitive) is not a DMARC
//!   record at all ([`RecordError::NotDmarc`]): discovery skips it (§6.6.3 step 2);
//! - unknown tags are ignored, and so are segments without `=` and empty segments (`;;`);
//! - an invalid `pct`, `adkim`, `aspf`, `ri` or `np` value is discarded in favour of the
//!   default (§6.3: "syntax errors in the remainder of the record SHOULD be discarded");
//! - a missing or invalid `p`, or an invalid `sp`, makes the record act as `p=none` when it has
//!   a syntactically valid `rua` URI, and makes it invalid otherwise (§6.6.3 step 6):
//!   [`RecordError::NoPolicy`];
//! - when a tag appears twice, the last one counts.
//!
//! Work is linear in the record's length, and at most [`MAX_URIS`] report URIs are kept.

use std::fmt;

use crate::auth_check::Policy;

/// How many `rua`/`ruf` URIs are kept (the rest are dropped).
pub const MAX_URIS: usize = 16;

/// Identifier alignment mode (`adkim=`, `aspf=`; RFC 7489 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alignment {
    /// `r`: the two domains have the same organizational domain (the default).
    #[default]
    Relaxed,
    /// `s`: the two domains are equal.
    Strict,
}

impl fmt::Display for Alignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alignment::Relaxed => "relaxed",
            Alignment::Strict => "strict",
        })
    }
}

/// A parsed DMARC record. The reporting tags (`rua`, `ruf`, `fo`, `rf`, `ri`) are kept but
/// not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `p=`: the policy for the domain (`none` when `p` was invalid but `rua` valid).
    pub policy: Policy,
    /// `sp=`: the policy for subdomains, when given.
    pub subdomain_policy: Option<Policy>,
    /// `np=` (RFC 9091): the policy for non-existent subdomains, when given.
    pub nonexistent_policy: Option<Policy>,
    /// `pct=`: the percentage of failing messages the policy applies to, 0 to 100 (default 100).
    pub pct: u8,
    /// `adkim=` (default relaxed).
    pub adkim: Alignment,
    /// `aspf=` (default relaxed).
    pub aspf: Alignment,
    /// `rua=`: aggregate report URIs, as written (at most [`MAX_URIS`]).
    pub rua: Vec<String>,
    /// `ruf=`: failure report URIs, as written (at most [`MAX_URIS`]).
    pub ruf: Vec<String>,
    /// `fo=` as written (default `0`).
    pub fo: String,
    /// `rf=` as written (default `afrf`).
    pub rf: String,
    /// `ri=`: the aggregate report interval in seconds (default 86400).
    pub ri: u32,
    /// `p` (or `sp`) was missing or invalid and the record acts as `p=none` because it has a
    /// valid `rua` (RFC 7489 §6.6.3 step 6.1).
    pub policy_defaulted: bool,
}

/// Why a TXT string is not a usable DMARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// It does not start with `v=DMARC1`: not a DMARC record (discovery ignores it).
    NotDmarc,
    /// A DMARC record without a valid `p` (or with an invalid `sp`) and without a valid `rua`:
    /// no DMARC processing applies (RFC 7489 §6.6.3 step 6.2).
    NoPolicy,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotDmarc => f.write_str("not a DMARC record (no leading v=DMARC1)"),
            RecordError::NoPolicy => {
                f.write_str("DMARC record without a valid p= (or with an invalid sp=) and no rua")
            }
        }
    }
}

impl std::error::Error for RecordError {}

fn parse_policy(v: &str) -> Option<Policy> {
    match v.to_ascii_lowercase().as_str() {
        "none" => Some(Policy::None),
        "quarantine" => Some(Policy::Quarantine),
        "reject" => Some(Policy::Reject),
        _ => None,
    }
}

fn parse_alignment(v: &str) -> Option<Alignment> {
    match v.to_ascii_lowercase().as_str() {
        "r" => Some(Alignment::Relaxed),
        "s" => Some(Alignment::Strict),
        _ => None,
    }
}

/// A `dmarc-uri` (RFC 7489 §6.4): a URI with a scheme, then an optional `!size[kmgt]`.
fn valid_uri(u: &str) -> bool {
    let uri = match u.rsplit_once('!') {
        Some((uri, size)) => {
            let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || size.len() > digits.len() + 1
            {
                return false;
            }
            uri
        }
        None => u,
    };
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
}

fn uris(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .take(MAX_URIS)
        .map(str::to_string)
        .collect()
}

/// White space as RFC 7489's `*WSP` (and tolerant of folding left in a TXT string).
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// Whether a TXT string claims to be a DMARC record: its first tag is `v=DMARC1`. Discovery
/// keeps only these (RFC 7489 §6.6.3 step 2).
pub fn is_dmarc(txt: &str) -> bool {
    let first = txt.split(';').next().unwrap_or("");
    match first.split_once('=') {
        Some((tag, value)) => trim(tag).eq_ignore_ascii_case("v") && trim(value) == "DMARC1",
        None => false,
    }
}

/// Parses a DMARC TXT record.
///
/// ```
/// use smtpkit::auth_check::Policy;
/// use smtpkit::auth_check::dmarc::record::{Alignment, parse};
/// let r = parse("v=DMARC1; p=reject; sp=none; adkim=s; pct=50; rua=mailto:d@example.org").unwrap();
/// assert_eq!((r.policy, r.subdomain_policy, r.adkim, r.pct), (Policy::Reject, Some(Policy::None), Alignment::Strict, 50));
/// ```
pub fn parse(txt: &str) -> Result<Record, RecordError> {
    if !is_dmarc(txt) {
        return Err(RecordError::NotDmarc);
    }
    let mut r = Record {
        policy: Policy::None,
        subdomain_policy: None,
        nonexistent_policy: None,
        pct: 100,
        adkim: Alignment::Relaxed,
        aspf: Alignment::Relaxed,
        rua: Vec::new(),
        ruf: Vec::new(),
        fo: "0".to_string(),
        rf: "afrf".to_string(),
        ri: 86_400,
        policy_defaulted: false,
    };
    // `None`: absent; `Some(None)`: present but invalid.
    let mut p: Option<Option<Policy>> = None;
    let mut sp: Option<Option<Policy>> = None;
    for segment in txt.split(';').skip(1) {
        let Some((tag, value)) = segment.split_once('=') else {
            continue;
        };
        let (tag, value) = (trim(tag).to_ascii_lowercase(), trim(value));
        match tag.as_str() {
            "p" => p = Some(parse_policy(value)),
            "sp" => sp = Some(parse_policy(value)),
            "np" => {
                if let Some(np) = parse_policy(value) {
                    r.nonexistent_policy = Some(np);
                }
            }
            "pct" => {
                if let Some(n) = value.parse::<u8>().ok().filter(|&n| n <= 100) {
                    r.pct = n;
                }
            }
            "adkim" => {
                if let Some(a) = parse_alignment(value) {
                    r.adkim = a;
                }
            }
            "aspf" => {
                if let Some(a) = parse_alignment(value) {
                    r.aspf = a;
                }
            }
            "rua" => r.rua = uris(value),
            "ruf" => r.ruf = uris(value),
            "fo" => r.fo = value.to_string(),
            "rf" => r.rf = value.to_string(),
            "ri" => {
                if let Ok(n) = value.parse::<u32>() {
                    r.ri = n;
                }
            }
            _ => {}
        }
    }
    r.subdomain_policy = sp.flatten();
    match (p, sp) {
        (Some(Some(policy)), None | Some(Some(_))) => r.policy = policy,
        _ if r.rua.iter().any(|u| valid_uri(u)) => {
            r.policy = Policy::None;
            r.subdomain_policy = None;
            r.policy_defaulted = true;
        }
        _ => return Err(RecordError::NoPolicy),
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_and_defaults() {
        let r = parse("v=DMARC1; p=quarantine").unwrap();
        assert_eq!(r.policy, Policy::Quarantine);
        assert_eq!(r.subdomain_policy, None);
        assert_eq!(r.nonexistent_policy, None);
        assert_eq!(r.pct, 100);
        assert_eq!((r.adkim, r.aspf), (Alignment::Relaxed, Alignment::Relaxed));
        assert_eq!((r.fo.as_str(), r.rf.as_str(), r.ri), ("0", "afrf", 86_400));
        assert!(!r.policy_defaulted);
    }

    #[test]
    fn every_tag() {
        let r = parse(
            " v = DMARC1 ;P=Reject; sp=quarantine; np=reject; pct=20; adkim=S; aspf=s; \
             rua=mailto:a@example.org!10m, mailto:b@example.org; ruf=mailto:f@example.org; \
             fo=1:d; rf=afrf; ri=3600; x-unknown=1;",
        )
        .unwrap();
        assert_eq!(r.policy, Policy::Reject);
        assert_eq!(r.subdomain_policy, Some(Policy::Quarantine));
        assert_eq!(r.nonexistent_policy, Some(Policy::Reject));
        assert_eq!(r.pct, 20);
        assert_eq!((r.adkim, r.aspf), (Alignment::Strict, Alignment::Strict));
        assert_eq!(r.rua, ["mailto:a@example.org!10m", "mailto:b@example.org"]);
        assert_eq!(r.ruf, ["mailto:f@example.org"]);
        assert_eq!((r.fo.as_str(), r.ri), ("1:d", 3600));
    }

    #[test]
    fn not_dmarc() {
        for txt in [
            "",
            "v=spf1 -all",
            "v=dmarc1; p=none",
            "p=none; v=DMARC1",
            "v=DMARC2; p=none",
            "v DMARC1; p=none",
        ] {
            assert_eq!(parse(txt), Err(RecordError::NotDmarc), "{txt:?}");
        }
        assert!(is_dmarc("V=DMARC1"));
    }

    #[test]
    fn missing_or_invalid_policy() {
        assert_eq!(parse("v=DMARC1"), Err(RecordError::NoPolicy));
        assert_eq!(parse("v=DMARC1; p=bogus"), Err(RecordError::NoPolicy));
        assert_eq!(
            parse("v=DMARC1; p=reject; sp=bogus"),
            Err(RecordError::NoPolicy)
        );
        assert_eq!(
            parse("v=DMARC1; p=; rua=not a uri"),
            Err(RecordError::NoPolicy)
        );
        // With a valid rua, act as p=none (RFC 7489 §6.6.3 step 6.1).
        let r = parse("v=DMARC1; p=bogus; sp=reject; rua=mailto:d@example.org").unwrap();
        assert_eq!((r.policy, r.subdomain_policy), (Policy::None, None));
        assert!(r.policy_defaulted);
        let r = parse("v=DMARC1; rua=mailto:d@example.org").unwrap();
        assert!(r.policy_defaulted);
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        let r = parse("v=DMARC1; p=none; pct=101; adkim=x; aspf=; ri=-1; np=maybe").unwrap();
        assert_eq!(r.pct, 100);
        assert_eq!((r.adkim, r.aspf), (Alignment::Relaxed, Alignment::Relaxed));
        assert_eq!(r.ri, 86_400);
        assert_eq!(r.nonexistent_policy, None);
        let r = parse("v=DMARC1; p=none; pct=0").unwrap();
        assert_eq!(r.pct, 0);
    }

    #[test]
    fn odd_segments_and_repeats() {
        let r = parse("v=DMARC1;; junk ; p=none; p=reject;").unwrap();
        assert_eq!(r.policy, Policy::Reject);
    }

    #[test]
    fn uri_syntax() {
        assert!(valid_uri("mailto:a@example.org"));
        assert!(valid_uri("mailto:a@example.org!10m"));
        assert!(valid_uri("https://example.org/r"));
        assert!(!valid_uri("a@example.org"));
        assert!(!valid_uri("mailto:"));
        assert!(!valid_uri("mailto:a@example.org!x"));
        assert!(!valid_uri("1x:foo"));
    }

    #[test]
    fn many_uris_are_capped() {
        let txt = format!(
            "v=DMARC1; p=none; rua={}",
            vec!["mailto:a@b"; 1000].join(",")
        );
        assert_eq!(parse(&txt).unwrap().rua.len(), MAX_URIS);
    }
}
