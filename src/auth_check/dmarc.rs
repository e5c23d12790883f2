//! DMARC (RFC 7489, with RFC 9091's `np=` as an option): is the From domain's owner behind
//! this message?
//!
//! A message passes when a DKIM signature that passed, or the SPF check of the MAIL FROM
//! identity that passed, is *aligned* with the RFC 5322 From domain: the same domain (strict)
//! or the same organizational domain (relaxed). The organizational domain comes from the
//! Public Suffix List, compiled into the `psl` crate (no file, no network).
//!
//! The policy record is found at `_dmarc.<From domain>`, else at `_dmarc.<organizational
//! domain>` (RFC 7489 §6.6.3); a record found at the organizational domain for a subdomain
//! applies its `sp=` when given. `pct=` sampling picks a number in 0..100 per failing message
//! ([`Sampling`]); a message outside the sample gets the next less strict disposition
//! (§6.6.4).
//!
//! ```
//! use smtpkit::auth_check::{DkimOutcome, DkimResult, DmarcResult, SpfIdentity, SpfOutcome, SpfResult, dmarc};
//! use smtpkit::dns::StaticResolver;
//!
//! let dns = StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject");
//! let spf = SpfOutcome {
//!     result: SpfResult::Pass, identity: SpfIdentity::MailFrom,
//!     subject: "bounce@mail.example.org".into(), domain: "mail.example.org".into(),
//!     explanation: None, reason: None,
//! };
//! let out = dmarc::evaluate("example.org", &[], &spf, &dns);
//! assert_eq!(out.result, DmarcResult::Pass); // relaxed alignment: same organizational domain
//! ```

pub mod record;

use std::fmt;

use super::{DkimOutcome, DkimResult, DmarcOutcome, DmarcResult, Policy, SpfOutcome, SpfResult};
use crate::dns::{DnsError, Resolver};
use crate::mime::addr;
use record::{Alignment, Record, RecordError};

/// How `pct=` picks the failing messages its policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// A random number in 0..100 per message (the default).
    #[default]
    Random,
    /// This number (0..=99) for every message: the policy applies when it is below `pct`
    /// (so `Fixed(0)` always applies it when `pct` > 0, `Fixed(99)` only at `pct=100`).
    /// For tests and for deterministic setups.
    Fixed(u8),
}

/// How DMARC is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// `pct=` sampling (default random).
    pub sampling: Sampling,
    /// Apply RFC 9091's `np=` to a From domain that does not exist (NXDOMAIN or no A, AAAA and
    /// MX records), which costs up to three more lookups (default off: RFC 9091 is
    /// experimental).
    pub nonexistent_policy: bool,
}

/// The DMARC evaluation with its details: the [`DmarcOutcome`] and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The outcome (as [`evaluate`] returns it).
    pub outcome: DmarcOutcome,
    /// The record that applied, when one was found.
    pub record: Option<Record>,
    /// Where it was found (`example.org`, without `_dmarc.`).
    pub record_domain: Option<String>,
    /// The organizational domain of the From domain.
    pub organizational_domain: String,
    /// A passing DKIM signature is aligned.
    pub dkim_aligned: bool,
    /// The passing SPF check is aligned.
    pub spf_aligned: bool,
    /// The message fell outside `pct=` and got the next less strict disposition.
    pub sampled_out: bool,
}

/// Why the From domain of a message could not be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromError {
    /// The header section has no From field.
    Missing,
    /// It has several From fields.
    Several(usize),
    /// The From field names no mailbox with a domain.
    NoDomain,
    /// The From field names mailboxes in different domains.
    SeveralDomains(Vec<String>),
}

impl fmt::Display for FromError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromError::Missing => f.write_str("no From header"),
            FromError::Several(n) => write!(f, "{n} From headers"),
            FromError::NoDomain => f.write_str("no domain in the From header"),
            FromError::SeveralDomains(d) => {
                write!(f, "several domains in the From header: {}", d.join(", "))
            }
        }
    }
}

impl std::error::Error for FromError {}

