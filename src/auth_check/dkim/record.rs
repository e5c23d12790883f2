//! The tag lists of DKIM (RFC 6376 §3.2): the `DKIM-Signature` field and the key record,
//! and the public keys in `p=` (RSA SubjectPublicKeyInfo, Ed25519 raw), read by hand with
//! bounds on every length.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest;

use crate::dkim::{Canonicalization, parse_canonicalization};

/// Longest tag value kept for a key record or signature (a 8192-bit key is ~1.5 KB).
const MAX_TAG_LIST: usize = 16 * 1024;

/// A tag-list syntax error (RFC 6376 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError(String);

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TagError {}

pub(super) fn is_fws(c: char) -> bool {
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

pub(super) fn tag<'a>(tags: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A value with all whitespace removed (base64 values may be folded).
pub(super) fn no_fws(value: &str) -> String {
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

    pub(super) fn key_type(self) -> KeyType {
        match self {
            SigAlgorithm::RsaSha256 | SigAlgorithm::RsaSha1 => KeyType::Rsa,
            SigAlgorithm::Ed25519Sha256 => KeyType::Ed25519,
        }
    }

    pub(super) fn hash_name(self) -> &'static str {
        match self {
            SigAlgorithm::RsaSha1 => "sha1",
            _ => "sha256",
        }
    }

    pub(super) fn digest(self) -> &'static digest::Algorithm {
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
