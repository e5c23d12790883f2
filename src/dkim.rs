//! DKIM signing: RFC 6376 with `rsa-sha256` and RFC 8463 `ed25519-sha256`.
//!
//! (Over 900 lines on purpose: signing is one pipeline, key loading, header selection and
//! oversigning, canonicalisation, folding, and splitting it would scatter the steps of
//! RFC 6376 §3.7 and §5; its tests are in `dkim_tests.rs`.)
//!
//! A [`Signer`] holds the signing domain (`d=`), the selector (`s=`), a [`SigningKey`] loaded
//! from PEM, and the choices of what to sign and how. [`Signer::sign`] returns the message
//! with a `DKIM-Signature` header field prepended; [`Signer::signature_header`] returns only
//! that field.
//!
//! ```no_run
//! use smtpkit::dkim::{Canonicalization, Signer, SigningKey};
//!
//! let key = SigningKey::from_pem_file("/etc/dkim/mail.pem")?;
//! // The TXT record to publish at mail._domainkey.example.com.
//! println!("{}", key.dns_txt_record());
//! let signer = Signer::new("example.com", "mail", key)
//!     .canonicalization(Canonicalization::Relaxed, Canonicalization::Relaxed);
//! let signed = signer.sign(b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n")?;
//! assert!(signed.starts_with(b"DKIM-Signature: v=1; a="));
//! # Ok::<(), smtpkit::dkim::DkimError>(())
//! ```
//!
//! Line endings: a message is signed as it will be transmitted. [`Signer::sign`] and
//! [`Signer::signature_header`] first normalise line endings exactly as
//! [`crate::data::DotStuffer`] does on the wire (a bare LF or a bare CR becomes CRLF, and an
//! unterminated last line gets a CRLF), then sign the normalised bytes.
//!
//! Signed header fields: by default those of [`DEFAULT_HEADERS`] that are present. A field
//! that occurs several times is listed in `h=` once per occurrence, and verifiers match the
//! occurrences from the bottom up (RFC 6376 §5.4.2), so every instance present is covered.
//!
//! Oversigning (RFC 6376 §5.4.2, §8.15): a signature covers only the instances `h=` names, so
//! a field added *above* the signed ones (a second `From:` a mail reader may display instead
//! of the signed one, a second `Subject:`) is not covered and the signature still verifies.
//! To forbid that, each signed name of the oversigned set ([`DEFAULT_OVERSIGNED`] by default:
//! From, To, Cc, Subject, Date, Reply-To and the MIME header fields) is listed in `h=` once
//! more than it occurs: the extra entry matches no field when signing, so it stands for "no
//! further instance", and any instance added later changes the hash. A name of the set that is
//! absent from the message is listed once, so that it cannot be added at all.
//! [`Signer::oversign`] changes the set.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject};

/// The header fields signed by default, in `h=` order, when present in the message
/// (`From` is always required).
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// The header field names oversigned by default (RFC 6376 §8.15): each one that is signed is
/// listed in `h=` once more than it occurs in the message (once when absent), so that no
/// instance can be added without breaking the signature. These are the fields a reader sees
/// or that decide how the body is shown: From, To, Cc, Subject, Date, Reply-To, MIME-Version,
/// Content-Type and Content-Transfer-Encoding. Message-ID, In-Reply-To and References are
/// signed but not oversigned.
pub const DEFAULT_OVERSIGNED: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Longest line (in octets, CRLF not counted) the emitted `DKIM-Signature` field is folded to.
const FOLD_AT: usize = 78;
/// Tag values `t=` and `x=` are at most 12 digits (RFC 6376 §3.5).
const MAX_TIME: u64 = 999_999_999_999;

/// A DKIM signing algorithm (the `a=` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `rsa-sha256`: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376 §3.3.1).
    RsaSha256,
    /// `ed25519-sha256`: PureEdDSA Ed25519 over the SHA-256 hash (RFC 8463).
    Ed25519Sha256,
}

