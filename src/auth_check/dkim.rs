//! DKIM verification (RFC 6376, RFC 8463 `ed25519-sha256`, RFC 8301 key sizes).
//!
//! A [`DkimVerifier`] is fed the message as it arrives ([`update`](DkimVerifier::update)):
//! the header section is kept (bounded), the body streams through one canonicaliser per
//! canonicalisation and one hash per signature and is never held. [`finish`](DkimVerifier::finish)
//! looks up each key (`selector._domainkey.domain` TXT) through a [`Resolver`] and gives one
//! [`DkimOutcome`] per `DKIM-Signature` header field, in header order.
//!
//! ```
//! use std::time::SystemTime;
//! use smtpkit::auth_check::{DkimResult, dkim::DkimVerifier};
//! use smtpkit::dns::StaticResolver;
//!
//! let dns = StaticResolver::new();
//! let mut verifier = DkimVerifier::new();
//! verifier.update(b"From: a@example.com\r\nSubject: hi\r\n\r\n");
//! verifier.update(b"Hello\r\n");
//! let outcomes = verifier.finish(&dns, SystemTime::now());
//! assert!(outcomes.is_empty()); // not signed: DKIM result "none"
//! # let _ = DkimResult::None;
//! ```
//!
//! Choices (each can be changed in [`VerifyOptions`]):
//! - `rsa-sha1` (RFC 8301 forbids signing with it) is verified, and a valid signature is
//!   reported as [`DkimResult::Policy`] with the reason "weak algorithm rsa-sha1";
//!   [`VerifyOptions::allow_sha1`] reports it as a pass.
//! - `l=`: the signed part of the body is checked. When the body has content beyond `l=`
//!   (anyone can append anything there), a valid signature is reported as
//!   [`DkimResult::Policy`] ("N body octets not covered by l="); a body wholly covered by
//!   `l=` passes. [`VerifyOptions::allow_partial_body`] reports a partial body as a pass, as
//!   dkimpy and OpenDKIM do. A body shorter than `l=` is a permerror.
//! - RSA keys under 1024 bits are a permerror (RFC 8301: not valid); keys from 1024 bits up
//!   to [`VerifyOptions::min_rsa_bits`] (default 1024) are verified and a valid signature is
//!   reported as [`DkimResult::Policy`]; keys over [`VerifyOptions::max_rsa_bits`] (default
//!   4096) are a permerror, which bounds the work a signature can cost.
//! - `t=` more than [`VerifyOptions::clock_skew`] (default 5 min) in the future, and `x=` in
//!   the past (or before `t=`), are permerrors.
//! - A key in testing mode (`t=y`) gives its result as usual, with the reason "key in
//!   testing mode (t=y)"; RFC 6376 §3.6.1 asks receivers not to treat such mail differently
//!   from unsigned mail, which is the caller's decision.
//! - The header section is limited ([`VerifyOptions::max_header_bytes`], 1 MiB, and
//!   [`VerifyOptions::max_headers`], 1000 fields); over it, the message gets one permerror
//!   when a `DKIM-Signature` was seen, else none. At most
//!   [`VerifyOptions::max_signatures`] (10) signatures are checked; the others are reported
//!   as permerror "too many signatures".
//!
//! The message must have CRLF line endings (as on the wire, after dot-unstuffing).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest;
use ring::signature::{self, UnparsedPublicKey};

use super::{DkimOutcome, DkimResult};
use crate::dkim::{
    Canonicalization, Field, canonicalize_header, is_wsp, parse_canonicalization, parse_message,
    relaxed_header, select_fields,
};
use crate::dns::{DnsError, Resolver};

/// Default largest header section kept (1 MiB).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 1 << 20;
/// Default largest number of header fields.
pub const DEFAULT_MAX_HEADERS: usize = 1000;
/// Default number of signatures checked per message.
pub const DEFAULT_MAX_SIGNATURES: usize = 10;
/// Smallest RSA key ever accepted (RFC 8301 §3.2), in bits.
pub const MIN_RSA_BITS: usize = 1024;
/// Default largest RSA key accepted, in bits.
pub const DEFAULT_MAX_RSA_BITS: usize = 4096;
/// Largest RSA key that can be allowed (ring's limit), in bits.
pub const MAX_RSA_BITS: usize = 8192;
/// Default tolerance for a signing time (`t=`) in the future.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Longest tag value kept for a key record or signature (a 8192-bit key is ~1.5 KB).
const MAX_TAG_LIST: usize = 16 * 1024;

/// The limits and policy choices of a [`DkimVerifier`] (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    max_header_bytes: usize,
    max_headers: usize,
    max_signatures: usize,
    min_rsa_bits: usize,
    max_rsa_bits: usize,
    allow_sha1: bool,
    allow_partial_body: bool,
    clock_skew: Duration,
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_signatures: DEFAULT_MAX_SIGNATURES,
            min_rsa_bits: MIN_RSA_BITS,
            max_rsa_bits: DEFAULT_MAX_RSA_BITS,
            allow_sha1: false,
            allow_partial_body: false,
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }
}

