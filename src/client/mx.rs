//! Mail routing over DNS: MX lookup and selection (RFC 5321 §5.1: preference order, equal
//! preferences shuffled, the implicit MX, null MX) and A/AAAA lookup, on the stub resolver in
//! `dns` (UDP, TCP fallback, bounded waits), whose public types are re-exported here.
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

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

use crate::dns::*;
pub use crate::dns::{DnsConfig, DnsError};

/// How many distinct MX hosts are kept (and resolved) at most.
const MAX_MX_HOSTS: usize = 16;

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
            let Some(ip) = ip_of(record) else {
                continue;
            };
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    addrs
}

#[cfg(test)]
#[path = "mx_tests.rs"]
mod tests;
