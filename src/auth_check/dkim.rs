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
//! Streaming a message from a file (or the DATA reader of a session), with one DNS cache
//! for the whole program:
//!
//! ```no_run
//! use std::io::Read;
//! use std::time::SystemTime;
//! use smtpkit::auth_check::dkim::{DkimVerifier, VerifyOptions};
//! use smtpkit::dns::{CachingResolver, DnsConfig, StubResolver};
//!
//! // Build once; share between session threads (behind an Arc).
//! let dns = CachingResolver::new(StubResolver::new(DnsConfig::from_system()));
//! let mut message = std::fs::File::open("message.eml")?;
//! let mut verifier = DkimVerifier::with_options(VerifyOptions::new().max_signatures(5));
//! let mut buf = [0u8; 8192];
//! loop {
//!     let n = message.read(&mut buf)?;
//!     if n == 0 {
//!         break;
//!     }
//!     verifier.update(&buf[..n]);
//! }
//! for o in verifier.finish(&dns, SystemTime::now()) {
//!     println!("dkim={} header.d={} header.b={} {:?}", o.result, o.domain, o.header_b, o.reason);
//! }
//! # Ok::<(), std::io::Error>(())
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::digest;
use ring::signature::{self, UnparsedPublicKey};

mod body;
mod record;

pub use record::{KeyRecord, KeyType, SigAlgorithm, Signature, TagError, parse_tag_list};

use body::{BodyCanon, BodyHash, BodyStream};
use record::{is_fws, no_fws};

use super::{DkimOutcome, DkimResult};
use crate::dkim::{
    Canonicalization, Field, canonicalize_header, is_wsp, parse_message, relaxed_header,
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
        // Field indices by lower-case name, for the bottom-up selection of each h= list in
        // time proportional to its length.
        let mut by_name: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, f) in fields.iter().enumerate() {
            if !f.name.is_empty() {
                by_name
                    .entry(f.name.to_ascii_lowercase())
                    .or_default()
                    .push(i);
            }
        }
        let mut keys: HashMap<String, Result<Vec<String>, DnsError>> = HashMap::new();
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let mut outcome = p.outcome;
            if let (Some(sig), Some((s, h))) = (&p.sig, p.hash) {
                let hash = streams.get(s).and_then(|s| s.hashes.get(h));
                let check = Check {
                    options: &self.options,
                    fields: &fields,
                    by_name: &by_name,
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
    by_name: &'a HashMap<Vec<u8>, Vec<usize>>,
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
        let mut data = Vec::new();
        // How many instances of each name h= has taken so far (RFC 6376 §5.4.2: bottom-up;
        // a name with no instance left selects nothing).
        let mut taken: HashMap<Vec<u8>, usize> = HashMap::new();
        for name in &self.sig.headers {
            let key = name.as_bytes().to_ascii_lowercase();
            let Some(indices) = self.by_name.get(&key) else {
                continue;
            };
            let n = taken.entry(key).or_insert(0);
            let field = indices
                .len()
                .checked_sub(*n + 1)
                .and_then(|i| indices.get(i))
                .and_then(|&i| self.fields.get(i));
            *n += 1;
            if let Some(f) = field {
                data.extend_from_slice(&canonicalize_header(canon, f.raw));
            }
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
