//! DNS resolution for mail delivery: MX lookup (RFC 5321 §5.1) and A/AAAA lookup.
//!
//! A small synchronous stub resolver: queries go over UDP (std [`UdpSocket`]) to the configured
//! recursive nameservers, with a fallback to TCP when the answer is truncated. DNS messages are
//! built and parsed with `hickory-proto`, used only as a codec.
//!
//! ```no_run
//! use smtpkit::client::mx::{resolve_mx, DnsConfig};
//!
//! let cfg = DnsConfig::from_system();
//! for host in resolve_mx("example.org", &cfg)? {
//!     println!("{} {} {:?}", host.preference, host.name, host.addrs);
//! }
//! # Ok::<(), smtpkit::client::mx::DnsError>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

/// Default per-attempt timeout (glibc's `RES_TIMEOUT`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of attempts per nameserver (glibc's `RES_DFLRETRY`).
const DEFAULT_ATTEMPTS: usize = 2;
/// glibc's limits for `options timeout:` (seconds) and `attempts:`.
const MAX_TIMEOUT_SECS: u64 = 30;
const MAX_ATTEMPTS: usize = 5;
/// glibc's `MAXNS`: further `nameserver` lines are ignored.
const MAX_NAMESERVERS: usize = 3;
/// How many CNAMEs are followed for one lookup.
const MAX_CNAME_HOPS: usize = 8;
/// How many distinct MX hosts are kept (and resolved) at most.
const MAX_MX_HOSTS: usize = 16;
/// How many unrelated datagrams are tolerated while waiting for one answer.
const MAX_IGNORED_DATAGRAMS: usize = 64;
/// Largest DNS message accepted (UDP datagram or TCP frame).
const MAX_MESSAGE: usize = 65_535;
/// Largest resolv.conf read.
const MAX_RESOLV_CONF: u64 = 1 << 20;

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
fn parse_nameserver(word: &str) -> Option<SocketAddr> {
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

/// A mail exchanger to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// MX preference (lower first); the implicit MX gets 0.
    pub preference: u16,
    /// Host name without the trailing dot (the name to verify the TLS certificate against).
    ///
    /// Lower-cased ASCII (IDNA names in their `xn--` form).
    pub name: String,
    /// Its addresses (A then AAAA), possibly empty if they could not be resolved.
    pub addrs: Vec<IpAddr>,
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

/// RFC 5321 §5.1: the MX hosts for `domain` in preference order (equal preferences shuffled),
/// each with its A/AAAA addresses (taken from the additional section when present, else
/// queried). No MX records (NOERROR/NODATA) → the domain itself as an implicit MX with its
/// A/AAAA. A single MX with exchange "." → NullMx. CNAME chains in answers followed (bounded).
///
/// Details:
/// - An address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]` or a bare IP) is returned as one
///   host of preference 0 without any query.
/// - A null MX listed beside real MX records is ignored; MX records whose exchange is not a
///   host name (letters, digits, `-`, `_`) are skipped; a host listed twice keeps its lowest
///   preference; at most 16 hosts are returned.
/// - A host whose addresses could not be resolved is kept with empty `addrs`. If no host has
///   an address, the error is the first transient failure met, else [`DnsError::NoAddress`].
/// - For an implicit MX reached through a CNAME, `name` is the canonical name.
pub fn resolve_mx(domain: &str, cfg: &DnsConfig) -> Result<Vec<MxHost>, DnsError> {
    if let Some(ip) = parse_ip_literal(domain) {
        return Ok(vec![MxHost {
            preference: 0,
            name: ip.to_string(),
            addrs: vec![ip],
        }]);
    }
    let name = parse_domain(domain)?;
    let display = name_string(&name);
    let answer = query_follow(&name, RecordType::MX, &display, cfg)?;

    let mut mxs: Vec<(u16, Name)> = answer
        .records
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some((mx.preference, mx.exchange.to_lowercase())),
            _ => None,
        })
        .collect();

    if mxs.is_empty() {
        // Implicit MX: the (canonical) domain itself.
        return match lookup_addrs(&answer.canonical, &display, cfg) {
            Ok(addrs) => Ok(vec![MxHost {
                preference: 0,
                name: name_string(&answer.canonical),
                addrs,
            }]),
            Err(DnsError::NoAddress(_)) => Err(DnsError::NoAddress(display)),
            Err(e) => Err(e),
        };
    }
    if mxs.iter().all(|(_, ex)| ex.is_root()) {
        return Err(DnsError::NullMx(display));
    }
    mxs.retain(|(_, ex)| !ex.is_root() && is_host_name(ex));
    if mxs.is_empty() {
        return Err(DnsError::NoAddress(display));
    }

    // Sort by preference, keep each host once (lowest preference), shuffle equal preferences.
    mxs.sort_by_key(|(pref, _)| *pref);
    let mut unique: Vec<(u16, Name)> = Vec::with_capacity(mxs.len());
    for (pref, ex) in mxs {
        if !unique.iter().any(|(_, seen)| seen.eq_ignore_root(&ex)) {
            unique.push((pref, ex));
        }
    }
    shuffle_equal_preferences(&mut unique);
    unique.truncate(MAX_MX_HOSTS);

    let mut hosts = Vec::with_capacity(unique.len());
    let mut transient: Option<DnsError> = None;
    for (preference, exchange) in unique {
        let mut addrs = addrs_from(&answer.additionals, &exchange);
        if addrs.is_empty() {
            match lookup_addrs(&exchange, &name_string(&exchange), cfg) {
                Ok(found) => addrs = found,
                Err(e) if !e.is_permanent() && transient.is_none() => transient = Some(e),
                Err(_) => {}
            }
        }
        hosts.push(MxHost {
            preference,
            name: name_string(&exchange),
            addrs,
        });
    }
    if hosts.iter().all(|h| h.addrs.is_empty()) {
        return Err(transient.unwrap_or(DnsError::NoAddress(display)));
    }
    Ok(hosts)
}

