//! The DNS resolver the examples check mail with (`auth_check`, `smtp_server --auth-check`).
//!
//! Included with `#[path = "common/resolver.rs"] mod resolver;`.
#![allow(dead_code)]

use std::net::SocketAddr;

use smtpkit::dns::Resolver;

/// The resolver for `--dns ADDR:PORT`, or the system's (resolv.conf) without it.
//
// MERGE: point this at the real stub resolver once it is in the tree, e.g.
//     let config = dns.map_or_else(DnsConfig::from_system, DnsConfig::with_nameserver);
//     Box::new(CachingResolver::new(StubResolver::new(config)))
// Until then it answers from an empty table (every name NXDOMAIN), so DKIM finds no key,
// SPF and DMARC no record.
pub fn resolver(dns: Option<SocketAddr>) -> Box<dyn Resolver> {
    let _ = dns;
    Box::new(smtpkit::dns::StaticResolver::new())
}