impl VerifyOptions {
    /// The defaults: 1 MiB and 1000 header fields, 10 signatures, RSA keys of 1024 to 4096
    /// bits, rsa-sha1 and partial bodies reported as policy, 5 minutes of clock skew.
    pub fn new() -> VerifyOptions {
        VerifyOptions::default()
    }

    /// Largest header section kept, in octets (default 1 MiB).
    pub fn max_header_bytes(mut self, n: usize) -> VerifyOptions {
        self.max_header_bytes = n;
        self
    }

    /// Largest number of header fields (default 1000).
    pub fn max_headers(mut self, n: usize) -> VerifyOptions {
        self.max_headers = n;
        self
    }

    /// How many signatures are checked (default 10); the others are permerrors.
    pub fn max_signatures(mut self, n: usize) -> VerifyOptions {
        self.max_signatures = n;
        self
    }

    /// RSA keys shorter than this give [`DkimResult::Policy`] instead of a pass (default
    /// and lowest value 1024; keys under 1024 bits are always a permerror).
    pub fn min_rsa_bits(mut self, bits: usize) -> VerifyOptions {
        self.min_rsa_bits = bits.clamp(MIN_RSA_BITS, MAX_RSA_BITS);
        self
    }

    /// RSA keys longer than this are a permerror (default 4096, at most 8192).
    pub fn max_rsa_bits(mut self, bits: usize) -> VerifyOptions {
        self.max_rsa_bits = bits.clamp(MIN_RSA_BITS, MAX_RSA_BITS);
        self
    }

    /// Whether a valid `rsa-sha1` signature is a pass (default: policy).
    pub fn allow_sha1(mut self, on: bool) -> VerifyOptions {
        self.allow_sha1 = on;
        self
    }

    /// Whether a valid signature whose `l=` leaves part of the body unsigned is a pass
    /// (default: policy).
    pub fn allow_partial_body(mut self, on: bool) -> VerifyOptions {
        self.allow_partial_body = on;
        self
    }

    /// How far in the future `t=` may be (default 5 minutes).
    pub fn clock_skew(mut self, skew: Duration) -> VerifyOptions {
        self.clock_skew = skew;
        self
    }
}

/// A tag-list syntax error (RFC 6376 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError(String);

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TagError {}

fn is_fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Parses a tag list (RFC 6376 §3.2): `name=value` specs separated by `;`, a trailing `;`
/// allowed, whitespace (and folding) around names and values ignored. Tag names are
/// `ALPHA *(ALPHA / DIGIT / "_")`, case-sensitive; a name given twice, a spec without `=`
/// or an empty spec is an error.
///
/// ```
/// use smtpkit::auth_check::dkim::parse_tag_list;
/// let tags = parse_tag_list("v=1; a=rsa-sha256;\r\n\td=example.com ;").unwrap();
/// assert_eq!(tags, [("v", "1"), ("a", "rsa-sha256"), ("d", "example.com")]);
/// assert!(parse_tag_list("v=1; v=2").is_err());
/// ```
pub fn parse_tag_list(list: &str) -> Result<Vec<(&str, &str)>, TagError> {
    let mut tags: Vec<(&str, &str)> = Vec::new();
    let mut specs: Vec<&str> = list.split(';').collect();
    if specs
        .last()
        .is_some_and(|s| s.trim_matches(is_fws).is_empty())
    {
        specs.pop();
    }
    for spec in specs {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| TagError(format!("tag without '=': {:?}", spec.trim_matches(is_fws))))?;
        let name = name.trim_matches(is_fws);
        let value = value.trim_matches(is_fws);
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(TagError(format!("invalid tag name {name:?}")));
        }
        if tags.iter().any(|(n, _)| *n == name) {
            return Err(TagError(format!("tag {name}= given twice")));
        }
        tags.push((name, value));
    }
    Ok(tags)
}

fn tag<'a>(tags: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A value with all whitespace removed (base64 values may be folded).
fn no_fws(value: &str) -> String {
    value.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

/// The signing algorithms (`a=`) this verifier knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlgorithm {
    /// `rsa-sha256`.
    RsaSha256,
    /// `rsa-sha1` (weak, RFC 8301).
    RsaSha1,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

impl SigAlgorithm {
    fn parse(s: &str) -> Option<SigAlgorithm> {
        match s.to_ascii_lowercase().as_str() {
            "rsa-sha256" => Some(SigAlgorithm::RsaSha256),
            "rsa-sha1" => Some(SigAlgorithm::RsaSha1),
            "ed25519-sha256" => Some(SigAlgorithm::Ed25519Sha256),
            _ => None,
        }
    }

    fn key_type(self) -> KeyType {
        match self {
            SigAlgorithm::RsaSha256 | SigAlgorithm::RsaSha1 => KeyType::Rsa,
            SigAlgorithm::Ed25519Sha256 => KeyType::Ed25519,
        }
    }

    fn hash_name(self) -> &'static str {
        match self {
            SigAlgorithm::RsaSha1 => "sha1",
            _ => "sha256",
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            SigAlgorithm::RsaSha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            _ => &digest::SHA256,
        }
    }
}

