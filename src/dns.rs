//! A small synchronous DNS stub resolver: queries go over UDP (std [`UdpSocket`]) to the
//! configured recursive nameservers, with a fallback to TCP when the answer is truncated, CNAME
//! chains followed, every wait bounded. DNS messages are built and parsed with `hickory-proto`,
//! used only as a codec. MX selection lives in [`crate::client::mx`]; the record lookups that
//! inbound authentication needs (TXT, A, AAAA, MX, PTR) go through the [`Resolver`] trait, so
//! tests and programs can plug in their own: [`StubResolver`] asks the network,
//! [`CachingResolver`] keeps answers for their TTL (one cache shared by every session
//! thread), [`StaticResolver`] answers from a table.

mod cache;
mod resolver;
mod stub;
pub use cache::CachingResolver;
pub use resolver::{Question, RecordSet, Resolver, StaticResolver, TimedAnswer, ptr_name};
pub use stub::StubResolver;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// Default per-attempt timeout (glibc's `RES_TIMEOUT`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default number of attempts per nameserver (glibc's `RES_DFLRETRY`).
pub(crate) const DEFAULT_ATTEMPTS: usize = 2;

/// glibc's limits for `options timeout:` (seconds) and `attempts:`.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 30;

pub(crate) const MAX_ATTEMPTS: usize = 5;

/// glibc's `MAXNS`: further `nameserver` lines are ignored.
pub(crate) const MAX_NAMESERVERS: usize = 3;

/// How many CNAMEs are followed for one lookup.
pub(crate) const MAX_CNAME_HOPS: usize = 8;

/// How many unrelated datagrams are tolerated while waiting for one answer.
pub(crate) const MAX_IGNORED_DATAGRAMS: usize = 64;

/// Largest DNS message accepted (UDP datagram or TCP frame).
pub(crate) const MAX_MESSAGE: usize = 65_535;

/// Largest resolv.conf read.
pub(crate) const MAX_RESOLV_CONF: u64 = 1 << 20;

/// Where and how to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Nameservers in order (port 53 unless given).
    pub nameservers: Vec<SocketAddr>,
    /// Per-attempt timeout (default 5 s, resolv.conf `options timeout:N`).
    pub timeout: Duration,
    /// Attempts per nameserver (default 2, resolv.conf `options attempts:N`).
    pub attempts: usize,
}

impl DnsConfig {
    /// From /etc/resolv.conf; 127.0.0.1:53 when it has no nameserver or cannot be read.
    pub fn from_system() -> DnsConfig {
        let mut text = String::new();
        let read = File::open("/etc/resolv.conf")
            .and_then(|f| f.take(MAX_RESOLV_CONF).read_to_string(&mut text));
        match read {
            Ok(_) => DnsConfig::parse_resolv_conf(&text),
            Err(_) => DnsConfig::parse_resolv_conf(""),
        }
    }