impl Algorithm {
    /// The `a=` tag value: `rsa-sha256` or `ed25519-sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// Parses an `a=` tag value (ASCII case-insensitive); `None` for anything else.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        if name.eq_ignore_ascii_case("rsa-sha256") {
            Some(Algorithm::RsaSha256)
        } else if name.eq_ignore_ascii_case("ed25519-sha256") {
            Some(Algorithm::Ed25519Sha256)
        } else {
            None
        }
    }

    /// The `k=` value of the key record: `rsa` or `ed25519`.
    fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A canonicalisation algorithm (RFC 6376 §3.4), for the header or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canonicalization {
    /// `simple`: tolerates almost no modification.
    Simple,
    /// `relaxed`: tolerates whitespace changes and header field re-folding.
    Relaxed,
}

impl Canonicalization {
    /// The name used in the `c=` tag: `simple` or `relaxed`.
    pub fn name(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }

    fn from_name(name: &str) -> Option<Canonicalization> {
        if name.eq_ignore_ascii_case("simple") {
            Some(Canonicalization::Simple)
        } else if name.eq_ignore_ascii_case("relaxed") {
            Some(Canonicalization::Relaxed)
        } else {
            None
        }
    }
}

impl fmt::Display for Canonicalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a `c=` value into (header, body) canonicalisations: `relaxed/simple`, or a single
/// name, which per RFC 6376 §3.5 means that algorithm for the header and `simple` for the body
/// (`relaxed` alone is relaxed/simple). ASCII case-insensitive; surrounding whitespace is
/// ignored; `None` for anything else.
///
/// ```
/// use smtpkit::dkim::{parse_canonicalization, Canonicalization::*};
/// assert_eq!(parse_canonicalization("relaxed/relaxed"), Some((Relaxed, Relaxed)));
/// assert_eq!(parse_canonicalization("relaxed"), Some((Relaxed, Simple)));
/// assert_eq!(parse_canonicalization("relaxed/"), None);
/// ```
pub fn parse_canonicalization(s: &str) -> Option<(Canonicalization, Canonicalization)> {
    let s = s.trim();
    match s.split_once('/') {
        Some((h, b)) => Some((
            Canonicalization::from_name(h)?,
            Canonicalization::from_name(b)?,
        )),
        None => Some((Canonicalization::from_name(s)?, Canonicalization::Simple)),
    }
}

/// What went wrong loading a key or signing a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum DkimError {
    /// The key file could not be read.
    Io(std::io::Error),
    /// The PEM data is malformed or holds no private key.
    Pem(String),
    /// The PEM private key is encrypted; decrypt it first (e.g. `openssl pkey -in k.pem`).
    EncryptedKey,
    /// A private key of a type DKIM signing here does not use (EC, Ed448, ...).
    UnsupportedKey(String),
    /// The key could not be used: malformed, inconsistent or too large.
    InvalidKey(String),
    /// An RSA key smaller than 2048 bits. RFC 8301 forbids keys under 1024 bits; ring, which
    /// signs here, refuses RSA signing keys under 2048 bits.
    RsaKeyTooSmall,
    /// The message has no `From` header field, which DKIM requires to be signed.
    MissingFrom,
    /// The signing domain (`d=`) is not a valid domain name.
    InvalidDomain(String),
    /// The selector (`s=`) is not a valid selector.
    InvalidSelector(String),
    /// The identity (`i=`) has no `@`, or its domain is neither `d=` nor a subdomain of it.
    InvalidIdentity(String),
    /// A header field name to sign is empty or has a character not allowed in a field name
    /// (or a `;`).
    InvalidHeaderName(String),
    /// The cryptographic signing operation failed.
    Signing,
}

impl fmt::Display for DkimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DkimError::Io(e) => write!(f, "cannot read the key file: {e}"),
            DkimError::Pem(m) => write!(f, "bad PEM key: {m}"),
            DkimError::EncryptedKey => f.write_str(
                "the PEM private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)",
            ),
            DkimError::UnsupportedKey(m) => write!(f, "unsupported key type: {m}"),
            DkimError::InvalidKey(m) => write!(f, "invalid key: {m}"),
            DkimError::RsaKeyTooSmall => {
                f.write_str("RSA key too small: at least 2048 bits are required")
            }
            DkimError::MissingFrom => f.write_str("the message has no From header field"),
            DkimError::InvalidDomain(d) => write!(f, "invalid signing domain {d:?}"),
            DkimError::InvalidSelector(s) => write!(f, "invalid selector {s:?}"),
            DkimError::InvalidIdentity(i) => {
                write!(f, "invalid identity {i:?}: must be [local]@d= or @subdomain of d=")
            }
            DkimError::InvalidHeaderName(h) => write!(f, "invalid header field name {h:?}"),
            DkimError::Signing => f.write_str("the signing operation failed"),
        }
    }
}