/// A parsed `DKIM-Signature` field value: the tags a verifier uses (RFC 6376 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `a=`.
    pub algorithm: SigAlgorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `bh=`, decoded.
    pub body_hash: Vec<u8>,
    /// `c=`: header and body canonicalisation (default simple/simple).
    pub canonicalization: (Canonicalization, Canonicalization),
    /// `d=`, lower-cased.
    pub domain: String,
    /// `h=`: the signed header field names, in order.
    pub headers: Vec<String>,
    /// `i=` as written (default `@d`).
    pub identity: Option<String>,
    /// The domain of `i=` (or `d=`), lower-cased.
    pub identity_domain: String,
    /// `l=`.
    pub body_length: Option<u64>,
    /// `s=`.
    pub selector: String,
    /// `t=`.
    pub timestamp: Option<u64>,
    /// `x=`.
    pub expiration: Option<u64>,
}

/// A domain or selector: dot-separated labels of letters, digits, `-` and `_`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn number(tags: &[(&str, &str)], name: &str) -> Result<Option<u64>, String> {
    match tag(tags, name) {
        None => Ok(None),
        // At most 76 digits in the grammar; more than u64 is refused as invalid.
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{name}= value out of range")),
        Some(v) => Err(format!("{name}= is not a number: {v:?}")),
    }
}

fn base64_value(tags: &[(&str, &str)], name: &str) -> Result<Vec<u8>, String> {
    let v = tag(tags, name).ok_or_else(|| format!("missing {name}="))?;
    STANDARD
        .decode(no_fws(v))
        .map_err(|_| format!("{name}= is not valid base64"))
}

impl Signature {
    /// Parses a `DKIM-Signature` field value, checking what does not need the key or the
    /// clock: required tags, `v=1`, known `a=` and `c=`, `q=dns/txt`, `h=` naming From,
    /// `i=` within `d=`, valid `d=` and `s=`, `x=` not before `t=`. The error says why, in
    /// words.
    pub fn parse(value: &str) -> Result<Signature, String> {
        if value.len() > MAX_TAG_LIST {
            return Err("signature too long".to_string());
        }
        let tags = parse_tag_list(value).map_err(|e| e.to_string())?;
        for required in ["v", "a", "b", "bh", "d", "h", "s"] {
            if tag(&tags, required).is_none() {
                return Err(format!("missing {required}="));
            }
        }
        if tag(&tags, "v") != Some("1") {
            return Err("v= is not 1".to_string());
        }
        let a = tag(&tags, "a").unwrap_or_default();
        let algorithm = SigAlgorithm::parse(a).ok_or_else(|| format!("unknown algorithm {a:?}"))?;
        let canonicalization = match tag(&tags, "c") {
            None => (Canonicalization::Simple, Canonicalization::Simple),
            Some(c) => parse_canonicalization(c).ok_or_else(|| format!("unknown c={c}"))?,
        };
        if let Some(q) = tag(&tags, "q") {
            if !q
                .split(':')
                .any(|m| m.trim_matches(is_fws).eq_ignore_ascii_case("dns/txt"))
            {
                return Err(format!("unsupported query method q={q}"));
            }
        }
        let domain = tag(&tags, "d").unwrap_or_default().to_ascii_lowercase();
        if !valid_name(&domain) {
            return Err(format!("invalid d={domain}"));
        }
        let selector = tag(&tags, "s").unwrap_or_default().to_string();
        if !valid_name(&selector) {
            return Err(format!("invalid s={selector}"));
        }
        let headers: Vec<String> = tag(&tags, "h")
            .unwrap_or_default()
            .split(':')
            .map(|h| h.trim_matches(is_fws).to_string())
            .collect();
        if headers.iter().any(String::is_empty) {
            return Err("empty header field name in h=".to_string());
        }
        if !headers.iter().any(|h| h.eq_ignore_ascii_case("from")) {
            return Err("From is not signed (h=)".to_string());
        }
        let identity = tag(&tags, "i").map(str::to_string);
        let identity_domain = match &identity {
            Some(i) => {
                let (_, d) = i
                    .rsplit_once('@')
                    .ok_or_else(|| format!("i={i} has no '@'"))?;
                let d = d.to_ascii_lowercase();
                let within = d
                    .strip_suffix(domain.as_str())
                    .is_some_and(|p| p.is_empty() || p.ends_with('.'));
                if !within {
                    return Err(format!("i= domain {d} is not within d={domain}"));
                }
                d
            }
            None => domain.clone(),
        };
        let body_length = number(&tags, "l")?;
        let timestamp = number(&tags, "t")?;
        let expiration = number(&tags, "x")?;
        if let (Some(t), Some(x)) = (timestamp, expiration) {
            if x < t {
                return Err("x= is before t=".to_string());
            }
        }
        Ok(Signature {
            algorithm,
            signature: base64_value(&tags, "b")?,
            body_hash: base64_value(&tags, "bh")?,
            canonicalization,
            domain,
            headers,
            identity,
            identity_domain,
            body_length,
            selector,
            timestamp,
            expiration,
        })
    }
}

/// The key types of `k=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `rsa` (the default).
    Rsa,
    /// `ed25519` (RFC 8463).
    Ed25519,
}