    /// Parses resolv.conf text (`nameserver` v4/v6 lines incl. IPv6 with %scope ignored,
    /// `options timeout: attempts:`; comments `#`/`;`).
    ///
    /// As in glibc: at most 3 nameservers are kept, `timeout` is capped at 30 s and `attempts`
    /// at 5 (both at least 1), and unknown lines or options are ignored. A numeric IPv6 scope
    /// (`fe80::1%2`) becomes the scope id; a named one (`%eth0`) is dropped. A nameserver may
    /// also be written as a socket address (`127.0.0.1:5353`, `[::1]:5353`), an extension.
    /// Without any usable `nameserver` line the result is 127.0.0.1:53.
    pub fn parse_resolv_conf(text: &str) -> DnsConfig {
        let mut cfg = DnsConfig {
            nameservers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
        };
        for line in text.lines() {
            // Comments start at `#` or `;` (neither can appear in a value we use).
            let line = match line.find(['#', ';']) {
                Some(i) => &line[..i],
                None => line,
            };
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next().and_then(parse_nameserver) {
                        if cfg.nameservers.len() < MAX_NAMESERVERS {
                            cfg.nameservers.push(addr);
                        }
                    }
                }
                Some("options") => {
                    for opt in words {
                        if let Some(v) = opt.strip_prefix("timeout:") {
                            if let Ok(secs) = v.parse::<u64>() {
                                cfg.timeout = Duration::from_secs(secs.clamp(1, MAX_TIMEOUT_SECS));
                            }
                        } else if let Some(v) = opt.strip_prefix("attempts:") {
                            if let Ok(n) = v.parse::<usize>() {
                                cfg.attempts = n.clamp(1, MAX_ATTEMPTS);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if cfg.nameservers.is_empty() {
            cfg.nameservers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        cfg
    }

    /// One nameserver (for tests and the `--dns ADDR:PORT` flag).
    pub fn with_nameserver(addr: SocketAddr) -> DnsConfig {
        DnsConfig {
            nameservers: vec![addr],
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
        }
    }
}

impl Default for DnsConfig {
    /// Same as [`DnsConfig::from_system`].
    fn default() -> DnsConfig {
        DnsConfig::from_system()
    }
}

/// One `nameserver` value: an IP (port 53, IPv6 `%scope` handled) or a socket address.
pub(crate) fn parse_nameserver(word: &str) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    if let Some((addr, scope)) = word.split_once('%') {
        if let Ok(ip) = addr.parse::<Ipv6Addr>() {
            let scope_id = scope.parse::<u32>().unwrap_or(0);
            return Some(SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, scope_id)));
        }
    }
    word.parse::<SocketAddr>().ok()
}

/// Why a lookup failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DnsError {
    /// The domain does not exist (NXDOMAIN): permanent.
    NxDomain(String),
    /// The domain says it accepts no mail (null MX, RFC 7505): permanent.
    NullMx(String),
    /// No address for any mail host.
    ///
    /// Permanent: only returned when every lookup got a definite negative answer (a transient
    /// failure is reported as such instead).
    NoAddress(String),
    /// The server answered SERVFAIL/REFUSED/other rcode: transient.
    Server(String),
    /// No answer in time from any nameserver: transient.
    Timeout,
    /// A malformed or mismatched response: transient.
    Malformed(String),
    /// Socket error: transient.
    Io(io::Error),
    /// The name is not a valid domain: permanent.
    InvalidName(String),
}

impl DnsError {
    /// Whether retrying later cannot help (NXDOMAIN, null MX, no address, invalid name).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DnsError::NxDomain(_)
                | DnsError::NullMx(_)
                | DnsError::NoAddress(_)
                | DnsError::InvalidName(_)
        )
    }

    /// Rank used to keep the most informative error across nameservers and attempts.
    fn rank(&self) -> u8 {
        match self {
            DnsError::Timeout => 0,
            DnsError::Io(_) => 1,
            DnsError::Malformed(_) => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NxDomain(d) => write!(f, "domain {d} does not exist (NXDOMAIN)"),
            DnsError::NullMx(d) => write!(f, "domain {d} accepts no mail (null MX)"),
            DnsError::NoAddress(d) => write!(f, "no address found for the mail hosts of {d}"),
            DnsError::Server(rcode) => write!(f, "DNS server answered {rcode}"),
            DnsError::Timeout => f.write_str("no answer from any DNS server in time"),
            DnsError::Malformed(why) => write!(f, "malformed DNS response: {why}"),
            DnsError::Io(e) => write!(f, "DNS socket error: {e}"),
            DnsError::InvalidName(n) => write!(f, "invalid domain name {n:?}"),
        }
    }
}

impl std::error::Error for DnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DnsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for DnsError {
    fn from(e: io::Error) -> DnsError {
        DnsError::Io(e)
    }
}

