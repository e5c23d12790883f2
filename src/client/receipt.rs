//! What a send produced: the receipt, each recipient's result and outcome, and how TLS was
//! checked. Plain values; `email` (what to send) and `error` (what failed) both use them.

use std::fmt;

use crate::address::Mailbox;
use crate::reply::Reply;

/// What became of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server took responsibility for the message for this recipient.
    Delivered,
    /// Refused for good (5xx): not retried.
    Refused,
    /// Refused for now (4xx, or a 421 closing the connection): the only outcome retried.
    Deferred,
    /// The connection was lost after the final dot before this recipient's reply (LMTP: before
    /// its own reply): the server may have the message. Never retried (that could deliver
    /// twice).
    Unknown,
}

impl Outcome {
    /// The outcome a reply stands for.
    pub(crate) fn of(reply: &Reply) -> Outcome {
        match reply.code {
            200..=399 => Outcome::Delivered,
            400..=499 => Outcome::Deferred,
            _ => Outcome::Refused,
        }
    }
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient.
    pub mailbox: Mailbox,
    /// For an accepted recipient, the final reply to the message (LMTP: its own reply after
    /// DATA); for a refused one, its RCPT reply.
    pub reply: Reply,
    /// The server took responsibility for the message for this recipient
    /// (`outcome == Outcome::Delivered`).
    pub delivered: bool,
    /// What became of it; [`Outcome::Unknown`] keeps `reply` at the RCPT reply.
    pub outcome: Outcome,
}

/// How a send ended overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every recipient was accepted.
    Delivered,
    /// Some recipients were accepted, others refused.
    Partial,
}

/// A successful send: at least one recipient has the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The host that took the message.
    pub host: String,
    /// The server's final reply (SMTP: the reply after DATA; LMTP: the first accepted
    /// recipient's reply).
    pub reply: Reply,
    /// Every recipient, in the order given. After retries, each recipient's result comes from
    /// the attempt that settled it (a retry goes only to the recipients deferred so far).
    pub recipients: Vec<RecipientResult>,
    /// How the session that took the message was protected (`None`: no TLS).
    pub tls: Option<TlsStatus>,
}

/// How a TLS session's server certificate was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsStatus {
    /// The certificate verified for the name checked.
    Verified,
    /// Encrypted, but the certificate did not verify (opportunistic TLS, RFC 7435): the reason.
    Unverified(String),
    /// Encrypted without verification, as chosen by the caller
    /// ([`ClientTrust::DangerAcceptAnyCertificate`](crate::tls::ClientTrust)).
    NotChecked,
}

impl fmt::Display for TlsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsStatus::Verified => f.write_str("TLS, certificate verified"),
            TlsStatus::Unverified(why) => write!(f, "TLS, certificate not verified: {why}"),
            TlsStatus::NotChecked => f.write_str("TLS, certificate not checked (insecure)"),
        }
    }
}

impl Receipt {
    /// Delivered to all, or only some.
    pub fn status(&self) -> Status {
        if self.recipients.iter().all(|r| r.delivered) {
            Status::Delivered
        } else {
            Status::Partial
        }
    }

    /// The recipients that were not delivered (refused, deferred or unknown).
    pub fn refused(&self) -> impl Iterator<Item = &RecipientResult> {
        self.recipients.iter().filter(|r| !r.delivered)
    }
}