/// A parsed DKIM key record (RFC 6376 §3.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `k=`.
    pub key_type: KeyType,
    /// `h=`: the hash algorithms allowed, lower-cased; empty when any is.
    pub hashes: Vec<String>,
    /// `p=`, decoded: an RSA public key (the DER `RSAPublicKey`, out of its
    /// SubjectPublicKeyInfo) or the 32 octets of an Ed25519 key. Empty: revoked.
    pub public_key: Vec<u8>,
    /// For RSA, the modulus length in bits; 256 for Ed25519; 0 when revoked.
    pub bits: usize,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `t=s`: the `i=` domain must be exactly `d=`.
    pub strict: bool,
}

impl KeyRecord {
    /// Parses a key record: `v=DKIM1` when given, a known `k=`, `s=` including `email` or
    /// `*`, and a `p=` whose key can be read (SubjectPublicKeyInfo or bare `RSAPublicKey`
    /// for RSA; 32 octets, or their SubjectPublicKeyInfo, for Ed25519). An empty `p=` is a
    /// revoked key: parsed, with an empty [`public_key`](Self::public_key).
    pub fn parse(record: &str) -> Result<KeyRecord, String> {
        if record.len() > MAX_TAG_LIST {
            return Err("key record too long".to_string());
        }
        let tags = parse_tag_list(record).map_err(|e| e.to_string())?;
        if let Some(v) = tag(&tags, "v") {
            if v != "DKIM1" {
                return Err(format!("v={v} is not DKIM1"));
            }
        }
        let key_type = match tag(&tags, "k") {
            None => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("rsa") => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("ed25519") => KeyType::Ed25519,
            Some(k) => return Err(format!("unknown key type k={k}")),
        };
        let list = |name: &str| -> Vec<String> {
            tag(&tags, name)
                .map(|v| {
                    v.split(':')
                        .map(|x| x.trim_matches(is_fws).to_ascii_lowercase())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let hashes = list("h");
        let services = list("s");
        if !services.is_empty() && !services.iter().any(|s| s == "*" || s == "email") {
            return Err("key not for email (s=)".to_string());
        }
        let flags = list("t");
        let p = tag(&tags, "p").ok_or_else(|| "missing p=".to_string())?;
        let der = STANDARD
            .decode(no_fws(p))
            .map_err(|_| "p= is not valid base64".to_string())?;
        let (public_key, bits) = if der.is_empty() {
            (der, 0)
        } else {
            match key_type {
                KeyType::Rsa => rsa_public_key(&der)?,
                KeyType::Ed25519 => (ed25519_public_key(&der)?, 256),
            }
        };
        Ok(KeyRecord {
            key_type,
            hashes,
            public_key,
            bits,
            testing: flags.iter().any(|f| f == "y"),
            strict: flags.iter().any(|f| f == "s"),
        })
    }
}

/// One DER element: (tag, content, rest). Definite lengths of at most 4 octets.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest.get(n..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// DER of the rsaEncryption OID (1.2.840.113549.1.1.1), content only.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// DER of the id-Ed25519 OID (1.3.101.112), content only.
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The BIT STRING content of a SubjectPublicKeyInfo whose algorithm OID is `oid`.
fn spki_key<'a>(der: &'a [u8], oid: &[u8]) -> Option<&'a [u8]> {
    let (0x30, spki, _) = der_next(der)? else {
        return None;
    };
    let (0x30, alg, rest) = der_next(spki)? else {
        return None;
    };
    let (0x06, alg_oid, _) = der_next(alg)? else {
        return None;
    };
    if alg_oid != oid {
        return None;
    }
    let (0x03, bits, _) = der_next(rest)? else {
        return None;
    };
    // No unused bits.
    match bits.split_first() {
        Some((0, key)) => Some(key),
        _ => None,
    }
}

/// The `RSAPublicKey` DER (from a SubjectPublicKeyInfo, or given bare) and its modulus bits.
fn rsa_public_key(der: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let bad = || "p= is not an RSA public key".to_string();
    let key = spki_key(der, OID_RSA).unwrap_or(der);
    let (0x30, seq, _) = der_next(key).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (0x02, modulus, rest) = der_next(seq).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (0x02, _exponent, _) = der_next(rest).ok_or_else(bad)? else {
        return Err(bad());
    };
    let skip = modulus.iter().take_while(|&&b| b == 0).count();
    let significant = modulus.get(skip..).unwrap_or(&[]);
    let bits = match significant.first() {
        Some(&top) => significant.len() * 8 - top.leading_zeros() as usize,
        None => return Err(bad()),
    };
    Ok((key.to_vec(), bits))
}

/// The 32 octets of an Ed25519 key: given raw (RFC 8463), or in a SubjectPublicKeyInfo.
fn ed25519_public_key(der: &[u8]) -> Result<Vec<u8>, String> {
    let key = if der.len() == 32 {
        der
    } else {
        spki_key(der, OID_ED25519).unwrap_or(der)
    };
    if key.len() == 32 {
        Ok(key.to_vec())
    } else {
        Err(format!(
            "p= is not a 32-octet Ed25519 key ({} octets)",
            key.len()
        ))
    }
}

/// The body canonicalisation of RFC 6376 §3.4.3 and §3.4.4, on a stream: what is held is
/// the count of CRLFs (empty lines) not yet known not to be trailing, whether whitespace is
/// pending (relaxed), and whether a CR waits for its LF.
#[derive(Debug, Clone)]
struct BodyCanon {
    canon: Canonicalization,
    pending_crlfs: u64,
    pending_wsp: bool,
    pending_cr: bool,
    /// Whether anything but CRLFs has been emitted (relaxed: an empty body stays empty).
    any_content: bool,
}

/// Output is gathered here and handed to the hashes in blocks.
const CANON_BLOCK: usize = 8192;

impl BodyCanon {
    fn new(canon: Canonicalization) -> BodyCanon {
        BodyCanon {
            canon,
            pending_crlfs: 0,
            pending_wsp: false,
            pending_cr: false,
            any_content: false,
        }
    }

