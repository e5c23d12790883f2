//! The DNS resolver the examples check mail with (`auth_check`, `smtp_server --auth-check`).
//!
//! Included with `#[path = "common/resolver.rs"] mod resolver;`.

use std::net::SocketAddr;

use smtpkit::dns::{CachingResolver, DnsConfig, Resolver, StubResolver};

/// The resolver for `--dns ADDR:PORT`, or the system's (resolv.conf) without it: the stub
/// resolver behind a TTL cache shared by the session threads.
pub fn resolver(dns: Option<SocketAddr>) -> Box<dyn Resolver> {
    let config = dns.map_or_else(DnsConfig::from_system, DnsConfig::with_nameserver);
    Box::new(CachingResolver::new(StubResolver::new(config)))
}
