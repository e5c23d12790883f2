//! Inbound authentication: is this mail authentic? DKIM verification (RFC 6376, RFC 8463),
//! SPF (RFC 7208), DMARC (RFC 7489) and the Authentication-Results header (RFC 8601), all
//! synchronous, over a [`Resolver`](crate::dns::Resolver).
//!
//! The results of each check are plain types shared by the checks and the header writer:
//! [`DkimOutcome`], [`SpfOutcome`], [`DmarcOutcome`].

pub mod check;
pub mod dkim;
pub mod dmarc;
pub mod results;
pub mod spf;

use std::fmt;

/// A DKIM result (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimResult {
    /// The message was not signed.
    None,
    /// A valid signature.
    Pass,
    /// The signature did not verify (body hash or signature mismatch).
    Fail,
    /// The signature verified but is not acceptable by local policy (e.g. rsa-sha1, `l=`
    /// covering only part of the body, a key shorter than allowed).
    Policy,
    /// The signature could not be processed (e.g. a syntax error in a tag the verifier needs
    /// that does not make it permanently invalid); RFC 8601's `neutral`.
    Neutral,
    /// A temporary failure (DNS timeout or SERVFAIL for the key).
    TempError,
    /// A permanent failure: malformed signature, no key, revoked key, expired signature...
    PermError,
}

/// The result of checking one DKIM-Signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimOutcome {
    /// The result.
    pub result: DkimResult,
    /// The signing domain (`d=`), lower-cased; empty when it could not be read.
    pub domain: String,
    /// The selector (`s=`); empty when it could not be read.
    pub selector: String,
    /// The agent or user identifier (`i=`), when given.
    pub identity: Option<String>,
    /// The algorithm as written (`a=`, e.g. `rsa-sha256`).
    pub algorithm: String,
    /// The start of the signature (`b=`), at most 8 characters: RFC 6008's `header.b`, which
    /// tells several signatures of one domain apart.
    pub header_b: String,
    /// Why it is not a pass, in words (for the header's comment and the logs).
    pub reason: Option<String>,
}

/// An SPF result (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No SPF record, or no checkable domain.
    None,
    /// The domain makes no assertion (`?all`).
    Neutral,
    /// The client is authorized.
    Pass,
    /// The client is not authorized (`-all`).
    Fail,
    /// Probably not authorized (`~all`).
    SoftFail,
    /// A temporary DNS failure.
    TempError,
    /// The record could not be interpreted (syntax error, over the lookup limits...).
    PermError,
}

/// Which identity an SPF check was about (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfIdentity {
    /// The HELO/EHLO name.
    Helo,
    /// The MAIL FROM address (or `postmaster@` the HELO name for a null reverse path).
    MailFrom,
}

/// The result of one SPF check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The result.
    pub result: SpfResult,
    /// Which identity was checked.
    pub identity: SpfIdentity,
    /// The checked identity as written in the header: the MAIL FROM address
    /// (`smtp.mailfrom`) or the HELO name (`smtp.helo`).
    pub subject: String,
    /// The domain whose policy was evaluated, lower-cased.
    pub domain: String,
    /// The explanation (`exp=`) of a fail, when the domain gives one.
    pub explanation: Option<String>,
    /// Why (for temperror/permerror/none), in words.
    pub reason: Option<String>,
}

/// A DMARC result (RFC 7489 §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// No DMARC record for the From domain or its organizational domain.
    None,
    /// An aligned DKIM or SPF pass.
    Pass,
    /// No aligned pass.
    Fail,
    /// A temporary DNS failure.
    TempError,
    /// The From header could not be used (none, several, no domain) or the record is invalid.
    PermError,
}

/// A DMARC policy (`p=`, `sp=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `none`: monitor only.
    None,
    /// `quarantine`.
    Quarantine,
    /// `reject`.
    Reject,
}

/// The result of the DMARC evaluation of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// The result.
    pub result: DmarcResult,
    /// The RFC 5322 From domain (`header.from`), lower-cased; empty if there was none.
    pub from_domain: String,
    /// The policy that applies (`sp=` for a subdomain when given), when a record was found.
    pub policy: Option<Policy>,
    /// What the receiver should do with a failing message, after `pct=` sampling: `None` for a
    /// pass or no record.
    pub disposition: Policy,
    /// Why, in words.
    pub reason: Option<String>,
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DkimResult::None => "none",
            DkimResult::Pass => "pass",
            DkimResult::Fail => "fail",
            DkimResult::Policy => "policy",
            DkimResult::Neutral => "neutral",
            DkimResult::TempError => "temperror",
            DkimResult::PermError => "permerror",
        })
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        })
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        })
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        })
    }
}

pub use check::{Checker, Identity};
pub use results::AuthResults;