    /// Emits a content byte, after what was pending before it.
    fn content(&mut self, b: u8, out: &mut Vec<u8>, sink: &mut dyn FnMut(&[u8])) {
        while self.pending_crlfs > 0 {
            out.extend_from_slice(b"\r\n");
            self.pending_crlfs -= 1;
            if out.len() >= CANON_BLOCK {
                sink(out);
                out.clear();
            }
        }
        if self.pending_wsp {
            out.push(b' ');
            self.pending_wsp = false;
        }
        out.push(b);
        self.any_content = true;
        if out.len() >= CANON_BLOCK {
            sink(out);
            out.clear();
        }
    }

    fn feed(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let mut out = Vec::with_capacity(CANON_BLOCK + 64);
        for &b in bytes {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.pending_wsp = false;
                    self.pending_crlfs += 1;
                    continue;
                }
                // A bare CR is content.
                self.content(b'\r', &mut out, sink);
            }
            match b {
                b'\r' => self.pending_cr = true,
                b' ' | b'\t' if self.canon == Canonicalization::Relaxed => {
                    self.pending_wsp = true;
                }
                _ => self.content(b, &mut out, sink),
            }
        }
        if !out.is_empty() {
            sink(&out);
        }
    }

    /// The end of the body: trailing empty lines collapse into the one CRLF that ends the
    /// last line (simple: an empty body is one CRLF; relaxed: an empty body stays empty).
    fn finish(&mut self, sink: &mut dyn FnMut(&[u8])) {
        if self.pending_cr {
            self.pending_cr = false;
            let mut out = Vec::new();
            self.content(b'\r', &mut out, sink);
            sink(&out);
        }
        if self.canon == Canonicalization::Simple || self.any_content {
            sink(b"\r\n");
        }
    }
}

/// One signature's body hash over the canonical body, counting it for `l=`.
#[derive(Clone)]
struct BodyHash {
    ctx: digest::Context,
    limit: Option<u64>,
    /// Canonical octets seen (hashed or not).
    seen: u64,
}

impl fmt::Debug for BodyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyHash")
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl BodyHash {
    fn update(&mut self, chunk: &[u8]) {
        let take = match self.limit {
            Some(l) => {
                let left = l.saturating_sub(self.seen);
                usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len())
            }
            None => chunk.len(),
        };
        self.ctx.update(chunk.get(..take).unwrap_or(&[]));
        self.seen = self.seen.saturating_add(chunk.len() as u64);
    }
}

/// A canonicaliser and the hashes that read its output.
#[derive(Debug, Clone)]
struct BodyStream {
    canon: BodyCanon,
    hashes: Vec<BodyHash>,
}

impl BodyStream {
    fn feed(&mut self, bytes: &[u8]) {
        let hashes = &mut self.hashes;
        self.canon
            .feed(bytes, &mut |c| hashes.iter_mut().for_each(|h| h.update(c)));
    }

    fn finish(&mut self) {
        let hashes = &mut self.hashes;
        self.canon
            .finish(&mut |c| hashes.iter_mut().for_each(|h| h.update(c)));
    }
}

/// A signature found in the header: its outcome so far, and where its body hash is.
#[derive(Debug)]
struct Pending {
    outcome: DkimOutcome,
    /// Index of the header field.
    field: usize,
    /// Parsed, when it parsed and is to be checked.
    sig: Option<Signature>,
    /// (stream, hash) indices of its body hash.
    hash: Option<(usize, usize)>,
}

#[derive(Debug)]
enum State {
    /// Collecting the header section.
    Header,
    /// The header was too large: the rest is ignored.
    Overflow,
    /// Streaming the body.
    Body {
        pending: Vec<Pending>,
        streams: Vec<BodyStream>,
    },
}

/// Verifies the DKIM signatures of one message fed in pieces: the header section is kept
/// (bounded), the body streams through one hash per signature, never held.
#[derive(Debug)]
pub struct DkimVerifier {
    options: VerifyOptions,
    /// The header section (through the CRLF of its last field) once complete, or what has
    /// come of it so far.
    header: Vec<u8>,
    state: State,
}

impl Default for DkimVerifier {
    fn default() -> DkimVerifier {
        DkimVerifier::with_options(VerifyOptions::default())
    }
}