#[cfg(feature = "mx")]
/// A and AAAA of `name` (A first), `display` naming it in errors.
pub(crate) fn lookup_addrs(
    name: &Name,
    display: &str,
    cfg: &DnsConfig,
) -> Result<Vec<IpAddr>, DnsError> {
    let v4 = match query_follow(name, RecordType::A, display, cfg) {
        Err(DnsError::NxDomain(d)) => return Err(DnsError::NxDomain(d)),
        other => other,
    };
    let v6 = query_follow(name, RecordType::AAAA, display, cfg);
    let mut addrs = Vec::new();
    for answer in [&v4, &v6].into_iter().flatten() {
        for ip in answer.records.iter().filter_map(ip_of) {
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    if !addrs.is_empty() {
        return Ok(addrs);
    }
    match (v4, v6) {
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        (Ok(_), Ok(_)) => Err(DnsError::NoAddress(display.to_string())),
    }
}

#[cfg(feature = "mx")]
/// The address an A or AAAA record holds.
pub(crate) fn ip_of(record: &Record) -> Option<IpAddr> {
    match &record.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
        _ => None,
    }
}

/// The records of one type for a name, after following CNAMEs.
#[cfg_attr(not(feature = "mx"), allow(dead_code))]
pub(crate) struct Answer {
    /// The name the records belong to (the query name unless a CNAME was followed).
    pub(crate) canonical: Name,
    /// The records of the wanted type and class IN owned by `canonical`.
    pub(crate) records: Vec<Record>,
    /// The additional section of the last response.
    pub(crate) additionals: Vec<Record>,
    /// How long this answer may be cached, in seconds: the smallest TTL of the records and
    /// of the CNAMEs followed; for NODATA, the negative-caching TTL of the SOA in the
    /// authority section (RFC 2308 §5), `None` when there was none.
    pub(crate) ttl: Option<u32>,
}

/// What a lookup found: the records (possibly none: NODATA), or that the name does not exist
/// with the negative-caching TTL of the response's SOA (RFC 2308 §5), when it had one.
pub(crate) enum Followed {
    /// NOERROR (with or without records).
    Found(Answer),
    /// NXDOMAIN.
    NxDomain {
        /// Negative-caching TTL, seconds.
        ttl: Option<u32>,
    },
}

#[cfg(feature = "mx")]
/// Queries `name`/`rtype`, following CNAME chains within answers and, when a chain ends
/// without the wanted records, by asking for its target (at most `MAX_CNAME_HOPS` in all).
/// NXDOMAIN gives [`DnsError::NxDomain`] with `display`.
pub(crate) fn query_follow(
    name: &Name,
    rtype: RecordType,
    display: &str,
    cfg: &DnsConfig,
) -> Result<Answer, DnsError> {
    match query_follow_ttl(name, rtype, display, cfg)? {
        Followed::Found(answer) => Ok(answer),
        Followed::NxDomain { .. } => Err(DnsError::NxDomain(display.to_string())),
    }
}

/// The negative-caching TTL of a response: min(SOA TTL, SOA MINIMUM) of the first SOA in the
/// authority section (RFC 2308 §5).
fn negative_ttl(msg: &Message) -> Option<u32> {
    msg.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    })
}

fn min_ttl(a: Option<u32>, b: u32) -> Option<u32> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// [`query_follow`] keeping what a cache needs: the TTLs, and NXDOMAIN as a value.
pub(crate) fn query_follow_ttl(
    name: &Name,
    rtype: RecordType,
    display: &str,
    cfg: &DnsConfig,
) -> Result<Followed, DnsError> {
    let mut current = name.clone();
    let mut hops = 0;
    // The smallest TTL of the CNAMEs followed so far.
    let mut chain_ttl: Option<u32> = None;
    loop {
        let msg = exchange(&current, rtype, cfg)?;
        if msg.metadata.response_code == ResponseCode::NXDomain {
            let soa = negative_ttl(&msg);
            let ttl = match (soa, chain_ttl) {
                (Some(s), c) => min_ttl(c, s),
                (None, _) => None,
            };
            return Ok(Followed::NxDomain { ttl });
        }
        let mut owner = current.clone();
        loop {
            let records: Vec<Record> = msg
                .answers
                .iter()
                .filter(|r| {
                    r.dns_class == DNSClass::IN
                        && r.record_type() == rtype
                        && r.name.eq_ignore_root(&owner)
                })
                .cloned()
                .collect();
            if !records.is_empty() {
                let ttl = records.iter().fold(chain_ttl, |t, r| min_ttl(t, r.ttl));
                return Ok(Followed::Found(Answer {
                    canonical: owner,
                    records,
                    additionals: msg.additionals,
                    ttl,
                }));
            }
            let target = msg.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if r.dns_class == DNSClass::IN && r.name.eq_ignore_root(&owner) => {
                    Some((c.0.clone(), r.ttl))
                }
                _ => None,
            });
            match target {
                Some((target, _)) if !is_host_name(&target) => {
                    return Err(DnsError::Malformed(format!(
                        "CNAME target for {display} is not a host name"
                    )));
                }
                Some((target, ttl)) => {
                    hops += 1;
                    if hops > MAX_CNAME_HOPS {
                        return Err(DnsError::Malformed(format!(
                            "CNAME chain for {display} longer than {MAX_CNAME_HOPS}"
                        )));
                    }
                    chain_ttl = min_ttl(chain_ttl, ttl);
                    owner = target;
                }
                None => break,
            }
        }
        if owner.eq_ignore_root(&current) {
            // NODATA for the end of the chain.
            let ttl = match (negative_ttl(&msg), chain_ttl) {
                (Some(s), c) => min_ttl(c, s),
                (None, _) => None,
            };
            return Ok(Followed::Found(Answer {
                canonical: owner,
                records: Vec::new(),
                additionals: msg.additionals,
                ttl,
            }));
        }
        // The chain ended at a name the server did not resolve further: ask for it.
        current = owner;
    }
}