/// The RFC 5322 From domain of a message, lower-cased, from its header section (the bytes up
/// to the blank line; a whole message works too). RFC 7489 §6.6.1: a message without a From
/// field or with several is refused; a From field with several mailboxes is accepted only when
/// they share one domain.
///
/// ```
/// use smtpkit::auth_check::dmarc::{FromError, from_domain};
/// assert_eq!(from_domain(b"Subject: x\r\nFrom: Al <al@Mail.Example.org>\r\n\r\nbody").unwrap(), "mail.example.org");
/// assert_eq!(from_domain(b"From: a@x.org\r\nFrom: b@y.org\r\n\r\n"), Err(FromError::Several(2)));
/// ```
pub fn from_domain(header_section: &[u8]) -> Result<String, FromError> {
    let mut values: Vec<String> = Vec::new();
    for field in header_fields(header_section) {
        if let Some((name, value)) = field.split_once(':') {
            if name.trim_end().eq_ignore_ascii_case("from") {
                values.push(value.to_string());
            }
        }
    }
    let value = match values.len() {
        0 => return Err(FromError::Missing),
        1 => &values[0],
        n => return Err(FromError::Several(n)),
    };
    let list = addr::parse_list_strict(value).unwrap_or_else(|_| addr::parse_list(value));
    let mut domains: Vec<String> = Vec::new();
    for m in addr::mailboxes(&list) {
        let Some((_, domain)) = m.addr.rsplit_once('@') else {
            continue;
        };
        let d = normalize(domain);
        if !d.is_empty() && !domains.contains(&d) {
            domains.push(d);
        }
    }
    match domains.len() {
        0 => Err(FromError::NoDomain),
        1 => Ok(domains.remove(0)),
        _ => Err(FromError::SeveralDomains(domains)),
    }
}

/// The header fields of a header section, unfolded, as text (bytes that are not UTF-8
/// replaced). Stops at the blank line.
pub(crate) fn header_fields(section: &[u8]) -> Vec<String> {
    let end = section
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| section.windows(2).position(|w| w == b"\n\n").map(|i| i + 1))
        .unwrap_or(section.len());
    let text = String::from_utf8_lossy(&section[..end]);
    let mut fields: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push_str(line);
            }
        } else if !line.is_empty() {
            fields.push(line.to_string());
        }
    }
    fields
}

/// Lower case, no trailing dot, no brackets (an address literal is not a domain: empty).
fn normalize(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.');
    if d.starts_with('[') || d.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return String::new();
    }
    d.to_lowercase()
}

/// The organizational domain (RFC 7489 §3.2) of a domain: its registrable domain by the
/// Public Suffix List (`mail.example.co.uk` → `example.co.uk`); a public suffix itself (or a
/// name the list cannot split) is its own organizational domain.
///
/// ```
/// use smtpkit::auth_check::dmarc::organizational_domain;
/// assert_eq!(organizational_domain("a.b.Example.CO.uk."), "example.co.uk");
/// assert_eq!(organizational_domain("co.uk"), "co.uk");
/// ```
pub fn organizational_domain(domain: &str) -> String {
    let d = normalize(domain);
    match psl::domain_str(&d) {
        Some(org) => org.to_string(),
        None => d,
    }
}

/// Whether two domains are aligned in `mode` (RFC 7489 §3.1): equal (strict), or with the
/// same organizational domain (relaxed). Case and a trailing dot do not matter; an empty
/// domain is never aligned.
pub fn aligned(from_domain: &str, other: &str, mode: Alignment) -> bool {
    let (a, b) = (normalize(from_domain), normalize(other));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    match mode {
        Alignment::Strict => a == b,
        Alignment::Relaxed => a == b || organizational_domain(&a) == organizational_domain(&b),
    }
}

/// Evaluates DMARC for a message whose From header names `from_domain`, given its DKIM
/// outcomes and the SPF outcome of its MAIL FROM identity, with the default [`Options`]
/// (random `pct=` sampling, no `np=`). An empty `from_domain` (no usable From header) is a
/// `permerror`.
pub fn evaluate(
    from_domain: &str,
    dkim: &[DkimOutcome],
    spf: &SpfOutcome,
    resolver: &dyn Resolver,
) -> DmarcOutcome {
    evaluate_with(from_domain, dkim, spf, resolver, &Options::default()).outcome
}