impl DkimVerifier {
    /// A verifier for one message.
    pub fn new() -> DkimVerifier {
        DkimVerifier::default()
    }

    /// A verifier for one message with the given limits and policy.
    pub fn with_options(options: VerifyOptions) -> DkimVerifier {
        DkimVerifier {
            options,
            header: Vec::new(),
            state: State::Header,
        }
    }

    /// The header section once it has been read completely (each field with its CRLF, not
    /// the empty line that ends it); `None` before that or when it was over the limits.
    pub fn header_section(&self) -> Option<&[u8]> {
        match self.state {
            State::Body { .. } => Some(&self.header),
            _ => None,
        }
    }

    /// Feeds the next bytes of the message (header section and body, as received, CRLF line
    /// endings).
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Overflow => {}
            State::Body { streams, .. } => streams.iter_mut().for_each(|s| s.feed(bytes)),
            State::Header => {
                let old = self.header.len();
                // Room for the limit and the empty line.
                let room = (self.options.max_header_bytes + 2).saturating_sub(old);
                let take = bytes.len().min(room);
                self.header
                    .extend_from_slice(bytes.get(..take).unwrap_or(&[]));
                let end = if self.header.starts_with(b"\r\n") {
                    Some(0)
                } else {
                    let from = old.saturating_sub(3);
                    self.header
                        .get(from..)
                        .and_then(|h| h.windows(4).position(|w| w == b"\r\n\r\n"))
                        .map(|i| from + i + 2)
                };
                match end {
                    Some(end) => {
                        // `end` is the start of the empty line.
                        let body: Vec<u8> = self.header.get(end + 2..).unwrap_or(&[]).to_vec();
                        let rest = bytes.get(take..).unwrap_or(&[]);
                        self.header.truncate(end);
                        self.start_body();
                        self.update(&body);
                        self.update(rest);
                    }
                    None if self.header.len() > self.options.max_header_bytes => {
                        self.state = State::Overflow;
                    }
                    None => {}
                }
            }
        }
    }

    /// The header section is complete: find the signatures and set up their body hashes.
    fn start_body(&mut self) {
        if count_fields(&self.header) > self.options.max_headers {
            self.state = State::Overflow;
            return;
        }
        let (fields, _) = parse_message(&self.header);
        let mut pending = Vec::new();
        let mut streams: Vec<BodyStream> = Vec::new();
        let mut checked = 0;
        for (index, field) in fields.iter().enumerate() {
            if !field.is("DKIM-Signature") {
                continue;
            }
            let value = field_value(field.raw);
            let mut outcome = outcome_from_tags(&value);
            let mut p = Pending {
                outcome: outcome.clone(),
                field: index,
                sig: None,
                hash: None,
            };
            if checked >= self.options.max_signatures {
                outcome.result = DkimResult::PermError;
                outcome.reason = Some(format!(
                    "too many signatures (more than {})",
                    self.options.max_signatures
                ));
                p.outcome = outcome;
                pending.push(p);
                continue;
            }
            checked += 1;
            match Signature::parse(&value) {
                Err(why) => {
                    p.outcome.result = DkimResult::PermError;
                    p.outcome.reason = Some(why);
                }
                Ok(sig) => {
                    let canon = sig.canonicalization.1;
                    let s = match streams.iter().position(|s| s.canon.canon == canon) {
                        Some(s) => s,
                        None => {
                            streams.push(BodyStream {
                                canon: BodyCanon::new(canon),
                                hashes: Vec::new(),
                            });
                            streams.len() - 1
                        }
                    };
                    if let Some(stream) = streams.get_mut(s) {
                        stream.hashes.push(BodyHash {
                            ctx: digest::Context::new(sig.algorithm.digest()),
                            limit: sig.body_length,
                            seen: 0,
                        });
                        p.hash = Some((s, stream.hashes.len() - 1));
                    }
                    p.sig = Some(sig);
                }
            }
            pending.push(p);
        }
        self.state = State::Body { pending, streams };
    }

    /// Looks up the keys and checks every signature: one outcome per DKIM-Signature header,
    /// in header order; empty when the message has none.
    pub fn finish(mut self, resolver: &dyn Resolver, now: SystemTime) -> Vec<DkimOutcome> {
        if matches!(self.state, State::Header) {
            // No empty line: the whole message is header, the body is empty.
            if !self.header.is_empty() && !self.header.ends_with(b"\r\n") {
                self.header.extend_from_slice(b"\r\n");
            }
            self.header.extend_from_slice(b"\r\n");
            let header = std::mem::take(&mut self.header);
            self.update(&header);
        }
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (pending, mut streams) = match std::mem::replace(&mut self.state, State::Overflow) {
            State::Body { pending, streams } => (pending, streams),
            _ => return self.overflow_outcome(),
        };
        streams.iter_mut().for_each(BodyStream::finish);
        let (fields, _) = parse_message(&self.header);
        let mut keys: HashMap<String, Result<Vec<String>, DnsError>> = HashMap::new();
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let mut outcome = p.outcome;
            if let (Some(sig), Some((s, h))) = (&p.sig, p.hash) {
                let hash = streams.get(s).and_then(|s| s.hashes.get(h));
                let check = Check {
                    options: &self.options,
                    fields: &fields,
                    field: p.field,
                    sig,
                    now,
                };
                let (result, reason) = match hash {
                    Some(hash) => check.run(hash, resolver, &mut keys),
                    None => (DkimResult::PermError, Some("internal: no body hash".into())),
                };
                outcome.result = result;
                outcome.reason = reason;
            }
            out.push(outcome);
        }
        out
    }

    /// The outcome of a message whose header section was over the limits: one permerror if
    /// it has a signature, none otherwise.
    fn overflow_outcome(&self) -> Vec<DkimOutcome> {
        let lower = self.header.to_ascii_lowercase();
        let signed = lower.starts_with(b"dkim-signature")
            || lower.windows(16).any(|w| w == b"\ndkim-signature");
        if !signed {
            return Vec::new();
        }
        vec![DkimOutcome {
            result: DkimResult::PermError,
            domain: String::new(),
            selector: String::new(),
            identity: None,
            algorithm: String::new(),
            header_b: String::new(),
            reason: Some(format!(
                "header section over the limits ({} octets, {} fields)",
                self.options.max_header_bytes, self.options.max_headers
            )),
        }]
    }
}