impl std::error::Error for DkimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DkimError::Io(e) => Some(e),
            _ => None,
        }
    }
}

enum KeyKind {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A signing key loaded from PEM: RSA (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`,
/// 2048 to 4096 bits) or Ed25519 (PKCS#8 `PRIVATE KEY`). Encrypted PEM is refused with
/// [`DkimError::EncryptedKey`]. Its `Debug` output shows no key material.
pub struct SigningKey {
    kind: KeyKind,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SigningKey");
        d.field("algorithm", &self.algorithm());
        if let KeyKind::Rsa(k) = &self.kind {
            d.field("bits", &(k.public().modulus_len() * 8));
        }
        d.finish_non_exhaustive()
    }
}

/// DER of the rsaEncryption OID (1.2.840.113549.1.1.1).
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// DER of the id-Ed25519 OID (1.3.101.112).
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER of the id-Ed448 OID (1.3.101.113).
const OID_ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
/// DER of the id-ecPublicKey OID (1.2.840.10045.2.1).
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// True when the PKCS#8 AlgorithmIdentifier (within the first bytes) is `oid`.
fn pkcs8_is(der: &[u8], oid: &[u8]) -> bool {
    contains(der.get(..32).unwrap_or(der), oid)
}

fn rsa_key(r: Result<RsaKeyPair, ring::error::KeyRejected>) -> Result<SigningKey, DkimError> {
    match r {
        Ok(k) => Ok(SigningKey {
            kind: KeyKind::Rsa(k),
        }),
        Err(e) if e.to_string() == "TooSmall" => Err(DkimError::RsaKeyTooSmall),
        Err(e) => Err(DkimError::InvalidKey(format!("RSA key rejected: {e}"))),
    }
}

impl SigningKey {
    /// Loads the first private key in `pem`: PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8
    /// (`PRIVATE KEY`, RSA or Ed25519). Other PEM sections (certificates) are skipped.
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, DkimError> {
        if contains(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || contains(pem, b"Proc-Type: 4,ENCRYPTED")
        {
            return Err(DkimError::EncryptedKey);
        }
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
            pem::Error::NoItemsFound => DkimError::Pem(
                "no private key found (expected \"RSA PRIVATE KEY\" or \"PRIVATE KEY\")".into(),
            ),
            other => DkimError::Pem(other.to_string()),
        })?;
        match der {
            PrivateKeyDer::Pkcs1(k) => rsa_key(RsaKeyPair::from_der(k.secret_pkcs1_der())),
            PrivateKeyDer::Pkcs8(k) => {
                let der = k.secret_pkcs8_der();
                let ed25519 = |der| {
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map(|k| SigningKey {
                        kind: KeyKind::Ed25519(k),
                    })
                };
                if pkcs8_is(der, OID_RSA) {
                    rsa_key(RsaKeyPair::from_pkcs8(der))
                } else if pkcs8_is(der, OID_ED25519) {
                    ed25519(der)
                        .map_err(|e| DkimError::InvalidKey(format!("Ed25519 key rejected: {e}")))
                } else if pkcs8_is(der, OID_EC) {
                    Err(DkimError::UnsupportedKey(
                        "EC (ECDSA) key; DKIM signs with RSA or Ed25519".into(),
                    ))
                } else if pkcs8_is(der, OID_ED448) {
                    Err(DkimError::UnsupportedKey(
                        "Ed448 key; DKIM signs with RSA or Ed25519".into(),
                    ))
                } else {
                    Err(DkimError::InvalidKey(
                        "the PKCS#8 key is neither a valid RSA nor a valid Ed25519 key".into(),
                    ))
                }
            }
            PrivateKeyDer::Sec1(_) => Err(DkimError::UnsupportedKey(
                "EC (SEC1) key; DKIM signs with RSA or Ed25519".into(),
            )),
            _ => Err(DkimError::UnsupportedKey(
                "unknown private key format".into(),
            )),
        }
    }

    /// Reads `path` and loads its key as [`from_pem`](Self::from_pem) does.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<SigningKey, DkimError> {
        let pem = std::fs::read(path.as_ref()).map_err(DkimError::Io)?;
        SigningKey::from_pem(&pem)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.kind {
            KeyKind::Rsa(_) => Algorithm::RsaSha256,
            KeyKind::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The DNS TXT record to publish at `<selector>._domainkey.<domain>`:
    /// `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>` or
    /// `v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>` (RFC 8463).
    ///
    /// An RSA record is longer than 255 octets: publish it as several strings of one TXT
    /// record, which verifiers concatenate.
    pub fn dns_txt_record(&self) -> String {
        let p = match &self.kind {
            KeyKind::Rsa(k) => STANDARD.encode(rsa_spki(k.public().as_ref())),
            KeyKind::Ed25519(k) => STANDARD.encode(k.public_key().as_ref()),
        };
        format!("v=DKIM1; k={}; p={p}", self.algorithm().key_type())
    }

    /// Signs the hash input `data` (RFC 6376 §3.7): RSA over SHA-256 of `data`, Ed25519 over
    /// the SHA-256 digest of `data` (RFC 8463 §3).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DkimError> {
        match &self.kind {
            KeyKind::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .map_err(|_| DkimError::Signing)?;
                Ok(sig)
            }
            KeyKind::Ed25519(k) => Ok(k.sign(digest(&SHA256, data).as_ref()).as_ref().to_vec()),
        }
    }
}

/// DER length octets.
fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

fn der_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_len(content.len(), out);
    out.extend_from_slice(content);
}

/// Wraps a DER `RSAPublicKey` in a `SubjectPublicKeyInfo` (what `openssl pkey -pubout` prints).
fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    let mut alg = Vec::with_capacity(15);
    alg.extend_from_slice(OID_RSA);
    alg.extend_from_slice(&[0x05, 0x00]);
    let mut bits = Vec::with_capacity(rsa_public_key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(rsa_public_key);
    let mut inner = Vec::with_capacity(bits.len() + 24);
    der_tlv(0x30, &alg, &mut inner);
    der_tlv(0x03, &bits, &mut inner);
    let mut out = Vec::with_capacity(inner.len() + 4);
    der_tlv(0x30, &inner, &mut out);
    out
}

/// What to sign and how: the signing domain (`d=`), selector (`s=`), key, canonicalisation
/// and the header fields to sign. Defaults: relaxed/relaxed, [`DEFAULT_HEADERS`] signed with
/// [`DEFAULT_OVERSIGNED`] oversigned, `t=` on, no `x=`, no `i=`, no `l=`.
#[derive(Debug)]
pub struct Signer {
    domain: String,
    selector: String,
    key: SigningKey,
    header_canon: Canonicalization,
    body_canon: Canonicalization,
    headers: Vec<String>,
    oversign: Vec<String>,
    body_length: bool,
    timestamp: bool,
    expiration: Option<Duration>,
    identity: Option<String>,
}

impl Signer {
    /// A signer for `d=domain`, `s=selector` with `key` (whose type sets `a=`), with the
    /// defaults above. The domain and selector are checked when signing.
    pub fn new(domain: &str, selector: &str, key: SigningKey) -> Signer {
        Signer {
            domain: domain.to_string(),
            selector: selector.to_string(),
            key,
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            headers: DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
            oversign: DEFAULT_OVERSIGNED.iter().map(|h| h.to_string()).collect(),
            body_length: false,
            timestamp: true,
            expiration: None,
            identity: None,
        }
    }

    /// Sets the header and body canonicalisation (the `c=` tag).
    pub fn canonicalization(mut self, header: Canonicalization, body: Canonicalization) -> Signer {
        self.header_canon = header;
        self.body_canon = body;
        self
    }

    /// Replaces the header field names to sign. Each name (ASCII case-insensitive; repeats
    /// are ignored) covers every instance present in the message, bottom-up; names absent
    /// from the message are left out of `h=` unless they are oversigned (see
    /// [`oversign`](Self::oversign), which applies to the names given here); `From` is added
    /// first if missing from `names`. Names are checked when signing
    /// ([`DkimError::InvalidHeaderName`]).
    pub fn headers(mut self, names: &[&str]) -> Signer {
        self.headers = names.iter().map(|h| h.to_string()).collect();
        self
    }

    /// Replaces the set of header field names to oversign (default [`DEFAULT_OVERSIGNED`]);
    /// `oversign(&[])` turns oversigning off. ASCII case-insensitive; checked when signing
    /// ([`DkimError::InvalidHeaderName`]).
    ///
    /// Why: `h=` names instances, and verifiers take them from the bottom up (RFC 6376
    /// §5.4.2), so an instance added above the signed ones is not covered. Without
    /// oversigning, anyone relaying the message can add a second `From:` or `Subject:` on top
    /// and the signature still verifies, while many mail readers show the added one
    /// (RFC 6376 §8.15). An oversigned name is listed once more than it occurs (once when
    /// absent), and that extra entry, which matches nothing at signing time, makes any added
    /// instance break the signature.
    ///
    /// Oversigning applies to the names that are signed (the [`headers`](Self::headers)
    /// list, plus `From`); a name of this set that is not signed has no effect, so to
    /// oversign an extra field, list it in both. The cost: a legitimate later addition of an
    /// oversigned field (a list adding `Reply-To:`, say) breaks the signature too.
    ///
    /// ```no_run
    /// use smtpkit::dkim::{Signer, SigningKey};
    ///
    /// let key = SigningKey::from_pem_file("/etc/dkim/mail.pem")?;
    /// // Oversign only From and Subject; the other signed fields are listed once per instance.
    /// let signer = Signer::new("example.com", "mail", key).oversign(&["From", "Subject"]);
    /// let signed = signer.sign(b"From: a@example.com\r\nSubject: hi\r\n\r\nHello\r\n")?;
    /// // h=From:From:Subject:Subject
    /// # let _ = signed;
    /// # Ok::<(), smtpkit::dkim::DkimError>(())
    /// ```
    pub fn oversign(mut self, names: &[&str]) -> Signer {
        self.oversign = names.iter().map(|h| h.to_string()).collect();
        self
    }

    /// Adds an `x=` expiration this long after signing time (rounded up to whole seconds,
    /// at least one).
    pub fn expiration(mut self, d: Duration) -> Signer {
        self.expiration = Some(d);
        self
    }

    /// Whether to add the `t=` signing timestamp (default on).
    pub fn timestamp(mut self, on: bool) -> Signer {
        self.timestamp = on;
        self
    }

    /// Sets the agent or user identifier `i=`: `[local-part]@domain`, where domain is `d=` or
    /// a subdomain of it (checked when signing). Characters of the local part outside
    /// DKIM-safe ASCII are written in dkim-quoted-printable.
    pub fn identity(mut self, i: &str) -> Signer {
        self.identity = Some(i.to_string());
        self
    }

    /// Whether to add the `l=` body length tag (default off). It lets intermediaries append
    /// to the body without breaking the signature, and so lets anyone append content: leave
    /// it off unless you need it.
    pub fn body_length(mut self, on: bool) -> Signer {
        self.body_length = on;
        self
    }

    /// The algorithm (`a=`) this signer uses, from its key.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The complete `DKIM-Signature: ...` header field for `message`, CRLF-terminated and
    /// folded with CRLF TAB so that its lines stay within 78 octets (a single tag longer than
    /// that, such as a very long `d=`, gets a line of its own). It is valid for `message` with its line endings
    /// normalised to CRLF (see the [module docs](self)), which is what [`Signer::sign`]
    /// returns and what [`crate::client`] transmits.
    pub fn signature_header(&self, message: &[u8]) -> Result<String, DkimError> {
        let message = normalize_line_endings(message);
        self.header_at(&message, unix_now())
    }

    /// [`signature_header`](Self::signature_header) as if signed at `now` (for `t=` and
    /// `x=`): reproducible signatures, and test messages whose signature has expired.
    pub fn signature_header_at(
        &self,
        message: &[u8],
        now: SystemTime,
    ) -> Result<String, DkimError> {
        let message = normalize_line_endings(message);
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.header_at(&message, secs)
    }

    /// `message` with line endings normalised to CRLF (a bare LF or bare CR becomes CRLF, an
    /// unterminated last line gets one) and the `DKIM-Signature` header field prepended.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DkimError> {
        let message = normalize_line_endings(message);
        let header = self.header_at(&message, unix_now())?;
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&message);
        Ok(out)
    }

    /// The signature header for a message whose line endings are already CRLF, at Unix time
    /// `now`.
    fn header_at(&self, message: &[u8], now: u64) -> Result<String, DkimError> {
        if !valid_domain(&self.domain) {
            return Err(DkimError::InvalidDomain(self.domain.clone()));
        }
        if !valid_domain(&self.selector) {
            return Err(DkimError::InvalidSelector(self.selector.clone()));
        }
        let identity = match &self.identity {
            Some(i) => Some(encode_identity(i, &self.domain)?),
            None => None,
        };
        let (fields, body) = parse_message(message);
        let names = self.signed_names(&fields)?;
        let selected = select_fields(&fields, &names);

        let canon_body = canonicalize_body(self.body_canon, body);
        let bh = STANDARD.encode(digest(&SHA256, &canon_body));

        let mut tags: Vec<String> = vec![
            "v=1;".into(),
            format!("a={};", self.key.algorithm().name()),
            format!("c={}/{};", self.header_canon, self.body_canon),
            format!("d={};", self.domain),
            format!("s={};", self.selector),
        ];
        if let Some(i) = identity {
            tags.push(format!("i={i};"));
        }
        let now = now.min(MAX_TIME);
        if self.timestamp {
            tags.push(format!("t={now};"));
        }
        if let Some(d) = self.expiration {
            let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
            let x = now.saturating_add(secs.max(1)).min(MAX_TIME);
            tags.push(format!("x={x};"));
        }
        if self.body_length {
            tags.push(format!("l={};", canon_body.len()));
        }

        let mut folder = Folder::new("DKIM-Signature:");
        for tag in &tags {
            folder.token(true, tag);
        }
        // h=: may fold after each ':' (RFC 6376 §3.5 allows FWS around the colons).
        let count = names.len();
        for (n, name) in names.iter().enumerate() {
            let last = n + 1 == count;
            let token = match (n, last) {
                (0, true) => format!("h={name};"),
                (0, false) => format!("h={name}:"),
                (_, true) => format!("{name};"),
                (_, false) => format!("{name}:"),
            };
            folder.token(n == 0, &token);
        }
        folder.token(true, &format!("bh={bh};"));
        // "b=" with room for at least one character of its value on the same line, so the
        // signed prefix ends exactly at "b=" whatever the value turns out to be.
        folder.token_with_room(true, "b=", 1);

        let mut data = Vec::new();
        for field in &selected {
            data.extend_from_slice(&canonicalize_header(self.header_canon, field.raw));
        }
        // The signature field itself, with an empty b= value and no trailing CRLF (§3.7).
        match self.header_canon {
            Canonicalization::Simple => data.extend_from_slice(folder.out.as_bytes()),
            Canonicalization::Relaxed => {
                let c = relaxed_header(folder.out.as_bytes());
                data.extend_from_slice(c.strip_suffix(b"\r\n").unwrap_or(&c));
            }
        }
        let signature = STANDARD.encode(self.key.sign(&data)?);
        folder.value(&signature);
        folder.out.push_str("\r\n");
        Ok(folder.out)
    }

    /// The `h=` list: each distinct configured name (From first if missing) repeated once per
    /// instance in the message, absent names left out; an oversigned name is repeated once
    /// more (so an absent one is listed once).
    fn signed_names(&self, fields: &[Field<'_>]) -> Result<Vec<String>, DkimError> {
        if let Some(bad) = self.oversign.iter().find(|n| !valid_field_name(n)) {
            return Err(DkimError::InvalidHeaderName(bad.clone()));
        }
        let mut distinct: Vec<&str> = Vec::new();
        for name in &self.headers {
            if !valid_field_name(name) {
                return Err(DkimError::InvalidHeaderName(name.clone()));
            }
            if !distinct.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                distinct.push(name);
            }
        }
        if !distinct.iter().any(|d| d.eq_ignore_ascii_case("From")) {
            distinct.insert(0, "From");
        }
        let mut names = Vec::new();
        for name in distinct {
            let present = fields.iter().filter(|f| f.is(name)).count();
            if present == 0 && name.eq_ignore_ascii_case("From") {
                return Err(DkimError::MissingFrom);
            }
            let oversigned = self.oversign.iter().any(|o| o.eq_ignore_ascii_case(name));
            let listed = present + usize::from(oversigned);
            names.extend(std::iter::repeat_n(name.to_string(), listed));
        }
        Ok(names)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Builds the folded header text, tracking the current line's length.
struct Folder {
    out: String,
    col: usize,
}

impl Folder {
    fn new(start: &str) -> Folder {
        Folder {
            out: start.to_string(),
            col: start.len(),
        }
    }

    fn token(&mut self, space: bool, token: &str) {
        self.token_with_room(space, token, 0);
    }

    /// Appends `token` (after a space if `space`), first folding with CRLF TAB when the
    /// token and `room` more octets would pass [`FOLD_AT`] on the current line.
    fn token_with_room(&mut self, space: bool, token: &str, room: usize) {
        let need = token.len() + usize::from(space) + room;
        if self.col + need > FOLD_AT && self.col > 1 {
            self.out.push_str("\r\n\t");
            self.col = 1;
        } else if space {
            self.out.push(' ');
            self.col += 1;
        }
        self.out.push_str(token);
        self.col += token.len();
    }

    /// Appends an ASCII value that may be folded anywhere (a base64 string).
    fn value(&mut self, value: &str) {
        for c in value.chars() {
            if self.col >= FOLD_AT {
                self.out.push_str("\r\n\t");
                self.col = 1;
            }
            self.out.push(c);
            self.col += c.len_utf8();
        }
    }
}

/// A domain name or selector: dot-separated non-empty labels of ASCII letters, digits, `-`
/// and `_`, at most 253 octets.
fn valid_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A header field name (RFC 5322 ftext: printable ASCII but `:`), also without `;`, which
/// would end the `h=` tag.
fn valid_field_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (33..=126).contains(&b) && b != b':' && b != b';')
}

