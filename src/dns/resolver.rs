//! The record lookups inbound authentication needs, behind one trait: the stub resolver
//! answers them from the network, [`StaticResolver`] from a table (tests, fixed setups).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::DnsError;

/// Record lookups by name. Every method answers:
/// - `Ok(records)`: the name exists; an empty list means it has no record of that type (NODATA);
/// - `Err(DnsError::NxDomain(_))`: the name does not exist;
/// - any other `Err`: a temporary failure (timeout, SERVFAIL, socket error), see
///   [`DnsError::is_permanent`].
///
/// Names are given without a trailing dot, in any case. Implementations must be usable from
/// several session threads at once.
pub trait Resolver: Send + Sync {
    /// TXT records, each record's character-strings concatenated (RFC 7208 §3.3, RFC 6376
    /// §3.6.2.2); bytes that are not UTF-8 are replaced.
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError>;
    /// A records.
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError>;
    /// AAAA records.
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError>;
    /// MX records: preference and exchange (without the trailing dot).
    fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, DnsError>;
    /// PTR records of an address (the `in-addr.arpa`/`ip6.arpa` name is built by the resolver),
    /// without trailing dots.
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError>;

    /// One lookup of any kind, with how long its answer may be kept: what
    /// [`CachingResolver`](super::CachingResolver) asks of the resolver it wraps.
    ///
    /// The provided method calls the typed method and gives no TTL (the cache then uses its
    /// default); resolvers that know the records' TTLs ([`StubResolver`](super::StubResolver))
    /// override it.
    fn lookup(&self, question: &Question) -> TimedAnswer {
        let result = match question {
            Question::Txt(name) => self.txt(name).map(RecordSet::Txt),
            Question::A(name) => self.a(name).map(RecordSet::A),
            Question::Aaaa(name) => self.aaaa(name).map(RecordSet::Aaaa),
            Question::Mx(name) => self.mx(name).map(RecordSet::Mx),
            Question::Ptr(ip) => self.ptr(*ip).map(RecordSet::Ptr),
        };
        TimedAnswer { result, ttl: None }
    }
}

/// One question of the [`Resolver`] trait, as a value (a cache key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Question {
    /// TXT records of a name.
    Txt(String),
    /// A records of a name.
    A(String),
    /// AAAA records of a name.
    Aaaa(String),
    /// MX records of a name.
    Mx(String),
    /// PTR records of an address.
    Ptr(IpAddr),
}

/// The records answering a [`Question`], of the matching kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSet {
    /// TXT records (strings of each record concatenated).
    Txt(Vec<String>),
    /// A records.
    A(Vec<Ipv4Addr>),
    /// AAAA records.
    Aaaa(Vec<Ipv6Addr>),
    /// MX records: preference and exchange.
    Mx(Vec<(u16, String)>),
    /// PTR targets.
    Ptr(Vec<String>),
}

impl RecordSet {
    /// Whether there is no record (NODATA).
    pub fn is_empty(&self) -> bool {
        match self {
            RecordSet::Txt(v) => v.is_empty(),
            RecordSet::A(v) => v.is_empty(),
            RecordSet::Aaaa(v) => v.is_empty(),
            RecordSet::Mx(v) => v.is_empty(),
            RecordSet::Ptr(v) => v.is_empty(),
        }
    }
}

/// The answer to one [`Question`] and how long it may be cached.
#[derive(Debug)]
pub struct TimedAnswer {
    /// The records, or why there are none (as the typed methods of [`Resolver`] say).
    pub result: Result<RecordSet, DnsError>,
    /// How long the answer (records, NODATA or NXDOMAIN) may be kept: the smallest record
    /// TTL, or the negative-caching TTL of the zone's SOA; `None` when unknown.
    pub ttl: Option<Duration>,
}

/// A resolver answering from a table filled in code: every name not in the table is NXDOMAIN;
/// a name with some records but none of the asked type is NODATA. Names are matched without
/// regard to case or a trailing dot.
///
/// ```
/// use smtpkit::dns::{Resolver, StaticResolver};
/// let dns = StaticResolver::new()
///     .with_txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
///     .with_a("mail.example.org", "192.0.2.10".parse().unwrap());
/// assert_eq!(dns.txt("EXAMPLE.org.").unwrap(), ["v=spf1 ip4:192.0.2.0/24 -all"]);
/// assert!(dns.a("example.org").unwrap().is_empty());
/// assert!(dns.txt("nowhere.example").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, Records>,
    /// Names whose every lookup fails temporarily.
    failing: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Records {
    txt: Vec<String>,
    a: Vec<Ipv4Addr>,
    aaaa: Vec<Ipv6Addr>,
    mx: Vec<(u16, String)>,
    ptr: Vec<String>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl StaticResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    fn entry(&mut self, name: &str) -> &mut Records {
        self.names.entry(key(name)).or_default()
    }

    /// Adds a TXT record.
    pub fn with_txt(mut self, name: &str, text: &str) -> StaticResolver {
        self.entry(name).txt.push(text.to_string());
        self
    }

    /// Adds an A record.
    pub fn with_a(mut self, name: &str, ip: Ipv4Addr) -> StaticResolver {
        self.entry(name).a.push(ip);
        self
    }

    /// Adds an AAAA record.
    pub fn with_aaaa(mut self, name: &str, ip: Ipv6Addr) -> StaticResolver {
        self.entry(name).aaaa.push(ip);
        self
    }

    /// Adds an MX record.
    pub fn with_mx(mut self, name: &str, preference: u16, exchange: &str) -> StaticResolver {
        self.entry(name).mx.push((preference, key(exchange)));
        self
    }

    /// Adds a PTR record for `ip`.
    pub fn with_ptr(mut self, ip: IpAddr, target: &str) -> StaticResolver {
        self.entry(&ptr_name(ip)).ptr.push(key(target));
        self
    }

    /// Makes every lookup of `name` fail temporarily (as a SERVFAIL would).
    pub fn with_failure(mut self, name: &str) -> StaticResolver {
        self.failing.push(key(name));
        self
    }

    fn get<T: Clone>(&self, name: &str, pick: fn(&Records) -> &Vec<T>) -> Result<Vec<T>, DnsError> {
        let k = key(name);
        if self.failing.contains(&k) {
            return Err(DnsError::Server("SERVFAIL".to_string()));
        }
        match self.names.get(&k) {
            Some(records) => Ok(pick(records).clone()),
            None => Err(DnsError::NxDomain(k)),
        }
    }
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa`, or the nibbles of an IPv6
/// address under `ip6.arpa`.
pub fn ptr_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

impl Resolver for StaticResolver {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        self.get(name, |r| &r.txt)
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        self.get(name, |r| &r.a)
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        self.get(name, |r| &r.aaaa)
    }
    fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, DnsError> {
        self.get(name, |r| &r.mx)
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        self.get(&ptr_name(ip), |r| &r.ptr)
    }
}