/// A then AAAA records of `host` (an IP literal returns itself without a query).
///
/// IP literals may be bare or in SMTP's bracketed form (`[192.0.2.1]`, `[IPv6:…]`). CNAMEs are
/// followed. The list is never empty: a name without addresses gives [`DnsError::NoAddress`].
/// When one of the two queries fails transiently, the other's addresses are still returned.
pub fn lookup_ip(host: &str, cfg: &DnsConfig) -> Result<Vec<IpAddr>, DnsError> {
    if let Some(ip) = parse_ip_literal(host) {
        return Ok(vec![ip]);
    }
    let name = parse_domain(host)?;
    lookup_addrs(&name, &name_string(&name), cfg)
}

/// Shuffles each run of equal preferences in a list sorted by preference.
fn shuffle_equal_preferences<T>(list: &mut [(u16, T)]) {
    let mut rng = rand::rng();
    let mut start = 0;
    while start < list.len() {
        let pref = list[start].0;
        let end = list[start..]
            .iter()
            .position(|(p, _)| *p != pref)
            .map_or(list.len(), |n| start + n);
        list[start..end].shuffle(&mut rng);
        start = end;
    }
}

/// A and AAAA of `name` (A first), `display` naming it in errors.
fn lookup_addrs(name: &Name, display: &str, cfg: &DnsConfig) -> Result<Vec<IpAddr>, DnsError> {
    let v4 = match query_follow(name, RecordType::A, display, cfg) {
        Err(DnsError::NxDomain(d)) => return Err(DnsError::NxDomain(d)),
        other => other,
    };
    let v6 = query_follow(name, RecordType::AAAA, display, cfg);
    let mut addrs = Vec::new();
    for answer in [&v4, &v6].into_iter().flatten() {
        for record in &answer.records {
            let ip = match &record.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                _ => continue,
            };
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

/// A and AAAA records of `host` found in a response's additional section (A first).
fn addrs_from(additionals: &[Record], host: &Name) -> Vec<IpAddr> {
    let mut addrs = Vec::new();
    for want in [RecordType::A, RecordType::AAAA] {
        for record in additionals {
            if record.dns_class != DNSClass::IN
                || record.record_type() != want
                || !record.name.eq_ignore_root(host)
            {
                continue;
            }
            let ip = match &record.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                _ => continue,
            };
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    addrs
}

/// The records of one type for a name, after following CNAMEs.
struct Answer {
    /// The name the records belong to (the query name unless a CNAME was followed).
    canonical: Name,
    /// The records of the wanted type and class IN owned by `canonical`.
    records: Vec<Record>,
    /// The additional section of the last response.
    additionals: Vec<Record>,
}

/// Queries `name`/`rtype`, following CNAME chains within answers and, when a chain ends
/// without the wanted records, by asking for its target (at most `MAX_CNAME_HOPS` in all).
/// NXDOMAIN gives [`DnsError::NxDomain`] with `display`.
fn query_follow(
    name: &Name,
    rtype: RecordType,
    display: &str,
    cfg: &DnsConfig,
) -> Result<Answer, DnsError> {
    let mut current = name.clone();
    let mut hops = 0;
    loop {
        let msg = exchange(&current, rtype, cfg)?;
        if msg.metadata.response_code == ResponseCode::NXDomain {
            return Err(DnsError::NxDomain(display.to_string()));
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
                return Ok(Answer {
                    canonical: owner,
                    records,
                    additionals: msg.additionals,
                });
            }
            let target = msg.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if r.dns_class == DNSClass::IN && r.name.eq_ignore_root(&owner) => {
                    Some(c.0.clone())
                }
                _ => None,
            });
            match target {
                Some(target) if !is_host_name(&target) => {
                    return Err(DnsError::Malformed(format!(
                        "CNAME target for {display} is not a host name"
                    )));
                }
                Some(target) => {
                    hops += 1;
                    if hops > MAX_CNAME_HOPS {
                        return Err(DnsError::Malformed(format!(
                            "CNAME chain for {display} longer than {MAX_CNAME_HOPS}"
                        )));
                    }
                    owner = target;
                }
                None => break,
            }
        }
        if owner.eq_ignore_root(&current) {
            // NODATA for the end of the chain.
            return Ok(Answer {
                canonical: owner,
                records: Vec::new(),
                additionals: msg.additionals,
            });
        }
        // The chain ended at a name the server did not resolve further: ask for it.
        current = owner;
    }
}