/// What discovery found at one name.
enum Found {
    /// No DMARC record there.
    Nothing,
    Record(Record),
    /// DMARC processing stops: several records, or an unusable one.
    Unusable(String),
    TempError(String),
}

fn lookup(name: &str, resolver: &dyn Resolver) -> Found {
    let owner = format!("_dmarc.{name}");
    let txts = match resolver.txt(&owner) {
        Ok(t) => t,
        Err(e) if e.is_permanent() => return Found::Nothing,
        Err(e) => return Found::TempError(format!("DNS lookup of {owner} failed: {e}")),
    };
    let mut records = txts.iter().filter(|t| record::is_dmarc(t));
    let Some(first) = records.next() else {
        return Found::Nothing;
    };
    if records.next().is_some() {
        return Found::Unusable(format!("several DMARC records at {owner}"));
    }
    match record::parse(first) {
        Ok(r) => Found::Record(r),
        Err(RecordError::NotDmarc) => Found::Nothing,
        Err(e) => Found::Unusable(format!("{e} at {owner}")),
    }
}

/// Whether a name is "non-existent" in RFC 9091's sense; a temporary failure says no.
fn nonexistent(domain: &str, resolver: &dyn Resolver) -> bool {
    fn empty<T>(r: Result<Vec<T>, DnsError>) -> bool {
        match r {
            Ok(v) => v.is_empty(),
            Err(e) => e.is_permanent(),
        }
    }
    empty(resolver.a(domain)) && empty(resolver.aaaa(domain)) && empty(resolver.mx(domain))
}

fn less_strict(p: Policy) -> Policy {
    match p {
        Policy::Reject => Policy::Quarantine,
        Policy::Quarantine | Policy::None => Policy::None,
    }
}

/// [`evaluate`] with options, returning the details too.
pub fn evaluate_with(
    from_domain: &str,
    dkim: &[DkimOutcome],
    spf: &SpfOutcome,
    resolver: &dyn Resolver,
    options: &Options,
) -> Evaluation {
    let from = normalize(from_domain);
    let org = organizational_domain(&from);
    let mut ev = Evaluation {
        outcome: DmarcOutcome {
            result: DmarcResult::None,
            from_domain: from.clone(),
            policy: None,
            disposition: Policy::None,
            reason: None,
        },
        record: None,
        record_domain: None,
        organizational_domain: org.clone(),
        dkim_aligned: false,
        spf_aligned: false,
        sampled_out: false,
    };
    let stop = |mut ev: Evaluation, result: DmarcResult, reason: String| {
        ev.outcome.result = result;
        ev.outcome.reason = Some(reason);
        ev
    };
    if from.is_empty() || !from.contains(|c: char| c != '.') {
        return stop(ev, DmarcResult::PermError, "no From domain".to_string());
    }

    // Discovery (RFC 7489 §6.6.3).
    let mut found = lookup(&from, resolver);
    let mut at = from.clone();
    if matches!(found, Found::Nothing) && org != from {
        found = lookup(&org, resolver);
        at = org.clone();
    }
    let record = match found {
        Found::Nothing => return stop(ev, DmarcResult::None, "no DMARC record".to_string()),
        Found::TempError(why) => return stop(ev, DmarcResult::TempError, why),
        Found::Unusable(why) => return stop(ev, DmarcResult::PermError, why),
        Found::Record(r) => r,
    };

    // Policy selection: a subdomain covered by its organizational domain's record.
    let policy = if at != from {
        match record.nonexistent_policy {
            Some(np) if options.nonexistent_policy && nonexistent(&from, resolver) => np,
            _ => record.subdomain_policy.unwrap_or(record.policy),
        }
    } else {
        record.policy
    };
    ev.outcome.policy = Some(policy);

    // Alignment: only passing results count.
    ev.dkim_aligned = dkim
        .iter()
        .any(|d| d.result == DkimResult::Pass && aligned(&from, &d.domain, record.adkim));
    let spf_domain = if spf.domain.is_empty() {
        spf.subject.rsplit('@').next().unwrap_or("")
    } else {
        spf.domain.as_str()
    };
    ev.spf_aligned = spf.result == SpfResult::Pass && aligned(&from, spf_domain, record.aspf);

    if ev.dkim_aligned || ev.spf_aligned {
        ev.outcome.result = DmarcResult::Pass;
        ev.outcome.disposition = Policy::None;
    } else {
        ev.outcome.result = DmarcResult::Fail;
        let sample = match options.sampling {
            Sampling::Fixed(n) => n.min(99),
            Sampling::Random => rand::random_range(0..100u8),
        };
        if sample < record.pct {
            ev.outcome.disposition = policy;
        } else {
            ev.outcome.disposition = less_strict(policy);
            ev.sampled_out = true;
        }
        ev.outcome.reason = Some(fail_reason(&from, dkim, spf, spf_domain, &record));
    }
    ev.record_domain = Some(at);
    ev.record = Some(record);
    ev
}