/// One question to the configured nameservers: `attempts` rounds over the servers in order.
/// Returns the first response whose rcode is NOERROR or NXDOMAIN; other rcodes move on to the
/// next server. On failure, the most informative error seen is returned.
pub(crate) fn exchange(
    name: &Name,
    rtype: RecordType,
    cfg: &DnsConfig,
) -> Result<Message, DnsError> {
    if cfg.nameservers.is_empty() {
        return Err(DnsError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no nameserver configured",
        )));
    }
    let timeout = cfg.timeout.max(Duration::from_millis(1));
    let mut worst: Option<DnsError> = None;
    for _ in 0..cfg.attempts.max(1) {
        for &server in &cfg.nameservers {
            let err = match exchange_with(server, name, rtype, timeout) {
                Ok(msg) => match msg.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(msg),
                    rcode => DnsError::Server(rcode_name(rcode)),
                },
                Err(e) => e,
            };
            if worst.as_ref().is_none_or(|w| err.rank() >= w.rank()) {
                worst = Some(err);
            }
        }
    }
    Err(worst.unwrap_or(DnsError::Timeout))
}

/// One UDP attempt to `server` (then TCP if the answer is truncated).
pub(crate) fn exchange_with(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let id: u16 = rand::random();
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name.clone(), rtype));
    let wire = query
        .to_vec()
        .map_err(|e| DnsError::InvalidName(format!("{}: {e}", name_string(name))))?;

    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    // A fresh socket per query: a random source port, and connect() filters other senders.
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    socket.send(&wire)?;

    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; MAX_MESSAGE];
    for _ in 0..MAX_IGNORED_DATAGRAMS {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        socket.set_read_timeout(Some(deadline - now))?;
        let len = match socket.recv(&mut buf) {
            Ok(len) => len,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DnsError::Io(e)),
        };
        let datagram = &buf[..len];
        let response = match Message::from_vec(datagram) {
            Ok(msg) => msg,
            // Garbage carrying our id is an answer we cannot use; other garbage is ignored.
            Err(e) if datagram.get(..2) == Some(&id.to_be_bytes()[..]) => {
                return Err(DnsError::Malformed(e.to_string()));
            }
            Err(_) => continue,
        };
        if !answers_query(&response, id, name, rtype) {
            continue;
        }
        if response.metadata.truncation {
            return exchange_tcp(server, &wire, id, name, rtype, timeout);
        }
        return Ok(response);
    }
    Err(DnsError::Timeout)
}

/// The same query over TCP (RFC 1035 §4.2.2 two-byte length prefix), within `timeout`.
pub(crate) fn exchange_tcp(
    server: SocketAddr,
    wire: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&server, timeout).map_err(timeout_to_error)?;
    let len = u16::try_from(wire.len())
        .map_err(|_| DnsError::InvalidName(format!("query too long for {}", name_string(name))))?;
    let mut frame = Vec::with_capacity(wire.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(wire);
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(&frame).map_err(timeout_to_error)?;

    let mut prefix = [0u8; 2];
    read_full(&mut stream, &mut prefix, deadline)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    read_full(&mut stream, &mut body, deadline)?;
    let response = Message::from_vec(&body).map_err(|e| DnsError::Malformed(e.to_string()))?;
    if !answers_query(&response, id, name, rtype) {
        return Err(DnsError::Malformed(
            "TCP response does not match the query".to_string(),
        ));
    }
    Ok(response)
}

