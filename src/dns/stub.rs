//! [`Resolver`] over the stub resolver of [`crate::dns`]: the configured nameservers, UDP
//! with TCP fallback, CNAMEs followed, each wait bounded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};

use super::resolver::{Question, RecordSet, Resolver, TimedAnswer, ptr_name};
use super::{DnsConfig, DnsError, Followed, name_string, parse_domain, query_follow_ttl};

/// A [`Resolver`] asking the configured recursive nameservers (UDP, TCP when the answer is
/// truncated; timeouts and attempts from the [`DnsConfig`]). CNAME chains are followed;
/// NXDOMAIN is [`DnsError::NxDomain`], a name without records of the type is `Ok(vec![])`.
///
/// It keeps nothing between lookups: wrap it in a [`CachingResolver`](super::CachingResolver)
/// to cache answers for their TTL.
///
/// ```no_run
/// use smtpkit::dns::{CachingResolver, DnsConfig, Resolver, StubResolver};
/// let dns = CachingResolver::new(StubResolver::new(DnsConfig::from_system()));
/// for record in dns.txt("example.org")? {
///     println!("{record}");
/// }
/// # Ok::<(), smtpkit::dns::DnsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StubResolver {
    config: DnsConfig,
}

impl StubResolver {
    /// A resolver asking the nameservers of `config`.
    pub fn new(config: DnsConfig) -> StubResolver {
        StubResolver { config }
    }

    /// A resolver asking the nameservers of /etc/resolv.conf ([`DnsConfig::from_system`]).
    pub fn from_system() -> StubResolver {
        StubResolver::new(DnsConfig::from_system())
    }

    /// The configuration in use.
    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    /// Asks `name`/`rtype` and converts the records with `convert`.
    fn ask<T>(
        &self,
        name: &str,
        rtype: RecordType,
        convert: impl Fn(&RData) -> Option<T>,
    ) -> (Result<Vec<T>, DnsError>, Option<Duration>) {
        let display = name.trim_end_matches('.').to_ascii_lowercase();
        let qname = match parse_domain(name) {
            Ok(n) => n,
            Err(e) => return (Err(e), None),
        };
        match query_follow_ttl(&qname, rtype, &display, &self.config) {
            Ok(Followed::Found(answer)) => {
                let records = answer
                    .records
                    .iter()
                    .filter_map(|r| convert(&r.data))
                    .collect();
                (Ok(records), answer.ttl.map(secs))
            }
            Ok(Followed::NxDomain { ttl }) => (Err(DnsError::NxDomain(display)), ttl.map(secs)),
            Err(e) => (Err(e), None),
        }
    }
}

fn secs(ttl: u32) -> Duration {
    Duration::from_secs(u64::from(ttl))
}

fn txt_of(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => {
            // The character-strings of one record, concatenated (RFC 6376 §3.6.2.2).
            let bytes: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

fn a_of(data: &RData) -> Option<Ipv4Addr> {
    match data {
        RData::A(a) => Some(a.0),
        _ => None,
    }
}

fn aaaa_of(data: &RData) -> Option<Ipv6Addr> {
    match data {
        RData::AAAA(a) => Some(a.0),
        _ => None,
    }
}

fn mx_of(data: &RData) -> Option<(u16, String)> {
    match data {
        RData::MX(mx) => Some((mx.preference, name_string(&mx.exchange))),
        _ => None,
    }
}

fn ptr_of(data: &RData) -> Option<String> {
    match data {
        RData::PTR(p) => Some(name_string(&p.0)),
        _ => None,
    }
}

fn timed<T>(
    (result, ttl): (Result<Vec<T>, DnsError>, Option<Duration>),
    wrap: fn(Vec<T>) -> RecordSet,
) -> TimedAnswer {
    TimedAnswer {
        result: result.map(wrap),
        ttl,
    }
}

impl Resolver for StubResolver {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        self.ask(name, RecordType::TXT, txt_of).0
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        self.ask(name, RecordType::A, a_of).0
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        self.ask(name, RecordType::AAAA, aaaa_of).0
    }
    fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, DnsError> {
        self.ask(name, RecordType::MX, mx_of).0
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        self.ask(&ptr_name(ip), RecordType::PTR, ptr_of).0
    }

    fn lookup(&self, question: &Question) -> TimedAnswer {
        match question {
            Question::Txt(n) => timed(self.ask(n, RecordType::TXT, txt_of), RecordSet::Txt),
            Question::A(n) => timed(self.ask(n, RecordType::A, a_of), RecordSet::A),
            Question::Aaaa(n) => timed(self.ask(n, RecordType::AAAA, aaaa_of), RecordSet::Aaaa),
            Question::Mx(n) => timed(self.ask(n, RecordType::MX, mx_of), RecordSet::Mx),
            Question::Ptr(ip) => timed(
                self.ask(&ptr_name(*ip), RecordType::PTR, ptr_of),
                RecordSet::Ptr,
            ),
        }
    }
}