/// Counts the header fields (lines not starting with whitespace) without building them.
fn count_fields(header: &[u8]) -> usize {
    let mut n = 0usize;
    let mut at_line_start = true;
    for &b in header {
        if at_line_start && !is_wsp(b) {
            n += 1;
        }
        at_line_start = b == b'\n';
    }
    n
}

/// The value of a header field (after the colon), as text.
fn field_value(raw: &[u8]) -> String {
    let value = match raw.iter().position(|&b| b == b':') {
        Some(i) => raw.get(i + 1..).unwrap_or(&[]),
        None => &[],
    };
    String::from_utf8_lossy(value).into_owned()
}

/// The outcome's descriptive fields, read leniently from the tags (for reports even when
/// the signature does not parse).
fn outcome_from_tags(value: &str) -> DkimOutcome {
    let mut o = DkimOutcome {
        result: DkimResult::PermError,
        domain: String::new(),
        selector: String::new(),
        identity: None,
        algorithm: String::new(),
        header_b: String::new(),
        reason: None,
    };
    for spec in value.split(';') {
        let Some((name, v)) = spec.split_once('=') else {
            continue;
        };
        let v = v.trim_matches(is_fws);
        match name.trim_matches(is_fws) {
            "d" => o.domain = v.to_ascii_lowercase(),
            "s" => o.selector = v.to_string(),
            "i" => o.identity = Some(v.to_string()),
            "a" => o.algorithm = v.to_string(),
            "b" => o.header_b = no_fws(v).chars().take(8).collect(),
            _ => {}
        }
    }
    o
}

/// The value of the `b=` tag removed from a header field (RFC 6376 §3.7), everything else
/// kept as it is; the trailing CRLF is removed too.
fn without_b_value(raw: &[u8]) -> Vec<u8> {
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    let colon = raw
        .iter()
        .position(|&b| b == b':')
        .map_or(raw.len(), |i| i + 1);
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(raw.get(..colon).unwrap_or(&[]));
    let value = raw.get(colon..).unwrap_or(&[]);
    let mut first = true;
    for spec in value.split(|&b| b == b';') {
        if !first {
            out.push(b';');
        }
        first = false;
        let eq = spec.iter().position(|&b| b == b'=');
        let is_b = eq.is_some_and(|eq| {
            let name = spec.get(..eq).unwrap_or(&[]);
            let name: Vec<u8> = name
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            name == b"b"
        });
        match (is_b, eq) {
            (true, Some(eq)) => out.extend_from_slice(spec.get(..=eq).unwrap_or(&[])),
            _ => out.extend_from_slice(spec),
        }
    }
    out
}

/// The checks of one signature once the body is in.
struct Check<'a> {
    options: &'a VerifyOptions,
    fields: &'a [Field<'a>],
    field: usize,
    sig: &'a Signature,
    now: u64,
}

type Verdict = (DkimResult, Option<String>);

fn perm(why: impl Into<String>) -> Verdict {
    (DkimResult::PermError, Some(why.into()))
}