/// Fills `buf` from `stream`, giving up at `deadline`.
pub(crate) fn read_full(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<(), DnsError> {
    let mut filled = 0;
    while filled < buf.len() {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(DnsError::Malformed(
                    "TCP connection closed mid-response".to_string(),
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timeout_to_error(e)),
        }
    }
    Ok(())
}

/// Time left until `deadline`, or [`DnsError::Timeout`].
pub(crate) fn remaining(deadline: Instant) -> Result<Duration, DnsError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(DnsError::Timeout)
    } else {
        Ok(left)
    }
}

/// Socket timeouts become [`DnsError::Timeout`], other errors [`DnsError::Io`].
pub(crate) fn timeout_to_error(e: io::Error) -> DnsError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DnsError::Timeout,
        _ => DnsError::Io(e),
    }
}

/// Whether `msg` is the response to our query: same id, a response to a standard query, and
/// the same single question (case-insensitively). A server may omit the question when it
/// reports an error (FORMERR, NOTIMP…).
pub(crate) fn answers_query(msg: &Message, id: u16, name: &Name, rtype: RecordType) -> bool {
    if msg.metadata.id != id
        || msg.metadata.message_type != MessageType::Response
        || msg.metadata.op_code != OpCode::Query
    {
        return false;
    }
    match msg.queries.as_slice() {
        [q] => {
            q.query_type == rtype && q.query_class == DNSClass::IN && q.name.eq_ignore_root(name)
        }
        [] => !matches!(
            msg.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain
        ),
        _ => false,
    }
}

/// The mnemonic of an rcode (`SERVFAIL`, `REFUSED`…), `RCODEn` for the others.
pub(crate) fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::YXDomain => "YXDOMAIN".to_string(),
        ResponseCode::YXRRSet => "YXRRSET".to_string(),
        ResponseCode::NXRRSet => "NXRRSET".to_string(),
        ResponseCode::NotAuth => "NOTAUTH".to_string(),
        ResponseCode::NotZone => "NOTZONE".to_string(),
        ResponseCode::BADVERS => "BADVERS".to_string(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

#[cfg(any(feature = "mx", feature = "auth-check"))]
/// An IP address literal: bare, `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
pub(crate) fn parse_ip_literal(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        }
        _ => inner.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// A user-given domain as a lower-case FQDN: one trailing dot allowed; ASCII labels made of
/// letters, digits, `-` and `_`; non-ASCII names converted with IDNA (UTS #46).
pub(crate) fn parse_domain(input: &str) -> Result<Name, DnsError> {
    let invalid = || DnsError::InvalidName(input.to_string());
    let s = input.strip_suffix('.').unwrap_or(input);
    // 253 octets in ASCII form; the UTF-8 form is checked after conversion (with a cap).
    if s.is_empty() || s.len() > 1024 || s.split('.').any(str::is_empty) {
        return Err(invalid());
    }
    // ASCII characters are restricted (this also keeps hickory's `\` escapes and `*` out);
    // the others are left to IDNA.
    if !s
        .chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid());
    }
    let mut name = if s.is_ascii() {
        Name::from_ascii(s)
    } else {
        Name::from_utf8(s)
    }
    .map_err(|_| invalid())?;
    name.set_fqdn(true);
    // `len()` counts the trailing dot: 254 is 253 octets of text.
    if name.is_root() || name.len() > 254 {
        return Err(invalid());
    }
    Ok(name.to_lowercase())
}

/// Whether every label of a name from the wire is made of letters, digits, `-` and `_`.
pub(crate) fn is_host_name(name: &Name) -> bool {
    name.iter().all(|label| {
        label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    })
}

/// A name as lower-case ASCII without the trailing dot.
pub(crate) fn name_string(name: &Name) -> String {
    let s = name.to_lowercase().to_ascii();
    match s.strip_suffix('.') {
        Some(stripped) => stripped.to_string(),
        None => s,
    }
}
