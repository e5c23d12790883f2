//! SPF (RFC 7208). To be written: the interface below is fixed.

use std::net::IpAddr;

use super::{SpfIdentity, SpfOutcome, SpfResult};
use crate::dns::Resolver;

/// The SPF check of the MAIL FROM identity: `mail_from` is the reverse path without angle
/// brackets (empty for the null path, in which case `postmaster@helo` is checked).
pub fn check_mail_from(
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    resolver: &dyn Resolver,
) -> SpfOutcome {
    let _ = (ip, helo, resolver);
    SpfOutcome {
        result: SpfResult::None,
        identity: SpfIdentity::MailFrom,
        subject: mail_from.to_string(),
        domain: String::new(),
        explanation: None,
        reason: None,
    }
}

/// The SPF check of the HELO identity.
pub fn check_helo(ip: IpAddr, helo: &str, resolver: &dyn Resolver) -> SpfOutcome {
    let _ = (ip, resolver);
    SpfOutcome {
        result: SpfResult::None,
        identity: SpfIdentity::Helo,
        subject: helo.to_string(),
        domain: String::new(),
        explanation: None,
        reason: None,
    }
}