impl Check<'_> {
    fn run(
        &self,
        hash: &BodyHash,
        resolver: &dyn Resolver,
        keys: &mut HashMap<String, Result<Vec<String>, DnsError>>,
    ) -> Verdict {
        let sig = self.sig;
        if let Some(x) = sig.expiration {
            if x < self.now {
                return perm("signature expired (x=)");
            }
        }
        if let Some(t) = sig.timestamp {
            if t > self.now.saturating_add(self.options.clock_skew.as_secs()) {
                return perm("signature timestamp in the future (t=)");
            }
        }
        // The body hash first: it needs no DNS.
        let mut partial = None;
        if let Some(l) = sig.body_length {
            if l > hash.seen {
                return perm(format!(
                    "l={l} is longer than the body ({} octets)",
                    hash.seen
                ));
            }
            if hash.seen > l {
                partial = Some(hash.seen - l);
            }
        }
        let computed = hash.ctx.clone().finish();
        if computed.as_ref() != sig.body_hash.as_slice() {
            return (DkimResult::Fail, Some("body hash did not verify".into()));
        }

        let name = format!("{}._domainkey.{}", sig.selector, sig.domain);
        let answer = keys
            .entry(name.clone())
            .or_insert_with(|| resolver.txt(&name));
        let records = match answer {
            Ok(r) if r.is_empty() => return perm(format!("no key record at {name}")),
            Ok(r) => r,
            Err(DnsError::NxDomain(_)) => return perm(format!("no key for {name} (NXDOMAIN)")),
            Err(e) if e.is_permanent() => return perm(format!("key lookup of {name}: {e}")),
            Err(e) => {
                return (
                    DkimResult::TempError,
                    Some(format!("key lookup of {name}: {e}")),
                );
            }
        };
        // Several records: the first one that parses (RFC 6376 §3.6.2.2 leaves it open).
        let mut parsed = Err(String::new());
        for r in records.iter() {
            parsed = KeyRecord::parse(r);
            if parsed.is_ok() {
                break;
            }
        }
        let key = match parsed {
            Ok(k) => k,
            Err(why) => return perm(format!("invalid key record: {why}")),
        };
        let mut notes: Vec<String> = Vec::new();
        if key.testing {
            notes.push("key in testing mode (t=y)".into());
        }
        if key.public_key.is_empty() {
            return perm("key revoked (empty p=)");
        }
        if key.key_type != sig.algorithm.key_type() {
            return perm("key type (k=) does not match the algorithm (a=)");
        }
        if !key.hashes.is_empty() && !key.hashes.iter().any(|h| h == sig.algorithm.hash_name()) {
            return perm(format!(
                "key does not allow {} (h=)",
                sig.algorithm.hash_name()
            ));
        }
        if key.strict && sig.identity_domain != sig.domain {
            return perm("key requires i= domain to equal d= (t=s)");
        }
        if key.key_type == KeyType::Rsa {
            if key.bits < MIN_RSA_BITS {
                return perm(format!("RSA key of {} bits is too short", key.bits));
            }
            if key.bits > self.options.max_rsa_bits {
                return perm(format!(
                    "RSA key of {} bits is longer than allowed ({})",
                    key.bits, self.options.max_rsa_bits
                ));
            }
        }

        let data = self.header_hash_input();
        let valid = match sig.algorithm {
            SigAlgorithm::RsaSha256 => UnparsedPublicKey::new(
                &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                &key.public_key,
            )
            .verify(&data, &sig.signature)
            .is_ok(),
            SigAlgorithm::RsaSha1 => UnparsedPublicKey::new(
                &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                &key.public_key,
            )
            .verify(&data, &sig.signature)
            .is_ok(),
            SigAlgorithm::Ed25519Sha256 => {
                let hashed = digest::digest(&digest::SHA256, &data);
                UnparsedPublicKey::new(&signature::ED25519, &key.public_key)
                    .verify(hashed.as_ref(), &sig.signature)
                    .is_ok()
            }
        };
        let reason = |mut notes: Vec<String>, first: Option<String>| {
            if let Some(f) = first {
                notes.insert(0, f);
            }
            if notes.is_empty() {
                None
            } else {
                Some(notes.join("; "))
            }
        };
        if !valid {
            return (
                DkimResult::Fail,
                reason(notes, Some("signature did not verify".into())),
            );
        }
        let policy = if sig.algorithm == SigAlgorithm::RsaSha1 && !self.options.allow_sha1 {
            Some("weak algorithm rsa-sha1".to_string())
        } else if key.key_type == KeyType::Rsa && key.bits < self.options.min_rsa_bits {
            Some(format!(
                "RSA key of {} bits, below the local minimum of {}",
                key.bits, self.options.min_rsa_bits
            ))
        } else {
            partial
                .filter(|_| !self.options.allow_partial_body)
                .map(|n| format!("{n} body octets not covered by l="))
        };
        match policy {
            Some(why) => (DkimResult::Policy, reason(notes, Some(why))),
            None => (DkimResult::Pass, reason(notes, None)),
        }
    }

    /// The header hash input (RFC 6376 §3.7): the fields `h=` names, bottom-up, then the
    /// signature field without its `b=` value and final CRLF.
    fn header_hash_input(&self) -> Vec<u8> {
        let canon = self.sig.canonicalization.0;
        let selected = select_fields(self.fields, &self.sig.headers);
        let mut data = Vec::new();
        for f in &selected {
            data.extend_from_slice(&canonicalize_header(canon, f.raw));
        }
        let raw = self.fields.get(self.field).map_or(&[][..], |f| f.raw);
        let stripped = without_b_value(raw);
        match canon {
            Canonicalization::Simple => data.extend_from_slice(&stripped),
            Canonicalization::Relaxed => {
                let c = relaxed_header(&stripped);
                data.extend_from_slice(c.strip_suffix(b"\r\n").unwrap_or(&c));
            }
        }
        data
    }
}

#[cfg(test)]
#[path = "dkim_tests.rs"]
mod tests;