/// Why nothing aligned, in words: what passed and in which domain.
fn fail_reason(
    from: &str,
    dkim: &[DkimOutcome],
    spf: &SpfOutcome,
    spf_domain: &str,
    record: &Record,
) -> String {
    let passed: Vec<&str> = dkim
        .iter()
        .filter(|d| d.result == DkimResult::Pass)
        .map(|d| d.domain.as_str())
        .collect();
    let dkim_part = if passed.is_empty() {
        "no DKIM pass".to_string()
    } else {
        format!(
            "DKIM pass for {} not {} aligned",
            passed.join(","),
            record.adkim
        )
    };
    let spf_part = if spf.result == SpfResult::Pass {
        format!("SPF pass for {spf_domain} not {} aligned", record.aspf)
    } else {
        format!("SPF {}", spf.result)
    };
    format!("{dkim_part}, {spf_part} with {from}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth_check::SpfIdentity;
    use crate::dns::StaticResolver;

    fn dkim(result: DkimResult, d: &str) -> DkimOutcome {
        DkimOutcome {
            result,
            domain: d.to_string(),
            selector: "s".to_string(),
            identity: None,
            algorithm: "rsa-sha256".to_string(),
            header_b: "abcdefgh".to_string(),
            reason: None,
        }
    }

    fn spf(result: SpfResult, d: &str) -> SpfOutcome {
        SpfOutcome {
            result,
            identity: SpfIdentity::MailFrom,
            subject: format!("bounce@{d}"),
            domain: d.to_string(),
            explanation: None,
            reason: None,
        }
    }

    fn eval(dns: &StaticResolver, from: &str, d: &[DkimOutcome], s: &SpfOutcome) -> Evaluation {
        let opts = Options {
            sampling: Sampling::Fixed(0),
            nonexistent_policy: true,
        };
        evaluate_with(from, d, s, dns, &opts)
    }

    #[test]
    fn org_domains() {
        assert_eq!(organizational_domain("example.org"), "example.org");
        assert_eq!(organizational_domain("a.b.example.org"), "example.org");
        assert_eq!(organizational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("com"), "com");
        assert_eq!(organizational_domain("x.unknown-tld"), "x.unknown-tld");
    }

    #[test]
    fn alignment_modes() {
        use Alignment::*;
        assert!(aligned("example.org", "EXAMPLE.org.", Strict));
        assert!(!aligned("example.org", "mail.example.org", Strict));
        assert!(aligned("example.org", "mail.example.org", Relaxed));
        assert!(aligned("a.example.org", "b.example.org", Relaxed));
        assert!(!aligned("example.org", "example.net", Relaxed));
        assert!(!aligned("a.example.co.uk", "b.other.co.uk", Relaxed));
        assert!(!aligned("example.co.uk", "co.uk", Relaxed));
        assert!(!aligned("example.org", "", Relaxed));
    }

    #[test]
    fn pass_by_dkim_or_spf() {
        let dns = StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject");
        let none = spf(SpfResult::None, "");
        let e = eval(
            &dns,
            "example.org",
            &[dkim(DkimResult::Pass, "example.org")],
            &none,
        );
        assert_eq!(e.outcome.result, DmarcResult::Pass);
        assert!(e.dkim_aligned && !e.spf_aligned);
        assert_eq!(e.outcome.policy, Some(Policy::Reject));
        assert_eq!(e.outcome.disposition, Policy::None);
        let e = eval(
            &dns,
            "example.org",
            &[],
            &spf(SpfResult::Pass, "bounce.example.org"),
        );
        assert_eq!(e.outcome.result, DmarcResult::Pass);
        assert!(e.spf_aligned);
        // A failing signature of the right domain, an SPF softfail: no pass.
        let e = eval(
            &dns,
            "example.org",
            &[dkim(DkimResult::Fail, "example.org")],
            &spf(SpfResult::SoftFail, "example.org"),
        );
        assert_eq!(e.outcome.result, DmarcResult::Fail);
        assert_eq!(e.outcome.disposition, Policy::Reject);
        assert_eq!(
            e.outcome.reason.as_deref(),
            Some("no DKIM pass, SPF softfail with example.org")
        );
    }

    #[test]
    fn strict_modes() {
        let dns = StaticResolver::new().with_txt(
            "_dmarc.example.org",
            "v=DMARC1; p=quarantine; adkim=s; aspf=s",
        );
        let e = eval(
            &dns,
            "example.org",
            &[dkim(DkimResult::Pass, "mail.example.org")],
            &spf(SpfResult::Pass, "mail.example.org"),
        );
        assert_eq!(e.outcome.result, DmarcResult::Fail);
        assert_eq!(e.outcome.disposition, Policy::Quarantine);
        assert_eq!(
            e.outcome.reason.as_deref(),
            Some(
                "DKIM pass for mail.example.org not strict aligned, SPF pass for \
                 mail.example.org not strict aligned with example.org"
            )
        );
    }

    #[test]
    fn subdomain_policy_from_the_org_record() {
        let dns = StaticResolver::new()
            .with_txt("_dmarc.example.co.uk", "v=DMARC1; p=reject; sp=quarantine")
            .with_txt("_dmarc.own.example.co.uk", "v=DMARC1; p=none")
            .with_a("sub.example.co.uk", "192.0.2.1".parse().unwrap());
        let fail = spf(SpfResult::Fail, "x.test");
        let e = eval(&dns, "sub.example.co.uk", &[], &fail);
        assert_eq!(e.record_domain.as_deref(), Some("example.co.uk"));
        assert_eq!(e.outcome.policy, Some(Policy::Quarantine));
        let e = eval(&dns, "example.co.uk", &[], &fail);
        assert_eq!(e.outcome.policy, Some(Policy::Reject));
        let e = eval(&dns, "own.example.co.uk", &[], &fail);
        assert_eq!(e.record_domain.as_deref(), Some("own.example.co.uk"));
        assert_eq!(e.outcome.policy, Some(Policy::None));
        // No sp=: p applies to subdomains.
        let dns = StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject");
        let e = eval(&dns, "a.b.example.org", &[], &fail);
        assert_eq!(e.outcome.policy, Some(Policy::Reject));
    }

    #[test]
    fn nonexistent_subdomain_policy() {
        let dns = StaticResolver::new()
            .with_txt(
                "_dmarc.example.org",
                "v=DMARC1; p=none; sp=quarantine; np=reject",
            )
            .with_mx("real.example.org", 10, "mx.example.org");
        let fail = spf(SpfResult::Fail, "x.test");
        assert_eq!(
            eval(&dns, "ghost.example.org", &[], &fail).outcome.policy,
            Some(Policy::Reject)
        );
        assert_eq!(
            eval(&dns, "real.example.org", &[], &fail).outcome.policy,
            Some(Policy::Quarantine)
        );
        let default = evaluate_with("ghost.example.org", &[], &fail, &dns, &Options::default());
        assert_eq!(default.outcome.policy, Some(Policy::Quarantine));
    }

    #[test]
    fn pct_sampling() {
        let dns =
            StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject; pct=30");
        let fail = spf(SpfResult::Fail, "example.org");
        let with = |n| {
            let o = Options {
                sampling: Sampling::Fixed(n),
                nonexistent_policy: false,
            };
            evaluate_with("example.org", &[], &fail, &dns, &o)
        };
        assert_eq!(with(0).outcome.disposition, Policy::Reject);
        assert_eq!(with(29).outcome.disposition, Policy::Reject);
        let out = with(30);
        assert_eq!(out.outcome.disposition, Policy::Quarantine);
        assert!(out.sampled_out);
        assert_eq!(out.outcome.result, DmarcResult::Fail);
        let dns =
            StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=quarantine; pct=0");
        let o = Options {
            sampling: Sampling::Fixed(0),
            nonexistent_policy: false,
        };
        assert_eq!(
            evaluate_with("example.org", &[], &fail, &dns, &o)
                .outcome
                .disposition,
            Policy::None
        );
        // Random sampling stays within the two possible dispositions.
        let dns =
            StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject; pct=50");
        for _ in 0..50 {
            let d = evaluate("example.org", &[], &fail, &dns).disposition;
            assert!(matches!(d, Policy::Reject | Policy::Quarantine));
        }
    }

    #[test]
    fn discovery_errors() {
        let none = spf(SpfResult::None, "");
        let dns = StaticResolver::new()
            .with_txt("_dmarc.two.org", "v=DMARC1; p=none")
            .with_txt("_dmarc.two.org", "v=DMARC1; p=reject")
            .with_txt("_dmarc.bad.org", "v=DMARC1; p=maybe")
            .with_txt("_dmarc.other.org", "some other text")
            .with_txt("_dmarc.other.org", "v=spf1 -all")
            .with_failure("_dmarc.down.org")
            .with_failure("_dmarc.down2.org")
            .with_txt("_dmarc.sub.down2.org", "v=DMARC1; p=none");
        let r = |d: &str| eval(&dns, d, &[], &none).outcome;
        assert_eq!(r("two.org").result, DmarcResult::PermError);
        assert_eq!(r("bad.org").result, DmarcResult::PermError);
        // A bad record at the organizational domain is a permerror for its subdomains too.
        assert_eq!(r("x.bad.org").result, DmarcResult::PermError);
        assert_eq!(r("other.org").result, DmarcResult::None);
        assert_eq!(r("nowhere.org").result, DmarcResult::None);
        assert_eq!(r("nowhere.org").reason.as_deref(), Some("no DMARC record"));
        let down = r("down.org");
        assert_eq!(down.result, DmarcResult::TempError);
        assert_eq!(down.disposition, Policy::None);
        assert_eq!(r("a.down.org").result, DmarcResult::TempError);
        // The From domain's own record is found first; the org domain is not asked.
        assert_eq!(r("sub.down2.org").result, DmarcResult::Fail);
        assert_eq!(r("").result, DmarcResult::PermError);
        assert_eq!(r("...").result, DmarcResult::PermError);
        assert_eq!(r("").reason.as_deref(), Some("no From domain"));
    }

    #[test]
    fn from_header() {
        assert_eq!(
            from_domain(b"From: \"A, B\" <a@Example.ORG>\r\nTo: x@y\r\n\r\n"),
            Ok("example.org".to_string())
        );
        assert_eq!(
            from_domain(b"from :\r\n a@one.example, b@one.example\r\n\r\n"),
            Ok("one.example".to_string())
        );
        assert_eq!(
            from_domain(b"To: x@y\r\n\r\nFrom: a@b\r\n"),
            Err(FromError::Missing)
        );
        assert_eq!(
            from_domain(b"From: a@one.example, b@two.example\r\n\r\n"),
            Err(FromError::SeveralDomains(vec![
                "one.example".to_string(),
                "two.example".to_string()
            ]))
        );
        assert_eq!(
            from_domain(b"From: nobody\r\n\r\n"),
            Err(FromError::NoDomain)
        );
        assert_eq!(
            from_domain(b"From: a@[192.0.2.1]\r\n\r\n"),
            Err(FromError::NoDomain)
        );
        assert_eq!(
            from_domain(b"From: a@b.example\n\n"),
            Ok("b.example".to_string())
        );
    }
}
