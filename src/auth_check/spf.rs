//! SPF (RFC 7208): is this client allowed to send for the MAIL FROM domain, or the HELO name?
//!
//! [`check_mail_from`] and [`check_helo`] give the [`SpfOutcome`] of an SMTP session's
//! identities; [`check_host`] is RFC 7208's `check_host()` function with configurable limits
//! ([`SpfOptions`]). Records are parsed whole before they are evaluated ([`Record::parse`],
//! pure), so a syntax error anywhere is a permerror; DNS goes through a
//! [`Resolver`], at most 10 lookup terms and 2 void lookups per check by
//! default.
//!
//! ```
//! use smtpkit::auth_check::SpfResult;
//! use smtpkit::auth_check::spf::check_mail_from;
//! use smtpkit::dns::StaticResolver;
//!
//! let dns = StaticResolver::new()
//!     .with_txt("example.org", "v=spf1 mx -all")
//!     .with_mx("example.org", 10, "mail.example.org")
//!     .with_a("mail.example.org", "192.0.2.10".parse().unwrap());
//! let ok = check_mail_from("192.0.2.10".parse().unwrap(), "alice@example.org", "mail.example.org", &dns);
//! assert_eq!(ok.result, SpfResult::Pass);
//! let bad = check_mail_from("198.51.100.7".parse().unwrap(), "alice@example.org", "x.example", &dns);
//! assert_eq!(bad.result, SpfResult::Fail);
//! assert_eq!(bad.domain, "example.org");
//! ```

mod eval;
mod macros;
mod record;
#[cfg(test)]
mod tests;

pub use macros::{MAX_EXPANSION_LEN, MacroContext, MacroError, MacroString, truncate_domain};
pub use record::{
    Directive, MAX_RECORD_LEN, Mechanism, Qualifier, Record, RecordError, is_spf_record,
};

use std::net::IpAddr;
use std::time::Duration;

use super::{SpfIdentity, SpfOutcome, SpfResult};
use crate::dns::Resolver;

/// The limits and local values of an evaluation. The defaults are RFC 7208's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOptions {
    /// Terms that cause DNS lookups (`include`, `a`, `mx`, `ptr`, `exists`, `redirect`) per
    /// check, includes and redirects counted (§4.6.4): 10. Over it: permerror.
    pub max_dns_mechanisms: usize,
    /// Lookups answered with no record or NXDOMAIN per check (§4.6.4): 2. Over it: permerror.
    pub max_void_lookups: usize,
    /// MX records an `mx` mechanism may return (§4.6.4): 10. Over it: permerror.
    pub max_mx_names: usize,
    /// PTR names a `ptr` mechanism or the `p` macro validates (§4.6.4): 10; the others are
    /// ignored.
    pub max_ptr_names: usize,
    /// Nesting of include/redirect (20, as pyspf; never above 64). Over it: permerror.
    pub max_depth: usize,
    /// Longest SPF record evaluated (4096 octets; RFC 7208 sets none, real records stay
    /// under 512). Longer: permerror.
    pub max_record_len: usize,
    /// Overall time for one check, checked before every DNS query (20 s, RFC 7208 §4.6.4's
    /// lowest allowed). Over it: temperror.
    pub max_time: Duration,
    /// The `%{r}` macro of explanations: the receiving host's name (default "unknown").
    pub receiver: String,
    /// The `%{t}` macro of explanations, in seconds since the epoch: `None` for the clock.
    pub timestamp: Option<u64>,
}

impl Default for SpfOptions {
    fn default() -> SpfOptions {
        SpfOptions {
            max_dns_mechanisms: 10,
            max_void_lookups: 2,
            max_mx_names: 10,
            max_ptr_names: 10,
            max_depth: 20,
            max_record_len: 4096,
            max_time: Duration::from_secs(20),
            receiver: "unknown".to_string(),
            timestamp: None,
        }
    }
}

/// What [`check_host`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResult {
    /// The result.
    pub result: SpfResult,
    /// The expanded `exp=` text of a fail, when the domain gives one.
    pub explanation: Option<String>,
    /// Why, in words, for none, temperror and permerror.
    pub reason: Option<String>,
}

/// RFC 7208's `check_host(ip, domain, sender)`, `helo` being the `%{h}` value.
///
/// An IPv4-mapped IPv6 `ip` is checked as IPv4. A `domain` that is not a valid multi-label
/// name gives `none` (§4.3); a `sender` without a local part is `postmaster@` its domain.
pub fn check_host(
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    resolver: &dyn Resolver,
    options: &SpfOptions,
) -> HostResult {
    eval::Eval::new(ip, sender, helo, resolver, options).run(domain)
}

/// The SPF check of the MAIL FROM identity: `mail_from` is the reverse path without angle
/// brackets (empty for the null path, in which case `postmaster@helo` is checked).
///
/// `subject` is the identity as checked (`postmaster@helo` for the null path), `domain` its
/// domain, lower-cased.
pub fn check_mail_from(
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    resolver: &dyn Resolver,
) -> SpfOutcome {
    check_mail_from_with(ip, mail_from, helo, resolver, &SpfOptions::default())
}

/// [`check_mail_from`] with options.
pub fn check_mail_from_with(
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    resolver: &dyn Resolver,
    options: &SpfOptions,
) -> SpfOutcome {
    let sender = if mail_from.is_empty() {
        format!("postmaster@{helo}")
    } else {
        mail_from.to_string()
    };
    let domain = match sender.rsplit_once('@') {
        Some((_, d)) => d,
        None => &sender,
    };
    let domain = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    let found = check_host(ip, &domain, &sender, helo, resolver, options);
    SpfOutcome {
        result: found.result,
        identity: SpfIdentity::MailFrom,
        subject: sender,
        domain,
        explanation: found.explanation,
        reason: found.reason,
    }
}

/// The SPF check of the HELO identity (§2.3): `none` for an address literal.
pub fn check_helo(ip: IpAddr, helo: &str, resolver: &dyn Resolver) -> SpfOutcome {
    check_helo_with(ip, helo, resolver, &SpfOptions::default())
}

/// [`check_helo`] with options.
pub fn check_helo_with(
    ip: IpAddr,
    helo: &str,
    resolver: &dyn Resolver,
    options: &SpfOptions,
) -> SpfOutcome {
    let domain = helo.strip_suffix('.').unwrap_or(helo).to_ascii_lowercase();
    let found = if crate::dns::parse_ip_literal(helo).is_some() {
        HostResult {
            result: SpfResult::None,
            explanation: None,
            reason: Some("the HELO name is an address literal".to_string()),
        }
    } else {
        let sender = format!("postmaster@{helo}");
        check_host(ip, &domain, &sender, helo, resolver, options)
    };
    SpfOutcome {
        result: found.result,
        identity: SpfIdentity::Helo,
        subject: helo.to_string(),
        domain,
        explanation: found.explanation,
        reason: found.reason,
    }
}