/// Checks `i=` against `d=` and encodes its local part in dkim-quoted-printable.
fn encode_identity(identity: &str, domain: &str) -> Result<String, DkimError> {
    let bad = || DkimError::InvalidIdentity(identity.to_string());
    let (local, idomain) = identity.rsplit_once('@').ok_or_else(bad)?;
    let d = domain.to_ascii_lowercase();
    let i = idomain.to_ascii_lowercase();
    let subdomain = i
        .strip_suffix(d.as_str())
        .is_some_and(|prefix| prefix.is_empty() || prefix.ends_with('.'));
    if !valid_domain(idomain) || !subdomain {
        return Err(bad());
    }
    let mut out = String::with_capacity(identity.len());
    for b in local.bytes() {
        // dkim-safe-char: %x21-3A / %x3C / %x3E-7E (RFC 6376 §2.11).
        if (0x21..=0x7e).contains(&b) && b != b';' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out.push('@');
    out.push_str(idomain);
    Ok(out)
}

/// CRLF everywhere: a bare CR or bare LF becomes CRLF, and a non-empty message whose last
/// line is unterminated gets a CRLF (what [`crate::data::DotStuffer`] sends).
fn normalize_line_endings(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    let mut bytes = message.iter().peekable();
    while let Some(&b) = bytes.next() {
        match b {
            b'\r' => {
                if bytes.peek() == Some(&&b'\n') {
                    bytes.next();
                }
                out.extend_from_slice(b"\r\n");
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One header field: its raw bytes (all its lines, with their CRLFs) and its name (the
/// bytes before the colon, trailing whitespace removed; empty when there is no colon).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) name: &'a [u8],
}

impl Field<'_> {
    pub(crate) fn is(&self, name: &str) -> bool {
        !self.name.is_empty() && self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_wsp_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_wsp(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Position of the first CRLF in `s`.
fn find_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

/// Splits a CRLF message into header fields and body (what follows the first empty line;
/// empty when there is none). A line starting with SP or HTAB continues the previous field.
pub(crate) fn parse_message(message: &[u8]) -> (Vec<Field<'_>>, &[u8]) {
    // (start, end) of each field in `message`.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut body: &[u8] = &[];
    let mut pos = 0;
    while let Some(rest) = message.get(pos..).filter(|r| !r.is_empty()) {
        let len = find_crlf(rest).map_or(rest.len(), |i| i + 2);
        if rest.starts_with(b"\r\n") {
            body = rest.get(2..).unwrap_or(&[]);
            break;
        }
        let continuation = rest.first().is_some_and(|&b| is_wsp(b));
        match spans.last_mut() {
            Some(span) if continuation => span.1 = pos + len,
            _ => spans.push((pos, pos + len)),
        }
        pos += len;
    }
    let fields = spans
        .into_iter()
        .filter_map(|(start, end)| {
            let raw = message.get(start..end)?;
            let name = match raw.iter().position(|&b| b == b':') {
                Some(colon) => trim_wsp_end(raw.get(..colon).unwrap_or(&[])),
                None => &[],
            };
            Some(Field { raw, name })
        })
        .collect();
    (fields, body)
}

/// The fields `names` designates, each name taking the bottom-most instance not yet taken
/// (RFC 6376 §5.4.2). A name with no instance left selects nothing.
fn select_fields<'a>(fields: &[Field<'a>], names: &[String]) -> Vec<Field<'a>> {
    let mut used = vec![false; fields.len()];
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let found = fields
            .iter()
            .enumerate()
            .rev()
            .find(|(i, f)| !used.get(*i).copied().unwrap_or(true) && f.is(name));
        if let Some((i, f)) = found {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
            out.push(*f);
        }
    }
    out
}

/// One header field canonicalised (RFC 6376 §3.4.1, §3.4.2), CRLF-terminated as given.
pub(crate) fn canonicalize_header(c: Canonicalization, raw: &[u8]) -> Vec<u8> {
    match c {
        Canonicalization::Simple => raw.to_vec(),
        Canonicalization::Relaxed => relaxed_header(raw),
    }
}

/// Relaxed header canonicalisation: lowercase name, unfolded value, whitespace runs as one
/// SP, no whitespace around the colon or at the end, then CRLF.
pub(crate) fn relaxed_header(raw: &[u8]) -> Vec<u8> {
    let (name, value) = match raw.iter().position(|&b| b == b':') {
        Some(colon) => (
            raw.get(..colon).unwrap_or(&[]),
            raw.get(colon + 1..).unwrap_or(&[]),
        ),
        None => (raw, &[][..]),
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend(trim_wsp_end(name).iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    // Unfold: drop every CRLF.
    let mut unfolded = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        if b == b'\r' && value.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else {
            unfolded.push(b);
            i += 1;
        }
    }
    push_compressed(&mut out, &unfolded);
    out.extend_from_slice(b"\r\n");
    out
}

/// Appends `s` with leading and trailing WSP removed and inner WSP runs as one SP.
fn push_compressed(out: &mut Vec<u8>, s: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &b in s {
        if is_wsp(b) {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// The canonical body (RFC 6376 §3.4.3, §3.4.4).
pub(crate) fn canonicalize_body(c: Canonicalization, body: &[u8]) -> Vec<u8> {
    match c {
        Canonicalization::Simple => {
            // Drop all empty lines at the end; an empty body (or one not ending in CRLF)
            // gets a CRLF.
            let mut end = body;
            while let Some(rest) = end.strip_suffix(b"\r\n") {
                end = rest;
            }
            let mut out = Vec::with_capacity(end.len() + 2);
            out.extend_from_slice(end);
            out.extend_from_slice(b"\r\n");
            out
        }
        Canonicalization::Relaxed => {
            // Lines: WSP runs become one SP, WSP at line ends goes; an unterminated last
            // line counts as a line; empty lines at the end go; an empty body stays empty.
            let mut lines: Vec<Vec<u8>> = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let (line, next) = match find_crlf(rest) {
                    Some(i) => (
                        rest.get(..i).unwrap_or(&[]),
                        rest.get(i + 2..).unwrap_or(&[]),
                    ),
                    None => (rest, &[][..]),
                };
                lines.push(relaxed_body_line(line));
                rest = next;
            }
            while lines.last().is_some_and(|l| l.is_empty()) {
                lines.pop();
            }
            let mut out = Vec::with_capacity(body.len());
            for line in lines {
                out.extend_from_slice(&line);
                out.extend_from_slice(b"\r\n");
            }
            out
        }
    }
}

/// One body line, relaxed: WSP runs as one SP, no WSP at the end (leading WSP stays, as SP).
fn relaxed_body_line(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut in_wsp = false;
    for &b in line {
        if is_wsp(b) {
            in_wsp = true;
        } else {
            if in_wsp {
                out.push(b' ');
                in_wsp = false;
            }
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
#[path = "dkim_tests.rs"]
mod tests;