/// One question to the configured nameservers: `attempts` rounds over the servers in order.
/// Returns the first response whose rcode is NOERROR or NXDOMAIN; other rcodes move on to the
/// next server. On failure, the most informative error seen is returned.
fn exchange(name: &Name, rtype: RecordType, cfg: &DnsConfig) -> Result<Message, DnsError> {
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
fn exchange_with(
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
fn exchange_tcp(
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
fn read_full(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), DnsError> {
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
fn remaining(deadline: Instant) -> Result<Duration, DnsError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(DnsError::Timeout)
    } else {
        Ok(left)
    }
}

/// Socket timeouts become [`DnsError::Timeout`], other errors [`DnsError::Io`].
fn timeout_to_error(e: io::Error) -> DnsError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DnsError::Timeout,
        _ => DnsError::Io(e),
    }
}

/// Whether `msg` is the response to our query: same id, a response to a standard query, and
/// the same single question (case-insensitively). A server may omit the question when it
/// reports an error (FORMERR, NOTIMP…).
fn answers_query(msg: &Message, id: u16, name: &Name, rtype: RecordType) -> bool {
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
fn rcode_name(rcode: ResponseCode) -> String {
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

/// An IP address literal: bare, `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
fn parse_ip_literal(s: &str) -> Option<IpAddr> {
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
fn parse_domain(input: &str) -> Result<Name, DnsError> {
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
fn is_host_name(name: &Name) -> bool {
    name.iter().all(|label| {
        label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    })
}

/// A name as lower-case ASCII without the trailing dot.
fn name_string(name: &Name) -> String {
    let s = name.to_lowercase().to_ascii();
    match s.strip_suffix('.') {
        Some(stripped) => stripped.to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};

    /// How long a fake server lives at most, whatever the test does.
    const SERVER_LIFETIME: Duration = Duration::from_secs(30);

    type Handler = dyn Fn(&Message, bool) -> Vec<Vec<u8>> + Send + Sync;

    /// A fake DNS server on 127.0.0.1: UDP and TCP on the same port. The handler gets each
    /// query (and whether it came over TCP) and returns the raw messages to send back.
    /// It stops after `max_queries`, after `SERVER_LIFETIME`, or when dropped.
    struct FakeDns {
        addr: SocketAddr,
        stop: Arc<AtomicBool>,
        log: Arc<Mutex<Vec<(String, RecordType, bool)>>>,
        threads: Vec<JoinHandle<()>>,
    }

    impl FakeDns {
        fn start(
            max_queries: usize,
            handler: impl Fn(&Message, bool) -> Vec<Vec<u8>> + Send + Sync + 'static,
        ) -> FakeDns {
            let handler: Arc<Handler> = Arc::new(handler);
            let (udp, tcp) = bind_pair();
            let addr = udp.local_addr().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let log = Arc::new(Mutex::new(Vec::new()));
            let count = Arc::new(Mutex::new(0usize));
            let started = Instant::now();
            let alive = {
                let stop = stop.clone();
                let count = count.clone();
                move || {
                    !stop.load(Ordering::SeqCst)
                        && *count.lock().unwrap() < max_queries
                        && started.elapsed() < SERVER_LIFETIME
                }
            };
            let record = {
                let log = log.clone();
                move |q: &Message, tcp: bool| {
                    *count.lock().unwrap() += 1;
                    if let Some(query) = q.queries.first() {
                        log.lock()
                            .unwrap()
                            .push((name_string(&query.name), query.query_type, tcp));
                    }
                }
            };
            let record = Arc::new(record);
            let udp_thread = {
                let (alive, record, handler) = (alive.clone(), record.clone(), handler.clone());
                thread::spawn(move || {
                    udp.set_read_timeout(Some(Duration::from_millis(20)))
                        .unwrap();
                    let mut buf = vec![0u8; 4096];
                    while alive() {
                        let Ok((len, peer)) = udp.recv_from(&mut buf) else {
                            continue;
                        };
                        let Ok(query) = Message::from_vec(&buf[..len]) else {
                            continue;
                        };
                        record(&query, false);
                        for reply in handler(&query, false) {
                            let _ = udp.send_to(&reply, peer);
                        }
                    }
                })
            };
            let tcp_thread = thread::spawn(move || {
                tcp.set_nonblocking(true).unwrap();
                while alive() {
                    let Ok((mut conn, _)) = tcp.accept() else {
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    conn.set_nonblocking(false).unwrap();
                    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut prefix = [0u8; 2];
                    if conn.read_exact(&mut prefix).is_err() {
                        continue;
                    }
                    let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                    if conn.read_exact(&mut body).is_err() {
                        continue;
                    }
                    let Ok(query) = Message::from_vec(&body) else {
                        continue;
                    };
                    record(&query, true);
                    for reply in handler(&query, true) {
                        let len = u16::try_from(reply.len()).unwrap().to_be_bytes();
                        let _ = conn.write_all(&len);
                        let _ = conn.write_all(&reply);
                    }
                }
            });
            FakeDns {
                addr,
                stop,
                log,
                threads: vec![udp_thread, tcp_thread],
            }
        }

        /// A server answering from `zone`.
        fn zone(max_queries: usize, zone: Zone) -> FakeDns {
            FakeDns::start(max_queries, move |q, _| {
                vec![zone.answer(q).to_vec().unwrap()]
            })
        }

        fn cfg(&self) -> DnsConfig {
            DnsConfig {
                nameservers: vec![self.addr],
                timeout: Duration::from_secs(2),
                attempts: 1,
            }
        }

        /// The questions received so far: (name, type, over TCP).
        fn log(&self) -> Vec<(String, RecordType, bool)> {
            self.log.lock().unwrap().clone()
        }
    }

    impl Drop for FakeDns {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        }
    }

    /// A UDP socket and a TCP listener on the same loopback port.
    fn bind_pair() -> (UdpSocket, TcpListener) {
        for _ in 0..50 {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                return (udp, tcp);
            }
        }
        panic!("no free port for UDP and TCP");
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn mx(owner: &str, pref: u16, exchange: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::MX(MX::new(pref, name(exchange))))
    }

    fn a(owner: &str, ip: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::A(A(ip.parse().unwrap())))
    }

    fn aaaa(owner: &str, ip: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::AAAA(AAAA(ip.parse().unwrap())))
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
    }

    /// A tiny authoritative table: answers (following CNAMEs), NODATA for known names,
    /// NXDOMAIN otherwise; optionally glue for MX targets in the additional section.
    #[derive(Clone, Default)]
    struct Zone {
        records: Vec<Record>,
        glue: bool,
    }

    impl Zone {
        fn new(records: Vec<Record>) -> Zone {
            Zone {
                records,
                glue: false,
            }
        }

        fn with_glue(mut self) -> Zone {
            self.glue = true;
            self
        }

        fn answer(&self, q: &Message) -> Message {
            let mut resp = Message::response(q.metadata.id, OpCode::Query);
            resp.metadata.recursion_desired = q.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            let Some(query) = q.queries.first().cloned() else {
                resp.metadata.response_code = ResponseCode::FormErr;
                return resp;
            };
            resp.add_query(query.clone());
            let mut owner = query.name.clone();
            for _ in 0..20 {
                let found: Vec<Record> = self
                    .records
                    .iter()
                    .filter(|r| r.name == owner && r.record_type() == query.query_type)
                    .cloned()
                    .collect();
                if !found.is_empty() {
                    for r in &found {
                        if let (true, RData::MX(m)) = (self.glue, &r.data) {
                            for g in self.records.iter().filter(|g| {
                                g.name == m.exchange
                                    && matches!(g.record_type(), RecordType::A | RecordType::AAAA)
                            }) {
                                resp.add_additional(g.clone());
                            }
                        }
                    }
                    resp.add_answers(found);
                    return resp;
                }
                let next = self.records.iter().find_map(|r| match &r.data {
                    RData::CNAME(c) if r.name == owner => Some((r.clone(), c.0.clone())),
                    _ => None,
                });
                match next {
                    Some((r, target)) => {
                        resp.add_answer(r);
                        owner = target;
                    }
                    None => break,
                }
            }
            if !self.records.iter().any(|r| r.name == owner) {
                resp.metadata.response_code = ResponseCode::NXDomain;
            }
            resp
        }
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    // ---- resolv.conf ----

    #[test]
    fn resolv_conf_parsing() {
        let text = "\
# generated\n\
; another comment\n\
search example.org\n\
nameserver 192.0.2.53   # trailing comment\n\
nameserver 2001:db8::53\n\
nameserver fe80::1%eth0\n\
nameserver 198.51.100.1\n\
options ndots:2 timeout:3 attempts:4 rotate\n";
        let cfg = DnsConfig::parse_resolv_conf(text);
        assert_eq!(
            cfg.nameservers,
            vec![
                "192.0.2.53:53".parse::<SocketAddr>().unwrap(),
                "[2001:db8::53]:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap(),
            ]
        );
        assert_eq!(cfg.timeout, Duration::from_secs(3));
        assert_eq!(cfg.attempts, 4);
    }

    #[test]
    fn resolv_conf_edge_cases() {
        // Defaults, loopback fallback, garbage ignored.
        let cfg =
            DnsConfig::parse_resolv_conf("nameserver not-an-ip\nnameserver\n#nameserver 1.2.3.4\n");
        assert_eq!(cfg.nameservers, vec!["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert_eq!(cfg.attempts, 2);
        assert_eq!(DnsConfig::parse_resolv_conf(""), cfg);

        // Clamping like glibc, last value wins, numeric scope kept, socket address extension.
        let cfg = DnsConfig::parse_resolv_conf(
            "options timeout:0 attempts:99\noptions timeout:100\n\
             nameserver fe80::1%7\nnameserver 127.0.0.1:5353\n\tnameserver\t[::1]:5353\n",
        );
        assert_eq!(cfg.timeout, Duration::from_secs(30));
        assert_eq!(cfg.attempts, 5);
        assert_eq!(
            cfg.nameservers,
            vec![
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
                "127.0.0.1:5353".parse().unwrap(),
                "[::1]:5353".parse().unwrap(),
            ]
        );
        let cfg = DnsConfig::parse_resolv_conf("options attempts:0 timeout:x\n");
        assert_eq!((cfg.attempts, cfg.timeout), (1, Duration::from_secs(5)));

        let one = DnsConfig::with_nameserver("127.0.0.1:5300".parse().unwrap());
        assert_eq!(one.nameservers.len(), 1);
        assert_eq!((one.timeout, one.attempts), (Duration::from_secs(5), 2));
        // from_system never fails and always has a nameserver.
        assert!(!DnsConfig::default().nameservers.is_empty());
    }

    // ---- names ----

    #[test]
    fn names_literals_and_idna() {
        let cfg = DnsConfig::with_nameserver("127.0.0.1:9".parse().unwrap());
        // IP literals: no query at all (port 9 would not answer).
        assert_eq!(lookup_ip("192.0.2.7", &cfg).unwrap(), vec![v4("192.0.2.7")]);
        assert_eq!(
            lookup_ip("[192.0.2.7]", &cfg).unwrap(),
            vec![v4("192.0.2.7")]
        );
        assert_eq!(
            lookup_ip("[IPv6:2001:db8::7]", &cfg).unwrap(),
            vec![v4("2001:db8::7")]
        );
        assert_eq!(
            resolve_mx("[192.0.2.7]", &cfg).unwrap(),
            vec![MxHost {
                preference: 0,
                name: "192.0.2.7".into(),
                addrs: vec![v4("192.0.2.7")]
            }]
        );
        for bad in [
            "",
            ".",
            "a..b",
            ".a.b",
            "a.b..",
            "exa mple.com",
            "a\\.b.com",
            "*.example.com",
            "bad/char.com",
            "[192.0.2.300]",
            "[IPv6:1.2.3.4]",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "abcdefghi.".repeat(26)),
            &format!("{}.com", "ü".repeat(300)),
        ] {
            let err = lookup_ip(bad, &cfg).unwrap_err();
            assert!(matches!(err, DnsError::InvalidName(_)), "{bad:?}: {err:?}");
            assert!(err.is_permanent());
            assert!(matches!(
                resolve_mx(bad, &cfg),
                Err(DnsError::InvalidName(_))
            ));
        }
        assert_eq!(
            name_string(&parse_domain("Bücher.Example.").unwrap()),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            name_string(&parse_domain("MAIL.Example.COM").unwrap()),
            "mail.example.com"
        );
        assert_eq!(
            name_string(&parse_domain("_dmarc.example").unwrap()),
            "_dmarc.example"
        );
    }

    // ---- MX ordering ----

    #[test]
    fn mx_sorted_with_addresses_from_additional_section() {
        let zone = Zone::new(vec![
            mx("example.org.", 20, "mx2.example.org."),
            mx("example.org.", 10, "MX1.example.org."),
            a("mx1.example.org.", "192.0.2.1"),
            aaaa("mx1.example.org.", "2001:db8::1"),
            a("mx1.example.org.", "192.0.2.11"),
            a("mx2.example.org.", "192.0.2.2"),
        ])
        .with_glue();
        let server = FakeDns::zone(10, zone);
        let hosts = resolve_mx("Example.ORG.", &server.cfg()).unwrap();
        assert_eq!(
            hosts,
            vec![
                MxHost {
                    preference: 10,
                    name: "mx1.example.org".into(),
                    addrs: vec![v4("192.0.2.1"), v4("192.0.2.11"), v4("2001:db8::1")],
                },
                MxHost {
                    preference: 20,
                    name: "mx2.example.org".into(),
                    addrs: vec![v4("192.0.2.2")],
                },
            ]
        );
        // One query: the addresses came from the additional section.
        assert_eq!(
            server.log(),
            vec![("example.org".into(), RecordType::MX, false)]
        );
    }

    #[test]
    fn mx_addresses_queried_without_additional_section() {
        let zone = Zone::new(vec![
            mx("example.org.", 10, "mx1.example.org."),
            mx("example.org.", 10, "mx1.example.org."),
            mx("example.org.", 30, "mx1.example.org."),
            mx("example.org.", 20, "gone.example.org."),
            a("mx1.example.org.", "192.0.2.1"),
            aaaa("mx1.example.org.", "2001:db8::1"),
        ]);
        let server = FakeDns::zone(10, zone);
        let hosts = resolve_mx("example.org", &server.cfg()).unwrap();
        assert_eq!(
            hosts,
            vec![
                MxHost {
                    preference: 10,
                    name: "mx1.example.org".into(),
                    addrs: vec![v4("192.0.2.1"), v4("2001:db8::1")],
                },
                // NXDOMAIN for this host: kept, without addresses.
                MxHost {
                    preference: 20,
                    name: "gone.example.org".into(),
                    addrs: vec![],
                },
            ]
        );
        assert_eq!(
            server.log(),
            vec![
                ("example.org".into(), RecordType::MX, false),
                ("mx1.example.org".into(), RecordType::A, false),
                ("mx1.example.org".into(), RecordType::AAAA, false),
                ("gone.example.org".into(), RecordType::A, false),
            ]
        );
    }

    #[test]
    fn equal_preferences_are_shuffled_lower_first() {
        let zone = Zone::new(vec![
            mx("example.org.", 10, "a.example.org."),
            mx("example.org.", 10, "b.example.org."),
            mx("example.org.", 5, "first.example.org."),
            mx("example.org.", 50, "last.example.org."),
            a("a.example.org.", "192.0.2.1"),
            a("b.example.org.", "192.0.2.2"),
            a("first.example.org.", "192.0.2.3"),
            a("last.example.org.", "192.0.2.4"),
        ])
        .with_glue();
        let server = FakeDns::zone(200, zone);
        let (mut ab, mut ba) = (0, 0);
        for _ in 0..100 {
            let hosts = resolve_mx("example.org", &server.cfg()).unwrap();
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            assert_eq!(names.len(), 4);
            assert_eq!(names[0], "first.example.org");
            assert_eq!(names[3], "last.example.org");
            match (names[1], names[2]) {
                ("a.example.org", "b.example.org") => ab += 1,
                ("b.example.org", "a.example.org") => ba += 1,
                other => panic!("unexpected order {other:?}"),
            }
        }
        // Each order has probability 1/2: missing one in 100 tries is a 2^-99 event.
        assert!(ab > 0 && ba > 0, "ab={ab} ba={ba}");

        // The pure helper too: runs stay in place.
        let mut list: Vec<(u16, u8)> = vec![(1, 0), (2, 1), (2, 2), (2, 3), (3, 4)];
        shuffle_equal_preferences(&mut list);
        assert_eq!(list[0], (1, 0));
        assert_eq!(list[4], (3, 4));
        assert!(list[1..4].iter().all(|(p, _)| *p == 2));
    }

    // ---- special answers ----

    #[test]
    fn null_mx_nxdomain_and_implicit_mx() {
        let zone = Zone::new(vec![
            mx("null.example.", 0, "."),
            mx("mixed.example.", 0, "."),
            mx("mixed.example.", 10, "mx.mixed.example."),
            // Not a host name: skipped.
            Record::from_rdata(
                name("mixed.example."),
                60,
                RData::MX(MX::new(
                    1,
                    Name::from_labels([&b"bad/host"[..], &b"example"[..]]).unwrap(),
                )),
            ),
            a("mx.mixed.example.", "192.0.2.9"),
            a("implicit.example.", "192.0.2.5"),
            aaaa("implicit.example.", "2001:db8::5"),
            a("v4only.example.", "192.0.2.6"),
            // A name that exists but has no address.
            mx("nothing.example.", 1, "x.example."),
            mx("justmx.example.", 10, "nothing.example."),
        ]);
        let server = FakeDns::zone(100, zone);
        let cfg = server.cfg();

        let err = resolve_mx("null.example", &cfg).unwrap_err();
        assert!(
            matches!(&err, DnsError::NullMx(d) if d == "null.example"),
            "{err:?}"
        );
        assert!(err.is_permanent());

        // A null MX beside real ones is ignored.
        let hosts = resolve_mx("mixed.example", &cfg).unwrap();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].name, "mx.mixed.example");

        let err = resolve_mx("nowhere.example", &cfg).unwrap_err();
        assert!(
            matches!(&err, DnsError::NxDomain(d) if d == "nowhere.example"),
            "{err:?}"
        );
        assert!(err.is_permanent());
        assert!(matches!(
            lookup_ip("nowhere.example", &cfg),
            Err(DnsError::NxDomain(_))
        ));

        // NODATA for MX: the domain itself, preference 0, A then AAAA.
        assert_eq!(
            resolve_mx("implicit.example", &cfg).unwrap(),
            vec![MxHost {
                preference: 0,
                name: "implicit.example".into(),
                addrs: vec![v4("192.0.2.5"), v4("2001:db8::5")],
            }]
        );
        assert_eq!(
            lookup_ip("v4only.example", &cfg).unwrap(),
            vec![v4("192.0.2.6")]
        );

        // MX hosts without any address: NoAddress, permanent.
        let err = resolve_mx("justmx.example", &cfg).unwrap_err();
        assert!(
            matches!(&err, DnsError::NoAddress(d) if d == "justmx.example"),
            "{err:?}"
        );
        assert!(err.is_permanent());
        assert!(matches!(
            lookup_ip("nothing.example", &cfg),
            Err(DnsError::NoAddress(_))
        ));
    }

    #[test]
    fn cname_chains_followed_and_bounded() {
        let mut records = vec![
            cname("alias.example.", "step.example."),
            cname("step.example.", "real.example."),
            mx("real.example.", 10, "mx.real.example."),
            cname("mx.real.example.", "host.real.example."),
            a("host.real.example.", "192.0.2.10"),
            cname("loop1.example.", "loop2.example."),
            cname("loop2.example.", "loop1.example."),
            // An implicit MX through a CNAME.
            cname("www.example.", "web.example."),
            a("web.example.", "192.0.2.20"),
        ];
        // A long chain: c0 -> c1 -> ... -> c12.
        for i in 0..12 {
            records.push(cname(
                &format!("c{i}.example."),
                &format!("c{}.example.", i + 1),
            ));
        }
        records.push(mx("c12.example.", 1, "host.real.example."));
        // A CNAME to a name that is not a host name (a space in a label).
        let weird = Name::from_labels([&b"a b"[..], &b"example"[..]]).unwrap();
        records.push(Record::from_rdata(
            name("weird.example."),
            60,
            RData::CNAME(CNAME(weird.clone())),
        ));
        records.push(Record::from_rdata(
            weird,
            60,
            RData::A(A("192.0.2.99".parse().unwrap())),
        ));
        let server = FakeDns::zone(100, Zone::new(records));
        let cfg = server.cfg();

        assert_eq!(
            resolve_mx("alias.example", &cfg).unwrap(),
            vec![MxHost {
                preference: 10,
                name: "mx.real.example".into(),
                addrs: vec![v4("192.0.2.10")],
            }]
        );
        assert_eq!(
            resolve_mx("www.example", &cfg).unwrap(),
            vec![MxHost {
                preference: 0,
                name: "web.example".into(),
                addrs: vec![v4("192.0.2.20")],
            }]
        );
        assert!(matches!(
            resolve_mx("loop1.example", &cfg),
            Err(DnsError::Malformed(_))
        ));
        assert!(matches!(
            resolve_mx("c0.example", &cfg),
            Err(DnsError::Malformed(_))
        ));
        assert!(matches!(
            resolve_mx("weird.example", &cfg),
            Err(DnsError::Malformed(_))
        ));
    }

    #[test]
    fn chain_not_chased_by_server_is_queried() {
        // The server returns only the CNAME; the client asks for the target itself.
        let server = FakeDns::start(10, |q, _| {
            let query = q.queries[0].clone();
            let mut resp = Message::response(q.metadata.id, OpCode::Query);
            resp.add_query(query.clone());
            if query.name == name("alias.example.") {
                resp.add_answer(cname("alias.example.", "real.example."));
            } else if query.name == name("real.example.") && query.query_type == RecordType::MX {
                resp.add_answer(mx("real.example.", 5, "mx.example."));
                resp.add_additional(a("mx.example.", "192.0.2.30"));
            }
            vec![resp.to_vec().unwrap()]
        });
        let hosts = resolve_mx("alias.example", &server.cfg()).unwrap();
        assert_eq!(hosts[0].name, "mx.example");
        assert_eq!(hosts[0].addrs, vec![v4("192.0.2.30")]);
        assert_eq!(server.log().len(), 2);
    }

    // ---- transport and validation ----

    #[test]
    fn mismatched_responses_are_ignored() {
        let zone = Zone::new(vec![
            mx("example.org.", 10, "good.example.org."),
            a("good.example.org.", "192.0.2.1"),
        ])
        .with_glue();
        let server = FakeDns::start(10, move |q, _| {
            let good = zone.answer(q);
            let evil = |f: &dyn Fn(&mut Message)| {
                let mut m = Message::response(q.metadata.id, OpCode::Query);
                m.add_query(q.queries[0].clone());
                m.add_answer(mx("example.org.", 0, "evil.example."));
                m.add_additional(a("evil.example.", "203.0.113.66"));
                f(&mut m);
                m.to_vec().unwrap()
            };
            vec![
                // Wrong id.
                evil(&|m| m.metadata.id = q.metadata.id.wrapping_add(1)),
                // Wrong question name, then wrong type.
                evil(&|m| m.queries[0].name = name("other.example.")),
                evil(&|m| m.queries[0].query_type = RecordType::TXT),
                // A query, not a response.
                evil(&|m| m.metadata.message_type = MessageType::Query),
                // Two questions.
                evil(&|m| m.queries.push(m.queries[0].clone())),
                // Garbage with another id; too short to carry any id.
                vec![
                    (q.metadata.id ^ 0xffff).to_be_bytes()[0],
                    0,
                    0xff,
                    0xff,
                    0xff,
                ],
                vec![0x01],
                good.to_vec().unwrap(),
            ]
        });
        let hosts = resolve_mx("example.org", &server.cfg()).unwrap();
        assert_eq!(
            hosts,
            vec![MxHost {
                preference: 10,
                name: "good.example.org".into(),
                addrs: vec![v4("192.0.2.1")],
            }]
        );
    }

    #[test]
    fn garbage_with_our_id_is_malformed() {
        let server = FakeDns::start(10, |q, _| {
            let mut bytes = q.metadata.id.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0x81, 0x80, 0, 5, 0, 9]);
            vec![bytes]
        });
        let err = lookup_ip("example.org", &server.cfg()).unwrap_err();
        assert!(matches!(err, DnsError::Malformed(_)), "{err:?}");
        assert!(!err.is_permanent());
    }

    #[test]
    fn truncated_answer_retried_over_tcp() {
        let zone = Zone::new(vec![
            mx("big.example.", 10, "mx1.big.example."),
            mx("big.example.", 20, "mx2.big.example."),
            a("mx1.big.example.", "192.0.2.1"),
            a("mx2.big.example.", "192.0.2.2"),
        ])
        .with_glue();
        let server = FakeDns::start(10, move |q, tcp| {
            let full = zone.answer(q);
            if tcp {
                vec![full.to_vec().unwrap()]
            } else {
                vec![full.truncate().to_vec().unwrap()]
            }
        });
        let hosts = resolve_mx("big.example", &server.cfg()).unwrap();
        let names: Vec<_> = hosts
            .iter()
            .map(|h| (h.name.as_str(), h.addrs.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("mx1.big.example", vec![v4("192.0.2.1")]),
                ("mx2.big.example", vec![v4("192.0.2.2")]),
            ]
        );
        assert_eq!(
            server.log(),
            vec![
                ("big.example".into(), RecordType::MX, false),
                ("big.example".into(), RecordType::MX, true),
            ]
        );
    }

    #[test]
    fn server_errors_and_failover() {
        let servfail = FakeDns::start(10, |q, _| {
            vec![
                Message::error_msg(q.metadata.id, OpCode::Query, ResponseCode::ServFail)
                    .to_vec()
                    .unwrap(),
            ]
        });
        let mut cfg = servfail.cfg();
        cfg.attempts = 2;
        let err = resolve_mx("example.org", &cfg).unwrap_err();
        assert!(
            matches!(&err, DnsError::Server(r) if r == "SERVFAIL"),
            "{err:?}"
        );
        assert!(!err.is_permanent());
        // Tried twice (attempts), the question-less error answer accepted.
        assert_eq!(servfail.log().len(), 2);

        // A silent server first, then a REFUSED one, then a good one.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let refused = FakeDns::start(10, |q, _| {
            let mut m = Message::error_msg(q.metadata.id, OpCode::Query, ResponseCode::Refused);
            m.add_query(q.queries[0].clone());
            vec![m.to_vec().unwrap()]
        });
        let good = FakeDns::zone(
            10,
            Zone::new(vec![
                mx("example.org.", 1, "mx.example.org."),
                a("mx.example.org.", "192.0.2.1"),
            ])
            .with_glue(),
        );
        let cfg = DnsConfig {
            nameservers: vec![silent.local_addr().unwrap(), refused.addr, good.addr],
            timeout: Duration::from_millis(300),
            attempts: 2,
        };
        let hosts = resolve_mx("example.org", &cfg).unwrap();
        assert_eq!(hosts[0].addrs, vec![v4("192.0.2.1")]);
        assert_eq!(refused.log().len(), 1);
    }

    #[test]
    fn timeout_is_bounded_and_transient() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cfg = DnsConfig {
            nameservers: vec![silent.local_addr().unwrap()],
            timeout: Duration::from_millis(200),
            attempts: 2,
        };
        let start = Instant::now();
        let err = resolve_mx("example.org", &cfg).unwrap_err();
        let elapsed = start.elapsed();
        assert!(matches!(err, DnsError::Timeout), "{err:?}");
        assert!(!err.is_permanent());
        assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

        // A flood of unrelated datagrams cannot hold the client past its deadline either.
        let flood = FakeDns::start(10, |q, _| {
            let mut m = Message::response(q.metadata.id.wrapping_add(1), OpCode::Query);
            m.add_query(q.queries[0].clone());
            vec![m.to_vec().unwrap(); 200]
        });
        let mut cfg = flood.cfg();
        cfg.timeout = Duration::from_millis(300);
        let start = Instant::now();
        assert!(matches!(
            lookup_ip("example.org", &cfg),
            Err(DnsError::Timeout)
        ));
        assert!(start.elapsed() < Duration::from_secs(2));

        let empty = DnsConfig {
            nameservers: vec![],
            timeout: Duration::from_millis(100),
            attempts: 1,
        };
        assert!(matches!(
            lookup_ip("example.org", &empty),
            Err(DnsError::Io(_))
        ));
    }

    #[test]
    fn idna_query_is_sent_in_ascii() {
        let server = FakeDns::zone(
            10,
            Zone::new(vec![a("xn--bcher-kva.example.", "192.0.2.44")]),
        );
        assert_eq!(
            resolve_mx("BÜCHER.example.", &server.cfg()).unwrap(),
            vec![MxHost {
                preference: 0,
                name: "xn--bcher-kva.example".into(),
                addrs: vec![v4("192.0.2.44")],
            }]
        );
        assert_eq!(
            server.log()[0],
            ("xn--bcher-kva.example".into(), RecordType::MX, false)
        );
    }

    #[test]
    fn error_display_and_source() {
        use std::error::Error as _;
        let io = DnsError::from(io::Error::other("boom"));
        assert!(io.source().is_some());
        assert!(io.to_string().contains("boom"));
        assert!(DnsError::Timeout.source().is_none());
        assert_eq!(
            DnsError::NxDomain("x.example".into()).to_string(),
            "domain x.example does not exist (NXDOMAIN)"
        );
        assert!(
            DnsError::Server("SERVFAIL".into())
                .to_string()
                .contains("SERVFAIL")
        );
        assert!(!DnsError::Malformed("x".into()).is_permanent());
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(
            rcode_name(<ResponseCode as From<u16>>::from(3841)),
            "RCODE3841"
        );
    }
}
